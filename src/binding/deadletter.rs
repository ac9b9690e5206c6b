//! The dead-letter store for JavaScript: the engine of
//! `npx rocketchat-sns-analytics dead-letter <spoolDir> list|export|replay|purge`.
//! Each call converts its arguments, runs the core's work on a thread of its own
//! (file I/O, and for a replay the network), and settles a promise; nothing here
//! blocks the JavaScript thread.

use std::collections::HashMap;
use std::path::PathBuf;

use napi::bindgen_prelude::{Object, ToNapiValue, Unknown};
use napi::{Env, Result, ValueType};
use napi_derive::napi;

use super::error as js_error;
use super::napi_raw;
use super::options::AwsCredentials;
use crate::core::deadletter::{DeadLetter as CoreDeadLetter, DeadLetterStore, Selection};
use crate::core::delivery::{replay_dead_letters, ReplayError};
use crate::core::error::{ErrorCode, InvalidOption};
use crate::core::options::{ReadOptions, ReplayOptions, SelectionOptions};
use crate::core::sns::SnsPublisher;

/// One record of the dead-letter store: an event SNS refused for good for its own
/// sake, with what it takes to publish it again identically.
#[napi(object)]
pub struct DeadLetter {
    /// The event id, as `log()` returned it: also its FIFO `MessageDeduplicationId`,
    /// kept by a replay.
    pub id: String,
    pub topic_arn: String,
    /// The FIFO `MessageGroupId` it was sent with; absent on a standard topic.
    pub message_group_id: Option<String>,
    pub subject: String,
    /// The SNS message exactly as it was published.
    pub message: String,
    /// Its message attributes (`eventId`, `category`, `action`, `eventType`, and
    /// `appId` for events an Apps-Engine app logged), all of data type `String`.
    pub attributes: HashMap<String, String>,
    /// The AWS error code of the last refusal, e.g. `'InvalidParameter'`.
    pub code: String,
    /// The AWS error message of the last refusal.
    pub reason: String,
    /// SNS said the fault was the sender's.
    pub sender_fault: bool,
    /// PublishBatch requests that carried it, replays included.
    pub attempts: u32,
    /// When the first request that carried it was sent, in epoch milliseconds.
    pub first_attempt_ms: i64,
    /// When it was last refused, in epoch milliseconds.
    pub last_attempt_ms: i64,
}

impl From<CoreDeadLetter> for DeadLetter {
    fn from(l: CoreDeadLetter) -> Self {
        Self {
            id: l.id.hyphenated().to_string(),
            attributes: l
                .attributes()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            topic_arn: l.topic_arn,
            message_group_id: l.message_group_id,
            subject: l.subject,
            message: l.message,
            code: l.code,
            reason: l.reason,
            sender_fault: l.sender_fault,
            attempts: l.attempts,
            first_attempt_ms: l.first_attempt_ms,
            last_attempt_ms: l.last_attempt_ms,
        }
    }
}

/// What `listDeadLetters()` found.
#[napi(object)]
pub struct DeadLetterList {
    /// One per event id, oldest first.
    pub records: Vec<DeadLetter>,
    /// Damaged stretches of the file that were skipped (a torn write, a bad disk).
    pub damaged: u32,
}

/// Which records a dead-letter call works on; every record when empty or absent.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // Type only: read into core::options::SelectionOptions.
pub struct DeadLetterSelection {
    /// Only these event ids.
    pub ids: Option<Vec<String>>,
    /// Only records refused with one of these AWS codes.
    pub codes: Option<Vec<String>>,
}

/// Options of `replayDeadLetters()`. Where to publish has no default: give `topicArn`
/// or `toRecordedTopics: true`, exactly one (else `ERR_INVALID_OPTION`), since a
/// record's topic is whatever was written in the spool folder. SNS is reached as a
/// logger reaches it: `region`, `endpoint` and `credentials` default to the AWS
/// environment and profile.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // Type only: read into core::options::ReplayOptions.
pub struct DeadLetterReplayOptions {
    /// Publish every selected record to this topic, whatever topic its record names.
    pub topic_arn: Option<String>,
    /// `true`: publish each record to the topic its record names (list them first:
    /// anyone who can write the spool folder can write a record for any topic the
    /// credentials reach). Not together with `topicArn`.
    pub to_recorded_topics: Option<bool>,
    /// The `MessageGroupId` of records that have none (sent to a standard topic)
    /// replayed to a FIFO topic. Default `'dead-letter-replay'`.
    pub message_group_id: Option<String>,
    /// AWS region. Default: `AWS_REGION`, the profile, then the topic ARN's region.
    pub region: Option<String>,
    /// SNS endpoint URL. Default: `AWS_ENDPOINT_URL_SNS`, `AWS_ENDPOINT_URL`, then the
    /// regional endpoint.
    pub endpoint: Option<String>,
    /// Default: the AWS default provider chain.
    pub credentials: Option<AwsCredentials>,
    /// Time allowed for one HTTP request to SNS, in ms. Default 10000.
    pub request_timeout_ms: Option<f64>,
    /// As the logger's: transient failures are retried this long. Default 120000.
    pub retry_budget_ms: Option<f64>,
    pub retry_initial_backoff_ms: Option<f64>,
    pub retry_max_backoff_ms: Option<f64>,
    /// How long the replay keeps trying before leaving what is left in the store, in
    /// ms (0-3600000). Default 60000.
    pub timeout_ms: Option<f64>,
}

/// A record SNS refused again: it stays in the store, its attempts added up.
#[napi(object)]
pub struct DeadLetterRefusedAgain {
    pub id: String,
    pub code: String,
    pub reason: String,
}

/// A record not sent for another reason (an outage, the timeout): it stays as it was.
#[napi(object)]
pub struct DeadLetterNotSent {
    pub id: String,
    pub reason: String,
}

/// What `replayDeadLetters()` did. `selected = delivered + refused + failed`.
#[napi(object)]
pub struct DeadLetterReplayReport {
    /// Records the selection matched.
    pub selected: u32,
    /// Ids SNS accepted; their records were removed from the store.
    pub delivered: Vec<String>,
    /// Refused again for good: kept, once each.
    pub refused: Vec<DeadLetterRefusedAgain>,
    /// Not sent: kept as they were.
    pub failed: Vec<DeadLetterNotSent>,
    /// Records in the store afterwards.
    pub remaining: u32,
    /// Damaged stretches of the file that were skipped.
    pub damaged: u32,
}

/// What `purgeDeadLetters()` removed.
#[napi(object)]
pub struct DeadLetterPurgeReport {
    pub removed: Vec<String>,
    /// Records in the store afterwards.
    pub remaining: u32,
}

/// Why a call failed, to reject its promise with once back on the JavaScript thread.
enum Failure {
    Option(InvalidOption),
    Store(String, std::io::Error),
}

type Resolver<T> = Box<dyn FnOnce(Env) -> Result<T>>;

/// Runs `work` on a thread of its own and settles the returned promise with its
/// result.
fn in_background<'env, T>(
    env: &'env Env,
    work: impl FnOnce() -> std::result::Result<T, Failure> + Send + 'static,
) -> Result<Object<'env>>
where
    T: ToNapiValue + Send + 'static,
{
    let (deferred, promise) = env.create_deferred::<T, Resolver<T>>()?;
    std::thread::Builder::new()
        .name("rc-sns-dead-letter".into())
        .spawn(move || {
            let result = work();
            deferred.resolve(Box::new(move |env| {
                result.map_err(|failure| match failure {
                    Failure::Option(e) => js_error::rejection(
                        &env,
                        true,
                        ErrorCode::InvalidOption,
                        &format!("invalid dead-letter option {}: {}", e.option, e.reason),
                        Some(("option", &e.option)),
                    ),
                    Failure::Store(path, e) => js_error::rejection(
                        &env,
                        false,
                        ErrorCode::Spool,
                        &format!("the dead-letter store of {path} cannot be used: {e}"),
                        Some(("path", &path)),
                    ),
                })
            }));
        })
        .map_err(|e| napi::Error::from_reason(format!("cannot start a thread: {e}")))?;
    Ok(promise)
}

/// The selection argument, absent or an object.
fn read_selection(
    env: &Env,
    value: Option<Unknown>,
) -> std::result::Result<Selection, InvalidOption> {
    let Some(value) = value else {
        return Ok(Selection::default());
    };
    let kind = value
        .get_type()
        .map_err(|e| InvalidOption::new("selection", e.reason))?;
    if matches!(kind, ValueType::Undefined | ValueType::Null) {
        return Ok(Selection::default());
    }
    let object = napi_raw::as_object(env, value)
        .map_err(|e| InvalidOption::new("selection", e.reason))?
        .ok_or_else(|| InvalidOption::new("selection", "must be an object { ids, codes }"))?;
    SelectionOptions::deserialize_from(&mut napi::De::new(&object), |e| e.reason)?.into_selection()
}

/// The options argument, checked before the store is touched; absent, it is refused
/// for naming neither `topicArn` nor `toRecordedTopics`.
fn read_replay_options(
    env: &Env,
    value: Option<Unknown>,
) -> std::result::Result<ReplayOptions, InvalidOption> {
    let options = match value {
        Some(value) if !matches!(value.get_type(), Ok(ValueType::Undefined | ValueType::Null)) => {
            let object = napi_raw::as_object(env, value)
                .map_err(|e| InvalidOption::new("options", e.reason))?
                .ok_or_else(|| InvalidOption::new("options", "must be an object"))?;
            ReplayOptions::deserialize_from(&mut napi::De::new(&object), |e| e.reason)?
        }
        _ => ReplayOptions::default(),
    };
    options.check()?;
    Ok(options)
}

fn store_of(spool_dir: &str) -> std::result::Result<(PathBuf, DeadLetterStore), Failure> {
    let dir = PathBuf::from(spool_dir);
    if !dir.is_dir() {
        return Err(Failure::Store(
            spool_dir.to_owned(),
            std::io::Error::new(std::io::ErrorKind::NotFound, "it is not a folder"),
        ));
    }
    let store = DeadLetterStore::in_spool(&dir, u64::MAX);
    Ok((dir, store))
}

/// The records of `spoolDir`'s dead-letter store, oldest first. Rejects with
/// `ERR_SPOOL` (and `path`) when the folder cannot be read.
#[napi(catch_unwind, ts_return_type = "Promise<DeadLetterList>")]
pub fn list_dead_letters<'env>(env: &'env Env, spool_dir: String) -> Result<Object<'env>> {
    in_background(env, move || {
        let (_, store) = store_of(&spool_dir)?;
        let found = store.read().map_err(|e| Failure::Store(spool_dir, e))?;
        Ok(DeadLetterList {
            records: found.letters.into_iter().map(DeadLetter::from).collect(),
            damaged: found.damaged.min(u32::MAX as u64) as u32,
        })
    })
}

/// Removes the records `selection` matches (every record without one) from
/// `spoolDir`'s dead-letter store. Rejects with `ERR_INVALID_OPTION` for a bad
/// selection and `ERR_SPOOL` when the store cannot be written.
#[napi(
    catch_unwind,
    ts_args_type = "spoolDir: string, selection?: DeadLetterSelection",
    ts_return_type = "Promise<DeadLetterPurgeReport>"
)]
pub fn purge_dead_letters<'env>(
    env: &'env Env,
    spool_dir: String,
    selection: Option<Unknown>,
) -> Result<Object<'env>> {
    let selection = read_selection(env, selection);
    in_background(env, move || {
        let selection = selection.map_err(Failure::Option)?;
        let (_, store) = store_of(&spool_dir)?;
        let purged = store
            .purge(&selection)
            .map_err(|e| Failure::Store(spool_dir, e))?;
        Ok(DeadLetterPurgeReport {
            removed: purged
                .removed
                .iter()
                .map(|id| id.hyphenated().to_string())
                .collect(),
            remaining: purged.remaining as u32,
        })
    })
}

/// Publishes the records `selection` matches again, through a logger, exactly as they
/// were sent: the same id (so FIFO deduplication holds), message, attributes, message
/// group and subject, to `options.topicArn`, or to each record's own topic with
/// `options.toRecordedTopics: true`; one of the two is required. What SNS accepts
/// leaves the store; what it refuses again stays, once; what cannot be sent stays as
/// it was. One replay of a store at a time. Rejects with `ERR_INVALID_OPTION` (and
/// `option`) for bad options or selection, neither `topicArn` nor `toRecordedTopics`
/// included, and `ERR_SPOOL` when the store cannot be used.
#[napi(
    catch_unwind,
    js_name = "replayDeadLetters",
    ts_args_type = "spoolDir: string, options: DeadLetterReplayOptions, selection?: DeadLetterSelection",
    ts_return_type = "Promise<DeadLetterReplayReport>"
)]
pub fn replay_dead_letters_js<'env>(
    env: &'env Env,
    spool_dir: String,
    options: Option<Unknown>,
    selection: Option<Unknown>,
) -> Result<Object<'env>> {
    let options = read_replay_options(env, options);
    let selection = read_selection(env, selection);
    in_background(env, move || {
        let options = options.map_err(Failure::Option)?;
        let selection = selection.map_err(Failure::Option)?;
        let (dir, _) = store_of(&spool_dir)?;
        let report = replay_dead_letters(&dir, &options, &selection, |config| {
            SnsPublisher::new(config.clone())
        })
        .map_err(|e| match e {
            ReplayError::Option(e) => Failure::Option(e),
            ReplayError::Store(e) => Failure::Store(spool_dir, e),
        })?;
        Ok(DeadLetterReplayReport {
            selected: report.selected as u32,
            delivered: report.delivered,
            refused: report
                .refused
                .into_iter()
                .map(|r| DeadLetterRefusedAgain {
                    id: r.id,
                    code: r.code,
                    reason: r.reason,
                })
                .collect(),
            failed: report
                .failed
                .into_iter()
                .map(|(id, reason)| DeadLetterNotSent { id, reason })
                .collect(),
            remaining: report.remaining as u32,
            damaged: report.damaged.min(u32::MAX as u64) as u32,
        })
    })
}

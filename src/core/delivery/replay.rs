//! Replaying dead letters: the records of a spool folder's dead-letter store are
//! published again through a logger of their own, the path every event takes, exactly
//! as they were sent (the same id, so FIFO deduplication holds; the same message,
//! attributes, message group and subject), to the topic the options name, or to each
//! record's own topic when the options say so (`ReplayOptions::destination`). Then the
//! store is brought up to date in one rewrite: what SNS accepted leaves it; what SNS
//! refused again stays, once, with its attempts added up and the new reason; what
//! could not be sent for another reason (an outage, the timeout) stays as it was.
//!
//! The store is read and rewritten under its lock, never held across the network, so
//! a logger may go on appending meanwhile; a second replay of the same store waits
//! for none and is refused instead, because it could publish the same records twice.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use uuid::Uuid;

use super::logger::Logger;
use super::publisher::Publisher;
use super::shared::DeliveryReport;
use crate::core::deadletter::{DeadLetter, DeadLetterStore, Selection};
use crate::core::error::{DeliveryError, InvalidOption};
use crate::core::options::{parse_topic_arn, ReplayDestination, ReplayOptions, SnsConfig};

/// One record SNS refused again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedAgain {
    pub id: String,
    pub code: String,
    pub reason: String,
}

/// What a replay did, record by record. `selected` is always `delivered + refused +
/// failed`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Records the selection matched.
    pub selected: usize,
    /// Accepted by SNS and removed from the store.
    pub delivered: Vec<String>,
    /// Refused again for good: kept in the store, its record updated.
    pub refused: Vec<RefusedAgain>,
    /// Not sent for another reason (`(id, why)`): kept in the store as it was.
    pub failed: Vec<(String, String)>,
    /// Records in the store afterwards.
    pub remaining: usize,
    /// Damaged stretches the store's reader skipped.
    pub damaged: u64,
}

/// Why a replay could not start.
#[derive(Debug)]
pub enum ReplayError {
    Option(InvalidOption),
    /// The spool folder or its store cannot be used (or another replay holds it).
    Store(std::io::Error),
}

impl std::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplayError::Option(e) => e.fmt(f),
            ReplayError::Store(e) => e.fmt(f),
        }
    }
}

impl From<InvalidOption> for ReplayError {
    fn from(e: InvalidOption) -> Self {
        ReplayError::Option(e)
    }
}

impl From<std::io::Error> for ReplayError {
    fn from(e: std::io::Error) -> Self {
        ReplayError::Store(e)
    }
}

/// Grace past the close deadline for the loop to answer, before giving up on knowing.
const ANSWER_GRACE: Duration = Duration::from_secs(30);

/// Subject and region: what one replay logger's records have in common.
type GroupKey = (String, String);

/// What one logger made of its records.
struct Outcome {
    delivered: Vec<Uuid>,
    refused: Vec<DeadLetter>,
    failed: Vec<(Uuid, String)>,
}

/// Replays the records of `spool_dir`'s dead-letter store that `selection` matches.
/// Blocks the calling thread until the replay's loggers have closed (at most about
/// `timeoutMs`); `publisher` makes the publisher of each (SNS, or a test's).
pub fn replay_dead_letters<P: Publisher>(
    spool_dir: &Path,
    options: &ReplayOptions,
    selection: &Selection,
    publisher: impl Fn(&SnsConfig) -> P,
) -> Result<ReplayReport, ReplayError> {
    options.check()?;
    let destination = options.destination()?;
    let timeout = options.timeout()?;
    if !spool_dir.is_dir() {
        return Err(ReplayError::Store(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} is not a spool folder", spool_dir.display()),
        )));
    }
    let store = DeadLetterStore::in_spool(spool_dir, u64::MAX);
    if store.read()?.letters.is_empty() {
        return Ok(ReplayReport::default());
    }
    let _replaying = store.lock_for_replay()?;
    let found = store.read()?;
    let selected: Vec<DeadLetter> = found
        .letters
        .into_iter()
        .filter(|l| selection.matches(l))
        .collect();
    let mut report = ReplayReport {
        selected: selected.len(),
        damaged: found.damaged,
        ..ReplayReport::default()
    };

    // One logger per subject and region: a logger has one of each.
    let mut groups: Vec<(GroupKey, Vec<(DeadLetter, String)>)> = Vec::new();
    let mut failed: Vec<(Uuid, String)> = Vec::new();
    for letter in selected {
        let target = match destination {
            ReplayDestination::Topic(topic) => topic.to_owned(),
            ReplayDestination::Recorded => letter.topic_arn.clone(),
        };
        let region = match parse_topic_arn(&target) {
            Ok(arn) => arn.region,
            Err(e) => {
                failed.push((letter.id, e.to_string()));
                continue;
            }
        };
        let key = (letter.subject.clone(), region);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, group)) => group.push((letter, target)),
            None => groups.push((key, vec![(letter, target)])),
        }
    }
    let mut delivered = Vec::new();
    let mut refused = Vec::new();
    for ((subject, _), group) in groups {
        let outcome = replay_group(options, &subject, group, timeout, &publisher)?;
        delivered.extend(outcome.delivered);
        refused.extend(outcome.refused);
        failed.extend(outcome.failed);
    }

    let after = store.rewrite(|letters| {
        let by_id: HashMap<Uuid, usize> =
            letters.iter().enumerate().map(|(i, l)| (l.id, i)).collect();
        for again in &refused {
            // The record keeps where the event was first meant to go; the attempts
            // add up, the new reason replaces the old.
            if let Some(&i) = by_id.get(&again.id) {
                letters[i].merge(again.clone());
            }
        }
        letters.retain(|l| !delivered.contains(&l.id));
        !delivered.is_empty() || !refused.is_empty()
    })?;
    report.remaining = after.letters.len();
    report.delivered = delivered
        .iter()
        .map(|id| id.hyphenated().to_string())
        .collect();
    report.refused = refused
        .into_iter()
        .map(|l| RefusedAgain {
            id: l.id.hyphenated().to_string(),
            code: l.code,
            reason: l.reason,
        })
        .collect();
    report.failed = failed
        .into_iter()
        .map(|(id, why)| (id.hyphenated().to_string(), why))
        .collect();
    Ok(report)
}

/// Publishes one subject's and region's records through one logger, and sorts them
/// by what came of each: every record a logger does not deliver is reported by id
/// (or, refused again, handed back), so the rest were delivered; the logger's own
/// count must agree, or nothing is taken for delivered.
fn replay_group<P: Publisher>(
    options: &ReplayOptions,
    subject: &str,
    group: Vec<(DeadLetter, String)>,
    timeout: Duration,
    publisher: &impl Fn(&SnsConfig) -> P,
) -> Result<Outcome, ReplayError> {
    let config = options
        .logger_options(&group[0].1, subject, group.len())
        .into_config()?;
    let sns = config.sns.clone();
    let logger = Logger::start_replaying(config, publisher(&sns))?;
    let reports: Arc<Mutex<Vec<DeliveryError>>> = Arc::default();
    let sink = reports.clone();
    logger.on_error(Arc::new(move |e| {
        sink.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(e.clone())
    }));
    let mut failed: Vec<(Uuid, String)> = Vec::new();
    let mut sent: Vec<Uuid> = Vec::new();
    for (letter, target) in &group {
        match logger.log_again(letter, target) {
            Ok(id) => sent.push(id),
            Err(e) => failed.push((letter.id, e.to_string())),
        }
    }
    let (tx, rx) = mpsc::channel::<DeliveryReport>();
    logger.close(
        Some(timeout),
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    let answer = rx.recv_timeout(timeout + ANSWER_GRACE);
    let refused = logger.take_refused();
    let mut why: HashMap<Uuid, String> = HashMap::new();
    for e in reports.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        for id in &e.event_ids {
            if let Ok(id) = Uuid::parse_str(id) {
                why.entry(id)
                    .or_insert_with(|| format!("{}: {}", e.code, e.message));
            }
        }
    }
    let mut delivered = Vec::new();
    for id in sent {
        if refused.iter().any(|l| l.id == id) {
            continue;
        }
        match why.remove(&id) {
            Some(reason) => failed.push((id, reason)),
            None => delivered.push(id),
        }
    }
    let agreed = matches!(answer, Ok(r) if r.delivered == delivered.len() as u64);
    if !agreed {
        let reason = match answer {
            Ok(r) => format!(
                "the replay's logger counted {} delivered where {} were not reported failed; \
                 they are kept in case",
                r.delivered,
                delivered.len()
            ),
            Err(_) => "the replay's logger did not answer; the record is kept in case".to_owned(),
        };
        failed.extend(delivered.drain(..).map(|id| (id, reason.clone())));
    }
    Ok(Outcome {
        delivered,
        refused,
        failed,
    })
}

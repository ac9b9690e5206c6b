//! The options of a dead-letter replay (`replayDeadLetters()`, the command line's
//! `dead-letter <spoolDir> replay`): how to reach SNS, named as the logger's options
//! are, where to publish, and how long to try. A replay publishes through a logger of
//! its own, built from these by [`ReplayOptions::logger_options`], so every record
//! takes the path a logged event takes.
//!
//! Where to publish is never a default: the store's records name their topic, and
//! whoever can write the spool folder can write a record for any topic the server's
//! credentials reach. So a replay goes to `topicArn`, or to each record's own topic
//! only when `toRecordedTopics: true` says the caller looked at them.

use std::time::Duration;

use serde::Deserialize;

use super::input::{ReadOptions, HOUR_MS};
use super::{check_site_url, millis, parse_topic_arn, Credentials, Options};
use crate::core::deadletter::Selection;
use crate::core::error::InvalidOption;

/// The `MessageGroupId` of a record that has none (it was sent to a standard topic)
/// replayed to a FIFO topic, unless `messageGroupId` is given.
pub const DEFAULT_REPLAY_GROUP: &str = "dead-letter-replay";
/// How long a replay keeps trying by default before leaving what is left in the store.
pub const DEFAULT_REPLAY_TIMEOUT_MS: u64 = 60_000;

/// Options of one replay. Each field is documented where the JavaScript type is
/// declared (`binding/deadletter.rs`).
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReplayOptions {
    pub topic_arn: Option<String>,
    pub to_recorded_topics: Option<bool>,
    pub message_group_id: Option<String>,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub credentials: Option<Credentials>,
    pub request_timeout_ms: Option<f64>,
    pub retry_budget_ms: Option<f64>,
    pub retry_initial_backoff_ms: Option<f64>,
    pub retry_max_backoff_ms: Option<f64>,
    pub timeout_ms: Option<f64>,
}

impl ReadOptions for ReplayOptions {}

/// Where a replay publishes, as [`ReplayOptions::destination`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayDestination<'a> {
    /// Every record to this topic (`topicArn`).
    Topic(&'a str),
    /// Each record to the topic it records (`toRecordedTopics: true`).
    Recorded,
}

impl ReplayOptions {
    /// Where to publish: `topicArn` or `toRecordedTopics: true`, exactly one of them.
    pub fn destination(&self) -> Result<ReplayDestination<'_>, InvalidOption> {
        match (&self.topic_arn, self.to_recorded_topics == Some(true)) {
            (Some(topic), false) => Ok(ReplayDestination::Topic(topic)),
            (None, true) => Ok(ReplayDestination::Recorded),
            (Some(_), true) => Err(InvalidOption::new(
                "toRecordedTopics",
                "cannot be true together with topicArn: give one of them",
            )),
            (None, false) => Err(InvalidOption::new(
                "topicArn",
                "is required, or toRecordedTopics: true: a replay publishes every record to \
                 topicArn, or each to the topic its record names only when toRecordedTopics is \
                 true (a record's topic is whatever was written in the spool folder)",
            )),
        }
    }

    /// How long the replay keeps trying (`timeoutMs`): its logger's close deadline.
    pub fn timeout(&self) -> Result<Duration, InvalidOption> {
        millis(
            "timeoutMs",
            self.timeout_ms,
            DEFAULT_REPLAY_TIMEOUT_MS,
            0,
            HOUR_MS,
        )
    }

    /// Checks every option before anything is read or sent, so that a mistake is
    /// named at once rather than per record.
    pub fn check(&self) -> Result<(), InvalidOption> {
        if let ReplayDestination::Topic(topic) = self.destination()? {
            parse_topic_arn(topic)?;
        }
        if let Some(group) = &self.message_group_id {
            check_site_url(group).map_err(|e| {
                InvalidOption::new("messageGroupId", e.reason.replace("siteUrl", "it"))
            })?;
        }
        self.timeout()?;
        // Everything else as the logger's own conversion checks it.
        self.logger_options("arn:aws:sns:us-east-1:123456789012:replay-check", "RC", 1)
            .into_config()
            .map(drop)
    }

    /// The options of the logger that replays `events` records of one subject to
    /// `topic_arn`: reaching SNS as told, holding them all in memory (they are on
    /// disk already), `close()` after `timeoutMs`.
    pub fn logger_options(&self, topic_arn: &str, subject: &str, events: usize) -> Options {
        Options {
            topic_arn: Some(topic_arn.to_owned()),
            site_url: Some(
                self.message_group_id
                    .clone()
                    .unwrap_or_else(|| DEFAULT_REPLAY_GROUP.to_owned()),
            ),
            region: self.region.clone(),
            endpoint: self.endpoint.clone(),
            credentials: self.credentials.clone(),
            subject: Some(subject.to_owned()),
            max_queue_events: Some(events.max(1) as f64),
            max_queue_bytes: Some((1u64 << 50) as f64),
            overflow: Some("reject".to_owned()),
            request_timeout_ms: self.request_timeout_ms,
            retry_budget_ms: self.retry_budget_ms,
            retry_initial_backoff_ms: self.retry_initial_backoff_ms,
            retry_max_backoff_ms: self.retry_max_backoff_ms,
            shutdown_timeout_ms: Some(self.timeout_ms.unwrap_or(DEFAULT_REPLAY_TIMEOUT_MS as f64)),
            // A short flush interval: close() sends what is left at once anyway.
            flush_interval_ms: Some(10.0),
            ..Options::default()
        }
    }
}

/// Which records a dead-letter command works on, as given: `{ ids, codes }`.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SelectionOptions {
    pub ids: Option<Vec<String>>,
    pub codes: Option<Vec<String>>,
}

impl ReadOptions for SelectionOptions {}

impl SelectionOptions {
    /// The selection; a malformed event id is named by its place (`ids[2]`).
    pub fn into_selection(self) -> Result<Selection, InvalidOption> {
        let ids = self
            .ids
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, id)| {
                uuid::Uuid::parse_str(id).map_err(|_| {
                    InvalidOption::new(
                        format!("ids[{i}]"),
                        format!("must be an event id (a UUID, as log() returns), got {id:?}"),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Selection {
            ids,
            codes: self.codes.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_options_are_checked_and_named_like_the_loggers() {
        let recorded = || serde_json::json!({ "toRecordedTopics": true });
        let with = |key: &str, value: serde_json::Value| {
            let mut o = recorded();
            o[key] = value;
            o
        };
        assert!(ReplayOptions::from_json(recorded())
            .unwrap()
            .check()
            .is_ok());
        let cases = [
            (
                serde_json::json!({ "topic": "x" }),
                "topic",
                "unknown field",
            ),
            (
                serde_json::json!({ "topicArn": "nope" }),
                "topicArn",
                "SNS topic ARN",
            ),
            (
                with("messageGroupId", serde_json::json!("has space")),
                "messageGroupId",
                "printable",
            ),
            (
                with("endpoint", serde_json::json!("127.0.0.1")),
                "endpoint",
                "http://",
            ),
            (
                with("endpoint", serde_json::json!("http://sns.example.com")),
                "endpoint",
                "loopback",
            ),
            (
                with("timeoutMs", serde_json::json!(-1)),
                "timeoutMs",
                "whole number",
            ),
            (
                with("retryBudgetMs", serde_json::json!(1.5)),
                "retryBudgetMs",
                "whole number",
            ),
        ];
        for (json, option, words) in cases {
            let e = ReplayOptions::from_json(json.clone())
                .and_then(|o| o.check())
                .unwrap_err();
            assert_eq!(e.option, option, "{json}");
            assert!(e.reason.contains(words), "{json}: {e}");
        }
    }

    #[test]
    fn a_replay_goes_to_topic_arn_or_to_the_recorded_topics_only_when_told() {
        let topic = "arn:aws:sns:eu-west-1:123456789012:fixed.fifo";
        let read = |json| ReplayOptions::from_json(json).unwrap();
        // Neither: refused, naming both.
        for json in [
            serde_json::json!({}),
            serde_json::json!({ "toRecordedTopics": false }),
        ] {
            let e = read(json.clone()).check().unwrap_err();
            assert_eq!(e.option, "topicArn", "{json}");
            assert!(e.reason.contains("toRecordedTopics: true"), "{e}");
        }
        // Both: refused, as they contradict each other.
        let e = read(serde_json::json!({ "topicArn": topic, "toRecordedTopics": true }))
            .check()
            .unwrap_err();
        assert_eq!(e.option, "toRecordedTopics");
        assert!(e.reason.contains("topicArn"), "{e}");
        // One of them.
        let o = read(serde_json::json!({ "topicArn": topic }));
        assert_eq!(o.destination().unwrap(), ReplayDestination::Topic(topic));
        let o = read(serde_json::json!({ "topicArn": topic, "toRecordedTopics": false }));
        assert_eq!(o.destination().unwrap(), ReplayDestination::Topic(topic));
        let o = read(serde_json::json!({ "toRecordedTopics": true }));
        assert_eq!(o.destination().unwrap(), ReplayDestination::Recorded);
    }

    #[test]
    fn a_selection_names_a_bad_id_by_its_place() {
        let read = |json| {
            SelectionOptions::deserialize_from(json, |e: serde_json::Error| e.to_string())
                .and_then(SelectionOptions::into_selection)
        };
        let id = "0190a4b2-7c1d-7000-8000-000000000001";
        let s = read(serde_json::json!({ "ids": [id], "codes": ["InvalidParameter"] })).unwrap();
        assert_eq!(s.ids[0].to_string(), id);
        assert_eq!(s.codes, ["InvalidParameter"]);
        let e = read(serde_json::json!({ "ids": [id, "nope"] })).unwrap_err();
        assert_eq!(e.option, "ids[1]");
        let e = read(serde_json::json!({ "code": ["x"] })).unwrap_err();
        assert_eq!(e.option, "code");
    }

    #[test]
    fn the_replay_logger_holds_every_record_and_closes_after_the_timeout() {
        let o = ReplayOptions {
            timeout_ms: Some(2_000.0),
            ..ReplayOptions::default()
        };
        let c = o
            .logger_options("arn:aws:sns:eu-west-1:123456789012:t.fifo", "Subj", 500)
            .into_config()
            .unwrap();
        assert_eq!(c.max_queue_events, 500);
        assert_eq!(c.subject, "Subj");
        assert_eq!(c.encoder.site_url, DEFAULT_REPLAY_GROUP);
        assert_eq!(c.shutdown_timeout, Duration::from_secs(2));
        assert_eq!(c.sns.arn_region, "eu-west-1");
        assert!(c.spool.is_none());
    }
}

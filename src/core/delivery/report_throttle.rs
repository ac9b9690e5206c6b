//! Repeated background failures, reported at most once per interval per destination
//! and code. An outage fails every batch the same way: one report per batch would
//! flood the server's log with thousands of copies of one message. The first report of
//! a kind goes out at once; those that follow within the interval are merged into one,
//! with every id, every entry and a count, and go out when the interval has passed
//! (or when a flush or close is answered). A pure decision: the caller passes the time.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::core::error::{DeliveryError, ErrorCode};

/// How often a repeated failure is reported, at most, per destination and code.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// Whether reports of `code` repeat once per batch, and so are merged.
pub fn merged(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::DeliveryDelayed
            | ErrorCode::RetriesExhausted
            | ErrorCode::PublishFailed
            | ErrorCode::DeadLettered
    )
}

#[derive(Debug)]
struct Kind {
    last_sent: Instant,
    /// Reports merged since, and how many.
    waiting: Option<(DeliveryError, usize)>,
}

/// The reports of each (code, destination) since its last one went out.
#[derive(Debug)]
pub struct ReportThrottle {
    interval: Duration,
    kinds: HashMap<(ErrorCode, String), Kind>,
}

impl Default for ReportThrottle {
    fn default() -> Self {
        Self::new(REPORT_INTERVAL)
    }
}

impl ReportThrottle {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            kinds: HashMap::new(),
        }
    }

    /// `error`, about `topic`, to report now; or `None`: it waits, merged with the
    /// others of its kind, for [`ReportThrottle::due`].
    pub fn offer(
        &mut self,
        topic: &str,
        error: DeliveryError,
        now: Instant,
    ) -> Option<DeliveryError> {
        let key = (error.code, topic.to_owned());
        let interval = self.interval;
        match self.kinds.get_mut(&key) {
            Some(kind) if now < kind.last_sent + interval || kind.waiting.is_some() => {
                match &mut kind.waiting {
                    Some((waiting, n)) => {
                        waiting.event_ids.extend(error.event_ids);
                        waiting.entries.extend(error.entries);
                        waiting.message = error.message;
                        *n += 1;
                    }
                    None => kind.waiting = Some((error, 1)),
                }
                None
            }
            Some(kind) => {
                kind.last_sent = now;
                Some(error)
            }
            None => {
                self.kinds.insert(
                    key,
                    Kind {
                        last_sent: now,
                        waiting: None,
                    },
                );
                Some(error)
            }
        }
    }

    /// The merged reports whose interval has passed by `now` (every one, with `all`),
    /// each saying how many reports it stands for.
    pub fn due(&mut self, now: Instant, all: bool) -> Vec<DeliveryError> {
        let interval = self.interval;
        let mut out = Vec::new();
        for kind in self.kinds.values_mut() {
            let ready = all || now >= kind.last_sent + interval;
            if !ready {
                continue;
            }
            if let Some((mut error, n)) = kind.waiting.take() {
                error.message = format!(
                    "{n} reports of {} events merged (one report per {} s per topic and code \
                     at most); the last said: {}",
                    error.event_ids.len().max(error.entries.len()),
                    interval.as_secs(),
                    error.message
                );
                kind.last_sent = now;
                out.push(error);
            }
        }
        out
    }

    /// When the next merged report is due, if one waits.
    pub fn next_due(&self) -> Option<Instant> {
        self.kinds
            .values()
            .filter(|k| k.waiting.is_some())
            .map(|k| k.last_sent + self.interval)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delayed(ids: &[&str]) -> DeliveryError {
        DeliveryError::new(
            ErrorCode::DeliveryDelayed,
            "SNS has failed these events",
            ids.iter().map(|s| (*s).to_owned()).collect(),
        )
    }

    #[test]
    fn the_first_goes_out_then_one_per_interval_with_every_id() {
        let mut t = ReportThrottle::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(t.offer("topic-a", delayed(&["1"]), t0).is_some());
        assert!(t.offer("topic-a", delayed(&["2"]), t0).is_none());
        assert!(t
            .offer("topic-a", delayed(&["3", "4"]), t0 + Duration::from_secs(5))
            .is_none());
        assert!(
            t.offer("topic-b", delayed(&["5"]), t0).is_some(),
            "another destination is another kind"
        );
        assert!(t.due(t0 + Duration::from_secs(9), false).is_empty());
        assert_eq!(t.next_due(), Some(t0 + Duration::from_secs(10)));
        let due = t.due(t0 + Duration::from_secs(10), false);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].event_ids, ["2", "3", "4"]);
        assert!(
            due[0].message.starts_with("2 reports of 3 events merged"),
            "{}",
            due[0].message
        );
        // The interval runs from the merged report: the next one waits again.
        assert!(t
            .offer("topic-a", delayed(&["6"]), t0 + Duration::from_secs(11))
            .is_none());
        assert_eq!(
            t.due(t0 + Duration::from_secs(11), true)[0].event_ids,
            ["6"]
        );
        assert_eq!(t.next_due(), None);
    }

    #[test]
    fn a_quiet_interval_lets_the_next_one_out_at_once() {
        let mut t = ReportThrottle::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(t.offer("a", delayed(&["1"]), t0).is_some());
        assert!(t
            .offer("a", delayed(&["2"]), t0 + Duration::from_secs(30))
            .is_some());
    }

    #[test]
    fn other_codes_are_not_merged() {
        assert!(merged(ErrorCode::DeliveryDelayed));
        assert!(!merged(ErrorCode::DestinationUnavailable));
        assert!(!merged(ErrorCode::Spool));
    }
}

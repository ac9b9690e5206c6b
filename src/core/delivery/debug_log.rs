//! `debug`: one line per batch outcome on standard error, for an operator following
//! what the logger does. It names the topic, the message group, the events' ids and
//! what became of them; never a message body, an attribute value or a credential.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::core::error::ErrorCode;
use crate::core::event::EncodedEvent;

/// What one batch came to.
pub(crate) struct Outcome<'a> {
    pub topic: &'a str,
    pub group: Option<&'a str>,
    pub events: &'a [EncodedEvent],
    pub delivered: usize,
    /// The code each failed event failed with.
    pub failures: Vec<ErrorCode>,
    /// Refused by SNS for their own sake (dead-lettered, or reported with their messages).
    pub refused: usize,
    pub attempts: u32,
    pub elapsed: Duration,
    pub probe: bool,
}

/// The line for `outcome`, without a newline.
pub(crate) fn line(outcome: &Outcome<'_>) -> String {
    let n = outcome.events.len();
    let mut failed: BTreeMap<&str, usize> = BTreeMap::new();
    for code in &outcome.failures {
        *failed.entry(code.as_str()).or_default() += 1;
    }
    let mut out = format!(
        "rocketchat-sns-analytics debug: {} topic={} group={} events={n} delivered={}",
        if outcome.probe { "probe" } else { "batch" },
        outcome.topic,
        outcome.group.unwrap_or("-"),
        outcome.delivered,
    );
    for (code, k) in &failed {
        let _ = write!(out, " failed[{code}]={k}");
    }
    let kept = n - outcome.delivered - outcome.failures.len() - outcome.refused;
    let _ = write!(
        out,
        " refused={} kept={kept} attempts={} ms={}",
        outcome.refused,
        outcome.attempts,
        outcome.elapsed.as_millis()
    );
    if let (Some(first), Some(last)) = (outcome.events.first(), outcome.events.last()) {
        let _ = write!(
            out,
            " ids={}..{}",
            first.id.hyphenated(),
            last.id.hyphenated()
        );
    }
    out
}

/// Writes the line for `outcome` to standard error (on the delivery loop's thread,
/// never the JavaScript thread).
pub(crate) fn batch_outcome(outcome: &Outcome<'_>) {
    eprintln!("{}", line(outcome));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::testing::event_with_body_len;

    #[test]
    fn names_the_outcome_and_never_a_body() {
        let events: Vec<EncodedEvent> = (0..3).map(|_| event_with_body_len(40)).collect();
        let line = line(&Outcome {
            topic: "arn:aws:sns:us-east-1:123456789012:t.fifo",
            group: Some("https://chat.example.com"),
            events: &events,
            delivered: 1,
            failures: vec![ErrorCode::RetriesExhausted],
            refused: 0,
            attempts: 3,
            elapsed: Duration::from_millis(42),
            probe: false,
        });
        assert!(line.starts_with("rocketchat-sns-analytics debug: batch topic=arn:aws:sns:us-east-1:123456789012:t.fifo group=https://chat.example.com events=3 delivered=1 failed[ERR_RETRIES_EXHAUSTED]=1 refused=0 kept=1 attempts=3 ms=42 ids="), "{line}");
        assert!(!line.contains(events[0].body()), "{line}");
    }
}

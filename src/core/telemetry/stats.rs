//! Counters shared by `log()` (the JavaScript thread) and the delivery loop, beside the
//! account that `ledger.rs` keeps, and `stats()`'s snapshot of both. Plain atomics:
//! reading them never waits for the background.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::SystemTime;

/// The counters beside the account (`ledger.rs`): requests, retries, refusals of
/// `log()`, plan violations and the spool's state.
#[derive(Debug, Default)]
pub struct Stats {
    /// Dead letters dropped from the store to keep it within `maxDeadLetterBytes`.
    pub dead_letter_dropped: AtomicU64,
    pub retried: AtomicU64,
    pub batches_sent: AtomicU64,
    pub invalid: AtomicU64,
    /// Tracking-plan violations, by `ViolationKind::index`.
    pub violations: [AtomicU64; 5],
    /// Unsettled events in the spool (set by the delivery loop).
    pub spooled: AtomicU64,
    /// Bytes of the spool's files (set by the delivery loop).
    pub spool_bytes: AtomicU64,
    pub corrupt_records: AtomicU64,
    /// With `spoolDir`: the loop writes its folder (false while it runs from memory).
    pub spool_in_use: AtomicBool,
}

/// A copy of [`Stats`] for callers; see the module's note on when it balances.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Accepted by `log()` (dropped by `overflow` included), plus events recovered
    /// from the spool on start.
    pub accepted: u64,
    /// Accepted, not settled and not held: waiting to be sent (in memory or on
    /// disk), in a request or waiting for its retry, or left in the spool by
    /// `close()` for the next logger. Includes `in_flight`.
    pub queued: u64,
    /// Of `queued` and `held`, the events in a request not answered yet or waiting for
    /// its retry (a paused destination's probe counts in `held`). Not a term of the
    /// account: a part of those two.
    pub in_flight: u64,
    /// Waiting for a paused destination (in memory, or with a spool on disk), found
    /// by the delivery loop; events on disk it has not read yet are `queued`.
    pub held: u64,
    pub delivered: u64,
    /// Given up: refused by SNS, out of retries, cut off by a shutdown deadline, or
    /// held for a paused destination when `close()` ended without a spool. Not the
    /// events kept in the dead-letter store (`dead_lettered`).
    pub failed: u64,
    /// Discarded because the queue was full (`overflow`), thrown (`'reject'`) or not.
    pub dropped: u64,
    /// With `spoolDir`: refused by SNS for good for their own sake (a sender fault on
    /// the entry) and kept in the dead-letter store, to be replayed.
    pub dead_lettered: u64,
    /// With `spoolDir`: records dropped from the dead-letter store, oldest first, to
    /// keep it within `maxDeadLetterBytes` (each was counted in `dead_lettered`).
    pub dead_letter_dropped: u64,
    /// Entries sent again after a transient failure.
    pub retried: u64,
    /// PublishBatch requests sent, retries included.
    pub batches_sent: u64,
    /// Events `log()` refused as invalid (tracking-plan rejections included).
    pub invalid: u64,
    /// Tracking-plan violations found, by kind (in `VIOLATION_KINDS` order), whether
    /// the event was refused (`strict`) or published (`warn`).
    pub violations: [u64; 5],
    /// With `spoolDir`: unsettled events in the spool's files (in memory too, or not).
    pub spooled: u64,
    /// With `spoolDir`: bytes of its segment files.
    pub spool_bytes: u64,
    /// With `spoolDir`: torn or damaged records skipped.
    pub corrupt_records: u64,
    /// With `spoolDir`: unsettled events left by loggers that are gone, found on start
    /// or adopted from their folders while running.
    pub recovered: u64,
    /// With `spoolDir`: whether the logger writes its spool folder; false while it
    /// runs from memory because no folder could be had (reported through `onError`).
    pub spool_in_use: bool,
}

impl Stats {
    /// These counters beside `account` (the ledger's terms, [`super::Ledger::account`]),
    /// for callers.
    pub fn snapshot(&self, account: StatsSnapshot) -> StatsSnapshot {
        StatsSnapshot {
            dead_letter_dropped: self.dead_letter_dropped.load(Relaxed),
            retried: self.retried.load(Relaxed),
            batches_sent: self.batches_sent.load(Relaxed),
            invalid: self.invalid.load(Relaxed),
            violations: std::array::from_fn(|i| self.violations[i].load(Relaxed)),
            spooled: self.spooled.load(Relaxed),
            spool_bytes: self.spool_bytes.load(Relaxed),
            corrupt_records: self.corrupt_records.load(Relaxed),
            spool_in_use: self.spool_in_use.load(Relaxed),
            ..account
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Relaxed);
    }
}

impl StatsSnapshot {
    /// Whether `accepted = delivered + failed + dropped + dead_lettered + held +
    /// queued`.
    pub fn balances(&self) -> bool {
        self.accepted
            == self.delivered
                + self.failed
                + self.dropped
                + self.dead_lettered
                + self.held
                + self.queued
    }
}

/// A destination the delivery loop holds events for, as `stats()` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PausedDestination {
    pub topic_arn: String,
    /// The AWS error code of the refusal that paused it, and SNS's message.
    pub aws_code: String,
    pub aws_message: String,
    pub since: SystemTime,
    /// Events held for it (in memory, or with a spool on disk).
    pub held: u64,
}

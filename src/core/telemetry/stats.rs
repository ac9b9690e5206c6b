//! Counters shared by `log()` (the JavaScript thread) and the delivery loop. Plain
//! atomics: reading them in `stats()` never waits for the background.
//!
//! One account: `accepted = delivered + failed + dropped + dead_lettered + held +
//! queued`. Each event is in exactly one term on the right at any time; the snapshot
//! a `flush()` or `close()` resolves with is taken by the loop between batches, so it
//! balances exactly (a `stats()` read while a batch settles may see one counter moved
//! before the other).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::SystemTime;

#[derive(Debug, Default)]
pub struct Stats {
    /// Events `log()` accepted (counted before `overflow` may drop them), and events
    /// found unsettled in the spool on start.
    pub accepted: AtomicU64,
    /// Events accepted and not yet settled (delivered, failed, dropped,
    /// dead-lettered), wherever they are: what `maxQueueEvents`/`maxQueueBytes` (or
    /// `maxSpoolBytes`) are checked against. Events left in the spool by a close stay
    /// counted: they are not settled.
    pub held_events: AtomicU64,
    /// Bytes of those events, as counted against `maxQueueBytes`.
    pub held_bytes: AtomicU64,
    pub in_flight: AtomicU64,
    /// Of `held_events`, those waiting for a paused destination.
    pub held: AtomicU64,
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
    /// Refused by SNS for good for their own sake and kept in the dead-letter store.
    pub dead_lettered: AtomicU64,
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
    pub recovered: AtomicU64,
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
    pub fn snapshot(&self) -> StatsSnapshot {
        // `held` first: it only falls before `held_events` does, so `queued` never
        // counts an event twice.
        let held = self.held.load(Relaxed);
        let unsettled = self.held_events.load(Relaxed);
        StatsSnapshot {
            accepted: self.accepted.load(Relaxed),
            queued: unsettled.saturating_sub(held),
            in_flight: self.in_flight.load(Relaxed),
            held,
            delivered: self.delivered.load(Relaxed),
            failed: self.failed.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            dead_lettered: self.dead_lettered.load(Relaxed),
            dead_letter_dropped: self.dead_letter_dropped.load(Relaxed),
            retried: self.retried.load(Relaxed),
            batches_sent: self.batches_sent.load(Relaxed),
            invalid: self.invalid.load(Relaxed),
            violations: std::array::from_fn(|i| self.violations[i].load(Relaxed)),
            spooled: self.spooled.load(Relaxed),
            spool_bytes: self.spool_bytes.load(Relaxed),
            corrupt_records: self.corrupt_records.load(Relaxed),
            recovered: self.recovered.load(Relaxed),
            spool_in_use: self.spool_in_use.load(Relaxed),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Relaxed);
    }

    /// Events leave memory (settled, dropped or refused): the one place that lowers
    /// the counters `maxQueueEvents`/`maxQueueBytes` are checked against. Bytes
    /// first: `held_events` reaching zero is what an idle check looks at.
    pub(crate) fn release(&self, events: usize, bytes: usize) {
        Self::sub(&self.held_bytes, bytes);
        Self::sub(&self.held_events, events);
    }

    /// Lowers a counter, never below zero: a miscount must not wrap it around (and
    /// then refuse every event as over the limits); tests catch one.
    pub(crate) fn sub(counter: &AtomicU64, n: usize) {
        let n = n as u64;
        let before = counter
            .fetch_update(Relaxed, Relaxed, |v| Some(v.saturating_sub(n)))
            .unwrap_or_else(|v| v);
        debug_assert!(before >= n, "a counter would go below zero: {before} - {n}");
    }
}

impl StatsSnapshot {
    /// The right-hand side of the account: `delivered + failed + dropped +
    /// dead_lettered + held + queued`, which equals `accepted`.
    pub fn settled_and_unsettled(&self) -> u64 {
        self.delivered + self.failed + self.dropped + self.dead_lettered + self.held + self.queued
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

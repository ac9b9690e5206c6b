//! Counters shared by `log()` (the JavaScript thread) and the delivery loop. Plain
//! atomics: reading them in `stats()` never waits for the background.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Debug, Default)]
pub struct Stats {
    /// Events accepted and not yet settled, in memory (queued or in flight).
    pub held_events: AtomicU64,
    /// Bytes of those events, as counted against `maxQueueBytes`.
    pub held_bytes: AtomicU64,
    pub in_flight: AtomicU64,
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
}

/// A consistent-enough copy of [`Stats`] for callers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Accepted, waiting to be sent.
    pub queued: u64,
    /// In a request that has not been answered yet, or waiting to be retried.
    pub in_flight: u64,
    pub delivered: u64,
    /// Given up: refused by SNS, out of retries, or cut off by a shutdown deadline.
    /// Not the events kept in the dead-letter store (`dead_lettered`).
    pub failed: u64,
    /// Discarded because the queue was full (`overflow`).
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
    /// With `spoolDir`: unsettled events found in it on start, left by an earlier logger.
    pub recovered: u64,
}

impl Stats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let held = self.held_events.load(Relaxed);
        let in_flight = self.in_flight.load(Relaxed);
        StatsSnapshot {
            queued: held.saturating_sub(in_flight),
            in_flight,
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

//! The account of a logger's events, and the only code that changes it:
//! `accepted = delivered + failed + dropped + dead_lettered + held + queued`.
//!
//! Every move of an event is a method here: accept (from `log()`, counted before it is
//! queued and reverted if the queue turns it away), recover (from a spool, this
//! logger's or an adopted one's), send and answer (in flight), hold and release (for
//! a paused destination), and settle (delivered, failed, dropped or refused). Each
//! method moves the logger-wide counters and the event's lane together, so no caller
//! can move one without the other. The model is OpenTelemetry's batch processors,
//! which count a log before queueing it and revert the count when the queue refuses it.
//!
//! Plain atomics, written by `log()` on the JavaScript thread and by the delivery loop:
//! reading them never waits for the background. A snapshot taken by the loop between
//! batches balances exactly; one taken while a batch settles may see one counter moved
//! before the other.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::sources::{FullLane, LaneCaps, SourceLanes, SourcesSnapshot};
use super::stats::StatsSnapshot;
use crate::core::event::Source;

/// What the unsettled events are checked against: `maxQueueEvents`/`maxQueueBytes`,
/// or with a working spool `maxSpoolBytes`. One rule, for `log()` and the loop alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub events: u64,
    pub bytes: u64,
}

/// How settled events ended ([`Ledger::settle`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Delivered,
    /// Given up: reported by id.
    Failed,
    /// Discarded because the queue, the spool or the event's lane was full.
    Dropped,
    /// Refused by SNS for its own sake: [`Ledger::refusals_kept`] or
    /// [`Ledger::refusals_lost`] counts it, once the dead-letter store has answered.
    Refused,
}

#[derive(Debug, Default)]
pub struct Ledger {
    /// Accepted by `log()` (dropped ones included), and recovered from spools.
    accepted: AtomicU64,
    /// Accepted and not settled, wherever they are (memory, a request, the spool), and
    /// their bytes: what [`Limits`] are checked against.
    unsettled_events: AtomicU64,
    unsettled_bytes: AtomicU64,
    /// Of the unsettled, those in a request or waiting for its retry.
    in_flight: AtomicU64,
    /// Of the unsettled, those waiting for a paused destination.
    held: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    dead_lettered: AtomicU64,
    /// Of the accepted, those recovered from spools.
    recovered: AtomicU64,
    /// The same events by source (server, widget, each App).
    lanes: SourceLanes,
}

/// Why `log()`'s event was accepted and then dropped ([`Ledger::accept`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turnaway {
    /// Its lane was at its cap.
    LaneFull(FullLane),
    /// The logger was over its limits.
    OverLimits,
}

impl Ledger {
    /// `log()`'s event of `bytes`, counted before it is queued. It is dropped, and
    /// counted so, if its lane is at its cap, or (unless `keep_over_limits`, which
    /// `overflow: 'dropOldest'` sets: the loop then drops the oldest instead) if the
    /// logger would pass `limits`. `Ok(true)`: queued past the limits.
    pub fn accept(
        &self,
        source: Source<'_>,
        bytes: u64,
        caps: &LaneCaps,
        limits: Limits,
        keep_over_limits: bool,
    ) -> Result<bool, Turnaway> {
        add(&self.accepted, 1);
        if let Err(full) = self.lanes.admit(source, bytes, caps) {
            // The lane counted its own drop.
            add(&self.dropped, 1);
            return Err(Turnaway::LaneFull(full));
        }
        let events = self.unsettled_events.fetch_add(1, Relaxed) + 1;
        let total_bytes = self.unsettled_bytes.fetch_add(bytes, Relaxed) + bytes;
        let over = events > limits.events || total_bytes > limits.bytes;
        if over && !keep_over_limits {
            // The loop only ever lowers these counters, so undoing ours is exact.
            self.settle(source, 1, bytes, Settled::Dropped);
            return Err(Turnaway::OverLimits);
        }
        Ok(over)
    }

    /// An accepted event turned away after all (the loop has ended): every count
    /// `accept` made is taken back, as if it had never been logged.
    pub fn revert(&self, source: Source<'_>, bytes: u64) {
        self.release(source, 1, bytes);
        self.lanes.unlog(source);
        sub(&self.accepted, 1);
    }

    /// Events accepted by a logger that is gone, found in a spool: they enter this
    /// account as unsettled, in their lane, never refused.
    pub fn recover(&self, source: Source<'_>, events: u64, bytes: u64) {
        add(&self.accepted, events);
        add(&self.recovered, events);
        add(&self.unsettled_events, events);
        add(&self.unsettled_bytes, bytes);
        self.lanes.hold(source, events, bytes);
    }

    /// `n` events go into a request.
    pub fn send(&self, n: u64) {
        add(&self.in_flight, n);
    }

    /// A request's `n` events are back: settled, held, or to be sent again.
    pub fn answered(&self, n: u64) {
        sub(&self.in_flight, n);
    }

    /// `n` unsettled events wait for a paused destination.
    pub fn hold(&self, n: u64) {
        add(&self.held, n);
    }

    /// `n` held events do not wait any more: their destination resumed, or they are
    /// about to be settled (`held` falls before the unsettled count, see `account`).
    pub fn release_held(&self, n: u64) {
        sub(&self.held, n);
    }

    /// `events` of one lane, of `bytes`, are settled as `how`: the one way out of the
    /// unsettled events, logger-wide and in the lane.
    pub fn settle(&self, source: Source<'_>, events: u64, bytes: u64, how: Settled) {
        self.release(source, events, bytes);
        match how {
            Settled::Delivered => {
                add(&self.delivered, events);
                self.lanes.delivered(source, events);
            }
            Settled::Failed => add(&self.failed, events),
            Settled::Dropped => {
                add(&self.dropped, events);
                self.lanes.dropped(source, events);
            }
            // Counted where the store's answer is known.
            Settled::Refused => {}
        }
    }

    /// `n` events settled as [`Settled::Refused`] are kept in the dead-letter store.
    pub fn refusals_kept(&self, n: u64) {
        add(&self.dead_lettered, n);
    }

    /// `n` events settled as [`Settled::Refused`] could not be kept: failed, and
    /// reported with their messages.
    pub fn refusals_lost(&self, n: u64) {
        add(&self.failed, n);
    }

    /// An event of `source` refused before it was accepted (an App's rate limit or byte
    /// budget, the widget's caps): in its lane's `refused`, in no term of the account.
    pub fn refused_before_accepting(&self, source: Source<'_>) {
        self.lanes.refused(source);
    }

    /// Whether the unsettled events are past `limits`.
    pub fn over(&self, limits: Limits) -> bool {
        self.unsettled_events.load(Relaxed) > limits.events
            || self.unsettled_bytes.load(Relaxed) > limits.bytes
    }

    /// What `limits` have room for: events and bytes.
    pub fn room(&self, limits: Limits) -> Limits {
        Limits {
            events: limits
                .events
                .saturating_sub(self.unsettled_events.load(Relaxed)),
            bytes: limits
                .bytes
                .saturating_sub(self.unsettled_bytes.load(Relaxed)),
        }
    }

    /// Whether every accepted event is settled.
    pub fn all_settled(&self) -> bool {
        self.unsettled_events.load(Relaxed) == 0
    }

    /// The account's terms, in the snapshot `stats()` shows; the other counters are
    /// `Stats`'s, filled in by [`super::Stats::snapshot`].
    pub fn account(&self) -> StatsSnapshot {
        // `held` first: it only falls before the unsettled count does, so `queued`
        // never counts an event twice.
        let held = self.held.load(Relaxed);
        let unsettled = self.unsettled_events.load(Relaxed);
        StatsSnapshot {
            accepted: self.accepted.load(Relaxed),
            queued: unsettled.saturating_sub(held),
            in_flight: self.in_flight.load(Relaxed),
            held,
            delivered: self.delivered.load(Relaxed),
            failed: self.failed.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            dead_lettered: self.dead_lettered.load(Relaxed),
            recovered: self.recovered.load(Relaxed),
            ..StatsSnapshot::default()
        }
    }

    pub fn lanes(&self) -> SourcesSnapshot {
        self.lanes.snapshot()
    }

    /// Bytes first: the unsettled count reaching zero is what an idle check looks at.
    fn release(&self, source: Source<'_>, events: u64, bytes: u64) {
        sub(&self.unsettled_bytes, bytes);
        sub(&self.unsettled_events, events);
        self.lanes.release(source, events, bytes);
    }
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Relaxed);
}

/// Lowers a counter, never below zero: a miscount must not wrap it around (and then
/// refuse every event as over the limits); debug builds stop at one.
fn sub(counter: &AtomicU64, n: u64) {
    let before = counter
        .fetch_update(Relaxed, Relaxed, |v| Some(v.saturating_sub(n)))
        .unwrap_or_else(|v| v);
    debug_assert!(before >= n, "a counter would go below zero: {before} - {n}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::telemetry::Cap;

    const NO_CAPS: LaneCaps = LaneCaps {
        widget: Cap {
            events: u64::MAX,
            bytes: u64::MAX,
        },
        app: Cap {
            events: u64::MAX,
            bytes: u64::MAX,
        },
        apps: Cap {
            events: u64::MAX,
            bytes: u64::MAX,
        },
    };

    /// Every transition, and the account balances after each; the lanes come back to
    /// nothing unsettled.
    #[test]
    fn every_transition_keeps_the_account_balanced() {
        let ledger = Ledger::default();
        let limits = Limits {
            events: 3,
            bytes: 1_000,
        };
        let check = |ledger: &Ledger| {
            let a = ledger.account();
            assert!(a.balances(), "{a:?}");
        };
        for _ in 0..3 {
            assert_eq!(
                ledger.accept(Source::Server, 10, &NO_CAPS, limits, false),
                Ok(false)
            );
            check(&ledger);
        }
        assert_eq!(
            ledger.accept(Source::Widget, 10, &NO_CAPS, limits, false),
            Err(Turnaway::OverLimits)
        );
        check(&ledger);
        assert_eq!(
            ledger.accept(Source::App("a"), 10, &NO_CAPS, limits, true),
            Ok(true)
        );
        ledger.revert(Source::App("a"), 10);
        check(&ledger);
        ledger.recover(Source::App("a"), 2, 20);
        check(&ledger);
        ledger.send(2);
        ledger.hold(1);
        check(&ledger);
        ledger.answered(2);
        ledger.release_held(1);
        ledger.settle(Source::Server, 1, 10, Settled::Delivered);
        ledger.settle(Source::Server, 1, 10, Settled::Failed);
        ledger.refusals_kept(1);
        ledger.settle(Source::Server, 1, 10, Settled::Refused);
        check(&ledger);
        ledger.refusals_lost(1);
        ledger.settle(Source::App("a"), 1, 10, Settled::Refused);
        ledger.settle(Source::App("a"), 1, 10, Settled::Dropped);
        check(&ledger);
        let a = ledger.account();
        assert_eq!(
            (
                a.accepted,
                a.delivered,
                a.failed,
                a.dropped,
                a.dead_lettered
            ),
            (6, 1, 2, 2, 1)
        );
        assert_eq!((a.queued, a.held, a.in_flight, a.recovered), (0, 0, 0, 2));
        assert!(ledger.all_settled());
        let lanes = ledger.lanes();
        for lane in [lanes.server, lanes.widget, lanes.apps] {
            assert_eq!((lane.unsettled_events, lane.unsettled_bytes), (0, 0));
        }
        assert_eq!(
            (lanes.widget.logged, lanes.widget.dropped),
            (1, 1),
            "the drop over the limits is the widget lane's"
        );
        assert_eq!(lanes.apps.logged, 0, "the reverted event was never logged");
    }

    #[test]
    fn room_and_over_read_the_unsettled_events() {
        let ledger = Ledger::default();
        let limits = Limits {
            events: 2,
            bytes: 100,
        };
        ledger
            .accept(Source::Server, 60, &NO_CAPS, limits, true)
            .unwrap();
        assert_eq!(
            ledger.room(limits),
            Limits {
                events: 1,
                bytes: 40
            }
        );
        assert!(!ledger.over(limits));
        assert_eq!(
            ledger.accept(Source::Server, 60, &NO_CAPS, limits, true),
            Ok(true)
        );
        assert!(ledger.over(limits));
    }
}

//! What the caller's side of a logger and its delivery loop share: the state both
//! read (`Shared`), the control messages from one to the other (`Control`), and the
//! report a flush or close settles with. A leaf of `delivery/`: the logger, the
//! worker and `deliver.rs` import it, and it imports none of them.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch, Notify};
use uuid::Uuid;

use super::report_throttle::{self, ReportThrottle};
use crate::core::deadletter::{DeadLetter, DeadLetterStore};
use crate::core::error::DeliveryError;
use crate::core::options::LoggerConfig;
use crate::core::plan::Violation;
use crate::core::telemetry::{
    FullLane, LabelledCounters, Ledger, PausedDestination, Stats, StatsSnapshot,
};

/// What `flush()` and `close()` resolve with: the logger's account when they settled,
/// `accepted = delivered + failed + dropped + dead_lettered + held + queued` (the
/// terms as [`StatsSnapshot`] defines them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub accepted: u64,
    pub delivered: u64,
    pub failed: u64,
    pub dropped: u64,
    pub dead_lettered: u64,
    /// Held for paused destinations (with a spool, left there by `close()`).
    pub held: u64,
    /// Neither settled nor held: logged after the call, or with a spool left there
    /// when `close()` timed out.
    pub queued: u64,
    /// `held + queued`: every event not settled.
    pub pending: u64,
    /// With `spoolDir`: events kept on disk for the next logger on the folder
    /// (`close()` timed out, or SNS was unavailable).
    pub spooled: u64,
}

impl DeliveryReport {
    pub(crate) fn from_stats(s: StatsSnapshot) -> Self {
        Self {
            accepted: s.accepted,
            delivered: s.delivered,
            failed: s.failed,
            dropped: s.dropped,
            dead_lettered: s.dead_lettered,
            held: s.held,
            queued: s.queued,
            pending: s.held + s.queued,
            spooled: s.spooled,
        }
    }
}

/// Called once with the report when a flush or close settles.
pub type ReportFn = Box<dyn FnOnce(DeliveryReport) + Send>;
/// Receives every background failure; must not block.
pub type ErrorSink = Arc<dyn Fn(&DeliveryError) + Send + Sync>;

/// Requests to the delivery loop other than events. They travel apart from events so
/// that the event path stays free of wake-ups; the loop drains the event channel before
/// acting on one, which keeps "every event logged before flush()" exact.
pub(crate) enum Control {
    Flush(ReportFn),
    Close {
        deadline: Instant,
        reply: ReportFn,
    },
    /// Events `log()` dropped because of `overflow: 'dropNewest'`, to be reported.
    Dropped(Uuid),
    /// An event `log()` dropped because its lane was at its cap, to be reported.
    LaneFull(Uuid, FullLane),
    /// `reconfigure()`: the delivery loop's share of the new options.
    Reconfigure(Box<LoggerConfig>),
    /// A published event broke the plan (`validation: 'warn'`), to be reported once
    /// per kind, event and path.
    Violations {
        id: Uuid,
        event: String,
        violations: Vec<Violation>,
    },
}

/// Where the entries SNS refuses for good for their own sake go (`refusals.rs`).
pub(crate) enum DeadLetterSink {
    /// Without a spool: reported with their messages, so the host can keep them.
    Report,
    /// With a spool: into its dead-letter store, durably, before the spool settles them.
    Store(Arc<DeadLetterStore>),
    /// A replay's logger: handed back to the replay, whose store already holds them.
    Collect(Mutex<Vec<DeadLetter>>),
}

/// State shared between the caller's side and the delivery loop.
pub(crate) struct Shared {
    /// The account of the events: every move of one goes through it.
    pub ledger: Ledger,
    /// The other counters.
    pub stats: Stats,
    /// Wakes the delivery loop.
    pub wake: Notify,
    /// Events sent to the loop and not yet put into a batch. Signed: the loop may
    /// count an event out before `log()` has counted it in.
    pub undispatched: AtomicI64,
    /// Set by the loop while it could start a batch if events came: only then is
    /// waking it worth a system call. With every in-flight slot taken, it wakes when
    /// a batch finishes and takes all waiting events at once.
    pub wants_events: AtomicBool,
    pub closed: AtomicBool,
    pub control: mpsc::UnboundedSender<Control>,
    /// The shutdown deadline, once `close()` has set one; batches in flight watch it.
    pub deadline: watch::Sender<Option<Instant>>,
    /// SNS asked to slow down: no request starts before this (microseconds since
    /// `epoch`), whichever batch was throttled.
    pub(super) pause_until_us: AtomicU64,
    pub(super) epoch: Instant,
    /// `shutdownTimeoutMs`, for the exit hook, which reads it when the process ends.
    pub(super) shutdown_timeout_ms: AtomicU64,
    /// The earliest deadline a `close()` asked for (microseconds since `epoch`;
    /// `u64::MAX`: none), set on the caller's thread, so that the exit hook sees a close
    /// that a host's `process.exit()` interrupts before the loop has taken it in.
    pub(super) close_requested_us: AtomicU64,
    pub(super) error_sinks: Mutex<ErrorSinks>,
    /// Repeated failures waiting to be reported, merged (`report_throttle.rs`).
    pub(super) throttle: Mutex<ReportThrottle>,
    /// Counters by topic, reason and app, for `metrics()`.
    pub labels: LabelledCounters,
    pub dead_letters: DeadLetterSink,
    /// The paused destinations, as the loop last published them (when they change,
    /// at most once per turn of the loop), for `stats()` and `metrics()`.
    pub paused: Mutex<Vec<PausedDestination>>,
    /// Per topic, when its oldest unsettled event was logged (epoch ms), as the loop
    /// last published it (at most once a second), for `metrics()`.
    pub oldest: Mutex<Vec<(String, i64)>>,
    /// Turns of the delivery loop, for tests that check it sleeps when blocked.
    #[cfg(test)]
    pub loop_turns: std::sync::atomic::AtomicU64,
}

/// Reports kept for the first `onError` callback: the loop starts before the caller
/// can register one, and a spool it cannot use is reported at once.
const EARLY_REPORTS: usize = 16;

#[derive(Default)]
pub struct ErrorSinks {
    list: Vec<ErrorSink>,
    early: Vec<DeliveryError>,
}

impl Shared {
    /// `stats()`: the account and the other counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot(self.ledger.account())
    }

    /// Holds every request of this logger back for `d`.
    pub fn pause_for(&self, d: Duration) {
        let until = (Instant::now() + d).duration_since(self.epoch).as_micros() as u64;
        self.pause_until_us.fetch_max(until, Ordering::AcqRel);
    }

    /// When requests may start again, if they are held back now.
    pub fn paused_until(&self) -> Option<Instant> {
        let until = self.epoch + Duration::from_micros(self.pause_until_us.load(Ordering::Acquire));
        (until > Instant::now()).then_some(until)
    }

    /// The paused destinations, as last published.
    pub fn paused_destinations(&self) -> Vec<PausedDestination> {
        match self.paused.lock() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Hands a background failure to every `onError` callback; one made before the
    /// first callback is registered waits for it.
    pub fn report(&self, error: DeliveryError) {
        let sinks = {
            let mut sinks = self.error_sinks.lock().unwrap_or_else(|p| p.into_inner());
            if sinks.list.is_empty() {
                if sinks.early.len() < EARLY_REPORTS {
                    sinks.early.push(error);
                }
                return;
            }
            sinks.list.clone()
        };
        for sink in sinks {
            sink(&error);
        }
    }

    /// [`Shared::report`] for a failure about `topic` that repeats per batch: merged
    /// with the others of its code and topic, at most one report per interval.
    pub fn report_about(&self, topic: &str, error: DeliveryError) {
        if !report_throttle::merged(error.code) {
            return self.report(error);
        }
        let now_or_later = self
            .throttle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .offer(topic, error, Instant::now());
        if let Some(error) = now_or_later {
            self.report(error);
        }
    }

    /// Reports the merged failures that are due (every one, with `all`: a flush or a
    /// close is answered).
    pub fn report_merged(&self, all: bool) {
        let due = self
            .throttle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .due(Instant::now(), all);
        for error in due {
            self.report(error);
        }
    }

    /// When the next merged report is due, if one waits.
    pub fn merged_report_at(&self) -> Option<Instant> {
        self.throttle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .next_due()
    }

    /// Registers an `onError` callback; the first one gets what was reported before.
    pub fn on_error(&self, sink: ErrorSink) {
        let early = {
            let mut sinks = self.error_sinks.lock().unwrap_or_else(|p| p.into_inner());
            sinks.list.push(sink.clone());
            std::mem::take(&mut sinks.early)
        };
        for error in &early {
            sink(error);
        }
    }

    /// Asks the loop to close; hands `reply` back if the loop has already ended.
    pub(super) fn close(&self, deadline: Instant, reply: ReportFn) -> Result<(), ReportFn> {
        self.closed.store(true, Ordering::Release);
        let us = deadline.saturating_duration_since(self.epoch).as_micros() as u64;
        self.close_requested_us.fetch_min(us, Ordering::AcqRel);
        let sent = self.control.send(Control::Close { deadline, reply });
        self.wake.notify_one();
        match sent {
            Err(mpsc::error::SendError(Control::Close { reply, .. })) => Err(reply),
            _ => Ok(()),
        }
    }
}

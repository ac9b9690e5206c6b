//! What the loop reports through `onError` and answers `flush()` with: plan
//! violations (once each), dropped events, events given up at the close deadline.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::core::delivery::publisher::Publisher;
use crate::core::delivery::shared::DeliveryReport;
use crate::core::error::{DeliveryError, ErrorCode};
use crate::core::plan::Violation;
use crate::core::telemetry::FullLane;
use crate::core::telemetry::Settled;

use super::Worker;

/// What is waiting to be reported, and what was already.
#[derive(Default)]
pub(super) struct Reports {
    /// Events `log()` or the loop dropped per `overflow`, for the next report.
    pub(super) dropped_ids: Vec<String>,
    /// Events `log()` dropped because their lane was at its cap, by lane.
    pub(super) lane_drops: Vec<(FullLane, Vec<String>)>,
    /// When drops were last reported: a flood drops events on every turn of the loop,
    /// and one report per turn would flood `onError` in turn.
    pub(super) drops_reported_at: Option<Instant>,
    /// When the oldest event per topic was last published, and whether as none.
    oldest_published_at: Option<Instant>,
    oldest_published_none: bool,
    /// Violations already reported, so that each is reported once.
    pub(super) violations_seen: HashSet<(&'static str, String, String)>,
}

/// Drops are reported at most this often (all of them, by id, in each report).
const DROP_REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// The oldest unsettled event per topic is published at most this often (a scan of
/// every lane), and at once when nothing is left.
const OLDEST_INTERVAL: Duration = Duration::from_millis(250);

/// Distinct (kind, event, path) triples `validation: 'warn'` reports; past this many,
/// new ones are only counted, so hostile input cannot grow memory without bound.
const MAX_REPORTED_VIOLATIONS: usize = 10_000;

impl<P: Publisher> Worker<P> {
    /// `validation: 'warn'`: reports what is new of an event's violations.
    pub(super) fn report_violations(
        &mut self,
        id: Uuid,
        event: String,
        violations: Vec<Violation>,
    ) {
        let fresh: Vec<Violation> = violations
            .into_iter()
            .filter(|v| {
                self.reports.violations_seen.len() < MAX_REPORTED_VIOLATIONS
                    && self.reports.violations_seen.insert((
                        v.kind.as_str(),
                        event.clone(),
                        v.path.clone(),
                    ))
            })
            .collect();
        if fresh.is_empty() {
            return;
        }
        let message = fresh
            .iter()
            .map(|v| v.message.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        self.shared.report(DeliveryError {
            code: ErrorCode::TrackingPlan,
            message: format!(
                "analytics event {event} was published but violates the tracking plan \
                 (reported once per kind, event and path): {message}"
            ),
            event_ids: vec![id.hyphenated().to_string()],
            violations: fresh,
            entries: Vec::new(),
            destination: None,
        });
    }

    /// The close deadline passed: events never sent are failed now (with a spool, left
    /// there for the next logger, still counted unsettled); held ones go as
    /// `give_up_held` says; batches in flight see the same deadline and give up on
    /// their own.
    pub(super) fn give_up_pending(&mut self) {
        self.lifecycle.deadline_passed = true;
        for topic in self.pauses.topics() {
            self.give_up_held(topic);
        }
        let spooled = self.spool().is_some();
        if self.pending.is_empty() {
            return;
        }
        let drained = self.pending.drain();
        let n = drained.len();
        let bytes: usize = drained.iter().map(|q| q.event.queued_bytes()).sum();
        self.window.remove(n as u64, bytes as u64);
        self.shared
            .undispatched
            .fetch_sub(n as i64, Ordering::AcqRel);
        if spooled {
            return;
        }
        for q in &drained {
            self.shared.ledger.settle(
                q.event.source(),
                1,
                q.event.queued_bytes() as u64,
                Settled::Failed,
            );
        }
        for q in &drained {
            let topic = self.topic(q.event.topic).arn.clone();
            self.shared
                .labels
                .failed(&topic, ErrorCode::ShutdownTimeout, 1);
        }
        self.shared.report(DeliveryError::new(
            ErrorCode::ShutdownTimeout,
            format!("{n} events were still queued when the shutdown deadline passed"),
            drained.iter().map(|q| q.event.id_string()).collect(),
        ));
    }

    /// An event dropped at its lane's cap, for the next report.
    pub(super) fn lane_dropped(&mut self, id: Uuid, lane: FullLane) {
        let id = id.hyphenated().to_string();
        match self.reports.lane_drops.iter_mut().find(|(l, _)| *l == lane) {
            Some((_, ids)) => ids.push(id),
            None => self.reports.lane_drops.push((lane, vec![id])),
        }
    }

    /// Publishes, per topic, when its oldest event in memory or in a request was
    /// logged (its UUIDv7 id's time), for the metric of the oldest undelivered age.
    /// Events on disk behind the memory window are newer than those in it, so the
    /// oldest of all is always among these.
    pub(super) fn publish_oldest(&mut self) {
        let now = Instant::now();
        let idle = self.pending.is_empty()
            && self.in_flight.batches.is_empty()
            && self.pauses.iter().all(|(_, p)| p.oldest_parked.is_none());
        let due = self
            .reports
            .oldest_published_at
            .is_none_or(|at| now >= at + OLDEST_INTERVAL);
        if idle && self.reports.oldest_published_none || !idle && !due {
            return;
        }
        let mut oldest: Vec<(u16, i64)> = Vec::new();
        let parked: Vec<(u16, uuid::Uuid)> = self
            .pauses
            .iter()
            .filter_map(|(topic, p)| p.oldest_parked.map(|id| (topic, id)))
            .collect();
        let firsts = self
            .pending
            .fronts()
            .chain(
                self.in_flight
                    .batches
                    .values()
                    .filter_map(|b| b.ids.first().map(|id| (b.lane.topic, *id))),
            )
            .chain(parked);
        for (topic, id) in firsts {
            let Some(ms) = id.get_timestamp().map(|t| {
                let (secs, nanos) = t.to_unix();
                secs as i64 * 1000 + i64::from(nanos / 1_000_000)
            }) else {
                continue;
            };
            match oldest.iter_mut().find(|(t, _)| *t == topic) {
                Some((_, at)) => *at = (*at).min(ms),
                None => oldest.push((topic, ms)),
            }
        }
        let named: Vec<(String, i64)> = oldest
            .into_iter()
            .map(|(topic, ms)| (self.topic(topic).arn.clone(), ms))
            .collect();
        self.reports.oldest_published_at = Some(now);
        self.reports.oldest_published_none = named.is_empty();
        *self.shared.oldest.lock().unwrap_or_else(|p| p.into_inner()) = named;
    }

    /// When drops waiting to be reported are due, if any are.
    pub(super) fn drops_due_at(&self) -> Option<Instant> {
        if self.reports.dropped_ids.is_empty() && self.reports.lane_drops.is_empty() {
            return None;
        }
        Some(
            self.reports
                .drops_reported_at
                .map_or_else(Instant::now, |at| at + DROP_REPORT_INTERVAL),
        )
    }

    /// Reports the drops since the last report, once [`DROP_REPORT_INTERVAL`] has
    /// passed since it (or at once with `now_anyway`: the loop ends).
    pub(super) fn report_drops(&mut self, now_anyway: bool) {
        match self.drops_due_at() {
            None => return,
            Some(due) if !now_anyway && due > Instant::now() => return,
            Some(_) => self.reports.drops_reported_at = Some(Instant::now()),
        }
        for (lane, ids) in std::mem::take(&mut self.reports.lane_drops) {
            self.shared.report(DeliveryError::new(
                ErrorCode::QueueFull,
                format!(
                    "{}; {} of its events dropped, newest first. Other lanes, and the \
                     server's own events, are not affected",
                    lane.describe(),
                    ids.len()
                ),
                ids,
            ));
        }
        if self.reports.dropped_ids.is_empty() {
            return;
        }
        let ids = std::mem::take(&mut self.reports.dropped_ids);
        let limits = if self.spooling.is_some() {
            format!("maxSpoolBytes {}", self.settings.limits.bytes)
        } else {
            format!(
                "maxQueueEvents {}, maxQueueBytes {}",
                self.settings.memory.events, self.settings.memory.bytes
            )
        };
        self.shared.report(DeliveryError::new(
            ErrorCode::QueueFull,
            format!(
                "the queue was full ({limits}); {} events dropped per overflow",
                ids.len()
            ),
            ids,
        ));
    }

    pub(super) fn answer_flushes(&mut self) {
        if self.lifecycle.flush_waiters.is_empty() {
            return;
        }
        let lowest = self.lowest_unsettled();
        if self
            .lifecycle
            .flush_waiters
            .iter()
            .any(|(seq, _)| *seq <= lowest)
        {
            // What a flush's events came to is reported before it resolves.
            self.report_drops(true);
            self.shared.report_merged(true);
        }
        let report = DeliveryReport::from_stats(self.shared.stats());
        let mut i = 0;
        while i < self.lifecycle.flush_waiters.len() {
            if self.lifecycle.flush_waiters[i].0 <= lowest {
                let (_, reply) = self.lifecycle.flush_waiters.swap_remove(i);
                reply(report);
            } else {
                i += 1;
            }
        }
    }
}

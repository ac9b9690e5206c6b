//! The loop's side of paused destinations (`delivery/pause.rs`): pausing a topic SNS
//! refused as a whole, holding its events in order, probing it with one batch at a
//! growing interval, resuming it, routing its events again when `reconfigure()` no
//! longer names it, leaving what it holds on disk (with a spool) or reporting it by id
//! at `close()`, and publishing what is paused for `stats()`.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Instant;

use uuid::Uuid;

use crate::core::delivery::batch::{QueuedEvent, NOT_IN_SPOOL};
use crate::core::delivery::batch_run::BatchOutcome;
use crate::core::delivery::lanes::LaneKey;
use crate::core::delivery::pause::DestinationFault;
use crate::core::delivery::publisher::Publisher;
use crate::core::error::{DeliveryError, DestinationState, ErrorCode};
use crate::core::telemetry::PausedDestination;
use crate::core::telemetry::Settled;

use super::in_flight::InFlightBatch;
use super::Worker;

impl<P: Publisher> Worker<P> {
    /// A batch has come back from its task (its settled events acknowledged).
    pub(super) fn batch_settled(
        &mut self,
        meta: &InFlightBatch,
        outcome: BatchOutcome,
        settled: u64,
        returned: Vec<QueuedEvent>,
    ) {
        let topic = meta.lane.topic;
        if meta.probe {
            return self.probe_settled(meta, outcome, settled, returned);
        }
        let Some(refusal) = outcome.refused else {
            return;
        };
        if self.routes.retired.contains(&topic) {
            // Refused by a destination the options no longer name: route them again.
            return self.route_again(returned);
        }
        if self.pauses.get(topic).is_none() {
            self.pause(topic, refusal);
        }
        self.requeue(&meta.lane, returned, false);
        self.after_refusal(topic);
    }

    /// What follows a refusal of `topic` once its events are back in its lanes: routed
    /// again if the options do not name it, given up if `close()` has given up on it.
    fn after_refusal(&mut self, topic: u16) {
        if !self.routes.routing.router.names(topic) {
            self.retire(topic);
        } else if self.pauses.get(topic).is_some_and(|p| p.given_up) {
            self.give_up_held(topic);
        }
    }

    /// Pauses `topic`: its lanes start no batch but probes, what they hold is held,
    /// and `onError` hears of it once.
    fn pause(&mut self, topic: u16, refusal: DestinationFault) {
        let now = Instant::now();
        self.pauses.pause(topic, refusal.clone(), now);
        if self.lifecycle.closing.is_some() {
            self.pauses.probe_now(topic, now);
        }
        let n = self.pending.set_paused(topic, true);
        self.count_held(topic, n);
        let arn = self.topic(topic).arn.clone();
        self.shared.report(DeliveryError {
            destination: Some(DestinationState {
                topic_arn: arn.clone(),
                aws_code: refusal.code.clone(),
                aws_message: refusal.message.clone(),
                held: n,
            }),
            ..DeliveryError::new(
                ErrorCode::DestinationUnavailable,
                format!(
                    "SNS refused the topic {arn} as a whole ({}: {}); its events are held{} and \
                     sent again once a probe passes (at most about a minute after the fix) \
                     or at once on reconfigure(); other topics go on",
                    refusal.code,
                    refusal.message,
                    if self.spooling.is_some() {
                        " on disk"
                    } else {
                        " in memory, within maxQueueEvents and maxQueueBytes,"
                    }
                ),
                Vec::new(),
            )
        });
    }

    fn count_held(&mut self, topic: u16, n: u64) {
        if n > 0 {
            self.pauses.add_held(topic, n);
            self.shared.ledger.hold(n);
        }
    }

    /// Puts events handed back into `lane` where they were. `already_held`: a
    /// probe's, still counted as held.
    fn requeue(&mut self, lane: &LaneKey, events: Vec<QueuedEvent>, already_held: bool) {
        if events.is_empty() {
            return;
        }
        let n = events.len() as u64;
        let bytes: u64 = events.iter().map(|q| q.event.queued_bytes() as u64).sum();
        self.window.add(n, bytes);
        self.shared
            .undispatched
            .fetch_add(n as i64, Ordering::AcqRel);
        let ordered = self.topic(lane.topic).fifo;
        let paused = self.pending.requeue(lane.clone(), ordered, events);
        if paused && !already_held {
            self.count_held(lane.topic, n);
        }
    }

    /// Starts the probes that are due, while there is room for a batch.
    pub(super) fn probe(&mut self, now: Instant) {
        if self.pauses.is_empty() {
            return;
        }
        for topic in self.pauses.due(now) {
            if self.in_flight.tasks.len() >= self.settings.max_in_flight {
                return;
            }
            let Some((lane, batch)) = self.pending.take_probe(topic, self.settings.max_batch_size)
            else {
                self.pauses.probe_postponed(topic, now);
                continue;
            };
            self.pauses.probe_started(topic, batch.len() as u64);
            self.start_batch(lane, batch, true);
        }
    }

    /// When the loop must wake for a probe, if one waits for its time (not for a slot:
    /// a batch that ends wakes the loop anyway).
    pub(super) fn probe_at(&self) -> Option<Instant> {
        if self.in_flight.tasks.len() >= self.settings.max_in_flight {
            return None;
        }
        self.pauses.next_probe_at()
    }

    fn probe_settled(
        &mut self,
        meta: &InFlightBatch,
        outcome: BatchOutcome,
        settled: u64,
        returned: Vec<QueuedEvent>,
    ) {
        let topic = meta.lane.topic;
        let unaccounted = (meta.ids.len() as u64).saturating_sub(settled + returned.len() as u64);
        if let Some(p) = self.pauses.get_mut(topic) {
            p.probing = 0;
            p.held = p.held.saturating_sub(settled);
            // Cut off by the close deadline with a spool: on disk only, still held.
            p.parked += unaccounted;
        }
        if self.pauses.get(topic).is_none() {
            // Resumed or routed elsewhere while the probe was out: its events are not
            // held any more.
            self.shared
                .ledger
                .release_held(returned.len() as u64 + unaccounted);
            if self.routes.retired.contains(&topic) {
                return self.route_again(returned);
            }
            return self.requeue(&meta.lane, returned, true);
        }
        let refused = outcome.refused.is_some();
        self.requeue(&meta.lane, returned, true);
        if outcome.answered && !refused {
            return self.resume(topic, "a probe was taken");
        }
        // Refused, or no answer (the network): try again later. Closing, a refusal
        // gives the held events up at once; no answer waits for the next probe or the
        // deadline, as any transient failure does.
        self.pauses.probe_refused(topic, Instant::now());
        if refused && self.lifecycle.closing.is_some() {
            if let Some(p) = self.pauses.get_mut(topic) {
                p.given_up = true;
            }
        }
        self.after_refusal(topic);
    }

    /// A probe's task died: its events are failed (no spool) or left on disk.
    pub(super) fn probe_died(&mut self, topic: u16, n: u64, kept: bool) {
        if let Some(p) = self.pauses.get_mut(topic) {
            if kept {
                p.parked += n;
            } else {
                p.held = p.held.saturating_sub(n);
            }
            p.probing = 0;
        }
        self.pauses.probe_refused(topic, Instant::now());
    }

    /// `topic` takes events again: its lanes flow, what it holds is queued again (read
    /// back from disk by a rewind of the spool if some was left there), and `onError`
    /// hears of it once.
    fn resume(&mut self, topic: u16, why: &str) {
        let Some(pause) = self.pauses.resume(topic) else {
            return;
        };
        self.pending.set_paused(topic, false);
        // A probe still out keeps its events counted as held until it is back.
        self.shared
            .ledger
            .release_held(pause.held.saturating_sub(pause.probing));
        let arn = self.topic(topic).arn.clone();
        self.shared.report(DeliveryError {
            destination: Some(DestinationState {
                topic_arn: arn.clone(),
                aws_code: pause.refusal.code.clone(),
                aws_message: pause.refusal.message.clone(),
                held: pause.held,
            }),
            ..DeliveryError::new(
                ErrorCode::DestinationResumed,
                format!(
                    "the topic {arn}, paused since SNS refused it ({}), takes events again ({why}); \
                     its {} held events are being sent",
                    pause.refusal.code, pause.held
                ),
                Vec::new(),
            )
        });
        if pause.parked > 0 {
            self.rewind_spool();
        }
    }

    /// The options no longer name `topic`: what it holds is routed again by them, now
    /// and as it is read back from disk.
    fn retire(&mut self, topic: u16) {
        if !self.routes.retired.contains(&topic) {
            self.routes.retired.push(topic);
        }
        let held: Vec<QueuedEvent> = self
            .pending
            .drain_topic(topic)
            .into_iter()
            .map(|(_, q)| q)
            .collect();
        let n = held.len() as u64;
        let bytes: u64 = held.iter().map(|q| q.event.queued_bytes() as u64).sum();
        self.window.remove(n, bytes);
        self.shared
            .undispatched
            .fetch_sub(n as i64, Ordering::AcqRel);
        // Into their new lanes before a rewind of the spool looks for what is in memory.
        self.route_again(held);
        self.resume(
            topic,
            "the options no longer name it: its events are routed again",
        );
    }

    /// Routes events of a retired topic again with the current options, each to
    /// where its sequence number places it in its new lane.
    fn route_again(&mut self, events: Vec<QueuedEvent>) {
        for mut q in events {
            let (topic, group) = self.routes.routing.reroute(&q.event);
            q.event.topic = topic;
            q.event.group = group.clone();
            self.requeue(&LaneKey { topic, group }, vec![q], false);
        }
    }

    /// Whether events read back from the spool must be routed again.
    pub(super) fn routes_again(&self, topic: u16) -> bool {
        !self.routes.retired.is_empty() && self.routes.retired.contains(&topic)
    }

    /// Routes one event read from the spool again, if its topic is retired.
    pub(super) fn reroute_read(&self, event: &mut crate::core::event::EncodedEvent) {
        if self.routes_again(event.topic) {
            let (topic, group) = self.routes.routing.reroute(event);
            event.topic = topic;
            event.group = group;
        }
    }

    /// New options: a paused topic they still name is probed at once; one they do not
    /// has its events routed again; a retired topic they name again is an ordinary
    /// one again.
    pub(super) fn reconfigure_pauses(&mut self) {
        let now = Instant::now();
        let router = &self.routes.routing.router;
        self.routes.retired.retain(|&t| !router.names(t));
        for topic in self.pauses.topics() {
            if self.routes.routing.router.names(topic) {
                self.pauses.probe_now(topic, now);
            } else {
                self.retire(topic);
            }
        }
    }

    /// `close()`: every paused topic is probed once at once; a refused probe gives up
    /// what it holds rather than waiting out the deadline.
    pub(super) fn probe_before_closing(&mut self) {
        let now = Instant::now();
        for topic in self.pauses.topics() {
            self.pauses.probe_now(topic, now);
        }
    }

    /// Gives up what `topic` holds in memory: with a spool it stays there, still
    /// held, for the next logger; what is in memory only (no spool, or the spool could
    /// not take it) is failed and reported by id.
    pub(super) fn give_up_held(&mut self, topic: u16) {
        let drained = self.pending.drain_topic(topic);
        if drained.is_empty() {
            return;
        }
        let n = drained.len();
        let bytes: usize = drained.iter().map(|(_, q)| q.event.queued_bytes()).sum();
        self.window.remove(n as u64, bytes as u64);
        self.shared
            .undispatched
            .fetch_sub(n as i64, Ordering::AcqRel);
        let spooled = self.spooling.is_some();
        let mut lost = Vec::new();
        for (_, q) in drained {
            if spooled && q.segment != NOT_IN_SPOOL {
                self.pauses.parked(topic, q.seq, q.event.id);
            } else {
                lost.push(q);
            }
        }
        if lost.is_empty() {
            return;
        }
        let Some(pause) = self.pauses.get_mut(topic) else {
            return;
        };
        let n = lost.len();
        pause.held = pause.held.saturating_sub(n as u64);
        let refusal = pause.refusal.clone();
        let remaining = pause.held;
        self.shared.ledger.release_held(n as u64);
        for q in &lost {
            self.shared.ledger.settle(
                q.event.source(),
                1,
                q.event.queued_bytes() as u64,
                Settled::Failed,
            );
        }
        let arn = self.topic(topic).arn.clone();
        self.shared
            .labels
            .failed(&arn, ErrorCode::DestinationUnavailable, n);
        self.shared.report(DeliveryError {
            destination: Some(DestinationState {
                topic_arn: arn.clone(),
                aws_code: refusal.code.clone(),
                aws_message: refusal.message.clone(),
                held: remaining,
            }),
            ..DeliveryError::new(
                ErrorCode::DestinationUnavailable,
                format!(
                    "the logger closed while SNS still refused the topic {arn} ({}: {}); these {n} \
                     held events were in memory only and are lost",
                    refusal.code, refusal.message
                ),
                lost.iter().map(|q| q.event.id_string()).collect(),
            )
        });
    }

    /// Whether an event arriving for `topic` (in `segment`) must go to disk only: its
    /// topic is paused and already has events there, which are older.
    pub(super) fn parks_arrivals(&self, topic: u16, segment: u32) -> bool {
        self.spooling.is_some()
            && segment != NOT_IN_SPOOL
            && self.pauses.get(topic).is_some_and(|p| p.parked > 0)
    }

    /// With a spool: lets go of held events past one batch per paused topic (none for
    /// a topic given up at close), and of those that arrived behind events already on
    /// disk only; they stay on disk only, so that a paused topic never fills the
    /// memory window other topics need. Only once everything appended is written to
    /// the file. Returns whether it let go of any.
    pub(super) fn park_held(&mut self) -> bool {
        if self.pauses.is_empty() || self.spooling.is_none() {
            return false;
        }
        match self.spool() {
            Some(spool) if !spool.has_unwritten() => {}
            _ => return false,
        }
        let mut any = self.park_arrivals();
        for topic in self.pauses.topics() {
            let Some(p) = self.pauses.get(topic) else {
                continue;
            };
            let keep = if p.given_up {
                0
            } else {
                self.settings.max_batch_size as u64
            };
            let mut in_lanes = p.in_lanes();
            while in_lanes > keep {
                let Some(q) = self
                    .pending
                    .pop_newest(topic, |q| q.segment == NOT_IN_SPOOL)
                else {
                    break;
                };
                in_lanes -= 1;
                any = true;
                self.window.remove(1, q.event.queued_bytes() as u64);
                self.shared.undispatched.fetch_sub(1, Ordering::AcqRel);
                self.pauses.parked(topic, q.seq, q.event.id);
            }
        }
        any
    }

    /// Lets go of the events waiting to be parked (the spool file has them).
    fn park_arrivals(&mut self) -> bool {
        let arrivals = std::mem::take(&mut self.awaiting_park);
        let any = !arrivals.is_empty();
        for q in arrivals {
            self.window.remove(1, q.event.queued_bytes() as u64);
            // If its topic resumed meanwhile (no longer counted held), it is read back
            // by the rewind that came with the resume.
            self.pauses.parked(q.event.topic, q.seq, q.event.id);
        }
        any
    }

    /// Reads the spool again from its oldest unsettled record, so that events left on
    /// disk only come back in order (events in memory or in flight are skipped).
    /// Parked events of topics still paused are found again as they are read.
    fn rewind_spool(&mut self) {
        let mut in_memory: HashSet<Uuid> = self.pending.ids().collect();
        for meta in self.in_flight.batches.values() {
            in_memory.extend(meta.ids.iter().copied());
        }
        // What waits to be parked goes to disk with the rest (the rewind writes the
        // spool's buffer first), to be read back in its place.
        self.park_arrivals();
        let lowest = self.pauses.min_parked_seq;
        let unparked = self.pauses.unpark_all();
        self.shared.ledger.release_held(unparked);
        let had_backlog = self.has_backlog();
        let rewound = match self.spool() {
            Some(spool) => spool.rewind(&in_memory),
            None => return,
        };
        match rewound {
            Ok(_) => {
                if let Some(s) = self.spooling.as_mut() {
                    let before = if had_backlog {
                        s.backlog_first_seq
                    } else {
                        u64::MAX
                    };
                    s.backlog_first_seq = before.min(lowest.unwrap_or(u64::MAX)).min(self.next_seq);
                }
            }
            // Reported as any failed read of the spool: the events stay on disk.
            Err(e) => self.spool_read_failed(e),
        }
    }

    /// Publishes what is paused for `stats()` and `metrics()`, when it changed.
    pub(super) fn publish_paused(&mut self) {
        if !self.pauses.changed {
            return;
        }
        self.pauses.changed = false;
        let list: Vec<PausedDestination> = self
            .pauses
            .iter()
            .map(|(topic, p)| PausedDestination {
                topic_arn: self
                    .routes
                    .topic_cache
                    .get(topic as usize)
                    .map(|t| t.arn.clone())
                    .unwrap_or_default(),
                aws_code: p.refusal.code.clone(),
                aws_message: p.refusal.message.clone(),
                since: p.since,
                held: p.held,
            })
            .collect();
        match self.shared.paused.lock() {
            Ok(mut paused) => *paused = list,
            Err(poisoned) => *poisoned.into_inner() = list,
        }
    }
}

//! Batches in flight: starting one as a task, and settling it when its task ends
//! (or dies), with what that means for lanes, the spool and flushes.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;

use tokio::task::{Id as TaskId, JoinSet};
use uuid::Uuid;

use crate::core::delivery::batch::QueuedEvent;
use crate::core::delivery::batch_run::BatchOutcome;
use crate::core::delivery::deliver::{deliver_batch, BatchTarget};
use crate::core::delivery::lanes::LaneKey;
use crate::core::delivery::publisher::Publisher;
use crate::core::error::{DeliveryError, ErrorCode};
use crate::core::event::{EncodedEvent, SourceKey};
use crate::core::telemetry::tally;
use crate::core::telemetry::Settled;

use super::Worker;

/// The batches in flight: their tasks, what the loop remembers of each, and the first
/// sequence number of each but probes (a multiset: seq -> count), for `flush()`,
/// which does not wait for held events.
#[derive(Default)]
pub(super) struct InFlight {
    pub(super) tasks: JoinSet<BatchOutcome>,
    pub(super) batches: HashMap<TaskId, InFlightBatch>,
    pub(super) firsts: BTreeMap<u64, usize>,
}

/// What the loop remembers of a batch in flight, to free its lane, to acknowledge its
/// events in the spool, and to settle it if its task dies.
pub(super) struct InFlightBatch {
    pub(super) lane: LaneKey,
    pub(super) first_seq: u64,
    pub(super) ids: Vec<Uuid>,
    pub(super) segments: Vec<u32>,
    /// Sequence numbers, to put events handed back where they were.
    pub(super) seqs: Vec<u64>,
    pub(super) bytes: usize,
    /// Its events and bytes by lane, to release them if its task dies.
    pub(super) by_source: Vec<(SourceKey, u64, u64)>,
    /// A paused destination's probe.
    pub(super) probe: bool,
}

impl<P: Publisher> Worker<P> {
    pub(super) fn start_batch(&mut self, lane: LaneKey, batch: Vec<QueuedEvent>, probe: bool) {
        let n = batch.len();
        self.shared
            .undispatched
            .fetch_sub(n as i64, Ordering::AcqRel);
        self.shared.ledger.send(n as u64);
        let meta = InFlightBatch {
            lane: lane.clone(),
            first_seq: batch[0].seq,
            ids: batch.iter().map(|q| q.event.id).collect(),
            segments: batch.iter().map(|q| q.segment).collect(),
            seqs: batch.iter().map(|q| q.seq).collect(),
            bytes: batch.iter().map(|q| q.event.queued_bytes()).sum(),
            by_source: tally(
                batch
                    .iter()
                    .map(|q| (q.event.source(), q.event.queued_bytes() as u64)),
            ),
            probe,
        };
        if !probe {
            *self.in_flight.firsts.entry(meta.first_seq).or_default() += 1;
        }
        let events: Vec<EncodedEvent> = batch.into_iter().map(|q| q.event).collect();
        let foreign = self.routes.foreign_topics.contains(&lane.topic)
            && !self.routes.routing.router.names(lane.topic);
        let target = BatchTarget {
            topic: self.topic(lane.topic).clone(),
            group: lane.group.clone(),
            probe,
            foreign,
        };
        let task = deliver_batch(
            self.publisher.clone(),
            self.context.clone(),
            self.shared.clone(),
            target,
            events,
        );
        let handle = self.in_flight.tasks.spawn(task);
        self.in_flight.batches.insert(handle.id(), meta);
    }

    pub(super) fn settle(
        &mut self,
        joined: Result<(TaskId, BatchOutcome), tokio::task::JoinError>,
    ) {
        let id = match &joined {
            Ok((id, _)) => *id,
            Err(e) => e.id(),
        };
        let Some(meta) = self.in_flight.batches.remove(&id) else {
            return;
        };
        self.pending.finished(&meta.lane);
        self.window.remove(meta.ids.len() as u64, meta.bytes as u64);
        if !meta.probe {
            if let Some(count) = self.in_flight.firsts.get_mut(&meta.first_seq) {
                *count -= 1;
                if *count == 0 {
                    self.in_flight.firsts.remove(&meta.first_seq);
                }
            }
        }
        match joined {
            Ok((_, mut outcome)) => {
                let acks: Vec<(Uuid, u32)> = meta
                    .ids
                    .iter()
                    .zip(&meta.segments)
                    .zip(&outcome.settled)
                    .filter(|(_, s)| **s)
                    .map(|((id, seg), _)| (*id, *seg))
                    .collect();
                self.ack(&acks);
                let settled = acks.len() as u64;
                let returned = std::mem::take(&mut outcome.returned)
                    .into_iter()
                    .map(|(i, event)| QueuedEvent {
                        seq: meta.seqs[i],
                        seen: std::time::Instant::now(),
                        event,
                        segment: meta.segments[i],
                    })
                    .collect();
                self.batch_settled(&meta, outcome, settled, returned);
            }
            Err(e) => {
                // The task settles its own events; one that died settled none of them.
                // A spool keeps them for the next start.
                let kept = self.spool().is_some();
                if !kept {
                    let topic = self.topic(meta.lane.topic).arn.clone();
                    self.shared
                        .labels
                        .failed(&topic, ErrorCode::Internal, meta.ids.len());
                }
                let ledger = &self.shared.ledger;
                let n = meta.ids.len();
                ledger.answered(n as u64);
                if !kept {
                    if meta.probe {
                        ledger.release_held(n as u64);
                    }
                    for (source, events, bytes) in &meta.by_source {
                        ledger.settle(source.as_source(), *events, *bytes, Settled::Failed);
                    }
                }
                if meta.probe {
                    self.probe_died(meta.lane.topic, n as u64, kept);
                }
                self.shared.report(DeliveryError::new(
                    ErrorCode::Internal,
                    format!(
                        "a delivery task stopped unexpectedly: {e}{}",
                        if kept {
                            "; its events stay in the spool for the next start"
                        } else {
                            ""
                        }
                    ),
                    meta.ids
                        .iter()
                        .map(|u| u.hyphenated().to_string())
                        .collect(),
                ));
            }
        }
    }

    /// The lowest sequence number not yet delivered or failed, held events aside.
    pub(super) fn lowest_unsettled(&self) -> u64 {
        let queued = self.pending.oldest_seq().unwrap_or(u64::MAX);
        let flying = self
            .in_flight
            .firsts
            .keys()
            .next()
            .copied()
            .unwrap_or(u64::MAX);
        let on_disk = match &self.spooling {
            Some(s) if self.has_backlog() && !self.lifecycle.deadline_passed => s.backlog_first_seq,
            _ => u64::MAX,
        };
        queued.min(flying).min(on_disk).min(self.next_seq)
    }
}

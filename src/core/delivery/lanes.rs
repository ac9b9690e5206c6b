//! The delivery loop's queue, split into lanes: one per topic and FIFO message group.
//! A batch comes from one lane, so it never mixes topics or groups; an ordered lane
//! (a FIFO topic's group) has at most one batch in flight, which keeps its events in
//! `log()` order while other lanes (other topics, other rooms) publish in parallel.
//! A paused topic's lanes keep their events, in order, and start no batch but the
//! probe the loop asks for.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::batch::{take_batch, QueuedEvent};

/// Where a batch may come from: one topic, one message group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LaneKey {
    pub topic: u16,
    /// `None`: the site's group (or no group, on a standard topic).
    pub group: Option<Box<str>>,
}

#[derive(Debug)]
struct Lane {
    queue: VecDeque<QueuedEvent>,
    in_flight: usize,
    /// FIFO: one batch at a time.
    ordered: bool,
    /// Its topic is paused: its events are held.
    paused: bool,
}

impl Lane {
    fn free(&self) -> bool {
        !self.paused && (!self.ordered || self.in_flight == 0)
    }
}

/// Every queued event, by lane. Lanes that are empty and idle are removed, so the
/// scans below cost one step per lane with work.
#[derive(Debug, Default)]
pub struct Lanes {
    lanes: HashMap<LaneKey, Lane>,
    len: usize,
    /// Topics whose lanes are paused, for lanes created while they are.
    paused_topics: Vec<u16>,
}

impl Lanes {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Queues `event` last in its lane; says whether the lane is paused (the event is
    /// then held).
    pub fn push(&mut self, key: LaneKey, ordered: bool, event: QueuedEvent) -> bool {
        let lane = self.lane(key, ordered);
        lane.queue.push_back(event);
        let paused = lane.paused;
        self.len += 1;
        paused
    }

    fn lane(&mut self, key: LaneKey, ordered: bool) -> &mut Lane {
        let paused_topics = &self.paused_topics;
        self.lanes.entry(key).or_insert_with_key(|key| Lane {
            queue: VecDeque::new(),
            in_flight: 0,
            ordered,
            paused: !paused_topics.is_empty() && paused_topics.contains(&key.topic),
        })
    }

    /// Puts events back into their lane where their sequence numbers place them (a
    /// batch handed back, events routed again); says whether the lane is paused.
    pub fn requeue(&mut self, key: LaneKey, ordered: bool, events: Vec<QueuedEvent>) -> bool {
        let n = events.len();
        let lane = self.lane(key, ordered);
        insert_sorted(&mut lane.queue, events);
        let paused = lane.paused;
        self.len += n;
        paused
    }

    /// Pauses or resumes every lane of `topic`, and lanes it gets later; returns how
    /// many events its lanes hold.
    pub fn set_paused(&mut self, topic: u16, paused: bool) -> u64 {
        self.paused_topics.retain(|&t| t != topic);
        if paused {
            self.paused_topics.push(topic);
        }
        let mut n = 0;
        for (key, lane) in &mut self.lanes {
            if key.topic == topic {
                lane.paused = paused;
                n += lane.queue.len() as u64;
            }
        }
        n
    }

    /// One batch of a paused `topic`'s oldest events, to probe it with: from the lane
    /// with the oldest event among those that can start a batch.
    pub fn take_probe(
        &mut self,
        topic: u16,
        max_batch: usize,
    ) -> Option<(LaneKey, Vec<QueuedEvent>)> {
        let key = self
            .lanes
            .iter()
            .filter(|(k, l)| k.topic == topic && (!l.ordered || l.in_flight == 0))
            .filter_map(|(k, l)| l.queue.front().map(|q| (k, q.seq)))
            .min_by_key(|(_, seq)| *seq)
            .map(|(k, _)| k.clone())?;
        let lane = self.lanes.get_mut(&key)?;
        let batch = take_batch(&mut lane.queue, max_batch);
        lane.in_flight += 1;
        self.len -= batch.len();
        Some((key, batch))
    }

    /// Removes every queued event of `topic`, oldest first.
    pub fn drain_topic(&mut self, topic: u16) -> Vec<(LaneKey, QueuedEvent)> {
        let mut out = Vec::new();
        self.lanes.retain(|key, lane| {
            if key.topic != topic {
                return true;
            }
            out.extend(lane.queue.drain(..).map(|q| (key.clone(), q)));
            lane.in_flight > 0
        });
        self.len -= out.len();
        out.sort_by_key(|(_, q)| q.seq);
        out
    }

    /// Removes the newest queued event of `topic` if `keep_in_memory` does not say
    /// it must stay (to leave it on disk only).
    pub fn pop_newest(
        &mut self,
        topic: u16,
        keep_in_memory: impl Fn(&QueuedEvent) -> bool,
    ) -> Option<QueuedEvent> {
        let key = self
            .lanes
            .iter()
            .filter(|(k, _)| k.topic == topic)
            .filter_map(|(k, l)| l.queue.back().map(|q| (k, q.seq)))
            .max_by_key(|(_, seq)| *seq)
            .map(|(k, _)| k.clone())?;
        let lane = self.lanes.get_mut(&key)?;
        if keep_in_memory(lane.queue.back()?) {
            return None;
        }
        let event = lane.queue.pop_back();
        if lane.queue.is_empty() && lane.in_flight == 0 {
            self.lanes.remove(&key);
        }
        self.len -= usize::from(event.is_some());
        event
    }

    /// Each lane's topic and its first event's id: its oldest.
    pub fn fronts(&self) -> impl Iterator<Item = (u16, uuid::Uuid)> + '_ {
        self.lanes
            .iter()
            .filter_map(|(key, l)| l.queue.front().map(|q| (key.topic, q.event.id)))
    }

    /// Every queued event's id.
    pub fn ids(&self) -> impl Iterator<Item = uuid::Uuid> + '_ {
        self.lanes
            .values()
            .flat_map(|l| l.queue.iter().map(|q| q.event.id))
    }

    /// True if some lane could start a batch now, or no lane exists yet.
    pub fn any_free(&self) -> bool {
        self.lanes.is_empty() || self.lanes.values().any(Lane::free)
    }

    /// The next batch to send: from the free lane with the oldest event among those
    /// that are full or due (waited `flush_interval`, or below `force_below`). The
    /// lane counts it as in flight until [`Lanes::finished`].
    pub fn take_ready(
        &mut self,
        now: Instant,
        flush_interval: Duration,
        force_below: u64,
        max_batch: usize,
    ) -> Option<(LaneKey, Vec<QueuedEvent>)> {
        let (key, _) = self
            .lanes
            .iter()
            .filter(|(_, lane)| lane.free())
            .filter_map(|(key, lane)| {
                let first = lane.queue.front()?;
                let full = lane.queue.len() >= max_batch;
                let due = now >= first.seen + flush_interval || first.seq < force_below;
                (full || due).then_some((key, first.seq))
            })
            .min_by_key(|(_, seq)| *seq)?;
        let key = key.clone();
        let lane = self.lanes.get_mut(&key)?;
        let batch = take_batch(&mut lane.queue, max_batch);
        lane.in_flight += 1;
        self.len -= batch.len();
        Some((key, batch))
    }

    /// A batch of `key`'s has settled.
    pub fn finished(&mut self, key: &LaneKey) {
        if let Some(lane) = self.lanes.get_mut(key) {
            lane.in_flight = lane.in_flight.saturating_sub(1);
            if lane.in_flight == 0 && lane.queue.is_empty() {
                self.lanes.remove(key);
            }
        }
    }

    /// When the oldest event of a free lane becomes due.
    pub fn next_due(&self, flush_interval: Duration) -> Option<Instant> {
        self.lanes
            .values()
            .filter(|l| l.free())
            .filter_map(|l| l.queue.front())
            .map(|q| q.seen + flush_interval)
            .min()
    }

    /// The sequence number of the oldest queued event that is not held.
    pub fn oldest_seq(&self) -> Option<u64> {
        self.lanes
            .values()
            .filter(|l| !l.paused)
            .filter_map(|l| l.queue.front())
            .map(|q| q.seq)
            .min()
    }

    /// Removes the oldest queued event, held or not (for `overflow: 'dropOldest'`).
    pub fn pop_oldest(&mut self) -> Option<QueuedEvent> {
        let key = self
            .lanes
            .iter()
            .filter_map(|(k, l)| l.queue.front().map(|q| (k, q.seq)))
            .min_by_key(|(_, seq)| *seq)
            .map(|(k, _)| k.clone())?;
        let lane = self.lanes.get_mut(&key)?;
        let event = lane.queue.pop_front();
        if lane.queue.is_empty() && lane.in_flight == 0 {
            self.lanes.remove(&key);
        }
        self.len -= usize::from(event.is_some());
        event
    }

    /// Removes every queued event, lanes in any order, each lane in its order.
    pub fn drain(&mut self) -> Vec<QueuedEvent> {
        let mut out = Vec::with_capacity(self.len);
        self.lanes.retain(|_, lane| {
            out.extend(lane.queue.drain(..));
            lane.in_flight > 0
        });
        self.len = 0;
        out
    }
}

/// Puts `events` back where their sequence numbers place them in `queue` (ordered by
/// them): a batch handed back goes before what was queued after it. Handed-back
/// batches are older than everything queued, so this is almost always a push at the
/// front; anything else merges the queue once.
fn insert_sorted(queue: &mut VecDeque<QueuedEvent>, mut events: Vec<QueuedEvent>) {
    events.sort_by_key(|q| q.seq);
    let Some(last) = events.last() else {
        return;
    };
    if queue.front().is_none_or(|front| last.seq < front.seq) {
        for q in events.into_iter().rev() {
            queue.push_front(q);
        }
        return;
    }
    let queued: Vec<QueuedEvent> = queue.drain(..).collect();
    let mut queued = queued.into_iter().peekable();
    let mut events = events.into_iter().peekable();
    loop {
        let next = match (queued.peek(), events.peek()) {
            (Some(q), Some(e)) if q.seq < e.seq => queued.next(),
            (Some(_), None) => queued.next(),
            (_, Some(_)) => events.next(),
            (None, None) => break,
        };
        queue.extend(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::testing::event_with_body_len;

    fn key(topic: u16, group: Option<&str>) -> LaneKey {
        LaneKey {
            topic,
            group: group.map(Into::into),
        }
    }

    fn queued(seq: u64, seen: Instant) -> QueuedEvent {
        QueuedEvent {
            seq,
            seen,
            event: event_with_body_len(10),
            segment: 0,
        }
    }

    #[test]
    fn ordered_lanes_send_one_batch_at_a_time_and_others_in_parallel() {
        let t0 = Instant::now();
        let mut lanes = Lanes::default();
        for seq in 0..4 {
            let room = if seq % 2 == 0 { "r1" } else { "r2" };
            lanes.push(key(0, Some(room)), true, queued(seq, t0));
        }
        lanes.push(key(1, None), false, queued(4, t0));
        lanes.push(key(1, None), false, queued(5, t0));
        let due = t0 + Duration::from_secs(1);
        let take = |lanes: &mut Lanes| {
            lanes
                .take_ready(due, Duration::from_millis(10), 0, 1)
                .map(|(k, b)| (k, b[0].seq))
        };
        assert_eq!(take(&mut lanes), Some((key(0, Some("r1")), 0)));
        assert_eq!(take(&mut lanes), Some((key(0, Some("r2")), 1)));
        // Both rooms are busy: the standard topic goes, twice in parallel.
        assert_eq!(take(&mut lanes), Some((key(1, None), 4)));
        assert_eq!(take(&mut lanes), Some((key(1, None), 5)));
        assert_eq!(take(&mut lanes), None);
        assert_eq!(
            lanes.next_due(Duration::ZERO),
            None,
            "no free lane has events"
        );
        lanes.finished(&key(0, Some("r2")));
        assert_eq!(take(&mut lanes), Some((key(0, Some("r2")), 3)));
        lanes.finished(&key(0, Some("r1")));
        assert_eq!(lanes.len(), 1);
        assert_eq!(lanes.oldest_seq(), Some(2));
        assert_eq!(lanes.pop_oldest().map(|q| q.seq), Some(2));
        assert!(lanes.is_empty());
        lanes.finished(&key(0, Some("r2")));
        lanes.finished(&key(1, None));
        lanes.finished(&key(1, None));
        assert!(lanes.lanes.is_empty(), "idle empty lanes are removed");
    }

    #[test]
    fn a_paused_topic_holds_its_events_and_gives_only_probes() {
        let t0 = Instant::now();
        let due = t0 + Duration::from_secs(1);
        let mut lanes = Lanes::default();
        for seq in 0..25 {
            assert!(!lanes.push(key(0, None), true, queued(seq, t0)));
        }
        lanes.push(key(1, None), false, queued(25, t0));
        assert_eq!(lanes.set_paused(0, true), 25);
        assert!(
            lanes.push(key(0, Some("r")), true, queued(26, t0)),
            "a new lane is paused too"
        );
        let (k, b) = lanes.take_ready(due, Duration::ZERO, u64::MAX, 10).unwrap();
        assert_eq!(
            (k, b[0].seq),
            (key(1, None), 25),
            "only the other topic flows"
        );
        assert!(lanes
            .take_ready(due, Duration::ZERO, u64::MAX, 10)
            .is_none());
        assert_eq!(lanes.oldest_seq(), None, "held events are not waited for");
        assert_eq!(lanes.next_due(Duration::ZERO), None);
        let (k, probe) = lanes.take_probe(0, 10).unwrap();
        assert_eq!(k, key(0, None));
        assert_eq!(
            probe.iter().map(|q| q.seq).collect::<Vec<_>>(),
            (0..10).collect::<Vec<_>>()
        );
        assert!(
            lanes.take_probe(0, 10).unwrap().1[0].seq == 26,
            "the other lane is free"
        );
        // The probe comes back: its events go first again.
        lanes.finished(&key(0, None));
        lanes.requeue(key(0, None), true, probe);
        let newest = lanes.pop_newest(0, |q| q.seq == 24);
        assert!(newest.is_none(), "kept in memory when told to");
        assert_eq!(lanes.pop_newest(0, |_| false).map(|q| q.seq), Some(24));
        assert_eq!(lanes.set_paused(0, false), 24);
        let drained: Vec<u64> = lanes.drain_topic(0).iter().map(|(_, q)| q.seq).collect();
        assert_eq!(drained, (0..24).collect::<Vec<_>>());
    }

    #[test]
    fn requeued_events_take_their_places_by_sequence_number() {
        let t0 = Instant::now();
        let mut lanes = Lanes::default();
        for seq in [3, 5, 9] {
            lanes.push(key(0, None), false, queued(seq, t0));
        }
        lanes.requeue(
            key(0, None),
            false,
            vec![queued(1, t0), queued(4, t0), queued(10, t0)],
        );
        let order: Vec<u64> = lanes.drain().iter().map(|q| q.seq).collect();
        assert_eq!(order, [1, 3, 4, 5, 9, 10]);
    }

    #[test]
    fn partial_batches_wait_for_the_interval_or_a_flush() {
        let t0 = Instant::now();
        let mut lanes = Lanes::default();
        lanes.push(key(0, None), true, queued(0, t0));
        let interval = Duration::from_secs(1);
        assert!(lanes.take_ready(t0, interval, 0, 10).is_none());
        assert_eq!(lanes.next_due(interval), Some(t0 + interval));
        assert!(
            lanes.take_ready(t0, interval, 1, 10).is_some(),
            "flush forces it"
        );
    }
}

//! Cutting the queue into PublishBatch requests within SNS's limits.

use std::time::Instant;

use crate::core::event::{EncodedEvent, MAX_MESSAGE_BYTES};
use std::collections::VecDeque;

/// SNS PublishBatch takes at most ten entries per request.
pub const MAX_EVENTS: usize = 10;
/// SNS PublishBatch takes at most 256 KiB of messages (with attributes) per request:
/// the same cap as one message, so one event always fits a batch of its own.
pub const MAX_BYTES: usize = MAX_MESSAGE_BYTES;

/// The segment of an event in memory only, with a spool that could not take it: it
/// cannot be left to the spool (nor acknowledged in one of its segments).
pub const NOT_IN_SPOOL: u32 = u32::MAX;

/// An event in the logger's queue, numbered in `log()` order so that `flush()` can tell
/// which events it waits for.
#[derive(Debug)]
pub struct QueuedEvent {
    pub seq: u64,
    /// When the delivery loop took it in; `flushIntervalMs` counts from here.
    pub seen: Instant,
    pub event: EncodedEvent,
    /// Its spool segment (0 without a spool, [`NOT_IN_SPOOL`] if the spool could not
    /// take it), to acknowledge it there once settled.
    pub segment: u32,
}

/// Takes the longest prefix of `queue` that fits in one request: at most `max_events`
/// (itself at most [`MAX_EVENTS`]) entries and [`MAX_BYTES`] bytes. Every event alone
/// fits, because `log()` refuses messages over the SNS limit.
pub fn take_batch(queue: &mut VecDeque<QueuedEvent>, max_events: usize) -> Vec<QueuedEvent> {
    let max_events = max_events.clamp(1, MAX_EVENTS);
    let mut bytes = 0;
    let mut count = 0;
    for q in queue.iter().take(max_events) {
        let size = q.event.message_bytes();
        if count > 0 && bytes + size > MAX_BYTES {
            break;
        }
        bytes += size;
        count += 1;
    }
    queue.drain(..count).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::testing::event_with_body_len;

    fn queue(sizes: &[usize]) -> VecDeque<QueuedEvent> {
        let mut queue = VecDeque::new();
        for (i, &len) in sizes.iter().enumerate() {
            queue.push_back(QueuedEvent {
                seq: i as u64,
                seen: Instant::now(),
                event: event_with_body_len(len),
                segment: 0,
            });
        }
        queue
    }

    #[test]
    fn takes_at_most_max_events_in_order() {
        let mut q = queue(&[10; 25]);
        let b = take_batch(&mut q, 10);
        assert_eq!(
            b.iter().map(|e| e.seq).collect::<Vec<_>>(),
            (0..10).collect::<Vec<_>>()
        );
        assert_eq!(take_batch(&mut q, 4).len(), 4);
        assert_eq!(q.front().unwrap().seq, 14);
        assert_eq!(take_batch(&mut q, 99).len(), 10, "clamped to the SNS limit");
    }

    #[test]
    fn cuts_before_the_byte_limit() {
        let mut q = queue(&[100_000, 100_000, 100_000, 10]);
        let b = take_batch(&mut q, 10);
        assert_eq!(b.len(), 2);
        let total: usize = b.iter().map(|e| e.event.message_bytes()).sum();
        assert!(total <= MAX_BYTES);
        assert_eq!(take_batch(&mut q, 10).len(), 2);
        assert!(q.is_empty());
        assert!(take_batch(&mut q, 10).is_empty());
    }

    /// Every queued event costs this much beside its text, a million times over in a
    /// full queue: a new field should be a choice, not an accident.
    #[test]
    fn a_queued_event_is_120_bytes() {
        assert_eq!(std::mem::size_of::<QueuedEvent>(), 120);
    }
}

//! A first-in first-out queue kept in blocks that never move: the lanes' queue.
//!
//! Why not `VecDeque`: a `VecDeque` grows by allocating twice its size and copying
//! every element across, and never shrinks. While a burst outpaced delivery, the
//! lanes' queues grew to tens of thousands of events that way: a copy of the whole
//! queue at each doubling, fresh pages faulted in for each new buffer, and up to half
//! of the last buffer unused (perf of `npm run bench -- --tail`, docs/performance.md).
//! Here a full block stays where it is and a new one is linked after it; a block
//! emptied at the front is kept as the next spare, so a queue that fills and drains
//! in turn allocates nothing. Blocks start small, so that the many one-event lanes of
//! `messageGroup: 'room'` stay small.

use std::collections::VecDeque;

/// The largest block, in elements. For the delivery loop's queued events (about 130
/// bytes each) a block is about 4 KiB: at most that is unused per lane.
const MAX_BLOCK: usize = 32;
/// The first block of a queue, in elements; each next one is twice as large, up to
/// [`MAX_BLOCK`].
const FIRST_BLOCK: usize = 4;

/// A FIFO queue whose elements never move once pushed.
#[derive(Debug)]
pub struct BlockQueue<T> {
    /// Each block is a `VecDeque` made with its final capacity: it is filled to that
    /// capacity and never asked to grow.
    blocks: VecDeque<VecDeque<T>>,
    len: usize,
    /// The block last emptied, kept for the next one needed.
    spare: Option<VecDeque<T>>,
}

impl<T> Default for BlockQueue<T> {
    fn default() -> Self {
        BlockQueue {
            blocks: VecDeque::new(),
            len: 0,
            spare: None,
        }
    }
}

impl<T> BlockQueue<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push_back(&mut self, value: T) {
        let full = self
            .blocks
            .back()
            .is_none_or(|block| block.len() == block.capacity());
        if full {
            let size = self
                .blocks
                .back()
                .map_or(FIRST_BLOCK, |block| (block.capacity() * 2).min(MAX_BLOCK));
            let block = match self.spare.take() {
                Some(spare) if spare.capacity() >= size => spare,
                _ => VecDeque::with_capacity(size),
            };
            self.blocks.push_back(block);
        }
        if let Some(block) = self.blocks.back_mut() {
            block.push_back(value);
            self.len += 1;
        }
    }

    pub fn front(&self) -> Option<&T> {
        self.blocks.front().and_then(VecDeque::front)
    }

    pub fn pop_front(&mut self) -> Option<T> {
        let block = self.blocks.front_mut()?;
        let value = block.pop_front()?;
        self.len -= 1;
        if block.is_empty() {
            let emptied = self.blocks.pop_front();
            self.keep_spare(emptied);
        }
        Some(value)
    }

    pub fn back(&self) -> Option<&T> {
        self.blocks.back().and_then(VecDeque::back)
    }

    /// Removes the newest element (the spool's overflow takes it to disk only).
    pub fn pop_back(&mut self) -> Option<T> {
        let block = self.blocks.back_mut()?;
        let value = block.pop_back()?;
        self.len -= 1;
        if block.is_empty() {
            let emptied = self.blocks.pop_back();
            self.keep_spare(emptied);
        }
        Some(value)
    }

    /// Puts `values` back where `key` places them, in a queue ordered by `key`: a
    /// batch handed back goes before what was queued after it. Handed-back batches
    /// are older than everything queued, so this is almost always a push at the
    /// front; anything else merges the whole queue once, which only a second failed
    /// batch overtaking the first causes.
    pub fn insert_sorted<K: Ord>(&mut self, mut values: Vec<T>, key: impl Fn(&T) -> K) {
        values.sort_by_key(|v| key(v));
        let (Some(first), Some(last)) = (values.first(), values.last()) else {
            return;
        };
        if self.back().is_none_or(|back| key(back) < key(first)) {
            values.into_iter().for_each(|v| self.push_back(v));
        } else if self.front().is_some_and(|front| key(last) < key(front)) {
            let n = values.len();
            for v in values.into_iter().rev() {
                self.push_front(v, n);
            }
        } else {
            let queued: Vec<T> = self.drain().collect();
            let mut queued = queued.into_iter().peekable();
            let mut values = values.into_iter().peekable();
            loop {
                let take_queued = match (queued.peek(), values.peek()) {
                    (Some(q), Some(v)) => key(q) < key(v),
                    (Some(_), None) => true,
                    (None, Some(_)) => false,
                    (None, None) => break,
                };
                let next = if take_queued {
                    queued.next()
                } else {
                    values.next()
                };
                if let Some(v) = next {
                    self.push_back(v);
                }
            }
        }
    }

    /// Pushes at the front, into the front block's room if it has any, else into a
    /// new block sized for the `expected` elements pushed there together.
    fn push_front(&mut self, value: T, expected: usize) {
        let room = self
            .blocks
            .front()
            .is_some_and(|block| block.len() < block.capacity());
        if !room {
            let size = expected.clamp(FIRST_BLOCK, MAX_BLOCK);
            let block = match self.spare.take() {
                Some(spare) if spare.capacity() >= size => spare,
                other => {
                    self.spare = other;
                    VecDeque::with_capacity(size)
                }
            };
            self.blocks.push_front(block);
        }
        if let Some(block) = self.blocks.front_mut() {
            block.push_front(value);
            self.len += 1;
        }
    }

    /// Keeps the larger of the current spare and `emptied` as the spare.
    fn keep_spare(&mut self, emptied: Option<VecDeque<T>>) {
        if self.spare.as_ref().map_or(0, VecDeque::capacity)
            < emptied.as_ref().map_or(0, VecDeque::capacity)
        {
            self.spare = emptied;
        }
    }

    /// The elements in order, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.blocks.iter().flatten()
    }

    /// Removes the first `n` elements (all of them if fewer), in order.
    pub fn take_front(&mut self, n: usize) -> Vec<T> {
        let n = n.min(self.len);
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            match self.pop_front() {
                Some(value) => out.push(value),
                None => break,
            }
        }
        out
    }

    /// Removes every element, in order, and frees the blocks.
    pub fn drain(&mut self) -> impl Iterator<Item = T> {
        self.len = 0;
        self.spare = None;
        std::mem::take(&mut self.blocks).into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Push(u32),
        Pop,
        PopBack,
        /// Values put back in order (the queue's values are kept ordered in the test).
        Requeue(Vec<u32>),
        Take(usize),
        Drain,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => any::<u32>().prop_map(Op::Push),
            3 => Just(Op::Pop),
            1 => Just(Op::PopBack),
            1 => proptest::collection::vec(any::<u32>(), 0..40).prop_map(Op::Requeue),
            1 => (0usize..80).prop_map(Op::Take),
            1 => Just(Op::Drain),
        ]
    }

    /// Blocks hold their elements without growing: no element ever moves.
    fn blocks_never_grew<T>(q: &BlockQueue<T>) -> bool {
        q.blocks
            .iter()
            .all(|b| b.len() <= b.capacity() && b.capacity() <= MAX_BLOCK.max(FIRST_BLOCK))
            && q.blocks.iter().map(VecDeque::len).sum::<usize>() == q.len
            && q.blocks.iter().all(|b| !b.is_empty())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::core::fuzz_cases(512)))]

        /// Any sequence of operations does what it does to a `VecDeque`.
        #[test]
        fn behaves_as_a_vecdeque(ops in proptest::collection::vec(op(), 0..400)) {
            let mut q = BlockQueue::default();
            let mut model = VecDeque::new();
            for op in ops {
                match op {
                    Op::Push(v) => {
                        q.push_back(v);
                        model.push_back(v);
                    }
                    Op::Pop => prop_assert_eq!(q.pop_front(), model.pop_front()),
                    Op::PopBack => prop_assert_eq!(q.pop_back(), model.pop_back()),
                    Op::Requeue(values) => {
                        // insert_sorted's contract is a queue ordered by key: order
                        // both first, then merge as a sorted model would.
                        let mut sorted: Vec<u32> = q.drain().collect();
                        sorted.sort_unstable();
                        sorted.iter().for_each(|&v| q.push_back(v));
                        model = sorted.iter().copied().collect();
                        q.insert_sorted(values.clone(), |&v| v);
                        for v in values {
                            let at = model.partition_point(|&m| m < v);
                            model.insert(at, v);
                        }
                        let merged: Vec<u32> = model.iter().copied().collect();
                        let mut want = merged.clone();
                        want.sort_unstable();
                        prop_assert_eq!(merged, want);
                    }
                    Op::Take(n) => {
                        let want: Vec<u32> = model.drain(..n.min(model.len())).collect();
                        prop_assert_eq!(q.take_front(n), want);
                    }
                    Op::Drain => {
                        let want: Vec<u32> = model.drain(..).collect();
                        prop_assert_eq!(q.drain().collect::<Vec<_>>(), want);
                    }
                }
                prop_assert_eq!(q.len(), model.len());
                prop_assert_eq!(q.is_empty(), model.is_empty());
                prop_assert_eq!(q.front(), model.front());
                prop_assert_eq!(q.back(), model.back());
                prop_assert!(q.iter().eq(model.iter()));
                prop_assert!(blocks_never_grew(&q));
            }
        }
    }

    #[test]
    fn blocks_start_small_and_stop_at_the_largest() {
        let mut q = BlockQueue::default();
        q.push_back(0);
        assert_eq!(q.blocks[0].capacity(), FIRST_BLOCK);
        for i in 1..1000 {
            q.push_back(i);
        }
        let sizes: Vec<usize> = q.blocks.iter().map(VecDeque::capacity).collect();
        assert_eq!(&sizes[..4], &[4, 8, 16, 32]);
        assert!(sizes[4..].iter().all(|&s| s == MAX_BLOCK));
        // At most one block is partly filled.
        let filled = q.blocks.iter().filter(|b| b.len() < b.capacity()).count();
        assert!(filled <= 1);
    }

    #[test]
    fn a_queue_that_fills_and_drains_in_turn_reuses_its_block() {
        let mut q = BlockQueue::default();
        for round in 0..100 {
            for i in 0..MAX_BLOCK {
                q.push_back(round * MAX_BLOCK + i);
            }
            assert_eq!(q.take_front(MAX_BLOCK).len(), MAX_BLOCK);
            assert!(q.is_empty());
        }
        assert!(q.spare.is_some(), "the emptied block is kept");
        assert!(q.spare.as_ref().unwrap().capacity() <= MAX_BLOCK);
    }
}

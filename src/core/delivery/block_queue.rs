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
            // Keep the larger of the two as the spare.
            if self.spare.as_ref().map_or(0, VecDeque::capacity)
                < emptied.as_ref().map_or(0, VecDeque::capacity)
            {
                self.spare = emptied;
            }
        }
        Some(value)
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
        Take(usize),
        Drain,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => any::<u32>().prop_map(Op::Push),
            3 => Just(Op::Pop),
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

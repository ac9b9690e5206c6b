//! Text buffers that go round between `log()` and the delivery loop, so that the
//! JavaScript thread writes each event into memory it has used before.
//!
//! Why: a burst that outpaces delivery queues tens of thousands of events, and when
//! `log()` allocated each one's text, that was fresh memory faulted in on the
//! JavaScript thread: the kernel zeroing a 2 MiB huge page every few thousand events,
//! the largest single cost of a burst after `JSON.stringify` (perf of
//! `npm run bench -- --tail`, docs/performance.md). Now `log()` writes into a buffer
//! from this pool; the delivery loop copies the text (or writes the body from it:
//! `encode/unwritten.rs`) into an allocation of its own when it takes the event (so
//! the queue's fresh memory is the loop's to fault in) and
//! hands the buffer back, a chunk at a time, through a channel of its own. While a
//! burst keeps the loop's intake busy, buffers stay in the channel longer, so the loop
//! also tops the pool up with new buffers it has touched itself. At most
//! [`MAX_POOLED`] buffers wait in the pool; larger ones are not kept.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use super::prefetch::prefetch_for_write;

/// Buffers waiting in the pool, at most: with the bench's 279-byte event about
/// 400 KiB. The pool needs only as many as `log()` makes between two turns of the
/// delivery loop.
const MAX_POOLED: usize = 1024;
/// Buffers of a larger capacity are freed rather than pooled.
const MAX_POOLED_CAPACITY: usize = 4096;
/// Buffers go back in chunks of this many: one channel operation per chunk on each
/// side instead of one per event.
const CHUNK: usize = 32;
/// An intake of at least this many events is a burst: the loop then tops the pool up.
const BURST: usize = 64;
/// What a new buffer holds beyond the longest text of the intake: `log()` writes the
/// event's JSON and, for an event without one, the default agent id; a body `log()`
/// writes itself reserves the JSON's length and 96 bytes.
const NEW_BUFFER_SLACK: usize = 128;

/// Makes a pool: the side `log()` takes buffers from and the side the delivery loop
/// gives them back with.
pub(crate) fn text_pool() -> (TextTaker, TextGiver) {
    let (tx, rx) = mpsc::channel();
    let pooled = Arc::new(AtomicUsize::new(0));
    (
        TextTaker {
            stash: RefCell::new(Vec::new()),
            chunks: rx,
            pooled: pooled.clone(),
        },
        TextGiver {
            chunk: Vec::with_capacity(CHUNK),
            chunks: tx,
            pooled,
        },
    )
}

/// `log()`'s side, on the caller's thread.
pub(crate) struct TextTaker {
    stash: RefCell<Vec<String>>,
    chunks: mpsc::Receiver<Vec<String>>,
    /// Buffers sent back and not yet taken out of the channel.
    pooled: Arc<AtomicUsize>,
}

impl TextTaker {
    /// An empty buffer: one used before if the pool has one, else a new one.
    pub fn take(&self) -> String {
        let mut stash = self.stash.borrow_mut();
        self.refill(&mut stash);
        match stash.pop() {
            Some(mut text) => {
                text.clear();
                text
            }
            None => String::new(),
        }
    }

    /// Has the buffer the next [`take`](Self::take) hands out brought into this core's
    /// cache for writing, its first `bytes` (the text just written is the best guess
    /// of the next one's length): the loop's core read it last (`prefetch.rs`).
    pub fn warm_next(&self, bytes: usize) {
        let mut stash = self.stash.borrow_mut();
        self.refill(&mut stash);
        if let Some(next) = stash.last() {
            prefetch_for_write(next.as_ptr(), bytes.min(next.capacity()));
        }
    }

    /// Takes the next chunk the loop sent once the stash is empty.
    fn refill(&self, stash: &mut Vec<String>) {
        if stash.is_empty() {
            if let Ok(chunk) = self.chunks.try_recv() {
                self.pooled.fetch_sub(chunk.len(), Ordering::Relaxed);
                *stash = chunk;
            }
        }
    }
}

/// The delivery loop's side.
pub(crate) struct TextGiver {
    chunk: Vec<String>,
    chunks: mpsc::Sender<Vec<String>>,
    pooled: Arc<AtomicUsize>,
}

impl TextGiver {
    /// Gives a buffer back, or frees it when the pool is full or it is too large.
    pub fn give(&mut self, text: String) {
        let room = self.pooled.load(Ordering::Relaxed) + self.chunk.len() < MAX_POOLED;
        if room && text.capacity() <= MAX_POOLED_CAPACITY {
            self.chunk.push(text);
            if self.chunk.len() == CHUNK {
                self.send();
            }
        }
    }

    /// After an intake of `taken` events whose longest text was `longest` bytes: if it
    /// was a burst and the pool is less than half full, fills it with new buffers,
    /// written through once here so that their pages are faulted in on this thread.
    pub fn top_up(&mut self, taken: usize, longest: usize) {
        let pooled = self.pooled.load(Ordering::Relaxed) + self.chunk.len();
        if taken < BURST || pooled >= MAX_POOLED / 2 {
            return;
        }
        let size = longest + NEW_BUFFER_SLACK;
        if size > MAX_POOLED_CAPACITY {
            return;
        }
        for _ in pooled..MAX_POOLED {
            self.give(" ".repeat(size));
        }
    }

    /// Sends what has been given back so far (at the end of each intake, so that
    /// `log()` has the buffers before the loop sleeps).
    pub fn send(&mut self) {
        if self.chunk.is_empty() {
            return;
        }
        let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
        self.pooled.fetch_add(chunk.len(), Ordering::Relaxed);
        if self.chunks.send(chunk).is_err() {
            // The logger is gone: nothing will take them.
            self.pooled.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_go_round_and_come_back_empty() {
        let (taker, mut giver) = text_pool();
        let fresh = taker.take();
        assert_eq!(fresh.capacity(), 0, "an empty pool makes a new buffer");
        let used = String::with_capacity(400) + "an event's text";
        let at = used.as_ptr();
        giver.give(used);
        assert_eq!(taker.take().capacity(), 0, "nothing is sent before send()");
        giver.send();
        let again = taker.take();
        assert!(again.is_empty());
        assert!(
            again.capacity() >= 400,
            "with its capacity: the next event fits"
        );
        assert_eq!(again.as_ptr(), at, "the same buffer, emptied");
        assert_eq!(giver.pooled.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn the_pool_is_bounded_in_count_and_size() {
        let (taker, mut giver) = text_pool();
        giver.give("x".repeat(MAX_POOLED_CAPACITY + 1));
        giver.send();
        assert_eq!(giver.pooled.load(Ordering::Relaxed), 0, "too large to keep");
        for _ in 0..3 * MAX_POOLED {
            giver.give("text".to_string());
        }
        giver.send();
        assert_eq!(giver.pooled.load(Ordering::Relaxed), MAX_POOLED);
        let mut taken = 0;
        while taker.take().capacity() > 0 {
            taken += 1;
        }
        assert_eq!(taken, MAX_POOLED);
        assert_eq!(giver.pooled.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_burst_tops_the_pool_up_with_buffers_the_size_of_its_texts() {
        let (taker, mut giver) = text_pool();
        giver.top_up(BURST - 1, 300);
        giver.send();
        assert_eq!(giver.pooled.load(Ordering::Relaxed), 0, "not a burst");
        giver.top_up(BURST, 300);
        giver.send();
        assert_eq!(giver.pooled.load(Ordering::Relaxed), MAX_POOLED);
        let buf = taker.take();
        assert!(buf.is_empty() && buf.capacity() >= 300 + NEW_BUFFER_SLACK);
        // More than half full: left as it is.
        giver.top_up(BURST, 300);
        giver.send();
        assert_eq!(giver.pooled.load(Ordering::Relaxed), MAX_POOLED - CHUNK);
        // Texts too long to pool: no top-up.
        let (_taker, mut giver) = text_pool();
        giver.top_up(BURST, MAX_POOLED_CAPACITY);
        giver.send();
        assert_eq!(giver.pooled.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn full_chunks_are_sent_without_waiting_for_send() {
        let (taker, mut giver) = text_pool();
        for _ in 0..CHUNK {
            giver.give("text".to_string());
        }
        assert!(taker.take().capacity() > 0);
    }
}

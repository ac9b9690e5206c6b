//! Event records appended to the spool and not yet in a file, in order. Normally they
//! are written at the end of the loop turn that appended them; while the disk refuses
//! writes they wait here, and so this is also where the backlog reader finds the
//! events that are on no disk and in no memory window ("waiting").

use std::collections::{HashMap, VecDeque};

use uuid::Uuid;

use super::record::{read_at, Read, Record, SpooledEvent};
use crate::core::event::SourceKey;

#[derive(Debug)]
struct Entry {
    id: Uuid,
    /// The segment its event was given at `append` (the one it is acknowledged in).
    segment: u32,
    /// Its bytes in `buf`.
    start: usize,
    len: usize,
    /// Its event is in the memory window too (or was handed to it by the reader).
    in_memory: bool,
    /// Settled before it was written: it never will be.
    canceled: bool,
    queued_bytes: u64,
}

/// An unwritten event, as `take_*` hand it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnwrittenRecord {
    pub id: Uuid,
    pub segment: u32,
    pub queued_bytes: u64,
    /// Its event is in memory (window or in flight): it is not counted as waiting.
    pub in_memory: bool,
    /// The lane of the limits it is counted in.
    pub source: SourceKey,
}

/// The lane of the event whose record is `record`: read from the record rather than
/// kept beside it, as only drops and a close ask for it.
fn source_of(record: &[u8]) -> SourceKey {
    match read_at(record, 0, true) {
        Read::Record(Record::Event(e), _) => e.source().to_key(),
        _ => unreachable!("the spool's own record decodes"),
    }
}

#[derive(Debug, Default)]
pub struct Unwritten {
    buf: Vec<u8>,
    entries: VecDeque<Entry>,
    /// Where each id is, as an index since the start (`removed` + position), while
    /// writes fail and acks may meet unwritten records; `None` while they don't.
    index: Option<HashMap<Uuid, u64>>,
    /// Entries removed from the front so far.
    removed: u64,
    /// Entries not in memory, and their bytes as the memory limits count them.
    waiting: u64,
    waiting_bytes: u64,
    /// Bytes of canceled entries still in `buf`.
    canceled_bytes: usize,
    canceled: usize,
    /// No waiting entry is before this position (the reader's place).
    scan_from: usize,
}

/// What [`Unwritten::written`] reports of a prefix that reached the file.
pub struct WrittenPrefix {
    /// Offset in the written bytes of the first record whose event was waiting.
    pub first_waiting_at: Option<usize>,
    /// The segments given the waiting ones: the reader will find them in the file
    /// they went to, and name that one.
    pub waiting_segments: Vec<u32>,
}

impl Unwritten {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn waiting(&self) -> (u64, u64) {
        (self.waiting, self.waiting_bytes)
    }

    /// Appends a record `write` puts onto the buffer.
    pub fn push(
        &mut self,
        id: Uuid,
        segment: u32,
        in_memory: bool,
        queued_bytes: u64,
        write: impl FnOnce(&mut Vec<u8>),
    ) {
        let start = self.buf.len();
        write(&mut self.buf);
        if let Some(index) = self.index.as_mut() {
            index.insert(id, self.removed + self.entries.len() as u64);
        }
        if !in_memory {
            self.waiting += 1;
            self.waiting_bytes += queued_bytes;
        }
        self.entries.push_back(Entry {
            id,
            segment,
            start,
            len: self.buf.len() - start,
            in_memory,
            canceled: false,
            queued_bytes,
        });
    }

    /// From now until the queue is empty again, acks may meet records here: keep an
    /// index by id (normally not worth its cost: records are written within a turn).
    pub fn keep_index(&mut self) {
        if self.index.is_none() {
            let base = self.removed;
            self.index = Some(
                self.entries
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| !e.canceled)
                    .map(|(i, e)| (e.id, base + i as u64))
                    .collect(),
            );
        }
    }

    /// Cancels the record of a settled event, if it is here: it need not be written.
    pub fn cancel(&mut self, id: &Uuid) -> bool {
        if self.entries.is_empty() {
            return false;
        }
        let position = match &mut self.index {
            Some(index) => match index.remove(id) {
                Some(at) => (at - self.removed) as usize,
                None => return false,
            },
            None => match self.entries.iter().position(|e| e.id == *id && !e.canceled) {
                Some(p) => p,
                None => return false,
            },
        };
        let Some(entry) = self.entries.get_mut(position) else {
            debug_assert!(false, "the index points past the queue");
            return false;
        };
        debug_assert!(entry.in_memory, "only an event in memory can be settled");
        entry.canceled = true;
        self.canceled += 1;
        self.canceled_bytes += entry.len;
        if !entry.in_memory {
            self.waiting = self.waiting.saturating_sub(1);
            self.waiting_bytes = self.waiting_bytes.saturating_sub(entry.queued_bytes);
        }
        true
    }

    /// Hands the first waiting event to the memory window: it is in memory from now on
    /// (and still written when the disk takes it).
    pub fn take_first_waiting(&mut self) -> Option<(SpooledEvent, u32)> {
        let position = self
            .entries
            .iter()
            .skip(self.scan_from)
            .position(|e| !e.in_memory && !e.canceled)?
            + self.scan_from;
        self.scan_from = position + 1;
        let entry = &mut self.entries[position];
        entry.in_memory = true;
        self.waiting = self.waiting.saturating_sub(1);
        self.waiting_bytes = self.waiting_bytes.saturating_sub(entry.queued_bytes);
        let bytes = &self.buf[entry.start..entry.start + entry.len];
        match read_at(bytes, 0, true) {
            Read::Record(Record::Event(e), _) => Some((e, entry.segment)),
            _ => unreachable!("the spool's own record decodes"),
        }
    }

    /// Drops the newest waiting event (over the memory limits while the disk refuses
    /// writes); `oldest` drops the oldest one instead.
    pub fn drop_waiting(&mut self, oldest: bool) -> Option<UnwrittenRecord> {
        let position = if oldest {
            self.entries
                .iter()
                .position(|e| !e.in_memory && !e.canceled)
        } else {
            self.entries
                .iter()
                .rposition(|e| !e.in_memory && !e.canceled)
        }?;
        let entry = &mut self.entries[position];
        entry.canceled = true;
        self.canceled += 1;
        self.canceled_bytes += entry.len;
        self.waiting = self.waiting.saturating_sub(1);
        self.waiting_bytes = self.waiting_bytes.saturating_sub(entry.queued_bytes);
        if let Some(index) = self.index.as_mut() {
            index.remove(&entry.id);
        }
        Some(UnwrittenRecord {
            id: entry.id,
            segment: entry.segment,
            queued_bytes: entry.queued_bytes,
            in_memory: false,
            source: source_of(&self.buf[entry.start..entry.start + entry.len]),
        })
    }

    /// Every record not canceled, in order.
    pub fn events(&self) -> impl Iterator<Item = UnwrittenRecord> + '_ {
        self.entries
            .iter()
            .filter(|e| !e.canceled)
            .map(|e| UnwrittenRecord {
                id: e.id,
                segment: e.segment,
                queued_bytes: e.queued_bytes,
                in_memory: e.in_memory,
                source: source_of(&self.buf[e.start..e.start + e.len]),
            })
    }

    /// The decoded record of an unwritten event (for reports: its topic).
    pub fn decode(&self, id: &Uuid) -> Option<SpooledEvent> {
        let e = self.entries.iter().find(|e| e.id == *id && !e.canceled)?;
        match read_at(&self.buf[e.start..e.start + e.len], 0, true) {
            Read::Record(Record::Event(event), _) => Some(event),
            _ => None,
        }
    }

    /// Drops canceled records, so that what is left is written back to back.
    pub fn compact(&mut self) {
        if self.canceled == 0 {
            return;
        }
        let mut buf = Vec::with_capacity(self.buf.len() - self.canceled_bytes);
        let mut kept = VecDeque::with_capacity(self.entries.len() - self.canceled);
        for mut e in self.entries.drain(..) {
            if e.canceled {
                continue;
            }
            let start = buf.len();
            buf.extend_from_slice(&self.buf[e.start..e.start + e.len]);
            e.start = start;
            kept.push_back(e);
        }
        self.buf = buf;
        self.entries = kept;
        self.canceled = 0;
        self.canceled_bytes = 0;
        self.scan_from = 0;
        self.reindex();
    }

    fn reindex(&mut self) {
        if self.index.is_some() {
            self.index = None;
            self.keep_index();
        }
    }

    /// The bytes of the longest prefix (after [`Unwritten::compact`]) that `fits`
    /// (called with its bytes and records) allows, and its length in records.
    pub fn prefix(&self, mut fits: impl FnMut(u64, u64) -> bool) -> (&[u8], usize) {
        debug_assert_eq!(self.canceled, 0, "compacted first");
        let mut n = 0;
        let mut end = 0;
        for e in &self.entries {
            let next = e.start + e.len;
            if !fits(next as u64, n as u64 + 1) {
                break;
            }
            n += 1;
            end = next;
        }
        (&self.buf[..end], n)
    }

    /// The first `n` records reached the file: they leave the queue.
    pub fn written(&mut self, n: usize) -> WrittenPrefix {
        let mut first_waiting_at = None;
        let mut waiting_segments = Vec::new();
        let mut end = 0;
        for e in self.entries.drain(..n) {
            if !e.in_memory {
                first_waiting_at.get_or_insert(e.start);
                waiting_segments.push(e.segment);
                self.waiting = self.waiting.saturating_sub(1);
                self.waiting_bytes = self.waiting_bytes.saturating_sub(e.queued_bytes);
            }
            if let Some(index) = self.index.as_mut() {
                index.remove(&e.id);
            }
            end = e.start + e.len;
        }
        self.removed += n as u64;
        self.scan_from = self.scan_from.saturating_sub(n);
        self.buf.drain(..end);
        for e in &mut self.entries {
            e.start -= end;
        }
        if self.entries.is_empty() {
            self.index = None;
            self.buf.clear();
        }
        WrittenPrefix {
            first_waiting_at,
            waiting_segments,
        }
    }
}

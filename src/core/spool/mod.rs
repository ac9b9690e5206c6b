//! The disk spool (`spoolDir`): an append-only, checksummed, segmented log of every
//! event a logger accepts, and of which ones are settled. It is what makes a logger
//! survive what memory cannot: an SNS outage longer than the memory queue, a restart,
//! a crash.
//!
//! - Every event the delivery loop takes in is appended (`append`), and written to the
//!   file at the end of the loop's turn (`flush`), made durable at least every
//!   `spoolSyncMs`; settled events are acknowledged (`ack`).
//! - When the memory window is full, new events stay in the spool only ("the
//!   backlog") and are read back in order (`read_backlog`) as the window frees up.
//! - A logger that opens a folder replays the events its predecessor did not settle,
//!   first, with their original ids (their SNS deduplication ids), each once.
//! - Segments are removed oldest first once every event in them is settled; acks always
//!   follow their events, so removing a prefix never forgets an ack that matters.
//!
//! What disks do:
//! - **A full disk.** The segment being written keeps room allocated ahead for the
//!   acks of every unsettled event on disk ([`record::ACK_ROOM_PER_EVENT`] each), so
//!   settling never needs free space, and the next logger never re-sends what was
//!   delivered. Events the disk refuses stay in memory, in order ([`unwritten`]), where
//!   the backlog reader finds them too, and are written when space returns; one that
//!   is settled first is never written. `flush` says what failed; the delivery loop
//!   decides what to keep and what to report.
//! - **A failed write or sync.** After one, the file's state in the page cache is
//!   unknown (PostgreSQL's "fsyncgate", Vector's PR #14455): the spool never writes to
//!   or syncs that file again, and starts a new segment. Its whole records stay where
//!   they are. A refused allocation of room (ENOSPC, EDQUOT) is not a failed write: it
//!   changed nothing a reader looks at.
//! - **Damage.** Reading resynchronises at the next valid record, headers included, so
//!   damage costs the damaged records only; a file is kept until its intact events are
//!   settled; nothing damaged stops a logger from starting. Damage is counted and
//!   reported once per segment.
//!
//! What others can put in the folder (see `files.rs` and `frame.rs`): folders are
//! created 0700 and files 0600; a folder that is not this user's, or that others can
//! write, is refused; no file is opened through a link, and segments are created new;
//! a segment is read through a bounded window, never whole, in time linear in its
//! size whatever it holds. A link, or a file that cannot be opened, under a segment's
//! name is reported, left alone, and keeps the folder from being removed.

mod disk;
pub mod files;
pub mod frame;
pub mod instances;
mod lock;
pub mod record;
mod unwritten;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io;

use uuid::Uuid;

#[cfg(test)]
pub use disk::FaultPlan;
pub use disk::SyncJob;
use disk::{segment_name, Disk, SegmentFile};
use frame::Item;
pub use lock::{SpoolLock, SpoolLockError};
use record::{
    skip_header, write_acks, write_event, Record, SegmentReader, SpooledEvent, ACK_ROOM_PER_EVENT,
    SEGMENT_HEADER,
};
use unwritten::Unwritten;
pub use unwritten::UnwrittenRecord;

use crate::core::event::{EncodedEvent, SourceKey};

/// A segment is closed and a new one started past this size.
pub const DEFAULT_SEGMENT_BYTES: u64 = 8 << 20;
/// Room is allocated ahead at least this much at a time, so that most writes need no
/// allocation of their own.
const ALLOCATE_AHEAD: u64 = 256 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileState {
    /// Left by an earlier logger: read whole.
    Earlier,
    /// Written by this logger: its records end at `data_end` (after that: room, or a
    /// torn write).
    Own { data_end: u64 },
    /// Not created yet: the disk refused it so far.
    Missing,
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    /// Events given this segment by `append` (or read from it), not yet settled. An
    /// event in memory may land in a later file than the one it was given (after a
    /// failed write): counting it early only delays removal, which goes oldest first.
    /// One that waits is counted where it lands, as the reader names that file.
    live: u64,
    file: FileState,
}

/// Where the backlog reader is.
#[derive(Debug)]
enum Cursor {
    /// In a segment file, from `start` on: `reader` once it is opened.
    File {
        segment: u32,
        start: u64,
        reader: Option<Box<FileReader>>,
        /// Damaged stretches met in it (own segments), reported on leaving it.
        damage: u64,
    },
    /// Past every file: what waits is in memory, in `unwritten`.
    Unwritten,
}

/// What a logger found in its folder on start.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Unsettled events left by an earlier logger, to be replayed first.
    pub events: u64,
    /// Their bytes as the memory limits count them (`EncodedEvent::queued_bytes`).
    pub bytes: u64,
    /// The same events and bytes by the lane they are counted in.
    pub by_source: Vec<(SourceKey, u64, u64)>,
    /// Stretches skipped because they were torn or damaged.
    pub corrupt_records: u64,
}

/// Damage found in one segment file, reported once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentDamage {
    /// The file's name in the folder.
    pub segment: String,
    /// Torn or damaged stretches skipped (each costs the records it covers).
    pub stretches: u64,
    /// Why the file could not be read at all (it is then left alone).
    pub unreadable: Option<String>,
}

/// The segment file being written.
#[derive(Debug)]
struct Writer {
    index: u32,
    file: SegmentFile,
    /// Records end here; the zero bytes up to `alloc_end` are room.
    data_end: u64,
    alloc_end: u64,
}

pub struct Spool {
    _lock: SpoolLock,
    disk: Disk,
    segment_bytes: u64,
    /// The segment new events are given. It has a file when `writer` is some.
    write_index: u32,
    writer: Option<Writer>,
    unwritten: Unwritten,
    /// Settled events whose records are in a file, acks not written yet.
    pending_acks: Vec<Uuid>,
    segments: BTreeMap<u32, Segment>,
    /// Set while events are in the spool only: spilled, or left by an earlier logger.
    backlog: Option<Cursor>,
    backlog_events: u64,
    /// Unsettled events, written or not.
    live: u64,
    /// Events in a file whose ack is not in a file: what the room is kept for.
    unacked_on_disk: u64,
    /// Unsettled events of earlier loggers not replayed yet: (segment, bytes) by id.
    /// Each is replayed once, however often its record is in the files.
    replay: HashMap<Uuid, (u32, u64, SourceKey)>,
    /// After [`Spool::rewind`], until the reader is past every file: each file is read
    /// as an earlier logger's (only the events in `replay` come back).
    rewound: bool,
    /// Events of earlier loggers that were counted on open and then not found when
    /// read back (a file changed under the spool): for the loop to settle as lost.
    vanished: Vec<(Uuid, u64, SourceKey)>,
    pub corrupt_records: u64,
    damage: Vec<SegmentDamage>,
    /// A file under a segment's name could not be read (a link, say): it is left for
    /// a person, so the folder is never settled and removed with it.
    left_alone: bool,
    /// A settled segment that could not be removed, and why (reported by the loop).
    removal_error: Option<(String, io::Error)>,
    /// The last allocation of room got less than it asked for: the disk is (nearly)
    /// full, even if what was written fit.
    tight: bool,
    scratch: Vec<u8>,
}

type FileReader = SegmentReader<File>;

/// Opens segment `index` to read it from `start` (past its header, from 0) to `end`
/// (its length, if none).
fn open_reader(disk: &Disk, index: u32, start: u64, end: Option<u64>) -> io::Result<FileReader> {
    let (file, len) = disk.open_segment(index)?;
    let mut reader = FileReader::new(file, start, end.unwrap_or(len));
    if start == 0 {
        skip_header(&mut reader)?;
    }
    Ok(reader)
}

/// What a segment holds, as far as opening and rewinding need: its events' ids and
/// bytes, in order, the ids its acks settle, and its damaged stretches.
#[derive(Default)]
struct Scanned {
    events: Vec<(Uuid, u64, SourceKey)>,
    settled: Vec<Uuid>,
    stretches: u64,
}

fn scan(mut reader: FileReader) -> io::Result<Scanned> {
    let mut out = Scanned::default();
    loop {
        match reader.next_item()? {
            Item::Record(Record::Event(e)) => {
                out.events
                    .push((e.id, queued_bytes(&e), e.source().to_key()))
            }
            Item::Record(Record::Ack(ids)) => out.settled.extend(ids),
            Item::Damaged { .. } => out.stretches += 1,
            Item::End => return Ok(out),
        }
    }
}

fn queued_bytes(e: &SpooledEvent) -> u64 {
    (e.body.len()
        + e.category.len()
        + e.action.len()
        + e.group.as_ref().map_or(0, |g| g.len())
        + e.app_id.as_ref().map_or(0, |a| a.len())) as u64
}

fn no_room() -> io::Error {
    io::Error::new(
        io::ErrorKind::StorageFull,
        "no room on the disk for the events' records",
    )
}

impl Spool {
    /// Reads what earlier loggers left (on the delivery loop, not the caller's thread)
    /// and starts a new segment for this one. Fails only if the folder cannot be
    /// listed: a damaged or unreadable segment is reported ([`Spool::take_damage`]),
    /// and a full disk leaves the new segment to the first write that finds room.
    pub fn open(lock: SpoolLock, segment_bytes: u64) -> io::Result<(Spool, Recovered)> {
        let disk = Disk::new(lock.dir());
        let listing = disk.segments()?;
        let mut recovered = Recovered::default();
        let mut settled = HashSet::new();
        let mut events: Vec<(u32, Uuid, u64, SourceKey)> = Vec::new();
        let mut segments = BTreeMap::new();
        let mut damage = Vec::new();
        for &i in &listing.files {
            let scanned = match open_reader(&disk, i, 0, None).and_then(scan) {
                Ok(read) => read,
                Err(e) => {
                    // Left alone for a person to look at: never replayed, never removed.
                    damage.push(SegmentDamage {
                        segment: segment_name(i),
                        stretches: 0,
                        unreadable: Some(e.to_string()),
                    });
                    continue;
                }
            };
            events.extend(
                scanned
                    .events
                    .into_iter()
                    .map(|(id, bytes, source)| (i, id, bytes, source)),
            );
            settled.extend(scanned.settled);
            let stretches = scanned.stretches;
            if stretches > 0 {
                damage.push(SegmentDamage {
                    segment: segment_name(i),
                    stretches,
                    unreadable: None,
                });
            }
            recovered.corrupt_records += stretches;
            segments.insert(
                i,
                Segment {
                    live: 0,
                    file: FileState::Earlier,
                },
            );
        }
        let mut replay = HashMap::new();
        let mut by_source: HashMap<SourceKey, (u64, u64)> = HashMap::new();
        for (i, id, bytes, source) in events {
            if settled.contains(&id) || replay.contains_key(&id) {
                continue;
            }
            let tally = by_source.entry(source.clone()).or_default();
            tally.0 += 1;
            tally.1 += bytes;
            replay.insert(id, (i, bytes, source));
            if let Some(s) = segments.get_mut(&i) {
                s.live += 1;
            }
            recovered.events += 1;
            recovered.bytes += bytes;
        }
        recovered.by_source = by_source
            .into_iter()
            .map(|(source, (events, bytes))| (source, events, bytes))
            .collect();
        let left_alone = damage.iter().any(|d| d.unreadable.is_some());
        let write_index = match listing.highest {
            None => 0,
            Some(last) => last.checked_add(1).ok_or_else(|| {
                io::Error::other("the folder's segment numbers are used up; move its files away")
            })?,
        };
        segments.insert(
            write_index,
            Segment {
                live: 0,
                file: FileState::Missing,
            },
        );
        let backlog = segments
            .iter()
            .find(|(_, s)| s.live > 0)
            .map(|(&segment, _)| Cursor::File {
                segment,
                start: 0,
                reader: None,
                damage: 0,
            });
        let mut spool = Spool {
            _lock: lock,
            disk,
            segment_bytes,
            write_index,
            writer: None,
            unwritten: Unwritten::default(),
            pending_acks: Vec::new(),
            segments,
            backlog,
            backlog_events: recovered.events,
            live: recovered.events,
            unacked_on_disk: recovered.events,
            replay,
            rewound: false,
            vanished: Vec::new(),
            corrupt_records: recovered.corrupt_records,
            damage,
            left_alone,
            removal_error: None,
            tight: false,
            scratch: Vec::new(),
        };
        // A full disk: the first flush that finds room creates it.
        let _ = spool.open_writer();
        spool.remove_settled_segments();
        Ok((spool, recovered))
    }

    /// Buffers `event` (routed to `topic_arn`); returns the segment it is acknowledged
    /// in. It reaches the file at the next [`Spool::flush`] that finds room.
    pub fn append(&mut self, event: &EncodedEvent, topic_arn: &str) -> u32 {
        let in_memory = self.backlog.is_none();
        self.unwritten.push(
            event.id,
            self.write_index,
            in_memory,
            event.queued_bytes() as u64,
            |buf| {
                write_event(
                    buf,
                    event.id,
                    event.event_type,
                    topic_arn,
                    event.group.as_deref(),
                    event.app_id.as_deref(),
                    event.widget,
                    event.category(),
                    event.action(),
                    event.body(),
                );
            },
        );
        if let Some(s) = self.segments.get_mut(&self.write_index) {
            s.live += 1;
        }
        self.live += 1;
        if !in_memory {
            self.backlog_events += 1;
        }
        self.write_index
    }

    /// Records that these events (id, segment) are settled: they will not be replayed.
    /// One whose record is not written yet never will be.
    pub fn ack(&mut self, settled: &[(Uuid, u32)]) {
        for &(id, segment) in settled {
            let Some(s) = self.segments.get_mut(&segment) else {
                debug_assert!(false, "an ack for segment {segment}, which is gone");
                continue;
            };
            if s.live == 0 {
                debug_assert!(false, "more acks than events in segment {segment}");
                continue;
            }
            s.live -= 1;
            self.live = self.live.saturating_sub(1);
            if !self.unwritten.cancel(&id) {
                self.pending_acks.push(id);
            }
        }
    }

    /// Whether records or acks wait to be written.
    pub fn has_unwritten(&self) -> bool {
        !self.unwritten.is_empty() || !self.pending_acks.is_empty()
    }

    /// Writes buffered acks, then as many records as the disk takes (the crash bound
    /// counts from here: a killed process loses nothing the kernel has), starts a new
    /// segment when this one is full, and removes segments that are wholly settled.
    /// On an error, nothing is lost: what was not written stays buffered for the next
    /// call, and acks always find room.
    pub fn flush(&mut self) -> io::Result<()> {
        let written = if self.has_unwritten() {
            self.write()
        } else {
            Ok(())
        };
        let rotated = written.and_then(|()| self.rotate_if_full());
        self.remove_settled_segments();
        rotated
    }

    fn open_writer(&mut self) -> io::Result<()> {
        let index = self.write_index;
        let room = ACK_ROOM_PER_EVENT * self.unacked_on_disk;
        let file = self.disk.create_segment(index, room)?;
        let data_end = SEGMENT_HEADER.len() as u64;
        self.writer = Some(Writer {
            index,
            file,
            data_end,
            alloc_end: data_end + room,
        });
        self.set_file(index, FileState::Own { data_end });
        Ok(())
    }

    fn set_file(&mut self, index: u32, file: FileState) {
        self.segments
            .entry(index)
            .or_insert(Segment {
                live: 0,
                file: FileState::Missing,
            })
            .file = file;
    }

    /// Leaves the file being written after a failed write or sync: it is never written
    /// or synced again (its state in the page cache is unknown); its whole records stay.
    /// New events are given the next segment, which the next write creates.
    fn abandon_writer(&mut self) {
        let Some(w) = self.writer.take() else {
            return;
        };
        // Torn bytes and room given back; if even that fails the reader skips them.
        let _ = w.file.truncate(w.data_end);
        self.set_file(
            w.index,
            FileState::Own {
                data_end: w.data_end,
            },
        );
        self.write_index = w.index + 1;
        self.set_file(self.write_index, FileState::Missing);
    }

    /// A background sync of segment `index` failed: leave it if it is still the one
    /// being written.
    pub fn sync_failed(&mut self, index: u32) {
        if self.writer.as_ref().is_some_and(|w| w.index == index) {
            self.abandon_writer();
        }
    }

    fn write(&mut self) -> io::Result<()> {
        if self.writer.is_none() {
            self.open_writer()?;
        }
        self.unwritten.compact();
        self.write_acks()?;
        self.write_records()
    }

    /// Writes the pending acks into the room kept for them.
    fn write_acks(&mut self) -> io::Result<()> {
        if self.pending_acks.is_empty() {
            return Ok(());
        }
        self.scratch.clear();
        write_acks(&mut self.scratch, &self.pending_acks);
        let len = self.scratch.len() as u64;
        let Some(w) = self.writer.as_mut() else {
            return Err(no_room());
        };
        if w.data_end + len > w.alloc_end {
            debug_assert!(false, "acks always have room");
            let (got, error) = w.file.allocate(w.alloc_end, w.data_end + len - w.alloc_end);
            w.alloc_end += got;
            if let Some(e) = error {
                return Err(e);
            }
        }
        if let Err(e) = w.file.write_at(w.data_end, &self.scratch) {
            // Written again, whole, to the next segment.
            self.abandon_writer();
            return Err(e.error);
        }
        w.data_end += len;
        let (index, data_end) = (w.index, w.data_end);
        self.unacked_on_disk = self
            .unacked_on_disk
            .saturating_sub(self.pending_acks.len() as u64);
        self.pending_acks.clear();
        self.set_file(index, FileState::Own { data_end });
        Ok(())
    }

    /// Writes as many records as there is room for, with room kept for their acks.
    fn write_records(&mut self) -> io::Result<()> {
        if self.unwritten.is_empty() {
            return Ok(());
        }
        let Some(w) = self.writer.as_mut() else {
            return Err(no_room());
        };
        let unacked = self.unacked_on_disk;
        let need = move |data_end: u64, bytes: u64, n: u64| {
            data_end + bytes + ACK_ROOM_PER_EVENT * (unacked + n)
        };
        let (all, n_all) = self.unwritten.prefix(|_, _| true);
        let wanted = need(w.data_end, all.len() as u64, n_all as u64);
        let mut refused = None;
        // Tight on space, room is asked for on every write: that is how the spool
        // learns that space came back.
        let target = wanted + ALLOCATE_AHEAD;
        if wanted > w.alloc_end || (self.tight && target > w.alloc_end) {
            let (got, error) = w.file.allocate(w.alloc_end, target - w.alloc_end);
            w.alloc_end += got;
            self.tight = error.is_some();
            if w.alloc_end < wanted {
                refused = Some(error.unwrap_or_else(no_room));
            }
        }
        let (data_end, alloc_end) = (w.data_end, w.alloc_end);
        let (bytes, n) = self
            .unwritten
            .prefix(|end, k| need(data_end, end, k) <= alloc_end);
        if n > 0 {
            let len = bytes.len();
            if let Err(e) = w.file.write_at(data_end, bytes) {
                // The records wholly written are in the file; the rest go to the next.
                let (whole, k) = self.unwritten.prefix(|end, _| end <= e.written as u64);
                let whole = whole.len();
                self.wrote_records(k, whole);
                self.abandon_writer();
                return Err(e.error);
            }
            self.wrote_records(n, len);
        }
        match refused {
            Some(e) if !self.unwritten.is_empty() => Err(e),
            _ => Ok(()),
        }
    }

    /// The first `n` unwritten records (`bytes` long) are now at the writer's end.
    fn wrote_records(&mut self, n: usize, bytes: usize) {
        if n == 0 {
            return;
        }
        let Some(w) = self.writer.as_mut() else {
            return;
        };
        let start = w.data_end;
        let prefix = self.unwritten.written(n);
        w.data_end += bytes as u64;
        self.unacked_on_disk += n as u64;
        let (index, data_end) = (w.index, w.data_end);
        for given in prefix.waiting_segments {
            // Read back from this file, they are acknowledged in this segment.
            if given != index {
                if let Some(s) = self.segments.get_mut(&given) {
                    s.live = s.live.saturating_sub(1);
                }
                if let Some(s) = self.segments.get_mut(&index) {
                    s.live += 1;
                }
            }
        }
        if let (Some(Cursor::Unwritten), Some(at)) = (&self.backlog, prefix.first_waiting_at) {
            // The reader was past every file: it goes on in this one, where the first
            // event still waiting now is.
            self.backlog = Some(Cursor::File {
                segment: index,
                start: start + at as u64,
                reader: None,
                damage: 0,
            });
        }
        self.set_file(index, FileState::Own { data_end });
    }

    /// A full segment is made durable, and a new one started, if the disk has room for
    /// it (otherwise the full one goes on: its room takes the acks).
    fn rotate_if_full(&mut self) -> io::Result<()> {
        let Some(w) = self.writer.as_ref() else {
            return Ok(());
        };
        if w.data_end < self.segment_bytes || !self.unwritten.is_empty() {
            return Ok(());
        }
        if let Err(e) = w.file.sync() {
            self.abandon_writer();
            return Err(e);
        }
        let next = w.index + 1;
        let room = ACK_ROOM_PER_EVENT * self.unacked_on_disk;
        let Ok(file) = self.disk.create_segment(next, room) else {
            return Ok(());
        };
        let old = self.writer.take().expect("checked above");
        let _ = old.file.truncate(old.data_end);
        let data_end = SEGMENT_HEADER.len() as u64;
        self.write_index = next;
        self.writer = Some(Writer {
            index: next,
            file,
            data_end,
            alloc_end: data_end + room,
        });
        self.set_file(next, FileState::Own { data_end });
        Ok(())
    }

    /// A handle to make the segment being written durable off the loop, with its index.
    pub fn sync_job(&self) -> Option<(u32, SyncJob)> {
        let w = self.writer.as_ref()?;
        w.file.sync_job().ok().map(|job| (w.index, job))
    }

    /// Events are in the spool only and must be read back before newer ones.
    pub fn has_backlog(&self) -> bool {
        self.backlog.is_some()
    }

    pub fn backlog_events(&self) -> u64 {
        self.backlog_events
    }

    /// From now on events stay in the spool only, until [`Spool::read_backlog`] catches
    /// up.
    pub fn begin_spill(&mut self) {
        if self.backlog.is_none() {
            self.backlog = Some(Cursor::Unwritten);
        }
    }

    /// Reads events in the spool only, in order, with their segments, until `max`
    /// events or `max_bytes` bytes (at least one event if any).
    pub fn read_backlog(
        &mut self,
        max: usize,
        max_bytes: u64,
    ) -> io::Result<Vec<(SpooledEvent, u32)>> {
        let mut out = Vec::new();
        let mut bytes = 0u64;
        while out.len() < max && (out.is_empty() || bytes < max_bytes) {
            let Some(cursor) = self.backlog.as_mut() else {
                break;
            };
            let Cursor::File {
                segment,
                start,
                reader,
                damage,
            } = cursor
            else {
                match self.unwritten.take_first_waiting() {
                    Some((e, seg)) => {
                        self.backlog_events = self.backlog_events.saturating_sub(1);
                        bytes += queued_bytes(&e);
                        out.push((e, seg));
                    }
                    None => self.end_backlog(),
                }
                continue;
            };
            let seg = *segment;
            let file = self.segments.get(&seg).map(|s| s.file);
            let earlier = file == Some(FileState::Earlier);
            // Read as an earlier logger's file: only the events in `replay` come back.
            let filtered = earlier || self.rewound;
            let limit = match file {
                Some(FileState::Own { data_end }) => Some(data_end),
                Some(FileState::Earlier) => None,
                _ => Some(0),
            };
            let item = if limit == Some(0) {
                Item::End
            } else {
                let r = match reader {
                    Some(r) => r,
                    None => reader.insert(Box::new(open_reader(&self.disk, seg, *start, limit)?)),
                };
                if let Some(end) = limit {
                    // The segment being written: what was written since is read too.
                    r.extend_to(end);
                }
                r.next_item()?
            };
            match item {
                Item::Record(Record::Event(e)) => {
                    let wanted = if filtered {
                        self.replay.remove(&e.id).is_some()
                    } else {
                        true
                    };
                    if wanted {
                        self.backlog_events = self.backlog_events.saturating_sub(1);
                        bytes += queued_bytes(&e);
                        out.push((e, seg));
                    }
                }
                Item::Record(Record::Ack(_)) => {}
                Item::Damaged { .. } => {
                    // An earlier logger's damage was counted on open, and a
                    // rewound file's when it was first read.
                    if !filtered {
                        *damage += 1;
                        self.corrupt_records += 1;
                    }
                }
                Item::End => {
                    if *damage > 0 {
                        self.damage.push(SegmentDamage {
                            segment: segment_name(seg),
                            stretches: *damage,
                            unreadable: None,
                        });
                    }
                    let next = self
                        .segments
                        .range(seg + 1..)
                        .find(|(_, s)| s.file != FileState::Missing)
                        .map(|(&i, s)| (i, s.file));
                    let last_filtered = if self.rewound {
                        next.is_none()
                    } else {
                        earlier && next.is_none_or(|(_, f)| f != FileState::Earlier)
                    };
                    *cursor = match next {
                        Some((segment, _)) => Cursor::File {
                            segment,
                            start: 0,
                            reader: None,
                            damage: 0,
                        },
                        None => Cursor::Unwritten,
                    };
                    if last_filtered {
                        self.rewound = false;
                        self.lose_unfound_replays();
                    }
                }
            }
        }
        self.remove_settled_segments();
        Ok(out)
    }

    /// Reads the folder again from its oldest record, as [`Spool::open`] does, so that
    /// unsettled events the delivery loop let go from memory (held for a paused
    /// destination) are read back in order; the ids in `in_memory` are skipped, the
    /// loop still has them. Until the reader is past every file, each file is read as
    /// an earlier logger's is: only the events found here come back, and damage is not
    /// counted again. Returns how many events are now in the spool only.
    pub fn rewind(&mut self, in_memory: &HashSet<Uuid>) -> io::Result<u64> {
        self.flush()?;
        let mut settled: HashSet<Uuid> = self.pending_acks.iter().copied().collect();
        let mut events: Vec<(u32, Uuid, u64, SourceKey)> = Vec::new();
        let mut first = None;
        for (&i, s) in &self.segments {
            let end = match s.file {
                FileState::Missing => continue,
                FileState::Own { data_end } => Some(data_end),
                FileState::Earlier => None,
            };
            let reader = match open_reader(&self.disk, i, 0, end) {
                Ok(reader) => reader,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let scanned = scan(reader)?;
            events.extend(
                scanned
                    .events
                    .into_iter()
                    .map(|(id, bytes, source)| (i, id, bytes, source)),
            );
            settled.extend(scanned.settled);
            first.get_or_insert(i);
        }
        let mut replay = HashMap::new();
        for (i, id, bytes, source) in events {
            if settled.contains(&id) || in_memory.contains(&id) || replay.contains_key(&id) {
                continue;
            }
            replay.insert(id, (i, bytes, source));
        }
        let waiting = self.unwritten.waiting().0;
        self.backlog_events = replay.len() as u64 + waiting;
        self.replay = replay;
        self.rewound = !self.replay.is_empty();
        self.backlog = match first {
            Some(segment) if self.rewound => Some(Cursor::File {
                segment,
                start: 0,
                reader: None,
                damage: 0,
            }),
            _ if waiting > 0 => Some(Cursor::Unwritten),
            _ => None,
        };
        Ok(self.backlog_events)
    }

    /// Every file of earlier loggers is read: an event counted on open and not met
    /// again is gone (its file changed under the spool). The loop settles it as lost.
    fn lose_unfound_replays(&mut self) {
        for (id, (segment, bytes, source)) in self.replay.drain() {
            if let Some(s) = self.segments.get_mut(&segment) {
                s.live = s.live.saturating_sub(1);
            }
            self.live = self.live.saturating_sub(1);
            self.unacked_on_disk = self.unacked_on_disk.saturating_sub(1);
            self.backlog_events = self.backlog_events.saturating_sub(1);
            self.vanished.push((id, bytes, source));
        }
    }

    fn end_backlog(&mut self) {
        debug_assert_eq!(self.backlog_events, 0, "every event in the backlog read");
        debug_assert!(self.replay.is_empty());
        self.backlog = None;
        self.backlog_events = 0;
    }

    /// Events counted on open that could not be read back: (id, bytes, lane).
    pub fn take_vanished(&mut self) -> Vec<(Uuid, u64, SourceKey)> {
        std::mem::take(&mut self.vanished)
    }

    /// Damage found since the last call, once per segment.
    pub fn take_damage(&mut self) -> Vec<SegmentDamage> {
        std::mem::take(&mut self.damage)
    }

    /// A settled segment that could not be removed since the last call.
    pub fn take_removal_error(&mut self) -> Option<(String, io::Error)> {
        self.removal_error.take()
    }

    /// Whether the disk had room to spare at the last allocation (room for events is
    /// allocated ahead, [`ALLOCATE_AHEAD`] at a time): a write that fit in what was
    /// left does not mean space came back.
    pub fn has_headroom(&self) -> bool {
        !self.tight
    }

    /// Unsettled events whose records are in a file: what the next logger would find.
    pub fn spooled(&self) -> u64 {
        self.unacked_on_disk
            .saturating_sub(self.pending_acks.len() as u64)
    }

    /// Unsettled events in the spool, written or not.
    pub fn live_events(&self) -> u64 {
        self.live
    }

    /// Events in the spool only that the disk has not taken: in memory, outside the
    /// window, (count, bytes).
    pub fn waiting_in_memory(&self) -> (u64, u64) {
        self.unwritten.waiting()
    }

    /// Events not written yet (in order).
    pub fn unwritten_events(&self) -> Vec<UnwrittenRecord> {
        self.unwritten.events().collect()
    }

    /// The record of an unwritten event, decoded (for reports).
    pub fn unwritten_event(&self, id: &Uuid) -> Option<SpooledEvent> {
        self.unwritten.decode(id)
    }

    /// Writes fail for now: acks may meet records still in memory.
    pub fn expect_unwritten(&mut self) {
        self.unwritten.keep_index();
    }

    /// Drops the newest (or with `oldest`, the oldest) event that waits in memory
    /// because the disk refused it: over the memory limits, `overflow` applies.
    pub fn drop_waiting(&mut self, oldest: bool) -> Option<UnwrittenRecord> {
        let dropped = self.unwritten.drop_waiting(oldest)?;
        if let Some(s) = self.segments.get_mut(&dropped.segment) {
            s.live = s.live.saturating_sub(1);
        }
        self.live = self.live.saturating_sub(1);
        self.backlog_events = self.backlog_events.saturating_sub(1);
        Some(dropped)
    }

    /// Bytes of the segment files, room included.
    pub fn file_bytes(&self) -> u64 {
        let mut total = 0;
        for (&i, s) in &self.segments {
            total += match (&self.writer, s.file) {
                (_, FileState::Missing) => 0,
                (Some(w), _) if w.index == i => w.alloc_end,
                _ => std::fs::symlink_metadata(self.disk.segment_path(i)).map_or(0, |m| m.len()),
            };
        }
        total
    }

    /// The last flush on close: what can be written is, the file is made durable, and
    /// its room is given back (a reader of the previous version then sees no zero
    /// tail). What the disk did not take is in [`Spool::unwritten_events`].
    pub fn close(&mut self) -> io::Result<()> {
        let flushed = self.flush();
        if let Some(w) = self.writer.as_ref() {
            if let Err(e) = w.file.sync() {
                self.abandon_writer();
                return flushed.and(Err(e));
            }
            let _ = w.file.truncate(w.data_end);
            let data_end = w.data_end;
            if let Some(w) = self.writer.as_mut() {
                w.alloc_end = data_end;
            }
        }
        flushed
    }

    /// Removes the oldest segments while they are wholly settled and read past, then
    /// syncs the folder.
    fn remove_settled_segments(&mut self) {
        let mut removed = false;
        while let Some((&i, s)) = self.segments.iter().next() {
            let read_past = match &self.backlog {
                None | Some(Cursor::Unwritten) => true,
                Some(Cursor::File { segment, .. }) => *segment > i,
            };
            if i >= self.write_index || s.live > 0 || !read_past {
                break;
            }
            if s.file != FileState::Missing {
                if let Err(e) = self.disk.remove_segment(i) {
                    self.removal_error = Some((segment_name(i), e));
                    break;
                }
                removed = true;
            }
            self.segments.remove(&i);
        }
        if removed {
            // Removals that do not last only bring back settled events' files: their
            // acks are in them or in later files, which were not removed.
            let _ = self.disk.sync_dir();
        }
    }

    /// Segments in the folder's account, oldest first (for tests and stats).
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The folder.
    pub fn dir(&self) -> &std::path::Path {
        self.disk.dir()
    }

    /// Every event it was given is settled, and no file was left alone: a next logger
    /// would find nothing, and the folder may go.
    pub fn is_settled(&self) -> bool {
        self.live == 0 && !self.left_alone
    }

    /// Lets go of the spool, keeping its folder locked.
    pub fn into_lock(self) -> SpoolLock {
        self._lock
    }
}

#[cfg(test)]
mod tests;

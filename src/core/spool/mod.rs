//! The disk spool (`spoolDir`): an append-only, checksummed, segmented log of every
//! event a logger accepts, and of which ones are settled. It is what makes a logger
//! survive what memory cannot: an SNS outage longer than the memory queue, a restart,
//! a crash.
//!
//! - Every event the delivery loop takes in is appended (`append`), and written to the
//!   file at least every `spoolSyncMs`; settled events are acknowledged (`ack`).
//! - When the memory window is full, new events stay on disk only ("spilled") and are
//!   read back in order (`read_backlog`) as the window frees up.
//! - A logger that opens a folder replays the events its predecessor did not settle,
//!   first, with their original ids (their SNS deduplication ids).
//! - Segments are removed oldest first once every event in them is settled; acks always
//!   follow their events, so removing a prefix never forgets an ack that matters.
//! - A lock file keeps a second logger (in this process or another) out of the folder.

pub mod record;

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Seek, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use uuid::Uuid;

use record::{read_at, write_ack, write_event, Read, Record, SpooledEvent, SEGMENT_HEADER};

use crate::core::event::EncodedEvent;

/// A segment is closed and a new one started past this size.
pub const DEFAULT_SEGMENT_BYTES: u64 = 8 << 20;
/// Ids per ack record.
const ACK_CHUNK: usize = 4096;
const LOCK_FILE: &str = "spool.lock";
const SEGMENT_SUFFIX: &str = ".seg";

/// The folder, locked for this logger. Taken synchronously in the constructor so that
/// a second logger on the same folder is refused at once, with a clear error.
#[derive(Debug)]
pub struct SpoolLock {
    dir: PathBuf,
    /// Held open: closing it (or the process ending, however it ends) unlocks.
    _file: File,
}

/// Why a spool folder cannot be used.
#[derive(Debug)]
pub enum SpoolLockError {
    /// Another logger holds it; the text names the holder if it wrote its pid.
    InUse(String),
    Io(io::Error),
}

impl std::fmt::Display for SpoolLockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpoolLockError::InUse(holder) => write!(
                f,
                "is in use by another logger ({holder}); two loggers must never share a spool \
                 folder, give each its own spoolDir"
            ),
            SpoolLockError::Io(e) => write!(f, "cannot be used: {e}"),
        }
    }
}

impl SpoolLock {
    /// Creates the folder if needed and locks it.
    pub fn acquire(dir: &Path) -> Result<SpoolLock, SpoolLockError> {
        fs::create_dir_all(dir).map_err(SpoolLockError::Io)?;
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(SpoolLockError::Io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(SpoolLockError::InUse(if holder.is_empty() {
                    "it holds the lock file".to_owned()
                } else {
                    holder.to_owned()
                }));
            }
            Err(fs::TryLockError::Error(e)) => return Err(SpoolLockError::Io(e)),
        }
        // Who holds it, for the next one's error message.
        let _ = file.set_len(0);
        let _ = file.seek(SeekFrom::Start(0));
        let _ = write!(file, "process {}", std::process::id());
        let _ = file.flush();
        Ok(SpoolLock {
            dir: dir.to_path_buf(),
            _file: file,
        })
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Segment {
    /// Events in it not yet settled.
    live: u64,
}

/// Where the next spilled or replayed event is read from.
#[derive(Debug)]
struct Cursor {
    segment: u32,
    pos: usize,
    data: Vec<u8>,
}

/// What a logger found in its folder on start.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    /// Unsettled events left by an earlier logger, to be replayed first.
    pub events: u64,
    /// Their bytes as the memory limits count them (`EncodedEvent::queued_bytes`).
    pub bytes: u64,
    /// Records skipped because they were torn or damaged.
    pub corrupt_records: u64,
}

pub struct Spool {
    lock: SpoolLock,
    segment_bytes: u64,
    /// The segment being written: its index, file and size on disk.
    write_index: u32,
    write_file: File,
    write_len: u64,
    /// Records not yet written to the file.
    buf: Vec<u8>,
    segments: BTreeMap<u32, Segment>,
    /// Set while events are on disk only: spilled, or left by an earlier logger.
    backlog: Option<Cursor>,
    backlog_events: u64,
    /// Unsettled events in all segments.
    live: u64,
    /// Ids settled in earlier runs, skipped while replaying their segments.
    settled_before: HashSet<Uuid>,
    /// The first segment this logger wrote: damage before it was counted on open.
    first_own_segment: u32,
    pub corrupt_records: u64,
}

fn segment_path(dir: &Path, index: u32) -> PathBuf {
    dir.join(format!("{index:010}{SEGMENT_SUFFIX}"))
}

fn segment_indices(dir: &Path) -> io::Result<Vec<u32>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(stem) = name.strip_suffix(SEGMENT_SUFFIX) {
            if let Ok(i) = stem.parse::<u32>() {
                out.push(i);
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Calls `f` with every record of a finished segment; returns the damaged stretches.
fn scan(data: &[u8], mut f: impl FnMut(Record)) -> u64 {
    if !data.starts_with(SEGMENT_HEADER) {
        return u64::from(!data.is_empty());
    }
    let mut corrupt = 0;
    let mut pos = SEGMENT_HEADER.len();
    loop {
        match read_at(data, pos, true) {
            Read::Record(r, next) => {
                f(r);
                pos = next;
            }
            Read::Corrupt { next, .. } => {
                corrupt += 1;
                pos = next;
            }
            Read::End => return corrupt,
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

impl Spool {
    /// Reads what earlier loggers left (on the delivery loop, not the caller's thread)
    /// and starts a new segment for this one.
    pub fn open(lock: SpoolLock, segment_bytes: u64) -> io::Result<(Spool, Recovered)> {
        let dir = lock.dir.clone();
        let indices = segment_indices(&dir)?;
        let mut recovered = Recovered::default();
        let mut settled = HashSet::new();
        let mut events: Vec<(u32, Uuid, u64)> = Vec::new();
        for &i in &indices {
            let data = fs::read(segment_path(&dir, i))?;
            recovered.corrupt_records += scan(&data, |r| match r {
                Record::Event(e) => events.push((i, e.id, queued_bytes(&e))),
                Record::Ack(ids) => settled.extend(ids),
            });
        }
        let mut segments: BTreeMap<u32, Segment> =
            indices.iter().map(|&i| (i, Segment::default())).collect();
        for (i, id, bytes) in &events {
            if !settled.contains(id) {
                if let Some(s) = segments.get_mut(i) {
                    s.live += 1;
                }
                recovered.events += 1;
                recovered.bytes += bytes;
            }
        }
        let write_index = indices.last().map_or(0, |i| i + 1);
        let (write_file, write_len) = new_segment(&dir, write_index)?;
        segments.insert(write_index, Segment::default());
        let backlog = segments
            .iter()
            .find(|(_, s)| s.live > 0)
            .map(|(&segment, _)| Cursor {
                segment,
                pos: SEGMENT_HEADER.len(),
                data: Vec::new(),
            });
        let mut spool = Spool {
            lock,
            segment_bytes,
            write_index,
            write_file,
            write_len,
            buf: Vec::with_capacity(64 << 10),
            segments,
            backlog,
            backlog_events: recovered.events,
            live: recovered.events,
            settled_before: settled,
            first_own_segment: write_index,
            corrupt_records: recovered.corrupt_records,
        };
        if spool.backlog.is_none() {
            spool.settled_before.clear();
        }
        spool.remove_settled_segments()?;
        Ok((spool, recovered))
    }

    /// Buffers `event` (routed to `topic_arn`); returns its segment. It reaches the
    /// file at the next [`Spool::flush`].
    pub fn append(&mut self, event: &EncodedEvent, topic_arn: &str) -> u32 {
        write_event(
            &mut self.buf,
            event.id,
            event.event_type,
            topic_arn,
            event.group.as_deref(),
            event.app_id.as_deref(),
            event.category(),
            event.action(),
            event.body(),
        );
        if let Some(s) = self.segments.get_mut(&self.write_index) {
            s.live += 1;
        }
        self.live += 1;
        if self.backlog.is_some() {
            self.backlog_events += 1;
        }
        self.write_index
    }

    /// Records that these events (id, segment) are settled: they will not be replayed.
    pub fn ack(&mut self, settled: &[(Uuid, u32)]) {
        for chunk in settled.chunks(ACK_CHUNK) {
            let ids: Vec<Uuid> = chunk.iter().map(|(id, _)| *id).collect();
            write_ack(&mut self.buf, &ids);
        }
        for (_, segment) in settled {
            if let Some(s) = self.segments.get_mut(segment) {
                if s.live > 0 {
                    s.live -= 1;
                    self.live -= 1;
                }
            }
        }
    }

    /// Whether records wait in the buffer.
    pub fn has_unwritten(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Writes buffered records to the file (the crash bound counts from here: a
    /// killed process loses nothing the kernel has), starts a new segment when this
    /// one is full, and removes segments that are wholly settled.
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.write_file.write_all(&self.buf)?;
            self.write_len += self.buf.len() as u64;
            self.buf.clear();
        }
        if self.write_len >= self.segment_bytes {
            // The finished segment is made durable before it is left behind.
            self.write_file.sync_data()?;
            self.write_index += 1;
            let (file, len) = new_segment(&self.lock.dir, self.write_index)?;
            self.write_file = file;
            self.write_len = len;
            self.segments.insert(self.write_index, Segment::default());
        }
        self.remove_settled_segments()
    }

    /// A handle to make the current segment durable (`sync_data`) off the loop.
    pub fn sync_handle(&self) -> io::Result<File> {
        self.write_file.try_clone()
    }

    /// Events are on disk only and must be read back before newer ones.
    pub fn has_backlog(&self) -> bool {
        self.backlog.is_some()
    }

    pub fn backlog_events(&self) -> u64 {
        self.backlog_events
    }

    /// From now on events stay on disk only, until [`Spool::read_backlog`] catches up.
    pub fn begin_spill(&mut self) -> io::Result<()> {
        self.flush()?;
        if self.backlog.is_some() {
            return Ok(());
        }
        self.backlog = Some(Cursor {
            segment: self.write_index,
            pos: self.write_len as usize,
            data: Vec::new(),
        });
        Ok(())
    }

    /// Reads spilled or left-over events in order, with their segments, until `max`
    /// events or `max_bytes` bytes (at least one event if any).
    pub fn read_backlog(
        &mut self,
        max: usize,
        max_bytes: u64,
    ) -> io::Result<Vec<(SpooledEvent, u32)>> {
        let mut out = Vec::new();
        let mut bytes = 0u64;
        if self.backlog.is_none() || max == 0 {
            return Ok(out);
        }
        self.flush()?;
        while out.len() < max && (out.is_empty() || bytes < max_bytes) {
            let Some(cursor) = self.backlog.as_mut() else {
                break;
            };
            let active = cursor.segment == self.write_index;
            if cursor.data.is_empty() || (active && cursor.pos >= cursor.data.len()) {
                // Load the segment, or what was written to the active one since.
                let mut file = File::open(segment_path(&self.lock.dir, cursor.segment))?;
                file.seek(SeekFrom::Start(cursor.data.len() as u64))?;
                file.read_to_end(&mut cursor.data)?;
            }
            match read_at(&cursor.data, cursor.pos, !active) {
                Read::Record(Record::Event(e), next) => {
                    cursor.pos = next;
                    if !self.settled_before.contains(&e.id) {
                        bytes += queued_bytes(&e);
                        self.backlog_events = self.backlog_events.saturating_sub(1);
                        out.push((e, cursor.segment));
                    }
                }
                Read::Record(Record::Ack(_), next) => cursor.pos = next,
                Read::Corrupt { next, .. } => {
                    cursor.pos = next;
                    if cursor.segment >= self.first_own_segment {
                        self.corrupt_records += 1;
                    }
                }
                Read::End if active => {
                    // Caught up with the writer: nothing is on disk only any more.
                    self.backlog = None;
                    self.backlog_events = 0;
                    self.settled_before.clear();
                }
                Read::End => {
                    let next = self
                        .segments
                        .range(cursor.segment + 1..)
                        .next()
                        .map(|(&i, _)| i)
                        .unwrap_or(self.write_index);
                    *cursor = Cursor {
                        segment: next,
                        pos: SEGMENT_HEADER.len(),
                        data: Vec::new(),
                    };
                }
            }
        }
        self.remove_settled_segments()?;
        Ok(out)
    }

    /// Unsettled events in the spool, in memory or not.
    pub fn live_events(&self) -> u64 {
        self.live
    }

    /// Bytes of the segment files.
    pub fn file_bytes(&self) -> u64 {
        let mut total = self.write_len + self.buf.len() as u64;
        for &i in self.segments.keys().filter(|&&i| i != self.write_index) {
            total += fs::metadata(segment_path(&self.lock.dir, i)).map_or(0, |m| m.len());
        }
        total
    }

    /// Removes the oldest segments while they are wholly settled and read past.
    fn remove_settled_segments(&mut self) -> io::Result<()> {
        while let Some((&i, s)) = self.segments.iter().next() {
            let read_past = self.backlog.as_ref().is_none_or(|c| c.segment > i);
            if i == self.write_index || s.live > 0 || !read_past {
                break;
            }
            match fs::remove_file(segment_path(&self.lock.dir, i)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            self.segments.remove(&i);
        }
        Ok(())
    }

    /// Segments on disk, oldest first (for tests and stats).
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }
}

fn new_segment(dir: &Path, index: u32) -> io::Result<(File, u64)> {
    let mut file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(segment_path(dir, index))?;
    file.write_all(SEGMENT_HEADER)?;
    Ok((file, SEGMENT_HEADER.len() as u64))
}

#[cfg(test)]
mod tests;

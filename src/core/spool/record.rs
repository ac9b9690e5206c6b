//! The spool's record format. A segment file is a header followed by records:
//!
//! ```text
//! header  "RCSPOOL1"
//! record  magic 0x5A 0xA5 | payload length u32 LE | CRC-32 of payload u32 LE | payload
//! payload 1 (event) | id [16] | kind u8 | topic | group | app | category | action | body
//!         2 (ack)   | count u32 | ids [16] x count
//! string  length u32 LE | UTF-8 bytes      (group, app: length 0xFFFFFFFF = none)
//! room    zero bytes after the last record: space set aside for acks (see below)
//! ```
//!
//! The reader never trusts a length or a byte: a record whose magic, length, checksum
//! or fields are wrong is skipped, and reading resumes at the next offset where a whole
//! valid record starts. A torn tail (a crash mid-write) is one corrupt stretch. The
//! header is not needed to read: a damaged one is one corrupt stretch like any other,
//! and the records after it are read. Files are read through [`SegmentReader`]
//! (`frame.rs`: a bounded window, and a resynchronisation linear in the file's size).
//!
//! The event's `kind` byte is its event type (0 `session`, 1 `customerAction`), plus
//! [`WIDGET_BIT`] for an event the Livechat widget's route logged: its lane of the limits
//! (`delivery/sources.rs`) must be known again when it is read back. A reader older
//! than that bit counts such a record as damaged, so a rollback past it reports the
//! widget's spooled events as `corrupt_records` rather than changing them.
//!
//! Two things are written that the first version of this format did not write, and
//! both read as that version's files did, so a spool left by it replays as it is:
//! - Every ack is written twice, as two records, so that one damaged byte cannot undo
//!   a settlement (its events would be sent again).
//! - The segment being written ends in zero bytes, allocated ahead, where acks go when
//!   the disk is full ([`ACK_ROOM_PER_EVENT`] per unsettled event). A reader stops at
//!   zero bytes that run to the end of the file: they are room, not damage.

use std::io;

use uuid::Uuid;

use super::frame::{Format, Item, Reader, Shape, Source};
pub use super::frame::{MAX_PAYLOAD_BYTES, RECORD_HEADER_BYTES};
use crate::core::event::{EventType, Source as EventSource};
use crate::core::fields::{put_optional, put_str, Fields};

pub const SEGMENT_HEADER: &[u8; 8] = b"RCSPOOL1";
const MAGIC: [u8; 2] = [0x5A, 0xA5];
/// Disk an ack can take per event, at most: an ack record for that event alone,
/// twice. What the spool keeps allocated ahead for every unsettled event on disk.
pub const ACK_ROOM_PER_EVENT: u64 = 2 * (RECORD_HEADER_BYTES as u64 + 1 + 4 + 16);
/// Ids per ack record.
const ACK_CHUNK: usize = 4096;
const KIND_EVENT: u8 = 1;
/// Set in an event record's type byte for the widget's events (see the module doc).
const WIDGET_BIT: u8 = 0x80;
const KIND_ACK: u8 = 2;
/// An event as the spool keeps it: enough to publish it again, to the same topic and
/// group, with the same id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpooledEvent {
    pub id: Uuid,
    pub event_type: EventType,
    pub topic_arn: String,
    pub group: Option<String>,
    pub app_id: Option<String>,
    /// Logged by the Livechat widget's route.
    pub widget: bool,
    pub category: String,
    pub action: String,
    pub body: String,
}

impl SpooledEvent {
    /// The lane of the limits it is counted in.
    pub fn source(&self) -> EventSource<'_> {
        match (&self.app_id, self.widget) {
            (Some(app), _) => EventSource::App(app),
            (None, true) => EventSource::Widget,
            (None, false) => EventSource::Server,
        }
    }
}

/// One record read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Event(SpooledEvent),
    /// These events are settled (delivered, or failed for good): never replay them.
    Ack(Vec<Uuid>),
}

/// Fixed bytes of an event record besides its strings.
pub const EVENT_RECORD_FIXED: usize = RECORD_HEADER_BYTES + 1 + 16 + 1 + 6 * 4;

fn seal(out: &mut [u8], start: usize) {
    let payload_len = out.len() - start - RECORD_HEADER_BYTES;
    let crc = crc32fast::hash(&out[start + RECORD_HEADER_BYTES..]);
    out[start + 2..start + 6].copy_from_slice(&(payload_len as u32).to_le_bytes());
    out[start + 6..start + 10].copy_from_slice(&crc.to_le_bytes());
}

fn open_record(out: &mut Vec<u8>, kind: u8) -> usize {
    let start = out.len();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&[0; 8]);
    out.push(kind);
    start
}

/// Appends an event record to `out`; returns its size.
#[allow(clippy::too_many_arguments)]
pub fn write_event(
    out: &mut Vec<u8>,
    id: Uuid,
    event_type: EventType,
    topic_arn: &str,
    group: Option<&str>,
    app_id: Option<&str>,
    widget: bool,
    category: &str,
    action: &str,
    body: &str,
) -> usize {
    let start = open_record(out, KIND_EVENT);
    out.extend_from_slice(id.as_bytes());
    let event_type = match event_type {
        EventType::Session => 0,
        EventType::CustomerAction => 1,
    };
    out.push(if widget {
        event_type | WIDGET_BIT
    } else {
        event_type
    });
    put_str(out, topic_arn);
    put_optional(out, group);
    put_optional(out, app_id);
    put_str(out, category);
    put_str(out, action);
    put_str(out, body);
    seal(out, start);
    out.len() - start
}

/// Appends the ack records for `ids` to `out`: each chunk twice (see the module doc).
/// Never more than [`ACK_ROOM_PER_EVENT`] per id.
pub fn write_acks(out: &mut Vec<u8>, ids: &[Uuid]) {
    for chunk in ids.chunks(ACK_CHUNK) {
        write_ack(out, chunk);
        write_ack(out, chunk);
    }
}

/// Appends one ack record for `ids` (at most [`ACK_CHUNK`]) to `out`.
fn write_ack(out: &mut Vec<u8>, ids: &[Uuid]) {
    let start = open_record(out, KIND_ACK);
    out.extend_from_slice(&(ids.len() as u32).to_le_bytes());
    for id in ids {
        out.extend_from_slice(id.as_bytes());
    }
    seal(out, start);
}

fn decode_payload(payload: &[u8]) -> Option<Record> {
    let mut f = Fields::new(payload);
    let record = match f.u8()? {
        KIND_EVENT => {
            let id = f.uuid()?;
            let kind = f.u8()?;
            let event_type = match kind & !WIDGET_BIT {
                0 => EventType::Session,
                1 => EventType::CustomerAction,
                _ => return None,
            };
            let topic_arn = f.string()?;
            let group = f.optional_string()?;
            let app_id = f.optional_string()?;
            Record::Event(SpooledEvent {
                id,
                event_type,
                topic_arn,
                group,
                app_id,
                widget: kind & WIDGET_BIT != 0,
                category: f.string()?,
                action: f.string()?,
                body: f.string()?,
            })
        }
        KIND_ACK => {
            let n = f.u32()? as usize;
            if n > MAX_PAYLOAD_BYTES / 16 {
                return None;
            }
            let ids = (0..n).map(|_| f.uuid()).collect::<Option<Vec<_>>>()?;
            Record::Ack(ids)
        }
        _ => return None,
    };
    // Trailing bytes mean the length lied.
    (f.at_end()).then_some(record)
}

/// What reading at one offset found.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// A record and the offset after it.
    Record(Record, usize),
    /// `skipped` bytes that hold no valid record, then the offset to go on from
    /// (a record starts there, or it is the end).
    Corrupt { skipped: usize, next: usize },
    /// The end, or an incomplete record at the end that more data may complete.
    End,
}

/// The segment format, for [`Reader`].
pub struct SpoolFormat;

impl Format for SpoolFormat {
    type Record = Record;
    const MAGIC: [u8; 2] = MAGIC;
    const ZERO_TAIL_IS_ROOM: bool = true;

    fn shape_ok(payload: &[u8]) -> bool {
        shape(payload).is_some()
    }

    fn decode(payload: &[u8]) -> Option<Record> {
        decode_payload(payload)
    }
}

/// What [`decode_payload`] checks, but the strings' UTF-8: the kind, the event type,
/// and lengths that add up to the payload.
fn shape(payload: &[u8]) -> Option<()> {
    let mut s = Shape::new(payload);
    match s.u8()? {
        KIND_EVENT => {
            s.skip(16)?;
            if s.u8()? & !WIDGET_BIT > 1 {
                return None;
            }
            s.string()?;
            s.optional_string()?;
            s.optional_string()?;
            s.string()?;
            s.string()?;
            s.string()?;
        }
        KIND_ACK => {
            let n = s.u32()? as usize;
            if n > MAX_PAYLOAD_BYTES / 16 {
                return None;
            }
            s.skip(16 * n)?;
        }
        _ => return None,
    }
    s.at_end().then_some(())
}

/// A segment's records, in order, through a bounded window.
pub type SegmentReader<S> = Reader<SpoolFormat, S>;

/// Moves `reader`, at the start of a segment, past its header (see [`records_start`]).
pub fn skip_header<S: Source>(reader: &mut SegmentReader<S>) -> io::Result<()> {
    let start = records_start(reader.peek(SEGMENT_HEADER.len())?);
    reader.skip(start as u64);
    Ok(())
}

/// Where a segment's records start: after the header, or (the header damaged) at the
/// start, from where the reader resynchronises like anywhere else.
pub fn records_start(data: &[u8]) -> usize {
    if data.starts_with(SEGMENT_HEADER) {
        SEGMENT_HEADER.len()
    } else if SEGMENT_HEADER.starts_with(data) {
        // Empty, or a header torn by a crash right after the file was created.
        data.len()
    } else {
        0
    }
}

/// Whether the bytes from `pos` could still become a valid record when more arrive:
/// the magic is there and the declared length runs past the end.
fn incomplete_at(buf: &[u8], pos: usize) -> bool {
    let rest = &buf[pos..];
    if rest.len() < RECORD_HEADER_BYTES {
        return MAGIC.starts_with(&rest[..rest.len().min(2)]);
    }
    let len = u32::from_le_bytes([rest[2], rest[3], rest[4], rest[5]]) as usize;
    rest[..2] == MAGIC
        && len > 0
        && len <= MAX_PAYLOAD_BYTES
        && rest.len() < RECORD_HEADER_BYTES + len
}

/// Reads the record at `pos` of bytes in memory (a file is read with
/// [`SegmentReader`]). `at_end_of_data` says whether `buf` is all there will ever be
/// (a finished segment) or more may follow (the segment being written): an
/// incomplete tail is `End` in the second case and corrupt in the first.
pub fn read_at(buf: &[u8], pos: usize, at_end_of_data: bool) -> Read {
    if pos >= buf.len() {
        return Read::End;
    }
    let mut reader = SegmentReader::new(buf, pos as u64, buf.len() as u64);
    match reader
        .next_item()
        .expect("bytes in memory read without error")
    {
        Item::Record(record) => Read::Record(record, reader.offset() as usize),
        Item::End => Read::End,
        Item::Damaged { .. } if !at_end_of_data && incomplete_at(buf, pos) => Read::End,
        Item::Damaged { from, to } => Read::Corrupt {
            skipped: (to - from) as usize,
            next: to as usize,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event(n: u8) -> SpooledEvent {
        SpooledEvent {
            id: Uuid::from_bytes([n; 16]),
            event_type: EventType::CustomerAction,
            topic_arn: "arn:aws:sns:us-east-1:123456789012:t.fifo".into(),
            group: n
                .is_multiple_of(2)
                .then(|| format!("https://chat.example.com/r{n}")),
            app_id: n.is_multiple_of(3).then(|| format!("app-{n}")),
            widget: n % 5 == 1,
            category: "Chat Session".into(),
            action: "closed".into(),
            body: format!(r#"{{"n":{n},"s":"ünï"}}"#),
        }
    }

    fn write(out: &mut Vec<u8>, e: &SpooledEvent) -> usize {
        write_event(
            out,
            e.id,
            e.event_type,
            &e.topic_arn,
            e.group.as_deref(),
            e.app_id.as_deref(),
            e.widget,
            &e.category,
            &e.action,
            &e.body,
        )
    }

    fn read_all(buf: &[u8]) -> (Vec<Record>, usize) {
        let (mut out, mut corrupt, mut pos) = (Vec::new(), 0, 0);
        loop {
            match read_at(buf, pos, true) {
                Read::Record(r, next) => {
                    out.push(r);
                    pos = next;
                }
                Read::Corrupt { next, .. } => {
                    corrupt += 1;
                    pos = next;
                }
                Read::End => return (out, corrupt),
            }
        }
    }

    #[test]
    fn events_and_acks_round_trip() {
        let mut buf = Vec::new();
        let size = write(&mut buf, &event(1));
        assert_eq!(
            size,
            EVENT_RECORD_FIXED
                + event(1).topic_arn.len()
                + event(1).group.map_or(0, |g| g.len())
                + event(1).app_id.map_or(0, |a| a.len())
                + event(1).category.len()
                + event(1).action.len()
                + event(1).body.len()
        );
        write(&mut buf, &event(2));
        write_ack(&mut buf, &[event(1).id, event(2).id]);
        let (records, corrupt) = read_all(&buf);
        assert_eq!(corrupt, 0);
        assert_eq!(
            records,
            vec![
                Record::Event(event(1)),
                Record::Event(event(2)),
                Record::Ack(vec![event(1).id, event(2).id])
            ]
        );
    }

    #[test]
    fn a_torn_tail_is_incomplete_while_writing_and_corrupt_once_finished() {
        let mut buf = Vec::new();
        write(&mut buf, &event(1));
        let whole = buf.len();
        write(&mut buf, &event(2));
        buf.truncate(buf.len() - 3);
        assert!(matches!(read_at(&buf, whole, false), Read::End));
        assert_eq!(
            read_at(&buf, whole, true),
            Read::Corrupt {
                skipped: buf.len() - whole,
                next: buf.len()
            }
        );
    }

    #[test]
    fn a_flipped_byte_costs_one_record_and_reading_resumes() {
        let mut buf = Vec::new();
        let mut starts = Vec::new();
        for n in 0..5 {
            starts.push(buf.len());
            write(&mut buf, &event(n));
        }
        buf[starts[2] + 30] ^= 0xFF;
        let (records, corrupt) = read_all(&buf);
        assert_eq!(corrupt, 1);
        let ids: Vec<u8> = records
            .iter()
            .map(|r| match r {
                Record::Event(e) => e.id.as_bytes()[0],
                Record::Ack(_) => 99,
            })
            .collect();
        assert_eq!(ids, [0, 1, 3, 4]);
    }

    /// The reader as it was before the window and the cheap checks, one offset at a
    /// time over the whole bytes: what [`SegmentReader`] must agree with.
    fn naive_items(buf: &[u8], start: usize) -> Vec<Item<Record>> {
        fn record(buf: &[u8], pos: usize) -> Option<(Record, usize)> {
            let h = buf.get(pos..pos + RECORD_HEADER_BYTES)?;
            let len = u32::from_le_bytes([h[2], h[3], h[4], h[5]]) as usize;
            let crc = u32::from_le_bytes([h[6], h[7], h[8], h[9]]);
            if h[..2] != MAGIC || len == 0 || len > MAX_PAYLOAD_BYTES {
                return None;
            }
            let payload = buf.get(pos + RECORD_HEADER_BYTES..pos + RECORD_HEADER_BYTES + len)?;
            if crc32fast::hash(payload) != crc {
                return None;
            }
            decode_payload(payload).map(|r| (r, pos + RECORD_HEADER_BYTES + len))
        }
        let (mut out, mut pos) = (Vec::new(), start);
        loop {
            if pos >= buf.len() {
                out.push(Item::End);
                return out;
            }
            if let Some((r, next)) = record(buf, pos) {
                out.push(Item::Record(r));
                pos = next;
            } else if buf[pos..].iter().all(|&b| b == 0) {
                out.push(Item::End);
                return out;
            } else {
                let next = (pos + 1..buf.len())
                    .find(|&c| record(buf, c).is_some())
                    .unwrap_or(buf.len());
                out.push(Item::Damaged {
                    from: pos as u64,
                    to: next as u64,
                });
                pos = next;
            }
        }
    }

    /// A whole segment in memory, read from its records' start: the reader (for what
    /// it counted) and every item, the end included.
    fn read_segment(data: &[u8]) -> (SegmentReader<&[u8]>, Vec<Item<Record>>) {
        let mut reader = SegmentReader::new(data, 0, data.len() as u64);
        skip_header(&mut reader).unwrap();
        let items = reader_items(&mut reader);
        (reader, items)
    }

    fn reader_items(reader: &mut SegmentReader<&[u8]>) -> Vec<Item<Record>> {
        let mut out = Vec::new();
        loop {
            let item = reader.next_item().unwrap();
            let end = item == Item::End;
            out.push(item);
            if end {
                return out;
            }
        }
    }

    /// A header that passes every cheap check: an event whose fixed fields parse and
    /// whose body runs `len` bytes, but whose checksum is wrong.
    fn fake_header(out: &mut Vec<u8>, len: u32) {
        let start = out.len();
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&0xDEAD_BEEFu32.to_le_bytes());
        out.push(KIND_EVENT);
        out.extend_from_slice(&[7; 16]);
        out.push(0);
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&crate::core::fields::NONE.to_le_bytes());
        out.extend_from_slice(&crate::core::fields::NONE.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        let fixed = (out.len() - start - RECORD_HEADER_BYTES + 4) as u32;
        out.extend_from_slice(&(len - fixed).to_le_bytes());
        assert!(
            shape(&out[start + RECORD_HEADER_BYTES..]).is_none(),
            "the body follows"
        );
    }

    /// Headers every `gap` bytes, each declaring a payload of about 1 MiB.
    fn fake_headers(size: usize, gap: usize) -> Vec<u8> {
        let mut one = Vec::new();
        fake_header(&mut one, (MAX_PAYLOAD_BYTES - 64) as u32);
        one.resize(gap, b'x');
        let mut out = SEGMENT_HEADER.to_vec();
        while out.len() < size {
            out.extend_from_slice(&one);
        }
        out.truncate(size);
        out
    }

    #[test]
    fn a_file_of_fake_headers_costs_work_linear_in_its_size() {
        let size = 4 << 20;
        for gap in [64, 4096] {
            let data = fake_headers(size, gap);
            let (reader, items) = read_segment(&data);
            assert_eq!(
                items,
                [
                    Item::Damaged {
                        from: SEGMENT_HEADER.len() as u64,
                        to: size as u64
                    },
                    Item::End
                ]
            );
            // Every offset checked one payload at a time would checksum about 1 MiB per
            // header: some 16,000 (and 256) bytes per byte of the file.
            assert!(
                reader.hashed() <= 4 * size as u64,
                "gap {gap}: {} bytes checksummed for a file of {size}",
                reader.hashed()
            );
            assert!(reader.window_capacity() <= super::super::frame::WINDOW_BYTES + 64);
        }
    }

    #[test]
    fn fake_headers_between_records_cost_work_linear_in_the_size() {
        // Each stretch starts at a fake header: were it checked over the length it
        // declares, every one would cost a megabyte.
        let mut data = SEGMENT_HEADER.to_vec();
        let mut n = 0u32;
        while data.len() < 2 << 20 {
            write(&mut data, &event(n as u8));
            fake_header(&mut data, (MAX_PAYLOAD_BYTES - 64) as u32);
            n += 1;
        }
        let (reader, items) = read_segment(&data);
        let records = items
            .iter()
            .filter(|i| matches!(i, Item::Record(_)))
            .count();
        let damaged = items
            .iter()
            .filter(|i| matches!(i, Item::Damaged { .. }))
            .count();
        assert_eq!((records, damaged), (n as usize, n as usize));
        assert!(
            reader.hashed() <= 4 * data.len() as u64,
            "{} bytes checksummed for a file of {}",
            reader.hashed(),
            data.len()
        );
    }

    #[test]
    fn a_reader_skipped_past_what_it_read_reads_from_there() {
        let mut data = SEGMENT_HEADER.to_vec();
        write(&mut data, &event(1));
        let at = data.len() as u64;
        write(&mut data, &event(2));
        for window in [1, 16, 4096] {
            let mut reader = SegmentReader::with_window(&data[..], 0, data.len() as u64, window);
            reader.skip(at);
            assert_eq!(
                reader_items(&mut reader),
                [Item::Record(Record::Event(event(2))), Item::End]
            );
        }
    }

    #[test]
    fn a_real_record_after_fake_headers_is_found() {
        let mut data = fake_headers(3 << 20, 64);
        let at = data.len();
        write(&mut data, &event(9));
        let (_, items) = read_segment(&data);
        assert_eq!(
            items,
            [
                Item::Damaged {
                    from: SEGMENT_HEADER.len() as u64,
                    to: at as u64
                },
                Item::Record(Record::Event(event(9))),
                Item::End
            ]
        );
    }

    /// A piece of a generated file.
    #[derive(Debug, Clone)]
    enum Piece {
        Event(u8),
        Ack(Vec<u8>),
        Garbage(Vec<u8>),
        Zeros(usize),
        /// A plausible header declaring this many bytes (more than follow, often).
        Fake(u32),
    }

    fn piece() -> impl Strategy<Value = Piece> {
        prop_oneof![
            4 => any::<u8>().prop_map(Piece::Event),
            1 => proptest::collection::vec(any::<u8>(), 1..4).prop_map(Piece::Ack),
            1 => proptest::collection::vec(any::<u8>(), 1..40).prop_map(Piece::Garbage),
            1 => (1usize..300).prop_map(Piece::Zeros),
            1 => (64u32..2000).prop_map(Piece::Fake),
        ]
    }

    fn build(pieces: &[Piece]) -> Vec<u8> {
        let mut out = SEGMENT_HEADER.to_vec();
        for p in pieces {
            match p {
                Piece::Event(n) => {
                    write(&mut out, &event(*n));
                }
                Piece::Ack(ns) => {
                    let ids: Vec<Uuid> = ns.iter().map(|n| event(*n).id).collect();
                    write_ack(&mut out, &ids);
                }
                Piece::Garbage(g) => out.extend_from_slice(g),
                Piece::Zeros(n) => out.resize(out.len() + n, 0),
                Piece::Fake(len) => fake_header(&mut out, *len),
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::core::fuzz_cases(256)))]

        /// Hostile bytes: never a panic, never a record that was not written whole, and
        /// reading always ends.
        #[test]
        fn any_bytes_read_safely(noise in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let (records, _) = read_all(&noise);
            for r in records {
                // A record found in noise must decode to something well formed.
                if let Record::Event(e) = r {
                    prop_assert!(e.body.len() <= MAX_PAYLOAD_BYTES);
                }
            }
        }

        /// Damage anywhere loses only the records it touches.
        #[test]
        fn damage_loses_only_what_it_touches(
            count in 1usize..20,
            cut in any::<proptest::sample::Index>(),
            flips in proptest::collection::vec((any::<proptest::sample::Index>(), 1u8..=255), 0..4),
        ) {
            let mut buf = Vec::new();
            let mut spans = Vec::new();
            for n in 0..count {
                let start = buf.len();
                write(&mut buf, &event(n as u8));
                spans.push(start..buf.len());
            }
            let cut = cut.index(buf.len() + 1);
            buf.truncate(cut);
            let written = buf.clone();
            for (at, mask) in &flips {
                if buf.is_empty() { break; }
                let at = at.index(buf.len());
                buf[at] ^= mask;
            }
            // Damaged by what the bytes are now, not by where flips landed: two flips
            // of one byte with the same mask cancel out.
            let damaged: Vec<bool> = spans
                .iter()
                .map(|s| s.clone().any(|p| p < buf.len() && buf[p] != written[p]))
                .collect();
            let (records, _) = read_all(&buf);
            let found: Vec<u8> = records.iter().filter_map(|r| match r {
                Record::Event(e) => Some(e.id.as_bytes()[0]),
                Record::Ack(_) => None,
            }).collect();
            for (i, s) in spans.iter().enumerate() {
                let intact = s.end <= cut && !damaged[i];
                prop_assert_eq!(found.contains(&(i as u8)), intact, "record {} of {}", i, count);
            }
        }

        /// However small the window, and however the file is damaged, the reader
        /// finds what reading every offset of the whole file finds: the same records,
        /// stretches and end.
        #[test]
        fn a_window_of_any_size_reads_as_the_whole_file_does(
            pieces in proptest::collection::vec(piece(), 0..24),
            flips in proptest::collection::vec((any::<proptest::sample::Index>(), 1u8..=255), 0..4),
            cut in any::<proptest::sample::Index>(),
            window in 1usize..400,
        ) {
            let mut data = build(&pieces);
            for (at, mask) in &flips {
                let at = at.index(data.len());
                data[at] ^= mask;
            }
            data.truncate(cut.index(data.len() + 1));
            let start = records_start(&data);
            let want = naive_items(&data, start);
            let mut reader = SegmentReader::with_window(&data[..], 0, data.len() as u64, window);
            skip_header(&mut reader).unwrap();
            prop_assert_eq!(reader_items(&mut reader), want.clone());
            prop_assert_eq!(read_segment(&data).1, want);
        }

        /// The cheap check never refuses a payload that decodes, whatever was done to it.
        #[test]
        fn what_decodes_has_the_shape(
            piece in piece(),
            flips in proptest::collection::vec((any::<proptest::sample::Index>(), 1u8..=255), 0..3),
            cut in any::<proptest::sample::Index>(),
        ) {
            let record = build(std::slice::from_ref(&piece));
            let mut payload = record[SEGMENT_HEADER.len()..].to_vec();
            if payload.len() > RECORD_HEADER_BYTES {
                payload.drain(..RECORD_HEADER_BYTES);
            }
            if matches!(piece, Piece::Event(_) | Piece::Ack(_)) {
                prop_assert!(decode_payload(&payload).is_some() && shape(&payload).is_some());
            }
            for (at, mask) in &flips {
                let at = at.index(payload.len());
                payload[at] ^= mask;
            }
            payload.truncate(cut.index(payload.len() + 1));
            if decode_payload(&payload).is_some() {
                prop_assert!(shape(&payload).is_some());
            }
        }
    }
}

//! The dead-letter file's format: a header, then records, each checksummed.
//!
//! ```text
//! header  "RCDEAD01"
//! record  magic 0xD1 0xE7 | payload length u32 LE | CRC-32 of payload u32 LE | payload
//! payload 1 (dead letter) | id [16] | eventType u8 | senderFault u8 | attempts u32 LE
//!         | firstAttemptMs i64 LE | lastAttemptMs i64 LE | topic | group | subject
//!         | app | category | action | code | reason | message
//! string  length u32 LE | UTF-8 bytes        (group, app: length 0xFFFFFFFF = none)
//! ```
//!
//! A record keeps what it takes to publish the event again exactly as it was: the
//! message byte for byte, the topic, the `MessageGroupId` as sent (none on a standard
//! topic), the subject, and the fields the message attributes are made of (the id,
//! which is also the FIFO deduplication id, category, action, eventType, app). Then
//! why SNS refused it: the AWS code and message and the sender-fault flag, how many
//! requests carried it, and when the first and the last was sent (epoch ms).
//!
//! The reader never trusts a length or a byte: a record whose magic, length, checksum
//! or fields are wrong is skipped, and reading resumes at the next offset where a
//! whole valid record starts; a damaged header costs nothing but itself. It is the
//! spool's reader (`spool/frame.rs`): a file is read through a bounded window, never
//! whole, and resynchronising costs time linear in its size whatever it holds.

use std::io;

use uuid::Uuid;

use crate::core::event::{EventType, APP_ATTRIBUTE, ATTRIBUTE_NAMES};
use crate::core::fields::{put_optional, put_str, Fields};
use crate::core::spool::frame::{Format, Item, Reader, Shape, Source, RECORD_HEADER_BYTES};

pub const FILE_HEADER: &[u8; 8] = b"RCDEAD01";
const MAGIC: [u8; 2] = [0xD1, 0xE7];
/// The AWS error message is kept up to this many bytes (cut at a character).
pub const MAX_REASON_BYTES: usize = 4096;
const KIND_DEAD_LETTER: u8 = 1;
/// One event SNS refused for good, for its own sake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The event id: `log()`'s return value and the FIFO `MessageDeduplicationId`.
    pub id: Uuid,
    pub event_type: EventType,
    pub topic_arn: String,
    /// The `MessageGroupId` it was sent with; `None` on a standard topic.
    pub message_group_id: Option<String>,
    pub subject: String,
    /// The `appId` attribute (events an Apps-Engine app logged).
    pub app_id: Option<String>,
    pub category: String,
    pub action: String,
    /// The SNS message exactly as published.
    pub message: String,
    /// The AWS error code, e.g. `InvalidParameter`.
    pub code: String,
    /// The AWS error message.
    pub reason: String,
    /// SNS said the fault was the sender's (`SenderFault: true`).
    pub sender_fault: bool,
    /// Requests that carried it, over every logger and replay.
    pub attempts: u32,
    pub first_attempt_ms: i64,
    pub last_attempt_ms: i64,
}

impl DeadLetter {
    /// The message attributes it is published with, in the order the publisher
    /// sends them (`event.rs` names them).
    pub fn attributes(&self) -> Vec<(&'static str, String)> {
        let values = [
            self.id.hyphenated().to_string(),
            self.category.clone(),
            self.action.clone(),
            self.event_type.as_str().to_owned(),
        ];
        let mut out: Vec<(&'static str, String)> =
            ATTRIBUTE_NAMES.into_iter().zip(values).collect();
        if let Some(app) = &self.app_id {
            out.push((APP_ATTRIBUTE, app.clone()));
        }
        out
    }

    /// Folds in a later record of the same event (a crash let two loggers refuse it,
    /// or a replay was refused again): one record per id, the attempts added up, the
    /// first time kept, the latest refusal's reason.
    pub fn merge(&mut self, later: DeadLetter) {
        self.attempts = self.attempts.saturating_add(later.attempts);
        self.first_attempt_ms = self.first_attempt_ms.min(later.first_attempt_ms);
        if later.last_attempt_ms >= self.last_attempt_ms {
            self.last_attempt_ms = later.last_attempt_ms;
            self.code = later.code;
            self.reason = later.reason;
            self.sender_fault = later.sender_fault;
        }
    }
}

/// `reason` cut to [`MAX_REASON_BYTES`] at a character boundary.
pub fn bounded_reason(reason: &str) -> String {
    if reason.len() <= MAX_REASON_BYTES {
        return reason.to_owned();
    }
    let mut end = MAX_REASON_BYTES;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_owned()
}

/// Appends `letter` as one record to `out`; returns its size. The reason is cut to
/// [`MAX_REASON_BYTES`], so a record of an SNS-sized message always fits.
pub fn write_record(out: &mut Vec<u8>, letter: &DeadLetter) -> usize {
    let start = out.len();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&[0; 8]);
    out.push(KIND_DEAD_LETTER);
    out.extend_from_slice(letter.id.as_bytes());
    out.push(match letter.event_type {
        EventType::Session => 0,
        EventType::CustomerAction => 1,
    });
    out.push(u8::from(letter.sender_fault));
    out.extend_from_slice(&letter.attempts.to_le_bytes());
    out.extend_from_slice(&letter.first_attempt_ms.to_le_bytes());
    out.extend_from_slice(&letter.last_attempt_ms.to_le_bytes());
    put_str(out, &letter.topic_arn);
    put_optional(out, letter.message_group_id.as_deref());
    put_str(out, &letter.subject);
    put_optional(out, letter.app_id.as_deref());
    put_str(out, &letter.category);
    put_str(out, &letter.action);
    put_str(out, &letter.code);
    put_str(out, &bounded_reason(&letter.reason));
    put_str(out, &letter.message);
    let payload_len = out.len() - start - RECORD_HEADER_BYTES;
    let crc = crc32fast::hash(&out[start + RECORD_HEADER_BYTES..]);
    out[start + 2..start + 6].copy_from_slice(&(payload_len as u32).to_le_bytes());
    out[start + 6..start + 10].copy_from_slice(&crc.to_le_bytes());
    out.len() - start
}

/// A whole file: the header and every record of `letters`, in order.
pub fn write_file(letters: &[DeadLetter]) -> Vec<u8> {
    let mut out = FILE_HEADER.to_vec();
    for letter in letters {
        write_record(&mut out, letter);
    }
    out
}

fn decode_payload(payload: &[u8]) -> Option<DeadLetter> {
    let mut f = Fields::new(payload);
    if f.u8()? != KIND_DEAD_LETTER {
        return None;
    }
    let id = Uuid::from_slice(f.take(16)?).ok()?;
    let event_type = match f.u8()? {
        0 => EventType::Session,
        1 => EventType::CustomerAction,
        _ => return None,
    };
    let sender_fault = match f.u8()? {
        0 => false,
        1 => true,
        _ => return None,
    };
    let letter = DeadLetter {
        id,
        event_type,
        sender_fault,
        attempts: f.u32()?,
        first_attempt_ms: f.i64()?,
        last_attempt_ms: f.i64()?,
        topic_arn: f.string()?,
        message_group_id: f.optional_string()?,
        subject: f.string()?,
        app_id: f.optional_string()?,
        category: f.string()?,
        action: f.string()?,
        code: f.string()?,
        reason: f.string()?,
        message: f.string()?,
    };
    // Trailing bytes mean the length lied; a longer reason was never written.
    (f.at_end() && letter.reason.len() <= MAX_REASON_BYTES).then_some(letter)
}

/// The dead-letter format, for [`Reader`].
pub struct DeadLetterFormat;

impl Format for DeadLetterFormat {
    type Record = DeadLetter;
    const MAGIC: [u8; 2] = MAGIC;
    // Nothing is allocated ahead in this file: zeros are damage like any other bytes.
    const ZERO_TAIL_IS_ROOM: bool = false;

    fn shape_ok(payload: &[u8]) -> bool {
        shape(payload).is_some()
    }

    fn decode(payload: &[u8]) -> Option<DeadLetter> {
        decode_payload(payload)
    }
}

/// What [`decode_payload`] checks, but the strings' UTF-8.
fn shape(payload: &[u8]) -> Option<()> {
    let mut s = Shape::new(payload);
    if s.u8()? != KIND_DEAD_LETTER {
        return None;
    }
    s.skip(16)?;
    if s.u8()? > 1 || s.u8()? > 1 {
        return None;
    }
    // attempts, first and last attempt
    s.skip(4 + 8 + 8)?;
    s.string()?; // topic
    s.optional_string()?; // group
    s.string()?; // subject
    s.optional_string()?; // app
    s.string()?; // category
    s.string()?; // action
    s.string()?; // code
    if s.string()? > MAX_REASON_BYTES {
        return None;
    }
    s.string()?; // message
    s.at_end().then_some(())
}

/// What a file holds: its records, one per event id, in the order each id first
/// appears, and what could not be read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Scan {
    pub letters: Vec<DeadLetter>,
    /// Stretches of bytes that hold no valid record (a damaged header is one).
    pub damaged: u64,
    pub damaged_bytes: u64,
}

/// Reads a dead-letter file held in memory (see [`scan_from`]).
pub fn scan(data: &[u8]) -> Scan {
    scan_from(data, data.len() as u64).expect("bytes in memory read without error")
}

/// Reads a dead-letter file of `len` bytes from `src`, skipping what is damaged: a
/// torn tail (a crash mid-write), a flipped byte, garbage, a missing header. It holds
/// the records found and a bounded window of the file, never the whole of it.
pub fn scan_from<S: Source>(src: S, len: u64) -> io::Result<Scan> {
    let mut reader = Reader::<DeadLetterFormat, S>::new(src, 0, len);
    if reader.peek(FILE_HEADER.len())? == FILE_HEADER {
        reader.skip(FILE_HEADER.len() as u64);
    }
    let mut out = Scan::default();
    let mut index: std::collections::HashMap<Uuid, usize> = std::collections::HashMap::new();
    loop {
        match reader.next_item()? {
            Item::Record(letter) => match index.get(&letter.id) {
                Some(&i) => out.letters[i].merge(letter),
                None => {
                    index.insert(letter.id, out.letters.len());
                    out.letters.push(letter);
                }
            },
            Item::Damaged { from, to } => {
                out.damaged += 1;
                out.damaged_bytes += to - from;
            }
            Item::End => return Ok(out),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn letter(n: u8) -> DeadLetter {
        DeadLetter {
            id: Uuid::from_bytes([n; 16]),
            event_type: if n.is_multiple_of(2) {
                EventType::CustomerAction
            } else {
                EventType::Session
            },
            topic_arn: "arn:aws:sns:us-east-1:123456789012:t.fifo".into(),
            message_group_id: (!n.is_multiple_of(3))
                .then(|| format!("https://chat.example.com/r{n}")),
            subject: "RC".into(),
            app_id: n.is_multiple_of(4).then(|| format!("app-{n}")),
            category: "Chat Session".into(),
            action: "closed".into(),
            message: format!(r#"{{"n":{n},"s":"ünï \u2028 🙂"}}"#),
            code: "InvalidParameter".into(),
            reason: "Invalid parameter: Message too long".into(),
            sender_fault: true,
            attempts: 1 + u32::from(n),
            first_attempt_ms: 1_700_000_000_000 + i64::from(n),
            last_attempt_ms: 1_700_000_000_500 + i64::from(n),
        }
    }

    #[test]
    fn a_file_round_trips_every_field() {
        let letters: Vec<DeadLetter> = (0..12).map(letter).collect();
        let scan = scan(&write_file(&letters));
        assert_eq!((scan.damaged, scan.damaged_bytes), (0, 0));
        assert_eq!(scan.letters, letters);
    }

    #[test]
    fn the_message_is_kept_byte_for_byte_and_a_long_reason_is_cut_at_a_character() {
        let mut l = letter(1);
        l.message = "{\"x\":\"\u{0}\u{7f}\\\"\u{2028}\"}".repeat(1000);
        l.reason = "é".repeat(MAX_REASON_BYTES);
        let back = scan(&write_file(std::slice::from_ref(&l))).letters;
        assert_eq!(back[0].message.as_bytes(), l.message.as_bytes());
        assert!(back[0].reason.len() <= MAX_REASON_BYTES);
        assert!(l.reason.starts_with(&back[0].reason));
    }

    #[test]
    fn one_record_per_id_attempts_add_up_and_the_latest_reason_wins() {
        let first = letter(5);
        let mut again = letter(5);
        again.attempts = 2;
        again.first_attempt_ms = first.first_attempt_ms + 10_000;
        again.last_attempt_ms = first.last_attempt_ms + 10_000;
        again.code = "KMSOptInRequired".into();
        let scan = scan(&write_file(&[first.clone(), letter(6), again.clone()]));
        assert_eq!(scan.letters.len(), 2);
        let merged = &scan.letters[0];
        assert_eq!(merged.attempts, first.attempts + 2);
        assert_eq!(merged.first_attempt_ms, first.first_attempt_ms);
        assert_eq!(merged.last_attempt_ms, again.last_attempt_ms);
        assert_eq!(merged.code, "KMSOptInRequired");
        assert_eq!(scan.letters[1], letter(6));
    }

    #[test]
    fn a_damaged_header_a_flipped_byte_and_a_torn_tail_cost_only_themselves() {
        let letters: Vec<DeadLetter> = (0..5).map(letter).collect();
        let mut data = FILE_HEADER.to_vec();
        let mut starts = Vec::new();
        for l in &letters {
            starts.push(data.len());
            write_record(&mut data, l);
        }
        data[3] ^= 0x20; // the header
        data[starts[2] + 40] ^= 0x01; // inside record 2
        data.truncate(data.len() - 7); // record 4 torn
        let scan = scan(&data);
        let ids: Vec<u8> = scan.letters.iter().map(|l| l.id.as_bytes()[0]).collect();
        assert_eq!(ids, [0, 1, 3]);
        assert_eq!(scan.damaged, 3);
    }

    #[test]
    fn the_attributes_are_the_publishers() {
        let l = letter(4);
        let names: Vec<&str> = l.attributes().iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            ["eventId", "category", "action", "eventType", "appId"]
        );
        assert_eq!(l.attributes()[0].1, l.id.hyphenated().to_string());
    }

    fn arb_letter() -> impl Strategy<Value = DeadLetter> {
        (
            any::<[u8; 16]>(),
            any::<bool>(),
            any::<bool>(),
            any::<u32>(),
            any::<i64>(),
            any::<i64>(),
            proptest::option::of(".{0,20}"),
            proptest::option::of(".{0,10}"),
            ".{0,200}",
            ".{0,40}",
        )
            .prop_map(
                |(
                    id,
                    session,
                    sender_fault,
                    attempts,
                    first,
                    last,
                    group,
                    app,
                    message,
                    reason,
                )| {
                    DeadLetter {
                        id: Uuid::from_bytes(id),
                        event_type: if session {
                            EventType::Session
                        } else {
                            EventType::CustomerAction
                        },
                        topic_arn: "arn:aws:sns:eu-west-1:123456789012:a".into(),
                        message_group_id: group,
                        subject: "RC".into(),
                        app_id: app,
                        category: "c".into(),
                        action: "a".into(),
                        message,
                        code: "InvalidParameter".into(),
                        reason,
                        sender_fault,
                        attempts,
                        first_attempt_ms: first,
                        last_attempt_ms: last,
                    }
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::core::fuzz_cases(256)))]

        /// Any records, distinct ids: read back exactly.
        #[test]
        fn any_records_round_trip(letters in proptest::collection::vec(arb_letter(), 0..8)) {
            let mut seen = std::collections::HashSet::new();
            let letters: Vec<DeadLetter> = letters.into_iter().filter(|l| seen.insert(l.id)).collect();
            let scan = scan(&write_file(&letters));
            prop_assert_eq!(scan.damaged, 0);
            prop_assert_eq!(scan.letters, letters);
        }

        /// Hostile bytes: never a panic, and whatever is found writes back to itself.
        #[test]
        fn any_bytes_read_safely(noise in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let found = scan(&noise);
            prop_assert!(found.damaged_bytes <= noise.len() as u64);
            prop_assert_eq!(scan(&write_file(&found.letters)).letters, found.letters);
        }

        /// Damage anywhere loses only the records it touches.
        #[test]
        fn damage_loses_only_what_it_touches(
            count in 1usize..16,
            cut in any::<proptest::sample::Index>(),
            flips in proptest::collection::vec((any::<proptest::sample::Index>(), 1u8..=255), 0..4),
        ) {
            let mut data = FILE_HEADER.to_vec();
            let mut spans = Vec::new();
            for n in 0..count {
                let start = data.len();
                write_record(&mut data, &letter(n as u8));
                spans.push(start..data.len());
            }
            let cut = cut.index(data.len() + 1);
            data.truncate(cut);
            let original = data.clone();
            for (at, mask) in &flips {
                if data.is_empty() { break; }
                let at = at.index(data.len());
                data[at] ^= mask;
            }
            // Judged by the bytes: two identical flips of one byte cancel out.
            let damaged: Vec<bool> = spans
                .iter()
                .map(|s| s.end <= cut && data[s.clone()] != original[s.clone()])
                .collect();
            let found: Vec<u8> = scan(&data).letters.iter().map(|l| l.id.as_bytes()[0]).collect();
            for (i, s) in spans.iter().enumerate() {
                let intact = s.end <= cut && !damaged[i];
                prop_assert_eq!(found.contains(&(i as u8)), intact, "record {} of {}", i, count);
            }
        }
    }
}

//! The framing the spool's segments and the dead-letter file share, and its one
//! reader. A record is `magic [2] | payload length u32 LE | CRC-32 of payload u32 LE
//! | payload`; what a payload holds is the format's ([`Format`]).
//!
//! The reader trusts no byte of a file (anyone who could write the folder may have
//! written it), and its cost is bounded by the file's size, whatever the file holds:
//!
//! - **Bounded memory.** A file is read through a window of [`WINDOW_BYTES`] (two of
//!   the largest records), never whole: a sparse file of any size costs the window,
//!   and the time to read it. There is no limit on a file's size to refuse it by: a
//!   segment written while the disk refused writes, or that keeps room for the acks of
//!   millions of unsettled events, is legitimately far larger than `segment_bytes`.
//! - **Linear resynchronisation.** After damage, reading resumes at the next offset
//!   where a whole valid record starts. Trying every offset with a checksum over the
//!   length it declares (up to 1 MiB) would make a file of fake headers cost about
//!   10^5 times its size. So each offset is first checked cheaply (the magic, a length
//!   that fits, [`Format::shape_ok`]: the payload's fixed fields and string lengths,
//!   without reading the strings), and one that passes has its checksum derived from
//!   prefix checksums of the window, in constant time ([`PrefixCrc`]: CRC-32 is
//!   linear, crc(A‖B) = crc(A)·x^(8|B|) ⊕ crc(B)). Where a record is expected (right
//!   after the last one) its checksum is computed over the payload, the fast way, but
//!   only while what such checks wasted on fake headers stays within what the reader
//!   moved past. Only a payload whose checksum matches is decoded; a forged one fails
//!   at its first nested header (a magic inside a string is not UTF-8), so decoding
//!   them costs about the distance between them.

use std::io;

/// Magic, length, checksum.
pub const RECORD_HEADER_BYTES: usize = 10;
/// The largest payload of either format (one SNS message with what goes with it).
pub const MAX_PAYLOAD_BYTES: usize = 1 << 20;
/// What the reader holds of a file at most: two of the largest records, so that a
/// record starting anywhere in the first half is whole in it.
pub const WINDOW_BYTES: usize = 2 * (RECORD_HEADER_BYTES + MAX_PAYLOAD_BYTES);

/// Zero bytes to compare with and to copy from, a block at a time (`memcmp` and
/// `memcpy`, fast in any build, where a loop over bytes is slow in a debug one).
pub(crate) static ZEROS: [u8; 64 << 10] = [0; 64 << 10];

/// One on-disk format: its magic and what its payloads hold.
pub trait Format {
    type Record;
    const MAGIC: [u8; 2];
    /// Zero bytes that run to the end of the data are room set aside, not damage.
    const ZERO_TAIL_IS_ROOM: bool;
    /// A cheap necessary condition for [`Format::decode`]: the fixed fields are in
    /// range and the string lengths add up to the payload. Never false for a payload
    /// that decodes.
    fn shape_ok(payload: &[u8]) -> bool;
    fn decode(payload: &[u8]) -> Option<Self::Record>;
}

/// Where a reader's bytes come from: a file, or bytes in memory.
pub trait Source {
    /// Reads at `offset` into `buf`; 0 at the end.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
}

impl Source for &[u8] {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let from = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.len());
        let n = buf.len().min(self.len() - from);
        buf[..n].copy_from_slice(&self[from..from + n]);
        Ok(n)
    }
}

impl Source for std::fs::File {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        use std::io::{Read as _, Seek as _};
        self.seek(io::SeekFrom::Start(offset))?;
        self.read(buf)
    }
}

/// What the reader met next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item<T> {
    Record(T),
    /// Bytes `from..to` (file offsets) hold no valid record; one starts at `to`, or
    /// the data ends there.
    Damaged {
        from: u64,
        to: u64,
    },
    /// The end of the data (or zero bytes up to it, where they are room).
    End,
}

/// Reads the records of one file (or of bytes in memory) in order, from an offset up
/// to an end, through a bounded window.
pub struct Reader<F: Format, S: Source> {
    src: S,
    /// Where the data ends (the file's length, or the end of what its writer wrote).
    end: u64,
    /// What was read and not let go of: `buf[0]` is at offset `base`.
    buf: Vec<u8>,
    base: u64,
    /// Where the next record is looked for.
    pos: u64,
    prefix: PrefixCrc,
    /// A record the last resynchronisation found, and the offset after it.
    found: Option<(F::Record, u64)>,
    /// How much is read at a time: [`WINDOW_BYTES`], less in tests that move the
    /// window often.
    window: usize,
    /// Payload bytes the record at the reader's offset may still be checksummed over
    /// directly and turn out not to be a record: what the reader moved past, plus one
    /// record. Past it, that check too goes through the prefixes (see `record_at`).
    direct_budget: u64,
    /// Bytes checksummed directly.
    hashed: u64,
}

impl<F: Format, S: Source> std::fmt::Debug for Reader<F, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("pos", &self.pos)
            .field("end", &self.end)
            .field("window", &(self.base, self.buf.len()))
            .finish()
    }
}

impl<F: Format, S: Source> Reader<F, S> {
    /// Reads `src` from `start` to `end`.
    pub fn new(src: S, start: u64, end: u64) -> Self {
        Reader {
            src,
            end,
            buf: Vec::new(),
            base: start,
            pos: start,
            prefix: PrefixCrc::default(),
            found: None,
            window: WINDOW_BYTES,
            direct_budget: MAX_PAYLOAD_BYTES as u64,
            hashed: 0,
        }
    }

    /// A reader that reads `window` bytes at a time (at least what one record needs),
    /// for tests and fuzz targets that move the window often. Below [`WINDOW_BYTES`]
    /// the work is no longer bounded by the file's size.
    pub fn with_window(src: S, start: u64, end: u64, window: usize) -> Self {
        Reader {
            window,
            ..Self::new(src, start, end)
        }
    }

    /// The most the window ever held.
    pub fn window_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Bytes checksummed so far, for the tests that bound the work.
    pub fn hashed(&self) -> u64 {
        self.hashed + self.prefix.hashed
    }

    /// The offset where the next record is looked for.
    pub fn offset(&self) -> u64 {
        self.pos
    }

    /// The data now ends at `end` (a file being written grew).
    pub fn extend_to(&mut self, end: u64) {
        self.end = self.end.max(end);
    }

    /// Up to `n` bytes from the current offset (fewer at the end), without moving.
    pub fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        self.fill(self.pos, n)?;
        let i = self.index(self.pos);
        let n = n.min(self.buf.len() - i);
        Ok(&self.buf[i..i + n])
    }

    /// Moves the offset forward by `n` bytes (past a header).
    pub fn skip(&mut self, n: u64) {
        self.pos = (self.pos + n).min(self.end.max(self.pos));
    }

    pub fn next_item(&mut self) -> io::Result<Item<F::Record>> {
        if let Some((record, after)) = self.found.take() {
            self.pos = after;
            return Ok(Item::Record(record));
        }
        if self.pos >= self.end {
            return Ok(Item::End);
        }
        let from = self.pos;
        if let Some((record, after)) = self.record_at(from, true)? {
            self.pos = after;
            self.direct_budget += after - from;
            return Ok(Item::Record(record));
        }
        if self.at_data_end(from)? {
            self.pos = from;
            return Ok(Item::End);
        }
        let mut start = from + 1;
        if F::ZERO_TAIL_IS_ROOM {
            match self.first_nonzero(from)? {
                // Room set aside, never written.
                None => {
                    self.pos = self.data_end();
                    return Ok(Item::End);
                }
                Some(at) => start = start.max(at),
            }
        }
        let to = self.resync(start)?;
        self.pos = to;
        self.direct_budget += to - from;
        Ok(Item::Damaged { from, to })
    }

    /// Whether `at` is where the data ends (the source may end before `end`).
    fn at_data_end(&mut self, at: u64) -> io::Result<bool> {
        self.fill(at, 1)?;
        Ok(self.index(at) >= self.buf.len())
    }

    /// The offset the data ends at, as far as it was read (the whole of it, when the
    /// reader is at its end).
    fn data_end(&self) -> u64 {
        self.base + self.buf.len() as u64
    }

    fn index(&self, at: u64) -> usize {
        debug_assert!(at >= self.base);
        (at - self.base) as usize
    }

    /// Whether every byte up to `end` is in the window.
    fn complete(&self) -> bool {
        self.data_end() >= self.end
    }

    /// Makes sure the window holds `need` bytes from `at`, or everything up to the
    /// end; when it must read, it first lets go of what is before `at`.
    fn fill(&mut self, at: u64, need: usize) -> io::Result<()> {
        let i = self.index(at);
        if i <= self.buf.len() && (self.buf.len() - i >= need || self.complete()) {
            return Ok(());
        }
        // `at` may be past the window (skipped to).
        self.buf.drain(..i.min(self.buf.len()));
        self.base = at;
        self.prefix.clear();
        let target = self.window.max(need);
        while self.buf.len() < target && !self.complete() {
            let room = (target - self.buf.len()) as u64;
            let want = room.min(self.end - self.data_end()) as usize;
            let old = self.buf.len();
            let offset = self.data_end();
            // Exactly: doubling would hold twice the window.
            self.buf.reserve_exact(want);
            while self.buf.len() < old + want {
                let n = (old + want - self.buf.len()).min(ZEROS.len());
                self.buf.extend_from_slice(&ZEROS[..n]);
            }
            let n = loop {
                match self.src.read_at(offset, &mut self.buf[old..]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other,
                }
            };
            let n = match n {
                Ok(n) => n,
                Err(e) => {
                    self.buf.truncate(old);
                    return Err(e);
                }
            };
            self.buf.truncate(old + n);
            if n == 0 {
                // The source is shorter than it was said to be: it ends here.
                self.end = self.data_end();
            }
        }
        Ok(())
    }

    /// The first byte that is not zero from `at` on, or `None` if zeros run to the
    /// end. Reads through the file without holding more than the window.
    fn first_nonzero(&mut self, mut at: u64) -> io::Result<Option<u64>> {
        loop {
            self.fill(at, 1)?;
            let i = self.index(at);
            if let Some(k) = first_nonzero(&self.buf[i..]) {
                return Ok(Some(at + k as u64));
            }
            if self.complete() {
                return Ok(None);
            }
            at = self.data_end();
        }
    }

    /// The first offset from `start` where a whole valid record starts (it is kept
    /// in `found`), or the end of the data.
    fn resync(&mut self, start: u64) -> io::Result<u64> {
        let mut at = start;
        loop {
            self.fill(at, 1)?;
            let i = self.index(at);
            let Some(k) = self.buf[i..].iter().position(|&b| b == F::MAGIC[0]) else {
                if self.complete() {
                    return Ok(self.data_end());
                }
                at = self.data_end();
                continue;
            };
            at += k as u64;
            if let Some(found) = self.record_at(at, false)? {
                self.found = Some(found);
                return Ok(at);
            }
            at += 1;
        }
    }

    /// A whole valid record at `at`, and the offset after it. Cheap checks first, then
    /// the checksum: over the payload where records are expected (`expected`, the
    /// reader's offset) while the direct budget lasts, from the window's prefixes
    /// otherwise. Were it always over the payload, a fake header at the start of
    /// every stretch would cost the length it declares, each time; the budget bounds
    /// what such checks waste by what the reader moved past.
    fn record_at(&mut self, at: u64, expected: bool) -> io::Result<Option<(F::Record, u64)>> {
        self.fill(at, RECORD_HEADER_BYTES)?;
        let i = self.index(at);
        let Some(header) = self.buf.get(i..i + RECORD_HEADER_BYTES) else {
            return Ok(None);
        };
        if header[..2] != F::MAGIC {
            return Ok(None);
        }
        let len = u32::from_le_bytes([header[2], header[3], header[4], header[5]]) as usize;
        let crc = u32::from_le_bytes([header[6], header[7], header[8], header[9]]);
        if len == 0 || len > MAX_PAYLOAD_BYTES || at + (RECORD_HEADER_BYTES + len) as u64 > self.end
        {
            return Ok(None);
        }
        self.fill(at, RECORD_HEADER_BYTES + len)?;
        let start = self.index(at) + RECORD_HEADER_BYTES;
        let Some(payload) = self.buf.get(start..start + len) else {
            return Ok(None);
        };
        if !F::shape_ok(payload) {
            return Ok(None);
        }
        let direct = expected && len as u64 <= self.direct_budget;
        let sum = if direct {
            self.hashed += len as u64;
            crc32fast::hash(payload)
        } else {
            self.prefix.crc(&self.buf, start, start + len)
        };
        let after = at + (RECORD_HEADER_BYTES + len) as u64;
        let record = if sum == crc {
            F::decode(&self.buf[start..start + len])
        } else {
            None
        };
        if direct && record.is_none() {
            self.direct_budget -= len as u64;
        }
        Ok(record.map(|r| (r, after)))
    }
}

fn first_nonzero(bytes: &[u8]) -> Option<usize> {
    // Whole blocks first: a sparse gigabyte is mostly zeros.
    const BLOCK: usize = 4096;
    let mut at = 0;
    for block in bytes.chunks(BLOCK) {
        if block != &ZEROS[..block.len()] {
            return block.iter().position(|&b| b != 0).map(|k| at + k);
        }
        at += block.len();
    }
    None
}

/// The payload's fields in order, by their lengths only: what [`Format::shape_ok`]
/// walks. Every step fails past the end.
pub struct Shape<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Shape<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Shape { buf, pos: 0 }
    }

    pub fn skip(&mut self, n: usize) -> Option<()> {
        let end = self.pos.checked_add(n)?;
        (end <= self.buf.len()).then(|| self.pos = end)
    }

    pub fn u8(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    pub fn u32(&mut self) -> Option<u32> {
        let b = self.buf.get(self.pos..self.pos + 4)?;
        self.pos += 4;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A string: its length, then that many bytes (not read). Returns its length.
    pub fn string(&mut self) -> Option<usize> {
        let n = self.u32()? as usize;
        self.skip(n).map(|()| n)
    }

    /// A string that may be absent ([`crate::core::fields::NONE`]).
    pub fn optional_string(&mut self) -> Option<()> {
        let n = self.u32()?;
        if n == crate::core::fields::NONE {
            return Some(());
        }
        self.skip(n as usize)
    }

    pub fn at_end(&self) -> bool {
        self.pos == self.buf.len()
    }
}

/// CRC-32 of any stretch of a window in constant time, from the CRC of every
/// [`PrefixCrc::BLOCK`]-byte prefix of it, extended lazily as far as asked. It holds
/// while the window only grows at its end; [`PrefixCrc::clear`] when it moves.
#[derive(Debug, Default)]
pub struct PrefixCrc {
    /// `blocks[k]` is the CRC of the window's first `k * BLOCK` bytes.
    blocks: Vec<u32>,
    /// Bytes checksummed so far.
    hashed: u64,
}

impl PrefixCrc {
    const BLOCK: usize = 64;

    pub fn clear(&mut self) {
        self.blocks.clear();
    }

    /// The CRC of `buf[..x]`.
    fn prefix(&mut self, buf: &[u8], x: usize) -> u32 {
        if self.blocks.is_empty() {
            self.blocks.push(0);
        }
        let k = x / Self::BLOCK;
        while self.blocks.len() <= k {
            let j = self.blocks.len() - 1;
            let mut h = crc32fast::Hasher::new_with_initial(self.blocks[j]);
            h.update(&buf[j * Self::BLOCK..(j + 1) * Self::BLOCK]);
            self.blocks.push(h.finalize());
            self.hashed += Self::BLOCK as u64;
        }
        let mut h = crc32fast::Hasher::new_with_initial(self.blocks[k]);
        h.update(&buf[k * Self::BLOCK..x]);
        self.hashed += (x - k * Self::BLOCK) as u64;
        h.finalize()
    }

    /// The CRC of `buf[s..e]`: crc(buf[..e]) = crc(buf[..s])·x^(8(e-s)) ⊕ crc(buf[s..e]).
    pub fn crc(&mut self, buf: &[u8], s: usize, e: usize) -> u32 {
        let head = self.prefix(buf, s);
        self.prefix(buf, e) ^ shift(head, e - s)
    }
}

/// The CRC-32 polynomial, reflected.
const POLY: u32 = 0xEDB8_8320;

/// a·b modulo the polynomial, in the reflected representation (x^0 is bit 31), as
/// zlib's `multmodp`.
fn multmodp(a: u32, mut b: u32) -> u32 {
    let mut p = 0;
    for bit in (0..32).rev() {
        if a & (1 << bit) != 0 {
            p ^= b;
        }
        b = if b & 1 != 0 { (b >> 1) ^ POLY } else { b >> 1 };
    }
    p
}

/// x^(8n) modulo the polynomial for n < 2^20 + 2^11, from two tables of 1,024 and
/// 1,026 powers: by n's low ten bits and by the rest.
fn x8n(n: usize) -> u32 {
    static TABLES: std::sync::OnceLock<(Vec<u32>, Vec<u32>)> = std::sync::OnceLock::new();
    let (low, high) = TABLES.get_or_init(|| {
        let one = 1u32 << 31;
        let x = 1u32 << 30;
        let x8 = (0..3).fold(x, |p, _| multmodp(p, p));
        let mut low = vec![one; 1024];
        for i in 1..1024 {
            low[i] = multmodp(low[i - 1], x8);
        }
        let step = multmodp(low[1023], x8);
        let mut high = vec![one; (MAX_PAYLOAD_BYTES >> 10) + 2];
        for i in 1..high.len() {
            high[i] = multmodp(high[i - 1], step);
        }
        (low, high)
    });
    multmodp(low[n & 1023], high[n >> 10])
}

/// The CRC of A, moved past `n` more bytes: crc(A‖B) = shift(crc(A), |B|) ⊕ crc(B).
fn shift(crc: u32, n: usize) -> u32 {
    multmodp(x8n(n), crc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::core::fuzz_cases(256)))]

        /// The identity the resynchronisation rests on.
        #[test]
        fn a_crc_moves_past_bytes_as_crc32_says(
            a in proptest::collection::vec(any::<u8>(), 0..3000),
            b in proptest::collection::vec(any::<u8>(), 0..3000),
        ) {
            let whole: Vec<u8> = a.iter().chain(&b).copied().collect();
            prop_assert_eq!(
                crc32fast::hash(&whole),
                shift(crc32fast::hash(&a), b.len()) ^ crc32fast::hash(&b)
            );
        }

        /// Any stretch's CRC from the prefixes is the CRC computed over it.
        #[test]
        fn prefix_checksums_give_any_stretch(
            data in proptest::collection::vec(any::<u8>(), 0..5000),
            s in any::<proptest::sample::Index>(),
            e in any::<proptest::sample::Index>(),
        ) {
            let (s, e) = (s.index(data.len() + 1), e.index(data.len() + 1));
            let (s, e) = (s.min(e), s.max(e));
            let mut p = PrefixCrc::default();
            prop_assert_eq!(p.crc(&data, s, e), crc32fast::hash(&data[s..e]));
        }
    }

    #[test]
    fn the_largest_shift_is_in_the_tables() {
        let b = vec![0xA5u8; MAX_PAYLOAD_BYTES + RECORD_HEADER_BYTES];
        let a = b"prefix";
        let whole: Vec<u8> = a.iter().chain(&b).copied().collect();
        assert_eq!(
            crc32fast::hash(&whole),
            shift(crc32fast::hash(a), b.len()) ^ crc32fast::hash(&b)
        );
    }
}

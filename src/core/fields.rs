//! The binary fields of the records this library writes to disk (the spool's and the
//! dead-letter store's): little-endian integers, a string as its u32 length then its
//! UTF-8 bytes, and `u32::MAX` as the length of an absent string. One codec, so the
//! two formats cannot drift apart in how they spell a field. A leaf: it imports
//! nothing of the crate.

use uuid::Uuid;

/// The length that marks an absent string.
pub const NONE: u32 = u32::MAX;

/// Appends `s` as a string field.
pub fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Appends `s` as a string field that may be absent.
pub fn put_optional(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => put_str(out, s),
        None => out.extend_from_slice(&NONE.to_le_bytes()),
    }
}

/// Reads a payload's fields in order, refusing anything out of bounds or not UTF-8.
pub struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Whether every byte of the payload was read.
    pub fn at_end(&self) -> bool {
        self.pos == self.buf.len()
    }

    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    pub fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    pub fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn i64(&mut self) -> Option<i64> {
        self.take(8)
            .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    pub fn uuid(&mut self) -> Option<Uuid> {
        self.take(16).and_then(|b| Uuid::from_slice(b).ok())
    }

    pub fn string(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        std::str::from_utf8(self.take(n)?).ok().map(str::to_owned)
    }

    /// `Some(None)` for an absent string, `None` for a malformed one.
    pub fn optional_string(&mut self) -> Option<Option<String>> {
        let save = self.pos;
        if self.u32()? == NONE {
            return Some(None);
        }
        self.pos = save;
        self.string().map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_and_refuse_what_is_out_of_bounds() {
        let mut out = vec![7u8];
        put_str(&mut out, "héllo");
        put_optional(&mut out, None);
        put_optional(&mut out, Some(""));
        out.extend_from_slice(&(-3i64).to_le_bytes());
        let mut f = Fields::new(&out);
        assert_eq!(f.u8(), Some(7));
        assert_eq!(f.string().as_deref(), Some("héllo"));
        assert_eq!(f.optional_string(), Some(None));
        assert_eq!(f.optional_string(), Some(Some(String::new())));
        assert_eq!(f.i64(), Some(-3));
        assert!(f.at_end());
        assert_eq!(f.u8(), None, "nothing past the end");
        // A length past the payload, and bytes that are not UTF-8.
        let mut bad = Fields::new(&[9, 0, 0, 0, b'a']);
        assert_eq!(bad.string(), None);
        let mut bad = Fields::new(&[1, 0, 0, 0, 0xff]);
        assert_eq!(bad.string(), None);
    }
}

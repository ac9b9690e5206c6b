//! The readers as they were before the window and the cheap checks: every offset in
//! turn, over the whole bytes, each candidate checksummed over the length it declares.
//! Slow on large or crafted input, and plainly right: what the fuzz targets hold the
//! real reader (`spool/frame.rs`) to.

use rocketchat_sns_analytics::core::spool::frame::{
    Format, Item, MAX_PAYLOAD_BYTES, RECORD_HEADER_BYTES,
};

fn record<F: Format>(buf: &[u8], pos: usize) -> Option<(F::Record, usize)> {
    let h = buf.get(pos..pos.checked_add(RECORD_HEADER_BYTES)?)?;
    let len = u32::from_le_bytes([h[2], h[3], h[4], h[5]]) as usize;
    let crc = u32::from_le_bytes([h[6], h[7], h[8], h[9]]);
    if h[..2] != F::MAGIC || len == 0 || len > MAX_PAYLOAD_BYTES {
        return None;
    }
    let start = pos + RECORD_HEADER_BYTES;
    let payload = buf.get(start..start + len)?;
    if crc32fast::hash(payload) != crc {
        return None;
    }
    F::decode(payload).map(|r| (r, start + len))
}

/// Every item from `start` to the end of `buf`, the last one `End`.
pub fn items<F: Format>(buf: &[u8], start: usize) -> Vec<Item<F::Record>> {
    let (mut out, mut pos) = (Vec::new(), start);
    loop {
        if pos >= buf.len() {
            out.push(Item::End);
            return out;
        }
        if let Some((r, next)) = record::<F>(buf, pos) {
            out.push(Item::Record(r));
            pos = next;
        } else if F::ZERO_TAIL_IS_ROOM && buf[pos..].iter().all(|&b| b == 0) {
            out.push(Item::End);
            return out;
        } else {
            let next = (pos + 1..buf.len())
                .find(|&c| record::<F>(buf, c).is_some())
                .unwrap_or(buf.len());
            out.push(Item::Damaged {
                from: pos as u64,
                to: next as u64,
            });
            pos = next;
        }
    }
}

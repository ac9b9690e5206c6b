//! The segment reader on arbitrary bytes, as the spool reads a file: through its
//! bounded window, with the cheap checks and the checksums derived from prefixes. It
//! must find exactly what the plain reader (`naive.rs`: every offset, every checksum
//! over its payload) finds, records, damaged stretches and end alike, whatever the
//! window's size (the input's length picks a small one, so that the window moves
//! often); and it must never hold more than one window.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rocketchat_sns_analytics::core::spool::frame::{Item, Reader, WINDOW_BYTES};
use rocketchat_sns_analytics::core::spool::record::{records_start, skip_header, SpoolFormat};

mod naive;

fn read_all(
    mut reader: Reader<SpoolFormat, &[u8]>,
) -> (Vec<Item<<SpoolFormat as rocketchat_sns_analytics::core::spool::frame::Format>::Record>>, usize) {
    skip_header(&mut reader).expect("bytes in memory");
    let mut out = Vec::new();
    loop {
        let item = reader.next_item().expect("bytes in memory");
        let end = item == Item::End;
        out.push(item);
        if end {
            return (out, reader.window_capacity());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // Picked by the length, so that the inputs are files as they are.
    let window = 1 + data.len() * 7 % 1021;
    let want = naive::items::<SpoolFormat>(data, records_start(data));
    let len = data.len() as u64;
    let (whole, capacity) = read_all(Reader::new(data, 0, len));
    assert_eq!(whole, want, "the reader finds what reading every offset finds");
    assert!(capacity <= WINDOW_BYTES.max(data.len()) + 64, "one window");
    let (small, _) = read_all(Reader::with_window(data, 0, len, window));
    assert_eq!(small, want, "with a window of {window} bytes");
    // Stretches are contiguous and end where a record starts or the data ends.
    let mut at = records_start(data) as u64;
    for item in &whole {
        if let Item::Damaged { from, to } = item {
            assert!(*from >= at && to > from && *to <= len);
            at = *to;
        }
    }
});

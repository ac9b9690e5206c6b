//! The dead-letter reader on any bytes: a damaged, truncated or hostile file must never
//! panic, hang or invent a record. It must find what the plain reader of `naive.rs`
//! finds (every offset, every checksum over its payload), whatever the window's size
//! (the input's length picks a small one); the store must read the same from the file on
//! disk; and what it finds must be well formed: one record per event id, and written
//! back it reads back the same with nothing damaged.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use rocketchat_sns_analytics::core::deadletter::{
    scan, scan_from, write_file, DeadLetter, DeadLetterFormat, DeadLetterStore, Scan,
    FILE_HEADER,
};
use rocketchat_sns_analytics::core::spool::frame::{Item, Reader};
use uuid::Uuid;

mod naive;
mod scratch;
use scratch::scratch_dir;

/// What the store makes of the plain reader's items: one record per id, merged.
fn naive_scan(data: &[u8]) -> Scan {
    let start = if data.starts_with(FILE_HEADER) { FILE_HEADER.len() } else { 0 };
    let mut out = Scan::default();
    let mut index: HashMap<Uuid, usize> = HashMap::new();
    for item in naive::items::<DeadLetterFormat>(data, start) {
        match item {
            Item::Record(letter) => merge(&mut out.letters, &mut index, letter),
            Item::Damaged { from, to } => {
                out.damaged += 1;
                out.damaged_bytes += to - from;
            }
            Item::End => {}
        }
    }
    out
}

fn merge(letters: &mut Vec<DeadLetter>, index: &mut HashMap<Uuid, usize>, letter: DeadLetter) {
    match index.get(&letter.id) {
        Some(&i) => letters[i].merge(letter),
        None => {
            index.insert(letter.id, letters.len());
            letters.push(letter);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let found = scan(data);
    assert_eq!(found, naive_scan(data), "what reading every offset finds");
    assert!(found.damaged_bytes <= data.len() as u64);
    assert_eq!(found.damaged == 0, found.damaged_bytes == 0);
    let mut ids = std::collections::HashSet::new();
    assert!(
        found.letters.iter().all(|l| ids.insert(l.id)),
        "one record per id"
    );
    let again = scan(&write_file(&found.letters));
    assert_eq!(again.damaged, 0);
    assert_eq!(again.letters, found.letters);

    // Through a small window, the window moving often.
    // Picked by the length, so that the inputs are files as they are.
    let window = 1 + data.len() * 7 % 1021;
    let mut reader = Reader::<DeadLetterFormat, &[u8]>::with_window(data, 0, data.len() as u64, window);
    if data.starts_with(FILE_HEADER) {
        reader.skip(FILE_HEADER.len() as u64);
    }
    let mut small = Scan::default();
    let mut index = HashMap::new();
    loop {
        match reader.next_item().expect("bytes in memory") {
            Item::Record(letter) => merge(&mut small.letters, &mut index, letter),
            Item::Damaged { from, to } => {
                small.damaged += 1;
                small.damaged_bytes += to - from;
            }
            Item::End => break,
        }
    }
    assert_eq!(small, found, "with a window of {window} bytes");
    assert_eq!(scan_from(data, data.len() as u64).expect("bytes in memory"), found);

    // The store reads the same from the file.
    let spool = scratch_dir();
    let store = DeadLetterStore::in_spool(spool.path(), u64::MAX);
    std::fs::create_dir(store.dir()).unwrap();
    std::fs::write(store.dir().join("records.dlq"), data).unwrap();
    assert_eq!(store.read().expect("the store reads its file"), found);
});

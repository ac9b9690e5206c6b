//! The dead-letter reader on any bytes: a damaged, truncated or hostile file must never
//! panic, hang or invent a record. Whatever it finds must be well formed: one record
//! per event id, and written back it reads back the same with nothing damaged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rocketchat_sns_analytics::core::deadletter::{scan, write_file};

fuzz_target!(|data: &[u8]| {
    let found = scan(data);
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
});

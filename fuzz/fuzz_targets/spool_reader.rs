//! The spool's replay path on arbitrary bytes: the input is a folder's segment files
//! one after the other (cut before every segment header), as a logger finds them on
//! start. Opening never fails and never panics; replay hands out exactly the events
//! it counted, each once, in the files' order (as the plain reader of `naive.rs`
//! finds them, independently of the spool's own); settling them all leaves nothing,
//! and a second logger on the folder finds nothing to replay.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use rocketchat_sns_analytics::core::spool::frame::Item;
use rocketchat_sns_analytics::core::spool::record::{
    records_start, Record, SpoolFormat, SEGMENT_HEADER,
};
use rocketchat_sns_analytics::core::spool::{Spool, SpoolLock, DEFAULT_SEGMENT_BYTES};
use uuid::Uuid;

mod naive;
mod scratch;
use scratch::scratch_dir;

/// More files than this adds nothing the fuzzer would not find with fewer.
const MAX_SEGMENTS: usize = 16;

/// The input cut before every segment header after the first byte.
fn segments(data: &[u8]) -> Vec<&[u8]> {
    let mut cuts = vec![0];
    for i in 1..data.len() {
        if data[i..].starts_with(SEGMENT_HEADER) && cuts.len() < MAX_SEGMENTS {
            cuts.push(i);
        }
    }
    cuts.push(data.len());
    cuts.windows(2).map(|w| &data[w[0]..w[1]]).collect()
}

/// What the files hold, read independently of the spool: unsettled events by id, in
/// the order a replay meets them first.
fn unsettled(files: &[&[u8]]) -> Vec<Uuid> {
    let mut events = Vec::new();
    let mut acked = HashSet::new();
    for data in files {
        for item in naive::items::<SpoolFormat>(data, records_start(data)) {
            match item {
                Item::Record(Record::Event(e)) => events.push(e.id),
                Item::Record(Record::Ack(ids)) => acked.extend(ids),
                Item::Damaged { .. } | Item::End => {}
            }
        }
    }
    let mut seen = HashSet::new();
    events
        .into_iter()
        .filter(|id| !acked.contains(id) && seen.insert(*id))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let files = segments(data);
    let dir = scratch_dir();
    for (i, bytes) in files.iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i:010}.seg")), bytes).unwrap();
    }
    let want = unsettled(&files);

    let lock = SpoolLock::acquire(dir.path()).expect("the folder locks");
    let (mut spool, recovered) =
        Spool::open(lock, DEFAULT_SEGMENT_BYTES).expect("opening never fails on content");
    assert_eq!(recovered.events, want.len() as u64, "counted as the files say");
    assert_eq!(spool.live_events(), recovered.events);
    assert_eq!(spool.backlog_events(), recovered.events);
    let damage: u64 = spool.take_damage().iter().map(|d| d.stretches).sum();
    assert_eq!(damage, recovered.corrupt_records, "each stretch reported once");

    let mut replayed = Vec::new();
    loop {
        let batch = spool.read_backlog(7, 64 << 10).expect("the files read back");
        if batch.is_empty() {
            break;
        }
        assert!(spool.backlog_events() <= spool.live_events());
        replayed.extend(batch);
    }
    assert!(!spool.has_backlog(), "replay ends");
    assert_eq!(spool.backlog_events(), 0);
    assert!(spool.take_vanished().is_empty());
    let ids: Vec<Uuid> = replayed.iter().map(|(e, _)| e.id).collect();
    assert_eq!(ids, want, "each unsettled event once, in the files' order");

    let settled: Vec<(Uuid, u32)> = replayed.iter().map(|(e, seg)| (e.id, *seg)).collect();
    spool.ack(&settled);
    spool.close().expect("the acks are written");
    assert_eq!(spool.live_events(), 0);
    assert_eq!(spool.spooled(), 0);
    drop(spool);

    let lock = SpoolLock::acquire(dir.path()).expect("the folder locks again");
    let (spool, again) = Spool::open(lock, DEFAULT_SEGMENT_BYTES).expect("reopens");
    assert_eq!(again.events, 0, "nothing settled comes back");
    assert_eq!(spool.live_events(), 0);
});

use std::path::Path;

use proptest::prelude::*;

use super::*;
use crate::core::event::EventType;

const ARN: &str = "arn:aws:sns:us-east-1:123456789012:t.fifo";

fn event(n: u32) -> EncodedEvent {
    EncodedEvent::new(
        Uuid::from_u128(n as u128 + 1),
        format!(r#"{{"n":{n}}}"#),
        "c",
        "a",
        EventType::Session,
        0,
        n.is_multiple_of(3).then(|| format!("g{n}").into()),
        n.is_multiple_of(4).then(|| format!("app{n}").into()),
    )
}

fn n_of(e: &SpooledEvent) -> u32 {
    (e.id.as_u128() - 1) as u32
}

fn open(dir: &Path, segment_bytes: u64) -> (Spool, Recovered) {
    Spool::open(SpoolLock::acquire(dir).unwrap(), segment_bytes).unwrap()
}

fn replay_all(spool: &mut Spool) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    loop {
        let batch = spool.read_backlog(7, u64::MAX).unwrap();
        if batch.is_empty() {
            assert!(!spool.has_backlog());
            return out;
        }
        out.extend(batch.iter().map(|(e, seg)| (n_of(e), *seg)));
    }
}

#[test]
fn unsettled_events_are_replayed_in_order_by_the_next_logger() {
    let dir = tempfile::tempdir().unwrap();
    let (mut spool, recovered) = open(dir.path(), DEFAULT_SEGMENT_BYTES);
    assert_eq!(recovered, Recovered::default());
    let segs: Vec<u32> = (0..10).map(|n| spool.append(&event(n), ARN)).collect();
    spool.ack(&[(event(2).id, segs[2]), (event(5).id, segs[5])]);
    spool.flush().unwrap();
    drop(spool);

    let (mut spool, recovered) = open(dir.path(), DEFAULT_SEGMENT_BYTES);
    assert_eq!(recovered.events, 8);
    assert_eq!(recovered.corrupt_records, 0);
    assert!(spool.has_backlog());
    let replayed = replay_all(&mut spool);
    let ns: Vec<u32> = replayed.iter().map(|(n, _)| *n).collect();
    assert_eq!(ns, [0, 1, 3, 4, 6, 7, 8, 9]);
    let first = spool.read_backlog(1, u64::MAX).unwrap();
    assert!(first.is_empty());
    // Settle them: the old segment goes, and a third logger finds nothing.
    let settled: Vec<(Uuid, u32)> = replayed.iter().map(|&(n, s)| (event(n).id, s)).collect();
    spool.ack(&settled);
    spool.flush().unwrap();
    assert_eq!(spool.live_events(), 0);
    assert_eq!(spool.segment_count(), 1, "only the active segment is left");
    drop(spool);
    let (_, recovered) = open(dir.path(), DEFAULT_SEGMENT_BYTES);
    assert_eq!(recovered.events, 0);
}

#[test]
fn spilled_events_are_read_back_in_order_then_spilling_ends() {
    let dir = tempfile::tempdir().unwrap();
    let (mut spool, _) = open(dir.path(), 300);
    spool.append(&event(0), ARN);
    spool.begin_spill().unwrap();
    for n in 1..30 {
        spool.append(&event(n), ARN);
        spool.flush().unwrap();
    }
    assert_eq!(spool.backlog_events(), 29);
    assert!(spool.segment_count() > 1, "small segments rotate");
    let read = replay_all(&mut spool);
    let ns: Vec<u32> = read.iter().map(|(n, _)| *n).collect();
    assert_eq!(ns, (1..30).collect::<Vec<_>>());
    assert_eq!(spool.backlog_events(), 0);
    // New events after the backlog drained are not spilled.
    spool.append(&event(30), ARN);
    assert!(!spool.has_backlog());
}

#[test]
fn segments_are_removed_oldest_first_once_settled() {
    let dir = tempfile::tempdir().unwrap();
    let (mut spool, _) = open(dir.path(), 200);
    let segs: Vec<u32> = (0..20)
        .map(|n| {
            let s = spool.append(&event(n), ARN);
            spool.flush().unwrap();
            s
        })
        .collect();
    let before = spool.segment_count();
    assert!(before > 3);
    // Settling a later segment first removes nothing: an older one still lives.
    spool.ack(&[(event(19).id, segs[19])]);
    spool.flush().unwrap();
    assert_eq!(spool.segment_count(), before);
    let all: Vec<(Uuid, u32)> = (0..19).map(|n| (event(n).id, segs[n as usize])).collect();
    spool.ack(&all);
    spool.flush().unwrap();
    assert!(spool.segment_count() <= 2, "{}", spool.segment_count());
}

#[test]
fn a_second_logger_is_refused_and_told_who_holds_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let _first = SpoolLock::acquire(dir.path()).unwrap();
    let err = SpoolLock::acquire(dir.path()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!("process {}", std::process::id())),
        "{text}"
    );
    assert!(text.contains("give each its own spoolDir"), "{text}");
}

#[test]
fn a_torn_tail_is_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (mut spool, _) = open(dir.path(), DEFAULT_SEGMENT_BYTES);
    for n in 0..5 {
        spool.append(&event(n), ARN);
    }
    spool.flush().unwrap();
    drop(spool);
    let seg = segment_path(dir.path(), 0);
    let len = fs::metadata(&seg).unwrap().len();
    let f = OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(len - 5).unwrap();
    drop(f);
    let (mut spool, recovered) = open(dir.path(), DEFAULT_SEGMENT_BYTES);
    assert_eq!(recovered.corrupt_records, 1);
    assert_eq!(recovered.events, 4);
    let ns: Vec<u32> = replay_all(&mut spool).iter().map(|(n, _)| *n).collect();
    assert_eq!(ns, [0, 1, 2, 3]);
    assert_eq!(
        spool.corrupt_records, 1,
        "not counted again while replaying"
    );
}

#[test]
fn a_file_that_is_not_a_segment_is_counted_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(segment_path(dir.path(), 3), b"hello, not a spool").unwrap();
    let (spool, recovered) = open(dir.path(), DEFAULT_SEGMENT_BYTES);
    assert_eq!(recovered.corrupt_records, 1);
    assert_eq!(recovered.events, 0);
    assert!(!spool.has_backlog());
}

#[derive(Debug, Clone)]
enum Op {
    Append,
    AckOldest(usize),
    Flush,
    Spill,
    Read(usize),
    /// A crash: what is not flushed is lost; a new logger opens the folder.
    Crash,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::Append),
        2 => (1usize..5).prop_map(Op::AckOldest),
        2 => Just(Op::Flush),
        1 => Just(Op::Spill),
        2 => (1usize..6).prop_map(Op::Read),
        1 => Just(Op::Crash),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64)
    ))]

    /// Whatever happens, every event that reached the file and was not settled is
    /// delivered exactly once more, in order; nothing settled comes back.
    #[test]
    fn no_written_event_is_lost_or_repeated(ops in proptest::collection::vec(op(), 1..80)) {
        let dir = tempfile::tempdir().unwrap();
        let (mut spool, _) = open(dir.path(), 400);
        let mut next = 0u32;
        // The model: events in memory (handed out, not settled), events and acks
        // buffered or on the file.
        let mut memory: Vec<(u32, u32)> = Vec::new();
        let mut unflushed: Vec<u32> = Vec::new();
        let mut written: Vec<u32> = Vec::new();
        let mut acks_unflushed: Vec<u32> = Vec::new();
        let mut acks_written: HashSet<u32> = HashSet::new();
        fn flushed(unflushed: &mut Vec<u32>, written: &mut Vec<u32>, acks_unflushed: &mut Vec<u32>, acks_written: &mut HashSet<u32>) {
            written.append(unflushed);
            acks_written.extend(acks_unflushed.drain(..));
        }
        for op in ops {
            match op {
                Op::Append => {
                    let seg = spool.append(&event(next), ARN);
                    if !spool.has_backlog() { memory.push((next, seg)); }
                    unflushed.push(next);
                    next += 1;
                }
                Op::AckOldest(k) => {
                    let k = k.min(memory.len());
                    let acked: Vec<(Uuid, u32)> = memory.drain(..k).map(|(n, s)| (event(n).id, s)).collect();
                    acks_unflushed.extend(acked.iter().map(|(id, _)| (id.as_u128() - 1) as u32));
                    spool.ack(&acked);
                }
                Op::Flush => {
                    spool.flush().unwrap();
                    flushed(&mut unflushed, &mut written, &mut acks_unflushed, &mut acks_written);
                }
                Op::Spill => {
                    spool.begin_spill().unwrap();
                    flushed(&mut unflushed, &mut written, &mut acks_unflushed, &mut acks_written);
                }
                Op::Read(k) => {
                    if spool.has_backlog() {
                        flushed(&mut unflushed, &mut written, &mut acks_unflushed, &mut acks_written);
                    }
                    for (e, seg) in spool.read_backlog(k, u64::MAX).unwrap() {
                        memory.push((n_of(&e), seg));
                    }
                }
                Op::Crash => {
                    drop(spool);
                    let (s, recovered) = open(dir.path(), 400);
                    spool = s;
                    unflushed.clear();
                    acks_unflushed.clear();
                    memory.clear();
                    prop_assert_eq!(recovered.corrupt_records, 0);
                    let mut replayed = Vec::new();
                    loop {
                        let b = spool.read_backlog(5, u64::MAX).unwrap();
                        if b.is_empty() { break; }
                        for (e, seg) in b { replayed.push(n_of(&e)); memory.push((n_of(&e), seg)); }
                    }
                    let mut sorted = replayed.clone();
                    sorted.sort_unstable();
                    prop_assert_eq!(&sorted, &replayed, "replayed in order");
                    sorted.dedup();
                    prop_assert_eq!(sorted.len(), replayed.len(), "no event twice");
                    let want: Vec<u32> = written.iter().copied().filter(|n| !acks_written.contains(n)).collect();
                    prop_assert_eq!(replayed, want, "exactly the written, unsettled events");
                }
            }
        }
    }
}

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

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

fn segment_path(dir: &Path, index: u32) -> PathBuf {
    dir.join(segment_name(index))
}

/// A segment's length without the room after its records.
fn data_len(path: &Path) -> u64 {
    let data = fs::read(path).unwrap();
    data.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1) as u64
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

/// What a crash's replay must be, in the property tests: in order, no event twice, and
/// every event written and never settled back.
fn check_replay<'a>(
    replayed: &[u32],
    written: impl Iterator<Item = &'a u32>,
    acked_ever: &HashSet<u32>,
) -> Result<(), TestCaseError> {
    let mut sorted = replayed.to_vec();
    sorted.sort_unstable();
    prop_assert_eq!(&sorted, &replayed, "replayed in order");
    sorted.dedup();
    prop_assert_eq!(sorted.len(), replayed.len(), "no event twice");
    for n in written.filter(|n| !acked_ever.contains(n)) {
        prop_assert!(
            replayed.contains(n),
            "written, unsettled event {} replayed",
            n
        );
    }
    Ok(())
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
    spool.begin_spill();
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
    let f = OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(data_len(&seg) - 5).unwrap();
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
    #![proptest_config(ProptestConfig::with_cases(crate::core::fuzz_cases(64)))]

    /// Whatever happens, every event that reached the file and was not settled is
    /// delivered exactly once more, in order; nothing whose ack reached the file comes
    /// back. (One settled with its ack still buffered may: its segment may have been
    /// removed meanwhile, or not.)
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
        let mut acked_ever: HashSet<u32> = HashSet::new();
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
                    acked_ever.extend(acked.iter().map(|(id, _)| (id.as_u128() - 1) as u32));
                    spool.ack(&acked);
                }
                Op::Flush => {
                    spool.flush().unwrap();
                    flushed(&mut unflushed, &mut written, &mut acks_unflushed, &mut acks_written);
                }
                Op::Spill => spool.begin_spill(),
                Op::Read(k) => {
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
                    let read = replay_all(&mut spool);
                    let replayed: Vec<u32> = read.iter().map(|(n, _)| *n).collect();
                    memory.extend(read);
                    check_replay(&replayed, written.iter(), &acked_ever)?;
                    for n in &replayed {
                        prop_assert!(written.contains(n) && !acks_written.contains(n), "event {} was written and its ack was not", n);
                    }
                }
            }
        }
    }
}

fn faulty(dir: &Path) -> std::sync::Arc<FaultPlan> {
    FaultPlan::inject(dir)
}

fn ids_in_order(replayed: &[(u32, u32)]) -> Vec<u32> {
    replayed.iter().map(|(n, _)| *n).collect()
}

#[test]
fn acks_are_written_on_a_full_disk_so_the_next_logger_resends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let disk = faulty(dir.path());
    let (mut spool, _) = open(dir.path(), DEFAULT_SEGMENT_BYTES);
    let segs: Vec<u32> = (0..200).map(|n| spool.append(&event(n), ARN)).collect();
    spool.flush().unwrap();
    disk.set_free(Some(0));
    // Settled one by one: the worst case for the room acks take.
    for n in 0..200u32 {
        spool.ack(&[(event(n).id, segs[n as usize])]);
        spool.flush().unwrap();
    }
    assert_eq!(spool.spooled(), 0);
    drop(spool); // a crash: nothing more is written
    let (_, recovered) = open(dir.path(), DEFAULT_SEGMENT_BYTES);
    assert_eq!(recovered.events, 0, "every ack reached the disk");
}

#[test]
fn records_the_disk_refuses_wait_in_memory_in_order_and_are_written_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let disk = faulty(dir.path());
    let (mut spool, _) = open(dir.path(), DEFAULT_SEGMENT_BYTES);
    for n in 0..5 {
        spool.append(&event(n), ARN);
    }
    spool.flush().unwrap();
    disk.set_free(Some(0));
    spool.begin_spill();
    // The room allocated ahead takes records until it runs out.
    let mut n = 5;
    let refused_from = loop {
        spool.append(&event(n), ARN);
        n += 1;
        if let Err(e) = spool.flush() {
            assert_eq!(e.raw_os_error(), Some(28), "{e}");
            break n - 1;
        }
    };
    for n in refused_from + 1..refused_from + 5 {
        spool.append(&event(n), ARN);
        assert!(spool.flush().is_err());
    }
    let end = refused_from + 5;
    assert_eq!(spool.waiting_in_memory().0, 5);
    assert_eq!(
        spool.spooled(),
        u64::from(refused_from),
        "only what reached the file counts as spooled"
    );
    // The reader hands out what is on disk, then what waits in memory, in order.
    let first: Vec<u32> = ids_in_order(
        &spool
            .read_backlog((refused_from - 5 + 3) as usize, u64::MAX)
            .unwrap()
            .iter()
            .map(|(e, s)| (n_of(e), *s))
            .collect::<Vec<_>>(),
    );
    assert_eq!(first, (5..refused_from + 3).collect::<Vec<_>>());
    assert_eq!(spool.waiting_in_memory().0, 2);
    disk.set_free(None);
    spool.flush().unwrap();
    assert_eq!(spool.waiting_in_memory().0, 0);
    assert_eq!(spool.spooled(), u64::from(end));
    // The two not read yet are read from the file now, once.
    let rest = ids_in_order(&replay_all(&mut spool));
    assert_eq!(rest, [end - 2, end - 1]);
    drop(spool);
    let (mut spool, recovered) = open(dir.path(), DEFAULT_SEGMENT_BYTES);
    assert_eq!(recovered.events, u64::from(end));
    assert_eq!(
        ids_in_order(&replay_all(&mut spool)),
        (0..end).collect::<Vec<_>>()
    );
}

#[test]
fn a_record_settled_before_the_disk_took_it_is_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let disk = faulty(dir.path());
    let (mut spool, _) = open(dir.path(), DEFAULT_SEGMENT_BYTES);
    disk.set_free(Some(0));
    let seg = spool.append(&event(0), ARN);
    spool.append(&event(1), ARN);
    assert!(spool.flush().is_err());
    spool.expect_unwritten();
    spool.ack(&[(event(0).id, seg)]);
    assert_eq!(spool.live_events(), 1);
    disk.set_free(None);
    spool.flush().unwrap();
    drop(spool);
    let (mut spool, recovered) = open(dir.path(), DEFAULT_SEGMENT_BYTES);
    assert_eq!(recovered.events, 1);
    assert_eq!(ids_in_order(&replay_all(&mut spool)), [1]);
}

#[test]
fn after_a_failed_write_that_file_is_left_and_a_new_segment_takes_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let disk = faulty(dir.path());
    let (mut spool, _) = open(dir.path(), DEFAULT_SEGMENT_BYTES);
    for n in 0..3 {
        spool.append(&event(n), ARN);
    }
    spool.flush().unwrap();
    let first = fs::read(segment_path(dir.path(), 0)).unwrap();
    disk.fail_writes
        .store(true, std::sync::atomic::Ordering::Relaxed);
    for n in 3..6 {
        spool.append(&event(n), ARN);
    }
    assert_eq!(spool.flush().unwrap_err().raw_os_error(), Some(5));
    disk.fail_writes
        .store(false, std::sync::atomic::Ordering::Relaxed);
    spool.append(&event(6), ARN);
    spool.flush().unwrap();
    // The failed file got nothing more (its room given back), the rest is in a new one.
    let after = fs::read(segment_path(dir.path(), 0)).unwrap();
    assert_eq!(
        after[..],
        first[..data_len(&segment_path(dir.path(), 0)) as usize]
    );
    assert!(segment_path(dir.path(), 1).exists());
    drop(spool);
    let (mut spool, recovered) = open(dir.path(), DEFAULT_SEGMENT_BYTES);
    assert_eq!(recovered.corrupt_records, 0);
    assert_eq!(
        ids_in_order(&replay_all(&mut spool)),
        (0..7).collect::<Vec<_>>()
    );
}

#[test]
fn a_failed_sync_leaves_that_file_for_a_new_segment() {
    let dir = tempfile::tempdir().unwrap();
    let disk = faulty(dir.path());
    let (mut spool, _) = open(dir.path(), DEFAULT_SEGMENT_BYTES);
    spool.append(&event(0), ARN);
    spool.flush().unwrap();
    disk.fail_syncs
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let (index, job) = spool.sync_job().unwrap();
    assert!(job.run().is_err());
    spool.sync_failed(index);
    disk.fail_syncs
        .store(false, std::sync::atomic::Ordering::Relaxed);
    spool.append(&event(1), ARN);
    spool.flush().unwrap();
    let (index, _) = spool.sync_job().unwrap();
    assert_eq!(index, 1, "never that file again");
    drop(spool);
    let (mut spool, _) = open(dir.path(), DEFAULT_SEGMENT_BYTES);
    assert_eq!(ids_in_order(&replay_all(&mut spool)), [0, 1]);
}

#[test]
fn a_new_logger_on_a_full_disk_starts_and_writes_once_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let disk = faulty(dir.path());
    let (mut spool, _) = open(dir.path(), DEFAULT_SEGMENT_BYTES);
    let segs: Vec<u32> = (0..4).map(|n| spool.append(&event(n), ARN)).collect();
    spool.flush().unwrap();
    spool.close().unwrap();
    drop(spool);
    disk.set_free(Some(0));
    let (mut spool, recovered) = open(dir.path(), DEFAULT_SEGMENT_BYTES);
    assert_eq!(recovered.events, 4);
    let replayed = replay_all(&mut spool);
    let acks: Vec<(Uuid, u32)> = replayed.iter().map(|&(n, s)| (event(n).id, s)).collect();
    assert_eq!(acks.len(), segs.len());
    spool.ack(&acks);
    assert!(spool.flush().is_err(), "no room for a new segment yet");
    disk.set_free(None);
    spool.flush().unwrap();
    drop(spool);
    let (_, recovered) = open(dir.path(), DEFAULT_SEGMENT_BYTES);
    assert_eq!(recovered.events, 0);
}

/// Writes `n` events (flushed after each `per` events, in segments of `segment_bytes`),
/// acks `acked`, closes, and returns the segment files.
fn spool_with(dir: &Path, n: u32, per: u32, segment_bytes: u64, acked: &[u32]) -> Vec<PathBuf> {
    let (mut spool, _) = open(dir, segment_bytes);
    let mut segs = Vec::new();
    for i in 0..n {
        segs.push(spool.append(&event(i), ARN));
        if (i + 1) % per == 0 {
            spool.flush().unwrap();
        }
    }
    spool.flush().unwrap();
    let acks: Vec<(Uuid, u32)> = acked
        .iter()
        .map(|&i| (event(i).id, segs[i as usize]))
        .collect();
    spool.ack(&acks);
    spool.close().unwrap();
    drop(spool);
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    files.sort();
    files
}

fn flip(path: &Path, at: usize) {
    let mut data = fs::read(path).unwrap();
    data[at] ^= 0x40;
    fs::write(path, data).unwrap();
}

/// Opens the folder and replays it whole: (recovered, the events' numbers, damage).
fn reopen(dir: &Path) -> (Recovered, Vec<u32>, Vec<SegmentDamage>) {
    let (mut spool, recovered) = open(dir, DEFAULT_SEGMENT_BYTES);
    let replayed = ids_in_order(&replay_all(&mut spool));
    assert_eq!(spool.backlog_events(), 0);
    assert_eq!(spool.live_events(), replayed.len() as u64);
    (recovered, replayed, spool.take_damage())
}

#[test]
fn a_damaged_header_costs_no_record_in_any_segment() {
    let dir = tempfile::tempdir().unwrap();
    let files = spool_with(dir.path(), 60, 5, 600, &[]);
    assert!(files.len() >= 3, "{files:?}");
    for (i, f) in files.iter().enumerate() {
        flip(f, i % SEGMENT_HEADER.len());
    }
    let (recovered, replayed, damage) = reopen(dir.path());
    assert_eq!(replayed, (0..60).collect::<Vec<_>>());
    assert_eq!(recovered.events, 60);
    assert_eq!(recovered.corrupt_records, files.len() as u64);
    assert_eq!(damage.len(), files.len(), "one report per segment");
    assert!(damage.iter().all(|d| d.stretches == 1));
}

#[test]
fn a_damaged_ack_settles_nothing_less_its_copy_is_intact() {
    let dir = tempfile::tempdir().unwrap();
    let files = spool_with(dir.path(), 10, 10, DEFAULT_SEGMENT_BYTES, &[2, 3, 4]);
    let data = fs::read(&files[0]).unwrap();
    // The first ack record: kind 2 right after a record header.
    let at = (0..data.len() - 11)
        .find(|&i| data[i..i + 2] == [0x5A, 0xA5] && data[i + 10] == 2)
        .unwrap();
    flip(&files[0], at + 20);
    let (recovered, replayed, damage) = reopen(dir.path());
    assert_eq!(replayed, [0, 1, 5, 6, 7, 8, 9]);
    assert_eq!(recovered.corrupt_records, 1);
    assert_eq!(damage.len(), 1);
}

#[test]
fn a_flipped_record_torn_tail_garbage_and_empty_segments_cost_only_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let files = spool_with(dir.path(), 30, 3, 400, &[]);
    assert!(files.len() >= 3, "{files:?}");
    // A flipped byte in the first record of the first segment.
    flip(&files[0], SEGMENT_HEADER.len() + 30);
    // Garbage after the last segment's records.
    let mut last = fs::read(&files[files.len() - 1]).unwrap();
    last.extend_from_slice(b"\x5a\xa5garbage that is no record");
    fs::write(&files[files.len() - 1], last).unwrap();
    // A torn record at the end of the second.
    let f = OpenOptions::new().write(true).open(&files[1]).unwrap();
    f.set_len(data_len(&files[1]) - 4).unwrap();
    // And an empty segment among them.
    fs::write(segment_path(dir.path(), 999), b"").unwrap();
    let (recovered, replayed, damage) = reopen(dir.path());
    assert_eq!(recovered.corrupt_records, 3);
    assert_eq!(damage.len(), 3, "{damage:?}");
    assert_eq!(replayed.len(), 28, "{replayed:?}");
    assert!(!replayed.contains(&0));
    let mut sorted = replayed.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, replayed, "in order");
}

#[test]
fn folders_and_other_files_in_the_spool_folder_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("dead-letter");
    fs::create_dir(&dead).unwrap();
    fs::write(dead.join("0000000000.seg"), b"not ours").unwrap();
    fs::create_dir(dir.path().join("0000000007.seg")).unwrap();
    fs::write(dir.path().join("7.seg"), b"not ours either").unwrap();
    spool_with(dir.path(), 5, 5, DEFAULT_SEGMENT_BYTES, &[]);
    let (recovered, replayed, damage) = reopen(dir.path());
    assert_eq!((recovered.events, recovered.corrupt_records), (5, 0));
    assert_eq!(replayed, [0, 1, 2, 3, 4]);
    assert!(damage.is_empty());
    assert_eq!(fs::read(dead.join("0000000000.seg")).unwrap(), b"not ours");
    assert!(dir.path().join("7.seg").exists());
}

#[test]
fn a_record_written_twice_is_replayed_once_and_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let files = spool_with(dir.path(), 4, 4, DEFAULT_SEGMENT_BYTES, &[]);
    let data = fs::read(&files[0]).unwrap();
    // A copy of the whole segment as a newer one (as if a writer had repeated it).
    fs::write(segment_path(dir.path(), 5), &data).unwrap();
    let (recovered, replayed, _) = reopen(dir.path());
    assert_eq!(recovered.events, 4);
    assert_eq!(replayed, [0, 1, 2, 3]);
}

#[test]
fn a_previous_versions_spool_replays() {
    // Written as the first version of the format did: header, records, one ack each,
    // no room after them.
    let dir = tempfile::tempdir().unwrap();
    let mut data = SEGMENT_HEADER.to_vec();
    for n in 0..6 {
        let e = event(n);
        record::write_event(
            &mut data,
            e.id,
            e.event_type,
            ARN,
            e.group.as_deref(),
            e.app_id.as_deref(),
            e.widget,
            e.category(),
            e.action(),
            e.body(),
        );
    }
    let mut ack = Vec::new();
    record::write_acks(&mut ack, &[event(1).id]);
    // One copy only, as it was written then.
    data.extend_from_slice(&ack[..ack.len() / 2]);
    fs::write(segment_path(dir.path(), 0), data).unwrap();
    let (recovered, replayed, damage) = reopen(dir.path());
    assert_eq!((recovered.events, recovered.corrupt_records), (5, 0));
    assert_eq!(replayed, [0, 2, 3, 4, 5]);
    assert!(damage.is_empty());
}

#[derive(Debug, Clone)]
enum DiskOp {
    Append,
    AckOldest(usize),
    Flush,
    Spill,
    Read(usize),
    Crash,
    /// The disk has this many bytes left.
    Fill(u64),
    Free,
    FailWrites(bool),
    FailSyncs(bool),
    /// Writes take this many more bytes, then fail; `None`: they stop failing.
    Tear(Option<u64>),
}

fn disk_op() -> impl Strategy<Value = DiskOp> {
    prop_oneof![
        8 => Just(DiskOp::Append),
        3 => (1usize..5).prop_map(DiskOp::AckOldest),
        3 => Just(DiskOp::Flush),
        1 => Just(DiskOp::Spill),
        2 => (1usize..6).prop_map(DiskOp::Read),
        1 => Just(DiskOp::Crash),
        1 => (0u64..600).prop_map(DiskOp::Fill),
        1 => Just(DiskOp::Free),
        1 => any::<bool>().prop_map(DiskOp::FailWrites),
        1 => any::<bool>().prop_map(DiskOp::FailSyncs),
        1 => proptest::option::of(0u64..300).prop_map(DiskOp::Tear),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::core::fuzz_cases(64)))]

    /// Through a disk that fills, frees, fails writes and syncs, and crashes: no
    /// panic, no count below zero, every event once at most and in order, none lost
    /// that a successful flush wrote, none back whose ack a successful flush wrote.
    #[test]
    fn a_full_or_failing_disk_loses_and_repeats_nothing(ops in proptest::collection::vec(disk_op(), 1..100)) {
        use std::sync::atomic::Ordering::Relaxed;
        let dir = tempfile::tempdir().unwrap();
        let disk = faulty(dir.path());
        let (mut spool, _) = open(dir.path(), 500);
        let mut next = 0u32;
        let mut memory: Vec<(u32, u32)> = Vec::new();
        // Appended (or acked) since the last flush that returned Ok.
        let mut unsure: Vec<u32> = Vec::new();
        let mut unsure_acks: Vec<u32> = Vec::new();
        let mut written: HashSet<u32> = HashSet::new();
        let mut acks_written: HashSet<u32> = HashSet::new();
        let mut acked_ever: HashSet<u32> = HashSet::new();
        let mut appended: HashSet<u32> = HashSet::new();
        let mut live = 0u64;
        for op in ops {
            match op {
                DiskOp::Append => {
                    let seg = spool.append(&event(next), ARN);
                    if !spool.has_backlog() { memory.push((next, seg)); }
                    unsure.push(next);
                    appended.insert(next);
                    live += 1;
                    next += 1;
                }
                DiskOp::AckOldest(k) => {
                    let k = k.min(memory.len());
                    let acked: Vec<(Uuid, u32)> = memory.drain(..k).map(|(n, s)| (event(n).id, s)).collect();
                    for (id, _) in &acked {
                        let n = (id.as_u128() - 1) as u32;
                        unsure_acks.push(n);
                        acked_ever.insert(n);
                    }
                    live -= acked.len() as u64;
                    spool.ack(&acked);
                }
                DiskOp::Flush => {
                    if spool.flush().is_ok() {
                        written.extend(unsure.drain(..));
                        acks_written.extend(unsure_acks.drain(..));
                    } else {
                        spool.expect_unwritten();
                    }
                }
                DiskOp::Spill => spool.begin_spill(),
                DiskOp::Read(k) => {
                    for (e, seg) in spool.read_backlog(k, u64::MAX).unwrap() {
                        memory.push((n_of(&e), seg));
                    }
                }
                DiskOp::Fill(free) => disk.set_free(Some(free)),
                DiskOp::Free => disk.set_free(None),
                DiskOp::FailWrites(on) => disk.fail_writes.store(on, Relaxed),
                DiskOp::Tear(bytes) => disk.tear_writes_after(bytes),
                DiskOp::FailSyncs(on) => {
                    disk.fail_syncs.store(on, Relaxed);
                    if on {
                        if let Some((index, job)) = spool.sync_job() {
                            if job.run().is_err() { spool.sync_failed(index); }
                        }
                    }
                }
                DiskOp::Crash => {
                    drop(spool);
                    let (s, recovered) = open(dir.path(), 500);
                    spool = s;
                    unsure.clear();
                    unsure_acks.clear();
                    memory.clear();
                    let read = replay_all(&mut spool);
                    let replayed: Vec<u32> = read.iter().map(|(n, _)| *n).collect();
                    memory.extend(read);
                    prop_assert_eq!(recovered.events, replayed.len() as u64);
                    check_replay(&replayed, written.iter(), &acked_ever)?;
                    for n in &replayed {
                        prop_assert!(appended.contains(n) && !acks_written.contains(n), "event {} back although its ack was written", n);
                    }
                    live = replayed.len() as u64;
                }
            }
            prop_assert_eq!(spool.live_events(), live);
            prop_assert!(spool.spooled() <= spool.live_events());
            prop_assert!(spool.backlog_events() <= spool.live_events());
        }
    }
}

/// The folder's segment files, oldest first, one after the other: the fuzz target
/// `spool_reader`'s input (it cuts them apart again before every header).
fn folder_bytes(dir: &Path) -> Vec<u8> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    files.sort();
    files.iter().flat_map(|f| fs::read(f).unwrap()).collect()
}

/// Writes the fuzz target's seed corpus: real folders the spool wrote. Run with
/// `SPOOL_FUZZ_SEEDS=fuzz/corpus/spool_reader cargo test write_fuzz_seeds -- --ignored`.
#[test]
#[ignore = "writes the fuzz seed corpus"]
fn write_fuzz_seeds() {
    let out = PathBuf::from(std::env::var("SPOOL_FUZZ_SEEDS").expect("SPOOL_FUZZ_SEEDS"));
    fs::create_dir_all(&out).unwrap();
    let seed = |name: &str, dir: &Path| {
        let bytes = folder_bytes(dir);
        assert!(bytes.len() < 16 << 10, "{name}: {} bytes", bytes.len());
        fs::write(out.join(format!("seed-{name}")), bytes).unwrap();
    };
    // Events, closed.
    let dir = tempfile::tempdir().unwrap();
    spool_with(dir.path(), 5, 5, DEFAULT_SEGMENT_BYTES, &[]);
    seed("events", dir.path());
    // Some settled.
    let dir = tempfile::tempdir().unwrap();
    spool_with(dir.path(), 8, 4, DEFAULT_SEGMENT_BYTES, &[1, 2, 5]);
    seed("acked", dir.path());
    // Across small segments, the oldest settled.
    let dir = tempfile::tempdir().unwrap();
    spool_with(dir.path(), 24, 3, 500, &[0, 1, 2, 3, 7, 20]);
    seed("segments", dir.path());
    // A crash: not closed, the room for acks still after the records.
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut spool, _) = open(dir.path(), DEFAULT_SEGMENT_BYTES);
        let segs: Vec<u32> = (0..6).map(|n| spool.append(&event(n), ARN)).collect();
        spool.flush().unwrap();
        spool.ack(&[(event(4).id, segs[4])]);
        spool.flush().unwrap();
    }
    // The room is zeros; a few of them are enough to show it.
    let path = segment_path(dir.path(), 0);
    let f = OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(data_len(&path) + 64).unwrap();
    seed("crashed", dir.path());
    // A second logger's replay and its own events, some settled.
    let dir = tempfile::tempdir().unwrap();
    spool_with(dir.path(), 6, 6, DEFAULT_SEGMENT_BYTES, &[]);
    {
        let (mut spool, _) = open(dir.path(), DEFAULT_SEGMENT_BYTES);
        let replayed = replay_all(&mut spool);
        let acks: Vec<(Uuid, u32)> = replayed[..3]
            .iter()
            .map(|&(n, s)| (event(n).id, s))
            .collect();
        spool.ack(&acks);
        for n in 10..13 {
            spool.append(&event(n), ARN);
        }
        spool.close().unwrap();
    }
    seed("replayed", dir.path());
    // A write that failed half-way: that file is left, a new one goes on.
    let dir = tempfile::tempdir().unwrap();
    let disk = faulty(dir.path());
    {
        let (mut spool, _) = open(dir.path(), DEFAULT_SEGMENT_BYTES);
        for n in 0..3 {
            spool.append(&event(n), ARN);
        }
        spool.flush().unwrap();
        disk.tear_writes_after(Some(70));
        for n in 3..6 {
            spool.append(&event(n), ARN);
        }
        assert!(spool.flush().is_err());
        disk.tear_writes_after(None);
        spool.flush().unwrap();
        spool.close().unwrap();
    }
    seed("failed-write", dir.path());
}

/// A file of someone else's that a link will point to, and what it holds.
#[cfg(unix)]
fn precious(dir: &Path) -> (PathBuf, &'static [u8]) {
    let file = dir.join("precious");
    fs::write(&file, b"not the spool's").unwrap();
    (file, b"not the spool's")
}

#[cfg(unix)]
#[test]
fn a_linked_segment_is_reported_left_alone_and_never_written_through() {
    use std::os::unix::fs::symlink;
    let elsewhere = tempfile::tempdir().unwrap();
    let (file, content) = precious(elsewhere.path());
    let absent = elsewhere.path().join("absent");
    let dir = tempfile::tempdir().unwrap();
    spool_with(dir.path(), 3, 3, DEFAULT_SEGMENT_BYTES, &[]);
    // One link to a file, and a dangling one where the next segment would go.
    symlink(&file, segment_path(dir.path(), 1)).unwrap();
    symlink(&absent, segment_path(dir.path(), 2)).unwrap();
    let (mut spool, recovered) = open(dir.path(), DEFAULT_SEGMENT_BYTES);
    assert_eq!(recovered.events, 3, "the real segment is read");
    let damage = spool.take_damage();
    assert_eq!(damage.len(), 2, "{damage:?}");
    for (d, i) in damage.iter().zip([1, 2]) {
        assert_eq!(d.segment, segment_name(i));
        let why = d.unreadable.as_deref().expect("unreadable");
        assert!(why.contains("is a symbolic link"), "{why}");
    }
    assert_eq!(replay_all(&mut spool).len(), 3);
    spool.append(&event(9), ARN);
    spool.flush().unwrap();
    assert!(
        segment_path(dir.path(), 3).is_file(),
        "numbered past the links"
    );
    let acks: Vec<(Uuid, u32)> = (0..3).map(|i| (event(i).id, 0)).collect();
    spool.ack(&acks);
    spool.ack(&[(event(9).id, 3)]);
    spool.close().unwrap();
    assert_eq!(spool.live_events(), 0);
    assert!(!spool.is_settled(), "the links keep the folder");
    assert_eq!(fs::read(&file).unwrap(), content);
    assert!(
        !absent.exists(),
        "nothing created through the dangling link"
    );
}

#[cfg(unix)]
#[test]
fn segments_are_created_new_for_the_user_alone() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let disk = Disk::new(dir.path());
    // A file a creation that failed left is replaced; a link is not written through.
    fs::write(segment_path(dir.path(), 0), b"left by a failed creation").unwrap();
    drop(disk.create_segment(0, 0).unwrap());
    assert_eq!(
        fs::read(segment_path(dir.path(), 0)).unwrap(),
        SEGMENT_HEADER
    );
    let mode = fs::metadata(segment_path(dir.path(), 0))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, files::FILE_MODE);
    let elsewhere = tempfile::tempdir().unwrap();
    let (file, content) = precious(elsewhere.path());
    std::os::unix::fs::symlink(&file, segment_path(dir.path(), 1)).unwrap();
    let err = disk.create_segment(1, 0).unwrap_err();
    assert!(err.to_string().contains("is a symbolic link"), "{err}");
    assert_eq!(fs::read(&file).unwrap(), content);
}

#[cfg(unix)]
#[test]
fn a_sparse_segment_is_read_through_one_window() {
    let dir = tempfile::tempdir().unwrap();
    spool_with(dir.path(), 2, 2, DEFAULT_SEGMENT_BYTES, &[]);
    let path = segment_path(dir.path(), 0);
    // A hole of 32 windows (the node test has a gigabyte), then a byte that is not
    // zero: no room, damage to read through.
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    let size = 32 * frame::WINDOW_BYTES as u64;
    file.set_len(size).unwrap();
    std::os::unix::fs::FileExt::write_at(&file, b"Z", size - 1).unwrap();
    drop(file);
    let disk = Disk::new(dir.path());
    let mut reader = open_reader(&disk, 0, 0, None).unwrap();
    let (mut events, mut stretches) = (0, Vec::new());
    loop {
        match reader.next_item().unwrap() {
            Item::Record(Record::Event(_)) => events += 1,
            Item::Record(Record::Ack(_)) => {}
            Item::Damaged { from, to } => stretches.push((from, to)),
            Item::End => break,
        }
    }
    assert_eq!(events, 2);
    assert_eq!(stretches.len(), 1);
    assert_eq!(stretches[0].1, size);
    assert!(
        reader.window_capacity() <= frame::WINDOW_BYTES,
        "one window"
    );
    let (_, recovered) = open(dir.path(), DEFAULT_SEGMENT_BYTES);
    assert_eq!((recovered.events, recovered.corrupt_records), (2, 1));
}

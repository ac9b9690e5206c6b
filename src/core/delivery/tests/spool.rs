//! The spool under the loop: outages past the budget, a full window spilling to disk, events left to the next logger, one logger per folder.

use std::time::Duration;

use crate::core::delivery::FaultKind;
use crate::core::delivery::Logger;
use crate::core::error::ErrorCode;
use crate::core::testing::*;

#[test]
fn with_a_spool_an_outage_past_the_budget_delays_instead_of_failing() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakePublisher::with_script((0..30).map(|_| Script::Fail(FaultKind::Transient)));
    let mut config = spooled_config(true, dir.path());
    config.retry.budget = Duration::from_millis(20);
    let logger = Logger::try_start(config, fake.clone()).unwrap();
    let errors = collect_errors(&logger);
    let ids = log_n(&logger, 25);
    let report = flush_wait(&logger);
    assert_eq!((report.delivered, report.failed), (25, 0));
    assert_eq!(accepted_ids(&fake, 30), ids, "each once, in order");
    let errors = errors.lock().unwrap();
    assert!(!errors.is_empty());
    assert!(
        errors.iter().all(|e| e.code == ErrorCode::DeliveryDelayed),
        "{errors:?}"
    );
    assert_eq!(logger.stats().spooled, 0);
}

#[test]
fn with_a_spool_a_full_window_spills_to_disk_and_order_holds() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakePublisher::with_script((0..20).map(|_| Script::Slow(Duration::from_millis(3))));
    let mut config = spooled_config(true, dir.path());
    config.max_queue_events = 7;
    let logger = Logger::try_start(config, fake.clone()).unwrap();
    let errors = collect_errors(&logger);
    let ids = log_n(&logger, 300);
    let report = flush_wait(&logger);
    assert_eq!(
        (report.delivered, report.failed, report.dropped),
        (300, 0, 0)
    );
    assert_eq!(accepted_ids(&fake, 0), ids, "each once, in log() order");
    assert!(errors.lock().unwrap().is_empty());
    assert!(fake.requests().iter().all(|r| r.ids.len() <= 7));
}

#[test]
fn a_closed_logger_leaves_undelivered_events_to_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let down = FakePublisher::with_script((0..10_000).map(|_| Script::Fail(FaultKind::Transient)));
    let first = Logger::try_start(spooled_config(true, dir.path()), down).unwrap();
    let errors = collect_errors(&first);
    let ids = log_n(&first, 40);
    let report = close_wait(&first, Some(Duration::from_millis(100)));
    assert_eq!(
        (report.delivered, report.failed, report.spooled),
        (0, 0, 40)
    );
    assert!(
        errors.lock().unwrap().is_empty(),
        "nothing is lost, nothing to report"
    );
    drop(first);

    let up = FakePublisher::default();
    let second = Logger::try_start(spooled_config(true, dir.path()), up.clone()).unwrap();
    let later = log_n(&second, 5);
    let report = flush_wait(&second);
    assert_eq!((report.delivered, report.failed), (45, 0));
    assert_eq!(second.stats().recovered, 40);
    let want: Vec<String> = ids.into_iter().chain(later).collect();
    assert_eq!(
        accepted_ids(&up, 0),
        want,
        "the left-over events first, same ids"
    );
    let report = close_wait(&second, None);
    assert_eq!(report.spooled, 0);
}

#[test]
fn loggers_on_one_spool_dir_each_spool_in_a_folder_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (FakePublisher::default(), FakePublisher::default());
    let first = Logger::try_start(spooled_config(true, dir.path()), a.clone()).unwrap();
    let second = Logger::try_start(spooled_config(true, dir.path()), b.clone()).unwrap();
    let (ids_a, ids_b) = (log_n(&first, 30), log_n(&second, 30));
    flush_wait(&first);
    flush_wait(&second);
    assert_eq!(accepted_ids(&a, 0), ids_a);
    assert_eq!(accepted_ids(&b, 0), ids_b);
    assert!(first.stats().spool_in_use && second.stats().spool_in_use);
    let folders = |d: &std::path::Path| {
        std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("instance-"))
            .count()
    };
    assert_eq!(folders(dir.path()), 2);
    close_wait(&first, None);
    close_wait(&second, None);
    drop((first, second));
    assert_eq!(
        folders(dir.path()),
        0,
        "settled folders go with their loggers"
    );
}

#[test]
fn a_live_logger_adopts_the_folder_of_one_that_is_gone_and_sends_it_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let up = FakePublisher::default();
    let survivor = Logger::try_start(spooled_config(true, dir.path()), up.clone()).unwrap();
    let errors = collect_errors(&survivor);
    // Another instance, SNS down for it, leaves 300 events behind (spilled to disk
    // past a window of 20) and ends.
    let down = FakePublisher::with_script((0..10_000).map(|_| Script::Fail(FaultKind::Transient)));
    let mut config = spooled_config(true, dir.path());
    config.max_queue_events = 20;
    let gone = Logger::try_start(config, down).unwrap();
    let left = log_n(&gone, 300);
    let report = close_wait(&gone, Some(Duration::from_millis(100)));
    assert_eq!(report.spooled, 300);
    drop(gone);
    let own = log_n(&survivor, 10);
    wait_until("the adoption", || survivor.stats().delivered == 310);
    let took = accepted_ids(&up, 0);
    assert_eq!(took.len(), 310, "each once");
    let adopted: Vec<String> = took
        .iter()
        .filter(|id| left.contains(id))
        .cloned()
        .collect();
    assert_eq!(adopted, left, "in the order they were logged");
    assert!(own.iter().all(|id| took.contains(id)));
    let s = survivor.stats();
    assert_eq!(s.recovered, 300);
    assert_eq!(s.accepted, 310);
    wait_until("the adopted folder removed", || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("instance-"))
            .count()
            == 1
    });
    assert!(
        errors.lock().unwrap().is_empty(),
        "{:?}",
        errors.lock().unwrap()
    );
}

#[test]
fn without_a_folder_it_can_have_a_logger_runs_from_memory_and_says_so_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, b"").unwrap();
    let fake = FakePublisher::default();
    let logger = Logger::try_start(spooled_config(true, &file), fake.clone()).unwrap();
    let errors = collect_errors(&logger);
    let ids = log_n(&logger, 10);
    flush_wait(&logger);
    assert_eq!(accepted_ids(&fake, 0), ids);
    assert!(!logger.stats().spool_in_use);
    let reported = errors.lock().unwrap().clone();
    assert_eq!(reported.len(), 1, "{reported:?}");
    assert_eq!(reported[0].code, ErrorCode::Spool);
    assert!(
        reported[0].message.contains("in memory only"),
        "{}",
        reported[0].message
    );
}

/// SNS as a switch: down (every request fails transiently) or up; records what it
/// took.
#[derive(Clone, Default)]
struct Switched {
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    took: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl crate::core::delivery::Publisher for Switched {
    async fn publish_batch(
        &self,
        request: crate::core::delivery::BatchRequest<'_>,
    ) -> Result<crate::core::delivery::BatchResponse, crate::core::delivery::PublishError> {
        if !self.up.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(crate::core::delivery::PublishError {
                kind: FaultKind::Transient,
                code: "ServiceUnavailable".into(),
                message: "down".into(),
            });
        }
        let ids: Vec<String> = request.entries.iter().map(|e| e.id_string()).collect();
        self.took.lock().unwrap().extend(ids.iter().cloned());
        Ok(crate::core::delivery::BatchResponse {
            successful: ids,
            failed: Vec::new(),
        })
    }

    fn reconfigure(&self, _: &crate::core::options::SnsConfig) {}
}

impl Switched {
    fn set_up(&self, up: bool) {
        self.up.store(up, std::sync::atomic::Ordering::SeqCst);
    }
    fn took(&self) -> Vec<String> {
        self.took.lock().unwrap().clone()
    }
}

/// Every event accepted is delivered, failed, dropped, dead-lettered, held or queued:
/// the account as `stats()` keeps it, at a moment nothing moves.
fn assert_balanced(logger: &Logger, accepted: usize, when: &str) {
    let s = logger.stats();
    assert_eq!(s.accepted, accepted as u64, "{when}: {s:?}");
    assert_eq!(
        s.delivered + s.failed + s.dropped + s.dead_lettered + s.held + s.queued,
        accepted as u64,
        "{when}: {s:?}"
    );
}

fn codes(
    errors: &std::sync::Mutex<Vec<crate::core::error::DeliveryError>>,
    code: ErrorCode,
) -> usize {
    errors
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.code == code)
        .count()
}

fn ids_of(
    errors: &std::sync::Mutex<Vec<crate::core::error::DeliveryError>>,
    code: ErrorCode,
) -> Vec<String> {
    errors
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.code == code)
        .flat_map(|e| e.event_ids.clone())
        .collect()
}

#[test]
fn a_full_disk_during_an_outage_loses_nothing_accepted_and_sends_nothing_twice() {
    use std::collections::HashSet;
    let dir = tempfile::tempdir().unwrap();
    let disk = crate::core::spool::FaultPlan::inject(dir.path());
    disk.set_free(Some(6000));
    let fake = Switched::default();
    let mut config = spooled_config(true, dir.path());
    config.max_queue_events = 20;
    config.retry.max_backoff = Duration::from_millis(20);
    let logger = Logger::try_start(config.clone(), fake.clone()).unwrap();
    let errors = collect_errors(&logger);

    // SNS is down; the disk fills.
    let mut accepted = Vec::new();
    while codes(&errors, ErrorCode::Spool) == 0 {
        accepted.extend(log_n(&logger, 10));
        std::thread::sleep(Duration::from_millis(5));
        assert!(accepted.len() < 10_000, "the disk never filled");
    }
    accepted.extend(log_n(&logger, 200));
    // Memory holds the window (20) and what is on disk; the rest is dropped, by id.
    wait_until("the drops reported", || {
        let s = logger.stats();
        ids_of(&errors, ErrorCode::QueueFull).len() as u64 == s.dropped
            && s.queued + s.in_flight <= 20 + s.spooled
    });
    assert_balanced(&logger, accepted.len(), "disk full, SNS down");
    assert_eq!(codes(&errors, ErrorCode::Spool), 1, "said once");
    let first = errors
        .lock()
        .unwrap()
        .iter()
        .find(|e| e.code == ErrorCode::Spool)
        .cloned()
        .unwrap();
    assert!(!first.event_ids.is_empty(), "{first:?}");
    assert!(
        first.message.contains("cannot be written"),
        "{}",
        first.message
    );
    assert!(!ids_of(&errors, ErrorCode::QueueFull).is_empty());

    // SNS comes back while the disk is still full: what memory held is delivered, and
    // its acks fit the room kept for them.
    fake.set_up(true);
    let report = flush_wait(&logger);
    assert_eq!(report.pending, 0);
    assert_balanced(&logger, accepted.len(), "SNS back");
    assert_eq!(
        logger.stats().spooled,
        0,
        "every ack written, disk full or not"
    );
    let dropped_list = ids_of(&errors, ErrorCode::QueueFull);
    let dropped: HashSet<String> = dropped_list.iter().cloned().collect();
    assert_eq!(dropped.len(), dropped_list.len(), "each drop reported once");
    assert_eq!(dropped.len() as u64, logger.stats().dropped);
    let delivered = fake.took();
    let unique: HashSet<&String> = delivered.iter().collect();
    assert_eq!(unique.len(), delivered.len(), "nothing sent twice");
    for id in &accepted {
        assert!(
            unique.contains(id) != dropped.contains(id),
            "{id}: delivered or dropped-and-reported, exactly one (delivered {}, dropped {}, {:?})",
            unique.contains(id),
            dropped.contains(id),
            logger.stats()
        );
    }

    // Space returns while the logger runs: writing resumes, said once. A recovery is
    // seen by a write, and the loop retries writing with a backoff (up to a second),
    // while SNS may take new events first (an event settled before the disk takes it
    // is never written): events keep coming until a write finds the space.
    disk.set_free(None);
    let mut later = Vec::new();
    while codes(&errors, ErrorCode::SpoolRecovered) == 0 {
        later.extend(log_n(&logger, 10));
        std::thread::sleep(Duration::from_millis(20));
        assert!(later.len() < 10_000, "writing never resumed");
    }
    accepted.extend(later.iter().cloned());
    flush_wait(&logger);
    assert_balanced(&logger, accepted.len(), "space back");
    assert_eq!(codes(&errors, ErrorCode::Spool), 1);
    assert!(fake.took().ends_with(&later));
    let report = close_wait(&logger, None);
    assert_eq!((report.pending, report.spooled), (0, 0));
    drop(logger);

    // The next logger on the folder finds nothing to send again.
    let next = Switched::default();
    next.set_up(true);
    let second = Logger::try_start(config, next.clone()).unwrap();
    let report = flush_wait(&second);
    assert_eq!(second.stats().recovered, 0);
    assert_eq!(report.delivered, 0);
    assert!(next.took().is_empty());
}

#[test]
fn closing_with_the_disk_full_reports_what_it_could_not_keep() {
    let dir = tempfile::tempdir().unwrap();
    let disk = crate::core::spool::FaultPlan::inject(dir.path());
    disk.set_free(Some(0));
    let down = FakePublisher::with_script((0..100_000).map(|_| Script::Fail(FaultKind::Transient)));
    let config = spooled_config(true, dir.path());
    let logger = Logger::try_start(config.clone(), down).unwrap();
    let errors = collect_errors(&logger);
    let ids = log_n(&logger, 5);
    let report = close_wait(&logger, Some(Duration::from_millis(100)));
    assert_eq!((report.failed, report.spooled, report.pending), (5, 0, 0));
    let lost: Vec<String> = errors
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.code == ErrorCode::Spool && e.message.contains("lost"))
        .flat_map(|e| e.event_ids.clone())
        .collect();
    assert_eq!(lost, ids, "reported by id");
    drop(logger);
    disk.set_free(None);
    let up = FakePublisher::default();
    let second = Logger::try_start(config, up.clone()).unwrap();
    flush_wait(&second);
    assert_eq!(
        second.stats().recovered,
        0,
        "nothing claimed as spooled was not"
    );
}

#[test]
fn a_failing_sync_is_reported_once_and_writing_goes_on_in_a_new_segment() {
    let dir = tempfile::tempdir().unwrap();
    let disk = crate::core::spool::FaultPlan::inject(dir.path());
    disk.fail_syncs
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let fake = FakePublisher::default();
    let logger = Logger::try_start(spooled_config(true, dir.path()), fake.clone()).unwrap();
    let errors = collect_errors(&logger);
    let mut ids = log_n(&logger, 20);
    wait_until("the sync failure", || codes(&errors, ErrorCode::Spool) == 1);
    disk.fail_syncs
        .store(false, std::sync::atomic::Ordering::Relaxed);
    ids.extend(log_n(&logger, 20));
    let report = flush_wait(&logger);
    assert_eq!(report.delivered, 40);
    assert_eq!(accepted_ids(&fake, 0), ids);
    wait_until("the recovery", || {
        codes(&errors, ErrorCode::SpoolRecovered) == 1
    });
    assert_eq!(
        codes(&errors, ErrorCode::Spool),
        1,
        "{:?}",
        errors.lock().unwrap()
    );
}

#[test]
fn while_sns_is_down_every_event_reaches_the_disk_within_a_tick() {
    let dir = tempfile::tempdir().unwrap();
    let down = Switched::default();
    let mut config = spooled_config(true, dir.path());
    config.retry.max_backoff = Duration::from_millis(50);
    let logger = Logger::try_start(config, down).unwrap();
    for round in 1..=5u64 {
        log_n(&logger, 40);
        wait_until("the round on disk", || logger.stats().spooled == 40 * round);
    }
}

#[cfg(unix)]
#[test]
fn a_folder_others_can_write_is_not_adopted_and_reported_once() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let planted = dir.path().join("instance-0");
    std::fs::create_dir(&planted).unwrap();
    std::fs::write(planted.join("spool.lock"), b"").unwrap();
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o777)).unwrap();
    let logger =
        Logger::try_start(spooled_config(true, dir.path()), FakePublisher::default()).unwrap();
    let errors = collect_errors(&logger);
    wait_until("the report", || codes(&errors, ErrorCode::Spool) == 1);
    // Several scans later (50 ms apart in tests), still one.
    std::thread::sleep(Duration::from_millis(300));
    let reported = errors.lock().unwrap().clone();
    assert_eq!(reported.len(), 1, "{reported:?}");
    assert!(
        reported[0].message.contains("is not adopted"),
        "{}",
        reported[0].message
    );
    assert!(
        reported[0].message.contains("writable by group and others"),
        "{}",
        reported[0].message
    );
    assert!(planted.exists(), "left for a person to look at");
}

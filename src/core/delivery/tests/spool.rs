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
fn a_second_logger_on_the_same_spool_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first =
        Logger::try_start(spooled_config(true, dir.path()), FakePublisher::default()).unwrap();
    let Err(err) = Logger::try_start(spooled_config(true, dir.path()), FakePublisher::default())
    else {
        panic!("refused")
    };
    assert_eq!(err.option, "spoolDir");
    assert!(err.reason.contains("in use by another logger"), "{err}");
}

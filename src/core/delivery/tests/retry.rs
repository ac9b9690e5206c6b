//! Failures and retries: only failed entries are resent, sender faults and permanent errors never, transient ones within the budget, throttling pauses the whole logger, a panicking publisher fails its batch alone.

use std::collections::HashSet;
use std::time::Duration;

use super::order::delivered_order;
use crate::core::delivery::FaultKind;
use crate::core::delivery::Logger;
use crate::core::error::ErrorCode;
use crate::core::testing::*;

#[test]
fn partial_failures_resend_only_the_failed_entries() {
    let fake = FakePublisher::with_script([Script::FailEntries(vec![2, 7], false)]);
    let logger = Logger::start(test_config(true), fake.clone());
    let ids = log_n(&logger, 10);
    let report = flush_wait(&logger);
    assert_eq!((report.delivered, report.failed), (10, 0));
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].ids, vec![ids[2].clone(), ids[7].clone()]);
    assert_eq!(logger.stats().retried, 2);
    // Each event accepted exactly once.
    let failed_first: HashSet<(usize, usize)> = [(0, 2), (0, 7)].into_iter().collect();
    let accepted = delivered_order(&fake, &failed_first);
    assert_eq!(accepted.len(), 10);
    assert_eq!(accepted.iter().collect::<HashSet<_>>().len(), 10);
}

#[test]
fn sender_faults_are_never_retried() {
    let fake = FakePublisher::with_script([Script::FailEntries(vec![0], true)]);
    let logger = Logger::start(test_config(false), fake.clone());
    let errors = collect_errors(&logger);
    let ids = log_n(&logger, 3);
    let report = flush_wait(&logger);
    assert_eq!((report.delivered, report.failed), (2, 1));
    assert_eq!(fake.requests().len(), 1);
    let errors = errors.lock().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].code, ErrorCode::PublishFailed);
    assert_eq!(errors[0].event_ids, vec![ids[0].clone()]);
    assert!(
        errors[0].message.contains("InvalidParameter"),
        "{}",
        errors[0].message
    );
}

#[test]
fn transient_and_throttling_failures_are_retried_until_they_pass() {
    let fake = FakePublisher::with_script([
        Script::Fail(FaultKind::Transient),
        Script::Fail(FaultKind::Throttled),
        Script::Fail(FaultKind::Transient),
    ]);
    let logger = Logger::start(test_config(true), fake.clone());
    let ids = log_n(&logger, 5);
    let report = flush_wait(&logger);
    assert_eq!((report.delivered, report.failed), (5, 0));
    let requests = fake.requests();
    assert_eq!(requests.len(), 4);
    assert!(
        requests.iter().all(|r| r.ids == ids),
        "the same entries, so the same dedup ids"
    );
    let s = logger.stats();
    assert_eq!((s.retried, s.batches_sent), (15, 4));
}

#[test]
fn the_retry_budget_bounds_an_outage() {
    let fake = FakePublisher::with_script((0..10_000).map(|_| Script::Fail(FaultKind::Transient)));
    let mut config = test_config(false);
    config.retry.budget = Duration::from_millis(100);
    let logger = Logger::start(config, fake.clone());
    let errors = collect_errors(&logger);
    let ids = log_n(&logger, 4);
    let report = flush_wait(&logger);
    assert_eq!((report.delivered, report.failed), (0, 4));
    let errors = errors.lock().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].code, ErrorCode::RetriesExhausted);
    assert_eq!(errors[0].event_ids, ids);
    assert!(
        errors[0].message.contains("last error"),
        "{}",
        errors[0].message
    );
    assert!(fake.requests().len() > 2);
}

#[test]
fn permanent_errors_fail_the_batch_at_once() {
    let fake = FakePublisher::with_script([Script::Fail(FaultKind::Permanent)]);
    let logger = Logger::start(test_config(true), fake.clone());
    let errors = collect_errors(&logger);
    log_n(&logger, 3);
    let report = flush_wait(&logger);
    assert_eq!((report.delivered, report.failed), (0, 3));
    assert_eq!(fake.requests().len(), 1);
    assert_eq!(errors.lock().unwrap()[0].code, ErrorCode::PublishFailed);
    // The logger goes on: later events are delivered.
    log_n(&logger, 2);
    assert_eq!(flush_wait(&logger).delivered, 2);
}

#[test]
fn throttling_pauses_every_request_of_the_logger() {
    let fake = FakePublisher::with_script([Script::Fail(FaultKind::Throttled)]);
    let mut config = test_config(false);
    config.retry.initial_backoff = Duration::from_millis(200);
    config.retry.max_backoff = Duration::from_millis(200);
    config.max_batch_size = 1;
    config.flush_interval = Duration::from_millis(20);
    let logger = Logger::start(config, fake.clone());
    log_n(&logger, 1);
    wait_until("the throttled request", || !fake.requests().is_empty());
    log_n(&logger, 3);
    assert_eq!(flush_wait(&logger).delivered, 4);
    let requests = fake.requests();
    let throttled_at = requests[0].at;
    for r in &requests[1..] {
        // A lower bound only: a slow machine makes the gap longer, never shorter.
        assert!(
            r.at.duration_since(throttled_at) >= Duration::from_millis(190),
            "a request started {:?} after the throttle",
            r.at.duration_since(throttled_at)
        );
    }
}

#[test]
fn a_panicking_publisher_fails_its_batch_and_nothing_else() {
    let fake = FakePublisher::with_script([Script::Panic]);
    let logger = Logger::start(test_config(true), fake.clone());
    let errors = collect_errors(&logger);
    let ids = log_n(&logger, 3);
    let report = flush_wait(&logger);
    assert_eq!((report.delivered, report.failed, report.pending), (0, 3, 0));
    assert_eq!(errors.lock().unwrap()[0].code, ErrorCode::Internal);
    assert_eq!(reported_ids(&errors), ids);
    log_n(&logger, 2);
    assert_eq!(flush_wait(&logger).delivered, 2, "the logger goes on");
}

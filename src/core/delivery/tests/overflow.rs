//! A full queue, by overflow policy, and refused events that change nothing else.

use std::time::Duration;

use crate::core::delivery::Logger;
use crate::core::error::{ErrorCode, LogError};
use crate::core::options::Overflow;
use crate::core::testing::*;

fn overflow_logger(overflow: Overflow) -> (Logger, FakePublisher) {
    // The only request hangs, so the queue fills up.
    let fake = FakePublisher::with_script([Script::Slow(Duration::from_secs(30))]);
    let mut config = test_config(true);
    config.max_queue_events = 25;
    config.max_batch_size = 5;
    config.overflow = overflow;
    (Logger::start(config, fake.clone()), fake)
}

#[test]
fn overflow_reject_throws_and_keeps_the_queue() {
    let (logger, _) = overflow_logger(Overflow::Reject);
    log_n(&logger, 25);
    let err = logger
        .log_json(r#"{"category":"c","action":"a"}"#)
        .unwrap_err();
    assert!(
        matches!(err, LogError::QueueFull { max_events: 25, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("maxQueueEvents"));
    let s = logger.stats();
    assert_eq!((s.queued, s.dropped), (25, 1));
}

#[test]
fn overflow_drop_newest_reports_the_new_ids() {
    let (logger, _) = overflow_logger(Overflow::DropNewest);
    let errors = collect_errors(&logger);
    let ids = log_n(&logger, 30);
    let s = logger.stats();
    assert_eq!((s.queued, s.dropped), (25, 5));
    wait_until("the drops to be reported", || {
        reported_ids(&errors).len() == 5
    });
    assert_eq!(reported_ids(&errors), ids[25..].to_vec());
    assert!(errors
        .lock()
        .unwrap()
        .iter()
        .all(|e| e.code == ErrorCode::QueueFull));
}

#[test]
fn overflow_drop_oldest_drops_the_oldest_unsent() {
    let (logger, fake) = overflow_logger(Overflow::DropOldest);
    let errors = collect_errors(&logger);
    let first = log_n(&logger, 5);
    // Let the first batch go out (and hang), so it is in flight, not droppable.
    wait_until("the first batch to be sent", || !fake.requests().is_empty());
    let rest = log_n(&logger, 30);
    wait_until("the oldest events to be dropped", || {
        logger.stats().dropped == 10
    });
    let s = logger.stats();
    assert_eq!(s.queued, 25);
    wait_until("the drops to be reported", || {
        reported_ids(&errors).len() == 10
    });
    assert_eq!(
        reported_ids(&errors),
        rest[..10].to_vec(),
        "oldest not-yet-sent first"
    );
    assert_eq!(fake.requests()[0].ids, first);
}

#[test]
fn invalid_events_are_counted_and_change_nothing_else() {
    let fake = FakePublisher::default();
    let logger = Logger::start(test_config(true), fake.clone());
    log_n(&logger, 2);
    assert!(matches!(
        logger.log_json(r#"{"category":"c"}"#),
        Err(LogError::Invalid(_))
    ));
    log_n(&logger, 2);
    let report = flush_wait(&logger);
    assert_eq!(report.delivered, 4);
    assert_eq!(logger.stats().invalid, 1);
}

#[test]
fn warn_publishes_and_reports_each_violation_once() {
    use crate::core::encode::Validation;
    use crate::core::plan::PlanSource;
    let fake = FakePublisher::default();
    let mut config = test_config(true);
    config.encoder.plan = Some(std::sync::Arc::new(
        PlanSource::Builtin("rocketchat-livechat".into())
            .load()
            .unwrap(),
    ));
    config.encoder.validation = Validation::Warn;
    let logger = Logger::start(config, fake.clone());
    let errors = collect_errors(&logger);
    let bad =
        r#"{"category":"Chat Session","action":"closed","properties":{"close_method":"bot"}}"#;
    let first = logger.log_json(bad).unwrap();
    logger.log_json(bad).unwrap();
    logger
        .log_json(r#"{"category":"Chat Session","action":"closed"}"#)
        .unwrap();
    assert_eq!(flush_wait(&logger).delivered, 3, "warn publishes");
    wait_until("reports", || errors.lock().unwrap().len() == 2);
    let errors = errors.lock().unwrap();
    assert_eq!(errors[0].code, ErrorCode::TrackingPlan);
    assert_eq!(errors[0].event_ids, [first.hyphenated().to_string()]);
    assert_eq!(errors[0].violations[0].path, "properties.close_method");
    assert_eq!(errors[1].violations[0].kind.as_str(), "missingProperty");
    let stats = logger.stats();
    assert_eq!(stats.violations, [0, 0, 1, 0, 2]);
    assert_eq!(stats.invalid, 0);
}

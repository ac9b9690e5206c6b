//! Closing: what is held is delivered, the deadline gives up the rest, and a blocked loop sleeps.

use std::collections::HashSet;
use std::time::Duration;

use crate::core::delivery::Logger;
use crate::core::error::{ErrorCode, LogError};
use crate::core::testing::*;

#[test]
fn close_stops_logging_and_gives_up_at_its_deadline() {
    let fake = FakePublisher::with_script([Script::Slow(Duration::from_secs(30))]);
    let logger = Logger::start(test_config(true), fake.clone());
    let errors = collect_errors(&logger);
    log_n(&logger, 15);
    let started = std::time::Instant::now();
    let report = close_wait(&logger, Some(Duration::from_millis(200)));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        (report.delivered, report.failed, report.pending),
        (0, 15, 0)
    );
    assert_eq!(
        logger.log_json(r#"{"category":"c","action":"a"}"#),
        Err(LogError::Closed)
    );
    let codes_seen: HashSet<ErrorCode> = errors.lock().unwrap().iter().map(|e| e.code).collect();
    assert_eq!(
        codes_seen,
        [ErrorCode::ShutdownTimeout].into_iter().collect()
    );
    // Closing again answers at once.
    assert_eq!(close_wait(&logger, None).failed, 15);
}

#[test]
fn a_blocked_loop_sleeps_instead_of_spinning() {
    // Ten events hang in flight; five more are due for sending long before the
    // only FIFO slot frees up. The loop must wait for the slot, not poll.
    let fake = FakePublisher::with_script([Script::Slow(Duration::from_millis(400))]);
    let mut config = test_config(true);
    config.flush_interval = Duration::from_millis(1);
    let logger = Logger::start(config, fake.clone());
    log_n(&logger, 15);
    std::thread::sleep(Duration::from_millis(150));
    let blocked = logger.loop_turns();
    assert!(
        blocked < 40,
        "{blocked} loop turns while waiting for the in-flight batch"
    );
    // Past a close deadline with the batch still in flight: again no polling.
    let report = close_wait(&logger, Some(Duration::from_millis(20)));
    assert_eq!(report.failed, 15);
    let closing = logger.loop_turns() - blocked;
    assert!(closing < 40, "{closing} loop turns while closing");
}

#[test]
fn close_delivers_what_is_held() {
    let fake = FakePublisher::default();
    let mut config = test_config(true);
    config.flush_interval = Duration::from_secs(3600);
    let logger = Logger::start(config, fake.clone());
    log_n(&logger, 7);
    let report = close_wait(&logger, None);
    assert_eq!((report.delivered, report.pending), (7, 0));
}

//! reconfigure(): new options for new events, queued ones untouched, the spool fixed.

use std::time::Duration;

use crate::core::delivery::Logger;
use crate::core::testing::*;

#[test]
fn reconfigure_moves_new_events_and_keeps_queued_ones() {
    use crate::core::encode::Router;
    let fake = FakePublisher::with_script((0..6).map(|_| Script::Slow(Duration::from_millis(10))));
    let logger = Logger::start(test_config(true), fake.clone());
    let before = log_n(&logger, 30);
    let mut config = test_config(true);
    let new_topic = "arn:aws:sns:us-east-1:123456789012:moved.fifo";
    config.encoder.router = Router::new(logger.topic_table(), new_topic, &[], &[]).unwrap();
    config.max_batch_size = 4;
    config.sns.region = Some("us-east-1".into());
    logger.reconfigure(config).unwrap();
    let after = log_n(&logger, 30);
    let report = flush_wait(&logger);
    assert_eq!(
        (report.delivered, report.failed, report.dropped),
        (60, 0, 0)
    );
    let requests = fake.requests();
    let sent_to = |topic: &str| -> Vec<String> {
        requests
            .iter()
            .filter(|r| r.topic == topic)
            .flat_map(|r| r.ids.clone())
            .collect()
    };
    assert_eq!(
        sent_to("arn:aws:sns:us-east-1:123456789012:test.fifo"),
        before
    );
    assert_eq!(sent_to(new_topic), after);
    assert!(requests
        .iter()
        .filter(|r| r.topic == new_topic)
        .all(|r| r.ids.len() <= 4));
    assert_eq!(fake.reconfigured.lock().unwrap().len(), 1);
    // A config on another topic table would renumber topics: refused.
    let mut stray = test_config(true);
    stray.max_batch_size = 2;
    assert_eq!(logger.reconfigure(stray).unwrap_err().option, "options");
}

#[test]
fn reconfigure_cannot_move_the_spool() {
    let dir = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    let logger =
        Logger::try_start(spooled_config(true, dir.path()), FakePublisher::default()).unwrap();
    let mut config = spooled_config(true, other.path());
    config.encoder.router = crate::core::encode::Router::new(
        logger.topic_table(),
        "arn:aws:sns:us-east-1:123456789012:test.fifo",
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(logger.reconfigure(config).unwrap_err().option, "spoolDir");
}

//! Every event is accounted for: each id logged ends delivered, or reported by id as
//! failed or dropped, exactly once, and the account and the lanes say so. The model is
//! OpenTelemetry's `all_logs_accounted_for` test of its batch processor, here through
//! every transition of the ledger: drops by a lane and by the limits, a paused
//! destination's hold and release, retries, refusals, and a spool's recovery.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::core::delivery::Logger;
use crate::core::encode::AppAccess;
use crate::core::event::Source;
use crate::core::testing::*;

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:test";

/// The ids the publisher took: in requests it answered (not refused as a whole),
/// less the ids reported failed (the entries it refused).
fn delivered_ids(fake: &FakePublisher, reported: &HashSet<String>) -> HashSet<String> {
    fake.requests()
        .into_iter()
        .filter(|r| r.refused.is_none())
        .flat_map(|r| r.ids)
        .filter(|id| !reported.contains(id))
        .collect()
}

#[test]
fn all_events_accounted_for() {
    let fake = FakePublisher::with_script([
        // After the pause: a batch with two entries refused for their own sake, then
        // a request that fails and is sent again.
        Script::FailEntries(vec![0, 1], true),
        Script::Fail(crate::core::delivery::FaultKind::Transient),
    ]);
    fake.refuse(TOPIC, "AuthorizationError");
    let mut config = test_config(false);
    config.max_queue_events = 60;
    config.encoder.app_access = Arc::new(AppAccess::any());
    let logger = Logger::start(config, fake.clone());
    let errors = collect_errors(&logger);

    // The destination is paused: everything waits, the limits fill, the widget's and
    // the App's lanes reach their shares, and past the limits the newest are dropped.
    let mut logged = Vec::new();
    for _ in 0..10 {
        logged.extend(log_n_from(&logger, Source::Server, 10));
        logged.extend(log_n_from(&logger, Source::Widget, 6));
        logged.extend(log_n_from(&logger, Source::App("app-a"), 4));
    }
    wait_until("the paused destination to hold its events", || {
        logger.stats().held > 0
    });
    let while_paused = flush_wait(&logger);
    assert!(while_paused.dropped > 0, "{while_paused:?}");
    assert!(while_paused.held > 0, "{while_paused:?}");

    fake.grant(TOPIC);
    wait_until("the held events to be sent", || logger.stats().held == 0);
    logged.extend(log_n_from(&logger, Source::Server, 25));
    let report = close_wait(&logger, Some(Duration::from_secs(10)));

    let logged_set: HashSet<String> = logged.iter().cloned().collect();
    assert_eq!(logged_set.len(), logged.len(), "ids are unique");
    let reported_list = reported_ids(&errors);
    let reported: HashSet<String> = reported_list.iter().cloned().collect();
    assert_eq!(reported.len(), reported_list.len(), "each id reported once");
    let delivered = delivered_ids(&fake, &reported);

    assert_eq!(report.accepted, logged.len() as u64);
    assert_eq!(report.pending, 0, "{report:?}");
    assert_eq!(report.delivered, delivered.len() as u64, "{report:?}");
    assert_eq!(
        report.failed + report.dropped,
        reported.len() as u64,
        "{report:?}"
    );
    assert_eq!(report.failed, 2, "the two refused entries");
    assert!(
        delivered.is_disjoint(&reported),
        "an event both delivered and reported"
    );
    let accounted: HashSet<String> = delivered.union(&reported).cloned().collect();
    assert_eq!(
        accounted, logged_set,
        "an event neither delivered nor reported"
    );

    let lanes = logger.sources();
    for lane in [lanes.server, lanes.widget, lanes.apps] {
        assert_eq!((lane.unsettled_events, lane.unsettled_bytes), (0, 0));
    }
    assert_eq!(
        lanes.server.logged + lanes.widget.logged + lanes.apps.logged,
        report.accepted
    );
    assert_eq!(
        lanes.server.dropped + lanes.widget.dropped + lanes.apps.dropped,
        report.dropped,
        "every drop is some lane's"
    );
    let s = logger.stats();
    assert!(s.retried > 0, "the failed request was sent again: {s:?}");
}

#[test]
fn events_recovered_from_a_spool_are_accounted_for_in_the_next_logger() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakePublisher::default();
    fake.refuse(TOPIC, "AuthorizationError");
    let mut config = spooled_config(false, dir.path());
    config.encoder.app_access = Arc::new(AppAccess::any());
    let first = Logger::try_start(config.clone(), fake.clone()).unwrap();
    let mut logged = log_n_from(&first, Source::Server, 20);
    logged.extend(log_n_from(&first, Source::Widget, 10));
    let left = close_wait(&first, Some(Duration::from_millis(200)));
    assert_eq!((left.accepted, left.pending), (30, 30), "{left:?}");
    drop(first);

    fake.grant(TOPIC);
    let next = Logger::try_start(config, fake.clone()).unwrap();
    logged.extend(log_n_from(&next, Source::Server, 5));
    let report = close_wait(&next, Some(Duration::from_secs(10)));
    assert_eq!(
        (report.accepted, report.delivered, report.pending),
        (35, 35, 0),
        "{report:?}"
    );
    assert_eq!(next.stats().recovered, 30);
    let delivered = delivered_ids(&fake, &HashSet::new());
    assert_eq!(delivered, logged.into_iter().collect::<HashSet<_>>());
    let lanes = next.sources();
    assert_eq!(
        (lanes.widget.delivered, lanes.server.delivered),
        (10, 25),
        "recovered events count in their own lanes"
    );
}

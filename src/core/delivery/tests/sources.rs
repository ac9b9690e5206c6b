//! Lanes: a flood from the widget or an App fills its own share of the limits and
//! drops its own newest events, reported by id; the server's events all arrive. Every
//! event is accounted for, by lane and in all, in memory and with a spool.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use crate::core::delivery::Logger;
use crate::core::encode::AppAccess;
use crate::core::error::{DeliveryError, ErrorCode, LogError};
use crate::core::event::Source;
use crate::core::options::{LoggerConfig, Overflow};
use crate::core::telemetry::SourcesSnapshot;
use crate::core::testing::*;

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:test.fifo";

/// Ids logged, by lane.
#[derive(Default)]
struct Logged {
    server: Vec<String>,
    widget: Vec<String>,
    app_a: Vec<String>,
    app_b: Vec<String>,
}

/// A queue of 200 events (caps: widget 50, each App 20, the Apps 50) whose topic is
/// paused, so that everything logged is held until `grant`.
#[allow(clippy::type_complexity)]
fn flooded(
    config: LoggerConfig,
    pad: usize,
) -> (
    Logger,
    FakePublisher,
    Logged,
    Arc<Mutex<Vec<DeliveryError>>>,
) {
    let fake = FakePublisher::default();
    fake.refuse(TOPIC, "AuthorizationError");
    let mut config = config;
    config.encoder.app_access = Arc::new(AppAccess::any());
    let logger = Logger::start(config, fake.clone());
    let errors = collect_errors(&logger);
    let mut logged = Logged::default();
    let pad = "x".repeat(pad);
    let log = |source: Source<'_>, i: usize| {
        let json =
            format!(r#"{{"category":"c","action":"a","properties":{{"n":{i},"pad":"{pad}"}}}}"#);
        logger
            .log_json_from(&json, source)
            .unwrap()
            .hyphenated()
            .to_string()
    };
    // Interleaved, as a flood would come: per round 10 widget events, 5 of App a,
    // 2 of App b, 1 of the server.
    for round in 0..100 {
        for i in 0..10 {
            logged.widget.push(log(Source::Widget, round * 10 + i));
        }
        for i in 0..5 {
            logged.app_a.push(log(Source::App("app-a"), round * 5 + i));
        }
        for i in 0..2 {
            logged.app_b.push(log(Source::App("app-b"), round * 2 + i));
        }
        logged.server.push(log(Source::Server, round));
    }
    (logger, fake, logged, errors)
}

fn small_queue() -> LoggerConfig {
    let mut config = test_config(true);
    config.max_queue_events = 200;
    config
}

fn lane(s: &SourcesSnapshot, app: &str) -> crate::core::telemetry::LaneSnapshot {
    s.app.iter().find(|(id, _)| id == app).unwrap().1
}

/// The ids reported dropped in reports whose message names `lane`.
fn dropped_in(errors: &[DeliveryError], lane: &str) -> HashSet<String> {
    errors
        .iter()
        .filter(|e| e.code == ErrorCode::QueueFull && e.message.contains(lane))
        .flat_map(|e| e.event_ids.iter().cloned())
        .collect()
}

#[test]
fn a_flooding_lane_drops_its_own_events_and_the_server_keeps_all_of_its() {
    let (logger, fake, logged, errors) = flooded(small_queue(), 0);
    let s = logger.sources();
    assert_eq!((s.server.logged, s.server.dropped), (100, 0));
    assert_eq!((s.widget.logged, s.widget.dropped), (1000, 950));
    let (a, b) = (lane(&s, "app-a"), lane(&s, "app-b"));
    assert_eq!((a.logged, a.dropped), (500, 480), "each App: 10% of 200");
    assert_eq!((b.logged, b.dropped), (200, 180));
    assert_eq!(s.apps.unsettled_events, 40);
    assert_eq!(logger.stats().dropped, 950 + 480 + 180);

    fake.grant(TOPIC);
    wait_until("every held event to be delivered", || {
        logger.stats().delivered == 100 + 50 + 20 + 20
    });
    let delivered: HashSet<String> = accepted_ids(&fake, 0).into_iter().collect();
    assert!(
        logged.server.iter().all(|id| delivered.contains(id)),
        "every server event arrives"
    );
    wait_until("the drops to be reported", || {
        reported_ids(&errors).len() == 950 + 480 + 180
    });
    let errors = errors.lock().unwrap().clone();
    // Each lane's drops are its own newest events, reported by id, and none arrived.
    for (lane, ids, kept) in [
        ("widget's lane", &logged.widget, 50),
        ("App app-a's lane", &logged.app_a, 20),
        ("App app-b's lane", &logged.app_b, 20),
    ] {
        let dropped = dropped_in(&errors, lane);
        assert_eq!(dropped, ids[kept..].iter().cloned().collect(), "{lane}");
        assert!(
            ids[..kept].iter().all(|id| delivered.contains(id)),
            "{lane}"
        );
    }
    let s = logger.sources();
    assert_eq!(
        (s.server.delivered, s.widget.delivered, s.apps.delivered),
        (100, 50, 40)
    );
    for held in [
        s.server,
        s.widget,
        s.apps,
        lane(&s, "app-a"),
        lane(&s, "app-b"),
    ] {
        assert_eq!((held.unsettled_events, held.unsettled_bytes), (0, 0));
    }
    assert_balanced(&flush_wait(&logger));
}

#[test]
fn a_lane_at_its_cap_throws_with_overflow_reject() {
    let mut config = small_queue();
    config.overflow = Overflow::Reject;
    config.encoder.app_access = Arc::new(AppAccess::any());
    let fake = FakePublisher::default();
    fake.refuse(TOPIC, "AuthorizationError");
    let logger = Logger::start(config, fake);
    let json = r#"{"category":"c","action":"a"}"#;
    for _ in 0..50 {
        logger.log_json_from(json, Source::Widget).unwrap();
    }
    let err = logger.log_json_from(json, Source::Widget).unwrap_err();
    assert!(matches!(err, LogError::LaneFull(_)), "{err}");
    assert!(
        err.to_string()
            .contains("the Livechat widget's lane is full (50 events or"),
        "{err}"
    );
    assert!(err.to_string().contains("widgetSharePercent"), "{err}");
    logger.log_json(json).unwrap();
    assert_eq!(
        logger.sources().server.unsettled_events,
        1,
        "the server's lane is free"
    );
}

#[test]
fn lanes_hold_across_a_spool_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = spooled_config(true, dir.path());
    // The spool's limit is in bytes: 20% of it is the widget's here.
    config.spool.as_mut().unwrap().max_bytes = 2 << 20;
    config.shares.widget_percent = 20;
    let (logger, _fake, logged, _) = flooded(config.clone(), 1_000);
    let s = logger.sources();
    assert_eq!(s.server.dropped, 0);
    assert!(s.widget.dropped > 0, "{:?}", s.widget);
    assert!(s.widget.unsettled_bytes <= (2 << 20) / 5, "{:?}", s.widget);
    assert!(s.apps.dropped > 0, "{:?}", s.apps);
    let kept_widget = s.widget.logged - s.widget.dropped;
    let kept_apps = s.apps.logged - s.apps.dropped;
    close_wait(&logger, Some(std::time::Duration::from_millis(200)));
    drop(logger);

    // The next logger finds them on disk, each counted in its lane again.
    let fake = FakePublisher::default();
    config.encoder.app_access = Arc::new(AppAccess::any());
    let logger = Logger::start(config, fake.clone());
    wait_until("the spool's events to be read", || {
        logger.stats().recovered == 100 + kept_widget + kept_apps
    });
    assert_eq!(flush_wait(&logger).delivered, 100 + kept_widget + kept_apps);
    let s = logger.sources();
    assert_eq!(s.widget.delivered, kept_widget, "read back as the widget's");
    assert_eq!(s.server.delivered, 100);
    assert_eq!(s.apps.delivered, kept_apps);
    assert_eq!(
        lane(&s, "app-a").delivered + lane(&s, "app-b").delivered,
        kept_apps,
        "each App's lane made again from the records"
    );
    for lane in [s.server, s.widget, s.apps] {
        assert_eq!((lane.unsettled_events, lane.unsettled_bytes), (0, 0));
    }
    let delivered: HashSet<String> = accepted_ids(&fake, 0).into_iter().collect();
    assert!(logged.server.iter().all(|id| delivered.contains(id)));
}

//! Paused destinations: a topic SNS refuses as a whole holds its events (in memory, or
//! on disk with a spool) while other topics flow, is probed one batch at a time,
//! resumes when the fix lands or at once on reconfigure(), has its events routed again
//! when the options stop naming it, and leaves them to the spool or reports them by
//! id at close. Every report balances (see `flush_wait`).

use std::sync::Arc;
use std::time::Duration;

use crate::core::delivery::Logger;
use crate::core::encode::{Router, TopicTable};
use crate::core::error::{DeliveryError, ErrorCode};
use crate::core::options::LoggerConfig;
use crate::core::testing::*;

const DEFAULT_TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:test.fifo";
const AGENT_TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:agent.fifo";
const TYPO_TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:agnet.fifo";

/// `config` with the agent `agent` routed to `agent_topic`, on `table`.
fn with_agent(mut config: LoggerConfig, agent_topic: &str, table: Arc<TopicTable>) -> LoggerConfig {
    config.encoder.router = Router::new(
        table,
        DEFAULT_TOPIC,
        &[("agent".into(), agent_topic.into())],
        &[],
    )
    .unwrap();
    config
}

/// Logs `n` events, every `every`-th one for the agent (the others for the default
/// topic); returns (agent's ids, others' ids), each in order.
fn log_mixed(logger: &Logger, n: usize, every: usize) -> (Vec<String>, Vec<String>) {
    let (mut agent, mut other) = (Vec::new(), Vec::new());
    for i in 0..n {
        let for_agent = i % every == 0;
        let json = format!(
            r#"{{"category":"c","action":"a","dialogflowAgentId":"{}","properties":{{"n":{i}}}}}"#,
            if for_agent { "agent" } else { "other" }
        );
        let id = logger.log_json(&json).unwrap().hyphenated().to_string();
        if for_agent {
            agent.push(id);
        } else {
            other.push(id);
        }
    }
    (agent, other)
}

/// The ids the fake accepted for `topic`, in order.
fn accepted_to(fake: &FakePublisher, topic: &str) -> Vec<String> {
    fake.requests_to(topic)
        .into_iter()
        .filter(|r| r.refused.is_none())
        .flat_map(|r| r.ids)
        .collect()
}

fn codes(errors: &std::sync::Mutex<Vec<DeliveryError>>) -> Vec<ErrorCode> {
    errors.lock().unwrap().iter().map(|e| e.code).collect()
}

#[test]
fn a_refused_topic_holds_its_events_while_others_flow_and_delivers_them_once_when_granted() {
    let fake = FakePublisher::default();
    fake.refuse(AGENT_TOPIC, "AuthorizationError");
    let config = with_agent(test_config(true), AGENT_TOPIC, Arc::default());
    let logger = Logger::start(config, fake.clone());
    let errors = collect_errors(&logger);
    let (agent, other) = log_mixed(&logger, 90, 3);
    let report = flush_wait(&logger);
    assert_eq!(
        (report.delivered, report.failed, report.held, report.queued),
        (60, 0, 30, 0),
        "flush() does not wait for held events: it counts them"
    );
    assert_eq!(
        accepted_to(&fake, DEFAULT_TOPIC),
        other,
        "the other topic flows"
    );
    let paused = logger.paused_destinations();
    assert_eq!(paused.len(), 1);
    assert_eq!(
        (
            paused[0].topic_arn.as_str(),
            paused[0].aws_code.as_str(),
            paused[0].held
        ),
        (AGENT_TOPIC, "AuthorizationError", 30)
    );
    assert!(logger.metrics().contains(&format!(
        "rocketchat_sns_analytics_destination_held_events{{topic=\"{AGENT_TOPIC}\"}} 30"
    )));
    // Probes go out, one batch each, the oldest events first; no report per batch.
    wait_until("three probes", || fake.requests_to(AGENT_TOPIC).len() >= 4);
    for probe in &fake.requests_to(AGENT_TOPIC)[1..] {
        assert_eq!(probe.ids, agent[..10], "a probe is the oldest batch");
    }
    assert_eq!(codes(&errors), [ErrorCode::DestinationUnavailable]);
    let pause = errors.lock().unwrap()[0].clone();
    let destination = pause.destination.expect("names the destination");
    assert_eq!(destination.topic_arn, AGENT_TOPIC);
    assert_eq!(destination.aws_code, "AuthorizationError");
    assert!(
        pause.message.contains("AuthorizationError"),
        "{}",
        pause.message
    );
    assert!(pause.event_ids.is_empty(), "nothing is lost");

    fake.grant(AGENT_TOPIC);
    wait_until("the held events", || logger.stats().delivered == 90);
    assert_eq!(
        accepted_to(&fake, AGENT_TOPIC),
        agent,
        "each once, in log() order"
    );
    assert_eq!(
        codes(&errors),
        [
            ErrorCode::DestinationUnavailable,
            ErrorCode::DestinationResumed
        ]
    );
    let report = flush_wait(&logger);
    assert_eq!((report.delivered, report.held, report.queued), (90, 0, 0));
    assert!(logger.paused_destinations().is_empty());
    assert_stats_balanced(&logger);
}

#[test]
fn events_logged_while_paused_are_held_behind_the_earlier_ones() {
    let fake = FakePublisher::default();
    fake.refuse(DEFAULT_TOPIC, "NotFound");
    let logger = Logger::start(test_config(true), fake.clone());
    let first = log_n(&logger, 25);
    assert_eq!(flush_wait(&logger).held, 25);
    let later = log_n(&logger, 25);
    let report = flush_wait(&logger);
    assert_eq!((report.held, report.queued, report.accepted), (50, 0, 50));
    fake.grant(DEFAULT_TOPIC);
    wait_until("every held event", || logger.stats().delivered == 50);
    let want: Vec<String> = first.into_iter().chain(later).collect();
    assert_eq!(accepted_to(&fake, DEFAULT_TOPIC), want);
}

#[test]
fn reconfigure_probes_at_once() {
    let fake = FakePublisher::default();
    fake.refuse(DEFAULT_TOPIC, "InvalidClientTokenId");
    let mut config = test_config(true);
    // A first probe half a minute away or more: only reconfigure() can be quicker.
    config.retry.initial_backoff = Duration::from_secs(60);
    config.retry.max_backoff = Duration::from_secs(60);
    let logger = Logger::start(config, fake.clone());
    let errors = collect_errors(&logger);
    let ids = log_n(&logger, 12);
    assert_eq!(flush_wait(&logger).held, 12);
    fake.grant(DEFAULT_TOPIC);
    let mut fixed = test_config(true);
    fixed.encoder.router = Router::new(logger.topic_table(), DEFAULT_TOPIC, &[], &[]).unwrap();
    logger.reconfigure(fixed).unwrap();
    wait_until("the held events", || logger.stats().delivered == 12);
    assert_eq!(accepted_to(&fake, DEFAULT_TOPIC), ids);
    assert_eq!(
        codes(&errors),
        [
            ErrorCode::DestinationUnavailable,
            ErrorCode::DestinationResumed
        ]
    );
    assert_balanced(&flush_wait(&logger));
}

#[test]
fn reconfigure_routes_the_held_events_of_a_topic_it_no_longer_names() {
    let fake = FakePublisher::default();
    fake.refuse(TYPO_TOPIC, "NotFound");
    let table = Arc::new(TopicTable::default());
    let logger = Logger::start(
        with_agent(test_config(true), TYPO_TOPIC, table),
        fake.clone(),
    );
    let errors = collect_errors(&logger);
    let (held, _) = log_mixed(&logger, 40, 2);
    assert_eq!(flush_wait(&logger).held, 20);
    let refused = fake.requests_to(TYPO_TOPIC).len();
    // The administrator fixes the agent's topic.
    let fixed = with_agent(test_config(true), AGENT_TOPIC, logger.topic_table());
    logger.reconfigure(fixed).unwrap();
    let (later, _) = log_mixed(&logger, 10, 2);
    let report = flush_wait(&logger);
    assert_eq!((report.delivered, report.held, report.failed), (50, 0, 0));
    let want: Vec<String> = held.into_iter().chain(later).collect();
    assert_eq!(accepted_to(&fake, AGENT_TOPIC), want, "each once, in order");
    assert_eq!(
        fake.requests_to(TYPO_TOPIC).len(),
        refused,
        "the typo is left alone"
    );
    assert_eq!(
        codes(&errors),
        [
            ErrorCode::DestinationUnavailable,
            ErrorCode::DestinationResumed
        ]
    );
    assert!(errors.lock().unwrap()[1].message.contains("routed again"));
}

#[test]
fn without_a_spool_overflow_applies_to_held_events() {
    let fake = FakePublisher::default();
    fake.refuse(DEFAULT_TOPIC, "KMSDisabled");
    let mut config = test_config(true);
    config.max_queue_events = 10;
    let logger = Logger::start(config, fake.clone());
    let errors = collect_errors(&logger);
    let ids = log_n(&logger, 15);
    let report = flush_wait(&logger);
    assert_eq!((report.accepted, report.held, report.dropped), (15, 10, 5));
    wait_until("the drop report", || reported_ids(&errors).len() == 5);
    assert_eq!(reported_ids(&errors), ids[10..], "dropped by id, as always");
    fake.grant(DEFAULT_TOPIC);
    wait_until("the held events", || logger.stats().delivered == 10);
    assert_eq!(accepted_to(&fake, DEFAULT_TOPIC), ids[..10]);
}

#[test]
fn close_without_a_spool_reports_held_events_by_id_after_one_probe() {
    let fake = FakePublisher::default();
    fake.refuse(DEFAULT_TOPIC, "AuthorizationError");
    let mut config = test_config(true);
    config.retry.initial_backoff = Duration::from_secs(60);
    let logger = Logger::start(config, fake.clone());
    let errors = collect_errors(&logger);
    let ids = log_n(&logger, 15);
    assert_eq!(flush_wait(&logger).held, 15);
    let refused = fake.requests_to(DEFAULT_TOPIC).len();
    // A minute's deadline, and no probe due for half a minute: close() probes at once
    // and, refused, does not wait. (close_wait gives up after 20 s.)
    let report = close_wait(&logger, Some(Duration::from_secs(60)));
    assert_eq!((report.failed, report.held, report.delivered), (15, 0, 0));
    assert_eq!(
        fake.requests_to(DEFAULT_TOPIC).len(),
        refused + 1,
        "one probe"
    );
    wait_until("the report by id", || reported_ids(&errors).len() == 15);
    assert_eq!(reported_ids(&errors), ids);
    let errors = errors.lock().unwrap();
    assert!(errors
        .iter()
        .all(|e| e.code == ErrorCode::DestinationUnavailable));
    assert!(errors[1].message.contains("lost"), "{}", errors[1].message);
}

#[test]
fn close_delivers_held_events_when_its_probe_passes() {
    let fake = FakePublisher::default();
    fake.refuse(DEFAULT_TOPIC, "AuthorizationError");
    let mut config = test_config(true);
    config.retry.initial_backoff = Duration::from_secs(60);
    let logger = Logger::start(config, fake.clone());
    let ids = log_n(&logger, 15);
    assert_eq!(flush_wait(&logger).held, 15);
    fake.grant(DEFAULT_TOPIC);
    let report = close_wait(&logger, Some(Duration::from_secs(10)));
    assert_eq!((report.delivered, report.held, report.failed), (15, 0, 0));
    assert_eq!(accepted_to(&fake, DEFAULT_TOPIC), ids);
}

#[test]
fn with_a_spool_held_events_wait_on_disk_and_other_topics_keep_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakePublisher::default();
    fake.refuse(AGENT_TOPIC, "AuthorizationError");
    let mut config = with_agent(
        spooled_config(true, dir.path()),
        AGENT_TOPIC,
        Arc::default(),
    );
    // A window of 20 events: 200 held events could never fit; they wait on disk.
    config.max_queue_events = 20;
    let logger = Logger::try_start(config, fake.clone()).unwrap();
    let (agent, other) = log_mixed(&logger, 300, 3);
    assert_eq!((agent.len(), other.len()), (100, 200));
    let report = flush_wait(&logger);
    assert_eq!(
        (report.delivered, report.held, report.queued, report.spooled),
        (200, 100, 0, 100)
    );
    assert_eq!(
        accepted_to(&fake, DEFAULT_TOPIC),
        other,
        "the other topic flows"
    );
    // More events while it is paused, also held.
    let (agent_later, other_later) = log_mixed(&logger, 30, 3);
    let report = flush_wait(&logger);
    assert_eq!((report.delivered, report.held), (220, 110));
    assert_eq!(logger.paused_destinations()[0].held, 110);
    fake.grant(AGENT_TOPIC);
    wait_until("the held events", || logger.stats().delivered == 330);
    let want: Vec<String> = agent.into_iter().chain(agent_later).collect();
    assert_eq!(
        accepted_to(&fake, AGENT_TOPIC),
        want,
        "each once, in log() order"
    );
    assert!(fake
        .requests_to(AGENT_TOPIC)
        .iter()
        .filter(|r| r.refused.is_some())
        .all(|r| r.ids.len() <= 10));
    let report = flush_wait(&logger);
    assert_eq!((report.held, report.queued, report.spooled), (0, 0, 0));
    let others: Vec<String> = other.into_iter().chain(other_later).collect();
    assert_eq!(accepted_to(&fake, DEFAULT_TOPIC), others);
}

#[test]
fn with_a_spool_events_arriving_while_a_probe_is_out_stay_behind_the_ones_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakePublisher::default();
    fake.refuse(DEFAULT_TOPIC, "AuthorizationError");
    // Refused probes are out for a while, their events out of the lanes.
    *fake.refusal_delay.lock().unwrap() = Duration::from_millis(20);
    let mut config = spooled_config(true, dir.path());
    config.max_queue_events = 20;
    let logger = Logger::try_start(config, fake.clone()).unwrap();
    let mut ids = log_n(&logger, 50);
    assert_eq!(flush_wait(&logger).held, 50, "40 of them on disk only");
    for _ in 0..4 {
        ids.extend(log_n(&logger, 5));
        std::thread::sleep(Duration::from_millis(15));
    }
    // Granted; the probe that passes is slow, and events arrive while it is out:
    // they must not overtake the held events left on disk.
    fake.script
        .lock()
        .unwrap()
        .push_back(Script::Slow(Duration::from_millis(300)));
    fake.grant(DEFAULT_TOPIC);
    wait_until("the probe that passes", || {
        fake.requests_to(DEFAULT_TOPIC)
            .iter()
            .any(|r| r.refused.is_none())
    });
    ids.extend(log_n(&logger, 5));
    wait_until("the resume", || logger.paused_destinations().is_empty());
    assert_eq!(flush_wait(&logger).delivered, 75);
    assert_eq!(
        accepted_to(&fake, DEFAULT_TOPIC),
        ids,
        "each once, in log() order"
    );
}

#[test]
fn with_a_spool_close_leaves_held_events_for_the_next_logger() {
    let dir = tempfile::tempdir().unwrap();
    let down = FakePublisher::default();
    down.refuse(DEFAULT_TOPIC, "NotFound");
    let mut config = spooled_config(true, dir.path());
    config.max_queue_events = 20;
    let first = Logger::try_start(config, down.clone()).unwrap();
    let errors = collect_errors(&first);
    let ids = log_n(&first, 45);
    assert_eq!(flush_wait(&first).held, 45);
    let report = close_wait(&first, Some(Duration::from_secs(10)));
    assert_eq!(
        (report.failed, report.held, report.spooled, report.accepted),
        (0, 45, 45, 45)
    );
    assert_eq!(
        codes(&errors),
        [ErrorCode::DestinationUnavailable],
        "nothing lost"
    );
    drop(first);

    let up = FakePublisher::default();
    let second = Logger::try_start(spooled_config(true, dir.path()), up.clone()).unwrap();
    let report = flush_wait(&second);
    assert_eq!((report.accepted, report.delivered), (45, 45));
    assert_eq!(accepted_ids(&up, 0), ids, "each once, in order");
}

#[test]
fn a_recovered_event_for_a_topic_no_longer_named_is_kept_for_an_operator() {
    // The first logger's agent topic had a typo; the admin fixed it before the next
    // start. Its events name a topic no option names now: they are never published
    // (the spool folder is not trusted to pick topics), but kept in the dead-letter
    // store and reported, for an operator to replay with an explicit --topic.
    let dir = tempfile::tempdir().unwrap();
    let down = FakePublisher::default();
    down.refuse(TYPO_TOPIC, "NotFound");
    let first = Logger::try_start(
        with_agent(spooled_config(true, dir.path()), TYPO_TOPIC, Arc::default()),
        down,
    )
    .unwrap();
    let (agent, _) = log_mixed(&first, 10, 1);
    close_wait(&first, Some(Duration::from_millis(500)));
    drop(first);

    let up = FakePublisher::default();
    let second = Logger::try_start(
        with_agent(
            spooled_config(true, dir.path()),
            AGENT_TOPIC,
            Arc::default(),
        ),
        up.clone(),
    )
    .unwrap();
    wait_until("the recovered events kept", || {
        second.stats().dead_lettered == agent.len() as u64
    });
    assert!(up.requests_to(TYPO_TOPIC).is_empty(), "never published");
    let kept = crate::core::deadletter::DeadLetterStore::in_spool(dir.path(), u64::MAX)
        .read()
        .unwrap();
    let mut kept: Vec<String> = kept
        .letters
        .iter()
        .map(|l| l.id.hyphenated().to_string())
        .collect();
    kept.sort();
    let mut want = agent.clone();
    want.sort();
    assert_eq!(kept, want);
    assert_balanced(&flush_wait(&second));
}

#[test]
fn one_refusal_alone_is_retried_and_pauses_nothing() {
    // An `ExpiredToken` in flight, or an IAM grant still propagating: the retry passes.
    let fake = FakePublisher::with_script([Script::Fail(
        crate::core::delivery::FaultKind::DestinationUnavailable,
    )]);
    let logger = Logger::start(test_config(true), fake.clone());
    let errors = collect_errors(&logger);
    let ids = log_n(&logger, 10);
    let report = flush_wait(&logger);
    assert_eq!((report.delivered, report.held), (10, 0));
    assert_eq!(accepted_ids(&fake, 1), ids);
    assert!(errors.lock().unwrap().is_empty(), "no report");
    assert!(logger.paused_destinations().is_empty());
}

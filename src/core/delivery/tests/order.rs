//! Order and batching: FIFO one batch at a time in log() order, standard topics in parallel, topics and room groups kept apart, partial batches on the flush interval.

use std::collections::HashSet;
use std::time::Duration;

use crate::core::delivery::Logger;
use crate::core::testing::*;

pub(super) fn delivered_order(
    fake: &FakePublisher,
    skip_failed: &HashSet<(usize, usize)>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (r, req) in fake.requests().iter().enumerate() {
        for (p, id) in req.ids.iter().enumerate() {
            if !skip_failed.contains(&(r, p)) {
                out.push(id.clone());
            }
        }
    }
    out
}

pub(super) fn body_field(body: &str, field: &str) -> serde_json::Value {
    serde_json::from_str::<serde_json::Value>(body).unwrap()[field].clone()
}

#[test]
fn fifo_sends_one_batch_at_a_time_in_log_order() {
    let fake = FakePublisher::with_script((0..5).map(|_| Script::Slow(Duration::from_millis(10))));
    let logger = Logger::start(test_config(true), fake.clone());
    let ids = log_n(&logger, 47);
    let report = flush_wait(&logger);
    assert_eq!(
        (report.delivered, report.failed, report.pending),
        (47, 0, 0)
    );
    assert_eq!(
        fake.max_concurrency(),
        1,
        "FIFO never has two batches in flight"
    );
    assert_eq!(delivered_order(&fake, &HashSet::new()), ids);
    let requests = fake.requests();
    assert!(requests
        .iter()
        .all(|r| r.group.as_deref() == Some("https://chat.example.com")));
    assert!(requests.iter().all(|r| r.ids.len() <= 10));
    assert_eq!(requests.len(), 5);
    let numbers: Vec<i64> = requests
        .iter()
        .flat_map(|r| r.bodies.iter())
        .map(|b| {
            serde_json::from_str::<serde_json::Value>(b).unwrap()["properties"]["n"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(numbers, (0..47).collect::<Vec<_>>());
}

#[test]
fn standard_topics_send_batches_in_parallel_without_group() {
    let fake = FakePublisher::with_script((0..10).map(|_| Script::Slow(Duration::from_millis(30))));
    let logger = Logger::start(test_config(false), fake.clone());
    let ids = log_n(&logger, 100);
    let report = flush_wait(&logger);
    assert_eq!(report.delivered, 100);
    assert!(
        fake.max_concurrency() > 1,
        "standard topics may overlap batches"
    );
    assert!(
        fake.max_concurrency() <= 4,
        "bounded by maxConcurrentBatches"
    );
    let sent: HashSet<String> = delivered_order(&fake, &HashSet::new())
        .into_iter()
        .collect();
    assert_eq!(sent, ids.into_iter().collect());
    assert!(fake.requests().iter().all(|r| r.group.is_none()));
}

#[test]
fn partial_batches_go_out_after_the_flush_interval() {
    let fake = FakePublisher::default();
    let mut config = test_config(false);
    config.flush_interval = Duration::from_millis(200);
    let logger = Logger::start(config, fake.clone());
    log_n(&logger, 3);
    wait_until("delivery without flush()", || logger.stats().delivered == 3);
    assert_eq!(fake.requests().len(), 1);
}

#[test]
fn batches_never_mix_topics_and_each_topic_keeps_its_order() {
    use crate::core::encode::Router;
    let fake = FakePublisher::with_script((0..4).map(|_| Script::Slow(Duration::from_millis(5))));
    let mut config = test_config(true);
    let arn = |n: &str| format!("arn:aws:sns:us-east-1:123456789012:{n}.fifo");
    config.encoder.router = Router::new(
        Default::default(),
        &arn("default"),
        &[("agent-b".into(), arn("agent-b"))],
        &[("Escalation".into(), arn("escalations"))],
    )
    .unwrap();
    let logger = Logger::start(config, fake.clone());
    let mut expected: Vec<(String, Vec<String>)> = Vec::new();
    for i in 0..60 {
        let (json, topic) = match i % 3 {
            0 => (
                format!(r#"{{"category":"Survey","action":"a","properties":{{"n":{i}}}}}"#),
                arn("default"),
            ),
            1 => (
                format!(r#"{{"category":"Escalation","action":"a","properties":{{"n":{i}}}}}"#),
                arn("escalations"),
            ),
            _ => (
                format!(
                    r#"{{"category":"Escalation","action":"a","dialogflowAgentId":"agent-b","properties":{{"n":{i}}}}}"#
                ),
                arn("agent-b"),
            ),
        };
        let id = logger.log_json(&json).unwrap().hyphenated().to_string();
        match expected.iter_mut().find(|(t, _)| *t == topic) {
            Some((_, ids)) => ids.push(id),
            None => expected.push((topic, vec![id])),
        }
    }
    assert_eq!(flush_wait(&logger).delivered, 60);
    let requests = fake.requests();
    for (topic, ids) in &expected {
        let sent: Vec<String> = requests
            .iter()
            .filter(|r| &r.topic == topic)
            .flat_map(|r| r.ids.clone())
            .collect();
        assert_eq!(&sent, ids, "{topic} in log() order");
    }
    for r in &requests {
        for body in &r.bodies {
            let want = if body_field(body, "dialogflowAgentId") == "agent-b" {
                arn("agent-b")
            } else if body_field(body, "category") == "Escalation" {
                arn("escalations")
            } else {
                arn("default")
            };
            assert_eq!(r.topic, want, "every entry of a batch belongs to its topic");
        }
    }
    assert!(fake.max_concurrency() > 1, "topics publish in parallel");
}

#[test]
fn room_groups_keep_each_room_in_order_and_rooms_in_parallel() {
    use crate::core::encode::MessageGroup;
    let fake = FakePublisher::with_script((0..40).map(|_| Script::Slow(Duration::from_millis(5))));
    let mut config = test_config(true);
    config.encoder.message_group = MessageGroup::Room;
    let logger = Logger::start(config, fake.clone());
    let mut per_room: Vec<Vec<String>> = vec![Vec::new(); 4];
    for i in 0..80 {
        let room = i % 4;
        let id = logger
            .log_json(&format!(
                r#"{{"category":"c","action":"a","roomId":"r{room}","properties":{{"n":{i}}}}}"#
            ))
            .unwrap();
        per_room[room].push(id.hyphenated().to_string());
    }
    assert_eq!(flush_wait(&logger).delivered, 80);
    let requests = fake.requests();
    for (room, ids) in per_room.iter().enumerate() {
        let group = format!("https://chat.example.com/r{room}");
        let sent: Vec<String> = requests
            .iter()
            .filter(|r| r.group.as_deref() == Some(group.as_str()))
            .flat_map(|r| r.ids.clone())
            .collect();
        assert_eq!(&sent, ids, "room r{room} in log() order, in its own group");
    }
    assert!(fake.max_concurrency() > 1, "rooms publish in parallel");
    assert!(fake.max_concurrency() <= 4, "at most one batch per room");
}

//! Entries SNS refuses for their own sake: kept in the dead-letter store with a spool,
//! reported with their messages without one, and replayed through the same path.

use std::path::Path;

use crate::core::deadletter::DeadLetterStore;
use crate::core::delivery::Logger;
use crate::core::error::ErrorCode;
use crate::core::testing::*;

fn store(dir: &Path) -> DeadLetterStore {
    DeadLetterStore::in_spool(dir, u64::MAX)
}

#[test]
fn with_a_spool_a_refused_entry_is_kept_durably_and_settled() {
    let dir = tempfile::tempdir().unwrap();
    // Entry 2 fails transiently first, then SNS refuses it for good.
    let fake = FakePublisher::with_script([
        Script::FailEntries(vec![2], false),
        Script::FailEntries(vec![0], true),
    ]);
    let logger = Logger::try_start(spooled_config(true, dir.path()), fake.clone()).unwrap();
    let errors = collect_errors(&logger);
    let ids = log_n(&logger, 10);
    let report = flush_wait(&logger);
    assert_eq!((report.delivered, report.failed), (9, 0));
    let stats = logger.stats();
    assert_eq!(
        (stats.dead_lettered, stats.failed, stats.spooled),
        (1, 0, 0)
    );

    let kept = store(dir.path()).read().unwrap();
    assert_eq!(kept.letters.len(), 1);
    let letter = &kept.letters[0];
    assert_eq!(letter.id.hyphenated().to_string(), ids[2]);
    let sent = &fake.requests()[0];
    assert_eq!(letter.message, sent.bodies[2], "the message byte for byte");
    assert_eq!(letter.topic_arn, sent.topic);
    assert_eq!(letter.message_group_id, sent.group);
    assert_eq!(letter.subject, "RC");
    assert_eq!(
        (letter.category.as_str(), letter.action.as_str()),
        ("c", "a")
    );
    assert_eq!(letter.code, "InvalidParameter");
    assert!(letter.sender_fault);
    assert_eq!(letter.attempts, 2);
    assert!(letter.first_attempt_ms <= letter.last_attempt_ms);

    let errors = errors.lock().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].code, ErrorCode::DeadLettered);
    assert_eq!(errors[0].event_ids, vec![ids[2].clone()]);
    assert!(
        errors[0].message.contains("InvalidParameter"),
        "{}",
        errors[0].message
    );
    drop(errors);
    close_wait(&logger, None);
    drop(logger);

    // Settled: the next logger on the folder does not send it again.
    let next_fake = FakePublisher::default();
    let next = Logger::try_start(spooled_config(true, dir.path()), next_fake.clone()).unwrap();
    flush_wait(&next);
    assert_eq!(next.stats().recovered, 0);
    assert!(next_fake.requests().is_empty());
}

#[test]
fn without_a_spool_a_refused_entry_is_failed_and_reported_with_its_message() {
    let fake = FakePublisher::with_script([Script::FailEntries(vec![1, 3], true)]);
    let logger = Logger::start(test_config(true), fake.clone());
    let errors = collect_errors(&logger);
    let ids = log_n(&logger, 5);
    let report = flush_wait(&logger);
    assert_eq!((report.delivered, report.failed), (3, 2));
    assert_eq!(logger.stats().dead_lettered, 0);
    let errors = errors.lock().unwrap();
    assert_eq!(errors.len(), 1, "one report for one reason");
    let e = &errors[0];
    assert_eq!(e.code, ErrorCode::PublishFailed);
    assert_eq!(e.event_ids, vec![ids[1].clone(), ids[3].clone()]);
    let sent = &fake.requests()[0];
    for (entry, i) in e.entries.iter().zip([1, 3]) {
        assert_eq!(entry.id, ids[i]);
        assert_eq!(entry.message, sent.bodies[i]);
        assert_eq!(entry.topic_arn, sent.topic);
        assert_eq!(entry.message_group_id, sent.group);
        assert_eq!(entry.subject, "RC");
        assert_eq!(entry.code, "InvalidParameter");
        assert_eq!(entry.attributes[0], ("eventId".to_owned(), ids[i].clone()));
    }
}

#[test]
fn a_store_that_cannot_be_written_falls_back_to_the_report() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the folder should be.
    std::fs::write(dir.path().join("dead-letter"), b"in the way").unwrap();
    let fake = FakePublisher::with_script([Script::FailEntries(vec![0], true)]);
    let logger = Logger::try_start(spooled_config(true, dir.path()), fake.clone()).unwrap();
    let errors = collect_errors(&logger);
    let ids = log_n(&logger, 3);
    let report = flush_wait(&logger);
    assert_eq!((report.delivered, report.failed), (2, 1));
    assert_eq!(logger.stats().dead_lettered, 0);
    let errors = errors.lock().unwrap();
    let e = errors
        .iter()
        .find(|e| e.code == ErrorCode::PublishFailed)
        .expect("reported");
    assert_eq!(e.event_ids, vec![ids[0].clone()]);
    assert_eq!(e.entries[0].message, fake.requests()[0].bodies[0]);
    assert!(e.message.contains("could not keep them"), "{}", e.message);
}

#[test]
fn past_max_dead_letter_bytes_the_oldest_are_dropped_reported_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = spooled_config(false, dir.path());
    config.spool.as_mut().unwrap().max_dead_letter_bytes = 1 << 20;
    config.max_batch_size = 1;
    // Every entry refused: ~200 KiB each, five fit in 1 MiB.
    let fake = FakePublisher::with_script((0..12).map(|_| Script::FailEntries(vec![0], true)));
    let logger = Logger::try_start(config, fake).unwrap();
    let errors = collect_errors(&logger);
    let pad = "x".repeat(200_000);
    let ids: Vec<String> = (0..12)
        .map(|n| {
            logger
                .log_json(&format!(
                    r#"{{"category":"c","action":"a","properties":{{"n":{n},"pad":"{pad}"}}}}"#
                ))
                .unwrap()
                .hyphenated()
                .to_string()
        })
        .collect();
    flush_wait(&logger);
    let stats = logger.stats();
    assert_eq!(stats.dead_lettered, 12);
    let kept: Vec<String> = store(dir.path())
        .read()
        .unwrap()
        .letters
        .iter()
        .map(|l| l.id.hyphenated().to_string())
        .collect();
    let dropped: Vec<String> = errors
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.code == ErrorCode::DeadLetterFull)
        .flat_map(|e| e.event_ids.clone())
        .collect();
    assert_eq!(stats.dead_letter_dropped, dropped.len() as u64);
    assert!(!dropped.is_empty() && !kept.is_empty());
    // Standard topic, one batch at a time per slot: compare as sets of the oldest.
    let mut all: Vec<String> = dropped.iter().chain(&kept).cloned().collect();
    all.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(all, want, "each kept or reported dropped, once");
    let size = std::fs::metadata(dir.path().join("dead-letter/records.dlq"))
        .unwrap()
        .len();
    assert!(size <= 1 << 20, "{size}");
}

mod replay {
    use super::*;
    use crate::core::deadletter::{DeadLetter, Selection};
    use crate::core::delivery::{replay_dead_letters, FaultKind, ReplayError};
    use crate::core::event::EventType;
    use crate::core::options::ReplayOptions;
    use uuid::Uuid;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:test.fifo";
    const OTHER: &str = "arn:aws:sns:us-east-1:123456789012:fixed.fifo";

    fn letter(code: &str) -> DeadLetter {
        DeadLetter {
            id: Uuid::now_v7(),
            event_type: EventType::Session,
            topic_arn: TOPIC.into(),
            message_group_id: Some("https://chat.example.com/room-1".into()),
            subject: "RC".into(),
            app_id: Some("app-1".into()),
            category: "c".into(),
            action: "a".into(),
            message: r#"{"category":"c","n":"ünï 🙂 \u2028"}"#.into(),
            code: code.into(),
            reason: "said SNS".into(),
            sender_fault: true,
            attempts: 1,
            first_attempt_ms: 1_700_000_000_000,
            last_attempt_ms: 1_700_000_000_100,
        }
    }

    /// To each record's own topic, retrying fast.
    fn fast() -> ReplayOptions {
        ReplayOptions {
            to_recorded_topics: Some(true),
            retry_initial_backoff_ms: Some(1.0),
            retry_max_backoff_ms: Some(5.0),
            timeout_ms: Some(5_000.0),
            ..ReplayOptions::default()
        }
    }

    #[test]
    fn a_dead_letter_round_trip_publishes_it_as_it_was_then_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let refusing = FakePublisher::with_script([Script::FailEntries(vec![1], true)]);
        let logger = Logger::try_start(spooled_config(true, dir.path()), refusing.clone()).unwrap();
        let ids = log_n(&logger, 3);
        flush_wait(&logger);
        close_wait(&logger, None);
        let first = refusing.requests()[0].clone();

        let fake = FakePublisher::default();
        let report =
            replay_dead_letters(dir.path(), &fast(), &Selection::default(), |_| fake.clone())
                .unwrap();
        assert_eq!(report.selected, 1);
        assert_eq!(report.delivered, vec![ids[1].clone()]);
        assert!(report.refused.is_empty() && report.failed.is_empty());
        assert_eq!(report.remaining, 0);
        let sent = fake.requests();
        assert_eq!(sent.len(), 1);
        assert_eq!(
            sent[0].ids,
            vec![ids[1].clone()],
            "the same id: FIFO dedup holds"
        );
        assert_eq!(sent[0].bodies[0], first.bodies[1], "byte for byte");
        assert_eq!(
            (&sent[0].topic, &sent[0].group),
            (&first.topic, &first.group)
        );
        assert!(store(dir.path()).read().unwrap().letters.is_empty());
        // A second replay has nothing to do.
        let again =
            replay_dead_letters(dir.path(), &fast(), &Selection::default(), |_| fake.clone())
                .unwrap();
        assert_eq!((again.selected, fake.requests().len()), (0, 1));
    }

    #[test]
    fn a_record_goes_to_another_topic_and_only_the_codes_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (letter("InvalidParameter"), letter("KMSDisabled"));
        store(dir.path()).append(&[a.clone(), b.clone()]).unwrap();
        let options = ReplayOptions {
            topic_arn: Some(OTHER.into()),
            to_recorded_topics: None,
            ..fast()
        };
        let only_kms = Selection {
            codes: vec!["KMSDisabled".into()],
            ..Selection::default()
        };
        let fake = FakePublisher::default();
        let report =
            replay_dead_letters(dir.path(), &options, &only_kms, |_| fake.clone()).unwrap();
        assert_eq!(report.delivered, vec![b.id.hyphenated().to_string()]);
        assert_eq!(report.remaining, 1);
        let sent = fake.requests();
        assert_eq!(sent[0].topic, OTHER);
        assert_eq!(
            sent[0].group.as_deref(),
            Some("https://chat.example.com/room-1")
        );
        assert_eq!(store(dir.path()).read().unwrap().letters, vec![a]);
    }

    #[test]
    fn refused_again_it_stays_once_with_its_attempts_added_up() {
        let dir = tempfile::tempdir().unwrap();
        let l = letter("InvalidParameter");
        store(dir.path()).append(std::slice::from_ref(&l)).unwrap();
        for round in 1..=2u32 {
            let fake = FakePublisher::with_script([Script::FailEntries(vec![0], true)]);
            let report =
                replay_dead_letters(dir.path(), &fast(), &Selection::default(), |_| fake.clone())
                    .unwrap();
            assert_eq!(report.refused.len(), 1);
            assert!(report.delivered.is_empty() && report.failed.is_empty());
            assert_eq!(report.remaining, 1);
            let kept = store(dir.path()).read().unwrap().letters;
            assert_eq!(kept.len(), 1, "never dead-lettered twice");
            assert_eq!(kept[0].id, l.id);
            assert_eq!(kept[0].attempts, 1 + round);
            assert_eq!(kept[0].first_attempt_ms, l.first_attempt_ms);
            assert!(kept[0].last_attempt_ms > l.last_attempt_ms);
            assert_eq!(kept[0].message, l.message);
        }
    }

    #[test]
    fn an_outage_leaves_the_records_as_they_were() {
        let dir = tempfile::tempdir().unwrap();
        let l = letter("InvalidParameter");
        store(dir.path()).append(std::slice::from_ref(&l)).unwrap();
        let fake =
            FakePublisher::with_script((0..10_000).map(|_| Script::Fail(FaultKind::Transient)));
        let options = ReplayOptions {
            retry_budget_ms: Some(50.0),
            ..fast()
        };
        let report = replay_dead_letters(dir.path(), &options, &Selection::default(), |_| {
            fake.clone()
        })
        .unwrap();
        assert_eq!(report.failed.len(), 1);
        assert!(
            report.failed[0].1.contains("ERR_RETRIES_EXHAUSTED"),
            "{:?}",
            report.failed
        );
        assert!(report.delivered.is_empty() && report.refused.is_empty());
        assert_eq!(store(dir.path()).read().unwrap().letters, vec![l]);
    }

    #[test]
    fn a_second_replay_of_the_same_store_is_refused_and_bad_options_are_named() {
        let dir = tempfile::tempdir().unwrap();
        store(dir.path())
            .append(&[letter("InvalidParameter")])
            .unwrap();
        let _held = store(dir.path()).lock_for_replay().unwrap();
        let fake = FakePublisher::default();
        let Err(ReplayError::Store(e)) =
            replay_dead_letters(dir.path(), &fast(), &Selection::default(), |_| fake.clone())
        else {
            panic!("a second replay ran");
        };
        assert!(e.to_string().contains("another replay"), "{e}");
        let bad = ReplayOptions {
            topic_arn: Some("not-an-arn".into()),
            to_recorded_topics: None,
            ..fast()
        };
        let Err(ReplayError::Option(e)) =
            replay_dead_letters(dir.path(), &bad, &Selection::default(), |_| fake.clone())
        else {
            panic!("a bad topic was taken");
        };
        assert_eq!(e.option, "topicArn");
        // Neither a topic nor toRecordedTopics: the records' own topics are not a
        // default, since whoever writes the folder writes them.
        let nowhere = ReplayOptions {
            to_recorded_topics: None,
            ..fast()
        };
        let Err(ReplayError::Option(e)) =
            replay_dead_letters(dir.path(), &nowhere, &Selection::default(), |_| {
                fake.clone()
            })
        else {
            panic!("a replay went to the recorded topics unasked");
        };
        assert_eq!(e.option, "topicArn");
        assert!(e.reason.contains("toRecordedTopics"), "{e}");
        assert!(fake.requests().is_empty());
    }
}

#[test]
fn spool_records_for_a_topic_no_option_names_are_kept_never_published() {
    let dir = tempfile::tempdir().unwrap();
    // A logger for another topic (or whoever wrote the folder) leaves 5 events.
    let down = FakePublisher::with_script(
        (0..1_000).map(|_| Script::Fail(crate::core::delivery::FaultKind::Transient)),
    );
    let mut elsewhere = spooled_config(true, dir.path());
    elsewhere.encoder = encoder_for("arn:aws:sns:us-east-1:999999999999:not-ours.fifo");
    let first = Logger::try_start(elsewhere, down).unwrap();
    let left = log_n(&first, 5);
    let report = close_wait(&first, Some(std::time::Duration::from_millis(100)));
    assert_eq!(report.spooled, 5);
    drop(first);

    let fake = FakePublisher::default();
    let logger = Logger::try_start(spooled_config(true, dir.path()), fake.clone()).unwrap();
    let errors = collect_errors(&logger);
    let own = log_n(&logger, 3);
    let report = flush_wait(&logger);
    assert_eq!((report.delivered, report.dead_lettered), (3, 5));
    assert!(
        fake.requests()
            .iter()
            .all(|r| !r.topic.contains("not-ours")),
        "nothing reached the foreign topic"
    );
    assert_eq!(accepted_ids(&fake, 0), own);
    let kept = store(dir.path()).read().unwrap();
    let mut kept_ids: Vec<String> = kept
        .letters
        .iter()
        .map(|l| l.id.hyphenated().to_string())
        .collect();
    kept_ids.sort();
    let mut want = left.clone();
    want.sort();
    assert_eq!(kept_ids, want, "kept in the dead-letter store");
    assert!(kept.letters.iter().all(|l| l.code == "ForeignTopic"
        && l.topic_arn == "arn:aws:sns:us-east-1:999999999999:not-ours.fifo"));
    let reported: Vec<_> = errors
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.code == ErrorCode::DeadLettered)
        .flat_map(|e| e.event_ids.clone())
        .collect();
    assert_eq!(reported.len(), 5, "reported by id");
}

//! Entries SNS refused for good for their own sake: a sender fault on one entry of an
//! answered PublishBatch (`InvalidParameter`, a message the topic will not take).
//! Retrying cannot help and dropping would lose them, so they are kept: with a spool,
//! in its dead-letter store, durably, before the spool settles them; without one,
//! reported with their messages so that the host can keep them; in a replay, handed
//! back to the replay, whose store already holds them.

use std::time::Instant;

use super::publisher::EntryFailure;
use super::shared::{DeadLetterSink, Shared};
use crate::core::deadletter::{Appended, DeadLetter, DeadLetterStore};
use crate::core::error::{DeliveryError, ErrorCode, RefusedEntry};
use crate::core::event::EncodedEvent;
use crate::core::telemetry::Stats;

/// One entry of a batch SNS refused for its own sake.
pub(super) struct Refused {
    /// Its index in the batch.
    pub index: usize,
    pub failure: EntryFailure,
    /// Requests of this batch that carried it.
    pub attempts: u32,
}

/// Where a batch went.
pub(super) struct Sent<'a> {
    pub subject: &'a str,
    pub topic_arn: &'a str,
    pub message_group_id: Option<&'a str>,
    /// When its first request started.
    pub started: Instant,
}

/// Keeps every refused entry (see the module's note), counts it and reports it.
/// Returns once they are durable in the store, if there is one.
pub(super) async fn keep_refused(
    shared: &Shared,
    sent: &Sent<'_>,
    events: &[EncodedEvent],
    refused: Vec<Refused>,
) {
    if refused.is_empty() {
        return;
    }
    let now_ms = chrono::Utc::now().timestamp_millis();
    let first_ms = now_ms - sent.started.elapsed().as_millis() as i64;
    let letters: Vec<DeadLetter> = refused
        .into_iter()
        .map(|r| {
            let e = &events[r.index];
            DeadLetter {
                id: e.id,
                event_type: e.event_type,
                topic_arn: sent.topic_arn.to_owned(),
                message_group_id: sent.message_group_id.map(str::to_owned),
                subject: sent.subject.to_owned(),
                app_id: e.app_id.as_deref().map(str::to_owned),
                category: e.category().to_string(),
                action: e.action().to_string(),
                message: e.body().to_string(),
                code: r.failure.code,
                reason: r.failure.message,
                sender_fault: r.failure.sender_fault,
                attempts: r.attempts,
                first_attempt_ms: first_ms,
                last_attempt_ms: now_ms,
            }
        })
        .collect();
    match &shared.dead_letters {
        DeadLetterSink::Report => report_with_messages(shared, letters, ""),
        DeadLetterSink::Collect(kept) => {
            shared.ledger.refusals_kept(letters.len() as u64);
            kept.lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(letters);
        }
        DeadLetterSink::Store(store) => {
            let appended = {
                let (store, letters) = (store.clone(), letters.clone());
                tokio::task::spawn_blocking(move || store.append(&letters)).await
            };
            match appended {
                Ok(Ok(appended)) => report_kept(shared, store, letters, appended),
                Ok(Err(e)) => report_with_messages(
                    shared,
                    letters,
                    &format!(
                        "; the dead-letter store {} could not keep them ({e}), so this report carries them",
                        store.dir().display()
                    ),
                ),
                Err(e) => report_with_messages(
                    shared,
                    letters,
                    &format!("; writing the dead-letter store failed ({e}), so this report carries them"),
                ),
            }
        }
    }
}

/// Letters grouped by why SNS refused them, in order: one report per reason.
fn by_reason(letters: Vec<DeadLetter>) -> Vec<((String, String), Vec<DeadLetter>)> {
    let mut groups: Vec<((String, String), Vec<DeadLetter>)> = Vec::new();
    for letter in letters {
        let key = (letter.code.clone(), letter.reason.clone());
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, group)) => group.push(letter),
            None => groups.push((key, vec![letter])),
        }
    }
    groups
}

fn ids(letters: &[DeadLetter]) -> Vec<String> {
    letters
        .iter()
        .map(|l| l.id.hyphenated().to_string())
        .collect()
}

/// Kept in the store: counted, reported by id, and so are records the bound dropped.
fn report_kept(
    shared: &Shared,
    store: &DeadLetterStore,
    letters: Vec<DeadLetter>,
    appended: Appended,
) {
    let stats = &shared.stats;
    let dir = store.dir().display();
    shared.ledger.refusals_kept(letters.len() as u64);
    for ((code, reason), group) in by_reason(letters) {
        let topic = group
            .first()
            .map(|l| l.topic_arn.clone())
            .unwrap_or_default();
        shared.report_about(
            &topic,
            DeliveryError::new(
                ErrorCode::DeadLettered,
                format!(
                    "SNS refused {} events for good: {code}: {reason}; they are kept in the \
                 dead-letter store {dir}, to list and replay with \
                 `npx rocketchat-sns-analytics dead-letter <spoolDir> list`",
                    group.len()
                ),
                ids(&group),
            ),
        );
    }
    if !appended.dropped.is_empty() {
        Stats::add(&stats.dead_letter_dropped, appended.dropped.len());
        shared.report(DeliveryError::new(
            ErrorCode::DeadLetterFull,
            format!(
                "the dead-letter store {dir} passed maxDeadLetterBytes; its {} oldest records \
                 were dropped from it",
                appended.dropped.len()
            ),
            appended
                .dropped
                .iter()
                .map(|id| id.hyphenated().to_string())
                .collect(),
        ));
    }
    if appended.damaged > 0 {
        shared.report(DeliveryError::new(
            ErrorCode::Spool,
            format!(
                "the dead-letter store {dir} held {} damaged stretches; they could not be read \
                 and were left out when it was rewritten",
                appended.damaged
            ),
            Vec::new(),
        ));
    }
}

/// Not kept here: failed, and reported with each event as it was sent.
fn report_with_messages(shared: &Shared, letters: Vec<DeadLetter>, why_here: &str) {
    shared.ledger.refusals_lost(letters.len() as u64);
    for ((code, reason), group) in by_reason(letters) {
        if let Some(first) = group.first() {
            shared
                .labels
                .failed(&first.topic_arn, ErrorCode::PublishFailed, group.len());
        }
        let mut error = DeliveryError::new(
            ErrorCode::PublishFailed,
            format!("SNS refused the message: {code}: {reason}{why_here}"),
            ids(&group),
        );
        let topic = group
            .first()
            .map(|l| l.topic_arn.clone())
            .unwrap_or_default();
        error.entries = group
            .into_iter()
            .map(|l| RefusedEntry {
                attributes: l
                    .attributes()
                    .into_iter()
                    .map(|(name, value)| (name.to_owned(), value))
                    .collect(),
                id: l.id.hyphenated().to_string(),
                topic_arn: l.topic_arn,
                message_group_id: l.message_group_id,
                subject: l.subject,
                message: l.message,
                code: l.code,
                reason: l.reason,
            })
            .collect();
        shared.report_about(&topic, error);
    }
}

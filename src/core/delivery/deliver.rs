//! Sending one batch until each of its events is settled (delivered, or failed for
//! good), held for a destination SNS refused as a whole, or left to the spool: the
//! retry logic, apart from the loop that schedules batches (`worker.rs`).

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use super::pause::DestinationFault;
use super::publisher::{BatchRequest, BatchResponse, EntryFailure, FaultKind, Publisher};
use super::refusals::{keep_refused, Refused, Sent};
use super::shared::Shared;
use crate::core::encode::Topic;
use crate::core::error::{DeliveryError, ErrorCode};
use crate::core::event::EncodedEvent;
use crate::core::options::RetryPolicy;
use crate::core::telemetry::Settled;
use crate::core::telemetry::Stats;

use super::debug_log;
use super::next_step::{next_step, Attempt, BatchState, Step};

/// What every request of one logger has in common.
pub(crate) struct RequestContext {
    pub subject: String,
    /// `siteUrl`: the message group of FIFO events without one of their own.
    pub site_group: String,
    pub retry: RetryPolicy,
    /// A spool keeps every event until it is settled: transient failures past the
    /// retry budget and a shutdown deadline leave events there instead of failing
    /// them.
    pub spooled: bool,
    /// `debug`: one line per batch outcome on standard error.
    pub debug: bool,
}

/// Where one batch goes.
pub(crate) struct BatchTarget {
    pub topic: Topic,
    pub group: Option<Box<str>>,
    /// The probe of a paused destination: one attempt, its events counted as held.
    pub probe: bool,
    /// A topic only spool records name (another logger's, or a crafted file's), which
    /// no option of this logger names: never published to (see [`FOREIGN_TOPIC`]).
    pub foreign: bool,
}

/// The code a record for a foreign topic is dead-lettered with. Whoever can write the
/// spool folder must not be able to publish, with the server's credentials, to any
/// topic they reach: such records are kept in the dead-letter store, where an operator
/// replays them with an explicit `--topic` or `--to-recorded-topics`.
pub(crate) const FOREIGN_TOPIC: &str = "ForeignTopic";

/// The answer a batch for a foreign topic gets instead of a request: every entry
/// refused for its own sake, as SNS refuses an entry it will never take.
fn refuse_foreign(topic_arn: &str, entries: &[&EncodedEvent]) -> BatchResponse {
    BatchResponse {
        successful: Vec::new(),
        failed: entries
            .iter()
            .map(|e| EntryFailure {
                id: e.id_string(),
                kind: FaultKind::Permanent,
                code: FOREIGN_TOPIC.to_owned(),
                message: format!(
                    "read back from the spool for {topic_arn}, which no option of this logger \
                     names: never published; replay it with an explicit --topic or \
                     --to-recorded-topics"
                ),
                sender_fault: true,
            })
            .collect(),
    }
}

/// What became of one batch, for the loop.
#[derive(Debug, Default)]
pub(crate) struct BatchOutcome {
    /// Per event: settled (delivered or failed for good), to acknowledge in the spool.
    pub settled: Vec<bool>,
    /// SNS refused the destination as a whole: the events not settled are held for it.
    pub refused: Option<DestinationFault>,
    /// SNS answered with a result per entry (for a probe: the destination takes
    /// requests again, unless `refused`).
    pub answered: bool,
    /// The events the loop takes back, with their places in the batch: those held
    /// for a refusing destination, and the ones a probe did not settle.
    pub returned: Vec<(usize, EncodedEvent)>,
}

/// Why an event of a batch ended up failed.
struct Failure {
    code: ErrorCode,
    message: String,
}

/// Resolves when the logger's shutdown deadline has passed.
async fn shutdown_deadline(mut deadline: watch::Receiver<Option<Instant>>) {
    loop {
        let current = *deadline.borrow_and_update();
        match current {
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at.into()) => return,
                    changed = deadline.changed() => if changed.is_err() { return },
                }
            }
            None => {
                if deadline.changed().await.is_err() {
                    return;
                }
            }
        }
    }
}

/// What one answered PublishBatch means for the entries that were sent.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct SortedAnswer {
    /// Accepted by SNS.
    pub delivered: Vec<usize>,
    /// To send again: failed transiently, or missing from the answer.
    pub retry: Vec<usize>,
    /// Refused for good for their own sake, with SNS's word on each.
    pub refused: Vec<(usize, EntryFailure)>,
    /// Refused because the destination cannot take anything: to hold.
    pub unavailable: Vec<usize>,
    /// The first such refusal.
    pub refusal: Option<DestinationFault>,
    /// SNS asked to slow down for at least one entry.
    pub throttled: bool,
    /// The first reason an entry is sent again, for reports.
    pub first_error: String,
}

/// Sorts the entries `sent` (indices into `ids`, the event ids) by SNS's answer, in
/// their order, using the fault kind the transport gave each failed entry.
pub(super) fn sort_answer(
    sent: &[usize],
    ids: &[String],
    response: &BatchResponse,
) -> SortedAnswer {
    let mut sorted = SortedAnswer::default();
    let note = |sorted: &mut SortedAnswer, why: String| {
        if sorted.first_error.is_empty() {
            sorted.first_error = why;
        }
    };
    for &i in sent {
        let id = &ids[i];
        if let Some(f) = response.failed.iter().find(|f| &f.id == id) {
            match f.kind {
                FaultKind::Permanent => sorted.refused.push((i, f.clone())),
                FaultKind::DestinationUnavailable => {
                    sorted.unavailable.push(i);
                    sorted.refusal.get_or_insert_with(|| DestinationFault {
                        code: f.code.clone(),
                        message: f.message.clone(),
                    });
                }
                kind => {
                    sorted.throttled |= kind == FaultKind::Throttled;
                    note(&mut sorted, format!("{}: {}", f.code, f.message));
                    sorted.retry.push(i);
                }
            }
        } else if response.successful.iter().any(|s| s == id) {
            sorted.delivered.push(i);
        } else {
            note(&mut sorted, "SNS answered without this entry".to_owned());
            sorted.retry.push(i);
        }
    }
    sorted
}

/// Sends one batch: retries the entries SNS failed without a sender fault (never the
/// ones it accepted), with capped, jittered backoff, waiting out any pause a throttled
/// request asked for, until the retry budget or the shutdown deadline runs out (with a
/// spool: until SNS answers, or the deadline leaves the events to the next logger).
/// A refusal of the destination as a whole stops at once and hands the events back
/// to be held; a probe makes one attempt and hands back what it did not settle.
/// Updates the shared counters, reports failures once, and says which events are
/// settled (the rest are held, or stay in the spool).
pub(crate) async fn deliver_batch<P: Publisher>(
    publisher: Arc<P>,
    context: Arc<RequestContext>,
    shared: Arc<Shared>,
    target: BatchTarget,
    events: Vec<EncodedEvent>,
) -> BatchOutcome {
    let message_group_id = match (&target.group, target.topic.fifo) {
        (_, false) => None,
        (Some(group), true) => Some(&**group),
        (None, true) => Some(context.site_group.as_str()),
    };
    let stats = &shared.stats;
    let started = Instant::now();
    let mut state = BatchState {
        policy: &context.retry,
        give_up_at: started + context.retry.budget,
        probe: target.probe,
        spooled: context.spooled,
        refused_once: None,
    };
    let mut delayed_reported = false;
    let mut shutdown = std::pin::pin!(shutdown_deadline(shared.deadline.subscribe()));
    // Indices into `events` still to send.
    let mut todo: Vec<usize> = (0..events.len()).collect();
    let mut settled = vec![false; events.len()];
    let mut delivered = 0usize;
    let mut failures: Vec<(usize, Failure)> = Vec::new();
    // Entries refused for their own sake, to keep (dead-letter store or report).
    let mut refused_entries: Vec<Refused> = Vec::new();
    let mut retry = 0u32;
    let mut refused: Option<DestinationFault> = None;
    let mut answered = false;
    let mut id_strings: Vec<String> = events.iter().map(EncodedEvent::id_string).collect();
    // Events a shutdown deadline left unsent: failed, or kept by the spool.
    let cut_off = |todo: &mut Vec<usize>, failures: &mut Vec<(usize, Failure)>, why: String| {
        if context.spooled {
            todo.clear();
        } else {
            for i in todo.drain(..) {
                failures.push((
                    i,
                    Failure {
                        code: ErrorCode::ShutdownTimeout,
                        message: why.clone(),
                    },
                ));
            }
        }
    };

    while !todo.is_empty() {
        if let Some(until) = shared.paused_until() {
            let stopped = tokio::select! {
                biased;
                _ = &mut shutdown => true,
                _ = tokio::time::sleep_until(until.into()) => false,
            };
            if stopped {
                cut_off(
                    &mut todo,
                    &mut failures,
                    "the shutdown deadline passed while SNS was throttling".into(),
                );
                break;
            }
        }
        let entries: Vec<&EncodedEvent> = todo.iter().map(|&i| &events[i]).collect();
        let outcome = if target.foreign {
            Some(Ok(refuse_foreign(&target.topic.arn, &entries)))
        } else {
            let request = BatchRequest {
                topic_arn: &target.topic.arn,
                subject: &context.subject,
                message_group_id,
                entries: &entries,
            };
            Stats::add(&stats.batches_sent, 1);
            tokio::select! {
                biased;
                _ = &mut shutdown => None,
                r = publisher.publish_batch(request) => Some(r),
            }
        };
        let last_error: String;
        let throttled: bool;
        // SNS refused the destination as a whole this time.
        let mut refusal: Option<DestinationFault> = None;
        match outcome {
            None => {
                cut_off(
                    &mut todo,
                    &mut failures,
                    "the shutdown deadline passed while the request was in flight".into(),
                );
                break;
            }
            Some(Ok(response)) => {
                answered = true;
                let sorted = sort_answer(&todo, &id_strings, &response);
                for &i in &sorted.delivered {
                    settled[i] = true;
                    delivered += 1;
                }
                // Every request so far carried it: `todo` only ever shrinks.
                refused_entries.extend(sorted.refused.into_iter().map(|(index, failure)| {
                    Refused {
                        index,
                        failure,
                        attempts: retry + 1,
                    }
                }));
                throttled = sorted.throttled;
                todo = sorted.retry;
                last_error = sorted.first_error;
                if sorted.refusal.is_some() {
                    // The destination cannot take anything: the rest waits with it.
                    refusal = sorted.refusal;
                    todo.extend(sorted.unavailable);
                    todo.sort_unstable();
                }
            }
            Some(Err(e)) if e.kind == FaultKind::DestinationUnavailable => {
                throttled = false;
                last_error = e.to_string();
                refusal = Some(DestinationFault {
                    code: e.code,
                    message: e.message,
                });
            }
            Some(Err(e)) if e.kind == FaultKind::Permanent => {
                for i in todo.drain(..) {
                    failures.push((
                        i,
                        Failure {
                            code: ErrorCode::PublishFailed,
                            message: format!("SNS refused the request: {e}"),
                        },
                    ));
                }
                break;
            }
            Some(Err(e)) => {
                throttled = e.kind == FaultKind::Throttled;
                last_error = e.to_string();
            }
        }
        let backoff = context.retry.backoff(retry, &mut rand::rng());
        let (step, pause) = next_step(
            &mut state,
            Attempt {
                refusal,
                left: todo.len(),
                throttled,
                retries: retry,
                now: Instant::now(),
                backoff,
            },
        );
        if let Some(pause) = pause {
            shared.pause_for(pause);
        }
        let backoff = match step {
            Step::Done => break,
            Step::Hold(r) => {
                refused = Some(r);
                break;
            }
            Step::GiveUp => {
                // One message for all: failures are reported grouped by message, and a
                // clock read per entry could split one batch across a millisecond.
                let message = format!(
                    "gave up after {} attempts over {} ms; last error: {last_error}",
                    retry + 1,
                    started.elapsed().as_millis()
                );
                for i in todo.drain(..) {
                    failures.push((
                        i,
                        Failure {
                            code: ErrorCode::RetriesExhausted,
                            message: message.clone(),
                        },
                    ));
                }
                break;
            }
            Step::Retry {
                backoff,
                past_budget,
            } => {
                if past_budget && !delayed_reported {
                    delayed_reported = true;
                    let ids = todo.iter().map(|&i| id_strings[i].clone()).collect();
                    let message = format!(
                        "SNS has failed these events for {} ms (last error: {last_error}); they \
                         stay in the spool and are retried until SNS answers",
                        started.elapsed().as_millis()
                    );
                    shared.report_about(
                        &target.topic.arn,
                        DeliveryError::new(ErrorCode::DeliveryDelayed, message, ids),
                    );
                }
                backoff
            }
        };
        retry += 1;
        let stopped = tokio::select! {
            biased;
            _ = &mut shutdown => true,
            _ = tokio::time::sleep(backoff) => false,
        };
        if stopped {
            cut_off(
                &mut todo,
                &mut failures,
                format!("the shutdown deadline passed while retrying; last error: {last_error}"),
            );
            break;
        }
        Stats::add(&stats.retried, todo.len());
    }

    // How each settled event was settled: delivered unless refused or failed.
    let mut how = vec![Settled::Delivered; events.len()];
    for r in &refused_entries {
        settled[r.index] = true;
        how[r.index] = Settled::Refused;
    }
    // Counted by keep_refused, dead-lettered or failed: settled either way.
    let refused_count = refused_entries.len();
    let sent = Sent {
        subject: &context.subject,
        topic_arn: &target.topic.arn,
        message_group_id,
        started,
    };
    keep_refused(&shared, &sent, &events, refused_entries).await;

    let n = events.len();
    for (i, _) in &failures {
        settled[*i] = true;
        how[*i] = Settled::Failed;
    }
    // Only what is settled leaves the account's unsettled events: what is held, or
    // left in the spool by the deadline, is still to be delivered.
    let settled_count = delivered + failures.len() + refused_count;
    shared.labels.delivered(&target.topic.arn, delivered);
    for (_, failure) in &failures {
        shared.labels.failed(&target.topic.arn, failure.code, 1);
    }
    if target.probe {
        // A probe's events were held; `held` falls first (see `Ledger::account`).
        shared.ledger.release_held(settled_count as u64);
    }
    shared.ledger.answered(n as u64);
    if context.debug {
        debug_log::batch_outcome(&debug_log::Outcome {
            topic: &target.topic.arn,
            group: message_group_id,
            events: &events,
            delivered,
            failures: failures.iter().map(|(_, f)| f.code).collect(),
            refused: refused_count,
            attempts: retry + 1,
            elapsed: started.elapsed(),
            probe: target.probe,
        });
    }
    for ((event, settled), how) in events.iter().zip(&settled).zip(how) {
        if *settled {
            shared
                .ledger
                .settle(event.source(), 1, event.queued_bytes() as u64, how);
        }
    }

    // One report per distinct failure, naming all its events.
    let mut grouped: Vec<(ErrorCode, String, Vec<String>)> = Vec::new();
    for (i, failure) in failures {
        let id = std::mem::take(&mut id_strings[i]);
        match grouped
            .iter_mut()
            .find(|(c, m, _)| *c == failure.code && *m == failure.message)
        {
            Some((_, _, ids)) => ids.push(id),
            None => grouped.push((failure.code, failure.message, vec![id])),
        }
    }
    for (code, message, event_ids) in grouped {
        shared.report_about(
            &target.topic.arn,
            DeliveryError::new(code, message, event_ids),
        );
    }
    let returned = if refused.is_some() || target.probe {
        let mut wanted = todo.into_iter().peekable();
        events
            .into_iter()
            .enumerate()
            .filter(|(i, _)| wanted.next_if_eq(i).is_some())
            .collect()
    } else {
        Vec::new()
    };
    BatchOutcome {
        settled,
        refused,
        answered,
        returned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(id: &str, kind: FaultKind, code: &str) -> EntryFailure {
        EntryFailure {
            id: id.into(),
            kind,
            code: code.into(),
            message: "said SNS".into(),
            sender_fault: kind == FaultKind::Permanent,
        }
    }

    #[test]
    fn an_answer_sorts_entries_into_delivered_retry_and_failed() {
        let ids: Vec<String> = ["a", "b", "c", "d", "e", "f"].map(String::from).into();
        let response = BatchResponse {
            successful: vec!["a".into(), "e".into()],
            failed: vec![
                failure("b", FaultKind::Permanent, "InvalidParameter"),
                failure("c", FaultKind::Transient, "InternalError"),
                failure("d", FaultKind::Throttled, "Throttling"),
            ],
        };
        // "f" is missing from the answer; "x" was not sent this time.
        let sorted = sort_answer(&[0, 1, 2, 3, 4, 5], &ids, &response);
        assert_eq!(sorted.delivered, vec![0, 4]);
        assert_eq!(sorted.retry, vec![2, 3, 5]);
        assert!(sorted.unavailable.is_empty() && sorted.refusal.is_none());
        assert_eq!(
            sorted.refused,
            vec![(1, failure("b", FaultKind::Permanent, "InvalidParameter"))]
        );
        assert!(sorted.throttled);
        assert_eq!(sorted.first_error, "InternalError: said SNS");
    }

    #[test]
    fn an_entry_refused_for_its_destination_is_held_not_failed() {
        let ids: Vec<String> = ["a", "b", "c"].map(String::from).into();
        let response = BatchResponse {
            successful: vec!["a".into()],
            failed: vec![
                failure("b", FaultKind::DestinationUnavailable, "KMSDisabled"),
                failure("c", FaultKind::DestinationUnavailable, "KMSInvalidState"),
            ],
        };
        let sorted = sort_answer(&[0, 1, 2], &ids, &response);
        assert_eq!(sorted.delivered, vec![0]);
        assert_eq!(sorted.unavailable, vec![1, 2]);
        assert!(sorted.refused.is_empty() && sorted.retry.is_empty());
        assert_eq!(
            sorted.refusal,
            Some(DestinationFault {
                code: "KMSDisabled".into(),
                message: "said SNS".into()
            })
        );
    }

    #[test]
    fn only_the_entries_sent_are_sorted() {
        let ids: Vec<String> = ["a", "b", "c"].map(String::from).into();
        let response = BatchResponse {
            successful: vec!["c".into()],
            failed: vec![],
        };
        let sorted = sort_answer(&[2], &ids, &response);
        assert_eq!(sorted.delivered, vec![2]);
        assert!(sorted.retry.is_empty() && sorted.refused.is_empty() && !sorted.throttled);
        let none = sort_answer(&[0], &ids, &response);
        assert_eq!(none.retry, vec![0]);
        assert_eq!(none.first_error, "SNS answered without this entry");
    }
}

//! Sending one batch until each of its events is settled (delivered, or failed for
//! good) or left to the spool: the retry logic, apart from the loop that schedules
//! batches (`worker.rs`).

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use super::publisher::{BatchRequest, BatchResponse, EntryFailure, FaultKind, Publisher};
use super::refusals::{keep_refused, Refused, Sent};
use super::shared::Shared;
use crate::core::encode::Topic;
use crate::core::error::{DeliveryError, ErrorCode};
use crate::core::event::EncodedEvent;
use crate::core::options::RetryPolicy;
use crate::core::telemetry::Stats;

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
}

/// Where one batch goes.
pub(crate) struct BatchTarget {
    pub topic: Topic,
    pub group: Option<Box<str>>,
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
/// Updates the shared counters, reports failures once, and returns which events are
/// settled (the rest stay in the spool).
pub(crate) async fn deliver_batch<P: Publisher>(
    publisher: Arc<P>,
    context: Arc<RequestContext>,
    shared: Arc<Shared>,
    target: BatchTarget,
    events: Vec<EncodedEvent>,
) -> Vec<bool> {
    let message_group_id = match (&target.group, target.topic.fifo) {
        (_, false) => None,
        (Some(group), true) => Some(&**group),
        (None, true) => Some(context.site_group.as_str()),
    };
    let stats = &shared.stats;
    let started = Instant::now();
    let give_up_at = started + context.retry.budget;
    let mut delayed_reported = false;
    let mut shutdown = std::pin::pin!(shutdown_deadline(shared.deadline.subscribe()));
    // Indices into `events` still to send.
    let mut todo: Vec<usize> = (0..events.len()).collect();
    let mut settled = vec![false; events.len()];
    let mut delivered = 0usize;
    let mut failures: Vec<(usize, Failure)> = Vec::new();
    let mut refused: Vec<Refused> = Vec::new();
    let mut retry = 0u32;
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
        let request = BatchRequest {
            topic_arn: &target.topic.arn,
            subject: &context.subject,
            message_group_id,
            entries: &entries,
        };
        Stats::add(&stats.batches_sent, 1);
        let outcome = tokio::select! {
            biased;
            _ = &mut shutdown => None,
            r = publisher.publish_batch(request) => Some(r),
        };
        let last_error: String;
        let throttled: bool;
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
                let sorted = sort_answer(&todo, &id_strings, &response);
                for i in sorted.delivered {
                    settled[i] = true;
                    delivered += 1;
                }
                // Every request so far carried it: `todo` only ever shrinks.
                refused.extend(sorted.refused.into_iter().map(|(index, failure)| Refused {
                    index,
                    failure,
                    attempts: retry + 1,
                }));
                throttled = sorted.throttled;
                todo = sorted.retry;
                last_error = sorted.first_error;
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
        if todo.is_empty() {
            break;
        }
        if throttled {
            // Slow the whole logger, not just this batch: every request waits.
            shared.pause_for(context.retry.backoff_cap(retry));
        }
        let backoff = context.retry.backoff(retry, &mut rand::rng());
        retry += 1;
        if Instant::now() + backoff > give_up_at {
            if !context.spooled {
                // One message for all: failures are reported grouped by message, and a
                // clock read per entry could split one batch across a millisecond.
                let message = format!(
                    "gave up after {retry} attempts over {} ms; last error: {last_error}",
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
            if !delayed_reported {
                delayed_reported = true;
                shared.report(DeliveryError::new(
                    ErrorCode::DeliveryDelayed,
                    format!(
                        "SNS has failed these events for {} ms (last error: {last_error}); they stay \
                         in the spool and are retried until SNS answers",
                        started.elapsed().as_millis()
                    ),
                    todo.iter().map(|&i| id_strings[i].clone()).collect(),
                ));
            }
        }
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

    for r in &refused {
        settled[r.index] = true;
    }
    let sent = Sent {
        subject: &context.subject,
        topic_arn: &target.topic.arn,
        message_group_id,
        started,
    };
    keep_refused(&shared, &sent, &events, refused).await;

    let n = events.len();
    let bytes: usize = events.iter().map(EncodedEvent::queued_bytes).sum();
    shared.labels.delivered(&target.topic.arn, delivered);
    for (_, failure) in &failures {
        shared.labels.failed(&target.topic.arn, failure.code, 1);
    }
    Stats::add(&stats.delivered, delivered);
    Stats::add(&stats.failed, failures.len());
    Stats::sub(&stats.in_flight, n);
    stats.release(n, bytes);

    // One report per distinct failure, naming all its events.
    let mut grouped: Vec<(ErrorCode, String, Vec<String>)> = Vec::new();
    for (i, failure) in failures {
        settled[i] = true;
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
        shared.report(DeliveryError::new(code, message, event_ids));
    }
    settled
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
        assert_eq!(
            sorted.refused,
            vec![(1, failure("b", FaultKind::Permanent, "InvalidParameter"))]
        );
        assert!(sorted.throttled);
        assert_eq!(sorted.first_error, "InternalError: said SNS");
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

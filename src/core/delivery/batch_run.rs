//! One batch on its way: which of its events are still to send, which are settled and
//! how, and what SNS last said. `deliver.rs` sends and waits; this takes each answer
//! in, carries out the decision `next_step.rs` makes, and at the end settles the
//! batch: the account, the labels, the reports and the events handed back.

use std::time::Instant;

use super::answer::sort_answer;
use super::debug_log;
use super::next_step::{Attempt, Step};
use super::pause::DestinationFault;
use super::publisher::{BatchResponse, FaultKind, PublishError};
use super::refusals::{keep_refused, Refused, Sent};
use super::shared::Shared;
use crate::core::error::{DeliveryError, ErrorCode};
use crate::core::event::EncodedEvent;
use crate::core::telemetry::Settled;

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

/// What one attempt came to, before the decision.
pub(super) struct Answer {
    /// SNS asked to slow down.
    pub throttled: bool,
    /// SNS refused the destination as a whole.
    pub refusal: Option<DestinationFault>,
}

pub(super) struct BatchRun {
    events: Vec<EncodedEvent>,
    ids: Vec<String>,
    /// Indices into `events` still to send, in order.
    todo: Vec<usize>,
    settled: Vec<bool>,
    delivered: usize,
    failures: Vec<(usize, Failure)>,
    /// Entries refused for their own sake, to keep (dead-letter store or report).
    refused: Vec<Refused>,
    /// Retries made so far.
    pub retries: u32,
    /// The destination is held: what is left goes back to the loop.
    hold: Option<DestinationFault>,
    /// SNS answered with a result per entry at least once.
    answered: bool,
    delayed_reported: bool,
    last_error: String,
    pub started: Instant,
}

impl BatchRun {
    pub fn new(events: Vec<EncodedEvent>) -> Self {
        BatchRun {
            ids: events.iter().map(EncodedEvent::id_string).collect(),
            todo: (0..events.len()).collect(),
            settled: vec![false; events.len()],
            events,
            delivered: 0,
            failures: Vec::new(),
            refused: Vec::new(),
            retries: 0,
            hold: None,
            answered: false,
            delayed_reported: false,
            last_error: String::new(),
            started: Instant::now(),
        }
    }

    pub fn is_done(&self) -> bool {
        self.todo.is_empty()
    }

    /// Entries still to send.
    pub fn left(&self) -> usize {
        self.todo.len()
    }

    /// The entries of the next request.
    pub fn entries(&self) -> Vec<&EncodedEvent> {
        self.todo.iter().map(|&i| &self.events[i]).collect()
    }

    /// Takes in SNS's answer with a result per entry.
    pub fn take_answer(&mut self, response: &BatchResponse) -> Answer {
        self.answered = true;
        let sorted = sort_answer(&self.todo, &self.ids, response);
        for &i in &sorted.delivered {
            self.settled[i] = true;
            self.delivered += 1;
        }
        // Every request so far carried them: `todo` only ever shrinks.
        let attempts = self.retries + 1;
        self.refused
            .extend(sorted.refused.into_iter().map(|(index, failure)| Refused {
                index,
                failure,
                attempts,
            }));
        self.todo = sorted.retry;
        self.last_error = sorted.first_error;
        if sorted.refusal.is_some() {
            // The destination cannot take anything: the rest waits with it.
            self.todo.extend(sorted.unavailable);
            self.todo.sort_unstable();
        }
        Answer {
            throttled: sorted.throttled,
            refusal: sorted.refusal,
        }
    }

    /// Takes in a request that got no answer per entry; `None`: SNS refused the
    /// request for good, and what was in it has failed.
    pub fn take_error(&mut self, e: PublishError) -> Option<Answer> {
        self.last_error = e.to_string();
        match e.kind {
            FaultKind::Permanent => {
                self.fail_rest(
                    ErrorCode::PublishFailed,
                    format!("SNS refused the request: {e}"),
                );
                None
            }
            FaultKind::DestinationUnavailable => Some(Answer {
                throttled: false,
                refusal: Some(DestinationFault {
                    code: e.code,
                    message: e.message,
                }),
            }),
            kind => Some(Answer {
                throttled: kind == FaultKind::Throttled,
                refusal: None,
            }),
        }
    }

    /// The attempt as the decision sees it.
    pub fn attempt(&self, answer: Answer, backoff: std::time::Duration) -> Attempt {
        Attempt {
            refusal: answer.refusal,
            left: self.todo.len(),
            throttled: answer.throttled,
            retries: self.retries,
            now: Instant::now(),
            backoff,
        }
    }

    /// Carries out `step`: the backoff before the next attempt, or `None` when the
    /// batch is over.
    pub fn carry_out(
        &mut self,
        step: Step,
        shared: &Shared,
        topic_arn: &str,
    ) -> Option<std::time::Duration> {
        match step {
            Step::Done => None,
            Step::Hold(refusal) => {
                self.hold = Some(refusal);
                None
            }
            Step::GiveUp => {
                // One message for all: failures are reported grouped by message, and a
                // clock read per entry could split one batch across a millisecond.
                let message = format!(
                    "gave up after {} attempts over {} ms; last error: {}",
                    self.retries + 1,
                    self.started.elapsed().as_millis(),
                    self.last_error
                );
                self.fail_rest(ErrorCode::RetriesExhausted, message);
                None
            }
            Step::Retry {
                backoff,
                past_budget,
            } => {
                if past_budget && !self.delayed_reported {
                    self.delayed_reported = true;
                    let ids = self.todo.iter().map(|&i| self.ids[i].clone()).collect();
                    let message = format!(
                        "SNS has failed these events for {} ms (last error: {}); they stay in \
                         the spool and are retried until SNS answers",
                        self.started.elapsed().as_millis(),
                        self.last_error
                    );
                    shared.report_about(
                        topic_arn,
                        DeliveryError::new(ErrorCode::DeliveryDelayed, message, ids),
                    );
                }
                Some(backoff)
            }
        }
    }

    /// The shutdown deadline passed (`why` says while what): what is left is failed,
    /// or with a spool left there for the next logger.
    pub fn cut_off(&mut self, spooled: bool, why: String) {
        if spooled {
            self.todo.clear();
        } else {
            self.fail_rest(ErrorCode::ShutdownTimeout, why);
        }
    }

    /// The reason the last attempt gave for what it left to send.
    pub fn last_error(&self) -> &str {
        &self.last_error
    }

    fn fail_rest(&mut self, code: ErrorCode, message: String) {
        for i in self.todo.drain(..) {
            self.failures.push((
                i,
                Failure {
                    code,
                    message: message.clone(),
                },
            ));
        }
    }

    /// Settles the batch: refused entries kept, every settled event out of the
    /// account, failures reported once per reason, and the events the loop takes back
    /// (held for a refusing destination, or not settled by a probe).
    pub async fn finish(
        mut self,
        shared: &Shared,
        sent: Sent<'_>,
        probe: bool,
        debug: bool,
    ) -> BatchOutcome {
        let mut how = vec![Settled::Delivered; self.events.len()];
        for r in &self.refused {
            self.settled[r.index] = true;
            how[r.index] = Settled::Refused;
        }
        // Counted by keep_refused, dead-lettered or failed: settled either way.
        let refused_count = self.refused.len();
        keep_refused(
            shared,
            &sent,
            &self.events,
            std::mem::take(&mut self.refused),
        )
        .await;
        for (i, _) in &self.failures {
            self.settled[*i] = true;
            how[*i] = Settled::Failed;
        }
        // Only what is settled leaves the account's unsettled events: what is held, or
        // left in the spool by the deadline, is still to be delivered.
        let settled_count = self.delivered + self.failures.len() + refused_count;
        shared.labels.delivered(sent.topic_arn, self.delivered);
        for (_, failure) in &self.failures {
            shared.labels.failed(sent.topic_arn, failure.code, 1);
        }
        if probe {
            // A probe's events were held; `held` falls first (see `Ledger::account`).
            shared.ledger.release_held(settled_count as u64);
        }
        shared.ledger.answered(self.events.len() as u64);
        if debug {
            debug_log::batch_outcome(&debug_log::Outcome {
                topic: sent.topic_arn,
                group: sent.message_group_id,
                events: &self.events,
                delivered: self.delivered,
                failures: self.failures.iter().map(|(_, f)| f.code).collect(),
                refused: refused_count,
                attempts: self.retries + 1,
                elapsed: self.started.elapsed(),
                probe,
            });
        }
        for ((event, settled), how) in self.events.iter().zip(&self.settled).zip(how) {
            if *settled {
                shared
                    .ledger
                    .settle(event.source(), 1, event.queued_bytes() as u64, how);
            }
        }
        self.report_failures(shared, sent.topic_arn);
        let returned = if self.hold.is_some() || probe {
            let mut wanted = self.todo.into_iter().peekable();
            self.events
                .into_iter()
                .enumerate()
                .filter(|(i, _)| wanted.next_if_eq(i).is_some())
                .collect()
        } else {
            Vec::new()
        };
        BatchOutcome {
            settled: self.settled,
            refused: self.hold,
            answered: self.answered,
            returned,
        }
    }

    /// One report per distinct failure, naming all its events.
    fn report_failures(&mut self, shared: &Shared, topic_arn: &str) {
        let mut grouped: Vec<(ErrorCode, String, Vec<String>)> = Vec::new();
        for (i, failure) in self.failures.drain(..) {
            let id = std::mem::take(&mut self.ids[i]);
            match grouped
                .iter_mut()
                .find(|(c, m, _)| *c == failure.code && *m == failure.message)
            {
                Some((_, _, ids)) => ids.push(id),
                None => grouped.push((failure.code, failure.message, vec![id])),
            }
        }
        for (code, message, event_ids) in grouped {
            shared.report_about(topic_arn, DeliveryError::new(code, message, event_ids));
        }
    }
}

//! Sending one batch until each of its events is settled (delivered, or failed for
//! good), held for a destination SNS refused as a whole, or left to the spool: a short
//! loop of send, sort the answer (`answer.rs`), decide (`next_step.rs`) and wait, over
//! the batch's state (`batch_run.rs`), apart from the loop that schedules batches
//! (`worker/`).

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use super::batch_run::{BatchOutcome, BatchRun};
use super::publisher::{BatchRequest, BatchResponse, EntryFailure, FaultKind, Publisher};
use super::refusals::Sent;
use super::shared::Shared;
use crate::core::encode::Topic;
use crate::core::event::EncodedEvent;
use crate::core::options::RetryPolicy;
use crate::core::telemetry::Stats;

use super::next_step::{next_step, BatchState};

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

/// Sends one batch: retries the entries SNS failed without a sender fault (never the
/// ones it accepted), with capped, jittered backoff, waiting out any pause a throttled
/// request asked for, until the retry budget or the shutdown deadline runs out (with a
/// spool: until SNS answers, or the deadline leaves the events to the next logger).
/// A refusal of the destination as a whole stops at once and hands the events back
/// to be held; a probe makes one attempt and hands back what it did not settle.
/// What to do after each attempt is `next_step`'s decision; `BatchRun` keeps the
/// batch's state and settles it at the end.
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
    let mut run = BatchRun::new(events);
    let mut state = BatchState {
        policy: &context.retry,
        give_up_at: run.started + context.retry.budget,
        probe: target.probe,
        spooled: context.spooled,
        refused_once: None,
    };
    let mut shutdown = std::pin::pin!(shutdown_deadline(shared.deadline.subscribe()));
    let cut_off = |run: &mut BatchRun, why: String| run.cut_off(context.spooled, why);

    while !run.is_done() {
        if let Some(until) = shared.paused_until() {
            tokio::select! {
                biased;
                _ = &mut shutdown => {
                    cut_off(&mut run, "the shutdown deadline passed while SNS was throttling".into());
                    break;
                }
                _ = tokio::time::sleep_until(until.into()) => {}
            }
        }
        let answered = {
            let entries = run.entries();
            if target.foreign {
                Ok(refuse_foreign(&target.topic.arn, &entries))
            } else {
                let request = BatchRequest {
                    topic_arn: &target.topic.arn,
                    subject: &context.subject,
                    message_group_id,
                    entries: &entries,
                };
                Stats::add(&shared.stats.batches_sent, 1);
                tokio::select! {
                    biased;
                    _ = &mut shutdown => Err(None),
                    r = publisher.publish_batch(request) => r.map_err(Some),
                }
            }
        };
        let answer = match answered {
            Ok(response) => run.take_answer(&response),
            Err(Some(e)) => match run.take_error(e) {
                Some(answer) => answer,
                None => break,
            },
            Err(None) => {
                let why = "the shutdown deadline passed while the request was in flight";
                cut_off(&mut run, why.into());
                break;
            }
        };
        let backoff = context.retry.backoff(run.retries, &mut rand::rng());
        let (step, pause) = next_step(&mut state, run.attempt(answer, backoff));
        if let Some(pause) = pause {
            shared.pause_for(pause);
        }
        let Some(backoff) = run.carry_out(step, &shared, &target.topic.arn) else {
            break;
        };
        run.retries += 1;
        tokio::select! {
            biased;
            _ = &mut shutdown => {
                let why = format!(
                    "the shutdown deadline passed while retrying; last error: {}",
                    run.last_error()
                );
                cut_off(&mut run, why);
                break;
            }
            _ = tokio::time::sleep(backoff) => {}
        }
        Stats::add(&shared.stats.retried, run.left());
    }
    let sent = Sent {
        subject: &context.subject,
        topic_arn: &target.topic.arn,
        message_group_id,
        started: run.started,
    };
    run.finish(&shared, sent, target.probe, context.debug).await
}

//! The delivery loop: one task per logger on the shared runtime. It takes events
//! from `log()`, cuts them into PublishBatch requests, keeps FIFO order, retries
//! transient failures, and answers `flush()` and `close()`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::{Id as TaskId, JoinSet};
use uuid::Uuid;

use super::batch::{take_batch, QueuedEvent};
use super::config::{LoggerConfig, Overflow};
use super::error::{codes, DeliveryError};
use super::event::EncodedEvent;
use super::logger::{Control, DeliveryReport, ReportFn, Shared};
use super::publisher::{BatchRequest, FaultKind, Publisher};
use super::retry::RetryPolicy;
use super::stats::Stats;

/// What every request of one logger has in common.
struct RequestContext {
    topic_arn: String,
    subject: String,
    message_group_id: Option<String>,
    retry: RetryPolicy,
}

/// What the loop remembers of a batch in flight, to settle it if its task dies.
struct InFlightBatch {
    first_seq: u64,
    ids: Vec<Uuid>,
    bytes: usize,
}

pub(crate) struct Worker<P> {
    publisher: Arc<P>,
    context: Arc<RequestContext>,
    shared: Arc<Shared>,
    events: std_mpsc::Receiver<EncodedEvent>,
    control: mpsc::UnboundedReceiver<Control>,
    max_batch_size: usize,
    flush_interval: Duration,
    max_in_flight: usize,
    max_queue_events: u64,
    max_queue_bytes: u64,
    overflow: Overflow,
    shutdown_timeout: Duration,
    /// Events taken from the channel, not yet in a batch, with when the loop saw them.
    pending: VecDeque<QueuedEvent>,
    next_seq: u64,
    in_flight: JoinSet<()>,
    in_flight_batches: HashMap<TaskId, InFlightBatch>,
    /// First sequence number of each batch in flight (a multiset: seq -> count).
    in_flight_firsts: BTreeMap<u64, usize>,
    /// `flush()` calls waiting for every event below their sequence number.
    flush_waiters: Vec<(u64, ReportFn)>,
    close_waiters: Vec<ReportFn>,
    closing: Option<Instant>,
    /// Send partial batches now, up to this sequence number (exclusive).
    force_below: u64,
    /// `log()` has dropped its sender: the logger object is gone.
    orphaned: bool,
    dropped_ids: Vec<String>,
}

impl<P: Publisher> Worker<P> {
    pub(crate) fn new(
        config: LoggerConfig,
        publisher: P,
        shared: Arc<Shared>,
        events: std_mpsc::Receiver<EncodedEvent>,
        control: mpsc::UnboundedReceiver<Control>,
    ) -> Self {
        let context = RequestContext {
            message_group_id: config.fifo.then(|| config.site_url.clone()),
            topic_arn: config.topic_arn,
            subject: config.subject,
            retry: config.retry,
        };
        Worker {
            publisher: Arc::new(publisher),
            context: Arc::new(context),
            shared,
            events,
            control,
            max_batch_size: config.max_batch_size,
            flush_interval: config.flush_interval,
            // FIFO: never two batches of the message group in flight, so that messages
            // reach the topic in log() order.
            max_in_flight: if config.fifo { 1 } else { config.max_concurrent_batches },
            max_queue_events: config.max_queue_events as u64,
            max_queue_bytes: config.max_queue_bytes as u64,
            overflow: config.overflow,
            shutdown_timeout: config.shutdown_timeout,
            pending: VecDeque::new(),
            next_seq: 0,
            in_flight: JoinSet::new(),
            in_flight_batches: HashMap::new(),
            in_flight_firsts: BTreeMap::new(),
            flush_waiters: Vec::new(),
            close_waiters: Vec::new(),
            closing: None,
            force_below: 0,
            orphaned: false,
            dropped_ids: Vec::new(),
        }
    }

    pub(crate) async fn run(mut self) {
        loop {
            self.take_events();
            while let Ok(control) = self.control.try_recv() {
                self.on_control(control);
            }
            self.dispatch(Instant::now());
            self.report_drops();
            self.answer_flushes();
            if self.finished() {
                break;
            }
            // An event sent after our last look but counted before it: look again
            // rather than sleep on it.
            if self.shared.undispatched.load(Ordering::Acquire) > self.pending.len() as i64 {
                continue;
            }
            let flush_at = self.pending.front().map(|q| q.seen + self.flush_interval);
            let close_at = self.closing;
            tokio::select! {
                Some(joined) = self.in_flight.join_next_with_id(), if !self.in_flight.is_empty() => {
                    self.settle(joined);
                }
                Some(control) = self.control.recv() => self.on_control(control),
                _ = self.shared.wake.notified() => {}
                _ = sleep_until_opt(flush_at), if flush_at.is_some() => {}
                _ = sleep_until_opt(close_at), if close_at.is_some() => self.give_up_pending(),
            }
        }
        let report = DeliveryReport::from_stats(self.shared.stats.snapshot());
        for (_, reply) in self.flush_waiters.drain(..) {
            reply(report);
        }
        for reply in self.close_waiters.drain(..) {
            reply(report);
        }
    }

    fn take_events(&mut self) {
        let now = Instant::now();
        loop {
            match self.events.try_recv() {
                Ok(event) => {
                    let seq = self.next_seq;
                    self.next_seq += 1;
                    self.pending.push_back(QueuedEvent { seq, seen: now, event });
                }
                Err(std_mpsc::TryRecvError::Empty) => break,
                Err(std_mpsc::TryRecvError::Disconnected) => {
                    if !self.orphaned {
                        self.orphaned = true;
                        self.start_closing(Instant::now() + self.shutdown_timeout);
                    }
                    break;
                }
            }
        }
        if self.overflow == Overflow::DropOldest {
            self.evict_oldest();
        }
    }

    /// `overflow: 'dropOldest'`: `log()` admitted the newest events past the limits;
    /// make room by dropping the oldest ones not yet sent.
    fn evict_oldest(&mut self) {
        let stats = &self.shared.stats;
        while stats.held_events.load(Ordering::Relaxed) > self.max_queue_events
            || stats.held_bytes.load(Ordering::Relaxed) > self.max_queue_bytes
        {
            let Some(oldest) = self.pending.pop_front() else { break };
            Stats::sub(&stats.held_events, 1);
            Stats::sub(&stats.held_bytes, oldest.event.queued_bytes());
            Stats::add(&stats.dropped, 1);
            self.shared.undispatched.fetch_sub(1, Ordering::AcqRel);
            self.dropped_ids.push(oldest.event.id_string());
        }
    }

    fn on_control(&mut self, control: Control) {
        match control {
            Control::Flush(reply) => {
                // Everything log() sent before this flush is in the channel by now.
                self.take_events();
                self.force_below = self.force_below.max(self.next_seq);
                self.flush_waiters.push((self.next_seq, reply));
            }
            Control::Close { deadline, reply } => {
                self.take_events();
                self.close_waiters.push(reply);
                self.start_closing(deadline);
            }
            Control::Dropped(id) => self.dropped_ids.push(id.hyphenated().to_string()),
        }
    }

    fn start_closing(&mut self, deadline: Instant) {
        let deadline = self.closing.map_or(deadline, |d| d.min(deadline));
        self.closing = Some(deadline);
        self.force_below = u64::MAX;
        self.shared.deadline.send_replace(Some(deadline));
    }

    /// Starts as many batches as the topic allows: full ones always, partial ones when
    /// the oldest event has waited `flushIntervalMs` or a flush/close asks for them.
    fn dispatch(&mut self, now: Instant) {
        while self.in_flight.len() < self.max_in_flight {
            let Some(first) = self.pending.front() else { break };
            let full = self.pending.len() >= self.max_batch_size;
            let due = now >= first.seen + self.flush_interval || first.seq < self.force_below;
            if !full && !due {
                break;
            }
            let batch = take_batch(&mut self.pending, self.max_batch_size);
            self.start_batch(batch);
        }
    }

    fn start_batch(&mut self, batch: Vec<QueuedEvent>) {
        let stats = &self.shared.stats;
        let n = batch.len();
        self.shared.undispatched.fetch_sub(n as i64, Ordering::AcqRel);
        Stats::add(&stats.in_flight, n);
        let meta = InFlightBatch {
            first_seq: batch[0].seq,
            ids: batch.iter().map(|q| q.event.id).collect(),
            bytes: batch.iter().map(|q| q.event.queued_bytes()).sum(),
        };
        *self.in_flight_firsts.entry(meta.first_seq).or_default() += 1;
        let events: Vec<EncodedEvent> = batch.into_iter().map(|q| q.event).collect();
        let task = deliver_batch(
            self.publisher.clone(),
            self.context.clone(),
            self.shared.clone(),
            events,
        );
        let handle = self.in_flight.spawn(task);
        self.in_flight_batches.insert(handle.id(), meta);
    }

    fn settle(&mut self, joined: Result<(TaskId, ()), tokio::task::JoinError>) {
        let id = match &joined {
            Ok((id, ())) => *id,
            Err(e) => e.id(),
        };
        let Some(meta) = self.in_flight_batches.remove(&id) else { return };
        if let Some(count) = self.in_flight_firsts.get_mut(&meta.first_seq) {
            *count -= 1;
            if *count == 0 {
                self.in_flight_firsts.remove(&meta.first_seq);
            }
        }
        if let Err(e) = joined {
            // The task settles its own events; one that died settled none of them.
            let stats = &self.shared.stats;
            let n = meta.ids.len();
            Stats::sub(&stats.in_flight, n);
            Stats::sub(&stats.held_events, n);
            Stats::sub(&stats.held_bytes, meta.bytes);
            Stats::add(&stats.failed, n);
            self.shared.report(DeliveryError {
                code: codes::INTERNAL,
                message: format!("a delivery task stopped unexpectedly: {e}"),
                event_ids: meta.ids.iter().map(|u| u.hyphenated().to_string()).collect(),
            });
        }
    }

    /// The close deadline passed: events never sent are failed now; batches in
    /// flight see the same deadline and give up on their own.
    fn give_up_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let stats = &self.shared.stats;
        let n = self.pending.len();
        let bytes: usize = self.pending.iter().map(|q| q.event.queued_bytes()).sum();
        let ids = self.pending.drain(..).map(|q| q.event.id_string()).collect();
        self.shared.undispatched.fetch_sub(n as i64, Ordering::AcqRel);
        Stats::sub(&stats.held_events, n);
        Stats::sub(&stats.held_bytes, bytes);
        Stats::add(&stats.failed, n);
        self.shared.report(DeliveryError {
            code: codes::SHUTDOWN_TIMEOUT,
            message: format!("{n} events were still queued when the shutdown deadline passed"),
            event_ids: ids,
        });
    }

    fn report_drops(&mut self) {
        if self.dropped_ids.is_empty() {
            return;
        }
        let ids = std::mem::take(&mut self.dropped_ids);
        self.shared.report(DeliveryError {
            code: codes::QUEUE_FULL,
            message: format!(
                "the queue was full (maxQueueEvents {}, maxQueueBytes {}); {} events dropped per overflow",
                self.max_queue_events,
                self.max_queue_bytes,
                ids.len()
            ),
            event_ids: ids,
        });
    }

    /// The lowest sequence number not yet delivered or failed.
    fn lowest_unsettled(&self) -> u64 {
        let queued = self.pending.front().map_or(u64::MAX, |q| q.seq);
        let flying = self.in_flight_firsts.keys().next().copied().unwrap_or(u64::MAX);
        queued.min(flying).min(self.next_seq)
    }

    fn answer_flushes(&mut self) {
        if self.flush_waiters.is_empty() {
            return;
        }
        let lowest = self.lowest_unsettled();
        let report = DeliveryReport::from_stats(self.shared.stats.snapshot());
        let mut i = 0;
        while i < self.flush_waiters.len() {
            if self.flush_waiters[i].0 <= lowest {
                let (_, reply) = self.flush_waiters.swap_remove(i);
                reply(report);
            } else {
                i += 1;
            }
        }
    }

    fn finished(&self) -> bool {
        self.closing.is_some() && self.pending.is_empty() && self.in_flight.is_empty()
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at.into()).await;
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

/// Why an event of a batch ended up failed.
struct Failure {
    code: &'static str,
    message: String,
}

/// Sends one batch until every entry is delivered or failed: retries the entries SNS
/// failed without a sender fault (never the ones it accepted), with capped, jittered
/// backoff, until the retry budget or the shutdown deadline runs out. Settles its
/// events in the shared counters and reports failures, once, at the end.
async fn deliver_batch<P: Publisher>(
    publisher: Arc<P>,
    context: Arc<RequestContext>,
    shared: Arc<Shared>,
    events: Vec<EncodedEvent>,
) {
    let stats = &shared.stats;
    let started = Instant::now();
    let give_up_at = started + context.retry.budget;
    let mut shutdown = std::pin::pin!(shutdown_deadline(shared.deadline.subscribe()));
    // Indices into `events` still to send.
    let mut todo: Vec<usize> = (0..events.len()).collect();
    let mut delivered = 0usize;
    let mut failures: Vec<(usize, Failure)> = Vec::new();
    let mut retry = 0u32;
    let mut id_strings: Vec<String> = events.iter().map(EncodedEvent::id_string).collect();

    while !todo.is_empty() {
        let entries: Vec<&EncodedEvent> = todo.iter().map(|&i| &events[i]).collect();
        let request = BatchRequest {
            topic_arn: &context.topic_arn,
            subject: &context.subject,
            message_group_id: context.message_group_id.as_deref(),
            entries: &entries,
        };
        Stats::add(&stats.batches_sent, 1);
        let outcome = tokio::select! {
            biased;
            _ = &mut shutdown => None,
            r = publisher.publish_batch(request) => Some(r),
        };
        let last_error: String;
        match outcome {
            None => {
                for i in todo.drain(..) {
                    failures.push((i, Failure {
                        code: codes::SHUTDOWN_TIMEOUT,
                        message: "the shutdown deadline passed while the request was in flight".into(),
                    }));
                }
                break;
            }
            Some(Ok(response)) => {
                let mut again = Vec::new();
                let mut errors = Vec::new();
                for &i in &todo {
                    let id = &id_strings[i];
                    if let Some(f) = response.failed.iter().find(|f| &f.id == id) {
                        if f.sender_fault {
                            failures.push((i, Failure {
                                code: codes::PUBLISH_FAILED,
                                message: format!("SNS refused the message: {}: {}", f.code, f.message),
                            }));
                        } else {
                            errors.push(format!("{}: {}", f.code, f.message));
                            again.push(i);
                        }
                    } else if response.successful.iter().any(|s| s == id) {
                        delivered += 1;
                    } else {
                        errors.push("SNS answered without this entry".to_owned());
                        again.push(i);
                    }
                }
                todo = again;
                last_error = errors.into_iter().next().unwrap_or_default();
            }
            Some(Err(e)) if e.kind == FaultKind::Permanent => {
                for i in todo.drain(..) {
                    failures.push((i, Failure {
                        code: codes::PUBLISH_FAILED,
                        message: format!("SNS refused the request: {e}"),
                    }));
                }
                break;
            }
            Some(Err(e)) => last_error = e.to_string(),
        }
        if todo.is_empty() {
            break;
        }
        let backoff = context.retry.backoff(retry, &mut rand::rng());
        retry += 1;
        if Instant::now() + backoff > give_up_at {
            for i in todo.drain(..) {
                failures.push((i, Failure {
                    code: codes::RETRIES_EXHAUSTED,
                    message: format!(
                        "gave up after {retry} attempts over {} ms; last error: {last_error}",
                        started.elapsed().as_millis()
                    ),
                }));
            }
            break;
        }
        let cut_off = tokio::select! {
            biased;
            _ = &mut shutdown => true,
            _ = tokio::time::sleep(backoff) => false,
        };
        if cut_off {
            for i in todo.drain(..) {
                failures.push((i, Failure {
                    code: codes::SHUTDOWN_TIMEOUT,
                    message: format!("the shutdown deadline passed while retrying; last error: {last_error}"),
                }));
            }
            break;
        }
        Stats::add(&stats.retried, todo.len());
    }

    let n = events.len();
    let bytes: usize = events.iter().map(EncodedEvent::queued_bytes).sum();
    Stats::add(&stats.delivered, delivered);
    Stats::add(&stats.failed, failures.len());
    Stats::sub(&stats.in_flight, n);
    Stats::sub(&stats.held_bytes, bytes);
    // Last: `held_events` reaching zero is what an idle check looks at.
    Stats::sub(&stats.held_events, n);

    // One report per distinct failure, naming all its events.
    let mut grouped: Vec<(&'static str, String, Vec<String>)> = Vec::new();
    for (i, failure) in failures {
        let id = std::mem::take(&mut id_strings[i]);
        match grouped.iter_mut().find(|(c, m, _)| *c == failure.code && *m == failure.message) {
            Some((_, _, ids)) => ids.push(id),
            None => grouped.push((failure.code, failure.message, vec![id])),
        }
    }
    for (code, message, event_ids) in grouped {
        shared.report(DeliveryError {
            code,
            message,
            event_ids,
        });
    }
}

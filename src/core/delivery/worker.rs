//! The delivery loop: one task per logger on the shared runtime. It takes events
//! from `log()`, writes them to the spool (if any), cuts them into PublishBatch
//! requests per topic and message group, keeps FIFO order, and answers `flush()` and
//! `close()`. Sending a batch and its retries is `deliver.rs`'s business.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::{Id as TaskId, JoinSet};
use uuid::Uuid;

use super::batch::QueuedEvent;
use super::deliver::{deliver_batch, BatchTarget, RequestContext};
use super::lanes::{LaneKey, Lanes};
use super::publisher::Publisher;
use super::shared::{Control, DeliveryReport, ReportFn, Shared};
use crate::core::encode::MessageGroup;
use crate::core::encode::{Topic, TopicTable};
use crate::core::error::{DeliveryError, ErrorCode};
use crate::core::event::EncodedEvent;
use crate::core::options::{Limits, LoggerConfig, Overflow, SpoolConfig};
use crate::core::plan::Violation;
use crate::core::spool::record::SpooledEvent;
use crate::core::spool::{Spool, SpoolLock, DEFAULT_SEGMENT_BYTES};
use crate::core::telemetry::Stats;

/// What the loop remembers of a batch in flight, to free its lane, to acknowledge its
/// events in the spool, and to settle it if its task dies.
struct InFlightBatch {
    lane: LaneKey,
    first_seq: u64,
    ids: Vec<Uuid>,
    segments: Vec<u32>,
    bytes: usize,
}

/// Distinct (kind, event, path) triples `validation: 'warn'` reports; past this many,
/// new ones are only counted, so hostile input cannot grow memory without bound.
const MAX_REPORTED_VIOLATIONS: usize = 10_000;

/// The loop's side of the spool.
struct Spooling {
    config: SpoolConfig,
    /// Until the loop has opened it.
    lock: Option<SpoolLock>,
    /// `None` before it is opened, or if it could not be.
    spool: Option<Spool>,
    /// The sequence number of the first event on disk only.
    backlog_first_seq: u64,
    last_tick: Instant,
    written_since_sync: bool,
    sync_running: Arc<AtomicBool>,
}

pub(crate) struct Worker<P> {
    publisher: Arc<P>,
    context: Arc<RequestContext>,
    shared: Arc<Shared>,
    events: std_mpsc::Receiver<EncodedEvent>,
    control: mpsc::UnboundedReceiver<Control>,
    topics: Arc<TopicTable>,
    /// The loop's copy of `topics`, refreshed when it meets an index it lacks.
    topic_cache: Vec<Topic>,
    max_batch_size: usize,
    flush_interval: Duration,
    max_in_flight: usize,
    /// More than one lane may exist (several topics, or a group per room): a busy
    /// lane does not mean new events would wait.
    many_lanes: bool,
    /// The memory queue's limits: all that is held without a spool, the window over
    /// it with one.
    /// The memory queue's limits; with a spool, the window of events kept in memory.
    memory: Limits,
    /// What `log()` checks against (the spool's limit with a spool).
    /// What may be held before `overflow` applies ([`LoggerConfig::held_limits`]).
    held: Limits,
    overflow: Overflow,
    shutdown_timeout: Duration,
    /// Events taken from the channel, not yet in a batch, with when the loop saw them.
    pending: Lanes,
    /// Events in memory: pending and in flight.
    window_events: u64,
    window_bytes: u64,
    next_seq: u64,
    in_flight: JoinSet<Vec<bool>>,
    in_flight_batches: HashMap<TaskId, InFlightBatch>,
    /// First sequence number of each batch in flight (a multiset: seq -> count).
    in_flight_firsts: BTreeMap<u64, usize>,
    /// `flush()` calls waiting for every event below their sequence number.
    flush_waiters: Vec<(u64, ReportFn)>,
    close_waiters: Vec<ReportFn>,
    closing: Option<Instant>,
    /// The close deadline has passed: what is left stays in the spool.
    deadline_passed: bool,
    /// Send partial batches now, up to this sequence number (exclusive).
    force_below: u64,
    /// `log()` has dropped its sender: the logger object is gone.
    orphaned: bool,
    dropped_ids: Vec<String>,
    /// Violations already reported, so that each is reported once.
    reported_violations: HashSet<(&'static str, String, String)>,
    spooling: Option<Spooling>,
}

impl<P: Publisher> Worker<P> {
    pub(crate) fn new(
        config: LoggerConfig,
        publisher: P,
        shared: Arc<Shared>,
        events: std_mpsc::Receiver<EncodedEvent>,
        control: mpsc::UnboundedReceiver<Control>,
        spool_lock: Option<SpoolLock>,
    ) -> Self {
        let topics = config.encoder.router.table().clone();
        let many_lanes = config.encoder.message_group == MessageGroup::Room;
        let spooling = config
            .spool
            .clone()
            .zip(spool_lock)
            .map(|(config, lock)| Spooling {
                config,
                lock: Some(lock),
                spool: None,
                backlog_first_seq: 0,
                last_tick: Instant::now(),
                written_since_sync: false,
                sync_running: Arc::new(AtomicBool::new(false)),
            });
        let memory = config.memory_limits();
        let held = config.held_limits(config.spool.is_some());
        let context = RequestContext {
            subject: config.subject,
            site_group: config.encoder.site_url.clone(),
            retry: config.retry,
            spooled: spooling.is_some(),
        };
        Worker {
            publisher: Arc::new(publisher),
            context: Arc::new(context),
            shared,
            events,
            control,
            topic_cache: topics.snapshot(),
            topics,
            max_batch_size: config.max_batch_size,
            flush_interval: config.flush_interval,
            // Each FIFO message group also has at most one batch in flight (see
            // `Lanes`), so that its messages reach the topic in log() order.
            max_in_flight: config.max_concurrent_batches,
            many_lanes,
            memory,
            held,
            overflow: config.overflow,
            shutdown_timeout: config.shutdown_timeout,
            pending: Lanes::default(),
            window_events: 0,
            window_bytes: 0,
            next_seq: 0,
            in_flight: JoinSet::new(),
            in_flight_batches: HashMap::new(),
            in_flight_firsts: BTreeMap::new(),
            flush_waiters: Vec::new(),
            close_waiters: Vec::new(),
            closing: None,
            deadline_passed: false,
            force_below: 0,
            orphaned: false,
            dropped_ids: Vec::new(),
            reported_violations: HashSet::new(),
            spooling,
        }
    }

    pub(crate) async fn run(mut self) {
        self.open_spool().await;
        loop {
            #[cfg(test)]
            self.shared.loop_turns.fetch_add(1, Ordering::Relaxed);
            self.take_events();
            while let Ok(control) = self.control.try_recv() {
                self.on_control(control);
            }
            self.refill();
            self.dispatch(Instant::now());
            self.write_spool();
            self.report_drops();
            self.answer_flushes();
            if self.finished() {
                break;
            }
            // Ask for event wake-ups only while a batch could start. Then look once
            // more: an event counted before the flag was set would not wake us.
            let room = self.in_flight.len() < self.max_in_flight
                && (self.many_lanes || self.topic_cache.len() > 1 || self.pending.any_free());
            self.shared.wants_events.store(room, Ordering::SeqCst);
            if room && self.shared.undispatched.load(Ordering::SeqCst) > self.pending.len() as i64 {
                continue;
            }
            // Timers only for what they can change: a due partial batch waits for a
            // free slot anyway, and once nothing is queued the close deadline is the
            // in-flight batches' own business. (A timer already past would spin.)
            let flush_at = if room {
                self.pending.next_due(self.flush_interval)
            } else {
                None
            };
            let close_at = self.closing.filter(|_| {
                !self.deadline_passed && (!self.pending.is_empty() || self.has_backlog())
            });
            let tick_at = self.spool_tick_at();
            tokio::select! {
                Some(joined) = self.in_flight.join_next_with_id(), if !self.in_flight.is_empty() => {
                    self.settle(joined);
                }
                Some(control) = self.control.recv() => self.on_control(control),
                _ = self.shared.wake.notified() => {}
                _ = sleep_until_opt(flush_at), if flush_at.is_some() => {}
                _ = sleep_until_opt(close_at), if close_at.is_some() => self.give_up_pending(),
                _ = sleep_until_opt(tick_at), if tick_at.is_some() => self.spool_tick(),
            }
        }
        // Refuse further requests (their senders answer them at once), and answer the
        // ones that raced with the end instead of dropping them unanswered.
        self.control.close();
        while let Ok(control) = self.control.try_recv() {
            match control {
                Control::Flush(reply) => self.flush_waiters.push((0, reply)),
                Control::Close { reply, .. } => self.close_waiters.push(reply),
                Control::Dropped(id) => self.dropped_ids.push(id.hyphenated().to_string()),
                Control::Violations {
                    id,
                    event,
                    violations,
                } => self.report_violations(id, event, violations),
                Control::Reconfigure(_) => {}
            }
        }
        self.report_drops();
        self.close_spool().await;
        // Dropping the loop answers every waiter (see `Drop`).
    }

    /// Reads what earlier loggers left in the spool folder; those events go first.
    async fn open_spool(&mut self) {
        let Some(spooling) = self.spooling.as_mut() else {
            return;
        };
        let Some(lock) = spooling.lock.take() else {
            return;
        };
        let opened = tokio::task::spawn_blocking(move || Spool::open(lock, DEFAULT_SEGMENT_BYTES))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|r| r);
        match opened {
            Ok((spool, recovered)) => {
                let stats = &self.shared.stats;
                Stats::add(&stats.held_events, recovered.events as usize);
                Stats::add(&stats.held_bytes, recovered.bytes as usize);
                stats.recovered.store(recovered.events, Ordering::Relaxed);
                stats
                    .corrupt_records
                    .store(recovered.corrupt_records, Ordering::Relaxed);
                // The recovered events were logged before any of this logger's.
                spooling.backlog_first_seq = 0;
                self.next_seq = recovered.events;
                spooling.spool = Some(spool);
                self.update_spool_stats();
            }
            Err(e) => {
                let dir = spooling.config.dir.display().to_string();
                self.shared.report(DeliveryError::new(
                    ErrorCode::Spool,
                    format!(
                        "the spool {dir} cannot be read ({e}); events are kept in memory only, up to \
                         maxQueueEvents and maxQueueBytes"
                    ),
                    Vec::new(),
                ));
                self.spooling = None;
                self.held = self.memory;
                self.context = Arc::new(RequestContext {
                    subject: self.context.subject.clone(),
                    site_group: self.context.site_group.clone(),
                    retry: self.context.retry,
                    spooled: false,
                });
            }
        }
    }

    fn spool(&mut self) -> Option<&mut Spool> {
        self.spooling.as_mut().and_then(|s| s.spool.as_mut())
    }

    fn has_backlog(&self) -> bool {
        self.spooling
            .as_ref()
            .and_then(|s| s.spool.as_ref())
            .is_some_and(Spool::has_backlog)
    }

    /// Topic `i`, from the loop's copy of the table (refreshed when it lacks `i`).
    /// Borrowed, not cloned: it is looked up for every event.
    fn topic(&mut self, i: u16) -> &Topic {
        static UNKNOWN: Topic = Topic {
            arn: String::new(),
            fifo: false,
        };
        if self.topic_cache.len() <= i as usize {
            self.topic_cache = self.topics.snapshot();
        }
        self.topic_cache.get(i as usize).unwrap_or(&UNKNOWN)
    }

    /// A spool I/O error: the event stays in memory; the folder is likely full or gone.
    fn spool_failed(&mut self, what: &str, e: std::io::Error) {
        let dir = self
            .spooling
            .as_ref()
            .map(|s| s.config.dir.display().to_string())
            .unwrap_or_default();
        self.shared.report(DeliveryError::new(
            ErrorCode::Spool,
            format!("writing the spool {dir} failed while {what}: {e}"),
            Vec::new(),
        ));
    }

    fn window_full(&self, bytes: usize) -> bool {
        self.window_events >= self.memory.events
            || self.window_bytes + bytes as u64 > self.memory.bytes
    }

    fn push_pending(&mut self, event: EncodedEvent, seq: u64, seen: Instant, segment: u32) {
        let ordered = self.topic(event.topic).fifo;
        let key = LaneKey {
            topic: event.topic,
            group: event.group.clone(),
        };
        self.window_events += 1;
        self.window_bytes += event.queued_bytes() as u64;
        self.pending.push(
            key,
            ordered,
            QueuedEvent {
                seq,
                seen,
                event,
                segment,
            },
        );
    }

    fn take_events(&mut self) {
        let now = Instant::now();
        loop {
            match self.events.try_recv() {
                Ok(event) => self.take_event(event, now),
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

    /// One event from `log()`: into the spool, then into memory unless events wait on
    /// disk (the window is full, or older events are still there).
    fn take_event(&mut self, event: EncodedEvent, now: Instant) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if self.spool().is_none() {
            self.push_pending(event, seq, now, 0);
            return;
        }
        let full = self.window_full(event.queued_bytes());
        self.topic(event.topic);
        let arn = self
            .topic_cache
            .get(event.topic as usize)
            .map_or("", |t| t.arn.as_str());
        let spooling = self.spooling.as_mut().expect("checked above");
        let spool = spooling.spool.as_mut().expect("checked above");
        if full && !spool.has_backlog() {
            if let Err(e) = spool.begin_spill() {
                self.spool_failed("spilling events to disk", e);
                self.push_pending(event, seq, now, 0);
                return;
            }
            spooling.backlog_first_seq = seq;
        }
        let segment = spool.append(&event, arn);
        self.shared
            .stats
            .spooled
            .store(spool.live_events(), Ordering::Relaxed);
        if spool.has_backlog() {
            // On disk only; read back in order when the window has room.
            self.shared.undispatched.fetch_sub(1, Ordering::AcqRel);
        } else {
            self.push_pending(event, seq, now, segment);
        }
    }

    /// Reads events waiting on disk into the window, oldest first.
    fn refill(&mut self) {
        if !self.has_backlog() || self.deadline_passed {
            return;
        }
        let room = self.memory.events.saturating_sub(self.window_events) as usize;
        let room_bytes = self.memory.bytes.saturating_sub(self.window_bytes);
        if room == 0 || room_bytes == 0 {
            return;
        }
        let read = match self.spool().map(|s| s.read_backlog(room, room_bytes)) {
            Some(Ok(read)) => read,
            Some(Err(e)) => return self.spool_failed("reading events back", e),
            None => return,
        };
        let now = Instant::now();
        self.shared
            .undispatched
            .fetch_add(read.len() as i64, Ordering::AcqRel);
        for (spooled, segment) in read {
            let seq = {
                let s = self.spooling.as_mut().expect("has a backlog");
                let seq = s.backlog_first_seq;
                s.backlog_first_seq += 1;
                seq
            };
            let event = self.unspool(spooled);
            self.push_pending(event, seq, now, segment);
        }
    }

    fn unspool(&mut self, e: SpooledEvent) -> EncodedEvent {
        let fifo = e.topic_arn.ends_with(".fifo");
        let topic = self.topics.intern(&e.topic_arn, fifo).unwrap_or(0);
        EncodedEvent {
            id: e.id,
            body: e.body.into_boxed_str(),
            category: e.category.into_boxed_str(),
            action: e.action.into_boxed_str(),
            event_type: e.event_type,
            topic,
            group: e.group.map(String::into_boxed_str),
            app_id: e.app_id.map(String::into_boxed_str),
        }
    }

    /// Writes buffered spool records to the file: at the end of every turn, and the
    /// spool tick makes a turn at least every `spoolSyncMs` while events arrive.
    fn write_spool(&mut self) {
        let Some(spooling) = self.spooling.as_mut() else {
            return;
        };
        let Some(spool) = spooling.spool.as_mut() else {
            return;
        };
        if !spool.has_unwritten() {
            return;
        }
        match spool.flush() {
            Ok(()) => spooling.written_since_sync = true,
            Err(e) => self.spool_failed("writing events", e),
        }
    }

    /// When the loop must next look at the channel for the spool's sake: while events
    /// may be arriving or are held, every `spoolSyncMs`.
    fn spool_tick_at(&self) -> Option<Instant> {
        let spooling = self.spooling.as_ref()?;
        spooling.spool.as_ref()?;
        let idle = self.pending.is_empty()
            && self.in_flight.is_empty()
            && self.shared.undispatched.load(Ordering::SeqCst) <= 0
            && !spooling.written_since_sync;
        (!idle).then(|| spooling.last_tick + spooling.config.sync_interval)
    }

    /// Makes what was written durable (off the loop) and refreshes the spool's stats.
    fn spool_tick(&mut self) {
        let Some(spooling) = self.spooling.as_mut() else {
            return;
        };
        spooling.last_tick = Instant::now();
        if spooling.written_since_sync && !spooling.sync_running.swap(true, Ordering::AcqRel) {
            spooling.written_since_sync = false;
            let running = spooling.sync_running.clone();
            if let Some(Ok(file)) = spooling.spool.as_ref().map(Spool::sync_handle) {
                tokio::task::spawn_blocking(move || {
                    let _ = file.sync_data();
                    running.store(false, Ordering::Release);
                });
            } else {
                running.store(false, Ordering::Release);
            }
        }
        self.update_spool_stats();
    }

    fn update_spool_stats(&self) {
        let Some(spool) = self.spooling.as_ref().and_then(|s| s.spool.as_ref()) else {
            return;
        };
        let stats = &self.shared.stats;
        stats.spooled.store(spool.live_events(), Ordering::Relaxed);
        stats
            .spool_bytes
            .store(spool.file_bytes(), Ordering::Relaxed);
        stats
            .corrupt_records
            .store(spool.corrupt_records, Ordering::Relaxed);
    }

    /// At the end: everything written and made durable before `close()` resolves.
    async fn close_spool(&mut self) {
        let Some(spool) = self.spool() else {
            return;
        };
        if let Err(e) = spool.flush() {
            self.spool_failed("closing", e);
            return;
        }
        if let Ok(file) = spool.sync_handle() {
            let _ = tokio::task::spawn_blocking(move || file.sync_data()).await;
        }
        self.update_spool_stats();
    }

    fn ack(&mut self, settled: &[(Uuid, u32)]) {
        if settled.is_empty() {
            return;
        }
        if let Some(spool) = self.spool() {
            spool.ack(settled);
            let live = spool.live_events();
            self.shared.stats.spooled.store(live, Ordering::Relaxed);
        }
    }

    /// `overflow: 'dropOldest'`: `log()` admitted the newest events past the limits;
    /// make room by dropping the oldest ones not yet sent.
    fn evict_oldest(&mut self) {
        let shared = self.shared.clone();
        let stats = &shared.stats;
        while stats.held_events.load(Ordering::Relaxed) > self.held.events
            || stats.held_bytes.load(Ordering::Relaxed) > self.held.bytes
        {
            let (event, segment) = if let Some(oldest) = self.pending.pop_oldest() {
                self.window_events -= 1;
                self.window_bytes -= oldest.event.queued_bytes() as u64;
                self.shared.undispatched.fetch_sub(1, Ordering::AcqRel);
                (oldest.event, oldest.segment)
            } else {
                let Some(Ok(mut read)) = self.spool().map(|s| s.read_backlog(1, 1)) else {
                    break;
                };
                let Some((spooled, segment)) = read.pop() else {
                    break;
                };
                if let Some(s) = self.spooling.as_mut() {
                    s.backlog_first_seq += 1;
                }
                (self.unspool(spooled), segment)
            };
            stats.release(1, event.queued_bytes());
            Stats::add(&stats.dropped, 1);
            self.dropped_ids.push(event.id_string());
            self.ack(&[(event.id, segment)]);
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
            Control::Violations {
                id,
                event,
                violations,
            } => self.report_violations(id, event, violations),
            Control::Reconfigure(config) => self.reconfigure(*config),
        }
    }

    /// New options from `reconfigure()`. Events already queued or in flight keep their
    /// topic and group; batches in flight finish with the client they started with.
    fn reconfigure(&mut self, config: LoggerConfig) {
        self.publisher.reconfigure(&config.sns);
        self.topic_cache = self.topics.snapshot();
        self.many_lanes = config.encoder.message_group == MessageGroup::Room;
        self.max_batch_size = config.max_batch_size;
        self.flush_interval = config.flush_interval;
        self.max_in_flight = config.max_concurrent_batches;
        self.memory = config.memory_limits();
        self.held = config.held_limits(self.spooling.is_some());
        if let (Some(spooling), Some(s)) = (self.spooling.as_mut(), config.spool) {
            spooling.config = s;
        }
        self.overflow = config.overflow;
        self.shutdown_timeout = config.shutdown_timeout;
        self.context = Arc::new(RequestContext {
            subject: config.subject,
            site_group: config.encoder.site_url,
            retry: config.retry,
            spooled: self.context.spooled,
        });
    }

    /// `validation: 'warn'`: reports what is new of an event's violations.
    fn report_violations(&mut self, id: Uuid, event: String, violations: Vec<Violation>) {
        let fresh: Vec<Violation> = violations
            .into_iter()
            .filter(|v| {
                self.reported_violations.len() < MAX_REPORTED_VIOLATIONS
                    && self.reported_violations.insert((
                        v.kind.as_str(),
                        event.clone(),
                        v.path.clone(),
                    ))
            })
            .collect();
        if fresh.is_empty() {
            return;
        }
        let message = fresh
            .iter()
            .map(|v| v.message.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        self.shared.report(DeliveryError {
            code: ErrorCode::TrackingPlan,
            message: format!(
                "analytics event {event} was published but violates the tracking plan \
                 (reported once per kind, event and path): {message}"
            ),
            event_ids: vec![id.hyphenated().to_string()],
            violations: fresh,
        });
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
            let Some((lane, batch)) = self.pending.take_ready(
                now,
                self.flush_interval,
                self.force_below,
                self.max_batch_size,
            ) else {
                break;
            };
            self.start_batch(lane, batch);
        }
    }

    fn start_batch(&mut self, lane: LaneKey, batch: Vec<QueuedEvent>) {
        let stats = &self.shared.stats;
        let n = batch.len();
        self.shared
            .undispatched
            .fetch_sub(n as i64, Ordering::AcqRel);
        Stats::add(&stats.in_flight, n);
        let meta = InFlightBatch {
            lane: lane.clone(),
            first_seq: batch[0].seq,
            ids: batch.iter().map(|q| q.event.id).collect(),
            segments: batch.iter().map(|q| q.segment).collect(),
            bytes: batch.iter().map(|q| q.event.queued_bytes()).sum(),
        };
        *self.in_flight_firsts.entry(meta.first_seq).or_default() += 1;
        let events: Vec<EncodedEvent> = batch.into_iter().map(|q| q.event).collect();
        let target = BatchTarget {
            topic: self.topic(lane.topic).clone(),
            group: lane.group.clone(),
        };
        let task = deliver_batch(
            self.publisher.clone(),
            self.context.clone(),
            self.shared.clone(),
            target,
            events,
        );
        let handle = self.in_flight.spawn(task);
        self.in_flight_batches.insert(handle.id(), meta);
    }

    fn settle(&mut self, joined: Result<(TaskId, Vec<bool>), tokio::task::JoinError>) {
        let id = match &joined {
            Ok((id, _)) => *id,
            Err(e) => e.id(),
        };
        let Some(meta) = self.in_flight_batches.remove(&id) else {
            return;
        };
        self.pending.finished(&meta.lane);
        self.window_events -= meta.ids.len() as u64;
        self.window_bytes -= meta.bytes as u64;
        if let Some(count) = self.in_flight_firsts.get_mut(&meta.first_seq) {
            *count -= 1;
            if *count == 0 {
                self.in_flight_firsts.remove(&meta.first_seq);
            }
        }
        match joined {
            Ok((_, settled)) => {
                let acks: Vec<(Uuid, u32)> = meta
                    .ids
                    .iter()
                    .zip(&meta.segments)
                    .zip(settled)
                    .filter(|(_, s)| *s)
                    .map(|((id, seg), _)| (*id, *seg))
                    .collect();
                self.ack(&acks);
            }
            Err(e) => {
                // The task settles its own events; one that died settled none of them.
                // A spool keeps them for the next start.
                let kept = self.spool().is_some();
                if !kept {
                    let topic = self.topic(meta.lane.topic).arn.clone();
                    self.shared
                        .labels
                        .failed(&topic, ErrorCode::Internal, meta.ids.len());
                }
                let stats = &self.shared.stats;
                let n = meta.ids.len();
                Stats::sub(&stats.in_flight, n);
                stats.release(n, meta.bytes);
                if !kept {
                    Stats::add(&stats.failed, n);
                }
                self.shared.report(DeliveryError::new(
                    ErrorCode::Internal,
                    format!(
                        "a delivery task stopped unexpectedly: {e}{}",
                        if kept {
                            "; its events stay in the spool for the next start"
                        } else {
                            ""
                        }
                    ),
                    meta.ids
                        .iter()
                        .map(|u| u.hyphenated().to_string())
                        .collect(),
                ));
            }
        }
    }

    /// The close deadline passed: events never sent are failed now (with a spool, left
    /// there for the next logger); batches in flight see the same deadline and give up
    /// on their own.
    fn give_up_pending(&mut self) {
        self.deadline_passed = true;
        let spooled = self.spool().is_some();
        if self.pending.is_empty() {
            return;
        }
        let stats = &self.shared.stats;
        let drained = self.pending.drain();
        let n = drained.len();
        let bytes: usize = drained.iter().map(|q| q.event.queued_bytes()).sum();
        self.window_events -= n as u64;
        self.window_bytes -= bytes as u64;
        self.shared
            .undispatched
            .fetch_sub(n as i64, Ordering::AcqRel);
        stats.release(n, bytes);
        if spooled {
            return;
        }
        Stats::add(&stats.failed, n);
        for q in &drained {
            let topic = self.topic(q.event.topic).arn.clone();
            self.shared
                .labels
                .failed(&topic, ErrorCode::ShutdownTimeout, 1);
        }
        self.shared.report(DeliveryError::new(
            ErrorCode::ShutdownTimeout,
            format!("{n} events were still queued when the shutdown deadline passed"),
            drained.iter().map(|q| q.event.id_string()).collect(),
        ));
    }

    fn report_drops(&mut self) {
        if self.dropped_ids.is_empty() {
            return;
        }
        let ids = std::mem::take(&mut self.dropped_ids);
        let limits = if self.spooling.is_some() {
            format!("maxSpoolBytes {}", self.held.bytes)
        } else {
            format!(
                "maxQueueEvents {}, maxQueueBytes {}",
                self.memory.events, self.memory.bytes
            )
        };
        self.shared.report(DeliveryError::new(
            ErrorCode::QueueFull,
            format!(
                "the queue was full ({limits}); {} events dropped per overflow",
                ids.len()
            ),
            ids,
        ));
    }

    /// The lowest sequence number not yet delivered or failed.
    fn lowest_unsettled(&self) -> u64 {
        let queued = self.pending.oldest_seq().unwrap_or(u64::MAX);
        let flying = self
            .in_flight_firsts
            .keys()
            .next()
            .copied()
            .unwrap_or(u64::MAX);
        let on_disk = match &self.spooling {
            Some(s) if self.has_backlog() && !self.deadline_passed => s.backlog_first_seq,
            _ => u64::MAX,
        };
        queued.min(flying).min(on_disk).min(self.next_seq)
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
        self.closing.is_some()
            && self.pending.is_empty()
            && self.in_flight.is_empty()
            && (self.deadline_passed || !self.has_backlog())
    }
}

impl<P> Drop for Worker<P> {
    /// Answers every waiting `flush()` and `close()` with the totals as they stand:
    /// at the normal end of the loop, and also if it panicked, so that no promise is
    /// left pending forever.
    fn drop(&mut self) {
        // Release the spool folder (its lock) first: whoever awaited close() may open
        // a new logger on it at once.
        self.spooling = None;
        self.control.close();
        let report = DeliveryReport::from_stats(self.shared.stats.snapshot());
        for (_, reply) in self.flush_waiters.drain(..) {
            reply(report);
        }
        for reply in self.close_waiters.drain(..) {
            reply(report);
        }
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at.into()).await;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Duration;

    use crate::core::delivery::FaultKind;
    use crate::core::delivery::Logger;
    use crate::core::error::{ErrorCode, LogError};
    use crate::core::options::Overflow;
    use crate::core::testing::*;

    fn delivered_order(fake: &FakePublisher, skip_failed: &HashSet<(usize, usize)>) -> Vec<String> {
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

    #[test]
    fn fifo_sends_one_batch_at_a_time_in_log_order() {
        let fake =
            FakePublisher::with_script((0..5).map(|_| Script::Slow(Duration::from_millis(10))));
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
        let fake =
            FakePublisher::with_script((0..10).map(|_| Script::Slow(Duration::from_millis(30))));
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
    fn partial_failures_resend_only_the_failed_entries() {
        let fake = FakePublisher::with_script([Script::FailEntries(vec![2, 7], false)]);
        let logger = Logger::start(test_config(true), fake.clone());
        let ids = log_n(&logger, 10);
        let report = flush_wait(&logger);
        assert_eq!((report.delivered, report.failed), (10, 0));
        let requests = fake.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[1].ids, vec![ids[2].clone(), ids[7].clone()]);
        assert_eq!(logger.stats().retried, 2);
        // Each event accepted exactly once.
        let failed_first: HashSet<(usize, usize)> = [(0, 2), (0, 7)].into_iter().collect();
        let accepted = delivered_order(&fake, &failed_first);
        assert_eq!(accepted.len(), 10);
        assert_eq!(accepted.iter().collect::<HashSet<_>>().len(), 10);
    }

    #[test]
    fn sender_faults_are_never_retried() {
        let fake = FakePublisher::with_script([Script::FailEntries(vec![0], true)]);
        let logger = Logger::start(test_config(false), fake.clone());
        let errors = collect_errors(&logger);
        let ids = log_n(&logger, 3);
        let report = flush_wait(&logger);
        assert_eq!((report.delivered, report.failed), (2, 1));
        assert_eq!(fake.requests().len(), 1);
        let errors = errors.lock().unwrap();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].code, ErrorCode::PublishFailed);
        assert_eq!(errors[0].event_ids, vec![ids[0].clone()]);
        assert!(
            errors[0].message.contains("InvalidParameter"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn transient_and_throttling_failures_are_retried_until_they_pass() {
        let fake = FakePublisher::with_script([
            Script::Fail(FaultKind::Transient),
            Script::Fail(FaultKind::Throttled),
            Script::Fail(FaultKind::Transient),
        ]);
        let logger = Logger::start(test_config(true), fake.clone());
        let ids = log_n(&logger, 5);
        let report = flush_wait(&logger);
        assert_eq!((report.delivered, report.failed), (5, 0));
        let requests = fake.requests();
        assert_eq!(requests.len(), 4);
        assert!(
            requests.iter().all(|r| r.ids == ids),
            "the same entries, so the same dedup ids"
        );
        let s = logger.stats();
        assert_eq!((s.retried, s.batches_sent), (15, 4));
    }

    #[test]
    fn the_retry_budget_bounds_an_outage() {
        let fake =
            FakePublisher::with_script((0..10_000).map(|_| Script::Fail(FaultKind::Transient)));
        let mut config = test_config(false);
        config.retry.budget = Duration::from_millis(100);
        let logger = Logger::start(config, fake.clone());
        let errors = collect_errors(&logger);
        let ids = log_n(&logger, 4);
        let report = flush_wait(&logger);
        assert_eq!((report.delivered, report.failed), (0, 4));
        let errors = errors.lock().unwrap();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].code, ErrorCode::RetriesExhausted);
        assert_eq!(errors[0].event_ids, ids);
        assert!(
            errors[0].message.contains("last error"),
            "{}",
            errors[0].message
        );
        assert!(fake.requests().len() > 2);
    }

    #[test]
    fn permanent_errors_fail_the_batch_at_once() {
        let fake = FakePublisher::with_script([Script::Fail(FaultKind::Permanent)]);
        let logger = Logger::start(test_config(true), fake.clone());
        let errors = collect_errors(&logger);
        log_n(&logger, 3);
        let report = flush_wait(&logger);
        assert_eq!((report.delivered, report.failed), (0, 3));
        assert_eq!(fake.requests().len(), 1);
        assert_eq!(errors.lock().unwrap()[0].code, ErrorCode::PublishFailed);
        // The logger goes on: later events are delivered.
        log_n(&logger, 2);
        assert_eq!(flush_wait(&logger).delivered, 2);
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
    fn close_stops_logging_and_gives_up_at_its_deadline() {
        let fake = FakePublisher::with_script([Script::Slow(Duration::from_secs(30))]);
        let logger = Logger::start(test_config(true), fake.clone());
        let errors = collect_errors(&logger);
        log_n(&logger, 15);
        let started = std::time::Instant::now();
        let report = close_wait(&logger, Some(Duration::from_millis(200)));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            (report.delivered, report.failed, report.pending),
            (0, 15, 0)
        );
        assert_eq!(
            logger.log_json(r#"{"category":"c","action":"a"}"#),
            Err(LogError::Closed)
        );
        let codes_seen: HashSet<ErrorCode> =
            errors.lock().unwrap().iter().map(|e| e.code).collect();
        assert_eq!(
            codes_seen,
            [ErrorCode::ShutdownTimeout].into_iter().collect()
        );
        // Closing again answers at once.
        assert_eq!(close_wait(&logger, None).failed, 15);
    }

    #[test]
    fn a_blocked_loop_sleeps_instead_of_spinning() {
        // Ten events hang in flight; five more are due for sending long before the
        // only FIFO slot frees up. The loop must wait for the slot, not poll.
        let fake = FakePublisher::with_script([Script::Slow(Duration::from_millis(400))]);
        let mut config = test_config(true);
        config.flush_interval = Duration::from_millis(1);
        let logger = Logger::start(config, fake.clone());
        log_n(&logger, 15);
        std::thread::sleep(Duration::from_millis(150));
        let blocked = logger.loop_turns();
        assert!(
            blocked < 40,
            "{blocked} loop turns while waiting for the in-flight batch"
        );
        // Past a close deadline with the batch still in flight: again no polling.
        let report = close_wait(&logger, Some(Duration::from_millis(20)));
        assert_eq!(report.failed, 15);
        let closing = logger.loop_turns() - blocked;
        assert!(closing < 40, "{closing} loop turns while closing");
    }

    #[test]
    fn a_panicking_publisher_fails_its_batch_and_nothing_else() {
        let fake = FakePublisher::with_script([Script::Panic]);
        let logger = Logger::start(test_config(true), fake.clone());
        let errors = collect_errors(&logger);
        let ids = log_n(&logger, 3);
        let report = flush_wait(&logger);
        assert_eq!((report.delivered, report.failed, report.pending), (0, 3, 0));
        assert_eq!(errors.lock().unwrap()[0].code, ErrorCode::Internal);
        assert_eq!(reported_ids(&errors), ids);
        log_n(&logger, 2);
        assert_eq!(flush_wait(&logger).delivered, 2, "the logger goes on");
    }

    #[test]
    fn close_delivers_what_is_held() {
        let fake = FakePublisher::default();
        let mut config = test_config(true);
        config.flush_interval = Duration::from_secs(3600);
        let logger = Logger::start(config, fake.clone());
        log_n(&logger, 7);
        let report = close_wait(&logger, None);
        assert_eq!((report.delivered, report.pending), (7, 0));
    }

    fn overflow_logger(overflow: Overflow) -> (Logger, FakePublisher) {
        // The only request hangs, so the queue fills up.
        let fake = FakePublisher::with_script([Script::Slow(Duration::from_secs(30))]);
        let mut config = test_config(true);
        config.max_queue_events = 25;
        config.max_batch_size = 5;
        config.overflow = overflow;
        (Logger::start(config, fake.clone()), fake)
    }

    #[test]
    fn overflow_reject_throws_and_keeps_the_queue() {
        let (logger, _) = overflow_logger(Overflow::Reject);
        log_n(&logger, 25);
        let err = logger
            .log_json(r#"{"category":"c","action":"a"}"#)
            .unwrap_err();
        assert!(
            matches!(err, LogError::QueueFull { max_events: 25, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("maxQueueEvents"));
        let s = logger.stats();
        assert_eq!((s.queued + s.in_flight, s.dropped), (25, 1));
    }

    #[test]
    fn overflow_drop_newest_reports_the_new_ids() {
        let (logger, _) = overflow_logger(Overflow::DropNewest);
        let errors = collect_errors(&logger);
        let ids = log_n(&logger, 30);
        let s = logger.stats();
        assert_eq!((s.queued + s.in_flight, s.dropped), (25, 5));
        wait_until("the drops to be reported", || {
            reported_ids(&errors).len() == 5
        });
        assert_eq!(reported_ids(&errors), ids[25..].to_vec());
        assert!(errors
            .lock()
            .unwrap()
            .iter()
            .all(|e| e.code == ErrorCode::QueueFull));
    }

    #[test]
    fn overflow_drop_oldest_drops_the_oldest_unsent() {
        let (logger, fake) = overflow_logger(Overflow::DropOldest);
        let errors = collect_errors(&logger);
        let first = log_n(&logger, 5);
        // Let the first batch go out (and hang), so it is in flight, not droppable.
        wait_until("the first batch to be sent", || !fake.requests().is_empty());
        let rest = log_n(&logger, 30);
        wait_until("the oldest events to be dropped", || {
            logger.stats().dropped == 10
        });
        let s = logger.stats();
        assert_eq!(s.queued + s.in_flight, 25);
        wait_until("the drops to be reported", || {
            reported_ids(&errors).len() == 10
        });
        assert_eq!(
            reported_ids(&errors),
            rest[..10].to_vec(),
            "oldest not-yet-sent first"
        );
        assert_eq!(fake.requests()[0].ids, first);
    }

    #[test]
    fn invalid_events_are_counted_and_change_nothing_else() {
        let fake = FakePublisher::default();
        let logger = Logger::start(test_config(true), fake.clone());
        log_n(&logger, 2);
        assert!(matches!(
            logger.log_json(r#"{"category":"c"}"#),
            Err(LogError::Invalid(_))
        ));
        log_n(&logger, 2);
        let report = flush_wait(&logger);
        assert_eq!(report.delivered, 4);
        assert_eq!(logger.stats().invalid, 1);
    }

    fn body_field(body: &str, field: &str) -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(body).unwrap()[field].clone()
    }

    #[test]
    fn batches_never_mix_topics_and_each_topic_keeps_its_order() {
        use crate::core::encode::Router;
        let fake =
            FakePublisher::with_script((0..4).map(|_| Script::Slow(Duration::from_millis(5))));
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
        let fake =
            FakePublisher::with_script((0..40).map(|_| Script::Slow(Duration::from_millis(5))));
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

    #[test]
    fn warn_publishes_and_reports_each_violation_once() {
        use crate::core::encode::Validation;
        use crate::core::plan::PlanSource;
        let fake = FakePublisher::default();
        let mut config = test_config(true);
        config.encoder.plan = Some(std::sync::Arc::new(
            PlanSource::Builtin("rocketchat-livechat".into())
                .load()
                .unwrap(),
        ));
        config.encoder.validation = Validation::Warn;
        let logger = Logger::start(config, fake.clone());
        let errors = collect_errors(&logger);
        let bad =
            r#"{"category":"Chat Session","action":"closed","properties":{"close_method":"bot"}}"#;
        let first = logger.log_json(bad).unwrap();
        logger.log_json(bad).unwrap();
        logger
            .log_json(r#"{"category":"Chat Session","action":"closed"}"#)
            .unwrap();
        assert_eq!(flush_wait(&logger).delivered, 3, "warn publishes");
        wait_until("reports", || errors.lock().unwrap().len() == 2);
        let errors = errors.lock().unwrap();
        assert_eq!(errors[0].code, ErrorCode::TrackingPlan);
        assert_eq!(errors[0].event_ids, [first.hyphenated().to_string()]);
        assert_eq!(errors[0].violations[0].path, "properties.close_method");
        assert_eq!(errors[1].violations[0].kind.as_str(), "missingProperty");
        let stats = logger.stats();
        assert_eq!(stats.violations, [0, 0, 1, 0, 2]);
        assert_eq!(stats.invalid, 0);
    }

    #[test]
    fn throttling_pauses_every_request_of_the_logger() {
        let fake = FakePublisher::with_script([Script::Fail(FaultKind::Throttled)]);
        let mut config = test_config(false);
        config.retry.initial_backoff = Duration::from_millis(200);
        config.retry.max_backoff = Duration::from_millis(200);
        config.max_batch_size = 1;
        config.flush_interval = Duration::from_millis(20);
        let logger = Logger::start(config, fake.clone());
        log_n(&logger, 1);
        wait_until("the throttled request", || !fake.requests().is_empty());
        log_n(&logger, 3);
        assert_eq!(flush_wait(&logger).delivered, 4);
        let requests = fake.requests();
        let throttled_at = requests[0].at;
        for r in &requests[1..] {
            // A lower bound only: a slow machine makes the gap longer, never shorter.
            assert!(
                r.at.duration_since(throttled_at) >= Duration::from_millis(190),
                "a request started {:?} after the throttle",
                r.at.duration_since(throttled_at)
            );
        }
    }

    #[test]
    fn with_a_spool_an_outage_past_the_budget_delays_instead_of_failing() {
        let dir = tempfile::tempdir().unwrap();
        let fake = FakePublisher::with_script((0..30).map(|_| Script::Fail(FaultKind::Transient)));
        let mut config = spooled_config(true, dir.path());
        config.retry.budget = Duration::from_millis(20);
        let logger = Logger::try_start(config, fake.clone()).unwrap();
        let errors = collect_errors(&logger);
        let ids = log_n(&logger, 25);
        let report = flush_wait(&logger);
        assert_eq!((report.delivered, report.failed), (25, 0));
        assert_eq!(accepted_ids(&fake, 30), ids, "each once, in order");
        let errors = errors.lock().unwrap();
        assert!(!errors.is_empty());
        assert!(
            errors.iter().all(|e| e.code == ErrorCode::DeliveryDelayed),
            "{errors:?}"
        );
        assert_eq!(logger.stats().spooled, 0);
    }

    #[test]
    fn with_a_spool_a_full_window_spills_to_disk_and_order_holds() {
        let dir = tempfile::tempdir().unwrap();
        let fake =
            FakePublisher::with_script((0..20).map(|_| Script::Slow(Duration::from_millis(3))));
        let mut config = spooled_config(true, dir.path());
        config.max_queue_events = 7;
        let logger = Logger::try_start(config, fake.clone()).unwrap();
        let errors = collect_errors(&logger);
        let ids = log_n(&logger, 300);
        let report = flush_wait(&logger);
        assert_eq!(
            (report.delivered, report.failed, report.dropped),
            (300, 0, 0)
        );
        assert_eq!(accepted_ids(&fake, 0), ids, "each once, in log() order");
        assert!(errors.lock().unwrap().is_empty());
        assert!(fake.requests().iter().all(|r| r.ids.len() <= 7));
    }

    #[test]
    fn a_closed_logger_leaves_undelivered_events_to_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let down =
            FakePublisher::with_script((0..10_000).map(|_| Script::Fail(FaultKind::Transient)));
        let first = Logger::try_start(spooled_config(true, dir.path()), down).unwrap();
        let errors = collect_errors(&first);
        let ids = log_n(&first, 40);
        let report = close_wait(&first, Some(Duration::from_millis(100)));
        assert_eq!(
            (report.delivered, report.failed, report.spooled),
            (0, 0, 40)
        );
        assert!(
            errors.lock().unwrap().is_empty(),
            "nothing is lost, nothing to report"
        );
        drop(first);

        let up = FakePublisher::default();
        let second = Logger::try_start(spooled_config(true, dir.path()), up.clone()).unwrap();
        let later = log_n(&second, 5);
        let report = flush_wait(&second);
        assert_eq!((report.delivered, report.failed), (45, 0));
        assert_eq!(second.stats().recovered, 40);
        let want: Vec<String> = ids.into_iter().chain(later).collect();
        assert_eq!(
            accepted_ids(&up, 0),
            want,
            "the left-over events first, same ids"
        );
        let report = close_wait(&second, None);
        assert_eq!(report.spooled, 0);
    }

    #[test]
    fn a_second_logger_on_the_same_spool_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first =
            Logger::try_start(spooled_config(true, dir.path()), FakePublisher::default()).unwrap();
        let Err(err) =
            Logger::try_start(spooled_config(true, dir.path()), FakePublisher::default())
        else {
            panic!("refused")
        };
        assert_eq!(err.option, "spoolDir");
        assert!(err.reason.contains("in use by another logger"), "{err}");
    }

    #[test]
    fn reconfigure_moves_new_events_and_keeps_queued_ones() {
        use crate::core::encode::Router;
        let fake =
            FakePublisher::with_script((0..6).map(|_| Script::Slow(Duration::from_millis(10))));
        let logger = Logger::start(test_config(true), fake.clone());
        let before = log_n(&logger, 30);
        let mut config = test_config(true);
        let new_topic = "arn:aws:sns:us-east-1:123456789012:moved.fifo";
        config.encoder.router = Router::new(logger.topic_table(), new_topic, &[], &[]).unwrap();
        config.max_batch_size = 4;
        config.sns.region = Some("us-east-1".into());
        logger.reconfigure(config).unwrap();
        let after = log_n(&logger, 30);
        let report = flush_wait(&logger);
        assert_eq!(
            (report.delivered, report.failed, report.dropped),
            (60, 0, 0)
        );
        let requests = fake.requests();
        let sent_to = |topic: &str| -> Vec<String> {
            requests
                .iter()
                .filter(|r| r.topic == topic)
                .flat_map(|r| r.ids.clone())
                .collect()
        };
        assert_eq!(
            sent_to("arn:aws:sns:us-east-1:123456789012:test.fifo"),
            before
        );
        assert_eq!(sent_to(new_topic), after);
        assert!(requests
            .iter()
            .filter(|r| r.topic == new_topic)
            .all(|r| r.ids.len() <= 4));
        assert_eq!(fake.reconfigured.lock().unwrap().len(), 1);
        // A config on another topic table would renumber topics: refused.
        let mut stray = test_config(true);
        stray.max_batch_size = 2;
        assert_eq!(logger.reconfigure(stray).unwrap_err().option, "options");
    }

    #[test]
    fn reconfigure_cannot_move_the_spool() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let logger =
            Logger::try_start(spooled_config(true, dir.path()), FakePublisher::default()).unwrap();
        let mut config = spooled_config(true, other.path());
        config.encoder.router = crate::core::encode::Router::new(
            logger.topic_table(),
            "arn:aws:sns:us-east-1:123456789012:test.fifo",
            &[],
            &[],
        )
        .unwrap();
        assert_eq!(logger.reconfigure(config).unwrap_err().option, "spoolDir");
    }
}

//! The caller's side of a logger: `log()` validates, encodes and hands the event to
//! the delivery loop without waiting for it. Everything here runs on the JavaScript
//! thread, so nothing takes a lock or makes a system call on the way through `log()`
//! except, at most once per batch, the wake-up of the delivery loop.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch, Notify};
use uuid::Uuid;

use super::shared::{Control, DeadLetterSink, DeliveryReport, ErrorSink, ReportFn, Shared};
use super::worker::Worker;
use crate::core::deadletter::{DeadLetter, DeadLetterStore};
use crate::core::encode::{EncodeError, EncoderConfig};
use crate::core::error::InvalidOption;
use crate::core::error::{DeliveryError, LogError};
use crate::core::event::{EncodedEvent, Source};
use crate::core::options::{LoggerConfig, Overflow};
use crate::core::plan::Violation;
use crate::core::rocketchat::{WidgetCapLimits, WidgetCaps, WidgetError, WidgetOverCap};
use crate::core::telemetry::{LabelledCounters, LaneCaps, Ledger, Limits, Turnaway};

/// Why a widget body was not logged.
#[derive(Debug)]
pub enum WidgetLogError {
    Widget(WidgetError),
    Log(LogError),
}
use super::publisher::Publisher;
use super::runtime;
use crate::core::spool::instances;
use crate::core::telemetry::{Stats, StatsSnapshot};

/// A handle the host's exit hook keeps to drain loggers it does not own.
#[derive(Clone)]
pub struct DrainHandle(Weak<Shared>);

impl DrainHandle {
    /// False once the logger and its delivery loop are both gone.
    pub fn is_alive(&self) -> bool {
        self.0.strong_count() > 0
    }

    /// The deadline of a `close()` in progress (a SIGTERM handler's, say), if any.
    pub fn close_deadline(&self) -> Option<Instant> {
        let shared = self.0.upgrade()?;
        let us = shared.close_requested_us.load(Ordering::Acquire);
        (us != u64::MAX).then(|| shared.epoch + Duration::from_micros(us))
    }

    /// The logger's `shutdownTimeoutMs` as it is now.
    pub fn shutdown_timeout(&self) -> Duration {
        self.0.upgrade().map_or(Duration::ZERO, |s| {
            Duration::from_millis(s.shutdown_timeout_ms.load(Ordering::Relaxed))
        })
    }
}

/// What `log()` needs of the options; replaced whole by `reconfigure()`.
struct CallerSide {
    encoder: EncoderConfig,
    /// What `log()` checks the unsettled events against: the memory queue's limits,
    /// or with a spool, the spool's.
    limits: Limits,
    /// The widget's and the Apps' caps within `limits`.
    caps: LaneCaps,
    overflow: Overflow,
    max_batch_size: i64,
    shutdown_timeout: Duration,
}

impl CallerSide {
    fn new(config: &LoggerConfig) -> Self {
        let limits = config.limits(config.spool.is_some());
        CallerSide {
            encoder: config.encoder.clone(),
            limits,
            caps: config.shares.caps(limits),
            overflow: config.overflow,
            max_batch_size: config.max_batch_size as i64,
            shutdown_timeout: config.shutdown_timeout,
        }
    }
}

/// One logger, as the binding holds it. It lives on the caller's thread (the
/// JavaScript thread): its options sit in a `RefCell` that only `reconfigure()`
/// replaces, so `log()` reads them without a lock.
pub struct Logger {
    events: std_mpsc::Sender<EncodedEvent>,
    shared: Arc<Shared>,
    caller: RefCell<Arc<CallerSide>>,
    spool: Option<crate::core::options::SpoolConfig>,
    /// The widget's events per visitor and per room in the current window.
    widget_caps: RefCell<WidgetCaps>,
}

impl Logger {
    /// [`Logger::try_start`] for a configuration that cannot fail to start (no spool).
    pub fn start<P: Publisher>(config: LoggerConfig, publisher: P) -> Logger {
        Self::try_start(config, publisher).expect("a logger without a spool always starts")
    }

    /// Starts the delivery loop on the shared runtime. Cheap and synchronous: no
    /// network, no waiting; the SNS client is built by the loop on first use, and the
    /// spool (if any) is only locked here, then read by the loop.
    pub fn try_start<P: Publisher>(
        config: LoggerConfig,
        publisher: P,
    ) -> Result<Logger, InvalidOption> {
        let dead_letters = match &config.spool {
            Some(spool) => DeadLetterSink::Store(Arc::new(DeadLetterStore::in_spool(
                &spool.dir,
                spool.max_dead_letter_bytes,
            ))),
            None => DeadLetterSink::Report,
        };
        Self::start_with(config, publisher, dead_letters)
    }

    /// A logger for a dead-letter replay ([`Logger::log_again`]): the entries SNS
    /// refuses again for their own sake are kept for [`Logger::take_refused`] instead
    /// of being stored or reported.
    pub(crate) fn start_replaying<P: Publisher>(
        config: LoggerConfig,
        publisher: P,
    ) -> Result<Logger, InvalidOption> {
        Self::start_with(
            config,
            publisher,
            DeadLetterSink::Collect(Mutex::new(Vec::new())),
        )
    }

    fn start_with<P: Publisher>(
        config: LoggerConfig,
        publisher: P,
        dead_letters: DeadLetterSink,
    ) -> Result<Logger, InvalidOption> {
        // Never a reason not to start: a folder that cannot be had leaves the logger
        // in memory, which the loop reports.
        let spool_lock = config.spool.as_ref().map(|spool| {
            instances::claim(&spool.dir)
                .map(|(lock, _adopted)| lock)
                .map_err(|e| format!("{} {e}", spool.dir.display()))
        });
        let (events_tx, events_rx) = std_mpsc::channel();
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        let (deadline_tx, _) = watch::channel(None);
        let shared = Arc::new(Shared {
            ledger: Ledger::default(),
            stats: Stats::default(),
            wake: Notify::new(),
            undispatched: AtomicI64::new(0),
            wants_events: AtomicBool::new(true),
            closed: AtomicBool::new(false),
            control: control_tx,
            deadline: deadline_tx,
            pause_until_us: Default::default(),
            epoch: Instant::now(),
            shutdown_timeout_ms: AtomicU64::new(config.shutdown_timeout.as_millis() as u64),
            close_requested_us: AtomicU64::new(u64::MAX),
            error_sinks: Mutex::new(Default::default()),
            throttle: Mutex::new(Default::default()),
            labels: LabelledCounters::default(),
            dead_letters,
            paused: Mutex::new(Vec::new()),
            oldest: Mutex::new(Vec::new()),
            #[cfg(test)]
            loop_turns: Default::default(),
        });
        let logger = Logger {
            events: events_tx,
            shared: shared.clone(),
            caller: RefCell::new(Arc::new(CallerSide::new(&config))),
            spool: config.spool.clone(),
            widget_caps: RefCell::new(WidgetCaps::new(widget_cap_limits(&config))),
        };
        let worker = Worker::new(
            config,
            publisher,
            shared.clone(),
            events_rx,
            control_rx,
            spool_lock,
        );
        let runtime = runtime::handle();
        let task = runtime.spawn(worker.run());
        // A panic in the loop is a bug of ours; it must not leave the logger silently
        // dead. The loop's Drop answers its waiting flush/close calls; this says why.
        runtime.spawn(async move {
            if let Err(e) = task.await {
                if e.is_panic() {
                    shared.closed.store(true, Ordering::Release);
                    shared.report(DeliveryError::new(
                        crate::core::error::ErrorCode::Internal,
                        "the delivery loop stopped on a bug; events still held are lost \
                         and log() now throws ERR_LOGGER_CLOSED",
                        Vec::new(),
                    ));
                }
            }
        });
        Ok(logger)
    }

    /// Validates and queues one event given as the JSON text of the caller's object.
    /// Returns the event's id (UUIDv7), which is also its SNS deduplication id.
    pub fn log_json(&self, json: &str) -> Result<Uuid, LogError> {
        self.log_json_for(json, None)
    }

    /// [`Logger::log_json`] for an event a Rocket.Chat App logged through the bridge.
    pub fn log_json_for(&self, json: &str, app_id: Option<&str>) -> Result<Uuid, LogError> {
        self.log_json_from(
            json,
            match app_id {
                Some(app) => Source::App(app),
                None => Source::Server,
            },
        )
    }

    /// [`Logger::log_json`] for an event of `source`, counted in its lane.
    pub(crate) fn log_json_from(&self, json: &str, source: Source<'_>) -> Result<Uuid, LogError> {
        let app_id = match source {
            Source::App(app) => Some(app),
            Source::Server | Source::Widget => None,
        };
        if self.is_closed() {
            return Err(LogError::Closed);
        }
        let (id, now_ms) = new_id();
        // Nothing below calls back into JavaScript (a toJSON has already run), so no
        // reconfigure() can want the options mutably while this borrow lives.
        let caller = self.caller.borrow();
        let stats = &self.shared.stats;
        let mut encoded = match caller.encoder.encode_for(json, id, now_ms, app_id) {
            Ok(encoded) => encoded,
            Err(e) => {
                Stats::add(&stats.invalid, 1);
                return Err(match e {
                    EncodeError::Invalid(e) => LogError::Invalid(e),
                    EncodeError::Plan(rejection) => {
                        self.count_violations(&rejection.violations);
                        self.shared.labels.plan_rejection();
                        LogError::Plan(rejection)
                    }
                    EncodeError::NotAllowed(refusal) => LogError::NotAllowed(refusal),
                });
            }
        };
        encoded.event.widget = source == Source::Widget;
        if encoded.violations.is_empty() {
            return self.enqueue(&caller, encoded.event);
        }
        // validation: 'warn': publish, count, and let the loop report it.
        self.count_violations(&encoded.violations);
        let event = format!("{}/{}", encoded.event.category(), encoded.event.action());
        let id = self.enqueue(&caller, encoded.event)?;
        let _ = self.shared.control.send(Control::Violations {
            id,
            event,
            violations: encoded.violations,
        });
        Ok(id)
    }

    /// Queues a dead letter again, exactly as it was sent before: its id (the FIFO
    /// deduplication id), message and attributes, and its message group, to
    /// `topic_arn`, past every check `log()` makes (they passed when it was logged).
    pub(crate) fn log_again(&self, letter: &DeadLetter, topic_arn: &str) -> Result<Uuid, LogError> {
        if self.is_closed() {
            return Err(LogError::Closed);
        }
        let caller = self.caller.borrow();
        let fifo = topic_arn.ends_with(".fifo");
        let topic = caller
            .encoder
            .router
            .table()
            .intern(topic_arn, fifo)
            .ok_or_else(|| {
                LogError::Invalid(crate::core::error::InvalidEvent::new(
                    "topicArn",
                    "is one topic too many for one logger",
                ))
            })?;
        // Batches are cut per topic and group; a record without a group (it was sent
        // to a standard topic) takes the logger's, if the topic is FIFO now.
        self.enqueue(
            &caller,
            EncodedEvent::new(
                letter.id,
                letter.message.clone(),
                &letter.category,
                &letter.action,
                letter.event_type,
                topic,
                letter.message_group_id.as_deref().map(Into::into),
                letter.app_id.as_deref().map(Into::into),
            ),
        )
    }

    /// What SNS refused again, for good, since the last call ([`Logger::start_replaying`]).
    pub(crate) fn take_refused(&self) -> Vec<DeadLetter> {
        match &self.shared.dead_letters {
            DeadLetterSink::Collect(kept) => {
                std::mem::take(&mut *kept.lock().unwrap_or_else(|p| p.into_inner()))
            }
            _ => Vec::new(),
        }
    }

    /// The error `overflow: 'reject'` throws for an event turned away.
    fn turned_away_error(&self, turnaway: Turnaway, limits: Limits) -> LogError {
        match turnaway {
            Turnaway::LaneFull(full) => LogError::LaneFull(full.describe()),
            Turnaway::OverLimits if self.spool.is_some() => LogError::SpoolFull {
                max_bytes: limits.bytes,
            },
            Turnaway::OverLimits => LogError::QueueFull {
                max_events: limits.events as usize,
                max_bytes: limits.bytes as usize,
            },
        }
    }

    fn count_violations(&self, violations: &[Violation]) {
        for v in violations {
            Stats::add(&self.shared.stats.violations[v.kind.index()], 1);
        }
    }

    fn enqueue(&self, caller: &CallerSide, event: EncodedEvent) -> Result<Uuid, LogError> {
        let id = event.id;
        let bytes = event.queued_bytes() as u64;
        // Past the limits with 'dropOldest', the event is queued and the loop drops the
        // oldest. A lane at its cap drops its own newest event whatever `overflow` says
        // of the queue as a whole: the lane exists to stop a flooding source, whose
        // newest events are the flood, and its oldest may be in a request or on disk.
        let keep_over_limits = caller.overflow == Overflow::DropOldest;
        let over_limits = match self.shared.ledger.accept(
            event.source(),
            bytes,
            &caller.caps,
            caller.limits,
            keep_over_limits,
        ) {
            Ok(over_limits) => over_limits,
            Err(turnaway) => {
                if caller.overflow == Overflow::Reject {
                    return Err(self.turned_away_error(turnaway, caller.limits));
                }
                let _ = self.shared.control.send(match turnaway {
                    Turnaway::LaneFull(full) => Control::LaneFull(id, full),
                    Turnaway::OverLimits => Control::Dropped(id),
                });
                return Ok(id);
            }
        };
        if let Err(std_mpsc::SendError(event)) = self.events.send(event) {
            // The loop has ended, which only happens after close: not accepted.
            self.shared.ledger.revert(event.source(), bytes);
            return Err(LogError::Closed);
        }
        // Wake the loop when it may be idle (first event) and when a batch fills, and
        // only if it could send now; in between, its flush timer picks events up
        // without a wake-up (a futex call) per event. SeqCst pairs with the loop's
        // store of `wants_events` and its second look at `undispatched`.
        let before = self.shared.undispatched.fetch_add(1, Ordering::SeqCst);
        let batch_ready = before <= 0 || (before + 1) % caller.max_batch_size == 0;
        // Over the limits with 'dropOldest', only the loop can make room.
        if over_limits || (batch_ready && self.shared.wants_events.load(Ordering::SeqCst)) {
            self.shared.wake.notify_one();
        }
        Ok(id)
    }

    /// Calls `reply` once every event logged before this call is delivered or failed.
    pub fn flush(&self, reply: ReportFn) {
        if let Err(mpsc::error::SendError(Control::Flush(reply))) =
            self.shared.control.send(Control::Flush(reply))
        {
            // The loop has ended: nothing is left to wait for.
            reply(DeliveryReport::from_stats(self.stats()));
            return;
        }
        self.shared.wake.notify_one();
    }

    /// Stops accepting events, delivers what is held until `timeout` (default: the
    /// `shutdownTimeoutMs` option), then calls `reply`. Later calls reply too.
    pub fn close(&self, timeout: Option<Duration>, reply: ReportFn) {
        let deadline = Instant::now() + timeout.unwrap_or(self.shutdown_timeout());
        if let Err(reply) = self.shared.close(deadline, reply) {
            reply(DeliveryReport::from_stats(self.stats()));
        }
    }

    /// Counts an event refused before it reached [`Logger::log_json`] (not an object,
    /// not serializable), so that `stats().invalid` counts every refusal.
    pub fn count_invalid(&self) {
        Stats::add(&self.shared.stats.invalid, 1);
    }

    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats()
    }

    /// An event of `source` refused before the queue (over an App's rate limit or byte
    /// budget), counted in its lane.
    pub fn count_refused(&self, source: Source<'_>) {
        self.shared.ledger.refused_before_accepting(source);
    }

    /// The events by lane.
    pub fn sources(&self) -> crate::core::telemetry::SourcesSnapshot {
        self.shared.ledger.lanes()
    }

    /// The labelled counters (per topic, reason and app).
    pub fn labels(&self) -> &LabelledCounters {
        &self.shared.labels
    }

    /// The destinations this logger holds events for, paused because SNS refused
    /// them as a whole.
    pub fn paused_destinations(&self) -> Vec<crate::core::telemetry::PausedDestination> {
        self.shared.paused_destinations()
    }

    /// The Prometheus text exposition of this logger's counters.
    pub fn metrics(&self) -> String {
        crate::core::telemetry::render(&self.metric_families())
    }

    /// This logger's metrics, family by family: what both exporters publish.
    pub fn metric_families(&self) -> Vec<crate::core::telemetry::Family> {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let oldest: Vec<(String, f64)> = self
            .shared
            .oldest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(topic, ms)| (topic.clone(), (now_ms - ms).max(0) as f64 / 1000.0))
            .collect();
        let paused = self.shared.paused_destinations();
        crate::core::telemetry::families(&crate::core::telemetry::MetricsInput {
            stats: self.stats(),
            counters: self.shared.labels.snapshot(),
            sources: self.shared.ledger.lanes(),
            paused: &paused,
            oldest: &oldest,
        })
    }

    /// Checks an untrusted Livechat widget body (its JSON text) and logs the event it
    /// describes: only events the plan (the logger's, if it marks widget events, else
    /// the built-in Livechat plan) marks `widget`, stamped `customerAction`, without the
    /// visitor token.
    pub fn log_widget_json(&self, json: &str) -> Result<Uuid, WidgetLogError> {
        let caller = self.caller.borrow().clone();
        let plan: &crate::core::plan::TrackingPlan = match caller.encoder.plan.as_deref() {
            Some(p) if p.events.iter().any(|e| e.widget) => p,
            _ => crate::core::rocketchat::default_widget_plan(),
        };
        let event = crate::core::rocketchat::widget_event(json, plan).map_err(|e| {
            Stats::add(&self.shared.stats.invalid, 1);
            WidgetLogError::Widget(e)
        })?;
        self.widget_caps
            .borrow_mut()
            .admit(&event.token, &event.room_id, Instant::now())
            .map_err(|refusal| {
                self.shared.ledger.refused_before_accepting(Source::Widget);
                let (field, option) = match refusal {
                    WidgetOverCap::Room { .. } => ("rid", "widgetEventsPerRoom"),
                    WidgetOverCap::Visitor { .. } => ("token", "widgetEventsPerVisitor"),
                    WidgetOverCap::TooManyVisitors { .. } => ("token", "widgetSharePercent"),
                };
                WidgetLogError::Widget(WidgetError::over_cap(
                    field,
                    format!("{refusal} ({option})"),
                ))
            })?;
        self.log_json_from(&event.json, Source::Widget)
            .map_err(WidgetLogError::Log)
    }

    /// Whether `appAccess` lets `app` log `category` naming `agent_id`.
    pub fn check_app_access(
        &self,
        app: &str,
        category: &str,
        agent_id: Option<&str>,
    ) -> Result<(), crate::core::error::AppAccessDenied> {
        self.caller
            .borrow()
            .encoder
            .app_access
            .check(app, category, agent_id)
    }

    pub fn on_error(&self, sink: ErrorSink) {
        self.shared.on_error(sink);
    }

    #[cfg(test)]
    pub fn loop_turns(&self) -> u64 {
        self.shared.loop_turns.load(Ordering::Relaxed)
    }

    pub fn drain_handle(&self) -> DrainHandle {
        DrainHandle(Arc::downgrade(&self.shared))
    }

    pub fn shutdown_timeout(&self) -> Duration {
        self.caller.borrow().shutdown_timeout
    }

    /// The topic table new options must build their router on, so that queued
    /// events keep their topics.
    pub fn topic_table(&self) -> Arc<crate::core::encode::TopicTable> {
        self.caller.borrow().encoder.router.table().clone()
    }

    /// Applies new options while running: events logged from now on use them; events
    /// already queued keep the topic and group they were routed to, and nothing
    /// queued is dropped or sent twice. `config` must be built on
    /// [`Logger::topic_table`]. The spool folder cannot change.
    pub fn reconfigure(&self, config: LoggerConfig) -> Result<(), InvalidOption> {
        if self.is_closed() {
            return Err(InvalidOption::new(
                "options",
                "cannot be changed: the AnalyticsLogger is closed",
            ));
        }
        if config.spool.as_ref().map(|s| &s.dir) != self.spool.as_ref().map(|s| &s.dir) {
            return Err(InvalidOption::new(
                "spoolDir",
                "cannot change while the logger runs; close it and start a new logger on the new folder",
            ));
        }
        if !Arc::ptr_eq(config.encoder.router.table(), &self.topic_table()) {
            return Err(InvalidOption::new(
                "options",
                "must be built on the logger's topic table (a bug of the caller)",
            ));
        }
        self.shared.shutdown_timeout_ms.store(
            config.shutdown_timeout.as_millis() as u64,
            Ordering::Relaxed,
        );
        if let (DeadLetterSink::Store(store), Some(spool)) =
            (&self.shared.dead_letters, &config.spool)
        {
            store.set_max_bytes(spool.max_dead_letter_bytes);
        }
        let caller = Arc::new(CallerSide::new(&config));
        let cap_limits = widget_cap_limits(&config);
        if self
            .shared
            .control
            .send(Control::Reconfigure(Box::new(config)))
            .is_err()
        {
            return Err(InvalidOption::new(
                "options",
                "cannot be changed: the AnalyticsLogger is closed",
            ));
        }
        self.shared.wake.notify_one();
        *self.caller.borrow_mut() = caller;
        if self.widget_caps.borrow().limits() != cap_limits {
            *self.widget_caps.borrow_mut() = WidgetCaps::new(cap_limits);
        }
        Ok(())
    }
}

/// The widget's caps as the options set them.
fn widget_cap_limits(config: &LoggerConfig) -> WidgetCapLimits {
    WidgetCapLimits {
        window: Duration::from_millis(crate::core::options::defaults::WIDGET_CAP_WINDOW_MS),
        per_visitor: config.widget_events_per_visitor,
        per_room: config.widget_events_per_room,
    }
}

thread_local! {
    /// The UUIDv7 counter of this thread's loggers. `Uuid::now_v7()` shares one context
    /// behind a process-wide mutex; a logger lives on one thread, so one context per
    /// thread keeps its ids in `log()` order without the lock.
    static ID_CONTEXT: uuid::ContextV7 = const { uuid::ContextV7::new() };
}

/// A new event id (UUIDv7) and the epoch milliseconds of its clock reading: one read
/// of the clock per event, not two.
fn new_id() -> (Uuid, i64) {
    let timestamp = ID_CONTEXT.with(|context| uuid::Timestamp::now(context));
    let id = Uuid::new_v7(timestamp);
    let (secs, nanos) = timestamp.to_unix();
    (id, secs as i64 * 1000 + i64::from(nanos / 1_000_000))
}

impl Drop for Logger {
    fn drop(&mut self) {
        // Dropping the sender tells the loop to deliver what is left and stop; wake it
        // so it notices now rather than at its next timer.
        self.shared.wake.notify_one();
    }
}

/// Closes every logger still running and blocks the calling thread until they have
/// delivered what they hold or `deadline` passes. For the host's `exit` hook, where
/// the event loop will never run again and only this thread's waiting keeps the
/// process alive long enough for the background threads to finish.
pub fn close_all_blocking(handles: &[DrainHandle], deadline: Instant) -> Vec<DeliveryReport> {
    let (tx, rx) = std_mpsc::channel();
    let mut waiting = 0;
    for handle in handles {
        let Some(shared) = handle.0.upgrade() else {
            continue;
        };
        let tx = tx.clone();
        let reply: ReportFn = Box::new(move |report| {
            let _ = tx.send(report);
        });
        if shared.close(deadline, reply).is_ok() {
            waiting += 1;
        }
    }
    drop(tx);
    let mut reports = Vec::with_capacity(waiting);
    // A little grace past the deadline lets loops that gave up report so.
    let until = deadline + Duration::from_millis(200);
    while reports.len() < waiting {
        let left = until.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(report) => reports.push(report),
            Err(_) => break,
        }
    }
    reports
}

//! The delivery loop: one task per logger on the shared runtime. It takes events
//! from `log()`, writes them to the spool (if any), cuts them into PublishBatch
//! requests per topic and message group, keeps FIFO order, and answers `flush()` and
//! `close()`. Sending a batch and its retries is `deliver.rs`'s business; the spool
//! (`spooling.rs`), batches in flight (`in_flight.rs`), paused destinations
//! (`pausing.rs`) and reports (`reports.rs`) have files of their own.

mod adoption;
mod in_flight;
mod parts;
mod pausing;
mod reports;
mod spooling;

use std::sync::atomic::Ordering;
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::Instant;

use tokio::sync::mpsc;

use crate::core::delivery::batch::QueuedEvent;
use crate::core::delivery::deliver::RequestContext;
use crate::core::delivery::lanes::{LaneKey, Lanes};
use crate::core::delivery::pause::Pauses;
use crate::core::delivery::publisher::Publisher;
use crate::core::delivery::shared::{Control, DeliveryReport, Shared};
use crate::core::encode::Topic;
use crate::core::error::{DeliveryError, ErrorCode};
use crate::core::event::EncodedEvent;
use crate::core::options::{LoggerConfig, Overflow};
use crate::core::spool::SpoolLock;
use crate::core::telemetry::Settled;
use in_flight::InFlight;
use parts::{Lifecycle, Routes, Settings, Window};
use reports::Reports;
use spooling::Spooling;

pub(crate) struct Worker<P> {
    publisher: Arc<P>,
    context: Arc<RequestContext>,
    shared: Arc<Shared>,
    events: std_mpsc::Receiver<EncodedEvent>,
    control: mpsc::UnboundedReceiver<Control>,
    settings: Settings,
    routes: Routes,
    lifecycle: Lifecycle,
    /// Events taken from the channel, not yet in a batch, with when the loop saw them.
    pending: Lanes,
    window: Window,
    next_seq: u64,
    in_flight: InFlight,
    reports: Reports,
    spooling: Option<Spooling>,
    /// Destinations SNS refused as a whole, whose events are held.
    pauses: Pauses,
    /// With a spool: events for a paused topic that already has events on disk only,
    /// to be let go of (parked) once the spool file has them. They must not wait in
    /// its lanes: they would be sent before the older events on disk.
    awaiting_park: Vec<QueuedEvent>,
}

impl<P: Publisher> Worker<P> {
    pub(crate) fn new(
        config: LoggerConfig,
        publisher: P,
        shared: Arc<Shared>,
        events: std_mpsc::Receiver<EncodedEvent>,
        control: mpsc::UnboundedReceiver<Control>,
        spool_lock: Option<Result<SpoolLock, String>>,
    ) -> Self {
        let spooling = match (config.spool.clone(), spool_lock) {
            (Some(config), Some(Ok(lock))) => Some(Spooling::new(config, lock)),
            (Some(_), Some(Err(why))) => {
                shared.report(DeliveryError::new(
                    ErrorCode::Spool,
                    format!(
                        "the spool folder {why}; this logger keeps its events in memory only, up \
                         to maxQueueEvents and maxQueueBytes, and what it holds is lost if the \
                         process dies (stats().spoolInUse is false)"
                    ),
                    Vec::new(),
                ));
                None
            }
            _ => None,
        };
        let settings = Settings::new(&config, spooling.is_some());
        let context = RequestContext {
            subject: config.subject,
            site_group: config.encoder.site_url.clone(),
            retry: config.retry,
            spooled: spooling.is_some(),
            debug: config.debug,
        };
        Worker {
            publisher: Arc::new(publisher),
            context: Arc::new(context),
            shared,
            events,
            control,
            settings,
            pauses: Pauses::new(config.retry.initial_backoff),
            routes: Routes::new(config.encoder),
            lifecycle: Lifecycle::default(),
            pending: Lanes::default(),
            window: Window::default(),
            next_seq: 0,
            in_flight: InFlight::default(),
            reports: Reports::default(),
            spooling,
            awaiting_park: Vec::new(),
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
            self.adopt(Instant::now());
            self.refill();
            let now = Instant::now();
            self.dispatch(now);
            self.probe(now);
            self.write_spool();
            let parked = self.park_held();
            self.report_drops(false);
            self.shared.report_merged(false);
            self.publish_oldest();
            // Before flushes are answered, so that what they report is what stats() shows.
            self.publish_paused();
            self.answer_flushes();
            if self.finished() {
                break;
            }
            if parked && self.has_backlog() {
                // Room was made in the window: read on behind the held events.
                continue;
            }
            // Ask for event wake-ups only while a batch could start (or events could
            // be held for a paused destination, so that stats() counts them). Then
            // look once more: an event counted before the flag was set would not wake us.
            let room = self.in_flight.tasks.len() < self.settings.max_in_flight
                && (self.settings.many_lanes
                    || self.routes.topic_cache.len() > 1
                    || self.pending.any_free()
                    || !self.pauses.is_empty());
            self.shared.wants_events.store(room, Ordering::SeqCst);
            if room && self.shared.undispatched.load(Ordering::SeqCst) > self.pending.len() as i64 {
                continue;
            }
            // Timers only for what they can change: a due partial batch waits for a
            // free slot anyway, and once nothing is queued the close deadline is the
            // in-flight batches' own business. (A timer already past would spin.)
            let flush_at = if room {
                self.pending.next_due(self.settings.flush_interval)
            } else {
                None
            };
            let close_at = self.lifecycle.closing.filter(|_| {
                !self.lifecycle.deadline_passed && (!self.pending.is_empty() || self.has_backlog())
            });
            let tick_at = self.spool_tick_at();
            let probe_at = self.probe_at();
            let adopt_at = self.adopt_at();
            let drops_at = self.drops_due_at();
            let merged_at = self.shared.merged_report_at();
            tokio::select! {
                Some(joined) = self.in_flight.tasks.join_next_with_id(), if !self.in_flight.tasks.is_empty() => {
                    self.settle(joined);
                }
                Some(control) = self.control.recv() => self.on_control(control),
                _ = self.shared.wake.notified() => {}
                _ = sleep_until_opt(flush_at), if flush_at.is_some() => {}
                _ = sleep_until_opt(close_at), if close_at.is_some() => self.give_up_pending(),
                _ = sleep_until_opt(tick_at), if tick_at.is_some() => self.spool_tick(),
                _ = sleep_until_opt(probe_at), if probe_at.is_some() => {}
                _ = sleep_until_opt(adopt_at), if adopt_at.is_some() => {}
                _ = sleep_until_opt(drops_at), if drops_at.is_some() => {}
                _ = sleep_until_opt(merged_at), if merged_at.is_some() => {}
            }
        }
        // Refuse further requests (their senders answer them at once), and answer the
        // ones that raced with the end instead of dropping them unanswered.
        self.control.close();
        while let Ok(control) = self.control.try_recv() {
            match control {
                // Nothing is left to flush, close or reconfigure: just answer.
                Control::Flush(reply) => self.lifecycle.flush_waiters.push((0, reply)),
                Control::Close { reply, .. } => self.lifecycle.close_waiters.push(reply),
                Control::Reconfigure(_) => {}
                // Reports are still made as the running loop makes them.
                report @ (Control::Dropped(_)
                | Control::LaneFull(..)
                | Control::Violations { .. }) => self.on_control(report),
            }
        }
        self.report_drops(true);
        self.close_spool().await;
        self.shared.report_merged(true);
        // Dropping the loop answers every waiter (see `Drop`).
    }

    /// Topic `i`, from the loop's copy of the table (refreshed when it lacks `i`).
    /// Borrowed, not cloned: it is looked up for every event.
    fn topic(&mut self, i: u16) -> &Topic {
        static UNKNOWN: Topic = Topic {
            arn: String::new(),
            fifo: false,
        };
        if self.routes.topic_cache.len() <= i as usize {
            self.routes.topic_cache = self.routes.topics.snapshot();
        }
        self.routes.topic_cache.get(i as usize).unwrap_or(&UNKNOWN)
    }

    fn window_full(&self, bytes: usize) -> bool {
        self.window.events >= self.settings.memory.events
            || self.window.bytes + bytes as u64 > self.settings.memory.bytes
    }

    fn push_pending(&mut self, event: EncodedEvent, seq: u64, seen: Instant, segment: u32) {
        let ordered = self.topic(event.topic).fifo;
        let key = LaneKey {
            topic: event.topic,
            group: event.group.clone(),
        };
        self.window.add(1, event.queued_bytes() as u64);
        let topic = key.topic;
        if !self.pauses.is_empty() && self.parks_arrivals(topic, segment) {
            self.awaiting_park.push(QueuedEvent {
                seq,
                seen,
                event,
                segment,
            });
            self.shared.undispatched.fetch_sub(1, Ordering::AcqRel);
            self.pauses.add_held(topic, 1);
            self.shared.ledger.hold(1);
            return;
        }
        let held = self.pending.push(
            key,
            ordered,
            QueuedEvent {
                seq,
                seen,
                event,
                segment,
            },
        );
        if held {
            self.pauses.add_held(topic, 1);
            self.shared.ledger.hold(1);
        }
    }

    fn take_events(&mut self) {
        let now = Instant::now();
        loop {
            match self.events.try_recv() {
                Ok(event) => self.take_event(event, now),
                Err(std_mpsc::TryRecvError::Empty) => break,
                Err(std_mpsc::TryRecvError::Disconnected) => {
                    if !self.lifecycle.orphaned {
                        self.lifecycle.orphaned = true;
                        self.start_closing(Instant::now() + self.settings.shutdown_timeout);
                    }
                    break;
                }
            }
        }
        if self.settings.overflow == Overflow::DropOldest {
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
        if full && !self.has_backlog() {
            let spooling = self.spooling.as_mut().expect("checked above");
            spooling
                .spool
                .as_mut()
                .expect("checked above")
                .begin_spill();
            spooling.backlog_first_seq = seq;
        }
        if !self.spool_keeps(&event) {
            // The disk refuses writes and memory holds all it may.
            return self.drop_unwritable(event);
        }
        self.topic(event.topic);
        let arn = self
            .routes
            .topic_cache
            .get(event.topic as usize)
            .map_or("", |t| t.arn.as_str());
        let spooling = self.spooling.as_mut().expect("checked above");
        let spool = spooling.spool.as_mut().expect("checked above");
        let segment = spool.append(&event, arn);
        if spool.has_backlog() {
            // On disk only; read back in order when the window has room.
            self.shared.undispatched.fetch_sub(1, Ordering::AcqRel);
        } else {
            self.push_pending(event, seq, now, segment);
        }
    }

    /// `overflow: 'dropOldest'`: `log()` admitted the newest events past the limits;
    /// make room by dropping the oldest ones not yet sent.
    fn evict_oldest(&mut self) {
        let shared = self.shared.clone();
        while shared.ledger.over(self.settings.limits) {
            let (event, segment) = if let Some(oldest) = self.pending.pop_oldest() {
                self.window.remove(1, oldest.event.queued_bytes() as u64);
                self.shared.undispatched.fetch_sub(1, Ordering::AcqRel);
                if let Some(p) = self.pauses.get_mut(oldest.event.topic) {
                    // A held event, dropped per overflow like any other.
                    p.held = p.held.saturating_sub(1);
                    shared.ledger.release_held(1);
                }
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
            shared.ledger.settle(
                event.source(),
                1,
                event.queued_bytes() as u64,
                Settled::Dropped,
            );
            self.reports.dropped_ids.push(event.id_string());
            self.ack(&[(event.id, segment)]);
        }
    }

    fn on_control(&mut self, control: Control) {
        match control {
            Control::Flush(reply) => {
                // Everything log() sent before this flush is in the channel by now.
                self.take_events();
                self.lifecycle.force_below = self.lifecycle.force_below.max(self.next_seq);
                self.lifecycle.flush_waiters.push((self.next_seq, reply));
            }
            Control::Close { deadline, reply } => {
                self.take_events();
                self.lifecycle.close_waiters.push(reply);
                self.start_closing(deadline);
            }
            Control::Dropped(id) => self.reports.dropped_ids.push(id.hyphenated().to_string()),
            Control::LaneFull(id, lane) => self.lane_dropped(id, lane),
            Control::Violations {
                id,
                event,
                violations,
            } => self.report_violations(id, event, violations),
            Control::Reconfigure(config) => self.reconfigure(*config),
        }
    }

    /// New options from `reconfigure()`. Events already queued or in flight keep their
    /// topic and group, unless they are held for a paused destination the options no
    /// longer name; batches in flight finish with the client they started with.
    fn reconfigure(&mut self, config: LoggerConfig) {
        // Events logged before the call were routed by the old options: take them
        // first, so that those held for a destination now unnamed go with the rest.
        self.take_events();
        self.publisher.reconfigure(&config.sns);
        self.routes.topic_cache = self.routes.topics.snapshot();
        self.settings = Settings::new(&config, self.spooling.is_some());
        if let (Some(spooling), Some(s)) = (self.spooling.as_mut(), config.spool.clone()) {
            spooling.config = s;
        }
        self.pauses.reconfigured(config.retry.initial_backoff);
        self.context = Arc::new(RequestContext {
            subject: config.subject,
            site_group: config.encoder.site_url.clone(),
            retry: config.retry,
            spooled: self.context.spooled,
            debug: config.debug,
        });
        self.routes.routing = config.encoder;
        self.reconfigure_pauses();
    }

    fn start_closing(&mut self, deadline: Instant) {
        let deadline = self.lifecycle.closing.map_or(deadline, |d| d.min(deadline));
        self.lifecycle.closing = Some(deadline);
        self.lifecycle.force_below = u64::MAX;
        self.shared.deadline.send_replace(Some(deadline));
        self.probe_before_closing();
    }

    /// Starts as many batches as the topic allows: full ones always, partial ones when
    /// the oldest event has waited `flushIntervalMs` or a flush/close asks for them.
    fn dispatch(&mut self, now: Instant) {
        while self.in_flight.tasks.len() < self.settings.max_in_flight {
            let Some((lane, batch)) = self.pending.take_ready(
                now,
                self.settings.flush_interval,
                self.lifecycle.force_below,
                self.settings.max_batch_size,
            ) else {
                break;
            };
            self.start_batch(lane, batch, false);
        }
    }

    fn finished(&self) -> bool {
        self.lifecycle.closing.is_some()
            && self.pending.is_empty()
            && self.in_flight.tasks.is_empty()
            && (self.lifecycle.deadline_passed || !self.has_backlog())
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
        let report = DeliveryReport::from_stats(self.shared.stats());
        for (_, reply) in self.lifecycle.flush_waiters.drain(..) {
            reply(report);
        }
        for reply in self.lifecycle.close_waiters.drain(..) {
            reply(report);
        }
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at.into()).await;
    }
}

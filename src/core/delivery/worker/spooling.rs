//! The loop's side of the disk spool: opening it, writing accepted events, reading
//! back what does not fit in memory, syncing on a timer, acknowledging settled events,
//! and what the loop does when the disk fails: keep events in memory within the
//! limits, drop the rest by id, retry with backoff, and say so once when it starts
//! failing and once when it works again.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::core::delivery::deliver::RequestContext;
use crate::core::delivery::publisher::Publisher;
use crate::core::error::{DeliveryError, ErrorCode};
use crate::core::event::EncodedEvent;
use crate::core::options::{Overflow, SpoolConfig};
use crate::core::spool::record::SpooledEvent;
use crate::core::spool::{instances, Spool, SpoolLock, DEFAULT_SEGMENT_BYTES};
use crate::core::telemetry::Settled;

use super::Worker;

/// Longest wait between two attempts to write a failing spool.
const MAX_WRITE_RETRY: Duration = Duration::from_secs(1);

/// The loop's side of the spool.
pub(super) struct Spooling {
    pub(super) config: SpoolConfig,
    /// Until the loop has opened it.
    pub(super) lock: Option<SpoolLock>,
    /// `None` before it is opened, or if it could not be.
    pub(super) spool: Option<Spool>,
    /// The sequence number of the first event on disk only.
    pub(super) backlog_first_seq: u64,
    pub(super) last_tick: Instant,
    pub(super) written_since_sync: bool,
    pub(super) sync_running: Arc<AtomicBool>,
    /// A background sync that failed: (segment, error), for the loop to act on.
    sync_failed: Arc<Mutex<Option<(u32, String)>>>,
    /// Writing fails: reported once, retried with backoff.
    pub(super) failing: Option<Failing>,
    /// Reading back failed last time (reported once).
    read_failing: bool,
    /// Events dropped because the disk refused them and memory was full, to report.
    dropped_ids: Vec<String>,
    /// The last segment whose removal failure was reported.
    removal_reported: Option<String>,
    /// This logger's own folder inside `config.dir`.
    own_dir: std::path::PathBuf,
    /// The folder of a logger that is gone, being taken in.
    pub(super) adoption: Option<super::adoption::Adoption>,
    pub(super) next_scan: Instant,
    pub(super) next_adoption_step: Instant,
    /// Adopted folders that cannot be removed (a segment could not be read): held, so
    /// that they are adopted and reported once.
    pub(super) kept: Vec<SpoolLock>,
    /// Folders refused for adoption, reported once each.
    pub(super) refused_folders: std::collections::HashSet<std::path::PathBuf>,
}

pub(super) struct Failing {
    since: Instant,
    retry_at: Instant,
    last_attempt: Instant,
    backoff: Duration,
    /// The last error, for the report of what was lost at close.
    error: String,
}

impl Spooling {
    pub(super) fn new(config: SpoolConfig, lock: SpoolLock) -> Self {
        let now = Instant::now();
        Spooling {
            own_dir: lock.dir().to_path_buf(),
            adoption: None,
            next_scan: now,
            next_adoption_step: now,
            kept: Vec::new(),
            refused_folders: Default::default(),
            config,
            lock: Some(lock),
            spool: None,
            backlog_first_seq: 0,
            last_tick: Instant::now(),
            written_since_sync: false,
            sync_running: Arc::new(AtomicBool::new(false)),
            sync_failed: Arc::new(Mutex::new(None)),
            failing: None,
            read_failing: false,
            dropped_ids: Vec::new(),
            removal_reported: None,
        }
    }

    fn dir(&self) -> String {
        self.own_dir.display().to_string()
    }
}

fn ids(events: impl IntoIterator<Item = Uuid>) -> Vec<String> {
    events
        .into_iter()
        .map(|u| u.hyphenated().to_string())
        .collect()
}

impl<P: Publisher> Worker<P> {
    /// Reads what earlier loggers left in the spool folder; those events go first.
    pub(super) async fn open_spool(&mut self) {
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
                // Accepted by an earlier logger: they enter this one's account here.
                for (source, events, bytes) in &recovered.by_source {
                    self.shared
                        .ledger
                        .recover(source.as_source(), *events, *bytes);
                }
                stats.spool_in_use.store(true, Ordering::Relaxed);
                stats
                    .corrupt_records
                    .store(recovered.corrupt_records, Ordering::Relaxed);
                // The recovered events were logged before any of this logger's.
                spooling.backlog_first_seq = 0;
                self.next_seq = recovered.events;
                spooling.spool = Some(spool);
                self.report_spool_notices();
                self.update_spool_stats();
            }
            Err(e) => {
                let dir = spooling.dir();
                self.shared.report(DeliveryError::new(
                    ErrorCode::Spool,
                    format!(
                        "the spool {dir} cannot be read ({e}); events are kept in memory only, up to \
                         maxQueueEvents and maxQueueBytes"
                    ),
                    Vec::new(),
                ));
                self.spooling = None;
                self.settings.limits = self.settings.memory;
                self.context = Arc::new(RequestContext {
                    subject: self.context.subject.clone(),
                    site_group: self.context.site_group.clone(),
                    retry: self.context.retry,
                    spooled: false,
                    debug: self.context.debug,
                });
            }
        }
    }

    pub(super) fn spool(&mut self) -> Option<&mut Spool> {
        self.spooling.as_mut().and_then(|s| s.spool.as_mut())
    }

    pub(super) fn has_backlog(&self) -> bool {
        self.spooling
            .as_ref()
            .and_then(|s| s.spool.as_ref())
            .is_some_and(Spool::has_backlog)
    }

    /// Whether an event that would wait in the spool only can be kept: always while
    /// the disk takes writes; while it refuses them, only within the memory limits
    /// (the window and what waits in memory, together), after one more try of the
    /// disk (space may be back). Otherwise makes room per `overflow` ('dropOldest':
    /// the oldest waiting event goes) or says no, and the caller drops `event`.
    pub(super) fn spool_keeps(&mut self, event: &EncodedEvent) -> bool {
        let bytes = event.queued_bytes() as u64;
        if self.spool_fits(bytes) {
            return true;
        }
        self.flush_spool(true);
        if self.spool_fits(bytes) {
            return true;
        }
        if self.settings.overflow != Overflow::DropOldest {
            return false;
        }
        while !self.spool_fits(bytes) {
            let Some(spooling) = self.spooling.as_mut() else {
                return true;
            };
            let Some(dropped) = spooling.spool.as_mut().and_then(|s| s.drop_waiting(true)) else {
                return false;
            };
            let source = dropped.source.as_source();
            self.shared
                .ledger
                .settle(source, 1, dropped.queued_bytes, Settled::Dropped);
            spooling
                .dropped_ids
                .push(dropped.id.hyphenated().to_string());
        }
        true
    }

    fn spool_fits(&self, bytes: u64) -> bool {
        let Some(spooling) = self.spooling.as_ref() else {
            return true;
        };
        let Some(spool) = spooling.spool.as_ref() else {
            return true;
        };
        if spooling.failing.is_none() || !spool.has_backlog() {
            return true;
        }
        let (n, b) = spool.waiting_in_memory();
        self.window.events + n < self.settings.memory.events
            && self.window.bytes + b + bytes <= self.settings.memory.bytes
    }

    /// `event` could not be kept (see [`Worker::spool_keeps`]): dropped, reported by id.
    pub(super) fn drop_unwritable(&mut self, event: EncodedEvent) {
        self.shared.ledger.settle(
            event.source(),
            1,
            event.queued_bytes() as u64,
            Settled::Dropped,
        );
        self.shared.undispatched.fetch_sub(1, Ordering::AcqRel);
        if let Some(s) = self.spooling.as_mut() {
            s.dropped_ids.push(event.id_string());
        }
    }

    /// Reads events waiting in the spool into the window, oldest first.
    pub(super) fn refill(&mut self) {
        if !self.has_backlog() || self.lifecycle.deadline_passed {
            return;
        }
        let room = self
            .settings
            .memory
            .events
            .saturating_sub(self.window.events) as usize;
        let room_bytes = self.settings.memory.bytes.saturating_sub(self.window.bytes);
        if room == 0 || room_bytes == 0 {
            return;
        }
        let read = match self.spool().map(|s| s.read_backlog(room, room_bytes)) {
            Some(Ok(read)) => read,
            Some(Err(e)) => return self.spool_read_failed(e),
            None => return,
        };
        self.spool_read_works();
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
            let mut event = self.unspool(spooled);
            self.reroute_read(&mut event);
            self.push_pending(event, seq, now, segment);
        }
    }

    pub(super) fn spool_read_failed(&mut self, e: io::Error) {
        let Some(spooling) = self.spooling.as_mut() else {
            return;
        };
        if std::mem::replace(&mut spooling.read_failing, true) {
            return;
        }
        let dir = spooling.dir();
        self.shared.report(DeliveryError::new(
            ErrorCode::Spool,
            format!(
                "reading events back from the spool {dir} failed ({e}); they stay there, and \
                 reading is retried"
            ),
            Vec::new(),
        ));
    }

    fn spool_read_works(&mut self) {
        let Some(spooling) = self.spooling.as_mut() else {
            return;
        };
        if std::mem::replace(&mut spooling.read_failing, false) {
            let dir = spooling.dir();
            self.shared.report(DeliveryError::new(
                ErrorCode::SpoolRecovered,
                format!("reading events back from the spool {dir} works again"),
                Vec::new(),
            ));
        }
    }

    pub(super) fn unspool(&mut self, e: SpooledEvent) -> EncodedEvent {
        let fifo = e.topic_arn.ends_with(".fifo");
        // A topic this logger never routed to comes from the file alone.
        let known = self.routes.topics.position(&e.topic_arn).is_some();
        let topic = self.routes.topics.intern(&e.topic_arn, fifo).unwrap_or(0);
        if !known {
            self.routes.foreign_topics.insert(topic);
        }
        EncodedEvent::new(
            e.id,
            e.body,
            &e.category,
            &e.action,
            e.event_type,
            topic,
            e.group.map(String::into_boxed_str),
            e.app_id.map(String::into_boxed_str),
        )
        .from_widget(e.widget)
    }

    /// Writes buffered spool records to the file: at the end of every turn, and the
    /// spool tick makes a turn at least every `spoolSyncMs` while events arrive. While
    /// writing fails, it is retried with backoff (up to [`MAX_WRITE_RETRY`]) rather than
    /// every turn. Then reports what the spool found since the last turn.
    pub(super) fn write_spool(&mut self) {
        let Some(spooling) = self.spooling.as_mut() else {
            return;
        };
        let Some(spool) = spooling.spool.as_mut() else {
            return;
        };
        let sync_failed = spooling
            .sync_failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some((index, error)) = sync_failed {
            spool.sync_failed(index);
            self.spool_write_failed(
                "making a segment durable (that file is left as it is, and a new one started)",
                io::Error::other(error),
            );
        }
        self.flush_spool(false);
        self.report_spool_notices();
    }

    /// Writes what waits, if it is time: now, or while writing fails, at the next retry
    /// (with `force`, at once, but not more than once a millisecond).
    fn flush_spool(&mut self, force: bool) {
        let now = Instant::now();
        let Some(spooling) = self.spooling.as_mut() else {
            return;
        };
        let Some(spool) = spooling.spool.as_mut() else {
            return;
        };
        let due = spooling.failing.as_ref().is_none_or(|f| {
            now >= f.retry_at || (force && now >= f.last_attempt + Duration::from_millis(1))
        });
        if !due || !spool.has_unwritten() {
            return;
        }
        let waited: Vec<Uuid> = if spooling.failing.is_some() {
            spool.unwritten_events().iter().map(|e| e.id).collect()
        } else {
            Vec::new()
        };
        let flushed = spool.flush();
        self.shared
            .stats
            .spooled
            .store(spool.spooled(), Ordering::Relaxed);
        match flushed {
            Ok(()) if spooling.failing.is_some() && !spool.has_headroom() => {
                // Written into what was left: not a recovery yet (else it would flap).
                spooling.written_since_sync = true;
                if let Some(f) = spooling.failing.as_mut() {
                    f.last_attempt = now;
                    f.retry_at = now + f.backoff;
                }
            }
            Ok(()) => {
                spooling.written_since_sync = true;
                if let Some(failing) = spooling.failing.take() {
                    let dir = spooling.dir();
                    self.shared.report(DeliveryError::new(
                        ErrorCode::SpoolRecovered,
                        format!(
                            "the spool {dir} is written again, after {:.1} s of failing; the \
                             events named waited in memory meanwhile and are on disk now",
                            failing.since.elapsed().as_secs_f64()
                        ),
                        ids(waited),
                    ));
                }
            }
            Err(e) => self.spool_write_failed("writing events", e),
        }
    }

    /// Writing the spool failed: the first time, says so with the events not on disk,
    /// and drops what waits past the memory limits; after that, only backs off.
    fn spool_write_failed(&mut self, what: &str, e: io::Error) {
        let now = Instant::now();
        let (memory, window_events, window_bytes) =
            (self.settings.memory, self.window.events, self.window.bytes);
        let oldest = self.settings.overflow == Overflow::DropOldest;
        let Some(spooling) = self.spooling.as_mut() else {
            return;
        };
        let interval = spooling.config.sync_interval.max(Duration::from_millis(1));
        if let Some(f) = spooling.failing.as_mut() {
            f.backoff = (f.backoff * 2).min(MAX_WRITE_RETRY);
            f.retry_at = now + f.backoff;
            f.last_attempt = now;
            f.error = e.to_string();
            return;
        }
        spooling.failing = Some(Failing {
            since: now,
            retry_at: now + interval,
            last_attempt: now,
            backoff: interval,
            error: e.to_string(),
        });
        let Some(spool) = spooling.spool.as_mut() else {
            return;
        };
        spool.expect_unwritten();
        loop {
            let (n, b) = spool.waiting_in_memory();
            if n == 0 || (window_events + n <= memory.events && window_bytes + b <= memory.bytes) {
                break;
            }
            let Some(dropped) = spool.drop_waiting(oldest) else {
                break;
            };
            let source = dropped.source.as_source();
            self.shared
                .ledger
                .settle(source, 1, dropped.queued_bytes, Settled::Dropped);
            spooling
                .dropped_ids
                .push(dropped.id.hyphenated().to_string());
        }
        let kept = spool.unwritten_events();
        let dropped = spooling.dropped_ids.len();
        let mut named: Vec<String> = ids(kept.iter().map(|e| e.id));
        named.extend(spooling.dropped_ids.iter().cloned());
        let dir = spooling.dir();
        self.shared.report(DeliveryError::new(
            ErrorCode::Spool,
            format!(
                "the spool {dir} cannot be written ({what}: {e}); until it can, events are kept \
                 in memory (up to maxQueueEvents {} and maxQueueBytes {} in all; past that, \
                 events are dropped per overflow and reported by id with ERR_QUEUE_FULL), \
                 acknowledgements go to room set aside for them, and writing is retried. The \
                 events named are those the disk refused: the first {} are kept in memory, the \
                 {dropped} after them were dropped (and are reported with ERR_QUEUE_FULL too)",
                memory.events,
                memory.bytes,
                kept.len()
            ),
            named,
        ));
    }

    /// What the spool found since the last turn, each reported once: damaged
    /// segments, events that could not be read back, a segment it could not remove,
    /// events dropped because neither the disk nor memory could take them.
    fn report_spool_notices(&mut self) {
        let memory = self.settings.memory;
        let Some(spooling) = self.spooling.as_mut() else {
            return;
        };
        let dir = spooling.dir();
        let Some(spool) = spooling.spool.as_mut() else {
            return;
        };
        let mut reports = Vec::new();
        for damage in spool.take_damage() {
            let message = match damage.unreadable {
                Some(why) => format!(
                    "the spool {dir}: segment {} cannot be read ({why}); it is left as it is, and \
                     its events are not replayed",
                    damage.segment
                ),
                None => format!(
                    "the spool {dir}: segment {} had {} damaged or torn stretches, skipped; its \
                     intact records are delivered, and the file is kept until they are settled",
                    damage.segment, damage.stretches
                ),
            };
            reports.push(DeliveryError::new(ErrorCode::Spool, message, Vec::new()));
        }
        let vanished = spool.take_vanished();
        if !vanished.is_empty() {
            for (_, bytes, source) in &vanished {
                self.shared
                    .ledger
                    .settle(source.as_source(), 1, *bytes, Settled::Failed);
            }
            reports.push(DeliveryError::new(
                ErrorCode::Spool,
                format!(
                    "the spool {dir}: {} events found on start could not be read back (a segment \
                     file changed or went away meanwhile); they are lost",
                    vanished.len()
                ),
                ids(vanished.into_iter().map(|(id, _, _)| id)),
            ));
        }
        if let Some((segment, e)) = spool.take_removal_error() {
            if spooling.removal_reported.as_ref() != Some(&segment) {
                reports.push(DeliveryError::new(
                    ErrorCode::Spool,
                    format!(
                        "the spool {dir}: the settled segment {segment} cannot be removed ({e}); \
                         it takes disk space until it can"
                    ),
                    Vec::new(),
                ));
                spooling.removal_reported = Some(segment);
            }
        }
        if !spooling.dropped_ids.is_empty() {
            let dropped = std::mem::take(&mut spooling.dropped_ids);
            reports.push(DeliveryError::new(
                ErrorCode::QueueFull,
                format!(
                    "the spool {dir} cannot be written and memory holds all it may \
                     (maxQueueEvents {}, maxQueueBytes {}); {} events dropped per overflow",
                    memory.events,
                    memory.bytes,
                    dropped.len()
                ),
                dropped,
            ));
        }
        for report in reports {
            self.shared.report(report);
        }
    }

    /// When the loop must next look at the channel for the spool's sake: while events
    /// may be arriving or are held, every `spoolSyncMs`; while writing fails and
    /// something waits to be written, at the next retry.
    pub(super) fn spool_tick_at(&self) -> Option<Instant> {
        let spooling = self.spooling.as_ref()?;
        let spool = spooling.spool.as_ref()?;
        let idle = self.pending.is_empty()
            && self.in_flight.tasks.is_empty()
            && self.shared.undispatched.load(Ordering::SeqCst) <= 0
            && !spooling.written_since_sync;
        let tick = (!idle).then(|| spooling.last_tick + spooling.config.sync_interval);
        let retry = spooling
            .failing
            .as_ref()
            .filter(|_| spool.has_unwritten())
            .map(|f| f.retry_at);
        match (tick, retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Makes what was written durable (off the loop) and refreshes the spool's stats.
    /// A failed sync is handed back to the loop, which leaves that file.
    pub(super) fn spool_tick(&mut self) {
        let shared = self.shared.clone();
        let Some(spooling) = self.spooling.as_mut() else {
            return;
        };
        spooling.last_tick = Instant::now();
        if spooling.written_since_sync && !spooling.sync_running.swap(true, Ordering::AcqRel) {
            spooling.written_since_sync = false;
            let running = spooling.sync_running.clone();
            let failed = spooling.sync_failed.clone();
            if let Some((index, job)) = spooling.spool.as_ref().and_then(Spool::sync_job) {
                tokio::task::spawn_blocking(move || {
                    if let Err(e) = job.run() {
                        *failed.lock().unwrap_or_else(|p| p.into_inner()) =
                            Some((index, e.to_string()));
                        shared.wake.notify_one();
                    }
                    running.store(false, Ordering::Release);
                });
            } else {
                running.store(false, Ordering::Release);
            }
        }
        self.update_spool_stats();
    }

    pub(super) fn update_spool_stats(&self) {
        let Some(spool) = self.spooling.as_ref().and_then(|s| s.spool.as_ref()) else {
            return;
        };
        let stats = &self.shared.stats;
        stats.spooled.store(spool.spooled(), Ordering::Relaxed);
        stats
            .spool_bytes
            .store(spool.file_bytes(), Ordering::Relaxed);
        stats
            .corrupt_records
            .store(spool.corrupt_records, Ordering::Relaxed);
    }

    /// At the end: everything the disk takes written and made durable (off the loop)
    /// before `close()` resolves. Events it did not take are lost with this process:
    /// failed, and reported by id.
    pub(super) async fn close_spool(&mut self) {
        let Some(spooling) = self.spooling.as_mut() else {
            return;
        };
        let Some(mut spool) = spooling.spool.take() else {
            return;
        };
        let closed = tokio::task::spawn_blocking(move || {
            let result = spool.close();
            (spool, result)
        })
        .await;
        let Ok((spool, result)) = closed else {
            // The blocking task panicked (a bug): the spool is gone with it.
            return;
        };
        spooling.spool = Some(spool);
        let last_error = match &result {
            Ok(()) => None,
            Err(e) => Some(e.to_string()),
        }
        .or_else(|| spooling.failing.as_ref().map(|f| f.error.clone()));
        let dir = spooling.dir();
        let spool = spooling.spool.as_ref().expect("put back above");
        let lost = spool.unwritten_events();
        if !lost.is_empty() {
            for e in &lost {
                // Unsettled until now, in memory or not (a close leaves what it could
                // not send in the account's `queued`): failed from here on.
                self.shared
                    .ledger
                    .settle(e.source.as_source(), 1, e.queued_bytes, Settled::Failed);
                let topic = spool
                    .unwritten_event(&e.id)
                    .map(|s| s.topic_arn)
                    .unwrap_or_default();
                self.shared.labels.failed(&topic, ErrorCode::Spool, 1);
            }
            self.shared.report(DeliveryError::new(
                ErrorCode::Spool,
                format!(
                    "the logger closed before the spool {dir} could take these {} events ({}); \
                     they were not delivered and are lost",
                    lost.len(),
                    last_error.as_deref().unwrap_or("the disk refused them")
                ),
                ids(lost.iter().map(|e| e.id)),
            ));
        } else if let (Err(e), None) = (&result, &spooling.failing) {
            self.shared.report(DeliveryError::new(
                ErrorCode::Spool,
                format!("closing the spool {dir} failed ({e}); every event in it was written"),
                Vec::new(),
            ));
        }
        self.update_spool_stats();
        self.end_adoption();
        self.remove_settled_folder();
    }

    /// A folder with nothing left to send goes with its logger, so that restarts do
    /// not leave one folder each behind.
    fn remove_settled_folder(&mut self) {
        let Some(spooling) = self.spooling.as_mut() else {
            return;
        };
        if !spooling.spool.as_ref().is_some_and(Spool::is_settled) {
            return;
        }
        let spool = spooling.spool.take().expect("checked above");
        let root = spooling.config.dir.clone();
        let dir = spooling.dir();
        if let Err(e) = instances::remove(spool.into_lock(), &root) {
            self.shared.report(DeliveryError::new(
                ErrorCode::Spool,
                format!("the spool {dir} is settled but cannot be removed ({e})"),
                Vec::new(),
            ));
        }
    }

    pub(super) fn ack(&mut self, settled: &[(Uuid, u32)]) {
        if settled.is_empty() {
            return;
        }
        if let Some(spool) = self.spool() {
            spool.ack(settled);
            let spooled = spool.spooled();
            self.shared.stats.spooled.store(spooled, Ordering::Relaxed);
        }
    }
}

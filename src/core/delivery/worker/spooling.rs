//! The loop's side of the disk spool: opening it, writing accepted events, reading
//! back what does not fit in memory, syncing on a timer, acknowledging settled events.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use uuid::Uuid;

use crate::core::delivery::deliver::RequestContext;
use crate::core::delivery::publisher::Publisher;
use crate::core::error::{DeliveryError, ErrorCode};
use crate::core::event::EncodedEvent;
use crate::core::options::SpoolConfig;
use crate::core::spool::record::SpooledEvent;
use crate::core::spool::{Spool, SpoolLock, DEFAULT_SEGMENT_BYTES};
use crate::core::telemetry::Stats;

use super::Worker;

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

    pub(super) fn spool(&mut self) -> Option<&mut Spool> {
        self.spooling.as_mut().and_then(|s| s.spool.as_mut())
    }

    pub(super) fn has_backlog(&self) -> bool {
        self.spooling
            .as_ref()
            .and_then(|s| s.spool.as_ref())
            .is_some_and(Spool::has_backlog)
    }

    /// A spool I/O error: the event stays in memory; the folder is likely full or gone.
    pub(super) fn spool_failed(&mut self, what: &str, e: std::io::Error) {
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

    /// Reads events waiting on disk into the window, oldest first.
    pub(super) fn refill(&mut self) {
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

    pub(super) fn unspool(&mut self, e: SpooledEvent) -> EncodedEvent {
        let fifo = e.topic_arn.ends_with(".fifo");
        let topic = self.topics.intern(&e.topic_arn, fifo).unwrap_or(0);
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
    }

    /// Writes buffered spool records to the file: at the end of every turn, and the
    /// spool tick makes a turn at least every `spoolSyncMs` while events arrive.
    pub(super) fn write_spool(&mut self) {
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
    pub(super) fn spool_tick_at(&self) -> Option<Instant> {
        let spooling = self.spooling.as_ref()?;
        spooling.spool.as_ref()?;
        let idle = self.pending.is_empty()
            && self.in_flight.tasks.is_empty()
            && self.shared.undispatched.load(Ordering::SeqCst) <= 0
            && !spooling.written_since_sync;
        (!idle).then(|| spooling.last_tick + spooling.config.sync_interval)
    }

    /// Makes what was written durable (off the loop) and refreshes the spool's stats.
    pub(super) fn spool_tick(&mut self) {
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

    pub(super) fn update_spool_stats(&self) {
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
    pub(super) async fn close_spool(&mut self) {
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

    pub(super) fn ack(&mut self, settled: &[(Uuid, u32)]) {
        if settled.is_empty() {
            return;
        }
        if let Some(spool) = self.spool() {
            spool.ack(settled);
            let live = spool.live_events();
            self.shared.stats.spooled.store(live, Ordering::Relaxed);
        }
    }
}

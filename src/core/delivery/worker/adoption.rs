//! Adopting the spool folders of loggers that are gone: another server instance that
//! was killed, scaled down or rolled out, on a volume this one shares. Every
//! [`SCAN_INTERVAL`] the loop looks for folders whose lock is free
//! ([`instances::orphans`]); it takes one at a time, reads its unsettled events in
//! chunks, and takes them in as its own: into its own spool first, then sent like any
//! other event, with their original ids (their SNS deduplication ids).
//!
//! Exactly once: an event is acknowledged in the adopted folder only once this
//! logger's spool has it on disk and synced (or has settled it), and the folder is
//! removed only when all of its events are. A crash between the two leaves the event
//! in both folders; the next logger then sends it twice with one id, which FIFO
//! topics deduplicate (within SNS's five minutes) and consumers can.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::core::delivery::publisher::Publisher;
use crate::core::error::{DeliveryError, ErrorCode};
use crate::core::spool::{instances, Spool, DEFAULT_SEGMENT_BYTES};
use crate::core::telemetry::Stats;

use super::Worker;

/// How often a running logger looks for folders of loggers that are gone.
#[cfg(not(test))]
pub(super) const SCAN_INTERVAL: Duration = Duration::from_secs(10);
#[cfg(test)]
pub(super) const SCAN_INTERVAL: Duration = Duration::from_millis(50);
/// Events taken in per turn of the loop, so that an adoption never stalls it.
const CHUNK_EVENTS: usize = 1_000;
const CHUNK_BYTES: u64 = 4 << 20;
/// The pause between two chunks.
const CHUNK_PAUSE: Duration = Duration::from_millis(10);

/// A folder being adopted.
pub(super) struct Adoption {
    spool: Spool,
    dir: PathBuf,
    /// Taken in, not yet acknowledged in the adopted folder.
    taken: Vec<(Uuid, u32)>,
    /// A segment could not be read: the folder is kept for a person to look at.
    unreadable: bool,
}

impl<P: Publisher> Worker<P> {
    /// When the loop must next turn for adoption's sake.
    pub(super) fn adopt_at(&self) -> Option<Instant> {
        let spooling = self.spooling.as_ref()?;
        spooling.spool.as_ref()?;
        if self.lifecycle.closing.is_some() {
            return None;
        }
        Some(match &spooling.adoption {
            Some(_) => spooling.next_adoption_step,
            None => spooling.next_scan,
        })
    }

    /// One step of adoption: find a folder, take a chunk in, or finish one.
    pub(super) fn adopt(&mut self, now: Instant) {
        let Some(spooling) = self.spooling.as_mut() else {
            return;
        };
        if spooling.spool.is_none() || self.lifecycle.closing.is_some() {
            return;
        }
        if spooling.adoption.is_none() {
            if now < spooling.next_scan {
                return;
            }
            spooling.next_scan = now + SCAN_INTERVAL;
            self.find_orphan();
        }
        let Some(spooling) = self.spooling.as_mut() else {
            return;
        };
        if now < spooling.next_adoption_step {
            return;
        }
        spooling.next_adoption_step = now + CHUNK_PAUSE;
        // Writes fail here: what is taken in could not be made durable.
        if spooling.failing.is_some() {
            return;
        }
        let Some(mut adoption) = spooling.adoption.take() else {
            return;
        };
        if !self.acknowledge_taken(&mut adoption) {
            self.spooling.as_mut().expect("checked above").adoption = Some(adoption);
            return;
        }
        if adoption.spool.has_backlog() {
            self.take_in(&mut adoption, now);
            self.spooling.as_mut().expect("checked above").adoption = Some(adoption);
            return;
        }
        self.finish_adoption(adoption);
    }

    /// Locks the oldest folder whose logger is gone and opens it; empty ones are
    /// removed on the way.
    fn find_orphan(&mut self) {
        let Some(spooling) = self.spooling.as_mut() else {
            return;
        };
        let Some(own) = spooling.spool.as_ref().map(|s| s.dir().to_path_buf()) else {
            return;
        };
        let root = spooling.config.dir.clone();
        let mut refused = Vec::new();
        let orphans: Vec<_> = instances::orphans_with(&root, Some(&own), |dir, e| {
            refused.push((dir.to_path_buf(), e))
        })
        .collect();
        self.report_refused_folders(refused);
        for lock in orphans {
            let dir = lock.dir().to_path_buf();
            match Spool::open(lock, DEFAULT_SEGMENT_BYTES) {
                Ok((spool, recovered)) => {
                    Stats::add(
                        &self.shared.stats.corrupt_records,
                        recovered.corrupt_records as usize,
                    );
                    let mut adoption = Adoption {
                        spool,
                        dir,
                        taken: Vec::new(),
                        unreadable: false,
                    };
                    self.report_adopted_damage(&mut adoption);
                    if recovered.events == 0 {
                        self.finish_adoption(adoption);
                        continue;
                    }
                    let spooling = self.spooling.as_mut().expect("checked above");
                    spooling.adoption = Some(adoption);
                    return;
                }
                Err(e) => self.shared.report(DeliveryError::new(
                    ErrorCode::Spool,
                    format!(
                        "the spool folder {} of a logger that is gone cannot be read ({e}); it \
                         is left as it is, and tried again later",
                        dir.display()
                    ),
                    Vec::new(),
                )),
            }
        }
    }

    /// Folders that look like another logger's but fail their check (others may write
    /// them, their lock is a link): never adopted, reported once each.
    fn report_refused_folders(&mut self, refused: Vec<(PathBuf, std::io::Error)>) {
        let Some(spooling) = self.spooling.as_mut() else {
            return;
        };
        for (dir, e) in refused {
            if spooling.refused_folders.insert(dir.clone()) {
                self.shared.report(DeliveryError::new(
                    ErrorCode::Spool,
                    format!(
                        "the spool folder {} is not adopted: {e}; whatever it holds stays there \
                         for a person to look at",
                        dir.display()
                    ),
                    Vec::new(),
                ));
            }
        }
    }

    /// Damage found in the adopted folder, once per segment, as for its own spool.
    fn report_adopted_damage(&self, adoption: &mut Adoption) {
        let dir = adoption.dir.display().to_string();
        for damage in adoption.spool.take_damage() {
            let message = match damage.unreadable {
                Some(why) => {
                    adoption.unreadable = true;
                    format!(
                        "the adopted spool folder {dir}: segment {} cannot be read ({why}); the \
                         folder is left as it is, and that segment's events are not replayed",
                        damage.segment
                    )
                }
                None => format!(
                    "the adopted spool folder {dir}: segment {} had {} damaged or torn \
                     stretches, skipped; its intact records are delivered",
                    damage.segment, damage.stretches
                ),
            };
            self.shared
                .report(DeliveryError::new(ErrorCode::Spool, message, Vec::new()));
        }
    }

    /// Takes a chunk of the adopted folder's events in, as if logged now, while this
    /// logger's limits have room for them.
    fn take_in(&mut self, adoption: &mut Adoption, now: Instant) {
        let room = self.shared.ledger.room(self.settings.limits);
        if room.events == 0 || room.bytes == 0 {
            return;
        }
        let read = match adoption.spool.read_backlog(
            CHUNK_EVENTS.min(room.events as usize),
            CHUNK_BYTES.min(room.bytes),
        ) {
            Ok(read) => read,
            Err(e) => {
                return self.shared.report(DeliveryError::new(
                    ErrorCode::Spool,
                    format!(
                        "reading the adopted spool folder {} failed ({e}); it is tried again",
                        adoption.dir.display()
                    ),
                    Vec::new(),
                ))
            }
        };
        for (spooled, segment) in read {
            let mut event = self.unspool(spooled);
            self.reroute_read(&mut event);
            // Accepted by the logger that is gone: they enter this one's account here.
            self.shared
                .ledger
                .recover(event.source(), 1, event.queued_bytes() as u64);
            self.shared.undispatched.fetch_add(1, Ordering::AcqRel);
            adoption.taken.push((event.id, segment));
            self.take_event(event, now);
        }
    }

    /// Acknowledges in the adopted folder what this logger's spool now has on disk,
    /// synced; false while it cannot be made durable yet.
    fn acknowledge_taken(&mut self, adoption: &mut Adoption) -> bool {
        if adoption.taken.is_empty() {
            return true;
        }
        let Some(spool) = self.spool() else {
            return false;
        };
        if spool.flush().is_err() || spool.has_unwritten() {
            return false;
        }
        if let Some((_, job)) = spool.sync_job() {
            if job.run().is_err() {
                return false;
            }
        }
        adoption.spool.ack(&adoption.taken);
        adoption.taken.clear();
        // An ack lost here only means the next logger sends these again, with their ids.
        let _ = adoption.spool.flush();
        true
    }

    /// Everything taken in and acknowledged: the folder goes.
    fn finish_adoption(&mut self, mut adoption: Adoption) {
        let _ = adoption.spool.close();
        let Some(spooling) = self.spooling.as_mut() else {
            return;
        };
        let root = spooling.config.dir.clone();
        let dir = adoption.dir.clone();
        if adoption.unreadable || !adoption.spool.is_settled() {
            // Kept locked, so that it is not adopted (and reported) again and again.
            spooling.kept.push(adoption.spool.into_lock());
            return;
        }
        {
            if let Err(e) = instances::remove(adoption.spool.into_lock(), &root) {
                self.shared.report(DeliveryError::new(
                    ErrorCode::Spool,
                    format!(
                        "the adopted spool folder {} is settled but cannot be removed ({e}); \
                         it holds nothing to send",
                        dir.display()
                    ),
                    Vec::new(),
                ));
            }
        }
    }

    /// At close: what was taken in is on disk here now, so it is acknowledged there,
    /// and the rest of the folder is left for another logger.
    pub(super) fn end_adoption(&mut self) {
        let Some(mut adoption) = self.spooling.as_mut().and_then(|s| s.adoption.take()) else {
            return;
        };
        if adoption.taken.is_empty() || self.acknowledge_taken(&mut adoption) {
            let _ = adoption.spool.close();
        }
    }
}

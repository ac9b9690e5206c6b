//! Lanes of the limits, one per source: the server's own events, the Livechat widget's,
//! and each Rocket.Chat App's. An event is counted in its lane from `log()` until it is
//! settled, wherever it waits (memory or spool), beside the logger-wide counters of
//! `stats.rs`. The widget and the Apps have caps, shares of the logger's limits
//! (`LaneCaps`); a lane at its cap drops its own events, so a flood from an anonymous
//! visitor or a third-party App never takes the room the server's events need. The
//! server's lane has no cap of its own: it has what the others cannot take.
//!
//! The model is Kafka's quotas, which isolate tenants of one shared broker by client
//! id, and Vector's per-source buffers: each source is bounded on its own, and what
//! one source does shows in its own counters. One queue with per-source counters keeps
//! the delivery order and the batching as they are (a batch still mixes sources), where
//! a queue per source would have to be merged again, fairly, on the way out.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use crate::core::event::{Source, SourceKey};

/// Most Apps given a lane of their own; the events of any past it count in the Apps'
/// common lane only. Apps are installed by an administrator, so this is far above any
/// real server, and it bounds what made-up App ids could cost.
const MAX_APP_LANES: usize = 1_000;

/// One lane's counters.
#[derive(Debug, Default)]
struct LaneCounters {
    /// Events `log()` accepted into the lane, dropped ones included.
    logged: AtomicU64,
    delivered: AtomicU64,
    /// Dropped: the lane, or the whole queue, was full.
    dropped: AtomicU64,
    /// Refused before the queue: the widget's caps per visitor and room, an App's
    /// rate limit or byte budget. Not logged, so in no other counter.
    refused: AtomicU64,
    /// Events in the lane not yet settled, wherever they wait, and their bytes
    /// (`heldEvents`/`heldBytes` in `stats().sources`).
    unsettled_events: AtomicU64,
    unsettled_bytes: AtomicU64,
}

impl LaneCounters {
    fn snapshot(&self) -> LaneSnapshot {
        LaneSnapshot {
            logged: self.logged.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            refused: self.refused.load(Relaxed),
            unsettled_events: self.unsettled_events.load(Relaxed),
            unsettled_bytes: self.unsettled_bytes.load(Relaxed),
        }
    }

    fn hold(&self, events: u64, bytes: u64) -> (u64, u64) {
        (
            self.unsettled_events.fetch_add(events, Relaxed) + events,
            self.unsettled_bytes.fetch_add(bytes, Relaxed) + bytes,
        )
    }

    fn release(&self, events: u64, bytes: u64) {
        for (counter, n) in [
            (&self.unsettled_bytes, bytes),
            (&self.unsettled_events, events),
        ] {
            let before = counter
                .fetch_update(Relaxed, Relaxed, |v| Some(v.saturating_sub(n)))
                .unwrap_or_else(|v| v);
            debug_assert!(before >= n, "a lane counter would go below zero");
        }
    }
}

/// A lane's counters, as `stats()` and the metrics show them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LaneSnapshot {
    pub logged: u64,
    pub delivered: u64,
    pub dropped: u64,
    pub refused: u64,
    pub unsettled_events: u64,
    pub unsettled_bytes: u64,
}

/// Every lane's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourcesSnapshot {
    pub server: LaneSnapshot,
    pub widget: LaneSnapshot,
    /// Every App together.
    pub apps: LaneSnapshot,
    /// Each App with a lane of its own, by App id, sorted.
    pub app: Vec<(String, LaneSnapshot)>,
}

/// A cap: events and bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cap {
    pub events: u64,
    pub bytes: u64,
}

/// The caps of the lanes that have one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaneCaps {
    pub widget: Cap,
    /// Each App's.
    pub app: Cap,
    /// Every App's together.
    pub apps: Cap,
}

/// Which lane was full, for the report and the error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FullLane {
    Widget(Cap),
    App(String, Cap),
    Apps(Cap),
}

impl FullLane {
    /// The lane, in the words of a report.
    pub fn describe(&self) -> String {
        let (lane, share, cap) = match self {
            FullLane::Widget(cap) => (
                "the Livechat widget's lane".to_owned(),
                "widgetSharePercent",
                cap,
            ),
            FullLane::App(app, cap) => (format!("App {app}'s lane"), "appSharePercent", cap),
            FullLane::Apps(cap) => ("the Apps' common lane".to_owned(), "appsSharePercent", cap),
        };
        let events = match cap.events {
            u64::MAX => String::new(),
            n => format!("{n} events or "),
        };
        format!("{lane} is full ({events}{} bytes: {share})", cap.bytes)
    }
}

/// The lanes of one logger.
#[derive(Debug, Default)]
pub(super) struct SourceLanes {
    server: LaneCounters,
    widget: LaneCounters,
    apps: LaneCounters,
    app: Mutex<HashMap<Box<str>, Arc<LaneCounters>>>,
}

impl SourceLanes {
    /// An App's own lane (made on its first event), if it has or can have one.
    fn app_lane(&self, app: &str) -> Option<Arc<LaneCounters>> {
        let mut lanes = self.app.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(lane) = lanes.get(app) {
            return Some(lane.clone());
        }
        if lanes.len() >= MAX_APP_LANES {
            return None;
        }
        let lane = Arc::new(LaneCounters::default());
        lanes.insert(app.into(), lane.clone());
        Some(lane)
    }

    /// The App's lane if it has one already; never makes one (a release or a
    /// settlement of an App whose lane was never made counts in the common lane only).
    fn existing_app_lane(&self, app: &str) -> Option<Arc<LaneCounters>> {
        let lanes = self.app.lock().unwrap_or_else(|p| p.into_inner());
        lanes.get(app).cloned()
    }

    /// Counts a logged event of `bytes` into its lane, within `caps`: the lane at its
    /// cap refuses it (and counts it dropped), and nothing stays counted.
    pub(super) fn admit(
        &self,
        source: Source<'_>,
        bytes: u64,
        caps: &LaneCaps,
    ) -> Result<(), FullLane> {
        let over = |(events, unsettled_bytes): (u64, u64), cap: &Cap| {
            events > cap.events || unsettled_bytes > cap.bytes
        };
        match source {
            Source::Server => {
                Self::add(&self.server.logged, 1);
                self.server.hold(1, bytes);
                Ok(())
            }
            Source::Widget => {
                Self::add(&self.widget.logged, 1);
                if over(self.widget.hold(1, bytes), &caps.widget) {
                    self.widget.release(1, bytes);
                    Self::add(&self.widget.dropped, 1);
                    return Err(FullLane::Widget(caps.widget));
                }
                Ok(())
            }
            Source::App(app) => {
                let own = self.app_lane(app);
                Self::add(&self.apps.logged, 1);
                if let Some(own) = &own {
                    Self::add(&own.logged, 1);
                }
                let full = match &own {
                    Some(own) if over(own.hold(1, bytes), &caps.app) => {
                        own.release(1, bytes);
                        Some(FullLane::App(app.to_owned(), caps.app))
                    }
                    _ => None,
                };
                let full = full.or_else(|| {
                    over(self.apps.hold(1, bytes), &caps.apps).then(|| {
                        self.apps.release(1, bytes);
                        if let Some(own) = &own {
                            own.release(1, bytes);
                        }
                        FullLane::Apps(caps.apps)
                    })
                });
                match full {
                    Some(full) => {
                        Self::add(&self.apps.dropped, 1);
                        if let Some(own) = &own {
                            Self::add(&own.dropped, 1);
                        }
                        Err(full)
                    }
                    None => Ok(()),
                }
            }
        }
    }

    /// Counts events taken in already accepted elsewhere (recovered from a spool,
    /// adopted from another logger's folder): held in their lane, never refused.
    pub(super) fn hold(&self, source: Source<'_>, events: u64, bytes: u64) {
        if let Source::App(app) = source {
            // Made here if new, so that the App's settlements find it.
            self.app_lane(app);
        }
        self.each(source, |lane| {
            lane.hold(events, bytes);
        });
    }

    /// Events leave the lane: settled, dropped, or never accepted after all.
    pub(super) fn release(&self, source: Source<'_>, events: u64, bytes: u64) {
        self.each(source, |lane| lane.release(events, bytes));
    }

    /// `admit`'s count of `logged` undone: the event was not accepted after all.
    pub(super) fn unlog(&self, source: Source<'_>) {
        self.each(source, |lane| {
            lane.logged.fetch_sub(1, Relaxed);
        });
    }

    pub(super) fn refused(&self, source: Source<'_>) {
        if let Source::App(app) = source {
            self.app_lane(app);
        }
        self.each(source, |lane| Self::add(&lane.refused, 1));
    }

    pub(super) fn delivered(&self, source: Source<'_>, n: u64) {
        self.each(source, |lane| Self::add(&lane.delivered, n));
    }

    /// Dropped after `admit` let it in: the whole queue was full.
    pub(super) fn dropped(&self, source: Source<'_>, n: u64) {
        self.each(source, |lane| Self::add(&lane.dropped, n));
    }

    fn each(&self, source: Source<'_>, f: impl Fn(&LaneCounters)) {
        match source {
            Source::Server => f(&self.server),
            Source::Widget => f(&self.widget),
            Source::App(app) => {
                f(&self.apps);
                if let Some(own) = self.existing_app_lane(app) {
                    f(&own);
                }
            }
        }
    }

    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub(super) fn snapshot(&self) -> SourcesSnapshot {
        let mut app: Vec<(String, LaneSnapshot)> = {
            let lanes = self.app.lock().unwrap_or_else(|p| p.into_inner());
            lanes
                .iter()
                .map(|(id, lane)| (id.to_string(), lane.snapshot()))
                .collect()
        };
        app.sort_by(|a, b| a.0.cmp(&b.0));
        SourcesSnapshot {
            server: self.server.snapshot(),
            widget: self.widget.snapshot(),
            apps: self.apps.snapshot(),
            app,
        }
    }
}

/// Sums events and bytes by lane, for sites that settle several events at once.
pub fn tally<'a>(
    events: impl IntoIterator<Item = (Source<'a>, u64)>,
) -> Vec<(SourceKey, u64, u64)> {
    let mut out: Vec<(SourceKey, u64, u64)> = Vec::new();
    for (source, bytes) in events {
        match out.iter_mut().find(|(k, _, _)| k.as_source() == source) {
            Some((_, n, b)) => {
                *n += 1;
                *b += bytes;
            }
            None => out.push((source.to_key(), 1, bytes)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPS: LaneCaps = LaneCaps {
        widget: Cap {
            events: 3,
            bytes: 1_000,
        },
        app: Cap {
            events: 2,
            bytes: 1_000,
        },
        apps: Cap {
            events: 3,
            bytes: 1_000,
        },
    };

    #[test]
    fn a_full_lane_refuses_its_own_events_only() {
        let lanes = SourceLanes::default();
        for _ in 0..3 {
            lanes.admit(Source::Widget, 10, &CAPS).unwrap();
        }
        assert_eq!(
            lanes.admit(Source::Widget, 10, &CAPS),
            Err(FullLane::Widget(CAPS.widget))
        );
        for _ in 0..100 {
            lanes.admit(Source::Server, 10, &CAPS).unwrap();
        }
        let s = lanes.snapshot();
        assert_eq!(
            (s.widget.logged, s.widget.dropped, s.widget.unsettled_events),
            (4, 1, 3)
        );
        assert_eq!((s.server.logged, s.server.unsettled_events), (100, 100));
        lanes.release(Source::Widget, 1, 10);
        lanes.admit(Source::Widget, 10, &CAPS).unwrap();
    }

    #[test]
    fn each_app_has_a_cap_and_the_apps_one_together() {
        let lanes = SourceLanes::default();
        lanes.admit(Source::App("a"), 10, &CAPS).unwrap();
        lanes.admit(Source::App("a"), 10, &CAPS).unwrap();
        assert!(matches!(
            lanes.admit(Source::App("a"), 10, &CAPS),
            Err(FullLane::App(..))
        ));
        lanes.admit(Source::App("b"), 10, &CAPS).unwrap();
        assert_eq!(
            lanes.admit(Source::App("c"), 10, &CAPS),
            Err(FullLane::Apps(CAPS.apps))
        );
        let s = lanes.snapshot();
        assert_eq!(
            (s.apps.logged, s.apps.dropped, s.apps.unsettled_events),
            (5, 2, 3)
        );
        let c = &s.app.iter().find(|(id, _)| id == "c").unwrap().1;
        assert_eq!(
            (c.logged, c.dropped, c.unsettled_events),
            (1, 1, 0),
            "nothing left counted"
        );
    }

    #[test]
    fn bytes_are_capped_too() {
        let lanes = SourceLanes::default();
        lanes.admit(Source::Widget, 600, &CAPS).unwrap();
        assert!(lanes.admit(Source::Widget, 600, &CAPS).is_err());
        assert_eq!(lanes.snapshot().widget.unsettled_bytes, 600);
    }

    #[test]
    fn made_up_app_ids_cannot_grow_memory() {
        let lanes = SourceLanes::default();
        let caps = LaneCaps {
            apps: Cap {
                events: u64::MAX,
                bytes: u64::MAX,
            },
            ..CAPS
        };
        for i in 0..MAX_APP_LANES + 10 {
            lanes
                .admit(Source::App(&format!("app-{i}")), 1, &caps)
                .unwrap();
        }
        let s = lanes.snapshot();
        assert_eq!(s.app.len(), MAX_APP_LANES);
        assert_eq!(s.apps.unsettled_events, (MAX_APP_LANES + 10) as u64);
        for i in 0..MAX_APP_LANES + 10 {
            lanes.release(Source::App(&format!("app-{i}")), 1, 1);
        }
        assert_eq!(
            lanes.snapshot().apps.unsettled_events,
            0,
            "releases balance"
        );
    }

    #[test]
    fn tally_sums_by_lane() {
        let t = tally([
            (Source::Server, 5),
            (Source::App("a"), 7),
            (Source::Server, 1),
        ]);
        assert_eq!(
            t,
            vec![
                (SourceKey::Server, 2, 6),
                (SourceKey::App("a".into()), 1, 7)
            ]
        );
    }
}

//! The parts of the loop's state that are not a stage of their own: its share of the
//! options, the memory window, the topics it routes to, and where it stands between
//! start and close.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::core::delivery::shared::ReportFn;
use crate::core::encode::{EncoderConfig, MessageGroup, Topic, TopicTable};
use crate::core::options::{LoggerConfig, Overflow};
use crate::core::telemetry::Limits;

/// The loop's share of the options; `reconfigure()` replaces it whole.
pub(super) struct Settings {
    pub max_batch_size: usize,
    pub flush_interval: Duration,
    /// Batches in flight at once. Each FIFO message group also has at most one (see
    /// `Lanes`), so that its messages reach the topic in log() order.
    pub max_in_flight: usize,
    /// More than one lane may exist (several topics, or a group per room): a busy
    /// lane does not mean new events would wait.
    pub many_lanes: bool,
    /// The memory queue's limits; with a spool, the window of events kept in memory.
    pub memory: Limits,
    /// What may be unsettled before `overflow` applies ([`LoggerConfig::limits`]).
    pub limits: Limits,
    pub overflow: Overflow,
    pub shutdown_timeout: Duration,
}

impl Settings {
    pub fn new(config: &LoggerConfig, spool_working: bool) -> Self {
        Settings {
            max_batch_size: config.max_batch_size,
            flush_interval: config.flush_interval,
            max_in_flight: config.max_concurrent_batches,
            many_lanes: config.encoder.message_group == MessageGroup::Room,
            memory: config.memory_limits(),
            limits: config.limits(spool_working),
            overflow: config.overflow,
            shutdown_timeout: config.shutdown_timeout,
        }
    }
}

/// Events in memory (pending and in flight), against `Settings::memory`; with a
/// spool, the rest wait on disk.
#[derive(Default)]
pub(super) struct Window {
    pub events: u64,
    pub bytes: u64,
}

impl Window {
    pub fn add(&mut self, events: u64, bytes: u64) {
        self.events += events;
        self.bytes += bytes;
    }

    pub fn remove(&mut self, events: u64, bytes: u64) {
        self.events -= events;
        self.bytes -= bytes;
    }
}

/// The topics the loop sends to, and how it routes events again.
pub(super) struct Routes {
    pub topics: Arc<TopicTable>,
    /// The loop's copy of `topics`, refreshed when it meets an index it lacks.
    pub topic_cache: Vec<Topic>,
    /// The current options' routing, to route held events again.
    pub routing: EncoderConfig,
    /// Topics the options stopped naming while paused: events read back from the
    /// spool for them are routed again.
    pub retired: Vec<u16>,
    /// Topics only spool records named when they were read back (not this logger's):
    /// their batches are dead-lettered, never published, while no option names them.
    pub foreign_topics: HashSet<u16>,
}

impl Routes {
    pub fn new(routing: EncoderConfig) -> Self {
        let topics = routing.router.table().clone();
        Routes {
            topic_cache: topics.snapshot(),
            topics,
            routing,
            retired: Vec::new(),
            foreign_topics: HashSet::new(),
        }
    }
}

/// Where the loop stands between start and close, and who waits for it.
#[derive(Default)]
pub(super) struct Lifecycle {
    /// `flush()` calls waiting for every event below their sequence number.
    pub flush_waiters: Vec<(u64, ReportFn)>,
    pub close_waiters: Vec<ReportFn>,
    /// The close deadline, once a `close()` came.
    pub closing: Option<Instant>,
    /// The close deadline has passed: what is left stays in the spool.
    pub deadline_passed: bool,
    /// Send partial batches now, up to this sequence number (exclusive).
    pub force_below: u64,
    /// `log()` has dropped its sender: the logger object is gone.
    pub orphaned: bool,
}

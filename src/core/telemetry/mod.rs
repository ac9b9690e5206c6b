//! What the logger tells about itself: its counters (`stats.rs`), read without
//! waiting for the background, and the Prometheus text of them (`metrics.rs`).

mod metrics;
mod sources;
mod stats;

pub use metrics::{
    definitions, families, render, AppResult, Counters, Family, LabelledCounters, MetricKind,
    MetricsInput, Sample, PREFIX,
};
pub use sources::{tally, Cap, FullLane, LaneCaps, LaneSnapshot, SourceLanes, SourcesSnapshot};
pub use stats::{PausedDestination, Stats, StatsSnapshot};

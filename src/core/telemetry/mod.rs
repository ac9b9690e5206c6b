//! What the logger tells about itself: the account of its events (`ledger.rs`), by
//! source too (`sources.rs`), its other counters (`stats.rs`), all read without
//! waiting for the background, and the Prometheus text of them (`metrics.rs`).

mod ledger;
mod metrics;
mod sources;
mod stats;

pub use ledger::{Ledger, Limits, Settled, Turnaway};
pub use metrics::{
    definitions, families, render, AppResult, Counters, Family, LabelledCounters, MetricKind,
    MetricsInput, Sample, PREFIX,
};
pub use sources::{tally, Cap, FullLane, LaneCaps, LaneSnapshot, SourcesSnapshot};
pub use stats::{PausedDestination, Stats, StatsSnapshot};

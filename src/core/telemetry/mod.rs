//! What the logger tells about itself: its counters (`stats.rs`), read without
//! waiting for the background, and the Prometheus text of them (`metrics.rs`).

mod metrics;
mod stats;

pub use metrics::{render, AppResult, Counters, LabelledCounters};
pub use stats::{PausedDestination, Stats, StatsSnapshot};

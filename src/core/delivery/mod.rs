//! Delivery: the logger handle the binding holds (`logger.rs`), the state it shares
//! with its delivery loop (`shared.rs`), the loop itself (`worker/`), which cuts
//! the queue into batches (`lanes.rs`, `batch.rs`) and sends each
//! through a `Publisher` (`publisher.rs`, `deliver.rs`, `answer.rs`, `batch_run.rs`)
//! with retries (`next_step.rs`, `retry.rs`),
//! holds the events of destinations SNS refused as a whole until a probe passes
//! (`pause.rs`), on the shared runtime (`runtime.rs`). Entries SNS refuses for their
//! own sake are kept (`refusals.rs`), and replayed from the dead-letter store through
//! a logger (`replay.rs`).
//! Repeated failures are merged into one report per interval (`report_throttle.rs`),
//! and `debug` writes a line per batch (`debug_log.rs`).

mod answer;
mod batch;
mod batch_run;
mod debug_log;
mod deliver;
mod lanes;
mod logger;
mod next_step;
mod pause;
mod publisher;
mod refusals;
mod replay;
mod report_throttle;
mod retry;
mod runtime;
mod shared;
mod worker;

pub use logger::{close_all_blocking, DrainHandle, Logger, WidgetLogError};
pub use publisher::{
    BatchRequest, BatchResponse, EntryFailure, FaultKind, PublishError, Publisher,
};
pub use replay::{replay_dead_letters, RefusedAgain, ReplayError, ReplayReport};
pub use shared::{DeliveryReport, ErrorSink, ReportFn};

#[cfg(test)]
mod tests;

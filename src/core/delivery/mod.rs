//! Delivery: the logger handle the binding holds (`logger.rs`), the state it shares
//! with its delivery loop (`shared.rs`), the loop itself (`worker.rs`), which cuts
//! the queue into batches (`lanes.rs` on `block_queue.rs`, `batch.rs`) and sends each through a
//! `Publisher` (`publisher.rs`, `deliver.rs`) with retries (`retry.rs`), on the shared
//! runtime (`runtime.rs`); the events' text buffers go back to `log()` through
//! `text_pool.rs`.

mod batch;
mod block_queue;
mod deliver;
mod lanes;
mod logger;
mod publisher;
mod retry;
mod runtime;
mod shared;
mod text_pool;
mod worker;

pub use logger::{close_all_blocking, DrainHandle, Logger, WidgetLogError};
pub use publisher::{
    BatchRequest, BatchResponse, EntryFailure, FaultKind, PublishError, Publisher,
};
pub use shared::{DeliveryReport, ErrorSink, ReportFn};

#[cfg(test)]
mod tests;

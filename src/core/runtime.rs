//! The Tokio runtime that runs every logger's delivery loop.
//!
//! It is ours, not napi-rs's: napi-rs shuts its runtime down without waiting for
//! tasks, while we must be able to finish delivering from the host's `exit` hook.
//! Its threads hold no libuv handle, so they never keep Node alive.

use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle, Runtime};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The shared runtime, started on first use (the first logger's construction does no
/// more than spawn its threads).
pub fn handle() -> Handle {
    RUNTIME
        .get_or_init(|| {
            Builder::new_multi_thread()
                // One worker: the JavaScript thread owns one core of a small server,
                // and a second worker only competed with it. Measured on 2 cores
                // (5 alternating runs, medians): one worker gave log() p99 5.5 µs
                // against 13.9 µs, and 87k events/s against 90k: three times the
                // 30,000 messages/s SNS takes per region. Blocking file work (the
                // spool's open and fsync) runs on Tokio's blocking threads.
                .worker_threads(1)
                .thread_name("rc-sns-analytics")
                .enable_all()
                .build()
                .expect("cannot start the rocketchat-sns-analytics Tokio runtime")
        })
        .handle()
        .clone()
}

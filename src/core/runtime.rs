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
                // The JavaScript thread owns one core of a small server; the
                // publisher's work (JSON, SigV4, TLS, HTTP) fits in two workers.
                .worker_threads(2)
                .thread_name("rc-sns-analytics")
                .enable_all()
                .build()
                .expect("cannot start the rocketchat-sns-analytics Tokio runtime")
        })
        .handle()
        .clone()
}

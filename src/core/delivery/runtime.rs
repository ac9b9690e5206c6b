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
                // and a second worker only competed with it, for a throughput far
                // above what SNS takes per region (docs/performance.md, "Why the
                // design is as it is"). Blocking file work (the spool's open and
                // fsync) runs on Tokio's blocking threads.
                .worker_threads(1)
                .thread_name("rc-sns-analytics")
                .on_thread_start(yield_to_javascript)
                .enable_all()
                .build()
                .expect("cannot start the rocketchat-sns-analytics Tokio runtime")
        })
        .handle()
        .clone()
}

/// How far below the JavaScript thread the runtime's threads run (nice steps), so that
/// when they compete for a core the kernel runs JavaScript first. A thread 10 steps
/// down still gets about a tenth of a core against a busy one (CFS weights 110 to
/// 1024), so delivery slows on a saturated machine but never stops (the figures are in
/// docs/performance.md, "Why the design is as it is").
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub const THREAD_NICE_STEPS: i32 = 10;

/// Lowers the calling thread's priority by [`THREAD_NICE_STEPS`] from the one it
/// inherited. Linux only: there nice is per thread; elsewhere it would be the whole
/// process's.
fn yield_to_javascript() {
    #[cfg(target_os = "linux")]
    // SAFETY: nice() takes no pointers. On Linux it changes the calling thread only.
    // A failure leaves the thread at its inherited priority, which is only slower.
    unsafe {
        libc::nice(THREAD_NICE_STEPS);
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn own_nice() -> i32 {
        // SAFETY: no pointers; who = 0 is the calling thread on Linux.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
    }

    #[test]
    fn runtime_threads_run_below_their_creator() {
        let creator = own_nice();
        let worker = handle().block_on(async { tokio::spawn(async { own_nice() }).await.unwrap() });
        assert_eq!(worker, (creator + THREAD_NICE_STEPS).min(19));
        // The caller's own priority is untouched.
        assert_eq!(own_nice(), creator);
    }
}

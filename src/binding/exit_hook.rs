//! Delivering what is left when the host process ends.
//!
//! When Node exits (the script ends, `process.exit()`, an exit from an
//! `uncaughtException` handler) its event loop never runs again, and an unflushed
//! logger would lose its queue. One `process.on('exit')` listener per JavaScript
//! thread closes every logger of that thread and blocks, bounded by their
//! `shutdownTimeoutMs` (or the deadline of a `close()` already under way, if later),
//! while the background runtime delivers.

use std::cell::RefCell;
use std::time::Instant;

use super::napi_raw;
use napi::bindgen_prelude::JsObjectValue;
use napi::{Env, JsValue, Result};

use crate::core::delivery::{close_all_blocking, DrainHandle};

thread_local! {
    /// Loggers created on this JavaScript thread. `None` until the listener is
    /// installed.
    static LOGGERS: RefCell<Option<Vec<DrainHandle>>> = const { RefCell::new(None) };
}

/// Remembers a new logger, installing the `exit` listener on first use.
pub fn register(env: &Env, handle: DrainHandle) -> Result<()> {
    let installed = LOGGERS.with(|l| l.borrow().is_some());
    if !installed {
        install(env)?;
        LOGGERS.with(|l| *l.borrow_mut() = Some(Vec::new()));
    }
    LOGGERS.with(|l| {
        if let Some(list) = l.borrow_mut().as_mut() {
            list.retain(DrainHandle::is_alive);
            list.push(handle);
        }
    });
    Ok(())
}

fn install(env: &Env) -> Result<()> {
    let listener =
        env.create_function_from_closure::<(), (), _>("drainAnalyticsLoggers", |_ctx| {
            drain_all();
            Ok(())
        })?;
    let process = env
        .get_global()?
        .get_named_property::<napi::bindgen_prelude::Object>("process")?;
    let on = process.get_named_property::<napi::bindgen_prelude::Unknown>("on")?;
    let event = env.create_string("exit")?.to_unknown();
    let listener = listener.to_unknown();
    let installed = napi_raw::call_method(env, Some(&process), &on, &[&event, &listener]);
    if installed.is_err() {
        napi_raw::take_exception(env);
        return Err(napi::Error::new(
            napi::Status::GenericFailure,
            "cannot install the process 'exit' listener that delivers queued analytics events",
        ));
    }
    Ok(())
}

fn drain_all() {
    let loggers = LOGGERS.with(|l| {
        l.borrow_mut()
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    });
    let live: Vec<DrainHandle> = loggers.into_iter().filter(DrainHandle::is_alive).collect();
    if live.is_empty() {
        return;
    }
    // Read now: reconfigure() may have changed them. A close() already under way (a
    // SIGTERM handler's, with its grace period) keeps its own deadline: a host that
    // calls process.exit() on SIGTERM, as Rocket.Chat's broker does, does not cut
    // it short.
    let now = Instant::now();
    let deadline = live
        .iter()
        .map(|h| (now + h.shutdown_timeout()).max(h.close_deadline().unwrap_or(now)))
        .max()
        .unwrap_or(now);
    close_all_blocking(&live, deadline);
}

//! The fast path of `log()`: index.js's `AnalyticsLogger` (a subclass of the binding's
//! class) runs the event serializer (`event_json.rs`: a check, then `JSON.stringify`)
//! in JavaScript and hands the text and the logger's slot to the function
//! `__logJsonFunction()` returns (a plain N-API function, see
//! `napi_raw::native_function`), or a refusal to `__rejectEvent`.
//!
//! Both halves of a napi-rs method path cost more than the work they wrap: napi-rs
//! unwraps `this` and opens a borrow scope on every method call, and `JSON.stringify`
//! called from Rust through `napi_call_function` copies its text out
//! (docs/performance.md, "Why the design is as it is", has the figures).

use std::cell::RefCell;
use std::rc::Rc;

use napi::bindgen_prelude::{Object, Unknown};
use napi::{Env, JsValue, Result, Status};
use napi_derive::napi;

use super::error::{self as js_error};
use super::event_json;
use super::napi_raw;
use crate::core::delivery::Logger;
use crate::core::error::LogError;

thread_local! {
    /// Reused buffer for an event's JSON text, so `log()` does not allocate for it.
    static JSON_BUF: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(4096));
    /// The loggers made on this thread, by slot. A JavaScript object lives on one
    /// thread (a worker has its own), so a table per thread needs no lock.
    static LOGGERS: RefCell<Vec<Option<Rc<Logger>>>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with the thread's reused JSON buffer, or with a buffer of its own when the
/// shared one is in use: a `toJSON` run by the binding's own `log()` (which holds the
/// buffer while it stringifies) can call `log()` again.
pub(super) fn with_json_buf<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    JSON_BUF.with(|shared_buf| match shared_buf.try_borrow_mut() {
        Ok(mut buf) => f(&mut buf),
        Err(_) => f(&mut Vec::new()),
    })
}

/// Gives `logger` a slot in this thread's table.
pub(super) fn register(logger: Rc<Logger>) -> u32 {
    LOGGERS.with(|table| {
        let mut table = table.borrow_mut();
        let slot = match table.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                table.push(None);
                table.len() - 1
            }
        };
        table[slot] = Some(logger);
        slot as u32
    })
}

/// Frees a slot when its `AnalyticsLogger` is collected.
pub(super) fn unregister(slot: u32) {
    // try_with: a finalizer may run while the thread's locals are torn down. No borrow
    // of the table is held while JavaScript or the GC can run, so this one succeeds.
    let _ = LOGGERS.try_with(|table| {
        if let Some(entry) = table.borrow_mut().get_mut(slot as usize) {
            *entry = None;
        }
    });
}

fn logger_in(slot: u32) -> Result<Rc<Logger>> {
    LOGGERS
        .with(|table| table.borrow().get(slot as usize).cloned().flatten())
        .ok_or_else(|| {
            napi::Error::new(
                Status::InvalidArg,
                format!("no AnalyticsLogger in slot {slot} on this thread"),
            )
        })
}

/// The function index.js calls as `logJson(slot, text)`: what `AnalyticsLogger.log`
/// does after the serializer. It returns the id and throws as `log()` does.
#[napi(js_name = "__logJsonFunction", skip_typescript)]
pub fn log_json_function(env: &Env) -> Result<Unknown<'_>> {
    napi_raw::native_function(env, "logJson", log_json)
}

/// `logJson(slot, text)`: the event's id, or the error `log()` throws.
fn log_json<'env>(env: &'env Env, [slot, text]: [Unknown<'env>; 2]) -> Result<Unknown<'env>> {
    let logger = logger_in(napi_raw::to_u32(env, &slot)?)?;
    with_json_buf(|buf| {
        let json = copy_text(env, &text, buf).inspect_err(|_| logger.count_invalid())?;
        match logger.log_json_for(json, None) {
            Ok(id) => {
                let mut hyphenated = uuid::Uuid::encode_buffer();
                // ASCII: Latin-1 creation copies it as is; UTF-8 would validate it.
                let id = env.create_string_latin1(id.hyphenated().encode_lower(&mut hyphenated))?;
                Ok(id.to_unknown())
            }
            Err(e) => Err(js_error::log_error(env, &e)),
        }
    })
}

/// Throws, for index.js, the error `log()` gives an event the serializer refused
/// (`refusal` is what `__eventJson()`'s function returned), and counts it invalid.
#[napi(js_name = "__rejectEvent", skip_typescript, catch_unwind)]
pub fn reject_event(env: Env, slot: u32, refusal: Object) -> Result<()> {
    let logger = logger_in(slot)?;
    logger.count_invalid();
    let refused = event_json::read_refusal(&refusal)?;
    Err(js_error::log_error(
        &env,
        &LogError::Invalid(refused.into_invalid_event()),
    ))
}

/// ERR_INVALID_EVENT for an event the serializer itself threw on: a bug of ours, not
/// of the caller, but still the caller's event that was not logged.
pub(super) fn unserializable(env: &Env, why: Option<&str>) -> napi::Error {
    js_error::invalid_event(
        env,
        "event",
        &format!(
            "invalid analytics event: event cannot be serialized ({})",
            why.unwrap_or("the serializer failed")
        ),
    )
}

/// Copies the serializer's JSON text into `buf` as UTF-8 and returns it as text. Not a
/// string is ERR_INVALID_EVENT.
pub(super) fn copy_text<'b>(env: &Env, text: &Unknown, buf: &'b mut Vec<u8>) -> Result<&'b str> {
    if napi_raw::copy_utf8(env, text, buf).is_err() {
        return Err(js_error::invalid_event(
            env,
            "event",
            "invalid analytics event: event must be a plain object (it has no JSON text)",
        ));
    }
    // N-API replaces lone surrogates, so this holds; checked all the same, since the
    // core takes `&str`.
    std::str::from_utf8(buf).map_err(|e| {
        js_error::invalid_event(
            env,
            "event",
            &format!("invalid analytics event: event is not valid text ({e})"),
        )
    })
}

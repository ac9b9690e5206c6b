//! Maps core errors to JavaScript exceptions, in one place.
//!
//! napi-rs's own errors carry only a status string as `code`; ours need a `TypeError`
//! for bad input with our own codes, so they are built here and thrown directly,
//! leaving a `PendingException` for napi-rs to pass through.

use std::ffi::CString;
use std::ptr;

use napi::{sys, Env, Error, Status};

use crate::core::error::{InvalidOption, LogError};

/// Codes on errors thrown synchronously.
pub mod codes {
    pub const INVALID_EVENT: &str = "ERR_INVALID_EVENT";
    pub const INVALID_OPTION: &str = "ERR_INVALID_OPTION";
    pub const LOGGER_CLOSED: &str = "ERR_LOGGER_CLOSED";
    pub const QUEUE_FULL: &str = "ERR_QUEUE_FULL";
}

#[derive(Clone, Copy)]
enum Kind {
    Error,
    TypeError,
}

/// Throws `new <kind>(message)` with `code` and, when given, `field`, and returns the
/// error napi-rs expects when an exception is already pending.
fn throw(env: &Env, kind: Kind, code: &str, message: &str, field: Option<(&str, &str)>) -> Error {
    let raw = env.raw();
    // SAFETY: called on the JavaScript thread with a live env, as every #[napi]
    // method is; each napi call's status is checked and we fall back to a plain
    // napi-rs error if the engine refuses.
    unsafe {
        let mut js_code = ptr::null_mut();
        let mut js_msg = ptr::null_mut();
        let mut error = ptr::null_mut();
        let ok = sys::napi_create_string_utf8(
            raw,
            code.as_ptr().cast(),
            code.len() as isize,
            &mut js_code,
        ) == sys::Status::napi_ok
            && sys::napi_create_string_utf8(
                raw,
                message.as_ptr().cast(),
                message.len() as isize,
                &mut js_msg,
            ) == sys::Status::napi_ok
            && match kind {
                Kind::Error => sys::napi_create_error(raw, js_code, js_msg, &mut error),
                Kind::TypeError => sys::napi_create_type_error(raw, js_code, js_msg, &mut error),
            } == sys::Status::napi_ok;
        if !ok {
            return Error::new(Status::GenericFailure, format!("{code}: {message}"));
        }
        if let Some((name, value)) = field {
            let mut js_value = ptr::null_mut();
            if let Ok(name) = CString::new(name) {
                if sys::napi_create_string_utf8(
                    raw,
                    value.as_ptr().cast(),
                    value.len() as isize,
                    &mut js_value,
                ) == sys::Status::napi_ok
                {
                    sys::napi_set_named_property(raw, error, name.as_ptr(), js_value);
                }
            }
        }
        sys::napi_throw(raw, error);
    }
    Error::new(Status::PendingException, String::new())
}

pub fn invalid_option(env: &Env, e: &InvalidOption) -> Error {
    throw(
        env,
        Kind::TypeError,
        codes::INVALID_OPTION,
        &e.to_string(),
        Some(("option", &e.option)),
    )
}

pub fn invalid_event(env: &Env, field: &str, message: &str) -> Error {
    throw(
        env,
        Kind::TypeError,
        codes::INVALID_EVENT,
        message,
        Some(("field", field)),
    )
}

pub fn log_error(env: &Env, e: &LogError) -> Error {
    match e {
        LogError::Invalid(invalid) => invalid_event(env, &invalid.field, &invalid.to_string()),
        LogError::Closed => throw(env, Kind::Error, codes::LOGGER_CLOSED, &e.to_string(), None),
        LogError::QueueFull { .. } => {
            throw(env, Kind::Error, codes::QUEUE_FULL, &e.to_string(), None)
        }
    }
}

pub fn closed(env: &Env, what: &str) -> Error {
    throw(
        env,
        Kind::Error,
        codes::LOGGER_CLOSED,
        &format!("AnalyticsLogger is closed: {what} is not possible after close()"),
        None,
    )
}

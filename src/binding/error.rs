//! Maps core errors to JavaScript exceptions, in one place.
//!
//! napi-rs's own errors carry only a status string as `code`; ours need a `TypeError`
//! for bad input with our own codes, so they are built here and thrown directly,
//! leaving a `PendingException` for napi-rs to pass through.

use std::ffi::CString;
use std::ptr;

use napi::{sys, Env, Error, Status};

use crate::core::error::{ErrorCode, InvalidOption, LogError, PlanRejection};
use crate::core::rocketchat::WidgetError;

#[derive(Clone, Copy)]
enum Kind {
    Error,
    TypeError,
}

/// Creates a JavaScript string; null on failure (checked by the caller's napi calls).
///
/// # Safety
/// `raw` must be the live env of the calling JavaScript thread.
unsafe fn js_string(raw: sys::napi_env, value: &str) -> sys::napi_value {
    let mut out = ptr::null_mut();
    sys::napi_create_string_utf8(raw, value.as_ptr().cast(), value.len() as isize, &mut out);
    out
}

/// Sets `object[name] = value`, ignoring failure (the error is still thrown).
///
/// # Safety
/// As [`js_string`]; `object` and `value` are values of that env.
unsafe fn set(raw: sys::napi_env, object: sys::napi_value, name: &str, value: sys::napi_value) {
    if value.is_null() {
        return;
    }
    if let Ok(name) = CString::new(name) {
        sys::napi_set_named_property(raw, object, name.as_ptr(), value);
    }
}

/// A JavaScript string for the binding's raw calls; null on failure.
///
/// # Safety
/// `raw` must be the live env of the calling JavaScript thread.
pub unsafe fn js_str(raw: sys::napi_env, value: &str) -> sys::napi_value {
    js_string(raw, value)
}

/// Extra properties of a thrown error.
type Decorate<'a> = &'a dyn Fn(sys::napi_env, sys::napi_value);

/// Throws `new <kind>(message)` with `code` and, when given, `field`, and returns the
/// error napi-rs expects when an exception is already pending.
fn throw(
    env: &Env,
    kind: Kind,
    code: ErrorCode,
    message: &str,
    field: Option<(&str, &str)>,
) -> Error {
    throw_with(env, kind, code, message, &|raw, error| {
        if let Some((name, value)) = field {
            // SAFETY: called by throw_with with its live env and error object.
            unsafe { set(raw, error, name, js_string(raw, value)) };
        }
    })
}

fn throw_with(
    env: &Env,
    kind: Kind,
    code: ErrorCode,
    message: &str,
    decorate: Decorate<'_>,
) -> Error {
    match build(env, kind, code, message, decorate) {
        Some(error) => {
            // SAFETY: a value of this env, thrown on its thread.
            unsafe { sys::napi_throw(env.raw(), error) };
            Error::new(Status::PendingException, String::new())
        }
        None => Error::new(Status::GenericFailure, format!("{code}: {message}")),
    }
}

/// `new <kind>(message)` with `code` and whatever `decorate` adds, not thrown; `None`
/// if the engine refuses.
fn build(
    env: &Env,
    kind: Kind,
    code: ErrorCode,
    message: &str,
    decorate: Decorate<'_>,
) -> Option<sys::napi_value> {
    let raw = env.raw();
    // SAFETY: called on the JavaScript thread with a live env, as every #[napi]
    // method is; each napi call's status is checked.
    unsafe {
        let js_code = js_string(raw, code.as_str());
        let js_msg = js_string(raw, message);
        let mut error = ptr::null_mut();
        let ok = !js_code.is_null()
            && !js_msg.is_null()
            && match kind {
                Kind::Error => sys::napi_create_error(raw, js_code, js_msg, &mut error),
                Kind::TypeError => sys::napi_create_type_error(raw, js_code, js_msg, &mut error),
            } == sys::Status::napi_ok;
        if !ok {
            return None;
        }
        decorate(raw, error);
        Some(error)
    }
}

/// An `Error` (or `TypeError`) with `code` and `appId`, to reject a bridge call with.
pub fn app_error(
    env: &Env,
    type_error: bool,
    code: ErrorCode,
    message: &str,
    app_id: &str,
) -> Option<sys::napi_value> {
    let kind = if type_error {
        Kind::TypeError
    } else {
        Kind::Error
    };
    build(env, kind, code, message, &|raw, error| {
        // SAFETY: called by build with its live env and error object.
        unsafe { set(raw, error, "appId", js_string(raw, app_id)) };
    })
}

pub fn invalid_option(env: &Env, e: &InvalidOption) -> Error {
    throw(
        env,
        Kind::TypeError,
        ErrorCode::InvalidOption,
        &e.to_string(),
        Some(("option", &e.option)),
    )
}

/// A widget body the endpoint must refuse.
pub fn invalid_widget_event(env: &Env, e: &WidgetError) -> Error {
    let code = if e.too_large {
        ErrorCode::EventTooLarge
    } else {
        ErrorCode::InvalidEvent
    };
    throw(
        env,
        Kind::TypeError,
        code,
        &e.to_string(),
        Some(("field", &e.field)),
    )
}

/// A Rocket.Chat setting with a value the logger cannot use.
pub fn invalid_setting(env: &Env, setting: &str, message: &str) -> Error {
    throw(
        env,
        Kind::TypeError,
        ErrorCode::InvalidSetting,
        message,
        Some(("setting", setting)),
    )
}

/// A tracking plan that cannot be loaded, outside a logger's options.
pub fn invalid_plan(env: &Env, why: &str) -> Error {
    throw(env, Kind::TypeError, ErrorCode::InvalidPlan, why, None)
}

pub fn invalid_event(env: &Env, field: &str, message: &str) -> Error {
    throw(
        env,
        Kind::TypeError,
        ErrorCode::InvalidEvent,
        message,
        Some(("field", field)),
    )
}

pub fn log_error(env: &Env, e: &LogError) -> Error {
    match e {
        LogError::Invalid(invalid) => invalid_event(env, &invalid.field, &invalid.to_string()),
        LogError::Plan(rejection) => plan_violation(env, rejection),
        LogError::Closed => throw(
            env,
            Kind::Error,
            ErrorCode::LoggerClosed,
            &e.to_string(),
            None,
        ),
        LogError::QueueFull { .. } | LogError::SpoolFull { .. } => {
            throw(env, Kind::Error, ErrorCode::QueueFull, &e.to_string(), None)
        }
    }
}

pub fn closed(env: &Env, what: &str) -> Error {
    throw(
        env,
        Kind::Error,
        ErrorCode::LoggerClosed,
        &format!("AnalyticsLogger is closed: {what} is not possible after close()"),
        None,
    )
}

/// `TypeError` with `code: 'ERR_TRACKING_PLAN'`, `plan`, `event` and
/// `violations: [{ kind, path, message }]`; `field` is the first violation's path, so
/// that code handling `ERR_INVALID_EVENT` finds the field the same way.
pub fn plan_violation(env: &Env, r: &PlanRejection) -> Error {
    throw_with(
        env,
        Kind::TypeError,
        ErrorCode::TrackingPlan,
        &r.to_string(),
        &|raw, error| {
            // SAFETY: called by throw_with with its live env and error object.
            unsafe {
                set(raw, error, "plan", js_string(raw, &r.plan));
                set(raw, error, "event", js_string(raw, &r.event));
                if let Some(first) = r.violations.first() {
                    set(raw, error, "field", js_string(raw, &first.path));
                }
                let mut list = ptr::null_mut();
                if sys::napi_create_array_with_length(raw, r.violations.len(), &mut list)
                    != sys::Status::napi_ok
                {
                    return;
                }
                for (i, v) in r.violations.iter().enumerate() {
                    let mut item = ptr::null_mut();
                    if sys::napi_create_object(raw, &mut item) != sys::Status::napi_ok {
                        return;
                    }
                    set(raw, item, "kind", js_string(raw, v.kind.as_str()));
                    set(raw, item, "path", js_string(raw, &v.path));
                    set(raw, item, "message", js_string(raw, &v.message));
                    sys::napi_set_element(raw, list, i as u32, item);
                }
                set(raw, error, "violations", list);
            }
        },
    )
}

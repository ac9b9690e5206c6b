//! Maps core errors to JavaScript exceptions, in one place.
//!
//! napi-rs's own errors carry only a status string as `code`; ours need a `TypeError`
//! for bad input with our own codes, so they are built here and thrown directly,
//! leaving a `PendingException` for napi-rs to pass through.

use napi::bindgen_prelude::{JsObjectValue, Object};
use napi::{Env, Error, Status};

use super::napi_raw::{self, ErrorKind as Kind};
use crate::core::error::{ErrorCode, InvalidOption, LogError, PlanRejection};
use crate::core::rocketchat::{WidgetError, WidgetErrorKind};

/// Extra properties of a thrown error. A property that cannot be set is left out:
/// the error is thrown all the same.
type Decorate<'a> = &'a dyn Fn(&Env, &mut Object);

/// Sets a string property, ignoring failure (see [`Decorate`]).
fn set_str(env: &Env, object: &mut Object, name: &str, value: &str) {
    if let Ok(value) = env.create_string(value) {
        let _ = object.set_named_property(name, value);
    }
}

/// Throws `new <kind>(message)` with `code` and, when given, `field`, and returns the
/// error napi-rs expects when an exception is already pending.
fn throw(
    env: &Env,
    kind: Kind,
    code: ErrorCode,
    message: &str,
    field: Option<(&str, &str)>,
) -> Error {
    throw_with(env, kind, code, message, &|env, error| {
        if let Some((name, value)) = field {
            set_str(env, error, name, value);
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
        Some(error) => napi_raw::throw(env, &error),
        None => Error::new(Status::GenericFailure, format!("{code}: {message}")),
    }
}

/// `new <kind>(message)` with `code` and whatever `decorate` adds, not thrown; `None`
/// if the engine refuses.
fn build<'env>(
    env: &'env Env,
    kind: Kind,
    code: ErrorCode,
    message: &str,
    decorate: Decorate<'_>,
) -> Option<Object<'env>> {
    let mut error = napi_raw::new_error(env, kind, code.as_str(), message)?;
    decorate(env, &mut error);
    Some(error)
}

/// An `Error` (or `TypeError`) with `code` and `appId`, to reject a bridge call with.
pub fn app_error<'env>(
    env: &'env Env,
    type_error: bool,
    code: ErrorCode,
    message: &str,
    app_id: &str,
) -> Option<Object<'env>> {
    let kind = if type_error {
        Kind::TypeError
    } else {
        Kind::Error
    };
    build(env, kind, code, message, &|env, error| {
        set_str(env, error, "appId", app_id)
    })
}

/// An error to settle a promise with later, from a deferred's resolver: it carries
/// the error object itself, so the promise rejects with our `code` and `property`.
pub fn rejection(
    env: &Env,
    type_error: bool,
    code: ErrorCode,
    message: &str,
    property: Option<(&str, &str)>,
) -> Error {
    let kind = if type_error {
        Kind::TypeError
    } else {
        Kind::Error
    };
    let built = build(env, kind, code, message, &|env, error| {
        if let Some((name, value)) = property {
            set_str(env, error, name, value);
        }
    });
    match built {
        Some(error) => Error::from(napi_raw::unknown(env, &error)),
        None => Error::new(Status::GenericFailure, format!("{code}: {message}")),
    }
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
    let code = match e.kind {
        WidgetErrorKind::Invalid => ErrorCode::InvalidEvent,
        WidgetErrorKind::TooLarge => ErrorCode::EventTooLarge,
        WidgetErrorKind::OverCap => ErrorCode::RateLimited,
    };
    let kind = match e.kind {
        WidgetErrorKind::OverCap => Kind::Error,
        _ => Kind::TypeError,
    };
    throw(env, kind, code, &e.to_string(), Some(("field", &e.field)))
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
        LogError::QueueFull { .. } | LogError::SpoolFull { .. } | LogError::LaneFull(_) => {
            throw(env, Kind::Error, ErrorCode::QueueFull, &e.to_string(), None)
        }
        LogError::NotAllowed(refusal) => throw(
            env,
            Kind::Error,
            ErrorCode::PermissionDenied,
            &refusal.message,
            Some(("field", refusal.field)),
        ),
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
        &|env, error| {
            set_str(env, error, "plan", &r.plan);
            set_str(env, error, "event", &r.event);
            if let Some(first) = r.violations.first() {
                set_str(env, error, "field", &first.path);
            }
            let list: Vec<Object> = r
                .violations
                .iter()
                .filter_map(|v| {
                    let mut item = Object::new(env).ok()?;
                    set_str(env, &mut item, "kind", v.kind.as_str());
                    set_str(env, &mut item, "path", &v.path);
                    set_str(env, &mut item, "message", &v.message);
                    Some(item)
                })
                .collect();
            let _ = error.set_named_property("violations", list);
        },
    )
}

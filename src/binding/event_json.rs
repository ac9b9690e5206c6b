//! The event serializer, `event_json.js`, compiled into the addon: the one place that
//! decides which JavaScript values an event may hold, so that nothing `JSON.stringify`
//! would drop or change (a function, NaN, a cycle) reaches SNS without an error.
//!
//! It is JavaScript because it must run where the values are: reading an object's
//! properties through N-API costs about 100 ns each, and `JSON.stringify` called from
//! JavaScript is cheaper than from here (`fast_log.rs` has the figures). The addon
//! compiles it for the paths that start in Rust (the Apps-Engine bridge, the widget
//! endpoint, non-objects given to `log()`), and index.js takes the same function
//! from `__eventJson()` for `log()`'s fast path.

use std::ptr;

use napi::bindgen_prelude::{Function, JsObjectValue, Object, Unknown};
use napi::{sys, Env, JsValue, Result, ValueType};
use napi_derive::napi;

use crate::core::event::{RefusedValue, ValueProblem};

/// The script; it evaluates to `eventJson(value, rootName)`.
const SOURCE: &str = include_str!("event_json.js");

pub(super) type EventJsonFn<'env> = Function<'env, Unknown<'static>, Unknown<'static>>;

/// Compiles the serializer in this env (V8 caches the compiled script, so a second
/// compile of the same source is cheap).
pub(super) fn compile(env: &Env) -> Result<EventJsonFn<'_>> {
    env.run_script(SOURCE)
}

/// The serializer, for index.js's `log()`.
#[napi(js_name = "__eventJson", skip_typescript, catch_unwind)]
pub fn event_json_function(env: &Env) -> Result<EventJsonFn<'_>> {
    compile(env)
}

/// What the serializer made of a value.
pub(super) enum Serialized {
    /// Its JSON text (a JavaScript string of this env).
    Text(sys::napi_value),
    Refused(RefusedValue),
}

/// Runs the serializer on `value`; `root` names the value itself in errors (`event`
/// when `None`). Errs only if the serializer itself threw, with that exception's text.
pub(super) fn serialize(
    env: &Env,
    serializer: sys::napi_value,
    value: sys::napi_value,
    root: Option<&str>,
) -> std::result::Result<Serialized, Option<String>> {
    let raw = env.raw();
    // SAFETY: every value belongs to this env and is used on its thread; statuses are
    // checked.
    let result = unsafe {
        let mut undefined = ptr::null_mut();
        sys::napi_get_undefined(raw, &mut undefined);
        let mut args = [value, ptr::null_mut()];
        let argc = match root {
            Some(name) => {
                args[1] = super::error::js_str(raw, name);
                2
            }
            None => 1,
        };
        let mut result = ptr::null_mut();
        if sys::napi_call_function(raw, undefined, serializer, argc, args.as_ptr(), &mut result)
            != sys::Status::napi_ok
        {
            return Err(take_exception_message(raw));
        }
        result
    };
    // SAFETY: the serializer's result, a value of this env.
    let result = unsafe { Unknown::from_raw_unchecked(raw, result) };
    match result.get_type() {
        Ok(ValueType::String) => Ok(Serialized::Text(result.raw())),
        Ok(ValueType::Object) => {
            // SAFETY: checked to be an object.
            let refusal: Object = unsafe { result.cast() }.map_err(|e| Some(e.reason))?;
            read_refusal(&refusal)
                .map(Serialized::Refused)
                .map_err(|e| Some(e.reason))
        }
        _ => Err(Some(
            "the serializer returned neither text nor a refusal".into(),
        )),
    }
}

/// The serializer's refusal, `{ path, field, level, inArray, got | reason }`, as the
/// core's [`RefusedValue`].
pub(super) fn read_refusal(refusal: &Object) -> Result<RefusedValue> {
    let got: Option<String> = refusal.get_named_property("got")?;
    let reason: Option<String> = refusal.get_named_property("reason")?;
    Ok(RefusedValue {
        path: refusal.get_named_property("path")?,
        field: refusal.get_named_property("field")?,
        level: refusal.get_named_property("level")?,
        in_array: refusal.get_named_property("inArray")?,
        problem: match (got, reason) {
            (Some(got), _) => ValueProblem::Unrepresentable(got),
            (None, reason) => ValueProblem::Unreadable(
                reason.unwrap_or_else(|| "cannot be serialized".to_owned()),
            ),
        },
    })
}

/// Clears the pending exception and returns its text, e.g. "RangeError: Maximum
/// call stack size exceeded".
///
/// # Safety
/// `raw` must be the live env of the calling JavaScript thread.
unsafe fn take_exception_message(raw: sys::napi_env) -> Option<String> {
    let mut exception = ptr::null_mut();
    if sys::napi_get_and_clear_last_exception(raw, &mut exception) != sys::Status::napi_ok {
        return None;
    }
    let mut text = ptr::null_mut();
    if sys::napi_coerce_to_string(raw, exception, &mut text) != sys::Status::napi_ok {
        let mut ignored = ptr::null_mut();
        sys::napi_get_and_clear_last_exception(raw, &mut ignored);
        return None;
    }
    let mut len = 0usize;
    sys::napi_get_value_string_utf8(raw, text, ptr::null_mut(), 0, &mut len);
    let mut bytes = vec![0u8; len + 1];
    let mut written = 0usize;
    sys::napi_get_value_string_utf8(raw, text, bytes.as_mut_ptr().cast(), len + 1, &mut written);
    bytes.truncate(written);
    String::from_utf8(bytes).ok()
}

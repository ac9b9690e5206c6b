//! The event serializer, `event_json.js`, compiled into the addon: the one place that
//! decides which JavaScript values an event may hold, so that nothing `JSON.stringify`
//! would drop or change (a function, NaN, a cycle) reaches SNS without an error.
//!
//! It is JavaScript because it must run where the values are: reading an object's
//! properties one by one through N-API, or calling `JSON.stringify` from here, costs
//! more than the work itself (docs/performance.md, "Why the design is as it is"). The addon
//! compiles it for the paths that start in Rust (the Apps-Engine bridge, the widget
//! endpoint, non-objects given to `log()`), and index.js takes the same function
//! from `__eventJson()` for `log()`'s fast path.

use napi::bindgen_prelude::{Function, JsObjectValue, Object, Unknown};
use napi::{Env, JsValue, Result, ValueType};
use napi_derive::napi;

use super::napi_raw;
use crate::core::event::{LossyValue, ValueProblem};

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
pub(super) enum Serialized<'env> {
    /// Its JSON text (a JavaScript string).
    Text(Unknown<'env>),
    Refused(LossyValue),
}

/// Runs the serializer on `value`; `root` names the value itself in errors (`event`
/// when `None`). Errs only if the serializer itself threw, with that exception's text.
pub(super) fn serialize<'env>(
    env: &'env Env,
    serializer: &Unknown<'env>,
    value: &Unknown<'env>,
    root: Option<&str>,
) -> std::result::Result<Serialized<'env>, Option<String>> {
    let result = match root {
        Some(name) => {
            let name = env
                .create_string(name)
                .map_err(|e| Some(e.reason))?
                .to_unknown();
            napi_raw::call(env, serializer, &[value, &name])?
        }
        None => napi_raw::call(env, serializer, &[value])?,
    };
    match result.get_type() {
        Ok(ValueType::String) => Ok(Serialized::Text(result)),
        _ => match napi_raw::as_object(env, result).map_err(|e| Some(e.reason))? {
            Some(refusal) => read_refusal(&refusal)
                .map(Serialized::Refused)
                .map_err(|e| Some(e.reason)),
            None => Err(Some(
                "the serializer returned neither text nor a refusal".into(),
            )),
        },
    }
}

/// The serializer's refusal, `{ path, field, level, inArray, got | reason }`, as the
/// core's [`LossyValue`].
pub(super) fn read_refusal(refusal: &Object) -> Result<LossyValue> {
    let got: Option<String> = refusal.get_named_property("got")?;
    let reason: Option<String> = refusal.get_named_property("reason")?;
    Ok(LossyValue {
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

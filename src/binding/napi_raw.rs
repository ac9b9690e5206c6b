//! Every raw N-API call of the binding, behind safe functions. The rest of the
//! binding uses only these and napi-rs's safe API, and has no `unsafe` of its own.
//!
//! Why raw calls at all: napi-rs has no safe way to create an error with a code of our
//! own and extra properties, to settle a promise with such an error, to call a
//! function and get the text of what it threw, or to copy a string into a reused
//! buffer; and its typed casts are `unsafe`.
//!
//! Safety, once for all: every function takes the `Env` of the calling JavaScript
//! thread (napi-rs hands one to each `#[napi]` function, and only on that thread) and
//! values that borrow from it (`Unknown<'env>`, `Object<'env>`, `Function<'env>`), so
//! every handle passed to N-API belongs to that env and is alive in the current
//! handle scope. Each status N-API returns is checked, or its failure is harmless
//! (a property not set on an error that is thrown anyway) and said so.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use napi::bindgen_prelude::{panic_to_error, Function, Object, Unknown};
use napi::{sys, Env, JsError, JsValue, Result, Status, ValueType};

/// What a function made by [`native_function`] runs: the calling thread's env and the
/// call's first two arguments (`undefined` where not passed).
pub(super) type NativeFn = for<'env> fn(&'env Env, [Unknown<'env>; 2]) -> Result<Unknown<'env>>;

/// A plain JavaScript function that runs `native`, made with N-API itself rather than
/// `#[napi]`. Why: napi-rs opens a native-borrow scope around every call of its
/// functions (an `Arc<Mutex<..>>` allocated, a process-wide lock taken and a table
/// looked up), which on log()'s fast path cost as much as parsing the event when the
/// call was cold (docs/performance.md). As `#[napi(catch_unwind)]` does, a panic is
/// caught and thrown as an `Error`, and an `Err` is thrown unless its exception is
/// already pending.
pub(super) fn native_function<'env>(
    env: &'env Env,
    name: &str,
    native: NativeFn,
) -> Result<Unknown<'env>> {
    let mut function = ptr::null_mut();
    // SAFETY: see the module's note; the status is checked. The data pointer is a
    // plain `fn` pointer, which lives forever and which `call_native` turns back.
    unsafe {
        napi::check_status!(sys::napi_create_function(
            env.raw(),
            name.as_ptr().cast(),
            name.len() as isize,
            Some(call_native),
            native as *mut c_void,
            &mut function,
        ))?;
        Ok(Unknown::from_raw_unchecked(env.raw(), function))
    }
}

/// The N-API callback of every [`native_function`]: reads the arguments and the `fn`
/// it was made with, runs it, and turns an error or a panic into an exception.
unsafe extern "C" fn call_native(
    raw: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    let mut argc = 2usize;
    let mut argv = [ptr::null_mut(); 2];
    let mut data = ptr::null_mut();
    // SAFETY: N-API calls this on the JavaScript thread with its env and the call's
    // info; it fills the arguments not passed with `undefined`. `data` is the `fn`
    // pointer `native_function` stored, of type `NativeFn`.
    unsafe {
        if sys::napi_get_cb_info(
            raw,
            info,
            &mut argc,
            argv.as_mut_ptr(),
            ptr::null_mut(),
            &mut data,
        ) != sys::Status::napi_ok
        {
            return ptr::null_mut();
        }
        let native = std::mem::transmute::<*mut c_void, NativeFn>(data);
        let env = Env::from_raw(raw);
        let args = argv.map(|arg| Unknown::from_raw_unchecked(raw, arg));
        let error = match catch_unwind(AssertUnwindSafe(|| native(&env, args))) {
            Ok(Ok(value)) => return value.raw(),
            Ok(Err(error)) => error,
            Err(panic) => panic_to_error(panic),
        };
        JsError::from(error).throw_into(raw);
        ptr::null_mut()
    }
}

/// Which constructor an error is made with.
#[derive(Clone, Copy)]
pub(super) enum ErrorKind {
    Error,
    TypeError,
}

/// `value` as an object, if it is one (arrays and functions are not).
pub(super) fn as_object<'env>(env: &Env, value: Unknown<'env>) -> Result<Option<Object<'env>>> {
    if value.get_type()? != ValueType::Object || is_array(env, &value) {
        return Ok(None);
    }
    // SAFETY: checked to be a plain object just above.
    Ok(Some(unsafe { value.cast()? }))
}

/// `value` as a function, if it is one.
pub(super) fn as_function<'env>(
    value: Unknown<'env>,
) -> Result<Option<Function<'env, Unknown<'static>, Unknown<'static>>>> {
    if value.get_type()? != ValueType::Function {
        return Ok(None);
    }
    // SAFETY: checked to be a function just above.
    Ok(Some(unsafe { value.cast()? }))
}

/// `Array.isArray(value)`.
pub(super) fn is_array(env: &Env, value: &Unknown) -> bool {
    let mut is_array = false;
    // SAFETY: see the module's note. On failure `is_array` stays false.
    unsafe { sys::napi_is_array(env.raw(), value.raw(), &mut is_array) };
    is_array
}

/// `new Error(message)` (or `TypeError`) with `code`, not thrown; `None` if the engine
/// refuses (out of memory).
pub(super) fn new_error<'env>(
    env: &'env Env,
    kind: ErrorKind,
    code: &str,
    message: &str,
) -> Option<Object<'env>> {
    let code = env.create_string(code).ok()?;
    let message = env.create_string(message).ok()?;
    let mut error = ptr::null_mut();
    // SAFETY: see the module's note; the status is checked.
    let status = unsafe {
        match kind {
            ErrorKind::Error => {
                sys::napi_create_error(env.raw(), code.raw(), message.raw(), &mut error)
            }
            ErrorKind::TypeError => {
                sys::napi_create_type_error(env.raw(), code.raw(), message.raw(), &mut error)
            }
        }
    };
    // A value N-API just created in this env.
    (status == sys::Status::napi_ok).then(|| Object::from_raw(env.raw(), error))
}

/// Throws `error` and returns the `Err` napi-rs expects when an exception is pending.
pub(super) fn throw(env: &Env, error: &Object) -> napi::Error {
    // SAFETY: see the module's note. If throwing fails there is nothing better to do
    // than to report the pending-exception status anyway.
    unsafe { sys::napi_throw(env.raw(), error.raw()) };
    napi::Error::new(Status::PendingException, String::new())
}

/// Calls `f(...args)` with `this` undefined. `Err` holds the text of what it threw
/// (`None` if even that cannot be read); the exception is cleared.
pub(super) fn call<'env>(
    env: &'env Env,
    f: &Unknown<'env>,
    args: &[&Unknown<'env>],
) -> std::result::Result<Unknown<'env>, Option<String>> {
    let raw = env.raw();
    let args: Vec<sys::napi_value> = args.iter().map(|a| a.raw()).collect();
    let mut result = ptr::null_mut();
    // SAFETY: see the module's note; the status is checked.
    let status = unsafe {
        let mut undefined = ptr::null_mut();
        sys::napi_get_undefined(raw, &mut undefined);
        sys::napi_call_function(
            raw,
            undefined,
            f.raw(),
            args.len(),
            args.as_ptr(),
            &mut result,
        )
    };
    if status != sys::Status::napi_ok {
        return Err(take_exception(env).and_then(|e| text_of(env, &e)));
    }
    // SAFETY: the result of a call that succeeded in this env.
    Ok(unsafe { Unknown::from_raw_unchecked(raw, result) })
}

/// Calls `method` with `this` (undefined when `None`) and `args`; `Err` if it threw,
/// with the exception left pending for the caller to take or napi-rs to pass on.
pub(super) fn call_method<'env>(
    env: &'env Env,
    this: Option<&Object<'env>>,
    method: &Unknown<'env>,
    args: &[&Unknown<'env>],
) -> Result<Unknown<'env>> {
    let raw = env.raw();
    let args: Vec<sys::napi_value> = args.iter().map(|a| a.raw()).collect();
    let mut result = ptr::null_mut();
    // SAFETY: see the module's note; statuses are checked.
    unsafe {
        let this = match this {
            Some(object) => object.raw(),
            None => {
                let mut undefined = ptr::null_mut();
                napi::check_status!(sys::napi_get_undefined(raw, &mut undefined))?;
                undefined
            }
        };
        let status = sys::napi_call_function(
            raw,
            this,
            method.raw(),
            args.len(),
            args.as_ptr(),
            &mut result,
        );
        if status != sys::Status::napi_ok {
            return Err(napi::Error::new(Status::PendingException, String::new()));
        }
        Ok(Unknown::from_raw_unchecked(raw, result))
    }
}

/// Clears the pending exception and returns it; `None` if there was none.
pub(super) fn take_exception<'env>(env: &'env Env) -> Option<Unknown<'env>> {
    let mut pending = false;
    let mut exception = ptr::null_mut();
    // SAFETY: see the module's note; statuses are checked.
    unsafe {
        if sys::napi_is_exception_pending(env.raw(), &mut pending) != sys::Status::napi_ok
            || !pending
            || sys::napi_get_and_clear_last_exception(env.raw(), &mut exception)
                != sys::Status::napi_ok
        {
            return None;
        }
        Some(Unknown::from_raw_unchecked(env.raw(), exception))
    }
}

/// `String(value)`, or `None` if that throws (the exception is cleared).
pub(super) fn text_of(env: &Env, value: &Unknown) -> Option<String> {
    let mut text = ptr::null_mut();
    // SAFETY: see the module's note; the status is checked.
    if unsafe { sys::napi_coerce_to_string(env.raw(), value.raw(), &mut text) }
        != sys::Status::napi_ok
    {
        take_exception(env);
        return None;
    }
    let mut buf = Vec::new();
    // SAFETY: a string N-API just made in this env.
    let text = unsafe { Unknown::from_raw_unchecked(env.raw(), text) };
    copy_utf8(env, &text, &mut buf).ok()?;
    String::from_utf8(buf).ok()
}

/// Copies the string `text` into `buf` as UTF-8 (replacing `buf`'s content); `Err` if
/// it is not a string. Reuses `buf`'s capacity: one pass when it fits.
pub(super) fn copy_utf8(env: &Env, text: &Unknown, buf: &mut Vec<u8>) -> Result<()> {
    let raw = env.raw();
    // SAFETY: see the module's note; statuses are checked, and N-API writes at most the
    // capacity it is given, so `set_len` covers initialised bytes only.
    unsafe {
        // One pass in the common case: copy straight into the buffer's capacity. Only a
        // text that may not have fit (it filled the buffer) needs its length measured
        // and a second copy.
        buf.clear();
        buf.reserve(4096);
        let mut written = 0usize;
        napi::check_status!(sys::napi_get_value_string_utf8(
            raw,
            text.raw(),
            buf.as_mut_ptr().cast(),
            buf.capacity(),
            &mut written,
        ))?;
        if written + 1 >= buf.capacity() {
            let mut len = 0usize;
            napi::check_status!(sys::napi_get_value_string_utf8(
                raw,
                text.raw(),
                ptr::null_mut(),
                0,
                &mut len
            ))?;
            buf.reserve(len + 1);
            napi::check_status!(sys::napi_get_value_string_utf8(
                raw,
                text.raw(),
                buf.as_mut_ptr().cast(),
                len + 1,
                &mut written,
            ))?;
        }
        buf.set_len(written);
    }
    Ok(())
}

/// `value` as a `u32` (a number; N-API truncates it as `>>> 0` would).
pub(super) fn to_u32(env: &Env, value: &Unknown) -> Result<u32> {
    let mut out = 0;
    // SAFETY: see the module's note; the status is checked.
    napi::check_status!(
        unsafe { sys::napi_get_value_uint32(env.raw(), value.raw(), &mut out) },
        "expected a number"
    )?;
    Ok(out)
}

/// `Boolean(value)`.
pub(super) fn truthy(env: &Env, value: &Unknown) -> Result<bool> {
    let mut coerced = ptr::null_mut();
    let mut out = false;
    // SAFETY: see the module's note; statuses are checked.
    unsafe {
        napi::check_status!(sys::napi_coerce_to_bool(
            env.raw(),
            value.raw(),
            &mut coerced
        ))?;
        napi::check_status!(sys::napi_get_value_bool(env.raw(), coerced, &mut out))?;
    }
    Ok(out)
}

/// A promise already resolved with the string `value`.
pub(super) fn resolved<'env>(env: &'env Env, value: &str) -> Result<Object<'env>> {
    let value = env.create_string(value)?;
    settled(env, true, value.raw())
}

/// A promise already rejected with `reason`.
pub(super) fn rejected<'env>(env: &'env Env, reason: &Unknown) -> Result<Object<'env>> {
    settled(env, false, reason.raw())
}

fn settled<'env>(env: &'env Env, resolve: bool, value: sys::napi_value) -> Result<Object<'env>> {
    let raw = env.raw();
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    // SAFETY: see the module's note; a fresh promise of this env, settled at once.
    unsafe {
        napi::check_status!(sys::napi_create_promise(raw, &mut deferred, &mut promise))?;
        napi::check_status!(if resolve {
            sys::napi_resolve_deferred(raw, deferred, value)
        } else {
            sys::napi_reject_deferred(raw, deferred, value)
        })?;
        Ok(Object::from_raw(raw, promise))
    }
}

/// `undefined`, e.g. to reject with when no exception is pending.
pub(super) fn undefined(env: &Env) -> Result<Unknown<'_>> {
    let mut value = ptr::null_mut();
    // SAFETY: see the module's note; the status is checked.
    unsafe {
        napi::check_status!(sys::napi_get_undefined(env.raw(), &mut value))?;
        Ok(Unknown::from_raw_unchecked(env.raw(), value))
    }
}

/// Reads a value of this env as `T` through serde (napi-rs's deserializer).
pub(super) fn from_js<T: serde::de::DeserializeOwned>(env: &Env, value: Unknown) -> Result<T> {
    env.from_js_value(value)
}

/// A JavaScript `Object` of `env` as an `Unknown`, for the calls above.
pub(super) fn unknown<'env>(env: &'env Env, object: &Object<'env>) -> Unknown<'env> {
    // SAFETY: an object of this env is a value of this env.
    unsafe { Unknown::from_raw_unchecked(env.raw(), object.raw()) }
}

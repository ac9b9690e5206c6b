//! `AppsEngineBridge`: what the Rocket.Chat server's Apps-Engine bridge delegates to,
//! so that Rocket.Chat Apps can log analytics events without being able to abuse it:
//! a permission check per call, token buckets per app (events and bytes), the app's
//! id on every event.

use std::cell::RefCell;
use std::time::Instant;

use napi::bindgen_prelude::{FunctionRef, JsObjectValue, Object, Reference, Unknown};
use napi::{Env, JsValue, Result, ValueType};
use napi_derive::napi;

use super::error::{self as js_error};
use super::logger::AnalyticsLogger;
use super::napi_raw;
use crate::core::encode::check_app_id;
use crate::core::error::ErrorCode;
use crate::core::rocketchat::{AppOverBudget, AppRateLimiter, RateLimit};
use crate::core::telemetry::AppResult;

/// The permission an app needs, as the Apps-Engine names permissions.
pub const PERMISSION: &str = "analytics.write";

/// Options of `new AppsEngineBridge(logger, options)`.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // Type only: read property by property (it holds a function).
pub struct AppsEngineBridgeOptions {
    /// The server's permission check, called as `hasPermission(appId, 'analytics.write')`
    /// for every call; a call it answers `false` is refused with
    /// `code: 'PERMISSION_DENIED'`. Without it every App is refused: Apps are
    /// third-party code, and an App the server has not cleared logs nothing.
    #[napi(ts_type = "(appId: string, permission: 'analytics.write') => boolean")]
    pub has_permission: Option<String>,
    /// Per-app token buckets, of events and of bytes. Default
    /// `{ eventsPerSecond: 100, burst: 200, bytesPerSecond: 262144, burstBytes: 1048576 }`.
    pub app_rate_limit: Option<AppRateLimitOptions>,
}

/// Per-app token buckets: a call is admitted while the app has an event token and
/// its byte budget is not spent; a call over either is refused with
/// `code: 'RATE_LIMITED'`, its message naming the budget.
#[napi(object)]
pub struct AppRateLimitOptions {
    /// Sustained events per second per app.
    pub events_per_second: f64,
    /// Events an app may log at once after being idle.
    pub burst: f64,
    /// Sustained bytes of events per second per app (their JSON). Default 262144
    /// (256 KiB/s): an event may be 256 KiB, so the event rate alone would let one
    /// App log about 25 MiB/s. An event's bytes are counted once it is logged, so
    /// one large event may overdraw the budget; the App's calls are then refused
    /// until the debt is repaid at this rate (as Kafka's byte-rate quotas do).
    pub bytes_per_second: Option<f64>,
    /// Bytes of events an app may log at once after being idle. Default 1048576
    /// (1 MiB).
    pub burst_bytes: Option<f64>,
}

/// Lets Rocket.Chat Apps log analytics events through the Apps-Engine's bridge
/// pattern: the server's `AppAnalyticsBridge.logEvent` delegates to `doLogEvent`.
/// Every call is permission-checked and rate-limited per app, and the event carries
/// the app's id as the SNS message attribute `appId`. Calls resolve to the event id
/// or reject; they never throw.
#[napi]
pub struct AppsEngineBridge {
    logger: Reference<AnalyticsLogger>,
    has_permission: Option<FunctionRef<Unknown<'static>, Unknown<'static>>>,
    limiter: RefCell<AppRateLimiter>,
}

fn number_property(env: &Env, object: &Object, name: &str) -> Result<Option<f64>> {
    let value: Unknown = object.get_named_property(name)?;
    match value.get_type()? {
        ValueType::Undefined | ValueType::Null => Ok(None),
        ValueType::Number => Ok(Some(value.coerce_to_number()?.get_double()?)),
        _ => Err(js_error::invalid_option(
            env,
            &crate::core::error::InvalidOption::new(
                format!("appRateLimit.{name}"),
                "must be a number",
            ),
        )),
    }
}

#[napi]
impl AppsEngineBridge {
    #[napi(
        constructor,
        catch_unwind,
        ts_args_type = "logger: AnalyticsLogger, options?: AppsEngineBridgeOptions"
    )]
    pub fn new(
        env: Env,
        logger: Reference<AnalyticsLogger>,
        options: Option<Unknown>,
    ) -> Result<Self> {
        let mut has_permission = None;
        let mut limit = RateLimit::default();
        if let Some(object) = match options {
            Some(options) => napi_raw::as_object(&env, options)?,
            None => None,
        } {
            let check: Unknown = object.get_named_property("hasPermission")?;
            match check.get_type()? {
                ValueType::Undefined | ValueType::Null => {}
                ValueType::Function => {
                    if let Some(f) = napi_raw::as_function(check)? {
                        has_permission = Some(f.create_ref()?);
                    }
                }
                _ => {
                    return Err(js_error::invalid_option(
                        &env,
                        &crate::core::error::InvalidOption::new(
                            "hasPermission",
                            "must be a function (appId, permission) => boolean",
                        ),
                    ))
                }
            }
            let rate: Unknown = object.get_named_property("appRateLimit")?;
            if let Some(rate) = napi_raw::as_object(&env, rate)? {
                if let Some(v) = number_property(&env, &rate, "eventsPerSecond")? {
                    limit.events_per_second = v;
                }
                if let Some(v) = number_property(&env, &rate, "burst")? {
                    limit.burst = v;
                }
                if let Some(v) = number_property(&env, &rate, "bytesPerSecond")? {
                    limit.bytes_per_second = v;
                }
                if let Some(v) = number_property(&env, &rate, "burstBytes")? {
                    limit.burst_bytes = v;
                }
                let valid = limit.events_per_second > 0.0
                    && limit.events_per_second.is_finite()
                    && limit.burst >= 1.0
                    && limit.burst.is_finite();
                if !valid {
                    return Err(js_error::invalid_option(
                        &env,
                        &crate::core::error::InvalidOption::new(
                            "appRateLimit",
                            "needs eventsPerSecond > 0 and burst >= 1",
                        ),
                    ));
                }
                let bytes_problem =
                    if !(limit.bytes_per_second > 0.0 && limit.bytes_per_second.is_finite()) {
                        Some(("bytesPerSecond", limit.bytes_per_second, "> 0"))
                    } else if !(limit.burst_bytes >= 1.0 && limit.burst_bytes.is_finite()) {
                        Some(("burstBytes", limit.burst_bytes, ">= 1"))
                    } else {
                        None
                    };
                if let Some((name, value, bound)) = bytes_problem {
                    return Err(js_error::invalid_option(
                        &env,
                        &crate::core::error::InvalidOption::new(
                            format!("appRateLimit.{name}"),
                            format!("must be a finite number {bound}, got {value}"),
                        ),
                    ));
                }
            }
        }
        Ok(Self {
            logger,
            has_permission,
            limiter: RefCell::new(AppRateLimiter::new(limit)),
        })
    }

    /// Logs `event` for the app `appId`; resolves to the event id. Rejects with
    /// `code: 'PERMISSION_DENIED'` when `hasPermission(appId, 'analytics.write')` is
    /// false, `'RATE_LIMITED'` over the app's event rate or byte budget (the message
    /// says which), `'ERR_INVALID_APP_ID'` for a malformed id or the App runtime's
    /// placeholder `'APP_ID'` (the host substitutes the App's real id for it), and
    /// with `log()`'s errors for a bad event.
    #[napi(
        catch_unwind,
        ts_args_type = "event: AnalyticsEvent, appId: string",
        ts_return_type = "Promise<string>"
    )]
    pub fn do_log_event<'env>(
        &self,
        env: &'env Env,
        event: Unknown,
        app_id: Unknown,
    ) -> Result<Object<'env>> {
        self.call(env, app_id, |bridge, env, app| {
            bridge.logger.log_value_sized(env, event, Some(app))
        })
    }
}

impl AppsEngineBridge {
    /// The common path: check the app id, the permission and the rate limit, run
    /// `log` (which answers the event's id and its size in bytes), charge the bytes
    /// to the app, and settle a promise with the id or the error; never throw.
    fn call<'env>(
        &self,
        env: &'env Env,
        app_id: Unknown,
        log: impl FnOnce(&Self, &Env, &str) -> Result<(String, usize)>,
    ) -> Result<Object<'env>> {
        let labels = self.logger.core().labels();
        let app = match app_id.get_type()? {
            ValueType::String => app_id.coerce_to_string()?.into_utf8()?.as_str()?.to_owned(),
            _ => String::new(),
        };
        if let Err(why) = check_app_id(&app) {
            return reject_with(
                env,
                js_error::app_error(env, true, ErrorCode::InvalidAppId, &why, &app),
            );
        }
        match self.permitted(env, &app) {
            Ok(true) => {}
            Ok(false) => {
                labels.app(&app, AppResult::PermissionDenied);
                let message = match self.has_permission {
                    Some(_) => format!("app {app} lacks the {PERMISSION} permission"),
                    None => format!(
                        "app {app} is refused: this AppsEngineBridge was given no hasPermission \
                         check, and without one it refuses every App"
                    ),
                };
                return reject_with(
                    env,
                    js_error::app_error(env, false, ErrorCode::PermissionDenied, &message, &app),
                );
            }
            Err(_) => return reject_pending(env),
        }
        // The borrow ends with the statement: `log` may run the App's toJSON, which may
        // call the bridge again.
        let admitted = self.limiter.borrow_mut().try_acquire(&app, Instant::now());
        if let Err(refusal) = admitted {
            labels.app(&app, AppResult::RateLimited);
            self.logger
                .core()
                .count_refused(crate::core::event::Source::App(&app));
            let message = rate_limited_message(&app, refusal, self.limiter.borrow().limit());
            return reject_with(
                env,
                js_error::app_error(env, false, ErrorCode::RateLimited, &message, &app),
            );
        }
        match log(self, env, &app) {
            Ok((id, bytes)) => {
                // Known only now that the event is encoded: charged after the fact,
                // possibly into debt that refuses the App's next calls until repaid.
                self.limiter
                    .borrow_mut()
                    .charge_bytes(&app, bytes, Instant::now());
                labels.app(&app, AppResult::Logged);
                resolve(env, &id)
            }
            Err(_) => {
                labels.app(&app, AppResult::Invalid);
                reject_pending(env)
            }
        }
    }

    fn permitted(&self, env: &Env, app: &str) -> Result<bool> {
        let Some(check) = &self.has_permission else {
            return Ok(false);
        };
        let f = check.borrow_back(env)?;
        let f = napi_raw::unknown(env, &f.coerce_to_object()?);
        let app = env.create_string(app)?.to_unknown();
        let permission = env.create_string(PERMISSION)?.to_unknown();
        // What it throws stays pending and becomes the rejection (reject_pending).
        let answer = napi_raw::call_method(env, None, &f, &[&app, &permission])?;
        napi_raw::truthy(env, &answer)
    }
}

/// The RATE_LIMITED message, naming the budget that refused and its options.
fn rate_limited_message(app: &str, refusal: AppOverBudget, limit: RateLimit) -> String {
    match refusal {
        AppOverBudget::Events => format!(
            "app {app} is over its analytics rate limit (appRateLimit.eventsPerSecond {}, \
             burst {}); event dropped",
            limit.events_per_second, limit.burst
        ),
        AppOverBudget::Bytes => format!(
            "app {app} is over its analytics byte budget (appRateLimit.bytesPerSecond {}, \
             burstBytes {}); event dropped",
            limit.bytes_per_second, limit.burst_bytes
        ),
    }
}

fn resolve<'env>(env: &'env Env, id: &str) -> Result<Object<'env>> {
    napi_raw::resolved(env, id)
}

fn reject_with<'env>(env: &'env Env, error: Option<Object<'env>>) -> Result<Object<'env>> {
    let error = error.ok_or_else(|| napi::Error::from_reason("cannot create the rejection"))?;
    napi_raw::rejected(env, &napi_raw::unknown(env, &error))
}

/// Rejects with the exception a failed call left pending (and clears it).
fn reject_pending<'env>(env: &'env Env) -> Result<Object<'env>> {
    let reason = match napi_raw::take_exception(env) {
        Some(exception) => exception,
        None => napi_raw::undefined(env)?,
    };
    napi_raw::rejected(env, &reason)
}

//! `AnalyticsLogger`, the class JavaScript sees.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::{Function, FunctionRef, Object, Unknown};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::{Env, JsValue, Result, ValueType};
use napi_derive::napi;

use super::error::{self as js_error};
use super::event_json::{self, Serialized};
use super::exit_hook;
use super::fast_log;
use super::napi_raw;
use super::types::{AppCounts, CloseOptions, DeliveryError, DeliveryReport, LoggerStats};
use crate::core::delivery::{DeliveryReport as CoreReport, Logger, WidgetLogError};
use crate::core::error::{InvalidOption, LogError};
use crate::core::options::{millis, Options, ReadOptions};
use crate::core::rocketchat::WidgetError;
use crate::core::sns::SnsPublisher;
use crate::core::telemetry::{AppResult, Counters};

/// Batches analytics events and publishes them to Amazon SNS from a background
/// runtime. `log()` costs the JavaScript thread a few microseconds and never waits.
#[napi]
pub struct AnalyticsLogger {
    logger: Rc<Logger>,
    /// Its place in this thread's [`fast_log`] table, for `log()`'s fast path.
    slot: u32,
    /// The event serializer (`event_json.rs`), for what reaches the binding's own
    /// `log()` (non-objects, for their error), the bridge and the widget endpoint.
    /// index.js runs the same serializer for `log()`'s events itself (`fast_log.rs`).
    event_json: FunctionRef<Unknown<'static>, Unknown<'static>>,
}

#[napi]
impl AnalyticsLogger {
    /// Validates the options and starts the logger. Synchronous and cheap: it never
    /// touches the network. Throws a `TypeError` with `code: 'ERR_INVALID_OPTION'` and
    /// `option` naming the option at fault.
    #[napi(constructor, catch_unwind, ts_args_type = "options: LoggerOptions")]
    pub fn new(env: Env, options: Unknown) -> Result<Self> {
        let config = read_options(&env, options)?
            .into_config()
            .map_err(|e| js_error::invalid_option(&env, &e))?;
        let publisher = SnsPublisher::new(config.sns.clone());
        let logger =
            Logger::try_start(config, publisher).map_err(|e| js_error::invalid_option(&env, &e))?;
        exit_hook::register(&env, logger.drain_handle())?;
        let event_json = event_json::compile(&env)?.create_ref()?;
        let logger = Rc::new(logger);
        Ok(Self {
            slot: fast_log::register(logger.clone()),
            logger,
            event_json,
        })
    }

    /// Its slot for `__logJson` (index.js keeps it in a private field).
    #[napi(js_name = "__slot", skip_typescript)]
    pub fn slot(&self) -> u32 {
        self.slot
    }

    /// Validates the event and queues it; returns its id (a UUIDv7, also its SNS
    /// deduplication id). Never waits. Throws a `TypeError` with
    /// `code: 'ERR_INVALID_EVENT'` and `field` for bad input, `ERR_LOGGER_CLOSED` after
    /// `close()`, and `ERR_QUEUE_FULL` when the queue is full and `overflow` is `'reject'`.
    ///
    /// A value JSON cannot carry, anywhere in the event, is refused with its path in
    /// `field` rather than dropped or changed: a function, a symbol, a BigInt, `NaN`,
    /// `±Infinity`, `undefined` or a hole inside an array, a lone UTF-16 surrogate, a
    /// cycle, a getter or `toJSON` that throws. What JSON defines goes through as JSON
    /// carries it: a property whose value is `undefined` is left out, and a value with
    /// `toJSON` (a `Date`) becomes what `toJSON` returns, then is checked like any other.
    #[napi(catch_unwind, ts_args_type = "event: AnalyticsEvent")]
    pub fn log(&self, env: Env, event: Unknown) -> Result<String> {
        self.log_value(&env, event, None)
    }

    /// `log()` of a JavaScript value, for this class and the Apps-Engine bridge.
    pub(crate) fn log_value(
        &self,
        env: &Env,
        event: Unknown,
        app_id: Option<&str>,
    ) -> Result<String> {
        self.log_value_sized(env, event, app_id).map(|(id, _)| id)
    }

    /// [`Self::log_value`], and the bytes of the event's JSON text (what an App's byte
    /// budget is charged).
    pub(crate) fn log_value_sized(
        &self,
        env: &Env,
        event: Unknown,
        app_id: Option<&str>,
    ) -> Result<(String, usize)> {
        let env = *env;
        let kind = event.get_type()?;
        if kind != ValueType::Object || napi_raw::is_array(&env, &event) {
            self.logger.count_invalid();
            return Err(js_error::invalid_event(
                &env,
                "event",
                &format!(
                    "invalid analytics event: event must be an object, got {}",
                    type_name(kind)
                ),
            ));
        }
        let text = match self.serialize(&env, event, None) {
            Ok(Serialized::Text(text)) => text,
            Ok(Serialized::Refused(refused)) => {
                self.logger.count_invalid();
                return Err(js_error::log_error(
                    &env,
                    &LogError::Invalid(refused.into_invalid_event()),
                ));
            }
            Err(e) => {
                self.logger.count_invalid();
                return Err(e);
            }
        };
        fast_log::with_json_buf(|buf| {
            let json = fast_log::copy_text(&env, &text, buf)
                .inspect_err(|_| self.logger.count_invalid())?;
            self.log_text(&env, json, app_id).map(|id| (id, json.len()))
        })
    }

    /// Runs the event serializer on `value` (`root` names it in errors). A throw of
    /// the serializer itself, which would be a bug, becomes ERR_INVALID_EVENT.
    fn serialize<'env>(
        &self,
        env: &'env Env,
        value: Unknown<'env>,
        root: Option<&str>,
    ) -> Result<Serialized<'env>> {
        let serializer = self.event_json.borrow_back(env)?;
        let serializer = napi_raw::unknown(env, &serializer.coerce_to_object()?);
        event_json::serialize(env, &serializer, &value, root)
            .map_err(|why| fast_log::unserializable(env, why.as_deref()))
    }

    /// Logs an event given as JSON text; throws like `log()`.
    pub(crate) fn log_text(&self, env: &Env, json: &str, app_id: Option<&str>) -> Result<String> {
        match self.logger.log_json_for(json, app_id) {
            Ok(id) => Ok(id_string(id)),
            Err(e) => Err(js_error::log_error(env, &e)),
        }
    }

    /// Logs an event of the Livechat widget from the untrusted body of the server's
    /// widget endpoint, `{ token, rid, tabId?, category, action, properties? }`:
    /// checked strictly (no unknown keys, bounded sizes, only the events the plan
    /// marks `widget`, their properties exactly as planned), stamped
    /// `eventType: 'customerAction'`, the visitor token never forwarded. Returns the
    /// event id. Throws a `TypeError` with `field` and `code` `'ERR_INVALID_EVENT'`
    /// or `'ERR_EVENT_TOO_LARGE'` (the route answers 400, `errorType`
    /// `error-invalid-event` or `error-event-too-large`), or an `Error` with `code`
    /// `'RATE_LIMITED'` and `field` `token` or `rid` over the caps per visitor or room
    /// (`widgetEventsPerVisitor`, `widgetEventsPerRoom`; the route answers 429); the
    /// route has already checked the token and the room.
    #[napi(catch_unwind, ts_args_type = "body: unknown")]
    pub fn log_widget_event(&self, env: Env, body: Unknown) -> Result<String> {
        let text = match self.serialize(&env, body, Some("body")) {
            Ok(Serialized::Text(text)) => text,
            Ok(Serialized::Refused(refused)) => {
                self.logger.count_invalid();
                return Err(js_error::invalid_widget_event(
                    &env,
                    &WidgetError::refused(refused),
                ));
            }
            Err(e) => {
                self.logger.count_invalid();
                return Err(e);
            }
        };
        let mut buf = Vec::new();
        let json = fast_log::copy_text(&env, &text, &mut buf)
            .inspect_err(|_| self.logger.count_invalid())?;
        match self.logger.log_widget_json(json) {
            Ok(id) => Ok(id_string(id)),
            Err(WidgetLogError::Widget(e)) => Err(js_error::invalid_widget_event(&env, &e)),
            Err(WidgetLogError::Log(e)) => Err(js_error::log_error(&env, &e)),
        }
    }

    /// Throws what `log()` would throw for an App's event of `category` that names
    /// `dialogflowAgentId`, when `appAccess` does not allow it (`PERMISSION_DENIED`,
    /// with `field`), without logging anything: for a report that another path's event
    /// carries (a room start merged with the server's, whose agent the App names).
    #[napi(catch_unwind)]
    pub fn check_app_access(
        &self,
        env: Env,
        app_id: String,
        category: String,
        dialogflow_agent_id: Option<String>,
    ) -> Result<()> {
        self.logger
            .check_app_access(&app_id, &category, dialogflow_agent_id.as_deref())
            .map_err(|refusal| js_error::log_error(&env, &LogError::NotAllowed(refusal)))
    }

    /// The logger's counters in the Prometheus text exposition format, for the
    /// server's metrics endpoint: `rocketchat_sns_analytics_*` with the labels `topic`,
    /// `reason`, `kind`, `app` and `result`.
    #[napi(catch_unwind)]
    pub fn metrics(&self) -> String {
        self.logger.metrics()
    }

    /// The same metrics as data, family by family (`metricDefinitions()` lists the
    /// families without samples): what `registerPrometheusMetrics` publishes through
    /// prom-client, so that both exporters have the same names, labels and values.
    #[napi(catch_unwind)]
    pub fn metric_families(&self) -> Vec<crate::binding::metrics::MetricFamily> {
        self.logger
            .metric_families()
            .into_iter()
            .map(Into::into)
            .collect()
    }

    /// Resolves once every event logged before the call is delivered, has
    /// definitively failed, or is held for a paused destination (counted in the
    /// report's `held`), with the logger's account. Never rejects.
    #[napi(catch_unwind, ts_return_type = "Promise<DeliveryReport>")]
    pub fn flush<'env>(&self, env: &'env Env) -> Result<Object<'env>> {
        let (deferred, promise) = env.create_deferred::<DeliveryReport, Resolver>()?;
        self.logger.flush(Box::new(move |report: CoreReport| {
            deferred.resolve(Box::new(move |_env| Ok(report.into())));
        }));
        Ok(promise)
    }

    /// Stops accepting events (`log()` then throws `ERR_LOGGER_CLOSED`), delivers
    /// what is queued, and resolves with the logger's account; after `timeoutMs`
    /// (default `shutdownTimeoutMs`) whatever is left is reported failed with
    /// `ERR_SHUTDOWN_TIMEOUT` (with `spoolDir`: left in the spool for the next
    /// logger). A paused destination is probed once at once; if SNS still refuses it,
    /// its held events are left in the spool, or without `spoolDir` reported by id
    /// with `ERR_DESTINATION_UNAVAILABLE` and counted failed, without waiting for the
    /// deadline. Calling it again resolves again.
    #[napi(catch_unwind, ts_return_type = "Promise<DeliveryReport>")]
    pub fn close<'env>(
        &self,
        env: &'env Env,
        options: Option<CloseOptions>,
    ) -> Result<Object<'env>> {
        let timeout = match options.and_then(|o| o.timeout_ms) {
            Some(ms) => Some(
                millis("timeoutMs", Some(ms), 0, 0, 3_600_000)
                    .map_err(|e| js_error::invalid_option(env, &e))?,
            ),
            None => None::<Duration>,
        };
        let (deferred, promise) = env.create_deferred::<DeliveryReport, Resolver>()?;
        self.logger.close(
            timeout,
            Box::new(move |report: CoreReport| {
                deferred.resolve(Box::new(move |_env| Ok(report.into())));
            }),
        );
        Ok(promise)
    }

    /// The logger's counters, read without waiting for the background.
    #[napi(catch_unwind)]
    pub fn stats(&self) -> LoggerStats {
        let mut stats: LoggerStats = self.logger.stats().into();
        stats.apps = app_counts(&self.logger.labels().snapshot());
        stats.sources = (&self.logger.sources()).into();
        stats.paused = self
            .logger
            .paused_destinations()
            .iter()
            .map(Into::into)
            .collect();
        stats
    }

    pub(crate) fn core(&self) -> &Logger {
        &self.logger
    }

    /// Applies new options while the logger runs, e.g. when an admin changes
    /// Rocket.Chat's settings: the topic, region, endpoint, credentials, batching,
    /// plan or format. Takes the same object as the constructor (the whole of it, not
    /// a change). Events logged from now on use the new options; events already
    /// queued keep the topic they were routed to and are neither dropped nor sent
    /// twice. `spoolDir` cannot change. Throws like the constructor, and
    /// `ERR_LOGGER_CLOSED` after `close()`; on a throw nothing changes.
    #[napi(catch_unwind, ts_args_type = "options: LoggerOptions")]
    pub fn reconfigure(&self, env: Env, options: Unknown) -> Result<()> {
        if self.logger.is_closed() {
            return Err(js_error::closed(&env, "reconfigure()"));
        }
        let config = read_options(&env, options)?
            .into_config_on(self.logger.topic_table())
            .map_err(|e| js_error::invalid_option(&env, &e))?;
        self.logger
            .reconfigure(config)
            .map_err(|e| js_error::invalid_option(&env, &e))
    }

    /// Whether `close()` has been called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.logger.is_closed()
    }

    /// Registers a callback for failures in the background (events given up, queue
    /// overflow). It is called on the JavaScript thread, later; it never keeps the
    /// process alive on its own.
    #[napi(
        catch_unwind,
        ts_args_type = "callback: (error: DeliveryError) => void"
    )]
    pub fn on_error(&self, env: Env, callback: Function<DeliveryError, ()>) -> Result<()> {
        if self.logger.is_closed() {
            return Err(js_error::closed(&env, "onError()"));
        }
        let tsfn = Arc::new(
            callback
                .build_threadsafe_function::<DeliveryError>()
                .weak::<true>()
                .callee_handled::<false>()
                .build()?,
        );
        self.logger.on_error(Arc::new(move |e| {
            tsfn.call(e.into(), ThreadsafeFunctionCallMode::NonBlocking);
        }));
        Ok(())
    }
}

impl Drop for AnalyticsLogger {
    fn drop(&mut self) {
        fast_log::unregister(self.slot);
    }
}

type Resolver = Box<dyn FnOnce(Env) -> Result<DeliveryReport>>;

fn id_string(id: uuid::Uuid) -> String {
    let mut out = uuid::Uuid::encode_buffer();
    id.hyphenated().encode_lower(&mut out).to_owned()
}

/// Bridge calls per app, for `stats().apps`.
fn app_counts(c: &Counters) -> std::collections::HashMap<String, AppCounts> {
    let mut out: std::collections::HashMap<String, AppCounts> = std::collections::HashMap::new();
    for ((app, result), n) in &c.apps {
        let e = out.entry(app.clone()).or_default();
        let n = *n as i64;
        match result {
            AppResult::Logged => e.logged += n,
            AppResult::PermissionDenied => e.permission_denied += n,
            AppResult::RateLimited => e.rate_limited += n,
            AppResult::Invalid => e.invalid += n,
        }
    }
    out
}

/// The options object, read into the core's [`Options`] (which names the option at
/// fault, misspelt names included).
fn read_options(env: &Env, options: Unknown) -> Result<Options> {
    let kind = options.get_type()?;
    let Some(object) = napi_raw::as_object(env, options)? else {
        return Err(js_error::invalid_option(
            env,
            &InvalidOption::new(
                "options",
                format!("must be an object, got {}", type_name(kind)),
            ),
        ));
    };
    Options::deserialize_from(&mut napi::De::new(&object), |e| e.reason)
        .map_err(|e| js_error::invalid_option(env, &e))
}

fn type_name(kind: ValueType) -> &'static str {
    match kind {
        ValueType::Undefined => "undefined",
        ValueType::Null => "null",
        ValueType::Boolean => "a boolean",
        ValueType::Number => "a number",
        ValueType::String => "a string",
        ValueType::Symbol => "a symbol",
        ValueType::Function => "a function",
        ValueType::BigInt => "a bigint",
        _ => "an array",
    }
}

//! `new AnalyticsLogger(options)`: every option is one field here (its doc comment
//! is the JSDoc in `index.d.ts`), and `into_config` is the one place that applies
//! defaults and validates, naming the option in every error.

use std::collections::HashMap;
use std::sync::Arc;

use napi_derive::napi;

use crate::core::encode::{agent_topics_from_json, Router, TopicTable};
use crate::core::encode::{BodyFormat, CiaoFields, CIAO_DETAILS, CIAO_PARTY_PROPERTY};
use crate::core::encode::{EncoderConfig, MessageGroup, Validation};
use crate::core::error::InvalidOption;
use crate::core::event::MAX_MESSAGE_BYTES;
use crate::core::options::RetryPolicy;
use crate::core::options::{
    check_endpoint, check_non_empty, check_site_url, check_subject, defaults, millis,
    parse_topic_arn, whole_number, LoggerConfig, Overflow, SnsConfig, SpoolConfig,
    StaticCredentials,
};
use crate::core::plan::{PlanSource, TrackingPlan};

/// AWS credentials given explicitly instead of the AWS default provider chain.
#[napi(object)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

/// Options of `new AnalyticsLogger(options)`.
#[napi(object)]
pub struct LoggerOptions {
    /// ARN of the SNS topic to publish to. A name ending in `.fifo` makes it a FIFO
    /// topic: ordered, deduplicated by event id.
    pub topic_arn: String,
    /// The Rocket.Chat site URL. It is the `MessageGroupId` on FIFO topics, so it must
    /// be 1-128 printable ASCII characters.
    pub site_url: String,
    /// AWS region. Default: `AWS_REGION`/`AWS_DEFAULT_REGION`, the AWS profile, then
    /// the region in `topicArn`.
    pub region: Option<String>,
    /// SNS endpoint URL, e.g. a local emulator. Default: `AWS_ENDPOINT_URL_SNS`,
    /// `AWS_ENDPOINT_URL` (or the profile's `endpoint_url`), then the regional endpoint
    /// (`AWS_USE_FIPS_ENDPOINT` and `AWS_USE_DUALSTACK_ENDPOINT` are honoured).
    pub endpoint: Option<String>,
    /// Default: the AWS default provider chain (environment, profile, web identity,
    /// ECS, instance metadata).
    pub credentials: Option<AwsCredentials>,
    /// SNS `Subject` of every message. Default `'RC'`.
    pub subject: Option<String>,
    /// Added to events that carry no `dialogflowAgentId`.
    pub dialogflow_agent_id: Option<String>,
    /// Events per PublishBatch request, 1-10. Default 10.
    pub max_batch_size: Option<f64>,
    /// Longest an event waits for its batch to fill, in ms (1-3600000). Default 1000.
    pub flush_interval_ms: Option<f64>,
    /// Most events held in memory (queued or in flight). Default 100000.
    pub max_queue_events: Option<f64>,
    /// Most bytes of event bodies held in memory. Default 67108864 (64 MiB).
    pub max_queue_bytes: Option<f64>,
    /// When the queue is full: `'reject'` makes `log()` throw `ERR_QUEUE_FULL`;
    /// `'dropNewest'` (default) drops the new event, `'dropOldest'` the oldest one not
    /// yet sent; both report the dropped ids through `onError`.
    #[napi(ts_type = "'reject' | 'dropNewest' | 'dropOldest'")]
    pub overflow: Option<String>,
    /// Time from an event's first send after which transient failures stop being
    /// retried and it is reported failed, in ms. Default 120000 (inside SNS FIFO's
    /// five-minute deduplication window).
    pub retry_budget_ms: Option<f64>,
    /// Backoff cap of the first retry, in ms; it doubles per retry. Default 100.
    pub retry_initial_backoff_ms: Option<f64>,
    /// Largest backoff between retries, in ms. Default 10000.
    pub retry_max_backoff_ms: Option<f64>,
    /// Time allowed for one HTTP request to SNS, in ms. Default 10000.
    pub request_timeout_ms: Option<f64>,
    /// PublishBatch requests in flight at once on a standard topic, 1-64. Default 8.
    /// FIFO topics always send one at a time, to keep order.
    pub max_concurrent_batches: Option<f64>,
    /// How long `close()` and the process's exit keep delivering what is held before
    /// giving up on it, in ms. Default 5000.
    pub shutdown_timeout_ms: Option<f64>,
    /// The tracking plan events are checked against: a built-in plan
    /// (`'rocketchat-livechat'`, `'chat-messaging'`), the path of a `.yaml`, `.yml` or
    /// `.json` plan file (read once, here), or a plan object. Default: none.
    #[napi(ts_type = "string | TrackingPlanDocument")]
    pub tracking_plan: Option<serde_json::Value>,
    /// What a plan violation does: `'strict'` (default) makes `log()` throw a
    /// `TypeError` with `code: 'ERR_TRACKING_PLAN'` and `violations`; `'warn'`
    /// publishes the event, counts it in `stats().violations` and reports each kind,
    /// event and path once through `onError`; `'off'` does not check.
    #[napi(ts_type = "'strict' | 'warn' | 'off'")]
    pub validation: Option<String>,
    /// One topic per Dialogflow agent: `{ [dialogflowAgentId]: topicArn }`, or the path
    /// of a df_config.json mapping each agent id to its ARN or to an object with
    /// `sns_arn_topic`. An event goes to its agent's topic, else its plan
    /// destination, else `topicArn`. All topics must be in `topicArn`'s region.
    #[napi(ts_type = "string | Record<string, string>")]
    pub agent_topics: Option<serde_json::Value>,
    /// The FIFO `MessageGroupId`: `'site'` (default) is `siteUrl`, one ordered stream
    /// per site; `'room'` is `${siteUrl}/${roomId}`, so each conversation stays ordered
    /// while rooms publish in parallel. Events without a `roomId` use the site's group.
    #[napi(ts_type = "'site' | 'room'")]
    pub message_group: Option<String>,
    /// The message body: `'rc'` (default) is the SNS Logger body (`dialogflowAgentId`,
    /// `roomId`, `tabId`, `category`, `action`, `properties`, `eventType`,
    /// `timestamp`); `'ciao'` is the older flat Ciao analytics body (`application`,
    /// `business`, `ciao_deployment`, `event`, `event_detail_1..4`, ...), which needs
    /// `application`, `business` and `deployment`.
    #[napi(ts_type = "'rc' | 'ciao'")]
    pub format: Option<String>,
    /// `format: 'ciao'`: the `application` field, e.g. `'WhatsApp'`.
    pub application: Option<String>,
    /// `format: 'ciao'`: the `business` field, e.g. `'BR'`.
    pub business: Option<String>,
    /// `format: 'ciao'`: the `ciao_deployment` field, e.g. `'brazil-prod'`.
    pub deployment: Option<String>,
    /// `format: 'ciao'`: the `source_component` field. Default `'Rocket.Chat'`.
    pub source_component: Option<String>,
    /// A folder for the disk spool: every accepted event is written there until SNS
    /// has it, so that an outage, a full memory queue, a restart or a crash loses
    /// nothing; a new logger on the folder delivers what an earlier one left. Created if
    /// missing; locked, so two loggers can never share it. Default: none (memory only).
    pub spool_dir: Option<String>,
    /// Bytes of events the spool may hold, counted as `maxQueueBytes` counts them;
    /// past it `overflow` applies. Default 1073741824 (1 GiB).
    pub max_spool_bytes: Option<f64>,
    /// Longest an accepted event waits before it is written to the spool file, in ms
    /// (1-60000): a crash of the process loses at most this much. Default 50.
    pub spool_sync_ms: Option<f64>,
}

/// A tracking plan given in code; the same shape as a plan file.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // Type only: read as JSON by the core's plan loader.
pub struct TrackingPlanDocument {
    /// Default: the file's name, else `'inline'`.
    pub name: Option<String>,
    pub description: Option<String>,
    /// Plans this one builds on (built-in names or paths); its own events and
    /// destinations override theirs.
    #[napi(ts_type = "string | string[]")]
    pub extend: Option<String>,
    /// `'Category'` or `'Category/action'` → topic ARN.
    pub destinations: Option<HashMap<String, String>>,
    /// Category → action → definition (`null` for an event without properties).
    #[napi(ts_type = "Record<string, Record<string, PlannedEventDefinition | null>>")]
    pub events: Option<HashMap<String, String>>,
}

/// One event of a tracking plan.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // Type only.
pub struct PlannedEventDefinition {
    pub description: Option<String>,
    /// `'Category/action'` whose properties, eventType and widget flag this event
    /// inherits (its own override them). Naming itself means the base plan's version.
    pub extend: Option<String>,
    /// Allowed `eventType`s. Default `'any'`.
    #[napi(ts_type = "'session' | 'customerAction' | 'any' | Array<'session' | 'customerAction'>")]
    pub event_type: Option<String>,
    /// The Livechat widget may send it.
    pub widget: Option<bool>,
    /// Property name → `'string' | 'integer' | 'number' | 'boolean' | 'timestamp'`,
    /// with `[]` for an array and `?` for optional (`'string[]?'`); a list of enum
    /// values; or `{ type, values, required, nullable, description }`.
    #[napi(ts_type = "Record<string, string | string[] | PlannedPropertyDefinition>")]
    pub properties: Option<HashMap<String, String>>,
}

/// The long form of a planned property.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // Type only.
pub struct PlannedPropertyDefinition {
    /// A type name as in the short form, or `'enum'` with `values`.
    #[napi(js_name = "type")]
    pub kind: Option<String>,
    pub values: Option<Vec<String>>,
    /// Default `true`.
    pub required: Option<bool>,
    /// A required property may be `null`. Default `false`.
    pub nullable: Option<bool>,
    pub description: Option<String>,
}

/// The option names, for refusing misspelt ones (`flushInterval`) instead of
/// silently ignoring them.
pub const OPTION_NAMES: &[&str] = &[
    "topicArn",
    "siteUrl",
    "region",
    "endpoint",
    "credentials",
    "subject",
    "dialogflowAgentId",
    "maxBatchSize",
    "flushIntervalMs",
    "maxQueueEvents",
    "maxQueueBytes",
    "overflow",
    "retryBudgetMs",
    "retryInitialBackoffMs",
    "retryMaxBackoffMs",
    "requestTimeoutMs",
    "maxConcurrentBatches",
    "shutdownTimeoutMs",
    "trackingPlan",
    "validation",
    "agentTopics",
    "messageGroup",
    "format",
    "application",
    "business",
    "deployment",
    "sourceComponent",
    "spoolDir",
    "maxSpoolBytes",
    "spoolSyncMs",
];

pub fn check_option_name(name: &str) -> Result<(), InvalidOption> {
    if OPTION_NAMES.contains(&name) {
        return Ok(());
    }
    Err(InvalidOption::new(
        name,
        format!(
            "is not an option; the options are {}",
            OPTION_NAMES.join(", ")
        ),
    ))
}

const HOUR_MS: u64 = 3_600_000;

fn load_plan(source: serde_json::Value) -> Result<TrackingPlan, InvalidOption> {
    let source = match source {
        serde_json::Value::String(name_or_path) => {
            check_non_empty("trackingPlan", &name_or_path)?;
            PlanSource::from_name_or_path(&name_or_path)
        }
        object @ serde_json::Value::Object(_) => PlanSource::Object(object),
        other => {
            return Err(InvalidOption::new(
                "trackingPlan",
                format!(
                    "must be a built-in plan's name, a file path or a plan object, got {other}"
                ),
            ))
        }
    };
    source
        .load()
        .map_err(|why| InvalidOption::new("trackingPlan", why))
}

fn agent_topics(value: Option<serde_json::Value>) -> Result<Vec<(String, String)>, InvalidOption> {
    match value {
        None => Ok(Vec::new()),
        Some(serde_json::Value::String(path)) => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                InvalidOption::new(
                    "agentTopics",
                    format!(
                        "{path}: cannot be read ({e}); give a df_config.json path or an object"
                    ),
                )
            })?;
            agent_topics_from_json(&text, &path)
        }
        Some(serde_json::Value::Object(map)) => map
            .into_iter()
            .map(|(agent, arn)| match arn {
                serde_json::Value::String(arn) => Ok((agent, arn)),
                other => Err(InvalidOption::new(
                    format!("agentTopics.{agent}"),
                    format!("must be a topic ARN, got {other}"),
                )),
            })
            .collect(),
        Some(other) => Err(InvalidOption::new(
            "agentTopics",
            format!(
                "must be an object of agent id to topic ARN, or a df_config.json path, got {other}"
            ),
        )),
    }
}

/// `format`, with the `ciao` fields it needs. A planned event with more properties
/// than `event_detail_1..4` can hold is refused here, not at its first `log()`.
fn body_format(
    o: &LoggerOptions,
    plan: Option<&TrackingPlan>,
) -> Result<BodyFormat, InvalidOption> {
    match o.format.as_deref() {
        None | Some("rc") => Ok(BodyFormat::Rc),
        Some("ciao") => {
            let required = |option: &str, value: &Option<String>| match value {
                Some(v) if !v.is_empty() => Ok(v.clone()),
                _ => Err(InvalidOption::new(
                    option,
                    format!(
                        "is required with format 'ciao' (it fills the body's `{}` field)",
                        match option {
                            "deployment" => "ciao_deployment",
                            other => other,
                        }
                    ),
                )),
            };
            if let Some(plan) = plan {
                for e in &plan.events {
                    let n = e
                        .properties
                        .iter()
                        .filter(|p| &*p.name != CIAO_PARTY_PROPERTY)
                        .count();
                    if n > CIAO_DETAILS {
                        return Err(InvalidOption::new(
                            "format",
                            format!(
                                "'ciao' has room for {CIAO_DETAILS} properties (event_detail_1..4), but \
                                 tracking plan '{}' gives {}/{} {n}",
                                plan.name, e.category, e.action
                            ),
                        ));
                    }
                }
            }
            Ok(BodyFormat::Ciao(CiaoFields {
                application: required("application", &o.application)?,
                business: required("business", &o.business)?,
                deployment: required("deployment", &o.deployment)?,
                source_component: o
                    .source_component
                    .clone()
                    .unwrap_or_else(|| defaults::SOURCE_COMPONENT.to_owned()),
            }))
        }
        Some(other) => Err(InvalidOption::new(
            "format",
            format!("must be 'rc' or 'ciao', got {other:?}"),
        )),
    }
}

impl LoggerOptions {
    /// The configuration of a new logger.
    pub fn into_config(self) -> Result<LoggerConfig, InvalidOption> {
        self.into_config_on(Arc::default())
    }

    /// The configuration, its topics numbered in `topics` (a running logger's table,
    /// for `reconfigure()`).
    pub fn into_config_on(
        mut self,
        topics: Arc<TopicTable>,
    ) -> Result<LoggerConfig, InvalidOption> {
        let topic = parse_topic_arn(&self.topic_arn)?;
        check_site_url(&self.site_url)?;
        let subject = self
            .subject
            .take()
            .unwrap_or_else(|| defaults::SUBJECT.to_owned());
        check_subject(&subject)?;
        if let Some(region) = &self.region {
            check_non_empty("region", region)?;
        }
        if let Some(endpoint) = &self.endpoint {
            check_endpoint(endpoint)?;
        }
        let credentials = match self.credentials.take() {
            Some(c) => {
                check_non_empty("credentials.accessKeyId", &c.access_key_id)?;
                check_non_empty("credentials.secretAccessKey", &c.secret_access_key)?;
                Some(StaticCredentials {
                    access_key_id: c.access_key_id,
                    secret_access_key: c.secret_access_key,
                    session_token: c.session_token.filter(|t| !t.is_empty()),
                })
            }
            None => None,
        };
        let overflow = match &self.overflow {
            Some(o) => Overflow::parse(o)?,
            None => Overflow::DropNewest,
        };
        let retry = RetryPolicy {
            initial_backoff: millis(
                "retryInitialBackoffMs",
                self.retry_initial_backoff_ms,
                defaults::RETRY_INITIAL_BACKOFF_MS,
                1,
                HOUR_MS,
            )?,
            max_backoff: millis(
                "retryMaxBackoffMs",
                self.retry_max_backoff_ms,
                defaults::RETRY_MAX_BACKOFF_MS,
                1,
                HOUR_MS,
            )?,
            budget: millis(
                "retryBudgetMs",
                self.retry_budget_ms,
                defaults::RETRY_BUDGET_MS,
                0,
                24 * HOUR_MS,
            )?,
        };
        if retry.max_backoff < retry.initial_backoff {
            return Err(InvalidOption::new(
                "retryMaxBackoffMs",
                format!(
                    "must be at least retryInitialBackoffMs ({} ms), got {} ms",
                    retry.initial_backoff.as_millis(),
                    retry.max_backoff.as_millis()
                ),
            ));
        }
        let plan = self.tracking_plan.take().map(load_plan).transpose()?;
        let validation = match &self.validation {
            Some(v) => Validation::parse(v)?,
            None => Validation::Strict,
        };
        let message_group = match &self.message_group {
            Some(g) => MessageGroup::parse(g)?,
            None => MessageGroup::Site,
        };
        let format = body_format(&self, plan.as_ref())?;
        let router = Router::new(
            topics,
            &self.topic_arn,
            &agent_topics(self.agent_topics.take())?,
            plan.as_ref().map_or(&[][..], |p| &p.destinations[..]),
        )?;
        let spool = match self.spool_dir.take() {
            Some(dir) => {
                check_non_empty("spoolDir", &dir)?;
                Some(SpoolConfig {
                    dir: dir.into(),
                    max_bytes: whole_number(
                        "maxSpoolBytes",
                        self.max_spool_bytes,
                        defaults::MAX_SPOOL_BYTES,
                        1 << 20,
                        1 << 50,
                    )?,
                    sync_interval: millis(
                        "spoolSyncMs",
                        self.spool_sync_ms,
                        defaults::SPOOL_SYNC_MS,
                        1,
                        60_000,
                    )?,
                })
            }
            None => {
                for (option, set) in [
                    ("maxSpoolBytes", self.max_spool_bytes.is_some()),
                    ("spoolSyncMs", self.spool_sync_ms.is_some()),
                ] {
                    if set {
                        return Err(InvalidOption::new(option, "needs spoolDir"));
                    }
                }
                None
            }
        };
        let encoder = EncoderConfig {
            default_agent_id: self.dialogflow_agent_id.unwrap_or_default(),
            plan: plan.map(Arc::new),
            validation,
            format,
            message_group,
            site_url: self.site_url,
            router,
        };
        Ok(LoggerConfig {
            encoder,
            subject,
            max_batch_size: whole_number(
                "maxBatchSize",
                self.max_batch_size,
                defaults::MAX_BATCH_SIZE,
                1,
                10,
            )? as usize,
            flush_interval: millis(
                "flushIntervalMs",
                self.flush_interval_ms,
                defaults::FLUSH_INTERVAL_MS,
                1,
                HOUR_MS,
            )?,
            max_queue_events: whole_number(
                "maxQueueEvents",
                self.max_queue_events,
                defaults::MAX_QUEUE_EVENTS,
                1,
                1 << 40,
            )? as usize,
            max_queue_bytes: whole_number(
                "maxQueueBytes",
                self.max_queue_bytes,
                defaults::MAX_QUEUE_BYTES,
                // At least one message of the largest size SNS takes.
                MAX_MESSAGE_BYTES as u64,
                1 << 50,
            )? as usize,
            overflow,
            retry,
            max_concurrent_batches: whole_number(
                "maxConcurrentBatches",
                self.max_concurrent_batches,
                defaults::MAX_CONCURRENT_BATCHES,
                1,
                64,
            )? as usize,
            shutdown_timeout: millis(
                "shutdownTimeoutMs",
                self.shutdown_timeout_ms,
                defaults::SHUTDOWN_TIMEOUT_MS,
                0,
                HOUR_MS,
            )?,
            sns: SnsConfig {
                region: self.region,
                arn_region: topic.region,
                endpoint: self.endpoint,
                credentials,
                request_timeout: millis(
                    "requestTimeoutMs",
                    self.request_timeout_ms,
                    defaults::REQUEST_TIMEOUT_MS,
                    1,
                    HOUR_MS,
                )?,
            },
            spool,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn minimal() -> LoggerOptions {
        LoggerOptions {
            topic_arn: "arn:aws:sns:eu-west-1:123456789012:rc-analytics.fifo".into(),
            site_url: "https://chat.example.com".into(),
            region: None,
            endpoint: None,
            credentials: None,
            subject: None,
            dialogflow_agent_id: None,
            max_batch_size: None,
            flush_interval_ms: None,
            max_queue_events: None,
            max_queue_bytes: None,
            overflow: None,
            retry_budget_ms: None,
            retry_initial_backoff_ms: None,
            retry_max_backoff_ms: None,
            request_timeout_ms: None,
            max_concurrent_batches: None,
            shutdown_timeout_ms: None,
            spool_dir: None,
            max_spool_bytes: None,
            spool_sync_ms: None,
            tracking_plan: None,
            validation: None,
            agent_topics: None,
            message_group: None,
            format: None,
            application: None,
            business: None,
            deployment: None,
            source_component: None,
        }
    }

    #[test]
    fn defaults_are_applied_in_one_place() {
        let c = minimal().into_config().unwrap();
        assert!(c.encoder.router.is_fifo(0));
        assert_eq!(c.encoder.router.table().snapshot().len(), 1);
        assert!(c.encoder.plan.is_none());
        assert_eq!(c.encoder.validation, Validation::Strict);
        assert_eq!(c.encoder.message_group, MessageGroup::Site);
        assert_eq!(c.encoder.format, BodyFormat::Rc);
        assert_eq!(c.subject, "RC");
        assert_eq!(c.max_batch_size, 10);
        assert_eq!(c.flush_interval, Duration::from_millis(1000));
        assert_eq!((c.max_queue_events, c.max_queue_bytes), (100_000, 64 << 20));
        assert_eq!(c.overflow, Overflow::DropNewest);
        assert_eq!(c.retry, RetryPolicy::default());
        assert_eq!(c.max_concurrent_batches, 8);
        assert_eq!(c.shutdown_timeout, Duration::from_secs(5));
        assert_eq!(c.sns.arn_region, "eu-west-1");
        assert_eq!(c.sns.region, None);
        assert_eq!(c.encoder.default_agent_id, "");
    }

    #[test]
    fn every_option_name_is_a_field() {
        // The list that refuses misspelt options must match the struct exactly.
        assert_eq!(OPTION_NAMES.len(), 30);
        assert!(check_option_name("flushIntervalMs").is_ok());
        let err = check_option_name("flushInterval").unwrap_err();
        assert_eq!(err.option, "flushInterval");
        assert!(err.reason.contains("flushIntervalMs"));
    }

    #[test]
    fn errors_name_the_option() {
        let mut o = minimal();
        o.max_concurrent_batches = Some(0.0);
        assert_eq!(o.into_config().unwrap_err().option, "maxConcurrentBatches");
        let mut o = minimal();
        o.credentials = Some(AwsCredentials {
            access_key_id: "".into(),
            secret_access_key: "s".into(),
            session_token: None,
        });
        assert_eq!(
            o.into_config().unwrap_err().option,
            "credentials.accessKeyId"
        );
        let mut o = minimal();
        o.region = Some("".into());
        assert_eq!(o.into_config().unwrap_err().option, "region");
    }

    #[test]
    fn plan_routing_and_format_options() {
        let mut o = minimal();
        o.tracking_plan = Some(serde_json::json!("rocketchat-livechat"));
        o.validation = Some("warn".into());
        o.message_group = Some("room".into());
        o.agent_topics = Some(serde_json::json!({
            "b598": "arn:aws:sns:eu-west-1:123456789012:agent-b598.fifo"
        }));
        let c = o.into_config().unwrap();
        assert_eq!(c.encoder.plan.as_ref().unwrap().name, "rocketchat-livechat");
        assert_eq!(c.encoder.validation, Validation::Warn);
        assert_eq!(c.encoder.message_group, MessageGroup::Room);
        assert_eq!(c.encoder.router.route("b598", "Survey", "link_clicked"), 1);

        let mut o = minimal();
        o.tracking_plan = Some(serde_json::json!({
            "events": { "Bot": { "answered": { "properties": { "intent": "string" } } } },
            "destinations": { "Bot": "arn:aws:sns:eu-west-1:123456789012:bot" }
        }));
        let c = o.into_config().unwrap();
        assert_eq!(c.encoder.router.route("", "Bot", "answered"), 1);
    }

    #[test]
    fn plan_routing_and_format_errors_name_the_option() {
        type Case = (fn(&mut LoggerOptions), &'static str, &'static str);
        let cases: Vec<Case> = vec![
            (
                |o| o.tracking_plan = Some(serde_json::json!("no-such-plan.yaml")),
                "trackingPlan",
                "cannot be read",
            ),
            (
                |o| o.tracking_plan = Some(serde_json::json!(42)),
                "trackingPlan",
                "got 42",
            ),
            (
                |o| {
                    o.tracking_plan = Some(
                        serde_json::json!({"events": {"C": {"a": {"properties": {"x": "strng"}}}}}),
                    )
                },
                "trackingPlan",
                "did you mean 'string'",
            ),
            (
                |o| o.validation = Some("loud".into()),
                "validation",
                "'strict', 'warn' or 'off'",
            ),
            (
                |o| o.message_group = Some("agent".into()),
                "messageGroup",
                "'site' or 'room'",
            ),
            (
                |o| o.format = Some("csv".into()),
                "format",
                "'rc' or 'ciao'",
            ),
            (
                |o| o.format = Some("ciao".into()),
                "application",
                "required with format 'ciao'",
            ),
            (
                |o| o.agent_topics = Some(serde_json::json!({"a": 1})),
                "agentTopics.a",
                "must be a topic ARN",
            ),
            (
                |o| {
                    o.agent_topics =
                        Some(serde_json::json!({"a": "arn:aws:sns:us-east-1:123456789012:t"}))
                },
                "agentTopics.a",
                "region us-east-1",
            ),
            (
                |o| o.agent_topics = Some(serde_json::json!("/nonexistent/df_config.json")),
                "agentTopics",
                "cannot be read",
            ),
            (
                |o| {
                    o.format = Some("ciao".into());
                    o.application = Some("WhatsApp".into());
                    o.business = Some("BR".into());
                    o.deployment = Some("brazil-prod".into());
                    o.tracking_plan = Some(serde_json::json!("chat-messaging"));
                },
                "format",
                "gives Message/sent 10",
            ),
        ];
        for (set, option, words) in cases {
            let mut o = minimal();
            set(&mut o);
            let err = o.into_config().unwrap_err();
            assert_eq!(err.option, option, "{err}");
            assert!(err.reason.contains(words), "{err}");
        }
    }

    mod hostile {
        use super::*;
        use proptest::prelude::*;

        fn number() -> impl Strategy<Value = Option<f64>> {
            prop_oneof![
                Just(None),
                any::<f64>().prop_map(Some),
                (-10i64..100_000).prop_map(|n| Some(n as f64)),
                Just(Some(f64::NAN)),
                Just(Some(1e300)),
            ]
        }

        fn text() -> impl Strategy<Value = Option<String>> {
            prop_oneof![
                Just(None),
                ".{0,30}".prop_map(Some),
                proptest::sample::select(vec![
                    "strict",
                    "warn",
                    "off",
                    "room",
                    "site",
                    "rc",
                    "ciao",
                    "reject",
                    "dropOldest",
                    "rocketchat-livechat",
                    "chat-messaging",
                ])
                .prop_map(|s| Some(s.to_owned())),
            ]
        }

        fn json() -> impl Strategy<Value = Option<serde_json::Value>> {
            prop_oneof![
                Just(None),
                ".{0,20}".prop_map(|s| Some(serde_json::json!(s))),
                Just(Some(
                    serde_json::json!({"events": {"C": {"a": {"properties": {"x": "string?"}}}}})
                )),
                Just(Some(serde_json::json!({"events": 5}))),
                Just(Some(
                    serde_json::json!({"a": "arn:aws:sns:eu-west-1:123456789012:x"})
                )),
                Just(Some(serde_json::json!([1, 2]))),
            ]
        }

        /// The generated inputs (`LoggerOptions` has no `Debug`: it holds credentials).
        type Inputs = (
            String,
            String,
            Vec<Option<f64>>,
            Vec<Option<String>>,
            Vec<Option<serde_json::Value>>,
        );

        fn inputs() -> impl Strategy<Value = Inputs> {
            (
                prop_oneof![
                    Just("arn:aws:sns:eu-west-1:123456789012:t.fifo".to_owned()),
                    ".{0,40}"
                ],
                prop_oneof![Just("https://chat.example.com".to_owned()), ".{0,40}"],
                proptest::collection::vec(number(), 12),
                proptest::collection::vec(text(), 10),
                proptest::collection::vec(json(), 2),
            )
        }

        fn build((topic, site, n, t, j): Inputs) -> LoggerOptions {
            let mut o = minimal();
            o.topic_arn = topic;
            o.site_url = site;
            o.max_batch_size = n[0];
            o.flush_interval_ms = n[1];
            o.max_queue_events = n[2];
            o.max_queue_bytes = n[3];
            o.retry_budget_ms = n[4];
            o.retry_initial_backoff_ms = n[5];
            o.retry_max_backoff_ms = n[6];
            o.request_timeout_ms = n[7];
            o.max_concurrent_batches = n[8];
            o.shutdown_timeout_ms = n[9];
            o.max_spool_bytes = n[10];
            o.spool_sync_ms = n[11];
            [
                o.overflow,
                o.validation,
                o.message_group,
                o.format,
                o.subject,
                o.region,
                o.endpoint,
                o.application,
                o.business,
                o.deployment,
            ] = <[Option<String>; 10]>::try_from(t).expect("ten");
            [o.tracking_plan, o.agent_topics] =
                <[Option<serde_json::Value>; 2]>::try_from(j).expect("two");
            o
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(crate::core::fuzz_cases(256)))]

            /// Any options: a config or an error that names a real option, never a panic.
            #[test]
            fn any_options_convert_or_name_the_option(i in inputs()) {
                if let Err(e) = build(i).into_config() {
                    let root = e.option.split('.').next().unwrap_or_default();
                    prop_assert!(OPTION_NAMES.contains(&root), "{e}");
                    prop_assert!(!e.reason.is_empty());
                }
            }
        }
    }
}

//! The options of `new AnalyticsLogger(options)` as the core reads them: a serde
//! type whose fields are the JavaScript option names (camelCase), unknown names
//! refused, and the one conversion into a [`LoggerConfig`] that applies every default
//! and range check. Each error names the option, from the field itself: serde's path
//! for a wrong type or an unknown name, the checks' own option name otherwise. The
//! binding deserializes the JavaScript object straight into [`Options`]; the admin
//! settings build one from their JSON.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::de::IgnoredAny;
use serde::Deserialize;

use super::{
    check_endpoint, check_non_empty, check_site_url, check_subject, defaults, millis,
    parse_topic_arn, whole_number, LoggerConfig, Overflow, RetryPolicy, Shares, SnsConfig,
    SpoolConfig, StaticCredentials, DEBUG_ENV, MIN_SERVER_PERCENT,
};
use crate::core::encode::AppAccess;
use crate::core::encode::{agent_topics_from_json, Router, TopicTable};
use crate::core::encode::{BodyFormat, CiaoFields, CIAO_DETAILS, CIAO_PARTY_PROPERTY};
use crate::core::encode::{EncoderConfig, MessageGroup, Validation};
use crate::core::error::InvalidOption;
use crate::core::event::MAX_MESSAGE_BYTES;
use crate::core::plan::{PlanSource, TrackingPlan};

/// `credentials`: AWS keys given instead of the default provider chain. No `Debug`:
/// it holds secrets.
///
/// The AWS SDK for JavaScript's credential objects (`AwsCredentialIdentity`) also
/// carry `expiration`, `credentialScope`, `accountId`, and `$source` (which the SDK
/// adds to objects it has used), so that an object shared with the SDK is accepted;
/// those are not used here. Any other name is refused as misspelt.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    #[serde(default, rename = "expiration")]
    _expiration: Option<IgnoredAny>,
    #[serde(default, rename = "credentialScope")]
    _credential_scope: Option<IgnoredAny>,
    #[serde(default, rename = "accountId")]
    _account_id: Option<IgnoredAny>,
    #[serde(default, rename = "$source")]
    _source: Option<IgnoredAny>,
}

/// The options object. Each field is documented where the JavaScript type is declared
/// (`binding/options.rs`, which generates `index.d.ts`); the defaults are in
/// [`defaults`].
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Options {
    pub topic_arn: Option<String>,
    pub site_url: Option<String>,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub credentials: Option<Credentials>,
    pub subject: Option<String>,
    pub dialogflow_agent_id: Option<String>,
    pub max_batch_size: Option<f64>,
    pub flush_interval_ms: Option<f64>,
    pub max_queue_events: Option<f64>,
    pub max_queue_bytes: Option<f64>,
    pub overflow: Option<String>,
    pub retry_budget_ms: Option<f64>,
    pub retry_initial_backoff_ms: Option<f64>,
    pub retry_max_backoff_ms: Option<f64>,
    pub request_timeout_ms: Option<f64>,
    pub max_concurrent_batches: Option<f64>,
    pub shutdown_timeout_ms: Option<f64>,
    /// A built-in plan's name, a plan file's path, or a plan object.
    pub tracking_plan: Option<serde_json::Value>,
    pub validation: Option<String>,
    /// An object of agent id to topic ARN, or a df_config.json path.
    pub agent_topics: Option<serde_json::Value>,
    /// What each App may log: `{ "<app id>": { categories, dialogflowAgentIds } }`.
    pub app_access: Option<serde_json::Value>,
    pub message_group: Option<String>,
    pub format: Option<String>,
    pub application: Option<String>,
    pub business: Option<String>,
    pub deployment: Option<String>,
    pub source_component: Option<String>,
    pub spool_dir: Option<String>,
    pub max_spool_bytes: Option<f64>,
    pub spool_sync_ms: Option<f64>,
    pub max_dead_letter_bytes: Option<f64>,
    pub widget_share_percent: Option<f64>,
    pub app_share_percent: Option<f64>,
    pub apps_share_percent: Option<f64>,
    pub widget_events_per_visitor: Option<f64>,
    pub widget_events_per_room: Option<f64>,
    pub debug: Option<bool>,
}

impl ReadOptions for Options {}

/// An options type as the binding and the admin settings read it: from any serde
/// deserializer, naming the option at fault by its path (`options` for the object
/// itself).
pub trait ReadOptions: DeserializeOwned {
    /// Reads it from `deserializer` (the binding's, over a JavaScript object);
    /// `describe` gives the deserializer's error as text.
    fn deserialize_from<'de, D>(
        deserializer: D,
        describe: impl FnOnce(D::Error) -> String,
    ) -> Result<Self, InvalidOption>
    where
        D: serde::Deserializer<'de>,
    {
        serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let path = e.path().to_string();
            let option = if path.is_empty() || path == "." {
                "options".to_owned()
            } else {
                path
            };
            let reason = describe(e.into_inner());
            // A wrong value's message quotes the value: not for what may be a key. A
            // field's name is no secret, and says what to fix.
            let names_a_field =
                reason.starts_with("unknown field") || reason.starts_with("missing field");
            if option.starts_with("credentials") && !names_a_field {
                return InvalidOption::new(
                    option,
                    "must be { accessKeyId, secretAccessKey, sessionToken? }, each a string \
                     (the value given is not shown: it may be a secret)",
                );
            }
            InvalidOption::new(option, reason)
        })
    }

    /// Reads it from JSON (the admin settings' values).
    fn from_json(value: serde_json::Value) -> Result<Self, InvalidOption> {
        Self::deserialize_from(value, |e| e.to_string())
    }
}

pub(super) const HOUR_MS: u64 = 3_600_000;

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
fn body_format(o: &Options, plan: Option<&TrackingPlan>) -> Result<BodyFormat, InvalidOption> {
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

impl Options {
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
        let shares = self.shares()?;
        let topic_arn = self
            .topic_arn
            .take()
            .ok_or_else(|| InvalidOption::new("topicArn", "is required"))?;
        let site_url = self
            .site_url
            .take()
            .ok_or_else(|| InvalidOption::new("siteUrl", "is required"))?;
        let topic = parse_topic_arn(&topic_arn)?;
        check_site_url(&site_url)?;
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
            &topic_arn,
            &agent_topics(self.agent_topics.take())?,
            plan.as_ref().map_or(&[][..], |p| &p.destinations[..]),
        )?;
        let spool = match self.spool_dir.take() {
            Some(dir) => {
                check_non_empty("spoolDir", &dir)?;
                crate::core::paths::check_path_root(std::path::Path::new(&dir))
                    .map_err(|why| InvalidOption::new("spoolDir", format!("{dir} {why}")))?;
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
                    max_dead_letter_bytes: whole_number(
                        "maxDeadLetterBytes",
                        self.max_dead_letter_bytes,
                        defaults::MAX_DEAD_LETTER_BYTES,
                        // Room for a few records of the largest message SNS takes.
                        1 << 20,
                        1 << 50,
                    )?,
                })
            }
            None => {
                for (option, set) in [
                    ("maxSpoolBytes", self.max_spool_bytes.is_some()),
                    ("spoolSyncMs", self.spool_sync_ms.is_some()),
                    ("maxDeadLetterBytes", self.max_dead_letter_bytes.is_some()),
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
            site_url,
            router,
            app_access: Arc::new(match self.app_access.take() {
                None | Some(serde_json::Value::Null) => AppAccess::default(),
                Some(value) => AppAccess::from_json(&value)?,
            }),
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
            shares,
            debug: self.debug.unwrap_or(false)
                || std::env::var(DEBUG_ENV)
                    .is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true")),
            widget_events_per_visitor: whole_number(
                "widgetEventsPerVisitor",
                self.widget_events_per_visitor,
                defaults::WIDGET_EVENTS_PER_VISITOR,
                1,
                1_000_000,
            )? as u32,
            widget_events_per_room: whole_number(
                "widgetEventsPerRoom",
                self.widget_events_per_room,
                defaults::WIDGET_EVENTS_PER_ROOM,
                1,
                1_000_000,
            )? as u32,
        })
    }

    fn shares(&self) -> Result<Shares, InvalidOption> {
        let d = Shares::default();
        let percent = |option, value, default| {
            whole_number(option, value, default, 1, 100 - MIN_SERVER_PERCENT)
        };
        let shares = Shares {
            widget_percent: percent(
                "widgetSharePercent",
                self.widget_share_percent,
                d.widget_percent,
            )?,
            app_percent: percent("appSharePercent", self.app_share_percent, d.app_percent)?,
            apps_percent: percent("appsSharePercent", self.apps_share_percent, d.apps_percent)?,
        };
        if shares.widget_percent + shares.apps_percent > 100 - MIN_SERVER_PERCENT {
            return Err(InvalidOption::new(
                "appsSharePercent",
                format!(
                    "and widgetSharePercent must leave the server's own events at least \
                     {MIN_SERVER_PERCENT}% of the limits, got {} + {}",
                    shares.widget_percent, shares.apps_percent
                ),
            ));
        }
        if shares.app_percent > shares.apps_percent {
            return Err(InvalidOption::new(
                "appSharePercent",
                format!(
                    "must not exceed appsSharePercent (the share of every App together), got {} > {}",
                    shares.app_percent, shares.apps_percent
                ),
            ));
        }
        Ok(shares)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn minimal() -> Options {
        Options {
            topic_arn: Some("arn:aws:sns:eu-west-1:123456789012:rc-analytics.fifo".into()),
            site_url: Some("https://chat.example.com".into()),
            ..Options::default()
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
    fn unknown_options_and_wrong_types_are_named_by_their_path() {
        let cases = [
            (
                r#"{"flushInterval": 100}"#,
                "flushInterval",
                "unknown field",
            ),
            (r#"{"maxBatchSize": "ten"}"#, "maxBatchSize", "expected f64"),
            (
                r#"{"credentials": {"accessKeyId": 5}}"#,
                "credentials.accessKeyId",
                "each a string (the value given is not shown",
            ),
            (
                r#"{"credentials": {"accessKeyId": "a", "secret": "s"}}"#,
                "credentials.secret",
                "unknown field",
            ),
            (
                r#"{"credentials": {"accessKeyId": "a", "secretAccesKey": "s"}}"#,
                "credentials.secretAccesKey",
                "unknown field",
            ),
        ];
        for (json, option, words) in cases {
            let Err(e) = Options::from_json(serde_json::from_str(json).unwrap()) else {
                panic!("{json} was accepted");
            };
            assert_eq!(e.option, option, "{json}");
            assert!(e.reason.contains(words), "{json}: {e}");
        }
        // An AWS SDK credential object, as the SDK leaves it after use, is accepted.
        let shared = serde_json::json!({ "credentials": {
            "accessKeyId": "a", "secretAccessKey": "s", "$source": {}, "expiration": null
        }});
        assert!(Options::from_json(shared).is_ok());
        let e = Options::from_json(serde_json::json!({ "siteUrl": "s" }))
            .unwrap()
            .into_config()
            .unwrap_err();
        assert_eq!(
            (e.option.as_str(), e.reason.as_str()),
            ("topicArn", "is required")
        );
    }

    #[test]
    fn errors_name_the_option() {
        let mut o = minimal();
        o.max_concurrent_batches = Some(0.0);
        assert_eq!(o.into_config().unwrap_err().option, "maxConcurrentBatches");
        let mut o = minimal();
        o.credentials = Some(Credentials {
            access_key_id: "".into(),
            secret_access_key: "s".into(),
            session_token: None,
            ..Credentials::default()
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
        type Case = (fn(&mut Options), &'static str, &'static str);
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

    #[test]
    fn the_dead_letter_bound_is_a_spool_option() {
        let mut o = minimal();
        o.spool_dir = Some("/tmp/rc-spool".into());
        let spool = o.clone().into_config().unwrap().spool.unwrap();
        assert_eq!(spool.max_dead_letter_bytes, defaults::MAX_DEAD_LETTER_BYTES);
        o.max_dead_letter_bytes = Some(2_000_000.0);
        let spool = o.clone().into_config().unwrap().spool.unwrap();
        assert_eq!(spool.max_dead_letter_bytes, 2_000_000);
        o.max_dead_letter_bytes = Some(1000.0);
        let e = o.into_config().unwrap_err();
        assert_eq!(e.option, "maxDeadLetterBytes");
        assert!(e.reason.contains("from 1048576"), "{e}");
        let mut o = minimal();
        o.max_dead_letter_bytes = Some(2_000_000.0);
        let e = o.into_config().unwrap_err();
        assert_eq!(
            (e.option.as_str(), e.reason.as_str()),
            ("maxDeadLetterBytes", "needs spoolDir")
        );
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

        /// The generated inputs (`Options` has no `Debug`: it holds credentials).
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
                proptest::collection::vec(number(), 13),
                proptest::collection::vec(text(), 10),
                proptest::collection::vec(json(), 2),
            )
        }

        fn build((topic, site, n, t, j): Inputs) -> Options {
            let mut o = minimal();
            o.topic_arn = Some(topic);
            o.site_url = Some(site);
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
            o.max_dead_letter_bytes = n[12];
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
                    // The option it names is a field of Options.
                    let root = e.option.split('.').next().unwrap_or_default();
                    let named = serde_json::json!({ root: null });
                    prop_assert!(Options::from_json(named).is_ok(), "{e}");
                    prop_assert!(!e.reason.is_empty());
                }
            }
        }
    }
}

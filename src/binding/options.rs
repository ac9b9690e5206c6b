//! `new AnalyticsLogger(options)`: every option is one field here (its doc comment
//! is the JSDoc in `index.d.ts`), and `into_config` is the one place that applies
//! defaults and validates, naming the option in every error.

use napi_derive::napi;

use crate::core::config::{
    check_endpoint, check_non_empty, check_site_url, check_subject, defaults, millis,
    parse_topic_arn, whole_number, LoggerConfig, Overflow, SnsConfig, StaticCredentials,
};
use crate::core::error::InvalidOption;
use crate::core::event::EventDefaults;
use crate::core::retry::RetryPolicy;

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
    /// SNS endpoint URL, e.g. a local emulator. Default: the AWS SDK's resolution
    /// (`AWS_ENDPOINT_URL_SNS`, `AWS_ENDPOINT_URL`, then the regional endpoint).
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

impl LoggerOptions {
    pub fn into_config(self) -> Result<LoggerConfig, InvalidOption> {
        let topic = parse_topic_arn(&self.topic_arn)?;
        check_site_url(&self.site_url)?;
        let subject = self.subject.unwrap_or_else(|| defaults::SUBJECT.to_owned());
        check_subject(&subject)?;
        if let Some(region) = &self.region {
            check_non_empty("region", region)?;
        }
        if let Some(endpoint) = &self.endpoint {
            check_endpoint(endpoint)?;
        }
        let credentials = match self.credentials {
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
                100,
                1,
                HOUR_MS,
            )?,
            max_backoff: millis(
                "retryMaxBackoffMs",
                self.retry_max_backoff_ms,
                10_000,
                1,
                HOUR_MS,
            )?,
            budget: millis(
                "retryBudgetMs",
                self.retry_budget_ms,
                120_000,
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
        Ok(LoggerConfig {
            topic_arn: self.topic_arn,
            fifo: topic.fifo,
            site_url: self.site_url,
            subject,
            defaults: EventDefaults {
                dialogflow_agent_id: self.dialogflow_agent_id.unwrap_or_default(),
            },
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
                262_144,
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
        }
    }

    #[test]
    fn defaults_are_applied_in_one_place() {
        let c = minimal().into_config().unwrap();
        assert!(c.fifo);
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
        assert_eq!(c.defaults.dialogflow_agent_id, "");
    }

    #[test]
    fn every_option_name_is_a_field() {
        // The list that refuses misspelt options must match the struct exactly.
        assert_eq!(OPTION_NAMES.len(), 18);
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
}

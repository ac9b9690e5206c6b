//! The real publisher: Amazon SNS `PublishBatch` through aws-sdk-sns.
//!
//! The SDK's own retries are off: the delivery loop retries with its own budget and
//! only the entries that failed, which the SDK cannot do for a batch.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::environment::region::EnvironmentVariableRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileRegionProvider;
use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_sns::config::Credentials;
use aws_sdk_sns::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use aws_sdk_sns::Client;
use tokio::sync::OnceCell;

use super::config::SnsConfig;
use super::event::{EncodedEvent, APP_ATTRIBUTE, ATTRIBUTE_NAMES, ATTRIBUTE_TYPE};
use super::publisher::{
    BatchRequest, BatchResponse, EntryFailure, FaultKind, PublishError, Publisher,
};

/// Time allowed to open a connection, separate from the whole attempt's timeout so
/// that an unreachable endpoint is retried quickly.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// One configuration and the client built from it, on first use.
struct ClientSlot {
    config: SnsConfig,
    client: OnceCell<Client>,
}

pub struct SnsPublisher {
    /// Replaced whole by `reconfigure`; a request holds the slot it started with.
    slot: Mutex<Arc<ClientSlot>>,
}

impl SnsPublisher {
    /// Cheap: the SDK client (region and credential resolution) is built on first use,
    /// on the delivery loop, never in the caller's constructor.
    pub fn new(config: SnsConfig) -> Self {
        Self {
            slot: Mutex::new(Arc::new(ClientSlot {
                config,
                client: OnceCell::new(),
            })),
        }
    }

    fn current(&self) -> Arc<ClientSlot> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

async fn build_client(config: &SnsConfig) -> Client {
    // Never the instance metadata service for the region: the topic ARN names it.
    let region = RegionProviderChain::first_try(config.region.clone().map(Region::new))
        .or_else(EnvironmentVariableRegionProvider::new())
        .or_else(ProfileFileRegionProvider::builder().build())
        .or_else(Region::new(config.arn_region.clone()));
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .retry_config(RetryConfig::disabled())
        // Bodies are small and sent at once; the stall watchdog only costs CPU here,
        // and the request timeout already bounds a stuck request.
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(config.request_timeout)
                .operation_timeout(config.request_timeout)
                .build(),
        );
    if let Some(endpoint) = &config.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    if let Some(c) = &config.credentials {
        loader = loader.credentials_provider(Credentials::new(
            c.access_key_id.clone(),
            c.secret_access_key.clone(),
            c.session_token.clone(),
            None,
            "rocketchat-sns-analytics options",
        ));
    }
    Client::new(&loader.load().await)
}

fn attribute(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type(ATTRIBUTE_TYPE)
        .string_value(value)
        .build()
        .expect("data_type is set")
}

fn entry(
    request: &BatchRequest<'_>,
    event: &EncodedEvent,
) -> Result<PublishBatchRequestEntry, PublishError> {
    let id = event.id_string();
    let values = [
        id.as_str(),
        &event.category,
        &event.action,
        event.event_type.as_str(),
    ];
    let mut attributes: HashMap<String, MessageAttributeValue> = ATTRIBUTE_NAMES
        .iter()
        .zip(values)
        .map(|(name, value)| ((*name).to_owned(), attribute(value)))
        .collect();
    if let Some(app) = &event.app_id {
        attributes.insert(APP_ATTRIBUTE.to_owned(), attribute(app));
    }
    let fifo = request.message_group_id.is_some();
    PublishBatchRequestEntry::builder()
        .id(id.clone())
        .message(&*event.body)
        .subject(request.subject)
        .set_message_attributes(Some(attributes))
        .set_message_group_id(request.message_group_id.map(str::to_owned))
        // Stable across every retry: SNS drops a copy it already took.
        .set_message_deduplication_id(fifo.then_some(id))
        .build()
        .map_err(|e| PublishError {
            kind: FaultKind::Permanent,
            code: "BuildError".into(),
            message: e.to_string(),
        })
}

/// Error codes SNS and the AWS front end use to ask a client to slow down.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "Throttled",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "KMSThrottling",
    "SlowDown",
];

/// Codes that mean "try again" whatever the HTTP status says.
const TRANSIENT_CODES: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeoutException",
    "KMSNotFound",
];

/// Classifies an answered request by its error code and HTTP status.
pub fn classify(code: Option<&str>, status: Option<u16>) -> FaultKind {
    match (code, status) {
        (Some(c), _) if THROTTLING_CODES.contains(&c) => FaultKind::Throttled,
        (_, Some(429)) => FaultKind::Throttled,
        (Some(c), _) if TRANSIENT_CODES.contains(&c) => FaultKind::Transient,
        (_, Some(s)) if s >= 500 => FaultKind::Transient,
        (_, Some(408)) => FaultKind::Transient,
        _ => FaultKind::Permanent,
    }
}

fn publish_error<E, R>(err: SdkError<E, R>) -> PublishError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    let (kind, code) = match &err {
        SdkError::ConstructionFailure(_) => {
            (FaultKind::Permanent, "ConstructionFailure".to_owned())
        }
        SdkError::TimeoutError(_) => (FaultKind::Transient, "Timeout".to_owned()),
        SdkError::DispatchFailure(d) if d.is_timeout() => {
            (FaultKind::Transient, "Timeout".to_owned())
        }
        SdkError::DispatchFailure(d) if d.is_io() => {
            (FaultKind::Transient, "NetworkError".to_owned())
        }
        // Credential resolution and other client-side dispatch trouble: these can
        // clear up (an expiring role, a metadata service hiccup), so retry them.
        SdkError::DispatchFailure(_) => (FaultKind::Transient, "DispatchFailure".to_owned()),
        SdkError::ResponseError(_) => (FaultKind::Transient, "ResponseError".to_owned()),
        SdkError::ServiceError(s) => {
            let code = s.err().code().map(str::to_owned);
            let status = s.raw().status();
            (
                classify(code.as_deref(), Some(status)),
                code.unwrap_or_else(|| format!("HTTP{status}")),
            )
        }
        _ => (FaultKind::Transient, "Unknown".to_owned()),
    };
    PublishError {
        kind,
        code,
        message: DisplayErrorContext(&err).to_string(),
    }
}

/// Error text with every credential taken out: the configured keys and the
/// environment's, and whatever follows `Credential=`, `Signature=` or
/// `X-Amz-Security-Token` (a server may repeat the request's signature, as
/// SignatureDoesNotMatch does). Errors reach `onError`, logs and support tickets.
pub fn redact(message: &str, config: &SnsConfig) -> String {
    let mut out = message.to_owned();
    let mut secrets: Vec<String> = Vec::new();
    if let Some(c) = &config.credentials {
        secrets.push(c.access_key_id.clone());
        secrets.push(c.secret_access_key.clone());
        secrets.extend(c.session_token.clone());
    }
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        secrets.extend(std::env::var(var).ok());
    }
    for marker in [
        "Credential=",
        "Signature=",
        "X-Amz-Security-Token=",
        "x-amz-security-token:",
    ] {
        let mut from = 0;
        while let Some(i) = out[from..].find(marker) {
            let start = from + i + marker.len();
            let end = out[start..]
                .find(|c: char| matches!(c, ',' | '&' | '<' | ';' | '"') || c.is_whitespace())
                .map_or(out.len(), |j| start + j);
            out.replace_range(start..end, "<redacted>");
            from = start + "<redacted>".len();
        }
    }
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        out = out.replace(secret.as_str(), "<redacted>");
    }
    out
}

/// The HTTP status of a raw response, without tying this file to one HTTP crate.
trait HttpStatus {
    fn status(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status(&self) -> u16 {
        self.status().as_u16()
    }
}

impl Publisher for SnsPublisher {
    async fn publish_batch(
        &self,
        request: BatchRequest<'_>,
    ) -> Result<BatchResponse, PublishError> {
        let entries = request
            .entries
            .iter()
            .map(|e| entry(&request, e))
            .collect::<Result<Vec<_>, _>>()?;
        let slot = self.current();
        let client = slot.client.get_or_init(|| build_client(&slot.config)).await;
        let output = client
            .publish_batch()
            .topic_arn(request.topic_arn)
            .set_publish_batch_request_entries(Some(entries))
            .send()
            .await
            .map_err(|e| {
                let mut e = publish_error(e);
                e.message = redact(&e.message, &slot.config);
                e
            })?;
        Ok(BatchResponse {
            successful: output
                .successful()
                .iter()
                .filter_map(|s| s.id().map(str::to_owned))
                .collect(),
            failed: output
                .failed()
                .iter()
                .map(|f| EntryFailure {
                    id: f.id().to_owned(),
                    sender_fault: f.sender_fault(),
                    code: f.code().to_owned(),
                    message: redact(f.message().unwrap_or_default(), &slot.config),
                })
                .collect(),
        })
    }

    fn reconfigure(&self, config: &SnsConfig) {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        if slot.config != *config {
            *slot = Arc::new(ClientSlot {
                config: config.clone(),
                client: OnceCell::new(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_takes_out_keys_and_signatures() {
        let config = SnsConfig {
            region: None,
            arn_region: "us-east-1".into(),
            endpoint: None,
            credentials: Some(crate::core::config::StaticCredentials {
                access_key_id: "AKIAQWERTYUIOPASDFGH".into(),
                secret_access_key: "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".into(),
                session_token: Some("FwoGZXIvYXdzEXAMPLE".into()),
            }),
            request_timeout: Duration::from_secs(1),
        };
        let text = "Authorization: AWS4-HMAC-SHA256 Credential=AKIAQWERTYUIOPASDFGH/20261121/us-east-1/sns/aws4_request, \
                    SignedHeaders=host;x-amz-date, Signature=0123abcd; token FwoGZXIvYXdzEXAMPLE secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYzSECRETKEY";
        let out = redact(text, &config);
        for leak in [
            "AKIAQWERTYUIOPASDFGH",
            "0123abcd",
            "FwoGZXIvYXdzEXAMPLE",
            "wJalrXUtnFEMI",
        ] {
            assert!(!out.contains(leak), "{out}");
        }
        assert!(
            out.contains(
                "Credential=<redacted>, SignedHeaders=host;x-amz-date, Signature=<redacted>;"
            ),
            "{out}"
        );
    }

    #[test]
    fn classification_by_code_then_status() {
        assert_eq!(
            classify(Some("Throttling"), Some(400)),
            FaultKind::Throttled
        );
        assert_eq!(
            classify(Some("KMSThrottling"), Some(400)),
            FaultKind::Throttled
        );
        assert_eq!(classify(None, Some(429)), FaultKind::Throttled);
        assert_eq!(
            classify(Some("InternalError"), Some(500)),
            FaultKind::Transient
        );
        assert_eq!(classify(None, Some(503)), FaultKind::Transient);
        assert_eq!(
            classify(Some("ServiceUnavailable"), Some(400)),
            FaultKind::Transient
        );
        assert_eq!(classify(Some("NotFound"), Some(404)), FaultKind::Permanent);
        assert_eq!(
            classify(Some("AuthorizationError"), Some(403)),
            FaultKind::Permanent
        );
        assert_eq!(
            classify(Some("InvalidParameter"), Some(400)),
            FaultKind::Permanent
        );
    }
}

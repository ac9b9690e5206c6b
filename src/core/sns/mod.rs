//! The real publisher: Amazon SNS `PublishBatch`, sent by a lean client of our own.
//!
//! aws-sdk-sns spent about 240 µs of CPU per PublishBatch here (its orchestrator,
//! a `format!` per query field, SigV4 with a fresh key, XML into owned trees), two
//! thirds of the process's CPU. This client writes the form body in one buffer
//! (`request.rs`), signs it with the day's kept key (`signer.rs`), posts it on a
//! keep-alive connection (`client.rs`) and scans the answer (`response.rs`).
//! Region and credentials still come from aws-config (`credentials.rs` caches them).
//!
//! There are no retries here: the delivery loop retries with its own budget and
//! only the entries that failed.

mod client;
mod credentials;
mod request;
mod response;
mod signer;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::environment::region::EnvironmentVariableRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileRegionProvider;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use tokio::sync::OnceCell;

use super::config::SnsConfig;
use super::publisher::{BatchRequest, BatchResponse, FaultKind, PublishError, Publisher};
use client::{Endpoint, HttpClient};
use credentials::CredentialCache;
use request::{encode_publish_batch, CONTENT_TYPE};
use signer::{sha256_hex, AmzDate, RequestSigner, SigningCredentials};

/// Time allowed to open a connection, separate from the whole attempt's timeout so
/// that an unreachable endpoint is retried quickly.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Largest answer read; SNS's are a few KiB. Past it the request counts as failed.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

const USER_AGENT: &str = concat!("rocketchat-sns-analytics/", env!("CARGO_PKG_VERSION"));

/// Everything one configuration needs to send requests, built on first use.
struct SnsClient {
    http: HttpClient,
    endpoint: Endpoint,
    signer: RequestSigner,
    credentials: CredentialCache,
}

/// One configuration and the client built from it, on first use.
struct ClientSlot {
    config: SnsConfig,
    client: OnceCell<Result<SnsClient, PublishError>>,
}

pub struct SnsPublisher {
    /// Replaced whole by `reconfigure`; a request holds the slot it started with.
    slot: Mutex<Arc<ClientSlot>>,
}

impl SnsPublisher {
    /// Cheap: region and credential resolution happen on first use, on the
    /// delivery loop, never in the caller's constructor.
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

async fn build_client(config: &SnsConfig) -> Result<SnsClient, PublishError> {
    // Never the instance metadata service for the region: the topic ARN names it.
    let region = RegionProviderChain::first_try(config.region.clone().map(Region::new))
        .or_else(EnvironmentVariableRegionProvider::new())
        .or_else(ProfileFileRegionProvider::builder().build())
        .or_else(Region::new(config.arn_region.clone()));
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(region);
    if let Some(c) = &config.credentials {
        loader = loader.credentials_provider(Credentials::new(
            c.access_key_id.clone(),
            c.secret_access_key.clone(),
            c.session_token.clone(),
            None,
            "rocketchat-sns-analytics options",
        ));
    }
    let sdk = loader.load().await;
    let region = sdk
        .region()
        .map_or_else(|| config.arn_region.clone(), |r| r.to_string());
    let env_endpoint = std::env::var("AWS_ENDPOINT_URL_SNS").ok();
    let url = config
        .endpoint
        .as_deref()
        .or(env_endpoint.as_deref())
        .or(sdk.endpoint_url());
    let endpoint = Endpoint::resolve(
        url,
        &region,
        sdk.use_fips().unwrap_or(false),
        sdk.use_dual_stack().unwrap_or(false),
    )
    .map_err(|message| PublishError {
        kind: FaultKind::Permanent,
        code: "InvalidEndpoint".into(),
        message,
    })?;
    let provider = sdk.credentials_provider().ok_or_else(|| PublishError {
        kind: FaultKind::Permanent,
        code: "CredentialsError".into(),
        message: "no AWS credentials provider is configured".into(),
    })?;
    Ok(SnsClient {
        http: client::http_client(CONNECT_TIMEOUT),
        endpoint,
        signer: RequestSigner::new(&region),
        credentials: CredentialCache::new(provider),
    })
}

impl SnsClient {
    async fn publish(&self, body: Vec<u8>) -> Result<BatchResponse, PublishError> {
        let credentials = self
            .credentials
            .get()
            .await
            .map_err(|message| PublishError {
                // An expiring role or a metadata service hiccup can clear up.
                kind: FaultKind::Transient,
                code: "CredentialsError".into(),
                message,
            })?;
        let date = AmzDate::new(SystemTime::now());
        let payload_sha256 = sha256_hex(&body);
        let token = credentials.session_token();
        let mut signed: Vec<(&str, &str)> = vec![
            ("content-type", CONTENT_TYPE),
            ("host", &self.endpoint.host),
            ("x-amz-date", &date.timestamp),
        ];
        if let Some(token) = token {
            signed.push(("x-amz-security-token", token));
        }
        let authorization = self.signer.authorization(
            &SigningCredentials {
                access_key_id: credentials.access_key_id(),
                secret_access_key: credentials.secret_access_key(),
            },
            &date,
            &self.endpoint.path,
            &signed,
            &payload_sha256,
        );
        let mut request = http::Request::post(self.endpoint.uri.clone())
            .header(http::header::USER_AGENT, USER_AGENT)
            .header(http::header::AUTHORIZATION, authorization);
        for (name, value) in &signed {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| PublishError {
                kind: FaultKind::Permanent,
                code: "InvalidRequest".into(),
                // A session token with characters a header cannot hold, say.
                message: e.to_string(),
            })?;

        let response = self.http.request(request).await.map_err(|e| PublishError {
            kind: FaultKind::Transient,
            code: "NetworkError".into(),
            // hyper's own message is only "client error (Connect)"; the cause
            // (refused, reset, a certificate) is in its sources.
            message: error_chain(&e),
        })?;
        let status = response.status().as_u16();
        let bytes = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| PublishError {
                kind: FaultKind::Transient,
                code: "ResponseError".into(),
                message: format!("reading the answer (HTTP {status}): {e}"),
            })?
            .to_bytes();
        let text = match std::str::from_utf8(&bytes) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(&bytes),
        };
        if status == 200 {
            return response::parse_publish_batch(&text).ok_or_else(|| PublishError {
                kind: FaultKind::Transient,
                code: "ResponseError".into(),
                message: format!(
                    "HTTP 200 without a PublishBatchResult: {}",
                    response::quote(&text)
                ),
            });
        }
        let error = response::parse_error(&text);
        if error
            .code
            .as_deref()
            .is_some_and(|c| EXPIRED_CREDENTIAL_CODES.contains(&c))
        {
            // Expired between our check and SNS's: fetch fresh ones for the retry.
            self.credentials.forget().await;
        }
        Err(PublishError {
            kind: classify(error.code.as_deref(), Some(status)),
            code: error.code.unwrap_or_else(|| format!("HTTP{status}")),
            message: format!("HTTP {status}: {}", error.message),
        })
    }
}

/// The error and each of its sources, joined: the outer messages (the provider
/// chain's "no providers in chain provided credentials", hyper's "client error")
/// say little without them.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        out.push_str(": ");
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
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

/// Codes of credentials that expired in flight (or a clock that jumped): the retry is
/// signed with fresh credentials and a fresh date, so they are transient.
const EXPIRED_CREDENTIAL_CODES: &[&str] =
    &["ExpiredToken", "ExpiredTokenException", "RequestExpired"];

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
        (Some(c), _) if EXPIRED_CREDENTIAL_CODES.contains(&c) => FaultKind::Transient,
        (_, Some(s)) if s >= 500 => FaultKind::Transient,
        (_, Some(408)) => FaultKind::Transient,
        _ => FaultKind::Permanent,
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

impl Publisher for SnsPublisher {
    async fn publish_batch(
        &self,
        request: BatchRequest<'_>,
    ) -> Result<BatchResponse, PublishError> {
        let mut body = Vec::new();
        encode_publish_batch(&request, &mut body);
        let slot = self.current();
        let redacted = |mut e: PublishError| {
            e.message = redact(&e.message, &slot.config);
            e
        };
        let client = slot
            .client
            // Boxed: aws-config's loader is a future of about 11 KiB that runs once
            // per configuration; unboxed, it would make every batch task that large,
            // and each spawn copies the task whole.
            .get_or_init(|| Box::pin(build_client(&slot.config)))
            .await
            .as_ref()
            .map_err(|e| redacted(e.clone()))?;
        let attempt = tokio::time::timeout(slot.config.request_timeout, client.publish(body));
        let mut response = match attempt.await {
            Ok(result) => result.map_err(redacted)?,
            Err(_) => {
                return Err(PublishError {
                    kind: FaultKind::Transient,
                    code: "Timeout".into(),
                    message: format!(
                        "no answer within requestTimeoutMs ({} ms)",
                        slot.config.request_timeout.as_millis()
                    ),
                })
            }
        };
        for failure in &mut response.failed {
            failure.message = redact(&failure.message, &slot.config);
        }
        Ok(response)
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
            classify(Some("ExpiredToken"), Some(403)),
            FaultKind::Transient
        );
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

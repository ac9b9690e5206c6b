//! What an SNS failure means for the delivery loop: every error aws-sdk-sns can give
//! (a service error code and HTTP status, a timeout, a dispatch or credentials
//! failure, an unreadable answer) mapped onto [`FaultKind`], in this one place.
//!
//! The codes are PublishBatchError's (aws-sdk-sns 1.x, `protocol_serde/
//! shape_publish_batch.rs`) and the AWS Query front end's common ones (IAM, STS,
//! SigV4). A refusal that says the destination or the client's configuration cannot
//! take anything (no permission, no topic, a key identity or secret that is not
//! valid, a KMS key that is disabled or out of reach) is
//! [`FaultKind::DestinationUnavailable`]: the loop holds the topic's events and probes
//! until it takes them again, because an administrator fixes such a refusal and no
//! retry budget fits how long that takes.

use std::error::Error as StdError;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_sns::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sns::operation::publish_batch::PublishBatchError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::date_time::{DateTime, Format};

use crate::core::delivery::{FaultKind, PublishError};

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

/// Codes that mean "try again" whatever the HTTP status says. `RequestExpired` is a
/// request signed too long before it arrived (a slow queue, a paused VM): signed
/// anew, the retry passes.
const TRANSIENT_CODES: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeoutException",
    "RequestExpired",
];

/// Codes that say the destination, or the client's configuration, cannot take any
/// message until someone fixes it: the topic's events are held, not failed.
///
/// - no permission: `AuthorizationError` (SNS's own, HTTP 403), `AccessDenied` and
///   `AccessDeniedException` (the front end's);
/// - no topic: `NotFound` (HTTP 404);
/// - a key identity that is not valid or has expired: `InvalidClientTokenId`,
///   `UnrecognizedClientException`, `InvalidAccessKeyId`, `ExpiredToken`,
///   `ExpiredTokenException`, `MissingAuthenticationToken`; expired credentials
///   that the SDK's identity cache refreshes pass at the first probe, a second or so
///   later, and static ones wait for `reconfigure()` instead of failing;
/// - a secret that does not match (`SignatureDoesNotMatch`,
///   `InvalidSignatureException`, `AuthFailure`, when the clocks agree: see
///   [`CLOCK_SKEW_CODES`]) or a request SNS will not take over this transport
///   (`InvalidSecurity`): the whole client is misconfigured, not one entry;
/// - the topic's KMS key: `KMSDisabled`, `KMSInvalidState`, `KMSNotFound`,
///   `KMSAccessDenied`, `KMSOptInRequired`, and `OptInRequired` for the account.
///
/// `KMSThrottling` is throttling (above); a request-level `InvalidParameter` and the
/// batch-shape codes (`BatchRequestTooLong`, `TooManyEntriesInBatchRequest`, ...) are
/// this library's own mistakes and stay permanent.
const DESTINATION_UNAVAILABLE_CODES: &[&str] = &[
    "AuthorizationError",
    "AccessDenied",
    "AccessDeniedException",
    "NotFound",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "ExpiredToken",
    "ExpiredTokenException",
    "MissingAuthenticationToken",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "AuthFailure",
    "InvalidSecurity",
    "KMSDisabled",
    "KMSInvalidState",
    "KMSNotFound",
    "KMSAccessDenied",
    "KMSOptInRequired",
    "OptInRequired",
];

/// Codes AWS gives a request signed with a clock too far from its own (the same list
/// as aws-runtime's `ServiceClockSkewClassifier`).
const CLOCK_SKEW_CODES: &[&str] = &[
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "AuthFailure",
    "RequestTimeTooSkewed",
    "AccessDeniedException",
];

/// AWS accepts a signature dated up to 5 minutes from its clock; a skew over this
/// (aws-runtime's own threshold) explains a signature refusal, a smaller one does not.
pub(super) const CLOCK_SKEW_THRESHOLD: Duration = Duration::from_secs(4 * 60);

/// Classifies an answered request by its error code and HTTP status. A 403 or 404
/// without a known code (a proxy, an endpoint that is not SNS) is taken as the
/// destination's: holding costs a probe, failing would lose the events.
pub fn classify(code: Option<&str>, status: Option<u16>) -> FaultKind {
    match (code, status) {
        (Some(c), _) if THROTTLING_CODES.contains(&c) => FaultKind::Throttled,
        (_, Some(429)) => FaultKind::Throttled,
        (Some(c), _) if TRANSIENT_CODES.contains(&c) => FaultKind::Transient,
        (Some(c), _) if DESTINATION_UNAVAILABLE_CODES.contains(&c) => {
            FaultKind::DestinationUnavailable
        }
        (_, Some(s)) if s >= 500 => FaultKind::Transient,
        (_, Some(408)) => FaultKind::Transient,
        (_, Some(403 | 404)) => FaultKind::DestinationUnavailable,
        _ => FaultKind::Permanent,
    }
}

/// What retrying one failed entry of an answered PublishBatch would do: a code that
/// says the destination is unavailable holds it whatever the sender-fault flag says
/// (the entry is not what is wrong); otherwise never for a sender fault (the entry
/// itself is wrong), after a pause for throttling, and as any transient fault when SNS
/// failed the entry on its side.
pub(super) fn entry_kind(sender_fault: bool, code: &str) -> FaultKind {
    if DESTINATION_UNAVAILABLE_CODES.contains(&code) {
        FaultKind::DestinationUnavailable
    } else if sender_fault {
        FaultKind::Permanent
    } else if classify(Some(code), None) == FaultKind::Throttled {
        FaultKind::Throttled
    } else {
        FaultKind::Transient
    }
}

/// How far the answer's `Date` header is from this host's clock, when it says.
fn answer_skew(response: &HttpResponse, now: SystemTime) -> Option<Duration> {
    let date = response.headers().get("date")?;
    let server = SystemTime::try_from(DateTime::from_str(date, Format::HttpDate).ok()?).ok()?;
    Some(match server.duration_since(now) {
        Ok(ahead) => ahead,
        Err(behind) => behind.duration(),
    })
}

/// What the delivery loop makes of a failed PublishBatch, and whether SNS answered
/// it at all (an answer carries a `Date` the client learns the clock skew from).
pub(super) struct Failure {
    pub error: PublishError,
    pub answered: bool,
}

/// Maps an SDK error onto a [`PublishError`]. `now` is this host's clock, to tell a
/// signature refused for clock skew (transient: the SDK client has learnt the skew
/// from the answer and signs the retry with the service's time) from a wrong secret
/// (the destination is unavailable until the secret is fixed). A service error keeps
/// the service's own message, which is what an administrator acts on.
pub(super) fn failure(err: SdkError<PublishBatchError, HttpResponse>, now: SystemTime) -> Failure {
    let mut answered = false;
    let (kind, code) = match &err {
        SdkError::ConstructionFailure(_) => (FaultKind::Permanent, "ConstructionFailure".into()),
        SdkError::TimeoutError(_) => (FaultKind::Transient, "Timeout".into()),
        SdkError::DispatchFailure(d) if d.is_timeout() => (FaultKind::Transient, "Timeout".into()),
        SdkError::DispatchFailure(d) if d.is_io() => (FaultKind::Transient, "NetworkError".into()),
        // An expiring role or a metadata service hiccup can clear up.
        SdkError::DispatchFailure(_) if in_chain::<CredentialsError>(&err) => {
            (FaultKind::Transient, "CredentialsError".into())
        }
        SdkError::DispatchFailure(_) => (FaultKind::Transient, "DispatchFailure".into()),
        SdkError::ResponseError(_) => {
            answered = true;
            (FaultKind::Transient, "ResponseError".into())
        }
        SdkError::ServiceError(s) => {
            answered = true;
            let code = s.err().code().map(str::to_owned);
            let status = s.raw().status().as_u16();
            let skewed = code
                .as_deref()
                .is_some_and(|c| CLOCK_SKEW_CODES.contains(&c))
                && answer_skew(s.raw(), now).is_some_and(|skew| skew > CLOCK_SKEW_THRESHOLD);
            let kind = if skewed {
                FaultKind::Transient
            } else {
                classify(code.as_deref(), Some(status))
            };
            (kind, code.unwrap_or_else(|| format!("HTTP{status}")))
        }
        _ => (FaultKind::Transient, "Unknown".into()),
    };
    let message = match &err {
        SdkError::ServiceError(s) => s.err().message().map(str::to_owned),
        _ => None,
    }
    .unwrap_or_else(|| DisplayErrorContext(&err).to_string());
    Failure {
        error: PublishError {
            kind,
            code,
            message,
        },
        answered,
    }
}

/// Whether `err` or one of its sources is an `E`.
fn in_chain<E: StdError + 'static>(err: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if e.is::<E>() {
            return true;
        }
        next = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn answer(status: u16, date_offset_secs: Option<i64>) -> HttpResponse {
        let mut response = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
        if let Some(offset) = date_offset_secs {
            let date = DateTime::from_secs(NOW as i64 + offset)
                .fmt(Format::HttpDate)
                .unwrap();
            response.headers_mut().insert("date", date);
        }
        response
    }

    fn service(
        code: &str,
        status: u16,
        date_offset_secs: Option<i64>,
    ) -> SdkError<PublishBatchError, HttpResponse> {
        let meta = ErrorMetadata::builder()
            .code(code)
            .message("said SNS")
            .build();
        SdkError::service_error(
            PublishBatchError::generic(meta),
            answer(status, date_offset_secs),
        )
    }

    #[test]
    fn failed_entries_are_retried_unless_the_sender_is_at_fault() {
        assert_eq!(entry_kind(true, "InvalidParameter"), FaultKind::Permanent);
        assert_eq!(entry_kind(true, "InternalError"), FaultKind::Permanent);
        assert_eq!(entry_kind(false, "InternalError"), FaultKind::Transient);
        assert_eq!(entry_kind(false, "Throttling"), FaultKind::Throttled);
        assert_eq!(entry_kind(false, "SomethingNew"), FaultKind::Transient);
        // The destination's refusal is not the entry's fault, whatever the flag says.
        assert_eq!(
            entry_kind(true, "KMSDisabled"),
            FaultKind::DestinationUnavailable
        );
        assert_eq!(
            entry_kind(false, "AuthorizationError"),
            FaultKind::DestinationUnavailable
        );
    }

    /// Every code aws-sdk-sns models for PublishBatch (its `PublishBatchError`
    /// variants), and the AWS front end's common ones, with the HTTP status SNS sends
    /// them with: what each does to the events.
    #[test]
    fn classification_table() {
        use FaultKind::*;
        let table: &[(&str, u16, FaultKind)] = &[
            // PublishBatchError's modeled codes.
            ("AuthorizationError", 403, DestinationUnavailable),
            ("BatchEntryIdsNotDistinct", 400, Permanent),
            ("BatchRequestTooLong", 400, Permanent),
            ("EmptyBatchRequest", 400, Permanent),
            ("EndpointDisabled", 400, Permanent),
            ("InternalError", 500, Transient),
            ("InvalidBatchEntryId", 400, Permanent),
            ("InvalidParameter", 400, Permanent),
            ("ParameterValueInvalid", 400, Permanent),
            ("InvalidSecurity", 403, DestinationUnavailable),
            ("KMSAccessDenied", 400, DestinationUnavailable),
            ("KMSDisabled", 400, DestinationUnavailable),
            ("KMSInvalidState", 400, DestinationUnavailable),
            ("KMSNotFound", 400, DestinationUnavailable),
            ("KMSOptInRequired", 403, DestinationUnavailable),
            ("KMSThrottling", 400, Throttled),
            ("NotFound", 404, DestinationUnavailable),
            ("PlatformApplicationDisabled", 400, Permanent),
            ("TooManyEntriesInBatchRequest", 400, Permanent),
            ("ValidationException", 400, Permanent),
            // The front end's: identity, signature, throttling, availability.
            ("InvalidClientTokenId", 403, DestinationUnavailable),
            ("UnrecognizedClientException", 400, DestinationUnavailable),
            ("InvalidAccessKeyId", 403, DestinationUnavailable),
            ("ExpiredToken", 403, DestinationUnavailable),
            ("ExpiredTokenException", 400, DestinationUnavailable),
            ("MissingAuthenticationToken", 403, DestinationUnavailable),
            ("SignatureDoesNotMatch", 403, DestinationUnavailable),
            ("InvalidSignatureException", 400, DestinationUnavailable),
            ("AccessDenied", 403, DestinationUnavailable),
            ("AccessDeniedException", 400, DestinationUnavailable),
            ("OptInRequired", 403, DestinationUnavailable),
            ("IncompleteSignature", 400, Permanent),
            ("RequestExpired", 400, Transient),
            ("Throttling", 400, Throttled),
            ("Throttled", 400, Throttled),
            ("TooManyRequestsException", 400, Throttled),
            ("ServiceUnavailable", 503, Transient),
            ("InternalFailure", 500, Transient),
            ("RequestTimeout", 408, Transient),
            // No code SNS would send: the status decides.
            ("SomethingNew", 403, DestinationUnavailable),
            ("SomethingNew", 404, DestinationUnavailable),
            ("SomethingNew", 429, Throttled),
            ("SomethingNew", 502, Transient),
            ("SomethingNew", 400, Permanent),
        ];
        for &(code, status, kind) in table {
            assert_eq!(classify(Some(code), Some(status)), kind, "{code} {status}");
        }
        assert_eq!(classify(None, Some(403)), DestinationUnavailable);
        assert_eq!(classify(None, Some(400)), Permanent);
    }

    #[test]
    fn a_service_error_keeps_the_services_message() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(NOW);
        let f = failure(service("AuthorizationError", 403, None), now);
        assert_eq!(f.error.message, "said SNS");
        let f = failure(SdkError::timeout_error("attempt timed out"), now);
        assert!(f.error.message.contains("timed out"), "{}", f.error.message);
    }

    #[test]
    fn every_sdk_error_maps_to_a_fault_kind() {
        use FaultKind::*;
        let credentials: Box<dyn StdError + Send + Sync> = Box::new(CredentialsError::not_loaded(
            "no providers in chain provided credentials",
        ));
        let cases: Vec<(
            SdkError<PublishBatchError, HttpResponse>,
            FaultKind,
            &str,
            bool,
        )> = vec![
            (
                service("Throttling", 400, None),
                Throttled,
                "Throttling",
                true,
            ),
            (
                service("KMSThrottling", 400, None),
                Throttled,
                "KMSThrottling",
                true,
            ),
            (service("Whatever", 429, None), Throttled, "Whatever", true),
            (
                service("InternalError", 500, None),
                Transient,
                "InternalError",
                true,
            ),
            (
                service("ServiceUnavailable", 400, None),
                Transient,
                "ServiceUnavailable",
                true,
            ),
            (service("Odd", 503, None), Transient, "Odd", true),
            (
                service("ExpiredToken", 403, None),
                DestinationUnavailable,
                "ExpiredToken",
                true,
            ),
            (
                service("RequestExpired", 400, None),
                Transient,
                "RequestExpired",
                true,
            ),
            (
                service("NotFound", 404, None),
                DestinationUnavailable,
                "NotFound",
                true,
            ),
            (
                service("AuthorizationError", 403, None),
                DestinationUnavailable,
                "AuthorizationError",
                true,
            ),
            (
                service("KMSDisabled", 400, None),
                DestinationUnavailable,
                "KMSDisabled",
                true,
            ),
            (
                service("InvalidParameter", 400, None),
                Permanent,
                "InvalidParameter",
                true,
            ),
            // A wrong secret: the clocks agree.
            (
                service("SignatureDoesNotMatch", 403, Some(3)),
                DestinationUnavailable,
                "SignatureDoesNotMatch",
                true,
            ),
            (
                service("SignatureDoesNotMatch", 403, None),
                DestinationUnavailable,
                "SignatureDoesNotMatch",
                true,
            ),
            // "Signature expired" from a host 10 minutes fast, or slow.
            (
                service("SignatureDoesNotMatch", 403, Some(-600)),
                Transient,
                "SignatureDoesNotMatch",
                true,
            ),
            (
                service("InvalidSignatureException", 400, Some(600)),
                Transient,
                "InvalidSignatureException",
                true,
            ),
            (
                service("RequestTimeTooSkewed", 403, Some(-3600)),
                Transient,
                "RequestTimeTooSkewed",
                true,
            ),
            // Skew does not make an unrelated refusal transient.
            (
                service("AuthorizationError", 403, Some(-600)),
                DestinationUnavailable,
                "AuthorizationError",
                true,
            ),
            (
                SdkError::timeout_error("attempt timed out"),
                Transient,
                "Timeout",
                false,
            ),
            (
                SdkError::dispatch_failure(ConnectorError::timeout("connect".into())),
                Transient,
                "Timeout",
                false,
            ),
            (
                SdkError::dispatch_failure(ConnectorError::io("connection refused".into())),
                Transient,
                "NetworkError",
                false,
            ),
            (
                SdkError::dispatch_failure(ConnectorError::other(credentials, None)),
                Transient,
                "CredentialsError",
                false,
            ),
            (
                SdkError::dispatch_failure(ConnectorError::other("resolver".into(), None)),
                Transient,
                "DispatchFailure",
                false,
            ),
            (
                SdkError::response_error("truncated XML", answer(200, None)),
                Transient,
                "ResponseError",
                true,
            ),
            (
                SdkError::construction_failure("bad input"),
                Permanent,
                "ConstructionFailure",
                false,
            ),
        ];
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(NOW);
        for (err, kind, code, answered) in cases {
            let what = format!("{err:?}");
            let f = failure(err, now);
            assert_eq!(f.error.kind, kind, "{what}");
            assert_eq!(f.error.code, code, "{what}");
            assert_eq!(f.answered, answered, "{what}");
        }
    }
}

//! The one thing the delivery loop needs from SNS, as a trait so that tests can stand
//! in for it without a network.

use std::future::Future;

use crate::core::event::EncodedEvent;
use crate::core::options::SnsConfig;

/// One PublishBatch call: the entries are sent in order as one request.
#[derive(Debug, Clone, Copy)]
pub struct BatchRequest<'a> {
    pub topic_arn: &'a str,
    pub subject: &'a str,
    /// `Some` for FIFO topics; each entry's deduplication id is its event id.
    pub message_group_id: Option<&'a str>,
    pub entries: &'a [&'a EncodedEvent],
}

/// What SNS said about each entry of a request that it answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchResponse {
    /// Entry ids (event ids) SNS accepted.
    pub successful: Vec<String>,
    pub failed: Vec<EntryFailure>,
}

/// One entry of `Failed[]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFailure {
    pub id: String,
    /// What retrying it would do, as the transport judges it: `DestinationUnavailable`
    /// when its code says the topic or the client cannot take anything, `Permanent`
    /// when the entry itself is wrong (SNS's `SenderFault`), `Throttled` when SNS
    /// asked to slow down, `Transient` otherwise.
    pub kind: FaultKind,
    pub code: String,
    pub message: String,
    /// SNS's `SenderFault`, as it said it (kept with a dead letter).
    pub sender_fault: bool,
}

/// How a failed request should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Network errors, timeouts, 5xx: try again after a backoff.
    Transient,
    /// SNS asked us to slow down: try again after a backoff.
    Throttled,
    /// Retrying the same request cannot succeed: the request or the entry is wrong.
    Permanent,
    /// The destination, or the client's configuration, cannot take anything until
    /// someone fixes it (no permission, no topic, a key identity or secret that is
    /// not valid, a disabled KMS key): hold the topic's events and probe.
    DestinationUnavailable,
}

/// A request that got no per-entry answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishError {
    pub kind: FaultKind,
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for PublishError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for PublishError {}

/// Sends one PublishBatch request.
pub trait Publisher: Send + Sync + 'static {
    fn publish_batch(
        &self,
        request: BatchRequest<'_>,
    ) -> impl Future<Output = Result<BatchResponse, PublishError>> + Send;

    /// New connection settings (`reconfigure()`): requests started from now on use
    /// them; requests in flight finish with the old ones.
    fn reconfigure(&self, config: &SnsConfig);
}

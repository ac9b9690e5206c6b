//! The real publisher: Amazon SNS `PublishBatch` through aws-sdk-sns.
//!
//! One SDK client per configuration, built on first use (`client.rs`). Failures are
//! mapped onto the delivery loop's fault kinds in `fault.rs`, and secrets are taken
//! out of their text in `redact.rs`. There are no retries here: the delivery loop
//! retries with its own budget and only the entries that failed.
//!
//! Clock skew. AWS refuses a signature dated more than 5 minutes from its clock, so a
//! host whose clock is off (a VM without NTP) would have every request refused. The
//! SDK's `ServiceClockSkewInterceptor` (aws-runtime) reads the `Date` header of every
//! answer and keeps the skew per client, across operations; each later request is
//! signed at `now + skew`. That needs no SDK retry: the delivery loop's retry of the
//! refused batch is a new operation on the same client, signed with the service's
//! time. `fault.rs` makes such a refusal transient (a skew-type code and a `Date`
//! more than 4 minutes off), where a wrong secret stays permanent. And until SNS
//! has answered a configuration's client once, its requests go one at a time, so
//! that a skewed host has at most one request refused per configuration rather than
//! one per batch in flight.

mod client;
mod fault;
mod redact;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use aws_sdk_sns::Client;
use tokio::sync::OnceCell;

use crate::core::delivery::{
    BatchRequest, BatchResponse, EntryFailure, FaultKind, PublishError, Publisher,
};
use crate::core::event::{EncodedEvent, APP_ATTRIBUTE, ATTRIBUTE_NAMES, ATTRIBUTE_TYPE};
use crate::core::options::SnsConfig;
pub use fault::classify;
pub use redact::redact;

/// One configuration and the client built from it, on first use.
struct ClientSlot {
    config: SnsConfig,
    client: OnceCell<Client>,
    /// Whether SNS has answered this client yet (see the module's note on skew).
    answered: AtomicBool,
    /// Held by the one request in flight until SNS first answers.
    first_answer: tokio::sync::Mutex<()>,
}

impl ClientSlot {
    fn new(config: SnsConfig) -> Self {
        Self {
            config,
            client: OnceCell::new(),
            answered: AtomicBool::new(false),
            first_answer: tokio::sync::Mutex::new(()),
        }
    }
}

pub struct SnsPublisher {
    /// Replaced whole by `reconfigure`; a request holds the slot it started with.
    slot: Mutex<Arc<ClientSlot>>,
}

impl SnsPublisher {
    /// Cheap: the SDK client (region and credential resolution) is built on first
    /// use, on the delivery loop, never in the caller's constructor.
    pub fn new(config: SnsConfig) -> Self {
        Self {
            slot: Mutex::new(Arc::new(ClientSlot::new(config))),
        }
    }

    fn current(&self) -> Arc<ClientSlot> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
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
        event.category(),
        event.action(),
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
        .message(event.body())
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

/// Sends one PublishBatch; says whether SNS answered, error or not.
async fn send(
    client: &Client,
    topic_arn: &str,
    entries: Vec<PublishBatchRequestEntry>,
) -> (Result<BatchResponse, PublishError>, bool) {
    let sent = client
        .publish_batch()
        .topic_arn(topic_arn)
        .set_publish_batch_request_entries(Some(entries))
        .send()
        .await;
    match sent {
        Ok(output) => {
            let response = BatchResponse {
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
                        kind: fault::entry_kind(f.sender_fault(), f.code()),
                        code: f.code().to_owned(),
                        message: f.message().unwrap_or_default().to_owned(),
                        sender_fault: f.sender_fault(),
                    })
                    .collect(),
            };
            (Ok(response), true)
        }
        Err(e) => {
            let failure = fault::failure(e, SystemTime::now());
            (Err(failure.error), failure.answered)
        }
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
        let client = slot
            .client
            // Boxed: aws-config's loader is a large future that runs once per
            // configuration; unboxed, it would make every batch task that large.
            .get_or_init(|| Box::pin(client::build(&slot.config)))
            .await;
        // Until the first answer, one request at a time; those that waited go on
        // without the lock once it has come.
        let alone = if slot.answered.load(Ordering::Acquire) {
            None
        } else {
            let turn = slot.first_answer.lock().await;
            (!slot.answered.load(Ordering::Acquire)).then_some(turn)
        };
        let (result, answered) = send(client, request.topic_arn, entries).await;
        if answered {
            slot.answered.store(true, Ordering::Release);
        }
        drop(alone);
        let redacted = |text: &str| redact(text, &slot.config);
        match result {
            Ok(mut response) => {
                for failure in &mut response.failed {
                    failure.message = redacted(&failure.message);
                }
                Ok(response)
            }
            Err(mut e) => {
                e.message = redacted(&e.message);
                Err(e)
            }
        }
    }

    fn reconfigure(&self, config: &SnsConfig) {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        if slot.config != *config {
            *slot = Arc::new(ClientSlot::new(config.clone()));
        }
    }
}

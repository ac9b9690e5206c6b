//! Test doubles for the core: events of a given size and a scripted publisher.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use uuid::Uuid;

use super::event::{encode_event, EncodedEvent, EventDefaults};
use super::publisher::{BatchRequest, BatchResponse, EntryFailure, FaultKind, PublishError, Publisher};

/// A valid event whose `properties.pad` makes the body about `len` bytes long.
pub fn event_with_body_len(len: usize) -> EncodedEvent {
    let pad = "x".repeat(len.saturating_sub(190));
    let json = format!(r#"{{"category":"c","action":"a","properties":{{"pad":"{pad}"}}}}"#);
    encode_event(&json, &EventDefaults::default(), Uuid::now_v7(), 0).expect("valid test event")
}

/// What the fake does with one request.
#[derive(Debug, Clone)]
pub enum Script {
    /// Accept every entry.
    Accept,
    /// Fail the whole request.
    Fail(FaultKind),
    /// Fail the entries at these positions (`sender_fault` as given), accept the rest.
    FailEntries(Vec<usize>, bool),
    /// Wait this long, then accept.
    Slow(Duration),
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub group: Option<String>,
    pub ids: Vec<String>,
    pub bodies: Vec<String>,
}

/// A publisher that follows a script (then accepts) and records every request.
#[derive(Clone, Default)]
pub struct FakePublisher {
    pub script: Arc<Mutex<VecDeque<Script>>>,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Requests in flight now, and the most ever at once.
    pub concurrency: Arc<Mutex<(usize, usize)>>,
}

impl FakePublisher {
    pub fn with_script(script: impl IntoIterator<Item = Script>) -> Self {
        let fake = Self::default();
        fake.script.lock().unwrap().extend(script);
        fake
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Event ids SNS accepted, in the order it accepted them.
    pub fn delivered_ids(&self, accepted: &[(usize, Vec<usize>)]) -> Vec<String> {
        let seen = self.requests();
        accepted
            .iter()
            .flat_map(|(req, positions)| positions.iter().map(|&p| seen[*req].ids[p].clone()).collect::<Vec<_>>())
            .collect()
    }

    pub fn max_concurrency(&self) -> usize {
        self.concurrency.lock().unwrap().1
    }
}

impl Publisher for FakePublisher {
    async fn publish_batch(&self, request: BatchRequest<'_>) -> Result<BatchResponse, PublishError> {
        let ids: Vec<String> = request.entries.iter().map(|e| e.id_string()).collect();
        self.seen.lock().unwrap().push(Seen {
            group: request.message_group_id.map(str::to_owned),
            ids: ids.clone(),
            bodies: request.entries.iter().map(|e| e.body.to_string()).collect(),
        });
        {
            let mut c = self.concurrency.lock().unwrap();
            c.0 += 1;
            c.1 = c.1.max(c.0);
        }
        let step = self.script.lock().unwrap().pop_front().unwrap_or(Script::Accept);
        let result = match step {
            Script::Accept => Ok(accept(&ids, &[], false)),
            Script::Slow(d) => {
                tokio::time::sleep(d).await;
                Ok(accept(&ids, &[], false))
            }
            Script::FailEntries(positions, sender_fault) => Ok(accept(&ids, &positions, sender_fault)),
            Script::Fail(kind) => Err(PublishError {
                kind,
                code: format!("{kind:?}"),
                message: "scripted failure".into(),
            }),
        };
        self.concurrency.lock().unwrap().0 -= 1;
        result
    }
}

fn accept(ids: &[String], failed: &[usize], sender_fault: bool) -> BatchResponse {
    let mut response = BatchResponse::default();
    for (i, id) in ids.iter().enumerate() {
        if failed.contains(&i) {
            response.failed.push(EntryFailure {
                id: id.clone(),
                sender_fault,
                code: if sender_fault { "InvalidParameter" } else { "InternalError" }.into(),
                message: "scripted entry failure".into(),
            });
        } else {
            response.successful.push(id.clone());
        }
    }
    response
}

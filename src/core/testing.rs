//! Test doubles for the core: events of a given size and a scripted publisher.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use serde_json::{json, Map};
use uuid::Uuid;

use crate::core::delivery::{
    BatchRequest, BatchResponse, EntryFailure, FaultKind, PublishError, Publisher,
};
use crate::core::encode::BodyFormat;
use crate::core::encode::Router;
use crate::core::encode::{EncoderConfig, MessageGroup, Validation};
use crate::core::event::EncodedEvent;

/// A valid event whose `properties.pad` makes the body about `len` bytes long.
pub fn event_with_body_len(len: usize) -> EncodedEvent {
    let pad = "x".repeat(len.saturating_sub(190));
    let json = format!(r#"{{"category":"c","action":"a","properties":{{"pad":"{pad}"}}}}"#);
    encoder()
        .encode(&json, Uuid::now_v7(), 0)
        .expect("valid test event")
        .event
}

/// An encoder for one FIFO topic, site groups, no plan, the `rc` format.
pub fn encoder() -> EncoderConfig {
    encoder_for("arn:aws:sns:us-east-1:123456789012:test.fifo")
}

pub fn encoder_for(topic_arn: &str) -> EncoderConfig {
    EncoderConfig {
        default_agent_id: "agent-default".into(),
        plan: None,
        validation: Validation::Strict,
        format: BodyFormat::Rc,
        message_group: MessageGroup::Site,
        site_url: "https://chat.example.com".into(),
        router: Router::new(Default::default(), topic_arn, &[], &[]).expect("valid topic"),
        app_access: Arc::new(crate::core::encode::AppAccess::any()),
    }
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
    /// A bug: panic inside the request.
    Panic,
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// When the request started.
    pub at: std::time::Instant,
    pub topic: String,
    pub group: Option<String>,
    pub ids: Vec<String>,
    pub bodies: Vec<String>,
    /// Refused as a whole ([`FakePublisher::refuse`]), with the AWS code.
    pub refused: Option<String>,
}

/// A publisher that follows a script (then accepts) and records every request.
#[derive(Clone, Default)]
pub struct FakePublisher {
    pub script: Arc<Mutex<VecDeque<Script>>>,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Requests in flight now, and the most ever at once.
    pub concurrency: Arc<Mutex<(usize, usize)>>,
    /// Every `reconfigure` call.
    pub reconfigured: Arc<Mutex<Vec<crate::core::options::SnsConfig>>>,
    /// Topics refused as a whole, with the AWS code, until [`FakePublisher::grant`].
    pub refused_topics: Arc<Mutex<std::collections::HashMap<String, String>>>,
    /// How long a refusal takes to come back.
    pub refusal_delay: Arc<Mutex<Duration>>,
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

    pub fn max_concurrency(&self) -> usize {
        self.concurrency.lock().unwrap().1
    }

    /// Refuses every request to `topic` as SNS refuses a destination (`code`:
    /// `AuthorizationError`, `NotFound`, ...), script or not.
    pub fn refuse(&self, topic: &str, code: &str) {
        self.refused_topics
            .lock()
            .unwrap()
            .insert(topic.into(), code.into());
    }

    /// Takes requests to `topic` again (the policy granted, the topic created).
    pub fn grant(&self, topic: &str) {
        self.refused_topics.lock().unwrap().remove(topic);
    }

    /// The requests sent to `topic`.
    pub fn requests_to(&self, topic: &str) -> Vec<Seen> {
        self.requests()
            .into_iter()
            .filter(|r| r.topic == topic)
            .collect()
    }
}

impl Publisher for FakePublisher {
    async fn publish_batch(
        &self,
        request: BatchRequest<'_>,
    ) -> Result<BatchResponse, PublishError> {
        let ids: Vec<String> = request.entries.iter().map(|e| e.id_string()).collect();
        let refused = self
            .refused_topics
            .lock()
            .unwrap()
            .get(request.topic_arn)
            .cloned();
        self.seen.lock().unwrap().push(Seen {
            at: std::time::Instant::now(),
            topic: request.topic_arn.to_owned(),
            group: request.message_group_id.map(str::to_owned),
            ids: ids.clone(),
            bodies: request
                .entries
                .iter()
                .map(|e| e.body().to_string())
                .collect(),
            refused: refused.clone(),
        });
        if let Some(code) = refused {
            let delay = *self.refusal_delay.lock().unwrap();
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            return Err(PublishError {
                kind: FaultKind::DestinationUnavailable,
                code,
                message: format!("refused {}", request.topic_arn),
            });
        }
        {
            let mut c = self.concurrency.lock().unwrap();
            c.0 += 1;
            c.1 = c.1.max(c.0);
        }
        let step = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Script::Accept);
        let result = match step {
            Script::Accept => Ok(accept(&ids, &[], false)),
            Script::Slow(d) => {
                tokio::time::sleep(d).await;
                Ok(accept(&ids, &[], false))
            }
            Script::FailEntries(positions, sender_fault) => {
                Ok(accept(&ids, &positions, sender_fault))
            }
            Script::Panic => {
                self.concurrency.lock().unwrap().0 -= 1;
                panic!("scripted publisher bug")
            }
            Script::Fail(kind) => Err(PublishError {
                kind,
                code: format!("{kind:?}"),
                message: "scripted failure".into(),
            }),
        };
        self.concurrency.lock().unwrap().0 -= 1;
        result
    }

    fn reconfigure(&self, config: &crate::core::options::SnsConfig) {
        self.reconfigured.lock().unwrap().push(config.clone());
    }
}

fn accept(ids: &[String], failed: &[usize], sender_fault: bool) -> BatchResponse {
    let mut response = BatchResponse::default();
    for (i, id) in ids.iter().enumerate() {
        if failed.contains(&i) {
            response.failed.push(EntryFailure {
                id: id.clone(),
                kind: if sender_fault {
                    FaultKind::Permanent
                } else {
                    FaultKind::Transient
                },
                code: if sender_fault {
                    "InvalidParameter"
                } else {
                    "InternalError"
                }
                .into(),
                message: "scripted entry failure".into(),
                sender_fault,
            });
        } else {
            response.successful.push(id.clone());
        }
    }
    response
}

use super::error::DeliveryError;
use crate::core::delivery::{DeliveryReport, Logger};
use crate::core::options::RetryPolicy;
use crate::core::options::{LoggerConfig, Overflow, SnsConfig};

/// A config for tests: a tiny retry backoff, no flush timer to race with.
pub fn test_config(fifo: bool) -> LoggerConfig {
    LoggerConfig {
        encoder: encoder_for(&format!(
            "arn:aws:sns:us-east-1:123456789012:test{}",
            if fifo { ".fifo" } else { "" }
        )),
        subject: "RC".into(),
        max_batch_size: 10,
        // Long: batches go out when full or flushed, never half-way because a loaded
        // machine was slow between two log() calls. Tests of the timer set their own.
        flush_interval: Duration::from_secs(10),
        max_queue_events: 100_000,
        max_queue_bytes: 64 << 20,
        overflow: Overflow::DropNewest,
        retry: RetryPolicy {
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            budget: Duration::from_secs(5),
        },
        max_concurrent_batches: 4,
        shutdown_timeout: Duration::from_secs(5),
        sns: SnsConfig {
            region: None,
            arn_region: "us-east-1".into(),
            endpoint: None,
            credentials: None,
            request_timeout: Duration::from_secs(1),
        },
        spool: None,
        shares: Default::default(),
        widget_events_per_visitor: crate::core::options::defaults::WIDGET_EVENTS_PER_VISITOR as u32,
        widget_events_per_room: crate::core::options::defaults::WIDGET_EVENTS_PER_ROOM as u32,
        debug: false,
    }
}

/// Logs `n` events numbered in `properties.n`; returns their ids in order.
pub fn log_n(logger: &Logger, n: usize) -> Vec<String> {
    log_n_from(logger, crate::core::event::Source::Server, n)
}

/// [`log_n`] as `source` logs them (the server, the widget, an App).
pub fn log_n_from(
    logger: &Logger,
    source: crate::core::event::Source<'_>,
    n: usize,
) -> Vec<String> {
    (0..n)
        .map(|i| {
            logger
                .log_json_from(
                    &format!(r#"{{"category":"c","action":"a","properties":{{"n":{i}}}}}"#),
                    source,
                )
                .expect("valid event")
                .hyphenated()
                .to_string()
        })
        .collect()
}

/// Checks the account: `accepted = delivered + failed + dropped + dead_lettered +
/// held + queued`, in a report (taken by the loop between batches, so exact).
#[track_caller]
pub fn assert_balanced(report: &DeliveryReport) {
    assert_eq!(
        report.accepted,
        report.delivered
            + report.failed
            + report.dropped
            + report.dead_lettered
            + report.held
            + report.queued,
        "the account does not balance: {report:?}"
    );
    assert_eq!(report.pending, report.held + report.queued, "{report:?}");
}

/// Checks the account in `stats()` once the loop is still (nothing in flight).
#[track_caller]
pub fn assert_stats_balanced(logger: &Logger) {
    let s = logger.stats();
    assert!(s.balances(), "the account does not balance: {s:?}");
}

/// Flushes and waits for the report, which must balance.
#[track_caller]
pub fn flush_wait(logger: &Logger) -> DeliveryReport {
    let (tx, rx) = std::sync::mpsc::channel();
    logger.flush(Box::new(move |r| {
        let _ = tx.send(r);
    }));
    let report = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("flush settles");
    assert_balanced(&report);
    report
}

/// Closes and waits for the report, which must balance.
#[track_caller]
pub fn close_wait(logger: &Logger, timeout: Option<Duration>) -> DeliveryReport {
    let (tx, rx) = std::sync::mpsc::channel();
    logger.close(
        timeout,
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    let report = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("close settles");
    assert_balanced(&report);
    report
}

/// Collects what `onError` would receive.
pub fn collect_errors(logger: &Logger) -> Arc<Mutex<Vec<DeliveryError>>> {
    let errors = Arc::new(Mutex::new(Vec::new()));
    let sink = errors.clone();
    logger.on_error(Arc::new(move |e| sink.lock().unwrap().push(e.clone())));
    errors
}

/// Every event id the collected errors name, in report order.
pub fn reported_ids(errors: &Mutex<Vec<DeliveryError>>) -> Vec<String> {
    errors
        .lock()
        .unwrap()
        .iter()
        .flat_map(|e| e.event_ids.clone())
        .collect()
}

/// Polls `done` until it holds; panics after 10 s. For state the delivery loop
/// reaches in its own time: a wait for it, not a speed check.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            std::time::Instant::now() < until,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A config with a spool in `dir`: tiny window, fast sync.
pub fn spooled_config(fifo: bool, dir: &std::path::Path) -> LoggerConfig {
    let mut config = test_config(fifo);
    config.spool = Some(crate::core::options::SpoolConfig {
        dir: dir.to_path_buf(),
        max_bytes: 64 << 20,
        sync_interval: Duration::from_millis(5),
        max_dead_letter_bytes: 64 << 20,
    });
    config
}

/// The ids delivered, in the order the publisher accepted them (fully accepting
/// requests only), from every fake given.
pub fn accepted_ids(fake: &FakePublisher, failed_requests: usize) -> Vec<String> {
    fake.requests()
        .into_iter()
        .skip(failed_requests)
        .flat_map(|r| r.ids)
        .collect()
}

thread_local! {
    /// Allocations (and reallocations) made by this thread so far.
    static ALLOCATIONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// The test binary's allocator: mimalloc, as in the addon, counting what each thread
/// allocates, so that tests can hold log() to its allocations per event.
pub struct CountingAllocator;

// SAFETY: every call is passed on unchanged to mimalloc; the count is a thread-local
// `Cell` with a const initialiser, which neither allocates nor registers a destructor.
unsafe impl std::alloc::GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        count_allocation();
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        count_allocation();
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        count_allocation();
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
}

fn count_allocation() {
    // try_with: the thread's locals may be gone while it exits.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

/// Allocations and reallocations the calling thread has made so far.
pub fn allocations() -> u64 {
    ALLOCATIONS.with(std::cell::Cell::get)
}

/// Event-shaped values biased towards what the fast path reads, with enough of
/// everything else (escapes, floats, arrays, wrong types, odd keys) to cross its
/// edges.
pub fn event_json_value() -> impl Strategy<Value = serde_json::Value> {
    let text = prop_oneof![
        4 => "[a-zA-Z0-9 _:.-]{0,12}",
        1 => ".{0,8}",
        1 => Just(" ".to_string()),
        1 => Just("a\"b\\c\u{1}".to_string()),
        1 => Just("2022-09-26T17:50:47.225Z".to_string()),
        1 => Just("customerAction".to_string()),
        1 => Just("session".to_string()),
    ];
    let scalar = prop_oneof![
        4 => text.clone().prop_map(serde_json::Value::String),
        1 => Just(serde_json::Value::Null),
        1 => any::<bool>().prop_map(serde_json::Value::Bool),
        2 => any::<i64>().prop_map(|n| json!(n)),
        2 => (-1_000_000i64..1_000_000).prop_map(|n| json!(n)),
        1 => (0i64..=crate::core::event::MAX_TIMESTAMP_MS).prop_map(|n| json!(n)),
        1 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
    ];
    let value = prop_oneof![
        6 => scalar.clone(),
        1 => proptest::collection::vec(scalar.clone(), 0..3).prop_map(serde_json::Value::Array),
        2 => proptest::collection::vec(("[a-z]{0,3}", scalar), 0..5)
            .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect::<Map<_, _>>())),
    ];
    let key = prop_oneof![
        8 => proptest::sample::select(crate::core::event::EVENT_KEYS.to_vec()).prop_map(str::to_owned),
        1 => "[a-z]{1,6}",
    ];
    proptest::collection::vec((key, value), 0..10).prop_map(|kv| {
        let mut m = Map::new();
        // Most events have the two required fields.
        m.insert("category".into(), json!("Chat Session"));
        m.insert("action".into(), json!("closed"));
        for (k, v) in kv {
            m.insert(k, v);
        }
        serde_json::Value::Object(m)
    })
}

//! The logger's counters in the Prometheus text exposition format (Rocket.Chat
//! exposes Prometheus metrics), with stable names and labels: `topic`, `reason`,
//! `kind`, `app`, `result`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Mutex;

use super::sources::{LaneSnapshot, SourcesSnapshot};
use super::stats::{PausedDestination, StatsSnapshot};
use crate::core::error::ErrorCode;
use crate::core::plan::VIOLATION_KINDS;

/// What an app's call to the bridge came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AppResult {
    Logged,
    PermissionDenied,
    RateLimited,
    Invalid,
}

impl AppResult {
    pub fn as_str(self) -> &'static str {
        match self {
            AppResult::Logged => "logged",
            AppResult::PermissionDenied => "permission_denied",
            AppResult::RateLimited => "rate_limited",
            AppResult::Invalid => "invalid",
        }
    }
}

/// Most distinct app ids counted; past it, further ones are counted as `other`, so
/// made-up ids cannot grow memory (or a Prometheus server's) without bound.
const MAX_APPS: usize = 1_000;

/// Labelled counters, kept apart from the hot path: the loop updates them once per
/// batch, the bridge once per app call.
#[derive(Debug, Default)]
pub struct LabelledCounters {
    inner: Mutex<Counters>,
}

#[derive(Debug, Default, Clone)]
pub struct Counters {
    /// topic ARN → delivered.
    pub delivered: BTreeMap<String, u64>,
    /// (topic ARN or "", reason code) → failed.
    pub failed: BTreeMap<(String, String), u64>,
    /// (app, result) → calls.
    pub apps: BTreeMap<(String, AppResult), u64>,
    app_names: HashMap<String, ()>,
    /// Events `log()` refused because they broke the tracking plan.
    pub plan_rejections: u64,
}

impl LabelledCounters {
    fn with<R>(&self, f: impl FnOnce(&mut Counters) -> R) -> R {
        f(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn delivered(&self, topic: &str, n: usize) {
        if n > 0 {
            self.with(|c| *c.delivered.entry(topic.to_owned()).or_default() += n as u64);
        }
    }

    pub fn failed(&self, topic: &str, reason: ErrorCode, n: usize) {
        if n > 0 {
            self.with(|c| {
                *c.failed
                    .entry((topic.to_owned(), reason.as_str().to_owned()))
                    .or_default() += n as u64
            });
        }
    }

    pub fn app(&self, app: &str, result: AppResult) {
        self.with(|c| {
            let known = c.app_names.contains_key(app);
            let name = if known || c.app_names.len() < MAX_APPS {
                c.app_names.insert(app.to_owned(), ());
                app.to_owned()
            } else {
                "other".to_owned()
            };
            *c.apps.entry((name, result)).or_default() += 1;
        });
    }

    pub fn plan_rejection(&self) {
        self.with(|c| c.plan_rejections += 1);
    }

    pub fn snapshot(&self) -> Counters {
        self.with(|c| c.clone())
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// What every metric's name starts with.
pub const PREFIX: &str = "rocketchat_sns_analytics_";

/// A metric's type, as the exposition format names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
}

impl MetricKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
        }
    }
}

/// One metric family: the one definition both exporters publish (`logger.metrics()`
/// renders it as text; `registerPrometheusMetrics` registers it with prom-client).
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The full name, [`PREFIX`] included.
    pub name: String,
    pub kind: MetricKind,
    pub help: &'static str,
    pub labels: &'static [&'static str],
    pub samples: Vec<Sample>,
}

/// One sample: its label values, in the family's `labels` order, and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Vec<String>,
    pub value: f64,
}

/// What the metrics are read from.
#[derive(Debug, Default)]
pub struct MetricsInput<'a> {
    pub stats: StatsSnapshot,
    pub counters: Counters,
    pub sources: SourcesSnapshot,
    pub paused: &'a [PausedDestination],
    /// Per topic, the age in seconds of its oldest event not yet settled.
    pub oldest: &'a [(String, f64)],
}

struct Families(Vec<Family>);

impl Families {
    fn family(
        &mut self,
        name: &str,
        kind: MetricKind,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> &mut Family {
        self.0.push(Family {
            name: format!("{PREFIX}{name}"),
            kind,
            help,
            labels,
            samples: Vec::new(),
        });
        self.0.last_mut().expect("just pushed")
    }

    fn single(&mut self, name: &str, kind: MetricKind, help: &'static str, value: u64) {
        self.family(name, kind, help, &[]).sample(&[], value as f64);
    }
}

impl Family {
    fn sample(&mut self, labels: &[&str], value: f64) {
        debug_assert_eq!(labels.len(), self.labels.len(), "{}", self.name);
        self.samples.push(Sample {
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            value,
        });
    }
}

use MetricKind::{Counter, Gauge};

/// Every metric family, with its samples.
pub fn families(input: &MetricsInput<'_>) -> Vec<Family> {
    let MetricsInput {
        stats,
        counters,
        sources,
        paused,
        oldest,
    } = input;
    let mut out = Families(Vec::new());
    out.single(
        "events_accepted_total",
        Counter,
        "Events log() accepted (overflow drops included), and events recovered from the spool.",
        stats.accepted,
    );
    let f = out.family(
        "events_delivered_total",
        Counter,
        "Events SNS accepted, by topic.",
        &["topic"],
    );
    for (topic, n) in &counters.delivered {
        f.sample(&[topic], *n as f64);
    }
    let f = out.family(
        "events_failed_total",
        Counter,
        "Events given up, by topic and reason (ERR_PUBLISH_FAILED, ERR_RETRIES_EXHAUSTED, ERR_SHUTDOWN_TIMEOUT, ERR_DESTINATION_UNAVAILABLE, ERR_SPOOL, ERR_INTERNAL).",
        &["topic", "reason"],
    );
    for ((topic, reason), n) in &counters.failed {
        f.sample(&[topic, reason], *n as f64);
    }
    out.single(
        "events_dropped_total",
        Counter,
        "Events dropped because the queue, or their source's lane, was full (by lane: source_events_total).",
        stats.dropped,
    );
    let f = out.family(
        "events_invalid_total",
        Counter,
        "Events log() refused, by reason.",
        &["reason"],
    );
    let plan = counters.plan_rejections.min(stats.invalid);
    f.sample(&["invalid_event"], (stats.invalid - plan) as f64);
    f.sample(&["tracking_plan"], plan as f64);
    let f = out.family(
        "plan_violations_total",
        Counter,
        "Tracking-plan violations found, by kind.",
        &["kind"],
    );
    for (kind, n) in VIOLATION_KINDS.iter().zip(stats.violations) {
        f.sample(&[kind.as_str()], n as f64);
    }
    out.single(
        "events_retried_total",
        Counter,
        "Entries sent again after a transient failure.",
        stats.retried,
    );
    out.single(
        "batches_sent_total",
        Counter,
        "PublishBatch requests sent, retries included.",
        stats.batches_sent,
    );
    out.single(
        "events_queued",
        Gauge,
        "Events accepted, not settled and not held: waiting to be sent or in a request.",
        stats.queued,
    );
    out.single(
        "events_in_flight",
        Gauge,
        "Events in a request not yet answered, or waiting for a retry.",
        stats.in_flight,
    );
    out.single(
        "events_held",
        Gauge,
        "Events held for paused destinations.",
        stats.held,
    );
    let f = out.family(
        "oldest_undelivered_age_seconds",
        Gauge,
        "Age of the oldest event not yet settled, by topic (from its id's time, so across restarts): what a delivery SLO is set on. Events read from the spool count once they are read; the oldest of all is always among those.",
        &["topic"],
    );
    for (topic, age) in oldest.iter() {
        f.sample(&[topic], *age);
    }
    let f = out.family(
        "destination_paused",
        Gauge,
        "1 for each destination SNS refused as a whole (no permission, no topic, invalid keys, a disabled KMS key), by topic and AWS code, while it is paused.",
        &["topic", "code"],
    );
    for p in paused.iter() {
        f.sample(&[&p.topic_arn, &p.aws_code], 1.0);
    }
    let f = out.family(
        "destination_held_events",
        Gauge,
        "Events held for a paused destination, by topic.",
        &["topic"],
    );
    for p in paused.iter() {
        f.sample(&[&p.topic_arn], p.held as f64);
    }
    out.single(
        "spool_in_use",
        Gauge,
        "With spoolDir: 1 while the logger writes its spool folder, 0 while it runs from memory (and without spoolDir).",
        u64::from(stats.spool_in_use),
    );
    out.single(
        "spool_events",
        Gauge,
        "With spoolDir: unsettled events in the disk spool.",
        stats.spooled,
    );
    out.single(
        "spool_bytes",
        Gauge,
        "With spoolDir: bytes of the disk spool's files.",
        stats.spool_bytes,
    );
    out.single(
        "spool_corrupt_records_total",
        Counter,
        "With spoolDir: torn or damaged spool records skipped.",
        stats.corrupt_records,
    );
    out.single(
        "spool_recovered_events_total",
        Counter,
        "With spoolDir: events left by loggers that are gone, found on start or adopted from another instance's folder.",
        stats.recovered,
    );
    out.single(
        "events_dead_lettered_total",
        Counter,
        "With spoolDir: events SNS refused for good for their own sake, kept in the dead-letter store.",
        stats.dead_lettered,
    );
    out.single(
        "dead_letter_dropped_total",
        Counter,
        "With spoolDir: dead letters dropped, oldest first, to keep the store within maxDeadLetterBytes.",
        stats.dead_letter_dropped,
    );
    let f = out.family(
        "app_events_total",
        Counter,
        "Apps-Engine bridge calls, by app and result.",
        &["app", "result"],
    );
    for ((app, result), n) in &counters.apps {
        f.sample(&[app, result.as_str()], *n as f64);
    }
    source_families(&mut out, sources);
    out.0
}

/// The lanes: `source` is `server`, `widget` or `app` (with `app`, the App's id).
fn source_families(out: &mut Families, sources: &SourcesSnapshot) {
    let mut lanes: Vec<([&str; 2], &LaneSnapshot)> = vec![
        (["server", ""], &sources.server),
        (["widget", ""], &sources.widget),
    ];
    for (app, lane) in &sources.app {
        lanes.push((["app", app], lane));
    }
    let f = out.family(
        "source_events_total",
        Counter,
        "Events by lane (source) and outcome: logged (accepted, dropped ones included), delivered, dropped (the lane at its share, or the queue full), refused (before the queue: the widget's caps, an App's rate limit or byte budget).",
        &["source", "app", "outcome"],
    );
    for ([source, app], lane) in &lanes {
        for (outcome, n) in [
            ("logged", lane.logged),
            ("delivered", lane.delivered),
            ("dropped", lane.dropped),
            ("refused", lane.refused),
        ] {
            f.sample(&[source, app, outcome], n as f64);
        }
    }
    let f = out.family(
        "source_held_events",
        Gauge,
        "Events not settled yet, by lane (source): what the lane's share is checked against.",
        &["source", "app"],
    );
    for ([source, app], lane) in &lanes {
        f.sample(&[source, app], lane.unsettled_events as f64);
    }
    let f = out.family(
        "source_held_bytes",
        Gauge,
        "Bytes of the events not settled yet, by lane (source).",
        &["source", "app"],
    );
    for ([source, app], lane) in &lanes {
        f.sample(&[source, app], lane.unsettled_bytes as f64);
    }
}

/// Every family, without samples: what a registry registers before any scrape.
pub fn definitions() -> Vec<Family> {
    let mut defs = families(&MetricsInput::default());
    for f in &mut defs {
        f.samples.clear();
    }
    defs
}

/// The Prometheus text exposition of `families`.
pub fn render(families: &[Family]) -> String {
    let mut out = String::new();
    for f in families {
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind.as_str());
        for s in &f.samples {
            out.push_str(&f.name);
            if !f.labels.is_empty() {
                let parts: Vec<String> = f
                    .labels
                    .iter()
                    .zip(&s.labels)
                    .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                    .collect();
                let _ = write!(out, "{{{}}}", parts.join(","));
            }
            let _ = writeln!(out, " {}", s.value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_format() {
        let c = LabelledCounters::default();
        c.delivered("arn:aws:sns:us-east-1:123456789012:t.fifo", 7);
        c.failed(
            "arn:aws:sns:us-east-1:123456789012:t.fifo",
            ErrorCode::PublishFailed,
            2,
        );
        c.app("app-\"1\"", AppResult::Logged);
        c.app("app-\"1\"", AppResult::RateLimited);
        c.plan_rejection();
        let stats = StatsSnapshot {
            accepted: 30,
            held: 12,
            invalid: 3,
            dropped: 4,
            violations: [1, 0, 0, 0, 2],
            ..Default::default()
        };
        let paused = [PausedDestination {
            topic_arn: "arn:aws:sns:us-east-1:123456789012:agent.fifo".into(),
            aws_code: "AuthorizationError".into(),
            aws_message: "not authorized".into(),
            since: std::time::SystemTime::UNIX_EPOCH,
            held: 12,
        }];
        let text = render(&families(&MetricsInput {
            stats,
            counters: c.snapshot(),
            paused: &paused,
            oldest: &[("arn:aws:sns:us-east-1:123456789012:t.fifo".into(), 1.5)],
            ..Default::default()
        }));
        for line in [
            "# TYPE rocketchat_sns_analytics_events_delivered_total counter",
            "rocketchat_sns_analytics_events_delivered_total{topic=\"arn:aws:sns:us-east-1:123456789012:t.fifo\"} 7",
            "rocketchat_sns_analytics_events_failed_total{topic=\"arn:aws:sns:us-east-1:123456789012:t.fifo\",reason=\"ERR_PUBLISH_FAILED\"} 2",
            "rocketchat_sns_analytics_events_invalid_total{reason=\"invalid_event\"} 2",
            "rocketchat_sns_analytics_events_invalid_total{reason=\"tracking_plan\"} 1",
            "rocketchat_sns_analytics_plan_violations_total{kind=\"notAllowedValue\"} 2",
            "rocketchat_sns_analytics_app_events_total{app=\"app-\\\"1\\\"\",result=\"rate_limited\"} 1",
            "rocketchat_sns_analytics_events_dropped_total 4",
            "rocketchat_sns_analytics_oldest_undelivered_age_seconds{topic=\"arn:aws:sns:us-east-1:123456789012:t.fifo\"} 1.5",
            "rocketchat_sns_analytics_spool_in_use 0",
            "rocketchat_sns_analytics_events_held 12",
            "rocketchat_sns_analytics_events_accepted_total 30",
            "rocketchat_sns_analytics_destination_paused{topic=\"arn:aws:sns:us-east-1:123456789012:agent.fifo\",code=\"AuthorizationError\"} 1",
            "rocketchat_sns_analytics_destination_held_events{topic=\"arn:aws:sns:us-east-1:123456789012:agent.fifo\"} 12",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
        assert_eq!(
            definitions().len(),
            text.lines().filter(|l| l.starts_with("# TYPE")).count(),
            "every family defined is rendered, with or without samples"
        );
    }

    #[test]
    fn made_up_app_ids_are_capped() {
        let c = LabelledCounters::default();
        for i in 0..(MAX_APPS + 10) {
            c.app(&format!("a{i}"), AppResult::Logged);
        }
        let s = c.snapshot();
        assert_eq!(
            s.apps.get(&("other".to_owned(), AppResult::Logged)),
            Some(&10)
        );
    }
}

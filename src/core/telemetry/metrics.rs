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

const PREFIX: &str = "rocketchat_sns_analytics";

struct Exposition(String);

impl Exposition {
    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {PREFIX}_{name} {help}");
        let _ = writeln!(self.0, "# TYPE {PREFIX}_{name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        let _ = write!(self.0, "{PREFIX}_{name}");
        if !labels.is_empty() {
            let parts: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let _ = write!(self.0, "{{{}}}", parts.join(","));
        }
        let _ = writeln!(self.0, " {value}");
    }

    fn single(&mut self, name: &str, kind: &str, help: &str, value: u64) {
        self.header(name, kind, help);
        self.sample(name, &[], value);
    }
}

/// The exposition text for one logger.
/// The lanes: `source` is `server`, `widget` or `app` (with `app`, the App's id).
fn render_sources(out: &mut Exposition, sources: &SourcesSnapshot) {
    let mut lanes: Vec<([(&str, &str); 2], &LaneSnapshot)> = vec![
        ([("source", "server"), ("app", "")], &sources.server),
        ([("source", "widget"), ("app", "")], &sources.widget),
    ];
    for (app, lane) in &sources.app {
        lanes.push(([("source", "app"), ("app", app)], lane));
    }
    out.header(
        "source_events_total",
        "counter",
        "Events by lane (source) and outcome: logged (accepted, dropped ones included), delivered, dropped (the lane at its share, or the queue full), refused (before the queue: the widget's caps, an App's rate limit or byte budget).",
    );
    for (labels, lane) in &lanes {
        for (outcome, n) in [
            ("logged", lane.logged),
            ("delivered", lane.delivered),
            ("dropped", lane.dropped),
            ("refused", lane.refused),
        ] {
            let labels = [labels[0], labels[1], ("outcome", outcome)];
            out.sample("source_events_total", &labels, n);
        }
    }
    out.header(
        "source_held_events",
        "gauge",
        "Events not settled yet, by lane (source): what the lane's share is checked against.",
    );
    for (labels, lane) in &lanes {
        out.sample("source_held_events", labels, lane.held_events);
    }
    out.header(
        "source_held_bytes",
        "gauge",
        "Bytes of the events not settled yet, by lane (source).",
    );
    for (labels, lane) in &lanes {
        out.sample("source_held_bytes", labels, lane.held_bytes);
    }
}

pub fn render(
    stats: &StatsSnapshot,
    counters: &Counters,
    sources: &SourcesSnapshot,
    paused: &[PausedDestination],
    spooled: bool,
) -> String {
    let mut out = Exposition(String::new());
    render_sources(&mut out, sources);
    out.single(
        "events_accepted_total",
        "counter",
        "Events log() accepted (overflow drops included), and events recovered from the spool.",
        stats.accepted,
    );
    out.header(
        "events_delivered_total",
        "counter",
        "Events SNS accepted, by topic.",
    );
    for (topic, n) in &counters.delivered {
        out.sample("events_delivered_total", &[("topic", topic)], *n);
    }
    out.header(
        "events_failed_total",
        "counter",
        "Events given up, by topic and reason (ERR_PUBLISH_FAILED, ERR_RETRIES_EXHAUSTED, ERR_SHUTDOWN_TIMEOUT, ERR_DESTINATION_UNAVAILABLE, ERR_INTERNAL).",
    );
    for ((topic, reason), n) in &counters.failed {
        out.sample(
            "events_failed_total",
            &[("topic", topic), ("reason", reason)],
            *n,
        );
    }
    out.header(
        "events_dropped_total",
        "counter",
        "Events dropped because the queue was full (overflow).",
    );
    out.sample(
        "events_dropped_total",
        &[("reason", "queue_full")],
        stats.dropped,
    );
    out.header(
        "events_invalid_total",
        "counter",
        "Events log() refused, by reason.",
    );
    let plan = counters.plan_rejections.min(stats.invalid);
    out.sample(
        "events_invalid_total",
        &[("reason", "invalid_event")],
        stats.invalid - plan,
    );
    out.sample("events_invalid_total", &[("reason", "tracking_plan")], plan);
    out.header(
        "plan_violations_total",
        "counter",
        "Tracking-plan violations found, by kind.",
    );
    for (kind, n) in VIOLATION_KINDS.iter().zip(stats.violations) {
        out.sample("plan_violations_total", &[("kind", kind.as_str())], n);
    }
    out.single(
        "events_retried_total",
        "counter",
        "Entries sent again after a transient failure.",
        stats.retried,
    );
    out.single(
        "batches_sent_total",
        "counter",
        "PublishBatch requests sent, retries included.",
        stats.batches_sent,
    );
    out.single(
        "events_queued",
        "gauge",
        "Events accepted, not settled and not held: waiting to be sent or in a request.",
        stats.queued,
    );
    out.single(
        "events_in_flight",
        "gauge",
        "Events in a request not yet answered, or waiting for a retry.",
        stats.in_flight,
    );
    out.single(
        "events_held",
        "gauge",
        "Events held for paused destinations.",
        stats.held,
    );
    out.header(
        "destination_paused",
        "gauge",
        "1 for each destination SNS refused as a whole (no permission, no topic, invalid keys, a disabled KMS key), by topic and AWS code, while it is paused.",
    );
    for p in paused {
        out.sample(
            "destination_paused",
            &[("topic", &p.topic_arn), ("code", &p.aws_code)],
            1,
        );
    }
    out.header(
        "destination_held_events",
        "gauge",
        "Events held for a paused destination, by topic.",
    );
    for p in paused {
        out.sample(
            "destination_held_events",
            &[("topic", &p.topic_arn)],
            p.held,
        );
    }
    if spooled {
        out.single(
            "spool_in_use",
            "gauge",
            "1 while the logger writes its spool folder, 0 while it runs from memory.",
            u64::from(stats.spool_in_use),
        );
        out.single(
            "spool_events",
            "gauge",
            "Unsettled events in the disk spool.",
            stats.spooled,
        );
        out.single(
            "spool_bytes",
            "gauge",
            "Bytes of the disk spool's files.",
            stats.spool_bytes,
        );
        out.single(
            "spool_corrupt_records_total",
            "counter",
            "Torn or damaged spool records skipped.",
            stats.corrupt_records,
        );
        out.single(
            "spool_recovered_events",
            "gauge",
            "Events left by loggers that are gone: found on start, or adopted from another instance's folder.",
            stats.recovered,
        );
        out.single(
            "events_dead_lettered_total",
            "counter",
            "Events SNS refused for good for their own sake, kept in the dead-letter store.",
            stats.dead_lettered,
        );
        out.single(
            "dead_letter_dropped_total",
            "counter",
            "Dead letters dropped, oldest first, to keep the store within maxDeadLetterBytes.",
            stats.dead_letter_dropped,
        );
    }
    out.header(
        "app_events_total",
        "counter",
        "Apps-Engine bridge calls, by app and result.",
    );
    for ((app, result), n) in &counters.apps {
        out.sample(
            "app_events_total",
            &[("app", app), ("result", result.as_str())],
            *n,
        );
    }
    out.0
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
        let text = render(&stats, &c.snapshot(), &Default::default(), &paused, false);
        for line in [
            "# TYPE rocketchat_sns_analytics_events_delivered_total counter",
            "rocketchat_sns_analytics_events_delivered_total{topic=\"arn:aws:sns:us-east-1:123456789012:t.fifo\"} 7",
            "rocketchat_sns_analytics_events_failed_total{topic=\"arn:aws:sns:us-east-1:123456789012:t.fifo\",reason=\"ERR_PUBLISH_FAILED\"} 2",
            "rocketchat_sns_analytics_events_invalid_total{reason=\"invalid_event\"} 2",
            "rocketchat_sns_analytics_events_invalid_total{reason=\"tracking_plan\"} 1",
            "rocketchat_sns_analytics_plan_violations_total{kind=\"notAllowedValue\"} 2",
            "rocketchat_sns_analytics_app_events_total{app=\"app-\\\"1\\\"\",result=\"rate_limited\"} 1",
            "rocketchat_sns_analytics_events_dropped_total{reason=\"queue_full\"} 4",
            "rocketchat_sns_analytics_events_held 12",
            "rocketchat_sns_analytics_events_accepted_total 30",
            "rocketchat_sns_analytics_destination_paused{topic=\"arn:aws:sns:us-east-1:123456789012:agent.fifo\",code=\"AuthorizationError\"} 1",
            "rocketchat_sns_analytics_destination_held_events{topic=\"arn:aws:sns:us-east-1:123456789012:agent.fifo\"} 12",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
        assert!(!text.contains("spool_"), "no spool, no spool metrics");
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

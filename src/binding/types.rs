//! Plain objects crossing the boundary, typed for `index.d.ts`.

use napi_derive::napi;

use crate::core;

/// One analytics event, as passed to `log()`.
///
/// The body published to SNS always has exactly the keys `dialogflowAgentId`,
/// `roomId`, `tabId`, `category`, `action`, `properties`, `eventType` and `timestamp`.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // Type only: `log()` reads the event as JSON (see logger.rs).
pub struct AnalyticsEvent {
    /// The catalog category, e.g. `'Chat Session'`. Required, non-empty.
    pub category: String,
    /// The action within the category, e.g. `'closed'`. Required, non-empty.
    pub action: String,
    /// Flat properties: scalars or arrays of scalars; nested objects are refused.
    /// Default `{}`.
    #[napi(
        ts_type = "Record<string, string | number | boolean | null | Array<string | number | boolean | null>>"
    )]
    pub properties: Option<std::collections::HashMap<String, String>>,
    /// The Livechat room id. Default `''`.
    pub room_id: Option<String>,
    /// The widget's browser tab id; only events from the widget carry one. Default `''`.
    pub tab_id: Option<String>,
    /// Default: the logger's `dialogflowAgentId` option, else `''`.
    pub dialogflow_agent_id: Option<String>,
    /// `'customerAction'` for what the visitor did, `'session'` for everything else.
    #[napi(ts_type = "'customerAction' | 'session'")]
    pub event_type: Option<String>,
    /// When it happened: a Date, an ISO-8601 string or epoch milliseconds. Default: now.
    #[napi(ts_type = "Date | string | number")]
    pub timestamp: Option<String>,
}

/// Counters of one logger. Every number only grows, except `queued`, `inFlight`,
/// `held`, `spooled` and `spoolBytes`.
///
/// They form one account: `accepted = delivered + failed + dropped + deadLettered +
/// held + queued`, each event in exactly one term on the right. `inFlight` is not a
/// term: it is the part of `queued` and `held` that is in a request. The account
/// balances exactly in what `flush()` and `close()` resolve with; a `stats()` read
/// while a batch settles may see one counter moved before the other.
#[napi(object)]
pub struct LoggerStats {
    /// Events `log()` accepted, including those `overflow` then dropped (a `'reject'`
    /// throws, and counts in `dropped`), plus events found unsettled in the spool on
    /// start (`recovered`). Events `log()` refused as invalid are not accepted.
    pub accepted: i64,
    /// Accepted, not settled and not held: waiting to be sent (in memory or, with
    /// `spoolDir`, on disk), in a PublishBatch request or waiting for its retry, or
    /// left in the spool by `close()` for the next logger. Includes `inFlight`.
    pub queued: i64,
    /// Of `queued` and `held`: in a PublishBatch request not yet answered, or waiting
    /// for a retry.
    pub in_flight: i64,
    /// Held for a paused destination (see `paused`): in memory, or with `spoolDir` on
    /// disk; a probe's events count here. Events on disk the logger has not read back
    /// yet are `queued` until it does.
    pub held: i64,
    /// Accepted by SNS.
    pub delivered: i64,
    /// Given up: refused by SNS, out of retry budget, cut off by a shutdown deadline,
    /// or held for a paused destination when `close()` ended without `spoolDir`.
    /// Events kept in the dead-letter store are counted in `deadLettered` instead.
    pub failed: i64,
    /// Discarded because the queue was full (see `overflow`), thrown or not.
    pub dropped: i64,
    /// With `spoolDir`: refused by SNS for good for their own sake (a sender fault on
    /// the entry, e.g. `InvalidParameter`) and kept in the dead-letter store
    /// (`<spoolDir>/dead-letter/`), to list and replay with
    /// `npx rocketchat-sns-analytics dead-letter <spoolDir> list|export|replay|purge`.
    pub dead_lettered: i64,
    /// With `spoolDir`: records dropped from the dead-letter store, oldest first, to
    /// keep it within `maxDeadLetterBytes` (each was counted in `deadLettered`, and
    /// reported with `ERR_DEAD_LETTER_FULL`).
    pub dead_letter_dropped: i64,
    /// Entries sent again after a transient failure.
    pub retried: i64,
    /// PublishBatch requests sent, retries included.
    pub batches_sent: i64,
    /// Events `log()` refused as invalid (tracking-plan rejections included).
    pub invalid: i64,
    /// Tracking-plan violations found, by kind, whether the event was refused
    /// (`validation: 'strict'`) or published (`'warn'`).
    pub violations: ViolationCounts,
    /// With `spoolDir`: unsettled events in the spool's files (in memory too, or
    /// not): what the next logger on the folder would find. Events a full disk
    /// refused are not counted until it takes them.
    pub spooled: i64,
    /// With `spoolDir`: bytes of its segment files, the room allocated ahead included.
    pub spool_bytes: i64,
    /// With `spoolDir`: torn or damaged records skipped (never fatal).
    pub corrupt_records: i64,
    /// With `spoolDir`: unsettled events left by loggers that are gone: found on
    /// start in the folder this logger took over (delivered first), or adopted while
    /// running from the folder of another instance.
    pub recovered: i64,
    /// With `spoolDir`: whether this logger writes its spool folder
    /// (`<spoolDir>/instance-<id>/`). False while it runs from memory because no folder
    /// could be had (reported once through `onError`, `ERR_SPOOL`), and without
    /// `spoolDir`.
    pub spool_in_use: bool,
    /// Apps-Engine bridge calls by app id.
    pub apps: std::collections::HashMap<String, AppCounts>,
    /// The same events by lane: the server's own, the Livechat widget's, and the
    /// Apps' (together and each). The widget and the Apps may fill only their share of
    /// the limits (`widgetSharePercent`, `appSharePercent`, `appsSharePercent`); a lane
    /// at its share drops its own newest events (reported by id, `ERR_QUEUE_FULL`).
    pub sources: SourceStats,
    /// Destinations SNS refused as a whole, whose events are held until a probe
    /// passes or `reconfigure()` routes them elsewhere.
    pub paused: Vec<PausedDestination>,
}

/// Events by lane: `stats().sources`.
#[napi(object)]
pub struct SourceStats {
    pub server: LaneStats,
    pub widget: LaneStats,
    /// Every App together.
    pub apps: LaneStats,
    /// Each App, by App id.
    pub app: std::collections::HashMap<String, LaneStats>,
}

/// One lane's counters.
#[napi(object)]
#[derive(Default)]
pub struct LaneStats {
    /// Events accepted into the lane, dropped ones included.
    pub logged: i64,
    pub delivered: i64,
    /// Dropped because the lane was at its share, or the whole queue was full.
    pub dropped: i64,
    /// Refused before the queue, so not logged: over the widget's caps per visitor
    /// or room (`widgetEventsPerVisitor`, `widgetEventsPerRoom`), or an App's rate
    /// limit or byte budget (`appRateLimit`).
    pub refused: i64,
    /// Not settled yet, wherever they wait, and their bytes.
    pub held_events: i64,
    pub held_bytes: i64,
}

impl From<&core::telemetry::LaneSnapshot> for LaneStats {
    fn from(l: &core::telemetry::LaneSnapshot) -> Self {
        Self {
            logged: l.logged as i64,
            delivered: l.delivered as i64,
            dropped: l.dropped as i64,
            refused: l.refused as i64,
            held_events: l.unsettled_events as i64,
            held_bytes: l.unsettled_bytes as i64,
        }
    }
}

impl From<&core::telemetry::SourcesSnapshot> for SourceStats {
    fn from(s: &core::telemetry::SourcesSnapshot) -> Self {
        Self {
            server: (&s.server).into(),
            widget: (&s.widget).into(),
            apps: (&s.apps).into(),
            app: s.app.iter().map(|(id, l)| (id.clone(), l.into())).collect(),
        }
    }
}

/// A destination SNS refused as a whole (no permission, no topic, a key identity or
/// secret that is not valid, a disabled KMS key).
#[napi(object)]
pub struct PausedDestination {
    pub topic_arn: String,
    /// The AWS error code of the refusal that paused it, e.g. `'AuthorizationError'`.
    pub aws_code: String,
    /// SNS's message with it.
    pub aws_message: String,
    /// When it paused, epoch milliseconds.
    pub since_ms: f64,
    /// Events held for it.
    pub held: i64,
}

impl From<&core::telemetry::PausedDestination> for PausedDestination {
    fn from(p: &core::telemetry::PausedDestination) -> Self {
        Self {
            topic_arn: p.topic_arn.clone(),
            aws_code: p.aws_code.clone(),
            aws_message: p.aws_message.clone(),
            since_ms: p
                .since
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_millis() as f64),
            held: p.held as i64,
        }
    }
}

/// What one Rocket.Chat App's bridge calls came to.
#[napi(object)]
#[derive(Default)]
pub struct AppCounts {
    /// Events accepted (queued for SNS).
    pub logged: i64,
    /// Refused: the app lacks the `analytics.write` permission.
    pub permission_denied: i64,
    /// Refused: over the per-app rate limit.
    pub rate_limited: i64,
    /// Refused: the event was invalid or broke the tracking plan.
    pub invalid: i64,
}

/// Tracking-plan violations by kind.
#[napi(object)]
pub struct ViolationCounts {
    pub unplanned_event: i64,
    pub unplanned_property: i64,
    pub missing_property: i64,
    pub type_mismatch: i64,
    pub not_allowed_value: i64,
}

/// One way an event departs from the tracking plan.
#[napi(object)]
pub struct PlanViolation {
    #[napi(
        ts_type = "'unplannedEvent' | 'unplannedProperty' | 'missingProperty' | 'typeMismatch' | 'notAllowedValue'"
    )]
    pub kind: String,
    /// The field at fault: `category`, `action`, `eventType`, `properties.<name>`.
    pub path: String,
    /// What is wrong and what the plan allows.
    pub message: String,
}

impl From<&core::plan::Violation> for PlanViolation {
    fn from(v: &core::plan::Violation) -> Self {
        Self {
            kind: v.kind.as_str().to_owned(),
            path: v.path.clone(),
            message: v.message.clone(),
        }
    }
}

impl From<core::telemetry::StatsSnapshot> for LoggerStats {
    fn from(s: core::telemetry::StatsSnapshot) -> Self {
        Self {
            accepted: s.accepted as i64,
            queued: s.queued as i64,
            in_flight: s.in_flight as i64,
            held: s.held as i64,
            delivered: s.delivered as i64,
            failed: s.failed as i64,
            dropped: s.dropped as i64,
            dead_lettered: s.dead_lettered as i64,
            dead_letter_dropped: s.dead_letter_dropped as i64,
            retried: s.retried as i64,
            batches_sent: s.batches_sent as i64,
            invalid: s.invalid as i64,
            violations: ViolationCounts {
                unplanned_event: s.violations[0] as i64,
                unplanned_property: s.violations[1] as i64,
                missing_property: s.violations[2] as i64,
                type_mismatch: s.violations[3] as i64,
                not_allowed_value: s.violations[4] as i64,
            },
            spooled: s.spooled as i64,
            spool_bytes: s.spool_bytes as i64,
            corrupt_records: s.corrupt_records as i64,
            recovered: s.recovered as i64,
            spool_in_use: s.spool_in_use,
            apps: Default::default(),
            sources: SourceStats {
                server: Default::default(),
                widget: Default::default(),
                apps: Default::default(),
                app: Default::default(),
            },
            paused: Vec::new(),
        }
    }
}

/// What `flush()` and `close()` resolve with: the logger's account when they settled,
/// so that a host can log where every event went. `accepted = delivered + failed +
/// dropped + deadLettered + held + queued`, the terms as `LoggerStats` defines them.
#[napi(object)]
pub struct DeliveryReport {
    pub accepted: i64,
    pub delivered: i64,
    pub failed: i64,
    pub dropped: i64,
    pub dead_lettered: i64,
    /// Held for paused destinations; after `close()` with `spoolDir`, left in the
    /// spool for the next logger.
    pub held: i64,
    /// Neither settled nor held: logged after the call, or with `spoolDir` left in the
    /// spool when `close()` timed out.
    pub queued: i64,
    /// `held + queued`: every event not settled.
    pub pending: i64,
    /// With `spoolDir`: events kept on disk for the next logger on the folder.
    pub spooled: i64,
}

impl From<core::delivery::DeliveryReport> for DeliveryReport {
    fn from(r: core::delivery::DeliveryReport) -> Self {
        Self {
            accepted: r.accepted as i64,
            delivered: r.delivered as i64,
            failed: r.failed as i64,
            dropped: r.dropped as i64,
            dead_lettered: r.dead_lettered as i64,
            held: r.held as i64,
            queued: r.queued as i64,
            pending: r.pending as i64,
            spooled: r.spooled as i64,
        }
    }
}

/// An event SNS refused for good, as it was sent: what it takes to publish it again
/// identically.
#[napi(object)]
pub struct RefusedEntry {
    /// The event id, also its FIFO `MessageDeduplicationId`.
    pub id: String,
    pub topic_arn: String,
    /// The FIFO `MessageGroupId` it was sent with; absent on a standard topic.
    pub message_group_id: Option<String>,
    pub subject: String,
    /// The SNS message exactly as published.
    pub message: String,
    /// Its message attributes (data type `String`).
    pub attributes: std::collections::HashMap<String, String>,
    /// The AWS error code, e.g. `'InvalidParameter'`.
    pub code: String,
    /// The AWS error message.
    pub reason: String,
}

impl From<&core::error::RefusedEntry> for RefusedEntry {
    fn from(e: &core::error::RefusedEntry) -> Self {
        Self {
            id: e.id.clone(),
            topic_arn: e.topic_arn.clone(),
            message_group_id: e.message_group_id.clone(),
            subject: e.subject.clone(),
            message: e.message.clone(),
            attributes: e.attributes.iter().cloned().collect(),
            code: e.code.clone(),
            reason: e.reason.clone(),
        }
    }
}

/// A failure in the background, passed to `onError` callbacks.
#[napi(object)]
pub struct DeliveryError {
    /// `ERR_PUBLISH_FAILED`, `ERR_RETRIES_EXHAUSTED`, `ERR_QUEUE_FULL`,
    /// `ERR_SHUTDOWN_TIMEOUT`, `ERR_DELIVERY_DELAYED`, `ERR_SPOOL`,
    /// `ERR_SPOOL_RECOVERED` (the spool is written again),
    /// `ERR_DEAD_LETTERED` (kept in the dead-letter store), `ERR_DEAD_LETTER_FULL`
    /// (the oldest dead letters dropped), `ERR_TRACKING_PLAN` (an event published
    /// despite violations, `validation: 'warn'`), `ERR_INTERNAL`;
    /// `ERR_PUBLISH_FAILED`, `ERR_RETRIES_EXHAUSTED`, `ERR_DELIVERY_DELAYED` and
    /// `ERR_DEAD_LETTERED` repeat per batch, so they are merged: at most one report per
    /// 10 s per topic and code, with every id and a count in the message;
    /// `ERR_QUEUE_FULL` at most once a second;
    /// `ERR_DESTINATION_UNAVAILABLE` once when SNS refuses a topic as a whole and its
    /// events are held (with `eventIds` only when `close()` gave up held events
    /// without `spoolDir`: they are lost), and `DESTINATION_RESUMED` once when it takes
    /// events again (not a failure).
    pub code: String,
    pub message: String,
    /// Ids (as returned by `log()`) of the events concerned.
    pub event_ids: Vec<String>,
    /// For `ERR_TRACKING_PLAN`: the violations not reported before.
    pub violations: Option<Vec<PlanViolation>>,
    /// For `ERR_PUBLISH_FAILED` on entries SNS refused for their own sake when no
    /// dead-letter store kept them (no `spoolDir`, or it could not be written): each
    /// event as it was sent, so that the host can keep it.
    pub entries: Option<Vec<RefusedEntry>>,
    /// For `ERR_DESTINATION_UNAVAILABLE` and `DESTINATION_RESUMED`: the destination.
    pub destination: Option<DestinationReport>,
}

/// The destination an `ERR_DESTINATION_UNAVAILABLE` or `DESTINATION_RESUMED` report
/// is about.
#[napi(object)]
pub struct DestinationReport {
    pub topic_arn: String,
    /// The AWS error code of the refusal that paused it, e.g. `'AuthorizationError'`,
    /// `'NotFound'`, `'KMSDisabled'`.
    pub aws_code: String,
    /// SNS's message with it.
    pub aws_message: String,
    /// Events held for it when the report was made (for `DESTINATION_RESUMED`: the
    /// events now being sent).
    pub held: i64,
}

impl From<&core::error::DeliveryError> for DeliveryError {
    fn from(e: &core::error::DeliveryError) -> Self {
        Self {
            code: e.code.as_str().to_owned(),
            message: e.message.clone(),
            event_ids: e.event_ids.clone(),
            violations: (!e.violations.is_empty())
                .then(|| e.violations.iter().map(PlanViolation::from).collect()),
            entries: (!e.entries.is_empty())
                .then(|| e.entries.iter().map(RefusedEntry::from).collect()),
            destination: e.destination.as_ref().map(|d| DestinationReport {
                topic_arn: d.topic_arn.clone(),
                aws_code: d.aws_code.clone(),
                aws_message: d.aws_message.clone(),
                held: d.held as i64,
            }),
        }
    }
}

/// Options of `close()`.
#[napi(object)]
pub struct CloseOptions {
    /// How long to keep delivering before giving up on what is left.
    /// Default: the logger's `shutdownTimeoutMs`.
    pub timeout_ms: Option<f64>,
}

//! Errors the core reports. The binding maps each to a JavaScript error exactly once
//! (see `binding/error.rs`); nothing here knows about JavaScript.

use std::fmt;

use super::plan::Violation;

/// An event the caller handed to `log()` that cannot be published as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidEvent {
    /// The field at fault, in the caller's spelling (`roomId`, `properties.f`), or
    /// `event` when the whole value is wrong.
    pub field: String,
    /// What is wrong with it, phrased so the caller can fix it without our code.
    pub reason: String,
}

impl InvalidEvent {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for InvalidEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid analytics event: {} {}", self.field, self.reason)
    }
}

impl std::error::Error for InvalidEvent {}

/// A logger option that is missing, of the wrong type or out of range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidOption {
    /// The option's JavaScript name (`maxBatchSize`, `credentials.accessKeyId`).
    pub option: String,
    pub reason: String,
}

impl InvalidOption {
    pub fn new(option: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            option: option.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for InvalidOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid AnalyticsLogger option {}: {}",
            self.option, self.reason
        )
    }
}

impl std::error::Error for InvalidOption {}

/// Why an App may not log an event: the field at fault and what the admin allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppAccessDenied {
    pub field: &'static str,
    pub message: String,
}

impl std::fmt::Display for AppAccessDenied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Why `log()` did not accept a well-formed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogError {
    Invalid(InvalidEvent),
    /// `close()` was called (or the host is exiting).
    Closed,
    /// The event breaks the tracking plan and `validation` is `strict`.
    Plan(PlanRejection),
    /// The memory queue is full and `overflow` is `reject`.
    QueueFull {
        max_events: usize,
        max_bytes: usize,
    },
    /// The spool holds `maxSpoolBytes` and `overflow` is `reject`.
    SpoolFull {
        max_bytes: u64,
    },
    /// An App's event that `appAccess` does not allow.
    NotAllowed(AppAccessDenied),
    /// The event's lane (the widget's, an App's, the Apps') is at its cap and
    /// `overflow` is `reject`: which lane, and its cap.
    LaneFull(String),
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::Invalid(e) => e.fmt(f),
            LogError::Plan(e) => e.fmt(f),
            LogError::Closed => f.write_str("AnalyticsLogger is closed"),
            LogError::NotAllowed(refusal) => refusal.fmt(f),
            LogError::QueueFull {
                max_events,
                max_bytes,
            } => write!(
                f,
                "AnalyticsLogger queue is full ({max_events} events or {max_bytes} bytes, \
                 see maxQueueEvents and maxQueueBytes); event rejected because overflow is 'reject'"
            ),
            LogError::LaneFull(lane) => write!(
                f,
                "AnalyticsLogger: {lane}; event rejected because overflow is 'reject'"
            ),
            LogError::SpoolFull { max_bytes } => write!(
                f,
                "AnalyticsLogger spool is full ({max_bytes} bytes of events, see maxSpoolBytes); \
                 event rejected because overflow is 'reject'"
            ),
        }
    }
}

impl std::error::Error for LogError {}

/// An event that breaks the tracking plan, with every way it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRejection {
    /// The plan's name.
    pub plan: String,
    /// `Category/action` of the event.
    pub event: String,
    /// Never empty.
    pub violations: Vec<Violation>,
}

impl fmt::Display for PlanRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "analytics event {} violates tracking plan '{}':",
            self.event, self.plan
        )?;
        for (i, v) in self.violations.iter().enumerate() {
            let sep = if i == 0 { " " } else { "; " };
            // Each message names its field and the event already.
            write!(f, "{sep}{}", v.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for PlanRejection {}

/// A failure that happened in the background, reported through `onError` and `stats()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryError {
    /// Stable machine-readable code, e.g. `ERR_PUBLISH_FAILED`.
    pub code: ErrorCode,
    pub message: String,
    /// The ids (as returned by `log()`) of the events this failure concerns.
    pub event_ids: Vec<String>,
    /// For `ERR_TRACKING_PLAN` (`validation: 'warn'`): what the event broke.
    pub violations: Vec<Violation>,
    /// For `ERR_PUBLISH_FAILED` on entries SNS refused for their own sake, when no
    /// dead-letter store kept them: each event as it was sent, so the host can.
    pub entries: Vec<RefusedEntry>,
    /// For `ERR_DESTINATION_UNAVAILABLE` and `DESTINATION_RESUMED`: which destination,
    /// what SNS said, and what it holds.
    pub destination: Option<DestinationState>,
}

/// An event SNS refused for good, with what it takes to publish it again identically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedEntry {
    pub id: String,
    pub topic_arn: String,
    /// The FIFO `MessageGroupId` it was sent with; `None` on a standard topic.
    pub message_group_id: Option<String>,
    pub subject: String,
    /// The SNS message exactly as published.
    pub message: String,
    /// Its message attributes (all of data type String), in the order sent.
    pub attributes: Vec<(String, String)>,
    /// The AWS error code and message.
    pub code: String,
    pub reason: String,
}

impl DeliveryError {
    pub fn new(code: ErrorCode, message: impl Into<String>, event_ids: Vec<String>) -> Self {
        Self {
            code,
            message: message.into(),
            event_ids,
            violations: Vec::new(),
            entries: Vec::new(),
            destination: None,
        }
    }
}

/// A destination SNS refused as a whole, as a report tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationState {
    pub topic_arn: String,
    /// The AWS error code of the refusal that paused it (`AuthorizationError`,
    /// `NotFound`, `KMSDisabled`, ...).
    pub aws_code: String,
    /// SNS's message with it.
    pub aws_message: String,
    /// Events held for it when the report was made.
    pub held: u64,
}

/// Every error code this library gives JavaScript: on thrown errors (`code`), on
/// `onError`'s `DeliveryError`s, and as the `reason` label of the failure metrics.
/// One list, so that a code is spelt in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    // Thrown synchronously.
    /// A bad event (`field` names it).
    InvalidEvent,
    /// A bad option (`option` names it).
    InvalidOption,
    /// `log()` or `reconfigure()` after `close()`.
    LoggerClosed,
    /// The queue (or the spool) is full and `overflow` is `reject`; in `onError`, the
    /// events named were dropped per `overflow`.
    QueueFull,
    /// The event breaks the tracking plan (thrown with `validation: 'strict'`; in
    /// `onError` with `'warn'`, once per kind, event and path).
    TrackingPlan,
    /// A tracking plan that cannot be loaded.
    InvalidPlan,
    /// A widget body over its size limit (the route answers 400,
    /// `error-event-too-large`).
    EventTooLarge,
    /// A Rocket.Chat setting with a value the logger cannot use.
    InvalidSetting,
    /// An Apps-Engine app without the `analytics.write` permission.
    PermissionDenied,
    /// An Apps-Engine app over its rate limit.
    RateLimited,
    /// A malformed Apps-Engine app id.
    InvalidAppId,
    // Reported through `onError`.
    /// SNS refused the events for good (a sender fault, or a non-retryable error).
    PublishFailed,
    /// Transient failures went on until the retry budget ran out.
    RetriesExhausted,
    /// `close()` or the host's exit reached its deadline before these were delivered.
    ShutdownTimeout,
    /// With `spoolDir`: SNS has failed these events past the retry budget; they stay in
    /// the spool and are retried until it answers (merged: at most one report per
    /// 10 s per topic).
    DeliveryDelayed,
    /// The spool folder could not be read or written; the message says what happened
    /// to the events. Reported once when it starts failing, and for damaged segments
    /// once per segment.
    Spool,
    /// The spool is written (or read) again after `Spool`; names the events that waited
    /// in memory meanwhile.
    SpoolRecovered,
    /// With `spoolDir`: SNS refused these events for good for their own sake; they
    /// are kept in the dead-letter store, to be listed and replayed.
    DeadLettered,
    /// The dead-letter store passed `maxDeadLetterBytes`: these oldest records were
    /// dropped from it.
    DeadLetterFull,
    /// SNS refused a destination as a whole (no permission, no topic, a key identity
    /// or secret that is not valid, a disabled KMS key): its events are held and
    /// probed for, reported once when it pauses. With event ids: held events that
    /// `close()` gave up without a spool, counted failed.
    DestinationUnavailable,
    /// A paused destination takes events again (a probe passed, or `reconfigure()`
    /// routed its events elsewhere): reported once, not a failure.
    DestinationResumed,
    /// A bug in this library: the delivery loop stopped unexpectedly.
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidEvent => "ERR_INVALID_EVENT",
            ErrorCode::InvalidOption => "ERR_INVALID_OPTION",
            ErrorCode::LoggerClosed => "ERR_LOGGER_CLOSED",
            ErrorCode::QueueFull => "ERR_QUEUE_FULL",
            ErrorCode::TrackingPlan => "ERR_TRACKING_PLAN",
            ErrorCode::InvalidPlan => "ERR_INVALID_PLAN",
            ErrorCode::EventTooLarge => "ERR_EVENT_TOO_LARGE",
            ErrorCode::InvalidSetting => "ERR_INVALID_SETTING",
            ErrorCode::PermissionDenied => "PERMISSION_DENIED",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::InvalidAppId => "ERR_INVALID_APP_ID",
            ErrorCode::PublishFailed => "ERR_PUBLISH_FAILED",
            ErrorCode::RetriesExhausted => "ERR_RETRIES_EXHAUSTED",
            ErrorCode::ShutdownTimeout => "ERR_SHUTDOWN_TIMEOUT",
            ErrorCode::DeliveryDelayed => "ERR_DELIVERY_DELAYED",
            ErrorCode::Spool => "ERR_SPOOL",
            ErrorCode::SpoolRecovered => "ERR_SPOOL_RECOVERED",
            ErrorCode::DeadLettered => "ERR_DEAD_LETTERED",
            ErrorCode::DeadLetterFull => "ERR_DEAD_LETTER_FULL",
            ErrorCode::DestinationUnavailable => "ERR_DESTINATION_UNAVAILABLE",
            ErrorCode::DestinationResumed => "DESTINATION_RESUMED",
            ErrorCode::Internal => "ERR_INTERNAL",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

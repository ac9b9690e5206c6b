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
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::Invalid(e) => e.fmt(f),
            LogError::Plan(e) => e.fmt(f),
            LogError::Closed => f.write_str("AnalyticsLogger is closed"),
            LogError::QueueFull {
                max_events,
                max_bytes,
            } => write!(
                f,
                "AnalyticsLogger queue is full ({max_events} events or {max_bytes} bytes, \
                 see maxQueueEvents and maxQueueBytes); event rejected because overflow is 'reject'"
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
    pub code: &'static str,
    pub message: String,
    /// The ids (as returned by `log()`) of the events this failure concerns.
    pub event_ids: Vec<String>,
    /// For `ERR_TRACKING_PLAN` (`validation: 'warn'`): what the event broke.
    pub violations: Vec<Violation>,
}

impl DeliveryError {
    pub fn new(code: &'static str, message: impl Into<String>, event_ids: Vec<String>) -> Self {
        Self {
            code,
            message: message.into(),
            event_ids,
            violations: Vec::new(),
        }
    }
}

/// Codes carried by [`DeliveryError::code`].
pub mod codes {
    /// SNS refused the events for good (a sender fault, or a non-retryable error).
    pub const PUBLISH_FAILED: &str = "ERR_PUBLISH_FAILED";
    /// Transient failures went on until the retry budget ran out.
    pub const RETRIES_EXHAUSTED: &str = "ERR_RETRIES_EXHAUSTED";
    /// The memory queue was full; the events named were dropped per `overflow`.
    pub const QUEUE_FULL: &str = "ERR_QUEUE_FULL";
    /// `close()` or the host's exit reached its deadline before these were delivered.
    pub const SHUTDOWN_TIMEOUT: &str = "ERR_SHUTDOWN_TIMEOUT";
    /// `validation: 'warn'`: a published event broke the tracking plan (reported once
    /// per kind, event and path).
    pub const TRACKING_PLAN: &str = "ERR_TRACKING_PLAN";
    /// With `spoolDir`: SNS has failed these events past the retry budget; they stay in
    /// the spool and are retried until it answers (reported once per batch).
    pub const DELIVERY_DELAYED: &str = "ERR_DELIVERY_DELAYED";
    /// The spool folder could not be read or written; the message says what happened
    /// to the events.
    pub const SPOOL: &str = "ERR_SPOOL";
    /// A bug in this library: the delivery loop stopped unexpectedly.
    pub const INTERNAL: &str = "ERR_INTERNAL";
}

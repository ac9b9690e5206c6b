//! The napi layer: converts JavaScript values to core types and back, and holds
//! nothing else. Only this module uses napi types.

mod bridge;
mod deadletter;
mod error;
mod event_json;
mod exit_hook;
mod fast_log;
mod logger;
mod metrics;
mod napi_raw;
mod options;
mod plan;
mod settings;
mod types;

pub use bridge::{AppRateLimitOptions, AppsEngineBridge, AppsEngineBridgeOptions};
pub use deadletter::{
    list_dead_letters, purge_dead_letters, replay_dead_letters_js, DeadLetter, DeadLetterList,
    DeadLetterNotSent, DeadLetterPurgeReport, DeadLetterRefusedAgain, DeadLetterReplayOptions,
    DeadLetterReplayReport, DeadLetterSelection,
};
pub use event_json::event_json_function;
pub use fast_log::{log_json_function, reject_event};
pub use logger::AnalyticsLogger;
pub use metrics::{metric_definitions, MetricFamily, MetricSample};
pub use options::{
    AwsCredentials, LoggerOptions, PlannedEventDefinition, PlannedPropertyDefinition,
    TrackingPlanDocument,
};
pub use plan::{builtin_plans, generate_types};
pub use settings::{options_from_settings_js, settings_definitions, SettingDefinition};
pub use types::{
    AnalyticsEvent, CloseOptions, DeliveryError, DeliveryReport, LoggerStats, PlanViolation,
    RefusedEntry, ViolationCounts,
};

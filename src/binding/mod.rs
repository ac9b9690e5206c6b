//! The napi layer: converts JavaScript values to core types and back, and holds
//! nothing else. Only this module uses napi types.

mod error;
mod exit_hook;
mod logger;
mod options;
mod plan;
mod types;

pub use logger::AnalyticsLogger;
pub use options::{
    AwsCredentials, LoggerOptions, PlannedEventDefinition, PlannedPropertyDefinition,
    TrackingPlanDocument,
};
pub use plan::{builtin_plans, generate_types};
pub use types::{
    AnalyticsEvent, CloseOptions, DeliveryError, DeliveryReport, LoggerStats, PlanViolation,
    ViolationCounts,
};

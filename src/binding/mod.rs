//! The napi layer: converts JavaScript values to core types and back, and holds
//! nothing else. Only this module uses napi types.

mod error;
mod exit_hook;
mod logger;
mod options;
mod types;

pub use logger::AnalyticsLogger;
pub use options::{AwsCredentials, LoggerOptions};
pub use types::{AnalyticsEvent, CloseOptions, DeliveryError, DeliveryReport, LoggerStats};

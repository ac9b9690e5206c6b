//! The pure core: everything here is plain Rust with no napi types, so `cargo test`
//! exercises validation, batching, retry and the delivery loop without Node.
//!
//! One folder per stage of the pipeline, in the order an event goes through them:
//! `options` (what the logger is told; `paths` confines those that are filesystem
//! paths), `encode` (an event read, checked (what each App may log included), routed
//! and formatted on the caller's thread), `plan` (tracking plans), `delivery` (the logger
//! handle, the delivery loop and its retries), `spool` (the disk queue), `deadletter` (events SNS refused for good), `sns` (the
//! publisher), `telemetry` (stats and metrics) and `rocketchat` (the Apps-Engine,
//! widget and settings adapters). Imports run one way; `scripts/check-module-cycles.py`
//! checks that no two modules import each other.

mod arn;
pub mod deadletter;
pub mod delivery;
pub mod encode;
pub mod error;
pub mod event;
mod fields;
pub mod options;
pub mod paths;
pub mod plan;
pub mod rocketchat;
#[cfg(feature = "sns")]
pub mod sns;
pub mod spool;
pub mod telemetry;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
pub(crate) use fuzz::cases as fuzz_cases;
#[cfg(test)]
pub(crate) mod testing;

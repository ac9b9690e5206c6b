//! The pure core: everything here is plain Rust with no napi types, so `cargo test`
//! exercises validation, batching, retry and the delivery loop without Node.

pub mod apps;
pub mod batch;
pub mod config;
pub mod deliver;
pub mod encoder;
pub mod error;
pub mod event;
pub mod format;
pub mod lanes;
pub mod logger;
pub mod metrics;
pub mod pipeline;
pub mod plan;
pub mod publisher;
pub mod retry;
pub mod route;
pub mod runtime;
pub mod settings;
pub mod sns;
pub mod spool;
pub mod stats;
pub mod widget;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
pub(crate) use fuzz::cases as fuzz_cases;
#[cfg(test)]
pub(crate) mod testing;

#![deny(clippy::all)]

mod binding;
pub mod core;

pub use binding::*;

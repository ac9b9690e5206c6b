#![deny(clippy::all)]

pub mod core;
mod binding;

pub use binding::*;

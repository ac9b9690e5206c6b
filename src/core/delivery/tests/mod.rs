//! `Logger`-level tests of the delivery loop, against the scripted publisher of
//! `core::testing`, by subject.

mod account;
mod allocations;
mod dead_letter;
mod lifecycle;
mod order;
mod overflow;
mod pause;
mod reconfigure;
mod retry;
mod sources;
mod spool;

//! The dead-letter store (`<spoolDir>/dead-letter/`): events SNS refused for good for
//! their own sake (a sender fault on one entry of a PublishBatch, such as an invalid
//! parameter), kept with their message byte for byte so that a person can look at
//! them and publish them again, identically, once the cause is fixed.
//!
//! - `record.rs`: the file format (checksummed, append-only) and its reader, which
//!   skips what is damaged and keeps one record per event id.
//! - `select.rs`: which records a command works on.
//! - `store.rs`: the file on disk, bounded by `maxDeadLetterBytes` (the oldest records
//!   are dropped past it), locked for each operation so that the command line can
//!   work on it while a logger appends.
//!
//! Replaying drives a logger, so it lives with the loggers (`delivery/replay.rs`).

mod record;
mod select;
mod store;

pub use record::{
    scan, scan_from, write_file, write_record, DeadLetter, DeadLetterFormat, Scan, FILE_HEADER,
    MAX_REASON_BYTES,
};
pub use select::Selection;
pub use store::{Appended, DeadLetterStore, Purged, ReplayLock, DIR_NAME};

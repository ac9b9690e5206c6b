//! The spool folder's lock: one logger per folder, in this process or another.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Seek, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

const LOCK_FILE: &str = "spool.lock";

/// The folder, locked for this logger. Taken synchronously in the constructor so that
/// a second logger on the same folder is refused at once, with a clear error.
#[derive(Debug)]
pub struct SpoolLock {
    dir: PathBuf,
    /// Held open: closing it (or the process ending, however it ends) unlocks. A lock
    /// file left by a process that is gone is no lock at all.
    _file: File,
}

/// Why a spool folder cannot be used.
#[derive(Debug)]
pub enum SpoolLockError {
    /// Another logger holds it; the text names the holder if it wrote its pid.
    InUse(String),
    Io(io::Error),
}

impl std::fmt::Display for SpoolLockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpoolLockError::InUse(holder) => write!(
                f,
                "is in use by another logger ({holder}); two loggers must never share a spool \
                 folder, give each its own spoolDir"
            ),
            SpoolLockError::Io(e) => write!(f, "cannot be used: {e}"),
        }
    }
}

impl SpoolLock {
    /// Creates the folder if needed and locks it.
    pub fn acquire(dir: &Path) -> Result<SpoolLock, SpoolLockError> {
        fs::create_dir_all(dir).map_err(SpoolLockError::Io)?;
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(SpoolLockError::Io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(SpoolLockError::InUse(if holder.is_empty() {
                    "it holds the lock file".to_owned()
                } else {
                    holder.to_owned()
                }));
            }
            Err(fs::TryLockError::Error(e)) => return Err(SpoolLockError::Io(e)),
        }
        // Who holds it, for the next one's error message.
        let _ = file.set_len(0);
        let _ = file.seek(SeekFrom::Start(0));
        let _ = write!(file, "process {}", std::process::id());
        let _ = file.flush();
        Ok(SpoolLock {
            dir: dir.to_path_buf(),
            _file: file,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

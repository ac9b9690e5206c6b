//! A spool folder's lock: one logger per folder, in this process, another process or
//! on another machine.
//!
//! It is the kernel's file lock (`flock`), not a pid or a heartbeat: it belongs to the
//! open file, so it ends when its holder does, however it ends (a crash, SIGKILL, an
//! OOM kill), and no clock is involved. On Linux NFS clients `flock` is carried as an
//! NFS lock (a whole-file POSIX lock, NFSv4 or NLM), which the server grants across
//! machines and releases when the holder's machine stops renewing its lease; CephFS
//! and EFS (NFSv4.1) do the same. A pid would say nothing on a volume shared across
//! machines, and a heartbeat would let a paused process (a long GC, a frozen node)
//! lose its folder while it still writes. docs/delivery.md says which volumes qualify.
//!
//! The lock file is opened without following links and created new in a new folder
//! (`files.rs`): it is truncated to name its holder, which must never reach a file a
//! link points to. A folder is checked before its lock is taken: one that is not this
//! user's, or that others can write, is refused.

use std::fs::{self, File};
use std::io::{self, Read as _, Seek, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use super::files;

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
    /// The folder fails a check ([`files::folder_problem`]): why, as a predicate.
    Refused(String),
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
            SpoolLockError::Refused(problem) => write!(f, "{problem}"),
            SpoolLockError::Io(e) => write!(f, "cannot be used: {e}"),
        }
    }
}

impl SpoolLock {
    /// Creates the folder if needed, checks it, and locks it.
    pub fn acquire(dir: &Path) -> Result<SpoolLock, SpoolLockError> {
        files::create_dir_all(dir).map_err(SpoolLockError::Io)?;
        if let Some(problem) = files::folder_problem(dir).map_err(SpoolLockError::Io)? {
            return Err(SpoolLockError::Refused(problem));
        }
        Self::lock(dir, files::options().read(true).write(true).create(true))
    }

    /// Locks a folder this logger has just created: its lock file is created new
    /// (`O_EXCL`), so nothing planted under that name can be written through.
    pub fn create_in_new(dir: &Path) -> Result<SpoolLock, SpoolLockError> {
        Self::lock(
            dir,
            files::options().read(true).write(true).create_new(true),
        )
    }

    fn lock(dir: &Path, options: &fs::OpenOptions) -> Result<SpoolLock, SpoolLockError> {
        let mut file = files::open(options, &dir.join(LOCK_FILE)).map_err(SpoolLockError::Io)?;
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
        Ok(Self::held(dir, file))
    }

    /// Locks a folder that already has a lock file, if its holder is gone; `None` if
    /// it is held (or has no lock file: a folder still being created, or not a spool).
    /// A folder that fails its check, or whose lock file is a link, is an error.
    pub fn try_existing(dir: &Path) -> io::Result<Option<SpoolLock>> {
        files::check_folder(dir, "the spool folder")?;
        let file = match files::open(
            files::options().read(true).write(true),
            &dir.join(LOCK_FILE),
        ) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        match file.try_lock() {
            Ok(()) => Ok(Some(Self::held(dir, file))),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(e)) => Err(e),
        }
    }

    fn held(dir: &Path, mut file: File) -> SpoolLock {
        // Who holds it, for people looking at the folder and the next one's error.
        let _ = file.set_len(0);
        let _ = file.seek(SeekFrom::Start(0));
        let _ = write!(file, "{}", holder());
        let _ = file.flush();
        SpoolLock {
            dir: dir.to_path_buf(),
            _file: file,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Unlocks and removes the lock file (the folder is being removed).
    pub fn remove(self) -> io::Result<()> {
        let path = self.dir.join(LOCK_FILE);
        drop(self._file);
        match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// `process <pid> on <host>`: Kubernetes sets `HOSTNAME` to the pod's name.
fn holder() -> String {
    match std::env::var("HOSTNAME") {
        Ok(host) if !host.is_empty() => format!("process {} on {host}", std::process::id()),
        _ => format!("process {}", std::process::id()),
    }
}

//! One spool folder per logger inside `spoolDir`, so that any number of server
//! instances can run on one setting and one shared volume; and the folders of loggers
//! that are gone, for a live logger to adopt.
//!
//! `spoolDir/instance-<uuid v7>/` holds one logger's segments and its `spool.lock`.
//! A folder whose lock is free belongs to a logger that is gone: a starting logger
//! takes the oldest such folder as its own (its events are replayed first, as after a
//! restart), and a running one adopts the others (`worker/adoption.rs`). The
//! dead-letter store stays in `spoolDir/dead-letter/`, shared: it locks per operation.
//!
//! `spoolDir` is created [`files::DIR_MODE`] and checked before anything in it is
//! used ([`files::folder_problem`]): one that is not this user's, or that others can
//! write, is refused, and the logger runs from memory. Each instance folder is checked
//! the same way when it is locked, and folders are listed without following links.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use uuid::Uuid;

use super::disk::SEGMENT_SUFFIX;
use super::files;
use super::lock::{SpoolLock, SpoolLockError};

/// The name of every logger's folder starts so.
pub const INSTANCE_PREFIX: &str = "instance-";

/// A folder for a new logger: the oldest one left by a logger that is gone, else a
/// new one. `adopted` says which.
pub fn claim(root: &Path) -> Result<(SpoolLock, bool), SpoolLockError> {
    files::create_dir_all(root).map_err(SpoolLockError::Io)?;
    if let Some(problem) = files::folder_problem(root).map_err(SpoolLockError::Io)? {
        return Err(SpoolLockError::Refused(problem));
    }
    if let Some(lock) = orphans(root, None).next() {
        return Ok((lock, true));
    }
    // A fresh name cannot be held by anyone but a scanner that found its lock file
    // between our create and our lock: then take another.
    let mut last = None;
    for _ in 0..8 {
        let dir = root.join(format!("{INSTANCE_PREFIX}{}", Uuid::now_v7().simple()));
        match files::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(SpoolLockError::Io(e)),
        }
        match SpoolLock::create_in_new(&dir) {
            Ok(lock) => return Ok((lock, false)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        SpoolLockError::Io(io::Error::other("no new instance folder could be created"))
    }))
}

/// The folders under `root` whose logger is gone, oldest first, each locked for the
/// caller as the iterator reaches it; `own` is skipped. `root` itself comes last when
/// it holds segment files: a logger from before per-instance folders wrote there.
/// Folders that cannot be read or locked are skipped: a later scan tries again. So
/// are folders that fail their check, links to folders, and a lock file that is a
/// link; and every folder, while `root` itself fails its check.
pub fn orphans<'a>(root: &'a Path, own: Option<&'a Path>) -> impl Iterator<Item = SpoolLock> + 'a {
    orphans_with(root, own, |_, _| {})
}

/// [`orphans`], calling `refused` with each folder that fails its check or whose lock
/// file is not a plain file (for the logger to report).
pub fn orphans_with<'a>(
    root: &'a Path,
    own: Option<&'a Path>,
    mut refused: impl FnMut(&Path, io::Error) + 'a,
) -> impl Iterator<Item = SpoolLock> + 'a {
    let root_ok = matches!(files::folder_problem(root), Ok(None));
    let mut dirs: Vec<PathBuf> = fs::read_dir(root)
        .into_iter()
        .filter(move |_| root_ok)
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(INSTANCE_PREFIX))
        })
        .map(|e| e.path())
        .filter(|p| Some(p.as_path()) != own)
        .collect();
    // UUIDv7 names sort by creation time.
    dirs.sort();
    if has_segments(root) {
        dirs.push(root.to_path_buf());
    }
    dirs.into_iter()
        .filter_map(move |dir| match SpoolLock::try_existing(&dir) {
            Ok(lock) => lock,
            Err(e) => {
                refused(&dir, e);
                None
            }
        })
}

fn has_segments(dir: &Path) -> bool {
    fs::read_dir(dir).into_iter().flatten().flatten().any(|e| {
        e.file_name()
            .to_str()
            .is_some_and(|n| n.ends_with(SEGMENT_SUFFIX))
            && e.file_type().is_ok_and(|t| t.is_file())
    })
}

/// Removes a folder whose events are all settled: its segments, its lock, and the
/// folder itself unless it is `root` (which holds the dead-letter store and the
/// other instances' folders).
pub fn remove(lock: SpoolLock, root: &Path) -> io::Result<()> {
    let dir = lock.dir().to_path_buf();
    for entry in fs::read_dir(&dir)?.flatten() {
        let name = entry.file_name();
        if name.to_str().is_some_and(|n| n.ends_with(SEGMENT_SUFFIX)) {
            fs::remove_file(entry.path())?;
        }
    }
    lock.remove()?;
    if dir != root {
        fs::remove_dir(&dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_logger_gets_its_own_folder_and_takes_over_a_free_one() {
        let root = tempfile::tempdir().unwrap();
        let (a, adopted_a) = claim(root.path()).unwrap();
        let (b, adopted_b) = claim(root.path()).unwrap();
        assert!(!adopted_a && !adopted_b);
        assert_ne!(a.dir(), b.dir());
        assert!(a.dir().starts_with(root.path()) && b.dir().starts_with(root.path()));
        // Held folders are nobody's orphans.
        assert_eq!(orphans(root.path(), None).count(), 0);
        let gone = a.dir().to_path_buf();
        drop(a);
        let (c, adopted_c) = claim(root.path()).unwrap();
        assert!(
            adopted_c,
            "the folder of a logger that is gone is taken over"
        );
        assert_eq!(c.dir(), gone);
        drop(b);
        let found: Vec<_> = orphans(root.path(), Some(c.dir())).collect();
        assert_eq!(found.len(), 1, "its own folder is never an orphan");
    }

    #[test]
    fn the_folder_before_instances_is_an_orphan_while_it_holds_segments() {
        let root = tempfile::tempdir().unwrap();
        drop(SpoolLock::acquire(root.path()).unwrap());
        assert_eq!(
            orphans(root.path(), None).count(),
            0,
            "no segments, nothing to adopt"
        );
        fs::write(root.path().join("0000000000.seg"), b"").unwrap();
        let found: Vec<_> = orphans(root.path(), None).collect();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].dir(), root.path());
    }

    #[test]
    fn removing_a_settled_folder_keeps_the_root_and_what_is_not_a_segment() {
        let root = tempfile::tempdir().unwrap();
        let (lock, _) = claim(root.path()).unwrap();
        let dir = lock.dir().to_path_buf();
        fs::write(dir.join("0000000003.seg"), b"").unwrap();
        remove(lock, root.path()).unwrap();
        assert!(!dir.exists());
        fs::create_dir(root.path().join("dead-letter")).unwrap();
        drop(SpoolLock::acquire(root.path()).unwrap());
        fs::write(root.path().join("0000000000.seg"), b"").unwrap();
        let legacy = orphans(root.path(), None).next().unwrap();
        remove(legacy, root.path()).unwrap();
        assert!(root.path().join("dead-letter").exists());
        assert!(!root.path().join("0000000000.seg").exists());
    }

    #[cfg(unix)]
    fn mode_of(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[cfg(unix)]
    #[test]
    fn a_root_others_can_write_is_refused_naming_the_check_and_nothing_is_made() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        fs::set_permissions(root.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let err = claim(root.path()).unwrap_err();
        assert!(matches!(err, SpoolLockError::Refused(_)), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with("is writable by group and others (mode 0777)"),
            "{text}"
        );
        assert_eq!(fs::read_dir(root.path()).unwrap().count(), 0);
        // Nor does a running logger adopt from it.
        fs::set_permissions(root.path(), fs::Permissions::from_mode(0o700)).unwrap();
        drop(claim(root.path()).unwrap());
        fs::set_permissions(root.path(), fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(orphans(root.path(), None).count(), 0);
    }

    #[cfg(unix)]
    #[test]
    fn folders_and_locks_are_made_for_the_user_alone() {
        let root = tempfile::tempdir().unwrap();
        let spool_dir = root.path().join("a/spool");
        let (lock, _) = claim(&spool_dir).unwrap();
        assert_eq!(mode_of(&root.path().join("a")), files::DIR_MODE);
        assert_eq!(mode_of(&spool_dir), files::DIR_MODE);
        assert_eq!(mode_of(lock.dir()), files::DIR_MODE);
        assert_eq!(mode_of(&lock.dir().join("spool.lock")), files::FILE_MODE);
    }

    #[cfg(unix)]
    #[test]
    fn an_instance_folder_others_can_write_or_with_a_linked_lock_is_not_adopted() {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let root = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let precious = elsewhere.path().join("precious");
        fs::write(&precious, b"not the spool's").unwrap();

        let open = root.path().join(format!("{INSTANCE_PREFIX}0"));
        fs::create_dir(&open).unwrap();
        fs::write(open.join("spool.lock"), b"").unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        let linked = root.path().join(format!("{INSTANCE_PREFIX}1"));
        fs::create_dir(&linked).unwrap();
        symlink(&precious, linked.join("spool.lock")).unwrap();

        assert_eq!(orphans(root.path(), None).count(), 0);
        let err = SpoolLock::try_existing(&open).unwrap_err();
        assert!(
            err.to_string()
                .contains("is writable by group and others (mode 0777)"),
            "{err}"
        );
        let err = SpoolLock::try_existing(&linked).unwrap_err();
        assert!(err.to_string().contains("is a symbolic link"), "{err}");
        let (own, adopted) = claim(root.path()).unwrap();
        assert!(!adopted, "a folder of its own");
        assert!(own.dir() != open && own.dir() != linked);
        assert_eq!(fs::read(&precious).unwrap(), b"not the spool's");
    }
}

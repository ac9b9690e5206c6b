//! The store on disk: one file, `<spoolDir>/dead-letter/records.dlq`, that the logger
//! appends to and that is otherwise only ever replaced whole: written to a temporary
//! file, made durable, renamed over the old one. That happens when an append takes it
//! past `maxDeadLetterBytes` (the oldest records are dropped) and when a replay or a
//! purge removes or updates records.
//!
//! A lock file (`lock`) is held for every read, append and rewrite, so the command
//! line can list, replay and purge while a logger runs on the spool folder: each
//! holds it only for one file operation, never across a network call. Appenders open
//! the file anew under the lock, so a rename never leaves one writing to a file that
//! is gone.
//!
//! As the spool's (`spool/files.rs`): the folder is created 0700 and its files 0600;
//! a folder that is not this user's, or that others can write, is refused; no file is
//! opened through a link, and the temporary file is created new (`O_EXCL`). The file
//! is read through a bounded window, never whole.

use std::fs::{self, File};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use uuid::Uuid;

use super::record::{scan_from, write_file, write_record, DeadLetter, Scan, FILE_HEADER};
use super::select::Selection;
use crate::core::spool::files;

/// How the folder is named in errors.
const WHAT: &str = "the dead-letter folder";

/// The dead-letter folder's name inside `spoolDir`.
pub const DIR_NAME: &str = "dead-letter";
const FILE_NAME: &str = "records.dlq";
const TEMP_NAME: &str = "records.dlq.tmp";
const LOCK_NAME: &str = "lock";
const REPLAY_LOCK_NAME: &str = "replay.lock";

/// A rewrite forced by the bound keeps this share of it (7/8): the next ones are
/// then an eighth of the bound apart, not one per refused entry.
fn compaction_target(max_bytes: u64) -> u64 {
    max_bytes - max_bytes / 8
}

/// What an append did besides appending.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The oldest records, dropped to keep the file within `maxDeadLetterBytes`.
    pub dropped: Vec<Uuid>,
    /// Damaged stretches the rewrite that dropped them found (and left out).
    pub damaged: u64,
}

/// What a purge removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Purged {
    pub removed: Vec<Uuid>,
    /// Records left in the store.
    pub remaining: usize,
}

/// Held for the length of a replay: a second replay of the same store, which could
/// publish the same records twice, is refused instead.
#[derive(Debug)]
pub struct ReplayLock {
    _file: File,
}

#[derive(Debug)]
pub struct DeadLetterStore {
    dir: PathBuf,
    max_bytes: AtomicU64,
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl DeadLetterStore {
    /// The store of a spool folder. No I/O: the folder is created by the first append.
    pub fn in_spool(spool_dir: &Path, max_bytes: u64) -> Self {
        Self {
            dir: spool_dir.join(DIR_NAME),
            max_bytes: AtomicU64::new(max_bytes),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `maxDeadLetterBytes`, changed by `reconfigure()`; the next append applies it.
    pub fn set_max_bytes(&self, max_bytes: u64) {
        self.max_bytes.store(max_bytes, Ordering::Relaxed);
    }

    fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// Creates the folder if it is missing and checks it.
    fn prepare_dir(&self) -> io::Result<()> {
        if !self.dir.is_dir() {
            files::create_dir_all(&self.dir)?;
            if let Some(parent) = self.dir.parent() {
                sync_dir(parent)?;
            }
        }
        files::check_folder(&self.dir, WHAT)
    }

    /// Takes the lock, creating the folder if `create`; `None` if there is no folder.
    fn lock(&self, create: bool) -> io::Result<Option<File>> {
        if !self.dir.is_dir() && !create {
            return Ok(None);
        }
        self.prepare_dir()?;
        let file = files::open(
            files::options().read(true).write(true).create(true),
            &self.dir.join(LOCK_NAME),
        )?;
        file.lock()?;
        Ok(Some(file))
    }

    /// The records of the file as it is now (an empty store if there is none).
    fn scan_file(&self) -> io::Result<Scan> {
        match files::open(files::options().read(true), &self.path()) {
            Ok(file) => {
                let len = file.metadata()?.len();
                scan_from(file, len)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Scan::default()),
            Err(e) => Err(e),
        }
    }

    /// Appends `letters` and makes them durable before returning: only then may the
    /// spool settle their events. Past `maxDeadLetterBytes`, the file is rewritten
    /// without its oldest records.
    pub fn append(&self, letters: &[DeadLetter]) -> io::Result<Appended> {
        let _lock = self.lock(true)?;
        let path = self.path();
        let mut file = files::open(files::options().create(true).append(true), &path)?;
        let mut buf = Vec::new();
        let new_file = file.metadata()?.len() == 0;
        if new_file {
            buf.extend_from_slice(FILE_HEADER);
        }
        for letter in letters {
            write_record(&mut buf, letter);
        }
        file.write_all(&buf)?;
        file.sync_data()?;
        if new_file {
            sync_dir(&self.dir)?;
        }
        let max_bytes = self.max_bytes.load(Ordering::Relaxed);
        if file.metadata()?.len() <= max_bytes {
            return Ok(Appended::default());
        }
        drop(file);
        let found = self.scan_file()?;
        let target = compaction_target(max_bytes);
        let mut size = FILE_HEADER.len() as u64;
        let mut scratch = Vec::new();
        let mut keep_from = found.letters.len();
        // The newest records that fit, newest first.
        while keep_from > 0 {
            scratch.clear();
            let record = write_record(&mut scratch, &found.letters[keep_from - 1]) as u64;
            if size + record > target {
                break;
            }
            size += record;
            keep_from -= 1;
        }
        let dropped = found.letters[..keep_from].iter().map(|l| l.id).collect();
        self.replace(&found.letters[keep_from..])?;
        Ok(Appended {
            dropped,
            damaged: found.damaged,
        })
    }

    /// Every record, one per event id, oldest first.
    pub fn read(&self) -> io::Result<Scan> {
        let Some(_lock) = self.lock(false)? else {
            return Ok(Scan::default());
        };
        self.read_locked()
    }

    fn read_locked(&self) -> io::Result<Scan> {
        self.scan_file()
    }

    /// Reads the records as they are now and lets `edit` change them (remove,
    /// update); if it says it changed something, the file is replaced with the result.
    /// Returns what the store holds afterwards.
    pub fn rewrite(&self, edit: impl FnOnce(&mut Vec<DeadLetter>) -> bool) -> io::Result<Scan> {
        let Some(_lock) = self.lock(false)? else {
            return Ok(Scan::default());
        };
        let mut found = self.read_locked()?;
        if edit(&mut found.letters) {
            self.replace(&found.letters)?;
            found.damaged = 0;
            found.damaged_bytes = 0;
        }
        Ok(found)
    }

    /// Removes the records `selection` matches (every record, for an empty one).
    pub fn purge(&self, selection: &Selection) -> io::Result<Purged> {
        let mut removed = Vec::new();
        let after = self.rewrite(|letters| {
            letters.retain(|l| {
                let matched = selection.matches(l);
                if matched {
                    removed.push(l.id);
                }
                !matched
            });
            !removed.is_empty()
        })?;
        Ok(Purged {
            removed,
            remaining: after.letters.len(),
        })
    }

    /// Replaces the file with `letters` (removes it when there are none), durably.
    /// Called with the lock held.
    fn replace(&self, letters: &[DeadLetter]) -> io::Result<()> {
        let path = self.path();
        if letters.is_empty() {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            }
            return sync_dir(&self.dir);
        }
        let temp = self.dir.join(TEMP_NAME);
        // One left by a rewrite that was killed; a link there goes, not what it names.
        match fs::remove_file(&temp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut file = files::open(files::options().write(true).create_new(true), &temp)?;
        file.write_all(&write_file(letters))?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, &path)?;
        sync_dir(&self.dir)
    }

    /// Locks the store for one replay; refused while another replay holds it.
    pub fn lock_for_replay(&self) -> io::Result<ReplayLock> {
        self.prepare_dir()?;
        let file = files::open(
            files::options().read(true).write(true).create(true),
            &self.dir.join(REPLAY_LOCK_NAME),
        )?;
        match file.try_lock() {
            Ok(()) => Ok(ReplayLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "another replay of {} is running; wait for it to end",
                    self.dir.display()
                ),
            )),
            Err(fs::TryLockError::Error(e)) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::record::tests::letter;
    use super::*;

    fn ids(letters: &[DeadLetter]) -> Vec<u8> {
        letters.iter().map(|l| l.id.as_bytes()[0]).collect()
    }

    #[test]
    fn appends_are_read_back_and_a_missing_folder_is_an_empty_store() {
        let spool = tempfile::tempdir().unwrap();
        let store = DeadLetterStore::in_spool(spool.path(), 1 << 20);
        assert_eq!(store.read().unwrap(), Scan::default());
        assert!(!store.dir().exists(), "reading creates nothing");
        assert_eq!(
            store.append(&[letter(1), letter(2)]).unwrap(),
            Appended::default()
        );
        store.append(&[letter(3)]).unwrap();
        let found = store.read().unwrap();
        assert_eq!(found.letters, vec![letter(1), letter(2), letter(3)]);
        assert!(store.dir().join("records.dlq").is_file());
    }

    #[test]
    fn past_the_bound_the_oldest_are_dropped_and_named() {
        let spool = tempfile::tempdir().unwrap();
        let mut one = Vec::new();
        let record = write_record(&mut one, &letter(0)) as u64;
        // Room for about ten records.
        let max = FILE_HEADER.len() as u64 + 10 * record + record / 2;
        let store = DeadLetterStore::in_spool(spool.path(), max);
        let mut dropped = Vec::new();
        for n in 0..30u8 {
            let appended = store.append(&[letter(n)]).unwrap();
            dropped.extend(appended.dropped.iter().map(|id| id.as_bytes()[0]));
            let len = fs::metadata(store.dir().join("records.dlq")).unwrap().len();
            assert!(len <= max, "{len} > {max}");
        }
        let kept = ids(&store.read().unwrap().letters);
        // Every record is either kept or was named dropped, oldest first.
        let mut all = dropped.clone();
        all.extend(&kept);
        assert_eq!(all, (0..30).collect::<Vec<u8>>());
        assert!(kept.len() >= 8, "{kept:?}");
        assert!(kept.contains(&29));
    }

    #[test]
    fn a_rewrite_removes_and_updates_and_an_empty_store_has_no_file() {
        let spool = tempfile::tempdir().unwrap();
        let store = DeadLetterStore::in_spool(spool.path(), 1 << 20);
        store.append(&[letter(1), letter(2), letter(3)]).unwrap();
        let after = store
            .rewrite(|letters| {
                letters.retain(|l| l.id.as_bytes()[0] != 2);
                letters[0].attempts += 5;
                true
            })
            .unwrap();
        assert_eq!(ids(&after.letters), [1, 3]);
        assert_eq!(
            store.read().unwrap().letters[0].attempts,
            letter(1).attempts + 5
        );
        let unchanged = store.rewrite(|_| false).unwrap();
        assert_eq!(ids(&unchanged.letters), [1, 3]);
        store
            .rewrite(|l| {
                l.clear();
                true
            })
            .unwrap();
        assert!(!store.dir().join("records.dlq").exists());
        assert_eq!(store.read().unwrap(), Scan::default());
    }

    #[test]
    fn an_append_after_a_torn_tail_is_read_and_the_damage_counted() {
        let spool = tempfile::tempdir().unwrap();
        let store = DeadLetterStore::in_spool(spool.path(), 1 << 20);
        store.append(&[letter(1), letter(2)]).unwrap();
        let path = store.dir().join("records.dlq");
        let len = fs::metadata(&path).unwrap().len();
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 5)
            .unwrap();
        store.append(&[letter(3)]).unwrap();
        let found = store.read().unwrap();
        assert_eq!(ids(&found.letters), [1, 3]);
        assert_eq!(found.damaged, 1);
    }

    #[test]
    fn appends_from_many_threads_all_land_whole() {
        let spool = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(DeadLetterStore::in_spool(spool.path(), 1 << 30));
        let threads: Vec<_> = (0..8u8)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for n in 0..10u8 {
                        store.append(&[letter(t * 10 + n)]).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let found = store.read().unwrap();
        assert_eq!(found.damaged, 0);
        let mut got = ids(&found.letters);
        got.sort_unstable();
        assert_eq!(got, (0..80).collect::<Vec<u8>>());
    }

    #[test]
    fn a_purge_removes_what_matches() {
        let spool = tempfile::tempdir().unwrap();
        let store = DeadLetterStore::in_spool(spool.path(), 1 << 20);
        let mut other = letter(2);
        other.code = "KMSDisabled".into();
        store.append(&[letter(1), other, letter(3)]).unwrap();
        let by_code = Selection {
            codes: vec!["KMSDisabled".into()],
            ..Selection::default()
        };
        let purged = store.purge(&by_code).unwrap();
        assert_eq!((ids_of(&purged.removed), purged.remaining), (vec![2], 2));
        let all = store.purge(&Selection::default()).unwrap();
        assert_eq!((ids_of(&all.removed), all.remaining), (vec![1, 3], 0));
        assert_eq!(
            store.purge(&Selection::default()).unwrap(),
            Purged::default()
        );
    }

    fn ids_of(ids: &[Uuid]) -> Vec<u8> {
        ids.iter().map(|id| id.as_bytes()[0]).collect()
    }

    #[test]
    fn one_replay_at_a_time() {
        let spool = tempfile::tempdir().unwrap();
        let store = DeadLetterStore::in_spool(spool.path(), 1 << 20);
        let held = store.lock_for_replay().unwrap();
        let err = store.lock_for_replay().unwrap_err();
        assert!(err.to_string().contains("another replay"), "{err}");
        drop(held);
        store.lock_for_replay().unwrap();
    }

    #[cfg(unix)]
    fn precious(dir: &Path) -> PathBuf {
        let file = dir.join("precious");
        fs::write(&file, b"not the store's").unwrap();
        file
    }

    #[cfg(unix)]
    #[test]
    fn links_in_place_of_its_files_are_refused_and_what_they_point_to_is_unchanged() {
        use std::os::unix::fs::symlink;
        let elsewhere = tempfile::tempdir().unwrap();
        let file = precious(elsewhere.path());
        for name in [FILE_NAME, LOCK_NAME, REPLAY_LOCK_NAME] {
            let spool = tempfile::tempdir().unwrap();
            let store = DeadLetterStore::in_spool(spool.path(), 1 << 20);
            fs::create_dir(store.dir()).unwrap();
            symlink(&file, store.dir().join(name)).unwrap();
            let err = if name == REPLAY_LOCK_NAME {
                store.lock_for_replay().unwrap_err()
            } else {
                store.append(&[letter(1)]).unwrap_err()
            };
            assert!(
                err.to_string().contains("is a symbolic link"),
                "{name}: {err}"
            );
            assert!(err.to_string().contains(name), "{name}: {err}");
            if name != REPLAY_LOCK_NAME {
                assert!(store.read().is_err(), "{name}: reading is refused too");
            }
            assert_eq!(fs::read(&file).unwrap(), b"not the store's", "{name}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_rewrite_replaces_a_left_temporary_file_and_a_link_there_without_writing_through() {
        use std::os::unix::fs::symlink;
        let elsewhere = tempfile::tempdir().unwrap();
        let file = precious(elsewhere.path());
        let spool = tempfile::tempdir().unwrap();
        let store = DeadLetterStore::in_spool(spool.path(), 1 << 20);
        store.append(&[letter(1), letter(2)]).unwrap();
        fs::write(
            store.dir().join(TEMP_NAME),
            b"left by a rewrite that was killed",
        )
        .unwrap();
        store.rewrite(|l| l.pop().is_some()).unwrap();
        symlink(&file, store.dir().join(TEMP_NAME)).unwrap();
        store.rewrite(|l| l.pop().is_some()).unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"not the store's");
        store.append(&[letter(3)]).unwrap();
        store.rewrite(|l| l.pop().is_some()).unwrap();
        assert_eq!(ids(&store.read().unwrap().letters), Vec::<u8>::new());
    }

    #[cfg(unix)]
    #[test]
    fn a_folder_others_can_write_is_refused_and_what_it_makes_is_the_users_alone() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        let spool = tempfile::tempdir().unwrap();
        let store = DeadLetterStore::in_spool(spool.path(), 1 << 20);
        store.append(&[letter(1)]).unwrap();
        store.lock_for_replay().unwrap();
        assert_eq!(mode(store.dir()), files::DIR_MODE);
        for name in [FILE_NAME, LOCK_NAME, REPLAY_LOCK_NAME] {
            assert_eq!(mode(&store.dir().join(name)), files::FILE_MODE, "{name}");
        }
        fs::set_permissions(store.dir(), fs::Permissions::from_mode(0o733)).unwrap();
        let err = store.read().unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "the dead-letter folder {} is writable by group and others (mode 0733)",
                store.dir().display()
            )),
            "{text}"
        );
        assert!(store.append(&[letter(2)]).is_err());
        assert!(store.lock_for_replay().is_err());
    }

    #[test]
    fn a_sparse_file_is_read_as_damage_without_holding_it() {
        let spool = tempfile::tempdir().unwrap();
        let store = DeadLetterStore::in_spool(spool.path(), 1 << 20);
        store.append(&[letter(1)]).unwrap();
        let path = store.dir().join(FILE_NAME);
        let len = fs::metadata(&path).unwrap().len();
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len + (64 << 20))
            .unwrap();
        let found = store.read().unwrap();
        assert_eq!(ids(&found.letters), [1]);
        assert_eq!((found.damaged, found.damaged_bytes), (1, 64 << 20));
    }

    /// Writes the fuzz target's seed corpus (`fuzz/corpus/dead_letter_reader/`): real
    /// files this store wrote, whole, merged, compacted, torn and appended after a tear.
    /// `DEAD_LETTER_SEEDS=fuzz/corpus/dead_letter_reader cargo test write_fuzz_seeds -- --ignored`
    #[test]
    #[ignore = "writes the fuzz seed corpus when asked"]
    fn write_fuzz_seeds() {
        let out = PathBuf::from(std::env::var("DEAD_LETTER_SEEDS").expect("DEAD_LETTER_SEEDS"));
        fs::create_dir_all(&out).unwrap();
        let seed = |name: &str, write: &dyn Fn(&DeadLetterStore)| {
            let spool = tempfile::tempdir().unwrap();
            let store = DeadLetterStore::in_spool(spool.path(), 1 << 20);
            write(&store);
            fs::copy(store.dir().join(FILE_NAME), out.join(name)).unwrap();
        };
        seed("one-record", &|s| {
            s.append(&[letter(1)]).unwrap();
        });
        seed("several-appends", &|s| {
            for n in 0..6 {
                s.append(&[letter(n)]).unwrap();
            }
        });
        seed("a-large-message", &|s| {
            let mut l = letter(7);
            l.message = format!(r#"{{"pad":"{}","s":"\u2028ü"}}"#, "x🙂".repeat(600));
            l.reason = "é".repeat(300);
            s.append(&[l]).unwrap();
        });
        seed("same-id-twice", &|s| {
            s.append(&[letter(2), letter(3)]).unwrap();
            let mut again = letter(2);
            again.last_attempt_ms += 60_000;
            again.code = "KMSOptInRequired".into();
            s.append(&[again]).unwrap();
        });
        seed("torn-then-appended", &|s| {
            s.append(&[letter(4), letter(5)]).unwrap();
            let path = s.dir().join(FILE_NAME);
            let len = fs::metadata(&path).unwrap().len();
            File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_len(len - 9)
                .unwrap();
            s.append(&[letter(6)]).unwrap();
        });
        let spool = tempfile::tempdir().unwrap();
        let mut one = Vec::new();
        let record = write_record(&mut one, &letter(0)) as u64;
        let store = DeadLetterStore::in_spool(spool.path(), FILE_HEADER.len() as u64 + 4 * record);
        for n in 0..7 {
            store.append(&[letter(n)]).unwrap();
        }
        fs::copy(store.dir().join(FILE_NAME), out.join("compacted")).unwrap();
    }

    /// Any sequence of appends under any bound: the file stays within it, and each
    /// record is kept or reported dropped, exactly once, oldest dropped first. Each
    /// case makes up to 24 durable appends (an fsync each), so the cases are a fixed,
    /// seeded set rather than proptest's (whose PROPTEST_CASES would make thousands).
    #[test]
    fn the_bound_holds_and_every_record_is_accounted_for() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(20);
        let mut one = Vec::new();
        let record = write_record(&mut one, &letter(0)) as u64;
        for case in 0..40 {
            let room = rng.random_range(3u64..12);
            let batches: Vec<usize> = (0..rng.random_range(1..25))
                .map(|_| rng.random_range(1usize..4))
                .collect();
            let spool = tempfile::tempdir().unwrap();
            let max = FILE_HEADER.len() as u64 + room * record;
            let store = DeadLetterStore::in_spool(spool.path(), max);
            let (mut n, mut dropped) = (0u8, Vec::new());
            for size in &batches {
                let batch: Vec<DeadLetter> = (0..*size).map(|i| letter(n + i as u8)).collect();
                n += *size as u8;
                let appended = store.append(&batch).unwrap();
                dropped.extend(appended.dropped.iter().map(|id| id.as_bytes()[0]));
                let len = fs::metadata(store.dir().join(FILE_NAME)).unwrap().len();
                assert!(len <= max, "case {case}: {len} > {max}");
            }
            let mut all = dropped;
            all.extend(ids(&store.read().unwrap().letters));
            assert_eq!(
                all,
                (0..n).collect::<Vec<u8>>(),
                "case {case}: {room} {batches:?}"
            );
        }
    }
}

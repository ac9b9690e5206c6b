//! Every file operation of the spool, in one place: creating, opening, writing,
//! syncing, truncating and removing segment files, and syncing the folder after a
//! segment is created or removed (so that a power loss cannot lose a segment whose
//! data the file sync already covered). Segments are created new (`O_EXCL`) and opened
//! without following links (`files.rs`). In tests a [`FaultPlan`] registered for a
//! folder makes them fail as a full or failing disk does.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use super::files;
use super::frame::ZEROS;
use super::record::SEGMENT_HEADER;

pub const SEGMENT_SUFFIX: &str = ".seg";

/// EOPNOTSUPP: what `fallocate` says when it cannot allocate that way.
#[cfg(any(test, not(target_os = "linux")))]
const FALLOCATE_UNSUPPORTED: i32 = 95;

/// The spool folder's files.
#[derive(Debug)]
pub struct Disk {
    dir: PathBuf,
    #[cfg(test)]
    faults: Option<std::sync::Arc<FaultPlan>>,
}

/// A write that failed after `written` bytes of it reached the file.
#[derive(Debug)]
pub struct WriteError {
    pub written: usize,
    pub error: io::Error,
}

/// A segment file open for writing (at explicit offsets: its end is room).
#[derive(Debug)]
pub struct SegmentFile {
    file: File,
    #[cfg(test)]
    faults: Option<std::sync::Arc<FaultPlan>>,
}

/// A segment file to be made durable off the delivery loop.
pub struct SyncJob {
    file: File,
    #[cfg(test)]
    faults: Option<std::sync::Arc<FaultPlan>>,
}

impl SyncJob {
    pub fn run(self) -> io::Result<()> {
        #[cfg(test)]
        if let Some(f) = &self.faults {
            f.on_sync()?;
        }
        self.file.sync_data()
    }
}

impl Disk {
    pub fn new(dir: &Path) -> Disk {
        Disk {
            dir: dir.to_path_buf(),
            #[cfg(test)]
            faults: FaultPlan::for_dir(dir),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn segment_path(&self, index: u32) -> PathBuf {
        self.dir.join(segment_name(index))
    }

    /// What the folder holds under segment names. Anything else (the lock, a
    /// `dead-letter/` folder, files of other names) is not the spool's business.
    pub fn segments(&self) -> io::Result<Listing> {
        let mut listing = Listing::default();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(stem) = name.strip_suffix(SEGMENT_SUFFIX) else {
                continue;
            };
            let Ok(i) = stem.parse::<u32>() else { continue };
            if segment_name(i) != name {
                continue;
            }
            listing.highest = listing.highest.max(Some(i));
            // A link is listed, to be refused by name when opened; a folder or a FIFO
            // is left alone. Neither is ever written through: new segments are
            // numbered past every name here.
            let kind = entry.file_type()?;
            if kind.is_file() || kind.is_symlink() {
                listing.files.push(i);
            }
        }
        listing.files.sort_unstable();
        Ok(listing)
    }

    /// Opens segment `index` to read it; returns it with its length. A link, or
    /// anything but a regular file, in its place is refused, naming it.
    pub fn open_segment(&self, index: u32) -> io::Result<(File, u64)> {
        let file = files::open(files::options().read(true), &self.segment_path(index))?;
        let len = file.metadata()?.len();
        Ok((file, len))
    }

    /// Creates segment `index` (`O_EXCL`) with its header and `room` zero bytes after
    /// it, then syncs the folder. A regular file left at that index by a creation that
    /// failed is replaced (the folder is locked: nobody else writes there); a link
    /// there is refused. On failure the file is removed again.
    pub fn create_segment(&self, index: u32, room: u64) -> io::Result<SegmentFile> {
        let path = self.segment_path(index);
        let create = || {
            files::open(
                files::options().read(true).write(true).create_new(true),
                &path,
            )
        };
        let file = match create() {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                self.remove_file(&path)?;
                create()?
            }
            other => other?,
        };
        let segment = SegmentFile {
            file,
            #[cfg(test)]
            faults: self.faults.clone(),
        };
        let made = segment
            .write_at(0, SEGMENT_HEADER)
            .map_err(|e| e.error)
            .and_then(|()| {
                let (_, error) = segment.allocate(SEGMENT_HEADER.len() as u64, room);
                error.map_or(Ok(()), Err)
            })
            .and_then(|()| self.sync_dir());
        match made {
            Ok(()) => Ok(segment),
            Err(e) => {
                drop(segment);
                let _ = self.remove_file(&path);
                Err(e)
            }
        }
    }

    /// Removes segment `index` (the folder is synced by the caller, once for all).
    pub fn remove_segment(&self, index: u32) -> io::Result<()> {
        match self.remove_file(&self.segment_path(index)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        #[cfg(test)]
        let len = fs::metadata(path).map_or(0, |m| m.len());
        fs::remove_file(path)?;
        #[cfg(test)]
        if let Some(f) = &self.faults {
            f.freed(len);
        }
        Ok(())
    }

    /// Makes the folder's entries (segments created or removed) durable. Unix only:
    /// elsewhere a folder cannot be opened to sync, and this does nothing.
    pub fn sync_dir(&self) -> io::Result<()> {
        #[cfg(test)]
        if let Some(f) = &self.faults {
            f.on_sync()?;
        }
        #[cfg(unix)]
        File::open(&self.dir)?.sync_all()?;
        Ok(())
    }
}

/// The folder's entries under segment names.
#[derive(Debug, Default)]
pub struct Listing {
    /// Files (and links, refused when opened), oldest first.
    pub files: Vec<u32>,
    /// The highest number of any entry, whatever it is: new segments go past it.
    pub highest: Option<u32>,
}

pub fn segment_name(index: u32) -> String {
    format!("{index:010}{SEGMENT_SUFFIX}")
}

impl SegmentFile {
    /// Writes all of `buf` at `offset`.
    pub fn write_at(&self, offset: u64, buf: &[u8]) -> Result<(), WriteError> {
        let mut written = 0;
        while written < buf.len() {
            match self.write_once(offset + written as u64, &buf[written..]) {
                Ok(0) => {
                    return Err(WriteError {
                        written,
                        error: io::Error::new(io::ErrorKind::WriteZero, "wrote nothing"),
                    })
                }
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(WriteError { written, error }),
            }
        }
        Ok(())
    }

    fn write_once(&self, offset: u64, buf: &[u8]) -> io::Result<usize> {
        #[cfg(test)]
        let buf = match &self.faults {
            Some(f) => f.on_write(&self.file, offset, buf)?,
            None => buf,
        };
        #[cfg(unix)]
        {
            std::os::unix::fs::FileExt::write_at(&self.file, buf, offset)
        }
        #[cfg(windows)]
        {
            std::os::windows::fs::FileExt::seek_write(&self.file, buf, offset)
        }
    }

    /// Sets `len` bytes at `offset` aside (zeros to a reader), so that later writes
    /// there need no new space. Returns how many were, and why not all. On Linux
    /// `fallocate(2)` allocates without writing (no dirty pages for writeback to
    /// throttle the loop with), all or nothing; where it cannot, or the disk has less
    /// than asked for, zero bytes are written, which take what there is.
    pub fn allocate(&self, offset: u64, len: u64) -> (u64, Option<io::Error>) {
        if len == 0 {
            return (0, None);
        }
        if self.fallocate(offset, len).is_ok() {
            return (len, None);
        }
        // Not supported, or less room than asked for: zeros take what there is.
        self.write_zeros(offset, len)
    }

    #[cfg(target_os = "linux")]
    fn fallocate(&self, offset: u64, len: u64) -> io::Result<()> {
        #[cfg(test)]
        if let Some(f) = &self.faults {
            f.on_allocate(&self.file, offset, len)?;
        }
        use std::os::fd::AsRawFd;
        let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
            return Err(io::Error::from_raw_os_error(libc::EFBIG));
        };
        // SAFETY: fallocate reads no memory of ours; the descriptor is this open
        // file's, valid for the call.
        let rc = unsafe { libc::fallocate(self.file.as_raw_fd(), 0, offset, len) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn fallocate(&self, _offset: u64, _len: u64) -> io::Result<()> {
        Err(io::Error::from_raw_os_error(FALLOCATE_UNSUPPORTED))
    }

    fn write_zeros(&self, offset: u64, len: u64) -> (u64, Option<io::Error>) {
        let mut done = 0;
        while done < len {
            let n = (len - done).min(ZEROS.len() as u64) as usize;
            if let Err(e) = self.write_at(offset + done, &ZEROS[..n]) {
                return (done + e.written as u64, Some(e.error));
            }
            done += n as u64;
        }
        (done, None)
    }

    pub fn sync(&self) -> io::Result<()> {
        self.sync_job()?.run()
    }

    /// Gives back the room after `len` (which never needs space).
    pub fn truncate(&self, len: u64) -> io::Result<()> {
        #[cfg(test)]
        let before = self.file.metadata().map_or(0, |m| m.len());
        self.file.set_len(len)?;
        #[cfg(test)]
        if let Some(f) = &self.faults {
            f.freed(before.saturating_sub(len));
        }
        Ok(())
    }

    pub fn sync_job(&self) -> io::Result<SyncJob> {
        Ok(SyncJob {
            file: self.file.try_clone()?,
            #[cfg(test)]
            faults: self.faults.clone(),
        })
    }
}

/// A disk as tests want it: with this much free space, or failing every write or
/// sync. Registered for a folder, it applies to the spools opened on it afterwards.
#[cfg(test)]
#[derive(Debug, Default)]
pub struct FaultPlan {
    /// Bytes the folder's files may still grow by; `None`: as much as they like.
    free: std::sync::Mutex<Option<u64>>,
    /// Every write fails with EIO.
    pub fail_writes: std::sync::atomic::AtomicBool,
    /// Every sync fails with EIO.
    pub fail_syncs: std::sync::atomic::AtomicBool,
    /// Writes take this many more bytes, then fail with EIO (a write torn by a
    /// failing disk); `None`: no limit.
    tear_after: std::sync::Mutex<Option<u64>>,
    /// Writes attempted and refused, to check a full disk is not hammered.
    pub refused: std::sync::atomic::AtomicU64,
}

#[cfg(test)]
static PLANS: std::sync::Mutex<Vec<(PathBuf, std::sync::Arc<FaultPlan>)>> =
    std::sync::Mutex::new(Vec::new());

#[cfg(test)]
impl FaultPlan {
    /// Registers a plan for `dir` (a test's own temporary folder).
    pub fn inject(dir: &Path) -> std::sync::Arc<FaultPlan> {
        let plan = std::sync::Arc::new(FaultPlan::default());
        let mut plans = PLANS.lock().unwrap();
        plans.retain(|(d, _)| d != dir);
        plans.push((dir.to_path_buf(), plan.clone()));
        plan
    }

    fn for_dir(dir: &Path) -> Option<std::sync::Arc<FaultPlan>> {
        let plans = PLANS.lock().unwrap();
        // A plan for a spoolDir covers its loggers' instance folders too.
        plans
            .iter()
            .find(|(d, _)| d == dir || dir.parent() == Some(d.as_path()))
            .map(|(_, p)| p.clone())
    }

    /// Leaves this many bytes free (`None`: no limit).
    pub fn set_free(&self, bytes: Option<u64>) {
        *self.free.lock().unwrap() = bytes;
    }

    pub fn free(&self) -> Option<u64> {
        *self.free.lock().unwrap()
    }

    /// Writes take `bytes` more bytes, then fail (`None`: they stop failing).
    pub fn tear_writes_after(&self, bytes: Option<u64>) {
        *self.tear_after.lock().unwrap() = bytes;
    }

    fn freed(&self, bytes: u64) {
        if let Some(free) = self.free.lock().unwrap().as_mut() {
            *free += bytes;
        }
    }

    fn refuse(&self, error: io::Error) -> io::Error {
        self.refused
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        error
    }

    fn on_sync(&self) -> io::Result<()> {
        if self.fail_syncs.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(self.refuse(io::Error::from_raw_os_error(5)));
        }
        Ok(())
    }

    /// An allocation of `len` bytes at `offset`: all or nothing, as fallocate(2).
    fn on_allocate(&self, file: &File, offset: u64, len: u64) -> io::Result<()> {
        use std::sync::atomic::Ordering::Relaxed;
        if self.fail_writes.load(Relaxed) || self.tear_after.lock().unwrap().is_some() {
            // A failing disk: let the zero writes meet it.
            return Err(io::Error::from_raw_os_error(FALLOCATE_UNSUPPORTED));
        }
        let mut free = self.free.lock().unwrap();
        let Some(free) = free.as_mut() else {
            return Ok(());
        };
        let growth = (offset + len).saturating_sub(file.metadata()?.len());
        if growth > *free {
            return Err(self.refuse(io::Error::from_raw_os_error(28)));
        }
        *free -= growth;
        Ok(())
    }

    /// What of `buf` a write at `offset` may write: growth past the file's end takes
    /// free space, and a write that needs more gets what is left (as write(2) does),
    /// then ENOSPC.
    fn on_write<'a>(&self, file: &File, offset: u64, buf: &'a [u8]) -> io::Result<&'a [u8]> {
        use std::sync::atomic::Ordering::Relaxed;
        if self.fail_writes.load(Relaxed) {
            return Err(self.refuse(io::Error::from_raw_os_error(5)));
        }
        let buf = match self.tear_after.lock().unwrap().as_mut() {
            None => buf,
            Some(0) => return Err(self.refuse(io::Error::from_raw_os_error(5))),
            Some(left) => {
                let n = (*left).min(buf.len() as u64);
                *left -= n;
                &buf[..n as usize]
            }
        };
        let mut free = self.free.lock().unwrap();
        let Some(free) = free.as_mut() else {
            return Ok(buf);
        };
        let len = file.metadata()?.len();
        let growth = (offset + buf.len() as u64).saturating_sub(len);
        if growth <= *free {
            *free -= growth;
            return Ok(buf);
        }
        let fits = buf.len() as u64 - (growth - *free);
        if fits == 0 || offset > len {
            return Err(self.refuse(io::Error::from_raw_os_error(28)));
        }
        *free = 0;
        Ok(&buf[..fits as usize])
    }
}

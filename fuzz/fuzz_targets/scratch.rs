//! A folder for the targets that read through files, shared by them.

/// A temporary folder: memory-backed where there is one, since a target does file I/O
/// on every run.
pub fn scratch_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(dir) = tempfile::tempdir_in(shm) {
            return dir;
        }
    }
    tempfile::tempdir().expect("a temporary folder")
}

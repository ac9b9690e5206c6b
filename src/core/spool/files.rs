//! How the spool and the dead-letter store create, open and trust what is on disk.
//! Whoever can write a folder the logger reads can make it publish, with the server's
//! credentials, whatever that folder holds; and a link in place of one of its files
//! would make the logger truncate or write what the link points to. So:
//!
//! - **Modes.** The folders the logger creates (`spoolDir`, `instance-<id>/`,
//!   `dead-letter/`) are made [`DIR_MODE`], and its files [`FILE_MODE`] (segments,
//!   `spool.lock`, `records.dlq` and its temporary file, the store's locks): spooled
//!   events are business records, for the process's user alone.
//! - **Folders are checked before use** ([`folder_problem`]): a folder owned by another
//!   user, or writable by group or others, is refused. Readable by group or others is
//!   accepted (an operator's `mkdir` under umask 022 makes 0755): what the logger
//!   keeps inside is 0700 and 0600 whatever the folder's mode, so such a folder shows
//!   names only. Parents are not checked: a sticky `/tmp` holding a folder of ours is
//!   fine, `/tmp` itself as the folder is not.
//! - **Links are never followed** ([`options`]): every file is opened with
//!   `O_NOFOLLOW`, and files that must be new are created with `O_EXCL` (`create_new`),
//!   so a link or a file planted under a predictable name is refused, not written
//!   through. `O_NONBLOCK` too, so that a FIFO planted there cannot hang the open; and
//!   what was opened must be a regular file ([`open`]).
//!
//! Unix only: on Windows none of these checks apply (it has neither the modes nor
//! `O_NOFOLLOW`), and files are opened as before.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

/// What the folders the logger creates are made with: its user alone.
pub const DIR_MODE: u32 = 0o700;
/// What the files the logger creates are made with: its user alone.
pub const FILE_MODE: u32 = 0o600;
/// Mode bits a folder the logger uses must not have: writable by group or others.
#[cfg(unix)]
const WRITABLE_BY_OTHERS: u32 = 0o022;

/// Creates `path` and its missing parents, each [`DIR_MODE`] (an existing one is left
/// as it is, and checked by [`folder_problem`]).
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(path)
}

/// Creates the folder `path`, [`DIR_MODE`]; fails if anything is there already.
pub fn create_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(path)
}

/// Why the folder `path` may not hold the logger's files, if it may not, as a
/// predicate ("is writable by others (mode 0777); ..."), for the caller to prefix
/// with what the folder is. A link to a folder is followed: the folder it names is
/// checked (a symlinked `spoolDir` is an operator's choice; the folders inside are
/// listed without following links).
pub fn folder_problem(path: &Path) -> io::Result<Option<String>> {
    let meta = fs::metadata(path)?;
    if !meta.is_dir() {
        return Ok(Some("is not a folder".to_owned()));
    }
    Ok(unix_folder_problem(&meta))
}

#[cfg(unix)]
fn unix_folder_problem(meta: &fs::Metadata) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid takes nothing and cannot fail.
    let me = unsafe { libc::geteuid() };
    let mode = meta.mode() & 0o7777;
    let mut problems = Vec::new();
    if meta.uid() != me {
        problems.push(format!(
            "is owned by uid {}, not by this process's user",
            meta.uid()
        ));
    }
    if mode & WRITABLE_BY_OTHERS != 0 {
        let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
            (true, true) => "group and others",
            (true, false) => "its group",
            _ => "others",
        };
        problems.push(format!("is writable by {who} (mode {mode:04o})"));
    }
    if problems.is_empty() {
        return None;
    }
    Some(format!(
        "{}; the logger's folders must be owned by uid {me} (this process's user) and \
         writable by it alone: mode {DIR_MODE:04o}, or at most 0755",
        problems.join(" and ")
    ))
}

#[cfg(not(unix))]
fn unix_folder_problem(_meta: &fs::Metadata) -> Option<String> {
    None
}

/// [`folder_problem`] as an error naming `what` and the folder: "the dead-letter
/// folder /x is writable by others (mode 0777); ...".
pub fn check_folder(path: &Path, what: &str) -> io::Result<()> {
    match folder_problem(path)? {
        None => Ok(()),
        Some(problem) => Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{what} {} {problem}", path.display()),
        )),
    }
}

/// Options every file of the logger is opened or created with: never through a link
/// (`O_NOFOLLOW`), never blocking on a FIFO (`O_NONBLOCK`, which regular files ignore),
/// and [`FILE_MODE`] if it is created. Add the access wanted, then call [`open`].
pub fn options() -> OpenOptions {
    #[allow(unused_mut)]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options
            .mode(FILE_MODE)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    options
}

/// Opens `path` with `options` (from [`options`]); refuses what is not a regular file,
/// and says so, naming the file, when a link or anything else is in its place.
pub fn open(options: &OpenOptions, path: &Path) -> io::Result<File> {
    let file = options.open(path).map_err(|e| explain(e, path))?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is {}, not a regular file; the logger leaves it alone",
                path.display(),
                describe(kind)
            ),
        ));
    }
    Ok(file)
}

/// A failed open, said plainly when the cause is what is in the file's place: a link
/// (`O_NOFOLLOW` refused it, or `O_EXCL` found it there).
fn explain(error: io::Error, path: &Path) -> io::Error {
    let linked = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if !linked {
        return error;
    }
    let target = fs::read_link(path)
        .map(|t| format!(" (to {})", t.display()))
        .unwrap_or_default();
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is a symbolic link{target}; the logger never opens its files through a link \
             (O_NOFOLLOW), so it is refused and what it points to is left unchanged: remove it",
            path.display()
        ),
    )
}

fn describe(kind: fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    if kind.is_dir() {
        "a folder"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else {
        "something else"
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn folders_and_files_are_made_for_the_user_alone() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("a/b");
        create_dir_all(&deep).unwrap();
        assert_eq!(mode_of(&root.path().join("a")), DIR_MODE);
        assert_eq!(mode_of(&deep), DIR_MODE);
        let file = deep.join("f");
        open(options().write(true).create_new(true), &file).unwrap();
        assert_eq!(mode_of(&file), FILE_MODE);
        assert_eq!(folder_problem(&deep).unwrap(), None);
    }

    #[test]
    fn a_folder_writable_by_others_is_refused_naming_the_check() {
        let root = tempfile::tempdir().unwrap();
        for (mode, words) in [
            (0o777, "writable by group and others (mode 0777)"),
            (0o1777, "writable by group and others (mode 1777)"),
            (0o770, "writable by its group (mode 0770)"),
            (0o702, "writable by others (mode 0702)"),
        ] {
            fs::set_permissions(root.path(), fs::Permissions::from_mode(mode)).unwrap();
            let problem = folder_problem(root.path()).unwrap().expect("refused");
            assert!(problem.starts_with(&format!("is {words}")), "{problem}");
            assert!(problem.contains("mode 0700, or at most 0755"), "{problem}");
        }
        for mode in [0o700, 0o750, 0o755, 0o705] {
            fs::set_permissions(root.path(), fs::Permissions::from_mode(mode)).unwrap();
            assert_eq!(folder_problem(root.path()).unwrap(), None, "{mode:o}");
        }
        let err = check_folder(&root.path().join("missing"), "the folder").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn a_folder_of_another_user_is_refused() {
        // SAFETY: geteuid takes nothing and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return; // only root can give a folder away
        }
        let root = tempfile::tempdir().unwrap();
        std::os::unix::fs::chown(root.path(), Some(4242), None).unwrap();
        let err = check_folder(root.path(), "the spool folder").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("the spool folder "), "{text}");
        assert!(
            text.contains("is owned by uid 4242, not by this process's user"),
            "{text}"
        );
    }

    #[test]
    fn a_link_or_a_fifo_in_a_files_place_is_refused_and_its_target_unchanged() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("target");
        fs::write(&target, b"precious").unwrap();
        let link = root.path().join("link");
        symlink(&target, &link).unwrap();
        for o in [
            options().read(true).write(true).create(true).clone(),
            options().append(true).create(true).clone(),
            options().write(true).create_new(true).clone(),
            options().read(true).clone(),
        ] {
            let err = open(&o, &link).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
            assert!(err.to_string().contains("is a symbolic link"), "{err}");
        }
        assert_eq!(fs::read(&target).unwrap(), b"precious");
        let fifo = root.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = open(options().read(true), &fifo).unwrap_err();
        assert!(err.to_string().contains("is a FIFO"), "{err}");
    }
}

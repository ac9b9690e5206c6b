//! Confining the options that are filesystem paths to one folder the operator names.
//! Its own module: both the options and the plan loader (a plan's `extend` files) use
//! it, and neither may depend on the other for it.

/// The environment variable that confines the options that are filesystem paths
/// (`spoolDir`, a `trackingPlan` file and the plan files it extends) to one folder.
/// Those options are also admin settings, which an admin may delegate; the operator
/// who runs the server sets this so that no setting reaches past that folder.
pub const PATH_ROOT_ENV: &str = "RC_SNS_ANALYTICS_PATH_ROOT";

/// Whether `path` may be used under [`PATH_ROOT_ENV`]: always when it is unset or
/// empty; otherwise only if `path` resolves inside it. The error says why, to follow
/// the path in the caller's message, which names its option.
pub fn check_path_root(path: &std::path::Path) -> Result<(), String> {
    match std::env::var_os(PATH_ROOT_ENV) {
        Some(root) if !root.is_empty() => check_inside(std::path::Path::new(&root), path),
        _ => Ok(()),
    }
}

/// `path` must resolve inside `root` (both as [`resolve`] reads them).
fn check_inside(root: &std::path::Path, path: &std::path::Path) -> Result<(), String> {
    let root_real = root.canonicalize().map_err(|e| {
        format!(
            "cannot be checked against {PATH_ROOT_ENV}={}: that folder cannot be resolved \
             ({e})",
            root.display()
        )
    })?;
    let real = resolve(path)
        .map_err(|e| format!("cannot be resolved to check it against {PATH_ROOT_ENV} ({e})"))?;
    if real.starts_with(&root_real) {
        Ok(())
    } else {
        Err(format!(
            "is outside {PATH_ROOT_ENV}={}, the folder the operator confines paths to \
             (it resolves to {})",
            root_real.display(),
            real.display()
        ))
    }
}

/// Where `path` leads: its longest existing ancestor with every symlink followed,
/// then the rest, which does not exist yet (a spool folder is created on start) and
/// so may not climb out with `..`.
fn resolve(path: &std::path::Path) -> std::io::Result<std::path::PathBuf> {
    use std::io::{Error, ErrorKind};
    let absolute = std::path::absolute(path)?;
    let mut existing = absolute.as_path();
    let mut missing = Vec::new();
    loop {
        match existing.canonicalize() {
            Ok(mut real) => {
                real.extend(missing.iter().rev());
                return Ok(real);
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let (Some(name), Some(parent)) = (existing.file_name(), existing.parent()) else {
                    return Err(Error::new(
                        ErrorKind::InvalidInput,
                        "it climbs with .. out of a folder that does not exist",
                    ));
                };
                missing.push(name);
                existing = parent;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_a_path_root_a_path_must_resolve_inside_it() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let inside = |p: &std::path::Path| check_inside(root.path(), p);
        std::fs::create_dir(root.path().join("spool")).unwrap();
        std::fs::write(root.path().join("plan.yaml"), "events: {}").unwrap();
        // Existing, and not yet created (a spool folder is made on start).
        assert!(inside(&root.path().join("spool")).is_ok());
        assert!(inside(&root.path().join("plan.yaml")).is_ok());
        assert!(inside(&root.path().join("spool/new/deeper")).is_ok());
        assert!(inside(root.path()).is_ok());
        // Outside: another folder, a climb, a symlink leading out.
        let e = inside(outside.path()).unwrap_err();
        assert!(e.contains(&format!("is outside {PATH_ROOT_ENV}=")), "{e}");
        let e = inside(&root.path().join("spool/../..")).unwrap_err();
        assert!(e.contains("is outside"), "{e}");
        let e = inside(&root.path().join("missing/../../x")).unwrap_err();
        assert!(e.contains("climbs with .."), "{e}");
        assert!(e.contains(PATH_ROOT_ENV), "{e}");
        #[cfg(unix)]
        {
            let link = root.path().join("link");
            std::os::unix::fs::symlink(outside.path(), &link).unwrap();
            let e = inside(&link.join("spool")).unwrap_err();
            assert!(e.contains("is outside"), "{e}");
        }
        // A root that cannot be resolved refuses every path, naming the variable.
        let e = check_inside(&root.path().join("nowhere"), root.path()).unwrap_err();
        assert!(
            e.contains(&format!("cannot be checked against {PATH_ROOT_ENV}=")),
            "{e}"
        );
    }
}

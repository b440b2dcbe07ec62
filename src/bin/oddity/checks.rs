//! Checks made before any work starts, so that a run does not fail at its end for something
//! known at its beginning: every output place is writable, and a model list names each model
//! once.

use std::path::Path;

use oddity::Error;

fn cannot(flag: &str, path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Invalid {
        what: "output",
        detail: format!("{flag} {}: cannot write there: {e}", path.display()),
    }
}

/// `dir` exists (made if need be) and takes a new file: one is written and removed.
pub fn output_dir(flag: &str, dir: &Path) -> oddity::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| cannot(flag, dir, e))?;
    let probe = dir.join(format!(".oddity-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| cannot(flag, dir, e))?;
    std::fs::remove_file(&probe).map_err(|e| cannot(flag, dir, e))
}

/// `path` can be written: an existing file opened for writing (not changed), else created in
/// its directory and removed again. A directory is refused.
pub fn output_file(flag: &str, path: &Path) -> oddity::Result<()> {
    if path.is_dir() {
        return Err(cannot(flag, path, "it is a directory"));
    }
    if path.exists() {
        return std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map(drop)
            .map_err(|e| cannot(flag, path, e));
    }
    std::fs::File::create(path).map_err(|e| cannot(flag, path, e))?;
    std::fs::remove_file(path).map_err(|e| cannot(flag, path, e))
}

/// Each model named once.
pub fn distinct_models(models: &[String]) -> oddity::Result<()> {
    for (i, m) in models.iter().enumerate() {
        if models[..i].contains(m) {
            return Err(Error::Invalid {
                what: "model list",
                detail: format!("{m} is named twice; each model runs once"),
            });
        }
    }
    Ok(())
}

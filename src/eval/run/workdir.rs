//! The directory an evaluation builds its index in: the one the caller named (kept), or a fresh
//! temporary one that is removed when the guard is dropped, on success and on error alike.
//!
//! A temporary directory is `temp_dir()/strata-eval-<pid>-<n>`, `n` counting the directories
//! made by this process, so two evaluations in one process (a Python session evaluating twice,
//! or in two threads) never share one. It is created with `create_dir`, which fails when the
//! name exists: a leftover of another process is never reused or removed.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Temporary directories made by this process so far (the `n` of their names).
static MADE: AtomicU64 = AtomicU64::new(0);

/// A working directory, removed on drop when it is temporary.
#[derive(Debug)]
pub(super) struct WorkDir {
    path: PathBuf,
    temporary: bool,
}

impl WorkDir {
    /// `dir` if given (used as is; the index creation makes it if missing), else a new
    /// temporary directory.
    pub(super) fn new(dir: Option<&Path>) -> Result<WorkDir> {
        if let Some(d) = dir {
            return Ok(WorkDir {
                path: d.to_path_buf(),
                temporary: false,
            });
        }
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        let name = format!("strata-eval-{}-{n}", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir(&path).map_err(|e| {
            let e = if e.kind() == std::io::ErrorKind::AlreadyExists {
                std::io::Error::new(
                    e.kind(),
                    "the temporary directory already exists; remove it or give a directory",
                )
            } else {
                e
            };
            Error::io("create directory", Error::path_string(&path), e)
        })?;
        Ok(WorkDir {
            path,
            temporary: true,
        })
    }

    /// The directory.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.temporary {
            // Best effort: a leftover temporary directory is harmless.
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

//! Readers: snapshot sources for other threads of the writer's process and for read-only
//! processes.
//!
//! A read-only [`Reader`] never takes the writer lock and never removes a file. It loads the
//! newest manifest and opens what it names; if the writer removes one of those files in
//! between (a newer commit made it garbage), the reader simply retries with the newer
//! manifest. Files it has opened stay readable after removal (open descriptors and maps keep
//! the data alive), so a reader is never broken by the writer's GC.

use super::commit::Shared;
use super::manifest::{self, Manifest};
use super::snapshot::{PinTable, SegmentCache, Snapshot};
use crate::error::{Error, Result};
use crate::io::Directory;
use std::path::Path;
use std::sync::{Arc, RwLock};

enum Source {
    Writer(Arc<Shared>),
    ReadOnly {
        dir: Arc<dyn Directory>,
        cache: Box<SegmentCache>,
        pins: Arc<PinTable>,
        current: RwLock<Snapshot>,
    },
}

/// Takes snapshots of an index. Cheap to clone (`Arc` inside); `Send + Sync`.
#[derive(Clone)]
pub struct Reader {
    source: Arc<Source>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reader")
    }
}

const ATTEMPTS: usize = 20;

fn is_not_found(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
}

fn load(dir: &dyn Directory, cache: &SegmentCache, pins: &Arc<PinTable>) -> Result<Snapshot> {
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let res = manifest::load_newest(dir).and_then(|m| {
            let m: Manifest = m.ok_or_else(|| Error::NotAnIndex {
                path: dir.describe(),
            })?;
            Snapshot::open(dir, &m, cache, pins)
        });
        match res {
            Err(e) if is_not_found(&e) => {
                last = Some(e);
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            other => return other,
        }
    }
    Err(last.unwrap_or(Error::NotAnIndex {
        path: dir.describe(),
    }))
}

impl Reader {
    pub(crate) fn from_writer(shared: Arc<Shared>) -> Reader {
        Reader {
            source: Arc::new(Source::Writer(shared)),
        }
    }

    /// Opens the index at `path` read-only. Works while another process writes to it.
    pub fn open(path: impl AsRef<Path>) -> Result<Reader> {
        Reader::open_in(Arc::new(super::writer::open_existing_dir(path.as_ref())?))
    }

    /// Opens the index in `dir` read-only.
    pub fn open_in(dir: Arc<dyn Directory>) -> Result<Reader> {
        let cache = SegmentCache::default();
        let pins = Arc::new(PinTable::default());
        let snap = load(dir.as_ref(), &cache, &pins)?;
        Ok(Reader {
            source: Arc::new(Source::ReadOnly {
                dir,
                cache: Box::new(cache),
                pins,
                current: RwLock::new(snap),
            }),
        })
    }

    /// The newest snapshot this reader knows of.
    pub fn snapshot(&self) -> Snapshot {
        match &*self.source {
            Source::Writer(s) => s.snapshot(),
            Source::ReadOnly { current, .. } => {
                current.read().unwrap_or_else(|p| p.into_inner()).clone()
            }
        }
    }

    /// Moves to the newest commit on disk. Returns whether the snapshot changed. (Readers of
    /// the writer's own process always see the newest commit.)
    pub fn refresh(&self) -> Result<bool> {
        match &*self.source {
            Source::Writer(_) => Ok(false),
            Source::ReadOnly {
                dir,
                cache,
                pins,
                current,
            } => {
                let have = self.snapshot().generation();
                let newest = manifest::list_generations(dir.as_ref())?.first().copied();
                if newest.is_none_or(|g| g <= have) {
                    return Ok(false);
                }
                let snap = load(dir.as_ref(), cache, pins)?;
                let changed = snap.generation() != have;
                *current.write().unwrap_or_else(|p| p.into_inner()) = snap;
                Ok(changed)
            }
        }
    }
}

//! The writer: create/open with recovery, write transactions, the commit protocol, GC.
//!
//! One [`Index`] per directory holds the writer lock (a lock file, so a second writer in this
//! or another process gets [`Error::Locked`]). All state changes go through
//! [`Shared::publish`], which runs the commit protocol of docs/TRANSACTIONS.md:
//! new component files are written and fsynced, the directory is fsynced, the manifest is
//! written to `MANIFEST-<g>.tmp` and fsynced, renamed to `MANIFEST-<g>`, and the directory is
//! fsynced again before the commit is acknowledged and the new snapshot published.

use super::commit::{Shared, WriterState, is_strata_file, lock_state, successor};
use super::manifest::{self, Manifest, manifest_name};
use super::merge::MergeWorker;
use super::policy::MergePolicy;
use super::snapshot::{PinTable, SegmentCache, Snapshot};
use crate::error::{Error, Result};
use crate::io::{Directory, FsDirectory, LockGuard, write_file_synced};
use crate::schema::Schema;
use crate::types::{AttrValue, Key, Vector};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Name of the writer lock file.
pub const LOCK_FILE: &str = "LOCK";

/// A document to add.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Its external key.
    pub key: Key,
    /// Its vector: required when the schema has a dense field, refused otherwise.
    pub vector: Option<Vector>,
    /// Text by field name (a field named twice is concatenated with a space).
    pub text: Vec<(String, String)>,
    /// Sparse-vector weights (term → weight ≥ 0) for the schema's sparse field.
    pub sparse: Vec<(String, f32)>,
    /// Metadata attribute values by name (an attribute left out is absent: `EXISTS` is false).
    pub attrs: Vec<(String, AttrValue)>,
}

impl Document {
    /// A document with `key` and `vector`.
    pub fn new(key: impl Into<Key>, vector: impl Into<Vector>) -> Document {
        Document {
            key: key.into(),
            vector: Some(vector.into()),
            text: Vec::new(),
            sparse: Vec::new(),
            attrs: Vec::new(),
        }
    }

    /// A document with only a key; add content with the `with_*` methods.
    pub fn with_key(key: impl Into<Key>) -> Document {
        Document {
            key: key.into(),
            vector: None,
            text: Vec::new(),
            sparse: Vec::new(),
            attrs: Vec::new(),
        }
    }

    /// Adds text to the field `field`.
    pub fn with_text(mut self, field: &str, text: impl Into<String>) -> Document {
        self.text.push((field.to_owned(), text.into()));
        self
    }

    /// Sets the sparse-vector weights.
    pub fn with_sparse(mut self, weights: Vec<(String, f32)>) -> Document {
        self.sparse = weights;
        self
    }

    /// Sets attribute `name` to `value` (e.g. `2015i64`, `"en"`, or a list of keywords).
    pub fn with_attr(mut self, name: &str, value: impl Into<AttrValue>) -> Document {
        self.attrs.push((name.to_owned(), value.into()));
        self
    }

    /// Sets the vector.
    pub fn with_vector(mut self, vector: impl Into<Vector>) -> Document {
        self.vector = Some(vector.into());
        self
    }
}

/// How an index is opened.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// Run the merge policy on a background thread after each commit.
    pub background_merges: bool,
    /// Which segments to merge.
    pub merge_policy: MergePolicy,
    /// How long to wait for the writer lock before `Error::Locked` (None: fail at once).
    pub lock_timeout: Option<Duration>,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            background_merges: true,
            merge_policy: MergePolicy::default(),
            lock_timeout: None,
        }
    }
}

/// An open index with its writer lock.
pub struct Index {
    shared: Arc<Shared>,
    merger: Option<MergeWorker>,
    _lock: Box<dyn LockGuard>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Index({})", self.shared.dir.describe())
    }
}

fn acquire_lock(dir: &dyn Directory, timeout: Option<Duration>) -> Result<Box<dyn LockGuard>> {
    let start = Instant::now();
    loop {
        if let Some(g) = dir
            .try_lock(LOCK_FILE)
            .map_err(|e| Error::io("lock", LOCK_FILE, e))?
        {
            return Ok(g);
        }
        match timeout {
            Some(t) if start.elapsed() < t => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                return Err(Error::Locked {
                    path: dir.describe(),
                });
            }
        }
    }
}

/// Opens an existing index directory; a missing one is `Error::NotAnIndex`.
pub(crate) fn open_existing_dir(path: &Path) -> Result<FsDirectory> {
    FsDirectory::open_existing(path).map_err(|e| {
        let p = Error::path_string(path);
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::NotAnIndex { path: p }
        } else {
            Error::io("open directory", p, e)
        }
    })
}

/// Refuses to create an index where anything but a lock file already is.
fn check_empty(dir: &dyn Directory) -> Result<()> {
    let names = dir
        .list()
        .map_err(|e| Error::io("list", dir.describe(), e))?;
    match names.into_iter().find(|n| n != LOCK_FILE) {
        Some(found) => Err(Error::NotEmpty {
            path: dir.describe(),
            found,
        }),
        None => Ok(()),
    }
}

impl Index {
    /// Creates a new index in the directory at `path` (created if missing).
    pub fn create(path: impl AsRef<Path>, schema: Schema) -> Result<Index> {
        // Directories inside are invisible to `Directory::list`: look for any entry at all. (A
        // directory holding an index is left to `create_in`, which says so.)
        if let Ok(entries) = std::fs::read_dir(path.as_ref()) {
            let names: Vec<String> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            let is_index = names
                .iter()
                .any(|n| manifest::parse_manifest_name(n).is_some());
            if let Some(found) = names.into_iter().find(|n| n != LOCK_FILE)
                && !is_index
            {
                return Err(Error::NotEmpty {
                    path: Error::path_string(path.as_ref()),
                    found,
                });
            }
        }
        let dir = FsDirectory::open(path.as_ref())
            .map_err(|e| Error::io("create directory", Error::path_string(path.as_ref()), e))?;
        Index::create_in(Arc::new(dir), schema, IndexOptions::default())
    }

    /// Opens the index in the directory at `path` for writing, recovering from any crash.
    pub fn open(path: impl AsRef<Path>) -> Result<Index> {
        Index::open_in(
            Arc::new(open_existing_dir(path.as_ref())?),
            IndexOptions::default(),
        )
    }

    /// Creates a new index in `dir`.
    pub fn create_in(
        dir: Arc<dyn Directory>,
        schema: Schema,
        options: IndexOptions,
    ) -> Result<Index> {
        schema.validate()?;
        let lock = acquire_lock(dir.as_ref(), options.lock_timeout)?;
        if !manifest::list_generations(dir.as_ref())?.is_empty() {
            return Err(Error::AlreadyExists {
                path: dir.describe(),
            });
        }
        check_empty(dir.as_ref())?;
        let m = Manifest::empty(schema);
        let name = manifest_name(m.generation);
        let tmp = format!("{name}.tmp");
        write_file_synced(dir.as_ref(), &tmp, &m.to_file_bytes())
            .map_err(|e| Error::io("write", &tmp, e))?;
        dir.rename(&tmp, &name)
            .map_err(|e| Error::io("rename", &tmp, e))?;
        dir.sync_dir()
            .map_err(|e| Error::io("fsync", dir.describe(), e))?;
        Index::start(dir, options, lock)
    }

    /// Opens the index in `dir` for writing, recovering from any crash.
    pub fn open_in(dir: Arc<dyn Directory>, options: IndexOptions) -> Result<Index> {
        // A directory without any manifest is not an index: say so before taking the lock,
        // which would leave a LOCK file in a directory strata does not own.
        if manifest::list_generations(dir.as_ref())?.is_empty() {
            return Err(Error::NotAnIndex {
                path: dir.describe(),
            });
        }
        let lock = acquire_lock(dir.as_ref(), options.lock_timeout)?;
        Index::start(dir, options, lock)
    }

    /// Recovery: load the newest manifest, check that it is this index's and that every file
    /// it names is there, whole and unchanged (by opening its snapshot), and only then remove
    /// what it does not refer to. Nothing is removed when any check fails.
    fn start(
        dir: Arc<dyn Directory>,
        options: IndexOptions,
        lock: Box<dyn LockGuard>,
    ) -> Result<Index> {
        let mut m = manifest::load_newest(dir.as_ref())?.ok_or_else(|| Error::NotAnIndex {
            path: dir.describe(),
        })?;
        manifest::check_same_index(dir.as_ref(), &m)?;
        let pins = Arc::new(PinTable::collecting(dir.clone()));
        let cache = SegmentCache::default();
        let snap = Snapshot::open(dir.as_ref(), &m, &cache, &pins).map_err(|e| match e {
            Error::Io { op, path, source } if source.kind() == std::io::ErrorKind::NotFound => {
                Error::corrupt(
                    manifest_name(m.generation),
                    0,
                    format!("names {path}, which is missing ({op}: {source}); nothing was removed"),
                )
            }
            other => other,
        })?;
        let mut keymap = HashMap::with_capacity(snap.num_docs() as usize);
        let mut dup = None;
        snap.for_each_live(|key, seg, row| {
            if keymap.insert(key.clone(), (seg.meta.id, row)).is_some() {
                dup = Some((key.clone(), seg.meta.id));
            }
        });
        if let Some((key, id)) = dup {
            return Err(Error::corrupt(
                crate::segment::file_name(id, crate::format::FileKind::Keys, 0),
                0,
                format!("key {key} is live twice"),
            ));
        }
        let next_generation = successor(m.generation, "generation", m.generation)?;
        let next_segment_id = m.next_segment_id;
        // The newest manifest's name may not be durable yet (a crash, or a failed directory
        // fsync, right after its rename): make it durable before removing anything it
        // supersedes, or a crash during recovery could leave no manifest at all.
        dir.sync_dir()
            .map_err(|e| Error::io("fsync", dir.describe(), e))?;
        let keep: HashSet<String> = m.files().into_iter().collect();
        let names = dir
            .list()
            .map_err(|e| Error::io("list", dir.describe(), e))?;
        let mut removed = false;
        for name in names
            .iter()
            .filter(|n| is_strata_file(n) && !keep.contains(*n))
        {
            dir.remove(name).map_err(|e| Error::io("remove", name, e))?;
            removed = true;
        }
        if removed {
            dir.sync_dir()
                .map_err(|e| Error::io("fsync", dir.describe(), e))?;
        }
        if m.index_id == 0 {
            // A format-1 index: it gets an id with its next commit.
            m.index_id = manifest::new_index_id();
        }
        let schema = m.schema.clone();
        let shared = Arc::new(Shared {
            dir,
            schema,
            state: Mutex::new(WriterState {
                manifest: m,
                next_generation,
                next_segment_id,
            }),
            keymap: RwLock::new(keymap),
            current: RwLock::new(snap),
            pins,
            cache,
            poisoned: AtomicBool::new(false),
            merge_policy: options.merge_policy.clone(),
        });
        let merger = options
            .background_merges
            .then(|| MergeWorker::start(shared.clone()));
        Ok(Index {
            shared,
            merger,
            _lock: lock,
        })
    }

    /// Starts a write transaction. Dropping it without `commit` rolls it back.
    pub fn begin(&mut self) -> WriteTxn<'_> {
        Txn::new(self)
    }

    /// Starts a write transaction that owns this index ([`OwnedTxn`]); committing or rolling
    /// it back returns the index.
    pub fn into_txn(self) -> OwnedTxn {
        Txn::new(self)
    }

    /// The newest committed snapshot.
    pub fn snapshot(&self) -> Snapshot {
        self.shared.snapshot()
    }

    /// A handle that other threads can use to take snapshots while this writer works.
    pub fn reader(&self) -> super::Reader {
        super::Reader::from_writer(self.shared.clone())
    }

    /// The schema.
    pub fn schema(&self) -> Schema {
        self.shared.schema.clone()
    }

    /// The storage directory.
    pub fn directory(&self) -> Arc<dyn Directory> {
        self.shared.dir.clone()
    }

    /// Runs one round of the merge policy now, on this thread. Returns whether it merged.
    pub fn merge(&mut self) -> Result<bool> {
        self.wait_for_merges();
        let ids = {
            let st = lock_state(&self.shared.state);
            self.shared.merge_policy.pick(&st.manifest.segments)
        };
        match ids {
            Some(ids) => super::merge::run_merge(&self.shared, &ids).map(|g| g.is_some()),
            None => Ok(false),
        }
    }

    /// Merges every segment into one (with deletes dropped). Returns whether it merged.
    pub fn merge_all(&mut self) -> Result<bool> {
        self.wait_for_merges();
        let ids: Vec<u64> = {
            let st = lock_state(&self.shared.state);
            let segs = &st.manifest.segments;
            if segs.len() < 2 && segs.iter().all(|s| s.deleted == 0) {
                return Ok(false);
            }
            segs.iter().map(|s| s.id).collect()
        };
        super::merge::run_merge(&self.shared, &ids).map(|g| g.is_some())
    }

    /// Blocks until no background merge is running.
    pub fn wait_for_merges(&self) {
        if let Some(m) = &self.merger {
            m.wait_idle();
        }
    }

    /// The error of the last failed background merge, if any (taking it clears it).
    pub fn take_merge_error(&self) -> Option<String> {
        self.merger.as_ref().and_then(|m| m.take_error())
    }

    /// Removes files that no manifest and no live snapshot refer to.
    pub fn collect_garbage(&self) -> Result<usize> {
        let st = lock_state(&self.shared.state);
        self.shared.gc(&st.manifest)
    }
}

impl Drop for Index {
    fn drop(&mut self) {
        if let Some(m) = self.merger.take() {
            m.stop();
        }
    }
}

mod model;
mod txn;
pub use txn::{OwnedTxn, Txn, WriteTxn};

#[cfg(test)]
mod tests;

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
use crate::segment::{Row, write_deletes};
use crate::types::{AttrKind, AttrValue, Key, Vector};
use std::collections::{BTreeMap, HashMap, HashSet};
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
        WriteTxn {
            index: self,
            pending: Pending::default(),
        }
    }

    /// Starts a write transaction that owns this index ([`OwnedTxn`]); committing or rolling
    /// it back returns the index.
    pub fn into_txn(self) -> OwnedTxn {
        OwnedTxn {
            index: self,
            pending: Pending::default(),
        }
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

/// A write transaction: buffered adds and deletes that become visible atomically at
/// `commit`. Dropping it without committing discards everything. It holds its [`Index`] as
/// `I`: borrowed ([`WriteTxn`], from [`Index::begin`]) or owned ([`OwnedTxn`], from
/// [`Index::into_txn`]); either way one transaction at a time.
pub struct Txn<I> {
    index: I,
    pending: Pending,
}

/// A transaction that borrows its index ([`Index::begin`]).
pub type WriteTxn<'a> = Txn<&'a mut Index>;

/// A transaction that owns its index: for callers that cannot hold a borrow across calls
/// (bindings to other languages, transactions kept in a struct). [`Index::into_txn`] starts
/// one; its `commit` and `rollback` hand the index back.
pub type OwnedTxn = Txn<Index>;

/// The buffered changes of a transaction, checked against the schema and the live keys as
/// they arrive.
#[derive(Default)]
struct Pending {
    adds: Vec<Option<Row>>,
    added: HashMap<Key, usize>,
    deletes: HashSet<Key>,
}

/// How to revert one change of [`Pending::add_all`] (adds past its mark are truncated).
enum Undo {
    /// The key was put into the delete set.
    Deleted(Key),
    /// The key's pending add at this position was removed.
    Unadded(Key, usize, Row),
}

impl Pending {
    /// Checks `doc`'s attributes against the schema; returns them by field position, an i64
    /// given to an f64 attribute converted.
    fn check_attrs(shared: &Shared, doc: &Document) -> Result<Vec<(u16, AttrValue)>> {
        let schema = &shared.schema;
        let bad =
            |what: String| Error::input("<api>", None, format!("document {}: {what}", doc.key));
        let mut out: Vec<(u16, AttrValue)> = Vec::with_capacity(doc.attrs.len());
        for (name, v) in &doc.attrs {
            let Some(a) = schema.attribute(name) else {
                return Err(bad(format!("the schema has no attribute {name:?}")));
            };
            if out.iter().any(|(f, _)| *f == a.index) {
                return Err(bad(format!("attribute {name:?} is given twice")));
            }
            let value = match (a.kind, v) {
                (AttrKind::Keyword, AttrValue::Keywords(_))
                | (AttrKind::I64, AttrValue::I64(_)) => v.clone(),
                (AttrKind::F64, AttrValue::F64(x)) if x.is_finite() => AttrValue::F64(*x),
                (AttrKind::F64, AttrValue::F64(x)) => {
                    return Err(bad(format!("attribute {name:?} is {x}, not finite")));
                }
                (AttrKind::F64, AttrValue::I64(x)) => AttrValue::F64(*x as f64),
                (kind, v) => {
                    return Err(bad(format!(
                        "attribute {name:?} is {}, the schema declares it {}",
                        v.kind().name(),
                        kind.name()
                    )));
                }
            };
            out.push((a.index, value));
        }
        Ok(out)
    }

    /// Checks `doc` against the schema and the transaction; returns its text by field
    /// position.
    fn check(&self, shared: &Shared, doc: &Document) -> Result<Vec<(u16, String)>> {
        let schema = &shared.schema;
        if doc.key.kind() != schema.key {
            return Err(Error::Schema(format!(
                "key {} is {:?}, the index uses {:?} keys",
                doc.key,
                doc.key.kind(),
                schema.key
            )));
        }
        let bad =
            |what: String| Error::input("<api>", None, format!("document {}: {what}", doc.key));
        match (schema.dense_field(), &doc.vector) {
            (Some((dim, _, _)), Some(v)) => {
                if v.dim() != dim {
                    return Err(bad(format!("dimension {}, the index has {dim}", v.dim())));
                }
                if let Some(i) = v.first_non_finite() {
                    return Err(bad(format!("value at column {i} is NaN or infinite")));
                }
            }
            (Some(_), None) => {
                return Err(bad("has no vector; the schema has a dense field".into()));
            }
            (None, Some(_)) => {
                return Err(bad("has a vector; the schema has no dense field".into()));
            }
            (None, None) => {}
        }
        let text_fields = schema.text_fields();
        let mut text: Vec<(u16, String)> = Vec::new();
        for (name, t) in &doc.text {
            let Some(f) = text_fields.iter().find(|f| f.name == name) else {
                return Err(bad(format!("the schema has no text field {name:?}")));
            };
            match text.iter_mut().find(|(i, _)| *i == f.index) {
                Some((_, prev)) => {
                    prev.push(' ');
                    prev.push_str(t);
                }
                None => text.push((f.index, t.clone())),
            }
        }
        if !doc.sparse.is_empty() {
            if schema.sparse_field().is_none() {
                return Err(bad(
                    "has sparse weights; the schema has no sparse field".into()
                ));
            }
            let mut seen = HashSet::new();
            for (term, w) in &doc.sparse {
                if term.is_empty() || !w.is_finite() || *w < 0.0 {
                    return Err(bad(format!(
                        "sparse term {term:?} has weight {w} (terms must be non-empty, weights finite and ≥ 0)"
                    )));
                }
                if !seen.insert(term.as_str()) {
                    return Err(bad(format!("sparse term {term:?} appears twice")));
                }
            }
        }
        if self.added.contains_key(&doc.key) {
            return Err(Error::input(
                "<api>",
                None,
                format!("duplicate key {} in one transaction", doc.key),
            ));
        }
        if shared.is_live(&doc.key) && !self.deletes.contains(&doc.key) {
            return Err(Error::InvalidArgument(format!(
                "key {} already exists; use upsert to replace it",
                doc.key
            )));
        }
        Ok(text)
    }

    fn add(&mut self, shared: &Shared, doc: Document) -> Result<()> {
        let text = self.check(shared, &doc)?;
        let attrs = Pending::check_attrs(shared, &doc)?;
        self.added.insert(doc.key.clone(), self.adds.len());
        self.adds.push(Some(Row {
            key: doc.key,
            vector: doc.vector,
            text,
            sparse: doc.sparse,
            attrs,
        }));
        Ok(())
    }

    fn delete(&mut self, shared: &Shared, key: &Key) -> Result<bool> {
        self.delete_logged(shared, key, None)
    }

    /// [`Pending::delete`], recording in `log` how to undo it.
    fn delete_logged(
        &mut self,
        shared: &Shared,
        key: &Key,
        log: Option<&mut Vec<Undo>>,
    ) -> Result<bool> {
        if let Some(i) = self.added.remove(key) {
            let row = self.adds.get_mut(i).and_then(Option::take);
            if let (Some(log), Some(row)) = (log, row) {
                log.push(Undo::Unadded(key.clone(), i, row));
            }
            return Ok(true);
        }
        let live = shared.is_live(key);
        let inserted = live && self.deletes.insert(key.clone());
        if let (Some(log), true) = (log, inserted) {
            log.push(Undo::Deleted(key.clone()));
        }
        Ok(inserted)
    }

    /// Adds (or, with `upsert`, replaces) every document of `docs`, or none: on the first
    /// refused document the changes made by this call are undone and its error returned.
    fn add_all(&mut self, shared: &Shared, docs: Vec<Document>, upsert: bool) -> Result<()> {
        let mark = self.adds.len();
        let mut log: Vec<Undo> = Vec::new();
        for doc in docs {
            let res = if upsert {
                self.delete_logged(shared, &doc.key, Some(&mut log))
                    .and_then(|_| self.add(shared, doc))
            } else {
                self.add(shared, doc)
            };
            if let Err(e) = res {
                self.undo(mark, log);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Reverts the adds made since `adds.len()` was `mark` and the deletes in `log`.
    fn undo(&mut self, mark: usize, log: Vec<Undo>) {
        for u in log.into_iter().rev() {
            match u {
                Undo::Deleted(key) => {
                    self.deletes.remove(&key);
                }
                Undo::Unadded(key, i, row) => {
                    if let Some(slot) = self.adds.get_mut(i) {
                        *slot = Some(row);
                        self.added.insert(key, i);
                    }
                }
            }
        }
        for i in mark..self.adds.len() {
            if let Some(Some(row)) = self.adds.get(i)
                && self.added.get(&row.key) == Some(&i)
            {
                let key = row.key.clone();
                self.added.remove(&key);
            }
        }
        self.adds.truncate(mark);
    }

    fn commit(self, index: &Index) -> Result<u64> {
        let adds: Vec<Row> = self.adds.into_iter().flatten().collect();
        let gen_ = commit_changes(&index.shared, adds, self.deletes)?;
        if let Some(m) = &index.merger {
            m.nudge();
        }
        Ok(gen_)
    }
}

impl<I: std::borrow::Borrow<Index>> Txn<I> {
    /// Adds a document. Its key must not be live (use [`Txn::upsert`] to replace).
    pub fn add(&mut self, doc: Document) -> Result<()> {
        let shared = &self.index.borrow().shared;
        self.pending.add(shared, doc)
    }

    /// Adds every document of `docs` or, if one is refused, none of them (the transaction is
    /// left as it was before the call) and returns that document's error.
    pub fn add_all(&mut self, docs: Vec<Document>) -> Result<()> {
        let shared = &self.index.borrow().shared;
        self.pending.add_all(shared, docs, false)
    }

    /// Upserts every document of `docs` or none of them, as [`Txn::add_all`].
    pub fn upsert_all(&mut self, docs: Vec<Document>) -> Result<()> {
        let shared = &self.index.borrow().shared;
        self.pending.add_all(shared, docs, true)
    }

    /// Deletes the document with `key`; returns whether one was live (or added earlier in
    /// this transaction).
    pub fn delete(&mut self, key: &Key) -> Result<bool> {
        let shared = &self.index.borrow().shared;
        self.pending.delete(shared, key)
    }

    /// Replaces (or adds) the document with `doc.key`.
    pub fn upsert(&mut self, doc: Document) -> Result<()> {
        self.delete(&doc.key)?;
        self.add(doc)
    }

    /// Documents added so far.
    pub fn pending_adds(&self) -> usize {
        self.pending.added.len()
    }

    /// The index this transaction writes to (its snapshots do not see the transaction).
    pub fn index(&self) -> &Index {
        self.index.borrow()
    }
}

impl WriteTxn<'_> {
    /// Discards the transaction.
    pub fn rollback(self) {}

    /// Makes the transaction's changes durable and visible atomically. Returns the commit's
    /// generation (unchanged if the transaction was empty).
    pub fn commit(self) -> Result<u64> {
        self.pending.commit(self.index)
    }
}

impl OwnedTxn {
    /// Discards the transaction and hands the index back.
    pub fn rollback(self) -> Index {
        self.index
    }

    /// Makes the changes durable and visible atomically, as [`WriteTxn::commit`], and hands
    /// the index back whether or not the commit succeeded (after a failure it may be poisoned:
    /// see [`Error::Poisoned`]).
    pub fn commit(self) -> (Index, Result<u64>) {
        let res = self.pending.commit(&self.index);
        (self.index, res)
    }
}

/// The commit of a transaction: the new segment is built and verified first, without the
/// writer mutex; then, holding it, the deletes are written against the current state and the
/// manifest is published.
fn commit_changes(shared: &Shared, adds: Vec<Row>, deletes: HashSet<Key>) -> Result<u64> {
    shared.check_poisoned()?;
    if adds.is_empty() && deletes.is_empty() {
        return Ok(lock_state(&shared.state).manifest.generation);
    }
    let built = if adds.is_empty() {
        None
    } else {
        let id = shared.allocate_segment_id()?;
        Some(shared.build_segment(id, &adds, None)?)
    };
    let mut st = lock_state(&shared.state);
    let dir = shared.dir.as_ref();
    let snap = shared.snapshot();
    let mut m = st.manifest.clone();
    let gen_ = st.next_generation;
    let mut new_files: Vec<String> = built
        .iter()
        .flat_map(|b| b.meta.files().map(str::to_owned))
        .collect();
    let result = (|| -> Result<()> {
        let mut per_seg: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
        {
            let keymap = shared.keymap.read().unwrap_or_else(|p| p.into_inner());
            for key in &deletes {
                if let Some(&(seg, row)) = keymap.get(key) {
                    per_seg.entry(seg).or_default().push(row);
                }
            }
        }
        for (seg_id, rows) in per_seg {
            let Some(pos) = m.segments.iter().position(|s| s.id == seg_id) else {
                continue;
            };
            let mut bitmap = snap
                .segments()
                .iter()
                .find(|s| s.meta.id == seg_id)
                .and_then(|s| s.deletes.as_ref().map(|d| d.bitmap().clone()))
                .unwrap_or_default();
            bitmap.extend(rows);
            let Some(meta) = m.segments.get_mut(pos) else {
                continue;
            };
            if bitmap.len() >= meta.rows {
                m.segments.remove(pos);
                continue;
            }
            let c = write_deletes(dir, seg_id, meta.rows, gen_, &bitmap)?;
            new_files.push(c.file.clone());
            meta.deleted = bitmap.len();
            meta.deletes = Some(c);
        }
        if let Some(b) = &built {
            m.segments.push(b.meta.clone());
        }
        Ok(())
    })();
    // Release the old snapshot's pins so GC after the commit can remove what it replaced.
    drop(snap);
    if let Err(e) = result {
        for f in &new_files {
            let _ = dir.remove(f);
        }
        return Err(e);
    }
    shared.publish(&mut st, m, &new_files)?;
    let mut keymap = shared.keymap.write().unwrap_or_else(|p| p.into_inner());
    for key in &deletes {
        keymap.remove(key);
    }
    if let Some(b) = &built {
        let id = b.meta.id;
        for (row, r) in adds.iter().enumerate() {
            keymap.insert(r.key.clone(), (id, row as u32));
        }
    }
    Ok(st.manifest.generation)
}

#[cfg(test)]
mod tests;

//! Snapshots: the segments and deletes of one commit, shared by readers.
//!
//! A [`Snapshot`] is an `Arc` over opened segments; taking one is a reference-count increment,
//! searching it takes no lock, and it stays valid however many commits and merges happen
//! after it. While it lives, the files it uses are pinned (see [`PinTable`]) so the writer's
//! garbage collection leaves them in place. Queries over a snapshot are the search layer's
//! (`crate::search`); this module only holds the view.

use crate::dense::ivf::{IvfModel, IvfPq};
use crate::error::{Error, Result};
use crate::io::Directory;
use crate::schema::Schema;
use crate::segment::live::LiveStats;
use crate::segment::{ComponentRef, DeleteSet, Segment, SegmentMeta};
use crate::txn::manifest::Manifest;
use crate::types::Key;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};

/// Reference counts of files in use by live snapshots and in-flight merges.
///
/// The writer's table also collects garbage late: a file that garbage collection found
/// unreferenced but pinned is marked obsolete, and removed when its last pin is dropped, so
/// the files replaced by a commit or a merge do not stay on disk until the next commit or
/// open just because a snapshot was alive at the time. A read-only reader's table never
/// removes anything.
#[derive(Debug, Default)]
pub struct PinTable {
    state: Mutex<PinState>,
    /// Where obsolete files are removed from (`None`: never remove).
    dir: Option<Arc<dyn Directory>>,
}

#[derive(Debug, Default)]
struct PinState {
    counts: HashMap<String, usize>,
    obsolete: HashSet<String>,
}

impl PinTable {
    /// The writer's table: obsolete files are removed from `dir` when their last pin goes.
    pub(crate) fn collecting(dir: Arc<dyn Directory>) -> PinTable {
        PinTable {
            state: Mutex::default(),
            dir: Some(dir),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PinState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Pins `files` until the returned guard is dropped.
    pub fn pin(self: &Arc<Self>, files: Vec<String>) -> Pins {
        let mut st = self.lock();
        for f in &files {
            *st.counts.entry(f.clone()).or_insert(0) += 1;
        }
        Pins {
            table: self.clone(),
            files,
        }
    }

    /// Whether `file` is pinned.
    pub fn is_pinned(&self, file: &str) -> bool {
        self.lock().counts.contains_key(file)
    }

    /// For garbage collection of an unreferenced `file`: returns true if it is not pinned
    /// (the caller removes it now); otherwise marks it obsolete, to be removed when its last
    /// pin is dropped, and returns false. One step under the lock, so a pin dropped meanwhile
    /// cannot leave the file behind.
    pub(crate) fn release_or_defer(&self, file: &str) -> bool {
        let mut st = self.lock();
        if st.counts.contains_key(file) {
            if self.dir.is_some() {
                st.obsolete.insert(file.to_owned());
            }
            false
        } else {
            st.obsolete.remove(file);
            true
        }
    }
}

impl PinTable {
    /// Clears the obsolete mark of every file in `files` (the files of a manifest just
    /// committed). A segment written by one commit can be seen, unreferenced and pinned, by
    /// the garbage collection of another commit that published first; once its own commit
    /// names it, it must never be removed when its pins go.
    pub(crate) fn unmark(&self, files: &[String]) {
        let mut st = self.lock();
        if st.obsolete.is_empty() {
            return;
        }
        for f in files {
            st.obsolete.remove(f);
        }
    }
}

/// Files pinned by one holder.
#[derive(Debug)]
pub struct Pins {
    table: Arc<PinTable>,
    files: Vec<String>,
}

impl Drop for Pins {
    fn drop(&mut self) {
        let mut reap = Vec::new();
        {
            let mut st = self.table.lock();
            for f in &self.files {
                if let Some(n) = st.counts.get_mut(f) {
                    *n -= 1;
                    if *n == 0 {
                        st.counts.remove(f);
                        if st.obsolete.remove(f) {
                            reap.push(f.clone());
                        }
                    }
                }
            }
        }
        // Best effort: a file left behind (an I/O error) is removed by a later collection or
        // by recovery. Removing a name keeps the data of open descriptors and maps alive.
        if let Some(dir) = &self.table.dir {
            for f in reap {
                let _ = dir.remove(&f);
            }
        }
    }
}

/// Opened segments and delete sets, shared across snapshots so each file is opened (and its
/// checksum verified) once per process.
#[derive(Debug, Default)]
pub struct SegmentCache {
    segments: Mutex<HashMap<u64, Weak<Segment>>>,
    deletes: Mutex<HashMap<String, Weak<DeleteSet>>>,
    models: Mutex<HashMap<String, Weak<IvfModel>>>,
    /// A segment's IVF-PQ index scored with a model generation: (segment id, model file).
    tuned: Mutex<HashMap<(u64, String), Weak<IvfPq>>>,
}

impl SegmentCache {
    /// The opened segment `meta` describes: from the cache, or opened (and every component
    /// verified) now.
    pub(crate) fn segment(
        &self,
        dir: &dyn Directory,
        meta: &SegmentMeta,
        schema: &Schema,
    ) -> Result<Arc<Segment>> {
        let mut c = self.segments.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = c.get(&meta.id).and_then(Weak::upgrade) {
            return Ok(s);
        }
        let s = Arc::new(Segment::open(dir, meta, schema)?);
        c.retain(|_, w| w.strong_count() > 0);
        c.insert(meta.id, Arc::downgrade(&s));
        Ok(s)
    }

    /// The model generation `c` names, opened once per process.
    pub(crate) fn model(
        &self,
        dir: &dyn Directory,
        c: &ComponentRef,
        schema: &Schema,
    ) -> Result<Arc<IvfModel>> {
        let mut cache = self.models.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = cache.get(&c.file).and_then(Weak::upgrade) {
            return Ok(m);
        }
        let (dim, metric, _) = schema.dense_field().ok_or_else(|| {
            Error::corrupt(&c.file, 0, "a model in an index without a dense field")
        })?;
        let m = Arc::new(crate::segment::open_model(dir, c, dim, metric)?);
        cache.retain(|_, w| w.strong_count() > 0);
        cache.insert(c.file.clone(), Arc::downgrade(&m));
        Ok(m)
    }

    /// `segment`'s IVF-PQ index scored with `model`, if the segment's codes were encoded
    /// with the model's lineage (else `None`: the segment's own centroids and codebooks).
    fn tuned(
        &self,
        segment: &Segment,
        model: Option<(&ComponentRef, &Arc<IvfModel>)>,
    ) -> Result<Option<Arc<IvfPq>>> {
        let (Some((c, model)), Some(ivf)) = (model, segment.ivf()) else {
            return Ok(None);
        };
        // Of another lineage, or holding this very model already: scored as it is.
        if ivf.lineage() != model.lineage || ivf.holds_model(model) {
            return Ok(None);
        }
        let key = (segment.id(), c.file.clone());
        let mut cache = self.tuned.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = cache.get(&key).and_then(Weak::upgrade) {
            return Ok(Some(t));
        }
        let t = Arc::new(
            ivf.with_model(model)
                .map_err(|e| Error::corrupt(&c.file, 0, e.to_string()))?,
        );
        cache.retain(|_, w| w.strong_count() > 0);
        cache.insert(key, Arc::downgrade(&t));
        Ok(Some(t))
    }

    fn deletes(&self, dir: &dyn Directory, meta: &SegmentMeta) -> Result<Option<Arc<DeleteSet>>> {
        let Some(d) = &meta.deletes else {
            return Ok(None);
        };
        let mut c = self.deletes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = c.get(&d.file).and_then(Weak::upgrade) {
            return Ok(Some(s));
        }
        let set = Arc::new(Segment::open_deletes(dir, d, meta.rows)?);
        if set.len() != meta.deleted {
            return Err(Error::corrupt(
                &d.file,
                0,
                format!("{} deleted rows, manifest says {}", set.len(), meta.deleted),
            ));
        }
        c.retain(|_, w| w.strong_count() > 0);
        c.insert(d.file.clone(), Arc::downgrade(&set));
        Ok(Some(set))
    }
}

/// One segment as a snapshot sees it.
#[derive(Debug, Clone)]
pub struct SnapshotSegment {
    /// What the manifest records.
    pub meta: SegmentMeta,
    /// The opened segment.
    pub segment: Arc<Segment>,
    /// Its deleted rows at this commit.
    pub deletes: Option<Arc<DeleteSet>>,
    /// BM25 statistics of its live rows, computed on first use.
    pub(crate) live: Arc<LiveStats>,
    /// The segment's IVF-PQ index scored with the index's model, when the segment is of the
    /// model's lineage.
    tuned: Option<Arc<IvfPq>>,
}

impl SnapshotSegment {
    /// The IVF-PQ index searches use: the segment's codes scored with the index's model
    /// generation when the segment was encoded with that model, else as the segment holds
    /// it; `None` for a segment without one.
    pub fn ivf(&self) -> Option<&IvfPq> {
        self.tuned.as_deref().or_else(|| self.segment.ivf())
    }

    /// Whether `row` is live in this snapshot.
    pub fn is_live(&self, row: u32) -> bool {
        !self.deletes.as_ref().is_some_and(|d| d.contains(row))
    }
}

#[derive(Debug)]
struct Inner {
    generation: u64,
    manifest_len: u64,
    schema: Schema,
    segments: Vec<SnapshotSegment>,
    model: Option<Arc<IvfModel>>,
    _pins: Pins,
}

/// A consistent, immutable view of one commit. Cheap to clone; `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Snapshot {
    inner: Arc<Inner>,
}

impl Snapshot {
    /// Opens every segment of `manifest` (through `cache`) and pins its files.
    pub fn open(
        dir: &dyn Directory,
        manifest: &Manifest,
        cache: &SegmentCache,
        pins: &Arc<PinTable>,
    ) -> Result<Snapshot> {
        let pins = pins.pin(manifest.files());
        let model = match &manifest.model {
            Some(c) => Some((c, cache.model(dir, c, &manifest.schema)?)),
            None => None,
        };
        let mut segments = Vec::with_capacity(manifest.segments.len());
        for meta in &manifest.segments {
            let segment = cache.segment(dir, meta, &manifest.schema)?;
            let tuned = cache.tuned(&segment, model.as_ref().map(|(c, m)| (*c, m)))?;
            segments.push(SnapshotSegment {
                meta: meta.clone(),
                segment,
                deletes: cache.deletes(dir, meta)?,
                live: Arc::default(),
                tuned,
            });
        }
        Ok(Snapshot {
            inner: Arc::new(Inner {
                generation: manifest.generation,
                manifest_len: manifest.file_len(),
                schema: manifest.schema.clone(),
                segments,
                model: model.map(|(_, m)| m),
                _pins: pins,
            }),
        })
    }

    /// The length in bytes of this commit's manifest file (known without reading the file,
    /// which a later commit may already have removed).
    pub fn manifest_len(&self) -> u64 {
        self.inner.manifest_len
    }

    /// The index's trained IVF-PQ model at this commit, if it has one.
    pub fn model(&self) -> Option<&IvfModel> {
        self.inner.model.as_deref()
    }

    /// The commit generation this snapshot shows.
    pub fn generation(&self) -> u64 {
        self.inner.generation
    }

    /// The schema.
    pub fn schema(&self) -> &Schema {
        &self.inner.schema
    }

    /// The segments, oldest first.
    pub fn segments(&self) -> &[SnapshotSegment] {
        &self.inner.segments
    }

    /// Live documents.
    pub fn num_docs(&self) -> u64 {
        self.inner.segments.iter().map(|s| s.meta.live()).sum()
    }

    /// Calls `f(key, segment, row)` for every live document.
    pub fn for_each_live(&self, mut f: impl FnMut(&Key, &SnapshotSegment, u32)) {
        for s in &self.inner.segments {
            for row in 0..s.segment.rows() {
                if s.is_live(row as u32)
                    && let Some(key) = s.segment.key(row)
                {
                    f(&key, s, row as u32);
                }
            }
        }
    }

    /// Bytes held in process memory by this snapshot's segments (keys, delete sets).
    pub fn resident_bytes(&self) -> u64 {
        self.inner
            .segments
            .iter()
            .map(|s| {
                // A segment scored with the index's model holds that model's centroids and
                // codebooks beside its own (the codes are shared).
                s.segment.resident_bytes()
                    + s.deletes.as_ref().map_or(0, |d| d.resident_bytes())
                    + match (&s.tuned, s.segment.ivf()) {
                        (Some(t), Some(own)) => t.bytes_beyond(own),
                        _ => 0,
                    }
            })
            .sum()
    }
}

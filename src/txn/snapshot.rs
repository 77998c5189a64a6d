//! Snapshots: the segments and deletes of one commit, shared by readers.
//!
//! A [`Snapshot`] is an `Arc` over opened segments; taking one is a reference-count increment,
//! searching it takes no lock, and it stays valid however many commits and merges happen
//! after it. While it lives, the files it uses are pinned (see [`PinTable`]) so the writer's
//! garbage collection leaves them in place.

use crate::dense::flat::{self, Cand, FlatQuery, Reservoir, TopK};
use crate::dense::ivf::IvfScratch;
use crate::dense::kernels;
use crate::error::{Error, Result};
use crate::io::Directory;
use crate::schema::Schema;
use crate::segment::keys::KeyColumn;
use crate::segment::{DeleteSet, Segment, SegmentMeta, VectorsView};
use crate::txn::manifest::Manifest;
use crate::txn::text::LiveStats;
use crate::types::{Hit, Key, Metric};
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

thread_local! {
    /// The IVF scan's scratch space of this thread, lent to one query at a time.
    static SCRATCH: std::cell::Cell<IvfScratch> = std::cell::Cell::new(IvfScratch::default());
}

/// How to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchParams {
    /// Results wanted.
    pub k: usize,
    /// IVF lists probed per segment.
    pub nprobe: usize,
    /// Candidates per segment re-ranked with full vectors (0: return PQ scores).
    pub rerank: usize,
    /// Ignore IVF-PQ indexes and scan every vector (the oracle).
    pub exact: bool,
}

impl SearchParams {
    /// Approximate search with default effort: 32 lists, re-rank 4·k candidates.
    pub fn new(k: usize) -> SearchParams {
        SearchParams {
            k,
            nprobe: 32,
            rerank: 4 * k,
            exact: false,
        }
    }

    /// Exact search.
    pub fn exact(k: usize) -> SearchParams {
        SearchParams {
            k,
            nprobe: 0,
            rerank: 0,
            exact: true,
        }
    }
}

/// What one query did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryStats {
    /// Rows scored exactly by a flat scan.
    pub exact_rows: u64,
    /// Rows whose PQ score passed the candidate threshold.
    pub offered: u64,
    /// Candidates re-ranked with full vectors.
    pub reranked: u64,
    /// Bytes of full-precision vectors read for re-ranking.
    pub disk_bytes: u64,
}

fn rows_bytes_per_row(rows: VectorsView<'_>, dim: usize) -> u64 {
    match rows {
        VectorsView::F32(_) => 4 * dim as u64,
        VectorsView::F16(_) => 2 * dim as u64,
    }
}

/// Re-ranks `cands` of segment `seg` with their full vectors (read from the mapped file,
/// prefetched a few rows ahead) into `top`.
#[allow(clippy::too_many_arguments)]
fn rerank<F: Fn(&Cand, &Cand) -> std::cmp::Ordering>(
    q: &FlatQuery<'_>,
    rows: VectorsView<'_>,
    norms: &[f32],
    seg: u32,
    cands: &[Cand],
    top: &mut TopK,
    cmp: &F,
    stats: &mut QueryStats,
) {
    stats.reranked += cands.len() as u64;
    stats.disk_bytes += cands.len() as u64 * (rows_bytes_per_row(rows, q.vector.len()));
    // Rows come from the mapped vectors file: start loading a few ahead.
    const AHEAD: usize = 3;
    let dim = q.vector.len();
    let prefetch = |row: u32| {
        let span = row as usize * dim..(row as usize + 1) * dim;
        match rows {
            VectorsView::F32(v) => kernels::prefetch(v.get(span).unwrap_or_default()),
            VectorsView::F16(v) => kernels::prefetch(v.get(span).unwrap_or_default()),
        }
    };
    for c in cands.iter().take(AHEAD) {
        prefetch(c.row);
    }
    for (j, c) in cands.iter().enumerate() {
        if let Some(next) = cands.get(j + AHEAD) {
            prefetch(next.row);
        }
        let rank = flat::exact_rank(q, rows, norms, c.row as usize);
        top.push(
            Cand {
                rank,
                seg,
                row: c.row,
            },
            cmp,
        );
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
}

impl SnapshotSegment {
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
        let mut segments = Vec::with_capacity(manifest.segments.len());
        for meta in &manifest.segments {
            segments.push(SnapshotSegment {
                meta: meta.clone(),
                segment: cache.segment(dir, meta, &manifest.schema)?,
                deletes: cache.deletes(dir, meta)?,
                live: Arc::default(),
            });
        }
        Ok(Snapshot {
            inner: Arc::new(Inner {
                generation: manifest.generation,
                manifest_len: manifest.file_len(),
                schema: manifest.schema.clone(),
                segments,
                _pins: pins,
            }),
        })
    }

    /// The length in bytes of this commit's manifest file (known without reading the file,
    /// which a later commit may already have removed).
    pub fn manifest_len(&self) -> u64 {
        self.inner.manifest_len
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

    /// Exact top-`k` search over every live document (IVF-PQ indexes are not used).
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>> {
        self.search_with(query, &SearchParams::exact(k))
            .map(|(h, _)| h)
    }

    /// Exact search with a prepared query (lets callers choose the kernels).
    pub fn search_prepared(&self, q: &FlatQuery<'_>, k: usize) -> Result<Vec<Hit>> {
        self.run(q, &SearchParams::exact(k)).map(|(h, _)| h)
    }

    /// Search with explicit parameters: segments with an IVF-PQ index are searched through it
    /// (probing `nprobe` lists, re-ranking the best `rerank` candidates with their full
    /// vectors; `rerank == 0` returns PQ scores), the others exactly.
    pub fn search_with(&self, query: &[f32], p: &SearchParams) -> Result<(Vec<Hit>, QueryStats)> {
        let metric = self.check_query(query)?;
        self.run(&FlatQuery::new(query, metric), p)
    }

    /// Checks a query's dimension and values against the schema; returns the metric.
    fn check_query(&self, query: &[f32]) -> Result<Metric> {
        let (dim, metric, _) = self
            .inner
            .schema
            .dense_field()
            .ok_or_else(|| Error::Schema("no dense vector field".to_owned()))?;
        if query.len() != dim {
            return Err(Error::input(
                "<query>",
                None,
                format!("query has dimension {}, the index has {dim}", query.len()),
            ));
        }
        if let Some(i) = query.iter().position(|x| !x.is_finite()) {
            return Err(Error::input(
                "<query>",
                None,
                format!("value at column {i} is not finite"),
            ));
        }
        Ok(metric)
    }

    fn run(&self, q: &FlatQuery<'_>, p: &SearchParams) -> Result<(Vec<Hit>, QueryStats)> {
        Ok(self
            .run_many(std::slice::from_ref(q), p)
            .pop()
            .unwrap_or_default())
    }

    /// Searches several queries at once with the same parameters; each result equals what
    /// [`Snapshot::search_with`] returns for that query alone. IVF-PQ segments score all
    /// queries against the centroids in one pass and scan each probed list once for every
    /// query that probes it, which is faster per query than one call each; everything runs on
    /// the calling thread.
    pub fn search_batch(
        &self,
        queries: &[&[f32]],
        p: &SearchParams,
    ) -> Result<Vec<(Vec<Hit>, QueryStats)>> {
        let mut metric = Metric::Dot;
        for q in queries {
            metric = self.check_query(q)?;
        }
        let fq: Vec<FlatQuery<'_>> = queries.iter().map(|q| FlatQuery::new(q, metric)).collect();
        Ok(self.run_many(&fq, p))
    }

    /// The search behind [`Snapshot::search_with`] and [`Snapshot::search_batch`]: exact
    /// scans of flat segments, IVF-PQ scans (batched when there are several queries) and
    /// re-ranking, per query.
    fn run_many(&self, fq: &[FlatQuery<'_>], p: &SearchParams) -> Vec<(Vec<Hit>, QueryStats)> {
        let Some(metric) = fq.first().map(|q| q.metric) else {
            return Vec::new();
        };
        let keys: Vec<&KeyColumn> = self
            .inner
            .segments
            .iter()
            .map(|s| s.segment.keys())
            .collect();
        let cmp = flat::key_order(&keys);
        let row_cmp = |a: &Cand, b: &Cand| a.row.cmp(&b.row);
        let nq = fq.len();
        let mut tops: Vec<TopK> = (0..nq).map(|_| TopK::new(p.k)).collect();
        let mut stats = vec![QueryStats::default(); nq];
        let mut scratch = SCRATCH.with(|c| c.take());
        // Unit-norm copies of the queries, made for the first cosine IVF segment.
        let mut units: Option<Vec<Vec<f32>>> = None;
        for (i, s) in self.inner.segments.iter().enumerate() {
            let (rows, norms) = s.segment.vectors();
            let ivf = if p.exact { None } else { s.segment.ivf() };
            let Some(ivf) = ivf else {
                for ((q, top), st) in fq.iter().zip(tops.iter_mut()).zip(stats.iter_mut()) {
                    flat::scan_segment(q, i as u32, rows, norms, s.deletes.as_deref(), top, &cmp);
                    st.exact_rows += norms.len() as u64;
                }
                continue;
            };
            let want = if p.rerank == 0 {
                p.k
            } else {
                p.rerank.max(p.k)
            };
            let qvs: Vec<&[f32]> = if metric == Metric::Cosine {
                let u = units.get_or_insert_with(|| fq.iter().map(FlatQuery::unit).collect());
                u.iter().map(Vec::as_slice).collect()
            } else {
                fq.iter().map(|q| q.vector).collect()
            };
            let mut cands: Vec<Reservoir> = (0..nq).map(|_| Reservoir::new(want)).collect();
            let live = |row: u32| s.is_live(row);
            ivf.scan_batch(&qvs, p.nprobe, &mut scratch, &live, &mut |qi, rank, row| {
                let (Some(c), Some(st)) = (cands.get_mut(qi), stats.get_mut(qi)) else {
                    return f32::INFINITY;
                };
                st.offered += 1;
                c.push(
                    Cand {
                        rank,
                        seg: i as u32,
                        row,
                    },
                    &row_cmp,
                );
                c.threshold()
            });
            for (((c, q), top), st) in cands
                .into_iter()
                .zip(fq)
                .zip(tops.iter_mut())
                .zip(stats.iter_mut())
            {
                let c = c.into_sorted(&row_cmp);
                if p.rerank == 0 {
                    for x in c {
                        top.push(x, &cmp);
                    }
                } else {
                    rerank(q, rows, norms, i as u32, &c, top, &cmp, st);
                }
            }
        }
        SCRATCH.with(|c| c.replace(scratch));
        tops.into_iter()
            .zip(stats)
            .map(|(top, st)| {
                let hits = top
                    .into_sorted(&cmp)
                    .into_iter()
                    .filter_map(|c| {
                        let key = keys.get(c.seg as usize)?.get(c.row as usize)?;
                        Some(Hit {
                            key,
                            score: metric.rank_value(c.rank),
                        })
                    })
                    .collect();
                (hits, st)
            })
            .collect()
    }

    /// Bytes held in process memory by this snapshot's segments (keys, delete sets).
    pub fn resident_bytes(&self) -> u64 {
        self.inner
            .segments
            .iter()
            .map(|s| {
                s.segment.resident_bytes() + s.deletes.as_ref().map_or(0, |d| d.resident_bytes())
            })
            .sum()
    }
}

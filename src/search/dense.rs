//! Dense vector search over a snapshot: exact scans of flat segments, IVF-PQ probing with
//! re-ranking from the mapped full vectors, one query or a batch, one top-k across segments
//! with equal scores ranked by key.

use crate::dense::flat::{self, Cand, FlatQuery, Reservoir, TopK};
use crate::dense::ivf::{FilteredProbe, IvfPq, IvfScratch};
use crate::dense::kernels;
use crate::error::{Error, Result};
use crate::search::docset::DocFilter;
use crate::segment::VectorsView;
use crate::segment::keys::KeyColumn;
use crate::txn::{Snapshot, SnapshotSegment};
use crate::types::{Hit, Metric};
use roaring::RoaringBitmap;

/// Flat segments of at least this many rows are scanned through their 8-bit sketch (when the
/// kernel table has the integer kernel); smaller ones are not worth the sketch's memory.
const SKETCH_MIN_ROWS: usize = 256;
use std::cmp::Ordering;

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
#[non_exhaustive]
pub struct QueryStats {
    /// Rows scored exactly by a flat scan.
    pub exact_rows: u64,
    /// Rows whose PQ score passed the candidate threshold.
    pub offered: u64,
    /// Candidates re-ranked with full vectors.
    pub reranked: u64,
    /// Bytes of full-precision vectors read for re-ranking.
    pub disk_bytes: u64,
    /// Live documents the query could return: those that pass its filter, or every live
    /// document without one.
    pub passed: u64,
    /// Fewer than `k` hits were returned: fewer than `k` documents pass the filter (or the
    /// snapshot holds fewer than `k` live documents), or the lists an approximate search
    /// probed held fewer.
    pub underfilled: bool,
    /// IVF lists probed, over every IVF-PQ segment searched through its index.
    pub lists_probed: u64,
    /// Segments whose passing rows were few enough to be scored exactly instead of probing
    /// the segment's IVF-PQ index (filtered searches only).
    pub exact_segments: u64,
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

/// Orders two candidates by key given the keys of each snapshot segment.
pub fn key_order<'a>(keys: &'a [&'a KeyColumn]) -> impl Fn(&Cand, &Cand) -> Ordering + 'a {
    move |a: &Cand, b: &Cand| {
        let ka = keys.get(a.seg as usize).and_then(|k| k.get(a.row as usize));
        let kb = keys.get(b.seg as usize).and_then(|k| k.get(b.row as usize));
        ka.cmp(&kb)
    }
}

impl Snapshot {
    /// Top-`k` search over every live document through the schema's index: segments with an
    /// IVF-PQ index are searched through it with the default effort of
    /// [`SearchParams::new`] (approximate: a document may be missed), the others exactly.
    /// [`Snapshot::search_exact`] scores every document.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>> {
        self.search_with(query, &SearchParams::new(k))
            .map(|(h, _)| h)
    }

    /// Exact top-`k` search over every live document (IVF-PQ indexes are not used).
    pub fn search_exact(&self, query: &[f32], k: usize) -> Result<Vec<Hit>> {
        self.search_with(query, &SearchParams::exact(k))
            .map(|(h, _)| h)
    }

    /// Exact search with a prepared query (lets callers choose the kernels).
    pub fn search_prepared(&self, q: &FlatQuery<'_>, k: usize) -> Result<Vec<Hit>> {
        self.run(q, &SearchParams::exact(k), None).map(|(h, _)| h)
    }

    /// Search with explicit parameters: segments with an IVF-PQ index are searched through it
    /// (probing `nprobe` lists, re-ranking the best `rerank` candidates with their full
    /// vectors; `rerank == 0` returns PQ scores), the others exactly.
    pub fn search_with(&self, query: &[f32], p: &SearchParams) -> Result<(Vec<Hit>, QueryStats)> {
        let metric = self.check_query(query)?;
        self.run(&FlatQuery::new(query, metric), p, None)
    }

    /// [`Snapshot::search_with`] restricted to the documents of `filter` (compiled on this
    /// snapshot): the filter is checked inside the scans, on every row a flat scan scores and on
    /// every candidate an IVF-PQ list scan lets through, never on the final hits.
    pub fn search_filtered(
        &self,
        query: &[f32],
        p: &SearchParams,
        filter: Option<&DocFilter>,
    ) -> Result<(Vec<Hit>, QueryStats)> {
        let metric = self.check_query(query)?;
        self.run(&FlatQuery::new(query, metric), p, filter)
    }

    /// Checks a query's dimension and values against the schema; returns the metric.
    fn check_query(&self, query: &[f32]) -> Result<Metric> {
        let (dim, metric, _) = self
            .schema()
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

    fn run(
        &self,
        q: &FlatQuery<'_>,
        p: &SearchParams,
        filter: Option<&DocFilter>,
    ) -> Result<(Vec<Hit>, QueryStats)> {
        let (hits, stats) = self.run_located(q, p, filter);
        Ok((hits.into_iter().map(|(h, _, _)| h).collect(), stats))
    }

    fn run_located(
        &self,
        q: &FlatQuery<'_>,
        p: &SearchParams,
        filter: Option<&DocFilter>,
    ) -> (Vec<Located>, QueryStats) {
        self.run_many(std::slice::from_ref(q), p, filter)
            .pop()
            .unwrap_or_default()
    }

    /// [`Snapshot::search_filtered`] with each hit's segment id and row, for callers that
    /// fetch stored fields or vectors of the hits (the query layer).
    pub(crate) fn search_located(
        &self,
        query: &[f32],
        p: &SearchParams,
        filter: Option<&DocFilter>,
    ) -> Result<(Vec<Located>, QueryStats)> {
        let metric = self.check_query(query)?;
        Ok(self.run_located(&FlatQuery::new(query, metric), p, filter))
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
        Ok(self
            .run_many(&fq, p, None)
            .into_iter()
            .map(|(hits, st)| (hits.into_iter().map(|(h, _, _)| h).collect(), st))
            .collect())
    }

    /// The search behind [`Snapshot::search_with`] and [`Snapshot::search_batch`]: exact
    /// scans of flat segments, IVF-PQ scans (batched when there are several queries) and
    /// re-ranking, per query; with a filter, each segment is planned per query
    /// (`filtered_segment`).
    fn run_many(
        &self,
        fq: &[FlatQuery<'_>],
        p: &SearchParams,
        filter: Option<&DocFilter>,
    ) -> Vec<(Vec<Located>, QueryStats)> {
        let Some(metric) = fq.first().map(|q| q.metric) else {
            return Vec::new();
        };
        let keys: Vec<&KeyColumn> = self.segments().iter().map(|s| s.segment.keys()).collect();
        let cmp = key_order(&keys);
        let row_cmp = |a: &Cand, b: &Cand| a.row.cmp(&b.row);
        let nq = fq.len();
        let mut tops: Vec<TopK> = (0..nq).map(|_| TopK::new(p.k)).collect();
        let mut stats = vec![QueryStats::default(); nq];
        let mut scratch = SCRATCH.with(|c| c.take());
        // Unit-norm copies of the queries, made for the first cosine IVF segment.
        let mut units: Option<Vec<Vec<f32>>> = None;
        for (i, s) in self.segments().iter().enumerate() {
            let (rows, norms) = s.segment.vectors();
            let ivf = if p.exact { None } else { s.ivf() };
            if let Some(f) = filter {
                // A segment none of whose rows pass is skipped.
                let Some(pass) = f.segment(s.meta.id) else {
                    continue;
                };
                let seg = FilteredSegment {
                    pos: i as u32,
                    s,
                    pass,
                    passing: passing_rows(s, pass),
                    ivf,
                };
                for ((q, top), st) in fq.iter().zip(tops.iter_mut()).zip(stats.iter_mut()) {
                    let unit = (metric == Metric::Cosine && ivf.is_some()).then(|| q.unit());
                    let qv = unit.as_deref().unwrap_or(q.vector);
                    filtered_segment(q, qv, &seg, p, top, st, &mut scratch, &cmp);
                }
                continue;
            }
            let live_rows =
                (norms.len() as u64).saturating_sub(s.deletes.as_ref().map_or(0, |d| d.len()));
            stats.iter_mut().for_each(|st| st.passed += live_rows);
            let Some(ivf) = ivf else {
                let deleted = s.deletes.as_deref();
                let is_deleted = |row: u32| deleted.is_some_and(|d| d.contains(row));
                // Segments big enough are scanned through their 8-bit sketch where the kernel
                // table has an integer kernel (same results, fewer multiply-adds).
                let kernel = fq.first().and_then(|q| q.kernels.dot_u8i8_packed);
                let sketch = match kernel {
                    Some(f) if norms.len() >= SKETCH_MIN_ROWS => s.segment.sketch().map(|k| (f, k)),
                    _ => None,
                };
                let mut sketched = |(f, sk)| {
                    flat::sketch::scan(
                        fq, i as u32, sk, f, rows, norms, is_deleted, &mut tops, &cmp,
                    )
                };
                if sketch.is_some_and(&mut sketched) {
                    // Scanned through the sketch.
                } else if let [q] = fq {
                    if let Some(top) = tops.first_mut() {
                        flat::scan_segment(q, i as u32, rows, norms, is_deleted, top, &cmp);
                    }
                } else {
                    // Each block of rows once for the whole batch, same ranks as one by one.
                    flat::scan_segment_batch(
                        fq, i as u32, rows, norms, is_deleted, &mut tops, &cmp,
                    );
                }
                stats
                    .iter_mut()
                    .for_each(|st| st.exact_rows += norms.len() as u64);
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
            let probed = p.nprobe.clamp(1, ivf.nlist()) as u64;
            for (((c, q), top), st) in cands
                .into_iter()
                .zip(fq)
                .zip(tops.iter_mut())
                .zip(stats.iter_mut())
            {
                st.lists_probed += probed;
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
            .map(|(top, mut st)| {
                let hits: Vec<Located> = top
                    .into_sorted(&cmp)
                    .into_iter()
                    .filter_map(|c| {
                        let key = keys.get(c.seg as usize)?.get(c.row as usize)?;
                        let segment = self.segments().get(c.seg as usize)?.meta.id;
                        let hit = Hit {
                            key,
                            score: metric.rank_value(c.rank),
                        };
                        Some((hit, segment, c.row))
                    })
                    .collect();
                st.underfilled = hits.len() < p.k;
                (hits, st)
            })
            .collect()
    }
}

/// A hit with the id of its segment and its row there.
pub(crate) type Located = (Hit, u64, u32);

/// Live rows of segment `s` in the filter's row set `pass`.
fn passing_rows(s: &SnapshotSegment, pass: &RoaringBitmap) -> u64 {
    match s.deletes.as_deref() {
        Some(d) => pass.len() - pass.intersection_len(d.bitmap()),
        None => pass.len(),
    }
}

/// One segment of a filtered search: its position in the snapshot, its rows that pass the
/// filter (and how many of them are live), and its IVF-PQ index unless the search is exact.
struct FilteredSegment<'a> {
    pos: u32,
    s: &'a SnapshotSegment,
    pass: &'a RoaringBitmap,
    passing: u64,
    ivf: Option<&'a IvfPq>,
}

/// Cost of scoring one passing row exactly (its full vector read from the mapped file, one
/// kernel call), in units of one code of an IVF list scanned by a filtered probe (fast-scan
/// of the code, reading its row id and testing it). Measured on WordNet/MiniLM (384-d f16
/// rows, m 96 × 4-bit codes, nlist 1024, one core, whole queries): a filtered probe costs
/// about 14 ns per code scanned; an exact row 56–78 ns when the passing rows are few or sit
/// together in the file (1% random, a part-of-speech filter) and about 220 ns when many are
/// scattered (a random 10% subset, beyond what the TLB and caches hold), so 4–16 codes; 8 is
/// the geometric middle of that range.
const EXACT_ROW_COST: u64 = 8;

/// How much further a filtered probe goes when a fraction `s` of a segment's rows pass: until
/// it has seen `nprobe · mean_list · s^(1 − PROBE_EXPONENT)` passing rows, which is
/// `nprobe · s^-PROBE_EXPONENT` lists when the passing rows are spread evenly (1 would see
/// as many passing rows as an unfiltered probe sees rows). Calibrated on a held-out query set,
/// never on a benchmark's queries: 1,000 rows drawn (seed 2026) from WordNet/MiniLM's base and
/// removed from it served as queries against the other 115,659 (m 96 × 4-bit, nlist 1024), with
/// random 1/3/10/30% filters and each part of speech; 0.8 is the smallest of 0.4, 0.6, 0.7,
/// 0.8, 1 whose filtered recall@10 stayed within 0.005 of the unfiltered one at nprobe 32, 64
/// and 96 for every filter (0.7 fell 0.007 short for verbs at nprobe 96, re-rank 40), and it
/// probes 1.4–1.6× fewer lists than 1 at nprobe 64.
const PROBE_EXPONENT: f64 = 0.8;

/// Flat segments: with a filter, the passing rows are scored on their own when they are at
/// most this fraction (1/N) of the segment, and the whole segment is scanned with the blocked
/// kernels otherwise. Measured on WordNet/MiniLM (flat, f16 rows, one core, random subsets):
/// scoring the passing rows was 1.6–2.3× faster than the blocked scan at 10% and 1.3–1.6×
/// slower at 25%, a crossover near 1/6.
const FLAT_ROWS_PER_PASSING: u64 = 6;

/// Searches one segment for one query restricted to its passing rows, by the cheaper of two
/// plans: score every passing row exactly, or probe the segment's IVF-PQ lists in coarse order
/// until enough passing rows have been seen ([`IvfPq::scan_filtered`], `PROBE_EXPONENT`)
/// and re-rank the best candidates. The plan is chosen
/// by estimated cost: the exact plan costs `passing · EXACT_ROW_COST` codes, the probe
/// `max(nprobe, lists holding min_passing passing rows at the segment's mean density)` lists
/// of the mean size. Both return only passing live rows, so a top-k is under-filled only
/// when fewer than k rows pass (or, for the probe, when the passing rows it saw were fewer,
/// which `min_passing ≥ k` rules out).
#[allow(clippy::too_many_arguments)]
fn filtered_segment<F: Fn(&Cand, &Cand) -> Ordering>(
    q: &FlatQuery<'_>,
    qv: &[f32],
    seg: &FilteredSegment<'_>,
    p: &SearchParams,
    top: &mut TopK,
    st: &mut QueryStats,
    scratch: &mut IvfScratch,
    cmp: &F,
) {
    let FilteredSegment {
        pos,
        s,
        pass,
        passing,
        ivf,
    } = *seg;
    st.passed += passing;
    if passing == 0 {
        return;
    }
    let (rows, norms) = s.segment.vectors();
    let total = norms.len() as u64;
    let want = if p.rerank == 0 {
        p.k
    } else {
        p.rerank.max(p.k)
    };
    // The probe sees `nprobe · mean_list · s^(1 − PROBE_EXPONENT)` passing rows (and at least
    // the candidates it keeps); the plan compares its expected lists, at the segment's mean
    // density of passing rows, with scoring every passing row.
    let (min_passing, exact) = match ivf {
        None => (0, true),
        Some(ivf) => {
            let nlist = ivf.nlist().max(1) as u64;
            let nprobe = (p.nprobe as u64).clamp(1, nlist);
            let mean_list = total.div_ceil(nlist);
            let selectivity = passing as f64 / total.max(1) as f64;
            let unfiltered = nprobe.saturating_mul(mean_list) as f64;
            let min_passing = ((unfiltered * selectivity.powf(1.0 - PROBE_EXPONENT)).ceil() as u64)
                .max(want as u64);
            let lists = (min_passing.saturating_mul(nlist) / passing).clamp(nprobe, nlist);
            let exact = passing.saturating_mul(EXACT_ROW_COST) <= lists.saturating_mul(mean_list);
            (min_passing, exact)
        }
    };
    let live = |row: u32| s.is_live(row);
    if let (false, Some(ivf)) = (exact, ivf) {
        let row_cmp = |a: &Cand, b: &Cand| a.row.cmp(&b.row);
        let mut cands = Reservoir::new(want);
        // The passing live rows as a bit vector: the probe tests every row of each list it
        // probes, which a roaring lookup would make several times slower than the code scan.
        let mut bits = vec![0u64; norms.len().div_ceil(64)];
        for r in pass.iter().filter(|&r| live(r)) {
            if let Some(w) = bits.get_mut(r as usize / 64) {
                *w |= 1u64 << (r % 64);
            }
        }
        let probe = FilteredProbe {
            nprobe: p.nprobe,
            min_passing,
            total_passing: passing,
            passing: &bits,
        };
        let report = ivf.scan_filtered(qv, &probe, scratch, &mut |rank, row| {
            st.offered += 1;
            cands.push(
                Cand {
                    rank,
                    seg: pos,
                    row,
                },
                &row_cmp,
            );
            cands.threshold()
        });
        st.lists_probed += report.lists;
        let c = cands.into_sorted(&row_cmp);
        if p.rerank == 0 {
            for x in c {
                top.push(x, cmp);
            }
        } else {
            rerank(q, rows, norms, pos, &c, top, cmp, st);
        }
        return;
    }
    if ivf.is_some() {
        st.exact_segments += 1;
    }
    if ivf.is_none() && passing.saturating_mul(FLAT_ROWS_PER_PASSING) > total {
        // Most rows pass: one pass over the segment with the blocked kernels.
        let is_deleted = |row: u32| !live(row) || !pass.contains(row);
        flat::scan_segment(q, pos, rows, norms, is_deleted, top, cmp);
        st.exact_rows += total;
    } else {
        let ids = pass.iter().filter(|&r| live(r));
        st.exact_rows += flat::scan_rows(q, pos, rows, norms, ids, top, cmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Key;

    #[test]
    fn topk_keeps_the_best_with_key_ties() {
        let keys: Vec<Key> = (0..10u64).map(Key::U64).collect();
        let body = crate::segment::keys::encode(crate::types::KeyKind::U64, &keys);
        let col = KeyColumn::open_body(
            "k",
            crate::io::FileBytes::copy_from(&body),
            body.len(),
            crate::types::KeyKind::U64,
            10,
        )
        .unwrap();
        let segs = [&col];
        let cmp = key_order(&segs);
        let mut top = TopK::new(3);
        for (row, rank) in [
            (5u32, 1.0f32),
            (1, 2.0),
            (7, 2.0),
            (3, 0.5),
            (2, 2.0),
            (0, 3.0),
        ] {
            top.push(Cand { rank, seg: 0, row }, &cmp);
        }
        let got: Vec<u32> = top.into_sorted(&cmp).iter().map(|c| c.row).collect();
        assert_eq!(got, vec![0, 1, 2]);
    }
}

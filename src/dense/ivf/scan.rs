//! The query path of an IVF-PQ index: coarse probing, the code scan of one list, one query at
//! a time ([`IvfPq::scan`]) or a batch of queries sharing each list's pass
//! ([`IvfPq::scan_batch`]).

use super::IvfPq;
use super::coarse::QueryBytes;
use crate::dense::kernels::{self, fastscan};
use crate::types::Metric;

/// Per-query scratch space, reusable across queries and segments.
#[derive(Debug, Default)]
pub struct IvfScratch {
    coarse: Vec<(f32, u32)>,
    lut: Vec<f32>,
    qc: Vec<f32>,
    sums4: Vec<u16>,
    sums8: Vec<f32>,
    /// Indices of the 4-bit sums that can reach the threshold.
    selected: Vec<u32>,
    centroid_scores: Vec<f32>,
    /// The query quantized for the coarse ranking.
    qbytes: QueryBytes,
    /// One dequantized centroid (L2 residual tables).
    centroid: Vec<f32>,
    /// Batched scans: the probing queries of each list, (query, coarse score).
    probes: Vec<Vec<(u32, f32)>>,
    /// Batched scans: every query's f32 table, one after another.
    luts: Vec<f32>,
}

/// How far [`IvfPq::scan_filtered`] probes.
pub struct FilteredProbe<'a> {
    /// Lists probed at least (in coarse order), as an unfiltered scan would.
    pub nprobe: usize,
    /// Passing rows to have seen in the scanned lists before stopping.
    pub min_passing: u64,
    /// Passing rows in the whole segment: once all are seen, probing stops.
    pub total_passing: u64,
    /// The rows that pass (the filter and liveness), one bit per row: bit `r % 64` of word
    /// `r / 64` for row `r`.
    pub passing: &'a [u64],
}

/// Whether bit `row` of `bits` is set.
#[inline]
fn bit(bits: &[u64], row: u32) -> bool {
    bits.get(row as usize / 64)
        .is_some_and(|w| w & (1u64 << (row % 64)) != 0)
}

/// What [`IvfPq::scan_filtered`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProbeReport {
    /// Lists probed (including those holding no passing row, whose codes were not scanned).
    pub lists: u64,
    /// Codes scanned.
    pub codes: u64,
    /// Passing rows in the lists scanned.
    pub passing_seen: u64,
}

/// A query's lookup tables: whether one table serves every list, and its quantized form for
/// 4-bit codes (per list, rebuilt for each list, when the table is not shared).
struct Tables {
    shared: bool,
    qlut: Option<fastscan::QuantizedLut>,
}

impl IvfPq {
    /// Scans the `nprobe` lists nearest to `q` (normalised already for cosine) and offers
    /// each live row's approximate rank value to `offer`, which returns the current threshold
    /// (rows scoring below it are skipped without being offered).
    pub fn scan(
        &self,
        q: &[f32],
        nprobe: usize,
        s: &mut IvfScratch,
        is_live: &dyn Fn(u32) -> bool,
        offer: &mut dyn FnMut(f32, u32) -> f32,
    ) {
        let nprobe = nprobe.clamp(1, self.nlist);
        // Coarse ranking: larger is better for every metric.
        self.probe(q, nprobe, s);
        let mut tables = self.tables(q, s);
        let coarse = std::mem::take(&mut s.coarse);
        let mut thr = f32::NEG_INFINITY;
        for (i, &(cscore, l)) in coarse.iter().enumerate() {
            let l = l as usize;
            if self.list(l).1 == 0 {
                continue;
            }
            // The codes of the next list stream in while this one is scored.
            if let Some(&(_, next)) = coarse.get(i + 1) {
                let codes = self.list(next as usize).2;
                kernels::prefetch(codes.get(..PREFETCH_BYTES).unwrap_or(codes));
            }
            self.scan_probed(q, l, cscore, &mut tables, &mut thr, s, is_live, offer);
        }
        s.coarse = coarse;
    }

    /// Scans lists in coarse order for a query restricted to the rows set in `probe.passing`
    /// (which must imply liveness): at least the `probe.nprobe` nearest lists, then
    /// further lists until `probe.min_passing` passing rows have been seen in the lists
    /// scanned, or every passing row (`probe.total_passing`), or every list. A list holding
    /// no passing row is counted as probed but its codes are not scanned. Each passing row a
    /// scanned list lets through is offered as by [`IvfPq::scan`].
    ///
    /// The minimum is what keeps a filtered top-k filled: the unfiltered stopping point
    /// (`nprobe` lists) would leave only a fraction of the candidates a query needs when few
    /// rows pass, or when the passing rows lie away from the query.
    pub fn scan_filtered(
        &self,
        q: &[f32],
        probe: &FilteredProbe<'_>,
        s: &mut IvfScratch,
        offer: &mut dyn FnMut(f32, u32) -> f32,
    ) -> ProbeReport {
        let mut report = ProbeReport::default();
        let nprobe = probe.nprobe.clamp(1, self.nlist);
        self.coarse.scores(
            kernels::best(),
            self.metric,
            q,
            &mut s.qbytes,
            &mut s.centroid_scores,
        );
        let mut tables = self.tables(q, s);
        let mut thr = f32::NEG_INFINITY;
        // Lists come in coarse order, `batch` at a time, each batch twice the last.
        let mut done = 0usize;
        let mut batch = nprobe;
        'outer: while done < self.nlist {
            let upto = (done + batch).min(self.nlist);
            top_n(&s.centroid_scores, upto, &mut s.coarse);
            let coarse = std::mem::take(&mut s.coarse);
            for &(cscore, l) in coarse.get(done..).unwrap_or_default() {
                if report.lists >= nprobe as u64
                    && (report.passing_seen >= probe.min_passing
                        || report.passing_seen >= probe.total_passing)
                {
                    s.coarse = coarse;
                    break 'outer;
                }
                report.lists += 1;
                let l = l as usize;
                let (first, n, _) = self.list(l);
                let mut passing = 0u64;
                self.ids
                    .for_each_in(first, n, |r| passing += u64::from(bit(probe.passing, r)));
                if passing == 0 {
                    continue;
                }
                report.passing_seen += passing;
                report.codes += n as u64;
                let passes = |r: u32| bit(probe.passing, r);
                self.scan_probed(q, l, cscore, &mut tables, &mut thr, s, &passes, offer);
            }
            s.coarse = coarse;
            done = upto;
            batch *= 2;
        }
        report
    }

    /// The lookup tables of `q` shared by every list (all but L2 with residual codes).
    fn tables(&self, q: &[f32], s: &mut IvfScratch) -> Tables {
        let m = self.pq.m;
        s.lut.resize(m * self.pq.ksub, 0.0);
        let shared = !(self.residual && self.metric == Metric::L2);
        if shared {
            self.shared_table(q, &mut s.lut);
        }
        let qlut = (self.pq.nbits == 4 && shared).then(|| fastscan::quantize_lut(&s.lut, m));
        Tables { shared, qlut }
    }

    /// Scans probed list `l` (coarse score `cscore`) for `q`, building its own table first
    /// when tables are per list.
    #[allow(clippy::too_many_arguments)]
    fn scan_probed(
        &self,
        q: &[f32],
        l: usize,
        cscore: f32,
        t: &mut Tables,
        thr: &mut f32,
        s: &mut IvfScratch,
        is_live: &dyn Fn(u32) -> bool,
        offer: &mut dyn FnMut(f32, u32) -> f32,
    ) {
        if !t.shared {
            // L2 residuals: the table of this list's `q − c`.
            self.coarse.centroid(l, &mut s.centroid);
            s.qc.clear();
            s.qc.extend(q.iter().zip(&s.centroid).map(|(a, b)| a - b));
            self.pq.lut_l2(&s.qc, &mut s.lut);
            if self.pq.nbits == 4 {
                t.qlut = Some(fastscan::quantize_lut(&s.lut, self.pq.m));
            }
        }
        self.scan_list(
            l,
            cscore,
            t.qlut.as_ref(),
            &s.lut,
            thr,
            &mut ListScratch {
                sums4: &mut s.sums4,
                sums8: &mut s.sums8,
                selected: &mut s.selected,
            },
            is_live,
            offer,
        );
    }

    /// Scans `queries` together, with the same results per query as [`IvfPq::scan`] (the same
    /// candidates are offered or provably could not enter): the coarse scores of the queries
    /// come from passes that read each int8 centroid once per four queries
    /// (`Coarse::scores_batch`), and each probed list's codes
    /// are loaded once and scanned for every query that probes it, while they are in cache.
    /// `offer(query, approx, row)` returns that query's new threshold.
    pub fn scan_batch(
        &self,
        queries: &[&[f32]],
        nprobe: usize,
        s: &mut IvfScratch,
        is_live: &dyn Fn(u32) -> bool,
        offer: &mut dyn FnMut(usize, f32, u32) -> f32,
    ) {
        let shared_lut = !(self.residual && self.metric == Metric::L2);
        if !shared_lut || queries.len() < 2 {
            // Per-list tables (L2 residuals): nothing to share between queries.
            for (qi, q) in queries.iter().enumerate() {
                self.scan(q, nprobe, s, is_live, &mut |a, r| offer(qi, a, r));
            }
            return;
        }
        let m = self.pq.m;
        let ksub = self.pq.ksub;
        let nq = queries.len();
        let nprobe = nprobe.clamp(1, self.nlist);
        let k = kernels::best();
        // Coarse scores of every query, one slice of `nlist` per query.
        self.coarse.scores_batch(
            k,
            self.metric,
            queries,
            &mut s.qbytes,
            &mut s.centroid_scores,
        );
        s.probes.resize_with(self.nlist, Vec::new);
        s.probes.iter_mut().for_each(Vec::clear);
        // Each query's best lists are scanned first, on their own and best first, so its
        // threshold is high before the shared pass; the rest are grouped by list.
        let mut seeds: Vec<(u32, u32, f32)> = Vec::with_capacity(nq * SEED_LISTS);
        for (qi, scores) in s.centroid_scores.chunks_exact(self.nlist).enumerate() {
            top_n(scores, nprobe, &mut s.coarse);
            for (rank, &(c, l)) in s.coarse.iter().enumerate() {
                if rank < SEED_LISTS {
                    seeds.push((qi as u32, l, c));
                } else if let Some(p) = s.probes.get_mut(l as usize) {
                    p.push((qi as u32, c));
                }
            }
        }
        // Every query's table.
        s.luts.resize(nq * m * ksub, 0.0);
        for (q, lut) in queries.iter().zip(s.luts.chunks_exact_mut(m * ksub)) {
            self.shared_table(q, lut);
        }
        let qluts: Vec<fastscan::QuantizedLut> = if self.pq.nbits == 4 {
            s.luts
                .chunks_exact(m * ksub)
                .map(|l| fastscan::quantize_lut(l, m))
                .collect()
        } else {
            Vec::new()
        };
        let mut thr = vec![f32::NEG_INFINITY; nq];
        let probes = std::mem::take(&mut s.probes);
        let lists = seeds.iter().map(|&(qi, l, c)| (l as usize, qi, c)).chain(
            probes
                .iter()
                .enumerate()
                .flat_map(|(l, p)| p.iter().map(move |&(qi, c)| (l, qi, c))),
        );
        for (l, qi, cscore) in lists {
            let qi = qi as usize;
            let lut = s
                .luts
                .get(qi * m * ksub..(qi + 1) * m * ksub)
                .unwrap_or_default();
            let (Some(t), ql) = (thr.get_mut(qi), qluts.get(qi)) else {
                continue;
            };
            self.scan_list(
                l,
                cscore,
                ql,
                lut,
                t,
                &mut ListScratch {
                    sums4: &mut s.sums4,
                    sums8: &mut s.sums8,
                    selected: &mut s.selected,
                },
                is_live,
                &mut |a, r| offer(qi, a, r),
            );
        }
        s.probes = probes;
    }

    /// Scans list `l` for one query with a shared table (`ql` for 4-bit codes, else `lut`),
    /// offering what can beat `*thr` and updating it.
    #[allow(clippy::too_many_arguments)]
    fn scan_list(
        &self,
        l: usize,
        cscore: f32,
        ql: Option<&fastscan::QuantizedLut>,
        lut: &[f32],
        thr: &mut f32,
        ls: &mut ListScratch<'_>,
        is_live: &dyn Fn(u32) -> bool,
        offer: &mut dyn FnMut(f32, u32) -> f32,
    ) {
        let (first, n, codes) = self.list(l);
        if n == 0 {
            return;
        }
        let fs = fastscan::best();
        let (base, sign) = match (self.metric, self.residual) {
            (Metric::L2, _) => (0.0, -1.0),
            (_, true) => (cscore, 1.0),
            (_, false) => (0.0, 1.0),
        };
        if let Some(ql) = ql {
            let nblocks = n.div_ceil(32);
            ls.sums4.resize(nblocks * 32, 0);
            (fs.scan4)(codes, nblocks, ql, ls.sums4);
            let sums = ls.sums4.get(..n).unwrap_or_default();
            let (mut lo, mut hi) = sum_window(*thr, base, sign, ql);
            let clamp = |x: i32| x.clamp(0, i32::from(u16::MAX)) as u16;
            if lo > i32::from(u16::MAX) || hi < 0 {
                return;
            }
            (fs.select)(sums, clamp(lo), clamp(hi), ls.selected);
            for &i in ls.selected.iter() {
                let i = i as usize;
                let Some(&sum) = sums.get(i) else { continue };
                // The threshold may have risen since the selection.
                let su = i32::from(sum);
                if su < lo || su > hi {
                    continue;
                }
                let approx = base + sign * (ql.bias + ql.scale * f32::from(sum));
                if approx >= *thr
                    && let Some(row) = self.ids.get(first + i)
                    && is_live(row)
                {
                    *thr = offer(approx, row);
                    (lo, hi) = sum_window(*thr, base, sign, ql);
                }
            }
        } else {
            ls.sums8.resize(n, 0.0);
            (fs.scan8)(codes, self.pq.m, lut, ls.sums8);
            for (i, &sum) in ls.sums8.iter().enumerate() {
                let approx = base + sign * sum;
                if approx >= *thr
                    && let Some(row) = self.ids.get(first + i)
                    && is_live(row)
                {
                    *thr = offer(approx, row);
                }
            }
        }
    }

    /// The table of `q` that serves every list (all but L2 with residual codes).
    fn shared_table(&self, q: &[f32], lut: &mut [f32]) {
        if self.metric == Metric::L2 {
            self.pq.lut_l2(q, lut);
        } else {
            self.pq.lut_ip(q, lut);
        }
    }

    /// The `n` best lists for `q` into `s.coarse` (larger is better for every metric), using
    /// `s.centroid_scores` as the per-query buffer.
    fn probe(&self, q: &[f32], n: usize, s: &mut IvfScratch) {
        self.coarse.scores(
            kernels::best(),
            self.metric,
            q,
            &mut s.qbytes,
            &mut s.centroid_scores,
        );
        top_n(&s.centroid_scores, n, &mut s.coarse);
    }
}

/// The per-list buffers of [`IvfPq::scan_list`], borrowed from an [`IvfScratch`].
struct ListScratch<'a> {
    sums4: &'a mut Vec<u16>,
    sums8: &'a mut Vec<f32>,
    selected: &'a mut Vec<u32>,
}

/// Bytes of the next list's codes prefetched while a list is scanned (the hardware prefetcher
/// follows on once the list is being read sequentially).
const PREFETCH_BYTES: usize = 2048;

/// Lists per query scanned on their own, best first, before a batch's shared pass.
const SEED_LISTS: usize = 4;

/// The range of u16 sums whose approximate score `base + sign·(bias + scale·sum)` can reach
/// `thr`: the float test translated to the integer domain and widened by one unit so rounding
/// never drops a code the float test keeps. Sums outside it are skipped without float work.
fn sum_window(thr: f32, base: f32, sign: f32, ql: &fastscan::QuantizedLut) -> (i32, i32) {
    let units = (sign * (thr - base) - ql.bias) / ql.scale;
    if !units.is_finite() {
        return (i32::MIN, i32::MAX);
    }
    let u = units.clamp(-1e6, 1e6);
    if sign > 0.0 {
        (u.floor() as i32 - 1, i32::MAX)
    } else {
        (i32::MIN, u.ceil() as i32 + 1)
    }
}

/// The `n` largest scores with their indices, best first.
fn top_n(scores: &[f32], n: usize, out: &mut Vec<(f32, u32)>) {
    out.clear();
    out.extend(scores.iter().enumerate().map(|(i, &s)| (s, i as u32)));
    let n = n.min(out.len());
    // Equal scores are ordered by list, so the first n of a longer ranking are the n best.
    let order = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    if n < out.len() {
        out.select_nth_unstable_by(n, order);
        out.truncate(n);
    }
    out.sort_by(order);
}

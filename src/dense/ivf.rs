//! IVF-PQ: inverted lists of product-quantized codes for one segment.
//!
//! The memory tier of a segment: coarse centroids, PQ codebooks, per-list codes (4-bit codes
//! in the blocked fast-scan layout, 8-bit codes row-major) and per-list row ids. The
//! full-precision vectors stay in the segment's vectors file and are touched only to re-rank
//! the best candidates (see `Snapshot::search_with`).
//!
//! Scoring: for inner product (and cosine, on normalised vectors) with residual codes,
//! `<q, x> ≈ <q, c> + Σ_j lut_j[code_j]` where `c` is the list's centroid, so one lookup table
//! serves every list; for L2 with residual codes the table is built per probed list from
//! `q − c`. Non-residual codes use one table for every list and every metric.

use crate::dense::kernels::{self, fastscan};
use crate::dense::kmeans::{self, KMeansConfig};
use crate::dense::pq::{self, PqConfig, ProductQuantizer};
use crate::error::{Error, Result};
use crate::format::{ByteReader, ByteWriter};
use crate::io::FileBytes;
use crate::schema::IvfPqParams;
use crate::segment::VectorsView;
use crate::types::Metric;
use half::f16;

/// Quality figures of a trained index, kept in its file for `strata stats`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct IvfStats {
    /// Largest list size / mean list size.
    pub list_spread: f32,
    /// Mean per-subspace code entropy, in bits (at most nbits).
    pub code_entropy: f32,
    /// Seconds spent training and encoding.
    pub build_seconds: f32,
}

/// The IVF-PQ index of one segment.
#[derive(Debug, Clone)]
pub struct IvfPq {
    dim: usize,
    metric: Metric,
    nlist: usize,
    residual: bool,
    balanced: bool,
    /// Coarse centroids, kept in f16: half the memory and bandwidth of the coarse ranking; the
    /// residuals were computed against these rounded values, so codes stay consistent.
    centroids: Vec<f16>,
    pq: ProductQuantizer,
    /// List `l` holds positions `offsets[l]..offsets[l + 1]` of `ids`.
    offsets: Vec<u32>,
    ids: Ids,
    /// Byte offset of each list's codes in `codes` (nlist + 1 entries).
    code_offsets: Vec<usize>,
    codes: Vec<u8>,
    stats: IvfStats,
}

/// The row id of each position in list order: owned right after training, mapped from the
/// index file once opened (row ids are read only for candidates that pass the code scan, so
/// they belong to the disk tier, not the memory tier).
#[derive(Debug, Clone)]
enum Ids {
    Owned(Vec<u32>),
    Mapped {
        file: FileBytes,
        offset: usize,
        len: usize,
    },
}

impl Ids {
    #[inline]
    fn get(&self, i: usize) -> Option<u32> {
        match self {
            Ids::Owned(v) => v.get(i).copied(),
            Ids::Mapped { file, offset, len } => {
                if i >= *len {
                    return None;
                }
                crate::format::u32_at(file, offset + 4 * i)
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            Ids::Owned(v) => v.len(),
            Ids::Mapped { len, .. } => *len,
        }
    }

    fn resident_bytes(&self) -> usize {
        match self {
            Ids::Owned(v) => v.len() * 4,
            Ids::Mapped { .. } => 0,
        }
    }
}

/// Per-query scratch space, reusable across queries and segments.
#[derive(Debug, Default)]
pub struct IvfScratch {
    coarse: Vec<(f32, u32)>,
    lut: Vec<f32>,
    qc: Vec<f32>,
    sums4: Vec<u16>,
    sums8: Vec<f32>,
    centroid_scores: Vec<f32>,
    /// Batched scans: the probing queries of each list, (query, coarse score).
    probes: Vec<Vec<(u32, f32)>>,
    /// Batched scans: every query's f32 table, one after another.
    luts: Vec<f32>,
    /// Batched scans: the queries, contiguous.
    batch: Vec<f32>,
}

/// A candidate from the code scan: approximate rank value (larger is better) and row.
pub type Candidate = (f32, u32);

fn upcast(rows: VectorsView<'_>) -> Vec<f32> {
    match rows {
        VectorsView::F32(v) => v.to_vec(),
        VectorsView::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
    }
}

/// Normalises every row of `data` in place (rows of norm 0 stay 0).
pub fn normalize_rows(data: &mut [f32], dim: usize) {
    for row in data.chunks_exact_mut(dim.max(1)) {
        let n = kernels::norm_f32(row);
        if n > 0.0 {
            row.iter_mut().for_each(|x| *x /= n);
        }
    }
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl IvfPq {
    /// Trains and encodes the index of `rows` (`dim` values each) for `metric`.
    pub fn build(
        rows: VectorsView<'_>,
        dim: usize,
        metric: Metric,
        p: &IvfPqParams,
        seed: u64,
    ) -> Result<IvfPq> {
        let start = std::time::Instant::now();
        let mut data = upcast(rows);
        if metric == Metric::Cosine {
            normalize_rows(&mut data, dim);
        }
        let n = data.len() / dim.max(1);
        if n == 0 {
            return Err(Error::InvalidArgument(
                "IVF-PQ needs at least one vector".into(),
            ));
        }
        let threads = threads();
        let nlist = (p.nlist as usize).min((n / 32).max(1));
        let km = kmeans::train(
            &data,
            dim,
            &KMeansConfig {
                k: nlist,
                iters: 12,
                seed,
                balanced: p.balanced,
                threads,
                max_points: (64 * nlist).min(n),
                ..KMeansConfig::default()
            },
        )?;
        let assign = if p.balanced {
            km.assign_balanced(&data, threads, 1.5)
        } else {
            km.assign(&data, threads).0
        };
        let list_spread = kmeans::size_spread(&assign, nlist) as f32;
        let centroids: Vec<f16> = km.centroids.iter().map(|&x| f16::from_f32(x)).collect();
        // Residuals (or the vectors themselves) are what the product quantizer encodes.
        if p.residual {
            for (row, &a) in data.chunks_exact_mut(dim).zip(&assign) {
                let c = centroids
                    .get(a as usize * dim..(a as usize + 1) * dim)
                    .unwrap_or_default();
                row.iter_mut().zip(c).for_each(|(x, c)| *x -= c.to_f32());
            }
        }
        let pq = ProductQuantizer::train(
            &data,
            dim,
            &PqConfig {
                m: p.m as usize,
                nbits: p.nbits,
                balanced: p.balanced,
                seed: seed ^ 0x5eed,
                iters: 15,
                threads,
                max_points: n.min(65_536),
            },
        )?;
        let all_codes = pq.encode_many(&data, threads);
        let code_entropy = {
            let e = pq::code_entropy(&all_codes, pq.m, pq.ksub);
            (e.iter().sum::<f64>() / e.len().max(1) as f64) as f32
        };
        drop(data);
        // Group rows by list (counting sort keeps row order inside a list).
        let mut offsets = vec![0u32; nlist + 1];
        for &a in &assign {
            if let Some(o) = offsets.get_mut(a as usize + 1) {
                *o += 1;
            }
        }
        for l in 0..nlist {
            let prev = offsets.get(l).copied().unwrap_or(0);
            if let Some(o) = offsets.get_mut(l + 1) {
                *o += prev;
            }
        }
        let mut fill = offsets.clone();
        let mut ids = vec![0u32; n];
        for (row, &a) in assign.iter().enumerate() {
            if let Some(f) = fill.get_mut(a as usize)
                && let Some(slot) = ids.get_mut(*f as usize)
            {
                *slot = row as u32;
                *f += 1;
            }
        }
        let m = pq.m;
        let mut codes = Vec::new();
        let mut code_offsets = Vec::with_capacity(nlist + 1);
        let mut list_codes = Vec::new();
        for l in 0..nlist {
            code_offsets.push(codes.len());
            let (a, b) = (
                offsets.get(l).copied().unwrap_or(0),
                offsets.get(l + 1).copied().unwrap_or(0),
            );
            list_codes.clear();
            for &row in ids.get(a as usize..b as usize).unwrap_or_default() {
                let r = row as usize;
                list_codes.extend_from_slice(all_codes.get(r * m..(r + 1) * m).unwrap_or_default());
            }
            if pq.nbits == 4 {
                codes.extend(fastscan::pack4(&list_codes, (b - a) as usize, m));
            } else {
                codes.extend_from_slice(&list_codes);
            }
        }
        code_offsets.push(codes.len());
        Ok(IvfPq {
            dim,
            metric,
            nlist,
            residual: p.residual,
            balanced: p.balanced,
            centroids,
            pq,
            offsets,
            ids: Ids::Owned(ids),
            code_offsets,
            codes,
            stats: IvfStats {
                list_spread,
                code_entropy,
                build_seconds: start.elapsed().as_secs_f32(),
            },
        })
    }

    /// Number of lists.
    pub fn nlist(&self) -> usize {
        self.nlist
    }

    /// Number of sub-quantizers.
    pub fn m(&self) -> usize {
        self.pq.m
    }

    /// Bits per sub-code.
    pub fn nbits(&self) -> u8 {
        self.pq.nbits
    }

    /// Whether the coarse and PQ training were balanced.
    pub fn balanced(&self) -> bool {
        self.balanced
    }

    /// Quality figures.
    pub fn stats(&self) -> IvfStats {
        self.stats
    }

    /// Bytes held in memory (everything a query scans).
    pub fn resident_bytes(&self) -> u64 {
        (self.centroids.len() * 2
            + self.pq.codebooks.len() * 4
            + self.offsets.len() * 4
            + self.ids.resident_bytes()
            + self.code_offsets.len() * 8
            + self.codes.len()) as u64
    }

    /// The first position and length of list `l`, and its codes.
    fn list(&self, l: usize) -> (usize, usize, &[u8]) {
        let (a, b) = (
            self.offsets.get(l).copied().unwrap_or(0),
            self.offsets.get(l + 1).copied().unwrap_or(0),
        );
        let (ca, cb) = (
            self.code_offsets.get(l).copied().unwrap_or(0),
            self.code_offsets.get(l + 1).copied().unwrap_or(0),
        );
        (
            a as usize,
            b.saturating_sub(a) as usize,
            self.codes.get(ca..cb).unwrap_or_default(),
        )
    }

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
        let dim = self.dim;
        let m = self.pq.m;
        let nprobe = nprobe.clamp(1, self.nlist);
        // Coarse ranking: larger is better for every metric.
        self.probe(q, nprobe, s);
        let ksub = self.pq.ksub;
        s.lut.resize(m * ksub, 0.0);
        let shared_lut = !(self.residual && self.metric == Metric::L2);
        if shared_lut {
            if self.metric == Metric::L2 {
                self.pq.lut_l2(q, &mut s.lut);
            } else {
                self.pq.lut_ip(q, &mut s.lut);
            }
        }
        let fs = fastscan::best();
        let mut qlut =
            (self.pq.nbits == 4 && shared_lut).then(|| fastscan::quantize_lut(&s.lut, m));
        let coarse = std::mem::take(&mut s.coarse);
        let mut thr = f32::NEG_INFINITY;
        for &(cscore, l) in &coarse {
            let l = l as usize;
            let (first, n, codes) = self.list(l);
            if n == 0 {
                continue;
            }
            // Base of the approximate rank value for this list, and the table's sign.
            let (base, sign) = match (self.metric, self.residual) {
                (Metric::L2, true) => {
                    let c = self
                        .centroids
                        .get(l * dim..(l + 1) * dim)
                        .unwrap_or_default();
                    s.qc.clear();
                    s.qc.extend(q.iter().zip(c).map(|(a, b)| a - b.to_f32()));
                    self.pq.lut_l2(&s.qc, &mut s.lut);
                    if self.pq.nbits == 4 {
                        qlut = Some(fastscan::quantize_lut(&s.lut, m));
                    }
                    (0.0, -1.0)
                }
                (Metric::L2, false) => (0.0, -1.0),
                (_, true) => (cscore, 1.0),
                (_, false) => (0.0, 1.0),
            };
            if let Some(ql) = qlut.as_ref().filter(|_| self.pq.nbits == 4) {
                let nblocks = n.div_ceil(32);
                s.sums4.resize(nblocks * 32, 0);
                (fs.scan4)(codes, nblocks, ql, &mut s.sums4);
                // The threshold in the integer domain of the sums, one unit looser than the
                // float test so rounding can never drop a code the float test keeps; codes
                // past it are skipped without any float work.
                let (mut lo, mut hi) = sum_window(thr, base, sign, ql);
                for (i, &sum) in s.sums4.iter().take(n).enumerate() {
                    let su = i32::from(sum);
                    if su < lo || su > hi {
                        continue;
                    }
                    let approx = base + sign * (ql.bias + ql.scale * f32::from(sum));
                    if approx >= thr
                        && let Some(row) = self.ids.get(first + i)
                        && is_live(row)
                    {
                        thr = offer(approx, row);
                        (lo, hi) = sum_window(thr, base, sign, ql);
                    }
                }
            } else {
                s.sums8.resize(n, 0.0);
                (fs.scan8)(codes, m, &s.lut, &mut s.sums8);
                for (i, &sum) in s.sums8.iter().enumerate() {
                    let approx = base + sign * sum;
                    if approx >= thr
                        && let Some(row) = self.ids.get(first + i)
                        && is_live(row)
                    {
                        thr = offer(approx, row);
                    }
                }
            }
        }
        s.coarse = coarse;
    }

    /// Scans `queries` together, with the same results per query as [`IvfPq::scan`] (the same
    /// candidates are offered or provably could not enter): the coarse scores of all queries
    /// come from one pass over the centroids (`dot_f16_batch`), and each probed list's codes
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
        let dim = self.dim;
        let m = self.pq.m;
        let ksub = self.pq.ksub;
        let nq = queries.len();
        let nprobe = nprobe.clamp(1, self.nlist);
        let k = kernels::best();
        // Coarse scores of every query, row-major by centroid.
        s.batch.clear();
        for q in queries {
            s.batch.extend_from_slice(q.get(..dim).unwrap_or_default());
        }
        s.centroid_scores.resize(self.nlist * nq, 0.0);
        coarse_batch(
            k,
            self.metric,
            &s.batch,
            dim,
            &self.centroids,
            &mut s.centroid_scores,
        );
        if self.metric == Metric::L2 {
            s.centroid_scores.iter_mut().for_each(|x| *x = -*x);
        }
        s.probes.resize_with(self.nlist, Vec::new);
        s.probes.iter_mut().for_each(Vec::clear);
        // Each query's best lists are scanned first, on their own and best first, so its
        // threshold is high before the shared pass; the rest are grouped by list.
        let mut seeds: Vec<(u32, u32, f32)> = Vec::with_capacity(nq * SEED_LISTS);
        let mut scores = std::mem::take(&mut s.lut);
        scores.resize(self.nlist, 0.0);
        for qi in 0..nq {
            for (l, slot) in scores.iter_mut().enumerate() {
                *slot = s
                    .centroid_scores
                    .get(l * nq + qi)
                    .copied()
                    .unwrap_or(f32::NEG_INFINITY);
            }
            top_n(&scores, nprobe, &mut s.coarse);
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
            if self.metric == Metric::L2 {
                self.pq.lut_l2(q, lut);
            } else {
                self.pq.lut_ip(q, lut);
            }
        }
        let qluts: Vec<fastscan::QuantizedLut> = if self.pq.nbits == 4 {
            s.luts
                .chunks_exact(m * ksub)
                .map(|l| fastscan::quantize_lut(l, m))
                .collect()
        } else {
            Vec::new()
        };
        scores.clear();
        s.lut = scores;
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
                &mut s.sums4,
                &mut s.sums8,
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
        sums4: &mut Vec<u16>,
        sums8: &mut Vec<f32>,
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
            sums4.resize(nblocks * 32, 0);
            (fs.scan4)(codes, nblocks, ql, sums4);
            let (mut lo, mut hi) = sum_window(*thr, base, sign, ql);
            for (i, &sum) in sums4.iter().take(n).enumerate() {
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
            sums8.resize(n, 0.0);
            (fs.scan8)(codes, self.pq.m, lut, sums8);
            for (i, &sum) in sums8.iter().enumerate() {
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

    /// The `n` best lists for `q` into `s.coarse` (larger is better for every metric), using
    /// `s.centroid_scores` as the per-query buffer.
    fn probe(&self, q: &[f32], n: usize, s: &mut IvfScratch) {
        let k = kernels::best();
        s.centroid_scores.resize(self.nlist, 0.0);
        if self.metric == Metric::L2 {
            (k.l2sq_f16_many)(q, &self.centroids, &mut s.centroid_scores);
            s.centroid_scores.iter_mut().for_each(|x| *x = -*x);
        } else {
            (k.dot_f16_many)(q, &self.centroids, &mut s.centroid_scores);
        }
        top_n(&s.centroid_scores, n, &mut s.coarse);
    }

    /// Encodes the index (see docs/FORMAT.md, "IVF-PQ body").
    pub fn encode(&self) -> Vec<u8> {
        let mut w = ByteWriter::new();
        w.u32(self.dim as u32);
        w.u32(self.nlist as u32);
        w.u8(match self.metric {
            Metric::Cosine => 1,
            Metric::Dot => 2,
            Metric::L2 => 3,
        });
        w.u8(u8::from(self.residual));
        w.u8(u8::from(self.balanced));
        w.u8(0);
        w.f32(self.stats.list_spread);
        w.f32(self.stats.code_entropy);
        w.f32(self.stats.build_seconds);
        w.len(self.ids.len());
        for &c in &self.centroids {
            w.u16(c.to_bits());
        }
        self.pq.encode_to(&mut w);
        for &o in &self.offsets {
            w.u32(o);
        }
        for i in 0..self.ids.len() {
            w.u32(self.ids.get(i).unwrap_or(0));
        }
        w.bytes(&self.codes);
        w.into_inner()
    }

    /// Decodes and checks an index of a segment with `rows` rows of dimension `dim`; the
    /// first `body_len` bytes of `bytes` are the body. Row ids stay in `bytes`.
    pub fn decode(
        file: &str,
        bytes: &FileBytes,
        body_len: usize,
        dim: usize,
        metric: Metric,
        rows: u64,
    ) -> Result<IvfPq> {
        let body = bytes.get(..body_len).unwrap_or_default();
        let mut r = ByteReader::new(file, body);
        let d = r.u32("dimension")? as usize;
        let nlist = r.u32("nlist")? as usize;
        let metric_code = r.u8("metric")?;
        let residual = r.u8("residual")? != 0;
        let balanced = r.u8("balanced")? != 0;
        r.u8("reserved")?;
        let stats = IvfStats {
            list_spread: r.f32("list spread")?,
            code_entropy: r.f32("code entropy")?,
            build_seconds: r.f32("build seconds")?,
        };
        let n = r.u64("rows")?;
        let want_metric = match metric {
            Metric::Cosine => 1,
            Metric::Dot => 2,
            Metric::L2 => 3,
        };
        if d != dim || n != rows || metric_code != want_metric || nlist == 0 {
            return Err(r.corrupt(format!(
                "index header (dim {d}, rows {n}, metric {metric_code}, nlist {nlist}) does not match the segment"
            )));
        }
        let n = n as usize;
        let count = nlist
            .checked_mul(dim)
            .ok_or_else(|| r.corrupt("nlist overflows"))?;
        let centroids: Vec<f16> = r
            .u16_vec(count, "centroids")?
            .into_iter()
            .map(f16::from_bits)
            .collect();
        if centroids.iter().any(|c| !c.is_finite()) {
            return Err(r.corrupt("a centroid is not finite"));
        }
        let pq = ProductQuantizer::decode_from(&mut r)?;
        if pq.dim != dim {
            return Err(r.corrupt("codebook dimension differs from the segment's"));
        }
        let offsets = r.u32_vec(nlist + 1, "list offsets")?;
        let ids_at = r.position();
        let ids = r.u32_vec(n, "row ids")?;
        let codes = r.bytes("codes")?.to_vec();
        r.finish("ivf")?;
        if offsets.first() != Some(&0)
            || offsets.last() != Some(&(n as u32))
            || offsets.windows(2).any(|w| w.first() > w.get(1))
            || ids.iter().any(|&i| i as usize >= n)
        {
            return Err(Error::corrupt(
                file,
                0,
                "list offsets or row ids out of range",
            ));
        }
        let mut code_offsets = Vec::with_capacity(nlist + 1);
        let mut at = 0usize;
        for w in offsets.windows(2) {
            code_offsets.push(at);
            let len = (w.get(1).copied().unwrap_or(0) - w.first().copied().unwrap_or(0)) as usize;
            at += if pq.nbits == 4 {
                fastscan::packed4_len(len, pq.m)
            } else {
                len * pq.m
            };
        }
        code_offsets.push(at);
        if at != codes.len() {
            return Err(Error::corrupt(
                file,
                0,
                format!("{} code bytes, lists need {at}", codes.len()),
            ));
        }
        drop(ids);
        let ids = Ids::Mapped {
            file: bytes.clone(),
            offset: ids_at,
            len: n,
        };
        Ok(IvfPq {
            dim,
            metric,
            nlist,
            residual,
            balanced,
            centroids,
            pq,
            offsets,
            ids,
            code_offsets,
            codes,
            stats,
        })
    }
}

/// The `n` largest scores with their indices, best first.
/// Lists per query scanned on their own, best first, before a batch's shared pass.
const SEED_LISTS: usize = 4;

/// Coarse scores of a batch of queries, row-major by centroid: `out[c·nq + q]`.
fn coarse_batch(
    k: &kernels::Kernels,
    metric: Metric,
    queries: &[f32],
    dim: usize,
    centroids: &[f16],
    out: &mut [f32],
) {
    let nq = queries.len() / dim.max(1);
    let nc = centroids.len() / dim.max(1);
    let mut one = vec![0f32; nc];
    for (qi, q) in queries.chunks_exact(dim.max(1)).enumerate() {
        if metric == Metric::L2 {
            (k.l2sq_f16_many)(q, centroids, &mut one);
        } else {
            (k.dot_f16_many)(q, centroids, &mut one);
        }
        for (c, &v) in one.iter().enumerate() {
            if let Some(o) = out.get_mut(c * nq + qi) {
                *o = v;
            }
        }
    }
}

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

fn top_n(scores: &[f32], n: usize, out: &mut Vec<(f32, u32)>) {
    out.clear();
    out.extend(scores.iter().enumerate().map(|(i, &s)| (s, i as u32)));
    let n = n.min(out.len());
    if n < out.len() {
        out.select_nth_unstable_by(n, |a, b| b.0.total_cmp(&a.0));
        out.truncate(n);
    }
    out.sort_by(|a, b| b.0.total_cmp(&a.0));
}

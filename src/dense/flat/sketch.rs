//! The 8-bit sketch of a flat segment, and exact search through it.
//!
//! An exact f32 scan of a batch of queries is bound by the multiply-adds of one core (see
//! docs/PERFORMANCE.md: about 1,300 queries/s on WordNet-sized segments at the FMA peak). The
//! sketch keeps each row again as 8-bit integers (`x ≈ s·x̂`, `x̂ ∈ [−127, 127]` per value, one
//! scale `s` per row), so a first pass multiplies 8-bit values with an integer kernel four times
//! as wide (`Kernels::dot_u8i8_packed`). That pass gives, for every row, an approximate rank and
//! a **rigorous** radius around it: with the query likewise `q = s_q·q̂ + e_q` and the row
//! `x = s·x̂ + e`,
//!
//! `|q·x − s_q·s·(q̂·x̂)| ≤ s·‖x̂‖·‖e_q‖ + ‖q‖·‖e‖`,
//!
//! widened by the float kernels' own rounding bound (`(d + 2)·2⁻²³·‖q‖·‖x‖`, the bound
//! their tests check) and a relative margin for the arithmetic of the bounds. The `k`-th
//! largest lower bound `τ` is a rank at least `k` rows reach, so a row whose upper bound is
//! below `τ` cannot be among the best `k`; every other row is scored exactly with the float
//! kernel a plain scan would use and offered to the same heap. The result is therefore **the
//! same, bit for bit and in the same order**, as scanning every row in floats; only the work
//! differs (rows re-scored exactly: those whose bounds straddle `τ`, typically tens).
//!
//! The sketch is built from the stored rows the first time a segment is searched exactly
//! through it and kept with the segment (`dim + 24` bytes per row, counted by
//! `Segment::resident_bytes`).

use super::{Cand, FlatQuery, TopK, exact_rank};
use crate::dense::VectorsView;
use crate::dense::kernels::{self, PACK_ROWS, PackedKernel};
use crate::types::Metric;
use std::cmp::Ordering;

/// Rows scored per call of the integer kernel: 256 rows of 384 values are 96 KiB, which stay
/// in L2 while the queries of a batch pass over them.
const BLOCK_ROWS: usize = 256;

/// Queries per call of the integer kernel (its register tile is 6 queries wide).
const TILE_QUERIES: usize = 6;

/// Largest padded dimension whose integer sums cannot overflow i32 (`127 · 255 · dp < 2³¹`).
pub const MAX_DIM: usize = 65_532;

/// Relative margin for rounding in the bound arithmetic itself (f32 inputs, f64 sums).
const MARGIN: f64 = 1e-5;

/// Largest score magnitude (`‖q‖·‖x‖`, or `(‖q‖ + ‖x‖)²` for l2) the sketch scan takes; beyond
/// it, f32 scores may overflow and the float scan runs instead.
const MAX_SCORE: f64 = 1e30;

/// The 8-bit sketch of a segment's rows.
#[derive(Debug)]
pub struct Sketch {
    dim: usize,
    /// `dim` rounded up to a multiple of 4.
    dp: usize,
    rows: usize,
    /// `x̂ + 128` per value, in `Kernels::dot_u8i8_packed`'s groups of 16 rows (rows padded
    /// with zero rows to a multiple of 16, values with 128s to `dp`).
    packed: Vec<u8>,
    /// Per row: the scale `s`.
    scale: Vec<f32>,
    /// Per row: `s·‖x̂‖`, rounded up.
    qnorm: Vec<f32>,
    /// Per row: `‖x − s·x̂‖`, rounded up.
    err: Vec<f32>,
    /// Per row: `‖x‖`, rounded up.
    norm: Vec<f32>,
    /// Per row: `‖x‖²` (for l2).
    sq: Vec<f32>,
    /// Maxima over the rows of the above, and of `qnorm / ‖x‖`, `err / ‖x‖` (for cosine).
    max: Maxima,
}

#[derive(Debug, Default, Clone, Copy)]
struct Maxima {
    qnorm: f64,
    err: f64,
    norm: f64,
    sq: f64,
    qnorm_unit: f64,
    err_unit: f64,
}

/// `x` rounded up to the next f32 (`x` finite and non-negative).
fn up(x: f64) -> f32 {
    let f = x as f32;
    if f64::from(f) < x { f.next_up() } else { f }
}

/// `v` as 8-bit integers: the scale, and the norms of the residual `v − s·v̂`, of `v` and of
/// `s·v̂` (in f64, four independent sums each).
fn quantize(v: &[f32], out: &mut Vec<i8>) -> (f32, f64, f64, f64) {
    out.clear();
    let max = v.iter().fold(0f32, |m, &x| m.max(x.abs()));
    let s = max / 127.0;
    let inv = if s.is_normal() && s.is_finite() { 1.0 / s } else { 0.0 };
    let s = if inv > 0.0 { s } else { 0.0 };
    let (mut e2, mut n2, mut q2) = ([0f64; 4], [0f64; 4], [0f64; 4]);
    let (chunks, tail) = v.as_chunks::<4>();
    let mut step = |lane: usize, x: f32| {
        // Round half away from zero by truncation; any rounding of the reciprocal only moves
        // a value to a neighbouring integer, and the residual is measured against the integer
        // chosen.
        let y = x * inv;
        let q = ((y + 0.5f32.copysign(y)) as i32).clamp(-127, 127);
        let (x, sq) = (f64::from(x), f64::from(s) * f64::from(q));
        if let (Some(e), Some(n), Some(d)) = (e2.get_mut(lane), n2.get_mut(lane), q2.get_mut(lane))
        {
            *e += (x - sq) * (x - sq);
            *n += x * x;
            *d += sq * sq;
        }
        out.push(q as i8);
    };
    for c in chunks {
        for (lane, &x) in c.iter().enumerate() {
            step(lane, x);
        }
    }
    for (lane, &x) in tail.iter().enumerate() {
        step(lane, x);
    }
    let total = |a: [f64; 4]| ((a[0] + a[1]) + (a[2] + a[3])).sqrt();
    (s, total(e2), total(n2), total(q2))
}

impl Sketch {
    /// Sketches the first `rows` rows of `view` (`dim` values each); `None` when `dim` is 0 or
    /// above [`MAX_DIM`], `view` holds fewer rows or a value is not finite (such segments are
    /// scanned in floats).
    pub fn build(view: VectorsView<'_>, dim: usize, rows: usize) -> Option<Sketch> {
        if dim == 0 || dim > MAX_DIM {
            return None;
        }
        let dp = dim.div_ceil(4) * 4;
        let padded = rows.div_ceil(PACK_ROWS) * PACK_ROWS;
        let mut sk = Sketch {
            dim,
            dp,
            rows,
            packed: vec![128u8; padded * dp],
            scale: Vec::with_capacity(rows),
            qnorm: Vec::with_capacity(rows),
            err: Vec::with_capacity(rows),
            norm: Vec::with_capacity(rows),
            sq: Vec::with_capacity(rows),
            max: Maxima::default(),
        };
        let mut x = vec![0f32; dim];
        let mut q = Vec::with_capacity(dim);
        for r in 0..rows {
            let span = r * dim..(r + 1) * dim;
            match view {
                VectorsView::F32(v) => x.copy_from_slice(v.get(span)?),
                VectorsView::F16(v) => {
                    use half::slice::HalfFloatSliceExt;
                    v.get(span)?.convert_to_f32_slice(&mut x);
                }
            }
            let (s, e, n, qn) = quantize(&x, &mut q);
            if !n.is_finite() {
                return None;
            }
            kernels::pack_row(&mut sk.packed, dp, r, &q);
            sk.scale.push(s);
            sk.qnorm.push(up(qn));
            sk.err.push(up(e));
            sk.norm.push(up(n));
            sk.sq.push((n * n) as f32);
            let m = &mut sk.max;
            m.qnorm = m.qnorm.max(qn);
            m.err = m.err.max(e);
            m.norm = m.norm.max(n);
            m.sq = m.sq.max(n * n);
            if n > 0.0 {
                m.qnorm_unit = m.qnorm_unit.max(qn / n);
                m.err_unit = m.err_unit.max(e / n);
            }
        }
        Some(sk)
    }

    /// Rows sketched.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Heap bytes held.
    pub fn resident_bytes(&self) -> u64 {
        (self.packed.len() + 4 * 5 * self.rows) as u64
    }
}

/// One query prepared for the sketch.
struct Prepared {
    /// Sum of the 8-bit query values (the kernel adds `128·Σq̂` for the rows' offset).
    offset: i32,
    /// `s_q`.
    scale: f64,
    /// `‖q − s_q·q̂‖`.
    err: f64,
    /// `‖q‖` of the operand the float kernels use.
    norm: f64,
    /// The kernels' rounding bound factor `(d + 2)·2⁻²³`, with a margin.
    round: f64,
    /// Multiplier of a row's corrected integer sum in the quick test (see `quick`).
    mult: f32,
    /// Radius of the quick test: at least every row's radius, in rank units.
    radius: f32,
    /// Lower bounds of the best `k` rows (the `k`-th is `τ`).
    lower: TopK,
    /// Rows whose upper bound reached `τ` when they were seen, with that bound.
    cands: Vec<(u32, f32)>,
}

impl Prepared {
    /// `None` when a score could come near f32's range (above [`MAX_SCORE`]), where the bounds'
    /// arithmetic is not trusted.
    fn new(q: &FlatQuery<'_>, sk: &Sketch, k: usize, out: &mut Vec<i8>) -> Option<Prepared> {
        let (s, err, norm, _) = quantize(&q.operand, out);
        out.resize(sk.dp, 0);
        let round = (sk.dim as f64 + 2.0) * f64::powi(2.0, -23) * 1.01;
        let m = &sk.max;
        let scale = f64::from(s);
        // Every row's radius is at most these, in each metric's rank units.
        let dot = err * m.qnorm + norm * m.err;
        let (mult, radius) = match q.metric {
            Metric::Dot => (scale, dot + round * norm * m.norm),
            Metric::Cosine => {
                let qn = f64::from(q.operand_norm).max(f64::MIN_POSITIVE);
                let r = (err * m.qnorm_unit + norm * m.err_unit + round * norm) / qn;
                (scale / qn, r)
            }
            Metric::L2 => {
                let far = (norm + m.norm).powi(2);
                (2.0 * scale, 2.0 * dot + round * far)
            }
        };
        // The quick value's own rounding: relative to the largest magnitude it can take.
        let size = match q.metric {
            Metric::Dot => norm * m.norm,
            Metric::Cosine => 1.0,
            Metric::L2 => norm * norm + m.sq + 2.0 * norm * m.norm,
        };
        if !(size < MAX_SCORE && radius < MAX_SCORE) {
            return None;
        }
        let radius = (radius + MARGIN * (size + radius)) * (1.0 + MARGIN);
        Some(Prepared {
            offset: out.iter().map(|&v| i32::from(v)).sum::<i32>() * 128,
            scale,
            err,
            norm,
            round,
            mult: mult as f32,
            radius: up(radius),
            lower: TopK::new(k),
            cands: Vec::new(),
        })
    }

    /// The rank a row must be able to reach to stay a candidate.
    fn tau(&self, top: &TopK) -> f32 {
        self.lower.threshold().max(top.threshold())
    }

    /// Lower and upper bounds of row `r`'s exact rank, from its corrected integer sum `dot`.
    fn bounds(&self, q: &FlatQuery<'_>, sk: &Sketch, r: usize, dot: i32, norms: &[f32]) -> (f32, f32) {
        let get = |v: &[f32]| f64::from(v.get(r).copied().unwrap_or(0.0));
        let approx = self.scale * get(&sk.scale) * f64::from(dot);
        let rho = get(&sk.qnorm) * self.err + self.norm * get(&sk.err);
        let rho = rho + MARGIN * (approx.abs() + rho);
        let (lo, hi) = match q.metric {
            Metric::Dot | Metric::Cosine => {
                let kern = self.round * self.norm * get(&sk.norm);
                let (lo, hi) = (approx - rho - kern, approx + rho + kern);
                let (lo, hi) = (down32(lo), up32(hi));
                if q.metric == Metric::Dot {
                    (lo, hi)
                } else {
                    // The cosine is monotone in the dot product for a fixed row norm.
                    let n = norms.get(r).copied().unwrap_or(0.0);
                    (q.cosine(lo, n), q.cosine(hi, n))
                }
            }
            Metric::L2 => {
                let qq = self.norm * self.norm;
                let xx = get(&sk.sq);
                let base = (qq + xx) * (1.0 + MARGIN);
                let near = (qq + xx) * (1.0 - MARGIN) - 2.0 * (approx + rho);
                let far = base - 2.0 * (approx - rho);
                let near = near.max(0.0) * (1.0 - self.round);
                let far = far.max(0.0) * (1.0 + self.round);
                (down32(-far), up32(-near))
            }
        };
        (lo.next_down(), hi.next_up())
    }
}

fn down32(x: f64) -> f32 {
    let f = x as f32;
    if f64::from(f) > x { f.next_down() } else { f }
}

fn up32(x: f64) -> f32 {
    let f = x as f32;
    if f64::from(f) < x { f.next_up() } else { f }
}

/// [`super::scan_segment_batch`] through the sketch: the same candidates reach `tops[j]`
/// with the same exact rank values (see the module docs), for any number of queries (one
/// included). `kernel` is the table's `dot_u8i8_packed`. Returns `false`, having offered
/// nothing, when the sketch does not fit the queries (another dimension, or scores beyond
/// [`MAX_SCORE`]): the caller then scans in floats.
#[allow(clippy::too_many_arguments)]
pub fn scan(
    qs: &[FlatQuery<'_>],
    seg: u32,
    sk: &Sketch,
    kernel: PackedKernel,
    rows: VectorsView<'_>,
    norms: &[f32],
    is_deleted: impl Fn(u32) -> bool,
    tops: &mut [TopK],
    key_cmp: &impl Fn(&Cand, &Cand) -> Ordering,
) -> bool {
    let row_cmp = |a: &Cand, b: &Cand| a.row.cmp(&b.row);
    let n = sk.rows.min(norms.len());
    let nq = qs.len().min(tops.len());
    let (Some(q0), Some(t0)) = (qs.first(), tops.first()) else {
        return true;
    };
    if q0.vector.len() != sk.dim {
        return false;
    }
    let k = t0.capacity();
    if n == 0 || k == 0 {
        return true;
    }
    let dp = sk.dp;
    let mut bytes = Vec::with_capacity(nq * dp);
    let mut one = Vec::with_capacity(dp);
    let mut prep: Vec<Prepared> = Vec::with_capacity(nq);
    for q in qs.iter().take(nq) {
        let Some(p) = Prepared::new(q, sk, k, &mut one) else {
            return false;
        };
        prep.push(p);
        bytes.extend(one.iter().copied());
    }
    let mut buf = vec![0i32; TILE_QUERIES * BLOCK_ROWS];
    let mut pass: Vec<u32> = Vec::with_capacity(BLOCK_ROWS);
    for b0 in (0..n).step_by(BLOCK_ROWS) {
        let block_rows = (n - b0).min(BLOCK_ROWS).div_ceil(PACK_ROWS) * PACK_ROWS;
        let packed = sk.packed.get(b0 * dp..(b0 + block_rows) * dp).unwrap_or_default();
        for j0 in (0..nq).step_by(TILE_QUERIES) {
            let jt = (nq - j0).min(TILE_QUERIES);
            let tile = bytes.get(j0 * dp..(j0 + jt) * dp).unwrap_or_default();
            let out = buf.get_mut(..jt * block_rows).unwrap_or_default();
            kernel(packed, dp, tile, out);
            let these = qs.iter().zip(prep.iter_mut()).zip(tops.iter_mut());
            for (((q, p), top), sums) in these.skip(j0).take(jt).zip(out.chunks_exact(block_rows)) {
                let valid = sums.get(..(n - b0).min(block_rows)).unwrap_or_default();
                // Quick test: the upper bound of every row is at most its value + radius.
                let bar = p.tau(top) - p.radius;
                pass.clear();
                quick(q.metric, p, sk, b0, valid, bar, &mut pass);
                for &i in &pass {
                    let r = b0 + i as usize;
                    if is_deleted(r as u32) {
                        continue;
                    }
                    let dot = valid.get(i as usize).copied().unwrap_or(0).wrapping_sub(p.offset);
                    let (lo, hi) = p.bounds(q, sk, r, dot, norms);
                    if hi < p.tau(top) {
                        continue;
                    }
                    p.cands.push((r as u32, hi));
                    p.lower.push(Cand { rank: lo, seg, row: r as u32 }, &row_cmp);
                }
            }
        }
    }
    // Every row that can be among the best k, scored exactly.
    for ((q, p), top) in qs.iter().zip(prep).zip(tops.iter_mut()) {
        let tau = p.tau(top);
        for (row, hi) in p.cands {
            if hi < tau {
                continue;
            }
            let rank = exact_rank(q, rows, norms, row as usize);
            if rank >= top.threshold() {
                top.push(Cand { rank, seg, row }, key_cmp);
            }
        }
    }
    true
}

/// Positions in `sums` (rows `b0..`) whose quick value reaches `bar`: the value is the
/// approximate rank without the radius (`bar = τ − radius`).
fn quick(metric: Metric, p: &Prepared, sk: &Sketch, b0: usize, sums: &[i32], bar: f32, pass: &mut Vec<u32>) {
    let scale = sk.scale.get(b0..).unwrap_or_default();
    let (mult, offset) = (p.mult, p.offset);
    match metric {
        Metric::Dot => {
            for (i, (&s, &x)) in sums.iter().zip(scale).enumerate() {
                if mult * x * (s.wrapping_sub(offset) as f32) >= bar {
                    pass.push(i as u32);
                }
            }
        }
        Metric::Cosine => {
            let norm = sk.norm.get(b0..).unwrap_or_default();
            for (i, ((&s, &x), &n)) in sums.iter().zip(scale).zip(norm).enumerate() {
                let v = mult * x * (s.wrapping_sub(offset) as f32);
                // Zero rows rank 0 exactly; dividing would give NaN.
                let v = if n > 0.0 { v / n } else { 0.0 };
                if v >= bar {
                    pass.push(i as u32);
                }
            }
        }
        Metric::L2 => {
            let sq = sk.sq.get(b0..).unwrap_or_default();
            let qq = (p.norm * p.norm) as f32;
            for (i, ((&s, &x), &xx)) in sums.iter().zip(scale).zip(sq).enumerate() {
                if mult * x * (s.wrapping_sub(offset) as f32) - xx - qq >= bar {
                    pass.push(i as u32);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::scan_segment;
    use super::*;
    use crate::dense::kernels::{self, Kernels};
    use half::f16;

    /// Rows of several kinds at once: random, exact duplicates (ties broken by key), zero
    /// rows, rows scaled by powers of ten and rows with one dominant value (coarse sketch).
    fn rows(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        let mut next = || (crate::rng::splitmix64(&mut s) >> 11) as f64 / (1u64 << 53) as f64;
        let mut v = Vec::with_capacity(n * dim);
        for r in 0..n {
            match r % 7 {
                3 if r >= 7 => {
                    let copy: Vec<f32> = v[(r - 3) * dim..(r - 2) * dim].to_vec();
                    v.extend(copy);
                }
                5 => v.extend(std::iter::repeat_n(0.0, dim)),
                _ => {
                    let scale = [1e-3, 1.0, 1e3][r % 3] as f32;
                    let spike = (r % 11 == 0).then_some(r % dim);
                    for t in 0..dim {
                        let x = (next() * 2.0 - 1.0) as f32 * scale;
                        v.push(if Some(t) == spike { x * 300.0 } else { x });
                    }
                }
            }
        }
        v
    }

    fn norms(v: &[f32], dim: usize) -> Vec<f32> {
        v.chunks_exact(dim).map(kernels::norm_f32).collect()
    }

    fn packed_tables() -> Vec<&'static Kernels> {
        kernels::available()
            .into_iter()
            .filter(|k| k.dot_u8i8_packed.is_some())
            .collect()
    }

    /// The sketch scan offers the same rows with the same rank bits as the float scan.
    fn check(view: VectorsView<'_>, norms: &[f32], dim: usize, queries: &[Vec<f32>], k: usize) {
        let n = norms.len();
        let sk = Sketch::build(view, dim, n).unwrap();
        let deleted = |r: u32| r % 13 == 4;
        let by_row = |a: &Cand, b: &Cand| a.row.cmp(&b.row);
        for metric in [Metric::Dot, Metric::Cosine, Metric::L2] {
            for table in packed_tables() {
                let fq: Vec<FlatQuery<'_>> = queries
                    .iter()
                    .map(|q| {
                        let mut f = FlatQuery::new(q, metric);
                        f.kernels = table;
                        f
                    })
                    .collect();
                let mut want = Vec::new();
                for q in &fq {
                    let mut top = TopK::new(k);
                    scan_segment(q, 0, view, norms, deleted, &mut top, &by_row);
                    want.push(top.into_sorted(&by_row));
                }
                let mut tops: Vec<TopK> = fq.iter().map(|_| TopK::new(k)).collect();
                let f = table.dot_u8i8_packed.unwrap();
                assert!(scan(&fq, 0, &sk, f, view, norms, deleted, &mut tops, &by_row));
                for (j, (top, want)) in tops.into_iter().zip(&want).enumerate() {
                    let got = top.into_sorted(&by_row);
                    let bits = |c: &[Cand]| -> Vec<(u32, u32)> {
                        c.iter().map(|c| (c.rank.to_bits(), c.row)).collect()
                    };
                    assert_eq!(
                        bits(&got),
                        bits(want),
                        "{} {metric:?} query {j} dim {dim} n {n} k {k}",
                        table.name
                    );
                }
            }
        }
    }

    #[test]
    fn sketch_scan_equals_float_scan() {
        for (n, dim) in [(1usize, 1usize), (17, 3), (300, 8), (700, 33), (1000, 384)] {
            let v = rows(n, dim, n as u64);
            let nm = norms(&v, dim);
            let mut queries: Vec<Vec<f32>> = (0..9)
                .map(|j| rows(1, dim, 1000 + j as u64 * 7).into_iter().map(|x| x * 0.5).collect())
                .collect();
            // A stored row as the query (its duplicate ties it), and the zero query.
            queries.push(v[..dim].to_vec());
            queries.push(vec![0.0; dim]);
            for k in [1usize, 10, 50] {
                check(VectorsView::F32(&v), &nm, dim, &queries, k);
                check(VectorsView::F32(&v), &nm, dim, &queries[..1], k);
            }
            // Within f16's range.
            let h: Vec<f16> = v.iter().map(|&x| f16::from_f32(x * 1e-3)).collect();
            let hn: Vec<f32> = h
                .chunks_exact(dim)
                .map(|r| kernels::norm_f32(&r.iter().map(|x| x.to_f32()).collect::<Vec<_>>()))
                .collect();
            check(VectorsView::F16(&h), &hn, dim, &queries, 10);
        }
    }

    #[test]
    fn sketch_scan_respects_a_threshold_from_earlier_segments() {
        // The heaps arrive holding exact candidates of another segment; the result must equal
        // the float scan continuing from the same heaps.
        let dim = 24;
        let v = rows(500, dim, 3);
        let nm = norms(&v, dim);
        let q = rows(1, dim, 77);
        let by_row = |a: &Cand, b: &Cand| a.row.cmp(&b.row);
        let table = packed_tables().pop().unwrap();
        let mut fq = FlatQuery::new(&q, Metric::Dot);
        fq.kernels = table;
        let seed = |top: &mut TopK| {
            for r in 0..5u32 {
                top.push(Cand { rank: 0.5 + r as f32, seg: 1, row: r }, &by_row);
            }
        };
        let (mut a, mut b) = (TopK::new(10), TopK::new(10));
        seed(&mut a);
        seed(&mut b);
        scan_segment(&fq, 0, VectorsView::F32(&v), &nm, |_| false, &mut a, &by_row);
        let sk = Sketch::build(VectorsView::F32(&v), dim, 500).unwrap();
        let f = table.dot_u8i8_packed.unwrap();
        let mut tops = [b];
        let v32 = VectorsView::F32(&v);
        assert!(scan(&[fq], 0, &sk, f, v32, &nm, |_| false, &mut tops, &by_row));
        let [b] = tops;
        let key = |c: Vec<Cand>| -> Vec<(u32, u32, u32)> {
            c.iter().map(|c| (c.rank.to_bits(), c.seg, c.row)).collect()
        };
        assert_eq!(key(b.into_sorted(&by_row)), key(a.into_sorted(&by_row)));
    }

    #[test]
    fn sketch_refuses_what_it_cannot_hold() {
        let v = vec![1.0f32; 8];
        assert!(Sketch::build(VectorsView::F32(&v), 0, 1).is_none());
        // Fewer stored values than rows × dim.
        assert!(Sketch::build(VectorsView::F32(&v), 4, 3).is_none());
        let inf = [1.0, f32::INFINITY, 0.0, 1.0];
        assert!(Sketch::build(VectorsView::F32(&inf), 2, 2).is_none());
        let sk = Sketch::build(VectorsView::F32(&v), 4, 2).unwrap();
        assert_eq!(sk.rows(), 2);
        assert_eq!(sk.resident_bytes(), (16 * 4 + 2 * 20) as u64);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        #[test]
        fn sketch_scan_equals_float_scan_on_any_rows(
            dim in 1usize..40,
            n in 1usize..120,
            k in 1usize..12,
            seed in 0u64..1000,
            coarse in proptest::bool::ANY,
        ) {
            // Values on a coarse grid tie often; others spread over many magnitudes.
            let mut s = seed;
            let mut next = || crate::rng::splitmix64(&mut s);
            let val = |x: u64| if coarse {
                (x % 5) as f32 - 2.0
            } else {
                ((x % 2001) as f32 - 1000.0) * 10f32.powi((x >> 20) as i32 % 7 - 3)
            };
            let v: Vec<f32> = (0..n * dim).map(|_| val(next())).collect();
            let nm = norms(&v, dim);
            let queries: Vec<Vec<f32>> = (0..3).map(|_| (0..dim).map(|_| val(next())).collect()).collect();
            check(VectorsView::F32(&v), &nm, dim, &queries, k);
        }
    }
}

//! Exact (flat) search: score every live row of a segment and keep the best k in one heap
//! shared across segments.
//!
//! Ranking is by "rank value" (larger is better: the similarity for cosine and dot, the
//! negated squared distance for l2) and exact ties are broken by ascending key, so the result
//! never depends on how rows are spread over segments. This module is the oracle every
//! approximate index is tested against.

pub mod sketch;

use super::VectorsView;
use crate::dense::kernels::{self, BatchBlock, BatchRows, Kernels};
use crate::types::Metric;
use std::cmp::Ordering;

/// A candidate: which segment (by position in the snapshot) and row, and its rank value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cand {
    /// Rank value; larger is better.
    pub rank: f32,
    /// Segment position in the snapshot.
    pub seg: u32,
    /// Row within the segment.
    pub row: u32,
}

/// The best `k` candidates seen so far: a binary min-heap whose root is the worst kept one.
#[derive(Debug, Clone)]
pub struct TopK {
    k: usize,
    heap: Vec<Cand>,
}

impl TopK {
    /// An empty heap keeping `k` candidates.
    pub fn new(k: usize) -> TopK {
        TopK {
            k,
            heap: Vec::with_capacity(k.min(1 << 16)),
        }
    }

    /// How many candidates it keeps.
    pub fn capacity(&self) -> usize {
        self.k
    }

    /// The rank a new candidate must reach to enter, or `-inf` while not full.
    #[inline]
    pub fn threshold(&self) -> f32 {
        if self.heap.len() < self.k {
            f32::NEG_INFINITY
        } else {
            self.heap.first().map_or(f32::NEG_INFINITY, |c| c.rank)
        }
    }

    /// Offers `c`; `key_cmp` orders two candidates' keys and is only called on exact ties.
    #[inline]
    pub fn push(&mut self, c: Cand, key_cmp: &impl Fn(&Cand, &Cand) -> Ordering) {
        if self.k == 0 {
            return;
        }
        // `worse(a, b)`: a ranks after b.
        let worse = |a: &Cand, b: &Cand| match a.rank.total_cmp(&b.rank) {
            Ordering::Less => true,
            Ordering::Greater => false,
            Ordering::Equal => key_cmp(a, b) == Ordering::Greater,
        };
        if self.heap.len() < self.k {
            self.heap.push(c);
            let mut i = self.heap.len() - 1;
            while i > 0 {
                let p = (i - 1) / 2;
                match (self.heap.get(i), self.heap.get(p)) {
                    (Some(ci), Some(cp)) if worse(ci, cp) => self.heap.swap(i, p),
                    _ => break,
                }
                i = p;
            }
            return;
        }
        match self.heap.first() {
            Some(root) if worse(root, &c) => {}
            _ => return,
        }
        if let Some(root) = self.heap.first_mut() {
            *root = c;
        }
        let n = self.heap.len();
        let mut i = 0;
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut m = i;
            if l < n
                && matches!((self.heap.get(l), self.heap.get(m)), (Some(a), Some(b)) if worse(a, b))
            {
                m = l;
            }
            if r < n
                && matches!((self.heap.get(r), self.heap.get(m)), (Some(a), Some(b)) if worse(a, b))
            {
                m = r;
            }
            if m == i {
                break;
            }
            self.heap.swap(i, m);
            i = m;
        }
    }

    /// The kept candidates, best first.
    pub fn into_sorted(mut self, key_cmp: &impl Fn(&Cand, &Cand) -> Ordering) -> Vec<Cand> {
        self.heap
            .sort_by(|a, b| b.rank.total_cmp(&a.rank).then_with(|| key_cmp(a, b)));
        self.heap
    }
}

/// The best `k` candidates, as [`TopK`] keeps them, collected with amortised O(1) work per
/// candidate: offers go to a buffer of up to `2k` (at least `k + 16`), which is cut back to its
/// best `k` by a selection whenever it fills, raising the threshold to the `k`-th best rank.
/// Suits the many offers of a code scan, where a heap spends a sift per offer.
#[derive(Debug, Clone)]
pub struct Reservoir {
    k: usize,
    cap: usize,
    buf: Vec<Cand>,
    thr: f32,
}

impl Reservoir {
    /// An empty reservoir keeping `k` candidates.
    pub fn new(k: usize) -> Reservoir {
        let cap = (2 * k).max(k + 16);
        Reservoir {
            k,
            cap,
            buf: Vec::with_capacity(cap.min(1 << 16)),
            thr: f32::NEG_INFINITY,
        }
    }

    /// A rank every candidate of the final `k` reaches (`-inf` until the first cut); offers
    /// below it are dropped.
    #[inline]
    pub fn threshold(&self) -> f32 {
        self.thr
    }

    /// Offers `c`; `key_cmp` orders two candidates' keys and is only called on exact ties.
    #[inline]
    pub fn push(&mut self, c: Cand, key_cmp: &impl Fn(&Cand, &Cand) -> Ordering) {
        if self.k == 0 || c.rank < self.thr {
            return;
        }
        self.buf.push(c);
        if self.buf.len() >= self.cap {
            self.cut(key_cmp);
        }
    }

    /// Keeps the best `k` and sets the threshold to the rank of the `k`-th.
    fn cut(&mut self, key_cmp: &impl Fn(&Cand, &Cand) -> Ordering) {
        let order = |a: &Cand, b: &Cand| b.rank.total_cmp(&a.rank).then_with(|| key_cmp(a, b));
        if self.buf.len() > self.k {
            self.buf.select_nth_unstable_by(self.k - 1, order);
            self.buf.truncate(self.k);
        }
        if let Some(kth) = self.buf.get(self.k - 1) {
            self.thr = kth.rank;
        }
    }

    /// The kept candidates, best first (ties by key).
    pub fn into_sorted(mut self, key_cmp: &impl Fn(&Cand, &Cand) -> Ordering) -> Vec<Cand> {
        self.buf
            .sort_by(|a, b| b.rank.total_cmp(&a.rank).then_with(|| key_cmp(a, b)));
        self.buf.truncate(self.k);
        self.buf
    }
}

/// A prepared query: the vector, its norm and the kernels to use.
///
/// For cosine, rows are scored against `vector` scaled by a power of two that brings its norm
/// near 1: the scaling is exact, so the score `dot / (|q|·|row|)` rounds exactly as it would
/// unscaled, but neither the dot product nor the norms overflow f32 for a finite query whose
/// components' squares do (rows' norms are computed in f64 when the segment is written).
#[derive(Debug, Clone)]
pub struct FlatQuery<'q> {
    /// The query vector.
    pub vector: &'q [f32],
    /// Its L2 norm (`+∞` if it exceeds `f32::MAX`).
    pub norm: f32,
    /// The metric.
    pub metric: Metric,
    /// The kernel implementation.
    pub kernels: &'static Kernels,
    /// What rows are scored against: `vector`, scaled for cosine.
    operand: Vec<f32>,
    /// The norm of `operand`.
    operand_norm: f32,
}

impl<'q> FlatQuery<'q> {
    /// Prepares `vector` for `metric` with the best kernels for this CPU.
    pub fn new(vector: &'q [f32], metric: Metric) -> FlatQuery<'q> {
        let norm = kernels::norm_f64(vector);
        let (operand, operand_norm) = if metric == Metric::Cosine {
            let scale = inverse_power_of_two(norm);
            let scaled = vector.iter().map(|&x| (f64::from(x) * scale) as f32);
            (scaled.collect(), (norm * scale) as f32)
        } else {
            (vector.to_vec(), norm as f32)
        };
        FlatQuery {
            vector,
            norm: norm as f32,
            metric,
            kernels: kernels::best(),
            operand,
            operand_norm,
        }
    }

    /// The query scaled to unit length (zero stays zero), for indexes of normalised rows.
    pub fn unit(&self) -> Vec<f32> {
        let n = if self.operand_norm > 0.0 {
            self.operand_norm
        } else {
            1.0
        };
        self.operand.iter().map(|x| x / n).collect()
    }

    /// The cosine of a row with dot product `dot` against the operand and norm `row_norm`.
    #[inline]
    fn cosine(&self, dot: f32, row_norm: f32) -> f32 {
        let d = self.operand_norm * row_norm;
        if d > 0.0 { dot / d } else { 0.0 }
    }
}

/// `2^-e` for the exponent `e` of `x` (so `x · 2^-e` lies in `[1, 2)`), or 1 for 0 and values
/// that are not finite. Multiplying by it is exact for any f32 whose result stays normal.
fn inverse_power_of_two(x: f64) -> f64 {
    if !x.is_finite() || x <= 0.0 {
        return 1.0;
    }
    let e = x.log2().floor().clamp(-1000.0, 1000.0) as i32;
    2f64.powi(-e)
}

const BLOCK: usize = 64;

/// Scores every live row of one segment and offers it to `top`.
///
/// `seg` is the segment's position in the snapshot; `keys` orders candidates on exact ties.
pub fn scan_segment(
    q: &FlatQuery<'_>,
    seg: u32,
    rows: VectorsView<'_>,
    norms: &[f32],
    is_deleted: impl Fn(u32) -> bool,
    top: &mut TopK,
    key_cmp: &impl Fn(&Cand, &Cand) -> Ordering,
) {
    let dim = q.vector.len();
    if dim == 0 {
        return;
    }
    let k = q.kernels;
    let mut scores = [0f32; BLOCK];
    let n = norms.len();
    let mut start = 0usize;
    while start < n {
        let m = BLOCK.min(n - start);
        let out = scores.get_mut(..m).unwrap_or_default();
        let span = start * dim..(start + m) * dim;
        let qv = q.operand.as_slice();
        match (rows, q.metric) {
            (VectorsView::F32(v), Metric::L2) => {
                (k.l2sq_f32_many)(qv, v.get(span).unwrap_or_default(), out)
            }
            (VectorsView::F16(v), Metric::L2) => {
                (k.l2sq_f16_many)(qv, v.get(span).unwrap_or_default(), out)
            }
            (VectorsView::F32(v), _) => (k.dot_f32_many)(qv, v.get(span).unwrap_or_default(), out),
            (VectorsView::F16(v), _) => (k.dot_f16_many)(qv, v.get(span).unwrap_or_default(), out),
        }
        for (i, &s) in out.iter().enumerate() {
            let row = (start + i) as u32;
            let rank = match q.metric {
                Metric::Dot => s,
                Metric::L2 => -s,
                Metric::Cosine => q.cosine(s, norms.get(start + i).copied().unwrap_or(0.0)),
            };
            if rank < top.threshold() {
                continue;
            }
            if is_deleted(row) {
                continue;
            }
            top.push(Cand { rank, seg, row }, key_cmp);
        }
        start += m;
    }
}

/// [`scan_segment`] for several queries at once: the same candidates offered to `tops[j]` for
/// query `qs[j]`, with bit-identical rank values (`Kernels::batch_scan` computes each pair as
/// the one-query kernels do), but each block of rows is read (and widened from f16) once for
/// the whole batch and scored by a register-tiled kernel. All queries must share one metric,
/// dimension and kernel table (as `FlatQuery::new` gives for one search); queries beyond
/// `tops` are skipped.
pub fn scan_segment_batch(
    qs: &[FlatQuery<'_>],
    seg: u32,
    rows: VectorsView<'_>,
    norms: &[f32],
    is_deleted: impl Fn(u32) -> bool,
    tops: &mut [TopK],
    key_cmp: &impl Fn(&Cand, &Cand) -> Ordering,
) {
    let Some(first) = qs.first() else {
        return;
    };
    let dim = first.vector.len();
    if dim == 0 {
        return;
    }
    let (k, metric) = (first.kernels, first.metric);
    let mut operands = Vec::with_capacity(qs.len() * dim);
    for q in qs {
        operands.extend(q.operand.iter().copied().chain(std::iter::repeat(0.0)).take(dim));
    }
    // Whole rows that have a norm, as `scan_segment` scores.
    let n = norms.len();
    let rows = match rows {
        VectorsView::F32(v) => BatchRows::F32(v.get(..n * dim).unwrap_or(v)),
        VectorsView::F16(v) => BatchRows::F16(v.get(..n * dim).unwrap_or(v)),
    };
    let mut sink = |b: &BatchBlock<'_>| {
        let block_norms = norms.get(b.first_row..).unwrap_or_default();
        let these = qs.iter().zip(tops.iter_mut()).skip(b.first_query);
        for ((q, top), o) in these.zip(b.scores.chunks_exact(b.rows.max(1))) {
            let mut threshold = top.threshold();
            for (i, (&s, &norm)) in o.iter().zip(block_norms).enumerate() {
                let rank = match metric {
                    Metric::Dot => s,
                    Metric::L2 => -s,
                    Metric::Cosine => q.cosine(s, norm),
                };
                if rank < threshold {
                    continue;
                }
                let row = (b.first_row + i) as u32;
                if is_deleted(row) {
                    continue;
                }
                top.push(Cand { rank, seg, row }, key_cmp);
                threshold = top.threshold();
            }
        }
    };
    (k.batch_scan)(&operands, qs.len(), rows, metric == Metric::L2, &mut sink);
}

/// Scores the rows `ids` of one segment exactly, in the order given, and offers them to
/// `top`; returns how many were scored. The exact path of a filter that passes few rows: one
/// row's kernel per passing row instead of a pass over the whole segment. Rows beyond the
/// segment are skipped. The vectors of a few rows ahead are prefetched, since passing rows
/// are scattered over the mapped file.
pub fn scan_rows(
    q: &FlatQuery<'_>,
    seg: u32,
    rows: VectorsView<'_>,
    norms: &[f32],
    ids: impl Iterator<Item = u32>,
    top: &mut TopK,
    key_cmp: &impl Fn(&Cand, &Cand) -> Ordering,
) -> u64 {
    const CHUNK: usize = 16;
    let dim = q.vector.len();
    let n = norms.len();
    if dim == 0 {
        return 0;
    }
    let mut buf = [0u32; CHUNK];
    let mut scored = 0u64;
    let mut ids = ids.filter(|&r| (r as usize) < n).peekable();
    while ids.peek().is_some() {
        let mut len = 0;
        for (slot, r) in buf.iter_mut().zip(ids.by_ref()) {
            *slot = r;
            len += 1;
        }
        let chunk = buf.get(..len).unwrap_or_default();
        for &r in chunk {
            let span = r as usize * dim..(r as usize + 1) * dim;
            match rows {
                VectorsView::F32(v) => kernels::prefetch(v.get(span).unwrap_or_default()),
                VectorsView::F16(v) => kernels::prefetch(v.get(span).unwrap_or_default()),
            }
        }
        for &row in chunk {
            let rank = exact_rank(q, rows, norms, row as usize);
            if rank >= top.threshold() {
                top.push(Cand { rank, seg, row }, key_cmp);
            }
        }
        scored += len as u64;
    }
    scored
}

/// The exact rank value of row `row` of `rows` for `q`.
pub fn exact_rank(q: &FlatQuery<'_>, rows: VectorsView<'_>, norms: &[f32], row: usize) -> f32 {
    let dim = q.vector.len();
    let k = q.kernels;
    let qv = q.operand.as_slice();
    let span = row * dim..(row + 1) * dim;
    let s = match (rows, q.metric) {
        (VectorsView::F32(v), Metric::L2) => (k.l2sq_f32)(qv, v.get(span).unwrap_or_default()),
        (VectorsView::F16(v), Metric::L2) => (k.l2sq_f16)(qv, v.get(span).unwrap_or_default()),
        (VectorsView::F32(v), _) => (k.dot_f32)(qv, v.get(span).unwrap_or_default()),
        (VectorsView::F16(v), _) => (k.dot_f16)(qv, v.get(span).unwrap_or_default()),
    };
    match q.metric {
        Metric::Dot => s,
        Metric::L2 => -s,
        Metric::Cosine => q.cosine(s, norms.get(row).copied().unwrap_or(0.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn reservoir_keeps_what_topk_keeps(
            ranks in proptest::collection::vec(0u8..12, 0..300),
            k in 0usize..40,
        ) {
            // Few distinct ranks, so most offers tie; rows break the ties.
            let by_row = |a: &Cand, b: &Cand| a.row.cmp(&b.row);
            let mut top = TopK::new(k);
            let mut res = Reservoir::new(k);
            for (row, &r) in ranks.iter().enumerate() {
                let c = Cand { rank: f32::from(r), seg: 0, row: row as u32 };
                top.push(c, &by_row);
                if c.rank >= res.threshold() {
                    res.push(c, &by_row);
                }
                proptest::prop_assert!(res.threshold() <= top.threshold() || top.threshold() == f32::NEG_INFINITY && res.threshold() == f32::NEG_INFINITY);
            }
            let want: Vec<(u32, u32)> = top.into_sorted(&by_row).iter().map(|c| (c.rank.to_bits(), c.row)).collect();
            let got: Vec<(u32, u32)> = res.into_sorted(&by_row).iter().map(|c| (c.rank.to_bits(), c.row)).collect();
            proptest::prop_assert_eq!(got, want);
        }
    }
}

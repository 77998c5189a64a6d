//! The coarse quantizer of an IVF-PQ index: its centroids held as int8, one scale per centroid,
//! and the ranking of lists for a query with integer dot products.
//!
//! Centroid `l` is `scale[l] · codes[l]` (codes in −127..=127). These dequantized values *are*
//! the centroids: residual codes are computed against them, so quantizing the centroids adds no
//! error to the codes. The coarse ranking quantizes the query too, to 7 bits over its own range
//! (`q ≈ lo + step · u`, `u` in 0..=127), so
//!
//! ```text
//! <q, c_l> ≈ scale[l] · (lo · Σⱼ codes[l][j] + step · Σⱼ u[j] · codes[l][j])
//! ```
//!
//! where the last sum is `Kernels::dot_u7i8_batch` (or, for batches of at least 128 queries on
//! tables with it, `Kernels::dot_u8i8_packed` over centroids packed for the batch: the same
//! integers). The query's rounding moves a score by at
//! most `step/2 · Σⱼ|c_l[j]|`, which only matters for lists whose scores are that close at the
//! `nprobe` cut-off. Compared with f16 centroids and float dot products this halves the bytes
//! each query streams (`nlist · dim`) and replaces a convert and a multiply-add per value by a
//! quarter of an integer multiply-add (measured on WordNet, nlist 1024, dim 384: see
//! docs/PERFORMANCE.md).

use crate::dense::kernels::{self, Kernels, PACK_ROWS};
use crate::types::Metric;

/// Centroids quantized to int8 with one scale each.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Coarse {
    dim: usize,
    /// `nlist × dim` codes, row-major.
    codes: Vec<i8>,
    /// Per centroid: the value of one code unit (finite, ≥ 0).
    scales: Vec<f32>,
    /// Per centroid: `Σⱼ codes[l][j]`.
    sums: Vec<i32>,
    /// Per centroid: its squared norm `Σⱼ c_l[j]²` (for L2).
    norms: Vec<f32>,
}

/// A query quantized to 7 bits for [`Coarse::scores`]; reusable across queries.
#[derive(Debug, Default)]
pub(super) struct QueryBytes {
    bytes: Vec<u8>,
    dots: Vec<i32>,
    /// Batches: one query's bytes, and `(lo, step)` per query.
    one: Vec<u8>,
    ranges: Vec<(f32, f32)>,
    /// Large batches: the centroids packed for `Kernels::dot_u8i8_packed`, the queries as
    /// signed bytes and the kernel's output.
    packed: Vec<u8>,
    signed: Vec<i8>,
    sums: Vec<i32>,
}

/// Batches of at least this many queries rank lists with `Kernels::dot_u8i8_packed` where the
/// table has it: packing the centroids (`nlist · dim` bytes) once per batch then costs less
/// than a fraction of the ranking, and the kernel keeps 64 centroids in registers' reach
/// while all the queries pass.
const PACKED_MIN_QUERIES: usize = 128;

impl Coarse {
    /// Quantizes `centroids` (`dim` values each, finite) to int8, each centroid with the scale
    /// that maps its largest magnitude to 127.
    pub(super) fn quantize(centroids: &[f32], dim: usize) -> Coarse {
        let dim = dim.max(1);
        let n = centroids.len() / dim;
        let mut codes = Vec::with_capacity(n * dim);
        let mut scales = Vec::with_capacity(n);
        for row in centroids.chunks_exact(dim) {
            let top = row.iter().fold(0.0f32, |m, &x| m.max(x.abs()));
            let scale = if top > 0.0 && top.is_finite() {
                top / 127.0
            } else {
                0.0
            };
            let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
            codes.extend(
                row.iter()
                    .map(|&x| (x * inv).round().clamp(-127.0, 127.0) as i8),
            );
            scales.push(scale);
        }
        Coarse::from_parts(dim, codes, scales)
    }

    /// Builds the derived per-centroid figures of decoded `codes` and `scales` (lengths
    /// `n · dim` and `n`; the caller checks them).
    pub(super) fn from_parts(dim: usize, codes: Vec<i8>, scales: Vec<f32>) -> Coarse {
        let dim = dim.max(1);
        let mut sums = Vec::with_capacity(scales.len());
        let mut norms = Vec::with_capacity(scales.len());
        for (row, &s) in codes.chunks_exact(dim).zip(&scales) {
            sums.push(row.iter().map(|&c| i32::from(c)).sum());
            let sq: f64 = row.iter().map(|&c| f64::from(c) * f64::from(c)).sum();
            norms.push((sq * f64::from(s) * f64::from(s)) as f32);
        }
        Coarse {
            dim,
            codes,
            scales,
            sums,
            norms,
        }
    }

    /// Reads `nlist` int8 centroids of `dim` values as encoded (scales, then codes) and
    /// checks the scales.
    pub(super) fn decode_int8(
        r: &mut crate::format::ByteReader<'_>,
        nlist: usize,
        dim: usize,
    ) -> crate::error::Result<Coarse> {
        let count = nlist
            .checked_mul(dim)
            .ok_or_else(|| r.corrupt("nlist overflows"))?;
        let scales = r.f32_vec(nlist, "centroid scales")?;
        if scales.iter().any(|s| !s.is_finite() || *s < 0.0) {
            return Err(r.corrupt("a centroid scale is negative or not finite"));
        }
        let codes = r
            .take(count, "centroids")?
            .iter()
            .map(|&b| b as i8)
            .collect();
        Ok(Coarse::from_parts(dim, codes, scales))
    }

    /// Number of centroids.
    pub(super) fn len(&self) -> usize {
        self.scales.len()
    }

    /// The int8 codes, row-major.
    pub(super) fn codes(&self) -> &[i8] {
        &self.codes
    }

    /// The per-centroid scales.
    pub(super) fn scales(&self) -> &[f32] {
        &self.scales
    }

    /// Bytes held in memory.
    pub(super) fn resident_bytes(&self) -> usize {
        self.codes.len() + 4 * (self.scales.len() + self.sums.len() + self.norms.len())
    }

    /// Centroid `l` as f32 into `out` (cleared first; empty if `l` is out of range).
    pub(super) fn centroid(&self, l: usize, out: &mut Vec<f32>) {
        out.clear();
        let (Some(row), Some(&s)) = (
            self.codes.get(l * self.dim..(l + 1) * self.dim),
            self.scales.get(l),
        ) else {
            return;
        };
        out.extend(row.iter().map(|&c| s * f32::from(c)));
    }

    /// Approximate coarse scores of `q` against every centroid into `out` (one per centroid),
    /// larger is better: `<q, c>` for inner product and cosine (`q` already normalised), and
    /// `2<q, c> − |c|²` for L2 (which orders lists as `−|q − c|²` does).
    pub(super) fn scores(
        &self,
        k: &Kernels,
        metric: Metric,
        q: &[f32],
        qb: &mut QueryBytes,
        out: &mut Vec<f32>,
    ) {
        self.scores_batch(k, metric, &[q], qb, out);
    }

    /// [`Coarse::scores`] of several queries, with each centroid read once for every four
    /// queries (`Kernels::dot_u7i8_batch`): `out[j · nlist + c]` is query `j` against centroid
    /// `c`, so each query's scores are one slice.
    pub(super) fn scores_batch(
        &self,
        k: &Kernels,
        metric: Metric,
        queries: &[&[f32]],
        qb: &mut QueryBytes,
        out: &mut Vec<f32>,
    ) {
        let nq = queries.len();
        qb.bytes.clear();
        qb.ranges.clear();
        let mut padded = Vec::new();
        for q in queries {
            // The kernel reads rows of `dim` bytes: a query of another length is cut or padded
            // with zeros to the centroids' dimension.
            let q = match q.get(..self.dim) {
                Some(q) => q,
                None => {
                    padded.clear();
                    padded.extend(
                        q.iter()
                            .copied()
                            .chain(std::iter::repeat(0.0))
                            .take(self.dim),
                    );
                    &padded
                }
            };
            qb.ranges.push(quantize_query(q, &mut qb.one));
            qb.bytes.extend_from_slice(&qb.one);
        }
        let n = self.scales.len();
        qb.dots.clear();
        qb.dots.resize(n * nq, 0);
        // `dots[c · nq + j]` from the batch kernel, `dots[j · n + c]` from the packed one.
        let query_major = match k.dot_u8i8_packed {
            Some(f) if nq >= PACKED_MIN_QUERIES => {
                self.dots_packed(f, nq, qb);
                true
            }
            _ => {
                (k.dot_u7i8_batch)(&qb.bytes, nq, &self.codes, &mut qb.dots);
                false
            }
        };
        out.clear();
        for (j, &(lo, step)) in qb.ranges.iter().enumerate() {
            let dots = if query_major {
                qb.dots.get(j * n..).unwrap_or_default().iter().step_by(1)
            } else {
                qb.dots.get(j..).unwrap_or_default().iter().step_by(nq)
            };
            out.extend(
                self.scales
                    .iter()
                    .zip(&self.sums)
                    .zip(&self.norms)
                    .zip(dots)
                    .map(|(((&s, &sum), &norm), &dot)| score(metric, s, sum, norm, lo, step, dot)),
            );
        }
    }
}

impl Coarse {
    /// The integers `Kernels::dot_u7i8_batch` computes, query-major (`qb.dots[j · n + c]`),
    /// through the packed kernel: centroid codes offset to unsigned (`c + 128`), the 7-bit
    /// query bytes as signed bytes, and `128 · Σ u` subtracted again, so the integers are the
    /// same.
    fn dots_packed(&self, f: crate::dense::kernels::PackedKernel, nq: usize, qb: &mut QueryBytes) {
        let (dim, n) = (self.dim, self.scales.len());
        let dp = dim.div_ceil(4) * 4;
        let rows = n.div_ceil(PACK_ROWS) * PACK_ROWS;
        qb.packed.clear();
        qb.packed.resize(rows * dp, 128);
        for (l, code) in self.codes.chunks_exact(dim.max(1)).enumerate() {
            kernels::pack_row(&mut qb.packed, dp, l, code);
        }
        qb.signed.clear();
        let mut offsets = Vec::with_capacity(nq);
        for q in qb.bytes.chunks_exact(dim.max(1)) {
            let start = qb.signed.len();
            qb.signed.extend(q.iter().map(|&u| (u & 0x7f) as i8));
            qb.signed.resize(start + dp, 0);
            offsets.push(128 * q.iter().map(|&u| i32::from(u & 0x7f)).sum::<i32>());
        }
        qb.sums.clear();
        qb.sums.resize(nq * rows, 0);
        f(&qb.packed, dp, &qb.signed, &mut qb.sums);
        for ((sums, dots), off) in qb.sums.chunks_exact(rows).zip(qb.dots.chunks_exact_mut(n.max(1))).zip(offsets) {
            for (d, &s) in dots.iter_mut().zip(sums) {
                *d = s.wrapping_sub(off);
            }
        }
    }
}

/// One centroid's approximate score from its integer dot product with the query bytes.
#[inline]
fn score(metric: Metric, s: f32, sum: i32, norm: f32, lo: f32, step: f32, dot: i32) -> f32 {
    let ip = s * (lo * sum as f32 + step * dot as f32);
    if metric == Metric::L2 {
        2.0 * ip - norm
    } else {
        ip
    }
}

/// Quantizes `q` to bytes `u` in 0..=127 with `q ≈ lo + step · u` (round to nearest) and
/// returns `(lo, step)`. A constant query has `step = 0` and all bytes 0; non-finite values
/// count as 0.
fn quantize_query(q: &[f32], bytes: &mut Vec<u8>) -> (f32, f32) {
    let finite = |x: f32| if x.is_finite() { x } else { 0.0 };
    let (lo, hi) = q
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| {
            let x = finite(x);
            (lo.min(x), hi.max(x))
        });
    bytes.clear();
    if lo.partial_cmp(&hi) != Some(std::cmp::Ordering::Less) {
        bytes.resize(q.len(), 0);
        return (if lo.is_finite() { lo } else { 0.0 }, 0.0);
    }
    let step = (hi - lo) / 127.0;
    let inv = 1.0 / step;
    bytes.extend(
        q.iter()
            .map(|&x| ((finite(x) - lo) * inv).round().clamp(0.0, 127.0) as u8),
    );
    (lo, step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dense::kernels;

    fn data(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n * dim)
            .map(|_| (crate::rng::splitmix64(&mut s) >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
            .collect()
    }

    #[test]
    fn dequantized_centroids_are_within_half_a_step() {
        let dim = 37;
        let c = data(20, dim, 1);
        let q = Coarse::quantize(&c, dim);
        let mut row = Vec::new();
        for l in 0..20 {
            q.centroid(l, &mut row);
            let s = q.scales()[l];
            for (a, b) in row.iter().zip(&c[l * dim..(l + 1) * dim]) {
                assert!((a - b).abs() <= s * 0.5 + 1e-7, "{a} vs {b}");
            }
        }
        q.centroid(20, &mut row);
        assert!(row.is_empty());
    }

    #[test]
    fn scores_are_within_the_query_rounding_bound() {
        let dim = 50;
        let c = data(64, dim, 2);
        let coarse = Coarse::quantize(&c, dim);
        let qv = data(1, dim, 3);
        let (lo, step) = quantize_query(&qv, &mut Vec::new());
        assert!(lo <= qv.iter().copied().fold(f32::INFINITY, f32::min));
        let mut qb = QueryBytes::default();
        let mut row = Vec::new();
        for k in kernels::available() {
            for metric in [Metric::Dot, Metric::L2] {
                let mut out = Vec::new();
                coarse.scores(k, metric, &qv, &mut qb, &mut out);
                assert_eq!(out.len(), 64);
                for (l, &got) in out.iter().enumerate() {
                    coarse.centroid(l, &mut row);
                    let ip: f64 = qv.iter().zip(&row).map(|(&a, &b)| f64::from(a * b)).sum();
                    let l1: f64 = row.iter().map(|&b| f64::from(b.abs())).sum();
                    let norm: f64 = row.iter().map(|&b| f64::from(b * b)).sum();
                    let (want, bound) = if metric == Metric::L2 {
                        (2.0 * ip - norm, f64::from(step) * l1 + 1e-4)
                    } else {
                        (ip, f64::from(step) * 0.5 * l1 + 1e-4)
                    };
                    assert!(
                        (f64::from(got) - want).abs() <= bound,
                        "{} {metric:?} list {l}: {got} vs {want}",
                        k.name
                    );
                }
            }
        }
    }

    #[test]
    fn large_batches_through_the_packed_kernel_score_as_one_query_at_a_time() {
        // Enough queries for `dots_packed` (where the table has the kernel), an odd dimension
        // and a centroid count that is not a multiple of the packing's 16.
        let (dim, n) = (45, 37);
        let coarse = Coarse::quantize(&data(n, dim, 6), dim);
        let qs: Vec<Vec<f32>> = (0..PACKED_MIN_QUERIES as u64 + 3)
            .map(|i| data(1, dim, 100 + i))
            .collect();
        let refs: Vec<&[f32]> = qs.iter().map(Vec::as_slice).collect();
        let mut qb = QueryBytes::default();
        for k in kernels::available() {
            for metric in [Metric::Dot, Metric::L2] {
                let mut batch = Vec::new();
                coarse.scores_batch(k, metric, &refs, &mut qb, &mut batch);
                for (j, q) in refs.iter().enumerate() {
                    let mut one = Vec::new();
                    coarse.scores(k, metric, q, &mut qb, &mut one);
                    let got: Vec<u32> = batch[j * n..(j + 1) * n].iter().map(|v| v.to_bits()).collect();
                    let want: Vec<u32> = one.iter().map(|v| v.to_bits()).collect();
                    assert_eq!(got, want, "{} q {j}", k.name);
                }
            }
        }
    }

    #[test]
    fn batch_scores_equal_one_query_at_a_time() {
        let dim = 45;
        let coarse = Coarse::quantize(&data(30, dim, 5), dim);
        let qs: Vec<Vec<f32>> = (0..7).map(|i| data(1, dim, 10 + i)).collect();
        let mut short = qs[2].clone();
        short.truncate(20);
        let mut refs: Vec<&[f32]> = qs.iter().map(Vec::as_slice).collect();
        refs[2] = &short;
        let mut qb = QueryBytes::default();
        for k in kernels::available() {
            for metric in [Metric::Dot, Metric::L2] {
                let mut batch = Vec::new();
                coarse.scores_batch(k, metric, &refs, &mut qb, &mut batch);
                assert_eq!(batch.len(), 30 * refs.len());
                for (j, q) in refs.iter().enumerate() {
                    let mut one = Vec::new();
                    coarse.scores(k, metric, q, &mut qb, &mut one);
                    for (c, &v) in one.iter().enumerate() {
                        assert_eq!(
                            batch[j * 30 + c].to_bits(),
                            v.to_bits(),
                            "{} q {j} c {c}",
                            k.name
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn constant_and_non_finite_queries_do_not_panic() {
        let dim = 8;
        let coarse = Coarse::quantize(&data(4, dim, 4), dim);
        let mut qb = QueryBytes::default();
        let mut out = Vec::new();
        for q in [
            vec![0.25f32; dim],
            vec![f32::NAN; dim],
            vec![],
            vec![1.0, f32::INFINITY],
        ] {
            coarse.scores(kernels::best(), Metric::Dot, &q, &mut qb, &mut out);
            assert_eq!(out.len(), 4);
        }
        // A constant query: the score is exact up to rounding.
        coarse.scores(kernels::best(), Metric::Dot, &[0.25; 8], &mut qb, &mut out);
        let mut row = Vec::new();
        coarse.centroid(0, &mut row);
        let want: f32 = row.iter().map(|x| 0.25 * x).sum();
        assert!((out[0] - want).abs() < 1e-5);
    }

    #[test]
    fn zero_centroid_has_zero_scale() {
        let c = Coarse::quantize(&[0.0; 6], 3);
        assert_eq!(c.scales(), &[0.0, 0.0]);
        assert!(c.codes().iter().all(|&x| x == 0));
    }
}

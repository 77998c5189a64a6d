//! The product quantizer: `m` sub-quantizers of `2^nbits` centroids each, 4- or 8-bit codes.
//!
//! A vector of `dim` values is cut into `m` contiguous sub-vectors. When `m` does not divide
//! `dim`, the first `dim % m` sub-spaces get one extra dimension ([`ProductQuantizer::sub_range`]).
//! Each sub-vector is replaced by the id of its nearest centroid in that sub-space's codebook;
//! codes are one byte per sub-space (0..ksub) whatever `nbits` is — packing two 4-bit codes per
//! byte, or into fast-scan blocks, is the caller's layout.
//!
//! Codebooks are stored back to back: sub-space `j`'s `ksub` centroids of `dsub_j` values start
//! at `ksub · sub_range(j).start`, so the whole table is `ksub × dim` floats.
//!
//! Training runs one k-means per sub-space ([`crate::dense::kmeans`], balanced when asked) on
//! the same seeded subsample, sub-spaces in parallel. Lookup tables (`lut_ip`, `lut_l2`) hold
//! `m × ksub` floats, `lut[j·ksub + c]`; [`ProductQuantizer::adc`] is the scalar reference sum.
//!
//! Serialized form (little-endian, written by [`ProductQuantizer::encode_to`]):
//!
//! | bytes | field |
//! |---|---|
//! | 1 | version, `1` |
//! | 4 | `dim` (u32, > 0) |
//! | 4 | `m` (u32, `1 ≤ m ≤ dim`) |
//! | 1 | `nbits` (4 or 8) |
//! | 8 | number of codebook floats (u64, `= 2^nbits · dim`) |
//! | 4 each | the codebook floats (finite f32) |

#[cfg(test)]
mod tests;

use std::ops::Range;

use crate::dense::kmeans::{self, KMeansConfig, Rng, l2sq_many_for, par_map};
use crate::error::{Error, Result};
use crate::format::{ByteReader, ByteWriter};

/// Version byte of the serialized form.
const VERSION: u8 = 1;

/// Rows per parallel encoding task.
const ENCODE_TASK: usize = 1024;

/// Training parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct PqConfig {
    /// Sub-spaces (`1 ≤ m ≤ dim`).
    pub m: usize,
    /// Bits per code: 4 or 8.
    pub nbits: u8,
    /// Balanced (Sinkhorn) k-means per sub-space, for more even code usage.
    pub balanced: bool,
    /// Seed of the subsample and of every sub-space's k-means.
    pub seed: u64,
    /// Lloyd iterations per sub-space (default 20).
    pub iters: usize,
    /// Worker threads (at least 1; the result does not depend on it).
    pub threads: usize,
    /// Train on a seeded subsample of at most this many vectors; 0 (the default) means
    /// `256 · 2^nbits`.
    pub max_points: usize,
}

impl Default for PqConfig {
    fn default() -> Self {
        PqConfig {
            m: 48,
            nbits: 4,
            balanced: false,
            seed: 0,
            iters: 20,
            threads: std::thread::available_parallelism().map_or(1, |t| t.get()),
            max_points: 0,
        }
    }
}

/// A trained product quantizer.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductQuantizer {
    /// Values per vector.
    pub dim: usize,
    /// Sub-spaces.
    pub m: usize,
    /// Bits per code (4 or 8).
    pub nbits: u8,
    /// Centroids per sub-space, `1 << nbits`.
    pub ksub: usize,
    /// `ksub × dim` floats: sub-space `j`'s centroids start at `ksub · sub_range(j).start`.
    pub codebooks: Vec<f32>,
    /// The codebooks transposed per sub-space (same offsets; within sub-space `j`, dimension
    /// `d` holds the `ksub` centroids' values), so a lookup table is built with `ksub`-wide
    /// multiply-adds. Derived from `codebooks` by [`ProductQuantizer::from_parts`].
    columns: Vec<f32>,
}

/// The sub-space bounds shared by training and the methods: `dim / m` values each, one more
/// for the first `dim % m`.
fn sub_range(dim: usize, m: usize, j: usize) -> Range<usize> {
    if m == 0 || j >= m {
        return dim..dim;
    }
    let (base, extra) = (dim / m, dim % m);
    let start = j * base + j.min(extra);
    start..start + base + usize::from(j < extra)
}

fn check_shape(dim: usize, m: usize, nbits: u8) -> std::result::Result<(), String> {
    if dim == 0 {
        return Err("dimension must be positive".into());
    }
    if m == 0 || m > dim {
        return Err(format!(
            "m = {m} sub-spaces must be between 1 and dim = {dim}"
        ));
    }
    if nbits != 4 && nbits != 8 {
        return Err(format!("nbits = {nbits} must be 4 or 8"));
    }
    Ok(())
}

impl ProductQuantizer {
    /// A quantizer with the given shape and codebooks (`ksub × dim` floats, laid out as the
    /// `codebooks` field describes); no checks beyond what every method tolerates.
    pub fn from_parts(dim: usize, m: usize, nbits: u8, codebooks: Vec<f32>) -> ProductQuantizer {
        let ksub = 1usize << nbits.min(8);
        let mut columns = vec![0.0f32; codebooks.len()];
        for j in 0..m {
            let r = sub_range(dim, m, j);
            let len = r.len();
            let base = ksub * r.start;
            for c in 0..ksub {
                for d in 0..len {
                    if let (Some(v), Some(slot)) = (
                        codebooks.get(base + c * len + d),
                        columns.get_mut(base + d * ksub + c),
                    ) {
                        *slot = *v;
                    }
                }
            }
        }
        ProductQuantizer {
            dim,
            m,
            nbits,
            ksub,
            codebooks,
            columns,
        }
    }

    /// Trains one k-means of `2^nbits` centroids per sub-space on a seeded subsample of `data`
    /// (`n × dim`, finite), sub-spaces spread over `cfg.threads` threads.
    ///
    /// Errors (`InvalidArgument`): bad shape (`dim`, `m`, `nbits`), `data.len()` not a multiple
    /// of `dim`, a non-finite value, fewer than `2^nbits` vectors, `threads == 0`.
    pub fn train(data: &[f32], dim: usize, cfg: &PqConfig) -> Result<ProductQuantizer> {
        check_shape(dim, cfg.m, cfg.nbits).map_err(Error::InvalidArgument)?;
        if !data.len().is_multiple_of(dim) {
            return Err(Error::InvalidArgument(format!(
                "{} values are not whole rows of dimension {dim}",
                data.len()
            )));
        }
        if cfg.threads == 0 {
            return Err(Error::InvalidArgument("threads must be at least 1".into()));
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "training row {} holds a non-finite value",
                i / dim
            )));
        }
        let ksub = 1usize << cfg.nbits;
        let n = data.len() / dim;
        if n < ksub {
            return Err(Error::InvalidArgument(format!(
                "{ksub} centroids per sub-space need at least {ksub} training vectors, got {n}"
            )));
        }
        let cap = if cfg.max_points == 0 {
            ksub * kmeans::DEFAULT_POINTS_PER_CENTROID
        } else {
            cfg.max_points.max(ksub)
        };
        let rows = sample_rows(n, cap, cfg.seed);

        // Sub-spaces in parallel, one thread each; with fewer sub-spaces than threads, the
        // spare threads go to each k-means instead.
        let inner = (cfg.threads / cfg.m).max(1);
        let books = par_map(cfg.m, cfg.threads, |j| {
            let r = sub_range(dim, cfg.m, j);
            let mut sub = Vec::with_capacity(rows.len() * r.len());
            for &i in &rows {
                let row = data.get(i * dim..(i + 1) * dim).unwrap_or_default();
                sub.extend_from_slice(row.get(r.clone()).unwrap_or_default());
            }
            let kcfg = KMeansConfig {
                k: ksub,
                iters: cfg.iters,
                seed: cfg.seed ^ (j as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                balanced: cfg.balanced,
                threads: inner,
                max_points: rows.len(),
                sinkhorn_iters: 20,
            };
            kmeans::train(&sub, r.len(), &kcfg)
        });
        let mut codebooks = Vec::with_capacity(ksub * dim);
        for b in books {
            codebooks.extend_from_slice(&b?.centroids);
        }
        Ok(ProductQuantizer::from_parts(
            dim, cfg.m, cfg.nbits, codebooks,
        ))
    }

    /// The dimensions of sub-space `j` (empty for `j ≥ m`).
    pub fn sub_range(&self, j: usize) -> Range<usize> {
        sub_range(self.dim, self.m, j)
    }

    /// Sub-space `j`'s codebook: `ksub` rows of `sub_range(j).len()` values.
    pub fn codebook(&self, j: usize) -> &[f32] {
        let r = self.sub_range(j);
        self.codebooks
            .get(self.ksub * r.start..self.ksub * r.end)
            .unwrap_or_default()
    }

    /// Writes the code of `v` (`dim` values) into `codes` (`m` bytes): per sub-space, the id of
    /// the nearest centroid in squared L2. Sub-spaces missing from a short `v` or `codes` are
    /// skipped.
    pub fn encode(&self, v: &[f32], codes: &mut [u8]) {
        let mut dist = [0.0f32; 256];
        for (j, code) in codes.iter_mut().enumerate().take(self.m) {
            let Some(sub) = v.get(self.sub_range(j)) else {
                continue;
            };
            let got = dist.get_mut(..self.ksub.min(256)).unwrap_or_default();
            l2sq_many_for(sub.len())(sub, self.codebook(j), got);
            *code = kmeans::argmin(got).0 as u8;
        }
    }

    /// Codes of every row of `data` (`n × m` bytes), rows spread over `threads` threads.
    pub fn encode_many(&self, data: &[f32], threads: usize) -> Vec<u8> {
        if self.dim == 0 {
            return Vec::new();
        }
        let n = data.len() / self.dim;
        let parts = par_map(n.div_ceil(ENCODE_TASK), threads, |task| {
            let start = task * ENCODE_TASK;
            let end = (start + ENCODE_TASK).min(n);
            let rows = data
                .get(start * self.dim..end * self.dim)
                .unwrap_or_default();
            let mut codes = vec![0u8; (end - start) * self.m];
            for (row, c) in rows
                .chunks_exact(self.dim)
                .zip(codes.chunks_exact_mut(self.m.max(1)))
            {
                self.encode(row, c);
            }
            codes
        });
        parts.concat()
    }

    /// Writes the reconstruction of `codes` (`m` bytes) into `out` (`dim` values). Sub-spaces
    /// with an out-of-range code, or missing from a short `out`, are left as they were.
    pub fn decode(&self, codes: &[u8], out: &mut [f32]) {
        for (j, &c) in codes.iter().enumerate().take(self.m) {
            let r = self.sub_range(j);
            let d = r.len();
            let (Some(src), Some(dst)) = (
                self.codebook(j)
                    .get(usize::from(c) * d..(usize::from(c) + 1) * d),
                out.get_mut(r),
            ) else {
                continue;
            };
            dst.copy_from_slice(src);
        }
    }

    /// Inner-product table for query `q`: `lut[j·ksub + c] = ⟨q_j, codebook_j[c]⟩`
    /// (`lut.len() == m·ksub`).
    pub fn lut_ip(&self, q: &[f32], lut: &mut [f32]) {
        self.lut(q, lut, |x, c| x * c);
    }

    /// Squared-L2 table for query `q`: `lut[j·ksub + c] = ‖q_j − codebook_j[c]‖²`.
    pub fn lut_l2(&self, q: &[f32], lut: &mut [f32]) {
        self.lut(q, lut, |x, c| (x - c) * (x - c));
    }

    /// `lut[j·ksub + c] = Σ_d term(q_j[d], codebook_j[c][d])`, added over `d` in order, one
    /// `ksub`-wide row of multiply-adds per dimension (the transposed codebooks).
    #[inline(always)]
    fn lut(&self, q: &[f32], lut: &mut [f32], term: impl Fn(f32, f32) -> f32) {
        if self.ksub == 0 {
            return;
        }
        for (j, table) in lut.chunks_exact_mut(self.ksub).enumerate().take(self.m) {
            let r = self.sub_range(j);
            let (Some(sub), Some(cols)) = (
                q.get(r.clone()),
                self.columns.get(self.ksub * r.start..self.ksub * r.end),
            ) else {
                continue;
            };
            table.fill(0.0);
            for (&x, col) in sub.iter().zip(cols.chunks_exact(self.ksub)) {
                for (t, &c) in table.iter_mut().zip(col) {
                    *t += term(x, c);
                }
            }
        }
    }

    /// Asymmetric distance: `Σ_j lut[j·ksub + codes[j]]` (the scalar reference the fast-scan
    /// kernels are tested against).
    pub fn adc(&self, lut: &[f32], codes: &[u8]) -> f32 {
        if self.ksub == 0 {
            return 0.0;
        }
        lut.chunks_exact(self.ksub)
            .zip(codes)
            .map(|(t, &c)| t.get(usize::from(c)).copied().unwrap_or(0.0))
            .sum()
    }

    /// Appends the serialized form (see the module docs) to `w`.
    pub fn encode_to(&self, w: &mut ByteWriter) {
        w.u8(VERSION);
        w.u32(self.dim as u32);
        w.u32(self.m as u32);
        w.u8(self.nbits);
        w.len(self.codebooks.len());
        for &v in &self.codebooks {
            w.f32(v);
        }
    }

    /// Reads what [`encode_to`](Self::encode_to) wrote, checking every field: version, shape,
    /// codebook length and finiteness. Any problem is `Error::Corrupt` at its offset.
    pub fn decode_from(r: &mut ByteReader<'_>) -> Result<ProductQuantizer> {
        let version = r.u8("pq version")?;
        if version != VERSION {
            return Err(r.corrupt(format!("pq version {version} is not {VERSION}")));
        }
        let dim = r.u32("pq dim")? as usize;
        let m = r.u32("pq m")? as usize;
        let nbits = r.u8("pq nbits")?;
        check_shape(dim, m, nbits).map_err(|e| r.corrupt(format!("pq: {e}")))?;
        let ksub = 1usize << nbits;
        let len = r.len(4, "pq codebooks")?;
        if Some(len) != ksub.checked_mul(dim) {
            return Err(r.corrupt(format!(
                "pq codebooks: {len} floats, expected {ksub} × {dim}"
            )));
        }
        let mut codebooks = Vec::with_capacity(len);
        for _ in 0..len {
            let v = r.f32("pq codebook value")?;
            if !v.is_finite() {
                return Err(r.corrupt("pq codebook value is not finite"));
            }
            codebooks.push(v);
        }
        Ok(ProductQuantizer::from_parts(dim, m, nbits, codebooks))
    }
}

/// Per-sub-space entropy in bits of the code histogram of `codes` (`n × m`); the maximum is
/// `log2(ksub)` = nbits when every code is used equally. Codes `≥ ksub` are ignored.
pub fn code_entropy(codes: &[u8], m: usize, ksub: usize) -> Vec<f64> {
    if m == 0 {
        return Vec::new();
    }
    let mut hist = vec![0usize; m * ksub];
    for row in codes.chunks_exact(m) {
        for (j, &c) in row.iter().enumerate() {
            if usize::from(c) < ksub
                && let Some(h) = hist.get_mut(j * ksub + usize::from(c))
            {
                *h += 1;
            }
        }
    }
    if ksub == 0 {
        return vec![0.0; m];
    }
    hist.chunks_exact(ksub)
        .map(|h| {
            let n: usize = h.iter().sum();
            h.iter()
                .filter(|&&c| c > 0)
                .map(|&c| {
                    let p = c as f64 / n as f64;
                    -p * p.log2()
                })
                .sum()
        })
        .collect()
}

/// The rows to train on: all of `0..n` if `n ≤ cap`, else a seeded sorted sample of `cap`.
pub(crate) fn sample_rows(n: usize, cap: usize, seed: u64) -> Vec<usize> {
    if n <= cap {
        return (0..n).collect();
    }
    let mut rng = Rng::new(seed, 1);
    let mut idx: Vec<usize> = (0..n).collect();
    for i in 0..cap {
        let j = i + rng.below(n - i);
        idx.swap(i, j);
    }
    idx.truncate(cap);
    idx.sort_unstable();
    idx
}

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

use crate::dense::VectorsView;
use crate::dense::kernels::{self, fastscan};
use crate::dense::kmeans::{self, KMeansConfig};
use crate::dense::pq::{self, PqConfig, ProductQuantizer};
use crate::error::{Error, Result};
use crate::io::FileBytes;
use crate::schema::IvfPqParams;
use crate::types::Metric;

mod codec;
mod coarse;
mod model;
mod scan;
mod tune;
pub use model::IvfModel;
use coarse::Coarse;
pub use scan::{FilteredProbe, IvfScratch, ProbeReport};
pub use tune::{EpochReport, TuneConfig, TuneOutcome, TuneQuery};

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
    /// The model (centroids and codebooks) these codes were encoded with: a random non-zero
    /// id drawn when the model was trained, shared by every segment encoded with it and kept
    /// when its codebooks are tuned; 0 for files written before models had ids.
    lineage: u64,
    /// Coarse centroids, int8 with a scale each (see `coarse.rs`); residuals are computed
    /// against these dequantized values, so codes stay consistent.
    coarse: std::sync::Arc<Coarse>,
    pq: ProductQuantizer,
    /// List `l` holds positions `offsets[l]..offsets[l + 1]` of `ids`.
    offsets: Vec<u32>,
    ids: Ids,
    /// Byte offset of each list's codes in `codes` (nlist + 1 entries).
    code_offsets: Vec<usize>,
    /// Shared, so an index with other codebooks ([`IvfPq::with_model`]) costs no copy.
    codes: std::sync::Arc<[u8]>,
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

    /// Calls `f` with the row ids of positions `first..first + n` (those that exist).
    #[inline]
    fn for_each_in(&self, first: usize, n: usize, mut f: impl FnMut(u32)) {
        match self {
            Ids::Owned(v) => v.iter().skip(first).take(n).for_each(|&r| f(r)),
            Ids::Mapped { file, offset, len } => {
                let bytes = file.as_ref();
                for i in first..(first + n).min(*len) {
                    if let Some(r) = crate::format::u32_at(bytes, offset + 4 * i) {
                        f(r);
                    }
                }
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

/// Centroid encodings of the index file: f16 values (written by earlier versions, still read),
/// or int8 codes with one f32 scale per centroid.
const CENTROIDS_F16: u8 = 0;
const CENTROIDS_INT8: u8 = 2;
/// Int8 centroids, and the model's lineage id (u64) after the row count.
const CENTROIDS_INT8_LINEAGE: u8 = 3;

fn metric_code(m: Metric) -> u8 {
    match m {
        Metric::Cosine => 1,
        Metric::Dot => 2,
        Metric::L2 => 3,
    }
}

fn metric_from_code(c: u8) -> Option<Metric> {
    match c {
        1 => Some(Metric::Cosine),
        2 => Some(Metric::Dot),
        3 => Some(Metric::L2),
        _ => None,
    }
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

/// Subtracts from each row of `data` the centroid of its list.
fn subtract_centroids(data: &mut [f32], dim: usize, coarse: &Coarse, assign: &[u32]) {
    let mut c = Vec::with_capacity(dim);
    for (row, &a) in data.chunks_exact_mut(dim.max(1)).zip(assign) {
        coarse.centroid(a as usize, &mut c);
        row.iter_mut().zip(&c).for_each(|(x, c)| *x -= c);
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
        let coarse = Coarse::quantize(&km.centroids, dim);
        // Residuals (or the vectors themselves) are what the product quantizer encodes.
        if p.residual {
            subtract_centroids(&mut data, dim, &coarse, &assign);
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
        let model = IvfModel {
            lineage: crate::rng::random_id(seed),
            dim,
            metric,
            residual: p.residual,
            balanced: p.balanced,
            coarse,
            pq,
            calibrations: Vec::new(),
        };
        Ok(IvfPq::assemble(model, &assign, all_codes, start))
    }

    /// Encodes `rows` with an existing `model` (no training): each row goes to its nearest
    /// centroid and its (residual) codes are the nearest codebook entries. The index shares
    /// the model's lineage, so codebooks tuned for that lineage apply to it.
    pub fn encode_with(rows: VectorsView<'_>, model: &IvfModel) -> Result<IvfPq> {
        IvfPq::encode_with_known(rows, model, &[])
    }

    /// [`IvfPq::encode_with`], except that row `i` with `known[i] = Some((list, codes))` keeps
    /// that list and those codes (`m` bytes, valid for this model's lineage) instead of being
    /// encoded: a merge keeps the codes tuned codebooks were fitted to.
    pub fn encode_with_known(
        rows: VectorsView<'_>,
        model: &IvfModel,
        known: &[Option<(u32, &[u8])>],
    ) -> Result<IvfPq> {
        let start = std::time::Instant::now();
        let dim = model.dim;
        let values = match rows {
            VectorsView::F32(v) => v.len(),
            VectorsView::F16(v) => v.len(),
        };
        if dim == 0 || values == 0 || !values.is_multiple_of(dim) {
            return Err(Error::InvalidArgument(format!(
                "{values} values do not make rows of the model's dimension {dim}"
            )));
        }
        let n = values / dim;
        let (nlist, m) = (model.coarse.len(), model.pq.m);
        let mut assign = vec![0u32; n];
        let mut codes = vec![0u8; n * m];
        // Rows with a valid list and codes keep them; only the others are encoded.
        let mut todo = Vec::new();
        for row in 0..n {
            match known.get(row).copied().flatten() {
                Some((l, c)) if (l as usize) < nlist && c.len() == m => {
                    if let (Some(a), Some(dst)) =
                        (assign.get_mut(row), codes.get_mut(row * m..(row + 1) * m))
                    {
                        *a = l;
                        dst.copy_from_slice(c);
                    }
                }
                _ => todo.push(row),
            }
        }
        if !todo.is_empty() {
            let mut data = Vec::with_capacity(todo.len() * dim);
            for &row in &todo {
                let span = row * dim..(row + 1) * dim;
                match rows {
                    VectorsView::F32(v) => data.extend_from_slice(v.get(span).unwrap_or_default()),
                    VectorsView::F16(v) => {
                        data.extend(v.get(span).unwrap_or_default().iter().map(|x| x.to_f32()))
                    }
                }
            }
            if model.metric == Metric::Cosine {
                normalize_rows(&mut data, dim);
            }
            let mut centroids = Vec::with_capacity(nlist * dim);
            let mut c = Vec::with_capacity(dim);
            for l in 0..nlist {
                model.coarse.centroid(l, &mut c);
                centroids.extend_from_slice(&c);
            }
            let km = kmeans::KMeans {
                k: nlist,
                dim,
                centroids,
            };
            let sub_assign = km.assign(&data, threads()).0;
            if model.residual {
                subtract_centroids(&mut data, dim, &model.coarse, &sub_assign);
            }
            let sub_codes = model.pq.encode_many(&data, threads());
            for ((&row, &l), c) in todo.iter().zip(&sub_assign).zip(sub_codes.chunks_exact(m.max(1))) {
                if let (Some(a), Some(dst)) =
                    (assign.get_mut(row), codes.get_mut(row * m..(row + 1) * m))
                {
                    *a = l;
                    dst.copy_from_slice(c);
                }
            }
        }
        Ok(IvfPq::assemble(model.clone(), &assign, codes, start))
    }

    /// The index of rows already assigned to lists (`assign`) with their codes (`m` bytes per
    /// row, row order).
    fn assemble(
        model: IvfModel,
        assign: &[u32],
        all_codes: Vec<u8>,
        start: std::time::Instant,
    ) -> IvfPq {
        let IvfModel {
            lineage,
            dim,
            metric,
            residual,
            balanced,
            coarse,
            pq,
            ..
        } = model;
        let nlist = coarse.len();
        let n = assign.len();
        let list_spread = kmeans::size_spread(assign, nlist) as f32;
        let code_entropy = {
            let e = pq::code_entropy(&all_codes, pq.m, pq.ksub);
            (e.iter().sum::<f64>() / e.len().max(1) as f64) as f32
        };
        // Group rows by list (counting sort keeps row order inside a list).
        let mut offsets = vec![0u32; nlist + 1];
        for &a in assign {
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
        IvfPq {
            dim,
            metric,
            nlist,
            residual,
            balanced,
            lineage,
            coarse: std::sync::Arc::new(coarse),
            pq,
            offsets,
            ids: Ids::Owned(ids),
            code_offsets,
            codes: codes.into(),
            stats: IvfStats {
                list_spread,
                code_entropy,
                build_seconds: start.elapsed().as_secs_f32(),
            },
        }
    }

    /// The model's lineage id (0: written before models had ids).
    pub fn lineage(&self) -> u64 {
        self.lineage
    }

    /// The model this index was encoded with (or tuned to): centroids and codebooks.
    pub fn model(&self) -> IvfModel {
        IvfModel {
            lineage: self.lineage,
            dim: self.dim,
            metric: self.metric,
            residual: self.residual,
            balanced: self.balanced,
            coarse: Coarse::clone(&self.coarse),
            pq: self.pq.clone(),
            calibrations: Vec::new(),
        }
    }

    /// This index scored with `model` in place of its own centroids and codebooks: the codes
    /// and lists stay (no copy), so the model must be of this index's lineage and shape.
    pub fn with_model(&self, model: &IvfModel) -> Result<IvfPq> {
        if model.lineage != self.lineage
            || model.dim != self.dim
            || model.metric != self.metric
            || model.residual != self.residual
            || model.coarse.len() != self.nlist
        {
            return Err(Error::InvalidArgument(format!(
                "model {:016x} (dim {}, {} lists) is not the model of this index ({:016x}, dim {}, {} lists)",
                model.lineage,
                model.dim,
                model.coarse.len(),
                self.lineage,
                self.dim,
                self.nlist
            )));
        }
        let mut out = self.with_codebooks(model.pq.clone())?;
        // Tuning keeps the centroids: share them unless the model's differ.
        if *out.coarse != model.coarse {
            out.coarse = std::sync::Arc::new(model.coarse.clone());
        }
        Ok(out)
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
        (self.coarse.resident_bytes()
            + self.pq.codebooks.len() * 8 // row-major and transposed
            + self.offsets.len() * 4
            + self.ids.resident_bytes()
            + self.code_offsets.len() * 8
            + self.codes.len()) as u64
    }

    /// Bytes this index holds beyond `base`, the index it was made from by
    /// [`IvfPq::with_model`]: its codebooks, and its centroids unless they are shared.
    pub fn bytes_beyond(&self, base: &IvfPq) -> u64 {
        let coarse = if std::sync::Arc::ptr_eq(&self.coarse, &base.coarse) {
            0
        } else {
            self.coarse.resident_bytes()
        };
        (coarse + self.pq.codebooks.len() * 8) as u64
    }

    /// Whether `model`'s centroids and codebooks are the ones this index holds (scoring with
    /// it changes nothing).
    pub fn holds_model(&self, model: &IvfModel) -> bool {
        model.lineage == self.lineage && model.pq == self.pq && *self.coarse == model.coarse
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use half::f16;

    /// Bytes of the header before the centroids: dim, nlist, 4 flag bytes, 3 f32, rows.
    const HEADER: usize = 4 + 4 + 4 + 12 + 8;

    fn data(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n * dim)
            .map(|_| (crate::rng::splitmix64(&mut s) >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
            .collect()
    }

    fn top_rows(ivf: &IvfPq, q: &[f32]) -> Vec<u32> {
        let mut got = Vec::new();
        let mut s = IvfScratch::default();
        ivf.scan(q, ivf.nlist, &mut s, &|_| true, &mut |a, r| {
            got.push((a, r));
            f32::NEG_INFINITY
        });
        got.sort_by(|a, b| b.0.total_cmp(&a.0));
        got.iter().take(10).map(|&(_, r)| r).collect()
    }

    /// An index written with f16 centroids (encoding 0, before int8 centroids) still opens:
    /// its centroids are quantized on opening, and every row is still found.
    #[test]
    fn f16_centroid_files_still_open() {
        let (n, dim) = (800, 24);
        let rows = data(n, dim, 3);
        let p = IvfPqParams {
            nlist: 8,
            m: 6,
            nbits: 4,
            residual: true,
            ..IvfPqParams::default()
        };
        let ivf = IvfPq::build(VectorsView::F32(&rows), dim, Metric::Dot, &p, 1).unwrap();
        let new = ivf.encode();
        assert_eq!(new[11], CENTROIDS_INT8_LINEAGE);
        // The same index as an earlier build wrote it: f16 centroids in place of the scales
        // and int8 codes.
        let nlist = ivf.nlist;
        let mut old = new[..HEADER].to_vec();
        old[11] = CENTROIDS_F16;
        let mut c = Vec::new();
        for l in 0..nlist {
            ivf.coarse.centroid(l, &mut c);
            for &x in &c {
                old.extend_from_slice(&f16::from_f32(x).to_bits().to_le_bytes());
            }
        }
        // (and without the lineage id after the header)
        old.extend_from_slice(&new[HEADER + 8 + nlist * 4 + nlist * dim..]);
        let open = |bytes: &[u8]| {
            let fb = FileBytes::copy_from(bytes);
            IvfPq::decode("seg.ivf", &fb, bytes.len(), dim, Metric::Dot, n as u64)
        };
        let reopened = open(&old).unwrap();
        let mut a = Vec::new();
        let mut b = Vec::new();
        for l in 0..nlist {
            ivf.coarse.centroid(l, &mut a);
            reopened.coarse.centroid(l, &mut b);
            let s = ivf.coarse.scales()[l];
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() <= 1.01 * s, "list {l}: {x} vs {y}");
            }
        }
        // Each row, used as the query, is still among its own best candidates.
        for row in (0..n).step_by(97) {
            let q = &rows[row * dim..(row + 1) * dim];
            assert!(top_rows(&reopened, q).contains(&(row as u32)), "row {row}");
        }
        // An unknown encoding is a corruption error, not a panic.
        let mut bad = new.clone();
        bad[11] = 7;
        assert!(matches!(open(&bad), Err(Error::Corrupt { .. })));
        assert!(open(&new).is_ok());
    }
}

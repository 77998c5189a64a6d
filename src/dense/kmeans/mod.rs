//! Seeded k-means for IVF coarse quantizers and PQ codebooks, plain or balanced.
//!
//! This module owns training (k-means++ initialisation, Lloyd iterations, empty-cluster
//! repair), nearest-centroid assignment of whole data sets, centroid ranking for one query (IVF
//! probing), and the two list-balance statistics the IVF build reports.
//!
//! - `assign.rs`: blocked point-to-centroid distances (a safe, row-by-row GEMM on the
//!   dispatched dot kernel), nearest and t-nearest centroids of every row.
//! - `balanced.rs`: sparse Sinkhorn assignment for balanced training, and the capacity-capped
//!   greedy assignment used to fill lists evenly.
//! - `par.rs`: scoped-thread helpers and the SplitMix64 generator.
//!
//! **Determinism.** For a given seed the result is bit-identical whatever the thread count:
//! work is cut into chunks by size only, per-chunk results are combined in chunk order, and
//! centroid means are summed in f64 in point order.
//!
//! **Cost.** One Lloyd iteration is `n·k` inner products of length `dim` (about 20 ns each at
//! d = 384 with AVX2 on an idle core), plus in balanced mode `n·32` exponentials and up to
//! `sinkhorn_iters · 2 · n · 32` multiply-adds (Sinkhorn stops once column masses are within 2%;
//! warm-started from the previous iteration it usually needs 1–3 rounds). k-means++ costs
//! `k · min(n, 16·k)` distances. Memory beyond the (sub)sample, which is borrowed when no
//! subsampling is needed: about 24 bytes per point, a 64 × k distance block per task, and in
//! balanced mode about 0.5 KB per point at peak (32 candidates with ids, distances and kernel
//! values, 60 MB for 116k points).

mod assign;
mod balanced;
mod par;
#[cfg(test)]
mod tests;

pub(crate) use assign::{argmin, l2sq_many_for};
pub(crate) use par::{Rng, par_map};

use std::borrow::Cow;

use crate::error::{Error, Result};

/// k-means++ draws its initial centroids from a random pool of at most this many points per
/// centroid (each of the k draws scans the whole pool, so the pool must stay cache-sized).
const INIT_POOL_PER_CENTROID: usize = 16;

/// Default sample size per centroid (FAISS's `max_points_per_centroid`).
pub const DEFAULT_POINTS_PER_CENTROID: usize = 256;

/// Relative perturbation applied when a cluster is split to refill an empty one (FAISS's value).
const SPLIT_EPS: f32 = 1.0 / 1024.0;

/// Centroids each point is compared with after the first Lloyd iteration (plain mode): a
/// quarter of `k`, at least [`MIN_NEIGHBOURS`] and at most [`MAX_NEIGHBOURS`]; see
/// [`lloyd_local`]. With `k` at most the minimum every centroid is compared.
const MAX_NEIGHBOURS: usize = 128;

/// See [`MAX_NEIGHBOURS`].
const MIN_NEIGHBOURS: usize = 64;

/// Candidates per point of [`lloyd_local`] for `k` centroids.
fn neighbours(k: usize) -> usize {
    (k / 4).clamp(MIN_NEIGHBOURS, MAX_NEIGHBOURS)
}

/// Centroids per parallel task in the update step.
const UPDATE_CHUNK: usize = 16;

/// Training parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansConfig {
    /// Number of centroids.
    pub k: usize,
    /// Lloyd iterations (default 20). Plain mode stops early once no assignment changes.
    pub iters: usize,
    /// Seed of the subsample and of k-means++.
    pub seed: u64,
    /// Balanced (Sinkhorn) assignment during training.
    pub balanced: bool,
    /// Worker threads (at least 1; the result does not depend on it).
    pub threads: usize,
    /// Train on a seeded random subsample of at most this many points; 0 (the default) means
    /// [`DEFAULT_POINTS_PER_CENTROID`]` · k`. Never fewer than `k` points are used.
    pub max_points: usize,
    /// Sinkhorn iterations per Lloyd iteration in balanced mode (default 20).
    pub sinkhorn_iters: usize,
}

impl Default for KMeansConfig {
    fn default() -> Self {
        KMeansConfig {
            k: 256,
            iters: 20,
            seed: 0,
            balanced: false,
            threads: std::thread::available_parallelism().map_or(1, |t| t.get()),
            max_points: 0,
            sinkhorn_iters: 20,
        }
    }
}

impl KMeansConfig {
    /// The sample size actually used for `n` training points.
    pub fn sample_size(&self, n: usize) -> usize {
        let cap = if self.max_points == 0 {
            self.k.saturating_mul(DEFAULT_POINTS_PER_CENTROID)
        } else {
            self.max_points
        };
        n.min(cap.max(self.k))
    }
}

/// A trained set of centroids.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeans {
    /// Number of centroids.
    pub k: usize,
    /// Values per centroid.
    pub dim: usize,
    /// The centroids, `k × dim`, row-major.
    pub centroids: Vec<f32>,
}

/// Trains `cfg.k` centroids on `data` (`n × dim`, row-major, finite).
///
/// Draws a seeded subsample of [`KMeansConfig::sample_size`] points, initialises with
/// k-means++ and runs `cfg.iters` Lloyd iterations on the subsample. Empty clusters are
/// refilled after every update by splitting the largest cluster (its centroid is copied and
/// both copies are nudged apart by a relative ±1/1024 per coordinate, as FAISS does).
///
/// Errors (`InvalidArgument`): `dim == 0`, `data.len()` not a multiple of `dim`, a non-finite
/// value, `k == 0`, `k > n`, `threads == 0`.
pub fn train(data: &[f32], dim: usize, cfg: &KMeansConfig) -> Result<KMeans> {
    let n = check_data(data, dim)?;
    check_cfg(cfg, n)?;
    let mut rng = Rng::new(cfg.seed, 0);
    let sample = subsample(data, dim, cfg.sample_size(n), &mut rng);
    let init = kmeans_pp(&sample, dim, cfg.k, &mut rng, cfg.threads);
    let centroids = lloyd(&sample, dim, init, cfg);
    Ok(KMeans {
        k: cfg.k,
        dim,
        centroids,
    })
}

/// Runs `cfg.iters` Lloyd iterations starting from `init` instead of k-means++ (to refine an
/// existing quantizer, or to time iterations alone). `cfg.k` is ignored; `init` decides k.
pub fn train_from(data: &[f32], dim: usize, init: &KMeans, cfg: &KMeansConfig) -> Result<KMeans> {
    let n = check_data(data, dim)?;
    if init.dim != dim || init.centroids.len() != init.k.saturating_mul(dim) {
        return Err(Error::InvalidArgument(format!(
            "initial centroids are {} values for k = {} and dim = {}, data has dim {dim}",
            init.centroids.len(),
            init.k,
            init.dim
        )));
    }
    if init.centroids.iter().any(|v| !v.is_finite()) {
        return Err(Error::InvalidArgument(
            "initial centroids are not finite".into(),
        ));
    }
    let cfg = KMeansConfig {
        k: init.k,
        ..cfg.clone()
    };
    check_cfg(&cfg, n)?;
    let mut rng = Rng::new(cfg.seed, 0);
    let sample = subsample(data, dim, cfg.sample_size(n), &mut rng);
    let centroids = lloyd(&sample, dim, init.centroids.clone(), &cfg);
    Ok(KMeans {
        k: init.k,
        dim,
        centroids,
    })
}

impl KMeans {
    /// Nearest centroid (squared L2) of every row of `data` and the squared distance to it.
    /// A trailing partial row is ignored; `threads == 0` is treated as 1.
    pub fn assign(&self, data: &[f32], threads: usize) -> (Vec<u32>, Vec<f32>) {
        assign::nearest_all(data, self.dim, &self.centroids, threads)
    }

    /// Assigns every row of `data` to a centroid so that no centroid gets more than
    /// `max(⌈n/k⌉, ⌈capacity_factor · n/k⌉)` rows: rows with the largest margin between their
    /// two nearest centroids choose first, each takes its nearest non-full centroid.
    ///
    /// Extra memory: 128 bytes per row (16 candidate centroids with distances).
    pub fn assign_balanced(&self, data: &[f32], threads: usize, capacity_factor: f32) -> Vec<u32> {
        balanced::capacity_assign(data, self.dim, &self.centroids, threads, capacity_factor)
    }

    /// The `n` centroids with the largest inner product with `q` (`q.len() == dim`), largest
    /// first, as `(score, centroid)`; ties go to the lower id. `out` is cleared first and can be
    /// reused across queries. A query of the wrong length yields nothing.
    pub fn nearest_ip(&self, q: &[f32], n: usize, out: &mut Vec<(f32, u32)>) {
        self.rank(q, n, out, assign::dot_many_for(self.dim), true);
    }

    /// The `n` centroids nearest to `q` in squared L2, nearest first, as `(distance, centroid)`.
    pub fn nearest_l2(&self, q: &[f32], n: usize, out: &mut Vec<(f32, u32)>) {
        self.rank(q, n, out, assign::l2sq_many_for(self.dim), false);
    }

    fn rank(
        &self,
        q: &[f32],
        n: usize,
        out: &mut Vec<(f32, u32)>,
        score: fn(&[f32], &[f32], &mut [f32]),
        larger_first: bool,
    ) {
        const B: usize = 64;
        out.clear();
        if self.dim == 0 || q.len() != self.dim || n == 0 {
            return;
        }
        let mut buf = [0.0f32; B];
        for (b, rows) in self.centroids.chunks(B * self.dim).enumerate() {
            let got = buf
                .get_mut(..(rows.len() / self.dim).min(B))
                .unwrap_or_default();
            score(q, rows, got);
            out.extend(
                got.iter()
                    .enumerate()
                    .map(|(i, &s)| (s, (b * B + i) as u32)),
            );
        }
        let cmp = |a: &(f32, u32), b: &(f32, u32)| {
            let by_score = if larger_first {
                b.0.total_cmp(&a.0)
            } else {
                a.0.total_cmp(&b.0)
            };
            by_score.then(a.1.cmp(&b.1))
        };
        if n < out.len() {
            out.select_nth_unstable_by(n - 1, cmp);
            out.truncate(n);
        }
        out.sort_unstable_by(cmp);
    }
}

/// Largest list size divided by the mean list size `n/k` (1 = perfectly even); ids `≥ k` are
/// ignored. 0 for no points or `k == 0`.
pub fn size_spread(assign: &[u32], k: usize) -> f64 {
    let counts = histogram(assign, k);
    let n: usize = counts.iter().sum();
    if n == 0 {
        return 0.0;
    }
    let max = counts.iter().copied().max().unwrap_or(0);
    max as f64 * k as f64 / n as f64
}

/// Shannon entropy in bits of the list-size histogram: `log2(k)` when all lists are equal,
/// 0 when one list holds everything. Ids `≥ k` are ignored.
pub fn entropy_bits(assign: &[u32], k: usize) -> f64 {
    let counts = histogram(assign, k);
    let n: usize = counts.iter().sum();
    if n == 0 {
        return 0.0;
    }
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n as f64;
            -p * p.log2()
        })
        .sum()
}

fn histogram(assign: &[u32], k: usize) -> Vec<usize> {
    let mut counts = vec![0usize; k];
    for &a in assign {
        if let Some(c) = counts.get_mut(a as usize) {
            *c += 1;
        }
    }
    counts
}

/// The number of rows, after checking shape and finiteness.
fn check_data(data: &[f32], dim: usize) -> Result<usize> {
    if dim == 0 {
        return Err(Error::InvalidArgument("dimension must be positive".into()));
    }
    if !data.len().is_multiple_of(dim) {
        return Err(Error::InvalidArgument(format!(
            "{} values are not whole rows of dimension {dim}",
            data.len()
        )));
    }
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "training row {} holds a non-finite value",
            i / dim
        )));
    }
    Ok(data.len() / dim)
}

fn check_cfg(cfg: &KMeansConfig, n: usize) -> Result<()> {
    if cfg.k == 0 {
        return Err(Error::InvalidArgument("k must be positive".into()));
    }
    if cfg.k > n {
        return Err(Error::InvalidArgument(format!(
            "k = {} centroids need at least as many training points, got {n}",
            cfg.k
        )));
    }
    if u32::try_from(cfg.k).is_err() {
        return Err(Error::InvalidArgument(format!("k = {} exceeds u32", cfg.k)));
    }
    if cfg.threads == 0 {
        return Err(Error::InvalidArgument("threads must be at least 1".into()));
    }
    Ok(())
}

/// A seeded uniform subsample of `m` rows (in their original order), or `data` itself if it has
/// no more than `m` rows.
fn subsample<'a>(data: &'a [f32], dim: usize, m: usize, rng: &mut Rng) -> Cow<'a, [f32]> {
    let n = data.len() / dim;
    if n <= m {
        return Cow::Borrowed(data);
    }
    let mut picked = partial_shuffle(n, m, rng);
    picked.sort_unstable();
    Cow::Owned(gather(data, dim, &picked))
}

/// The first `m` entries of a seeded Fisher–Yates shuffle of `0..n`.
fn partial_shuffle(n: usize, m: usize, rng: &mut Rng) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    for i in 0..m.min(n) {
        let j = i + rng.below(n - i);
        idx.swap(i, j);
    }
    idx.truncate(m);
    idx
}

/// Rows `idx` of `data`, concatenated.
fn gather(data: &[f32], dim: usize, idx: &[usize]) -> Vec<f32> {
    let mut out = Vec::with_capacity(idx.len() * dim);
    for &i in idx {
        out.extend_from_slice(data.get(i * dim..(i + 1) * dim).unwrap_or_default());
    }
    out
}

/// k-means++: the first centroid uniformly, each next one with probability proportional to its
/// squared distance to the nearest centroid chosen so far, from a random pool of at most
/// [`INIT_POOL_PER_CENTROID`]` · k` points. If every remaining distance is zero (fewer distinct
/// points than k) the next centroid is drawn uniformly.
fn kmeans_pp(sample: &[f32], dim: usize, k: usize, rng: &mut Rng, threads: usize) -> Vec<f32> {
    let n = sample.len() / dim;
    let pool_n = n
        .min(INIT_POOL_PER_CENTROID.saturating_mul(k))
        .max(k.min(n));
    let pool: Cow<'_, [f32]> = if pool_n < n {
        Cow::Owned(gather(sample, dim, &partial_shuffle(n, pool_n, rng)))
    } else {
        Cow::Borrowed(sample)
    };
    let row = |i: usize| pool.get(i * dim..(i + 1) * dim).unwrap_or_default();
    let l2_many = assign::l2sq_many_for(dim);

    let mut cents = Vec::with_capacity(k * dim);
    let mut d2 = vec![f32::INFINITY; pool_n];
    let mut pick = rng.below(pool_n);
    for _ in 0..k {
        let c = row(pick);
        cents.extend_from_slice(c);
        par_chunks_min(&mut d2, c, &pool, dim, threads, l2_many);
        let total: f64 = d2.iter().map(|&d| f64::from(d)).sum();
        pick = if total > 0.0 && total.is_finite() {
            let r = rng.unit() * total;
            let mut acc = 0.0f64;
            let mut chosen = None;
            for (i, &d) in d2.iter().enumerate() {
                acc += f64::from(d);
                if d > 0.0 {
                    chosen = Some(i);
                    if acc > r {
                        break;
                    }
                }
            }
            chosen.unwrap_or(0)
        } else {
            rng.below(pool_n)
        };
    }
    cents
}

/// `d2[i] = min(d2[i], ‖c − pool_i‖²)`, in parallel.
fn par_chunks_min(
    d2: &mut [f32],
    c: &[f32],
    pool: &[f32],
    dim: usize,
    threads: usize,
    l2_many: fn(&[f32], &[f32], &mut [f32]),
) {
    const SUB: usize = 256;
    par::par_chunks_mut(d2, 4 * SUB, threads, |ci, chunk| {
        let mut buf = [0.0f32; SUB];
        for (si, sub) in chunk.chunks_mut(SUB).enumerate() {
            let start = (ci * 4 * SUB + si * SUB) * dim;
            let rows = pool.get(start..).unwrap_or_default();
            let got = buf.get_mut(..sub.len()).unwrap_or_default();
            l2_many(c, rows, got);
            for (d, &g) in sub.iter_mut().zip(got.iter()) {
                *d = d.min(g);
            }
        }
    });
}

/// Lloyd iterations from `cents` on `sample`; returns the final centroids.
fn lloyd(sample: &[f32], dim: usize, mut cents: Vec<f32>, cfg: &KMeansConfig) -> Vec<f32> {
    let k = cents.len() / dim;
    if !cfg.balanced && k > neighbours(k) {
        return lloyd_local(sample, dim, cents, cfg);
    }
    let mut prev: Vec<u32> = Vec::new();
    let mut phi = vec![0.0f64; k];
    for _ in 0..cfg.iters {
        let assign = if cfg.balanced {
            let t = balanced::SINKHORN_CANDIDATES.min(k);
            let (ids, dists) = assign::nearest_t(sample, dim, &cents, t, cfg.threads, false);
            balanced::sinkhorn_assign(&ids, &dists, t, cfg.sinkhorn_iters, cfg.threads, &mut phi)
        } else {
            assign::nearest_all(sample, dim, &cents, cfg.threads).0
        };
        let mut counts = update_centroids(sample, dim, &assign, &mut cents, cfg.threads);
        let splits = repair_empty(&mut cents, dim, &mut counts);
        for &(empty, parent) in &splits {
            let p = phi.get(parent).copied().unwrap_or(0.0);
            if let Some(e) = phi.get_mut(empty) {
                *e = p;
            }
        }
        if !cfg.balanced && splits.is_empty() && assign == prev {
            break;
        }
        prev = assign;
    }
    cents
}

/// Plain Lloyd iterations, each point compared after the first iteration only with the
/// [`neighbours`]`(k)` centroids nearest to its current one (itself included) instead of all `k`: a
/// point's nearest centroid after a Lloyd step is almost always its old one or one of that
/// one's close neighbours, so the assignment costs that many distances per point (plus the `k²`
/// between centroids) instead of `n · k`. The first iteration compares with every centroid,
/// and so does the assignment of all rows after training. Measured on the WordNet coarse
/// quantizer (1,024 lists, 65,536 points): see docs/PERFORMANCE.md.
fn lloyd_local(sample: &[f32], dim: usize, mut cents: Vec<f32>, cfg: &KMeansConfig) -> Vec<f32> {
    let k = cents.len() / dim;
    let mut assign = assign::nearest_all(sample, dim, &cents, cfg.threads).0;
    for it in 0..cfg.iters {
        let mut counts = update_centroids(sample, dim, &assign, &mut cents, cfg.threads);
        let splits = repair_empty(&mut cents, dim, &mut counts);
        if it + 1 == cfg.iters {
            break;
        }
        let (near, _) = assign::nearest_t(&cents, dim, &cents, neighbours(k), cfg.threads, false);
        let next = assign::nearest_local(sample, dim, &cents, &assign, &near, cfg.threads);
        if splits.is_empty() && next == assign {
            break;
        }
        assign = next;
    }
    cents
}

/// Moves every centroid to the mean of its points (summed in f64, in point order); centroids
/// without points are left as they were. Returns the list sizes.
fn update_centroids(
    sample: &[f32],
    dim: usize,
    assign: &[u32],
    cents: &mut [f32],
    threads: usize,
) -> Vec<usize> {
    let k = cents.len() / dim;
    let counts = histogram(assign, k);
    let (starts, members) = assign::group(assign, k);
    par::par_chunks_mut(cents, UPDATE_CHUNK * dim, threads, |ci, block| {
        let mut sum = vec![0.0f64; dim];
        for (r, cent) in block.chunks_exact_mut(dim).enumerate() {
            let j = ci * UPDATE_CHUNK + r;
            let (Some(&s), Some(&e)) = (starts.get(j), starts.get(j + 1)) else {
                continue;
            };
            let mine = members.get(s..e).unwrap_or_default();
            if mine.is_empty() {
                continue;
            }
            sum.fill(0.0);
            for &i in mine {
                let row = sample.get(i * dim..(i + 1) * dim).unwrap_or_default();
                for (a, &x) in sum.iter_mut().zip(row) {
                    *a += f64::from(x);
                }
            }
            let inv = 1.0 / mine.len() as f64;
            for (c, &a) in cent.iter_mut().zip(&sum) {
                *c = (a * inv) as f32;
            }
        }
    });
    counts
}

/// Refills every empty cluster by splitting the currently largest one (lowest id on ties), as
/// FAISS does: the empty centroid becomes a copy of the large one, and the two are nudged apart
/// by multiplying alternate coordinates by `1 ± SPLIT_EPS`. Half the large cluster's count
/// moves to the new one. Clusters of one point are never split. Returns `(empty, parent)` pairs.
fn repair_empty(cents: &mut [f32], dim: usize, counts: &mut [usize]) -> Vec<(usize, usize)> {
    let mut splits = Vec::new();
    for j in 0..counts.len() {
        if counts.get(j).copied() != Some(0) {
            continue;
        }
        let Some((i, ci)) = counts
            .iter()
            .copied()
            .enumerate()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        else {
            break;
        };
        if ci < 2 {
            break;
        }
        let parent: Vec<f32> = cents
            .get(i * dim..(i + 1) * dim)
            .unwrap_or_default()
            .to_vec();
        if let Some(row) = cents.get_mut(j * dim..(j + 1) * dim) {
            for (d, (c, &p)) in row.iter_mut().zip(&parent).enumerate() {
                *c = p * if d % 2 == 0 {
                    1.0 + SPLIT_EPS
                } else {
                    1.0 - SPLIT_EPS
                };
            }
        }
        if let Some(row) = cents.get_mut(i * dim..(i + 1) * dim) {
            for (d, c) in row.iter_mut().enumerate() {
                *c *= if d % 2 == 0 {
                    1.0 - SPLIT_EPS
                } else {
                    1.0 + SPLIT_EPS
                };
            }
        }
        if let Some(c) = counts.get_mut(j) {
            *c = ci / 2;
        }
        if let Some(c) = counts.get_mut(i) {
            *c = ci - ci / 2;
        }
        splits.push((j, i));
    }
    splits
}

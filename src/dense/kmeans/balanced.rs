//! Balanced assignment: Sinkhorn during training, a capacity cap when filling lists.
//!
//! **Training (RepCONC-style constrained clustering).** Each point keeps only its
//! [`SINKHORN_CANDIDATES`] nearest centroids; the rest of its row of the transport matrix is
//! treated as zero (those entries are `exp(−gap/ε)` with gaps far larger than ε, so they would
//! be negligible anyway). On that sparse `n × t` matrix `K_ij = exp(−(D_ij − min_j D_ij)/ε)` we
//! run Sinkhorn with uniform marginals — alternately scale rows to equal mass and columns to
//! `n/k` each — and then give each point the column maximising `K_ij·v_j`. Memory is `n·t`
//! floats plus ids (8·t bytes per point, 256 B at t = 32) instead of the dense `n × k` matrix,
//! and the `exp`s are computed once per k-means iteration, not once per Sinkhorn iteration.
//!
//! ε is [`EPS_FACTOR`] times the mean gap `D_ij − min_j D_ij` over the stored entries, so it
//! adapts to the scale of the data and to how far training has converged. The column scalings
//! are kept between k-means iterations as dual potentials in distance units (`φ_j = ε·ln v_j`),
//! which warm-starts Sinkhorn, and Sinkhorn stops as soon as every centroid's mass is within
//! [`TOLERANCE`] of `n/k`: after the first k-means iterations that takes 1–3 rounds, and the
//! rounds add up over the run.
//! Row scalings and column sums are f64, column scalings are normalised to a maximum of 1 and
//! floored at [`V_FLOOR`], so nothing overflows or divides by zero.
//!
//! **Filling lists** ([`capacity_assign`]): each list may hold at most `cap` points. Points are
//! taken in decreasing order of the margin between their second-nearest and nearest centroid
//! (the points that lose most by moving go first) and each goes to its nearest non-full
//! centroid among its [`CAPACITY_CANDIDATES`] nearest, or, if all of those are full, among all
//! centroids.

use super::assign::{l2sq_many_for, nearest_t};
use super::par::{par_chunks_mut, par_map};

/// Centroids per point kept in the sparse Sinkhorn matrix.
pub(crate) const SINKHORN_CANDIDATES: usize = 32;

/// Candidate centroids per point considered by the capacity-capped assignment.
pub(crate) const CAPACITY_CANDIDATES: usize = 16;

/// ε as a fraction of the mean stored gap. Smaller gives harder, more balanced assignments but
/// Sinkhorn converges more slowly.
pub(crate) const EPS_FACTOR: f64 = 0.1;

/// Sinkhorn stops early once every column's mass is within this fraction of `n/k`.
pub(crate) const TOLERANCE: f64 = 0.02;

/// Smallest column scaling (after normalising the largest to 1).
const V_FLOOR: f64 = 1e-200;

/// Points per parallel Sinkhorn task.
const CHUNK: usize = 4096;

/// Assigns each of the `n = ids.len() / t` points to one of `k` centroids so that list sizes are
/// close to `n/k`, given each point's `t` nearest centroids (`ids`, `dists`, the nearest
/// first in each row).
///
/// `phi` holds one dual potential per centroid (zeros to start cold) and is updated for the
/// next call.
pub(crate) fn sinkhorn_assign(
    ids: &[u32],
    dists: &[f32],
    t: usize,
    iters: usize,
    threads: usize,
    phi: &mut [f64],
) -> Vec<u32> {
    let k = phi.len();
    if t == 0 || k == 0 {
        return Vec::new();
    }
    let n = ids.len() / t;
    let eps = epsilon(dists, t);

    // The kernel matrix, row minima subtracted so every row's largest entry is 1.
    let mut kmat = vec![0.0f32; n * t];
    let inv_eps = (1.0 / eps) as f32;
    par_chunks_mut(&mut kmat, CHUNK * t, threads, |c, out| {
        let src = dists.get(c * CHUNK * t..).unwrap_or_default();
        for (orow, drow) in out.chunks_exact_mut(t).zip(src.chunks_exact(t)) {
            let d0 = drow.first().copied().unwrap_or(0.0);
            for (o, &d) in orow.iter_mut().zip(drow) {
                *o = ((d0 - d) * inv_eps).exp();
            }
        }
    });

    let pmax = phi.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut v: Vec<f64> = phi
        .iter()
        .map(|&p| ((p - pmax) / eps).exp().max(V_FLOOR))
        .collect();
    let mut u = vec![0.0f64; n];
    let target = n as f64 / k as f64;
    for _ in 0..iters {
        // Rows: each point carries mass 1.
        par_chunks_mut(&mut u, CHUNK, threads, |c, uc| {
            let base = c * CHUNK * t;
            let krows = kmat.get(base..).unwrap_or_default().chunks_exact(t);
            let irows = ids.get(base..).unwrap_or_default().chunks_exact(t);
            for ((ui, krow), irow) in uc.iter_mut().zip(krows).zip(irows) {
                let s = weighted(krow, irow, &v);
                *ui = if s > 0.0 { 1.0 / s } else { 1.0 / V_FLOOR };
            }
        });
        // Columns: each centroid receives mass n/k. Partial sums per fixed chunk, added in
        // chunk order, so the result does not depend on the thread count.
        let partials = par_map(n.div_ceil(CHUNK), threads, |c| {
            let mut s = vec![0.0f64; k];
            let base = c * CHUNK * t;
            let krows = kmat.get(base..).unwrap_or_default().chunks_exact(t);
            let irows = ids.get(base..).unwrap_or_default().chunks_exact(t);
            let us = u.get(c * CHUNK..).unwrap_or_default();
            for ((&ui, krow), irow) in us.iter().zip(krows).zip(irows).take(CHUNK) {
                for (&kij, &j) in krow.iter().zip(irow) {
                    if let Some(sj) = s.get_mut(j as usize) {
                        *sj += f64::from(kij) * ui;
                    }
                }
            }
            s
        });
        let mut col = vec![0.0f64; k];
        for p in &partials {
            for (a, b) in col.iter_mut().zip(p) {
                *a += b;
            }
        }
        // Stop once every reachable centroid's mass is within TOLERANCE of n/k (rows are exact
        // right after the row step). Warm-started runs usually stop after a few iterations.
        let worst = v
            .iter()
            .zip(&col)
            .filter(|&(_, &cj)| cj > 0.0)
            .map(|(&vj, &cj)| (vj * cj / target - 1.0).abs())
            .fold(0.0f64, f64::max);
        if worst < TOLERANCE {
            break;
        }
        for (vj, &cj) in v.iter_mut().zip(&col) {
            if cj > 0.0 && cj.is_finite() {
                *vj = target / cj;
            }
        }
        let vmax = v.iter().copied().fold(0.0f64, f64::max);
        if vmax > 0.0 && vmax.is_finite() {
            for vj in &mut v {
                *vj = (*vj / vmax).max(V_FLOOR);
            }
        }
    }
    for (p, &vj) in phi.iter_mut().zip(&v) {
        *p = eps * vj.ln();
    }

    kmat.chunks_exact(t)
        .zip(ids.chunks_exact(t))
        .map(|(krow, irow)| {
            let mut best = (irow.first().copied().unwrap_or(0), f64::NEG_INFINITY);
            for (&kij, &j) in krow.iter().zip(irow) {
                let w = f64::from(kij) * v.get(j as usize).copied().unwrap_or(0.0);
                if w > best.1 {
                    best = (j, w);
                }
            }
            best.0
        })
        .collect()
}

/// `Σ_j K_ij · v_{id_j}` over one point's candidates.
fn weighted(krow: &[f32], irow: &[u32], v: &[f64]) -> f64 {
    krow.iter()
        .zip(irow)
        .map(|(&kij, &j)| f64::from(kij) * v.get(j as usize).copied().unwrap_or(0.0))
        .sum()
}

/// ε: [`EPS_FACTOR`] × the mean gap between a stored distance and its row's minimum
/// (1 if every gap is zero, e.g. for duplicate points).
fn epsilon(dists: &[f32], t: usize) -> f64 {
    let (mut sum, mut cnt) = (0.0f64, 0usize);
    for row in dists.chunks_exact(t) {
        let d0 = f64::from(row.first().copied().unwrap_or(0.0));
        for &d in row.iter().skip(1) {
            sum += f64::from(d) - d0;
            cnt += 1;
        }
    }
    let gap = if cnt > 0 { sum / cnt as f64 } else { 0.0 };
    if gap > 0.0 && gap.is_finite() {
        EPS_FACTOR * gap
    } else {
        1.0
    }
}

/// Assigns every row of `data` to a centroid with at most `cap` rows per centroid, where
/// `cap = max(⌈n/k⌉, ⌈capacity_factor · n/k⌉)` (so a factor below 1, or NaN, means 1).
pub(crate) fn capacity_assign(
    data: &[f32],
    dim: usize,
    cents: &[f32],
    threads: usize,
    capacity_factor: f32,
) -> Vec<u32> {
    if dim == 0 {
        return Vec::new();
    }
    let n = data.len() / dim;
    let k = cents.len() / dim;
    if n == 0 || k == 0 {
        return vec![0; n];
    }
    let even = n.div_ceil(k);
    let asked = (f64::from(capacity_factor) * n as f64 / k as f64).ceil();
    let cap = if asked.is_finite() && asked > even as f64 {
        asked.min(n as f64) as usize
    } else {
        even
    };
    let t = CAPACITY_CANDIDATES.min(k);
    let (ids, dists) = nearest_t(data, dim, cents, t, threads, true);

    let margin = |i: usize| -> f32 {
        let row = dists.get(i * t..(i + 1) * t).unwrap_or_default();
        match row {
            [d0, d1, ..] => d1 - d0,
            _ => f32::INFINITY,
        }
    };
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.sort_by(|&a, &b| margin(b as usize).total_cmp(&margin(a as usize)));

    let mut counts = vec![0usize; k];
    let mut out = vec![0u32; n];
    let mut full_row = vec![0.0f32; k];
    for &i in &order {
        let i = i as usize;
        let cands = ids.get(i * t..(i + 1) * t).unwrap_or_default();
        let pick = cands
            .iter()
            .copied()
            .find(|&j| counts.get(j as usize).is_some_and(|&c| c < cap))
            .unwrap_or_else(|| {
                // Every candidate is full: the nearest non-full centroid overall.
                let row = data.get(i * dim..(i + 1) * dim).unwrap_or_default();
                l2sq_many_for(dim)(row, cents, &mut full_row);
                let mut best: Option<(u32, f32)> = None;
                for (j, (&d, &c)) in full_row.iter().zip(&counts).enumerate() {
                    if c < cap && best.is_none_or(|b| d < b.1) {
                        best = Some((j as u32, d));
                    }
                }
                // `cap · k ≥ n`, so some centroid is never full here.
                best.map_or(0, |b| b.0)
            });
        if let Some(c) = counts.get_mut(pick as usize) {
            *c += 1;
        }
        if let Some(o) = out.get_mut(i) {
            *o = pick;
        }
    }
    out
}

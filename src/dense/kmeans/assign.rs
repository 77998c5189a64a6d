//! Blocked point-to-centroid distances: the GEMM-shaped inner loop of k-means.
//!
//! Squared distances are computed as `‖x‖² − 2·x·c + ‖c‖²`, so the work is one inner product
//! per (point, centroid) pair. A block of [`ROW_BLOCK`] points is scored against all centroids
//! with the dispatched `dot_f32_cross` kernel (a GEMM that packs the block once and the
//! centroids a tile at a time, and keeps 3 × 4 accumulators in registers with AVX2, 6 × 4 with
//! AVX-512VL), so both the point block and the centroid tile stay in L2 while they are reused. Measured on the WordNet build (nlist 1024,
//! dim 384, one core): the row-by-row `dot_f32_many` assignment was 74% of the build.
//!
//! Rows of at most [`SMALL_DIM`] values (PQ sub-vectors) use two inline loops instead of the
//! kernels ([`dot_many_for`], [`l2sq_many_for`]): there a kernel call's fixed cost dominates.
//! They are checked against the scalar kernels in the tests.
//!
//! Every row's result depends only on that row and the centroids, never on the block or thread
//! it was computed in, so assignments are identical for any thread count.

use super::par::par_map;
use crate::dense::kernels;

/// Points scored together against the centroids: a multiple of the GEMM kernels' register tiles
/// (3 rows for AVX2, 6 for AVX-512VL), so that no tile is padded.
pub(crate) const ROW_BLOCK: usize = 72;

/// Rows of at most this many values are scored with the inline loops at the bottom of this file
/// rather than the dispatched kernels: at these lengths (PQ sub-vectors) a kernel call's fixed
/// cost, and its tail handling when the length is not a multiple of 8, outweigh the arithmetic.
pub(crate) const SMALL_DIM: usize = 16;

/// One query against consecutive rows, with the contract of the kernels' `*_many` functions.
pub(crate) type ScoreMany = fn(&[f32], &[f32], &mut [f32]);

/// The fastest inner-product `*_many` function for rows of `dim` values.
pub(crate) fn dot_many_for(dim: usize) -> ScoreMany {
    if dim <= SMALL_DIM {
        dot_many_small
    } else {
        kernels::best().dot_f32_many
    }
}

/// The fastest squared-L2 `*_many` function for rows of `dim` values.
pub(crate) fn l2sq_many_for(dim: usize) -> ScoreMany {
    if dim <= SMALL_DIM {
        l2sq_many_small
    } else {
        kernels::best().l2sq_f32_many
    }
}

/// Points per parallel task.
pub(crate) const TASK_ROWS: usize = 8 * ROW_BLOCK;

/// Squared norm of every centroid (`k` rows of `dim`).
pub(crate) fn norms(rows: &[f32], dim: usize) -> Vec<f32> {
    if dim == 0 {
        return Vec::new();
    }
    if dim <= SMALL_DIM {
        let mut n = vec![0.0f32; rows.len() / dim];
        for (r, o) in rows.chunks_exact(dim).zip(&mut n) {
            dot_many_small(r, r, std::slice::from_mut(o));
        }
        return n;
    }
    let dot = kernels::best().dot_f32;
    rows.chunks_exact(dim).map(|r| dot(r, r)).collect()
}

/// Squared L2 distances from each row of `rows` to every centroid, written row-major into `out`
/// (`rows × k`, `k = c_norms.len()`). Distances are clamped at zero (the expansion can go
/// slightly negative through rounding). Requires `dim > 0`.
pub(crate) fn block_distances(
    rows: &[f32],
    cents: &[f32],
    c_norms: &[f32],
    dim: usize,
    out: &mut [f32],
) {
    let kern = kernels::best();
    let dot_many = dot_many_for(dim);
    let k = c_norms.len();
    if k == 0 || dim == 0 {
        return;
    }
    if dim == 4 {
        distances_4(rows, cents, c_norms, out);
        return;
    }
    if dim == 8 {
        distances_soa::<8>(rows, cents, c_norms, out);
        return;
    }
    if dim <= SMALL_DIM {
        // Short rows (PQ sub-vectors): a kernel call per row costs more than its arithmetic, so
        // the norms and dot products are inline loops, all centroids at once.
        for (row, orow) in rows.chunks_exact(dim).zip(out.chunks_exact_mut(k)) {
            dot_many(row, cents, orow);
            let mut xn = 0.0f32;
            dot_many(row, row, std::slice::from_mut(&mut xn));
            for (o, &cn) in orow.iter_mut().zip(c_norms) {
                *o = (xn + cn - 2.0 * *o).max(0.0);
            }
        }
        return;
    }
    // The register-tiled kernel: it packs the block once and tiles the centroids itself.
    (kern.dot_f32_cross)(rows, cents, dim, out, k);
    for (row, orow) in rows.chunks_exact(dim).zip(out.chunks_exact_mut(k)) {
        let xn = (kern.dot_f32)(row, row);
        for (o, &cn) in orow.iter_mut().zip(c_norms) {
            *o = (xn + cn - 2.0 * *o).max(0.0);
        }
    }
}

/// [`block_distances`] for rows of 4 values (PQ's usual sub-vector), bit for bit the general
/// short-row path: every sum is formed as [`dot_many_small`] forms it (`0.0 +` each product,
/// then `(a0 + a2) + (a1 + a3)`), but with the centroids transposed to one slice per coordinate
/// so that the loop over centroids is vectorised. Measured on the WordNet build (m 96 × 4 bits):
/// the per-row calls of the short-row path were about 13% of the build.
fn distances_4(rows: &[f32], cents: &[f32], c_norms: &[f32], out: &mut [f32]) {
    let k = c_norms.len();
    let mut soa = vec![0.0f32; 4 * k];
    let (s0, rest) = soa.split_at_mut(k);
    let (s1, rest) = rest.split_at_mut(k);
    let (s2, s3) = rest.split_at_mut(k);
    for ((((c, t0), t1), t2), t3) in cents
        .as_chunks::<4>()
        .0
        .iter()
        .zip(s0.iter_mut())
        .zip(s1.iter_mut())
        .zip(s2.iter_mut())
        .zip(s3.iter_mut())
    {
        [*t0, *t1, *t2, *t3] = *c;
    }
    let (s0, s1, s2, s3) = (&*s0, &*s1, &*s2, &*s3);
    for (x, orow) in rows.as_chunks::<4>().0.iter().zip(out.chunks_exact_mut(k)) {
        let [x0, x1, x2, x3] = *x;
        let xn = ((0.0 + x0 * x0) + (0.0 + x2 * x2)) + ((0.0 + x1 * x1) + (0.0 + x3 * x3));
        for (((((o, &c0), &c1), &c2), &c3), &cn) in orow
            .iter_mut()
            .zip(s0)
            .zip(s1)
            .zip(s2)
            .zip(s3)
            .zip(c_norms)
        {
            let dot = ((0.0 + x0 * c0) + (0.0 + x2 * c2)) + ((0.0 + x1 * c1) + (0.0 + x3 * c3));
            *o = (xn + cn - 2.0 * dot).max(0.0);
        }
    }
}

/// [`block_distances`] for rows of `N` values (`N` a multiple of 4: PQ m48x8's sub-vectors
/// have 8), bit for bit the general short-row path as [`distances_4`]: lane `l` of
/// [`dot_many_small`]'s accumulators is `0.0 + x_l·c_l + x_{l+4}·c_{l+4} + …` in that order, here
/// kept as one buffer over all centroids per lane so that every loop runs across centroids and
/// is vectorised. Measured on the WordNet m48x8 build (256 centroids of 8 values): 63 s, most
/// of it in the per-row short-row path.
fn distances_soa<const N: usize>(rows: &[f32], cents: &[f32], c_norms: &[f32], out: &mut [f32]) {
    let k = c_norms.len();
    // Coordinate `t` of every centroid: soa[t·k..(t + 1)·k].
    let mut soa = vec![0.0f32; N * k];
    for (j, c) in cents.as_chunks::<N>().0.iter().take(k).enumerate() {
        for (col, &v) in soa.chunks_exact_mut(k.max(1)).zip(c) {
            if let Some(s) = col.get_mut(j) {
                *s = v;
            }
        }
    }
    let mut lanes = vec![0.0f32; 4 * k];
    for (x, orow) in rows.as_chunks::<N>().0.iter().zip(out.chunks_exact_mut(k)) {
        let mut xacc = [0.0f32; 4];
        for (t, &v) in x.iter().enumerate() {
            if let Some(a) = xacc.get_mut(t % 4) {
                *a += v * v;
            }
        }
        let [x0, x1, x2, x3] = xacc;
        let xn = (x0 + x2) + (x1 + x3);
        lanes.fill(0.0);
        for (l, lane) in lanes.chunks_exact_mut(k.max(1)).enumerate() {
            for (&xt, col) in x
                .iter()
                .zip(soa.chunks_exact(k.max(1)))
                .skip(l)
                .step_by(4)
            {
                for (a, &c) in lane.iter_mut().zip(col) {
                    *a += xt * c;
                }
            }
        }
        let (l0, rest) = lanes.split_at(k);
        let (l1, rest) = rest.split_at(k);
        let (l2, l3) = rest.split_at(k);
        for (((((o, &a0), &a1), &a2), &a3), &cn) in orow
            .iter_mut()
            .zip(l0)
            .zip(l1)
            .zip(l2)
            .zip(l3)
            .zip(c_norms)
        {
            let dot = (a0 + a2) + (a1 + a3);
            *o = (xn + cn - 2.0 * dot).max(0.0);
        }
    }
}

/// Index and value of the smallest entry (the first one on ties; NaN never wins).
pub(crate) fn argmin(row: &[f32]) -> (u32, f32) {
    // The minimum over eight independent lanes (a loop the compiler vectorises), then the
    // first position holding it: the same answer as one strict `<` scan, without a branch per
    // value (measured: the per-row scan was ~14% of the WordNet m48 × 8 build).
    if row.len() <= 32 {
        // Short rows (PQ sub-spaces of 16 centroids): one scan costs less than two passes.
        let mut best = (0u32, f32::INFINITY);
        for (j, &d) in row.iter().enumerate() {
            if d < best.1 {
                best = (j as u32, d);
            }
        }
        return best;
    }
    let mut lanes = [f32::INFINITY; 8];
    let (chunks, tail) = row.as_chunks::<8>();
    for c in chunks {
        for (l, &d) in lanes.iter_mut().zip(c) {
            *l = if d < *l { d } else { *l };
        }
    }
    let mut min = lanes.iter().fold(f32::INFINITY, |m, &d| if d < m { d } else { m });
    for &d in tail {
        if d < min {
            min = d;
        }
    }
    match row.iter().position(|&d| d == min) {
        Some(j) if min < f32::INFINITY => (j as u32, min),
        _ => (0, f32::INFINITY),
    }
}

/// Nearest centroid (squared L2) of every row of `data`, and its distance.
pub(crate) fn nearest_all(
    data: &[f32],
    dim: usize,
    cents: &[f32],
    threads: usize,
) -> (Vec<u32>, Vec<f32>) {
    if dim == 0 {
        return (Vec::new(), Vec::new());
    }
    let c_norms = norms(cents, dim);
    let k = c_norms.len();
    let n = data.len() / dim;
    let parts = par_map(n.div_ceil(TASK_ROWS), threads, |task| {
        let rows = task_rows(data, dim, task);
        let mut dist = vec![0.0f32; ROW_BLOCK * k];
        let mut a = Vec::with_capacity(rows.len() / dim);
        let mut d = Vec::with_capacity(rows.len() / dim);
        for block in rows.chunks(ROW_BLOCK * dim) {
            block_distances(block, cents, &c_norms, dim, &mut dist);
            for row in dist.chunks_exact(k.max(1)).take(block.len() / dim) {
                let (j, v) = argmin(row);
                a.push(j);
                d.push(v);
            }
        }
        (a, d)
    });
    let mut assign = Vec::with_capacity(n);
    let mut dists = Vec::with_capacity(n);
    for (a, d) in parts {
        assign.extend(a);
        dists.extend(d);
    }
    (assign, dists)
}

/// The rows of each centroid, by counting sort (row order kept): the rows assigned to `j` are
/// `members[starts[j]..starts[j + 1]]` (`k + 1` starts; ids `≥ k` are left out).
pub(crate) fn group(assign: &[u32], k: usize) -> (Vec<usize>, Vec<usize>) {
    let mut starts = vec![0usize; k + 1];
    for &a in assign {
        if let Some(s) = starts.get_mut(a as usize + 1) {
            *s += 1;
        }
    }
    for j in 0..k {
        let prev = starts.get(j).copied().unwrap_or(0);
        if let Some(s) = starts.get_mut(j + 1) {
            *s += prev;
        }
    }
    let mut cursor = starts.clone();
    let mut members = vec![0usize; starts.last().copied().unwrap_or(0)];
    for (i, &a) in assign.iter().enumerate() {
        if let Some(pos) = cursor.get_mut(a as usize) {
            if let Some(m) = members.get_mut(*pos) {
                *m = i;
            }
            *pos += 1;
        }
    }
    (starts, members)
}

/// The nearest centroid of every row of `data` among the candidates of its current centroid:
/// row `i`, assigned to `assign[i]`, is compared with centroid `assign[i]` and the ids in row
/// `assign[i]` of `near` (`k` rows of `t` ids). Ties go to the lower id. Rows are grouped by
/// centroid so that each group is one small block against its candidates.
pub(crate) fn nearest_local(
    data: &[f32],
    dim: usize,
    cents: &[f32],
    assign: &[u32],
    near: &[u32],
    threads: usize,
) -> Vec<u32> {
    let c_norms = norms(cents, dim);
    let k = c_norms.len();
    if dim == 0 || k == 0 {
        return assign.to_vec();
    }
    let t = near.len() / k;
    let (starts, members) = group(assign, k);
    const GROUPS: usize = 16;
    let parts = par_map(k.div_ceil(GROUPS), threads, |task| {
        let mut out: Vec<(usize, u32)> = Vec::new();
        let (mut ids, mut cand, mut cn, mut pts, mut dist) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for j in task * GROUPS..((task + 1) * GROUPS).min(k) {
            let (Some(&s), Some(&e)) = (starts.get(j), starts.get(j + 1)) else {
                continue;
            };
            let mine = members.get(s..e).unwrap_or_default();
            if mine.is_empty() {
                continue;
            }
            ids.clear();
            ids.push(j as u32);
            let row = near.get(j * t..(j + 1) * t).unwrap_or_default();
            ids.extend(row.iter().copied().filter(|&c| c as usize != j && (c as usize) < k));
            cand.clear();
            cn.clear();
            for &c in &ids {
                let c = c as usize;
                cand.extend_from_slice(cents.get(c * dim..(c + 1) * dim).unwrap_or_default());
                cn.push(c_norms.get(c).copied().unwrap_or(0.0));
            }
            for block in mine.chunks(ROW_BLOCK) {
                pts.clear();
                for &i in block {
                    pts.extend_from_slice(data.get(i * dim..(i + 1) * dim).unwrap_or_default());
                }
                dist.resize(block.len() * ids.len(), 0.0);
                block_distances(&pts, &cand, &cn, dim, &mut dist);
                for (&i, drow) in block.iter().zip(dist.chunks_exact(ids.len())) {
                    // The nearest, ties to the lower id (candidates are not in id order).
                    let (_, min) = argmin(drow);
                    let best = ids
                        .iter()
                        .zip(drow)
                        .filter(|&(_, &d)| d == min)
                        .map(|(&c, _)| c)
                        .min()
                        .unwrap_or(j as u32);
                    out.push((i, best));
                }
            }
        }
        out
    });
    let mut next = assign.to_vec();
    for (i, c) in parts.into_iter().flatten() {
        if let Some(a) = next.get_mut(i) {
            *a = c;
        }
    }
    next
}

/// The `t` nearest centroids of every row (`t ≤ k`) as two `n × t` matrices: centroid ids and
/// squared distances. With `sorted` each row is nearest first (ties by the lower id); without,
/// only the nearest is guaranteed to come first (cheaper; Sinkhorn needs no more).
pub(crate) fn nearest_t(
    data: &[f32],
    dim: usize,
    cents: &[f32],
    t: usize,
    threads: usize,
    sorted: bool,
) -> (Vec<u32>, Vec<f32>) {
    if dim == 0 {
        return (Vec::new(), Vec::new());
    }
    let c_norms = norms(cents, dim);
    let k = c_norms.len();
    let t = t.min(k);
    let n = data.len() / dim;
    let parts = par_map(n.div_ceil(TASK_ROWS), threads, |task| {
        let rows = task_rows(data, dim, task);
        let mut dist = vec![0.0f32; ROW_BLOCK * k];
        let mut pairs: Vec<(f32, u32)> = Vec::with_capacity(k);
        let mut ids = Vec::with_capacity(rows.len() / dim * t);
        let mut ds = Vec::with_capacity(rows.len() / dim * t);
        for block in rows.chunks(ROW_BLOCK * dim) {
            block_distances(block, cents, &c_norms, dim, &mut dist);
            for row in dist.chunks_exact(k.max(1)).take(block.len() / dim) {
                smallest(row, t, sorted, &mut pairs);
                ids.extend(pairs.iter().map(|p| p.1));
                ds.extend(pairs.iter().map(|p| p.0));
            }
        }
        (ids, ds)
    });
    let mut ids = Vec::with_capacity(n * t);
    let mut ds = Vec::with_capacity(n * t);
    for (i, d) in parts {
        ids.extend(i);
        ds.extend(d);
    }
    (ids, ds)
}

/// The `t` smallest entries of `row` as `(value, index)`: ascending (ties by index) if
/// `sorted`, otherwise in no particular order except that the smallest comes first.
pub(crate) fn smallest(row: &[f32], t: usize, sorted: bool, out: &mut Vec<(f32, u32)>) {
    out.clear();
    if t == 0 {
        return;
    }
    out.extend(row.iter().enumerate().map(|(j, &d)| (d, j as u32)));
    let cmp = |a: &(f32, u32), b: &(f32, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
    if t < out.len() {
        out.select_nth_unstable_by(t - 1, cmp);
        out.truncate(t);
    }
    if sorted {
        out.sort_unstable_by(cmp);
    } else if let Some((first, _)) = out.iter().enumerate().min_by(|a, b| cmp(a.1, b.1)) {
        out.swap(0, first);
    }
}

/// The rows of parallel task `task` (an empty slice past the end).
fn task_rows(data: &[f32], dim: usize, task: usize) -> &[f32] {
    let start = (task * TASK_ROWS * dim).min(data.len());
    let end = ((task + 1) * TASK_ROWS * dim).min(data.len());
    data.get(start..end).unwrap_or_default()
}

/// `dot_f32_many` for short rows: four lanes that the compiler keeps in one SSE register,
/// then a horizontal sum.
pub(crate) fn dot_many_small(q: &[f32], rows: &[f32], out: &mut [f32]) {
    small_many(q, rows, out, |x, y| x * y);
}

/// `l2sq_f32_many` for short rows (see [`dot_many_small`]).
pub(crate) fn l2sq_many_small(q: &[f32], rows: &[f32], out: &mut [f32]) {
    small_many(q, rows, out, |x, y| (x - y) * (x - y));
}

#[inline(always)]
fn small_many(q: &[f32], rows: &[f32], out: &mut [f32], term: impl Fn(f32, f32) -> f32) {
    if let Ok(q4) = <&[f32; 4]>::try_from(q) {
        // PQ's usual sub-vector: the same sums, with the loop bounds known.
        let (r4, _) = rows.as_chunks::<4>();
        for (o, y) in out.iter_mut().zip(r4) {
            // `0.0 +` as the accumulators below (it turns a -0.0 term into +0.0).
            let mut acc = [0.0f32; 4];
            for ((s, &a), &b) in acc.iter_mut().zip(q4).zip(y) {
                *s += term(a, b);
            }
            let [a0, a1, a2, a3] = acc;
            *o = (a0 + a2) + (a1 + a3);
        }
        return;
    }
    if q.is_empty() {
        out.fill(0.0);
        return;
    }
    let (q4, q_tail) = q.as_chunks::<4>();
    for (o, row) in out.iter_mut().zip(rows.chunks_exact(q.len())) {
        let (r4, r_tail) = row.as_chunks::<4>();
        let mut acc = [0.0f32; 4];
        for (x, y) in q4.iter().zip(r4) {
            for ((s, &a), &b) in acc.iter_mut().zip(x).zip(y) {
                *s += term(a, b);
            }
        }
        let [a0, a1, a2, a3] = acc;
        let mut sum = (a0 + a2) + (a1 + a3);
        for (&a, &b) in q_tail.iter().zip(r_tail) {
            sum += term(a, b);
        }
        *o = sum;
    }
}

//! The register-tiled kernels shared by the AVX2 and AVX-512 tables (x86_64 only): the k-means
//! GEMM (`cross_chain!`) and the batched exact scan (`batch_chain!`), stamped out by `avx2.rs`
//! and `avx512.rs` with their own target features and tile shapes, and the packing, widening
//! and reduction helpers they call. Safety: as for `avx2.rs` (see docs/UNSAFE.md); every
//! `#[target_feature]` function here is reached only through a table handed out after the
//! features were detected.
#![allow(unsafe_code)]

use std::arch::x86_64::*;

use half::f16;

use super::avx2::{load_f16, load_f32};

/// Rows of `b` per register tile of `dot_f32_cross_tf`: the four sums of one row of `a` are
/// finished together by one [`hsum4`].
pub(super) const CROSS_B: usize = 4;

/// Rows of `b` packed at a time by `dot_f32_cross_tf`: 64 × 384 f32 are 96 KiB, which stay in
/// L2 while every group of rows of `a` streams past them.
pub(super) const CROSS_B_TILE: usize = 64;

/// The k-means GEMM (`dot_f32_cross_tf` and its register tile), compiled for the target
/// features `$feat` with tiles of `$ta` rows of `a` × [`CROSS_B`] rows of `b`. Stamped out once
/// here (AVX2: 16 ymm registers, 3 × 4 accumulators) and once in `avx512.rs` (AVX-512VL: 32 ymm
/// registers, 6 × 4).
///
/// Every pair is computed the same way whatever tile it falls in: one 8-lane FMA accumulator
/// over the 8-value chunks in order, the last chunk zero-padded, finished with [`hsum4`] (the
/// bits of [`hsum`]). So both instantiations return the same bits, which do not depend on how
/// callers block the rows. Rows of `a` are copied once per call, and `b` once per tile of
/// [`CROSS_B_TILE`] rows, into groups whose chunks are interleaved ([`pack_groups`]): the inner
/// loop then reads two sequential streams with no bounds checks and no edge tiles (groups are
/// padded with zero rows whose results are dropped).
macro_rules! cross_chain {
    ($feat:literal, $ta:literal) => {
/// Every inner product between the rows of `a` and of `b` (see `Kernels::dot_f32_cross`).
#[target_feature(enable = $feat)]
fn dot_f32_cross_tf(a: &[f32], b: &[f32], dim: usize, out: &mut [f32], stride: usize) {
    if dim == 0 {
        return;
    }
    let nb = b.len() / dim;
    if stride < nb || nb == 0 {
        return;
    }
    // Whole rows of `a` whose slots fit in `out`.
    let na = (a.len() / dim).min((out.len() + stride - nb) / stride);
    if na == 0 {
        return;
    }
    let chunks = dim.div_ceil(8);
    let mut ap = vec![[[0.0f32; 8]; $ta]; na.div_ceil($ta) * chunks];
    pack_groups(a, dim, &mut ap);
    let tile_groups = CROSS_B_TILE / CROSS_B;
    let mut bp = vec![[[0.0f32; 8]; CROSS_B]; tile_groups * chunks];
    for (t, tile) in b.get(..nb * dim).unwrap_or_default().chunks(CROSS_B_TILE * dim).enumerate() {
        let tb = tile.len() / dim;
        let bp = bp.get_mut(..tb.div_ceil(CROSS_B) * chunks).unwrap_or_default();
        pack_groups(tile, dim, bp);
        for (g, ag) in ap.chunks_exact(chunks).enumerate() {
            for (h, bg) in bp.chunks_exact(chunks).enumerate() {
                let acc = cross_group::<$ta>(ag, bg);
                let j = t * CROSS_B_TILE + h * CROSS_B;
                let end = (j + CROSS_B).min(nb);
                for (p, &[v0, v1, v2, v3]) in acc.iter().enumerate() {
                    let i = g * $ta + p;
                    if i >= na {
                        break;
                    }
                    let sums: [f32; 4] = bytemuck::cast(hsum4(v0, v1, v2, v3));
                    if let Some(o) = out.get_mut(i * stride + j..i * stride + end) {
                        for (o, s) in o.iter_mut().zip(sums) {
                            *o = s;
                        }
                    }
                }
            }
        }
    }
}

/// The `P × CROSS_B` accumulators of one group of rows of `a` against one group of `b`.
///
/// Not inlined, so that the accumulators are allocated to registers on their own (as
/// `tile_pass`).
#[target_feature(enable = $feat)]
#[inline(never)]
fn cross_group<const P: usize>(
    ag: &[[[f32; 8]; P]],
    bg: &[[[f32; 8]; CROSS_B]],
) -> [[__m256; CROSS_B]; P] {
    let mut acc = [[_mm256_setzero_ps(); CROSS_B]; P];
    for (a, b) in ag.iter().zip(bg) {
        let mut bv = [_mm256_setzero_ps(); CROSS_B];
        for (v, x) in bv.iter_mut().zip(b) {
            *v = load_f32(x);
        }
        for (accp, x) in acc.iter_mut().zip(a) {
            let av = load_f32(x);
            for (s, &bq) in accp.iter_mut().zip(&bv) {
                *s = _mm256_fmadd_ps(av, bq, *s);
            }
        }
    }
    acc
}
    };
}
pub(super) use cross_chain;

/// The whole rows of `src` (`dim` values each) into `dst` as groups of `G` rows: chunk `c` of
/// group `g` is `dst[g·chunks + c]`, with row `r` of the group at index `r`, where `chunks =
/// dim.div_ceil(8)` and each row's last chunk is zero-padded. Rows past the end of `src` in
/// the last group are zero. Stops when `dst` is full.
pub(super) fn pack_groups<const G: usize>(src: &[f32], dim: usize, dst: &mut [[[f32; 8]; G]]) {
    let chunks = dim.div_ceil(8);
    if chunks == 0 {
        return;
    }
    for (group, d) in src.chunks(G * dim).zip(dst.chunks_exact_mut(chunks)) {
        let have = group.len() / dim;
        for (r, row) in group.chunks_exact(dim).enumerate().take(G) {
            let (whole, tail) = row.as_chunks::<8>();
            for (x, w) in d.iter_mut().zip(whole) {
                if let Some(slot) = x.get_mut(r) {
                    *slot = *w;
                }
            }
            if let Some(slot) = d.get_mut(whole.len()).and_then(|x| x.get_mut(r)) {
                // The zero-padded tail (the chunk exists only when there is a tail).
                let mut t = [0.0f32; 8];
                for (y, v) in t.iter_mut().zip(tail) {
                    *y = *v;
                }
                *slot = t;
            }
        }
        if have < G {
            // Rows missing from the last group.
            for x in d.iter_mut() {
                for slot in x.iter_mut().skip(have) {
                    *slot = [0.0; 8];
                }
            }
        }
    }
}

// Tiles of the batched scan: 4 queries × 3 rows here (12 accumulators, 3 row chunks and one
// query chunk fill the 16 ymm registers; at most 4 rows, see `hsum4`).

/// The batched scan (`batch_scan_tf` and the tile functions under it), compiled for the target
/// features `$feat` with tiles of `$tq` queries × `$tr` rows (`$p`, `$r`: every tile height and
/// width, `$tq` and `$tr` down to 1). Stamped out once here (AVX2: 16 ymm registers, 4 × 3) and
/// once in `avx512.rs` (AVX-512VL: 32 ymm registers, 6 × 4); both use this module's `pack`,
/// `tile_step` and `hsum4`, so their results are the same bits.
macro_rules! batch_chain {
    ($feat:literal, $tq:literal, $tr:literal, [$($p:literal)*], [$($r:literal)*]) => {
/// Every query of `qs` against every row of `rows`, in blocks (see `Kernels::batch_scan`),
/// `$tq × $tr` pairs at a time.
///
/// Each pair must come out bit for bit as [`reduce`] computes it alone, so that a batch of
/// queries ranks exactly as the queries one at a time. `reduce` sums four interleaved
/// accumulators (8-value chunk `c` of each 32-value block goes to accumulator `c mod 4`, the
/// leftover whole chunks to the first, the zero-padded tail to the second) and adds them as
/// `(s0 + s1) + (s2 + s3)`. The tile computes the same four sums one after the other, each with
/// one accumulator per pair, so that only `$tq × $tr` accumulators are live at a time.
/// To make each of those sums read memory sequentially, the queries (once) and each block of
/// rows (once, widening f16 on the way) are copied with their chunks in that order ([`pack`]),
/// which also lets the hardware prefetcher stream the rows from L2.
#[target_feature(enable = $feat)]
fn batch_scan_tf<B: Chunk, const L2: bool>(
    qs: &[f32],
    nq: usize,
    rows: &[B],
    sink: &mut $crate::dense::kernels::BatchSink<'_>,
) {
    if nq == 0 || qs.len() / nq == 0 {
        return;
    }
    let dim = qs.len() / nq;
    let layout = Layout::new(dim);
    let mut pq = vec![[0.0f32; 8]; nq * layout.per];
    pack(qs, dim, &mut pq);
    let mut pr = vec![[0.0f32; 8]; $crate::dense::kernels::BATCH_ROWS * layout.per];
    let mut scores = vec![0.0f32; $crate::dense::kernels::BATCH_QUERIES.min(nq) * $crate::dense::kernels::BATCH_ROWS];
    for (b, block) in rows.chunks($crate::dense::kernels::BATCH_ROWS * dim).enumerate() {
        let nr = block.len() / dim;
        if nr == 0 {
            break;
        }
        let pr = pr.get_mut(..nr * layout.per).unwrap_or_default();
        pack(block, dim, pr);
        for (g, group) in pq.chunks($crate::dense::kernels::BATCH_QUERIES * layout.per).enumerate() {
            let gq = group.len() / layout.per;
            let out = scores.get_mut(..gq * nr).unwrap_or_default();
            let mut j = 0;
            while j < gq {
                let tq = (gq - j).min($tq);
                let at = Tile {
                    qs: group,
                    rows: pr,
                    layout,
                    j,
                    i: 0,
                    nr,
                };
                match tq {
                    $($p => batch_rows::<$p, L2>(at, out),)*
                    _ => {}
                }
                j += tq;
            }
            sink(&$crate::dense::kernels::BatchBlock {
                first_query: g * $crate::dense::kernels::BATCH_QUERIES,
                queries: gq,
                first_row: b * $crate::dense::kernels::BATCH_ROWS,
                rows: nr,
                scores: out,
            });
        }
    }
}

/// Queries `t.j..t.j + P` against every row, `$tr` rows at a time (fewer at the end).
#[target_feature(enable = $feat)]
#[inline]
fn batch_rows<const P: usize, const L2: bool>(mut t: Tile<'_>, out: &mut [f32]) {
    while t.i < t.nr {
        let tr = (t.nr - t.i).min($tr);
        match tr {
            $($r => batch_tile::<P, $r, L2>(&t, out),)*
            _ => {}
        }
        t.i += tr;
    }
}

/// Pairs `(j + p, i + r)` for `p < P`, `r < R`, into `out[(j + p)·nr + i + r]`.
#[target_feature(enable = $feat)]
#[inline]
fn batch_tile<const P: usize, const R: usize, const L2: bool>(t: &Tile<'_>, out: &mut [f32]) {
    let per = t.layout.per;
    let mut qc: [&[[f32; 8]]; P] = [&[]; P];
    for (p, slot) in qc.iter_mut().enumerate() {
        *slot = t
            .qs
            .get((t.j + p) * per..(t.j + p + 1) * per)
            .unwrap_or_default();
    }
    let mut rc: [&[[f32; 8]]; R] = [&[]; R];
    for (x, slot) in rc.iter_mut().enumerate() {
        *slot = t
            .rows
            .get((t.i + x) * per..(t.i + x + 1) * per)
            .unwrap_or_default();
    }
    if qc.iter().chain(&rc).any(|v| v.len() != per) {
        // Cannot happen: `batch_scan_tf` makes tiles of whole packed queries and rows only.
        return;
    }
    let [start, len] = [t.layout.start, t.layout.len];
    // SAFETY (all four): `start[l] + len[l] <= per` (`Layout`), and every slice of `qc` and
    // `rc` holds exactly `per` chunks (checked above). Built from return values, not by
    // overwriting a zeroed array: zeroing it took a `memset` per tile, 9.5% of the scan.
    let (s0, s1, s2, s3) = unsafe {
        (
            tile_pass::<P, R, L2>(&qc, &rc, start[0]..start[0] + len[0]),
            tile_pass::<P, R, L2>(&qc, &rc, start[1]..start[1] + len[1]),
            tile_pass::<P, R, L2>(&qc, &rc, start[2]..start[2] + len[2]),
            tile_pass::<P, R, L2>(&qc, &rc, start[3]..start[3] + len[3]),
        )
    };
    for (p, (((a0, a1), a2), a3)) in s0.iter().zip(&s1).zip(&s2).zip(&s3).enumerate() {
        let base = (t.j + p) * t.nr + t.i;
        let Some(o) = out.get_mut(base..base + R) else {
            continue;
        };
        // The pair sums of this query, four at a time through `hsum4` (R <= 4).
        let mut v = [_mm256_setzero_ps(); 4];
        for ((((v, b0), b1), b2), b3) in v.iter_mut().zip(a0).zip(a1).zip(a2).zip(a3) {
            *v = _mm256_add_ps(_mm256_add_ps(*b0, *b1), _mm256_add_ps(*b2, *b3));
        }
        let [v0, v1, v2, v3] = v;
        let sums: [f32; 4] = bytemuck::cast(hsum4(v0, v1, v2, v3));
        for (o, s) in o.iter_mut().zip(sums) {
            *o = s;
        }
    }
}

/// One of the four partial sums of a tile, over chunks `range`.
///
/// Not inlined: inlined, the compiler kept the finished sums of the earlier passes in registers
/// and spilled accumulators inside the loop.
///
/// # Safety
/// Every slice of `qc` and `rc` must hold at least `range.end` chunks.
#[target_feature(enable = $feat)]
#[inline(never)]
unsafe fn tile_pass<const P: usize, const R: usize, const L2: bool>(
    qc: &[&[[f32; 8]]; P],
    rc: &[&[[f32; 8]]; R],
    range: std::ops::Range<usize>,
) -> [[__m256; R]; P] {
    let mut acc = [[_mm256_setzero_ps(); R]; P];
    for c in range {
        // SAFETY: `c < range.end`, which is at most every slice's length (the precondition).
        unsafe { tile_step::<P, R, L2>(&mut acc, qc, rc, c) };
    }
    acc
}

    };
}
pub(super) use batch_chain;

/// A row element the batched scan reads: 8 of them widen exactly to 8 f32.
pub(super) trait Chunk: Copy + Default {
    /// The 8 values as f32.
    ///
    /// # Safety
    /// The CPU must have avx2, fma and f16c.
    unsafe fn widen8(v: &[Self; 8]) -> [f32; 8];
}

impl Chunk for f32 {
    #[inline(always)]
    unsafe fn widen8(v: &[f32; 8]) -> [f32; 8] {
        *v
    }
}

impl Chunk for f16 {
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn widen8(v: &[f16; 8]) -> [f32; 8] {
        bytemuck::cast(load_f16(v))
    }
}

/// Where the four partial sums of [`reduce`] sit in a packed vector of `per` chunks: sum `l`
/// over chunks `start[l]..start[l] + len[l]`.
#[derive(Clone, Copy)]
pub(super) struct Layout {
    pub(super) per: usize,
    pub(super) start: [usize; 4],
    pub(super) len: [usize; 4],
}

impl Layout {
    pub(super) fn new(dim: usize) -> Layout {
        let n8 = dim / 8;
        let n32 = n8 / 4;
        let tail = usize::from(!dim.is_multiple_of(8));
        let len = [n32 + (n8 - 4 * n32), n32 + tail, n32, n32];
        let start = [0, len[0], len[0] + len[1], len[0] + len[1] + len[2]];
        Layout {
            per: n8 + tail,
            start,
            len,
        }
    }
}

/// Copies the whole vectors of `src` (`dim` values each, as many as fit) into `dst`, each as
/// the `per` chunks of [`Layout`]: chunks 0, 4, 8, … of the whole 32-value blocks then the
/// leftover whole chunks (sum 0); chunks 1, 5, … then the zero-padded tail (sum 1); chunks 2,
/// 6, … (sum 2); chunks 3, 7, … (sum 3).
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn pack<B: Chunk>(src: &[B], dim: usize, dst: &mut [[f32; 8]]) {
    let layout = Layout::new(dim);
    let n8 = dim / 8;
    let whole = n8 / 4 * 4;
    for (v, d) in src.chunks_exact(dim).zip(dst.chunks_exact_mut(layout.per)) {
        let (chunks, tail) = v.as_chunks::<8>();
        let (blocks, rest) = chunks.split_at(whole);
        let (blocks, _) = blocks.as_chunks::<4>();
        let (d0, d) = d.split_at_mut(layout.len[0]);
        let (d1, d) = d.split_at_mut(layout.len[1]);
        let (d2, d3) = d.split_at_mut(layout.len[2]);
        for ((((b, x0), x1), x2), x3) in blocks.iter().zip(&mut *d0).zip(&mut *d1).zip(d2).zip(d3)
        {
            let [c0, c1, c2, c3] = b;
            // SAFETY (here and below): `pack` runs only with avx2, fma and f16c present.
            unsafe {
                *x0 = B::widen8(c0);
                *x1 = B::widen8(c1);
                *x2 = B::widen8(c2);
                *x3 = B::widen8(c3);
            }
        }
        for (x, c) in d0.iter_mut().skip(blocks.len()).zip(rest) {
            // SAFETY: as above.
            *x = unsafe { B::widen8(c) };
        }
        if let Some(x) = d1.get_mut(blocks.len()) {
            // The zero-padded tail (the slot exists only when there is a tail).
            let mut t = [B::default(); 8];
            for (y, s) in t.iter_mut().zip(tail) {
                *y = *s;
            }
            // SAFETY: as above.
            *x = unsafe { B::widen8(&t) };
        }
    }
}

/// Where a tile of [`batch_scan_tf`] sits: packed queries `j..`, packed rows `i..` of `nr`.
pub(super) struct Tile<'a> {
    pub(super) qs: &'a [[f32; 8]],
    pub(super) rows: &'a [[f32; 8]],
    pub(super) layout: Layout,
    pub(super) j: usize,
    pub(super) i: usize,
    pub(super) nr: usize,
}

/// `[hsum(a), hsum(b), hsum(c), hsum(d)]`, bit for bit (the same additions of the same lanes in
/// the same order), in about half the instructions of four [`hsum`]s.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn hsum4(a: __m256, b: __m256, c: __m256, d: __m256) -> __m128 {
    // [a.lo + a.hi | b.lo + b.hi] and [c.lo + c.hi | d.lo + d.hi]: `hsum`'s first step.
    let ab = _mm256_add_ps(
        _mm256_permute2f128_ps::<0x20>(a, b),
        _mm256_permute2f128_ps::<0x31>(a, b),
    );
    let cd = _mm256_add_ps(
        _mm256_permute2f128_ps::<0x20>(c, d),
        _mm256_permute2f128_ps::<0x31>(c, d),
    );
    // Each 4-lane x as [x0, x2, x1, x3], so that `hadd` forms x0 + x2 and x1 + x3 (`hsum`'s
    // second step), then (x0 + x2) + (x1 + x3) (its third).
    let ab = _mm256_permute_ps::<0b11_01_10_00>(ab);
    let cd = _mm256_permute_ps::<0b11_01_10_00>(cd);
    let h = _mm256_hadd_ps(ab, cd);
    let h = _mm256_hadd_ps(h, h); // [a, c, a, c | b, d, b, d]
    _mm_unpacklo_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps::<1>(h))
}

/// One 8-value chunk `c` of every query and row of a tile into its accumulators.
///
/// # Safety
/// Every slice of `qc` and `rc` must hold more than `c` chunks. (Bounds checks here cost as
/// many instructions as the FMAs: the inner loop of the batched exact scan.)
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) unsafe fn tile_step<const P: usize, const R: usize, const L2: bool>(
    acc: &mut [[__m256; R]; P],
    qc: &[&[[f32; 8]]; P],
    rc: &[&[[f32; 8]]; R],
    c: usize,
) {
    let mut rv = [_mm256_setzero_ps(); R];
    for (v, row) in rv.iter_mut().zip(rc) {
        // SAFETY: `c < row.len()` is this function's precondition.
        *v = load_f32(unsafe { row.get_unchecked(c) });
    }
    for (accp, qrow) in acc.iter_mut().zip(qc) {
        // SAFETY: `c < qrow.len()` is this function's precondition.
        let qv = load_f32(unsafe { qrow.get_unchecked(c) });
        for (s, &rx) in accp.iter_mut().zip(&rv) {
            *s = if L2 {
                let d = _mm256_sub_ps(qv, rx);
                _mm256_fmadd_ps(d, d, *s)
            } else {
                _mm256_fmadd_ps(qv, rx, *s)
            };
        }
    }
}


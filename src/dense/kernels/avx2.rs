//! AVX2 + FMA + F16C kernels (x86_64 only): the same functions as `scalar.rs`.
//!
//! Each reduction walks the vectors 32 values at a time into four independent 8-lane FMA
//! accumulators, so that four FMAs are in flight instead of waiting on one dependency chain
//! (the FMA latency is 4 cycles and two can start per cycle). Up to three leftover 8-value
//! blocks go into the first accumulator, and the last fewer-than-8 values are copied into a
//! zero-padded block, so there is no scalar tail loop and no read past either slice. An f16 row
//! is widened with `vcvtph2ps`, which is exact.
//!
//! The `*_many` scans are memory bound when the rows come from DRAM (a flat scan streams the
//! whole f16 matrix for every query): before scoring a row they prefetch every cache line of
//! the row about `PREFETCH_BYTES` further on.
//!
//! Safety. Everything that needs the CPU features is a `#[target_feature]` function. The only
//! way out of this module is [`kernels()`], which returns the table only after checking that
//! the CPU has avx2, fma and f16c; the table's entries are private, safe wrappers that call
//! the `#[target_feature]` functions, which is sound because the table cannot be obtained on
//! a CPU without the features. The only other `unsafe` sites are the two unaligned loads, which
//! read exactly one fixed-size array each.
#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m128, __m128i, __m256, __m256i, _MM_HINT_T0, _mm_add_epi32, _mm_add_ps, _mm_add_ss,
    _mm_cvtsi128_si32, _mm_cvtss_f32, _mm_loadu_si128, _mm_movehl_ps, _mm_prefetch,
    _mm_shuffle_epi32, _mm_shuffle_ps, _mm256_add_epi32, _mm256_add_ps, _mm256_and_si256,
    _mm256_castps256_ps128, _mm256_castsi256_si128, _mm256_hadd_ps, _mm256_permute_ps,
    _mm256_permute2f128_ps, _mm_unpacklo_ps, _mm256_cvtph_ps, _mm256_extractf128_ps,
    _mm256_extracti128_si256, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_madd_epi16,
    _mm256_maddubs_epi16, _mm256_set1_epi8, _mm256_set1_epi16, _mm256_setzero_ps,
    _mm256_setzero_si256, _mm256_sub_ps,
};

use half::f16;

use super::{BatchRows, BatchSink, Kernels, same_len};

/// The AVX2 table's entries (`avx512.rs` reuses them but for the batched scan). Its functions
/// may run only where avx2, fma and f16c were detected: the tables built from it leave their
/// modules only through `kernels()`, which checks.
pub(super) const TABLE: Kernels = Kernels {
    name: "avx2",
    dot_f32,
    l2sq_f32,
    dot_f16,
    l2sq_f16,
    dot_f32_many,
    dot_f16_many,
    l2sq_f32_many,
    l2sq_f16_many,
    dot_u7i8_batch,
    dot_f32_cross,
    batch_scan,
};

/// The AVX2 table. Private: it leaves this module only through [`kernels()`].
static AVX2: Kernels = TABLE;

/// The AVX2 table if this CPU supports avx2, fma and f16c, otherwise `None`.
///
/// This check is the invariant every wrapper below relies on.
pub(super) fn kernels() -> Option<&'static Kernels> {
    let ok = is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c");
    ok.then_some(&AVX2)
}

/// How far ahead of the row being scored the `*_many` scans prefetch, in bytes (rounded up to
/// whole rows). Measured on a 116,659 × 384 f16 scan (768-byte rows): no prefetch 11.2–11.8 ms,
/// 1 row ahead 10.0–10.8, 2 rows 8.5–9.2, 4 rows (3 KiB) 6.4–8.8, 8 rows 6.9–8.1, 16 rows
/// 7.4–8.3 (best of 30 scans, three rounds, on a shared 2-core VM).
const PREFETCH_BYTES: usize = 3 * 1024;

/// Bytes in a cache line.
const LINE: usize = 64;

// ---------------------------------------------------------------------------------------------
// Table entries: safe wrappers around the `#[target_feature]` kernels.
//
// SAFETY (for all eleven): these functions are private and referenced only by `AVX2`, which
// `kernels()` hands out only when avx2, fma and f16c were detected on this CPU, so the target
// features the callee was compiled for are present. The callees take slices and never read
// outside them.
// ---------------------------------------------------------------------------------------------

fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: avx2+fma+f16c are present, see the note above these wrappers.
    unsafe { dot_f32_tf(a, b) }
}

fn l2sq_f32(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: avx2+fma+f16c are present, see the note above these wrappers.
    unsafe { l2sq_f32_tf(a, b) }
}

fn dot_f16(a: &[f32], b: &[f16]) -> f32 {
    // SAFETY: avx2+fma+f16c are present, see the note above these wrappers.
    unsafe { dot_f16_tf(a, b) }
}

fn l2sq_f16(a: &[f32], b: &[f16]) -> f32 {
    // SAFETY: avx2+fma+f16c are present, see the note above these wrappers.
    unsafe { l2sq_f16_tf(a, b) }
}

fn dot_f32_many(q: &[f32], rows: &[f32], out: &mut [f32]) {
    // SAFETY: avx2+fma+f16c are present, see the note above these wrappers.
    unsafe { dot_f32_many_tf(q, rows, out) }
}

fn dot_f16_many(q: &[f32], rows: &[f16], out: &mut [f32]) {
    // SAFETY: avx2+fma+f16c are present, see the note above these wrappers.
    unsafe { dot_f16_many_tf(q, rows, out) }
}

fn l2sq_f32_many(q: &[f32], rows: &[f32], out: &mut [f32]) {
    // SAFETY: avx2+fma+f16c are present, see the note above these wrappers.
    unsafe { l2sq_f32_many_tf(q, rows, out) }
}

fn l2sq_f16_many(q: &[f32], rows: &[f16], out: &mut [f32]) {
    // SAFETY: avx2+fma+f16c are present, see the note above these wrappers.
    unsafe { l2sq_f16_many_tf(q, rows, out) }
}

fn dot_u7i8_batch(qs: &[u8], nq: usize, rows: &[i8], out: &mut [i32]) {
    // SAFETY: see the note above the table entries.
    unsafe { dot_u7i8_batch_tf(qs, nq, rows, out) }
}

fn dot_f32_cross(a: &[f32], b: &[f32], dim: usize, out: &mut [f32], stride: usize) {
    // SAFETY: see the note above the table entries.
    unsafe { dot_f32_cross_tf(a, b, dim, out, stride) }
}

fn batch_scan(
    qs: &[f32],
    nq: usize,
    rows: BatchRows<'_>,
    l2: bool,
    sink: &mut BatchSink<'_>,
) {
    // SAFETY: see the note above the table entries.
    unsafe {
        match (rows, l2) {
            (BatchRows::F32(r), false) => batch_scan_tf::<f32, false>(qs, nq, r, sink),
            (BatchRows::F32(r), true) => batch_scan_tf::<f32, true>(qs, nq, r, sink),
            (BatchRows::F16(r), false) => batch_scan_tf::<f16, false>(qs, nq, r, sink),
            (BatchRows::F16(r), true) => batch_scan_tf::<f16, true>(qs, nq, r, sink),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The kernels.
// ---------------------------------------------------------------------------------------------

#[target_feature(enable = "avx2,fma,f16c")]
fn dot_f32_tf(a: &[f32], b: &[f32]) -> f32 {
    reduce(
        a,
        b,
        |v| load_f32(v),
        |acc, x, y| _mm256_fmadd_ps(x, y, acc),
    )
}

#[target_feature(enable = "avx2,fma,f16c")]
fn l2sq_f32_tf(a: &[f32], b: &[f32]) -> f32 {
    reduce(
        a,
        b,
        |v| load_f32(v),
        |acc, x, y| {
            let d = _mm256_sub_ps(x, y);
            _mm256_fmadd_ps(d, d, acc)
        },
    )
}

#[target_feature(enable = "avx2,fma,f16c")]
fn dot_f16_tf(a: &[f32], b: &[f16]) -> f32 {
    reduce(
        a,
        b,
        |v| load_f16(v),
        |acc, x, y| _mm256_fmadd_ps(x, y, acc),
    )
}

#[target_feature(enable = "avx2,fma,f16c")]
fn l2sq_f16_tf(a: &[f32], b: &[f16]) -> f32 {
    reduce(
        a,
        b,
        |v| load_f16(v),
        |acc, x, y| {
            let d = _mm256_sub_ps(x, y);
            _mm256_fmadd_ps(d, d, acc)
        },
    )
}

#[target_feature(enable = "avx2,fma,f16c")]
fn dot_f32_many_tf(q: &[f32], rows: &[f32], out: &mut [f32]) {
    many(q, rows, out, |q, row| dot_f32_tf(q, row));
}

#[target_feature(enable = "avx2,fma,f16c")]
fn dot_f16_many_tf(q: &[f32], rows: &[f16], out: &mut [f32]) {
    many(q, rows, out, |q, row| dot_f16_tf(q, row));
}

#[target_feature(enable = "avx2,fma,f16c")]
fn l2sq_f32_many_tf(q: &[f32], rows: &[f32], out: &mut [f32]) {
    many(q, rows, out, |q, row| l2sq_f32_tf(q, row));
}

#[target_feature(enable = "avx2,fma,f16c")]
fn l2sq_f16_many_tf(q: &[f32], rows: &[f16], out: &mut [f32]) {
    many(q, rows, out, |q, row| l2sq_f16_tf(q, row));
}

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

cross_chain!("avx2,fma,f16c", 3);

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

batch_chain!("avx2,fma,f16c", 4, 3, [4 3 2 1], [3 2 1]);

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

/// Queries per pass of [`dot_u7i8_batch_tf`] over the rows.
const BATCH_QUERIES: usize = 4;

/// Up to four queries per pass over the rows: each 32-byte chunk of a row is loaded once and
/// multiplied into one accumulator per query (the query chunks come from L1), so the rows are
/// streamed once per four queries. Per chunk, `vpmaddubsw` multiplies the query's unsigned
/// bytes (masked to 7 bits) by the row's signed ones and adds adjacent pairs into i16 lanes,
/// which cannot saturate since `2 · 127 · 128 < 2¹⁵`; `vpmaddwd` by ones widens the pairs into
/// i32 lanes. A row's last fewer-than-32 bytes go through a zero-padded copy. All of it is
/// exact modulo 2³², as the scalar twin.
#[target_feature(enable = "avx2,fma,f16c")]
fn dot_u7i8_batch_tf(qs: &[u8], nq: usize, rows: &[i8], out: &mut [i32]) {
    if nq == 0 {
        return;
    }
    let dim = qs.len() / nq;
    if dim == 0 {
        out.fill(0);
        return;
    }
    let nrows = (rows.len() / dim).min(out.len() / nq);
    let mut first = 0;
    while first < nq {
        let take = (nq - first).min(BATCH_QUERIES);
        let group = qs
            .get(first * dim..(first + take) * dim)
            .unwrap_or_default();
        match take {
            4 => batch_group::<4>(group, dim, rows, nrows, nq, first, out),
            3 => batch_group::<3>(group, dim, rows, nrows, nq, first, out),
            2 => batch_group::<2>(group, dim, rows, nrows, nq, first, out),
            _ => batch_group::<1>(group, dim, rows, nrows, nq, first, out),
        }
        first += take;
    }
}

/// `Q` queries (`group`, `Q · dim` bytes) against the first `nrows` rows, into slots
/// `i·nq + first + j`. The queries are laid out chunk-major (`Q` registers per 32-byte chunk,
/// the last chunk zero-padded), so the inner loop indexes fixed-size arrays only.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn batch_group<const Q: usize>(
    group: &[u8],
    dim: usize,
    rows: &[i8],
    nrows: usize,
    nq: usize,
    first: usize,
    out: &mut [i32],
) {
    let seven = _mm256_set1_epi8(0x7f);
    let ones = _mm256_set1_epi16(1);
    let chunks = dim.div_ceil(32);
    let mut qv: Vec<[__m256i; Q]> = vec![[_mm256_setzero_si256(); Q]; chunks];
    for (j, q) in group.chunks_exact(dim).enumerate() {
        for (slot, c) in qv.iter_mut().zip(q.chunks(32)) {
            let mut b = [0u8; 32];
            for (d, &s) in b.iter_mut().zip(c) {
                *d = s;
            }
            if let Some(r) = slot.get_mut(j) {
                *r = _mm256_and_si256(bytemuck::cast(b), seven);
            }
        }
    }
    let (q_whole, q_tail) = qv.split_at(dim / 32);
    let step = |acc: &mut [__m256i; Q], q: &[__m256i; Q], r: __m256i| {
        for (a, &qj) in acc.iter_mut().zip(q) {
            *a = _mm256_add_epi32(*a, _mm256_madd_epi16(_mm256_maddubs_epi16(qj, r), ones));
        }
    };
    for (i, row) in rows.chunks_exact(dim).take(nrows).enumerate() {
        // Two accumulator sets, even and odd chunks, so a lone query (Q = 1) still has two
        // independent chains; integer addition makes the split invisible in the result.
        let mut acc = [_mm256_setzero_si256(); Q];
        let mut acc_odd = [_mm256_setzero_si256(); Q];
        let (r32, r_tail) = row.as_chunks::<32>();
        let (q_pairs, q_rest) = q_whole.as_chunks::<2>();
        let (r_pairs, r_rest) = r32.as_chunks::<2>();
        for ([q0, q1], [r0, r1]) in q_pairs.iter().zip(r_pairs) {
            step(&mut acc, q0, bytemuck::cast(*r0));
            step(&mut acc_odd, q1, bytemuck::cast(*r1));
        }
        for (q, r) in q_rest.iter().zip(r_rest) {
            step(&mut acc, q, bytemuck::cast(*r));
        }
        if let Some(q) = q_tail.first() {
            let mut rt = [0i8; 32];
            for (d, &s) in rt.iter_mut().zip(r_tail) {
                *d = s;
            }
            step(&mut acc_odd, q, bytemuck::cast(rt));
        }
        let base = i * nq + first;
        if let Some(o) = out.get_mut(base..base + Q) {
            for ((slot, a), b) in o.iter_mut().zip(acc).zip(acc_odd) {
                *slot = hsum_epi32(_mm256_add_epi32(a, b));
            }
        }
    }
}

/// The wrapping sum of the 8 i32 lanes of `v`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn hsum_epi32(v: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s)
}

/// The shared reduction: `hsum(Σ step)` over the common length of `a` and `b`.
///
/// `load_b` turns 8 values of the row into 8 f32 lanes; `step(acc, a8, b8)` folds one block
/// into an accumulator. Both are tiny and inlined into each specialised copy of this function.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn reduce<B: Copy + Default>(
    a: &[f32],
    b: &[B],
    load_b: impl Fn(&[B; 8]) -> __m256,
    step: impl Fn(__m256, __m256, __m256) -> __m256,
) -> f32 {
    let (a, b) = same_len(a, b);
    let (a8, a_tail) = a.as_chunks::<8>();
    let (b8, b_tail) = b.as_chunks::<8>();
    let (a32, a8_rest) = a8.as_chunks::<4>();
    let (b32, b8_rest) = b8.as_chunks::<4>();

    let mut s0 = _mm256_setzero_ps();
    let mut s1 = _mm256_setzero_ps();
    let mut s2 = _mm256_setzero_ps();
    let mut s3 = _mm256_setzero_ps();
    for ([x0, x1, x2, x3], [y0, y1, y2, y3]) in a32.iter().zip(b32) {
        s0 = step(s0, load_f32(x0), load_b(y0));
        s1 = step(s1, load_f32(x1), load_b(y1));
        s2 = step(s2, load_f32(x2), load_b(y2));
        s3 = step(s3, load_f32(x3), load_b(y3));
    }
    for (x, y) in a8_rest.iter().zip(b8_rest) {
        s0 = step(s0, load_f32(x), load_b(y));
    }
    if !a_tail.is_empty() {
        // Zero padding adds nothing to either a dot product or a squared distance.
        let mut xs = [0.0f32; 8];
        let mut ys = [B::default(); 8];
        for (d, s) in xs.iter_mut().zip(a_tail) {
            *d = *s;
        }
        for (d, s) in ys.iter_mut().zip(b_tail) {
            *d = *s;
        }
        s1 = step(s1, load_f32(&xs), load_b(&ys));
    }
    hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)))
}

/// Scores `q` against each whole row of `q.len()` values in `rows`, writing `out[i]` for row
/// `i`, and prefetching `PREFETCH_BYTES` ahead. Same contract as the scalar `many`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn many<B>(q: &[f32], rows: &[B], out: &mut [f32], one: impl Fn(&[f32], &[B]) -> f32) {
    let dim = q.len();
    if dim == 0 {
        // Every row is empty, and an empty sum is 0.
        out.fill(0.0);
        return;
    }
    let rows_ahead = PREFETCH_BYTES.div_ceil(dim.saturating_mul(size_of::<B>().max(1)));
    let mut ahead = rows
        .get(rows_ahead.saturating_mul(dim)..)
        .unwrap_or_default()
        .chunks_exact(dim);
    for (o, row) in out.iter_mut().zip(rows.chunks_exact(dim)) {
        if let Some(next) = ahead.next() {
            prefetch(next);
        }
        *o = one(q, row);
    }
}

/// Asks the CPU to bring every cache line of `row` into L1.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn prefetch<T>(row: &[T]) {
    let per_line = (LINE / size_of::<T>().max(1)).max(1);
    for line in row.chunks(per_line) {
        // A hint that never faults; the address is in bounds anyway.
        _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast::<i8>());
    }
}

/// Loads 8 f32 from any alignment.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn load_f32(v: &[f32; 8]) -> __m256 {
    // SAFETY: `v` refers to 8 initialised f32, exactly the 32 bytes `vmovups` reads, and the
    // unaligned load has no alignment requirement.
    unsafe { _mm256_loadu_ps(v.as_ptr()) }
}

/// Loads 8 f16 from any alignment and widens them exactly to f32.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn load_f16(v: &[f16; 8]) -> __m256 {
    // SAFETY: `v` refers to 8 initialised f16 (a `repr(transparent)` u16), exactly the 16 bytes
    // `vmovdqu` reads, and the unaligned load has no alignment requirement.
    let bits = unsafe { _mm_loadu_si128(v.as_ptr().cast::<__m128i>()) };
    _mm256_cvtph_ps(bits)
}

/// The sum of the 8 lanes of `v`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn hsum(v: __m256) -> f32 {
    let lo = _mm256_castps256_ps128(v);
    let hi = _mm256_extractf128_ps::<1>(v);
    let s = _mm_add_ps(lo, hi); // 4 lanes
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s)); // 2 lanes
    let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s)); // 1 lane
    _mm_cvtss_f32(s)
}

/// Prefetches the cache lines of the `len` bytes at `ptr` into L1 (`prefetcht0`).
pub(super) fn prefetch_range((ptr, len): (*const u8, usize)) {
    // SAFETY: `prefetch_sse` only needs SSE, which every x86_64 CPU has (it is part of the
    // x86_64 baseline), and a prefetch never dereferences its address, so no pointer can make
    // it fault or read memory.
    unsafe { prefetch_sse(ptr, len) }
}

#[target_feature(enable = "sse")]
fn prefetch_sse(ptr: *const u8, len: usize) {
    let mut off = 0;
    while off < len {
        _mm_prefetch::<_MM_HINT_T0>(ptr.wrapping_add(off).cast::<i8>());
        off += 64;
    }
}

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
    __m128i, __m256, __m256i, _MM_HINT_T0, _mm_add_epi32, _mm_add_ps, _mm_add_ss,
    _mm_cvtsi128_si32, _mm_cvtss_f32, _mm_loadu_si128, _mm_movehl_ps, _mm_prefetch,
    _mm_shuffle_epi32, _mm_shuffle_ps, _mm256_add_epi32, _mm256_add_ps, _mm256_and_si256,
    _mm256_castps256_ps128, _mm256_castsi256_si128, 
    _mm256_cvtph_ps, _mm256_extractf128_ps,
    _mm256_extracti128_si256, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_madd_epi16,
    _mm256_maddubs_epi16, _mm256_set1_epi8, _mm256_set1_epi16, _mm256_setzero_ps,
    _mm256_setzero_si256, _mm256_sub_ps,
};

use half::f16;

use super::tiles::{
    CROSS_B, CROSS_B_TILE, Chunk, Layout, Tile, batch_chain, cross_chain, hsum4, pack,
    pack_groups, tile_step,
};
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
    dot_u8i8_packed: None,
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

// The k-means GEMM (3 × 4 tiles) and the batched exact scan (4 × 3 tiles) for 16 ymm registers.
cross_chain!("avx2,fma,f16c", 3);
batch_chain!("avx2,fma,f16c", 4, 3, [4 3 2 1], [3 2 1]);

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
    let Some((dim, nrows)) = super::u7i8_shape(qs.len(), nq, rows.len(), out) else {
        return;
    };
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
pub(super) fn load_f16(v: &[f16; 8]) -> __m256 {
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

//! AVX-512 (F + VL) variants of the batched scan and the k-means GEMM (x86_64 only); every
//! other entry is AVX2's.
//!
//! Zen 4 runs a 512-bit FMA as two 256-bit halves, so 512-bit vectors buy no FLOPs there; what
//! AVX-512VL buys is 32 ymm registers instead of 16. The batched scan's register tile grows from
//! 4 queries × 3 rows (12 accumulators) to 6 × 4 (24), so each chunk loaded feeds more FMAs:
//! on WordNet-sized blocks (128 queries × 960 f16 rows, d = 384) 91.6 → 104.7 M pairs/s for the
//! dot product and 61.3 → 98.1 for squared L2, whose extra subtraction per pair needs the spare
//! registers most. The arithmetic is the AVX2 tile's, on ymm vectors in the same order, so every
//! score is bit for bit what the AVX2 pair kernels (this table's pair kernels) return.
//!
//! The k-means GEMM (`dot_f32_cross`) likewise grows from 3 × 4 accumulators to 6 × 4, with the
//! same per-pair arithmetic, so both tables return the same bits and k-means trains the same
//! centroids on either.
//!
//! Safety. As in `avx2.rs`: the table leaves this module only through [`kernels()`], which
//! checks avx2, fma, f16c, avx512f and avx512vl; the AVX2 entries it shares need only the first
//! three.
#![allow(unsafe_code)]

use half::f16;

use super::avx2::{self, load_f32};
use super::tiles::{
    CROSS_B, CROSS_B_TILE, Chunk, Layout, Tile, batch_chain, cross_chain, hsum4, pack,
    pack_groups, tile_step,
};
use super::{BatchRows, BatchSink, Kernels, PACK_ROWS, packed_shape};
use std::arch::x86_64::{
    __m256, __m512i, __mmask64, _mm256_add_ps, _mm256_fmadd_ps, _mm256_setzero_ps,
    _mm512_and_si512, _mm512_dpbusd_epi32, _mm512_loadu_si512, _mm512_maskz_loadu_epi8, _mm512_reduce_add_epi32,
    _mm512_set1_epi8, _mm512_set1_epi32, _mm512_setzero_si512, _mm512_storeu_si512,
};

/// The AVX-512 entries: AVX2's but the batched scan and the GEMM.
const TABLE: Kernels = Kernels {
    name: "avx512",
    batch_scan,
    dot_f32_cross,
    ..avx2::TABLE
};

/// The AVX-512 table of CPUs without VNNI.
static AVX512: Kernels = TABLE;

/// The AVX-512 table of CPUs with avx512bw and avx512vnni as well: the 8-bit sketch kernel.
static AVX512_VNNI: Kernels = Kernels {
    dot_u8i8_packed: Some(dot_u8i8_packed),
    dot_u7i8_batch,
    ..TABLE
};

/// The AVX-512 table if this CPU supports avx2, fma, f16c, avx512f and avx512vl; the one with
/// the VNNI kernel if it also supports avx512bw and avx512vnni.
///
/// These checks are the invariants the wrappers below (and the AVX2 entries) rely on.
pub(super) fn kernels() -> Option<&'static Kernels> {
    let ok = is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
        && is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512vl");
    let vnni = is_x86_feature_detected!("avx512bw") && is_x86_feature_detected!("avx512vnni");
    ok.then_some(if vnni { &AVX512_VNNI } else { &AVX512 })
}

fn batch_scan(
    qs: &[f32],
    nq: usize,
    rows: BatchRows<'_>,
    l2: bool,
    sink: &mut BatchSink<'_>,
) {
    // SAFETY: this function is private and referenced only by `AVX512`, which `kernels()` hands
    // out only when avx2, fma, f16c, avx512f and avx512vl were detected on this CPU.
    unsafe {
        match (rows, l2) {
            (BatchRows::F32(r), false) => batch_scan_tf::<f32, false>(qs, nq, r, sink),
            (BatchRows::F32(r), true) => batch_scan_tf::<f32, true>(qs, nq, r, sink),
            (BatchRows::F16(r), false) => batch_scan_tf::<f16, false>(qs, nq, r, sink),
            (BatchRows::F16(r), true) => batch_scan_tf::<f16, true>(qs, nq, r, sink),
        }
    }
}

fn dot_f32_cross(a: &[f32], b: &[f32], dim: usize, out: &mut [f32], stride: usize) {
    // SAFETY: as `batch_scan` above: reachable only through `AVX512`, handed out only when all
    // five features were detected.
    unsafe { dot_f32_cross_tf(a, b, dim, out, stride) }
}

fn dot_u7i8_batch(qs: &[u8], nq: usize, rows: &[i8], out: &mut [i32]) {
    // SAFETY: reachable only through `AVX512_VNNI`, handed out only when avx512f, avx512bw and
    // avx512vnni were detected. The callee reads and writes through slices and bounds its
    // own pointer reads (below).
    unsafe { u7i8_vnni(qs, nq, rows, out) }
}

/// `Kernels::dot_u7i8_batch` with `vpdpbusd`: the 7-bit query bytes are the unsigned operand,
/// so every sum is the exact integer the other tables return. Four rows at a time share each
/// 64-byte chunk of the query; the last chunk of a row is a masked load.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
fn u7i8_vnni(qs: &[u8], nq: usize, rows: &[i8], out: &mut [i32]) {
    let Some((dim, nrows)) = super::u7i8_shape(qs.len(), nq, rows.len(), out) else {
        return;
    };
    let chunks = dim.div_ceil(64);
    let tail = dim - (chunks - 1) * 64;
    let tail_mask: __mmask64 = if tail == 64 { !0 } else { (1u64 << tail) - 1 };
    // Chunk c of the row starting at byte `at` of `data`: a full load inside the row, a masked
    // one (no access past the row's `dim` bytes) for the last chunk.
    let chunk = |data: *const u8, at: usize, c: usize| -> __m512i {
        let at = at + c * 64;
        if c + 1 < chunks {
            // SAFETY: callers pass a row of `dim` bytes starting at `at` inside `data`'s
            // slice, and (c + 1) · 64 ≤ dim, so the 64 bytes lie inside it.
            unsafe { _mm512_loadu_si512(data.add(at).cast()) }
        } else {
            // SAFETY: the mask keeps the bytes at..at + tail, inside that row; masked bytes
            // are not accessed.
            unsafe { _mm512_maskz_loadu_epi8(tail_mask, data.add(at).cast()) }
        }
    };
    let seven = _mm512_set1_epi8(0x7f);
    // Row r < nrows of `rows` (nrows ≤ rows.len() / dim).
    let load = |r: usize, c: usize| chunk(rows.as_ptr().cast(), r * dim, c);
    for j in 0..qs.len() / dim {
        // Query j < qs.len() / dim of `qs`, bytes taken modulo 128.
        let qv = |c: usize| _mm512_and_si512(chunk(qs.as_ptr(), j * dim, c), seven);
        let slot = |r: usize| r * nq + j;
        let mut r = 0;
        while r + 4 <= nrows {
            let mut acc = [_mm512_setzero_si512(); 4];
            for c in 0..chunks {
                let qc = qv(c);
                for (k, a) in acc.iter_mut().enumerate() {
                    *a = _mm512_dpbusd_epi32(*a, qc, load(r + k, c));
                }
            }
            for (k, a) in acc.iter().enumerate() {
                if let Some(o) = out.get_mut(slot(r + k)) {
                    *o = _mm512_reduce_add_epi32(*a);
                }
            }
            r += 4;
        }
        while r < nrows {
            let mut a = _mm512_setzero_si512();
            for c in 0..chunks {
                a = _mm512_dpbusd_epi32(a, qv(c), load(r, c));
            }
            if let Some(o) = out.get_mut(slot(r)) {
                *o = _mm512_reduce_add_epi32(a);
            }
            r += 1;
        }
    }
}

fn dot_u8i8_packed(rows: &[u8], dp: usize, qs: &[i8], out: &mut [i32]) {
    let Some((groups, nq)) = packed_shape(rows.len(), dp, qs.len(), out.len()) else {
        return;
    };
    // `packed_shape` checked that `rows` holds `groups` groups of `PACK_ROWS · dp` bytes, `qs`
    // `nq` queries of `dp` bytes and `out` `nq · groups · PACK_ROWS` values.
    // SAFETY: reachable only through `AVX512_VNNI` (avx512f, avx512bw, avx512vnni detected);
    // the extents checked above bound every pointer `packed_vnni` forms.
    unsafe { packed_vnni(rows.as_ptr(), groups, dp, qs.as_ptr(), nq, out.as_mut_ptr()) }
}

/// Tiles of up to 6 queries × 4 groups (64 rows): 24 accumulators of 16 rows each.
///
/// Safety: the CPU has avx512f, avx512bw and avx512vnni; `rows` points to `groups` groups of
/// `PACK_ROWS · dp` bytes, `qs` to `nq · dp` bytes, `out` to `nq · groups · PACK_ROWS` i32.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn packed_vnni(
    rows: *const u8,
    groups: usize,
    dp: usize,
    qs: *const i8,
    nq: usize,
    out: *mut i32,
) {
    let n = groups * PACK_ROWS;
    macro_rules! by_groups {
        ($q:literal, $gt:expr, $r:expr, $qp:expr, $o:expr) => {
            match $gt {
                4 => packed_tile::<$q, 4>($r, $qp, dp, $o, n),
                3 => packed_tile::<$q, 3>($r, $qp, dp, $o, n),
                2 => packed_tile::<$q, 2>($r, $qp, dp, $o, n),
                _ => packed_tile::<$q, 1>($r, $qp, dp, $o, n),
            }
        };
    }
    let mut g0 = 0;
    while g0 < groups {
        let gt = (groups - g0).min(4);
        let mut j0 = 0;
        while j0 < nq {
            let jt = (nq - j0).min(6);
            // SAFETY: g0 < groups and j0 < nq, so each pointer stays inside its buffer, and
            // the tile reads gt groups from g0 and jt queries from j0, all within bounds.
            unsafe {
                let r = rows.add(g0 * PACK_ROWS * dp);
                let qp = qs.add(j0 * dp);
                let o = out.add(j0 * n + g0 * PACK_ROWS);
                match jt {
                    6 => by_groups!(6, gt, r, qp, o),
                    5 => by_groups!(5, gt, r, qp, o),
                    4 => by_groups!(4, gt, r, qp, o),
                    3 => by_groups!(3, gt, r, qp, o),
                    2 => by_groups!(2, gt, r, qp, o),
                    _ => by_groups!(1, gt, r, qp, o),
                }
            }
            j0 += jt;
        }
        g0 += gt;
    }
}

/// `Q` queries × `G` groups: for each slice of 4 values, `G` row loads, `Q` broadcasts of 4
/// query bytes and `Q · G` `vpdpbusd`.
///
/// Safety: as `packed_vnni`, with `rows` holding `G` groups, `qs` `Q` queries of `dp` bytes
/// and `out` rows `j · n + g · 16 + l` for `j < Q`, `g < G`, `l < 16`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
unsafe fn packed_tile<const Q: usize, const G: usize>(
    rows: *const u8,
    qs: *const i8,
    dp: usize,
    out: *mut i32,
    n: usize,
) {
    let mut acc = [[_mm512_setzero_si512(); G]; Q];
    let stride = PACK_ROWS * dp;
    for t in 0..dp / 4 {
        let mut r = [_mm512_setzero_si512(); G];
        for (g, rg) in r.iter_mut().enumerate() {
            // SAFETY: group g < G of the tile, slice t < dp / 4: 64 bytes inside the group.
            *rg = unsafe { _mm512_loadu_si512(rows.add(g * stride + t * 64).cast()) };
        }
        for (j, aj) in acc.iter_mut().enumerate() {
            // SAFETY: query j < Q, bytes 4t..4t + 4 < dp.
            let b = unsafe { qs.add(j * dp + t * 4).cast::<i32>().read_unaligned() };
            let b = _mm512_set1_epi32(b);
            for (a, rg) in aj.iter_mut().zip(&r) {
                *a = _mm512_dpbusd_epi32(*a, *rg, b);
            }
        }
    }
    for (j, aj) in acc.iter().enumerate() {
        for (g, a) in aj.iter().enumerate() {
            // SAFETY: 16 values of row block g of query j, inside `out` (see above).
            unsafe { _mm512_storeu_si512(out.add(j * n + g * PACK_ROWS).cast(), *a) };
        }
    }
}

cross_chain!("avx2,fma,f16c,avx512f,avx512vl", 6);

batch_chain!(
    "avx2,fma,f16c,avx512f,avx512vl",
    6,
    4,
    [6 5 4 3 2 1],
    [4 3 2 1]
);

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
use super::{BatchRows, BatchSink, Kernels};
use std::arch::x86_64::{__m256, _mm256_add_ps, _mm256_fmadd_ps, _mm256_setzero_ps};

/// The AVX-512 table: AVX2's entries but the batched scan.
static AVX512: Kernels = Kernels {
    name: "avx512",
    batch_scan,
    dot_f32_cross,
    ..avx2::TABLE
};

/// The AVX-512 table if this CPU supports avx2, fma, f16c, avx512f and avx512vl.
///
/// This check is the invariant the wrapper below (and the AVX2 entries) rely on.
pub(super) fn kernels() -> Option<&'static Kernels> {
    let ok = is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
        && is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512vl");
    ok.then_some(&AVX512)
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

cross_chain!("avx2,fma,f16c,avx512f,avx512vl", 6);

batch_chain!(
    "avx2,fma,f16c,avx512f,avx512vl",
    6,
    4,
    [6 5 4 3 2 1],
    [4 3 2 1]
);

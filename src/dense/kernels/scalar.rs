//! The scalar kernels: the oracle every SIMD implementation is tested against.
//!
//! Plain safe Rust. Each reduction keeps eight independent accumulators (one per lane of an
//! 8-wide block) so that the additions do not form one long dependency chain; rustc does not
//! reassociate float sums by itself, and a single accumulator is several times slower. The
//! partial sums are combined pairwise at the end, and the fewer-than-8 leftover values go into
//! the first accumulators.

use half::f16;

use super::{
    BATCH_QUERIES, BATCH_ROWS, BatchBlock, BatchRows, BatchSink, Kernels, PACK_ROWS, packed_shape,
    same_len,
};

/// The scalar table.
pub(super) static SCALAR: Kernels = Kernels {
    name: "scalar",
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
    dot_u8i8_packed: Some(dot_u8i8_packed),
};

/// Lanes per block, and so the number of independent accumulators.
const LANES: usize = 8;

/// `Σ term(aᵢ, bᵢ)` over the common length of `a` and `b`, with `LANES` accumulators.
///
/// `#[inline(always)]` so that each caller gets a copy specialised to its `term` and element type.
#[inline(always)]
fn reduce<B: Copy>(a: &[f32], b: &[B], term: impl Fn(f32, B) -> f32) -> f32 {
    let (a, b) = same_len(a, b);
    let (a_blocks, a_tail) = a.as_chunks::<LANES>();
    let (b_blocks, b_tail) = b.as_chunks::<LANES>();
    let mut acc = [0.0f32; LANES];
    for (xs, ys) in a_blocks.iter().zip(b_blocks) {
        for ((s, &x), &y) in acc.iter_mut().zip(xs).zip(ys) {
            *s += term(x, y);
        }
    }
    for ((s, &x), &y) in acc.iter_mut().zip(a_tail).zip(b_tail) {
        *s += term(x, y);
    }
    let [s0, s1, s2, s3, s4, s5, s6, s7] = acc;
    ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

/// Scores `q` against each whole row of `q.len()` values in `rows`, writing `out[i]` for row `i`.
/// Rows that do not fit in `out`, and entries of `out` without a whole row, are skipped.
#[inline(always)]
fn many<B>(q: &[f32], rows: &[B], out: &mut [f32], one: impl Fn(&[f32], &[B]) -> f32) {
    let dim = q.len();
    if dim == 0 {
        // Every row is empty, and an empty sum is 0.
        out.fill(0.0);
        return;
    }
    for (o, row) in out.iter_mut().zip(rows.chunks_exact(dim)) {
        *o = one(q, row);
    }
}

/// Inner product.
pub(super) fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    reduce(a, b, |x, y| x * y)
}

/// Squared euclidean distance.
pub(super) fn l2sq_f32(a: &[f32], b: &[f32]) -> f32 {
    reduce(a, b, |x, y| {
        let d = x - y;
        d * d
    })
}

/// Inner product with an f16 row.
pub(super) fn dot_f16(a: &[f32], b: &[f16]) -> f32 {
    reduce(a, b, |x, y| x * widen(y))
}

/// Squared euclidean distance to an f16 row.
pub(super) fn l2sq_f16(a: &[f32], b: &[f16]) -> f32 {
    reduce(a, b, |x, y| {
        let d = x - widen(y);
        d * d
    })
}

/// Widens an f16 exactly to f32, branch-free so that the loops above still vectorise
/// (`f16::to_f32` checks for F16C on every call and made this oracle several times slower).
///
/// The 15 magnitude bits shifted left by 13 land in the low bits of an f32's exponent and
/// mantissa: read as an f32, that is the f16 value times 2⁻¹¹², for normal and subnormal f16
/// alike (an f16 subnormal becomes an f32 subnormal). Multiplying by 2¹¹² is then exact. The
/// all-ones exponent (infinity, NaN) is mapped to the f32 all-ones exponent instead.
#[inline(always)]
fn widen(h: f16) -> f32 {
    const TWO_POW_112: f32 = 5.192_297e33; // 2¹¹², exactly representable
    let bits = h.to_bits();
    let shifted = u32::from(bits & 0x7fff) << 13;
    let magnitude = if bits & 0x7c00 == 0x7c00 {
        f32::from_bits(shifted | 0x7f80_0000)
    } else {
        f32::from_bits(shifted) * TWO_POW_112
    };
    let sign = u32::from(bits & 0x8000) << 16;
    f32::from_bits(magnitude.to_bits() | sign)
}

/// [`dot_f32`] against consecutive rows.
pub(super) fn dot_f32_many(q: &[f32], rows: &[f32], out: &mut [f32]) {
    many(q, rows, out, dot_f32);
}

/// [`dot_f16`] against consecutive rows.
pub(super) fn dot_f16_many(q: &[f32], rows: &[f16], out: &mut [f32]) {
    many(q, rows, out, dot_f16);
}

/// [`l2sq_f32`] against consecutive rows.
pub(super) fn l2sq_f32_many(q: &[f32], rows: &[f32], out: &mut [f32]) {
    many(q, rows, out, l2sq_f32);
}

/// [`l2sq_f16`] against consecutive rows.
pub(super) fn l2sq_f16_many(q: &[f32], rows: &[f16], out: &mut [f32]) {
    many(q, rows, out, l2sq_f16);
}

/// Integer inner products of 7-bit queries with int8 rows (see `Kernels::dot_u7i8_batch`).
pub(super) fn dot_u7i8_batch(qs: &[u8], nq: usize, rows: &[i8], out: &mut [i32]) {
    let Some((dim, _)) = super::u7i8_shape(qs.len(), nq, rows.len(), out) else {
        return;
    };
    for (o, row) in out.chunks_exact_mut(nq).zip(rows.chunks_exact(dim)) {
        for (slot, q) in o.iter_mut().zip(qs.chunks_exact(dim)) {
            *slot = q.iter().zip(row).fold(0i32, |s, (&a, &b)| {
                s.wrapping_add(i32::from(a & 0x7f) * i32::from(b))
            });
        }
    }
}

/// Integer inner products of 8-bit queries with rows packed in groups (see
/// `Kernels::dot_u8i8_packed`).
pub(super) fn dot_u8i8_packed(rows: &[u8], dp: usize, qs: &[i8], out: &mut [i32]) {
    let Some((groups, _)) = packed_shape(rows.len(), dp, qs.len(), out.len()) else {
        return;
    };
    let n = groups * PACK_ROWS;
    for (q, o) in qs.chunks_exact(dp).zip(out.chunks_exact_mut(n)) {
        for (g, og) in rows.chunks_exact(PACK_ROWS * dp).zip(o.chunks_exact_mut(PACK_ROWS)) {
            let mut acc = [0i32; PACK_ROWS];
            for (qc, slice) in q.chunks_exact(4).zip(g.chunks_exact(4 * PACK_ROWS)) {
                for (a, r) in acc.iter_mut().zip(slice.chunks_exact(4)) {
                    for (&x, &y) in qc.iter().zip(r) {
                        *a = a.wrapping_add(i32::from(x) * i32::from(y));
                    }
                }
            }
            og.copy_from_slice(&acc);
        }
    }
}

/// Every inner product between the rows of `a` and of `b` (see `Kernels::dot_f32_cross`).
pub(super) fn dot_f32_cross(a: &[f32], b: &[f32], dim: usize, out: &mut [f32], stride: usize) {
    if dim == 0 {
        return;
    }
    let nb = b.len() / dim;
    if stride < nb {
        return;
    }
    for (i, x) in a.chunks_exact(dim).enumerate() {
        let Some(o) = out.get_mut(i * stride..i * stride + nb) else {
            break;
        };
        for (slot, y) in o.iter_mut().zip(b.chunks_exact(dim)) {
            *slot = dot_f32(x, y);
        }
    }
}

/// Every query against every row, one pair at a time with the pair kernels (see
/// `Kernels::batch_scan`).
pub(super) fn batch_scan(
    qs: &[f32],
    nq: usize,
    rows: BatchRows<'_>,
    l2: bool,
    sink: &mut BatchSink<'_>,
) {
    match (rows, l2) {
        (BatchRows::F32(r), false) => scan_blocks(qs, nq, r, sink, dot_f32),
        (BatchRows::F32(r), true) => scan_blocks(qs, nq, r, sink, l2sq_f32),
        (BatchRows::F16(r), false) => scan_blocks(qs, nq, r, sink, dot_f16),
        (BatchRows::F16(r), true) => scan_blocks(qs, nq, r, sink, l2sq_f16),
    }
}

/// [`batch_scan`] over rows of one element type with the pair kernel `one`.
fn scan_blocks<B>(
    qs: &[f32],
    nq: usize,
    rows: &[B],
    sink: &mut BatchSink<'_>,
    one: fn(&[f32], &[B]) -> f32,
) {
    if nq == 0 || qs.len() / nq == 0 {
        return;
    }
    let dim = qs.len() / nq;
    let mut scores = vec![0.0f32; BATCH_QUERIES.min(nq) * BATCH_ROWS];
    for (b, block) in rows.chunks(BATCH_ROWS * dim).enumerate() {
        let nr = block.len() / dim;
        if nr == 0 {
            break;
        }
        for (g, group) in qs.chunks_exact(dim).take(nq).collect::<Vec<_>>().chunks(BATCH_QUERIES).enumerate() {
            let out = scores.get_mut(..group.len() * nr).unwrap_or_default();
            for (o, q) in out.chunks_exact_mut(nr).zip(group) {
                for (slot, row) in o.iter_mut().zip(block.chunks_exact(dim)) {
                    *slot = one(q, row);
                }
            }
            sink(&BatchBlock {
                first_query: g * BATCH_QUERIES,
                queries: group.len(),
                first_row: b * BATCH_ROWS,
                rows: nr,
                scores: out,
            });
        }
    }
}

//! Distance kernels: inner product and squared L2 over f32 and f16 vectors.
//!
//! This module owns every float distance the dense layer computes. One implementation of all
//! kernels is a [`Kernels`] table of plain function pointers; callers fetch a table once (usually
//! [`best()`]) and call through it, so the choice of instruction set is made in one place, at
//! run time, and never baked into the build.
//!
//! - `scalar.rs`: the oracle. Plain Rust with several accumulators, no `unsafe`, runs anywhere.
//! - `avx2.rs` (x86_64 only): AVX2 + FMA + F16C versions of the same functions, with software
//!   prefetch in the one-query-many-rows scans. Its table is handed out only after the CPU has
//!   been checked for all three features; that check is what makes its `unsafe` sound.
//! - `avx512.rs` (x86_64 only): the AVX2 table with an AVX-512VL batched scan and k-means GEMM
//!   (bigger register tiles, same bits), handed out only after checking avx512f and avx512vl
//!   as well; where avx512bw and avx512vnni are present too, both integer kernels
//!   (`dot_u7i8_batch`, `dot_u8i8_packed`) use `vpdpbusd` (the same integers).
//! - `fastscan/`: ADC scans of product-quantized codes (4-bit fast-scan in blocks of 32, 8-bit
//!   tables), with their own scalar oracle and AVX2 twin.
//! - `tests.rs`: one suite run against every implementation in [`available()`], comparing with
//!   an f64 reference across odd dimensions, plus property tests.
//!
//! The integer kernels, `dot_u7i8_batch` and `dot_u8i8_packed`, are exact, so every
//! implementation must return the same values.
//!
//! Semantics shared by every float kernel:
//! - Pairs of slices of unequal length are truncated to the shorter one; no kernel panics.
//! - An f16 row value is widened exactly to f32 before it is used; the query stays f32.
//! - The `*_many` kernels score one query against consecutive rows of `q.len()` values each,
//!   writing `out[i]` for row `i`. If `rows` holds fewer than `out.len()` whole rows, only the
//!   entries for whole rows are written and the rest of `out` is left as it was.
//! - Results differ from the exact value only by rounding and summation order, within the bound
//!   `(n + 2) · 2⁻²³ · Σ|xᵢ·yᵢ|` checked by the tests (for l2sq the terms are `(xᵢ−yᵢ)²`).
//!
//! Setting the environment variable `STRATA_ISA=scalar` before the first call to [`best()`]
//! forces the scalar table (to rule the SIMD code out when chasing a problem); `STRATA_ISA=avx2`
//! or `avx512` picks that table if the CPU has it, and anything else (or unset) the best
//! available. `STRATA_KERNELS` is the older name of the same switch,
//! read when `STRATA_ISA` is not set. The name of the table in use is [`Kernels::name`].

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod tiles;
#[cfg(target_arch = "x86_64")]
mod avx512;
pub mod fastscan;
mod scalar;
#[cfg(test)]
mod tests;

use std::sync::OnceLock;

use half::f16;

/// One implementation of every kernel.
///
/// All functions are safe to call with any input: unequal lengths are truncated to the shorter
/// slice, and the `*_many` functions never read past `rows` or write past `out`.
#[derive(Debug)]
pub struct Kernels {
    /// Name of the implementation: `"scalar"`, `"avx2"` or `"avx512"`.
    pub name: &'static str,
    /// Inner product `Σ aᵢ·bᵢ`.
    pub dot_f32: fn(&[f32], &[f32]) -> f32,
    /// Squared euclidean distance `Σ (aᵢ−bᵢ)²`.
    pub l2sq_f32: fn(&[f32], &[f32]) -> f32,
    /// Inner product of an f32 query with an f16 row (the row widened exactly to f32).
    pub dot_f16: fn(&[f32], &[f16]) -> f32,
    /// Squared euclidean distance between an f32 query and an f16 row.
    pub l2sq_f16: fn(&[f32], &[f16]) -> f32,
    /// `dot_f32_many(q, rows, out)`: `out[i] = dot_f32(q, rows[i·d..(i+1)·d])` with `d = q.len()`,
    /// for every whole row that fits in both `rows` and `out`.
    pub dot_f32_many: fn(&[f32], &[f32], &mut [f32]),
    /// As `dot_f32_many`, over f16 rows.
    pub dot_f16_many: fn(&[f32], &[f16], &mut [f32]),
    /// As `dot_f32_many`, computing squared euclidean distances.
    pub l2sq_f32_many: fn(&[f32], &[f32], &mut [f32]),
    /// As `dot_f32_many`, computing squared euclidean distances to f16 rows.
    pub l2sq_f16_many: fn(&[f32], &[f16], &mut [f32]),
    /// `dot_u7i8_batch(qs, nq, rows, out)`: integer inner products of `nq` 7-bit queries of
    /// `d = qs.len() / nq` bytes each (stored one after another) with signed 8-bit rows,
    /// `out[i·nq + j] = Σₜ (qs[j·d + t] & 0x7f) · rows[i·d + t]`, added with wrapping i32
    /// arithmetic (exact for `d < 2¹⁷`), for every whole row of `d` values in `rows` whose `nq`
    /// slots fit in `out`; each row is read once for all the queries. Query bytes are taken
    /// modulo 128. With `nq = 0` nothing is written; with `d = 0` every slot of `out` is 0.
    /// Every implementation returns the same integers. The coarse ranking of IVF lists over
    /// int8 centroids (one query is a batch of one).
    pub dot_u7i8_batch: fn(&[u8], usize, &[i8], &mut [i32]),
    /// `dot_f32_cross(a, b, dim, out, stride)`: every inner product between the rows of `a` and
    /// the rows of `b` (`dim` values each): `out[i·stride + j] = ⟨a_i, b_j⟩`, for each whole row
    /// `i` of `a` whose `nb` slots (`nb` = whole rows of `b`) fit in `out`; with `dim = 0` or
    /// `stride < nb` nothing is written. The k-means assignment GEMM: the AVX2 version keeps a
    /// tile of 3 × 4 accumulators in registers, the AVX-512 one 6 × 4 (the same bits). Each pair's value depends only on the two rows
    /// (not on its position in a tile), so results do not depend on how callers block the rows.
    pub dot_f32_cross: fn(&[f32], &[f32], usize, &mut [f32], usize),
    /// `batch_scan(qs, nq, rows, l2, sink)`: every one of `nq` queries of `d = qs.len() / nq`
    /// values (stored one after another) against every whole row of `d` values in `rows`,
    /// handed to `sink` in blocks of up to [`BATCH_ROWS`] rows × [`BATCH_QUERIES`] queries, rows
    /// in order and, within a block of rows, queries in order. Each score is **bit for bit**
    /// what this table's `dot_f32`/`dot_f16` (or with `l2`, `l2sq_f32`/`l2sq_f16`) returns for
    /// the pair alone, so a batch ranks exactly as its queries one at a time. With `nq = 0` or
    /// `d = 0` the sink is never called. Exact search of a batch of queries: the AVX2 version
    /// widens and reorders each block of rows once and keeps a tile of queries × rows in
    /// registers, so each chunk of a row loaded feeds several queries.
    pub batch_scan: fn(&[f32], usize, BatchRows<'_>, bool, &mut BatchSink<'_>),
    /// `dot_u8i8_packed(rows, dp, qs, out)`: integer inner products of signed 8-bit queries with
    /// unsigned 8-bit rows packed in groups of [`PACK_ROWS`]. `dp` (a multiple of 4) is the
    /// padded dimension; a group is `PACK_ROWS · dp` bytes laid out as `dp / 4` slices of
    /// `PACK_ROWS` rows × 4 consecutive values, so value `t` of row `l` of the group is at byte
    /// `(t / 4) · 64 + l · 4 + t % 4`. With `groups` whole groups in `rows` (`n = 16 · groups`
    /// rows) and `nq` whole queries of `dp` values in `qs`, it writes
    /// `out[j·n + r] = Σₜ qs[j·dp + t] · row_r[t]` (wrapping i32, exact for `dp < 2¹⁶`) for every
    /// query `j` and row `r`; nothing when `dp` is not a positive multiple of 4, either count is
    /// 0 or `out` holds fewer than `nq · n` values. Every implementation returns the same
    /// integers. `None` in tables without a kernel worth it (callers then scan floats): the
    /// first pass of exact search over a segment's 8-bit sketch (`flat::sketch`); the VNNI
    /// version keeps 6 queries × 64 rows of accumulators in registers.
    pub dot_u8i8_packed: Option<PackedKernel>,
}

/// `(dim, rows)` of a [`Kernels::dot_u7i8_batch`] call (`dim = qs / nq`; whole rows whose `nq`
/// slots fit in `out`), or `None` when it has nothing to compute: `nq = 0`, or `dim = 0`, in
/// which case every slot of `out` is set to 0 here.
fn u7i8_shape(qs: usize, nq: usize, rows: usize, out: &mut [i32]) -> Option<(usize, usize)> {
    if nq == 0 {
        return None;
    }
    let dim = qs / nq;
    if dim == 0 {
        out.fill(0);
        return None;
    }
    Some((dim, (rows / dim).min(out.len() / nq)))
}

/// The signature of [`Kernels::dot_u8i8_packed`].
pub type PackedKernel = fn(&[u8], usize, &[i8], &mut [i32]);

/// Rows per group of [`Kernels::dot_u8i8_packed`]'s packed layout (one 512-bit register of i32
/// sums).
pub const PACK_ROWS: usize = 16;

/// Writes `row` (signed values, at most `dp`) offset to unsigned (`v + 128`) as row `r` of
/// `packed`, a buffer in [`Kernels::dot_u8i8_packed`]'s layout for padded dimension `dp`: value
/// `t` goes to byte `(r / 16) · 16 · dp + (t / 4) · 64 + (r % 16) · 4 + t % 4`. Bytes beyond
/// `packed` are skipped.
pub fn pack_row(packed: &mut [u8], dp: usize, r: usize, row: &[i8]) {
    let start = (r / PACK_ROWS) * PACK_ROWS * dp;
    let group = packed.get_mut(start..).unwrap_or_default();
    let lane = (r % PACK_ROWS) * 4;
    for (slice, vals) in group.chunks_exact_mut(4 * PACK_ROWS).zip(row.chunks(4)) {
        for (b, &v) in slice.iter_mut().skip(lane).zip(vals) {
            *b = (i16::from(v) + 128) as u8;
        }
    }
}

/// `(groups, queries)` of a [`Kernels::dot_u8i8_packed`] call, or `None` when it writes nothing.
fn packed_shape(rows: usize, dp: usize, qs: usize, out: usize) -> Option<(usize, usize)> {
    if dp == 0 || !dp.is_multiple_of(4) {
        return None;
    }
    let groups = rows / (PACK_ROWS * dp);
    let nq = qs / dp;
    let need = nq.checked_mul(groups * PACK_ROWS)?;
    (groups > 0 && nq > 0 && out >= need).then_some((groups, nq))
}

/// Rows per block of [`Kernels::batch_scan`]: 96 rows of 384 f32 are 144 KiB, which stay in L2
/// while the queries stream past them; a multiple of the AVX2 tile's 3 rows.
pub const BATCH_ROWS: usize = 96;

/// Queries per block of [`Kernels::batch_scan`]: bounds the score buffer (`BATCH_QUERIES ×
/// BATCH_ROWS` f32, 48 KiB) whatever the batch size.
pub const BATCH_QUERIES: usize = 128;

/// The rows a [`Kernels::batch_scan`] runs over.
#[derive(Debug, Clone, Copy)]
pub enum BatchRows<'a> {
    /// f32 rows.
    F32(&'a [f32]),
    /// f16 rows, widened exactly to f32.
    F16(&'a [f16]),
}

/// Where a [`Kernels::batch_scan`] hands its blocks.
pub type BatchSink<'a> = dyn FnMut(&BatchBlock<'_>) + 'a;

/// One block of a [`Kernels::batch_scan`]: queries `first_query..first_query + queries` against
/// rows `first_row..first_row + rows`; `scores[j·rows + i]` is query `first_query + j` against
/// row `first_row + i`.
#[derive(Debug)]
pub struct BatchBlock<'a> {
    /// First query of the block.
    pub first_query: usize,
    /// Queries in the block.
    pub queries: usize,
    /// First row of the block.
    pub first_row: usize,
    /// Rows in the block.
    pub rows: usize,
    /// The scores, query-major.
    pub scores: &'a [f32],
}

/// The scalar implementation: the reference every other implementation is tested against.
pub fn scalar() -> &'static Kernels {
    &scalar::SCALAR
}

/// The fastest implementation this CPU supports, chosen on the first call and then cached.
///
/// AVX2 is chosen only if the CPU reports avx2, fma and f16c. `STRATA_ISA=scalar` (or the older
/// `STRATA_KERNELS=scalar`) in the environment forces the scalar table.
pub fn best() -> &'static Kernels {
    static BEST: OnceLock<&'static Kernels> = OnceLock::new();
    BEST.get_or_init(|| choose(forced_isa().as_deref()))
}

/// The instruction set asked for in the environment: `STRATA_ISA`, else the older name
/// `STRATA_KERNELS`.
pub(crate) fn forced_isa() -> Option<String> {
    std::env::var("STRATA_ISA")
        .or_else(|_| std::env::var("STRATA_KERNELS"))
        .ok()
}

/// Every implementation usable on this CPU, scalar first (the test suites iterate over these).
pub fn available() -> Vec<&'static Kernels> {
    let mut all = vec![scalar()];
    #[cfg(target_arch = "x86_64")]
    all.extend(avx2::kernels());
    #[cfg(target_arch = "x86_64")]
    all.extend(avx512::kernels());
    all
}

/// The euclidean (L2) norm of `v`, rounded to f32 ([`norm_f64`]); `+∞` only when the norm
/// itself exceeds `f32::MAX`.
pub fn norm_f32(v: &[f32]) -> f32 {
    norm_f64(v) as f32
}

/// The euclidean (L2) norm of `v`, summed in f64: the square of an f32 component is always
/// finite there, so a finite vector whose components' squares overflow f32 (around 1e19 and
/// up) still gets its true norm. Four independent sums keep the loop pipelined.
pub fn norm_f64(v: &[f32]) -> f64 {
    let mut acc = [0f64; 4];
    let chunks = v.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            let x = f64::from(x);
            *a += x * x;
        }
    }
    for (a, &x) in acc.iter_mut().zip(tail) {
        let x = f64::from(x);
        *a += x * x;
    }
    let [a, b, c, d] = acc;
    ((a + b) + (c + d)).sqrt()
}

/// Hints the CPU to start loading the cache lines of `data` (a row about to be re-ranked).
/// A no-op where no prefetch instruction is available; never faults.
#[inline]
pub fn prefetch<T>(data: &[T]) {
    #[cfg(target_arch = "x86_64")]
    avx2::prefetch_range(byte_range(data));
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

/// The bytes of `data`, for prefetching only (the address range, not the values, matters).
#[cfg(target_arch = "x86_64")]
fn byte_range<T>(data: &[T]) -> (*const u8, usize) {
    (data.as_ptr().cast::<u8>(), std::mem::size_of_val(data))
}

/// The table `best()` returns for a given value of `STRATA_ISA`: scalar if asked for,
/// otherwise the last (fastest) available one.
fn choose(forced: Option<&str>) -> &'static Kernels {
    let all = available();
    let named = forced.and_then(|name| {
        let name = name.trim();
        all.iter().find(|k| k.name.eq_ignore_ascii_case(name))
    });
    named.or(all.last()).copied().unwrap_or(scalar())
}

/// `a` and `b` cut to their common length, so that kernels can zip them without checks.
fn same_len<'a, A, B>(a: &'a [A], b: &'a [B]) -> (&'a [A], &'a [B]) {
    let n = a.len().min(b.len());
    (a.split_at(n).0, b.split_at(n).0)
}

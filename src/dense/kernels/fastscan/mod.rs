//! ADC scans of product-quantized codes: the 4-bit fast-scan and the 8-bit table scan.
//!
//! This module owns the blocked layout of 4-bit PQ codes, the quantization of a float lookup
//! table (LUT) to bytes, and the kernels that score many codes against one query's table. As
//! with the distance kernels, one implementation is a [`FastScan`] table of function pointers
//! chosen once at run time by [`best()`].
//!
//! - `scalar.rs`: the oracle, plain safe Rust, and the fast path of the 8-bit scan.
//! - `avx2.rs` (x86_64 only): the 4-bit scan with `vpshufb` lookups, 32 vectors per block.
//! - `tests.rs`: one suite run against every implementation in [`available()`].
//!
//! # The blocked 4-bit layout ([`pack4`])
//!
//! Sub-codes are 4 bits (0..16). `m` is padded to `m_even = m + (m mod 2)` with sub-code 0 and
//! `n` to a multiple of 32 with vectors whose sub-codes are all 0. The output is `⌈n/32⌉` blocks
//! of `m_even/2 · 32` bytes; within block `b`, pair `j` (sub-quantizers `2j` and `2j+1`) owns
//! the 32 bytes at offset `j·32`, and byte `p` of them holds
//!
//! ```text
//! vector v = 32·b + (p / 2)        if p is even   (vectors 0..16 of the block)
//!          = 32·b + 16 + (p / 2)   if p is odd    (vectors 16..32 of the block)
//! byte     = code[v][2j] | code[v][2j+1] << 4
//! ```
//!
//! The low nibbles of one 32-byte row are therefore the codes of sub-quantizer `2j` for all 32
//! vectors and the high nibbles those of `2j+1`, so one `vpshufb` per nibble half, with that
//! sub-quantizer's 16-byte table row broadcast to both 128-bit lanes, looks up 32 vectors at
//! once. The interleaving (vector `k` at byte `2k`, vector `16+k` at byte `2k+1`) is chosen for
//! the widening to u16: the even bytes of a register, read as u16 lanes, are vectors 0..16 in
//! order and the odd bytes are vectors 16..32 in order, so the two u16 accumulators are stored
//! to the output as they are, with no permutation.
//!
//! # Scores and overflow
//!
//! `scan4` writes, for every vector, the sum over pairs of sub-quantizers `(2j, 2j+1)` of
//! `min(255, table[2j][code_2j] + table[2j+1][code_2j+1])`: the two entries of a pair are added
//! in one saturating byte before widening, which saves three of the eleven vector operations per
//! pair. [`QuantizedLut`] turns the sum into an approximate score `bias + scale · sum`. Sums are
//! computed modulo 2¹⁶ (wrapping), the same in every implementation. [`quantize_lut`] keeps each
//! entry at most `min(127, ⌊65535 / m_even⌋)`, so a pair never saturates and the sums never
//! wrap; tables with larger entries are scored by the same (saturating) rule everywhere.
//! Seven-bit tables cost no measurable recall: on WordNet (m 96, nprobe 64/96, re-rank 0/40/60)
//! recall@10 moved by at most 0.0006 from 8-bit tables, and by at most 0.001 with 6-bit ones.
//!
//! # Inconsistent inputs
//!
//! No function here panics or reads out of bounds when lengths disagree: it processes what
//! fits. Sub-codes are masked to their low 4 bits; missing codes count as 0; table rows
//! missing from a [`QuantizedLut`] (or from the 8-bit table) count as rows of zeros; `scan4`
//! scores only the blocks present in `packed` whose first vector has a slot in `out`, and
//! writes only the slots `out` has.
//!
//! Setting `STRATA_ISA=scalar` (or the older `STRATA_KERNELS=scalar`) before the first call to [`best()`] forces the scalar table,
//! as for the distance kernels.

#[cfg(target_arch = "x86_64")]
mod avx2;
mod scalar;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::sync::OnceLock;

/// Vectors per block of the 4-bit layout.
pub const BLOCK: usize = 32;

/// Bytes of one block for one pair of sub-quantizers.
const PAIR_BYTES: usize = 32;

/// One implementation of the ADC scans.
///
/// Every function is safe to call with any input; see the module docs for what happens when
/// lengths disagree.
#[derive(Debug)]
pub struct FastScan {
    /// Name of the implementation: `"scalar"` or `"avx2"`.
    pub name: &'static str,
    /// u16 sums `Σ_j min(255, table[2j][code_2j] + table[2j+1][code_2j+1])` for every vector of
    /// `nblocks` blocks (`out.len() >= nblocks*32`; `out[i]` for vector i in the original order —
    /// the in-block permutation is undone). Sums wrap modulo 2¹⁶; see the module docs.
    pub scan4: fn(packed: &[u8], nblocks: usize, lut: &QuantizedLut, out: &mut [u16]),
    /// 8-bit PQ: f32 ADC sums for n vectors with codes row-major (n*m bytes) against an f32
    /// table m*256: `out[i] = Σ_j lut[j*256 + codes[i*m+j]]`, added in the order j = 0, 1, …, so
    /// the result is bit-identical to that naive loop. Writes `min(codes.len() / m, out.len())`
    /// entries; with `m = 0` every entry of `out` is the empty sum 0.
    pub scan8: fn(codes: &[u8], m: usize, lut: &[f32], out: &mut [f32]),
    /// Clears `out`, then appends, in increasing order, every index `i` with
    /// `lo ≤ sums[i] ≤ hi`: the codes of a scanned list whose sums can still reach the
    /// caller's threshold (empty if `lo > hi`).
    pub select: fn(sums: &[u16], lo: u16, hi: u16, out: &mut Vec<u32>),
}

/// A 4-bit lookup table quantized to u8.
///
/// `table` is `m_even × 16` bytes, row `j` holding the 16 entries of sub-quantizer `j`; the
/// approximate score of a vector is `bias + scale · Σ_j table[j][code_j]` (as f32). Built by
/// [`quantize_lut`] from an f32 LUT; whether larger or smaller is better does not matter, the
/// map is affine with `scale > 0`.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedLut {
    /// `m_even` rows of 16 entries.
    pub table: Vec<u8>,
    /// Number of rows: the number of sub-quantizers rounded up to even.
    pub m_even: usize,
    /// Float value of one unit of the u16 sum; always finite and positive from `quantize_lut`.
    pub scale: f32,
    /// Float value of a sum of 0: the sum of the rows' minima.
    pub bias: f32,
}

impl QuantizedLut {
    /// The approximate score `bias + scale · sum` of a u16 sum produced by `scan4`.
    pub fn score(&self, sum: u16) -> f32 {
        self.bias + self.scale * f32::from(sum)
    }
}

/// `m` rounded up to even: the number of table rows and of sub-codes per vector in the layout.
fn m_even(m: usize) -> usize {
    m.saturating_add(m & 1)
}

/// Size in bytes of [`pack4`]'s output: `⌈n/32⌉ · m_even/2 · 32` (saturating).
pub fn packed4_len(n: usize, m: usize) -> usize {
    n.div_ceil(BLOCK)
        .saturating_mul(m_even(m) / 2)
        .saturating_mul(PAIR_BYTES)
}

/// The vector (0..32) of a block whose sub-codes sit in byte `p` (0..32) of a pair's row.
const fn vector_of_byte(p: usize) -> usize {
    if p.is_multiple_of(2) {
        p / 2
    } else {
        16 + p / 2
    }
}

/// Packs `n` vectors of `m` 4-bit sub-codes (row-major, one per byte of `codes`) into the
/// blocked fast-scan layout described in the module docs.
///
/// Only the low 4 bits of each sub-code are kept; if `codes` is shorter than `n·m`, the missing
/// sub-codes are 0.
pub fn pack4(codes: &[u8], n: usize, m: usize) -> Vec<u8> {
    let mut packed = vec![0u8; packed4_len(n, m)];
    let code = |v: usize, j: usize| -> u8 {
        if j >= m {
            return 0; // the padding sub-quantizer
        }
        let at = v.checked_mul(m).and_then(|i| i.checked_add(j));
        at.and_then(|i| codes.get(i)).map_or(0, |&c| c & 0x0f)
    };
    let block_bytes = (m_even(m) / 2).saturating_mul(PAIR_BYTES);
    if block_bytes == 0 {
        return packed;
    }
    for (b, block) in packed.chunks_exact_mut(block_bytes).enumerate() {
        for (j, row) in block.chunks_exact_mut(PAIR_BYTES).enumerate() {
            for (p, byte) in row.iter_mut().enumerate() {
                let v = b * BLOCK + vector_of_byte(p);
                if v < n {
                    *byte = code(v, 2 * j) | (code(v, 2 * j + 1) << 4);
                }
            }
        }
    }
    packed
}

/// The inverse of [`pack4`]: the `n·m` sub-codes, row-major. Bytes missing from `packed` decode
/// as sub-code 0.
pub fn unpack4(packed: &[u8], n: usize, m: usize) -> Vec<u8> {
    let mut codes = vec![0u8; n.saturating_mul(m)];
    let block_bytes = (m_even(m) / 2).saturating_mul(PAIR_BYTES);
    if block_bytes == 0 {
        return codes;
    }
    let blocks = packed.chunks(block_bytes).take(n.div_ceil(BLOCK));
    for (b, block) in blocks.enumerate() {
        for (j, row) in block.chunks(PAIR_BYTES).enumerate() {
            for (p, &byte) in row.iter().enumerate() {
                let v = b * BLOCK + vector_of_byte(p);
                if v >= n {
                    continue;
                }
                // In bounds of `codes` (v < n, 2j < m), so no overflow either.
                let at = v * m + 2 * j;
                if let Some(c) = codes.get_mut(at) {
                    *c = byte & 0x0f;
                }
                if 2 * j + 1 < m
                    && let Some(c) = codes.get_mut(at + 1)
                {
                    *c = byte >> 4;
                }
            }
        }
    }
    codes
}

/// The largest table entry [`quantize_lut`] produces for `m_even` rows: 127 (so that a pair of
/// entries fits a byte), or less when `127 · m_even` would not fit in a u16 sum.
fn levels(m_even: usize) -> u8 {
    let per_row = 65_535 / m_even.max(1);
    u8::try_from(per_row.min(127)).unwrap_or(127)
}

/// Quantizes an f32 LUT of `m` rows × 16 entries (row-major) to bytes.
///
/// Each row is shifted by its minimum (the minima add up to `bias`) and every row is divided by
/// one common `scale`, so that the widest row spans `0..=L` with `L = min(127, ⌊65535/m_even⌋)`;
/// entries are rounded to nearest. Hence for every code vector
/// `|bias + scale · Σ_j table[j][code_j] − Σ_j lut[j][code_j]| ≤ m · scale / 2` up to float
/// rounding. Rows missing from `lut` (shorter than `m·16`) and the padding row are zeros.
/// Non-finite entries are ignored when finding a row's range and then clamped (`+∞` to `L`,
/// `−∞` and NaN to 0); `scale` is 1 if every row is constant.
pub fn quantize_lut(lut: &[f32], m: usize) -> QuantizedLut {
    let m_even = m_even(m);
    let top = levels(m_even);
    let (rows, _) = lut.as_chunks::<16>();
    let rows = rows.get(..m).unwrap_or(rows);
    let ranges: Vec<(f32, f32)> = rows.iter().map(finite_range).collect();
    let bias: f64 = ranges.iter().map(|&(lo, _)| f64::from(lo)).sum();
    let widest = ranges
        .iter()
        .map(|&(lo, hi)| f64::from(hi) - f64::from(lo))
        .fold(0.0, f64::max);
    let scale = if widest > 0.0 && top > 0 {
        widest / f64::from(top)
    } else {
        1.0
    };
    // f32 arithmetic from here: `units` is off by at most ~2⁻¹⁵ of a step, far below the ½
    // step of rounding.
    let inv = (1.0 / scale) as f32;
    let top = f32::from(top);
    let mut table = vec![0u8; m_even.saturating_mul(16)];
    for ((out, row), &(lo, _)) in table.chunks_exact_mut(16).zip(rows).zip(&ranges) {
        for (q, &v) in out.iter_mut().zip(row) {
            // `max` maps NaN to 0.
            let units = ((v - lo) * inv).max(0.0).min(top);
            *q = round_small(units);
        }
    }
    QuantizedLut {
        table,
        m_even,
        scale: scale as f32,
        bias: bias as f32,
    }
}

/// `x` rounded to the nearest integer (ties to even), for `0 ≤ x ≤ 255`.
///
/// Adding 2²³ leaves no fraction bits in the f32 mantissa, so the float addition itself rounds
/// and the integer lands in the low mantissa bits. Unlike `x.round() as u8` this is a few
/// vector instructions rather than a libm call and a saturating conversion per entry.
#[inline]
fn round_small(x: f32) -> u8 {
    const SHIFT: f32 = 8_388_608.0; // 2²³
    ((x + SHIFT).to_bits() & 0xff) as u8
}

/// The smallest and largest finite entries of a row, or `(0, 0)` if it has none.
fn finite_range(row: &[f32; 16]) -> (f32, f32) {
    let lo = row.map(|v| if v.is_finite() { v } else { f32::INFINITY });
    let hi = row.map(|v| if v.is_finite() { v } else { f32::NEG_INFINITY });
    let lo = reduce16(lo, |a, b| if b < a { b } else { a });
    let hi = reduce16(hi, |a, b| if b > a { b } else { a });
    if lo <= hi { (lo, hi) } else { (0.0, 0.0) }
}

/// Folds 16 values with `pick` as a tree of depth 4 (a serial fold would be a 16-long chain).
#[inline]
fn reduce16(mut v: [f32; 16], pick: impl Fn(f32, f32) -> f32) -> f32 {
    for half in [8, 4, 2, 1] {
        let (a, b) = v.split_at_mut(half);
        for (x, &y) in a.iter_mut().zip(&*b) {
            *x = pick(*x, y);
        }
    }
    v[0]
}

/// What one `scan4` call processes, shared by every implementation so that they agree on
/// inconsistent inputs.
struct Scan4Plan<'a> {
    /// `m_even/2` rows of pairs of table rows, zero-padded if the table is short.
    rows: Cow<'a, [[[u8; 16]; 2]]>,
    /// Bytes per block.
    block_bytes: usize,
    /// Blocks to score: present in `packed`, asked for, and with a first slot in `out`.
    blocks: usize,
}

impl<'a> Scan4Plan<'a> {
    fn new(packed_len: usize, nblocks: usize, lut: &'a QuantizedLut, out_len: usize) -> Self {
        let pairs = lut.m_even.div_ceil(2);
        let block_bytes = pairs.saturating_mul(PAIR_BYTES);
        let in_packed = packed_len.checked_div(block_bytes).unwrap_or(usize::MAX);
        let blocks = nblocks.min(in_packed).min(out_len.div_ceil(BLOCK));
        let (all, _) = lut.table.as_chunks::<16>();
        let present = all.len().min(lut.m_even);
        let (all_pairs, _) = all.as_chunks::<2>();
        let rows = if blocks == 0 {
            Cow::Borrowed(&[][..])
        } else if present >= 2 * pairs {
            Cow::Borrowed(all_pairs.get(..pairs).unwrap_or(all_pairs))
        } else {
            let mut padded = vec![[[0u8; 16]; 2]; pairs];
            for (i, row) in all.iter().take(present).enumerate() {
                if let Some(slot) = padded.get_mut(i / 2).and_then(|p| p.get_mut(i % 2)) {
                    *slot = *row;
                }
            }
            Cow::Owned(padded)
        };
        Scan4Plan {
            rows,
            block_bytes,
            blocks,
        }
    }

    /// Calls `block(codes, rows, out)` for each block to score, with the block's `m_even/2`
    /// rows of 32 code bytes and its (at most 32) output slots. With no sub-quantizers at all,
    /// writes the empty sum 0 instead.
    #[inline]
    fn run(
        &self,
        packed: &[u8],
        out: &mut [u16],
        mut block: impl FnMut(&[[u8; PAIR_BYTES]], &[[[u8; 16]; 2]], &mut [u16]),
    ) {
        let outs = out.chunks_mut(BLOCK).take(self.blocks);
        if self.block_bytes == 0 {
            outs.for_each(|o| o.fill(0));
            return;
        }
        for (codes, o) in packed.chunks_exact(self.block_bytes).zip(outs) {
            let (codes, _) = codes.as_chunks::<PAIR_BYTES>();
            block(codes, &self.rows, o);
        }
    }
}

/// The `m` rows of 256 entries `scan8` reads: borrowed from `lut`, or a copy padded with zero
/// rows if `lut` is shorter than `m·256`.
fn lut8_rows(lut: &[f32], m: usize) -> Cow<'_, [[f32; 256]]> {
    let (rows, _) = lut.as_chunks::<256>();
    match rows.get(..m) {
        Some(rows) => Cow::Borrowed(rows),
        None => {
            let mut padded = rows.to_vec();
            padded.resize(m, [0.0; 256]);
            Cow::Owned(padded)
        }
    }
}

/// The scalar implementation: the reference every other implementation is tested against.
pub fn scalar() -> &'static FastScan {
    &scalar::SCALAR
}

/// The fastest implementation this CPU supports, chosen on the first call and then cached.
///
/// AVX2 is chosen if the CPU reports avx2. `STRATA_ISA=scalar` (or `STRATA_KERNELS`) forces
/// the scalar table.
pub fn best() -> &'static FastScan {
    static BEST: OnceLock<&'static FastScan> = OnceLock::new();
    BEST.get_or_init(|| choose(super::forced_isa().as_deref()))
}

/// Every implementation usable on this CPU, scalar first (the test suite iterates over these).
pub fn available() -> Vec<&'static FastScan> {
    let mut all = vec![scalar()];
    #[cfg(target_arch = "x86_64")]
    all.extend(avx2::fast_scan());
    all
}

/// The table `best()` returns for a given value of `STRATA_ISA`: scalar if asked for,
/// otherwise the last (fastest) available one.
fn choose(forced: Option<&str>) -> &'static FastScan {
    if forced.is_some_and(|name| name.trim().eq_ignore_ascii_case("scalar")) {
        return scalar();
    }
    available().last().copied().unwrap_or(scalar())
}

//! The AVX2 4-bit fast-scan (x86_64 only); the 8-bit scan reuses the scalar one.
//!
//! Per block of 32 vectors and per pair of sub-quantizers `(2j, 2j+1)`, the kernel loads the
//! pair's 32 code bytes, splits them into low nibbles (`and 0x0f`) and high nibbles
//! (`srli_epi16(4)` then `and`), and looks both halves up with one `vpshufb` each, against the
//! 16-byte table row of `2j` (resp. `2j+1`) broadcast to both 128-bit lanes (a
//! `vbroadcasti128` straight from the table, so no per-query set-up). That gives 32 u8 terms
//! per sub-quantizer, which are widened into u16 accumulators without masking the even bytes:
//! `all += r` adds each u16 lane `even + 256·odd` and `odd += r >> 8` adds the odd byte alone;
//! at the end of the block `even = all − (odd << 8)`. All of this is exact modulo 2¹⁶, which
//! is the documented (wrapping) semantics of `scan4`, so the result equals the scalar one bit
//! for bit. By the layout, the even bytes are vectors 0..16 and the odd bytes vectors 16..32,
//! in order, so `even` and `odd` are stored as they are.
//!
//! Loads and stores go through `bytemuck::cast` between byte arrays and `__m256i`, which is
//! safe and compiles to plain unaligned moves.
//!
//! Safety. The only `unsafe` is the call from the table entry `scan4` into the
//! `#[target_feature(enable = "avx2")]` kernel. The table is handed out only by
//! [`fast_scan()`], after `is_x86_feature_detected!("avx2")`, which is what makes that call
//! sound.
#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m128i, __m256i, _mm256_add_epi16, _mm256_adds_epu8, _mm256_and_si256,
    _mm256_broadcastsi128_si256, _mm256_cmpeq_epi16, _mm256_max_epu16, _mm256_min_epu16,
    _mm256_movemask_epi8, _mm256_set1_epi8, _mm256_set1_epi16, _mm256_setzero_si256,
    _mm256_shuffle_epi8, _mm256_slli_epi16, _mm256_srli_epi16, _mm256_sub_epi16,
};

use super::{FastScan, PAIR_BYTES, QuantizedLut, Scan4Plan, scalar};

/// The AVX2 table. Private: it leaves this module only through [`fast_scan()`].
static AVX2: FastScan = FastScan {
    name: "avx2",
    scan4,
    scan8: scalar::scan8,
    select,
};

/// The AVX2 table if this CPU supports avx2, otherwise `None`.
///
/// This check is the invariant the `scan4` wrapper relies on.
pub(super) fn fast_scan() -> Option<&'static FastScan> {
    is_x86_feature_detected!("avx2").then_some(&AVX2)
}

/// Table entry: a safe wrapper around the `#[target_feature]` kernel.
fn scan4(packed: &[u8], nblocks: usize, lut: &QuantizedLut, out: &mut [u16]) {
    // SAFETY: this function is private and referenced only by `AVX2`, which `fast_scan()` hands
    // out only when avx2 was detected on this CPU, so the callee's target feature is present.
    // The callee takes slices and never reads or writes outside them.
    unsafe { scan4_tf(packed, nblocks, lut, out) }
}

#[target_feature(enable = "avx2")]
fn scan4_tf(packed: &[u8], nblocks: usize, lut: &QuantizedLut, out: &mut [u16]) {
    let plan = Scan4Plan::new(packed.len(), nblocks, lut, out.len());
    plan.run(packed, out, |codes, rows, o| block(codes, rows, o));
}

/// Table entry: a safe wrapper around the `#[target_feature]` kernel.
fn select(sums: &[u16], lo: u16, hi: u16, out: &mut Vec<u32>) {
    // SAFETY: as for `scan4`: referenced only by `AVX2`, handed out only when avx2 was
    // detected. The callee only reads `sums` through safe slice chunks and pushes to `out`.
    unsafe { select_tf(sums, lo, hi, out) }
}

/// 16 sums per step: `lo ≤ s` as `max(s, lo) == s` and `s ≤ hi` as `min(s, hi) == s`
/// (unsigned), one byte-mask bit pair per lane; the tail goes through the scalar loop.
#[target_feature(enable = "avx2")]
fn select_tf(sums: &[u16], lo: u16, hi: u16, out: &mut Vec<u32>) {
    out.clear();
    if lo > hi {
        return;
    }
    let vlo = _mm256_set1_epi16(lo as i16);
    let vhi = _mm256_set1_epi16(hi as i16);
    let (chunks, tail) = sums.as_chunks::<16>();
    let mut base = 0u32;
    for c in chunks {
        let v: __m256i = bytemuck::cast(*c);
        let ge = _mm256_cmpeq_epi16(_mm256_max_epu16(v, vlo), v);
        let le = _mm256_cmpeq_epi16(_mm256_min_epu16(v, vhi), v);
        let mut mask = _mm256_movemask_epi8(_mm256_and_si256(ge, le)) as u32;
        while mask != 0 {
            let bit = mask.trailing_zeros();
            out.push(base + bit / 2);
            mask &= !(3 << bit);
        }
        base += 16;
    }
    for (i, &s) in (base..).zip(tail) {
        if lo <= s && s <= hi {
            out.push(i);
        }
    }
}

/// Scores one block: `codes` holds one row of 32 bytes per pair of sub-quantizers, `rows` the
/// matching pairs of table rows; writes the (at most 32) slots of `out`.
#[target_feature(enable = "avx2")]
#[inline]
fn block(codes: &[[u8; PAIR_BYTES]], rows: &[[[u8; 16]; 2]], out: &mut [u16]) {
    let nibble = _mm256_set1_epi8(0x0f);
    let mut all0 = _mm256_setzero_si256();
    let mut odd0 = _mm256_setzero_si256();
    let mut all1 = _mm256_setzero_si256();
    let mut odd1 = _mm256_setzero_si256();
    let step = |all: &mut __m256i, odd: &mut __m256i, c: &[u8; PAIR_BYTES], t: &[[u8; 16]; 2]| {
        let c: __m256i = bytemuck::cast(*c);
        let lo = _mm256_and_si256(c, nibble);
        let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(c), nibble);
        let t0 = _mm256_broadcastsi128_si256(bytemuck::cast::<_, __m128i>(t[0]));
        let t1 = _mm256_broadcastsi128_si256(bytemuck::cast::<_, __m128i>(t[1]));
        // The pair's two entries in one saturating byte, then widened once.
        let r = _mm256_adds_epu8(_mm256_shuffle_epi8(t0, lo), _mm256_shuffle_epi8(t1, hi));
        *all = _mm256_add_epi16(*all, r);
        *odd = _mm256_add_epi16(*odd, _mm256_srli_epi16::<8>(r));
    };
    // Two accumulator pairs, so consecutive pairs of sub-quantizers do not wait on each other.
    let (code2, code_rest) = codes.as_chunks::<2>();
    let (rows2, rows_rest) = rows.as_chunks::<2>();
    for ([c0, c1], [t0, t1]) in code2.iter().zip(rows2) {
        step(&mut all0, &mut odd0, c0, t0);
        step(&mut all1, &mut odd1, c1, t1);
    }
    for (c, t) in code_rest.iter().zip(rows_rest) {
        step(&mut all0, &mut odd0, c, t);
    }
    let all = _mm256_add_epi16(all0, all1);
    let odd = _mm256_add_epi16(odd0, odd1);
    let even = _mm256_sub_epi16(all, _mm256_slli_epi16::<8>(odd));
    // Lane k of `even` is vector k, lane k of `odd` vector 16 + k.
    let sums: [u16; 32] = bytemuck::cast([even, odd]);
    match <&mut [u16; 32]>::try_from(&mut *out) {
        // The usual case: two 32-byte stores.
        Ok(whole) => *whole = sums,
        // The last, partial block of an output of `n` slots.
        Err(_) => out.iter_mut().zip(sums).for_each(|(o, s)| *o = s),
    }
}

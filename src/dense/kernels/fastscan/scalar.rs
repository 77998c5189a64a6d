//! The scalar scans: the oracle for the 4-bit scan and the fast path of the 8-bit scan.
//!
//! Plain safe Rust. `scan4` follows the layout byte by byte (see the module docs of
//! `fastscan`), adding with wrapping u16 arithmetic like the SIMD kernels. `scan8` is what
//! every implementation uses: per LIMITS.md an AVX2 gather is slower than scalar loads here.
//! It scores four vectors at a time so that four independent chains of float additions are in
//! flight (an f32 add has a latency of 3 cycles), while each vector's terms are still added
//! in the order j = 0, 1, …, which keeps the result bit-identical to the naive loop.

use super::{FastScan, PAIR_BYTES, QuantizedLut, Scan4Plan, lut8_rows};

/// The scalar table.
pub(super) static SCALAR: FastScan = FastScan {
    name: "scalar",
    scan4,
    scan8,
    select,
};

/// `table[j][code_j] + table[j+1][code_{j+1}]` for the two sub-codes of one byte, saturated at
/// 255 (see the module docs of `fastscan`).
#[inline]
fn pair_sum(rows: &[[u8; 16]; 2], byte: u8) -> u16 {
    let [lo, hi] = rows;
    let a = lo.get(usize::from(byte & 0x0f)).copied().unwrap_or(0);
    let b = hi.get(usize::from(byte >> 4)).copied().unwrap_or(0);
    u16::from(a.saturating_add(b))
}

fn scan4(packed: &[u8], nblocks: usize, lut: &QuantizedLut, out: &mut [u16]) {
    let plan = Scan4Plan::new(packed.len(), nblocks, lut, out.len());
    plan.run(packed, out, scan4_block);
}

/// Scores one block: `codes` holds one row of 32 bytes per pair of sub-quantizers.
fn scan4_block(codes: &[[u8; PAIR_BYTES]], rows: &[[[u8; 16]; 2]], out: &mut [u16]) {
    // Byte 2k of a row belongs to vector k, byte 2k+1 to vector 16+k.
    let mut first = [0u16; 16];
    let mut second = [0u16; 16];
    for (row, tables) in codes.iter().zip(rows) {
        let (bytes, _) = row.as_chunks::<2>();
        for ((&[even, odd], s0), s1) in bytes.iter().zip(&mut first).zip(&mut second) {
            *s0 = s0.wrapping_add(pair_sum(tables, even));
            *s1 = s1.wrapping_add(pair_sum(tables, odd));
        }
    }
    for (o, s) in out.iter_mut().zip(first.into_iter().chain(second)) {
        *o = s;
    }
}

pub(super) fn scan8(codes: &[u8], m: usize, lut: &[f32], out: &mut [f32]) {
    if m == 0 {
        out.fill(0.0);
        return;
    }
    if codes.len() < m || out.is_empty() {
        return;
    }
    let table = lut8_rows(lut, m);
    let look = |row: &[f32; 256], c: u8| row.get(usize::from(c)).copied().unwrap_or(0.0);

    let (out4, _) = out.as_chunks_mut::<4>();
    let mut done = 0;
    for (group, o) in codes.chunks_exact(m.saturating_mul(4)).zip(out4) {
        let (c0, rest) = group.split_at(m);
        let (c1, rest) = rest.split_at(m);
        let (c2, c3) = rest.split_at(m);
        let mut s = [0.0f32; 4];
        for ((((row, &a), &b), &c), &d) in table.iter().zip(c0).zip(c1).zip(c2).zip(c3) {
            s[0] += look(row, a);
            s[1] += look(row, b);
            s[2] += look(row, c);
            s[3] += look(row, d);
        }
        *o = s;
        done += 4;
    }
    let rest = codes.get(done * m..).unwrap_or_default();
    let out_rest = out.get_mut(done..).unwrap_or_default();
    for (vector, o) in rest.chunks_exact(m).zip(out_rest) {
        let mut s = 0.0f32;
        for (row, &c) in table.iter().zip(vector) {
            s += look(row, c);
        }
        *o = s;
    }
}

pub(super) fn select(sums: &[u16], lo: u16, hi: u16, out: &mut Vec<u32>) {
    out.clear();
    out.extend(
        (0u32..)
            .zip(sums)
            .filter(|&(_, &s)| lo <= s && s <= hi)
            .map(|(i, _)| i),
    );
}

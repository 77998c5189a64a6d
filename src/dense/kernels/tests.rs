//! One suite, run against every implementation in `available()`.
//!
//! The reference is computed in f64 from the exact f32 (and exactly decoded f16) inputs. The
//! tolerance is the textbook bound for a floating-point sum in any order: with `n` terms,
//! `|computed − exact| ≤ (n + 2) · 2⁻²³ · Σ|termᵢ|`, where a term is `xᵢ·yᵢ` for the dot product
//! and `(xᵢ−yᵢ)²` for the squared distance (`2⁻²³` is twice the f32 unit roundoff, which also
//! covers the rounding of each product and difference). The bound is deterministic, so these
//! tests cannot flake. A separate test on small integers, where every implementation must be
//! exact, catches a dropped or doubled element that the bound might hide.

use half::f16;
use proptest::prelude::*;

use super::{
    BATCH_QUERIES, BATCH_ROWS, BatchRows, PACK_ROWS, Kernels, available, best, choose, norm_f32, scalar,
};

/// Dimensions around every block and tail boundary of every implementation.
const DIMS: [usize; 14] = [0, 1, 3, 7, 8, 15, 16, 17, 31, 33, 100, 384, 385, 1000];

/// A small deterministic generator (splitmix64), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        crate::rng::splitmix64(&mut self.0)
    }

    /// Uniform in [-1, 1).
    fn unit(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }

    fn vec_f32(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.unit() * scale).collect()
    }

    fn vec_f16(&mut self, n: usize, scale: f32) -> Vec<f16> {
        (0..n).map(|_| f16::from_f32(self.unit() * scale)).collect()
    }

    /// Integers in [-4, 4].
    fn small_int(&mut self) -> i64 {
        (self.next_u64() % 9) as i64 - 4
    }
}

/// Decodes an f16 by hand (independently of the `half` crate and of F16C).
fn f16_to_f64(h: f16) -> f64 {
    let bits = h.to_bits();
    let sign = if bits >> 15 == 1 { -1.0 } else { 1.0 };
    let exp = i32::from((bits >> 10) & 0x1f);
    let mant = f64::from(bits & 0x3ff);
    match exp {
        0 => sign * mant * 2f64.powi(-24),
        31 if mant == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        _ => sign * (1024.0 + mant) * 2f64.powi(exp - 25),
    }
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Dot,
    L2sq,
}

/// The exact (f64) result of `op` over the common length, and the sum of the terms' magnitudes.
fn reference(op: Op, a: &[f32], b: &[f64]) -> (f64, f64) {
    let mut sum = 0.0;
    let mut mag = 0.0;
    for (&x, &y) in a.iter().zip(b) {
        let t = match op {
            Op::Dot => f64::from(x) * y,
            Op::L2sq => (f64::from(x) - y).powi(2),
        };
        sum += t;
        mag += t.abs();
    }
    (sum, mag)
}

/// The allowed error for `n` terms whose magnitudes add up to `mag`.
fn tolerance(n: usize, mag: f64) -> f64 {
    (n as f64 + 2.0) * f64::from(f32::EPSILON) * mag + 1e-30
}

/// Checks all four single-pair kernels of `k` on `a` and `b` (of any lengths).
fn check_pair(k: &Kernels, a: &[f32], b: &[f32], b16: &[f16]) {
    let b64: Vec<f64> = b.iter().map(|&y| f64::from(y)).collect();
    let b16_64: Vec<f64> = b16.iter().map(|&y| f16_to_f64(y)).collect();
    let cases: [(&str, Op, f32, &[f64]); 4] = [
        ("dot_f32", Op::Dot, (k.dot_f32)(a, b), &b64),
        ("l2sq_f32", Op::L2sq, (k.l2sq_f32)(a, b), &b64),
        ("dot_f16", Op::Dot, (k.dot_f16)(a, b16), &b16_64),
        ("l2sq_f16", Op::L2sq, (k.l2sq_f16)(a, b16), &b16_64),
    ];
    for (what, op, got, b) in cases {
        let (want, mag) = reference(op, a, b);
        let n = a.len().min(b.len());
        let err = (f64::from(got) - want).abs();
        assert!(
            err <= tolerance(n, mag),
            "{} {what}: n={n} got {got} want {want} (err {err:e} > tol {:e})",
            k.name,
            tolerance(n, mag)
        );
    }
}

#[test]
fn there_is_a_scalar_and_it_comes_first() {
    let all = available();
    assert_eq!(all.first().map(|k| k.name), Some("scalar"));
    assert!(all.iter().any(|k| std::ptr::eq(*k, best())));
}

#[test]
#[cfg(target_arch = "x86_64")]
fn avx2_is_available_when_the_cpu_has_it() {
    let has = is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c");
    assert_eq!(available().iter().any(|k| k.name == "avx2"), has);
    if has {
        assert_eq!(choose(Some("avx2")).name, "avx2");
        assert_eq!(choose(Some(" AVX2\n")).name, "avx2");
    }
    let wide = has && is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vl");
    assert_eq!(available().iter().any(|k| k.name == "avx512"), wide);
    let want = if wide { "avx512" } else if has { "avx2" } else { "scalar" };
    assert_eq!(choose(None).name, want);
    assert_eq!(choose(Some("avx512")).name, want, "the best available if absent");
}

#[test]
fn env_var_forces_scalar() {
    assert_eq!(choose(Some("scalar")).name, "scalar");
    assert_eq!(choose(Some(" SCALAR\n")).name, "scalar");
    // Anything else means "the best available".
    assert_eq!(
        choose(Some("nonsense")).name,
        available().last().unwrap().name
    );
}

#[test]
fn matches_f64_reference_on_odd_dimensions_and_alignments() {
    let mut rng = Rng(1);
    for k in available() {
        for dim in DIMS {
            for offset in 0..3 {
                for scale in [1.0, 1e-3, 300.0] {
                    let a = rng.vec_f32(dim + offset, scale);
                    let b = rng.vec_f32(dim + offset, scale);
                    let b16 = rng.vec_f16(dim + offset, scale);
                    // Sub-slices starting at an odd element exercise the unaligned loads.
                    check_pair(k, &a[offset..], &b[offset..], &b16[offset..]);
                }
            }
        }
    }
}

#[test]
fn agrees_with_scalar() {
    let mut rng = Rng(2);
    for k in available() {
        for dim in DIMS {
            let a = rng.vec_f32(dim, 1.0);
            let b = rng.vec_f32(dim, 1.0);
            let b16 = rng.vec_f16(dim, 1.0);
            let s = scalar();
            let pairs = [
                ((k.dot_f32)(&a, &b), (s.dot_f32)(&a, &b)),
                ((k.l2sq_f32)(&a, &b), (s.l2sq_f32)(&a, &b)),
                ((k.dot_f16)(&a, &b16), (s.dot_f16)(&a, &b16)),
                ((k.l2sq_f16)(&a, &b16), (s.l2sq_f16)(&a, &b16)),
            ];
            // Two sums each within the bound of the exact value; the bound on Σ|terms| is
            // at most `dim` for data in [-1, 1) and at most `4·dim` for squared differences.
            let tol = 2.0 * tolerance(dim, 4.0 * dim as f64);
            for (i, (got, want)) in pairs.into_iter().enumerate() {
                let err = f64::from((got - want).abs());
                assert!(
                    err <= tol,
                    "{} kernel {i}, dim {dim}: {got} vs {want}",
                    k.name
                );
            }
        }
    }
}

#[test]
fn exact_on_small_integers() {
    // |terms| ≤ 64 and n ≤ 1000, so every partial sum is an integer below 2²⁴: any summation
    // order is exact, and an element dropped or counted twice shows up as a wrong integer.
    let mut rng = Rng(3);
    for k in available() {
        for dim in DIMS {
            let ai: Vec<i64> = (0..dim).map(|_| rng.small_int()).collect();
            let bi: Vec<i64> = (0..dim).map(|_| rng.small_int()).collect();
            let a: Vec<f32> = ai.iter().map(|&x| x as f32).collect();
            let b: Vec<f32> = bi.iter().map(|&x| x as f32).collect();
            let b16: Vec<f16> = bi.iter().map(|&x| f16::from_f32(x as f32)).collect();
            let dot: i64 = ai.iter().zip(&bi).map(|(x, y)| x * y).sum();
            let l2: i64 = ai.iter().zip(&bi).map(|(x, y)| (x - y) * (x - y)).sum();
            assert_eq!((k.dot_f32)(&a, &b), dot as f32, "{} dot_f32 {dim}", k.name);
            assert_eq!((k.l2sq_f32)(&a, &b), l2 as f32, "{} l2sq_f32 {dim}", k.name);
            assert_eq!(
                (k.dot_f16)(&a, &b16),
                dot as f32,
                "{} dot_f16 {dim}",
                k.name
            );
            assert_eq!(
                (k.l2sq_f16)(&a, &b16),
                l2 as f32,
                "{} l2sq_f16 {dim}",
                k.name
            );
        }
    }
}

#[test]
fn f16_special_values_widen_exactly() {
    for k in available() {
        for dim in [1, 8, 9, 40] {
            let mut q = vec![0.0f32; dim];
            let mut row = vec![f16::ZERO; dim];
            // The smallest subnormal f16 is 2⁻²⁴; times 2²⁴ it is exactly 1.
            q[dim - 1] = 16_777_216.0;
            row[dim - 1] = f16::from_bits(1);
            assert_eq!(
                (k.dot_f16)(&q, &row),
                1.0,
                "{} subnormal, dim {dim}",
                k.name
            );
            q[dim - 1] = 1.0;
            row[dim - 1] = f16::MAX;
            assert_eq!((k.dot_f16)(&q, &row), 65504.0, "{} max, dim {dim}", k.name);
            row[dim - 1] = f16::INFINITY;
            assert_eq!(
                (k.dot_f16)(&q, &row),
                f32::INFINITY,
                "{} inf, dim {dim}",
                k.name
            );
            row[dim - 1] = f16::NAN;
            assert!((k.dot_f16)(&q, &row).is_nan(), "{} NaN, dim {dim}", k.name);
            assert!(
                (k.l2sq_f16)(&q, &row).is_nan(),
                "{} NaN l2, dim {dim}",
                k.name
            );
        }
    }
}

#[test]
fn every_f16_value_widens_exactly() {
    for k in available() {
        for bits in 0..=u16::MAX {
            let h = f16::from_bits(bits);
            let want = f16_to_f64(h);
            // Alone (a tail for the SIMD code) and inside a full 8-lane block.
            let mut row = [f16::ZERO; 8];
            row[5] = h;
            let mut q = [0.0f32; 8];
            q[5] = 1.0;
            for got in [(k.dot_f16)(&[1.0], &[h]), (k.dot_f16)(&q, &row)] {
                if want.is_nan() {
                    assert!(got.is_nan(), "{} {bits:#06x}: {got}", k.name);
                } else if want != 0.0 {
                    // A dot product with ±0 yields +0 once summed, so only non-zeros are compared.
                    assert_eq!(f64::from(got), want, "{} {bits:#06x}", k.name);
                }
            }
        }
    }
}

#[test]
fn unequal_lengths_use_the_shorter() {
    let mut rng = Rng(4);
    for k in available() {
        for (la, lb) in [(0, 5), (5, 0), (17, 9), (9, 17), (384, 385), (1000, 3)] {
            let a = rng.vec_f32(la, 1.0);
            let b = rng.vec_f32(lb, 1.0);
            let b16 = rng.vec_f16(lb, 1.0);
            let n = la.min(lb);
            assert_eq!(
                (k.dot_f32)(&a, &b),
                (k.dot_f32)(&a[..n], &b[..n]),
                "{}",
                k.name
            );
            assert_eq!(
                (k.l2sq_f32)(&a, &b),
                (k.l2sq_f32)(&a[..n], &b[..n]),
                "{}",
                k.name
            );
            assert_eq!(
                (k.dot_f16)(&a, &b16),
                (k.dot_f16)(&a[..n], &b16[..n]),
                "{}",
                k.name
            );
            assert_eq!(
                (k.l2sq_f16)(&a, &b16),
                (k.l2sq_f16)(&a[..n], &b16[..n]),
                "{}",
                k.name
            );
        }
    }
}

/// Runs the four `*_many` kernels of `k` and checks each written entry equals the single-pair
/// kernel bit for bit, and each entry without a whole row is left untouched.
fn check_many(k: &Kernels, q: &[f32], rows: &[f32], rows16: &[f16], n_out: usize) {
    const UNTOUCHED: f32 = -12345.0;
    let dim = q.len();
    // Whole rows that fit in `out`; with `dim == 0` every entry is an (empty) whole row.
    let whole = |len: usize| len.checked_div(dim).map_or(n_out, |n| n.min(n_out));
    let row_f32 = |i: usize| &rows[i * dim..(i + 1) * dim];
    let row_f16 = |i: usize| &rows16[i * dim..(i + 1) * dim];

    let mut out = vec![UNTOUCHED; n_out];
    let mut run_f32 = |many: fn(&[f32], &[f32], &mut [f32]), one: fn(&[f32], &[f32]) -> f32| {
        out.fill(UNTOUCHED);
        many(q, rows, &mut out);
        for (i, &o) in out.iter().enumerate() {
            let want = if i < whole(rows.len()) {
                one(q, row_f32(i))
            } else {
                UNTOUCHED
            };
            assert_eq!(
                o.to_bits(),
                want.to_bits(),
                "{} row {i} of {n_out}, dim {dim}",
                k.name
            );
        }
    };
    run_f32(k.dot_f32_many, k.dot_f32);
    run_f32(k.l2sq_f32_many, k.l2sq_f32);

    let mut run_f16 = |many: fn(&[f32], &[f16], &mut [f32]), one: fn(&[f32], &[f16]) -> f32| {
        out.fill(UNTOUCHED);
        many(q, rows16, &mut out);
        for (i, &o) in out.iter().enumerate() {
            let want = if i < whole(rows16.len()) {
                one(q, row_f16(i))
            } else {
                UNTOUCHED
            };
            assert_eq!(
                o.to_bits(),
                want.to_bits(),
                "{} f16 row {i}, dim {dim}",
                k.name
            );
        }
    };
    run_f16(k.dot_f16_many, k.dot_f16);
    run_f16(k.l2sq_f16_many, k.l2sq_f16);
}

#[test]
fn many_equals_one_row_at_a_time() {
    let mut rng = Rng(5);
    for k in available() {
        for dim in DIMS {
            let n = 7;
            let q = rng.vec_f32(dim, 1.0);
            let rows = rng.vec_f32(dim * n, 1.0);
            let rows16 = rng.vec_f16(dim * n, 1.0);
            // As many outputs as rows, fewer, and more (the extra ones stay untouched).
            for n_out in [n, 3, n + 2, 0] {
                check_many(k, &q, &rows, &rows16, n_out);
            }
            // A buffer that ends in the middle of a row.
            let cut = (dim * n).saturating_sub(dim / 2 + 1);
            check_many(k, &q, &rows[..cut], &rows16[..cut], n);
        }
    }
}

#[test]
fn norm_is_the_euclidean_length() {
    assert_eq!(norm_f32(&[]), 0.0);
    assert_eq!(norm_f32(&[3.0, 4.0]), 5.0);
    let v = vec![2.0f32; 100];
    assert_eq!(norm_f32(&v), 20.0);
    // Squares overflow f32, the norm does not: |(3, 4, 12)·1e20| = 13e20.
    let big = [3e20f32, 4e20, 12e20, 0.0, 0.0];
    let want = 13e20f64;
    assert!(
        (f64::from(norm_f32(&big)) - want).abs() <= want * 1e-7,
        "{}",
        norm_f32(&big)
    );
    assert!(norm_f32(&[f32::MAX, f32::MAX]).is_infinite());
    assert!(
        (super::norm_f64(&[f32::MAX, f32::MAX]) - f64::from(f32::MAX) * 2f64.sqrt()).abs() < 1e32
    );
}

/// Finite f16 values of every magnitude, including subnormals and ±0.
fn any_finite_f16() -> impl Strategy<Value = f16> {
    any::<u16>().prop_map(|bits| {
        let h = f16::from_bits(bits);
        if h.is_finite() {
            h
        } else {
            f16::from_bits(bits & 0x83ff)
        }
    })
}

proptest! {
    #[test]
    fn prop_pairs_match_reference(
        a in prop::collection::vec(-1e3f32..1e3, 0..600),
        b in prop::collection::vec(-1e3f32..1e3, 0..600),
        b16 in prop::collection::vec(any_finite_f16(), 0..600),
    ) {
        for k in available() {
            check_pair(k, &a, &b, &b16);
        }
    }

    #[test]
    fn prop_many_never_panics_and_fills_whole_rows(
        dim in 0usize..48,
        n_rows in 0usize..9,
        extra in 0usize..47,
        n_out in 0usize..12,
        seed in any::<u64>(),
    ) {
        let mut rng = Rng(seed);
        let q = rng.vec_f32(dim, 10.0);
        let len = dim * n_rows + extra.min(dim.saturating_sub(1));
        let rows = rng.vec_f32(len, 10.0);
        let rows16 = rng.vec_f16(len, 10.0);
        for k in available() {
            check_many(k, &q, &rows, &rows16, n_out);
        }
    }
}

/// The naive integer dot products `dot_u7i8_many` must equal.
fn naive_u7i8(q: &[u8], rows: &[i8], n_out: usize) -> Vec<i32> {
    let d = q.len();
    (0..n_out)
        .map(|i| {
            if d == 0 {
                return 0;
            }
            rows.get(i * d..(i + 1) * d).map_or(-1, |row| {
                q.iter()
                    .zip(row)
                    .map(|(&a, &b)| i64::from(a & 0x7f) * i64::from(b))
                    .sum::<i64>() as i32
            })
        })
        .collect()
}

fn check_u7i8(q: &[u8], rows: &[i8], n_out: usize) {
    let want = naive_u7i8(q, rows, n_out);
    for k in available() {
        // One query is a batch of one.
        let mut got = vec![-1i32; n_out];
        (k.dot_u7i8_batch)(q, 1, rows, &mut got);
        assert_eq!(got, want, "{} d={} rows={}", k.name, q.len(), rows.len());
    }
}

#[test]
fn dot_u7i8_is_exact_on_odd_dimensions_and_extremes() {
    let mut seed = 5u64;
    let mut next = || crate::rng::splitmix64(&mut seed);
    for d in [0usize, 1, 7, 31, 32, 33, 63, 64, 65, 95, 384, 385] {
        for n in [0usize, 1, 3, 8] {
            let q: Vec<u8> = (0..d).map(|_| next() as u8).collect();
            let rows: Vec<i8> = (0..d * n).map(|_| next() as i8).collect();
            check_u7i8(&q, &rows, n);
            // Extremes: every product at its largest magnitude, both signs.
            let top = vec![0xffu8; d];
            check_u7i8(&top, &vec![i8::MIN; d * n], n);
            check_u7i8(&top, &vec![i8::MAX; d * n], n);
            // `out` longer than the rows: the extra slots are left alone (-1 in the reference).
            check_u7i8(
                &q,
                rows.get(..rows.len().saturating_sub(1)).unwrap_or_default(),
                n,
            );
        }
    }
}

#[test]
fn dot_u7i8_batch_equals_one_query_at_a_time() {
    let mut seed = 9u64;
    let mut next = || crate::rng::splitmix64(&mut seed);
    for d in [1usize, 7, 31, 32, 33, 64, 95, 384, 385] {
        for nq in [1usize, 2, 3, 4, 5, 8, 9] {
            for n in [0usize, 1, 5] {
                let qs: Vec<u8> = (0..d * nq).map(|_| next() as u8).collect();
                let rows: Vec<i8> = (0..d * n).map(|_| next() as i8).collect();
                let mut want = vec![-1i32; n * nq];
                for (j, q) in qs.chunks_exact(d).enumerate() {
                    for (i, w) in naive_u7i8(q, &rows, n).into_iter().enumerate() {
                        want[i * nq + j] = w;
                    }
                }
                for k in available() {
                    let mut got = vec![-1i32; n * nq];
                    (k.dot_u7i8_batch)(&qs, nq, &rows, &mut got);
                    assert_eq!(got, want, "{} d={d} nq={nq} n={n}", k.name);
                    // An `out` one slot short: the last row is not written.
                    if n > 0 {
                        let mut short = vec![-1i32; n * nq - 1];
                        (k.dot_u7i8_batch)(&qs, nq, &rows, &mut short);
                        assert_eq!(short[..(n - 1) * nq], want[..(n - 1) * nq], "{}", k.name);
                        assert!(short[(n - 1) * nq..].iter().all(|&x| x == -1), "{}", k.name);
                    }
                }
            }
        }
    }
    for k in available() {
        let mut out = vec![5i32; 4];
        (k.dot_u7i8_batch)(&[1, 2], 0, &[1, 2], &mut out);
        assert_eq!(out, vec![5; 4], "{}: nq = 0 writes nothing", k.name);
    }
}

#[test]
fn dot_f32_cross_matches_reference_and_is_tiling_independent() {
    let mut seed = 21u64;
    let mut next = || (crate::rng::splitmix64(&mut seed) >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
    for dim in [1usize, 7, 8, 9, 33, 384, 385] {
        for (na, nb) in [
            (0usize, 3usize),
            (1, 1),
            (3, 5),
            (4, 2),
            (5, 3),
            (9, 7),
            (8, 33),
            (13, 70),
            (72, 131),
        ] {
            let a: Vec<f32> = (0..na * dim).map(|_| next()).collect();
            let b: Vec<f32> = (0..nb * dim).map(|_| next()).collect();
            let stride = nb + 2;
            let mut simd_bits: Option<Vec<u32>> = None;
            for k in available() {
                let mut out = vec![f32::NAN; na * stride];
                (k.dot_f32_cross)(&a, &b, dim, &mut out, stride);
                if k.name != "scalar" {
                    // The AVX2 and AVX-512 tiles differ in shape only: the same bits.
                    let bits: Vec<u32> = out.iter().map(|v| v.to_bits()).collect();
                    let first = simd_bits.get_or_insert_with(|| bits.clone());
                    assert_eq!(*first, bits, "{} dim {dim} {na}x{nb}", k.name);
                }
                for i in 0..na {
                    for j in 0..nb {
                        let x = &a[i * dim..(i + 1) * dim];
                        let y = &b[j * dim..(j + 1) * dim];
                        let want: f64 = x
                            .iter()
                            .zip(y)
                            .map(|(&p, &q)| f64::from(p) * f64::from(q))
                            .sum();
                        let mag: f64 = x
                            .iter()
                            .zip(y)
                            .map(|(&p, &q)| (f64::from(p) * f64::from(q)).abs())
                            .sum();
                        let got = out[i * stride + j];
                        assert!(
                            (f64::from(got) - want).abs() <= tolerance(dim, mag),
                            "{} dim {dim} ({i},{j})",
                            k.name
                        );
                        // The same pair computed on its own: bit-identical.
                        let mut one = [0.0f32];
                        (k.dot_f32_cross)(x, y, dim, &mut one, 1);
                        assert_eq!(
                            one[0].to_bits(),
                            got.to_bits(),
                            "{} dim {dim} ({i},{j})",
                            k.name
                        );
                    }
                    // Slots between rows are never written.
                    assert!(
                        out[i * stride + nb..(i + 1) * stride]
                            .iter()
                            .all(|v| v.is_nan())
                    );
                }
                // An `out` too short for the last row leaves it alone; stride < nb writes nothing.
                if na > 0 && nb > 0 {
                    let mut short = vec![f32::NAN; (na - 1) * stride + nb - 1];
                    (k.dot_f32_cross)(&a, &b, dim, &mut short, stride);
                    assert!(
                        short[(na - 1) * stride..].iter().all(|v| v.is_nan()),
                        "{}",
                        k.name
                    );
                    let mut none = vec![f32::NAN; na * nb];
                    (k.dot_f32_cross)(&a, &b, dim, &mut none, nb.saturating_sub(1));
                    assert!(nb == 0 || none.iter().all(|v| v.is_nan()), "{}", k.name);
                }
            }
        }
    }
}

/// Runs `batch_scan` and gathers its blocks into a query-major `nq × nr` matrix, checking
/// that the blocks come in order, within the documented sizes, and cover every pair once.
fn batch_matrix(k: &Kernels, qs: &[f32], nq: usize, rows: BatchRows<'_>, l2: bool) -> Vec<f32> {
    let dim = qs.len() / nq;
    let nr = match rows {
        BatchRows::F32(r) => r.len() / dim,
        BatchRows::F16(r) => r.len() / dim,
    };
    let mut m = vec![f32::NAN; nq * nr];
    let mut seen = vec![0u8; nq * nr];
    let mut last = (0usize, 0usize);
    (k.batch_scan)(qs, nq, rows, l2, &mut |b| {
        assert!(b.rows >= 1 && b.rows <= BATCH_ROWS && b.queries <= BATCH_QUERIES);
        assert!((b.first_row, b.first_query) >= last, "{}: blocks out of order", k.name);
        last = (b.first_row, b.first_query);
        assert_eq!(b.scores.len(), b.queries * b.rows);
        for j in 0..b.queries {
            for i in 0..b.rows {
                let at = (b.first_query + j) * nr + b.first_row + i;
                m[at] = b.scores[j * b.rows + i];
                seen[at] += 1;
            }
        }
    });
    assert!(seen.iter().all(|&x| x == 1), "{}: every pair exactly once", k.name);
    m
}

#[test]
fn batch_scan_equals_one_pair_at_a_time_bit_for_bit() {
    let mut rng = Rng(77);
    for dim in [1usize, 3, 7, 8, 9, 16, 31, 32, 33, 40, 100, 384, 385] {
        // Every shape of edge tile, and more rows and queries than one block holds.
        let shapes = [(1usize, 1usize), (2, 3), (3, 2), (4, 3), (5, 4), (7, 7), (9, 10), (130, 100)];
        for (nq, nr) in shapes {
            if nq * nr * dim > 2_000_000 {
                continue;
            }
            let qs = rng.vec_f32(nq * dim, 3.0);
            let rows = rng.vec_f32(nr * dim, 3.0);
            let rows16 = rng.vec_f16(nr * dim, 3.0);
            // A partial row at the end is ignored.
            let mut ragged = rows.clone();
            ragged.extend_from_slice(&rows[..dim - 1]);
            for k in available() {
                for op in [Op::Dot, Op::L2sq] {
                    let l2 = matches!(op, Op::L2sq);
                    let m32 = batch_matrix(k, &qs, nq, BatchRows::F32(&ragged), l2);
                    let m16 = batch_matrix(k, &qs, nq, BatchRows::F16(&rows16), l2);
                    for (j, q) in qs.chunks_exact(dim).enumerate() {
                        for i in 0..nr {
                            let r = &rows[i * dim..(i + 1) * dim];
                            let r16 = &rows16[i * dim..(i + 1) * dim];
                            let (one, one16) = if l2 {
                                ((k.l2sq_f32)(q, r), (k.l2sq_f16)(q, r16))
                            } else {
                                ((k.dot_f32)(q, r), (k.dot_f16)(q, r16))
                            };
                            let what = format!("{} {op:?} dim {dim} nq {nq} nr {nr} ({j},{i})", k.name);
                            assert_eq!(m32[j * nr + i].to_bits(), one.to_bits(), "{what}");
                            assert_eq!(m16[j * nr + i].to_bits(), one16.to_bits(), "{what} f16");
                            let b: Vec<f64> = r.iter().map(|&x| f64::from(x)).collect();
                            let (want, mag) = reference(op, q, &b);
                            let got = f64::from(m32[j * nr + i]);
                            assert!((got - want).abs() <= tolerance(dim, mag), "{what}");
                        }
                    }
                }
            }
        }
    }
    for k in available() {
        let mut calls = 0;
        (k.batch_scan)(&[1.0, 2.0], 0, BatchRows::F32(&[1.0, 2.0]), false, &mut |_| calls += 1);
        (k.batch_scan)(&[], 2, BatchRows::F32(&[]), true, &mut |_| calls += 1);
        (k.batch_scan)(&[1.0], 1, BatchRows::F32(&[]), true, &mut |_| calls += 1);
        assert_eq!(calls, 0, "{}: nq = 0, d = 0 or no rows: no blocks", k.name);
    }
}

/// The naive products `dot_u8i8_packed` must equal: value `t` of row `r` sits in group
/// `r / 16`, slice `t / 4`, lane `r % 16`, byte `t % 4`.
fn naive_packed(rows: &[u8], dp: usize, qs: &[i8]) -> Vec<i32> {
    let n = rows.len() / (PACK_ROWS * dp) * PACK_ROWS;
    let mut out = Vec::new();
    for q in qs.chunks_exact(dp) {
        for r in 0..n {
            let (g, l) = (r / PACK_ROWS, r % PACK_ROWS);
            let s: i64 = (0..dp)
                .map(|t| {
                    let at = g * PACK_ROWS * dp + (t / 4) * 64 + l * 4 + t % 4;
                    i64::from(q[t]) * i64::from(rows[at])
                })
                .sum();
            out.push(s as i32);
        }
    }
    out
}

#[test]
fn dot_u8i8_packed_is_exact_for_every_tile_shape() {
    let mut seed = 17u64;
    let mut next = || crate::rng::splitmix64(&mut seed);
    let tables: Vec<_> = available().into_iter().filter(|k| k.dot_u8i8_packed.is_some()).collect();
    assert!(tables.iter().any(|k| k.name == "scalar"));
    for dp in [4usize, 8, 12, 64, 384, 388] {
        // Every remainder of the 6-query × 4-group tile.
        for groups in [1usize, 2, 3, 4, 5, 7, 9] {
            for nq in [1usize, 2, 3, 5, 6, 7, 13] {
                let rows: Vec<u8> = (0..groups * PACK_ROWS * dp).map(|_| next() as u8).collect();
                let qs: Vec<i8> = (0..nq * dp).map(|_| next() as i8).collect();
                let want = naive_packed(&rows, dp, &qs);
                for k in &tables {
                    let f = k.dot_u8i8_packed.unwrap();
                    let mut got = vec![-1i32; want.len()];
                    f(&rows, dp, &qs, &mut got);
                    assert_eq!(got, want, "{} dp={dp} groups={groups} nq={nq}", k.name);
                }
            }
        }
        // Extremes: every product at its largest magnitude, both signs.
        let rows = vec![u8::MAX; 3 * PACK_ROWS * dp];
        for qv in [i8::MIN, i8::MAX] {
            let qs = vec![qv; 2 * dp];
            let want = naive_packed(&rows, dp, &qs);
            for k in &tables {
                let mut got = vec![0i32; want.len()];
                (k.dot_u8i8_packed.unwrap())(&rows, dp, &qs, &mut got);
                assert_eq!(got, want, "{} dp={dp} extreme {qv}", k.name);
            }
        }
    }
}

#[test]
fn dot_u8i8_packed_writes_nothing_for_bad_shapes() {
    let rows = vec![1u8; 2 * PACK_ROWS * 8];
    let qs = vec![1i8; 16];
    for k in available() {
        let Some(f) = k.dot_u8i8_packed else { continue };
        for (dp, out_len) in [(0usize, 64usize), (6, 64), (8, 63), (8, 0)] {
            let mut out = vec![-7i32; out_len];
            f(&rows, dp, &qs, &mut out);
            assert!(out.iter().all(|&x| x == -7), "{} dp={dp} out={out_len}", k.name);
        }
        // A partial group or query is ignored: 1 whole group, 1 whole query.
        let mut out = vec![-7i32; PACK_ROWS];
        f(&rows[..PACK_ROWS * 8 + 5], 8, &qs[..11], &mut out);
        assert!(out.iter().all(|&x| x == 8), "{}", k.name);
    }
}

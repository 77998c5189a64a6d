//! One suite, run against every implementation in `available()`.
//!
//! The 4-bit scan is integer arithmetic, so every implementation must equal the naive sum over
//! the unpacked codes exactly (modulo 2¹⁶). The 8-bit scan adds in a fixed order, so it must
//! equal the naive f32 loop bit for bit. `quantize_lut` is checked against the f64 ADC sum with
//! the bound it documents.

use proptest::prelude::*;

use super::{
    BLOCK, FastScan, QuantizedLut, available, best, choose, pack4, packed4_len, quantize_lut,
    scalar, unpack4,
};

/// Sub-quantizer counts around every pair, block-row and u16 boundary.
const MS: [usize; 11] = [1, 2, 3, 15, 16, 17, 32, 48, 63, 64, 96];

/// Vector counts around block boundaries.
const NS: [usize; 9] = [0, 1, 31, 32, 33, 64, 95, 100, 257];

/// A small deterministic generator (splitmix64), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        crate::rng::splitmix64(&mut self.0)
    }

    fn byte(&mut self) -> u8 {
        (self.next_u64() >> 56) as u8
    }

    fn bytes(&mut self, n: usize, below: u16) -> Vec<u8> {
        (0..n)
            .map(|_| (u16::from(self.byte()) % below) as u8)
            .collect()
    }

    /// Uniform in [-1, 1).
    fn unit(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }

    fn floats(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.unit() * scale).collect()
    }
}

/// A table of random bytes over the full 0..=255 range (harder than `quantize_lut`'s output).
fn random_lut(rng: &mut Rng, m: usize) -> QuantizedLut {
    let m_even = m + m % 2;
    let mut table = rng.bytes(m_even * 16, 256);
    if m % 2 == 1 {
        // The padding row is all zeros, as `quantize_lut` makes it.
        table[m * 16..].fill(0);
    }
    QuantizedLut {
        table,
        m_even,
        scale: 1.0,
        bias: 0.0,
    }
}

/// Σ_j table[j][code_j] modulo 2¹⁶ over row-major codes, rows missing from the table as zeros.
fn naive4(codes: &[u8], n: usize, m: usize, lut: &QuantizedLut) -> Vec<u16> {
    let entry = |j: usize, c: usize| -> u8 {
        if j < lut.m_even {
            lut.table.get(j * 16 + c).copied().unwrap_or(0)
        } else {
            0
        }
    };
    (0..n)
        .map(|v| {
            let mut s = 0u32;
            // Pairs of sub-quantizers (2j, 2j+1) are added in a saturating byte first.
            for j in (0..m).step_by(2) {
                let a = entry(j, usize::from(codes[v * m + j]));
                let b = if j + 1 < m {
                    entry(j + 1, usize::from(codes[v * m + j + 1]))
                } else {
                    0
                };
                s += u32::from(a.saturating_add(b));
            }
            s as u16
        })
        .collect()
}

/// out[i] = Σ_j lut[j*256 + codes[i*m+j]] in the order j = 0, 1, ….
fn naive8(codes: &[u8], m: usize, lut: &[f32]) -> Vec<f32> {
    codes
        .chunks_exact(m)
        .map(|v| {
            let mut s = 0.0f32;
            for (j, &c) in v.iter().enumerate() {
                s += lut[j * 256 + usize::from(c)];
            }
            s
        })
        .collect()
}

fn scan4(k: &FastScan, packed: &[u8], n: usize, lut: &QuantizedLut) -> Vec<u16> {
    let mut out = vec![0xdead; n.div_ceil(BLOCK) * BLOCK];
    (k.scan4)(packed, n.div_ceil(BLOCK), lut, &mut out);
    out.truncate(n);
    out
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
    let has = is_x86_feature_detected!("avx2");
    assert_eq!(available().iter().any(|k| k.name == "avx2"), has);
    if has {
        assert_eq!(choose(None).name, "avx2");
    }
}

#[test]
fn env_var_forces_scalar() {
    assert_eq!(choose(Some("scalar")).name, "scalar");
    assert_eq!(choose(Some(" Scalar\n")).name, "scalar");
    assert_eq!(
        choose(Some("nonsense")).name,
        available().last().unwrap().name
    );
}

#[test]
fn layout_is_the_documented_one() {
    // Vector v has sub-codes (v mod 16, (v / 16) + 2j mod 16) for pair j: every byte tells
    // which vector and which pair it belongs to.
    let (n, m) = (64, 4);
    let codes: Vec<u8> = (0..n)
        .flat_map(|v| (0..m).map(move |j| ((v + 3 * j) % 16) as u8))
        .collect();
    let packed = pack4(&codes, n, m);
    assert_eq!(packed.len(), packed4_len(n, m));
    assert_eq!(packed.len(), 2 * 2 * 32);
    for b in 0..2 {
        for j in 0..2 {
            for p in 0..32 {
                let v = 32 * b + if p % 2 == 0 { p / 2 } else { 16 + p / 2 };
                let want = codes[v * m + 2 * j] | (codes[v * m + 2 * j + 1] << 4);
                assert_eq!(
                    packed[b * 64 + j * 32 + p],
                    want,
                    "block {b} pair {j} byte {p}"
                );
            }
        }
    }
}

#[test]
fn packed_len_pads_n_and_m() {
    assert_eq!(packed4_len(0, 8), 0);
    assert_eq!(packed4_len(1, 1), 32);
    assert_eq!(packed4_len(33, 3), 2 * 2 * 32);
    assert_eq!(packed4_len(64, 32), 2 * 16 * 32);
    assert_eq!(packed4_len(5, 0), 0);
    assert_eq!(packed4_len(usize::MAX, usize::MAX), usize::MAX);
}

#[test]
fn pack4_masks_high_bits_and_tolerates_short_input() {
    let packed = pack4(&[0xf3, 0x21, 0x7a], 2, 2);
    assert_eq!(unpack4(&packed, 2, 2), vec![3, 1, 10, 0]);
    assert_eq!(unpack4(&packed[..2], 2, 2), vec![3, 1, 0, 0]);
    assert_eq!(unpack4(&[], 3, 3), vec![0; 9]);
    assert!(pack4(&[], 0, 5).is_empty());
    assert!(pack4(&[], 0, usize::MAX).is_empty());
    assert!(unpack4(&[1, 2, 3], 0, usize::MAX).is_empty());
    // A `packed` longer than n vectors need: the extra blocks are ignored.
    assert_eq!(unpack4(&[0x21; 96], 1, 2), vec![1, 2]);
}

#[test]
fn scan4_equals_naive_sum() {
    let mut rng = Rng(1);
    for k in available() {
        for m in MS {
            for n in NS {
                let codes = rng.bytes(n * m, 16);
                let lut = random_lut(&mut rng, m);
                let packed = pack4(&codes, n, m);
                let want = naive4(&codes, n, m, &lut);
                assert_eq!(scan4(k, &packed, n, &lut), want, "{} m={m} n={n}", k.name);
            }
        }
    }
}

#[test]
fn scan4_wraps_modulo_2_16_identically() {
    // 600 rows of entries near 255 (saturating pairs near 255) overflow a u16; every
    // implementation wraps the same way.
    let mut rng = Rng(2);
    let (n, m) = (70, 600);
    let codes = rng.bytes(n * m, 16);
    let mut lut = random_lut(&mut rng, m);
    lut.table.iter_mut().for_each(|t| *t |= 0xf0);
    let packed = pack4(&codes, n, m);
    let want = naive4(&codes, n, m, &lut);
    for k in available() {
        assert_eq!(scan4(k, &packed, n, &lut), want, "{}", k.name);
    }
}

#[test]
fn scan4_writes_only_what_fits() {
    let mut rng = Rng(3);
    let (n, m) = (100, 17);
    let codes = rng.bytes(n * m, 16);
    let lut = random_lut(&mut rng, m);
    let packed = pack4(&codes, n, m);
    let want = naive4(&codes, n, m, &lut);
    let block_bytes = packed.len() / 4;
    for k in available() {
        // An output of exactly n slots: the last block is written partially.
        let mut out = vec![7u16; n];
        (k.scan4)(&packed, 4, &lut, &mut out);
        assert_eq!(out, want, "{}", k.name);
        // Fewer blocks in `packed` than asked for: only whole blocks are scored.
        let mut out = vec![7u16; 128];
        (k.scan4)(&packed[..2 * block_bytes + 5], 4, &lut, &mut out);
        assert_eq!(out[..64], want[..64], "{}", k.name);
        assert!(out[64..].iter().all(|&s| s == 7), "{}", k.name);
        // More blocks asked for than exist, a huge nblocks, an empty output.
        let mut out = vec![7u16; 200];
        (k.scan4)(&packed, usize::MAX, &lut, &mut out);
        assert_eq!(out[..n], want[..], "{}", k.name);
        (k.scan4)(&packed, 4, &lut, &mut []);
        // A short or inconsistent table: missing rows count as zeros, no panic.
        let mut short = lut.clone();
        short.table.truncate(5 * 16 + 3);
        let mut rows5 = lut.clone();
        rows5.table[5 * 16..].fill(0);
        let mut out = vec![0u16; 128];
        (k.scan4)(&packed, 4, &short, &mut out);
        assert_eq!(out[..n], naive4(&codes, n, m, &rows5)[..], "{}", k.name);
        let odd = QuantizedLut {
            m_even: 17,
            ..lut.clone()
        };
        (k.scan4)(&packed, 4, &odd, &mut out);
        let mut zero17 = lut.clone();
        zero17.table[17 * 16..].fill(0);
        assert_eq!(out[..n], naive4(&codes, n, m, &zero17)[..], "{}", k.name);
        let huge = QuantizedLut {
            m_even: usize::MAX,
            ..lut.clone()
        };
        (k.scan4)(&packed, 4, &huge, &mut out);
        // No sub-quantizers: every sum is 0.
        let none = QuantizedLut {
            table: vec![],
            m_even: 0,
            scale: 1.0,
            bias: 0.0,
        };
        let mut out = vec![7u16; 40];
        (k.scan4)(&[], 2, &none, &mut out);
        assert!(out.iter().all(|&s| s == 0), "{}", k.name);
    }
}

/// Checks `quantize_lut` on one LUT: the bound, through `scan4` of every implementation.
fn check_quantized(lut: &[f32], m: usize, n: usize, rng: &mut Rng) {
    let q = quantize_lut(lut, m);
    assert_eq!(q.m_even, m + m % 2);
    assert_eq!(q.table.len(), q.m_even * 16);
    assert!(q.scale.is_finite() && q.scale > 0.0);
    let top = q
        .table
        .chunks(16)
        .map(|r| u32::from(*r.iter().max().unwrap()));
    assert!(top.sum::<u32>() <= 65_535, "sums must not wrap");
    let codes = rng.bytes(n * m, 16);
    let packed = pack4(&codes, n, m);
    let mag: f64 = lut.iter().map(|v| f64::from(v.abs())).sum::<f64>() + 1.0;
    for k in available() {
        let sums = scan4(k, &packed, n, &q);
        for (v, &s) in sums.iter().enumerate() {
            let exact: f64 = (0..m)
                .map(|j| f64::from(lut[j * 16 + usize::from(codes[v * m + j])]))
                .sum();
            let approx = f64::from(q.score(s));
            let bound = m as f64 * f64::from(q.scale) / 2.0 + 1e-5 * mag;
            assert!(
                (approx - exact).abs() <= bound,
                "{} m={m}: {approx} vs {exact} (bound {bound})",
                k.name
            );
        }
    }
}

#[test]
fn quantize_lut_is_within_half_a_step_per_row() {
    let mut rng = Rng(4);
    for m in MS {
        for scale in [1.0, 1e-3, 250.0] {
            let lut = rng.floats(m * 16, scale);
            check_quantized(&lut, m, 70, &mut rng);
        }
        // Rows of very different widths and offsets.
        let lut: Vec<f32> = (0..m * 16)
            .map(|i| rng.unit() * (1 + i / 16) as f32 + (i / 16) as f32 * 10.0)
            .collect();
        check_quantized(&lut, m, 70, &mut rng);
    }
    // More than 256 rows: fewer levels, so that sums cannot wrap.
    let lut = rng.floats(400 * 16, 1.0);
    check_quantized(&lut, 400, 40, &mut rng);
    assert!(quantize_lut(&lut, 400).table.iter().all(|&t| t <= 127));
}

#[test]
fn quantize_lut_edge_cases() {
    // Constant rows: an all-zero table and the exact bias.
    let q = quantize_lut(&[2.5; 48], 3);
    assert_eq!(q.table, vec![0; 64]);
    assert_eq!((q.scale, q.bias), (1.0, 7.5));
    // Non-finite entries: no panic, clamped to the ends of the range.
    let mut lut = vec![0.0f32; 32];
    lut[1] = f32::INFINITY;
    lut[2] = f32::NEG_INFINITY;
    lut[3] = f32::NAN;
    lut[4] = 1.0;
    let q = quantize_lut(&lut, 2);
    assert_eq!(&q.table[..5], &[0, 127, 0, 0, 127]);
    assert!(q.scale.is_finite() && q.bias.is_finite());
    // A LUT shorter than m rows: the missing rows are zeros.
    let q = quantize_lut(&[1.0, 2.0, 3.0], 5);
    assert_eq!(q.table, vec![0; 96]);
    let q = quantize_lut(&[], 0);
    assert_eq!((q.table.len(), q.m_even), (0, 0));
}

#[test]
fn scan8_equals_naive_sum_bit_for_bit() {
    let mut rng = Rng(5);
    for k in available() {
        for m in 1..=64 {
            for n in [0, 1, 3, 4, 5, 8, 13, 40] {
                let codes = rng.bytes(n * m, 256);
                let lut = rng.floats(m * 256, 10.0);
                let mut out = vec![f32::NAN; n];
                (k.scan8)(&codes, m, &lut, &mut out);
                let want = naive8(&codes, m, &lut);
                let same = out
                    .iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{} m={m} n={n}: {out:?} vs {want:?}", k.name);
            }
        }
    }
}

#[test]
fn scan8_writes_only_what_fits() {
    let mut rng = Rng(6);
    let m = 7;
    let codes = rng.bytes(10 * m + 3, 256);
    let lut = rng.floats(m * 256, 1.0);
    let want = naive8(&codes, m, &lut);
    assert_eq!(want.len(), 10);
    for k in available() {
        // Codes not a multiple of m: the partial vector is ignored.
        let mut out = vec![-1.0f32; 12];
        (k.scan8)(&codes, m, &lut, &mut out);
        assert_eq!(out[..10], want[..], "{}", k.name);
        assert_eq!(out[10..], [-1.0, -1.0], "{}", k.name);
        // Output shorter than the codes.
        let mut out = vec![-1.0f32; 6];
        (k.scan8)(&codes, m, &lut, &mut out);
        assert_eq!(out[..], want[..6], "{}", k.name);
        // A table shorter than m rows: missing entries count as 0.
        let mut short = lut[..3 * 256 + 17].to_vec();
        let mut out = vec![-1.0f32; 10];
        (k.scan8)(&codes, m, &short, &mut out);
        short.truncate(3 * 256);
        short.resize(m * 256, 0.0);
        assert_eq!(out, naive8(&codes, m, &short), "{}", k.name);
        // Degenerate shapes.
        (k.scan8)(&codes, m, &[], &mut out);
        assert!(out.iter().all(|&s| s == 0.0), "{}", k.name);
        (k.scan8)(&codes[..m - 1], m, &lut, &mut out);
        (k.scan8)(&codes, usize::MAX, &lut, &mut out);
        (k.scan8)(&codes, m, &lut, &mut []);
        let mut out = vec![-1.0f32; 3];
        (k.scan8)(&codes, 0, &lut, &mut out);
        assert_eq!(out, vec![0.0; 3]);
    }
}

#[test]
fn implementations_agree_on_quantized_tables() {
    let mut rng = Rng(7);
    let (n, m) = (32 * 40 + 7, 32);
    let codes = rng.bytes(n * m, 16);
    let packed = pack4(&codes, n, m);
    let q = quantize_lut(&rng.floats(m * 16, 3.0), m);
    let want = scan4(scalar(), &packed, n, &q);
    for k in available() {
        assert_eq!(scan4(k, &packed, n, &q), want, "{}", k.name);
    }
}

proptest! {
    #[test]
    fn prop_pack_unpack_round_trip(
        n in 0usize..200,
        m in 1usize..70,
        seed in any::<u64>(),
    ) {
        let codes = Rng(seed).bytes(n * m, 16);
        let packed = pack4(&codes, n, m);
        prop_assert_eq!(packed.len(), packed4_len(n, m));
        prop_assert_eq!(unpack4(&packed, n, m), codes);
    }

    #[test]
    fn prop_scan4_equals_naive(
        n in 0usize..200,
        m in 1usize..70,
        seed in any::<u64>(),
    ) {
        let mut rng = Rng(seed);
        let codes = rng.bytes(n * m, 16);
        let lut = random_lut(&mut rng, m);
        let packed = pack4(&codes, n, m);
        let want = naive4(&codes, n, m, &lut);
        for k in available() {
            prop_assert_eq!(scan4(k, &packed, n, &lut), want.clone(), "{}", k.name);
        }
    }

    #[test]
    fn prop_scan4_never_panics(
        packed in prop::collection::vec(any::<u8>(), 0..300),
        table in prop::collection::vec(any::<u8>(), 0..200),
        m_even in 0usize..20,
        nblocks in 0usize..5,
        out_len in 0usize..200,
    ) {
        let lut = QuantizedLut { table, m_even, scale: 1.0, bias: 0.0 };
        let mut want = vec![1u16; out_len];
        (scalar().scan4)(&packed, nblocks, &lut, &mut want);
        for k in available() {
            let mut out = vec![1u16; out_len];
            (k.scan4)(&packed, nblocks, &lut, &mut out);
            prop_assert_eq!(&out, &want, "{}", k.name);
        }
    }
}

/// The naive `select`: every index whose sum lies in `lo..=hi`.
fn naive_select(sums: &[u16], lo: u16, hi: u16) -> Vec<u32> {
    (0u32..)
        .zip(sums)
        .filter(|&(_, &s)| (lo..=hi).contains(&s))
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn select_equals_naive_filter() {
    let mut rng = Rng(17);
    for n in [0usize, 1, 15, 16, 17, 31, 32, 33, 100, 257] {
        // Values around the u16 extremes as well as in the middle, so signed compares would
        // be caught.
        let sums: Vec<u16> = (0..n)
            .map(|i| match i % 4 {
                0 => rng.next_u64() as u16,
                1 => 0x8000 ^ (rng.byte() as u16),
                2 => u16::MAX - u16::from(rng.byte()),
                _ => u16::from(rng.byte()),
            })
            .collect();
        let windows = [
            (0, u16::MAX),
            (0, 0),
            (u16::MAX, u16::MAX),
            (0x7fff, 0x8001),
            (100, 40_000),
            (40_000, 100),
            (0x8000, u16::MAX),
        ];
        for (lo, hi) in windows {
            let want = naive_select(&sums, lo, hi);
            for k in available() {
                let mut got = vec![7u32; 3];
                (k.select)(&sums, lo, hi, &mut got);
                assert_eq!(got, want, "{} n={n} lo={lo} hi={hi}", k.name);
            }
        }
    }
}

proptest! {
    #[test]
    fn select_matches_naive(sums in proptest::collection::vec(any::<u16>(), 0..200),
                            lo in any::<u16>(), hi in any::<u16>()) {
        let want = naive_select(&sums, lo, hi);
        for k in available() {
            let mut got = Vec::new();
            (k.select)(&sums, lo, hi, &mut got);
            prop_assert_eq!(&got, &want, "{}", k.name);
        }
    }
}

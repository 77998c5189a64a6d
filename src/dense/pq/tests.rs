use super::*;
use crate::dense::kmeans::Rng as Gen;
use proptest::prelude::*;

/// Deterministic correlated data: a few latent factors plus noise, so PQ has structure to find.
fn data(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = Gen::new(seed, 3);
    let mut g = move || (rng.unit() as f32 - 0.5) * 2.0;
    let basis: Vec<f32> = (0..4 * dim).map(|_| g()).collect();
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let z: Vec<f32> = (0..4).map(|_| g()).collect();
        for d in 0..dim {
            let s: f32 = (0..4).map(|f| z[f] * basis[f * dim + d]).sum();
            out.push(s + 0.3 * g());
        }
    }
    out
}

fn cfg(m: usize, nbits: u8) -> PqConfig {
    PqConfig {
        m,
        nbits,
        seed: 9,
        iters: 10,
        threads: 2,
        ..PqConfig::default()
    }
}

/// Mean squared reconstruction error of `pq` on `x`.
fn mse(pq: &ProductQuantizer, x: &[f32]) -> f64 {
    let codes = pq.encode_many(x, 2);
    let mut rec = vec![0.0f32; pq.dim];
    let mut err = 0.0f64;
    for (row, c) in x.chunks_exact(pq.dim).zip(codes.chunks_exact(pq.m)) {
        pq.decode(c, &mut rec);
        err += row
            .iter()
            .zip(&rec)
            .map(|(a, b)| f64::from((a - b) * (a - b)))
            .sum::<f64>();
    }
    err / (x.len() / pq.dim) as f64
}

#[test]
fn error_falls_with_m_and_nbits() {
    let dim = 16;
    let x = data(3000, dim, 1);
    let e: Vec<f64> = [1, 2, 4, 8]
        .iter()
        .map(|&m| mse(&ProductQuantizer::train(&x, dim, &cfg(m, 4)).unwrap(), &x))
        .collect();
    assert!(e.windows(2).all(|w| w[1] < w[0]), "{e:?}");
    let e8 = mse(&ProductQuantizer::train(&x, dim, &cfg(4, 8)).unwrap(), &x);
    assert!(e8 < e[2], "8-bit {e8} vs 4-bit {}", e[2]);
}

#[test]
fn adc_equals_exact_score_of_the_reconstruction() {
    let dim = 24;
    let x = data(1000, dim, 2);
    for nbits in [4, 8] {
        let pq = ProductQuantizer::train(&x, dim, &cfg(6, nbits)).unwrap();
        let mut lut = vec![0.0f32; pq.m * pq.ksub];
        let mut codes = vec![0u8; pq.m];
        let mut rec = vec![0.0f32; dim];
        for (qi, q) in x.chunks_exact(dim).take(20).enumerate() {
            let v = &x[(qi + 500) * dim..(qi + 501) * dim];
            pq.encode(v, &mut codes);
            pq.decode(&codes, &mut rec);
            pq.lut_ip(q, &mut lut);
            let want: f32 = q.iter().zip(&rec).map(|(a, b)| a * b).sum();
            let got = pq.adc(&lut, &codes);
            let scale = q.iter().zip(&rec).map(|(a, b)| (a * b).abs()).sum::<f32>();
            assert!(
                (got - want).abs() <= 1e-4 * scale.max(1e-3),
                "{got} vs {want}"
            );
            pq.lut_l2(q, &mut lut);
            let want: f32 = q.iter().zip(&rec).map(|(a, b)| (a - b) * (a - b)).sum();
            let got = pq.adc(&lut, &codes);
            assert!(
                (got - want).abs() <= 1e-4 * want.max(1e-3),
                "{got} vs {want}"
            );
        }
    }
}

#[test]
fn uneven_sub_spaces() {
    let (dim, m) = (10, 4);
    let x = data(600, dim, 3);
    let pq = ProductQuantizer::train(&x, dim, &cfg(m, 4)).unwrap();
    let ranges: Vec<_> = (0..m).map(|j| pq.sub_range(j)).collect();
    assert_eq!(ranges, vec![0..3, 3..6, 6..8, 8..10]);
    assert_eq!(pq.sub_range(4), 10..10);
    assert_eq!(pq.codebooks.len(), 16 * dim);
    assert_eq!(pq.codebook(2).len(), 16 * 2);
    // Decoding a code reproduces the chosen centroids exactly, and encoding it again is stable.
    let mut codes = vec![0u8; m];
    let mut rec = vec![0.0f32; dim];
    pq.encode(&x[..dim], &mut codes);
    pq.decode(&codes, &mut rec);
    let mut again = vec![0u8; m];
    pq.encode(&rec, &mut again);
    assert_eq!(codes, again);
    for (j, r) in ranges.iter().enumerate() {
        let c = usize::from(codes[j]);
        assert_eq!(
            &rec[r.clone()],
            &pq.codebook(j)[c * r.len()..(c + 1) * r.len()]
        );
    }
    assert!(mse(&pq, &x) < mse(&ProductQuantizer::train(&x, dim, &cfg(2, 4)).unwrap(), &x));
}

#[test]
fn deterministic_across_thread_counts() {
    let dim = 12;
    let x = data(800, dim, 4);
    let mut c = cfg(3, 4);
    c.balanced = true;
    c.threads = 1;
    let a = ProductQuantizer::train(&x, dim, &c).unwrap();
    c.threads = 4;
    let b = ProductQuantizer::train(&x, dim, &c).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.encode_many(&x, 1), b.encode_many(&x, 3));
}

#[test]
fn balanced_training_spreads_codes() {
    // Heavy-tailed data: most points near the origin, a few far out.
    let dim = 8;
    let mut rng = Gen::new(5, 5);
    let x: Vec<f32> = (0..4000 * dim)
        .map(|_| {
            let u = rng.unit() as f32;
            (u - 0.5) * if rng.unit() < 0.1 { 20.0 } else { 1.0 }
        })
        .collect();
    let ent = |balanced: bool| {
        let pq = ProductQuantizer::train(
            &x,
            dim,
            &PqConfig {
                balanced,
                ..cfg(2, 4)
            },
        )
        .unwrap();
        let e = code_entropy(&pq.encode_many(&x, 2), 2, 16);
        e.iter().sum::<f64>() / 2.0
    };
    let (plain, bal) = (ent(false), ent(true));
    assert!(bal > plain, "balanced {bal} vs plain {plain}");
}

#[test]
fn bad_arguments_are_errors() {
    let x = data(100, 8, 6);
    let bad = |c: PqConfig, dim: usize, x: &[f32]| {
        matches!(
            ProductQuantizer::train(x, dim, &c),
            Err(Error::InvalidArgument(_))
        )
    };
    assert!(bad(cfg(0, 4), 8, &x));
    assert!(bad(cfg(9, 4), 8, &x));
    assert!(bad(cfg(2, 5), 8, &x));
    assert!(bad(cfg(2, 4), 0, &x));
    assert!(bad(cfg(2, 4), 7, &x));
    assert!(bad(cfg(2, 8), 8, &x)); // 100 vectors < 256 centroids
    assert!(bad(
        PqConfig {
            threads: 0,
            ..cfg(2, 4)
        },
        8,
        &x
    ));
    let mut nan = x.clone();
    nan[8 * 37 + 3] = f32::INFINITY;
    match ProductQuantizer::train(&nan, 8, &cfg(2, 4)) {
        Err(Error::InvalidArgument(what)) => assert!(what.contains("row 37"), "{what}"),
        other => panic!("{other:?}"),
    }
    assert!(ProductQuantizer::train(&x, 8, &cfg(8, 4)).is_ok());
}

#[test]
fn code_entropy_bounds() {
    let even: Vec<u8> = (0..64u8).flat_map(|i| [i % 16, 3]).collect();
    let e = code_entropy(&even, 2, 16);
    assert!((e[0] - 4.0).abs() < 1e-12);
    assert_eq!(e[1], 0.0);
    assert!(code_entropy(&[], 2, 16).iter().all(|&x| x == 0.0));
}

/// A quantizer with arbitrary (finite) codebooks.
fn arb_pq() -> impl Strategy<Value = ProductQuantizer> {
    (1usize..12, prop_oneof![Just(4u8), Just(8u8)])
        .prop_flat_map(|(dim, nbits)| {
            let ksub = 1usize << nbits;
            (
                Just(dim),
                1..=dim,
                Just(nbits),
                proptest::collection::vec(-1e6f32..1e6, ksub * dim),
            )
        })
        .prop_map(|(dim, m, nbits, codebooks)| {
            ProductQuantizer::from_parts(dim, m, nbits, codebooks)
        })
}

fn serialize(pq: &ProductQuantizer) -> Vec<u8> {
    let mut w = ByteWriter::new();
    pq.encode_to(&mut w);
    w.into_inner()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn serialization_round_trips(pq in arb_pq()) {
        let bytes = serialize(&pq);
        let mut r = ByteReader::new("pq", &bytes);
        let back = ProductQuantizer::decode_from(&mut r).unwrap();
        prop_assert!(r.finish("pq").is_ok());
        prop_assert_eq!(back, pq);
    }

    #[test]
    fn truncated_or_damaged_bytes_are_errors(pq in arb_pq(), cut in any::<prop::sample::Index>(),
                                             flip in any::<prop::sample::Index>(), bit in 0u8..8) {
        let bytes = serialize(&pq);
        let short = &bytes[..cut.index(bytes.len())];
        let res = ProductQuantizer::decode_from(&mut ByteReader::new("pq", short));
        let is_corrupt = matches!(res, Err(Error::Corrupt { .. }));
        prop_assert!(is_corrupt);
        // A flipped bit is either caught or yields a well-formed quantizer.
        let mut bad = bytes.clone();
        bad[flip.index(bytes.len())] ^= 1 << bit;
        if let Ok(q) = ProductQuantizer::decode_from(&mut ByteReader::new("pq", &bad)) {
            prop_assert_eq!(q.codebooks.len(), q.ksub * q.dim);
            prop_assert!(q.codebooks.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256),
                                   head in proptest::collection::vec(any::<u8>(), 10)) {
        let _ = ProductQuantizer::decode_from(&mut ByteReader::new("pq", &bytes));
        // Also with a plausible header in front, so the length and float checks are reached.
        let mut b = vec![1u8, 2, 0, 0, 0, 1, 0, 0, 0, 4];
        b.extend_from_slice(&(head[0] as u64).to_le_bytes());
        b.extend_from_slice(&bytes);
        let _ = ProductQuantizer::decode_from(&mut ByteReader::new("pq", &b));
    }

    #[test]
    fn encode_decode_never_panic_on_odd_lengths(pq in arb_pq(), vlen in 0usize..16, clen in 0usize..16) {
        let v = vec![0.5f32; vlen];
        let mut codes = vec![0u8; clen];
        pq.encode(&v, &mut codes);
        let mut out = vec![0.0f32; vlen];
        pq.decode(&[255u8; 16][..clen], &mut out);
        let mut lut = vec![0.0f32; clen * 3];
        pq.lut_ip(&v, &mut lut);
        let _ = pq.adc(&lut, &codes);
    }
}

use super::*;

fn manual(weights: [f32; NF], bias: f32) -> Calibration {
    Calibration {
        mean: [0.0; NF],
        scale: [1.0; NF],
        weights,
        bias,
        threshold: 0.5,
        depth: 3,
        min_hits: 0,
    }
}

/// Hand-computed: scores 3, 2, 1 (s1 = 3, s2 = 2, μ = 2, σ = √(2/3)).
#[test]
fn reproduces_a_hand_computed_case() {
    let p = manual([1.0, 0.0, 0.0, 0.0, 0.0, 0.0], -2.0).probabilities(&[3.0, 2.0, 1.0]);
    let want = [0.731_058_6, 0.5, 0.268_941_4];
    for (a, b) in p.iter().zip(want) {
        assert!((a - b).abs() < 1e-6, "{p:?}");
    }
    // (s − μ)/σ = ±1.224745 and 0; plus the query's top score 3 with weight 0.1.
    let p = manual([0.0, 0.0, 1.0, 0.1, 0.0, 0.0], 0.0).probabilities(&[3.0, 2.0, 1.0]);
    let want = [
        1.0 / (1.0 + (-(1.224_744_9f32 + 0.3)).exp()),
        1.0 / (1.0 + (-0.3f32).exp()),
        1.0 / (1.0 + (-(-1.224_744_9f32 + 0.3)).exp()),
    ];
    for (a, b) in p.iter().zip(want) {
        assert!((a - b).abs() < 1e-6, "{p:?} vs {want:?}");
    }
}

/// Queries whose scores sit at their own offsets: the relevant hits are those within 0.5 of
/// the query's best. One global threshold on raw scores cannot find them; the calibrated
/// probabilities can, and they never increase down a ranking.
fn shifted_queries(n: usize, seed: u64) -> Vec<JudgedRanking> {
    let mut s = seed;
    let mut u = || (crate::rng::splitmix64(&mut s) >> 40) as f32 / (1u64 << 24) as f32;
    (0..n)
        .map(|_| {
            let offset = 10.0 * u();
            let mut scores: Vec<f32> = (0..30).map(|_| offset + 3.0 * u()).collect();
            scores.sort_by(|a, b| b.total_cmp(a));
            let top = scores[0];
            let relevant: Vec<bool> = scores.iter().map(|&x| top - x < 0.5).collect();
            let total_relevant = relevant.iter().filter(|&&r| r).count();
            JudgedRanking {
                scores,
                relevant,
                total_relevant,
            }
        })
        .collect()
}

#[test]
fn fitting_beats_a_raw_threshold_and_stays_monotone() {
    let train = shifted_queries(300, 1);
    let test = shifted_queries(300, 2);
    let cal = Calibration::fit(&train, 0).unwrap();
    for q in &test {
        let p = cal.probabilities(&q.scores);
        assert!(p.windows(2).all(|w| w[0] >= w[1]), "{p:?}");
    }
    let calibrated = mean_f1(&test, |i| cal.cut(&test[i].scores, cal.threshold)).0;
    // The best raw threshold, chosen on the test queries themselves (an upper bound for it).
    let mut best_raw = 0.0f64;
    for t in (0..130).map(|i| i as f32 * 0.1) {
        let f = mean_f1(&test, |i| {
            test[i].scores.iter().take_while(|&&x| x >= t).count()
        })
        .0;
        best_raw = best_raw.max(f);
    }
    assert!(
        calibrated > best_raw + 0.1,
        "calibrated F1 {calibrated}, raw {best_raw}"
    );
    assert!(calibrated > 0.8, "calibrated F1 {calibrated}");
}

#[test]
fn encoding_round_trips_and_rejects_bad_values() {
    let cal = Calibration::fit(&shifted_queries(50, 3), 1).unwrap();
    let mut w = ByteWriter::new();
    cal.encode_to(&mut w);
    let bytes = w.into_inner();
    let mut r = ByteReader::new("c", &bytes);
    assert_eq!(Calibration::decode_from(&mut r).unwrap(), cal);
    // A negative score weight would break monotonicity: refused.
    let mut bad = manual([-1.0, 0.0, 0.0, 0.0, 0.0, 0.0], 0.0);
    bad.threshold = 0.3;
    let mut w = ByteWriter::new();
    bad.encode_to(&mut w);
    let bytes = w.into_inner();
    assert!(Calibration::decode_from(&mut ByteReader::new("c", &bytes)).is_err());
    assert!(Calibration::fit(&[], 0).is_err());
}

#[test]
fn f1_counts_an_empty_result_as_zero() {
    let q = JudgedRanking {
        scores: vec![1.0, 0.5],
        relevant: vec![true, false],
        total_relevant: 2,
    };
    let qs = [q];
    assert_eq!(mean_f1(&qs, |_| 0).0, 0.0);
    // One of one kept is relevant: precision 1, recall 1/2, F1 2/3.
    assert!((mean_f1(&qs, |_| 1).0 - 2.0 / 3.0).abs() < 1e-12);
}

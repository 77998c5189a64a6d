use super::*;
use crate::dense::VectorsView;
use crate::schema::IvfPqParams;

fn data(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n * dim)
        .map(|_| (crate::rng::splitmix64(&mut s) >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
        .collect()
}

fn index(metric: Metric, nbits: u8, rows: &[f32], dim: usize) -> IvfPq {
    let p = IvfPqParams {
        nlist: 4,
        m: 4,
        nbits,
        residual: true,
        ..IvfPqParams::default()
    };
    IvfPq::build(VectorsView::F32(rows), dim, metric, &p, 7).unwrap()
}

/// Exact top-`k` rows of `q` by the metric, `exclude` left out.
fn exact(rows: &[f32], dim: usize, q: &[f32], metric: Metric, k: usize, exclude: usize) -> Vec<u32> {
    let mut s: Vec<(f32, u32)> = rows
        .chunks_exact(dim)
        .enumerate()
        .filter(|(i, _)| *i != exclude)
        .map(|(i, r)| {
            let v = match metric {
                Metric::L2 => -r.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum::<f32>(),
                _ => r.iter().zip(q).map(|(a, b)| a * b).sum::<f32>(),
            };
            (v, i as u32)
        })
        .collect();
    s.sort_by(|a, b| b.0.total_cmp(&a.0));
    s.into_iter().take(k).map(|x| x.1).collect()
}

fn mined(rows: &[f32], dim: usize, metric: Metric, queries: usize) -> Vec<TuneQuery> {
    (0..queries)
        .map(|i| {
            let row = i * 3;
            let q = rows[row * dim..(row + 1) * dim].to_vec();
            TuneQuery {
                positives: exact(rows, dim, &q, metric, 10, row),
                vector: q,
                exclude: Some(row as u32),
            }
        })
        .collect()
}

/// The analytic gradient of one query's loss equals central finite differences, for the
/// inner product and L2 scores, 4- and 8-bit codes.
#[test]
fn the_gradient_matches_finite_differences() {
    let dim = 8;
    let rows = data(300, dim, 11);
    for (metric, nbits) in [(Metric::Dot, 4), (Metric::L2, 4), (Metric::Dot, 8), (Metric::L2, 8)] {
        let ivf = index(metric, nbits, &rows, dim);
        let rc = ivf.unpacked_codes();
        let l2 = metric == Metric::L2;
        let q = &mined(&rows, dim, metric, 1)[0];
        let negs: Vec<u32> = (0..300u32).filter(|r| !q.positives.contains(r) && *r != 0).step_by(7).collect();
        let tau = 0.05f32;
        let base = ivf.pq.codebooks.clone();
        let mut grad = vec![0.0f32; base.len()];
        Scorer::new(&ivf, &ivf.pq, &rc, l2).loss_grad(q, &negs, tau, Some(&mut grad));
        let loss_at = |theta: &[f32]| {
            let pq = ProductQuantizer::from_parts(dim, 4, nbits, theta.to_vec());
            Scorer::new(&ivf, &pq, &rc, l2).loss_grad(q, &negs, tau, None)
        };
        let mut checked = 0;
        for (i, &g) in grad.iter().enumerate() {
            if g == 0.0 && i % 5 != 0 {
                continue;
            }
            let h = 1e-2f32;
            let mut up = base.clone();
            up[i] += h;
            let mut down = base.clone();
            down[i] -= h;
            let fd = ((loss_at(&up) - loss_at(&down)) / (2.0 * f64::from(h))) as f32;
            let tol = 2e-3 + 2e-2 * fd.abs().max(g.abs());
            assert!((fd - g).abs() <= tol, "{metric:?} nbits {nbits} parameter {i}: analytic {g}, numeric {fd}");
            checked += 1;
        }
        assert!(checked > 20, "{metric:?} {nbits}: only {checked} parameters checked");
        assert!(grad.iter().any(|&g| g != 0.0), "{metric:?} {nbits}: zero gradient");
    }
}

/// Tuning on a fixed seed lowers the training objective and returns the codebooks of its best
/// held-out epoch (the untuned ones when none beat them); codes and lists are untouched; the
/// result does not depend on the thread count.
#[test]
fn tuning_lowers_the_loss_and_keeps_the_codes() {
    let dim = 16;
    let rows = data(2000, dim, 5);
    for metric in [Metric::Dot, Metric::L2] {
        let ivf = index(metric, 4, &rows, dim);
        let queries = mined(&rows, dim, metric, 300);
        let cfg = TuneConfig {
            epochs: 4,
            negatives: 50,
            nprobe: 4,
            threads: 2,
            patience: 10,
            ..TuneConfig::default()
        };
        let mut seen = Vec::new();
        let out = ivf
            .tune_codebooks(&queries, &cfg, &mut |r| {
                seen.push(*r);
                true
            })
            .unwrap();
        assert_eq!(seen, out.epochs);
        assert_eq!(out.epochs.len(), 5);
        let first = out.epochs[0];
        let last = out.epochs[4];
        assert!(last.loss < first.loss, "{metric:?}: loss {} -> {}", first.loss, last.loss);
        // The codebooks returned are those of the best held-out epoch: the untuned ones
        // exactly when no epoch beat them.
        let best = out.epochs[out.best_epoch].holdout_recall;
        assert!(out.epochs.iter().all(|e| e.holdout_recall <= best));
        assert_eq!(out.pq == ivf.pq, out.best_epoch == 0, "{metric:?}");
        let tuned = ivf.with_codebooks(out.pq.clone()).unwrap();
        assert_eq!(tuned.codes, ivf.codes);
        assert_eq!(tuned.offsets, ivf.offsets);
        let one = ivf
            .tune_codebooks(&queries, &TuneConfig { threads: 1, ..cfg.clone() }, &mut |_| true)
            .unwrap();
        assert_eq!(one.pq, out.pq, "{metric:?}: thread count changed the result");
    }
}

/// Cancelling after epoch 0 returns the untuned codebooks; bad input is an error.
#[test]
fn cancelling_and_bad_input() {
    let dim = 8;
    let rows = data(400, dim, 9);
    let ivf = index(Metric::Dot, 4, &rows, dim);
    let queries = mined(&rows, dim, Metric::Dot, 20);
    let out = ivf
        .tune_codebooks(&queries, &TuneConfig::default(), &mut |_| false)
        .unwrap();
    assert!(out.cancelled);
    assert_eq!(out.pq, ivf.pq);
    let mut bad = queries.clone();
    bad[3].positives.push(400);
    let err = ivf.tune_codebooks(&bad, &TuneConfig::default(), &mut |_| true).unwrap_err();
    assert!(err.to_string().contains("row 400"), "{err}");
    let mut bad = queries.clone();
    bad[1].vector.pop();
    assert!(ivf.tune_codebooks(&bad, &TuneConfig::default(), &mut |_| true).is_err());
    assert!(ivf.tune_codebooks(&queries[..1], &TuneConfig::default(), &mut |_| true).is_err());
    let wrong = ProductQuantizer::from_parts(dim, 2, 4, vec![0.0; 16 * dim]);
    assert!(ivf.with_codebooks(wrong).is_err());
}

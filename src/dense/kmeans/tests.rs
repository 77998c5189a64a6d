use super::*;
use crate::dense::kernels;

/// Standard normal samples (Box–Muller on the module's generator).
fn gauss(rng: &mut Rng) -> f32 {
    let u1 = rng.unit().max(1e-300);
    let u2 = rng.unit();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

/// `sizes[c]` points around each of `sizes.len()` random centres (scale `spread`) with noise
/// `sigma`; returns (data, centres, labels).
fn blobs(
    dim: usize,
    sizes: &[usize],
    spread: f32,
    sigma: f32,
    seed: u64,
) -> (Vec<f32>, Vec<f32>, Vec<usize>) {
    let mut rng = Rng::new(seed, 7);
    let centres: Vec<f32> = (0..sizes.len() * dim)
        .map(|_| spread * gauss(&mut rng))
        .collect();
    let mut data = Vec::new();
    let mut labels = Vec::new();
    for (c, &s) in sizes.iter().enumerate() {
        for _ in 0..s {
            for d in 0..dim {
                data.push(centres[c * dim + d] + sigma * gauss(&mut rng));
            }
            labels.push(c);
        }
    }
    (data, centres, labels)
}

fn cfg(k: usize) -> KMeansConfig {
    KMeansConfig {
        k,
        seed: 42,
        threads: 2,
        ..KMeansConfig::default()
    }
}

fn l2(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

#[test]
fn recovers_separated_gaussian_clusters() {
    let (dim, k) = (16, 8);
    let (data, centres, labels) = blobs(dim, &[150; 8], 10.0, 0.1, 1);
    let km = train(&data, dim, &cfg(k)).unwrap();
    assert_eq!((km.k, km.dim, km.centroids.len()), (k, dim, k * dim));
    // Every true centre has a learnt centroid very close to it.
    for c in centres.chunks_exact(dim) {
        let best = km
            .centroids
            .chunks_exact(dim)
            .map(|x| l2(c, x))
            .fold(f32::INFINITY, f32::min);
        assert!(best < 0.05, "centre missed by {best}");
    }
    // And the assignment is a relabelling of the truth.
    let (a, d) = km.assign(&data, 2);
    let mut map = vec![None; k];
    for (&lab, &got) in labels.iter().zip(&a) {
        let m = map[lab].get_or_insert(got);
        assert_eq!(*m, got);
    }
    assert!(d.iter().all(|&x| x < 16.0 * 0.1 * 0.1 * 4.0));
}

#[test]
fn deterministic_for_a_seed_and_any_thread_count() {
    let (data, _, _) = blobs(12, &[300, 200, 100, 50], 3.0, 1.0, 2);
    for balanced in [false, true] {
        let mut c = cfg(10);
        c.balanced = balanced;
        c.max_points = 400; // exercise subsampling too
        c.threads = 1;
        let a = train(&data, 12, &c).unwrap();
        let b = train(&data, 12, &c).unwrap();
        c.threads = 3;
        let t = train(&data, 12, &c).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            a, t,
            "thread count changed the result (balanced = {balanced})"
        );
        c.seed = 43;
        assert_ne!(a, train(&data, 12, &c).unwrap());
    }
}

#[test]
fn empty_clusters_are_repaired() {
    // 12 distinct points, each repeated 20 times.
    let dim = 6;
    let (distinct, _, _) = blobs(dim, &[12], 5.0, 3.0, 3);
    let mut data = Vec::new();
    for _ in 0..20 {
        data.extend_from_slice(&distinct);
    }
    // Exact distance from every distinct point to its nearest centroid.
    let worst = |km: &KMeans| {
        distinct
            .chunks_exact(dim)
            .map(|p| {
                km.centroids
                    .chunks_exact(dim)
                    .map(|c| l2(p, c))
                    .fold(f32::INFINITY, f32::min)
            })
            .fold(0.0f32, f32::max)
    };
    // k = number of distinct points: every point becomes a centroid, zero inertia.
    let km = train(&data, dim, &cfg(12)).unwrap();
    assert!(worst(&km) < 1e-9, "{}", worst(&km));
    // More centroids than distinct points: no panic, all finite, still (almost) zero inertia
    // (split copies sit a relative 1/1024 away from their point).
    let km = train(&data, dim, &cfg(15)).unwrap();
    assert!(km.centroids.iter().all(|v| v.is_finite()));
    assert!(worst(&km) < 1e-3, "{}", worst(&km));
}

#[test]
fn repair_splits_the_largest_cluster() {
    let dim = 4;
    let mut cents = vec![
        1.0, 2.0, 3.0, 4.0, // 0: 10 points
        0.0, 0.0, 0.0, 0.0, // 1: empty
        5.0, 5.0, 5.0, 5.0, // 2: 3 points
        9.0, 9.0, 9.0, 9.0, // 3: empty
    ];
    let mut counts = vec![10, 0, 3, 0];
    let splits = repair_empty(&mut cents, dim, &mut counts);
    assert_eq!(splits, vec![(1, 0), (3, 0)]);
    assert!(counts.iter().all(|&c| c > 0), "{counts:?}");
    assert_eq!(counts.iter().sum::<usize>(), 13);
    // Copies of centroid 0, symmetrically nudged apart.
    assert!(l2(&cents[0..4], &cents[4..8]) > 0.0);
    assert!(l2(&cents[0..4], &[1.0, 2.0, 3.0, 4.0]) < 1e-3);
    assert!(l2(&cents[4..8], &[1.0, 2.0, 3.0, 4.0]) < 1e-3);

    // Lloyd from an initialisation with duplicated centroids ends with no empty cluster.
    let (data, _, _) = blobs(dim, &[100, 100, 100], 5.0, 1.0, 4);
    let init = KMeans {
        k: 5,
        dim,
        centroids: data[..dim].repeat(5),
    };
    let km = train_from(&data, dim, &init, &cfg(5)).unwrap();
    let (a, _) = km.assign(&data, 2);
    let counts = histogram(&a, 5);
    assert!(counts.iter().all(|&c| c > 0), "{counts:?}");
}

/// Two dense blobs holding 90% of the points and eight small ones.
fn skewed(dim: usize) -> Vec<f32> {
    let mut sizes = vec![900, 900];
    sizes.extend([25; 8]);
    blobs(dim, &sizes, 4.0, 1.0, 5).0
}

#[test]
fn balanced_training_evens_out_lists() {
    let dim = 8;
    let data = skewed(dim);
    let k = 16;
    let plain = train(&data, dim, &cfg(k)).unwrap();
    let mut c = cfg(k);
    c.balanced = true;
    let bal = train(&data, dim, &c).unwrap();
    let (ap, _) = plain.assign(&data, 2);
    let (ab, _) = bal.assign(&data, 2);
    let (sp, sb) = (size_spread(&ap, k), size_spread(&ab, k));
    let (ep, eb) = (entropy_bits(&ap, k), entropy_bits(&ab, k));
    eprintln!("spread {sp:.3} -> {sb:.3}, entropy {ep:.3} -> {eb:.3}");
    assert!(sb < sp, "spread balanced {sb} vs plain {sp}");
    assert!(eb > ep, "entropy balanced {eb} vs plain {ep}");
}

#[test]
fn capacity_assignment_respects_the_cap() {
    let dim = 8;
    let data = skewed(dim);
    let n = data.len() / dim;
    let k = 16;
    let km = train(&data, dim, &cfg(k)).unwrap();
    let (plain, _) = km.assign(&data, 2);
    for factor in [1.0f32, 1.2, 2.0, 0.5, f32::NAN] {
        let a = km.assign_balanced(&data, 2, factor);
        assert_eq!(a.len(), n);
        let f = if factor.is_nan() {
            1.0
        } else {
            factor.max(1.0)
        };
        let cap = ((f64::from(f) * n as f64 / k as f64).ceil() as usize).max(n.div_ceil(k));
        let counts = histogram(&a, k);
        assert!(counts.iter().all(|&c| c <= cap), "{counts:?} cap {cap}");
        assert!(size_spread(&a, k) <= size_spread(&plain, k));
    }
    // A generous cap changes nothing.
    assert_eq!(km.assign_balanced(&data, 2, k as f32), plain);
}

#[test]
fn nearest_matches_brute_force() {
    let dim = 10;
    let (data, _, _) = blobs(dim, &[400], 1.0, 1.0, 6);
    let km = train(&data, dim, &cfg(70)).unwrap();
    let q = &data[dim * 5..dim * 6];
    let mut out = Vec::new();
    km.nearest_l2(q, 7, &mut out);
    let mut all: Vec<(f32, u32)> = km
        .centroids
        .chunks_exact(dim)
        .enumerate()
        .map(|(j, c)| (l2(q, c), j as u32))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let ids: Vec<u32> = out.iter().map(|p| p.1).collect();
    let want: Vec<u32> = all[..7].iter().map(|p| p.1).collect();
    assert_eq!(ids, want);
    assert_eq!(out[0].1, km.assign(q, 1).0[0]);

    km.nearest_ip(q, 100, &mut out);
    assert_eq!(out.len(), 70);
    assert!(out.windows(2).all(|w| w[0].0 >= w[1].0));
    let dot: f32 = q.iter().zip(&km.centroids[..dim]).map(|(a, b)| a * b).sum();
    let s0 = out.iter().find(|p| p.1 == 0).unwrap().0;
    assert!((s0 - dot).abs() < 1e-4 * dot.abs().max(1.0));
    km.nearest_ip(&q[1..], 3, &mut out);
    assert!(out.is_empty());
}

#[test]
fn bad_arguments_are_errors() {
    let data = vec![0.5f32; 40];
    let bad = |d: &[f32], dim: usize, c: KMeansConfig| {
        matches!(train(d, dim, &c), Err(Error::InvalidArgument(_)))
    };
    assert!(bad(&data, 4, cfg(0)));
    assert!(bad(&data, 4, cfg(11)));
    assert!(bad(&data, 0, cfg(2)));
    assert!(bad(&data, 3, cfg(2)));
    assert!(bad(
        &data,
        4,
        KMeansConfig {
            threads: 0,
            ..cfg(2)
        }
    ));
    let mut nan = data.clone();
    nan[17] = f32::NAN;
    assert!(bad(&nan, 4, cfg(2)));
    assert!(train(&data, 4, &cfg(10)).is_ok());
}

#[test]
fn statistics() {
    assert_eq!(size_spread(&[], 4), 0.0);
    assert!((size_spread(&[0, 1, 2, 3], 4) - 1.0).abs() < 1e-12);
    assert!((size_spread(&[0, 0, 0, 1], 2) - 1.5).abs() < 1e-12);
    assert!((entropy_bits(&[0, 1, 2, 3], 4) - 2.0).abs() < 1e-12);
    assert_eq!(entropy_bits(&[3, 3, 3], 4), 0.0);
    assert_eq!(entropy_bits(&[9, 9], 4), 0.0);
}

#[test]
fn small_dimension_loops_match_the_kernels() {
    let oracle = kernels::scalar();
    let mut rng = Rng::new(11, 0);
    for dim in 1..=assign::SMALL_DIM + 3 {
        let q: Vec<f32> = (0..dim).map(|_| gauss(&mut rng)).collect();
        let rows: Vec<f32> = (0..dim * 9).map(|_| gauss(&mut rng)).collect();
        type Pair = (assign::ScoreMany, fn(&[f32], &[f32], &mut [f32]));
        let pairs: [Pair; 2] = [
            (assign::dot_many_for(dim), oracle.dot_f32_many),
            (assign::l2sq_many_for(dim), oracle.l2sq_f32_many),
        ];
        for (ours, theirs) in pairs {
            let (mut a, mut b) = (vec![7.0f32; 10], vec![7.0f32; 10]);
            ours(&q, &rows, &mut a);
            theirs(&q, &rows, &mut b);
            assert_eq!(a[9], 7.0, "wrote past the whole rows");
            for (x, y) in a.iter().zip(&b) {
                assert!(
                    (x - y).abs() <= 1e-5 * (1.0 + y.abs()),
                    "dim {dim}: {x} vs {y}"
                );
            }
        }
    }
    let mut out = [1.0f32; 3];
    assign::dot_many_small(&[], &[1.0, 2.0], &mut out);
    assert_eq!(out, [0.0; 3]);
}

#[test]
fn four_and_eight_value_rows_match_the_short_row_sums_bit_for_bit() {
    for dim in [4usize, 8] {
    let mut rng = Rng::new(9, 0);
    let (n, k) = (13usize, 19usize);
    let rows: Vec<f32> = (0..n * dim).map(|_| gauss(&mut rng)).collect();
    let cents: Vec<f32> = (0..k * dim).map(|_| gauss(&mut rng)).collect();
    let c_norms = assign::norms(&cents, dim);
    let mut out = vec![f32::NAN; n * k];
    assign::block_distances(&rows, &cents, &c_norms, dim, &mut out);
    for (x, orow) in rows.chunks_exact(dim).zip(out.chunks_exact(k)) {
        let mut dots = vec![0.0f32; k];
        assign::dot_many_small(x, &cents, &mut dots);
        let mut xn = [0.0f32];
        assign::dot_many_small(x, x, &mut xn);
        for ((&got, &d), &cn) in orow.iter().zip(&dots).zip(&c_norms) {
            let want = (xn[0] + cn - 2.0 * d).max(0.0);
            assert_eq!(got.to_bits(), want.to_bits(), "dim {dim}");
        }
    }
    }
}

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

/// CPU seconds used by this process so far (user + system, from `/proc/self/stat`), which is
/// steadier than wall time on a shared machine.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or_default();
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // Fields 14 and 15 of the whole line are the 12th and 13th after the ")".
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

/// Figures on the WordNet MiniLM set (116,659 × 384). Not part of CI:
/// `cargo test --release --lib wordnet_figures -- --ignored --nocapture`.
#[test]
#[ignore]
fn wordnet_figures() {
    use crate::dense::pq::{PqConfig, ProductQuantizer, code_entropy};
    use std::time::Instant;
    let dir = std::env::var("STRATA_WORDNET")
        .unwrap_or_else(|_| "/work/shared/data/ann/wordnet-minilm".into());
    let set = crate::input::read_vectors_many(&crate::input::split_paths(&format!(
        "{dir}/base.00.f16.npy,{dir}/base.01.f16.npy"
    )))
    .unwrap();
    let dim = set.dim;
    let data: Vec<f32> = match set.data {
        crate::input::VectorData::F32(v) => v,
        crate::input::VectorData::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
    };
    let n = data.len() / dim;
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let k: usize = std::env::var("STRATA_K")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024);
    println!("wordnet: n = {n}, dim = {dim}, k = {k}, threads = {threads}");
    let env = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
    };
    let iters = env("STRATA_ITERS").unwrap_or(20);
    let modes: &[bool] = match env("STRATA_BALANCED") {
        Some(0) => &[false],
        Some(_) => &[true],
        None => &[false, true],
    };
    let mut ivf = Vec::new();
    for &balanced in modes {
        let c = KMeansConfig {
            k,
            iters,
            balanced,
            threads,
            ..KMeansConfig::default()
        };
        let (t0, c0) = (Instant::now(), cpu_seconds());
        let km = train(&data, dim, &c).unwrap();
        let (train_s, train_cpu) = (t0.elapsed().as_secs_f64(), cpu_seconds() - c0);
        let (t0, c0) = (Instant::now(), cpu_seconds());
        let (a, d) = km.assign(&data, threads);
        let (assign_s, assign_cpu) = (t0.elapsed().as_secs_f64(), cpu_seconds() - c0);
        let mse = d.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64;
        println!(
            "ivf k={k} balanced={balanced}: train {train_s:.2} s ({train_cpu:.1} cpu-s), \
             assign {assign_s:.2} s ({assign_cpu:.1} cpu-s), \
             spread {:.2}, entropy {:.3} bits (max {:.3}), mse {mse:.4}",
            size_spread(&a, k),
            entropy_bits(&a, k),
            (k as f64).log2()
        );
        let t0 = Instant::now();
        let capped = km.assign_balanced(&data, threads, 1.5);
        println!(
            "   assign_balanced(1.5): {:.2} s, spread {:.2}, entropy {:.3}",
            t0.elapsed().as_secs_f64(),
            size_spread(&capped, k),
            entropy_bits(&capped, k)
        );
        ivf.push((km, a));
    }
    if env("STRATA_SKIP_PQ").is_some() {
        return;
    }
    // PQ on residuals of the first quantizer.
    let (km, a) = &ivf[0];
    let mut resid = data.clone();
    for (row, &c) in resid.chunks_exact_mut(dim).zip(a) {
        let cent = &km.centroids[c as usize * dim..(c as usize + 1) * dim];
        for (x, &y) in row.iter_mut().zip(cent) {
            *x -= y;
        }
    }
    for (name, src) in [("raw", &data), ("residual", &resid)] {
        for balanced in [false, true] {
            let c = PqConfig {
                m: 48,
                nbits: 4,
                balanced,
                threads,
                ..PqConfig::default()
            };
            let (t0, c0) = (Instant::now(), cpu_seconds());
            let pq = ProductQuantizer::train(src, dim, &c).unwrap();
            let (train_s, train_cpu) = (t0.elapsed().as_secs_f64(), cpu_seconds() - c0);
            let t0 = Instant::now();
            let codes = pq.encode_many(src, threads);
            let enc_s = t0.elapsed().as_secs_f64();
            let ent = code_entropy(&codes, 48, 16);
            let mean = ent.iter().sum::<f64>() / ent.len() as f64;
            let min = ent.iter().copied().fold(f64::INFINITY, f64::min);
            let mut rec = vec![0.0f32; dim];
            let mut err = 0.0f64;
            for (row, code) in src.chunks_exact(dim).zip(codes.chunks_exact(48)) {
                pq.decode(code, &mut rec);
                err += f64::from(l2(row, &rec));
            }
            println!(
                "pq m=48 4-bit {name} balanced={balanced}: train {train_s:.2} s \
                 ({train_cpu:.1} cpu-s), encode {enc_s:.2} s, \
                 entropy mean {mean:.3} min {min:.3} bits, mse {:.5}",
                err / n as f64
            );
        }
    }
}

/// Distance-block throughput against the bare kernel, single thread (ratios are the figure on a
/// shared machine). `cargo test --release --lib distance_block_speed -- --ignored --nocapture`
#[test]
#[ignore]
fn distance_block_speed() {
    use std::time::Instant;
    let (dim, n, k) = (384, 4096, 1024);
    let mut rng = Rng::new(1, 1);
    let data: Vec<f32> = (0..n * dim).map(|_| gauss(&mut rng)).collect();
    let cents: Vec<f32> = data[..k * dim].to_vec();
    let kern = kernels::best();
    let mut out = vec![0.0f32; k];
    for round in 0..3 {
        let t0 = Instant::now();
        for row in data.chunks_exact(dim) {
            (kern.dot_f32_many)(row, &cents, &mut out);
        }
        let bare = t0.elapsed().as_secs_f64() / (n * k) as f64 * 1e9;
        let t0 = Instant::now();
        let mut c = 0.0f32;
        for row in data.chunks_exact(dim) {
            for cen in cents.chunks_exact(dim).take(64) {
                c += (kern.dot_f32)(row, cen);
            }
        }
        let hot = t0.elapsed().as_secs_f64() / (n * 64) as f64 * 1e9;
        let t0 = Instant::now();
        let (a, _) = assign::nearest_all(&data, dim, &cents, 1);
        let blocked = t0.elapsed().as_secs_f64() / (n * k) as f64 * 1e9;
        println!(
            "round {round}: per-row full scan {bare:.1} ns/dot, L1-hot dot {hot:.1} ns, \
             nearest_all {blocked:.1} ns/dot ({} {} {c})",
            kern.name,
            a.len()
        );
    }
    for threads in [1, 2] {
        let (t0, c0) = (Instant::now(), cpu_seconds());
        let _ = assign::nearest_all(&data, dim, &cents, threads);
        println!(
            "nearest_all threads={threads}: wall {:.3} s, cpu {:.2} s",
            t0.elapsed().as_secs_f64(),
            cpu_seconds() - c0
        );
    }
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

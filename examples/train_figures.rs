//! Training and assignment figures for the IVF quantizer and PQ: measurements, not tests.
//!
//! ```sh
//! cargo run --release --example train_figures -- pq-speed
//! cargo run --release --example train_figures -- distance-block
//! STRATA_WORDNET=<dir with base.00.f16.npy, base.01.f16.npy> \
//!   cargo run --release --example train_figures -- wordnet
//! ```
//!
//! `wordnet` also reads `STRATA_K` (default 1024), `STRATA_ITERS` (20), `STRATA_BALANCED`
//! (0: plain only, other: balanced only; unset: both) and `STRATA_SKIP_PQ`. Absolute times are
//! noise on a shared machine; compare ratios measured in the same run, and CPU seconds.

use std::time::Instant;
use strata::dense::kernels;
use strata::dense::kmeans::{KMeans, KMeansConfig, entropy_bits, size_spread, train};
use strata::dense::pq::{PqConfig, ProductQuantizer, code_entropy};

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("pq-speed") => pq_train_speed(),
        Some("distance-block") => distance_block_speed(),
        Some("wordnet") => wordnet_figures(),
        _ => {
            eprintln!("usage: train_figures pq-speed | distance-block | wordnet");
            std::process::exit(2);
        }
    }
}

/// Uniform in [-1, 1) from a seeded splitmix64 stream.
fn uniform(state: &mut u64) -> f32 {
    (strata::rng::splitmix64(state) >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
}

/// `n` rows near a random 4-dimensional subspace, plus noise.
fn data(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    let basis: Vec<f32> = (0..4 * dim).map(|_| uniform(&mut s)).collect();
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let z: Vec<f32> = (0..4).map(|_| uniform(&mut s)).collect();
        for d in 0..dim {
            let x: f32 = (0..4).map(|f| z[f] * basis[f * dim + d]).sum();
            out.push(x + 0.3 * uniform(&mut s));
        }
    }
    out
}

fn l2(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Balanced vs plain PQ training time on random data.
fn pq_train_speed() {
    let dim = 384;
    let x = data(20_000, dim, 8);
    for balanced in [false, true] {
        let c = PqConfig {
            m: 48,
            nbits: 4,
            balanced,
            threads: 1,
            ..PqConfig::default()
        };
        let t0 = Instant::now();
        let _ = ProductQuantizer::train(&x, dim, &c).unwrap();
        println!("balanced={balanced}: {:.2} s", t0.elapsed().as_secs_f64());
    }
}

/// Distance-block throughput against the bare kernel, single thread (ratios are the figure on a
/// shared machine); `KMeans::assign` is the blocked nearest-centroid search.
fn distance_block_speed() {
    let (dim, n, k) = (384, 4096, 1024);
    let data = data(n, dim, 1);
    let cents: Vec<f32> = data[..k * dim].to_vec();
    let km = KMeans {
        k,
        dim,
        centroids: cents.clone(),
    };
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
        let (a, _) = km.assign(&data, 1);
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
        let _ = km.assign(&data, threads);
        println!(
            "nearest_all threads={threads}: wall {:.3} s, cpu {:.2} s",
            t0.elapsed().as_secs_f64(),
            cpu_seconds() - c0
        );
    }
}

/// Figures on the WordNet MiniLM set (116,659 × 384).
fn wordnet_figures() {
    let Ok(dir) = std::env::var("STRATA_WORDNET") else {
        eprintln!("set STRATA_WORDNET to the folder of the WordNet MiniLM .npy files");
        std::process::exit(2);
    };
    let set = strata::input::read_vectors_many(&strata::input::split_paths(&format!(
        "{dir}/base.00.f16.npy,{dir}/base.01.f16.npy"
    )))
    .unwrap();
    let dim = set.dim;
    let data: Vec<f32> = match set.data {
        strata::input::VectorData::F32(v) => v,
        strata::input::VectorData::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
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

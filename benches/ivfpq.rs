//! IVF-PQ building blocks at d = 384: k-means iterations, PQ lookup tables and encoding.
//!
//! Groups (one function each; add new groups as new functions in `criterion_group!`):
//! - `kmeans`: one Lloyd iteration (assignment + update) on 20k random vectors, k = 256 and
//!   1024, plain vs balanced (Sinkhorn). The list-size spread of each result is printed next to
//!   the time, so a speed-up that costs balance is visible.
//! - `pq`: building the inner-product lookup table for one query (m = 16/32/48/64 at 4 bits,
//!   m = 48 at 8 bits), and encoding throughput on one thread.
//!
//! Absolute times are noisy on shared machines; compare the lines of one group, which were
//! measured in the same run. Run with `cargo bench --bench ivfpq`.

mod common;
use common::{short, values};
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use strata::dense::kmeans::{self, KMeans, KMeansConfig};
use strata::dense::pq::{PqConfig, ProductQuantizer};

const DIM: usize = 384;

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |t| t.get())
}

/// One k-means iteration (assignment + centroid update), from fixed initial centroids.
fn kmeans_iteration(c: &mut Criterion) {
    const N: usize = 20_000;
    let data = values(N * DIM, 1);
    let threads = threads();
    let mut group = c.benchmark_group("kmeans");
    short(&mut group);
    group.sample_size(10);
    group.throughput(Throughput::Elements(N as u64));
    for k in [256, 1024] {
        let init = KMeans {
            k,
            dim: DIM,
            centroids: data.get(..k * DIM).unwrap_or_default().to_vec(),
        };
        for balanced in [false, true] {
            let cfg = KMeansConfig {
                k,
                iters: 1,
                balanced,
                threads,
                max_points: N,
                ..KMeansConfig::default()
            };
            let name = format!(
                "iteration/k{k}/{}/t{threads}",
                if balanced { "balanced" } else { "plain" }
            );
            if let Ok(km) = kmeans::train_from(&data, DIM, &init, &cfg) {
                let (a, _) = km.assign(&data, threads);
                println!(
                    "{name}: after one iteration spread {:.2}, entropy {:.3} of {:.3} bits",
                    kmeans::size_spread(&a, k),
                    kmeans::entropy_bits(&a, k),
                    (k as f64).log2()
                );
            }
            group.bench_function(name, |b| {
                b.iter(|| kmeans::train_from(black_box(&data), DIM, &init, &cfg))
            });
        }
    }
    group.finish();
}

/// PQ lookup-table construction for one query, and encoding throughput.
fn pq_tables(c: &mut Criterion) {
    const TRAIN: usize = 5_000;
    const ENCODE: usize = 4_096;
    let data = values(TRAIN * DIM, 2);
    let query = values(DIM, 3);
    let train = |m: usize, nbits: u8| {
        let cfg = PqConfig {
            m,
            nbits,
            iters: 5,
            threads: threads(),
            ..PqConfig::default()
        };
        ProductQuantizer::train(&data, DIM, &cfg).ok()
    };
    let pqs: Vec<ProductQuantizer> = [(16, 4), (32, 4), (48, 4), (64, 4), (48, 8)]
        .into_iter()
        .filter_map(|(m, nbits)| train(m, nbits))
        .collect();

    let mut group = c.benchmark_group("pq");
    short(&mut group);
    for pq in &pqs {
        let mut lut = vec![0.0f32; pq.m * pq.ksub];
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("lut_ip/m{}/{}bit", pq.m, pq.nbits), |b| {
            b.iter(|| pq.lut_ip(black_box(&query), &mut lut))
        });
    }
    let rows = data.get(..ENCODE * DIM).unwrap_or_default();
    for pq in pqs.iter().filter(|pq| pq.m == 48) {
        group.throughput(Throughput::Elements(ENCODE as u64));
        group.bench_function(format!("encode/m{}/{}bit/t1", pq.m, pq.nbits), |b| {
            b.iter(|| pq.encode_many(black_box(rows), 1))
        });
    }
    group.finish();
}

criterion_group!(benches, kmeans_iteration, pq_tables);
criterion_main!(benches);

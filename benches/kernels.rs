//! Distance kernels at d = 384: simsimd vs our scalar oracle vs our dispatched kernels vs a
//! naive loop, one pair at a time and one query against many f16 rows.
//!
//! Absolute times are noisy on shared machines; compare the lines of one group, which were
//! measured in the same run. Run with
//! `cargo bench --bench kernels -- --warm-up-time 1 --measurement-time 2`.

mod common;
use common::{short, values};
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use half::f16;
use simsimd::SpatialSimilarity;
use strata::dense::kernels::{self, Kernels};

const DIM: usize = 384;

/// Rows in the in-cache scan (1024 × 384 f16 = 768 KiB).
const ROWS_CACHED: usize = 1024;

/// Rows in the out-of-cache scan: the size of a WordNet-sized segment (116,659 × 384 f16 ≈ 90 MB).
const ROWS_DRAM: usize = 116_659;

fn to_f16(v: &[f32]) -> Vec<f16> {
    v.iter().map(|&x| f16::from_f32(x)).collect()
}

/// The implementations to compare: the scalar oracle and whatever `best()` picked.
fn ours() -> [(&'static str, &'static Kernels); 2] {
    [
        ("scalar", kernels::scalar()),
        ("dispatched", kernels::best()),
    ]
}

fn pairs(c: &mut Criterion) {
    let a = values(DIM, 1);
    let b = values(DIM, 2);
    let b16 = to_f16(&b);
    println!("kernels::best() = {}", kernels::best().name);

    let mut g = c.benchmark_group("dot_f32_384");
    short(&mut g);
    g.bench_function("simsimd", |bench| {
        bench.iter(|| <f32 as SpatialSimilarity>::dot(black_box(&a), black_box(&b)))
    });
    for (name, k) in ours() {
        g.bench_function(name, |bench| {
            bench.iter(|| (k.dot_f32)(black_box(&a), black_box(&b)))
        });
    }
    g.bench_function("naive_zip_sum", |bench| {
        bench.iter(|| {
            black_box(&a)
                .iter()
                .zip(black_box(&b))
                .map(|(x, y)| x * y)
                .sum::<f32>()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("l2sq_f32_384");
    short(&mut g);
    g.bench_function("simsimd", |bench| {
        bench.iter(|| <f32 as SpatialSimilarity>::l2sq(black_box(&a), black_box(&b)))
    });
    for (name, k) in ours() {
        g.bench_function(name, |bench| {
            bench.iter(|| (k.l2sq_f32)(black_box(&a), black_box(&b)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("dot_f32xf16_384");
    short(&mut g);
    for (name, k) in ours() {
        g.bench_function(name, |bench| {
            bench.iter(|| (k.dot_f16)(black_box(&a), black_box(&b16)))
        });
    }
    g.finish();
}

fn scans(c: &mut Criterion) {
    let q = values(DIM, 3);

    let rows = to_f16(&values(DIM * ROWS_CACHED, 4));
    let mut out = vec![0.0f32; ROWS_CACHED];
    let mut g = c.benchmark_group("dot_f16_many_1024x384");
    short(&mut g);
    g.throughput(Throughput::Elements(ROWS_CACHED as u64));
    for (name, k) in ours() {
        g.bench_function(name, |bench| {
            bench.iter(|| (k.dot_f16_many)(black_box(&q), black_box(&rows), &mut out))
        });
    }
    g.finish();

    // Larger than any cache: measures how close the scan gets to DRAM bandwidth.
    let rows = to_f16(&values(DIM * ROWS_DRAM, 5));
    let mut out = vec![0.0f32; ROWS_DRAM];
    let mut g = c.benchmark_group("dot_f16_many_116659x384");
    short(&mut g);
    g.sample_size(10);
    g.throughput(Throughput::Bytes((rows.len() * size_of::<f16>()) as u64));
    g.bench_function("dispatched", |bench| {
        let k = kernels::best();
        bench.iter(|| (k.dot_f16_many)(black_box(&q), black_box(&rows), &mut out))
    });
    g.finish();
}

/// The batched exact scan: 128 queries against 960 f16 rows (10 blocks), both in L2; the
/// throughput is in query-row pairs, so GFLOP/s = pairs/s · 2 · 384 / 10⁹.
fn batch(c: &mut Criterion) {
    const NQ: usize = 128;
    const NR: usize = 960;
    let qs = values(DIM * NQ, 6);
    let rows = to_f16(&values(DIM * NR, 7));
    let mut g = c.benchmark_group("batch_scan_128x960x384");
    short(&mut g);
    g.throughput(Throughput::Elements((NQ * NR) as u64));
    for (name, k) in ours() {
        for l2 in [false, true] {
            let name = if l2 {
                format!("{name}_l2sq")
            } else {
                format!("{name}_dot")
            };
            g.bench_function(name, |bench| {
                bench.iter(|| {
                    let mut sum = 0.0f32;
                    let rows = kernels::BatchRows::F16(black_box(&rows));
                    (k.batch_scan)(black_box(&qs), NQ, rows, l2, &mut |b| {
                        sum += b.scores.first().copied().unwrap_or(0.0)
                    });
                    sum
                })
            });
        }
    }
    g.finish();
}

/// The sketch's integer kernel: 6 queries (one register tile) against 256 packed rows of 384
/// values (96 KiB, in L2), per table that has it; throughput in multiply-adds, so GMAC/s =
/// elements/s / 10⁹ (the VNNI ceiling on Zen 4 is 64 per cycle).
fn packed(c: &mut Criterion) {
    const NQ: usize = 6;
    const NR: usize = 256;
    let rows: Vec<u8> = values(DIM * NR, 8)
        .iter()
        .map(|&x| (x * 100.0 + 128.0) as u8)
        .collect();
    let qs: Vec<i8> = values(DIM * NQ, 9)
        .iter()
        .map(|&x| (x * 100.0) as i8)
        .collect();
    let mut out = vec![0i32; NQ * NR];
    let mut g = c.benchmark_group("dot_u8i8_packed_6x256x384");
    short(&mut g);
    g.throughput(Throughput::Elements((NQ * NR * DIM) as u64));
    for k in kernels::available() {
        let Some(f) = k.dot_u8i8_packed else { continue };
        g.bench_function(k.name, |bench| {
            bench.iter(|| f(black_box(&rows), DIM, black_box(&qs), &mut out))
        });
    }
    g.finish();
}

criterion_group!(benches, pairs, scans, batch, packed);
criterion_main!(benches);

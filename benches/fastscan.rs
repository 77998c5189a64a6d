//! PQ ADC scans: the 4-bit fast-scan (scalar oracle vs the dispatched kernel) and the 8-bit
//! table scan, in vectors per second, plus the cost of quantizing one query's table.
//!
//! The 4-bit scans use 32 Ki vectors, so the codes (16 KiB per sub-quantizer pair… 1 MiB at
//! M = 64) stay in L2/L3 as they would for the lists of one query. Absolute numbers are noisy
//! on shared machines; compare the lines of one group, measured in the same run. Run with
//! `cargo bench --bench fastscan -- --warm-up-time 1 --measurement-time 2`.

mod common;
use common::short;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use strata::dense::kernels::fastscan::{self, FastScan};

/// Vectors per scan.
const N: usize = 32 * 1024;

/// Sub-quantizer counts to measure.
const MS: [usize; 5] = [16, 32, 48, 64, 96];

/// Deterministic bytes (an LCG; quality is irrelevant here).
fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (s >> 56) as u8
        })
        .collect()
}

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    bytes(4 * n, seed)
        .chunks_exact(4)
        .map(|b| (u32::from_le_bytes([b[0], b[1], b[2], 0]) as f32 / (1u32 << 23) as f32) - 1.0)
        .collect()
}

/// The implementations to compare: the scalar oracle and whatever `best()` picked.
fn ours() -> [(&'static str, &'static FastScan); 2] {
    [
        ("scalar", fastscan::scalar()),
        ("dispatched", fastscan::best()),
    ]
}

fn scan4(c: &mut Criterion) {
    println!("fastscan::best() = {}", fastscan::best().name);
    let mut group = c.benchmark_group("scan4");
    short(&mut group);
    group.throughput(Throughput::Elements(N as u64));
    for m in MS {
        let codes: Vec<u8> = bytes(N * m, m as u64).iter().map(|c| c & 0x0f).collect();
        let packed = fastscan::pack4(&codes, N, m);
        let lut = fastscan::quantize_lut(&values(m * 16, 7), m);
        let mut out = vec![0u16; N];
        for (name, k) in ours() {
            group.bench_function(BenchmarkId::new(name, format!("M={m}")), |b| {
                b.iter(|| {
                    (k.scan4)(black_box(&packed), N / 32, black_box(&lut), &mut out);
                    black_box(&out);
                });
            });
        }
    }
    group.finish();
}

fn scan8(c: &mut Criterion) {
    let mut group = c.benchmark_group("scan8");
    short(&mut group);
    // 8-bit codes are twice the bytes per vector; fewer vectors keep them cache-resident too.
    let n = 8 * 1024;
    group.throughput(Throughput::Elements(n as u64));
    for m in MS {
        let codes = bytes(n * m, m as u64);
        let lut = values(m * 256, 9);
        let mut out = vec![0f32; n];
        let k = fastscan::best();
        group.bench_function(BenchmarkId::new("dispatched", format!("M={m}")), |b| {
            b.iter(|| {
                (k.scan8)(black_box(&codes), m, black_box(&lut), &mut out);
                black_box(&out);
            });
        });
    }
    group.finish();
}

fn quantize(c: &mut Criterion) {
    let mut group = c.benchmark_group("quantize_lut");
    short(&mut group);
    for m in MS {
        let lut = values(m * 16, 11);
        group.bench_function(format!("M={m}"), |b| {
            b.iter(|| fastscan::quantize_lut(black_box(&lut), m));
        });
    }
    group.finish();
}

criterion_group!(benches, scan4, scan8, quantize);
criterion_main!(benches);

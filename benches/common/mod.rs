//! Helpers shared by the criterion benches (a folder module, so cargo does not take it for a
//! bench target of its own).
#![allow(dead_code)]

use criterion::BenchmarkGroup;
use criterion::measurement::WallTime;
use std::time::Duration;

/// Deterministic values in [-1, 1) (an LCG; quality is irrelevant here).
pub fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// Short warm-up and measurement, so the whole suite stays quick on a shared machine.
pub fn short(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
}

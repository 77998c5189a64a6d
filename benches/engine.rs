//! Engine benches: commit latency, exact search latency and IVF-PQ search latency per nprobe,
//! through the real path (create, ingest in a transaction, commit, reopen, search).
//!
//! Recall is not printed here because flat search is exact by construction (tests assert it
//! equals brute force); `strata bench-ann` reports recall on real data.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use half::f16;
use std::time::Duration;
use strata::{
    DenseIndex, Document, Index, IvfPqParams, KeyKind, Metric, Reader, Schema, SearchParams,
};

struct Rng(u64);
impl Rng {
    fn f32(&mut self) -> f32 {
        (strata::rng::splitmix64(&mut self.0) >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }
}

const DIM: usize = 384;

fn commit_latency(c: &mut Criterion) {
    let mut g = c.benchmark_group("commit");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    for docs in [1usize, 100, 1000] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut index = Index::create(
            tmp.path(),
            Schema::dense(KeyKind::U64, DIM as u32, Metric::Dot),
        )
        .expect("create");
        let mut rng = Rng(1);
        let mut next = 0u64;
        g.bench_with_input(BenchmarkId::new("docs", docs), &docs, |b, &docs| {
            b.iter(|| {
                let mut txn = index.begin();
                for _ in 0..docs {
                    let v: Vec<f32> = (0..DIM).map(|_| rng.f32()).collect();
                    txn.add(Document::new(next, v)).expect("add");
                    next += 1;
                }
                txn.commit().expect("commit")
            })
        });
    }
    g.finish();
}

fn flat_search(c: &mut Criterion) {
    let mut g = c.benchmark_group("flat_search");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let n = 20_000;
    for half_precision in [false, true] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut rng = Rng(2);
        {
            let mut index = Index::create(
                tmp.path(),
                Schema::dense(KeyKind::U64, DIM as u32, Metric::Dot),
            )
            .expect("create");
            let mut txn = index.begin();
            for k in 0..n as u64 {
                let v: Vec<f32> = (0..DIM).map(|_| rng.f32()).collect();
                let doc = if half_precision {
                    Document::new(k, v.iter().map(|&x| f16::from_f32(x)).collect::<Vec<f16>>())
                } else {
                    Document::new(k, v)
                };
                txn.add(doc).expect("add");
            }
            txn.commit().expect("commit");
        }
        let reader = Reader::open(tmp.path()).expect("open");
        let snap = reader.snapshot();
        let q: Vec<f32> = (0..DIM).map(|_| rng.f32()).collect();
        let name = if half_precision { "f16" } else { "f32" };
        g.bench_function(BenchmarkId::new(name, n), |b| {
            b.iter(|| snap.search_exact(&q, 10).expect("search"))
        });
    }
    g.finish();
}

/// IVF-PQ search latency per nprobe (one query at a time, re-rank 40) on 50k clustered vectors:
/// 256 Gaussian clusters, so lists are unevenly used as in real data. Recall on real data is
/// what `strata bench-ann` reports; this group tracks the query path's cost.
fn ivf_search(c: &mut Criterion) {
    const N: usize = 50_000;
    const CLUSTERS: usize = 256;
    let mut g = c.benchmark_group("ivf_search");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut rng = Rng(3);
    let centers: Vec<f32> = (0..CLUSTERS * DIM).map(|_| rng.f32()).collect();
    let point = |rng: &mut Rng| -> Vec<f32> {
        let c = (strata::rng::splitmix64(&mut rng.0) % CLUSTERS as u64) as usize;
        (0..DIM)
            .map(|d| centers[c * DIM + d] + 0.3 * rng.f32())
            .collect()
    };
    {
        let params = IvfPqParams {
            nlist: 256,
            m: 96,
            nbits: 4,
            ..IvfPqParams::default()
        };
        let schema = Schema::dense(KeyKind::U64, DIM as u32, Metric::Dot)
            .with_index(DenseIndex::IvfPq(params));
        let mut index = Index::create(tmp.path(), schema).expect("create");
        let mut txn = index.begin();
        for k in 0..N as u64 {
            txn.add(Document::new(k, point(&mut rng))).expect("add");
        }
        txn.commit().expect("commit");
    }
    let reader = Reader::open(tmp.path()).expect("open");
    let snap = reader.snapshot();
    let queries: Vec<Vec<f32>> = (0..64).map(|_| point(&mut rng)).collect();
    for nprobe in [4usize, 8, 16, 32, 64] {
        let p = SearchParams {
            k: 10,
            nprobe,
            rerank: 40,
            exact: false,
        };
        let mut i = 0;
        g.bench_function(BenchmarkId::new("nprobe", nprobe), |b| {
            b.iter(|| {
                i = (i + 1) % queries.len();
                snap.search_with(&queries[i], &p).expect("search")
            })
        });
    }
    g.finish();
}

criterion_group!(benches, commit_latency, flat_search, ivf_search);
criterion_main!(benches);

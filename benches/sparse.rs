//! Learned-sparse query benches: every traversal on SPLADE-shaped impact queries, through the
//! real path (create with a sparse field, add in a transaction, commit, reopen read-only,
//! search).
//!
//! The corpus is synthetic but shaped like SPLADE output: 20,000 documents of 48 word pieces
//! drawn from a 20,000-piece vocabulary with a Zipfian spread (so frequent pieces have long
//! lists of low weights, as "is" or "the" do), weights that fall with the piece's rank in the
//! document; 16 queries of 48 pieces shaped the same way. Before timing, every algorithm's hits
//! are checked against exhaustive scoring and the count of identical queries is printed (the
//! "recall" of an exact method is 1 and must stay so). `strata bench-sparse` runs the same
//! comparison on real SPLADE vectors (docs/PERFORMANCE.md).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use strata::sparse::query::Algorithm;
use strata::{Document, Index, KeyKind, Reader, Schema, Snapshot, TextQuery};

mod common;

const DOCS: u64 = 20_000;
const VOCAB: usize = 20_000;
const TERMS: usize = 48;
const QUERIES: usize = 16;

/// A Zipfian sampler of word-piece ranks.
struct Pieces {
    cdf: Vec<f64>,
    state: u64,
}

impl Pieces {
    fn new(seed: u64) -> Pieces {
        let mut cdf = Vec::with_capacity(VOCAB);
        let mut acc = 0.0;
        for r in 0..VOCAB {
            acc += 1.0 / (r as f64 + 1.0);
            cdf.push(acc);
        }
        cdf.iter_mut().for_each(|c| *c /= acc);
        Pieces { cdf, state: seed }
    }

    fn unit(&mut self) -> f64 {
        (strata::rng::splitmix64(&mut self.state) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `TERMS` distinct pieces with weights in (0, 3]: rarer pieces weigh more, with noise.
    fn vector(&mut self) -> Vec<(String, f32)> {
        let mut out: Vec<(String, f32)> = Vec::with_capacity(TERMS);
        while out.len() < TERMS {
            let u = self.unit();
            let rank = self.cdf.partition_point(|&c| c < u);
            let name = format!("p{rank}");
            if out.iter().any(|(t, _)| *t == name) {
                continue;
            }
            let rarity = ((rank + 1) as f64).ln() / (VOCAB as f64).ln();
            let w = (0.1 + 2.4 * rarity * self.unit() + 0.5 * self.unit()).min(3.0);
            out.push((name, w as f32));
        }
        out
    }
}

fn hits(snap: &Snapshot, q: &[(String, f32)], k: usize, algo: Algorithm) -> Vec<(u64, u32)> {
    let mut tq = TextQuery::sparse(q.to_vec(), k);
    tq.algorithm = algo;
    snap.search_text(&tq)
        .expect("search")
        .into_iter()
        .map(|h| match h.key {
            strata::Key::U64(k) => (k, h.score.to_bits()),
            strata::Key::Str(_) => (u64::MAX, h.score.to_bits()),
        })
        .collect()
}

fn traversal(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut pieces = Pieces::new(11);
    {
        let schema = Schema::new(KeyKind::U64).with_sparse("splade", 8);
        let mut index = Index::create(tmp.path(), schema).expect("create");
        let mut txn = index.begin();
        for k in 0..DOCS {
            txn.add(Document::with_key(k).with_sparse(pieces.vector()))
                .expect("add");
        }
        txn.commit().expect("commit");
    }
    let reader = Reader::open(tmp.path()).expect("open");
    let snap = reader.snapshot();
    let queries: Vec<Vec<(String, f32)>> = (0..QUERIES).map(|_| pieces.vector()).collect();
    let algos = [
        ("exhaustive", Algorithm::Exhaustive),
        ("taat", Algorithm::TermAtATime),
        ("maxscore", Algorithm::MaxScore),
        ("wand", Algorithm::BlockMaxWand),
        ("auto", Algorithm::Auto),
    ];
    let mut g = c.benchmark_group("sparse_query");
    common::short(&mut g);
    // An iteration is 16 queries of 48 terms over long lists: ten samples suffice.
    g.sample_size(10);
    g.throughput(Throughput::Elements(queries.len() as u64));
    for k in [10usize, 100] {
        let oracle: Vec<_> = queries
            .iter()
            .map(|q| hits(&snap, q, k, Algorithm::Exhaustive))
            .collect();
        for (name, algo) in algos {
            let same = queries
                .iter()
                .zip(&oracle)
                .filter(|(q, want)| hits(&snap, q, k, algo) == **want)
                .count();
            println!("sparse_query {name} k{k}: {same}/{QUERIES} queries equal exhaustive");
            g.bench_function(BenchmarkId::new(name, format!("k{k}")), |b| {
                b.iter(|| {
                    let mut n = 0;
                    for q in &queries {
                        let mut tq = TextQuery::sparse(q.clone(), k);
                        tq.algorithm = algo;
                        n += snap.search_text(&tq).expect("search").len();
                    }
                    n
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, traversal);
criterion_main!(benches);

//! Text query benches: block-max WAND vs MaxScore vs exhaustive vs term-at-a-time traversal
//! (and the automatic choice), through the real
//! path (create, add in a transaction, commit, reopen read-only, search).
//!
//! The corpus is synthetic with a Zipfian vocabulary (as natural text has), so frequent terms
//! have long postings with hundreds of blocks and rare terms short ones; queries mix both.
//! Each iteration runs the same 64 queries; throughput is reported in queries per second.
//! `text_query_deletes` runs them again after 1% of the documents were deleted.

mod common;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use strata::sparse::query::Algorithm;
use strata::text::AnalyzerConfig;
use strata::{Document, Index, KeyKind, Reader, Schema, TextQuery};

const DOCS: u64 = 100_000;
const VOCAB: usize = 30_000;

struct Zipf {
    cdf: Vec<f64>,
    state: u64,
}

impl Zipf {
    fn new(seed: u64) -> Zipf {
        let mut cdf = Vec::with_capacity(VOCAB);
        let mut acc = 0.0;
        for r in 0..VOCAB {
            acc += 1.0 / (r as f64 + 1.0);
            cdf.push(acc);
        }
        for c in &mut cdf {
            *c /= acc;
        }
        Zipf { cdf, state: seed }
    }

    fn word(&mut self) -> String {
        let u = (strata::rng::splitmix64(&mut self.state) >> 11) as f64 / (1u64 << 53) as f64;
        format!("w{}", self.cdf.partition_point(|&c| c < u))
    }

    fn text(&mut self, words: u64) -> String {
        (0..words)
            .map(|_| self.word())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn traversal(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut z = Zipf::new(7);
    {
        let schema = Schema::new(KeyKind::U64).with_text(
            "body",
            AnalyzerConfig {
                stopwords: false,
                ..AnalyzerConfig::default()
            },
            false,
        );
        let mut index = Index::create(tmp.path(), schema).expect("create");
        let mut txn = index.begin();
        for k in 0..DOCS {
            let n = 20 + strata::rng::splitmix64(&mut z.state) % 60;
            txn.add(Document::with_key(k).with_text("body", z.text(n)))
                .expect("add");
        }
        txn.commit().expect("commit");
    }
    let reader = Reader::open(tmp.path()).expect("open");
    let snap = reader.snapshot();
    let queries: Vec<String> = (0..64).map(|i| z.text(2 + (i % 7) as u64)).collect();
    let mut g = c.benchmark_group("text_query");
    common::short(&mut g);
    g.throughput(Throughput::Elements(queries.len() as u64));
    for k in [10usize, 100] {
        for (name, algo) in [
            ("exhaustive", Algorithm::Exhaustive),
            ("maxscore", Algorithm::MaxScore),
            ("wand", Algorithm::BlockMaxWand),
            ("taat", Algorithm::TermAtATime),
            ("auto", Algorithm::Auto),
        ] {
            g.bench_function(BenchmarkId::new(name, format!("k{k}")), |b| {
                b.iter(|| {
                    let mut n = 0;
                    for text in &queries {
                        let mut q = TextQuery::bm25(text, k);
                        q.algorithm = algo;
                        n += snap.search_text(&q).expect("search").len();
                    }
                    n
                })
            });
        }
    }
    g.finish();

    // The same corpus with 1% of the documents deleted: BM25 statistics count live rows only.
    {
        let mut index = Index::open(tmp.path()).expect("open for writing");
        let mut txn = index.begin();
        for k in (0..DOCS).step_by(100) {
            txn.delete(&k.into()).expect("delete");
        }
        txn.commit().expect("commit");
    }
    reader.refresh().expect("refresh");
    let snap = reader.snapshot();
    let mut g = c.benchmark_group("text_query_deletes");
    common::short(&mut g);
    g.throughput(Throughput::Elements(queries.len() as u64));
    for (name, algo) in [("maxscore", Algorithm::MaxScore), ("auto", Algorithm::Auto)] {
        g.bench_function(BenchmarkId::new(name, "k10"), |b| {
            b.iter(|| {
                let mut n = 0;
                for text in &queries {
                    let mut q = TextQuery::bm25(text, 10);
                    q.algorithm = algo;
                    n += snap.search_text(&q).expect("search").len();
                }
                n
            })
        });
    }
    g.finish();
}

criterion_group!(benches, traversal);
criterion_main!(benches);

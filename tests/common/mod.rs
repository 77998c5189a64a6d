//! Helpers shared by the integration tests: seeded data and a brute-force model.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use strata::dense::kernels;
use strata::io::Directory;
use strata::{Hit, Index, IndexOptions, Key, KeyKind, MergePolicy, Metric, Schema};

/// splitmix64: a tiny seeded generator.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        strata::rng::splitmix64(&mut self.0)
    }
    pub fn f32(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn vector(&mut self, dim: usize) -> Vec<f32> {
        (0..dim).map(|_| self.f32()).collect()
    }
}

pub const DIM: usize = 8;

pub fn schema(metric: Metric) -> Schema {
    Schema::dense(KeyKind::U64, DIM as u32, metric)
}

/// The dense schema plus a stored text field `body`.
pub fn schema_text(metric: Metric) -> Schema {
    schema(metric).with_text("body", strata::text::AnalyzerConfig::default(), true)
}

/// Words derived from a vector (w0..w8), so a model of vectors also models text.
pub fn text_of(v: &[f32]) -> String {
    v.iter()
        .map(|x| format!("w{}", ((x * 4.0).round() as i64).rem_euclid(9)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A document with vector `v` and text `text_of(v)`.
pub fn doc(k: u64, v: Vec<f32>) -> strata::Document {
    let t = text_of(&v);
    strata::Document::new(k, v).with_text("body", t)
}

/// Checks the text side of an index built with [`doc`] against the model: every live
/// document's stored text, and for every word the exact set of documents a BM25 query finds,
/// with pruned and exhaustive traversal agreeing.
pub fn check_text(index: &Index, model: &Model) {
    use strata::sparse::query::Algorithm;
    let snap = index.snapshot();
    snap.for_each_live(|key, seg, row| {
        let Key::U64(k) = key else { panic!("u64 keys") };
        let stored = seg
            .segment
            .stored()
            .expect("stored fields")
            .get(row)
            .unwrap();
        assert_eq!(stored, vec![text_of(&model[k])], "stored text of {k}");
    });
    for w in 0..9 {
        let word = format!("w{w}");
        let want: std::collections::BTreeSet<u64> = model
            .iter()
            .filter(|(_, v)| text_of(v).split(' ').any(|t| t == word))
            .map(|(k, _)| *k)
            .collect();
        let mut q = strata::TextQuery::bm25(&word, 100_000);
        let pruned = snap.search_text(&q).unwrap();
        q.algorithm = Algorithm::Exhaustive;
        let exhaustive = snap.search_text(&q).unwrap();
        assert_eq!(exhaustive, pruned, "{word}");
        let got: std::collections::BTreeSet<u64> = pruned
            .iter()
            .map(|h| match h.key {
                Key::U64(k) => k,
                _ => panic!(),
            })
            .collect();
        assert_eq!(got, want, "documents with {word}");
    }
}

pub fn options_sync() -> IndexOptions {
    IndexOptions {
        background_merges: false,
        merge_policy: MergePolicy {
            merge_factor: 3,
            min_segment_rows: 4,
            max_deleted_ratio: 0.5,
        },
        lock_timeout: None,
    }
}

/// Background merges with a small tiered policy, so a few commits already merge.
pub fn options_background() -> IndexOptions {
    IndexOptions {
        background_merges: true,
        merge_policy: MergePolicy {
            merge_factor: 3,
            min_segment_rows: 8,
            max_deleted_ratio: 0.3,
        },
        lock_timeout: None,
    }
}

/// The model: key -> vector.
pub type Model = BTreeMap<u64, Vec<f32>>;

/// Brute force over the model with the same kernels and tie-breaking as the engine.
pub fn brute_force(model: &Model, metric: Metric, q: &[f32], k: usize) -> Vec<Hit> {
    let kr = kernels::best();
    let qn = kernels::norm_f32(q);
    let mut all: Vec<Hit> = model
        .iter()
        .map(|(key, v)| {
            let score = match metric {
                Metric::Dot => (kr.dot_f32)(q, v),
                Metric::L2 => (kr.l2sq_f32)(q, v),
                Metric::Cosine => {
                    let d = qn * kernels::norm_f32(v);
                    if d > 0.0 { (kr.dot_f32)(q, v) / d } else { 0.0 }
                }
            };
            Hit {
                key: Key::U64(*key),
                score,
            }
        })
        .collect();
    all.sort_by(|a, b| strata::types::compare_hits(metric, a, b));
    all.truncate(k);
    all
}

/// Every live (key, vector) of the index's newest snapshot.
pub fn contents(index: &Index) -> Model {
    let snap = index.snapshot();
    let mut out = Model::new();
    snap.for_each_live(|key, seg, row| {
        if let Key::U64(k) = key {
            out.insert(*k, seg.segment.vector_f32(row as usize).unwrap_or_default());
        }
    });
    out
}

pub fn open_sync(dir: Arc<dyn Directory>) -> strata::Result<Index> {
    Index::open_in(dir, options_sync())
}

/// Every live (key, vector) of a snapshot.
pub fn snapshot_contents(snap: &strata::Snapshot) -> Model {
    let mut out = Model::new();
    snap.for_each_live(|key, seg, row| {
        if let Key::U64(k) = key {
            out.insert(*k, seg.segment.vector_f32(row as usize).unwrap_or_default());
        }
    });
    out
}

/// Checks a snapshot of an index built with [`doc`] against `model`: its live vectors, the
/// stored text of every live document, and exact search for `queries` against brute force.
pub fn check_snapshot(snap: &strata::Snapshot, model: &Model, queries: &[Vec<f32>], what: &str) {
    check_vectors(snap, model, queries, what);
    snap.for_each_live(|key, seg, row| {
        let Key::U64(k) = key else { panic!("u64 keys") };
        let stored = seg
            .segment
            .stored()
            .expect("stored fields")
            .get(row)
            .unwrap_or_else(|e| panic!("{what}: stored text of {k}: {e}"));
        assert_eq!(
            stored,
            vec![text_of(&model[k])],
            "{what}: stored text of {k}"
        );
    });
}

/// The vector side of [`check_snapshot`]: live vectors and exact search against brute force.
pub fn check_vectors(snap: &strata::Snapshot, model: &Model, queries: &[Vec<f32>], what: &str) {
    assert_eq!(&snapshot_contents(snap), model, "{what}: live documents");
    for q in queries {
        let got = snap.search_exact(q, 7).unwrap();
        assert_eq!(got, brute_force(model, Metric::Dot, q, 7), "{what}: search");
    }
}

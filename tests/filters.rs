//! Filters through the real path: compiled against a snapshot into document sets that count
//! live rows only and survive merges (a filter names documents, never row numbers).

mod common;
use common::*;
use std::sync::Arc;
use strata::io::{Directory, MemDirectory};
use strata::text::AnalyzerConfig;
use strata::{Document, Filter, Index, Key, KeyKind, Schema};

#[test]
fn key_filters_compile_per_snapshot_and_follow_deletes_and_merges() {
    let dir = MemDirectory::new();
    let d: Arc<dyn Directory> = Arc::new(dir.clone());
    let schema = Schema::new(KeyKind::U64).with_text("body", AnalyzerConfig::default(), false);
    let mut index = Index::create_in(d, schema, options_sync()).unwrap();
    for batch in 0..3u64 {
        let mut txn = index.begin();
        for i in 0..10u64 {
            txn.add(Document::with_key(batch * 10 + i).with_text("body", "w"))
                .unwrap();
        }
        txn.commit().unwrap();
    }
    let mut txn = index.begin();
    txn.delete(&Key::from(5u64)).unwrap();
    txn.commit().unwrap();
    let f = Filter::And(vec![
        Filter::Keys((0..20u64).map(Key::from).collect()),
        Filter::Keys(vec![
            Key::from(3u64),
            Key::from(5u64),
            Key::from(15u64),
            Key::from(99u64),
        ]),
    ]);
    let snap = index.snapshot();
    assert_eq!(
        snap.compile_filter(&f).unwrap().len(),
        2,
        "5 is deleted, 99 absent"
    );
    assert_eq!(snap.compile_filter(&Filter::And(vec![])).unwrap().len(), 29);
    assert_eq!(snap.live_docs().len(), 29);
    index.merge_all().unwrap();
    let merged = index.snapshot();
    assert_eq!(merged.segments().len(), 1);
    let g = merged.compile_filter(&f).unwrap();
    assert_eq!(g.len(), 2);
    let seg = merged.segments()[0].meta.id;
    let rows: Vec<u32> = g.segment(seg).unwrap().iter().collect();
    let keys: Vec<Key> = rows
        .iter()
        .map(|&r| merged.segments()[0].segment.key(r as usize).unwrap())
        .collect();
    assert_eq!(keys, vec![Key::from(3u64), Key::from(15u64)]);
}

/// Dense search with a filter equals exact search over the documents that pass, for flat
/// segments and for IVF-PQ segments probed completely with every candidate re-ranked, across
/// deletes and a merge.
#[test]
fn filtered_dense_search_equals_exact_search_over_the_passing_documents() {
    use strata::{DenseIndex, IvfPqParams, Metric, SearchParams};
    const D: usize = 16;
    let mut rng = Rng(7);
    for ivf in [false, true] {
        let mut schema = Schema::dense(KeyKind::U64, D as u32, Metric::Dot);
        if ivf {
            schema = schema.with_index(DenseIndex::IvfPq(IvfPqParams {
                nlist: 8,
                m: 8,
                nbits: 4,
                balanced: false,
                residual: true,
                min_rows: 100,
            }));
        }
        let dir: Arc<dyn Directory> = Arc::new(MemDirectory::new());
        let mut index = Index::create_in(dir, schema, options_sync()).unwrap();
        let mut model = Model::new();
        for batch in 0..3u64 {
            let mut txn = index.begin();
            for i in 0..300u64 {
                let v = rng.vector(D);
                model.insert(batch * 300 + i, v.clone());
                txn.add(Document::new(batch * 300 + i, v)).unwrap();
            }
            txn.commit().unwrap();
        }
        let mut txn = index.begin();
        for k in (0..900u64).step_by(7) {
            txn.delete(&Key::from(k)).unwrap();
            model.remove(&k);
        }
        txn.commit().unwrap();
        let wanted: Vec<Key> = (0..900u64).filter(|k| k % 3 == 1).map(Key::from).collect();
        let passing: Model = model
            .iter()
            .filter(|(k, _)| *k % 3 == 1)
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        for merged in [false, true] {
            if merged {
                index.merge_all().unwrap();
            }
            let snap = index.snapshot();
            assert!(
                snap.segments()
                    .iter()
                    .all(|s| s.segment.ivf().is_some() == ivf)
            );
            let f = snap.compile_filter(&Filter::Keys(wanted.clone())).unwrap();
            assert_eq!(f.len(), passing.len() as u64);
            let p = SearchParams {
                k: 10,
                nprobe: 8,
                rerank: 1000,
                exact: false,
            };
            for _ in 0..10 {
                let q = rng.vector(D);
                let want = brute_force(&passing, Metric::Dot, &q, 10);
                let (got, _) = snap.search_filtered(&q, &p, Some(&f)).unwrap();
                assert_eq!(got, want, "ivf {ivf} merged {merged}");
                let (exact, _) = snap
                    .search_filtered(&q, &SearchParams::exact(10), Some(&f))
                    .unwrap();
                assert_eq!(exact, want, "exact, ivf {ivf} merged {merged}");
            }
        }
    }
}

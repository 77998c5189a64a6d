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

/// An IVF-PQ index of `segments` committed segments of `per` rows each, drawn around 16
/// cluster centres (row i belongs to cluster i % 16), with keys 0.. in insertion order.
fn clustered_index(
    segments: u64,
    per: u64,
    nlist: u32,
    rng: &mut Rng,
) -> (Index, Model, Vec<Vec<f32>>) {
    use strata::{DenseIndex, IvfPqParams, Metric};
    const D: usize = 16;
    let centres: Vec<Vec<f32>> = (0..16)
        .map(|_| rng.vector(D).iter().map(|x| 4.0 * x).collect())
        .collect();
    let schema = Schema::dense(KeyKind::U64, D as u32, Metric::L2).with_index(DenseIndex::IvfPq(
        IvfPqParams {
            nlist,
            m: 8,
            nbits: 4,
            balanced: false,
            residual: false,
            min_rows: 100,
        },
    ));
    let dir: Arc<dyn Directory> = Arc::new(MemDirectory::new());
    let mut index = Index::create_in(dir, schema, options_sync()).unwrap();
    let mut model = Model::new();
    for s in 0..segments {
        let mut txn = index.begin();
        for i in 0..per {
            let key = s * per + i;
            let c = &centres[(key % 16) as usize];
            let v: Vec<f32> = rng
                .vector(D)
                .iter()
                .zip(c)
                .map(|(x, c)| c + 0.3 * x)
                .collect();
            model.insert(key, v.clone());
            txn.add(Document::new(key, v)).unwrap();
        }
        txn.commit().unwrap();
    }
    (index, model, centres)
}

/// The planner's two paths, through deletes and a merge: a filter passing few rows of a
/// segment is answered by scoring those rows exactly (no list probed), one passing many rows by
/// probing lists beyond `nprobe` until enough passing rows were seen; with every passing row
/// re-ranked, both equal exact search over the passing documents.
#[test]
fn filter_planner_scores_few_rows_exactly_and_probes_further_for_many() {
    use strata::{Metric, SearchParams};
    let mut rng = Rng(11);
    let (mut index, mut model, _) = clustered_index(3, 1200, 16, &mut rng);
    let mut txn = index.begin();
    for k in (0..3600u64).step_by(5) {
        txn.delete(&Key::from(k)).unwrap();
        model.remove(&k);
    }
    txn.commit().unwrap();
    for merged in [false, true] {
        if merged {
            index.merge_all().unwrap();
        }
        let snap = index.snapshot();
        assert!(snap.segments().iter().all(|s| s.segment.ivf().is_some()));
        let nseg = snap.segments().len() as u64;
        // Few: one document in 120 passes.
        let few = |k: u64| k % 120 == 7;
        // Many: two in five.
        let many = |k: u64| k % 5 >= 3;
        for (name, pass) in [("few", &few as &dyn Fn(u64) -> bool), ("many", &many)] {
            let keys: Vec<Key> = (0..3600u64).filter(|&k| pass(k)).map(Key::from).collect();
            let passing: Model = model
                .iter()
                .filter(|(k, _)| pass(**k))
                .map(|(k, v)| (*k, v.clone()))
                .collect();
            let f = snap.compile_filter(&Filter::Keys(keys)).unwrap();
            let p = SearchParams {
                k: 10,
                nprobe: 2,
                rerank: 4000,
                exact: false,
            };
            for _ in 0..8 {
                let q = rng.vector(16);
                let (got, st) = snap.search_filtered(&q, &p, Some(&f)).unwrap();
                let want = brute_force(&passing, Metric::L2, &q, 10);
                assert_eq!(got, want, "{name}, merged {merged}");
                assert_eq!(st.passed, passing.len() as u64, "{name}");
                assert!(!st.underfilled, "{name}");
                if name == "few" {
                    assert_eq!(st.exact_segments, nseg, "few passing rows: exact path");
                    assert_eq!(st.exact_rows, passing.len() as u64);
                    assert_eq!((st.offered, st.lists_probed), (0, 0));
                } else {
                    assert_eq!(st.exact_segments, 0, "many passing rows: IVF path");
                    assert!(
                        st.lists_probed > 2 * nseg,
                        "probed beyond nprobe: {} lists over {nseg} segments",
                        st.lists_probed
                    );
                    assert_eq!(st.exact_rows, 0);
                }
            }
        }
    }
}

/// A filter whose documents lie away from the query: the lists an unfiltered query would probe
/// hold none of them, so the probe goes on until it has seen enough passing documents and the
/// top-k is filled with passing documents only.
#[test]
fn filtered_probe_fills_top_k_when_passing_documents_are_far_from_the_query() {
    use strata::SearchParams;
    let mut rng = Rng(5);
    let (index, model, centres) = clustered_index(1, 4000, 16, &mut rng);
    let snap = index.snapshot();
    // Clusters 0..8 pass; queries sit on the centres of the others.
    let pass = |k: u64| k % 16 < 8;
    let keys: Vec<Key> = model
        .keys()
        .filter(|&&k| pass(k))
        .map(|&k| Key::from(k))
        .collect();
    let f = snap.compile_filter(&Filter::Keys(keys)).unwrap();
    let p = SearchParams {
        k: 10,
        nprobe: 1,
        rerank: 20,
        exact: false,
    };
    for c in &centres[8..] {
        let (got, st) = snap.search_filtered(c, &p, Some(&f)).unwrap();
        assert_eq!(got.len(), 10);
        assert!(!st.underfilled);
        assert_eq!(st.exact_segments, 0, "half the rows pass: the IVF path");
        assert!(st.lists_probed > 1);
        for h in &got {
            let Key::U64(k) = h.key else {
                panic!("u64 keys")
            };
            assert!(pass(k), "hit {k} does not pass the filter");
        }
    }
}

/// When fewer than k documents pass, the search returns those and says so, for flat and IVF
/// segments and for exact search.
#[test]
fn a_filter_passing_fewer_than_k_documents_is_reported_as_underfilled() {
    use strata::{Metric, SearchParams};
    let mut rng = Rng(3);
    let (index, model, _) = clustered_index(2, 600, 8, &mut rng);
    let snap = index.snapshot();
    let keys = vec![Key::from(3u64), Key::from(700u64), Key::from(1199u64)];
    let f = snap.compile_filter(&Filter::Keys(keys.clone())).unwrap();
    let passing: Model = [3u64, 700, 1199]
        .iter()
        .map(|k| (*k, model[k].clone()))
        .collect();
    let q = rng.vector(16);
    for p in [SearchParams::new(10), SearchParams::exact(10)] {
        let (got, st) = snap.search_filtered(&q, &p, Some(&f)).unwrap();
        assert_eq!(got, brute_force(&passing, Metric::L2, &q, 10));
        assert_eq!(got.len(), 3);
        assert!(st.underfilled);
        assert_eq!(st.passed, 3);
    }
    let (got, st) = snap
        .search_filtered(&q, &SearchParams::new(10), None)
        .unwrap();
    assert_eq!(got.len(), 10);
    assert!(!st.underfilled);
    assert_eq!(st.passed, 1200);
}

/// `search` goes through the schema's index (it is `search_with` at the default effort, and
/// probes lists); `search_exact` scores every document (it equals brute force).
#[test]
fn search_uses_the_index_and_search_exact_scores_everything() {
    use strata::{Metric, SearchParams};
    let mut rng = Rng(9);
    let (index, model, _) = clustered_index(2, 1500, 32, &mut rng);
    let snap = index.snapshot();
    for _ in 0..10 {
        let q = rng.vector(16);
        let (approx, st) = snap.search_with(&q, &SearchParams::new(10)).unwrap();
        assert!(st.lists_probed > 0 && st.offered > 0, "the IVF-PQ path");
        assert_eq!(snap.search(&q, 10).unwrap(), approx);
        assert_eq!(
            snap.search_exact(&q, 10).unwrap(),
            brute_force(&model, Metric::L2, &q, 10)
        );
    }
}

//! `Snapshot::query` through the real path (documents added in write transactions, committed,
//! deleted, merged): fusion arithmetic against fusion recomputed here from the per-source lists,
//! pagination, filters applied to every source, deletes and merges, `get` by key.

mod common;
use common::Rng;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use strata::io::{Directory, MemDirectory};
use strata::text::AnalyzerConfig;
use strata::{
    Document, Error, Filter, FusionMethod, Index, IndexOptions, Key, KeyKind, MergePolicy, Metric,
    Normalization, Query, QueryHit, Schema, SearchParams, Snapshot, Source, TextQuery,
};

const DIM: usize = 8;

fn options() -> IndexOptions {
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

fn schema(metric: Metric) -> Schema {
    Schema::new(KeyKind::U64)
        .with_dense("vector", DIM as u32, metric)
        .with_text("body", AnalyzerConfig::default(), true)
        .with_sparse("sparse", 8)
}

/// Document `k` of a seeded corpus: a vector, text over 12 words, sparse terms over 16.
fn document(rng: &mut Rng, k: u64) -> Document {
    let words = 1 + rng.below(8);
    let text: Vec<String> = (0..words).map(|_| format!("w{}", rng.below(12))).collect();
    let mut sparse: Vec<(String, f32)> = Vec::new();
    for _ in 0..1 + rng.below(5) {
        let t = format!("s{}", rng.below(16));
        if !sparse.iter().any(|(x, _)| *x == t) {
            sparse.push((t, 0.1 + rng.below(100) as f32 / 20.0));
        }
    }
    Document::new(k, rng.vector(DIM))
        .with_text("body", text.join(" "))
        .with_sparse(sparse)
}

/// `n` documents in commits of 60, then every 9th key deleted, then (optionally) a merge.
fn build(seed: u64, n: u64, metric: Metric, merge: bool) -> (Index, HashSet<u64>) {
    let dir: Arc<dyn Directory> = Arc::new(MemDirectory::new());
    let mut index = Index::create_in(dir, schema(metric), options()).unwrap();
    let mut rng = Rng(seed);
    for start in (0..n).step_by(60) {
        let mut txn = index.begin();
        for k in start..(start + 60).min(n) {
            txn.add(document(&mut rng, k)).unwrap();
        }
        txn.commit().unwrap();
    }
    let mut deleted = HashSet::new();
    let mut txn = index.begin();
    for k in (0..n).step_by(9) {
        assert!(txn.delete(&Key::U64(k)).unwrap());
        deleted.insert(k);
    }
    txn.commit().unwrap();
    if merge {
        index.merge_all().unwrap();
    }
    (index, deleted)
}

fn query_parts(rng: &mut Rng) -> (Vec<f32>, String, Vec<(String, f32)>) {
    let v = rng.vector(DIM);
    let text = format!("w{} w{} w{}", rng.below(12), rng.below(12), rng.below(12));
    let sparse = vec![
        (format!("s{}", rng.below(16)), 1.0),
        (format!("s{}", rng.below(16)), 0.5),
        (format!("s{}", rng.below(16) + 100), 2.0),
    ];
    (v, text, sparse)
}

/// One source's ranked list as (key, score where higher is better), computed with the
/// per-kind searches, exact.
fn source_lists(
    snap: &Snapshot,
    metric: Metric,
    q: &Query,
    filter: Option<&Filter>,
    depth: usize,
) -> Vec<(Source, Vec<(Key, f32)>)> {
    let compiled = filter.map(|f| snap.compile_filter(f).unwrap());
    let mut out = Vec::new();
    if let Some(d) = &q.dense {
        let (hits, _) = snap
            .search_filtered(&d.vector, &SearchParams::exact(depth), compiled.as_ref())
            .unwrap();
        let list = hits
            .into_iter()
            .map(|h| (h.key, metric.rank_value(h.score)))
            .collect();
        out.push((Source::Dense, list));
    }
    if let Some(t) = &q.text {
        let mut tq = TextQuery::bm25(t, depth);
        tq.filter = compiled.as_ref();
        let list = snap
            .search_text(&tq)
            .unwrap()
            .into_iter()
            .map(|h| (h.key, h.score))
            .collect();
        out.push((Source::Text, list));
    }
    if !q.sparse.is_empty() {
        let mut tq = TextQuery::sparse(q.sparse.clone(), depth);
        tq.filter = compiled.as_ref();
        let list = snap
            .search_text(&tq)
            .unwrap()
            .into_iter()
            .map(|h| (h.key, h.score))
            .collect();
        out.push((Source::Sparse, list));
    }
    out
}

/// The fused ranking recomputed here from the per-source lists, written out per method.
fn fuse_here(method: FusionMethod, lists: &[(Source, Vec<(Key, f32)>)]) -> Vec<(Key, f32)> {
    let mut fused: HashMap<Key, f64> = HashMap::new();
    for (_, list) in lists {
        for (k, _) in list {
            fused.entry(k.clone()).or_insert(0.0);
        }
    }
    let n = lists.len() as f64;
    for (_, list) in lists {
        let s: Vec<f64> = list.iter().map(|(_, s)| f64::from(*s)).collect();
        let len = s.len().max(1) as f64;
        let mean = s.iter().sum::<f64>() / len;
        let sd = (s.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / len).sqrt();
        let min = s.iter().copied().fold(f64::INFINITY, f64::min);
        let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let value = |x: f64, rank: usize| match method {
            FusionMethod::Rrf { k } => 1.0 / (f64::from(k) + rank as f64),
            FusionMethod::Convex(Normalization::MinMax) if max > min => (x - min) / (max - min) / n,
            FusionMethod::Convex(Normalization::MinMax) => 1.0 / n,
            FusionMethod::Convex(Normalization::ZScore) if sd > 0.0 => (x - mean) / sd / n,
            FusionMethod::Dbsf if sd > 0.0 => (x - mean + 3.0 * sd) / (6.0 * sd),
            FusionMethod::Dbsf => 0.5,
            _ => 0.0,
        };
        // Under z-score a missing document takes the list's lowest value.
        let absent = match method {
            FusionMethod::Convex(Normalization::ZScore) if sd > 0.0 => (min - mean) / sd / n,
            _ => 0.0,
        };
        let present: HashMap<&Key, f64> = list
            .iter()
            .enumerate()
            .map(|(i, (k, x))| (k, value(f64::from(*x), i + 1)))
            .collect();
        for (k, f) in fused.iter_mut() {
            *f += present.get(k).copied().unwrap_or(absent.min(0.0));
        }
    }
    let mut out: Vec<(Key, f32)> = fused.into_iter().map(|(k, f)| (k, f as f32)).collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

fn keys_scores(hits: &[QueryHit]) -> Vec<(Key, f32)> {
    hits.iter().map(|h| (h.key.clone(), h.score)).collect()
}

/// Scores equal within a few f32 ulps of their size (the engine sums in a different order).
fn assert_same_ranking(got: &[(Key, f32)], want: &[(Key, f32)], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        let tol = 1e-5 * w.1.abs().max(1.0);
        assert!((g.1 - w.1).abs() <= tol, "{what}: {g:?} vs {w:?}");
    }
    // Same keys at every position where scores differ clearly from their neighbours.
    let gk: Vec<&Key> = got.iter().map(|x| &x.0).collect();
    let wk: Vec<&Key> = want.iter().map(|x| &x.0).collect();
    if gk != wk {
        let gs: HashSet<&Key> = gk.iter().copied().collect();
        let ws: HashSet<&Key> = wk.iter().copied().collect();
        assert_eq!(gs, ws, "{what}");
    }
}

fn methods() -> [FusionMethod; 4] {
    [
        FusionMethod::Rrf { k: 60.0 },
        FusionMethod::Convex(Normalization::MinMax),
        FusionMethod::Convex(Normalization::ZScore),
        FusionMethod::Dbsf,
    ]
}

#[test]
fn hybrid_equals_fusing_the_exact_per_source_lists_with_and_without_filters() {
    for (metric, merge) in [
        (Metric::L2, false),
        (Metric::Cosine, true),
        (Metric::Dot, true),
    ] {
        let (index, deleted) = build(11, 400, metric, merge);
        let snap = index.snapshot();
        let mut rng = Rng(99);
        let passing: Vec<Key> = (0..400u64).filter(|k| k % 3 != 0).map(Key::U64).collect();
        let filter = Filter::Keys(passing.clone());
        for round in 0..6 {
            let (v, text, sparse) = query_parts(&mut rng);
            for method in methods() {
                for f in [None, Some(&filter)] {
                    let mut q = Query::new()
                        .vector(v.clone())
                        .exact(true)
                        .text(text.clone())
                        .sparse(sparse.clone())
                        .fusion(method)
                        .limit(25)
                        .depth(40);
                    if let Some(f) = f {
                        q = q.filter(f.clone());
                    }
                    let res = snap.query(&q).unwrap();
                    let lists = source_lists(&snap, metric, &q, f, 40);
                    let mut want = fuse_here(method, &lists);
                    want.truncate(25);
                    let what = format!("{metric:?} merge {merge} round {round} {method:?} {f:?}");
                    assert_same_ranking(&keys_scores(&res.hits), &want, &what);
                    // Every hit is live, passes the filter and carries its sources' ranks.
                    for h in &res.hits {
                        let Key::U64(k) = h.key else { panic!() };
                        assert!(!deleted.contains(&k), "{what}: deleted {k}");
                        if f.is_some() {
                            assert!(passing.contains(&h.key), "{what}: {k} fails the filter");
                        }
                        for (s, list) in &lists {
                            let pos = list.iter().position(|(key, _)| *key == h.key);
                            let got = h.source(*s);
                            assert_eq!(got.map(|x| x.rank as usize), pos.map(|p| p + 1), "{what}");
                            if let (Some(g), Some(p)) = (got, pos) {
                                assert_eq!(g.score.to_bits(), list[p].1.to_bits(), "{what}");
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn one_source_is_that_source_unfused_and_l2_is_negated() {
    let (index, _) = build(5, 300, Metric::L2, false);
    let snap = index.snapshot();
    let mut rng = Rng(7);
    for _ in 0..5 {
        let (v, text, sparse) = query_parts(&mut rng);
        for q in [
            Query::new().vector(v.clone()).exact(true),
            Query::new().text(text.clone()),
            Query::new().sparse(sparse.clone()),
        ] {
            let q = q.limit(20);
            let res = snap.query(&q).unwrap();
            let lists = source_lists(&snap, Metric::L2, &q, None, 100);
            let (_, want) = &lists[0];
            let want: Vec<(Key, u32)> = want
                .iter()
                .take(20)
                .map(|(k, s)| (k.clone(), s.to_bits()))
                .collect();
            let got: Vec<(Key, u32)> = res
                .hits
                .iter()
                .map(|h| (h.key.clone(), h.score.to_bits()))
                .collect();
            assert_eq!(got, want, "{:?}", q.sources());
            if q.dense.is_some() {
                assert!(res.hits.iter().all(|h| h.score <= 0.0), "negated distances");
            }
        }
    }
}

#[test]
fn pages_concatenate_to_the_unpaged_list_each_document_once() {
    let (index, _) = build(21, 500, Metric::Cosine, false);
    let snap = index.snapshot();
    let mut rng = Rng(3);
    for method in methods() {
        let (v, text, sparse) = query_parts(&mut rng);
        let base = Query::new()
            .vector(v)
            .text(text)
            .sparse(sparse)
            .fusion(method)
            .depth(60);
        let all = snap.query(&base.clone().limit(1000)).unwrap();
        assert!(
            all.fewer_than_limit,
            "a depth of 60 per source cannot fill 1000"
        );
        assert_eq!(all.hits.len(), all.candidates);
        let keys: HashSet<&Key> = all.hits.iter().map(|h| &h.key).collect();
        assert_eq!(keys.len(), all.hits.len(), "each document once");
        // Score descending, then key ascending.
        for w in all.hits.windows(2) {
            assert!(
                w[0].score > w[1].score || (w[0].score == w[1].score && w[0].key < w[1].key),
                "{:?} before {:?}",
                w[0],
                w[1]
            );
        }
        let mut paged = Vec::new();
        let mut offset = 0;
        loop {
            let page = snap.query(&base.clone().limit(7).offset(offset)).unwrap();
            let n = page.hits.len();
            assert_eq!(page.fewer_than_limit, n < 7);
            paged.extend(page.hits);
            if n < 7 {
                break;
            }
            offset += 7;
        }
        assert_eq!(keys_scores(&paged), keys_scores(&all.hits), "{method:?}");
        // Past the end: an empty page that says so.
        let past = snap
            .query(&base.clone().limit(5).offset(all.hits.len()))
            .unwrap();
        assert!(past.hits.is_empty() && past.fewer_than_limit);
    }
}

#[test]
fn a_filter_passing_few_documents_says_the_page_is_short() {
    let (index, _) = build(8, 200, Metric::Dot, true);
    let snap = index.snapshot();
    let mut rng = Rng(1);
    let (v, text, sparse) = query_parts(&mut rng);
    // Keys 1, 2, 4 (live) and 9 (deleted): at most three documents pass.
    let keys = vec![Key::U64(1), Key::U64(2), Key::U64(4), Key::U64(9)];
    let q = Query::new()
        .vector(v)
        .text(text)
        .sparse(sparse)
        .filter(Filter::Keys(keys))
        .limit(10);
    let res = snap.query(&q).unwrap();
    assert!(res.fewer_than_limit);
    assert_eq!(
        res.hits.len(),
        3,
        "the dense source finds every passing document"
    );
    let got: HashSet<Key> = res.hits.iter().map(|h| h.key.clone()).collect();
    assert_eq!(got, HashSet::from([Key::U64(1), Key::U64(2), Key::U64(4)]));
}

#[test]
fn deletes_and_merges_do_not_change_answers() {
    // The same live documents as one fresh segment, and spread over segments with deletes,
    // before and after merging: dense (exact) and BM25 scores do not depend on segmentation,
    // so fused answers are identical.
    let (index, deleted) = build(31, 360, Metric::L2, false);
    let dir: Arc<dyn Directory> = Arc::new(MemDirectory::new());
    let mut fresh = Index::create_in(dir, schema(Metric::L2), options()).unwrap();
    let mut rng = Rng(31);
    let mut txn = fresh.begin();
    for k in 0..360u64 {
        let d = document(&mut rng, k);
        if !deleted.contains(&k) {
            txn.add(d).unwrap();
        }
    }
    txn.commit().unwrap();
    let before = index.snapshot();
    let mut index = index;
    index.merge_all().unwrap();
    let after = index.snapshot();
    assert!(before.segments().len() > 1);
    assert_eq!(after.segments().len(), 1);
    let one = fresh.snapshot();
    let mut qrng = Rng(77);
    for _ in 0..5 {
        let (v, text, _) = query_parts(&mut qrng);
        for method in methods() {
            let q = Query::new()
                .vector(v.clone())
                .exact(true)
                .text(text.clone())
                .fusion(method)
                .limit(30);
            let want = keys_scores(&one.query(&q).unwrap().hits);
            for snap in [&before, &after] {
                let got = keys_scores(&snap.query(&q).unwrap().hits);
                assert_eq!(got, want, "{method:?}");
            }
        }
    }
}

#[test]
fn get_returns_stored_fields_of_live_documents() {
    let (index, deleted) = build(4, 150, Metric::Cosine, false);
    let snap = index.snapshot();
    let d = snap.get(&Key::U64(10)).unwrap().expect("key 10 is live");
    assert_eq!(d.key, Key::U64(10));
    assert_eq!(d.fields.len(), 1);
    assert_eq!(d.fields[0].0, "body");
    assert!(d.fields[0].1.starts_with('w'));
    assert!(deleted.contains(&9));
    assert!(snap.get(&Key::U64(9)).unwrap().is_none(), "deleted");
    assert!(
        snap.get(&Key::U64(10_000)).unwrap().is_none(),
        "never added"
    );
    // A hit's address fetches the same fields as get.
    let res = snap
        .query(&Query::new().text(d.fields[0].1.clone()).limit(150))
        .unwrap();
    let hit = res.hits.iter().find(|h| h.key == Key::U64(10)).unwrap();
    assert_eq!(hit.address, d.address);
    assert_eq!(snap.stored_fields(&hit.address).unwrap(), d.fields);
    let mut bad = hit.address;
    bad.segment = u64::MAX;
    assert!(snap.stored_fields(&bad).is_err());
}

#[test]
fn bad_queries_are_typed_errors() {
    let (index, _) = build(2, 60, Metric::Dot, false);
    let snap = index.snapshot();
    let invalid = |q: Query| match snap.query(&q) {
        Err(Error::InvalidArgument(m)) => m,
        other => panic!("expected InvalidArgument, got {other:?}"),
    };
    assert!(invalid(Query::new()).contains("no vector, text or sparse"));
    assert!(invalid(Query::new().text("w1").weight(Source::Text, -1.0)).contains("text"));
    let m = invalid(
        Query::new()
            .text("w1")
            .fusion(FusionMethod::Rrf { k: f32::NAN }),
    );
    assert!(m.contains("RRF"), "{m}");
    assert!(invalid(Query::new().text("w1").depth(0)).contains("depth"));
    // A limit of 0 is an empty page, not an error.
    let empty = snap.query(&Query::new().text("w1").limit(0)).unwrap();
    assert!(empty.hits.is_empty() && !empty.fewer_than_limit);
    assert!(snap.query(&Query::new().vector(vec![0.5; 3])).is_err());
    assert!(
        snap.query(&Query::new().vector(vec![f32::NAN; DIM]))
            .is_err()
    );
    assert!(
        snap.query(&Query::new().text("w1").fields(["title"]))
            .is_err()
    );
    let m = invalid(Query::new().sparse(vec![("s1".into(), -2.0)]));
    assert!(m.contains("s1"), "{m}");
    // A schema without a text field refuses text.
    let dir: Arc<dyn Directory> = Arc::new(MemDirectory::new());
    let plain =
        Index::create_in(dir, Schema::dense(KeyKind::U64, 4, Metric::Dot), options()).unwrap();
    let m = match plain.snapshot().query(&Query::new().text("w1")) {
        Err(Error::InvalidArgument(m)) => m,
        other => panic!("{other:?}"),
    };
    assert!(m.contains("no text field"), "{m}");
}

#[test]
fn ivf_pq_is_used_by_default_and_exact_on_request() {
    use strata::{DenseIndex, IvfPqParams};
    let dir: Arc<dyn Directory> = Arc::new(MemDirectory::new());
    let s = schema(Metric::L2).with_index(DenseIndex::IvfPq(IvfPqParams {
        nlist: 8,
        m: 4,
        min_rows: 0,
        ..IvfPqParams::default()
    }));
    let mut index = Index::create_in(dir, s, options()).unwrap();
    let mut rng = Rng(12);
    let mut txn = index.begin();
    for k in 0..400 {
        txn.add(document(&mut rng, k)).unwrap();
    }
    txn.commit().unwrap();
    let snap = index.snapshot();
    let v = rng.vector(DIM);
    let approx = snap
        .query(&Query::new().vector(v.clone()).nprobe(2).rerank(0).limit(10))
        .unwrap();
    let stats = approx.dense_stats.unwrap();
    assert_eq!(stats.exact_rows, 0, "searched through the IVF-PQ index");
    assert!(stats.offered > 0);
    let exact = snap
        .query(&Query::new().vector(v).exact(true).limit(10))
        .unwrap();
    assert_eq!(exact.dense_stats.unwrap().exact_rows, 400);
    assert_eq!(exact.hits.len(), 10);
}

#[test]
fn rocchio_feedback_searches_the_expanded_vector() {
    use strata::Rocchio;
    let (index, _) = build(17, 240, Metric::Dot, true);
    // The documents' vectors, replayed from the same seed.
    let mut rng = Rng(17);
    let vectors: HashMap<Key, Vec<f32>> = (0..240u64)
        .map(|k| {
            let d = document(&mut rng, k);
            (d.key.clone(), d.vector.unwrap().to_f32())
        })
        .collect();
    let snap = index.snapshot();
    let mut qrng = Rng(5);
    for docs in [3, 5] {
        let v = qrng.vector(DIM);
        let first = snap
            .query(&Query::new().vector(v.clone()).exact(true).limit(docs))
            .unwrap();
        // q' = 0.4 q + 0.6 · mean of the first round's top `docs` vectors, by hand.
        let mut want = v.iter().map(|x| 0.4 * f64::from(*x)).collect::<Vec<f64>>();
        for h in &first.hits {
            for (w, x) in want.iter_mut().zip(&vectors[&h.key]) {
                *w += 0.6 * f64::from(*x) / docs as f64;
            }
        }
        let want: Vec<f32> = want.into_iter().map(|x| x as f32).collect();
        let expanded = snap
            .query(&Query::new().vector(want).exact(true).limit(20))
            .unwrap();
        let fb = snap
            .query(
                &Query::new()
                    .vector(v.clone())
                    .exact(true)
                    .feedback(Rocchio::new(0.4, 0.6, docs))
                    .limit(20),
            )
            .unwrap();
        let got: Vec<&Key> = fb.hits.iter().map(|h| &h.key).collect();
        let exp: Vec<&Key> = expanded.hits.iter().map(|h| &h.key).collect();
        assert_eq!(got, exp, "m = {docs}");
        for (a, b) in fb.hits.iter().zip(&expanded.hits) {
            assert!((a.score - b.score).abs() <= 1e-5 * b.score.abs().max(1.0));
        }
    }
    let bad = Query::new()
        .vector(vec![0.1; DIM])
        .feedback(Rocchio::new(f32::NAN, 0.6, 3));
    assert!(matches!(snap.query(&bad), Err(Error::InvalidArgument(_))));
}

/// RM3 text feedback: the expansion terms come from the first round's top documents, so a
/// document that shares no word with the query but shares the feedback documents' vocabulary
/// is found; without stored text the feedback is a clear error.
#[test]
fn rm3_feedback_expands_text_queries_from_the_top_documents() {
    use strata::Rm3;
    for stored in [true, false] {
        let dir: Arc<dyn Directory> = Arc::new(MemDirectory::new());
        let schema = Schema::new(KeyKind::U64).with_text("body", AnalyzerConfig::default(), stored);
        let mut index = Index::create_in(dir, schema, options()).unwrap();
        let mut txn = index.begin();
        let docs = [
            (1u64, "lunar orbit rocket"),
            (2, "lunar orbit rocket booster"),
            (3, "rocket booster orbit"),
            (4, "booster orbit capsule"),
            (5, "garden tulip soil"),
            (6, "tulip soil water"),
        ];
        for (k, t) in docs {
            txn.add(Document::with_key(k).with_text("body", t)).unwrap();
        }
        txn.commit().unwrap();
        let snap = index.snapshot();
        let plain = snap.query(&Query::new().text("lunar").limit(10)).unwrap();
        let plain: Vec<Key> = plain.hits.iter().map(|h| h.key.clone()).collect();
        assert_eq!(
            plain,
            vec![Key::U64(1), Key::U64(2)],
            "only 1 and 2 say lunar"
        );
        let q = Query::new()
            .text("lunar")
            .limit(10)
            .text_feedback(Rm3::new(2, 3, 0.5));
        if !stored {
            let err = snap.query(&q).unwrap_err();
            assert!(err.to_string().contains("not stored"), "{err}");
            continue;
        }
        let res = snap.query(&q).unwrap();
        let keys: HashSet<Key> = res.hits.iter().map(|h| h.key.clone()).collect();
        // The feedback documents 1 and 2 make orbit and rocket expansion terms: 3 and 4 come
        // in, the tulip documents never do, and 1 and 2 stay on top.
        assert!(
            keys.contains(&Key::U64(3)) && keys.contains(&Key::U64(4)),
            "{keys:?}"
        );
        assert!(!keys.contains(&Key::U64(5)) && !keys.contains(&Key::U64(6)));
        let top: HashSet<Key> = res.hits.iter().take(2).map(|h| h.key.clone()).collect();
        assert_eq!(top, HashSet::from([Key::U64(1), Key::U64(2)]));
        // The same as searching the weighted terms directly: lunar ½ + expansion ½ over the
        // three best feedback terms. P(w|R) with P(D1) = s1/(s1+s2), P(D2) = s2/(s1+s2):
        // checked against a query of the terms the feedback must have chosen.
        let mut tq = TextQuery::bm25("", 10);
        let first = snap.search_text(&TextQuery::bm25("lunar", 10)).unwrap();
        let (s1, s2) = (f64::from(first[0].score), f64::from(first[1].score));
        let (p1, p2) = (s1 / (s1 + s2), s2 / (s1 + s2));
        // Doc 1 has 3 terms, doc 2 has 4 ("lunar orbit rocket" / "... booster").
        let w = |in1: f64, in2: f64| p1 * in1 / 3.0 + p2 * in2 / 4.0;
        let (lunar, orbit, rocket, booster) = (w(1.0, 1.0), w(1.0, 1.0), w(1.0, 1.0), w(0.0, 1.0));
        // Three kept: lunar, orbit, rocket (equal weights, ahead of booster).
        assert!(booster < lunar);
        let mass = lunar + orbit + rocket;
        tq.weighted = vec![
            ("lunar".into(), (0.5 + 0.5 * lunar / mass) as f32),
            ("orbit".into(), (0.5 * orbit / mass) as f32),
            ("rocket".into(), (0.5 * rocket / mass) as f32),
        ];
        let direct: Vec<Key> = snap
            .search_text(&tq)
            .unwrap()
            .into_iter()
            .map(|h| h.key)
            .collect();
        let got: Vec<Key> = res.hits.iter().map(|h| h.key.clone()).collect();
        assert_eq!(got, direct);
    }
}

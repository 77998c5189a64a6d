//! Text and sparse-vector search through the real path: documents added in write
//! transactions, committed, merged, reopened; BM25 checked against a hand-computed reference,
//! pruning against exhaustive traversal, segmentation and merges against one segment, and the
//! sparse (impact) path against BM25.

mod common;
use common::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use strata::io::{Directory, MemDirectory};
use strata::sparse::query::Algorithm;
use strata::text::{Analyzer, AnalyzerConfig};
use strata::{Document, Error, Index, Key, KeyKind, Reader, Schema, TextHit, TextQuery};

fn mem_index(schema: Schema) -> (MemDirectory, Index) {
    let dir = MemDirectory::new();
    let d: Arc<dyn Directory> = Arc::new(dir.clone());
    let index = Index::create_in(d, schema, options_sync()).unwrap();
    (dir, index)
}

fn body_schema() -> Schema {
    Schema::new(KeyKind::U64).with_text("body", AnalyzerConfig::default(), true)
}

/// Zipf-ish random text over a vocabulary of `vocab` words.
fn random_text(rng: &mut Rng, vocab: u64, words: u64) -> String {
    let n = 1 + rng.below(words);
    (0..n)
        .map(|_| {
            // Squaring a uniform draw skews towards small ids: frequent words.
            let u = rng.below(1 << 20) as f64 / (1 << 20) as f64;
            format!("t{}", (u * u * vocab as f64) as u64)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn corpus(seed: u64, n: u64, vocab: u64, words: u64) -> Vec<(u64, String)> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|k| (k, random_text(&mut rng, vocab, words)))
        .collect()
}

fn add_all(index: &mut Index, docs: &[(u64, String)]) {
    let mut txn = index.begin();
    for (k, t) in docs {
        txn.add(Document::with_key(*k).with_text("body", t.clone()))
            .unwrap();
    }
    txn.commit().unwrap();
}

fn search(index: &Index, text: &str, k: usize, algo: Algorithm) -> Vec<TextHit> {
    let mut q = TextQuery::bm25(text, k);
    q.algorithm = algo;
    index.snapshot().search_text(&q).unwrap()
}

fn key_score(h: &[TextHit]) -> Vec<(Key, u32)> {
    h.iter()
        .map(|h| (h.key.clone(), h.score.to_bits()))
        .collect()
}

/// BM25 (Lucene idf, k1 0.9, b 0.4) computed in f64 from the analyzed documents.
fn reference_bm25(docs: &[(u64, String)], query: &str) -> Vec<(u64, f64)> {
    let a = Analyzer::new(&AnalyzerConfig::default());
    let analyzed: Vec<(u64, Vec<String>)> = docs.iter().map(|(k, t)| (*k, a.terms(t))).collect();
    let with_field: Vec<&(u64, Vec<String>)> =
        analyzed.iter().filter(|(_, t)| !t.is_empty()).collect();
    let n = with_field.len() as f64;
    let avgdl = with_field.iter().map(|(_, t)| t.len() as f64).sum::<f64>() / n;
    let mut qtf: BTreeMap<String, f64> = BTreeMap::new();
    for t in a.terms(query) {
        *qtf.entry(t).or_default() += 1.0;
    }
    let (k1, b) = (0.9, 0.4);
    let mut out = Vec::new();
    for (key, terms) in &analyzed {
        let dl = terms.len() as f64;
        let mut s = 0.0;
        let mut hit = false;
        for (qt, w) in &qtf {
            let tf = terms.iter().filter(|t| *t == qt).count() as f64;
            if tf == 0.0 {
                continue;
            }
            hit = true;
            let df = analyzed.iter().filter(|(_, t)| t.contains(qt)).count() as f64;
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            s += w * idf * tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * dl / avgdl));
        }
        if hit {
            out.push((*key, s));
        }
    }
    out.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
    out
}

#[test]
fn bm25_matches_a_hand_computed_reference() {
    let docs: Vec<(u64, String)> = [
        "The quick brown fox jumps over the lazy dog",
        "A quick brown dog outpaces a quick red fox",
        "Foxes are quick; dogs are lazy. The fox's den is brown.",
        "Nothing to see here",
        "brown brown brown bears",
        "",
        "Quick thinking: the fox escaped the hounds and the hunters",
    ]
    .iter()
    .enumerate()
    .map(|(i, t)| (i as u64, t.to_string()))
    .collect();
    let (_d, mut index) = mem_index(body_schema());
    add_all(&mut index, &docs);
    for query in [
        "quick brown fox",
        "lazy dogs",
        "fox fox den",
        "bears",
        "zebra",
    ] {
        let want = reference_bm25(&docs, query);
        for algo in [
            Algorithm::Exhaustive,
            Algorithm::MaxScore,
            Algorithm::BlockMaxWand,
            Algorithm::TermAtATime,
        ] {
            let got = search(&index, query, 10, algo);
            assert_eq!(got.len(), want.len(), "{query}: {got:?} vs {want:?}");
            for (g, (k, s)) in got.iter().zip(&want) {
                assert_eq!(g.key, Key::U64(*k), "{query}: {got:?} vs {want:?}");
                assert!(
                    (f64::from(g.score) - s).abs() <= 1e-5 * s.abs().max(1.0),
                    "{query}: doc {k} scored {} want {s}",
                    g.score
                );
            }
        }
    }
}

/// `docs` in a shuffled order (Fisher–Yates driven by `seed`), so row order within a segment is
/// not key order.
fn shuffled<T: Clone>(docs: &[T], seed: u64) -> Vec<T> {
    let mut rng = Rng(seed);
    let mut out = docs.to_vec();
    for i in (1..out.len()).rev() {
        out.swap(i, rng.below(i as u64 + 1) as usize);
    }
    out
}

const ALL_ALGORITHMS: [Algorithm; 5] = [
    Algorithm::Auto,
    Algorithm::Exhaustive,
    Algorithm::MaxScore,
    Algorithm::BlockMaxWand,
    Algorithm::TermAtATime,
];

#[test]
fn scores_do_not_depend_on_segmentation_deletes_or_merges() {
    let docs = corpus(7, 600, 120, 30);
    // Keys go in shuffled (and differently shuffled) orders: within a segment, rows are not in
    // key order, so a tie broken by row instead of key would show.
    let (_a, mut one) = mem_index(body_schema());
    add_all(&mut one, &shuffled(&docs, 1));
    let (_b, mut many) = mem_index(body_schema());
    for chunk in shuffled(&docs, 2).chunks(90) {
        add_all(&mut many, chunk);
    }
    // Extra documents added and deleted again leave the live set (and the statistics) equal.
    let extra = corpus(8, 50, 120, 30);
    let extra: Vec<(u64, String)> = extra.into_iter().map(|(k, t)| (k + 10_000, t)).collect();
    add_all(&mut many, &extra);
    let mut txn = many.begin();
    for (k, _) in &extra {
        assert!(txn.delete(&Key::U64(*k)).unwrap());
    }
    txn.commit().unwrap();
    assert!(many.snapshot().segments().len() > 1);
    let mut rng = Rng(3);
    // Short queries over a small vocabulary: many documents tie at the cut-off.
    let queries: Vec<String> = (0..30).map(|_| random_text(&mut rng, 120, 3)).collect();
    let mut ties_at_cut = 0;
    let mut check = |a: &Index, b: &Index, when: &str| {
        for q in &queries {
            let all = search(a, q, 1000, Algorithm::Exhaustive);
            for k in [1, 10, 50] {
                let x = search(a, q, k, Algorithm::Exhaustive);
                // The hits are the best k by (score descending, key ascending) of all matches.
                assert_eq!(
                    key_score(&x),
                    key_score(&all[..k.min(all.len())]),
                    "{q:?} k {k}"
                );
                ties_at_cut += usize::from(all.get(k).is_some_and(|h| h.score == all[k - 1].score));
                for algo in ALL_ALGORITHMS {
                    let y = search(b, q, k, algo);
                    assert_eq!(key_score(&x), key_score(&y), "{when} {algo:?}: {q:?} k {k}");
                }
            }
        }
    };
    check(&one, &many, "segmented");
    many.merge_all().unwrap();
    many.wait_for_merges();
    assert_eq!(many.snapshot().segments().len(), 1);
    check(&one, &many, "merged");
    assert!(
        ties_at_cut > 10,
        "only {ties_at_cut} queries tie at the cut-off"
    );
}

#[test]
fn sparse_ties_do_not_depend_on_insertion_order_or_segmentation() {
    // Impacts from a handful of values: many documents share a score.
    let mut rng = Rng(17);
    let docs: Vec<(u64, Vec<(String, f32)>)> = (0..400u64)
        .map(|k| {
            let terms = (0..1 + rng.below(4))
                .map(|_| (format!("s{}", rng.below(6)), (1 + rng.below(3)) as f32))
                .collect::<BTreeMap<_, _>>()
                .into_iter()
                .collect();
            (k, terms)
        })
        .collect();
    let schema = Schema::new(KeyKind::U64).with_sparse("s", 8);
    let build = |order: &[(u64, Vec<(String, f32)>)], chunk: usize| {
        let (d, mut index) = mem_index(schema.clone());
        for part in order.chunks(chunk) {
            let mut txn = index.begin();
            for (k, terms) in part {
                txn.add(Document::with_key(*k).with_sparse(terms.clone()))
                    .unwrap();
            }
            txn.commit().unwrap();
        }
        (d, index)
    };
    let (_a, one) = build(&docs, docs.len());
    let (_b, shuffled_one) = build(&shuffled(&docs, 4), docs.len());
    let (_c, mut many) = build(&shuffled(&docs, 5), 70);
    assert!(many.snapshot().segments().len() > 1);
    let queries: Vec<Vec<(String, f32)>> = (0..6)
        .map(|i| vec![(format!("s{i}"), 1.0)])
        .chain([vec![("s0".into(), 1.0), ("s1".into(), 1.0)]])
        .collect();
    let run = |index: &Index, q: &[(String, f32)], k: usize, algo: Algorithm| {
        let mut tq = TextQuery::sparse(q.to_vec(), k);
        tq.algorithm = algo;
        key_score(&index.snapshot().search_text(&tq).unwrap())
    };
    let check = |when: &str, many: &Index| {
        for q in &queries {
            for k in [1, 5, 20] {
                let want = run(&one, q, k, Algorithm::Exhaustive);
                for algo in ALL_ALGORITHMS {
                    assert_eq!(
                        run(&shuffled_one, q, k, algo),
                        want,
                        "shuffled {algo:?} {q:?}"
                    );
                    assert_eq!(run(many, q, k, algo), want, "{when} {algo:?} {q:?} k {k}");
                }
            }
        }
    };
    check("segmented", &many);
    many.merge_all().unwrap();
    many.wait_for_merges();
    check("merged", &many);
}

#[test]
fn pruned_traversal_equals_exhaustive_through_the_index() {
    // Long postings (hundreds of blocks for frequent terms) with a filter and deletes.
    let docs = corpus(11, 20_000, 400, 25);
    let (_d, mut index) = mem_index(body_schema());
    for chunk in docs.chunks(7_000) {
        add_all(&mut index, chunk);
    }
    let mut txn = index.begin();
    for k in (0..20_000u64).step_by(13) {
        txn.delete(&Key::U64(k)).unwrap();
    }
    txn.commit().unwrap();
    let snap = index.snapshot();
    let filter = snap.filter_keys(&(0..20_000u64).step_by(3).map(Key::U64).collect::<Vec<_>>());
    let mut rng = Rng(5);
    for i in 0..60 {
        let text = random_text(&mut rng, 400, 8);
        for k in [1, 10, 100] {
            let mut q = TextQuery::bm25(&text, k);
            if i % 4 == 0 {
                q.filter = Some(&filter);
            }
            let mut results = Vec::new();
            for algo in [
                Algorithm::Exhaustive,
                Algorithm::MaxScore,
                Algorithm::BlockMaxWand,
                Algorithm::TermAtATime,
            ] {
                q.algorithm = algo;
                results.push(key_score(&snap.search_text(&q).unwrap()));
            }
            assert_eq!(results[0], results[1], "maxscore: {text:?} k {k}");
            assert_eq!(results[0], results[2], "wand: {text:?} k {k}");
            assert_eq!(results[0], results[3], "term at a time: {text:?} k {k}");
            if q.filter.is_some() {
                for (key, _) in &results[0] {
                    let Key::U64(x) = key else { panic!() };
                    assert_eq!(x % 3, 0, "filtered-out key {x} returned");
                }
            }
            for (key, _) in &results[0] {
                let Key::U64(x) = key else { panic!() };
                assert_ne!(x % 13, 0, "deleted key {x} returned");
            }
        }
    }
}

#[test]
fn sparse_impacts_of_bm25_weights_rank_like_bm25() {
    let docs = corpus(21, 1500, 150, 30);
    // BM25 weight of each (doc, term), from the same statistics the BM25 path uses.
    let a = Analyzer::new(&AnalyzerConfig::default());
    let analyzed: Vec<Vec<String>> = docs.iter().map(|(_, t)| a.terms(t)).collect();
    let n = analyzed.iter().filter(|t| !t.is_empty()).count() as f64;
    let avgdl = analyzed.iter().map(|t| t.len() as f64).sum::<f64>() / n;
    let mut df: HashMap<&str, f64> = HashMap::new();
    for terms in &analyzed {
        let mut u: Vec<&str> = terms.iter().map(String::as_str).collect();
        u.sort_unstable();
        u.dedup();
        for t in u {
            *df.entry(t).or_default() += 1.0;
        }
    }
    let schema = body_schema().with_sparse("impacts", 16);
    let (_d, mut index) = mem_index(schema);
    let mut txn = index.begin();
    for ((k, text), terms) in docs.iter().zip(&analyzed) {
        let dl = terms.len() as f64;
        let mut tf: BTreeMap<&str, f64> = BTreeMap::new();
        for t in terms {
            *tf.entry(t).or_default() += 1.0;
        }
        let weights: Vec<(String, f32)> = tf
            .iter()
            .map(|(t, f)| {
                let d = df[t];
                let idf = (1.0 + (n - d + 0.5) / (d + 0.5)).ln();
                let w = idf * f * 1.9 / (f + 0.9 * (0.6 + 0.4 * dl / avgdl));
                (t.to_string(), w as f32)
            })
            .collect();
        txn.add(
            Document::with_key(*k)
                .with_text("body", text.clone())
                .with_sparse(weights),
        )
        .unwrap();
    }
    txn.commit().unwrap();
    let snap = index.snapshot();
    let max_w = 1.9 * (1.0 + n).ln(); // a bound on any weight
    let unit = max_w / 65_535.0;
    let mut rng = Rng(9);
    let mut identical = 0;
    for _ in 0..40 {
        let text = random_text(&mut rng, 150, 5);
        let bm25 = snap.search_text(&TextQuery::bm25(&text, 10)).unwrap();
        let mut qtf: BTreeMap<String, f32> = BTreeMap::new();
        for t in a.terms(&text) {
            *qtf.entry(t).or_default() += 1.0;
        }
        let err: f64 = qtf.values().map(|w| f64::from(*w) * unit).sum();
        let sparse = snap
            .search_text(&TextQuery::sparse(qtf.into_iter().collect(), 10))
            .unwrap();
        assert_eq!(bm25.len(), sparse.len(), "{text}");
        // Same ranking, except where BM25 scores are closer than the quantization error.
        let all = snap.search_text(&TextQuery::bm25(&text, 2000)).unwrap();
        let exact: HashMap<&Key, f64> = all.iter().map(|h| (&h.key, f64::from(h.score))).collect();
        for (b, s) in bm25.iter().zip(&sparse) {
            if b.key != s.key {
                let gap = (exact[&b.key] - exact[&s.key]).abs();
                assert!(
                    gap <= 2.0 * err,
                    "{text}: {} vs {} differ by {gap}",
                    b.key,
                    s.key
                );
            }
        }
        identical += usize::from(bm25.iter().zip(&sparse).all(|(b, s)| b.key == s.key));
    }
    assert!(identical >= 35, "only {identical}/40 rankings identical");
}

#[test]
fn stored_text_filters_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Schema::new(KeyKind::Str)
        .with_text("title", AnalyzerConfig::default(), true)
        .with_text("tags", AnalyzerConfig::default(), false);
    let mut index = Index::create(dir.path(), schema).unwrap();
    let mut txn = index.begin();
    for i in 0..300u64 {
        let tag = if i % 2 == 0 { "even" } else { "odd" };
        txn.add(
            Document::with_key(format!("d{i}"))
                .with_text("title", format!("document number {i} about cats"))
                .with_text("tags", tag),
        )
        .unwrap();
    }
    txn.commit().unwrap();
    drop(index);
    let reader = Reader::open(dir.path()).unwrap();
    let snap = reader.snapshot();
    let hits = snap.search_text(&TextQuery::bm25("cats 17", 5)).unwrap();
    assert_eq!(hits.first().map(|h| h.key.clone()), Some(Key::from("d17")));
    let stored = snap.stored_text(&hits[0]).unwrap();
    assert_eq!(
        stored,
        vec![(
            "title".to_owned(),
            "document number 17 about cats".to_owned()
        )]
    );
    let even = snap.filter_term("tags", "even").unwrap();
    assert_eq!(even.len(), 150);
    let mut q = TextQuery::bm25("cats", 300);
    q.filter = Some(&even);
    let hits = snap.search_text(&q).unwrap();
    assert_eq!(hits.len(), 150);
    let keys = snap.filter_keys(&[Key::from("d3"), Key::from("d4"), Key::from("nope")]);
    let both = keys.and(&even);
    q.filter = Some(&both);
    let hits = snap.search_text(&q).unwrap();
    assert_eq!(
        hits.iter().map(|h| h.key.clone()).collect::<Vec<_>>(),
        vec![Key::from("d4")]
    );
}

#[test]
fn bad_documents_and_queries_are_typed_errors() {
    let (_d, mut index) = mem_index(body_schema());
    let mut txn = index.begin();
    let e = txn
        .add(Document::with_key(1u64).with_text("nope", "x"))
        .unwrap_err();
    assert!(matches!(e, Error::Input { .. }), "{e}");
    let e = txn
        .add(Document::with_key(2u64).with_sparse(vec![("a".into(), 1.0)]))
        .unwrap_err();
    assert!(matches!(e, Error::Input { .. }), "{e}");
    let e = txn.add(Document::new(3u64, vec![1.0f32])).unwrap_err();
    assert!(matches!(e, Error::Input { .. }), "{e}");
    txn.add(Document::with_key(4u64).with_text("body", "fine"))
        .unwrap();
    txn.commit().unwrap();
    let snap = index.snapshot();
    let e = snap
        .search_text(&TextQuery::sparse(vec![("a".into(), 1.0)], 3))
        .unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    let mut q = TextQuery::bm25("fine", 3);
    q.fields = vec!["title".into()];
    assert!(snap.search_text(&q).is_err());
    assert!(
        snap.search(&[1.0], 3).is_err(),
        "dense search on a text-only index"
    );
    let (_d, mut sparse) = mem_index(Schema::new(KeyKind::U64).with_sparse("s", 8));
    let mut txn = sparse.begin();
    for w in [-1.0f32, f32::NAN, f32::INFINITY] {
        let e = txn
            .add(Document::with_key(1u64).with_sparse(vec![("a".into(), w)]))
            .unwrap_err();
        assert!(matches!(e, Error::Input { .. }), "{e}");
    }
}

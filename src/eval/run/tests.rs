//! `evaluate` on tiny BEIR folders whose rankings and metrics are worked out by hand.

use super::*;
use std::path::Path;

/// A BEIR folder of four documents and three queries; the qrels judge q1 (doc a) and q2
/// (doc c, grade 2, and doc d, grade 1); q3 is unjudged and so not evaluated.
fn write_beir(dir: &Path) {
    std::fs::create_dir_all(dir.join("qrels")).unwrap();
    std::fs::write(
        dir.join("corpus.jsonl"),
        "{\"_id\": \"a\", \"title\": \"Cats\", \"text\": \"cats purr and sleep\"}\n\
         {\"_id\": \"b\", \"title\": \"Dogs\", \"text\": \"dogs bark at night\"}\n\
         {\"_id\": \"c\", \"title\": \"Birds\", \"text\": \"birds sing songs\"}\n\
         {\"_id\": \"d\", \"title\": \"Fish\", \"text\": \"fish swim in rivers\"}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("queries.jsonl"),
        "{\"_id\": \"q1\", \"text\": \"purring cats\"}\n\
         {\"_id\": \"q2\", \"text\": \"singing birds\"}\n\
         {\"_id\": \"q3\", \"text\": \"dogs\"}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("qrels/test.tsv"),
        "query-id\tcorpus-id\tscore\nq1\ta\t1\nq2\tc\t2\nq2\td\t1\n",
    )
    .unwrap();
}

fn ids(hits: &[(String, f32)]) -> Vec<&str> {
    hits.iter().map(|h| h.0.as_str()).collect()
}

#[test]
fn bm25_on_a_tiny_folder_scores_as_computed_by_hand() {
    let tmp = tempfile::tempdir().unwrap();
    let beir = tmp.path().join("tiny");
    write_beir(&beir);
    let run_file = tmp.path().join("run.txt");
    let cfg = EvalConfig {
        k: 10,
        run_out: Some(run_file.clone()),
        check_exhaustive: true,
        ..EvalConfig::new(&beir)
    };
    let report = evaluate(&cfg).unwrap();
    assert!(report.notes().is_empty(), "{:?}", report.notes());

    // Only the judged queries run; each matches exactly one document, its relevant one.
    let run = report.run();
    let qids: Vec<&str> = run.iter().map(|(q, _)| q.as_str()).collect();
    assert_eq!(qids, ["q1", "q2"]);
    assert_eq!(ids(&run[0].1), ["a"]);
    assert_eq!(ids(&run[1].1), ["c"]);
    assert!(run.iter().all(|(_, h)| h[0].1 > 0.0));

    // q1: a at rank 1, ideal [1] -> nDCG 1, MRR 1, recall 1.
    // q2: c (grade 2) at rank 1, d (grade 1) not found: DCG = 2 / log2(2) = 2, ideal DCG =
    // 2 + 1 / log2(3); recall 1/2, MRR 1.
    let q2_ndcg = 2.0 / (2.0 + 1.0 / 3f64.log2());
    let round = |x: f64| (x * 1e4).round() / 1e4;
    let ndcg = round((1.0 + q2_ndcg) / 2.0);
    assert_eq!(report.ndcg_at_10(), Some(ndcg));
    assert_eq!(report.ndcg_at_10(), Some(0.8801));
    assert_eq!(report.mrr_at_10(), Some(1.0));
    assert_eq!(report.recall_at_k(), Some(0.75));

    let v = report.to_json();
    assert_eq!(v["ndcg_at_10"], ndcg);
    assert_eq!(v["mrr_at_10"], 1.0);
    assert_eq!(v["recall_at_10"], 0.75);
    assert_eq!(v["queries"], 2);
    assert_eq!(v["n_docs"], 4);
    assert_eq!(v["mode"], "bm25");
    assert_eq!(v["dataset"], "tiny");
    assert_eq!(v["sources"], json!(["text"]));
    assert_eq!(v["fusion"], Value::Null);
    assert_eq!(v["fields"], "flat");
    assert_eq!(v["algorithm"], "auto");
    assert_eq!(v["pruned_vs_exhaustive_mismatches"], 0);
    assert!(
        v.get("nlist").is_none() && v.get("impact_bits").is_none(),
        "{v}"
    );

    let text = std::fs::read_to_string(&run_file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("q1 Q0 a 1 "), "{text}");
    assert!(lines[1].starts_with("q2 Q0 c 1 "), "{text}");
}

#[test]
fn without_qrels_every_query_is_timed_and_a_note_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let beir = tmp.path().join("tiny");
    write_beir(&beir);
    let cfg = EvalConfig {
        split: "dev".to_owned(),
        ..EvalConfig::new(&beir)
    };
    // Twice in one process: each evaluation gets its own temporary directory.
    for _ in 0..2 {
        let report = evaluate(&cfg).unwrap();
        assert_eq!(report.run().len(), 3);
        assert_eq!(report.ndcg_at_10(), None);
        assert_eq!(report.to_json()["recall_at_100"], Value::Null);
        assert_eq!(report.notes().len(), 1);
        assert!(
            report.notes()[0].contains("dev.tsv"),
            "{:?}",
            report.notes()
        );
    }
}

#[test]
fn a_query_that_is_also_a_document_does_not_find_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let beir = tmp.path().join("tiny");
    write_beir(&beir);
    // q1 is also a document about cats, ranked above a; BEIR drops it from q1's hits.
    let corpus = std::fs::read_to_string(beir.join("corpus.jsonl")).unwrap();
    let extra = "{\"_id\": \"q1\", \"title\": \"\", \"text\": \"purring cats purring cats\"}\n";
    std::fs::write(beir.join("corpus.jsonl"), corpus + extra).unwrap();
    let index = tmp.path().join("index");
    let cfg = EvalConfig {
        dir: Some(index.clone()),
        ..EvalConfig::new(&beir)
    };
    let report = evaluate(&cfg).unwrap();
    assert_eq!(ids(&report.run()[0].1), ["a"]);
    assert_eq!(report.to_json()["n_docs"], 5);
    // A directory the caller named is kept.
    assert!(std::fs::read_dir(&index).unwrap().count() > 0);
}

#[test]
fn bad_configurations_are_invalid_arguments() {
    let beir = Path::new("/nonexistent/beir");
    let invalid = |cfg: EvalConfig, expected: &str| match evaluate(&cfg) {
        Err(Error::InvalidArgument(m)) => assert!(m.contains(expected), "{m}"),
        other => panic!("expected InvalidArgument({expected}), got {other:?}"),
    };
    invalid(
        EvalConfig {
            k: 0,
            ..EvalConfig::new(beir)
        },
        "k (--k)",
    );
    invalid(
        EvalConfig {
            mode: EvalMode::Sparse,
            prf: true,
            ..EvalConfig::new(beir)
        },
        "no feedback",
    );
    invalid(
        EvalConfig {
            mode: EvalMode::Dense,
            ..EvalConfig::new(beir)
        },
        "doc_vectors, doc_ids, query_vectors and query_ids (--doc-vectors",
    );
    invalid(
        EvalConfig {
            mode: EvalMode::Hybrid,
            doc_vectors: Some("v.npy".into()),
            ..EvalConfig::new(beir)
        },
        "all four",
    );
    invalid(
        EvalConfig {
            mode: EvalMode::Sparse,
            ..EvalConfig::new(beir)
        },
        "--doc-sparse",
    );
    invalid(
        EvalConfig {
            mode: EvalMode::Hybrid,
            query_sparse: Some("q.jsonl".into()),
            ..EvalConfig::new(beir)
        },
        "both",
    );
    invalid(
        EvalConfig {
            tune: true,
            ..EvalConfig::new(beir)
        },
        "tune (--tune)",
    );
    invalid(
        EvalConfig {
            mode: EvalMode::Dense,
            cutoff: true,
            doc_vectors: Some("v.npy".into()),
            doc_ids: Some("i.txt".into()),
            query_vectors: Some("q.npy".into()),
            query_ids: Some("qi.txt".into()),
            ..EvalConfig::new(beir)
        },
        "--train-query-vectors",
    );
    invalid(
        EvalConfig {
            cutoff: true,
            train_split: "test".into(),
            ..EvalConfig::new(beir)
        },
        "must differ",
    );
    // Signal files a mode does not use are ignored; the missing folder is then the error.
    let cfg = EvalConfig {
        doc_vectors: Some("v.npy".into()),
        ..EvalConfig::new(beir)
    };
    assert!(cfg.validate().is_ok());
    assert!(matches!(evaluate(&cfg), Err(Error::Io { .. })));
}

#[test]
fn a_document_without_a_sparse_vector_is_an_input_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let beir = tmp.path().join("tiny");
    write_beir(&beir);
    let (docs, queries) = (tmp.path().join("d.jsonl"), tmp.path().join("q.jsonl"));
    std::fs::write(&docs, "{\"_id\": \"a\", \"sparse\": {\"cat\": 1.0}}\n").unwrap();
    std::fs::write(&queries, "{\"_id\": \"q1\", \"sparse\": {\"cat\": 1.0}}\n").unwrap();
    let cfg = EvalConfig {
        mode: EvalMode::Sparse,
        doc_sparse: Some(docs.clone()),
        query_sparse: Some(queries),
        ..EvalConfig::new(&beir)
    };
    match evaluate(&cfg) {
        Err(Error::Input { file, row, what }) => {
            assert_eq!(file, Error::path_string(&docs));
            assert_eq!(row, None);
            assert!(what.contains("document b"), "{what}");
        }
        other => panic!("expected an input error, got {other:?}"),
    }
}

/// `--cutoff` on BM25: fitted on the train split (q3, relevant b), reported on the test split
/// with both baselines; the index has no model to store it in, so it is applied in memory.
#[test]
fn a_cutoff_is_fitted_on_train_and_reported_on_test() {
    let tmp = tempfile::tempdir().unwrap();
    write_beir(tmp.path());
    std::fs::write(
        tmp.path().join("qrels/train.tsv"),
        "query-id\tcorpus-id\tscore\nq3\tb\t1\n",
    )
    .unwrap();
    let report = evaluate(&EvalConfig {
        cutoff: true,
        ..EvalConfig::new(tmp.path())
    })
    .unwrap();
    let j = report.to_json();
    for field in [
        "cutoff_precision",
        "cutoff_recall",
        "cutoff_f1",
        "cutoff_mean_returned",
        "fixed_k",
        "fixed_k_f1",
        "raw_threshold_f1",
    ] {
        assert!(j.get(field).is_some_and(|v| v.is_number()), "{field}: {j}");
    }
    assert_eq!(j["cutoff_train_queries"], 1);
    assert_eq!(j["cutoff_stored"], false);
    // Each test query's best hit is relevant; at least one hit is always kept.
    assert!(j["cutoff_mean_returned"].as_f64().unwrap() >= 1.0);
    assert!(j["cutoff_precision"].as_f64().unwrap() > 0.0);
}

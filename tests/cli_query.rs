//! `strata search` with fused sources, pages and JSON output, and `strata eval` in its dense,
//! sparse and hybrid modes, each run as a separate process on small inputs written here.

use serde_json::Value;
use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};
use strata::input::write_npy_f32;

fn strata<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .output()
        .expect("run the strata binary")
}

fn ok<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let o = strata(args);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert!(
        o.status.success(),
        "exit {:?}\n{out}\n{err}",
        o.status.code()
    );
    out
}

/// Runs `args`, asserts exit `code` and one clean error line; returns stderr.
fn fails<I, S>(code: i32, args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let o = strata(args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(code), "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn p(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

fn json(line: &str) -> Value {
    serde_json::from_str(line.trim()).expect("one JSON object")
}

/// Six documents with a title, a text, a 4-d vector and sparse terms.
const DOCS: [(&str, &str, &str, [f32; 4], &str); 6] = [
    (
        "a",
        "Cats",
        "cats purr and sleep",
        [1.0, 0.0, 0.0, 0.0],
        r#"{"cat": 2.0, "purr": 1.0}"#,
    ),
    (
        "b",
        "Dogs",
        "dogs bark at cats",
        [0.0, 1.0, 0.0, 0.0],
        r#"{"dog": 2.0, "cat": 0.5}"#,
    ),
    (
        "c",
        "Birds",
        "birds sing at dawn",
        [0.0, 0.0, 1.0, 0.0],
        r#"{"bird": 2.0}"#,
    ),
    (
        "d",
        "Fish",
        "fish swim",
        [0.0, 0.0, 0.0, 1.0],
        r#"{"fish": 1.5}"#,
    ),
    (
        "e",
        "Kittens",
        "young cats play",
        [0.9, 0.1, 0.0, 0.0],
        r#"{"cat": 1.0, "play": 1.0}"#,
    ),
    (
        "f",
        "Wolves",
        "wolves howl like dogs",
        [0.1, 0.9, 0.0, 0.0],
        r#"{"dog": 1.0}"#,
    ),
];

fn write_docs(path: &Path) {
    let mut s = String::new();
    for (id, title, text, v, sparse) in DOCS {
        s.push_str(&format!(
            "{{\"_id\": \"{id}\", \"title\": \"{title}\", \"text\": \"{text}\", \"vector\": {v:?}, \"sparse\": {sparse}}}\n"
        ));
    }
    std::fs::write(path, s).unwrap();
}

fn make_index(dir: &Path, docs: &Path) {
    ok([
        "create",
        p(dir),
        "--dim",
        "4",
        "--metric",
        "dot",
        "--key",
        "string",
        "--text",
        "title,text",
        "--store",
        "--sparse",
        "sparse",
    ]);
    write_docs(docs);
    ok(["ingest", p(dir), "--jsonl", p(docs)]);
}

fn hits(v: &Value) -> &Vec<Value> {
    v["hits"].as_array().expect("hits")
}

fn keys(v: &Value) -> Vec<String> {
    hits(v)
        .iter()
        .map(|h| h["key"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn search_fuses_text_vector_and_sparse_and_pages() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, docs) = (tmp.path().join("idx"), tmp.path().join("docs.jsonl"));
    make_index(&dir, &docs);
    let q = tmp.path().join("q.npy");
    write_npy_f32(&q, 1, 4, &[0.8, 0.2, 0.0, 0.0]).unwrap();

    // Text alone: text lines as before, the stored title last.
    let out = ok(["search", p(&dir), "--text", "cats", "--k", "5"]);
    assert!(out.lines().next().unwrap().ends_with("Cats"), "{out}");

    // All three sources, RRF: every fused score is Σ 1/(60 + rank) over the sources that
    // returned the hit, and the stored fields come with it.
    let args = |extra: &[&str]| {
        let mut a = vec![
            "search".to_owned(),
            p(&dir).to_owned(),
            "--query".into(),
            p(&q).into(),
            "--text".into(),
            "cats dogs".into(),
            "--sparse".into(),
            r#"{"cat": 1.0, "dog": 0.5}"#.into(),
            "--json".into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let all = json(&ok(args(&["--k", "10"])));
    assert_eq!(all["fusion"], "rrf");
    assert_eq!(
        hits(&all).len(),
        6,
        "the dense source returns every document"
    );
    assert_eq!(all["fewer_than_limit"], true);
    for h in hits(&all) {
        let mut want = 0.0f64;
        for s in ["dense", "text", "sparse"] {
            if let Some(r) = h["sources"][s]["rank"].as_u64() {
                want += 1.0 / (60.0 + r as f64);
            }
        }
        let got = h["score"].as_f64().unwrap();
        assert!((got - want).abs() < 1e-6, "{h}");
        assert!(h["fields"]["title"].is_string(), "{h}");
    }
    assert_eq!(hits(&all)[0]["key"], "a", "{all}");
    for w in hits(&all).windows(2) {
        assert!(w[0]["score"].as_f64() >= w[1]["score"].as_f64(), "{all}");
    }

    // Pages of two concatenate to the full list.
    let mut paged = Vec::new();
    for offset in ["0", "2", "4"] {
        let page = json(&ok(args(&["--k", "2", "--offset", offset])));
        assert_eq!(page["fewer_than_limit"], false);
        paged.extend(keys(&page));
    }
    assert_eq!(paged, keys(&all));
    let tail = json(&ok(args(&["--k", "2", "--offset", "5"])));
    assert_eq!(keys(&tail).len(), 1);
    assert_eq!(tail["fewer_than_limit"], true);
    assert_eq!(hits(&tail)[0]["rank"], 6);

    // Every fusion method answers; a sparse file equals --sparse.
    for f in ["convex", "zscore", "dbsf"] {
        let v = json(&ok(args(&["--fusion", f])));
        assert_eq!(hits(&v).len(), 6, "{f}");
    }
    let sparse_file = tmp.path().join("q.json");
    std::fs::write(
        &sparse_file,
        r#"{"_id": "q", "sparse": {"cat": 1.0, "dog": 0.5}}"#,
    )
    .unwrap();
    let from_file = json(&ok([
        "search",
        p(&dir),
        "--sparse-file",
        p(&sparse_file),
        "--json",
    ]));
    let inline = json(&ok([
        "search",
        p(&dir),
        "--sparse",
        r#"{"cat": 1.0, "dog": 0.5}"#,
        "--json",
    ]));
    assert_eq!(keys(&from_file), keys(&inline));
    assert_eq!(inline["fusion"], Value::Null, "one source is not fused");
    assert_eq!(keys(&inline), ["a", "b", "e", "f"]);
}

#[test]
fn search_refuses_bad_input_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, docs) = (tmp.path().join("idx"), tmp.path().join("docs.jsonl"));
    make_index(&dir, &docs);
    let err = fails(2, ["search", p(&dir)]);
    assert!(err.contains("--text"), "{err}");
    let err = fails(1, ["search", p(&dir), "--sparse", "{not json"]);
    assert!(err.contains("--sparse"), "{err}");
    let err = fails(1, ["search", p(&dir), "--sparse", r#"{"cat": -1}"#]);
    assert!(err.contains("cat"), "{err}");
    fails(2, ["search", p(&dir), "--text", "x", "--fusion", "magic"]);
    let q = tmp.path().join("q3.npy");
    write_npy_f32(&q, 1, 3, &[1.0, 0.0, 0.0]).unwrap();
    let err = fails(1, ["search", p(&dir), "--query", p(&q)]);
    assert!(err.contains("dimension 3"), "{err}");
    let plain = tmp.path().join("plain");
    ok(["create", p(&plain), "--dim", "4"]);
    let err = fails(1, ["search", p(&plain), "--sparse", r#"{"cat": 1}"#]);
    assert!(err.contains("no sparse field"), "{err}");
}

/// A BEIR folder whose query i is about document i, with vectors and sparse files that make
/// every mode find it first.
fn beir(dir: &Path) {
    std::fs::create_dir_all(dir.join("qrels")).unwrap();
    let mut corpus = String::new();
    let mut ids = String::new();
    let mut dsparse = String::new();
    let mut vecs = Vec::new();
    for (id, title, text, v, sparse) in DOCS {
        corpus.push_str(&format!(
            "{{\"_id\": \"{id}\", \"title\": \"{title}\", \"text\": \"{text}\"}}\n"
        ));
        ids.push_str(&format!("{id}\n"));
        dsparse.push_str(&format!("{{\"_id\": \"{id}\", \"sparse\": {sparse}}}\n"));
        vecs.extend_from_slice(&v);
    }
    std::fs::write(dir.join("corpus.jsonl"), corpus).unwrap();
    std::fs::write(dir.join("doc_ids.txt"), &ids).unwrap();
    std::fs::write(dir.join("docs.sparse.jsonl"), dsparse).unwrap();
    write_npy_f32(&dir.join("docs.npy"), 6, 4, &vecs).unwrap();
    std::fs::write(
        dir.join("queries.jsonl"),
        "{\"_id\": \"q1\", \"text\": \"purring cats\"}\n{\"_id\": \"q2\", \"text\": \"singing birds\"}\n",
    )
    .unwrap();
    std::fs::write(dir.join("query_ids.txt"), "q1\nq2\n").unwrap();
    write_npy_f32(
        &dir.join("queries.npy"),
        2,
        4,
        &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0],
    )
    .unwrap();
    std::fs::write(
        dir.join("queries.sparse.jsonl"),
        "{\"_id\": \"q1\", \"sparse\": {\"purr\": 1.0}}\n{\"_id\": \"q2\", \"sparse\": {\"bird\": 1.0}}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("qrels/test.tsv"),
        "query-id\tcorpus-id\tscore\nq1\ta\t1\nq2\tc\t1\n",
    )
    .unwrap();
}

#[test]
fn eval_runs_dense_sparse_and_hybrid_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let b = tmp.path().join("beir");
    beir(&b);
    let f = |name: &str| b.join(name).to_str().unwrap().to_owned();
    let dense = [
        "--doc-vectors".to_owned(),
        f("docs.npy"),
        "--doc-ids".into(),
        f("doc_ids.txt"),
        "--query-vectors".into(),
        f("queries.npy"),
        "--query-ids".into(),
        f("query_ids.txt"),
    ];
    let sparse = [
        "--doc-sparse".to_owned(),
        f("docs.sparse.jsonl"),
        "--query-sparse".into(),
        f("queries.sparse.jsonl"),
    ];
    let run = |mode: &str, extra: &[&[String]], more: &[&str]| {
        let mut a: Vec<String> = vec!["eval".into(), "--beir".into(), p(&b).into()];
        a.extend(["--mode".into(), mode.into(), "--k".into(), "10".into()]);
        for e in extra {
            a.extend(e.iter().cloned());
        }
        a.extend(more.iter().map(|s| s.to_string()));
        json(&ok(a))
    };
    for (mode, extra, sources) in [
        ("dense", vec![&dense[..]], vec!["dense"]),
        ("sparse", vec![&sparse[..]], vec!["sparse"]),
        (
            "hybrid",
            vec![&dense[..], &sparse[..]],
            vec!["dense", "text", "sparse"],
        ),
        ("hybrid", vec![&sparse[..]], vec!["text", "sparse"]),
    ] {
        for more in [&[][..], &["--exact"][..], &["--fusion", "dbsf"][..]] {
            let v = run(mode, &extra, more);
            assert_eq!(v["mode"], mode, "{v}");
            assert_eq!(v["queries"], 2, "{v}");
            assert_eq!(v["ndcg_at_10"], 1.0, "{mode} {more:?}: {v}");
            assert_eq!(v["recall_at_10"], 1.0, "{v}");
            assert_eq!(v["mrr_at_10"], 1.0, "{v}");
            let got: Vec<&str> = v["sources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap())
                .collect();
            assert_eq!(got, sources, "{v}");
            let fused = sources.len() > 1;
            assert_eq!(v["fusion"].is_string(), fused, "{v}");
            for key in ["mean_ms", "p50_ms", "p99_ms", "build_s"] {
                assert!(v[key].as_f64().is_some(), "{key}: {v}");
            }
        }
    }
    // The run file of a hybrid run ranks the judged document first.
    let run_file = tmp.path().join("run.txt");
    let mut a: Vec<String> = vec!["eval".into(), "--beir".into(), p(&b).into()];
    a.extend(["--mode".into(), "hybrid".into(), "--run-out".into()]);
    a.push(p(&run_file).into());
    a.extend(sparse.iter().cloned());
    ok(a);
    let text = std::fs::read_to_string(&run_file).unwrap();
    assert!(text.starts_with("q1 Q0 a 1 "), "{text}");

    // Missing inputs and unbuilt features are usage errors.
    let beir_dir = p(&b).to_owned();
    let err = fails(2, ["eval", "--beir", &beir_dir, "--mode", "dense"]);
    assert!(err.contains("--doc-vectors"), "{err}");
    let err = fails(2, ["eval", "--beir", &beir_dir, "--mode", "sparse"]);
    assert!(err.contains("--doc-sparse"), "{err}");
    let err = fails(
        2,
        ["eval", "--beir", &beir_dir, "--mode", "sparse", "--prf"],
    );
    assert!(err.contains("sparse source has no feedback"), "{err}");
    // RM3 on the BM25 source: the judged documents are still found first.
    let v = run("bm25", &[], &["--prf"]);
    assert_eq!(v["ndcg_at_10"], 1.0, "{v}");
    assert_eq!(v["rm3"]["docs"], 10, "{v}");
    // Rocchio feedback on the dense source: the judged document is still found first.
    let v = run("dense", &[&dense[..]], &["--prf", "--exact"]);
    assert_eq!(v["ndcg_at_10"], 1.0, "{v}");
    assert_eq!(v["prf_docs"], 3, "{v}");

    // A document missing from the sparse file is an error naming it.
    let partial = tmp.path().join("partial.sparse.jsonl");
    std::fs::write(&partial, "{\"_id\": \"a\", \"sparse\": {\"cat\": 1.0}}\n").unwrap();
    let mut a: Vec<String> = vec!["eval".into(), "--beir".into(), beir_dir.clone()];
    a.extend(["--mode".into(), "sparse".into(), "--doc-sparse".into()]);
    a.extend([
        p(&partial).to_owned(),
        "--query-sparse".into(),
        f("queries.sparse.jsonl"),
    ]);
    let err = fails(1, a);
    assert!(err.contains("document b"), "{err}");
    let mut a: Vec<String> = vec!["eval".into(), "--beir".into(), beir_dir.clone()];
    a.extend(["--mode".into(), "dense".into()]);
    a.extend(dense[..6].iter().cloned());
    fails(2, a);
}

#[test]
fn search_where_filters_every_source_and_prints_attributes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("idx");
    ok([
        "create",
        p(&dir),
        "--key",
        "string",
        "--text",
        "text",
        "--store",
        "--attr",
        "year:i64,lang:keyword",
    ]);
    let docs = tmp.path().join("docs.jsonl");
    let lines: String = [
        ("a", "cats purr", 2016, "en"),
        ("b", "cats sleep", 2012, "en"),
        ("c", "cats hunt", 2020, "de"),
        ("d", "cats play", 2019, "en"),
        ("e", "dogs bark", 2021, "en"),
    ]
    .iter()
    .map(|(id, text, year, lang)| {
        format!(
            "{{\"_id\": \"{id}\", \"text\": \"{text}\", \"year\": {year}, \"lang\": \"{lang}\"}}\n"
        )
    })
    .collect();
    std::fs::write(&docs, lines).unwrap();
    ok(["ingest", p(&dir), "--jsonl", p(&docs)]);
    let out = ok([
        "search",
        p(&dir),
        "--text",
        "cats",
        "--where",
        "year >= 2015 AND lang = 'en'",
        "--json",
    ]);
    let v = json(&out);
    let keys: Vec<&str> = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["key"].as_str().unwrap())
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ["a", "d"], "{out}");
    for h in v["hits"].as_array().unwrap() {
        assert_eq!(h["attributes"]["lang"], "en", "{out}");
        assert!(h["attributes"]["year"].as_i64().unwrap() >= 2015, "{out}");
    }
    assert_eq!(v["fewer_than_limit"], true, "{out}");
    let text = ok([
        "search",
        p(&dir),
        "--text",
        "cats",
        "--where",
        "lang = 'de'",
    ]);
    assert!(
        text.contains("c ") && text.contains("[year=2020 lang=de]"),
        "{text}"
    );
    let err = fails(
        1,
        [
            "search",
            p(&dir),
            "--text",
            "cats",
            "--where",
            "year >= AND",
        ],
    );
    assert!(
        err.contains("at byte 8") && err.contains("found 'AND'"),
        "{err}"
    );
    let err = fails(
        1,
        [
            "search",
            p(&dir),
            "--text",
            "cats",
            "--where",
            "colour = 'red'",
        ],
    );
    assert!(err.contains("colour"), "{err}");
}

#[test]
fn demo_tours_a_beir_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let b = tmp.path().join("beir");
    beir(&b);
    // The demo reads the layout of the shared SciFact folder: emb/ and sparse/*.jsonl.zst.
    std::fs::create_dir_all(b.join("emb")).unwrap();
    std::fs::create_dir_all(b.join("sparse")).unwrap();
    for (from, to) in [
        ("docs.npy", "emb/docs.npy"),
        ("doc_ids.txt", "emb/doc_ids.txt"),
        ("queries.npy", "emb/queries_test.npy"),
        ("query_ids.txt", "emb/query_ids_test.txt"),
    ] {
        std::fs::rename(b.join(from), b.join(to)).unwrap();
    }
    for (from, to) in [
        ("docs.sparse.jsonl", "sparse/docs.splade.jsonl.zst"),
        ("queries.sparse.jsonl", "sparse/queries.splade.jsonl.zst"),
    ] {
        let raw = std::fs::read(b.join(from)).unwrap();
        std::fs::write(b.join(to), zstd::encode_all(&raw[..], 3).unwrap()).unwrap();
    }
    let out = ok(["demo", "--beir", p(&b), "--queries", "2", "--k", "3"]);
    for line in [
        "6 documents of",
        "exact vector search: 2 queries",
        "recall@3 = 1.000",
        "IVF-PQ search",
        "BM25 search: 2 queries",
        "sparse search: 2 queries",
        "hybrid search (vector + BM25 + sparse, RRF): 2 queries",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }
    let err = fails(1, ["demo", "--beir", p(&tmp.path().join("nothing"))]);
    assert!(err.contains("nothing"), "{err}");
}

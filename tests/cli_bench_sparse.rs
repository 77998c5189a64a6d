//! `strata bench-sparse`: builds an index from JSON Lines sparse vectors, times every traversal,
//! and reports each one's hits as identical to exhaustive scoring; bad input is an error that
//! names the file and line. Timing figures are printed, never asserted.

use std::path::Path;
use std::process::{Command, Output};

fn strata(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .output()
        .expect("run strata")
}

/// A seeded corpus of `n` documents and `q` queries over a vocabulary of 40 pieces.
fn write_corpus(dir: &Path, n: usize, q: usize) -> (String, String) {
    let mut state = 17u64;
    let mut next = || strata::rng::splitmix64(&mut state);
    let mut vector = |terms: usize| {
        let mut members = Vec::new();
        for _ in 0..terms {
            let t = next() % 40;
            let w = 0.01 + (next() % 3000) as f64 / 1000.0;
            let m = format!("\"t{t}\": {w:.3}");
            if !members
                .iter()
                .any(|x: &String| x.starts_with(&format!("\"t{t}\"")))
            {
                members.push(m);
            }
        }
        members.join(", ")
    };
    let docs: String = (0..n)
        .map(|i| format!("{{\"_id\": \"d{i}\", \"sparse\": {{{}}}}}\n", vector(12)))
        .collect();
    let queries: String = (0..q)
        .map(|i| format!("{{\"_id\": \"q{i}\", \"sparse\": {{{}}}}}\n", vector(9)))
        .collect();
    let d = dir.join("docs.jsonl");
    let qs = dir.join("queries.jsonl");
    std::fs::write(&d, docs).unwrap();
    std::fs::write(&qs, queries).unwrap();
    (d.display().to_string(), qs.display().to_string())
}

#[test]
fn every_algorithm_equals_exhaustive() {
    let tmp = tempfile::tempdir().unwrap();
    let (docs, queries) = write_corpus(tmp.path(), 3000, 40);
    let index = tmp.path().join("index");
    for k in ["10", "100"] {
        let _ = std::fs::remove_dir_all(&index);
        let out = strata(&[
            "bench-sparse",
            "--docs",
            &docs,
            "--queries",
            &queries,
            "--k",
            k,
            "--repeat",
            "1",
            "--batch",
            "1000",
            "--dir",
            index.to_str().unwrap(),
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<serde_json::Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let names: Vec<&str> = lines
            .iter()
            .map(|l| l["algorithm"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["exhaustive", "taat", "maxscore", "bmw", "auto"]);
        for l in &lines {
            assert_eq!(l["n_docs"], 3000);
            assert_eq!(l["n_queries"], 40);
            assert_eq!(l["k"].as_u64().unwrap().to_string(), k);
            assert_eq!(l["same_as_exhaustive"], 40, "{l}");
            assert_eq!(l["differ_from_exhaustive"], 0, "{l}");
            assert!(l["mean_ms"].as_f64().unwrap() >= 0.0);
        }
    }
    // One algorithm only.
    let _ = std::fs::remove_dir_all(&index);
    let out = strata(&[
        "bench-sparse",
        "--docs",
        &docs,
        "--queries",
        &queries,
        "--algorithm",
        "taat",
        "--repeat",
        "1",
        "--dir",
        index.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1);
    assert!(stdout.contains("\"algorithm\":\"taat\""), "{stdout}");
}

#[test]
fn bad_input_names_the_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let (docs, queries) = write_corpus(tmp.path(), 10, 3);
    let bad = tmp.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"_id\": \"a\", \"sparse\": {\"x\": 1.0}}\n{\"_id\": \"b\", \"sparse\": {\"x\": -2}}\n",
    )
    .unwrap();
    let bad = bad.display().to_string();
    for (d, q) in [(&bad, &queries), (&docs, &bad)] {
        let out = strata(&["bench-sparse", "--docs", d, "--queries", q]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("bad.jsonl") && err.contains("line 2"), "{err}");
    }
    let out = strata(&[
        "bench-sparse",
        "--docs",
        &docs,
        "--queries",
        &queries,
        "--repeat",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

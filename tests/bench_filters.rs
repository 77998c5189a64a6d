//! `strata bench-ann` with filters, end to end on a small seeded set: one line per filter after
//! the unfiltered line, recall against the bench's own exact filtered top-10 (1.0 for exact
//! search), selectivity, under-filled queries, and clean errors for bad filters and attribute
//! files.

use serde_json::Value;
use std::process::Command;
use strata::input::{write_npy_f32, write_npy_i32};

fn vectors(seed: u64, rows: usize, dim: usize) -> Vec<f32> {
    let mut s = seed;
    (0..rows * dim)
        .map(|_| (strata::rng::splitmix64(&mut s) >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0)
        .collect()
}

#[test]
fn bench_ann_reports_filtered_recall_against_its_own_exact_top_10() {
    let tmp = tempfile::tempdir().unwrap();
    let (n, nq, dim) = (400usize, 15usize, 8usize);
    let base = vectors(1, n, dim);
    let queries = vectors(2, nq, dim);
    // Ground truth of the unfiltered line: exact L2 top-10 by brute force.
    let mut gt = Vec::new();
    for q in queries.chunks(dim) {
        let mut d: Vec<(f32, i32)> = base
            .chunks(dim)
            .enumerate()
            .map(|(i, v)| {
                (
                    q.iter().zip(v).map(|(a, b)| (a - b) * (a - b)).sum(),
                    i as i32,
                )
            })
            .collect();
        d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        gt.extend(d.iter().take(10).map(|x| x.1));
    }
    let (bf, qf, gf, af) = (
        tmp.path().join("base.npy"),
        tmp.path().join("q.npy"),
        tmp.path().join("gt.npy"),
        tmp.path().join("tag.txt"),
    );
    write_npy_f32(&bf, n, dim, &base).unwrap();
    write_npy_f32(&qf, nq, dim, &queries).unwrap();
    write_npy_i32(&gf, nq, 10, &gt).unwrap();
    let tag = |i: usize| {
        if i.is_multiple_of(50) {
            "r"
        } else {
            ["a", "b", "c"][i % 3]
        }
    };
    let tags: Vec<&str> = (0..n).map(tag).collect();
    std::fs::write(&af, tags.join("\n") + "\n").unwrap();
    let p = |x: &std::path::Path| x.to_str().unwrap().to_owned();
    let attr = format!("tag={}", p(&af));
    let common = [
        "bench-ann".to_owned(),
        "--base".into(),
        p(&bf),
        "--queries".into(),
        p(&qf),
        "--gt".into(),
        p(&gf),
        "--metric".into(),
        "l2".into(),
        "--min-time".into(),
        "0".into(),
        "--attr".into(),
        attr,
    ];
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(&common)
        .args(["--filter-fraction", "0.1,0.5"])
        .args(["--where", "tag = 'a'", "--where", "tag='r'"])
        .args(["--where", "tag IN ('b', 'c') AND NOT tag = 'c'"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6, "{stdout}");
    assert!(lines[0].get("filter").is_none());
    assert_eq!(lines[0]["recall_at_10"], 1.0);
    let passing_a = (0..n).filter(|&i| tag(i) == "a").count();
    let expect = [
        ("random 0.1 (seed 42)", 40usize),
        ("random 0.5 (seed 42)", 200),
        ("tag = 'a'", passing_a),
        ("tag='r'", 8),
        (
            "tag IN ('b', 'c') AND NOT tag = 'c'",
            (0..n).filter(|&i| tag(i) == "b").count(),
        ),
    ];
    for (j, (label, passing)) in lines[1..].iter().zip(expect) {
        assert_eq!(j["filter"], label, "{stdout}");
        let sel = j["filter_selectivity"].as_f64().unwrap();
        assert!(
            (sel - passing as f64 / n as f64).abs() < 1e-4,
            "{label}: {sel}"
        );
        assert_eq!(j["recall_at_10"], 1.0, "{label}: exact search");
        assert_eq!(j["passed_per_query"].as_f64(), Some(passing as f64));
        let under = if passing < 10 { nq } else { 0 };
        assert_eq!(j["underfilled_queries"], under, "{label}");
        assert!(j["qps"].as_f64().is_some_and(|q| q > 0.0));
    }

    // A filter that does not parse, an unknown attribute and a file of the wrong length are
    // errors naming what was wrong.
    let run = |extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_strata"))
            .args(&common)
            .args(extra)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["--where", "tag >"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("filter syntax error"), "{err}");
    let (code, err) = run(&["--where", "colour = 'a'"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("colour"), "{err}");
    std::fs::write(&af, "a\nb\n").unwrap();
    let (code, err) = run(&["--where", "tag = 'a'"]);
    assert_ne!(code, Some(0), "{err}");
    assert!(err.contains("2 lines, but the base has 400 rows"), "{err}");
    let (code, err) = run(&["--filter-fraction", "1.5"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("expected a fraction"), "{err}");
}

//! The `strata` command line end to end: every subcommand is run as a separate process on
//! small inputs written by the test, and checked by its output and exit code.

use serde_json::Value;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use strata::input::{write_ivecs, write_npy_f32, write_npy_i32};

/// splitmix64, for seeded test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        strata::rng::splitmix64(&mut self.0)
    }

    /// Uniform in [-1, 1).
    fn f32(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }

    fn vectors(&mut self, rows: usize, dim: usize) -> Vec<f32> {
        (0..rows * dim).map(|_| self.f32()).collect()
    }
}

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

/// Runs `args` with stdout a pipe that is read for `lines` lines and then closed, as
/// `strata ... | head -n LINES` does; returns the exit code and stderr.
fn run_reading_lines(args: &[&str], lines: usize) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the strata binary");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout is piped"));
    for _ in 0..lines {
        let mut line = String::new();
        reader.read_line(&mut line).expect("read a line");
    }
    drop(reader);
    let o = child.wait_with_output().expect("wait for strata");
    (o.status.code(), stderr(&o))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `args` and asserts it succeeded; returns stdout.
fn ok<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let o = strata(args);
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// Runs `args`, asserts it failed with `code` and printed one clean error; returns stderr.
fn fails<I, S>(code: i32, args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let o = strata(args);
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{err}",
        stdout(&o)
    );
    assert!(err.starts_with("error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn stats_json(dir: &Path) -> Value {
    let out = ok([OsStr::new("stats"), dir.as_os_str(), OsStr::new("--json")]);
    serde_json::from_str(out.trim()).expect("stats --json prints JSON")
}

fn p(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// Creates an l2 index of dimension `dim` at `dir`.
fn create(dir: &Path, dim: usize, extra: &[&str]) {
    let dim = dim.to_string();
    let mut args = vec!["create", p(dir), "--dim", &dim, "--metric", "l2"];
    args.extend_from_slice(extra);
    ok(args);
}

#[test]
fn demo_finds_the_exact_neighbours() {
    let out = ok(["demo", "--n", "1500", "--dim", "16", "--queries", "20"]);
    assert!(out.contains("recall@10 = 1.000"), "{out}");
    assert!(out.contains("first query, top 3"), "{out}");
    assert!(out.contains("QPS"), "{out}");
    // The tour: IVF-PQ against exact, BM25, sparse, and a filtered hybrid query.
    let ivf = out
        .lines()
        .skip_while(|l| !l.starts_with("IVF-PQ search"))
        .nth(1)
        .and_then(|l| l.trim().strip_prefix("recall@10 = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|r| r.parse::<f64>().ok())
        .expect("an IVF-PQ recall line");
    assert!(ivf > 0.5, "{out}");
    for line in ["BM25 search: 20 queries", "sparse search: 20 queries"] {
        assert!(out.contains(line), "{line}: {out}");
    }
    assert!(out.contains("every hit passes the filter"), "{out}");
    let temp = out
        .lines()
        .find_map(|l| l.strip_prefix("index: ")?.strip_suffix(" (temporary)"))
        .expect("the demo names its directory");
    assert!(!Path::new(temp).exists(), "{temp} was not removed");
}

#[test]
fn demo_keeps_its_index_with_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let out = ok([
        "demo",
        "--n",
        "800",
        "--dim",
        "12",
        "--queries",
        "10",
        "--k",
        "5",
        "--seed",
        "7",
        "--metric",
        "cosine",
        "--dir",
        p(&dir),
    ]);
    assert!(out.contains("recall@5 = 1.000"), "{out}");
    assert_eq!(stats_json(&dir)["live_docs"], 800);
    assert!(ok(["verify", p(&dir)]).starts_with("OK"));
}

#[test]
fn create_ingest_search_delete_stats_verify_merge() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, vecs) = (tmp.path().join("idx"), tmp.path().join("v.npy"));
    let data = Rng(1).vectors(100, 8);
    write_npy_f32(&vecs, 100, 8, &data).unwrap();
    create(&dir, 8, &[]);
    let err = fails(1, ["create", p(&dir), "--dim", "8"]);
    assert!(err.contains("already holds a strata index"), "{err}");

    let out = ok(["ingest", p(&dir), "--vectors", p(&vecs), "--batch", "30"]);
    assert!(out.contains("ingested 100 docs in 4 transactions"), "{out}");
    assert!(out.contains("docs/s"), "{out}");

    // Row 5 searched against itself: key 5 at distance 0.
    let out = ok([
        "search",
        p(&dir),
        "--query",
        p(&vecs),
        "--row",
        "5",
        "--k",
        "3",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[0], "1 5 0");
    let all = ok(["search", p(&dir), "--query", p(&vecs), "--all", "--k", "2"]);
    assert_eq!(all.lines().count(), 200);
    assert!(all.lines().any(|l| l == "42 1 42 0"), "{all}");

    // Ingesting the same rows again would repeat keys: refused before anything is written.
    let err = fails(1, ["ingest", p(&dir), "--vectors", p(&vecs)]);
    assert!(
        err.contains("row 0") && err.contains("already exists"),
        "{err}"
    );

    let out = ok(["delete", p(&dir), "5", "7", "1000"]);
    assert!(out.contains("deleted 2 of 3 keys"), "{out}");
    let out = ok([
        "search",
        p(&dir),
        "--query",
        p(&vecs),
        "--row",
        "5",
        "--k",
        "3",
    ]);
    assert!(
        out.lines().all(|l| l.split(' ').nth(1) != Some("5")),
        "{out}"
    );
    let err = fails(1, ["delete", p(&dir), "five"]);
    assert!(err.contains("'five'"), "{err}");

    let s = stats_json(&dir);
    assert_eq!(s["live_docs"], 98);
    assert_eq!(s["deleted_docs"], 2);
    assert_eq!(s["segments"].as_array().unwrap().len(), 4);
    assert_eq!(s["dim"], 8);
    assert_eq!(s["metric"], "l2");
    assert!(s["disk_bytes"].as_u64().unwrap() >= s["index_bytes"].as_u64().unwrap());
    assert!(s["mapped_bytes"].as_u64().unwrap() > 100 * 8 * 4);
    let seg0 = &s["segments"][0];
    assert_eq!(seg0["elem"], "f32");
    assert!(seg0["files"].as_array().unwrap().len() >= 2);
    let text = ok(["stats", p(&dir)]);
    assert!(text.contains("98 live, 2 deleted"), "{text}");

    let out = ok(["verify", p(&dir)]);
    assert!(out.starts_with("OK: generation"), "{out}");
    assert!(out.contains("no stray files"), "{out}");

    let out = ok(["merge", p(&dir)]);
    assert!(out.contains("merged 4 segments into 1"), "{out}");
    let s = stats_json(&dir);
    assert_eq!(s["live_docs"], 98);
    assert_eq!(s["deleted_docs"], 0);
    assert_eq!(s["segments"].as_array().unwrap().len(), 1);
    assert!(ok(["verify", p(&dir)]).starts_with("OK"));
    assert!(ok(["merge", p(&dir)]).contains("nothing to merge"));
    let out = ok([
        "search",
        p(&dir),
        "--query",
        p(&vecs),
        "--row",
        "9",
        "--k",
        "1",
    ]);
    assert_eq!(out.trim(), "1 9 0");

    // A file strata did not write is reported, not an error.
    std::fs::write(dir.join("notes.txt"), b"hello").unwrap();
    let out = ok(["verify", p(&dir)]);
    assert!(out.contains("stray: notes.txt"), "{out}");
}

#[test]
fn string_keys_come_from_the_key_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, vecs) = (tmp.path().join("idx"), tmp.path().join("v.npy"));
    let keys = tmp.path().join("keys.txt");
    write_npy_f32(&vecs, 3, 4, &Rng(3).vectors(3, 4)).unwrap();
    create(&dir, 4, &["--key", "string", "--storage", "f16"]);
    std::fs::write(&keys, "apple\nbanana\n").unwrap();
    let err = fails(
        1,
        ["ingest", p(&dir), "--vectors", p(&vecs), "--keys", p(&keys)],
    );
    assert!(err.contains("keys.txt") && err.contains("2 keys"), "{err}");
    std::fs::write(&keys, "apple\nbanana\napple\n").unwrap();
    let err = fails(
        1,
        ["ingest", p(&dir), "--vectors", p(&vecs), "--keys", p(&keys)],
    );
    assert!(err.contains("row 2") && err.contains("repeats"), "{err}");
    std::fs::write(&keys, "apple\nbanana\ncherry\n").unwrap();
    ok(["ingest", p(&dir), "--vectors", p(&vecs), "--keys", p(&keys)]);
    let out = ok([
        "search",
        p(&dir),
        "--query",
        p(&vecs),
        "--row",
        "1",
        "--k",
        "1",
    ]);
    assert!(out.starts_with("1 banana "), "{out}");
    assert!(ok(["delete", p(&dir), "cherry"]).contains("deleted 1 of 1"));
    let s = stats_json(&dir);
    assert_eq!(s["key"], "string");
    assert_eq!(s["segments"][0]["elem"], "f16");
    assert_eq!(s["live_docs"], 2);
}

#[test]
fn bad_input_fails_cleanly_and_commits_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("idx");
    create(&dir, 8, &[]);
    let good = tmp.path().join("good.npy");
    write_npy_f32(&good, 50, 8, &Rng(5).vectors(50, 8)).unwrap();

    // A truncated file, after a good one: the good rows must not be committed either.
    let bad = tmp.path().join("truncated.npy");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&bad, &bytes[..bytes.len() - 7]).unwrap();
    let list = format!("{},{}", p(&good), p(&bad));
    let err = fails(1, ["ingest", p(&dir), "--vectors", &list, "--batch", "10"]);
    assert!(err.contains("truncated.npy"), "{err}");

    // A NaN is reported with its row.
    let nan = tmp.path().join("nan.npy");
    let mut data = Rng(6).vectors(10, 8);
    data[3 * 8 + 2] = f32::NAN;
    write_npy_f32(&nan, 10, 8, &data).unwrap();
    let err = fails(1, ["ingest", p(&dir), "--vectors", p(&nan)]);
    assert!(
        err.contains("nan.npy, row 3") && err.contains("NaN"),
        "{err}"
    );

    // The wrong dimension.
    let narrow = tmp.path().join("narrow.npy");
    write_npy_f32(&narrow, 2, 4, &Rng(7).vectors(2, 4)).unwrap();
    let err = fails(1, ["ingest", p(&dir), "--vectors", p(&narrow)]);
    assert!(
        err.contains("narrow.npy") && err.contains("dimension 4"),
        "{err}"
    );

    // Missing files and directories.
    let err = fails(1, ["ingest", p(&dir), "--vectors", "/nonexistent/x.npy"]);
    assert!(err.contains("/nonexistent/x.npy"), "{err}");
    let missing = tmp.path().join("none");
    let err = fails(1, ["stats", p(&missing)]);
    assert!(err.contains("holds no strata index"), "{err}");

    let s = stats_json(&dir);
    assert_eq!(s["live_docs"], 0);
    assert_eq!(s["segments"].as_array().unwrap().len(), 0);
    assert_eq!(s["generation"], 1);
}

#[test]
fn verify_reports_a_flipped_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, vecs) = (tmp.path().join("idx"), tmp.path().join("v.npy"));
    write_npy_f32(&vecs, 40, 8, &Rng(9).vectors(40, 8)).unwrap();
    create(&dir, 8, &[]);
    ok(["ingest", p(&dir), "--vectors", p(&vecs)]);
    assert!(ok(["verify", p(&dir)]).starts_with("OK"));

    let vec_file: PathBuf = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|f| {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("seg-") && name.ends_with(".vec")
        })
        .expect("a vectors file");
    let mut bytes = std::fs::read(&vec_file).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0x10;
    std::fs::write(&vec_file, &bytes).unwrap();

    let name = vec_file.file_name().unwrap().to_string_lossy().into_owned();
    let err = fails(1, ["verify", p(&dir)]);
    assert!(err.contains("corrupt") && err.contains(&name), "{err}");
    let err = fails(1, ["search", p(&dir), "--query", p(&vecs)]);
    assert!(err.contains(&name), "{err}");
}

/// Exact top-10 base rows of every query by squared L2 distance, in f64.
fn ground_truth(base: &[f32], queries: &[f32], dim: usize) -> Vec<i32> {
    let mut out = Vec::new();
    for q in queries.chunks(dim) {
        let mut d: Vec<(f64, i32)> = base
            .chunks(dim)
            .enumerate()
            .map(|(i, x)| {
                let dist = q
                    .iter()
                    .zip(x)
                    .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                    .sum();
                (dist, i as i32)
            })
            .collect();
        d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        out.extend(d.iter().take(10).map(|&(_, i)| i));
    }
    out
}

#[test]
fn bench_ann_prints_one_json_line_with_full_recall() {
    let tmp = tempfile::tempdir().unwrap();
    let (dim, n, nq) = (8, 400, 25);
    let mut rng = Rng(11);
    let base = rng.vectors(n, dim);
    let queries = rng.vectors(nq, dim);
    let gt = ground_truth(&base, &queries, dim);
    let (bf, qf) = (tmp.path().join("base.npy"), tmp.path().join("q.npy"));
    let (gt_npy, gt_ivecs) = (tmp.path().join("gt.npy"), tmp.path().join("gt.ivecs"));
    write_npy_f32(&bf, n, dim, &base).unwrap();
    write_npy_f32(&qf, nq, dim, &queries).unwrap();
    write_npy_i32(&gt_npy, nq, 10, &gt).unwrap();
    write_ivecs(&gt_ivecs, 10, &gt).unwrap();
    let keep = tmp.path().join("bench-index");

    for (gt_file, extra) in [
        (&gt_npy, vec!["--max-queries", "20"]),
        (&gt_ivecs, vec!["--dir", p(&keep), "--threads", "2"]),
    ] {
        let mut args = vec![
            "bench-ann",
            "--base",
            p(&bf),
            "--queries",
            p(&qf),
            "--gt",
            p(gt_file),
            "--metric",
            "l2",
            "--batch",
            "150",
        ];
        args.extend(extra);
        let out = ok(args);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 1, "{out}");
        let j: Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(j["recall_at_10"], 1.0, "{out}");
        assert_eq!(j["engine"], "strata");
        assert_eq!(j["index"], "flat");
        assert_eq!(j["metric"], "l2");
        assert_eq!(j["n"], n);
        assert_eq!(j["d"], dim);
        assert!(j["nprobe"].is_null() && j["rerank"].is_null(), "{out}");
        for field in ["qps", "mean_ms", "p50_ms", "p99_ms", "build_s"] {
            assert!(
                j[field].as_f64().is_some_and(|v| v >= 0.0),
                "{field}: {out}"
            );
        }
        assert!(j["disk_bytes_per_vector"].as_f64().unwrap() > (dim * 4) as f64);
        assert!(j["memory_bytes_per_vector"].as_f64().is_some());
    }
    // The kept index holds the base, keyed by row.
    assert_eq!(stats_json(&keep)["live_docs"], n);

    let err = fails(
        2,
        [
            "bench-ann",
            "--base",
            p(&bf),
            "--queries",
            p(&qf),
            "--gt",
            p(&gt_npy),
            "--index",
            "ivf",
        ],
    );
    assert!(err.contains("index kind ivf is not built yet"), "{err}");
}

#[test]
fn text_index_from_json_lines_search_and_eval() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("idx");
    let docs = tmp.path().join("docs.jsonl");
    std::fs::write(
        &docs,
        "{\"_id\": \"a\", \"title\": \"Cats\", \"text\": \"cats purr and sleep\"}\n\
         {\"_id\": \"b\", \"title\": \"Dogs\", \"text\": \"dogs bark at cats\"}\n\
         \n\
         {\"_id\": \"c\", \"title\": \"Birds\", \"text\": \"birds sing\", \"sparse\": {\"x\": 1}}\n",
    )
    .unwrap();
    ok([
        "create",
        p(&dir),
        "--key",
        "string",
        "--text",
        "title,text",
        "--store",
    ]);
    // A sparse member without a sparse field is refused, naming line 4; nothing is committed.
    let err = fails(1, ["ingest", p(&dir), "--jsonl", p(&docs)]);
    assert!(err.contains("line 4") || err.contains(":4"), "{err}");
    assert_eq!(stats_json(&dir)["live_docs"], 0);
    let bad = tmp.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"_id\": \"a\", \"text\": \"ok\"}\n{not json\n").unwrap();
    let err = fails(1, ["ingest", p(&dir), "--jsonl", p(&bad)]);
    assert!(err.contains("line 2") || err.contains(":2"), "{err}");
    assert_eq!(stats_json(&dir)["live_docs"], 0);
    std::fs::write(
        &docs,
        "{\"_id\": \"a\", \"title\": \"Cats\", \"text\": \"cats purr and sleep\"}\n\
         {\"_id\": \"b\", \"title\": \"Dogs\", \"text\": \"dogs bark at cats\"}\n\
         {\"_id\": \"c\", \"title\": \"Birds\", \"text\": \"birds sing\"}\n",
    )
    .unwrap();
    ok(["ingest", p(&dir), "--jsonl", p(&docs)]);
    assert_eq!(stats_json(&dir)["live_docs"], 3);
    let out = ok(["search", p(&dir), "--text", "sleeping cat", "--k", "5"]);
    let first = out.lines().next().unwrap_or_default();
    assert!(first.starts_with("1 a "), "{out}");
    assert!(first.ends_with("Cats"), "stored title shown: {out}");
    assert_eq!(out.lines().count(), 2, "{out}");

    // A BEIR folder: eval builds, searches and scores; the run file matches.
    let beir = tmp.path().join("beir");
    std::fs::create_dir_all(beir.join("qrels")).unwrap();
    std::fs::copy(&docs, beir.join("corpus.jsonl")).unwrap();
    std::fs::write(
        beir.join("queries.jsonl"),
        "{\"_id\": \"q1\", \"text\": \"purring cats\"}\n{\"_id\": \"q2\", \"text\": \"singing\"}\n{\"_id\": \"q3\", \"text\": \"unjudged\"}\n",
    )
    .unwrap();
    std::fs::write(
        beir.join("qrels/test.tsv"),
        "query-id\tcorpus-id\tscore\nq1\ta\t1\nq2\tc\t2\n",
    )
    .unwrap();
    let run = tmp.path().join("run.txt");
    let line = ok([
        "eval",
        "--beir",
        p(&beir),
        "--k",
        "10",
        "--run-out",
        p(&run),
        "--check-exhaustive",
    ]);
    let v: Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(v["queries"], 2);
    assert_eq!(v["n_docs"], 3);
    assert_eq!(v["ndcg_at_10"], 1.0, "{v}");
    assert_eq!(v["recall_at_10"], 1.0, "{v}");
    assert_eq!(v["mrr_at_10"], 1.0, "{v}");
    assert_eq!(v["pruned_vs_exhaustive_mismatches"], 0, "{v}");
    let run = std::fs::read_to_string(&run).unwrap();
    assert!(run.starts_with("q1 Q0 a 1 "), "{run}");
}

#[test]
fn a_closed_stdout_is_a_clean_end() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, vecs, queries) = (
        tmp.path().join("idx"),
        tmp.path().join("v.npy"),
        tmp.path().join("q.npy"),
    );
    let mut rng = Rng(9);
    write_npy_f32(&vecs, 50, 4, &rng.vectors(50, 4)).unwrap();
    // 3000 queries x 10 hits is far more than a pipe holds, so the reader closing its end
    // is seen by some write however the two processes are scheduled.
    write_npy_f32(&queries, 3000, 4, &rng.vectors(3000, 4)).unwrap();
    create(&dir, 4, &[]);
    ok(["ingest", p(&dir), "--vectors", p(&vecs), "--batch", "10"]);
    let search = ["search", p(&dir), "--query", p(&queries), "--all"];
    let stats = ["stats", p(&dir)];
    let verify = ["verify", p(&dir)];
    for (args, lines) in [
        (&search[..], 0),
        (&search[..], 1),
        (&stats[..], 0),
        (&verify[..], 0),
    ] {
        let (code, err) = run_reading_lines(args, lines);
        assert_eq!(code, Some(0), "{args:?} after {lines} lines: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.contains("error"), "{args:?}: {err}");
    }
}

#[test]
fn stats_and_verify_succeed_while_another_process_commits() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("idx");
    let (base, more, keys) = (
        tmp.path().join("base.npy"),
        tmp.path().join("more.npy"),
        tmp.path().join("keys.txt"),
    );
    // A base segment large enough that opening it (checksums) takes a while, so commits land
    // between a reader's open and what it does next.
    let mut rng = Rng(3);
    write_npy_f32(&base, 100_000, 16, &rng.vectors(100_000, 16)).unwrap();
    write_npy_f32(&more, 400, 16, &rng.vectors(400, 16)).unwrap();
    let key_lines: String = (1_000_000..1_000_400).map(|k| format!("{k}\n")).collect();
    std::fs::write(&keys, key_lines).unwrap();
    create(&dir, 16, &[]);
    ok(["ingest", p(&dir), "--vectors", p(&base)]);
    // One commit per row: each removes the manifest the one before it wrote.
    let mut writer = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["ingest", p(&dir), "--vectors", p(&more), "--keys", p(&keys)])
        .args(["--batch", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the strata binary");
    for _ in 0..300 {
        let live = stats_json(&dir)["live_docs"].as_u64().unwrap();
        assert!((100_000..=100_400).contains(&live), "{live}");
        assert!(ok(["verify", p(&dir)]).starts_with("OK"));
        if writer.try_wait().expect("poll the writer").is_some() {
            break;
        }
    }
    let o = writer.wait_with_output().expect("wait for the writer");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stats_json(&dir)["live_docs"], 100_400);
}

#[test]
fn input_the_index_would_not_use_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("idx");
    ok(["create", p(&dir), "--key", "string", "--text", "title,text"]);
    let docs = tmp.path().join("docs.jsonl");
    let good = "{\"_id\": \"a\", \"title\": \"Cats\", \"text\": \"cats purr\"}";
    for (line2, expected) in [
        (
            "{\"_id\": \"b\", \"titel\": \"Dogs\", \"text\": \"dogs bark\"}",
            "\"titel\"",
        ),
        (
            "{\"_id\": \"b\", \"title\": 7, \"text\": \"dogs bark\"}",
            "\"title\"",
        ),
        (
            "{\"_id\": \"b\", \"text\": \"dogs\", \"text\": \"bark\"}",
            "\"text\"",
        ),
        (
            "{\"_id\": \"b\", \"_id\": \"c\", \"text\": \"dogs\"}",
            "\"_id\"",
        ),
    ] {
        std::fs::write(&docs, format!("{good}\n{line2}\n")).unwrap();
        let err = fails(1, ["ingest", p(&dir), "--jsonl", p(&docs)]);
        assert!(
            err.contains("line 2") && err.contains(expected),
            "{line2}: {err}"
        );
    }
    std::fs::write(&docs, format!("{good}\n")).unwrap();
    let keys = tmp.path().join("keys.txt");
    std::fs::write(&keys, "z\n").unwrap();
    let err = fails(
        2,
        ["ingest", p(&dir), "--jsonl", p(&docs), "--keys", p(&keys)],
    );
    assert!(err.contains("--keys"), "{err}");
    assert_eq!(stats_json(&dir)["live_docs"], 0);

    // A text query on an index without text fields.
    let vdir = tmp.path().join("vectors");
    create(&vdir, 4, &[]);
    let err = fails(1, ["search", p(&vdir), "--text", "cats"]);
    assert!(err.contains("no text field"), "{err}");

    // A .npy header naming a key twice (the first 'descr' would be silently replaced).
    let npy = tmp.path().join("twice.npy");
    let dict = "{'descr': '<f8', 'descr': '<f4', 'fortran_order': False, 'shape': (1, 4), }";
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let total = (10 + dict.len() + 1).next_multiple_of(64);
    bytes.extend_from_slice(&((total - 10) as u16).to_le_bytes());
    bytes.extend_from_slice(dict.as_bytes());
    bytes.resize(total - 1, b' ');
    bytes.push(b'\n');
    bytes.extend_from_slice(&[0; 16]);
    std::fs::write(&npy, bytes).unwrap();
    let err = fails(1, ["ingest", p(&vdir), "--vectors", p(&npy)]);
    assert!(
        err.contains("twice.npy") && err.contains("'descr'"),
        "{err}"
    );
    assert_eq!(stats_json(&vdir)["live_docs"], 0);
}

#[test]
fn eval_refuses_qrels_that_match_no_query() {
    let tmp = tempfile::tempdir().unwrap();
    let beir = tmp.path().join("beir");
    std::fs::create_dir_all(beir.join("qrels")).unwrap();
    std::fs::write(
        beir.join("corpus.jsonl"),
        "{\"_id\": \"a\", \"text\": \"cats purr\"}\n{\"_id\": \"b\", \"text\": \"dogs bark\"}\n",
    )
    .unwrap();
    std::fs::write(
        beir.join("queries.jsonl"),
        "{\"_id\": \"q1\", \"text\": \"cats\"}\n",
    )
    .unwrap();
    // Judgements for queries the queries file does not hold (another split's ids).
    std::fs::write(
        beir.join("qrels/test.tsv"),
        "query-id\tcorpus-id\tscore\nQ1\ta\t1\n",
    )
    .unwrap();
    let err = fails(1, ["eval", "--beir", p(&beir)]);
    assert!(
        err.contains("test.tsv") && err.contains("no query"),
        "{err}"
    );
}

#[test]
fn bench_ann_refuses_ground_truth_past_the_base() {
    // Ground truth naming base rows past the end of the base (another data set's ids).
    let tmp = tempfile::tempdir().unwrap();
    let (dim, n, nq) = (4, 30, 5);
    let mut rng = Rng(12);
    let (bf, qf, gf) = (
        tmp.path().join("base.npy"),
        tmp.path().join("q.npy"),
        tmp.path().join("gt.npy"),
    );
    write_npy_f32(&bf, n, dim, &rng.vectors(n, dim)).unwrap();
    write_npy_f32(&qf, nq, dim, &rng.vectors(nq, dim)).unwrap();
    let mut gt: Vec<i32> = (0..nq as i32 * 10).map(|i| i % 10).collect();
    gt[2 * 10 + 3] = 30;
    write_npy_i32(&gf, nq, 10, &gt).unwrap();
    let args = [
        "bench-ann",
        "--base",
        p(&bf),
        "--queries",
        p(&qf),
        "--gt",
        p(&gf),
    ];
    let err = fails(1, args);
    assert!(
        err.contains("gt.npy") && err.contains("row 2") && err.contains("30"),
        "{err}"
    );
}

/// `strata tune`: mined pairs tune the model of an IVF-PQ index (built with the library) and
/// commit it or leave it; `--rollback` restores the previous generation, once; an index
/// without a model and an unknown pair source are clear errors.
#[test]
fn tune_commits_a_model_generation_and_rolls_it_back() {
    use strata::{DenseIndex, Document, Index, IvfPqParams, KeyKind, Metric, Schema};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("idx");
    let schema =
        Schema::dense(KeyKind::U64, 8, Metric::Dot).with_index(DenseIndex::IvfPq(IvfPqParams {
            nlist: 4,
            m: 4,
            nbits: 4,
            balanced: false,
            residual: true,
            min_rows: 0,
        }));
    let mut index = Index::create(&dir, schema).unwrap();
    let mut rng = Rng(5);
    let rows = rng.vectors(1500, 8);
    let mut txn = index.begin();
    for (k, v) in rows.chunks(8).enumerate() {
        txn.add(Document::new(k as u64, v.to_vec())).unwrap();
    }
    txn.commit().unwrap();
    drop(index);
    let d = dir.to_str().unwrap();
    let out = strata(["tune", d, "--mined-queries", "300", "--epochs", "3"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["queries"], 300);
    assert_eq!(
        v["epochs"].as_array().unwrap().len() as u64,
        1 + v["epochs"].as_array().unwrap().last().unwrap()["epoch"]
            .as_u64()
            .unwrap()
    );
    let committed = v["committed"].as_bool().unwrap();
    let out = strata(["tune", d, "--rollback"]);
    if committed {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let again = strata(["tune", d, "--rollback"]);
        assert_eq!(again.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&again.stderr).contains("no earlier model generation"));
    } else {
        assert_eq!(out.status.code(), Some(1));
    }
    let out = strata(["tune", d, "--pairs", "guess"]);
    assert_eq!(out.status.code(), Some(2));
    // Another index built with this one's model.
    let copy = tmp.path().join("copy");
    let c = copy.to_str().unwrap();
    let out = strata([
        "create",
        c,
        "--dim",
        "8",
        "--metric",
        "dot",
        "--model-from",
        d,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("model "));
    let reader = strata::Reader::open(&copy).unwrap();
    assert_eq!(
        reader.snapshot().model(),
        strata::Reader::open(&dir).unwrap().snapshot().model()
    );
    // The default metric (cosine) does not fit the model: refused before anything is created.
    let wrong = tmp.path().join("wrong");
    let w = wrong.to_str().unwrap();
    let out = strata(["create", w, "--dim", "8", "--model-from", c]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--metric dot"));
    assert!(!wrong.exists());
    // A flat index has no model to tune.
    let flat = tmp.path().join("flat");
    let mut index = Index::create(&flat, Schema::dense(KeyKind::U64, 8, Metric::Dot)).unwrap();
    let mut txn = index.begin();
    txn.add(Document::new(1u64, vec![0.5; 8])).unwrap();
    txn.commit().unwrap();
    drop(index);
    let out = strata(["tune", flat.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no trained model"));
}

//! `strata bench-ann`: recall and latency of an index kind on a real ANN data set.
//!
//! The index is built through the real path (create, `--batch` rows per transaction with the
//! base row number as the `u64` key, commit, drop the writer) and reopened read-only, so the
//! numbers include everything an application would pay. Queries run one at a time after a
//! warm-up; recall@10 is the mean of |top-10 ∩ ground-truth top-10| / 10. Output is one JSON
//! line per setting on stdout, with the field names of the peer scripts in `shared/peers/`
//! where they mean the same thing; progress goes to stderr.

use crate::util::{Latency, WorkDir, create_index, dir_bytes, ingest_batches, progress_bar};
use crate::util::{key_set, rows_f32};
use crate::{CliError, CliResult};
use clap::Args;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Instant;
use strata::input::{read_ground_truth, read_vectors_many, split_paths};
use strata::{Hit, Key, KeyKind, Metric, Reader, Schema, Snapshot};

/// Options of `strata bench-ann`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Base vector files, comma-separated (concatenated in order; row i has key i).
    #[arg(long)]
    base: String,
    /// Query vector files, comma-separated.
    #[arg(long)]
    queries: String,
    /// Ground truth (.ivecs or integer .npy): row i = base rows of query i's neighbours.
    #[arg(long)]
    gt: PathBuf,
    /// Similarity: ip (= dot), l2 or cosine.
    #[arg(long, default_value = "ip")]
    metric: String,
    /// Results per query (at least 10, for recall@10).
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Index kind; only `flat` exists so far.
    #[arg(long, default_value = "flat")]
    index: String,
    /// nprobe values to sweep (IVF indexes; ignored by flat).
    #[arg(long)]
    nprobe: Option<String>,
    /// Re-rank depths to sweep (quantized indexes; ignored by flat).
    #[arg(long)]
    rerank: Option<String>,
    /// Search threads (each runs queries one at a time).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Build the index here and keep it (default: a temporary directory, removed at the end).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Rows per ingest transaction.
    #[arg(long, default_value_t = 50_000)]
    batch: usize,
    /// Use only the first N queries.
    #[arg(long)]
    max_queries: Option<usize>,
}

/// Queries answered in the warm-up before timing starts.
const WARM_UP: usize = 50;

/// Recall is measured at this depth.
const RECALL_AT: usize = 10;

/// Answers and latencies (ms) of `queries`, each run on its own by one of `threads` threads;
/// `wall_s` is the elapsed time of the whole pass.
struct Pass {
    hits: Vec<Vec<Hit>>,
    ms: Vec<f64>,
    wall_s: f64,
}

/// One query's hits and its latency in milliseconds.
type Answered = (Vec<Hit>, f64);

/// Runs `queries` through `snap`, one at a time per thread, in query order per thread.
fn timed_pass(snap: &Snapshot, queries: &[Vec<f32>], k: usize, threads: usize) -> CliResult<Pass> {
    let bar = progress_bar(queries.len() as u64, "search");
    let chunk = queries.len().div_ceil(threads.max(1)).max(1);
    let start = Instant::now();
    let parts: Vec<strata::Result<Vec<Answered>>> = std::thread::scope(|s| {
        let handles: Vec<_> = queries
            .chunks(chunk)
            .map(|part| {
                let bar = bar.clone();
                s.spawn(move || {
                    part.iter()
                        .map(|q| {
                            let t = Instant::now();
                            let hits = snap.search(q, k)?;
                            let ms = t.elapsed().as_secs_f64() * 1e3;
                            bar.inc(1);
                            Ok((hits, ms))
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(strata::Error::InvalidArgument(
                        "a search thread panicked".to_owned(),
                    ))
                })
            })
            .collect()
    });
    let wall_s = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let mut pass = Pass {
        hits: Vec::with_capacity(queries.len()),
        ms: Vec::with_capacity(queries.len()),
        wall_s,
    };
    for part in parts {
        for (hits, ms) in part? {
            pass.hits.push(hits);
            pass.ms.push(ms);
        }
    }
    Ok(pass)
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// `strata bench-ann`.
pub fn run(args: &BenchArgs) -> CliResult {
    if args.index != "flat" {
        return Err(CliError::Usage(format!(
            "index kind {} is not built yet (available: flat)",
            args.index
        )));
    }
    let metric = Metric::parse(&args.metric).ok_or_else(|| {
        CliError::Usage(format!(
            "unknown metric '{}' (expected ip, l2 or cosine)",
            args.metric
        ))
    })?;
    if args.k < RECALL_AT {
        return Err(CliError::Usage(format!(
            "--k must be at least {RECALL_AT} to measure recall@{RECALL_AT}"
        )));
    }
    if args.batch == 0 || args.threads == 0 {
        return Err(CliError::Usage(
            "--batch and --threads must be at least 1".to_owned(),
        ));
    }
    for (flag, value) in [("--nprobe", &args.nprobe), ("--rerank", &args.rerank)] {
        if value.is_some() {
            eprintln!("note: {flag} does not apply to --index flat; ignored");
        }
    }

    let t = Instant::now();
    let base = read_vectors_many(&split_paths(&args.base))?;
    let queries = read_vectors_many(&split_paths(&args.queries))?;
    let gt = read_ground_truth(&args.gt)?;
    let nq = args.max_queries.unwrap_or(queries.rows).min(queries.rows);
    let (n, d) = (base.rows, base.dim);
    if queries.dim != d {
        return Err(CliError::Failed(format!(
            "{}: queries have dimension {}, the base has {d}",
            queries.source, queries.dim
        )));
    }
    if gt.rows < nq || gt.cols < RECALL_AT {
        return Err(CliError::Failed(format!(
            "{}: ground truth is {} x {}; need at least {nq} rows of {RECALL_AT}",
            args.gt.display(),
            gt.rows,
            gt.cols
        )));
    }
    let query_rows: Vec<Vec<f32>> = rows_f32(&queries).into_iter().take(nq).collect();
    eprintln!(
        "read {n} base vectors of dim {d}, {nq} queries and ground truth in {:.2} s",
        t.elapsed().as_secs_f64()
    );

    let work = WorkDir::new(args.dir.as_deref(), "bench")?;
    let dim =
        u32::try_from(d).map_err(|_| CliError::Usage(format!("dimension {d} is too large")))?;
    let t = Instant::now();
    let mut index = create_index(work.path(), Schema::dense(KeyKind::U64, dim, metric))?;
    let keys = (0..n as u64).map(Key::U64).collect();
    let report = ingest_batches(&mut index, &base, keys, args.batch)?;
    drop(index);
    let build_s = t.elapsed().as_secs_f64();
    drop(base);
    eprintln!(
        "built in {build_s:.2} s ({} transactions, {:.0} docs/s) in {}",
        report.batches,
        report.docs_per_sec(),
        work.path().display()
    );

    let reader = Reader::open(work.path())?;
    let snap = reader.snapshot();
    let (_, disk) = dir_bytes(work.path())?;
    let resident = snap.resident_bytes();

    let warm = WARM_UP.min(nq);
    for q in query_rows.iter().take(warm) {
        snap.search(q, args.k)?;
    }
    let pass = timed_pass(&snap, &query_rows, args.k, args.threads)?;
    let found: usize = pass
        .hits
        .iter()
        .enumerate()
        .map(|(i, hits)| {
            let top = key_set(hits.get(..RECALL_AT.min(hits.len())).unwrap_or_default());
            gt.row(i)
                .iter()
                .take(RECALL_AT)
                .filter(|&&id| top.contains(&Key::U64(u64::from(id))))
                .count()
        })
        .sum();
    let recall = found as f64 / (nq * RECALL_AT).max(1) as f64;
    let lat = Latency::of(&pass.ms);
    let qps = if args.threads == 1 {
        lat.qps()
    } else {
        nq as f64 / pass.wall_s.max(1e-9)
    };
    let per_vector = |bytes: u64| round(bytes as f64 / n.max(1) as f64, 2);
    let line = json_line(&[
        ("engine", json!("strata")),
        ("index", json!("flat")),
        ("metric", json!(args.metric)),
        ("k", json!(args.k)),
        ("n", json!(n)),
        ("d", json!(d)),
        ("nq", json!(nq)),
        ("recall_at_10", json!(round(recall, 4))),
        ("qps", json!(round(qps, 1))),
        ("mean_ms", json!(round(lat.mean_ms, 4))),
        ("p50_ms", json!(round(lat.p50_ms, 4))),
        ("p99_ms", json!(round(lat.p99_ms, 4))),
        ("build_s", json!(round(build_s, 3))),
        ("memory_bytes_per_vector", json!(per_vector(resident))),
        ("disk_bytes_per_vector", json!(per_vector(disk))),
        ("threads", json!(args.threads)),
        ("nprobe", Value::Null),
        ("rerank", Value::Null),
    ]);
    println!("{line}");
    Ok(())
}

/// One JSON object on one line, with the fields in the order given (serde_json's own maps
/// sort their keys, which would scatter related fields).
fn json_line(fields: &[(&str, Value)]) -> String {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}: {v}", Value::from(*k)))
        .collect();
    format!("{{{}}}", body.join(", "))
}

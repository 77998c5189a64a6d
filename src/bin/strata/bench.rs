//! `strata bench-ann`: recall and latency of an index kind on a real ANN data set.
//!
//! The index is built through the real path (create, `--batch` rows per transaction with the
//! base row number as the `u64` key, commit, drop the writer) and reopened read-only, so the
//! numbers include everything an application would pay. Queries run one at a time after a
//! warm-up, and the whole pass repeats for `--min-time` seconds (the median pass is reported,
//! as the peer scripts report their median batched call); recall@10 is the mean of |top-10 ∩ ground-truth top-10| / 10. Output is one JSON
//! line per setting on stdout, with the field names of the peer scripts in `shared/peers/`
//! where they mean the same thing; progress goes to stderr. `isa` names the distance-kernel
//! table the run used (`avx512`, `avx2` or `scalar`; `STRATA_ISA=scalar` forces the scalar one).
//!
//! Filters (`--filter-fraction`, `--where`) add one line per filter after each setting's
//! unfiltered line, on the same index: the same queries restricted to the documents that pass,
//! with recall measured against the exact filtered top-10 that the bench computes itself by
//! brute force over the passing base rows (`filter.rs`).

#[path = "bench/filter.rs"]
mod filter;

use crate::util::{Latency, WorkDir, create_index, dir_bytes, ingest_batches, progress_bar};
use crate::util::{key_set, rows_f32};
use crate::{CliError, CliResult};
use clap::Args;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Instant;
use strata::input::{GroundTruth, read_ground_truth, read_vectors_many, split_paths};
use strata::{
    AttrKind, DenseIndex, DocFilter, Error, Filter, Hit, IvfPqParams, Key, KeyKind, Metric,
    QueryStats, Reader, Schema, SearchParams, Snapshot, VectorStorage,
};

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
    /// Index kind: `flat` or `ivfpq`.
    #[arg(long, default_value = "flat")]
    index: String,
    /// IVF lists (ivfpq).
    #[arg(long, default_value_t = 1024)]
    nlist: u32,
    /// PQ sub-quantizers (ivfpq).
    #[arg(long, default_value_t = 48)]
    m: u32,
    /// Bits per PQ sub-code: 4 (fast-scan) or 8 (ivfpq).
    #[arg(long, default_value_t = 4)]
    nbits: u8,
    /// Balanced (Sinkhorn-constrained) k-means for lists and codebooks (ivfpq).
    #[arg(long)]
    balanced: bool,
    /// Encode residuals to the list centroid instead of the vectors themselves (ivfpq).
    #[arg(long)]
    residual: bool,
    /// Store the full-precision vectors as f16 (halves the disk tier).
    #[arg(long)]
    f16: bool,
    /// nprobe values to sweep (IVF indexes; ignored by flat).
    #[arg(long)]
    nprobe: Option<String>,
    /// Re-rank depths to sweep (quantized indexes; ignored by flat).
    #[arg(long)]
    rerank: Option<String>,
    /// Search threads (each runs queries one at a time).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Queries per `search_batch` call (1: one `search_with` call per query). With N > 1 the
    /// latency fields are per query, amortised over the batch, and qps is queries / time.
    #[arg(long, default_value_t = 1)]
    query_batch: usize,
    /// Build the index here and keep it (default: a temporary directory, removed at the end).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Rows per ingest transaction.
    #[arg(long, default_value_t = 50_000)]
    batch: usize,
    /// Search the index already in --dir (built by an earlier run with the same base and
    /// parameters) instead of building one; build_s is then reported as null.
    #[arg(long, requires = "dir")]
    reuse: bool,
    /// Use only the first N queries.
    #[arg(long)]
    max_queries: Option<usize>,
    /// Repeat the whole query pass until this many seconds have passed (at most 50 passes)
    /// and report the pass of median wall time, as the peer scripts do; 0 = one pass.
    #[arg(long, default_value_t = 1.0)]
    min_time: f64,
    /// Also search each setting restricted to a seeded random subset of this fraction of the
    /// base rows; comma-separated fractions give one filter each (e.g. 0.01,0.1).
    #[arg(long)]
    filter_fraction: Option<String>,
    /// Seed of the --filter-fraction subsets.
    #[arg(long, default_value_t = 42)]
    filter_seed: u64,
    /// A keyword attribute stored with the base rows, for --where: NAME=FILE, a text file with
    /// one value per line, line i for base row i (repeatable).
    #[arg(long)]
    attr: Vec<String>,
    /// Also search each setting restricted to the documents matching the filter EXPR, e.g.
    /// "pos = 'r'" or "pos IN ('n', 'v')" (repeatable).
    #[arg(long = "where")]
    where_: Vec<String>,
    /// After the sweep, tune the index's model for ranking with pairs from SOURCE (`mined`:
    /// stored vectors as queries, their exact neighbours as relevant), commit it, reopen the
    /// index and sweep again; lines carry `tuned` and `tune_s` (ivfpq).
    #[arg(long, value_name = "SOURCE")]
    tune: Option<String>,
    /// Stored vectors used as queries by --tune mined (default 20,000 for 4-bit codes and
    /// 40,000 for 8-bit codes, whose codebooks have 16 times the parameters).
    #[arg(long)]
    tune_queries: Option<usize>,
}

/// Most timed passes per setting.
const MAX_PASSES: usize = 50;

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
    disk_bytes: u64,
    offered: u64,
    passed: u64,
    underfilled: u64,
    lists_probed: u64,
    exact_segments: u64,
    /// Milliseconds of the first warm-up query: what a first search after opening pays
    /// (building the 8-bit sketch of flat segments, faulting in pages).
    first_ms: f64,
}

impl Pass {
    /// An empty pass over `n` queries.
    fn new(n: usize, wall_s: f64) -> Pass {
        Pass {
            hits: Vec::with_capacity(n),
            ms: Vec::with_capacity(n),
            wall_s,
            disk_bytes: 0,
            offered: 0,
            passed: 0,
            underfilled: 0,
            lists_probed: 0,
            exact_segments: 0,
            first_ms: 0.0,
        }
    }

    /// Records one query's answer.
    fn push(&mut self, hits: Vec<Hit>, ms: f64, stats: &QueryStats) {
        self.hits.push(hits);
        self.ms.push(ms);
        self.disk_bytes += stats.disk_bytes;
        self.offered += stats.offered;
        self.passed += stats.passed;
        self.underfilled += u64::from(stats.underfilled);
        self.lists_probed += stats.lists_probed;
        self.exact_segments += stats.exact_segments;
    }
}

/// One query's hits, its latency in milliseconds and its counters.
type Answered = (Vec<Hit>, f64, QueryStats);

/// Runs `queries` through `snap` (restricted to `filter`), one at a time per thread, in query
/// order per thread.
fn timed_pass(
    snap: &Snapshot,
    queries: &[Vec<f32>],
    params: &SearchParams,
    filter: Option<&DocFilter>,
    threads: usize,
) -> CliResult<Pass> {
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
                            let (hits, stats) = snap.search_filtered(q, params, filter)?;
                            let ms = t.elapsed().as_secs_f64() * 1e3;
                            bar.inc(1);
                            Ok((hits, ms, stats))
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
    let mut pass = Pass::new(queries.len(), wall_s);
    for part in parts {
        for (hits, ms, stats) in part? {
            pass.push(hits, ms, &stats);
        }
    }
    Ok(pass)
}

/// Runs `queries` through `snap` in batches of `size` on this thread; each batch's time is
/// spread evenly over its queries.
fn batched_pass(
    snap: &Snapshot,
    queries: &[Vec<f32>],
    params: &SearchParams,
    size: usize,
) -> CliResult<Pass> {
    let start = Instant::now();
    let mut pass = Pass::new(queries.len(), 0.0);
    for chunk in queries.chunks(size.max(1)) {
        let refs: Vec<&[f32]> = chunk.iter().map(Vec::as_slice).collect();
        let t = Instant::now();
        let answers = snap.search_batch(&refs, params)?;
        let ms = t.elapsed().as_secs_f64() * 1e3 / chunk.len().max(1) as f64;
        for (hits, stats) in answers {
            pass.push(hits, ms, &stats);
        }
    }
    pass.wall_s = start.elapsed().as_secs_f64();
    Ok(pass)
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// Fails if a ground-truth id of the first `nq` queries is not a row of the `n`-row base:
/// such a neighbour can never be found, and recall would quietly read as (near) 0 (ground
/// truth of another base, or a base cut short).
fn check_ground_truth(gt: &GroundTruth, nq: usize, n: usize, path: &Path) -> CliResult {
    for row in 0..nq {
        if let Some(&id) = gt.row(row).iter().find(|&&id| id as usize >= n) {
            let what = format!("neighbour id {id} is not a row of the base, which has {n} rows");
            return Err(Error::input(Error::path_string(path), Some(row as u64), what).into());
        }
    }
    Ok(())
}

/// `strata bench-ann`.
pub fn run(args: &BenchArgs) -> CliResult {
    let ivf = match args.index.as_str() {
        "flat" => None,
        "ivfpq" => Some(IvfPqParams {
            nlist: args.nlist,
            m: args.m,
            nbits: args.nbits,
            balanced: args.balanced,
            residual: args.residual,
            min_rows: IvfPqParams::default().min_rows,
        }),
        other => {
            return Err(CliError::Usage(format!(
                "index kind {other} is not built yet (available: flat, ivfpq)"
            )));
        }
    };
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
    if ivf.is_none() {
        for (flag, value) in [("--nprobe", &args.nprobe), ("--rerank", &args.rerank)] {
            if value.is_some() {
                note!("note: {flag} does not apply to --index flat; ignored");
            }
        }
    }
    let nprobes = parse_list("--nprobe", args.nprobe.as_deref(), 32)?;
    let reranks = parse_list("--rerank", args.rerank.as_deref(), 40)?;

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
    check_ground_truth(&gt, nq, n, &args.gt)?;
    let (filters, attrs) = bench_filters(args, n)?;
    let query_rows: Vec<Vec<f32>> = rows_f32(&queries).into_iter().take(nq).collect();
    note!(
        "read {n} base vectors of dim {d}, {nq} queries and ground truth in {:.2} s",
        t.elapsed().as_secs_f64()
    );

    let work = WorkDir::new(args.dir.as_deref(), "bench")?;
    let dim =
        u32::try_from(d).map_err(|_| CliError::Usage(format!("dimension {d} is too large")))?;
    let t = Instant::now();
    let mut schema = Schema::dense(KeyKind::U64, dim, metric);
    if args.f16 {
        schema = schema.with_storage(VectorStorage::F16);
    }
    if let Some(p) = ivf {
        schema = schema.with_index(DenseIndex::IvfPq(p));
    }
    for (name, _) in &attrs {
        schema = schema.with_attribute(name, AttrKind::Keyword);
    }
    let build_s = if args.reuse {
        note!("searching the existing index in {}", work.path().display());
        None
    } else {
        let mut index = create_index(work.path(), schema)?;
        let keys = (0..n as u64).map(Key::U64).collect();
        // An IVF-PQ index is trained per segment: ingest it as one segment, trained once.
        let batch = if ivf.is_some() { n.max(1) } else { args.batch };
        let report = ingest_batches(&mut index, &base, keys, &attrs, batch)?;
        drop(index);
        let build_s = t.elapsed().as_secs_f64();
        note!(
            "built in {build_s:.2} s ({} transactions, {:.0} docs/s) in {}",
            report.batches,
            report.docs_per_sec(),
            work.path().display()
        );
        Some(build_s)
    };

    // Each phase searches the committed index as a reader opens it: once as built, and with
    // --tune once more after tuning its model, committing, dropping and reopening it.
    let phases = if args.tune.is_some() { 2 } else { 1 };
    let mut tuned: Option<(bool, Option<f64>)> = args.tune.as_ref().map(|_| (false, None));
    for phase in 0..phases {
        if phase == 1 {
            tuned = Some((true, Some(tune(work.path(), args)?)));
        }
        let reader = Reader::open(work.path())?;
        let snap = reader.snapshot();
        // Each filter compiled on the searched snapshot, with its exact top-10 per query.
        let mut compiled = Vec::with_capacity(filters.len());
        for f in &filters {
            let t = Instant::now();
            let docs = snap.compile_filter(&f.filter)?;
            let rows = filter::passing_rows(&snap, &docs);
            let truth = filter::exact_top(&base, &rows, &query_rows, metric, RECALL_AT);
            note!(
                "filter {}: {} of {n} rows pass; exact filtered top-{RECALL_AT} in {:.2} s",
                f.label,
                rows.len(),
                t.elapsed().as_secs_f64()
            );
            let selectivity = rows.len() as f64 / n.max(1) as f64;
            compiled.push((f.label.clone(), docs, selectivity, truth));
        }
        let (_, disk) = dir_bytes(work.path())?;

        let settings: Vec<(Option<usize>, Option<usize>)> = if ivf.is_some() {
            nprobes
                .iter()
                .flat_map(|&np| reranks.iter().map(move |&rr| (Some(np), Some(rr))))
                .collect()
        } else {
            vec![(None, None)]
        };
        let ivf_stats = snap
            .segments()
            .iter()
            .find_map(|s| s.ivf().map(|i| i.stats()));
        let line = |nprobe: Option<usize>, rerank: Option<usize>, pass: &Pass, recall: f64| {
            let lat = Latency::of(&pass.ms);
            let qps = if args.threads == 1 {
                lat.qps()
            } else {
                nq as f64 / pass.wall_s.max(1e-9)
            };
            let per_vector = |bytes: u64| round(bytes as f64 / n.max(1) as f64, 2);
            let per_query = |x: u64| json!(round(x as f64 / nq.max(1) as f64, 1));
            let opt = |v: Option<usize>| v.map_or(Value::Null, |x| json!(x));
            let mut fields = vec![
                ("engine", json!("strata")),
                ("index", json!(args.index)),
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
                ("first_query_ms", json!(round(pass.first_ms, 3))),
                (
                    "build_s",
                    build_s.map_or(Value::Null, |b| json!(round(b, 3))),
                ),
                // After the pass: what searching built (the sketch of flat segments) counts.
                (
                    "memory_bytes_per_vector",
                    json!(per_vector(snap.resident_bytes())),
                ),
                ("disk_bytes_per_vector", json!(per_vector(disk))),
                ("disk_bytes_read_per_query", per_query(pass.disk_bytes)),
                ("offered_per_query", per_query(pass.offered)),
                ("lists_probed_per_query", per_query(pass.lists_probed)),
                ("threads", json!(args.threads)),
                ("query_batch", json!(args.query_batch)),
                ("isa", json!(strata::dense::kernels::best().name)),
                ("nprobe", opt(nprobe)),
                ("rerank", opt(rerank)),
            ];
            if let Some((tuned, tune_s)) = tuned {
                fields.extend([
                    ("tuned", json!(tuned)),
                    ("tune_s", tune_s.map_or(Value::Null, |t| json!(round(t, 2)))),
                ]);
            }
            if let Some(p) = ivf {
                fields.extend([
                    ("nlist", json!(p.nlist)),
                    ("m", json!(p.m)),
                    ("nbits", json!(p.nbits)),
                    ("balanced", json!(p.balanced)),
                    ("residual", json!(p.residual)),
                ]);
                if let Some(st) = ivf_stats {
                    fields.extend([
                        ("list_spread", json!(round(f64::from(st.list_spread), 3))),
                        (
                            "code_entropy_bits",
                            json!(round(f64::from(st.code_entropy), 3)),
                        ),
                    ]);
                }
            }
            fields
        };
        for (nprobe, rerank) in settings {
            let params = match (nprobe, rerank) {
                (Some(np), Some(rr)) => SearchParams {
                    k: args.k,
                    nprobe: np,
                    rerank: rr,
                    exact: false,
                },
                _ => SearchParams::exact(args.k),
            };
            let pass = median_pass(&snap, &query_rows, &params, None, args)?;
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
            out!("{}", json_line(&line(nprobe, rerank, &pass, recall)))?;
            for (label, docs, selectivity, truth) in &compiled {
                let pass = median_pass(&snap, &query_rows, &params, Some(docs), args)?;
                let (mut found, mut wanted) = (0usize, 0usize);
                for (hits, want) in pass.hits.iter().zip(truth) {
                    let top = key_set(hits.get(..RECALL_AT.min(hits.len())).unwrap_or_default());
                    wanted += want.len();
                    found += want
                        .iter()
                        .filter(|&&r| top.contains(&Key::U64(u64::from(r))))
                        .count();
                }
                // A query with fewer than 10 passing documents is scored on those it has.
                let recall = if wanted == 0 {
                    1.0
                } else {
                    found as f64 / wanted as f64
                };
                let mut fields = line(nprobe, rerank, &pass, recall);
                fields.splice(
                    1..1,
                    [
                        ("filter", json!(label)),
                        ("filter_selectivity", json!(round(*selectivity, 4))),
                    ],
                );
                fields.extend([
                    (
                        "passed_per_query",
                        json!(round(pass.passed as f64 / nq.max(1) as f64, 1)),
                    ),
                    ("underfilled_queries", json!(pass.underfilled)),
                    (
                        "exact_segments_per_query",
                        json!(round(pass.exact_segments as f64 / nq.max(1) as f64, 3)),
                    ),
                ]);
                out!("{}", json_line(&fields))?;
            }
        }
    }
    Ok(())
}

/// Tunes the model of the index in `dir` with pairs mined from its own vectors, commits it,
/// and returns the seconds taken (mining and tuning).
fn tune(dir: &Path, args: &BenchArgs) -> CliResult<f64> {
    match args.tune.as_deref() {
        Some("mined") => {}
        other => {
            return Err(CliError::Usage(format!(
                "--tune {} is not known (available: mined)",
                other.unwrap_or("")
            )));
        }
    }
    let t = Instant::now();
    let mut index = strata::Index::open(dir)?;
    let pairs = strata::TunePairs::Mined {
        queries: args
            .tune_queries
            .unwrap_or_else(|| strata::TunePairs::default_mined_queries(args.nbits)),
        positives: RECALL_AT,
        seed: 42,
    };
    let report = index.tune_codebooks(&pairs, &strata::TuneConfig::default(), &mut |e| {
        note!(
            "tune epoch {}: loss {:.4}, held-out recall@10 {:.4}",
            e.epoch,
            e.loss,
            e.holdout_recall
        );
        true
    })?;
    drop(index);
    let secs = t.elapsed().as_secs_f64();
    note!(
        "tuned with {} mined queries in {secs:.1} s (pairs {:.1} s, epochs {:.1} s); best epoch {}, commit {:?}",
        report.queries,
        report.pairs_seconds,
        report.tune_seconds,
        report.best_epoch,
        report.generation
    );
    Ok(secs)
}

/// The filters asked for on the command line, over a base of `n` rows, and the attribute
/// columns to store with the base rows.
type Columns = Vec<(String, Vec<String>)>;
fn bench_filters(args: &BenchArgs, n: usize) -> CliResult<(Vec<filter::BenchFilter>, Columns)> {
    let mut out = Vec::new();
    if let Some(list) = args.filter_fraction.as_deref() {
        for x in list.split(',') {
            let f: f64 = x.trim().parse().map_err(|_| {
                CliError::Usage(format!("--filter-fraction: '{x}' is not a number"))
            })?;
            out.push(filter::random_subset(n, f, args.filter_seed)?);
        }
    }
    let mut attrs = Vec::new();
    for spec in &args.attr {
        attrs.push(filter::read_attr(spec, n)?);
    }
    for expr in &args.where_ {
        out.push(filter::BenchFilter {
            label: expr.trim().to_owned(),
            filter: Filter::parse(expr)?,
        });
    }
    if !out.is_empty() && args.query_batch > 1 {
        note!("note: filtered searches run one query per call (--query-batch applies unfiltered)");
    }
    Ok((out, attrs))
}

/// Warms up, then repeats the query pass for `--min-time` seconds and returns the pass of
/// median wall time (every pass answers the same queries identically).
fn median_pass(
    snap: &Snapshot,
    queries: &[Vec<f32>],
    params: &SearchParams,
    filter: Option<&DocFilter>,
    args: &BenchArgs,
) -> CliResult<Pass> {
    let mut first_ms = None;
    for q in queries.iter().take(WARM_UP) {
        let t = Instant::now();
        snap.search_filtered(q, params, filter)?;
        first_ms.get_or_insert(t.elapsed().as_secs_f64() * 1e3);
    }
    let mut passes = Vec::new();
    let started = Instant::now();
    loop {
        passes.push(if args.query_batch > 1 && filter.is_none() {
            batched_pass(snap, queries, params, args.query_batch)?
        } else {
            timed_pass(snap, queries, params, filter, args.threads)?
        });
        if started.elapsed().as_secs_f64() >= args.min_time || passes.len() >= MAX_PASSES {
            break;
        }
    }
    passes.sort_by(|a, b| a.wall_s.total_cmp(&b.wall_s));
    let mut median = passes.swap_remove(passes.len() / 2);
    median.first_ms = first_ms.unwrap_or(0.0);
    Ok(median)
}

/// Parses a comma-separated list of positive integers, or `default` when absent.
fn parse_list(flag: &str, list: Option<&str>, default: usize) -> CliResult<Vec<usize>> {
    let Some(list) = list else {
        return Ok(vec![default]);
    };
    list.split(',')
        .map(|x| {
            x.trim()
                .parse::<usize>()
                .map_err(|_| CliError::Usage(format!("{flag}: '{x}' is not a number")))
        })
        .collect()
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

//! `strata bench-sparse`: learned-sparse (impact) query latency of every traversal algorithm.
//!
//! The index is built through the real path (create with a sparse field, add in write
//! transactions, commit, drop the writer), reopened read-only, and queried one query at a time
//! on this thread through [`strata::Snapshot::search_text`]. Every algorithm answers every query;
//! its hits (keys and score bits) are compared with the exhaustive oracle's, so a speed-up that
//! changes a result shows up in `same_as_exhaustive`. Passes run round robin over the
//! algorithms (so a slow spell of the machine hits them alike) and the pass with the median mean
//! is reported. One JSON line per algorithm on stdout; progress on stderr.

use crate::util::{Latency, WorkDir, create_index, dir_bytes, progress_bar};
use crate::{CliError, CliResult};
use clap::{Args, ValueEnum};
use serde_json::json;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;
use strata::input::jsonl::{JsonKey, JsonlFields, read_jsonl};
use strata::sparse::query::Algorithm;
use strata::{Document, Error, Key, KeyKind, Reader, Schema, Snapshot, TextQuery};

/// Queries answered before timing starts.
const WARM_UP: usize = 50;

/// Traversal algorithms as spelled on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SparseAlgoArg {
    /// Every algorithm below.
    All,
    /// The planner's choice (the default of the library).
    Auto,
    /// Exhaustive document-at-a-time (the oracle).
    Exhaustive,
    /// Term-at-a-time accumulation.
    Taat,

    /// MaxScore.
    Maxscore,
    /// Block-max WAND.
    Bmw,
}

/// Arguments of `strata bench-sparse`.
#[derive(Debug, Args)]
pub struct BenchSparseArgs {
    /// Documents: JSON Lines (plain or .zst), each a key ("_id", "id" or "key") and "sparse"
    /// {term: weight}.
    #[arg(long)]
    docs: PathBuf,
    /// Queries, same layout as --docs.
    #[arg(long)]
    queries: PathBuf,
    /// Time only the queries with a positive judgment in this qrels file (BEIR TSV), as the
    /// peer scripts do; without it every query is timed.
    #[arg(long)]
    qrels: Option<PathBuf>,
    /// Hits per query.
    #[arg(long, default_value_t = 100)]
    k: usize,
    /// Which traversal to time.
    #[arg(long, value_enum, default_value_t = SparseAlgoArg::All)]
    algorithm: SparseAlgoArg,
    /// Bits per quantized impact of the sparse field (4..=16).
    #[arg(long, default_value_t = 8)]
    impact_bits: u8,
    /// Documents per write transaction (each commit is one segment until merged).
    #[arg(long, default_value_t = 1_000_000)]
    batch: usize,
    /// Timed passes over all queries per algorithm; the median pass (by mean) is reported.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Time at most this many queries.
    #[arg(long)]
    max_queries: Option<usize>,
    /// Keep only each query's this many highest-weight terms (ties by term), to see how the
    /// algorithms compare as queries get shorter.
    #[arg(long)]
    max_terms: Option<usize>,
    /// Index directory (default: a temporary one, removed at the end).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// One query's weighted terms.
struct SparseQuery {
    terms: Vec<(String, f32)>,
}

/// What one timed pass of one algorithm gave.
struct Pass {
    ms: Vec<f64>,
    mean_ms: f64,
    hits: Vec<Vec<(Key, u32)>>,
}

/// The key of a document read from JSON Lines, checked against the kind of the first.
fn to_key(key: JsonKey, kind: KeyKind, file: &Path, line: u64) -> CliResult<Key> {
    match (key, kind) {
        (JsonKey::U64(k), KeyKind::U64) => Ok(Key::U64(k)),
        (JsonKey::Str(s), KeyKind::Str) => Ok(Key::Str(s)),
        (JsonKey::U64(k), KeyKind::Str) => Ok(Key::Str(k.to_string())),
        (JsonKey::Str(s), KeyKind::U64) => Err(Error::input(
            Error::path_string(file),
            Some(line),
            format!("key {s:?} is a string; the first document's key was a number"),
        )
        .into()),
    }
}

/// Reads every query (id, terms) of `path`.
fn read_queries(path: &Path) -> CliResult<Vec<(String, SparseQuery)>> {
    let fields = JsonlFields {
        sparse: true,
        ..JsonlFields::default()
    };
    let mut out = Vec::new();
    for doc in read_jsonl(path, &fields)? {
        let doc = doc?;
        let id = match doc.key {
            JsonKey::U64(k) => k.to_string(),
            JsonKey::Str(s) => s,
        };
        out.push((id, SparseQuery { terms: doc.sparse }));
    }
    Ok(out)
}

/// Builds the index in `dir` from `docs`; returns (documents, mean terms per document).
fn build(args: &BenchSparseArgs, dir: &Path) -> CliResult<(usize, f64)> {
    if args.batch == 0 {
        return Err(CliError::Usage("--batch must be at least 1".to_owned()));
    }
    let fields = JsonlFields {
        sparse: true,
        ..JsonlFields::default()
    };
    let mut reader = read_jsonl(&args.docs, &fields)?;
    let first = match reader.next() {
        Some(doc) => doc?,
        None => {
            return Err(CliError::Failed(format!(
                "{} holds no documents",
                args.docs.display()
            )));
        }
    };
    let kind = match first.key {
        JsonKey::U64(_) => KeyKind::U64,
        JsonKey::Str(_) => KeyKind::Str,
    };
    let schema = Schema::new(kind).with_sparse("sparse", args.impact_bits);
    let mut index = create_index(dir, schema)?;
    let bar = progress_bar(0, "ingest");
    let (mut docs, mut nnz) = (0usize, 0usize);
    let mut pending = Some(first);
    let mut txn = index.begin();
    loop {
        let doc = match pending.take() {
            Some(d) => d,
            None => match reader.next() {
                Some(d) => d?,
                None => break,
            },
        };
        let key = to_key(doc.key, kind, &args.docs, reader.line())?;
        nnz += doc.sparse.len();
        txn.add(Document::with_key(key).with_sparse(doc.sparse))?;
        docs += 1;
        if docs % args.batch == 0 {
            txn.commit()?;
            txn = index.begin();
        }
        if docs % 4096 == 0 {
            bar.set_position(docs as u64);
        }
    }
    if txn.pending_adds() > 0 {
        txn.commit()?;
    } else {
        drop(txn);
    }
    bar.finish_and_clear();
    drop(index);
    Ok((docs, nnz as f64 / docs.max(1) as f64))
}

/// Runs every query once with `algorithm`, timing each call.
fn timed_pass(
    snap: &Snapshot,
    queries: &[SparseQuery],
    k: usize,
    algorithm: Algorithm,
) -> CliResult<Pass> {
    let prepared: Vec<TextQuery<'_>> = queries
        .iter()
        .map(|q| {
            let mut tq = TextQuery::sparse(q.terms.clone(), k);
            tq.algorithm = algorithm;
            tq
        })
        .collect();
    let mut ms = Vec::with_capacity(prepared.len());
    let mut hits = Vec::with_capacity(prepared.len());
    for q in &prepared {
        let t = Instant::now();
        let found = snap.search_text(q)?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        hits.push(
            found
                .into_iter()
                .map(|h| (h.key, h.score.to_bits()))
                .collect(),
        );
    }
    let mean_ms = ms.iter().sum::<f64>() / ms.len().max(1) as f64;
    Ok(Pass { ms, mean_ms, hits })
}

fn round(x: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

/// The algorithms `arg` names, with their names for the output.
fn algorithms(arg: SparseAlgoArg) -> Vec<(&'static str, Algorithm)> {
    let all = [
        ("exhaustive", Algorithm::Exhaustive),
        ("taat", Algorithm::TermAtATime),
        ("maxscore", Algorithm::MaxScore),
        ("bmw", Algorithm::BlockMaxWand),
        ("auto", Algorithm::Auto),
    ];
    let name = match arg {
        SparseAlgoArg::All => return all.to_vec(),
        SparseAlgoArg::Auto => "auto",
        SparseAlgoArg::Exhaustive => "exhaustive",
        SparseAlgoArg::Taat => "taat",

        SparseAlgoArg::Maxscore => "maxscore",
        SparseAlgoArg::Bmw => "bmw",
    };
    all.into_iter().filter(|(n, _)| *n == name).collect()
}

/// Runs `strata bench-sparse`.
pub fn run(args: &BenchSparseArgs) -> CliResult {
    if args.repeat == 0 {
        return Err(CliError::Usage("--repeat must be at least 1".to_owned()));
    }
    let mut queries = read_queries(&args.queries)?;
    if let Some(path) = &args.qrels {
        let qrels = strata::eval::read_qrels(path)?;
        let judged: HashSet<&str> = qrels
            .iter()
            .filter(|(_, docs)| docs.values().any(|&g| g > 0))
            .map(|(q, _)| q.as_str())
            .collect();
        queries.retain(|(id, _)| judged.contains(id.as_str()));
    }
    if let Some(m) = args.max_queries {
        queries.truncate(m);
    }
    if queries.is_empty() {
        return Err(CliError::Failed("no queries to time".to_owned()));
    }
    let mut queries: Vec<SparseQuery> = queries.into_iter().map(|(_, q)| q).collect();
    if let Some(m) = args.max_terms {
        for q in &mut queries {
            q.terms
                .sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            q.terms.truncate(m);
        }
    }
    let query_nnz =
        queries.iter().map(|q| q.terms.len()).sum::<usize>() as f64 / queries.len() as f64;

    let work = WorkDir::new(args.dir.as_deref(), "bench-sparse")?;
    let t = Instant::now();
    let (n_docs, doc_nnz) = build(args, work.path())?;
    let build_s = t.elapsed().as_secs_f64();
    note!(
        "built {n_docs} documents in {build_s:.2} s in {}",
        work.path().display()
    );
    let reader = Reader::open(work.path())?;
    let snap = reader.snapshot();
    let (_, disk) = dir_bytes(work.path())?;

    // The oracle's hits, untimed, then warm-up of every algorithm.
    let oracle = timed_pass(&snap, &queries, args.k, Algorithm::Exhaustive)?.hits;
    let algos = algorithms(args.algorithm);
    let warm = &queries[..WARM_UP.min(queries.len())];
    for &(_, algo) in &algos {
        timed_pass(&snap, warm, args.k, algo)?;
    }
    let mut passes: Vec<Vec<Pass>> = algos.iter().map(|_| Vec::new()).collect();
    for _ in 0..args.repeat {
        for (&(_, algo), runs) in algos.iter().zip(passes.iter_mut()) {
            runs.push(timed_pass(&snap, &queries, args.k, algo)?);
        }
    }
    for ((name, _), mut runs) in algos.into_iter().zip(passes) {
        let means: Vec<f64> = runs.iter().map(|p| round(p.mean_ms, 4)).collect();
        runs.sort_by(|a, b| a.mean_ms.total_cmp(&b.mean_ms));
        let pass = runs.swap_remove(runs.len() / 2);
        let same = pass
            .hits
            .iter()
            .zip(&oracle)
            .filter(|(a, b)| a == b)
            .count();
        let lat = Latency::of(&pass.ms);
        let line = json!({
            "engine": "strata",
            "bench": "sparse",
            "algorithm": name,
            "k": args.k,
            "n_docs": n_docs,
            "n_queries": queries.len(),
            "mean_ms": round(lat.mean_ms, 4),
            "p50_ms": round(lat.p50_ms, 4),
            "p99_ms": round(lat.p99_ms, 4),
            "qps": round(lat.qps(), 1),
            "same_as_exhaustive": same,
            "differ_from_exhaustive": queries.len() - same,
            "pass_means_ms": means,
            "repeat": args.repeat,
            "max_terms": args.max_terms,
            "impact_bits": args.impact_bits,
            "doc_nnz_mean": round(doc_nnz, 1),
            "query_nnz_mean": round(query_nnz, 1),
            "build_s": round(build_s, 3),
            "disk_bytes": disk,
        });
        out!("{line}")?;
    }
    Ok(())
}

//! `strata eval`: BM25 quality and latency on a BEIR folder.
//!
//! The index is built through the real path (create, add in write transactions, commit, drop
//! the writer), reopened read-only, and queried one query at a time on this thread. Metrics are
//! computed as BEIR / pytrec_eval compute them (graded gains, hits whose id equals the query id
//! dropped); `--run-out` writes a TREC run file so any standard evaluator can check them.

use crate::util::{Latency, WorkDir, create_index, dir_bytes};
use crate::{CliError, CliResult};
use clap::{Args, ValueEnum};
use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;
use strata::eval::{Qrels, mrr_at, ndcg_at, read_corpus, read_qrels, read_queries, recall_at};
use strata::sparse::query::{Algorithm, Bm25};
use strata::text::AnalyzerConfig;
use strata::{Document, Error, Index, KeyKind, Reader, Schema, TextQuery};

/// How title and text are indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FieldsArg {
    /// `title + " " + text` in one field (the usual "BM25 flat" baseline).
    Flat,
    /// Title and text as two fields, both searched, scores summed.
    Multi,
}

/// Traversal algorithms as spelled on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AlgoArg {
    /// Term at a time for short lists, MaxScore for long ones.
    Auto,
    /// Block-max WAND.
    Wand,
    /// MaxScore.
    Maxscore,
    /// Exhaustive document-at-a-time (no pruning).
    Exhaustive,
    /// Term-at-a-time accumulation (no pruning).
    Taat,
}

impl From<AlgoArg> for Algorithm {
    fn from(a: AlgoArg) -> Algorithm {
        match a {
            AlgoArg::Auto => Algorithm::Auto,
            AlgoArg::Wand => Algorithm::BlockMaxWand,
            AlgoArg::Maxscore => Algorithm::MaxScore,
            AlgoArg::Exhaustive => Algorithm::Exhaustive,
            AlgoArg::Taat => Algorithm::TermAtATime,
        }
    }
}

/// Arguments of `strata eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A BEIR folder: corpus.jsonl[.zst], queries.jsonl[.zst], qrels/SPLIT.tsv.
    #[arg(long)]
    beir: PathBuf,
    /// Scoring mode (only bm25 today).
    #[arg(long, default_value = "bm25")]
    mode: String,
    /// Qrels split; without qrels/SPLIT.tsv every query is timed and metrics are null.
    #[arg(long, default_value = "test")]
    split: String,
    /// Hits per query (recall is measured at this depth).
    #[arg(long, default_value_t = 100)]
    k: usize,
    /// Write a TREC run file here.
    #[arg(long)]
    run_out: Option<PathBuf>,
    /// Corpus file instead of BEIR_DIR/corpus.jsonl[.zst].
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Queries file instead of BEIR_DIR/queries.jsonl[.zst].
    #[arg(long)]
    queries: Option<PathBuf>,
    /// How title and text are indexed.
    #[arg(long, value_enum, default_value_t = FieldsArg::Flat)]
    fields: FieldsArg,
    /// Traversal algorithm.
    #[arg(long, value_enum, default_value_t = AlgoArg::Auto)]
    algorithm: AlgoArg,
    /// BM25 k1.
    #[arg(long, default_value_t = 0.9)]
    k1: f32,
    /// BM25 b.
    #[arg(long, default_value_t = 0.4)]
    b: f32,
    /// Also run every query exhaustively and count queries whose top-k differs.
    #[arg(long)]
    check_exhaustive: bool,
    /// Index directory (default: a temporary directory, removed afterwards).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep stop words (the default analyzer drops the 33 English stop words).
    #[arg(long)]
    keep_stopwords: bool,
    /// Time every query this many times (latency figures cover all repetitions).
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Documents per write transaction.
    #[arg(long, default_value_t = 200_000)]
    batch: usize,
}

fn build(args: &EvalArgs, dir: &Path, corpus: &Path) -> CliResult<(usize, f64)> {
    let a = AnalyzerConfig {
        stopwords: !args.keep_stopwords,
        ..AnalyzerConfig::default()
    };
    let schema = match args.fields {
        FieldsArg::Flat => Schema::new(KeyKind::Str).with_text("body", a, false),
        FieldsArg::Multi => Schema::new(KeyKind::Str)
            .with_text("title", a.clone(), false)
            .with_text("text", a, false),
    };
    let docs: Vec<_> = read_corpus(corpus)?.collect::<Result<_, _>>()?;
    let t = Instant::now();
    let mut index: Index = create_index(dir, schema)?;
    for chunk in docs.chunks(args.batch.max(1)) {
        let mut txn = index.begin();
        for d in chunk {
            let doc = Document::with_key(d.id.clone());
            let doc = match args.fields {
                FieldsArg::Flat => doc.with_text("body", format!("{} {}", d.title, d.text)),
                FieldsArg::Multi => doc.with_text("title", &d.title).with_text("text", &d.text),
            };
            txn.add(doc)?;
        }
        txn.commit()?;
    }
    drop(index);
    Ok((docs.len(), t.elapsed().as_secs_f64()))
}

/// Fails unless some query of `queries` has a positive judgement in `qrels`: otherwise every
/// metric would be a mean over no query, printed as 0 (qrels of another split or data set).
fn check_qrels_match(
    qrels: &Qrels,
    queries: &[(String, String)],
    qrels_path: &Path,
    queries_path: &Path,
) -> CliResult {
    let judged = |id: &String| qrels.get(id).is_some_and(|r| r.values().any(|&g| g > 0));
    if queries.iter().any(|(id, _)| judged(id)) {
        return Ok(());
    }
    let what = format!(
        "no query of {} ({} queries) has a positive judgement among the {} query ids judged \
         here; are they from the same data set and split?",
        queries_path.display(),
        queries.len(),
        qrels.len()
    );
    Err(Error::input(Error::path_string(qrels_path), None, what).into())
}

/// Runs `strata eval`.
pub fn run(args: &EvalArgs) -> CliResult {
    if args.mode != "bm25" {
        return Err(CliError::Usage(format!(
            "unknown --mode {} (only bm25 is built)",
            args.mode
        )));
    }
    if args.k == 0 {
        return Err(CliError::Usage("--k must be at least 1".to_owned()));
    }
    // The readers fall back to FILE.zst when FILE does not exist.
    let corpus = args
        .corpus
        .clone()
        .unwrap_or(args.beir.join("corpus.jsonl"));
    let queries_path = args
        .queries
        .clone()
        .unwrap_or(args.beir.join("queries.jsonl"));
    let qrels_path = args.beir.join("qrels").join(format!("{}.tsv", args.split));
    let queries = read_queries(&queries_path)?;
    let qrels = if qrels_path.exists() {
        Some(read_qrels(&qrels_path)?)
    } else {
        note!(
            "no {}: timing every query, no relevance metrics",
            qrels_path.display()
        );
        None
    };
    if let Some(q) = &qrels {
        check_qrels_match(q, &queries, &qrels_path, &queries_path)?;
    }
    let work = WorkDir::new(args.dir.as_deref(), "eval")?;
    let (n_docs, build_s) = build(args, work.path(), &corpus)?;
    let (_, index_bytes) = dir_bytes(work.path())?;
    let reader = Reader::open(work.path())?;
    let snap = reader.snapshot();
    let selected: Vec<&(String, String)> = match &qrels {
        Some(q) => queries
            .iter()
            .filter(|(id, _)| q.get(id).is_some_and(|r| r.values().any(|&g| g > 0)))
            .collect(),
        None => queries.iter().collect(),
    };
    let mut q = TextQuery::bm25("", args.k);
    q.bm25 = Bm25 {
        k1: args.k1,
        b: args.b,
    };
    q.algorithm = args.algorithm.into();
    // Warm-up: the first queries fault in the mapped postings.
    for (_, text) in selected.iter().take(50) {
        q.text = text;
        snap.search_text(&q)?;
    }
    let mut lat = Vec::with_capacity(selected.len() * args.repeat.max(1));
    let mut runs: Vec<Vec<(String, f32)>> = Vec::with_capacity(selected.len());
    for rep in 0..args.repeat.max(1) {
        for (_, text) in &selected {
            q.text = text;
            let t = Instant::now();
            let hits = snap.search_text(&q)?;
            lat.push(t.elapsed().as_secs_f64() * 1e3);
            if rep == 0 {
                runs.push(
                    hits.into_iter()
                        .map(|h| (h.key.to_string(), h.score))
                        .collect(),
                );
            }
        }
    }
    let mut mismatches = None;
    if args.check_exhaustive {
        let mut e = q.clone();
        e.algorithm = Algorithm::Exhaustive;
        let mut bad = 0usize;
        for ((_, text), run) in selected.iter().zip(&runs) {
            e.text = text;
            let hits = snap.search_text(&e)?;
            let same = hits.len() == run.len()
                && hits
                    .iter()
                    .zip(run)
                    .all(|(h, r)| h.key.to_string() == r.0 && h.score.to_bits() == r.1.to_bits());
            bad += usize::from(!same);
        }
        mismatches = Some(bad);
    }
    // BEIR drops a hit whose id equals the query id.
    let ranked: Vec<Vec<(&str, f32)>> = selected
        .iter()
        .zip(&runs)
        .map(|((qid, _), run)| {
            let mut r: Vec<(&str, f32)> = run.iter().map(|(d, s)| (d.as_str(), *s)).collect();
            strata::eval::drop_identical_ids(qid, &mut r, |h| h.0);
            r
        })
        .collect();
    if let Some(path) = &args.run_out {
        let f = std::fs::File::create(path)
            .map_err(|e| Error::io("create", Error::path_string(path), e))?;
        let mut w = BufWriter::new(f);
        for ((qid, _), r) in selected.iter().zip(&ranked) {
            strata::eval::write_trec_run(&mut w, qid, r, "strata")
                .map_err(|e| Error::io("write", Error::path_string(path), e))?;
        }
        w.flush()
            .map_err(|e| Error::io("write", Error::path_string(path), e))?;
    }
    type Measure<'a> = &'a dyn Fn(&[&str], &HashMap<String, i32>) -> f64;
    let metric = |f: Measure<'_>| -> Option<f64> {
        let qrels = qrels.as_ref()?;
        let mut sum = 0.0;
        for ((qid, _), r) in selected.iter().zip(&ranked) {
            let ids: Vec<&str> = r.iter().map(|x| x.0).collect();
            sum += qrels.get(qid).map_or(0.0, |rel| f(&ids, rel));
        }
        Some(sum / selected.len().max(1) as f64)
    };
    let k = args.k;
    let round4 = |x: Option<f64>| x.map(|v| (v * 1e4).round() / 1e4);
    let l = Latency::of(&lat);
    let mut out = serde_json::json!({
        "engine": "strata",
        "mode": args.mode,
        "dataset": args.beir.file_name().map(|s| s.to_string_lossy().to_string()),
        "n_docs": n_docs,
        "queries": selected.len(),
        "ndcg_at_10": round4(metric(&|r, rel| ndcg_at(r, rel, 10))),
        "mrr_at_10": round4(metric(&|r, rel| mrr_at(r, rel, 10))),
        "mean_ms": (l.mean_ms * 1e3).round() / 1e3,
        "p50_ms": (l.p50_ms * 1e3).round() / 1e3,
        "p99_ms": (l.p99_ms * 1e3).round() / 1e3,
        "qps": (l.qps() * 10.0).round() / 10.0,
        "build_s": (build_s * 100.0).round() / 100.0,
        "index_bytes": index_bytes,
        "segments": snap.segments().len(),
        "fields": format!("{:?}", args.fields).to_lowercase(),
        "algorithm": format!("{:?}", args.algorithm).to_lowercase(),
        "stopwords": !args.keep_stopwords,
        "k1": args.k1,
        "b": args.b,
    });
    if let Some(obj) = out.as_object_mut() {
        obj.insert(
            format!("recall_at_{k}"),
            serde_json::json!(round4(metric(&|r, rel| recall_at(r, rel, k)))),
        );
        if let Some(m) = mismatches {
            obj.insert("pruned_vs_exhaustive_mismatches".into(), m.into());
        }
    }
    out!("{out}")?;
    Ok(())
}

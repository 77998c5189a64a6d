//! An evaluation run end to end: retrieval quality and latency on a BEIR folder for BM25,
//! dense, learned-sparse and hybrid queries. `strata eval` and the Python binding both call
//! [`evaluate`], so their figures are the same for the same configuration.
//!
//! The index is built through the real path (create, add in write transactions, commit, drop
//! the writer), reopened read-only, and queried one query at a time on the calling thread
//! through [`Snapshot::query`](crate::txn::Snapshot), the call an application makes. Dense
//! search goes through the schema's IVF-PQ index (built when document vectors are given)
//! unless [`EvalConfig::exact`]; hybrid mode fuses every signal given (BM25 always, dense with
//! vector files, sparse with sparse files). Metrics are computed as BEIR / `pytrec_eval`
//! compute them (graded gains, hits whose id equals the query id dropped); a TREC run file can
//! be written so any standard evaluator can check them.
//!
//! Bad configuration (a field out of range, an incomplete set of signal files) is
//! [`Error::InvalidArgument`], found by [`EvalConfig::validate`] before any file is read; a
//! problem with the data (a document without a vector, qrels of another data set) is
//! [`Error::Input`] naming the file.

use crate::error::{Error, Result};
use crate::eval::{
    Qrels, drop_identical_ids, mrr_at, ndcg_at, percentile, read_corpus, read_qrels, read_queries,
    recall_at, sparse_by_id, vectors_by_id, write_trec_run,
};
use crate::io::FsDirectory;
use crate::schema::{DenseIndex, IvfPqParams, Schema};
use crate::search::{Query, Rm3, Rocchio, SearchParams};
use crate::sparse::query::{Algorithm, Bm25};
use crate::text::AnalyzerConfig;
use crate::txn::{Document, Index, IndexOptions, Reader, Snapshot};
use crate::types::{KeyKind, Metric, Vector};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

mod config;
mod cutoff;
mod tune;
mod workdir;

#[cfg(test)]
mod tests;

pub use config::{EvalConfig, EvalFields, EvalMode};
use workdir::WorkDir;

/// What an evaluation measured: the report `strata eval` prints, the run behind it, and notes
/// about the inputs.
#[derive(Debug, Clone)]
pub struct EvalReport {
    json: Value,
    ndcg_at_10: Option<f64>,
    mrr_at_10: Option<f64>,
    recall_at_k: Option<f64>,
    run: Vec<(String, Vec<(String, f32)>)>,
    notes: Vec<String>,
}

impl EvalReport {
    /// The report as one JSON object, exactly the line `strata eval` prints: the metrics
    /// (rounded to 4 decimals, `null` without qrels), latency in milliseconds, build time,
    /// index size and the settings that shaped the run.
    pub fn to_json(&self) -> Value {
        self.json.clone()
    }

    /// The mean nDCG@10 over the selected queries, rounded to 4 decimals as printed; `None`
    /// without qrels.
    pub fn ndcg_at_10(&self) -> Option<f64> {
        self.ndcg_at_10
    }

    /// The mean MRR@10, rounded as printed; `None` without qrels.
    pub fn mrr_at_10(&self) -> Option<f64> {
        self.mrr_at_10
    }

    /// The mean recall at [`EvalConfig::k`], rounded as printed; `None` without qrels.
    pub fn recall_at_k(&self) -> Option<f64> {
        self.recall_at_k
    }

    /// Per selected query, in queries-file order: the query id and its ranked (document id,
    /// score) hits, best first, after dropping a hit whose id equals the query id. These are
    /// the rankings the metrics and the TREC run file are computed from.
    pub fn run(&self) -> &[(String, Vec<(String, f32)>)] {
        &self.run
    }

    /// Notes about the inputs worth telling a user (e.g. that there are no qrels for the split,
    /// so only latency is measured).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}

/// The signals an evaluation uses, read from the files given.
#[derive(Default)]
struct Signals {
    dim: usize,
    doc_vectors: HashMap<String, Vec<f32>>,
    query_vectors: HashMap<String, Vec<f32>>,
    doc_sparse: HashMap<String, Vec<(String, f32)>>,
    query_sparse: HashMap<String, Vec<(String, f32)>>,
    dense: bool,
    sparse: bool,
    text: bool,
}

/// Reads the signal files `cfg` names and its mode uses ([`EvalConfig::validate`] has checked
/// that the sets are complete).
fn read_signals(cfg: &EvalConfig) -> Result<Signals> {
    let mut s = Signals {
        text: cfg.mode.uses_text(),
        ..Signals::default()
    };
    if cfg.mode.uses_dense()
        && let (Some(dv), Some(di), Some(qv), Some(qi)) = (
            &cfg.doc_vectors,
            &cfg.doc_ids,
            &cfg.query_vectors,
            &cfg.query_ids,
        )
    {
        let (dim, d) = vectors_by_id(dv, di)?;
        let (qdim, q) = vectors_by_id(qv, qi)?;
        if qdim != dim {
            let what = format!("query vectors have dimension {qdim}, documents {dim}");
            return Err(Error::input(Error::path_string(qv), None, what));
        }
        (s.dim, s.doc_vectors, s.query_vectors, s.dense) = (dim, d, q, true);
    }
    if cfg.mode.uses_sparse()
        && let (Some(d), Some(q)) = (&cfg.doc_sparse, &cfg.query_sparse)
    {
        s.doc_sparse = sparse_by_id(d)?;
        s.query_sparse = sparse_by_id(q)?;
        s.sparse = true;
    }
    Ok(s)
}

/// IVF-PQ parameters for `n` documents of dimension `dim`: about √n lists, dim / 8
/// sub-quantizers of 4 bits, every segment indexed.
fn ivf_params(cfg: &EvalConfig, n: usize, dim: usize) -> IvfPqParams {
    let nlist = cfg
        .nlist
        .unwrap_or_else(|| ((n as f64).sqrt().round() as u32).max(1));
    IvfPqParams {
        nlist,
        m: cfg.pq_m.unwrap_or((dim as u32 / 8).max(1)),
        min_rows: 0,
        ..IvfPqParams::default()
    }
}

/// Creates a new index at `dir` without a background merge thread: the evaluation is one
/// short-lived build, and its segments are whatever the batches committed.
fn create_index(dir: &Path, schema: Schema) -> Result<Index> {
    let fs = FsDirectory::open(dir)
        .map_err(|e| Error::io("create directory", Error::path_string(dir), e))?;
    let options = IndexOptions {
        background_merges: false,
        ..IndexOptions::default()
    };
    Index::create_in(Arc::new(fs), schema, options)
}

/// The schema of the evaluation index.
fn eval_schema(cfg: &EvalConfig, sig: &Signals, n_docs: usize) -> Schema {
    let a = AnalyzerConfig {
        stopwords: !cfg.keep_stopwords,
        ..AnalyzerConfig::default()
    };
    // RM3 reads its feedback documents' text.
    let store = cfg.prf && sig.text;
    let mut schema = match cfg.fields {
        EvalFields::Flat => Schema::new(KeyKind::Str).with_text("body", a, store),
        EvalFields::Multi => Schema::new(KeyKind::Str)
            .with_text("title", a.clone(), store)
            .with_text("text", a, store),
    };
    if sig.dense {
        let p = ivf_params(cfg, n_docs, sig.dim);
        schema = schema
            .with_dense("vector", sig.dim as u32, Metric::Dot)
            .with_index(DenseIndex::IvfPq(p));
    }
    if sig.sparse {
        schema = schema.with_sparse("sparse", cfg.impact_bits);
    }
    schema
}

/// The path named in errors about a missing document signal.
fn signal_file(path: Option<&PathBuf>) -> String {
    path.map_or_else(|| "<api>".to_owned(), |p| Error::path_string(p))
}

/// Builds the index of the corpus at `corpus` in `dir`, `cfg.batch` documents per
/// transaction; returns the number of documents and the build time in seconds.
fn build(cfg: &EvalConfig, dir: &Path, corpus: &Path, sig: &Signals) -> Result<(usize, f64)> {
    let docs: Vec<_> = read_corpus(corpus)?.collect::<Result<_>>()?;
    let schema = eval_schema(cfg, sig, docs.len());
    let t = Instant::now();
    let mut index = create_index(dir, schema)?;
    for chunk in docs.chunks(cfg.batch.max(1)) {
        let mut txn = index.begin();
        for d in chunk {
            let mut doc = Document::with_key(d.id.clone());
            doc = match cfg.fields {
                EvalFields::Flat => doc.with_text("body", format!("{} {}", d.title, d.text)),
                EvalFields::Multi => doc.with_text("title", &d.title).with_text("text", &d.text),
            };
            if sig.dense {
                let v = sig.doc_vectors.get(&d.id).ok_or_else(|| {
                    let what = format!("document {} has no vector (no line names it)", d.id);
                    Error::input(signal_file(cfg.doc_ids.as_ref()), None, what)
                })?;
                doc = doc.with_vector(Vector::F32(v.clone()));
            }
            if sig.sparse {
                let terms = sig.doc_sparse.get(&d.id).ok_or_else(|| {
                    let what = format!("document {} has no sparse vector (no line names it)", d.id);
                    Error::input(signal_file(cfg.doc_sparse.as_ref()), None, what)
                })?;
                doc = doc.with_sparse(terms.clone());
            }
            txn.add(doc)?;
        }
        txn.commit()?;
    }
    drop(index);
    Ok((docs.len(), t.elapsed().as_secs_f64()))
}

/// Whether `qid` has a positive judgement in `qrels`.
fn judged(qrels: &Qrels, qid: &str) -> bool {
    qrels.get(qid).is_some_and(|r| r.values().any(|&g| g > 0))
}

/// Fails unless some query of `queries` has a positive judgement in `qrels`: otherwise every
/// metric would be a mean over no query, printed as 0 (qrels of another split or data set).
fn check_qrels_match(
    qrels: &Qrels,
    queries: &[(String, String)],
    qrels_path: &Path,
    queries_path: &Path,
) -> Result<()> {
    if queries.iter().any(|(id, _)| judged(qrels, id)) {
        return Ok(());
    }
    let what = format!(
        "no query of {} ({} queries) has a positive judgement among the {} query ids judged \
         here; are they from the same data set and split?",
        queries_path.display(),
        queries.len(),
        qrels.len()
    );
    Err(Error::input(Error::path_string(qrels_path), None, what))
}

/// The query for one evaluation query (id, text).
fn make_query(cfg: &EvalConfig, sig: &Signals, nlist: u32, id: &str, text: &str) -> Result<Query> {
    let mut q = Query::new()
        .limit(cfg.k)
        .fusion(cfg.fusion)
        .bm25(Bm25 {
            k1: cfg.k1,
            b: cfg.b,
        })
        .algorithm(cfg.algorithm);
    if let Some(d) = cfg.depth {
        q = q.depth(d);
    }
    if sig.text {
        q = q.text(text);
        if cfg.prf {
            q = q.text_feedback(Rm3::new(cfg.rm3_docs, cfg.rm3_terms, cfg.rm3_weight));
        }
    }
    if sig.dense {
        let v = sig.query_vectors.get(id).ok_or_else(|| {
            let what = format!("query {id} has no vector (no line names it)");
            Error::input(signal_file(cfg.query_ids.as_ref()), None, what)
        })?;
        let nprobe = cfg.nprobe.unwrap_or((nlist as usize / 2).max(1));
        q = q.vector(v.clone()).exact(cfg.exact).nprobe(nprobe);
        if cfg.prf {
            q = q.feedback(Rocchio::new(0.4, 0.6, cfg.prf_docs));
        }
        if let Some(r) = cfg.rerank {
            q = q.rerank(r);
        }
    }
    if sig.sparse {
        let terms = sig.query_sparse.get(id).ok_or_else(|| {
            let what = format!("query {id} has no sparse vector (no line names it)");
            Error::input(signal_file(cfg.query_sparse.as_ref()), None, what)
        })?;
        if terms.is_empty() {
            // No term: the sparse source would be absent from the query; keep a zero term so
            // the query still has its sources (it matches nothing).
            q = q.sparse(vec![(String::new(), 0.0)]);
        } else {
            q = q.sparse(terms.clone());
        }
    }
    Ok(q)
}

/// One query's ranked (document id, score) hits, best first.
type Hits = Vec<(String, f32)>;

/// Runs every query of `built` `repeat` times (at least once) after a warm-up; returns the
/// latency of every run in milliseconds and the hits of the first repetition.
fn time_queries(snap: &Snapshot, built: &[Query], repeat: usize) -> Result<(Vec<f64>, Vec<Hits>)> {
    // Warm-up: the first queries fault in the mapped postings and vectors.
    for q in built.iter().take(50) {
        snap.query(q)?;
    }
    let mut lat = Vec::with_capacity(built.len() * repeat.max(1));
    let mut runs: Vec<Hits> = Vec::with_capacity(built.len());
    for rep in 0..repeat.max(1) {
        for q in built {
            let t = Instant::now();
            let res = snap.query(q)?;
            lat.push(t.elapsed().as_secs_f64() * 1e3);
            if rep == 0 {
                runs.push(
                    res.hits
                        .into_iter()
                        .map(|h| (h.key.to_string(), h.score))
                        .collect(),
                );
            }
        }
    }
    Ok((lat, runs))
}

/// The number of queries whose hits (ids and score bits) differ when every traversal is
/// exhaustive.
fn exhaustive_mismatches(snap: &Snapshot, built: &[Query], runs: &[Hits]) -> Result<usize> {
    let mut bad = 0usize;
    for (q, run) in built.iter().zip(runs) {
        let hits = snap
            .query(&q.clone().algorithm(Algorithm::Exhaustive))?
            .hits;
        let same = hits.len() == run.len()
            && hits
                .iter()
                .zip(run)
                .all(|(h, r)| h.key.to_string() == r.0 && h.score.to_bits() == r.1.to_bits());
        bad += usize::from(!same);
    }
    Ok(bad)
}

/// Writes `run` as a TREC run file at `path`.
fn write_run_file(path: &Path, run: &[(String, Hits)]) -> Result<()> {
    let name = Error::path_string(path);
    let f = std::fs::File::create(path).map_err(|e| Error::io("create", name.clone(), e))?;
    let mut w = BufWriter::new(f);
    for (qid, hits) in run {
        let r: Vec<(&str, f32)> = hits.iter().map(|(d, s)| (d.as_str(), *s)).collect();
        write_trec_run(&mut w, qid, &r, "strata")
            .map_err(|e| Error::io("write", name.clone(), e))?;
    }
    w.flush().map_err(|e| Error::io("write", name, e))
}

/// The total size of the files in `dir` (not recursive).
fn dir_bytes(dir: &Path) -> Result<u64> {
    let name = Error::path_string(dir);
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("list", name.clone(), e))?;
    let mut bytes = 0;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list", name.clone(), e))?;
        match std::fs::metadata(entry.path()) {
            Ok(meta) if meta.is_file() => bytes += meta.len(),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("stat", Error::path_string(&entry.path()), e)),
        }
    }
    Ok(bytes)
}

/// Mean, median and 99th percentile (nearest rank) of `ms`, and queries per second at the
/// mean.
fn latency(ms: &[f64]) -> (f64, f64, f64, f64) {
    let mut sorted = ms.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mean = ms.iter().sum::<f64>() / ms.len().max(1) as f64;
    let qps = if mean > 0.0 { 1000.0 / mean } else { 0.0 };
    (
        mean,
        percentile(&sorted, 50.0),
        percentile(&sorted, 99.0),
        qps,
    )
}

/// `x` rounded to 4 decimals, as every metric is reported.
fn round4(x: Option<f64>) -> Option<f64> {
    x.map(|v| (v * 1e4).round() / 1e4)
}

/// The mean of `f` over the queries of `run` (0 for a query without judgements); `None`
/// without qrels.
fn mean_metric(
    qrels: Option<&Qrels>,
    run: &[(String, Hits)],
    f: impl Fn(&[&str], &HashMap<String, i32>) -> f64,
) -> Option<f64> {
    let qrels = qrels?;
    let mut sum = 0.0;
    for (qid, hits) in run {
        let ids: Vec<&str> = hits.iter().map(|x| x.0.as_str()).collect();
        sum += qrels.get(qid).map_or(0.0, |rel| f(&ids, rel));
    }
    Some(sum / run.len().max(1) as f64)
}

/// What was measured, gathered for the report.
struct Measured<'a> {
    sig: &'a Signals,
    built: &'a [Query],
    n_docs: usize,
    build_s: f64,
    index_bytes: u64,
    segments: usize,
    lat: &'a [f64],
    metrics: [Option<f64>; 3],
    mismatches: Option<usize>,
}

/// The report object: the fixed members first, then those of the signals and options used.
fn report_json(cfg: &EvalConfig, m: &Measured<'_>) -> Value {
    let (mean, p50, p99, qps) = latency(m.lat);
    let [ndcg, mrr, recall] = m.metrics;
    let sources: Vec<&str> = m
        .built
        .first()
        .map(|q| q.sources().iter().map(|s| s.name()).collect())
        .unwrap_or_default();
    let fused = sources.len() > 1;
    let mut out = json!({
        "engine": "strata",
        "mode": cfg.mode.name(),
        "fusion": fused.then(|| cfg.fusion.name()),
        "sources": sources,
        "dataset": cfg.beir.file_name().map(|s| s.to_string_lossy().to_string()),
        "n_docs": m.n_docs,
        "queries": m.built.len(),
        "ndcg_at_10": ndcg,
        "mrr_at_10": mrr,
        "mean_ms": (mean * 1e3).round() / 1e3,
        "p50_ms": (p50 * 1e3).round() / 1e3,
        "p99_ms": (p99 * 1e3).round() / 1e3,
        "qps": (qps * 10.0).round() / 10.0,
        "build_s": (m.build_s * 100.0).round() / 100.0,
        "index_bytes": m.index_bytes,
        "segments": m.segments,
        "fields": cfg.fields.name(),
        "algorithm": algorithm_name(cfg.algorithm),
        "stopwords": !cfg.keep_stopwords,
        "k1": cfg.k1,
        "b": cfg.b,
    });
    let Some(obj) = out.as_object_mut() else {
        return out;
    };
    obj.insert(format!("recall_at_{}", cfg.k), json!(recall));
    if m.sig.dense {
        let p = ivf_params(cfg, m.n_docs, m.sig.dim);
        let depth = m.built.first().map_or(cfg.k, Query::effective_depth);
        obj.insert("exact".into(), cfg.exact.into());
        obj.insert("nlist".into(), p.nlist.into());
        obj.insert("pq_m".into(), p.m.into());
        let d = m.built.first().and_then(|q| q.dense.as_ref());
        let defaults = SearchParams::new(depth);
        let nprobe = d.and_then(|d| d.nprobe).unwrap_or(defaults.nprobe);
        obj.insert("nprobe".into(), nprobe.into());
        let rerank = d.and_then(|d| d.rerank).unwrap_or(defaults.rerank);
        obj.insert("rerank".into(), rerank.into());
    }
    if m.sig.dense && cfg.prf {
        obj.insert("prf_docs".into(), cfg.prf_docs.into());
    }
    if m.sig.text && cfg.prf {
        obj.insert(
            "rm3".into(),
            json!({"docs": cfg.rm3_docs, "terms": cfg.rm3_terms, "original_weight": cfg.rm3_weight}),
        );
    }
    if m.sig.sparse {
        obj.insert("impact_bits".into(), cfg.impact_bits.into());
    }
    if let Some(n) = m.mismatches {
        obj.insert("pruned_vs_exhaustive_mismatches".into(), n.into());
    }
    out
}

/// The name of a traversal algorithm as `strata eval --algorithm` spells it.
fn algorithm_name(a: Algorithm) -> &'static str {
    match a {
        Algorithm::Auto => "auto",
        Algorithm::BlockMaxWand => "wand",
        Algorithm::MaxScore => "maxscore",
        Algorithm::Exhaustive => "exhaustive",
        Algorithm::TermAtATime => "taat",
    }
}

/// Runs the evaluation `cfg` describes: reads the BEIR folder and any signal files, builds an
/// index in [`EvalConfig::dir`] (or a temporary directory removed afterwards), reopens it
/// read-only, runs every query with a positive judgement (every query without qrels) through
/// [`Snapshot::query`], and computes nDCG@10, recall@k and MRR@10 and the latency figures.
/// Writes a TREC run file when [`EvalConfig::run_out`] is set.
///
/// Without `qrels/SPLIT.tsv` every query is timed, the metrics are `None` and the report says
/// so in [`EvalReport::notes`].
///
/// # Errors
///
/// [`Error::InvalidArgument`] for a configuration [`EvalConfig::validate`] refuses;
/// [`Error::Input`] naming the file for unreadable or inconsistent data (a document without a
/// vector, qrels that judge none of the queries); I/O and engine errors as they come.
pub fn evaluate(cfg: &EvalConfig) -> Result<EvalReport> {
    cfg.validate()?;
    // The readers fall back to FILE.zst when FILE does not exist.
    let corpus = cfg
        .corpus
        .clone()
        .unwrap_or_else(|| cfg.beir.join("corpus.jsonl"));
    let queries_path = cfg
        .queries
        .clone()
        .unwrap_or_else(|| cfg.beir.join("queries.jsonl"));
    let qrels_path = cfg.beir.join("qrels").join(format!("{}.tsv", cfg.split));
    let queries = read_queries(&queries_path)?;
    let mut notes = Vec::new();
    let qrels = if qrels_path.exists() {
        Some(read_qrels(&qrels_path)?)
    } else {
        notes.push(format!(
            "no {}: timing every query, no relevance metrics",
            qrels_path.display()
        ));
        None
    };
    if let Some(q) = &qrels {
        check_qrels_match(q, &queries, &qrels_path, &queries_path)?;
    }
    let mut sig = read_signals(cfg)?;
    let work = WorkDir::new(cfg.dir.as_deref())?;
    let (n_docs, build_s) = build(cfg, work.path(), &corpus, &sig)?;
    let tuned = if cfg.tune {
        Some(tune::tune(cfg, work.path(), &mut notes)?)
    } else {
        None
    };
    let index_bytes = dir_bytes(work.path())?;
    let reader = Reader::open(work.path())?;
    let snap = reader.snapshot();
    let selected: Vec<&(String, String)> = match &qrels {
        Some(q) => queries.iter().filter(|(id, _)| judged(q, id)).collect(),
        None => queries.iter().collect(),
    };
    let nlist = ivf_params(cfg, n_docs, sig.dim).nlist;
    let built: Vec<Query> = selected
        .iter()
        .map(|(id, text)| make_query(cfg, &sig, nlist, id, text))
        .collect::<Result<_>>()?;
    let (lat, runs) = time_queries(&snap, &built, cfg.repeat)?;
    let mismatches = if cfg.check_exhaustive {
        Some(exhaustive_mismatches(&snap, &built, &runs)?)
    } else {
        None
    };
    // BEIR drops a hit whose id equals the query id.
    let run: Vec<(String, Hits)> = selected
        .iter()
        .zip(runs)
        .map(|((qid, _), mut hits)| {
            drop_identical_ids(qid, &mut hits, |h| h.0.as_str());
            (qid.clone(), hits)
        })
        .collect();
    if let Some(path) = &cfg.run_out {
        write_run_file(path, &run)?;
    }
    let k = cfg.k;
    let metrics = [
        round4(mean_metric(qrels.as_ref(), &run, |r, rel| {
            ndcg_at(r, rel, 10)
        })),
        round4(mean_metric(qrels.as_ref(), &run, |r, rel| {
            mrr_at(r, rel, 10)
        })),
        round4(mean_metric(qrels.as_ref(), &run, |r, rel| {
            recall_at(r, rel, k)
        })),
    ];
    let cut = match (&qrels, cfg.cutoff) {
        (Some(q), true) => Some(cutoff::cutoff(
            cfg,
            work.path(),
            &mut sig,
            &snap,
            nlist,
            &queries,
            &built,
            &run,
            q,
            &mut notes,
        )?),
        _ => None,
    };
    let measured = Measured {
        sig: &sig,
        built: &built,
        n_docs,
        build_s,
        index_bytes,
        segments: snap.segments().len(),
        lat: &lat,
        metrics,
        mismatches,
    };
    let mut json = report_json(cfg, &measured);
    if let (Some(c), Some(obj)) = (cut, json.as_object_mut()) {
        obj.extend(c);
    }
    if let (Some(t), Some(obj)) = (&tuned, json.as_object_mut()) {
        obj.insert("tuned".into(), t.committed.into());
        obj.insert(
            "tune_s".into(),
            ((t.seconds * 100.0).round() / 100.0).into(),
        );
        obj.insert("tune_queries".into(), t.queries.into());
        obj.insert("tune_best_epoch".into(), t.best_epoch.into());
    }
    let [ndcg_at_10, mrr_at_10, recall_at_k] = metrics;
    Ok(EvalReport {
        json,
        ndcg_at_10,
        mrr_at_10,
        recall_at_k,
        run,
        notes,
    })
}

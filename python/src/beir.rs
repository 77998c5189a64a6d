//! BEIR folders: reading them, and (through the library's evaluation) scoring them.

use crate::errors::IntoPy;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::path::PathBuf;

/// (corpus, queries, qrels) of `read_beir`.
type BeirParts<'py> = (
    Bound<'py, PyDict>,
    Bound<'py, PyDict>,
    Option<Bound<'py, PyDict>>,
);

/// Reads a BEIR folder: (corpus, queries, qrels). The corpus is columnar, {"_id": [...],
/// "title": [...], "text": [...]}, ready for `txn.add`; queries are {"_id": [...], "text":
/// [...]}; qrels are {query id: {doc id: grade}} of `split` (None if the folder has no
/// qrels/SPLIT.tsv). Files may be zstd-compressed (`corpus.jsonl.zst`).
#[pyfunction]
#[pyo3(signature = (folder, split="test"))]
pub fn read_beir<'py>(py: Python<'py>, folder: PathBuf, split: &str) -> PyResult<BeirParts<'py>> {
    let qrels_path = folder.join("qrels").join(format!("{split}.tsv"));
    let (docs, queries, qrels) = py
        .detach(|| -> strata::Result<_> {
            let docs: Vec<_> = strata::eval::read_corpus(&folder.join("corpus.jsonl"))?
                .collect::<strata::Result<_>>()?;
            let queries = strata::eval::read_queries(&folder.join("queries.jsonl"))?;
            let mut zst = qrels_path.clone().into_os_string();
            zst.push(".zst");
            let qrels = if qrels_path.exists() || PathBuf::from(zst).exists() {
                Some(strata::eval::read_qrels(&qrels_path)?)
            } else {
                None
            };
            Ok((docs, queries, qrels))
        })
        .py_err()?;
    let corpus = PyDict::new(py);
    corpus.set_item("_id", PyList::new(py, docs.iter().map(|d| d.id.as_str()))?)?;
    corpus.set_item(
        "title",
        PyList::new(py, docs.iter().map(|d| d.title.as_str()))?,
    )?;
    corpus.set_item(
        "text",
        PyList::new(py, docs.iter().map(|d| d.text.as_str()))?,
    )?;
    let q = PyDict::new(py);
    q.set_item(
        "_id",
        PyList::new(py, queries.iter().map(|(id, _)| id.as_str()))?,
    )?;
    q.set_item(
        "text",
        PyList::new(py, queries.iter().map(|(_, t)| t.as_str()))?,
    )?;
    let qrels = match qrels {
        Some(qr) => {
            let d = PyDict::new(py);
            for (qid, rel) in qr {
                let r = PyDict::new(py);
                for (doc, g) in rel {
                    r.set_item(doc, g)?;
                }
                d.set_item(qid, r)?;
            }
            Some(d)
        }
        None => None,
    };
    Ok((corpus, q, qrels))
}

/// Parses an evaluation mode.
fn mode(name: &str) -> PyResult<strata::eval::EvalMode> {
    use strata::eval::EvalMode;
    Ok(match name {
        "bm25" => EvalMode::Bm25,
        "dense" => EvalMode::Dense,
        "sparse" => EvalMode::Sparse,
        "hybrid" => EvalMode::Hybrid,
        other => {
            return Err(crate::errors::InvalidArgumentError::new_err(format!(
                "mode {other:?}: expected \"bm25\", \"dense\", \"sparse\" or \"hybrid\""
            )));
        }
    })
}

/// Parses a traversal algorithm.
fn algorithm(name: &str) -> PyResult<strata::Algorithm> {
    use strata::Algorithm;
    Ok(match name {
        "auto" => Algorithm::Auto,
        "wand" => Algorithm::BlockMaxWand,
        "maxscore" => Algorithm::MaxScore,
        "exhaustive" => Algorithm::Exhaustive,
        "taat" => Algorithm::TermAtATime,
        other => {
            return Err(crate::errors::InvalidArgumentError::new_err(format!(
                "algorithm {other:?}: expected \"auto\", \"wand\", \"maxscore\", \"exhaustive\" or \"taat\""
            )));
        }
    })
}

/// Evaluates retrieval on a BEIR folder exactly as `strata eval` does (the same library
/// call): builds an index through transactions, reopens it read-only, runs every judged
/// query one at a time on this thread, and returns the report `strata eval` prints as a
/// dict (ndcg_at_10, recall_at_K, mrr_at_10, mean_ms, p50_ms, p99_ms, build_s, ...).
/// Keyword arguments mirror the command's flags (doc_vectors, doc_ids, query_vectors,
/// query_ids, doc_sparse, query_sparse, fusion, rrf_k, exact, nlist, pq_m, nprobe, rerank,
/// prf, fields, algorithm, k1, b, run_out, cutoff, tune, train_split, train_query_vectors,
/// train_query_ids, ...). The GIL is released while it runs.
#[pyfunction]
#[pyo3(signature = (folder, mode="bm25", *, split="test", k=100, run_out=None, corpus=None, queries=None, doc_vectors=None, doc_ids=None, query_vectors=None, query_ids=None, doc_sparse=None, query_sparse=None, fusion="rrf", rrf_k=60.0, depth=None, exact=false, nlist=None, pq_m=None, nprobe=None, rerank=None, impact_bits=8, prf=false, prf_docs=3, rm3_docs=10, rm3_terms=10, rm3_weight=0.5, fields="flat", algorithm="auto", k1=0.9, b=0.4, check_exhaustive=false, dir=None, keep_stopwords=false, repeat=1, batch=200_000, cutoff=false, tune=false, train_split="train", train_query_vectors=None, train_query_ids=None))]
#[allow(clippy::too_many_arguments)]
pub fn eval_beir<'py>(
    py: Python<'py>,
    folder: PathBuf,
    mode: &str,
    split: &str,
    k: usize,
    run_out: Option<PathBuf>,
    corpus: Option<PathBuf>,
    queries: Option<PathBuf>,
    doc_vectors: Option<PathBuf>,
    doc_ids: Option<PathBuf>,
    query_vectors: Option<PathBuf>,
    query_ids: Option<PathBuf>,
    doc_sparse: Option<PathBuf>,
    query_sparse: Option<PathBuf>,
    fusion: &str,
    rrf_k: f32,
    depth: Option<usize>,
    exact: bool,
    nlist: Option<u32>,
    pq_m: Option<u32>,
    nprobe: Option<usize>,
    rerank: Option<usize>,
    impact_bits: u8,
    prf: bool,
    prf_docs: usize,
    rm3_docs: usize,
    rm3_terms: usize,
    rm3_weight: f32,
    fields: &str,
    algorithm: &str,
    k1: f32,
    b: f32,
    check_exhaustive: bool,
    dir: Option<PathBuf>,
    keep_stopwords: bool,
    repeat: usize,
    batch: usize,
    cutoff: bool,
    tune: bool,
    train_split: &str,
    train_query_vectors: Option<PathBuf>,
    train_query_ids: Option<PathBuf>,
) -> PyResult<Bound<'py, PyAny>> {
    use strata::eval::{EvalConfig, EvalFields};
    let cfg = EvalConfig {
        mode: self::mode(mode)?,
        split: split.to_owned(),
        k,
        run_out,
        corpus,
        queries,
        doc_vectors,
        doc_ids,
        query_vectors,
        query_ids,
        doc_sparse,
        query_sparse,
        fusion: crate::read::fusion(fusion, rrf_k)?,
        depth,
        exact,
        nlist,
        pq_m,
        nprobe,
        rerank,
        impact_bits,
        prf,
        prf_docs,
        rm3_docs,
        rm3_terms,
        rm3_weight,
        fields: match fields {
            "flat" => EvalFields::Flat,
            "multi" => EvalFields::Multi,
            other => {
                return Err(crate::errors::InvalidArgumentError::new_err(format!(
                    "fields {other:?}: expected \"flat\" or \"multi\""
                )));
            }
        },
        algorithm: self::algorithm(algorithm)?,
        k1,
        b,
        check_exhaustive,
        dir,
        keep_stopwords,
        repeat,
        batch,
        cutoff,
        tune,
        train_split: train_split.to_owned(),
        train_query_vectors,
        train_query_ids,
        ..EvalConfig::new(folder)
    };
    let report = py.detach(|| strata::eval::evaluate(&cfg)).py_err()?;
    let text = report.to_json().to_string();
    let out = py.import("json")?.call_method1("loads", (text,))?;
    // What `strata eval` prints to stderr (e.g. "no qrels: timing every query") arrives as
    // warnings.
    let warnings = py.import("warnings")?;
    for note in report.notes() {
        warnings.call_method1("warn", (note.as_str(),))?;
    }
    Ok(out)
}

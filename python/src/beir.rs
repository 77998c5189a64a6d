//! BEIR folders: reading them, and (through the library's evaluation) scoring them.

use crate::errors::IntoPy;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::path::PathBuf;

/// Reads a BEIR folder: (corpus, queries, qrels). The corpus is columnar, {"_id": [...],
/// "title": [...], "text": [...]}, ready for `txn.add`; queries are {"_id": [...], "text":
/// [...]}; qrels are {query id: {doc id: grade}} of `split` (None if the folder has no
/// qrels/SPLIT.tsv). Files may be zstd-compressed (`corpus.jsonl.zst`).
#[pyfunction]
#[pyo3(signature = (folder, split="test"))]
pub fn read_beir<'py>(
    py: Python<'py>,
    folder: PathBuf,
    split: &str,
) -> PyResult<(
    Bound<'py, PyDict>,
    Bound<'py, PyDict>,
    Option<Bound<'py, PyDict>>,
)> {
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

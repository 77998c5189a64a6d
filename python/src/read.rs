//! The read side: FAISS-shaped `search`, the full `query`, `get`, and snapshots.
//!
//! Every call takes one `strata::Snapshot` and runs with the GIL released; `search` splits a
//! batch of queries over `threads` scoped threads, each answering its rows one at a time as
//! the command line's `bench-ann` does.

use crate::convert::{self, RowSlice};
use crate::errors::{InputError, IntoPy, InvalidArgumentError};
use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use strata::{
    DenseIndex, DocFilter, Filter, FusionMethod, Hit, Key, KeyKind, Metric, Normalization, Query,
    QueryHit, SearchParams, Snapshot, Source,
};

/// The arguments of `search`, checked.
pub struct SearchArgs {
    pub k: usize,
    pub nprobe: Option<usize>,
    pub rerank: Option<usize>,
    pub exact: bool,
    pub threads: usize,
    pub filter: Option<String>,
}

/// `search`: (scores, keys), each of shape (rows, k). Missing hits (fewer than k documents, or
/// a filter that lets fewer through) have key -1 (integer keys) or None (string keys) and the
/// worst score (-inf for similarities, +inf for l2 distances).
pub fn search<'py>(
    py: Python<'py>,
    snap: &Snapshot,
    queries: &Bound<'py, PyAny>,
    a: &SearchArgs,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let Some((dim, metric, _)) = snap.schema().dense_field() else {
        return Err(InvalidArgumentError::new_err(
            "search: this index has no vector field (use query(text=...))",
        ));
    };
    if a.k == 0 {
        return Err(InvalidArgumentError::new_err(
            "search: k must be at least 1",
        ));
    }
    if a.threads == 0 {
        return Err(InvalidArgumentError::new_err(
            "search: threads must be at least 1",
        ));
    }
    let rows = convert::rows(queries, "queries")?;
    let (n, qdim) = rows.shape();
    if n > 0 && qdim != dim {
        return Err(InputError::new_err(format!(
            "queries: dimension {qdim}, the index has {dim}"
        )));
    }
    // f16 queries are widened once; f32 ones are read in place.
    let widened: Vec<f32>;
    let slice = rows.slice()?;
    let values: &[f32] = match slice {
        RowSlice::F32(v) => v,
        RowSlice::F16(v) => {
            widened = v.iter().map(|x| x.to_f32()).collect();
            &widened
        }
    };
    let filter = match &a.filter {
        Some(w) => Some(snap.compile_filter(&Filter::parse(w).py_err()?).py_err()?),
        None => None,
    };
    let defaults = SearchParams::new(a.k);
    let p = SearchParams {
        k: a.k,
        nprobe: a.nprobe.unwrap_or(defaults.nprobe),
        rerank: a.rerank.unwrap_or(defaults.rerank),
        exact: a.exact,
    };
    let threads = a.threads.min(n.max(1));
    let hits: Vec<Vec<Hit>> = py
        .detach(|| run_rows(snap, values, dim, n, &p, filter.as_ref(), threads))
        .py_err()?;
    let worst = if metric == Metric::L2 {
        f32::INFINITY
    } else {
        f32::NEG_INFINITY
    };
    let mut scores = vec![worst; n * a.k];
    for (i, row) in hits.iter().enumerate() {
        for (j, h) in row.iter().take(a.k).enumerate() {
            if let Some(s) = scores.get_mut(i * a.k + j) {
                *s = h.score;
            }
        }
    }
    let shape = (n, a.k);
    let scores = PyArray1::from_vec(py, scores).reshape(shape)?.into_any();
    let keys = match snap.schema().key {
        KeyKind::U64 => {
            let mut labels = vec![-1i64; n * a.k];
            for (i, row) in hits.iter().enumerate() {
                for (j, h) in row.iter().take(a.k).enumerate() {
                    let v = match &h.key {
                        Key::U64(v) => i64::try_from(*v).map_err(|_| {
                            InputError::new_err(format!(
                                "key {v} does not fit an int64 label; read it with query()"
                            ))
                        })?,
                        Key::Str(_) => -1,
                    };
                    if let Some(l) = labels.get_mut(i * a.k + j) {
                        *l = v;
                    }
                }
            }
            PyArray1::from_vec(py, labels).reshape(shape)?.into_any()
        }
        KeyKind::Str => {
            let mut flat: Vec<Bound<'py, PyAny>> = Vec::with_capacity(n * a.k);
            for row in &hits {
                for j in 0..a.k {
                    flat.push(match row.get(j) {
                        Some(h) => convert::key_to_py(py, &h.key)?,
                        None => py.None().into_bound(py),
                    });
                }
            }
            let np = py.import("numpy")?;
            let kwargs = PyDict::new(py);
            kwargs.set_item("dtype", "object")?;
            let arr = np.call_method("empty", (n * a.k,), Some(&kwargs))?;
            for (i, v) in flat.into_iter().enumerate() {
                arr.set_item(i, v)?;
            }
            arr.call_method1("reshape", (shape,))?
        }
    };
    Ok((scores, keys))
}

/// Answers rows `0..n` of `values` on `threads` threads, each taking a contiguous share.
///
/// Exact searches without a filter go through `Snapshot::search_batch`, which scans each block
/// of rows once for the whole share (bit for bit the answers of one query at a time, several
/// times faster); IVF-PQ and filtered searches answer one query at a time, the path
/// `strata bench-ann` times by default.
fn run_rows(
    snap: &Snapshot,
    values: &[f32],
    dim: usize,
    n: usize,
    p: &SearchParams,
    filter: Option<&DocFilter>,
    threads: usize,
) -> strata::Result<Vec<Vec<Hit>>> {
    let batched =
        filter.is_none() && (p.exact || matches!(snap.schema().dense_index(), DenseIndex::Flat));
    let row = |i: usize| values.get(i * dim..(i + 1) * dim).unwrap_or(&[]);
    let share = |rows: std::ops::Range<usize>| -> strata::Result<Vec<Vec<Hit>>> {
        if batched {
            let qs: Vec<&[f32]> = rows.map(row).collect();
            return Ok(snap
                .search_batch(&qs, p)?
                .into_iter()
                .map(|(h, _)| h)
                .collect());
        }
        rows.map(|i| snap.search_filtered(row(i), p, filter).map(|(h, _)| h))
            .collect()
    };
    if threads <= 1 {
        return share(0..n);
    }
    let per = n.div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let share = &share;
                s.spawn(move || share(t * per..((t + 1) * per).min(n)))
            })
            .collect();
        let mut out = Vec::with_capacity(n);
        for h in handles {
            match h.join() {
                Ok(part) => out.extend(part?),
                Err(_) => {
                    return Err(strata::Error::InvalidArgument(
                        "a search thread panicked".to_owned(),
                    ));
                }
            }
        }
        Ok(out)
    })
}

/// The fusion method named `name`.
pub fn fusion(name: &str, rrf_k: f32) -> PyResult<FusionMethod> {
    Ok(match name {
        "rrf" => FusionMethod::Rrf { k: rrf_k },
        "convex" | "minmax" => FusionMethod::Convex(Normalization::MinMax),
        "zscore" => FusionMethod::Convex(Normalization::ZScore),
        "dbsf" => FusionMethod::Dbsf,
        other => {
            return Err(InvalidArgumentError::new_err(format!(
                "fusion {other:?}: expected \"rrf\", \"convex\", \"zscore\" or \"dbsf\""
            )));
        }
    })
}

fn source_named(name: &str) -> PyResult<Source> {
    Source::ALL
        .into_iter()
        .find(|s| s.name() == name)
        .ok_or_else(|| {
            InvalidArgumentError::new_err(format!(
                "weights: unknown source {name:?} (expected \"dense\", \"text\" or \"sparse\")"
            ))
        })
}

/// The arguments of `query`, as Python gave them.
pub struct QueryArgs<'py> {
    pub vector: Option<Bound<'py, PyAny>>,
    pub text: Option<String>,
    pub sparse: Option<Bound<'py, PyAny>>,
    pub filter: Option<String>,
    pub fusion: String,
    pub rrf_k: f32,
    pub k: usize,
    pub offset: usize,
    pub nprobe: Option<usize>,
    pub rerank: Option<usize>,
    pub exact: bool,
    pub text_fields: Option<Vec<String>>,
    pub depth: Option<usize>,
    pub weights: Option<Bound<'py, PyDict>>,
    pub return_fields: bool,
    pub qid: Option<String>,
    pub min_probability: Option<f32>,
}

/// Builds the strata query of `a`.
fn build_query(a: &QueryArgs<'_>) -> PyResult<Query> {
    if a.k == 0 {
        return Err(InvalidArgumentError::new_err("query: k must be at least 1"));
    }
    let mut q = Query::new();
    if let Some(p) = a.min_probability {
        q = q.min_probability(p);
    }
    let mut q = q
        .limit(a.k)
        .offset(a.offset)
        .fusion(fusion(&a.fusion, a.rrf_k)?)
        .exact(a.exact);
    if let Some(v) = &a.vector {
        let rows = convert::rows(v, "vector")?;
        let (n, _) = rows.shape();
        if n != 1 {
            return Err(InputError::new_err(format!(
                "vector: expected one vector, got {n} rows (use search() for a batch)"
            )));
        }
        let values = match rows.slice()? {
            RowSlice::F32(v) => v.to_vec(),
            RowSlice::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
        };
        q = q.vector(values);
        if let Some(p) = a.nprobe {
            q = q.nprobe(p);
        }
        if let Some(r) = a.rerank {
            q = q.rerank(r);
        }
    }
    if let Some(t) = &a.text {
        q = q.text(t.clone());
        if let Some(f) = &a.text_fields {
            q = q.fields(f.iter().cloned());
        }
    }
    if let Some(s) = &a.sparse {
        q = q.sparse(convert::sparse_terms(s, "sparse")?);
    }
    if let Some(w) = &a.filter {
        q = q.filter(Filter::parse(w).py_err()?);
    }
    if let Some(d) = a.depth {
        q = q.depth(d);
    }
    if let Some(ws) = &a.weights {
        for (name, w) in ws.iter() {
            let name: String = name.extract()?;
            q = q.weight(source_named(&name)?, w.extract()?);
        }
    }
    Ok(q)
}

/// One hit of `query`.
#[pyclass(module = "strata", name = "Hit", frozen, get_all)]
pub struct PyHit {
    /// The document key (str or int).
    pub key: Py<PyAny>,
    /// The fused score (a single source's score when one source was asked).
    pub score: f32,
    /// Per source that returned the document: {name: (score, rank from 1)}.
    pub sources: Py<PyDict>,
    /// Stored text fields and attributes, by name (empty when `return_fields=False`).
    pub fields: Py<PyDict>,
}

#[pymethods]
impl PyHit {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Hit(key={}, score={}, sources={}, fields={})",
            self.key.bind(py).repr()?,
            self.score,
            self.sources.bind(py).repr()?,
            self.fields.bind(py).repr()?
        ))
    }
}

/// The answer to `query`: a sequence of hits, best first.
#[pyclass(module = "strata", frozen, sequence)]
pub struct QueryResult {
    hits: Vec<Py<PyHit>>,
    /// The query id used in `to_arrow` (None: "0").
    #[pyo3(get)]
    qid: Option<String>,
    /// Distinct documents the sources returned before pagination.
    #[pyo3(get)]
    candidates: usize,
    /// Whether fewer than k documents could be returned.
    #[pyo3(get)]
    fewer_than_limit: bool,
    offset: usize,
}

#[pymethods]
impl QueryResult {
    fn __len__(&self) -> usize {
        self.hits.len()
    }

    /// A hit by position (negative from the end), or a list of hits for a slice.
    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        i: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        // An integer indexes the hits directly (iteration calls this once per hit); a slice
        // goes through a list of them.
        if let Ok(j) = i.extract::<isize>() {
            let n = self.hits.len() as isize;
            let at = if j < 0 { j + n } else { j };
            return usize::try_from(at)
                .ok()
                .and_then(|at| self.hits.get(at))
                .map(|h| h.clone_ref(py).into_bound(py).into_any())
                .ok_or_else(|| pyo3::exceptions::PyIndexError::new_err("hit index out of range"));
        }
        let all = PyList::new(py, self.hits.iter().map(|h| h.clone_ref(py)))?;
        all.as_any().get_item(i)
    }

    /// The hits as a list.
    #[getter]
    fn hits(&self, py: Python<'_>) -> Vec<Py<PyHit>> {
        self.hits.iter().map(|h| h.clone_ref(py)).collect()
    }

    fn __repr__(&self) -> String {
        format!("QueryResult({} hits)", self.hits.len())
    }

    /// The hits as a pyarrow Table with the fixed schema (qid, key, score, rank, source):
    /// key as a string, rank from 0 (counting the offset), source the '+'-joined names of the
    /// sources that returned the hit.
    #[pyo3(signature = (qid=None))]
    fn to_arrow<'py>(&self, py: Python<'py>, qid: Option<String>) -> PyResult<Bound<'py, PyAny>> {
        let qid = qid
            .or_else(|| self.qid.clone())
            .unwrap_or_else(|| "0".to_owned());
        let n = self.hits.len();
        let (mut keys, mut scores, mut ranks, mut sources) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for (i, h) in self.hits.iter().enumerate() {
            let h = h.get();
            keys.push(h.key.bind(py).str()?.to_string());
            scores.push(h.score);
            ranks.push((self.offset + i) as i64);
            let names: Vec<String> = h
                .sources
                .bind(py)
                .keys()
                .iter()
                .map(|k| k.str().map(|s| s.to_string()))
                .collect::<PyResult<_>>()?;
            sources.push(names.join("+"));
        }
        let qids = vec![qid; n];
        py.import("strata._frames")?
            .call_method1("results_table", (qids, keys, scores, ranks, sources))
    }

    /// `to_arrow(qid).to_pandas()` (needs pandas).
    #[pyo3(signature = (qid=None))]
    fn to_pandas<'py>(&self, py: Python<'py>, qid: Option<String>) -> PyResult<Bound<'py, PyAny>> {
        self.to_arrow(py, qid)?.call_method0("to_pandas")
    }
}

/// `query`: runs `a` on `snap` with the GIL released.
pub fn query(py: Python<'_>, snap: &Snapshot, a: &QueryArgs<'_>) -> PyResult<QueryResult> {
    let q = build_query(a)?;
    let fetch = a.return_fields;
    let (res, docs) = py
        .detach(|| -> strata::Result<_> {
            let res = snap.query(&q)?;
            let mut docs = Vec::new();
            if fetch {
                for h in &res.hits {
                    let fields = snap.stored_fields(&h.address)?;
                    let attrs = snap.attributes_of(h.address.segment, h.address.row);
                    docs.push((fields, attrs));
                }
            }
            Ok((res, docs))
        })
        .py_err()?;
    let mut hits = Vec::with_capacity(res.hits.len());
    for (i, h) in res.hits.iter().enumerate() {
        hits.push(Py::new(py, hit(py, h, docs.get(i))?)?);
    }
    Ok(QueryResult {
        hits,
        qid: a.qid.clone(),
        candidates: res.candidates,
        fewer_than_limit: res.fewer_than_limit,
        offset: a.offset,
    })
}

type Fields = (Vec<(String, String)>, Vec<(String, strata::AttrValue)>);

fn hit(py: Python<'_>, h: &QueryHit, doc: Option<&Fields>) -> PyResult<PyHit> {
    let sources = PyDict::new(py);
    for s in Source::ALL {
        if let Some(ss) = h.source(s) {
            sources.set_item(
                s.name(),
                PyTuple::new(
                    py,
                    [
                        ss.score.into_pyobject(py)?.into_any(),
                        ss.rank.into_pyobject(py)?.into_any(),
                    ],
                )?,
            )?;
        }
    }
    let fields = PyDict::new(py);
    if let Some((text, attrs)) = doc {
        for (name, t) in text {
            fields.set_item(name, t)?;
        }
        for (name, v) in attrs {
            fields.set_item(name, convert::attr_to_py(py, v)?)?;
        }
    }
    Ok(PyHit {
        key: convert::key_to_py(py, &h.key)?.unbind(),
        score: h.score,
        sources: sources.unbind(),
        fields: fields.unbind(),
    })
}

/// `get`: the stored document with `key` as {"key", "fields"} (text and attributes), or None.
pub fn get<'py>(
    py: Python<'py>,
    snap: &Snapshot,
    key: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    let key = convert::key(key, snap.schema().key)?;
    let Some(doc) = py.detach(|| snap.get(&key)).py_err()? else {
        return Ok(None);
    };
    let out = PyDict::new(py);
    out.set_item("key", convert::key_to_py(py, &doc.key)?)?;
    let fields = PyDict::new(py);
    for (name, t) in &doc.fields {
        fields.set_item(name, t)?;
    }
    for (name, v) in &doc.attributes {
        fields.set_item(name, convert::attr_to_py(py, v)?)?;
    }
    out.set_item("fields", fields)?;
    Ok(Some(out))
}

/// A read view of one commit: stable across later commits, merges and garbage collection.
#[pyclass(module = "strata", name = "Snapshot", frozen)]
pub struct PySnapshot {
    pub snap: Snapshot,
}

#[pymethods]
impl PySnapshot {
    /// The commit generation this snapshot shows.
    #[getter]
    fn generation(&self) -> u64 {
        self.snap.generation()
    }

    fn __len__(&self) -> usize {
        self.snap.num_docs() as usize
    }

    /// Live documents in this snapshot.
    #[getter]
    fn num_docs(&self) -> u64 {
        self.snap.num_docs()
    }

    /// FAISS-shaped search of a batch of vectors; see `Index.search`.
    #[pyo3(signature = (queries, k=10, *, nprobe=None, rerank=None, exact=false, threads=1, r#where=None))]
    #[allow(clippy::too_many_arguments)]
    fn search<'py>(
        &self,
        py: Python<'py>,
        queries: &Bound<'py, PyAny>,
        k: usize,
        nprobe: Option<usize>,
        rerank: Option<usize>,
        exact: bool,
        threads: usize,
        r#where: Option<String>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let a = SearchArgs {
            k,
            nprobe,
            rerank,
            exact,
            threads,
            filter: r#where,
        };
        search(py, &self.snap, queries, &a)
    }

    /// One query over any of vector, text and sparse weights; see `Index.query`.
    #[pyo3(signature = (vector=None, text=None, sparse=None, r#where=None, fusion="rrf".to_owned(), k=10, offset=0, *, nprobe=None, rerank=None, exact=false, text_fields=None, depth=None, weights=None, rrf_k=60.0, return_fields=true, qid=None, min_probability=None))]
    #[allow(clippy::too_many_arguments)]
    fn query<'py>(
        &self,
        py: Python<'py>,
        vector: Option<Bound<'py, PyAny>>,
        text: Option<String>,
        sparse: Option<Bound<'py, PyAny>>,
        r#where: Option<String>,
        fusion: String,
        k: usize,
        offset: usize,
        nprobe: Option<usize>,
        rerank: Option<usize>,
        exact: bool,
        text_fields: Option<Vec<String>>,
        depth: Option<usize>,
        weights: Option<Bound<'py, PyDict>>,
        rrf_k: f32,
        return_fields: bool,
        qid: Option<String>,
        min_probability: Option<f32>,
    ) -> PyResult<QueryResult> {
        let a = QueryArgs {
            vector,
            text,
            sparse,
            filter: r#where,
            fusion,
            rrf_k,
            k,
            offset,
            nprobe,
            rerank,
            exact,
            text_fields,
            depth,
            weights,
            return_fields,
            qid,
            min_probability,
        };
        query(py, &self.snap, &a)
    }

    /// The stored document with `key` ({"key", "fields"}), or None.
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        get(py, &self.snap, key)
    }

    /// Every live key of this snapshot, in no particular order.
    fn keys<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let mut keys = Vec::with_capacity(self.snap.num_docs() as usize);
        self.snap.for_each_live(|k, _, _| keys.push(k.clone()));
        let out = PyList::empty(py);
        for k in &keys {
            out.append(convert::key_to_py(py, k)?)?;
        }
        Ok(out)
    }

    fn __repr__(&self) -> String {
        format!(
            "Snapshot(generation={}, docs={})",
            self.snap.generation(),
            self.snap.num_docs()
        )
    }
}

//! `strata.Index` (one writer, or a read-only view) and `strata.Txn`.
//!
//! The writer lives in a mutex-guarded slot. `begin()` moves it into the transaction (an
//! `OwnedTxn`), so a second transaction on the same index is refused instead of racing, and
//! `commit()`/`rollback()` (or dropping the transaction) put it back. Searches never touch the
//! slot: they take snapshots from a `Reader` that shares the writer's state, so they run while
//! a transaction is open and never see its uncommitted changes.

use crate::convert;
use crate::errors::{ClosedError, InputError, IntoPy, InvalidArgumentError};
use crate::read::{self, PySnapshot, QueryArgs, QueryResult, SearchArgs};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::sync::{Arc, Mutex, MutexGuard};
use strata::text::AnalyzerConfig;
use strata::{
    AttrKind, DenseIndex, Document, IvfPqParams, Key, Metric, OwnedTxn, Reader, Schema,
    VectorStorage,
};

/// IVF-PQ parameters of a dense field: `nlist` coarse lists, `m` sub-quantizers of `nbits`
/// bits (4: fast-scan, or 8). Segments with fewer than `min_rows` rows stay exact.
#[pyclass(module = "strata", name = "IvfPq", frozen, get_all)]
#[derive(Clone)]
pub struct PyIvfPq {
    pub nlist: u32,
    pub m: u32,
    pub nbits: u8,
    pub balanced: bool,
    pub residual: bool,
    pub min_rows: u64,
}

#[pymethods]
impl PyIvfPq {
    #[new]
    #[pyo3(signature = (nlist=1024, m=48, nbits=4, *, balanced=false, residual=false, min_rows=10_000))]
    fn new(nlist: u32, m: u32, nbits: u8, balanced: bool, residual: bool, min_rows: u64) -> Self {
        PyIvfPq {
            nlist,
            m,
            nbits,
            balanced,
            residual,
            min_rows,
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "IvfPq(nlist={}, m={}, nbits={}, balanced={}, residual={}, min_rows={})",
            self.nlist,
            self.m,
            self.nbits,
            if self.balanced { "True" } else { "False" },
            if self.residual { "True" } else { "False" },
            self.min_rows
        )
    }
}

/// Where the writer is.
enum Slot {
    /// Ready for `begin`.
    Writer(strata::Index),
    /// Inside an open transaction.
    InTxn,
    /// Out for an operation that runs without the GIL (merge).
    Busy(&'static str),
    /// Opened read-only: there is no writer.
    ReadOnly,
    /// `close()` was called.
    Closed,
}

struct Inner {
    slot: Mutex<Slot>,
    reader: Mutex<Option<Reader>>,
    path: String,
    schema: Schema,
}

impl Inner {
    fn slot(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn reader(&self) -> PyResult<Reader> {
        self.reader
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| ClosedError::new_err(format!("index {} is closed", self.path)))
    }

    fn snapshot(&self) -> PyResult<strata::Snapshot> {
        Ok(self.reader()?.snapshot())
    }

    /// Why the writer is not available for `what`, given the slot's state.
    fn unavailable(&self, slot: &Slot, what: &str) -> PyErr {
        match slot {
            Slot::InTxn => ClosedError::new_err(format!(
                "{what}: a transaction is open on {}; commit or roll it back first",
                self.path
            )),
            Slot::Busy(op) => ClosedError::new_err(format!(
                "{what}: {} is busy with {op} in another thread",
                self.path
            )),
            Slot::ReadOnly => {
                InvalidArgumentError::new_err(format!("{what}: {} was opened read-only", self.path))
            }
            Slot::Closed | Slot::Writer(_) => {
                ClosedError::new_err(format!("index {} is closed", self.path))
            }
        }
    }

    /// Takes the writer out of the slot, leaving `next` there; refuses if the index is
    /// read-only, closed, in a transaction or busy. The slot's mutex is never held while the
    /// GIL is released (a thread waiting on it would hold the GIL the other one needs).
    fn take_writer(&self, what: &str, next: Slot) -> PyResult<strata::Index> {
        let mut slot = self.slot();
        match std::mem::replace(&mut *slot, next) {
            Slot::Writer(ix) => Ok(ix),
            other => {
                let err = self.unavailable(&other, what);
                *slot = other;
                Err(err)
            }
        }
    }

    /// Puts the writer back.
    fn put_writer(&self, ix: strata::Index) {
        *self.slot() = Slot::Writer(ix);
    }
}

/// An index: the writer (from `create` or `open`) or a read-only view (`open(path,
/// read_only=True)`, which works while another process writes).
#[pyclass(module = "strata", name = "Index", frozen)]
pub struct PyIndex {
    inner: Arc<Inner>,
}

fn metric(name: &str) -> PyResult<Metric> {
    Metric::parse(name).ok_or_else(|| {
        InvalidArgumentError::new_err(format!(
            "metric {name:?}: expected \"ip\", \"cosine\" or \"l2\""
        ))
    })
}

fn storage(name: &str) -> PyResult<VectorStorage> {
    match name {
        "auto" => Ok(VectorStorage::Auto),
        "f32" | "float32" => Ok(VectorStorage::F32),
        "f16" | "float16" => Ok(VectorStorage::F16),
        other => Err(InvalidArgumentError::new_err(format!(
            "storage {other:?}: expected \"auto\", \"f32\" or \"f16\""
        ))),
    }
}

impl PyIndex {
    fn from_writer(ix: strata::Index, path: String) -> PyIndex {
        let reader = ix.reader();
        let schema = ix.schema();
        PyIndex {
            inner: Arc::new(Inner {
                slot: Mutex::new(Slot::Writer(ix)),
                reader: Mutex::new(Some(reader)),
                path,
                schema,
            }),
        }
    }

    /// Opens `path` as the writer, or read-only.
    pub fn open_path(py: Python<'_>, path: String, read_only: bool) -> PyResult<PyIndex> {
        if read_only {
            let reader = py.detach(|| Reader::open(&path)).py_err()?;
            let schema = reader.snapshot().schema().clone();
            return Ok(PyIndex {
                inner: Arc::new(Inner {
                    slot: Mutex::new(Slot::ReadOnly),
                    reader: Mutex::new(Some(reader)),
                    path,
                    schema,
                }),
            });
        }
        let ix = py.detach(|| strata::Index::open(&path)).py_err()?;
        Ok(PyIndex::from_writer(ix, path))
    }
}

#[pymethods]
impl PyIndex {
    /// Creates an index in `path` (a new or empty directory).
    ///
    /// dim/metric/index/storage describe the vector field (no `dim`: no vectors); `index` is
    /// an `IvfPq` or None for exact search. `text_fields` are searched with BM25 (and stored
    /// when `store_text`), `sparse_field` names a learned-sparse field, `attributes` maps
    /// names to "i64", "f64" or "keyword" for `where` filters. `key_type` is "str" or "int".
    #[staticmethod]
    #[pyo3(signature = (path, dim=None, metric="ip", index=None, text_fields=None, sparse_field=None, attributes=None, *, key_type="str", store_text=true, storage="auto", impact_bits=8))]
    #[allow(clippy::too_many_arguments)]
    fn create(
        py: Python<'_>,
        path: std::path::PathBuf,
        dim: Option<u32>,
        metric: &str,
        index: Option<Bound<'_, PyIvfPq>>,
        text_fields: Option<Vec<String>>,
        sparse_field: Option<String>,
        attributes: Option<Bound<'_, PyDict>>,
        key_type: &str,
        store_text: bool,
        storage: &str,
        impact_bits: u8,
    ) -> PyResult<PyIndex> {
        let mut schema = Schema::new(convert::key_kind(key_type)?);
        let metric = self::metric(metric)?;
        let storage = self::storage(storage)?;
        match (dim, &index) {
            (Some(d), _) => {
                schema = schema.with_dense("vector", d, metric).with_storage(storage);
                if let Some(p) = index.as_ref().map(|b| b.get()) {
                    schema = schema.with_index(DenseIndex::IvfPq(IvfPqParams {
                        nlist: p.nlist,
                        m: p.m,
                        nbits: p.nbits,
                        balanced: p.balanced,
                        residual: p.residual,
                        min_rows: p.min_rows,
                    }));
                }
            }
            (None, Some(_)) => {
                return Err(InvalidArgumentError::new_err(
                    "index=IvfPq(...) needs dim= (the vector field's dimension)",
                ));
            }
            (None, None) => {}
        }
        for f in text_fields.unwrap_or_default() {
            schema = schema.with_text(&f, AnalyzerConfig::default(), store_text);
        }
        if let Some(s) = sparse_field {
            schema = schema.with_sparse(&s, impact_bits);
        }
        if let Some(attrs) = attributes {
            for (name, kind) in attrs.iter() {
                let name: String = name.extract()?;
                let kind: String = kind.extract()?;
                let k = AttrKind::parse(&kind).ok_or_else(|| {
                    InvalidArgumentError::new_err(format!(
                        "attribute {name:?}: kind {kind:?}, expected \"i64\", \"f64\" or \"keyword\""
                    ))
                })?;
                schema = schema.with_attribute(&name, k);
            }
        }
        let p = path.clone();
        let ix = py.detach(|| strata::Index::create(&p, schema)).py_err()?;
        Ok(PyIndex::from_writer(ix, path.display().to_string()))
    }

    /// Opens an existing index: its writer, or with `read_only=True` a reader that works
    /// while another process writes (call `refresh()` to see newer commits).
    #[staticmethod]
    #[pyo3(signature = (path, read_only=false))]
    fn open(py: Python<'_>, path: std::path::PathBuf, read_only: bool) -> PyResult<PyIndex> {
        PyIndex::open_path(py, path.display().to_string(), read_only)
    }

    /// Starts a write transaction. Use it as a context manager: it commits when the block
    /// ends and rolls back if the block raises.
    fn begin(&self) -> PyResult<PyTxn> {
        let ix = self.inner.take_writer("begin", Slot::InTxn)?;
        Ok(PyTxn {
            inner: self.inner.clone(),
            txn: Mutex::new(Some(ix.into_txn())),
        })
    }

    /// FAISS-shaped search of a batch of vectors (rows × dim, float32 or float16): returns
    /// (scores, keys), numpy arrays of shape (rows, k). Integer keys come back as an int64
    /// array (-1 where fewer than k hits), string keys as an object array (None). `nprobe`
    /// and `rerank` tune IVF-PQ search (defaults 32 and 4·k), `exact` scans every vector,
    /// `where` filters by attributes, `threads` splits the batch over that many threads. The
    /// GIL is released while it runs.
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
        let snap = self.inner.snapshot()?;
        let a = SearchArgs {
            k,
            nprobe,
            rerank,
            exact,
            threads,
            filter: r#where,
        };
        read::search(py, &snap, queries, &a)
    }

    /// One query over any of a vector, text (BM25) and sparse weights ({term: weight}),
    /// fused with `fusion` ("rrf", "convex", "zscore", "dbsf"), filtered by `where` (e.g.
    /// "year >= 2015 AND lang = 'en'"), paged by `k` and `offset`. Returns a QueryResult of
    /// Hit(key, score, sources, fields).
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
        let snap = self.inner.snapshot()?;
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
        read::query(py, &snap, &a)
    }

    /// The stored document with `key` ({"key", "fields"}), or None.
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        read::get(py, &self.inner.snapshot()?, key)
    }

    /// A read view of the newest commit, stable across later commits.
    fn snapshot(&self) -> PyResult<PySnapshot> {
        Ok(PySnapshot {
            snap: self.inner.snapshot()?,
        })
    }

    /// Read-only indexes: moves to the newest commit on disk; returns whether it changed.
    /// (A writer's own searches always see its newest commit.)
    fn refresh(&self, py: Python<'_>) -> PyResult<bool> {
        let r = self.inner.reader()?;
        py.detach(|| r.refresh()).py_err()
    }

    /// Live documents in the newest commit.
    fn __len__(&self) -> PyResult<usize> {
        Ok(self.inner.snapshot()?.num_docs() as usize)
    }

    /// The index directory.
    #[getter]
    fn path(&self) -> String {
        self.inner.path.clone()
    }

    /// Whether this is a read-only view.
    #[getter]
    fn read_only(&self) -> bool {
        matches!(*self.inner.slot(), Slot::ReadOnly)
    }

    /// The vector dimension (None without a vector field).
    #[getter]
    fn dim(&self) -> Option<usize> {
        self.inner.schema.dense_field().map(|(d, _, _)| d)
    }

    /// The metric ("cosine", "dot", "l2"; None without a vector field).
    #[getter]
    fn metric(&self) -> Option<&'static str> {
        self.inner.schema.dense_field().map(|(_, m, _)| m.name())
    }

    /// What the index holds: documents, generation, segments, bytes on disk and in memory.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let snap = self.inner.snapshot()?;
        let out = PyDict::new(py);
        out.set_item("path", &self.inner.path)?;
        out.set_item("generation", snap.generation())?;
        out.set_item("num_docs", snap.num_docs())?;
        out.set_item(
            "deleted",
            snap.segments().iter().map(|s| s.meta.deleted).sum::<u64>(),
        )?;
        let segs = PyList::empty(py);
        let mut disk = snap.manifest_len();
        for s in snap.segments() {
            let d = PyDict::new(py);
            d.set_item("id", s.meta.id)?;
            d.set_item("rows", s.meta.rows)?;
            d.set_item("deleted", s.meta.deleted)?;
            let bytes: u64 = s
                .meta
                .components
                .iter()
                .chain(s.meta.deletes.iter())
                .map(|c| c.len)
                .sum();
            d.set_item("disk_bytes", bytes)?;
            disk += bytes;
            segs.append(d)?;
        }
        out.set_item("segments", segs)?;
        out.set_item("disk_bytes", disk)?;
        out.set_item("resident_bytes", snap.resident_bytes())?;
        out.set_item("read_only", matches!(*self.inner.slot(), Slot::ReadOnly))?;
        Ok(out)
    }

    /// Merges every segment into one, dropping deleted rows; returns whether it merged.
    fn merge(&self, py: Python<'_>) -> PyResult<bool> {
        let mut ix = self.inner.take_writer("merge", Slot::Busy("a merge"))?;
        let (ix, res) = py.detach(move || {
            let res = ix.merge_all();
            (ix, res)
        });
        self.inner.put_writer(ix);
        res.py_err()
    }

    /// Reopens the newest commit read-only, checking every file's checksum against the
    /// manifest; returns what it checked. A damaged file raises CorruptError.
    fn verify<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.inner.reader()?;
        let path = self.inner.path.clone();
        let snap = py
            .detach(|| Reader::open(&path).map(|r| r.snapshot()))
            .py_err()?;
        let out = PyDict::new(py);
        let mut files = 1u64;
        let mut bytes = snap.manifest_len();
        for s in snap.segments() {
            for c in s.meta.components.iter().chain(s.meta.deletes.iter()) {
                files += 1;
                bytes += c.len;
            }
        }
        out.set_item("ok", true)?;
        out.set_item("generation", snap.generation())?;
        out.set_item("segments", snap.segments().len())?;
        out.set_item("num_docs", snap.num_docs())?;
        out.set_item("files_checked", files)?;
        out.set_item("bytes_checked", bytes)?;
        Ok(out)
    }

    /// Closes the index: the writer lock is released and later calls raise ClosedError.
    /// Snapshots taken before stay readable.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let taken = {
            let mut slot = self.inner.slot();
            match std::mem::replace(&mut *slot, Slot::Closed) {
                busy @ (Slot::InTxn | Slot::Busy(_)) => {
                    let err = self.inner.unavailable(&busy, "close");
                    *slot = busy;
                    return Err(err);
                }
                other => other,
            }
        };
        *self.inner.reader.lock().unwrap_or_else(|p| p.into_inner()) = None;
        // Dropping the writer waits for a background merge: without the GIL.
        py.detach(move || drop(taken));
        Ok(())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        let state = match &*self.inner.slot() {
            Slot::Writer(_) => "writer",
            Slot::InTxn => "in transaction",
            Slot::Busy(_) => "busy",
            Slot::ReadOnly => "read-only",
            Slot::Closed => "closed",
        };
        format!("Index({:?}, {state})", self.inner.path)
    }
}

/// A write transaction: adds, upserts and deletes that become visible together at `commit`.
/// As a context manager it commits when the block ends and rolls back if it raises.
#[pyclass(module = "strata", name = "Txn", frozen)]
pub struct PyTxn {
    inner: Arc<Inner>,
    txn: Mutex<Option<OwnedTxn>>,
}

impl PyTxn {
    fn with_txn<T>(&self, f: impl FnOnce(&mut OwnedTxn) -> PyResult<T>) -> PyResult<T> {
        let mut g = self.txn.lock().unwrap_or_else(|p| p.into_inner());
        match g.as_mut() {
            Some(t) => f(t),
            None => Err(ClosedError::new_err(
                "this transaction has ended (committed or rolled back)",
            )),
        }
    }

    /// Puts the writer back in the index's slot.
    fn restore(&self, ix: strata::Index) {
        self.inner.put_writer(ix);
    }

    fn documents(
        &self,
        keys: &Bound<'_, PyAny>,
        vectors: Option<&Bound<'_, PyAny>>,
        text: Option<&Bound<'_, PyDict>>,
        sparse: Option<&Bound<'_, PyAny>>,
        attributes: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Vec<Document>> {
        let schema = &self.inner.schema;
        let keys = convert::keys(keys, schema.key)?;
        let n = keys.len();
        let mut docs: Vec<Document> = keys.into_iter().map(Document::with_key).collect();
        if let Some(v) = vectors {
            let rows = convert::rows(v, "vectors")?;
            let (rn, dim) = rows.shape();
            convert::check_len(rn, n, "vectors")?;
            let slice = rows.slice()?;
            for (i, d) in docs.iter_mut().enumerate() {
                d.vector = Some(slice.vector(i, dim));
            }
        }
        if let Some(t) = text {
            for (field, col) in t.iter() {
                let field: String = field.extract()?;
                let col = convert::text_column(&col, n, &format!("text[{field:?}]"))?;
                for (d, t) in docs.iter_mut().zip(col) {
                    if let Some(t) = t {
                        d.text.push((field.clone(), t));
                    }
                }
            }
        }
        if let Some(s) = sparse {
            let items: Vec<Bound<'_, PyAny>> = s
                .try_iter()
                .map_err(|_| {
                    InputError::new_err("sparse: expected a sequence of dicts {term: weight}")
                })?
                .collect::<PyResult<_>>()?;
            convert::check_len(items.len(), n, "sparse")?;
            for (row, (d, item)) in docs.iter_mut().zip(&items).enumerate() {
                if !item.is_none() {
                    d.sparse = convert::sparse_terms(item, &format!("sparse row {row}"))?;
                }
            }
        }
        if let Some(a) = attributes {
            for (name, col) in a.iter() {
                let name: String = name.extract()?;
                let Some(field) = schema.attribute(&name) else {
                    return Err(InputError::new_err(format!(
                        "attributes: the schema has no attribute {name:?}"
                    )));
                };
                let kind = field.kind;
                let what = format!("attributes[{name:?}]");
                let items: Vec<Bound<'_, PyAny>> = col
                    .try_iter()
                    .map_err(|_| InputError::new_err(format!("{what}: expected a sequence")))?
                    .collect::<PyResult<_>>()?;
                convert::check_len(items.len(), n, &what)?;
                for (row, (d, v)) in docs.iter_mut().zip(items).enumerate() {
                    // numpy scalars become Python numbers through .item().
                    let v = if v.hasattr("item")? && !v.is_instance_of::<PyList>() {
                        v.call_method0("item")?
                    } else {
                        v
                    };
                    if let Some(val) = convert::attr_value(&v, kind, &name, row)? {
                        d.attrs.push((name.clone(), val));
                    }
                }
            }
        }
        Ok(docs)
    }
}

#[pymethods]
impl PyTxn {
    /// Adds documents: `keys` (a list of str/int or an integer array), and per key a row of
    /// `vectors`, the strings of each field of `text` ({field: [str, ...]}), a dict of
    /// `sparse` weights, and `attributes` ({name: [value, ...]}; None where absent). A key
    /// that is already live is refused (use `upsert`). All or nothing: if one document is
    /// refused, none of the batch is added.
    #[pyo3(signature = (keys, vectors=None, text=None, sparse=None, attributes=None))]
    fn add(
        &self,
        keys: &Bound<'_, PyAny>,
        vectors: Option<Bound<'_, PyAny>>,
        text: Option<Bound<'_, PyDict>>,
        sparse: Option<Bound<'_, PyAny>>,
        attributes: Option<Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let docs = self.documents(
            keys,
            vectors.as_ref(),
            text.as_ref(),
            sparse.as_ref(),
            attributes.as_ref(),
        )?;
        // All or nothing: a refused document leaves the transaction as it was.
        self.with_txn(|t| t.add_all(docs).py_err())
    }

    /// Adds documents, replacing live ones with the same keys.
    #[pyo3(signature = (keys, vectors=None, text=None, sparse=None, attributes=None))]
    fn upsert(
        &self,
        keys: &Bound<'_, PyAny>,
        vectors: Option<Bound<'_, PyAny>>,
        text: Option<Bound<'_, PyDict>>,
        sparse: Option<Bound<'_, PyAny>>,
        attributes: Option<Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let docs = self.documents(
            keys,
            vectors.as_ref(),
            text.as_ref(),
            sparse.as_ref(),
            attributes.as_ref(),
        )?;
        self.with_txn(|t| t.upsert_all(docs).py_err())
    }

    /// Deletes the documents with `keys`; returns how many were live.
    fn delete(&self, keys: &Bound<'_, PyAny>) -> PyResult<usize> {
        let keys: Vec<Key> = convert::keys(keys, self.inner.schema.key)?;
        self.with_txn(|t| {
            let mut n = 0;
            for k in &keys {
                n += usize::from(t.delete(k).py_err()?);
            }
            Ok(n)
        })
    }

    /// Documents added so far.
    #[getter]
    fn pending(&self) -> PyResult<usize> {
        self.with_txn(|t| Ok(t.pending_adds()))
    }

    /// Makes the changes durable and visible atomically; returns the commit's generation.
    fn commit(&self, py: Python<'_>) -> PyResult<u64> {
        let txn = self
            .txn
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| {
                ClosedError::new_err("this transaction has ended (committed or rolled back)")
            })?;
        let (ix, res) = py.detach(move || txn.commit());
        self.restore(ix);
        res.py_err()
    }

    /// Discards the changes.
    fn rollback(&self) -> PyResult<()> {
        let txn = self.txn.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = txn {
            self.restore(t.rollback());
        }
        Ok(())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (exc_type=None, _exc=None, _tb=None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<Bound<'_, PyAny>>,
        _exc: Option<Bound<'_, PyAny>>,
        _tb: Option<Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let ended = self.txn.lock().unwrap_or_else(|p| p.into_inner()).is_none();
        if ended {
            return Ok(false);
        }
        if exc_type.is_some_and(|t| !t.is_none()) {
            self.rollback()?;
        } else {
            self.commit(py)?;
        }
        Ok(false)
    }
}

impl Drop for PyTxn {
    fn drop(&mut self) {
        // A transaction dropped without commit or rollback rolls back and frees the writer.
        let txn = self.txn.get_mut().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = txn {
            self.restore(t.rollback());
        }
    }
}

//! Python bindings of strata: the native module `strata._strata`, re-exported by the `strata`
//! package (python/strata/__init__.py), which adds the pure-Python helpers (Arrow frames, TREC
//! run files).
//!
//! Layers: `convert` turns Python values into strata's and back, `index` holds the writer and
//! transactions, `read` runs searches and queries on snapshots, `beir` reads BEIR folders and
//! runs the same evaluation as `strata eval`. No `unsafe` here: numpy arrays are read through
//! the `numpy` crate's borrow-checked views.
#![deny(unsafe_code)]

mod beir;
mod convert;
mod errors;
mod index;
mod read;

use pyo3::prelude::*;

/// Opens an existing index: its writer, or with `read_only=True` a reader that works while
/// another process writes.
#[pyfunction]
#[pyo3(signature = (path, read_only=false))]
fn open(py: Python<'_>, path: std::path::PathBuf, read_only: bool) -> PyResult<index::PyIndex> {
    index::PyIndex::open_path(py, path.display().to_string(), read_only)
}

#[pymodule]
fn _strata(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add_class::<index::PyIndex>()?;
    m.add_class::<index::PyTxn>()?;
    m.add_class::<index::PyIvfPq>()?;
    m.add_class::<read::PySnapshot>()?;
    m.add_class::<read::QueryResult>()?;
    m.add_class::<read::PyHit>()?;
    m.add_function(wrap_pyfunction!(open, m)?)?;
    m.add_function(wrap_pyfunction!(beir::read_beir, m)?)?;
    m.add_function(wrap_pyfunction!(beir::eval_beir, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

//! Python values in and out: vectors (numpy), keys, text columns, sparse weights, attributes.
//!
//! Vectors are read without copying when they are a C-contiguous float32 (or float16) numpy
//! array; anything else numpy can turn into float32 is converted once, here, and anything it
//! cannot is an `InputError` naming the argument.

use crate::errors::{InputError, InvalidArgumentError, SchemaError};
use numpy::{PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use strata::{AttrKind, AttrValue, Key, KeyKind, Vector};

/// Rows of vectors, borrowed from numpy when their layout allows it.
pub enum Rows<'py> {
    /// float32 rows.
    F32(PyReadonlyArray2<'py, f32>),
    /// float16 rows.
    F16(PyReadonlyArray2<'py, half::f16>),
}

/// A borrowed view of [`Rows`]: `n` rows of `dim` values, row-major.
pub enum RowSlice<'a> {
    /// float32 values.
    F32(&'a [f32]),
    /// float16 values.
    F16(&'a [half::f16]),
}

impl<'py> Rows<'py> {
    /// (rows, dimension).
    pub fn shape(&self) -> (usize, usize) {
        let s = match self {
            Rows::F32(a) => a.shape(),
            Rows::F16(a) => a.shape(),
        };
        (
            s.first().copied().unwrap_or(0),
            s.get(1).copied().unwrap_or(0),
        )
    }

    /// The values, row-major.
    pub fn slice(&self) -> PyResult<RowSlice<'_>> {
        let err = |e: numpy::AsSliceError| InputError::new_err(format!("vectors: {e}"));
        Ok(match self {
            Rows::F32(a) => RowSlice::F32(a.as_slice().map_err(err)?),
            Rows::F16(a) => RowSlice::F16(a.as_slice().map_err(err)?),
        })
    }
}

impl RowSlice<'_> {
    /// Row `i` as a strata vector (copied: the index keeps it until commit).
    pub fn vector(&self, i: usize, dim: usize) -> Vector {
        match self {
            RowSlice::F32(v) => Vector::F32(v.get(i * dim..(i + 1) * dim).unwrap_or(&[]).to_vec()),
            RowSlice::F16(v) => Vector::F16(v.get(i * dim..(i + 1) * dim).unwrap_or(&[]).to_vec()),
        }
    }
}

/// `obj` as rows of vectors: a 2-D array, or a 1-D one as a single row. float32 and float16
/// C-contiguous arrays are borrowed; anything numpy converts to float32 is converted once.
pub fn rows<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Rows<'py>> {
    let py = obj.py();
    if let Ok(a) = obj.cast::<numpy::PyArray2<f32>>()
        && a.is_c_contiguous()
    {
        return Ok(Rows::F32(a.readonly()));
    }
    if let Ok(a) = obj.cast::<numpy::PyArray2<half::f16>>()
        && a.is_c_contiguous()
    {
        return Ok(Rows::F16(a.readonly()));
    }
    let np = py.import("numpy")?;
    // Complex values would lose their imaginary part, objects and strings are not vectors.
    if let Ok(kind) = obj.getattr("dtype").and_then(|d| d.getattr("kind"))
        && let Ok(kind) = kind.extract::<String>()
        && !matches!(kind.as_str(), "f" | "i" | "u" | "b" | "O")
    {
        return Err(InputError::new_err(format!(
            "{what}: dtype {} is not numeric (expected float32 or float16; float64 and integers are converted)",
            obj.getattr("dtype")?.str()?
        )));
    }
    let f16 = np.getattr("float16")?;
    let keep_f16 = obj
        .getattr("dtype")
        .ok()
        .and_then(|d| d.eq(&f16).ok())
        .unwrap_or(false);
    let dtype = if keep_f16 {
        f16
    } else {
        np.getattr("float32")?
    };
    let kwargs = PyDict::new(py);
    kwargs.set_item("dtype", dtype)?;
    let arr = np
        .call_method("ascontiguousarray", (obj,), Some(&kwargs))
        .map_err(|e| {
            InputError::new_err(format!(
                "{what}: cannot be read as float32 vectors ({})",
                e.value(py)
            ))
        })?;
    let ndim: usize = arr.getattr("ndim")?.extract()?;
    let arr = match ndim {
        1 => arr.call_method1("reshape", ((1i64, -1i64),))?,
        2 => arr,
        n => {
            return Err(InputError::new_err(format!(
                "{what}: expected a 2-D array (rows × dimension) or one vector, got {n} dimensions"
            )));
        }
    };
    if keep_f16 {
        Ok(Rows::F16(
            arr.cast_into::<numpy::PyArray2<half::f16>>()?.readonly(),
        ))
    } else {
        Ok(Rows::F32(
            arr.cast_into::<numpy::PyArray2<f32>>()?.readonly(),
        ))
    }
}

/// The key kind named `name` ("str" or "int").
pub fn key_kind(name: &str) -> PyResult<KeyKind> {
    match name {
        "str" | "string" => Ok(KeyKind::Str),
        "int" | "u64" => Ok(KeyKind::U64),
        other => Err(InvalidArgumentError::new_err(format!(
            "key_type {other:?}: expected \"str\" or \"int\""
        ))),
    }
}

/// One key of an index with `kind` keys.
pub fn key(obj: &Bound<'_, PyAny>, kind: KeyKind) -> PyResult<Key> {
    match kind {
        KeyKind::Str => {
            if let Ok(s) = obj.cast::<PyString>() {
                return Ok(Key::Str(s.to_cow()?.into_owned()));
            }
            Err(SchemaError::new_err(format!(
                "key {}: this index has string keys (create it with key_type=\"int\" for \
                 integer keys)",
                obj.repr()?
            )))
        }
        KeyKind::U64 => {
            if obj.is_instance_of::<PyString>() || obj.is_instance_of::<pyo3::types::PyBool>() {
                return Err(SchemaError::new_err(format!(
                    "key {}: this index has integer keys",
                    obj.repr()?
                )));
            }
            let v: i128 = obj
                .call_method0("__index__")
                .and_then(|i| i.extract())
                .map_err(|_| {
                    SchemaError::new_err(format!(
                        "key {}: this index has integer keys",
                        obj.repr().map(|r| r.to_string()).unwrap_or_default()
                    ))
                })?;
            // Keys come back as int64 labels from `search`: keep them in that range.
            if !(0..=i64::MAX as i128).contains(&v) {
                return Err(InputError::new_err(format!(
                    "key {v}: integer keys must be in 0 ..= 2**63 - 1"
                )));
            }
            Ok(Key::U64(v as u64))
        }
    }
}

/// A sequence of keys: a list or tuple of str/int, or a numpy integer (or string) array.
pub fn keys(obj: &Bound<'_, PyAny>, kind: KeyKind) -> PyResult<Vec<Key>> {
    if obj.is_instance_of::<PyString>() {
        return Err(InputError::new_err(
            "keys: expected a sequence of keys, got one string (wrap it in a list)",
        ));
    }
    if kind == KeyKind::U64
        && let Ok(a) = obj.cast::<numpy::PyArray1<i64>>()
    {
        let a = a.readonly();
        let mut out = Vec::with_capacity(a.len());
        for v in a.as_array().iter() {
            if *v < 0 {
                return Err(InputError::new_err(format!(
                    "key {v}: integer keys must be in 0 ..= 2**63 - 1"
                )));
            }
            out.push(Key::U64(*v as u64));
        }
        return Ok(out);
    }
    // Lists, tuples and numpy arrays of other dtypes: element by element (numpy integers
    // support __index__).
    let mut out = Vec::new();
    for item in obj
        .try_iter()
        .map_err(|_| InputError::new_err("keys: expected a sequence of keys"))?
    {
        out.push(key(&item?, kind)?);
    }
    Ok(out)
}

/// A key as a Python object: `str` or `int`.
pub fn key_to_py<'py>(py: Python<'py>, key: &Key) -> PyResult<Bound<'py, PyAny>> {
    Ok(match key {
        Key::U64(v) => v.into_pyobject(py)?.into_any(),
        Key::Str(s) => PyString::new(py, s).into_any(),
    })
}

/// A column of `n` strings (a list, tuple or array of str; `None` for a missing value).
pub fn text_column(obj: &Bound<'_, PyAny>, n: usize, what: &str) -> PyResult<Vec<Option<String>>> {
    if obj.is_instance_of::<PyString>() {
        if n == 1 {
            return Ok(vec![Some(obj.extract()?)]);
        }
        return Err(InputError::new_err(format!(
            "{what}: expected {n} strings, got one string"
        )));
    }
    let mut out = Vec::with_capacity(n);
    for item in obj
        .try_iter()
        .map_err(|_| InputError::new_err(format!("{what}: expected a sequence of strings")))?
    {
        let item = item?;
        if item.is_none() {
            out.push(None);
        } else {
            let s = item.cast::<PyString>().map_err(|_| {
                InputError::new_err(format!(
                    "{what}: row {} is {}, not a string",
                    out.len(),
                    item.get_type()
                        .name()
                        .map(|n| n.to_string())
                        .unwrap_or_default()
                ))
            })?;
            out.push(Some(s.to_cow()?.into_owned()));
        }
    }
    check_len(out.len(), n, what)?;
    Ok(out)
}

/// Refuses a column whose length differs from the number of keys.
pub fn check_len(got: usize, n: usize, what: &str) -> PyResult<()> {
    if got != n {
        return Err(InputError::new_err(format!(
            "{what}: {got} rows for {n} keys"
        )));
    }
    Ok(())
}

/// Sparse weights: a dict {term: weight}.
pub fn sparse_terms(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<(String, f32)>> {
    let d = obj
        .cast::<PyDict>()
        .map_err(|_| InputError::new_err(format!("{what}: expected a dict {{term: weight}}")))?;
    let mut out = Vec::with_capacity(d.len());
    for (k, v) in d.iter() {
        let term: String = k.extract().map_err(|_| {
            InputError::new_err(format!(
                "{what}: term {} is not a string",
                k.repr().map(|r| r.to_string()).unwrap_or_default()
            ))
        })?;
        let w: f32 = v.extract().map_err(|_| {
            InputError::new_err(format!("{what}: the weight of {term:?} is not a number"))
        })?;
        out.push((term, w));
    }
    Ok(out)
}

/// One attribute value of kind `kind` (`None`: absent).
pub fn attr_value(
    obj: &Bound<'_, PyAny>,
    kind: AttrKind,
    name: &str,
    row: usize,
) -> PyResult<Option<AttrValue>> {
    if obj.is_none() {
        return Ok(None);
    }
    let bad = |want: &str| {
        InputError::new_err(format!(
            "attribute {name:?} row {row}: {} is not {want}",
            obj.repr().map(|r| r.to_string()).unwrap_or_default()
        ))
    };
    Ok(Some(match kind {
        AttrKind::Keyword => {
            if let Ok(s) = obj.cast::<PyString>() {
                AttrValue::keyword(s.to_cow()?.into_owned())
            } else if let Ok(l) = obj.cast::<PyList>() {
                let mut v = Vec::with_capacity(l.len());
                for item in l.iter() {
                    v.push(
                        item.extract::<String>()
                            .map_err(|_| bad("a keyword (str)"))?,
                    );
                }
                AttrValue::Keywords(v)
            } else {
                return Err(bad("a keyword (str, or a list of str)"));
            }
        }
        AttrKind::I64 => {
            if obj.is_instance_of::<pyo3::types::PyBool>()
                || obj.is_instance_of::<pyo3::types::PyFloat>()
            {
                return Err(bad("an integer"));
            }
            let i = obj
                .call_method0("__index__")
                .map_err(|_| bad("an integer"))?;
            AttrValue::I64(
                i.extract()
                    .map_err(|_| bad("an integer in the int64 range"))?,
            )
        }
        AttrKind::F64 => {
            if obj.is_instance_of::<pyo3::types::PyBool>() {
                return Err(bad("a number"));
            }
            AttrValue::F64(obj.extract().map_err(|_| bad("a number"))?)
        }
    }))
}

/// An attribute value as a Python object (a keyword list of one is its string).
pub fn attr_to_py<'py>(py: Python<'py>, v: &AttrValue) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        AttrValue::Keywords(k) if k.len() == 1 => {
            PyString::new(py, k.first().map_or("", String::as_str)).into_any()
        }
        AttrValue::Keywords(k) => PyList::new(py, k)?.into_any(),
        AttrValue::I64(i) => i.into_pyobject(py)?.into_any(),
        AttrValue::F64(f) => f.into_pyobject(py)?.into_any(),
    })
}

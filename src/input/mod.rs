//! Reading user input files: vectors, ground truth and keys.
//!
//! This module owns everything between a file a user hands to strata and the in-memory values
//! the engine works with. It never touches an index: it reads whole files with `std::fs::read`,
//! parses them, validates them and returns plain owned data.
//!
//! - `npy.rs`: NumPy `.npy` files (header versions 1.0, 2.0 and 3.0; little-endian `<f4`, `<f2`,
//!   `<i4`, `<i8`; C order; 2-D shapes only), plus the `.npy` writers.
//! - `vecs.rs`: the `.fvecs`, `.bvecs` and `.ivecs` formats of the classic ANN benchmarks, plus
//!   the `.fvecs`/`.ivecs` writers.
//! - `keys.rs`: key files (one UTF-8 key per line) and the `u64` key parser.
//!
//! Every problem with a file is an [`Error::Input`] naming the file and, where it applies, the
//! 0-based row; nothing here panics on any input bytes. Vectors are checked to be finite
//! (in the precision they are stored in); ground-truth ids are checked to fit `u32`.
//!
//! All little-endian decoding of input bytes lives at the bottom of this file (the `le_*`
//! functions), so the parsers only slice and check.

pub mod jsonl;
mod keys;
mod npy;
mod vecs;

#[cfg(test)]
mod tests;

pub use keys::{parse_u64_keys, read_keys};
pub use npy::{write_npy_f16, write_npy_f32, write_npy_i32};
pub use vecs::{write_fvecs, write_ivecs};

use crate::error::{Error, Result};
use half::f16;
use std::path::{Path, PathBuf};

/// Vectors in the precision they were stored in.
#[derive(Debug, Clone, PartialEq)]
pub enum VectorData {
    /// Single precision (`.npy` `<f4`, `.fvecs`, `.bvecs` after conversion).
    F32(Vec<f32>),
    /// Half precision (`.npy` `<f2`).
    F16(Vec<f16>),
}

/// A row-major matrix of `rows` vectors of `dim` values each, read from `source`.
///
/// Invariant: `data` holds exactly `rows * dim` values, all finite.
#[derive(Debug, Clone)]
pub struct VectorSet {
    /// Number of vectors.
    pub rows: usize,
    /// Values per vector.
    pub dim: usize,
    /// The values, row after row.
    pub data: VectorData,
    /// The file (or comma-separated files) the vectors came from, for messages.
    pub source: String,
}

impl VectorSet {
    /// Row `i` as `f32` (an upcast copy for half-precision data); `None` past the last row.
    pub fn row_f32(&self, i: usize) -> Option<Vec<f32>> {
        let range = row_range(i, self.dim)?;
        match &self.data {
            VectorData::F32(v) => v.get(range).map(<[f32]>::to_vec),
            VectorData::F16(v) => v.get(range).map(|r| r.iter().map(|x| x.to_f32()).collect()),
        }
    }

    /// Rows `start..end` as a new set in the same precision; both ends are clamped to `rows`.
    pub fn slice_rows(&self, start: usize, end: usize) -> VectorSet {
        let end = end.min(self.rows);
        let start = start.min(end);
        // Clamped above, so with the invariant neither product exceeds the length of `data`;
        // saturating (and `get` below) keeps a hand-built, inconsistent set from panicking.
        let range = start.saturating_mul(self.dim)..end.saturating_mul(self.dim);
        let data = match &self.data {
            VectorData::F32(v) => VectorData::F32(v.get(range).unwrap_or_default().to_vec()),
            VectorData::F16(v) => VectorData::F16(v.get(range).unwrap_or_default().to_vec()),
        };
        VectorSet {
            rows: end - start,
            dim: self.dim,
            data,
            source: self.source.clone(),
        }
    }
}

/// Ground truth: row `i` holds the base row ids of query `i`'s nearest neighbours, best first.
///
/// Invariant: `ids` holds exactly `rows * cols` ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroundTruth {
    /// Number of queries.
    pub rows: usize,
    /// Neighbours per query.
    pub cols: usize,
    /// The ids, row after row.
    pub ids: Vec<u32>,
}

impl GroundTruth {
    /// The neighbours of query `i`; an empty slice if `i` is out of range.
    pub fn row(&self, i: usize) -> &[u32] {
        row_range(i, self.cols)
            .and_then(|r| self.ids.get(r))
            .unwrap_or_default()
    }
}

/// The value range of row `i` in a row-major matrix with `width` columns, if it does not overflow.
fn row_range(i: usize, width: usize) -> Option<std::ops::Range<usize>> {
    let start = i.checked_mul(width)?;
    Some(start..start.checked_add(width)?)
}

/// The vector file formats, chosen by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Npy,
    Fvecs,
    Bvecs,
    Ivecs,
}

/// The format of `path` by its (case-insensitive) extension, if it is one we know.
fn format_of(path: &Path) -> Option<Format> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "npy" => Some(Format::Npy),
        "fvecs" => Some(Format::Fvecs),
        "bvecs" => Some(Format::Bvecs),
        "ivecs" => Some(Format::Ivecs),
        _ => None,
    }
}

/// Reads a whole file, returning its name (for messages) and its bytes.
fn read_file(path: &Path) -> Result<(String, Vec<u8>)> {
    let name = Error::path_string(path);
    let bytes = std::fs::read(path).map_err(|e| Error::io("read", name.clone(), e))?;
    Ok((name, bytes))
}

/// Writes `bytes` as the whole content of `path` (used by the writers).
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::io("write", Error::path_string(path), e))
}

/// Reads one vector file; format chosen by extension (`.npy`, `.fvecs`, `.bvecs`).
pub fn read_vectors(path: &Path) -> Result<VectorSet> {
    let format = format_of(path);
    if !matches!(format, Some(Format::Npy | Format::Fvecs | Format::Bvecs)) {
        return Err(unknown_extension(path, ".npy, .fvecs or .bvecs"));
    }
    let (name, bytes) = read_file(path)?;
    match format {
        Some(Format::Fvecs) => vecs::parse_fvecs(&name, &bytes),
        Some(Format::Bvecs) => vecs::parse_bvecs(&name, &bytes),
        _ => npy::parse_vectors(&name, &bytes),
    }
}

/// Reads ground truth from an `.ivecs` file or an integer (`<i4`/`<i8`) `.npy` file.
pub fn read_ground_truth(path: &Path) -> Result<GroundTruth> {
    let format = format_of(path);
    if !matches!(format, Some(Format::Npy | Format::Ivecs)) {
        return Err(unknown_extension(path, ".ivecs or .npy"));
    }
    let (name, bytes) = read_file(path)?;
    match format {
        Some(Format::Ivecs) => vecs::parse_ivecs(&name, &bytes),
        _ => npy::parse_ground_truth(&name, &bytes),
    }
}

fn unknown_extension(path: &Path, expected: &str) -> Error {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default();
    let what = if ext.is_empty() {
        format!("no file extension; expected {expected}")
    } else {
        format!("unknown file extension '.{ext}'; expected {expected}")
    };
    Error::input(Error::path_string(path), None, what)
}

/// Reads several vector files in order and concatenates them.
///
/// All files must have the same dimension. If every file is half precision the result stays
/// half precision; otherwise everything is upcast to `f32`. Row numbers in errors are per file.
/// The `source` of the result is the comma-separated list of files.
pub fn read_vectors_many(paths: &[PathBuf]) -> Result<VectorSet> {
    let mut iter = paths.iter();
    let Some(first) = iter.next() else {
        return Err(Error::input("<api>", None, "no vector files given"));
    };
    let mut all = read_vectors(first)?;
    for path in iter {
        let next = read_vectors(path)?;
        if next.dim != all.dim {
            let what = format!(
                "dimension {} differs from the dimension {} of {}",
                next.dim,
                all.dim,
                first.display()
            );
            return Err(Error::input(next.source, None, what));
        }
        append(&mut all, next);
    }
    Ok(all)
}

/// Appends `next` (same `dim`) to `all`, upcasting to `f32` unless both are `f16`.
fn append(all: &mut VectorSet, next: VectorSet) {
    all.rows += next.rows;
    all.source.push(',');
    all.source.push_str(&next.source);
    let data = std::mem::replace(&mut all.data, VectorData::F32(Vec::new()));
    all.data = match (data, next.data) {
        (VectorData::F16(mut a), VectorData::F16(b)) => {
            a.extend_from_slice(&b);
            VectorData::F16(a)
        }
        (a, b) => {
            let mut a = into_f32(a);
            match b {
                VectorData::F32(b) => a.extend_from_slice(&b),
                VectorData::F16(b) => a.extend(b.iter().map(|x| x.to_f32())),
            }
            VectorData::F32(a)
        }
    };
}

fn into_f32(data: VectorData) -> Vec<f32> {
    match data {
        VectorData::F32(v) => v,
        VectorData::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
    }
}

/// Splits a comma-separated list of paths (as given on the command line); empty parts and
/// surrounding whitespace are dropped.
pub fn split_paths(list: &str) -> Vec<PathBuf> {
    list.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .collect()
}

// ---- validation shared by the parsers -------------------------------------------------------

/// Describes a non-finite value for an error message.
fn non_finite_kind(nan: bool, negative: bool) -> &'static str {
    match (nan, negative) {
        (true, _) => "NaN",
        (false, false) => "+inf",
        (false, true) => "-inf",
    }
}

/// Fails on the first non-finite value of the row-major `data` (`dim` > 0 values per row),
/// naming `file`, the row and the column.
fn check_finite_f32(file: &str, dim: usize, data: &[f32]) -> Result<()> {
    match data.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(at) => {
            let v = data.get(at).copied().unwrap_or(f32::NAN);
            let kind = non_finite_kind(v.is_nan(), v < 0.0);
            Err(non_finite(file, dim, at, kind))
        }
    }
}

/// [`check_finite_f32`] for half-precision data, checked in half precision.
fn check_finite_f16(file: &str, dim: usize, data: &[f16]) -> Result<()> {
    match data.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(at) => {
            let v = data.get(at).copied().unwrap_or(f16::NAN);
            let kind = non_finite_kind(v.is_nan(), v.is_sign_negative());
            Err(non_finite(file, dim, at, kind))
        }
    }
}

/// The error for the non-finite value at index `at` of row-major data with `dim` columns.
fn non_finite(file: &str, dim: usize, at: usize, kind: &str) -> Error {
    let dim = dim.max(1);
    let row = (at / dim) as u64;
    Error::input(
        file,
        Some(row),
        format!("value at column {} is {kind}", at % dim),
    )
}

/// Converts ground-truth ids to `u32`, failing on the first negative or too large id with its
/// row and column (`cols` > 0 ids per row).
fn ids_to_u32<T>(file: &str, cols: usize, ids: &[T]) -> Result<Vec<u32>>
where
    T: Copy + Into<i64>,
{
    let mut out = Vec::with_capacity(ids.len());
    for (at, &id) in ids.iter().enumerate() {
        let id: i64 = id.into();
        match u32::try_from(id) {
            Ok(v) => out.push(v),
            Err(_) => {
                let cols = cols.max(1);
                let row = (at / cols) as u64;
                let why = if id < 0 {
                    "is negative"
                } else {
                    "does not fit in u32"
                };
                let what = format!("id {id} at column {} {why}", at % cols);
                return Err(Error::input(file, Some(row), what));
            }
        }
    }
    Ok(out)
}

// ---- little-endian decoding: the only place input bytes become numbers ----------------------
//
// Each function decodes whole elements and ignores a partial trailing element; callers check
// lengths first, so there never is one.

/// Appends the `f32`s encoded in `bytes`.
fn le_f32s(bytes: &[u8], out: &mut Vec<f32>) {
    out.extend(
        bytes
            .as_chunks::<4>()
            .0
            .iter()
            .map(|&c| f32::from_le_bytes(c)),
    );
}

/// Appends the `f16`s encoded in `bytes`.
fn le_f16s(bytes: &[u8], out: &mut Vec<f16>) {
    out.extend(
        bytes
            .as_chunks::<2>()
            .0
            .iter()
            .map(|&c| f16::from_le_bytes(c)),
    );
}

/// Appends the `i32`s encoded in `bytes`.
fn le_i32s(bytes: &[u8], out: &mut Vec<i32>) {
    out.extend(
        bytes
            .as_chunks::<4>()
            .0
            .iter()
            .map(|&c| i32::from_le_bytes(c)),
    );
}

/// Appends the `i64`s encoded in `bytes`.
fn le_i64s(bytes: &[u8], out: &mut Vec<i64>) {
    out.extend(
        bytes
            .as_chunks::<8>()
            .0
            .iter()
            .map(|&c| i64::from_le_bytes(c)),
    );
}

/// The `i32` at `offset`, if four bytes are there.
fn le_i32_at(bytes: &[u8], offset: usize) -> Option<i32> {
    let end = offset.checked_add(4)?;
    let b: [u8; 4] = bytes.get(offset..end)?.try_into().ok()?;
    Some(i32::from_le_bytes(b))
}

/// The `u16` at `offset`, if two bytes are there.
fn le_u16_at(bytes: &[u8], offset: usize) -> Option<u16> {
    let end = offset.checked_add(2)?;
    let b: [u8; 2] = bytes.get(offset..end)?.try_into().ok()?;
    Some(u16::from_le_bytes(b))
}

/// The `u32` at `offset`, if four bytes are there.
fn le_u32_at(bytes: &[u8], offset: usize) -> Option<u32> {
    let end = offset.checked_add(4)?;
    let b: [u8; 4] = bytes.get(offset..end)?.try_into().ok()?;
    Some(u32::from_le_bytes(b))
}

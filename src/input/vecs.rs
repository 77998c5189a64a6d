//! The `.fvecs`, `.bvecs` and `.ivecs` formats of the classic ANN benchmarks (SIFT, GIST, ...).
//!
//! A file is a sequence of rows with no header. Each row is a little-endian `i32` dimension `d`
//! followed by `d` elements: `f32` for `.fvecs`, `u8` for `.bvecs` (read as `f32`), `i32` for
//! `.ivecs` (ground truth). Every row must repeat the same positive `d`, and the file must end
//! exactly at the end of a row. An empty file is an error: it cannot say its dimension.

use super::{GroundTruth, VectorData, VectorSet};
use crate::error::{Error, Result};
use std::path::Path;

/// Parses an `.fvecs` file and checks every value is finite.
pub(super) fn parse_fvecs(file: &str, bytes: &[u8]) -> Result<VectorSet> {
    let mut out = Vec::new();
    let (rows, dim) = for_each_row(file, bytes, 4, &mut out, super::le_f32s)?;
    super::check_finite_f32(file, dim, &out)?;
    Ok(VectorSet {
        rows,
        dim,
        data: VectorData::F32(out),
        source: file.to_owned(),
    })
}

/// Parses a `.bvecs` file; bytes become `f32` values 0.0 to 255.0 (always finite).
pub(super) fn parse_bvecs(file: &str, bytes: &[u8]) -> Result<VectorSet> {
    let mut out = Vec::new();
    let (rows, dim) = for_each_row(file, bytes, 1, &mut out, |p, out: &mut Vec<f32>| {
        out.extend(p.iter().map(|&b| f32::from(b)));
    })?;
    Ok(VectorSet {
        rows,
        dim,
        data: VectorData::F32(out),
        source: file.to_owned(),
    })
}

/// Parses an `.ivecs` ground-truth file; every id must be non-negative.
pub(super) fn parse_ivecs(file: &str, bytes: &[u8]) -> Result<GroundTruth> {
    let mut raw = Vec::new();
    let (rows, cols) = for_each_row(file, bytes, 4, &mut raw, super::le_i32s)?;
    let ids = super::ids_to_u32(file, cols, &raw)?;
    Ok(GroundTruth { rows, cols, ids })
}

/// Walks the rows of a `*vecs` file whose elements are `elem` bytes wide, calling
/// `decode(payload, out)` with each row's `dim * elem` payload bytes. `out` is reserved for the
/// whole file first. Returns `(rows, dim)`.
///
/// Checks, naming the row: the first dimension is positive, every row repeats it, and no row is
/// cut short.
fn for_each_row<T>(
    file: &str,
    bytes: &[u8],
    elem: usize,
    out: &mut Vec<T>,
    mut decode: impl FnMut(&[u8], &mut Vec<T>),
) -> Result<(usize, usize)> {
    if bytes.is_empty() {
        return Err(Error::input(
            file,
            None,
            "the file is empty; it holds no rows",
        ));
    }
    let first = super::le_i32_at(bytes, 0)
        .ok_or_else(|| truncated(file, 0, 4, bytes.len(), "its dimension"))?;
    let dim = usize::try_from(first)
        .ok()
        .filter(|&d| d > 0)
        .ok_or_else(|| Error::input(file, Some(0), format!("dimension {first} is not positive")))?;
    let too_large = || Error::input(file, Some(0), format!("dimension {dim} is too large"));
    let stride = dim
        .checked_mul(elem)
        .and_then(|b| b.checked_add(4))
        .ok_or_else(too_large)?;
    out.reserve((bytes.len() / stride).saturating_mul(dim));
    for (row, chunk) in bytes.chunks(stride).enumerate() {
        let Some(d) = super::le_i32_at(chunk, 0) else {
            return Err(truncated(file, row, 4, chunk.len(), "its dimension"));
        };
        if d != first {
            let what = format!("dimension {d} differs from the dimension {first} of row 0");
            return Err(Error::input(file, Some(row as u64), what));
        }
        if chunk.len() < stride {
            return Err(truncated(file, row, stride, chunk.len(), "the whole row"));
        }
        decode(chunk.get(4..).unwrap_or_default(), out);
    }
    Ok((bytes.len() / stride, dim))
}

fn truncated(file: &str, row: usize, need: usize, have: usize, what: &str) -> Error {
    let what =
        format!("the file runs out in this row: {what} needs {need} bytes, only {have} remain");
    Error::input(file, Some(row as u64), what)
}

// ---- writers --------------------------------------------------------------------------------

/// Writes `data` as an `.fvecs` file of rows of `dim` values.
pub fn write_fvecs(path: &Path, dim: usize, data: &[f32]) -> Result<()> {
    write(path, dim, data, |v, out| {
        out.extend_from_slice(&v.to_le_bytes())
    })
}

/// Writes `data` as an `.ivecs` file of rows of `dim` values.
pub fn write_ivecs(path: &Path, dim: usize, data: &[i32]) -> Result<()> {
    write(path, dim, data, |v, out| {
        out.extend_from_slice(&v.to_le_bytes())
    })
}

/// Writes `data` in rows of `dim` four-byte elements, each row led by `dim` as an `i32`.
fn write<T: Copy>(
    path: &Path,
    dim: usize,
    data: &[T],
    encode: impl Fn(T, &mut Vec<u8>),
) -> Result<()> {
    let bad =
        |what: String| Error::InvalidArgument(format!("{}: {what}", Error::path_string(path)));
    let dim_i32 = i32::try_from(dim).ok().filter(|&d| d > 0);
    let Some(dim_i32) = dim_i32 else {
        return Err(bad(format!(
            "dimension {dim} must be between 1 and {}",
            i32::MAX
        )));
    };
    if !data.len().is_multiple_of(dim) {
        return Err(bad(format!(
            "{} values are not a whole number of rows of {dim}",
            data.len()
        )));
    }
    let mut bytes = Vec::with_capacity(data.len() / dim * (4 + 4 * dim));
    for row in data.chunks_exact(dim) {
        bytes.extend_from_slice(&dim_i32.to_le_bytes());
        for &v in row {
            encode(v, &mut bytes);
        }
    }
    super::write_file(path, &bytes)
}

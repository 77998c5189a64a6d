//! NumPy `.npy` files.
//!
//! Layout: the magic `\x93NUMPY`, a major and a minor version byte, the header length (a `u16`
//! for version 1, a `u32` for versions 2 and 3, little-endian), then the header: a Python dict
//! literal such as `{'descr': '<f4', 'fortran_order': False, 'shape': (n, d), }` padded with
//! spaces and ended by `\n`. The array data follows the header and is exactly
//! `n * d * itemsize` bytes.
//!
//! We accept only what strata can use without guessing: little-endian `<f4` and `<f2` vectors,
//! `<i4` and `<i8` ground truth, C order, and 2-D shapes. Everything else is an error naming
//! the file and saying what was found and what is expected.

use super::{GroundTruth, VectorData, VectorSet};
use crate::error::{Error, Result};
use half::f16;
use std::path::Path;

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// The element types we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dtype {
    F32,
    F16,
    I32,
    I64,
}

impl Dtype {
    fn descr(self) -> &'static str {
        match self {
            Dtype::F32 => "<f4",
            Dtype::F16 => "<f2",
            Dtype::I32 => "<i4",
            Dtype::I64 => "<i8",
        }
    }

    fn size(self) -> usize {
        match self {
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::F16 => 2,
            Dtype::I64 => 8,
        }
    }
}

/// A checked 2-D array: `data` is exactly `rows * cols * dtype.size()` bytes.
#[derive(Debug)]
struct Array<'a> {
    dtype: Dtype,
    rows: usize,
    cols: usize,
    data: &'a [u8],
}

/// Parses a `.npy` file holding vectors (`<f4` or `<f2`) and checks every value is finite.
pub(super) fn parse_vectors(file: &str, bytes: &[u8]) -> Result<VectorSet> {
    let a = parse(file, bytes, &[Dtype::F32, Dtype::F16], "vectors")?;
    if a.cols == 0 {
        return Err(Error::input(
            file,
            None,
            "shape has dimension 0; vectors need at least one",
        ));
    }
    let data = if a.dtype == Dtype::F16 {
        let mut v = Vec::with_capacity(a.rows * a.cols);
        super::le_f16s(a.data, &mut v);
        super::check_finite_f16(file, a.cols, &v)?;
        VectorData::F16(v)
    } else {
        let mut v = Vec::with_capacity(a.rows * a.cols);
        super::le_f32s(a.data, &mut v);
        super::check_finite_f32(file, a.cols, &v)?;
        VectorData::F32(v)
    };
    Ok(VectorSet {
        rows: a.rows,
        dim: a.cols,
        data,
        source: file.to_owned(),
    })
}

/// Parses a `.npy` file holding ground-truth ids (`<i4` or `<i8`), each of which must fit `u32`.
pub(super) fn parse_ground_truth(file: &str, bytes: &[u8]) -> Result<GroundTruth> {
    let a = parse(file, bytes, &[Dtype::I32, Dtype::I64], "ground truth")?;
    if a.cols == 0 {
        return Err(Error::input(
            file,
            None,
            "shape has 0 columns; ground truth needs at least one",
        ));
    }
    let ids = if a.dtype == Dtype::I64 {
        let mut v = Vec::with_capacity(a.rows * a.cols);
        super::le_i64s(a.data, &mut v);
        super::ids_to_u32(file, a.cols, &v)?
    } else {
        let mut v = Vec::with_capacity(a.rows * a.cols);
        super::le_i32s(a.data, &mut v);
        super::ids_to_u32(file, a.cols, &v)?
    };
    Ok(GroundTruth {
        rows: a.rows,
        cols: a.cols,
        ids,
    })
}

/// Parses the preamble and header, checks the dtype is one of `accepted` (for `purpose`, used in
/// messages), and checks the data is exactly as long as the shape says.
fn parse<'a>(file: &str, bytes: &'a [u8], accepted: &[Dtype], purpose: &str) -> Result<Array<'a>> {
    let err = |what: String| Error::input(file, None, what);
    if bytes.get(..MAGIC.len()) != Some(MAGIC.as_slice()) {
        return Err(err(
            "not a .npy file: it does not start with \\x93NUMPY".into()
        ));
    }
    let (major, minor) = match (bytes.get(6), bytes.get(7)) {
        (Some(&major), Some(&minor)) => (major, minor),
        _ => return Err(err("truncated .npy preamble".into())),
    };
    let (header_len, header_start) = match major {
        1 => (super::le_u16_at(bytes, 8).map(usize::from), 10usize),
        2 | 3 => (
            super::le_u32_at(bytes, 8).and_then(|n| usize::try_from(n).ok()),
            12,
        ),
        _ => {
            return Err(err(format!(
                "unsupported .npy format version {major}.{minor}"
            )));
        }
    };
    let header = header_len
        .and_then(|n| header_start.checked_add(n))
        .and_then(|end| bytes.get(header_start..end))
        .ok_or_else(|| err("the .npy header runs past the end of the file".into()))?;
    let text =
        std::str::from_utf8(header).map_err(|_| err("the .npy header is not valid text".into()))?;
    let h = Header::parse(text).map_err(|why| err(format!("cannot parse .npy header: {why}")))?;
    let dtype = check_dtype(&h.descr, accepted, purpose).map_err(err)?;
    if h.fortran_order {
        return Err(err(
            "fortran_order is True; only C-order arrays are supported \
                        (save with numpy.ascontiguousarray)"
                .into(),
        ));
    }
    let (rows, cols) = match h.shape.as_slice() {
        &[rows, cols] => (rows, cols),
        other => {
            return Err(err(format!(
                "shape {} is {}-D; expected a 2-D array (rows, dim)",
                shape_str(other),
                other.len()
            )));
        }
    };
    let data = bytes.get(header_start + header.len()..).unwrap_or_default();
    check_data_len(file, dtype, rows, cols, data.len())?;
    Ok(Array {
        dtype,
        rows,
        cols,
        data,
    })
}

/// Maps a `descr` string to a dtype we accept, or explains why not.
fn check_dtype(descr: &str, accepted: &[Dtype], purpose: &str) -> Result<Dtype, String> {
    if let Some(&d) = accepted.iter().find(|d| d.descr() == descr) {
        return Ok(d);
    }
    let expected: Vec<String> = accepted
        .iter()
        .map(|d| format!("'{}'", d.descr()))
        .collect();
    let expected = expected.join(" or ");
    if let Some(rest) = descr.strip_prefix('>') {
        return Err(format!(
            "dtype '{descr}' is big-endian; {purpose} must be little-endian ({expected}; \
             convert with .astype('<{rest}'))"
        ));
    }
    Err(format!(
        "unsupported dtype '{descr}' for {purpose}; expected {expected}"
    ))
}

/// Checks that `found` data bytes are exactly what a `rows` x `cols` array of `dtype` needs.
/// A shortfall names the row the data ends in; an excess names the first row past the shape.
fn check_data_len(file: &str, dtype: Dtype, rows: usize, cols: usize, found: usize) -> Result<()> {
    let row_bytes = cols.checked_mul(dtype.size());
    let Some((row_bytes, need)) = row_bytes.and_then(|rb| Some((rb, rows.checked_mul(rb)?))) else {
        let what = format!("shape ({rows}, {cols}) is too large");
        return Err(Error::input(file, None, what));
    };
    let summary = || {
        format!(
            "shape ({rows}, {cols}) of '{}' needs {need} data bytes, the file has {found}",
            dtype.descr()
        )
    };
    if found < need {
        // `need > 0`, so `row_bytes > 0`.
        let row = (found / row_bytes.max(1)) as u64;
        return Err(Error::input(
            file,
            Some(row),
            format!("the data runs out in this row: {}", summary()),
        ));
    }
    if found > need {
        let what = format!(
            "{} extra bytes after the last row: {}",
            found - need,
            summary()
        );
        return Err(Error::input(file, Some(rows as u64), what));
    }
    Ok(())
}

fn shape_str(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => {
            let parts: Vec<String> = shape.iter().map(usize::to_string).collect();
            format!("({})", parts.join(", "))
        }
    }
}

// ---- the header dict ------------------------------------------------------------------------

/// The three keys of a `.npy` header.
#[derive(Debug, PartialEq, Eq)]
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// A value in the header dict: the only literal kinds NumPy writes there for plain dtypes.
enum Value {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
}

impl Header {
    /// Parses `{'descr': ..., 'fortran_order': ..., 'shape': (...), }` followed by whitespace.
    /// Each of the three keys must appear exactly once; no other key may.
    fn parse(text: &str) -> Result<Header, String> {
        let mut p = Cursor {
            s: text.as_bytes(),
            pos: 0,
        };
        let (mut descr, mut fortran_order, mut shape) = (None, None, None);
        p.expect(b'{')?;
        loop {
            p.skip_ws();
            if p.eat(b'}') {
                break;
            }
            let key = p.string()?;
            if !matches!(key.as_str(), "descr" | "fortran_order" | "shape") {
                return Err(format!("unexpected key '{key}'"));
            }
            p.skip_ws();
            p.expect(b':')?;
            p.skip_ws();
            let repeated = match (key.as_str(), p.value()?) {
                ("descr", Value::Str(s)) => descr.replace(s).is_some(),
                ("fortran_order", Value::Bool(b)) => fortran_order.replace(b).is_some(),
                ("shape", Value::Tuple(t)) => shape.replace(t).is_some(),
                _ => return Err(format!("'{key}' has a value of the wrong kind")),
            };
            // Python keeps the last value of a repeated key; which one the writer meant is a
            // guess, so refuse it.
            if repeated {
                return Err(format!("key '{key}' appears twice"));
            }
            p.skip_ws();
            if !p.eat(b',') {
                p.expect(b'}')?;
                break;
            }
        }
        p.skip_ws();
        if p.pos < p.s.len() {
            return Err("unexpected characters after the dict".into());
        }
        match (descr, fortran_order, shape) {
            (Some(descr), Some(fortran_order), Some(shape)) => Ok(Header {
                descr,
                fortran_order,
                shape,
            }),
            (None, _, _) => Err("missing key 'descr'".into()),
            (_, None, _) => Err("missing key 'fortran_order'".into()),
            (_, _, None) => Err("missing key 'shape'".into()),
        }
    }
}

/// A cursor over the ASCII header text.
struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.eat(c) {
            return Ok(());
        }
        Err(format!(
            "expected '{}' at character {}",
            char::from(c),
            self.pos
        ))
    }

    /// A Python string literal in single or double quotes (no escapes: NumPy writes none).
    fn string(&mut self) -> Result<String, String> {
        let Some(quote) = self.peek().filter(|&c| c == b'\'' || c == b'"') else {
            return Err(format!(
                "expected a quoted string at character {}",
                self.pos
            ));
        };
        self.pos += 1;
        let start = self.pos;
        while self.peek().is_some_and(|c| c != quote) {
            self.pos += 1;
        }
        let body = self.s.get(start..self.pos).unwrap_or_default();
        if !self.eat(quote) {
            return Err("unterminated string".into());
        }
        Ok(String::from_utf8_lossy(body).into_owned())
    }

    fn value(&mut self) -> Result<Value, String> {
        match self.peek() {
            Some(b'\'' | b'"') => self.string().map(Value::Str),
            Some(b'(') => self.tuple().map(Value::Tuple),
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric()) {
                    self.pos += 1;
                }
                match self.s.get(start..self.pos).unwrap_or_default() {
                    b"True" => Ok(Value::Bool(true)),
                    b"False" => Ok(Value::Bool(false)),
                    other => Err(format!(
                        "unexpected word '{}'",
                        String::from_utf8_lossy(other)
                    )),
                }
            }
            _ => Err(format!("unsupported value at character {}", self.pos)),
        }
    }

    /// A tuple of non-negative integers: `()`, `(n,)`, `(n, d)`, ... (a Python 2 `L` suffix is
    /// tolerated).
    fn tuple(&mut self) -> Result<Vec<usize>, String> {
        self.expect(b'(')?;
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(b')') {
                return Ok(out);
            }
            out.push(self.integer()?);
            self.skip_ws();
            if !self.eat(b',') {
                self.skip_ws();
                self.expect(b')')?;
                return Ok(out);
            }
        }
    }

    fn integer(&mut self) -> Result<usize, String> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits = self.s.get(start..self.pos).unwrap_or_default();
        if digits.is_empty() {
            return Err(format!(
                "expected a non-negative integer at character {start}"
            ));
        }
        let _ = self.eat(b'L');
        std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse::<usize>().ok())
            .ok_or_else(|| format!("integer at character {start} is too large"))
    }
}

// ---- writers --------------------------------------------------------------------------------

/// Writes a C-order `rows` x `dim` array of `f32` as `.npy` (format 1.0).
pub fn write_npy_f32(path: &Path, rows: usize, dim: usize, data: &[f32]) -> Result<()> {
    let body = data.iter().flat_map(|v| v.to_le_bytes());
    write(path, Dtype::F32, rows, dim, data.len(), body)
}

/// Writes a C-order `rows` x `dim` array of `f16` as `.npy` (format 1.0).
pub fn write_npy_f16(path: &Path, rows: usize, dim: usize, data: &[f16]) -> Result<()> {
    let body = data.iter().flat_map(|v| v.to_le_bytes());
    write(path, Dtype::F16, rows, dim, data.len(), body)
}

/// Writes a C-order `rows` x `cols` array of `i32` as `.npy` (format 1.0).
pub fn write_npy_i32(path: &Path, rows: usize, cols: usize, data: &[i32]) -> Result<()> {
    let body = data.iter().flat_map(|v| v.to_le_bytes());
    write(path, Dtype::I32, rows, cols, data.len(), body)
}

/// Writes the header for `dtype` and shape (`rows`, `cols`), then `body` (`len` elements).
fn write(
    path: &Path,
    dtype: Dtype,
    rows: usize,
    cols: usize,
    len: usize,
    body: impl Iterator<Item = u8>,
) -> Result<()> {
    if rows.checked_mul(cols) != Some(len) {
        return Err(Error::InvalidArgument(format!(
            "{}: shape ({rows}, {cols}) needs {} values, got {len}",
            Error::path_string(path),
            rows.saturating_mul(cols)
        )));
    }
    let mut bytes = header_bytes(dtype, rows, cols)?;
    bytes.reserve(len * dtype.size());
    bytes.extend(body);
    super::write_file(path, &bytes)
}

/// The version 1.0 preamble and header, padded with spaces so the data starts at a multiple of
/// 64 bytes as NumPy does. The dict holds two integers and fixed text, so it is far shorter than
/// the 65535 bytes a version 1.0 header may have.
fn header_bytes(dtype: Dtype, rows: usize, cols: usize) -> Result<Vec<u8>> {
    const PREAMBLE: usize = MAGIC.len() + 4;
    let dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': ({rows}, {cols}), }}",
        dtype.descr()
    );
    let total = (PREAMBLE + dict.len() + 1).next_multiple_of(64);
    let header_len = u16::try_from(total - PREAMBLE).map_err(|_| {
        Error::InvalidArgument(format!("npy header for shape ({rows}, {cols}) is too long"))
    })?;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(total - 1, b' ');
    out.push(b'\n');
    Ok(out)
}

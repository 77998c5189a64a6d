//! JSON Lines documents, the input of `strata ingest`.
//!
//! One JSON object per line (blank lines skipped; a UTF-8 byte-order mark on the first line and
//! a `\r` before the `\n` are tolerated). What a line may hold is set by [`JsonlFields`], the
//! fields of the index it goes into; each object becomes a [`JsonDoc`]:
//!
//! - the key comes from the first present of `"key"`, `"_id"`, `"id"`: a non-negative integer
//!   becomes [`JsonKey::U64`], a non-empty string [`JsonKey::Str`] (digits stay a string);
//! - a member named like a text field must be a string (or `null`, read as absent);
//! - `"sparse"`, if the index has a sparse field, may be an object of term -> finite,
//!   non-negative weight (terms non-empty) or `null`;
//! - `"vector"`, if the index has a dense field, may be a non-empty array of numbers finite as
//!   `f32`, or `null`;
//! - a member named like an attribute of the index must hold its kind: a keyword attribute a
//!   string or an array of strings, an i64 attribute an integer within i64, an f64 attribute a
//!   finite number; `null` (or an empty array) is read as absent;
//! - any other member is an error naming it: a misspelt field (`"titel"`) would otherwise be
//!   dropped without a word. (Of the key names only the one the key came from is taken as the
//!   key; another one is a member like any other.)
//!
//! A member name repeated within an object (at any depth) is an error too: JSON parsers differ
//! on which of the two values wins, so neither is guessed.
//!
//! The file may be zstd-compressed: it is decompressed when its name ends in `.zst` or it starts
//! with the zstd magic bytes. Every error names the file and the 1-based line number (as the
//! row of [`Error::Input`], and in the message); iteration ends after the first error.

use crate::error::{Error, Result};
use crate::schema::Schema;
use crate::types::{AttrKind, AttrValue};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// The four bytes every zstd frame starts with.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// A document's key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JsonKey {
    /// A JSON number that is a non-negative integer.
    U64(u64),
    /// A JSON string, taken as written.
    Str(String),
}

/// The members a JSON Lines document may hold besides its key: the fields of the index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JsonlFields {
    /// Names of the text fields; a member with one of these names must be a string.
    pub text: Vec<String>,
    /// Whether a `"sparse"` member is accepted (the index has a sparse field).
    pub sparse: bool,
    /// Whether a `"vector"` member is accepted (the index has a dense field).
    pub vector: bool,
    /// The attributes (name, kind); a member with one of these names must hold that kind.
    pub attrs: Vec<(String, AttrKind)>,
}

impl JsonlFields {
    /// The members an index with `schema` uses.
    pub fn of(schema: &Schema) -> JsonlFields {
        JsonlFields {
            text: schema
                .text_fields()
                .iter()
                .map(|f| f.name.to_owned())
                .collect(),
            sparse: schema.sparse_field().is_some(),
            vector: schema.dense_field().is_some(),
            attrs: schema
                .attributes()
                .iter()
                .map(|a| (a.name.to_owned(), a.kind))
                .collect(),
        }
    }

    /// What the fields are, for messages: `text fields "title", "text"; "vector"`.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.text.is_empty() {
            let names: Vec<String> = self.text.iter().map(|n| format!("\"{n}\"")).collect();
            parts.push(format!("text fields {}", names.join(", ")));
        }
        if self.sparse {
            parts.push("\"sparse\"".to_owned());
        }
        if self.vector {
            parts.push("\"vector\"".to_owned());
        }
        if !self.attrs.is_empty() {
            let names: Vec<String> = self
                .attrs
                .iter()
                .map(|(n, k)| format!("\"{n}\" ({})", k.name()))
                .collect();
            parts.push(format!("attributes {}", names.join(", ")));
        }
        if parts.is_empty() {
            "none".to_owned()
        } else {
            parts.join("; ")
        }
    }
}

/// One document of a JSON Lines file.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonDoc {
    /// From `"key"`, `"_id"` or `"id"` (the first present).
    pub key: JsonKey,
    /// The text fields present as (name, value), in file order.
    pub text: Vec<(String, String)>,
    /// The `"sparse"` object's (term, weight) pairs, sorted by term.
    pub sparse: Vec<(String, f32)>,
    /// The `"vector"` array, if present.
    pub vector: Option<Vec<f32>>,
    /// The attributes present as (name, value), in file order.
    pub attrs: Vec<(String, AttrValue)>,
}

/// Streams the documents of `path` for an index with `fields` (see the module docs). Opening
/// errors are returned here; each later problem is one `Err` item, after which the iterator
/// ends.
pub fn read_jsonl(path: &Path, fields: &JsonlFields) -> Result<JsonlReader> {
    Ok(JsonlReader {
        lines: LineReader::open(path)?,
        fields: fields.clone(),
    })
}

/// The iterator returned by [`read_jsonl`].
pub struct JsonlReader {
    lines: LineReader,
    fields: JsonlFields,
}

impl JsonlReader {
    /// The 1-based line number of the document returned last (0 before the first).
    pub fn line(&self) -> u64 {
        self.lines.line_no
    }
}

impl Iterator for JsonlReader {
    type Item = Result<JsonDoc>;

    fn next(&mut self) -> Option<Result<JsonDoc>> {
        let item = match self.lines.next_line() {
            Ok(None) => return None,
            Ok(Some((line_no, line))) => parse_doc(line, &self.fields).map_err(|what| {
                Error::input(
                    self.lines.name(),
                    Some(line_no),
                    format!("line {line_no}: {what}"),
                )
            }),
            Err(e) => Err(e),
        };
        if item.is_err() {
            self.lines.stop();
        }
        Some(item)
    }
}

impl std::fmt::Debug for JsonlReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonlReader")
            .field("file", &self.lines.name())
            .finish()
    }
}

/// Parses one non-blank line; the error is the message (without the line number prefix).
fn parse_doc(line: &str, fields: &JsonlFields) -> std::result::Result<JsonDoc, String> {
    let (obj, names) = parse_members(line)?;
    let (key_name, key) = ["key", "_id", "id"]
        .iter()
        .find_map(|&name| obj.get(name).map(|v| (name, v)))
        .ok_or("no \"key\", \"_id\" or \"id\" member")?;
    let key = match key {
        Value::String(s) if s.is_empty() => return Err(format!("\"{key_name}\" is empty")),
        Value::String(s) => JsonKey::Str(s.clone()),
        Value::Number(n) => JsonKey::U64(n.as_u64().ok_or_else(|| {
            format!("\"{key_name}\" {n} is not a non-negative integer that fits u64")
        })?),
        other => {
            return Err(format!(
                "\"{key_name}\" must be a string or a non-negative integer, not {}",
                kind(other)
            ));
        }
    };
    let mut doc = JsonDoc {
        key,
        text: Vec::new(),
        sparse: Vec::new(),
        vector: None,
        attrs: Vec::new(),
    };
    for name in names {
        let Some(value) = obj.get(&name) else {
            continue;
        };
        if name == key_name {
            continue;
        }
        if fields.text.contains(&name) {
            match value {
                Value::String(s) => doc.text.push((name, s.clone())),
                Value::Null => {}
                other => {
                    return Err(format!(
                        "text field \"{name}\" must be a string, not {}",
                        kind(other)
                    ));
                }
            }
        } else if let Some((_, k)) = fields.attrs.iter().find(|(n, _)| *n == name) {
            if let Some(v) = parse_attr(&name, *k, value)? {
                doc.attrs.push((name, v));
            }
        } else if name == "sparse" && fields.sparse {
            doc.sparse = match value {
                Value::Null => Vec::new(),
                Value::Object(m) => parse_sparse(m)?,
                other => {
                    return Err(format!(
                        "\"sparse\" must be an object of term weights, not {}",
                        kind(other)
                    ));
                }
            };
        } else if name == "vector" && fields.vector {
            doc.vector = match value {
                Value::Null => None,
                Value::Array(a) => Some(parse_vector(a)?),
                other => {
                    return Err(format!(
                        "\"vector\" must be an array of numbers, not {}",
                        kind(other)
                    ));
                }
            };
        } else {
            return Err(format!(
                "member \"{name}\" is not a field of the index (its fields: {})",
                fields.describe()
            ));
        }
    }
    Ok(doc)
}

/// Parses `line` as a JSON object whose objects (at every depth) name each member once.
pub(crate) fn parse_object(line: &str) -> std::result::Result<Map<String, Value>, String> {
    parse_members(line).map(|(obj, _)| obj)
}

/// [`parse_object`], and the object's member names in file order.
fn parse_members(line: &str) -> std::result::Result<(Map<String, Value>, Vec<String>), String> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(m)) => Ok((m, member_names(line)?)),
        Ok(other) => Err(format!("expected a JSON object, found {}", kind(&other))),
        Err(e) => Err(format!("not valid JSON: {e}")),
    }
}

/// The JSON type of `v`, for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The value of attribute `name` of kind `kind` (None: absent).
fn parse_attr(
    name: &str,
    attr_kind: AttrKind,
    v: &Value,
) -> std::result::Result<Option<AttrValue>, String> {
    let wrong = |v: &Value| {
        let want = match attr_kind {
            AttrKind::Keyword => "a string or an array of strings",
            AttrKind::I64 => "an integer within i64",
            AttrKind::F64 => "a finite number",
        };
        format!(
            "attribute \"{name}\" ({}) must be {want}, not {}",
            attr_kind.name(),
            match v {
                Value::Number(n) => format!("the number {n}"),
                other => kind(other).to_owned(),
            }
        )
    };
    Ok(match (attr_kind, v) {
        (_, Value::Null) => None,
        (AttrKind::Keyword, Value::String(s)) => Some(AttrValue::Keywords(vec![s.clone()])),
        (AttrKind::Keyword, Value::Array(a)) => {
            let mut list = Vec::with_capacity(a.len());
            for x in a {
                match x {
                    Value::String(s) => list.push(s.clone()),
                    other => return Err(wrong(other)),
                }
            }
            (!list.is_empty()).then_some(AttrValue::Keywords(list))
        }
        (AttrKind::I64, Value::Number(n)) => {
            Some(AttrValue::I64(n.as_i64().ok_or_else(|| wrong(v))?))
        }
        (AttrKind::F64, Value::Number(n)) => match n.as_f64() {
            Some(x) if x.is_finite() => Some(AttrValue::F64(x)),
            _ => return Err(wrong(v)),
        },
        (_, other) => return Err(wrong(other)),
    })
}

fn parse_sparse(m: &Map<String, Value>) -> std::result::Result<Vec<(String, f32)>, String> {
    let mut out = Vec::with_capacity(m.len());
    for (term, w) in m {
        if term.is_empty() {
            return Err("\"sparse\" has an empty term".to_owned());
        }
        let weight = match w.as_f64() {
            Some(x) => x as f32,
            None => {
                return Err(format!(
                    "\"sparse\" weight of term '{term}' is {}, not a number",
                    kind(w)
                ));
            }
        };
        if !weight.is_finite() || weight < 0.0 {
            return Err(format!(
                "\"sparse\" weight {w} of term '{term}' must be finite and >= 0"
            ));
        }
        out.push((term.clone(), weight));
    }
    Ok(out)
}

fn parse_vector(a: &[Value]) -> std::result::Result<Vec<f32>, String> {
    if a.is_empty() {
        return Err("\"vector\" is empty".to_owned());
    }
    let mut out = Vec::with_capacity(a.len());
    for (i, v) in a.iter().enumerate() {
        let x = v
            .as_f64()
            .ok_or_else(|| format!("\"vector\" element {i} is {}, not a number", kind(v)))?
            as f32;
        if !x.is_finite() {
            return Err(format!("\"vector\" element {i} ({v}) is not finite as f32"));
        }
        out.push(x);
    }
    Ok(out)
}

/// One open object or array while scanning JSON text.
enum Frame {
    /// An object: the member names seen so far, and whether a name comes next.
    Object {
        names: HashSet<String>,
        expect_name: bool,
    },
    Array,
}

/// The member names of the top-level object in `json` (already known to be a valid JSON
/// object), in file order; an error names a member that appears twice in one object, at any
/// depth.
///
/// `serde_json` keeps the last of two repeated members and (without its `preserve_order`
/// feature) sorts members, so both facts are recovered from the text: a scan tracking the open
/// objects and arrays and string state, taking the string that starts each object member. All
/// structural characters are ASCII, so scanning bytes is safe in UTF-8, and every slice taken
/// starts and ends at a `"`.
fn member_names(json: &str) -> std::result::Result<Vec<String>, String> {
    let bytes = json.as_bytes();
    let mut top: Vec<String> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    let mut name_start: Option<usize> = None;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
                let name = name_start
                    .take()
                    .and_then(|start| json.get(start..=i))
                    .and_then(|raw| serde_json::from_str::<String>(raw).ok());
                let depth = stack.len();
                if let (Some(name), Some(Frame::Object { names, .. })) = (name, stack.last_mut()) {
                    if names.contains(&name) {
                        return Err(format!("member \"{name}\" appears twice in one object"));
                    }
                    if depth == 1 {
                        top.push(name.clone());
                    }
                    names.insert(name);
                }
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                if let Some(Frame::Object { expect_name, .. }) = stack.last_mut()
                    && *expect_name
                {
                    name_start = Some(i);
                    *expect_name = false;
                }
            }
            b'{' => stack.push(Frame::Object {
                names: HashSet::new(),
                expect_name: true,
            }),
            b'[' => stack.push(Frame::Array),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => {
                if let Some(Frame::Object { expect_name, .. }) = stack.last_mut() {
                    *expect_name = true;
                }
            }
            _ => {}
        }
    }
    Ok(top)
}

// ---- line reading, shared with `crate::eval` -------------------------------------------------

/// Reads the lines of a text file that may be zstd-compressed, numbering them from 1 and
/// skipping blank ones. Invalid UTF-8 is an [`Error::Input`] with the line number; a read or
/// decompression failure an [`Error::Io`].
pub(crate) struct LineReader {
    name: String,
    reader: Box<dyn BufRead + Send>,
    buf: Vec<u8>,
    line_no: u64,
    done: bool,
}

impl LineReader {
    /// Opens `path`, decompressing it when its name ends in `.zst` or it starts with the zstd
    /// magic bytes.
    pub(crate) fn open(path: &Path) -> Result<LineReader> {
        let name = Error::path_string(path);
        let file = File::open(path).map_err(|e| Error::io("open", name.clone(), e))?;
        let mut plain = BufReader::new(file);
        let head = plain
            .fill_buf()
            .map_err(|e| Error::io("read", name.clone(), e))?;
        let by_name = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zst"));
        let reader: Box<dyn BufRead + Send> = if by_name || head.starts_with(&ZSTD_MAGIC) {
            let decoder = zstd::stream::read::Decoder::with_buffer(plain)
                .map_err(|e| Error::io("start decompressing", name.clone(), e))?;
            Box::new(BufReader::new(decoder))
        } else {
            Box::new(plain)
        };
        Ok(LineReader {
            name,
            reader,
            buf: Vec::new(),
            line_no: 0,
            done: false,
        })
    }

    /// The file name, for messages.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Makes every later call return `Ok(None)`.
    pub(crate) fn stop(&mut self) {
        self.done = true;
    }

    /// The next non-blank line (without its line ending) and its 1-based number, `None` at the
    /// end. After an error the reader is stopped.
    pub(crate) fn next_line(&mut self) -> Result<Option<(u64, &str)>> {
        // The loop finds the line's byte range; borrowing `buf` for the result happens after it.
        let (start, end) = loop {
            if self.done {
                return Ok(None);
            }
            self.buf.clear();
            let n = match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(n) => n,
                Err(e) => {
                    self.done = true;
                    return Err(Error::io("read", self.name.clone(), e));
                }
            };
            if n == 0 {
                self.done = true;
                return Ok(None);
            }
            self.line_no += 1;
            let mut bytes = self.buf.as_slice();
            bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
            bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
            let end = bytes.len();
            let start = if self.line_no == 1 && bytes.starts_with(b"\xEF\xBB\xBF") {
                3
            } else {
                0
            };
            let blank = bytes
                .get(start..)
                .unwrap_or_default()
                .iter()
                .all(u8::is_ascii_whitespace);
            if !blank {
                break (start, end);
            }
        };
        let line_no = self.line_no;
        let bytes = self.buf.get(start..end).unwrap_or_default();
        match std::str::from_utf8(bytes) {
            Ok(line) => Ok(Some((line_no, line))),
            Err(e) => {
                self.done = true;
                let what = format!(
                    "line {line_no} is not valid UTF-8 (at byte {})",
                    e.valid_up_to()
                );
                Err(Error::input(self.name.clone(), Some(line_no), what))
            }
        }
    }
}

#[cfg(test)]
mod tests;

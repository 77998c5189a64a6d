//! JSON Lines documents, the input of `strata ingest`.
//!
//! One JSON object per line (blank lines skipped; a UTF-8 byte-order mark on the first line and
//! a `\r` before the `\n` are tolerated). Each object becomes a [`JsonDoc`]:
//!
//! - the key comes from the first present of `"key"`, `"_id"`, `"id"`: a non-negative integer
//!   becomes [`JsonKey::U64`], a non-empty string [`JsonKey::Str`] (digits stay a string);
//! - `"sparse"`, if present and not null, must be an object of term -> finite, non-negative
//!   weight (terms non-empty);
//! - `"vector"`, if present and not null, must be a non-empty array of numbers finite as `f32`;
//! - every other member whose value is a string is a text field, in file order (only the member
//!   the key came from is left out, so a `"id"` next to a `"key"` is text);
//! - members of any other type are ignored.
//!
//! The file may be zstd-compressed: it is decompressed when its name ends in `.zst` or it starts
//! with the zstd magic bytes. Every error names the file and the 1-based line number (as the
//! row of [`Error::Input`], and in the message); iteration ends after the first error.

use crate::error::{Error, Result};
use serde_json::{Map, Value};
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

/// One document of a JSON Lines file.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonDoc {
    /// From `"key"`, `"_id"` or `"id"` (the first present).
    pub key: JsonKey,
    /// Every other string member as (name, value), in file order.
    pub text: Vec<(String, String)>,
    /// The `"sparse"` object's (term, weight) pairs, sorted by term.
    pub sparse: Vec<(String, f32)>,
    /// The `"vector"` array, if present.
    pub vector: Option<Vec<f32>>,
}

/// Streams the documents of `path` (see the module docs). Opening errors are returned here;
/// each later problem is one `Err` item, after which the iterator ends.
pub fn read_jsonl(path: &Path) -> Result<JsonlReader> {
    Ok(JsonlReader {
        lines: LineReader::open(path)?,
    })
}

/// The iterator returned by [`read_jsonl`].
pub struct JsonlReader {
    lines: LineReader,
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
            Ok(Some((line_no, line))) => parse_doc(line).map_err(|what| {
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
fn parse_doc(line: &str) -> std::result::Result<JsonDoc, String> {
    let obj = parse_object(line)?;
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
    let mut text = Vec::new();
    for name in top_level_keys(line) {
        if name == key_name {
            continue;
        }
        if let Some(Value::String(s)) = obj.get(&name) {
            text.push((name, s.clone()));
        }
    }
    let sparse = match obj.get("sparse") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(m)) => parse_sparse(m)?,
        Some(other) => {
            return Err(format!(
                "\"sparse\" must be an object of term weights, not {}",
                kind(other)
            ));
        }
    };
    let vector = match obj.get("vector") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(parse_vector(a)?),
        Some(other) => {
            return Err(format!(
                "\"vector\" must be an array of numbers, not {}",
                kind(other)
            ));
        }
    };
    Ok(JsonDoc {
        key,
        text,
        sparse,
        vector,
    })
}

/// Parses `line` as a JSON object.
pub(crate) fn parse_object(line: &str) -> std::result::Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(m)) => Ok(m),
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

/// The member names of the top-level object in `json` (already known to be a valid JSON
/// object), in file order, each once.
///
/// `serde_json` (without its `preserve_order` feature) sorts members, so the order is recovered
/// from the text: a scan tracking nesting depth and string state, taking the string that starts
/// each member at depth 1. All structural characters are ASCII, so scanning bytes is safe in
/// UTF-8, and every slice taken starts and ends at a `"`.
fn top_level_keys(json: &str) -> Vec<String> {
    let bytes = json.as_bytes();
    let mut keys: Vec<String> = Vec::new();
    let mut depth = 0usize;
    let mut expect_key = false;
    let mut in_string = false;
    let mut escaped = false;
    let mut key_start: Option<usize> = None;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
                if let Some(start) = key_start.take() {
                    let name = json
                        .get(start..=i)
                        .and_then(|raw| serde_json::from_str::<String>(raw).ok());
                    if let Some(name) = name
                        && !keys.contains(&name)
                    {
                        keys.push(name);
                    }
                }
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                if depth == 1 && expect_key {
                    key_start = Some(i);
                    expect_key = false;
                }
            }
            b'{' | b'[' => {
                depth += 1;
                expect_key = depth == 1 && b == b'{';
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => expect_key = true,
            _ => {}
        }
    }
    keys
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
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn read_all(path: &Path) -> Vec<Result<JsonDoc>> {
        read_jsonl(path).unwrap().collect()
    }

    /// The 1-based line and message of an input error.
    fn line_and_message(err: &Error) -> (u64, String) {
        match err {
            Error::Input {
                row: Some(row),
                what,
                ..
            } => (*row, what.clone()),
            other => panic!("not an input error with a line: {other}"),
        }
    }

    const GOOD: &str = concat!(
        "{\"key\": 7, \"title\": \"A title\", \"n\": 3, \"text\": \"Body text\"}\n",
        "\n",
        "   \n",
        "{\"_id\": \"0042\", \"zeta\": \"z\", \"alpha\": \"a\", \"flag\": true, \"nested\": {\"x\": \"no\"}, ",
        "\"sparse\": {\"b\": 0.5, \"a\": 0}, \"vector\": [1, -2.5, 3e2]}\r\n",
        "{\"id\": \"x\", \"key\": \"k\", \"t\": \"esc \\\"q\\\" \\u00e9\", \"k\\\"ey\": \"v\", \"sparse\": null}",
    );

    fn expected_good() -> Vec<JsonDoc> {
        vec![
            JsonDoc {
                key: JsonKey::U64(7),
                text: vec![
                    ("title".into(), "A title".into()),
                    ("text".into(), "Body text".into()),
                ],
                sparse: vec![],
                vector: None,
            },
            JsonDoc {
                key: JsonKey::Str("0042".into()),
                text: vec![("zeta".into(), "z".into()), ("alpha".into(), "a".into())],
                sparse: vec![("a".into(), 0.0), ("b".into(), 0.5)],
                vector: Some(vec![1.0, -2.5, 300.0]),
            },
            JsonDoc {
                key: JsonKey::Str("k".into()),
                text: vec![
                    ("id".into(), "x".into()),
                    ("t".into(), "esc \"q\" é".into()),
                    ("k\"ey".into(), "v".into()),
                ],
                sparse: vec![],
                vector: None,
            },
        ]
    }

    #[test]
    fn good_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "docs.jsonl", GOOD.as_bytes());
        let docs: Vec<JsonDoc> = read_all(&path).into_iter().map(Result::unwrap).collect();
        assert_eq!(docs, expected_good());
    }

    #[test]
    fn bom_and_empty_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "bom.jsonl", b"\xEF\xBB\xBF{\"id\": 1}\n");
        let docs = read_all(&path);
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].as_ref().unwrap().key, JsonKey::U64(1));
        let empty = write(&dir, "empty.jsonl", b"");
        assert!(read_all(&empty).is_empty());
    }

    #[test]
    fn zstd_input_by_name_and_by_magic() {
        let dir = tempfile::tempdir().unwrap();
        let compressed = zstd::encode_all(GOOD.as_bytes(), 3).unwrap();
        for name in ["docs.jsonl.zst", "docs-no-extension"] {
            let path = write(&dir, name, &compressed);
            let docs: Vec<JsonDoc> = read_all(&path).into_iter().map(Result::unwrap).collect();
            assert_eq!(docs, expected_good(), "{name}");
        }
        // A .zst name that is not zstd is an I/O (decompression) error, not a panic.
        let path = write(&dir, "bad.jsonl.zst", GOOD.as_bytes());
        let items = read_all(&path);
        assert_eq!(items.len(), 1);
        assert!(matches!(items[0], Err(Error::Io { .. })));
    }

    #[test]
    fn truncated_zstd_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut enc = zstd::Encoder::new(Vec::new(), 3).unwrap();
        for i in 0..2000 {
            writeln!(enc, "{{\"id\": {i}, \"text\": \"document number {i}\"}}").unwrap();
        }
        let full = enc.finish().unwrap();
        let path = write(&dir, "cut.jsonl.zst", &full[..full.len() / 2]);
        let items = read_all(&path);
        assert!(items.last().unwrap().is_err());
        assert!(items.iter().rev().skip(1).all(Result::is_ok));
    }

    #[test]
    fn each_bad_line_names_its_line() {
        let cases: &[(&str, &str)] = &[
            ("{\"id\": 1", "not valid JSON"),
            ("[1, 2]", "expected a JSON object, found an array"),
            ("\"text\"", "expected a JSON object, found a string"),
            (
                "{\"text\": \"no key\"}",
                "no \"key\", \"_id\" or \"id\" member",
            ),
            ("{\"key\": -1}", "not a non-negative integer"),
            ("{\"key\": 1.5}", "not a non-negative integer"),
            (
                "{\"key\": true}",
                "must be a string or a non-negative integer",
            ),
            ("{\"key\": \"\"}", "\"key\" is empty"),
            (
                "{\"id\": 1, \"sparse\": {\"a\": -0.5}}",
                "must be finite and >= 0",
            ),
            (
                "{\"id\": 1, \"sparse\": {\"a\": 1e300}}",
                "must be finite and >= 0",
            ),
            ("{\"id\": 1, \"sparse\": {\"a\": \"1\"}}", "not a number"),
            ("{\"id\": 1, \"sparse\": {\"\": 1}}", "empty term"),
            (
                "{\"id\": 1, \"sparse\": [1]}",
                "\"sparse\" must be an object",
            ),
            (
                "{\"id\": 1, \"vector\": [1, \"2\"]}",
                "element 1 is a string",
            ),
            (
                "{\"id\": 1, \"vector\": [1, 1e39]}",
                "element 1 (1e+39) is not finite",
            ),
            ("{\"id\": 1, \"vector\": []}", "\"vector\" is empty"),
            ("{\"id\": 1, \"vector\": 3}", "\"vector\" must be an array"),
        ];
        let dir = tempfile::tempdir().unwrap();
        for (bad, expected) in cases {
            // Line 1 good, line 2 blank, line 3 bad, line 4 good but never reached.
            let content = format!("{{\"id\": 0}}\n\n{bad}\n{{\"id\": 9}}\n");
            let path = write(&dir, "bad.jsonl", content.as_bytes());
            let items = read_all(&path);
            assert_eq!(items.len(), 2, "{bad}");
            assert!(items[0].is_ok());
            let err = items[1].as_ref().unwrap_err();
            let (line, what) = line_and_message(err);
            assert_eq!(line, 3, "{bad}");
            assert!(what.contains(expected), "{bad}: {what}");
            assert!(err.to_string().contains("bad.jsonl"), "{err}");
        }
    }

    #[test]
    fn invalid_utf8_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "utf.jsonl", b"{\"id\": 1}\n{\"id\": \"\xff\"}\n");
        let items = read_all(&path);
        let (line, what) = line_and_message(items[1].as_ref().unwrap_err());
        assert_eq!(line, 2);
        assert!(what.contains("UTF-8"), "{what}");
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_jsonl(&dir.path().join("nope.jsonl")).unwrap_err();
        assert!(matches!(err, Error::Io { op: "open", .. }), "{err}");
    }

    #[test]
    fn key_order_scanner() {
        let keys =
            top_level_keys(r#"{"b": {"c": 1, "d": [ "e", {"f": 2} ]}, "a": "x,y:{", "b": 3}"#);
        assert_eq!(keys, ["b", "a"]);
        assert_eq!(top_level_keys("{}"), Vec::<String>::new());
    }
}

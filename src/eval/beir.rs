//! BEIR data set files.
//!
//! `corpus.jsonl` lines are objects with `"_id"` (or `"id"`), an optional `"title"` and a
//! `"text"`; `queries.jsonl` lines have `"_id"` (or `"id"`) and `"text"`. An id may be a string
//! or an integer (kept as its decimal string); a title or text that is `null` reads as empty,
//! a missing `"text"` is an error. Other members (BEIR's `"metadata"`) are ignored, but a
//! member named twice in one object (at any depth) is an error, as in `strata ingest`. When the
//! named file does not exist, `<name>.zst` is read instead; either may be zstd-compressed
//! (detected by name or magic bytes).
//!
//! Qrels are tab-separated `query-id corpus-id score` lines (the first line is taken as a header
//! when its score is not an integer, as BEIR's own header is). Four whitespace-separated fields
//! are read as a TREC qrels line `query-id iteration corpus-id score`. A repeated
//! (query, document) pair keeps its last grade, as BEIR's dictionary does.

use crate::error::{Error, Result};
use crate::input::jsonl::{LineReader, kind, parse_object};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One document of a BEIR corpus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeirDoc {
    /// The document id (`"_id"`).
    pub id: String,
    /// The title, empty if there is none.
    pub title: String,
    /// The body text.
    pub text: String,
}

/// Relevance judgements: query id -> document id -> grade.
pub type Qrels = HashMap<String, HashMap<String, i32>>;

/// `path`, or `path` + `.zst` when `path` does not exist but that does.
fn resolve(path: &Path) -> PathBuf {
    if path.exists() {
        return path.to_path_buf();
    }
    let mut zst = path.as_os_str().to_owned();
    zst.push(".zst");
    let zst = PathBuf::from(zst);
    if zst.exists() {
        zst
    } else {
        // Neither exists: open the name the caller gave, so the error names it.
        path.to_path_buf()
    }
}

/// Streams the documents of a BEIR corpus file (see the module docs). Each problem is one `Err`
/// item naming the line, after which the iterator ends.
pub fn read_corpus(path: &Path) -> Result<CorpusReader> {
    Ok(CorpusReader {
        lines: LineReader::open(&resolve(path))?,
    })
}

/// The iterator returned by [`read_corpus`].
pub struct CorpusReader {
    lines: LineReader,
}

impl Iterator for CorpusReader {
    type Item = Result<BeirDoc>;

    fn next(&mut self) -> Option<Result<BeirDoc>> {
        let item = match self.lines.next_line() {
            Ok(None) => return None,
            Ok(Some((line_no, line))) => {
                parse_doc(line).map_err(|what| line_error(self.lines.name(), line_no, &what))
            }
            Err(e) => Err(e),
        };
        if item.is_err() {
            self.lines.stop();
        }
        Some(item)
    }
}

impl std::fmt::Debug for CorpusReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CorpusReader")
            .field("file", &self.lines.name())
            .finish()
    }
}

/// Reads a BEIR queries file as (id, text) pairs in file order.
pub fn read_queries(path: &Path) -> Result<Vec<(String, String)>> {
    let mut lines = LineReader::open(&resolve(path))?;
    let mut out = Vec::new();
    while let Some((line_no, line)) = lines.next_line()? {
        let parsed = parse_object(line).and_then(|obj| Ok((id_of(&obj)?, text_of(&obj)?)));
        match parsed {
            Ok(q) => out.push(q),
            Err(what) => return Err(line_error(lines.name(), line_no, &what)),
        }
    }
    Ok(out)
}

/// Reads a qrels file (see the module docs).
pub fn read_qrels(path: &Path) -> Result<Qrels> {
    let mut lines = LineReader::open(&resolve(path))?;
    let mut qrels = Qrels::new();
    let mut first = true;
    while let Some((line_no, line)) = lines.next_line()? {
        let is_first = std::mem::replace(&mut first, false);
        match parse_qrel(line) {
            Ok((q, d, grade)) => {
                qrels
                    .entry(q.to_owned())
                    .or_default()
                    .insert(d.to_owned(), grade);
            }
            Err(QrelError::Score(_)) if is_first => {} // the header
            Err(e) => return Err(line_error(lines.name(), line_no, &e.message())),
        }
    }
    Ok(qrels)
}

/// Why a qrels line did not parse.
enum QrelError {
    /// Wrong number of fields or an empty id.
    Shape(String),
    /// The score is not an integer.
    Score(String),
}

impl QrelError {
    fn message(self) -> String {
        match self {
            QrelError::Shape(m) | QrelError::Score(m) => m,
        }
    }
}

/// Splits one qrels line into (query id, doc id, grade).
fn parse_qrel(line: &str) -> std::result::Result<(&str, &str, i32), QrelError> {
    let tabbed: Vec<&str> = line.split('\t').map(str::trim).collect();
    let fields = if tabbed.len() == 3 {
        tabbed
    } else {
        let ws: Vec<&str> = line.split_whitespace().collect();
        match *ws.as_slice() {
            [q, _iteration, d, s] => vec![q, d, s],
            [q, d, s] => vec![q, d, s],
            _ => {
                return Err(QrelError::Shape(format!(
                    "expected 3 tab-separated fields (query-id, corpus-id, score) or 4 TREC \
                     qrels fields, found {}",
                    tabbed.len().max(ws.len())
                )));
            }
        }
    };
    let [q, d, s] = fields.as_slice() else {
        return Err(QrelError::Shape("expected 3 fields".to_owned()));
    };
    if q.is_empty() || d.is_empty() {
        return Err(QrelError::Shape("empty query or document id".to_owned()));
    }
    let grade = s
        .parse::<i32>()
        .map_err(|_| QrelError::Score(format!("score '{s}' is not an integer")))?;
    Ok((q, d, grade))
}

/// The error for `what` on line `line_no` of `file`.
fn line_error(file: &str, line_no: u64, what: &str) -> Error {
    Error::input(file, Some(line_no), format!("line {line_no}: {what}"))
}

fn parse_doc(line: &str) -> std::result::Result<BeirDoc, String> {
    let obj = parse_object(line)?;
    Ok(BeirDoc {
        id: id_of(&obj)?,
        title: optional_string(&obj, "title")?.unwrap_or_default(),
        text: text_of(&obj)?,
    })
}

/// The `"_id"` (or `"id"`) member as a string.
fn id_of(obj: &Map<String, Value>) -> std::result::Result<String, String> {
    let (name, v) = ["_id", "id"]
        .iter()
        .find_map(|&n| obj.get(n).map(|v| (n, v)))
        .ok_or("no \"_id\" or \"id\" member")?;
    match v {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        Value::String(_) => Err(format!("\"{name}\" is empty")),
        other => Err(format!(
            "\"{name}\" must be a string or an integer, not {}",
            kind(other)
        )),
    }
}

/// The `"text"` member: required, `null` reads as empty.
fn text_of(obj: &Map<String, Value>) -> std::result::Result<String, String> {
    optional_string(obj, "text")?.ok_or_else(|| "no \"text\" member".to_owned())
}

/// Member `name` as a string: `None` if absent, empty if `null`, an error for other types.
fn optional_string(
    obj: &Map<String, Value>,
    name: &str,
) -> std::result::Result<Option<String>, String> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(String::new())),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("\"{name}\" must be a string, not {}", kind(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_of(err: &Error) -> u64 {
        match err {
            Error::Input { row: Some(r), .. } => *r,
            other => panic!("not an input error with a line: {other}"),
        }
    }

    const CORPUS: &str = concat!(
        "{\"_id\": \"d1\", \"title\": \"T1\", \"text\": \"first\", \"metadata\": {}}\n",
        "\n",
        "{\"_id\": 2, \"text\": \"second\"}\n",
        "{\"id\": \"d3\", \"title\": null, \"text\": null}\n",
    );

    fn expected() -> Vec<BeirDoc> {
        let doc = |id: &str, title: &str, text: &str| BeirDoc {
            id: id.into(),
            title: title.into(),
            text: text.into(),
        };
        vec![
            doc("d1", "T1", "first"),
            doc("2", "", "second"),
            doc("d3", "", ""),
        ]
    }

    #[test]
    fn corpus_plain_and_zstd_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("corpus.jsonl");
        std::fs::write(&plain, CORPUS).unwrap();
        let docs: Vec<BeirDoc> = read_corpus(&plain).unwrap().map(Result::unwrap).collect();
        assert_eq!(docs, expected());

        // Only corpus.jsonl.zst exists: asking for corpus.jsonl reads it.
        let sub = dir.path().join("z");
        std::fs::create_dir(&sub).unwrap();
        let zst = sub.join("corpus.jsonl.zst");
        std::fs::write(&zst, zstd::encode_all(CORPUS.as_bytes(), 1).unwrap()).unwrap();
        let asked = sub.join("corpus.jsonl");
        let docs: Vec<BeirDoc> = read_corpus(&asked).unwrap().map(Result::unwrap).collect();
        assert_eq!(docs, expected());

        // Neither exists: the error names the file asked for.
        let err = read_corpus(&dir.path().join("none.jsonl")).unwrap_err();
        assert!(err.to_string().contains("none.jsonl"), "{err}");
        assert!(!err.to_string().contains(".zst"), "{err}");
    }

    #[test]
    fn malformed_corpus_line_reports_its_line() {
        let dir = tempfile::tempdir().unwrap();
        for (bad, expected) in [
            ("{\"_id\": \"x\", \"text\": ", "not valid JSON"),
            ("{\"title\": \"t\", \"text\": \"x\"}", "no \"_id\""),
            ("{\"_id\": \"x\"}", "no \"text\""),
            ("{\"_id\": \"x\", \"text\": 5}", "\"text\" must be a string"),
            (
                "{\"_id\": 1.5, \"text\": \"x\"}",
                "must be a string or an integer",
            ),
            (
                "{\"_id\": \"x\", \"text\": \"a\", \"text\": \"b\"}",
                "member \"text\" appears twice",
            ),
            (
                "{\"_id\": \"x\", \"text\": \"a\", \"metadata\": {\"u\": 1, \"u\": 2}}",
                "member \"u\" appears twice",
            ),
        ] {
            let path = dir.path().join("c.jsonl");
            std::fs::write(&path, format!("{CORPUS}\n{bad}\n{CORPUS}")).unwrap();
            let items: Vec<_> = read_corpus(&path).unwrap().collect();
            assert_eq!(items.len(), 4, "{bad}");
            let err = items[3].as_ref().unwrap_err();
            assert_eq!(line_of(err), 6, "{bad}");
            assert!(err.to_string().contains(expected), "{bad}: {err}");
            assert!(err.to_string().contains("line 6"), "{err}");
        }
    }

    #[test]
    fn queries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queries.jsonl");
        std::fs::write(
            &path,
            "{\"_id\": \"q1\", \"text\": \"what is x\", \"metadata\": {}}\n{\"_id\": 7, \"text\": \"y\"}\n",
        )
        .unwrap();
        assert_eq!(
            read_queries(&path).unwrap(),
            [("q1".into(), "what is x".into()), ("7".into(), "y".into())]
        );
        std::fs::write(&path, "{\"_id\": \"q1\", \"text\": \"a\"}\nnope\n").unwrap();
        assert_eq!(line_of(&read_queries(&path).unwrap_err()), 2);
    }

    #[test]
    fn qrels_with_and_without_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.tsv");
        std::fs::write(
            &path,
            "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t2\r\n\nq2\td1\t0\nq1\td1\t3\n",
        )
        .unwrap();
        let qrels = read_qrels(&path).unwrap();
        assert_eq!(qrels.len(), 2);
        assert_eq!(
            qrels["q1"],
            HashMap::from([("d1".into(), 3), ("d2".into(), 2)])
        );
        assert_eq!(qrels["q2"]["d1"], 0);

        std::fs::write(&path, "q1\td1\t1\nq2 0 d9 2\n").unwrap();
        let qrels = read_qrels(&path).unwrap();
        assert_eq!(qrels["q1"]["d1"], 1);
        assert_eq!(qrels["q2"]["d9"], 2);
    }

    #[test]
    fn bad_qrels_lines_report_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.tsv");
        for (bad, expected) in [
            ("q1\td1\tone", "score 'one' is not an integer"),
            ("q1\td1", "expected 3 tab-separated fields"),
            ("q1\td1\t1\t2\t3", "found 5"),
            ("\td1\t1", "empty query or document id"),
        ] {
            std::fs::write(
                &path,
                format!("query-id\tcorpus-id\tscore\nq0\td0\t1\n{bad}\n"),
            )
            .unwrap();
            let err = read_qrels(&path).unwrap_err();
            assert_eq!(line_of(&err), 3, "{bad}");
            assert!(err.to_string().contains(expected), "{bad}: {err}");
        }
    }
}

//! Tests of the JSON Lines reader: documents, attributes, sparse terms, vectors, repeated
//! members, compressed files and line errors.

use super::*;
use std::io::Write;

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The fields of the documents in `GOOD`: every text member, sparse and vector.
fn fields() -> JsonlFields {
    JsonlFields {
        text: ["title", "text", "zeta", "alpha", "id", "t", "k\"ey"]
            .map(str::to_owned)
            .to_vec(),
        sparse: true,
        vector: true,
        attrs: Vec::new(),
    }
}

fn read_all(path: &Path) -> Vec<Result<JsonDoc>> {
    read_with(path, &fields())
}

fn read_with(path: &Path, fields: &JsonlFields) -> Vec<Result<JsonDoc>> {
    read_jsonl(path, fields).unwrap().collect()
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
    "{\"key\": 7, \"title\": \"A title\", \"zeta\": null, \"text\": \"Body text\"}\n",
    "\n",
    "   \n",
    "{\"_id\": \"0042\", \"zeta\": \"z\", \"alpha\": \"a\", ",
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
            attrs: vec![],
        },
        JsonDoc {
            key: JsonKey::Str("0042".into()),
            text: vec![("zeta".into(), "z".into()), ("alpha".into(), "a".into())],
            sparse: vec![("a".into(), 0.0), ("b".into(), 0.5)],
            vector: Some(vec![1.0, -2.5, 300.0]),
            attrs: vec![],
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
            attrs: vec![],
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
    let err = read_jsonl(&dir.path().join("nope.jsonl"), &fields()).unwrap_err();
    assert!(matches!(err, Error::Io { op: "open", .. }), "{err}");
}

/// The line-2 error of a file whose line 1 is good and line 2 is `bad`, read for `fields`.
fn line_2_error(bad: &str, fields: &JsonlFields) -> String {
    let dir = tempfile::tempdir().unwrap();
    let content = format!("{{\"id\": 0}}\n{bad}\n{{\"id\": 9}}\n");
    let path = write(&dir, "docs.jsonl", content.as_bytes());
    let items = read_with(&path, fields);
    assert_eq!(items.len(), 2, "{bad}");
    assert!(items[0].is_ok(), "{:?}", items[0]);
    let (line, what) = line_and_message(items[1].as_ref().unwrap_err());
    assert_eq!(line, 2, "{bad}");
    what
}

#[test]
fn members_the_index_does_not_declare_are_refused() {
    let text_only = JsonlFields {
        text: vec!["title".into(), "text".into()],
        ..JsonlFields::default()
    };
    let cases: &[(&str, &str)] = &[
        (
            "{\"id\": 1, \"titel\": \"Cats\"}",
            "member \"titel\" is not a field of the index (its fields: text fields \"title\", \"text\")",
        ),
        ("{\"id\": 1, \"n\": 3}", "member \"n\""),
        (
            "{\"id\": 1, \"nested\": {\"title\": \"x\"}}",
            "member \"nested\"",
        ),
        ("{\"_id\": \"a\", \"id\": \"b\"}", "member \"id\""),
        ("{\"id\": 1, \"sparse\": {\"a\": 1}}", "member \"sparse\""),
        ("{\"id\": 1, \"vector\": [1]}", "member \"vector\""),
        ("{\"id\": 1, \"sparse\": null}", "member \"sparse\""),
        (
            "{\"id\": 1, \"title\": 7}",
            "text field \"title\" must be a string, not a number",
        ),
        (
            "{\"id\": 1, \"text\": [\"a\"]}",
            "\"text\" must be a string, not an array",
        ),
        ("{\"id\": 1, \"text\": true}", "not a boolean"),
    ];
    for (bad, expected) in cases {
        let what = line_2_error(bad, &text_only);
        assert!(what.contains(expected), "{bad}: {what}");
    }
    let none = JsonlFields::default();
    let what = line_2_error("{\"id\": 1, \"x\": \"y\"}", &none);
    assert!(what.contains("(its fields: none)"), "{what}");
}

#[test]
fn repeated_members_are_refused_at_any_depth() {
    for (bad, name) in [
        ("{\"id\": 1, \"title\": \"a\", \"title\": \"b\"}", "title"),
        ("{\"id\": 1, \"id\": 2}", "id"),
        ("{\"id\": 1, \"sparse\": {\"a\": 1, \"a\": 2}}", "a"),
    ] {
        let what = line_2_error(bad, &fields());
        assert!(
            what.contains(&format!("member \"{name}\" appears twice")),
            "{bad}: {what}"
        );
    }
}

#[test]
fn schema_fields_are_what_the_index_declares() {
    use crate::schema::Schema;
    use crate::text::AnalyzerConfig;
    use crate::types::{KeyKind, Metric};
    let schema = Schema::new(KeyKind::Str)
        .with_dense("vector", 4, Metric::Cosine)
        .with_text("title", AnalyzerConfig::default(), false)
        .with_sparse("splade", 8);
    let f = JsonlFields::of(&schema);
    assert_eq!(f.text, ["title"]);
    assert!(f.sparse && f.vector);
    let f =
        JsonlFields::of(&Schema::new(KeyKind::U64).with_text("t", AnalyzerConfig::default(), true));
    assert!(!f.sparse && !f.vector);
}

#[test]
fn member_name_scanner() {
    let names = member_names(r#"{"b": {"c": 1, "d": [ "e", {"f": 2, "c": 3} ]}, "a": "x,y:{"}"#);
    assert_eq!(names.unwrap(), ["b", "a"]);
    assert_eq!(member_names("{}").unwrap(), Vec::<String>::new());
    let twice = member_names(r#"{"b": 3, "a": "\"b\"", "b": 3}"#).unwrap_err();
    assert!(twice.contains("\"b\" appears twice"), "{twice}");
    let nested = member_names(r#"{"s": [{"x": 1}, {"x": 2, "y": {"z": 0, "z": 1}}]}"#);
    assert!(nested.unwrap_err().contains("\"z\" appears twice"));
    // The same name in sibling objects, or as a value, is not a repeat.
    assert!(member_names(r#"{"k": {"a": 1}, "l": {"a": "k"}}"#).is_ok());
}

#[test]
fn attributes_are_read_with_their_kinds() {
    let fields = JsonlFields {
        text: vec!["title".into()],
        attrs: vec![
            ("year".into(), AttrKind::I64),
            ("lang".into(), AttrKind::Keyword),
            ("tags".into(), AttrKind::Keyword),
            ("score".into(), AttrKind::F64),
        ],
        ..JsonlFields::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let good = concat!(
        "{\"_id\": \"a\", \"title\": \"t\", \"year\": 2015, \"lang\": \"en\", ",
        "\"tags\": [\"x\", \"y\"], \"score\": 2}\n",
        "{\"_id\": \"b\", \"year\": null, \"tags\": [], \"score\": -0.5}\n",
    );
    let docs: Vec<JsonDoc> = read_with(&write(&dir, "good.jsonl", good.as_bytes()), &fields)
        .into_iter()
        .map(|d| d.unwrap())
        .collect();
    assert_eq!(
        docs[0].attrs,
        [
            ("year".to_owned(), AttrValue::I64(2015)),
            ("lang".to_owned(), AttrValue::keyword("en")),
            (
                "tags".to_owned(),
                AttrValue::Keywords(vec!["x".into(), "y".into()])
            ),
            ("score".to_owned(), AttrValue::F64(2.0)),
        ]
    );
    assert_eq!(docs[1].attrs, [("score".to_owned(), AttrValue::F64(-0.5))]);
    for (line, want) in [
        (
            "{\"id\": 1, \"year\": 2015.5}",
            "attribute \"year\" (i64) must be an integer within i64, not the number 2015.5",
        ),
        (
            "{\"id\": 1, \"year\": \"2015\"}",
            "attribute \"year\" (i64) must be an integer within i64, not a string",
        ),
        (
            "{\"id\": 1, \"year\": 18446744073709551615}",
            "must be an integer within i64",
        ),
        (
            "{\"id\": 1, \"lang\": 3}",
            "attribute \"lang\" (keyword) must be a string or an array of strings, not the number 3",
        ),
        (
            "{\"id\": 1, \"tags\": [\"a\", 1]}",
            "attribute \"tags\" (keyword) must be a string or an array of strings",
        ),
        (
            "{\"id\": 1, \"score\": \"x\"}",
            "attribute \"score\" (f64) must be a finite number, not a string",
        ),
    ] {
        let path = write(&dir, "bad.jsonl", line.as_bytes());
        let items = read_with(&path, &fields);
        let (n, what) = line_and_message(items[0].as_ref().unwrap_err());
        assert_eq!(n, 1);
        assert!(what.contains(want), "{line}: {what}");
    }
}

//! Frozen fixtures: indexes written by earlier format versions must stay readable.
//!
//! `tests/fixtures/v<N>/` holds one index per folder, written by format version N, together
//! covering every component kind of that version:
//! - `dense/`: manifest, vectors, keys, deletes (two segments, one with deletes);
//! - `all-kinds/`: the same plus an IVF-PQ index (with its own centroids and codebooks), an
//!   inverted index (a text field and a sparse field) and stored fields; from version 2 also
//!   metadata attributes.
//!
//! Each was written by an ignored `write_v<N>_*` test. The writer refuses to write into a folder
//! that exists, so running the ignored tests can never re-freeze a fixture with the current
//! format; a new format version adds its own folder (`tests/fixtures/v2/`, ...).

use std::path::{Path, PathBuf};
use strata::format::FileKind;
use strata::text::AnalyzerConfig;
use strata::{
    AttrKind, DenseIndex, Document, Index, IvfPqParams, Key, KeyKind, Metric, Reader, Schema,
    SearchParams, TextQuery,
};

fn fixture(version: u16, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/fixtures/v{version}"))
        .join(name)
}

/// Writes a fixture with `build` into the new folder `dir`; an existing folder is an error
/// (the fixture there is frozen) and is left untouched.
fn write_fixture(dir: &Path, build: fn(&Path)) -> Result<(), String> {
    std::fs::create_dir(dir).map_err(|e| {
        format!(
            "{}: {e}; frozen fixtures are never rewritten (a new format version gets a new folder)",
            dir.display()
        )
    })?;
    build(dir);
    Ok(())
}

fn vector(k: u64) -> Vec<f32> {
    (0..4).map(|i| (k * 4 + i) as f32 / 8.0).collect()
}

fn build_dense(dir: &Path) {
    let mut index = Index::create(dir, Schema::dense(KeyKind::U64, 4, Metric::Dot)).unwrap();
    let mut txn = index.begin();
    for k in 0..6 {
        txn.add(Document::new(k, vector(k))).unwrap();
    }
    txn.commit().unwrap();
    let mut txn = index.begin();
    txn.delete(&Key::U64(2)).unwrap();
    txn.add(Document::new(6u64, vector(6))).unwrap();
    txn.commit().unwrap();
    index.wait_for_merges();
}

/// Rows of the first segment of `all-kinds/`: enough for an IVF-PQ index (`MIN_IVF_ROWS`).
const ALL_KINDS_ROWS: u64 = 256;

/// A vector on the unit circle in the first two dimensions, so cosine ranks are easy to know.
fn all_kinds_vector(k: u64) -> Vec<f32> {
    let a = k as f32 * 0.1;
    vec![
        a.cos(),
        a.sin(),
        (k % 3) as f32 * 0.01,
        (k % 5) as f32 * 0.01,
    ]
}

fn all_kinds_text(k: u64) -> String {
    let mut words = vec![format!("doc{k}")];
    if k.is_multiple_of(7) {
        words.push("seven".into());
    }
    if k.is_multiple_of(2) {
        words.push("even".into());
    }
    words.join(" ")
}

fn all_kinds_doc(k: u64) -> Document {
    Document::new(format!("key-{k}"), all_kinds_vector(k))
        .with_text("body", all_kinds_text(k))
        .with_sparse(vec![
            (format!("s{}", k % 5), 1.0 + (k % 3) as f32),
            ("all".into(), 0.5),
        ])
}

fn build_all_kinds(dir: &Path) {
    build_all_kinds_with(dir, false);
}

/// `all-kinds/` of version 2 on: the same documents, each with a keyword attribute `parity`.
fn build_all_kinds_v2(dir: &Path) {
    build_all_kinds_with(dir, true);
}

fn all_kinds_doc_with(k: u64, attrs: bool) -> Document {
    let doc = all_kinds_doc(k);
    if attrs {
        doc.with_attr("parity", if k.is_multiple_of(2) { "even" } else { "odd" })
    } else {
        doc
    }
}

fn build_all_kinds_with(dir: &Path, attrs: bool) {
    let ivf = IvfPqParams {
        nlist: 2,
        m: 2,
        nbits: 4,
        balanced: false,
        residual: true,
        min_rows: 0,
    };
    let schema = Schema::dense(KeyKind::Str, 4, Metric::Cosine)
        .with_index(DenseIndex::IvfPq(ivf))
        .with_text("body", AnalyzerConfig::default(), true)
        .with_sparse("terms", 8);
    let schema = if attrs {
        schema.with_attribute("parity", AttrKind::Keyword)
    } else {
        schema
    };
    let mut index = Index::create(dir, schema).unwrap();
    let mut txn = index.begin();
    for k in 0..ALL_KINDS_ROWS {
        txn.add(all_kinds_doc_with(k, attrs)).unwrap();
    }
    txn.commit().unwrap();
    let mut txn = index.begin();
    for k in [7u64, 14] {
        txn.delete(&Key::from(format!("key-{k}").as_str())).unwrap();
    }
    for k in ALL_KINDS_ROWS..ALL_KINDS_ROWS + 4 {
        txn.add(all_kinds_doc_with(k, attrs)).unwrap();
    }
    txn.commit().unwrap();
    index.wait_for_merges();
}

#[test]
#[ignore = "writes a frozen fixture; run once per new format version, into a new folder"]
fn write_v1_dense() {
    write_fixture(&fixture(1, "dense"), build_dense).unwrap();
}

#[test]
#[ignore = "writes a frozen fixture; run once per new format version, into a new folder"]
fn write_v1_all_kinds() {
    write_fixture(&fixture(1, "all-kinds"), build_all_kinds).unwrap();
}

#[test]
#[ignore = "writes a frozen fixture; run once per new format version, into a new folder"]
fn write_v2_dense() {
    write_fixture(&fixture(2, "dense"), build_dense).unwrap();
}

#[test]
#[ignore = "writes a frozen fixture; run once per new format version, into a new folder"]
fn write_v2_all_kinds() {
    write_fixture(&fixture(2, "all-kinds"), build_all_kinds_v2).unwrap();
}

/// Every file in a fixture folder, with its bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_fixture_writer_refuses_an_existing_folder() {
    for (version, name, build) in [
        (1, "dense", build_dense as fn(&Path)),
        (1, "all-kinds", build_all_kinds),
        (2, "dense", build_dense),
        (2, "all-kinds", build_all_kinds_v2),
    ] {
        let dir = fixture(version, name);
        let before = files(&dir);
        assert!(!before.is_empty(), "{name} is missing");
        let err = write_fixture(&dir, build).unwrap_err();
        assert!(err.contains("frozen"), "{err}");
        assert_eq!(files(&dir), before, "{name} was changed");
    }
}

fn keys(hits: impl IntoIterator<Item = Key>) -> Vec<String> {
    hits.into_iter().map(|k| k.to_string()).collect()
}

#[test]
fn v1_dense_fixture_is_readable() {
    check_dense(1);
}

#[test]
fn v2_dense_fixture_is_readable() {
    check_dense(2);
}

fn check_dense(version: u16) {
    let reader = Reader::open(fixture(version, "dense")).unwrap();
    let snap = reader.snapshot();
    assert_eq!(snap.num_docs(), 6);
    assert_eq!(snap.segments().len(), 2);
    let hits = snap.search_exact(&[1.0, 1.0, 1.0, 1.0], 3).unwrap();
    let keys: Vec<Key> = hits.into_iter().map(|h| h.key).collect();
    assert_eq!(keys, vec![Key::U64(6), Key::U64(5), Key::U64(4)]);
}

#[test]
fn v1_all_kinds_fixture_is_readable() {
    check_all_kinds(1);
}

#[test]
fn v2_all_kinds_fixture_is_readable() {
    check_all_kinds(2);
}

fn check_all_kinds(version: u16) {
    // Opening verifies every checksum of every file the manifest names.
    let reader = Reader::open(fixture(version, "all-kinds")).unwrap();
    let snap = reader.snapshot();
    assert_eq!(snap.num_docs(), ALL_KINDS_ROWS + 4 - 2);
    let mut kinds: Vec<FileKind> = snap
        .segments()
        .iter()
        .flat_map(|s| s.meta.components.iter().chain(s.meta.deletes.iter()))
        .map(|c| c.kind)
        .collect();
    kinds.sort_by_key(|k| *k as u16);
    kinds.dedup();
    assert_eq!(
        kinds,
        FileKind::ALL
            .into_iter()
            // Attributes came with version 2.
            // Models came with version 3.
            .filter(|k| {
                !matches!(k, FileKind::Manifest | FileKind::Model)
                    && (version >= 2 || *k != FileKind::Attrs)
            })
            .collect::<Vec<_>>(),
        "every component kind is in the fixture"
    );

    // Exact and IVF-PQ search: the query is key 30's direction.
    let q = all_kinds_vector(30);
    let exact = snap.search_exact(&q, 3).unwrap();
    assert_eq!(
        keys(exact.into_iter().map(|h| h.key)),
        EXPECT_EXACT,
        "exact search"
    );
    let p = SearchParams {
        nprobe: 2,
        ..SearchParams::new(3)
    };
    let (approx, stats) = snap.search_with(&q, &p).unwrap();
    assert!(
        stats.offered > 0,
        "the IVF-PQ index was not used: {stats:?}"
    );
    assert_eq!(
        keys(approx.into_iter().map(|h| h.key)),
        EXPECT_EXACT,
        "IVF-PQ search with re-ranking"
    );

    // Attributes: a filter over the keyword column.
    if version >= 2 {
        let f = strata::Filter::parse("parity = 'even'").unwrap();
        let passing = snap.compile_filter(&f).unwrap().len();
        // Keys 0..260 less the deleted 7 and 14: 130 even, one of them (14) deleted.
        assert_eq!(passing, 129, "documents with parity even");
    }

    // BM25 over the text field, and the stored text of the hits.
    let hits = snap.search_text(&TextQuery::bm25("seven", 100)).unwrap();
    let mut got = keys(hits.iter().map(|h| h.key.clone()));
    got.sort();
    let mut want: Vec<String> = (0..ALL_KINDS_ROWS + 4)
        .filter(|k| k.is_multiple_of(7) && ![7, 14].contains(k))
        .map(|k| format!("key-{k}"))
        .collect();
    want.sort();
    assert_eq!(got, want, "documents with 'seven'");
    for h in &hits {
        let stored = snap.stored_text(h).unwrap();
        let k: u64 = h.key.to_string()["key-".len()..].parse().unwrap();
        assert_eq!(stored, vec![("body".to_owned(), all_kinds_text(k))]);
    }

    // The sparse field.
    let hits = snap
        .search_text(&TextQuery::sparse(vec![("s4".into(), 1.0)], 3))
        .unwrap();
    assert_eq!(
        keys(hits.into_iter().map(|h| h.key)),
        EXPECT_SPARSE,
        "sparse"
    );
}

/// Key 30 and the keys a whole turn (about 63 steps of 0.1) away from it.
const EXPECT_EXACT: [&str; 3] = ["key-30", "key-93", "key-156"];
/// Weight 3 for `s4`: keys 14 mod 15 (key-14 is deleted); equal scores, so the first three
/// by key (string keys order as strings: "key-104" < "key-119" < ... < "key-29").
const EXPECT_SPARSE: [&str; 3] = ["key-104", "key-119", "key-134"];

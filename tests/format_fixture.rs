//! Frozen fixtures: an index written by format version 1 must stay readable.
//!
//! `tests/fixtures/v1/` was written by `write_v1_fixture` (ignored; run it only when adding a
//! new format version, into a new folder).

use std::path::PathBuf;
use strata::{Document, Index, Key, KeyKind, Metric, Reader, Schema};

fn fixture(v: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(v)
}

fn vector(k: u64) -> Vec<f32> {
    (0..4).map(|i| (k * 4 + i) as f32 / 8.0).collect()
}

#[test]
#[ignore = "writes the frozen fixture; run once per new format version"]
fn write_v1_fixture() {
    let dir = fixture("v1");
    let _ = std::fs::remove_dir_all(&dir);
    let mut index = Index::create(&dir, Schema::dense(KeyKind::U64, 4, Metric::Dot)).unwrap();
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

#[test]
fn v1_fixture_is_readable() {
    let reader = Reader::open(fixture("v1")).unwrap();
    let snap = reader.snapshot();
    assert_eq!(snap.num_docs(), 6);
    assert_eq!(snap.segments().len(), 2);
    let hits = snap.search(&[1.0, 1.0, 1.0, 1.0], 3).unwrap();
    let keys: Vec<Key> = hits.into_iter().map(|h| h.key).collect();
    assert_eq!(keys, vec![Key::U64(6), Key::U64(5), Key::U64(4)]);
}

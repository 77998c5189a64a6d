//! Filters through the real path: compiled against a snapshot into document sets that count
//! live rows only and survive merges (a filter names documents, never row numbers).

mod common;
use common::*;
use std::sync::Arc;
use strata::io::{Directory, MemDirectory};
use strata::text::AnalyzerConfig;
use strata::{Document, Filter, Index, Key, KeyKind, Schema};

#[test]
fn key_filters_compile_per_snapshot_and_follow_deletes_and_merges() {
    let dir = MemDirectory::new();
    let d: Arc<dyn Directory> = Arc::new(dir.clone());
    let schema = Schema::new(KeyKind::U64).with_text("body", AnalyzerConfig::default(), false);
    let mut index = Index::create_in(d, schema, options_sync()).unwrap();
    for batch in 0..3u64 {
        let mut txn = index.begin();
        for i in 0..10u64 {
            txn.add(Document::with_key(batch * 10 + i).with_text("body", "w"))
                .unwrap();
        }
        txn.commit().unwrap();
    }
    let mut txn = index.begin();
    txn.delete(&Key::from(5u64)).unwrap();
    txn.commit().unwrap();
    let f = Filter::And(vec![
        Filter::Keys((0..20u64).map(Key::from).collect()),
        Filter::Keys(vec![
            Key::from(3u64),
            Key::from(5u64),
            Key::from(15u64),
            Key::from(99u64),
        ]),
    ]);
    let snap = index.snapshot();
    assert_eq!(
        snap.compile_filter(&f).unwrap().len(),
        2,
        "5 is deleted, 99 absent"
    );
    assert_eq!(snap.compile_filter(&Filter::And(vec![])).unwrap().len(), 29);
    assert_eq!(snap.live_docs().len(), 29);
    index.merge_all().unwrap();
    let merged = index.snapshot();
    assert_eq!(merged.segments().len(), 1);
    let g = merged.compile_filter(&f).unwrap();
    assert_eq!(g.len(), 2);
    let seg = merged.segments()[0].meta.id;
    let rows: Vec<u32> = g.segment(seg).unwrap().iter().collect();
    let keys: Vec<Key> = rows
        .iter()
        .map(|&r| merged.segments()[0].segment.key(r as usize).unwrap())
        .collect();
    assert_eq!(keys, vec![Key::from(3u64), Key::from(15u64)]);
}

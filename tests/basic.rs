//! The transactional API end to end on the file system.

mod common;
use common::*;
use strata::{Document, Error, Index, Key, Metric, Reader};

#[test]
fn add_commit_reopen_search_delete() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = Rng(1);
    let mut model = Model::new();
    {
        let mut index = Index::create(tmp.path(), schema(Metric::Dot)).unwrap();
        let mut txn = index.begin();
        for k in 0..100u64 {
            let v = rng.vector(DIM);
            model.insert(k, v.clone());
            txn.add(Document::new(k, v)).unwrap();
        }
        assert_eq!(txn.commit().unwrap(), 2);
        let mut txn = index.begin();
        for k in (0..100u64).step_by(7) {
            assert!(txn.delete(&Key::U64(k)).unwrap());
            model.remove(&k);
        }
        txn.commit().unwrap();
    }
    let index = Index::open(tmp.path()).unwrap();
    assert_eq!(contents(&index), model);
    let q = rng.vector(DIM);
    let got = index.snapshot().search_exact(&q, 10).unwrap();
    assert_eq!(got, brute_force(&model, Metric::Dot, &q, 10));
    let reader = Reader::open(tmp.path()).unwrap();
    assert_eq!(reader.snapshot().search_exact(&q, 10).unwrap(), got);
}

#[test]
fn second_writer_is_locked_out() {
    let tmp = tempfile::tempdir().unwrap();
    let _w = Index::create(tmp.path(), schema(Metric::L2)).unwrap();
    assert!(matches!(Index::open(tmp.path()), Err(Error::Locked { .. })));
}

#[test]
fn bad_input_is_rejected_and_nothing_is_visible() {
    let tmp = tempfile::tempdir().unwrap();
    let mut index = Index::create(tmp.path(), schema(Metric::Cosine)).unwrap();
    let mut txn = index.begin();
    txn.add(Document::new(1u64, vec![0.5; DIM])).unwrap();
    let e = txn
        .add(Document::new(2u64, vec![0.5; DIM + 1]))
        .unwrap_err();
    assert!(e.to_string().contains("dimension"), "{e}");
    let mut nan = vec![0.5; DIM];
    nan[3] = f32::NAN;
    let e = txn.add(Document::new(3u64, nan)).unwrap_err();
    assert!(e.to_string().contains("column 3"), "{e}");
    let e = txn.add(Document::new(1u64, vec![0.1; DIM])).unwrap_err();
    assert!(e.to_string().contains("duplicate key 1"), "{e}");
    let e = txn.add(Document::new("s", vec![0.1; DIM])).unwrap_err();
    assert!(matches!(e, Error::Schema(_)), "{e}");
    drop(txn);
    assert_eq!(index.snapshot().num_docs(), 0);
}

#[test]
fn upsert_replaces_and_rollback_discards() {
    let tmp = tempfile::tempdir().unwrap();
    let mut index = Index::create(tmp.path(), schema(Metric::Dot)).unwrap();
    let mut txn = index.begin();
    txn.add(Document::new(7u64, vec![1.0; DIM])).unwrap();
    txn.commit().unwrap();
    let mut txn = index.begin();
    assert!(txn.add(Document::new(7u64, vec![2.0; DIM])).is_err());
    txn.upsert(Document::new(7u64, vec![2.0; DIM])).unwrap();
    txn.commit().unwrap();
    let mut txn = index.begin();
    txn.upsert(Document::new(7u64, vec![3.0; DIM])).unwrap();
    txn.rollback();
    let m = contents(&index);
    assert_eq!(m.get(&7), Some(&vec![2.0; DIM]));
    assert_eq!(m.len(), 1);
}

#[test]
fn read_only_reader_refreshes_and_old_snapshots_survive_gc() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = Rng(3);
    let mut index = Index::create(tmp.path(), schema(Metric::L2)).unwrap();
    let mut txn = index.begin();
    for k in 0..50u64 {
        txn.add(Document::new(k, rng.vector(DIM))).unwrap();
    }
    txn.commit().unwrap();
    let reader = Reader::open(tmp.path()).unwrap();
    let old = reader.snapshot();
    let q = rng.vector(DIM);
    let before = old.search_exact(&q, 5).unwrap();
    // The writer replaces everything the old snapshot uses: deletes, a merge, GC.
    let mut txn = index.begin();
    for k in 0..25u64 {
        txn.delete(&Key::U64(k)).unwrap();
    }
    for k in 100..120u64 {
        txn.add(Document::new(k, rng.vector(DIM))).unwrap();
    }
    txn.commit().unwrap();
    index.merge_all().unwrap();
    index.collect_garbage().unwrap();
    // The old snapshot still answers from the files it mapped, unchanged.
    assert_eq!(old.search_exact(&q, 5).unwrap(), before);
    assert!(reader.refresh().unwrap());
    let new = reader.snapshot();
    assert!(new.generation() > old.generation());
    assert_eq!(new.num_docs(), 45);
    assert_eq!(new.segments().len(), 1);
    assert!(!reader.refresh().unwrap(), "nothing newer to see");
}

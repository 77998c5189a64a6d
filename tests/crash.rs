//! Crash consistency with the fault-injecting backend.
//!
//! For every N in the operation trace of a commit (and of a merge, and of recovery itself),
//! the process "dies" after operation N; the disk a reboot would see (only synced data, all
//! written data, or a seeded torn mix) is reopened and must hold exactly the state before or
//! after that commit, and the state after it whenever the commit was acknowledged. Documents
//! carry stored text as well as vectors, so the inverted and stored-fields files are checked
//! too (`check_text`).

mod common;
use common::*;
use std::sync::Arc;
use strata::io::{CrashMode, Directory, FaultDirectory, FaultKind};
use strata::{Error, Index, Key, Metric};

fn modes(n: u64) -> [CrashMode; 4] {
    [
        CrashMode::DropUnsynced,
        CrashMode::KeepAll,
        CrashMode::Torn(n),
        CrashMode::Torn(n + 1000),
    ]
}

fn vector(k: u64) -> Vec<f32> {
    (0..DIM)
        .map(|i| ((k * 31 + i as u64 * 7) % 11) as f32 - 5.0)
        .collect()
}

/// A deterministic index with three commits (two segments, one with deletes).
fn setup(dir: &FaultDirectory) -> (Index, Model) {
    let d: Arc<dyn Directory> = Arc::new(dir.clone());
    let mut index = Index::create_in(d, schema_text(Metric::Dot), options_sync()).unwrap();
    let mut model = Model::new();
    let mut txn = index.begin();
    for k in 0..6 {
        txn.add(doc(k, vector(k))).unwrap();
        model.insert(k, vector(k));
    }
    txn.commit().unwrap();
    let mut txn = index.begin();
    for k in [1u64, 4] {
        txn.delete(&Key::U64(k)).unwrap();
        model.remove(&k);
    }
    for k in 10..13 {
        txn.add(doc(k, vector(k))).unwrap();
        model.insert(k, vector(k));
    }
    txn.commit().unwrap();
    (index, model)
}

/// The commit under test: adds, deletes and an upsert across both segments.
fn change(index: &mut Index) -> strata::Result<u64> {
    let mut txn = index.begin();
    for k in 20..24 {
        txn.add(doc(k, vector(k)))?;
    }
    txn.delete(&Key::U64(0))?;
    txn.delete(&Key::U64(11))?;
    txn.upsert(doc(5u64, vector(99)))?;
    txn.commit()
}

fn changed(mut m: Model) -> Model {
    for k in 20..24 {
        m.insert(k, vector(k));
    }
    m.remove(&0);
    m.remove(&11);
    m.insert(5, vector(99));
    m
}

fn reopen(dir: &FaultDirectory) -> Index {
    open_sync(Arc::new(dir.clone())).unwrap_or_else(|e| panic!("reopen failed: {e}"))
}

/// Counts the operations `f` performs on a fresh setup.
fn count_ops(f: impl Fn(&mut Index) -> strata::Result<u64>) -> u64 {
    let dir = FaultDirectory::new();
    let (mut index, _) = setup(&dir);
    dir.reset_counter();
    f(&mut index).unwrap();
    dir.ops()
}

#[test]
fn commit_is_atomic_and_durable_at_every_crash_point() {
    let total = count_ops(change);
    assert!(
        total >= 12,
        "a commit should take several operations, took {total}"
    );
    for n in 0..=total {
        for mode in modes(n) {
            let dir = FaultDirectory::new();
            let (mut index, before) = setup(&dir);
            let after = changed(before.clone());
            dir.crash_after(n);
            let acked = change(&mut index).is_ok();
            drop(index);
            let disk = dir.crash(mode);
            let mut index = reopen(&disk);
            let got = contents(&index);
            check_text(&index, &got);
            if acked {
                assert_eq!(
                    got, after,
                    "acknowledged commit lost: crash after op {n}, {mode:?}"
                );
            } else {
                assert!(
                    got == before || got == after,
                    "torn state: crash after op {n}, {mode:?}"
                );
            }
            // The recovered index takes new commits and survives another clean reopen.
            let mut txn = index.begin();
            txn.upsert(doc(100u64, vector(100))).unwrap();
            txn.commit().unwrap();
            let mut expect = got.clone();
            expect.insert(100, vector(100));
            drop(index);
            assert_eq!(contents(&reopen(&disk)), expect);
        }
    }
}

#[test]
fn merge_is_atomic_at_every_crash_point() {
    let merge = |index: &mut Index| index.merge_all().map(|_| 0);
    let total = count_ops(merge);
    assert!(total >= 8, "merge took {total} operations");
    for n in 0..=total {
        for mode in modes(n) {
            let dir = FaultDirectory::new();
            let (mut index, model) = setup(&dir);
            let segs_before = index.snapshot().segments().len();
            dir.crash_after(n);
            let acked = index.merge_all().is_ok();
            drop(index);
            let index = reopen(&dir.crash(mode));
            assert_eq!(
                contents(&index),
                model,
                "crash after op {n} of a merge, {mode:?}"
            );
            check_text(&index, &model);
            let segs = index.snapshot().segments().len();
            if acked {
                assert_eq!(segs, 1);
            } else {
                assert!(segs == 1 || segs == segs_before);
            }
        }
    }
}

/// A disk left by a crash between writing a segment and committing it (orphans to clean).
fn crashed_mid_commit() -> (FaultDirectory, Model) {
    let dir = FaultDirectory::new();
    let (mut index, model) = setup(&dir);
    dir.reset_counter();
    dir.crash_after(6);
    assert!(change(&mut index).is_err());
    drop(index);
    (dir.crash(CrashMode::KeepAll), model)
}

#[test]
fn recovery_is_restartable_at_every_crash_point() {
    let (probe, _) = crashed_mid_commit();
    probe.reset_counter();
    drop(reopen(&probe));
    let total = probe.ops();
    assert!(
        total >= 2,
        "recovery should remove orphans, took {total} operations"
    );
    for n in 0..=total {
        for mode in modes(n) {
            let (dir, model) = crashed_mid_commit();
            dir.reset_counter();
            dir.crash_after(n);
            let _ = open_sync(Arc::new(dir.clone()));
            let index = reopen(&dir.crash(mode));
            assert_eq!(
                contents(&index),
                model,
                "crash after op {n} of recovery, {mode:?}"
            );
            check_text(&index, &model);
        }
    }
}

#[test]
fn io_errors_fail_the_commit_cleanly() {
    let total = count_ops(change);
    for n in 1..=total {
        for kind in [FaultKind::Eio, FaultKind::NoSpace] {
            let dir = FaultDirectory::new();
            let (mut index, before) = setup(&dir);
            let after = changed(before.clone());
            dir.fail_op(n, kind);
            let res = change(&mut index);
            let live = contents(&index);
            match &res {
                Ok(_) => assert_eq!(live, after),
                Err(Error::Poisoned) => unreachable!("the first error is never Poisoned"),
                Err(_) => {
                    // Not acknowledged: the handle still shows the old state, and further
                    // commits either work or report that the writer must be reopened.
                    assert_eq!(
                        live, before,
                        "failed commit became visible (op {n}, {kind:?})"
                    );
                    let mut txn = index.begin();
                    let _ = txn.add(doc(200u64, vector(200)));
                    match txn.commit() {
                        Ok(_) | Err(Error::Poisoned) => {}
                        Err(e) => panic!("unexpected error after a failed commit: {e}"),
                    }
                }
            }
            drop(index);
            let got = contents(&reopen(&dir.crash(CrashMode::DropUnsynced)));
            let mut got_wo = got.clone();
            got_wo.remove(&200);
            if res.is_ok() {
                assert_eq!(
                    got_wo, after,
                    "acknowledged commit lost after fault at op {n}"
                );
            } else {
                assert!(
                    got_wo == before || got_wo == after,
                    "fault at op {n}, {kind:?}"
                );
            }
        }
    }
}

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

/// The trace of `change` on a fresh setup: one description per operation, in order.
fn change_trace() -> Vec<String> {
    let dir = FaultDirectory::new();
    let (mut index, _) = setup(&dir);
    dir.reset_counter();
    change(&mut index).unwrap();
    dir.trace()
}

/// The position (0-based) of the rename of `MANIFEST-<g>.tmp` to `MANIFEST-<g>` in a commit's
/// trace: the operation that decides the commit.
fn manifest_rename(trace: &[String]) -> usize {
    trace
        .iter()
        .position(|t| t.starts_with("rename MANIFEST-") && t.contains(".tmp -> MANIFEST-"))
        .unwrap_or_else(|| panic!("no manifest rename in {trace:#?}"))
}

/// A disk left by a crash between writing a commit's files and renaming its manifest (the
/// segment files and `MANIFEST-<g>.tmp` are orphans for recovery to remove).
fn crashed_mid_commit() -> (FaultDirectory, Model) {
    let before_rename = manifest_rename(&change_trace()) as u64;
    let dir = FaultDirectory::new();
    let (mut index, model) = setup(&dir);
    dir.reset_counter();
    dir.crash_after(before_rename);
    assert!(change(&mut index).is_err());
    drop(index);
    (dir.crash(CrashMode::KeepAll), model)
}

#[test]
fn recovery_is_restartable_at_every_crash_point() {
    let (probe, _) = crashed_mid_commit();
    let names = probe.list().unwrap();
    assert!(
        names.iter().any(|n| n.ends_with(".tmp")) && names.iter().any(|n| n.ends_with(".doc")),
        "the crash should leave a temporary manifest and segment files: {names:?}"
    );
    probe.reset_counter();
    drop(reopen(&probe));
    let total = probe.ops();
    let removed = probe
        .trace()
        .iter()
        .filter(|t| t.starts_with("remove "))
        .count();
    assert!(
        removed >= 2,
        "recovery should remove the orphans: {:#?}",
        probe.trace()
    );
    let left = probe.list().unwrap();
    assert!(
        left.iter().all(|n| !n.ends_with(".tmp")),
        "orphans left after recovery: {left:?}"
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

/// What the commit protocol promises when one operation of a commit fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Before the manifest rename: the commit fails, nothing changed, the writer goes on.
    Unchanged,
    /// The rename or a later step of the commit: the outcome on disk is unknown, the commit
    /// fails and the writer refuses further commits (`Error::Poisoned`) until reopened.
    Poisoned,
    /// A best-effort step after the commit was published (garbage collection removing what
    /// the new manifest no longer names): the commit is acknowledged and the writer goes on.
    Acknowledged,
}

/// The outcome the protocol promises for a failure of each operation of `trace`, derived from
/// the operations' names: everything before the manifest rename is `Unchanged`; the rename and
/// the directory fsync that makes it durable (publication) are `Poisoned`; after publication,
/// removes are garbage collection (`Acknowledged`) and anything else is `Poisoned`.
fn outcomes(trace: &[String]) -> Vec<Outcome> {
    let rename = manifest_rename(trace);
    let published = trace
        .iter()
        .skip(rename + 1)
        .position(|t| t == "fsync dir")
        .map(|p| rename + 1 + p)
        .unwrap_or_else(|| panic!("no directory fsync after the manifest rename: {trace:#?}"));
    trace
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if i < rename {
                Outcome::Unchanged
            } else if i > published && t.starts_with("remove ") {
                Outcome::Acknowledged
            } else {
                Outcome::Poisoned
            }
        })
        .collect()
}

#[test]
fn io_errors_fail_the_commit_cleanly() {
    let trace = change_trace();
    let expected = outcomes(&trace);
    // The commit under test exercises every class (it supersedes a deletes file and manifests,
    // so garbage collection has files to remove).
    for class in [Outcome::Unchanged, Outcome::Poisoned, Outcome::Acknowledged] {
        assert!(
            expected.contains(&class),
            "no {class:?} operation in {trace:#?}"
        );
    }
    for (i, (op, &outcome)) in trace.iter().zip(&expected).enumerate() {
        for kind in [FaultKind::Eio, FaultKind::NoSpace] {
            let what = format!("{kind:?} on op {} ({op}), expected {outcome:?}", i + 1);
            let dir = FaultDirectory::new();
            let (mut index, before) = setup(&dir);
            let after = changed(before.clone());
            dir.fail_op(i as u64 + 1, kind);
            let res = change(&mut index);
            let live = contents(&index);
            // The next commit, which the outcome decides.
            let mut txn = index.begin();
            txn.upsert(doc(200u64, vector(200))).unwrap();
            let next = txn.commit();
            drop(index);
            let got = contents(&reopen(&dir.crash(CrashMode::DropUnsynced)));
            let with_200 = |mut m: Model| {
                m.insert(200, vector(200));
                m
            };
            match outcome {
                Outcome::Unchanged => {
                    assert!(
                        matches!(&res, Err(e) if !matches!(e, Error::Poisoned)),
                        "{what}: {res:?}"
                    );
                    assert_eq!(live, before, "{what}: the failed commit became visible");
                    assert!(next.is_ok(), "{what}: next commit {next:?}");
                    assert_eq!(got, with_200(before), "{what}: after reopen");
                }
                Outcome::Poisoned => {
                    assert!(
                        matches!(&res, Err(e) if !matches!(e, Error::Poisoned)),
                        "{what}: {res:?}"
                    );
                    assert_eq!(live, before, "{what}: the failed commit became visible");
                    assert!(
                        matches!(next, Err(Error::Poisoned)),
                        "{what}: the writer was not poisoned, next commit {next:?}"
                    );
                    assert!(got == before || got == after, "{what}: after reopen");
                }
                Outcome::Acknowledged => {
                    assert!(res.is_ok(), "{what}: {res:?}");
                    assert_eq!(live, after, "{what}");
                    assert!(next.is_ok(), "{what}: next commit {next:?}");
                    assert_eq!(got, with_200(after), "{what}: after reopen");
                }
            }
        }
    }
}

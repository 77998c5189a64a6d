//! The transactional API against a `BTreeMap` model, with crashes and I/O errors.
//!
//! The input is a short program (at most [`MAX_OPS`] operations) run against an index on a
//! [`FaultDirectory`]. The model holds the committed state (`key -> vector`) and the pending
//! state of the open transaction. Checked:
//!
//! - every add / delete / upsert returns what the model predicts (an add of a live key is
//!   refused, a delete says whether the key was live);
//! - after every commit, merge and reopen the index holds exactly the model, and so does a
//!   read-only `Reader` after a reopen;
//! - a search returns exactly the brute-force top k (the vectors are small multiples of 1/8,
//!   so every dot product is exact in f32 and no tolerance is needed);
//! - a crash (the disk stops after N more operations, then reboots keeping only synced data,
//!   everything, or a torn mix) loses no acknowledged commit: the reopened index holds the
//!   model, or, if the crash hit a commit before it returned, either the state before that
//!   commit or the state it would have produced;
//! - an injected EIO or ENOSPC either leaves the writer usable with the commit not applied,
//!   or poisons it (`Error::Poisoned`), after which a reopen finds one of the two states.
//!
//! Transactions borrow the index mutably, so the harness records the operations of the open
//! transaction and replays them into a real `WriteTxn` when it commits or rolls back (nothing
//! else can touch the index in between, so this is the same sequence of calls).

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use half::f16;
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use std::sync::Arc;
use strata::io::{CrashMode, FaultDirectory, FaultKind};
use strata::types::compare_hits;
use strata::{
    Document, Error, Hit, Index, IndexOptions, Key, KeyKind, Metric, Reader, Schema, Snapshot,
    Vector, VectorStorage,
};

const DIM: usize = 4;
const MAX_OPS: usize = 64;
/// Keys are drawn from a small range so adds, deletes and upserts collide often.
const KEYS: u8 = 16;

type Model = BTreeMap<u64, Vec<f32>>;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Mode {
    DropUnsynced,
    KeepAll,
    Torn(u64),
}

impl From<Mode> for CrashMode {
    fn from(m: Mode) -> CrashMode {
        match m {
            Mode::DropUnsynced => CrashMode::DropUnsynced,
            Mode::KeepAll => CrashMode::KeepAll,
            Mode::Torn(seed) => CrashMode::Torn(seed),
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
struct Vec4 {
    values: [i8; DIM],
    half: bool,
}

impl Vec4 {
    /// Multiples of 1/8 in [-16, 16): exact in f16 and f32, and so are their dot products.
    fn vector(self) -> Vector {
        let f = self.values.map(|v| f32::from(v) / 8.0);
        if self.half {
            Vector::F16(f.iter().map(|&x| f16::from_f32(x)).collect())
        } else {
            Vector::F32(f.to_vec())
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Op {
    Add(u8, Vec4),
    Delete(u8),
    Upsert(u8, Vec4),
    Commit,
    Rollback,
    Reopen,
    Merge,
    MergeAll,
    CollectGarbage,
    Search([i8; DIM], u8),
    /// The disk dies after this many more mutating operations.
    Crash(u8, Mode),
    /// The Nth mutating operation from now fails (EIO, or ENOSPC if the flag is set).
    Fault(u8, bool),
}

#[derive(Debug, Clone, Copy)]
enum TxnOp {
    Add(u64, Vec4),
    Delete(u64),
    Upsert(u64, Vec4),
}

/// What the index must hold once a disk operation finished (or failed).
#[derive(Debug)]
enum Expect {
    Exactly(Model),
    /// A commit failed in a way that leaves its outcome unknown: before or after.
    Either(Model, Model),
}

fn options() -> IndexOptions {
    IndexOptions {
        background_merges: false,
        ..Default::default()
    }
}

fn contents(snap: &Snapshot) -> Model {
    let mut out = Model::new();
    snap.for_each_live(|key, seg, row| {
        let Key::U64(k) = key else {
            panic!("string key {key} in a u64 index");
        };
        let v = seg
            .segment
            .vector_f32(row as usize)
            .unwrap_or_else(|| panic!("live row {row} of key {k} has no vector"));
        assert!(out.insert(*k, v).is_none(), "key {k} is live twice");
    });
    assert_eq!(snap.num_docs(), out.len() as u64, "num_docs disagrees");
    out
}

/// Exact here (see [`Vec4::vector`]). Accumulates from +0.0 like the kernels do: `Iterator::sum`
/// starts from -0.0, and -0.0 orders before +0.0 in `compare_hits`' `total_cmp`.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).fold(0.0, |s, (x, y)| s + x * y)
}

struct World {
    dir: FaultDirectory,
    index: Option<Index>,
    committed: Model,
    /// The committed state with the open transaction applied.
    pending: Model,
    txn: Vec<TxnOp>,
    /// A crash is armed: the mode the reboot uses.
    crash: Option<CrashMode>,
    /// A fault is armed: the operation count at which it fires.
    fault_at: Option<u64>,
}

impl World {
    fn new(storage: VectorStorage) -> World {
        let dir = FaultDirectory::new();
        let schema = Schema::dense(KeyKind::U64, DIM as u32, Metric::Dot).with_storage(storage);
        let index = Index::create_in(Arc::new(dir.clone()), schema, options())
            .unwrap_or_else(|e| panic!("create on a healthy disk: {e}"));
        World {
            dir,
            index: Some(index),
            committed: Model::new(),
            pending: Model::new(),
            txn: Vec::new(),
            crash: None,
            fault_at: None,
        }
    }

    fn index(&mut self) -> &mut Index {
        self.index.as_mut().expect("an open index")
    }

    /// Whether the armed fault has fired (and forgets it if so).
    fn fault_fired(&mut self) -> bool {
        match self.fault_at {
            Some(at) if self.dir.ops() >= at => {
                self.fault_at = None;
                true
            }
            _ => false,
        }
    }

    /// Reboots the crashed disk under the armed mode.
    fn reboot(&mut self) {
        let mode = self.crash.take().unwrap_or(CrashMode::DropUnsynced);
        self.index = None;
        self.dir = self.dir.crash(mode);
        self.fault_at = None;
    }

    /// Drops the index and opens it again, rebooting or retrying through armed crashes and
    /// faults. Recovery on a disk that is working must succeed (a crash inside recovery,
    /// too, must leave a recoverable disk: see `recovery_after_a_failed_directory_sync_keeps_
    /// the_index` in tests/fuzz_regressions.rs).
    fn reopen(&mut self) {
        self.index = None;
        for _ in 0..4 {
            match Index::open_in(Arc::new(self.dir.clone()), options()) {
                Ok(index) => {
                    self.index = Some(index);
                    return;
                }
                Err(_) if self.dir.has_crashed() => self.reboot(),
                Err(_) if self.fault_fired() => {}
                Err(e) => panic!("recovery failed on a working disk: {e}"),
            }
        }
        panic!("recovery did not succeed after repeated crashes");
    }

    /// Checks the open index against `expect` and adopts the state it holds.
    fn settle(&mut self, expect: Expect) {
        // A fault that fired inside an operation that still succeeded (best-effort garbage
        // collection swallows errors) is used up.
        self.fault_fired();
        if self.dir.has_crashed() {
            // Whatever happened, the process is gone: reboot and recover.
            self.reboot();
            self.reopen();
        }
        let got = contents(&self.index().snapshot());
        self.committed = match expect {
            Expect::Exactly(m) => {
                assert_eq!(got, m, "index differs from the model");
                m
            }
            Expect::Either(before, after) => {
                assert!(
                    got == before || got == after,
                    "after a failed commit the index is neither state:\n got    {got:?}\n before {before:?}\n after  {after:?}"
                );
                got
            }
        };
        self.pending = self.committed.clone();
    }

    /// After a reopen: a read-only reader sees the same state as the writer.
    fn check_reader(&mut self) {
        if self.dir.has_crashed() {
            return;
        }
        match Reader::open_in(Arc::new(self.dir.clone())) {
            Ok(r) => assert_eq!(contents(&r.snapshot()), self.committed, "reader differs"),
            Err(e) => panic!("reader failed where the writer opened: {e}"),
        }
    }

    /// The outcome of an operation that may have written to disk and failed.
    ///
    /// `before` and `after` are the states the index may hold; an operation that returned Ok
    /// was acknowledged, so `after` must then be what the index holds, even after a crash.
    fn after_disk_op(&mut self, result: Result<(), Error>, before: Model, after: Model) {
        match result {
            Ok(()) => self.settle(Expect::Exactly(after)),
            Err(_) if self.dir.has_crashed() => self.settle(Expect::Either(before, after)),
            Err(e) if self.fault_fired() => {
                // Either nothing happened (and the writer goes on), or the writer is poisoned.
                let probe = self.index().begin().commit();
                match probe {
                    Err(Error::Poisoned) => {
                        self.reopen();
                        self.settle(Expect::Either(before, after));
                    }
                    Ok(_) => self.settle(Expect::Exactly(before)),
                    Err(other) => panic!("after {e}, an empty commit failed with {other}"),
                }
            }
            Err(e) => panic!("unexpected error without a fault: {e}"),
        }
    }

    /// Replays the recorded transaction into a real one; checks every answer.
    fn replay(&mut self) -> strata::WriteTxn<'_> {
        let ops = std::mem::take(&mut self.txn);
        let mut view = self.committed.clone();
        let mut txn = self.index.as_mut().expect("an open index").begin();
        for op in ops {
            match op {
                TxnOp::Add(k, v) => {
                    let r = txn.add(Document::new(k, v.vector()));
                    assert_eq!(r.is_ok(), !view.contains_key(&k), "add {k}: {r:?}");
                    if r.is_ok() {
                        view.insert(k, v.vector().to_f32());
                    }
                }
                TxnOp::Delete(k) => {
                    let r = txn.delete(&Key::U64(k));
                    assert_eq!(r.ok(), Some(view.remove(&k).is_some()), "delete {k}");
                }
                TxnOp::Upsert(k, v) => {
                    let r = txn.upsert(Document::new(k, v.vector()));
                    assert!(r.is_ok(), "upsert {k}: {r:?}");
                    view.insert(k, v.vector().to_f32());
                }
            }
        }
        assert_eq!(view, self.pending, "harness model out of step");
        txn
    }

    fn record(&mut self, op: TxnOp) {
        match op {
            TxnOp::Add(k, v) => {
                self.pending.entry(k).or_insert_with(|| v.vector().to_f32());
            }
            TxnOp::Delete(k) => {
                self.pending.remove(&k);
            }
            TxnOp::Upsert(k, v) => {
                self.pending.insert(k, v.vector().to_f32());
            }
        }
        self.txn.push(op);
    }

    fn commit(&mut self) {
        let before = self.committed.clone();
        let after = self.pending.clone();
        let r = self.replay().commit().map(|_| ());
        self.after_disk_op(r, before, after);
    }

    /// Rolls back the open transaction (if any operations were recorded).
    fn rollback(&mut self) {
        if !self.txn.is_empty() {
            self.replay().rollback();
        }
        self.pending = self.committed.clone();
        let got = contents(&self.index().snapshot());
        assert_eq!(got, self.committed, "rollback changed the index");
    }

    fn merge(&mut self, all: bool) {
        self.rollback();
        let index = self.index();
        let r = if all {
            index.merge_all()
        } else {
            index.merge()
        };
        let m = self.committed.clone();
        self.after_disk_op(r.map(|_| ()), m.clone(), m);
    }

    fn collect_garbage(&mut self) {
        self.rollback();
        let r = self.index().collect_garbage().map(|_| ());
        let m = self.committed.clone();
        self.after_disk_op(r, m.clone(), m);
    }

    fn search(&mut self, q: [i8; DIM], k: u8) {
        let q = q.map(|v| f32::from(v) / 8.0);
        let k = usize::from(k % 20);
        let got = self
            .index()
            .snapshot()
            .search_exact(&q, k)
            .unwrap_or_else(|e| panic!("search failed: {e}"));
        let mut want: Vec<Hit> = self
            .committed
            .iter()
            .map(|(key, v)| Hit {
                key: Key::U64(*key),
                score: dot(&q, v),
            })
            .collect();
        want.sort_by(|a, b| compare_hits(Metric::Dot, a, b));
        want.truncate(k);
        assert_eq!(got, want, "search differs from brute force");
    }

    fn run(&mut self, op: Op) {
        match op {
            Op::Add(k, v) => self.record(TxnOp::Add(u64::from(k % KEYS), v)),
            Op::Delete(k) => self.record(TxnOp::Delete(u64::from(k % KEYS))),
            Op::Upsert(k, v) => self.record(TxnOp::Upsert(u64::from(k % KEYS), v)),
            Op::Commit => self.commit(),
            Op::Rollback => self.rollback(),
            Op::Reopen => {
                self.rollback();
                self.reopen();
                self.settle(Expect::Exactly(self.committed.clone()));
                self.check_reader();
            }
            Op::Merge => self.merge(false),
            Op::MergeAll => self.merge(true),
            Op::CollectGarbage => self.collect_garbage(),
            // Searches see the committed state; the open transaction is not applied yet.
            Op::Search(q, k) => self.search(q, k),
            Op::Crash(n, mode) => {
                self.dir.crash_after(u64::from(n % 32));
                self.crash = Some(mode.into());
            }
            Op::Fault(n, nospace) => {
                let n = u64::from(n % 16) + 1;
                let kind = if nospace {
                    FaultKind::NoSpace
                } else {
                    FaultKind::Eio
                };
                self.dir.fail_op(n, kind);
                self.fault_at = Some(self.dir.ops() + n);
            }
        }
    }
}

fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let storage = match u.int_in_range(0..=2u8).unwrap_or(0) {
        0 => VectorStorage::Auto,
        1 => VectorStorage::F32,
        _ => VectorStorage::F16,
    };
    let mut world = World::new(storage);
    for _ in 0..MAX_OPS {
        if u.is_empty() {
            break;
        }
        let Ok(op) = Op::arbitrary(&mut u) else {
            break;
        };
        world.run(op);
    }
    // Everything committed survives a final clean reopen.
    world.rollback();
    world.reopen();
    world.settle(Expect::Exactly(world.committed.clone()));
    world.check_reader();
}

fuzz_target!(|data: &[u8]| run(data));

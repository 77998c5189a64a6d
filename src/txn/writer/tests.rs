//! The writer mutex is not held while a segment is built or verified.
//!
//! A probe directory looks at the writer's state mutex whenever a segment component file is
//! created, written or read back: a commit or merge that builds its segment under the mutex
//! would be seen holding it.

use super::*;
use crate::io::{FileBytes, FileWriter, MemDirectory};
use crate::schema::Schema;
use crate::types::{KeyKind, Metric};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{OnceLock, Weak};

#[derive(Debug, Default)]
struct Probe {
    inner: MemDirectory,
    shared: OnceLock<Weak<Shared>>,
    /// Segment-file operations seen, and how many of them found the mutex held.
    seen: AtomicUsize,
    held: AtomicUsize,
}

impl Probe {
    fn look(&self, name: &str) {
        // Delete sets are written under the mutex by design (they depend on the current
        // state); every other segment file is not.
        if !name.starts_with("seg-") || name.ends_with(".del") {
            return;
        }
        let Some(shared) = self.shared.get().and_then(Weak::upgrade) else {
            return;
        };
        self.seen.fetch_add(1, Ordering::SeqCst);
        if matches!(
            shared.state.try_lock(),
            Err(std::sync::TryLockError::WouldBlock)
        ) {
            self.held.fetch_add(1, Ordering::SeqCst);
        }
    }
}

struct ProbeWriter {
    inner: Box<dyn FileWriter>,
    probe: Arc<Probe>,
    name: String,
}

impl FileWriter for ProbeWriter {
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.probe.look(&self.name);
        self.inner.write_all(buf)
    }
    fn sync(&mut self) -> std::io::Result<()> {
        self.inner.sync()
    }
}

#[derive(Debug, Clone)]
struct ProbeDir(Arc<Probe>);

impl Directory for ProbeDir {
    fn describe(&self) -> String {
        "<probe>".into()
    }
    fn create(&self, name: &str) -> std::io::Result<Box<dyn FileWriter>> {
        self.0.look(name);
        Ok(Box::new(ProbeWriter {
            inner: self.0.inner.create(name)?,
            probe: self.0.clone(),
            name: name.to_owned(),
        }))
    }
    fn read(&self, name: &str) -> std::io::Result<FileBytes> {
        self.0.look(name);
        self.0.inner.read(name)
    }
    fn rename(&self, from: &str, to: &str) -> std::io::Result<()> {
        self.0.inner.rename(from, to)
    }
    fn remove(&self, name: &str) -> std::io::Result<()> {
        self.0.inner.remove(name)
    }
    fn list(&self) -> std::io::Result<Vec<String>> {
        self.0.inner.list()
    }
    fn sync_dir(&self) -> std::io::Result<()> {
        self.0.inner.sync_dir()
    }
    fn try_lock(&self, name: &str) -> std::io::Result<Option<Box<dyn LockGuard>>> {
        self.0.inner.try_lock(name)
    }
}

fn doc(k: u64) -> Document {
    let v: Vec<f32> = (0..8)
        .map(|i| ((k * 31 + i * 7) % 17) as f32 - 8.0)
        .collect();
    Document::new(k, v).with_text("body", format!("w{} w{}", k % 5, k % 3))
}

#[test]
fn segments_are_built_and_verified_outside_the_writer_mutex() {
    let probe = Arc::new(Probe::default());
    let schema = Schema::dense(KeyKind::U64, 8, Metric::Dot).with_text(
        "body",
        crate::text::AnalyzerConfig::default(),
        true,
    );
    let options = IndexOptions {
        background_merges: false,
        ..IndexOptions::default()
    };
    let mut index = Index::create_in(Arc::new(ProbeDir(probe.clone())), schema, options).unwrap();
    let _ = probe.shared.set(Arc::downgrade(&index.shared));
    for batch in 0..3u64 {
        let mut txn = index.begin();
        for k in batch * 50..batch * 50 + 50 {
            txn.add(doc(k)).unwrap();
        }
        txn.delete(&Key::U64(batch)).unwrap();
        txn.commit().unwrap();
    }
    assert!(index.merge_all().unwrap());
    assert!(
        probe.seen.load(Ordering::SeqCst) > 0,
        "the probe saw nothing"
    );
    assert_eq!(
        probe.held.load(Ordering::SeqCst),
        0,
        "segment files were written or verified while the writer mutex was held"
    );
    assert_eq!(index.snapshot().num_docs(), 147);
}

/// Runs a merge of segments 1 and 2 from inside another commit's segment build, right after
/// that build wrote its first file: the merge's garbage collection sees the unfinished
/// segment's file unreferenced and pinned.
#[derive(Debug)]
struct MergeMidBuild {
    inner: MemDirectory,
    shared: OnceLock<Weak<Shared>>,
    trigger: String,
    fired: std::sync::atomic::AtomicBool,
}

impl Directory for MergeMidBuild {
    fn describe(&self) -> String {
        "<merge mid build>".into()
    }
    fn create(&self, name: &str) -> std::io::Result<Box<dyn FileWriter>> {
        if name == self.trigger && !self.fired.swap(true, Ordering::SeqCst) {
            let shared = self.shared.get().and_then(Weak::upgrade).unwrap();
            let merged = crate::txn::merge::run_merge(&shared, &[1, 2]).unwrap();
            assert!(merged.is_some());
        }
        self.inner.create(name)
    }
    fn read(&self, name: &str) -> std::io::Result<FileBytes> {
        self.inner.read(name)
    }
    fn rename(&self, from: &str, to: &str) -> std::io::Result<()> {
        self.inner.rename(from, to)
    }
    fn remove(&self, name: &str) -> std::io::Result<()> {
        self.inner.remove(name)
    }
    fn list(&self) -> std::io::Result<Vec<String>> {
        self.inner.list()
    }
    fn sync_dir(&self) -> std::io::Result<()> {
        self.inner.sync_dir()
    }
    fn try_lock(&self, name: &str) -> std::io::Result<Option<Box<dyn LockGuard>>> {
        self.inner.try_lock(name)
    }
}

#[test]
fn a_segment_seen_as_garbage_while_it_was_built_is_kept_once_committed() {
    let mem = MemDirectory::new();
    let dir = Arc::new(MergeMidBuild {
        inner: mem.clone(),
        shared: OnceLock::new(),
        trigger: crate::segment::file_name(3, crate::format::FileKind::Keys, 0),
        fired: Default::default(),
    });
    let options = IndexOptions {
        background_merges: false,
        ..IndexOptions::default()
    };
    let schema = Schema::dense(KeyKind::U64, 8, Metric::Dot);
    let plain = |k: u64| Document::new(k, doc(k).vector.unwrap());
    let mut index = Index::create_in(dir.clone(), schema, options.clone()).unwrap();
    let _ = dir.shared.set(Arc::downgrade(&index.shared));
    for batch in 0..3u64 {
        let mut txn = index.begin();
        for k in batch * 10..batch * 10 + 10 {
            txn.add(plain(k)).unwrap();
        }
        txn.commit().unwrap();
    }
    assert!(dir.fired.load(Ordering::SeqCst), "the merge did not run");
    drop(index);
    let vec3 = crate::segment::file_name(3, crate::format::FileKind::Vectors, 0);
    assert!(
        mem.list().unwrap().contains(&vec3),
        "a committed file was removed"
    );
    let index = Index::open_in(Arc::new(mem), options).unwrap();
    assert_eq!(index.snapshot().num_docs(), 30);
}

#[test]
fn an_owned_transaction_commits_rolls_back_and_hands_the_index_back() {
    let schema = Schema::dense(KeyKind::U64, 8, Metric::Dot);
    let dir: Arc<dyn Directory> = Arc::new(MemDirectory::new());
    let index = Index::create_in(dir, schema, IndexOptions::default()).unwrap();
    let plain = |k: u64| Document::new(k, doc(k).vector.unwrap());
    let mut txn = index.into_txn();
    txn.add(plain(1)).unwrap();
    txn.add(plain(2)).unwrap();
    // The same checks as a borrowed transaction: a duplicate key is refused at add.
    assert!(matches!(txn.add(plain(2)), Err(Error::Input { .. })));
    assert_eq!(txn.pending_adds(), 2);
    assert_eq!(txn.index().snapshot().num_docs(), 0);
    let (index, res) = txn.commit();
    res.unwrap();
    assert_eq!(index.snapshot().num_docs(), 2);

    let mut txn = index.into_txn();
    assert!(txn.delete(&Key::U64(1)).unwrap());
    txn.add(plain(3)).unwrap();
    let index = txn.rollback();
    assert_eq!(index.snapshot().num_docs(), 2);
    assert!(index.snapshot().locate(&Key::U64(1)).is_some());

    let mut txn = index.into_txn();
    assert!(txn.delete(&Key::U64(1)).unwrap());
    // A live key cannot be added again unless it was deleted in this transaction.
    assert!(matches!(txn.add(plain(2)), Err(Error::InvalidArgument(_))));
    txn.upsert(plain(2)).unwrap();
    let (index, res) = txn.commit();
    res.unwrap();
    let snap = index.snapshot();
    assert_eq!(snap.num_docs(), 1);
    assert!(snap.locate(&Key::U64(1)).is_none());
}

#[test]
fn a_refused_batch_leaves_the_transaction_as_it_was() {
    let schema = Schema::dense(KeyKind::U64, 8, Metric::Dot);
    let dir: Arc<dyn Directory> = Arc::new(MemDirectory::new());
    let mut index = Index::create_in(dir, schema, IndexOptions::default()).unwrap();
    let plain = |k: u64| Document::new(k, doc(k).vector.unwrap());
    let mut txn = index.begin();
    txn.add_all(vec![plain(1), plain(2)]).unwrap();
    txn.commit().unwrap();

    let mut txn = index.begin();
    txn.add(plain(3)).unwrap();
    // Key 2 is live: the whole batch is refused, 4 and 5 included.
    let err = txn.add_all(vec![plain(4), plain(5), plain(2)]).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    assert_eq!(txn.pending_adds(), 1);
    // An upsert batch that replaces 1, re-adds 3 (pending) and then hits a bad vector is
    // undone completely: 1 is not deleted, 3 keeps its pending add.
    let bad = Document::new(9u64, vec![f32::NAN; 8]);
    let err = txn
        .upsert_all(vec![plain(1), plain(3), plain(6), bad])
        .unwrap_err();
    assert!(matches!(err, Error::Input { .. }), "{err}");
    assert_eq!(txn.pending_adds(), 1);
    // The corrected batches go in, and the commit holds exactly 1, 2, 3, 4, 5.
    txn.add_all(vec![plain(4), plain(5)]).unwrap();
    txn.upsert_all(vec![plain(1)]).unwrap();
    txn.commit().unwrap();
    let snap = index.snapshot();
    assert_eq!(snap.num_docs(), 5);
    for k in 1..=5u64 {
        assert!(snap.locate(&Key::U64(k)).is_some(), "key {k}");
    }
    assert!(snap.locate(&Key::U64(6)).is_none());
}

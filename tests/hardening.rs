//! Regression tests for what an operator or an attacker can do to an index directory on the
//! real file system: remove the lock file, copy in another index's manifest, plant links
//! under names strata is about to write, create over leftovers, forge ids at the end of their
//! range, fill the disk, and keep snapshots alive across a merge.

mod common;
use common::*;
use std::collections::BTreeSet;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};
use strata::io::{Directory, FileBytes, FileWriter, LockGuard, MemDirectory};
use strata::txn::manifest::{self, Manifest};
use strata::{Document, Error, Index, IndexOptions, Key, Metric, Reader};

fn no_merges() -> IndexOptions {
    IndexOptions {
        background_merges: false,
        ..IndexOptions::default()
    }
}

fn open_fs(path: &Path) -> strata::Result<Index> {
    let dir = strata::io::FsDirectory::open_existing(path).unwrap();
    Index::open_in(Arc::new(dir), no_merges())
}

fn create_fs(path: &Path) -> Index {
    let dir = strata::io::FsDirectory::open(path).unwrap();
    Index::create_in(Arc::new(dir), schema(Metric::Dot), no_merges()).unwrap()
}

fn commit_range(index: &mut Index, keys: std::ops::Range<u64>) {
    let mut txn = index.begin();
    for k in keys {
        txn.add(Document::new(k, vector(k))).unwrap();
    }
    txn.commit().unwrap();
}

fn vector(k: u64) -> Vec<f32> {
    Rng(k + 1).vector(DIM)
}

fn names(path: &Path) -> BTreeSet<String> {
    std::fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn live_keys(path: &Path) -> BTreeSet<u64> {
    let reader = Reader::open(path).unwrap();
    let mut out = BTreeSet::new();
    reader.snapshot().for_each_live(|key, _, _| {
        if let Key::U64(k) = key {
            out.insert(*k);
        }
    });
    out
}

fn newest_manifest(path: &Path) -> Manifest {
    let dir = strata::io::FsDirectory::open_existing(path).unwrap();
    manifest::load_newest(&dir).unwrap().unwrap()
}

#[test]
fn a_removed_lock_file_does_not_let_a_second_writer_in() {
    let tmp = tempfile::tempdir().unwrap();
    let mut first = create_fs(tmp.path());
    commit_range(&mut first, 0..10);
    std::fs::remove_file(tmp.path().join(strata::txn::LOCK_FILE)).unwrap();
    let second = open_fs(tmp.path());
    assert!(
        matches!(second, Err(Error::Locked { .. })),
        "a second writer got in after LOCK was removed: {second:?}"
    );
    // The first writer is unaffected and its commits stay.
    commit_range(&mut first, 10..20);
    drop(first);
    assert_eq!(live_keys(tmp.path()), (0..20).collect());
    // Once the first writer is gone, a writer can open again.
    open_fs(tmp.path()).unwrap();
}

#[test]
fn a_stray_manifest_of_another_index_is_refused_and_nothing_is_removed() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let mut ia = create_fs(a.path());
    commit_range(&mut ia, 0..10);
    drop(ia);
    // Another index with more commits, so its newest manifest has a higher generation.
    let mut ib = create_fs(b.path());
    for i in 0..5 {
        commit_range(&mut ib, 100 + i * 10..110 + i * 10);
    }
    drop(ib);
    let stray = manifest::manifest_name(newest_manifest(b.path()).generation);
    let before = names(a.path());
    std::fs::copy(b.path().join(&stray), a.path().join(&stray)).unwrap();
    let err = open_fs(a.path()).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("another index"), "{err}");
    let mut after = names(a.path());
    after.remove(&stray);
    assert_eq!(after, before, "open removed files of the real index");
    // With the stray moved away, the index is whole.
    std::fs::remove_file(a.path().join(&stray)).unwrap();
    open_fs(a.path()).unwrap();
    assert_eq!(live_keys(a.path()), (0..10).collect());
}

#[test]
fn a_newest_manifest_naming_missing_files_is_refused_and_nothing_is_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut index = create_fs(tmp.path());
    commit_range(&mut index, 0..10);
    let old = newest_manifest(tmp.path());
    commit_range(&mut index, 10..20);
    index.merge_all().unwrap();
    drop(index);
    // The old manifest (same index id) rewritten as the newest generation: it names the
    // segment the merge replaced, whose files are gone.
    let mut forged = old.clone();
    forged.generation = newest_manifest(tmp.path()).generation + 7;
    let name = manifest::manifest_name(forged.generation);
    std::fs::write(tmp.path().join(&name), forged.to_file_bytes()).unwrap();
    let before = names(tmp.path());
    let err = open_fs(tmp.path()).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert_eq!(names(tmp.path()), before, "open removed files");
    std::fs::remove_file(tmp.path().join(&name)).unwrap();
    open_fs(tmp.path()).unwrap();
    assert_eq!(live_keys(tmp.path()), (0..20).collect());
}

#[test]
fn writes_never_follow_a_planted_link() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let mut index = create_fs(tmp.path());
    commit_range(&mut index, 0..5);
    let m = newest_manifest(tmp.path());
    // Links under the names the next commit would write: its segment and its manifest.
    let seg = strata::segment::file_name(m.next_segment_id, strata::format::FileKind::Vectors, 0);
    let tmp_manifest = format!("{}.tmp", manifest::manifest_name(m.generation + 1));
    std::os::unix::fs::symlink(&victim, tmp.path().join(&seg)).unwrap();
    std::os::unix::fs::symlink(&victim, tmp.path().join(&tmp_manifest)).unwrap();
    // The first commit meets the segment link, the second the manifest link: each fails
    // without writing through it, without poisoning the writer; the third takes fresh names.
    for (attempt, planted) in [(1, &seg), (2, &tmp_manifest)] {
        let mut txn = index.begin();
        txn.add(Document::new(5u64, vector(5))).unwrap();
        match txn.commit() {
            Err(Error::Io { path, source, .. }) => {
                assert_eq!(&path, planted, "attempt {attempt}");
                assert_eq!(source.kind(), io::ErrorKind::AlreadyExists);
            }
            other => panic!("attempt {attempt}: {other:?}"),
        }
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    }
    let mut txn = index.begin();
    txn.add(Document::new(5u64, vector(5))).unwrap();
    txn.commit().unwrap();
    drop(index);
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert_eq!(live_keys(tmp.path()), (0..6).collect());
    // Recovery sees links: the planted ones are gone after an open, the target is not.
    std::os::unix::fs::symlink(&victim, tmp.path().join("seg-00000000000000ff.keys")).unwrap();
    open_fs(tmp.path()).unwrap();
    let left = names(tmp.path());
    assert!(
        !left.contains(&seg) && !left.contains("seg-00000000000000ff.keys"),
        "{left:?}"
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
}

#[test]
fn create_refuses_a_directory_with_leftover_files() {
    let tmp = tempfile::tempdir().unwrap();
    let mut index = create_fs(tmp.path());
    commit_range(&mut index, 0..5);
    drop(index);
    // What is left of a damaged index: segment files, no manifest.
    for n in names(tmp.path()) {
        if n.starts_with("MANIFEST-") {
            std::fs::remove_file(tmp.path().join(n)).unwrap();
        }
    }
    let before = names(tmp.path());
    let err = Index::create(tmp.path(), schema(Metric::Dot)).unwrap_err();
    assert!(matches!(err, Error::NotEmpty { .. }), "{err}");
    assert_eq!(names(tmp.path()), before);
    // Through a Directory too, and with a subdirectory as the only entry.
    let dir = strata::io::FsDirectory::open(tmp.path()).unwrap();
    let err = Index::create_in(Arc::new(dir), schema(Metric::Dot), no_merges()).unwrap_err();
    assert!(matches!(err, Error::NotEmpty { .. }), "{err}");
    let other = tempfile::tempdir().unwrap();
    std::fs::create_dir(other.path().join("keep")).unwrap();
    let err = Index::create(other.path(), schema(Metric::Dot)).unwrap_err();
    assert!(matches!(err, Error::NotEmpty { .. }), "{err}");
    // An empty directory is fine.
    let empty = tempfile::tempdir().unwrap();
    Index::create(empty.path(), schema(Metric::Dot)).unwrap();
}

/// Writes `m` as a new newest manifest of the index at `path`.
fn plant_manifest(path: &Path, m: &Manifest) {
    let name = manifest::manifest_name(m.generation);
    std::fs::write(path.join(name), m.to_file_bytes()).unwrap();
}

#[test]
fn ids_at_the_end_of_their_range_are_refused_not_wrapped() {
    let tmp = tempfile::tempdir().unwrap();
    let mut index = create_fs(tmp.path());
    commit_range(&mut index, 0..5);
    drop(index);
    let mut m = newest_manifest(tmp.path());
    m.generation += 1;
    m.next_segment_id = u64::MAX;
    plant_manifest(tmp.path(), &m);
    let mut index = open_fs(tmp.path()).unwrap();
    let mut txn = index.begin();
    txn.add(Document::new(5u64, vector(5))).unwrap();
    let err = txn.commit().unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    drop(index);
    // Nothing was acknowledged that cannot be read back.
    assert_eq!(live_keys(tmp.path()), (0..5).collect());

    let mut m = newest_manifest(tmp.path());
    m.generation = u64::MAX;
    m.next_segment_id = 100;
    plant_manifest(tmp.path(), &m);
    let err = open_fs(tmp.path()).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert_eq!(live_keys(tmp.path()), (0..5).collect());
}

/// A memory directory with a byte quota: writes past it fail with ENOSPC.
#[derive(Debug, Clone)]
struct Quota {
    inner: MemDirectory,
    left: Arc<Mutex<u64>>,
}

struct QuotaWriter {
    inner: Box<dyn FileWriter>,
    left: Arc<Mutex<u64>>,
}

impl FileWriter for QuotaWriter {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut left = self.left.lock().unwrap();
        if (buf.len() as u64) > *left {
            return Err(io::Error::from_raw_os_error(28));
        }
        *left -= buf.len() as u64;
        self.inner.write_all(buf)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.inner.sync()
    }
}

impl Directory for Quota {
    fn describe(&self) -> String {
        "<quota>".into()
    }
    fn create(&self, name: &str) -> io::Result<Box<dyn FileWriter>> {
        Ok(Box::new(QuotaWriter {
            inner: self.inner.create(name)?,
            left: self.left.clone(),
        }))
    }
    fn read(&self, name: &str) -> io::Result<FileBytes> {
        self.inner.read(name)
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        self.inner.remove(name)
    }
    fn list(&self) -> io::Result<Vec<String>> {
        self.inner.list()
    }
    fn sync_dir(&self) -> io::Result<()> {
        self.inner.sync_dir()
    }
    fn try_lock(&self, name: &str) -> io::Result<Option<Box<dyn LockGuard>>> {
        self.inner.try_lock(name)
    }
}

#[test]
fn a_commit_that_fills_the_disk_leaves_no_partial_files() {
    let quota = Quota {
        inner: MemDirectory::new(),
        left: Arc::new(Mutex::new(u64::MAX)),
    };
    let dir: Arc<dyn Directory> = Arc::new(quota.clone());
    let mut index = Index::create_in(dir.clone(), schema_text(Metric::Dot), no_merges()).unwrap();
    let mut txn = index.begin();
    for k in 0..20u64 {
        txn.add(doc(k, vector(k))).unwrap();
    }
    txn.commit().unwrap();
    let before = dir.list().unwrap();
    // Room for some of the next segment's files but not all of them, at every cut.
    for room in [0u64, 100, 1_000, 3_000, 6_000, 10_000] {
        *quota.left.lock().unwrap() = room;
        let mut txn = index.begin();
        for k in 100..400u64 {
            txn.add(doc(k, vector(k))).unwrap();
        }
        txn.delete(&Key::U64(3)).unwrap();
        if txn.commit().is_ok() {
            continue;
        }
        assert_eq!(
            dir.list().unwrap(),
            before,
            "room {room}: files left behind"
        );
    }
    *quota.left.lock().unwrap() = u64::MAX;
    let mut txn = index.begin();
    txn.add(doc(1000, vector(1000))).unwrap();
    txn.commit().unwrap();
}

#[test]
fn a_merge_collects_what_it_replaced_once_snapshots_let_go() {
    let tmp = tempfile::tempdir().unwrap();
    let mut index = create_fs(tmp.path());
    commit_range(&mut index, 0..10);
    commit_range(&mut index, 10..20);
    let before = index.snapshot();
    let old: Vec<String> = before
        .segments()
        .iter()
        .flat_map(|s| s.meta.files().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    assert!(index.merge_all().unwrap());
    // Pinned while the old snapshot lives (it may still be searched)...
    let present = names(tmp.path());
    assert!(old.iter().all(|f| present.contains(f)));
    assert_eq!(
        before.search_exact(&vector(3), 1).unwrap()[0].key,
        Key::U64(3)
    );
    // ...and removed when it goes, without another commit or open.
    drop(before);
    let present = names(tmp.path());
    let left: Vec<&String> = old.iter().filter(|f| present.contains(*f)).collect();
    assert!(left.is_empty(), "replaced files still on disk: {left:?}");
    let manifests = present
        .iter()
        .filter(|n| n.starts_with("MANIFEST-"))
        .count();
    assert_eq!(manifests, 1, "{present:?}");
    drop(index);
    assert_eq!(live_keys(tmp.path()), (0..20).collect());
}

#[test]
fn a_format_1_index_gets_an_id_and_keeps_its_data() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1/dense");
    let tmp = tempfile::tempdir().unwrap();
    for n in names(&fixture) {
        std::fs::copy(fixture.join(&n), tmp.path().join(&n)).unwrap();
    }
    assert_eq!(newest_manifest(tmp.path()).index_id, 0);
    let mut index = open_fs(tmp.path()).unwrap();
    let mut txn = index.begin();
    txn.add(Document::new(7u64, vec![0.5; 4])).unwrap();
    txn.commit().unwrap();
    drop(index);
    assert_ne!(newest_manifest(tmp.path()).index_id, 0);
    let keys = live_keys(tmp.path());
    assert_eq!(keys, [0, 1, 3, 4, 5, 6, 7].into_iter().collect());
}

#[test]
fn opening_a_directory_that_is_not_an_index_writes_nothing_there() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("notes.txt"), b"mine").unwrap();
    let err = strata::Index::open(tmp.path()).unwrap_err();
    assert!(matches!(err, strata::Error::NotAnIndex { .. }), "{err}");
    let names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["notes.txt".to_owned()]);
}

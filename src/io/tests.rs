//! One behavioural suite run against every backend, plus the fault model's own semantics.

use super::*;

fn suite(dir: &dyn Directory) {
    write_file_synced(dir, "a.tmp", b"hello").unwrap();
    dir.sync_dir().unwrap();
    assert_eq!(&*dir.read("a.tmp").unwrap(), b"hello");
    dir.rename("a.tmp", "a").unwrap();
    assert!(dir.read("a.tmp").is_err());
    assert_eq!(&*dir.map("a").unwrap(), b"hello");
    assert_eq!(dir.file_len("a").unwrap(), 5);
    write_file_synced(dir, "b", b"").unwrap();
    assert_eq!(dir.read("b").unwrap().len(), 0);
    let mut names = dir.list().unwrap();
    names.retain(|n| n != "LOCK");
    assert_eq!(names, vec!["a".to_owned(), "b".to_owned()]);
    dir.remove("b").unwrap();
    assert!(dir.remove("b").is_err());
    let held = dir.try_lock("LOCK").unwrap();
    assert!(held.is_some());
    assert!(
        dir.try_lock("LOCK").unwrap().is_none(),
        "second lock must fail"
    );
    drop(held);
    assert!(dir.try_lock("LOCK").unwrap().is_some());
    let bytes = dir.read("a").unwrap();
    assert_eq!(
        bytes.as_ptr() as usize % 8,
        0,
        "file bytes must be 8-byte aligned"
    );
}

#[test]
fn mem_backend() {
    suite(&MemDirectory::new());
}

#[test]
fn fs_backend() {
    let tmp = tempfile::tempdir().unwrap();
    suite(&FsDirectory::open(tmp.path()).unwrap());
    suite(
        &FsDirectory::open(tmp.path().join("x"))
            .unwrap()
            .without_mmap(),
    );
}

#[test]
fn fault_backend() {
    suite(&FaultDirectory::new());
}

#[test]
fn unsynced_data_is_lost_and_synced_data_survives() {
    let d = FaultDirectory::new();
    write_file_synced(&d, "synced", b"durable").unwrap();
    d.sync_dir().unwrap();
    let mut w = d.create("unsynced").unwrap();
    w.write_all(b"volatile").unwrap();
    let mut w2 = d.create("synced-no-dir").unwrap();
    w2.write_all(b"x").unwrap();
    w2.sync().unwrap();
    let after = d.crash(CrashMode::DropUnsynced);
    assert_eq!(after.list().unwrap(), vec!["synced".to_owned()]);
    assert_eq!(&*after.read("synced").unwrap(), b"durable");
    let all = d.crash(CrashMode::KeepAll);
    assert_eq!(all.list().unwrap().len(), 3);
}

#[test]
fn unsynced_rename_may_be_lost() {
    let d = FaultDirectory::new();
    write_file_synced(&d, "m.tmp", b"manifest").unwrap();
    d.sync_dir().unwrap();
    d.rename("m.tmp", "m").unwrap();
    let lost = d.crash(CrashMode::DropUnsynced);
    assert_eq!(lost.list().unwrap(), vec!["m.tmp".to_owned()]);
    let kept = d.crash(CrashMode::KeepAll);
    assert_eq!(kept.list().unwrap(), vec!["m".to_owned()]);
}

#[test]
fn torn_writes_keep_a_prefix() {
    for seed in 0..20 {
        let d = FaultDirectory::new();
        let mut w = d.create("f").unwrap();
        w.write_all(b"0123").unwrap();
        w.sync().unwrap();
        w.write_all(b"456789").unwrap();
        d.sync_dir().unwrap();
        let after = d.crash(CrashMode::Torn(seed));
        let got = after.read("f").unwrap();
        assert!(got.len() >= 4 && b"0123456789".starts_with(&got));
    }
}

#[test]
fn crash_after_n_fails_everything_after() {
    let d = FaultDirectory::new();
    d.crash_after(2);
    let mut w = d.create("f").unwrap();
    w.write_all(b"a").unwrap();
    assert!(w.sync().is_err());
    assert!(d.has_crashed());
    assert!(d.list().is_err());
    assert_eq!(d.trace().len(), 2);
}

#[test]
fn injected_faults_fail_once() {
    let d = FaultDirectory::new();
    d.fail_op(2, FaultKind::NoSpace);
    let mut w = d.create("f").unwrap();
    let err = w.write_all(b"abc").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(28));
    w.write_all(b"abc").unwrap();
    d.fail_op(1, FaultKind::Eio);
    assert_eq!(w.sync().unwrap_err().raw_os_error(), Some(5));
    let after = d.crash(CrashMode::DropUnsynced);
    assert!(after.list().unwrap().is_empty());
}

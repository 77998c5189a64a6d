//! Reader processes refresh and check snapshots while a writer process commits and merges, on
//! the real file system.
//!
//! The writer is this test; the readers are this same test binary re-run as the ignored test
//! `multiprocess_reader`. The content of every commit encodes its number (key 0's vector), so
//! a reader checks any snapshot it sees without shared memory: it must be exactly the state
//! of some commit, never older than one it saw before. The writer tells each reader (one line
//! on its stdin) the commit it just made and waits for the reader's answer; a reader then must
//! see at least that commit, and before reading the next line it refreshes again, racing the
//! writer's next commit, merge and garbage collection. Bounded: a fixed number of commits,
//! one extra refresh per commit; no timing.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use strata::io::FsDirectory;
use strata::{Index, Key, Metric, Reader, Snapshot};

const READERS: usize = 2;
const COMMITS: u64 = 60;
const PER_COMMIT: u64 = 4;
/// How a reader's answer starts: the commit it saw follows.
const SAW: &str = "strata-reader saw commit ";

fn vector(k: u64) -> Vec<f32> {
    (0..DIM)
        .map(|i| ((k * 13 + i as u64 * 5) % 17) as f32 - 8.0)
        .collect()
}

/// Key 0's vector after commit `c`: it carries the commit number.
fn marker(c: u64) -> Vec<f32> {
    let mut v = vec![0.0; DIM];
    v[0] = c as f32;
    v
}

/// The state after commits 1..=c: commit i upserts key 0 with `marker(i)`, adds keys
/// 4i..4i+4 and, for even i, deletes key 4i-3.
fn state(c: u64) -> Model {
    let mut m = Model::new();
    for i in 1..=c {
        m.insert(0, marker(i));
        for k in PER_COMMIT * i..PER_COMMIT * (i + 1) {
            m.insert(k, vector(k));
        }
        if i.is_multiple_of(2) {
            m.remove(&(PER_COMMIT * i - 3));
        }
    }
    m
}

fn commit(index: &mut Index, c: u64) {
    let mut txn = index.begin();
    txn.upsert(doc(0u64, marker(c))).unwrap();
    for k in PER_COMMIT * c..PER_COMMIT * (c + 1) {
        txn.add(doc(k, vector(k))).unwrap();
    }
    if c.is_multiple_of(2) {
        txn.delete(&Key::U64(PER_COMMIT * c - 3)).unwrap();
    }
    txn.commit().unwrap();
}

/// Checks that `snap` holds exactly the state of some commit; returns its number.
fn check(snap: &Snapshot, rng: &mut Rng, what: &str) -> u64 {
    let got = snapshot_contents(snap);
    let c = got.get(&0).map_or(0, |v| v[0] as u64);
    check_snapshot(
        snap,
        &state(c),
        &[rng.vector(DIM)],
        &format!("{what}: commit {c}"),
    );
    c
}

#[test]
#[ignore = "child process of readers_in_other_processes_see_only_committed_states"]
fn multiprocess_reader() {
    let Ok(path) = std::env::var("STRATA_MULTIPROCESS_DIR") else {
        return;
    };
    let reader = Reader::open(&path).unwrap();
    let mut rng = Rng(std::process::id().into());
    let mut seen = check(&reader.snapshot(), &mut rng, "first snapshot");
    let mut kept: Vec<(Snapshot, u64)> = Vec::new();
    let mut out = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let want: u64 = line.trim().parse().unwrap();
        reader.refresh().unwrap();
        let snap = reader.snapshot();
        let c = check(&snap, &mut rng, "after the writer's commit");
        assert!(
            c >= want && c >= seen,
            "saw commit {c} after {want} / {seen}"
        );
        seen = c;
        writeln!(out, "{SAW}{c}").unwrap();
        out.flush().unwrap();
        // Races the writer's next steps.
        reader.refresh().unwrap();
        let c = check(&reader.snapshot(), &mut rng, "racing the writer");
        assert!(c >= seen, "went back from commit {seen} to {c}");
        seen = c;
        // Snapshots taken earlier stay intact whatever the writer removed since.
        for (old, at) in &kept {
            let got = snapshot_contents(old);
            assert_eq!(got, state(*at), "kept snapshot of commit {at}");
        }
        if want.is_multiple_of(5) {
            kept.push((snap, want));
        }
    }
}

#[test]
fn readers_in_other_processes_see_only_committed_states() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Arc::new(FsDirectory::open(tmp.path()).unwrap());
    let options = options_background();
    let mut index = Index::create_in(dir, schema_text(Metric::Dot), options).unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut readers: Vec<_> = (0..READERS)
        .map(|_| {
            let mut child = Command::new(&exe)
                .args([
                    "--exact",
                    "multiprocess_reader",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("STRATA_MULTIPROCESS_DIR", tmp.path())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let stdin = child.stdin.take().unwrap();
            let lines = BufReader::new(child.stdout.take().unwrap()).lines();
            (child, stdin, lines)
        })
        .collect();
    let mut merges = 0;
    for c in 1..=COMMITS {
        commit(&mut index, c);
        if c % 7 == 0 {
            index.merge_all().unwrap();
            merges += 1;
        }
        for (i, (_, stdin, lines)) in readers.iter_mut().enumerate() {
            writeln!(stdin, "{c}").unwrap();
            stdin.flush().unwrap();
            // The test harness prints its own text too (even on the same line).
            let answer = lines
                .find_map(|l| l.ok()?.split_once(SAW).map(|(_, n)| n.to_owned()))
                .unwrap_or_else(|| panic!("reader {i} died at commit {c}"));
            let seen: u64 = answer.parse().unwrap();
            assert_eq!(seen, c, "reader {i} saw commit {seen} after commit {c}");
        }
    }
    for (i, (mut child, stdin, _)) in readers.into_iter().enumerate() {
        drop(stdin);
        let status = child.wait().unwrap();
        assert!(status.success(), "reader {i} failed: {status}");
    }
    assert_eq!(merges, COMMITS / 7);
    assert!(index.take_merge_error().is_none());
    assert_eq!(contents(&index), state(COMMITS));
}

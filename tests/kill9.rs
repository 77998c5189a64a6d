//! A real `kill -9` loop: a child process commits continuously (with background merges, and an
//! explicit merge of everything after every third commit) and is killed at random moments;
//! after each kill the parent reopens the index, which must hold exactly the state of some
//! commit at or after the last one the child acknowledged. Every other round the kill comes
//! only after the child has announced a merge, so kills land during and right after merges.
//!
//! The child is this same test binary running the ignored test `kill9_child`.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use strata::io::FsDirectory;
use strata::{Document, Index, IndexOptions, Key, MergePolicy, Metric};

const PER_COMMIT: u64 = 5;

fn vector(k: u64) -> Vec<f32> {
    (0..DIM)
        .map(|i| ((k * 13 + i as u64 * 5) % 17) as f32 - 8.0)
        .collect()
}

/// The state after commits 1..=c: commit i adds keys 5(i-1)..5i and, for even i, deletes key
/// 5(i-1)-3.
fn state(c: u64) -> Model {
    let mut m = Model::new();
    for i in 1..=c {
        for k in PER_COMMIT * (i - 1)..PER_COMMIT * i {
            m.insert(k, vector(k));
        }
        if i.is_multiple_of(2) {
            m.remove(&(PER_COMMIT * (i - 1) - 3));
        }
    }
    m
}

fn commits_in(m: &Model) -> u64 {
    m.keys().next_back().map_or(0, |k| (k + 1) / PER_COMMIT)
}

fn options() -> IndexOptions {
    IndexOptions {
        background_merges: true,
        merge_policy: MergePolicy {
            merge_factor: 4,
            min_segment_rows: 10,
            max_deleted_ratio: 0.5,
        },
        lock_timeout: Some(Duration::from_secs(10)),
    }
}

#[test]
#[ignore = "child process of kill9_loop"]
fn kill9_child() {
    let Ok(path) = std::env::var("STRATA_KILL9_DIR") else {
        return;
    };
    let dir = Arc::new(FsDirectory::open(&path).unwrap());
    let mut index = Index::open_in(dir, options()).unwrap();
    let mut c = commits_in(&contents(&index));
    let mut out = std::io::stdout();
    loop {
        c += 1;
        let mut txn = index.begin();
        for k in PER_COMMIT * (c - 1)..PER_COMMIT * c {
            txn.add(Document::new(k, vector(k))).unwrap();
        }
        if c.is_multiple_of(2) {
            txn.delete(&Key::U64(PER_COMMIT * (c - 1) - 3)).unwrap();
        }
        txn.commit().unwrap();
        writeln!(out, "{ACK}{c}").unwrap();
        out.flush().unwrap();
        if c.is_multiple_of(3) {
            writeln!(out, "{MERGING}").unwrap();
            out.flush().unwrap();
            index.merge_all().unwrap();
        }
    }
}

/// What the child prints (the test harness may print its own text on the same line).
const ACK: &str = "kill9-child ack ";
const MERGING: &str = "kill9-child merging";

enum Event {
    Ack(u64),
    Merging,
}

#[test]
fn kill9_loop() {
    let rounds: u64 = std::env::var("STRATA_KILL9_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let tmp = tempfile::tempdir().unwrap();
    drop(Index::create(tmp.path(), schema(Metric::Dot)).unwrap());
    let exe = std::env::current_exe().unwrap();
    let mut rng = Rng(2024);
    let mut acked = 0u64;
    let mut kills = 0u64;
    let mut merges = 0u64;
    let start = Instant::now();
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "kill9_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("STRATA_KILL9_DIR", tmp.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let event = if line.contains(MERGING) {
                    Some(Event::Merging)
                } else {
                    line.split_once(ACK)
                        .and_then(|(_, n)| n.trim().parse::<u64>().ok())
                        .map(Event::Ack)
                };
                if let Some(e) = event {
                    let _ = tx.send(e);
                }
            }
        });
        // Wait for the child's first commit of this round (so every round kills a writer that
        // is busy) or, in odd rounds, for it to start a merge; then a random extra moment,
        // then SIGKILL.
        let during_merge = round % 2 == 1;
        let mut events = Vec::new();
        loop {
            let e = rx.recv_timeout(Duration::from_secs(20));
            let e = e.unwrap_or_else(|_| panic!("round {round}: child made no progress"));
            let done = match e {
                Event::Ack(_) => !during_merge,
                Event::Merging => during_merge,
            };
            events.push(e);
            if done {
                break;
            }
        }
        std::thread::sleep(Duration::from_micros(rng.below(if during_merge {
            3_000
        } else {
            20_000
        })));
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        reader.join().unwrap();
        events.extend(rx.try_iter());
        merges += events
            .iter()
            .filter(|e| matches!(e, Event::Merging))
            .count() as u64;
        let round_acked = events
            .iter()
            .filter_map(|e| match e {
                Event::Ack(n) => Some(*n),
                Event::Merging => None,
            })
            .max()
            .unwrap_or(0);
        acked = acked.max(round_acked);
        let index = Index::open_in(
            Arc::new(FsDirectory::open(tmp.path()).unwrap()),
            options_sync(),
        )
        .unwrap_or_else(|e| panic!("round {round}: reopen after kill -9 failed: {e}"));
        let got = contents(&index);
        let c = commits_in(&got);
        assert!(
            c >= acked,
            "round {round}: acknowledged commit {acked} lost (index has {c})"
        );
        assert_eq!(
            got,
            state(c),
            "round {round}: index is not the state of commit {c}"
        );
    }
    assert_eq!(kills, rounds);
    // Every odd round killed a child that had started a merge.
    assert!(merges >= rounds / 2, "{merges} merges in {rounds} rounds");
    eprintln!(
        "kill9: {kills} kills, {merges} merges started, {acked} acknowledged commits, {:.1}s",
        start.elapsed().as_secs_f64()
    );
}

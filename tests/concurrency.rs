//! Readers in several threads check snapshots while a writer commits, merges (explicitly and
//! in the background) and collects garbage.
//!
//! Deterministic by construction: after each step the writer hands the model of the index's
//! content to every reader and waits until each has checked its newest snapshot against it;
//! nothing depends on how threads are scheduled. Readers also keep every snapshot they took
//! and, while the writer goes on, re-check the old ones against the models they were taken
//! at, so later commits, merges and garbage collection must never disturb a live snapshot.

mod common;
use common::*;
use std::sync::Arc;
use std::sync::mpsc;
use strata::io::{Directory, FsDirectory};
use strata::{Index, Key, Metric, Snapshot};

const READERS: u64 = 3;
const ROUNDS: u64 = 30;

/// What the writer hands to the readers: the generation it just reached and the content model
/// of the index at it (merges and garbage collection keep the content).
type Step = (u64, Arc<Model>);

/// A reader thread: for every step, checks the newest snapshot, acknowledges, then re-checks
/// the snapshots of earlier steps; at the end re-checks them all once more. Returns how many
/// snapshot checks it made.
fn reader(
    reader: strata::Reader,
    steps: mpsc::Receiver<Step>,
    acks: mpsc::Sender<u64>,
    seed: u64,
) -> usize {
    let mut rng = Rng(seed);
    let mut kept: Vec<(Snapshot, Arc<Model>)> = Vec::new();
    let mut checks = 0;
    while let Ok((generation, model)) = steps.recv() {
        let queries: Vec<Vec<f32>> = (0..2).map(|_| rng.vector(DIM)).collect();
        let snap = reader.snapshot();
        assert!(
            snap.generation() >= generation,
            "snapshot {} is older than the handed-over generation {generation}",
            snap.generation()
        );
        check_snapshot(&snap, &model, &queries, &format!("generation {generation}"));
        acks.send(seed).unwrap();
        // The writer goes on meanwhile; every kept snapshot must still show its own state.
        for (old, old_model) in &kept {
            check_vectors(
                old,
                old_model,
                &queries[..1],
                &format!("kept snapshot {}", old.generation()),
            );
            checks += 1;
        }
        kept.push((snap, model));
        checks += 1;
    }
    // After the last step: every kept snapshot in full, stored text included.
    for (old, old_model) in &kept {
        let what = format!("kept snapshot {} at the end", old.generation());
        check_snapshot(old, old_model, &[rng.vector(DIM)], &what);
        checks += 1;
    }
    checks
}

#[test]
fn readers_see_consistent_snapshots_while_writer_commits_and_merges() {
    let tmp = tempfile::tempdir().unwrap();
    let dir: Arc<dyn Directory> = Arc::new(FsDirectory::open(tmp.path()).unwrap());
    let options = options_background();
    let mut index = Index::create_in(dir, schema_text(Metric::Dot), options).unwrap();
    let (ack_tx, ack_rx) = mpsc::channel();
    let mut senders = Vec::new();
    let mut handles = Vec::new();
    for t in 0..READERS {
        let (tx, rx) = mpsc::channel::<Step>();
        senders.push(tx);
        let (r, acks) = (index.reader(), ack_tx.clone());
        handles.push(std::thread::spawn(move || reader(r, rx, acks, 100 + t)));
    }
    // Hands the index's current state to every reader and waits until each has checked it.
    let hand_over = |index: &Index, model: &Model| {
        let step: Step = (index.snapshot().generation(), Arc::new(model.clone()));
        for tx in &senders {
            tx.send(step.clone()).unwrap();
        }
        for _ in 0..READERS {
            ack_rx.recv().expect("a reader failed");
        }
    };

    let mut rng = Rng(7);
    let mut model = Model::new();
    let mut merged = 0;
    for round in 0..ROUNDS {
        let mut txn = index.begin();
        for j in 0..5 {
            let k = round * 5 + j;
            let v: Vec<f32> = (0..DIM).map(|_| (rng.below(7) as f32) - 3.0).collect();
            txn.add(doc(k, v.clone())).unwrap();
            model.insert(k, v);
        }
        if round % 4 == 3 {
            for _ in 0..4 {
                let victim = rng.below(round * 5);
                if txn.delete(&Key::U64(victim)).unwrap() {
                    model.remove(&victim);
                }
            }
        }
        txn.commit().unwrap();
        hand_over(&index, &model);
        if round % 10 == 9 {
            // Waits for background merges, then merges everything into one segment.
            index.merge_all().unwrap();
            assert_eq!(index.snapshot().segments().len(), 1);
            merged += 1;
            hand_over(&index, &model);
        }
        if round % 3 == 2 {
            index.wait_for_merges();
            index.collect_garbage().unwrap();
            hand_over(&index, &model);
        }
    }
    drop(senders);
    let checks: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(index.take_merge_error().is_none());
    assert_eq!(merged, ROUNDS / 10);
    // Each reader checked every handed-over snapshot and re-checked each kept one after every
    // later step: a fixed count, whatever the scheduling.
    let steps = (ROUNDS + ROUNDS / 10 + ROUNDS / 3) as usize;
    assert_eq!(checks, READERS as usize * (steps * (steps + 1) / 2 + steps));
    assert_eq!(contents(&index), model);
}

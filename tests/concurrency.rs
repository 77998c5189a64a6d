//! Readers search in several threads while a writer commits and background merges run;
//! every result equals brute force over the model of the snapshot it came from.

mod common;
use common::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use strata::io::{Directory, MemDirectory};
use strata::{Document, Index, IndexOptions, Key, MergePolicy, Metric};

#[test]
fn readers_see_consistent_snapshots_while_writer_commits_and_merges() {
    let dir: Arc<dyn Directory> = Arc::new(MemDirectory::new());
    let options = IndexOptions {
        background_merges: true,
        merge_policy: MergePolicy {
            merge_factor: 3,
            min_segment_rows: 8,
            max_deleted_ratio: 0.3,
        },
        lock_timeout: None,
    };
    let mut index = Index::create_in(dir, schema(Metric::Dot), options).unwrap();
    let reader = index.reader();
    // Content models of every state a writer commit produced (merges keep content).
    let models: Arc<Mutex<Vec<Model>>> = Arc::new(Mutex::new(vec![Model::new()]));
    let done = Arc::new(AtomicBool::new(false));
    let checks = Arc::new(Mutex::new(0usize));
    let mut handles = Vec::new();
    for t in 0..3u64 {
        let (reader, models, done, checks) =
            (reader.clone(), models.clone(), done.clone(), checks.clone());
        handles.push(std::thread::spawn(move || {
            let mut rng = Rng(100 + t);
            let mut seen: HashMap<u64, usize> = HashMap::new();
            while !done.load(Ordering::Acquire) {
                let snap = reader.snapshot();
                let mut content = Model::new();
                snap.for_each_live(|key, seg, row| {
                    if let Key::U64(k) = key {
                        content.insert(*k, seg.segment.vector_f32(row as usize).unwrap());
                    }
                });
                // The snapshot's content must be one the writer committed.
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                loop {
                    if models.lock().unwrap().contains(&content) {
                        break;
                    }
                    assert!(
                        std::time::Instant::now() < deadline,
                        "snapshot shows an uncommitted state"
                    );
                    std::thread::yield_now();
                }
                let q = rng.vector(DIM);
                let got = snap.search(&q, 7).unwrap();
                assert_eq!(got, brute_force(&content, Metric::Dot, &q, 7));
                *seen.entry(snap.generation()).or_default() += 1;
                *checks.lock().unwrap() += 1;
            }
            seen.len()
        }));
    }
    let mut rng = Rng(7);
    let mut model = Model::new();
    for round in 0..60u64 {
        let mut next = model.clone();
        let mut txn = index.begin();
        for j in 0..5 {
            let k = round * 5 + j;
            let v: Vec<f32> = (0..DIM).map(|_| (rng.below(7) as f32) - 3.0).collect();
            txn.add(Document::new(k, v.clone())).unwrap();
            next.insert(k, v);
        }
        if round % 4 == 3 {
            for _ in 0..4 {
                let victim = rng.below(round * 5);
                if txn.delete(&Key::U64(victim)).unwrap() {
                    next.remove(&victim);
                }
            }
        }
        models.lock().unwrap().push(next.clone());
        txn.commit().unwrap();
        model = next;
    }
    index.wait_for_merges();
    assert!(index.take_merge_error().is_none());
    done.store(true, Ordering::Release);
    let generations: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(*checks.lock().unwrap() > 0);
    assert!(
        generations > 3,
        "readers should have seen several generations"
    );
    assert_eq!(contents(&index), model);
    assert!(
        index.snapshot().segments().len() < 60,
        "background merges should have run"
    );
}

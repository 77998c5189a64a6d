//! The index's trained model by generation: adopted from the first large IVF-PQ segment,
//! used to encode later segments and merges, replaced by a tuned generation in a commit
//! (older snapshots keep theirs), rolled back, kept across reopen and merges, and never
//! replaced by what a crashed tuning left behind.

mod common;
use common::Rng;
use strata::dense::pq::ProductQuantizer;
use strata::{
    DenseIndex, Document, Index, IvfModel, IvfPqParams, KeyKind, Metric, Reader, Schema,
    SearchParams, TuneConfig, TunePairs,
};

const D: usize = 16;

fn clustered(n: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = Rng(seed);
    let centres: Vec<Vec<f32>> = (0..20).map(|_| rng.vector(D)).collect();
    (0..n)
        .map(|_| {
            let c = &centres[rng.below(20) as usize];
            c.iter().map(|x| x + 0.2 * rng.f32()).collect()
        })
        .collect()
}

fn schema() -> Schema {
    Schema::dense(KeyKind::U64, D as u32, Metric::Dot).with_index(DenseIndex::IvfPq(IvfPqParams {
        nlist: 8,
        m: 8,
        nbits: 4,
        balanced: false,
        residual: true,
        min_rows: 256,
    }))
}

fn add(index: &mut Index, rows: &[Vec<f32>], first_key: u64) {
    let mut txn = index.begin();
    for (i, v) in rows.iter().enumerate() {
        txn.add(Document::new(first_key + i as u64, v.clone()))
            .unwrap();
    }
    txn.commit().unwrap();
}

/// The model with every codebook value scaled: a stand-in for a tuned generation (same
/// lineage and shape, other values).
fn scaled(model: &IvfModel, by: f32) -> IvfModel {
    let pq = model.codebooks();
    let books = pq.codebooks.iter().map(|x| x * by).collect();
    model
        .with_codebooks(ProductQuantizer::from_parts(pq.dim, pq.m, pq.nbits, books))
        .unwrap()
}

/// Every row's list and codes in the IVF-PQ segments of `snap`, by key.
fn codes_by_key(snap: &strata::Snapshot) -> std::collections::HashMap<strata::Key, (u32, Vec<u8>)> {
    let mut out = std::collections::HashMap::new();
    for s in snap.segments() {
        let Some(ivf) = s.ivf() else { continue };
        let (lists, codes) = ivf.row_codes();
        let m = codes.len() / lists.len();
        for (row, l) in lists.iter().enumerate() {
            let key = s.segment.key(row).unwrap();
            out.insert(key, (*l, codes[row * m..(row + 1) * m].to_vec()));
        }
    }
    out
}

fn model_files(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("model-"))
        .collect();
    v.sort();
    v
}

#[test]
fn generations_commit_roll_back_and_survive_reopen_merge_and_a_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let data = clustered(1300, 1);
    let mut index = Index::create(tmp.path(), schema()).unwrap();
    // Too few rows to train the index's model (39 per list): no model yet.
    add(&mut index, &data[..200], 0);
    assert!(index.snapshot().model().is_none());
    add(&mut index, &data[200..1000], 200);
    let first = index.snapshot().model().cloned().expect("adopted");
    assert_eq!(model_files(tmp.path()).len(), 1);
    let snap = index.snapshot();
    assert_eq!(snap.segments()[1].ivf().unwrap().lineage(), first.lineage);

    // A later segment large enough for an IVF index is encoded with the model, not trained.
    add(&mut index, &data[1000..], 1000);
    let snap = index.snapshot();
    let third = &snap.segments()[2];
    assert_eq!(third.ivf().unwrap().lineage(), first.lineage);

    // A new generation: the old snapshot keeps the old model, new ones see the new.
    let old = index.snapshot();
    let tuned = scaled(&first, 1.05);
    index.commit_model(&tuned).unwrap();
    assert_eq!(old.model(), Some(&first));
    // Segments scored with the new generation share their centroids and codes with the
    // segment's own; only the two IVF-PQ segments' codebooks are held again.
    let books = tuned.codebooks().codebooks.len() as u64 * 8;
    assert_eq!(
        index.snapshot().resident_bytes(),
        old.resident_bytes() + 2 * books
    );
    assert_eq!(index.snapshot().model(), Some(&tuned));
    assert_eq!(
        model_files(tmp.path()).len(),
        2,
        "the previous generation is kept"
    );
    let q = &data[7];
    let p = SearchParams {
        k: 5,
        nprobe: 8,
        rerank: 0,
        exact: false,
    };
    let before = old.search_with(q, &p).unwrap().0;
    let after = index.snapshot().search_with(q, &p).unwrap().0;
    assert_ne!(
        before.iter().map(|h| h.score).collect::<Vec<_>>(),
        after.iter().map(|h| h.score).collect::<Vec<_>>(),
        "PQ scores come from the model in force"
    );
    drop(old);

    // A model of another lineage or shape is refused.
    let mut other = tuned.clone();
    other.lineage ^= 1;
    assert!(index.commit_model(&other).is_err());
    // Codes encode residuals or not: a model that reads them the other way is refused too
    // (every later open would have to reject it).
    let mut other = tuned.clone();
    other.residual = !other.residual;
    assert!(index.commit_model(&other).is_err());

    // Reopen and merge keep the tuned model; the merged segment is of its lineage, and rows
    // that were encoded with the model keep their lists and codes.
    drop(index);
    let mut index = Index::open(tmp.path()).unwrap();
    assert_eq!(index.snapshot().model(), Some(&tuned));
    let before = codes_by_key(&index.snapshot());
    assert_eq!(before.len(), 1100, "the rows of the two IVF-PQ segments");
    index.merge_all().unwrap();
    let after = codes_by_key(&index.snapshot());
    assert_eq!(after.len(), 1300);
    for (k, c) in &before {
        assert_eq!(after.get(k), Some(c), "{k:?}");
    }
    let snap = index.snapshot();
    assert_eq!(snap.segments().len(), 1);
    assert_eq!(snap.model(), Some(&tuned));
    assert_eq!(snap.segments()[0].ivf().unwrap().lineage(), tuned.lineage);
    assert_eq!(snap.num_docs(), 1300);

    // Roll back to the first generation, once.
    index.rollback_model().unwrap();
    assert_eq!(index.snapshot().model(), Some(&first));
    assert!(index.rollback_model().is_err());
    let last = index.snapshot().generation();

    // A crashed tuning: its model file written, its manifest never renamed into place.
    drop(index);
    let stray = format!("model-{:016x}.mdl", last + 1);
    std::fs::write(tmp.path().join(&stray), b"half a model").unwrap();
    std::fs::write(
        tmp.path().join(format!("MANIFEST-{:016x}.tmp", last + 1)),
        b"half a manifest",
    )
    .unwrap();
    let index = Index::open(tmp.path()).unwrap();
    assert_eq!(index.snapshot().model(), Some(&first));
    assert!(
        !model_files(tmp.path()).contains(&stray),
        "recovery removes it"
    );
    drop(index);
    let reader = Reader::open(tmp.path()).unwrap();
    assert_eq!(reader.snapshot().model(), Some(&first));
}

#[test]
fn tuning_with_mined_pairs_commits_a_better_generation_or_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = clustered(3000, 2);
    let mut index = Index::create(tmp.path(), schema()).unwrap();
    let pairs = TunePairs::Mined {
        queries: 400,
        positives: 10,
        seed: 3,
    };
    let cfg = TuneConfig {
        epochs: 3,
        negatives: 50,
        nprobe: 4,
        ..TuneConfig::default()
    };
    // No model yet: a clear error.
    let err = index
        .tune_codebooks(&pairs, &cfg, &mut |_| true)
        .unwrap_err();
    assert!(err.to_string().contains("no trained model"), "{err}");
    add(&mut index, &data, 0);
    let untuned = index.snapshot().model().cloned().unwrap();
    let mut epochs = 0;
    let report = index
        .tune_codebooks(&pairs, &cfg, &mut |_| {
            epochs += 1;
            true
        })
        .unwrap();
    assert_eq!(epochs, report.epochs.len());
    assert_eq!(report.queries, 400);
    // A generation is committed exactly when an epoch beat the untuned model.
    assert_eq!(report.generation.is_some(), report.best_epoch > 0);
    let now = index.snapshot().model().cloned().unwrap();
    match report.generation {
        Some(g) => {
            assert_eq!(index.snapshot().generation(), g);
            assert_ne!(now, untuned);
            assert_eq!(now.lineage, untuned.lineage);
        }
        None => assert_eq!(now, untuned),
    }
    // Cancelled: nothing is committed.
    let g = index.snapshot().generation();
    let report = index.tune_codebooks(&pairs, &cfg, &mut |_| false).unwrap();
    assert_eq!(report.generation, None);
    assert_eq!(index.snapshot().generation(), g);
}

/// An index that adopts another's model encodes identical vectors identically: PQ-only
/// scores of the same documents are bit-identical in both.
#[test]
fn an_index_built_with_another_index_model_scores_identically() {
    let data = clustered(1300, 4);
    let a_dir = tempfile::tempdir().unwrap();
    let mut a = Index::create(a_dir.path(), schema()).unwrap();
    add(&mut a, &data[..1000], 0);
    add(&mut a, &data[1000..], 1000);
    let model = a.snapshot().model().cloned().unwrap();

    let b_dir = tempfile::tempdir().unwrap();
    let mut b = Index::create(b_dir.path(), schema()).unwrap();
    b.adopt_model(&model).unwrap();
    assert!(b.adopt_model(&model).is_err(), "a second model is refused");
    add(&mut b, &data[1000..], 1000);
    let (sa, sb) = (a.snapshot(), b.snapshot());
    assert_eq!(sb.model(), Some(&model));
    assert_eq!(sb.segments()[0].ivf().unwrap().lineage(), model.lineage);
    let all = |k| SearchParams {
        k,
        nprobe: 8,
        rerank: 0,
        exact: false,
    };
    for q in data.iter().step_by(97) {
        let in_a: std::collections::HashMap<_, _> = sa
            .search_with(q, &all(1300))
            .unwrap()
            .0
            .into_iter()
            .map(|h| (h.key, h.score))
            .collect();
        let hits = sb.search_with(q, &all(20)).unwrap().0;
        assert_eq!(hits.len(), 20);
        for h in hits {
            assert_eq!(in_a.get(&h.key), Some(&h.score), "{:?}", h.key);
        }
    }
    // A model of another dimension is refused.
    let other = tempfile::tempdir().unwrap();
    let mut c = Index::create(
        other.path(),
        Schema::dense(KeyKind::U64, 8, Metric::Dot).with_index(DenseIndex::IvfPq(IvfPqParams {
            m: 4,
            ..IvfPqParams::default()
        })),
    )
    .unwrap();
    assert!(c.adopt_model(&model).is_err());
}

/// A calibration committed with the model: queries asking for `min_probability` return the
/// prefix of their ranking the calibration keeps (checked against the probabilities of the
/// unrestricted ranking), after reopening too; without a calibration of the query's kind, or
/// with a probability outside 0..=1, the query is refused.
#[test]
fn a_committed_calibration_cuts_queries_at_a_probability() {
    use strata::Query;
    use strata::calibrate::{Calibration, JudgedRanking};
    let tmp = tempfile::tempdir().unwrap();
    let data = clustered(1500, 5);
    let mut index = Index::create(tmp.path(), schema()).unwrap();
    add(&mut index, &data, 0);
    let ask = |snap: &strata::Snapshot, q: &[f32], depth: usize| {
        snap.query(&Query::new().vector(q.to_vec()).limit(depth))
            .unwrap()
            .hits
    };
    // Rankings of 40 hits judged "relevant" when within 0.4 of the best score.
    let snap = index.snapshot();
    let train: Vec<JudgedRanking> = data
        .iter()
        .step_by(10)
        .map(|q| {
            let scores: Vec<f32> = ask(&snap, q, 40).iter().map(|h| h.score).collect();
            let top = scores[0];
            let relevant: Vec<bool> = scores.iter().map(|&s| top - s < 0.4).collect();
            let total_relevant = relevant.iter().filter(|&&r| r).count();
            JudgedRanking {
                scores,
                relevant,
                total_relevant,
            }
        })
        .collect();
    let cal = Calibration::fit(&train, 0).unwrap();
    assert_eq!(cal.depth, 40);
    let q = data[3].clone();
    let err = snap
        .query(&Query::new().vector(q.clone()).min_probability(0.5))
        .unwrap_err();
    assert!(
        err.to_string().contains("calibration of dense scores"),
        "{err}"
    );
    assert!(index.commit_calibration("sideways", cal.clone()).is_err());
    index.commit_calibration("dense", cal.clone()).unwrap();
    drop(snap);
    let check = |snap: &strata::Snapshot| {
        assert_eq!(snap.model().unwrap().calibration("dense"), Some(&cal));
        let mut cut_somewhere = false;
        for q in data.iter().step_by(37) {
            let full: Vec<f32> = ask(snap, q, 40).iter().map(|h| h.score).collect();
            let want = cal.cut(&full, cal.threshold);
            let got = snap
                .query(
                    &Query::new()
                        .vector(q.clone())
                        .limit(100)
                        .min_probability(cal.threshold),
                )
                .unwrap()
                .hits;
            assert_eq!(got.len(), want);
            cut_somewhere |= want > 0 && want < full.len();
            let p = cal.probabilities(&full);
            assert!(p.windows(2).all(|w| w[0] >= w[1]));
        }
        assert!(cut_somewhere, "the threshold never cut a ranking");
        assert!(
            snap.query(&Query::new().vector(data[0].clone()).min_probability(1.5))
                .is_err()
        );
    };
    check(&index.snapshot());
    drop(index);
    check(&Reader::open(tmp.path()).unwrap().snapshot());
}

/// A model generation's commit, crashed after each of its operations (unsynced data dropped,
/// kept, or torn): the reopened index has the old model or, whenever the commit was
/// acknowledged, the new one, never a damaged one; its documents are untouched.
#[test]
fn a_model_commit_is_atomic_at_every_crash_point() {
    use common::{open_sync, options_sync};
    use std::sync::Arc;
    use strata::io::{CrashMode, Directory, FaultDirectory};
    let data = clustered(800, 6);
    let setup = |dir: &FaultDirectory| {
        let d: Arc<dyn Directory> = Arc::new(dir.clone());
        let mut index = Index::create_in(d, schema(), options_sync()).unwrap();
        add(&mut index, &data, 0);
        let first = index.snapshot().model().cloned().unwrap();
        (index, first)
    };
    let total = {
        let dir = FaultDirectory::new();
        let (mut index, first) = setup(&dir);
        dir.reset_counter();
        index.commit_model(&scaled(&first, 1.1)).unwrap();
        dir.ops()
    };
    assert!(total >= 6, "a model commit took {total} operations");
    for n in 0..=total {
        let modes = [
            CrashMode::DropUnsynced,
            CrashMode::KeepAll,
            CrashMode::Torn(n),
            CrashMode::Torn(n + 1000),
        ];
        for mode in modes {
            let dir = FaultDirectory::new();
            let (mut index, first) = setup(&dir);
            let tuned = scaled(&first, 1.1);
            dir.crash_after(n);
            let acked = index.commit_model(&tuned).is_ok();
            drop(index);
            let disk = dir.crash(mode);
            let index = open_sync(Arc::new(disk.clone())).unwrap();
            let snap = index.snapshot();
            let got = snap.model().unwrap();
            if acked {
                assert_eq!(got, &tuned, "acknowledged model lost: op {n}, {mode:?}");
            } else {
                assert!(got == &first || got == &tuned, "op {n}, {mode:?}");
            }
            assert_eq!(snap.num_docs(), 800);
            let p = SearchParams {
                k: 3,
                nprobe: 8,
                rerank: 0,
                exact: false,
            };
            assert_eq!(snap.search_with(&data[0], &p).unwrap().0.len(), 3);
        }
    }
}

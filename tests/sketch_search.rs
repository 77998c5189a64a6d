//! Exact search through the 8-bit sketch of flat segments (segments of at least 256 rows, on
//! kernel tables with the integer kernel), end to end: built through transactions with deletes,
//! reopened, and compared with a brute force over the live rows using the same float kernels.
//! The sketch only prunes, so the hits and their scores must be exactly the brute force's.

mod common;
use common::{Model, Rng, brute_force, contents};
use strata::dense::kernels;
use strata::{Document, Index, Key, KeyKind, Metric, Schema, SearchParams, VectorStorage};

/// Clustered rows with exact duplicates (ties broken by key) and a few zero rows.
fn rows(n: usize, dim: usize, rng: &mut Rng) -> Vec<Vec<f32>> {
    let centres: Vec<Vec<f32>> = (0..8).map(|_| rng.vector(dim)).collect();
    let mut out: Vec<Vec<f32>> = Vec::with_capacity(n);
    for i in 0..n {
        let v = match i % 50 {
            7 if i > 50 => out[i - 40].clone(),
            9 => vec![0.0; dim],
            _ => {
                let c = &centres[i % centres.len()];
                c.iter().map(|&x| x + 0.1 * rng.f32()).collect()
            }
        };
        out.push(v);
    }
    out
}

#[test]
fn sketched_exact_search_equals_brute_force_through_commits_deletes_and_reopen() {
    let dim = 40;
    let mut rng = Rng(2026);
    let data = rows(1500, dim, &mut rng);
    let queries: Vec<Vec<f32>> = (0..24)
        .map(|j| {
            if j % 6 == 0 {
                data[j * 31].clone()
            } else {
                rng.vector(dim)
            }
        })
        .collect();
    let uses_sketch = kernels::best().dot_u8i8_packed.is_some();
    for storage in [VectorStorage::F32, VectorStorage::F16] {
        for metric in [Metric::Dot, Metric::L2] {
            let tmp = tempfile::tempdir().unwrap();
            let schema = Schema::dense(KeyKind::U64, dim as u32, metric).with_storage(storage);
            let mut index = Index::create(tmp.path(), schema).unwrap();
            for (c, part) in data.chunks(600).enumerate() {
                let mut txn = index.begin();
                for (o, v) in part.iter().enumerate() {
                    txn.add(Document::new((c * 600 + o) as u64, v.clone()))
                        .unwrap();
                }
                txn.commit().unwrap();
            }
            let mut txn = index.begin();
            for k in (0..1500u64).step_by(7) {
                txn.delete(&Key::U64(k)).unwrap();
            }
            txn.commit().unwrap();
            drop(index);
            let index = Index::open(tmp.path()).unwrap();
            let model: Model = contents(&index);
            assert_eq!(model.len(), 1500 - 1500usize.div_ceil(7));
            let snap = index.snapshot();
            let before = snap.resident_bytes();
            let refs: Vec<&[f32]> = queries.iter().map(Vec::as_slice).collect();
            for k in [1usize, 10, 40] {
                let sp = SearchParams::exact(k);
                let batch = snap.search_batch(&refs, &sp).unwrap();
                for (q, (hits, _)) in queries.iter().zip(&batch) {
                    let want = brute_force(&model, metric, q, k);
                    assert_eq!(hits, &want, "{storage:?} {metric:?} k={k}");
                    let (one, _) = snap.search_with(q, &sp).unwrap();
                    assert_eq!(&one, hits, "{storage:?} {metric:?} k={k}: one at a time");
                }
            }
            // The sketch was built for the two segments of at least 256 rows and is counted.
            let grew = snap.resident_bytes() - before;
            if uses_sketch {
                assert!(grew >= 2 * 600 * (dim as u64 + 20), "grew by {grew}");
            } else {
                assert_eq!(grew, 0);
            }
        }
    }
}

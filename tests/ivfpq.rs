//! IVF-PQ segments end to end: recall against exact search on seeded clustered data, deletes,
//! reopen, merges, every metric, 4- and 8-bit codes.

mod common;
use common::Rng;
use std::collections::HashSet;
use strata::{
    DenseIndex, Document, Index, IvfPqParams, Key, KeyKind, Metric, Reader, Schema, SearchParams,
};

const D: usize = 32;

/// `n` points around 40 seeded cluster centres.
fn clustered(n: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = Rng(seed);
    let centres: Vec<Vec<f32>> = (0..40).map(|_| rng.vector(D)).collect();
    (0..n)
        .map(|_| {
            let c = &centres[rng.below(40) as usize];
            c.iter().map(|x| x + 0.15 * rng.f32()).collect()
        })
        .collect()
}

fn params(nbits: u8, balanced: bool) -> IvfPqParams {
    // 4-bit codes get twice the sub-quantizers so both code sizes spend 8 bytes per vector.
    let m = if nbits == 4 { 16 } else { 8 };
    IvfPqParams {
        nlist: 32,
        m,
        nbits,
        balanced,
        residual: true,
        min_rows: 1000,
    }
}

fn recall(snap: &strata::Snapshot, queries: &[Vec<f32>], p: &SearchParams) -> f64 {
    let mut hit = 0usize;
    for q in queries {
        let exact: HashSet<Key> = snap
            .search_with(q, &SearchParams::exact(10))
            .unwrap()
            .0
            .into_iter()
            .map(|h| h.key)
            .collect();
        let got = snap.search_with(q, p).unwrap().0;
        hit += got.iter().filter(|h| exact.contains(&h.key)).count();
    }
    hit as f64 / (queries.len() * 10) as f64
}

fn build(metric: Metric, p: IvfPqParams, data: &[Vec<f32>]) -> (tempfile::TempDir, Index) {
    let tmp = tempfile::tempdir().unwrap();
    let schema = Schema::dense(KeyKind::U64, D as u32, metric).with_index(DenseIndex::IvfPq(p));
    let mut index = Index::create(tmp.path(), schema).unwrap();
    let mut txn = index.begin();
    for (k, v) in data.iter().enumerate() {
        txn.add(Document::new(k as u64, v.clone())).unwrap();
    }
    txn.commit().unwrap();
    (tmp, index)
}

#[test]
fn recall_against_exact_search_for_every_metric_and_code_size() {
    let data = clustered(6000, 1);
    let queries = clustered(50, 2);
    for metric in [Metric::Dot, Metric::L2, Metric::Cosine] {
        for nbits in [4u8, 8] {
            let (_tmp, index) = build(metric, params(nbits, false), &data);
            let snap = index.snapshot();
            assert!(
                snap.segments()[0].segment.ivf().is_some(),
                "segment should be IVF-PQ"
            );
            let p = SearchParams {
                k: 10,
                nprobe: 8,
                rerank: 100,
                exact: false,
            };
            let r = recall(&snap, &queries, &p);
            assert!(r >= 0.85, "{metric:?} {nbits}-bit recall {r}");
            // Without re-ranking the PQ scores alone still find most neighbours.
            let r0 = recall(&snap, &queries, &SearchParams { rerank: 0, ..p });
            assert!(
                r0 >= 0.4,
                "{metric:?} {nbits}-bit recall without re-rank {r0}"
            );
            // Probing every list and re-ranking deeply is (almost) exact.
            let all = recall(
                &snap,
                &queries,
                &SearchParams {
                    nprobe: 32,
                    rerank: 1000,
                    ..p
                },
            );
            assert!(all >= 0.99, "{metric:?} full probe recall {all}");
        }
    }
}

#[test]
fn balanced_training_evens_list_sizes() {
    let data = clustered(6000, 3);
    let (_t1, plain) = build(Metric::Dot, params(4, false), &data);
    let (_t2, bal) = build(Metric::Dot, params(4, true), &data);
    let sp = plain.snapshot().segments()[0]
        .segment
        .ivf()
        .unwrap()
        .stats();
    let sb = bal.snapshot().segments()[0].segment.ivf().unwrap().stats();
    assert!(
        sb.list_spread < sp.list_spread,
        "balanced spread {} vs plain {}",
        sb.list_spread,
        sp.list_spread
    );
}

#[test]
fn deletes_are_honoured_and_reopen_and_merge_keep_the_index() {
    let mut data = clustered(3200, 4);
    let later = data.split_off(3000);
    let (tmp, mut index) = build(Metric::Dot, params(4, false), &data);
    let queries = clustered(20, 5);
    let p = SearchParams {
        k: 10,
        nprobe: 32,
        rerank: 300,
        exact: false,
    };
    // Delete every current top-3 hit of every query.
    let mut deleted = HashSet::new();
    let snap = index.snapshot();
    let mut txn = index.begin();
    for q in &queries {
        for h in snap.search_with(q, &p).unwrap().0.into_iter().take(3) {
            if deleted.insert(h.key.clone()) {
                txn.delete(&h.key).unwrap();
            }
        }
    }
    txn.commit().unwrap();
    let check = |snap: &strata::Snapshot| {
        for q in &queries {
            for h in snap.search_with(q, &p).unwrap().0 {
                assert!(!deleted.contains(&h.key), "deleted {:?} returned", h.key);
            }
        }
        let r = recall(snap, &queries, &p);
        assert!(r >= 0.95, "recall {r}");
    };
    check(&index.snapshot());
    // A second segment (flat, below min_rows) of rows like the first, and a merge that
    // encodes them all with the index's model (trained on the first commit).
    let mut txn = index.begin();
    for (k, v) in later.into_iter().enumerate() {
        txn.add(Document::new(10_000 + k as u64, v)).unwrap();
    }
    txn.commit().unwrap();
    check(&index.snapshot());
    index.merge_all().unwrap();
    let snap = index.snapshot();
    assert_eq!(snap.segments().len(), 1);
    assert!(snap.segments()[0].segment.ivf().is_some());
    check(&snap);
    drop(index);
    let reader = Reader::open(tmp.path()).unwrap();
    check(&reader.snapshot());
}

#[test]
fn batched_search_equals_one_query_at_a_time() {
    let data = clustered(3000, 41);
    let queries = clustered(70, 42);
    for metric in [Metric::Dot, Metric::Cosine, Metric::L2] {
        for nbits in [4u8, 8] {
            for residual in [true, false] {
                let p = IvfPqParams {
                    residual,
                    ..params(nbits, false)
                };
                let (_tmp, mut index) = build(metric, p, &data[..2500]);
                // A second, flat segment and deletes in the IVF one.
                let mut txn = index.begin();
                for (k, v) in data[2500..].iter().enumerate() {
                    txn.add(Document::new(2500 + k as u64, v.clone())).unwrap();
                }
                for k in (0..2500u64).step_by(7) {
                    txn.delete(&Key::U64(k)).unwrap();
                }
                txn.commit().unwrap();
                let snap = index.snapshot();
                let refs: Vec<&[f32]> = queries.iter().map(Vec::as_slice).collect();
                for sp in [
                    SearchParams {
                        k: 10,
                        nprobe: 4,
                        rerank: 40,
                        exact: false,
                    },
                    SearchParams {
                        k: 5,
                        nprobe: 32,
                        rerank: 0,
                        exact: false,
                    },
                    SearchParams::exact(10),
                ] {
                    let batch = snap.search_batch(&refs, &sp).unwrap();
                    assert_eq!(batch.len(), queries.len());
                    for (q, (hits, stats)) in queries.iter().zip(&batch) {
                        let (one, one_stats) = snap.search_with(q, &sp).unwrap();
                        assert_eq!(
                            hits, &one,
                            "{metric:?} nbits {nbits} residual {residual} {sp:?}"
                        );
                        assert_eq!(stats.reranked, one_stats.reranked);
                    }
                }
            }
        }
    }
}

#[test]
fn batched_flat_search_equals_one_query_at_a_time() {
    // Flat segments only, f32 and f16 storage, an odd dimension (a tail in every kernel), more
    // queries than one block of the batched scan, several blocks of rows, and deletes.
    let dim = 37;
    let mut rng = Rng(43);
    let rows: Vec<Vec<f32>> = (0..700).map(|_| rng.vector(dim)).collect();
    let queries: Vec<Vec<f32>> = (0..150).map(|_| rng.vector(dim)).collect();
    for storage in [strata::VectorStorage::F32, strata::VectorStorage::F16] {
        for metric in [Metric::Dot, Metric::Cosine, Metric::L2] {
            let tmp = tempfile::tempdir().unwrap();
            let schema = Schema::dense(KeyKind::U64, dim as u32, metric).with_storage(storage);
            let mut index = Index::create(tmp.path(), schema).unwrap();
            for (c, part) in rows.chunks(300).enumerate() {
                let mut txn = index.begin();
                for (o, v) in part.iter().enumerate() {
                    let k = (c * 300 + o) as u64;
                    txn.add(Document::new(k, v.clone())).unwrap();
                }
                txn.commit().unwrap();
            }
            let mut txn = index.begin();
            for k in (0..700u64).step_by(5) {
                txn.delete(&Key::U64(k)).unwrap();
            }
            txn.commit().unwrap();
            let snap = index.snapshot();
            let refs: Vec<&[f32]> = queries.iter().map(Vec::as_slice).collect();
            let sp = SearchParams::exact(10);
            let batch = snap.search_batch(&refs, &sp).unwrap();
            for (q, (hits, stats)) in queries.iter().zip(&batch) {
                let (one, one_stats) = snap.search_with(q, &sp).unwrap();
                assert_eq!(hits, &one, "{storage:?} {metric:?}");
                assert_eq!(stats.exact_rows, one_stats.exact_rows);
                assert!(
                    hits.iter()
                        .all(|h| !matches!(h.key, Key::U64(k) if k % 5 == 0))
                );
            }
        }
    }
}

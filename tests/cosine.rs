//! Cosine similarity over vectors of any finite magnitude: norms and scores must not overflow
//! f32 when a vector's components are large enough that their squares do.

mod common;
use common::Rng;
use strata::{
    DenseIndex, Document, Index, IvfPqParams, Key, KeyKind, Metric, Schema, SearchParams,
};

const D: usize = 32;

/// `base` rows of ordinary magnitude, then two rows whose components are around 1e20 (finite;
/// their squares, ~1e40, are not representable in f32), keys 5000 and 5001.
fn index_with_huge_rows(ivf: bool) -> (tempfile::TempDir, Index, Vec<f32>, Vec<f32>) {
    let mut rng = Rng(41);
    let mut schema = Schema::dense(KeyKind::U64, D as u32, Metric::Cosine);
    if ivf {
        schema = schema.with_index(DenseIndex::IvfPq(IvfPqParams {
            nlist: 16,
            m: 8,
            nbits: 8,
            balanced: false,
            residual: true,
            min_rows: 1000,
        }));
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut index = Index::create(tmp.path(), schema).unwrap();
    let mut txn = index.begin();
    for k in 0..1500u64 {
        txn.add(Document::new(k, rng.vector(D))).unwrap();
    }
    let huge: Vec<f32> = rng.vector(D).iter().map(|x| x * 1e20).collect();
    let other: Vec<f32> = rng.vector(D).iter().map(|x| x * 3e20).collect();
    assert!(huge.iter().all(|x| x.is_finite()));
    assert!(huge.iter().map(|x| x * x).any(f32::is_infinite));
    txn.add(Document::new(5000u64, huge.clone())).unwrap();
    txn.add(Document::new(5001u64, other)).unwrap();
    txn.commit().unwrap();
    let unit_scale: Vec<f32> = huge.iter().map(|x| x * 1e-20).collect();
    (tmp, index, huge, unit_scale)
}

fn assert_first(hits: &[strata::Hit], want: u64, what: &str) {
    let first = hits.first().unwrap_or_else(|| panic!("{what}: no hits"));
    assert_eq!(first.key, Key::U64(want), "{what}: {hits:?}");
    assert!(
        (first.score - 1.0).abs() < 1e-5,
        "{what}: a vector's cosine with itself is {}",
        first.score
    );
}

#[test]
fn a_vector_with_huge_components_ranks_first_for_itself_flat() {
    let (_tmp, index, huge, small) = index_with_huge_rows(false);
    let snap = index.snapshot();
    assert_first(&snap.search_exact(&huge, 5).unwrap(), 5000, "huge query");
    assert_first(
        &snap.search_exact(&small, 5).unwrap(),
        5000,
        "same direction, unit scale",
    );
    // Every score, against the huge rows or the ordinary ones, is a cosine.
    let all = snap.search_exact(&huge, 2000).unwrap();
    assert_eq!(all.len(), 1502);
    assert!(all.iter().all(|h| h.score.abs() <= 1.0 + 1e-5), "{all:?}");
}

#[test]
fn a_vector_with_huge_components_ranks_first_for_itself_ivf() {
    let (_tmp, index, huge, small) = index_with_huge_rows(true);
    let snap = index.snapshot();
    assert!(snap.segments()[0].segment.ivf().is_some(), "IVF-PQ segment");
    let p = SearchParams {
        k: 5,
        nprobe: 16,
        rerank: 50,
        exact: false,
    };
    assert_first(&snap.search_with(&huge, &p).unwrap().0, 5000, "huge query");
    assert_first(
        &snap.search_with(&small, &p).unwrap().0,
        5000,
        "unit-scale query",
    );
    assert_first(&snap.search_exact(&huge, 5).unwrap(), 5000, "exact");
}

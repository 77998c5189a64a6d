//! Corruption: flipping bits in, or truncating, any file of an index yields `Error::Corrupt`
//! naming that file (or a clear version error), never a panic and never a wrong answer.

mod common;
use common::*;
use std::sync::Arc;
use strata::io::{Directory, MemDirectory};
use strata::{
    DenseIndex, Document, Error, Index, IvfPqParams, Key, KeyKind, Metric, Reader, Schema,
};

fn build() -> MemDirectory {
    static CLEAN: std::sync::OnceLock<Vec<(String, Vec<u8>)>> = std::sync::OnceLock::new();
    let files = CLEAN.get_or_init(|| {
        let dir = build_once();
        let names = dir.list().unwrap();
        names
            .into_iter()
            .map(|n| (n.clone(), dir.read(&n).unwrap().to_vec()))
            .collect()
    });
    let dir = MemDirectory::new();
    for (name, bytes) in files {
        dir.put(name, bytes.clone());
    }
    dir
}

/// An index with every file kind: two segments (string keys; the first large enough for an
/// IVF-PQ component; stored text, text and sparse postings), deletes, a manifest.
fn build_once() -> MemDirectory {
    let dir = MemDirectory::new();
    let d: Arc<dyn Directory> = Arc::new(dir.clone());
    let ivf = IvfPqParams {
        nlist: 4,
        m: 4,
        nbits: 4,
        balanced: false,
        residual: true,
        min_rows: 0,
    };
    let schema = Schema::dense(KeyKind::Str, DIM as u32, Metric::Cosine)
        .with_index(DenseIndex::IvfPq(ivf))
        .with_text("body", strata::text::AnalyzerConfig::default(), true)
        .with_sparse("terms", 8)
        .with_attribute("year", strata::AttrKind::I64)
        .with_attribute("tags", strata::AttrKind::Keyword);
    let mut index = Index::create_in(d, schema, options_sync()).unwrap();
    let mut rng = Rng(9);
    for (batch, size) in [(0, 300), (1, 20)] {
        let mut txn = index.begin();
        for k in 0..size {
            let v = rng.vector(DIM);
            let text = common::text_of(&v);
            let sparse = vec![(format!("s{}", k % 7), 0.5 + (k % 3) as f32)];
            txn.add(
                Document::new(format!("doc-{batch}-{k}"), v)
                    .with_text("body", text)
                    .with_sparse(sparse)
                    .with_attr("year", 1990 + (k % 30) as i64)
                    .with_attr("tags", vec![format!("t{}", k % 5), format!("u{}", k % 3)]),
            )
            .unwrap();
        }
        txn.commit().unwrap();
    }
    let mut txn = index.begin();
    txn.delete(&Key::from("doc-0-3")).unwrap();
    txn.commit().unwrap();
    dir
}

fn files(dir: &MemDirectory) -> Vec<String> {
    dir.list()
        .unwrap()
        .into_iter()
        .filter(|n| n != strata::txn::LOCK_FILE)
        .collect()
}

/// Opening must fail with an error that names `file`.
fn assert_rejected(dir: &MemDirectory, file: &str, what: &str) {
    let d: Arc<dyn Directory> = Arc::new(dir.clone());
    for res in [
        Reader::open_in(d.clone()).map(|_| ()),
        open_sync(d).map(|_| ()),
    ] {
        match res {
            Err(Error::Corrupt { file: f, .. }) => assert_eq!(f, file, "{what}"),
            Err(Error::UnsupportedVersion { file: f, .. }) => assert_eq!(f, file, "{what}"),
            Err(e) => panic!("{what}: expected Corrupt naming {file}, got {e}"),
            Ok(()) => panic!("{what}: corrupt {file} was accepted"),
        }
    }
}

/// The damage tests below cover every file kind strata writes (a new kind must be added to
/// `build_once`).
#[test]
fn every_file_kind_is_present() {
    let names = files(&build());
    for kind in strata::format::FileKind::ALL {
        // The name of a file of this kind, with its id and generation stripped.
        let example = strata::segment::file_name(1, kind, 1);
        let suffix = example.rsplit_once('.').map(|(_, s)| format!(".{s}"));
        let present = match &suffix {
            Some(suffix) => names.iter().any(|n| n.ends_with(suffix.as_str())),
            None => names.iter().any(|n| n.starts_with("MANIFEST-")),
        };
        assert!(present, "no {kind:?} file ({example}) in {names:?}");
    }
}

#[test]
fn bit_flips_are_detected_in_every_file() {
    let clean = build();
    for name in files(&clean) {
        let bytes = clean.read(&name).unwrap().to_vec();
        let len = bytes.len();
        let mut positions: Vec<usize> = (0..len).step_by((len / 40).max(1)).collect();
        positions.extend(len.saturating_sub(32)..len);
        for pos in positions {
            for bit in [0u8, 7] {
                let dir = build();
                let mut bad = bytes.clone();
                bad[pos] ^= 1 << bit;
                dir.put(&name, bad);
                assert_rejected(
                    &dir,
                    &name,
                    &format!("flip bit {bit} of byte {pos} in {name}"),
                );
            }
        }
    }
}

#[test]
fn truncation_is_detected_in_every_file() {
    let clean = build();
    for name in files(&clean) {
        let bytes = clean.read(&name).unwrap().to_vec();
        for cut in [0, 1, bytes.len() / 2, bytes.len() - 33, bytes.len() - 1] {
            let dir = build();
            dir.put(&name, bytes[..cut].to_vec());
            assert_rejected(&dir, &name, &format!("truncate {name} to {cut}"));
        }
    }
}

#[test]
fn a_missing_segment_file_is_an_error_naming_it() {
    let dir = build();
    let name = files(&dir)
        .into_iter()
        .find(|n| n.ends_with(".vec"))
        .unwrap();
    dir.remove(&name).unwrap();
    let err = Reader::open_in(Arc::new(dir)).unwrap_err();
    assert!(err.to_string().contains(&name), "{err}");
}

#[test]
fn swapped_files_of_the_same_kind_are_detected() {
    let dir = build();
    let vecs: Vec<String> = files(&dir)
        .into_iter()
        .filter(|n| n.ends_with(".keys"))
        .collect();
    assert_eq!(vecs.len(), 2);
    let (a, b) = (
        dir.read(&vecs[0]).unwrap().to_vec(),
        dir.read(&vecs[1]).unwrap().to_vec(),
    );
    dir.put(&vecs[0], b);
    dir.put(&vecs[1], a);
    let d: Arc<dyn Directory> = Arc::new(dir);
    assert!(matches!(Reader::open_in(d), Err(Error::Corrupt { .. })));
}

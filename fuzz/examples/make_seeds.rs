//! Writes the seed corpora of the `segment_open` and `postings` targets to
//! `fuzz/seeds/segment_open/` and `fuzz/seeds/postings/`.
//!
//! Random bytes almost never form a vectors file and a keys file that agree with each other,
//! so the seeds are real component files written by the library: whole files and bare bodies
//! for the single-file decoders, and bundles (see the target's `Bundle`) for the segment path.
//! Run from the repository root after a format change:
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --example make_seeds
//! ```

use std::path::Path;
use std::sync::Arc;
use strata::format::TRAILER_LEN;
use strata::io::{Directory, MemDirectory};
use strata::txn::manifest;
use strata::{
    DenseIndex, Document, Index, IndexOptions, IvfPqParams, KeyKind, Metric, Schema, VectorStorage,
};

/// Writes an index with two commits (adds, then a delete and an add) and returns its files.
fn index_files(key: KeyKind, storage: VectorStorage, ivf: bool) -> Vec<(String, Vec<u8>)> {
    let dir = MemDirectory::new();
    let mut schema = Schema::dense(key, 4, Metric::Cosine).with_storage(storage);
    if ivf {
        schema = schema.with_index(DenseIndex::IvfPq(IvfPqParams {
            nlist: 2,
            m: 2,
            nbits: 4,
            balanced: false,
            residual: true,
            min_rows: 0,
        }));
    }
    let options = IndexOptions {
        background_merges: false,
        ..Default::default()
    };
    let mut index = Index::create_in(Arc::new(dir.clone()), schema, options).expect("create");
    let doc = |k: u64, x: f32| match key {
        KeyKind::U64 => Document::new(k, vec![x, 1.0, -x, 0.5]),
        KeyKind::Str => Document::new(format!("key-{k}"), vec![x, 1.0, -x, 0.5]),
    };
    // IVF-PQ indexes are built only for segments of at least 256 rows (MIN_IVF_ROWS).
    let rows = if ivf { 256 } else { 3 };
    let mut txn = index.begin();
    for k in 0..rows {
        txn.add(doc(k, (k % 7) as f32)).expect("add");
    }
    txn.commit().expect("commit");
    let mut txn = index.begin();
    txn.delete(&doc(1, 0.0).key).expect("delete");
    txn.commit().expect("commit");
    drop(index);
    let mut names = dir.list().expect("list");
    names.retain(|n| n != strata::txn::LOCK_FILE);
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let bytes = dir.read(&n).expect("read").to_vec();
            (n, bytes)
        })
        .collect()
}

fn body(file: &[u8]) -> &[u8] {
    &file[..file.len() - TRAILER_LEN]
}

fn find<'a>(files: &'a [(String, Vec<u8>)], suffix: &str) -> &'a [u8] {
    &files
        .iter()
        .find(|(n, _)| n.ends_with(suffix))
        .unwrap_or_else(|| panic!("no {suffix} file"))
        .1
}

/// A bundle: selector (even), flags (u16), part lengths, then the parts.
fn bundle(flags: u16, parts: [&[u8]; 4]) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&flags.to_le_bytes());
    for p in &parts[..3] {
        out.extend_from_slice(&(p.len() as u16).to_le_bytes());
    }
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

fn main() {
    let out = Path::new("fuzz/seeds/segment_open");
    std::fs::create_dir_all(out).expect("create the seed directory");
    let mut seeds: Vec<(String, Vec<u8>)> = Vec::new();
    // Bundle flags: bit 0 string keys, bits 1-3 sealed parts, bit 4 deletes, bits 5-6 metric
    // (1: cosine, as written here), bit 7 f16, bit 8 IVF part, bit 9 sealed, bit 10 IVF schema.
    const COSINE: u16 = 1 << 5;
    for (tag, key, storage, ivf, flag_bits) in [
        ("u64-f32", KeyKind::U64, VectorStorage::F32, false, COSINE),
        (
            "str-f16",
            KeyKind::Str,
            VectorStorage::F16,
            false,
            COSINE | 1 | 1 << 7,
        ),
        (
            "u64-ivf",
            KeyKind::U64,
            VectorStorage::Auto,
            true,
            COSINE | 0b111 << 8,
        ),
    ] {
        let files = index_files(key, storage, ivf);
        for (name, bytes) in &files {
            if ivf && !name.ends_with(".ivf") {
                continue; // the other files are like those above, only larger
            }
            let kind = match manifest::parse_manifest_name(name) {
                Some(g) => format!("manifest{g}"),
                None => name.rsplit('.').next().unwrap_or("file").to_owned(),
            };
            seeds.push((format!("{tag}-file-{kind}"), bytes.clone()));
            seeds.push((format!("{tag}-body-{kind}"), body(bytes).to_vec()));
        }
        let (v, k, d) = (
            find(&files, ".vec"),
            find(&files, ".keys"),
            find(&files, ".del"),
        );
        let i: &[u8] = if ivf { find(&files, ".ivf") } else { &[] };
        // Bits 1-3 (and 9): seal the parts; bit 4: the segment has a deletes file.
        let sealed = flag_bits | 0b1_1110 | (flag_bits & 1 << 8) << 1;
        seeds.push((
            format!("{tag}-bundle-bodies"),
            bundle(
                sealed,
                [body(v), body(k), body(d), if ivf { body(i) } else { i }],
            ),
        ));
        let unsealed = (flag_bits | 1 << 4) & !(1 << 9);
        seeds.push((
            format!("{tag}-bundle-files"),
            bundle(unsealed, [v, k, d, i]),
        ));
    }
    for (name, bytes) in &seeds {
        std::fs::write(out.join(name), bytes).expect("write a seed");
    }
    println!("wrote {} seeds to {}", seeds.len(), out.display());
    postings_seeds();
    attrs_seeds();
    filter_seeds();
}

/// Seeds of the `attrs` target: a schema selector byte (all four attributes, or only some),
/// then an attributes body written by the library.
fn attrs_seeds() {
    use strata::segment::Row;
    use strata::{AttrKind, AttrValue, Key};

    let out = Path::new("fuzz/seeds/attrs");
    std::fs::create_dir_all(out).expect("create the seed directory");
    let attrs = [
        ("lang", AttrKind::Keyword),
        ("year", AttrKind::I64),
        ("score", AttrKind::F64),
        ("tags", AttrKind::Keyword),
    ];
    let mut seeds: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, selector, rows) in [
        ("all", 0b1111u8, 12u64),
        ("numeric", 0b0110, 5),
        ("empty", 0b1001, 0),
    ] {
        let mut schema = Schema::new(KeyKind::U64).with_text("t", Default::default(), false);
        for (i, (a, kind)) in attrs.iter().enumerate() {
            if selector & (1 << i) != 0 {
                schema = schema.with_attribute(a, *kind);
            }
        }
        let rows: Vec<Row> = (0..rows)
            .map(|k| {
                let mut values = Vec::new();
                for a in schema.attributes() {
                    let v = match a.kind {
                        AttrKind::I64 => AttrValue::I64(2000 + (k as i64 * 7) % 5),
                        AttrKind::F64 => AttrValue::F64((k as f64 - 4.0) / 2.0),
                        AttrKind::Keyword => AttrValue::Keywords(
                            (0..k % 3)
                                .map(|j| ["de", "en", "fr"][(k + j) as usize % 3].to_owned())
                                .collect(),
                        ),
                    };
                    if k % 4 != 3 {
                        values.push((a.index, v));
                    }
                }
                Row {
                    key: Key::U64(k),
                    vector: None,
                    text: Vec::new(),
                    sparse: Vec::new(),
                    attrs: values,
                }
            })
            .collect();
        let mut seed = vec![selector];
        seed.extend_from_slice(&strata::segment::attrs::encode(&schema, &rows));
        seeds.push((format!("attrs-{name}"), seed));
    }
    for (name, bytes) in &seeds {
        std::fs::write(out.join(name), bytes).expect("write a seed");
    }
    println!("wrote {} seeds to {}", seeds.len(), out.display());
}

/// Seeds of the `filter_parse` target: expressions using every construct.
fn filter_seeds() {
    let out = Path::new("fuzz/seeds/filter_parse");
    std::fs::create_dir_all(out).expect("create the seed directory");
    let seeds = [
        "year >= 2015 AND lang = 'en'",
        "NOT (a = 1 OR b != 'it''s') AND EXISTS c",
        "x BETWEEN -1.5 AND 2e3 OR t IN ('a', '', 'b') OR t NOT IN ()",
        "_key IN ('a', 'b') AND NOT _key = 3 AND y <> 4 AND z <= -0.25 AND w > 7",
        "((a < 1) or (b >= 2 and not c between 1 and 2))",
    ];
    for (i, s) in seeds.iter().enumerate() {
        std::fs::write(out.join(format!("expr-{i}")), s).expect("write a seed");
    }
    println!("wrote {} seeds to {}", seeds.len(), out.display());
}

/// Seeds of the `postings` target: selector byte (even: postings, odd: dictionary), then
/// for postings a u32 offset, a u16 walk seed and the postings area (two lists back to back,
/// the offset naming the second); for the dictionary, the fst bytes.
fn postings_seeds() {
    use strata::sparse::dict::TermDictBuilder;
    use strata::sparse::postings::PostingsWriter;

    let out = Path::new("fuzz/seeds/postings");
    std::fs::create_dir_all(out).expect("create the seed directory");
    let mut seeds: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, n, gap) in [("short", 5u32, 3u32), ("blocks", 300, 7), ("dense", 260, 1)] {
        let mut w = PostingsWriter::new();
        let mut area = Vec::new();
        for d in 0..3u32 {
            w.push(d * 2, 1, 10).expect("push");
        }
        w.finish(&mut area).expect("finish");
        for i in 0..n {
            w.push(i * gap + (i % 2) * (gap / 2), 1 + i % 5, 10 + i % 7)
                .expect("push");
        }
        let (offset, _) = w.finish(&mut area).expect("finish");
        let mut seed = vec![0u8];
        seed.extend_from_slice(&(offset as u32).to_le_bytes());
        seed.extend_from_slice(&0x1234u16.to_le_bytes());
        seed.extend_from_slice(&area);
        seeds.push((format!("postings-{name}"), seed));
    }
    let mut b = TermDictBuilder::new();
    for (i, t) in ["apple", "apply", "banana", "band", "bandana", "can", "cane"]
        .iter()
        .enumerate()
    {
        b.insert(t.as_bytes(), i as u64 * 100).expect("insert");
    }
    let mut seed = vec![1u8];
    seed.extend_from_slice(&b.finish().expect("finish"));
    seeds.push(("dict".into(), seed));
    for (name, bytes) in &seeds {
        std::fs::write(out.join(name), bytes).expect("write a seed");
    }
    println!("wrote {} seeds to {}", seeds.len(), out.display());
}

//! Every on-disk decoder of strata on arbitrary bytes.
//!
//! The input is read four ways:
//!
//! 1. as one whole file of each kind (manifest, keys, deletes, vectors, IVF-PQ, model,
//!    inverted index, stored fields), as it is and
//!    sealed with a valid trailer (`strata::format::seal`), so the fuzzer gets past the
//!    checksum and explores the decoders behind it;
//! 2. as a bundle of component files (see [`Bundle`]) that a manifest built here refers to
//!    with the right lengths and checksums, opened with `Segment::open`,
//!    `Segment::open_deletes`, `Reader::open_in` and `Index::open_in` (then searched, exactly
//!    and through IVF-PQ, and merged); `fuzz/seeds/segment_open/` holds real bundles, written
//!    by `fuzz/examples/make_seeds.rs`;
//! 3. as the bytes of `MANIFEST-0000000000000001` in a directory, opened by a reader;
//! 4. as a recipe for damaging a real index (see [`Damage`]): an index with a segment or two
//!    and deletes (documents with vectors, stored text and sparse weights) is written with the
//!    library, one of its files is edited, optionally
//!    resealed with a valid trailer and its manifest reference fixed up so the checksums
//!    hold, and the result is opened by a reader and a writer. This reaches the structure
//!    checks behind the checksums from valid files, where random bytes rarely get.
//!
//! The first byte chooses between 2 (even) and 4 (odd); 1 and 3 run on every input.
//!
//! Errors are expected and fine. A panic, an abort or a huge allocation is a bug; so is a
//! decoder that accepts bytes and then breaks one of its own stated invariants (checked with
//! `assert!` below: round trips of what decoded, view lengths, live counts, hit counts).
//!
//! What strata promises, and so all this harness asserts: open checks structure and
//! checksums; damage yields a typed `Error::Corrupt`, never a panic and never a silently wrong
//! answer. It does not promise that everything an open accepted can later be read: the
//! contents of compressed stored-field blocks are decoded only when read, so a file whose
//! checksum was forged over damaged contents (path 4 reseals and fixes references) opens, and
//! a search, a stored-text lookup or a merge that reads it then fails with `Error::Corrupt`
//! (see [`damage_found_on_read`]).

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;
use strata::dense::ivf::{IvfModel, IvfPq};
use strata::format::{FileKind, TRAILER_LEN, checksum, seal, unseal};
use strata::io::{Directory, FileBytes, MemDirectory};
use strata::segment::inverted::InvertedIndex;
use strata::segment::stored::StoredFields;
use strata::segment::{
    self, ComponentRef, Segment, SegmentMeta, VectorsView, deletes, keys, vectors,
};
use strata::sparse::{DocCursor, TERMINATED};
use strata::text::AnalyzerConfig;
use strata::txn::manifest::{self, Manifest};
use strata::{
    DenseIndex, Document, Error, Index, IndexOptions, IvfPqParams, Key, KeyKind, Metric, Reader,
    Schema, SearchParams, Snapshot, TextQuery, Vector, VectorStorage,
};

/// The name a reader looks for: generation 1.
const MANIFEST: &str = "MANIFEST-0000000000000001";

/// Row counts passed to `deletes::decode` on their own stay below this.
///
/// `deletes::decode(body, rows)` trusts `rows`: it is the segment's row count, which the engine
/// has already checked against the vectors file (4 bytes of norms per row), and the decoder
/// allocates a dense bit vector of `rows / 8` bytes. Feeding it a row count no vectors file
/// could back would only measure the allocator.
const MAX_ROWS: u64 = 1 << 24;

/// Rows whose vectors are read back one by one after a segment opened.
const MAX_ROWS_READ: usize = 4096;

fn le_u64(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(s.try_into().ok()?))
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(s.try_into().ok()?))
}

/// The body checksum recorded in a file's trailer (what a manifest reference must repeat).
fn trailer_crc(file: &[u8]) -> u32 {
    file.len()
        .checked_sub(TRAILER_LEN)
        .and_then(|at| le_u32(file, at + 8))
        .unwrap_or(0)
}

/// The file bytes as strata reads them: copied into an 8-byte aligned buffer.
fn aligned(bytes: &[u8]) -> FileBytes {
    FileBytes::copy_from(bytes)
}

fn manifest_file(bytes: &[u8]) {
    // A name that is not `MANIFEST-<g>` skips the generation-vs-name check, so bodies with
    // any generation get all the way through.
    for name in [MANIFEST, "fuzz.manifest"] {
        if let Ok(m) = Manifest::decode(name, bytes) {
            let again = Manifest::decode(name, &m.to_file_bytes());
            assert_eq!(
                again.ok().as_ref(),
                Some(&m),
                "manifest does not round-trip"
            );
            for s in &m.segments {
                assert!(s.deleted <= s.rows && s.id < m.next_segment_id);
            }
        }
    }
}

fn keys_file(bytes: &[u8]) {
    let Ok((body, _)) = unseal("k.keys", bytes, FileKind::Keys, true) else {
        return;
    };
    // The row count the body claims (after its kind byte), so the count check can pass.
    let claimed = le_u64(body, 1).unwrap_or(0);
    for kind in [KeyKind::U64, KeyKind::Str] {
        for rows in [claimed, 0, 1] {
            if let Ok(k) = keys::decode("k.keys", body, kind, rows) {
                assert_eq!(k.len() as u64, rows);
                assert!(k.iter().all(|key| key.kind() == kind));
                assert_eq!(keys::encode(kind, &k), body, "keys do not round-trip");
            }
        }
    }
}

fn deletes_file(bytes: &[u8]) {
    let Ok((body, _)) = unseal("d.del", bytes, FileKind::Deletes, true) else {
        return;
    };
    let claimed = le_u64(body, 0).unwrap_or(0);
    for rows in [claimed, 0, 64, 1 << 16] {
        if rows > MAX_ROWS {
            continue;
        }
        if let Ok(set) = deletes::decode("d.del", body, rows) {
            check_delete_set(&set, rows);
        }
    }
}

fn check_delete_set(set: &segment::DeleteSet, rows: u64) {
    assert!(set.len() <= rows);
    assert_eq!(set.is_empty(), set.bitmap().is_empty());
    for r in set.bitmap().iter().take(MAX_ROWS_READ) {
        assert!(u64::from(r) < rows, "deleted row {r} beyond {rows} rows");
        assert!(set.contains(r));
    }
}

/// The (dim, rows) a vectors body's footer claims.
fn vectors_footer(body: &[u8]) -> Option<(u32, u64)> {
    let at = body.len().checked_sub(32)?;
    Some((le_u32(body, at)?, le_u64(body, at + 8)?))
}

fn vectors_file(bytes: &[u8]) {
    let file = aligned(bytes);
    let Ok((body, _)) = unseal("v.vec", &file, FileKind::Vectors, true) else {
        return;
    };
    let (dim, rows) = vectors_footer(body).unwrap_or((1, 1));
    for (want_dim, want_rows) in [(dim as usize, rows), (4, rows), (dim as usize, 0)] {
        let Ok(layout) = vectors::decode_layout("v.vec", body, want_dim, want_rows) else {
            continue;
        };
        // decode_layout promises every region is inside the body and aligned.
        let (view, norms) = vectors::views("v.vec", body, &layout)
            .unwrap_or_else(|e| panic!("decode_layout accepted a layout views rejects: {e}"));
        let n = match view {
            VectorsView::F32(v) => v.len(),
            VectorsView::F16(v) => v.len(),
        };
        assert_eq!(n, layout.rows * layout.dim);
        assert_eq!(norms.len(), layout.rows);
    }
}

fn ivf_file(bytes: &[u8]) {
    let file = aligned(bytes);
    let Ok((body, _)) = unseal("i.ivf", &file, FileKind::Ivf, true) else {
        return;
    };
    // The header's own dimension, metric and row count, so the match checks can pass.
    let dim = le_u32(body, 0).unwrap_or(1) as usize;
    let metric = match body.get(8) {
        Some(1) => Metric::Cosine,
        Some(2) => Metric::Dot,
        _ => Metric::L2,
    };
    let rows = le_u64(body, 24).unwrap_or(0);
    let body_len = body.len();
    for (dim, rows) in [(dim, rows), (4, rows), (dim, 0)] {
        let _ = IvfPq::decode("i.ivf", &file, body_len, dim, metric, rows);
    }
}

fn model_file(bytes: &[u8]) {
    let file = aligned(bytes);
    let Ok((body, _)) = unseal("model-1.mdl", &file, FileKind::Model, true) else {
        return;
    };
    // The header's own dimension and metric (after the 8-byte lineage), so the match checks
    // can pass.
    let dim = le_u32(body, 8).unwrap_or(1) as usize;
    let metric = match body.get(16) {
        Some(1) => Metric::Cosine,
        Some(2) => Metric::Dot,
        _ => Metric::L2,
    };
    for dim in [dim, 4] {
        let mut r = strata::format::ByteReader::new("model-1.mdl", body);
        if let Ok(m) = IvfModel::decode_from(&mut r, dim, metric) {
            // What decoded encodes back to the bytes it came from.
            let mut w = strata::format::ByteWriter::new();
            m.encode_to(&mut w);
            let used = r.position();
            assert_eq!(w.into_inner(), body.get(..used).unwrap_or_default());
        }
    }
}

/// The schema the text decoders are checked against: two text fields (one stored) and a
/// sparse field.
fn text_schema() -> Schema {
    Schema::new(KeyKind::U64)
        .with_text("title", AnalyzerConfig::default(), true)
        .with_text("body", AnalyzerConfig::default(), false)
        .with_sparse("sp", 8)
}

/// Walks at most `budget` postings of every term of every field of an inverted file.
fn walk_inverted(inv: &InvertedIndex, budget: usize) {
    let mut left = budget;
    for field in 0..3u16 {
        let Some(view) = inv.field(field) else {
            continue;
        };
        for (term, off) in view.dict.stream().take(64) {
            assert_eq!(
                view.dict.get(&term),
                Some(off),
                "dictionary stream disagrees with get"
            );
            let Ok(Some(list)) = view.postings(&term) else {
                continue;
            };
            let mut c = list.cursor();
            let mut prev = None;
            let mut d = c.doc();
            while d != TERMINATED && left > 0 {
                assert!(prev.is_none_or(|p| p < d), "postings not increasing");
                prev = Some(d);
                let _ = c.freq();
                d = c.advance();
                left -= 1;
            }
        }
    }
}

fn inverted_file(bytes: &[u8]) {
    let file = aligned(bytes);
    let Ok((body, _)) = unseal("x.inv", &file, FileKind::Inverted, true) else {
        return;
    };
    let body_len = body.len();
    let schema = text_schema();
    // The row count the first text field's lengths section implies, and a small one.
    for rows in [le_u64(body, 36).unwrap_or(0) / 4, 3] {
        if let Ok(inv) = InvertedIndex::decode("x.inv", file.clone(), body_len, rows, &schema) {
            walk_inverted(&inv, 4096);
        }
    }
}

fn stored_file(bytes: &[u8]) {
    let file = aligned(bytes);
    let Ok((body, _)) = unseal("x.doc", &file, FileKind::Stored, true) else {
        return;
    };
    let body_len = body.len();
    for (rows, fields) in [(1u64, 1usize), (16, 2), (1000, 1)] {
        if let Ok(s) = StoredFields::decode("x.doc", file.clone(), body_len, rows, fields) {
            for row in [0, 1, rows.saturating_sub(1) as u32] {
                if let Ok(texts) = s.get(row) {
                    assert_eq!(texts.len(), fields);
                }
            }
        }
    }
}

/// Several component files cut from one input (after the selector byte):
///
/// ```text
/// 0     flags: bit 0 string keys, bits 1-3 seal the vectors / keys / deletes part,
///       bit 4 the segment has a deletes file, bits 5-6 metric, bit 7 f16 storage
/// 1     more flags: bit 0 the segment has an IVF-PQ file, bit 1 seal it,
///       bit 2 the schema asks for IVF-PQ segments
/// 2..4  length of the vectors part (u16 LE)
/// 4..6  length of the keys part (u16 LE)
/// 6..8  length of the deletes part (u16 LE)
/// 8..   the vectors, keys and deletes parts; the rest is the IVF-PQ part
/// ```
struct Bundle<'a> {
    flags: u16,
    vectors: &'a [u8],
    keys: &'a [u8],
    deletes: &'a [u8],
    ivf: &'a [u8],
}

impl<'a> Bundle<'a> {
    fn parse(data: &'a [u8]) -> Option<Bundle<'a>> {
        let u16_at = |at: usize| -> Option<u16> {
            Some(u16::from_le_bytes(data.get(at..at + 2)?.try_into().ok()?))
        };
        let flags = u16_at(0)?;
        let (vlen, klen, dlen) = (u16_at(2)?, u16_at(4)?, u16_at(6)?);
        let mut rest = data.get(8..)?;
        let mut cut = |n: u16| {
            let (part, tail) = rest.split_at(usize::from(n).min(rest.len()));
            rest = tail;
            part
        };
        let (vectors, keys, deletes) = (cut(vlen), cut(klen), cut(dlen));
        Some(Bundle {
            flags,
            vectors,
            keys,
            deletes,
            ivf: rest,
        })
    }

    fn bit(&self, n: u8) -> bool {
        self.flags & (1 << n) != 0
    }
}

fn component(
    dir: &MemDirectory,
    kind: FileKind,
    name: String,
    part: &[u8],
    seal_it: bool,
) -> ComponentRef {
    let file = if seal_it {
        seal(kind, part.to_vec())
    } else {
        part.to_vec()
    };
    let c = ComponentRef {
        kind,
        generation: 0,
        file: name,
        len: file.len() as u64,
        crc: trailer_crc(&file),
    };
    dir.put(&c.file, file);
    c
}

/// Path 2: a bundle of component files under a manifest that names them correctly.
fn bundle(data: &[u8]) {
    let Some(b) = Bundle::parse(data) else {
        return;
    };
    let key_kind = if b.bit(0) { KeyKind::Str } else { KeyKind::U64 };
    let metric = match (b.flags >> 5) & 3 {
        0 => Metric::Dot,
        1 => Metric::Cosine,
        _ => Metric::L2,
    };
    // Take dim and rows from the vectors footer so the manifest agrees with the file.
    let vec_body = if b.bit(1) {
        b.vectors
    } else {
        b.vectors
            .get(..b.vectors.len().saturating_sub(TRAILER_LEN))
            .unwrap_or_default()
    };
    let (dim, rows) = vectors_footer(vec_body).unwrap_or((1, 0));
    let dim = if (1..=65_536).contains(&dim) { dim } else { 1 };
    let mut schema = Schema::dense(key_kind, dim, metric);
    if b.bit(7) {
        schema = schema.with_storage(VectorStorage::F16);
    }
    if b.bit(10) {
        schema = schema.with_index(DenseIndex::IvfPq(IvfPqParams {
            nlist: 2,
            m: 1,
            nbits: 4,
            balanced: false,
            residual: true,
            min_rows: 0,
        }));
    }

    let dir = MemDirectory::new();
    let id = 1;
    let vref = component(
        &dir,
        FileKind::Vectors,
        segment::file_name(id, FileKind::Vectors, 0),
        b.vectors,
        b.bit(1),
    );
    let kref = component(
        &dir,
        FileKind::Keys,
        segment::file_name(id, FileKind::Keys, 0),
        b.keys,
        b.bit(2),
    );
    let dref = b.bit(4).then(|| {
        component(
            &dir,
            FileKind::Deletes,
            segment::file_name(id, FileKind::Deletes, 2),
            b.deletes,
            b.bit(3),
        )
    });
    let mut components = vec![vref, kref];
    if b.bit(8) {
        components.push(component(
            &dir,
            FileKind::Ivf,
            segment::file_name(id, FileKind::Ivf, 0),
            b.ivf,
            b.bit(9),
        ));
    }
    let mut meta = SegmentMeta {
        id,
        rows,
        components,
        deletes: None,
        deleted: 0,
    };

    let seg = Segment::open(&dir, &meta, &schema);
    if let Ok(seg) = &seg {
        assert_eq!(seg.rows() as u64, rows);
        assert_eq!(seg.keys().len() as u64, rows);
        assert_eq!(seg.dim(), dim as usize);
        // Keys are validated on open and decoded on demand: every row must decode.
        let all = seg.keys().to_vec();
        assert_eq!(all.len() as u64, rows, "a validated key column lost keys");
        assert!(all.iter().all(|k| k.kind() == key_kind));
        for row in 0..seg.rows().min(MAX_ROWS_READ) {
            let v = seg.vector_f32(row).expect("a row of an open segment");
            assert_eq!(v.len(), dim as usize);
        }
        assert_eq!(seg.vector_f32(seg.rows()), None);
    }
    // Only an opened segment vouches for its row count (see MAX_ROWS).
    let delete_set = match &dref {
        Some(d) if seg.is_ok() || rows <= MAX_ROWS => Segment::open_deletes(&dir, d, rows).ok(),
        _ => None,
    };
    if let Some(set) = &delete_set {
        check_delete_set(set, rows);
        // A manifest names a deletes file exactly when rows are deleted; an empty set is a
        // valid file that no manifest would refer to.
        if !set.is_empty() {
            meta.deleted = set.len();
            meta.deletes = dref.clone();
        }
    }
    let Ok(seg) = seg else {
        return;
    };
    drop(seg);

    // The whole stack over a manifest that names these files correctly.
    let m = Manifest {
        generation: 1,
        next_segment_id: id + 1,
        index_id: 1,
        schema,
        segments: vec![meta.clone()],
        model: None,
        previous_model: None,
    };
    dir.put(MANIFEST, m.to_file_bytes());
    let reader = match Reader::open_in(Arc::new(dir.clone())) {
        Ok(r) => r,
        Err(e) => panic!("segment and deletes open alone but not through a reader: {e}"),
    };
    let snap = reader.snapshot();
    assert_eq!(snap.num_docs(), meta.live());
    check_snapshot(&snap);

    // The writer's recovery path over the same files (it also rejects duplicate live keys).
    if let Ok(mut index) = Index::open_in(Arc::new(dir), options()) {
        check_writer(&mut index);
    }
}

/// Whether `e` is damage found when data was read after an open accepted its file: a typed
/// `Error::Corrupt`, as strata promises. Any other error from reading an opened index is a bug.
fn damage_found_on_read(e: &Error) -> bool {
    matches!(e, Error::Corrupt { .. })
}

fn options() -> IndexOptions {
    IndexOptions {
        background_merges: false,
        ..Default::default()
    }
}

/// What any snapshot that opened must satisfy, whatever its vectors hold.
fn check_snapshot(snap: &Snapshot) {
    let mut live = 0u64;
    snap.for_each_live(|_, s, row| {
        live += 1;
        assert!(
            s.segment.vector_f32(row as usize).is_some(),
            "live row without a vector"
        );
    });
    assert_eq!(
        live,
        snap.num_docs(),
        "for_each_live disagrees with the manifest"
    );
    if !snap.schema().text_fields().is_empty() {
        // Damaged postings may be reported as errors; they must not panic or return more
        // hits than asked, and every hit must be a live document.
        for q in [
            TextQuery::bm25("w1 w2 w3 k0", 10),
            TextQuery::sparse(vec![("s1".into(), 1.0), ("s2".into(), 0.5)], 5),
        ] {
            if let Ok(hits) = snap.search_text(&q) {
                assert!(hits.len() <= q.k);
                for h in &hits {
                    let _ = snap.stored_text(h);
                }
            }
        }
    }
    let dim = snap.schema().dense_field().map_or(1, |(d, _, _)| d);
    match snap.search_exact(&vec![0.5f32; dim], 10) {
        Ok(hits) => assert_eq!(
            hits.len() as u64,
            live.min(10),
            "search lost live documents"
        ),
        Err(e) if damage_found_on_read(&e) => {}
        Err(e) => panic!("search of a valid query failed: {e}"),
    }
    // Through the IVF-PQ indexes where segments have one: approximate, so only the count of
    // results is bounded (re-ranked, and PQ scores alone).
    for p in [
        SearchParams::new(10),
        SearchParams {
            rerank: 0,
            ..SearchParams::new(3)
        },
    ] {
        match snap.search_with(&vec![0.5f32; dim], &p) {
            Ok((hits, _)) => assert!(hits.len() <= p.k),
            Err(e) if damage_found_on_read(&e) => {}
            Err(e) => panic!("approximate search of a valid query failed: {e}"),
        }
    }
}

/// A writer that opened: no key is live twice, and merging everything keeps every document or
/// reports damage it read (then the writer keeps the state it had).
fn check_writer(index: &mut Index) {
    let snap = index.snapshot();
    let mut seen = std::collections::HashSet::<Key>::new();
    snap.for_each_live(|k, _, _| {
        assert!(
            seen.insert(k.clone()),
            "writer opened with key {k} live twice"
        );
    });
    check_snapshot(&snap);
    drop(snap);
    match index.merge_all() {
        Ok(_) => {}
        Err(e) if damage_found_on_read(&e) => {
            let mut still = std::collections::HashSet::<Key>::new();
            index.snapshot().for_each_live(|k, _, _| {
                still.insert(k.clone());
            });
            assert_eq!(still, seen, "a failed merge changed the live keys");
            return;
        }
        Err(e) => panic!("merge of an index that opened failed with a non-Corrupt error: {e}"),
    }
    let merged = index.snapshot();
    let mut after = std::collections::HashSet::<Key>::new();
    merged.for_each_live(|k, _, _| {
        after.insert(k.clone());
    });
    assert_eq!(after, seen, "merge changed the live keys");
    check_snapshot(&merged);
}

/// One edit of a file's bytes; offsets wrap around the file length.
#[derive(Arbitrary, Debug)]
enum Edit {
    Xor { at: u16, mask: u8 },
    SetU32 { at: u16, value: u32 },
    SetU64 { at: u16, value: u64 },
    Truncate { len: u16 },
    Insert { at: u16, bytes: Vec<u8> },
    Remove { at: u16, n: u8 },
}

impl Edit {
    fn apply(&self, f: &mut Vec<u8>) {
        let at = |a: u16| usize::from(a) % (f.len() + 1);
        match *self {
            Edit::Xor { at: a, mask } => {
                let i = at(a);
                if let Some(b) = f.get_mut(i) {
                    *b ^= mask;
                }
            }
            Edit::SetU32 { at: a, value } => {
                let i = at(a);
                if let Some(d) = f.get_mut(i..i + 4) {
                    d.copy_from_slice(&value.to_le_bytes());
                }
            }
            Edit::SetU64 { at: a, value } => {
                let i = at(a);
                if let Some(d) = f.get_mut(i..i + 8) {
                    d.copy_from_slice(&value.to_le_bytes());
                }
            }
            Edit::Truncate { len } => f.truncate(usize::from(len)),
            Edit::Insert { at: a, ref bytes } => {
                let i = at(a);
                f.splice(i..i, bytes.iter().copied().take(64));
            }
            Edit::Remove { at: a, n } => {
                let i = at(a);
                let j = (i + usize::from(n)).min(f.len());
                f.drain(i..j);
            }
        }
    }
}

/// A recipe for a damaged index (path 4).
#[derive(Arbitrary, Debug)]
struct Damage {
    str_keys: bool,
    dim: u8,
    metric: u8,
    storage: u8,
    /// First commit: (key, vector seed, f16).
    first: Vec<(u8, i8, bool)>,
    /// Second commit: keys to delete, then upserts.
    deletes: Vec<u8>,
    second: Vec<(u8, i8, bool)>,
    /// Which file to damage (index into the sorted file list).
    target: u8,
    edits: Vec<Edit>,
    /// Put a valid trailer on the damaged body.
    reseal: bool,
    /// Make the manifest's reference (length, checksum) match the damaged component.
    fix_reference: bool,
}

fn kind_of(name: &str) -> Option<FileKind> {
    if name.starts_with("MANIFEST-") {
        Some(FileKind::Manifest)
    } else if name.ends_with(".vec") {
        Some(FileKind::Vectors)
    } else if name.ends_with(".keys") {
        Some(FileKind::Keys)
    } else if name.ends_with(".del") {
        Some(FileKind::Deletes)
    } else if name.ends_with(".ivf") {
        Some(FileKind::Ivf)
    } else if name.ends_with(".inv") {
        Some(FileKind::Inverted)
    } else if name.ends_with(".doc") {
        Some(FileKind::Stored)
    } else if name.ends_with(".mdl") {
        Some(FileKind::Model)
    } else {
        None
    }
}

fn key(str_keys: bool, k: u8) -> Key {
    if str_keys {
        Key::Str(format!("k{}", "é".repeat(usize::from(k % 4))) + &k.to_string())
    } else {
        Key::U64(u64::from(k))
    }
}

fn vector(dim: usize, seed: i8, half: bool) -> Vector {
    let v: Vec<f32> = (0..dim)
        .map(|i| f32::from(seed.wrapping_add(i as i8)) / 4.0)
        .collect();
    if half {
        Vector::F16(v.iter().map(|&x| half::f16::from_f32(x)).collect())
    } else {
        Vector::F32(v)
    }
}

/// A document with a vector, text and sparse weights derived from `k` and `seed`.
fn text_doc(key: Key, v: Vector, k: u8, seed: i8) -> Document {
    Document::new(key, v)
        .with_text("body", format!("w{} w{} k{}", seed % 5, k % 3, k))
        .with_sparse(vec![(format!("s{}", k % 4), 1.0 + f32::from(seed).abs())])
}

/// Writes the index a recipe describes (the library must accept every step).
fn build_index(d: &Damage) -> MemDirectory {
    let dim = usize::from(d.dim % 8) + 1;
    let metric = match d.metric % 3 {
        0 => Metric::Dot,
        1 => Metric::Cosine,
        _ => Metric::L2,
    };
    let storage = match d.storage % 3 {
        0 => VectorStorage::Auto,
        1 => VectorStorage::F32,
        _ => VectorStorage::F16,
    };
    let kind = if d.str_keys {
        KeyKind::Str
    } else {
        KeyKind::U64
    };
    let schema = Schema::dense(kind, dim as u32, metric)
        .with_storage(storage)
        .with_text("body", AnalyzerConfig::default(), true)
        .with_sparse("sp", 8);
    let dir = MemDirectory::new();
    let mut index = Index::create_in(Arc::new(dir.clone()), schema, options())
        .unwrap_or_else(|e| panic!("create: {e}"));
    let mut txn = index.begin();
    for &(k, seed, half) in d.first.iter().take(64) {
        let r = txn.upsert(text_doc(
            key(d.str_keys, k),
            vector(dim, seed, half),
            k,
            seed,
        ));
        r.unwrap_or_else(|e| panic!("upsert: {e}"));
    }
    txn.commit().unwrap_or_else(|e| panic!("commit: {e}"));
    let mut txn = index.begin();
    for &k in d.deletes.iter().take(64) {
        txn.delete(&key(d.str_keys, k))
            .unwrap_or_else(|e| panic!("delete: {e}"));
    }
    for &(k, seed, half) in d.second.iter().take(64) {
        let r = txn.upsert(text_doc(
            key(d.str_keys, k),
            vector(dim, seed, half),
            k,
            seed,
        ));
        r.unwrap_or_else(|e| panic!("upsert: {e}"));
    }
    txn.commit().unwrap_or_else(|e| panic!("commit: {e}"));
    dir
}

/// Path 4: damage one file of a real index, then open it.
fn damaged_index(data: &[u8]) {
    let Ok(d) = Damage::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let dir = build_index(&d);
    let mut files: Vec<String> = dir
        .list()
        .unwrap_or_default()
        .into_iter()
        .filter(|n| kind_of(n).is_some())
        .collect();
    files.sort();
    let Some(name) = files
        .get(usize::from(d.target) % files.len().max(1))
        .cloned()
    else {
        return;
    };
    let Some(kind) = kind_of(&name) else {
        return;
    };
    let Ok(original) = dir.read(&name) else {
        return;
    };
    let mut f = original.to_vec();
    for e in d.edits.iter().take(8) {
        e.apply(&mut f);
    }
    if d.reseal {
        let body = f
            .get(..f.len().saturating_sub(TRAILER_LEN))
            .unwrap_or_default();
        f = seal(kind, body.to_vec());
    }
    let newest = manifest::list_generations(&dir)
        .ok()
        .and_then(|g| g.first().copied())
        .map(manifest::manifest_name);
    let crc = trailer_crc(&f);
    let len = f.len() as u64;
    dir.put(&name, f);
    if d.fix_reference && kind != FileKind::Manifest {
        fix_reference(&dir, newest.as_deref(), &name, len, crc);
    }
    // A reader retries when a named file is missing (a concurrent GC may have removed it);
    // a manifest edited to name other files would only make it sleep.
    if let Some(m) = newest.as_deref() {
        let names = dir.list().unwrap_or_default();
        let decoded = dir.read(m).ok().and_then(|b| Manifest::decode(m, &b).ok());
        if decoded.is_some_and(|m| m.files().iter().any(|f| !names.contains(f))) {
            return;
        }
    }
    if let Ok(r) = Reader::open_in(Arc::new(dir.clone())) {
        check_snapshot(&r.snapshot());
    }
    if let Ok(mut index) = Index::open_in(Arc::new(dir), options()) {
        check_writer(&mut index);
    }
}

/// Rewrites the newest manifest so its reference to `file` has this length and checksum.
fn fix_reference(dir: &MemDirectory, newest: Option<&str>, file: &str, len: u64, crc: u32) {
    let Some(name) = newest else { return };
    let Some(mut m) = dir
        .read(name)
        .ok()
        .and_then(|b| Manifest::decode(name, &b).ok())
    else {
        return;
    };
    for s in &mut m.segments {
        for c in s.components.iter_mut().chain(s.deletes.iter_mut()) {
            if c.file == file {
                c.len = len;
                c.crc = crc;
            }
        }
    }
    dir.put(name, m.to_file_bytes());
}

/// The input as the newest manifest of a directory.
fn manifest_in_directory(bytes: &[u8]) {
    // A reader retries (with a sleep) when a named file is missing, as if a concurrent GC had
    // removed it: skip manifests that name files this directory does not have.
    let Ok(m) = Manifest::decode(MANIFEST, bytes) else {
        return;
    };
    if m.segments.iter().any(|s| s.files().next().is_some()) {
        return;
    }
    let dir = MemDirectory::new();
    dir.put(MANIFEST, bytes.to_vec());
    if let Ok(r) = Reader::open_in(Arc::new(dir)) {
        assert_eq!(r.snapshot().num_docs(), 0);
    }
}

fuzz_target!(|data: &[u8]| {
    let sealed = |kind| seal(kind, data.to_vec());

    manifest_file(data);
    manifest_file(&sealed(FileKind::Manifest));
    keys_file(data);
    keys_file(&sealed(FileKind::Keys));
    deletes_file(data);
    deletes_file(&sealed(FileKind::Deletes));
    vectors_file(data);
    vectors_file(&sealed(FileKind::Vectors));
    ivf_file(data);
    ivf_file(&sealed(FileKind::Ivf));
    model_file(data);
    model_file(&sealed(FileKind::Model));
    inverted_file(data);
    inverted_file(&sealed(FileKind::Inverted));
    stored_file(data);
    stored_file(&sealed(FileKind::Stored));

    manifest_in_directory(data);
    manifest_in_directory(&sealed(FileKind::Manifest));

    match data.split_first() {
        Some((selector, rest)) if selector % 2 == 1 => damaged_index(rest),
        Some((_, rest)) => bundle(rest),
        None => {}
    }

    // The trailer checksum helper agrees with what seal wrote.
    let s = sealed(FileKind::Keys);
    assert_eq!(trailer_crc(&s), checksum(data));
});

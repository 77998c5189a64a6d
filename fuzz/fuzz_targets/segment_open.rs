//! Every on-disk decoder of strata on arbitrary bytes.
//!
//! The input is read three ways:
//!
//! 1. as one whole file of each kind (manifest, keys, deletes, vectors), both as it is and
//!    sealed with a valid trailer (`strata::format::seal`), so the fuzzer gets past the
//!    checksum and explores the decoders behind it;
//! 2. as a bundle of component files (see [`Bundle`]) that a manifest built here refers to
//!    with the right lengths and checksums, opened with `Segment::open`,
//!    `Segment::open_deletes`, `Reader::open_in` and `Index::open_in`;
//! 3. as the bytes of `MANIFEST-0000000000000001` in a directory, opened by a reader.
//!
//! Errors are expected and fine. A panic, an abort or a huge allocation is a bug; so is a
//! decoder that accepts bytes and then breaks one of its own stated invariants (checked with
//! `assert!` below: round trips of what decoded, view lengths, live counts, hit counts).

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::Arc;
use strata::format::{FileKind, TRAILER_LEN, checksum, seal, unseal};
use strata::io::{FileBytes, MemDirectory};
use strata::segment::{self, ComponentRef, Segment, SegmentMeta, VectorsView, deletes, keys};
use strata::segment::vectors;
use strata::txn::manifest::Manifest;
use strata::{Index, IndexOptions, Key, KeyKind, Metric, Reader, Schema, VectorStorage};

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
            assert_eq!(again.ok().as_ref(), Some(&m), "manifest does not round-trip");
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
    assert_eq!(set.is_empty(), set.len() == 0);
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

/// Several component files cut from one input:
///
/// ```text
/// 0     flags: bit 0 string keys, bits 1-3 seal the vectors / keys / deletes part,
///       bit 4 the segment has a deletes file, bits 5-6 metric, bit 7 f16 storage
/// 1..3  length of the vectors part (u16 LE)
/// 3..5  length of the keys part (u16 LE)
/// 5..   vectors part, keys part, and the rest is the deletes part
/// ```
struct Bundle<'a> {
    flags: u8,
    vectors: &'a [u8],
    keys: &'a [u8],
    deletes: &'a [u8],
}

impl<'a> Bundle<'a> {
    fn parse(data: &'a [u8]) -> Option<Bundle<'a>> {
        let (&flags, rest) = data.split_first()?;
        let vlen = usize::from(u16::from_le_bytes(rest.get(0..2)?.try_into().ok()?));
        let klen = usize::from(u16::from_le_bytes(rest.get(2..4)?.try_into().ok()?));
        let rest = rest.get(4..)?;
        let (vectors, rest) = rest.split_at(vlen.min(rest.len()));
        let (keys, deletes) = rest.split_at(klen.min(rest.len()));
        Some(Bundle {
            flags,
            vectors,
            keys,
            deletes,
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
    let mut meta = SegmentMeta {
        id,
        rows,
        components: vec![vref, kref],
        deletes: None,
        deleted: 0,
    };

    let seg = Segment::open(&dir, &meta, &schema);
    if let Ok(seg) = &seg {
        assert_eq!(seg.rows() as u64, rows);
        assert_eq!(seg.keys().len() as u64, rows);
        assert_eq!(seg.dim(), dim as usize);
        assert!(seg.keys().iter().all(|k| k.kind() == key_kind));
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
        meta.deleted = set.len();
        meta.deletes = dref.clone();
    }
    let Ok(seg) = seg else {
        return;
    };
    drop(seg);

    // The whole stack over a manifest that names these files correctly.
    let m = Manifest {
        generation: 1,
        next_segment_id: id + 1,
        schema,
        segments: vec![meta.clone()],
    };
    dir.put(MANIFEST, m.to_file_bytes());
    let reader = match Reader::open_in(Arc::new(dir.clone())) {
        Ok(r) => r,
        Err(e) => panic!("segment and deletes open alone but not through a reader: {e}"),
    };
    let snap = reader.snapshot();
    let mut live = 0u64;
    snap.for_each_live(|_, _, _| live += 1);
    assert_eq!(live, meta.live(), "for_each_live disagrees with the manifest");
    assert_eq!(snap.num_docs(), meta.live());
    let query = vec![0.5f32; dim as usize];
    let hits = snap
        .search(&query, 10)
        .unwrap_or_else(|e| panic!("search of a valid query failed: {e}"));
    assert_eq!(hits.len() as u64, live.min(10), "search lost live documents");

    // The writer's recovery path over the same files (it also rejects duplicate live keys).
    let options = IndexOptions {
        background_merges: false,
        ..Default::default()
    };
    if let Ok(index) = Index::open_in(Arc::new(dir), options) {
        let mut seen = std::collections::HashSet::<Key>::new();
        index.snapshot().for_each_live(|k, _, _| {
            assert!(seen.insert(k.clone()), "writer opened with key {k} live twice");
        });
    }
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

    manifest_in_directory(data);
    manifest_in_directory(&sealed(FileKind::Manifest));

    bundle(data);

    // The trailer checksum helper agrees with what seal wrote.
    let s = sealed(FileKind::Keys);
    assert_eq!(trailer_crc(&s), checksum(data));
});

//! `stats` and `verify`: what an index holds and whether its files are intact.
//!
//! Both open the index read-only with [`Reader::open`], which loads the newest manifest and
//! opens every segment it names, checking each component's length, trailer and checksum
//! against the manifest before a byte is used. So `verify` is "open it, and say what was
//! checked"; a damaged file surfaces as the library's `Corrupt` error naming file and offset.

use crate::ops::{key_kind_name, storage_name};
use crate::util::{dir_bytes, human_bytes, metadata_if_present};
use crate::{CliError, CliResult};
use serde_json::json;
use std::collections::HashSet;
use std::path::Path;
use strata::format::FileKind;
use strata::segment::Elem;
use strata::txn::LOCK_FILE;
use strata::txn::manifest::manifest_name;
use strata::{Error, Reader, Snapshot};

/// One component file of a segment.
struct FileStat {
    name: String,
    kind: &'static str,
    bytes: u64,
}

/// One segment as `stats` reports it.
struct SegmentStat {
    id: u64,
    rows: u64,
    live: u64,
    deleted: u64,
    elem: &'static str,
    files: Vec<FileStat>,
    /// The IVF-PQ index's shape and training quality, if the segment has one.
    ivf: Option<IvfStat>,
}

/// What `stats` reports of a segment's IVF-PQ index.
struct IvfStat {
    nlist: usize,
    m: usize,
    nbits: u8,
    balanced: bool,
    list_spread: f32,
    code_entropy: f32,
    resident: u64,
}

fn kind_name(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Manifest => "manifest",
        FileKind::Vectors => "vectors",
        FileKind::Keys => "keys",
        FileKind::Deletes => "deletes",
        FileKind::Ivf => "ivf-pq",
        FileKind::Inverted => "inverted",
        FileKind::Stored => "stored",
        FileKind::Attrs => "attrs",
        FileKind::Model => "model",
    }
}

fn elem_name(elem: Elem) -> &'static str {
    match elem {
        Elem::F32 => "f32",
        Elem::F16 => "f16",
    }
}

fn segment_stats(snap: &Snapshot) -> Vec<SegmentStat> {
    snap.segments()
        .iter()
        .map(|s| SegmentStat {
            id: s.meta.id,
            rows: s.meta.rows,
            live: s.meta.live(),
            deleted: s.meta.deleted,
            elem: elem_name(s.segment.elem()),
            ivf: s.ivf().map(|i| IvfStat {
                nlist: i.nlist(),
                m: i.m(),
                nbits: i.nbits(),
                balanced: i.balanced(),
                list_spread: i.stats().list_spread,
                code_entropy: i.stats().code_entropy,
                resident: i.resident_bytes(),
            }),
            files: s
                .meta
                .components
                .iter()
                .chain(s.meta.deletes.iter())
                .map(|c| FileStat {
                    name: c.file.clone(),
                    kind: kind_name(c.kind),
                    bytes: c.len,
                })
                .collect(),
        })
        .collect()
}

/// Length of the manifest file of `snap`'s generation, as the snapshot recorded it when it
/// loaded the manifest. Stat'ing `MANIFEST-<g>` by name instead races with a writer in another
/// process, whose next commit removes that file.
fn manifest_bytes(snap: &Snapshot) -> u64 {
    snap.manifest_len()
}

/// `strata stats`: generation, segments, documents, bytes on disk and in memory.
pub fn stats(dir: &Path, as_json: bool) -> CliResult {
    let reader = Reader::open(dir)?;
    let snap = reader.snapshot();
    let schema = snap.schema();
    let dense = schema.dense_field();
    let text_fields: Vec<String> = schema
        .text_fields()
        .iter()
        .map(|f| format!("{}{}", f.name, if f.stored { " (stored)" } else { "" }))
        .collect();
    let sparse = schema
        .sparse_field()
        .map(|(_, n, bits)| (n.to_owned(), bits));
    let attributes: Vec<String> = schema
        .attributes()
        .iter()
        .map(|a| format!("{}:{}", a.name, a.kind.name()))
        .collect();
    let segs = segment_stats(&snap);
    let live: u64 = segs.iter().map(|s| s.live).sum();
    let deleted: u64 = segs.iter().map(|s| s.deleted).sum();
    let manifest = manifest_bytes(&snap);
    let index_bytes = manifest
        + segs
            .iter()
            .flat_map(|s| s.files.iter().map(|f| f.bytes))
            .sum::<u64>();
    let (files, disk) = dir_bytes(dir)?;
    let resident = snap.resident_bytes();
    let mapped: u64 = snap
        .segments()
        .iter()
        .map(|s| s.segment.vector_file_bytes())
        .sum();
    if as_json {
        let seg_json: Vec<_> = segs
            .iter()
            .map(|s| {
                json!({
                    "id": s.id, "rows": s.rows, "live": s.live, "deleted": s.deleted,
                    "elem": s.elem,
                    "ivf": s.ivf.as_ref().map(|i| json!({
                        "nlist": i.nlist, "m": i.m, "nbits": i.nbits, "balanced": i.balanced,
                        "list_spread": i.list_spread, "code_entropy_bits": i.code_entropy,
                        "resident_bytes": i.resident,
                    })),
                    "files": s.files.iter().map(|f| json!({
                        "file": f.name, "kind": f.kind, "bytes": f.bytes,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let out = json!({
            "path": dir.display().to_string(),
            "generation": snap.generation(),
            "dim": dense.map(|d| d.0),
            "metric": dense.map(|d| d.1.name()),
            "key": key_kind_name(schema.key),
            "storage": dense.map(|d| storage_name(d.2)),
            "text_fields": text_fields,
            "sparse_field": sparse.as_ref().map(|s| json!({"name": s.0, "impact_bits": s.1})),
            "attributes": attributes,
            "segments": seg_json,
            "live_docs": live,
            "deleted_docs": deleted,
            "files": files,
            "disk_bytes": disk,
            "index_bytes": index_bytes,
            "resident_bytes": resident,
            "mapped_bytes": mapped,
        });
        out!("{out}")?;
        return Ok(());
    }
    out!("index       {}", dir.display())?;
    let mut parts = Vec::new();
    if let Some((dim, metric, storage)) = dense {
        parts.push(format!(
            "dim {dim}, metric {}, storage {}",
            metric.name(),
            storage_name(storage)
        ));
    }
    if !text_fields.is_empty() {
        parts.push(format!("text {}", text_fields.join(", ")));
    }
    if let Some((name, bits)) = &sparse {
        parts.push(format!("sparse {name} ({bits}-bit impacts)"));
    }
    if !attributes.is_empty() {
        parts.push(format!("attributes {}", attributes.join(", ")));
    }
    parts.push(format!("{} keys", key_kind_name(schema.key)));
    out!("schema      {}", parts.join("; "))?;
    out!("generation  {}", snap.generation())?;
    out!("documents   {live} live, {deleted} deleted")?;
    out!(
        "disk        {} in {files} files ({} named by the newest manifest)",
        human_bytes(disk),
        human_bytes(index_bytes)
    )?;
    out!(
        "memory      {} resident (IVF-PQ memory tier, delete sets); {} mapped (vector files)",
        human_bytes(resident),
        human_bytes(mapped)
    )?;
    out!("segments    {}", segs.len())?;
    for s in &segs {
        out!(
            "  segment {}: {} rows, {} live, {} deleted, {}",
            s.id,
            s.rows,
            s.live,
            s.deleted,
            s.elem
        )?;
        if let Some(i) = &s.ivf {
            out!(
                "    ivf-pq   nlist {}, m {} x {} bits, {}; list spread (max/mean) {:.3}, \
                 code entropy {:.3} of {} bits; {} resident",
                i.nlist,
                i.m,
                i.nbits,
                if i.balanced { "balanced" } else { "plain" },
                i.list_spread,
                i.code_entropy,
                i.nbits,
                human_bytes(i.resident)
            )?;
        }
        for f in &s.files {
            out!(
                "    {:<8} {:<42} {:>12} B  ({})",
                f.kind,
                f.name,
                f.bytes,
                human_bytes(f.bytes)
            )?;
        }
    }
    Ok(())
}

/// `strata verify`: opens the index read-only (verifying every checksum of every file the
/// newest manifest names) and lists files in the directory that it does not name.
pub fn verify(dir: &Path) -> CliResult {
    let reader = Reader::open(dir).map_err(|e| CliError::Failed(format!("verify failed: {e}")))?;
    let snap = reader.snapshot();
    let manifest = manifest_name(snap.generation());
    let mut expected: HashSet<String> = HashSet::new();
    expected.insert(manifest.clone());
    expected.insert(LOCK_FILE.to_owned());
    let mut checked_files = 1;
    let mut checked_bytes = manifest_bytes(&snap);
    for s in snap.segments() {
        for c in s.meta.components.iter().chain(s.meta.deletes.iter()) {
            expected.insert(c.file.clone());
            checked_files += 1;
            checked_bytes += c.len;
        }
    }
    let name = Error::path_string(dir);
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("list", name.clone(), e))?;
    let mut strays = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list", name.clone(), e))?;
        let file = entry.file_name().to_string_lossy().into_owned();
        // A stray that vanished since the listing (a writer's GC removed it) is simply gone.
        if !expected.contains(&file)
            && let Some(meta) = metadata_if_present(&entry.path())?
        {
            strays.push((file, meta.len()));
        }
    }
    strays.sort();
    out!(
        "OK: generation {}, {} segments, {} live docs, {} deleted; {checked_files} files ({}) verified",
        snap.generation(),
        snap.segments().len(),
        snap.num_docs(),
        snap.segments().iter().map(|s| s.meta.deleted).sum::<u64>(),
        human_bytes(checked_bytes)
    )?;
    for (file, len) in &strays {
        let why = if file.starts_with("seg-") || file.starts_with("MANIFEST-") {
            "a strata file the newest commit does not use (left by an interrupted commit, or \
             written by a writer after this check); the next writer open removes it"
        } else {
            "not a strata file; strata never touches it"
        };
        out!("stray: {file} ({len} B): {why}")?;
    }
    if strays.is_empty() {
        out!("no stray files")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::{dir_bytes, metadata_if_present};
    use strata::{Document, Index, Key, KeyKind, Metric, Schema, Vector};

    /// An index in `dir` with two segments, one with a deleted row and a text field.
    fn small_index(dir: &Path) {
        let schema = Schema::new(KeyKind::U64)
            .with_dense("vector", 2, Metric::L2)
            .with_text("title", strata::text::AnalyzerConfig::default(), true);
        let mut index = Index::create(dir, schema).unwrap();
        for batch in 0..2u64 {
            let mut txn = index.begin();
            for k in batch * 3..batch * 3 + 3 {
                let doc = Document::new(Key::U64(k), Vector::F32(vec![k as f32, 1.0]));
                txn.add(doc.with_text("title", format!("doc {k}"))).unwrap();
            }
            txn.commit().unwrap();
        }
        let mut txn = index.begin();
        assert!(txn.delete(&Key::U64(1)).unwrap());
        txn.commit().unwrap();
    }

    #[test]
    fn the_manifest_length_comes_from_the_snapshot_not_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        small_index(tmp.path());
        let reader = Reader::open(tmp.path()).unwrap();
        let snap = reader.snapshot();
        assert!(snap.segments().iter().any(|s| s.meta.deletes.is_some()));
        let path = tmp.path().join(manifest_name(snap.generation()));
        let on_disk = std::fs::metadata(&path).unwrap().len();
        assert_eq!(manifest_bytes(&snap), on_disk);
        // A writer's next commit removes this manifest; its length is still known.
        std::fs::remove_file(&path).unwrap();
        assert_eq!(manifest_bytes(&snap), on_disk);
    }

    #[test]
    fn a_file_that_vanished_is_gone_not_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let gone = tmp.path().join("MANIFEST-00000000000000ff");
        assert!(metadata_if_present(&gone).unwrap().is_none());
        std::fs::write(&gone, b"12345").unwrap();
        assert_eq!(
            metadata_if_present(&gone).unwrap().map(|m| m.len()),
            Some(5)
        );
        assert_eq!(dir_bytes(tmp.path()).unwrap(), (1, 5));
        std::fs::remove_file(&gone).unwrap();
        assert_eq!(dir_bytes(tmp.path()).unwrap(), (0, 0));
    }
}

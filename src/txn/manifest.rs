//! The manifest: the complete description of one commit.
//!
//! `MANIFEST-<generation>` (16 hex digits) holds the schema, the next segment id, and every
//! live segment with references (name, length, checksum) to its component files and its
//! current deletes generation. The newest manifest that exists is the index; a commit is the
//! atomic rename of a fully written and synced `MANIFEST-<g>.tmp` to `MANIFEST-<g>`.

use crate::error::{Error, Result};
use crate::format::{ByteReader, ByteWriter, FileKind, FormatVersion, seal_as, unseal};
use crate::io::Directory;
use crate::schema::Schema;
use crate::segment::{ComponentRef, SegmentMeta};

/// One commit's state.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// Commit generation; strictly increasing.
    pub generation: u64,
    /// The id the next new segment gets.
    pub next_segment_id: u64,
    /// The index's id, drawn at random when the index is created (0: a format-1 manifest,
    /// written before indexes had ids). Every manifest of one index carries the same id.
    pub index_id: u128,
    /// The schema.
    pub schema: Schema,
    /// Live segments, oldest first.
    pub segments: Vec<SegmentMeta>,
    /// The index's trained IVF-PQ model in force (format 3): segments of its lineage are
    /// scored with it.
    pub model: Option<ComponentRef>,
    /// The model generation it replaced, kept so a tuning can be rolled back.
    pub previous_model: Option<ComponentRef>,
}

const PREFIX: &str = "MANIFEST-";

/// The name of generation `g`'s manifest.
pub fn manifest_name(g: u64) -> String {
    format!("{PREFIX}{g:016x}")
}

/// Parses a committed manifest name (not a `.tmp`).
pub fn parse_manifest_name(name: &str) -> Option<u64> {
    let hex = name.strip_prefix(PREFIX)?;
    if hex.len() != 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

fn kind_code(k: crate::format::FileKind) -> u16 {
    k as u16
}

fn encode_ref(w: &mut ByteWriter, c: &ComponentRef) {
    w.u16(kind_code(c.kind));
    w.u64(c.generation);
    w.str(&c.file);
    w.u64(c.len);
    w.u32(c.crc);
}

fn decode_ref(r: &mut ByteReader<'_>) -> Result<ComponentRef> {
    let code = r.u16("component kind")?;
    let kind = FileKind::from_u16(code)
        .filter(|k| *k != FileKind::Manifest)
        .ok_or_else(|| r.corrupt(format!("unknown component kind {code}")))?;
    let generation = r.u64("component generation")?;
    let file = r.str("component file")?.to_owned();
    if file.is_empty() || file.contains('/') || file.starts_with(PREFIX) {
        return Err(r.corrupt(format!("bad component file name {file:?}")));
    }
    Ok(ComponentRef {
        kind,
        generation,
        file,
        len: r.u64("component length")?,
        crc: r.u32("crc")?,
    })
}

impl Manifest {
    /// The manifest of a new, empty index.
    pub fn empty(schema: Schema) -> Manifest {
        Manifest {
            generation: 1,
            next_segment_id: 1,
            index_id: new_index_id(),
            schema,
            segments: Vec::new(),
            model: None,
            previous_model: None,
        }
    }

    /// Encodes the body (see docs/FORMAT.md). Index id 0 is a format-1 manifest, which has
    /// no id field; every other id is written as format 2 lays it out.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = ByteWriter::new();
        w.u64(self.generation);
        w.u64(self.next_segment_id);
        if self.index_id != 0 {
            w.u64(self.index_id as u64);
            w.u64((self.index_id >> 64) as u64);
        }
        let mut s = ByteWriter::new();
        self.schema.encode(&mut s);
        w.bytes(&s.into_inner());
        w.len(self.segments.len());
        for seg in &self.segments {
            w.u64(seg.id);
            w.u64(seg.rows);
            w.u64(seg.deleted);
            w.len(seg.components.len());
            for c in &seg.components {
                encode_ref(&mut w, c);
            }
            match &seg.deletes {
                Some(d) => {
                    w.u8(1);
                    encode_ref(&mut w, d);
                }
                None => w.u8(0),
            }
        }
        if self.index_id != 0 {
            for m in [&self.model, &self.previous_model] {
                match m {
                    Some(c) => {
                        w.u8(1);
                        encode_ref(&mut w, c);
                    }
                    None => w.u8(0),
                }
            }
        }
        w.into_inner()
    }

    /// Decodes and checks a manifest file (whole bytes, trailer included).
    pub fn decode(file: &str, bytes: &[u8]) -> Result<Manifest> {
        let (body, trailer) = unseal(file, bytes, FileKind::Manifest, true)?;
        let mut r = ByteReader::new(file, body);
        let generation = r.u64("generation")?;
        let next_segment_id = r.u64("next segment id")?;
        let index_id = if trailer.version >= FormatVersion::V2 {
            let lo = r.u64("index id")?;
            let hi = r.u64("index id")?;
            let id = (u128::from(hi) << 64) | u128::from(lo);
            if id == 0 {
                return Err(r.corrupt("index id 0"));
            }
            id
        } else {
            0
        };
        let schema_bytes = r.bytes("schema")?;
        let schema = Schema::decode(&mut ByteReader::new(file, schema_bytes))?;
        let n = r.len(33, "segment count")?;
        let mut segments: Vec<SegmentMeta> = Vec::with_capacity(n);
        for _ in 0..n {
            let id = r.u64("segment id")?;
            let rows = r.u64("segment rows")?;
            let deleted = r.u64("deleted rows")?;
            let nc = r.len(30, "component count")?;
            let mut components = Vec::with_capacity(nc);
            for _ in 0..nc {
                components.push(decode_ref(&mut r)?);
            }
            let deletes = match r.u8("has deletes")? {
                0 => None,
                1 => Some(decode_ref(&mut r)?),
                b => return Err(r.corrupt(format!("bad deletes flag {b}"))),
            };
            // A segment records deleted rows exactly when it names a deletes file.
            if id >= next_segment_id
                || deleted > rows
                || (deleted == 0) != deletes.is_none()
                || segments.iter().any(|s| s.id == id)
            {
                return Err(r.corrupt(format!("segment {id} is inconsistent")));
            }
            segments.push(SegmentMeta {
                id,
                rows,
                components,
                deletes,
                deleted,
            });
        }
        let mut models = [None, None];
        if trailer.version >= FormatVersion::V3 {
            for slot in &mut models {
                *slot = match r.u8("has model")? {
                    0 => None,
                    1 => {
                        let c = decode_ref(&mut r)?;
                        if c.kind != FileKind::Model
                            || c.file != crate::segment::model_file_name(c.generation)
                            || c.generation > generation
                        {
                            return Err(r.corrupt(format!("bad model reference {:?}", c.file)));
                        }
                        Some(c)
                    }
                    b => return Err(r.corrupt(format!("bad model flag {b}"))),
                };
            }
        }
        let [model, previous_model] = models;
        if model.is_none() && previous_model.is_some() {
            return Err(r.corrupt("a previous model without a model"));
        }
        r.finish("manifest")?;
        if parse_manifest_name(file).is_some_and(|g| g != generation) {
            return Err(Error::corrupt(
                file,
                0,
                format!("holds generation {generation}"),
            ));
        }
        Ok(Manifest {
            generation,
            next_segment_id,
            index_id,
            schema,
            segments,
            model,
            previous_model,
        })
    }

    /// The sealed file bytes: format 1 for index id 0 (a manifest read from a format-1
    /// index, so it reads back equal), the current format otherwise. The writer gives every
    /// index a non-zero id before its first commit, so it only ever writes the current format.
    pub fn to_file_bytes(&self) -> Vec<u8> {
        let version = if self.index_id == 0 {
            FormatVersion::V1
        } else {
            FormatVersion::CURRENT
        };
        seal_as(FileKind::Manifest, version, self.encode())
    }

    /// The length of this manifest's file.
    pub fn file_len(&self) -> u64 {
        self.to_file_bytes().len() as u64
    }

    /// Every file this manifest refers to, itself included.
    pub fn files(&self) -> Vec<String> {
        let mut out = vec![manifest_name(self.generation)];
        for s in &self.segments {
            out.extend(s.files().map(str::to_owned));
        }
        out.extend(
            [&self.model, &self.previous_model]
                .into_iter()
                .flatten()
                .map(|c| c.file.clone()),
        );
        out
    }
}

/// A new random, non-zero index id (from the standard library's randomly keyed hasher, mixed
/// with the time and the process id).
pub fn new_index_id() -> u128 {
    let id = (u128::from(crate::rng::random_id(1)) << 64) | u128::from(crate::rng::random_id(2));
    id.max(1)
}

/// Committed manifest generations present in `dir`, newest first.
pub fn list_generations(dir: &dyn Directory) -> Result<Vec<u64>> {
    let names = dir
        .list()
        .map_err(|e| Error::io("list", dir.describe(), e))?;
    let mut gens: Vec<u64> = names
        .iter()
        .filter_map(|n| parse_manifest_name(n))
        .collect();
    gens.sort_unstable_by(|a, b| b.cmp(a));
    Ok(gens)
}

/// Checks that `newest` belongs to the same index as every other committed manifest in `dir`
/// (a manifest copied in from another index, with a higher generation, would otherwise be
/// taken for this index's newest commit). Manifests that do not decode are left to the
/// checks that read them. A format-1 manifest has no id (0): it may precede manifests with an
/// id (the index was upgraded), never follow one.
pub fn check_same_index(dir: &dyn Directory, newest: &Manifest) -> Result<()> {
    for g in list_generations(dir)? {
        if g == newest.generation {
            continue;
        }
        let name = manifest_name(g);
        let Ok(bytes) = dir.read(&name) else { continue };
        let Ok(other) = Manifest::decode(&name, &bytes) else {
            continue;
        };
        let foreign = match (newest.index_id, other.index_id) {
            (_, 0) => false,
            (0, _) => true,
            (a, b) => a != b,
        };
        if foreign {
            return Err(Error::corrupt(
                manifest_name(newest.generation),
                0,
                format!(
                    "belongs to another index (id {:032x}) than {name} (id {:032x}); \
                     nothing was removed: move the manifest that is not this index's away",
                    newest.index_id, other.index_id
                ),
            ));
        }
    }
    Ok(())
}

/// Loads the newest committed manifest.
///
/// Only a renamed `MANIFEST-<g>` is a commit; `.tmp` files are never read. The newest one must
/// decode and verify: falling back to an older manifest would silently drop acknowledged
/// commits, so a damaged newest manifest is reported as `Error::Corrupt`.
pub fn load_newest(dir: &dyn Directory) -> Result<Option<Manifest>> {
    let Some(&g) = list_generations(dir)?.first() else {
        return Ok(None);
    };
    let name = manifest_name(g);
    let bytes = dir.read(&name).map_err(|e| Error::io("read", &name, e))?;
    Manifest::decode(&name, &bytes).map(Some)
}

//! Opening a segment: every component checked against the manifest and its trailer.

use super::attrs::AttrColumns;
use super::inverted::InvertedIndex;
use super::keys::KeyColumn;
use super::stored::StoredFields;
use super::{ComponentRef, DeleteSet, SegmentMeta, VectorsView, deletes, vectors};
use crate::dense::flat::sketch::Sketch;
use crate::dense::ivf::IvfPq;
use crate::error::{Error, Result};
use crate::format::{FileKind, TRAILER_LEN, unseal};
use crate::io::{Directory, FileBytes};
use crate::schema::Schema;
use crate::types::Key;

/// An open, verified, immutable segment. `Send + Sync`; shared by every snapshot that
/// includes it.
#[derive(Debug)]
pub struct Segment {
    id: u64,
    rows: usize,
    dim: usize,
    vec_file: FileBytes,
    layout: vectors::Layout,
    keys: KeyColumn,
    vec_name: String,
    ivf: Option<IvfPq>,
    inverted: Option<InvertedIndex>,
    stored: Option<StoredFields>,
    attrs: Option<AttrColumns>,
    /// The 8-bit sketch of the rows, built on the first exact scan that uses it.
    sketch: std::sync::OnceLock<Option<Sketch>>,
}

/// Reads `c` (mapping it if `map`), checks it is the file the manifest names and that its
/// trailer and checksum hold; returns the whole file bytes.
fn open_component(dir: &dyn Directory, c: &ComponentRef, map: bool) -> Result<FileBytes> {
    let bytes = if map {
        dir.map(&c.file)
    } else {
        dir.read(&c.file)
    }
    .map_err(|e| Error::io("open", &c.file, e))?;
    if bytes.len() as u64 != c.len {
        return Err(Error::corrupt(
            &c.file,
            bytes.len() as u64,
            format!("file is {} bytes, manifest says {}", bytes.len(), c.len),
        ));
    }
    let (_, t) = unseal(&c.file, &bytes, c.kind, true)?;
    if t.body_crc != c.crc {
        return Err(Error::corrupt(
            &c.file,
            0,
            "checksum differs from the manifest's",
        ));
    }
    Ok(bytes)
}

/// Opens a model generation and checks it against the schema's dense field.
pub fn open_model(
    dir: &dyn Directory,
    c: &ComponentRef,
    dim: usize,
    metric: crate::types::Metric,
) -> Result<crate::dense::ivf::IvfModel> {
    let bytes = open_component(dir, c, false)?;
    let mut r = crate::format::ByteReader::new(&c.file, body(&bytes));
    let model = crate::dense::ivf::IvfModel::decode_from(&mut r, dim, metric)?;
    r.finish("model")?;
    Ok(model)
}

/// The body (file minus trailer) of bytes already checked by `open_component`.
fn body(bytes: &FileBytes) -> &[u8] {
    bytes
        .get(..bytes.len().saturating_sub(TRAILER_LEN))
        .unwrap_or_default()
}

impl Segment {
    /// Opens the segment `meta` describes.
    pub fn open(dir: &dyn Directory, meta: &SegmentMeta, schema: &Schema) -> Result<Segment> {
        let find = |kind: FileKind| {
            meta.components
                .iter()
                .find(|c| c.kind == kind)
                .ok_or_else(|| {
                    Error::corrupt(
                        format!("segment {}", meta.id),
                        0,
                        format!("manifest lists no {kind:?} component"),
                    )
                })
        };
        let rows = usize::try_from(meta.rows).map_err(|_| {
            Error::corrupt(format!("segment {}", meta.id), 0, "row count overflows")
        })?;
        let (dim, vec_file, layout, vec_name, ivf) = match schema.dense_field() {
            Some((dim, metric, _)) => {
                let vref = find(FileKind::Vectors)?;
                let vec_file = open_component(dir, vref, true)?;
                let layout = vectors::decode_layout(&vref.file, body(&vec_file), dim, meta.rows)?;
                vectors::views(&vref.file, body(&vec_file), &layout)?;
                let ivf = match meta.components.iter().find(|c| c.kind == FileKind::Ivf) {
                    Some(c) => {
                        let bytes = open_component(dir, c, true)?;
                        let body_len = body(&bytes).len();
                        Some(IvfPq::decode(
                            &c.file, &bytes, body_len, dim, metric, meta.rows,
                        )?)
                    }
                    None => None,
                };
                (dim, vec_file, layout, vref.file.clone(), ivf)
            }
            None => {
                let layout = vectors::Layout {
                    dim: 0,
                    elem: vectors::Elem::F32,
                    rows,
                    norms_offset: 0,
                };
                (0, FileBytes::copy_from(&[]), layout, String::new(), None)
            }
        };
        let kref = find(FileKind::Keys)?;
        let kbytes = open_component(dir, kref, true)?;
        let keys = KeyColumn::open(&kref.file, kbytes, schema.key, meta.rows)?;
        let inverted = if schema.has_inverted() {
            let c = find(FileKind::Inverted)?;
            let bytes = open_component(dir, c, true)?;
            let body_len = body(&bytes).len();
            Some(InvertedIndex::decode(
                &c.file, bytes, body_len, meta.rows, schema,
            )?)
        } else {
            None
        };
        let n_stored = schema.stored_fields().len();
        let stored = if n_stored > 0 {
            let c = find(FileKind::Stored)?;
            let bytes = open_component(dir, c, true)?;
            let body_len = body(&bytes).len();
            Some(StoredFields::decode(
                &c.file, bytes, body_len, meta.rows, n_stored,
            )?)
        } else {
            None
        };
        let attrs = if schema.attributes().is_empty() {
            None
        } else {
            let c = find(FileKind::Attrs)?;
            let bytes = open_component(dir, c, false)?;
            Some(AttrColumns::decode(
                &c.file,
                body(&bytes),
                meta.rows,
                schema,
            )?)
        };
        Ok(Segment {
            id: meta.id,
            rows,
            dim,
            vec_file,
            layout,
            keys,
            vec_name,
            ivf,
            inverted,
            stored,
            attrs,
            sketch: std::sync::OnceLock::new(),
        })
    }

    /// Opens a deletes generation of a segment of `rows` rows.
    pub fn open_deletes(dir: &dyn Directory, c: &ComponentRef, rows: u64) -> Result<DeleteSet> {
        let bytes = open_component(dir, c, false)?;
        deletes::decode(&c.file, body(&bytes), rows)
    }

    /// The segment id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Rows, live and deleted.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The rows and their norms.
    pub fn vectors(&self) -> (VectorsView<'_>, &[f32]) {
        vectors::views(&self.vec_name, body(&self.vec_file), &self.layout)
            .unwrap_or((VectorsView::F32(&[]), &[]))
    }

    /// The keys, decoded on demand.
    pub fn keys(&self) -> &KeyColumn {
        &self.keys
    }

    /// The key of `row`.
    pub fn key(&self, row: usize) -> Option<Key> {
        self.keys.get(row)
    }

    /// Element type of the stored vectors.
    pub fn elem(&self) -> vectors::Elem {
        self.layout.elem
    }

    /// An f32 copy of row `row`'s vector.
    pub fn vector_f32(&self, row: usize) -> Option<Vec<f32>> {
        let d = self.dim;
        match self.vectors().0 {
            VectorsView::F32(v) => v.get(row * d..(row + 1) * d).map(|s| s.to_vec()),
            VectorsView::F16(v) => v
                .get(row * d..(row + 1) * d)
                .map(|s| s.iter().map(|x| x.to_f32()).collect()),
        }
    }

    /// The IVF-PQ index, if the segment has one.
    pub fn ivf(&self) -> Option<&IvfPq> {
        self.ivf.as_ref()
    }

    /// The inverted index of the text and sparse fields, if the schema has any.
    pub fn inverted(&self) -> Option<&InvertedIndex> {
        self.inverted.as_ref()
    }

    /// The stored fields, if the schema stores any.
    pub fn stored(&self) -> Option<&StoredFields> {
        self.stored.as_ref()
    }

    /// The metadata attributes, if the schema declares any.
    pub fn attrs(&self) -> Option<&AttrColumns> {
        self.attrs.as_ref()
    }

    /// Bytes this segment holds in process memory, as opposed to mapped file pages (keys and
    /// vectors are mapped): the IVF-PQ memory tier, if any.
    pub fn resident_bytes(&self) -> u64 {
        std::mem::size_of::<Segment>() as u64
            + self.ivf.as_ref().map_or(0, |i| i.resident_bytes())
            + self.attrs.as_ref().map_or(0, |a| a.resident_bytes())
            + self
                .sketch
                .get()
                .and_then(Option::as_ref)
                .map_or(0, Sketch::resident_bytes)
    }

    /// The 8-bit sketch of the rows (see `flat::sketch`), built from the stored rows on the
    /// first call; `None` for dimensions the sketch does not take.
    pub fn sketch(&self) -> Option<&Sketch> {
        self.sketch
            .get_or_init(|| {
                let (view, norms) = self.vectors();
                Sketch::build(view, self.dim, norms.len())
            })
            .as_ref()
    }

    /// Size of the vectors file in bytes.
    pub fn vector_file_bytes(&self) -> u64 {
        self.vec_file.len() as u64
    }
}

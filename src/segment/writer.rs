//! Writing segment component files.
//!
//! Each function writes complete files and fsyncs them, but does not sync the directory: the
//! commit protocol does that once for all new files before it writes the manifest.

use super::inverted::{self, FieldBuild};
use super::{ComponentRef, SegmentMeta, attrs, deletes, file_name, keys, stored, vectors};
use crate::dense::ivf::{IvfModel, IvfPq};
use crate::dense::kernels;
use crate::error::{Error, Result};
use crate::format::{FileKind, seal};
use crate::io::Directory;
use crate::schema::{DenseIndex, Schema, VectorStorage};
use crate::types::{Key, Vector};
use half::f16;
use roaring::RoaringBitmap;

/// One document as a segment stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The external key.
    pub key: Key,
    /// The vector (present exactly when the schema has a dense field).
    pub vector: Option<Vector>,
    /// Text by field position (several entries for one field are concatenated).
    pub text: Vec<(u16, String)>,
    /// Sparse-vector weights.
    pub sparse: Vec<(String, f32)>,
    /// Attribute values by field position (checked against the schema by the transaction).
    pub attrs: Vec<(u16, crate::types::AttrValue)>,
    /// The row's list and PQ codes under the index's model, when already known (a merge
    /// copies them from a source segment of the model's lineage): kept as they are instead
    /// of encoding the vector again, so codes that tuned codebooks were fitted to stay.
    pub codes: Option<(u32, Vec<u8>)>,
}

const CHUNK: usize = 1 << 20;

/// Segments smaller than this never get an IVF-PQ index, whatever the schema says: 8-bit
/// codebooks need at least 256 training points per sub-space.
pub const MIN_IVF_ROWS: u64 = 256;

/// Rows a segment needs for its trained centroids and codebooks to become the index's model
/// (when the index has none yet): 39 rows per list, the least k-means is trained with
/// comfortably, and the schema's IVF minimum.
pub fn model_rows(p: &crate::schema::IvfPqParams) -> u64 {
    (39 * u64::from(p.nlist)).max(p.min_rows).max(MIN_IVF_ROWS)
}

/// Rows in their storage precision, contiguous.
enum Stored {
    F32(Vec<f32>),
    F16(Vec<f16>),
}

/// Writes `bytes` to a new file `name` in chunks and fsyncs it; returns its reference. On an
/// error the partial file is removed (best effort), so a failed write (ENOSPC, EIO) does not
/// hold on to the space it took until the next open. A name that already exists is an error
/// and is left alone: it is not this write's.
fn write_component(
    dir: &dyn Directory,
    name: &str,
    kind: FileKind,
    generation: u64,
    body: Vec<u8>,
) -> Result<ComponentRef> {
    let crc = crate::format::checksum(&body);
    let bytes = seal(kind, body);
    let mut w = dir.create(name).map_err(|e| Error::io("create", name, e))?;
    let written = (|| {
        for chunk in bytes.chunks(CHUNK) {
            w.write_all(chunk)
                .map_err(|e| Error::io("write", name, e))?;
        }
        w.sync().map_err(|e| Error::io("fsync", name, e))
    })();
    if let Err(e) = written {
        drop(w);
        let _ = dir.remove(name);
        return Err(e);
    }
    Ok(ComponentRef {
        kind,
        generation,
        file: name.to_owned(),
        len: bytes.len() as u64,
        crc,
    })
}

/// Writes a new segment holding `rows` and returns what the manifest records of it. The
/// inverted fields are built from the rows' text and sparse weights unless `inverted` gives
/// them ready-made (a merge).
///
/// On an error every file this call wrote is removed (best effort): a failed commit leaves
/// nothing of its segment behind.
pub fn write_segment(
    dir: &dyn Directory,
    id: u64,
    schema: &Schema,
    rows: &[Row],
    inverted: Option<Vec<FieldBuild>>,
    model: Option<&IvfModel>,
) -> Result<SegmentMeta> {
    let mut components = Vec::new();
    let result = write_components(dir, id, schema, rows, inverted, model, &mut components);
    if let Err(e) = result {
        for c in &components {
            let _ = dir.remove(&c.file);
        }
        return Err(e);
    }
    Ok(SegmentMeta {
        id,
        rows: rows.len() as u64,
        components,
        deletes: None,
        deleted: 0,
    })
}

/// The body of [`write_segment`]: pushes each component to `components` once written.
fn write_components(
    dir: &dyn Directory,
    id: u64,
    schema: &Schema,
    rows: &[Row],
    inverted: Option<Vec<FieldBuild>>,
    model: Option<&IvfModel>,
    components: &mut Vec<ComponentRef>,
) -> Result<()> {
    if schema.dense_field().is_some() {
        write_vectors(dir, id, schema, rows, model, components)?;
    }
    let key_list: Vec<Key> = rows.iter().map(|r| r.key.clone()).collect();
    let keys_body = keys::encode(schema.key, &key_list);
    let keys_name = file_name(id, FileKind::Keys, 0);
    components.push(write_component(
        dir,
        &keys_name,
        FileKind::Keys,
        0,
        keys_body,
    )?);
    if schema.has_inverted() {
        let fields = match inverted {
            Some(f) => f,
            None => inverted::build_from_rows(schema, rows),
        };
        let body = inverted::encode(&fields, rows.len())?;
        let name = file_name(id, FileKind::Inverted, 0);
        components.push(write_component(dir, &name, FileKind::Inverted, 0, body)?);
    }
    let stored_fields = schema.stored_fields();
    if !stored_fields.is_empty() {
        let body = stored::encode(rows.iter().map(|r| {
            stored_fields
                .iter()
                .map(|&f| {
                    r.text
                        .iter()
                        .find(|(g, _)| *g == f)
                        .map_or("", |(_, t)| t.as_str())
                })
                .collect()
        }))?;
        let name = file_name(id, FileKind::Stored, 0);
        components.push(write_component(dir, &name, FileKind::Stored, 0, body)?);
    }
    if !schema.attributes().is_empty() {
        let name = file_name(id, FileKind::Attrs, 0);
        let body = attrs::encode(schema, rows);
        components.push(write_component(dir, &name, FileKind::Attrs, 0, body)?);
    }
    Ok(())
}

/// Writes the vectors component and, if the schema asks for it and the segment is big
/// enough, the IVF-PQ component: encoded with the index's `model` if it has one, else with
/// centroids and codebooks trained on these rows (a new lineage).
fn write_vectors(
    dir: &dyn Directory,
    id: u64,
    schema: &Schema,
    rows: &[Row],
    model: Option<&IvfModel>,
    components: &mut Vec<ComponentRef>,
) -> Result<()> {
    let (dim, metric, storage) = schema
        .dense_field()
        .ok_or_else(|| Error::Schema("no dense vector field".to_owned()))?;
    let missing = || Error::Schema("a row has no vector but the schema has a dense field".into());
    let all_f16 = rows
        .iter()
        .all(|r| matches!(r.vector, Some(Vector::F16(_))));
    let use_f16 = match storage {
        VectorStorage::F16 => true,
        VectorStorage::F32 => false,
        VectorStorage::Auto => all_f16,
    };
    let mut norms = Vec::with_capacity(rows.len());
    let mut upcast = vec![0f32; dim];
    let stored = if use_f16 {
        let mut data: Vec<f16> = Vec::with_capacity(rows.len() * dim);
        for r in rows {
            match r.vector.as_ref().ok_or_else(missing)? {
                Vector::F16(v) => data.extend_from_slice(v),
                Vector::F32(v) => data.extend(v.iter().map(|&x| f16::from_f32(x))),
            }
            let start = data.len().saturating_sub(dim);
            for (u, x) in upcast.iter_mut().zip(data.get(start..).unwrap_or_default()) {
                *u = x.to_f32();
            }
            norms.push(kernels::norm_f32(&upcast));
        }
        Stored::F16(data)
    } else {
        let mut data: Vec<f32> = Vec::with_capacity(rows.len() * dim);
        for r in rows {
            match r.vector.as_ref().ok_or_else(missing)? {
                Vector::F32(v) => data.extend_from_slice(v),
                Vector::F16(v) => data.extend(v.iter().map(|x| x.to_f32())),
            }
            let row = data
                .get(data.len().saturating_sub(dim)..)
                .unwrap_or_default();
            norms.push(kernels::norm_f32(row));
        }
        Stored::F32(data)
    };
    let view = match &stored {
        Stored::F32(d) => vectors::VectorsView::F32(d),
        Stored::F16(d) => vectors::VectorsView::F16(d),
    };
    let body = vectors::encode(dim, rows.len(), view, &norms);
    let vec_name = file_name(id, FileKind::Vectors, 0);
    components.push(write_component(dir, &vec_name, FileKind::Vectors, 0, body)?);
    if let DenseIndex::IvfPq(p) = schema.dense_index()
        && rows.len() as u64 >= p.min_rows.max(MIN_IVF_ROWS)
    {
        let ivf = match model {
            Some(m) => {
                let known: Vec<Option<(u32, &[u8])>> = rows
                    .iter()
                    .map(|r| r.codes.as_ref().map(|(l, c)| (*l, c.as_slice())))
                    .collect();
                IvfPq::encode_with_known(view, m, &known)?
            }
            None => IvfPq::build(view, dim, metric, &p, id)?,
        };
        let name = file_name(id, FileKind::Ivf, 0);
        components.push(write_component(dir, &name, FileKind::Ivf, 0, ivf.encode())?);
    }
    Ok(())
}

/// Writes model generation `generation` (the commit that makes it the index's model).
pub fn write_model(
    dir: &dyn Directory,
    generation: u64,
    model: &crate::dense::ivf::IvfModel,
) -> Result<ComponentRef> {
    let mut w = crate::format::ByteWriter::new();
    model.encode_to(&mut w);
    let name = file_name(0, FileKind::Model, generation);
    write_component(dir, &name, FileKind::Model, generation, w.into_inner())
}

/// Writes deletes generation `generation` for segment `id` of `rows` rows.
pub fn write_deletes(
    dir: &dyn Directory,
    id: u64,
    rows: u64,
    generation: u64,
    bitmap: &RoaringBitmap,
) -> Result<ComponentRef> {
    let name = file_name(id, FileKind::Deletes, generation);
    write_component(
        dir,
        &name,
        FileKind::Deletes,
        generation,
        deletes::encode(bitmap, rows),
    )
}

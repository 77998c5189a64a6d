//! The schema: what an index stores per document.
//!
//! Schema v1 holds an external key kind and one dense vector field. The encoding is a list of
//! tagged fields, each with length-prefixed parameters, so later field kinds (text fields, a
//! sparse-vector field, stored fields) are added as new tags without changing how older ones
//! are read, and an older build meeting a newer tag fails with a clear message instead of
//! misreading it.

use crate::error::{Error, Result};
use crate::format::{ByteReader, ByteWriter};
use crate::types::{KeyKind, Metric};

/// How a dense field stores vectors on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VectorStorage {
    /// At the precision they arrive in: a segment is f16 only if every row in it arrived as
    /// f16 (upcasting f16 to f32 is exact, so nothing is ever rounded).
    Auto,
    /// Always f32.
    F32,
    /// Always f16 (f32 input is rounded to nearest even).
    F16,
}

/// Parameters of IVF-PQ segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IvfPqParams {
    /// Number of inverted lists (coarse centroids).
    pub nlist: u32,
    /// Number of sub-quantizers.
    pub m: u32,
    /// Bits per sub-code: 4 (fast-scan) or 8.
    pub nbits: u8,
    /// Train with balanced (Sinkhorn-constrained) k-means.
    pub balanced: bool,
    /// Encode residuals to the coarse centroid (otherwise the vectors themselves).
    pub residual: bool,
    /// Segments with fewer live rows stay flat (exact).
    pub min_rows: u64,
}

impl Default for IvfPqParams {
    fn default() -> Self {
        IvfPqParams {
            nlist: 1024,
            m: 48,
            nbits: 4,
            balanced: false,
            residual: true,
            min_rows: 10_000,
        }
    }
}

/// How a dense field is indexed inside each segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DenseIndex {
    /// Exact search over the stored vectors.
    #[default]
    Flat,
    /// IVF lists of product-quantized codes in memory, full vectors on disk for re-ranking.
    IvfPq(IvfPqParams),
}

/// The kind of one field and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldKind {
    /// A dense vector of fixed dimension.
    DenseVector {
        /// Number of components.
        dim: u32,
        /// The similarity used to rank.
        metric: Metric,
        /// On-disk precision.
        storage: VectorStorage,
        /// Per-segment index.
        index: DenseIndex,
    },
}

/// A named field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field name.
    pub name: String,
    /// Its kind.
    pub kind: FieldKind,
}

/// What an index stores per document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    /// The kind of external key.
    pub key: KeyKind,
    /// The fields, in order.
    pub fields: Vec<Field>,
}

const TAG_DENSE: u16 = 1;

fn metric_code(m: Metric) -> u8 {
    match m {
        Metric::Cosine => 1,
        Metric::Dot => 2,
        Metric::L2 => 3,
    }
}

fn storage_code(s: VectorStorage) -> u8 {
    match s {
        VectorStorage::Auto => 0,
        VectorStorage::F32 => 1,
        VectorStorage::F16 => 2,
    }
}

impl Schema {
    /// A schema with one dense vector field named `vector`.
    pub fn dense(key: KeyKind, dim: u32, metric: Metric) -> Schema {
        Schema {
            key,
            fields: vec![Field {
                name: "vector".to_owned(),
                kind: FieldKind::DenseVector {
                    dim,
                    metric,
                    storage: VectorStorage::Auto,
                    index: DenseIndex::Flat,
                },
            }],
        }
    }

    /// Sets the storage of the dense field.
    pub fn with_storage(mut self, storage: VectorStorage) -> Schema {
        for f in &mut self.fields {
            let FieldKind::DenseVector { storage: s, .. } = &mut f.kind;
            *s = storage;
        }
        self
    }

    /// The dense field's (dim, metric, storage). v1 schemas always have exactly one.
    pub fn dense_field(&self) -> Option<(usize, Metric, VectorStorage)> {
        self.fields
            .iter()
            .map(|f| match f.kind {
                FieldKind::DenseVector {
                    dim,
                    metric,
                    storage,
                    ..
                } => (dim as usize, metric, storage),
            })
            .next()
    }

    /// The dense field's per-segment index.
    pub fn dense_index(&self) -> DenseIndex {
        self.fields
            .iter()
            .map(|f| match f.kind {
                FieldKind::DenseVector { index, .. } => index,
            })
            .next()
            .unwrap_or_default()
    }

    /// Sets the dense field's per-segment index.
    pub fn with_index(mut self, index: DenseIndex) -> Schema {
        for f in &mut self.fields {
            let FieldKind::DenseVector { index: i, .. } = &mut f.kind;
            *i = index;
        }
        self
    }

    /// Checks the schema is one this build can serve.
    pub fn validate(&self) -> Result<()> {
        let dense = self
            .fields
            .iter()
            .filter(|f| matches!(f.kind, FieldKind::DenseVector { .. }))
            .count();
        if dense != 1 {
            return Err(Error::Schema(format!(
                "need exactly one dense vector field, got {dense}"
            )));
        }
        for f in &self.fields {
            if f.name.is_empty() {
                return Err(Error::Schema("a field has an empty name".to_owned()));
            }
            let FieldKind::DenseVector { dim, index, .. } = f.kind;
            if let DenseIndex::IvfPq(x) = index
                && (x.nlist == 0 || x.m == 0 || x.m > dim || !matches!(x.nbits, 4 | 8) || x.m > 256)
            {
                return Err(Error::Schema(format!(
                    "field {}: IVF-PQ needs nlist ≥ 1, 1 ≤ m ≤ min(dim, 256), nbits 4 or 8 (got \
                     nlist {}, m {}, nbits {})",
                    f.name, x.nlist, x.m, x.nbits
                )));
            }
            if dim == 0 || dim > 65_536 {
                return Err(Error::Schema(format!(
                    "field {}: dimension {dim} is out of range 1..=65536",
                    f.name
                )));
            }
        }
        Ok(())
    }

    /// Appends the encoding (see docs/FORMAT.md, "Schema").
    pub fn encode(&self, w: &mut ByteWriter) {
        w.u8(match self.key {
            KeyKind::U64 => 1,
            KeyKind::Str => 2,
        });
        w.len(self.fields.len());
        for f in &self.fields {
            w.str(&f.name);
            let mut p = ByteWriter::new();
            let tag = match f.kind {
                FieldKind::DenseVector {
                    dim,
                    metric,
                    storage,
                    index,
                } => {
                    p.u32(dim);
                    p.u8(metric_code(metric));
                    p.u8(storage_code(storage));
                    match index {
                        DenseIndex::Flat => p.u8(0),
                        DenseIndex::IvfPq(x) => {
                            p.u8(1);
                            p.u32(x.nlist);
                            p.u32(x.m);
                            p.u8(x.nbits);
                            p.u8(u8::from(x.balanced));
                            p.u8(u8::from(x.residual));
                            p.u64(x.min_rows);
                        }
                    }
                    TAG_DENSE
                }
            };
            w.u16(tag);
            w.bytes(&p.into_inner());
        }
    }

    /// Decodes a schema written by [`Schema::encode`].
    pub fn decode(r: &mut ByteReader<'_>) -> Result<Schema> {
        let key = match r.u8("key kind")? {
            1 => KeyKind::U64,
            2 => KeyKind::Str,
            k => return Err(r.corrupt(format!("unknown key kind {k}"))),
        };
        let n = r.len(11, "field count")?;
        let mut fields = Vec::with_capacity(n);
        for _ in 0..n {
            let name = r.str("field name")?.to_owned();
            let tag = r.u16("field kind")?;
            let params = r.bytes("field parameters")?;
            // Parameters are decoded from their own slice so a newer, longer parameter block
            // never shifts the fields that follow.
            let mut p = ByteReader::new("schema field parameters", params);
            let kind = match tag {
                TAG_DENSE => {
                    let dim = p.u32("dimension")?;
                    let metric = match p.u8("metric")? {
                        1 => Metric::Cosine,
                        2 => Metric::Dot,
                        3 => Metric::L2,
                        m => return Err(r.corrupt(format!("field {name}: unknown metric {m}"))),
                    };
                    let storage = match p.u8("storage")? {
                        0 => VectorStorage::Auto,
                        1 => VectorStorage::F32,
                        2 => VectorStorage::F16,
                        s => return Err(r.corrupt(format!("field {name}: unknown storage {s}"))),
                    };
                    // Absent in schemas written before indexes existed: flat.
                    let index = if p.remaining() == 0 {
                        DenseIndex::Flat
                    } else {
                        match p.u8("index kind")? {
                            0 => DenseIndex::Flat,
                            1 => DenseIndex::IvfPq(IvfPqParams {
                                nlist: p.u32("nlist")?,
                                m: p.u32("m")?,
                                nbits: p.u8("nbits")?,
                                balanced: p.u8("balanced")? != 0,
                                residual: p.u8("residual")? != 0,
                                min_rows: p.u64("min rows")?,
                            }),
                            i => {
                                return Err(r.corrupt(format!("field {name}: unknown index {i}")));
                            }
                        }
                    };
                    FieldKind::DenseVector {
                        dim,
                        metric,
                        storage,
                        index,
                    }
                }
                t => {
                    return Err(r.corrupt(format!(
                        "field {name}: unknown field kind {t} (written by a newer strata?)"
                    )));
                }
            };
            fields.push(Field { name, kind });
        }
        let schema = Schema { key, fields };
        schema.validate().map_err(|e| r.corrupt(e.to_string()))?;
        Ok(schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for (key, metric, storage) in [
            (KeyKind::U64, Metric::Cosine, VectorStorage::Auto),
            (KeyKind::Str, Metric::L2, VectorStorage::F16),
            (KeyKind::U64, Metric::Dot, VectorStorage::F32),
        ] {
            let s = Schema::dense(key, 384, metric).with_storage(storage);
            let s2 = s
                .clone()
                .with_index(DenseIndex::IvfPq(IvfPqParams::default()));
            let mut w = ByteWriter::new();
            s2.encode(&mut w);
            let buf = w.into_inner();
            assert_eq!(Schema::decode(&mut ByteReader::new("m", &buf)).unwrap(), s2);
            let mut w = ByteWriter::new();
            s.encode(&mut w);
            let buf = w.into_inner();
            let mut r = ByteReader::new("m", &buf);
            assert_eq!(Schema::decode(&mut r).unwrap(), s);
            r.finish("schema").unwrap();
        }
    }

    #[test]
    fn unknown_field_kind_is_a_clear_error() {
        let mut w = ByteWriter::new();
        w.u8(1);
        w.len(1);
        w.str("body");
        w.u16(99);
        w.bytes(&[]);
        let buf = w.into_inner();
        let err = Schema::decode(&mut ByteReader::new("m", &buf)).unwrap_err();
        assert!(err.to_string().contains("unknown field kind 99"), "{err}");
    }

    #[test]
    fn zero_dimension_is_rejected() {
        assert!(
            Schema::dense(KeyKind::U64, 0, Metric::Dot)
                .validate()
                .is_err()
        );
    }
}

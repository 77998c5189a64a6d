//! Immutable segments.
//!
//! A segment is a set of checksummed component files written once and never modified:
//!
//! - `seg-<id>.vec` — the full-precision vectors and their norms ([`vectors`]);
//! - `seg-<id>.keys` — the external keys, row by row ([`keys`]);
//! - `seg-<id>.ivf` — the IVF-PQ index of the vectors, if the schema asks for one;
//! - `seg-<id>.inv` — the inverted index of the text and sparse fields ([`inverted`]);
//! - `seg-<id>.doc` — the stored text fields ([`stored`]);
//! - `seg-<id>.attr` — the metadata attributes, columns and indexes ([`attrs`]);
//! - `seg-<id>-<gen>.del` — one generation of deleted rows ([`deletes`]); a commit that
//!   deletes rows of a segment writes a new generation and the manifest points at it.
//!
//! The manifest refers to each component by a [`ComponentRef`] (kind, generation, name,
//! length, checksum), so a component can be replaced by a newer generation in a commit without
//! touching the others. [`Segment::open`] checks every component against its reference and its
//! trailer before any byte is used.

pub mod attrs;
pub mod deletes;
pub mod inverted;
pub mod keys;
pub(crate) mod live;
mod reader;
pub mod stored;
pub mod vectors;
mod writer;

pub use deletes::DeleteSet;
pub use reader::Segment;
pub use vectors::{Elem, VectorsView};
pub use reader::open_model;
pub use writer::{Row, model_rows, write_deletes, write_model, write_segment};

use crate::format::FileKind;

/// The name of the model generation written by commit `generation`.
pub fn model_file_name(generation: u64) -> String {
    format!("model-{generation:016x}.mdl")
}

/// A reference from the manifest to one component file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentRef {
    /// What the file holds.
    pub kind: FileKind,
    /// Generation of this component (0 for the files written with the segment).
    pub generation: u64,
    /// The file name.
    pub file: String,
    /// The file's total length in bytes.
    pub len: u64,
    /// The body checksum recorded in the file's trailer.
    pub crc: u32,
}

/// What the manifest records of one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentMeta {
    /// Segment id, unique within the index, never reused.
    pub id: u64,
    /// Rows in the segment (live and deleted).
    pub rows: u64,
    /// Component files other than deletes.
    pub components: Vec<ComponentRef>,
    /// The current deletes generation, if any row is deleted.
    pub deletes: Option<ComponentRef>,
    /// Number of deleted rows.
    pub deleted: u64,
}

impl SegmentMeta {
    /// Live rows.
    pub fn live(&self) -> u64 {
        self.rows.saturating_sub(self.deleted)
    }

    /// Every file this segment's current state refers to.
    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.components
            .iter()
            .chain(self.deletes.iter())
            .map(|c| c.file.as_str())
    }
}

/// Name of a segment component file.
pub fn file_name(id: u64, kind: FileKind, generation: u64) -> String {
    match kind {
        FileKind::Vectors => format!("seg-{id:016x}.vec"),
        FileKind::Keys => format!("seg-{id:016x}.keys"),
        FileKind::Ivf => format!("seg-{id:016x}.ivf"),
        FileKind::Inverted => format!("seg-{id:016x}.inv"),
        FileKind::Stored => format!("seg-{id:016x}.doc"),
        FileKind::Attrs => format!("seg-{id:016x}.attr"),
        FileKind::Deletes => format!("seg-{id:016x}-{generation:016x}.del"),
        FileKind::Manifest => format!("MANIFEST-{generation:016x}"),
        FileKind::Model => model_file_name(generation),
    }
}

//! The deletes component: which rows of a segment are deleted, as of one generation.
//!
//! Body: `rows u64` (the segment's row count, checked on open) followed by a roaring bitmap in
//! its portable serialization. In memory the set is also kept as a dense bit vector so the
//! scan tests a row with one shift and mask.

use crate::error::{Error, Result};
use crate::format::{ByteReader, ByteWriter};
use roaring::RoaringBitmap;

/// The deleted rows of one segment.
#[derive(Debug, Clone, Default)]
pub struct DeleteSet {
    bitmap: RoaringBitmap,
    dense: Vec<u64>,
}

impl DeleteSet {
    /// Builds the set from a bitmap.
    pub fn new(bitmap: RoaringBitmap, rows: u64) -> DeleteSet {
        let mut dense = vec![0u64; (rows as usize).div_ceil(64)];
        for r in &bitmap {
            if let Some(w) = dense.get_mut(r as usize / 64) {
                *w |= 1u64 << (r % 64);
            }
        }
        DeleteSet { bitmap, dense }
    }

    /// Whether `row` is deleted.
    #[inline]
    pub fn contains(&self, row: u32) -> bool {
        self.dense
            .get(row as usize / 64)
            .is_some_and(|w| w & (1u64 << (row % 64)) != 0)
    }

    /// The roaring bitmap.
    pub fn bitmap(&self) -> &RoaringBitmap {
        &self.bitmap
    }

    /// Number of deleted rows.
    pub fn len(&self) -> u64 {
        self.bitmap.len()
    }

    /// Whether no row is deleted.
    pub fn is_empty(&self) -> bool {
        self.bitmap.is_empty()
    }

    /// Bytes held in memory.
    pub fn resident_bytes(&self) -> u64 {
        (self.dense.len() * 8) as u64 + self.bitmap.serialized_size() as u64
    }
}

/// Encodes the deleted rows of a segment of `rows` rows.
pub fn encode(bitmap: &RoaringBitmap, rows: u64) -> Vec<u8> {
    let mut w = ByteWriter::new();
    w.u64(rows);
    let mut buf = Vec::with_capacity(bitmap.serialized_size());
    // Writing into a Vec cannot fail.
    if bitmap.serialize_into(&mut buf).is_ok() {
        w.raw(&buf);
    }
    w.into_inner()
}

/// Decodes a deletes body for a segment of `rows` rows.
pub fn decode(file: &str, body: &[u8], rows: u64) -> Result<DeleteSet> {
    let mut r = ByteReader::new(file, body);
    let n = r.u64("row count")?;
    if n != rows {
        return Err(r.corrupt(format!("deletes for {n} rows, segment has {rows}")));
    }
    let rest = r.take(r.remaining(), "bitmap")?;
    let bitmap = RoaringBitmap::deserialize_from(rest)
        .map_err(|e| Error::corrupt(file, 8, format!("bad roaring bitmap: {e}")))?;
    if bitmap.max().is_some_and(|m| u64::from(m) >= rows) {
        return Err(Error::corrupt(
            file,
            8,
            format!("deleted row beyond the {rows} rows"),
        ));
    }
    Ok(DeleteSet::new(bitmap, rows))
}

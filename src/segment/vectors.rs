//! The vectors component: full-precision rows and their L2 norms.
//!
//! Body layout (little-endian; the body starts at file offset 0, which is page aligned when
//! mapped, so the rows can be viewed in place):
//!
//! ```text
//! rows * dim elements (f32 or f16)     offset 0
//! zero padding to a multiple of 8
//! rows * f32 L2 norms                  offset norms_offset
//! zero padding to a multiple of 8
//! footer (32 bytes): dim u32, elem u8, 3 zero bytes, rows u64, norms_offset u64, 8 zero bytes
//! ```

use crate::error::{Error, Result};
use crate::format::{ByteReader, ByteWriter};

/// Element type of stored vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem {
    /// 32-bit floats.
    F32 = 1,
    /// 16-bit IEEE floats.
    F16 = 2,
}

impl Elem {
    /// Size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            Elem::F32 => 4,
            Elem::F16 => 2,
        }
    }
}

const FOOTER: usize = 32;

pub use crate::dense::VectorsView;

/// Encodes rows (already in their storage precision) and norms into a vectors body.
pub fn encode(dim: usize, rows: usize, view: VectorsView<'_>, norms: &[f32]) -> Vec<u8> {
    let mut w = ByteWriter::new();
    let elem = match view {
        VectorsView::F32(v) => {
            w.raw(bytemuck::cast_slice(v));
            Elem::F32
        }
        VectorsView::F16(v) => {
            w.raw(bytemuck::cast_slice(v));
            Elem::F16
        }
    };
    w.pad_to(8);
    let norms_offset = w.len_bytes() as u64;
    for &n in norms {
        w.f32(n);
    }
    w.pad_to(8);
    w.u32(dim as u32);
    w.u8(elem as u8);
    w.raw(&[0, 0, 0]);
    w.u64(rows as u64);
    w.u64(norms_offset);
    w.u64(0);
    w.into_inner()
}

/// The decoded layout of a vectors body; offsets are into the body.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// Dimension.
    pub dim: usize,
    /// Element type.
    pub elem: Elem,
    /// Row count.
    pub rows: usize,
    /// Offset of the norms.
    pub norms_offset: usize,
}

/// Checks the footer and that every region lies inside the body and is aligned.
pub fn decode_layout(file: &str, body: &[u8], want_dim: usize, want_rows: u64) -> Result<Layout> {
    let Some(foot_at) = body.len().checked_sub(FOOTER) else {
        return Err(Error::corrupt(
            file,
            0,
            "vectors body shorter than its footer",
        ));
    };
    let mut r = ByteReader::with_base(
        file,
        body.get(foot_at..).unwrap_or_default(),
        foot_at as u64,
    );
    let dim = r.u32("dimension")? as usize;
    let elem = match r.u8("element type")? {
        1 => Elem::F32,
        2 => Elem::F16,
        e => return Err(r.corrupt(format!("unknown element type {e}"))),
    };
    r.take(3, "padding")?;
    let rows = r.u64("row count")?;
    let norms_offset = r.u64("norms offset")?;
    if dim != want_dim {
        return Err(r.corrupt(format!("dimension {dim}, schema says {want_dim}")));
    }
    if rows != want_rows {
        return Err(r.corrupt(format!("{rows} rows, manifest says {want_rows}")));
    }
    let rows = usize::try_from(rows).map_err(|_| r.corrupt("row count overflows"))?;
    let data_len = rows
        .checked_mul(dim)
        .and_then(|x| x.checked_mul(elem.size()))
        .ok_or_else(|| r.corrupt("rows * dim overflows"))?;
    let norms_offset = usize::try_from(norms_offset).map_err(|_| r.corrupt("bad norms offset"))?;
    let norms_end = rows
        .checked_mul(4)
        .and_then(|x| x.checked_add(norms_offset));
    if norms_offset < data_len || norms_offset % 8 != 0 || norms_end.is_none_or(|e| e > foot_at) {
        return Err(r.corrupt(format!(
            "norms offset {norms_offset} inconsistent with {rows} rows of {dim}"
        )));
    }
    Ok(Layout {
        dim,
        elem,
        rows,
        norms_offset,
    })
}

/// Typed views of the rows and norms of a body whose layout was checked.
pub fn views<'a>(file: &str, body: &'a [u8], l: &Layout) -> Result<(VectorsView<'a>, &'a [f32])> {
    let bad = |what: &str| Error::corrupt(file, 0, format!("{what} not aligned or out of range"));
    let data = body
        .get(..l.rows * l.dim * l.elem.size())
        .ok_or_else(|| bad("rows"))?;
    let view = match l.elem {
        Elem::F32 => VectorsView::F32(bytemuck::try_cast_slice(data).map_err(|_| bad("rows"))?),
        Elem::F16 => VectorsView::F16(bytemuck::try_cast_slice(data).map_err(|_| bad("rows"))?),
    };
    let nb = body
        .get(l.norms_offset..l.norms_offset + l.rows * 4)
        .ok_or_else(|| bad("norms"))?;
    let norms = bytemuck::try_cast_slice(nb).map_err(|_| bad("norms"))?;
    Ok((view, norms))
}

//! The inverted-index component of a segment (`seg-<id>.inv`).
//!
//! One file holds every text field and the sparse-vector field of a segment. For each field it
//! stores an fst term dictionary (term → offset of the term's postings), the block-compressed
//! postings ([`crate::sparse::postings`]) and, for text fields, the length in terms of every
//! row. Text postings carry term frequencies; sparse postings carry impacts: weights quantized
//! to `1..=2^bits−1` with one scale per field and segment (`weight ≈ impact × scale`).
//!
//! Body layout (little-endian; offsets from the start of the body; every section starts at a
//! multiple of 8 so the lengths can be viewed in place):
//!
//! | bytes | field |
//! |---|---|
//! | 4 | number of fields F |
//! | F × 72 | field headers: field position u16, kind u8 (1 text, 2 sparse), impact bits u8, scale f32, docs with the field u64, total length u64, then (offset u64, length u64) of the lengths, dictionary and postings sections |
//! | … | the sections |

use crate::error::{Error, Result};
use crate::format::{ByteReader, ByteWriter};
use crate::io::FileBytes;
use crate::schema::Schema;
use crate::sparse::dict::{TermDict, TermDictBuilder};
use crate::sparse::postings::{PostingsList, PostingsWriter};
use crate::text::Analyzer;
use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use super::Row;

/// Kind of an inverted field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvKind {
    /// Analyzed text: postings carry term frequencies, rows have lengths.
    Text,
    /// A sparse vector: postings carry quantized impacts.
    Sparse,
}

/// The postings of one field, built in memory before they are written.
#[derive(Debug, Default)]
pub struct FieldBuild {
    /// Position of the field in the schema.
    pub field: u16,
    /// Term ids by term.
    ids: HashMap<Vec<u8>, u32>,
    /// Terms by id.
    terms: Vec<Vec<u8>>,
    /// Text: (row, term frequency) per term id.
    tf: Vec<Vec<(u32, u32)>>,
    /// Sparse: (row, weight) per term id.
    weights: Vec<Vec<(u32, f32)>>,
    /// Text: length of each row in terms.
    pub lengths: Vec<u32>,
    /// Sparse: bits per impact (0 for text).
    impact_bits: u8,
}

impl FieldBuild {
    /// An empty text field.
    pub fn text(field: u16) -> FieldBuild {
        FieldBuild {
            field,
            ..FieldBuild::default()
        }
    }

    /// An empty sparse field with `impact_bits`-bit impacts.
    pub fn sparse(field: u16, impact_bits: u8) -> FieldBuild {
        FieldBuild {
            field,
            impact_bits,
            ..FieldBuild::default()
        }
    }

    fn kind(&self) -> InvKind {
        if self.impact_bits == 0 {
            InvKind::Text
        } else {
            InvKind::Sparse
        }
    }

    fn term_id(&mut self, term: &[u8]) -> u32 {
        if let Some(&id) = self.ids.get(term) {
            return id;
        }
        let id = self.terms.len() as u32;
        self.ids.insert(term.to_vec(), id);
        self.terms.push(term.to_vec());
        self.tf.push(Vec::new());
        self.weights.push(Vec::new());
        id
    }

    /// Records that `row` holds `term` with frequency `tf` (rows in increasing order).
    pub fn push_tf(&mut self, term: &[u8], row: u32, tf: u32) {
        let id = self.term_id(term) as usize;
        if let Some(list) = self.tf.get_mut(id) {
            list.push((row, tf));
        }
    }

    /// Records that `row` holds `term` with weight `w > 0` (rows in increasing order).
    pub fn push_weight(&mut self, term: &[u8], row: u32, w: f32) {
        let id = self.term_id(term) as usize;
        if let Some(list) = self.weights.get_mut(id) {
            list.push((row, w));
        }
    }

    /// Appends one row's analyzed text: counts its terms and records its length.
    fn add_text_row(&mut self, row: u32, terms: &mut [u32]) {
        terms.sort_unstable();
        let mut i = 0;
        while let Some(&t) = terms.get(i) {
            let run = terms
                .get(i..)
                .unwrap_or_default()
                .iter()
                .take_while(|&&x| x == t)
                .count();
            if let Some(list) = self.tf.get_mut(t as usize) {
                list.push((row, run as u32));
            }
            i += run;
        }
    }
}

/// Builds every inverted field of a new segment from its rows (text analyzed here).
pub fn build_from_rows(schema: &Schema, rows: &[Row]) -> Vec<FieldBuild> {
    let mut out = Vec::new();
    for tf in schema.text_fields() {
        let analyzer = Analyzer::new(tf.analyzer);
        let mut b = FieldBuild::text(tf.index);
        b.lengths = vec![0; rows.len()];
        let mut ids: Vec<u32> = Vec::new();
        for (row, r) in rows.iter().enumerate() {
            ids.clear();
            for (_, text) in r.text.iter().filter(|(f, _)| *f == tf.index) {
                analyzer.for_each_term(text, |t| ids.push(b.term_id(t.as_bytes())));
            }
            if let Some(l) = b.lengths.get_mut(row) {
                *l = ids.len() as u32;
            }
            b.add_text_row(row as u32, &mut ids);
        }
        out.push(b);
    }
    if let Some((index, _, bits)) = schema.sparse_field() {
        let mut b = FieldBuild::sparse(index, bits);
        for (row, r) in rows.iter().enumerate() {
            for (term, w) in &r.sparse {
                if *w > 0.0 {
                    b.push_weight(term.as_bytes(), row as u32, *w);
                }
            }
        }
        out.push(b);
    }
    out
}

const HEADER_LEN: usize = 2 + 1 + 1 + 4 + 8 + 8 + 6 * 8;

/// Encodes the fields of a segment of `rows` rows.
pub fn encode(fields: &[FieldBuild], rows: usize) -> Result<Vec<u8>> {
    let mut sections: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> = Vec::new();
    let mut heads = Vec::new();
    for f in fields {
        let mut order: Vec<usize> = (0..f.terms.len()).collect();
        order.sort_unstable_by(|&a, &b| f.terms.get(a).cmp(&f.terms.get(b)));
        let mut dict = TermDictBuilder::new();
        let mut postings = Vec::new();
        let mut w = PostingsWriter::new();
        let (scale, max_impact) = match f.kind() {
            InvKind::Text => (1.0f32, 0u32),
            InvKind::Sparse => {
                let max_w = f.weights.iter().flatten().map(|p| p.1).fold(0f32, f32::max);
                let levels = (1u32 << f.impact_bits) - 1;
                let s = if max_w > 0.0 {
                    max_w / levels as f32
                } else {
                    1.0
                };
                (s, levels)
            }
        };
        for &t in &order {
            let (Some(term), Some(tf), Some(ws)) = (f.terms.get(t), f.tf.get(t), f.weights.get(t))
            else {
                continue;
            };
            let mut any = false;
            for &(row, freq) in tf {
                let len = f.lengths.get(row as usize).copied().unwrap_or(0);
                w.push(row, freq.max(1), len)?;
                any = true;
            }
            for &(row, wt) in ws {
                w.push(row, quantize(wt, scale, max_impact), 0)?;
                any = true;
            }
            if !any {
                continue;
            }
            let (offset, _) = w.finish(&mut postings)?;
            dict.insert(term, offset)?;
        }
        let lengths: Vec<u8> = match f.kind() {
            InvKind::Text => {
                let mut l = Vec::with_capacity(rows * 4);
                for row in 0..rows {
                    let v = f.lengths.get(row).copied().unwrap_or(0);
                    l.extend_from_slice(&v.to_le_bytes());
                }
                l
            }
            InvKind::Sparse => Vec::new(),
        };
        let doc_count = f.lengths.iter().filter(|&&l| l > 0).count() as u64;
        let total: u64 = f.lengths.iter().map(|&l| u64::from(l)).sum();
        heads.push((f.field, f.kind(), f.impact_bits, scale, doc_count, total));
        sections.push((lengths, dict.finish()?, postings));
    }
    let mut w = ByteWriter::new();
    w.u32(fields.len() as u32);
    let mut at = (4 + HEADER_LEN * fields.len()).next_multiple_of(8);
    let mut ranges = Vec::new();
    for (l, d, p) in &sections {
        let mut r = [(0u64, 0u64); 3];
        for (slot, s) in r.iter_mut().zip([l, d, p]) {
            *slot = (at as u64, s.len() as u64);
            at = (at + s.len()).next_multiple_of(8);
        }
        ranges.push(r);
    }
    for ((field, kind, bits, scale, docs, total), r) in heads.iter().zip(&ranges) {
        w.u16(*field);
        w.u8(match kind {
            InvKind::Text => 1,
            InvKind::Sparse => 2,
        });
        w.u8(*bits);
        w.f32(*scale);
        w.u64(*docs);
        w.u64(*total);
        for (off, len) in r {
            w.u64(*off);
            w.u64(*len);
        }
    }
    for (l, d, p) in &sections {
        for s in [l, d, p] {
            w.pad_to(8);
            w.raw(s);
        }
    }
    Ok(w.into_inner())
}

/// Quantizes a weight to an impact in `1..=max` (weights are > 0).
pub fn quantize(w: f32, scale: f32, max: u32) -> u32 {
    let q = (w / scale).round();
    if q.is_finite() {
        (q as u32).clamp(1, max.max(1))
    } else {
        max.max(1)
    }
}

/// One field's sections, as decoded from the header.
#[derive(Debug, Clone)]
struct Section {
    field: u16,
    kind: InvKind,
    impact_bits: u8,
    scale: f32,
    doc_count: u64,
    total_len: u64,
    lengths: Range<usize>,
    dict: Range<usize>,
    postings: Range<usize>,
    /// Lengths copied out when the mapped bytes are not 4-byte aligned (never with our
    /// 8-byte aligned [`FileBytes`], kept for safety).
    owned_lengths: Option<Vec<u32>>,
}

/// An opened inverted-index component.
#[derive(Debug)]
pub struct InvertedIndex {
    name: String,
    file: FileBytes,
    sections: Vec<Section>,
}

/// A view of one field of an [`InvertedIndex`].
pub struct FieldView<'a> {
    /// The file name (for errors).
    pub file: &'a str,
    /// Text or sparse.
    pub kind: InvKind,
    /// Sparse: bits per impact.
    pub impact_bits: u8,
    /// Sparse: weight of one impact unit.
    pub scale: f32,
    /// Rows with at least one term (text).
    pub doc_count: u64,
    /// Sum of the lengths of all rows (text).
    pub total_len: u64,
    /// The length of every row (text; empty for sparse).
    pub lengths: Cow<'a, [u32]>,
    /// The term dictionary.
    pub dict: TermDict<'a>,
    /// The postings area the dictionary points into.
    pub postings: &'a [u8],
}

impl<'a> FieldView<'a> {
    /// The postings of `term`, if the segment has it.
    pub fn postings(&self, term: &[u8]) -> Result<Option<PostingsList<'a>>> {
        match self.dict.get(term) {
            Some(off) => PostingsList::open(self.file, self.postings, off).map(Some),
            None => Ok(None),
        }
    }
}

impl InvertedIndex {
    /// Checks and opens the component `name` whose first `body_len` bytes are the body, for a
    /// segment of `rows` rows.
    pub fn decode(
        name: &str,
        file: FileBytes,
        body_len: usize,
        rows: u64,
        schema: &Schema,
    ) -> Result<InvertedIndex> {
        let body = file.get(..body_len).unwrap_or_default();
        let mut r = ByteReader::new(name, body);
        let n = r.u32("field count")? as usize;
        if n > schema.fields.len() {
            return Err(r.corrupt(format!(
                "{n} fields, the schema has {}",
                schema.fields.len()
            )));
        }
        let mut sections = Vec::with_capacity(n);
        for _ in 0..n {
            let field = r.u16("field position")?;
            let kind = match r.u8("field kind")? {
                1 => InvKind::Text,
                2 => InvKind::Sparse,
                k => return Err(r.corrupt(format!("unknown inverted field kind {k}"))),
            };
            let impact_bits = r.u8("impact bits")?;
            let scale = r.f32("scale")?;
            let doc_count = r.u64("doc count")?;
            let total_len = r.u64("total length")?;
            let mut ranges = [0..0, 0..0, 0..0];
            for (slot, what) in ranges.iter_mut().zip(["lengths", "dictionary", "postings"]) {
                let off = r.u64(what)?;
                let len = r.u64(what)?;
                let end = off.checked_add(len).filter(|&e| e <= body.len() as u64);
                match end {
                    Some(end) if off % 8 == 0 => *slot = off as usize..end as usize,
                    _ => {
                        return Err(r.corrupt(format!(
                            "{what} section {off}+{len} is misaligned or outside the body"
                        )));
                    }
                }
            }
            let [lengths, dict, postings] = ranges;
            let want_len = match kind {
                InvKind::Text => rows.checked_mul(4),
                InvKind::Sparse => Some(0),
            };
            if want_len != Some(lengths.len() as u64) {
                return Err(r.corrupt(format!(
                    "lengths section of {} bytes for {rows} rows",
                    lengths.len()
                )));
            }
            if !(scale.is_finite() && scale > 0.0) {
                return Err(r.corrupt(format!("impact scale {scale} is not positive")));
            }
            if kind == InvKind::Sparse && !(4..=16).contains(&impact_bits) {
                return Err(r.corrupt(format!("impact bits {impact_bits} out of range")));
            }
            let bytes = body.get(lengths.clone()).unwrap_or_default();
            let owned_lengths = match bytemuck::try_cast_slice::<u8, u32>(bytes) {
                Ok(_) => None,
                Err(_) => Some(
                    bytes
                        .chunks_exact(4)
                        .map(|c| crate::format::u32_at(c, 0).unwrap_or(0))
                        .collect(),
                ),
            };
            TermDict::open(name, body.get(dict.clone()).unwrap_or_default())?;
            sections.push(Section {
                field,
                kind,
                impact_bits,
                scale,
                doc_count,
                total_len,
                lengths,
                dict,
                postings,
                owned_lengths,
            });
        }
        Ok(InvertedIndex {
            name: name.to_owned(),
            file,
            sections,
        })
    }

    /// The field at schema position `field`, if this segment indexes it.
    pub fn field(&self, field: u16) -> Option<FieldView<'_>> {
        let s = self.sections.iter().find(|s| s.field == field)?;
        let body: &[u8] = &self.file;
        let lengths = match &s.owned_lengths {
            Some(v) => Cow::Borrowed(v.as_slice()),
            None => Cow::Borrowed(
                bytemuck::try_cast_slice::<u8, u32>(body.get(s.lengths.clone())?).ok()?,
            ),
        };
        Some(FieldView {
            file: &self.name,
            kind: s.kind,
            impact_bits: s.impact_bits,
            scale: s.scale,
            doc_count: s.doc_count,
            total_len: s.total_len,
            lengths,
            // Verified when the component was decoded.
            dict: TermDict::open_trusted(&self.name, body.get(s.dict.clone())?).ok()?,
            postings: body.get(s.postings.clone())?,
        })
    }

    /// Bytes of the file (mapped, not resident).
    pub fn file_len(&self) -> usize {
        self.file.len()
    }
}

/// Reads back every posting of one field of a source segment into `out`, renumbering rows with
/// `remap` (old row → new row, `None` for rows that do not survive). Impacts are turned back
/// into weights with the source's scale so the merged segment can choose its own.
pub fn merge_field_into(
    out: &mut FieldBuild,
    src: &FieldView<'_>,
    remap: &[Option<u32>],
) -> Result<()> {
    use crate::sparse::DocCursor;
    if src.kind == InvKind::Text {
        for (old, new) in remap.iter().enumerate() {
            if let (Some(new), Some(&len)) = (new, src.lengths.get(old))
                && let Some(slot) = out.lengths.get_mut(*new as usize)
            {
                *slot = len;
            }
        }
    }
    for (term, off) in src.dict.stream() {
        let list = PostingsList::open(src.file, src.postings, off)?;
        let mut c = list.cursor();
        let mut doc = c.doc();
        while doc != crate::sparse::TERMINATED {
            let new = remap.get(doc as usize).copied().ok_or_else(|| {
                Error::corrupt(
                    src.file,
                    off,
                    format!("posting for row {doc} past the segment"),
                )
            })?;
            if let Some(new) = new {
                match src.kind {
                    InvKind::Text => out.push_tf(&term, new, c.freq()),
                    InvKind::Sparse => out.push_weight(&term, new, c.freq() as f32 * src.scale),
                }
            }
            doc = c.advance();
        }
    }
    Ok(())
}

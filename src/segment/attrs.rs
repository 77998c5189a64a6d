//! The attributes component: every metadata attribute of a segment's rows, as a column (the
//! value of each row, for merges and fetching) and an index (what filters use).
//!
//! Body (all integers little-endian; `len` is a u64 count):
//!
//! ```text
//! rows u64, columns len
//! per attribute, in schema order:
//!   field u16 (its position in the schema), kind u8 (1 keyword, 2 i64, 3 f64), section bytes
//! keyword section:
//!   values len; per distinct value, in strictly increasing byte order:
//!     value (len + UTF-8), rows (len + a serialized roaring bitmap of the rows holding it)
//!   offsets u32 × (rows + 1)   row r's values are ids[offsets[r]..offsets[r+1]]
//!   ids u32 × offsets[rows]    value ids, strictly increasing within a row
//! numeric section (i64 or f64 as their 8 bytes):
//!   present (len + roaring bitmap of the rows that have a value)
//!   values u64 × rows          0 where absent
//!   order u32 × |present|      the present rows sorted by value, then by row
//! ```
//!
//! So keyword equality and `IN` are dictionary look-ups (binary search) yielding ready-made row
//! bitmaps, and a numeric range is two binary searches over `order` followed by collecting the
//! rows between them. The whole component is decoded and cross-checked when the segment is
//! opened: a row's ids must agree with the value bitmaps, `order` must be a sorted permutation
//! of the present rows, and f64 values must not be NaN; anything else is `Error::Corrupt`.

use super::writer::Row;
use crate::error::Result;
use crate::format::{ByteReader, ByteWriter};
use crate::schema::Schema;
use crate::types::{AttrKind, AttrValue};
use roaring::RoaringBitmap;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Bound;

/// The attributes of one segment, decoded and validated.
#[derive(Debug, Clone)]
pub struct AttrColumns {
    rows: usize,
    columns: Vec<Column>,
}

/// One attribute of one segment.
#[derive(Debug, Clone)]
pub struct Column {
    field: u16,
    present: RoaringBitmap,
    data: ColumnData,
}

#[derive(Debug, Clone)]
enum ColumnData {
    Keyword {
        dict: Vec<String>,
        postings: Vec<RoaringBitmap>,
        offsets: Vec<u32>,
        ids: Vec<u32>,
    },
    I64 {
        values: Vec<i64>,
        order: Vec<u32>,
    },
    F64 {
        values: Vec<f64>,
        order: Vec<u32>,
    },
}

fn kind_code(k: AttrKind) -> u8 {
    match k {
        AttrKind::Keyword => 1,
        AttrKind::I64 => 2,
        AttrKind::F64 => 3,
    }
}

fn bitmap_bytes(b: &RoaringBitmap) -> Vec<u8> {
    let mut buf = Vec::with_capacity(b.serialized_size());
    // Writing into a Vec cannot fail.
    let _ = b.serialize_into(&mut buf);
    buf
}

/// The value of attribute `field` in `row` as the column stores it: keywords sorted and
/// deduplicated (none: absent), an i64 given to an f64 attribute converted, −0.0 stored as 0.0.
/// A value of the wrong kind is treated as absent (the write transaction refuses it earlier).
fn normalized(row: &Row, field: u16, kind: AttrKind) -> Option<AttrValue> {
    let v = row
        .attrs
        .iter()
        .find(|(f, _)| *f == field)
        .map(|(_, v)| v)?;
    match (kind, v) {
        (AttrKind::Keyword, AttrValue::Keywords(list)) => {
            let mut list = list.clone();
            list.sort();
            list.dedup();
            (!list.is_empty()).then_some(AttrValue::Keywords(list))
        }
        (AttrKind::I64, AttrValue::I64(x)) => Some(AttrValue::I64(*x)),
        (AttrKind::F64, AttrValue::F64(x)) if !x.is_nan() => Some(AttrValue::F64(*x + 0.0)),
        (AttrKind::F64, AttrValue::I64(x)) => Some(AttrValue::F64(*x as f64)),
        _ => None,
    }
}

/// Encodes the attributes of `rows` for `schema`'s attribute fields.
pub fn encode(schema: &Schema, rows: &[Row]) -> Vec<u8> {
    let mut w = ByteWriter::new();
    w.len(rows.len());
    let attrs = schema.attributes();
    w.len(attrs.len());
    for a in &attrs {
        w.u16(a.index);
        w.u8(kind_code(a.kind));
        let mut s = ByteWriter::new();
        let values: Vec<Option<AttrValue>> = rows
            .iter()
            .map(|r| normalized(r, a.index, a.kind))
            .collect();
        match a.kind {
            AttrKind::Keyword => encode_keyword(&mut s, &values),
            AttrKind::I64 | AttrKind::F64 => encode_numeric(&mut s, &values),
        }
        w.bytes(&s.into_inner());
    }
    w.into_inner()
}

fn encode_keyword(w: &mut ByteWriter, values: &[Option<AttrValue>]) {
    let mut dict: BTreeMap<&str, RoaringBitmap> = BTreeMap::new();
    for (row, v) in values.iter().enumerate() {
        if let Some(AttrValue::Keywords(list)) = v {
            for s in list {
                dict.entry(s.as_str()).or_default().insert(row as u32);
            }
        }
    }
    w.len(dict.len());
    for (value, rows) in &dict {
        w.str(value);
        w.bytes(&bitmap_bytes(rows));
    }
    let id_of: BTreeMap<&str, u32> = dict
        .keys()
        .enumerate()
        .map(|(i, k)| (*k, i as u32))
        .collect();
    let mut ids = Vec::new();
    w.u32(0);
    for v in values {
        if let Some(AttrValue::Keywords(list)) = v {
            // `list` is sorted and deduplicated, so its ids are strictly increasing.
            ids.extend(list.iter().filter_map(|s| id_of.get(s.as_str()).copied()));
        }
        w.u32(ids.len() as u32);
    }
    for id in ids {
        w.u32(id);
    }
}

fn encode_numeric(w: &mut ByteWriter, values: &[Option<AttrValue>]) {
    let mut present = RoaringBitmap::new();
    let mut order: Vec<u32> = Vec::new();
    let bits = |v: &Option<AttrValue>| match v {
        Some(AttrValue::I64(x)) => x.cast_unsigned(),
        Some(AttrValue::F64(x)) => x.to_bits(),
        _ => 0,
    };
    for (row, v) in values.iter().enumerate() {
        if v.is_some() {
            present.insert(row as u32);
            order.push(row as u32);
        }
    }
    let value_at = |r: u32| values.get(r as usize).and_then(Option::as_ref);
    order.sort_by(|&a, &b| cmp_values(value_at(a), value_at(b)).then(a.cmp(&b)));
    w.bytes(&bitmap_bytes(&present));
    for v in values {
        w.u64(bits(v));
    }
    for r in order {
        w.u32(r);
    }
}

fn cmp_values(a: Option<&AttrValue>, b: Option<&AttrValue>) -> Ordering {
    match (a, b) {
        (Some(AttrValue::I64(x)), Some(AttrValue::I64(y))) => x.cmp(y),
        (Some(AttrValue::F64(x)), Some(AttrValue::F64(y))) => x.total_cmp(y),
        _ => Ordering::Equal,
    }
}

/// Reads a length-prefixed roaring bitmap whose rows must be below `rows`.
fn read_bitmap(r: &mut ByteReader<'_>, rows: usize, what: &str) -> Result<RoaringBitmap> {
    let mut bytes = r.bytes(what)?;
    let b = RoaringBitmap::deserialize_from(&mut bytes)
        .map_err(|e| r.corrupt(format!("{what}: bad roaring bitmap: {e}")))?;
    if !bytes.is_empty() {
        return Err(r.corrupt(format!("{what}: {} bytes after the bitmap", bytes.len())));
    }
    if b.max().is_some_and(|m| m as usize >= rows) {
        return Err(r.corrupt(format!("{what}: a row beyond the {rows} rows")));
    }
    Ok(b)
}

impl AttrColumns {
    /// Decodes and validates an attributes body for a segment of `rows` rows of `schema`.
    pub fn decode(file: &str, body: &[u8], rows: u64, schema: &Schema) -> Result<AttrColumns> {
        let mut r = ByteReader::new(file, body);
        let n = r.u64("row count")?;
        if n != rows {
            return Err(r.corrupt(format!("attributes for {n} rows, segment has {rows}")));
        }
        let rows = usize::try_from(rows)
            .ok()
            .filter(|&x| x <= u32::MAX as usize)
            .ok_or_else(|| r.corrupt("row count overflows"))?;
        let attrs = schema.attributes();
        let count = r.len(11, "attribute count")?;
        if count != attrs.len() {
            return Err(r.corrupt(format!(
                "{count} attributes, the schema declares {}",
                attrs.len()
            )));
        }
        let mut columns = Vec::with_capacity(count);
        for a in &attrs {
            let field = r.u16("attribute field")?;
            let kind = r.u8("attribute kind")?;
            if field != a.index || kind != kind_code(a.kind) {
                return Err(r.corrupt(format!(
                    "attribute {field} of kind {kind}, the schema wants field {} ({}) of kind {}",
                    a.index,
                    a.name,
                    kind_code(a.kind)
                )));
            }
            let at = r.position() as u64;
            let section = r.bytes("attribute section")?;
            let mut s = ByteReader::with_base(file, section, at + 8);
            let column = match a.kind {
                AttrKind::Keyword => decode_keyword(&mut s, rows)?,
                AttrKind::I64 | AttrKind::F64 => decode_numeric(&mut s, rows, a.kind)?,
            };
            s.finish("attribute section")?;
            columns.push(Column {
                field: a.index,
                present: column.0,
                data: column.1,
            });
        }
        r.finish("attributes")?;
        Ok(AttrColumns { rows, columns })
    }

    /// Rows of the segment.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The column of the attribute at schema position `field`.
    pub fn column(&self, field: u16) -> Option<&Column> {
        self.columns.iter().find(|c| c.field == field)
    }

    /// Every attribute value `row` has, as (schema position, value).
    pub fn row(&self, row: usize) -> Vec<(u16, AttrValue)> {
        self.columns
            .iter()
            .filter_map(|c| Some((c.field, c.value(row)?)))
            .collect()
    }

    /// Bytes held in memory.
    pub fn resident_bytes(&self) -> u64 {
        self.columns.iter().map(Column::resident_bytes).sum()
    }
}

fn decode_keyword(r: &mut ByteReader<'_>, rows: usize) -> Result<(RoaringBitmap, ColumnData)> {
    let n = r.len(16, "keyword count")?;
    let mut dict: Vec<String> = Vec::with_capacity(n);
    let mut postings = Vec::with_capacity(n);
    let mut present = RoaringBitmap::new();
    for _ in 0..n {
        let v = r.str("keyword")?;
        if dict.last().is_some_and(|p| p.as_str() >= v) {
            return Err(r.corrupt("keywords are not in strictly increasing order"));
        }
        dict.push(v.to_owned());
        let b = read_bitmap(r, rows, "keyword rows")?;
        if b.is_empty() {
            return Err(r.corrupt("a keyword has no rows"));
        }
        present |= &b;
        postings.push(b);
    }
    let offsets = r.u32_vec(rows + 1, "keyword offsets")?;
    let total = offsets.last().copied().unwrap_or(0) as usize;
    if offsets.first() != Some(&0) || total > r.remaining() / 4 {
        return Err(r.corrupt("keyword offsets do not start at 0 or overrun the ids"));
    }
    let ids = r.u32_vec(total, "keyword ids")?;
    // The column and the index must describe the same (row, value) pairs: the rows of each
    // value id, collected from the column in row order, must equal that value's bitmap.
    let mut rows_of: Vec<Vec<u32>> = vec![Vec::new(); postings.len()];
    for (row, w) in offsets.windows(2).enumerate() {
        let (a, b) = (
            w.first().copied().unwrap_or(0),
            w.get(1).copied().unwrap_or(0),
        );
        let list = ids
            .get(a as usize..b as usize)
            .ok_or_else(|| r.corrupt(format!("keyword offsets of row {row} decrease")))?;
        let mut prev: Option<u32> = None;
        for &id in list {
            let slot = rows_of.get_mut(id as usize);
            match slot {
                Some(v) if prev.is_none_or(|p| p < id) => v.push(row as u32),
                _ => {
                    return Err(r.corrupt(format!(
                        "keyword ids of row {row} are out of range or not increasing"
                    )));
                }
            }
            prev = Some(id);
        }
    }
    for (id, (p, rows)) in postings.iter().zip(&rows_of).enumerate() {
        if p.len() != rows.len() as u64 || !p.iter().eq(rows.iter().copied()) {
            return Err(r.corrupt(format!(
                "the rows of keyword {id} differ between the column and the index"
            )));
        }
    }
    Ok((
        present,
        ColumnData::Keyword {
            dict,
            postings,
            offsets,
            ids,
        },
    ))
}

fn decode_numeric(
    r: &mut ByteReader<'_>,
    rows: usize,
    kind: AttrKind,
) -> Result<(RoaringBitmap, ColumnData)> {
    let present = read_bitmap(r, rows, "present rows")?;
    let raw = r.u64_vec(rows, "values")?;
    let order = r.u32_vec(present.len() as usize, "value order")?;
    // `order` must be a permutation of `present`: each of its rows is crossed off a plain bit
    // array of the present rows once.
    let mut unseen = vec![0u64; rows.div_ceil(64)];
    for row in &present {
        if let Some(w) = unseen.get_mut(row as usize / 64) {
            *w |= 1 << (row % 64);
        }
    }
    for &row in &order {
        let bit = 1u64 << (row % 64);
        match unseen.get_mut(row as usize / 64) {
            Some(w) if *w & bit != 0 => *w &= !bit,
            _ => {
                return Err(r.corrupt(format!(
                    "value order names row {row} twice or an absent row"
                )));
            }
        }
    }
    let bad_order = || r.corrupt("value order is not sorted by value");
    let get = |row: u32| raw.get(row as usize).copied().unwrap_or(0);
    let data = if kind == AttrKind::I64 {
        let values: Vec<i64> = raw.iter().map(|x| x.cast_signed()).collect();
        let sorted = order
            .iter()
            .zip(order.iter().skip(1))
            .all(|(&a, &b)| get(a).cast_signed() <= get(b).cast_signed());
        if !sorted {
            return Err(bad_order());
        }
        ColumnData::I64 { values, order }
    } else {
        let values: Vec<f64> = raw.iter().map(|x| f64::from_bits(*x)).collect();
        if present.iter().any(|row| f64::from_bits(get(row)).is_nan()) {
            return Err(r.corrupt("an f64 attribute value is NaN"));
        }
        let sorted = order
            .iter()
            .zip(order.iter().skip(1))
            .all(|(&a, &b)| f64::from_bits(get(a)) <= f64::from_bits(get(b)));
        if !sorted {
            return Err(bad_order());
        }
        ColumnData::F64 { values, order }
    };
    Ok((present, data))
}

/// The rows at `order[a..b]`, as a bitmap (`order` holds the rows of `present`, the rows
/// below `rows`, sorted by value). A few rows are sorted; more are set in a plain bit array
/// that becomes a roaring bitmap container by container (no sorting); when the range holds
/// most rows, the rows outside it are removed from `present` instead.
fn rows_between(
    order: &[u32],
    present: &RoaringBitmap,
    rows: usize,
    a: usize,
    b: usize,
) -> RoaringBitmap {
    let b = b.max(a).min(order.len());
    let a = a.min(b);
    let inside = order.get(a..b).unwrap_or_default();
    let outside = || {
        [
            order.get(..a).unwrap_or_default(),
            order.get(b..).unwrap_or_default(),
        ]
    };
    let from_rows = |parts: &[&[u32]]| {
        let n: usize = parts.iter().map(|p| p.len()).sum();
        if n * 64 <= rows {
            let mut v: Vec<u32> = parts.concat();
            v.sort_unstable();
            RoaringBitmap::from_sorted_iter(v).unwrap_or_default()
        } else {
            let mut bits = vec![0u8; rows.div_ceil(8)];
            for &r in parts.iter().copied().flatten() {
                if let Some(byte) = bits.get_mut(r as usize / 8) {
                    *byte |= 1 << (r % 8);
                }
            }
            RoaringBitmap::from_lsb0_bytes(0, &bits)
        }
    };
    if inside.len() * 2 <= order.len() {
        from_rows(&[inside])
    } else {
        present - from_rows(&outside())
    }
}

/// `[start, end)` of the part of a sorted sequence of `len` items within the bounds, given
/// `below(i, bound)`: whether item i lies below (is `<`) a value.
fn bounded<T: Copy>(
    len: usize,
    lo: Bound<T>,
    hi: Bound<T>,
    cmp: impl Fn(usize, T) -> Ordering,
) -> (usize, usize) {
    let first_not = |pred: &dyn Fn(usize) -> bool| {
        // Binary search for the first index where `pred` fails (pred is monotone: true, then
        // false).
        let (mut a, mut b) = (0usize, len);
        while a < b {
            let m = a + (b - a) / 2;
            if pred(m) {
                a = m + 1;
            } else {
                b = m;
            }
        }
        a
    };
    let start = match lo {
        Bound::Unbounded => 0,
        Bound::Included(x) => first_not(&|i| cmp(i, x) == Ordering::Less),
        Bound::Excluded(x) => first_not(&|i| cmp(i, x) != Ordering::Greater),
    };
    let end = match hi {
        Bound::Unbounded => len,
        Bound::Included(x) => first_not(&|i| cmp(i, x) != Ordering::Greater),
        Bound::Excluded(x) => first_not(&|i| cmp(i, x) == Ordering::Less),
    };
    (start, end.max(start))
}

impl Column {
    /// The schema position of the attribute.
    pub fn field(&self) -> u16 {
        self.field
    }

    /// The rows that have a value.
    pub fn present(&self) -> &RoaringBitmap {
        &self.present
    }

    /// The value of `row`, if it has one.
    pub fn value(&self, row: usize) -> Option<AttrValue> {
        if !self.present.contains(u32::try_from(row).ok()?) {
            return None;
        }
        match &self.data {
            ColumnData::Keyword {
                dict, offsets, ids, ..
            } => {
                let (a, b) = (*offsets.get(row)?, *offsets.get(row + 1)?);
                let list = ids.get(a as usize..b as usize)?;
                Some(AttrValue::Keywords(
                    list.iter()
                        .filter_map(|&i| dict.get(i as usize).cloned())
                        .collect(),
                ))
            }
            ColumnData::I64 { values, .. } => values.get(row).copied().map(AttrValue::I64),
            ColumnData::F64 { values, .. } => values.get(row).copied().map(AttrValue::F64),
        }
    }

    /// The rows holding keyword `value` (empty for a numeric column).
    pub fn keyword_rows(&self, value: &str) -> RoaringBitmap {
        match &self.data {
            ColumnData::Keyword { dict, postings, .. } => dict
                .binary_search_by(|d| d.as_str().cmp(value))
                .ok()
                .and_then(|i| postings.get(i).cloned())
                .unwrap_or_default(),
            _ => RoaringBitmap::new(),
        }
    }

    /// The rows holding a keyword within the bounds (byte order).
    pub fn keyword_range(&self, lo: Bound<&str>, hi: Bound<&str>) -> RoaringBitmap {
        let ColumnData::Keyword { dict, postings, .. } = &self.data else {
            return RoaringBitmap::new();
        };
        let cmp = |i: usize, x: &str| dict.get(i).map_or(Ordering::Equal, |d| d.as_str().cmp(x));
        let (a, b) = bounded(dict.len(), lo, hi, cmp);
        let mut out = RoaringBitmap::new();
        for p in postings.get(a..b).unwrap_or_default() {
            out |= p;
        }
        out
    }

    /// The rows of an i64 column whose value is within the bounds.
    pub fn i64_range(&self, lo: Bound<i64>, hi: Bound<i64>) -> RoaringBitmap {
        let ColumnData::I64 { values, order } = &self.data else {
            return RoaringBitmap::new();
        };
        let val = |i: usize| {
            order
                .get(i)
                .and_then(|&r| values.get(r as usize))
                .copied()
                .unwrap_or(0)
        };
        let (a, b) = bounded(order.len(), lo, hi, |i, x| val(i).cmp(&x));
        rows_between(order, &self.present, values.len(), a, b)
    }

    /// The rows of an f64 column whose value is within the bounds (NaN bounds match nothing).
    pub fn f64_range(&self, lo: Bound<f64>, hi: Bound<f64>) -> RoaringBitmap {
        let ColumnData::F64 { values, order } = &self.data else {
            return RoaringBitmap::new();
        };
        let nan =
            |b: &Bound<f64>| matches!(b, Bound::Included(x) | Bound::Excluded(x) if x.is_nan());
        if nan(&lo) || nan(&hi) {
            return RoaringBitmap::new();
        }
        let val = |i: usize| {
            order
                .get(i)
                .and_then(|&r| values.get(r as usize))
                .copied()
                .unwrap_or(0.0)
        };
        // Values are never NaN, so the partial order is total here (−0.0 equals 0.0).
        let (a, b) = bounded(order.len(), lo, hi, |i, x| {
            val(i).partial_cmp(&x).unwrap_or(Ordering::Equal)
        });
        rows_between(order, &self.present, values.len(), a, b)
    }

    fn resident_bytes(&self) -> u64 {
        let bitmaps = self.present.serialized_size() as u64;
        bitmaps
            + match &self.data {
                ColumnData::Keyword {
                    dict,
                    postings,
                    offsets,
                    ids,
                } => {
                    dict.iter().map(|d| d.len() as u64 + 24).sum::<u64>()
                        + postings
                            .iter()
                            .map(|p| p.serialized_size() as u64)
                            .sum::<u64>()
                        + (offsets.len() + ids.len()) as u64 * 4
                }
                ColumnData::I64 { values, order } => {
                    values.len() as u64 * 8 + order.len() as u64 * 4
                }
                ColumnData::F64 { values, order } => {
                    values.len() as u64 * 8 + order.len() as u64 * 4
                }
            }
    }
}

/// Decodes an attributes body (tests and fuzzing), returning every row's values.
pub fn decode(
    file: &str,
    body: &[u8],
    rows: u64,
    schema: &Schema,
) -> Result<Vec<Vec<(u16, AttrValue)>>> {
    let c = AttrColumns::decode(file, body, rows, schema)?;
    Ok((0..c.rows()).map(|r| c.row(r)).collect())
}

//! Filter expressions: an owned description of which documents a query may return, compiled
//! against one snapshot into a [`DocFilter`] (so row numbers are never carried across
//! snapshots, and a merge that renumbers rows cannot make a filter match the wrong documents).
//!
//! A filter is built in Rust or parsed from text with [`Filter::parse`] (grammar in
//! `filter/parse.rs`: `year >= 2015 AND lang IN ('en', 'de') AND NOT EXISTS retracted`);
//! [`Filter`]'s `Display` writes text that parses back to the same filter.
//!
//! Semantics are SQL's three-valued logic. A comparison on a document without the attribute is
//! *unknown*; `NOT unknown` is unknown; `AND` is false if any side is false, `OR` true if any
//! side is true; only documents where the whole filter is *true* pass. So `lang != 'en'`
//! (the same as `NOT lang = 'en'`) passes documents that have a language other than English,
//! not documents without one; `EXISTS lang` is never unknown, and `NOT EXISTS lang` passes
//! exactly the documents without one. A keyword attribute with several values satisfies a
//! comparison when any of its values does (`tags = 'a'`: one of the tags is `a`; `tags != 'a'`:
//! it has tags and none is `a`). Key sets (`_key IN (..)`) are never unknown.
//!
//! Compilation checks the filter against the schema: naming an attribute the schema does not
//! declare, or comparing a keyword with a number (or a number with text), is an
//! [`Error::InvalidArgument`]. Numbers compare exactly: an i64 attribute against a float
//! literal uses the float's value (`year > 2014.5` is `year >= 2015`); an f64 attribute
//! against an integer literal converts it to f64.

mod parse;

use crate::error::{Error, Result};
use crate::schema::{FieldKind, Schema};
use crate::search::docset::DocFilter;
use crate::segment::attrs::Column;
use crate::txn::{Snapshot, SnapshotSegment};
use crate::types::{AttrKind, AttrValue, Key, KeyKind};
use roaring::RoaringBitmap;
use std::fmt;
use std::ops::Bound;

/// Which documents a query may return.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Filter {
    /// Documents whose key is in the list.
    Keys(Vec<Key>),
    /// Documents that pass every filter (none: every document).
    And(Vec<Filter>),
    /// Documents that pass any of the filters (none: no document).
    Or(Vec<Filter>),
    /// Documents for which the filter is false (not merely unknown: see the module docs).
    Not(Box<Filter>),
    /// `attr op value`.
    Compare {
        /// The attribute.
        attr: String,
        /// The comparison.
        op: CmpOp,
        /// The value compared with.
        value: Literal,
    },
    /// `attr IN (values)`: the attribute equals one of the values.
    In {
        /// The attribute.
        attr: String,
        /// The values.
        values: Vec<Literal>,
    },
    /// `attr BETWEEN low AND high`, both bounds included.
    Between {
        /// The attribute.
        attr: String,
        /// The lower bound.
        low: Literal,
        /// The upper bound.
        high: Literal,
    },
    /// `EXISTS attr`: the document has a value for the attribute.
    Exists(String),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=` (also written `<>`)
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The operator as written in a filter.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// A value in a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// Text, compared with keyword attributes.
    Str(String),
    /// An integer.
    Int(i64),
    /// A float (must be finite).
    Float(f64),
}

impl From<&str> for Literal {
    fn from(v: &str) -> Literal {
        Literal::Str(v.to_owned())
    }
}

impl From<String> for Literal {
    fn from(v: String) -> Literal {
        Literal::Str(v)
    }
}

impl From<i64> for Literal {
    fn from(v: i64) -> Literal {
        Literal::Int(v)
    }
}

impl From<f64> for Literal {
    fn from(v: f64) -> Literal {
        Literal::Float(v)
    }
}

fn quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    write!(f, "'{}'", s.replace('\'', "''"))
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(s) => quoted(f, s),
            Literal::Int(v) => write!(f, "{v}"),
            // `{:?}` is the shortest text that parses back to the same f64, always with a
            // '.' or an exponent, so it reads back as a float.
            Literal::Float(v) => write!(f, "{v:?}"),
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A child conjunction or disjunction is parenthesised unless it is a conjunction
        // inside a disjunction (AND binds tighter), so the text parses back to the same tree
        // and never nests deeper than the text it was parsed from.
        let child = |f: &mut fmt::Formatter<'_>, c: &Filter, in_or: bool| match c {
            Filter::And(v) if in_or && v.len() > 1 => write!(f, "{c}"),
            Filter::And(v) | Filter::Or(v) if !v.is_empty() => write!(f, "({c})"),
            _ => write!(f, "{c}"),
        };
        let list = |f: &mut fmt::Formatter<'_>, parts: &[Filter], sep: &str| {
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                child(f, p, sep == " OR ")?;
            }
            Ok(())
        };
        match self {
            Filter::Keys(keys) => {
                f.write_str("_key IN (")?;
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    match k {
                        Key::U64(v) => write!(f, "{v}")?,
                        Key::Str(s) => quoted(f, s)?,
                    }
                }
                f.write_str(")")
            }
            // The empty conjunction is true; `_key IN ()` is false for every document.
            Filter::And(v) if v.is_empty() => f.write_str("NOT _key IN ()"),
            Filter::Or(v) if v.is_empty() => f.write_str("_key IN ()"),
            Filter::And(v) => list(f, v, " AND "),
            Filter::Or(v) => list(f, v, " OR "),
            Filter::Not(c) => {
                f.write_str("NOT ")?;
                child(f, c, false)
            }
            Filter::Compare { attr, op, value } => write!(f, "{attr} {} {value}", op.symbol()),
            Filter::In { attr, values } => {
                write!(f, "{attr} IN (")?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(")")
            }
            Filter::Between { attr, low, high } => {
                write!(f, "{attr} BETWEEN {low} AND {high}")
            }
            Filter::Exists(attr) => write!(f, "EXISTS {attr}"),
        }
    }
}

impl Filter {
    /// Parses a filter expression, e.g. `year >= 2015 AND lang = 'en'`. A syntax error is
    /// [`Error::FilterSyntax`] naming the byte offset and what was expected there; names are
    /// checked against a schema only when the filter is compiled.
    pub fn parse(src: &str) -> Result<Filter> {
        parse::parse(src)
    }

    /// Whether this is a predicate on the `_key` pseudo-attribute (the parser turns those into
    /// key sets).
    fn names_key(&self) -> bool {
        matches!(self, Filter::Compare { attr, .. } | Filter::In { attr, .. }
            | Filter::Between { attr, .. } if attr == "_key")
    }

    /// Checks names, value kinds and literals against `schema`.
    fn check(&self, schema: &Schema) -> Result<()> {
        let lit_ok = |attr: &str, kind: AttrKind, l: &Literal| match (kind, l) {
            (AttrKind::Keyword, Literal::Str(_)) => Ok(()),
            (AttrKind::I64 | AttrKind::F64, Literal::Int(_)) => Ok(()),
            (AttrKind::I64 | AttrKind::F64, Literal::Float(x)) if x.is_finite() => Ok(()),
            (_, Literal::Float(x)) if !x.is_finite() => Err(Error::InvalidArgument(format!(
                "filter on {attr}: {x} is not a finite number"
            ))),
            (kind, l) => Err(Error::InvalidArgument(format!(
                "filter compares {} attribute {attr} with {}",
                kind.name(),
                match l {
                    Literal::Str(_) => format!("text {l}"),
                    _ => format!("number {l}"),
                }
            ))),
        };
        match self {
            Filter::Keys(keys) => match keys.iter().find(|k| k.kind() != schema.key) {
                Some(k) => Err(Error::InvalidArgument(format!(
                    "filter names key {k}, but the index has {} keys",
                    match schema.key {
                        KeyKind::U64 => "u64",
                        KeyKind::Str => "string",
                    }
                ))),
                None => Ok(()),
            },
            Filter::And(v) | Filter::Or(v) => v.iter().try_for_each(|c| c.check(schema)),
            Filter::Not(c) => c.check(schema),
            Filter::Exists(attr) => attr_kind(schema, attr).map(|_| ()),
            Filter::Compare { attr, value, .. } => lit_ok(attr, attr_kind(schema, attr)?, value),
            Filter::In { attr, values } => {
                let kind = attr_kind(schema, attr)?;
                values.iter().try_for_each(|v| lit_ok(attr, kind, v))
            }
            Filter::Between { attr, low, high } => {
                let kind = attr_kind(schema, attr)?;
                lit_ok(attr, kind, low)?;
                lit_ok(attr, kind, high)
            }
        }
    }
}

/// The kind of attribute `attr`, or an error naming what it is instead.
fn attr_kind(schema: &Schema, attr: &str) -> Result<AttrKind> {
    match schema.field_index(attr).and_then(|i| schema.fields.get(i)) {
        Some(f) => match f.kind {
            FieldKind::Attribute { kind } => Ok(kind),
            _ => Err(Error::InvalidArgument(format!(
                "filter names {attr:?}, which is a field but not an attribute"
            ))),
        },
        None => Err(Error::InvalidArgument(format!(
            "filter names attribute {attr:?}, which the schema does not declare"
        ))),
    }
}

/// 2^63 as an f64 (exact): every i64 is below it and at or above its negation.
const TWO_63: f64 = 9_223_372_036_854_775_808.0;

/// The smallest i64 that is ≥ `x` (`inclusive`) or > `x`; `None` if there is none.
fn i64_lower(x: f64, inclusive: bool) -> Option<Bound<i64>> {
    let c = if inclusive { x.ceil() } else { x.floor() + 1.0 };
    if c >= TWO_63 {
        None
    } else if c < -TWO_63 {
        Some(Bound::Unbounded)
    } else {
        Some(Bound::Included(c as i64))
    }
}

/// The largest i64 that is ≤ `x` (`inclusive`) or < `x`; `None` if there is none.
fn i64_upper(x: f64, inclusive: bool) -> Option<Bound<i64>> {
    let c = if inclusive { x.floor() } else { x.ceil() - 1.0 };
    if c < -TWO_63 {
        None
    } else if c >= TWO_63 {
        Some(Bound::Unbounded)
    } else {
        Some(Bound::Included(c as i64))
    }
}

/// A bound on values, as the literal gave it.
type LitBound<'a> = Bound<&'a Literal>;

/// The text of a bound (unbounded for a number).
fn str_bound<'a>(b: LitBound<'a>) -> Bound<&'a str> {
    match b {
        Bound::Included(Literal::Str(s)) => Bound::Included(s.as_str()),
        Bound::Excluded(Literal::Str(s)) => Bound::Excluded(s.as_str()),
        _ => Bound::Unbounded,
    }
}

/// Rows of `col` whose value lies within the bounds (any value, for keywords).
fn range_rows(col: &Column, lo: LitBound<'_>, hi: LitBound<'_>) -> RoaringBitmap {
    let as_f64 = |l: &Literal| match l {
        Literal::Int(v) => *v as f64,
        Literal::Float(v) => *v,
        Literal::Str(_) => f64::NAN,
    };
    if matches!(
        lo,
        Bound::Included(Literal::Str(_)) | Bound::Excluded(Literal::Str(_))
    ) || matches!(
        hi,
        Bound::Included(Literal::Str(_)) | Bound::Excluded(Literal::Str(_))
    ) {
        return col.keyword_range(str_bound(lo), str_bound(hi));
    }
    // Numeric: try both column kinds; the one that does not match returns nothing.
    let f = |b: LitBound<'_>| match b {
        Bound::Included(l) => Bound::Included(as_f64(l)),
        Bound::Excluded(l) => Bound::Excluded(as_f64(l)),
        Bound::Unbounded => Bound::Unbounded,
    };
    let mut out = col.f64_range(f(lo), f(hi));
    let i_lo = match lo {
        Bound::Included(Literal::Int(v)) => Some(Bound::Included(*v)),
        Bound::Excluded(Literal::Int(v)) => Some(Bound::Excluded(*v)),
        Bound::Included(Literal::Float(x)) => i64_lower(*x, true),
        Bound::Excluded(Literal::Float(x)) => i64_lower(*x, false),
        _ => Some(Bound::Unbounded),
    };
    let i_hi = match hi {
        Bound::Included(Literal::Int(v)) => Some(Bound::Included(*v)),
        Bound::Excluded(Literal::Int(v)) => Some(Bound::Excluded(*v)),
        Bound::Included(Literal::Float(x)) => i64_upper(*x, true),
        Bound::Excluded(Literal::Float(x)) => i64_upper(*x, false),
        _ => Some(Bound::Unbounded),
    };
    if let (Some(a), Some(b)) = (i_lo, i_hi) {
        out |= col.i64_range(a, b);
    }
    out
}

/// The live rows of a snapshot's segment (a range, minus the deletes).
fn live_rows(s: &SnapshotSegment) -> RoaringBitmap {
    let rows = u32::try_from(s.segment.rows()).unwrap_or(u32::MAX);
    let mut b = RoaringBitmap::new();
    b.insert_range(0..rows);
    if let Some(d) = s.deletes.as_deref() {
        b -= d.bitmap();
    }
    b
}

/// Rows of `col` equal to `l` (holding it, for keywords).
fn eq_rows(col: &Column, l: &Literal) -> RoaringBitmap {
    match l {
        Literal::Str(s) => col.keyword_rows(s),
        _ => range_rows(col, Bound::Included(l), Bound::Included(l)),
    }
}

impl Snapshot {
    /// The live documents of this snapshot that pass `filter` (see the module docs for the
    /// semantics). Fails if the filter names an attribute the schema does not declare or
    /// compares an attribute with a value of another kind.
    pub fn compile_filter(&self, filter: &Filter) -> Result<DocFilter> {
        filter.check(self.schema())?;
        let live: Vec<RoaringBitmap> = self.segments().iter().map(live_rows).collect();
        let sets = self.eval(filter, true, &live)?;
        Ok(DocFilter::from_segments(
            self.segments()
                .iter()
                .zip(sets)
                .map(|(s, b)| (s.meta.id, b)),
        ))
    }

    /// Per segment (aligned with `self.segments()`), the live rows where `filter` is true
    /// (`want` true) or false (`want` false); rows where it is unknown are in neither. Only
    /// the side asked for is computed, so a filter without NOT never builds a false set.
    fn eval(
        &self,
        filter: &Filter,
        want: bool,
        live: &[RoaringBitmap],
    ) -> Result<Vec<RoaringBitmap>> {
        let segs = self.segments();
        // A predicate on an attribute: true where `rows` says, false where the row has a
        // value but `rows` does not hold it.
        let attr = |name: &str, want: bool, rows: &dyn Fn(&Column) -> RoaringBitmap| {
            let field = self
                .schema()
                .attribute(name)
                .map(|a| a.index)
                .ok_or_else(|| Error::InvalidArgument(format!("no attribute {name:?}")))?;
            Ok::<_, Error>(
                segs.iter()
                    .zip(live)
                    .map(
                        |(s, l)| match s.segment.attrs().and_then(|a| a.column(field)) {
                            Some(c) if want => rows(c) & l,
                            Some(c) => (c.present() - rows(c)) & l,
                            None => RoaringBitmap::new(),
                        },
                    )
                    .collect::<Vec<_>>(),
            )
        };
        // A two-valued predicate: false is the live rows where it is not true.
        let known = |t: Vec<RoaringBitmap>| -> Vec<RoaringBitmap> {
            if want {
                t
            } else {
                t.into_iter().zip(live).map(|(t, l)| l - t).collect()
            }
        };
        Ok(match filter {
            Filter::Keys(keys) => {
                let set = self.filter_keys(keys);
                known(
                    segs.iter()
                        .map(|s| set.segment(s.meta.id).cloned().unwrap_or_default())
                        .collect(),
                )
            }
            Filter::Exists(name) => known(attr(name, true, &|c| c.present().clone())?),
            Filter::Not(c) => self.eval(c, !want, live)?,
            // True AND: all true; false AND: any false. True OR: any true; false OR: all
            // false. So (AND, true) and (OR, false) intersect, the other two unite.
            Filter::And(parts) | Filter::Or(parts) => {
                let intersect = matches!(filter, Filter::And(_)) == want;
                let mut acc: Vec<RoaringBitmap> = if intersect {
                    live.to_vec()
                } else {
                    vec![RoaringBitmap::new(); live.len()]
                };
                for p in parts {
                    for (a, b) in acc.iter_mut().zip(self.eval(p, want, live)?) {
                        if intersect {
                            *a &= b;
                        } else {
                            *a |= b;
                        }
                    }
                }
                acc
            }
            // `a != v` is `NOT a = v`.
            Filter::Compare {
                attr: name,
                op: CmpOp::Ne,
                value,
            } => attr(name, !want, &|c| eq_rows(c, value))?,
            Filter::Compare {
                attr: name,
                op,
                value,
            } => {
                let v = value;
                attr(name, want, &|c| match op {
                    CmpOp::Eq | CmpOp::Ne => eq_rows(c, v),
                    CmpOp::Lt => range_rows(c, Bound::Unbounded, Bound::Excluded(v)),
                    CmpOp::Le => range_rows(c, Bound::Unbounded, Bound::Included(v)),
                    CmpOp::Gt => range_rows(c, Bound::Excluded(v), Bound::Unbounded),
                    CmpOp::Ge => range_rows(c, Bound::Included(v), Bound::Unbounded),
                })?
            }
            Filter::In { attr: name, values } => attr(name, want, &|c| {
                let mut out = RoaringBitmap::new();
                for v in values {
                    out |= eq_rows(c, v);
                }
                out
            })?,
            Filter::Between {
                attr: name,
                low,
                high,
            } => attr(name, want, &|c| {
                range_rows(c, Bound::Included(low), Bound::Included(high))
            })?,
        })
    }

    /// The attributes of row `row` of segment `segment` (as a [`DocFilter`] or a hit names
    /// it), by name in schema order; empty if the row or segment is not in this snapshot.
    pub fn attributes_of(&self, segment: u64, row: u32) -> Vec<(String, AttrValue)> {
        let schema = self.schema();
        let Some(s) = self.segments().iter().find(|s| s.meta.id == segment) else {
            return Vec::new();
        };
        let Some(cols) = s.segment.attrs() else {
            return Vec::new();
        };
        cols.row(row as usize)
            .into_iter()
            .filter_map(|(field, v)| Some((schema.fields.get(field as usize)?.name.clone(), v)))
            .collect()
    }

    /// Every live document of this snapshot.
    pub fn live_docs(&self) -> DocFilter {
        DocFilter::from_segments(self.segments().iter().map(|s| (s.meta.id, live_rows(s))))
    }
}

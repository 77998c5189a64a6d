//! Document sets of one snapshot (per segment, rows as roaring bitmaps): what filters compile
//! to and what every kind of search takes to restrict the documents it scores.

use crate::error::{Error, Result};
use crate::schema::FieldKind;
use crate::sparse::{DocCursor, TERMINATED};
use crate::text::Analyzer;
use crate::txn::Snapshot;
use crate::types::Key;
use roaring::RoaringBitmap;
use std::collections::{HashMap, HashSet};

/// A set of documents of one snapshot, per segment, used to restrict a query. Build it once
/// with [`Snapshot::filter_keys`] or [`Snapshot::filter_term`] and reuse it across queries on
/// the same snapshot.
#[derive(Debug, Clone, Default)]
pub struct DocFilter {
    sets: HashMap<u64, RoaringBitmap>,
}

impl DocFilter {
    /// Whether row `row` of segment `segment` is in the set.
    pub fn contains(&self, segment: u64, row: u32) -> bool {
        self.sets.get(&segment).is_some_and(|b| b.contains(row))
    }

    /// Documents in the set.
    pub fn len(&self) -> u64 {
        self.sets.values().map(RoaringBitmap::len).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows of segment `segment` in the set (None: none of them).
    pub fn segment(&self, segment: u64) -> Option<&RoaringBitmap> {
        self.sets.get(&segment)
    }

    /// A set from per-segment row sets (segment id → rows); empty sets are dropped.
    pub fn from_segments(sets: impl IntoIterator<Item = (u64, RoaringBitmap)>) -> DocFilter {
        DocFilter {
            sets: sets.into_iter().filter(|(_, b)| !b.is_empty()).collect(),
        }
    }

    /// The documents in both sets.
    pub fn and(&self, other: &DocFilter) -> DocFilter {
        let sets = self
            .sets
            .iter()
            .filter_map(|(s, b)| Some((*s, b & other.sets.get(s)?)))
            .collect();
        DocFilter { sets }
    }
}

impl Snapshot {
    /// The set of live documents whose key is in `keys`.
    pub fn filter_keys(&self, keys: &[Key]) -> DocFilter {
        let want: HashSet<&Key> = keys.iter().collect();
        let mut f = DocFilter::default();
        for s in self.segments() {
            let mut b = RoaringBitmap::new();
            for row in 0..s.segment.rows() {
                if s.is_live(row as u32) && s.segment.key(row).is_some_and(|k| want.contains(&k)) {
                    b.insert(row as u32);
                }
            }
            if !b.is_empty() {
                f.sets.insert(s.meta.id, b);
            }
        }
        f
    }

    /// The set of live documents whose text field `field` holds every term of `value` (after
    /// the field's analyzer), e.g. a category or tag field.
    pub fn filter_term(&self, field: &str, value: &str) -> Result<DocFilter> {
        let schema = self.schema();
        let i = schema
            .field_index(field)
            .ok_or_else(|| Error::InvalidArgument(format!("the schema has no field {field:?}")))?;
        let Some(FieldKind::Text { analyzer, .. }) = schema.fields.get(i).map(|f| &f.kind) else {
            return Err(Error::InvalidArgument(format!(
                "field {field:?} is not a text field"
            )));
        };
        let terms = Analyzer::new(analyzer).terms(value);
        let mut f = DocFilter::default();
        if terms.is_empty() {
            return Ok(f);
        }
        for s in self.segments() {
            let Some(view) = s.segment.inverted().and_then(|inv| inv.field(i as u16)) else {
                continue;
            };
            let mut acc: Option<RoaringBitmap> = None;
            for t in &terms {
                let mut b = RoaringBitmap::new();
                if let Some(list) = view.postings(t.as_bytes())? {
                    let mut c = list.cursor();
                    let mut d = c.doc();
                    while d != TERMINATED {
                        if s.is_live(d) {
                            b.insert(d);
                        }
                        d = c.advance();
                    }
                }
                acc = Some(match acc {
                    Some(a) => a & b,
                    None => b,
                });
            }
            if let Some(b) = acc.filter(|b| !b.is_empty()) {
                f.sets.insert(s.meta.id, b);
            }
        }
        Ok(f)
    }
}

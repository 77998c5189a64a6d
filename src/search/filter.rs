//! Filter expressions: an owned description of which documents a query may return, compiled
//! against one snapshot into a [`DocFilter`] (so row numbers are never carried across
//! snapshots, and a merge that renumbers rows cannot make a filter match the wrong documents).

use crate::error::Result;
use crate::search::docset::DocFilter;
use crate::txn::Snapshot;
use crate::types::Key;

/// Which documents a query may return.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Filter {
    /// Documents whose key is in the list.
    Keys(Vec<Key>),
    /// Documents that pass every filter.
    And(Vec<Filter>),
}

impl Snapshot {
    /// The live documents of this snapshot that pass `filter`.
    pub fn compile_filter(&self, filter: &Filter) -> Result<DocFilter> {
        match filter {
            Filter::Keys(keys) => Ok(self.filter_keys(keys)),
            Filter::And(parts) => {
                let mut out: Option<DocFilter> = None;
                for p in parts {
                    let f = self.compile_filter(p)?;
                    out = Some(match out {
                        Some(o) => o.and(&f),
                        None => f,
                    });
                }
                // An empty conjunction passes every live document.
                match out {
                    Some(o) => Ok(o),
                    None => Ok(self.live_docs()),
                }
            }
        }
    }

    /// Every live document of this snapshot.
    pub fn live_docs(&self) -> DocFilter {
        DocFilter::from_segments(self.segments().iter().map(|s| {
            let rows = u32::try_from(s.segment.rows()).unwrap_or(u32::MAX);
            let mut b: roaring::RoaringBitmap = (0..rows).collect();
            if let Some(d) = s.deletes.as_deref() {
                b -= d.bitmap();
            }
            (s.meta.id, b)
        }))
    }
}

//! Query execution over a snapshot: the search layer.
//!
//! `txn` owns snapshots as views of one commit (segments, delete sets, pins); this layer runs
//! queries over them and never changes them, so `txn` never imports it.
//!
//! - `dense`: exact and IVF-PQ vector search, one query or a batch, with re-ranking.
//! - `text`: BM25 and learned-sparse search with snapshot-wide live-row statistics, document
//!   filters, stored text.

mod dense;
mod text;

pub use dense::{QueryStats, SearchParams};
pub use text::{DocFilter, TextHit, TextQuery};

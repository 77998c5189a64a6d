//! Query execution over a snapshot: the search layer.
//!
//! `txn` owns snapshots as views of one commit (segments, delete sets, pins); this layer runs
//! queries over them and never changes them, so `txn` never imports it.
//!
//! - `dense`: exact and IVF-PQ vector search, one query or a batch, with re-ranking.
//! - `text`: BM25 and learned-sparse search with snapshot-wide live-row statistics, document
//!   stored text.
//! - `docset`: per-segment document sets that restrict any search.
//! - `filter`: filter expressions, compiled against one snapshot into a document set.

mod dense;
mod docset;
mod filter;
mod text;

pub use dense::{QueryStats, SearchParams};
pub use docset::DocFilter;
pub use filter::{CmpOp, Filter, Literal};
pub use text::{TextHit, TextQuery};

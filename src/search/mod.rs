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
//! - `query`: one query over every source (dense, BM25, sparse) with a filter, fused and
//!   paginated; one hit type; `get` by key.
//! - `fusion`: RRF, convex combinations of normalised scores, DBSF.
//! - `prf`: pseudo-relevance feedback (Rocchio for dense queries, RM3 for text).
//! - `tune`: training pairs (given or mined) and the tuning of the index's model for ranking.

mod dense;
mod docset;
mod filter;
pub mod fusion;
mod prf;
mod query;
mod text;
mod tune;

pub use dense::{QueryStats, SearchParams};
pub use docset::DocFilter;
pub use filter::{CmpOp, Filter, Literal};
pub use fusion::{FusionMethod, Normalization};
pub use prf::{Rm3, Rocchio};
pub use query::{
    DEFAULT_DEPTH, DenseQuery, DocAddress, Query, QueryHit, QueryResult, Source, SourceScore,
    StoredDoc, score_kind,
};
pub use text::{TextHit, TextQuery};
pub use tune::{TunePairs, TuneReport};

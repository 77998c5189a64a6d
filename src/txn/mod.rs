//! Transactions: manifests, the commit protocol, snapshots, recovery, merges and garbage
//! collection. docs/TRANSACTIONS.md describes the protocol this module implements.
//!
//! - `manifest`: the per-commit file that names every live segment component.
//! - `writer`: [`Index`] (the single writer), [`WriteTxn`], commit and recovery, GC.
//! - `snapshot`: [`Snapshot`], immutable views of one commit, and file pinning.
//! - `text`: BM25 and sparse-vector search over a snapshot, document filters.
//! - `merge`: the tiered merge policy and the background merge thread.
//! - `reader`: [`Reader`], snapshot sources for other threads and read-only processes.

pub mod manifest;
mod merge;
mod reader;
mod snapshot;
mod text;
mod writer;

pub use merge::MergePolicy;
pub use reader::Reader;
pub use snapshot::{QueryStats, SearchParams, Snapshot, SnapshotSegment};
pub use text::{DocFilter, TextHit, TextQuery};
pub use writer::{Document, Index, IndexOptions, LOCK_FILE, WriteTxn};

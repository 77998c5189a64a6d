//! Transactions: manifests, the commit protocol, snapshots, recovery, merges and garbage
//! collection. docs/TRANSACTIONS.md describes the protocol this module implements.
//!
//! - `manifest`: the per-commit file that names every live segment component.
//! - `commit`: the writer's shared state, building segments, publishing a manifest, GC.
//! - `writer`: [`Index`] (the single writer), [`WriteTxn`], recovery.
//! - `snapshot`: [`Snapshot`], immutable views of one commit, and file pinning.
//! - `policy`: the tiered merge policy.
//! - `merge`: merging segments and the background merge thread.
//!
//! Queries over snapshots are run by the search layer (`crate::search`), beside this one.
//! - `reader`: [`Reader`], snapshot sources for other threads and read-only processes.

mod commit;
pub mod manifest;
mod merge;
mod policy;
mod reader;
mod snapshot;
mod writer;

pub use policy::MergePolicy;
pub use reader::Reader;
pub use snapshot::{Snapshot, SnapshotSegment};
pub use writer::{Document, Index, IndexOptions, LOCK_FILE, OwnedTxn, Txn, WriteTxn};

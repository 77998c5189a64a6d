//! strata: an embedded retrieval engine.
#![deny(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::host_endian_bytes
)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::indexing_slicing))]
#![warn(missing_docs)]

pub mod dense;
pub mod error;
pub mod eval;
pub mod format;
pub mod input;
pub mod io;
pub mod rng;
pub mod schema;
pub mod search;
pub mod segment;
pub mod sparse;
pub mod text;
pub mod txn;
pub mod types;

pub use error::{Error, Result};
pub use schema::{DenseIndex, IvfPqParams, Schema, VectorStorage};
pub use search::{
    DocFilter, Filter, FusionMethod, Normalization, Query, QueryHit, QueryResult, QueryStats, Rm3,
    Rocchio, SearchParams, Source, TextHit, TextQuery,
};
pub use txn::{Document, Index, IndexOptions, MergePolicy, OwnedTxn, Reader, Snapshot, WriteTxn};
pub use types::{AttrKind, AttrValue, Hit, Key, KeyKind, Metric, Vector};

#[cfg(target_endian = "big")]
compile_error!(
    "strata's file format is little-endian and maps vectors in place: big-endian hosts are not supported"
);

/// The README's example, compiled and run as a doc test.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

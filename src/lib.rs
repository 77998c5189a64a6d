//! strata: an embedded retrieval engine.
#![deny(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::host_endian_bytes
)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::indexing_slicing))]
#![warn(missing_docs)]
// Without `internals`, the docs of the re-exported query types link into crate-private modules.
#![cfg_attr(
    not(feature = "internals"),
    allow(rustdoc::private_intra_doc_links, rustdoc::broken_intra_doc_links)
)]

/// Declares a module that is public with the `internals` feature and crate-private without it.
macro_rules! internal_mod {
    ($(#[$m:meta])* $name:ident) => {
        #[cfg(feature = "internals")]
        $(#[$m])*
        pub mod $name;
        #[cfg(not(feature = "internals"))]
        $(#[$m])*
        #[allow(dead_code, unused_imports)]
        pub(crate) mod $name;
    };
}

internal_mod!(dense);
pub mod calibrate;
pub mod error;
pub mod eval;
internal_mod!(format);
pub mod input;
pub mod io;
internal_mod!(rng);
pub mod schema;
pub mod search;
internal_mod!(segment);
internal_mod!(sparse);
pub mod text;
pub mod txn;
pub mod types;

pub use dense::ivf::{EpochReport, IvfModel, TuneConfig};
pub use error::{Error, Result};
pub use schema::{DenseIndex, IvfPqParams, Schema, VectorStorage};
pub use search::{
    DocFilter, Filter, FusionMethod, Normalization, Query, QueryHit, QueryResult, QueryStats, Rm3,
    Rocchio, SearchParams, Source, TextHit, TextQuery, TunePairs, TuneReport,
};
pub use sparse::query::{Algorithm, Bm25};
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

//! strata: an embedded retrieval engine.
#![deny(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::indexing_slicing, clippy::host_endian_bytes)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::indexing_slicing))]
#![warn(missing_docs)]

pub mod error;
pub mod format;
pub mod io;
pub mod types;

pub use error::{Error, Result};
pub use types::{Hit, Key, KeyKind, Metric};

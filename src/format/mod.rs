//! On-disk encoding: the fixed trailer every file ends with, checksums, and the one
//! bounds-checked little-endian codec all decoding goes through.
//!
//! Nothing above this module calls `from_le_bytes` or indexes into raw file bytes: a corrupt or
//! truncated file surfaces as [`Error::Corrupt`](crate::Error::Corrupt) from here, never as a
//! panic. The byte layout is specified in `docs/FORMAT.md`.

mod codec;
mod trailer;

pub use codec::{ByteReader, ByteWriter, u32_at, u64_at};
pub use trailer::{FileKind, FormatVersion, TRAILER_LEN, Trailer, checksum, seal, seal_as, unseal};

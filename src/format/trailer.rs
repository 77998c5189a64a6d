//! The fixed 32-byte trailer that ends every strata file.
//!
//! ```text
//! offset size field
//!  0      8   body length in bytes (u64 LE); the file is exactly body + trailer
//!  8      4   CRC-32C of the body
//! 12      2   file kind (u16 LE, see FileKind)
//! 14      2   format version (u16 LE, see FormatVersion)
//! 16      4   reserved, zero
//! 20      4   CRC-32C of trailer bytes 0..20
//! 24      8   magic b"STRATA\x1a\x01"
//! ```
//!
//! A trailer at the end (rather than a header) lets writers stream the body and seal it last;
//! a file cut short anywhere loses its trailer and is rejected on open.

use crate::error::{Error, Result};

/// Length of the trailer in bytes.
pub const TRAILER_LEN: usize = 32;

const MAGIC: [u8; 8] = *b"STRATA\x1a\x01";

/// CRC-32C (Castagnoli) of `bytes`, hardware accelerated where the CPU has it.
pub fn checksum(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

/// The format versions this build knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FormatVersion {
    /// The first format: manifest, flat vector, key and delete files, and the IVF-PQ,
    /// inverted and stored components.
    V1 = 1,
    /// The manifest carries the index's id (16 bytes after the next segment id), so recovery
    /// can tell a manifest of another index from this one's. Other file kinds are unchanged.
    V2 = 2,
    /// The manifest names the index's trained IVF-PQ model (`model-<gen>.mdl`, kind 9) and
    /// the generation before it; IVF-PQ files carry the lineage id of the model their codes
    /// were encoded with (centroid encoding 3).
    V3 = 3,
}

impl FormatVersion {
    /// The version this build writes.
    pub const CURRENT: FormatVersion = FormatVersion::V3;
    /// The oldest version this build reads.
    pub const OLDEST_READABLE: FormatVersion = FormatVersion::V1;

    /// Maps a stored number to a known version.
    pub fn from_u16(v: u16) -> Option<FormatVersion> {
        match v {
            1 => Some(FormatVersion::V1),
            2 => Some(FormatVersion::V2),
            3 => Some(FormatVersion::V3),
            _ => None,
        }
    }
}

/// What a file holds; stored in its trailer so a file can never be read as another kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// A manifest: schema plus the segments and deletes of one commit.
    Manifest = 1,
    /// A segment's full-precision vectors.
    Vectors = 2,
    /// A segment's external keys.
    Keys = 3,
    /// One generation of a segment's deleted rows (a roaring bitmap).
    Deletes = 4,
    /// A segment's IVF-PQ index: centroids, codebooks, lists of codes and row ids.
    Ivf = 5,
    /// A segment's inverted index: per text or sparse field a term dictionary, postings and
    /// document lengths.
    Inverted = 6,
    /// A segment's stored fields, in zstd-compressed blocks.
    Stored = 7,
    /// A segment's metadata attributes: per attribute a value column and its index.
    Attrs = 8,
    /// One generation of the index's trained IVF-PQ model: centroids and codebooks.
    Model = 9,
}

impl FileKind {
    /// The kinds written with a segment (generation 0), every one a segment may have.
    pub const SEGMENT_FILES: [FileKind; 6] = [
        FileKind::Vectors,
        FileKind::Keys,
        FileKind::Ivf,
        FileKind::Inverted,
        FileKind::Stored,
        FileKind::Attrs,
    ];

    /// Maps a stored number to a kind.
    pub fn from_u16(v: u16) -> Option<FileKind> {
        match v {
            1 => Some(FileKind::Manifest),
            2 => Some(FileKind::Vectors),
            3 => Some(FileKind::Keys),
            4 => Some(FileKind::Deletes),
            5 => Some(FileKind::Ivf),
            6 => Some(FileKind::Inverted),
            7 => Some(FileKind::Stored),
            8 => Some(FileKind::Attrs),
            9 => Some(FileKind::Model),
            _ => None,
        }
    }

    /// Every kind, for tests that damage each one.
    pub const ALL: [FileKind; 9] = [
        FileKind::Manifest,
        FileKind::Vectors,
        FileKind::Keys,
        FileKind::Deletes,
        FileKind::Ivf,
        FileKind::Inverted,
        FileKind::Stored,
        FileKind::Attrs,
        FileKind::Model,
    ];
}

/// A decoded trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    /// Length of the body.
    pub body_len: u64,
    /// CRC-32C of the body.
    pub body_crc: u32,
    /// The file kind.
    pub kind: FileKind,
    /// The format version.
    pub version: FormatVersion,
}

impl Trailer {
    fn encode(&self) -> [u8; TRAILER_LEN] {
        let mut t = [0u8; TRAILER_LEN];
        t[0..8].copy_from_slice(&self.body_len.to_le_bytes());
        t[8..12].copy_from_slice(&self.body_crc.to_le_bytes());
        t[12..14].copy_from_slice(&(self.kind as u16).to_le_bytes());
        t[14..16].copy_from_slice(&(self.version as u16).to_le_bytes());
        let crc = checksum(&t[0..20]);
        t[20..24].copy_from_slice(&crc.to_le_bytes());
        t[24..32].copy_from_slice(&MAGIC);
        t
    }
}

/// Appends the trailer for `kind` to `body`, producing the complete file bytes.
pub fn seal(kind: FileKind, body: Vec<u8>) -> Vec<u8> {
    seal_as(kind, FormatVersion::CURRENT, body)
}

/// [`seal`] with an explicit format version, for a file whose body is laid out as that
/// version lays it out (a format-1 manifest read back and written again).
pub fn seal_as(kind: FileKind, version: FormatVersion, mut body: Vec<u8>) -> Vec<u8> {
    let t = Trailer {
        body_len: body.len() as u64,
        body_crc: checksum(&body),
        kind,
        version,
    };
    body.extend_from_slice(&t.encode());
    body
}

/// Checks the trailer of `bytes` (the whole file named `file`) and returns the body.
///
/// Structure (length, magic, trailer checksum, kind, version) is always checked; the body
/// checksum only when `verify_body` is set, since it costs a pass over the bytes.
pub fn unseal<'a>(
    file: &str,
    bytes: &'a [u8],
    expected: FileKind,
    verify_body: bool,
) -> Result<(&'a [u8], Trailer)> {
    let len = bytes.len();
    let Some(body_end) = len.checked_sub(TRAILER_LEN) else {
        return Err(Error::corrupt(
            file,
            0,
            format!("{len} bytes is too short for a trailer"),
        ));
    };
    let (body, t) = bytes.split_at(body_end);
    let at = body_end as u64;
    let mut r = super::ByteReader::with_base(file, t, at);
    let body_len = r.u64("body length")?;
    let body_crc = r.u32("body checksum")?;
    let kind = r.u16("file kind")?;
    let version = r.u16("format version")?;
    let _reserved = r.u32("reserved")?;
    let trailer_crc = r.u32("trailer checksum")?;
    let magic = r.take(8, "magic")?;
    if magic != MAGIC {
        return Err(Error::corrupt(
            file,
            at + 24,
            "bad magic: not a strata file or truncated",
        ));
    }
    if t.get(0..20).map(checksum) != Some(trailer_crc) {
        return Err(Error::corrupt(file, at + 20, "trailer checksum mismatch"));
    }
    let Some(version) = FormatVersion::from_u16(version) else {
        return Err(Error::UnsupportedVersion {
            file: file.to_owned(),
            found: version,
        });
    };
    if version < FormatVersion::OLDEST_READABLE {
        return Err(Error::UnsupportedVersion {
            file: file.to_owned(),
            found: version as u16,
        });
    }
    match FileKind::from_u16(kind) {
        Some(k) if k == expected => {}
        _ => {
            return Err(Error::corrupt(
                file,
                at + 12,
                format!(
                    "file kind {kind}, expected {} ({expected:?})",
                    expected as u16
                ),
            ));
        }
    }
    if body_len != body.len() as u64 {
        return Err(Error::corrupt(
            file,
            at,
            format!(
                "trailer says {body_len} body bytes, file has {}",
                body.len()
            ),
        ));
    }
    if verify_body && checksum(body) != body_crc {
        return Err(Error::corrupt(file, 0, "body checksum mismatch"));
    }
    Ok((
        body,
        Trailer {
            body_len,
            body_crc,
            kind: expected,
            version,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn seal_unseal_round_trip(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let file = seal(FileKind::Keys, body.clone());
            let (b, t) = unseal("f", &file, FileKind::Keys, true).unwrap();
            prop_assert_eq!(b, body.as_slice());
            prop_assert_eq!(t.kind, FileKind::Keys);
        }

        #[test]
        fn any_bit_flip_or_cut_is_detected(body in proptest::collection::vec(any::<u8>(), 1..200),
                                           pos in any::<prop::sample::Index>(), bit in 0u8..8,
                                           cut in any::<prop::sample::Index>()) {
            let file = seal(FileKind::Deletes, body);
            let mut flipped = file.clone();
            let i = pos.index(flipped.len());
            flipped[i] ^= 1 << bit;
            prop_assert!(unseal("f", &flipped, FileKind::Deletes, true).is_err());
            let c = cut.index(file.len());
            prop_assert!(unseal("f", &file[..c], FileKind::Deletes, true).is_err());
        }
    }

    #[test]
    fn wrong_kind_is_rejected() {
        let file = seal(FileKind::Keys, vec![1, 2, 3]);
        let err = unseal("k", &file, FileKind::Vectors, true).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    }
}

//! The keys component: the external key of every row.
//!
//! Body: `kind u8` (1 = u64, 2 = string), `rows u64`, then for u64 keys `rows` u64 values; for
//! string keys `rows + 1` u64 offsets (first 0, non-decreasing, last = byte length) and the
//! concatenated UTF-8 bytes.
//!
//! An open segment keeps the file mapped as a [`KeyColumn`] and decodes a key only when a
//! result (or a tie) needs it, so keys cost no resident memory; the whole column is validated
//! once when the segment is opened.

use crate::error::Result;
use crate::format::{ByteReader, ByteWriter, TRAILER_LEN};
use crate::io::FileBytes;
use crate::types::{Key, KeyKind};

/// Encodes `keys`, which all have kind `kind`.
pub fn encode(kind: KeyKind, keys: &[Key]) -> Vec<u8> {
    let mut w = ByteWriter::new();
    match kind {
        KeyKind::U64 => {
            w.u8(1);
            w.len(keys.len());
            for k in keys {
                w.u64(if let Key::U64(v) = k { *v } else { 0 });
            }
        }
        KeyKind::Str => {
            w.u8(2);
            w.len(keys.len());
            let mut off = 0u64;
            w.u64(0);
            for k in keys {
                if let Key::Str(s) = k {
                    off += s.len() as u64;
                }
                w.u64(off);
            }
            for k in keys {
                if let Key::Str(s) = k {
                    w.raw(s.as_bytes());
                }
            }
        }
    }
    w.into_inner()
}

const HEADER: usize = 9;

/// The keys of one segment, decoded on demand from the (mapped) file.
#[derive(Debug, Clone)]
pub struct KeyColumn {
    file: FileBytes,
    kind: KeyKind,
    rows: usize,
}

impl KeyColumn {
    /// Validates the keys file `file` (whole bytes whose trailer was already checked) and wraps
    /// it.
    pub fn open(name: &str, file: FileBytes, kind: KeyKind, rows: u64) -> Result<KeyColumn> {
        let body_len = file.len().saturating_sub(TRAILER_LEN);
        KeyColumn::open_body(name, file, body_len, kind, rows)
    }

    /// Like [`KeyColumn::open`], for bytes whose first `body_len` bytes are the body.
    pub fn open_body(
        name: &str,
        file: FileBytes,
        body_len: usize,
        kind: KeyKind,
        rows: u64,
    ) -> Result<KeyColumn> {
        let body = file.get(..body_len).unwrap_or_default();
        let mut r = ByteReader::new(name, body);
        let k = r.u8("key kind")?;
        let want = match kind {
            KeyKind::U64 => 1,
            KeyKind::Str => 2,
        };
        if k != want {
            return Err(r.corrupt(format!("key kind {k}, schema wants {want}")));
        }
        let n = r.len(8, "key count")?;
        if n as u64 != rows {
            return Err(r.corrupt(format!("{n} keys for {rows} rows")));
        }
        match kind {
            KeyKind::U64 => {
                r.take(n * 8, "keys")?;
            }
            KeyKind::Str => {
                let offs = r.u64_vec(n + 1, "key offsets")?;
                let bytes = r.take(r.remaining(), "key bytes")?;
                if offs.first() != Some(&0) || offs.last() != Some(&(bytes.len() as u64)) {
                    return Err(r.corrupt("key offsets do not span the key bytes"));
                }
                for w in offs.windows(2) {
                    let (a, b) = (
                        w.first().copied().unwrap_or(0),
                        w.get(1).copied().unwrap_or(0),
                    );
                    let ok = a <= b
                        && bytes
                            .get(a as usize..b as usize)
                            .is_some_and(|s| std::str::from_utf8(s).is_ok());
                    if !ok {
                        return Err(r.corrupt("key offsets decrease or a key is not UTF-8"));
                    }
                }
            }
        }
        r.finish("keys")?;
        Ok(KeyColumn {
            file,
            kind,
            rows: n,
        })
    }

    fn u64_at(&self, at: usize) -> Option<u64> {
        crate::format::u64_at(&self.file, at)
    }

    /// The key of `row`.
    pub fn get(&self, row: usize) -> Option<Key> {
        if row >= self.rows {
            return None;
        }
        match self.kind {
            KeyKind::U64 => self.u64_at(HEADER + row * 8).map(Key::U64),
            KeyKind::Str => {
                let (a, b) = (
                    self.u64_at(HEADER + row * 8)?,
                    self.u64_at(HEADER + row * 8 + 8)?,
                );
                let base = HEADER + (self.rows + 1) * 8;
                let s = self.file.get(base + a as usize..base + b as usize)?;
                std::str::from_utf8(s).ok().map(|s| Key::Str(s.to_owned()))
            }
        }
    }

    /// Every key in row order.
    pub fn to_vec(&self) -> Vec<Key> {
        (0..self.rows).filter_map(|r| self.get(r)).collect()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }
}

/// Decodes a keys body into a list (tests and fuzzing).
pub fn decode(file: &str, body: &[u8], kind: KeyKind, rows: u64) -> Result<Vec<Key>> {
    KeyColumn::open_body(file, FileBytes::copy_from(body), body.len(), kind, rows)
        .map(|c| c.to_vec())
}

//! The keys component: the external key of every row.
//!
//! Body: `kind u8` (1 = u64, 2 = string), `rows u64`, then for u64 keys `rows` u64 values; for
//! string keys `rows + 1` u64 offsets (first 0, non-decreasing, last = byte length) and the
//! concatenated UTF-8 bytes.

use crate::error::Result;
use crate::format::{ByteReader, ByteWriter};
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

/// Decodes a keys body, checking kind and row count.
pub fn decode(file: &str, body: &[u8], kind: KeyKind, rows: u64) -> Result<Vec<Key>> {
    let mut r = ByteReader::new(file, body);
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
    let mut keys = Vec::with_capacity(n);
    match kind {
        KeyKind::U64 => {
            for _ in 0..n {
                keys.push(Key::U64(r.u64("key")?));
            }
        }
        KeyKind::Str => {
            let mut offs = Vec::with_capacity(n + 1);
            for _ in 0..=n {
                offs.push(r.u64("key offset")?);
            }
            let bytes = r.take(r.remaining(), "key bytes")?;
            let mut prev = 0u64;
            if offs.first() != Some(&0) || offs.last() != Some(&(bytes.len() as u64)) {
                return Err(r.corrupt("key offsets do not span the key bytes"));
            }
            for &o in offs.iter().skip(1) {
                if o < prev {
                    return Err(r.corrupt("key offsets decrease"));
                }
                let s = bytes
                    .get(prev as usize..o as usize)
                    .and_then(|b| std::str::from_utf8(b).ok())
                    .ok_or_else(|| r.corrupt("key is not UTF-8 or out of range"))?;
                keys.push(Key::Str(s.to_owned()));
                prev = o;
            }
        }
    }
    r.finish("keys")?;
    Ok(keys)
}

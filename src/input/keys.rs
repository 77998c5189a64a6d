//! Key files: UTF-8 text, one key per line.
//!
//! Line `i + 1` holds the key of row `i` (of the vectors the keys go with), so errors name the
//! 0-based row and say the 1-based line. Lines end in `\n`; a `\r` before it is dropped, so files
//! written on Windows read the same. A final line ending is optional, and a leading byte-order
//! mark is skipped. A blank (empty or whitespace-only) line is an error rather than an empty
//! key: it is almost always a stray line that would shift every key after it. Keys are taken
//! exactly as written otherwise (no trimming).

use crate::error::{Error, Result};
use std::path::Path;

/// Reads a key file: one key per line.
pub fn read_keys(path: &Path) -> Result<Vec<String>> {
    let (name, bytes) = super::read_file(path)?;
    parse_keys(&name, &bytes)
}

/// Parses the bytes of a key file (see the module docs).
pub(super) fn parse_keys(file: &str, bytes: &[u8]) -> Result<Vec<String>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let valid = bytes.get(..e.valid_up_to()).unwrap_or_default();
        let row = valid.iter().filter(|&&b| b == b'\n').count();
        Error::input(
            file,
            Some(row as u64),
            format!("line {} is not valid UTF-8", row + 1),
        )
    })?;
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let body = text.strip_suffix('\n').unwrap_or(text);
    let mut keys = Vec::new();
    for (row, line) in body.split('\n').enumerate() {
        let key = line.strip_suffix('\r').unwrap_or(line);
        if key.trim().is_empty() {
            let what = format!("line {} is blank; every line must hold one key", row + 1);
            return Err(Error::input(file, Some(row as u64), what));
        }
        keys.push(key.to_owned());
    }
    Ok(keys)
}

/// Parses every key as a `u64` (for indexes whose schema has integer keys). `keys[i]` is taken to
/// come from line `i + 1` of `file`; surrounding whitespace is ignored.
pub fn parse_u64_keys(file: &str, keys: &[String]) -> Result<Vec<u64>> {
    keys.iter()
        .enumerate()
        .map(|(row, key)| {
            key.trim().parse::<u64>().map_err(|_| {
                let what = format!(
                    "key '{}' on line {} is not an unsigned 64-bit integer",
                    shorten(key),
                    row + 1
                );
                Error::input(file, Some(row as u64), what)
            })
        })
        .collect()
}

/// At most 40 characters of `key`, for messages.
fn shorten(key: &str) -> String {
    match key.char_indices().nth(40) {
        Some((at, _)) => format!("{}...", key.get(..at).unwrap_or_default()),
        None => key.to_owned(),
    }
}

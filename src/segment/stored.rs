//! The stored-fields component of a segment (`seg-<id>.doc`): the original text of the
//! stored text fields, row by row, in zstd-compressed blocks.
//!
//! A row is, for each stored field in schema order, a u32 byte length and that many bytes of
//! UTF-8. Rows are packed into blocks of at least [`BLOCK_BYTES`] uncompressed bytes (the last
//! block may be shorter), each compressed as one zstd frame. Body layout:
//!
//! | bytes | field |
//! |---|---|
//! | … | the compressed blocks, back to back |
//! | 8 | number of blocks B (u64) |
//! | B × 16 | per block: first row u32, compressed length u32, offset u64 |
//! | 8 | offset of the block table |
//!
//! Reading one row decompresses its block (a few KiB): stored fields are for showing results,
//! never on the scoring path.

use crate::error::{Error, Result};
use crate::format::{ByteReader, ByteWriter, u64_at};
use crate::io::FileBytes;

/// Uncompressed bytes per block (at least).
pub const BLOCK_BYTES: usize = 16 * 1024;

/// zstd level: fast to write, still a good ratio on prose.
const LEVEL: i32 = 3;

/// Encodes `rows`, each a list of the stored fields' texts in schema order.
pub fn encode<'a>(rows: impl Iterator<Item = Vec<&'a str>>) -> Result<Vec<u8>> {
    let mut out = ByteWriter::new();
    let mut table: Vec<(u32, u32, u64)> = Vec::new();
    let mut block = Vec::new();
    let mut first = 0u32;
    let mut n = 0u32;
    let mut flush = |block: &mut Vec<u8>, first: u32, out: &mut ByteWriter| -> Result<()> {
        let z = zstd::bulk::compress(block, LEVEL)
            .map_err(|e| Error::InvalidArgument(format!("zstd compression failed: {e}")))?;
        table.push((first, z.len() as u32, out.len_bytes() as u64));
        out.raw(&z);
        block.clear();
        Ok(())
    };
    for row in rows {
        if block.len() >= BLOCK_BYTES {
            flush(&mut block, first, &mut out)?;
            first = n;
        }
        for s in row {
            block.extend_from_slice(&(s.len() as u32).to_le_bytes());
            block.extend_from_slice(s.as_bytes());
        }
        n += 1;
    }
    if !block.is_empty() || n > first {
        flush(&mut block, first, &mut out)?;
    }
    let at = out.len_bytes() as u64;
    out.len(table.len());
    for (f, l, o) in &table {
        out.u32(*f);
        out.u32(*l);
        out.u64(*o);
    }
    out.u64(at);
    Ok(out.into_inner())
}

/// An opened stored-fields component.
#[derive(Debug)]
pub struct StoredFields {
    name: String,
    file: FileBytes,
    /// (first row, offset, compressed length) per block.
    blocks: Vec<(u32, usize, usize)>,
    rows: u64,
    fields: usize,
}

impl StoredFields {
    /// Checks and opens the component `name` (first `body_len` bytes are the body) of a
    /// segment of `rows` rows with `fields` stored fields.
    pub fn decode(
        name: &str,
        file: FileBytes,
        body_len: usize,
        rows: u64,
        fields: usize,
    ) -> Result<StoredFields> {
        let body = file.get(..body_len).unwrap_or_default();
        let at = body
            .len()
            .checked_sub(8)
            .and_then(|p| u64_at(body, p))
            .ok_or_else(|| Error::corrupt(name, 0, "stored fields body too short"))?;
        let table = body
            .get(at as usize..body.len().saturating_sub(8))
            .ok_or_else(|| Error::corrupt(name, at, "block table outside the body"))?;
        let mut r = ByteReader::with_base(name, table, at);
        let n = r.len(16, "block count")?;
        let mut blocks = Vec::with_capacity(n);
        let mut prev: Option<u32> = None;
        for _ in 0..n {
            let first = r.u32("first row")?;
            let len = r.u32("block length")? as usize;
            let off = r.u64("block offset")?;
            let end = off.checked_add(len as u64).filter(|&e| e <= at);
            if end.is_none() || prev.is_some_and(|p| first <= p) || u64::from(first) >= rows {
                return Err(r.corrupt(format!(
                    "block at {off}+{len} (first row {first}) is invalid"
                )));
            }
            prev = Some(first);
            blocks.push((first, off as usize, len));
        }
        r.finish("block table")?;
        if rows > 0 && blocks.first().map(|b| b.0) != Some(0) {
            return Err(Error::corrupt(
                name,
                at,
                "the first block does not start at row 0",
            ));
        }
        Ok(StoredFields {
            name: name.to_owned(),
            file,
            blocks,
            rows,
            fields,
        })
    }

    /// The stored texts of `row`, in schema order of the stored fields.
    pub fn get(&self, row: u32) -> Result<Vec<String>> {
        if u64::from(row) >= self.rows {
            return Err(Error::InvalidArgument(format!(
                "row {row} is past the {} rows of {}",
                self.rows, self.name
            )));
        }
        let i = self
            .blocks
            .partition_point(|b| b.0 <= row)
            .saturating_sub(1);
        let (first, raw) = self.block(i)?;
        let mut r = ByteReader::new(&self.name, &raw);
        for _ in first..row {
            self.read_row(&mut r, false)?;
        }
        self.read_row(&mut r, true)
    }

    /// Block `i`: its first row and its decompressed bytes.
    fn block(&self, i: usize) -> Result<(u32, Vec<u8>)> {
        let &(first, off, len) = self
            .blocks
            .get(i)
            .ok_or_else(|| Error::corrupt(&self.name, 0, "no block holds the row"))?;
        let z = self
            .file
            .get(off..off + len)
            .ok_or_else(|| Error::corrupt(&self.name, off as u64, "block outside the file"))?;
        let raw = zstd::stream::decode_all(z)
            .map_err(|e| Error::corrupt(&self.name, off as u64, format!("zstd: {e}")))?;
        Ok((first, raw))
    }

    /// Reads the next row of a block; its texts if `keep`, else skips them.
    fn read_row(&self, r: &mut ByteReader<'_>, keep: bool) -> Result<Vec<String>> {
        let mut out = Vec::with_capacity(if keep { self.fields } else { 0 });
        for _ in 0..self.fields {
            let n = r.u32("text length")? as usize;
            let b = r.take(n, "text")?;
            if keep {
                let t =
                    std::str::from_utf8(b).map_err(|_| r.corrupt("stored text is not UTF-8"))?;
                out.push(t.to_owned());
            }
        }
        Ok(out)
    }

    /// Every row's stored texts, decompressing each block once (for merges).
    pub fn all(&self) -> Result<Vec<Vec<String>>> {
        let mut out = Vec::with_capacity(self.rows as usize);
        for i in 0..self.blocks.len() {
            let end = self.blocks.get(i + 1).map_or(self.rows, |b| u64::from(b.0));
            let (first, raw) = self.block(i)?;
            let mut r = ByteReader::new(&self.name, &raw);
            for _ in u64::from(first)..end {
                out.push(self.read_row(&mut r, true)?);
            }
        }
        if out.len() as u64 != self.rows {
            return Err(Error::corrupt(
                &self.name,
                0,
                "blocks hold fewer rows than the segment",
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_across_blocks() {
        let rows: Vec<Vec<String>> = (0..3000)
            .map(|i| vec![format!("title {i}"), "body text ".repeat(i % 17)])
            .collect();
        let body = encode(rows.iter().map(|r| r.iter().map(String::as_str).collect())).unwrap();
        let len = body.len();
        let s = StoredFields::decode("t.doc", FileBytes::copy_from(&body), len, 3000, 2).unwrap();
        assert!(s.blocks.len() > 1);
        for i in [0u32, 1, 777, 2999] {
            assert_eq!(s.get(i).unwrap(), rows[i as usize]);
        }
        assert_eq!(s.all().unwrap(), rows);
        assert!(s.get(3000).is_err());
    }

    #[test]
    fn damage_is_an_error_not_a_panic() {
        let rows: Vec<Vec<&str>> = (0..200).map(|_| vec!["some stored text"]).collect();
        let body = encode(rows.into_iter()).unwrap();
        for cut in 0..body.len() {
            let b = FileBytes::copy_from(&body[..cut]);
            if let Ok(s) = StoredFields::decode("t.doc", b, cut, 200, 1) {
                let _ = s.get(199);
            }
        }
        for i in 0..body.len() {
            let mut d = body.clone();
            d[i] ^= 0x5a;
            if let Ok(s) = StoredFields::decode("t.doc", FileBytes::copy_from(&d), d.len(), 200, 1)
            {
                let _ = s.get(0);
                let _ = s.get(150);
            }
        }
    }
}

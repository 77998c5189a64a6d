//! Reading postings lists in place: [`PostingsList`] (header and block table) and
//! [`PostingsCursor`] (lazy block-at-a-time decoding).

use super::bitpack::{packed_len, unpack};
use super::{ENTRY_LEN, HEADER_LEN};
use crate::error::{Error, Result};
use crate::format::{ByteReader, u32_at};
use crate::sparse::{BLOCK_LEN, BlockMeta, DocCursor, TERMINATED};

/// One parsed postings list: its header and borrowed slices of its block table and data.
/// Cheap to copy.
#[derive(Debug, Clone, Copy)]
pub struct PostingsList<'a> {
    df: u32,
    num_blocks: usize,
    /// `num_blocks` entries of [`ENTRY_LEN`] bytes.
    table: &'a [u8],
    /// The block data area.
    data: &'a [u8],
}

impl<'a> PostingsList<'a> {
    /// Parses the list starting at `offset` in `bytes` (the whole postings area of a file
    /// named `file`). Checks the header and the block table, and that every block's data lies
    /// inside `bytes`, without decoding any block.
    pub fn open(file: &'a str, bytes: &'a [u8], offset: u64) -> Result<PostingsList<'a>> {
        let rest = usize::try_from(offset)
            .ok()
            .and_then(|at| bytes.get(at..))
            .ok_or_else(|| {
                Error::corrupt(
                    file,
                    offset,
                    format!(
                        "postings list offset {offset} lies past the {} bytes of postings",
                        bytes.len()
                    ),
                )
            })?;
        let mut r = ByteReader::with_base(file, rest, offset);
        let df = r.u32("postings df")?;
        let num_blocks = r.u32("postings block count")?;
        if num_blocks != df.div_ceil(BLOCK_LEN as u32) {
            return Err(Error::corrupt(
                file,
                offset + 4,
                format!("postings: {num_blocks} blocks for df {df}"),
            ));
        }
        let num_blocks = num_blocks as usize;
        let table_at = offset + HEADER_LEN as u64;
        let table_len = num_blocks
            .checked_mul(ENTRY_LEN)
            .ok_or_else(|| r.corrupt("postings block table: length overflows"))?;
        let table = r.take(table_len, "postings block table")?;
        let data_len = validate_table(file, table_at, table, df)?;
        let data = r.take(data_len, "postings block data")?;
        Ok(PostingsList {
            df,
            num_blocks,
            table,
            data,
        })
    }

    /// Number of postings.
    pub fn df(&self) -> u32 {
        self.df
    }

    /// Number of blocks (⌈df / 128⌉).
    pub fn num_blocks(&self) -> usize {
        self.num_blocks
    }

    /// Metadata of block `i`, or `None` past the last block.
    pub fn block_meta(&self, i: usize) -> Option<BlockMeta> {
        let at = i.checked_mul(ENTRY_LEN)?;
        Some(BlockMeta {
            last_doc: u32_at(self.table, at)?,
            max_freq: u32_at(self.table, at + 4)?,
            min_len: u32_at(self.table, at + 8)?,
        })
    }

    /// A cursor positioned on the first posting.
    pub fn cursor(&self) -> PostingsCursor<'a> {
        let mut c = PostingsCursor {
            list: *self,
            block: 0,
            pos: 0,
            len: 0,
            doc: TERMINATED,
            shallow: 0,
            docs: [0; BLOCK_LEN],
            freqs: [0; BLOCK_LEN],
        };
        c.load(0);
        c
    }

    /// Byte length of the encoded list.
    pub fn byte_len(&self) -> usize {
        HEADER_LEN + self.table.len() + self.data.len()
    }

    /// `last_doc` of block `i` (`TERMINATED` past the end, which no real block reaches).
    #[inline]
    fn last_doc(&self, i: usize) -> u32 {
        u32_at(self.table, i * ENTRY_LEN).unwrap_or(TERMINATED)
    }

    /// End of block `i`'s data in the data area (0 for "block -1").
    #[inline]
    fn data_end(&self, i: usize) -> usize {
        u32_at(self.table, i * ENTRY_LEN + 12).unwrap_or(0) as usize
    }

    /// Postings in block `i`.
    #[inline]
    fn block_count(&self, i: usize) -> usize {
        if i + 1 < self.num_blocks {
            BLOCK_LEN
        } else {
            (self.df as usize)
                .saturating_sub(i * BLOCK_LEN)
                .min(BLOCK_LEN)
        }
    }

    /// Decodes block `b` into `docs` and `freqs`; returns its number of postings, or `None`
    /// if the block is damaged (bad widths or length, or docs that do not end at the table's
    /// `last_doc`).
    fn decode(
        &self,
        b: usize,
        docs: &mut [u32; BLOCK_LEN],
        freqs: &mut [u32; BLOCK_LEN],
    ) -> Option<usize> {
        if b >= self.num_blocks {
            return None;
        }
        let n = self.block_count(b);
        let start = if b == 0 { 0 } else { self.data_end(b - 1) };
        let bytes = self.data.get(start..self.data_end(b))?;
        let (&doc_bits, rest) = bytes.split_first()?;
        let (&freq_bits, rest) = rest.split_first()?;
        if doc_bits > 32 || freq_bits > 32 {
            return None;
        }
        let doc_len = packed_len(n, doc_bits);
        if rest.len() != doc_len + packed_len(n, freq_bits) {
            return None;
        }
        let (doc_bytes, freq_bytes) = rest.split_at_checked(doc_len)?;
        let docs = docs.get_mut(..n)?;
        let freqs = freqs.get_mut(..n)?;
        unpack(doc_bytes, doc_bits, docs);
        unpack(freq_bytes, freq_bits, freqs);

        // Prefix sum in u64: it only grows, so ending at last_doc (< 2^32) proves no doc
        // wrapped and the docs strictly increase.
        let mut next = if b == 0 {
            0
        } else {
            u64::from(self.last_doc(b - 1)) + 1
        };
        for d in docs.iter_mut() {
            next += u64::from(*d);
            *d = next as u32;
            next += 1;
        }
        if next != u64::from(self.last_doc(b)) + 1 {
            return None;
        }
        for f in freqs.iter_mut() {
            *f = f.wrapping_add(1);
        }
        Some(n)
    }
}

/// Checks the block table at `table_at` (an offset for errors): `last_doc`s strictly
/// increase, stay below `TERMINATED` and leave room for each block's postings; `max_freq`
/// ≥ 1; `data_end`s increase by at least the two width bytes. Returns the data area length.
fn validate_table(file: &str, table_at: u64, table: &[u8], df: u32) -> Result<usize> {
    let num_blocks = table.len() / ENTRY_LEN;
    let mut prev_last: Option<u32> = None;
    let mut prev_end = 0u64;
    for (i, e) in table.chunks_exact(ENTRY_LEN).enumerate() {
        let at = table_at + (i * ENTRY_LEN) as u64;
        let bad = |what: String| Error::corrupt(file, at, format!("postings block {i}: {what}"));
        let field = |k: usize| u32_at(e, 4 * k).unwrap_or(0);
        let (last, max_freq, end) = (field(0), field(1), field(3));
        let count = if i + 1 < num_blocks {
            BLOCK_LEN as u64
        } else {
            u64::from(df) - (i * BLOCK_LEN) as u64
        };
        let base = prev_last.map_or(0, |p| u64::from(p) + 1);
        if last == TERMINATED || u64::from(last) + 1 < base + count {
            return Err(bad(format!(
                "last doc {last} leaves no room for {count} docs after doc {prev_last:?}"
            )));
        }
        if max_freq == 0 {
            return Err(bad("max frequency 0".into()));
        }
        if u64::from(end) < prev_end + 2 {
            return Err(bad(format!(
                "data ends at {end}, before its start {prev_end} + 2"
            )));
        }
        prev_last = Some(last);
        prev_end = u64::from(end);
    }
    Ok(prev_end as usize)
}

/// A forward cursor over one [`PostingsList`], decoding one block at a time into fixed
/// buffers. `seek` skips whole blocks through the block table; `block_for` walks the table
/// only, with its own forward-moving index.
#[derive(Debug, Clone)]
pub struct PostingsCursor<'a> {
    list: PostingsList<'a>,
    /// The decoded block (`num_blocks` once terminated).
    block: usize,
    /// Position in the decoded block, and its number of postings.
    pos: usize,
    len: usize,
    /// The current doc (cached `docs[pos]`), or `TERMINATED`.
    doc: u32,
    /// The shallow-seek block index.
    shallow: usize,
    docs: [u32; BLOCK_LEN],
    freqs: [u32; BLOCK_LEN],
}

impl PostingsCursor<'_> {
    /// Decodes block `b` and moves to its first posting; terminates past the end or on a
    /// damaged block.
    fn load(&mut self, b: usize) {
        match self.list.decode(b, &mut self.docs, &mut self.freqs) {
            Some(n) if n > 0 => {
                self.block = b;
                self.pos = 0;
                self.len = n;
                self.doc = self.docs.first().copied().unwrap_or(TERMINATED);
            }
            _ => self.terminate(),
        }
    }

    fn terminate(&mut self) {
        self.block = self.list.num_blocks;
        self.pos = 0;
        self.len = 0;
        self.doc = TERMINATED;
    }
}

impl DocCursor for PostingsCursor<'_> {
    #[inline]
    fn doc(&self) -> u32 {
        self.doc
    }

    #[inline]
    fn freq(&self) -> u32 {
        self.freqs.get(self.pos).copied().unwrap_or(0)
    }

    #[inline]
    fn advance(&mut self) -> u32 {
        self.pos += 1;
        if self.pos < self.len {
            self.doc = self.docs.get(self.pos).copied().unwrap_or(TERMINATED);
        } else if self.doc != TERMINATED {
            self.load(self.block + 1);
        }
        self.doc
    }

    fn seek(&mut self, target: u32) -> u32 {
        if self.doc >= target {
            return self.doc;
        }
        let nb = self.list.num_blocks;
        if self.list.last_doc(self.block) < target {
            // Skip whole blocks through the table (amortised: the cursor only moves forward).
            let mut b = self.block + 1;
            while b < nb && self.list.last_doc(b) < target {
                b += 1;
            }
            self.load(b);
            if self.doc >= target {
                return self.doc;
            }
        }
        // The target lies in this block (its last doc is ≥ target): search the rest of it.
        let rest = self.docs.get(self.pos..self.len).unwrap_or(&[]);
        self.pos += rest.partition_point(|&d| d < target);
        match self.docs.get(self.pos) {
            Some(&d) if self.pos < self.len => self.doc = d,
            _ => self.terminate(),
        }
        self.doc
    }

    #[inline]
    fn run(&self) -> (&[u32], &[u32]) {
        let docs = self.docs.get(self.pos..self.len).unwrap_or(&[]);
        let freqs = self.freqs.get(self.pos..self.len).unwrap_or(&[]);
        (docs, freqs)
    }

    #[inline]
    fn skip_run(&mut self) -> u32 {
        if self.doc != TERMINATED {
            self.load(self.block + 1);
        }
        self.doc
    }

    /// Among the postings not yet passed (the current one and those after it): the block of
    /// the first with doc id ≥ `target`. `None` once terminated or past the last block.
    fn block_for(&mut self, target: u32) -> Option<BlockMeta> {
        if self.doc == TERMINATED {
            return None;
        }
        let list = &self.list;
        let mut s = self.shallow.max(self.block);
        if s > self.block && list.last_doc(s - 1) >= target {
            // The target went backwards: start again from the decoded block (amortised O(1)
            // per call for rising targets).
            s = self.block;
        }
        while s < list.num_blocks && list.last_doc(s) < target {
            s += 1;
        }
        self.shallow = s;
        list.block_meta(s)
    }

    fn num_blocks(&self) -> usize {
        self.list.num_blocks
    }

    fn block(&self, i: usize) -> Option<BlockMeta> {
        self.list.block_meta(i)
    }

    fn len(&self) -> u32 {
        self.list.df
    }
}

//! Encoding of postings lists (the format is in the module docs of `postings`).

use super::bitpack::{bits_for, pack};
use super::{ENTRY_LEN, HEADER_LEN};
use crate::error::{Error, Result};
use crate::sparse::{BLOCK_LEN, TERMINATED};

/// Encodes one term's postings at a time; reusable across terms (buffers are kept).
#[derive(Debug, Default)]
pub struct PostingsWriter {
    /// Docs, freqs and the minimum length of the block being filled.
    docs: Vec<u32>,
    freqs: Vec<u32>,
    min_len: u32,
    /// The last doc pushed for this term, if any.
    last_doc: Option<u32>,
    /// The last doc of the last flushed block (the base of the next block).
    prev_block_last: Option<u32>,
    df: u32,
    num_blocks: u32,
    /// Block table and block data of the flushed blocks.
    table: Vec<u8>,
    data: Vec<u8>,
    /// Scratch for gaps and `freq - 1`.
    scratch: Vec<u32>,
}

impl PostingsWriter {
    /// An empty writer.
    pub fn new() -> PostingsWriter {
        PostingsWriter::default()
    }

    /// Appends one posting. Docs must be strictly increasing (and below
    /// [`TERMINATED`]) and `freq >= 1`; a violation is a bug in the caller and returns
    /// [`Error::InvalidArgument`], leaving the list as it was.
    pub fn push(&mut self, doc: u32, freq: u32, len: u32) -> Result<()> {
        if doc == TERMINATED {
            return Err(Error::InvalidArgument(format!(
                "postings: doc id {doc} is reserved for TERMINATED"
            )));
        }
        if let Some(last) = self.last_doc
            && doc <= last
        {
            return Err(Error::InvalidArgument(format!(
                "postings: doc {doc} pushed after doc {last}; docs must be strictly increasing"
            )));
        }
        if freq == 0 {
            return Err(Error::InvalidArgument(format!(
                "postings: doc {doc} has frequency 0; frequencies must be at least 1"
            )));
        }
        if self.docs.is_empty() {
            self.min_len = len;
        }
        self.min_len = self.min_len.min(len);
        self.docs.push(doc);
        self.freqs.push(freq);
        self.last_doc = Some(doc);
        self.df += 1;
        if self.docs.len() == BLOCK_LEN {
            self.flush_block()?;
        }
        Ok(())
    }

    /// Encodes the buffered block and appends its table entry and data.
    fn flush_block(&mut self) -> Result<()> {
        let Some(&last_doc) = self.docs.last() else {
            return Ok(());
        };
        // Gaps minus one, the first relative to the previous block's last doc + 1 (or 0).
        let mut prev = self.prev_block_last;
        self.scratch.clear();
        for &d in &self.docs {
            let base = prev.map_or(0, |p| p + 1);
            self.scratch.push(d - base);
            prev = Some(d);
        }
        let doc_bits = bits_for(self.scratch.iter().copied().max().unwrap_or(0));
        let data_len_before = self.data.len();
        self.data.push(doc_bits);
        self.data.push(0); // freq_bits, filled below
        pack(&self.scratch, doc_bits, &mut self.data);

        self.scratch.clear();
        self.scratch.extend(self.freqs.iter().map(|&f| f - 1));
        let max_freq = self.freqs.iter().copied().max().unwrap_or(1);
        let freq_bits = bits_for(max_freq - 1);
        if let Some(b) = self.data.get_mut(data_len_before + 1) {
            *b = freq_bits;
        }
        pack(&self.scratch, freq_bits, &mut self.data);

        let Ok(data_end) = u32::try_from(self.data.len()) else {
            self.data.truncate(data_len_before);
            return Err(Error::InvalidArgument(
                "postings: one term's block data exceeds 4 GiB".into(),
            ));
        };
        self.table.extend_from_slice(&last_doc.to_le_bytes());
        self.table.extend_from_slice(&max_freq.to_le_bytes());
        self.table.extend_from_slice(&self.min_len.to_le_bytes());
        self.table.extend_from_slice(&data_end.to_le_bytes());
        self.num_blocks += 1;
        self.prev_block_last = Some(last_doc);
        self.docs.clear();
        self.freqs.clear();
        Ok(())
    }

    /// Appends the encoded list to `out` and resets the writer for the next term; returns
    /// the offset in `out` where the list starts and its document frequency.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(u64, u32)> {
        let flushed = self.flush_block();
        let df = self.df;
        let result = flushed.map(|()| {
            let offset = out.len() as u64;
            out.reserve(HEADER_LEN + self.table.len() + self.data.len());
            out.extend_from_slice(&df.to_le_bytes());
            out.extend_from_slice(&self.num_blocks.to_le_bytes());
            debug_assert_eq!(self.table.len(), self.num_blocks as usize * ENTRY_LEN);
            out.extend_from_slice(&self.table);
            out.extend_from_slice(&self.data);
            (offset, df)
        });
        self.reset();
        result
    }

    /// Forgets the current term (keeps the buffers' capacity).
    fn reset(&mut self) {
        self.docs.clear();
        self.freqs.clear();
        self.min_len = 0;
        self.last_doc = None;
        self.prev_block_last = None;
        self.df = 0;
        self.num_blocks = 0;
        self.table.clear();
        self.data.clear();
    }
}

//! An in-memory [`DocCursor`] for tests and benchmarks, with a configurable block size so that
//! small blocks (4, 7, …) exercise many block boundaries.

use crate::sparse::{BlockMeta, DocCursor, TERMINATED};

/// A [`DocCursor`] over a `Vec<(doc, freq)>`, its [`BlockMeta`]s computed from a lengths array.
#[derive(Debug, Clone)]
pub struct VecCursor {
    postings: Vec<(u32, u32)>,
    /// The same postings as two columns, for [`DocCursor::run`].
    docs: Vec<u32>,
    freqs: Vec<u32>,
    blocks: Vec<BlockMeta>,
    block_size: usize,
    pos: usize,
}

impl VecCursor {
    /// Builds a cursor positioned on its first posting.
    ///
    /// `postings` need not be sorted: they are sorted by doc, a repeated doc keeps its first
    /// frequency, and doc [`TERMINATED`] is dropped. A `block_size` of 0 counts as 1.
    /// `lengths[doc]` feeds each block's `min_len` (0 for docs out of range).
    pub fn new(mut postings: Vec<(u32, u32)>, block_size: usize, lengths: &[u32]) -> Self {
        postings.sort_by_key(|&(doc, _)| doc);
        postings.dedup_by_key(|&mut (doc, _)| doc);
        postings.retain(|&(doc, _)| doc != TERMINATED);
        let block_size = block_size.max(1);
        let blocks = postings
            .chunks(block_size)
            .map(|chunk| BlockMeta {
                last_doc: chunk.last().map_or(0, |&(doc, _)| doc),
                max_freq: chunk.iter().map(|&(_, f)| f).max().unwrap_or(0),
                min_len: chunk
                    .iter()
                    .map(|&(doc, _)| length_of(lengths, doc))
                    .min()
                    .unwrap_or(0),
            })
            .collect();
        VecCursor {
            docs: postings.iter().map(|&(d, _)| d).collect(),
            freqs: postings.iter().map(|&(_, f)| f).collect(),
            postings,
            blocks,
            block_size,
            pos: 0,
        }
    }

    /// The postings, sorted by doc.
    pub fn postings(&self) -> &[(u32, u32)] {
        &self.postings
    }

    /// Index of the first posting at or after the current position with doc ≥ `target`.
    ///
    /// Gallops (1, 2, 4, … postings ahead) before a binary search, so a short hop costs as
    /// little as it would with a real cursor's skip data.
    fn first_at_least(&self, target: u32) -> usize {
        let rest = self.postings.get(self.pos..).unwrap_or(&[]);
        let mut hi = 1usize;
        while rest.get(hi - 1).is_some_and(|&(doc, _)| doc < target) {
            hi *= 2;
        }
        let lo = hi / 2;
        let window = rest.get(lo..hi.min(rest.len())).unwrap_or(&[]);
        self.pos + lo + window.partition_point(|&(doc, _)| doc < target)
    }
}

/// `lengths[doc]`, or 0 out of range.
fn length_of(lengths: &[u32], doc: u32) -> u32 {
    usize::try_from(doc)
        .ok()
        .and_then(|d| lengths.get(d))
        .copied()
        .unwrap_or(0)
}

impl DocCursor for VecCursor {
    fn doc(&self) -> u32 {
        self.postings
            .get(self.pos)
            .map_or(TERMINATED, |&(doc, _)| doc)
    }

    fn freq(&self) -> u32 {
        self.postings.get(self.pos).map_or(0, |&(_, f)| f)
    }

    fn advance(&mut self) -> u32 {
        if self.pos < self.postings.len() {
            self.pos += 1;
        }
        self.doc()
    }

    fn seek(&mut self, target: u32) -> u32 {
        self.pos = self.first_at_least(target);
        self.doc()
    }

    /// The rest of the current block, so runs end at the same boundaries as block bounds.
    fn run(&self) -> (&[u32], &[u32]) {
        let end = (self.pos / self.block_size + 1) * self.block_size;
        let end = end.min(self.postings.len());
        let docs = self.docs.get(self.pos..end).unwrap_or(&[]);
        let freqs = self.freqs.get(self.pos..end).unwrap_or(&[]);
        (docs, freqs)
    }

    fn skip_run(&mut self) -> u32 {
        let end = (self.pos / self.block_size + 1) * self.block_size;
        self.pos = end.min(self.postings.len());
        self.doc()
    }

    fn block_for(&mut self, target: u32) -> Option<BlockMeta> {
        let idx = self.first_at_least(target);
        if idx >= self.postings.len() {
            return None;
        }
        self.blocks.get(idx / self.block_size).copied()
    }

    fn num_blocks(&self) -> usize {
        self.blocks.len()
    }

    fn block(&self, i: usize) -> Option<BlockMeta> {
        self.blocks.get(i).copied()
    }

    fn len(&self) -> u32 {
        u32::try_from(self.postings.len()).unwrap_or(u32::MAX)
    }
}

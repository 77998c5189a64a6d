//! The sparse half of strata: the inverted index of text and sparse-vector fields, its
//! scoring and its query processing.
//!
//! Layering: `sparse` sits beside `dense` and never imports it. [`postings`] encodes and
//! decodes block-compressed postings; [`dict`] is the fst term dictionary; [`query`] holds the
//! scorers (BM25, impacts) and the traversal algorithms (exhaustive, MaxScore, block-max WAND),
//! which only see postings through the [`DocCursor`] trait.

pub mod dict;
pub mod postings;
pub mod query;

/// The doc id a cursor reports once it has run past its last posting.
pub const TERMINATED: u32 = u32::MAX;

/// Postings per full block.
pub const BLOCK_LEN: usize = 128;

/// What one postings block records for pruning, readable without decoding the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlockMeta {
    /// The last (largest) doc id in the block.
    pub last_doc: u32,
    /// The largest frequency in the block (a term frequency, or a quantized impact).
    pub max_freq: u32,
    /// The smallest document length among the block's docs (0 for fields without lengths).
    pub min_len: u32,
}

/// A forward-only cursor over one term's postings, in increasing doc order.
///
/// A fresh cursor is positioned on its first posting (or at [`TERMINATED`] when empty).
pub trait DocCursor {
    /// The current doc id, or [`TERMINATED`].
    fn doc(&self) -> u32;
    /// The current posting's frequency (meaningless once terminated).
    fn freq(&self) -> u32;
    /// Moves to the next posting; returns the new doc id.
    fn advance(&mut self) -> u32;
    /// Moves to the first posting with doc id ≥ `target` (never backwards); returns its doc id.
    fn seek(&mut self, target: u32) -> u32;
    /// The current posting and those after it that are already at hand (for block-encoded
    /// postings, the rest of the decoded block): doc ids and frequencies of equal length,
    /// non-empty unless terminated. Reading a run and then calling [`skip_run`](Self::skip_run)
    /// visits exactly the postings that repeated [`advance`](Self::advance) calls would.
    fn run(&self) -> (&[u32], &[u32]);
    /// Moves to the first posting after those of [`run`](Self::run); returns its doc id.
    fn skip_run(&mut self) -> u32;
    /// Shallow seek: the metadata of the block holding the first posting with doc id ≥ `target`,
    /// without decoding that block or moving the current position; `None` if no such posting.
    fn block_for(&mut self, target: u32) -> Option<BlockMeta>;
    /// Number of blocks.
    fn num_blocks(&self) -> usize;
    /// Metadata of block `i`.
    fn block(&self, i: usize) -> Option<BlockMeta>;
    /// Number of postings (document frequency).
    fn len(&self) -> u32;
    /// Whether there are no postings.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

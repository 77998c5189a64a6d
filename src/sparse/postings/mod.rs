//! Block-compressed postings lists.
//!
//! One term's postings are increasing doc ids (row ids within a segment), each with a
//! frequency ≥ 1 (a term frequency or a quantized impact) and a document length that only
//! feeds the block metadata. [`PostingsWriter`] encodes one list at a time into a shared
//! buffer; [`PostingsList`] parses one list in place (borrowing the bytes) and hands out
//! [`PostingsCursor`]s, which implement [`DocCursor`](crate::sparse::DocCursor).
//!
//! # Format
//!
//! A list is self-delimiting; all integers are little-endian. Docs are grouped in blocks of
//! [`BLOCK_LEN`](crate::sparse::BLOCK_LEN) = 128; every block is full except possibly the
//! last, which holds `df - 128 * (num_blocks - 1)` postings.
//!
//! | offset                  | size         | field                                            |
//! |-------------------------|--------------|--------------------------------------------------|
//! | 0                       | 4            | `df`: number of postings (u32)                   |
//! | 4                       | 4            | `num_blocks` = ⌈df / 128⌉ (u32)                  |
//! | 8 + 16·i                | 4            | block i `last_doc` (u32, strictly increasing, < `u32::MAX`) |
//! | 12 + 16·i               | 4            | block i `max_freq` (u32, ≥ 1)                    |
//! | 16 + 16·i               | 4            | block i `min_len` (u32)                          |
//! | 20 + 16·i               | 4            | block i `data_end`: end of its data, relative to the start of the data area (u32, increasing) |
//! | 8 + 16·num_blocks       | `data_end` of the last block | block data area             |
//!
//! Block i's data occupies `[data_end(i-1), data_end(i))` of the data area (block 0 starts
//! at 0); the list's byte length is `8 + 16·num_blocks + data_end(last)`. An empty list is
//! the 8 bytes `df = 0, num_blocks = 0`. Block data, for a block of `n` postings:
//!
//! | size                         | field                                                  |
//! |------------------------------|--------------------------------------------------------|
//! | 1                            | `doc_bits` (0..=32)                                    |
//! | 1                            | `freq_bits` (0..=32)                                   |
//! | ⌈n·doc_bits / 32⌉ · 4        | the `n` doc gaps, bit-packed at `doc_bits`             |
//! | ⌈n·freq_bits / 32⌉ · 4       | the `n` values `freq - 1`, bit-packed at `freq_bits`   |
//!
//! Doc gaps are stored minus one: `doc[0] = base + gap[0]` and
//! `doc[j] = doc[j-1] + 1 + gap[j]`, where `base` is 0 for block 0 and the previous block's
//! `last_doc + 1` otherwise (read from the block table, so any block decodes on its own). A
//! run of consecutive doc ids therefore packs at width 0. Bit-packing is least significant
//! bit first into little-endian 32-bit words (see `bitpack.rs`); the partial last block uses
//! the same packing with its smaller count.
//!
//! # Trust
//!
//! [`PostingsList::open`] checks the header and the block table (counts agree with `df`,
//! `last_doc`s increase, every block's data range lies inside the bytes) without touching the
//! block data. A cursor checks each block as it decodes it (widths ≤ 32, the data length
//! matches the widths, the decoded docs end exactly at the table's `last_doc`); a block that
//! fails ends the cursor early (it reports [`TERMINATED`](crate::sparse::TERMINATED)). Damaged
//! but consistent frequencies decode to garbage, never to a panic.

mod bitpack;
mod reader;
mod writer;

pub use reader::{PostingsCursor, PostingsList};
pub use writer::PostingsWriter;

/// Bytes of the list header (`df`, `num_blocks`).
const HEADER_LEN: usize = 8;
/// Bytes of one block table entry.
const ENTRY_LEN: usize = 16;

#[cfg(test)]
mod tests;

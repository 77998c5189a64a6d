//! Term-at-a-time scoring into an accumulator array: every posting of every term is scored,
//! like [`super::exhaustive`], but list by list instead of doc by doc, so there is no per-doc
//! minimum over cursors and each list is walked in one tight loop over its decoded runs
//! ([`DocCursor::run`]).
//!
//! Exactness: lists are processed in term-index order, so a doc's accumulator receives its
//! contributions in that order starting from 0.0 — the same additions [`super::topk`]'s
//! `sum_in_order` makes (absent terms add 0.0 there, which leaves a non-negative sum
//! unchanged). The result is bit-identical to the document-at-a-time oracle.
//!
//! `accept` is asked when the accumulated docs are collected, and only for a doc whose score
//! could enter the top-k at that moment; a rejected doc is never collected (its postings were
//! added to its accumulator, which is simply discarded). The accumulators (4 bytes per doc id
//! up to the largest one met) and a bit per doc marking the docs met are kept per thread and
//! reset while collecting, so a query costs what its postings cost, not what the segment size
//! costs.

use std::cmp::Ordering;

use super::TopDocs;
use super::score::TermScorer;
use super::topk::TopK;
use crate::sparse::DocCursor;
use std::cell::RefCell;

/// Per-thread scratch: accumulators and the bit set of the docs that have one.
///
/// Invariant between queries: every accumulator is 0.0 and every bit is clear. `dirty` is set
/// while a query runs, so a query that unwound half-way (a panicking scorer) leaves scratch
/// that the next query wipes instead of trusting.
#[derive(Default)]
pub(crate) struct Accumulators {
    acc: Vec<f32>,
    seen: Vec<u64>,
    dirty: bool,
}

thread_local! {
    static SCRATCH: RefCell<Accumulators> = RefCell::new(Accumulators::default());
}

/// Runs `f` with this thread's accumulators (fresh ones for a re-entrant call, from inside
/// `accept` or a scorer, or while the thread is being torn down).
pub(crate) fn with_accumulators<R>(mut f: impl FnMut(&mut Accumulators) -> R) -> R {
    let mut out = None;
    let _ = SCRATCH.try_with(|cell| {
        if let Ok(mut s) = cell.try_borrow_mut() {
            out = Some(f(&mut s));
        }
    });
    match out {
        Some(r) => r,
        None => f(&mut Accumulators::default()),
    }
}

impl Accumulators {
    /// Prepares for a query whose docs are below `docs`.
    pub(crate) fn begin(&mut self, docs: usize) {
        if self.dirty {
            self.acc.fill(0.0);
            self.seen.fill(0);
        }
        self.dirty = true;
        if self.acc.len() < docs {
            self.acc.resize(docs, 0.0);
            self.seen.resize(docs.div_ceil(64), 0);
        }
    }

    /// Adds every remaining posting of `cursor`, scored by `scorer`, to its doc's accumulator.
    #[inline]
    pub(crate) fn add_list<C: DocCursor, S: TermScorer>(&mut self, cursor: &mut C, scorer: &S) {
        loop {
            let (docs, freqs) = cursor.run();
            if docs.is_empty() {
                break;
            }
            for (&doc, &freq) in docs.iter().zip(freqs) {
                let i = doc as usize;
                let s = scorer.score(doc, freq);
                match (self.acc.get_mut(i), self.seen.get_mut(i >> 6)) {
                    (Some(slot), Some(word)) => {
                        *slot += s;
                        *word |= 1u64 << (i & 63);
                    }
                    _ => self.grow_and_add(i, s),
                }
            }
            cursor.skip_run();
        }
    }

    #[cold]
    fn grow_and_add(&mut self, i: usize, s: f32) {
        self.acc.resize(i + 1, 0.0);
        self.seen.resize((i + 1).div_ceil(64), 0);
        if let (Some(slot), Some(word)) = (self.acc.get_mut(i), self.seen.get_mut(i >> 6)) {
            *slot += s;
            *word |= 1u64 << (i & 63);
        }
    }

    /// Offers every doc met to `top` (asking `accept` only for those that could enter) and
    /// resets the scratch.
    pub(crate) fn collect<A: Fn(u32) -> bool + ?Sized, O: Fn(u32, u32) -> Ordering + ?Sized>(
        &mut self,
        top: &mut TopK<'_, O>,
        accept: &A,
    ) {
        for (w, word) in self.seen.iter_mut().enumerate() {
            let mut bits = std::mem::take(word);
            while bits != 0 {
                let i = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if let Some(slot) = self.acc.get_mut(i) {
                    let score = std::mem::replace(slot, 0.0);
                    let doc = i as u32;
                    if top.can_enter(score, doc) && accept(doc) {
                        top.push(score, doc);
                    }
                }
            }
        }
        self.dirty = false;
    }
}

/// The number of accumulators `terms` need: one past the largest doc id of their block tables.
pub(crate) fn doc_bound<C: DocCursor, S>(terms: &[(C, S)]) -> usize {
    terms
        .iter()
        .filter_map(|(c, _)| {
            let last = c.num_blocks().checked_sub(1)?;
            c.block(last).map(|m| m.last_doc as usize + 1)
        })
        .max()
        .unwrap_or(0)
}

/// Scores every posting term by term into accumulators; returns the `k` best accepted docs,
/// equal scores ranked by `order`.
pub fn accumulate<
    C: DocCursor,
    S: TermScorer,
    A: Fn(u32) -> bool + ?Sized,
    O: Fn(u32, u32) -> Ordering + ?Sized,
>(
    terms: &mut [(C, S)],
    k: usize,
    accept: &A,
    order: &O,
) -> TopDocs {
    let mut top = TopK::new(k, order);
    if k == 0 || terms.is_empty() {
        return top.into_sorted();
    }
    let docs = doc_bound(terms);
    with_accumulators(|s| {
        s.begin(docs);
        for (cursor, scorer) in terms.iter_mut() {
            s.add_list(cursor, scorer);
        }
        s.collect(&mut top, accept);
    });
    top.into_sorted()
}

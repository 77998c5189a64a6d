//! Term-at-a-time scoring into an accumulator array: every posting of every term is scored,
//! like [`super::exhaustive`], but list by list instead of doc by doc, so there is no per-doc
//! minimum over cursors and each list is walked in one tight loop.
//!
//! Exactness: lists are processed in term-index order, so a doc's accumulator receives its
//! contributions in that order starting from 0.0 — the same additions [`super::topk`]'s
//! `sum_in_order` makes (absent terms add 0.0 there, which leaves a non-negative sum
//! unchanged). The result is bit-identical to the document-at-a-time oracle.
//!
//! `accept` is asked once per doc, when the doc is first met, before any of its scoring: a
//! rejected doc is marked and skipped by the remaining lists. The accumulator (4 bytes per doc
//! id up to the largest one met) is kept per thread and reset through the list of touched docs,
//! so a query costs what its postings cost, not what the segment size costs.

use std::cmp::Ordering;

use super::TopDocs;
use super::score::TermScorer;
use super::topk::TopK;
use crate::sparse::{DocCursor, TERMINATED};
use std::cell::RefCell;

/// Marks a doc no list has touched yet.
const UNSEEN: f32 = -1.0;
/// Marks a doc `accept` rejected.
const REJECTED: f32 = -2.0;

#[derive(Default)]
struct Scratch {
    acc: Vec<f32>,
    touched: Vec<u32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
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
    if k == 0 {
        return Vec::new();
    }
    // A re-entrant call (from inside `accept` or a scorer) gets fresh buffers.
    SCRATCH
        .try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut s) => run(terms, k, accept, order, &mut s),
            Err(_) => run(terms, k, accept, order, &mut Scratch::default()),
        })
        .unwrap_or_else(|_| run(terms, k, accept, order, &mut Scratch::default()))
}

fn run<
    C: DocCursor,
    S: TermScorer,
    A: Fn(u32) -> bool + ?Sized,
    O: Fn(u32, u32) -> Ordering + ?Sized,
>(
    terms: &mut [(C, S)],
    k: usize,
    accept: &A,
    order: &O,
    s: &mut Scratch,
) -> TopDocs {
    let Scratch { acc, touched } = s;
    for (cursor, scorer) in terms.iter_mut() {
        let mut doc = cursor.doc();
        while doc != TERMINATED {
            let i = doc as usize;
            if i >= acc.len() {
                acc.resize(i + 1, UNSEEN);
            }
            if let Some(slot) = acc.get_mut(i) {
                if *slot == UNSEEN {
                    touched.push(doc);
                    *slot = if accept(doc) { 0.0 } else { REJECTED };
                }
                if *slot != REJECTED {
                    *slot += scorer.score(doc, cursor.freq());
                }
            }
            doc = cursor.advance();
        }
    }
    let mut top = TopK::new(k, order);
    for &doc in touched.iter() {
        if let Some(slot) = acc.get_mut(doc as usize) {
            if *slot >= 0.0 {
                top.push(*slot, doc);
            }
            *slot = UNSEEN;
        }
    }
    touched.clear();
    top.into_sorted()
}

//! Exhaustive document-at-a-time scoring over the union of all lists: the oracle the pruning
//! algorithms are tested against.

use std::cmp::Ordering;

use super::TopDocs;
use super::score::TermScorer;
use super::topk::{TopK, sum_in_order};
use crate::sparse::{DocCursor, TERMINATED};

/// Scores every doc of the union that `accept` keeps, summing every term's contribution;
/// returns the `k` best, equal scores ranked by `order`.
pub fn exhaustive<
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
    if k == 0 {
        return top.into_sorted();
    }
    let mut contrib = vec![0.0f32; terms.len()];
    loop {
        let doc = terms
            .iter()
            .map(|(c, _)| c.doc())
            .min()
            .unwrap_or(TERMINATED);
        if doc == TERMINATED {
            break;
        }
        let keep = accept(doc);
        for ((cursor, scorer), slot) in terms.iter_mut().zip(contrib.iter_mut()) {
            *slot = 0.0;
            if cursor.doc() == doc {
                if keep {
                    *slot = scorer.score(doc, cursor.freq());
                }
                cursor.advance();
            }
        }
        if keep {
            top.push(sum_in_order(&contrib), doc);
        }
    }
    top.into_sorted()
}

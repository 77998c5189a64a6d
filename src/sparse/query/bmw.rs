//! Block-max WAND.
//!
//! Cursors are kept sorted by their current doc. The *pivot* is the first cursor, in that
//! order, at which the summed list bounds of it and every cursor before it could enter the
//! top-k: no doc before the pivot doc can (it is contained only in lists before the pivot).
//! A shallow seek then bounds the pivot doc by the sum of the current block bounds of the
//! cursors up to the pivot; if even that cannot enter, every doc up to the end of the first of
//! those blocks to end (or the next cursor's doc, if sooner) is out, and those cursors jump
//! there. Otherwise, if every cursor up to the pivot sits on the pivot doc it is scored, else the
//! lagging cursors are moved up to the pivot doc and the pivot is chosen again.

use std::cmp::Ordering;

use super::TopDocs;
use super::bounds::{BlockCache, list_bound};
use super::score::TermScorer;
use super::topk::{Slack, TopK, sum_in_order};
use crate::sparse::{DocCursor, TERMINATED};

/// Block-max WAND; the result equals [`super::exhaustive`] exactly.
pub fn block_max_wand<
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
    let n = terms.len();
    let mut top = TopK::new(k, order);
    if k == 0 || n == 0 {
        return top.into_sorted();
    }
    let slack = Slack::for_terms(n);
    let ub: Vec<f32> = terms.iter().map(|(c, s)| list_bound(c, s)).collect();
    let mut caches = vec![BlockCache::default(); n];
    let mut contrib = vec![0.0f32; n];
    // Term indices sorted by current doc; `docs` mirrors the docs in the same order.
    let mut order: Vec<usize> = (0..n).collect();
    let mut docs: Vec<u32> = vec![TERMINATED; n];

    loop {
        refresh_order(terms, &mut order, &mut docs);

        // Pivot: first position whose prefix of list bounds could enter.
        let mut acc = 0.0f32;
        let mut pivot = None;
        for (p, (&i, &d)) in order.iter().zip(&docs).enumerate() {
            if d == TERMINATED {
                break;
            }
            acc += ub.get(i).copied().unwrap_or(f32::INFINITY);
            if top.may_enter(slack.inflate(acc)) {
                pivot = Some(p);
                break;
            }
        }
        let Some(mut p) = pivot else { break };
        let pivot_doc = docs.get(p).copied().unwrap_or(TERMINATED);
        while docs.get(p + 1) == Some(&pivot_doc) {
            p += 1;
        }
        let group = order.get(..=p).unwrap_or(&[]);

        if top.is_full() {
            let mut sum = 0.0f32;
            let mut upto = TERMINATED;
            for &i in group {
                if let (Some((cursor, scorer)), Some(cache)) = (terms.get_mut(i), caches.get_mut(i))
                {
                    let (bound, last) = cache.get(cursor, scorer, pivot_doc);
                    sum += bound;
                    upto = upto.min(last);
                }
            }
            if !top.may_enter(slack.inflate(sum)) {
                // Every doc in [pivot_doc, next) is bounded by `sum`: skip them all.
                let next_doc = docs.get(p + 1).copied().unwrap_or(TERMINATED);
                let next = upto.saturating_add(1).min(next_doc);
                for &i in group {
                    if let Some((cursor, _)) = terms.get_mut(i)
                        && cursor.doc() < next
                    {
                        cursor.seek(next);
                    }
                }
                continue;
            }
        }

        if docs.first() == Some(&pivot_doc) {
            let keep = accept(pivot_doc);
            for &i in group {
                if let (Some((cursor, scorer)), Some(slot)) = (terms.get_mut(i), contrib.get_mut(i))
                {
                    if keep {
                        *slot = scorer.score(pivot_doc, cursor.freq());
                    }
                    cursor.advance();
                }
            }
            if keep {
                top.push(sum_in_order(&contrib), pivot_doc);
                contrib.fill(0.0);
            }
        } else {
            // No doc before the pivot can enter: bring the lagging cursors up to it.
            for &i in group {
                if let Some((cursor, _)) = terms.get_mut(i)
                    && cursor.doc() < pivot_doc
                {
                    cursor.seek(pivot_doc);
                }
            }
        }
    }
    top.into_sorted()
}

/// Re-sorts `order` by each cursor's current doc (ties by term index) and mirrors the docs.
/// Insertion sort: the order changes little between steps and the term count is small.
fn refresh_order<C: DocCursor, S>(terms: &[(C, S)], order: &mut [usize], docs: &mut [u32]) {
    for (slot, &i) in docs.iter_mut().zip(order.iter()) {
        *slot = terms.get(i).map_or(TERMINATED, |(c, _)| c.doc());
    }
    for j in 1..order.len() {
        let mut m = j;
        while m > 0 {
            let (Some(&a), Some(&b)) = (docs.get(m - 1), docs.get(m)) else {
                break;
            };
            let (Some(&ia), Some(&ib)) = (order.get(m - 1), order.get(m)) else {
                break;
            };
            if (a, ia) <= (b, ib) {
                break;
            }
            docs.swap(m - 1, m);
            order.swap(m - 1, m);
            m -= 1;
        }
    }
}

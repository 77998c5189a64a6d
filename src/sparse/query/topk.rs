//! The top-k collector shared by every traversal, and the one pruning test they all use.
//!
//! Order: a hit is better when its score is higher, or equal with a smaller doc id
//! (`f32::total_cmp`, so even a NaN score has a fixed place and never panics). The collector
//! keeps the k best in a heap whose top is the worst kept hit, the entry threshold.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::TopDocs;

/// Largest initial heap allocation; `k` beyond it grows on demand.
const MAX_PREALLOC: usize = 4096;

/// A kept hit, ordered so that the *worse* hit compares greater (the heap top is the worst).
#[derive(Debug, Clone, Copy)]
struct Entry {
    score: f32,
    doc: u32,
}

impl Entry {
    fn worse_first(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(self.doc.cmp(&other.doc))
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.worse_first(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.worse_first(other)
    }
}

/// Keeps the k best `(score, doc)` pairs.
#[derive(Debug)]
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<Entry>,
}

impl TopK {
    pub(crate) fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k.min(MAX_PREALLOC)),
        }
    }

    /// Whether k hits are held, so the entry threshold is live.
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.heap.len() >= self.k
    }

    /// Whether a doc `doc` whose score is at most `bound` could still enter.
    ///
    /// With the collector full, it must beat the worst kept hit: a strictly higher bound, or an
    /// equal bound with a smaller doc id. The traversals visit docs in increasing order, so the
    /// second case never fires for them; it is kept so the test is right for any visiting order.
    #[inline]
    pub(crate) fn can_enter(&self, bound: f32, doc: u32) -> bool {
        if self.k == 0 {
            return false;
        }
        if self.heap.len() < self.k {
            return true;
        }
        match self.heap.peek() {
            None => true,
            Some(worst) => match bound.total_cmp(&worst.score) {
                Ordering::Greater => true,
                Ordering::Equal => doc < worst.doc,
                Ordering::Less => false,
            },
        }
    }

    /// Offers a fully scored doc; returns whether the entry threshold may have changed.
    #[inline]
    pub(crate) fn push(&mut self, score: f32, doc: u32) -> bool {
        if !self.can_enter(score, doc) {
            return false;
        }
        if self.heap.len() >= self.k {
            self.heap.pop();
        }
        self.heap.push(Entry { score, doc });
        self.heap.len() >= self.k
    }

    /// The kept hits, best first.
    pub(crate) fn into_sorted(self) -> TopDocs {
        // Ascending by `worse_first` is best first.
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|e| (e.score, e.doc))
            .collect()
    }
}

/// Inflates a sum of bounds (or of partial scores plus bounds) to cover the rounding of adding
/// the same non-negative values in a different order: each of at most `n_terms` additions
/// rounds by at most half an ulp of the running total, so a relative margin of
/// `(n_terms + 2) · ε` is enough.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slack(f32);

impl Slack {
    pub(crate) fn for_terms(n_terms: usize) -> Self {
        let n = n_terms.min(1 << 20) as f32;
        Slack(1.0 + (n + 2.0) * f32::EPSILON)
    }

    #[inline]
    pub(crate) fn inflate(self, sum: f32) -> f32 {
        if sum > 0.0 { sum * self.0 } else { sum }
    }
}

/// The final score of a doc: its per-term contributions (0.0 for terms without the doc) added
/// in term-index order, starting from 0.0. Every algorithm goes through here, which is what
/// makes their results bit-identical.
#[inline]
pub(crate) fn sum_in_order(contrib: &[f32]) -> f32 {
    contrib.iter().fold(0.0f32, |acc, &c| acc + c)
}

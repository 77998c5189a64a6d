//! The top-k collector shared by every traversal, and the pruning tests they all use.
//!
//! Order: a hit is better when its score is higher (`f32::total_cmp`, so even a NaN score has
//! a fixed place and never panics), or equal with a doc that comes first in the caller's tie
//! order (for a segment of an index, the order of the documents' keys; doc ids break what the
//! tie order leaves equal). So the k best docs of a segment are the same whatever order its
//! rows were written in, and the best k of a snapshot are the best k of its segments' best k.
//! The collector keeps the k best in a binary heap whose root is the worst kept hit, the entry
//! threshold.

use std::cmp::Ordering;

use super::TopDocs;

/// Largest initial heap allocation; `k` beyond it grows on demand.
const MAX_PREALLOC: usize = 4096;

/// The tie order of doc ids: ascending, for collections whose doc ids are their order.
pub fn by_doc(a: u32, b: u32) -> Ordering {
    a.cmp(&b)
}

/// Keeps the k best `(score, doc)` pairs; `order` ranks docs of equal score (`Less`: the first
/// argument wins).
pub(crate) struct TopK<'o, O: Fn(u32, u32) -> Ordering + ?Sized> {
    k: usize,
    /// A binary heap, worst hit at the root: each entry is no better than its children.
    heap: Vec<(f32, u32)>,
    order: &'o O,
}

impl<'o, O: Fn(u32, u32) -> Ordering + ?Sized> TopK<'o, O> {
    pub(crate) fn new(k: usize, order: &'o O) -> Self {
        TopK {
            k,
            heap: Vec::with_capacity(k.min(MAX_PREALLOC)),
            order,
        }
    }

    /// Docs `a` and `b` of equal score, best first.
    #[inline]
    fn tie(&self, a: u32, b: u32) -> Ordering {
        (self.order)(a, b).then(a.cmp(&b))
    }

    /// Whether hit `a` ranks after hit `b`.
    #[inline]
    fn worse(&self, a: (f32, u32), b: (f32, u32)) -> bool {
        match a.0.total_cmp(&b.0) {
            Ordering::Less => true,
            Ordering::Greater => false,
            Ordering::Equal => self.tie(a.1, b.1) == Ordering::Greater,
        }
    }

    /// Whether k hits are held, so the entry threshold is live.
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.heap.len() >= self.k
    }

    /// Whether doc `doc`, whose score is at most `bound`, could still enter: with the
    /// collector full it must beat the worst kept hit, by a higher bound or an equal bound and
    /// the tie order.
    #[inline]
    pub(crate) fn can_enter(&self, bound: f32, doc: u32) -> bool {
        if self.k == 0 {
            return false;
        }
        match self.heap.first() {
            Some(&worst) if self.is_full() => match bound.total_cmp(&worst.0) {
                Ordering::Greater => true,
                Ordering::Equal => self.tie(doc, worst.1) == Ordering::Less,
                Ordering::Less => false,
            },
            _ => true,
        }
    }

    /// Whether some doc whose score is at most `bound` could still enter, whichever doc it is:
    /// the test for pruning docs not yet seen. An equal bound is admitted, since a doc of that
    /// score may win on the tie order.
    #[inline]
    pub(crate) fn may_enter(&self, bound: f32) -> bool {
        if self.k == 0 {
            return false;
        }
        match self.heap.first() {
            Some(&worst) if self.is_full() => bound.total_cmp(&worst.0) != Ordering::Less,
            _ => true,
        }
    }

    /// Offers a fully scored doc; returns whether the entry threshold may have changed.
    #[inline]
    pub(crate) fn push(&mut self, score: f32, doc: u32) -> bool {
        if !self.can_enter(score, doc) {
            return false;
        }
        let hit = (score, doc);
        if self.heap.len() < self.k {
            self.heap.push(hit);
            self.sift_up(self.heap.len() - 1);
        } else if let Some(root) = self.heap.first_mut() {
            *root = hit;
            self.sift_down(0);
        }
        self.is_full()
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let p = (i - 1) / 2;
            match (self.heap.get(i), self.heap.get(p)) {
                (Some(&c), Some(&q)) if self.worse(c, q) => self.heap.swap(i, p),
                _ => break,
            }
            i = p;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        loop {
            let mut m = i;
            for c in [2 * i + 1, 2 * i + 2] {
                if c < n
                    && let (Some(&a), Some(&b)) = (self.heap.get(c), self.heap.get(m))
                    && self.worse(a, b)
                {
                    m = c;
                }
            }
            if m == i {
                break;
            }
            self.heap.swap(i, m);
            i = m;
        }
    }

    /// The kept hits, best first.
    pub(crate) fn into_sorted(self) -> TopDocs {
        let mut hits = self.heap;
        let order = self.order;
        hits.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then_with(|| order(a.1, b.1))
                .then(a.1.cmp(&b.1))
        });
        hits
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

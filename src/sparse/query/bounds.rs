//! Upper bounds for pruning: a whole list's bound (max over its blocks) and a per-term cache of
//! the current block's bound, refreshed by shallow seeks.

use super::score::TermScorer;
use crate::sparse::{DocCursor, TERMINATED};

/// Upper bound of `scorer` over the whole list: the max of its block bounds. A list that has
/// postings but reports no block metadata gets `+∞`, so it is never pruned.
pub(crate) fn list_bound<C: DocCursor, S: TermScorer>(cursor: &C, scorer: &S) -> f32 {
    if cursor.is_empty() {
        return 0.0;
    }
    let mut bound: Option<f32> = None;
    for i in 0..cursor.num_blocks() {
        if let Some(meta) = cursor.block(i) {
            let b = scorer.block_bound(&meta);
            bound = Some(bound.map_or(b, |m: f32| m.max(b)));
        }
    }
    bound.unwrap_or(f32::INFINITY)
}

/// The block bound of one term around the current target.
///
/// Invariant: when `last_doc` is `Some(l)`, a shallow seek for any target `t` with
/// `prev_target ≤ t ≤ l` lands in the cached block (the first posting ≥ t lies between the
/// first posting ≥ prev_target, which is in that block, and the block's last doc), so targets
/// that only grow can reuse it until they pass `l`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BlockCache {
    last_doc: Option<u32>,
    bound: f32,
}

impl BlockCache {
    /// `(bound, last_doc)` of the block holding the first posting ≥ `target`; `(0, TERMINATED)`
    /// once the list has nothing at or after `target`. Targets must not decrease.
    #[inline]
    pub(crate) fn get<C: DocCursor, S: TermScorer>(
        &mut self,
        cursor: &mut C,
        scorer: &S,
        target: u32,
    ) -> (f32, u32) {
        if let Some(last) = self.last_doc
            && target <= last
        {
            return (self.bound, last);
        }
        match cursor.block_for(target) {
            Some(meta) => {
                // A block ending before the target breaks the cursor contract; clamping keeps
                // the window non-empty so traversals still make progress.
                let last = meta.last_doc.max(target);
                self.bound = scorer.block_bound(&meta);
                self.last_doc = Some(last);
                (self.bound, last)
            }
            None => {
                self.bound = 0.0;
                self.last_doc = Some(TERMINATED);
                (0.0, TERMINATED)
            }
        }
    }
}

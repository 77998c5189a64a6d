//! Scoring and query processing: per-term scorers and the top-k traversals over
//! [`DocCursor`]s.
//!
//! - [`score`]: the [`TermScorer`] trait, BM25 ([`Bm25Term`]), impacts ([`ImpactTerm`]) and
//!   [`AnyTerm`] to mix them in one query.
//! - `topk`: the collector, its tie order ([`by_doc`] or a caller's, e.g. by key) and the
//!   pruning tests every traversal uses.
//! - `exhaustive`: document-at-a-time over the union of all lists, the oracle.
//! - `accumulate`: term-at-a-time into a per-thread accumulator array; scores every posting
//!   like the oracle, without pruning, but in one tight loop per decoded run of each list.
//! - `maxscore`: MaxScore (plus a block-max variant, measured slower here). `bmw`: block-max
//!   WAND.
//! - [`testing`]: [`testing::VecCursor`], an in-memory cursor for tests and benchmarks.
//!
//! **Exactness contract.** The pruning algorithms return exactly the [`TopDocs`] of
//! [`exhaustive`] (same docs, same f32 scores, same order) for non-negative, finite term
//! scores: a doc's score is always its per-term contributions added in term-index order from
//! 0.0, and pruning compares upper bounds that are nudged up to absorb rounding.
//! `accept(doc)` is asked before a doc is scored (term at a time: before it is collected); a
//! rejected doc is never collected.
//! Docs of equal score are ranked by the caller's tie order (`order(a, b)`: `Less` when `a`
//! wins), which need not follow doc ids: pruning admits a bound equal to the entry threshold,
//! since an unseen doc of that score may still win the tie.

mod accumulate;
mod bmw;
mod bounds;
mod exhaustive;
mod maxscore;
pub mod score;
pub mod testing;
mod topk;

#[cfg(test)]
mod tests;

pub use accumulate::accumulate;
pub use bmw::block_max_wand;
pub use exhaustive::exhaustive;
pub use maxscore::maxscore;
pub use score::{AnyTerm, Bm25, Bm25Term, ImpactTerm, TermScorer, bm25_idf};
pub use topk::by_doc;

use super::DocCursor;
use std::cmp::Ordering;

/// Top-k collector result: (score, doc) sorted by score descending, then by the tie order; at
/// most k.
pub type TopDocs = Vec<(f32, u32)>;

/// Queries whose lists hold at most this many postings in a segment are scored term at a time
/// by [`Algorithm::Auto`]: at a few ns a posting that is well under a millisecond, and pruning
/// has too little to skip to pay for its per-posting overhead (measured: SciFact BM25, 4.3k
/// postings per query on average, and the WordNet glosses, 6.4k, both run fastest term at a
/// time).
pub const TAAT_MAX_POSTINGS: u64 = 1 << 16;

/// Queries with at least this many terms are scored term at a time by [`Algorithm::Auto`]
/// whatever the length of their lists. A document-at-a-time traversal pays per candidate
/// document for every term (the minimum over the cursors, the bounds, the seeks), and with
/// many terms of similar bounds — learned-sparse queries of ~50 word pieces — pruning skips
/// too little to make that up. Measured (docs/PERFORMANCE.md): on WordNet SPLADE, queries cut
/// to their 16 heaviest terms ran 1.8× (k 10) to 20× (k 100) faster term at a time than with
/// MaxScore, and whole queries (9 terms or more) 12–32× (p50); on the Zipfian BM25 bench
/// (`benches/query.rs`, queries of 2 to 8 terms over long lists) sending its 8-term queries
/// term at a time made Auto 29% slower at k 10 (24.7 vs 19.2 ms), so 8 terms stay with MaxScore.
pub const TAAT_MIN_TERMS: usize = 9;

/// The traversal [`Algorithm::Auto`] runs for `terms` (one cursor per query term).
pub fn plan<C: DocCursor, S>(terms: &[(C, S)]) -> Algorithm {
    let postings: u64 = terms.iter().map(|(c, _)| u64::from(c.len())).sum();
    if postings <= TAAT_MAX_POSTINGS || terms.len() >= TAAT_MIN_TERMS {
        Algorithm::TermAtATime
    } else {
        Algorithm::MaxScore
    }
}

/// Which traversal [`search`] runs. All return the same [`TopDocs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// Term at a time when the query's lists are short ([`TAAT_MAX_POSTINGS`]) or it has many
    /// terms ([`TAAT_MIN_TERMS`]), else MaxScore (see [`plan`]).
    #[default]
    Auto,
    /// Score every doc of the union ([`exhaustive`]).
    Exhaustive,
    /// MaxScore ([`maxscore`]).
    MaxScore,
    /// Block-max WAND ([`block_max_wand`]).
    BlockMaxWand,
    /// Term-at-a-time accumulation ([`accumulate`]).
    TermAtATime,
}

/// Runs `algo` over `terms` (one cursor and scorer per query term), keeping the `k` best docs
/// that `accept` lets through; docs of equal score are ranked by `order` ([`by_doc`], or e.g.
/// the order of their keys).
pub fn search<
    C: DocCursor,
    S: TermScorer,
    A: Fn(u32) -> bool + ?Sized,
    O: Fn(u32, u32) -> Ordering + ?Sized,
>(
    algo: Algorithm,
    terms: &mut [(C, S)],
    k: usize,
    accept: &A,
    order: &O,
) -> TopDocs {
    match algo {
        Algorithm::Auto => match plan(terms) {
            Algorithm::TermAtATime => accumulate(terms, k, accept, order),
            _ => maxscore(terms, k, accept, order),
        },
        Algorithm::Exhaustive => exhaustive(terms, k, accept, order),
        Algorithm::MaxScore => maxscore(terms, k, accept, order),
        Algorithm::BlockMaxWand => block_max_wand(terms, k, accept, order),
        Algorithm::TermAtATime => accumulate(terms, k, accept, order),
    }
}

//! Per-term scorers: BM25 over term frequencies and document lengths, and quantized impacts.
//!
//! A scorer answers two questions: the score contribution of one posting, and an upper bound of
//! that contribution over a whole postings block described by its [`BlockMeta`]. The pruning
//! algorithms trust the bound, so it is computed by the very same arithmetic as the score at the
//! block's most favourable point and then nudged up, which keeps it an upper bound after f32
//! rounding. Bounds are never negative.

use crate::sparse::BlockMeta;

/// Relative nudge applied to block bounds: a few ulps of headroom over the exact-arithmetic bound,
/// so the rounding inside `score` can never push a real score above it.
const BOUND_NUDGE: f32 = 1.0 + 16.0 * f32::EPSILON;

/// Scores one query term's postings.
pub trait TermScorer {
    /// Score contribution of this term for `doc` with frequency `freq`.
    fn score(&self, doc: u32, freq: u32) -> f32;
    /// An upper bound of `score` over every posting summarised by `meta` (must be >= each real
    /// score in the block, also after f32 rounding).
    fn block_bound(&self, meta: &BlockMeta) -> f32;
}

/// Raises a raw bound by a few ulps and clamps it at zero (a term whose scores are all ≤ 0 is
/// bounded by 0, which keeps running sums of bounds monotone).
fn nudge_up(raw: f32) -> f32 {
    if raw.is_nan() {
        return f32::INFINITY;
    }
    (raw.max(0.0) * BOUND_NUDGE).next_up()
}

/// BM25 parameters. Defaults k1 = 0.9, b = 0.4.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bm25 {
    /// Term-frequency saturation.
    pub k1: f32,
    /// Length normalisation strength, in `[0, 1]`.
    pub b: f32,
}

impl Default for Bm25 {
    fn default() -> Self {
        Bm25 { k1: 0.9, b: 0.4 }
    }
}

/// Lucene's idf: ln(1 + (n - df + 0.5) / (df + 0.5)), computed in f64 then stored as f32.
///
/// Never negative for `df ≤ n_docs`; a `df` above `n_docs` (stale statistics) gives a small or
/// negative value rather than a panic, which [`Bm25Term::new`] clamps to zero.
pub fn bm25_idf(n_docs: u64, df: u64) -> f32 {
    let n = n_docs as f64;
    let df = df as f64;
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln() as f32
}

/// Replaces NaN, infinities and negatives by `fallback`.
fn finite_non_negative(x: f32, fallback: f32) -> f32 {
    if x.is_finite() && x >= 0.0 {
        x
    } else {
        fallback
    }
}

/// One BM25 query term: weight (query term count, usually 1) × idf × tf·(k1+1)/(tf +
/// k1·(1−b+b·dl/avgdl)). `lengths[doc]` = the doc's length in tokens (0 if out of range).
///
/// Invariant: all constants are finite and non-negative, so `score` is finite, ≥ 0 and
/// increasing in tf, decreasing in dl (up to rounding, which the block bound's nudge covers).
#[derive(Debug, Clone, Copy)]
pub struct Bm25Term<'a> {
    /// weight · idf · (k1 + 1).
    numerator: f32,
    /// k1 · (1 − b).
    len_base: f32,
    /// k1 · b / avgdl.
    len_slope: f32,
    lengths: &'a [u32],
}

impl<'a> Bm25Term<'a> {
    /// Precomputes the per-term constants.
    ///
    /// Out-of-domain inputs are sanitised rather than rejected: a non-finite or negative `idf`
    /// or `weight` counts as 0, `k1` likewise falls back to the default, `b` is clamped into
    /// `[0, 1]`, and a non-positive or non-finite `avgdl` disables length normalisation.
    pub fn new(params: Bm25, idf: f32, weight: f32, avgdl: f32, lengths: &'a [u32]) -> Self {
        let k1 = finite_non_negative(params.k1, Bm25::default().k1);
        let b = if params.b.is_nan() {
            0.0
        } else {
            params.b.clamp(0.0, 1.0)
        };
        let idf = finite_non_negative(idf, 0.0);
        let weight = finite_non_negative(weight, 0.0);
        let (len_base, len_slope) = if avgdl.is_finite() && avgdl > 0.0 {
            (k1 * (1.0 - b), k1 * b / avgdl)
        } else {
            (k1, 0.0)
        };
        let numerator = finite_non_negative(weight * idf * (k1 + 1.0), 0.0);
        Bm25Term {
            numerator,
            len_base,
            len_slope: finite_non_negative(len_slope, 0.0),
            lengths,
        }
    }

    /// The formula shared by `score` and `block_bound`, so both round identically.
    #[inline]
    fn eval(&self, freq: u32, len: u32) -> f32 {
        if freq == 0 {
            return 0.0;
        }
        let tf = freq as f32;
        let denom = tf + (self.len_base + self.len_slope * len as f32);
        // tf / denom ≤ 1 (len_base ≥ 0), so the product cannot overflow.
        self.numerator * (tf / denom)
    }
}

impl TermScorer for Bm25Term<'_> {
    #[inline]
    fn score(&self, doc: u32, freq: u32) -> f32 {
        let len = usize::try_from(doc)
            .ok()
            .and_then(|d| self.lengths.get(d))
            .copied()
            .unwrap_or(0);
        self.eval(freq, len)
    }

    fn block_bound(&self, meta: &BlockMeta) -> f32 {
        nudge_up(self.eval(meta.max_freq, meta.min_len))
    }
}

/// An impact term: score = weight × freq (freq is a quantized impact; weight already includes the
/// query weight and the segment's scale).
///
/// Pruning is exact for finite, non-negative weights; a negative weight gives negative scores,
/// which are bounded by 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImpactTerm {
    /// Multiplier applied to the stored impact.
    pub weight: f32,
}

impl TermScorer for ImpactTerm {
    #[inline]
    fn score(&self, _doc: u32, freq: u32) -> f32 {
        self.weight * freq as f32
    }

    fn block_bound(&self, meta: &BlockMeta) -> f32 {
        nudge_up(self.weight * meta.max_freq as f32)
    }
}

/// Either, so one query can mix fields.
#[derive(Debug, Clone, Copy)]
pub enum AnyTerm<'a> {
    /// A BM25 text term.
    Bm25(Bm25Term<'a>),
    /// A sparse-vector (impact) term.
    Impact(ImpactTerm),
}

impl TermScorer for AnyTerm<'_> {
    #[inline]
    fn score(&self, doc: u32, freq: u32) -> f32 {
        match self {
            AnyTerm::Bm25(t) => t.score(doc, freq),
            AnyTerm::Impact(t) => t.score(doc, freq),
        }
    }

    fn block_bound(&self, meta: &BlockMeta) -> f32 {
        match self {
            AnyTerm::Bm25(t) => t.block_bound(meta),
            AnyTerm::Impact(t) => t.block_bound(meta),
        }
    }
}

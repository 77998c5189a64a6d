//! Differential tests: MaxScore and block-max WAND against the exhaustive oracle (ties ranked by
//! doc id or by a shuffled order, as keys rank them), BM25 against an f64 reference, block
//! bounds against real scores.

use std::cell::{Cell, RefCell};
use std::cmp::Ordering;

use proptest::prelude::*;

use super::testing::VecCursor;
use super::*;
use crate::sparse::{BlockMeta, DocCursor, TERMINATED};

const N_DOCS: u32 = 1000;

/// One generated query: per term its postings and scorer kind, plus the collection stats.
#[derive(Debug, Clone)]
struct Case {
    lists: Vec<(Vec<(u32, u32)>, Kind)>,
    lengths: Vec<u32>,
    block_size: usize,
    k: usize,
    /// Percentage of docs `accept` rejects (by a hash of the doc and `seed`).
    reject_pct: u32,
    seed: u64,
    /// Ties ranked by doc id (`None`) or by a hash of the doc salted with this seed, an order
    /// unrelated to doc ids like that of keys written in shuffled order.
    tie_seed: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Bm25 { weight: f32 },
    Impact { weight: f32 },
}

/// The shuffled tie order of [`Case::tie_seed`].
fn shuffled_order(seed: u64) -> impl Fn(u32, u32) -> Ordering {
    move |a, b| {
        let h = |d: u32| crate::rng::splitmix64(&mut (seed ^ u64::from(d)));
        h(a).cmp(&h(b))
    }
}

fn accepts(seed: u64, reject_pct: u32, doc: u32) -> bool {
    let mut state = seed ^ u64::from(doc).wrapping_mul(0x9E37_79B9);
    let h = crate::rng::splitmix64(&mut state);
    (h % 100) as u32 >= reject_pct
}

impl Case {
    fn terms(&self) -> Vec<(VecCursor, AnyTerm<'_>)> {
        self.lists
            .iter()
            .map(|(postings, kind)| {
                let cursor = VecCursor::new(postings.clone(), self.block_size, &self.lengths);
                let scorer = match *kind {
                    Kind::Bm25 { weight } => {
                        let avgdl = self.lengths.iter().map(|&l| f64::from(l)).sum::<f64>()
                            / self.lengths.len().max(1) as f64;
                        let idf = bm25_idf(u64::from(N_DOCS), u64::from(cursor.len()));
                        AnyTerm::Bm25(Bm25Term::new(
                            Bm25::default(),
                            idf,
                            weight,
                            avgdl as f32,
                            &self.lengths,
                        ))
                    }
                    Kind::Impact { weight } => AnyTerm::Impact(ImpactTerm { weight }),
                };
                (cursor, scorer)
            })
            .collect()
    }

    fn run(&self, algo: Algorithm) -> TopDocs {
        let mut terms = self.terms();
        let (seed, pct) = (self.seed, self.reject_pct);
        let accept = |d| accepts(seed, pct, d);
        match self.tie_seed {
            None => search(algo, &mut terms, self.k, &accept, &by_doc),
            Some(t) => search(algo, &mut terms, self.k, &accept, &shuffled_order(t)),
        }
    }

    fn check(&self) -> Result<(), TestCaseError> {
        let oracle = self.run(Algorithm::Exhaustive);
        prop_assert!(oracle.len() <= self.k);
        prop_assert_eq!(&self.run(Algorithm::MaxScore), &oracle, "maxscore");
        prop_assert_eq!(
            &self.run(Algorithm::BlockMaxWand),
            &oracle,
            "block-max wand"
        );
        prop_assert_eq!(&self.run(Algorithm::TermAtATime), &oracle, "term at a time");
        prop_assert_eq!(&self.run(Algorithm::Auto), &oracle, "auto");
        let mut terms = self.terms();
        let (seed, pct) = (self.seed, self.reject_pct);
        let accept = |d| accepts(seed, pct, d);
        let block_max_maxscore = match self.tie_seed {
            None => super::maxscore::maxscore_impl(&mut terms, self.k, &accept, &by_doc, true),
            Some(t) => super::maxscore::maxscore_impl(
                &mut terms,
                self.k,
                &accept,
                &shuffled_order(t),
                true,
            ),
        };
        prop_assert_eq!(&block_max_maxscore, &oracle, "block-max maxscore");
        Ok(())
    }
}

/// `ties`: every freq equal, every length equal, weights 1, so many docs share one score.
fn case_strategy(ties: bool) -> impl Strategy<Value = Case> {
    let kind = prop_oneof![
        (1u32..3).prop_map(|w| Kind::Bm25 { weight: w as f32 }),
        (0.05f32..4.0).prop_map(|weight| Kind::Impact { weight }),
    ];
    let list = (
        prop::collection::vec((0..N_DOCS, 1u32..20), 0..400),
        kind,
        0u8..3,
    )
        .prop_map(move |(mut postings, kind, skew)| {
            if ties {
                postings.iter_mut().for_each(|p| p.1 = 3);
                let kind = match kind {
                    Kind::Bm25 { .. } => Kind::Bm25 { weight: 1.0 },
                    Kind::Impact { .. } => Kind::Impact { weight: 1.0 },
                };
                return (postings, kind);
            }
            // Some lists get a few high-frequency postings, as real lists do.
            if skew == 0 {
                postings.iter_mut().for_each(|p| p.1 = 1 + p.1 / 8);
            }
            (postings, kind)
        });
    let block_size = prop_oneof![Just(1usize), Just(4), Just(7), 2usize..16, Just(128)];
    let reject_pct = prop_oneof![Just(0u32), Just(10), Just(50), Just(100), 0u32..100];
    (
        prop::collection::vec(list, 1..6),
        prop::collection::vec(1u32..300, N_DOCS as usize),
        block_size,
        1usize..50,
        reject_pct,
        any::<u64>(),
        proptest::option::of(any::<u64>()),
    )
        .prop_map(
            move |(lists, mut lengths, block_size, k, reject_pct, seed, tie_seed)| {
                if ties {
                    lengths.iter_mut().for_each(|l| *l = 100);
                }
                Case {
                    lists,
                    lengths,
                    block_size,
                    k,
                    reject_pct,
                    seed,
                    tie_seed,
                }
            },
        )
}

/// Learned-sparse shaped queries: many terms (8 to 60) of quantized impacts (1..=255) with
/// unrelated weights, any k from 1 to 300 (k 10 and 100 often), some docs rejected.
fn sparse_case_strategy() -> impl Strategy<Value = Case> {
    let list = (
        prop::collection::vec((0..N_DOCS, 1u32..256), 0..300),
        0.001f32..3.0,
    )
        .prop_map(|(postings, weight)| (postings, Kind::Impact { weight }));
    let block_size = prop_oneof![Just(4usize), Just(7), 2usize..40, Just(128)];
    let k = prop_oneof![Just(10usize), Just(100), 1usize..300];
    let reject_pct = prop_oneof![Just(0u32), Just(0), Just(30), 0u32..100];
    (
        prop::collection::vec(list, 8..60),
        block_size,
        k,
        reject_pct,
        any::<u64>(),
        proptest::option::of(any::<u64>()),
    )
        .prop_map(|(lists, block_size, k, reject_pct, seed, tie_seed)| Case {
            lists,
            lengths: vec![1; N_DOCS as usize],
            block_size,
            k,
            reject_pct,
            seed,
            tie_seed,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn learned_sparse_shapes_equal_exhaustive(case in sparse_case_strategy()) {
        case.check()?;
    }
}

#[test]
fn plan_scores_long_queries_and_short_lists_term_at_a_time() {
    let lengths = vec![1u32; 200_000];
    let list = |n: u32, step: u32| {
        let postings = (0..n).map(|i| (i * step, 1)).collect();
        (
            VecCursor::new(postings, 128, &lengths),
            ImpactTerm { weight: 1.0 },
        )
    };
    // Few terms, long lists: MaxScore.
    let few_long: Vec<_> = (0..3).map(|t| list(60_000, 2 + t)).collect();
    assert_eq!(plan(&few_long), Algorithm::MaxScore);
    // Few terms, short lists: term at a time.
    let few_short: Vec<_> = (0..3).map(|t| list(1_000, 2 + t)).collect();
    assert_eq!(plan(&few_short), Algorithm::TermAtATime);
    // Many terms, long lists: term at a time.
    let many: Vec<_> = (0..TAAT_MIN_TERMS as u32)
        .map(|t| list(20_000, 2 + t))
        .collect();
    assert_eq!(plan(&many), Algorithm::TermAtATime);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn pruned_equal_exhaustive(case in case_strategy(false)) {
        case.check()?;
    }

    #[test]
    fn pruned_equal_exhaustive_heavy_ties(case in case_strategy(true)) {
        case.check()?;
    }

    #[test]
    fn bm25_block_bound_dominates(
        max_freq in 1u32..1000,
        min_len in 0u32..5000,
        tf_frac in 0.0f64..=1.0,
        extra_len in 0u32..5000,
        k1 in 0.0f32..3.0,
        b in 0.0f32..=1.0,
        avgdl in 0.5f32..500.0,
        idf in 0.0f32..20.0,
        weight in 0.0f32..5.0,
    ) {
        let tf = 1 + ((max_freq - 1) as f64 * tf_frac) as u32;
        let dl = min_len + extra_len;
        let lengths = vec![dl];
        let t = Bm25Term::new(Bm25 { k1, b }, idf, weight, avgdl, &lengths);
        let meta = BlockMeta { last_doc: 0, max_freq, min_len };
        let bound = t.block_bound(&meta);
        prop_assert!(t.score(0, tf) <= bound, "{} > {}", t.score(0, tf), bound);
        prop_assert!(t.score(0, max_freq) <= bound);
        let imp = ImpactTerm { weight };
        prop_assert!(imp.score(0, tf) <= imp.block_bound(&meta));
        prop_assert!(imp.score(0, max_freq) <= imp.block_bound(&meta));
    }
}

#[test]
fn exhaustive_bm25_matches_f64_reference() {
    // Doc lengths and postings of a four-doc corpus.
    let lengths = vec![10u32, 4, 25, 7];
    let n_docs = lengths.len() as u64;
    let avgdl = lengths.iter().map(|&l| f64::from(l)).sum::<f64>() / n_docs as f64;
    let lists: Vec<Vec<(u32, u32)>> = vec![vec![(0, 2), (2, 1), (3, 5)], vec![(1, 1), (2, 3)]];
    let (k1, b) = (0.9f64, 0.4f64);
    let mut expected = vec![0.0f64; lengths.len()];
    for list in &lists {
        let df = list.len() as f64;
        let idf = (1.0 + (n_docs as f64 - df + 0.5) / (df + 0.5)).ln();
        for &(doc, tf) in list {
            let tf = f64::from(tf);
            let dl = f64::from(lengths[doc as usize]);
            expected[doc as usize] +=
                idf * tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * dl / avgdl));
        }
    }
    let mut terms: Vec<_> = lists
        .iter()
        .map(|l| {
            let idf = bm25_idf(n_docs, l.len() as u64);
            let scorer = Bm25Term::new(Bm25::default(), idf, 1.0, avgdl as f32, &lengths);
            (VecCursor::new(l.clone(), 2, &lengths), scorer)
        })
        .collect();
    let top = exhaustive(&mut terms, 10, &|_| true, &by_doc);
    assert_eq!(top.len(), 4);
    for pair in top.windows(2) {
        assert!(pair[0].0 >= pair[1].0);
    }
    for &(score, doc) in &top {
        let want = expected[doc as usize];
        assert!(
            (f64::from(score) - want).abs() < 1e-5 * want.max(1.0),
            "doc {doc}: {score} vs {want}"
        );
    }
}

#[test]
fn bm25_idf_is_lucene() {
    let idf = bm25_idf(100, 10);
    let want = (1.0f64 + (100.0 - 10.0 + 0.5) / (10.0 + 0.5)).ln();
    assert!((f64::from(idf) - want).abs() < 1e-6);
    assert!(bm25_idf(10, 10) > 0.0);
    // Stale statistics (df > n) do not panic and are clamped by the term.
    let lengths = [5u32];
    let t = Bm25Term::new(Bm25::default(), bm25_idf(1, 1000), 1.0, 5.0, &lengths);
    assert!(t.score(0, 3) >= 0.0);
}

#[test]
fn degenerate_parameters_give_finite_scores() {
    let lengths = [0u32, 5, u32::MAX];
    for avgdl in [0.0, -1.0, f32::NAN, f32::INFINITY, 1e-30] {
        for (k1, b) in [(0.0, 0.0), (f32::NAN, f32::NAN), (-1.0, 2.0), (1e30, 1.0)] {
            let t = Bm25Term::new(Bm25 { k1, b }, 2.0, 1.0, avgdl, &lengths);
            for doc in 0..4 {
                for freq in [0, 1, 7, u32::MAX] {
                    let s = t.score(doc, freq);
                    assert!(s.is_finite() && s >= 0.0, "{s}");
                }
            }
        }
    }
}

fn all_algorithms() -> [Algorithm; 5] {
    [
        Algorithm::Exhaustive,
        Algorithm::MaxScore,
        Algorithm::BlockMaxWand,
        Algorithm::TermAtATime,
        Algorithm::Auto,
    ]
}

#[test]
fn degenerate_inputs() {
    let lengths = vec![10u32; 20];
    let make = || {
        vec![
            (
                VecCursor::new(vec![(1, 2), (5, 1)], 4, &lengths),
                ImpactTerm { weight: 1.0 },
            ),
            (
                VecCursor::new(vec![], 4, &lengths),
                ImpactTerm { weight: 1.0 },
            ),
        ]
    };
    for algo in all_algorithms() {
        let mut none: Vec<(VecCursor, ImpactTerm)> = Vec::new();
        assert!(search(algo, &mut none, 10, &|_| true, &by_doc).is_empty());
        let mut empty = vec![(
            VecCursor::new(vec![], 4, &lengths),
            ImpactTerm { weight: 1.0 },
        )];
        assert!(search(algo, &mut empty, 10, &|_| true, &by_doc).is_empty());
        assert!(search(algo, &mut make(), 0, &|_| true, &by_doc).is_empty());
        assert!(search(algo, &mut make(), 10, &|_| false, &by_doc).is_empty());
        assert_eq!(
            search(algo, &mut make(), usize::MAX, &|_| true, &by_doc),
            vec![(2.0, 1), (1.0, 5)]
        );
        assert_eq!(
            search(algo, &mut make(), 1, &|d| d != 1, &by_doc),
            vec![(1.0, 5)]
        );
    }
}

#[test]
fn ties_break_by_doc_ascending() {
    let lengths = vec![10u32; 100];
    for algo in all_algorithms() {
        let mut terms = vec![
            (
                VecCursor::new((0..50).map(|d| (d * 2, 1)).collect(), 4, &lengths),
                ImpactTerm { weight: 1.0 },
            ),
            (
                VecCursor::new((0..30).map(|d| (d * 3, 1)).collect(), 4, &lengths),
                ImpactTerm { weight: 1.0 },
            ),
        ];
        // Docs in both lists (multiples of 6 up to 84) score 2, the others 1.
        let top = search(algo, &mut terms, 20, &|_| true, &by_doc);
        let want: TopDocs = (0..15)
            .map(|i| (2.0, i * 6))
            .chain([(1.0, 2), (1.0, 3), (1.0, 4), (1.0, 8), (1.0, 9)])
            .collect();
        assert_eq!(top, want, "{algo:?}");
    }
}

#[test]
fn ties_follow_the_given_order_even_against_doc_ids() {
    // Later docs win ties, so every pruning test meets unseen docs that score exactly the
    // threshold and must still enter.
    let lengths = vec![10u32; 100];
    let later_first = |a: u32, b: u32| b.cmp(&a);
    for algo in all_algorithms() {
        for block_size in [1, 4, 128] {
            let mut terms = vec![
                (
                    VecCursor::new((0..50).map(|d| (d * 2, 1)).collect(), block_size, &lengths),
                    ImpactTerm { weight: 1.0 },
                ),
                (
                    VecCursor::new((0..30).map(|d| (d * 3, 1)).collect(), block_size, &lengths),
                    ImpactTerm { weight: 1.0 },
                ),
            ];
            // Docs in both lists (multiples of 6 up to 84) score 2, the others 1.
            let top = search(algo, &mut terms, 20, &|_| true, &later_first);
            let want: TopDocs = (0..15)
                .rev()
                .map(|i| (2.0, i * 6))
                .chain([(1.0, 98), (1.0, 96), (1.0, 94), (1.0, 92), (1.0, 90)])
                .collect();
            assert_eq!(top, want, "{algo:?} blocks of {block_size}");
        }
    }
}

/// Wraps a scorer to record which docs were scored.
struct Recording<S> {
    inner: S,
    scored: RefCell<Vec<u32>>,
    calls: Cell<u64>,
}

impl<S: TermScorer> TermScorer for Recording<S> {
    fn score(&self, doc: u32, freq: u32) -> f32 {
        self.calls.set(self.calls.get() + 1);
        self.scored.borrow_mut().push(doc);
        self.inner.score(doc, freq)
    }
    fn block_bound(&self, meta: &BlockMeta) -> f32 {
        self.inner.block_bound(meta)
    }
}

/// Zipf-ish lists: term t holds doc d with probability ~ 1/(t+1), impacts mostly small.
fn skewed_lists(n_terms: usize, n_docs: u32, seed: u64) -> Vec<Vec<(u32, u32)>> {
    let mut state = seed;
    (0..n_terms)
        .map(|t| {
            (0..n_docs)
                .filter_map(|d| {
                    let r = crate::rng::splitmix64(&mut state);
                    if !r.is_multiple_of(2 * t as u64 + 2) {
                        return None;
                    }
                    let f = 1 + ((r >> 32) % 1000) as u32;
                    Some((d, (1000 / f).max(1)))
                })
                .collect()
        })
        .collect()
}

/// Postings scored by exhaustive, MaxScore, block-max WAND and block-max MaxScore on
/// `lists` (impacts, term t weighted `weight(t)`), checking on the way that no doc `accept`
/// rejects is ever scored or returned.
fn scored_postings(lists: &[Vec<(u32, u32)>], weight: impl Fn(usize) -> f32) -> Vec<u64> {
    let lengths = vec![50u32; 5000];
    let accept = |d: u32| !d.is_multiple_of(3);
    let mut calls = Vec::new();
    for variant in 0..4 {
        let mut terms: Vec<_> = lists
            .iter()
            .enumerate()
            .map(|(t, l)| {
                let scorer = Recording {
                    inner: ImpactTerm { weight: weight(t) },
                    scored: RefCell::new(Vec::new()),
                    calls: Cell::new(0),
                };
                (VecCursor::new(l.clone(), 16, &lengths), scorer)
            })
            .collect();
        let top = match variant {
            0 => exhaustive(&mut terms, 10, &accept, &by_doc),
            1 => maxscore(&mut terms, 10, &accept, &by_doc),
            2 => block_max_wand(&mut terms, 10, &accept, &by_doc),
            _ => super::maxscore::maxscore_impl(&mut terms, 10, &accept, &by_doc, true),
        };
        assert_eq!(top.len(), 10);
        assert!(top.iter().all(|&(_, d)| accept(d)));
        for (_, s) in &terms {
            assert!(s.scored.borrow().iter().all(|&d| accept(d)), "{variant}");
        }
        calls.push(terms.iter().map(|(_, s)| s.calls.get()).sum::<u64>());
    }
    calls
}

#[test]
fn accept_is_checked_before_scoring_and_pruning_prunes() {
    let lists = skewed_lists(4, 5000, 7);
    // Term bounds far apart: the list bounds alone prune.
    let calls = scored_postings(&lists, |t| 10f32.powi(t as i32));
    for c in &calls[1..] {
        assert!(c * 2 < calls[0], "{calls:?}");
    }
    // Similar list bounds set by rare outliers: only the block bounds prune.
    let calls = scored_postings(&lists, |t| 1.0 + t as f32);
    assert!(calls[1] <= calls[0], "{calls:?}");
    assert!(calls[2] * 2 < calls[0], "{calls:?}");
    assert!(calls[3] < calls[0], "{calls:?}");
}

#[test]
fn vec_cursor_blocks_and_seeks() {
    let lengths = vec![3u32, 9, 1, 4, 4, 8, 2, 6];
    let mut c = VecCursor::new(
        vec![(6, 2), (0, 1), (3, 7), (5, 1), (3, 9), (7, 4)],
        2,
        &lengths,
    );
    assert_eq!(c.len(), 5);
    assert_eq!(c.num_blocks(), 3);
    assert_eq!(
        c.block(0),
        Some(BlockMeta {
            last_doc: 3,
            max_freq: 7,
            min_len: 3
        })
    );
    assert_eq!(c.block(3), None);
    assert_eq!(c.doc(), 0);
    assert_eq!(c.block_for(4).map(|m| m.last_doc), Some(6));
    assert_eq!(c.doc(), 0, "block_for must not move the cursor");
    assert_eq!(c.seek(4), 5);
    assert_eq!(c.freq(), 1);
    assert_eq!(c.seek(1), 5, "seek never goes back");
    assert_eq!(c.advance(), 6);
    assert_eq!(c.block_for(8), None);
    assert_eq!(c.seek(100), TERMINATED);
    assert_eq!(c.advance(), TERMINATED);
    let empty = VecCursor::new(vec![], 0, &[]);
    assert!(empty.is_empty());
    assert_eq!(empty.doc(), TERMINATED);
}

//! Ranking metrics as BEIR reports them (through `pytrec_eval`, i.e. trec_eval), plus run
//! output and latency percentiles.
//!
//! Conventions shared by the metrics:
//!
//! - a document is relevant when its grade is > 0; unjudged documents and grades <= 0 gain 0;
//! - `ranked` is best first; rank positions are 1-based;
//! - a document id repeated in `ranked` counts once, at its first position, and the repeat does
//!   not take a position (as if the run were a map from document to score, which is all
//!   `pytrec_eval` can represent);
//! - `k == 0`, or a query without relevant documents, scores 0.

use std::collections::{HashMap, HashSet};
use std::io::Write;

/// Removes the hits whose id equals the query id (BEIR's `ignore_identical_ids`, used on data
/// sets such as ArguAna and Quora where a query is also a corpus document).
pub fn drop_identical_ids<T>(qid: &str, hits: &mut Vec<T>, id_of: impl Fn(&T) -> &str) {
    hits.retain(|h| id_of(h) != qid);
}

/// The first `k` distinct ids of `ranked`, in order.
fn top_k_distinct<'a>(ranked: &[&'a str], k: usize) -> impl Iterator<Item = &'a str> {
    let mut seen = HashSet::with_capacity(k.min(ranked.len()));
    ranked
        .iter()
        .copied()
        .filter(move |id| seen.insert(*id))
        .take(k)
}

/// The gain of `id`: its grade if positive, else 0.
fn gain(rel: &HashMap<String, i32>, id: &str) -> f64 {
    rel.get(id).map_or(0.0, |&g| f64::from(g.max(0)))
}

/// The discount of 0-based position `i`: log2(rank + 1) with rank = i + 1.
fn discount(i: usize) -> f64 {
    ((i + 2) as f64).log2()
}

/// nDCG@k as trec_eval's `ndcg_cut`: linear gains (the grade), discount log2(rank + 1), and an
/// ideal DCG over all judged documents with grade > 0 sorted by grade, cut at `k`.
pub fn ndcg_at(ranked: &[&str], rel: &HashMap<String, i32>, k: usize) -> f64 {
    let mut ideal: Vec<i32> = rel.values().copied().filter(|&g| g > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, &g)| f64::from(g) / discount(i))
        .sum();
    if idcg <= 0.0 {
        return 0.0;
    }
    let dcg: f64 = top_k_distinct(ranked, k)
        .enumerate()
        .map(|(i, id)| gain(rel, id) / discount(i))
        .sum();
    dcg / idcg
}

/// Recall@k: the share of the relevant documents found in the top `k`.
pub fn recall_at(ranked: &[&str], rel: &HashMap<String, i32>, k: usize) -> f64 {
    let relevant = rel.values().filter(|&&g| g > 0).count();
    if relevant == 0 {
        return 0.0;
    }
    let found = top_k_distinct(ranked, k)
        .filter(|id| rel.get(*id).is_some_and(|&g| g > 0))
        .count();
    found as f64 / relevant as f64
}

/// MRR@k (BEIR's definition): 1 / rank of the first relevant document in the top `k`, else 0.
pub fn mrr_at(ranked: &[&str], rel: &HashMap<String, i32>, k: usize) -> f64 {
    top_k_distinct(ranked, k)
        .position(|id| rel.get(id).is_some_and(|&g| g > 0))
        .map_or(0.0, |i| 1.0 / (i + 1) as f64)
}

/// Writes one query's hits as TREC run lines `qid Q0 docid rank score tag`, ranks from 1.
///
/// Scores are printed in Rust's shortest representation that reads back to the same `f32`.
/// An empty id or tag, or one holding whitespace (which would shift the columns), is an
/// [`std::io::ErrorKind::InvalidInput`] error and nothing of that line is written.
pub fn write_trec_run(
    w: &mut impl Write,
    qid: &str,
    ranked: &[(&str, f32)],
    tag: &str,
) -> std::io::Result<()> {
    check_field("query id", qid)?;
    check_field("run tag", tag)?;
    for (i, (doc, score)) in ranked.iter().enumerate() {
        check_field("document id", doc)?;
        writeln!(w, "{qid} Q0 {doc} {} {score} {tag}", i + 1)?;
    }
    Ok(())
}

/// Fails unless `value` is a non-empty run of non-whitespace characters.
fn check_field(what: &str, value: &str) -> std::io::Result<()> {
    if value.is_empty() || value.chars().any(char::is_whitespace) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{what} {value:?} is empty or holds whitespace: not writable in a TREC run"),
        ));
    }
    Ok(())
}

/// The nearest-rank `p`-th percentile of ascending `sorted_ms`: `sorted[ceil(p/100 * n) - 1]`,
/// with the rank clamped to `1..=n` (so `p <= 0` gives the minimum and `p >= 100` the maximum);
/// 0 for an empty slice. A tiny tolerance keeps `p/100 * n` that should be an integer from
/// being pushed up a rank by floating-point error.
pub fn percentile(sorted_ms: &[f64], p: f64) -> f64 {
    let n = sorted_ms.len();
    if n == 0 {
        return 0.0;
    }
    let exact = p * n as f64 / 100.0;
    let rank = (exact - 1e-9).ceil();
    // NaN `p` falls through to rank 1.
    let rank = if rank >= 1.0 {
        (rank as usize).min(n)
    } else {
        1
    };
    sorted_ms.get(rank - 1).copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(pairs: &[(&str, i32)]) -> HashMap<String, i32> {
        pairs.iter().map(|&(d, g)| (d.to_owned(), g)).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn ndcg_graded_by_hand() {
        // Judged: a=3, b=2, c=0, d=1. Run: d, x (unjudged), a, c, b.
        let r = rel(&[("a", 3), ("b", 2), ("c", 0), ("d", 1)]);
        let run = ["d", "x", "a", "c", "b"];
        let l = |rank: f64| (rank + 1.0).log2();
        let dcg5 = 1.0 / l(1.0) + 3.0 / l(3.0) + 2.0 / l(5.0);
        let idcg5 = 3.0 / l(1.0) + 2.0 / l(2.0) + 1.0 / l(3.0);
        assert!(close(ndcg_at(&run, &r, 5), dcg5 / idcg5));
        assert!(close(ndcg_at(&run, &r, 10), dcg5 / idcg5));
        // Cut at 2: the ideal is cut too.
        let dcg2 = 1.0;
        let idcg2 = 3.0 + 2.0 / l(2.0);
        assert!(close(ndcg_at(&run, &r, 2), dcg2 / idcg2));
        // Perfect order scores 1.
        assert!(close(ndcg_at(&["a", "b", "d"], &r, 3), 1.0));
        assert!(close(ndcg_at(&["a", "b", "d", "c"], &r, 10), 1.0));
    }

    #[test]
    fn nothing_relevant_or_k_zero_scores_zero() {
        let none = rel(&[("a", 0), ("b", -1)]);
        let run = ["a", "b"];
        assert_eq!(ndcg_at(&run, &none, 10), 0.0);
        assert_eq!(recall_at(&run, &none, 10), 0.0);
        assert_eq!(mrr_at(&run, &none, 10), 0.0);
        let some = rel(&[("a", 1)]);
        assert_eq!(ndcg_at(&run, &some, 0), 0.0);
        assert_eq!(recall_at(&run, &some, 0), 0.0);
        assert_eq!(mrr_at(&run, &some, 0), 0.0);
        assert_eq!(ndcg_at(&[], &some, 10), 0.0);
    }

    #[test]
    fn recall_and_mrr_by_hand() {
        let r = rel(&[("a", 1), ("b", 2), ("c", 1), ("z", 0)]);
        let run = ["z", "x", "b", "y", "a"];
        assert!(close(recall_at(&run, &r, 2), 0.0));
        assert!(close(recall_at(&run, &r, 3), 1.0 / 3.0));
        assert!(close(recall_at(&run, &r, 5), 2.0 / 3.0));
        assert!(close(mrr_at(&run, &r, 2), 0.0));
        assert!(close(mrr_at(&run, &r, 3), 1.0 / 3.0));
        assert!(close(mrr_at(&run, &r, 100), 1.0 / 3.0));
    }

    #[test]
    fn duplicates_count_once_and_take_no_position() {
        let r = rel(&[("a", 1), ("b", 1)]);
        // Without dedup, the second "a" would be rank 2 and "b" would fall outside k = 2.
        let run = ["a", "a", "b"];
        assert!(close(recall_at(&run, &r, 2), 1.0));
        assert!(close(ndcg_at(&run, &r, 2), 1.0));
        assert!(close(ndcg_at(&run, &r, 2), ndcg_at(&["a", "b"], &r, 2)));
        assert!(close(mrr_at(&["x", "x", "a"], &r, 2), 0.5));
    }

    #[test]
    fn identical_ids_are_dropped() {
        let mut hits = vec![("q1", 3.0f32), ("d1", 2.0), ("q1", 1.0), ("d2", 0.5)];
        drop_identical_ids("q1", &mut hits, |h| h.0);
        assert_eq!(hits, [("d1", 2.0), ("d2", 0.5)]);
        let mut ids = vec!["a".to_owned(), "q".to_owned()];
        drop_identical_ids("q", &mut ids, |s| s.as_str());
        assert_eq!(ids, ["a"]);
    }

    #[test]
    fn trec_run_lines() {
        let mut out = Vec::new();
        let score = 0.1f32 + 0.2f32;
        write_trec_run(&mut out, "q1", &[("d1", 12.5), ("d2", score)], "strata").unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "q1 Q0 d1 1 12.5 strata");
        let fields: Vec<&str> = lines[1].split(' ').collect();
        assert_eq!(fields[..4], ["q1", "Q0", "d2", "2"]);
        assert_eq!(fields[4].parse::<f32>().unwrap().to_bits(), score.to_bits());
        let mut out = Vec::new();
        assert!(write_trec_run(&mut out, "q 1", &[("d", 1.0)], "t").is_err());
        assert!(write_trec_run(&mut out, "q", &[("d\t2", 1.0)], "t").is_err());
        assert!(write_trec_run(&mut out, "q", &[], "").is_err());
        assert!(out.is_empty());
    }

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(percentile(&[], 50.0), 0.0);
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&v, 95.0), 19.0);
        assert_eq!(percentile(&v, 50.0), 10.0);
        assert_eq!(percentile(&v, 99.0), 20.0);
        assert_eq!(percentile(&v, 100.0), 20.0);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&v, 150.0), 20.0);
        assert_eq!(percentile(&v, f64::NAN), 1.0);
        let w = [15.0, 20.0, 35.0, 40.0, 50.0];
        assert_eq!(percentile(&w, 30.0), 20.0);
        assert_eq!(percentile(&w, 40.0), 20.0);
        assert_eq!(percentile(&w, 50.0), 35.0);
        let thousand: Vec<f64> = (1..=1000).map(f64::from).collect();
        assert_eq!(percentile(&thousand, 99.9), 999.0);
    }
}

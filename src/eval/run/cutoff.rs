//! `--cutoff`: a calibrated relevance cut-off fitted on the training split's judged queries
//! and measured on the evaluated split, beside two baselines fitted on the training split the
//! same way: the best fixed k, and the best global threshold on raw scores.

use super::{EvalConfig, Hits, Signals, make_query, time_queries};
use crate::calibrate::{Calibration, JudgedRanking, best_threshold, mean_f1, prefix_at};
use crate::error::Result;
use crate::eval::{Qrels, drop_identical_ids, read_qrels, vectors_by_id};
use crate::txn::Snapshot;
use serde_json::{Map, Value, json};
use std::path::Path;

/// A ranking judged with `qrels` (relevance above 0 counts as relevant).
fn judged(qid: &str, hits: &Hits, qrels: &Qrels) -> JudgedRanking {
    let rel = qrels.get(qid);
    let is_rel = |d: &str| rel.and_then(|r| r.get(d)).is_some_and(|&g| g > 0);
    JudgedRanking {
        scores: hits.iter().map(|h| h.1).collect(),
        relevant: hits.iter().map(|h| is_rel(&h.0)).collect(),
        total_relevant: rel.map_or(0, |r| r.values().filter(|&&g| g > 0).count()),
    }
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// Fits on the training split and measures on `test` (the evaluated run, ids already dropped
/// as BEIR does); returns the report's fields.
#[allow(clippy::too_many_arguments)]
pub(super) fn cutoff(
    cfg: &EvalConfig,
    dir: &Path,
    sig: &mut Signals,
    snap: &Snapshot,
    nlist: u32,
    queries: &[(String, String)],
    test_built: &[crate::search::Query],
    test_run: &[(String, Hits)],
    test_qrels: &Qrels,
    notes: &mut Vec<String>,
) -> Result<Map<String, Value>> {
    let train_qrels = read_qrels(
        &cfg.beir
            .join("qrels")
            .join(format!("{}.tsv", cfg.train_split)),
    )?;
    if sig.dense
        && let (Some(v), Some(i)) = (&cfg.train_query_vectors, &cfg.train_query_ids)
    {
        let (_, train_vectors) = vectors_by_id(v, i)?;
        for (id, v) in train_vectors {
            sig.query_vectors.entry(id).or_insert(v);
        }
    }
    let train_queries: Vec<&(String, String)> = queries
        .iter()
        .filter(|(id, _)| train_qrels.contains_key(id))
        .filter(|(id, _)| !sig.dense || sig.query_vectors.contains_key(id))
        .collect();
    let built = train_queries
        .iter()
        .map(|(id, text)| make_query(cfg, sig, nlist, id, text))
        .collect::<Result<Vec<_>>>()?;
    let (_, runs) = time_queries(snap, &built, 1)?;
    let train: Vec<JudgedRanking> = train_queries
        .iter()
        .zip(runs)
        .map(|((qid, _), mut hits)| {
            drop_identical_ids(qid, &mut hits, |h| h.0.as_str());
            judged(qid, &hits, &train_qrels)
        })
        .collect();
    let test: Vec<JudgedRanking> = test_run
        .iter()
        .map(|(qid, hits)| judged(qid, hits, test_qrels))
        .collect();
    let cal = Calibration::fit(&train, 1)?;
    // With a model to keep it in, the calibration is committed and the evaluated split is
    // searched again through `min_probability`: what is measured is what a query returns.
    let kind = test_built
        .first()
        .map_or("hybrid", |q| crate::search::score_kind(&q.sources()));
    let stored = snap.model().is_some();
    let (f1, precision, recall, returned) = if stored {
        let mut index = crate::txn::Index::open(dir)?;
        index.commit_calibration(kind, cal.clone())?;
        drop(index);
        let snap = crate::txn::Reader::open(dir)?.snapshot();
        let cut: Vec<crate::search::Query> = test_built
            .iter()
            .map(|q| q.clone().min_probability(cal.threshold))
            .collect();
        let (_, runs) = time_queries(&snap, &cut, 1)?;
        let kept: Vec<usize> = test_run
            .iter()
            .zip(runs)
            .map(|((qid, _), mut hits)| {
                drop_identical_ids(qid, &mut hits, |h| h.0.as_str());
                hits.len()
            })
            .collect();
        mean_f1(&test, |i| kept.get(i).copied().unwrap_or(0))
    } else {
        mean_f1(&test, |i| {
            test.get(i).map_or(0, |q| cal.cut(&q.scores, cal.threshold))
        })
    };
    // Best fixed k on the training queries.
    let depth = train.iter().map(|q| q.scores.len()).max().unwrap_or(0);
    let best_k = (1..=depth.max(1))
        .map(|k| (mean_f1(&train, |_| k).0, k))
        .fold((f64::NEG_INFINITY, 1), |a, b| if b.0 > a.0 { b } else { a })
        .1;
    let fixed_k_f1 = mean_f1(&test, |_| best_k).0;
    // Best global threshold on raw scores on the training queries.
    let raw_of =
        |qs: &[JudgedRanking]| -> Vec<Vec<f32>> { qs.iter().map(|q| q.scores.clone()).collect() };
    let best_t = best_threshold(&train, &raw_of(&train), 0);
    let test_raw = raw_of(&test);
    let raw_f1 = mean_f1(&test, |i| {
        test_raw.get(i).map_or(0, |v| prefix_at(v, best_t, 0))
    })
    .0;
    notes.push(format!(
        "cut-off fitted on {} {} queries: probability threshold {:.4}, fixed k {best_k}, raw threshold {best_t}",
        train.len(),
        cfg.train_split,
        cal.threshold
    ));
    let mut out = Map::new();
    for (k, v) in [
        ("cutoff_precision", json!(round4(precision))),
        ("cutoff_recall", json!(round4(recall))),
        ("cutoff_f1", json!(round4(f1))),
        ("cutoff_mean_returned", json!(round4(returned))),
        ("cutoff_threshold", json!(round4(f64::from(cal.threshold)))),
        ("fixed_k", json!(best_k)),
        ("fixed_k_f1", json!(round4(fixed_k_f1))),
        ("raw_threshold_f1", json!(round4(raw_f1))),
        ("cutoff_train_queries", json!(train.len())),
        ("cutoff_stored", json!(stored)),
    ] {
        out.insert(k.to_owned(), v);
    }
    Ok(out)
}

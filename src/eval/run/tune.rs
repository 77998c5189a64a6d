//! `--tune`: the evaluation index's model tuned on the training split before the test split
//! is searched.

use super::EvalConfig;
use crate::dense::ivf::TuneConfig;
use crate::error::{Error, Result};
use crate::eval::beir::read_qrels;
use crate::eval::signals::vectors_by_id;
use crate::search::TunePairs;
use crate::txn::Index;
use std::path::Path;

/// What the tuning did, for the report.
pub(super) struct Tuned {
    /// Whether a tuned generation was committed (no epoch beat the untuned model otherwise).
    pub(super) committed: bool,
    pub(super) seconds: f64,
    pub(super) queries: usize,
    pub(super) best_epoch: usize,
}

/// Tunes the model of the index in `dir` with the training queries' judged-relevant
/// documents as positives.
pub(super) fn tune(cfg: &EvalConfig, dir: &Path, notes: &mut Vec<String>) -> Result<Tuned> {
    let (Some(qv), Some(qi)) = (&cfg.train_query_vectors, &cfg.train_query_ids) else {
        return Err(Error::InvalidArgument(
            "tune needs train_query_vectors and train_query_ids".into(),
        ));
    };
    let qrels_path = cfg
        .beir
        .join("qrels")
        .join(format!("{}.tsv", cfg.train_split));
    let qrels = read_qrels(&qrels_path)?;
    let (_, vectors) = vectors_by_id(qv, qi)?;
    let pairs = TunePairs::from_qrels(&qrels, &vectors, crate::types::KeyKind::Str)?;
    let start = std::time::Instant::now();
    let mut index = Index::open(dir)?;
    let report = index.tune_codebooks(&pairs, &TuneConfig::default(), &mut |_| true)?;
    drop(index);
    let seconds = start.elapsed().as_secs_f64();
    let first = report.epochs.first().map_or(0.0, |e| e.holdout_recall);
    let best = report
        .epochs
        .get(report.best_epoch)
        .map_or(0.0, |e| e.holdout_recall);
    notes.push(format!(
        "tuned on {} {} queries in {seconds:.1} s: held-out recall@10 {first:.4} -> {best:.4} (epoch {}), {}",
        report.queries,
        cfg.train_split,
        report.best_epoch,
        if report.generation.is_some() {
            "committed"
        } else {
            "no epoch beat the untuned model; nothing committed"
        }
    ));
    Ok(Tuned {
        committed: report.generation.is_some(),
        seconds,
        queries: report.queries,
        best_epoch: report.best_epoch,
    })
}

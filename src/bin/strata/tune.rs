//! `strata tune`: tunes the index's IVF-PQ model for ranking and commits it as a new model
//! generation (or rolls back to the previous one).

use crate::util::{open_writer, progress_bar};
use crate::{CliError, CliResult};
use clap::Args;
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;
use strata::eval::{read_qrels, vectors_by_id};
use strata::{TuneConfig, TunePairs};

/// Options of `strata tune`.
#[derive(Debug, Args)]
pub struct TuneArgs {
    /// The index directory.
    dir: PathBuf,
    /// Where training pairs come from: `mined` (a seeded sample of stored vectors as queries,
    /// their exact nearest neighbours as relevant) or `qrels` (--queries, --query-ids,
    /// --qrels).
    #[arg(long, default_value = "mined")]
    pairs: String,
    /// Query vectors (.npy/.fvecs), row i for line i of --query-ids (--pairs qrels).
    #[arg(long)]
    queries: Option<PathBuf>,
    /// Query ids, one per line (--pairs qrels).
    #[arg(long)]
    query_ids: Option<PathBuf>,
    /// Relevance judgements in BEIR form (`query-id corpus-id score` lines after a header) or
    /// TREC form (`query-id iteration corpus-id score`); documents with a score above 0 are
    /// relevant (--pairs qrels).
    #[arg(long)]
    qrels: Option<PathBuf>,
    /// Stored vectors used as queries (--pairs mined; default 20,000 for 4-bit codes and
    /// 40,000 for 8-bit codes, whose codebooks have 16 times the parameters).
    #[arg(long)]
    mined_queries: Option<usize>,
    /// Exact neighbours per mined query taken as relevant (--pairs mined).
    #[arg(long, default_value_t = 10)]
    positives: usize,
    /// Passes over the training queries at most.
    #[arg(long, default_value_t = TuneConfig::default().epochs)]
    epochs: usize,
    /// Hard negatives per query.
    #[arg(long, default_value_t = TuneConfig::default().negatives)]
    negatives: usize,
    /// Lists probed when mining negatives and measuring held-out recall.
    #[arg(long, default_value_t = TuneConfig::default().nprobe)]
    nprobe: usize,
    /// Adam step size, relative to the codebooks' root mean square.
    #[arg(long, default_value_t = TuneConfig::default().learning_rate)]
    learning_rate: f32,
    /// Softmax temperature, relative to the spread of a query's candidate scores.
    #[arg(long, default_value_t = TuneConfig::default().temperature)]
    temperature: f32,
    /// Seeds the sample, the held-out split and the order of the queries.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Instead of tuning, make the previous model generation the index's model again.
    #[arg(long, conflicts_with = "pairs")]
    rollback: bool,
}

/// Runs `strata tune`; prints one JSON line.
pub fn run(args: &TuneArgs) -> CliResult {
    let mut index = open_writer(&args.dir)?;
    if args.rollback {
        let generation = index.rollback_model()?;
        out!("{}", json!({"rolled_back": true, "generation": generation}))?;
        return Ok(());
    }
    let pairs = match args.pairs.as_str() {
        "mined" => TunePairs::Mined {
            queries: args.mined_queries.unwrap_or_else(|| {
                let nbits = index.snapshot().model().map_or(4, |m| m.codebooks().nbits);
                TunePairs::default_mined_queries(nbits)
            }),
            positives: args.positives,
            seed: args.seed,
        },
        "qrels" => {
            let (Some(q), Some(ids), Some(qrels)) = (&args.queries, &args.query_ids, &args.qrels)
            else {
                return Err(CliError::Usage(
                    "--pairs qrels needs --queries, --query-ids and --qrels".into(),
                ));
            };
            let key_kind = index.snapshot().schema().key;
            let (_, vectors) = vectors_by_id(q, ids)?;
            let judged = read_qrels(qrels)?;
            TunePairs::from_qrels(&judged, &vectors, key_kind).map_err(|e| match e {
                strata::Error::InvalidArgument(m) => {
                    CliError::Usage(format!("{}: {m}", qrels.display()))
                }
                e => CliError::Strata(e),
            })?
        }
        other => {
            return Err(CliError::Usage(format!(
                "--pairs {other} is not known (available: mined, qrels)"
            )));
        }
    };
    let cfg = TuneConfig {
        epochs: args.epochs,
        negatives: args.negatives,
        nprobe: args.nprobe,
        learning_rate: args.learning_rate,
        temperature: args.temperature,
        seed: args.seed,
        ..TuneConfig::default()
    };
    let t = Instant::now();
    // Epoch 0 measures the untuned model; the bar counts it with the training epochs.
    let bar = progress_bar(cfg.epochs as u64 + 1, "tuning");
    let report = index.tune_codebooks(&pairs, &cfg, &mut |e| {
        bar.set_position(e.epoch as u64 + 1);
        bar.set_message(format!(
            "epoch {} loss {:.4} held-out recall@10 {:.4}",
            e.epoch, e.loss, e.holdout_recall
        ));
        bar.suspend(|| {
            note!(
                "epoch {}: loss {:.4}, held-out recall@10 {:.4} ({:.1} s)",
                e.epoch,
                e.loss,
                e.holdout_recall,
                t.elapsed().as_secs_f64()
            );
        });
        true
    });
    bar.finish_and_clear();
    let report = report?;
    let epochs: Vec<_> = report
        .epochs
        .iter()
        .map(|e| json!({"epoch": e.epoch, "loss": e.loss, "holdout_recall": e.holdout_recall}))
        .collect();
    out!(
        "{}",
        json!({
            "queries": report.queries,
            "pairs_s": (report.pairs_seconds * 100.0).round() / 100.0,
            "tune_s": (report.tune_seconds * 100.0).round() / 100.0,
            "best_epoch": report.best_epoch,
            "committed": report.generation.is_some(),
            "generation": report.generation,
            "epochs": epochs,
        })
    )?;
    Ok(())
}

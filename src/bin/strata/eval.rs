//! `strata eval`: retrieval quality and latency on a BEIR folder, for BM25, dense, learned-sparse
//! and hybrid queries.
//!
//! The flags map one to one to the fields of [`strata::eval::EvalConfig`]; the evaluation
//! itself (build, reopen read-only, query through [`strata::Snapshot::query`], score, time,
//! write the TREC run) is [`strata::eval::evaluate`], the same code the Python binding calls,
//! and the JSON line printed is its report.

use crate::{CliError, CliResult};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use strata::eval::{EvalConfig, EvalFields, EvalMode, evaluate};
use strata::sparse::query::Algorithm;
use strata::{Error, FusionMethod, Normalization};

/// How title and text are indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FieldsArg {
    /// `title + " " + text` in one field (the usual "BM25 flat" baseline).
    Flat,
    /// Title and text as two fields, both searched, scores summed.
    Multi,
}

/// Traversal algorithms as spelled on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AlgoArg {
    /// Term at a time for short lists, MaxScore for long ones.
    Auto,
    /// Block-max WAND.
    Wand,
    /// MaxScore.
    Maxscore,
    /// Exhaustive document-at-a-time (no pruning).
    Exhaustive,
    /// Term-at-a-time accumulation (no pruning).
    Taat,
}

impl From<AlgoArg> for Algorithm {
    fn from(a: AlgoArg) -> Algorithm {
        match a {
            AlgoArg::Auto => Algorithm::Auto,
            AlgoArg::Wand => Algorithm::BlockMaxWand,
            AlgoArg::Maxscore => Algorithm::MaxScore,
            AlgoArg::Exhaustive => Algorithm::Exhaustive,
            AlgoArg::Taat => Algorithm::TermAtATime,
        }
    }
}

/// What is searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// BM25 over the text.
    Bm25,
    /// The dense vectors (`--doc-vectors` ...).
    Dense,
    /// The learned-sparse vectors (`--doc-sparse`, `--query-sparse`).
    Sparse,
    /// BM25 fused with every other signal given.
    Hybrid,
}

impl From<ModeArg> for EvalMode {
    fn from(m: ModeArg) -> EvalMode {
        match m {
            ModeArg::Bm25 => EvalMode::Bm25,
            ModeArg::Dense => EvalMode::Dense,
            ModeArg::Sparse => EvalMode::Sparse,
            ModeArg::Hybrid => EvalMode::Hybrid,
        }
    }
}

impl From<FieldsArg> for EvalFields {
    fn from(f: FieldsArg) -> EvalFields {
        match f {
            FieldsArg::Flat => EvalFields::Flat,
            FieldsArg::Multi => EvalFields::Multi,
        }
    }
}

/// Fusion methods as spelled on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FusionArg {
    /// Reciprocal rank fusion (k from --rrf-k).
    Rrf,
    /// Convex combination of min-max normalised scores.
    Convex,
    /// Convex combination of z-score normalised scores.
    Zscore,
    /// Distribution-based score fusion (mean ± 3σ).
    Dbsf,
}

impl FusionArg {
    /// The library's fusion method.
    pub fn method(self, rrf_k: f32) -> FusionMethod {
        match self {
            FusionArg::Rrf => FusionMethod::Rrf { k: rrf_k },
            FusionArg::Convex => FusionMethod::Convex(Normalization::MinMax),
            FusionArg::Zscore => FusionMethod::Convex(Normalization::ZScore),
            FusionArg::Dbsf => FusionMethod::Dbsf,
        }
    }
}

/// Arguments of `strata eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A BEIR folder: corpus.jsonl[.zst], queries.jsonl[.zst], qrels/SPLIT.tsv.
    #[arg(long)]
    beir: PathBuf,
    /// What is searched.
    #[arg(long, value_enum, default_value_t = ModeArg::Bm25)]
    mode: ModeArg,
    /// Qrels split; without qrels/SPLIT.tsv every query is timed and metrics are null.
    #[arg(long, default_value = "test")]
    split: String,
    /// Hits per query (recall is measured at this depth).
    #[arg(long, default_value_t = 100)]
    k: usize,
    /// Write a TREC run file here.
    #[arg(long)]
    run_out: Option<PathBuf>,
    /// Corpus file instead of BEIR_DIR/corpus.jsonl[.zst].
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Queries file instead of BEIR_DIR/queries.jsonl[.zst].
    #[arg(long)]
    queries: Option<PathBuf>,
    /// Document vectors (.npy/.fvecs); row i belongs to line i of --doc-ids.
    #[arg(long, requires = "doc_ids")]
    doc_vectors: Option<PathBuf>,
    /// Document ids of the rows of --doc-vectors, one per line.
    #[arg(long)]
    doc_ids: Option<PathBuf>,
    /// Query vectors; row i belongs to line i of --query-ids.
    #[arg(long, requires = "query_ids")]
    query_vectors: Option<PathBuf>,
    /// Query ids of the rows of --query-vectors, one per line.
    #[arg(long)]
    query_ids: Option<PathBuf>,
    /// Document sparse vectors: JSON Lines (plain or .zst) of {"_id", "sparse": {term: weight}}.
    #[arg(long)]
    doc_sparse: Option<PathBuf>,
    /// Query sparse vectors, same layout as --doc-sparse.
    #[arg(long)]
    query_sparse: Option<PathBuf>,
    /// How hybrid mode fuses its sources.
    #[arg(long, value_enum, default_value_t = FusionArg::Rrf)]
    fusion: FusionArg,
    /// The RRF constant k.
    #[arg(long, default_value_t = 60.0)]
    rrf_k: f32,
    /// Candidates per source before fusion (default max(100, k)).
    #[arg(long)]
    depth: Option<usize>,
    /// Search the dense vectors exactly instead of through the IVF-PQ index.
    #[arg(long)]
    exact: bool,
    /// IVF lists of the dense index (default: the square root of the number of documents).
    #[arg(long)]
    nlist: Option<u32>,
    /// PQ sub-quantizers of the dense index (default: dimension / 8).
    #[arg(long)]
    pq_m: Option<u32>,
    /// IVF lists probed per query (default: half the lists, chosen on the SciFact train split:
    /// the fewest probes within 0.003 nDCG@10 of exact search).
    #[arg(long)]
    nprobe: Option<usize>,
    /// Candidates re-ranked with full vectors (default: 4 × the depth).
    #[arg(long)]
    rerank: Option<usize>,
    /// Bits per quantized impact of the sparse field (4..=16).
    #[arg(long, default_value_t = 8)]
    impact_bits: u8,
    /// Pseudo-relevance feedback: Rocchio on the dense source (α 0.4, β 0.6) and RM3 on the
    /// BM25 source (the text is then stored so feedback documents can be read); the sparse
    /// source has none.
    #[arg(long)]
    prf: bool,
    /// Feedback documents of Rocchio (--prf).
    #[arg(long, default_value_t = 3)]
    prf_docs: usize,
    /// Feedback documents of RM3 (--prf).
    #[arg(long, default_value_t = 10)]
    rm3_docs: usize,
    /// Expansion terms of RM3 (--prf).
    #[arg(long, default_value_t = 10)]
    rm3_terms: usize,
    /// Weight of the original query in RM3 (--prf).
    #[arg(long, default_value_t = 0.5)]
    rm3_weight: f32,
    /// How title and text are indexed.
    #[arg(long, value_enum, default_value_t = FieldsArg::Flat)]
    fields: FieldsArg,
    /// Traversal algorithm of the BM25 and sparse searches.
    #[arg(long, value_enum, default_value_t = AlgoArg::Auto)]
    algorithm: AlgoArg,
    /// BM25 k1.
    #[arg(long, default_value_t = 0.9)]
    k1: f32,
    /// BM25 b.
    #[arg(long, default_value_t = 0.4)]
    b: f32,
    /// Also run every query with exhaustive traversals and count queries whose top-k differs.
    #[arg(long)]
    check_exhaustive: bool,
    /// Index directory (default: a temporary directory, removed afterwards).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep stop words (the default analyzer drops the 33 English stop words).
    #[arg(long)]
    keep_stopwords: bool,
    /// Time every query this many times (latency figures cover all repetitions).
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Documents per write transaction.
    #[arg(long, default_value_t = 200_000)]
    batch: usize,
    /// Fit a calibrated relevance cut-off on the training split (--train-split; with a dense
    /// source, --train-query-vectors and --train-query-ids) and report cutoff_precision,
    /// cutoff_recall, cutoff_f1, cutoff_mean_returned, beside fixed_k / fixed_k_f1 (the best
    /// fixed k) and raw_threshold_f1 (the best raw-score threshold), both fitted on the
    /// training split. F1 is averaged over queries; an empty result counts as 0.
    #[arg(long)]
    cutoff: bool,
    /// Tune the dense index's model for ranking on the training split (--train-split, with
    /// --train-query-vectors and --train-query-ids) before searching; the report adds tuned,
    /// tune_s, tune_queries and tune_best_epoch.
    #[arg(long)]
    tune: bool,
    /// Qrels split --tune learns from.
    #[arg(long, default_value = "train")]
    train_split: String,
    /// Query vectors of the training split (--tune).
    #[arg(long)]
    train_query_vectors: Option<PathBuf>,
    /// Query ids of the rows of --train-query-vectors, one per line (--tune).
    #[arg(long)]
    train_query_ids: Option<PathBuf>,
}

impl EvalArgs {
    /// The library's configuration for these arguments (one field per flag).
    fn config(&self) -> EvalConfig {
        EvalConfig {
            beir: self.beir.clone(),
            mode: self.mode.into(),
            split: self.split.clone(),
            k: self.k,
            run_out: self.run_out.clone(),
            corpus: self.corpus.clone(),
            queries: self.queries.clone(),
            doc_vectors: self.doc_vectors.clone(),
            doc_ids: self.doc_ids.clone(),
            query_vectors: self.query_vectors.clone(),
            query_ids: self.query_ids.clone(),
            doc_sparse: self.doc_sparse.clone(),
            query_sparse: self.query_sparse.clone(),
            fusion: self.fusion.method(self.rrf_k),
            depth: self.depth,
            exact: self.exact,
            nlist: self.nlist,
            pq_m: self.pq_m,
            nprobe: self.nprobe,
            rerank: self.rerank,
            impact_bits: self.impact_bits,
            prf: self.prf,
            prf_docs: self.prf_docs,
            rm3_docs: self.rm3_docs,
            rm3_terms: self.rm3_terms,
            rm3_weight: self.rm3_weight,
            fields: self.fields.into(),
            algorithm: self.algorithm.into(),
            k1: self.k1,
            b: self.b,
            check_exhaustive: self.check_exhaustive,
            dir: self.dir.clone(),
            keep_stopwords: self.keep_stopwords,
            repeat: self.repeat,
            batch: self.batch,
            cutoff: self.cutoff,
            tune: self.tune,
            train_split: self.train_split.clone(),
            train_query_vectors: self.train_query_vectors.clone(),
            train_query_ids: self.train_query_ids.clone(),
        }
    }
}

/// Runs `strata eval`: a configuration the library refuses before reading any file is a usage
/// error (exit 2); anything after that is the library's error (exit 1).
pub fn run(args: &EvalArgs) -> CliResult {
    let cfg = args.config();
    cfg.validate().map_err(|e| match e {
        Error::InvalidArgument(m) => CliError::Usage(m),
        e => CliError::Strata(e),
    })?;
    let report = evaluate(&cfg)?;
    for n in report.notes() {
        note!("{n}");
    }
    out!("{}", report.to_json())?;
    Ok(())
}

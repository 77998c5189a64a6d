//! What an evaluation runs: the BEIR folder, the mode, the signal files and every search and
//! index setting, with the defaults of `strata eval`.
//!
//! Every field is public so a caller can start from [`EvalConfig::new`] and change what it
//! needs (`EvalConfig { k: 10, ..EvalConfig::new(path) }`); each field maps one to one to a
//! flag of `strata eval` (`doc_vectors` is `--doc-vectors`), and error messages name both.

use crate::error::{Error, Result};
use crate::search::FusionMethod;
use crate::sparse::query::Algorithm;
use std::path::PathBuf;

/// What an evaluation searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalMode {
    /// BM25 over the text.
    Bm25,
    /// The dense vectors ([`EvalConfig::doc_vectors`] and the other three vector files).
    Dense,
    /// The learned-sparse vectors ([`EvalConfig::doc_sparse`], [`EvalConfig::query_sparse`]).
    Sparse,
    /// BM25 fused with every other signal given.
    Hybrid,
}

impl EvalMode {
    /// The mode's name in reports (`bm25`, `dense`, `sparse`, `hybrid`).
    pub fn name(self) -> &'static str {
        match self {
            EvalMode::Bm25 => "bm25",
            EvalMode::Dense => "dense",
            EvalMode::Sparse => "sparse",
            EvalMode::Hybrid => "hybrid",
        }
    }

    /// Whether the text is searched with BM25.
    pub(crate) fn uses_text(self) -> bool {
        matches!(self, EvalMode::Bm25 | EvalMode::Hybrid)
    }

    /// Whether dense vectors are searched when given.
    pub(crate) fn uses_dense(self) -> bool {
        matches!(self, EvalMode::Dense | EvalMode::Hybrid)
    }

    /// Whether sparse vectors are searched when given.
    pub(crate) fn uses_sparse(self) -> bool {
        matches!(self, EvalMode::Sparse | EvalMode::Hybrid)
    }
}

/// How a BEIR document's title and text are indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalFields {
    /// `title + " " + text` in one field (the usual "BM25 flat" baseline).
    Flat,
    /// Title and text as two fields, both searched, scores summed.
    Multi,
}

impl EvalFields {
    /// The name in reports (`flat`, `multi`).
    pub fn name(self) -> &'static str {
        match self {
            EvalFields::Flat => "flat",
            EvalFields::Multi => "multi",
        }
    }
}

/// An evaluation: the data, the mode, and the index and search settings. See
/// [`evaluate`](crate::eval::evaluate).
#[derive(Debug, Clone, PartialEq)]
pub struct EvalConfig {
    /// A BEIR folder: `corpus.jsonl[.zst]`, `queries.jsonl[.zst]`, `qrels/SPLIT.tsv`.
    pub beir: PathBuf,
    /// What is searched.
    pub mode: EvalMode,
    /// Qrels split; without `qrels/SPLIT.tsv` every query is timed and the metrics are `None`.
    pub split: String,
    /// Hits per query (recall is measured at this depth); at least 1.
    pub k: usize,
    /// Write a TREC run file here.
    pub run_out: Option<PathBuf>,
    /// Corpus file instead of `beir/corpus.jsonl[.zst]`.
    pub corpus: Option<PathBuf>,
    /// Queries file instead of `beir/queries.jsonl[.zst]`.
    pub queries: Option<PathBuf>,
    /// Document vectors (`.npy`/`.fvecs`/`.bvecs`); row `i` belongs to line `i` of `doc_ids`.
    pub doc_vectors: Option<PathBuf>,
    /// Document ids of the rows of `doc_vectors`, one per line.
    pub doc_ids: Option<PathBuf>,
    /// Query vectors; row `i` belongs to line `i` of `query_ids`.
    pub query_vectors: Option<PathBuf>,
    /// Query ids of the rows of `query_vectors`, one per line.
    pub query_ids: Option<PathBuf>,
    /// Document sparse vectors: JSON Lines (plain or `.zst`) of `{"_id", "sparse": {term:
    /// weight}}`.
    pub doc_sparse: Option<PathBuf>,
    /// Query sparse vectors, laid out as `doc_sparse`.
    pub query_sparse: Option<PathBuf>,
    /// How hybrid mode fuses its sources.
    pub fusion: FusionMethod,
    /// Candidates per source before fusion (default max(100, k)).
    pub depth: Option<usize>,
    /// Search the dense vectors exactly instead of through the IVF-PQ index.
    pub exact: bool,
    /// IVF lists of the dense index (default: the square root of the number of documents).
    pub nlist: Option<u32>,
    /// PQ sub-quantizers of the dense index (default: dimension / 8).
    pub pq_m: Option<u32>,
    /// IVF lists probed per query (default: half the lists, chosen on the SciFact train split:
    /// the fewest probes within 0.003 nDCG@10 of exact search).
    pub nprobe: Option<usize>,
    /// Candidates re-ranked with full vectors (default: 4 × the depth).
    pub rerank: Option<usize>,
    /// Bits per quantized impact of the sparse field (4..=16).
    pub impact_bits: u8,
    /// Pseudo-relevance feedback: Rocchio on the dense source (α 0.4, β 0.6) and RM3 on the
    /// BM25 source (the text is then stored so feedback documents can be read); the sparse
    /// source has none.
    pub prf: bool,
    /// Feedback documents of Rocchio (`prf`).
    pub prf_docs: usize,
    /// Feedback documents of RM3 (`prf`).
    pub rm3_docs: usize,
    /// Expansion terms of RM3 (`prf`).
    pub rm3_terms: usize,
    /// Weight of the original query in RM3 (`prf`).
    pub rm3_weight: f32,
    /// How title and text are indexed.
    pub fields: EvalFields,
    /// Traversal algorithm of the BM25 and sparse searches.
    pub algorithm: Algorithm,
    /// BM25 k1.
    pub k1: f32,
    /// BM25 b.
    pub b: f32,
    /// Also run every query with exhaustive traversals and count the queries whose top-k
    /// differs (reported as `pruned_vs_exhaustive_mismatches`).
    pub check_exhaustive: bool,
    /// Index directory (default: a temporary directory, removed afterwards).
    pub dir: Option<PathBuf>,
    /// Keep stop words (the default analyzer drops the 33 English stop words).
    pub keep_stopwords: bool,
    /// Time every query this many times (latency figures cover all repetitions; 0 counts as
    /// 1).
    pub repeat: usize,
    /// Documents per write transaction (0 counts as 1).
    pub batch: usize,
    /// Fit a calibrated relevance cut-off on the training split (`train_split`; for a
    /// dense source with `train_query_vectors` / `train_query_ids`) and report it on the
    /// evaluated split beside the best fixed k and the best raw-score threshold, both fitted
    /// on the training split.
    pub cutoff: bool,
    /// Tune the dense index's model for ranking on the training split before searching
    /// (`qrels/train_split.tsv` with `train_query_vectors` / `train_query_ids`), committed as
    /// a new model generation: PQ scores then come from the tuned codebooks.
    pub tune: bool,
    /// Qrels split the tuning learns from.
    pub train_split: String,
    /// Query vectors of the training split; row `i` belongs to line `i` of `train_query_ids`.
    pub train_query_vectors: Option<PathBuf>,
    /// Query ids of the rows of `train_query_vectors`, one per line.
    pub train_query_ids: Option<PathBuf>,
}

impl EvalConfig {
    /// A BM25 evaluation of the folder `beir` with the defaults of `strata eval`: split
    /// `test`, k 100, RRF fusion with k 60, 8-bit impacts, no feedback (Rocchio over 3
    /// documents, RM3 over 10 documents and 10 terms with original weight 0.5 when `prf` is
    /// set), flat fields, automatic traversal, BM25 k1 0.9 and b 0.4, one repetition, 200 000
    /// documents per transaction.
    pub fn new(beir: impl Into<PathBuf>) -> EvalConfig {
        EvalConfig {
            beir: beir.into(),
            mode: EvalMode::Bm25,
            split: "test".to_owned(),
            k: 100,
            run_out: None,
            corpus: None,
            queries: None,
            doc_vectors: None,
            doc_ids: None,
            query_vectors: None,
            query_ids: None,
            doc_sparse: None,
            query_sparse: None,
            fusion: FusionMethod::Rrf { k: 60.0 },
            depth: None,
            exact: false,
            nlist: None,
            pq_m: None,
            nprobe: None,
            rerank: None,
            impact_bits: 8,
            prf: false,
            prf_docs: 3,
            rm3_docs: 10,
            rm3_terms: 10,
            rm3_weight: 0.5,
            fields: EvalFields::Flat,
            algorithm: Algorithm::Auto,
            k1: 0.9,
            b: 0.4,
            check_exhaustive: false,
            dir: None,
            keep_stopwords: false,
            repeat: 1,
            batch: 200_000,
            cutoff: false,
            tune: false,
            train_split: "train".to_owned(),
            train_query_vectors: None,
            train_query_ids: None,
        }
    }

    /// Checks what can be checked without reading a file: `k` is at least 1, feedback is not
    /// asked of the sparse source, and the signal files the mode uses come in complete sets
    /// (all four vector files, both sparse files). Signal files the mode does not use are
    /// ignored. [`evaluate`](crate::eval::evaluate) calls this first.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] naming the field (and its `strata eval` flag).
    pub fn validate(&self) -> Result<()> {
        let invalid = |what: &str| Err(Error::InvalidArgument(what.to_owned()));
        if self.k == 0 {
            return invalid("k (--k) must be at least 1");
        }
        if self.prf && self.mode == EvalMode::Sparse {
            return invalid(
                "prf (--prf): the sparse source has no feedback; it applies to the dense \
                 (Rocchio) and BM25 (RM3) sources of modes dense, bm25 and hybrid",
            );
        }
        let vector_files = [
            &self.doc_vectors,
            &self.doc_ids,
            &self.query_vectors,
            &self.query_ids,
        ];
        let given = vector_files.iter().filter(|f| f.is_some()).count();
        if self.mode.uses_dense() {
            match given {
                0 if self.mode == EvalMode::Dense => {
                    return invalid(
                        "mode dense needs doc_vectors, doc_ids, query_vectors and query_ids \
                         (--doc-vectors, --doc-ids, --query-vectors, --query-ids)",
                    );
                }
                0 | 4 => {}
                _ => {
                    return invalid(
                        "give all four of doc_vectors, doc_ids, query_vectors and query_ids \
                         (--doc-vectors, --doc-ids, --query-vectors, --query-ids)",
                    );
                }
            }
        }
        let given =
            usize::from(self.doc_sparse.is_some()) + usize::from(self.query_sparse.is_some());
        if self.mode.uses_sparse() {
            match given {
                0 if self.mode == EvalMode::Sparse => {
                    return invalid(
                        "mode sparse needs doc_sparse and query_sparse (--doc-sparse, \
                         --query-sparse)",
                    );
                }
                0 | 2 => {}
                _ => {
                    return invalid(
                        "give both doc_sparse and query_sparse (--doc-sparse, --query-sparse)",
                    );
                }
            }
        }
        if self.tune
            && (!self.mode.uses_dense()
                || self.exact
                || self.train_query_vectors.is_none()
                || self.train_query_ids.is_none()
                || self.doc_vectors.is_none())
        {
            return invalid(
                "tune (--tune) tunes the IVF-PQ index of the dense source: it needs mode dense \
                 or hybrid with the vector files, not exact (--exact), and the training \
                 queries' train_query_vectors and train_query_ids (--train-query-vectors, \
                 --train-query-ids)",
            );
        }
        if self.cutoff
            && self.mode.uses_dense()
            && self.doc_vectors.is_some()
            && (self.train_query_vectors.is_none() || self.train_query_ids.is_none())
        {
            return invalid(
                "cutoff (--cutoff) with a dense source needs the training queries' \
                 train_query_vectors and train_query_ids (--train-query-vectors, \
                 --train-query-ids)",
            );
        }
        if (self.tune || self.cutoff) && self.train_split == self.split {
            return invalid("train_split (--train-split) must differ from split (--split)");
        }
        // Feedback then always has a source: dense mode has its vectors, bm25 and hybrid the
        // text, and sparse mode was refused above.
        Ok(())
    }
}

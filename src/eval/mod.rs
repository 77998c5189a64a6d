//! Retrieval evaluation: reading BEIR data sets and computing the metrics BEIR reports.
//!
//! This module owns the offline side of quality measurement and never touches an index.
//!
//! - `beir.rs`: the BEIR files: `corpus.jsonl`, `queries.jsonl` (each optionally zstd
//!   compressed as `*.jsonl.zst`) and `qrels/*.tsv`.
//! - `metrics.rs`: nDCG@k, recall@k and MRR@k as `pytrec_eval` / BEIR compute them, BEIR's
//!   `ignore_identical_ids`, TREC run output and latency percentiles.
//!
//! Every problem with an input file is an [`Error::Input`](crate::Error::Input) naming the file
//! and the 1-based line number.

mod beir;
mod metrics;

pub use beir::{BeirDoc, CorpusReader, Qrels, read_corpus, read_qrels, read_queries};
pub use metrics::{drop_identical_ids, mrr_at, ndcg_at, percentile, recall_at, write_trec_run};

//! Retrieval evaluation: reading BEIR data sets, computing the metrics BEIR reports, and
//! running a whole evaluation over a freshly built index.
//!
//! - `beir.rs`: the BEIR files: `corpus.jsonl`, `queries.jsonl` (each optionally zstd
//!   compressed as `*.jsonl.zst`) and `qrels/*.tsv`.
//! - `metrics.rs`: nDCG@k, recall@k and MRR@k as `pytrec_eval` / BEIR compute them, BEIR's
//!   `ignore_identical_ids`, TREC run output and latency percentiles.
//! - `signals.rs`: the optional signal files of an evaluation (dense vectors with their ids,
//!   learned-sparse vectors), read into maps by id.
//! - `run.rs` (with `run/config.rs` and `run/workdir.rs`): [`evaluate`], the pipeline behind
//!   `strata eval` and the Python binding: build an index from a BEIR folder through the
//!   transactional API, reopen it read-only, run every query through
//!   [`Snapshot::query`](crate::Snapshot), and report quality and latency as an
//!   [`EvalReport`]. It is the only part of this module that touches an index, and sits in the
//!   top layer (see `docs/ARCHITECTURE.md`).
//!
//! Every problem with an input file is an [`Error::Input`](crate::Error::Input) naming the file
//! and, where it applies, the 1-based line number.

mod beir;
mod metrics;
mod run;
mod signals;

pub use beir::{BeirDoc, CorpusReader, Qrels, read_corpus, read_qrels, read_queries};
pub use metrics::{drop_identical_ids, mrr_at, ndcg_at, percentile, recall_at, write_trec_run};
pub use run::{EvalConfig, EvalFields, EvalMode, EvalReport, evaluate};
pub use signals::{sparse_by_id, vectors_by_id};

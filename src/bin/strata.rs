//! `strata`: the command-line front end of the strata retrieval engine.
//!
//! Every subcommand goes through the public library API, the same path an application uses:
//! indexes are created with [`strata::Index::create`], filled in write transactions, and read
//! back through [`strata::Reader`] (read-only, so `search`, `stats` and `verify` work while
//! another process writes).
//!
//! - `ops.rs`: `create`, `ingest`, `delete`, `merge` — changing an index.
//! - `search.rs`: `search` — one query (vector, text, sparse terms, fused) over an index.
//! - `inspect.rs`: `stats` and `verify` — what an index holds and whether its files are intact.
//! - `demo.rs`: `demo` — a seeded synthetic data set, built and searched end to end, with recall
//!   checked against a brute force computed in the demo itself.
//! - `bench.rs`: `bench-ann` — recall and latency on a real ANN data set, one JSON line per
//!   setting, comparable with the peer scripts under `shared/peers/`.
//! - `bench_sparse.rs`: `bench-sparse` — learned-sparse latency of every traversal algorithm,
//!   each checked against exhaustive scoring, one JSON line per algorithm.
//! - `out.rs`: `out!` and `note!`, the commands' `println!` and `eprintln!`, which end cleanly
//!   when the reader of stdout has gone (`strata search ... | head -1`).
//! - `util.rs`: what the commands share: opening a writer, preparing keys, batched ingest,
//!   progress bars, latency percentiles, scratch directories, byte formatting.
//!
//! Errors are values: `main` prints `error: <message>` on stderr and exits with 1 (2 for usage
//! errors and for features that do not exist yet). A closed stdout is the normal end of the
//! output (exit 0). Nothing here panics on user data or a closed pipe.

// The crate root is `src/bin/strata.rs`, so its submodules are named by path. `out` comes
// first: its `out!` and `note!` macros are used by every other module.
#[macro_use]
#[path = "strata/out.rs"]
mod out;
#[path = "strata/bench.rs"]
mod bench;
#[path = "strata/bench_sparse.rs"]
mod bench_sparse;
#[path = "strata/demo.rs"]
mod demo;
#[path = "strata/eval.rs"]
mod eval;
#[path = "strata/inspect.rs"]
mod inspect;
#[path = "strata/ops.rs"]
mod ops;
#[path = "strata/search.rs"]
mod search;
#[path = "strata/tune.rs"]
mod tune;
#[path = "strata/util.rs"]
mod util;

use clap::{Parser, Subcommand, ValueEnum};
use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;
use strata::{KeyKind, Metric, VectorStorage};

/// strata: an embedded retrieval engine (transactional segments, exact dense search).
#[derive(Debug, Parser)]
#[command(name = "strata", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create an empty index in DIR.
    Create {
        /// The index directory (created if missing; must not hold an index).
        dir: PathBuf,
        /// Vector dimension (adds a dense field named `vector`).
        #[arg(long)]
        dim: Option<u32>,
        /// Text fields to index for BM25, comma-separated (e.g. title,text).
        #[arg(long)]
        text: Option<String>,
        /// Keep the original text of the text fields (returned with hits).
        #[arg(long)]
        store: bool,
        /// Analyzer of the text fields: english (stop words + Porter2 stemming), nostem, raw
        /// (lower-casing only).
        #[arg(long, value_enum, default_value_t = AnalyzerArg::English)]
        analyzer: AnalyzerArg,
        /// Name of a sparse-vector field (term → weight, e.g. SPLADE output).
        #[arg(long)]
        sparse: Option<String>,
        /// Bits per quantized impact of the sparse field (4..=16).
        #[arg(long, default_value_t = 8)]
        impact_bits: u8,
        /// Similarity: cosine, dot (alias ip) or l2 (squared Euclidean distance).
        #[arg(long, default_value = "cosine", value_parser = parse_metric)]
        metric: Metric,
        /// Kind of document key.
        #[arg(long, value_enum, default_value_t = KeyArg::U64)]
        key: KeyArg,
        /// On-disk precision of vectors (auto keeps f16 input as f16).
        #[arg(long, value_enum, default_value_t = StorageArg::Auto)]
        storage: StorageArg,
        /// Metadata attributes for filters, comma-separated NAME:KIND with KIND keyword, i64
        /// or f64 (e.g. year:i64,lang:keyword,tags:keyword).
        #[arg(long, value_delimiter = ',', value_parser = parse_attr)]
        attr: Vec<(String, strata::AttrKind)>,
        /// Use the trained IVF-PQ model of the index in SRC (and its IVF-PQ parameters): every
        /// segment is encoded with it, so PQ scores compare with SRC's. Needs --dim and the
        /// metric of SRC.
        #[arg(long, value_name = "SRC", requires = "dim")]
        model_from: Option<PathBuf>,
    },
    /// Add vectors from .npy/.fvecs/.bvecs files, or documents from a JSON Lines file, one
    /// transaction per batch.
    Ingest {
        /// The index directory.
        dir: PathBuf,
        /// Vector files, comma-separated; concatenated in order.
        #[arg(long, required_unless_present = "jsonl", conflicts_with = "jsonl")]
        vectors: Option<String>,
        /// A JSON Lines file (plain or .zst) of documents: a key ("key", "_id" or "id"), text
        /// members named like the text fields, optional "sparse" {term: weight} and "vector";
        /// any other member, or one named twice, is an error naming its line.
        #[arg(long)]
        jsonl: Option<PathBuf>,
        /// Key file, one key per line (default: the global row number across the files).
        /// Vectors only: JSON Lines documents carry their own keys.
        #[arg(long, conflicts_with = "jsonl")]
        keys: Option<PathBuf>,
        /// Rows per transaction.
        #[arg(long, default_value_t = 50_000)]
        batch: usize,
    },
    /// Search with a vector row, text and/or sparse terms (fused when several are given);
    /// prints `rank key score [first stored field]` lines, or JSON.
    Search(search::SearchArgs),
    /// Delete documents by key (in one transaction).
    Delete {
        /// The index directory.
        dir: PathBuf,
        /// Keys to delete.
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Show generation, segments, documents, disk and memory use.
    Stats {
        /// The index directory.
        dir: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Merge every segment into one, dropping deleted rows.
    Merge {
        /// The index directory.
        dir: PathBuf,
    },
    /// Check every checksum of every file the newest commit names; list stray files.
    Verify {
        /// The index directory.
        dir: PathBuf,
    },
    /// Build and search a seeded synthetic data set end to end; report recall and speed.
    Demo(demo::DemoArgs),
    /// Benchmark an index kind on an ANN data set; prints one JSON line per setting.
    BenchAnn(bench::BenchArgs),
    /// Time learned-sparse search with every traversal algorithm; one JSON line per algorithm.
    BenchSparse(bench_sparse::BenchSparseArgs),
    /// Tune the index's IVF-PQ codebooks for ranking (pairs mined from its own vectors, or
    /// given as qrels) and commit them as a new model generation; --rollback restores the
    /// previous one. Prints one JSON line.
    Tune(tune::TuneArgs),
    /// Evaluate BM25 on a BEIR folder (or time it on a corpus without qrels); one JSON line.
    Eval(eval::EvalArgs),
}

/// Text analyzers as spelled on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AnalyzerArg {
    /// Lower-case, English stop words, possessives, Snowball English (Porter2) stemming.
    English,
    /// As english without stemming.
    Nostem,
    /// Lower-casing only.
    Raw,
}

impl From<AnalyzerArg> for strata::text::AnalyzerConfig {
    fn from(a: AnalyzerArg) -> Self {
        use strata::text::{AnalyzerConfig, Stemmer};
        let d = AnalyzerConfig::default();
        match a {
            AnalyzerArg::English => d,
            AnalyzerArg::Nostem => AnalyzerConfig {
                stemmer: Stemmer::None,
                ..d
            },
            AnalyzerArg::Raw => AnalyzerConfig {
                stemmer: Stemmer::None,
                stopwords: false,
                possessive: false,
                ..d
            },
        }
    }
}

/// Key kinds as spelled on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum KeyArg {
    /// Unsigned 64-bit integers.
    U64,
    /// UTF-8 strings.
    String,
}

impl From<KeyArg> for KeyKind {
    fn from(k: KeyArg) -> KeyKind {
        match k {
            KeyArg::U64 => KeyKind::U64,
            KeyArg::String => KeyKind::Str,
        }
    }
}

/// Vector storage as spelled on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StorageArg {
    /// Keep the input precision (f16 stays f16).
    Auto,
    /// Always 32-bit floats.
    F32,
    /// Always 16-bit floats (f32 input is rounded).
    F16,
}

impl From<StorageArg> for VectorStorage {
    fn from(s: StorageArg) -> VectorStorage {
        match s {
            StorageArg::Auto => VectorStorage::Auto,
            StorageArg::F32 => VectorStorage::F32,
            StorageArg::F16 => VectorStorage::F16,
        }
    }
}

/// Parses one `NAME:KIND` of `--attr` (kinds: keyword, i64, f64).
fn parse_attr(p: &str) -> Result<(String, strata::AttrKind), String> {
    let (name, kind) = p
        .split_once(':')
        .ok_or_else(|| format!("attribute '{p}' has no kind (expected NAME:keyword|i64|f64)"))?;
    let kind = strata::AttrKind::parse(kind.trim()).ok_or_else(|| {
        format!("attribute '{name}': unknown kind '{kind}' (expected keyword, i64 or f64)")
    })?;
    Ok((name.trim().to_owned(), kind))
}

/// Parses `cosine`/`cos`, `dot`/`ip` or `l2`.
fn parse_metric(s: &str) -> Result<Metric, String> {
    Metric::parse(s).ok_or_else(|| format!("unknown metric '{s}' (expected cosine, dot, ip or l2)"))
}

/// What can end a command: an engine error (with file, row or offset), a failed check, or a
/// usage problem the argument parser could not see.
#[derive(Debug)]
pub enum CliError {
    /// An error from the library.
    Strata(strata::Error),
    /// A command-level failure (exit 1).
    Failed(String),
    /// Bad usage or a feature that is not built (exit 2).
    Usage(String),
    /// The reader of stdout has gone (`strata ... | head`): the output ends, exit 0.
    Closed,
}

impl CliError {
    fn exit_code(&self) -> u8 {
        match self {
            CliError::Strata(_) | CliError::Failed(_) => 1,
            CliError::Usage(_) => 2,
            CliError::Closed => 0,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Strata(e) => write!(f, "{e}"),
            CliError::Failed(m) | CliError::Usage(m) => f.write_str(m),
            CliError::Closed => f.write_str("stdout was closed by its reader"),
        }
    }
}

impl From<strata::Error> for CliError {
    fn from(e: strata::Error) -> CliError {
        CliError::Strata(e)
    }
}

/// The result type of every command.
pub type CliResult<T = ()> = Result<T, CliError>;

fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Create {
            dir,
            dim,
            text,
            store,
            analyzer,
            sparse,
            impact_bits,
            metric,
            key,
            storage,
            attr,
            model_from,
        } => {
            let mut schema = strata::Schema::new(key.into());
            if let Some(dim) = dim {
                schema = schema
                    .with_dense("vector", dim, metric)
                    .with_storage(storage.into());
            }
            for name in text.iter().flat_map(|t| t.split(',')).map(str::trim) {
                if !name.is_empty() {
                    schema = schema.with_text(name, analyzer.into(), store);
                }
            }
            if let Some(name) = sparse {
                schema = schema.with_sparse(&name, impact_bits);
            }
            for (name, kind) in attr {
                schema = schema.with_attribute(&name, kind);
            }
            ops::create(&dir, schema, model_from.as_deref())
        }
        Command::Ingest {
            dir,
            vectors,
            jsonl,
            keys,
            batch,
        } => match (vectors, jsonl) {
            (_, Some(jsonl)) => ops::ingest_jsonl(&dir, &jsonl, batch),
            (Some(vectors), None) => ops::ingest(&dir, &vectors, keys.as_deref(), batch),
            (None, None) => Err(CliError::Usage("give --vectors or --jsonl".to_owned())),
        },
        Command::Search(args) => search::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Tune(args) => tune::run(&args),
        Command::Delete { dir, keys } => ops::delete(&dir, &keys),
        Command::Merge { dir } => ops::merge(&dir),
        Command::Stats { dir, json } => inspect::stats(&dir, json),
        Command::Verify { dir } => inspect::verify(&dir),
        Command::Demo(args) => demo::run(&args),
        Command::BenchAnn(args) => bench::run(&args),
        Command::BenchSparse(args) => bench_sparse::run(&args),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) | Err(CliError::Closed) => ExitCode::SUCCESS,
        Err(e) => {
            note!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

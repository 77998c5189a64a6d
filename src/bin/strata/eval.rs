//! `strata eval`: retrieval quality and latency on a BEIR folder, for BM25, dense, learned-sparse
//! and hybrid queries.
//!
//! The index is built through the real path (create, add in write transactions, commit, drop
//! the writer), reopened read-only, and queried one query at a time on this thread through
//! [`strata::Snapshot::query`], the same call an application makes. Dense search goes through
//! the schema's IVF-PQ index (built when `--doc-vectors` is given) unless `--exact`; hybrid mode
//! fuses every signal given (BM25 always, dense with `--doc-vectors`, sparse with
//! `--doc-sparse`). Metrics are computed as BEIR / pytrec_eval compute them (graded gains, hits
//! whose id equals the query id dropped); `--run-out` writes a TREC run file so any standard
//! evaluator can check them.

use crate::util::{Latency, WorkDir, create_index, dir_bytes};
use crate::{CliError, CliResult};
use clap::{Args, ValueEnum};
use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;
use strata::eval::{Qrels, mrr_at, ndcg_at, read_corpus, read_qrels, read_queries, recall_at};
use strata::input::jsonl::{JsonlFields, read_jsonl};
use strata::input::{read_keys, read_vectors};
use strata::sparse::query::{Algorithm, Bm25};
use strata::text::AnalyzerConfig;
use strata::{
    DenseIndex, Document, Error, FusionMethod, Index, IvfPqParams, KeyKind, Metric, Normalization,
    Query, Reader, Rm3, Rocchio, Schema, Vector,
};

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
}

/// Vectors (or sparse terms) by id, read from a vector file and its id list.
pub(crate) fn vectors_by_id(
    vectors: &Path,
    ids: &Path,
) -> CliResult<(usize, HashMap<String, Vec<f32>>)> {
    let set = read_vectors(vectors)?;
    let ids = read_keys(ids)?;
    if ids.len() != set.rows {
        let what = format!(
            "{} ids for the {} rows of {}",
            ids.len(),
            set.rows,
            vectors.display()
        );
        return Err(Error::input(Error::path_string(vectors), None, what).into());
    }
    let mut out = HashMap::with_capacity(ids.len());
    for (i, id) in ids.into_iter().enumerate() {
        if let Some(v) = set.row_f32(i) {
            out.insert(id, v);
        }
    }
    Ok((set.dim, out))
}

/// Sparse vectors by id from a JSON Lines file of {"_id", "sparse"}.
pub(crate) fn sparse_by_id(path: &Path) -> CliResult<HashMap<String, Vec<(String, f32)>>> {
    let fields = JsonlFields {
        sparse: true,
        ..JsonlFields::default()
    };
    let mut out = HashMap::new();
    for doc in read_jsonl(path, &fields)? {
        let doc = doc?;
        let id = match doc.key {
            strata::input::jsonl::JsonKey::U64(n) => n.to_string(),
            strata::input::jsonl::JsonKey::Str(s) => s,
        };
        out.insert(id, doc.sparse);
    }
    Ok(out)
}

/// The signals an evaluation uses, read from the files given.
#[derive(Default)]
struct Signals {
    dim: usize,
    doc_vectors: HashMap<String, Vec<f32>>,
    query_vectors: HashMap<String, Vec<f32>>,
    doc_sparse: HashMap<String, Vec<(String, f32)>>,
    query_sparse: HashMap<String, Vec<(String, f32)>>,
    dense: bool,
    sparse: bool,
    text: bool,
}

fn read_signals(args: &EvalArgs) -> CliResult<Signals> {
    let mut s = Signals::default();
    let want_dense = matches!(args.mode, ModeArg::Dense | ModeArg::Hybrid);
    let want_sparse = matches!(args.mode, ModeArg::Sparse | ModeArg::Hybrid);
    s.text = matches!(args.mode, ModeArg::Bm25 | ModeArg::Hybrid);
    match (
        &args.doc_vectors,
        &args.doc_ids,
        &args.query_vectors,
        &args.query_ids,
    ) {
        (Some(dv), Some(di), Some(qv), Some(qi)) if want_dense => {
            let (dim, d) = vectors_by_id(dv, di)?;
            let (qdim, q) = vectors_by_id(qv, qi)?;
            if qdim != dim {
                let what = format!("query vectors have dimension {qdim}, documents {dim}");
                return Err(Error::input(Error::path_string(qv), None, what).into());
            }
            (s.dim, s.doc_vectors, s.query_vectors, s.dense) = (dim, d, q, true);
        }
        (None, None, None, None) if args.mode == ModeArg::Dense => {
            return Err(CliError::Usage(
                "--mode dense needs --doc-vectors, --doc-ids, --query-vectors and --query-ids"
                    .to_owned(),
            ));
        }
        (None, None, None, None) => {}
        _ if want_dense => {
            return Err(CliError::Usage(
                "give all four of --doc-vectors, --doc-ids, --query-vectors, --query-ids"
                    .to_owned(),
            ));
        }
        _ => {}
    }
    match (&args.doc_sparse, &args.query_sparse) {
        (Some(d), Some(q)) if want_sparse => {
            s.doc_sparse = sparse_by_id(d)?;
            s.query_sparse = sparse_by_id(q)?;
            s.sparse = true;
        }
        (None, None) if args.mode == ModeArg::Sparse => {
            return Err(CliError::Usage(
                "--mode sparse needs --doc-sparse and --query-sparse".to_owned(),
            ));
        }
        (None, None) => {}
        _ if want_sparse => {
            return Err(CliError::Usage(
                "give both --doc-sparse and --query-sparse".to_owned(),
            ));
        }
        _ => {}
    }
    Ok(s)
}

/// IVF-PQ parameters for `n` documents of dimension `dim`: about √n lists, dim / 8
/// sub-quantizers of 4 bits, every segment indexed.
fn ivf_params(args: &EvalArgs, n: usize, dim: usize) -> IvfPqParams {
    let nlist = args
        .nlist
        .unwrap_or_else(|| ((n as f64).sqrt().round() as u32).max(1));
    IvfPqParams {
        nlist,
        m: args.pq_m.unwrap_or((dim as u32 / 8).max(1)),
        min_rows: 0,
        ..IvfPqParams::default()
    }
}

fn build(args: &EvalArgs, dir: &Path, corpus: &Path, sig: &Signals) -> CliResult<(usize, f64)> {
    let a = AnalyzerConfig {
        stopwords: !args.keep_stopwords,
        ..AnalyzerConfig::default()
    };
    // RM3 reads its feedback documents' text.
    let store = args.prf && sig.text;
    let mut schema = match args.fields {
        FieldsArg::Flat => Schema::new(KeyKind::Str).with_text("body", a, store),
        FieldsArg::Multi => Schema::new(KeyKind::Str)
            .with_text("title", a.clone(), store)
            .with_text("text", a, store),
    };
    let docs: Vec<_> = read_corpus(corpus)?.collect::<Result<_, _>>()?;
    if sig.dense {
        let p = ivf_params(args, docs.len(), sig.dim);
        schema = schema
            .with_dense("vector", sig.dim as u32, Metric::Dot)
            .with_index(DenseIndex::IvfPq(p));
    }
    if sig.sparse {
        schema = schema.with_sparse("sparse", args.impact_bits);
    }
    let t = Instant::now();
    let mut index: Index = create_index(dir, schema)?;
    for chunk in docs.chunks(args.batch.max(1)) {
        let mut txn = index.begin();
        for d in chunk {
            let mut doc = Document::with_key(d.id.clone());
            doc = match args.fields {
                FieldsArg::Flat => doc.with_text("body", format!("{} {}", d.title, d.text)),
                FieldsArg::Multi => doc.with_text("title", &d.title).with_text("text", &d.text),
            };
            if sig.dense {
                let v = sig
                    .doc_vectors
                    .get(&d.id)
                    .ok_or_else(|| CliError::Failed(format!("document {} has no vector", d.id)))?;
                doc = doc.with_vector(Vector::F32(v.clone()));
            }
            if sig.sparse {
                let terms = sig.doc_sparse.get(&d.id).ok_or_else(|| {
                    CliError::Failed(format!("document {} has no sparse vector", d.id))
                })?;
                doc = doc.with_sparse(terms.clone());
            }
            txn.add(doc)?;
        }
        txn.commit()?;
    }
    drop(index);
    Ok((docs.len(), t.elapsed().as_secs_f64()))
}

/// Fails unless some query of `queries` has a positive judgement in `qrels`: otherwise every
/// metric would be a mean over no query, printed as 0 (qrels of another split or data set).
fn check_qrels_match(
    qrels: &Qrels,
    queries: &[(String, String)],
    qrels_path: &Path,
    queries_path: &Path,
) -> CliResult {
    let judged = |id: &String| qrels.get(id).is_some_and(|r| r.values().any(|&g| g > 0));
    if queries.iter().any(|(id, _)| judged(id)) {
        return Ok(());
    }
    let what = format!(
        "no query of {} ({} queries) has a positive judgement among the {} query ids judged \
         here; are they from the same data set and split?",
        queries_path.display(),
        queries.len(),
        qrels.len()
    );
    Err(Error::input(Error::path_string(qrels_path), None, what).into())
}

/// The query for one evaluation query (id, text).
fn make_query(
    args: &EvalArgs,
    sig: &Signals,
    nlist: u32,
    id: &str,
    text: &str,
) -> CliResult<Query> {
    let mut q = Query::new()
        .limit(args.k)
        .fusion(args.fusion.method(args.rrf_k))
        .bm25(Bm25 {
            k1: args.k1,
            b: args.b,
        })
        .algorithm(args.algorithm.into());
    if let Some(d) = args.depth {
        q = q.depth(d);
    }
    if sig.text {
        q = q.text(text);
        if args.prf {
            q = q.text_feedback(Rm3::new(args.rm3_docs, args.rm3_terms, args.rm3_weight));
        }
    }
    if sig.dense {
        let v = sig
            .query_vectors
            .get(id)
            .ok_or_else(|| CliError::Failed(format!("query {id} has no vector")))?;
        let nprobe = args.nprobe.unwrap_or((nlist as usize / 2).max(1));
        q = q.vector(v.clone()).exact(args.exact).nprobe(nprobe);
        if args.prf {
            q = q.feedback(Rocchio::new(0.4, 0.6, args.prf_docs));
        }
        if let Some(r) = args.rerank {
            q = q.rerank(r);
        }
    }
    if sig.sparse {
        let terms = sig
            .query_sparse
            .get(id)
            .ok_or_else(|| CliError::Failed(format!("query {id} has no sparse vector")))?;
        if terms.is_empty() {
            // No term: the sparse source would be absent from the query; keep a zero term so
            // the query still has its sources (it matches nothing).
            q = q.sparse(vec![(String::new(), 0.0)]);
        } else {
            q = q.sparse(terms.clone());
        }
    }
    Ok(q)
}

/// Runs `strata eval`.
pub fn run(args: &EvalArgs) -> CliResult {
    if args.k == 0 {
        return Err(CliError::Usage("--k must be at least 1".to_owned()));
    }
    if args.prf && args.mode == ModeArg::Sparse {
        return Err(CliError::Usage(
            "--prf: the sparse source has no feedback; it applies to the dense (Rocchio) and \
             BM25 (RM3) sources of --mode dense, bm25 and hybrid"
                .to_owned(),
        ));
    }
    // The readers fall back to FILE.zst when FILE does not exist.
    let corpus = args
        .corpus
        .clone()
        .unwrap_or(args.beir.join("corpus.jsonl"));
    let queries_path = args
        .queries
        .clone()
        .unwrap_or(args.beir.join("queries.jsonl"));
    let qrels_path = args.beir.join("qrels").join(format!("{}.tsv", args.split));
    let queries = read_queries(&queries_path)?;
    let qrels = if qrels_path.exists() {
        Some(read_qrels(&qrels_path)?)
    } else {
        note!(
            "no {}: timing every query, no relevance metrics",
            qrels_path.display()
        );
        None
    };
    if let Some(q) = &qrels {
        check_qrels_match(q, &queries, &qrels_path, &queries_path)?;
    }
    let sig = read_signals(args)?;
    if args.prf && !sig.dense && !sig.text {
        return Err(CliError::Usage(
            "--prf applies to the dense and BM25 sources: give --doc-vectors and the other \
             vector files, or use --mode bm25 or hybrid"
                .to_owned(),
        ));
    }
    let work = WorkDir::new(args.dir.as_deref(), "eval")?;
    let (n_docs, build_s) = build(args, work.path(), &corpus, &sig)?;
    let (_, index_bytes) = dir_bytes(work.path())?;
    let reader = Reader::open(work.path())?;
    let snap = reader.snapshot();
    let selected: Vec<&(String, String)> = match &qrels {
        Some(q) => queries
            .iter()
            .filter(|(id, _)| q.get(id).is_some_and(|r| r.values().any(|&g| g > 0)))
            .collect(),
        None => queries.iter().collect(),
    };
    let nlist = ivf_params(args, n_docs, sig.dim).nlist;
    let built: Vec<Query> = selected
        .iter()
        .map(|(id, text)| make_query(args, &sig, nlist, id, text))
        .collect::<CliResult<_>>()?;
    // Warm-up: the first queries fault in the mapped postings and vectors.
    for q in built.iter().take(50) {
        snap.query(q)?;
    }
    let mut lat = Vec::with_capacity(selected.len() * args.repeat.max(1));
    let mut runs: Vec<Vec<(String, f32)>> = Vec::with_capacity(selected.len());
    for rep in 0..args.repeat.max(1) {
        for q in &built {
            let t = Instant::now();
            let res = snap.query(q)?;
            lat.push(t.elapsed().as_secs_f64() * 1e3);
            if rep == 0 {
                runs.push(
                    res.hits
                        .into_iter()
                        .map(|h| (h.key.to_string(), h.score))
                        .collect(),
                );
            }
        }
    }
    let mut mismatches = None;
    if args.check_exhaustive {
        let mut bad = 0usize;
        for (q, run) in built.iter().zip(&runs) {
            let hits = snap
                .query(&q.clone().algorithm(Algorithm::Exhaustive))?
                .hits;
            let same = hits.len() == run.len()
                && hits
                    .iter()
                    .zip(run)
                    .all(|(h, r)| h.key.to_string() == r.0 && h.score.to_bits() == r.1.to_bits());
            bad += usize::from(!same);
        }
        mismatches = Some(bad);
    }
    // BEIR drops a hit whose id equals the query id.
    let ranked: Vec<Vec<(&str, f32)>> = selected
        .iter()
        .zip(&runs)
        .map(|((qid, _), run)| {
            let mut r: Vec<(&str, f32)> = run.iter().map(|(d, s)| (d.as_str(), *s)).collect();
            strata::eval::drop_identical_ids(qid, &mut r, |h| h.0);
            r
        })
        .collect();
    if let Some(path) = &args.run_out {
        let f = std::fs::File::create(path)
            .map_err(|e| Error::io("create", Error::path_string(path), e))?;
        let mut w = BufWriter::new(f);
        for ((qid, _), r) in selected.iter().zip(&ranked) {
            strata::eval::write_trec_run(&mut w, qid, r, "strata")
                .map_err(|e| Error::io("write", Error::path_string(path), e))?;
        }
        w.flush()
            .map_err(|e| Error::io("write", Error::path_string(path), e))?;
    }
    type Measure<'a> = &'a dyn Fn(&[&str], &HashMap<String, i32>) -> f64;
    let metric = |f: Measure<'_>| -> Option<f64> {
        let qrels = qrels.as_ref()?;
        let mut sum = 0.0;
        for ((qid, _), r) in selected.iter().zip(&ranked) {
            let ids: Vec<&str> = r.iter().map(|x| x.0).collect();
            sum += qrels.get(qid).map_or(0.0, |rel| f(&ids, rel));
        }
        Some(sum / selected.len().max(1) as f64)
    };
    let k = args.k;
    let round4 = |x: Option<f64>| x.map(|v| (v * 1e4).round() / 1e4);
    let l = Latency::of(&lat);
    let sources: Vec<&str> = built
        .first()
        .map(|q| q.sources().iter().map(|s| s.name()).collect())
        .unwrap_or_default();
    let fused = sources.len() > 1;
    let mut out = serde_json::json!({
        "engine": "strata",
        "mode": format!("{:?}", args.mode).to_lowercase(),
        "fusion": fused.then(|| args.fusion.method(args.rrf_k).name()),
        "sources": sources,
        "dataset": args.beir.file_name().map(|s| s.to_string_lossy().to_string()),
        "n_docs": n_docs,
        "queries": selected.len(),
        "ndcg_at_10": round4(metric(&|r, rel| ndcg_at(r, rel, 10))),
        "mrr_at_10": round4(metric(&|r, rel| mrr_at(r, rel, 10))),
        "mean_ms": (l.mean_ms * 1e3).round() / 1e3,
        "p50_ms": (l.p50_ms * 1e3).round() / 1e3,
        "p99_ms": (l.p99_ms * 1e3).round() / 1e3,
        "qps": (l.qps() * 10.0).round() / 10.0,
        "build_s": (build_s * 100.0).round() / 100.0,
        "index_bytes": index_bytes,
        "segments": snap.segments().len(),
        "fields": format!("{:?}", args.fields).to_lowercase(),
        "algorithm": format!("{:?}", args.algorithm).to_lowercase(),
        "stopwords": !args.keep_stopwords,
        "k1": args.k1,
        "b": args.b,
    });
    if let Some(obj) = out.as_object_mut() {
        obj.insert(
            format!("recall_at_{k}"),
            serde_json::json!(round4(metric(&|r, rel| recall_at(r, rel, k)))),
        );
        if sig.dense {
            let p = ivf_params(args, n_docs, sig.dim);
            let depth = built.first().map_or(k, Query::effective_depth);
            obj.insert("exact".into(), args.exact.into());
            obj.insert("nlist".into(), p.nlist.into());
            obj.insert("pq_m".into(), p.m.into());
            let d = built.first().and_then(|q| q.dense.as_ref());
            let nprobe = d.and_then(|d| d.nprobe);
            let defaults = strata::SearchParams::new(depth);
            obj.insert("nprobe".into(), nprobe.unwrap_or(defaults.nprobe).into());
            obj.insert(
                "rerank".into(),
                d.and_then(|d| d.rerank).unwrap_or(defaults.rerank).into(),
            );
        }
        if sig.dense && args.prf {
            obj.insert("prf_docs".into(), args.prf_docs.into());
        }
        if sig.text && args.prf {
            obj.insert(
                "rm3".into(),
                serde_json::json!({"docs": args.rm3_docs, "terms": args.rm3_terms, "original_weight": args.rm3_weight}),
            );
        }
        if sig.sparse {
            obj.insert("impact_bits".into(), args.impact_bits.into());
        }
        if let Some(m) = mismatches {
            obj.insert("pruned_vs_exhaustive_mismatches".into(), m.into());
        }
    }
    out!("{out}")?;
    Ok(())
}

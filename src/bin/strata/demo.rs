//! `strata demo`: the engine end to end on a seeded data set, with its answers checked.
//!
//! The demo draws points from Gaussian clusters around random centres (or takes rows of a
//! vector file), builds an index through the real path — create, several transactions, commit,
//! drop the writer, reopen read-only — and searches held-out points from the same
//! distribution one at a time. Recall is measured against an exact top-k computed here with a
//! plain f64 loop that shares no code with the engine's search (kernels, top-k heap, tie
//! order), so a wrong engine answer shows up as recall below 1 for flat search.

use crate::util::{IngestReport, Latency, WorkDir, create_index, dir_bytes, human_bytes};
use crate::util::{ingest_batches, progress_bar};
use crate::{CliError, CliResult};
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;
use strata::input::{VectorData, VectorSet, read_vectors_many, split_paths};
use strata::{Hit, Key, KeyKind, Metric, Reader, Schema};

/// Options of `strata demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of indexed vectors.
    #[arg(long, default_value_t = 20_000)]
    n: usize,
    /// Dimension of the synthetic vectors (ignored with --base).
    #[arg(long, default_value_t = 64)]
    dim: usize,
    /// Number of held-out queries.
    #[arg(long, default_value_t = 200)]
    queries: usize,
    /// Results per query.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Seed of the synthetic data.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Similarity: cosine, dot (alias ip) or l2.
    #[arg(long, default_value = "l2", value_parser = crate::parse_metric)]
    metric: Metric,
    /// Use these vector files (comma-separated) instead of synthetic data; the last --queries
    /// rows are held out as queries, and at most --n of the rows before them are indexed.
    #[arg(long)]
    base: Option<String>,
    /// Build the index here and keep it (default: a temporary directory, removed at the end).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// splitmix64 (Steele, Lea and Flood): a tiny, seedable generator, good enough for test data.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        strata::rng::splitmix64(&mut self.0)
    }

    /// Uniform in [0, 1) with 53 random bits.
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n (n > 0; the modulo bias is negligible for small n).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Standard normal, by the Box–Muller transform.
    fn gaussian(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // in (0, 1], so ln is finite
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Queries run before timing starts.
const WARM_UP: usize = 20;

/// Standard deviation of each coordinate around its cluster centre.
const SPREAD: f64 = 0.25;

/// The demo's data: indexed rows (row-major) and held-out queries.
struct Data {
    dim: usize,
    base: Vec<f32>,
    queries: Vec<Vec<f32>>,
    what: String,
}

impl Data {
    fn rows(&self) -> usize {
        self.base.len() / self.dim.max(1)
    }

    fn row(&self, i: usize) -> &[f32] {
        self.base
            .get(i * self.dim..(i + 1) * self.dim)
            .unwrap_or_default()
    }
}

/// `n + queries` points around `sqrt(n)/2` centres drawn uniformly from [-1, 1]^dim; each
/// point picks a centre at random and adds N(0, SPREAD²) noise per coordinate. The last
/// `queries` points are held out. Continuous random values make exact score ties (which the
/// engine and the brute force could order differently) practically impossible.
fn synthetic(n: usize, dim: usize, queries: usize, seed: u64) -> Data {
    let mut rng = SplitMix64(seed);
    let clusters = ((n as f64).sqrt() / 2.0).ceil().max(1.0) as usize;
    let centres: Vec<Vec<f64>> = (0..clusters)
        .map(|_| (0..dim).map(|_| rng.uniform() * 2.0 - 1.0).collect())
        .collect();
    let point = |rng: &mut SplitMix64| -> Vec<f32> {
        let c = centres
            .get(rng.below(clusters))
            .cloned()
            .unwrap_or_default();
        c.iter()
            .map(|&x| (x + SPREAD * rng.gaussian()) as f32)
            .collect()
    };
    let mut base = Vec::with_capacity(n * dim);
    for _ in 0..n {
        base.extend(point(&mut rng));
    }
    let queries = (0..queries).map(|_| point(&mut rng)).collect();
    Data {
        dim,
        base,
        queries,
        what: format!(
            "{n} synthetic vectors of dim {dim} in {clusters} Gaussian clusters (seed {seed})"
        ),
    }
}

/// Rows of the files in `list`: at most `n` indexed, the last `queries` held out.
fn from_files(list: &str, n: usize, queries: usize) -> CliResult<Data> {
    let paths = split_paths(list);
    if paths.is_empty() {
        return Err(CliError::Usage("--base names no file".to_owned()));
    }
    let set = read_vectors_many(&paths)?;
    if set.rows <= queries {
        return Err(CliError::Failed(format!(
            "{} has {} rows; need more than --queries {queries}",
            set.source, set.rows
        )));
    }
    let indexed = n.min(set.rows - queries);
    let mut base = Vec::with_capacity(indexed * set.dim);
    for i in 0..indexed {
        base.extend(set.row_f32(i).unwrap_or_default());
    }
    let queries: Vec<Vec<f32>> = (set.rows - queries..set.rows)
        .filter_map(|i| set.row_f32(i))
        .collect();
    Ok(Data {
        dim: set.dim,
        base,
        queries,
        what: format!(
            "{indexed} vectors of dim {} from {} (last rows held out as queries)",
            set.dim, set.source
        ),
    })
}

/// The exact metric value of `q` against `x`, in f64.
fn exact_score(metric: Metric, q: &[f32], x: &[f32]) -> f64 {
    let mut dot = 0.0;
    let (mut qq, mut xx, mut l2) = (0.0, 0.0, 0.0);
    for (&a, &b) in q.iter().zip(x) {
        let (a, b) = (f64::from(a), f64::from(b));
        dot += a * b;
        qq += a * a;
        xx += b * b;
        l2 += (a - b) * (a - b);
    }
    match metric {
        Metric::Dot => dot,
        Metric::L2 => l2,
        Metric::Cosine if qq > 0.0 && xx > 0.0 => dot / (qq.sqrt() * xx.sqrt()),
        Metric::Cosine => 0.0,
    }
}

/// The exact top `k` rows for `q`: best first, ties broken by the lower row.
fn exact_top_k(data: &Data, metric: Metric, q: &[f32], k: usize) -> Vec<u64> {
    let better_is_higher = !matches!(metric, Metric::L2);
    let mut all: Vec<(f64, u64)> = (0..data.rows())
        .map(|i| {
            let s = exact_score(metric, q, data.row(i));
            (if better_is_higher { s } else { -s }, i as u64)
        })
        .collect();
    let order = |a: &(f64, u64), b: &(f64, u64)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    if k < all.len() {
        all.select_nth_unstable_by(k, order);
        all.truncate(k);
    }
    all.sort_by(order);
    all.into_iter().map(|(_, row)| row).collect()
}

/// Found neighbours among the exact ones.
fn overlap(hits: &[Hit], exact: &[u64]) -> usize {
    hits.iter()
        .filter(|h| matches!(h.key, Key::U64(r) if exact.contains(&r)))
        .count()
}

/// `strata demo`.
pub fn run(args: &DemoArgs) -> CliResult {
    if args.n == 0 || args.dim == 0 || args.queries == 0 || args.k == 0 {
        return Err(CliError::Usage(
            "--n, --dim, --queries and --k must be at least 1".to_owned(),
        ));
    }
    let t = Instant::now();
    let data = match &args.base {
        Some(list) => from_files(list, args.n, args.queries)?,
        None => synthetic(args.n, args.dim, args.queries, args.seed),
    };
    let (n, dim, metric, k) = (data.rows(), data.dim, args.metric, args.k);
    let work = WorkDir::new(args.dir.as_deref(), "demo")?;
    out!("strata demo: {}", data.what)?;
    out!(
        "  metric {}, {} held-out queries, k = {k}; data ready in {:.2} s",
        metric.name(),
        data.queries.len(),
        t.elapsed().as_secs_f64()
    )?;
    let dim_u32 =
        u32::try_from(dim).map_err(|_| CliError::Usage(format!("dimension {dim} is too large")))?;
    let set = VectorSet {
        rows: n,
        dim,
        data: VectorData::F32(data.base.clone()),
        source: "<demo data>".to_owned(),
    };
    let keys: Vec<Key> = (0..n as u64).map(Key::U64).collect();

    // Build through the real path: create, a few transactions, drop the writer.
    let t = Instant::now();
    let mut index = create_index(work.path(), Schema::dense(KeyKind::U64, dim_u32, metric))?;
    let report: IngestReport = ingest_batches(&mut index, &set, keys, n.div_ceil(4))?;
    drop(index);
    let build_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let reader = Reader::open(work.path())?;
    let snap = reader.snapshot();
    let open_ms = t.elapsed().as_secs_f64() * 1e3;
    let (files, disk) = dir_bytes(work.path())?;
    out!(
        "index: {} ({})",
        work.path().display(),
        if work.is_temporary() {
            "temporary"
        } else {
            "kept"
        }
    )?;
    out!(
        "build: {build_s:.2} s ({} docs in {} transactions, {:.0} docs/s); reopened read-only in {open_ms:.1} ms",
        report.docs,
        report.batches,
        report.docs_per_sec()
    )?;
    out!(
        "  {} segments, {} live docs, {} on disk in {files} files, {} resident in memory",
        snap.segments().len(),
        snap.num_docs(),
        human_bytes(disk),
        human_bytes(snap.resident_bytes())
    )?;

    // Search one query at a time, after a warm-up that faults in the mapped vector pages.
    let warm = WARM_UP.min(data.queries.len());
    for q in data.queries.iter().take(warm) {
        snap.search_exact(q, k)?;
    }
    let bar = progress_bar(data.queries.len() as u64, "search");
    let mut results = Vec::with_capacity(data.queries.len());
    let mut ms = Vec::with_capacity(data.queries.len());
    for q in &data.queries {
        let t = Instant::now();
        let hits = snap.search_exact(q, k)?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        results.push(hits);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let lat = Latency::of(&ms);

    // The exact answers, independently.
    let bar = progress_bar(data.queries.len() as u64, "exact");
    let mut found = 0;
    for (q, hits) in data.queries.iter().zip(&results) {
        found += overlap(hits, &exact_top_k(&data, metric, q, k));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let wanted = data.queries.len() * k.min(n);
    let recall = found as f64 / wanted.max(1) as f64;

    if let (Some(q), Some(hits)) = (data.queries.first(), results.first()) {
        out!("first query, top {} of {k}:", hits.len().min(3))?;
        for (rank, h) in hits.iter().take(3).enumerate() {
            let exact = match h.key {
                Key::U64(r) => exact_score(metric, q, data.row(r as usize)),
                Key::Str(_) => f64::NAN,
            };
            out!(
                "  {}. key {:>7}  score {:>12.6}  (exact {exact:.6})",
                rank + 1,
                h.key.to_string(),
                h.score
            )?;
        }
    }
    out!(
        "search: {} queries one at a time (after {warm} warm-up queries): mean {:.3} ms, p50 {:.3} ms, p99 {:.3} ms, {:.0} QPS",
        ms.len(),
        lat.mean_ms,
        lat.p50_ms,
        lat.p99_ms,
        lat.qps()
    )?;
    out!(
        "recall@{k} = {recall:.3} ({found} of {wanted} exact neighbours, by f64 brute force over {n} vectors)"
    )?;
    drop(snap);
    drop(reader);
    let (path, temporary) = (work.path().to_path_buf(), work.is_temporary());
    drop(work);
    if temporary {
        out!("removed {}", path.display())?;
    }
    Ok(())
}

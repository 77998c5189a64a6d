//! `strata demo`: a tour of the engine on a seeded corpus, with its answers checked.
//!
//! The demo draws documents from Gaussian clusters around random centres (or takes rows of a
//! vector file). Each synthetic cluster is a topic with its own words, so a document also gets
//! text, learned-sparse-like terms (its words, weighted) and attributes (a year, a language).
//! It builds an index through the real path — create, several transactions, commit, a merge
//! that trains the IVF-PQ index, drop the writer, reopen read-only — and runs held-out queries
//! one at a time: exact vector search, checked against a top-k computed here with a plain f64
//! loop that shares no code with the engine's search (kernels, top-k heap, tie order), so a
//! wrong engine answer shows up as recall below 1; IVF-PQ search with its recall against the
//! exact answers; BM25; sparse; and a filtered hybrid query.

#[path = "demo/data.rs"]
mod data;

use crate::util::progress_bar;
use crate::util::{Latency, WorkDir, create_index, dir_bytes, human_bytes};
use crate::{CliError, CliResult};
use clap::Args;
use data::{Corpus, Data, from_beir, from_files, synthetic};
use std::path::PathBuf;
use std::time::Instant;
use strata::text::AnalyzerConfig;
use strata::{
    AttrKind, DenseIndex, Document, Filter, Hit, IvfPqParams, Key, KeyKind, Metric, Query, Reader,
    Schema, SearchParams, Snapshot, Source, TextQuery,
};

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
    #[arg(long, default_value = "cosine", value_parser = crate::parse_metric)]
    metric: Metric,
    /// Use these vector files (comma-separated) instead of synthetic data; the last --queries
    /// rows are held out as queries, and at most --n of the rows before them are indexed.
    #[arg(long)]
    base: Option<String>,
    /// Run the tour on a BEIR folder instead: corpus.jsonl[.zst] and queries.jsonl for text,
    /// emb/docs.npy + emb/doc_ids.txt and emb/queries_test.npy + emb/query_ids_test.txt for
    /// vectors, and, if present, sparse/docs.splade.jsonl.zst + sparse/queries.splade.jsonl.zst
    /// (the layout of ../shared/data/scifact). At most --n documents and --queries queries.
    #[arg(long, conflicts_with = "base")]
    beir: Option<PathBuf>,
    /// Build the index here and keep it (default: a temporary directory, removed at the end).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Queries run before timing starts.
const WARM_UP: usize = 20;

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

/// The filter of the hybrid query.
const WHERE: &str = "year >= 2015 AND lang = 'en'";

/// IVF-PQ parameters for `n` vectors of dimension `dim`: about 2·sqrt(n) lists (a power of
/// two), 4-bit codes with two dimensions per sub-quantizer (or the largest divisor of `dim`
/// that gives at least two), encoding residuals to the list's centroid (the demo's points are
/// tight clusters, so the codes should spend their bits on the offsets within a cluster).
fn ivf_params(n: usize, dim: usize) -> IvfPqParams {
    let nlist = ((2.0 * (n as f64).sqrt()) as u32)
        .max(8)
        .next_power_of_two()
        / 2;
    let m = (1..=dim / 2)
        .rev()
        .find(|m| dim.is_multiple_of(*m))
        .unwrap_or(1) as u32;
    IvfPqParams {
        nlist,
        m,
        nbits: 4,
        balanced: false,
        residual: true,
        min_rows: 1000,
    }
}

/// Times `f` once per item after a warm-up; returns the results and the latency.
fn timed<T, R>(
    items: &[T],
    what: &str,
    mut f: impl FnMut(&T) -> strata::Result<R>,
) -> CliResult<(Vec<R>, Latency)> {
    for it in items.iter().take(WARM_UP.min(items.len())) {
        f(it)?;
    }
    let bar = progress_bar(items.len() as u64, what);
    let mut out = Vec::with_capacity(items.len());
    let mut ms = Vec::with_capacity(items.len());
    for it in items {
        let t = Instant::now();
        out.push(f(it)?);
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok((out, Latency::of(&ms)))
}

/// One line of latency figures.
fn latency_line(lat: &Latency, n: usize) -> String {
    format!(
        "{n} queries: mean {:.3} ms, p50 {:.3} ms, p99 {:.3} ms, {:.0} QPS",
        lat.mean_ms,
        lat.p50_ms,
        lat.p99_ms,
        lat.qps()
    )
}

/// At most 100 characters of `s` on one line.
fn shorten(s: &str) -> String {
    let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(100) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

/// The stored text of the live document `key`, shortened for one line.
fn text_of(snap: &Snapshot, key: &Key) -> String {
    match snap.get(key) {
        Ok(Some(doc)) => shorten(
            &doc.fields
                .into_iter()
                .map(|(_, t)| t)
                .collect::<Vec<_>>()
                .join(" | "),
        ),
        _ => String::new(),
    }
}

/// `strata demo`.
pub fn run(args: &DemoArgs) -> CliResult {
    if args.n == 0 || args.dim == 0 || args.queries == 0 || args.k == 0 {
        return Err(CliError::Usage(
            "--n, --dim, --queries and --k must be at least 1".to_owned(),
        ));
    }
    let t = Instant::now();
    let (data, corpus) = match (&args.base, &args.beir) {
        (Some(list), _) => (from_files(list, args.n, args.queries)?, None),
        (None, Some(dir)) => {
            let (d, c) = from_beir(dir, args.n, args.queries)?;
            (d, Some(c))
        }
        (None, None) => {
            let d = synthetic(args.n, args.dim, args.queries, args.seed);
            let c = Corpus::new(&d, args.seed);
            (d, Some(c))
        }
    };
    let has_attrs = corpus.as_ref().is_some_and(|c| !c.year.is_empty());
    let has_sparse = corpus.as_ref().is_some_and(|c| !c.query_sparse.is_empty());
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
    let ivf = ivf_params(n, dim);
    let mut schema =
        Schema::dense(KeyKind::U64, dim_u32, metric).with_index(DenseIndex::IvfPq(ivf));
    if corpus.is_some() {
        schema = schema.with_text("text", AnalyzerConfig::default(), true);
    }
    if has_sparse {
        schema = schema.with_sparse("terms", 8);
    }
    if has_attrs {
        schema = schema
            .with_attribute("year", AttrKind::I64)
            .with_attribute("lang", AttrKind::Keyword);
    }

    // Build through the real path: create, a few transactions, a merge into one segment
    // (which trains its IVF-PQ index once it has enough rows), drop the writer.
    let t = Instant::now();
    let mut index = create_index(work.path(), schema)?;
    let batch = n.div_ceil(4).max(1);
    let bar = progress_bar(n as u64, "ingest");
    let mut txns = 0;
    for start in (0..n).step_by(batch) {
        let mut txn = index.begin();
        for row in start..(start + batch).min(n) {
            let v = data.row(row).to_vec();
            txn.add(match &corpus {
                Some(c) => c.doc(row, v),
                None => Document::new(row as u64, v),
            })?;
            bar.inc(1);
        }
        txn.commit()?;
        txns += 1;
    }
    bar.finish_and_clear();
    index.merge_all()?;
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
        "build: {build_s:.2} s ({n} docs in {txns} transactions, merged into one segment, {:.0} docs/s); reopened read-only in {open_ms:.1} ms",
        n as f64 / build_s.max(1e-9)
    )?;
    out!(
        "  {} segments, {} live docs, {} on disk in {files} files, {} resident in memory",
        snap.segments().len(),
        snap.num_docs(),
        human_bytes(disk),
        human_bytes(snap.resident_bytes())
    )?;

    // Exact vector search, checked against an independent f64 brute force.
    let exact_p = SearchParams::exact(k);
    let (exact, lat) = timed(&data.queries, "exact", |q| {
        snap.search_filtered(q, &exact_p, None).map(|(h, _)| h)
    })?;
    let bar = progress_bar(data.queries.len() as u64, "check");
    let mut found = 0;
    for (q, hits) in data.queries.iter().zip(&exact) {
        found += overlap(hits, &exact_top_k(&data, metric, q, k));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let wanted = data.queries.len() * k.min(n);
    let recall = found as f64 / wanted.max(1) as f64;
    if let (Some(q), Some(hits)) = (data.queries.first(), exact.first()) {
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
        "exact vector search: {}",
        latency_line(&lat, data.queries.len())
    )?;
    out!(
        "  recall@{k} = {recall:.3} ({found} of {wanted} exact neighbours, by f64 brute force over {n} vectors)"
    )?;

    // IVF-PQ: recall against the exact answers above.
    let ivf_p = SearchParams {
        k,
        nprobe: (ivf.nlist as usize / 8).max(1),
        rerank: 10 * k,
        exact: false,
    };
    let (approx, lat) = timed(&data.queries, "ivf-pq", |q| {
        snap.search_filtered(q, &ivf_p, None).map(|(h, _)| h)
    })?;
    let mut found = 0;
    for (a, e) in approx.iter().zip(&exact) {
        found += a
            .iter()
            .filter(|h| e.iter().any(|x| x.key == h.key))
            .count();
    }
    let wanted: usize = exact.iter().map(Vec::len).sum();
    let indexed = snap.segments().iter().any(|s| s.ivf().is_some());
    out!(
        "IVF-PQ search (nlist {}, {}x{} bit codes, nprobe {}, re-rank {}{}): {}",
        ivf.nlist,
        ivf.m,
        ivf.nbits,
        ivf_p.nprobe,
        ivf_p.rerank,
        if indexed {
            ""
        } else {
            "; too few rows to train, searched exactly"
        },
        latency_line(&lat, data.queries.len())
    )?;
    out!(
        "  recall@{k} = {:.3} against exact search",
        found as f64 / wanted.max(1) as f64
    )?;

    if let Some(c) = &corpus {
        let (bm25, lat) = timed(&c.query_text, "bm25", |t| {
            snap.search_text(&TextQuery::bm25(t, k))
        })?;
        out!("BM25 search: {}", latency_line(&lat, c.query_text.len()))?;
        if let (Some(t), Some(h)) = (c.query_text.first(), bm25.first().and_then(|h| h.first())) {
            out!(
                "  \"{}\" -> key {} score {:.3}: {}",
                shorten(t),
                h.key,
                h.score,
                text_of(&snap, &h.key)
            )?;
        }
        let (sparse, lat) = timed(&c.query_sparse, "sparse", |terms| {
            if !has_sparse {
                return Ok(Vec::new());
            }
            snap.search_text(&TextQuery::sparse(terms.clone(), k))
        })?;
        if has_sparse {
            out!(
                "sparse search: {}",
                latency_line(&lat, c.query_sparse.len())
            )?;
        }
        if let (Some(t), Some(h)) = (
            c.query_sparse.first(),
            sparse.first().and_then(|h| h.first()),
        ) {
            let mut terms: Vec<String> = t
                .iter()
                .take(6)
                .map(|(w, x)| format!("{w}:{x:.2}"))
                .collect();
            if t.len() > 6 {
                terms.push(format!("… {} terms", t.len()));
            }
            out!(
                "  {{{}}} -> key {} score {:.3}: {}",
                terms.join(", "),
                h.key,
                h.score,
                text_of(&snap, &h.key)
            )?;
        }

        // One query over all three sources, restricted by attributes, fused with RRF.
        let filter = Filter::parse(if has_attrs { WHERE } else { "" })
            .ok()
            .filter(|_| has_attrs);
        let passing = c
            .year
            .iter()
            .zip(&c.lang)
            .filter(|(y, l)| **y >= 2015 && **l == "en")
            .count();
        let queries: Vec<Query> = data
            .queries
            .iter()
            .zip(&c.query_text)
            .zip(&c.query_sparse)
            .map(|((v, t), sp)| {
                let mut q = Query::new()
                    .vector(v.clone())
                    .nprobe(ivf_p.nprobe)
                    .rerank(ivf_p.rerank)
                    .text(t.clone())
                    .limit(k);
                if has_sparse {
                    q = q.sparse(sp.clone());
                }
                if let Some(f) = &filter {
                    q = q.filter(f.clone());
                }
                q
            })
            .collect();
        let (hybrid, lat) = timed(&queries, "hybrid", |q| snap.query(q))?;
        // Every hit must pass the filter, checked against the generated attributes.
        let mut wrong = 0;
        for r in &hybrid {
            for h in r.hits.iter().filter(|_| has_attrs) {
                let ok = match h.key {
                    Key::U64(row) => {
                        let row = row as usize;
                        c.year.get(row).is_some_and(|y| *y >= 2015)
                            && c.lang.get(row).is_some_and(|l| *l == "en")
                    }
                    Key::Str(_) => false,
                };
                wrong += usize::from(!ok);
            }
        }
        if wrong > 0 {
            return Err(CliError::Failed(format!(
                "{wrong} hybrid hits do not pass the filter {WHERE}"
            )));
        }
        let short = hybrid.iter().filter(|r| r.fewer_than_limit).count();
        let sources = if has_sparse {
            "vector + BM25 + sparse"
        } else {
            "vector + BM25"
        };
        if has_attrs {
            out!(
                "hybrid search ({sources}, RRF) where {WHERE} ({passing} of {n} documents pass): {}",
                latency_line(&lat, queries.len())
            )?;
            out!(
                "  every hit passes the filter; {short} of {} queries had fewer than {k} passing hits",
                queries.len()
            )?;
        } else {
            out!(
                "hybrid search ({sources}, RRF): {}",
                latency_line(&lat, queries.len())
            )?;
        }
        if let (Some(t), Some(r)) = (c.query_text.first(), hybrid.first()) {
            out!(
                "  \"{t}\" + its vector and sparse terms, top {}:",
                r.hits.len().min(3)
            )?;
            for (rank, h) in r.hits.iter().take(3).enumerate() {
                let ranks: Vec<String> = Source::ALL
                    .iter()
                    .map(|&s| match h.source(s) {
                        Some(x) => format!("{} #{}", s.name(), x.rank),
                        None => format!("{} -", s.name()),
                    })
                    .collect();
                let attrs: Vec<String> = snap
                    .attributes_of(h.address.segment, h.address.row)
                    .into_iter()
                    .map(|(name, v)| format!("{name}={v}"))
                    .collect();
                let attrs = if attrs.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", attrs.join(" "))
                };
                out!(
                    "  {}. key {} score {:.4} ({}){attrs}: {}",
                    rank + 1,
                    h.key,
                    h.score,
                    ranks.join(", "),
                    text_of(&snap, &h.key)
                )?;
            }
        }
    }

    drop(snap);
    drop(reader);
    let (path, temporary) = (work.path().to_path_buf(), work.is_temporary());
    drop(work);
    if temporary {
        out!("removed {}", path.display())?;
    }
    Ok(())
}

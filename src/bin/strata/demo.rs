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

use crate::util::progress_bar;
use crate::util::{Latency, WorkDir, create_index, dir_bytes, human_bytes};
use crate::{CliError, CliResult};
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;
use strata::input::{read_vectors_many, split_paths};
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
    /// The topic (cluster) of each indexed row and of each query; empty for file data.
    base_topic: Vec<usize>,
    query_topic: Vec<usize>,
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
    let point = |rng: &mut SplitMix64| -> (usize, Vec<f32>) {
        let topic = rng.below(clusters);
        let c = centres.get(topic).cloned().unwrap_or_default();
        let p = c
            .iter()
            .map(|&x| (x + SPREAD * rng.gaussian()) as f32)
            .collect();
        (topic, p)
    };
    let mut base = Vec::with_capacity(n * dim);
    let mut base_topic = Vec::with_capacity(n);
    for _ in 0..n {
        let (topic, p) = point(&mut rng);
        base.extend(p);
        base_topic.push(topic);
    }
    let (query_topic, queries) = (0..queries).map(|_| point(&mut rng)).unzip();
    Data {
        dim,
        base,
        queries,
        what: format!(
            "{n} synthetic documents: vectors of dim {dim} in {clusters} Gaussian clusters, \
             each cluster a topic with its own words (text, sparse terms), a year and a \
             language (seed {seed})"
        ),
        base_topic,
        query_topic,
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
            "{indexed} vectors of dim {} from {} (last rows held out as queries; no text)",
            set.dim, set.source
        ),
        base_topic: Vec::new(),
        query_topic: Vec::new(),
    })
}

/// A BEIR folder as demo data: documents that have a vector, in the id file's order (at most
/// `n`), their title and text, and their sparse terms if the folder has them; queries that
/// have a vector and text (at most `queries`).
fn from_beir(dir: &std::path::Path, n: usize, queries: usize) -> CliResult<(Data, Corpus)> {
    let emb = dir.join("emb");
    let (dim, doc_vecs) =
        crate::eval::vectors_by_id(&emb.join("docs.npy"), &emb.join("doc_ids.txt"))?;
    let (qdim, query_vecs) = crate::eval::vectors_by_id(
        &emb.join("queries_test.npy"),
        &emb.join("query_ids_test.txt"),
    )?;
    if qdim != dim {
        return Err(CliError::Failed(format!(
            "{}: query vectors have dimension {qdim}, documents {dim}",
            emb.display()
        )));
    }
    let sparse_dir = dir.join("sparse");
    let (doc_sparse, query_sparse) = if sparse_dir.join("docs.splade.jsonl.zst").exists() {
        (
            crate::eval::sparse_by_id(&sparse_dir.join("docs.splade.jsonl.zst"))?,
            crate::eval::sparse_by_id(&sparse_dir.join("queries.splade.jsonl.zst"))?,
        )
    } else {
        Default::default()
    };
    let mut base = Vec::new();
    let mut c = Corpus {
        text: Vec::new(),
        sparse: Vec::new(),
        year: Vec::new(),
        lang: Vec::new(),
        query_text: Vec::new(),
        query_sparse: Vec::new(),
    };
    for doc in strata::eval::read_corpus(&dir.join("corpus.jsonl"))? {
        let doc = doc?;
        let Some(v) = doc_vecs.get(&doc.id) else {
            continue;
        };
        if c.text.len() == n {
            break;
        }
        base.extend_from_slice(v);
        c.text.push(format!("{} {}", doc.title, doc.text));
        if !doc_sparse.is_empty() {
            c.sparse
                .push(doc_sparse.get(&doc.id).cloned().unwrap_or_default());
        }
    }
    let mut qv = Vec::new();
    for (id, text) in strata::eval::read_queries(&dir.join("queries.jsonl"))? {
        let Some(v) = query_vecs.get(&id) else {
            continue;
        };
        if qv.len() == queries {
            break;
        }
        qv.push(v.clone());
        c.query_text.push(text);
        if !query_sparse.is_empty() {
            c.query_sparse
                .push(query_sparse.get(&id).cloned().unwrap_or_default());
        }
    }
    if c.text.is_empty() || qv.is_empty() {
        return Err(CliError::Failed(format!(
            "{}: no documents or no queries with vectors",
            dir.display()
        )));
    }
    let what = format!(
        "{} documents of {} with {dim}-d vectors, text{}, and {} of its queries",
        c.text.len(),
        dir.display(),
        if c.sparse.is_empty() {
            ""
        } else {
            ", sparse terms"
        },
        qv.len()
    );
    Ok((
        Data {
            dim,
            base,
            queries: qv,
            what,
            base_topic: Vec::new(),
            query_topic: Vec::new(),
        },
        c,
    ))
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

/// A word of the demo's synthetic language: `i` written in base 42, one consonant-vowel
/// syllable per digit, at least two syllables (vowels a, o, u only, so stemming leaves words
/// whole and distinct numbers give distinct words).
fn word(mut i: usize) -> String {
    const C: &[u8] = b"bdfgklmnprstvz";
    const V: &[u8] = b"aou";
    let mut w = String::new();
    loop {
        let s = i % 42;
        i /= 42;
        w.push(char::from(C.get(s % 14).copied().unwrap_or(b'b')));
        w.push(char::from(V.get(s / 14).copied().unwrap_or(b'a')));
        if i == 0 && w.len() >= 4 {
            return w;
        }
    }
}

/// Words shared by every topic.
const BACKGROUND: usize = 200;
/// Words of each topic.
const TOPIC_WORDS: usize = 40;
/// The filter of the hybrid query.
const WHERE: &str = "year >= 2015 AND lang = 'en'";

/// The text side of a synthetic corpus: words, sparse terms and attributes per document.
struct Corpus {
    text: Vec<String>,
    sparse: Vec<Vec<(String, f32)>>,
    year: Vec<i64>,
    lang: Vec<&'static str>,
    query_text: Vec<String>,
    query_sparse: Vec<Vec<(String, f32)>>,
}

/// A topic word, more often one of the topic's first words.
fn topic_word(rng: &mut SplitMix64, topic: usize) -> usize {
    let u = rng.uniform();
    BACKGROUND + topic * TOPIC_WORDS + (u * u * TOPIC_WORDS as f64) as usize
}

/// Distinct words of `words` with weights from their counts and a random salience.
fn weigh(rng: &mut SplitMix64, words: &[usize]) -> Vec<(String, f32)> {
    let mut counts: Vec<(usize, u32)> = Vec::new();
    for &w in words {
        match counts.iter_mut().find(|(x, _)| *x == w) {
            Some((_, c)) => *c += 1,
            None => counts.push((w, 1)),
        }
    }
    counts
        .into_iter()
        .map(|(w, c)| {
            let salience = 0.3 + 0.7 * rng.uniform();
            (word(w), ((1.0 + f64::from(c).ln()) * salience) as f32)
        })
        .collect()
}

impl Corpus {
    /// Ten words per document (seven from its topic, three shared), three topic words per
    /// query; a year in 1995..=2024 and a language (en 60 %, de 25 %, fr 15 %) per document.
    fn new(data: &Data, seed: u64) -> Corpus {
        let mut rng = SplitMix64(seed ^ 0x7e47);
        let mut c = Corpus {
            text: Vec::new(),
            sparse: Vec::new(),
            year: Vec::new(),
            lang: Vec::new(),
            query_text: Vec::new(),
            query_sparse: Vec::new(),
        };
        for &topic in &data.base_topic {
            let mut words: Vec<usize> = (0..7).map(|_| topic_word(&mut rng, topic)).collect();
            words.extend((0..3).map(|_| rng.below(BACKGROUND)));
            c.text
                .push(words.iter().map(|&w| word(w)).collect::<Vec<_>>().join(" "));
            c.sparse.push(weigh(&mut rng, &words));
            c.year.push(1995 + rng.below(30) as i64);
            let u = rng.uniform();
            c.lang.push(if u < 0.6 {
                "en"
            } else if u < 0.85 {
                "de"
            } else {
                "fr"
            });
        }
        for &topic in &data.query_topic {
            let words: Vec<usize> = (0..3).map(|_| topic_word(&mut rng, topic)).collect();
            c.query_text
                .push(words.iter().map(|&w| word(w)).collect::<Vec<_>>().join(" "));
            c.query_sparse.push(weigh(&mut rng, &words));
        }
        c
    }

    /// Document `row` (vector `v`) with its text and sparse terms.
    fn doc(&self, row: usize, v: Vec<f32>) -> Document {
        let mut d = Document::new(row as u64, v);
        if let Some(t) = self.text.get(row) {
            d = d.with_text("text", t.clone());
        }
        if let Some(sp) = self.sparse.get(row) {
            d = d.with_sparse(sp.clone());
        }
        if let (Some(&y), Some(&l)) = (self.year.get(row), self.lang.get(row)) {
            d = d.with_attr("year", y).with_attr("lang", l);
        }
        d
    }
}

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
    let mut found = String::new();
    snap.for_each_live(|k, seg, row| {
        if k != key {
            return;
        }
        if let Some(Ok(fields)) = seg.segment.stored().map(|s| s.get(row)) {
            found = shorten(&fields.join(" | "));
        }
    });
    found
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
    let indexed = snap.segments().iter().any(|s| s.segment.ivf().is_some());
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

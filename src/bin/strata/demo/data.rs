//! The demo's data: a seeded synthetic corpus (Gaussian clusters that are topics with their
//! own words, so each document has a vector, text, sparse terms and attributes), rows of vector
//! files, or a BEIR folder with its vectors and sparse terms.

use crate::{CliError, CliResult};
use strata::Document;
use strata::input::{read_vectors_many, split_paths};

/// splitmix64 (Steele, Lea and Flood): a tiny, seedable generator, good enough for test data.
pub(super) struct SplitMix64(u64);

impl SplitMix64 {
    pub(super) fn next_u64(&mut self) -> u64 {
        strata::rng::splitmix64(&mut self.0)
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub(super) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n (n > 0; the modulo bias is negligible for small n).
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Standard normal, by the Box–Muller transform.
    pub(super) fn gaussian(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // in (0, 1], so ln is finite
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Standard deviation of each coordinate around its cluster centre.
pub(super) const SPREAD: f64 = 0.25;

/// The demo's data: indexed rows (row-major) and held-out queries.
pub(super) struct Data {
    pub(super) dim: usize,
    pub(super) base: Vec<f32>,
    pub(super) queries: Vec<Vec<f32>>,
    pub(super) what: String,
    /// The topic (cluster) of each indexed row and of each query; empty for file data.
    pub(super) base_topic: Vec<usize>,
    pub(super) query_topic: Vec<usize>,
}

impl Data {
    pub(super) fn rows(&self) -> usize {
        self.base.len() / self.dim.max(1)
    }

    pub(super) fn row(&self, i: usize) -> &[f32] {
        self.base
            .get(i * self.dim..(i + 1) * self.dim)
            .unwrap_or_default()
    }
}

/// `n + queries` points around `sqrt(n)/2` centres drawn uniformly from [-1, 1]^dim; each
/// point picks a centre at random and adds N(0, SPREAD²) noise per coordinate. The last
/// `queries` points are held out. Continuous random values make exact score ties (which the
/// engine and the brute force could order differently) practically impossible.
pub(super) fn synthetic(n: usize, dim: usize, queries: usize, seed: u64) -> Data {
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
pub(super) fn from_files(list: &str, n: usize, queries: usize) -> CliResult<Data> {
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
pub(super) fn from_beir(
    dir: &std::path::Path,
    n: usize,
    queries: usize,
) -> CliResult<(Data, Corpus)> {
    let emb = dir.join("emb");
    let (dim, doc_vecs) =
        strata::eval::vectors_by_id(&emb.join("docs.npy"), &emb.join("doc_ids.txt"))?;
    let (qdim, query_vecs) = strata::eval::vectors_by_id(
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
            strata::eval::sparse_by_id(&sparse_dir.join("docs.splade.jsonl.zst"))?,
            strata::eval::sparse_by_id(&sparse_dir.join("queries.splade.jsonl.zst"))?,
        )
    } else {
        Default::default()
    };
    let mut base = Vec::new();
    let mut c = Corpus::default();
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

/// A word of the demo's synthetic language: `i` written in base 42, one consonant-vowel
/// syllable per digit, at least two syllables (vowels a, o, u only, so stemming leaves words
/// whole and distinct numbers give distinct words).
pub(super) fn word(mut i: usize) -> String {
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
pub(super) const BACKGROUND: usize = 200;
/// Words of each topic.
pub(super) const TOPIC_WORDS: usize = 40;
/// The text side of a synthetic corpus: words, sparse terms and attributes per document.
#[derive(Default)]
pub(super) struct Corpus {
    pub(super) text: Vec<String>,
    pub(super) sparse: Vec<Vec<(String, f32)>>,
    pub(super) year: Vec<i64>,
    pub(super) lang: Vec<&'static str>,
    pub(super) query_text: Vec<String>,
    pub(super) query_sparse: Vec<Vec<(String, f32)>>,
}

/// A topic word, more often one of the topic's first words.
pub(super) fn topic_word(rng: &mut SplitMix64, topic: usize) -> usize {
    let u = rng.uniform();
    BACKGROUND + topic * TOPIC_WORDS + (u * u * TOPIC_WORDS as f64) as usize
}

/// Distinct words of `words` with weights from their counts and a random salience.
pub(super) fn weigh(rng: &mut SplitMix64, words: &[usize]) -> Vec<(String, f32)> {
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
    pub(super) fn new(data: &Data, seed: u64) -> Corpus {
        let mut rng = SplitMix64(seed ^ 0x7e47);
        let mut c = Corpus::default();
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
    pub(super) fn doc(&self, row: usize, v: Vec<f32>) -> Document {
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

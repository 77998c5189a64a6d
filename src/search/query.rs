//! One query over both halves of the index: a dense vector, BM25 text and learned-sparse
//! terms, restricted by a filter, fused into one ranked list and paginated, answered from one
//! snapshot.
//!
//! Execution: the filter is compiled once against the snapshot; each source given runs with
//! the compiled filter applied inside its own search (so a source never returns a document the
//! filter rejects, and never returns fewer than it could because of it) and returns its top
//! `depth` candidates; the candidate lists are united by key (a key is live in exactly one place
//! in a snapshot, so each document appears once), fused (see `fusion`), ordered by fused score
//! and then by key, and the page `offset .. offset + limit` is returned. A query with a single
//! source is not fused: its hits carry that source's own score.
//!
//! Every score is "higher is better": squared L2 distances are negated.
//!
//! Pages of one query are consistent (they concatenate to the unpaged list, each document once)
//! as long as the candidate depth is the same for every page: the default depth grows with
//! `offset + limit`, so set it explicitly with [`Query::depth`] when paging deeply.

use crate::error::{Error, Result};
use crate::search::dense::{QueryStats, SearchParams};
use crate::search::docset::DocFilter;
use crate::search::filter::Filter;
use crate::search::fusion::{self, FusionMethod};
use crate::search::prf::{Rm3, Rocchio};
use crate::search::text::TextQuery;
use crate::sparse::query::{Algorithm, Bm25};
use crate::txn::Snapshot;
use crate::types::{AttrValue, Key};
use std::collections::HashMap;

/// The candidate depth per source when none is set: `max(DEFAULT_DEPTH, offset + limit)`.
pub const DEFAULT_DEPTH: usize = 100;

/// One source of candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// The dense vector.
    Dense,
    /// BM25 over text fields.
    Text,
    /// Learned-sparse terms.
    Sparse,
}

impl Source {
    /// Every source, in the order hits report them.
    pub const ALL: [Source; 3] = [Source::Dense, Source::Text, Source::Sparse];

    fn index(self) -> usize {
        match self {
            Source::Dense => 0,
            Source::Text => 1,
            Source::Sparse => 2,
        }
    }

    /// `dense`, `text` or `sparse`.
    pub fn name(self) -> &'static str {
        match self {
            Source::Dense => "dense",
            Source::Text => "text",
            Source::Sparse => "sparse",
        }
    }
}

/// The dense part of a query.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DenseQuery {
    /// The query vector (the schema's dimension, finite values).
    pub vector: Vec<f32>,
    /// IVF lists probed per segment (None: [`SearchParams::new`]'s default).
    pub nprobe: Option<usize>,
    /// Candidates re-ranked with full vectors per segment (None: 4 × depth).
    pub rerank: Option<usize>,
    /// Scan every vector, ignoring IVF-PQ indexes.
    pub exact: bool,
}

/// A query: any of a dense vector, text and sparse terms, with a filter, a fusion method and a
/// page. Build it with [`Query::new`] and the builder methods; it owns everything it holds.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Query {
    /// The dense vector and how to search it.
    pub dense: Option<DenseQuery>,
    /// Text scored with BM25.
    pub text: Option<String>,
    /// Text fields searched (empty: every text field of the schema).
    pub fields: Vec<String>,
    /// Weighted terms for the sparse field (empty: no sparse source).
    pub sparse: Vec<(String, f32)>,
    /// Only documents passing this filter are returned, by every source.
    pub filter: Option<Filter>,
    /// How several sources are fused.
    pub fusion: FusionMethod,
    /// Per-source fusion weights, in [`Source::ALL`] order (finite, ≥ 0).
    pub weights: [f32; 3],
    /// Hits per page.
    pub limit: usize,
    /// Hits skipped before the page.
    pub offset: usize,
    /// Candidates taken from each source (None: `max(100, offset + limit)`).
    pub depth: Option<usize>,
    /// BM25 parameters of the text source.
    pub bm25: Bm25,
    /// Traversal of the text and sparse sources (all are exact; they differ in speed).
    pub algorithm: Algorithm,
    /// Pseudo-relevance feedback for the dense source (None: off).
    pub feedback: Option<Rocchio>,
    /// Pseudo-relevance feedback for the text source (None: off; needs stored text fields).
    pub text_feedback: Option<Rm3>,
    /// A relevance cut-off: only hits whose calibrated probability of relevance reaches this
    /// (and at least the calibration's `min_hits`) are returned, before paging. Needs the
    /// calibration of the query's kind of score (`dense`, `bm25`, `sparse`, or `hybrid` for
    /// several sources) in the index's model (`Index::commit_calibration`).
    pub min_probability: Option<f32>,
}

impl Default for Query {
    fn default() -> Self {
        Query::new()
    }
}

impl Query {
    /// An empty query: no source, RRF fusion, weights 1, limit 10, offset 0.
    pub fn new() -> Query {
        Query {
            dense: None,
            text: None,
            fields: Vec::new(),
            sparse: Vec::new(),
            filter: None,
            fusion: FusionMethod::default(),
            weights: [1.0; 3],
            limit: 10,
            offset: 0,
            depth: None,
            bm25: Bm25::default(),
            algorithm: Algorithm::default(),
            feedback: None,
            text_feedback: None,
            min_probability: None,
        }
    }

    /// Returns only hits with a calibrated probability of relevance of at least `p` (see
    /// [`Query::min_probability`](Query#structfield.min_probability)).
    pub fn min_probability(mut self, p: f32) -> Query {
        self.min_probability = Some(p);
        self
    }

    /// Searches the dense field with `vector` through the schema's index.
    pub fn vector(mut self, vector: Vec<f32>) -> Query {
        self.dense = Some(DenseQuery {
            vector,
            nprobe: None,
            rerank: None,
            exact: false,
        });
        self
    }

    /// IVF lists probed per segment (needs [`Query::vector`] first; otherwise ignored).
    pub fn nprobe(mut self, nprobe: usize) -> Query {
        if let Some(d) = self.dense.as_mut() {
            d.nprobe = Some(nprobe);
        }
        self
    }

    /// Candidates re-ranked per segment (needs [`Query::vector`] first; otherwise ignored).
    pub fn rerank(mut self, rerank: usize) -> Query {
        if let Some(d) = self.dense.as_mut() {
            d.rerank = Some(rerank);
        }
        self
    }

    /// Exact dense search (needs [`Query::vector`] first; otherwise ignored).
    pub fn exact(mut self, exact: bool) -> Query {
        if let Some(d) = self.dense.as_mut() {
            d.exact = exact;
        }
        self
    }

    /// BM25 text.
    pub fn text(mut self, text: impl Into<String>) -> Query {
        self.text = Some(text.into());
        self
    }

    /// Text fields searched by the text source (default: every text field).
    pub fn fields<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Query {
        self.fields = fields.into_iter().map(Into::into).collect();
        self
    }

    /// Learned-sparse terms (term → weight ≥ 0).
    pub fn sparse(mut self, terms: Vec<(String, f32)>) -> Query {
        self.sparse = terms;
        self
    }

    /// Restricts every source to the documents passing `filter`.
    pub fn filter(mut self, filter: Filter) -> Query {
        self.filter = Some(filter);
        self
    }

    /// The fusion method.
    pub fn fusion(mut self, fusion: FusionMethod) -> Query {
        self.fusion = fusion;
        self
    }

    /// The fusion weight of one source.
    pub fn weight(mut self, source: Source, weight: f32) -> Query {
        if let Some(w) = self.weights.get_mut(source.index()) {
            *w = weight;
        }
        self
    }

    /// Hits per page.
    pub fn limit(mut self, limit: usize) -> Query {
        self.limit = limit;
        self
    }

    /// Hits skipped before the page.
    pub fn offset(mut self, offset: usize) -> Query {
        self.offset = offset;
        self
    }

    /// Candidates taken from each source.
    pub fn depth(mut self, depth: usize) -> Query {
        self.depth = Some(depth);
        self
    }

    /// BM25 parameters.
    pub fn bm25(mut self, bm25: Bm25) -> Query {
        self.bm25 = bm25;
        self
    }

    /// Traversal algorithm of the text and sparse sources.
    pub fn algorithm(mut self, algorithm: Algorithm) -> Query {
        self.algorithm = algorithm;
        self
    }

    /// Rocchio pseudo-relevance feedback for the dense source: the vector is searched, moved
    /// towards the mean of its top documents' vectors, and searched again.
    pub fn feedback(mut self, rocchio: Rocchio) -> Query {
        self.feedback = Some(rocchio);
        self
    }

    /// RM3 pseudo-relevance feedback for the text source: the text is searched, its top
    /// documents' stored text gives expansion terms, and the weighted, expanded query is
    /// searched again (the searched text fields must be stored).
    pub fn text_feedback(mut self, rm3: Rm3) -> Query {
        self.text_feedback = Some(rm3);
        self
    }

    /// The sources this query has, in [`Source::ALL`] order.
    pub fn sources(&self) -> Vec<Source> {
        let mut out = Vec::new();
        if self.dense.is_some() {
            out.push(Source::Dense);
        }
        if self.text.is_some() {
            out.push(Source::Text);
        }
        if !self.sparse.is_empty() {
            out.push(Source::Sparse);
        }
        out
    }

    /// The candidate depth per source.
    pub fn effective_depth(&self) -> usize {
        self.depth
            .unwrap_or_else(|| DEFAULT_DEPTH.max(self.offset.saturating_add(self.limit)))
    }
}

/// Where a document lives in a snapshot: its segment and row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DocAddress {
    /// The segment id.
    pub segment: u64,
    /// The row in that segment.
    pub row: u32,
}

/// What one source said about a hit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceScore {
    /// The source's score (higher is better; squared L2 distances are negated).
    pub score: f32,
    /// The hit's rank in the source's candidate list, from 1.
    pub rank: u32,
}

/// One hit of a [`Query`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct QueryHit {
    /// The document key.
    pub key: Key,
    /// The fused score (higher is better); with a single source, that source's score.
    pub score: f32,
    /// Per source in [`Source::ALL`] order, its score and rank, if it returned the document.
    pub sources: [Option<SourceScore>; 3],
    /// Where the document is stored (see [`Snapshot::stored_fields`]).
    pub address: DocAddress,
}

impl QueryHit {
    /// What `source` said about this hit.
    pub fn source(&self, source: Source) -> Option<SourceScore> {
        self.sources.get(source.index()).copied().flatten()
    }
}

/// The answer to a [`Query`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct QueryResult {
    /// The page of hits, best first (ties by key).
    pub hits: Vec<QueryHit>,
    /// Whether fewer than `limit` documents could be returned (the filter and the sources
    /// yielded fewer than `offset + limit` documents within the candidate depth).
    pub fewer_than_limit: bool,
    /// Distinct documents the sources returned before pagination.
    pub candidates: usize,
    /// What the dense search did, if the query had a vector.
    pub dense_stats: Option<QueryStats>,
}

/// A stored document, as [`Snapshot::get`] returns it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StoredDoc {
    /// The key.
    pub key: Key,
    /// Where it lives.
    pub address: DocAddress,
    /// Its stored text fields as (field name, text), in schema order.
    pub fields: Vec<(String, String)>,
    /// Its attributes as (name, value), in schema order (attributes it lacks are left out).
    pub attributes: Vec<(String, AttrValue)>,
}

/// A candidate of the union of source lists.
struct Cand {
    key: Key,
    address: Option<DocAddress>,
    sources: [Option<SourceScore>; 3],
}

/// The union of the sources' candidate lists, each document once.
#[derive(Default)]
struct Union {
    cands: Vec<Cand>,
    by_key: HashMap<Key, usize>,
    /// Per source: (weight, candidate ids, scores), best first.
    lists: Vec<(f32, Vec<usize>, Vec<f32>)>,
}

impl Union {
    /// Adds one source's ranked list of (key, score, address).
    fn add(
        &mut self,
        source: Source,
        weight: f32,
        hits: impl Iterator<Item = (Key, f32, Option<DocAddress>)>,
    ) {
        let (mut ids, mut scores) = (Vec::new(), Vec::new());
        for (rank, (key, score, address)) in hits.enumerate() {
            let id = match self.by_key.get(&key) {
                Some(&id) => id,
                None => {
                    let id = self.cands.len();
                    self.by_key.insert(key.clone(), id);
                    self.cands.push(Cand {
                        key,
                        address: None,
                        sources: [None; 3],
                    });
                    id
                }
            };
            if let Some(c) = self.cands.get_mut(id) {
                if c.address.is_none() {
                    c.address = address;
                }
                if let Some(s) = c.sources.get_mut(source.index()) {
                    *s = Some(SourceScore {
                        score,
                        rank: u32::try_from(rank + 1).unwrap_or(u32::MAX),
                    });
                }
            }
            ids.push(id);
            scores.push(score);
        }
        self.lists.push((weight, ids, scores));
    }
}

/// The kind of score a query over `sources` ranks by, as calibrations are stored: `dense`,
/// `bm25` or `sparse` for one source, `hybrid` for fused scores.
pub fn score_kind(sources: &[Source]) -> &'static str {
    match sources {
        [Source::Dense] => "dense",
        [Source::Text] => "bm25",
        [Source::Sparse] => "sparse",
        _ => "hybrid",
    }
}

impl Snapshot {
    /// Answers `q` from this snapshot (see the module docs of `search::query`).
    pub fn query(&self, q: &Query) -> Result<QueryResult> {
        let sources = q.sources();
        if sources.is_empty() {
            return Err(Error::InvalidArgument(
                "the query has no vector, text or sparse terms".to_owned(),
            ));
        }
        q.fusion.validate()?;
        if let Some((i, w)) = q
            .weights
            .iter()
            .enumerate()
            .find(|(_, w)| !w.is_finite() || **w < 0.0)
        {
            let name = Source::ALL.get(i).map_or("?", |s| s.name());
            return Err(Error::InvalidArgument(format!(
                "the fusion weight of the {name} source must be finite and ≥ 0, not {w}"
            )));
        }
        if q.text.is_some() && self.schema().text_fields().is_empty() {
            return Err(Error::InvalidArgument(
                "the query has text; the schema has no text field".to_owned(),
            ));
        }
        let filter: Option<DocFilter> = q
            .filter
            .as_ref()
            .map(|f| self.compile_filter(f))
            .transpose()?;
        let cutoff = match q.min_probability {
            Some(p) => Some(self.calibration_for(&sources, p)?),
            None => None,
        };
        let depth = q
            .effective_depth()
            .max(cutoff.as_ref().map_or(0, |(_, c)| c.depth as usize));
        if depth == 0 {
            return Err(Error::InvalidArgument(
                "the candidate depth per source must be at least 1".to_owned(),
            ));
        }
        let mut union = Union::default();
        let mut dense_stats = None;
        let weight = |s: Source| q.weights.get(s.index()).copied().unwrap_or(1.0);
        if let Some(d) = &q.dense {
            let metric = self
                .schema()
                .dense_field()
                .map(|(_, m, _)| m)
                .ok_or_else(|| Error::Schema("no dense vector field".to_owned()))?;
            let defaults = SearchParams::new(depth);
            let p = SearchParams {
                k: depth,
                nprobe: d.nprobe.unwrap_or(defaults.nprobe),
                rerank: d.rerank.unwrap_or(defaults.rerank),
                exact: d.exact,
            };
            let (mut hits, mut stats) = self.search_located(&d.vector, &p, filter.as_ref())?;
            if let Some(r) = &q.feedback {
                r.validate()?;
                let fb: Vec<DocAddress> = hits
                    .iter()
                    .take(r.docs)
                    .map(|&(_, segment, row)| DocAddress { segment, row })
                    .collect();
                let expanded = self.rocchio(&d.vector, metric, &fb, r)?;
                (hits, stats) = self.search_located(&expanded, &p, filter.as_ref())?;
            }
            dense_stats = Some(stats);
            union.add(
                Source::Dense,
                weight(Source::Dense),
                hits.into_iter().map(|(h, segment, row)| {
                    (
                        h.key,
                        metric.rank_value(h.score),
                        Some(DocAddress { segment, row }),
                    )
                }),
            );
        }
        if let Some(text) = &q.text {
            let mut tq = TextQuery::bm25(text, depth);
            tq.fields = q.fields.clone();
            tq.bm25 = q.bm25;
            tq.algorithm = q.algorithm;
            tq.filter = filter.as_ref();
            let mut hits = self.search_text(&tq)?;
            if let Some(r) = &q.text_feedback {
                r.validate()?;
                let weighted = self.rm3_query(text, &q.fields, &hits, r)?;
                let mut again = TextQuery::bm25("", depth);
                again.weighted = weighted;
                again.fields = q.fields.clone();
                again.bm25 = q.bm25;
                again.algorithm = q.algorithm;
                again.filter = filter.as_ref();
                hits = self.search_text(&again)?;
            }
            union.add(
                Source::Text,
                weight(Source::Text),
                hits.into_iter().map(|h| {
                    let a = DocAddress {
                        segment: h.segment,
                        row: h.row,
                    };
                    (h.key, h.score, Some(a))
                }),
            );
        }
        if !q.sparse.is_empty() {
            let mut tq = TextQuery::sparse(q.sparse.clone(), depth);
            tq.algorithm = q.algorithm;
            tq.filter = filter.as_ref();
            let hits = self.search_text(&tq)?;
            union.add(
                Source::Sparse,
                weight(Source::Sparse),
                hits.into_iter().map(|h| {
                    let a = DocAddress {
                        segment: h.segment,
                        row: h.row,
                    };
                    (h.key, h.score, Some(a))
                }),
            );
        }
        let scores: Vec<f32> = if sources.len() == 1 {
            // One source: its own scores, no fusion.
            let mut s = vec![0.0f32; union.cands.len()];
            if let Some((_, ids, sc)) = union.lists.first() {
                for (&id, &v) in ids.iter().zip(sc) {
                    if let Some(x) = s.get_mut(id) {
                        *x = v;
                    }
                }
            }
            s
        } else {
            let lists: Vec<(f32, &[usize], &[f32])> = union
                .lists
                .iter()
                .map(|(w, ids, sc)| (*w, ids.as_slice(), sc.as_slice()))
                .collect();
            fusion::fuse(&q.fusion, union.cands.len(), &lists)
                .into_iter()
                .map(|x| x as f32)
                .collect()
        };
        let candidates = union.cands.len();
        let mut order: Vec<(f32, Cand)> = scores.into_iter().zip(union.cands).collect();
        order.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.key.cmp(&b.1.key)));
        if let Some((p, cal)) = &cutoff {
            let ranked: Vec<f32> = order.iter().take(cal.depth as usize).map(|x| x.0).collect();
            order.truncate(cal.cut(&ranked, *p));
        }
        let mut page: Vec<(f32, Cand)> = order.into_iter().skip(q.offset).take(q.limit).collect();
        self.fill_addresses(page.iter_mut().map(|(_, c)| c))?;
        let hits: Vec<QueryHit> = page
            .into_iter()
            .filter_map(|(score, c)| {
                Some(QueryHit {
                    key: c.key,
                    score,
                    sources: c.sources,
                    address: c.address?,
                })
            })
            .collect();
        Ok(QueryResult {
            fewer_than_limit: hits.len() < q.limit,
            hits,
            candidates,
            dense_stats,
        })
    }

    /// The minimum probability `p` (checked) and the calibration of the score kind `sources`
    /// give.
    fn calibration_for(
        &self,
        sources: &[Source],
        p: f32,
    ) -> Result<(f32, crate::calibrate::Calibration)> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::InvalidArgument(format!(
                "min_probability must be between 0 and 1, not {p}"
            )));
        }
        let kind = score_kind(sources);
        let cal = self
            .model()
            .and_then(|m| m.calibration(kind))
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "min_probability needs a calibration of {kind} scores in the index's model (Index::commit_calibration, or strata eval --cutoff)"
                ))
            })?;
        Ok((p, cal.clone()))
    }

    /// Finds the address of every candidate that has none yet (dense hits carry keys only),
    /// with one pass over the live rows' keys, ending as soon as all are found.
    fn fill_addresses<'a>(&self, cands: impl Iterator<Item = &'a mut Cand>) -> Result<()> {
        let mut missing: HashMap<Key, &mut Cand> = cands
            .filter(|c| c.address.is_none())
            .map(|c| (c.key.clone(), c))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        for s in self.segments() {
            let keys = s.segment.keys();
            for row in 0..s.segment.rows() {
                let row32 = u32::try_from(row).unwrap_or(u32::MAX);
                if !s.is_live(row32) {
                    continue;
                }
                if let Some(k) = keys.get(row)
                    && let Some(c) = missing.remove(&k)
                {
                    c.address = Some(DocAddress {
                        segment: s.meta.id,
                        row: row32,
                    });
                    if missing.is_empty() {
                        return Ok(());
                    }
                }
            }
        }
        let (k, _) = missing.into_iter().next().unzip();
        Err(Error::InvalidArgument(format!(
            "a search returned key {} that no live row of this snapshot holds",
            k.map_or_else(String::new, |k| k.to_string())
        )))
    }

    /// Where the live document `key` is stored, if this snapshot holds it.
    pub fn locate(&self, key: &Key) -> Option<DocAddress> {
        for s in self.segments() {
            let keys = s.segment.keys();
            for row in 0..s.segment.rows() {
                let row32 = u32::try_from(row).unwrap_or(u32::MAX);
                if s.is_live(row32) && keys.get(row).as_ref() == Some(key) {
                    return Some(DocAddress {
                        segment: s.meta.id,
                        row: row32,
                    });
                }
            }
        }
        None
    }

    /// The stored fields of the live document `key` (None if this snapshot does not hold it).
    pub fn get(&self, key: &Key) -> Result<Option<StoredDoc>> {
        let Some(address) = self.locate(key) else {
            return Ok(None);
        };
        Ok(Some(StoredDoc {
            key: key.clone(),
            address,
            fields: self.stored_fields(&address)?,
            attributes: self.attributes_of(address.segment, address.row),
        }))
    }

    /// The stored text fields of the document at `address`, as (field name, text).
    pub fn stored_fields(&self, address: &DocAddress) -> Result<Vec<(String, String)>> {
        let s = self
            .segments()
            .iter()
            .find(|s| s.meta.id == address.segment)
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "segment {} is not in this snapshot",
                    address.segment
                ))
            })?;
        if address.row as usize >= s.segment.rows() || !s.is_live(address.row) {
            return Err(Error::InvalidArgument(format!(
                "row {} of segment {} is not a live document of this snapshot",
                address.row, address.segment
            )));
        }
        let Some(stored) = s.segment.stored() else {
            return Ok(Vec::new());
        };
        let schema = self.schema();
        let names = schema
            .stored_fields()
            .into_iter()
            .filter_map(|i| schema.fields.get(usize::from(i)).map(|f| f.name.clone()));
        Ok(names.zip(stored.get(address.row)?).collect())
    }
}

//! Tuning the index's model for ranking: training pairs (given, or mined from the index's own
//! vectors), [`IvfPq::tune_codebooks`](crate::dense::ivf::IvfPq::tune_codebooks) over the
//! segment of the model's lineage, and the result committed as a new model generation
//! ([`Index::commit_model`]).

use crate::dense::flat::{Cand, FlatQuery, TopK, scan_segment_batch};
use crate::dense::ivf::{EpochReport, TuneConfig, TuneQuery, normalize_rows};
use crate::error::{Error, Result};
use crate::txn::{Index, SnapshotSegment};
use crate::types::{Key, Metric};
use std::collections::HashMap;
use std::time::Instant;

/// Where training pairs come from.
#[derive(Debug, Clone, PartialEq)]
pub enum TunePairs {
    /// A seeded sample of `queries` stored vectors, each with its `positives` exact nearest
    /// neighbours among the other rows as relevant.
    Mined {
        /// Stored vectors used as queries.
        queries: usize,
        /// Exact neighbours per query taken as relevant.
        positives: usize,
        /// Seeds the sample.
        seed: u64,
    },
    /// Query vectors with the keys relevant to each.
    Given(Vec<(Vec<f32>, Vec<Key>)>),
}

impl TunePairs {
    /// Stored vectors a mined tuning uses as queries unless told otherwise: 20,000 for 4-bit
    /// codebooks, 40,000 for 8-bit ones (16 times the parameters, which overfit 20,000 on
    /// WordNet).
    pub fn default_mined_queries(nbits: u8) -> usize {
        if nbits == 8 { 40_000 } else { 20_000 }
    }

    /// Pairs from relevance judgements: every judged query that has a vector, with its
    /// documents graded above 0 (best grade first, then by id) as keys of kind `key`.
    ///
    /// Errors: `InvalidArgument` naming a document id that is not a key of kind `key`.
    pub fn from_qrels(
        qrels: &crate::eval::Qrels,
        vectors: &HashMap<String, Vec<f32>>,
        key: crate::types::KeyKind,
    ) -> Result<TunePairs> {
        let mut qids: Vec<&String> = qrels.keys().collect();
        qids.sort();
        let mut list = Vec::with_capacity(qids.len());
        for qid in qids {
            let (Some(v), Some(judged)) = (vectors.get(qid), qrels.get(qid)) else {
                continue;
            };
            let mut rel: Vec<(&String, i32)> = judged
                .iter()
                .filter(|(_, g)| **g > 0)
                .map(|(d, g)| (d, *g))
                .collect();
            rel.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            let keys = rel
                .into_iter()
                .map(|(d, _)| match key {
                    crate::types::KeyKind::Str => Ok(Key::Str(d.clone())),
                    crate::types::KeyKind::U64 => d.parse().map(Key::U64).map_err(|_| {
                        Error::InvalidArgument(format!(
                            "document id {d:?} of query {qid} is not an integer key of this index"
                        ))
                    }),
                })
                .collect::<Result<Vec<Key>>>()?;
            list.push((v.clone(), keys));
        }
        Ok(TunePairs::Given(list))
    }
}

/// What a tuning did.
#[derive(Debug, Clone)]
pub struct TuneReport {
    /// Every epoch, epoch 0 (the untuned model) first.
    pub epochs: Vec<EpochReport>,
    /// The epoch whose codebooks were committed.
    pub best_epoch: usize,
    /// Training queries used (with at least one relevant row in the tuned segment).
    pub queries: usize,
    /// Seconds spent finding pairs (exact neighbours for mined pairs).
    pub pairs_seconds: f64,
    /// Seconds spent optimising.
    pub tune_seconds: f64,
    /// The commit that made the tuned model the index's (None: cancelled, or no epoch beat
    /// the model in force, so nothing was committed).
    pub generation: Option<u64>,
}

impl Index {
    /// Tunes the codebooks of the index's model for ranking the relevant rows of `pairs`
    /// first (JPQ-style; codes unchanged) and commits the result as a new model generation.
    /// Training runs over the largest segment encoded with the model (merge first to tune
    /// over every row); relevant keys outside it are ignored. `progress` sees each epoch and
    /// returns `false` to cancel (nothing is committed then).
    ///
    /// Errors: `InvalidArgument` if the index has no model yet, or fewer than two queries
    /// have a relevant row in the tuned segment; errors of [`Index::commit_model`].
    pub fn tune_codebooks(
        &mut self,
        pairs: &TunePairs,
        cfg: &TuneConfig,
        progress: &mut dyn FnMut(&EpochReport) -> bool,
    ) -> Result<TuneReport> {
        let snap = self.snapshot();
        let model = snap.model().cloned().ok_or_else(|| {
            Error::InvalidArgument(
                "the index has no trained model to tune yet (its first IVF-PQ segment large enough trains one)"
                    .into(),
            )
        })?;
        let seg = snap
            .segments()
            .iter()
            .filter(|s| s.ivf().is_some_and(|i| i.lineage() == model.lineage))
            .max_by_key(|s| s.meta.live())
            .ok_or_else(|| Error::InvalidArgument("no segment is encoded with the model".into()))?;
        let ivf = seg
            .ivf()
            .ok_or_else(|| Error::InvalidArgument("no IVF-PQ index".into()))?;
        let start = Instant::now();
        let queries = match pairs {
            TunePairs::Mined {
                queries,
                positives,
                seed,
            } => mine(seg, model.metric, *queries, *positives, *seed),
            TunePairs::Given(list) => given(seg, model.metric, list),
        };
        let pairs_seconds = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let out = ivf.tune_codebooks(&queries, cfg, progress)?;
        let tune_seconds = start.elapsed().as_secs_f64();
        drop(snap);
        let generation = if out.cancelled || out.best_epoch == 0 {
            None
        } else {
            Some(self.commit_model(&model.with_codebooks(out.pq)?)?)
        };
        Ok(TuneReport {
            epochs: out.epochs,
            best_epoch: out.best_epoch,
            queries: queries.len(),
            pairs_seconds,
            tune_seconds,
            generation,
        })
    }
}

/// A query vector as the scan expects it: normalised for cosine.
fn query_vector(mut v: Vec<f32>, metric: Metric) -> Vec<f32> {
    if metric == Metric::Cosine {
        let dim = v.len();
        normalize_rows(&mut v, dim);
    }
    v
}

fn mine(
    seg: &SnapshotSegment,
    metric: Metric,
    queries: usize,
    positives: usize,
    seed: u64,
) -> Vec<TuneQuery> {
    let live: Vec<u32> = (0..seg.meta.rows as u32)
        .filter(|&r| seg.is_live(r))
        .collect();
    let pick: Vec<u32> = crate::dense::pq::sample_rows(live.len(), queries, seed)
        .into_iter()
        .filter_map(|i| live.get(i).copied())
        .collect();
    let n = pick.len();
    let (rows, norms) = seg.segment.vectors();
    let by_row = |a: &Cand, b: &Cand| a.row.cmp(&b.row);
    let mut out = Vec::with_capacity(n);
    for chunk in pick.chunks(256) {
        let vecs: Vec<Vec<f32>> = chunk
            .iter()
            .map(|&r| seg.segment.vector_f32(r as usize).unwrap_or_default())
            .collect();
        let fq: Vec<FlatQuery<'_>> = vecs.iter().map(|v| FlatQuery::new(v, metric)).collect();
        let mut tops: Vec<TopK> = (0..fq.len()).map(|_| TopK::new(positives + 1)).collect();
        scan_segment_batch(&fq, 0, rows, norms, |r| !seg.is_live(r), &mut tops, &by_row);
        for ((top, &row), vector) in tops.into_iter().zip(chunk).zip(&vecs) {
            let pos: Vec<u32> = top
                .into_sorted(&by_row)
                .into_iter()
                .map(|c| c.row)
                .filter(|&r| r != row)
                .take(positives)
                .collect();
            out.push(TuneQuery {
                vector: query_vector(vector.clone(), metric),
                positives: pos,
                exclude: Some(row),
            });
        }
    }
    out
}

fn given(seg: &SnapshotSegment, metric: Metric, list: &[(Vec<f32>, Vec<Key>)]) -> Vec<TuneQuery> {
    let mut rows: HashMap<Key, u32> = HashMap::new();
    for r in 0..seg.meta.rows as u32 {
        if seg.is_live(r)
            && let Some(k) = seg.segment.key(r as usize)
        {
            rows.insert(k, r);
        }
    }
    list.iter()
        .map(|(v, keys)| TuneQuery {
            vector: query_vector(v.clone(), metric),
            positives: keys.iter().filter_map(|k| rows.get(k).copied()).collect(),
            exclude: None,
        })
        .collect()
}

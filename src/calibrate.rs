//! Calibrated relevance cut-offs: a query-dependent, monotone mapping of raw scores to the
//! probability that a hit is relevant, fitted on judged queries, so one global threshold on
//! the probability returns "what is relevant" instead of a fixed number of hits.
//!
//! A hit with raw score `s` in a query whose ranked scores are `s_1 ≥ s_2 ≥ …` (mean `μ`,
//! standard deviation `σ` over the ranked list) gets
//!
//! ```text
//! p = sigmoid(b + w_0·s + w_1·(s − s_1) + w_2·(s − μ)/σ + v_0·s_1 + v_1·σ + v_2·(s_1 − s_2))
//! ```
//!
//! (each feature standardised with the training data's mean and spread). The first three
//! features grow with `s` and their weights are kept non-negative, so within one query `p`
//! never decreases as the score grows: the ranking is unchanged and a threshold on `p` cuts
//! a prefix of it. The last three describe the query's own score distribution (how strong its
//! best hit is, how spread out and how separated its scores are) and shift the curve per
//! query, which a threshold on raw scores cannot do. Fitting is logistic regression (mean
//! cross-entropy plus a small L2 penalty, full-batch Adam, the constrained weights projected
//! to ≥ 0 after each step).

use crate::error::{Error, Result};
use crate::format::{ByteReader, ByteWriter};

/// Features per hit.
const NF: usize = 6;
/// Features whose weight must stay non-negative (they grow with the hit's score).
const MONOTONE: usize = 3;

/// A fitted mapping from a query's raw scores to probabilities of relevance.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    mean: [f32; NF],
    scale: [f32; NF],
    weights: [f32; NF],
    bias: f32,
    /// The probability threshold with the best mean F1 on the training queries.
    pub threshold: f32,
    /// Hits per ranking the features are computed over (the longest training ranking): a
    /// query asking for a cut-off ranks this many before computing probabilities.
    pub depth: u32,
    /// Hits a cut-off keeps whatever their probability (0 or 1 in practice): with 1 a result
    /// that has hits is never emptied.
    pub min_hits: u32,
}

/// One training query: its ranked raw scores (best first) and which hits are relevant, and
/// how many relevant documents it has in all (for recall).
#[derive(Debug, Clone, PartialEq)]
pub struct JudgedRanking {
    /// Raw scores, best first.
    pub scores: Vec<f32>,
    /// Whether each hit is relevant.
    pub relevant: Vec<bool>,
    /// Relevant documents of the query (found or not).
    pub total_relevant: usize,
}

/// The features of every hit of one ranking.
fn features(scores: &[f32]) -> Vec<[f32; NF]> {
    let n = scores.len();
    if n == 0 {
        return Vec::new();
    }
    let s1 = scores.first().copied().unwrap_or(0.0);
    let s2 = scores.get(1).copied().unwrap_or(s1);
    let mean = scores.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64;
    let var = scores
        .iter()
        .map(|&x| (f64::from(x) - mean).powi(2))
        .sum::<f64>()
        / n as f64;
    let sd = var.sqrt().max(1e-9);
    scores
        .iter()
        .map(|&s| {
            [
                s,
                s - s1,
                ((f64::from(s) - mean) / sd) as f32,
                s1,
                sd as f32,
                s1 - s2,
            ]
        })
        .collect()
}

/// `(f − mean) / scale`, feature by feature.
fn standardize(f: &[f32; NF], mean: &[f32; NF], scale: &[f32; NF]) -> [f32; NF] {
    let mut out = [0f32; NF];
    for (((o, &v), &m), &s) in out.iter_mut().zip(f).zip(mean).zip(scale) {
        *o = (v - m) / s;
    }
    out
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Mean F1 over `queries` of the prefixes `cut(q)` (hits kept per query). An empty result has
/// precision 0 and so F1 0; a query without relevant documents is skipped.
pub fn mean_f1(queries: &[JudgedRanking], cut: impl Fn(usize) -> usize) -> (f64, f64, f64, f64) {
    let (mut f, mut p, mut r, mut kept, mut n) = (0.0, 0.0, 0.0, 0.0, 0usize);
    for (i, q) in queries.iter().enumerate() {
        if q.total_relevant == 0 {
            continue;
        }
        let k = cut(i).min(q.relevant.len());
        let hits = q.relevant.iter().take(k).filter(|&&x| x).count() as f64;
        let prec = if k == 0 { 0.0 } else { hits / k as f64 };
        let rec = hits / q.total_relevant as f64;
        f += if prec + rec > 0.0 {
            2.0 * prec * rec / (prec + rec)
        } else {
            0.0
        };
        p += prec;
        r += rec;
        kept += k as f64;
        n += 1;
    }
    let n = n.max(1) as f64;
    (f / n, p / n, r / n, kept / n)
}

/// How many leading values of a non-increasing list reach `t`: at least `min_hits` (of those
/// there are).
pub fn prefix_at(values: &[f32], t: f32, min_hits: usize) -> usize {
    values
        .iter()
        .take_while(|&&x| x >= t)
        .count()
        .max(min_hits)
        .min(values.len())
}

/// The global threshold with the best mean F1 over `queries` when each ranking is cut where
/// its `values` (one non-increasing list per query: probabilities, or raw scores) fall below
/// it, keeping at least `min_hits`. The candidates are the values themselves, about 2,000 of
/// them evenly spread over their sorted order.
pub fn best_threshold(queries: &[JudgedRanking], values: &[Vec<f32>], min_hits: usize) -> f32 {
    let mut cands: Vec<f32> = values.iter().flatten().copied().collect();
    cands.sort_by(|a, b| a.total_cmp(b));
    cands.dedup();
    let step = (cands.len() / 2000).max(1);
    let mut best = (f64::NEG_INFINITY, f32::INFINITY);
    for &t in cands.iter().step_by(step) {
        let f = mean_f1(queries, |i| {
            values.get(i).map_or(0, |v| prefix_at(v, t, min_hits))
        })
        .0;
        if f > best.0 {
            best = (f, t);
        }
    }
    best.1
}

impl Calibration {
    /// Fits the mapping on judged rankings and picks the threshold with the best mean F1 on
    /// them, for cut-offs that keep at least `min_hits` hits.
    ///
    /// Errors (`InvalidArgument`): no hit at all, or no relevant hit, or a score that is not
    /// finite.
    pub fn fit(queries: &[JudgedRanking], min_hits: u32) -> Result<Calibration> {
        let mut x: Vec<[f32; NF]> = Vec::new();
        let mut y: Vec<f32> = Vec::new();
        for q in queries {
            if q.scores.iter().any(|s| !s.is_finite()) {
                return Err(Error::InvalidArgument(
                    "a training score is not finite".into(),
                ));
            }
            x.extend(features(&q.scores));
            y.extend(
                q.relevant
                    .iter()
                    .take(q.scores.len())
                    .map(|&r| f32::from(u8::from(r))),
            );
        }
        x.truncate(y.len());
        let positives = y.iter().filter(|&&v| v > 0.5).count();
        if x.is_empty() || positives == 0 {
            return Err(Error::InvalidArgument(
                "calibration needs judged hits, at least one of them relevant".into(),
            ));
        }
        let n = x.len() as f64;
        let mut mean = [0f32; NF];
        let mut scale = [1f32; NF];
        for (k, (m_out, s_out)) in mean.iter_mut().zip(scale.iter_mut()).enumerate() {
            let col = || {
                x.iter()
                    .map(move |f| f64::from(f.get(k).copied().unwrap_or(0.0)))
            };
            let m = col().sum::<f64>() / n;
            let v = col().map(|c| (c - m).powi(2)).sum::<f64>() / n;
            *m_out = m as f32;
            *s_out = if v > 1e-18 { v.sqrt() as f32 } else { 1.0 };
        }
        let z: Vec<[f32; NF]> = x.iter().map(|f| standardize(f, &mean, &scale)).collect();
        // Full-batch Adam on the mean cross-entropy with a small L2 penalty; `theta` holds
        // the weights, then the bias.
        let prior = (positives as f64 / n).clamp(1e-6, 1.0 - 1e-6);
        let mut weights = [0f64; NF];
        let mut bias = (prior / (1.0 - prior)).ln();
        let (mut m1, mut m2) = ([0f64; NF + 1], [0f64; NF + 1]);
        const L2: f64 = 1e-4;
        const LR: f64 = 0.05;
        for t in 1..=400 {
            let mut gw = [0f64; NF];
            let mut gb = 0f64;
            for (f, &label) in z.iter().zip(&y) {
                let a = bias
                    + weights
                        .iter()
                        .zip(f)
                        .map(|(w, &v)| w * f64::from(v))
                        .sum::<f64>();
                let d = 1.0 / (1.0 + (-a).exp()) - f64::from(label);
                for (g, &v) in gw.iter_mut().zip(f) {
                    *g += d * f64::from(v);
                }
                gb += d;
            }
            let grads: Vec<f64> = gw
                .iter()
                .zip(&weights)
                .map(|(g, w)| g / n + L2 * w)
                .chain(std::iter::once(gb / n))
                .collect();
            let params = weights.iter_mut().chain(std::iter::once(&mut bias));
            for (((g, p), m), v) in grads.into_iter().zip(params).zip(&mut m1).zip(&mut m2) {
                *m = 0.9 * *m + 0.1 * g;
                *v = 0.999 * *v + 0.001 * g * g;
                let mh = *m / (1.0 - 0.9f64.powi(t));
                let vh = *v / (1.0 - 0.999f64.powi(t));
                *p -= LR * mh / (vh.sqrt() + 1e-12);
            }
            for w in weights.iter_mut().take(MONOTONE) {
                *w = w.max(0.0);
            }
        }
        let mut cal = Calibration {
            mean,
            scale,
            weights: weights.map(|w| w as f32),
            bias: bias as f32,
            threshold: 0.5,
            depth: u32::try_from(queries.iter().map(|q| q.scores.len()).max().unwrap_or(0))
                .unwrap_or(u32::MAX),
            min_hits,
        };
        // The threshold: the training hit probability with the best mean F1.
        let probs: Vec<Vec<f32>> = queries
            .iter()
            .map(|q| cal.probabilities(&q.scores))
            .collect();
        cal.threshold = best_threshold(queries, &probs, min_hits as usize);
        Ok(cal)
    }

    /// The probability of relevance of each hit of one query's ranking (raw scores, best
    /// first); non-increasing along the ranking.
    pub fn probabilities(&self, scores: &[f32]) -> Vec<f32> {
        features(scores)
            .iter()
            .map(|f| {
                let z = standardize(f, &self.mean, &self.scale);
                let a: f32 = self.weights.iter().zip(&z).map(|(w, v)| w * v).sum();
                sigmoid(self.bias + a)
            })
            .collect()
    }

    /// How many leading hits of a ranking a cut-off at probability `min` keeps: those that
    /// reach it, and at least `min_hits` (of those there are).
    pub fn cut(&self, scores: &[f32], min: f32) -> usize {
        prefix_at(&self.probabilities(scores), min, self.min_hits as usize)
    }

    /// Appends the encoding (docs/FORMAT.md, "Model body").
    pub fn encode_to(&self, w: &mut ByteWriter) {
        for v in self.mean.iter().chain(&self.scale).chain(&self.weights) {
            w.f32(*v);
        }
        w.f32(self.bias);
        w.f32(self.threshold);
        w.u32(self.depth);
        w.u32(self.min_hits);
    }

    /// Decodes and checks a calibration.
    pub fn decode_from(r: &mut ByteReader<'_>) -> Result<Calibration> {
        let v = r.f32_vec(3 * NF + 2, "calibration")?;
        if v.iter().any(|x| !x.is_finite()) {
            return Err(r.corrupt("a calibration value is not finite"));
        }
        let get = |i: usize| v.get(i).copied().unwrap_or(0.0);
        let cal = Calibration {
            mean: std::array::from_fn(get),
            scale: std::array::from_fn(|k| get(NF + k)),
            weights: std::array::from_fn(|k| get(2 * NF + k)),
            bias: get(3 * NF),
            threshold: get(3 * NF + 1),
            depth: r.u32("calibration depth")?,
            min_hits: r.u32("calibration minimum hits")?,
        };
        if cal.scale.iter().any(|&s| s <= 0.0)
            || cal.weights.iter().take(MONOTONE).any(|&w| w < 0.0)
        {
            return Err(
                r.corrupt("calibration scales must be positive and score weights non-negative")
            );
        }
        Ok(cal)
    }
}

#[cfg(test)]
mod tests;

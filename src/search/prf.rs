//! Pseudo-relevance feedback for dense queries (Rocchio): the query vector moves towards the
//! mean of the vectors of its own top documents, `q' = α·q + β·mean(top m)`, and is searched
//! again. The feedback vectors are the documents' full-precision vectors read from the segment
//! (the disk tier), never their quantized codes. Off unless a query asks for it.
//!
//! For cosine the query and each feedback vector are unit-normalised first, so α and β weigh
//! directions; for dot and L2 they are used as stored.

use crate::error::{Error, Result};
use crate::search::query::DocAddress;
use crate::txn::Snapshot;
use crate::types::Metric;

/// Rocchio feedback parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Rocchio {
    /// Weight of the original query.
    pub alpha: f32,
    /// Weight of the mean feedback vector.
    pub beta: f32,
    /// Feedback documents: the first-round top `docs`.
    pub docs: usize,
}

impl Default for Rocchio {
    /// α 0.4, β 0.6, 3 feedback documents (the usual starting point; not tuned here).
    fn default() -> Self {
        Rocchio {
            alpha: 0.4,
            beta: 0.6,
            docs: 3,
        }
    }
}

impl Rocchio {
    /// Feedback with explicit parameters.
    pub fn new(alpha: f32, beta: f32, docs: usize) -> Rocchio {
        Rocchio { alpha, beta, docs }
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        if !(self.alpha.is_finite()
            && self.beta.is_finite()
            && self.alpha >= 0.0
            && self.beta >= 0.0)
        {
            return Err(Error::InvalidArgument(format!(
                "Rocchio weights must be finite and ≥ 0, not α {} β {}",
                self.alpha, self.beta
            )));
        }
        Ok(())
    }
}

fn unit(v: &[f32]) -> Vec<f32> {
    let n = v
        .iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt();
    if n > 0.0 {
        v.iter().map(|x| (f64::from(*x) / n) as f32).collect()
    } else {
        v.to_vec()
    }
}

impl Snapshot {
    /// The Rocchio-expanded query vector for `query` given the addresses of its feedback
    /// documents (best first; at most `r.docs` are used).
    pub(crate) fn rocchio(
        &self,
        query: &[f32],
        metric: Metric,
        feedback: &[DocAddress],
        r: &Rocchio,
    ) -> Result<Vec<f32>> {
        let cos = metric == Metric::Cosine;
        let q = if cos { unit(query) } else { query.to_vec() };
        let mut mean = vec![0.0f64; q.len()];
        let mut used = 0usize;
        for a in feedback.iter().take(r.docs) {
            let s = self
                .segments()
                .iter()
                .find(|s| s.meta.id == a.segment)
                .ok_or_else(|| {
                    Error::InvalidArgument(format!("segment {} is not in this snapshot", a.segment))
                })?;
            let Some(v) = s.segment.vector_f32(a.row as usize) else {
                continue;
            };
            let v = if cos { unit(&v) } else { v };
            for (m, x) in mean.iter_mut().zip(&v) {
                *m += f64::from(*x);
            }
            used += 1;
        }
        if used == 0 {
            return Ok(q);
        }
        let (alpha, beta) = (f64::from(r.alpha), f64::from(r.beta));
        Ok(q.iter()
            .zip(&mean)
            .map(|(x, m)| (alpha * f64::from(*x) + beta * m / used as f64) as f32)
            .collect())
    }
}

/// RM3 feedback parameters for text queries: the top `docs` documents of a first BM25 round
/// give a relevance model (each document's term distribution weighted by its normalised
/// score); its best `terms` terms, mixed with the original query at `original_weight`, form the
/// query searched again.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Rm3 {
    /// Feedback documents.
    pub docs: usize,
    /// Expansion terms kept.
    pub terms: usize,
    /// Weight of the original query's term distribution (the expansion gets the rest).
    pub original_weight: f32,
}

impl Default for Rm3 {
    /// 10 documents, 10 terms, original weight 0.5 (the usual starting point; not tuned here).
    fn default() -> Self {
        Rm3 {
            docs: 10,
            terms: 10,
            original_weight: 0.5,
        }
    }
}

impl Rm3 {
    /// Feedback with explicit parameters.
    pub fn new(docs: usize, terms: usize, original_weight: f32) -> Rm3 {
        Rm3 {
            docs,
            terms,
            original_weight,
        }
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        if !(self.original_weight.is_finite() && (0.0..=1.0).contains(&self.original_weight)) {
            return Err(Error::InvalidArgument(format!(
                "RM3 original weight must be in [0, 1], not {}",
                self.original_weight
            )));
        }
        Ok(())
    }
}

/// The RM3 query: `original` (analyzed query terms, repeats counted) and the feedback
/// documents as (first-round score, analyzed terms) give term weights
/// `λ·P(w|q) + (1 − λ)·P(w|R)`, where `P(w|R)` is `Σ_D P(D)·tf(w, D)/|D|` over the feedback
/// documents (`P(D)` their scores normalised to sum 1) restricted to its best `p.terms` terms
/// (ties by term) and renormalised. Sorted by term.
pub(crate) fn rm3_weights(
    original: &[String],
    feedback: &[(f32, Vec<String>)],
    p: &Rm3,
) -> Vec<(String, f32)> {
    use std::collections::BTreeMap;
    let lambda = f64::from(p.original_weight);
    let mut out: BTreeMap<String, f64> = BTreeMap::new();
    for t in original {
        *out.entry(t.clone()).or_default() += lambda / original.len() as f64;
    }
    let total: f64 = feedback
        .iter()
        .map(|(s, _)| f64::from(s.max(0.0)))
        .sum::<f64>();
    let mut model: BTreeMap<&str, f64> = BTreeMap::new();
    for (score, terms) in feedback {
        if total <= 0.0 || terms.is_empty() {
            continue;
        }
        let pd = f64::from(score.max(0.0)) / total;
        for t in terms {
            *model.entry(t.as_str()).or_default() += pd / terms.len() as f64;
        }
    }
    let mut best: Vec<(&str, f64)> = model.into_iter().collect();
    best.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    best.truncate(p.terms);
    let mass: f64 = best.iter().map(|(_, w)| w).sum();
    if mass > 0.0 {
        for (t, w) in best {
            *out.entry(t.to_owned()).or_default() += (1.0 - lambda) * w / mass;
        }
    }
    out.into_iter()
        .filter(|(_, w)| *w > 0.0)
        .map(|(t, w)| (t, w as f32))
        .collect()
}

impl Snapshot {
    /// The RM3-expanded weighted terms for `text` over `fields` (empty: every text field),
    /// from the first-round `hits` (best first): the feedback documents' text is read from
    /// their stored fields and analyzed by each field's analyzer, so the searched fields must
    /// be stored.
    pub(crate) fn rm3_query(
        &self,
        text: &str,
        fields: &[String],
        hits: &[crate::search::text::TextHit],
        p: &Rm3,
    ) -> Result<Vec<(String, f32)>> {
        use crate::text::Analyzer;
        let schema = self.schema();
        let searched: Vec<_> = schema
            .text_fields()
            .into_iter()
            .filter(|f| fields.is_empty() || fields.iter().any(|n| n == f.name))
            .collect();
        if let Some(f) = searched.iter().find(|f| !f.stored) {
            return Err(Error::InvalidArgument(format!(
                "RM3 feedback reads the feedback documents' text, but text field {} is not stored",
                f.name
            )));
        }
        let analyzers: Vec<(&str, Analyzer)> = searched
            .iter()
            .map(|f| (f.name, Analyzer::new(f.analyzer)))
            .collect();
        let mut original = Vec::new();
        if let Some((_, a)) = analyzers.first() {
            a.for_each_term(text, |t| original.push(t.to_owned()));
        }
        let mut feedback = Vec::new();
        for h in hits.iter().take(p.docs) {
            let address = DocAddress {
                segment: h.segment,
                row: h.row,
            };
            let mut terms = Vec::new();
            for (name, value) in self.stored_fields(&address)? {
                if let Some((_, a)) = analyzers.iter().find(|(n, _)| *n == name) {
                    a.for_each_term(&value, |t| terms.push(t.to_owned()));
                }
            }
            feedback.push((h.score, terms));
        }
        Ok(rm3_weights(&original, &feedback, p))
    }
}

#[cfg(test)]
mod rm3_tests {
    use super::*;

    #[test]
    fn rm3_weights_by_hand() {
        // Query "a b"; feedback docs: score 3 with terms a a c d, score 1 with terms c e.
        // P(D1) = 0.75, P(D2) = 0.25.
        // P(w|R): a 0.75·2/4 = 0.375, c 0.75·1/4 + 0.25·1/2 = 0.3125, d 0.1875, e 0.125.
        // Keep 2 terms: a 0.375, c 0.3125 → renormalised 0.5454…, 0.4545….
        // λ 0.5: a 0.25 + 0.5·0.5454… = 0.52272…, b 0.25, c 0.5·0.4545… = 0.22727….
        let s = |v: &[&str]| v.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        let got = rm3_weights(
            &s(&["a", "b"]),
            &[(3.0, s(&["a", "a", "c", "d"])), (1.0, s(&["c", "e"]))],
            &Rm3::new(2, 2, 0.5),
        );
        let want = [
            ("a", 0.25 + 0.5 * 6.0 / 11.0),
            ("b", 0.25),
            ("c", 0.5 * 5.0 / 11.0),
        ];
        assert_eq!(got.len(), want.len(), "{got:?}");
        for ((t, w), (wt, ww)) in got.iter().zip(want) {
            assert_eq!(t, wt);
            assert!((f64::from(*w) - ww).abs() < 1e-6, "{t}: {w} vs {ww}");
        }
        // λ 1 keeps the original query only; no feedback gives the original alone.
        let only = rm3_weights(
            &s(&["a", "b", "a"]),
            &[(1.0, s(&["z"]))],
            &Rm3::new(1, 5, 1.0),
        );
        assert_eq!(only.len(), 2);
        assert!((only[0].1 - 2.0 / 3.0).abs() < 1e-6);
        let none = rm3_weights(&s(&["a"]), &[], &Rm3::default());
        assert_eq!(none, vec![("a".to_owned(), 0.5)]);
    }
}

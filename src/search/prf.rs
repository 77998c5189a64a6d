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

//! Score fusion: how the ranked candidate lists of several sources (dense, BM25, sparse) become
//! one score per document.
//!
//! Every method works on lists that are already ranked best first with scores where higher is
//! better. Each method maps a list to one contribution per entry; a document's fused score is
//! the weighted sum of its contributions over the lists that hold it. A document missing from a
//! list gets that list's `absent` value:
//!
//! - **RRF** (reciprocal rank fusion): contribution `1 / (k + rank)`, rank counted from 1;
//!   absent: 0. Uses ranks only, so scores on different scales need no calibration.
//! - **Convex** combination of normalised scores, weights scaled to sum to 1:
//!   - min-max: `(s − min) / (max − min)` (all 1 when every score is equal); absent: 0;
//!   - z-score: `(s − mean) / σ` (all 0 when σ = 0); absent: the list's lowest value, since a
//!     document the source did not return ranked below everything it did return.
//! - **DBSF** (distribution-based score fusion): min-max with the limits `mean − 3σ` and
//!   `mean + 3σ` of the list's own scores (all 0.5 when σ = 0), then a weighted sum; absent: 0.
//!
//! Means and σ (population standard deviation) are computed in f64 over the list as returned.

use crate::error::{Error, Result};

/// How to normalise a source's scores before a convex combination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Normalization {
    /// `(s − min) / (max − min)`.
    MinMax,
    /// `(s − mean) / σ`.
    ZScore,
}

/// A fusion method.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum FusionMethod {
    /// Reciprocal rank fusion with constant `k` (60 by default).
    Rrf {
        /// The rank offset: larger values flatten the difference between top ranks.
        k: f32,
    },
    /// A weighted mean of normalised scores.
    Convex(Normalization),
    /// Distribution-based score fusion (mean ± 3σ normalisation, then a weighted sum).
    Dbsf,
}

impl FusionMethod {
    /// The short name used by the command line and in reports (`rrf`, `minmax`, `zscore`,
    /// `dbsf`).
    pub fn name(&self) -> &'static str {
        match self {
            FusionMethod::Rrf { .. } => "rrf",
            FusionMethod::Convex(Normalization::MinMax) => "minmax",
            FusionMethod::Convex(Normalization::ZScore) => "zscore",
            FusionMethod::Dbsf => "dbsf",
        }
    }

    /// Checks the method's parameters.
    pub fn validate(&self) -> Result<()> {
        match self {
            FusionMethod::Rrf { k } if !k.is_finite() || *k < 0.0 => Err(Error::InvalidArgument(
                format!("the RRF constant k must be finite and ≥ 0, not {k}"),
            )),
            _ => Ok(()),
        }
    }
}

impl Default for FusionMethod {
    fn default() -> Self {
        FusionMethod::Rrf { k: 60.0 }
    }
}

/// One source's contributions: per entry of its ranked list, and for documents it lacks.
#[derive(Debug, Clone, PartialEq)]
pub struct Contributions {
    /// The contribution of the list's entry at each position (before weighting).
    pub present: Vec<f64>,
    /// The contribution of a document the list does not hold.
    pub absent: f64,
}

/// Mean and population standard deviation of `scores` (0, 0 when empty).
fn mean_std(scores: &[f32]) -> (f64, f64) {
    if scores.is_empty() {
        return (0.0, 0.0);
    }
    let n = scores.len() as f64;
    let mean = scores.iter().map(|&s| f64::from(s)).sum::<f64>() / n;
    let var = scores
        .iter()
        .map(|&s| (f64::from(s) - mean).powi(2))
        .sum::<f64>()
        / n;
    (mean, var.sqrt())
}

/// The contributions of one ranked list (best first, higher scores better) under `method`.
pub fn contributions(method: &FusionMethod, scores: &[f32]) -> Contributions {
    match method {
        FusionMethod::Rrf { k } => Contributions {
            present: (1..=scores.len())
                .map(|rank| 1.0 / (f64::from(*k) + rank as f64))
                .collect(),
            absent: 0.0,
        },
        FusionMethod::Convex(Normalization::MinMax) => {
            let min = scores.iter().copied().fold(f32::INFINITY, f32::min);
            let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let span = f64::from(max) - f64::from(min);
            let present = scores
                .iter()
                .map(|&s| {
                    if span > 0.0 {
                        (f64::from(s) - f64::from(min)) / span
                    } else {
                        1.0
                    }
                })
                .collect();
            Contributions {
                present,
                absent: 0.0,
            }
        }
        FusionMethod::Convex(Normalization::ZScore) => {
            let (mean, sd) = mean_std(scores);
            let present: Vec<f64> = scores
                .iter()
                .map(|&s| {
                    if sd > 0.0 {
                        (f64::from(s) - mean) / sd
                    } else {
                        0.0
                    }
                })
                .collect();
            let absent = present.iter().copied().fold(0.0f64, f64::min);
            Contributions { present, absent }
        }
        FusionMethod::Dbsf => {
            let (mean, sd) = mean_std(scores);
            let present = scores
                .iter()
                .map(|&s| {
                    if sd > 0.0 {
                        (f64::from(s) - (mean - 3.0 * sd)) / (6.0 * sd)
                    } else {
                        0.5
                    }
                })
                .collect();
            Contributions {
                present,
                absent: 0.0,
            }
        }
    }
}

/// The weights actually applied to each source's contributions: as given, except that a
/// convex combination scales them to sum to 1 (all-zero weights stay zero).
pub fn effective_weights(method: &FusionMethod, weights: &[f32]) -> Vec<f64> {
    let w: Vec<f64> = weights.iter().map(|&x| f64::from(x)).collect();
    match method {
        FusionMethod::Convex(_) => {
            let sum: f64 = w.iter().sum();
            if sum > 0.0 {
                w.iter().map(|x| x / sum).collect()
            } else {
                w
            }
        }
        _ => w,
    }
}

/// Fuses ranked lists of document ids (each best first, with its scores and weight) into one
/// score per document of `0..n_docs`; documents in no list score 0 under every method but
/// z-score (where they get every list's absent value). Lists are `(weight, ids, scores)`.
pub fn fuse(method: &FusionMethod, n_docs: usize, lists: &[(f32, &[usize], &[f32])]) -> Vec<f64> {
    let weights: Vec<f32> = lists.iter().map(|l| l.0).collect();
    let w = effective_weights(method, &weights);
    let mut out = vec![0.0f64; n_docs];
    for ((_, ids, scores), w) in lists.iter().zip(w) {
        let c = contributions(method, scores);
        let mut seen = vec![false; n_docs];
        for (&id, v) in ids.iter().zip(&c.present) {
            if let (Some(o), Some(s)) = (out.get_mut(id), seen.get_mut(id)) {
                *o += w * v;
                *s = true;
            }
        }
        if c.absent != 0.0 {
            for (o, s) in out.iter_mut().zip(&seen) {
                if !s {
                    *o += w * c.absent;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-9, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn rrf_by_hand() {
        // List A: docs 0, 1, 2; list B: docs 2, 0. k = 60.
        // doc 0: 1/61 + 1/62 = 0.016393443 + 0.016129032 = 0.032522475
        // doc 1: 1/62 = 0.016129032
        // doc 2: 1/63 + 1/61 = 0.015873016 + 0.016393443 = 0.032266459
        let m = FusionMethod::Rrf { k: 60.0 };
        let got = fuse(
            &m,
            3,
            &[
                (1.0, &[0, 1, 2], &[9.0, 5.0, 1.0]),
                (1.0, &[2, 0], &[0.9, 0.8]),
            ],
        );
        close(
            &got,
            &[1.0 / 61.0 + 1.0 / 62.0, 1.0 / 62.0, 1.0 / 63.0 + 1.0 / 61.0],
        );
        // With weight 2 on B, doc 2 overtakes doc 0: 1/63 + 2/61 = 0.048660... > 1/61 + 2/62.
        let got = fuse(
            &m,
            3,
            &[
                (1.0, &[0, 1, 2], &[9.0, 5.0, 1.0]),
                (2.0, &[2, 0], &[0.9, 0.8]),
            ],
        );
        close(
            &got,
            &[1.0 / 61.0 + 2.0 / 62.0, 1.0 / 62.0, 1.0 / 63.0 + 2.0 / 61.0],
        );
    }

    #[test]
    fn min_max_by_hand() {
        // A: scores 10, 6, 2 → 1, 0.5, 0; B: 3, 1 → 1, 0. Weights 1, 3 → 0.25, 0.75.
        // doc 0 (A 1.0, B 0) = 0.25; doc 1 (A 0.5, absent in B) = 0.125;
        // doc 2 (A 0, B 1.0) = 0.75.
        let m = FusionMethod::Convex(Normalization::MinMax);
        let got = fuse(
            &m,
            3,
            &[
                (1.0, &[0, 1, 2], &[10.0, 6.0, 2.0]),
                (3.0, &[2, 0], &[3.0, 1.0]),
            ],
        );
        close(&got, &[0.25, 0.125, 0.75]);
        // Equal scores normalise to 1.
        assert_eq!(
            contributions(&m, &[4.0, 4.0]).present,
            vec![1.0, 1.0],
            "equal scores"
        );
    }

    #[test]
    fn z_score_by_hand() {
        // A: 4, 2, 0: mean 2, σ = sqrt(8/3) = 1.632993; z = 1.224745, 0, −1.224745.
        // B: 5, 1 (docs 2, 3): mean 3, σ 2; z = 1, −1; absent (docs 0, 1): −1.
        // Weights 1, 1 → 0.5 each. doc 0 = 0.5·1.224745 + 0.5·(−1) = 0.112372;
        // doc 1 = 0 + 0.5·(−1) = −0.5; doc 2 = 0.5·(−1.224745) + 0.5·1 = −0.112372;
        // doc 3: absent from A (its lowest, −1.224745) and −1 in B: −1.112372.
        let m = FusionMethod::Convex(Normalization::ZScore);
        let z = 2.0 / (8.0f64 / 3.0).sqrt();
        let got = fuse(
            &m,
            4,
            &[
                (1.0, &[0, 1, 2], &[4.0, 2.0, 0.0]),
                (1.0, &[2, 3], &[5.0, 1.0]),
            ],
        );
        close(&got, &[0.5 * z - 0.5, -0.5, -0.5 * z + 0.5, -0.5 * z - 0.5]);
    }

    #[test]
    fn dbsf_by_hand() {
        // A: 4, 2, 0: mean 2, σ 1.632993; limits 2 ∓ 4.898979; (s − (−2.898979)) / 9.797959:
        // 4 → 0.704124, 2 → 0.5, 0 → 0.295876. B: 5, 1 (docs 2, 3): mean 3, σ 2, limits −3, 9;
        // 5 → 8/12 = 0.666667, 1 → 4/12 = 0.333333. Weights 1 and 2, summed (not scaled).
        let m = FusionMethod::Dbsf;
        let sd = (8.0f64 / 3.0).sqrt();
        let n = |s: f64| (s - (2.0 - 3.0 * sd)) / (6.0 * sd);
        let got = fuse(
            &m,
            4,
            &[
                (1.0, &[0, 1, 2], &[4.0, 2.0, 0.0]),
                (2.0, &[2, 3], &[5.0, 1.0]),
            ],
        );
        close(
            &got,
            &[n(4.0), n(2.0), n(0.0) + 2.0 * 8.0 / 12.0, 2.0 * 4.0 / 12.0],
        );
        assert!((n(4.0) - 0.704124).abs() < 1e-6);
        assert_eq!(contributions(&m, &[1.0, 1.0]).present, vec![0.5, 0.5]);
    }

    #[test]
    fn bad_rrf_constant_is_an_error() {
        assert!(FusionMethod::Rrf { k: -1.0 }.validate().is_err());
        assert!(FusionMethod::Rrf { k: f32::NAN }.validate().is_err());
        assert!(FusionMethod::default().validate().is_ok());
    }
}

//! Filters for `strata bench-ann`: how each filter is made (a seeded random subset of base
//! rows, or a filter expression over keyword attributes stored with the base rows), and the
//! oracle its recall is measured against (the exact
//! top-k over the passing base rows, by brute force).
//!
//! The bench only ever sees a [`strata::Filter`] and its label: the passing base rows are read
//! back from the filter compiled on the searched snapshot, so the oracle does not depend on
//! how the filter was made.

use crate::{CliError, CliResult};
use std::path::Path;
use strata::input::VectorSet;
use strata::{DocFilter, Filter, Key, Metric, Snapshot};

/// A filter to benchmark and the name it is reported under.
pub struct BenchFilter {
    /// What the JSON line says in `filter`.
    pub label: String,
    /// The filter.
    pub filter: Filter,
}

/// The filter of a seeded random `fraction` of the `n` base rows (exactly `round(fraction·n)`
/// rows, chosen by a partial Fisher-Yates shuffle).
pub fn random_subset(n: usize, fraction: f64, seed: u64) -> CliResult<BenchFilter> {
    if !(fraction > 0.0 && fraction <= 1.0) {
        return Err(CliError::Usage(format!(
            "--filter-fraction {fraction}: expected a fraction in (0, 1]"
        )));
    }
    let take = ((fraction * n as f64).round() as usize).clamp(1, n.max(1));
    let mut rows: Vec<u64> = (0..n as u64).collect();
    let mut state = seed;
    for i in 0..take.min(n) {
        let left = (n - i) as u64;
        let j = i + (strata::rng::splitmix64(&mut state) % left) as usize;
        rows.swap(i, j);
    }
    rows.truncate(take);
    Ok(BenchFilter {
        label: format!("random {fraction} (seed {seed})"),
        filter: Filter::Keys(rows.into_iter().map(Key::U64).collect()),
    })
}

/// Reads `--attr NAME=FILE`: a text file of exactly `n` lines, line i = the keyword value of
/// base row i (an empty line: no value).
pub fn read_attr(spec: &str, n: usize) -> CliResult<(String, Vec<String>)> {
    let Some((name, file)) = spec.split_once('=') else {
        return Err(CliError::Usage(format!(
            "--attr {spec}: expected NAME=FILE"
        )));
    };
    let path = Path::new(file);
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::Failed(format!(
            "{}: cannot read attribute file: {e}",
            path.display()
        ))
    })?;
    let values: Vec<String> = text.lines().map(|l| l.trim().to_owned()).collect();
    if values.len() != n {
        return Err(CliError::Failed(format!(
            "{}: {} lines, but the base has {n} rows (one value per base row expected)",
            path.display(),
            values.len()
        )));
    }
    Ok((name.trim().to_owned(), values))
}

/// The base rows (keys are base row numbers) of the documents in `f`, ascending.
pub fn passing_rows(snap: &Snapshot, f: &DocFilter) -> Vec<u32> {
    let mut rows: Vec<u32> = snap
        .segments()
        .iter()
        .flat_map(|s| {
            f.segment(s.meta.id)
                .into_iter()
                .flat_map(|b| b.iter())
                .filter_map(|r| match s.segment.key(r as usize) {
                    Some(Key::U64(k)) => u32::try_from(k).ok(),
                    _ => None,
                })
        })
        .collect();
    rows.sort_unstable();
    rows
}

/// The exact top-`k` base rows among `rows` for each query, best first (ties by row), scored
/// in f32 on the upcast base values with eight accumulators.
pub fn exact_top(
    base: &VectorSet,
    rows: &[u32],
    queries: &[Vec<f32>],
    metric: Metric,
    k: usize,
) -> Vec<Vec<u32>> {
    let dim = base.dim;
    let mut flat = Vec::with_capacity(rows.len() * dim);
    let mut norms = Vec::with_capacity(rows.len());
    for &r in rows {
        let v = base.row_f32(r as usize).unwrap_or_else(|| vec![0.0; dim]);
        norms.push(dot(&v, &v).sqrt());
        flat.extend_from_slice(&v);
    }
    queries
        .iter()
        .map(|q| {
            let qn = dot(q, q).sqrt();
            let mut scored: Vec<(f32, u32)> = flat
                .chunks_exact(dim.max(1))
                .zip(rows.iter().zip(&norms))
                .map(|(v, (&r, &n))| {
                    let s = match metric {
                        Metric::Dot => dot(q, v),
                        Metric::L2 => -l2sq(q, v),
                        Metric::Cosine => {
                            let d = qn * n;
                            if d > 0.0 { dot(q, v) / d } else { 0.0 }
                        }
                    };
                    (s, r)
                })
                .collect();
            let order = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
            if scored.len() > k {
                scored.select_nth_unstable_by(k, order);
                scored.truncate(k);
            }
            scored.sort_by(order);
            scored.into_iter().map(|(_, r)| r).collect()
        })
        .collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for ((s, p), q) in acc.iter_mut().zip(x).zip(y) {
            *s += p * q;
        }
    }
    acc.iter().sum::<f32>() + tail
}

fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    for (x, y) in ca.zip(cb) {
        for ((s, p), q) in acc.iter_mut().zip(x).zip(y) {
            *s += (p - q) * (p - q);
        }
    }
    acc.iter().sum::<f32>() + tail
}

//! Ranking-oriented codebook tuning: the PQ centroids of an index are optimised so that each
//! training query's relevant rows outrank the rows the index currently confuses them with,
//! while every row's codes and list stay as they are (so the tuned codebooks replace the old
//! ones without re-encoding anything).
//!
//! The approximate score of row `d` (codes `k_j`, list `l`) for query `q` is what the scan
//! computes, in floating point:
//!
//! ```text
//! inner product, residual codes:  s_d = <q, c_l> + Σ_j <q_j, C_j[k_j]>
//! L2 (u = q − c_l, or q without residuals):  s_d = −Σ_j ‖u_j − C_j[k_j]‖²
//! ```
//!
//! For a query with relevant rows `P` and candidates `N` (the rows the current codebooks rank
//! highest, relevant ones removed), the loss is the mean over `p ∈ P` of the softmax
//! cross-entropy `−log(e^{s_p/τ} / (e^{s_p/τ} + Σ_{n∈N} e^{s_n/τ}))`. Its gradient with respect
//! to a centroid is a sum over the candidates that use it: `∂s_d/∂C_j[k] = q_j` (inner
//! product) or `2(u_j − C_j[k])` (L2). Candidates are re-mined with the tuned codebooks every
//! epoch; Adam updates the codebooks after each mini-batch; a held-out share of the queries
//! measures recall@10 of the code ranking after every epoch, and the best epoch's codebooks
//! (possibly the untuned ones) are the result.

use super::{IvfPq, IvfScratch};
use crate::dense::flat::{Cand, TopK};
use crate::dense::kernels::fastscan;
use crate::dense::kmeans::par_map;
use crate::dense::pq::ProductQuantizer;
use crate::error::{Error, Result};
use crate::types::Metric;

/// One training query: its vector (normalised already for cosine indexes) and the rows
/// relevant to it. `exclude` is a row never used as a candidate (the query's own row, when
/// the query is a stored vector).
#[derive(Debug, Clone, PartialEq)]
pub struct TuneQuery {
    /// The query vector.
    pub vector: Vec<f32>,
    /// Rows relevant to the query, most relevant first.
    pub positives: Vec<u32>,
    /// A row that is neither a positive nor a negative.
    pub exclude: Option<u32>,
}

/// How a tuning runs.
#[derive(Debug, Clone, PartialEq)]
pub struct TuneConfig {
    /// Passes over the training queries at most.
    pub epochs: usize,
    /// Queries per mini-batch (one Adam step each).
    pub batch: usize,
    /// Hard negatives per query: the best-ranked non-relevant rows of the code ranking.
    pub negatives: usize,
    /// Lists probed when mining candidates and measuring held-out recall.
    pub nprobe: usize,
    /// Adam step size, relative to the root mean square of the untuned codebooks.
    pub learning_rate: f32,
    /// Softmax temperature, relative to the mean spread (standard deviation) of a query's
    /// candidate scores under the untuned codebooks.
    pub temperature: f32,
    /// Share of the queries held out for early stopping (at least one query is held out).
    pub holdout: f64,
    /// Epochs without a better held-out recall before stopping.
    pub patience: usize,
    /// Seeds the held-out split and the order of the queries.
    pub seed: u64,
    /// Worker threads.
    pub threads: usize,
}

impl Default for TuneConfig {
    fn default() -> Self {
        TuneConfig {
            epochs: 10,
            batch: 64,
            negatives: 200,
            nprobe: 32,
            learning_rate: 0.01,
            temperature: 0.3,
            holdout: 0.1,
            patience: 2,
            seed: 0x7e57,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// One epoch's figures (epoch 0: the untuned codebooks, before any step).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochReport {
    /// Epoch number (0 = untuned).
    pub epoch: usize,
    /// Mean training loss over the epoch's steps (for epoch 0, at the untuned codebooks).
    pub loss: f64,
    /// Held-out recall@10 of the code ranking at the end of the epoch.
    pub holdout_recall: f64,
}

/// What a tuning produced.
#[derive(Debug, Clone)]
pub struct TuneOutcome {
    /// The best codebooks by held-out recall (the untuned ones if no epoch beat them).
    pub pq: ProductQuantizer,
    /// Every epoch, epoch 0 first.
    pub epochs: Vec<EpochReport>,
    /// The epoch `pq` comes from.
    pub best_epoch: usize,
    /// Whether the progress callback stopped the tuning.
    pub cancelled: bool,
}

/// Every row's codes (`m` bytes each, row order) and list.
struct RowCodes {
    m: usize,
    codes: Vec<u8>,
    list: Vec<u32>,
}

impl IvfPq {
    /// Every row's codes and list, unpacked from the lists.
    fn unpacked_codes(&self) -> RowCodes {
        let m = self.pq.m;
        let n = self.ids.len();
        let mut codes = vec![0u8; n * m];
        let mut list = vec![0u32; n];
        for l in 0..self.nlist {
            let (first, len, packed) = self.list(l);
            let unpacked;
            let plain: &[u8] = if self.pq.nbits == 4 {
                unpacked = fastscan::unpack4(packed, len, m);
                &unpacked
            } else {
                packed
            };
            for (i, c) in plain.chunks_exact(m.max(1)).take(len).enumerate() {
                let Some(row) = self.ids.get(first + i) else {
                    continue;
                };
                let r = row as usize;
                if let Some(dst) = codes.get_mut(r * m..(r + 1) * m) {
                    dst.copy_from_slice(c);
                }
                if let Some(slot) = list.get_mut(r) {
                    *slot = l as u32;
                }
            }
        }
        RowCodes { m, codes, list }
    }

    /// Every row's list and codes (`m` bytes per row), in row order.
    pub fn row_codes(&self) -> (Vec<u32>, Vec<u8>) {
        let rc = self.unpacked_codes();
        (rc.list, rc.codes)
    }

    /// The codebooks in force.
    pub fn codebooks(&self) -> &ProductQuantizer {
        &self.pq
    }

    /// This index with `pq` in place of its codebooks: the codes and lists stay, so `pq` must
    /// have the same shape (dimension, sub-spaces, bits) and finite values.
    pub fn with_codebooks(&self, pq: ProductQuantizer) -> Result<IvfPq> {
        if pq.dim != self.pq.dim
            || pq.m != self.pq.m
            || pq.nbits != self.pq.nbits
            || pq.codebooks.len() != self.pq.codebooks.len()
        {
            return Err(Error::InvalidArgument(format!(
                "codebooks of shape dim {} m {} nbits {} do not fit an index of dim {} m {} nbits {}",
                pq.dim, pq.m, pq.nbits, self.pq.dim, self.pq.m, self.pq.nbits
            )));
        }
        if pq.codebooks.iter().any(|x| !x.is_finite()) {
            return Err(Error::InvalidArgument(
                "codebooks hold a value that is not finite".into(),
            ));
        }
        let mut out = self.clone();
        out.pq = pq;
        Ok(out)
    }

    /// Tunes the codebooks for ranking `queries` (see the module docs). `progress` sees every
    /// epoch's report (epoch 0 first) and returns `false` to stop; the best codebooks so far
    /// are returned then.
    ///
    /// Errors (`InvalidArgument`): fewer than two queries with a positive, a query of the
    /// wrong dimension or with a value that is not finite, a positive beyond the rows, a
    /// zero batch, epoch count or thread count.
    pub fn tune_codebooks(
        &self,
        queries: &[TuneQuery],
        cfg: &TuneConfig,
        progress: &mut dyn FnMut(&EpochReport) -> bool,
    ) -> Result<TuneOutcome> {
        let n = self.ids.len();
        for (i, q) in queries.iter().enumerate() {
            if q.vector.len() != self.dim || q.vector.iter().any(|x| !x.is_finite()) {
                return Err(Error::InvalidArgument(format!(
                    "training query {i} has {} values (the index has dimension {}) or a value that is not finite",
                    q.vector.len(),
                    self.dim
                )));
            }
            if let Some(p) = q.positives.iter().find(|&&p| p as usize >= n) {
                return Err(Error::InvalidArgument(format!(
                    "training query {i} names row {p}, beyond the index's {n} rows"
                )));
            }
        }
        if cfg.batch == 0 || cfg.epochs == 0 || cfg.threads == 0 {
            return Err(Error::InvalidArgument(
                "batch, epochs and threads must be positive".into(),
            ));
        }
        let usable: Vec<&TuneQuery> = queries.iter().filter(|q| !q.positives.is_empty()).collect();
        if usable.len() < 2 {
            return Err(Error::InvalidArgument(
                "tuning needs at least two queries with a relevant row".into(),
            ));
        }
        // A seeded shuffle, then the first share is held out.
        let mut order: Vec<usize> = (0..usable.len()).collect();
        let mut s = cfg.seed;
        shuffle(&mut order, &mut s);
        let held = ((usable.len() as f64 * cfg.holdout).round() as usize).clamp(1, usable.len() - 1);
        let (held_idx, train_idx) = order.split_at(held);
        let held: Vec<&TuneQuery> = held_idx.iter().filter_map(|&i| usable.get(i).copied()).collect();
        let train: Vec<&TuneQuery> =
            train_idx.iter().filter_map(|&i| usable.get(i).copied()).collect();

        let rc = self.unpacked_codes();
        let l2 = self.metric == Metric::L2;
        let mut theta = self.pq.codebooks.clone();
        let rms = (theta.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>()
            / theta.len().max(1) as f64)
            .sqrt() as f32;
        let lr = cfg.learning_rate * if rms > 0.0 { rms } else { 1.0 };
        let mut adam = Adam::new(theta.len());

        // Epoch 0: mine with the untuned codebooks, fix the temperature, measure.
        let mut cands = self.mine(&train, cfg);
        let untuned = Scorer::new(self, &self.pq, &rc, l2);
        let pairs: Vec<(&TuneQuery, &Vec<u32>)> = train.iter().copied().zip(&cands).collect();
        let mean = |f: &(dyn Fn(&TuneQuery, &[u32]) -> f64 + Sync)| {
            let parts = par_over(&pairs, cfg.threads, |part| {
                part.iter().map(|(q, c)| f(q, c)).collect()
            });
            parts.iter().sum::<f64>() / parts.len().max(1) as f64
        };
        let spread = mean(&|q, c| f64::from(untuned.spread(&q.vector, c))) as f32;
        let tau = (cfg.temperature * spread).max(f32::MIN_POSITIVE);
        let loss0 = mean(&|q, c| untuned.loss_grad(q, c, tau, None));
        drop(pairs);
        let recall0 = self.holdout_recall(&held, cfg);
        let first = EpochReport {
            epoch: 0,
            loss: loss0,
            holdout_recall: recall0,
        };
        let mut epochs = vec![first];
        let mut best = (recall0, 0usize, self.pq.clone());
        let mut cancelled = !progress(&first);
        let mut stale = 0usize;
        let mut epoch = 0usize;
        while !cancelled && epoch < cfg.epochs && stale <= cfg.patience {
            epoch += 1;
            // One pass in a fresh seeded order.
            let mut perm: Vec<usize> = (0..train.len()).collect();
            shuffle(&mut perm, &mut s);
            let mut loss_sum = 0.0;
            for chunk in perm.chunks(cfg.batch) {
                let pq = ProductQuantizer::from_parts(self.pq.dim, self.pq.m, self.pq.nbits, theta.clone());
                let sc = Scorer::new(self, &pq, &rc, l2);
                let (loss, grad) = sc.batch(chunk, &train, &cands, tau, cfg.threads);
                loss_sum += loss;
                adam.step(&mut theta, &grad, lr, chunk.len());
            }
            let pq = ProductQuantizer::from_parts(self.pq.dim, self.pq.m, self.pq.nbits, theta.clone());
            let current = self.with_codebooks(pq.clone())?;
            let recall = current.holdout_recall(&held, cfg);
            let report = EpochReport {
                epoch,
                loss: loss_sum / train.len() as f64,
                holdout_recall: recall,
            };
            epochs.push(report);
            if recall > best.0 {
                best = (recall, epoch, pq);
                stale = 0;
            } else {
                stale += 1;
            }
            cancelled = !progress(&report);
            if !cancelled && epoch < cfg.epochs {
                // Re-mine with the tuned codebooks; the training order keeps its queries.
                cands = current.mine(&train, cfg);
            }
        }
        Ok(TuneOutcome {
            pq: best.2,
            epochs,
            best_epoch: best.1,
            cancelled,
        })
    }

    /// Each query's candidates under this index's codebooks: the `cfg.negatives` best-ranked
    /// rows that are neither relevant nor excluded.
    fn mine(&self, queries: &[&TuneQuery], cfg: &TuneConfig) -> Vec<Vec<u32>> {
        par_over(queries, cfg.threads, |part| {
            let mut s = IvfScratch::default();
            part.iter()
                .map(|q| {
                    let want = cfg.negatives + q.positives.len() + 1;
                    let top = self.top_rows(&q.vector, cfg.nprobe, want, &mut s);
                    top.into_iter()
                        .filter(|r| !q.positives.contains(r) && Some(*r) != q.exclude)
                        .take(cfg.negatives)
                        .collect()
                })
                .collect()
        })
    }

    /// The `k` best rows of the code ranking for `q` (best first; ties by row).
    fn top_rows(&self, q: &[f32], nprobe: usize, k: usize, s: &mut IvfScratch) -> Vec<u32> {
        let by_row = |a: &Cand, b: &Cand| a.row.cmp(&b.row);
        let mut top = TopK::new(k);
        self.scan(q, nprobe, s, &|_| true, &mut |rank, row| {
            top.push(Cand { rank, seg: 0, row }, &by_row);
            top.threshold()
        });
        top.into_sorted(&by_row).into_iter().map(|c| c.row).collect()
    }

    /// Mean recall@10 of the code ranking over `queries` (relevant rows beyond the first 10
    /// are not counted).
    fn holdout_recall(&self, queries: &[&TuneQuery], cfg: &TuneConfig) -> f64 {
        let parts = par_over(queries, cfg.threads, |part| {
            let mut s = IvfScratch::default();
            part.iter()
                .map(|q| {
                    let top = self.top_rows(&q.vector, cfg.nprobe, 10 + 1, &mut s);
                    let top: Vec<u32> = top.into_iter().filter(|r| Some(*r) != q.exclude).take(10).collect();
                    let want: Vec<u32> = q.positives.iter().copied().take(10).collect();
                    let hit = want.iter().filter(|r| top.contains(r)).count();
                    hit as f64 / want.len().max(1) as f64
                })
                .collect()
        });
        parts.iter().sum::<f64>() / parts.len().max(1) as f64
    }
}

/// Items handed to [`par_map`] in chunks of a fixed size, results concatenated in order: the
/// result (and every sum over it) does not depend on the thread count.
fn par_over<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&[T]) -> Vec<R> + Sync) -> Vec<R> {
    const CHUNK: usize = 8;
    par_map(items.len().div_ceil(CHUNK), threads, |i| {
        f(items.get(i * CHUNK..((i + 1) * CHUNK).min(items.len())).unwrap_or_default())
    })
    .into_iter()
    .flatten()
    .collect()
}

fn shuffle(v: &mut [usize], s: &mut u64) {
    for i in (1..v.len()).rev() {
        let j = (crate::rng::splitmix64(s) % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

/// Scores candidates in floating point and differentiates the loss.
struct Scorer<'a> {
    ivf: &'a IvfPq,
    pq: &'a ProductQuantizer,
    rc: &'a RowCodes,
    l2: bool,
}

impl<'a> Scorer<'a> {
    fn new(ivf: &'a IvfPq, pq: &'a ProductQuantizer, rc: &'a RowCodes, l2: bool) -> Scorer<'a> {
        Scorer { ivf, pq, rc, l2 }
    }

    /// Scores of `rows` for `q`, each row's operand (an index into the returned operands:
    /// the vector its codes are compared with, for the gradient).
    ///
    /// Inner product: one table for the query (`<q_j, C_j[k]>`), plus `<q, c_l>` per list for
    /// residual codes. L2: one table per list of `u = q − c_l` (or one of `q` without
    /// residuals).
    fn scores(&self, q: &[f32], rows: &[u32]) -> (Vec<f32>, Vec<usize>, Vec<Vec<f32>>) {
        let (ksub, m) = (self.pq.ksub, self.rc.m);
        let list_of = |r: u32| {
            if self.ivf.residual {
                self.rc.list.get(r as usize).copied().unwrap_or(0)
            } else {
                0
            }
        };
        let codes_of = |r: u32| {
            self.rc
                .codes
                .get(r as usize * m..(r as usize + 1) * m)
                .unwrap_or_default()
        };
        let mut c = Vec::new();
        let mut out = Vec::with_capacity(rows.len());
        if !self.l2 {
            let mut lut = vec![0.0f32; m * ksub];
            self.pq.lut_ip(q, &mut lut);
            // `<q, c_l>` of each list met so far.
            let mut bases: Vec<(u32, f32)> = Vec::new();
            for &r in rows {
                let l = list_of(r);
                let base = if !self.ivf.residual {
                    0.0
                } else if let Some(&(_, b)) = bases.iter().find(|x| x.0 == l) {
                    b
                } else {
                    self.ivf.coarse.centroid(l as usize, &mut c);
                    let b: f32 = q.iter().zip(&c).map(|(x, y)| x * y).sum();
                    bases.push((l, b));
                    b
                };
                out.push(base + self.pq.adc(&lut, codes_of(r)));
            }
            return (out, vec![0; rows.len()], vec![q.to_vec()]);
        }
        // L2: (list, operand, table) per list met so far.
        let mut ops: Vec<(u32, Vec<f32>, Vec<f32>)> = Vec::new();
        let mut which = Vec::with_capacity(rows.len());
        for &r in rows {
            let l = list_of(r);
            let i = match ops.iter().position(|o| o.0 == l) {
                Some(i) => i,
                None => {
                    let u: Vec<f32> = if self.ivf.residual {
                        self.ivf.coarse.centroid(l as usize, &mut c);
                        q.iter().zip(&c).map(|(x, y)| x - y).collect()
                    } else {
                        q.to_vec()
                    };
                    let mut lut = vec![0.0f32; m * ksub];
                    self.pq.lut_l2(&u, &mut lut);
                    ops.push((l, u, lut));
                    ops.len() - 1
                }
            };
            let adc = ops.get(i).map_or(0.0, |o| self.pq.adc(&o.2, codes_of(r)));
            out.push(-adc);
            which.push(i);
        }
        (out, which, ops.into_iter().map(|o| o.1).collect())
    }

    /// The standard deviation of the candidates' scores (for the temperature).
    fn spread(&self, q: &[f32], cands: &[u32]) -> f32 {
        let (s, _, _) = self.scores(q, cands);
        if s.len() < 2 {
            return 0.0;
        }
        let mean = s.iter().map(|&x| f64::from(x)).sum::<f64>() / s.len() as f64;
        let var = s.iter().map(|&x| (f64::from(x) - mean).powi(2)).sum::<f64>() / s.len() as f64;
        var.sqrt() as f32
    }

    /// The loss of one query over its positives and candidates; adds its gradient with
    /// respect to the codebooks to `grad` when given.
    fn loss_grad(&self, q: &TuneQuery, negs: &[u32], tau: f32, grad: Option<&mut [f32]>) -> f64 {
        let np = q.positives.len();
        if np == 0 {
            return 0.0;
        }
        let mut rows = q.positives.clone();
        rows.extend_from_slice(negs);
        let (s, which, ops) = self.scores(&q.vector, &rows);
        let z: Vec<f64> = s.iter().map(|&x| f64::from(x) / f64::from(tau)).collect();
        let zneg = z.get(np..).unwrap_or_default();
        let max_neg = zneg.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        // dL/ds per row, averaged over the positives.
        let mut w = vec![0.0f64; rows.len()];
        let mut loss = 0.0;
        for p in 0..np {
            let zp = z.get(p).copied().unwrap_or(0.0);
            let mx = zp.max(max_neg);
            let ep = (zp - mx).exp();
            let sum_neg: f64 = zneg.iter().map(|&x| (x - mx).exp()).sum();
            let zsum = ep + sum_neg;
            loss += -(zp - mx) + zsum.ln();
            if let Some(x) = w.get_mut(p) {
                *x += -(1.0 - ep / zsum);
            }
            for (x, &zn) in w.iter_mut().skip(np).zip(zneg) {
                *x += (zn - mx).exp() / zsum;
            }
        }
        let scale = 1.0 / (np as f64 * f64::from(tau));
        let Some(grad) = grad else {
            return loss / np as f64;
        };
        let m = self.rc.m;
        let ksub = self.pq.ksub;
        for ((&r, &wd), &oi) in rows.iter().zip(&w).zip(&which) {
            let wd = (wd * scale) as f32;
            if wd == 0.0 {
                continue;
            }
            let Some(u) = ops.get(oi) else { continue };
            let codes = self.rc.codes.get(r as usize * m..(r as usize + 1) * m).unwrap_or_default();
            for (j, &k) in codes.iter().enumerate() {
                let range = self.pq.sub_range(j);
                let d = range.len();
                let at = ksub * range.start + usize::from(k) * d;
                let (Some(g), Some(uj), Some(cj)) = (
                    grad.get_mut(at..at + d),
                    u.get(range.clone()),
                    self.pq.codebooks.get(at..at + d),
                ) else {
                    continue;
                };
                if self.l2 {
                    for ((g, &x), &c) in g.iter_mut().zip(uj).zip(cj) {
                        *g += wd * 2.0 * (x - c);
                    }
                } else {
                    for (g, &x) in g.iter_mut().zip(uj) {
                        *g += wd * x;
                    }
                }
            }
        }
        loss / np as f64
    }

    /// Summed loss and gradient of the queries `chunk` (indices into `train`).
    fn batch(
        &self,
        chunk: &[usize],
        train: &[&TuneQuery],
        cands: &[Vec<u32>],
        tau: f32,
        threads: usize,
    ) -> (f64, Vec<f32>) {
        let len = self.pq.codebooks.len();
        let parts = par_over(chunk, threads, |part| {
            let mut g = vec![0.0f32; len];
            let mut loss = 0.0;
            for &i in part {
                if let (Some(q), Some(c)) = (train.get(i), cands.get(i)) {
                    loss += self.loss_grad(q, c, tau, Some(&mut g));
                }
            }
            vec![(loss, g)]
        });
        let mut total = vec![0.0f32; len];
        let mut loss = 0.0;
        for (l, g) in parts {
            loss += l;
            total.iter_mut().zip(&g).for_each(|(t, x)| *t += x);
        }
        (loss, total)
    }
}

/// Adam (Kingma and Ba), on the mean gradient of a mini-batch.
struct Adam {
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
}

impl Adam {
    fn new(n: usize) -> Adam {
        Adam {
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        }
    }

    fn step(&mut self, theta: &mut [f32], grad: &[f32], lr: f32, batch: usize) {
        const B1: f32 = 0.9;
        const B2: f32 = 0.999;
        const EPS: f32 = 1e-12;
        self.t += 1;
        let inv = 1.0 / batch.max(1) as f32;
        let c1 = 1.0 - B1.powi(self.t);
        let c2 = 1.0 - B2.powi(self.t);
        for (((x, &g), m), v) in theta.iter_mut().zip(grad).zip(&mut self.m).zip(&mut self.v) {
            let g = g * inv;
            *m = B1 * *m + (1.0 - B1) * g;
            *v = B2 * *v + (1.0 - B2) * g * g;
            *x -= lr * (*m / c1) / ((*v / c2).sqrt() + EPS);
        }
    }
}

#[cfg(test)]
mod tests;

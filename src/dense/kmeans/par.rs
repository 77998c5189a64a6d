//! Scoped-thread helpers and the seeded random generator used by k-means and PQ training.
//!
//! Determinism: every helper cuts the work into chunks whose boundaries depend only on the
//! input size, never on the thread count, and results are combined in chunk order. Threads only
//! decide *who* computes a chunk, so training is bit-identical for any thread count.
//! Scheduling is dynamic (a shared counter or queue), which keeps both cores busy on a noisy
//! shared machine.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs `f(i)` for every chunk index `i` in `0..n_chunks` on up to `threads` scoped threads and
/// returns the results in chunk order. A panic in `f` is propagated to the caller.
pub(crate) fn par_map<R: Send>(
    n_chunks: usize,
    threads: usize,
    f: impl Fn(usize) -> R + Sync,
) -> Vec<R> {
    let threads = threads.clamp(1, n_chunks.max(1));
    if threads == 1 {
        return (0..n_chunks).map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let (f, next) = (&f, &next);
    let mut parts: Vec<(usize, R)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(move || {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n_chunks {
                            break mine;
                        }
                        mine.push((i, f(i)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    parts.sort_unstable_by_key(|&(i, _)| i);
    parts.into_iter().map(|(_, r)| r).collect()
}

/// Calls `f(i, chunk)` for every `chunk` of `out.chunks_mut(chunk_len)` (its index `i`) on up
/// to `threads` scoped threads. A panic in `f` is propagated to the caller.
pub(crate) fn par_chunks_mut<T: Send>(
    out: &mut [T],
    chunk_len: usize,
    threads: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    let chunk_len = chunk_len.max(1);
    let threads = threads.clamp(1, out.len().div_ceil(chunk_len).max(1));
    if threads == 1 {
        for (i, c) in out.chunks_mut(chunk_len).enumerate() {
            f(i, c);
        }
        return;
    }
    let queue = Mutex::new(out.chunks_mut(chunk_len).enumerate());
    let (f, queue) = (&f, &queue);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(move || {
                loop {
                    // A poisoned lock means another worker panicked; the scope re-raises it.
                    let item = match queue.lock() {
                        Ok(mut q) => q.next(),
                        Err(_) => None,
                    };
                    let Some((i, c)) = item else { break };
                    f(i, c);
                }
            });
        }
    });
}

/// SplitMix64: a tiny, seedable, good-enough generator for sampling (not for cryptography).
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator for `seed`; `stream` separates independent uses of the same seed.
    pub(crate) fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        r.next_u64();
        r
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        crate::rng::splitmix64(&mut self.0)
    }

    /// A uniform integer in `0..n` (`0` when `n == 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// A uniform float in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

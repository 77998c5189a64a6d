//! A cache of one segment's BM25 statistics over its live rows under one delete set. The
//! search layer fills it (`search::text`); a snapshot segment owns one, so it lives exactly as
//! long as the delete set it describes.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard};

/// Statistics of one text field: documents that have it and their total length.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FieldStats {
    pub(crate) docs: u64,
    pub(crate) total_len: u64,
}

/// Most (field, term) document frequencies one segment remembers; past it the memo starts
/// over, so a stream of distinct query terms cannot grow it without bound.
pub(crate) const MAX_CACHED_TERMS: usize = 1 << 16;

/// BM25 statistics of one segment's live rows under the snapshot's delete set: per field the
/// live documents and their total length, per query term its live document frequency.
/// Without deletes they are the segment's own counts and nothing is stored; with deletes they
/// are counted on first use (a field by its deleted rows, a term by a walk of its postings) and
/// kept for the life of the snapshot segment, whose delete set never changes.
#[derive(Debug, Default)]
pub(crate) struct LiveStats {
    pub(crate) fields: Mutex<HashMap<u16, FieldStats>>,
    pub(crate) terms: Mutex<TermDfs>,
    /// Postings lists walked to count live rows.
    pub(crate) walks: AtomicU64,
}

/// Live document frequencies by field, then term.
#[derive(Debug, Default)]
pub(crate) struct TermDfs {
    pub(crate) by_field: HashMap<u16, HashMap<String, u64>>,
    pub(crate) len: usize,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl LiveStats {
    /// Drops every cached statistic (tests: the next query counts afresh).
    #[cfg(test)]
    pub(crate) fn forget(&self) {
        lock(&self.fields).clear();
        *lock(&self.terms) = TermDfs::default();
    }
}

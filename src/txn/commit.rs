//! The commit step shared by transactions and merges: the writer's shared state, segment
//! building outside the writer mutex, publishing a manifest (the commit protocol of
//! docs/TRANSACTIONS.md) and garbage collection. `writer` (transactions, recovery), `merge`
//! and `reader` build on it; it imports neither of them.

use super::manifest::{Manifest, manifest_name};
use super::policy::MergePolicy;
use super::snapshot::{PinTable, Pins, SegmentCache, Snapshot};
use crate::error::{Error, Result};
use crate::io::{Directory, write_file_synced};
use crate::schema::Schema;
use crate::segment::{Row, write_segment};
use crate::types::Key;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

/// Where the live key of a document is: segment id and row.
pub(crate) type Addr = (u64, u32);

/// What the writer mutex guards: the committed manifest and the numbers the next commit
/// takes. It is held only to check a commit against the current state, write its deletes and
/// manifest and rename it; segments are built and verified before it is taken.
pub(crate) struct WriterState {
    pub(crate) manifest: Manifest,
    /// The next commit's generation. Never reused within a writer session, even after a
    /// failed commit.
    pub(crate) next_generation: u64,
    /// The next new segment's id; like generations, never reused within a session.
    pub(crate) next_segment_id: u64,
}

/// State shared by the writer handle, its readers and the merge thread.
pub(crate) struct Shared {
    pub(crate) dir: Arc<dyn Directory>,
    /// The schema (fixed for the life of an index).
    pub(crate) schema: Schema,
    pub(crate) state: Mutex<WriterState>,
    /// Where each live key is. Written only while `state` is held (lock order: `state`, then
    /// `keymap`); read on its own by a transaction checking a document.
    pub(crate) keymap: RwLock<HashMap<Key, Addr>>,
    pub(crate) current: RwLock<Snapshot>,
    pub(crate) pins: Arc<PinTable>,
    pub(crate) cache: SegmentCache,
    pub(crate) poisoned: AtomicBool,
    /// Which segments background and explicit merges pick.
    pub(crate) merge_policy: MergePolicy,
}

/// Whether `name` is a file strata writes (and so may remove when unreferenced).
pub(crate) fn is_strata_file(name: &str) -> bool {
    name.starts_with("seg-") || name.starts_with("MANIFEST-") || name.starts_with("model-")
}

pub(crate) fn lock_state(m: &Mutex<WriterState>) -> MutexGuard<'_, WriterState> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `n + 1`, or `Error::Corrupt` naming the manifest when a number read from disk has no
/// successor (a checksum-valid manifest claiming `u64::MAX`): committing past it would write
/// a manifest that cannot be read back.
pub(crate) fn successor(n: u64, what: &str, generation: u64) -> Result<u64> {
    n.checked_add(1).ok_or_else(|| {
        Error::corrupt(
            manifest_name(generation),
            0,
            format!("{what} {n} has no successor: the index cannot take another commit"),
        )
    })
}

impl Shared {
    pub(crate) fn snapshot(&self) -> Snapshot {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether `key` is live in the newest commit.
    pub(crate) fn is_live(&self, key: &Key) -> bool {
        self.keymap
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(key)
    }

    pub(crate) fn check_poisoned(&self) -> Result<()> {
        if self.poisoned.load(Ordering::Acquire) {
            Err(Error::Poisoned)
        } else {
            Ok(())
        }
    }

    /// Takes the next segment id (never reused within this writer session).
    pub(crate) fn allocate_segment_id(&self) -> Result<u64> {
        let mut st = lock_state(&self.state);
        let id = st.next_segment_id;
        st.next_segment_id = successor(id, "next segment id", st.manifest.generation)?;
        Ok(id)
    }

    /// Writes a new segment `id` of `rows` and verifies it by opening it into the segment
    /// cache (reading back every component and its checksum), all without the writer mutex.
    /// The returned pins keep garbage collection away from its files until it is committed,
    /// and the returned segment keeps it in the cache so the commit does not open it again.
    pub(crate) fn build_segment(
        &self,
        id: u64,
        rows: &[Row],
        inverted: Option<Vec<crate::segment::inverted::FieldBuild>>,
    ) -> Result<BuiltSegment> {
        let dir = self.dir.as_ref();
        let planned: Vec<String> = crate::format::FileKind::SEGMENT_FILES
            .iter()
            .map(|k| crate::segment::file_name(id, *k, 0))
            .collect();
        let pins = self.pins.pin(planned);
        // New rows are encoded with the model in force (no training) once the index has one.
        let snap = self.snapshot();
        let meta = write_segment(dir, id, &self.schema, rows, inverted, snap.model())?;
        drop(snap);
        match self.cache.segment(dir, &meta, &self.schema) {
            Ok(segment) => Ok(BuiltSegment {
                meta,
                _segment: segment,
                _pins: pins,
            }),
            Err(e) => {
                for f in meta.files() {
                    let _ = dir.remove(f);
                }
                Err(e)
            }
        }
    }

    /// Commits `m` (whose new component files are already written and fsynced) and
    /// publishes its snapshot. On an error before the rename nothing changed and `new_files`
    /// are removed; from the rename on, the outcome on disk is unknown and the writer is
    /// poisoned.
    pub(crate) fn publish(
        &self,
        st: &mut WriterState,
        mut m: Manifest,
        new_files: &[String],
    ) -> Result<Snapshot> {
        self.check_poisoned()?;
        let dir = self.dir.as_ref();
        m.generation = st.next_generation;
        m.next_segment_id = st.next_segment_id;
        m.index_id = st.manifest.index_id;
        let name = manifest_name(m.generation);
        let tmp = format!("{name}.tmp");
        let mut written = new_files.to_vec();
        let before_rename =
            successor(m.generation, "generation", st.manifest.generation).and_then(|next| {
                st.next_generation = next;
                if let Some(c) = self.adopt_model(&m)? {
                    written.push(c.file.clone());
                    m.model = Some(c);
                }
                dir.sync_dir()
                    .map_err(|e| Error::io("fsync", dir.describe(), e))?;
                write_file_synced(dir, &tmp, &m.to_file_bytes())
                    .map_err(|e| Error::io("write", &tmp, e))
            });
        if let Err(e) = before_rename {
            for f in written.iter().chain(std::iter::once(&tmp)) {
                let _ = dir.remove(f);
            }
            return Err(e);
        }
        let after = (|| -> Result<Snapshot> {
            dir.rename(&tmp, &name)
                .map_err(|e| Error::io("rename", &tmp, e))?;
            dir.sync_dir()
                .map_err(|e| Error::io("fsync", dir.describe(), e))?;
            Snapshot::open(dir, &m, &self.cache, &self.pins)
        })();
        match after {
            Ok(snap) => {
                self.pins.unmark(&m.files());
                st.manifest = m;
                let old = std::mem::replace(
                    &mut *self.current.write().unwrap_or_else(|p| p.into_inner()),
                    snap.clone(),
                );
                // The replaced snapshot's pins go before collecting, so what only it used
                // goes now.
                drop(old);
                // Garbage collection is best effort: a leftover file is removed on next open.
                let _ = self.gc(&st.manifest);
                Ok(snap)
            }
            Err(e) => {
                self.poisoned.store(true, Ordering::Release);
                Err(e)
            }
        }
    }

    /// The model a commit makes the index's first: when `m` has none and the schema has an
    /// IVF-PQ index, the centroids and codebooks of its first segment that trained its own
    /// on at least [`model_rows`](crate::segment::model_rows) rows, written as model
    /// generation `m.generation`. Later segments are encoded with it instead of training.
    fn adopt_model(&self, m: &Manifest) -> Result<Option<crate::segment::ComponentRef>> {
        let crate::schema::DenseIndex::IvfPq(p) = self.schema.dense_index() else {
            return Ok(None);
        };
        if m.model.is_some() {
            return Ok(None);
        }
        let dir = self.dir.as_ref();
        for meta in &m.segments {
            if meta.rows < crate::segment::model_rows(&p) {
                continue;
            }
            let seg = self.cache.segment(dir, meta, &self.schema)?;
            if let Some(ivf) = seg.ivf().filter(|i| i.lineage() != 0) {
                let c = crate::segment::write_model(dir, m.generation, &ivf.model())?;
                return Ok(Some(c));
            }
        }
        Ok(None)
    }

    /// Removes strata files that `m` does not refer to: now if no snapshot pins them, else
    /// when the last pin goes. Returns how many were removed now.
    pub(crate) fn gc(&self, m: &Manifest) -> Result<usize> {
        let keep: HashSet<String> = m.files().into_iter().collect();
        let names = self
            .dir
            .list()
            .map_err(|e| Error::io("list", self.dir.describe(), e))?;
        let mut n = 0;
        for name in names {
            if is_strata_file(&name) && !keep.contains(&name) && self.pins.release_or_defer(&name) {
                self.dir
                    .remove(&name)
                    .map_err(|e| Error::io("remove", &name, e))?;
                n += 1;
            }
        }
        Ok(n)
    }
}

/// A segment written and verified, not yet committed.
pub(crate) struct BuiltSegment {
    pub(crate) meta: crate::segment::SegmentMeta,
    pub(crate) _segment: Arc<crate::segment::Segment>,
    pub(crate) _pins: Pins,
}

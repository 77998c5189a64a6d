//! Merges: the tiered policy, the merge itself, and the background merge thread.
//!
//! A merge copies the live rows of some segments into one new segment without holding the
//! writer state, then commits like any other change: under the state lock it carries over
//! deletes that were committed to the source segments while it ran (mapped to the new rows),
//! swaps the sources for the new segment in a new manifest, and publishes. Readers keep using
//! whatever snapshot they hold; the source files go away once no snapshot pins them.

use super::commit::{Shared, lock_state};
use super::snapshot::SnapshotSegment;
use crate::error::Result;
use crate::schema::Schema;
use crate::segment::inverted::{FieldBuild, merge_field_into};
use crate::segment::{Row, VectorsView, write_deletes};
use crate::types::Vector;
use roaring::RoaringBitmap;
use std::collections::HashMap;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// What a merge writes: the rows, the merged inverted fields, and where each old row went.
type Gathered = (Vec<Row>, Vec<FieldBuild>, HashMap<(u64, u32), u32>);

/// Copies the live rows of `sources` (keys, vectors, stored text, attributes), merges their postings, and
/// records where each row went.
fn gather(
    sources: &[SnapshotSegment],
    schema: &Schema,
    model: Option<&crate::dense::ivf::IvfModel>,
) -> Result<Gathered> {
    let mut rows = Vec::new();
    let mut map = HashMap::new();
    let mut remaps: Vec<Vec<Option<u32>>> = Vec::with_capacity(sources.len());
    let has_dense = schema.dense_field().is_some();
    let stored_fields = schema.stored_fields();
    for s in sources {
        let seg = &s.segment;
        let dim = seg.dim();
        let (view, _) = seg.vectors();
        // Codes of a segment encoded with the model in force are kept as they are.
        let kept = match (model, s.ivf()) {
            (Some(m), Some(ivf)) if ivf.lineage() == m.lineage => Some(ivf.row_codes()),
            _ => None,
        };
        let stored = match seg.stored() {
            Some(st) if !stored_fields.is_empty() => st.all()?,
            _ => Vec::new(),
        };
        let mut remap = vec![None; seg.rows()];
        for row in 0..seg.rows() {
            if !s.is_live(row as u32) {
                continue;
            }
            let Some(key) = seg.key(row) else { continue };
            let span = row * dim..(row + 1) * dim;
            let vector = has_dense.then(|| match view {
                VectorsView::F32(v) => Vector::F32(v.get(span).unwrap_or_default().to_vec()),
                VectorsView::F16(v) => Vector::F16(v.get(span).unwrap_or_default().to_vec()),
            });
            let text = stored_fields
                .iter()
                .copied()
                .zip(stored.get(row).cloned().unwrap_or_default())
                .collect();
            let new = rows.len() as u32;
            map.insert((s.meta.id, row as u32), new);
            if let Some(slot) = remap.get_mut(row) {
                *slot = Some(new);
            }
            let attrs = seg.attrs().map(|a| a.row(row)).unwrap_or_default();
            let codes = kept.as_ref().and_then(|(lists, codes)| {
                let m = codes.len() / lists.len().max(1);
                let l = *lists.get(row)?;
                Some((l, codes.get(row * m..(row + 1) * m)?.to_vec()))
            });
            rows.push(Row {
                key: key.clone(),
                vector,
                text,
                sparse: Vec::new(),
                attrs,
                codes,
            });
        }
        remaps.push(remap);
    }
    let mut fields = Vec::new();
    let mut targets: Vec<FieldBuild> = schema
        .text_fields()
        .iter()
        .map(|f| {
            let mut b = FieldBuild::text(f.index);
            b.lengths = vec![0; rows.len()];
            b
        })
        .collect();
    if let Some((index, _, bits)) = schema.sparse_field() {
        targets.push(FieldBuild::sparse(index, bits));
    }
    for mut target in targets {
        for (s, remap) in sources.iter().zip(&remaps) {
            if let Some(view) = s.segment.inverted().and_then(|inv| inv.field(target.field)) {
                merge_field_into(&mut target, &view, remap)?;
            }
        }
        fields.push(target);
    }
    Ok((rows, fields, map))
}

/// Merges the segments `ids` into one and commits. Returns the new generation, or `None` if
/// the merge no longer applies (a source vanished meanwhile).
pub(crate) fn run_merge(shared: &Arc<Shared>, ids: &[u64]) -> Result<Option<u64>> {
    shared.check_poisoned()?;
    let snap = shared.snapshot();
    let sources: Vec<SnapshotSegment> = snap
        .segments()
        .iter()
        .filter(|s| ids.contains(&s.meta.id))
        .cloned()
        .collect();
    if sources.len() != ids.len() || sources.is_empty() {
        return Ok(None);
    }
    let new_id = shared.allocate_segment_id()?;
    let schema = shared.schema.clone();
    let (rows, fields, map) = gather(&sources, &schema, snap.model())?;
    if rows.is_empty() {
        // Everything was deleted: drop the sources without writing a segment.
        let mut st = lock_state(&shared.state);
        if !ids
            .iter()
            .all(|id| st.manifest.segments.iter().any(|s| s.id == *id))
        {
            return Ok(None);
        }
        let mut m = st.manifest.clone();
        m.segments.retain(|s| !ids.contains(&s.id));
        drop((snap, sources));
        shared.publish(&mut st, m, &[])?;
        return Ok(Some(st.manifest.generation));
    }
    // Written and verified without the writer mutex; pinned until committed.
    let built = shared.build_segment(new_id, &rows, Some(fields))?;
    let dir = shared.dir.as_ref();
    let remove_all = |files: &[String]| {
        for f in files {
            let _ = dir.remove(f);
        }
    };
    let planned: Vec<String> = built.meta.files().map(str::to_owned).collect();
    let mut meta = built.meta.clone();
    let mut st = lock_state(&shared.state);
    if !ids
        .iter()
        .all(|id| st.manifest.segments.iter().any(|s| s.id == *id))
    {
        remove_all(&planned);
        return Ok(None);
    }
    // Deletes committed to the sources since the merge began move to the new rows.
    let now = shared.snapshot();
    let mut late = RoaringBitmap::new();
    for src in &sources {
        let Some(cur) = now.segments().iter().find(|s| s.meta.id == src.meta.id) else {
            continue;
        };
        let Some(cur_del) = &cur.deletes else {
            continue;
        };
        for row in cur_del.bitmap() {
            if src.is_live(row)
                && let Some(&new_row) = map.get(&(src.meta.id, row))
            {
                late.insert(new_row);
            }
        }
    }
    let mut new_files = planned.clone();
    let mut m = st.manifest.clone();
    let gen_ = st.next_generation;
    if !late.is_empty() {
        match write_deletes(dir, new_id, meta.rows, gen_, &late) {
            Ok(c) => {
                new_files.push(c.file.clone());
                meta.deleted = late.len();
                meta.deletes = Some(c);
            }
            Err(e) => {
                remove_all(&new_files);
                return Err(e);
            }
        }
    }
    drop((snap, now, sources));
    let pos = m
        .segments
        .iter()
        .position(|s| ids.contains(&s.id))
        .unwrap_or(0);
    m.segments.retain(|s| !ids.contains(&s.id));
    m.segments.insert(pos.min(m.segments.len()), meta);
    shared.publish(&mut st, m, &new_files)?;
    drop(built);
    let mut keymap = shared.keymap.write().unwrap_or_else(|p| p.into_inner());
    for (row, r) in rows.iter().enumerate() {
        if !late.contains(row as u32) {
            keymap.insert(r.key.clone(), (new_id, row as u32));
        }
    }
    Ok(Some(st.manifest.generation))
}

enum Job {
    Check,
    Stop,
}

#[derive(Default)]
struct Status {
    busy: bool,
    pending: bool,
    error: Option<String>,
}

/// The background merge thread.
pub(crate) struct MergeWorker {
    tx: Sender<Job>,
    handle: Option<JoinHandle<()>>,
    status: Arc<(Mutex<Status>, Condvar)>,
}

impl MergeWorker {
    pub(crate) fn start(shared: Arc<Shared>) -> MergeWorker {
        let (tx, rx): (Sender<Job>, Receiver<Job>) = channel();
        let status: Arc<(Mutex<Status>, Condvar)> = Arc::default();
        let st2 = status.clone();
        let handle = std::thread::Builder::new()
            .name("strata-merge".to_owned())
            .spawn(move || worker_loop(shared, rx, st2))
            .ok();
        MergeWorker { tx, handle, status }
    }

    /// Asks the thread to look for merges (after a commit).
    pub(crate) fn nudge(&self) {
        if self.handle.is_none() {
            return;
        }
        let (m, _) = &*self.status;
        m.lock().unwrap_or_else(|p| p.into_inner()).pending = true;
        let _ = self.tx.send(Job::Check);
    }

    pub(crate) fn wait_idle(&self) {
        let (m, cv) = &*self.status;
        let mut s = m.lock().unwrap_or_else(|p| p.into_inner());
        while s.busy || s.pending {
            s = cv.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    pub(crate) fn take_error(&self) -> Option<String> {
        self.status
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .error
            .take()
    }

    pub(crate) fn stop(mut self) {
        let _ = self.tx.send(Job::Stop);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn worker_loop(shared: Arc<Shared>, rx: Receiver<Job>, status: Arc<(Mutex<Status>, Condvar)>) {
    let (m, cv) = &*status;
    while let Ok(job) = rx.recv() {
        if matches!(job, Job::Stop) {
            break;
        }
        {
            let mut s = m.lock().unwrap_or_else(|p| p.into_inner());
            s.busy = true;
            s.pending = false;
        }
        // Merge until the policy is satisfied (a merge can fill the next tier).
        loop {
            let ids = {
                let st = lock_state(&shared.state);
                shared.merge_policy.pick(&st.manifest.segments)
            };
            let Some(ids) = ids else { break };
            match run_merge(&shared, &ids) {
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(e) => {
                    let mut s = m.lock().unwrap_or_else(|p| p.into_inner());
                    s.error = Some(e.to_string());
                    break;
                }
            }
        }
        let mut s = m.lock().unwrap_or_else(|p| p.into_inner());
        s.busy = false;
        cv.notify_all();
    }
    let mut s = m.lock().unwrap_or_else(|p| p.into_inner());
    s.busy = false;
    s.pending = false;
    cv.notify_all();
}

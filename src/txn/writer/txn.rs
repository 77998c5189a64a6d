//! Write transactions: the checked buffer of adds and deletes ([`Pending`]), the borrowed and
//! owned fronts over it ([`Txn`]), and the commit that publishes them.

use super::super::commit::{Shared, lock_state};
use super::{Document, Index};
use crate::error::{Error, Result};
use crate::segment::{Row, write_deletes};
use crate::types::{AttrKind, AttrValue, Key};
use std::collections::{BTreeMap, HashMap, HashSet};

/// A write transaction: buffered adds and deletes that become visible atomically at
/// `commit`. Dropping it without committing discards everything. It holds its [`Index`] as
/// `I`: borrowed ([`WriteTxn`], from [`Index::begin`]) or owned ([`OwnedTxn`], from
/// [`Index::into_txn`]); either way one transaction at a time.
pub struct Txn<I> {
    index: I,
    pending: Pending,
}

/// A transaction that borrows its index ([`Index::begin`]).
pub type WriteTxn<'a> = Txn<&'a mut Index>;

/// A transaction that owns its index: for callers that cannot hold a borrow across calls
/// (bindings to other languages, transactions kept in a struct). [`Index::into_txn`] starts
/// one; its `commit` and `rollback` hand the index back.
pub type OwnedTxn = Txn<Index>;

/// The buffered changes of a transaction, checked against the schema and the live keys as
/// they arrive.
#[derive(Default)]
struct Pending {
    adds: Vec<Option<Row>>,
    added: HashMap<Key, usize>,
    deletes: HashSet<Key>,
}

/// How to revert one change of [`Pending::add_all`] (adds past its mark are truncated).
enum Undo {
    /// The key was put into the delete set.
    Deleted(Key),
    /// The key's pending add at this position was removed.
    Unadded(Key, usize, Row),
}

impl Pending {
    /// Checks `doc`'s attributes against the schema; returns them by field position, an i64
    /// given to an f64 attribute converted.
    fn check_attrs(shared: &Shared, doc: &Document) -> Result<Vec<(u16, AttrValue)>> {
        let schema = &shared.schema;
        let bad =
            |what: String| Error::input("<api>", None, format!("document {}: {what}", doc.key));
        let mut out: Vec<(u16, AttrValue)> = Vec::with_capacity(doc.attrs.len());
        for (name, v) in &doc.attrs {
            let Some(a) = schema.attribute(name) else {
                return Err(bad(format!("the schema has no attribute {name:?}")));
            };
            if out.iter().any(|(f, _)| *f == a.index) {
                return Err(bad(format!("attribute {name:?} is given twice")));
            }
            let value = match (a.kind, v) {
                (AttrKind::Keyword, AttrValue::Keywords(_))
                | (AttrKind::I64, AttrValue::I64(_)) => v.clone(),
                (AttrKind::F64, AttrValue::F64(x)) if x.is_finite() => AttrValue::F64(*x),
                (AttrKind::F64, AttrValue::F64(x)) => {
                    return Err(bad(format!("attribute {name:?} is {x}, not finite")));
                }
                (AttrKind::F64, AttrValue::I64(x)) => AttrValue::F64(*x as f64),
                (kind, v) => {
                    return Err(bad(format!(
                        "attribute {name:?} is {}, the schema declares it {}",
                        v.kind().name(),
                        kind.name()
                    )));
                }
            };
            out.push((a.index, value));
        }
        Ok(out)
    }

    /// Checks `doc` against the schema and the transaction; returns its text by field
    /// position.
    fn check(&self, shared: &Shared, doc: &Document) -> Result<Vec<(u16, String)>> {
        let schema = &shared.schema;
        if doc.key.kind() != schema.key {
            return Err(Error::Schema(format!(
                "key {} is {:?}, the index uses {:?} keys",
                doc.key,
                doc.key.kind(),
                schema.key
            )));
        }
        let bad =
            |what: String| Error::input("<api>", None, format!("document {}: {what}", doc.key));
        match (schema.dense_field(), &doc.vector) {
            (Some((dim, _, _)), Some(v)) => {
                if v.dim() != dim {
                    return Err(bad(format!("dimension {}, the index has {dim}", v.dim())));
                }
                if let Some(i) = v.first_non_finite() {
                    return Err(bad(format!("value at column {i} is NaN or infinite")));
                }
            }
            (Some(_), None) => {
                return Err(bad("has no vector; the schema has a dense field".into()));
            }
            (None, Some(_)) => {
                return Err(bad("has a vector; the schema has no dense field".into()));
            }
            (None, None) => {}
        }
        let text_fields = schema.text_fields();
        let mut text: Vec<(u16, String)> = Vec::new();
        for (name, t) in &doc.text {
            let Some(f) = text_fields.iter().find(|f| f.name == name) else {
                return Err(bad(format!("the schema has no text field {name:?}")));
            };
            match text.iter_mut().find(|(i, _)| *i == f.index) {
                Some((_, prev)) => {
                    prev.push(' ');
                    prev.push_str(t);
                }
                None => text.push((f.index, t.clone())),
            }
        }
        if !doc.sparse.is_empty() {
            if schema.sparse_field().is_none() {
                return Err(bad(
                    "has sparse weights; the schema has no sparse field".into()
                ));
            }
            let mut seen = HashSet::new();
            for (term, w) in &doc.sparse {
                if term.is_empty() || !w.is_finite() || *w < 0.0 {
                    return Err(bad(format!(
                        "sparse term {term:?} has weight {w} (terms must be non-empty, weights finite and ≥ 0)"
                    )));
                }
                if !seen.insert(term.as_str()) {
                    return Err(bad(format!("sparse term {term:?} appears twice")));
                }
            }
        }
        if self.added.contains_key(&doc.key) {
            return Err(Error::input(
                "<api>",
                None,
                format!("duplicate key {} in one transaction", doc.key),
            ));
        }
        if shared.is_live(&doc.key) && !self.deletes.contains(&doc.key) {
            return Err(Error::InvalidArgument(format!(
                "key {} already exists; use upsert to replace it",
                doc.key
            )));
        }
        Ok(text)
    }

    fn add(&mut self, shared: &Shared, doc: Document) -> Result<()> {
        let text = self.check(shared, &doc)?;
        let attrs = Pending::check_attrs(shared, &doc)?;
        self.added.insert(doc.key.clone(), self.adds.len());
        self.adds.push(Some(Row {
            key: doc.key,
            vector: doc.vector,
            text,
            sparse: doc.sparse,
            attrs,
            codes: None,
        }));
        Ok(())
    }

    fn delete(&mut self, shared: &Shared, key: &Key) -> Result<bool> {
        self.delete_logged(shared, key, None)
    }

    /// [`Pending::delete`], recording in `log` how to undo it.
    fn delete_logged(
        &mut self,
        shared: &Shared,
        key: &Key,
        log: Option<&mut Vec<Undo>>,
    ) -> Result<bool> {
        if let Some(i) = self.added.remove(key) {
            let row = self.adds.get_mut(i).and_then(Option::take);
            if let (Some(log), Some(row)) = (log, row) {
                log.push(Undo::Unadded(key.clone(), i, row));
            }
            return Ok(true);
        }
        let live = shared.is_live(key);
        let inserted = live && self.deletes.insert(key.clone());
        if let (Some(log), true) = (log, inserted) {
            log.push(Undo::Deleted(key.clone()));
        }
        Ok(inserted)
    }

    /// Adds (or, with `upsert`, replaces) every document of `docs`, or none: on the first
    /// refused document the changes made by this call are undone and its error returned.
    fn add_all(&mut self, shared: &Shared, docs: Vec<Document>, upsert: bool) -> Result<()> {
        let mark = self.adds.len();
        let mut log: Vec<Undo> = Vec::new();
        for doc in docs {
            let res = if upsert {
                self.delete_logged(shared, &doc.key, Some(&mut log))
                    .and_then(|_| self.add(shared, doc))
            } else {
                self.add(shared, doc)
            };
            if let Err(e) = res {
                self.undo(mark, log);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Reverts the adds made since `adds.len()` was `mark` and the deletes in `log`.
    fn undo(&mut self, mark: usize, log: Vec<Undo>) {
        for u in log.into_iter().rev() {
            match u {
                Undo::Deleted(key) => {
                    self.deletes.remove(&key);
                }
                Undo::Unadded(key, i, row) => {
                    if let Some(slot) = self.adds.get_mut(i) {
                        *slot = Some(row);
                        self.added.insert(key, i);
                    }
                }
            }
        }
        for i in mark..self.adds.len() {
            if let Some(Some(row)) = self.adds.get(i)
                && self.added.get(&row.key) == Some(&i)
            {
                let key = row.key.clone();
                self.added.remove(&key);
            }
        }
        self.adds.truncate(mark);
    }

    fn commit(self, index: &Index) -> Result<u64> {
        let adds: Vec<Row> = self.adds.into_iter().flatten().collect();
        let gen_ = commit_changes(&index.shared, adds, self.deletes)?;
        if let Some(m) = &index.merger {
            m.nudge();
        }
        Ok(gen_)
    }
}

impl<I: std::borrow::Borrow<Index>> Txn<I> {
    /// An empty transaction on `index`.
    pub(super) fn new(index: I) -> Txn<I> {
        Txn {
            index,
            pending: Pending::default(),
        }
    }

    /// Adds a document. Its key must not be live (use [`Txn::upsert`] to replace).
    pub fn add(&mut self, doc: Document) -> Result<()> {
        let shared = &self.index.borrow().shared;
        self.pending.add(shared, doc)
    }

    /// Adds every document of `docs` or, if one is refused, none of them (the transaction is
    /// left as it was before the call) and returns that document's error.
    pub fn add_all(&mut self, docs: Vec<Document>) -> Result<()> {
        let shared = &self.index.borrow().shared;
        self.pending.add_all(shared, docs, false)
    }

    /// Upserts every document of `docs` or none of them, as [`Txn::add_all`].
    pub fn upsert_all(&mut self, docs: Vec<Document>) -> Result<()> {
        let shared = &self.index.borrow().shared;
        self.pending.add_all(shared, docs, true)
    }

    /// Deletes the document with `key`; returns whether one was live (or added earlier in
    /// this transaction).
    pub fn delete(&mut self, key: &Key) -> Result<bool> {
        let shared = &self.index.borrow().shared;
        self.pending.delete(shared, key)
    }

    /// Replaces (or adds) the document with `doc.key`.
    pub fn upsert(&mut self, doc: Document) -> Result<()> {
        self.delete(&doc.key)?;
        self.add(doc)
    }

    /// Documents added so far.
    pub fn pending_adds(&self) -> usize {
        self.pending.added.len()
    }

    /// The index this transaction writes to (its snapshots do not see the transaction).
    pub fn index(&self) -> &Index {
        self.index.borrow()
    }
}

impl WriteTxn<'_> {
    /// Discards the transaction.
    pub fn rollback(self) {}

    /// Makes the transaction's changes durable and visible atomically. Returns the commit's
    /// generation (unchanged if the transaction was empty).
    pub fn commit(self) -> Result<u64> {
        self.pending.commit(self.index)
    }
}

impl OwnedTxn {
    /// Discards the transaction and hands the index back.
    pub fn rollback(self) -> Index {
        self.index
    }

    /// Makes the changes durable and visible atomically, as [`WriteTxn::commit`], and hands
    /// the index back whether or not the commit succeeded (after a failure it may be poisoned:
    /// see [`Error::Poisoned`]).
    pub fn commit(self) -> (Index, Result<u64>) {
        let res = self.pending.commit(&self.index);
        (self.index, res)
    }
}

/// The commit of a transaction: the new segment is built and verified first, without the
/// writer mutex; then, holding it, the deletes are written against the current state and the
/// manifest is published.
fn commit_changes(shared: &Shared, adds: Vec<Row>, deletes: HashSet<Key>) -> Result<u64> {
    shared.check_poisoned()?;
    if adds.is_empty() && deletes.is_empty() {
        return Ok(lock_state(&shared.state).manifest.generation);
    }
    let built = if adds.is_empty() {
        None
    } else {
        let id = shared.allocate_segment_id()?;
        Some(shared.build_segment(id, &adds, None)?)
    };
    let mut st = lock_state(&shared.state);
    let dir = shared.dir.as_ref();
    let snap = shared.snapshot();
    let mut m = st.manifest.clone();
    let gen_ = st.next_generation;
    let mut new_files: Vec<String> = built
        .iter()
        .flat_map(|b| b.meta.files().map(str::to_owned))
        .collect();
    let result = (|| -> Result<()> {
        let mut per_seg: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
        {
            let keymap = shared.keymap.read().unwrap_or_else(|p| p.into_inner());
            for key in &deletes {
                if let Some(&(seg, row)) = keymap.get(key) {
                    per_seg.entry(seg).or_default().push(row);
                }
            }
        }
        for (seg_id, rows) in per_seg {
            let Some(pos) = m.segments.iter().position(|s| s.id == seg_id) else {
                continue;
            };
            let mut bitmap = snap
                .segments()
                .iter()
                .find(|s| s.meta.id == seg_id)
                .and_then(|s| s.deletes.as_ref().map(|d| d.bitmap().clone()))
                .unwrap_or_default();
            bitmap.extend(rows);
            let Some(meta) = m.segments.get_mut(pos) else {
                continue;
            };
            if bitmap.len() >= meta.rows {
                m.segments.remove(pos);
                continue;
            }
            let c = write_deletes(dir, seg_id, meta.rows, gen_, &bitmap)?;
            new_files.push(c.file.clone());
            meta.deleted = bitmap.len();
            meta.deletes = Some(c);
        }
        if let Some(b) = &built {
            m.segments.push(b.meta.clone());
        }
        Ok(())
    })();
    // Release the old snapshot's pins so GC after the commit can remove what it replaced.
    drop(snap);
    if let Err(e) = result {
        for f in &new_files {
            let _ = dir.remove(f);
        }
        return Err(e);
    }
    shared.publish(&mut st, m, &new_files)?;
    let mut keymap = shared.keymap.write().unwrap_or_else(|p| p.into_inner());
    for key in &deletes {
        keymap.remove(key);
    }
    if let Some(b) = &built {
        let id = b.meta.id;
        for (row, r) in adds.iter().enumerate() {
            keymap.insert(r.key.clone(), (id, row as u32));
        }
    }
    Ok(st.manifest.generation)
}

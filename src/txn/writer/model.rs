//! Model generations: committing tuned centroids and codebooks as the index's model, and
//! rolling back to the generation before.

use super::Index;
use crate::dense::ivf::IvfModel;
use crate::error::{Error, Result};
use crate::txn::commit::lock_state;

impl Index {
    /// Commits `model` as the index's model generation: a new `model-<gen>.mdl` and a manifest
    /// naming it, the generation it replaces kept as the previous one. Snapshots taken before
    /// keep scoring with the old generation; codes are not rewritten, so `model` must be of
    /// the lineage in force (tuned from it) and of its shape. Returns the commit generation.
    ///
    /// Errors: `InvalidArgument` if the index has no model or `model` is of another lineage
    /// or shape; I/O errors as for any commit (nothing changes then).
    pub fn commit_model(&mut self, model: &IvfModel) -> Result<u64> {
        self.shared.check_poisoned()?;
        let snap = self.shared.snapshot();
        let current = snap.model().ok_or_else(|| {
            Error::InvalidArgument(
                "the index has no trained model yet (its first IVF-PQ segment large enough trains one)"
                    .into(),
            )
        })?;
        if !model.is_generation_of(current) {
            return Err(Error::InvalidArgument(format!(
                "model {:016x} is not a generation of the index's model {:016x} (same lineage and shape)",
                model.lineage, current.lineage
            )));
        }
        drop(snap);
        self.publish_model(model, true)
    }

    /// Writes `model` as the generation of the next commit and commits a manifest naming it;
    /// the model it replaces is kept as the previous one if `keep_previous`.
    fn publish_model(&mut self, model: &IvfModel, keep_previous: bool) -> Result<u64> {
        let mut st = lock_state(&self.shared.state);
        let mut m = st.manifest.clone();
        let generation = st.next_generation;
        let c = crate::segment::write_model(self.shared.dir.as_ref(), generation, model)?;
        let file = c.file.clone();
        m.previous_model = if keep_previous { m.model.take() } else { None };
        m.model = Some(c);
        let snap = self.shared.publish(&mut st, m, &[file])?;
        Ok(snap.generation())
    }

    /// Stores `cal` as the relevance cut-off calibration of scores of `kind` (`dense`,
    /// `bm25`, `sparse` or `hybrid`) in a new generation of the index's model (codebooks
    /// unchanged), for queries that ask for `min_probability`. Returns the commit generation.
    ///
    /// Errors: `InvalidArgument` for an unknown kind or an index without a model (a
    /// calibration is kept with the trained IVF-PQ model; an index without one cannot store
    /// it yet).
    pub fn commit_calibration(
        &mut self,
        kind: &str,
        cal: crate::calibrate::Calibration,
    ) -> Result<u64> {
        let model = self.shared.snapshot().model().cloned().ok_or_else(|| {
            Error::InvalidArgument(
                "the index has no trained model to keep a calibration with".into(),
            )
        })?;
        self.commit_model(&model.with_calibration(kind, cal)?)
    }

    /// Makes `model` (taken from another index: `Snapshot::model`) this index's model, so its
    /// segments are encoded with it from now on and their PQ scores compare with the other
    /// index's. Allowed only while this index has no model and no IVF-PQ segment; the schema's
    /// IVF-PQ parameters are then those of the model (its lists, sub-quantizers and bits).
    /// Returns the commit generation.
    ///
    /// Errors: `InvalidArgument` if the schema has no IVF-PQ index, the model's dimension or
    /// metric differ from the schema's, or the index already has a model or IVF-PQ segments.
    pub fn adopt_model(&mut self, model: &IvfModel) -> Result<u64> {
        self.shared.check_poisoned()?;
        let Some((dim, metric, _)) = self.shared.schema.dense_field() else {
            return Err(Error::InvalidArgument(
                "the schema has no dense field".into(),
            ));
        };
        if !matches!(
            self.shared.schema.dense_index(),
            crate::schema::DenseIndex::IvfPq(_)
        ) {
            return Err(Error::InvalidArgument(
                "the schema's dense field has no IVF-PQ index to use a model".into(),
            ));
        }
        if model.dim != dim || model.metric != metric {
            return Err(Error::InvalidArgument(format!(
                "the model is for dimension {} and {:?}, the schema has {dim} and {metric:?}",
                model.dim, model.metric
            )));
        }
        let snap = self.shared.snapshot();
        if snap.model().is_some() || snap.segments().iter().any(|s| s.ivf().is_some()) {
            return Err(Error::InvalidArgument(
                "the index already has a model or IVF-PQ segments encoded with their own".into(),
            ));
        }
        drop(snap);
        self.publish_model(model, false)
    }

    /// Makes the previous model generation the index's model again (in a new commit) and
    /// returns the commit generation.
    ///
    /// Errors: `InvalidArgument` if no earlier generation is kept (the model was never
    /// replaced, or was rolled back already).
    pub fn rollback_model(&mut self) -> Result<u64> {
        self.shared.check_poisoned()?;
        let mut st = lock_state(&self.shared.state);
        let mut m = st.manifest.clone();
        let Some(previous) = m.previous_model.take() else {
            return Err(Error::InvalidArgument(
                "there is no earlier model generation to roll back to".into(),
            ));
        };
        m.model = Some(previous);
        let snap = self.shared.publish(&mut st, m, &[])?;
        Ok(snap.generation())
    }
}

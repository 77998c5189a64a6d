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
        if current.lineage != model.lineage
            || current.dim != model.dim
            || current.metric != model.metric
            || current.nlist() != model.nlist()
            || current.codebooks().m != model.codebooks().m
            || current.codebooks().nbits != model.codebooks().nbits
        {
            return Err(Error::InvalidArgument(format!(
                "model {:016x} is not a generation of the index's model {:016x} (same lineage and shape)",
                model.lineage, current.lineage
            )));
        }
        drop(snap);
        let mut st = lock_state(&self.shared.state);
        let mut m = st.manifest.clone();
        let generation = st.next_generation;
        let c = crate::segment::write_model(self.shared.dir.as_ref(), generation, model)?;
        let file = c.file.clone();
        m.previous_model = m.model.take();
        m.model = Some(c);
        let snap = self.shared.publish(&mut st, m, &[file])?;
        Ok(snap.generation())
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

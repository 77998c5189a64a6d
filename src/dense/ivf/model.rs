//! The trained model of IVF-PQ segments: coarse centroids and PQ codebooks, identified by a
//! lineage id. Segments encoded with one model share its lineage; tuning replaces the
//! codebooks and keeps the lineage (codes stay valid), so a model of the right lineage can be
//! applied to any of them ([`IvfPq::with_model`](super::IvfPq::with_model)).

use super::coarse::Coarse;
use super::{CENTROIDS_INT8, metric_code, metric_from_code};
use crate::calibrate::Calibration;
use crate::dense::pq::ProductQuantizer;
use crate::error::{Error, Result};
use crate::format::{ByteReader, ByteWriter};
use crate::types::Metric;

/// Centroids and codebooks, and how rows are encoded with them.
#[derive(Debug, Clone, PartialEq)]
pub struct IvfModel {
    /// Random non-zero id drawn when the model was trained; kept by tuning.
    pub lineage: u64,
    /// Values per vector.
    pub dim: usize,
    /// The metric rows are ranked by.
    pub metric: Metric,
    /// Whether codes encode residuals from the list's centroid.
    pub residual: bool,
    /// Whether training was balanced.
    pub balanced: bool,
    pub(super) coarse: Coarse,
    pub(super) pq: ProductQuantizer,
    /// Relevance cut-off calibrations, by the kind of score they map: `dense`, `bm25`,
    /// `sparse` (one source) or `hybrid` (fused scores).
    pub calibrations: Vec<(String, Calibration)>,
}

/// The score kinds a calibration may be stored for.
pub const CALIBRATION_KINDS: [&str; 4] = ["dense", "bm25", "sparse", "hybrid"];

impl IvfModel {
    /// Number of lists.
    pub fn nlist(&self) -> usize {
        self.coarse.len()
    }

    /// The PQ codebooks.
    pub fn codebooks(&self) -> &ProductQuantizer {
        &self.pq
    }

    /// Whether `other` can replace this model without re-encoding anything: the same lineage,
    /// and the same dimension, metric, residual encoding, lists and codebook shape.
    pub fn is_generation_of(&self, other: &IvfModel) -> bool {
        self.lineage == other.lineage
            && self.dim == other.dim
            && self.metric == other.metric
            && self.residual == other.residual
            && self.nlist() == other.nlist()
            && self.pq.m == other.pq.m
            && self.pq.nbits == other.pq.nbits
            && self.pq.codebooks.len() == other.pq.codebooks.len()
    }

    /// The calibration stored for scores of `kind`.
    pub fn calibration(&self, kind: &str) -> Option<&Calibration> {
        self.calibrations
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, c)| c)
    }

    /// The same model with `cal` as the calibration of `kind` (one of [`CALIBRATION_KINDS`]).
    pub fn with_calibration(&self, kind: &str, cal: Calibration) -> Result<IvfModel> {
        if !CALIBRATION_KINDS.contains(&kind) {
            return Err(Error::InvalidArgument(format!(
                "calibration kind {kind:?} is none of {CALIBRATION_KINDS:?}"
            )));
        }
        let mut out = self.clone();
        out.calibrations.retain(|(k, _)| k != kind);
        out.calibrations.push((kind.to_owned(), cal));
        out.calibrations.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// The same model with `pq` as its codebooks (same shape required).
    pub fn with_codebooks(&self, pq: ProductQuantizer) -> Result<IvfModel> {
        if pq.dim != self.pq.dim
            || pq.m != self.pq.m
            || pq.nbits != self.pq.nbits
            || pq.codebooks.len() != self.pq.codebooks.len()
            || pq.codebooks.iter().any(|x| !x.is_finite())
        {
            return Err(Error::InvalidArgument(
                "tuned codebooks differ in shape from the model's, or hold a value that is not finite"
                    .into(),
            ));
        }
        Ok(IvfModel {
            pq,
            ..self.clone()
        })
    }

    /// Appends the model's encoding (docs/FORMAT.md, "Model body").
    pub fn encode_to(&self, w: &mut ByteWriter) {
        w.u64(self.lineage);
        w.u32(self.dim as u32);
        w.u32(self.coarse.len() as u32);
        w.u8(metric_code(self.metric));
        w.u8(u8::from(self.residual));
        w.u8(u8::from(self.balanced));
        w.u8(CENTROIDS_INT8);
        for &s in self.coarse.scales() {
            w.f32(s);
        }
        for &c in self.coarse.codes() {
            w.u8(c as u8);
        }
        self.pq.encode_to(w);
        w.len(self.calibrations.len());
        for (kind, cal) in &self.calibrations {
            w.str(kind);
            cal.encode_to(w);
        }
    }

    /// Decodes a model and checks it against the schema's `dim` and `metric`.
    pub fn decode_from(r: &mut ByteReader<'_>, dim: usize, metric: Metric) -> Result<IvfModel> {
        let lineage = r.u64("model lineage")?;
        let d = r.u32("model dimension")? as usize;
        let nlist = r.u32("model nlist")? as usize;
        let m = metric_from_code(r.u8("model metric")?);
        let residual = r.u8("residual")? != 0;
        let balanced = r.u8("balanced")? != 0;
        let enc = r.u8("centroid encoding")?;
        if lineage == 0 || d != dim || m != Some(metric) || nlist == 0 || enc != CENTROIDS_INT8 {
            return Err(r.corrupt(format!(
                "model header (lineage {lineage:016x}, dim {d}, nlist {nlist}, encoding {enc}) does not match the schema"
            )));
        }
        let coarse = Coarse::decode_int8(r, nlist, dim)?;
        let pq = ProductQuantizer::decode_from(r)?;
        if pq.dim != dim {
            return Err(r.corrupt("codebook dimension differs from the schema's"));
        }
        let n = r.len(16, "calibration count")?;
        let mut calibrations: Vec<(String, Calibration)> = Vec::with_capacity(n);
        for _ in 0..n {
            let kind = r.str("calibration kind")?.to_owned();
            if !CALIBRATION_KINDS.contains(&kind.as_str())
                || calibrations.iter().any(|(k, _)| *k == kind)
            {
                return Err(r.corrupt(format!("unknown or repeated calibration kind {kind:?}")));
            }
            calibrations.push((kind, Calibration::decode_from(r)?));
        }
        Ok(IvfModel {
            lineage,
            dim,
            metric,
            residual,
            balanced,
            coarse,
            pq,
            calibrations,
        })
    }
}

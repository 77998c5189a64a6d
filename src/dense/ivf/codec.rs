//! The IVF-PQ file body: [`IvfPq::encode`] and [`IvfPq::decode`] (see docs/FORMAT.md,
//! "IVF-PQ body").

use super::coarse::Coarse;
use super::{
    CENTROIDS_F16, CENTROIDS_INT8, CENTROIDS_INT8_LINEAGE, Ids, IvfPq, IvfStats, metric_code,
};
use crate::dense::kernels::fastscan;
use crate::dense::pq::ProductQuantizer;
use crate::error::{Error, Result};
use crate::format::{ByteReader, ByteWriter};
use crate::io::FileBytes;
use crate::types::Metric;
use half::f16;

impl IvfPq {
    /// Encodes the index (see docs/FORMAT.md, "IVF-PQ body").
    pub fn encode(&self) -> Vec<u8> {
        let mut w = ByteWriter::new();
        w.u32(self.dim as u32);
        w.u32(self.nlist as u32);
        w.u8(metric_code(self.metric));
        w.u8(u8::from(self.residual));
        w.u8(u8::from(self.balanced));
        w.u8(if self.lineage == 0 {
            CENTROIDS_INT8
        } else {
            CENTROIDS_INT8_LINEAGE
        });
        w.f32(self.stats.list_spread);
        w.f32(self.stats.code_entropy);
        w.f32(self.stats.build_seconds);
        w.len(self.ids.len());
        if self.lineage != 0 {
            w.u64(self.lineage);
        }
        for &s in self.coarse.scales() {
            w.f32(s);
        }
        for &c in self.coarse.codes() {
            w.u8(c as u8);
        }
        self.pq.encode_to(&mut w);
        for &o in &self.offsets {
            w.u32(o);
        }
        for i in 0..self.ids.len() {
            w.u32(self.ids.get(i).unwrap_or(0));
        }
        w.bytes(&self.codes);
        w.into_inner()
    }

    /// Decodes and checks an index of a segment with `rows` rows of dimension `dim`; the
    /// first `body_len` bytes of `bytes` are the body. Row ids stay in `bytes`.
    pub fn decode(
        file: &str,
        bytes: &FileBytes,
        body_len: usize,
        dim: usize,
        metric: Metric,
        rows: u64,
    ) -> Result<IvfPq> {
        let body = bytes.get(..body_len).unwrap_or_default();
        let mut r = ByteReader::new(file, body);
        let d = r.u32("dimension")? as usize;
        let nlist = r.u32("nlist")? as usize;
        let code = r.u8("metric")?;
        let residual = r.u8("residual")? != 0;
        let balanced = r.u8("balanced")? != 0;
        let centroid_encoding = r.u8("centroid encoding")?;
        let stats = IvfStats {
            list_spread: r.f32("list spread")?,
            code_entropy: r.f32("code entropy")?,
            build_seconds: r.f32("build seconds")?,
        };
        let n = r.u64("rows")?;
        if d != dim || n != rows || code != metric_code(metric) || nlist == 0 {
            return Err(r.corrupt(format!(
                "index header (dim {d}, rows {n}, metric {code}, nlist {nlist}) does not match the segment"
            )));
        }
        let n = n as usize;
        let count = nlist
            .checked_mul(dim)
            .ok_or_else(|| r.corrupt("nlist overflows"))?;
        let lineage = if centroid_encoding == CENTROIDS_INT8_LINEAGE {
            let id = r.u64("model lineage")?;
            if id == 0 {
                return Err(r.corrupt("model lineage 0"));
            }
            id
        } else {
            0
        };
        let coarse = match centroid_encoding {
            CENTROIDS_INT8 | CENTROIDS_INT8_LINEAGE => Coarse::decode_int8(&mut r, nlist, dim)?,
            CENTROIDS_F16 => {
                // Written before int8 centroids: quantized on opening. Residual codes were
                // computed against the f16 values, so scores move by at most half a code unit
                // of each centroid; the re-rank is exact either way.
                let centroids: Vec<f32> = r
                    .u16_vec(count, "centroids")?
                    .into_iter()
                    .map(|b| f16::from_bits(b).to_f32())
                    .collect();
                if centroids.iter().any(|c| !c.is_finite()) {
                    return Err(r.corrupt("a centroid is not finite"));
                }
                Coarse::quantize(&centroids, dim)
            }
            other => {
                return Err(r.corrupt(format!(
                    "centroid encoding {other} is none of {CENTROIDS_F16} (f16), {CENTROIDS_INT8} (int8), {CENTROIDS_INT8_LINEAGE} (int8 with a lineage)"
                )));
            }
        };
        let pq = ProductQuantizer::decode_from(&mut r)?;
        if pq.dim != dim {
            return Err(r.corrupt("codebook dimension differs from the segment's"));
        }
        let offsets = r.u32_vec(nlist + 1, "list offsets")?;
        let ids_at = r.position();
        let ids = r.u32_vec(n, "row ids")?;
        let codes: std::sync::Arc<[u8]> = r.bytes("codes")?.into();
        r.finish("ivf")?;
        if offsets.first() != Some(&0)
            || offsets.last() != Some(&(n as u32))
            || offsets.windows(2).any(|w| w.first() > w.get(1))
            || ids.iter().any(|&i| i as usize >= n)
        {
            return Err(Error::corrupt(
                file,
                0,
                "list offsets or row ids out of range",
            ));
        }
        let mut code_offsets = Vec::with_capacity(nlist + 1);
        let mut at = 0usize;
        for w in offsets.windows(2) {
            code_offsets.push(at);
            let len = (w.get(1).copied().unwrap_or(0) - w.first().copied().unwrap_or(0)) as usize;
            at += if pq.nbits == 4 {
                fastscan::packed4_len(len, pq.m)
            } else {
                len * pq.m
            };
        }
        code_offsets.push(at);
        if at != codes.len() {
            return Err(Error::corrupt(
                file,
                0,
                format!("{} code bytes, lists need {at}", codes.len()),
            ));
        }
        drop(ids);
        let ids = Ids::Mapped {
            file: bytes.clone(),
            offset: ids_at,
            len: n,
        };
        Ok(IvfPq {
            dim,
            metric,
            nlist,
            residual,
            balanced,
            lineage,
            coarse: std::sync::Arc::new(coarse),
            pq,
            offsets,
            ids,
            code_offsets,
            codes,
            stats,
        })
    }
}

//! Dense vectors: distance kernels, exact (flat) search, and the quantizers and training that
//! IVF-PQ segments are built from.
//!
//! - `kernels`: distance and ADC scan functions with a scalar oracle and per-ISA
//!   implementations chosen once at run time.
//! - `flat`: exact top-k scan over one segment's vectors.
//! - `kmeans`: seeded k-means (plain and balanced) with GEMM-blocked assignment.
//! - `pq`: the product quantizer (4- and 8-bit codes), lookup tables.
//! - `ivf`: a segment's IVF-PQ index: lists of codes, probing, the code scan.

pub mod flat;
pub mod ivf;
pub mod kernels;
pub mod kmeans;
pub mod pq;

use half::f16;

/// A typed, borrowed view of rows of vectors (a segment's, as stored).
#[derive(Debug, Clone, Copy)]
pub enum VectorsView<'a> {
    /// Rows stored as f32.
    F32(&'a [f32]),
    /// Rows stored as f16.
    F16(&'a [f16]),
}

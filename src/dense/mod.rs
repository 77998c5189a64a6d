//! Dense vectors: distance kernels and exact (flat) search.
//!
//! - `kernels`: distance functions with a scalar oracle and per-ISA implementations chosen once
//!   at run time.
//! - `flat`: exact top-k scan over one segment's vectors.

pub mod flat;
pub mod kernels;

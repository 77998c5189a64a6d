//! Criterion benches (placeholder, filled in by the sparse work).
use criterion::{Criterion, criterion_group, criterion_main};
fn none(_c: &mut Criterion) {}
criterion_group!(benches, none);
criterion_main!(benches);

//! Scoring and query processing (temporary stub; replaced by the query branch).
#![allow(missing_docs, dead_code, clippy::unwrap_used)]
use super::{BlockMeta, DocCursor};
pub trait TermScorer { fn score(&self, doc: u32, freq: u32) -> f32; fn block_bound(&self, meta: &BlockMeta) -> f32; }
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bm25 { pub k1: f32, pub b: f32 }
impl Default for Bm25 { fn default() -> Self { Bm25 { k1: 0.9, b: 0.4 } } }
pub fn bm25_idf(n_docs: u64, df: u64) -> f32 { (1.0 + (n_docs as f64 - df as f64 + 0.5) / (df as f64 + 0.5)).ln() as f32 }
pub struct Bm25Term<'a> { l: &'a [u32] }
impl<'a> Bm25Term<'a> { pub fn new(params: Bm25, idf: f32, weight: f32, avgdl: f32, lengths: &'a [u32]) -> Self { let _ = (params, idf, weight, avgdl); Bm25Term { l: lengths } } }
pub struct ImpactTerm { pub weight: f32 }
pub enum AnyTerm<'a> { Bm25(Bm25Term<'a>), Impact(ImpactTerm) }
impl TermScorer for AnyTerm<'_> { fn score(&self, _d: u32, _f: u32) -> f32 { 0.0 } fn block_bound(&self, _m: &BlockMeta) -> f32 { 0.0 } }
pub type TopDocs = Vec<(f32, u32)>;
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm { Exhaustive, MaxScore, #[default] BlockMaxWand }
pub fn search<C: DocCursor, S: TermScorer>(algo: Algorithm, terms: &mut [(C, S)], k: usize, accept: &dyn Fn(u32) -> bool) -> TopDocs { let _ = (algo, terms, k, accept); Vec::new() }

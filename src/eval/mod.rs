//! Retrieval evaluation (temporary stub; replaced by the analyzer branch).
#![allow(missing_docs, dead_code, clippy::unwrap_used)]
use crate::error::Result;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
pub struct BeirDoc { pub id: String, pub title: String, pub text: String }
pub fn read_corpus(path: &Path) -> Result<impl Iterator<Item = Result<BeirDoc>>> { let _ = path; Ok(std::iter::empty()) }
pub fn read_queries(path: &Path) -> Result<Vec<(String, String)>> { let _ = path; Ok(Vec::new()) }
pub type Qrels = HashMap<String, HashMap<String, i32>>;
pub fn read_qrels(path: &Path) -> Result<Qrels> { let _ = path; Ok(Qrels::new()) }
pub fn ndcg_at(ranked: &[&str], rel: &HashMap<String, i32>, k: usize) -> f64 { let _ = (ranked, rel, k); 0.0 }
pub fn recall_at(ranked: &[&str], rel: &HashMap<String, i32>, k: usize) -> f64 { let _ = (ranked, rel, k); 0.0 }
pub fn mrr_at(ranked: &[&str], rel: &HashMap<String, i32>, k: usize) -> f64 { let _ = (ranked, rel, k); 0.0 }
pub fn write_trec_run(w: &mut impl Write, qid: &str, ranked: &[(&str, f32)], tag: &str) -> std::io::Result<()> { let _ = (w, qid, ranked, tag); Ok(()) }
pub fn percentile(sorted_ms: &[f64], p: f64) -> f64 { let _ = (sorted_ms, p); 0.0 }

//! JSON Lines documents (temporary stub; replaced by the analyzer branch).
#![allow(missing_docs, dead_code, clippy::unwrap_used)]
use crate::error::Result;
use std::path::Path;
#[derive(Debug, Clone, PartialEq)]
pub enum JsonKey { U64(u64), Str(String) }
#[derive(Debug, Clone, PartialEq)]
pub struct JsonDoc { pub key: JsonKey, pub text: Vec<(String, String)>, pub sparse: Vec<(String, f32)>, pub vector: Option<Vec<f32>> }
pub fn read_jsonl(path: &Path) -> Result<impl Iterator<Item = Result<JsonDoc>>> { let _ = path; Ok(std::iter::empty()) }

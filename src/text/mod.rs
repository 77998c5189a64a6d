//! Text analysis (temporary stub; replaced by the analyzer branch).
#![allow(missing_docs, dead_code, clippy::unwrap_used)]
use crate::error::Result;
use crate::format::{ByteReader, ByteWriter};
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stemmer { None, English }
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AnalyzerConfig { pub lowercase: bool, pub stopwords: bool, pub possessive: bool, pub stemmer: Stemmer, pub max_token_len: u32 }
impl Default for AnalyzerConfig { fn default() -> Self { AnalyzerConfig { lowercase: true, stopwords: true, possessive: true, stemmer: Stemmer::English, max_token_len: 40 } } }
impl AnalyzerConfig {
    pub fn encode(&self, w: &mut ByteWriter) { w.u8(self.lowercase as u8); }
    pub fn decode(r: &mut ByteReader<'_>) -> Result<AnalyzerConfig> { let _ = r.u8("x")?; Ok(Self::default()) }
}
#[derive(Debug)]
pub struct Analyzer { c: AnalyzerConfig }
impl Analyzer {
    pub fn new(config: &AnalyzerConfig) -> Analyzer { Analyzer { c: config.clone() } }
    pub fn config(&self) -> &AnalyzerConfig { &self.c }
    pub fn for_each_term(&self, text: &str, mut f: impl FnMut(&str)) { for t in text.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()) { f(&t.to_lowercase()) } }
    pub fn terms(&self, text: &str) -> Vec<String> { let mut v = Vec::new(); self.for_each_term(text, |t| v.push(t.to_owned())); v }
}

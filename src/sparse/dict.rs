//! The term dictionary (temporary stub; replaced by the postings branch).
#![allow(missing_docs, dead_code, clippy::unwrap_used)]
use crate::error::Result;
#[derive(Default)]
pub struct TermDictBuilder;
impl TermDictBuilder {
    pub fn new() -> Self { TermDictBuilder }
    pub fn insert(&mut self, term: &[u8], value: u64) -> Result<()> { let _ = (term, value); Ok(()) }
    pub fn finish(self) -> Result<Vec<u8>> { Ok(Vec::new()) }
}
pub struct TermDict<'a> { b: &'a [u8] }
impl<'a> TermDict<'a> {
    pub fn open(file: &str, bytes: &'a [u8]) -> Result<TermDict<'a>> { let _ = file; Ok(TermDict { b: bytes }) }
    pub fn get(&self, term: &[u8]) -> Option<u64> { let _ = term; None }
    pub fn len(&self) -> usize { 0 }
    pub fn is_empty(&self) -> bool { true }
    pub fn stream(&self) -> impl Iterator<Item = (Vec<u8>, u64)> + '_ { std::iter::empty() }
}

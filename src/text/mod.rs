//! Text analysis: turning a field's text into the terms the inverted index stores.
//!
//! This module owns the analyzer chain and nothing else; it knows no index structures.
//!
//! - `config.rs`: [`AnalyzerConfig`] and [`Stemmer`], and their stable binary encoding (an
//!   index records the config its text fields were analyzed with, so queries are analyzed the
//!   same way).
//! - `analyzer.rs`: [`Analyzer`], the chain itself: Unicode word segmentation (UAX #29),
//!   lowercasing, possessive stripping, length and stop-word filtering, Snowball stemming.
//!
//! The chain follows Lucene's `EnglishAnalyzer` in spirit (its 33-word stop set, possessive
//! filter, stop words removed before stemming) but uses Snowball English (Porter2) rather than
//! the original Porter stemmer, and drops over-long tokens instead of splitting them.

mod analyzer;
mod config;

#[cfg(test)]
mod tests;

pub use analyzer::{Analyzer, ENGLISH_STOPWORDS, is_stopword};
pub use config::{AnalyzerConfig, Stemmer};

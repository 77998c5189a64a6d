//! The analyzer's configuration and its binary encoding.
//!
//! Encoding (7 bytes, little-endian):
//!
//! | bytes | field |
//! |---|---|
//! | 1 | version, currently 1 |
//! | 1 | flags: bit 0 lowercase, bit 1 stop words, bit 2 possessive; other bits must be 0 |
//! | 1 | stemmer code: 0 none, 1 Snowball English |
//! | 4 | `max_token_len` as `u32` |
//!
//! A later version may add flag bits or stemmer codes; this build rejects what it does not know
//! with [`Error::Corrupt`](crate::Error::Corrupt) rather than analyzing text differently from the
//! writer.

use crate::error::Result;
use crate::format::{ByteReader, ByteWriter};

/// The encoding version written by this build.
const VERSION: u8 = 1;

const FLAG_LOWERCASE: u8 = 1;
const FLAG_STOPWORDS: u8 = 1 << 1;
const FLAG_POSSESSIVE: u8 = 1 << 2;
const KNOWN_FLAGS: u8 = FLAG_LOWERCASE | FLAG_STOPWORDS | FLAG_POSSESSIVE;

/// Which stemmer the analyzer applies last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stemmer {
    /// No stemming: terms are the (filtered, lowercased) words.
    None,
    /// Snowball English (Porter2), as implemented by `rust-stemmers`.
    English,
}

impl Stemmer {
    /// The code this stemmer is encoded as.
    fn code(self) -> u8 {
        match self {
            Stemmer::None => 0,
            Stemmer::English => 1,
        }
    }

    /// The stemmer encoded as `code`, if this build knows it.
    fn from_code(code: u8) -> Option<Stemmer> {
        match code {
            0 => Some(Stemmer::None),
            1 => Some(Stemmer::English),
            _ => None,
        }
    }
}

/// What the analyzer does to text, step by step.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AnalyzerConfig {
    /// Lowercase every word (Unicode lowercase mapping). Default `true`.
    pub lowercase: bool,
    /// Drop the 33 English stop words of Lucene's `EnglishAnalyzer`. Default `true`.
    /// Matching is exact, so with `lowercase` off only lowercase stop words are dropped.
    pub stopwords: bool,
    /// Strip a trailing `'s` (also with `’` or `＇`) from words. Default `true`.
    pub possessive: bool,
    /// The stemmer. Default [`Stemmer::English`].
    pub stemmer: Stemmer,
    /// Words longer than this many bytes (after lowercasing and possessive stripping) are
    /// dropped. Default 40. Zero drops every word.
    pub max_token_len: u32,
}

impl Default for AnalyzerConfig {
    fn default() -> Self {
        AnalyzerConfig {
            lowercase: true,
            stopwords: true,
            possessive: true,
            stemmer: Stemmer::English,
            max_token_len: 40,
        }
    }
}

impl AnalyzerConfig {
    /// A config that keeps every word as written: no lowercasing, stop words, possessive
    /// stripping or stemming; only the length limit (`u32::MAX`, so none) applies.
    pub fn raw() -> Self {
        AnalyzerConfig {
            lowercase: false,
            stopwords: false,
            possessive: false,
            stemmer: Stemmer::None,
            max_token_len: u32::MAX,
        }
    }

    /// Appends the encoding described in the module docs.
    pub fn encode(&self, w: &mut ByteWriter) {
        let mut flags = 0;
        if self.lowercase {
            flags |= FLAG_LOWERCASE;
        }
        if self.stopwords {
            flags |= FLAG_STOPWORDS;
        }
        if self.possessive {
            flags |= FLAG_POSSESSIVE;
        }
        w.u8(VERSION);
        w.u8(flags);
        w.u8(self.stemmer.code());
        w.u32(self.max_token_len);
    }

    /// Reads a config written by [`AnalyzerConfig::encode`]; an unknown version, flag bit or
    /// stemmer code, or too few bytes, is an error.
    pub fn decode(r: &mut ByteReader<'_>) -> Result<AnalyzerConfig> {
        let version = r.u8("analyzer config version")?;
        if version != VERSION {
            return Err(r.corrupt(format!(
                "analyzer config version {version} is not known to this build (expected {VERSION})"
            )));
        }
        let flags = r.u8("analyzer flags")?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(r.corrupt(format!("unknown analyzer flags {flags:#04x}")));
        }
        let code = r.u8("stemmer code")?;
        let stemmer = Stemmer::from_code(code)
            .ok_or_else(|| r.corrupt(format!("unknown stemmer code {code}")))?;
        let max_token_len = r.u32("max token length")?;
        Ok(AnalyzerConfig {
            lowercase: flags & FLAG_LOWERCASE != 0,
            stopwords: flags & FLAG_STOPWORDS != 0,
            possessive: flags & FLAG_POSSESSIVE != 0,
            stemmer,
            max_token_len,
        })
    }
}

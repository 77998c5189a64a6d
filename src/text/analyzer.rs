//! The analyzer chain.
//!
//! For every UAX #29 word of the text that holds at least one alphanumeric character
//! (`unicode_words`), in order:
//!
//! 1. lowercase it (if configured);
//! 2. strip a trailing possessive `'s` / `’s` / `＇s` (if configured and something is left);
//! 3. drop it if it is longer than `max_token_len` bytes;
//! 4. drop it if it is a stop word (if configured);
//! 5. stem it (if configured) and hand the term to the caller.
//!
//! Word segmentation splits "covid-19" into "covid" and "19", keeps "don't", "3.14" and
//! "U.S.A" whole, and makes each CJK ideograph its own word.
//!
//! No allocation per token in the steady state: lowercasing writes into a reusable buffer
//! (and is skipped for words that are already lowercase ASCII), and stems come from a bounded
//! per-thread cache (`rust-stemmers` allocates whenever it changes a word, so it only runs on a
//! cache miss). The scratch space lives in a thread-local; a nested call from inside the
//! callback gets a fresh one instead of panicking.

use super::config::{AnalyzerConfig, Stemmer};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use unicode_segmentation::UnicodeSegmentation;

/// Lucene's classic English stop set (`EnglishAnalyzer.ENGLISH_STOP_WORDS_SET`), sorted.
pub const ENGLISH_STOPWORDS: [&str; 33] = [
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

/// Whether `word` is one of [`ENGLISH_STOPWORDS`] (exact, case-sensitive match).
pub fn is_stopword(word: &str) -> bool {
    // At most 5 bytes; the sorted list makes a binary search cheap.
    word.len() <= 5 && ENGLISH_STOPWORDS.binary_search(&word).is_ok()
}

/// Stem cache entries per thread before the cache is emptied and refilled.
const STEM_CACHE_LIMIT: usize = 1 << 16;

/// Per-thread reusable buffers.
#[derive(Default)]
struct Scratch {
    /// The lowercased word.
    lower: String,
    /// Word -> Snowball English stem.
    stems: HashMap<Box<str>, Box<str>>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Turns text into terms according to an [`AnalyzerConfig`].
///
/// Immutable once built, `Send + Sync`, and cheap to share by reference or clone.
pub struct Analyzer {
    config: AnalyzerConfig,
    stemmer: Option<rust_stemmers::Stemmer>,
}

impl Analyzer {
    /// An analyzer applying `config`.
    pub fn new(config: &AnalyzerConfig) -> Analyzer {
        let stemmer = match config.stemmer {
            Stemmer::None => None,
            Stemmer::English => Some(rust_stemmers::Stemmer::create(
                rust_stemmers::Algorithm::English,
            )),
        };
        Analyzer {
            config: config.clone(),
            stemmer,
        }
    }

    /// The config this analyzer applies.
    pub fn config(&self) -> &AnalyzerConfig {
        &self.config
    }

    /// Calls `f` with every term of `text` in order (see the module docs for the chain).
    pub fn for_each_term(&self, text: &str, mut f: impl FnMut(&str)) {
        let done = SCRATCH.try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => self.run(text, &mut scratch, &mut f),
            // A nested call from inside `f`: use a fresh scratch.
            Err(_) => self.run(text, &mut Scratch::default(), &mut f),
        });
        if done.is_err() {
            // The thread-local is gone (thread teardown).
            self.run(text, &mut Scratch::default(), &mut f);
        }
    }

    /// The terms of `text` as owned strings, in order.
    pub fn terms(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.for_each_term(text, |t| out.push(t.to_owned()));
        out
    }

    fn run(&self, text: &str, scratch: &mut Scratch, f: &mut impl FnMut(&str)) {
        let Scratch { lower, stems } = scratch;
        let cfg = &self.config;
        for word in text.unicode_words() {
            let mut token = if cfg.lowercase {
                lowercase(word, lower)
            } else {
                word
            };
            if cfg.possessive {
                token = strip_possessive(token);
            }
            if token.len() > cfg.max_token_len as usize {
                continue;
            }
            if cfg.stopwords && is_stopword(token) {
                continue;
            }
            match &self.stemmer {
                None => f(token),
                Some(stemmer) => f(stem_cached(stemmer, stems, token)),
            }
        }
    }
}

/// `word` lowercased: `word` itself when it has nothing to lowercase, else `buf`'s contents.
fn lowercase<'a>(word: &'a str, buf: &'a mut String) -> &'a str {
    if word.is_ascii() {
        if !word.bytes().any(|b| b.is_ascii_uppercase()) {
            return word;
        }
        buf.clear();
        buf.push_str(word);
        buf.make_ascii_lowercase();
        return buf;
    }
    if !word.chars().any(char::is_uppercase) {
        return word;
    }
    buf.clear();
    for c in word.chars() {
        buf.extend(c.to_lowercase());
    }
    buf
}

/// `token` without a trailing possessive `'s` (any of three apostrophes, `s` or `S`), unless
/// nothing would be left.
fn strip_possessive(token: &str) -> &str {
    let Some(rest) = token.strip_suffix('s').or_else(|| token.strip_suffix('S')) else {
        return token;
    };
    let stripped = rest
        .strip_suffix('\'')
        .or_else(|| rest.strip_suffix('\u{2019}'))
        .or_else(|| rest.strip_suffix('\u{FF07}'));
    match stripped {
        Some(s) if !s.is_empty() => s,
        _ => token,
    }
}

/// The stem of `word`, from `cache` when it is there.
fn stem_cached<'c>(
    stemmer: &rust_stemmers::Stemmer,
    cache: &'c mut HashMap<Box<str>, Box<str>>,
    word: &str,
) -> &'c str {
    if !cache.contains_key(word) {
        if cache.len() >= STEM_CACHE_LIMIT {
            cache.clear();
        }
        let stem: Box<str> = stemmer.stem(word).into();
        cache.insert(word.into(), stem);
    }
    // Just inserted if it was missing; the fallback is never taken.
    cache.get(word).map_or("", |s| s)
}

impl Clone for Analyzer {
    fn clone(&self) -> Self {
        Analyzer::new(&self.config)
    }
}

impl fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Analyzer")
            .field("config", &self.config)
            .finish()
    }
}

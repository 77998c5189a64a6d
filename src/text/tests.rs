use super::*;
use crate::format::{ByteReader, ByteWriter};
use proptest::prelude::*;

fn default_terms(text: &str) -> Vec<String> {
    Analyzer::new(&AnalyzerConfig::default()).terms(text)
}

#[test]
fn stop_words_are_removed_and_words_stemmed() {
    assert_eq!(
        default_terms("The cat is running to the studies of THE dogs"),
        ["cat", "run", "studi", "dog"]
    );
}

#[test]
fn stemming_examples() {
    let a = Analyzer::new(&AnalyzerConfig::default());
    assert_eq!(a.terms("running"), ["run"]);
    assert_eq!(a.terms("studies"), ["studi"]);
    assert_eq!(a.terms("generously connected"), ["generous", "connect"]);
    // Second time through: served from the stem cache, same answer.
    assert_eq!(a.terms("running studies"), ["run", "studi"]);
}

#[test]
fn possessives_are_stripped() {
    let a = Analyzer::new(&AnalyzerConfig {
        stemmer: Stemmer::None,
        ..AnalyzerConfig::default()
    });
    assert_eq!(a.terms("John's car"), ["john", "car"]);
    assert_eq!(a.terms("Mary\u{2019}s hat"), ["mary", "hat"]);
    assert_eq!(a.terms("JAMES'S"), ["james"]);
    // Nothing left after stripping: kept as is. Plain plurals are untouched.
    assert_eq!(a.terms("cats dogs"), ["cats", "dogs"]);
    let off = Analyzer::new(&AnalyzerConfig {
        stemmer: Stemmer::None,
        possessive: false,
        ..AnalyzerConfig::default()
    });
    assert_eq!(off.terms("John's"), ["john's"]);
}

#[test]
fn unicode_is_lowercased_and_accents_kept() {
    let a = Analyzer::new(&AnalyzerConfig {
        stemmer: Stemmer::None,
        ..AnalyzerConfig::default()
    });
    assert_eq!(
        a.terms("ÉCLAIR Über Straße ΣΟΦΊΑ"),
        ["éclair", "über", "straße", "σοφία"]
    );
    // CJK ideographs are one word each.
    assert_eq!(a.terms("東京"), ["東", "京"]);
}

#[test]
fn hyphens_split_and_numbers_are_kept() {
    assert_eq!(default_terms("covid-19 in 2020"), ["covid", "19", "2020"]);
    assert_eq!(default_terms("pi is 3.14"), ["pi", "3.14"]);
}

#[test]
fn nothing_in_nothing_out() {
    for text in ["", "   \t\n ", "... --- !!! ,;:", "the a an of"] {
        assert!(default_terms(text).is_empty(), "{text:?}");
    }
}

#[test]
fn long_tokens_are_dropped() {
    let long = "x".repeat(41);
    let exact = "z".repeat(40);
    let text = format!("short {long} {exact}");
    assert_eq!(default_terms(&text), ["short".to_owned(), exact]);
    // Bytes, not chars: 21 two-byte chars are 42 bytes.
    assert!(default_terms(&"é".repeat(21)).is_empty());
    let none = Analyzer::new(&AnalyzerConfig {
        max_token_len: 0,
        ..AnalyzerConfig::default()
    });
    assert!(none.terms("anything at all").is_empty());
}

#[test]
fn everything_off_returns_raw_words() {
    let a = Analyzer::new(&AnalyzerConfig::raw());
    assert_eq!(
        a.terms("The Runner's studies, covid-19!"),
        ["The", "Runner's", "studies", "covid", "19"]
    );
}

#[test]
fn stop_words_are_case_sensitive_without_lowercasing() {
    let a = Analyzer::new(&AnalyzerConfig {
        lowercase: false,
        stemmer: Stemmer::None,
        ..AnalyzerConfig::default()
    });
    assert_eq!(a.terms("The the cat"), ["The", "cat"]);
}

#[test]
fn stop_set_is_lucenes() {
    assert_eq!(ENGLISH_STOPWORDS.len(), 33);
    assert!(ENGLISH_STOPWORDS.windows(2).all(|w| w[0] < w[1]));
    for w in ENGLISH_STOPWORDS {
        assert!(is_stopword(w));
    }
    assert!(!is_stopword("cat"));
    assert!(!is_stopword("The"));
}

#[test]
fn nested_calls_do_not_panic() {
    let a = Analyzer::new(&AnalyzerConfig::default());
    let mut inner = Vec::new();
    a.for_each_term("running dogs", |t| {
        inner.push((t.to_owned(), a.terms("studies")));
    });
    assert_eq!(inner.len(), 2);
    assert_eq!(inner[0].0, "run");
    assert_eq!(inner[1].1, ["studi"]);
}

#[test]
fn analyzer_is_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<Analyzer>();
}

#[test]
fn default_config_encoding_is_stable() {
    let mut w = ByteWriter::new();
    AnalyzerConfig::default().encode(&mut w);
    assert_eq!(w.into_inner(), [1, 0b111, 1, 40, 0, 0, 0]);
}

#[test]
fn decode_rejects_unknown_values() {
    for bytes in [
        &[2u8, 7, 1, 40, 0, 0, 0][..], // version
        &[1, 0x08, 1, 40, 0, 0, 0],    // flag bit
        &[1, 7, 9, 40, 0, 0, 0],       // stemmer code
        &[1, 7, 1, 40],                // truncated
        &[],
    ] {
        let mut r = ByteReader::new("cfg", bytes);
        assert!(AnalyzerConfig::decode(&mut r).is_err(), "{bytes:?}");
    }
}

fn any_config() -> impl Strategy<Value = AnalyzerConfig> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<u32>(),
    )
        .prop_map(
            |(lowercase, stopwords, possessive, english, max_token_len)| AnalyzerConfig {
                lowercase,
                stopwords,
                possessive,
                stemmer: if english {
                    Stemmer::English
                } else {
                    Stemmer::None
                },
                max_token_len,
            },
        )
}

proptest! {
    #[test]
    fn config_round_trips(cfg in any_config()) {
        let mut w = ByteWriter::new();
        cfg.encode(&mut w);
        let buf = w.into_inner();
        let mut r = ByteReader::new("cfg", &buf);
        prop_assert_eq!(AnalyzerConfig::decode(&mut r).unwrap(), cfg);
        prop_assert!(r.finish("cfg").is_ok());
    }

    #[test]
    fn decode_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
        let mut r = ByteReader::new("cfg", &bytes);
        let _ = AnalyzerConfig::decode(&mut r);
    }

    #[test]
    fn any_text_analyzes_without_panic(text in "\\PC{0,80}", cfg in any_config()) {
        let a = Analyzer::new(&cfg);
        for t in a.terms(&text) {
            prop_assert!(!t.is_empty());
        }
    }
}

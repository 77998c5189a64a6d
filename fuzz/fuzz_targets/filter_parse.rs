//! The filter parser on arbitrary text.
//!
//! Errors are fine (they must be `FilterSyntax`). A panic, a stack overflow or a hang is a bug;
//! so is a parsed filter whose `Display` does not parse back to the same filter, or writes
//! different text the second time. `fuzz/seeds/filter_parse/` holds example expressions.

#![no_main]

use libfuzzer_sys::fuzz_target;
use strata::{Error, Filter};

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    match Filter::parse(src) {
        Ok(f) => {
            let text = f.to_string();
            let again = Filter::parse(&text)
                .unwrap_or_else(|e| panic!("{src:?} displayed as {text:?}, which fails: {e}"));
            assert_eq!(again, f, "{src:?} -> {text:?}");
            assert_eq!(again.to_string(), text);
        }
        Err(Error::FilterSyntax { at, .. }) => assert!(at <= src.len()),
        Err(e) => panic!("{src:?}: not a syntax error: {e}"),
    }
});

//! The sparse decoders on arbitrary bytes: postings lists and the term dictionary.
//!
//! Input layout: byte 0 chooses what the rest is (even: postings, odd: term dictionary);
//! for postings, the next 4 bytes are the list's offset (taken modulo the remaining length
//! + 8, so it sometimes points past the end), the next 2 bytes a seed for the walk, and the
//! rest is the postings area. `fuzz/seeds/postings/` holds real lists written by the library
//! (see `fuzz/examples/make_seeds.rs`).
//!
//! Errors are fine. A panic, a hang or a huge allocation is a bug; so is a cursor that moves
//! backwards, a `seek` that returns a doc below its target, or a `block_for` that disagrees
//! with the block table.

#![no_main]

use libfuzzer_sys::fuzz_target;
use strata::sparse::dict::TermDict;
use strata::sparse::postings::PostingsList;
use strata::sparse::{DocCursor, TERMINATED};

/// Cursor operations per input.
const STEPS: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if selector % 2 == 0 {
        postings(rest);
    } else {
        dict(rest);
    }
});

fn postings(data: &[u8]) {
    let Some((head, area)) = data.split_at_checked(6) else {
        return;
    };
    let raw = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    let offset = u64::from(raw) % (area.len() as u64 + 8);
    let mut seed = u64::from(u16::from_le_bytes([head[4], head[5]])) | 1;
    let Ok(list) = PostingsList::open("postings", area, offset) else {
        return;
    };
    assert!(list.byte_len() <= area.len());
    let metas: Vec<_> = (0..list.num_blocks().min(1 << 16))
        .map(|i| list.block_meta(i).expect("meta of an existing block"))
        .collect();
    assert!(list.block_meta(list.num_blocks()).is_none());

    let mut c = list.cursor();
    assert_eq!(c.len(), list.df());
    let mut prev = c.doc();
    for _ in 0..STEPS {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let target = match (seed >> 8) % 3 {
            0 => prev.saturating_add((seed >> 16) as u32 % 300),
            1 => (seed >> 16) as u32,
            _ => prev.saturating_sub((seed >> 16) as u32 % 50),
        };
        let doc = match seed % 4 {
            0 | 1 => c.advance(),
            2 => {
                let d = c.seek(target);
                assert!(d >= target, "seek({target}) returned {d}");
                d
            }
            _ => {
                let got = c.block_for(target);
                if list.num_blocks() <= metas.len() {
                    // From the block holding the current posting on; nothing once terminated.
                    let want = if prev == TERMINATED {
                        None
                    } else {
                        let cur = metas.iter().position(|m| m.last_doc >= prev).unwrap_or(0);
                        metas
                            .get(cur..)
                            .and_then(|m| m.iter().find(|m| m.last_doc >= target))
                            .copied()
                    };
                    assert_eq!(got, want, "block_for({target})");
                }
                assert_eq!(c.doc(), prev, "block_for moved the cursor");
                c.doc()
            }
        };
        let _ = c.freq();
        assert!(doc >= prev, "the cursor went back from {prev} to {doc}");
        prev = doc;
        if doc == TERMINATED && seed % 16 == 0 {
            c = list.cursor();
            prev = c.doc();
        }
    }
}

fn dict(data: &[u8]) {
    let Ok(dict) = TermDict::open("terms", data) else {
        return;
    };
    let mut n = 0usize;
    let mut last: Option<Vec<u8>> = None;
    for (term, value) in dict.stream().take(10_000) {
        assert_eq!(dict.get(&term), Some(value));
        if let Some(l) = &last {
            assert!(*l < term, "stream out of order");
        }
        last = Some(term);
        n += 1;
    }
    assert!(n == dict.len() || n == 10_000);
    let _ = dict.get(data.get(..data.len().min(8)).unwrap_or_default());
}

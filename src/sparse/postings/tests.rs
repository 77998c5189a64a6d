use super::*;
use crate::error::Error;
use crate::sparse::{BLOCK_LEN, BlockMeta, DocCursor, TERMINATED};
use proptest::prelude::*;

/// One posting of a reference list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct P {
    doc: u32,
    freq: u32,
    len: u32,
}

fn gap() -> impl Strategy<Value = u32> {
    prop_oneof![
        6 => 1u32..4,
        2 => 1u32..2000,
        1 => 1u32..=u32::MAX - 1,
    ]
}

fn freq() -> impl Strategy<Value = u32> {
    prop_oneof![6 => 1u32..8, 2 => 1u32..=255, 1 => 1u32..=u32::MAX]
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => 0usize..1000,
        1 => prop::sample::select(vec![0usize, 1, 127, 128, 129, 255, 256, 257, 384]),
    ]
}

/// A list of postings: cumulative gaps (the first doc is `gap - 1`, so doc 0 occurs), cut
/// where a doc would reach `TERMINATED`.
fn postings() -> impl Strategy<Value = Vec<P>> {
    size()
        .prop_flat_map(|n| prop::collection::vec((gap(), freq(), any::<u32>()), n))
        .prop_map(|raw| {
            let mut out: Vec<P> = Vec::with_capacity(raw.len());
            for (g, freq, len) in raw {
                let doc = match out.last() {
                    None => Some(g - 1),
                    Some(p) => p.doc.checked_add(g),
                };
                match doc {
                    Some(doc) if doc != TERMINATED => out.push(P { doc, freq, len }),
                    _ => break,
                }
            }
            out
        })
}

/// Encodes `list` after `junk` bytes (so offsets are not 0); returns the bytes and offset.
fn encode(list: &[P], junk: usize) -> (Vec<u8>, u64) {
    let mut w = PostingsWriter::new();
    let mut out = vec![0xA5; junk];
    for p in list {
        w.push(p.doc, p.freq, p.len).unwrap();
    }
    let (offset, df) = w.finish(&mut out).unwrap();
    assert_eq!(offset, junk as u64);
    assert_eq!(df as usize, list.len());
    (out, offset)
}

fn reference_metas(list: &[P]) -> Vec<BlockMeta> {
    list.chunks(BLOCK_LEN)
        .map(|c| BlockMeta {
            last_doc: c.last().unwrap().doc,
            max_freq: c.iter().map(|p| p.freq).max().unwrap(),
            min_len: c.iter().map(|p| p.len).min().unwrap(),
        })
        .collect()
}

fn collect(c: &mut PostingsCursor<'_>, limit: usize) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    while c.doc() != TERMINATED && out.len() < limit {
        out.push((c.doc(), c.freq()));
        c.advance();
    }
    out
}

/// Walks a cursor over possibly damaged bytes with every operation, a bounded number of
/// steps; checks only what holds for any bytes.
fn walk_anything(bytes: &[u8], offset: u64, ops: &[u32]) {
    let Ok(list) = PostingsList::open("f", bytes, offset) else {
        return;
    };
    assert!(list.byte_len() <= bytes.len());
    for i in 0..list.num_blocks() {
        assert!(list.block_meta(i).is_some());
    }
    assert!(list.block_meta(list.num_blocks()).is_none());
    let mut c = list.cursor();
    let mut prev = None;
    for (step, &op) in ops.iter().enumerate().take(2000) {
        let d = match step % 3 {
            0 => c.advance(),
            1 => c.seek(op),
            _ => {
                let _ = c.block_for(op);
                c.doc()
            }
        };
        let _ = c.freq();
        if let Some(p) = prev {
            assert!(d >= p, "cursor went backwards");
        }
        prev = Some(d);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip(list in postings(), junk in 0usize..5) {
        let (bytes, offset) = encode(&list, junk);
        let pl = PostingsList::open("f", &bytes, offset).unwrap();
        prop_assert_eq!(pl.df() as usize, list.len());
        prop_assert_eq!(pl.byte_len(), bytes.len() - junk);
        let metas = reference_metas(&list);
        prop_assert_eq!(pl.num_blocks(), metas.len());
        for (i, m) in metas.iter().enumerate() {
            prop_assert_eq!(pl.block_meta(i), Some(*m));
        }
        prop_assert_eq!(pl.block_meta(metas.len()), None);
        let mut c = pl.cursor();
        prop_assert_eq!(DocCursor::len(&c), list.len() as u32);
        prop_assert_eq!(c.is_empty(), list.is_empty());
        prop_assert_eq!(c.num_blocks(), metas.len());
        let got = collect(&mut c, usize::MAX);
        let want: Vec<(u32, u32)> = list.iter().map(|p| (p.doc, p.freq)).collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(c.advance(), TERMINATED);
        prop_assert_eq!(c.seek(0), TERMINATED);
        prop_assert_eq!(c.block_for(0), None);
    }

    #[test]
    fn runs_visit_what_advance_visits(list in postings(), seeks in prop::collection::vec(any::<u32>(), 0..8)) {
        let (bytes, offset) = encode(&list, 1);
        let pl = PostingsList::open("f", &bytes, offset).unwrap();
        // Runs from the start, and runs after a seek into the middle of a block.
        let mut targets = seeks;
        targets.sort_unstable();
        targets.insert(0, 0);
        for t in targets {
            let mut a = pl.cursor();
            let mut b = pl.cursor();
            a.seek(t);
            b.seek(t);
            let want = collect(&mut a, usize::MAX);
            let mut got = Vec::new();
            loop {
                let (docs, freqs) = b.run();
                prop_assert_eq!(docs.len(), freqs.len());
                if docs.is_empty() {
                    prop_assert_eq!(b.doc(), TERMINATED);
                    break;
                }
                prop_assert_eq!(docs.first().copied(), Some(b.doc()));
                got.extend(docs.iter().copied().zip(freqs.iter().copied()));
                b.skip_run();
            }
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn seek_matches_reference(list in postings(), targets in prop::collection::vec(any::<u32>(), 0..60), small in any::<bool>()) {
        let (bytes, offset) = encode(&list, 3);
        let pl = PostingsList::open("f", &bytes, offset).unwrap();
        let mut c = pl.cursor();
        let last = list.last().map_or(1, |p| p.doc.max(1));
        // Half the time, targets inside the list's range (rising and falling).
        let mut targets: Vec<u32> = if small {
            targets.iter().map(|t| t % last.saturating_add(2)).collect()
        } else {
            targets
        };
        if targets.len().is_multiple_of(2) {
            targets.sort_unstable();
        }
        let mut i = 0; // reference position
        for t in targets {
            let got = c.seek(t);
            // Seek never moves backwards.
            while i < list.len() && list[i].doc < t {
                i += 1;
            }
            let want = list.get(i).map_or(TERMINATED, |p| p.doc);
            prop_assert_eq!(got, want);
            prop_assert_eq!(c.doc(), want);
            if let Some(p) = list.get(i) {
                prop_assert_eq!(c.freq(), p.freq);
            }
        }
    }

    #[test]
    fn block_for_matches_table_and_keeps_position(list in postings(), ops in prop::collection::vec((0u8..3, any::<u32>()), 0..100)) {
        let (bytes, offset) = encode(&list, 0);
        let pl = PostingsList::open("f", &bytes, offset).unwrap();
        let metas = reference_metas(&list);
        let last = list.last().map_or(1, |p| p.doc.max(1));
        let mut c = pl.cursor();
        let mut i = 0;
        for (op, t) in ops {
            let t = if t % 2 == 0 { t % last.saturating_add(2) } else { t };
            match op {
                0 => {
                    if i < list.len() { i += 1; }
                    c.advance();
                }
                1 => {
                    c.seek(t);
                    while i < list.len() && list[i].doc < t { i += 1; }
                }
                _ => {
                    // Blocks from the one holding the current posting on.
                    let want = if i < list.len() {
                        metas[i / BLOCK_LEN..].iter().find(|m| m.last_doc >= t).copied()
                    } else {
                        None
                    };
                    prop_assert_eq!(c.block_for(t), want);
                }
            }
            prop_assert_eq!(c.doc(), list.get(i).map_or(TERMINATED, |p| p.doc));
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn truncated_or_flipped_bytes_never_panic(list in postings(), cut in any::<prop::sample::Index>(), flips in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 0..6), ops in prop::collection::vec(any::<u32>(), 0..300)) {
        let (mut bytes, offset) = encode(&list, 2);
        let truncated = &bytes[..cut.index(bytes.len() + 1)];
        walk_anything(truncated, offset, &ops);
        for (at, bit) in flips {
            let k = at.index(bytes.len());
            bytes[k] ^= 1 << bit;
        }
        walk_anything(&bytes, offset, &ops);
        walk_anything(&bytes, 0, &ops);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), offset in 0u64..20, ops in prop::collection::vec(any::<u32>(), 0..100)) {
        walk_anything(&bytes, offset, &ops);
    }
}

#[test]
fn push_violations_are_errors() {
    let mut w = PostingsWriter::new();
    w.push(5, 1, 0).unwrap();
    assert!(matches!(w.push(5, 1, 0), Err(Error::InvalidArgument(_))));
    assert!(matches!(w.push(4, 1, 0), Err(Error::InvalidArgument(_))));
    assert!(matches!(w.push(6, 0, 0), Err(Error::InvalidArgument(_))));
    assert!(matches!(
        w.push(TERMINATED, 1, 0),
        Err(Error::InvalidArgument(_))
    ));
    // The failed pushes left the list as it was.
    w.push(6, 2, 0).unwrap();
    let mut out = Vec::new();
    let (offset, df) = w.finish(&mut out).unwrap();
    assert_eq!(df, 2);
    let pl = PostingsList::open("f", &out, offset).unwrap();
    assert_eq!(collect(&mut pl.cursor(), 10), vec![(5, 1), (6, 2)]);
}

#[test]
fn writer_resets_between_terms_and_lists_are_self_delimiting() {
    let mut w = PostingsWriter::default();
    let mut out = Vec::new();
    let mut offsets = Vec::new();
    for term in 0..4u32 {
        for d in 0..(term * 100) {
            w.push(d * (term + 1), term + 1, d).unwrap();
        }
        offsets.push(w.finish(&mut out).unwrap());
    }
    let mut end = 0;
    for (term, &(offset, df)) in offsets.iter().enumerate() {
        assert_eq!(offset, end);
        let pl = PostingsList::open("f", &out, offset).unwrap();
        assert_eq!(pl.df(), df);
        end = offset + pl.byte_len() as u64;
        let got = collect(&mut pl.cursor(), usize::MAX);
        let t = term as u32;
        let want: Vec<(u32, u32)> = (0..t * 100).map(|d| (d * (t + 1), t + 1)).collect();
        assert_eq!(got, want);
    }
    assert_eq!(end, out.len() as u64);
}

#[test]
fn empty_list_and_extremes() {
    let mut w = PostingsWriter::new();
    let mut out = Vec::new();
    let (offset, df) = w.finish(&mut out).unwrap();
    assert_eq!((offset, df, out.len()), (0, 0, 8));
    let pl = PostingsList::open("f", &out, 0).unwrap();
    let mut c = pl.cursor();
    assert_eq!(c.doc(), TERMINATED);
    assert!(c.is_empty());
    assert_eq!(c.block_for(0), None);

    w.push(0, u32::MAX, 7).unwrap();
    w.push(u32::MAX - 1, 1, 3).unwrap();
    let (offset, _) = w.finish(&mut out).unwrap();
    let pl = PostingsList::open("f", &out, offset).unwrap();
    assert_eq!(
        pl.block_meta(0),
        Some(BlockMeta {
            last_doc: u32::MAX - 1,
            max_freq: u32::MAX,
            min_len: 3
        })
    );
    let mut c = pl.cursor();
    assert_eq!(collect(&mut c, 10), vec![(0, u32::MAX), (u32::MAX - 1, 1)]);
}

#[test]
fn consecutive_docs_pack_at_width_zero() {
    let mut w = PostingsWriter::new();
    for d in 1000..1000 + 256 {
        w.push(d, 1, 1).unwrap();
    }
    let mut out = Vec::new();
    w.finish(&mut out).unwrap();
    // Header, two table entries, and per block: two width bytes and a zero-width doc block;
    // the first block's first gap is 1000, so it packs at 10 bits.
    assert_eq!(out.len(), 8 + 2 * 16 + (2 + 128 * 10 / 8) + 2);
}

#[test]
fn open_rejects_bad_headers_with_the_offset() {
    let mut w = PostingsWriter::new();
    for d in 0..300 {
        w.push(d * 3, 2, 1).unwrap();
    }
    let mut out = vec![0u8; 10];
    let (offset, _) = w.finish(&mut out).unwrap();
    // Wrong block count.
    let mut bad = out.clone();
    bad[14] = 9;
    match PostingsList::open("post", &bad, offset) {
        Err(Error::Corrupt { file, offset, .. }) => {
            assert_eq!(file, "post");
            assert_eq!(offset, 14);
        }
        other => panic!("{other:?}"),
    }
    // Offset past the end, truncated data.
    assert!(PostingsList::open("post", &out, out.len() as u64 + 1).is_err());
    assert!(PostingsList::open("post", &out, u64::MAX).is_err());
    assert!(PostingsList::open("post", &out[..out.len() - 1], offset).is_err());
    // A damaged block's data ends the cursor early instead of yielding wrong docs.
    let mut bad = out.clone();
    let data_at = offset as usize + 8 + 3 * 16;
    bad[data_at] = 33; // doc_bits > 32
    let pl = PostingsList::open("post", &bad, offset).unwrap();
    assert_eq!(pl.cursor().doc(), TERMINATED);
}

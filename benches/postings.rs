//! Postings decoding and term dictionary lookups.
//!
//! Decoding: a full walk (`advance` to the end, reading every freq) of a 1M-posting list with
//! small gaps (1..=8, ~4 bits per doc) and with large gaps (up to ~4000, ~12 bits per doc);
//! next to it the same walk over a plain `Vec<(u32, u32)>`, the uncompressed baseline. Seeks:
//! one `seek` to every ~50th doc of the list. Dictionary: `get` of existing and of missing
//! terms in a 100k-term fst. Throughput is in postings (or lookups) per second; compare lines
//! of one group, which were measured in the same run. Run with
//! `cargo bench --bench postings -- --warm-up-time 1 --measurement-time 2`.

mod common;
use common::short;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use strata::rng::splitmix64;
use strata::sparse::dict::{TermDict, TermDictBuilder};
use strata::sparse::postings::{PostingsList, PostingsWriter};
use strata::sparse::{DocCursor, TERMINATED};

const POSTINGS: usize = 1_000_000;
const TERMS: usize = 100_000;
const LOOKUPS: usize = 1000;

/// A list of `POSTINGS` docs with gaps in `1..=max_gap` and freqs mostly small.
fn make_list(max_gap: u64, seed: u64) -> Vec<(u32, u32)> {
    let mut s = seed;
    let mut doc = 0u32;
    (0..POSTINGS)
        .map(|_| {
            let r = splitmix64(&mut s);
            doc += 1 + (r % max_gap) as u32;
            let freq = 1 + ((r >> 32) % 100).saturating_sub(80) as u32;
            (doc, freq)
        })
        .collect()
}

fn encode(list: &[(u32, u32)]) -> Vec<u8> {
    let mut w = PostingsWriter::new();
    for &(d, f) in list {
        w.push(d, f, 100).expect("push");
    }
    let mut out = Vec::new();
    w.finish(&mut out).expect("finish");
    out
}

fn walk(list: &PostingsList<'_>) -> u64 {
    let mut c = list.cursor();
    let mut sum = 0u64;
    while c.doc() != TERMINATED {
        sum += u64::from(c.freq());
        c.advance();
    }
    sum
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("postings_walk_1M");
    short(&mut g);
    g.throughput(Throughput::Elements(POSTINGS as u64));
    for (name, max_gap) in [("small_gaps", 8), ("large_gaps", 4000)] {
        let list = make_list(max_gap, 7);
        let bytes = encode(&list);
        println!(
            "{name}: {:.2} bytes per posting",
            bytes.len() as f64 / POSTINGS as f64
        );
        let pl = PostingsList::open("bench", &bytes, 0).expect("open");
        assert_eq!(
            walk(&pl),
            list.iter().map(|&(_, f)| u64::from(f)).sum::<u64>()
        );
        g.bench_function(format!("{name}/cursor"), |b| {
            b.iter(|| walk(black_box(&pl)))
        });
        g.bench_function(format!("{name}/plain_vec"), |b| {
            b.iter(|| {
                black_box(&list)
                    .iter()
                    .map(|&(_, f)| u64::from(f))
                    .sum::<u64>()
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("postings_seek_every_50th");
    short(&mut g);
    for (name, max_gap) in [("small_gaps", 8), ("large_gaps", 4000)] {
        let list = make_list(max_gap, 11);
        let bytes = encode(&list);
        let pl = PostingsList::open("bench", &bytes, 0).expect("open");
        let mut s = 3u64;
        let mut targets = Vec::new();
        let mut i = 0usize;
        while i < list.len() {
            targets.push(list[i].0);
            i += 25 + (splitmix64(&mut s) % 50) as usize;
        }
        g.throughput(Throughput::Elements(targets.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut c = pl.cursor();
                let mut sum = 0u64;
                for &t in black_box(&targets) {
                    if c.seek(t) == t {
                        sum += u64::from(c.freq());
                    }
                }
                sum
            })
        });
    }
    g.finish();
}

/// Terms like a real vocabulary: varied lengths, shared prefixes.
fn term(i: u64) -> Vec<u8> {
    let mut s = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let h = splitmix64(&mut s);
    let len = 3 + (h % 9) as usize;
    let mut t: Vec<u8> = (0..len)
        .map(|k| b'a' + ((h >> (5 * k % 60)) % 26) as u8)
        .collect();
    t.extend_from_slice(format!("{i}").as_bytes());
    t
}

fn dictionary(c: &mut Criterion) {
    let mut terms: Vec<Vec<u8>> = (0..TERMS as u64).map(term).collect();
    terms.sort();
    terms.dedup();
    let mut b = TermDictBuilder::new();
    for (i, t) in terms.iter().enumerate() {
        b.insert(t, i as u64 * 24).expect("insert");
    }
    let bytes = b.finish().expect("finish");
    println!(
        "fst: {} terms in {} bytes ({:.2} bytes per term)",
        terms.len(),
        bytes.len(),
        bytes.len() as f64 / terms.len() as f64
    );
    let dict = TermDict::open("bench", &bytes).expect("open");
    let mut s = 5u64;
    let existing: Vec<&[u8]> = (0..LOOKUPS)
        .map(|_| terms[(splitmix64(&mut s) % terms.len() as u64) as usize].as_slice())
        .collect();
    // Same shapes, but with a suffix no term has.
    let missing: Vec<Vec<u8>> = existing
        .iter()
        .map(|t| {
            let mut m = t.to_vec();
            m.push(b'~');
            m
        })
        .collect();

    let mut g = c.benchmark_group("fst_get_100k");
    short(&mut g);
    g.throughput(Throughput::Elements(LOOKUPS as u64));
    g.bench_function("existing", |b| {
        b.iter(|| {
            black_box(&existing)
                .iter()
                .filter_map(|t| dict.get(t))
                .sum::<u64>()
        })
    });
    g.bench_function("missing", |b| {
        b.iter(|| {
            black_box(&missing)
                .iter()
                .filter(|t| dict.get(t).is_some())
                .count()
        })
    });
    g.finish();
}

criterion_group!(benches, decode, dictionary);
criterion_main!(benches);

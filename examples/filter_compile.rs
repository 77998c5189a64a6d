//! How long filter compilation takes through the attribute index, next to a scan of the same
//! values held in memory (what a filter costs without an index), in the same run.
//!
//! Builds an index of N seeded documents with four attributes through the transactional API
//! (four commits, so four segments), reopens it, and for each filter prints the documents that
//! pass (the scan must agree) and the median of R compilations:
//!
//! ```sh
//! taskset -c 1 cargo run --release --example filter_compile -- [N=1000000] [R=21]
//! ```

use std::time::Instant;
use strata::text::AnalyzerConfig;
use strata::{AttrKind, AttrValue, Document, Filter, Index, IndexOptions, KeyKind, Schema};

/// The values one document holds, for the scan.
struct Doc {
    year: Option<i64>,
    lang: Option<u8>,
    tags: Vec<u8>,
    score: Option<f64>,
}

const LANGS: [&str; 8] = ["en", "de", "fr", "es", "ja", "zh", "pt", "it"];

fn next(s: &mut u64) -> u64 {
    strata::rng::splitmix64(s)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> strata::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let reps: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(21);
    let dir = tempfile::tempdir().map_err(|e| strata::Error::io("tempdir", "", e))?;
    let schema = Schema::new(KeyKind::U64)
        .with_text("body", AnalyzerConfig::default(), false)
        .with_attribute("year", AttrKind::I64)
        .with_attribute("lang", AttrKind::Keyword)
        .with_attribute("tags", AttrKind::Keyword)
        .with_attribute("score", AttrKind::F64);
    let options = IndexOptions {
        background_merges: false,
        ..IndexOptions::default()
    };
    let fs = |p: &std::path::Path| -> strata::Result<std::sync::Arc<dyn strata::io::Directory>> {
        let d = strata::io::FsDirectory::open(p).map_err(|e| strata::Error::io("open", "", e))?;
        Ok(std::sync::Arc::new(d))
    };
    let mut index = Index::create_in(fs(dir.path())?, schema, options.clone())?;
    let mut seed = 42u64;
    let mut docs = Vec::with_capacity(n as usize);
    let t = Instant::now();
    let per_commit = n.div_ceil(4).max(1);
    for chunk in 0..n.div_ceil(per_commit) {
        let mut txn = index.begin();
        for k in chunk * per_commit..((chunk + 1) * per_commit).min(n) {
            let r = next(&mut seed);
            let d = Doc {
                year: (!r.is_multiple_of(10)).then_some(1990 + (r >> 8) as i64 % 36),
                // Skewed: en is about half of the documents that have a language.
                lang: (!r.is_multiple_of(7)).then(|| {
                    let x = (r >> 16) % 16;
                    if x < 8 { 0 } else { (x - 7) as u8 % 8 }
                }),
                tags: (0..(r >> 24) % 4)
                    .map(|i| ((r >> (28 + 6 * i)) % 50) as u8)
                    .collect(),
                score: (!r.is_multiple_of(5)).then(|| ((r >> 40) % 10_000) as f64 / 100.0),
            };
            let mut doc = Document::with_key(k).with_text("body", "x");
            if let Some(y) = d.year {
                doc = doc.with_attr("year", y);
            }
            if let Some(l) = d.lang {
                doc = doc.with_attr("lang", LANGS[l as usize]);
            }
            if !d.tags.is_empty() {
                let tags: Vec<String> = d.tags.iter().map(|t| format!("t{t}")).collect();
                doc = doc.with_attr("tags", AttrValue::Keywords(tags));
            }
            if let Some(s) = d.score {
                doc = doc.with_attr("score", s);
            }
            txn.add(doc)?;
            docs.push(d);
        }
        txn.commit()?;
    }
    let build_s = t.elapsed().as_secs_f64();
    let schema = index.schema();
    drop(index);
    // The attribute files decoded (and cross-checked) on their own, the part of an open that
    // the attributes add.
    let t = Instant::now();
    let mut decoded = 0;
    for e in std::fs::read_dir(dir.path()).map_err(|e| strata::Error::io("list", "", e))? {
        let p = e.map_err(|e| strata::Error::io("list", "", e))?.path();
        if p.extension().is_some_and(|x| x == "attr") {
            let bytes = std::fs::read(&p).map_err(|e| strata::Error::io("read", "", e))?;
            let body = &bytes[..bytes.len() - strata::format::TRAILER_LEN];
            let rows = u64::from_le_bytes(body[..8].try_into().unwrap_or_default());
            strata::segment::attrs::AttrColumns::decode("attr", body, rows, &schema)?;
            decoded += 1;
        }
    }
    let decode_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let index = Index::open_in(fs(dir.path())?, options)?;
    let open_ms = t.elapsed().as_secs_f64() * 1e3;
    let snap = index.snapshot();
    let attr_bytes: u64 = snap
        .segments()
        .iter()
        .flat_map(|s| s.meta.components.iter())
        .filter(|c| c.kind == strata::format::FileKind::Attrs)
        .map(|c| c.len)
        .sum();
    println!(
        "{n} documents, {} segments, built in {build_s:.1} s, reopened (every component \
         verified, attributes decoded) in {open_ms:.0} ms, of which the {decoded} attribute files \
         take about {decode_ms:.0} ms; attribute files {:.1} MB, resident \
         {:.1} MB; median of {reps} runs",
        snap.segments().len(),
        attr_bytes as f64 / 1e6,
        snap.resident_bytes() as f64 / 1e6,
    );
    type Pred = Box<dyn Fn(&Doc) -> bool>;
    let en = 0u8;
    let cases: Vec<(&str, Pred)> = vec![
        ("lang = 'en'", Box::new(move |d| d.lang == Some(en))),
        (
            "lang IN ('ja', 'zh', 'pt')",
            Box::new(|d| matches!(d.lang, Some(4..=6))),
        ),
        ("tags = 't7'", Box::new(|d| d.tags.contains(&7))),
        (
            "year >= 2015",
            Box::new(|d| d.year.is_some_and(|y| y >= 2015)),
        ),
        ("year = 2001", Box::new(|d| d.year == Some(2001))),
        (
            "score BETWEEN 10.5 AND 11.5",
            Box::new(|d| d.score.is_some_and(|s| (10.5..=11.5).contains(&s))),
        ),
        (
            "year >= 2015 AND lang = 'en'",
            Box::new(move |d| d.year.is_some_and(|y| y >= 2015) && d.lang == Some(en)),
        ),
        (
            "(year < 1995 OR tags IN ('t1', 't2')) AND NOT EXISTS score",
            Box::new(|d| {
                (d.year.is_some_and(|y| y < 1995) || d.tags.iter().any(|t| *t == 1 || *t == 2))
                    && d.score.is_none()
            }),
        ),
    ];
    println!("filter | passing | compile ms | scan ms | scan / compile");
    for (text, pred) in &cases {
        let f = Filter::parse(text)?;
        let mut compile = Vec::new();
        let mut passing = 0;
        for _ in 0..reps {
            let t = Instant::now();
            let set = snap.compile_filter(&f)?;
            compile.push(t.elapsed().as_secs_f64() * 1e3);
            passing = set.len();
        }
        let mut scan = Vec::new();
        let mut scanned = 0;
        for _ in 0..reps {
            let t = Instant::now();
            let mut rows = roaring::RoaringBitmap::new();
            for (i, d) in docs.iter().enumerate() {
                if pred(d) {
                    rows.insert(i as u32);
                }
            }
            scan.push(t.elapsed().as_secs_f64() * 1e3);
            scanned = rows.len();
        }
        assert_eq!(passing, scanned, "{text}: the index and the scan disagree");
        let (c, s) = (median(compile), median(scan));
        println!("{text} | {passing} | {c:.3} | {s:.3} | {:.1}x", s / c);
    }
    Ok(())
}

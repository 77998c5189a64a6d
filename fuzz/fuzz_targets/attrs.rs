//! The attributes component decoder on arbitrary bytes.
//!
//! Input layout: byte 0 chooses the schema (bit i: attribute i of `keyword`, `year` (i64),
//! `score` (f64), `tags` (keyword) is declared), the rest is the body; the row count is read
//! from the body's first 8 bytes (capped), so bodies are not rejected only for a wrong count.
//! `fuzz/seeds/attrs/` holds real bodies written by the library (see
//! `fuzz/examples/make_seeds.rs`).
//!
//! Errors are fine. A panic, a hang or a huge allocation is a bug; so is a decoded column that
//! breaks what the decoder promises: values of the declared kind, keywords sorted and distinct,
//! no NaN, and index look-ups (keyword equality, numeric and keyword ranges, presence) that
//! agree with the column's values. Decoded values written again decode to the same values.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::ops::Bound;
use strata::segment::Row;
use strata::segment::attrs::{AttrColumns, encode};
use strata::{AttrKind, AttrValue, Key, KeyKind, Schema};

const ATTRS: [(&str, AttrKind); 4] = [
    ("lang", AttrKind::Keyword),
    ("year", AttrKind::I64),
    ("score", AttrKind::F64),
    ("tags", AttrKind::Keyword),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let mut schema = Schema::new(KeyKind::U64).with_text("t", Default::default(), false);
    for (i, (name, kind)) in ATTRS.iter().enumerate() {
        if selector & (1 << i) != 0 {
            schema = schema.with_attribute(name, *kind);
        }
    }
    let rows = body
        .get(..8)
        .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or_default()));
    if rows > 1 << 16 {
        let _ = AttrColumns::decode("f.attr", body, rows, &schema);
        return;
    }
    let Ok(cols) = AttrColumns::decode("f.attr", body, rows, &schema) else {
        return;
    };
    check(&cols, &schema, rows as usize);
    // Written again, the values decode to the same values.
    let table: Vec<Vec<(u16, AttrValue)>> = (0..rows as usize).map(|r| cols.row(r)).collect();
    let rows_again: Vec<Row> = table
        .iter()
        .enumerate()
        .map(|(i, attrs)| Row {
            key: Key::U64(i as u64),
            vector: None,
            text: Vec::new(),
            sparse: Vec::new(),
            attrs: attrs.clone(),
            codes: None,
        })
        .collect();
    let again = encode(&schema, &rows_again);
    let cols2 = AttrColumns::decode("again", &again, rows, &schema).expect("re-encoded decodes");
    for (r, want) in table.iter().enumerate() {
        assert_eq!(&cols2.row(r), want, "row {r} after re-encoding");
    }
});

fn check(cols: &AttrColumns, schema: &Schema, rows: usize) {
    for a in schema.attributes() {
        let col = cols.column(a.index).expect("a column per attribute");
        let values: Vec<Option<AttrValue>> = (0..rows).map(|r| col.value(r)).collect();
        for (r, v) in values.iter().enumerate() {
            assert_eq!(v.is_some(), col.present().contains(r as u32));
            match (a.kind, v) {
                (_, None) => {}
                (AttrKind::Keyword, Some(AttrValue::Keywords(l))) => {
                    assert!(!l.is_empty() && l.windows(2).all(|w| w[0] < w[1]), "{l:?}");
                }
                (AttrKind::I64, Some(AttrValue::I64(_))) => {}
                (AttrKind::F64, Some(AttrValue::F64(x))) => assert!(!x.is_nan()),
                (k, v) => panic!("{k:?} column holds {v:?}"),
            }
        }
        // Index look-ups agree with the values (a few probes taken from the data).
        let probes: Vec<&AttrValue> = values.iter().flatten().take(4).collect();
        for p in probes {
            let brute = |pred: &dyn Fn(&AttrValue) -> bool| -> Vec<u32> {
                values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.as_ref().is_some_and(pred))
                    .map(|(r, _)| r as u32)
                    .collect()
            };
            match p {
                AttrValue::Keywords(l) => {
                    let s = l[0].as_str();
                    let has = |v: &AttrValue, f: &dyn Fn(&str) -> bool| match v {
                        AttrValue::Keywords(l) => l.iter().any(|x| f(x)),
                        _ => false,
                    };
                    let eq: Vec<u32> = col.keyword_rows(s).iter().collect();
                    assert_eq!(eq, brute(&|v| has(v, &|x| x == s)));
                    let ge: Vec<u32> = col
                        .keyword_range(Bound::Included(s), Bound::Unbounded)
                        .iter()
                        .collect();
                    assert_eq!(ge, brute(&|v| has(v, &|x| x >= s)));
                    let lt: Vec<u32> = col
                        .keyword_range(Bound::Unbounded, Bound::Excluded(s))
                        .iter()
                        .collect();
                    assert_eq!(lt, brute(&|v| has(v, &|x| x < s)));
                }
                AttrValue::I64(x) => {
                    let x = *x;
                    let got: Vec<u32> = col
                        .i64_range(Bound::Excluded(x), Bound::Unbounded)
                        .iter()
                        .collect();
                    assert_eq!(got, brute(&|v| matches!(v, AttrValue::I64(y) if *y > x)));
                    let got: Vec<u32> = col
                        .i64_range(Bound::Included(x), Bound::Included(x))
                        .iter()
                        .collect();
                    assert_eq!(got, brute(&|v| matches!(v, AttrValue::I64(y) if *y == x)));
                }
                AttrValue::F64(x) => {
                    let x = *x;
                    let got: Vec<u32> = col
                        .f64_range(Bound::Unbounded, Bound::Included(x))
                        .iter()
                        .collect();
                    assert_eq!(got, brute(&|v| matches!(v, AttrValue::F64(y) if *y <= x)));
                    let got: Vec<u32> = col
                        .f64_range(Bound::Included(x), Bound::Excluded(x))
                        .iter()
                        .collect();
                    assert!(got.is_empty());
                }
            }
        }
    }
}

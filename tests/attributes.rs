//! Metadata attributes and the filter language, through the real path (transactions, commit,
//! reopen, deletes, merges, crashes): every compiled filter equals a brute-force three-valued
//! evaluation over a model of the documents, for seeded random documents and expressions.

mod common;
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use strata::io::{CrashMode, Directory, FaultDirectory, MemDirectory};
use strata::search::{CmpOp, Literal};
use strata::text::AnalyzerConfig;
use strata::{AttrKind, AttrValue, Document, Error, Filter, Index, Key, KeyKind, Schema, Snapshot};

/// What the model knows of a document: its attributes (keywords sorted and deduplicated).
#[derive(Debug, Clone, PartialEq)]
struct Attrs {
    year: Option<i64>,
    lang: Option<String>,
    tags: Vec<String>,
    score: Option<f64>,
}

type AttrModel = BTreeMap<u64, Attrs>;

const LANGS: [&str; 4] = ["de", "en", "fr", "ja"];
const TAGS: [&str; 5] = ["a", "b", "c", "d", "e"];

fn attr_schema() -> Schema {
    Schema::new(KeyKind::U64)
        .with_text("body", AnalyzerConfig::default(), false)
        .with_attribute("year", AttrKind::I64)
        .with_attribute("lang", AttrKind::Keyword)
        .with_attribute("tags", AttrKind::Keyword)
        .with_attribute("score", AttrKind::F64)
}

fn random_attrs(rng: &mut Rng) -> Attrs {
    let year = (rng.below(5) != 0).then(|| 2000 + rng.below(20) as i64);
    let lang = (rng.below(4) != 0).then(|| LANGS[rng.below(4) as usize].to_owned());
    let mut tags: Vec<String> = (0..rng.below(4))
        .map(|_| TAGS[rng.below(5) as usize].to_owned())
        .collect();
    let score = (rng.below(3) != 0).then(|| (rng.below(81) as f64 - 40.0) / 4.0);
    tags.sort();
    tags.dedup();
    Attrs {
        year,
        lang,
        tags,
        score,
    }
}

/// The document for `k` with attributes `a` (tags given unsorted and with repeats, as an
/// application might, to check that the engine normalises them).
fn attr_doc(k: u64, a: &Attrs) -> Document {
    let mut d = Document::with_key(k).with_text("body", format!("doc {k}"));
    if let Some(y) = a.year {
        d = d.with_attr("year", y);
    }
    if let Some(l) = &a.lang {
        d = d.with_attr("lang", l.as_str());
    }
    if !a.tags.is_empty() {
        let mut t = a.tags.clone();
        t.reverse();
        t.push(a.tags[0].clone());
        d = d.with_attr("tags", t);
    }
    if let Some(s) = a.score {
        d = d.with_attr("score", s);
    }
    d
}

// ---- the model: SQL three-valued logic ------------------------------------------------------

fn num(l: &Literal) -> f64 {
    match l {
        Literal::Int(v) => *v as f64,
        Literal::Float(v) => *v,
        Literal::Str(_) => f64::NAN,
    }
}

/// `value op literal` for one value (all values here are small, so f64 is exact).
fn cmp_one(v: &Value, op: CmpOp, l: &Literal) -> bool {
    let ord = match (v, l) {
        (Value::Str(s), Literal::Str(t)) => s.as_str().cmp(t.as_str()),
        (Value::Num(x), l) => x.partial_cmp(&num(l)).expect("no NaN"),
        _ => panic!("type error in a generated filter"),
    };
    match op {
        CmpOp::Eq => ord.is_eq(),
        CmpOp::Ne => ord.is_ne(),
        CmpOp::Lt => ord.is_lt(),
        CmpOp::Le => ord.is_le(),
        CmpOp::Gt => ord.is_gt(),
        CmpOp::Ge => ord.is_ge(),
    }
}

enum Value {
    Str(String),
    Num(f64),
}

fn values(a: &Attrs, attr: &str) -> Vec<Value> {
    match attr {
        "year" => a.year.map(|y| Value::Num(y as f64)).into_iter().collect(),
        "score" => a.score.map(Value::Num).into_iter().collect(),
        "lang" => a.lang.clone().map(Value::Str).into_iter().collect(),
        "tags" => a.tags.iter().cloned().map(Value::Str).collect(),
        _ => panic!("unknown attribute {attr}"),
    }
}

/// Any-value semantics for one predicate: None when the document has no value.
fn any(a: &Attrs, attr: &str, p: impl Fn(&Value) -> bool) -> Option<bool> {
    let vs = values(a, attr);
    if vs.is_empty() {
        None
    } else {
        Some(vs.iter().any(p))
    }
}

fn eval(f: &Filter, key: u64, a: &Attrs) -> Option<bool> {
    match f {
        Filter::Keys(keys) => Some(keys.contains(&Key::U64(key))),
        Filter::Exists(attr) => Some(!values(a, attr).is_empty()),
        Filter::Not(c) => eval(c, key, a).map(|b| !b),
        Filter::And(parts) => {
            let r: Vec<Option<bool>> = parts.iter().map(|p| eval(p, key, a)).collect();
            if r.contains(&Some(false)) {
                Some(false)
            } else if r.contains(&None) {
                None
            } else {
                Some(true)
            }
        }
        Filter::Or(parts) => {
            let r: Vec<Option<bool>> = parts.iter().map(|p| eval(p, key, a)).collect();
            if r.contains(&Some(true)) {
                Some(true)
            } else if r.contains(&None) {
                None
            } else {
                Some(false)
            }
        }
        // `a != v` is `NOT a = v`: with several keyword values, true when none equals v.
        Filter::Compare {
            attr,
            op: CmpOp::Ne,
            value,
        } => any(a, attr, |v| cmp_one(v, CmpOp::Eq, value)).map(|b| !b),
        Filter::Compare { attr, op, value } => any(a, attr, |v| cmp_one(v, *op, value)),
        Filter::In { attr, values } => {
            any(a, attr, |v| values.iter().any(|l| cmp_one(v, CmpOp::Eq, l)))
        }
        Filter::Between { attr, low, high } => any(a, attr, |v| {
            cmp_one(v, CmpOp::Ge, low) && cmp_one(v, CmpOp::Le, high)
        }),
        _ => panic!("unexpected filter {f:?}"),
    }
}

fn model_keys(model: &AttrModel, f: &Filter) -> BTreeSet<u64> {
    model
        .iter()
        .filter(|(k, a)| eval(f, **k, a) == Some(true))
        .map(|(k, _)| *k)
        .collect()
}

fn engine_keys(snap: &Snapshot, f: &Filter) -> BTreeSet<u64> {
    let set = snap
        .compile_filter(f)
        .unwrap_or_else(|e| panic!("{f}: {e}"));
    let mut out = BTreeSet::new();
    for s in snap.segments() {
        if let Some(rows) = set.segment(s.meta.id) {
            for r in rows {
                match s.segment.key(r as usize) {
                    Some(Key::U64(k)) => assert!(out.insert(k), "key {k} twice"),
                    other => panic!("bad key {other:?}"),
                }
            }
        }
    }
    assert_eq!(out.len() as u64, set.len());
    out
}

// ---- random expressions ---------------------------------------------------------------------

fn literal_for(rng: &mut Rng, attr: &str) -> Literal {
    match attr {
        "year" => match rng.below(3) {
            0 => Literal::Float(1999.5 + rng.below(22) as f64),
            _ => Literal::Int(1998 + rng.below(24) as i64),
        },
        "score" => match rng.below(3) {
            0 => Literal::Int(rng.below(21) as i64 - 10),
            _ => Literal::Float((rng.below(85) as f64 - 42.0) / 4.0),
        },
        "lang" => {
            Literal::Str(["de", "en", "es", "fr", "ja", "zz", ""][rng.below(7) as usize].into())
        }
        _ => Literal::Str(["a", "b", "c", "d", "e", "f", "bb"][rng.below(7) as usize].into()),
    }
}

fn random_filter(rng: &mut Rng, depth: u32, max_key: u64) -> Filter {
    if depth > 0 && rng.below(3) != 0 {
        let n = 2 + rng.below(2) as usize;
        return match rng.below(3) {
            0 => Filter::And(
                (0..n)
                    .map(|_| random_filter(rng, depth - 1, max_key))
                    .collect(),
            ),
            1 => Filter::Or(
                (0..n)
                    .map(|_| random_filter(rng, depth - 1, max_key))
                    .collect(),
            ),
            _ => Filter::Not(Box::new(random_filter(rng, depth - 1, max_key))),
        };
    }
    let attr = ["year", "lang", "tags", "score"][rng.below(4) as usize].to_owned();
    match rng.below(9) {
        0 => Filter::Exists(attr),
        1 => Filter::Keys(
            (0..rng.below(6))
                .map(|_| Key::U64(rng.below(max_key)))
                .collect(),
        ),
        2 => {
            let values = (0..rng.below(4)).map(|_| literal_for(rng, &attr)).collect();
            Filter::In { attr, values }
        }
        3 => {
            let low = literal_for(rng, &attr);
            let high = literal_for(rng, &attr);
            Filter::Between { attr, low, high }
        }
        _ => {
            let op = [
                CmpOp::Eq,
                CmpOp::Ne,
                CmpOp::Lt,
                CmpOp::Le,
                CmpOp::Gt,
                CmpOp::Ge,
            ][rng.below(6) as usize];
            let value = literal_for(rng, &attr);
            Filter::Compare { attr, op, value }
        }
    }
}

/// Random filters compiled on `snap` equal the model; each also round-trips through text.
fn check_filters(snap: &Snapshot, model: &AttrModel, seed: u64, n: usize, what: &str) {
    let mut rng = Rng(seed);
    let max_key = model.keys().last().map_or(1, |k| k + 2);
    let (mut some, mut not_all) = (0, 0);
    for _ in 0..n {
        let f = random_filter(&mut rng, 3, max_key);
        let text = f.to_string();
        assert_eq!(Filter::parse(&text).unwrap(), f, "round trip of {text}");
        let want = model_keys(model, &f);
        some += usize::from(!want.is_empty());
        not_all += usize::from(want.len() < model.len());
        assert_eq!(engine_keys(snap, &f), want, "{what}: {text}");
    }
    // The expressions are not degenerate: many pass some documents, many reject some.
    assert!(
        some >= n / 4 && not_all >= n / 4,
        "{what}: {some} / {not_all} of {n}"
    );
}

/// Every live document's stored attributes equal the model's.
fn check_values(snap: &Snapshot, model: &AttrModel, what: &str) {
    let schema = snap.schema().clone();
    let mut seen = 0;
    for s in snap.segments() {
        let cols = s.segment.attrs().expect("attribute component");
        for row in 0..s.segment.rows() {
            if !s.is_live(row as u32) {
                continue;
            }
            let Some(Key::U64(k)) = s.segment.key(row) else {
                panic!("key")
            };
            let mut got = Attrs {
                year: None,
                lang: None,
                tags: Vec::new(),
                score: None,
            };
            for (field, v) in cols.row(row) {
                match (schema.fields[field as usize].name.as_str(), v) {
                    ("year", AttrValue::I64(y)) => got.year = Some(y),
                    ("lang", AttrValue::Keywords(l)) => {
                        assert_eq!(l.len(), 1);
                        got.lang = Some(l[0].clone());
                    }
                    ("tags", AttrValue::Keywords(t)) => got.tags = t,
                    ("score", AttrValue::F64(x)) => got.score = Some(x),
                    other => panic!("unexpected {other:?}"),
                }
            }
            assert_eq!(Some(&got), model.get(&k), "{what}: key {k}");
            seen += 1;
        }
    }
    assert_eq!(seen, model.len(), "{what}: live documents");
}

#[test]
fn filters_equal_a_brute_force_model_through_commits_deletes_reopen_and_merges() {
    let dir = MemDirectory::new();
    let d: Arc<dyn Directory> = Arc::new(dir.clone());
    let mut index = Index::create_in(d.clone(), attr_schema(), options_sync()).unwrap();
    let mut model = AttrModel::new();
    let mut rng = Rng(7);
    let mut next = 0u64;
    for round in 0..6u64 {
        let mut txn = index.begin();
        for _ in 0..40 {
            let a = random_attrs(&mut rng);
            txn.add(attr_doc(next, &a)).unwrap();
            model.insert(next, a);
            next += 1;
        }
        // Deletes and upserts of earlier documents.
        for _ in 0..8 {
            let k = rng.below(next);
            if rng.below(2) == 0 {
                txn.delete(&Key::U64(k)).unwrap();
                model.remove(&k);
            } else if model.contains_key(&k) || k >= next - 40 {
                let a = random_attrs(&mut rng);
                txn.upsert(attr_doc(k, &a)).unwrap();
                model.insert(k, a);
            }
        }
        txn.commit().unwrap();
        let snap = index.snapshot();
        check_filters(
            &snap,
            &model,
            100 + round,
            60,
            &format!("after commit {round}"),
        );
    }
    check_values(&index.snapshot(), &model, "before merge");
    drop(index);
    let mut index = open_sync(d.clone()).unwrap();
    check_filters(&index.snapshot(), &model, 200, 150, "after reopen");
    // A filter compiled before a merge keeps describing the old snapshot's rows; compiled
    // again after it, it follows the documents to their new rows.
    let f = Filter::parse("year >= 2010 AND (lang IN ('en', 'de') OR NOT EXISTS tags)").unwrap();
    let before = engine_keys(&index.snapshot(), &f);
    assert!(index.merge_all().unwrap());
    let snap = index.snapshot();
    assert_eq!(snap.segments().len(), 1);
    assert_eq!(engine_keys(&snap, &f), before);
    check_values(&snap, &model, "after merge");
    check_filters(&snap, &model, 300, 150, "after merge");
    // Deletes after the merge.
    let mut txn = index.begin();
    for k in (0..next).step_by(3) {
        txn.delete(&Key::U64(k)).unwrap();
        model.remove(&k);
    }
    txn.commit().unwrap();
    drop(index);
    let index = open_sync(d).unwrap();
    check_values(&index.snapshot(), &model, "after deletes and reopen");
    check_filters(
        &index.snapshot(),
        &model,
        400,
        150,
        "after deletes and reopen",
    );
}

#[test]
fn hand_written_filters_follow_the_documented_semantics() {
    let d: Arc<dyn Directory> = Arc::new(MemDirectory::new());
    let mut index = Index::create_in(d, attr_schema(), options_sync()).unwrap();
    let mut txn = index.begin();
    let docs = [
        (1, Some(2015), Some("en"), vec!["a", "b"], Some(0.5)),
        (2, Some(2010), Some("de"), vec!["b"], None),
        (3, None, Some("en"), vec![], Some(-1.0)),
        (4, Some(2020), None, vec!["c"], Some(2.0)),
        (5, None, None, vec![], None),
    ];
    for (k, year, lang, tags, score) in &docs {
        let mut d = Document::with_key(*k as u64).with_text("body", "x");
        if let Some(y) = year {
            d = d.with_attr("year", *y as i64);
        }
        if let Some(l) = lang {
            d = d.with_attr("lang", *l);
        }
        if !tags.is_empty() {
            d = d.with_attr(
                "tags",
                tags.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
            );
        }
        if let Some(s) = score {
            d = d.with_attr("score", *s);
        }
        txn.add(d).unwrap();
    }
    txn.commit().unwrap();
    let snap = index.snapshot();
    let keys = |expr: &str| -> Vec<u64> {
        engine_keys(&snap, &Filter::parse(expr).unwrap())
            .into_iter()
            .collect()
    };
    assert_eq!(keys("year >= 2015 AND lang = 'en'"), [1]);
    assert_eq!(
        keys("year >= 2014.5"),
        [1, 4],
        "a float bound on an i64 attribute"
    );
    assert_eq!(keys("year > 2015.0"), [4]);
    assert_eq!(keys("year = 2015.5"), Vec::<u64>::new());
    // Missing values are unknown: neither `!=` nor NOT passes them; EXISTS tests them.
    assert_eq!(keys("lang != 'en'"), [2]);
    assert_eq!(keys("NOT lang = 'en'"), [2]);
    assert_eq!(keys("NOT EXISTS lang"), [4, 5]);
    assert_eq!(keys("lang != 'en' OR NOT EXISTS lang"), [2, 4, 5]);
    assert_eq!(
        keys("NOT (year < 2012 OR lang = 'de')"),
        [1],
        "4 has no lang: unknown"
    );
    // Several keyword values: any of them.
    assert_eq!(keys("tags = 'b'"), [1, 2]);
    assert_eq!(keys("tags != 'b'"), [4]);
    assert_eq!(keys("tags IN ('a', 'c')"), [1, 4]);
    assert_eq!(keys("tags NOT IN ('a', 'c')"), [2]);
    assert_eq!(keys("tags BETWEEN 'b' AND 'c'"), [1, 2, 4]);
    assert_eq!(keys("score BETWEEN -1 AND 0.5"), [1, 3]);
    assert_eq!(keys("score NOT BETWEEN -1 AND 0.5"), [4]);
    assert_eq!(keys("score > 0"), [1, 4]);
    assert_eq!(keys("_key IN (1, 2, 3) AND NOT _key = 2"), [1, 3]);
    assert_eq!(keys("_key != 5 AND EXISTS score"), [1, 3, 4]);
    assert_eq!(keys("year BETWEEN 2016 AND 2014"), Vec::<u64>::new());
    assert_eq!(keys("lang IN ()"), Vec::<u64>::new());
    assert_eq!(keys("NOT lang IN ()"), [1, 2, 3], "documents with a lang");
    let seg = snap.segments()[0].meta.id;
    assert_eq!(
        snap.attributes_of(seg, 0),
        [
            ("year".to_owned(), AttrValue::I64(2015)),
            ("lang".to_owned(), AttrValue::keyword("en")),
            (
                "tags".to_owned(),
                AttrValue::Keywords(vec!["a".into(), "b".into()])
            ),
            ("score".to_owned(), AttrValue::F64(0.5)),
        ]
    );
    assert!(snap.attributes_of(seg, 4).is_empty());
    assert!(snap.attributes_of(seg + 100, 0).is_empty());

    // Errors name what was wrong.
    for (expr, want) in [
        ("colour = 'red'", "does not declare"),
        ("body = 'x'", "field but not an attribute"),
        ("lang = 3", "compares keyword attribute lang with number 3"),
        (
            "year = '2015'",
            "compares i64 attribute year with text '2015'",
        ),
        (
            "score IN (1, 'x')",
            "compares f64 attribute score with text 'x'",
        ),
        ("_key = 'a'", "the index has u64 keys"),
    ] {
        let err = snap
            .compile_filter(&Filter::parse(expr).unwrap())
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument(_)) && err.to_string().contains(want),
            "{expr}: {err}"
        );
    }
    let nan = Filter::Compare {
        attr: "score".into(),
        op: CmpOp::Lt,
        value: Literal::Float(f64::NAN),
    };
    assert!(snap.compile_filter(&nan).is_err());
}

#[test]
fn documents_with_wrong_attribute_values_are_refused() {
    let d: Arc<dyn Directory> = Arc::new(MemDirectory::new());
    let mut index = Index::create_in(d, attr_schema(), options_sync()).unwrap();
    let mut txn = index.begin();
    let base = || Document::with_key(1u64).with_text("body", "x");
    for (doc, want) in [
        (base().with_attr("colour", "red"), "no attribute \"colour\""),
        (base().with_attr("body", "x"), "no attribute \"body\""),
        (
            base().with_attr("year", "2015"),
            "is keyword, the schema declares it i64",
        ),
        (
            base().with_attr("year", 2015.0),
            "is f64, the schema declares it i64",
        ),
        (
            base().with_attr("lang", 3i64),
            "is i64, the schema declares it keyword",
        ),
        (base().with_attr("score", f64::NAN), "not finite"),
        (
            base().with_attr("year", 1i64).with_attr("year", 2i64),
            "given twice",
        ),
    ] {
        let err = txn.add(doc).unwrap_err();
        assert!(
            matches!(err, Error::Input { .. }) && err.to_string().contains(want),
            "{err}"
        );
    }
    // An integer for an f64 attribute is converted.
    txn.add(base().with_attr("score", 3i64)).unwrap();
    txn.commit().unwrap();
    let snap = index.snapshot();
    assert_eq!(
        engine_keys(&snap, &Filter::parse("score = 3.0").unwrap()).len(),
        1
    );
}

#[test]
fn parser_precedence_and_display() {
    let p = |s: &str| Filter::parse(s).unwrap();
    let cmp = |a: &str, v: i64| Filter::Compare {
        attr: a.into(),
        op: CmpOp::Eq,
        value: Literal::Int(v),
    };
    assert_eq!(
        p("a = 1 OR b = 2 AND c = 3"),
        Filter::Or(vec![
            cmp("a", 1),
            Filter::And(vec![cmp("b", 2), cmp("c", 3)])
        ])
    );
    assert_eq!(
        p("(a = 1 or b = 2) and c = 3"),
        Filter::And(vec![
            Filter::Or(vec![cmp("a", 1), cmp("b", 2)]),
            cmp("c", 3)
        ])
    );
    assert_eq!(
        p("NOT a = 1 AND b = 2"),
        Filter::And(vec![Filter::Not(Box::new(cmp("a", 1))), cmp("b", 2)])
    );
    assert_eq!(
        p("not not a=1"),
        Filter::Not(Box::new(Filter::Not(Box::new(cmp("a", 1)))))
    );
    assert_eq!(p("((a = 1))"), cmp("a", 1));
    assert_eq!(
        p("x BETWEEN 1 AND 2 AND y = 'it''s'"),
        Filter::And(vec![
            Filter::Between {
                attr: "x".into(),
                low: Literal::Int(1),
                high: Literal::Int(2)
            },
            Filter::Compare {
                attr: "y".into(),
                op: CmpOp::Eq,
                value: Literal::Str("it's".into())
            }
        ])
    );
    assert_eq!(
        p("x <> -2.5e1"),
        Filter::Compare {
            attr: "x".into(),
            op: CmpOp::Ne,
            value: Literal::Float(-25.0)
        }
    );
    assert_eq!(
        p("_key IN ('a', 'b')"),
        Filter::Keys(vec![Key::from("a"), Key::from("b")])
    );
    assert_eq!(p("_key = 7"), Filter::Keys(vec![Key::U64(7)]));
    for s in [
        "a = 1 OR b = 2 AND c = 3",
        "NOT (a = 1 OR b != 'x') AND EXISTS c",
        "x BETWEEN -1.5 AND 2 OR t IN ('a', 'it''s', '')",
        "_key IN ('a', 'b') AND NOT _key IN (3)",
        "y >= 9223372036854775807 AND y <= -9223372036854775808",
        "z < 1e300 AND z > -1.0e-300",
    ] {
        let f = p(s);
        assert_eq!(p(&f.to_string()), f, "{s} -> {f}");
    }
    assert_eq!(
        Filter::And(vec![Filter::Or(vec![cmp("a", 1)]), cmp("b", 2)]).to_string(),
        "(a = 1) AND b = 2"
    );
    assert_eq!(
        p("a = 1 OR b = 2 AND c = 3").to_string(),
        "a = 1 OR b = 2 AND c = 3"
    );
}

#[test]
fn parse_errors_name_the_position_and_what_was_expected() {
    for (src, at, expected) in [
        ("", 0, "an attribute name"),
        ("year >= ", 8, "a value"),
        ("year 2015", 5, "an operator"),
        ("lang = 'en", 7, "a closing quote"),
        ("(year = 1", 9, "')'"),
        ("year = 1 lang = 'x'", 9, "AND, OR or the end"),
        ("year = 1 AND", 12, "an attribute name"),
        ("year IN (1, )", 12, "a value"),
        ("year IN 1", 8, "'(' after IN"),
        ("year BETWEEN 1 OR 2", 15, "AND between the bounds"),
        ("year = 99999999999999999999", 7, "an integer within i64"),
        ("year = 1e999", 7, "a finite number"),
        ("year = 12abc", 9, "a space or an operator"),
        ("year ~ 1", 5, "a name, a value, an operator"),
        ("_key < 3", 0, "=, != or IN after _key"),
        ("_key = -1", 0, "a key"),
        ("EXISTS _key", 7, "an attribute name after EXISTS"),
        ("AND = 1", 0, "an attribute name"),
        ("year NOT = 1", 9, "IN or BETWEEN after NOT"),
    ] {
        match Filter::parse(src) {
            Err(Error::FilterSyntax {
                at: got_at,
                expected: got,
                ..
            }) => {
                assert_eq!(got_at, at, "{src:?}: {got}");
                assert!(
                    got.contains(expected),
                    "{src:?}: expected {expected:?}, got {got:?}"
                );
            }
            other => panic!("{src:?}: {other:?}"),
        }
    }
    // Deep nesting is refused, not a stack overflow.
    let deep = format!("{}a = 1{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(matches!(
        Filter::parse(&deep),
        Err(Error::FilterSyntax { .. })
    ));
    let nots = format!("{}a = 1", "NOT ".repeat(10_000));
    assert!(matches!(
        Filter::parse(&nots),
        Err(Error::FilterSyntax { .. })
    ));
}

// ---- crashes and corruption ----------------------------------------------------------------

fn crash_setup(dir: &FaultDirectory) -> (Index, AttrModel) {
    let d: Arc<dyn Directory> = Arc::new(dir.clone());
    let mut index = Index::create_in(d, attr_schema(), options_sync()).unwrap();
    let mut model = AttrModel::new();
    let mut rng = Rng(11);
    for batch in 0..2u64 {
        let mut txn = index.begin();
        for k in batch * 10..batch * 10 + 10 {
            let a = random_attrs(&mut rng);
            txn.add(attr_doc(k, &a)).unwrap();
            model.insert(k, a);
        }
        txn.delete(&Key::U64(batch * 7)).unwrap();
        model.remove(&(batch * 7));
        txn.commit().unwrap();
    }
    (index, model)
}

fn crash_change(index: &mut Index, model: &mut AttrModel) -> strata::Result<u64> {
    let mut rng = Rng(12);
    let mut txn = index.begin();
    for k in [3u64, 30, 31, 12] {
        let a = random_attrs(&mut rng);
        txn.upsert(attr_doc(k, &a))?;
        model.insert(k, a);
    }
    txn.delete(&Key::U64(15))?;
    model.remove(&15);
    txn.commit()
}

fn fixed_filters() -> Vec<Filter> {
    [
        "year >= 2010",
        "lang IN ('en', 'fr') OR NOT EXISTS tags",
        "NOT score BETWEEN -2 AND 2",
        "tags = 'a' AND year < 2015",
        "EXISTS lang",
    ]
    .iter()
    .map(|s| Filter::parse(s).unwrap())
    .collect()
}

fn same_as(snap: &Snapshot, model: &AttrModel) -> bool {
    let keys: BTreeSet<u64> = model.keys().copied().collect();
    engine_keys(snap, &Filter::And(vec![])) == keys
        && fixed_filters()
            .iter()
            .all(|f| engine_keys(snap, f) == model_keys(model, f))
}

#[test]
fn attributes_commit_and_merge_atomically_at_every_crash_point() {
    let count = |f: &dyn Fn(&mut Index, &mut AttrModel) -> strata::Result<u64>| {
        let dir = FaultDirectory::new();
        let (mut index, mut model) = crash_setup(&dir);
        dir.reset_counter();
        f(&mut index, &mut model).unwrap();
        dir.ops()
    };
    let merge = |index: &mut Index, _: &mut AttrModel| index.merge_all().map(|_| 0);
    for (what, op) in [
        (
            "commit",
            &crash_change as &dyn Fn(&mut Index, &mut AttrModel) -> strata::Result<u64>,
        ),
        ("merge", &merge),
    ] {
        let total = count(op);
        assert!(total >= 8, "{what} took {total} operations");
        for n in 0..=total {
            for mode in [
                CrashMode::DropUnsynced,
                CrashMode::KeepAll,
                CrashMode::Torn(n),
            ] {
                let dir = FaultDirectory::new();
                let (mut index, before) = crash_setup(&dir);
                let mut after = before.clone();
                dir.crash_after(n);
                let acked = op(&mut index, &mut after).is_ok();
                drop(index);
                let disk = dir.crash(mode);
                let index = open_sync(Arc::new(disk.clone()))
                    .unwrap_or_else(|e| panic!("{what}: reopen after op {n}, {mode:?}: {e}"));
                let snap = index.snapshot();
                if acked {
                    assert!(
                        same_as(&snap, &after),
                        "{what}: acknowledged, op {n}, {mode:?}"
                    );
                    check_values(&snap, &after, what);
                } else {
                    assert!(
                        same_as(&snap, &before) || same_as(&snap, &after),
                        "{what}: torn state after op {n}, {mode:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn a_damaged_attribute_file_is_corrupt() {
    let dir = MemDirectory::new();
    let d: Arc<dyn Directory> = Arc::new(dir.clone());
    let (index, _) = {
        let mut index = Index::create_in(d.clone(), attr_schema(), options_sync()).unwrap();
        let mut rng = Rng(5);
        let mut txn = index.begin();
        for k in 0..50u64 {
            txn.add(attr_doc(k, &random_attrs(&mut rng))).unwrap();
        }
        txn.commit().unwrap();
        (index, ())
    };
    drop(index);
    let name = dir
        .list()
        .unwrap()
        .into_iter()
        .find(|n| n.ends_with(".attr"))
        .expect("an attribute file");
    let clean = dir.read(&name).unwrap().to_vec();
    let len = clean.len();
    for pos in (0..len).step_by((len / 50).max(1)).chain([len - 1]) {
        let mut bad = clean.clone();
        bad[pos] ^= 0x10;
        dir.put(&name, bad);
        match open_sync(d.clone()) {
            Err(Error::Corrupt { file, .. }) => assert_eq!(file, name, "byte {pos}"),
            Err(e) => panic!("byte {pos}: {e}"),
            Ok(_) => panic!("flipped byte {pos} of {name} was accepted"),
        }
    }
    dir.put(&name, clean[..len - 1].to_vec());
    assert!(matches!(open_sync(d.clone()), Err(Error::Corrupt { .. })));
    dir.put(&name, clean);
    open_sync(d).unwrap();
}

#[test]
fn the_attribute_decoder_rejects_damaged_bodies_without_panicking() {
    use strata::format::{FileKind, TRAILER_LEN, unseal};
    let dir = MemDirectory::new();
    let d: Arc<dyn Directory> = Arc::new(dir.clone());
    let mut index = Index::create_in(d, attr_schema(), options_sync()).unwrap();
    let mut rng = Rng(6);
    let mut txn = index.begin();
    let mut model = AttrModel::new();
    for k in 0..40u64 {
        let a = random_attrs(&mut rng);
        txn.add(attr_doc(k, &a)).unwrap();
        model.insert(k, a);
    }
    txn.commit().unwrap();
    let name = dir
        .list()
        .unwrap()
        .into_iter()
        .find(|n| n.ends_with(".attr"))
        .unwrap();
    let file = dir.read(&name).unwrap().to_vec();
    unseal(&name, &file, FileKind::Attrs, true).unwrap();
    let body = &file[..file.len() - TRAILER_LEN];
    let schema = attr_schema();
    let rows = strata::segment::attrs::decode(&name, body, 40, &schema).unwrap();
    assert_eq!(rows.len(), 40);
    assert!(strata::segment::attrs::decode(&name, body, 41, &schema).is_err());
    // Every truncation, and a flip of every byte, either decodes or is `Corrupt`.
    for cut in 0..body.len() {
        let r = strata::segment::attrs::decode(&name, &body[..cut], 40, &schema);
        assert!(matches!(r, Err(Error::Corrupt { .. })), "cut at {cut}");
    }
    for pos in 0..body.len() {
        let mut bad = body.to_vec();
        bad[pos] ^= 0x41;
        match strata::segment::attrs::decode(&name, &bad, 40, &schema) {
            Ok(rows) => assert_eq!(rows.len(), 40),
            Err(Error::Corrupt { .. }) => {}
            Err(e) => panic!("byte {pos}: {e}"),
        }
    }
}

#[test]
fn the_cli_creates_and_ingests_attributes() {
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("ix");
    let exe = env!("CARGO_BIN_EXE_strata");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(exe).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let ixs = ix.to_str().unwrap();
    let (code, _, err) = run(&[
        "create",
        ixs,
        "--key",
        "string",
        "--text",
        "title",
        "--attr",
        "year:i64,lang:keyword,tags:keyword",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let good = tmp.path().join("good.jsonl");
    std::fs::write(
        &good,
        "{\"_id\": \"a\", \"title\": \"t\", \"year\": 2015, \"lang\": \"en\", \"tags\": [\"x\", \"y\"]}\n\
         {\"_id\": \"b\", \"year\": 2009}\n",
    )
    .unwrap();
    let (code, _, err) = run(&["ingest", ixs, "--jsonl", good.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    let bad = tmp.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"_id\": \"c\", \"year\": \"2015\"}\n").unwrap();
    let (code, _, err) = run(&["ingest", ixs, "--jsonl", bad.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("attribute \"year\" (i64) must be an integer"),
        "{err}"
    );
    let (code, out, err) = run(&["stats", ixs, "--json"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("\"attributes\":[\"year:i64\",\"lang:keyword\",\"tags:keyword\"]"),
        "{out}"
    );
    assert!(out.contains("\"kind\":\"attrs\""), "{out}");
    let (code, out, err) = run(&["verify", ixs]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("OK"), "{out}");
    let (code, _, err) = run(&[
        "create",
        tmp.path().join("ix2").to_str().unwrap(),
        "--attr",
        "year",
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("has no kind"), "{err}");
    let reader = strata::Reader::open(&ix).unwrap();
    let snap = reader.snapshot();
    let f = Filter::parse("year >= 2010 AND tags = 'y'").unwrap();
    assert_eq!(snap.compile_filter(&f).unwrap().len(), 1);
}

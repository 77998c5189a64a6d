//! Lexical and learned-sparse search over a snapshot.
//!
//! Scores never depend on how documents are spread over segments: BM25 statistics (documents
//! with the field, their total length, each term's document frequency) are summed over the
//! snapshot's segments counting live rows only, so a merge or a delete elsewhere changes a
//! document's score only through those statistics, exactly as if the index were one segment.
//! A segment's live-row statistics are counted once per snapshot (see `LiveStats`), so a
//! repeated query term costs no walk of its postings.
//! A query's terms are always summed in the same order (fields in schema order, then query
//! terms in order of first appearance), so every traversal algorithm and every segmentation
//! gives bit-identical scores. Equal scores are ranked by key, in each segment's collector as in
//! the merged list, so the hits themselves do not depend on segmentation or insertion order.

use crate::error::{Error, Result};
use crate::search::docset::DocFilter;
use crate::segment::DeleteSet;
use crate::segment::inverted::{FieldView, InvKind};
use crate::segment::live::{FieldStats, MAX_CACHED_TERMS, TermDfs, lock};
use crate::sparse::postings::PostingsList;
use crate::sparse::query::{self, Algorithm, AnyTerm, Bm25, Bm25Term, ImpactTerm};
use crate::sparse::{DocCursor, TERMINATED};
use crate::text::Analyzer;
use crate::txn::{Snapshot, SnapshotSegment};
use crate::types::Key;
use std::collections::HashMap;
use std::sync::atomic::Ordering as AtomicOrdering;

/// A text or sparse query.
#[derive(Debug, Clone)]
pub struct TextQuery<'a> {
    /// Query text, analyzed by each searched field's analyzer and scored with BM25.
    pub text: &'a str,
    /// Text fields to search (empty: every text field of the schema).
    pub fields: Vec<String>,
    /// Weighted terms for the sparse-vector field (term → query weight ≥ 0).
    pub sparse: Vec<(String, f32)>,
    /// Weighted terms for the text fields, already analyzed (as the field's analyzer writes
    /// them, e.g. stemmed), scored with BM25 times the weight; added to the terms of `text`
    /// (this is how feedback-expanded queries are expressed).
    pub weighted: Vec<(String, f32)>,
    /// Number of hits.
    pub k: usize,
    /// BM25 parameters.
    pub bm25: Bm25,
    /// Traversal algorithm (all return the same hits; they differ in speed).
    pub algorithm: Algorithm,
    /// Only documents in this set are scored.
    pub filter: Option<&'a DocFilter>,
}

impl<'a> TextQuery<'a> {
    /// BM25 over every text field, top `k`, default parameters and algorithm.
    pub fn bm25(text: &'a str, k: usize) -> TextQuery<'a> {
        TextQuery {
            text,
            fields: Vec::new(),
            sparse: Vec::new(),
            weighted: Vec::new(),
            k,
            bm25: Bm25::default(),
            algorithm: Algorithm::default(),
            filter: None,
        }
    }

    /// Impact scoring of the sparse field only, top `k`.
    pub fn sparse(terms: Vec<(String, f32)>, k: usize) -> TextQuery<'a> {
        TextQuery {
            text: "",
            fields: Vec::new(),
            sparse: terms,
            weighted: Vec::new(),
            k,
            bm25: Bm25::default(),
            algorithm: Algorithm::default(),
            filter: None,
        }
    }
}

/// One hit of a text query.
#[derive(Debug, Clone, PartialEq)]
pub struct TextHit {
    /// The document key.
    pub key: Key,
    /// Its score (higher is better).
    pub score: f32,
    /// The segment holding it.
    pub segment: u64,
    /// Its row in that segment.
    pub row: u32,
}

/// One query term, resolved against the schema.
struct QTerm {
    field: u16,
    kind: InvKind,
    term: String,
    weight: f32,
}

impl SnapshotSegment {
    /// The non-empty delete set, if any.
    fn live_deletes(&self) -> Option<&DeleteSet> {
        self.deletes.as_deref().filter(|d| !d.is_empty())
    }

    /// Live documents with field `field` (whose view is `view`) and their total length.
    fn field_stats(&self, field: u16, view: &FieldView<'_>) -> FieldStats {
        let mut st = FieldStats {
            docs: view.doc_count,
            total_len: view.total_len,
        };
        let Some(del) = self.live_deletes() else {
            return st;
        };
        if let Some(known) = lock(&self.live.fields).get(&field) {
            return *known;
        }
        for row in del.bitmap() {
            let l = view.lengths.get(row as usize).copied().unwrap_or(0);
            st.docs -= u64::from(l > 0).min(st.docs);
            st.total_len -= u64::from(l).min(st.total_len);
        }
        lock(&self.live.fields).insert(field, st);
        st
    }

    /// The number of live rows in `list`, the postings of `term` in field `field`.
    fn live_df(&self, field: u16, term: &str, list: &PostingsList<'_>) -> u64 {
        let Some(del) = self.live_deletes() else {
            return u64::from(list.df());
        };
        if let Some(&n) = lock(&self.live.terms)
            .by_field
            .get(&field)
            .and_then(|m| m.get(term))
        {
            return n;
        }
        self.live.walks.fetch_add(1, AtomicOrdering::Relaxed);
        let mut c = list.cursor();
        let mut n = 0u64;
        let mut d = c.doc();
        while d != TERMINATED {
            n += u64::from(!del.contains(d));
            d = c.advance();
        }
        let mut memo = lock(&self.live.terms);
        if memo.len >= MAX_CACHED_TERMS {
            *memo = TermDfs::default();
        }
        if memo
            .by_field
            .entry(field)
            .or_default()
            .insert(term.to_owned(), n)
            .is_none()
        {
            memo.len += 1;
        }
        n
    }
}

/// Fails unless every doc of `list` (the postings of `term` in `view`) is a row of the
/// segment: scoring sizes per-doc scratch by the largest doc id, which a damaged list (with
/// checksums that still match) must not make huge.
fn check_rows(
    view: &FieldView<'_>,
    term: &str,
    list: &PostingsList<'_>,
    rows: usize,
) -> Result<()> {
    let last = list
        .num_blocks()
        .checked_sub(1)
        .and_then(|b| list.block_meta(b))
        .map_or(0, |m| u64::from(m.last_doc) + 1);
    if last <= rows as u64 {
        return Ok(());
    }
    let offset = view.dict.get(term.as_bytes()).unwrap_or(0);
    Err(Error::corrupt(
        view.file,
        offset,
        format!(
            "postings of term {term:?} reach row {}, the segment has {rows} rows",
            last - 1
        ),
    ))
}

impl Snapshot {
    fn resolve_terms(&self, q: &TextQuery<'_>) -> Result<Vec<QTerm>> {
        let schema = self.schema();
        let text_fields = schema.text_fields();
        for name in &q.fields {
            if !text_fields.iter().any(|f| f.name == name) {
                return Err(Error::InvalidArgument(format!(
                    "the schema has no text field {name:?}"
                )));
            }
        }
        let mut out = Vec::new();
        for f in &text_fields {
            if !q.fields.is_empty() && !q.fields.iter().any(|n| n == f.name) {
                continue;
            }
            let analyzer = Analyzer::new(f.analyzer);
            let start = out.len();
            analyzer.for_each_term(q.text, |t| {
                match out
                    .get_mut(start..)
                    .and_then(|s: &mut [QTerm]| s.iter_mut().find(|x| x.term == t))
                {
                    Some(x) => x.weight += 1.0,
                    None => out.push(QTerm {
                        field: f.index,
                        kind: InvKind::Text,
                        term: t.to_owned(),
                        weight: 1.0,
                    }),
                }
            });
            for (t, w) in &q.weighted {
                if !w.is_finite() || *w < 0.0 {
                    return Err(Error::InvalidArgument(format!(
                        "weighted query term {t:?}: weight {w} is not finite and ≥ 0"
                    )));
                }
                if *w == 0.0 {
                    continue;
                }
                match out
                    .get_mut(start..)
                    .and_then(|s: &mut [QTerm]| s.iter_mut().find(|x| x.term == *t))
                {
                    Some(x) => x.weight += *w,
                    None => out.push(QTerm {
                        field: f.index,
                        kind: InvKind::Text,
                        term: t.clone(),
                        weight: *w,
                    }),
                }
            }
        }
        if !q.sparse.is_empty() {
            let (index, name, _) = schema.sparse_field().ok_or_else(|| {
                Error::InvalidArgument(
                    "the query has sparse terms; the schema has no sparse field".into(),
                )
            })?;
            for (term, w) in &q.sparse {
                if !w.is_finite() || *w < 0.0 {
                    return Err(Error::InvalidArgument(format!(
                        "sparse query term {term:?} of field {name}: weight {w} is not finite and ≥ 0"
                    )));
                }
                if *w > 0.0 {
                    out.push(QTerm {
                        field: index,
                        kind: InvKind::Sparse,
                        term: term.clone(),
                        weight: *w,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Snapshot-wide statistics of text field `field` over live rows.
    fn field_stats(&self, field: u16) -> FieldStats {
        let mut st = FieldStats::default();
        for s in self.segments() {
            if let Some(view) = s.segment.inverted().and_then(|i| i.field(field)) {
                let seg = s.field_stats(field, &view);
                st.docs += seg.docs;
                st.total_len += seg.total_len;
            }
        }
        st
    }

    /// Top-`q.k` documents for a text and/or sparse query, best first (ties by key).
    pub fn search_text(&self, q: &TextQuery<'_>) -> Result<Vec<TextHit>> {
        let terms = self.resolve_terms(q)?;
        if q.k == 0 || terms.is_empty() {
            return Ok(Vec::new());
        }
        // One view per (segment, field) and one postings lookup per (segment, term), shared
        // by the statistics pass and the scoring pass.
        let mut fields: Vec<u16> = terms.iter().map(|t| t.field).collect();
        fields.sort_unstable();
        fields.dedup();
        let mut per_seg = Vec::with_capacity(self.segments().len());
        for s in self.segments() {
            let Some(inv) = s.segment.inverted() else {
                continue;
            };
            let views: Vec<(u16, FieldView<'_>)> = fields
                .iter()
                .filter_map(|&f| Some((f, inv.field(f)?)))
                .collect();
            let mut lists = Vec::with_capacity(terms.len());
            for t in &terms {
                let view = views.iter().find(|(f, _)| *f == t.field).map(|(_, v)| v);
                lists.push(match view {
                    Some(v) => {
                        let list = v.postings(t.term.as_bytes())?;
                        if let Some(l) = &list {
                            check_rows(v, &t.term, l, s.segment.rows())?;
                        }
                        list
                    }
                    None => None,
                });
            }
            per_seg.push((s, views, lists));
        }
        // Snapshot-wide statistics over live rows.
        let mut stats: HashMap<u16, FieldStats> = HashMap::new();
        for t in &terms {
            if t.kind == InvKind::Text && !stats.contains_key(&t.field) {
                stats.insert(t.field, self.field_stats(t.field));
            }
        }
        let mut df = vec![0u64; terms.len()];
        for (s, _, lists) in &per_seg {
            for ((t, d), list) in terms.iter().zip(df.iter_mut()).zip(lists) {
                if t.kind == InvKind::Text
                    && let Some(list) = list
                {
                    *d += s.live_df(t.field, &t.term, list);
                }
            }
        }
        let mut hits: Vec<TextHit> = Vec::new();
        for (s, views, lists) in &per_seg {
            let mut qterms = Vec::with_capacity(terms.len());
            for ((t, list), &d) in terms.iter().zip(lists).zip(&df) {
                let (Some(list), Some(view)) = (
                    list,
                    views.iter().find(|(f, _)| *f == t.field).map(|(_, v)| v),
                ) else {
                    continue;
                };
                let scorer = match t.kind {
                    InvKind::Text => {
                        let st = stats.get(&t.field).copied().unwrap_or_default();
                        let n = st.docs.max(d);
                        let avgdl = if st.docs > 0 {
                            (st.total_len as f64 / st.docs as f64) as f32
                        } else {
                            1.0
                        };
                        AnyTerm::Bm25(Bm25Term::new(
                            q.bm25,
                            query::bm25_idf(n, d),
                            t.weight,
                            avgdl,
                            &view.lengths,
                        ))
                    }
                    InvKind::Sparse => AnyTerm::Impact(ImpactTerm {
                        weight: t.weight * view.scale,
                    }),
                };
                qterms.push((list.cursor(), scorer));
            }
            if qterms.is_empty() {
                continue;
            }
            let id = s.meta.id;
            let accept = |row: u32| s.is_live(row) && q.filter.is_none_or(|f| f.contains(id, row));
            // Ties are ranked by key inside the segment too, so its k best are the ones the
            // snapshot-wide order keeps, however the documents are spread over segments.
            let keys = s.segment.keys();
            let by_key = |a: u32, b: u32| keys.get(a as usize).cmp(&keys.get(b as usize));
            for (score, row) in query::search(q.algorithm, &mut qterms, q.k, &accept, &by_key) {
                if let Some(key) = s.segment.key(row as usize) {
                    hits.push(TextHit {
                        key,
                        score,
                        segment: id,
                        row,
                    });
                }
            }
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.key.cmp(&b.key)));
        hits.truncate(q.k);
        Ok(hits)
    }

    /// The stored text fields of a hit, as (field name, text).
    pub fn stored_text(&self, hit: &TextHit) -> Result<Vec<(String, String)>> {
        self.stored_fields(&crate::search::query::DocAddress {
            segment: hit.segment,
            row: hit.row,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::{Directory, MemDirectory};
    use crate::schema::Schema;
    use crate::sparse::query::Algorithm;
    use crate::text::AnalyzerConfig;
    use crate::txn::{Document, Index, IndexOptions};
    use crate::types::KeyKind;
    use std::sync::Arc;

    /// Postings walked for statistics so far, over every segment of `snap`.
    fn walks(snap: &Snapshot) -> u64 {
        snap.segments()
            .iter()
            .map(|s| s.live.walks.load(AtomicOrdering::Relaxed))
            .sum()
    }

    /// Two segments of 200 documents over a vocabulary of 12 words, with deletes in both.
    fn index_with_deletes() -> Index {
        let dir: Arc<dyn Directory> = Arc::new(MemDirectory::new());
        let schema = Schema::new(KeyKind::U64).with_text("body", AnalyzerConfig::default(), false);
        let mut index = Index::create_in(dir, schema, IndexOptions::default()).unwrap();
        let mut state = 5u64;
        for part in 0..2u64 {
            let mut txn = index.begin();
            for k in part * 200..(part + 1) * 200 {
                let n = 1 + crate::rng::splitmix64(&mut state) % 8;
                let text: Vec<String> = (0..n)
                    .map(|_| format!("w{}", crate::rng::splitmix64(&mut state) % 12))
                    .collect();
                txn.add(Document::with_key(k).with_text("body", text.join(" ")))
                    .unwrap();
            }
            txn.commit().unwrap();
        }
        let mut txn = index.begin();
        for k in (0..400u64).step_by(7) {
            txn.delete(&Key::U64(k)).unwrap();
        }
        txn.commit().unwrap();
        index
    }

    fn bits(hits: &[TextHit]) -> Vec<(Key, u32)> {
        hits.iter()
            .map(|h| (h.key.clone(), h.score.to_bits()))
            .collect()
    }

    #[test]
    fn postings_past_the_last_row_are_corrupt() {
        let index = index_with_deletes();
        let snap = index.snapshot();
        let s = &snap.segments()[0];
        let field = snap.schema().text_fields()[0].index;
        let view = s.segment.inverted().unwrap().field(field).unwrap();
        let list = view.postings(b"w1").unwrap().unwrap();
        assert!(check_rows(&view, "w1", &list, s.segment.rows()).is_ok());
        let err = check_rows(&view, "w1", &list, 3).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("\"w1\""), "{err}");
    }

    #[test]
    fn live_statistics_are_counted_once_per_snapshot() {
        let index = index_with_deletes();
        let snap = index.snapshot();
        assert_eq!(snap.segments().len(), 2);
        assert!(snap.segments().iter().all(|s| s.deletes.is_some()));
        let q = TextQuery::bm25("w1 w2 w3", 10);
        let first = snap.search_text(&q).unwrap();
        assert!(!first.is_empty());
        let after_first = walks(&snap);
        assert_eq!(after_first, 6, "three terms in two segments with deletes");
        for algo in [Algorithm::MaxScore, Algorithm::TermAtATime, Algorithm::Auto] {
            let mut again = q.clone();
            again.algorithm = algo;
            assert_eq!(
                bits(&snap.search_text(&again).unwrap()),
                bits(&first),
                "{algo:?}"
            );
        }
        assert_eq!(
            walks(&snap),
            after_first,
            "a repeated query walks no postings"
        );
        // One new term: one walk per segment, and the counted terms are not walked again.
        let more = snap.search_text(&TextQuery::bm25("w3 w4", 10)).unwrap();
        assert!(!more.is_empty());
        assert_eq!(walks(&snap), after_first + 2);
    }

    #[test]
    fn cached_statistics_score_like_freshly_counted_ones() {
        let index = index_with_deletes();
        let queries = ["w0", "w1 w5", "w2 w2 w7 w9", "w11 w3 w6", "w4 w8 w10"];
        let snap = index.snapshot();
        // Each query with nothing cached counts its statistics by walking postings.
        let fresh: Vec<Vec<(Key, u32)>> = queries
            .iter()
            .map(|q| {
                snap.segments().iter().for_each(|s| s.live.forget());
                let before = walks(&snap);
                let hits = bits(&snap.search_text(&TextQuery::bm25(q, 50)).unwrap());
                assert!(
                    walks(&snap) > before,
                    "{q}: nothing cached, postings walked"
                );
                hits
            })
            .collect();
        // The shared snapshot answers them after every term was counted once.
        for q in queries {
            snap.search_text(&TextQuery::bm25(q, 50)).unwrap();
        }
        let counted = walks(&snap);
        for (q, want) in queries.iter().zip(&fresh) {
            let got = bits(&snap.search_text(&TextQuery::bm25(q, 50)).unwrap());
            assert_eq!(&got, want, "{q}");
        }
        assert_eq!(walks(&snap), counted);
    }
}

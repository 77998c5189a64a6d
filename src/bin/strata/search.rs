//! `strata search`: one query over an index (a vector row, text, sparse terms, or any mix of
//! them, fused), printed as ranked hits with their stored fields.
//!
//! The query goes through [`strata::Snapshot::query`], the library's one query call: dense
//! search uses the schema's index (IVF-PQ when the schema has one) unless `--exact`.

use crate::eval::FusionArg;
use crate::{CliError, CliResult};
use clap::Args;
use std::path::{Path, PathBuf};
use strata::input::read_vectors;
use strata::{AttrValue, Error, Filter, Metric, Query, QueryHit, Reader, Snapshot, Source};

/// Arguments of `strata search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The index directory.
    dir: PathBuf,
    /// A vector file (.npy/.fvecs/.bvecs) holding the query vector.
    #[arg(long)]
    query: Option<PathBuf>,
    /// Which row of the query file to search.
    #[arg(long, default_value_t = 0, conflicts_with = "all")]
    row: usize,
    /// Search every row of the query file; lines become `query rank key score`.
    #[arg(long, requires = "query")]
    all: bool,
    /// A text query, scored with BM25 over the text fields.
    #[arg(long)]
    text: Option<String>,
    /// Text fields searched by --text, comma-separated (default: all).
    #[arg(long, requires = "text")]
    fields: Option<String>,
    /// Sparse query terms as a JSON object {"term": weight, ...}.
    #[arg(long, conflicts_with = "sparse_file")]
    sparse: Option<String>,
    /// A file holding the sparse query: a JSON object {"term": weight, ...}, or one
    /// {"_id", "sparse": {...}} line.
    #[arg(long)]
    sparse_file: Option<PathBuf>,
    /// Only documents that pass this filter, e.g. "year >= 2015 AND lang = 'en'" (attributes
    /// with = != < <= > >= IN BETWEEN EXISTS, combined with AND OR NOT; `_key IN (..)`).
    #[arg(long = "where", value_name = "EXPR")]
    filter: Option<String>,
    /// How several sources are fused.
    #[arg(long, value_enum, default_value_t = FusionArg::Rrf)]
    fusion: FusionArg,
    /// The RRF constant k.
    #[arg(long, default_value_t = 60.0)]
    rrf_k: f32,
    /// Number of results.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Results skipped before the first one printed.
    #[arg(long, default_value_t = 0)]
    offset: usize,
    /// Candidates per source before fusion (default max(100, offset + k)).
    #[arg(long)]
    depth: Option<usize>,
    /// Search vectors exactly, ignoring IVF-PQ indexes.
    #[arg(long)]
    exact: bool,
    /// IVF lists probed per segment.
    #[arg(long)]
    nprobe: Option<usize>,
    /// Candidates re-ranked with full vectors per segment.
    #[arg(long)]
    rerank: Option<usize>,
    /// Print one JSON object per query (hits with per-source scores and ranks, stored fields).
    #[arg(long)]
    json: bool,
}

/// Parses sparse query terms from a JSON object (or an object with a "sparse" member).
fn parse_sparse(json: &str, source: &str) -> CliResult<Vec<(String, f32)>> {
    let bad = |what: String| CliError::Strata(Error::input(source, None, what));
    let v: serde_json::Value =
        serde_json::from_str(json.trim()).map_err(|e| bad(format!("not JSON: {e}")))?;
    let obj = match v.get("sparse") {
        Some(inner) => inner,
        None => &v,
    };
    let obj = obj
        .as_object()
        .ok_or_else(|| bad("expected a JSON object of term -> weight".to_owned()))?;
    let mut out = Vec::with_capacity(obj.len());
    for (term, w) in obj {
        let w = w
            .as_f64()
            .map(|w| w as f32)
            .filter(|w| w.is_finite() && *w >= 0.0)
            .ok_or_else(|| {
                bad(format!(
                    "term {term:?}: weight {w} is not a finite number ≥ 0"
                ))
            })?;
        out.push((term.clone(), w));
    }
    Ok(out)
}

/// The query without its vector (text, sparse terms, fusion, page).
fn base_query(args: &SearchArgs) -> CliResult<Query> {
    let mut q = Query::new()
        .limit(args.k)
        .offset(args.offset)
        .fusion(args.fusion.method(args.rrf_k));
    if let Some(d) = args.depth {
        q = q.depth(d);
    }
    if let Some(t) = &args.text {
        q = q.text(t.clone());
        if let Some(f) = &args.fields {
            q = q.fields(f.split(',').map(str::trim).filter(|s| !s.is_empty()));
        }
    }
    let sparse = match (&args.sparse, &args.sparse_file) {
        (Some(json), _) => Some(parse_sparse(json, "--sparse")?),
        (None, Some(path)) => {
            let bytes =
                std::fs::read(path).map_err(|e| Error::io("read", Error::path_string(path), e))?;
            let text = String::from_utf8_lossy(&bytes);
            Some(parse_sparse(&text, &Error::path_string(path))?)
        }
        (None, None) => None,
    };
    if let Some(terms) = sparse {
        if terms.is_empty() {
            return Err(CliError::Usage("the sparse query has no terms".to_owned()));
        }
        q = q.sparse(terms);
    }
    if let Some(expr) = &args.filter {
        q = q.filter(Filter::parse(expr)?);
    }
    Ok(q)
}

/// Adds the dense part for `vector`.
fn with_vector(args: &SearchArgs, q: Query, vector: Vec<f32>) -> Query {
    let mut q = q.vector(vector).exact(args.exact);
    if let Some(n) = args.nprobe {
        q = q.nprobe(n);
    }
    if let Some(r) = args.rerank {
        q = q.rerank(r);
    }
    q
}

/// The score printed in text output: the fused score, or with one source its own score in the
/// metric's terms (squared distance for l2), as single-source searches always printed it.
fn shown_score(snap: &Snapshot, q: &Query, hit: &QueryHit) -> f32 {
    match q.sources().as_slice() {
        [Source::Dense] => match snap.schema().dense_field() {
            Some((_, Metric::L2, _)) => -hit.score,
            _ => hit.score,
        },
        _ => hit.score,
    }
}

/// An attribute value as JSON: a string or list of strings, or a number.
fn attr_json(v: &AttrValue) -> serde_json::Value {
    match v {
        AttrValue::Keywords(k) if k.len() == 1 => serde_json::json!(k[0]),
        AttrValue::Keywords(k) => serde_json::json!(k),
        AttrValue::I64(x) => serde_json::json!(x),
        AttrValue::F64(x) => serde_json::json!(x),
    }
}

/// Runs one query and prints its hits; `row` prefixes each line when searching every row.
fn run_one(snap: &Snapshot, args: &SearchArgs, q: &Query, row: Option<usize>) -> CliResult {
    let res = snap.query(q)?;
    if args.json {
        let mut hits = Vec::with_capacity(res.hits.len());
        for (i, h) in res.hits.iter().enumerate() {
            let mut sources = serde_json::Map::new();
            for s in Source::ALL {
                if let Some(x) = h.source(s) {
                    sources.insert(
                        s.name().to_owned(),
                        serde_json::json!({"score": x.score, "rank": x.rank}),
                    );
                }
            }
            let fields: serde_json::Map<String, serde_json::Value> = snap
                .stored_fields(&h.address)?
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect();
            let attrs: serde_json::Map<String, serde_json::Value> = snap
                .attributes_of(h.address.segment, h.address.row)
                .into_iter()
                .map(|(k, v)| (k, attr_json(&v)))
                .collect();
            hits.push(serde_json::json!({
                "rank": q.offset + i + 1,
                "key": h.key.to_string(),
                "score": h.score,
                "sources": sources,
                "segment": h.address.segment,
                "row": h.address.row,
                "fields": fields,
                "attributes": attrs,
            }));
        }
        let mut obj = serde_json::json!({
            "hits": hits,
            "fewer_than_limit": res.fewer_than_limit,
            "candidates": res.candidates,
            "fusion": (q.sources().len() > 1).then(|| q.fusion.name()),
        });
        if let (Some(r), Some(o)) = (row, obj.as_object_mut()) {
            o.insert("query".into(), r.into());
        }
        out!("{obj}")?;
        return Ok(());
    }
    for (i, h) in res.hits.iter().enumerate() {
        let rank = q.offset + i + 1;
        let prefix = match row {
            Some(r) => format!("{r} {rank}"),
            None => rank.to_string(),
        };
        let score = shown_score(snap, q, h);
        let stored = snap.stored_fields(&h.address)?;
        let attrs: Vec<String> = snap
            .attributes_of(h.address.segment, h.address.row)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut line = format!("{prefix} {} {score}", h.key);
        if !attrs.is_empty() {
            line.push_str(&format!(" [{}]", attrs.join(" ")));
        }
        if let Some((_, t)) = stored.first() {
            let short: String = t.chars().take(80).collect();
            line.push(' ');
            line.push_str(&short);
        }
        out!("{line}")?;
    }
    Ok(())
}

/// Runs `strata search`.
pub fn run(args: &SearchArgs) -> CliResult {
    if args.query.is_none()
        && args.text.is_none()
        && args.sparse.is_none()
        && args.sparse_file.is_none()
    {
        return Err(CliError::Usage(
            "give --query, --text, --sparse or --sparse-file".to_owned(),
        ));
    }
    let reader = Reader::open(&args.dir)?;
    let snap = reader.snapshot();
    check_sources(&snap, args, &args.dir)?;
    let base = base_query(args)?;
    let Some(path) = &args.query else {
        return run_one(&snap, args, &base, None);
    };
    let set = read_vectors(path)?;
    if let Some((dim, _, _)) = snap.schema().dense_field()
        && set.dim != dim
    {
        let what = format!("queries have dimension {}, the index has {dim}", set.dim);
        return Err(Error::input(set.source, None, what).into());
    }
    let rows: Vec<usize> = if args.all {
        (0..set.rows).collect()
    } else if args.row >= set.rows {
        let what = format!("has {} rows, so there is no row {}", set.rows, args.row);
        return Err(Error::input(set.source, None, what).into());
    } else {
        vec![args.row]
    };
    for r in rows {
        let v = set
            .row_f32(r)
            .ok_or_else(|| CliError::Failed(format!("{}: no row {r}", set.source)))?;
        let q = with_vector(args, base.clone(), v);
        run_one(&snap, args, &q, args.all.then_some(r))?;
    }
    Ok(())
}

/// Fails with a clear message when the index lacks the field a source needs.
fn check_sources(snap: &Snapshot, args: &SearchArgs, dir: &Path) -> CliResult {
    let schema = snap.schema();
    if args.text.is_some() && schema.text_fields().is_empty() {
        return Err(Error::Schema(format!(
            "the index in {} has no text field to search with --text",
            dir.display()
        ))
        .into());
    }
    if args.query.is_some() && schema.dense_field().is_none() {
        return Err(Error::Schema(format!(
            "the index in {} has no vector field to search with --query",
            dir.display()
        ))
        .into());
    }
    if (args.sparse.is_some() || args.sparse_file.is_some()) && schema.sparse_field().is_none() {
        return Err(Error::Schema(format!(
            "the index in {} has no sparse field to search with --sparse",
            dir.display()
        ))
        .into());
    }
    Ok(())
}

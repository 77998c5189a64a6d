//! `create`, `ingest`, `search`, `delete` and `merge`: changing and querying an index.

use crate::util::{check_keys, create_index, ingest_batches, open_writer, prepare_keys};
use crate::{CliError, CliResult};
use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;
use strata::input::jsonl::{JsonKey, JsonlFields, read_jsonl};
use strata::input::{read_vectors_many, split_paths};
use strata::{Error, Key, KeyKind, Schema, VectorStorage};

/// The dense field's dimension, or a schema error.
fn dim_of(schema: &Schema) -> CliResult<usize> {
    schema
        .dense_field()
        .map(|(dim, _, _)| dim)
        .ok_or_else(|| Error::Schema("the index has no dense vector field".to_owned()).into())
}

/// A lower-case name for a key kind.
pub fn key_kind_name(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::U64 => "u64",
        KeyKind::Str => "string",
    }
}

/// A lower-case name for a storage setting.
pub fn storage_name(storage: VectorStorage) -> &'static str {
    match storage {
        VectorStorage::Auto => "auto",
        VectorStorage::F32 => "f32",
        VectorStorage::F16 => "f16",
    }
}

/// `strata create`: an empty index with `schema`, using the model of the index in
/// `model_from` if given.
pub fn create(dir: &Path, schema: Schema, model_from: Option<&Path>) -> CliResult {
    if schema.fields.is_empty() {
        return Err(CliError::Usage(
            "give at least one of --dim, --text, --sparse or --attr".to_owned(),
        ));
    }
    let (schema, model) = match model_from {
        Some(src) => {
            let snap = strata::Reader::open(src)?.snapshot();
            let model = snap.model().cloned().ok_or_else(|| {
                CliError::Failed(format!("{}: the index has no trained model", src.display()))
            })?;
            // Checked before anything is created, so a mismatch leaves no index behind.
            let fits = schema
                .dense_field()
                .is_some_and(|(dim, metric, _)| dim == model.dim && metric == model.metric);
            if !fits {
                return Err(CliError::Usage(format!(
                    "--model-from {}: its model is for dimension {} and metric {}; give --dim {} --metric {}",
                    src.display(),
                    model.dim,
                    model.metric.name(),
                    model.dim,
                    model.metric.name()
                )));
            }
            (schema.with_index(snap.schema().dense_index()), Some(model))
        }
        None => (schema, None),
    };
    let key = schema.key;
    let mut index = create_index(dir, schema.clone())?;
    if let Some(model) = &model {
        index.adopt_model(model)?;
    }
    let mut parts = Vec::new();
    if let Some((dim, metric, storage)) = schema.dense_field() {
        parts.push(format!(
            "dim {dim}, metric {}, storage {}",
            metric.name(),
            storage_name(storage)
        ));
    }
    for f in schema.text_fields() {
        parts.push(format!(
            "text field {}{}",
            f.name,
            if f.stored { " (stored)" } else { "" }
        ));
    }
    if let Some((_, name, bits)) = schema.sparse_field() {
        parts.push(format!("sparse field {name} ({bits}-bit impacts)"));
    }
    for a in schema.attributes() {
        parts.push(format!("attribute {} ({})", a.name, a.kind.name()));
    }
    if let Some(m) = &model {
        parts.push(format!("model {:016x} ({} lists)", m.lineage, m.nlist()));
    }
    out!(
        "created index {} (generation {}): {}, {} keys",
        dir.display(),
        index.snapshot().generation(),
        parts.join(", "),
        key_kind_name(key),
    )?;
    Ok(())
}

/// Turns a JSON key into an index key of `kind`.
fn json_key(k: JsonKey, kind: KeyKind, file: &str, line: u64) -> CliResult<Key> {
    match (k, kind) {
        (JsonKey::U64(v), KeyKind::U64) => Ok(Key::U64(v)),
        (JsonKey::U64(v), KeyKind::Str) => Ok(Key::Str(v.to_string())),
        (JsonKey::Str(s), KeyKind::Str) => Ok(Key::Str(s)),
        (JsonKey::Str(s), KeyKind::U64) => s.parse::<u64>().map(Key::U64).map_err(|_| {
            Error::input(
                file,
                Some(line),
                format!("key {s:?} is not an unsigned integer (the index has u64 keys)"),
            )
            .into()
        }),
    }
}

/// `strata ingest --jsonl`: reads and checks every line, then adds the documents `batch` per
/// transaction. A malformed line, a member the index has no field for, a text member that is
/// not a string, a repeated member or a repeated or live key stops the command before the
/// first commit, naming the line.
pub fn ingest_jsonl(dir: &Path, path: &Path, batch: usize) -> CliResult {
    if batch == 0 {
        return Err(CliError::Usage("--batch must be at least 1".to_owned()));
    }
    let mut index = open_writer(dir)?;
    let schema = index.schema();
    let file = path.display().to_string();
    let t = Instant::now();
    let mut docs = Vec::new();
    let mut reader = read_jsonl(path, &JsonlFields::of(&schema))?;
    while let Some(doc) = reader.next() {
        let line = reader.line();
        let doc = doc?;
        let key = json_key(doc.key, schema.key, &file, line)?;
        let mut d = strata::Document::with_key(key);
        d.text = doc.text;
        d.sparse = doc.sparse;
        d.vector = doc.vector.map(strata::Vector::F32);
        d.attrs = doc.attrs;
        docs.push((line, d));
    }
    // Check every document (schema, repeated keys, live keys) before the first commit.
    {
        let mut txn = index.begin();
        for (line, d) in &docs {
            txn.add(d.clone()).map_err(|e| {
                let what = match e {
                    Error::Input { what, .. } => what,
                    other => other.to_string(),
                };
                Error::input(&file, Some(*line), format!("line {line}: {what}"))
            })?;
        }
        txn.rollback();
    }
    note!(
        "read and checked {} documents in {:.2} s",
        docs.len(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let mut generation = index.snapshot().generation();
    let mut batches = 0;
    for chunk in docs.chunks(batch) {
        let mut txn = index.begin();
        for (_, d) in chunk {
            txn.add(d.clone())?;
        }
        generation = txn.commit()?;
        batches += 1;
    }
    let secs = t.elapsed().as_secs_f64();
    out!(
        "ingested {} docs in {batches} transactions in {secs:.2} s ({:.0} docs/s); generation {generation}",
        docs.len(),
        docs.len() as f64 / secs.max(1e-9),
    )?;
    Ok(())
}

/// `strata ingest`: reads and checks all input, then adds it `batch` rows per transaction.
///
/// Everything that can be wrong with the input (unreadable or truncated files, dimensions,
/// NaN or infinite values, key count, unparsable, repeated or already live keys) is found
/// before the first commit, so a bad input leaves the index as it was. The writer lock is
/// taken first so no other writer can make a key live between the check and the commits.
pub fn ingest(dir: &Path, vectors: &str, keys: Option<&Path>, batch: usize) -> CliResult {
    if batch == 0 {
        return Err(CliError::Usage("--batch must be at least 1".to_owned()));
    }
    let paths = split_paths(vectors);
    if paths.is_empty() {
        return Err(CliError::Usage("--vectors names no file".to_owned()));
    }
    let mut index = open_writer(dir)?;
    let schema = index.schema();
    let dim = dim_of(&schema)?;
    let t = Instant::now();
    let set = read_vectors_many(&paths)?;
    if set.dim != dim {
        let what = format!("vectors have dimension {}, the index has {dim}", set.dim);
        return Err(Error::input(set.source, None, what).into());
    }
    let (keys, source) = prepare_keys(keys, set.rows, schema.key)?;
    check_keys(&keys, &source, &index.snapshot())?;
    note!(
        "read and checked {} rows of dim {dim} in {:.2} s",
        set.rows,
        t.elapsed().as_secs_f64()
    );
    let report = ingest_batches(&mut index, &set, keys, &[], batch)?;
    out!(
        "ingested {} docs in {} transactions in {:.2} s ({:.0} docs/s); generation {}",
        report.docs,
        report.batches,
        report.secs,
        report.docs_per_sec(),
        report.generation
    )?;
    Ok(())
}

/// Parses a command-line key for an index with `kind` keys.
fn parse_key(s: &str, kind: KeyKind) -> CliResult<Key> {
    match kind {
        KeyKind::Str => Ok(Key::Str(s.to_owned())),
        KeyKind::U64 => s.trim().parse::<u64>().map(Key::U64).map_err(|_| {
            CliError::Failed(format!(
                "key '{s}' is not an unsigned 64-bit integer (the index has u64 keys)"
            ))
        }),
    }
}

/// `strata delete`: deletes `keys` in one transaction; keys that are not live are reported.
pub fn delete(dir: &Path, keys: &[String]) -> CliResult {
    let mut index = open_writer(dir)?;
    let kind = index.schema().key;
    let mut seen = HashSet::new();
    let mut parsed = Vec::with_capacity(keys.len());
    for s in keys {
        let key = parse_key(s, kind)?;
        if seen.insert(key.clone()) {
            parsed.push(key);
        }
    }
    let mut txn = index.begin();
    let mut missing = Vec::new();
    for key in &parsed {
        if !txn.delete(key)? {
            missing.push(key);
        }
    }
    let generation = txn.commit()?;
    for key in &missing {
        note!("warning: key {key} is not in the index");
    }
    out!(
        "deleted {} of {} keys; generation {generation}",
        parsed.len() - missing.len(),
        parsed.len()
    )?;
    Ok(())
}

/// `strata merge`: merges every segment into one and waits for it.
pub fn merge(dir: &Path) -> CliResult {
    let mut index = open_writer(dir)?;
    let before = index.snapshot();
    let deleted: u64 = before.segments().iter().map(|s| s.meta.deleted).sum();
    let t = Instant::now();
    let merged = index.merge_all()?;
    index.wait_for_merges();
    if let Some(e) = index.take_merge_error() {
        return Err(CliError::Failed(format!("merge failed: {e}")));
    }
    let after = index.snapshot();
    if merged {
        out!(
            "merged {} segments into {} in {:.2} s: {} live docs, {deleted} deleted rows dropped; generation {}",
            before.segments().len(),
            after.segments().len(),
            t.elapsed().as_secs_f64(),
            after.num_docs(),
            after.generation()
        )?;
    } else {
        out!(
            "nothing to merge: {} segment(s), no deleted rows; generation {}",
            after.segments().len(),
            after.generation()
        )?;
    }
    Ok(())
}

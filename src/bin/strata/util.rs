//! What the commands share: opening writers, preparing and checking keys, batched ingest,
//! progress bars, latency percentiles, scratch directories and byte formatting.
//!
//! The ingest path is shared by `ingest`, `demo` and `bench-ann` so all three measure the same
//! thing: keys are prepared and checked in full before the first transaction starts, then each
//! batch of rows is one transaction, committed before the next begins.

use crate::{CliError, CliResult};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use strata::input::{VectorData, VectorSet, parse_u64_keys, read_keys};
use strata::io::FsDirectory;
use strata::{Document, Error, Index, IndexOptions, Key, KeyKind, Schema, Snapshot, Vector};

/// Options for the command line's writers: no background merge thread, since a command is
/// one short-lived process and merging is its own command (`strata merge`).
fn writer_options() -> IndexOptions {
    IndexOptions {
        background_merges: false,
        ..IndexOptions::default()
    }
}

/// Creates a new index at `dir` (the directory is created if missing).
pub fn create_index(dir: &Path, schema: Schema) -> CliResult<Index> {
    let fs = FsDirectory::open(dir)
        .map_err(|e| Error::io("create directory", Error::path_string(dir), e))?;
    Ok(Index::create_in(Arc::new(fs), schema, writer_options())?)
}

/// Opens the index at `dir` for writing.
pub fn open_writer(dir: &Path) -> CliResult<Index> {
    let name = Error::path_string(dir);
    let fs = FsDirectory::open_existing(dir).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::NotAnIndex { path: name.clone() }
        } else {
            Error::io("open directory", name.clone(), e)
        }
    })?;
    Ok(Index::open_in(Arc::new(fs), writer_options())?)
}

/// The keys of `rows` input rows, in row order, and the name to use for them in messages.
///
/// With a key file, line `i + 1` is the key of row `i` (parsed as `u64` for `u64` schemas) and
/// the file must hold exactly `rows` keys. Without one, row `i` gets key `i` (as a string for
/// string schemas).
pub fn prepare_keys(
    keys_file: Option<&Path>,
    rows: usize,
    kind: KeyKind,
) -> CliResult<(Vec<Key>, String)> {
    let Some(path) = keys_file else {
        let keys = (0..rows as u64)
            .map(|i| match kind {
                KeyKind::U64 => Key::U64(i),
                KeyKind::Str => Key::Str(i.to_string()),
            })
            .collect();
        return Ok((keys, "<row numbers>".to_owned()));
    };
    let name = Error::path_string(path);
    let lines = read_keys(path)?;
    if lines.len() != rows {
        return Err(Error::input(
            name,
            None,
            format!("holds {} keys, the vectors have {rows} rows", lines.len()),
        )
        .into());
    }
    let keys = match kind {
        KeyKind::U64 => parse_u64_keys(&name, &lines)?
            .into_iter()
            .map(Key::U64)
            .collect(),
        KeyKind::Str => lines.into_iter().map(Key::Str).collect(),
    };
    Ok((keys, name))
}

/// Fails if a key repeats within `keys` or is already live in `snap`, naming its row in
/// `source`. Checked before the first transaction so that a bad key file commits nothing.
pub fn check_keys(keys: &[Key], source: &str, snap: &Snapshot) -> CliResult {
    let mut rows: HashMap<&Key, usize> = HashMap::with_capacity(keys.len());
    for (row, key) in keys.iter().enumerate() {
        if let Some(first) = rows.insert(key, row) {
            let what = format!("key {key} repeats the key of row {first}");
            return Err(Error::input(source, Some(row as u64), what).into());
        }
    }
    let mut clash = None;
    snap.for_each_live(|key, _, _| {
        if clash.is_none() {
            clash = rows.get(key).map(|&row| (key.clone(), row));
        }
    });
    match clash {
        None => Ok(()),
        Some((key, row)) => {
            let what = format!("key {key} already exists in the index (delete it first)");
            Err(Error::input(source, Some(row as u64), what).into())
        }
    }
}

/// Row `i` of `set` as a [`Vector`] in the set's own precision.
pub fn row_vector(set: &VectorSet, i: usize) -> Option<Vector> {
    let range = i.checked_mul(set.dim)?..i.checked_add(1)?.checked_mul(set.dim)?;
    match &set.data {
        VectorData::F32(v) => v.get(range).map(|r| Vector::F32(r.to_vec())),
        VectorData::F16(v) => v.get(range).map(|r| Vector::F16(r.to_vec())),
    }
}

/// Every row of `set` as f32 vectors.
pub fn rows_f32(set: &VectorSet) -> Vec<Vec<f32>> {
    (0..set.rows).filter_map(|i| set.row_f32(i)).collect()
}

/// What a batched ingest did.
#[derive(Debug, Clone, Copy)]
pub struct IngestReport {
    /// Documents added.
    pub docs: usize,
    /// Transactions committed.
    pub batches: usize,
    /// Wall time of all transactions, seconds.
    pub secs: f64,
    /// Generation of the last commit.
    pub generation: u64,
}

impl IngestReport {
    /// Documents per second.
    pub fn docs_per_sec(&self) -> f64 {
        self.docs as f64 / self.secs.max(1e-9)
    }
}

/// Adds row `i` of `set` with key `keys[i]` (and keyword attribute `name = values[i]` for each
/// `(name, values)` of `attrs`; an empty value leaves the attribute out), `batch` rows per
/// transaction, committing each.
///
/// The caller has checked `set` (dimension, finiteness) and `keys` (count, uniqueness, not
/// live) already, so an error here is an I/O or engine failure; the batches committed before
/// it stay committed.
pub fn ingest_batches(
    index: &mut Index,
    set: &VectorSet,
    keys: Vec<Key>,
    attrs: &[(String, Vec<String>)],
    batch: usize,
) -> CliResult<IngestReport> {
    if batch == 0 {
        return Err(CliError::Usage("--batch must be at least 1".to_owned()));
    }
    if keys.len() != set.rows {
        return Err(CliError::Failed(format!(
            "{} keys for {} rows",
            keys.len(),
            set.rows
        )));
    }
    let bar = progress_bar(set.rows as u64, "ingest");
    let start = Instant::now();
    let mut keys = keys.into_iter().enumerate();
    let mut batches = 0;
    let mut generation = index.snapshot().generation();
    loop {
        let mut txn = index.begin();
        for (row, key) in keys.by_ref().take(batch) {
            let vector = row_vector(set, row).ok_or_else(|| {
                CliError::Failed(format!("{}: row {row} is out of range", set.source))
            })?;
            let mut doc = Document::new(key, vector);
            for (name, values) in attrs {
                if let Some(v) = values.get(row).filter(|v| !v.is_empty()) {
                    doc = doc.with_attr(name, v.as_str());
                }
            }
            txn.add(doc)?;
            if row % 1024 == 1023 {
                bar.set_position(row as u64 + 1);
            }
        }
        if txn.pending_adds() == 0 {
            break;
        }
        generation = txn.commit()?;
        batches += 1;
        bar.set_position((batches * batch).min(set.rows) as u64);
    }
    bar.finish_and_clear();
    Ok(IngestReport {
        docs: set.rows,
        batches,
        secs: start.elapsed().as_secs_f64(),
        generation,
    })
}

/// A progress bar on stderr (drawn only when stderr is a terminal).
pub fn progress_bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template(
        "{msg:>8} [{bar:40}] {pos}/{len} ({per_sec}, {elapsed} elapsed, eta {eta})",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}

/// Mean and percentiles of per-query latencies, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    /// Mean.
    pub mean_ms: f64,
    /// Median (nearest rank).
    pub p50_ms: f64,
    /// 99th percentile (nearest rank).
    pub p99_ms: f64,
}

impl Latency {
    /// Summarises `ms` (any order; empty gives zeros).
    pub fn of(ms: &[f64]) -> Latency {
        let mut sorted = ms.to_vec();
        sorted.sort_by(f64::total_cmp);
        Latency {
            mean_ms: ms.iter().sum::<f64>() / ms.len().max(1) as f64,
            p50_ms: strata::eval::percentile(&sorted, 50.0),
            p99_ms: strata::eval::percentile(&sorted, 99.0),
        }
    }

    /// Queries per second at the mean latency.
    pub fn qps(&self) -> f64 {
        if self.mean_ms > 0.0 {
            1000.0 / self.mean_ms
        } else {
            0.0
        }
    }
}

/// A working directory: either one the user named (kept), or a fresh temporary one that is
/// removed when this value is dropped, on success and on error alike.
#[derive(Debug)]
pub struct WorkDir {
    path: PathBuf,
    temporary: bool,
}

impl WorkDir {
    /// `dir` if given, else `temp_dir()/strata-<what>-<pid>`, which must not exist yet.
    pub fn new(dir: Option<&Path>, what: &str) -> CliResult<WorkDir> {
        if let Some(d) = dir {
            return Ok(WorkDir {
                path: d.to_path_buf(),
                temporary: false,
            });
        }
        let path = std::env::temp_dir().join(format!("strata-{what}-{}", std::process::id()));
        if path.exists() {
            return Err(CliError::Failed(format!(
                "temporary directory {} already exists; remove it or pass --dir",
                path.display()
            )));
        }
        std::fs::create_dir_all(&path)
            .map_err(|e| Error::io("create directory", Error::path_string(&path), e))?;
        Ok(WorkDir {
            path,
            temporary: true,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether it is removed on drop.
    pub fn is_temporary(&self) -> bool {
        self.temporary
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.temporary {
            // Best effort: a leftover temporary directory is harmless.
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Number of files and their total size in `dir` (not recursive).
///
/// A writer in another process may remove files while this runs; an entry that vanishes
/// between the listing and its stat is not counted.
pub fn dir_bytes(dir: &Path) -> CliResult<(usize, u64)> {
    let name = Error::path_string(dir);
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("list", name.clone(), e))?;
    let (mut files, mut bytes) = (0, 0);
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list", name.clone(), e))?;
        if let Some(meta) = metadata_if_present(&entry.path())?
            && meta.is_file()
        {
            files += 1;
            bytes += meta.len();
        }
    }
    Ok((files, bytes))
}

/// The metadata of `path`; `None` if nothing is there (any more). Other failures are errors
/// naming the path.
pub fn metadata_if_present(path: &Path) -> CliResult<Option<std::fs::Metadata>> {
    match std::fs::metadata(path) {
        Ok(meta) => Ok(Some(meta)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("stat", Error::path_string(path), e).into()),
    }
}

/// `bytes` in binary units, e.g. `1.5 MiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    let name = UNITS.get(unit).copied().unwrap_or("B");
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {name}")
    }
}

/// The set of keys of `hits`, for recall.
pub fn key_set(hits: &[strata::Hit]) -> HashSet<&Key> {
    hits.iter().map(|h| &h.key).collect()
}

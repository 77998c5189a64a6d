//! The optional signal files of an evaluation: dense vectors with their id list, and learned
//! sparse vectors in JSON Lines, each read into a map from document (or query) id.
//!
//! A BEIR folder carries only text; embeddings computed elsewhere come as a vector file
//! (`.npy`, `.fvecs`, `.bvecs`) whose row `i` belongs to line `i` of an id file, and sparse
//! expansions (SPLADE and the like) as JSON Lines of `{"_id", "sparse": {term: weight}}`.

use crate::error::{Error, Result};
use crate::input::jsonl::{JsonKey, JsonlFields, read_jsonl};
use crate::input::{read_keys, read_vectors};
use std::collections::HashMap;
use std::path::Path;

/// The dimension of the vectors in `vectors` and each row by its id, line `i` of `ids` naming
/// row `i`. An id listed twice keeps its last row.
///
/// Fails with [`Error::Input`] naming `vectors` when `ids` does not hold one id per row, and
/// with the readers' errors for an unreadable or malformed file.
pub fn vectors_by_id(vectors: &Path, ids: &Path) -> Result<(usize, HashMap<String, Vec<f32>>)> {
    let set = read_vectors(vectors)?;
    let ids = read_keys(ids)?;
    if ids.len() != set.rows {
        let what = format!(
            "{} ids for the {} rows of {}",
            ids.len(),
            set.rows,
            vectors.display()
        );
        return Err(Error::input(Error::path_string(vectors), None, what));
    }
    let mut out = HashMap::with_capacity(ids.len());
    for (i, id) in ids.into_iter().enumerate() {
        if let Some(v) = set.row_f32(i) {
            out.insert(id, v);
        }
    }
    Ok((set.dim, out))
}

/// The sparse vectors of a JSON Lines file (plain or zstd) of `{"_id", "sparse"}` objects, by
/// id (an integer id is kept as its decimal string). An id listed twice keeps its last line.
pub fn sparse_by_id(path: &Path) -> Result<HashMap<String, Vec<(String, f32)>>> {
    let fields = JsonlFields {
        sparse: true,
        ..JsonlFields::default()
    };
    let mut out = HashMap::new();
    for doc in read_jsonl(path, &fields)? {
        let doc = doc?;
        let id = match doc.key {
            JsonKey::U64(n) => n.to_string(),
            JsonKey::Str(s) => s,
        };
        out.insert(id, doc.sparse);
    }
    Ok(out)
}

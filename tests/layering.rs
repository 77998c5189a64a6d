//! The layering contract: the table in docs/ARCHITECTURE.md assigns every module of `src/` to
//! a layer, and a module may use only modules of its own layer or below (and `txn` never uses
//! `search`, its neighbour that runs queries over its snapshots). This test reads the table and
//! every source file, and fails on the first `crate::` path that points upward, or on a module
//! the table does not place.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Module path (e.g. `dense::kernels`) → layer number, from the table's `| Ln | `a`, `b` |` rows.
fn layers() -> BTreeMap<String, u32> {
    let doc = std::fs::read_to_string(root().join("docs/ARCHITECTURE.md")).unwrap();
    let mut out = BTreeMap::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let Some(layer) = cells.get(1).and_then(|c| c.strip_prefix('L')) else {
            continue;
        };
        let Ok(layer) = layer.parse::<u32>() else {
            continue;
        };
        let modules = cells.get(2).copied().unwrap_or_default();
        for (i, part) in modules.split('`').enumerate() {
            if i % 2 == 1 && !part.contains('.') && !part.contains('/') {
                out.insert(part.to_owned(), layer);
            }
        }
    }
    assert!(
        out.len() > 8,
        "no layer table found in docs/ARCHITECTURE.md: {out:?}"
    );
    out
}

/// The layer of `path` (a module path): the longest prefix the table names.
fn layer_of(table: &BTreeMap<String, u32>, path: &str) -> Option<(String, u32)> {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len()).rev().find_map(|n| {
        let p = parts[..n].join("::");
        table.get(&p).map(|&l| (p, l))
    })
}

/// The module path of a source file under `src/` (`src/dense/kernels/avx2.rs` →
/// `dense::kernels::avx2`).
fn module_of(file: &Path) -> String {
    let rel = file.strip_prefix(root().join("src")).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every `crate::a::b` path on a code line (comments skipped).
fn crate_paths(line: &str) -> Vec<String> {
    let code = line.split("//").next().unwrap_or_default();
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        let path: String = after
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        out.push(path.trim_end_matches(':').to_owned());
        rest = after;
    }
    out
}

#[test]
fn no_module_uses_a_layer_above_its_own() {
    let table = layers();
    let mut files = Vec::new();
    sources(&root().join("src"), &mut files);
    files.sort();
    let mut violations = Vec::new();
    let mut checked = 0;
    for file in &files {
        let module = module_of(file);
        // The facade and the CLI are the top layer: they may use anything.
        if module == "lib" || module.starts_with("bin") {
            continue;
        }
        let Some((own_name, own)) = layer_of(&table, &module) else {
            violations.push(format!(
                "{module}: not placed in docs/ARCHITECTURE.md's table"
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            for path in crate_paths(line) {
                let Some((target_name, target)) = layer_of(&table, &path) else {
                    violations.push(format!(
                        "{}:{}: crate::{path} is not placed in the table",
                        file.display(),
                        n + 1
                    ));
                    continue;
                };
                checked += 1;
                let sideways = own_name == "txn" && target_name == "search";
                if target > own || sideways {
                    violations.push(format!(
                        "{}:{}: {own_name} (L{own}) uses crate::{path} ({target_name}, L{target})",
                        file.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} crate paths found");
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_checker_sees_an_upward_import() {
    let table = layers();
    let (_, dense) = layer_of(&table, "dense::flat").unwrap();
    let (_, segment) = layer_of(&table, "segment::keys").unwrap();
    let (_, kernels) = layer_of(&table, "dense::kernels::scalar").unwrap();
    assert!(dense < segment && kernels < dense);
    assert_eq!(
        crate_paths("use crate::segment::keys::KeyColumn; // crate::txn"),
        vec!["segment::keys::KeyColumn".to_owned()]
    );
}

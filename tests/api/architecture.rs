//! The layer picture in `src/lib.rs` stays true: every `crate::…` path in `src/**/*.rs`
//! names a module of the same layer or a lower one, and the top-level modules import each
//! other without a loop.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Lowest first; the same order as `src/lib.rs`'s docs.
const LAYERS: &[&[&str]] = &[
    &["clock", "digits", "error", "config", "redact", "logging", "notify", "metrics", "tls"],
    &["http"],
    &["limits"],
    &["store"],
    &["schema"],
    &["tokens", "catalog", "sandbox", "tables", "seed", "transfer", "backup"],
    &["checks"],
    &["pipeline"],
    &["state"],
    &["api"],
    &["housekeeper", "watchdog", "connection", "server", "cli", "main", "lib"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The top-level module a file under `src/` belongs to.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_string()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::name` (or `crate::{a, b}`) a file mentions outside comments.
fn imports(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for name in group[..end].split(',') {
                    let name: String =
                        name.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                    if !name.is_empty() {
                        out.insert(name);
                    }
                }
            } else {
                let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                out.insert(name);
            }
        }
    }
    out
}

#[test]
fn modules_import_only_from_their_layer_or_below_and_never_in_a_loop() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut violations = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        let Some(from) = layer_of(&module) else {
            violations.push(format!("{}: module {module} is in no layer of LAYERS", file.display()));
            continue;
        };
        for target in imports(&std::fs::read_to_string(file).unwrap()) {
            if target == module {
                continue;
            }
            match layer_of(&target) {
                None => violations.push(format!("{}: crate::{target} is in no layer", file.display())),
                Some(to) if to > from => violations
                    .push(format!("{}: {module} (layer {from}) imports {target} (layer {to}, higher)", file.display())),
                Some(_) => {
                    graph.entry(module.clone()).or_default().insert(target);
                }
            }
        }
    }
    assert!(violations.is_empty(), "layer violations:\n{}", violations.join("\n"));

    // No loop between top-level modules (same-layer imports included).
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == m) {
            return Some(path[at..].iter().cloned().chain([m.to_string()]).collect());
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for next in graph.get(m).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        if let Some(cycle) = visit(m, &graph, &mut Vec::new(), &mut done) {
            panic!("module loop: {}", cycle.join(" → "));
        }
    }
}

#[test]
fn the_import_reader_sees_grouped_and_inline_paths() {
    let text = "use crate::{store::Store, tokens};\nlet x = crate::http::route::resolve(); // crate::api\n";
    let found: Vec<String> = imports(text).into_iter().collect();
    assert_eq!(found, ["http", "store", "tokens"]);
}

/// Every `crate::…` and `super::…` path a file's code names (before its `#[cfg(test)]`
/// module, where `super` means the file itself), one brace level expanded:
/// `use super::{rows::Row, index}` gives `super::rows::Row` and `super::index`.
fn paths(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let code: String = text
        .lines()
        .take_while(|l| l.trim() != "#[cfg(test)]")
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let ident = |s: &str| s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
    for (at, _) in code.match_indices("crate::").chain(code.match_indices("super::")) {
        // Only where a path starts (not `super::` inside `crate::a::super::`, which is no path).
        if at > 0 && code[..at].ends_with("::") {
            continue;
        }
        let mut segments = Vec::new();
        let mut rest = &code[at..];
        loop {
            let name = ident(rest);
            if name.is_empty() {
                break;
            }
            rest = &rest[name.len()..];
            segments.push(name);
            match rest.strip_prefix("::") {
                Some(r) => rest = r,
                None => break,
            }
        }
        match rest.strip_prefix('{') {
            Some(group) => {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let tail: Vec<String> = item.trim().split("::").map(ident).take_while(|s| !s.is_empty()).collect();
                    out.push(segments.iter().cloned().chain(tail).collect());
                }
            }
            None => out.push(segments),
        }
    }
    out
}

/// Inside each folder of `src/`, no two of its files (or sub-folders) import each other:
/// what both need lives in a lower file they both import.
#[test]
fn files_of_one_folder_never_import_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    // Folder (module path) → edges between its children.
    let mut edges: BTreeMap<Vec<String>, BTreeSet<(String, String)>> = BTreeMap::new();
    for file in &files {
        let rel: Vec<String> = file
            .strip_prefix(&src)
            .unwrap()
            .components()
            .map(|c| c.as_os_str().to_string_lossy().trim_end_matches(".rs").to_string())
            .collect();
        // Unit tests (a `tests.rs` module, like a `#[cfg(test)]` block) may read any sibling.
        if rel.last().is_some_and(|m| m == "tests") {
            continue;
        }
        // The file's module path: `store/audit/mod.rs` is `store::audit`.
        let mut module = rel.clone();
        if module.last().is_some_and(|m| m == "mod") {
            module.pop();
        }
        for path in paths(&std::fs::read_to_string(file).unwrap()) {
            let absolute: Vec<String> = match path.first().map(String::as_str) {
                Some("crate") => path[1..].to_vec(),
                Some("super") => {
                    let ups = path.iter().take_while(|s| *s == "super").count();
                    let base = module.len().saturating_sub(ups);
                    module[..base].iter().cloned().chain(path[ups..].iter().cloned()).collect()
                }
                _ => continue,
            };
            // The deepest folder holding both the importer and the target as different children.
            let common = module.iter().zip(&absolute).take_while(|(a, b)| a == b).count();
            let (Some(from), Some(to)) = (module.get(common), absolute.get(common)) else { continue };
            let folder = module[..common].to_vec();
            if folder.is_empty() {
                continue; // top-level modules: checked by the layer test above
            }
            let dir = folder.iter().fold(src.clone(), |d, s| d.join(s));
            let child = |name: &str| dir.join(format!("{name}.rs")).exists() || dir.join(name).is_dir();
            if child(from) && child(to) {
                edges.entry(folder).or_default().insert((from.clone(), to.clone()));
            }
        }
    }
    let mut mutual = Vec::new();
    for (folder, pairs) in &edges {
        for (a, b) in pairs {
            if a < b && pairs.contains(&(b.clone(), a.clone())) {
                mutual.push(format!("src/{}: {a}.rs ↔ {b}.rs", folder.join("/")));
            }
        }
    }
    assert!(mutual.is_empty(), "files of one folder import each other:\n{}", mutual.join("\n"));
}

#[test]
fn the_path_reader_resolves_grouped_super_paths() {
    let text = "use super::{rows::Row, index};\nuse crate::store::codec::key;\nlet x = 1; // super::nothing\n#[cfg(test)]\nmod tests { use super::*; }\n";
    let found: Vec<String> = paths(text).iter().map(|p| p.join("::")).collect();
    assert_eq!(found, ["crate::store::codec::key", "super::rows::Row", "super::index"]);
}

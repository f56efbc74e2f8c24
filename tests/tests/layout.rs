//! The code's layout stays readable: no source file of the product's crates passes 500 lines of
//! code (its lines before its `#[cfg(test)]` module), and no module imports, directly or through
//! others, a module that imports it back (file by file, within each crate).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use integration_tests::{rust_files, workspace_root as root};

/// Lines of code a source file may hold before its tests.
const LINES_MAX: usize = 500;

/// The `src/` folders of the product's crates: the domain, the API, the tools and every function.
fn crate_sources() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = ["shared", "api", "admin", "local-streams"]
        .iter()
        .map(|name| root().join(name).join("src"))
        .collect();
    for entry in std::fs::read_dir(root().join("functions")).unwrap() {
        dirs.push(entry.unwrap().path().join("src"));
    }
    dirs
}

/// The file's text before its `#[cfg(test)]` module (all of it without one). A `#[cfg(test)]` on
/// anything but a module (a test-only function) does not end the code.
fn code(text: &str) -> &str {
    let module_at = text.match_indices("#[cfg(test)]").find(|(at, attribute)| {
        let mut rest = text[at + attribute.len()..].trim_start();
        while rest.starts_with("#[") {
            rest = rest[rest.find(']').map_or(rest.len(), |end| end + 1)..].trim_start();
        }
        ["mod ", "pub mod ", "pub(crate) mod "]
            .iter()
            .any(|start| rest.starts_with(start))
    });
    module_at.map_or(text, |(at, _)| &text[..at])
}

/// A test file (`*_tests.rs`, `tests.rs`, or under a `tests/` folder) is itself a test module.
fn is_test_file(path: &Path) -> bool {
    let name = path.file_stem().unwrap().to_string_lossy();
    name == "tests"
        || name.ends_with("_tests")
        || path.components().any(|c| c.as_os_str() == "tests")
}

#[test]
fn no_source_file_passes_500_lines_of_code() {
    let mut long = Vec::new();
    for dir in crate_sources() {
        for file in rust_files(&dir) {
            let text = std::fs::read_to_string(&file).unwrap();
            let lines = if is_test_file(&file) {
                text.lines().count()
            } else {
                code(&text).lines().count()
            };
            if lines > LINES_MAX {
                long.push(format!(
                    "{} ({lines})",
                    file.strip_prefix(root()).unwrap().display()
                ));
            }
        }
    }
    assert!(long.is_empty(), "over {LINES_MAX} lines of code: {long:?}");
}

/// A module's path within its crate, from its file: `adapters/dynamo/mod.rs` → `adapters::dynamo`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The deepest module of `modules` that `path` names (a path may go on into an item).
fn resolve(modules: &BTreeSet<Vec<String>>, path: &[String]) -> Vec<String> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|candidate| modules.contains(candidate))
        .unwrap_or_default()
}

/// The paths a module's code names: `crate::a::b`, `super::x`, `self::x`, and each member of a
/// `crate::a::{b, c::d}` group, relative to the crate root.
fn named_paths(module: &[String], code: &str) -> Vec<Vec<String>> {
    let code: String = code
        .lines()
        .map(|line| line.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let mut paths = Vec::new();
    let bytes = code.as_bytes();
    for head in ["crate::", "super::", "self::"] {
        for (at, _) in code.match_indices(head) {
            let before = at.checked_sub(1).map(|i| bytes[i] as char);
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let mut base: Vec<String> = match head {
                "crate::" => Vec::new(),
                "super::" => module[..module.len().saturating_sub(1)].to_vec(),
                _ => module.to_vec(),
            };
            let rest = &code[at + head.len()..];
            let mut segments = rest.split("::");
            let mut group = None;
            for segment in segments.by_ref() {
                if let Some(inner) = segment.strip_prefix('{') {
                    group = Some(&rest[rest.find(inner).unwrap()..]);
                    break;
                }
                let name: String = segment
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if name == "super" {
                    base.pop();
                    continue;
                }
                if name.is_empty() {
                    break;
                }
                base.push(name.clone());
                if name.len() != segment.len() {
                    break;
                }
            }
            if let Some(group) = group {
                let members = &group[..group.find('}').unwrap_or(group.len())];
                for member in members.split(',') {
                    let first: String = member
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !first.is_empty() {
                        let mut path = base.clone();
                        path.push(first);
                        paths.push(path);
                    }
                }
            }
            paths.push(base);
        }
    }
    paths
}

/// Strongly connected groups of more than one module: the import circles.
fn circles(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    // Two modules are in one circle when each reaches the other.
    let reach = |from: &Vec<String>| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(module) = todo.pop() {
            for next in edges.get(&module).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reached: BTreeMap<_, _> = edges.keys().map(|m| (m.clone(), reach(m))).collect();
    let mut placed = BTreeSet::new();
    let mut found = Vec::new();
    for module in edges.keys() {
        if placed.contains(module) || !reached[module].contains(module) {
            continue;
        }
        let circle: Vec<Vec<String>> = reached[module]
            .iter()
            .filter(|other| reached[*other].contains(module))
            .cloned()
            .collect();
        placed.extend(circle.iter().cloned());
        found.push(circle);
    }
    found
}

fn import_graph(src: &Path) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let files: Vec<PathBuf> = rust_files(src)
        .into_iter()
        .filter(|f| !is_test_file(f))
        .collect();
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(src, f)).collect();
    let mut edges = BTreeMap::new();
    for file in &files {
        let module = module_of(src, file);
        let text = std::fs::read_to_string(file).unwrap();
        let targets: BTreeSet<Vec<String>> = named_paths(&module, code(&text))
            .iter()
            .map(|path| resolve(&modules, path))
            .filter(|target| *target != module)
            .collect();
        edges.insert(module, targets);
    }
    edges
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let mut all = Vec::new();
    for src in crate_sources() {
        for circle in circles(&import_graph(&src)) {
            let names: Vec<String> = circle
                .iter()
                .map(|m| {
                    if m.is_empty() {
                        "(root)".to_owned()
                    } else {
                        m.join("::")
                    }
                })
                .collect();
            all.push(format!(
                "{}: {}",
                src.strip_prefix(root()).unwrap().display(),
                names.join(", ")
            ));
        }
    }
    assert!(all.is_empty(), "import circles: {all:#?}");
}

/// The check finds what it looks for: a circle through a `use` group and a `super::` path.
#[test]
fn the_circle_check_sees_a_circle() {
    let modules: BTreeSet<Vec<String>> = [vec![], vec!["a".to_owned()], vec!["b".to_owned()]]
        .into_iter()
        .collect();
    let mut edges = BTreeMap::new();
    for (module, code) in [
        (vec!["a".to_owned()], "use crate::{b::Thing, other};"),
        (vec!["b".to_owned()], "fn f() { super::a::g() }"),
        (vec![], "mod a; mod b;"),
    ] {
        let targets: BTreeSet<Vec<String>> = named_paths(&module, code)
            .iter()
            .map(|path| resolve(&modules, path))
            .filter(|target| *target != module)
            .collect();
        edges.insert(module, targets);
    }
    assert_eq!(
        circles(&edges),
        vec![vec![vec!["a".to_owned()], vec!["b".to_owned()]]]
    );
}

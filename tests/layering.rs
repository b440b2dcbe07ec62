//! The library's modules form layers, each importing only the layers before it, and the
//! binary's modules import one another without a loop. Read from the sources: every
//! `crate::NAME` path (and `use crate::{...}` group) outside comments is an import of NAME.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The library's modules, lowest first: each may import only those before it.
const LAYERS: [&str; 10] = [
    "error", "gpu", "tape", "ops", "nn", "data", "metrics", "models", "active", "datasets",
];

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

/// The code of a file without its comments (doc links are not imports).
fn code(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first path segments after `crate::` in `text`, `use crate::{a, b::c}` groups included.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.insert(name);
        }
    }
    out
}

/// The module a root-level name belongs to: itself, or the module `lib.rs` re-exports it from.
fn owner(name: &str, reexports: &BTreeMap<String, String>) -> String {
    reexports
        .get(name)
        .cloned()
        .unwrap_or_else(|| name.to_string())
}

/// `lib.rs`'s `pub use MODULE::{A, B}` lines, as A -> MODULE.
fn reexports(lib: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in lib.lines() {
        let Some(rest) = line.trim().strip_prefix("pub use ") else {
            continue;
        };
        let rest = rest.trim_end_matches(';');
        let Some((module, items)) = rest.split_once("::") else {
            continue;
        };
        for item in items.trim_matches(|c| c == '{' || c == '}').split(',') {
            out.insert(item.trim().to_string(), module.to_string());
        }
    }
    out
}

/// Module -> the modules it imports, for the modules directly under `root` (a file or a
/// directory each), skipping `skip`.
fn graph(
    root: &Path,
    skip: &[&str],
    reexports: &BTreeMap<String, String>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut g = BTreeMap::new();
    for e in std::fs::read_dir(root).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().to_string();
        if skip.contains(&name.as_str()) || (p.is_file() && p.extension().is_none_or(|x| x != "rs"))
        {
            continue;
        }
        let sources = if p.is_dir() {
            files(&p)
        } else {
            vec![p.clone()]
        };
        let mut deps = BTreeSet::new();
        for f in sources {
            for n in crate_paths(&code(&f)) {
                let m = owner(&n, reexports);
                if m != name {
                    deps.insert(m);
                }
            }
        }
        g.insert(name, deps);
    }
    g
}

/// A cycle in `g`, if there is one.
fn cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == n) {
            let mut c = stack[i..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_string());
        for d in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(d, g, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys()
        .find_map(|n| visit(n, g, &mut Vec::new(), &mut done))
}

#[test]
fn the_library_is_layered() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let g = graph(&src, &["lib", "bin"], &reexports(&lib));
    let known: BTreeSet<&str> = g.keys().map(String::as_str).collect();
    assert_eq!(
        known,
        LAYERS.iter().copied().collect(),
        "every module of src/ has its place in LAYERS"
    );
    let rank = |m: &str| LAYERS.iter().position(|l| *l == m);
    let mut wrong = Vec::new();
    for (m, deps) in &g {
        for d in deps {
            match (rank(m), rank(d)) {
                (Some(a), Some(b)) if b < a => {}
                _ => wrong.push(format!("{m} imports {d}")),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers {LAYERS:?}: {wrong:?}\nthe graph: {g:?}"
    );
    assert_eq!(cycle(&g), None);
}

#[test]
fn the_command_line_has_no_import_loop() {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin/oddity");
    let g = graph(&bin, &["main"], &BTreeMap::new());
    assert!(g.contains_key("active") && g.contains_key("repro"), "{g:?}");
    assert_eq!(cycle(&g), None, "the graph: {g:?}");
}

#[test]
fn the_checks_see_a_loop_and_a_layer_break() {
    // The reader finds grouped and plain paths, and ignores comments.
    let text =
        "use crate::{gpu::Gpu, tape};\n// crate::models in a comment\nlet x = crate::ops::f();";
    let found = crate_paths(
        &text
            .lines()
            .map(|l| l.split("//").next().unwrap())
            .collect::<Vec<_>>()
            .join("\n"),
    );
    assert_eq!(found, ["gpu", "ops", "tape"].map(String::from).into());
    let g: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_string(), ["b".to_string()].into()),
        ("b".to_string(), ["a".to_string()].into()),
    ]
    .into();
    assert!(cycle(&g).is_some());
}

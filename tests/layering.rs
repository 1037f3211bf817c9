//! The layers, checked rather than hoped for (in the spirit of
//! rust-analyzer's tidy tests): every file under `src/` is read as text and
//! the paths it names are held against the rules below. A rule broken names
//! the file and the line.

use std::path::{Path, PathBuf};

/// (folder or file under src/, what it must never name, why).
const RULES: &[(&str, &[&str], &str)] = &[
    (
        "backend/",
        &[
            "crate::plan",
            "crate::format",
            "crate::data",
            "crate::cli",
            "crate::ops",
        ],
        "backends know databases only: plans and formats meet them in data/",
    ),
    (
        "plan/",
        &["crate::backend", "crate::data", "crate::cli", "crate::ops"],
        "a plan is read without a database; shared types live in policy.rs and url.rs",
    ),
    (
        "format/",
        &[
            "crate::backend",
            "crate::plan",
            "crate::data",
            "crate::cli",
            "crate::ops",
        ],
        "formats know files only",
    ),
    (
        "ops/",
        &["crate::cli", "crate::console", "clap::"],
        "operations serve every front door: requests in, outcomes and events out",
    ),
    (
        "console/",
        &[
            "crate::cli",
            "clap::",
            "crate::format",
            "crate::schema",
            "crate::adapters",
        ],
        "the console is a front door beside the command line: it calls the operations",
    ),
    (
        "notify/",
        &[
            "crate::backend",
            "crate::data",
            "crate::format",
            "crate::history",
            "crate::plan",
            "crate::schema",
        ],
        "a notification knows a run's summary and HTTP only: the plan hands it its webhooks, the operations the summary",
    ),
    (
        "policy.rs",
        &["crate::"],
        "the policies are plain types every layer may use",
    ),
];

/// Layers below the front doors and the operations: they never name them,
/// nor clap.
const BELOW_THE_COMMANDS: &[&str] = &[
    "adapters/",
    "backend/",
    "catalog.rs",
    "confirm.rs",
    "dag.rs",
    "data/",
    "diag.rs",
    "error/",
    "events.rs",
    "failpoint.rs",
    "format/",
    "history.rs",
    "notify/",
    "plan/",
    "paths.rs",
    "policy.rs",
    "redact.rs",
    "schema/",
    "spool.rs",
    "url.rs",
    "value.rs",
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Lines of `file` that name any of `banned`, comments left out.
fn offences(file: &Path, banned: &[&str]) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .filter(|(_, l)| banned.iter().any(|b| l.contains(b)))
        .map(|(i, l)| format!("{}:{}: {}", file.display(), i + 1, l.trim()))
        .collect()
}

fn files_under(prefix: &str) -> Vec<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    sources(&src, &mut all);
    all.into_iter()
        .filter(|f| {
            f.strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .starts_with(prefix)
        })
        .collect()
}

#[test]
fn lower_layers_never_name_higher_ones() {
    let mut broken = Vec::new();
    for (prefix, banned, why) in RULES {
        let files = files_under(prefix);
        assert!(
            !files.is_empty(),
            "no file under src/{prefix}: update the rules"
        );
        for f in files {
            for o in offences(&f, banned) {
                broken.push(format!("{o}\n    ({why})"));
            }
        }
    }
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

#[test]
fn nothing_below_the_commands_names_them_or_clap() {
    let mut broken = Vec::new();
    for prefix in BELOW_THE_COMMANDS {
        let files = files_under(prefix);
        assert!(
            !files.is_empty(),
            "no file under src/{prefix}: update the list"
        );
        for f in files {
            broken.extend(offences(
                &f,
                &["crate::cli", "crate::console", "crate::ops", "clap::"],
            ));
        }
    }
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

/// Files under `src/` (relative, `/`-separated) whose code names any of
/// `needles`, comments left out, less the files under `except`.
fn naming(needles: &[&str], except: &[&str]) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    sources(&src, &mut all);
    let mut found: Vec<String> = all
        .iter()
        .filter(|f| !offences(f, needles).is_empty())
        .map(|f| {
            f.strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .filter(|f| !except.iter().any(|e| f.starts_with(e)))
        .collect();
    found.sort();
    found
}

/// Only `backend/` decides anything by engine (`url.rs` names them, from a
/// URL's scheme); every other module, its unit tests included, asks the
/// engine's `Dialect`.
#[test]
fn engines_are_named_in_backend_only() {
    // Listing every engine (`Engine::ALL`) decides nothing by engine;
    // naming one does.
    let found = naming(
        &["Engine::Sqlite", "Engine::Postgres", "Engine::Mysql"],
        &["backend/", "url.rs"],
    );
    assert!(
        found.is_empty(),
        "engine named outside backend/ in {found:?}: ask the dialect (`Backend::dialect`, `backend::dialect(engine)`) instead"
    );
}

#[test]
fn only_the_command_line_prints() {
    let found = naming(
        &["eprintln!", "println!", "eprint!", "print!"],
        &["cli/", "main.rs"],
    );
    assert!(
        found.is_empty(),
        "printing below the command line in {found:?}: hand the message to `crate::events` (a note, a warning, a step) instead"
    );
}

/// ARCHITECTURE.md's map names every test file, so the map stays true as
/// tests are added.
#[test]
fn the_architecture_map_lists_every_test_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let missing: Vec<String> = std::fs::read_dir(root.join("tests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| format!("tests/{}", p.file_name().unwrap().to_string_lossy()))
        .filter(|name| !map.contains(name.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md does not list {missing:?}"
    );
}

//! The committed JSON Schemas (`schemas/`) held against an independent
//! validator, Python's `jsonschema` (TOML read by Python's own `tomllib`):
//! every shipped plan, `reference.toml` and adapter file passes; every
//! fixture passes too, unless it is a shape error (`# schema: rejects`),
//! which the schema must then refuse. Without Python's jsonschema the test
//! skips visibly; under `CI=true` it fails.

mod support;

use std::path::{Path, PathBuf};

use support::repo_root;

/// What the validator said of one file.
struct Verdict {
    file: PathBuf,
    valid: bool,
    errors: Vec<String>,
}

fn validator_available() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import jsonschema, tomllib"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "python3 with jsonschema is required under CI=true (pip install jsonschema)"
        );
        eprintln!("SKIPPED: python3 with jsonschema not found (pip install jsonschema)");
    }
    ok
}

fn check(schema: &str, files: &[PathBuf]) -> Vec<Verdict> {
    let root = repo_root();
    let out = std::process::Command::new("python3")
        .arg(root.join("tests/support/schema_check.py"))
        .arg(root.join("schemas").join(schema))
        .args(files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            Verdict {
                file: PathBuf::from(v["file"].as_str().unwrap()),
                valid: v["valid"].as_bool().unwrap(),
                errors: v["errors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e.as_str().unwrap().to_string())
                    .collect(),
            }
        })
        .collect()
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no TOML files in {}", dir.display());
    files
}

fn marked_shape_error(file: &Path) -> bool {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .any(|l| l.starts_with("# schema: rejects"))
}

/// Shipped files pass; fixtures pass or fail as they are marked.
fn holds(schema: &str, shipped: Vec<PathBuf>, fixtures: Vec<PathBuf>) {
    let mut wrong = vec![];
    for v in check(schema, &shipped) {
        if !v.valid {
            wrong.push(format!(
                "{} (shipped) rejected: {:?}",
                v.file.display(),
                v.errors
            ));
        }
    }
    for v in check(schema, &fixtures) {
        let shape = marked_shape_error(&v.file);
        if v.valid == shape {
            wrong.push(match shape {
                true => format!("{} is a shape error the schema accepts", v.file.display()),
                false => format!(
                    "{} rejected, yet its error needs the whole plan: {:?}",
                    v.file.display(),
                    v.errors
                ),
            });
        }
    }
    assert!(wrong.is_empty(), "{schema}:\n{}", wrong.join("\n"));
}

#[test]
fn shipped_plans_and_fixtures_hold_against_the_plan_schema() {
    if !validator_available() {
        return;
    }
    let root = repo_root();
    let shipped = toml_files(&root.join("plans"));
    assert!(shipped.iter().any(|p| p.ends_with("reference.toml")));
    holds(
        "plan.schema.json",
        shipped,
        toml_files(&root.join("tests/fixtures/plans")),
    );
}

#[test]
fn adapter_files_and_fixtures_hold_against_the_adapters_schema() {
    if !validator_available() {
        return;
    }
    let root = repo_root();
    holds(
        "adapters.schema.json",
        toml_files(&root.join("adapters")),
        toml_files(&root.join("tests/fixtures/adapters")),
    );
}

/// Editors find the schema through the first line of every shipped file.
#[test]
fn every_shipped_file_names_its_schema_first() {
    let root = repo_root();
    let pairs = [
        ("plans", "plan.schema.json"),
        ("adapters", "adapters.schema.json"),
    ];
    for (dir, schema) in pairs {
        for file in toml_files(&root.join(dir)) {
            let text = std::fs::read_to_string(&file).unwrap();
            let first = text.lines().next().unwrap_or_default();
            let named = first
                .strip_prefix("#:schema ")
                .unwrap_or_else(|| panic!("{} starts without `#:schema`: {first}", file.display()));
            let target = file.parent().unwrap().join(named);
            assert!(
                target.ends_with(schema) && target.exists(),
                "{}: {named}",
                file.display()
            );
        }
    }
}

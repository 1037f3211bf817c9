//! migplan in CI: `validate --db` points at the plan's lines with "did you
//! mean"; the GitHub Action's validate step (`action/validate.sh`, run as
//! the action runs it) annotates every problem, lists them all in the job
//! summary and sets its output; the pre-commit hook checks plans and only
//! plans.

mod support;

use std::path::Path;
use std::process::Output;

use support::{Workspace, repo_root, stderr, stdout};

const SCHEMA: &str = "
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE questions (id INTEGER PRIMARY KEY, body TEXT, author INTEGER REFERENCES users(id));
";

/// A database with `users` and `questions` (questions reference users).
fn workspace() -> Workspace {
    let ws = Workspace::new();
    ws.open("app.db").execute_batch(SCHEMA).unwrap();
    ws
}

fn run(ws: &Workspace, args: &[&str]) -> Output {
    ws.migplan()
        .current_dir(ws.dir.path())
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn validate_db_points_at_the_plan_and_suggests_the_nearest_name() {
    let ws = workspace();
    ws.write(
        "p.toml",
        r#"[plan]
kind = "import"

[[module]]
name = "bank"
tables = ["questoins"]

[[module]]
name = "people"
tables = ["users"]

[tables.question]
key = ["id"]

[tables.users]
exclude = ["nmae"]
"#,
    );
    let out = run(&ws, &["validate", "p.toml", "--db", &ws.url("app.db")]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    // Each problem at the name as written, and the nearest name suggested.
    for expected in [
        "p.toml:6:11",
        "module `bank` lists table `questoins`",
        "did you mean `questions`?",
        "p.toml:12:9",
        "`[tables.question]` names a table",
        "p.toml:16:12",
        "names column `nmae`, which table `users` does not have",
        "did you mean `name`? columns of `users`: `id`, `name`",
    ] {
        assert!(text.contains(expected), "no {expected:?} in:\n{text}");
    }
    // JSON carries the same places.
    let out = run(
        &ws,
        &[
            "validate",
            "p.toml",
            "--db",
            &ws.url("app.db"),
            "--format",
            "json",
        ],
    );
    let doc = support::json_result(&stdout(&out));
    let errors = doc["files"][0]["errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .all(|e| e["line"].is_u64() && e["column"].is_u64()),
        "{doc}"
    );
}

#[test]
fn module_order_against_foreign_keys_points_at_the_module() {
    let ws = workspace();
    ws.write(
        "p.toml",
        r#"[[module]]
name = "bank"
tables = ["questions"]

[[module]]
name = "people"
tables = ["users"]
"#,
    );
    let out = run(&ws, &["validate", "p.toml", "--db", &ws.url("app.db")]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("p.toml:2:8"), "{text}");
    assert!(
        text.contains("module `bank` does not depend on `people`"),
        "{text}"
    );
}

/// The plan the action checks in these tests: one module listing `n`
/// tables the database lacks (`n` problems, one line each).
fn many_problems(ws: &Workspace, n: usize) {
    let tables: Vec<String> = (0..n).map(|i| format!("\"missing_{i}\"")).collect();
    ws.write(
        "plans/bad.toml",
        &format!(
            "[[module]]\nname = \"m\"\ntables = [\n{}\n]\n",
            tables.join(",\n")
        ),
    );
}

/// Runs the action's validate step as GitHub does: inputs in the
/// environment, the summary and output files given, migplan on PATH.
fn action_step(ws: &Workspace, paths: &str, db: &str) -> (Output, String, String) {
    let bin = Path::new(env!("CARGO_BIN_EXE_migplan")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = std::process::Command::new("bash")
        .arg(repo_root().join("action/validate.sh"))
        .current_dir(ws.dir.path())
        .env("PATH", path)
        .env("MIGPLAN_PATHS", paths)
        .env("MIGPLAN_VALIDATE_DB", db)
        .env("GITHUB_STEP_SUMMARY", ws.path("summary.md"))
        .env("GITHUB_OUTPUT", ws.path("output.txt"))
        .output()
        .unwrap();
    let read = |f: &str| std::fs::read_to_string(ws.path(f)).unwrap_or_default();
    (out, read("summary.md"), read("output.txt"))
}

#[test]
fn the_action_annotates_every_problem_and_lists_them_all_in_the_summary() {
    let ws = workspace();
    many_problems(&ws, 12);
    ws.write("plans/good.toml", "[plan]\nkind = \"export\"\n");
    let (out, summary, output) = action_step(&ws, "plans", &ws.url("app.db"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let annotations: Vec<String> = stdout(&out)
        .lines()
        .filter(|l| l.starts_with("::error "))
        .map(String::from)
        .collect();
    assert_eq!(annotations.len(), 12, "{}", stdout(&out));
    // Relative to the job's folder, with the line and column of each name.
    assert!(
        annotations[0].starts_with("::error file=plans/bad.toml,line=4,col=1::"),
        "{}",
        annotations[0]
    );
    // GitHub shows 10 annotations; the summary has all 12.
    assert!(summary.contains("## migplan validate"), "{summary}");
    assert!(
        summary.contains("| `plans/good.toml` | ✅ valid |"),
        "{summary}"
    );
    assert!(
        summary.contains("| `plans/bad.toml` | ❌ 12 problem(s) |"),
        "{summary}"
    );
    for i in 0..12 {
        assert!(summary.contains(&format!("`missing_{i}`")), "{summary}");
    }
    assert!(summary.contains("`plans/bad.toml:15:1`"), "{summary}");
    assert_eq!(output.trim(), "valid=false");
}

#[test]
fn the_action_passes_valid_plans_offline() {
    let ws = workspace();
    ws.write("plans/good.toml", "[plan]\nkind = \"export\"\n");
    ws.write("more/other.toml", "[plan]\nkind = \"migrate\"\n");
    let (out, summary, output) = action_step(&ws, "plans more/other.toml", "");
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(!stdout(&out).contains("::error"), "{}", stdout(&out));
    assert!(summary.contains("✅ 2 file(s) valid"), "{summary}");
    assert_eq!(output.trim(), "valid=true");
}

#[test]
fn the_action_refers_only_to_scripts_it_ships() {
    let root = repo_root();
    let action = std::fs::read_to_string(root.join("action.yml")).unwrap();
    let scripts: Vec<&str> = action
        .split("$GITHUB_ACTION_PATH/")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert_eq!(scripts.len(), 2, "{action}");
    for s in scripts {
        let path = root.join(s);
        let out = std::process::Command::new("bash")
            .arg("-n")
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{s}: {}", stderr(&out));
    }
}

/// The hook's `files` pattern (Python's `re`, as pre-commit reads it)
/// takes plans and adapter files, not Cargo.toml; its `entry` checks them.
#[test]
fn the_pre_commit_hook_checks_plans_and_only_plans() {
    let root = repo_root();
    let hooks = std::fs::read_to_string(root.join(".pre-commit-hooks.yaml")).unwrap();
    let field = |name: &str| -> String {
        hooks
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in the hook"))
            .to_string()
    };
    let pattern = field("files");
    let script = "import re, sys\np = re.compile(sys.argv[1])\nprint([bool(p.search(f)) for f in sys.argv[2:]])";
    let out = std::process::Command::new("python3")
        .args(["-c", script, &pattern])
        .args([
            "plans/full-backup.toml",
            "adapters/tiku.toml",
            "Cargo.toml",
            "src/x.toml",
        ])
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out).trim(),
        "[True, True, False, False]",
        "{pattern}"
    );
    let entry = field("entry");
    let mut words = entry.split_whitespace();
    assert_eq!(words.next(), Some("migplan"));
    let ws = Workspace::new();
    let out = ws
        .migplan()
        .current_dir(root)
        .args(words)
        .args(["plans/full-backup.toml", "adapters/tiku.toml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stdout(&out));
}

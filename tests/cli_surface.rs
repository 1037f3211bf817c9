//! The command line as a person or a program meets it: `--format json` on
//! every command (one versioned document, failures included), man pages
//! kept current, completions for every shell, the operator named when
//! migplan guessed it.

mod support;

use std::path::Path;
use std::process::Output;

use serde_json::Value as Json;
use support::{Workspace, stderr, stdout};

const ITEMS: &str = "CREATE TABLE items (id INTEGER PRIMARY KEY, v VARCHAR(20) NOT NULL);";

fn run(ws: &Workspace, args: &[&str]) -> Output {
    ws.migplan().args(args).output().unwrap()
}

/// The document `args` prints, after checking its envelope: version 1,
/// the command named, `ok` as the exit code says, a result or an error.
fn document(ws: &Workspace, command: &str, args: &[&str]) -> Json {
    let out = run(ws, args);
    let text = stdout(&out);
    let doc: Json = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not one JSON document ({e}):\n{text}{}",
            stderr(&out)
        )
    });
    assert_eq!(doc["version"], 1, "{args:?}: {doc}");
    assert_eq!(doc["command"], command, "{args:?}: {doc}");
    assert_eq!(doc["ok"], out.status.success(), "{args:?}: {doc}");
    // A result (`verify` finding differences: exit 1 with its result), or
    // an error, never both.
    let result = doc["result"].is_object() || doc["result"].is_array();
    assert!(result != doc.get("error").is_some(), "{doc}");
    match out.status.success() || result {
        true => {}
        false => {
            assert_eq!(
                doc["error"]["exit_code"],
                out.status.code().unwrap(),
                "{doc}"
            );
            assert!(doc["error"]["message"].is_string(), "{doc}");
        }
    }
    doc
}

/// A migrate plan over `app.db` whose one script (with its undo twin)
/// creates `items`.
fn workspace() -> Workspace {
    let ws = Workspace::new();
    ws.write("m/V1__items.sql", ITEMS);
    ws.write("m/V1__items.undo.sql", "DROP TABLE items;");
    ws.write(
        "plan.toml",
        &format!(
            "[plan]\nkind = \"migrate\"\n[database]\nurl = \"{}\"\n[schema]\nmigrations = \"m\"\n",
            ws.url("app.db")
        ),
    );
    ws
}

#[test]
fn every_command_prints_one_versioned_json_document() {
    let ws = workspace();
    let app = ws.url("app.db");
    let copy = ws.url("copy.db");

    let v = document(
        &ws,
        "validate",
        &["validate", "plan.toml", "--format", "json"],
    );
    assert_eq!(v["result"]["files"][0]["valid"], true, "{v}");
    let v = document(&ws, "plan", &["plan", "plan.toml", "--format", "json"]);
    assert_eq!(v["result"]["pending_scripts"][0], "V1__items", "{v}");
    ws.open("app.db");
    let v = document(
        &ws,
        "schema up",
        &["schema", "up", "plan.toml", "--dry-run", "--format", "json"],
    );
    assert_eq!(v["result"]["action"], "would_apply", "{v}");
    assert_eq!(v["result"]["planned"][0]["version"], 1, "{v}");
    let v = document(&ws, "run", &["run", "plan.toml", "--format", "json"]);
    assert_eq!(v["result"]["kind"], "migrate", "{v}");
    assert_eq!(v["result"]["schema"]["applied"][0]["version"], 1, "{v}");
    let v = document(
        &ws,
        "schema status",
        &["schema", "status", "plan.toml", "--format", "json"],
    );
    assert_eq!(v["result"]["action"], "status", "{v}");
    assert_eq!(v["result"]["status"]["applied"][0]["version"], 1, "{v}");
    ws.open("app.db")
        .execute_batch("INSERT INTO items VALUES (1, 'one'), (2, 'two')")
        .unwrap();

    let v = document(
        &ws,
        "export",
        &["export", "--db", &app, "-o", "b.json", "--format", "json"],
    );
    assert_eq!(v["result"]["kind"], "export", "{v}");
    assert_eq!(v["result"]["export"]["tables"][0]["rows"], 2, "{v}");
    assert_eq!(v["result"]["export"]["file"], "b.json", "{v}");

    ws.open("copy.db").execute_batch(ITEMS).unwrap();
    let v = document(
        &ws,
        "import",
        &["import", "--db", &copy, "b.json", "--format", "json"],
    );
    assert_eq!(v["result"]["imports"][0]["tables"][0]["inserted"], 2, "{v}");
    // The older spelling still works and prints the same shape.
    let v = document(
        &ws,
        "import",
        &[
            "import",
            "--db",
            &copy,
            "b.json",
            "--conflict",
            "skip",
            "--report",
            "json",
        ],
    );
    assert_eq!(
        v["result"]["imports"][0]["tables"][0]["identical"], 2,
        "{v}"
    );

    let v = document(
        &ws,
        "verify",
        &["verify", "b.json", "--db", &copy, "--format", "json"],
    );
    assert_eq!(v["result"]["identical"], true, "{v}");
    ws.open("copy.db")
        .execute_batch("DELETE FROM items WHERE id = 2")
        .unwrap();
    let v = document(
        &ws,
        "verify",
        &["verify", "b.json", "--db", &copy, "--format", "json"],
    );
    assert_eq!(v["ok"], false, "differences are not ok: {v}");
    assert_eq!(v["result"]["identical"], false, "{v}");

    let v = document(
        &ws,
        "status",
        &["status", "--db", &copy, "--format", "json"],
    );
    assert_eq!(v["result"]["engine"], "sqlite", "{v}");
    let v = document(
        &ws,
        "history",
        &["history", "--db", &copy, "--format", "json"],
    );
    assert_eq!(v["result"][0]["id"], 2, "newest first: {v}");
    let v = document(
        &ws,
        "history",
        &["history", "1", "--db", &copy, "--format", "json"],
    );
    assert_eq!(v["result"]["kind"], "import", "{v}");
    let v = document(
        &ws,
        "rollback",
        &[
            "rollback", "1", "--db", &copy, "--yes", "--force", "--format", "json",
        ],
    );
    assert_eq!(v["result"]["run"], 1, "{v}");
    assert_eq!(
        v["result"]["reports"][0]["tables"][0]["table"], "items",
        "{v}"
    );

    ws.open("app.db")
        .execute_batch("DELETE FROM items")
        .unwrap();
    let v = document(
        &ws,
        "schema down",
        &[
            "schema",
            "down",
            "plan.toml",
            "--to",
            "0",
            "--yes",
            "--format",
            "json",
        ],
    );
    assert_eq!(v["result"]["action"], "undone", "{v}");
    assert_eq!(v["result"]["scripts"][0], "V1__items.undo", "{v}");
    ws.open("app.db").execute_batch(ITEMS).unwrap();
    let v = document(
        &ws,
        "schema baseline",
        &["schema", "baseline", "plan.toml", "1", "--format", "json"],
    );
    assert_eq!(v["result"]["action"], "baselined", "{v}");
    let v = document(
        &ws,
        "schema repair",
        &["schema", "repair", "plan.toml", "--format", "json"],
    );
    assert_eq!(v["result"]["action"], "repaired", "{v}");
    let v = document(
        &ws,
        "schema new",
        &["schema", "new", "plan.toml", "add_note", "--format", "json"],
    );
    assert_eq!(v["result"]["action"], "created", "{v}");
    assert_eq!(v["result"]["files"].as_array().unwrap().len(), 2, "{v}");
}

#[test]
fn a_failure_in_json_is_a_document_naming_the_error() {
    let ws = workspace();
    let missing = ws.url("missing.db");
    let v = document(
        &ws,
        "history",
        &["history", "--db", &missing, "--format", "json"],
    );
    assert_eq!(v["error"]["kind"], "Engine.NoDatabaseFile", "{v}");
    assert!(v["error"]["help"].is_string(), "{v}");
    assert!(v.get("result").is_none(), "{v}");
    // A bad plan fails the same way, its error named.
    ws.write("bad.toml", "[plan]\nkind = \"exprot\"\n");
    let v = document(&ws, "run", &["run", "bad.toml", "--format", "json"]);
    assert_eq!(v["error"]["exit_code"], 2, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("bad.toml:2:8"),
        "{v}"
    );
    // Passwords stay masked in a document as anywhere.
    let url = "postgres://ana:s3cret@127.0.0.1:1/nowhere";
    let out = run(&ws, &["status", "--db", url, "--format", "json"]);
    assert!(!stdout(&out).contains("s3cret") && !stderr(&out).contains("s3cret"));
}

#[test]
fn text_output_shows_paths_relative_to_where_one_stands() {
    let ws = workspace();
    ws.migplan().args(["run", "plan.toml"]).assert().success();
    let out = ws
        .migplan()
        .current_dir(ws.dir.path())
        .args(["export", "--db", "sqlite://app.db", "-o", "out/b.json"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("wrote out/b.json"), "{text}");
    assert!(
        !text.contains(&ws.dir.path().display().to_string()),
        "{text}"
    );
    // A plan's `..` out of its folder is resolved.
    ws.write(
        "plans/p.toml",
        "[plan]\nkind = \"migrate\"\n[database]\nurl = \"sqlite://../app.db\"\n",
    );
    let out = ws
        .migplan()
        .current_dir(ws.dir.path())
        .args(["plan", "plans/p.toml"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(
        text.contains("on sqlite://app.db"),
        "{text}{}",
        stderr(&out)
    );
}

#[test]
fn man_pages_in_the_repository_are_current() {
    let ws = Workspace::new();
    let out = run(&ws, &["man", "--dir", ws.path("man").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let committed = support::repo_root().join("docs/man");
    let names = |dir: &Path| -> Vec<String> {
        let mut n: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    let fix = "regenerate them: cargo run -- man --dir docs/man";
    assert_eq!(names(&ws.path("man")), names(&committed), "{fix}");
    for name in names(&committed) {
        let fresh = std::fs::read_to_string(ws.path("man").join(&name)).unwrap();
        let old = std::fs::read_to_string(committed.join(&name)).unwrap();
        assert!(fresh == old, "docs/man/{name} is out of date: {fix}");
    }
    let top = std::fs::read_to_string(committed.join("migplan-rollback.1")).unwrap();
    assert!(top.contains("\\-\\-force"), "options are documented");
    // `man` itself reads the page without complaint where it is installed.
    if let Ok(out) = std::process::Command::new("man")
        .args(["--warnings", "-l", "-Tutf8"])
        .arg(committed.join("migplan-run.1"))
        .env("MANWIDTH", "80")
        .output()
    {
        assert!(stderr(&out).trim().is_empty(), "{}", stderr(&out));
    }
}

#[test]
fn completions_are_printed_for_every_shell() {
    let ws = Workspace::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = run(&ws, &["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        for word in ["rollback", "dry-run", "conflict"] {
            assert!(script.contains(word), "{shell} completes {word}");
        }
    }
    // The bash script is valid bash.
    let script = stdout(&run(&ws, &["completions", "bash"]));
    let path = ws.write("migplan.bash", &script);
    let out = std::process::Command::new("bash")
        .arg("-n")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let bad = run(&ws, &["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn a_run_names_the_operator_it_records_when_nobody_gave_one() {
    let ws = workspace();
    // No git identity anywhere: the OS user is taken, and said.
    let home = ws.path("home");
    std::fs::create_dir_all(&home).unwrap();
    let guess = ws
        .migplan()
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", &home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("MIGPLAN_OPERATOR")
        .env("USER", "ana")
        .args(["run", "plan.toml"])
        .output()
        .unwrap();
    assert!(guess.status.success(), "{}", stderr(&guess));
    assert!(
        stderr(&guess).contains("recorded as run by ana (from the OS user"),
        "{}",
        stderr(&guess)
    );
    ws.open("app.db")
        .execute_batch("DELETE FROM migplan_history")
        .ok();
    let named = ws
        .migplan()
        .args([
            "schema",
            "down",
            "plan.toml",
            "--to",
            "0",
            "--yes",
            "--operator",
            "Bo",
        ])
        .output()
        .unwrap();
    assert!(named.status.success(), "{}", stderr(&named));
    assert!(
        !stderr(&named).contains("recorded as run by"),
        "{}",
        stderr(&named)
    );
}

#[test]
fn the_old_export_format_flag_is_answered_with_the_new_one() {
    let ws = workspace();
    let out = run(
        &ws,
        &[
            "export",
            "--db",
            &ws.url("app.db"),
            "--format",
            "xlsx",
            "-o",
            "b.xlsx",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--backup-format xlsx"),
        "{}",
        stderr(&out)
    );
    assert!(!ws.path("b.xlsx").exists());
}

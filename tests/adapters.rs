//! Version adapters end to end: the real binary upgrades old tiku backups
//! through `adapters/tiku.toml` into a database at the latest schema version.

mod support;

use std::path::PathBuf;

use support::{Workspace, backup_rows, count, dump, repo_root, stderr, stdout};

fn v1_fixture() -> PathBuf {
    repo_root().join("examples/tiku/fixtures/tiku-v1.json")
}

/// An import plan on tiku's scripts (optionally stopping at `target`),
/// naming `adapters` (paths relative to the workspace).
fn plan(ws: &Workspace, name: &str, target: Option<i64>, adapters: &[&str]) -> PathBuf {
    let migrations = repo_root().join("examples/tiku/migrations/{engine}");
    let mut text = format!(
        "[plan]\nkind = \"import\"\n[schema]\nmigrations = {:?}\n",
        migrations.display().to_string()
    );
    if let Some(t) = target {
        text.push_str(&format!("target = {t}\n"));
    }
    let list: Vec<String> = adapters.iter().map(|a| format!("{a:?}")).collect();
    text.push_str(&format!("[import]\nadapters = [{}]\n", list.join(", ")));
    ws.write(name, &text)
}

fn tiku_adapters(ws: &Workspace) -> &'static str {
    std::fs::copy(
        repo_root().join("adapters/tiku.toml"),
        ws.write("adapters/tiku.toml", ""),
    )
    .unwrap();
    "adapters/tiku.toml"
}

fn run(
    ws: &Workspace,
    plan: &std::path::Path,
    db: &str,
    file: &std::path::Path,
) -> std::process::Output {
    ws.migplan()
        .args(["run", plan.to_str().unwrap(), "--db", &ws.url(db)])
        .args(["--file", file.to_str().unwrap()])
        .output()
        .unwrap()
}

/// The backup's rows without the export time, for comparing two exports.
fn rows_of(ws: &Workspace, file: &str) -> Vec<String> {
    std::fs::read_to_string(ws.path(file))
        .unwrap()
        .lines()
        .filter(|l| !l.contains("\"exported_at\"") && !l.contains("\"backup_id\""))
        .map(String::from)
        .collect()
}

#[test]
fn tiku_v1_backup_upgraded_by_adapters_equals_the_same_data_migrated_by_scripts() {
    let ws = Workspace::new();
    let adapters = tiku_adapters(&ws);

    // The same data the way a live database gets it: loaded at version 1,
    // then migrated by the schema scripts.
    let v1_only = plan(&ws, "v1.toml", Some(1), &[]);
    let out = run(&ws, &v1_only, "migrated.db", &v1_fixture());
    assert!(out.status.success(), "{}", stderr(&out));
    let latest = plan(&ws, "latest.toml", None, &[]);
    let up = ws
        .migplan()
        .args([
            "schema",
            "up",
            latest.to_str().unwrap(),
            "--db",
            &ws.url("migrated.db"),
        ])
        .output()
        .unwrap();
    assert!(up.status.success(), "{}", stderr(&up));
    ws.export("migrated.db", "migrated.json");

    // The V1 backup imported through the adapters into a fresh database.
    let restore = plan(&ws, "restore.toml", None, &[adapters]);
    let out = run(&ws, &restore, "upgraded.db", &v1_fixture());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("upgrading the backup from schema version 1 to 4"),
        "{}",
        stderr(&out)
    );
    ws.export("upgraded.db", "upgraded.json");

    let migrated = rows_of(&ws, "migrated.json");
    assert_eq!(migrated, rows_of(&ws, "upgraded.json"));
    // And the upgrade did happen: renamed, mapped, added.
    let text = migrated.join("\n");
    assert!(text.contains("\"schema_version\": 4"));
    let migrated_text = std::fs::read_to_string(ws.path("migrated.json")).unwrap();
    let backup: serde_json::Value = serde_json::from_str(&migrated_text).unwrap();
    let users = backup_rows(&backup, "users");
    assert!(
        users
            .iter()
            .all(|u| u.get("email").is_some() && u.get("mail").is_none())
    );
    let questions = backup_rows(&backup, "questions");
    assert!(questions.iter().any(|q| q["level"] == "easy"));
    assert!(questions.iter().any(|q| q["visit_count"] == 0));
    assert!(count(&ws.open("upgraded.db"), "questions") > 0);
}

#[test]
fn a_missing_link_in_the_chain_is_an_error_before_any_row_is_written() {
    let ws = Workspace::new();
    ws.write(
        "adapters/partial.toml",
        "[[step]]\nfrom = 2\nto = 3\nchanges = [\n  { rename_column = { table = \"users\", from = \"mail\", to = \"email\" } },\n]\n",
    );
    let restore = plan(&ws, "restore.toml", None, &["adapters/partial.toml"]);
    let out = run(&ws, &restore, "t.db", &v1_fixture());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("from version 1") && err.contains("partial.toml:1:1"),
        "{err}"
    );
    let conn = ws.open("t.db");
    for t in ["users", "questions", "practice_details"] {
        assert_eq!(count(&conn, t), 0, "{t}");
    }
}

#[test]
fn a_step_naming_an_absent_column_is_an_error_at_its_position_before_any_row_is_written() {
    let ws = Workspace::new();
    let text = std::fs::read_to_string(repo_root().join("adapters/tiku.toml"))
        .unwrap()
        .replace("from = \"mail\"", "from = \"e_mail\"");
    ws.write("adapters/tiku.toml", &text);
    let line = text.lines().position(|l| l.contains("\"e_mail\"")).unwrap() + 1;
    let restore = plan(&ws, "restore.toml", None, &["adapters/tiku.toml"]);
    let out = run(&ws, &restore, "t.db", &v1_fixture());
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("tiku.toml:{line}:")) && err.contains("e_mail"),
        "{err}"
    );
    let conn = ws.open("t.db");
    assert_eq!(count(&conn, "users"), 0);
}

#[test]
fn plan_shows_the_chain_it_will_apply_and_validate_checks_adapter_files() {
    let ws = Workspace::new();
    let adapters = tiku_adapters(&ws);
    let restore = plan(&ws, "restore.toml", None, &[adapters]);
    let out = ws
        .migplan()
        .args(["plan", restore.to_str().unwrap(), "--db", &ws.url("t.db")])
        .args(["--file", v1_fixture().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("upgrade  1 → 2"), "{text}");
    assert!(text.contains("rename column users.mail → email"), "{text}");

    let out = ws
        .migplan()
        .args(["validate", restore.to_str().unwrap(), adapters])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stdout(&out));

    ws.write(
        "adapters/bad.toml",
        "[[step]]\nfrom = 1\nto = 2\nchanges = [\n  { add_column = { table = \"t\", column = \"c\" } },\n]\n",
    );
    let out = ws
        .migplan()
        .args(["validate", "adapters/bad.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("bad.toml:5:"), "{}", stdout(&out));
    // A plan naming a broken adapter file is invalid too.
    let broken = plan(&ws, "broken.toml", None, &["adapters/bad.toml"]);
    let out = ws
        .migplan()
        .args(["validate", broken.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("bad.toml:5:"), "{}", stdout(&out));
}

#[test]
fn without_adapters_an_older_backup_that_no_longer_fits_is_refused_and_nothing_changes() {
    let ws = Workspace::new();
    let restore = plan(&ws, "restore.toml", None, &[]);
    let before = {
        let out = run(
            &ws,
            &plan(&ws, "m.toml", None, &[]),
            "t.db",
            &repo_root().join("examples/tiku/fixtures/demo-seed.json"),
        );
        assert!(out.status.success(), "{}", stderr(&out));
        dump(&ws.open("t.db"))
    };
    let out = run(&ws, &restore, "t.db", &v1_fixture());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("mail"), "{}", stderr(&out));
    assert_eq!(dump(&ws.open("t.db")), before);
}

//! Automatic backups belong to one database: pruning by `[backup] keep`
//! never deletes another database's backup from a shared folder, nor the
//! backup the newest successful run would be rolled back with. And a restore
//! restores only what the backup holds: the plan's seed never joins it.

mod support;

use std::process::Output;

use serde_json::Value as Json;
use support::{Workspace, repo_root, stderr, stdout};

const ITEMS: &str = "CREATE TABLE items (id INTEGER PRIMARY KEY, v VARCHAR(20) NOT NULL)";

fn migplan(ws: &Workspace, args: &[&str]) -> Output {
    ws.migplan().args(args).output().unwrap()
}

fn history(ws: &Workspace, db: &str) -> Vec<Json> {
    let out = migplan(ws, &["history", "--db", &ws.url(db), "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    support::json_result(&stdout(&out))
        .as_array()
        .unwrap()
        .clone()
}

/// `a.db` and `b.db` hold items 1 and 2; `new.json` changes 2 and adds 3;
/// plans `a.toml` and `b.toml` import it with one backup kept, in one folder.
fn workspace() -> Workspace {
    let ws = Workspace::new();
    let src = ws.open("src.db");
    src.execute_batch(ITEMS).unwrap();
    src.execute_batch("INSERT INTO items VALUES (2, 'changed'), (3, 'added')")
        .unwrap();
    ws.export("src.db", "new.json");
    for db in ["a", "b"] {
        let c = ws.open(&format!("{db}.db"));
        c.execute_batch(ITEMS).unwrap();
        c.execute_batch("INSERT INTO items VALUES (1, 'one'), (2, 'two')")
            .unwrap();
        ws.write(
            &format!("{db}.toml"),
            &format!(
                "[plan]\nkind = \"import\"\n[database]\nurl = \"sqlite://{db}.db\"\n[import]\nfile = \"new.json\"\nconflict = \"overwrite\"\n[backup]\ndir = \"shared\"\nkeep = 1\n"
            ),
        );
    }
    ws
}

fn backup_of(ws: &Workspace, db: &str, run: usize) -> std::path::PathBuf {
    let runs = history(ws, db);
    let r = runs.iter().find(|r| r["id"] == run).unwrap();
    std::path::PathBuf::from(r["backup"].as_str().unwrap())
}

#[test]
fn keep_prunes_per_database_in_a_shared_folder() {
    let ws = workspace();
    let before = support::dump(&ws.open("a.db"));
    let out = migplan(&ws, &["run", "a.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let a1 = backup_of(&ws, "a.db", 1);
    let out = migplan(&ws, &["run", "b.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let b1 = backup_of(&ws, "b.db", 1);
    assert!(a1.exists(), "b's run pruned a's backup {a1:?}");
    assert!(b1.exists());
    let names = |p: &std::path::Path| p.file_name().unwrap().to_string_lossy().into_owned();
    assert!(names(&a1).starts_with("migplan-auto-a-"), "{a1:?}");
    assert!(names(&b1).starts_with("migplan-auto-b-"), "{b1:?}");
    let out = migplan(&ws, &["rollback", "a.toml", "1", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(support::dump(&ws.open("a.db")), before);
}

#[test]
fn keep_never_prunes_the_backup_the_newest_successful_run_needs() {
    let ws = workspace();
    let before = support::dump(&ws.open("a.db"));
    let out = migplan(&ws, &["run", "a.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let a1 = backup_of(&ws, "a.db", 1);
    // Run 2 fails (every row exists already under `error`) after taking
    // its own backup: with keep = 1, run 1's backup must stay.
    let out = migplan(&ws, &["run", "a.toml", "--conflict", "error"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(backup_of(&ws, "a.db", 2).exists());
    assert!(a1.exists(), "run 1's backup was pruned");
    let out = migplan(&ws, &["rollback", "a.toml", "1", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(support::dump(&ws.open("a.db")), before);
}

/// Counts per tiku table of a SQLite database.
fn counts(ws: &Workspace, db: &str) -> Vec<(String, i64)> {
    let c = ws.open(db);
    [
        "users",
        "categories",
        "question_books",
        "questions",
        "practices",
        "practice_details",
        "mistakes",
        "weaknesses",
    ]
    .iter()
    .map(|t| (t.to_string(), support::count(&c, t)))
    .collect()
}

#[test]
fn a_restore_into_an_empty_database_holds_only_the_backup() {
    let ws = Workspace::new();
    let plans = repo_root().join("plans");
    // A demo database, seeded, cut down to a few users and nothing else.
    let out = ws
        .migplan()
        .env("MIGPLAN_DEMO_DB", ws.path("demo.db"))
        .args(["run", plans.join("migrate.toml").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = ws
        .migplan()
        .env("MIGPLAN_DEMO_DB", ws.path("demo.db"))
        .args([
            "run",
            plans.join("full-backup.toml").to_str().unwrap(),
            "-o",
            "full.json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("seeded the empty database"),
        "{}",
        stderr(&out)
    );
    ws.open("demo.db")
        .execute_batch(
            "DELETE FROM practice_details; DELETE FROM mistakes; DELETE FROM weaknesses; DELETE FROM practices;
             DELETE FROM questions; DELETE FROM question_books; DELETE FROM categories;
             DELETE FROM users WHERE id > 3;",
        )
        .unwrap();
    ws.export("demo.db", "mine.json");
    let out = ws
        .migplan()
        .env("MIGPLAN_DEMO_DB", ws.path("new.db"))
        .args([
            "run",
            plans.join("restore.toml").to_str().unwrap(),
            "--file",
            "mine.json",
            "--yes",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("seeded"), "{}", stderr(&out));
    assert_eq!(counts(&ws, "new.db"), counts(&ws, "demo.db"));
}

#[test]
fn no_seed_keeps_an_empty_database_empty() {
    let ws = Workspace::new();
    let plan = repo_root().join("plans/full-backup.toml");
    let out = ws
        .migplan()
        .env("MIGPLAN_DEMO_DB", ws.path("demo.db"))
        .args([
            "run",
            plan.to_str().unwrap(),
            "--no-seed",
            "-o",
            "empty.json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("seeded"), "{}", stderr(&out));
    assert!(counts(&ws, "demo.db").iter().all(|(_, n)| *n == 0));
}

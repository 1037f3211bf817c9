//! Incremental chains through the real binary on SQLite files: a full
//! backup, increments that follow it (`--follows`), and restores of the
//! chain (`--file` repeated, or a folder) in one transaction.

mod support;

use std::time::Duration;

use support::{Workspace, count, dump, stderr, stdout};

const SCHEMA: &str = r#"
CREATE TABLE parents (id INTEGER PRIMARY KEY, name TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE children (
  id INTEGER PRIMARY KEY,
  parent_id INTEGER NOT NULL REFERENCES parents(id),
  note TEXT,
  updated_at TEXT NOT NULL
);
"#;

const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

fn meta(ws: &Workspace, file: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(ws.path(file)).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["meta"].clone()
}

fn rows_in(ws: &Workspace, file: &str, table: &str) -> usize {
    let text = std::fs::read_to_string(ws.path(file)).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["data"][table].as_array().map_or(0, |a| a.len())
}

/// An increment starts this long before the backup it follows was taken
/// (`--follows`' safety margin for coarse change columns), so each phase
/// waits it out: a change belongs to exactly one backup.
const MARGIN: Duration = Duration::from_millis(2100);

fn change(ws: &Workspace, sql: &str) {
    // Changes happen after the previous export's time, as in real life.
    std::thread::sleep(Duration::from_millis(50));
    ws.open("src.db")
        .execute_batch(&sql.replace("NOW", NOW))
        .unwrap();
    std::thread::sleep(MARGIN);
}

fn run_ok(ws: &Workspace, args: &[&str]) -> String {
    let out = ws.migplan().args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

/// src.db, then full.json, inc1.json (follows full) and inc2.json (follows
/// inc1), each after updates and inserts with `updated_at` moving.
fn chain(ws: &Workspace) {
    let conn = ws.open("src.db");
    conn.execute_batch(SCHEMA).unwrap();
    conn.execute_batch(&format!(
        "INSERT INTO parents VALUES (1, 'one', {NOW}), (2, 'two', {NOW}), (3, 'three', {NOW});
         INSERT INTO children VALUES (1, 1, 'a', {NOW}), (2, 1, 'b', {NOW}), (3, 2, 'c', {NOW});"
    ))
    .unwrap();
    drop(conn);
    std::thread::sleep(MARGIN);
    let db = ws.url("src.db");
    run_ok(ws, &["export", "--db", &db, "-o", "full.json"]);
    change(
        ws,
        "UPDATE parents SET name = 'one, renamed', updated_at = NOW WHERE id = 1;
         INSERT INTO parents VALUES (4, 'four', NOW);
         INSERT INTO children VALUES (4, 4, 'child of a new parent', NOW);
         UPDATE children SET note = 'b, edited', updated_at = NOW WHERE id = 2;",
    );
    run_ok(
        ws,
        &[
            "export",
            "--db",
            &db,
            "--follows",
            "full.json",
            "-o",
            "inc1.json",
        ],
    );
    change(
        ws,
        "UPDATE parents SET name = 'four, renamed', updated_at = NOW WHERE id = 4;
         UPDATE children SET note = 'b, edited twice', updated_at = NOW WHERE id = 2;
         INSERT INTO children VALUES (5, 3, 'e', NOW);",
    );
    run_ok(
        ws,
        &[
            "export",
            "--db",
            &db,
            "--follows",
            "inc1.json",
            "-o",
            "inc2.json",
        ],
    );
}

fn empty_target(ws: &Workspace) -> String {
    ws.open("dst.db").execute_batch(SCHEMA).unwrap();
    ws.url("dst.db")
}

fn assert_untouched(ws: &Workspace) {
    let dst = ws.open("dst.db");
    assert_eq!(count(&dst, "parents"), 0);
    assert_eq!(count(&dst, "children"), 0);
}

#[test]
fn increments_record_the_backup_they_follow() {
    let ws = Workspace::new();
    chain(&ws);
    let (full, inc1, inc2) = (
        meta(&ws, "full.json"),
        meta(&ws, "inc1.json"),
        meta(&ws, "inc2.json"),
    );
    assert_eq!(full["export_type"], "full");
    assert!(full["backup_id"].is_string());
    assert!(full.get("follows").is_none());
    assert_eq!(inc1["export_type"], "incremental");
    assert_eq!(inc1["follows"], full["backup_id"]);
    assert_eq!(inc2["follows"], inc1["backup_id"]);
    assert_ne!(inc1["backup_id"], full["backup_id"]);
    // `since` defaults to the previous backup's export time, less a margin
    // of two seconds for change columns coarser than the export time.
    let instant =
        |v: &serde_json::Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    assert_eq!(
        instant(&inc1["incremental_since"]),
        instant(&full["exported_at"]) - chrono::TimeDelta::seconds(2)
    );
    assert_eq!(
        instant(&inc2["incremental_since"]),
        instant(&inc1["exported_at"]) - chrono::TimeDelta::seconds(2)
    );
    // Only the changed rows travel.
    assert_eq!(rows_in(&ws, "inc1.json", "parents"), 2);
    assert_eq!(rows_in(&ws, "inc1.json", "children"), 2);
    assert_eq!(rows_in(&ws, "inc2.json", "parents"), 1);
    assert_eq!(rows_in(&ws, "inc2.json", "children"), 2);
}

#[test]
fn a_chain_restores_the_source() {
    let ws = Workspace::new();
    chain(&ws);
    let dst = empty_target(&ws);
    let out = run_ok(
        &ws,
        &[
            "import",
            "--db",
            &dst,
            "full.json",
            "inc1.json",
            "inc2.json",
        ],
    );
    assert!(out.contains("increment inc2.json"), "{out}");
    assert_eq!(dump(&ws.open("src.db")), dump(&ws.open("dst.db")));
}

#[test]
fn a_chain_report_in_json_lists_every_backup() {
    let ws = Workspace::new();
    chain(&ws);
    let dst = empty_target(&ws);
    let out = run_ok(
        &ws,
        &[
            "import",
            "--db",
            &dst,
            "--report",
            "json",
            "full.json",
            "inc1.json",
            "inc2.json",
        ],
    );
    let v = support::json_result(&out);
    let files = v["imports"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    assert_eq!(files[0]["file"], "full.json");
    // inc2 overwrites child 2 and inserts child 5.
    let children = files[2]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "children")
        .unwrap();
    assert_eq!(children["inserted"], 1);
    assert_eq!(children["overwritten"], 1);
}

#[test]
fn out_of_order_is_refused_and_nothing_is_written() {
    let ws = Workspace::new();
    chain(&ws);
    let dst = empty_target(&ws);
    let out = ws
        .migplan()
        .args([
            "import",
            "--db",
            &dst,
            "full.json",
            "inc2.json",
            "inc1.json",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("out of order"), "{err}");
    assert!(
        err.contains("inc2.json") && err.contains("inc1.json"),
        "{err}"
    );
    assert_untouched(&ws);

    // An increment cannot start a chain.
    let out = ws
        .migplan()
        .args(["import", "--db", &dst, "inc1.json", "inc2.json"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cannot start a chain"),
        "{}",
        stderr(&out)
    );
    assert_untouched(&ws);
}

#[test]
fn a_gap_is_refused_naming_the_files_and_ids() {
    let ws = Workspace::new();
    chain(&ws);
    let dst = empty_target(&ws);
    let out = ws
        .migplan()
        .args(["import", "--db", &dst, "full.json", "inc2.json"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    let id = |f: &str| meta(&ws, f)["backup_id"].as_str().unwrap().to_string();
    assert!(err.contains("gap: inc2.json follows backup"), "{err}");
    assert!(err.contains(&id("inc1.json")), "{err}");
    assert!(
        err.contains(&format!("full.json ({})", id("full.json"))),
        "{err}"
    );
    assert_untouched(&ws);
}

#[test]
fn a_folder_is_a_chain_and_increments_overwrite_under_any_policy() {
    let ws = Workspace::new();
    chain(&ws);
    std::fs::create_dir_all(ws.path("chain")).unwrap();
    for f in ["full.json", "inc1.json", "inc2.json"] {
        std::fs::copy(ws.path(f), ws.path(&format!("chain/{f}"))).unwrap();
    }
    let dst = empty_target(&ws);
    ws.write(
        "restore.toml",
        &format!(
            "[plan]\nkind = \"import\"\n[database]\nurl = \"{dst}\"\n[import]\nfile = \"chain\"\nconflict = \"error\"\n"
        ),
    );
    let out = run_ok(&ws, &["run", "restore.toml"]);
    assert!(out.contains("chain of 3 backups"), "{out}");
    assert_eq!(dump(&ws.open("src.db")), dump(&ws.open("dst.db")));

    // `--file` repeated on a plan; the base meets existing rows under the
    // plan's `error` policy and fails, rolling back the whole chain.
    let out = ws
        .migplan()
        .args([
            "run",
            "restore.toml",
            "--file",
            "full.json",
            "--file",
            "inc1.json",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(dump(&ws.open("src.db")), dump(&ws.open("dst.db")));
}

#[test]
fn a_damaged_increment_rolls_back_the_whole_chain() {
    let ws = Workspace::new();
    chain(&ws);
    let text = std::fs::read_to_string(ws.path("inc2.json")).unwrap();
    std::fs::write(
        ws.path("inc2.json"),
        text.replace("b, edited twice", "b, edited thrice"),
    )
    .unwrap();
    let dst = empty_target(&ws);
    let out = ws
        .migplan()
        .args([
            "import",
            "--db",
            &dst,
            "full.json",
            "inc1.json",
            "inc2.json",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_untouched(&ws);
}

#[test]
fn follows_is_refused_where_it_cannot_apply() {
    let ws = Workspace::new();
    chain(&ws);
    let db = ws.url("src.db");
    // A `--since` after the previous backup would lose rows.
    let out = ws
        .migplan()
        .args([
            "export",
            "--db",
            &db,
            "--follows",
            "full.json",
            "--since",
            "2999-01-01T00:00:00Z",
            "-o",
            "x.json",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("in neither backup"),
        "{}",
        stderr(&out)
    );
    // An import plan has nothing to follow.
    let dst = empty_target(&ws);
    ws.write(
        "restore.toml",
        &format!("[plan]\nkind = \"import\"\n[database]\nurl = \"{dst}\"\n"),
    );
    let out = ws
        .migplan()
        .args(["run", "restore.toml", "--follows", "full.json"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("applies to export plans"),
        "{}",
        stderr(&out)
    );
    assert!(!ws.path("x.json").exists());
}

#[test]
fn a_table_without_a_key_is_refused_in_an_increment_before_anything_is_written() {
    let ws = Workspace::new();
    let conn = ws.open("src.db");
    conn.execute_batch(&format!(
        "CREATE TABLE log (at TEXT NOT NULL, line TEXT, updated_at TEXT NOT NULL);
         INSERT INTO log VALUES ('a', 'one', {NOW});"
    ))
    .unwrap();
    drop(conn);
    let db = ws.url("src.db");
    run_ok(&ws, &["export", "--db", &db, "-o", "full.json"]);
    change(&ws, "INSERT INTO log VALUES ('b', 'two', NOW);");
    run_ok(
        &ws,
        &[
            "export",
            "--db",
            &db,
            "--follows",
            "full.json",
            "-o",
            "inc1.json",
        ],
    );
    ws.open("dst.db")
        .execute_batch("CREATE TABLE log (at TEXT NOT NULL, line TEXT, updated_at TEXT NOT NULL);")
        .unwrap();
    let out = ws
        .migplan()
        .args([
            "import",
            "--db",
            &ws.url("dst.db"),
            "full.json",
            "inc1.json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`log` has no primary key"),
        "{}",
        stderr(&out)
    );
    assert_eq!(count(&ws.open("dst.db"), "log"), 0);
}

#[test]
fn a_folder_restores_its_full_chain_even_when_a_newer_modules_export_lies_beside_it() {
    let ws = Workspace::new();
    chain(&ws);
    std::fs::create_dir(ws.path("dir")).unwrap();
    for f in ["full.json", "inc1.json", "inc2.json"] {
        std::fs::copy(ws.path(f), ws.path(&format!("dir/{f}"))).unwrap();
    }
    // A newer partial export: only `parents`.
    let text = std::fs::read_to_string(ws.path("inc2.json")).unwrap();
    let exported = meta(&ws, "inc2.json")["exported_at"]
        .as_str()
        .unwrap()
        .to_string();
    let partial = text
        .replacen(
            "\"export_type\": \"incremental\"",
            "\"export_type\": \"modules\"",
            1,
        )
        .replacen(&exported, "2999-01-01T00:00:00Z", 1);
    assert_ne!(partial, text);
    std::fs::write(ws.path("dir/zz-partial.json"), partial).unwrap();
    ws.open("dst.db").execute_batch(SCHEMA).unwrap();
    let out = ws
        .migplan()
        .args(["import", "--db", &ws.url("dst.db"), "dir"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(dump(&ws.open("src.db")), dump(&ws.open("dst.db")));
}

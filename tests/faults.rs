//! Faults: a run killed with SIGKILL in the middle of a large import
//! leaves the database exactly as before, and the next run records the dead
//! run as interrupted. On SQLite and on both servers.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use support::server::{self, ServerDb};
use support::{Workspace, stderr, stdout};

const ROWS: usize = 300_000;
const TABLES: &str = "CREATE TABLE parents (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL);
CREATE TABLE items (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parents(id), v VARCHAR(40) NOT NULL)";

/// `big.json`: 10 parents and `ROWS` items, made from a SQLite database.
fn big_backup(ws: &Workspace) {
    let src = ws.open("src.db");
    src.execute_batch(TABLES).unwrap();
    let tx = src.unchecked_transaction().unwrap();
    for p in 0..10 {
        tx.execute(
            "INSERT INTO parents VALUES (?1, ?2)",
            (p, format!("parent {p}")),
        )
        .unwrap();
    }
    {
        let mut stmt = tx.prepare("INSERT INTO items VALUES (?1, ?2, ?3)").unwrap();
        for i in 0..ROWS as i64 {
            stmt.execute((i, i % 10, format!("item number {i}")))
                .unwrap();
        }
    }
    tx.commit().unwrap();
    ws.export("src.db", "big.json");
}

fn spawn_import(ws: &Workspace, url: &str) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("migplan"))
        .current_dir(ws.dir.path())
        .args(["import", "--db", url, "big.json", "--conflict", "skip"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn history(ws: &Workspace, url: &str) -> Vec<Json> {
    let out = ws
        .migplan()
        .args(["history", "--db", url, "--format", "json"])
        .output()
        .unwrap();
    if !out.status.success() {
        return vec![];
    }
    serde_json::from_str::<Json>(&stdout(&out))
        .ok()
        .and_then(|j| j.as_array().cloned())
        .unwrap_or_default()
}

/// Starts an import, waits until it has recorded itself as running and
/// `writing` says rows are going in, and kills it with SIGKILL.
fn kill_mid_import(ws: &Workspace, url: &str, writing: &dyn Fn() -> bool) {
    let mut child = spawn_import(ws, url);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let running = history(ws, url)
            .first()
            .is_some_and(|r| r["status"] == "running");
        if running {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended before it could be killed"
        );
        assert!(Instant::now() < deadline, "the import never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    while !writing() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended before writing"
        );
        assert!(Instant::now() < deadline, "the import never wrote");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the import finished before the kill: make the backup bigger"
    );
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
}

/// Kill, check nothing changed, then a second run marks the first interrupted.
fn killed_import_changes_nothing(
    ws: &Workspace,
    url: &str,
    writing: &dyn Fn() -> bool,
    snapshot: impl Fn() -> Vec<String>,
) {
    let before = snapshot();
    kill_mid_import(ws, url, writing);
    assert_eq!(snapshot(), before, "a killed import left rows behind");
    let out = ws
        .migplan()
        .args(["import", "--db", url, "big.json", "--conflict", "skip"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let runs = history(ws, url);
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[1]["status"], "interrupted", "{}", runs[1]);
    assert!(
        runs[1]["error"].as_str().unwrap().contains("killed"),
        "{}",
        runs[1]
    );
    assert_eq!(runs[0]["status"], "succeeded");
}

#[test]
fn sigkill_mid_import_on_sqlite_changes_nothing_and_is_recorded_interrupted() {
    let ws = Workspace::new();
    big_backup(&ws);
    let dst = ws.open("dst.db");
    dst.execute_batch(TABLES).unwrap();
    dst.execute("INSERT INTO parents VALUES (0, 'kept')", [])
        .unwrap();
    drop(dst);
    let url = ws.url("dst.db");
    // SQLite's rollback journal appears once the import writes pages.
    let journal = ws.path("dst.db-journal");
    let writing = || journal.exists();
    killed_import_changes_nothing(&ws, &url, &writing, || support::dump(&ws.open("dst.db")));
}

fn on_server(db: Option<ServerDb>) {
    let Some(db) = db else { return };
    let ws = Workspace::new();
    big_backup(&ws);
    for sql in TABLES.split(';') {
        db.execute(sql);
    }
    db.execute("INSERT INTO parents VALUES (0, 'kept')");
    // The server's side is not visible from here: give the import time to
    // send rows after it recorded itself.
    let since = Instant::now();
    let writing = move || since.elapsed() > Duration::from_millis(300);
    killed_import_changes_nothing(&ws, &db.url, &writing, || db.dump());
}

#[test]
fn sigkill_mid_import_on_postgres_changes_nothing_and_is_recorded_interrupted() {
    on_server(server::postgres("faults_sigkill"));
}

#[test]
fn sigkill_mid_import_on_mysql_changes_nothing_and_is_recorded_interrupted() {
    on_server(server::mysql("faults_sigkill"));
}

// ---------------------------------------------------------------------------
// Verification after import: a database that changes rows on their way in
// (here a trigger) fails the import, and nothing is written.

const SMALL: &str = "CREATE TABLE items (id INTEGER PRIMARY KEY, v VARCHAR(20) NOT NULL)";

fn small_backup(ws: &Workspace) {
    let src = ws.open("small.db");
    src.execute_batch(SMALL).unwrap();
    src.execute_batch("INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        .unwrap();
    ws.export("small.db", "small.json");
}

fn import_small(ws: &Workspace, url: &str) -> std::process::Output {
    ws.migplan()
        .args(["import", "--db", url, "small.json"])
        .output()
        .unwrap()
}

#[test]
fn rows_changed_on_their_way_in_fail_verification_on_sqlite() {
    let ws = Workspace::new();
    small_backup(&ws);
    for (name, trigger, expect) in [
        (
            "changed.db",
            "CREATE TRIGGER up AFTER INSERT ON items BEGIN UPDATE items SET v = upper(v) WHERE id = NEW.id; END",
            "3 of the 3 rows written read back with other values",
        ),
        (
            "dropped.db",
            "CREATE TRIGGER drop1 AFTER INSERT ON items WHEN NEW.id = 3 BEGIN DELETE FROM items WHERE id = 1; END",
            "1 row written is not there under its key",
        ),
    ] {
        let db = ws.open(name);
        db.execute_batch(SMALL).unwrap();
        db.execute_batch(trigger).unwrap();
        drop(db);
        let out = import_small(&ws, &ws.url(name));
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("verification after the import failed for `items`")
                && err.contains(expect),
            "{err}"
        );
        let n: i64 = ws
            .open(name)
            .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0, "{name}: rolled back");
    }
}

/// The backup comes from the same engine, the target has a trigger that
/// changes the values: the failure names the row and the column.
fn trigger_on_server(src: Option<ServerDb>, db: Option<ServerDb>, triggers: &[&str]) {
    let (Some(src), Some(db)) = (src, db) else {
        return;
    };
    let ws = Workspace::new();
    src.execute(SMALL);
    src.execute("INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')");
    let out = ws
        .migplan()
        .args(["export", "--db", &src.url, "-o", "small.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    db.execute(SMALL);
    for t in triggers {
        db.execute(t);
    }
    let out = import_small(&ws, &db.url);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("changed  id=1: `v` sent \"a\", found \"A\""),
        "{}",
        stderr(&out)
    );
    assert_eq!(db.count("items"), 0);
}

#[test]
fn rows_changed_on_their_way_in_fail_verification_on_postgres() {
    trigger_on_server(
        server::postgres("faults_verify_src"),
        server::postgres("faults_verify"),
        &[
            "CREATE FUNCTION up() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.v := upper(NEW.v); RETURN NEW; END $$",
            "CREATE TRIGGER up BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION up()",
        ],
    );
}

#[test]
fn rows_changed_on_their_way_in_fail_verification_on_mysql() {
    trigger_on_server(
        server::mysql("faults_verify_src"),
        server::mysql("faults_verify"),
        &["CREATE TRIGGER up BEFORE INSERT ON items FOR EACH ROW SET NEW.v = UPPER(NEW.v)"],
    );
}

/// An export killed midway leaves nothing under the output name (the file
/// is written under a temporary name and renamed only when complete).
#[test]
fn sigkill_mid_export_leaves_no_file_under_the_output_name() {
    let ws = Workspace::new();
    big_backup(&ws);
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("migplan"))
        .current_dir(ws.dir.path())
        .args(["export", "--db", &ws.url("src.db"), "-o", "out.json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let partial = || {
        std::fs::read_dir(ws.dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy().ends_with(".partial"))
    };
    while !partial() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the export ended before it was seen writing"
        );
        assert!(
            Instant::now() < deadline,
            "the export never started writing"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !ws.path("out.json").exists(),
        "a partial backup under the output name"
    );
}

/// The connection cut from the server's side in the middle of an import:
/// a clean error (no panic), exit 1, nothing written; the run left
/// `running` is marked failed by the next.
fn connection_cut_mid_import(db: Option<ServerDb>, cut: &dyn Fn(&ServerDb)) {
    let Some(db) = db else { return };
    let ws = Workspace::new();
    big_backup(&ws);
    for sql in TABLES.split(';') {
        db.execute(sql);
    }
    db.execute("INSERT INTO parents VALUES (0, 'kept')");
    let before = db.dump();
    let child = spawn_import_logged(&ws, &db.url);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !history(&ws, &db.url)
        .first()
        .is_some_and(|r| r["status"] == "running")
    {
        assert!(Instant::now() < deadline, "the import never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    cut(&db);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error:") || err.contains("\nerror:"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(db.dump(), before, "a cut import left rows behind");
    let again = ws
        .migplan()
        .args(["import", "--db", &db.url, "big.json", "--conflict", "skip"])
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    let runs = history(&ws, &db.url);
    assert_eq!(runs[1]["status"], "interrupted", "{}", runs[1]);
}

fn spawn_import_logged(ws: &Workspace, url: &str) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("migplan"))
        .current_dir(ws.dir.path())
        .args(["import", "--db", url, "big.json", "--conflict", "skip"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn connection_terminated_mid_import_on_postgres_is_a_clean_error() {
    connection_cut_mid_import(server::postgres("faults_cut"), &|db| {
        db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
    });
}

#[test]
fn connection_killed_mid_import_on_mysql_is_a_clean_error() {
    connection_cut_mid_import(server::mysql("faults_cut"), &|db| {
        let sql = format!(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = '{}' AND ID <> CONNECTION_ID()",
            db.name
        );
        let ids = db.rows(&sql);
        assert!(!ids.is_empty(), "the import's session was not found");
        for id in ids {
            // A session may end between the SELECT and its KILL (error
            // 1094, unknown thread): that one needed no killing.
            use mysql::prelude::Queryable;
            if let Err(e) = db.my().query_drop(format!("KILL {}", id[0])) {
                assert!(e.to_string().contains("1094"), "KILL {}: {e}", id[0]);
            }
        }
    });
}

/// A failing schema script among three: the run's history row says which
/// failed, why, and (on MySQL, whose DDL commits) which were applied.
fn failing_script_is_recorded(db: Option<ServerDb>, applied_before: &[&str]) {
    let Some(db) = db else { return };
    let ws = Workspace::new();
    ws.write("m/V1__a.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY);");
    ws.write(
        "m/V2__b.sql",
        "CREATE TABLE b (id INTEGER PRIMARY KEY);\nCREATE TABLE b (id INTEGER PRIMARY KEY);",
    );
    ws.write("m/V3__c.sql", "CREATE TABLE c (id INTEGER PRIMARY KEY);");
    ws.write(
        "p.toml",
        "[plan]\nname = \"p\"\nkind = \"migrate\"\n[schema]\nmigrations = \"m\"\n",
    );
    let out = ws
        .migplan()
        .args(["run", "p.toml", "--db", &db.url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let runs = history(&ws, &db.url);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["status"], "failed");
    let error = runs[0]["error"].as_str().unwrap();
    assert!(error.contains("V2__b"), "{error}");
    assert!(
        error.contains("already exists") || error.contains("already exist"),
        "{error}"
    );
    for applied in applied_before {
        assert!(error.contains(applied), "{error}");
    }
    assert!(!error.contains("V3__c"), "{error}");
    let tables = db.tables();
    assert_eq!(
        tables.contains(&"a".to_string()),
        !applied_before.is_empty(),
        "{tables:?}"
    );
    assert!(!tables.contains(&"c".to_string()), "{tables:?}");
}

#[test]
fn failing_script_among_three_on_postgres_applies_none_and_is_recorded() {
    failing_script_is_recorded(server::postgres("faults_script"), &[]);
}

#[test]
fn failing_script_among_three_on_mysql_records_what_was_applied() {
    failing_script_is_recorded(server::mysql("faults_script"), &["V1__a"]);
}

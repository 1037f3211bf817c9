//! The history tells the truth about every run, and a rollback never undoes
//! what it did not see: a rollback racing a running import is refused once
//! the import commits; a process killed right after its commit is recorded
//! as succeeded and can be rolled back; the backup before change is on
//! record before anything changes; a dead run shows as interrupted at once.
//! On SQLite and on both servers.

mod support;

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use support::test::{Engine, Test, for_each_engine};
use support::{Workspace, stderr, stdout};

const ROWS: usize = 300_000;
const TABLES: &str = "CREATE TABLE parents (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL);
CREATE TABLE items (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parents(id), v VARCHAR(40) NOT NULL)";

/// `big.json` (10 parents, `ROWS` items) and `small.json` (parent 100 only).
fn backups(ws: &Workspace) {
    let src = ws.open("src.db");
    src.execute_batch(TABLES).unwrap();
    let tx = src.unchecked_transaction().unwrap();
    for p in 0..10 {
        tx.execute("INSERT INTO parents VALUES (?1, ?2)", (p, format!("p{p}")))
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
    let small = ws.open("small.db");
    small.execute_batch(TABLES).unwrap();
    small
        .execute("INSERT INTO parents VALUES (100, 'small')", [])
        .unwrap();
    ws.export("small.db", "small.json");
}

fn migplan(ws: &Workspace, args: &[&str]) -> Output {
    ws.migplan().args(args).output().unwrap()
}

fn history(ws: &Workspace, url: &str) -> Vec<Json> {
    let out = migplan(ws, &["history", "--db", url, "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    support::json_result(&stdout(&out))
        .as_array()
        .unwrap()
        .clone()
}

fn spawn(ws: &Workspace, args: &[&str]) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("migplan"))
        .current_dir(ws.dir.path())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A target of `engine` holding the tables and parent 0, in a workspace
/// holding `big.json` and `small.json`.
fn target(engine: Engine) -> Test {
    let t = Test::on(engine);
    backups(&t.ws);
    t.schema(TABLES)
        .rows("INSERT INTO parents VALUES (0, 'kept')")
}

/// Another such target, in the same workspace.
fn another_target(t: &Test) -> Test {
    t.another()
        .schema(TABLES)
        .rows("INSERT INTO parents VALUES (0, 'kept')")
}

/// How many parents and items the target holds.
fn rows(t: &Test) -> (i64, i64) {
    (t.count("parents"), t.count("items"))
}

/// Run 1: small.json imported, so run 1 has a backup and can be rolled back.
fn first_run(t: &Test) {
    let ws = &*t.ws;
    let out = migplan(ws, &["import", "--db", t.url(), "small.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(rows(t), (2, 0));
}

fn rollback_waits_for_the_import_and_refuses_to_undo_it(t: &Test) {
    let ws = &*t.ws;
    first_run(t);
    let mut import = spawn(
        ws,
        &["import", "--db", t.url(), "big.json", "--conflict", "skip"],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while history(ws, t.url()).first().map(|r| r["status"].clone()) != Some("running".into()) {
        assert!(
            import.try_wait().unwrap().is_none(),
            "the import ended too soon"
        );
        assert!(Instant::now() < deadline, "the import never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Started while run 2 works: nothing succeeded after run 1 yet.
    let rollback = migplan(
        ws,
        &[
            "rollback",
            "1",
            "--db",
            t.url(),
            "--yes",
            "--lock-timeout",
            "120",
        ],
    );
    let imported = import.wait_with_output().unwrap();
    assert!(imported.status.success(), "{}", stderr(&imported));
    assert_eq!(rollback.status.code(), Some(1), "{}", stderr(&rollback));
    assert!(
        stderr(&rollback).contains("later runs changed the database after run 1: 2 (import)"),
        "{}",
        stderr(&rollback)
    );
    assert_eq!(rows(t), (11, ROWS as i64), "the import's rows survive");
}

#[test]
fn rollback_started_during_an_import_waits_and_refuses() {
    for_each_engine(|engine| rollback_waits_for_the_import_and_refuses_to_undo_it(&target(engine)));
}

/// The process dies between its commit and its last history write: the
/// history says succeeded (written in the import's own transaction), and
/// rollback of it puts the database back.
fn killed_after_commit_is_succeeded_and_rolls_back(t: &Test) {
    let ws = &*t.ws;
    let out = ws
        .migplan()
        .env("MIGPLAN_FAILPOINT", "import-committed")
        .args(["import", "--db", t.url(), "small.json"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the failpoint must stop it");
    assert!(
        stderr(&out).contains("failpoint `import-committed`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(rows(t), (2, 0), "the data committed");
    let runs = history(ws, t.url());
    assert_eq!(runs[0]["status"], "succeeded", "{}", runs[0]);
    assert!(runs[0]["backup"].is_string(), "{}", runs[0]);
    let out = migplan(ws, &["rollback", "1", "--db", t.url(), "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(rows(t), (1, 0));
}

#[test]
fn killed_after_commit_is_recorded_succeeded_and_rolls_back() {
    for_each_engine(|engine| killed_after_commit_is_succeeded_and_rolls_back(&target(engine)));
}

/// Killed right after the backup before change: the history already names
/// the backup, `history` and `status` show the run interrupted at once
/// (no later run needed), and it can be rolled back.
fn killed_after_backup_is_interrupted_with_its_backup(t: &Test) {
    let ws = &*t.ws;
    let out = ws
        .migplan()
        .env("MIGPLAN_FAILPOINT", "backup-recorded")
        .args(["import", "--db", t.url(), "small.json"])
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("failpoint `backup-recorded`"),
        "{}",
        stderr(&out)
    );
    let runs = history(ws, t.url());
    assert_eq!(runs[0]["status"], "interrupted", "{}", runs[0]);
    let backup = runs[0]["backup"].as_str().expect("the backup is on record");
    assert!(std::path::Path::new(backup).exists());
    let out = migplan(ws, &["history", "--db", t.url(), "1"]);
    assert!(
        stdout(&out).contains("status       interrupted"),
        "{}",
        stdout(&out)
    );
    let out = migplan(ws, &["status", "--db", t.url(), "--format", "json"]);
    let status = support::json_result(&stdout(&out));
    assert_eq!(status["last_runs"][0]["status"], "interrupted", "{status}");
    assert!(status["lock_holder"].is_null());
    let out = migplan(ws, &["rollback", "1", "--db", t.url(), "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(rows(t), (1, 0));
    // The rollback, a run of its own, records the dead run for good.
    assert_eq!(history(ws, t.url())[1]["status"], "rolled_back");
}

#[test]
fn killed_after_the_backup_is_shown_interrupted_and_rolls_back() {
    for_each_engine(|engine| killed_after_backup_is_interrupted_with_its_backup(&target(engine)));
}

fn status(ws: &Workspace, url: &str) -> (Output, Json) {
    let out = migplan(ws, &["status", "--db", url, "--format", "json"]);
    let json = serde_json::from_str::<Json>(&stdout(&out))
        .map(|d| d["result"].clone())
        .unwrap_or(Json::Null);
    (out, json)
}

/// While a large import holds the database (paused right before its
/// commit, every row written), `status` answers (exit 0) naming the run that
/// holds the lock, and a second run is refused naming it too — on SQLite
/// even while the import keeps every reader out of the file.
fn holder_readable_while_a_run_works(t: &Test) {
    let ws = &*t.ws;
    let (import, release) = ws.held_at(
        "import-before-commit",
        &["import", "--db", t.url(), "big.json", "--conflict", "skip"],
    );
    let (out, json) = status(ws, t.url());
    assert!(out.status.success(), "{}", stderr(&out));
    let holder = json["lock_holder"].as_str().unwrap_or_default();
    assert!(
        holder.starts_with("run 1 (import, plan `(import command)`)"),
        "{json}"
    );
    let second = migplan(
        ws,
        &[
            "import",
            "--db",
            t.url(),
            "small.json",
            "--lock-timeout",
            "1",
        ],
    );
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("the database is busy: run 1 (import"),
        "{}",
        stderr(&second)
    );
    std::fs::write(&release, "go").unwrap();
    let imported = import.wait_with_output().unwrap();
    assert!(imported.status.success(), "{}", stderr(&imported));
    assert_eq!(rows(t), (10, ROWS as i64), "{:#?}", history(ws, t.url()));
}

#[test]
fn status_names_the_running_import_and_a_second_run_is_told() {
    for_each_engine(|engine| holder_readable_while_a_run_works(&target(engine)));
}

/// A failure after the commit (here injected; on MySQL, setting
/// AUTO_INCREMENT after the COMMIT can fail) is reported and recorded, but
/// the run stays `succeeded`: its data is in, so a rollback of an earlier
/// run must still see it.
fn failure_after_commit_keeps_succeeded(t: &Test) {
    let ws = &*t.ws;
    let out = ws
        .migplan()
        .env("MIGPLAN_FAILPOINT", "import-committed!")
        .args(["import", "--db", t.url(), "small.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(rows(t), (2, 0), "the data committed");
    let runs = history(ws, t.url());
    assert_eq!(runs[0]["status"], "succeeded", "{}", runs[0]);
    assert!(
        runs[0]["error"].as_str().unwrap().contains("injected"),
        "{}",
        runs[0]
    );
}

/// A rollback killed between its commit and its last history write has
/// already marked the run it undid: the history never says an undone run
/// stands.
fn rollback_killed_after_commit_marks_its_run(t: &Test) {
    let ws = &*t.ws;
    first_run(t);
    let out = ws
        .migplan()
        .env("MIGPLAN_FAILPOINT", "import-committed")
        .args(["rollback", "1", "--db", t.url(), "--yes"])
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("failpoint `import-committed`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(rows(t), (1, 0), "the restore committed");
    let runs = history(ws, t.url());
    assert_eq!(runs[0]["kind"], "rollback");
    assert_eq!(runs[0]["status"], "succeeded", "{}", runs[0]);
    assert_eq!(runs[1]["status"], "rolled_back", "{}", runs[1]);
}

#[test]
fn after_commit_the_history_stays_true() {
    for_each_engine(|engine| {
        let t = target(engine);
        failure_after_commit_keeps_succeeded(&t);
        rollback_killed_after_commit_marks_its_run(&another_target(&t));
    });
}

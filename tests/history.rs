//! The run history and the run lock, on SQLite and on both servers.

mod support;

use std::process::Output;

use serde_json::Value as Json;
use support::server::{Server, ServerDb};
use support::test::{Engine, Test, for_each_engine, for_engines};
use support::{Workspace, stderr, stdout};

const ITEMS: &str = "CREATE TABLE items (id INTEGER PRIMARY KEY, v VARCHAR(20) NOT NULL)";

/// A SQLite database `src.db` with `n` items exported to `b.json`, and an
/// empty `dst.db` with the same table.
fn workspace_with_backup(n: usize) -> Workspace {
    let ws = Workspace::new();
    write_backup(&ws, n);
    ws.open("dst.db").execute_batch(ITEMS).unwrap();
    ws
}

/// `b.json`, exported from a SQLite `src.db` holding `n` items.
fn write_backup(ws: &Workspace, n: usize) {
    let src = ws.open("src.db");
    src.execute_batch(ITEMS).unwrap();
    let tx = src.unchecked_transaction().unwrap();
    for i in 0..n {
        tx.execute(
            "INSERT INTO items VALUES (?1, ?2)",
            (i as i64, format!("v{i}")),
        )
        .unwrap();
    }
    tx.commit().unwrap();
    ws.export("src.db", "b.json");
}

/// An empty `items` of `engine`, in a workspace holding `b.json` with `n`
/// items.
fn target(engine: Engine, n: usize) -> Test {
    let t = Test::on(engine);
    write_backup(&t.ws, n);
    t.schema(ITEMS)
}

fn history_json(ws: &Workspace, url: &str) -> Vec<Json> {
    let out = ws
        .migplan()
        .args(["history", "--db", url, "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    support::json_result(&stdout(&out))
        .as_array()
        .unwrap()
        .clone()
}

fn import(ws: &Workspace, url: &str, extra: &[&str]) -> Output {
    ws.migplan()
        .args(["import", "--db", url, "b.json"])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn runs_are_recorded_with_operator_message_notes_and_outcome() {
    let ws = workspace_with_backup(3);
    let url = ws.url("dst.db");
    let ok = import(
        &ws,
        &url,
        &[
            "--operator",
            "Ada <ada@example.com>",
            "-m",
            "restore drill",
            "--note",
            "ticket 42",
        ],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    let failed = import(&ws, &url, &["--conflict", "error"]);
    assert_eq!(failed.status.code(), Some(1));

    let runs = history_json(&ws, &url);
    assert_eq!(runs.len(), 2, "{runs:?}");
    let (second, first) = (&runs[0], &runs[1]);
    assert_eq!(first["status"], "succeeded");
    assert_eq!(first["operator"], "Ada <ada@example.com>");
    assert_eq!(first["message"], "restore drill");
    assert_eq!(first["notes"][0], "ticket 42");
    assert_eq!(first["kind"], "import");
    assert_eq!(first["tables"][0]["tables"][0]["inserted"], 3);
    assert!(first["ended_at"].is_string());
    assert_eq!(second["status"], "failed");
    assert!(
        second["error"].as_str().unwrap().contains("already exist"),
        "{second}"
    );

    let one = ws
        .migplan()
        .args(["history", "1", "--db", &url])
        .output()
        .unwrap();
    assert!(one.status.success(), "{}", stderr(&one));
    let text = stdout(&one);
    assert!(
        text.contains("Ada <ada@example.com>") && text.contains("restore drill"),
        "{text}"
    );

    let missing = ws
        .migplan()
        .args(["history", "99", "--db", &url])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("no run 99"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn the_operator_comes_from_the_environment_without_the_flag() {
    let ws = workspace_with_backup(1);
    let url = ws.url("dst.db");
    let out = ws
        .migplan()
        .env("MIGPLAN_OPERATOR", "Grace <grace@example.com>")
        .args(["import", "--db", &url, "b.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        history_json(&ws, &url)[0]["operator"],
        "Grace <grace@example.com>"
    );
}

#[test]
fn dry_runs_and_exports_are_not_runs_of_record() {
    let ws = workspace_with_backup(2);
    let url = ws.url("dst.db");
    let out = import(&ws, &url, &["--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    ws.export("dst.db", "again.json");
    assert!(history_json(&ws, &url).is_empty());
}

/// A process killed mid-run leaves its row `running`; the next run holds
/// the lock, so no run is under way: the row is marked failed.
#[test]
fn a_run_left_running_is_marked_failed_by_the_next() {
    let ws = workspace_with_backup(2);
    let url = ws.url("dst.db");
    assert!(import(&ws, &url, &[]).status.success());
    ws.open("dst.db")
        .execute(
            "UPDATE migplan_history SET status = 'running', ended_at = NULL WHERE id = 1",
            [],
        )
        .unwrap();
    let again = import(&ws, &url, &["--conflict", "skip"]);
    assert!(again.status.success(), "{}", stderr(&again));
    let runs = history_json(&ws, &url);
    assert_eq!(runs[1]["status"], "interrupted");
    assert!(
        runs[1]["error"]
            .as_str()
            .unwrap()
            .contains("without recording an outcome"),
        "{}",
        runs[1]
    );
    assert_eq!(runs[0]["status"], "succeeded");
}

/// While another process holds the lock, a run waits `--lock-timeout`
/// seconds and then fails naming the run recorded as under way; nothing
/// is written.
#[test]
fn a_second_run_gives_up_after_the_lock_timeout_naming_the_holder() {
    let ws = workspace_with_backup(2);
    let url = ws.url("dst.db");
    assert!(
        import(&ws, &url, &["--conflict", "skip", "--operator", "Ada"])
            .status
            .success()
    );
    ws.open("dst.db")
        .execute(
            "UPDATE migplan_history SET status = 'running', ended_at = NULL WHERE id = 1",
            [],
        )
        .unwrap();
    let lock = std::fs::File::create(ws.path("dst.db.migplan-lock")).unwrap();
    lock.lock().unwrap();
    let started = std::time::Instant::now();
    let out = import(
        &ws,
        &url,
        &["--conflict", "overwrite", "--lock-timeout", "1"],
    );
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("busy") && err.contains("run 1") && err.contains("Ada"),
        "{err}"
    );
    assert!(err.contains("--lock-timeout"), "{err}");
    drop(lock);
    let runs = history_json(&ws, &url);
    assert_eq!(runs.len(), 1, "the refused run wrote nothing: {runs:?}");
}

/// Two imports of the same backup started together under `error`: one
/// applies, the other waits for the lock, then finds every row present.
fn exactly_one_of_two_concurrent_runs_applies(ws: &Workspace, url: &str, count: impl Fn() -> i64) {
    let spawn = || {
        ws.migplan()
            .args(["import", "--db", url, "b.json", "--conflict", "error"])
            .output()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(spawn);
        let b = s.spawn(spawn);
        (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
    });
    let ok = [&a, &b].iter().filter(|o| o.status.success()).count();
    assert_eq!(ok, 1, "a: {}\nb: {}", stderr(&a), stderr(&b));
    let loser = if a.status.success() { &b } else { &a };
    assert!(stderr(loser).contains("already exist"), "{}", stderr(loser));
    assert_eq!(count(), 2000);
    let runs = history_json(ws, url);
    let statuses: Vec<&str> = runs.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.len(), 2, "{runs:?}");
    assert!(
        statuses.contains(&"succeeded") && statuses.contains(&"failed"),
        "{statuses:?}"
    );
}

#[test]
fn two_runs_at_once_exactly_one_applies() {
    for_each_engine(|engine| {
        let t = target(engine, 2000);
        exactly_one_of_two_concurrent_runs_applies(&t.ws, t.url(), || t.count("items"));
    });
}

/// The lock a run takes on a server belongs to its connection: held here
/// by another session, a run gives up after `--lock-timeout`.
fn lock_held_elsewhere_stops_a_run(t: &Test) {
    let (ws, db) = (&*t.ws, t.server());
    let held = hold_the_run_lock(db);
    let out = import(ws, &db.url, &["--lock-timeout", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("busy"), "{}", stderr(&out));
    assert_eq!(db.count("items"), 0);
    drop(held);
    let out = import(ws, &db.url, &["--lock-timeout", "5"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(db.count("items"), 2);
}

/// A session of its own holding the lock a run of `db` takes: PostgreSQL's
/// advisory lock, MySQL's named lock.
fn hold_the_run_lock(db: &ServerDb) -> Box<dyn std::any::Any> {
    if db.server == Server::Postgres {
        let mut c = db.pg();
        c.execute("SELECT pg_advisory_lock(30796665450160494)", &[])
            .unwrap();
        return Box::new(c);
    }
    use mysql::prelude::Queryable;
    let mut c = db.my();
    c.query_drop("SELECT GET_LOCK(CONCAT('migplan:', SHA1(DATABASE())), 0)")
        .unwrap();
    Box::new(c)
}

#[test]
fn a_server_lock_held_elsewhere_stops_a_run() {
    for_engines(&Engine::SERVERS, |engine| {
        lock_held_elsewhere_stops_a_run(&target(engine, 2))
    });
}

fn status_json(ws: &Workspace, url: &str) -> Json {
    let out = ws
        .migplan()
        .args(["status", "--db", url, "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    support::json_result(&stdout(&out))
}

#[test]
fn status_shows_rows_sizes_runs_and_who_holds_the_lock() {
    let ws = workspace_with_backup(3);
    let url = ws.url("dst.db");
    assert!(import(&ws, &url, &["--operator", "Ada"]).status.success());
    let free = status_json(&ws, &url);
    assert_eq!(free["engine"], "sqlite");
    assert!(free["lock_holder"].is_null(), "{free}");
    assert_eq!(free["tables"][0]["table"], "items");
    assert_eq!(free["tables"][0]["rows"], 3);
    assert!(free["size_bytes"].as_u64().unwrap() > 0);
    let table = free["tables"][0]["size_bytes"].as_u64().unwrap();
    assert!(
        table > 0 && table < free["size_bytes"].as_u64().unwrap(),
        "{free}"
    );
    assert_eq!(free["last_runs"][0]["operator"], "Ada");

    ws.open("dst.db")
        .execute(
            "UPDATE migplan_history SET status = 'running' WHERE id = 1",
            [],
        )
        .unwrap();
    let lock = std::fs::File::create(ws.path("dst.db.migplan-lock")).unwrap();
    lock.lock().unwrap();
    let held = status_json(&ws, &url);
    let holder = held["lock_holder"].as_str().unwrap();
    assert!(
        holder.contains("run 1") && holder.contains("Ada"),
        "{holder}"
    );

    let text = ws
        .migplan()
        .args(["status", "--db", &url])
        .output()
        .unwrap();
    assert!(
        stdout(&text).contains("lock       run 1"),
        "{}",
        stdout(&text)
    );
}

#[test]
fn status_on_servers_reads_sizes_and_rows() {
    for_engines(&Engine::SERVERS, |engine| {
        let t = target(engine, 5);
        assert!(import(&t.ws, t.url(), &[]).status.success());
        let s = status_json(&t.ws, t.url());
        assert!(s["lock_holder"].is_null(), "{s}");
        assert_eq!(s["tables"][0]["rows"], 5, "{s}");
        assert!(s["size_bytes"].as_u64().unwrap() > 0, "{s}");
        assert!(s["tables"][0]["size_bytes"].as_u64().unwrap() > 0, "{s}");
        assert_eq!(s["last_runs"][0]["status"], "succeeded");
    });
}

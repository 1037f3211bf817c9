//! Faults: a run killed with SIGKILL in the middle of a large import
//! leaves the database exactly as before, and the next run records the dead
//! run as interrupted. On SQLite and on both servers.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use support::server::ServerDb;
use support::test::{Db, Engine, Test, for_each_engine, for_engines};
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
        .and_then(|j| j["result"].as_array().cloned())
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

/// A target of `engine` holding the tables and parent 0, in a workspace
/// holding `big.json`.
fn target(engine: Engine) -> Test {
    let t = Test::on(engine);
    big_backup(&t.ws);
    t.schema(TABLES)
        .rows("INSERT INTO parents VALUES (0, 'kept')")
}

/// Whether an import into `t` has begun writing rows: on SQLite once its
/// rollback journal appears; a server's side is not visible from here, so
/// the import is given time to send rows after it recorded itself.
fn writing(t: &Test) -> Box<dyn Fn() -> bool> {
    match &t.db {
        Db::Sqlite { path, .. } => {
            let journal = std::path::PathBuf::from(format!("{}-journal", path.display()));
            Box::new(move || journal.exists())
        }
        Db::Server(_) => {
            let since = Instant::now();
            Box::new(move || since.elapsed() > Duration::from_millis(300))
        }
    }
}

#[test]
fn sigkill_mid_import_changes_nothing_and_is_recorded_interrupted() {
    for_each_engine(|engine| {
        let t = target(engine);
        killed_import_changes_nothing(&t.ws, t.url(), &*writing(&t), || t.dump());
    });
}

// ---------------------------------------------------------------------------
// Verification after import: a database that changes rows on their way in
// (here a trigger) fails the import, and nothing is written.

const SMALL: &str = "CREATE TABLE items (id INTEGER PRIMARY KEY, v VARCHAR(20) NOT NULL)";

/// The triggers that change rows on their way into `items`, per engine, and
/// what the failure then says. On SQLite the trigger runs after the insert
/// (changing or deleting rows already written); on the servers before it.
fn changing_triggers(engine: Engine) -> Vec<(Vec<&'static str>, &'static str)> {
    const CHANGED: &str = "changed  id=1: `v` sent \"a\", found \"A\"";
    match engine {
        Engine::Sqlite => vec![
            (
                vec![
                    "CREATE TRIGGER up AFTER INSERT ON items BEGIN UPDATE items SET v = upper(v) WHERE id = NEW.id; END",
                ],
                "3 of the 3 rows written read back with other values",
            ),
            (
                vec![
                    "CREATE TRIGGER drop1 AFTER INSERT ON items WHEN NEW.id = 3 BEGIN DELETE FROM items WHERE id = 1; END",
                ],
                "1 row written is not there under its key",
            ),
        ],
        Engine::Postgres => vec![(
            vec![
                "CREATE FUNCTION up() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.v := upper(NEW.v); RETURN NEW; END $$",
                "CREATE TRIGGER up BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION up()",
            ],
            CHANGED,
        )],
        Engine::Mysql => vec![(
            vec!["CREATE TRIGGER up BEFORE INSERT ON items FOR EACH ROW SET NEW.v = UPPER(NEW.v)"],
            CHANGED,
        )],
    }
}

/// The backup comes from the same engine, the target has a trigger that
/// changes the values: the failure names the table and what changed.
#[test]
fn rows_changed_on_their_way_in_fail_verification() {
    for_each_engine(|engine| {
        let src = Test::on(engine)
            .schema(SMALL)
            .rows("INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')");
        src.export("small.json");
        for (triggers, expect) in changing_triggers(engine) {
            let db = src.another().schema(SMALL);
            for t in triggers {
                db.execute(t);
            }
            db.import(["small.json"])
                .failure()
                .stderr_contains("verification after the import failed for `items`")
                .stderr_contains(expect);
            assert_eq!(db.count("items"), 0, "{expect}: rolled back");
        }
    });
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
fn connection_cut_mid_import(t: &Test, cut: &dyn Fn(&ServerDb)) {
    let (ws, db) = (&*t.ws, t.server());
    let before = db.dump();
    let child = spawn_import_logged(ws, &db.url);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !history(ws, &db.url)
        .first()
        .is_some_and(|r| r["status"] == "running")
    {
        assert!(Instant::now() < deadline, "the import never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    cut(db);
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
    let runs = history(ws, &db.url);
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

/// Ends every other session of the test database from the server's side.
fn cut_sessions(db: &ServerDb) {
    if db.server == support::server::Server::Postgres {
        db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
        );
        return;
    }
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
}

#[test]
fn connection_cut_mid_import_is_a_clean_error() {
    for_engines(&Engine::SERVERS, |engine| {
        connection_cut_mid_import(&target(engine), &cut_sessions)
    });
}

/// A failing schema script among three: the run's history row says which
/// failed, why, and (on MySQL, whose DDL commits) which were applied.
fn failing_script_is_recorded(db: &Test) {
    // Where DDL commits statement by statement, V1 stays applied.
    let applied_before: &[&str] = if db.engine.transactional_ddl() {
        &[]
    } else {
        &["V1__a"]
    };
    let ws = &*db.ws;
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
        .args(["run", "p.toml", "--db", db.url()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let runs = history(ws, db.url());
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
fn failing_script_among_three_is_recorded_with_what_was_applied() {
    for_each_engine(|engine| failing_script_is_recorded(&Test::on(engine)));
}

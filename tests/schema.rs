//! The schema phase made whole: undo scripts and `schema down`, `schema new`,
//! `schema baseline`, `schema repair`, dry runs, failures that say what was
//! applied, and the MySQL journal with `--resume`. On SQLite always; on
//! PostgreSQL and MariaDB/MySQL when their servers are configured.

mod support;

use std::process::Output;

use support::server::{self, ServerDb};
use support::{Workspace, stderr, stdout};

/// A database of any engine the tests run on.
enum Db {
    Sqlite(String),
    Server(ServerDb),
}

impl Db {
    fn url(&self) -> String {
        match self {
            Db::Sqlite(u) => u.clone(),
            Db::Server(s) => s.url.clone(),
        }
    }

    fn is_mysql(&self) -> bool {
        matches!(self, Db::Server(s) if s.server == server::Server::Mysql)
    }

    /// Rows of a query whose values are text or integers, as text.
    fn query(&self, ws: &Workspace, sql: &str) -> Vec<Vec<String>> {
        match self {
            Db::Sqlite(_) => {
                let conn = ws.open("db.sqlite");
                let mut stmt = conn.prepare(sql).unwrap();
                let n = stmt.column_count();
                stmt.query_map([], |r| {
                    Ok((0..n)
                        .map(|i| match r.get_ref(i).unwrap() {
                            rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                            rusqlite::types::ValueRef::Text(t) => {
                                String::from_utf8_lossy(t).into_owned()
                            }
                            rusqlite::types::ValueRef::Null => "NULL".into(),
                            other => format!("{other:?}"),
                        })
                        .collect())
                })
                .unwrap()
                .map(Result::unwrap)
                .collect()
            }
            Db::Server(s) if s.server == server::Server::Postgres => {
                let msgs = s.pg().simple_query(sql).unwrap();
                msgs.iter()
                    .filter_map(|m| match m {
                        postgres::SimpleQueryMessage::Row(r) => Some(
                            (0..r.len())
                                .map(|i| r.get(i).unwrap_or("NULL").to_string())
                                .collect(),
                        ),
                        _ => None,
                    })
                    .collect()
            }
            Db::Server(s) => s.rows(sql),
        }
    }

    /// The versions in refinery's history (empty without the table).
    fn versions(&self, ws: &Workspace) -> Vec<i64> {
        if !self.has_table(ws, "refinery_schema_history") {
            return vec![];
        }
        self.query(
            ws,
            "SELECT version FROM refinery_schema_history ORDER BY version",
        )
        .iter()
        .map(|r| r[0].trim_matches('\'').parse().unwrap())
        .collect()
    }

    fn has_table(&self, ws: &Workspace, table: &str) -> bool {
        match self {
            Db::Sqlite(_) => {
                ws.path("db.sqlite").exists()
                    && ws
                        .open("db.sqlite")
                        .query_row(
                            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                            [table],
                            |r| r.get::<_, i64>(0),
                        )
                        .unwrap()
                        > 0
            }
            Db::Server(s) => {
                let sql = match s.server {
                    server::Server::Postgres => format!(
                        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename = '{table}'"
                    ),
                    server::Server::Mysql => format!(
                        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '{table}'"
                    ),
                };
                !self.query(ws, &sql).is_empty()
            }
        }
    }

    fn execute(&self, ws: &Workspace, sql: &str) {
        match self {
            Db::Sqlite(_) => ws.open("db.sqlite").execute_batch(sql).unwrap(),
            Db::Server(s) => s.execute(sql),
        }
    }
}

/// The databases of a test: SQLite, then each configured server.
fn databases(ws: &Workspace, test: &str) -> Vec<Db> {
    let mut dbs = vec![Db::Sqlite(ws.url("db.sqlite"))];
    dbs.extend(server::postgres(test).map(Db::Server));
    dbs.extend(server::mysql(test).map(Db::Server));
    dbs
}

fn plan(ws: &Workspace, db: &Db) -> String {
    ws.write(
        "p.toml",
        &format!(
            "[plan]\nkind = \"migrate\"\n[database]\nurl = \"{}\"\n[schema]\nmigrations = \"migrations\"\n",
            db.url()
        ),
    )
    .to_string_lossy()
    .into_owned()
}

fn migplan(ws: &Workspace, args: &[&str]) -> Output {
    ws.migplan().args(args).output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

fn failed(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
    stderr(out)
}

/// Three scripts creating tables a, b, c, each with an undo script.
fn three_with_undo(ws: &Workspace) {
    for (v, t) in [(1, "a"), (2, "b"), (3, "c")] {
        ws.write(
            &format!("migrations/V{v}__{t}.sql"),
            &format!("-- table {t}\nCREATE TABLE {t} (id INT PRIMARY KEY);\n"),
        );
        ws.write(
            &format!("migrations/V{v}__{t}.undo.sql"),
            &format!("DROP TABLE {t};\n"),
        );
    }
}

#[test]
fn refinery_ignores_undo_scripts() {
    let ws = Workspace::new();
    three_with_undo(&ws);
    let found = refinery::load_sql_migrations(ws.path("migrations")).unwrap();
    let names: Vec<String> = found.iter().map(|m| m.to_string()).collect();
    assert_eq!(names, ["V1__a", "V2__b", "V3__c"]);
}

#[test]
fn down_runs_undo_scripts_newest_first_and_shrinks_the_history() {
    let ws = Workspace::new();
    three_with_undo(&ws);
    for db in databases(&ws, "schema_down") {
        let p = plan(&ws, &db);
        ok(&migplan(&ws, &["schema", "up", &p]));
        assert_eq!(db.versions(&ws), [1, 2, 3]);

        let dry = ok(&migplan(
            &ws,
            &["schema", "down", &p, "--to", "1", "--dry-run"],
        ));
        assert!(
            dry.contains("V3__c.undo") && dry.contains("V2__b.undo"),
            "{dry}"
        );
        assert_eq!(db.versions(&ws), [1, 2, 3], "a dry run changes nothing");
        assert!(db.has_table(&ws, "c"));

        let out = ok(&migplan(&ws, &["schema", "down", &p, "--to", "1", "--yes"]));
        let (c, b) = (
            out.find("V3__c.undo").unwrap(),
            out.find("V2__b.undo").unwrap(),
        );
        assert!(c < b, "newest first: {out}");
        assert_eq!(db.versions(&ws), [1]);
        assert!(db.has_table(&ws, "a") && !db.has_table(&ws, "b") && !db.has_table(&ws, "c"));

        let out = migplan(&ws, &["schema", "down", &p, "--to", "1"]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("not below"), "{}", stderr(&out));

        ok(&migplan(&ws, &["schema", "down", &p, "--to", "0", "--yes"]));
        assert_eq!(db.versions(&ws), Vec::<i64>::new());
        assert!(!db.has_table(&ws, "a"));
        // And up again: the history is what refinery's reader expects.
        ok(&migplan(&ws, &["schema", "up", &p]));
        assert_eq!(db.versions(&ws), [1, 2, 3]);
        let status = ok(&migplan(&ws, &["schema", "status", &p]));
        assert!(
            status.contains("schema version 3 (3 applied, 0 pending)"),
            "{status}"
        );
    }
}

#[test]
fn down_refuses_when_an_undo_script_is_missing_and_changes_nothing() {
    let ws = Workspace::new();
    three_with_undo(&ws);
    std::fs::remove_file(ws.path("migrations/V2__b.undo.sql")).unwrap();
    for db in databases(&ws, "schema_down_missing") {
        let p = plan(&ws, &db);
        ok(&migplan(&ws, &["schema", "up", &p]));
        let err = failed(&migplan(&ws, &["schema", "down", &p, "--to", "0", "--yes"]));
        assert!(
            err.contains("V2__b.undo.sql") && err.contains("migplan rollback"),
            "{err}"
        );
        assert!(
            !err.contains("V3__c.undo.sql"),
            "only the missing one: {err}"
        );
        assert_eq!(db.versions(&ws), [1, 2, 3]);
        assert!(db.has_table(&ws, "c"), "V3's undo must not have run");
    }
}

#[test]
fn an_undo_script_without_its_twin_is_an_error() {
    let ws = Workspace::new();
    three_with_undo(&ws);
    ws.write("migrations/V4__d.undo.sql", "DROP TABLE d;");
    let db = Db::Sqlite(ws.url("db.sqlite"));
    let p = plan(&ws, &db);
    let err = failed(&migplan(&ws, &["schema", "up", &p]));
    assert!(err.contains("V4__d.undo.sql"), "{err}");
}

#[test]
fn new_creates_the_next_numbered_pair() {
    let ws = Workspace::new();
    three_with_undo(&ws);
    let db = Db::Sqlite(ws.url("db.sqlite"));
    let p = plan(&ws, &db);
    let out = ok(&migplan(&ws, &["schema", "new", &p, "add_email"]));
    assert!(out.contains("V4__add_email.sql"), "{out}");
    let script = std::fs::read_to_string(ws.path("migrations/V4__add_email.sql")).unwrap();
    assert!(script.starts_with("-- V4__add_email"), "{script}");
    assert!(ws.path("migrations/V4__add_email.undo.sql").exists());
    // The template applies (comments only) and is undone.
    ok(&migplan(&ws, &["schema", "up", &p]));
    assert_eq!(db.versions(&ws), [1, 2, 3, 4]);

    ok(&migplan(&ws, &["schema", "new", &p, "next"]));
    assert!(ws.path("migrations/V5__next.sql").exists());

    let bad = migplan(&ws, &["schema", "new", &p, "add-email"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("letters, digits and `_`"));
}

#[test]
fn new_fills_every_engine_folder_with_one_number() {
    let ws = Workspace::new();
    ws.write("m/sqlite/V1__a.sql", "CREATE TABLE a (id INT);");
    ws.write("m/postgres/V1__a.sql", "CREATE TABLE a (id INT);");
    ws.write("m/postgres/V2__b.sql", "CREATE TABLE b (id INT);");
    let p = ws.write(
        "p.toml",
        "[plan]\nkind = \"migrate\"\n[database]\nurl = \"sqlite://db.sqlite\"\n[schema]\nmigrations = \"m/{engine}\"\n",
    );
    ok(&migplan(
        &ws,
        &["schema", "new", p.to_str().unwrap(), "add_c"],
    ));
    for e in ["sqlite", "postgres"] {
        assert!(ws.path(&format!("m/{e}/V3__add_c.sql")).exists(), "{e}");
        assert!(
            ws.path(&format!("m/{e}/V3__add_c.undo.sql")).exists(),
            "{e}"
        );
    }
    assert!(!ws.path("m/mysql").exists(), "no folder is invented");
}

#[test]
fn baseline_then_up_runs_only_later_scripts() {
    let ws = Workspace::new();
    three_with_undo(&ws);
    for db in databases(&ws, "schema_baseline") {
        let p = plan(&ws, &db);
        // An existing database already at version 1, made by hand.
        db.execute(&ws, "CREATE TABLE a (id INT PRIMARY KEY)");
        let out = migplan(&ws, &["schema", "baseline", &p, "7"]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("no script has version 7"),
            "{}",
            stderr(&out)
        );
        assert_eq!(db.versions(&ws), Vec::<i64>::new());
        let out = ok(&migplan(&ws, &["schema", "baseline", &p, "1"]));
        assert!(out.contains("V1__a"), "{out}");
        assert_eq!(db.versions(&ws), [1]);
        let out = ok(&migplan(&ws, &["schema", "up", &p]));
        assert!(
            !out.contains("applied V1__a") && out.contains("applied V2__b"),
            "{out}"
        );
        assert_eq!(db.versions(&ws), [1, 2, 3]);
        let err = failed(&migplan(&ws, &["schema", "baseline", &p, "2"]));
        assert!(err.contains("already has applied"), "{err}");
    }
}

#[test]
fn repair_accepts_a_comment_only_edit_and_refuses_a_real_change() {
    let ws = Workspace::new();
    three_with_undo(&ws);
    for db in databases(&ws, "schema_repair") {
        three_with_undo(&ws);
        let p = plan(&ws, &db);
        ok(&migplan(&ws, &["schema", "up", &p]));
        ws.write(
            "migrations/V1__a.sql",
            "-- table a, the first one\n/* reviewed */\nCREATE TABLE a (\n    id INT PRIMARY KEY\n);\n\n",
        );
        let err = failed(&migplan(&ws, &["schema", "up", &p]));
        assert!(err.contains("schema repair"), "{err}");
        let out = ok(&migplan(&ws, &["schema", "repair", &p]));
        assert!(out.contains("V1__a"), "{out}");
        ok(&migplan(&ws, &["schema", "up", &p]));
        let status = ok(&migplan(&ws, &["schema", "status", &p]));
        assert!(!status.contains("file changed"), "{status}");

        ws.write(
            "migrations/V2__b.sql",
            "CREATE TABLE b (id INT PRIMARY KEY, x INT);",
        );
        let before = db.query(
            &ws,
            "SELECT checksum FROM refinery_schema_history WHERE version = 2",
        );
        let err = failed(&migplan(&ws, &["schema", "repair", &p]));
        assert!(
            err.contains("changed beyond whitespace and comments"),
            "{err}"
        );
        let after = db.query(
            &ws,
            "SELECT checksum FROM refinery_schema_history WHERE version = 2",
        );
        assert_eq!(before, after, "a refused repair changes nothing");
    }
}

#[test]
fn dry_runs_list_the_scripts_and_change_nothing() {
    let ws = Workspace::new();
    three_with_undo(&ws);
    for db in databases(&ws, "schema_dry_run") {
        let p = plan(&ws, &db);
        let out = ok(&migplan(&ws, &["schema", "up", &p, "--dry-run"]));
        let lines: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("would apply"))
            .collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert!(
            lines[0].contains("V1__a") && lines[2].contains("V3__c"),
            "{out}"
        );
        assert!(lines[0].contains("checksum "), "{out}");
        let run = migplan(&ws, &["run", &p, "--dry-run"]);
        ok(&run);
        assert!(
            stderr(&run).contains("would apply V2__b"),
            "{}",
            stderr(&run)
        );
        assert!(!db.has_table(&ws, "a"));
        assert!(!db.has_table(&ws, "refinery_schema_history"));
    }
}

#[test]
fn a_failing_script_among_three_applies_none_where_ddl_is_transactional() {
    let ws = Workspace::new();
    ws.write(
        "migrations/V1__first.sql",
        "CREATE TABLE first (id INT PRIMARY KEY);",
    );
    ws.write(
        "migrations/V2__second.sql",
        "CREATE TABLE second (id INT PRIMARY KEY);",
    );
    ws.write("migrations/V3__broken.sql", "CREATE TABLE oops (;");
    for db in databases(&ws, "schema_fail") {
        let p = plan(&ws, &db);
        let err = failed(&migplan(&ws, &["schema", "up", &p]));
        assert!(err.contains("script V3__broken failed"), "{err}");
        if db.is_mysql() {
            // MySQL commits DDL: the message names what stayed applied.
            assert!(
                err.contains("applied before the failure: V1__first, V2__second"),
                "{err}"
            );
            assert_eq!(db.versions(&ws), [1, 2]);
            assert!(db.has_table(&ws, "second"));
            // The first statement failed: nothing of V3 ran, no journal entry
            // blocks the next run.
            ws.write("migrations/V3__broken.sql", "CREATE TABLE fixed (id INT);");
            ok(&migplan(&ws, &["schema", "up", &p]));
            assert_eq!(db.versions(&ws), [1, 2, 3]);
            ws.write("migrations/V3__broken.sql", "CREATE TABLE oops (;");
        } else {
            assert!(err.contains("no script of this run was applied"), "{err}");
            assert_eq!(db.versions(&ws), Vec::<i64>::new());
            assert!(!db.has_table(&ws, "first") && !db.has_table(&ws, "second"));
        }
    }
}

#[test]
fn mysql_journal_refuses_an_interrupted_script_until_resumed() {
    let Some(s) = server::mysql("schema_journal") else {
        return;
    };
    let db = Db::Server(s);
    let ws = Workspace::new();
    ws.write(
        "migrations/V1__a.sql",
        "CREATE TABLE a (id INT PRIMARY KEY);",
    );
    ws.write(
        "migrations/V2__more.sql",
        "CREATE TABLE b (id INT PRIMARY KEY); -- one; not two\nCREATE TABLE oops (;\nCREATE TABLE c (id INT);\n",
    );
    let p = plan(&ws, &db);
    let err = failed(&migplan(&ws, &["schema", "up", &p]));
    assert!(
        err.contains("V2__more (statement 2 of 3) failed") && err.contains("--resume"),
        "{err}"
    );
    assert!(err.contains("applied before the failure: V1__a"), "{err}");
    assert!(db.has_table(&ws, "b") && !db.has_table(&ws, "c"));
    let journal = db.query(
        &ws,
        "SELECT version, state, statements_done FROM migplan_schema_journal WHERE state = 'in_progress'",
    );
    assert_eq!(journal.len(), 1, "{journal:?}");
    assert_eq!(db.versions(&ws), [1]);

    // Every later run refuses, saying which script and where.
    for args in [vec!["schema", "up", &p], vec!["run", &p]] {
        let err = failed(&migplan(&ws, &args));
        assert!(
            err.contains("interrupted") && err.contains("V2__more") && err.contains("1 statement"),
            "{err}"
        );
    }
    // Fix the failed statement, keep the first, resume.
    ws.write(
        "migrations/V2__more.sql",
        "CREATE TABLE b (id INT PRIMARY KEY); -- one; not two\nCREATE TABLE d (id INT);\nCREATE TABLE c (id INT);\n",
    );
    let out = ok(&migplan(&ws, &["schema", "up", &p, "--resume"]));
    assert!(out.contains("applied V2__more"), "{out}");
    assert!(db.has_table(&ws, "c") && db.has_table(&ws, "d"));
    assert_eq!(db.versions(&ws), [1, 2]);
    let open = db.query(
        &ws,
        "SELECT version FROM migplan_schema_journal WHERE state = 'in_progress'",
    );
    assert!(open.is_empty(), "{open:?}");
    // The bookkeeping tables stay out of exports.
    let out = migplan(&ws, &["export", "--db", &db.url(), "-o", "x.json"]);
    ok(&out);
    let backup = std::fs::read_to_string(ws.path("x.json")).unwrap();
    assert!(!backup.contains("migplan_schema_journal"));
    // And the history is still refinery's: status reads it.
    let status = ok(&migplan(&ws, &["schema", "status", &p]));
    assert!(
        status.contains("schema version 2 (2 applied, 0 pending)"),
        "{status}"
    );
}

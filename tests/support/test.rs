//! One case, every engine: a `Test` builder in the manner of just's.
//!
//! `for_each_engine(|engine| …)` runs a case on SQLite and on each server
//! that is configured (a server that is not prints that the case skips on
//! it, and fails the case under `CI=true`). Inside, `Test::on(engine)` is a
//! workspace with a fresh database of that engine; `.schema(sql)` and
//! `.rows(sql)` fill it, `.import([…])`, `.export(…)` and `.migplan([…])`
//! drive the real binary and `.success()`, `.failure()`,
//! `.stderr_contains(…)` check what it did; `.scalar(sql)`, `.count(t)`,
//! `.dump()` read the database back. A failure names the engine it
//! happened on.

use std::fmt;
use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind, panic_any, resume_unwind};
use std::path::PathBuf;
use std::process::Output;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Workspace;
use super::server::{self, Server, ServerDb};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
    Mysql,
}

impl Engine {
    pub const ALL: [Engine; 3] = [Engine::Sqlite, Engine::Postgres, Engine::Mysql];
    pub const SERVERS: [Engine; 2] = [Engine::Postgres, Engine::Mysql];

    fn server(self) -> Option<Server> {
        match self {
            Engine::Sqlite => None,
            Engine::Postgres => Some(Server::Postgres),
            Engine::Mysql => Some(Server::Mysql),
        }
    }

    /// This engine's one of three snippets (SQL, expected text, …).
    pub fn pick<T>(self, sqlite: T, postgres: T, mysql: T) -> T {
        match self {
            Engine::Sqlite => sqlite,
            Engine::Postgres => postgres,
            Engine::Mysql => mysql,
        }
    }

    /// An identifier quoted for this engine's SQL.
    pub fn quote(self, name: &str) -> String {
        match self {
            Engine::Mysql => format!("`{}`", name.replace('`', "``")),
            _ => format!("\"{}\"", name.replace('"', "\"\"")),
        }
    }

    /// Whether schema scripts apply in one transaction, all or none (MySQL
    /// commits each DDL statement on its own).
    pub fn transactional_ddl(self) -> bool {
        self != Engine::Mysql
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.pick("sqlite", "postgres", "mysql"))
    }
}

/// Runs `case` on every engine there is here.
pub fn for_each_engine(case: impl Fn(Engine)) {
    for_engines(&Engine::ALL, case);
}

/// Runs `case` on each of `engines` that is available, one after the other;
/// a panic is raised again with the engine's name in front of its message.
pub fn for_engines(engines: &[Engine], case: impl Fn(Engine)) {
    for &engine in engines {
        if let Some(server) = engine.server()
            && !server::available(server, &format!("{} on {engine}", test_name()))
        {
            continue;
        }
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| case(engine))) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
            match message {
                Some(m) => panic_any(format!("on {engine}: {m}")),
                None => resume_unwind(panic),
            }
        }
    }
}

/// The running test's name (libtest names each test's thread after it).
fn test_name() -> String {
    let thread = std::thread::current();
    let full = thread.name().unwrap_or("test");
    full.rsplit("::").next().unwrap_or(full).to_string()
}

/// A database of one engine: a SQLite file in the workspace or a fresh
/// server database (dropped with it).
pub enum Db {
    Sqlite { path: PathBuf, url: String },
    Server(ServerDb),
}

static NEXT_FILE: AtomicUsize = AtomicUsize::new(0);

impl Db {
    fn create(engine: Engine, ws: &Workspace) -> Db {
        match engine.server() {
            None => {
                let name = format!("db{}.sqlite", NEXT_FILE.fetch_add(1, Ordering::Relaxed));
                Db::sqlite_file(ws, &name)
            }
            Some(server) => Db::Server(
                ServerDb::create(server, &test_name())
                    .unwrap_or_else(|| panic!("{engine} is not configured: use for_each_engine")),
            ),
        }
    }

    /// The SQLite file `rel` of a workspace.
    pub fn sqlite_file(ws: &Workspace, rel: &str) -> Db {
        Db::Sqlite {
            path: ws.path(rel),
            url: ws.url(rel),
        }
    }

    pub fn url(&self) -> &str {
        match self {
            Db::Sqlite { url, .. } => url,
            Db::Server(db) => &db.url,
        }
    }

    /// The server database, for what only a server has.
    pub fn server(&self) -> &ServerDb {
        match self {
            Db::Server(db) => db,
            Db::Sqlite { .. } => panic!("not a server database"),
        }
    }

    fn sqlite(&self) -> rusqlite::Connection {
        match self {
            Db::Sqlite { path, .. } => rusqlite::Connection::open(path).unwrap(),
            Db::Server(_) => panic!("not a SQLite database"),
        }
    }

    /// Runs SQL statements (several, `;`-separated, on every engine).
    pub fn execute(&self, sql: &str) {
        match self {
            Db::Sqlite { .. } => self
                .sqlite()
                .execute_batch(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
            Db::Server(db) => db.execute(sql),
        }
    }

    /// Runs SQL with foreign keys unchecked, as an application might have
    /// written rows (children before parents, orphans). PostgreSQL checks
    /// keys at the end of each statement, so there one statement must hold
    /// a child and its parent.
    pub fn execute_unchecked(&self, sql: &str) {
        match self {
            Db::Sqlite { .. } => self.execute(&format!("PRAGMA foreign_keys = OFF; {sql}")),
            Db::Server(db) if db.server == Server::Mysql => {
                use mysql::prelude::Queryable;
                let mut c = db.my();
                c.query_drop("SET FOREIGN_KEY_CHECKS = 0").unwrap();
                c.query_drop(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
            Db::Server(db) => db.execute(sql),
        }
    }

    /// Runs SQL as an application would (on SQLite with foreign keys on),
    /// returning the database's refusal instead of failing the test.
    pub fn try_execute(&self, sql: &str) -> Result<(), String> {
        match self {
            Db::Sqlite { .. } => self
                .sqlite()
                .execute_batch(&format!("PRAGMA foreign_keys = ON; {sql}"))
                .map_err(|e| e.to_string()),
            Db::Server(db) if db.server == Server::Mysql => {
                use mysql::prelude::Queryable;
                db.my().query_drop(sql).map_err(|e| e.to_string())
            }
            Db::Server(db) => db.pg().batch_execute(sql).map_err(|e| e.to_string()),
        }
    }

    /// Rows of a query, every value as text (`NULL` for null).
    pub fn query(&self, sql: &str) -> Vec<Vec<String>> {
        match self {
            Db::Sqlite { .. } => sqlite_rows(&self.sqlite(), sql),
            Db::Server(db) => db.text_rows(sql),
        }
    }

    /// The one value a query returns, as text.
    pub fn scalar(&self, sql: &str) -> String {
        let rows = self.query(sql);
        assert_eq!(rows.len(), 1, "{sql}: {rows:?}");
        rows[0][0].clone()
    }

    /// A query's first column as integers.
    pub fn ids(&self, sql: &str) -> Vec<i64> {
        self.query(sql)
            .into_iter()
            .map(|r| r[0].parse().unwrap_or_else(|_| panic!("{sql}: {r:?}")))
            .collect()
    }

    pub fn count(&self, table: &str) -> i64 {
        let quoted = self.engine().quote(table);
        self.scalar(&format!("SELECT count(*) FROM {quoted}"))
            .parse()
            .unwrap()
    }

    /// Every row of every user table, exactly: equal dumps, equal data.
    pub fn dump(&self) -> Vec<String> {
        match self {
            Db::Sqlite { .. } => super::dump(&self.sqlite()),
            Db::Server(db) => db.dump(),
        }
    }

    /// User tables (bookkeeping excluded), sorted.
    pub fn tables(&self) -> Vec<String> {
        match self {
            Db::Sqlite { .. } => {
                let mut names: Vec<String> = self
                    .query("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
                    .into_iter()
                    .map(|mut r| r.remove(0))
                    .filter(|t| !migplan::backend::BOOKKEEPING_TABLES.contains(&t.as_str()))
                    .collect();
                names.sort();
                names
            }
            Db::Server(db) => db.tables(),
        }
    }

    /// The keys, checks (and on SQLite the whole schema) of the user
    /// tables, one line each, sorted.
    pub fn constraints(&self) -> Vec<String> {
        match self {
            Db::Sqlite { .. } => self
                .query("SELECT name || ': ' || sql FROM sqlite_schema WHERE sql IS NOT NULL AND tbl_name NOT LIKE 'migplan%' ORDER BY 1")
                .into_iter()
                .map(|mut r| r.remove(0))
                .collect(),
            Db::Server(db) => db.constraints(),
        }
    }

    pub fn engine(&self) -> Engine {
        match self {
            Db::Sqlite { .. } => Engine::Sqlite,
            Db::Server(db) => match db.server {
                Server::Postgres => Engine::Postgres,
                Server::Mysql => Engine::Mysql,
            },
        }
    }
}

fn sqlite_rows(conn: &rusqlite::Connection, sql: &str) -> Vec<Vec<String>> {
    use rusqlite::types::Value;
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let n = stmt.column_count();
    let mut rows = stmt.query([]).unwrap();
    let mut out = Vec::new();
    while let Some(r) = rows.next().unwrap() {
        let row = (0..n).map(|i| match r.get::<_, Value>(i).unwrap() {
            Value::Null => "NULL".to_string(),
            Value::Integer(v) => v.to_string(),
            Value::Real(v) => v.to_string(),
            Value::Text(v) => v,
            Value::Blob(v) => v.iter().map(|b| format!("{b:02x}")).collect(),
        });
        out.push(row.collect());
    }
    out
}

/// A workspace (shared by the tests made from it) and one database.
pub struct Test {
    pub engine: Engine,
    pub ws: Rc<Workspace>,
    pub db: Db,
}

impl Deref for Test {
    type Target = Db;
    fn deref(&self) -> &Db {
        &self.db
    }
}

impl Test {
    /// A new workspace and a fresh database of `engine`.
    pub fn on(engine: Engine) -> Test {
        let ws = Rc::new(Workspace::new());
        let db = Db::create(engine, &ws);
        Test { engine, ws, db }
    }

    /// Another fresh database of the same engine, in the same workspace
    /// (so files written for one are there for the other).
    pub fn another(&self) -> Test {
        Test {
            engine: self.engine,
            ws: Rc::clone(&self.ws),
            db: Db::create(self.engine, &self.ws),
        }
    }

    pub fn schema(self, sql: &str) -> Test {
        self.db.execute(sql);
        self
    }

    pub fn rows(self, sql: &str) -> Test {
        self.db.execute(sql);
        self
    }

    /// Rows written with foreign keys unchecked ([`Db::execute_unchecked`]).
    pub fn rows_unchecked(self, sql: &str) -> Test {
        self.db.execute_unchecked(sql);
        self
    }

    /// Writes a file into the workspace.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        self.ws.write(rel, text)
    }

    /// Writes a plan, `{url}` in it replaced by this database's URL.
    pub fn plan(&self, rel: &str, toml: &str) -> PathBuf {
        self.write(rel, &toml.replace("{url}", self.url()))
    }

    /// A JSON file of the workspace, parsed.
    pub fn json(&self, rel: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.ws.path(rel)).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// `migplan ARGS…` in the workspace.
    pub fn migplan<'a>(&self, args: impl IntoIterator<Item = &'a str>) -> Run {
        let mut cmd = self.ws.migplan();
        let args: Vec<&str> = args.into_iter().collect();
        cmd.args(&args);
        Run {
            cmd,
            engine: self.engine,
            line: args.join(" "),
        }
    }

    /// `migplan import --db URL ARGS…`.
    pub fn import<'a>(&self, args: impl IntoIterator<Item = &'a str>) -> Run {
        self.migplan(["import", "--db", self.url()]).args(args)
    }

    /// `migplan export --db URL -o FILE`, which must succeed.
    pub fn export(&self, file: &str) -> Outcome {
        self.export_with(file, []).success()
    }

    /// `migplan export --db URL -o FILE ARGS…`.
    pub fn export_with<'a>(&self, file: &str, args: impl IntoIterator<Item = &'a str>) -> Run {
        self.migplan(["export", "--db", self.url(), "-o", file])
            .args(args)
    }
}

/// A command about to run.
pub struct Run {
    cmd: assert_cmd::Command,
    engine: Engine,
    line: String,
}

impl Run {
    pub fn args<'a>(mut self, args: impl IntoIterator<Item = &'a str>) -> Run {
        for a in args {
            self.cmd.arg(a);
            self.line.push(' ');
            self.line.push_str(a);
        }
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Run {
        self.cmd.env(key, value);
        self
    }

    pub fn run(mut self) -> Outcome {
        Outcome {
            output: self.cmd.output().unwrap(),
            engine: self.engine,
            line: self.line,
        }
    }

    pub fn success(self) -> Outcome {
        self.run().success()
    }

    pub fn code(self, code: i32) -> Outcome {
        self.run().code(code)
    }

    /// Runs it, expecting exit code 1.
    pub fn failure(self) -> Outcome {
        self.run().failure()
    }
}

/// What a command did.
pub struct Outcome {
    pub output: Output,
    engine: Engine,
    line: String,
}

impl Outcome {
    pub fn stdout(&self) -> String {
        super::stdout(&self.output)
    }

    pub fn stderr(&self) -> String {
        super::stderr(&self.output)
    }

    fn describe(&self) -> String {
        format!(
            "on {}: `migplan {}` exited with {:?}\nstdout: {}\nstderr: {}",
            self.engine,
            self.line,
            self.output.status.code(),
            self.stdout(),
            self.stderr()
        )
    }

    pub fn success(self) -> Outcome {
        assert!(self.output.status.success(), "{}", self.describe());
        self
    }

    pub fn failure(self) -> Outcome {
        self.code(1)
    }

    pub fn code(self, code: i32) -> Outcome {
        assert_eq!(self.output.status.code(), Some(code), "{}", self.describe());
        self
    }

    pub fn stderr_contains(self, text: &str) -> Outcome {
        assert!(
            self.stderr().contains(text),
            "no {text:?}: {}",
            self.describe()
        );
        self
    }

    pub fn stdout_contains(self, text: &str) -> Outcome {
        assert!(
            self.stdout().contains(text),
            "no {text:?}: {}",
            self.describe()
        );
        self
    }

    /// A table's counts in the `--report json` on stdout.
    pub fn counts(&self, table: &str) -> Counts {
        let report = super::import_report(&self.stdout());
        let t = report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == table)
            .unwrap_or_else(|| panic!("no {table} in {report}"));
        let n = |k: &str| t[k].as_u64().unwrap();
        Counts {
            inserted: n("inserted"),
            identical: n("identical"),
            skipped: n("skipped"),
            overwritten: n("overwritten"),
        }
    }
}

/// One table's line of an import report.
#[derive(Debug, PartialEq, Eq)]
pub struct Counts {
    pub inserted: u64,
    pub identical: u64,
    pub skipped: u64,
    pub overwritten: u64,
}

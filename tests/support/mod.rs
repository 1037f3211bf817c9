//! Helpers for driving the real `migplan` binary against real SQLite files;
//! `server.rs` a fresh server database per test, `test.rs` the `Test`
//! builder that runs one case on every engine.
#![allow(dead_code)]

pub mod server;
pub mod test;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use rusqlite::Connection;
use rusqlite::types::Value;

pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        Workspace {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn url(&self, rel: &str) -> String {
        format!("sqlite://{}", self.path(rel).display())
    }

    /// A migrations folder holding one V1 script.
    pub fn migrations(&self, sql: &str) -> PathBuf {
        self.write("migrations/V1__init.sql", sql);
        self.path("migrations")
    }

    /// `migplan ARGS` started in this workspace and held at the failpoint
    /// `point` (debug builds: `MIGPLAN_PAUSE_AT`): returned once it waits
    /// there, with the file whose creation lets it go on.
    pub fn held_at(&self, point: &str, args: &[&str]) -> (std::process::Child, PathBuf) {
        use std::process::Stdio;
        use std::time::{Duration, Instant};
        let release = self.path("release");
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("migplan"))
            .current_dir(self.dir.path())
            .args(args)
            .env("MIGPLAN_PAUSE_AT", point)
            .env("MIGPLAN_PAUSE_FILE", &release)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        while !self.path("release.paused").exists() {
            assert!(
                child.try_wait().unwrap().is_none(),
                "migplan ended before `{point}`"
            );
            assert!(Instant::now() < deadline, "migplan never reached `{point}`");
            std::thread::sleep(Duration::from_millis(20));
        }
        (child, release)
    }

    pub fn migplan(&self) -> Command {
        let mut c = Command::cargo_bin("migplan").unwrap();
        c.current_dir(self.dir.path());
        c
    }

    /// `migplan export --db sqlite://DB -o FILE`, which must succeed.
    pub fn export(&self, db: &str, file: &str) {
        self.migplan()
            .args(["export", "--db", &self.url(db), "-o", file])
            .assert()
            .success();
    }

    /// `migplan import --db sqlite://DB ARGS…`, whatever its outcome.
    pub fn import(&self, db: &str, args: &[&str]) -> std::process::Output {
        self.migplan()
            .args(["import", "--db", &self.url(db)])
            .args(args)
            .output()
            .unwrap()
    }

    pub fn open(&self, rel: &str) -> Connection {
        Connection::open(self.path(rel)).unwrap()
    }
}

/// Every row of every user table, values rendered exactly (floats by bits,
/// storage class kept), for comparing two databases.
pub fn dump(conn: &Connection) -> Vec<String> {
    let mut tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .filter(|t: &String| !migplan::backend::BOOKKEEPING_TABLES.contains(&t.as_str()))
        .collect();
    tables.sort();
    let mut out = Vec::new();
    for t in tables {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT * FROM \"{}\" ORDER BY rowid",
                t.replace('"', "\"\"")
            ))
            .unwrap();
        let n = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            let vals: Vec<String> = (0..n)
                .map(|i| exact(r.get::<_, Value>(i).unwrap()))
                .collect();
            out.push(format!("{t}: {}", vals.join(" | ")));
        }
    }
    out
}

fn exact(v: Value) -> String {
    match v {
        Value::Real(f) => format!("real:{:016x}", f.to_bits()),
        other => format!("{other:?}"),
    }
}

pub fn count(conn: &Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |r| {
        r.get(0)
    })
    .unwrap()
}

/// The `result` of a `--format json` document, after checking its
/// envelope (docs/json-output.md).
pub fn json_result(text: &str) -> serde_json::Value {
    let doc: serde_json::Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(doc["version"], 1, "{doc}");
    assert!(doc["command"].is_string(), "{doc}");
    doc["result"].clone()
}

/// The rows of `table` in a JSON backup read whole (`v`), each as an object
/// keyed by the column names its meta lists: a backup writes a row as an
/// array of values in column order.
pub fn backup_rows(v: &serde_json::Value, table: &str) -> Vec<serde_json::Value> {
    let meta = v["meta"]["tables"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["name"] == table))
        .unwrap_or_else(|| panic!("no table `{table}` in the meta: {}", v["meta"]));
    let columns: Vec<&str> = meta["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let rows = v["data"][table]
        .as_array()
        .unwrap_or_else(|| panic!("no rows of `{table}`"));
    rows.iter()
        .map(|row| {
            let values = row
                .as_array()
                .unwrap_or_else(|| panic!("not an array: {row}"));
            assert_eq!(values.len(), columns.len(), "{row}");
            let pairs = columns
                .iter()
                .map(|c| c.to_string())
                .zip(values.iter().cloned());
            serde_json::Value::Object(pairs.collect())
        })
        .collect()
}

/// The one import report of a run or an import's `--format json`.
pub fn import_report(text: &str) -> serde_json::Value {
    let result = json_result(text);
    let imports = result["imports"]
        .as_array()
        .unwrap_or_else(|| panic!("no imports: {result}"));
    assert_eq!(imports.len(), 1, "{result}");
    imports[0].clone()
}

pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

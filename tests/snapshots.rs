//! One snapshot per export: every table of a backup is read as the database
//! stood when the export began, however many connections read it (issue
//! 16: PostgreSQL's tables stream from readers that import the export's
//! snapshot). Rows written, changed and deleted by others while an export
//! runs are not in its backup, and the backup's rows are consistent with
//! each other (no child without its parent).

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::server::{self, ServerDb};
use support::{Workspace, backup_rows, stderr};

const SCHEMA: &[&str] = &[
    "CREATE TABLE parents (id integer PRIMARY KEY, name varchar(20) NOT NULL)",
    "CREATE TABLE children (id integer PRIMARY KEY, parent_id integer NOT NULL REFERENCES parents (id), note varchar(20))",
    "INSERT INTO parents VALUES (1, 'one'), (2, 'two')",
    "INSERT INTO children VALUES (10, 1, 'a'), (20, 2, 'b')",
];

/// What others do while the export is paused after taking its snapshot.
const MEANWHILE: &[&str] = &[
    "INSERT INTO parents VALUES (3, 'three')",
    "INSERT INTO children VALUES (30, 3, 'c')",
    "UPDATE parents SET name = 'ONE' WHERE id = 1",
    "DELETE FROM children WHERE id = 20",
];

fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn export_while_others_write(db: &ServerDb, jobs: &str) {
    for sql in SCHEMA {
        db.execute(sql);
    }
    let ws = Workspace::new();
    let release = ws.path("release");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_migplan"))
        .current_dir(ws.path(""))
        .args(["export", "--db", &db.url, "-o", "b.json", "--jobs", jobs])
        .env("MIGPLAN_PAUSE_AT", "export-snapshot")
        .env("MIGPLAN_PAUSE_FILE", &release)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&ws.path("release.paused"));
    for sql in MEANWHILE {
        db.execute(sql);
    }
    std::fs::write(&release, "").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("b.json")).unwrap()).unwrap();
    let parents: Vec<(i64, String)> = backup_rows(&v, "parents")
        .iter()
        .map(|r| {
            (
                r["id"].as_i64().unwrap(),
                r["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(parents, [(1, "one".into()), (2, "two".into())]);
    let children: Vec<i64> = backup_rows(&v, "children")
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(children, [10, 20]);
    // The database did change: the backup is of the moment before.
    assert_eq!(db.count("parents"), 3);
}

#[test]
fn a_postgres_export_reads_the_database_as_it_stood_when_it_began() {
    if let Some(db) = server::postgres("snapshot_export") {
        export_while_others_write(&db, "1");
    }
}

/// `--jobs 4`: every reader imports the export's snapshot.
#[test]
fn a_parallel_postgres_export_reads_one_snapshot_in_every_worker() {
    if let Some(db) = server::postgres("snapshot_export_jobs") {
        export_while_others_write(&db, "4");
    }
}

#[test]
fn a_mysql_export_reads_the_database_as_it_stood_when_it_began() {
    if let Some(db) = server::mysql("snapshot_export") {
        export_while_others_write(&db, "1");
    }
}

/// `--jobs 4`: every worker's snapshot starts under one read lock.
#[test]
fn a_parallel_mysql_export_reads_one_snapshot_in_every_worker() {
    if let Some(db) = server::mysql("snapshot_export_jobs") {
        export_while_others_write(&db, "4");
    }
}

/// A write already running when a `--jobs` export starts: the read lock
/// that lets the workers share one snapshot would hold every other write
/// while it waited for that one (for a day, by the server's default), so
/// it gives up after a few seconds and the export reads its tables alone,
/// in its own snapshot, and says so.
#[test]
fn a_parallel_mysql_export_does_not_wait_behind_a_long_write() {
    use mysql::prelude::Queryable;
    let Some(db) = server::mysql("snapshot_long_write") else {
        return;
    };
    for sql in SCHEMA {
        db.execute(sql);
    }
    let mut writer_conn = db.my();
    let writer_id: u32 = writer_conn
        .query_first("SELECT CONNECTION_ID()")
        .unwrap()
        .unwrap();
    // Two rows, a minute each: far longer than any export here.
    let writer = std::thread::spawn(move || {
        writer_conn.query_drop("UPDATE parents SET name = 'slow' WHERE SLEEP(60) = 0")
    });
    let running = format!(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = {writer_id} AND INFO LIKE 'UPDATE%'"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while db.scalar(&running) != "1" {
        assert!(Instant::now() < deadline, "the UPDATE never started");
        std::thread::sleep(Duration::from_millis(20));
    }

    let ws = Workspace::new();
    let out = ws
        .migplan()
        .args(["export", "--db", &db.url, "-o", "b.json", "--jobs", "2"])
        .output()
        .unwrap();
    let waited_for_the_write = writer.is_finished();
    // Ended here if it still runs (it is gone if the export waited for it).
    let _ = db.my().query_drop(format!("KILL QUERY {writer_id}"));
    let _ = writer.join();

    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !waited_for_the_write,
        "the export waited until the long UPDATE ended"
    );
    assert!(
        stderr(&out).contains("tables are read one at a time"),
        "{}",
        stderr(&out)
    );
    // The rows as they stood: the UPDATE never committed.
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("b.json")).unwrap()).unwrap();
    let names: Vec<String> = backup_rows(&v, "parents")
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["one", "two"]);
}

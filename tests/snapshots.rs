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

//! Interrupted writes leave `.NAME.migplan-PID-RANDOM.partial` files; the
//! next write into the same folder removes those whose writer is gone,
//! keeps a running writer's, and says so.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Workspace, stderr};

/// A pid that was just used and is gone (its process reaped).
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

fn partials(dir: &std::path::Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    out.sort();
    out
}

fn seeded(ws: &Workspace, rows: usize) {
    let conn = ws.open("src.db");
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        .unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    {
        let mut stmt = tx.prepare("INSERT INTO t VALUES (?1, ?2)").unwrap();
        for i in 0..rows as i64 {
            stmt.execute((i, format!("row number {i} with some text")))
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

#[test]
fn a_dead_writers_partial_file_is_removed_and_a_live_ones_kept() {
    let ws = Workspace::new();
    seeded(&ws, 3);
    let dead = format!(".out.json.migplan-{}-Ab3xYz.partial", dead_pid());
    // The test itself is a running process: its file must stay.
    let live = format!(".out.json.migplan-{}-Qw9rTy.partial", std::process::id());
    let foreign = "notes.partial".to_string();
    let old_style = ".migplan-Zx81Kp.partial".to_string();
    for name in [&dead, &live, &foreign, &old_style] {
        ws.write(&format!("out/{name}"), "half a backup");
    }
    let out = ws
        .migplan()
        .args(["export", "--db", &ws.url("src.db"), "-o", "out/b.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("removed stale partial file") && err.contains(&dead),
        "{err}"
    );
    assert!(!err.contains(&live), "{err}");
    let mut kept = vec![foreign, live, old_style];
    kept.sort();
    assert_eq!(partials(&ws.path("out")), kept);
    assert!(ws.path("out/b.json").exists());
}

#[test]
fn a_workbook_export_cleans_up_too() {
    let ws = Workspace::new();
    seeded(&ws, 3);
    let dead = format!(".b.xlsx.migplan-{}-Ab3xYz.partial", dead_pid());
    ws.write(&dead, "half a workbook");
    let out = ws
        .migplan()
        .args(["export", "--db", &ws.url("src.db"), "-o", "b.xlsx"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains(&dead), "{}", stderr(&out));
    assert!(partials(ws.dir.path()).is_empty());
}

/// An export killed midway leaves its partial file, named after its pid;
/// the next export into the folder removes it and says so.
#[test]
fn the_export_after_a_sigkill_removes_the_killed_ones_partial_file() {
    let ws = Workspace::new();
    seeded(&ws, 300_000);
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("migplan"))
        .current_dir(ws.dir.path())
        .args(["export", "--db", &ws.url("src.db"), "-o", "out.json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(60);
    while partials(ws.dir.path()).is_empty() {
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
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    let left = partials(ws.dir.path());
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(
        left[0].starts_with(&format!(".out.json.migplan-{pid}-")),
        "{left:?}"
    );
    assert!(!ws.path("out.json").exists());

    let out = ws
        .migplan()
        .args(["export", "--db", &ws.url("src.db"), "-o", "again.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("removed stale partial file"), "{err}");
    assert!(err.contains(&left[0]), "{err}");
    assert!(partials(ws.dir.path()).is_empty());
}

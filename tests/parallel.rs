//! `--jobs N` (issue 16, point 3): an export read by several connections
//! sharing one snapshot writes the same backup, byte for byte, as one read
//! table by table. Only the meta's instant and id differ from run to run;
//! everything after the meta is compared as bytes, the meta as JSON
//! without those two fields.

mod support;

use std::io::Read;

use support::server::{self, ServerDb};
use support::{Workspace, repo_root, stderr};

fn migrations() -> String {
    repo_root()
        .join("examples/tiku/migrations/{engine}")
        .display()
        .to_string()
}

/// The tiku demo, scripts and seed, in `db`.
fn seeded(ws: &Workspace, db: &ServerDb) {
    let seed = repo_root().join("examples/tiku/fixtures/demo-seed.json");
    let plan = ws.write(
        "seed.toml",
        &format!(
            "[plan]\nkind = \"migrate\"\n[database]\nurl = {:?}\nseed = {:?}\n[schema]\nmigrations = {:?}\n",
            db.url,
            seed.display().to_string(),
            migrations()
        ),
    );
    run_ok(ws, &["run", plan.to_str().unwrap()]);
}

fn run_ok(ws: &Workspace, args: &[&str]) -> String {
    let out = ws.migplan().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "migplan {args:?} failed:\n{}",
        stderr(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A backup's bytes, decompressed when its name ends `.zst`.
fn bytes_of(ws: &Workspace, name: &str) -> Vec<u8> {
    let raw = std::fs::read(ws.path(name)).unwrap();
    if !name.ends_with(".zst") {
        return raw;
    }
    let mut out = Vec::new();
    zstd::stream::read::Decoder::new(&raw[..])
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// The meta without the fields that differ from run to run, and the bytes
/// after it.
fn split(bytes: &[u8]) -> (serde_json::Value, Vec<u8>) {
    let text = std::str::from_utf8(bytes).unwrap();
    let at = text.find(",\n\"data\": {").expect("a format-3 backup");
    let head = text[..at].strip_prefix("{\"meta\": ").unwrap();
    let mut meta: serde_json::Value = serde_json::from_str(head).unwrap();
    let fields = meta.as_object_mut().unwrap();
    for volatile in ["exported_at", "backup_id"] {
        fields.remove(volatile);
    }
    (meta, bytes[at..].to_vec())
}

fn assert_same_backup(ws: &Workspace, serial: &str, parallel: &str) {
    let (meta_1, data_1) = split(&bytes_of(ws, serial));
    let (meta_n, data_n) = split(&bytes_of(ws, parallel));
    assert_eq!(meta_1, meta_n, "{serial} and {parallel}: metas differ");
    assert!(
        data_1 == data_n,
        "{serial} and {parallel}: the rows or summaries differ ({} and {} bytes)",
        data_1.len(),
        data_n.len()
    );
    // Not vacuous: every tiku table is there, with rows.
    let text = String::from_utf8(data_1).unwrap();
    for table in ["users", "questions", "practices", "mistakes"] {
        assert!(
            text.contains(&format!("\"{table}\": [\n[")),
            "{table} is empty"
        );
    }
}

fn serial_and_parallel_exports_are_identical(db: &ServerDb) {
    let ws = Workspace::new();
    seeded(&ws, db);
    for (jobs, name) in [("1", "serial"), ("4", "parallel")] {
        run_ok(
            &ws,
            &[
                "export",
                "--db",
                &db.url,
                "-o",
                &format!("{name}.json"),
                "--jobs",
                jobs,
            ],
        );
        let zst = format!("{name}.json.zst");
        run_ok(
            &ws,
            &["export", "--db", &db.url, "-o", &zst, "--jobs", jobs],
        );
        // An incremental export: half of the tiku seed's rows changed after March 2026.
        let since = ["--since", "2026-03-01T00:00:00Z"];
        let incr = format!("{name}-incr.json");
        run_ok(
            &ws,
            &[
                &["export", "--db", &db.url, "-o", &incr, "--jobs", jobs][..],
                &since,
            ]
            .concat(),
        );
    }
    assert_same_backup(&ws, "serial.json", "parallel.json");
    assert_same_backup(&ws, "serial.json.zst", "parallel.json.zst");
    assert_same_backup(&ws, "serial-incr.json", "parallel-incr.json");
}

#[test]
fn postgres_exports_with_one_and_four_jobs_are_the_same_bytes() {
    if let Some(db) = server::postgres("parallel_export") {
        serial_and_parallel_exports_are_identical(&db);
    }
}

#[test]
fn mysql_exports_with_one_and_four_jobs_are_the_same_bytes() {
    if let Some(db) = server::mysql("parallel_export") {
        serial_and_parallel_exports_are_identical(&db);
    }
}

/// SQLite cannot hand its snapshot to another connection: `--jobs` reads
/// one table after the other there, and says nothing about it.
#[test]
fn sqlite_exports_with_jobs_are_the_same_bytes() {
    let ws = Workspace::new();
    let demo = repo_root().join("examples/tiku/fixtures/demo-seed.json");
    let plan = ws.write(
        "seed.toml",
        &format!(
            "[plan]\nkind = \"migrate\"\n[database]\nurl = {:?}\nseed = {:?}\n[schema]\nmigrations = {:?}\n",
            ws.url("t.db"),
            demo.display().to_string(),
            migrations()
        ),
    );
    run_ok(&ws, &["run", plan.to_str().unwrap()]);
    let url = ws.url("t.db");
    run_ok(
        &ws,
        &["export", "--db", &url, "-o", "serial.json", "--jobs", "1"],
    );
    run_ok(
        &ws,
        &["export", "--db", &url, "-o", "parallel.json", "--jobs", "4"],
    );
    assert_same_backup(&ws, "serial.json", "parallel.json");
}

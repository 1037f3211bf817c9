//! Integration tests: the real binary, real SQLite files. The cases every
//! engine shares run on SQLite from `tests/engines.rs`.

mod support;

use support::{Workspace, count, dump, repo_root, stderr, stdout};

const SCHEMA: &str = r#"
CREATE TABLE parents (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, updated_at TEXT);
CREATE TABLE awkward (
  id INTEGER PRIMARY KEY,
  i INTEGER, f REAL, d DECIMAL(40,10), t TEXT, b BLOB, flag BOOLEAN,
  ts TIMESTAMP, anything,
  parent_id INTEGER REFERENCES parents(id),
  updated_at TEXT
);
CREATE TABLE tree (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES tree(id), name TEXT NOT NULL);
"#;

/// A database with the awkward values the issue names, and a self-referencing
/// table whose children have smaller ids than their parents.
fn seeded(ws: &Workspace, rel: &str) {
    let conn = ws.open(rel);
    conn.execute_batch(SCHEMA).unwrap();
    conn.execute_batch(
        r#"
        INSERT INTO parents VALUES (1, '张三', '2025-01-01 10:00:00'), (2, 'Zoë 😀', '2026-03-01T08:00:00+08:00');
        INSERT INTO awkward VALUES
          (1, -9223372036854775808, 0.1, '12345678901234567890.1234567890', '题目：下列说法正确的是（ ）', x'00ff10', 1, '2025-06-01 12:34:56.123456', 42, 1, '2025-01-01 00:00:00'),
          (2, 9223372036854775807, -0.0, '-0.0000000001', '=HYPERLINK("x")', x'', 0, '2025-06-01T12:34:56+08:00', 'text', 2, '2026-05-01 00:00:00'),
          (3, 0, 1e308, '0', '', NULL, NULL, NULL, 1.5, NULL, NULL),
          (4, NULL, 5e-324, NULL, 'line
break "quoted" \ back', x'deadbeef', 2, 1700000000, x'0102', NULL, '2026-06-01 00:00:00'),
          (5, 7, -1e-300, '1.50', 'abc', 'text in a blob column', 1, 'not a date', NULL, 1, NULL);
        INSERT INTO awkward (id, i, f) VALUES (6, 'text in int column', 'text in real column');
        INSERT INTO awkward (id, f) VALUES (7, 9e999), (8, -9e999);
        INSERT INTO tree VALUES (5, NULL, 'root'), (1, 5, 'child of root'), (2, 1, 'grandchild'), (3, 2, 'great-grandchild'), (4, 4, 'its own parent');
        "#,
    )
    .unwrap();
}

fn plan(ws: &Workspace, name: &str, body: &str) -> std::path::PathBuf {
    ws.migrations(SCHEMA);
    ws.write(name, body)
}

#[test]
fn round_trip_keeps_every_value_exactly() {
    let ws = Workspace::new();
    seeded(&ws, "src.db");
    let out = ws
        .migplan()
        .args(["export", "--db", &ws.url("src.db"), "-o", "backup.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    ws.open("dst.db").execute_batch(SCHEMA).unwrap();
    let out = ws.import("dst.db", &["backup.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(dump(&ws.open("src.db")), dump(&ws.open("dst.db")));
    assert!(stdout(&out).contains("tree"), "{}", stdout(&out));
    // Imported again, every awkward value compares equal to itself: all
    // rows identical, none skipped or overwritten, whatever the policy.
    for policy in ["skip", "overwrite"] {
        let out = ws.import(
            "dst.db",
            &["backup.json", "--conflict", policy, "--report", "json"],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let report = support::import_report(&stdout(&out));
        let tables = report["tables"].as_array().unwrap();
        assert_eq!(tables.len(), 3, "{report}");
        for t in tables {
            let rows = count(&ws.open("src.db"), t["table"].as_str().unwrap());
            assert_eq!(t["identical"], rows, "{policy}: {t}");
            assert_eq!(t["skipped"], 0, "{policy}: {t}");
            assert_eq!(t["overwritten"], 0, "{policy}: {t}");
        }
        assert_eq!(dump(&ws.open("src.db")), dump(&ws.open("dst.db")));
    }
}

#[test]
fn backup_is_private_and_has_meta_first() {
    let ws = Workspace::new();
    seeded(&ws, "src.db");
    ws.export("src.db", "b.json");
    let text = std::fs::read_to_string(ws.path("b.json")).unwrap();
    assert!(
        text.trim_start().starts_with("{\"meta\"")
            || text.trim_start()[1..].trim_start().starts_with("\"meta\""),
        "{}",
        &text[..80]
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["meta"]["format"], "migplan-backup");
    assert_eq!(v["data"]["tree"].as_array().unwrap().len(), 5);
    assert!(v["summary"]["tree"]["blake3"].is_string());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(ws.path("b.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn child_table_before_parent_table_in_the_file_still_imports() {
    let ws = Workspace::new();
    seeded(&ws, "src.db");
    ws.export("src.db", "b.json");
    // Move `parents` after `awkward` in the data section (same rows, same checksums).
    let text = std::fs::read_to_string(ws.path("b.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut data = serde_json::Map::new();
    for t in ["awkward", "tree", "parents"] {
        data.insert(t.into(), v["data"][t].clone());
    }
    // serde_json's maps are sorted, so the text is put together by hand.
    let text = format!(
        "{{\"meta\": {}, \"data\": {{\"awkward\": {}, \"tree\": {}, \"parents\": {}}}, \"summary\": {}}}",
        v["meta"], data["awkward"], data["tree"], data["parents"], v["summary"]
    );
    ws.write("reordered.json", &text);
    ws.open("dst.db").execute_batch(SCHEMA).unwrap();
    let out = ws.import("dst.db", &["reordered.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(dump(&ws.open("src.db")), dump(&ws.open("dst.db")));
}

#[test]
fn failure_in_the_last_table_leaves_the_database_untouched() {
    let ws = Workspace::new();
    seeded(&ws, "src.db");
    ws.export("src.db", "b.json");
    // The target has a stricter last table: one row of `tree` will violate it.
    let conn = ws.open("dst.db");
    conn.execute_batch(&SCHEMA.replace(
        "name TEXT NOT NULL)",
        "name TEXT NOT NULL CHECK (name != 'great-grandchild'))",
    ))
    .unwrap();
    conn.execute_batch("INSERT INTO parents VALUES (9, 'already here', NULL);")
        .unwrap();
    drop(conn);
    let before = dump(&ws.open("dst.db"));
    let out = ws.import("dst.db", &["b.json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("tree"), "{}", stderr(&out));
    assert_eq!(before, dump(&ws.open("dst.db")));
}

#[test]
fn dry_run_reports_and_rolls_back() {
    let ws = Workspace::new();
    seeded(&ws, "src.db");
    ws.export("src.db", "b.json");
    ws.open("dst.db").execute_batch(SCHEMA).unwrap();
    let out = ws.import("dst.db", &["b.json", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("dry run"));
    assert_eq!(count(&ws.open("dst.db"), "tree"), 0);
}

const MODULE_PLAN: &str = r#"
[plan]
kind = "export"
[database]
url = "sqlite://db.sqlite"
[schema]
migrations = "migrations"
[export]
output = "out/{plan}.json"
mode = "modules"
modules = ["people"]
[[module]]
name = "people"
tables = ["parents"]
[[module]]
name = "things"
tables = ["awkward", "tree"]
depends_on = ["people"]
"#;

#[test]
fn module_export_writes_only_the_named_modules() {
    let ws = Workspace::new();
    seeded(&ws, "db.sqlite");
    // The tables exist already: no schema phase for this plan.
    let p = plan(
        &ws,
        "mods.toml",
        &MODULE_PLAN.replace("[schema]\nmigrations = \"migrations\"\n", ""),
    );
    let out = ws
        .migplan()
        .args(["run", p.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("out/mods.json")).unwrap()).unwrap();
    let tables: Vec<&str> = v["meta"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tables, vec!["parents"]);
    assert_eq!(v["meta"]["modules"], serde_json::json!(["people"]));
}

#[test]
fn unknown_key_error_names_file_line_and_column() {
    let ws = Workspace::new();
    let p = ws.write(
        "bad.toml",
        "[plan]\nkind = \"export\"\n\n[export]\nfromat = \"json\"\n",
    );
    let out = ws
        .migplan()
        .args(["validate", p.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("bad.toml:5:1"), "{text}");
    assert!(text.contains("fromat"), "{text}");
}

#[test]
fn module_cycle_error_names_every_member() {
    let ws = Workspace::new();
    let p = ws.write("cycle.toml", "[plan]\nkind = \"export\"\n[[module]]\nname = \"a\"\ntables = [\"t1\"]\ndepends_on = [\"b\"]\n[[module]]\nname = \"b\"\ntables = [\"t2\"]\ndepends_on = [\"c\"]\n[[module]]\nname = \"c\"\ntables = [\"t3\"]\ndepends_on = [\"a\"]\n");
    let out = ws
        .migplan()
        .args(["validate", "--format", "github", p.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.starts_with("::error file="), "{text}");
    assert!(text.contains("line=") && text.contains("col="), "{text}");
    for m in ["`a`", "`b`", "`c`"] {
        assert!(text.contains(m), "{m} missing: {text}");
    }
}

const CYCLE: &str = "PRAGMA foreign_keys = OFF;
    CREATE TABLE a (id INTEGER PRIMARY KEY, b_id INTEGER REFERENCES b(id));
    CREATE TABLE b (id INTEGER PRIMARY KEY, c_id INTEGER REFERENCES c(id));
    CREATE TABLE c (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a(id));";

/// a → b → c → a by foreign keys (Sakila's store ↔ staff, longer): the
/// cycle is broken at one table, the plan says which key waits, and the
/// data round-trips with every key checked after the load.
#[test]
fn a_foreign_key_cycle_between_tables_round_trips_and_the_plan_names_the_waiting_key() {
    let ws = Workspace::new();
    ws.open("db.sqlite")
        .execute_batch(&format!(
            "{CYCLE} INSERT INTO a VALUES (1, 1), (2, NULL); INSERT INTO b VALUES (1, 1); INSERT INTO c VALUES (1, 2);"
        ))
        .unwrap();
    ws.open("new.sqlite").execute_batch(CYCLE).unwrap();
    ws.export("db.sqlite", "x.json");
    let out = ws.import("new.sqlite", &["x.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(dump(&ws.open("new.sqlite")), dump(&ws.open("db.sqlite")));
    ws.write("export.toml", "[plan]\nkind = \"export\"\n");
    let out = ws
        .migplan()
        .args(["plan", "export.toml", "--db", &ws.url("db.sqlite")])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(
        text.contains(
            "foreign keys form a cycle: `a` loads before `b`, which its (b_id) reference"
        ),
        "{text}{}",
        stderr(&out)
    );
    let out = ws
        .migplan()
        .args([
            "plan",
            "export.toml",
            "--db",
            &ws.url("db.sqlite"),
            "--format",
            "dot",
        ])
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("\"b\" -> \"a\" [label=\"b_id\", style=dashed];"),
        "{}",
        stdout(&out)
    );
}

/// The key set aside in a cycle is still checked: a dangling reference
/// fails the import, naming the key, and nothing is written.
#[test]
fn a_dangling_key_inside_a_foreign_key_cycle_fails_the_import() {
    let ws = Workspace::new();
    ws.open("db.sqlite")
        .execute_batch(&format!(
            "{CYCLE} INSERT INTO a VALUES (1, 7); INSERT INTO b VALUES (1, 1); INSERT INTO c VALUES (1, 1);"
        ))
        .unwrap();
    ws.open("new.sqlite").execute_batch(CYCLE).unwrap();
    ws.export("db.sqlite", "x.json");
    let out = ws.import("new.sqlite", &["x.json"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("`a`") && err.contains("b_id") && err.contains('7'),
        "{err}"
    );
    assert!(dump(&ws.open("new.sqlite")).is_empty());
}

/// A copy plan names tables as the source spells them (`Album`); the target
/// has `album`. The module's conflict policy still applies to it.
#[test]
fn a_copy_plans_module_settings_reach_a_table_matched_ignoring_case() {
    let ws = Workspace::new();
    ws.open("src.db")
        .execute_batch(
            "CREATE TABLE Album (AlbumId INTEGER PRIMARY KEY, Title TEXT NOT NULL);
             INSERT INTO Album VALUES (1, 'new title'), (2, 'second');",
        )
        .unwrap();
    ws.open("dst.db")
        .execute_batch(
            "CREATE TABLE album (albumid INTEGER PRIMARY KEY, title TEXT NOT NULL);
             INSERT INTO album VALUES (1, 'kept title');",
        )
        .unwrap();
    ws.write(
        "copy.toml",
        "[plan]\nkind = \"copy\"\n[import]\nconflict = \"error\"\n[[module]]\nname = \"music\"\ntables = [\"Album\"]\nconflict = \"skip\"\n",
    );
    let out = ws
        .migplan()
        .args([
            "run",
            "copy.toml",
            "--source",
            &ws.url("src.db"),
            "--target",
            &ws.url("dst.db"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        dump(&ws.open("dst.db")),
        [
            "album: Integer(1) | Text(\"kept title\")",
            "album: Integer(2) | Text(\"second\")"
        ]
    );
}

/// Triggers switched off for a SQLite load come back in their creation
/// order: SQLite fires one event's triggers newest first.
#[test]
fn triggers_come_back_in_their_creation_order() {
    let ws = Workspace::new();
    let schema = "CREATE TABLE film (id INTEGER PRIMARY KEY, title TEXT NOT NULL);
        CREATE TABLE log (n INTEGER PRIMARY KEY AUTOINCREMENT, what TEXT NOT NULL);
        CREATE TRIGGER b_second AFTER INSERT ON film BEGIN INSERT INTO log (what) VALUES ('b'); END;
        CREATE TRIGGER a_first AFTER INSERT ON film BEGIN INSERT INTO log (what) VALUES ('a'); END;";
    ws.open("src.db").execute_batch(schema).unwrap();
    ws.open("new.db").execute_batch(schema).unwrap();
    ws.open("src.db")
        .execute("INSERT INTO film VALUES (1, 'x')", [])
        .unwrap();
    ws.export("src.db", "b.json");
    let out = ws.import("new.db", &["b.json", "--triggers", "disable"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let order = |db: &str| -> Vec<String> {
        let conn = ws.open(db);
        conn.execute("INSERT INTO film VALUES (2, 'y')", [])
            .unwrap();
        conn.prepare("SELECT what FROM log WHERE n > (SELECT max(n) - 2 FROM log) ORDER BY n")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(order("new.db"), order("src.db"));
}

#[test]
fn shipped_plans_validate() {
    let ws = Workspace::new();
    let out = ws
        .migplan()
        .args(["validate", repo_root().join("plans").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
}

#[test]
fn truncated_backup_is_a_clear_error_and_changes_nothing() {
    let ws = Workspace::new();
    seeded(&ws, "src.db");
    ws.export("src.db", "b.json");
    let bytes = std::fs::read(ws.path("b.json")).unwrap();
    std::fs::write(ws.path("cut.json"), &bytes[..bytes.len() * 2 / 3]).unwrap();
    ws.open("dst.db").execute_batch(SCHEMA).unwrap();
    let out = ws.import("dst.db", &["cut.json"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("cut.json:"), "{err}");
    assert!(dump(&ws.open("dst.db")).is_empty());
}

#[test]
fn malformed_backup_names_line_and_column() {
    let ws = Workspace::new();
    ws.write(
        "bad.json",
        "{\"meta\": {\"format\": \"migplan-backup\",\n  oops }",
    );
    ws.open("dst.db").execute_batch(SCHEMA).unwrap();
    let out = ws.import("dst.db", &["bad.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("bad.json:2:"), "{}", stderr(&out));
}

#[test]
fn backup_of_an_unknown_format_version_is_refused() {
    let ws = Workspace::new();
    seeded(&ws, "src.db");
    ws.export("src.db", "b.json");
    let text = std::fs::read_to_string(ws.path("b.json"))
        .unwrap()
        .replacen("\"format_version\": 3", "\"format_version\": 99", 1);
    assert!(text.contains("\"format_version\": 99"), "{text}");
    ws.write("future.json", &text);
    ws.open("dst.db").execute_batch(SCHEMA).unwrap();
    let out = ws.import("dst.db", &["future.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("99"), "{}", stderr(&out));
    assert!(dump(&ws.open("dst.db")).is_empty());
}

#[test]
fn tampered_backup_fails_its_checksum_and_changes_nothing() {
    let ws = Workspace::new();
    seeded(&ws, "src.db");
    ws.export("src.db", "b.json");
    let text = std::fs::read_to_string(ws.path("b.json"))
        .unwrap()
        .replacen("grandchild", "grandkid!!", 1);
    ws.write("tampered.json", &text);
    ws.open("dst.db").execute_batch(SCHEMA).unwrap();
    let out = ws.import("dst.db", &["tampered.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("checksum"), "{}", stderr(&out));
    assert!(dump(&ws.open("dst.db")).is_empty());
}

#[test]
fn missing_migrations_folder_is_a_clear_error() {
    let ws = Workspace::new();
    let p = ws.write("p.toml", "[plan]\nkind = \"migrate\"\n[database]\nurl = \"sqlite://db.sqlite\"\n[schema]\nmigrations = \"nowhere\"\n");
    let out = ws
        .migplan()
        .args(["run", p.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("nowhere") || stdout(&out).contains("nowhere"),
        "{}",
        stderr(&out)
    );
    assert!(!ws.path("db.sqlite").exists());
}

#[test]
fn failed_export_leaves_no_file_under_the_output_name() {
    let ws = Workspace::new();
    seeded(&ws, "src.db");
    // Invalid UTF-8 in the last table makes the export fail midway.
    ws.open("src.db")
        .execute_batch("INSERT INTO tree VALUES (99, NULL, CAST(x'ff' AS TEXT));")
        .unwrap();
    let out = ws
        .migplan()
        .args(["export", "--db", &ws.url("src.db"), "-o", "b.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!ws.path("b.json").exists());
    let leftovers: Vec<_> = std::fs::read_dir(ws.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn plan_command_prints_order_without_changing_anything() {
    let ws = Workspace::new();
    let p = plan(
        &ws,
        "mods.toml",
        &MODULE_PLAN.replace("mode = \"modules\"", "mode = \"full\""),
    );
    let out = ws
        .migplan()
        .args(["plan", p.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("apply    V1__init"), "{text}");
    let pos = |t: &str| {
        text.find(&format!(" {t} "))
            .unwrap_or_else(|| panic!("{t} missing: {text}"))
    };
    assert!(pos("parents") < pos("awkward"), "{text}");
    assert!(
        !ws.path("db.sqlite").exists(),
        "plan must not create the database"
    );
    let dot = ws
        .migplan()
        .args(["plan", p.to_str().unwrap(), "--format", "dot"])
        .output()
        .unwrap();
    assert!(
        stdout(&dot).contains("\"parents\" -> \"awkward\""),
        "{}",
        stdout(&dot)
    );
}

#[test]
fn backup_records_the_schema_version() {
    let ws = Workspace::new();
    let p = plan(
        &ws,
        "full.toml",
        "[plan]\nkind = \"export\"\n[database]\nurl = \"sqlite://db.sqlite\"\n[schema]\nmigrations = \"migrations\"\n[export]\noutput = \"b.json\"\n",
    );
    ws.migplan()
        .args(["run", p.to_str().unwrap()])
        .assert()
        .success();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("b.json")).unwrap()).unwrap();
    assert_eq!(v["meta"]["schema_version"], 1);
}

#[test]
fn full_backup_plan_works_out_of_the_box_on_the_demo_database() {
    let ws = Workspace::new();
    let plan = repo_root().join("plans/full-backup.toml");
    let out = ws
        .migplan()
        .env("MIGPLAN_DEMO_DB", ws.path("demo.db"))
        .args([
            "run",
            plan.to_str().unwrap(),
            "-o",
            ws.path("full.json").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("full.json")).unwrap()).unwrap();
    let tables = [
        "users",
        "categories",
        "question_books",
        "questions",
        "practices",
        "practice_details",
        "mistakes",
        "weaknesses",
    ];
    for t in tables {
        let rows = v["data"][t]
            .as_array()
            .unwrap_or_else(|| panic!("{t} missing"));
        assert!(!rows.is_empty(), "{t} has no rows");
    }
    assert_eq!(v["meta"]["schema_version"], 4);
}

#[test]
fn bad_flags_exit_with_usage_code() {
    let ws = Workspace::new();
    let out = ws
        .migplan()
        .args(["import", "--db", "oracle://x", "b.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = ws.migplan().args(["run"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn import_killed_midway_leaves_the_database_as_before() {
    let ws = Workspace::new();
    let conn = ws.open("src.db");
    conn.execute_batch(SCHEMA).unwrap();
    conn.execute_batch(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000)
         INSERT INTO tree (id, parent_id, name) SELECT i, NULL, 'row ' || i FROM n;",
    )
    .unwrap();
    drop(conn);
    ws.export("src.db", "big.json");
    let conn = ws.open("dst.db");
    conn.execute_batch(SCHEMA).unwrap();
    conn.execute_batch("INSERT INTO parents VALUES (1, 'before', NULL);")
        .unwrap();
    drop(conn);
    let before = dump(&ws.open("dst.db"));
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("migplan"))
        .current_dir(ws.dir.path())
        .args([
            "import",
            "--db",
            &ws.url("dst.db"),
            ws.path("big.json").to_str().unwrap(),
            "--conflict",
            "skip",
        ])
        .spawn()
        .unwrap();
    // The rollback journal appears once the import has written rows.
    let journal = ws.path("dst.db-journal");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !journal.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(journal.exists(), "the import never started writing");
    std::thread::sleep(std::time::Duration::from_millis(100));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let conn = ws.open("dst.db");
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    assert_eq!(before, dump(&conn));
}

#[test]
fn validate_with_db_checks_tables_columns_and_module_order() {
    let ws = Workspace::new();
    seeded(&ws, "db.sqlite");
    // `things` references `people` through foreign keys but does not depend on it,
    // a listed table is missing, and an excluded column does not exist.
    let body = MODULE_PLAN
        .replace("depends_on = [\"people\"]\n", "")
        .replace(
            "tables = [\"parents\"]",
            "tables = [\"parents\", \"ghosts\"]",
        )
        + "[tables.awkward]\nexclude = [\"nope\"]\n";
    let p = plan(&ws, "p.toml", &body);
    let out = ws
        .migplan()
        .args([
            "validate",
            p.to_str().unwrap(),
            "--db",
            &ws.url("db.sqlite"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("`ghosts`"), "{text}");
    assert!(text.contains("`nope`"), "{text}");
    assert!(
        text.contains("module `things` does not depend on `people`"),
        "{text}"
    );
    let good = plan(&ws, "good.toml", MODULE_PLAN);
    let out = ws
        .migplan()
        .args([
            "validate",
            good.to_str().unwrap(),
            "--db",
            &ws.url("db.sqlite"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stdout(&out));
}

#[test]
fn virtual_tables_and_their_shadow_tables_are_not_exported() {
    let ws = Workspace::new();
    let conn = ws.open("db.sqlite");
    conn.execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes VALUES (1, 'hello'); CREATE VIRTUAL TABLE notes_fts USING fts5(body); INSERT INTO notes_fts VALUES ('hello');").unwrap();
    drop(conn);
    ws.export("db.sqlite", "b.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("b.json")).unwrap()).unwrap();
    let tables: Vec<&str> = v["meta"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tables, vec!["notes"]);
}

/// Expression and partial unique indexes are not keys: the catalog skips
/// them instead of failing, so such databases export and import.
#[test]
fn expression_and_partial_unique_indexes_do_not_break_the_catalog() {
    let ws = Workspace::new();
    let schema = "CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT, active INTEGER);
        CREATE UNIQUE INDEX u_email_ci ON u (lower(email));
        CREATE UNIQUE INDEX u_active_email ON u (email) WHERE active = 1;";
    ws.open("a.db").execute_batch(schema).unwrap();
    ws.open("a.db")
        .execute_batch("INSERT INTO u VALUES (1, 'A@x', 1), (2, 'b@x', 0);")
        .unwrap();
    ws.export("a.db", "u.json");
    ws.open("b.db").execute_batch(schema).unwrap();
    let out = ws.import("b.db", &["u.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(dump(&ws.open("a.db")), dump(&ws.open("b.db")));
}

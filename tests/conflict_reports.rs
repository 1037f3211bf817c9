//! Conflict reports count per table and tell rows that really differ from
//! rows that are identical: inserted, identical (left alone), overwritten,
//! skipped (would have changed), failed. `error` names the count of each
//! table. On SQLite and on both servers.

mod support;

use serde_json::Value as Json;
use support::server::{self, ServerDb};
use support::{Workspace, stderr, stdout};

const TABLES: [&str; 2] = [
    "CREATE TABLE items (id INTEGER PRIMARY KEY, v VARCHAR(20) NOT NULL, n DECIMAL(8,2))",
    "CREATE TABLE tags (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL)",
];

/// `b.json`: items 1 (as the target has it), 2 (changed) and 3 (new); tags
/// 1 (changed) and 2 (new).
fn backup(ws: &Workspace) {
    let src = ws.open("src.db");
    for t in TABLES {
        src.execute_batch(t).unwrap();
    }
    src.execute_batch(
        "INSERT INTO items VALUES (1, 'same', 1.50), (2, 'changed', 2.00), (3, 'new', NULL);
         INSERT INTO tags VALUES (1, 'Changed'), (2, 'new');",
    )
    .unwrap();
    ws.export("src.db", "b.json");
}

const TARGET_ROWS: [&str; 2] = [
    "INSERT INTO items VALUES (1, 'same', 1.50), (2, 'before', 2.00)",
    "INSERT INTO tags VALUES (1, 'changed')",
];

fn counts(report: &Json, table: &str) -> [u64; 5] {
    let t = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == table)
        .unwrap_or_else(|| panic!("no {table} in {report}"));
    ["inserted", "identical", "overwritten", "skipped", "failed"].map(|k| t[k].as_u64().unwrap())
}

/// Each policy on a fresh target made by `fresh`, which returns its URL.
fn policies(ws: &Workspace, fresh: &mut dyn FnMut() -> String) {
    let import = |url: &str, policy: &str| {
        ws.migplan()
            .args([
                "import",
                "--db",
                url,
                "b.json",
                "--conflict",
                policy,
                "--report",
                "json",
            ])
            .output()
            .unwrap()
    };
    let out = import(&fresh(), "overwrite");
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Json = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(counts(&report, "items"), [1, 1, 1, 0, 0], "{report}");
    // A case-only change is a change, whatever the collation.
    assert_eq!(counts(&report, "tags"), [1, 0, 1, 0, 0], "{report}");

    let out = import(&fresh(), "skip");
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Json = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(counts(&report, "items"), [1, 1, 0, 1, 0], "{report}");
    assert_eq!(counts(&report, "tags"), [1, 0, 0, 1, 0], "{report}");

    let out = import(&fresh(), "error");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("3 rows already exist (1 of `tags`, 2 of `items`)")
            || err.contains("3 rows already exist (2 of `items`, 1 of `tags`)"),
        "{err}"
    );
}

#[test]
fn reports_tell_identical_rows_from_changed_ones_on_sqlite() {
    let ws = Workspace::new();
    backup(&ws);
    let mut n = 0;
    policies(&ws, &mut || {
        n += 1;
        let name = format!("dst{n}.db");
        let db = ws.open(&name);
        for sql in TABLES.iter().chain(&TARGET_ROWS) {
            db.execute_batch(sql).unwrap();
        }
        ws.url(&name)
    });
}

/// Each policy on a fresh server database (the server is known to be there).
fn on_server(make: &dyn Fn(&str) -> Option<ServerDb>) {
    let ws = Workspace::new();
    backup(&ws);
    let mut dbs = Vec::new();
    policies(&ws, &mut || {
        let db = make("conflict_reports").expect("the server answered the probe");
        for sql in TABLES.iter().chain(&TARGET_ROWS) {
            db.execute(sql);
        }
        let url = db.url.clone();
        dbs.push(db);
        url
    });
}

#[test]
fn reports_tell_identical_rows_from_changed_ones_on_postgres() {
    if server::postgres("conflict_reports_probe").is_none() {
        return;
    }
    on_server(&server::postgres);
}

#[test]
fn reports_tell_identical_rows_from_changed_ones_on_mysql() {
    if server::mysql("conflict_reports_probe").is_none() {
        return;
    }
    // A case-insensitive collation, as most MySQL databases have.
    on_server(&|t| {
        let db = server::mysql(t)?;
        db.execute(&format!(
            "ALTER DATABASE {} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
            db.name
        ));
        Some(db)
    });
}

/// `overwrite` leaves identical rows alone: no UPDATE reaches them, so an
/// UPDATE trigger fires only for the changed row.
#[test]
fn overwrite_does_not_touch_identical_rows_on_sqlite_and_postgres() {
    let ws = Workspace::new();
    backup(&ws);
    let db = ws.open("dst.db");
    for sql in TABLES.iter().chain(&TARGET_ROWS) {
        db.execute_batch(sql).unwrap();
    }
    db.execute_batch(
        "CREATE TABLE touched (id INTEGER);
         CREATE TRIGGER t AFTER UPDATE ON items BEGIN INSERT INTO touched VALUES (NEW.id); END;",
    )
    .unwrap();
    drop(db);
    let out = ws
        .migplan()
        .args([
            "import",
            "--db",
            &ws.url("dst.db"),
            "b.json",
            "--conflict",
            "overwrite",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let ids: Vec<i64> = ws
        .open("dst.db")
        .prepare("SELECT id FROM touched")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ids, [2]);

    let Some(pg) = server::postgres("overwrite_untouched") else {
        return;
    };
    for sql in TABLES.iter().chain(&TARGET_ROWS) {
        pg.execute(sql);
    }
    pg.execute(
        "CREATE TABLE touched (id INTEGER);
         CREATE FUNCTION note() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO touched VALUES (NEW.id); RETURN NEW; END $$;
         CREATE TRIGGER t AFTER UPDATE ON items FOR EACH ROW EXECUTE FUNCTION note();",
    );
    let out = ws
        .migplan()
        .args([
            "import",
            "--db",
            &pg.url,
            "b.json",
            "--conflict",
            "overwrite",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        pg.scalar("SELECT string_agg(id::text, ',') FROM touched")
            .contains("\"2\"")
    );
    assert_eq!(pg.count("touched"), 1);
}

/// A change of case alone is a change, even in a `COLLATE NOCASE` column:
/// the overwrite writes it, and the rows read back as sent.
#[test]
fn a_case_only_change_in_a_nocase_column_is_overwritten_on_sqlite() {
    let ws = Workspace::new();
    let src = ws.open("src.db");
    src.execute_batch(
        "CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE NOT NULL);
         INSERT INTO tags VALUES (1, 'Alice');",
    )
    .unwrap();
    ws.export("src.db", "tags.json");
    let dst = ws.open("dst.db");
    dst.execute_batch(
        "CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE NOT NULL);
         INSERT INTO tags VALUES (1, 'alice');",
    )
    .unwrap();
    drop(dst);
    let out = ws
        .migplan()
        .args([
            "import",
            "--db",
            &ws.url("dst.db"),
            "tags.json",
            "--conflict",
            "overwrite",
            "--report",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Json = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(counts(&report, "tags"), [0, 0, 1, 0, 0], "{report}");
    let name: String = ws
        .open("dst.db")
        .query_row("SELECT name FROM tags", [], |r| r.get(0))
        .unwrap();
    assert_eq!(name, "Alice");
}

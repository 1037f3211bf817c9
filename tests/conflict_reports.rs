//! Conflict reports count per table and tell rows that really differ from
//! rows that are identical: inserted, identical (left alone), overwritten,
//! skipped (would have changed), failed. `error` names the count of each
//! table. On SQLite and on both servers.

mod support;

use serde_json::Value as Json;
use support::test::{Engine, Test, for_each_engine, for_engines};
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

/// A fresh target in `t`'s workspace holding `TARGET_ROWS`; on MySQL with
/// a case-insensitive collation, as most MySQL databases have.
fn fresh_target(t: &Test) -> Test {
    let dst = t.another();
    if dst.engine == Engine::Mysql {
        dst.execute(&format!(
            "ALTER DATABASE {} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
            dst.server().name
        ));
    }
    for sql in TABLES.iter().chain(&TARGET_ROWS) {
        dst.execute(sql);
    }
    dst
}

/// Each policy on a fresh target.
#[test]
fn reports_tell_identical_rows_from_changed_ones() {
    for_each_engine(|engine| {
        let t = Test::on(engine);
        backup(&t.ws);
        let import = |policy: &str| {
            fresh_target(&t)
                .import(["b.json", "--conflict", policy, "--report", "json"])
                .run()
        };
        let out = import("overwrite").success();
        let report = support::import_report(&out.stdout());
        assert_eq!(counts(&report, "items"), [1, 1, 1, 0, 0], "{report}");
        // A case-only change is a change, whatever the collation.
        assert_eq!(counts(&report, "tags"), [1, 0, 1, 0, 0], "{report}");

        let out = import("skip").success();
        let report = support::import_report(&out.stdout());
        assert_eq!(counts(&report, "items"), [1, 1, 0, 1, 0], "{report}");
        assert_eq!(counts(&report, "tags"), [1, 0, 0, 1, 0], "{report}");

        let err = import("error").failure().stderr();
        assert!(
            err.contains("3 rows already exist (1 of `tags`, 2 of `items`)")
                || err.contains("3 rows already exist (2 of `items`, 1 of `tags`)"),
            "{err}"
        );
    });
}

/// `overwrite` leaves identical rows alone: no UPDATE reaches them, so an
/// UPDATE trigger fires only for the changed row.
/// (Not MySQL: its `ON DUPLICATE KEY UPDATE` fires the UPDATE trigger on
/// an identical row too, though no value changes.)
#[test]
fn overwrite_does_not_touch_identical_rows() {
    for_engines(&[Engine::Sqlite, Engine::Postgres], |engine| {
        let t = Test::on(engine);
        backup(&t.ws);
        let dst = fresh_target(&t).schema(if engine == Engine::Sqlite {
            "CREATE TABLE touched (id INTEGER);
             CREATE TRIGGER t AFTER UPDATE ON items BEGIN INSERT INTO touched VALUES (NEW.id); END;"
        } else {
            "CREATE TABLE touched (id INTEGER);
             CREATE FUNCTION note() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO touched VALUES (NEW.id); RETURN NEW; END $$;
             CREATE TRIGGER t AFTER UPDATE ON items FOR EACH ROW EXECUTE FUNCTION note();"
        });
        dst.import(["b.json", "--conflict", "overwrite"]).success();
        assert_eq!(dst.ids("SELECT id FROM touched"), [2]);
    });
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
    let report = support::import_report(&stdout(&out));
    assert_eq!(counts(&report, "tags"), [0, 0, 1, 0, 0], "{report}");
    let name: String = ws
        .open("dst.db")
        .query_row("SELECT name FROM tags", [], |r| r.get(0))
        .unwrap();
    assert_eq!(name, "Alice");
}

//! One table of cases, each run against every engine here: SQLite always,
//! PostgreSQL and MariaDB/MySQL when `MIGPLAN_TEST_POSTGRES_URL` and
//! `MIGPLAN_TEST_MYSQL_URL` name a server (otherwise the case says it skips
//! them, and fails under `CI=true`). What differs between engines is SQL
//! dialect, given by the case per engine (`engine.pick(…)`); what an
//! engine does differently on purpose (MySQL's DDL commits, its triggers
//! cannot be switched off) is stated where the case checks it.

mod support;

use support::test::{Counts, Engine, Test, for_each_engine, for_engines};
use support::{Workspace, backup_rows, stderr, stdout};

// ---------------------------------------------------------------------------
// Conflict policies

const PEOPLE: &str = "CREATE TABLE people (id INTEGER PRIMARY KEY, name VARCHAR(64) NOT NULL, email VARCHAR(64) UNIQUE)";

/// `people.json` holds people 1–4; the target then has 1 changed, 4 as the
/// backup has it, and 9 of its own.
fn people_conflict(engine: Engine) -> Test {
    let src = Test::on(engine).schema(PEOPLE).rows(
        "INSERT INTO people VALUES (1, 'Ann 张三', 'ann@x'), (2, 'Bob', NULL), (3, 'Cy', 'cy@x'), (4, 'Dee', 'dee@x')",
    );
    src.export("people.json");
    src.another().schema(PEOPLE).rows(
        "INSERT INTO people VALUES (1, 'changed', NULL), (4, 'Dee', 'dee@x'), (9, 'Zed', 'z@x')",
    )
}

#[test]
fn conflict_skip_keeps_existing_rows_and_counts_them() {
    for_each_engine(|engine| {
        let dst = people_conflict(engine);
        let out = dst
            .import(["people.json", "--conflict", "skip", "--report", "json"])
            .success();
        // Person 4 is the backup's own row: identical, not skipped; the one
        // changed person would have changed: skipped.
        let counts = Counts {
            inserted: 2,
            identical: 1,
            skipped: 1,
            overwritten: 0,
        };
        assert_eq!(out.counts("people"), counts);
        assert_eq!(
            dst.scalar("SELECT name FROM people WHERE id = 1"),
            "changed"
        );
        assert_eq!(dst.count("people"), 5);
    });
}

#[test]
fn conflict_overwrite_replaces_existing_rows_and_counts_them() {
    for_each_engine(|engine| {
        let dst = people_conflict(engine);
        let out = dst
            .import(["people.json", "--conflict", "overwrite", "--report", "json"])
            .success();
        let counts = Counts {
            inserted: 2,
            identical: 1,
            skipped: 0,
            overwritten: 1,
        };
        assert_eq!(out.counts("people"), counts);
        assert_eq!(
            dst.query("SELECT name, email FROM people WHERE id = 1"),
            [["Ann 张三", "ann@x"]]
        );
        assert_eq!(dst.scalar("SELECT name FROM people WHERE id = 9"), "Zed");
        assert_eq!(dst.count("people"), 5);
    });
}

#[test]
fn conflict_error_lists_the_keys_and_changes_nothing() {
    for_each_engine(|engine| {
        let dst = people_conflict(engine);
        let before = dst.dump();
        let err = dst
            .import(["people.json", "--conflict", "error"])
            .failure()
            .stderr();
        assert!(
            err.contains("`people` id=1") && err.contains("already exist"),
            "{err}"
        );
        assert!(!err.contains("id=2") && !err.contains("id=3"), "{err}");
        assert_eq!(before, dst.dump());
    });
}

// ---------------------------------------------------------------------------
// Self-referencing rows

const TREE: &str = "CREATE TABLE tree (id INTEGER PRIMARY KEY, parent_id INTEGER, name VARCHAR(40) NOT NULL, FOREIGN KEY (parent_id) REFERENCES tree(id))";

/// `tree.json`, written from rows whose children come before their parents.
fn tree_backup(engine: Engine) -> Test {
    let src = Test::on(engine).schema(TREE).rows_unchecked(
        "INSERT INTO tree VALUES (4, 4, 'its own parent'), (3, 2, 'great-grandchild'), (2, 1, 'grandchild'), (1, 5, 'child of root'), (5, NULL, 'root')",
    );
    src.export("tree.json");
    src
}

#[test]
fn self_referencing_children_before_parents_import_into_an_empty_table() {
    for_each_engine(|engine| {
        let src = tree_backup(engine);
        let dst = src.another().schema(TREE);
        let before = dst.constraints();
        dst.import(["tree.json"]).success();
        assert_eq!(dst.count("tree"), 5);
        assert_eq!(src.dump(), dst.dump());
        assert_eq!(before, dst.constraints());
    });
}

#[test]
fn self_referencing_children_before_parents_merge_into_a_non_empty_table() {
    for_each_engine(|engine| {
        let src = tree_backup(engine);
        let dst = src
            .another()
            .schema(TREE)
            .rows("INSERT INTO tree VALUES (5, NULL, 'root'), (100, 5, 'already here')");
        dst.import(["tree.json", "--conflict", "skip"]).success();
        src.execute("INSERT INTO tree VALUES (100, 5, 'already here')");
        assert_eq!(src.dump(), dst.dump());
    });
}

// ---------------------------------------------------------------------------
// Incremental exports

/// Per engine: tables with a change column of the engine's own kinds, the
/// `--since` instant, and the ids each table's export must hold. `whole`
/// has no change column.
struct Since {
    tables: &'static str,
    since: &'static str,
    expect: &'static [(&'static str, &'static [i64])],
}

const SINCE_SQLITE: Since = Since {
    tables: "CREATE TABLE notes (id INTEGER PRIMARY KEY, updated_at TEXT);
        CREATE TABLE whole (id INTEGER PRIMARY KEY);
        INSERT INTO notes VALUES (1, '2025-01-01 10:00:00'), (2, '2026-03-01T08:00:00+08:00'), (3, NULL), (4, '2026-06-01 00:00:00'), (5, '2025-12-31T23:59:59Z');
        INSERT INTO whole VALUES (1), (2);",
    since: "2026-01-01T00:00:00Z",
    // 2026-03-01T08:00:00+08:00 is 2026-03-01T00:00:00Z: later than since.
    expect: &[("notes", &[2, 4]), ("whole", &[1, 2])],
};

const SINCE_POSTGRES: Since = Since {
    tables: "CREATE TABLE notes (id integer PRIMARY KEY, updated_at timestamptz);
        CREATE TABLE naive (id integer PRIMARY KEY, updated_at timestamp);
        CREATE TABLE epoch (id integer PRIMARY KEY, updated_at bigint);
        CREATE TABLE whole (id integer PRIMARY KEY);
        INSERT INTO notes VALUES (1, '2025-12-31 23:00:00+00'), (2, '2026-01-01 08:00:01+08'), (3, '2026-02-01 00:00:00+00'), (4, NULL);
        INSERT INTO naive VALUES (1, '2025-12-31 23:59:59'), (2, '2026-01-01 00:00:01');
        INSERT INTO epoch VALUES (1, 1767225599), (2, 1767225601), (3, 1767225601000);
        INSERT INTO whole VALUES (1), (2);",
    since: "2026-01-01T00:00:00Z",
    expect: &[
        ("notes", &[2, 3]),
        ("naive", &[2]),
        ("epoch", &[2, 3]),
        ("whole", &[1, 2]),
    ],
};

/// MySQL's TIMESTAMP is compared as an instant in UTC, whatever the offset
/// `--since` is written in.
const SINCE_MYSQL: Since = Since {
    tables: "CREATE TABLE posts (id INT PRIMARY KEY, updated_at TIMESTAMP(6) NULL);
        CREATE TABLE whole (id INT PRIMARY KEY);
        INSERT INTO posts VALUES (1, '2025-12-31 23:00:00'), (2, '2026-01-01 00:00:00.000001'), (3, NULL);
        INSERT INTO whole VALUES (1), (2);",
    since: "2026-01-01T08:00:00+08:00",
    expect: &[("posts", &[2]), ("whole", &[1, 2])],
};

#[test]
fn incremental_export_selects_rows_changed_since() {
    for_each_engine(|engine| {
        let case = engine.pick(SINCE_SQLITE, SINCE_POSTGRES, SINCE_MYSQL);
        let db = Test::on(engine).schema(case.tables);
        let out = db
            .export_with("inc.json", ["--since", case.since])
            .success()
            // `whole` has no change column: exported whole, and the run says so.
            .stdout_contains("exported whole");
        let v = db.json("inc.json");
        for (table, ids) in case.expect {
            let got: Vec<i64> = backup_rows(&v, table)
                .iter()
                .map(|r| r["id"].as_i64().unwrap())
                .collect();
            assert_eq!(&got, ids, "{table}: {}", out.stdout());
        }
        assert_eq!(v["meta"]["export_type"], "incremental");
        if engine == Engine::Mysql {
            assert_eq!(
                backup_rows(&v, "posts")[0]["updated_at"],
                "2026-01-01 00:00:00.000001+00:00"
            );
        }
    });
}

/// An incremental chain: full, then two increments each following the one
/// before (`--follows`), restored in one transaction; a gap and a wrong
/// order are refused.
#[test]
fn incremental_chain_restores_the_source_and_refuses_a_gap_or_a_wrong_order() {
    for_each_engine(|engine| {
        let now = engine.pick(
            "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            "clock_timestamp()",
            "CURRENT_TIMESTAMP(6)",
        );
        let stamp = engine.pick("TEXT", "timestamptz", "TIMESTAMP(6)");
        let schema = format!(
            "CREATE TABLE parents (id INTEGER PRIMARY KEY, name VARCHAR(64) NOT NULL, updated_at {stamp} NOT NULL DEFAULT {now});
             CREATE TABLE children (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL, note VARCHAR(64), updated_at {stamp} NOT NULL DEFAULT {now}, FOREIGN KEY (parent_id) REFERENCES parents(id));"
        );
        let src = Test::on(engine).schema(&schema).rows(
            "INSERT INTO parents (id, name) VALUES (1, 'one'), (2, 'two');
             INSERT INTO children (id, parent_id, note) VALUES (1, 1, 'a'), (2, 2, 'b');",
        );
        let dst = src.another().schema(&schema);
        let pause = || std::thread::sleep(std::time::Duration::from_millis(50));
        src.export("full.json");
        pause();
        src.execute(&format!(
            "UPDATE parents SET name = 'one, renamed', updated_at = {now} WHERE id = 1;
             INSERT INTO parents (id, name) VALUES (3, 'three');
             INSERT INTO children (id, parent_id, note) VALUES (3, 3, 'c');"
        ));
        pause();
        src.export_with("inc1.json", ["--follows", "full.json"])
            .success();
        pause();
        src.execute(&format!(
            "UPDATE children SET note = 'b, edited', updated_at = {now} WHERE id = 2;
             INSERT INTO children (id, parent_id, note) VALUES (4, 1, 'd');"
        ));
        pause();
        src.export_with("inc2.json", ["--follows", "inc1.json"])
            .success();
        // inc2 carries the edit (and, within `--follows`' two-second margin,
        // possibly inc1's rows again: harmless under overwrite).
        let inc2 = src.json("inc2.json")["data"]["children"].to_string();
        assert!(inc2.contains("b, edited"), "{inc2}");

        dst.import(["full.json", "inc2.json"])
            .code(2)
            .stderr_contains("gap: inc2.json");
        dst.import(["full.json", "inc2.json", "inc1.json"])
            .code(2)
            .stderr_contains("out of order");
        assert_eq!(dst.count("parents"), 0);

        dst.import(["full.json", "inc1.json", "inc2.json"])
            .success();
        assert_eq!(src.dump(), dst.dump());
    });
}

// ---------------------------------------------------------------------------
// Indexes an incremental export can find its rows by

/// `items.updated_at` follows `b` in an index, and (where the engine has
/// them) leads only a partial index, an index after an expression and a
/// hash index: none finds `updated_at > T`. `stamped` has the index an
/// export needs; `whole` no change column; `logs` the change column the
/// plan names; the last table a name every engine must quote.
fn indexed_schema(engine: Engine) -> String {
    let stamp = engine.pick("TIMESTAMP", "timestamp", "DATETIME(6)");
    let odd = engine.quote(ODD_TABLE);
    let mut sql = format!(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, code VARCHAR(20) UNIQUE, b INTEGER, deleted INTEGER, updated_at {stamp});
         CREATE INDEX items_b_updated ON items (b, updated_at);
         CREATE TABLE stamped (id INTEGER PRIMARY KEY, updated_at {stamp});
         CREATE INDEX stamped_updated ON stamped (updated_at);
         CREATE TABLE whole (id INTEGER PRIMARY KEY);
         CREATE TABLE logs (id INTEGER PRIMARY KEY, changed_on {stamp});
         CREATE TABLE {odd} (id INTEGER PRIMARY KEY, updated_at {stamp});"
    );
    sql.push_str(engine.pick(
        "CREATE INDEX items_live ON items (updated_at) WHERE deleted = 0;
         CREATE INDEX items_lower ON items (lower(code), updated_at);",
        "CREATE INDEX items_live ON items (updated_at) WHERE deleted = 0;
         CREATE INDEX items_lower ON items (lower(code), updated_at);
         CREATE INDEX items_hash ON items USING hash (updated_at);",
        "",
    ));
    sql
}

const ODD_TABLE: &str = "we\"ird `t` 题目";

fn catalog(t: &Test) -> migplan::catalog::Catalog {
    use migplan::backend::{self, DbUrl, OpenOptions};
    let url = DbUrl::parse(t.url(), std::path::Path::new(".")).unwrap();
    let mut db = backend::open(&url, &OpenOptions::default()).unwrap();
    db.catalog().unwrap()
}

#[test]
fn the_catalog_knows_which_columns_lead_an_index() {
    for_each_engine(|engine| {
        let t = Test::on(engine).schema(&indexed_schema(engine));
        let c = catalog(&t);
        let items = c.table("items").unwrap();
        assert!(
            items
                .indexes
                .contains(&vec!["b".into(), "updated_at".into()]),
            "{:?}",
            items.indexes
        );
        // Keys count, whether or not the engine lists an index for them.
        for column in ["id", "code", "b"] {
            assert!(items.leads_an_index(column), "{column}: {items:?}");
        }
        assert!(!items.leads_an_index("updated_at"), "{items:?}");
        assert!(!items.leads_an_index("deleted"), "{items:?}");
        assert!(c.table("stamped").unwrap().leads_an_index("updated_at"));

        t.execute("CREATE INDEX items_updated ON items (updated_at)");
        let items = catalog(&t).table("items").unwrap().clone();
        assert!(items.leads_an_index("updated_at"), "{items:?}");
    });
}

const INCREMENTAL_PLAN: &str = "[plan]\nkind = \"export\"\n[database]\nurl = \"{url}\"\n[export]\noutput = \"inc.json\"\nmode = \"incremental\"\nsince = \"2026-01-01T00:00:00Z\"\n[tables.logs]\nupdated_at = \"changed_on\"\n";

/// `plan --format json`'s `unindexed`, as (table, column, statement).
fn unindexed(t: &Test, plan: &str) -> Vec<(String, String, String)> {
    let out = t.migplan(["plan", plan, "--format", "json"]).success();
    let v = support::json_result(&out.stdout());
    let mut found: Vec<(String, String, String)> = v["unindexed"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|u| {
                    let s = |k: &str| u[k].as_str().unwrap().to_string();
                    (s("table"), s("column"), s("create_index"))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

#[test]
fn plan_notes_a_change_column_no_index_leads_until_the_index_exists() {
    for_each_engine(|engine| {
        let t = Test::on(engine).schema(&indexed_schema(engine));
        let p = t.plan("inc.toml", INCREMENTAL_PLAN);
        let p = p.to_str().unwrap();
        let found = unindexed(&t, p);
        let names: Vec<(&str, &str)> = found
            .iter()
            .map(|(t, c, _)| (t.as_str(), c.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("items", "updated_at"),
                ("logs", "changed_on"),
                (ODD_TABLE, "updated_at")
            ]
        );
        t.migplan(["plan", p])
            .success()
            .stdout_contains("note: every row of `items` is read to find those changed: no index leads with `updated_at`")
            .stdout_contains(&format!("  = help: {}", found[0].2))
            .stdout_contains("no index leads with `changed_on`");
        // A full export reads every row anyway: nothing to say.
        let full = t.plan("full.toml", "[plan]\nkind = \"export\"\n[database]\nurl = \"{url}\"\n[export]\noutput = \"full.json\"\n");
        assert_eq!(unindexed(&t, full.to_str().unwrap()), []);

        // The statements suggested run as they are, and then leave nothing
        // to note.
        for (_, _, create) in &found {
            t.execute(create);
        }
        assert_eq!(unindexed(&t, p), []);
        let out = t.migplan(["plan", p]).success().stdout();
        assert!(!out.contains("note:"), "{out}");
    });
}

// ---------------------------------------------------------------------------
// Refused rows: nothing is written, the row is named

/// Per case: the column, its type on the target (per engine), and the bad
/// value for `(code, n)`.
const REFUSED: [(&str, [&str; 2], &str, &str); 2] = [
    (
        "code",
        ["VARCHAR(3)", "VARCHAR(3)"],
        "'abcde', 2",
        "'abcde', 2",
    ),
    ("n", ["SMALLINT", "TINYINT"], "'ok', 70000", "'ok', 300"),
];

/// A value the target column cannot hold (too long, out of range) fails
/// the import on its row, naming table, key and column; nothing changes.
#[test]
fn a_value_the_target_column_cannot_hold_changes_nothing_and_names_table_key_and_column() {
    for_engines(&Engine::SERVERS, |engine| {
        for (column, types, bad_pg, bad_my) in REFUSED {
            let schema = "CREATE TABLE parents (id INTEGER PRIMARY KEY);
                CREATE TABLE items (id INTEGER PRIMARY KEY, parent_id INTEGER, code VARCHAR(10), n INTEGER, FOREIGN KEY (parent_id) REFERENCES parents(id));";
            let target_type = engine.pick("", types[0], types[1]);
            let bad = engine.pick("", bad_pg, bad_my);
            let src = Test::on(engine).schema(schema).rows(&format!(
                "INSERT INTO parents VALUES (1), (2);
                 INSERT INTO items (id, parent_id, code, n) VALUES (1, 1, 'ok', 1), (2, 2, {bad}), (3, 1, 'ok', 3);"
            ));
            src.export("b.json");
            let old_type = if column == "code" {
                "VARCHAR(10)"
            } else {
                "INTEGER"
            };
            let dst = src
                .another()
                .schema(&schema.replace(
                    &format!("{column} {old_type}"),
                    &format!("{column} {target_type}"),
                ))
                .rows("INSERT INTO parents VALUES (100)");
            let before = (dst.dump(), dst.constraints());
            let err = dst.import(["b.json"]).failure().stderr();
            assert!(
                err.contains("`items`")
                    && err.contains("id=2")
                    && err.contains(&format!("`{column}`")),
                "{column}: {err}"
            );
            assert_eq!(before, (dst.dump(), dst.constraints()), "{column}");
        }
    });
}

const FAMILY: &str = "CREATE TABLE parents (id INTEGER PRIMARY KEY, name VARCHAR(20));
CREATE TABLE children (id INTEGER PRIMARY KEY, parent_id INTEGER, name VARCHAR(20), CONSTRAINT child_parent FOREIGN KEY (parent_id) REFERENCES parents(id));";

#[test]
fn foreign_key_violation_is_found_in_bulk_names_table_and_key_and_changes_nothing() {
    for_each_engine(|engine| {
        // The source lacks the constraint, so it holds an orphan.
        let src = Test::on(engine)
            .schema(&FAMILY.replace(", CONSTRAINT child_parent FOREIGN KEY (parent_id) REFERENCES parents(id)", ""))
            .rows("INSERT INTO parents VALUES (1, 'p1'); INSERT INTO children VALUES (10, 1, 'ok'), (11, 99, 'orphan'), (12, NULL, 'no parent');");
        src.export("b.json");
        let dst = src
            .another()
            .schema(FAMILY)
            .rows("INSERT INTO parents VALUES (5, 'existing');");
        let before = (dst.dump(), dst.constraints());
        let err = dst.import(["b.json"]).failure().stderr();
        assert!(
            err.contains("foreign key of `children`")
                && err.contains("`parents`")
                && err.contains("id=11")
                && err.contains("parent_id")
                && err.contains("99"),
            "{err}"
        );
        if engine == Engine::Postgres {
            assert!(err.contains("child_parent"), "{err}");
        }
        assert!(!err.contains("id=10"), "{err}");
        // Nothing written, the constraint is there as before, and checked:
        // a later orphan is refused by the database itself.
        assert_eq!(before, (dst.dump(), dst.constraints()));
        assert!(
            before.1.iter().any(|c| c.contains("child_parent")),
            "{:?}",
            before.1
        );
        let orphan = "INSERT INTO children VALUES (5, 77, 'late orphan')";
        assert!(dst.try_execute(orphan).is_err(), "{orphan} was accepted");
    });
}

// ---------------------------------------------------------------------------
// Hostile names and values

/// Per engine: a table whose name, columns and values are built to break
/// that engine's quoting, and how many rows it holds.
fn hostile(engine: Engine) -> (Test, &'static str, i64) {
    let db = Test::on(engine);
    match engine {
        Engine::Mysql => {
            let table = "Order \"x\" 表 select";
            db.execute("CREATE TABLE `Order \"x\" 表 select` (`select` INT PRIMARY KEY, `Mixed Case` VARCHAR(100), `col``tick` TEXT, `名前` VARCHAR(20) UNIQUE)");
            let values = [
                "it's \"quoted\"",
                "back\\slash \\' \\0",
                "ctrl \u{1} \t \n \r \u{1b} nul\0end",
                "'); DROP TABLE users; --",
                "`backtick` ${x} %s ?",
            ];
            use mysql::prelude::Queryable;
            let mut c = db.server().my();
            for (i, v) in values.iter().enumerate() {
                c.exec_drop(
                    "INSERT INTO `Order \"x\" 表 select` VALUES (?, ?, ?, ?)",
                    (i as i64, *v, *v, format!("名{i}")),
                )
                .unwrap();
            }
            (db, table, values.len() as i64)
        }
        _ => {
            db.execute(HOSTILE_SCHEMA);
            db.execute(engine.pick(HOSTILE_ROWS_SQLITE, HOSTILE_ROWS_POSTGRES, ""));
            (db, "we\"ird `table` 题目", 3)
        }
    }
}

const HOSTILE_SCHEMA: &str = r#"
CREATE TABLE "we""ird `table` 题目" ("select" integer PRIMARY KEY, "col ""quoted""" text, "MixedCase" text, "`back`" text, "用户" text UNIQUE);
CREATE TABLE "Order" ("user" integer PRIMARY KEY, "ref to ""weird""" integer,
  CONSTRAINT "fk ""odd"" name" FOREIGN KEY ("ref to ""weird""") REFERENCES "we""ird `table` 题目" ("select"));
"#;

const HOSTILE_ROWS_POSTGRES: &str = r#"INSERT INTO "we""ird `table` 题目" VALUES
 (1, E'\t\n\r\\ \\N \x01', '''; DROP TABLE "Order"; --', '', NULL),
 (2, '\N', 'NULL', 'a"b`c', '题'),
 (3, E'\\\\x00', '😀', E'\b\f\v', 'x');
INSERT INTO "Order" VALUES (10, 3), (11, NULL), (12, 1);"#;

/// The PostgreSQL rows, spelled in SQLite (no `E''` escapes).
const HOSTILE_ROWS_SQLITE: &str = r#"INSERT INTO "we""ird `table` 题目" VALUES
 (1, char(9, 10, 13) || '\ \N ' || char(1), '''; DROP TABLE "Order"; --', '', NULL),
 (2, '\N', 'NULL', 'a"b`c', '题'),
 (3, '\\x00', '😀', char(8, 12, 11), 'x');
INSERT INTO "Order" VALUES (10, 3), (11, NULL), (12, 1);"#;

#[test]
fn hostile_identifiers_and_values_round_trip() {
    for_each_engine(|engine| {
        let (src, table, rows) = hostile(engine);
        let dst = src.another();
        match engine {
            Engine::Mysql => dst.execute("CREATE TABLE `Order \"x\" 表 select` (`select` INT PRIMARY KEY, `Mixed Case` VARCHAR(100), `col``tick` TEXT, `名前` VARCHAR(20) UNIQUE)"),
            _ => dst.execute(HOSTILE_SCHEMA),
        }
        src.export("h.json");
        dst.import(["h.json"]).success();
        assert_eq!(src.dump(), dst.dump());
        assert_eq!(src.constraints(), dst.constraints());
        assert_eq!(dst.count(table), rows);
        // Again, now through the staging tables and the native merge.
        dst.import(["h.json", "--conflict", "overwrite"]).success();
        assert_eq!(src.dump(), dst.dump());
        assert_eq!(src.constraints(), dst.constraints());
    });
}

// ---------------------------------------------------------------------------
// Passwords

/// No server is needed: nothing listens on port 1.
#[test]
fn the_password_of_an_unreachable_server_is_never_printed() {
    for engine in Engine::SERVERS {
        let url = engine.pick(
            "",
            "postgres://app:s3cret@127.0.0.1:1/x",
            "mysql://app:s3cret@127.0.0.1:1/nowhere",
        );
        let ws = Workspace::new();
        let out = ws
            .migplan()
            .args(["export", "--db", url, "-o", "x.json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{engine}: {}", stderr(&out));
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(!all.contains("s3cret"), "{engine}: {all}");
        assert!(
            all.contains(&url.replace("s3cret", "***")),
            "{engine}: {all}"
        );
    }
}

// ---------------------------------------------------------------------------
// Schema scripts

const FIRST_SCRIPTS: [(&str, &str); 3] = [
    (
        "V1__first.sql",
        "CREATE TABLE first (id INTEGER PRIMARY KEY);",
    ),
    (
        "V2__second.sql",
        "CREATE TABLE second (id INTEGER PRIMARY KEY, first_id INTEGER, FOREIGN KEY (first_id) REFERENCES first(id));",
    ),
    ("V3__broken.sql", "CREATE TABLE oops (;"),
];

const SCHEMA_PLAN: &str = "[plan]\nkind = \"export\"\n[database]\nurl = \"{url}\"\n[schema]\nmigrations = \"migrations\"\n[export]\noutput = \"out.json\"\n";

/// A failing third script: where the engine applies scripts in one
/// transaction, none of the run's scripts is applied and the data phase
/// never starts (MySQL's statement-by-statement journal is `tests/schema.rs`'
/// and `tests/faults.rs`' subject). Fixed, all apply and are recorded;
/// `schema status` tells applied from pending.
#[test]
fn schema_scripts_apply_together_and_status_tells_applied_from_pending() {
    for_each_engine(|engine| {
        let db = Test::on(engine);
        for (name, sql) in FIRST_SCRIPTS {
            db.write(&format!("migrations/{name}"), sql);
        }
        let plan = db.plan("p.toml", SCHEMA_PLAN);
        let plan = plan.to_str().unwrap();
        if engine.transactional_ddl() {
            for command in [&["run", plan][..], &["schema", "up", plan]] {
                let err = db.migplan(command.iter().copied()).failure().stderr();
                assert!(
                    err.contains("V3__broken failed")
                        && err.contains("no script of this run was applied"),
                    "{err}"
                );
                assert!(!db.ws.path("out.json").exists());
                assert!(db.tables().is_empty(), "{:?}", db.tables());
            }
        }

        db.write(
            "migrations/V3__broken.sql",
            "CREATE TABLE oops (id INTEGER);",
        );
        db.migplan(["schema", "up", plan]).success();
        assert_eq!(db.tables(), vec!["first", "oops", "second"]);
        db.migplan(["run", plan]).success();
        assert_eq!(db.json("out.json")["meta"]["schema_version"], 3);
        db.write(
            "migrations/V4__more.sql",
            "CREATE TABLE more (id INTEGER PRIMARY KEY);",
        );
        db.migplan(["schema", "status", plan])
            .success()
            .stdout_contains("applied  V1__first")
            .stdout_contains("applied  V2__second")
            .stdout_contains("applied  V3__broken")
            .stdout_contains("pending  V4__more");
    });
}

// ---------------------------------------------------------------------------
// Module exports

/// `[export] closure`: a module export carries the rows its rows reference
/// (a chain with a self-reference at the top) and imports alone into an
/// empty database; unreferenced parents stay behind.
const CLOSURE_SCHEMA: &str = "CREATE TABLE users (id integer PRIMARY KEY, name varchar(40) NOT NULL);
    CREATE TABLE categories (id integer PRIMARY KEY, parent_id integer, FOREIGN KEY (parent_id) REFERENCES categories(id));
    CREATE TABLE books (id integer PRIMARY KEY, category_id integer NOT NULL, FOREIGN KEY (category_id) REFERENCES categories(id));
    CREATE TABLE questions (id integer PRIMARY KEY, book_id integer NOT NULL, author_id integer, FOREIGN KEY (book_id) REFERENCES books(id), FOREIGN KEY (author_id) REFERENCES users(id));
    CREATE TABLE answers (id integer PRIMARY KEY, question_id integer NOT NULL, FOREIGN KEY (question_id) REFERENCES questions(id));";

const CLOSURE_ROWS: &str = "INSERT INTO users VALUES (1, 'alice'), (2, 'bob'), (3, 'carol');
    INSERT INTO categories VALUES (10, NULL), (5, 10), (3, 5), (7, NULL), (8, 7);
    INSERT INTO books VALUES (1, 3), (2, 8), (3, 10);
    INSERT INTO questions VALUES (1, 1, 1), (2, 3, NULL), (3, 1, 3);
    INSERT INTO answers VALUES (1, 1), (2, 1), (3, 3);";

const CLOSURE_PLAN: &str = "[plan]\nkind = \"export\"\n[database]\nurl = \"{url}\"\n[export]\nmode = \"modules\"\nmodules = [\"questions\"]\nclosure = true\n[[module]]\nname = \"catalog\"\ntables = [\"users\", \"categories\", \"books\"]\n[[module]]\nname = \"questions\"\ntables = [\"questions\", \"answers\"]\n";

#[test]
fn closure_module_export_imports_alone_into_an_empty_database() {
    for_each_engine(|engine| {
        let src = Test::on(engine).schema(CLOSURE_SCHEMA).rows(CLOSURE_ROWS);
        let plan = src.plan("qa.toml", CLOSURE_PLAN);
        src.migplan(["run", plan.to_str().unwrap(), "-o", "b.json"])
            .success();
        let dst = src.another().schema(CLOSURE_SCHEMA);
        dst.import(["b.json"]).success();
        let ids = |table: &str| dst.ids(&format!("SELECT id FROM {table} ORDER BY id"));
        assert_eq!(ids("users"), [1, 3]);
        assert_eq!(ids("categories"), [3, 5, 10]);
        assert_eq!(ids("books"), [1, 3]);
        assert_eq!(ids("questions"), [1, 2, 3]);
        assert_eq!(ids("answers"), [1, 2, 3]);
    });
}

// ---------------------------------------------------------------------------
// Triggers

/// Sakila's `ins_film`, which fills `film_text` from `film`, per engine
/// (on PostgreSQL enabled ALWAYS, a mode it must come back in).
fn film_schema(engine: Engine) -> &'static str {
    engine.pick(
        "CREATE TABLE film (id INTEGER PRIMARY KEY, title TEXT NOT NULL);
        CREATE TABLE film_text (film_id INTEGER PRIMARY KEY, title TEXT NOT NULL);
        CREATE TRIGGER ins_film AFTER INSERT ON film BEGIN
          INSERT INTO film_text VALUES (new.id, new.title);
        END;",
        "CREATE TABLE film (id INT PRIMARY KEY, title TEXT NOT NULL);
        CREATE TABLE film_text (film_id INT PRIMARY KEY, title TEXT NOT NULL);
        CREATE FUNCTION ins_film() RETURNS trigger LANGUAGE plpgsql AS
          $$ BEGIN INSERT INTO film_text VALUES (NEW.id, NEW.title); RETURN NEW; END $$;
        CREATE TRIGGER ins_film AFTER INSERT ON film FOR EACH ROW EXECUTE FUNCTION ins_film();
        ALTER TABLE film ENABLE ALWAYS TRIGGER ins_film;",
        "CREATE TABLE film (id INT PRIMARY KEY, title VARCHAR(100) NOT NULL);
        CREATE TABLE film_text (film_id INT PRIMARY KEY, title VARCHAR(100) NOT NULL);
        CREATE TRIGGER ins_film AFTER INSERT ON film FOR EACH ROW
          INSERT INTO film_text VALUES (NEW.id, NEW.title);",
    )
}

/// The trigger fills `film_text`, which the backup also holds: the import
/// fails naming the trigger. With `--triggers disable` it loads the backup
/// as it is and the trigger is back afterwards; MySQL cannot switch
/// triggers off inside a transaction, so there it is refused before any
/// row moves, naming the triggers and what to do.
#[test]
fn a_trigger_writing_rows_the_backup_holds_fails_the_import_unless_switched_off() {
    for_each_engine(|engine| {
        let src = Test::on(engine)
            .schema(film_schema(engine))
            .rows("INSERT INTO film VALUES (1, 'ACADEMY DINOSAUR'), (2, 'ACE GOLDFINGER')");
        src.export("b.json");
        let dst = src.another().schema(film_schema(engine));
        dst.import(["b.json"])
            .failure()
            .stderr_contains(
                "the target's triggers fired as rows loaded: `film` (ins_film AFTER INSERT)",
            )
            .stderr_contains("--triggers disable");
        assert!(dst.dump().is_empty(), "{:?}", dst.dump());

        let disabled = dst.import(["b.json", "--triggers", "disable"]);
        if engine == Engine::Mysql {
            disabled
                .failure()
                .stderr_contains("cannot switch triggers off inside a transaction")
                .stderr_contains("`ins_film`")
                .stderr_contains("as a mysqldump file does");
            assert!(dst.dump().is_empty(), "{:?}", dst.dump());
            return;
        }
        disabled.success().stderr_contains(
            "triggers off while rows load, on again before the commit: `film` (ins_film AFTER INSERT)",
        );
        assert_eq!(src.dump(), dst.dump());
        if engine == Engine::Postgres {
            assert_eq!(
                dst.scalar("SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'ins_film'"),
                "A"
            );
        }
        dst.execute("INSERT INTO film VALUES (3, 'ADAPTATION HOLES')");
        assert_eq!(dst.count("film_text"), 3, "the trigger fires again");
    });
}

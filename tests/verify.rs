//! `migplan verify FILE --db URL`: a backup compared with a live database.

mod support;

use support::test::{Engine, Test, for_engines};
use support::{Workspace, stderr, stdout};

const SCHEMA: &str = "
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, balance DECIMAL(10,2), avatar BLOB);
CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id), body TEXT);
CREATE TABLE tags (label TEXT, weight INTEGER);
INSERT INTO users VALUES (1, 'Alice', 0.5, '12.50', x'00ff'), (2, 'Bob', -0.0, '0.10', NULL), (3, '张三', 1e300, NULL, x'');
INSERT INTO posts VALUES (10, 1, 'hello'), (11, 2, 'world'), (12, 1, NULL);
INSERT INTO tags VALUES ('a', 1), ('a', 1), ('b', 2);
";

fn setup() -> Workspace {
    let ws = Workspace::new();
    ws.open("db.sqlite").execute_batch(SCHEMA).unwrap();
    ws.export("db.sqlite", "backup.json");
    ws
}

fn verify(ws: &Workspace, file: &str, extra: &[&str]) -> std::process::Output {
    ws.migplan()
        .args(["verify", file, "--db", &ws.url("db.sqlite")])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn an_untouched_database_is_identical() {
    let ws = setup();
    let out = verify(&ws, "backup.json", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("users: identical (3 rows)"), "{text}");
    assert!(text.contains("tags: identical (3 rows)"), "{text}");
    assert!(
        text.contains("identical: the database matches the backup (3 tables, 9 rows)"),
        "{text}"
    );
}

#[test]
fn changed_missing_and_extra_rows_are_listed_by_key() {
    let ws = setup();
    ws.open("db.sqlite")
        .execute_batch(
            "UPDATE users SET name = 'Alicia', score = 0.25 WHERE id = 1;
             DELETE FROM posts WHERE id = 11;
             INSERT INTO posts VALUES (13, 3, 'new');
             UPDATE tags SET weight = 5 WHERE rowid = 1;",
        )
        .unwrap();
    let out = verify(&ws, "backup.json", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    for want in [
        "users: differs — 3 rows in the backup, 3 in the database: 1 changed",
        "changed  id=1: name: \"Alice\" → \"Alicia\", score: 0.5 → 0.25",
        "posts: differs — 3 rows in the backup, 3 in the database: 1 missing, 1 extra",
        "missing  id=11",
        "extra    id=13",
        // Without a key, a changed row is one missing and one extra.
        "tags: differs — 3 rows in the backup, 3 in the database: 1 missing, 1 extra",
        "missing  (label=\"a\", weight=1)",
        "extra    (label=\"a\", weight=5)",
        "the database differs from the backup in 3 of 3 tables: tags, users, posts",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
}

#[test]
fn the_json_report_and_the_limit() {
    let ws = setup();
    ws.open("db.sqlite")
        .execute_batch("DELETE FROM posts; INSERT INTO tags VALUES ('z', 9);")
        .unwrap();
    let out = verify(&ws, "backup.json", &["--format", "json", "--limit", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = support::json_result(&support::stdout(&out));
    assert_eq!(report["identical"], false);
    let table = |name: &str| {
        report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == name)
            .unwrap()
            .clone()
    };
    let posts = table("posts");
    assert_eq!(posts["key"], serde_json::json!(["id"]));
    assert_eq!(posts["missing"], 3);
    assert_eq!(posts["db_rows"], 0);
    assert_eq!(posts["missing_keys"], serde_json::json!(["id=10", "id=11"]));
    let tags = table("tags");
    assert_eq!(tags["extra"], 1);
    assert_eq!(tags["key"], serde_json::json!([]));
    let users = table("users");
    assert_eq!(users["missing"], 0);
    assert_eq!(users["changed"], 0);
}

#[test]
fn a_table_missing_from_the_database_differs() {
    let ws = setup();
    ws.open("db.sqlite")
        .execute_batch("DROP TABLE tags; ALTER TABLE users ADD COLUMN nick TEXT;")
        .unwrap();
    let out = verify(&ws, "backup.json", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("tags: missing from the database (3 rows in the backup)"),
        "{text}"
    );
    // An extra column is a note, not a difference.
    assert!(text.contains("users: identical"), "{text}");
    assert!(
        text.contains("note: the database has column `nick`"),
        "{text}"
    );
}

#[test]
fn a_column_missing_from_the_database_differs() {
    let ws = setup();
    ws.open("db.sqlite")
        .execute_batch("ALTER TABLE posts DROP COLUMN body;")
        .unwrap();
    let out = verify(&ws, "backup.json", &["--tables", "posts"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("column `body` missing"), "{text}");
    assert!(!text.contains("users"), "{text}");
}

#[test]
fn compressed_and_workbook_backups_verify_too() {
    let ws = setup();
    ws.export("db.sqlite", "backup.json.zst");
    ws.export("db.sqlite", "backup.json.gz");
    ws.export("db.sqlite", "backup.xlsx");
    for file in ["backup.json.zst", "backup.json.gz", "backup.xlsx"] {
        let out = verify(&ws, file, &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{file}: {}{}",
            stdout(&out),
            stderr(&out)
        );
    }
    ws.open("db.sqlite")
        .execute("UPDATE posts SET body = 'edited' WHERE id = 10", [])
        .unwrap();
    for file in ["backup.json.zst", "backup.xlsx"] {
        let out = verify(&ws, file, &[]);
        assert_eq!(out.status.code(), Some(1), "{file}");
        assert!(
            stdout(&out).contains("changed  id=10: body: \"hello\" → \"edited\""),
            "{file}: {}",
            stdout(&out)
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    let ws = setup();
    let out = ws
        .migplan()
        .args(["verify", "backup.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = verify(&ws, "backup.json", &["--tables", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("table `nope` is not in"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_damaged_backup_is_an_error_not_a_difference() {
    let ws = setup();
    let text = std::fs::read_to_string(ws.path("backup.json")).unwrap();
    ws.write("edited.json", &text.replacen("\"Alice\"", "\"Alicf\"", 1));
    let out = verify(&ws, "edited.json", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("checksum mismatch"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
}

#[test]
fn a_plan_names_the_database() {
    let ws = setup();
    ws.write(
        "plan.toml",
        &format!(
            "[plan]\nname = \"p\"\nkind = \"import\"\n[database]\nurl = \"{}\"\n",
            ws.url("db.sqlite")
        ),
    );
    let out = ws
        .migplan()
        .args(["verify", "backup.json", "--plan", "plan.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

// ---------------------------------------------------------------------------
// Servers: a backup verifies against its own database and against a copy
// imported from it (every type compares equal after the round trip), then a
// change is found.
// ---------------------------------------------------------------------------

const PG_TYPES: &str = r#"
CREATE TABLE everything (
  id integer PRIMARY KEY,
  s smallint, b bigint, n numeric, n2 numeric(12,2), r real, d double precision,
  t text, vc varchar(64), flag boolean, bin bytea,
  day date, tm time, ts timestamp, tstz timestamptz, iv interval,
  js json, jb jsonb, u uuid, ia int[]
);
CREATE TABLE pairs (a integer, b text);
"#;

const PG_VALUES: &str = r#"
INSERT INTO everything VALUES
 (1, -32768, -9223372036854775808, 12345678901234567890.123456789012345, -1234567890.12, 1.1, 0.1,
  E'tab\there 题目 😀', 'x', true, '\x00ff00'::bytea, '2025-02-28', '12:34:56.5',
  '2025-06-01 12:34:56.123456', '2025-06-01 12:34:56.123456+08', '1 year 2 mons 3 days 04:05:06.5',
  '{"b": 1,  "a": [1, 2.50]}', '{"b": 1, "a": [1, 2.50]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{1,NULL,3}'),
 (2, NULL, 9223372036854775807, 'NaN', 0, 'NaN', '-Infinity', '', '', false, '',
  '-infinity', '00:00:00', 'infinity', 'infinity', '-1 days -00:00:01.5', 'null', '[]', NULL, '{}'),
 (3, 0, 0, '-0.000000000000000000001', 0.01, '-0', 5e-324, NULL, NULL, NULL, NULL,
  NULL, '23:59:59.999999', '1999-12-31 23:59:59.999999', '1970-01-01 00:00:00+00', NULL,
  NULL, NULL, NULL, NULL);
INSERT INTO pairs VALUES (1, 'x'), (1, 'x'), (2, NULL);
"#;

const MY_TYPES: &[&str] = &[
    "CREATE TABLE everything (
      id INT PRIMARY KEY, flag TINYINT(1), ubig BIGINT UNSIGNED, big BIGINT,
      dec40 DECIMAL(40,10), f FLOAT, d DOUBLE, vc VARCHAR(64), tx TEXT,
      dt DATE, dtm DATETIME(6), ts TIMESTAMP(6) NULL, tm TIME(6), yr YEAR,
      bl BLOB, js JSON, en ENUM('a','b'), st SET('x','y'), bt BIT(8)
    ) ENGINE=InnoDB",
    "CREATE TABLE pairs (a INT, b TEXT) ENGINE=InnoDB",
];

const MY_VALUES: &[&str] = &[
    "INSERT INTO everything VALUES
     (1, 1, 18446744073709551615, -9223372036854775808, '123456789012345678901234567890.1234567890',
      1.1, 0.1, '😀 题目', 'line\nbreak', '2025-01-31', '2025-06-01 12:34:56.123456',
      '2026-03-01 00:00:00.5', '-12:34:56.5', 2024, x'00ff', '{\"b\": 1, \"a\": [1, 2.5]}', 'b', 'x,y', b'101'),
     (2, 0, 0, 0, '-0.0000000001', -0.0, 5e-324, '', '', '1000-01-01', '9999-12-31 23:59:59.999999',
      NULL, '838:59:59', 1901, x'', 'null', 'a', '', b'0'),
     (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    "INSERT INTO pairs VALUES (1, 'x'), (1, 'x'), (2, NULL)",
];

/// Per server: its types' table, their values, and an edit of row 2.
fn server_case(
    engine: Engine,
) -> (
    &'static [&'static str],
    &'static [&'static str],
    &'static str,
) {
    match engine {
        Engine::Postgres => (
            &[PG_TYPES],
            &[PG_VALUES],
            "UPDATE everything SET n2 = 0.02 WHERE id = 2",
        ),
        Engine::Mysql => (
            MY_TYPES,
            MY_VALUES,
            "UPDATE everything SET dec40 = '-0.0000000002' WHERE id = 2",
        ),
        Engine::Sqlite => unreachable!("a server case"),
    }
}

#[test]
fn a_server_round_trip_verifies_identical_then_finds_a_change() {
    for_engines(&Engine::SERVERS, |engine| {
        let (schema, values, edit) = server_case(engine);
        let src = Test::on(engine);
        let dst = src.another();
        for db in [&src, &dst] {
            for sql in schema {
                db.execute(sql);
            }
        }
        for sql in values {
            src.execute(sql);
        }
        src.export("b.json.zst");
        let run = |db: &Test| db.migplan(["verify", "b.json.zst", "--db", db.url()]).run();
        run(&src).code(0);
        dst.import(["b.json.zst"]).success();
        run(&dst)
            .code(0)
            .stdout_contains("everything: identical (3 rows)");
        dst.execute(edit);
        run(&dst)
            .code(1)
            .stdout_contains("changed  id=2: ")
            .stdout_contains("pairs: identical (3 rows)");
    });
}

//! The MySQL/MariaDB backend against a real server, through the real binary.
//! Each test gets fresh databases; without `MIGPLAN_TEST_MYSQL_URL` the
//! server tests print that they skip. What only MySQL has (its types, both
//! write paths, storage engines, sockets); the cases every engine shares
//! are in `tests/engines.rs`.

mod support;

use mysql::prelude::Queryable;
use support::server::{self, ServerDb};
use support::{Workspace, backup_rows, stderr};

/// Every type the backend maps, in MySQL syntax that MariaDB accepts too.
const TYPES: &str = "CREATE TABLE types (
  id INT AUTO_INCREMENT PRIMARY KEY,
  flag TINYINT(1), tiny TINYINT, utiny TINYINT UNSIGNED, small SMALLINT, med MEDIUMINT,
  i INT, ui INT UNSIGNED, big BIGINT, ubig BIGINT UNSIGNED,
  dec40 DECIMAL(40,10), f FLOAT, d DOUBLE,
  vc VARCHAR(64), tx TEXT, ch CHAR(8),
  dt DATE, dtm DATETIME(6), ts TIMESTAMP(6) NULL, tm TIME(6), yr YEAR,
  bl BLOB, vb VARBINARY(16), js JSON, en ENUM('a','b','c d'), st SET('x','y','z'), bt BIT(8)
) ENGINE=InnoDB";

const TYPE_ROWS: &[&str] = &[
    "INSERT INTO types VALUES (0, 1, -128, 255, -32768, -8388608, -2147483648, 4294967295,
      -9223372036854775808, 18446744073709551615, '123456789012345678901234567890.1234567890',
      1.1, 0.1, '😀 题目 emoji', 'line\nbreak 😀 漢字', '漢字😀', '2025-01-31',
      '2025-06-01 12:34:56.123456', '2026-03-01 00:00:00.5', '-12:34:56.5', 2024,
      x'00FF0010', x'0000', '{\"a\": [1, 2.5, \"x\"], \"b\": null}', 'c d', 'x,z', b'10100101')",
    "INSERT INTO types VALUES (7, 0, 127, 0, 32767, 8388607, 2147483647, 0,
      9223372036854775807, 9223372036854775808, '-0.0000000001', 3.4028235e38, -1e308,
      '', '', 'a', '0000-00-00', '2025-06-01 00:00:00', '1970-01-01 00:00:01', '838:59:59', 1901,
      x'', x'00', '[]', 'a', '', b'0')",
    "INSERT INTO types (id) VALUES (9)",
];

fn ws_and_db(test: &str) -> Option<(Workspace, ServerDb)> {
    Some((Workspace::new(), server::mysql(test)?))
}

/// Runs statements in one session with the server's checks relaxed, as an
/// application might have written the data (zero dates, orphans, id 0).
fn raw_session(db: &ServerDb, sqls: &[&str]) {
    let mut c = db.my();
    c.query_drop("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'")
        .unwrap();
    c.query_drop("SET FOREIGN_KEY_CHECKS = 0").unwrap();
    for sql in sqls {
        c.query_drop(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

fn export(ws: &Workspace, db: &ServerDb, file: &str) {
    let out = ws
        .migplan()
        .args(["export", "--db", &db.url, "-o", file])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

fn import(ws: &Workspace, db: &ServerDb, args: &[&str]) -> std::process::Output {
    ws.migplan()
        .args(["import", "--db", &db.url])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn every_type_round_trips_exactly_and_auto_increment_continues() {
    let Some((ws, src)) = ws_and_db("types_src") else {
        return;
    };
    let dst = server::mysql("types_dst").unwrap();
    src.execute(TYPES);
    dst.execute(TYPES);
    raw_session(&src, TYPE_ROWS);
    export(&ws, &src, "types.json");

    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("types.json")).unwrap()).unwrap();
    let rows = backup_rows(&v, "types");
    let first = &rows[0];
    assert_eq!(first["id"], 0, "{first}");
    assert_eq!(first["flag"], true, "{first}");
    assert_eq!(
        first["f"], 1.1,
        "float is its shortest decimal form: {first}"
    );
    let types: Vec<(String, String)> = v["meta"]["tables"][0]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (col, ty) in [
        ("flag", "bool"),
        ("tiny", "int"),
        ("ubig", "int"),
        ("dec40", "decimal"),
        ("f", "float"),
        ("dtm", "timestamp"),
        ("ts", "timestamp_tz"),
        ("tm", "time"),
        ("bl", "blob"),
        ("js", "json"),
        ("en", "enum"),
        ("st", "set"),
    ] {
        assert!(
            types.contains(&(col.to_string(), ty.to_string())),
            "{col} should be {ty}: {types:?}"
        );
    }

    let out = import(&ws, &dst, &["types.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(src.dump(), dst.dump());
    // Spot checks of what the dump shows as driver values.
    assert_eq!(
        dst.scalar("SELECT CAST(ubig AS CHAR) FROM types WHERE id = 0"),
        "18446744073709551615"
    );
    assert_eq!(
        dst.scalar("SELECT CAST(tm AS CHAR) FROM types WHERE id = 7"),
        "838:59:59.000000"
    );
    assert_eq!(
        dst.scalar("SELECT CAST(dt AS CHAR) FROM types WHERE id = 7"),
        "0000-00-00"
    );
    // The counter is past the imported maximum: an insert without id works.
    dst.execute("INSERT INTO types (flag) VALUES (1)");
    assert_eq!(dst.scalar("SELECT MAX(id) FROM types"), "10");
}

const USERS: &str =
    "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(64) NOT NULL UNIQUE, name VARCHAR(64))";

/// A source with users 1–3 exported, and a target holding user 1 changed
/// and user 9, plus `extra` rows.
fn conflict_setup(test: &str, extra: &[&str]) -> Option<(Workspace, ServerDb, ServerDb)> {
    let (ws, src) = ws_and_db(&format!("{test}_src"))?;
    let dst = server::mysql(&format!("{test}_dst")).unwrap();
    for db in [&src, &dst] {
        db.execute(USERS);
    }
    src.execute("INSERT INTO users VALUES (1,'a@x','Ann'),(2,'b@x','Bob'),(3,'c@x','Cy')");
    dst.execute("INSERT INTO users VALUES (1,'a@x','Changed'),(9,'z@x','Zed')");
    for sql in extra {
        dst.execute(sql);
    }
    export(&ws, &src, "users.json");
    Some((ws, src, dst))
}

fn report_counts(out: &std::process::Output, table: &str) -> (u64, u64, u64) {
    let report = support::import_report(&support::stdout(out));
    let t = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == table)
        .unwrap()
        .clone();
    (
        t["inserted"].as_u64().unwrap(),
        t["skipped"].as_u64().unwrap(),
        t["overwritten"].as_u64().unwrap(),
    )
}

#[test]
fn collision_on_another_unique_key_is_an_error_not_a_wrong_update() {
    // User 7 has Bob's email: id 2 is new, but ON DUPLICATE KEY would
    // update user 7 through the email key.
    let Some((ws, _src, dst)) =
        conflict_setup("hazard", &["INSERT INTO users VALUES (7,'b@x','Other')"])
    else {
        return;
    };
    let before = dst.dump();
    for policy in ["skip", "overwrite"] {
        let out = import(&ws, &dst, &["users.json", "--conflict", policy]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("users") && err.contains("(email)") && err.contains("b@x"),
            "{err}"
        );
        assert_eq!(before, dst.dump());
    }
}

#[test]
fn fulltext_table_merges_through_a_staging_copy() {
    // InnoDB cannot copy a FULLTEXT index into a temporary table.
    let Some((ws, src)) = ws_and_db("fulltext_src") else {
        return;
    };
    let dst = server::mysql("fulltext_dst").unwrap();
    let ddl = "CREATE TABLE docs (id INT PRIMARY KEY, slug VARCHAR(20) UNIQUE, body TEXT, FULLTEXT (body)) ENGINE=InnoDB";
    src.execute(ddl);
    dst.execute(ddl);
    src.execute("INSERT INTO docs VALUES (1, 'one', 'first'), (2, 'two', 'second')");
    dst.execute("INSERT INTO docs VALUES (1, 'one', 'old')");
    export(&ws, &src, "d.json");
    let out = import(
        &ws,
        &dst,
        &["d.json", "--conflict", "overwrite", "--report", "json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(report_counts(&out, "docs"), (1, 0, 1));
    assert_eq!(src.dump(), dst.dump());
}

#[test]
fn myisam_target_is_refused_and_nothing_is_written() {
    let Some((ws, src)) = ws_and_db("myisam_src") else {
        return;
    };
    let dst = server::mysql("myisam_dst").unwrap();
    src.execute("CREATE TABLE a (id INT PRIMARY KEY)");
    src.execute("CREATE TABLE logs (id INT PRIMARY KEY, msg VARCHAR(20))");
    src.execute("INSERT INTO a VALUES (1)");
    src.execute("INSERT INTO logs VALUES (1, 'hello')");
    dst.execute("CREATE TABLE a (id INT PRIMARY KEY)");
    dst.execute("CREATE TABLE logs (id INT PRIMARY KEY, msg VARCHAR(20)) ENGINE=MyISAM");
    export(&ws, &src, "b.json");
    let out = import(&ws, &dst, &["b.json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("`logs`") && err.contains("MyISAM") && err.contains("ENGINE=InnoDB"),
        "{err}"
    );
    assert_eq!((dst.count("a"), dst.count("logs")), (0, 0));
}

#[test]
fn wrong_password_error_does_not_show_it() {
    let Some((ws, db)) = ws_and_db("wrong_password") else {
        return;
    };
    // The configured URL with its user and password replaced.
    let (scheme, rest) = db.url.split_once("://").unwrap();
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let url = format!("{scheme}://nosuchuser:s3cret@{host}");
    let out = ws
        .migplan()
        .args(["export", "--db", &url, "-o", "x.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        !err.contains("s3cret") && err.contains("nosuchuser:***@"),
        "{err}"
    );
}

#[test]
fn infinity_from_another_engine_is_an_error_naming_the_column() {
    let Some((ws, db)) = ws_and_db("infinity") else {
        return;
    };
    ws.open("src.db")
        .execute_batch(
            "CREATE TABLE m (id INTEGER PRIMARY KEY, d REAL); INSERT INTO m VALUES (1, 1.5), (2, 9e999);",
        )
        .unwrap();
    ws.export("src.db", "m.json");
    db.execute("CREATE TABLE m (id INT PRIMARY KEY, d DOUBLE)");
    let out = import(&ws, &db, &["m.json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("`m`") && err.contains("id=2") && err.contains("`d`") && err.contains("inf"),
        "{err}"
    );
    assert_eq!(db.count("m"), 0);
}

#[test]
fn mariadb_scheme_and_unix_socket_connect() {
    let Some((ws, db)) = ws_and_db("socket") else {
        return;
    };
    let socket = db.scalar("SELECT @@socket");
    if !std::path::Path::new(&socket).exists() {
        eprintln!("SKIPPED socket part: {socket} is not here");
        return;
    }
    db.execute("CREATE TABLE t (id INT PRIMARY KEY)");
    db.execute("INSERT INTO t VALUES (1), (2)");
    let (_, rest) = db.url.split_once("://").unwrap();
    let rest = rest.split('?').next().unwrap();
    let url = format!("mariadb://{rest}?socket={socket}");
    let out = ws
        .migplan()
        .args(["export", "--db", &url, "-o", "s.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("s.json")).unwrap()).unwrap();
    assert_eq!(v["data"]["t"].as_array().unwrap().len(), 2);
}

/// Spatial columns (Sakila's `address.location`) travel as the server's own
/// bytes, SRID included, and come back identical through both write paths,
/// a spatial index on the target.
#[test]
fn spatial_values_round_trip_with_their_srid_on_both_write_paths() {
    for insert in [false, true] {
        let test = format!("spatial_{insert}");
        let Some((ws, src)) = ws_and_db(&test) else {
            return;
        };
        let dst = server::mysql(&format!("{test}_dst")).unwrap();
        let table = "CREATE TABLE places (id INT PRIMARY KEY, pos POINT NOT NULL, area POLYGON, \
                     g GEOMETRY, SPATIAL KEY (pos)) ENGINE=InnoDB";
        src.execute(table);
        dst.execute(table);
        src.execute(
            "INSERT INTO places VALUES \
             (1, ST_GeomFromText('POINT(-122.4194155 37.7749295)', 4326), \
                 ST_GeomFromText('POLYGON((0 0, 10 0, 10 10, 0 10, 0 0))'), NULL), \
             (2, POINT(1, 2), NULL, ST_GeomFromText('LINESTRING(0 0, 1 1, 2 1.5)', 3857))",
        );
        export(&ws, &src, "b.json");
        let out = import_by(&ws, &dst, insert);
        assert!(out.status.success(), "{}", stderr(&out));
        let exact = "SELECT GROUP_CONCAT(id, ':', HEX(pos), ':', ST_SRID(pos), ':', \
                     COALESCE(HEX(area), '-'), ':', COALESCE(HEX(g), '-') ORDER BY id) FROM places";
        assert_eq!(src.scalar(exact), dst.scalar(exact));
        assert_eq!(
            dst.scalar("SELECT CONCAT(ST_AsText(pos), ' ', ST_SRID(pos)) FROM places WHERE id = 1"),
            "POINT(-122.4194155 37.7749295) 4326"
        );
    }
}

/// Imports `b.json` with rows going in by `LOAD DATA LOCAL` (the default
/// where the server allows it) or, with `insert`, by multi-row INSERTs.
fn import_by(ws: &Workspace, db: &ServerDb, insert: bool) -> std::process::Output {
    let mut cmd = ws.migplan();
    if insert {
        cmd.env("MIGPLAN_MYSQL_LOAD_DATA", "off");
    }
    cmd.args(["import", "--db", &db.url, "b.json"])
        .output()
        .unwrap()
}

/// `LOAD DATA LOCAL` skips a duplicate row with a warning (IGNORE), and
/// MariaDB's bulk load into an empty table (unique checks off) fails a
/// repeated secondary unique value without naming it: the import must fail
/// all the same, and change nothing, not even a table loaded before.
#[test]
fn duplicate_key_inside_the_backup_fails_naming_it_on_both_write_paths() {
    for insert in [false, true] {
        for (key, dup, expect) in [
            ("primary", "(2, 'c')", "Duplicate entry '2'"),
            (
                "unique",
                "(5, 'b')",
                if insert {
                    "Duplicate entry 'b'"
                } else {
                    "unique key"
                },
            ),
        ] {
            let test = format!("dup_in_backup_{key}_{insert}");
            let Some((ws, src)) = ws_and_db(&test) else {
                return;
            };
            let dst = server::mysql(&format!("{test}_dst")).unwrap();
            src.execute("CREATE TABLE aa (id INT PRIMARY KEY)");
            src.execute("INSERT INTO aa VALUES (1), (2)");
            src.execute("CREATE TABLE items (id INT, v VARCHAR(10))");
            src.execute(&format!(
                "INSERT INTO items VALUES (1, 'a'), (2, 'b'), {dup}, (3, 'd')"
            ));
            dst.execute("CREATE TABLE aa (id INT PRIMARY KEY)");
            dst.execute("CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(10) UNIQUE)");
            export(&ws, &src, "b.json");
            let out = import_by(&ws, &dst, insert);
            assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
            let err = stderr(&out);
            assert!(err.contains(expect), "{key}/{insert}: {err}");
            assert!(err.contains("`items`"), "{err}");
            assert_eq!(dst.count("items"), 0);
            assert_eq!(
                dst.count("aa"),
                0,
                "the table loaded first is rolled back too"
            );
        }
    }
}

/// Values the server would coerce under `LOAD DATA`'s IGNORE semantics
/// (NULL into NOT NULL becomes '', a failed CHECK skips the row) fail the
/// import, naming the row where the server names one.
#[test]
fn values_load_data_would_coerce_still_fail() {
    for (case, dst_col, bad, expect) in [
        ("null", "v VARCHAR(10) NOT NULL", "NULL", "id=2"),
        (
            "check",
            "v VARCHAR(10) CHECK (v <> 'bad')",
            "'bad'",
            "CONSTRAINT",
        ),
    ] {
        let test = format!("coerce_{case}");
        let Some((ws, src)) = ws_and_db(&test) else {
            return;
        };
        let dst = server::mysql(&format!("{test}_dst")).unwrap();
        src.execute("CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(10))");
        src.execute(&format!(
            "INSERT INTO items VALUES (1, 'a'), (2, {bad}), (3, 'c')"
        ));
        dst.execute(&format!(
            "CREATE TABLE items (id INT PRIMARY KEY, {dst_col})"
        ));
        export(&ws, &src, "b.json");
        let out = import_by(&ws, &dst, false);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("`items`") && err.contains(expect), "{err}");
        assert_eq!(dst.count("items"), 0);
    }
}

/// Floats are read with the binary protocol and written exactly: MariaDB's
/// text protocol prints a FLOAT with 6 digits (16777217 → 16777200), so a
/// switch to it would lose values. Both write paths keep every bit.
#[test]
fn floats_round_trip_exactly_through_json_on_both_write_paths() {
    for insert in [false, true] {
        let test = format!("floats_{insert}");
        let Some((ws, src)) = ws_and_db(&test) else {
            return;
        };
        let dst = server::mysql(&format!("{test}_dst")).unwrap();
        let table = "CREATE TABLE fl (id INT PRIMARY KEY, f FLOAT, d DOUBLE)";
        src.execute(table);
        dst.execute(table);
        src.execute(
            "INSERT INTO fl VALUES (1, 16777216, 0.30000000000000004), (2, 1.1, 0.1), \
             (3, 3.40282e38, -1e308), (4, -0.0, 5e-324), (5, 1.17549435e-38, 123456789.123456789)",
        );
        export(&ws, &src, "b.json");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(ws.path("b.json")).unwrap()).unwrap();
        let rows = backup_rows(&v, "fl");
        assert_eq!(rows[0]["f"], 16777216.0, "{}", rows[0]);
        assert_eq!(rows[0]["d"], 0.30000000000000004, "{}", rows[0]);
        assert_eq!(rows[1]["f"], 1.1, "{}", rows[1]);
        let out = import_by(&ws, &dst, insert);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(src.dump(), dst.dump());
        // Bit for bit, compared on the server.
        let bits = "SELECT GROUP_CONCAT(id, ':', HEX(CAST(f AS DOUBLE) * 1), ':', d = d ORDER BY id) FROM fl";
        assert_eq!(src.scalar(bits), dst.scalar(bits));
        let same = format!(
            "SELECT COUNT(*) FROM fl a JOIN {}.fl b ON a.id = b.id AND a.f = b.f AND a.d = b.d",
            src.scalar("SELECT DATABASE()")
        );
        assert_eq!(dst.scalar(&same), "5");
    }
}

/// The INSERT path (servers with `local_infile` off) keeps every type too.
#[test]
fn every_type_round_trips_by_inserts_when_load_data_is_off() {
    let Some((ws, src)) = ws_and_db("types_ins_src") else {
        return;
    };
    let dst = server::mysql("types_ins_dst").unwrap();
    src.execute(TYPES);
    dst.execute(TYPES);
    raw_session(&src, TYPE_ROWS);
    export(&ws, &src, "b.json");
    let out = import_by(&ws, &dst, true);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(src.dump(), dst.dump());
}

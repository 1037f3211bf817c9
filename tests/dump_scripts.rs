//! Schema scripts written by the engines' own dump tools run unchanged as
//! `V1__init.sql`: `mysqldump --no-data --routines --triggers` output (its
//! executable comments switch foreign-key checks off and set the character
//! set, its `DELIMITER ;;` blocks hold triggers and routines) and
//! `pg_dump --schema-only` output (`SET`s, an emptied `search_path`,
//! `$$` bodies, `\restrict`/`\unrestrict`). The dumps are committed fixtures
//! made once by the real tools (tests/fixtures/dumps/README.md), so the tests
//! need the servers, not the tools. Also: what a failed MySQL script says is
//! applied, and a resumed dump getting its session settings back.

mod support;

use std::process::Output;

use support::server::{self, ServerDb};
use support::{Workspace, repo_root, stderr, stdout};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("tests/fixtures/dumps").join(name)).unwrap()
}

/// A plan of `kind` on `url` whose migrations folder is `migrations`.
fn plan(ws: &Workspace, file: &str, kind: &str, url: &str, extra: &str) -> String {
    ws.write(
        file,
        &format!(
            "[plan]\nkind = \"{kind}\"\n[database]\nurl = \"{url}\"\n[schema]\nmigrations = \"migrations\"\n{extra}"
        ),
    )
    .to_string_lossy()
    .into_owned()
}

fn migplan(ws: &Workspace, args: &[&str]) -> Output {
    ws.migplan().args(args).output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

fn failed(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
    stderr(out)
}

/// Rows of `sql` joined into lines, for readable comparisons.
fn lines(db: &ServerDb, sql: &str) -> Vec<String> {
    db.rows(sql).into_iter().map(|r| r.join(" ")).collect()
}

/// The dump as V1 of a migrate plan on `db`, applied by `schema up`; then
/// rows written into it, exported, and imported by an import plan whose
/// schema phase applies the same dump to `fresh`: both hold the same rows.
fn applies_and_takes_an_import(dump: &str, db: &ServerDb, fresh: &ServerDb, rows: &[&str]) {
    let ws = Workspace::new();
    ws.write("migrations/V1__init.sql", &fixture(dump));
    let p = plan(&ws, "migrate.toml", "migrate", &db.url, "");
    let out = ok(&migplan(&ws, &["schema", "up", &p]));
    assert!(
        out.contains("schema version 1 (1 applied, 0 pending)"),
        "{out}"
    );
    let mut tables = db.tables();
    tables.sort();
    assert_eq!(
        tables,
        ["address", "customer", "order_line", "orders", "product"]
    );
    for sql in rows {
        db.execute(sql);
    }
    ok(&migplan(
        &ws,
        &["export", "--db", &db.url, "-o", "shop.json"],
    ));
    let p = plan(
        &ws,
        "import.toml",
        "import",
        &fresh.url,
        "[import]\nfile = \"shop.json\"\n",
    );
    let out = migplan(&ws, &["run", &p]);
    ok(&out);
    assert!(
        stderr(&out).contains("applied V1__init"),
        "{}",
        stderr(&out)
    );
    assert_eq!(fresh.dump(), db.dump());
    assert_eq!(fresh.count("order_line"), 3);
}

#[test]
fn mysqldump_schema_applies_unchanged_and_takes_an_import() {
    let (Some(db), Some(fresh)) = (server::mysql("dump_mysql"), server::mysql("dump_mysql_in"))
    else {
        return;
    };
    // mysqldump creates `address` before `customer`, `order_line` before
    // `orders`: only its executable comment switching FOREIGN_KEY_CHECKS
    // off lets their keys in.
    let rows = [
        "INSERT INTO customer (id, name, status, tags, last_update) VALUES (1, 'Ada', 'active', 'vip,newsletter', '2024-01-02 03:04:05'), (2, 'Bob', 'closed', '', '2024-02-03 04:05:06')",
        "INSERT INTO address (id, customer_id, line1) VALUES (1, 1, 'Main St 1'), (2, 2, DEFAULT)",
        "INSERT INTO product (id, sku, price, last_update) VALUES (1, 'A-1', 9.99, '2024-01-01 00:00:00'), (2, 'B-2', 0.50, '2024-01-01 00:00:00')",
        "INSERT INTO orders (id, customer_id, placed_at, total) VALUES (1, 1, '2024-03-04 05:06:07', 20.48), (2, 2, '2024-03-05 00:00:00', 0)",
        "INSERT INTO order_line (order_id, product_id, qty) VALUES (1, 1, 2), (1, 2, 1), (2, 2, 5)",
    ];
    applies_and_takes_an_import("mysqldump.sql", &db, &fresh, &rows);
    for d in [&db, &fresh] {
        assert_eq!(
            lines(
                d,
                "SELECT CONSTRAINT_NAME, TABLE_NAME, REFERENCED_TABLE_NAME, DELETE_RULE \
                 FROM information_schema.REFERENTIAL_CONSTRAINTS \
                 WHERE CONSTRAINT_SCHEMA = DATABASE() ORDER BY 1"
            ),
            [
                "fk_address_customer address customer CASCADE",
                "fk_line_order order_line orders CASCADE",
                "fk_line_product order_line product RESTRICT",
                "fk_orders_customer orders customer RESTRICT",
            ]
        );
        assert_eq!(
            lines(
                d,
                "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'customer' \
                 AND COLUMN_NAME IN ('status', 'tags') ORDER BY 1"
            ),
            [
                "status enum('active','paused','closed')",
                "tags set('vip','newsletter','wholesale')",
            ]
        );
        // Triggers and routines whole: their bodies hold `;`s.
        assert_eq!(
            lines(
                d,
                "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION \
                 FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY 1"
            ),
            [
                "customer_stamp customer BEFORE UPDATE",
                "product_stamp product BEFORE UPDATE",
            ]
        );
        let body = d.scalar(
            "SELECT ACTION_STATEMENT FROM information_schema.TRIGGERS \
             WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME = 'customer_stamp'",
        );
        assert!(
            body.contains("SET NEW.last_update = CURRENT_TIMESTAMP;")
                && body.contains("END IF;\nEND"),
            "{body}"
        );
        assert_eq!(
            lines(
                d,
                "SELECT ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES \
                 WHERE ROUTINE_SCHEMA = DATABASE() ORDER BY 1"
            ),
            ["line_count FUNCTION", "recalc_total PROCEDURE"]
        );
        assert_eq!(d.scalar("SELECT line_count(1)"), "2");
        assert_eq!(
            lines(d, "SELECT * FROM customer_orders ORDER BY id"),
            ["1 Ada 1", "2 Bob 1"]
        );
        // The dump switched the checks back on.
        let orphan = format!("INSERT INTO {}.address (customer_id) VALUES (99)", d.name);
        let mut conn = d.my();
        assert!(mysql::prelude::Queryable::query_drop(&mut conn, &orphan).is_err());
    }
}

#[test]
fn pg_dump_schema_applies_unchanged_and_takes_an_import() {
    let (Some(db), Some(fresh)) = (
        server::postgres("dump_postgres"),
        server::postgres("dump_postgres_in"),
    ) else {
        return;
    };
    let dump = fixture("pg_dump.sql");
    assert!(
        dump.contains("\n\\restrict ")
            && dump.contains("SELECT pg_catalog.set_config('search_path', '', false);"),
        "the fixture is a pg_dump 15.14+ schema dump"
    );
    let rows = [
        "INSERT INTO customer (id, name, email, tags, last_update) VALUES (1, 'Ada', 'ada@example.com', '{vip,newsletter}', '2024-01-02 03:04:05+00'), (2, 'Bob', NULL, '{}', '2024-02-03 04:05:06+00')",
        "INSERT INTO address (customer_id, line1) VALUES (1, 'Main St 1'), (2, DEFAULT)",
        "INSERT INTO product (id, sku, price, last_update) VALUES (1, 'A-1', 9.99, '2024-01-01 00:00:00+00'), (2, 'B-2', 0.50, '2024-01-01 00:00:00+00')",
        "INSERT INTO orders (id, customer_id, status, placed_at, total) VALUES (1, 1, 'paid', '2024-03-04 05:06:07', 20.48), (2, 2, DEFAULT, '2024-03-05 00:00:00', 0)",
        "INSERT INTO order_line (order_id, product_id, qty) VALUES (1, 1, 2), (1, 2, 1), (2, 2, 5)",
    ];
    applies_and_takes_an_import("pg_dump.sql", &db, &fresh, &rows);
    for d in [&db, &fresh] {
        assert_eq!(
            lines(
                d,
                "SELECT conname::text AS c, conrelid::regclass::text AS t, confrelid::regclass::text AS r \
                 FROM pg_constraint WHERE contype = 'f' ORDER BY 1"
            ),
            [
                r#"{"c": "address_customer_id_fkey", "r": "customer", "t": "address"}"#,
                r#"{"c": "order_line_order_id_fkey", "r": "orders", "t": "order_line"}"#,
                r#"{"c": "order_line_product_id_fkey", "r": "product", "t": "order_line"}"#,
                r#"{"c": "orders_customer_id_fkey", "r": "customer", "t": "orders"}"#,
            ]
        );
        assert_eq!(
            lines(
                d,
                "SELECT tgname::text AS n, tgrelid::regclass::text AS t FROM pg_trigger \
                 WHERE NOT tgisinternal ORDER BY 1"
            ),
            [
                r#"{"n": "customer_stamp", "t": "customer"}"#,
                r#"{"n": "product_stamp", "t": "product"}"#,
            ]
        );
        assert_eq!(
            lines(
                d,
                "SELECT string_agg(enumlabel::text, ',' ORDER BY enumsortorder) AS l FROM pg_enum"
            ),
            [r#"{"l": "open,paid,shipped"}"#]
        );
        assert_eq!(
            lines(
                d,
                "SELECT line_count(1) AS n, obj_description('customer'::regclass) AS c"
            ),
            [r#"{"c": "people who buy; really", "n": 2}"#]
        );
        assert_eq!(
            lines(d, "SELECT * FROM customer_orders ORDER BY id"),
            [
                r#"{"id": 1, "name": "Ada", "orders": 1}"#,
                r#"{"id": 2, "name": "Bob", "orders": 1}"#,
            ]
        );
        // The sequences are owned by their columns; the trigger fires.
        assert_eq!(
            lines(d, "SELECT pg_get_serial_sequence('customer', 'id') AS s"),
            [r#"{"s": "public.customer_id_seq"}"#]
        );
        d.execute("UPDATE product SET price = 1 WHERE id = 1");
        assert_eq!(
            lines(
                d,
                "SELECT id, last_update > '2025-01-01' AS stamped FROM product ORDER BY id"
            ),
            [
                r#"{"id": 1, "stamped": true}"#,
                r#"{"id": 2, "stamped": false}"#
            ]
        );
    }
}

#[test]
fn psql_meta_commands_other_than_restrict_are_refused_before_anything_runs() {
    let Some(db) = server::postgres("dump_meta") else {
        return;
    };
    let ws = Workspace::new();
    ws.write(
        "migrations/V1__init.sql",
        "\\restrict k\nCREATE TABLE a (id int);\n\\connect other\nCREATE TABLE b (id int);\n\\unrestrict k\n",
    );
    let p = plan(&ws, "p.toml", "migrate", &db.url, "");
    for args in [
        vec!["schema", "up", &p, "--dry-run"],
        vec!["schema", "up", &p],
    ] {
        let err = failed(&migplan(&ws, &args));
        assert!(
            err.contains("V1__init, line 3: `\\connect` is a psql meta-command"),
            "{err}"
        );
    }
    assert!(db.tables().is_empty(), "{:?}", db.tables());
}

#[test]
fn a_failing_mysql_script_says_which_scripts_and_statements_stay_applied() {
    let Some(db) = server::mysql("dump_fail") else {
        return;
    };
    let ws = Workspace::new();
    let p = plan(&ws, "p.toml", "migrate", &db.url, "");
    // Alone, the first script fails at its second statement: its first
    // statement stays applied, and the message says so.
    ws.write(
        "migrations/V1__init.sql",
        "CREATE TABLE first (id INT PRIMARY KEY);\nCREATE TABLE oops (;\n",
    );
    let err = failed(&migplan(&ws, &["schema", "up", &p]));
    assert!(
        err.contains("V1__init (statement 2 of 2) failed")
            && err.contains("(applied before the failure: statement 1 of V1__init)"),
        "{err}"
    );
    assert!(!err.contains("no script of this run was applied"), "{err}");
    assert_eq!(db.tables(), ["first"]);
    db.execute("DROP TABLE first");
    db.execute("DROP TABLE migplan_schema_journal");

    // The dump as V1, then V2 failing at its third statement.
    ws.write("migrations/V1__init.sql", &fixture("mysqldump.sql"));
    ws.write(
        "migrations/V2__more.sql",
        "CREATE TABLE extra (id INT PRIMARY KEY);\nALTER TABLE customer ADD COLUMN email VARCHAR(100);\nALTER TABLE nowhere ADD COLUMN x INT;\nCREATE TABLE later (id INT);\n",
    );
    let err = failed(&migplan(&ws, &["schema", "up", &p]));
    assert!(
        err.contains("V2__more (statement 3 of 4) failed")
            && err
                .contains("(applied before the failure: V1__init, statements 1 to 2 of V2__more)"),
        "{err}"
    );
    assert!(!err.contains("no script of this run was applied"), "{err}");
    assert!(db.tables().contains(&"extra".to_string()));

    // Failing at its first statement, a script leaves nothing of itself.
    let Some(db) = server::mysql("dump_fail_first") else {
        return;
    };
    let p = plan(&ws, "p.toml", "migrate", &db.url, "");
    std::fs::remove_file(ws.path("migrations/V2__more.sql")).unwrap();
    ws.write("migrations/V1__init.sql", "CREATE TABLE oops (;\n");
    let err = failed(&migplan(&ws, &["schema", "up", &p]));
    assert!(
        err.contains("(nothing of this run was applied: the script failed at its first statement)"),
        "{err}"
    );
}

#[test]
fn a_resumed_mysql_script_sets_its_session_again() {
    let Some(db) = server::mysql("dump_resume") else {
        return;
    };
    let ws = Workspace::new();
    let p = plan(&ws, "p.toml", "migrate", &db.url, "");
    // As in a dump: checks off, a child before its parent, checks back.
    let script = |middle: &str| {
        format!(
            "/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;\n{middle}\n\
             CREATE TABLE child (id INT PRIMARY KEY, parent_id INT, CONSTRAINT child_parent FOREIGN KEY (parent_id) REFERENCES parent (id)) ENGINE=InnoDB;\n\
             CREATE TABLE parent (id INT PRIMARY KEY) ENGINE=InnoDB;\n\
             /*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;\n"
        )
    };
    ws.write("migrations/V1__init.sql", &script("CREATE TABLE oops (;"));
    let err = failed(&migplan(&ws, &["schema", "up", &p]));
    assert!(err.contains("V1__init (statement 2 of 5) failed"), "{err}");
    ws.write(
        "migrations/V1__init.sql",
        &script("CREATE TABLE other (id INT);"),
    );
    let out = ok(&migplan(&ws, &["schema", "up", &p, "--resume"]));
    assert!(out.contains("applied V1__init"), "{out}");
    assert_eq!(db.tables(), ["child", "other", "parent"]);
}

#[test]
fn a_mysql_scripts_session_settings_end_with_it() {
    let (Some(src), Some(db)) = (
        server::mysql("dump_session_src"),
        server::mysql("dump_session"),
    ) else {
        return;
    };
    let table = "CREATE TABLE ev (id INT PRIMARY KEY, at TIMESTAMP NULL)";
    src.execute(table);
    src.execute("INSERT INTO ev VALUES (1, FROM_UNIXTIME(1704067200))");
    let ws = Workspace::new();
    ok(&migplan(
        &ws,
        &["export", "--db", &src.url, "-o", "ev.json"],
    ));
    // A script that leaves its session changed, as a dump cut short would.
    ws.write(
        "migrations/V1__init.sql",
        &format!(
            "/*!40103 SET TIME_ZONE='+05:00' */;\nSET FOREIGN_KEY_CHECKS = 0, SQL_MODE = '';\n{table};\n"
        ),
    );
    let p = plan(
        &ws,
        "p.toml",
        "import",
        &db.url,
        "[import]\nfile = \"ev.json\"\n",
    );
    ok(&migplan(&ws, &["run", &p]));
    // The import ran in UTC: the instant is the source's.
    assert_eq!(db.scalar("SELECT UNIX_TIMESTAMP(at) FROM ev"), "1704067200");
}

/// `tool ARGS` run on the machine: its output, or `None` (said) when the
/// tool is not installed or cannot dump this server (an older pg_dump).
fn tool(test: &str, program: &str, args: &[String]) -> Option<String> {
    match std::process::Command::new(program).args(args).output() {
        Ok(out) if out.status.success() => Some(String::from_utf8(out.stdout).unwrap()),
        Ok(out) => {
            eprintln!(
                "SKIPPED {test}: {program} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            None
        }
        Err(e) => {
            eprintln!("SKIPPED {test}: {program} is not available: {e}");
            None
        }
    }
}

/// The arguments reaching `db` for mysqldump, from its URL.
fn mysqldump_args(db: &ServerDb) -> Vec<String> {
    let rest = db.url.split_once("://").unwrap().1;
    let rest = rest.split('?').next().unwrap();
    let (auth, host) = rest.rsplit_once('@').unwrap_or(("root", rest));
    let host = host.split('/').next().unwrap();
    let (user, password) = auth.split_once(':').unwrap_or((auth, ""));
    let (host, port) = host.split_once(':').unwrap_or((host, "3306"));
    let mut args = vec![
        format!("--host={host}"),
        format!("--port={port}"),
        format!("--user={user}"),
    ];
    if !password.is_empty() {
        args.push(format!("--password={password}"));
    }
    args.extend(["--no-data", "--routines", "--triggers", "--skip-dump-date"].map(String::from));
    for t in migplan::backend::BOOKKEEPING_TABLES {
        args.push(format!("--ignore-table={}.{t}", db.name));
    }
    args.push(db.name.clone());
    args
}

/// A dump's lines that describe the schema, not where it came from.
fn schema_lines(dump: &str, db: &ServerDb) -> Vec<String> {
    dump.lines()
        .filter(|l| {
            !l.contains(&db.name) && !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict")
        })
        .map(String::from)
        .collect()
}

/// The dump tool installed here, on a schema the fixture made: its output
/// (without the bookkeeping tables) applied as V1 gives a database the same
/// tool dumps identically. Skips, saying so, without the tool.
#[test]
fn the_installed_dump_tools_output_applies_and_dumps_the_same() {
    let test = "the_installed_dump_tools_output_applies_and_dumps_the_same";
    for (fixture_name, a, b) in [
        (
            "mysqldump.sql",
            server::mysql("dump_live_a"),
            server::mysql("dump_live_b"),
        ),
        (
            "pg_dump.sql",
            server::postgres("dump_live_a"),
            server::postgres("dump_live_b"),
        ),
    ] {
        let (Some(a), Some(b)) = (a, b) else {
            continue;
        };
        let dump = |db: &ServerDb| match db.server {
            server::Server::Mysql => tool(test, "mysqldump", &mysqldump_args(db)),
            server::Server::Postgres => {
                let mut args = vec!["--schema-only".to_string(), db.url.clone()];
                for t in migplan::backend::BOOKKEEPING_TABLES {
                    args.extend(["-T".to_string(), t.to_string()]);
                }
                tool(test, "pg_dump", &args)
            }
        };
        let ws = Workspace::new();
        ws.write("migrations/V1__init.sql", &fixture(fixture_name));
        ok(&migplan(
            &ws,
            &["schema", "up", &plan(&ws, "a.toml", "migrate", &a.url, "")],
        ));
        let Some(first) = dump(&a) else {
            continue;
        };
        ws.write("migrations/V1__init.sql", &first);
        ok(&migplan(
            &ws,
            &["schema", "up", &plan(&ws, "b.toml", "migrate", &b.url, "")],
        ));
        let second = dump(&b).unwrap();
        assert_eq!(schema_lines(&second, &b), schema_lines(&first, &a));
        assert_eq!(b.tables().len(), 5, "{:?}", b.tables());
    }
}

#[test]
fn a_dump_holding_the_bookkeeping_tables_is_refused_before_anything_runs() {
    let dbs = [
        server::mysql("dump_bookkeeping"),
        server::postgres("dump_bookkeeping"),
    ];
    for db in dbs.into_iter().flatten() {
        let ws = Workspace::new();
        let dump = match db.server {
            server::Server::Mysql => fixture("mysqldump.sql"),
            server::Server::Postgres => fixture("pg_dump.sql"),
        };
        // As a dump of a database migplan manages has them.
        ws.write(
            "migrations/V1__init.sql",
            &format!(
                "{dump}\nDROP TABLE IF EXISTS migplan_schema_journal;\nCREATE TABLE refinery_schema_history (version INT PRIMARY KEY);\n"
            ),
        );
        let p = plan(&ws, "p.toml", "migrate", &db.url, "");
        for args in [
            vec!["schema", "up", &p, "--dry-run"],
            vec!["schema", "up", &p],
        ] {
            let err = failed(&migplan(&ws, &args));
            assert!(
                err.contains("V1__init names `refinery_schema_history`, `migplan_schema_journal`")
                    && err.contains("--ignore-table"),
                "{err}"
            );
        }
        assert!(db.tables().is_empty(), "{:?}", db.tables());
    }
}

/// The same schema dumped again differs in comments and, from pg_dump, in
/// its `\restrict` key: `schema repair` accepts it; a changed executable
/// comment is a change.
#[test]
fn a_new_dump_of_the_same_schema_repairs() {
    let dbs = [
        server::mysql("dump_repair"),
        server::postgres("dump_repair"),
    ];
    for db in dbs.into_iter().flatten() {
        let ws = Workspace::new();
        let dump = match db.server {
            server::Server::Mysql => fixture("mysqldump.sql"),
            server::Server::Postgres => fixture("pg_dump.sql"),
        };
        ws.write("migrations/V1__init.sql", &dump);
        let p = plan(&ws, "p.toml", "migrate", &db.url, "");
        ok(&migplan(&ws, &["schema", "up", &p]));
        let again = dump
            .replace("-- Dump completed on", "-- Dump completed again on")
            .replace("\n\\restrict ", "\n\\restrict X")
            .replace("\n\\unrestrict ", "\n\\unrestrict X")
            .replace("\n\n", "\n\n\n");
        assert_ne!(again, dump);
        ws.write("migrations/V1__init.sql", &again);
        failed(&migplan(&ws, &["schema", "up", &p]));
        let out = ok(&migplan(&ws, &["schema", "repair", &p]));
        assert!(out.contains("V1__init"), "{out}");
        ok(&migplan(&ws, &["schema", "up", &p]));
        if db.server == server::Server::Mysql {
            let changed = again.replace(
                "/*!40101 SET NAMES utf8mb4 */",
                "/*!40101 SET NAMES latin1 */",
            );
            ws.write("migrations/V1__init.sql", &changed);
            let err = failed(&migplan(&ws, &["schema", "repair", &p]));
            assert!(
                err.contains("changed beyond whitespace and comments"),
                "{err}"
            );
        }
    }
}

/// `mysqldump --databases shop` creates and switches to `shop`: the
/// plan's database is the one its scripts change, so that is refused.
#[test]
fn a_mysql_dump_that_switches_database_is_refused_before_anything_runs() {
    let Some(db) = server::mysql("dump_use") else {
        return;
    };
    let ws = Workspace::new();
    let dump = fixture("mysqldump.sql").replacen(
        "\n--\n-- Table structure",
        "\n--\n-- Current Database: `shop`\n--\n\nCREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop` /*!40100 DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci */;\n\nUSE `shop`;\n\n--\n-- Table structure",
        1,
    );
    ws.write("migrations/V1__init.sql", &dump);
    let p = plan(&ws, "p.toml", "migrate", &db.url, "");
    for args in [
        vec!["schema", "up", &p, "--dry-run"],
        vec!["schema", "up", &p],
    ] {
        let err = failed(&migplan(&ws, &args));
        assert!(
            err.contains(
                "V1__init, statement 11: `CREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop`"
            ) && err.contains("--databases"),
            "{err}"
        );
    }
    assert!(db.tables().is_empty(), "{:?}", db.tables());
}

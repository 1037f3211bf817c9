//! No silent lossy conversion: a PostgreSQL or MariaDB decimal with a
//! scale meets a SQLite column of NUMERIC affinity, which would store it as
//! a REAL or an INTEGER (`2.50` → 2.5, `0.00` → 0). Copies and backup
//! imports refuse it before any row moves, naming the column, unless the
//! plan accepts it (`accept_lossy`); `migplan plan` and dry runs list it;
//! a TEXT column keeps the decimal's text exactly.

mod support;

use support::server::{self, ServerDb};
use support::{Workspace, stderr, stdout};

/// A target that already holds a row, so "nothing changed" is visible.
const TARGET: &str = "CREATE TABLE invoice (id INTEGER PRIMARY KEY, total DECIMAL(10,2) NOT NULL, qty DECIMAL(10,0));
     INSERT INTO invoice VALUES (100, 7, 1);";

fn target(ws: &Workspace, db: &str, ddl: &str) {
    ws.open(db).execute_batch(ddl).unwrap();
}

/// `id | total (typeof) | qty (typeof)` of every row, in id order.
fn rows(ws: &Workspace, db: &str) -> Vec<String> {
    let conn = ws.open(db);
    let mut stmt = conn
        .prepare(
            "SELECT id, CAST(total AS TEXT), typeof(total), CAST(qty AS TEXT), typeof(qty) FROM invoice ORDER BY id",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok(format!(
            "{} | {} {} | {} {}",
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?.unwrap_or("NULL".into()),
            r.get::<_, String>(4)?
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn pg_source(test: &str) -> Option<ServerDb> {
    let pg = server::postgres(test)?;
    pg.execute(
        "CREATE TABLE invoice (id bigint PRIMARY KEY, total numeric(10,2) NOT NULL, qty numeric(10,0));
         INSERT INTO invoice VALUES (1, 0.00, 3), (2, 2.99, NULL), (3, 2.50, 12)",
    );
    Some(pg)
}

fn my_source(test: &str) -> Option<ServerDb> {
    let my = server::mysql(test)?;
    my.execute("CREATE TABLE invoice (id bigint PRIMARY KEY, total decimal(10,2) NOT NULL, qty decimal(10,0)) ENGINE=InnoDB");
    my.execute("INSERT INTO invoice VALUES (1, 0.00, 3), (2, 2.99, NULL), (3, 2.50, 12)");
    Some(my)
}

/// A copy plan, accepting `total`'s conversion when `accept`.
fn copy_plan(ws: &Workspace, source: &str, db: &str, accept: bool) -> String {
    let accept = if accept {
        "[tables.invoice]\naccept_lossy = [\"total\"]\n"
    } else {
        ""
    };
    ws.write(
        "copy.toml",
        &format!(
            "[plan]\nkind = \"copy\"\n[source]\nurl = {source:?}\n[target]\nurl = {:?}\n{accept}",
            ws.url(db)
        ),
    )
    .display()
    .to_string()
}

fn run(ws: &Workspace, args: &[&str]) -> std::process::Output {
    ws.migplan().args(args).output().unwrap()
}

const BEFORE: &str = "100 | 7 integer | 1 integer";

/// The refusal names the table, the column, both types and the fix.
fn assert_refused(out: &std::process::Output, source_type: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "`invoice`.`total` ({source_type} → DECIMAL(10,2))"
        )) && err.contains("the scale is lost")
            && err.contains("accept_lossy = [\"total\"]")
            && err.contains("nothing was changed"),
        "{err}"
    );
    // `qty` (no scale, 10 digits) is stored exactly as INTEGER: not named.
    assert!(!err.contains("`qty`"), "{err}");
}

/// What SQLite makes of the accepted values: INTEGER 0, REAL 2.99 and 2.5;
/// the integral `qty` stays an exact INTEGER.
const CONVERTED: [&str; 4] = [
    "1 | 0 integer | 3 integer",
    "2 | 2.99 real | NULL null",
    "3 | 2.5 real | 12 integer",
    BEFORE,
];

fn copy_is_refused_then_accepted(ws: &Workspace, source: &ServerDb, source_type: &str) {
    target(ws, "t.db", TARGET);
    let refused = copy_plan(ws, &source.url, "t.db", false);
    let out = run(ws, &["run", &refused]);
    assert_refused(&out, source_type);
    assert_eq!(rows(ws, "t.db"), [BEFORE], "nothing may have changed");
    let out = run(ws, &["run", &refused, "--dry-run"]);
    assert_refused(&out, source_type);

    let accepted = copy_plan(ws, &source.url, "t.db", true);
    let out = run(ws, &["run", &accepted]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout(&out);
    assert!(
        report.contains("converted `invoice`.`total`")
            && report.contains("accepted by `accept_lossy`"),
        "{report}"
    );
    let mut expected = CONVERTED.to_vec();
    expected.sort();
    let mut got = rows(ws, "t.db");
    got.sort();
    assert_eq!(got, expected);
}

#[test]
fn postgres_numeric_into_a_sqlite_numeric_column_is_refused_unless_accepted() {
    let Some(pg) = pg_source("lossy_pg_copy") else {
        return;
    };
    copy_is_refused_then_accepted(&Workspace::new(), &pg, "numeric(10,2)");
}

#[test]
fn mariadb_decimal_into_a_sqlite_numeric_column_is_refused_unless_accepted() {
    let Some(my) = my_source("lossy_my_copy") else {
        return;
    };
    copy_is_refused_then_accepted(&Workspace::new(), &my, "decimal(10,2)");
}

#[test]
fn plan_and_dry_run_list_the_lossy_columns_with_the_reason() {
    let Some(my) = my_source("lossy_my_plan") else {
        return;
    };
    let ws = Workspace::new();
    target(&ws, "t.db", TARGET);
    let refused = copy_plan(&ws, &my.url, "t.db", false);
    let out = run(&ws, &["plan", &refused]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "lossy    `invoice`.`total` (decimal(10,2) → DECIMAL(10,2)): SQLite stores decimals"
        ) && text.contains("the scale is lost")
            && text.contains("; refused"),
        "{text}"
    );
    assert!(!text.contains("`qty`"), "{text}");

    let accepted = copy_plan(&ws, &my.url, "t.db", true);
    let out = run(&ws, &["plan", &accepted, "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json = support::json_result(&stdout(&out));
    let lossy = json["lossy"].as_array().expect("a `lossy` list");
    assert_eq!(lossy.len(), 1, "{json}");
    assert_eq!(lossy[0]["table"], "invoice");
    assert_eq!(lossy[0]["column"], "total");
    assert_eq!(lossy[0]["accepted"], true);
    assert!(
        lossy[0]["reason"]
            .as_str()
            .unwrap()
            .contains("the scale is lost"),
        "{json}"
    );

    // An accepted dry run says what it would convert, and changes nothing.
    let out = run(&ws, &["run", &accepted, "--dry-run", "--report", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = support::json_result(&stdout(&out))["copy"].clone();
    assert_eq!(report["converted"][0]["column"], "total", "{report}");
    assert_eq!(rows(&ws, "t.db"), [BEFORE]);
}

/// A PostgreSQL backup file carries its columns' types in its meta: the
/// import checks them before the transaction, as a copy does.
#[test]
fn a_backup_import_is_refused_unless_accepted_and_listed_by_plan() {
    let Some(pg) = pg_source("lossy_pg_backup") else {
        return;
    };
    let ws = Workspace::new();
    let out = run(&ws, &["export", "--db", &pg.url, "-o", "pg.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    target(&ws, "t.db", TARGET);

    let out = ws.import("t.db", &["pg.json"]);
    assert_refused(&out, "numeric(10,2)");
    assert_eq!(rows(&ws, "t.db"), [BEFORE]);
    let out = ws.import("t.db", &["pg.json", "--dry-run"]);
    assert_refused(&out, "numeric(10,2)");

    let plan = ws.write(
        "import.toml",
        &format!(
            "[plan]\nkind = \"import\"\n[database]\nurl = {:?}\n[import]\nfile = \"pg.json\"\n[tables.invoice]\naccept_lossy = [\"total\"]\n",
            ws.url("t.db")
        ),
    );
    let plan = plan.to_str().unwrap();
    let out = run(&ws, &["plan", plan]);
    let text = stdout(&out);
    assert!(
        text.contains("lossy    `invoice`.`total` (numeric(10,2) → DECIMAL(10,2))")
            && text.contains("accepted by `accept_lossy`"),
        "{text}{}",
        stderr(&out)
    );
    let out = run(&ws, &["run", plan]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("converted `invoice`.`total`"));
    let mut expected = CONVERTED.to_vec();
    expected.sort();
    let mut got = rows(&ws, "t.db");
    got.sort();
    assert_eq!(got, expected);
}

/// The exact way: a column of TEXT affinity keeps the decimal's text, scale
/// and all, and nothing is flagged.
#[test]
fn a_decimal_into_a_sqlite_text_column_stays_exact() {
    let Some(pg) = pg_source("lossy_pg_text") else {
        return;
    };
    let ws = Workspace::new();
    target(
        &ws,
        "t.db",
        "CREATE TABLE invoice (id INTEGER PRIMARY KEY, total TEXT NOT NULL, qty VARCHAR(20))",
    );
    let plan = copy_plan(&ws, &pg.url, "t.db", false);
    let out = run(&ws, &["plan", &plan]);
    assert!(!stdout(&out).contains("lossy    "), "{}", stdout(&out));
    let out = run(&ws, &["run", &plan]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("converted"), "{}", stdout(&out));
    assert_eq!(
        rows(&ws, "t.db"),
        [
            "1 | 0.00 text | 3 text",
            "2 | 2.99 text | NULL null",
            "3 | 2.50 text | 12 text",
        ]
    );
}

/// PostgreSQL rounds a fraction of a second a `timestamp(0)` or `time(3)`
/// column does not keep: a MariaDB `datetime(6)` with one is refused,
/// naming the table, the row and the column, and nothing is written.
#[test]
fn a_fraction_of_a_second_a_postgres_column_would_round_is_refused() {
    let (Some(my), Some(pg)) = (server::mysql("lossy_fsp"), server::postgres("lossy_fsp")) else {
        return;
    };
    my.execute(
        "CREATE TABLE ev (id int PRIMARY KEY, at datetime(6) NOT NULL, t time(6)) ENGINE=InnoDB",
    );
    my.execute("INSERT INTO ev VALUES (1, '2024-01-01 12:00:00', '10:00:00.125'), (2, '2024-01-01 12:00:00.5', NULL)");
    pg.execute("CREATE TABLE ev (id int PRIMARY KEY, at timestamp(0) NOT NULL, t time(3))");
    let ws = Workspace::new();
    ws.write("copy.toml", "[plan]\nkind = \"copy\"\n");
    let out = run(
        &ws,
        &["run", "copy.toml", "--source", &my.url, "--target", &pg.url],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("id=2")
            && err.contains("column `at`")
            && err.contains(
                "`2024-01-01 12:00:00.5` has 1 fractional digits of a second; the column keeps 0"
            ),
        "{err}"
    );
    assert_eq!(pg.count("ev"), 0);
    // Within what the columns keep, the values arrive.
    my.execute("UPDATE ev SET at = '2024-01-01 12:00:01' WHERE id = 2");
    let out = run(
        &ws,
        &["run", "copy.toml", "--source", &my.url, "--target", &pg.url],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        pg.dump(),
        [
            "ev: (1,\"2024-01-01 12:00:00\",10:00:00.125)",
            "ev: (2,\"2024-01-01 12:00:01\",)"
        ]
    );
}

/// SQLite stores an integer bound to a REAL column as a double: beyond
/// 2^53 it would be rounded, so a PostgreSQL bigint there is refused,
/// naming the row and the column; up to 2^53 it arrives exactly.
#[test]
fn a_bigint_beyond_2_pow_53_into_a_sqlite_real_column_is_refused() {
    let Some(pg) = server::postgres("lossy_real") else {
        return;
    };
    pg.execute(
        "CREATE TABLE m (id int PRIMARY KEY, v bigint); INSERT INTO m VALUES (1, 9007199254740992), (2, 9007199254740993)",
    );
    let ws = Workspace::new();
    target(
        &ws,
        "t.db",
        "CREATE TABLE m (id INTEGER PRIMARY KEY, v DOUBLE)",
    );
    ws.write("copy.toml", "[plan]\nkind = \"copy\"\n");
    let out = run(
        &ws,
        &[
            "run",
            "copy.toml",
            "--source",
            &pg.url,
            "--target",
            &ws.url("t.db"),
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("id=2") && err.contains("column `v`: 9007199254740993 is beyond 2^53"),
        "{err}"
    );
    assert_eq!(support::count(&ws.open("t.db"), "m"), 0);
    pg.execute("DELETE FROM m WHERE id = 2");
    let out = run(
        &ws,
        &[
            "run",
            "copy.toml",
            "--source",
            &pg.url,
            "--target",
            &ws.url("t.db"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v: f64 = ws
        .open("t.db")
        .query_row("SELECT v FROM m", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 9007199254740992.0);
}

/// Text that looks like a number becomes one in a SQLite column of numeric
/// affinity: PostgreSQL's `007` into an INTEGER column would arrive as 7.
/// Refused, naming the row and the column; `12` (stored as 12, reading
/// back the same) passes; `accept_lossy` takes the conversion.
#[test]
fn numeric_looking_text_sqlite_would_change_is_refused_unless_accepted() {
    let Some(pg) = server::postgres("lossy_text_number") else {
        return;
    };
    pg.execute(
        "CREATE TABLE item (id int PRIMARY KEY, code varchar(10)); INSERT INTO item VALUES (1, '12'), (2, '007'), (3, 'A-1')",
    );
    let ws = Workspace::new();
    target(
        &ws,
        "t.db",
        "CREATE TABLE item (id INTEGER PRIMARY KEY, code INTEGER)",
    );
    ws.write("copy.toml", "[plan]\nkind = \"copy\"\n");
    let out = run(
        &ws,
        &[
            "run",
            "copy.toml",
            "--source",
            &pg.url,
            "--target",
            &ws.url("t.db"),
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("id=2")
            && err.contains("column `code`: the text \"007\" would be stored as the number 7"),
        "{err}"
    );
    assert_eq!(support::count(&ws.open("t.db"), "item"), 0);
    ws.write(
        "copy.toml",
        "[plan]\nkind = \"copy\"\n[tables.item]\naccept_lossy = [\"code\"]\n",
    );
    let out = run(
        &ws,
        &[
            "run",
            "copy.toml",
            "--source",
            &pg.url,
            "--target",
            &ws.url("t.db"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let codes: Vec<String> = ws
        .open("t.db")
        .prepare("SELECT CAST(code AS TEXT) || ' ' || typeof(code) FROM item ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(codes, ["12 integer", "7 integer", "A-1 text"]);
}

/// `validate --db` checks that `accept_lossy` names columns of the table,
/// as it does for `exclude`.
#[test]
fn validate_db_names_an_accept_lossy_column_the_table_lacks() {
    let ws = Workspace::new();
    target(&ws, "t.db", TARGET);
    let plan = ws.write(
        "p.toml",
        "[plan]\nkind = \"import\"\n[tables.invoice]\naccept_lossy = [\"totl\"]\n",
    );
    let out = run(
        &ws,
        &["validate", plan.to_str().unwrap(), "--db", &ws.url("t.db")],
    );
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "`[tables.invoice]` names column `totl`, which table `invoice` does not have"
        ),
        "{text}"
    );
}

//! A value the target refuses (NOT NULL, CHECK, a STRICT table's type) is
//! reported with its table, the row's key and the column, never as a bare
//! "constraint failed"; nothing is written.

mod support;

use support::server::ServerDb;
use support::test::{Engine, Test, for_each_engine};
use support::{Workspace, stderr};

/// `b.json`: row 2 has a negative price, row 3 no name and a text quantity.
fn backup(ws: &Workspace) {
    let src = ws.open("src.db");
    src.execute_batch(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, price INTEGER, name TEXT, qty TEXT);
         INSERT INTO items VALUES (1, 5, 'a', '1'), (2, -3, 'b', '2'), (3, 4, NULL, 'x');",
    )
    .unwrap();
    ws.export("src.db", "b.json");
}

fn refused(ws: &Workspace, url: &str, says: &[&str]) {
    let out = ws
        .migplan()
        .args(["import", "--db", url, "b.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    for s in says {
        assert!(err.contains(s), "missing {s:?} in {err}");
    }
}

/// `b.json:LINE` of the line holding `needle`.
fn place(ws: &Workspace, needle: &str) -> String {
    let text = std::fs::read_to_string(ws.path("b.json")).unwrap();
    let line = text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    format!("b.json:{line}: cannot write row")
}

/// What each engine's refusal of the CHECK on `price` says.
fn check_says(engine: Engine) -> &'static [&'static str] {
    engine.pick(
        &[
            "row id=2 of `items`",
            "column `price`",
            "CHECK constraint failed",
        ],
        &["row id=2", "`items`", "check constraint"],
        // The server names no row: the one LOAD DATA skipped is found.
        &["row id=2 of `items`", "CONSTRAINT `price_positive`"],
    )
}

#[test]
fn refused_values_name_table_key_and_column() {
    for_each_engine(|engine| {
        let t = Test::on(engine);
        let ws = &*t.ws;
        backup(ws);
        let table = |columns: &str| {
            t.another().schema(&format!(
                "CREATE TABLE items (id INTEGER PRIMARY KEY, {columns})"
            ))
        };
        let not_null = table("price INTEGER, name TEXT NOT NULL, qty TEXT");
        refused(
            ws,
            not_null.url(),
            &["row id=3 of `items`", "column `name`", "NOT NULL"],
        );
        refused(ws, not_null.url(), &[&place(ws, "[3,")]);
        assert_eq!(not_null.count("items"), 0);

        // On SQLite the CHECK is the column's own, so it names the column.
        let check = table(engine.pick(
            "price INTEGER CHECK (price > 0), name TEXT, qty TEXT",
            "price INTEGER, name TEXT, qty TEXT, CONSTRAINT price_positive CHECK (price > 0)",
            "price INTEGER, name TEXT, qty TEXT, CONSTRAINT price_positive CHECK (price > 0)",
        ));
        refused(ws, check.url(), check_says(engine));
        if engine == Engine::Sqlite {
            refused(ws, check.url(), &[&place(ws, "[2,")]);
        }
        assert_eq!(check.count("items"), 0);

        match engine {
            Engine::Sqlite => {
                let strict = t.another().schema(
                    "CREATE TABLE items (id INTEGER PRIMARY KEY, price INTEGER, name TEXT, qty INTEGER) STRICT",
                );
                refused(
                    ws,
                    strict.url(),
                    &[
                        "row id=3 of `items`",
                        "column `qty`",
                        "text \"x\" is not a number",
                    ],
                );
                refused(ws, strict.url(), &[&place(ws, "[3,")]);
                assert_eq!(strict.count("items"), 0);
            }
            Engine::Mysql => check_refused_on_every_mysql_path(ws, check.server()),
            Engine::Postgres => {}
        }
    });
}

/// MySQL's other ways in give the same words: into a table with rows
/// (through a staging table), and through INSERTs (a server with
/// local_infile off, as MySQL 8 has it), where the statement names no row
/// either and it is found row by row.
fn check_refused_on_every_mysql_path(ws: &Workspace, db: &ServerDb) {
    db.execute("INSERT INTO items VALUES (50, 1, 'z', '1')");
    refused(
        ws,
        &db.url,
        &[
            "row id=2 of `items`",
            "CONSTRAINT `price_positive` failed for",
        ],
    );
    assert_eq!(db.count("items"), 1);
    for rows in ["", "DELETE FROM items"] {
        if !rows.is_empty() {
            db.execute(rows);
        }
        let out = ws
            .migplan()
            .env("MIGPLAN_MYSQL_LOAD_DATA", "off")
            .args(["import", "--db", &db.url, "b.json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("row id=2 of `items`"), "{err}");
        assert!(
            err.contains("CONSTRAINT `price_positive` failed for")
                && !err.contains("migplan_staging"),
            "{err}"
        );
    }
}

/// Text bound for a numeric column must read as a number: SQLite would
/// keep `abc` in a DECIMAL column as it is. Numeric text lands as a number
/// and reads back equal (compared as the column holds it).
#[test]
fn text_that_is_no_number_is_refused_for_a_numeric_column_on_sqlite() {
    let ws = Workspace::new();
    let src = ws.open("prices.db");
    src.execute_batch(
        "CREATE TABLE p (id INTEGER PRIMARY KEY, price TEXT);
         INSERT INTO p VALUES (1, '1.5'), (2, 'abc');",
    )
    .unwrap();
    ws.export("prices.db", "prices.json");
    ws.open("dst.db")
        .execute_batch("CREATE TABLE p (id INTEGER PRIMARY KEY, price DECIMAL(8,2))")
        .unwrap();
    let out = ws
        .migplan()
        .args(["import", "--db", &ws.url("dst.db"), "prices.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("row id=2 of `p`: column `price`: text \"abc\" is not a number"),
        "{}",
        stderr(&out)
    );
    assert_eq!(support::count(&ws.open("dst.db"), "p"), 0);
    src.execute("DELETE FROM p WHERE id = 2", []).unwrap();
    ws.export("prices.db", "prices.json");
    let out = ws
        .migplan()
        .args(["import", "--db", &ws.url("dst.db"), "prices.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

/// A workbook's refused row is placed at the cell of its column.
#[test]
fn a_refused_workbook_row_is_placed_at_its_cell_on_sqlite() {
    let ws = Workspace::new();
    ws.open("src.db")
        .execute_batch(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, price INTEGER, name TEXT);
             INSERT INTO items VALUES (1, 5, 'a'), (2, -3, 'b');",
        )
        .unwrap();
    ws.export("src.db", "b.xlsx");
    ws.open("dst.db")
        .execute_batch(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, price INTEGER CHECK (price > 0), name TEXT)",
        )
        .unwrap();
    let out = ws
        .migplan()
        .args(["import", "--db", &ws.url("dst.db"), "b.xlsx"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "items!B3: cannot write row id=2 of `items`: column `price`: CHECK constraint failed"
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(support::count(&ws.open("dst.db"), "items"), 0);
}

//! A value the target refuses (NOT NULL, CHECK, a STRICT table's type) is
//! reported with its table, the row's key and the column, never as a bare
//! "constraint failed"; nothing is written.

mod support;

use support::server::{self, ServerDb};
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

#[test]
fn refused_values_name_table_key_and_column_on_sqlite() {
    let ws = Workspace::new();
    backup(&ws);
    for (name, ddl, says) in [
        (
            "check.db",
            "CREATE TABLE items (id INTEGER PRIMARY KEY, price INTEGER CHECK (price > 0), name TEXT, qty TEXT)",
            [
                "row id=2 of `items`",
                "column `price`",
                "CHECK constraint failed",
            ],
        ),
        (
            "notnull.db",
            "CREATE TABLE items (id INTEGER PRIMARY KEY, price INTEGER, name TEXT NOT NULL, qty TEXT)",
            ["row id=3 of `items`", "column `name`", "NOT NULL"],
        ),
        (
            "strict.db",
            "CREATE TABLE items (id INTEGER PRIMARY KEY, price INTEGER, name TEXT, qty INTEGER) STRICT",
            [
                "row id=3 of `items`",
                "column `qty`",
                "text \"x\" is not a number",
            ],
        ),
    ] {
        ws.open(name).execute_batch(ddl).unwrap();
        let row = if says[0].contains("id=2") {
            "{\"id\":2"
        } else {
            "{\"id\":3"
        };
        refused(&ws, &ws.url(name), &says);
        refused(&ws, &ws.url(name), &[&place(&ws, row)]);
        assert_eq!(support::count(&ws.open(name), "items"), 0, "{name}");
    }
}

fn on_server(db: Option<ServerDb>, postgres: bool) {
    let Some(db) = db else { return };
    let ws = Workspace::new();
    backup(&ws);
    db.execute(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, price INTEGER, name TEXT NOT NULL, qty TEXT)",
    );
    refused(
        &ws,
        &db.url,
        &["row id=3 of `items`", "column `name`", "NOT NULL"],
    );
    assert_eq!(db.count("items"), 0);
    if postgres {
        db.execute("ALTER TABLE items ALTER name DROP NOT NULL");
        db.execute("ALTER TABLE items ADD CHECK (price > 0)");
        refused(&ws, &db.url, &["row id=2", "`items`", "check constraint"]);
        assert_eq!(db.count("items"), 0);
        return;
    }
    db.execute("ALTER TABLE items MODIFY name TEXT NULL");
    db.execute("ALTER TABLE items ADD CONSTRAINT price_positive CHECK (price > 0)");
    // The server names no row: the one LOAD DATA skipped is found.
    refused(
        &ws,
        &db.url,
        &["row id=2 of `items`", "CONSTRAINT `price_positive`"],
    );
    assert_eq!(db.count("items"), 0);
    // Into a table with rows, through a staging table: the same words.
    db.execute("INSERT INTO items VALUES (50, 1, 'z', '1')");
    refused(
        &ws,
        &db.url,
        &[
            "row id=2 of `items`",
            "CONSTRAINT `price_positive` failed for",
        ],
    );
    assert_eq!(db.count("items"), 1);
    // Through INSERTs (a server with local_infile off, as MySQL 8 has it):
    // the statement names no row either; it is found row by row.
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

#[test]
fn refused_values_name_table_key_and_column_on_postgres() {
    on_server(server::postgres("value_errors"), true);
}

#[test]
fn refused_values_name_table_key_and_column_on_mysql() {
    on_server(server::mysql("value_errors"), false);
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

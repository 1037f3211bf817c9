//! Errors say the right thing: a copy's errors speak of its source (not a
//! backup); a MySQL SET meeting a PostgreSQL array is refused before the
//! load, naming the column; a trigger that writes a duplicate into another
//! table is reported under that table, not the one being loaded.

mod support;

use support::{Workspace, stderr};

fn sqlite(ws: &Workspace, db: &str, ddl: &str) {
    ws.open(db).execute_batch(ddl).unwrap();
}

/// `migplan run` of a copy plan from `source` into `target`.
fn copy(ws: &Workspace, source: &str, target: &str) -> std::process::Output {
    ws.write("copy.toml", "[plan]\nkind = \"copy\"\n");
    ws.migplan()
        .args(["run", "copy.toml", "--source", source, "--target", target])
        .output()
        .unwrap()
}

/// The error itself, without the notes before it (the backup taken
/// before the change is announced there).
fn error_part(err: &str) -> &str {
    &err[err.find("error:").expect("an error")..]
}

#[test]
fn copy_errors_name_the_source_not_a_backup() {
    let ws = Workspace::new();
    sqlite(
        &ws,
        "src.db",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, extra TEXT); INSERT INTO t VALUES (1, 'x');
         CREATE TABLE gone (id INTEGER PRIMARY KEY);",
    );
    sqlite(&ws, "dst.db", "CREATE TABLE t (id INTEGER PRIMARY KEY);");
    let out = copy(&ws, &ws.url("src.db"), &ws.url("dst.db"));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the source holds table `gone`, which the target database does not have"),
        "{err}"
    );
    assert!(!error_part(&err).contains("backup"), "{err}");

    ws.open("src.db").execute_batch("DROP TABLE gone").unwrap();
    let out = copy(&ws, &ws.url("src.db"), &ws.url("dst.db"));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "the source has column `t`.`extra`, which the target database's table does not have"
        ) && err.contains("`[tables.NAME] exclude`"),
        "{err}"
    );
    assert!(!error_part(&err).contains("backup"), "{err}");
    assert_eq!(support::count(&ws.open("dst.db"), "t"), 0);
}

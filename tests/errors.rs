//! Errors say the right thing: a copy's errors speak of its source (not a
//! backup); a MySQL SET meeting a PostgreSQL array is refused before the
//! load, naming the column; a trigger that writes a duplicate into another
//! table is reported under that table, not the one being loaded.

mod support;

use support::test::{Engine, Test, for_each_engine};
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

    // A row the target refuses: the copy, not an import, was rolled back.
    ws.open("dst.db")
        .execute_batch("ALTER TABLE t ADD COLUMN extra INTEGER")
        .unwrap();
    ws.open("src.db")
        .execute_batch("UPDATE t SET extra = '007'")
        .unwrap();
    let out = copy(&ws, &ws.url("src.db"), &ws.url("dst.db"));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot write row id=1 of `t`") && err.contains("the copy was rolled back"),
        "{err}"
    );
    assert!(
        !error_part(&err).contains("backup") && !err.contains("import"),
        "{err}"
    );
    assert_eq!(support::count(&ws.open("dst.db"), "t"), 0);
}

/// A MariaDB `SET` column meets a PostgreSQL `text[]` column: PostgreSQL
/// would read `a,b` as a malformed array literal in the middle of the load.
/// The copy (and an import of the MariaDB backup) is refused before any row
/// moves, naming the column and how to carry it.
#[test]
fn a_mysql_set_into_a_postgres_array_is_refused_before_the_load() {
    let (Some(my), Some(pg)) = (
        support::server::mysql("set_into_array"),
        support::server::postgres("set_into_array"),
    ) else {
        return;
    };
    my.execute(
        "CREATE TABLE film (id int PRIMARY KEY, features set('Trailers','Commentaries','Deleted Scenes')) ENGINE=InnoDB",
    );
    my.execute("INSERT INTO film VALUES (1, 'Trailers,Deleted Scenes'), (2, '')");
    pg.execute(
        "CREATE TABLE film (id int PRIMARY KEY, features text[]); INSERT INTO film VALUES (100, '{Trailers}')",
    );
    let ws = Workspace::new();
    let out = copy(&ws, &my.url, &pg.url);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("column `film`.`features` is set (set('Trailers','Commentaries','Deleted Scenes')) in the source but array (text[]) in the target database")
            && err.contains("string_to_array(features, ',')"),
        "{err}"
    );
    assert_eq!(pg.dump(), ["film: (100,{Trailers})"]);

    let out = ws
        .migplan()
        .args(["export", "--db", &my.url, "-o", "my.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = ws
        .migplan()
        .args(["import", "--db", &pg.url, "my.json"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("column `film`.`features` is set"), "{err}");
    assert_eq!(pg.dump(), ["film: (100,{Trailers})"]);
}

/// Sakila's shape: an insert into `film` fires a trigger that writes the
/// film's title into `film_text`, which already holds film 1.
const FILM_ROWS: &str = "INSERT INTO film VALUES (1, 'ACADEMY DINOSAUR'), (2, 'ACE GOLDFINGER')";

fn film_source(ws: &Workspace) -> String {
    sqlite(
        ws,
        "src.db",
        &format!(
            "CREATE TABLE film (film_id INTEGER PRIMARY KEY, title TEXT NOT NULL); {FILM_ROWS};"
        ),
    );
    ws.url("src.db")
}

/// The duplicate is reported under `film_text` and its key, not `film`.
fn assert_names_the_other_table(out: &std::process::Output) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let error = error_part(&err);
    assert!(
        error.contains("`film_text`") && error.contains("film_id") && error.contains("ins_film"),
        "{err}"
    );
    assert!(!error.contains("into `film`:"), "{err}");
}

/// Per engine: `film`, and `film_text` holding film 1, filled by `ins_film`;
/// then SQL that gives `film` a row of its own without its trigger firing.
fn film_target(engine: Engine) -> (&'static str, &'static str) {
    match engine {
        Engine::Sqlite => (
            "CREATE TABLE film (film_id INTEGER PRIMARY KEY, title TEXT NOT NULL);
             CREATE TABLE film_text (film_id INTEGER PRIMARY KEY, title TEXT NOT NULL);
             CREATE TRIGGER ins_film AFTER INSERT ON film BEGIN
               INSERT INTO film_text (film_id, title) VALUES (new.film_id, new.title);
             END;
             INSERT INTO film_text VALUES (1, 'ACADEMY DINOSAUR');",
            "DROP TRIGGER ins_film; INSERT INTO film VALUES (50, 'X');
             CREATE TRIGGER ins_film AFTER INSERT ON film BEGIN
               INSERT INTO film_text (film_id, title) VALUES (new.film_id, new.title);
             END;",
        ),
        Engine::Postgres => (
            "CREATE TABLE film (film_id int PRIMARY KEY, title text NOT NULL);
             CREATE TABLE film_text (film_id int PRIMARY KEY, title text NOT NULL);
             CREATE FUNCTION ins_film() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN INSERT INTO film_text (film_id, title) VALUES (NEW.film_id, NEW.title); RETURN NEW; END $$;
             CREATE TRIGGER ins_film AFTER INSERT ON film FOR EACH ROW EXECUTE FUNCTION ins_film();
             INSERT INTO film_text VALUES (1, 'ACADEMY DINOSAUR');",
            "ALTER TABLE film DISABLE TRIGGER ins_film; INSERT INTO film VALUES (50, 'X'); ALTER TABLE film ENABLE TRIGGER ins_film",
        ),
        Engine::Mysql => (
            "CREATE TABLE film (film_id int PRIMARY KEY, title varchar(255) NOT NULL) ENGINE=InnoDB;
             CREATE TABLE film_text (film_id int PRIMARY KEY, title varchar(255) NOT NULL) ENGINE=InnoDB;
             CREATE TRIGGER ins_film AFTER INSERT ON film FOR EACH ROW
               INSERT INTO film_text (film_id, title) VALUES (new.film_id, new.title);
             INSERT INTO film_text VALUES (1, 'ACADEMY DINOSAUR');",
            // The trigger fires, harmlessly: film 50 is not in the source.
            "INSERT INTO film VALUES (50, 'X')",
        ),
    }
}

#[test]
fn a_trigger_writing_a_duplicate_into_another_table_names_it() {
    for_each_engine(|engine| {
        let (schema, own_row) = film_target(engine);
        let dst = Test::on(engine).schema(schema);
        let source = film_source(&dst.ws);
        let out = copy(&dst.ws, &source, dst.url());
        assert_names_the_other_table(&out);
        assert_eq!(dst.count("film"), 0);
        // Into a table holding rows, the rows are merged from a staging table.
        dst.execute(own_row);
        let out = copy(&dst.ws, &source, dst.url());
        assert_names_the_other_table(&out);
        assert_eq!(dst.count("film"), 1);
    });
}

/// Rows that share a key, into an empty table: PostgreSQL loads an empty
/// table before its primary key is added back (as `pg_restore` does), so
/// the duplicate is found when the key is; every engine refuses the
/// import naming the table and the key, and writes nothing.
#[test]
fn rows_sharing_a_key_fail_an_import_into_an_empty_table_naming_the_key() {
    for_each_engine(|engine| {
        let schema = match engine {
            Engine::Mysql => {
                "CREATE TABLE parts (id int PRIMARY KEY, label varchar(20) NOT NULL, \
                 code varchar(20), UNIQUE KEY parts_code (code), KEY parts_label (label)) ENGINE=InnoDB"
            }
            _ => {
                "CREATE TABLE parts (id int PRIMARY KEY, label varchar(20) NOT NULL, \
                 code varchar(20) CONSTRAINT parts_code UNIQUE); CREATE INDEX parts_label ON parts (label)"
            }
        };
        let dst = Test::on(engine).schema(schema);
        let ws = &dst.ws;
        // The source has no key: its rows 7 share an id.
        sqlite(
            ws,
            "src.db",
            "CREATE TABLE parts (id INTEGER, label TEXT NOT NULL, code TEXT);
             INSERT INTO parts VALUES (7, 'a', 'x'), (8, 'b', 'y'), (7, 'c', 'z');",
        );
        let out = copy(ws, &ws.url("src.db"), dst.url());
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        let error = error_part(&err);
        assert!(error.contains("parts") && error.contains('7'), "{err}");
        assert_eq!(dst.count("parts"), 0);
        // The key and the unique constraint are in force again.
        dst.execute("INSERT INTO parts VALUES (1, 'a', 'x')");
        let again = dst.try_execute("INSERT INTO parts VALUES (2, 'b', 'x')");
        assert!(again.is_err(), "the unique constraint was not restored");
        let again = dst.try_execute("INSERT INTO parts VALUES (1, 'c', 'w')");
        assert!(again.is_err(), "the primary key was not restored");
        // A load that succeeds builds the plain index it set aside again.
        dst.execute("DELETE FROM parts");
        sqlite(
            ws,
            "ok.db",
            "CREATE TABLE parts (id INTEGER PRIMARY KEY, label TEXT NOT NULL, code TEXT);
             INSERT INTO parts VALUES (1, 'a', 'x'), (2, 'b', 'y');",
        );
        let out = copy(ws, &ws.url("ok.db"), dst.url());
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(dst.count("parts"), 2);
        let twin = dst.try_execute("CREATE INDEX parts_label ON parts (label)");
        assert!(twin.is_err(), "index `parts_label` is gone after the load");
    });
}

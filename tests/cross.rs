//! The round-trip matrix: the tiku example moved between SQLite, PostgreSQL
//! and MySQL/MariaDB through backup files and `copy` plans, on real servers.
//! Each engine gets its schema from its own scripts
//! (`examples/tiku/migrations/{engine}`).

mod support;

use support::server::{self, ServerDb};
use support::{Workspace, dump, repo_root, stderr};

fn migrations() -> String {
    repo_root()
        .join("examples/tiku/migrations/{engine}")
        .display()
        .to_string()
}

/// A SQLite tiku database filled from the demo seed, at `rel`.
fn seeded_sqlite(ws: &Workspace, rel: &str) {
    let seed = repo_root().join("examples/tiku/fixtures/demo-seed.json");
    let plan = ws.write(
        "seed.toml",
        &format!(
            "[plan]\nkind = \"migrate\"\n[database]\nurl = {:?}\nseed = {:?}\n[schema]\nmigrations = {:?}\n",
            ws.url(rel),
            seed.display().to_string(),
            migrations()
        ),
    );
    run_ok(ws, &["run", plan.to_str().unwrap()]);
}

const TIKU_DECIMALS: &str = "[tables.users]\naccept_lossy = [\"balance\"]\n[tables.question_books]\naccept_lossy = [\"price\"]\n[tables.weaknesses]\naccept_lossy = [\"accuracy\"]\n";

/// A plan of `kind` whose scripts are tiku's, for whichever engine. Back
/// in SQLite, tiku's `DECIMAL(p,s)` columns hold a server's decimals as
/// REALs (the scale goes, as in the source), which the plan accepts.
fn tiku_plan(ws: &Workspace, kind: &str) -> String {
    let name = format!("{kind}.toml");
    ws.write(
        &name,
        &format!(
            "[plan]\nname = \"tiku\"\nkind = \"{kind}\"\n[schema]\nmigrations = {:?}\n{TIKU_DECIMALS}",
            migrations()
        ),
    )
    .display()
    .to_string()
}

fn run_ok(ws: &Workspace, args: &[&str]) -> String {
    let out = ws.migplan().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "migplan {args:?} failed:\n{}",
        stderr(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `migplan run import.toml --db URL --file FILE`: scripts, then the import.
fn import_into(ws: &Workspace, url: &str, file: &str) {
    let plan = tiku_plan(ws, "import");
    run_ok(ws, &["run", &plan, "--db", url, "--file", file]);
}

fn copy(ws: &Workspace, from: &str, to: &str) -> String {
    let plan = tiku_plan(ws, "copy");
    run_ok(ws, &["run", &plan, "--source", from, "--target", to])
}

fn export(ws: &Workspace, url: &str, file: &str) {
    run_ok(ws, &["export", "--db", url, "-o", file]);
}

fn servers(test: &str) -> Option<(ServerDb, ServerDb)> {
    Some((server::postgres(test)?, server::mysql(test)?))
}

#[test]
fn sqlite_to_postgres_by_file_and_back_by_copy_is_identical() {
    let Some(pg) = server::postgres("sqlite_pg_sqlite") else {
        return;
    };
    let ws = Workspace::new();
    seeded_sqlite(&ws, "src.db");
    export(&ws, &ws.url("src.db"), "src.json");
    import_into(&ws, &pg.url, "src.json");
    assert_eq!(
        pg.count("questions"),
        support::count(&ws.open("src.db"), "questions")
    );
    copy(&ws, &pg.url, &ws.url("back.db"));
    assert_eq!(dump(&ws.open("src.db")), dump(&ws.open("back.db")));
}

#[test]
fn postgres_to_mysql_and_back_keeps_every_value() {
    let Some((pg, my)) = servers("pg_my_pg") else {
        return;
    };
    let Some(pg2) = server::postgres("pg_my_pg_2") else {
        return;
    };
    let ws = Workspace::new();
    seeded_sqlite(&ws, "src.db");
    copy(&ws, &ws.url("src.db"), &pg.url);
    // PostgreSQL → MySQL directly, MySQL → PostgreSQL through a backup file.
    copy(&ws, &pg.url, &my.url);
    export(&ws, &my.url, "my.json");
    import_into(&ws, &pg2.url, "my.json");
    assert!(!pg.dump().is_empty());
    assert_eq!(pg.dump(), pg2.dump());
}

#[test]
fn mysql_to_postgres_by_copy_keeps_every_value() {
    let Some((pg, my)) = servers("my_pg") else {
        return;
    };
    let ws = Workspace::new();
    seeded_sqlite(&ws, "src.db");
    copy(&ws, &ws.url("src.db"), &my.url);
    copy(&ws, &my.url, &pg.url);
    // And back into SQLite through a file: the same rows as the source.
    export(&ws, &pg.url, "pg.json");
    let plan = tiku_plan(&ws, "import");
    run_ok(
        &ws,
        &[
            "run",
            &plan,
            "--db",
            &ws.url("back.db"),
            "--file",
            "pg.json",
        ],
    );
    assert_eq!(dump(&ws.open("src.db")), dump(&ws.open("back.db")));
}

#[test]
fn same_engine_round_trips_are_identical_on_servers() {
    let Some((pg, my)) = servers("same_engine") else {
        return;
    };
    let Some((pg2, my2)) = servers("same_engine_2") else {
        return;
    };
    let ws = Workspace::new();
    seeded_sqlite(&ws, "src.db");
    for (a, b, file) in [(&pg, &pg2, "pg.json"), (&my, &my2, "my.json")] {
        copy(&ws, &ws.url("src.db"), &a.url);
        export(&ws, &a.url, file);
        import_into(&ws, &b.url, file);
        assert_eq!(a.dump(), b.dump(), "{file}");
    }
}

/// A value that does not fit its target column fails the copy with table,
/// key and column named, and the target keeps nothing of it.
#[test]
fn a_value_that_does_not_fit_fails_the_copy_and_writes_nothing() {
    let Some((pg, my)) = servers("does_not_fit") else {
        return;
    };
    let ws = Workspace::new();
    seeded_sqlite(&ws, "src.db");
    let long = "x".repeat(70);
    ws.open("src.db")
        .execute("UPDATE users SET username = ?1 WHERE id = 3", [&long])
        .unwrap();
    for target in [&pg, &my] {
        let plan = tiku_plan(&ws, "copy");
        let out = ws
            .migplan()
            .args([
                "run",
                &plan,
                "--source",
                &ws.url("src.db"),
                "--target",
                &target.url,
            ])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("`users`") && err.contains("id=3") && err.contains("username"),
            "{err}"
        );
        for t in target.tables() {
            assert_eq!(target.count(&t), 0, "{t} on {:?}", target.server);
        }
    }
}

#[test]
fn an_integer_out_of_range_names_table_key_and_column() {
    let Some(pg) = server::postgres("out_of_range") else {
        return;
    };
    let ws = Workspace::new();
    let conn = ws.open("src.db");
    conn.execute_batch(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, small INTEGER); INSERT INTO t VALUES (1, 5), (2, 40000);",
    )
    .unwrap();
    pg.execute("CREATE TABLE t (id bigint PRIMARY KEY, small smallint)");
    export(&ws, &ws.url("src.db"), "t.json");
    let out = ws
        .migplan()
        .args(["import", "--db", &pg.url, "t.json"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("`t`")
            && err.contains("id=2")
            && err.contains("small")
            && err.contains("40000"),
        "{err}"
    );
    assert_eq!(pg.count("t"), 0);
}

#[test]
fn a_type_that_cannot_be_carried_is_refused_before_any_row_moves() {
    let Some((pg, my)) = servers("cannot_carry") else {
        return;
    };
    pg.execute(
        "CREATE TABLE t (id bigint PRIMARY KEY, span interval); INSERT INTO t VALUES (1, '1 day')",
    );
    my.execute("CREATE TABLE t (id bigint PRIMARY KEY, span time)");
    let ws = Workspace::new();
    let plan = ws.write("c.toml", "[plan]\nkind = \"copy\"\n");
    let out = ws
        .migplan()
        .args([
            "run",
            plan.to_str().unwrap(),
            "--source",
            &pg.url,
            "--target",
            &my.url,
        ])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("`t`.`span` is interval"), "{err}");
    assert_eq!(my.count("t"), 0);
}

#[test]
fn copy_plan_shows_source_and_target_and_mysql_ddl_note() {
    let Some(my) = server::mysql("plan_note") else {
        return;
    };
    let ws = Workspace::new();
    seeded_sqlite(&ws, "src.db");
    let plan = ws.write(
        "c.toml",
        &format!(
            "[plan]\nkind = \"copy\"\n[source]\nurl = {:?}\n[target]\nurl = {:?}\n[schema]\nmigrations = {:?}\n",
            ws.url("src.db"),
            my.url,
            migrations()
        ),
    );
    let out = run_ok(&ws, &["plan", plan.to_str().unwrap()]);
    assert!(out.contains("apply    V1__init"), "{out}");
    assert!(out.contains("commit each schema statement"), "{out}");
    assert!(out.contains("copy") && out.contains("questions"), "{out}");
    assert!(my.tables().is_empty(), "`migplan plan` must change nothing");
}

/// SQLite keeps 15 significant digits of numeric-looking text in a DECIMAL
/// column: a longer PostgreSQL numeric is refused there, and kept exactly in
/// a TEXT column.
#[test]
fn a_long_decimal_is_refused_by_a_sqlite_numeric_column_and_kept_in_text() {
    let Some(pg) = server::postgres("long_decimal") else {
        return;
    };
    pg.execute("CREATE TABLE t (id bigint PRIMARY KEY, n numeric(30,2)); INSERT INTO t VALUES (1, 123456789012345678.91)");
    let ws = Workspace::new();
    export(&ws, &pg.url, "t.json");
    ws.open("num.db")
        .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, n DECIMAL(30,2))")
        .unwrap();
    let out = ws.import("num.db", &["t.json"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("`t`.`n` (numeric(30,2) → DECIMAL(30,2))") && err.contains("15"),
        "{err}"
    );
    assert_eq!(support::count(&ws.open("num.db"), "t"), 0);
    ws.open("text.db")
        .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, n TEXT)")
        .unwrap();
    let out = ws.import("text.db", &["t.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let n: String = ws
        .open("text.db")
        .query_row("SELECT n FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, "123456789012345678.91");
}

/// Chinook's `Album`.`AlbumId` on MySQL meets a PostgreSQL schema written
/// without quotes (`album`.`albumid`): names that differ only in case are
/// matched, by `copy` and through a backup file, and the values arrive.
#[test]
fn names_differing_only_in_case_are_matched_across_engines() {
    let Some((pg, my)) = servers("case_names") else {
        return;
    };
    let ws = Workspace::new();
    my.execute(
        "CREATE TABLE `Artist` (`ArtistId` INT NOT NULL PRIMARY KEY, `Name` VARCHAR(120)) ENGINE=InnoDB",
    );
    my.execute(
        "CREATE TABLE `Album` (`AlbumId` INT NOT NULL PRIMARY KEY, `Title` VARCHAR(160) NOT NULL, \
         `ArtistId` INT NOT NULL, FOREIGN KEY (`ArtistId`) REFERENCES `Artist` (`ArtistId`)) ENGINE=InnoDB",
    );
    my.execute("INSERT INTO `Artist` VALUES (1, 'AC/DC'), (2, 'Antônio Carlos Jobim'), (3, NULL)");
    my.execute("INSERT INTO `Album` VALUES (1, 'For Those About To Rock We Salute You', 1), (2, 'Warner 25 Anos', 2)");
    pg.execute(
        "CREATE TABLE artist (artistid INT NOT NULL PRIMARY KEY, name VARCHAR(120));
         CREATE TABLE album (albumid INT NOT NULL PRIMARY KEY, title VARCHAR(160) NOT NULL,
                             artistid INT NOT NULL REFERENCES artist (artistid));",
    );
    ws.write("copy.toml", "[plan]\nkind = \"copy\"\n");
    let out = ws
        .migplan()
        .args(["run", "copy.toml", "--source", &my.url, "--target", &pg.url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("names matched without regard to case: `Artist` → `artist`")
            && stderr(&out).contains("`Album` → `album`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        pg.dump(),
        [
            "album: (1,\"For Those About To Rock We Salute You\",1)",
            "album: (2,\"Warner 25 Anos\",2)",
            "artist: (1,AC/DC)",
            "artist: (2,\"Antônio Carlos Jobim\")",
            "artist: (3,)",
        ]
    );
    // Back through a file into a SQLite schema spelled another way again.
    export(&ws, &pg.url, "pg.json");
    ws.open("back.db")
        .execute_batch(
            "CREATE TABLE ARTIST (ARTISTID INTEGER PRIMARY KEY, NAME TEXT);
             CREATE TABLE Album (AlbumID INTEGER PRIMARY KEY, Title TEXT NOT NULL,
                                 ArtistID INTEGER NOT NULL REFERENCES ARTIST (ARTISTID));",
        )
        .unwrap();
    let out = ws.import("back.db", &["pg.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        dump(&ws.open("back.db")),
        [
            "ARTIST: Integer(1) | Text(\"AC/DC\")",
            "ARTIST: Integer(2) | Text(\"Antônio Carlos Jobim\")",
            "ARTIST: Integer(3) | Null",
            "Album: Integer(1) | Text(\"For Those About To Rock We Salute You\") | Integer(1)",
            "Album: Integer(2) | Text(\"Warner 25 Anos\") | Integer(2)",
        ]
    );
}

//! Real-world-shaped sample databases moved between engines: Chinook
//! (lerocha/chinook-database, the classic PascalCase schema) between SQLite,
//! PostgreSQL and MariaDB; Sakila on MariaDB, into MariaDB and into
//! PostgreSQL; Pagila on PostgreSQL. Each schema is written the way the
//! sample ships it (`tests/fixtures/samples/{sample}/{engine}/V1__*.sql`),
//! each target gets its schema from its own engine's scripts, and every
//! value is compared, not only row counts.

mod support;

use std::path::PathBuf;

use mysql::prelude::Queryable;
use support::server::{self, Server, ServerDb};
use support::{Workspace, repo_root, stderr};

fn fixture(rel: &str) -> PathBuf {
    repo_root().join("tests/fixtures/samples").join(rel)
}

/// `{sample}/{engine}`: the sample's scripts for whichever engine.
fn scripts(sample: &str) -> String {
    fixture(&format!("{sample}/{{engine}}"))
        .display()
        .to_string()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(fixture(rel)).unwrap()
}

/// A database of any engine: a SQLite file in the workspace or a server's.
enum Db<'a> {
    Lite(&'a Workspace, &'static str),
    Srv(&'a ServerDb),
}

impl Db<'_> {
    fn url(&self) -> String {
        match self {
            Db::Lite(ws, file) => ws.url(file),
            Db::Srv(s) => s.url.clone(),
        }
    }
}

fn run(ws: &Workspace, args: &[&str]) -> std::process::Output {
    ws.migplan().args(args).output().unwrap()
}

fn run_ok(ws: &Workspace, args: &[&str]) -> String {
    let out = run(ws, args);
    assert!(
        out.status.success(),
        "migplan {args:?} failed:\n{}",
        stderr(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A plan of `kind` whose scripts are `migrations` (may hold `{engine}`).
fn plan(ws: &Workspace, kind: &str, migrations: &str) -> String {
    ws.write(
        &format!("{kind}.toml"),
        &format!(
            "[plan]\nname = \"samples\"\nkind = \"{kind}\"\n[schema]\nmigrations = {migrations:?}\n"
        ),
    )
    .display()
    .to_string()
}

/// The source: the sample's scripts applied by migplan, then its data.
fn prepare(ws: &Workspace, db: &Db, migrations: &str, data: &str) {
    let p = plan(ws, "migrate", migrations);
    run_ok(ws, &["run", &p, "--db", &db.url()]);
    load(db, &read(data));
}

/// Runs a data script: SQLite and PostgreSQL as one batch, MySQL statement
/// by statement on one connection with ANSI_QUOTES (the Chinook data quotes
/// its PascalCase names with `"`).
fn load(db: &Db, sql: &str) {
    match db {
        Db::Lite(ws, file) => ws.open(file).execute_batch(sql).unwrap(),
        Db::Srv(s) if s.server == Server::Postgres => s.execute(sql),
        Db::Srv(s) => {
            let mut c = s.my();
            c.query_drop("SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')")
                .unwrap();
            for stmt in sql.split(";\n") {
                let code: String = stmt
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("--"))
                    .collect::<Vec<_>>()
                    .join("\n");
                if !code.trim().is_empty() {
                    c.query_drop(&code)
                        .unwrap_or_else(|e| panic!("{code}: {e}"));
                }
            }
        }
    }
}

/// `copy` from one database into another; the target's scripts come first.
fn copy(ws: &Workspace, migrations: &str, from: &Db, to: &Db) -> std::process::Output {
    let p = plan(ws, "copy", migrations);
    run(
        ws,
        &["run", &p, "--source", &from.url(), "--target", &to.url()],
    )
}

fn copy_ok(ws: &Workspace, migrations: &str, from: &Db, to: &Db) {
    let out = copy(ws, migrations, from, to);
    assert!(out.status.success(), "copy failed:\n{}", stderr(&out));
}

/// User tables, sorted (bookkeeping left out).
fn tables(db: &Db) -> Vec<String> {
    let mut t: Vec<String> = match db {
        Db::Lite(ws, file) => {
            let conn = ws.open(file);
            let mut stmt = conn
                .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
                .unwrap();
            stmt.query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .filter(|t: &String| !migplan::backend::BOOKKEEPING_TABLES.contains(&t.as_str()))
                .collect()
        }
        Db::Srv(s) => s.tables(),
    };
    t.sort();
    t
}

/// Every row of `table`, sorted, each value in one text form whatever the
/// engine, normalising only what docs/types.md lets change between
/// engines: decimals without trailing zeros (a SQLite NUMERIC column keeps
/// the number, not its scale), timestamps in UTC without an offset,
/// booleans as 1/0, bytes as 0x-hex, NULL as `NULL`.
fn canon(db: &Db, table: &str) -> Vec<String> {
    let mut rows: Vec<String> = match db {
        Db::Lite(ws, file) => {
            use rusqlite::types::Value;
            let conn = ws.open(file);
            let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
            let n = stmt.column_count();
            stmt.query_map([], |r| {
                Ok((0..n)
                    .map(|i| match r.get::<_, Value>(i).unwrap() {
                        Value::Null => "NULL".to_string(),
                        Value::Integer(v) => v.to_string(),
                        Value::Real(v) => v.to_string(),
                        Value::Text(v) => v,
                        Value::Blob(v) => format!("0x{}", hex(&v)),
                    })
                    .collect::<Vec<_>>()
                    .join(" | "))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
        }
        Db::Srv(s) if s.server == Server::Postgres => {
            let mut c = s.pg();
            c.batch_execute("SET TimeZone = 'UTC'").unwrap();
            let cols: Vec<String> = c
                .query(
                    "SELECT column_name::text, data_type::text FROM information_schema.columns \
                     WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
                    &[&table],
                )
                .unwrap()
                .iter()
                .map(|r| {
                    let (name, ty): (String, String) = (r.get(0), r.get(1));
                    let q = format!("\"{name}\"");
                    match ty.as_str() {
                        "boolean" => format!("CASE {q} WHEN true THEN '1' WHEN false THEN '0' END"),
                        "numeric" => format!("trim_scale({q})::text"),
                        "timestamp with time zone" => {
                            format!("regexp_replace({q}::text, '\\+00$', '')")
                        }
                        "bytea" => format!("'0x' || encode({q}, 'hex')"),
                        _ => format!("{q}::text"),
                    }
                })
                .collect();
            let sql = format!("SELECT {} FROM \"{table}\"", cols.join(", "));
            c.query(&sql, &[])
                .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
                .iter()
                .map(|r| {
                    (0..cols.len())
                        .map(|i| r.get::<_, Option<String>>(i).unwrap_or("NULL".into()))
                        .collect::<Vec<_>>()
                        .join(" | ")
                })
                .collect()
        }
        Db::Srv(s) => {
            let mut c = s.my();
            c.query_drop("SET time_zone = '+00:00'").unwrap();
            let cols: Vec<(String, String, Option<u32>)> = c
                .query(format!(
                    "SELECT COLUMN_NAME, DATA_TYPE, NUMERIC_SCALE FROM information_schema.COLUMNS \
                     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{table}' ORDER BY ORDINAL_POSITION"
                ))
                .unwrap();
            let exprs: Vec<String> = cols
                .iter()
                .map(|(name, ty, scale)| {
                    let q = format!("`{name}`");
                    match ty.as_str() {
                        "decimal" if scale.unwrap_or(0) > 0 => {
                            format!("TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM {q}))")
                        }
                        t if t.contains("blob") || t.contains("binary") || t == "geometry" => {
                            format!("CONCAT('0x', LOWER(HEX({q})))")
                        }
                        _ => q,
                    }
                })
                .collect();
            let sql = format!("SELECT {} FROM `{table}`", exprs.join(", "));
            let rows: Vec<mysql::Row> = c.query(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
            rows.into_iter()
                .map(|r| {
                    r.unwrap()
                        .into_iter()
                        .map(|v| match v {
                            mysql::Value::NULL => "NULL".to_string(),
                            mysql::Value::Bytes(b) => String::from_utf8(b).unwrap(),
                            other => panic!("text protocol gave {other:?}"),
                        })
                        .collect::<Vec<_>>()
                        .join(" | ")
                })
                .collect()
        }
    };
    rows.sort();
    rows
}

/// One PostgreSQL value as its text.
fn pg_text(s: &ServerDb, sql: &str) -> String {
    s.pg()
        .query_one(&format!("SELECT ({sql})::text"), &[])
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .get(0)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Both databases hold the same tables, every one with rows, value for value.
fn assert_same(from: &Db, to: &Db) {
    let t = tables(from);
    assert_eq!(t, tables(to), "tables");
    for table in &t {
        let want = canon(from, table);
        assert!(!want.is_empty(), "`{table}` is empty in the source");
        assert_eq!(want, canon(to, table), "`{table}` differs");
    }
}

// ---------------------------------------------------------------- Chinook

const CHINOOK_TABLES: [&str; 11] = [
    "Album",
    "Artist",
    "Customer",
    "Employee",
    "Genre",
    "Invoice",
    "InvoiceLine",
    "MediaType",
    "Playlist",
    "PlaylistTrack",
    "Track",
];

fn chinook_source(ws: &Workspace, db: &Db) {
    prepare(ws, db, &scripts("chinook"), "chinook/data.sql");
    assert_eq!(tables(db), CHINOOK_TABLES);
}

#[test]
fn chinook_sqlite_to_postgres_by_copy_keeps_every_value() {
    let Some(pg) = server::postgres("chinook_sqlite_pg") else {
        return;
    };
    let ws = Workspace::new();
    let (src, dst) = (Db::Lite(&ws, "chinook.db"), Db::Srv(&pg));
    chinook_source(&ws, &src);
    copy_ok(&ws, &scripts("chinook"), &src, &dst);
    assert_same(&src, &dst);
    // The PascalCase names arrive quoted, the prices with their scale.
    assert_eq!(
        pg_text(
            &pg,
            "SELECT \"Total\" FROM \"Invoice\" WHERE \"InvoiceId\" = 404"
        ),
        "9.90"
    );
}

#[test]
fn chinook_postgres_to_mariadb_by_copy_keeps_every_value() {
    let (Some(pg), Some(my)) = (
        server::postgres("chinook_pg_my"),
        server::mysql("chinook_pg_my"),
    ) else {
        return;
    };
    let ws = Workspace::new();
    let (src, dst) = (Db::Srv(&pg), Db::Srv(&my));
    chinook_source(&ws, &src);
    copy_ok(&ws, &scripts("chinook"), &src, &dst);
    assert_same(&src, &dst);
}

/// Chinook's SQLite schema declares its prices `NUMERIC(10,2)`, where
/// SQLite keeps MariaDB's `0.99` as a REAL (the scale goes): refused until
/// the plan accepts it for those columns, then every value arrives.
#[test]
fn chinook_mariadb_to_sqlite_by_copy_keeps_every_value() {
    let Some(my) = server::mysql("chinook_my_sqlite") else {
        return;
    };
    let ws = Workspace::new();
    let (src, dst) = (Db::Srv(&my), Db::Lite(&ws, "chinook.db"));
    chinook_source(&ws, &src);
    let out = copy(&ws, &scripts("chinook"), &src, &dst);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for column in [
        "`Invoice`.`Total`",
        "`InvoiceLine`.`UnitPrice`",
        "`Track`.`UnitPrice`",
    ] {
        assert!(
            err.contains(&format!("{column} (decimal(10,2) → NUMERIC(10,2))")),
            "{err}"
        );
    }
    let p = plan(&ws, "copy", &scripts("chinook"));
    let mut text = std::fs::read_to_string(&p).unwrap();
    for (table, column) in [
        ("Invoice", "Total"),
        ("InvoiceLine", "UnitPrice"),
        ("Track", "UnitPrice"),
    ] {
        text.push_str(&format!(
            "[tables.{table}]\naccept_lossy = [\"{column}\"]\n"
        ));
    }
    std::fs::write(&p, text).unwrap();
    run_ok(
        &ws,
        &["run", &p, "--source", &src.url(), "--target", &dst.url()],
    );
    assert_same(&src, &dst);
}

/// MariaDB → backup file → PostgreSQL (`export`, then an `import` plan
/// whose scripts build the target), and the file verifies against both.
#[test]
fn chinook_mariadb_export_file_import_into_postgres_keeps_every_value() {
    let (Some(my), Some(pg)) = (
        server::mysql("chinook_file_my"),
        server::postgres("chinook_file_pg"),
    ) else {
        return;
    };
    let ws = Workspace::new();
    let (src, dst) = (Db::Srv(&my), Db::Srv(&pg));
    chinook_source(&ws, &src);
    run_ok(&ws, &["export", "--db", &my.url, "-o", "chinook.json.zst"]);
    let p = plan(&ws, "import", &scripts("chinook"));
    run_ok(
        &ws,
        &["run", &p, "--db", &pg.url, "--file", "chinook.json.zst"],
    );
    assert_same(&src, &dst);
    for url in [&my.url, &pg.url] {
        run_ok(&ws, &["verify", "chinook.json.zst", "--db", url]);
    }
}

// ----------------------------------------------------------------- Sakila

const SAKILA_TABLES: [&str; 15] = [
    "actor",
    "address",
    "category",
    "city",
    "country",
    "customer",
    "film",
    "film_actor",
    "film_category",
    "inventory",
    "language",
    "payment",
    "rental",
    "staff",
    "store",
];

fn sakila_source(ws: &Workspace, my: &ServerDb) {
    prepare(ws, &Db::Srv(my), &scripts("sakila"), "sakila/data.sql");
}

/// Same engine, a fresh database from the same script: exactly the same
/// rows, the store <-> staff cycle included.
#[test]
fn sakila_mariadb_to_mariadb_copy_is_identical() {
    let (Some(src), Some(dst)) = (
        server::mysql("sakila_my_my"),
        server::mysql("sakila_my_my_2"),
    ) else {
        return;
    };
    let ws = Workspace::new();
    sakila_source(&ws, &src);
    assert_eq!(src.tables(), SAKILA_TABLES);
    copy_ok(&ws, &scripts("sakila"), &Db::Srv(&src), &Db::Srv(&dst));
    assert_eq!(src.dump(), dst.dump());
    // ON UPDATE CURRENT_TIMESTAMP left the copied last_update alone.
    assert_eq!(
        dst.scalar("SELECT CAST(last_update AS CHAR) FROM film WHERE film_id = 6"),
        "2006-02-15 05:03:42"
    );
}

/// MariaDB → PostgreSQL into Sakila in Pagila's types
/// (`sakila/postgres/V1__sakila.sql` says where it departs from Pagila):
/// unsigned keys into integer, YEAR into the year domain, ENUM into
/// mpaa_rating, SET into text, TIMESTAMP into timestamptz, BLOB into bytea.
#[test]
fn sakila_mariadb_to_postgres_pagila_types_keeps_every_value() {
    let (Some(my), Some(pg)) = (
        server::mysql("sakila_my_pg"),
        server::postgres("sakila_my_pg"),
    ) else {
        return;
    };
    let ws = Workspace::new();
    sakila_source(&ws, &my);
    copy_ok(&ws, &scripts("sakila"), &Db::Srv(&my), &Db::Srv(&pg));
    assert_same(&Db::Srv(&my), &Db::Srv(&pg));
    assert_eq!(
        pg_text(
            &pg,
            "SELECT rating::text || ' ' || release_year FROM film WHERE film_id = 3"
        ),
        "NC-17 2006"
    );
    // Serial counters moved past the copied keys.
    let next: i64 = pg_text(&pg, "SELECT nextval('film_film_id_seq')")
        .parse()
        .unwrap();
    assert!(next > 7, "{next}");
}

// ----------------------------------------------------------------- Pagila

/// PostgreSQL → PostgreSQL: the partitioned payment table (rows in both
/// partitions, each once), the enum, the domain, text[], tsvector, bytea,
/// timestamptz with microseconds, the store <-> staff cycle; sequences set
/// past the copied keys.
#[test]
fn pagila_postgres_to_postgres_copy_is_identical() {
    let (Some(src), Some(dst)) = (
        server::postgres("pagila_pg_pg"),
        server::postgres("pagila_pg_pg_2"),
    ) else {
        return;
    };
    let ws = Workspace::new();
    prepare(&ws, &Db::Srv(&src), &scripts("pagila"), "pagila/data.sql");
    copy_ok(&ws, &scripts("pagila"), &Db::Srv(&src), &Db::Srv(&dst));
    assert_eq!(src.dump(), dst.dump());
    let per_partition = "SELECT tableoid::regclass::text || ':' || count(*) FROM payment GROUP BY tableoid ORDER BY 1";
    assert_eq!(src.rows(per_partition), dst.rows(per_partition));
    assert_eq!(dst.count("payment"), 5);
    assert_eq!(
        pg_text(
            &dst,
            "SELECT special_features::text || ' ' || rating || ' ' || release_year || ' ' || fulltext FROM film WHERE film_id = 2"
        ),
        r#"{Trailers,"Deleted Scenes"} G 2006 'ace':1A 'administr':9B 'ancient':19C 'astound':4B 'car':17C 'china':20C 'databas':8B 'epistl':5B 'explor':12 'find':15 'goldfing':2A 'must':14"#
    );
    let next: i64 = pg_text(&dst, "SELECT nextval('payment_payment_id_seq')")
        .parse()
        .unwrap();
    assert!(next > 16054, "{next}");
}

// ------------------------------------------- Sakila: geometry and trigger

/// `{dir}/mysql`: Sakila's V1 and one more script from the fixtures.
fn sakila_plus(ws: &Workspace, dir: &str, v2: &str) -> String {
    ws.write(
        &format!("{dir}/mysql/V1__sakila.sql"),
        &read("sakila/mysql/V1__sakila.sql"),
    );
    let name = v2.rsplit('/').next().unwrap();
    ws.write(&format!("{dir}/mysql/{name}"), &read(v2));
    ws.path(&format!("{dir}/{{engine}}")).display().to_string()
}

/// Sakila with `address.location GEOMETRY NOT NULL` under a SPATIAL index,
/// MariaDB → MariaDB: the points should arrive as they are.
#[test]
fn sakila_with_geometry_mariadb_to_mariadb_copy_round_trips() {
    let (Some(src), Some(dst)) = (
        server::mysql("sakila_geometry"),
        server::mysql("sakila_geometry_2"),
    ) else {
        return;
    };
    let ws = Workspace::new();
    let migrations = sakila_plus(&ws, "geo", "sakila/geometry/V2__address_location.sql");
    sakila_source(&ws, &src);
    // The source gets the column as the sample's data has it, then its shape.
    src.execute("ALTER TABLE address ADD COLUMN location GEOMETRY NULL AFTER phone");
    src.execute(
        "UPDATE address SET location = CASE city_id \
         WHEN 300 THEN ST_GeomFromText('POINT(-112.8185647 49.6999986)') \
         WHEN 576 THEN ST_GeomFromText('POINT(153.1408538 -27.6333361)') \
         WHEN 463 THEN ST_GeomFromText('POINT(129.7227 33.1799)') \
         WHEN 449 THEN ST_GeomFromText('POINT(-117.2897652 34.1083449)') \
         ELSE ST_GeomFromText('POINT(-8.4115401 43.3623436)') END",
    );
    src.execute("ALTER TABLE address MODIFY location GEOMETRY NOT NULL, ADD SPATIAL KEY idx_location (location)");
    let out = copy(&ws, &migrations, &Db::Srv(&src), &Db::Srv(&dst));
    assert!(out.status.success(), "copy failed:\n{}", stderr(&out));
    assert_eq!(src.dump(), dst.dump());
    assert_eq!(
        dst.scalar("SELECT ST_AsText(location) FROM address WHERE address_id = 1"),
        "POINT(-112.8185647 49.6999986)"
    );
}

/// Sakila's film_text with its `ins_film` AFTER INSERT trigger on both
/// sides: the source's film_text rows were written by the trigger, and the
/// target's trigger writes them again as the copy inserts films. MySQL
/// cannot switch triggers off inside a transaction, so the copy fails: the
/// error names the trigger that fired and what to do, and nothing is kept.
#[test]
fn sakila_film_text_trigger_mariadb_to_mariadb_copy_fails_naming_the_trigger() {
    let (Some(src), Some(dst)) = (
        server::mysql("sakila_trigger"),
        server::mysql("sakila_trigger_2"),
    ) else {
        return;
    };
    let ws = Workspace::new();
    let migrations = sakila_plus(&ws, "trig", "sakila/trigger/V2__film_text.sql");
    prepare(&ws, &Db::Srv(&src), &migrations, "sakila/data.sql");
    assert_eq!(src.count("film_text"), 7);
    // film_text (no foreign keys) loads first; then every film row fires
    // ins_film, whose insert into film_text collides with the copied rows.
    let out = copy(&ws, &migrations, &Db::Srv(&src), &Db::Srv(&dst));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("Duplicate entry")
            && err.contains(
                "the target's triggers fired as rows loaded: `film` (ins_film AFTER INSERT)"
            )
            && err.contains("create such triggers after loading the data"),
        "{err}"
    );
    for t in dst.tables() {
        assert_eq!(dst.count(&t), 0, "{t}: a failed copy writes nothing");
    }
}

/// pagila-schema.sql starts as pg_dump writes it, with
/// `SELECT pg_catalog.set_config('search_path', '', false);` (every name
/// after it is schema-qualified). Such a script should apply.
#[test]
fn pagila_script_with_pg_dump_preamble_applies() {
    let Some(pg) = server::postgres("pagila_preamble") else {
        return;
    };
    let ws = Workspace::new();
    ws.write(
        "dump/postgres/V1__pagila.sql",
        &format!(
            "SELECT pg_catalog.set_config('search_path', '', false);\n{}",
            read("pagila/postgres/V1__pagila.sql")
        ),
    );
    let migrations = ws.path("dump/{engine}").display().to_string();
    let p = plan(&ws, "migrate", &migrations);
    run_ok(&ws, &["run", &p, "--db", &pg.url]);
    assert!(pg.tables().contains(&"payment".to_string()));
}

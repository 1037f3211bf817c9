//! Triggers never change data behind a success: a `last_update` trigger
//! that stamps every loaded row fails a cross-engine copy, an `overwrite`
//! import into a table holding the rows and a chain, naming the trigger and
//! leaving the target as it was; `--triggers disable` loads the rows as
//! they are; a table without triggers loads across engines with no false
//! alarm on types. On SQLite files and real PostgreSQL and MariaDB servers.

mod support;

use support::server::{self, Server, ServerDb};
use support::test::{Db, Engine, Test, for_each_engine};
use support::{Workspace, stderr};

/// Runs each statement in `db`.
fn exec(db: &Db, statements: &[String]) {
    for sql in statements {
        db.execute(sql);
    }
}

/// `id`, then `last_update` as text, ordered by id.
fn stamps(db: &Db) -> Vec<String> {
    let sql = match db.engine() {
        Engine::Sqlite | Engine::Postgres => {
            "SELECT id || ' ' || CAST(last_update AS TEXT) FROM items ORDER BY id"
        }
        Engine::Mysql => "SELECT CONCAT(id, ' ', last_update) FROM items ORDER BY id",
    };
    db.query(sql).into_iter().map(|mut r| r.remove(0)).collect()
}

/// The table, on each engine: int, bigint, decimal, bool, text, timestamp,
/// date, JSON, an instant, and the `last_update` a trigger stamps.
fn schema(kind: Engine) -> String {
    match kind {
        Engine::Sqlite => {
            "CREATE TABLE items (
            id INTEGER PRIMARY KEY, big BIGINT, price DECIMAL(10,2), active BOOLEAN,
            name TEXT, created TIMESTAMP, born DATE, doc JSON, seen TIMESTAMPTZ,
            last_update DATETIME NOT NULL)"
        }
        Engine::Postgres => {
            "CREATE TABLE items (
            id integer PRIMARY KEY, big bigint, price numeric(10,2), active boolean,
            name text, created timestamp, born date, doc jsonb, seen timestamptz,
            last_update timestamp NOT NULL)"
        }
        Engine::Mysql => {
            "CREATE TABLE items (
            id int PRIMARY KEY, big bigint, price decimal(10,2), active tinyint(1),
            name text, created datetime(6), born date, doc json, seen timestamp(6) NULL,
            last_update datetime NOT NULL)"
        }
    }
    .into()
}

/// Three rows as users have them: big integers, a scale the column pads,
/// JSON spaced and ordered its own way, an instant with an offset.
fn rows(kind: Engine) -> String {
    let (t, f) = if kind == Engine::Postgres {
        ("true", "false")
    } else {
        ("1", "0")
    };
    let seen = if kind == Engine::Sqlite {
        "'2024-05-01 10:00:00+02:00'"
    } else {
        "'2024-05-01 08:00:00'"
    };
    format!(
        "INSERT INTO items VALUES
          (1, 9007199254740993, 12.50, {t}, 'héllo', '2006-02-15 05:03:42', '1999-12-31',
           '{{\"b\": 1, \"a\": [1, 2.5, \"x\"]}}', {seen}, '2006-02-15 05:03:42'),
          (2, -5, 0.1, {f}, 'x', '2020-01-01 00:00:00.5', '2000-02-29',
           '{{\"k\": \"v\"}}', {seen}, '2006-02-15 05:03:42'),
          (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2006-02-15 05:03:42')"
    )
}

/// A trigger stamping `last_update` with now() on INSERT and UPDATE:
/// BEFORE where the engine lets a trigger change the row (PostgreSQL,
/// MySQL), AFTER with an UPDATE of the row where it does not (SQLite), or,
/// with `after`, an AFTER trigger updating the row (MySQL refuses a
/// trigger that updates its own table).
fn triggers(kind: Engine, after: bool) -> Vec<String> {
    match (kind, after) {
        (Engine::Sqlite, _) => vec![
            "CREATE TRIGGER items_stamp AFTER INSERT ON items BEGIN
               UPDATE items SET last_update = datetime('now') WHERE id = NEW.id; END;
             CREATE TRIGGER items_restamp AFTER UPDATE ON items BEGIN
               UPDATE items SET last_update = datetime('now') WHERE id = NEW.id; END;"
                .into(),
        ],
        (Engine::Postgres, false) => vec![
            "CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN NEW.last_update := now(); RETURN NEW; END $$;
             CREATE TRIGGER items_stamp BEFORE INSERT OR UPDATE ON items
               FOR EACH ROW EXECUTE FUNCTION stamp();"
                .into(),
        ],
        (Engine::Postgres, true) => vec![
            "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN UPDATE items SET last_update = now() WHERE id = NEW.id; RETURN NULL; END $$;
             CREATE TRIGGER items_touch AFTER INSERT OR UPDATE ON items
               FOR EACH ROW WHEN (pg_trigger_depth() < 1) EXECUTE FUNCTION touch();"
                .into(),
        ],
        (Engine::Mysql, _) => vec![
            "CREATE TRIGGER items_stamp BEFORE INSERT ON items FOR EACH ROW SET NEW.last_update = NOW()".into(),
            "CREATE TRIGGER items_restamp BEFORE UPDATE ON items FOR EACH ROW SET NEW.last_update = NOW()".into(),
        ],
    }
}

fn trigger_name(kind: Engine, after: bool) -> &'static str {
    if kind == Engine::Postgres && after {
        "items_touch"
    } else {
        "items_stamp"
    }
}

/// A database of `kind` holding the table and its rows.
fn filled(db: &Db) {
    exec(db, &[schema(db.engine()), rows(db.engine())]);
}

fn copy(ws: &Workspace, from: &Db, to: &Db, extra: &[&str]) -> std::process::Output {
    // SQLite keeps decimals of NUMERIC affinity as REAL: accepted here, the
    // read-back compares them by value (docs/types.md).
    let plan = ws.write(
        "copy.toml",
        "[plan]\nname = \"items\"\nkind = \"copy\"\n[tables.items]\naccept_lossy = [\"price\"]\n",
    );
    ws.migplan()
        .args([
            "run",
            plan.to_str().unwrap(),
            "--source",
            from.url(),
            "--target",
        ])
        .arg(to.url())
        .args(extra)
        .output()
        .unwrap()
}

fn import(ws: &Workspace, to: &Db, file: &str, extra: &[&str]) -> std::process::Output {
    ws.migplan()
        .args(["import", "--db", to.url(), file])
        .args(extra)
        .output()
        .unwrap()
}

fn export(ws: &Workspace, from: &Db, file: &str) {
    let out = ws
        .migplan()
        .args(["export", "--db", from.url(), "-o", file])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The refusal names the table, the first row and column (sent, found),
/// the trigger, and the way out for the engine.
fn assert_refused(out: &std::process::Output, kind: Engine, after: bool) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("verification after the import failed for `items`"),
        "{err}"
    );
    assert!(
        err.contains("changed  id=1: `last_update` sent \"2006-02-15 05:03:42\", found"),
        "{err}"
    );
    assert!(err.contains(trigger_name(kind, after)), "{err}");
    if kind == Engine::Mysql {
        assert!(
            err.contains("load the data before creating the triggers"),
            "{err}"
        );
    } else {
        assert!(err.contains("`--triggers disable`"), "{err}");
    }
}

fn server_of(kind: Engine, test: &str) -> Option<Db> {
    let server = match kind {
        Engine::Sqlite => unreachable!(),
        Engine::Postgres => Server::Postgres,
        Engine::Mysql => Server::Mysql,
    };
    ServerDb::create(server, test).map(Db::Server)
}

/// (a) and (c): the target's table has a row of its own and the trigger;
/// a copy from another engine is refused and changes nothing; with the
/// triggers off (PostgreSQL, SQLite) it loads the source's rows as they are.
fn cross_engine_copy(ws: &Workspace, src: Db, dst: Db, after: bool) {
    filled(&src);
    let kind = dst.engine();
    exec(&dst, &[schema(kind)]);
    exec(
        &dst,
        &["INSERT INTO items (id, last_update) VALUES (100, '2001-01-01 00:00:00')".into()],
    );
    exec(&dst, &triggers(kind, after));
    let before = dst.dump();
    let out = copy(ws, &src, &dst, &[]);
    assert_refused(&out, kind, after);
    assert_eq!(dst.dump(), before, "the target is unchanged");
    if kind == Engine::Mysql {
        return;
    }
    let out = copy(ws, &src, &dst, &["--triggers", "disable"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut want = stamps(&src);
    want.push("100 2001-01-01 00:00:00".into());
    assert_eq!(stamps(&dst), want);
}

#[test]
fn sqlite_to_postgres_copy_into_a_stamping_trigger_is_refused() {
    let ws = Workspace::new();
    let Some(dst) = server_of(Engine::Postgres, "tv_lite_pg") else {
        return;
    };
    cross_engine_copy(&ws, Db::sqlite_file(&ws, "src.db"), dst, false);
}

#[test]
fn sqlite_to_postgres_copy_into_an_after_trigger_updating_the_row_is_refused() {
    let ws = Workspace::new();
    let Some(dst) = server_of(Engine::Postgres, "tv_lite_pg_after") else {
        return;
    };
    cross_engine_copy(&ws, Db::sqlite_file(&ws, "src.db"), dst, true);
}

#[test]
fn postgres_to_mariadb_copy_into_a_stamping_trigger_is_refused() {
    let ws = Workspace::new();
    let (Some(src), Some(dst)) = (
        server_of(Engine::Postgres, "tv_pg_my_src"),
        server_of(Engine::Mysql, "tv_pg_my"),
    ) else {
        return;
    };
    cross_engine_copy(&ws, src, dst, false);
}

#[test]
fn mariadb_to_sqlite_copy_into_a_stamping_trigger_is_refused() {
    let ws = Workspace::new();
    let Some(src) = server_of(Engine::Mysql, "tv_my_lite") else {
        return;
    };
    cross_engine_copy(&ws, src, Db::sqlite_file(&ws, "dst.db"), false);
}

/// (b) and (c): the table holds the rows of its own backup, then gets the
/// trigger; an `overwrite` import of that backup is refused and changes
/// nothing; with the triggers off the rows stay exactly as they were.
fn overwrite_import(ws: &Workspace, db: &Db, after: bool) {
    let kind = db.engine();
    filled(db);
    export(ws, db, "b.json");
    let exported = db.dump();
    // The rows drift from the backup, so the overwrite really updates them:
    // rows identical to the backup's are left alone and fire nothing.
    exec(db, &["UPDATE items SET name = 'drifted'".to_string()]);
    exec(db, &triggers(kind, after));
    let before = db.dump();
    let out = import(ws, db, "b.json", &["--conflict", "overwrite"]);
    assert_refused(&out, kind, after);
    assert_eq!(db.dump(), before, "the table is unchanged");
    if kind == Engine::Mysql {
        return;
    }
    let out = import(
        ws,
        db,
        "b.json",
        &["--conflict", "overwrite", "--triggers", "disable"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(db.dump(), exported, "the rows are the backup's");
}

#[test]
fn overwrite_import_into_a_stamping_trigger_is_refused() {
    for_each_engine(|engine| {
        let t = Test::on(engine);
        overwrite_import(&t.ws, &t.db, false);
    });
}

#[test]
fn postgres_overwrite_import_into_an_after_trigger_updating_the_row_is_refused() {
    let ws = Workspace::new();
    let Some(db) = server_of(Engine::Postgres, "tv_pg_over_after") else {
        return;
    };
    overwrite_import(&ws, &db, true);
}

/// (d): without triggers, a copy from another engine into the table, again
/// over the rows it now holds (`overwrite`), and an `overwrite` import of
/// the target's own backup all succeed: every type compares as the target
/// holds it.
fn no_false_alarm(ws: &Workspace, src: Db, dst: Db) {
    filled(&src);
    exec(&dst, &[schema(dst.engine())]);
    let out = copy(ws, &src, &dst, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let loaded = dst.dump();
    assert_eq!(loaded.len(), 3, "{loaded:?}");
    let out = copy(ws, &src, &dst, &["--conflict", "overwrite"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(dst.dump(), loaded);
    export(ws, &dst, "own.json");
    let out = import(ws, &dst, "own.json", &["--conflict", "overwrite"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(dst.dump(), loaded);
}

#[test]
fn without_triggers_sqlite_to_postgres_loads_every_type() {
    let ws = Workspace::new();
    let Some(dst) = server_of(Engine::Postgres, "tv_ok_lite_pg") else {
        return;
    };
    no_false_alarm(&ws, Db::sqlite_file(&ws, "src.db"), dst);
}

#[test]
fn without_triggers_postgres_to_mariadb_loads_every_type() {
    let ws = Workspace::new();
    let (Some(src), Some(dst)) = (
        server_of(Engine::Postgres, "tv_ok_pg_my_src"),
        server_of(Engine::Mysql, "tv_ok_pg_my"),
    ) else {
        return;
    };
    no_false_alarm(&ws, src, dst);
}

#[test]
fn without_triggers_mariadb_to_sqlite_loads_every_type() {
    let ws = Workspace::new();
    let Some(src) = server_of(Engine::Mysql, "tv_ok_my_lite") else {
        return;
    };
    no_false_alarm(&ws, src, Db::sqlite_file(&ws, "dst.db"));
}

#[test]
fn without_triggers_mariadb_to_postgres_and_sqlite_to_mariadb_load_every_type() {
    let ws = Workspace::new();
    let (Some(my), Some(pg), Some(my2)) = (
        server_of(Engine::Mysql, "tv_ok_my_pg_src"),
        server_of(Engine::Postgres, "tv_ok_my_pg"),
        server_of(Engine::Mysql, "tv_ok_lite_my"),
    ) else {
        return;
    };
    no_false_alarm(&ws, my, pg);
    no_false_alarm(&ws, Db::sqlite_file(&ws, "src.db"), my2);
}

#[test]
fn postgres_to_sqlite_loads_every_type() {
    let ws = Workspace::new();
    let Some(src) = server_of(Engine::Postgres, "tv_ok_pg_lite") else {
        return;
    };
    no_false_alarm(&ws, src, Db::sqlite_file(&ws, "dst.db"));
}

/// A chain (a full backup, then an increment that follows it) into a table
/// whose trigger stamps every row it writes: refused, nothing written.
#[test]
fn a_chain_into_a_stamping_trigger_is_refused() {
    let ws = Workspace::new();
    let src = Db::sqlite_file(&ws, "src.db");
    exec(&src, &[
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT NOT NULL,
           last_update DATETIME NOT NULL);
         INSERT INTO items VALUES (1, 'one', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), '2006-02-15 05:03:42'),
           (2, 'two', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), '2006-02-15 05:03:42');"
            .into(),
    ]);
    // An increment starts two seconds before the backup it follows.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    export(&ws, &src, "full.json");
    std::thread::sleep(std::time::Duration::from_millis(50));
    exec(&src, &[
        "UPDATE items SET name = 'one, renamed', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = 1;
         INSERT INTO items VALUES (3, 'three', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), '2006-02-15 05:03:42');"
            .into(),
    ]);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let out = ws
        .migplan()
        .args([
            "export",
            "--db",
            src.url(),
            "--follows",
            "full.json",
            "-o",
            "inc.json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let dst = Db::sqlite_file(&ws, "dst.db");
    exec(
        &dst,
        &[
            "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT NOT NULL,
           last_update DATETIME NOT NULL);"
                .into(),
        ],
    );
    exec(&dst, &triggers(Engine::Sqlite, false));
    let out = ws
        .migplan()
        .args(["import", "--db", dst.url(), "full.json", "inc.json"])
        .output()
        .unwrap();
    assert_refused(&out, Engine::Sqlite, false);
    assert!(dst.dump().is_empty(), "nothing was written");
    let out = ws
        .migplan()
        .args(["import", "--db", dst.url(), "full.json", "inc.json"])
        .args(["--triggers", "disable"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(dst.dump(), src.dump());
}

/// `skip`: the rows the table already held under the backup's keys are
/// left alone and not compared, however they differ from the backup; the
/// rows inserted are, so a trigger stamping them still fails the import.
fn skip_import(ws: &Workspace, db: &Db) {
    let kind = db.engine();
    filled(db);
    export(ws, db, "b.json");
    exec(
        db,
        &[
            "UPDATE items SET name = 'kept', last_update = '2010-10-10 10:10:10' WHERE id < 3"
                .into(),
            "DELETE FROM items WHERE id = 3".into(),
        ],
    );
    let held = db.dump();
    let out = import(ws, db, "b.json", &["--conflict", "skip"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stamps(db)[..2], held_stamps(db)[..2]);
    exec(db, &["DELETE FROM items WHERE id = 3".into()]);
    assert_eq!(db.dump(), held);
    exec(db, &triggers(kind, false));
    let out = import(ws, db, "b.json", &["--conflict", "skip"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("1 of the 1 row written reads back with other values")
            && err.contains("changed  id=3: `last_update` sent \"2006-02-15 05:03:42\", found")
            && err.contains("items_stamp"),
        "{err}"
    );
    assert_eq!(db.dump(), held, "unchanged");
}

fn held_stamps(db: &Db) -> Vec<String> {
    stamps(db)
        .into_iter()
        .filter(|s| s.contains("2010-10-10 10:10:10"))
        .collect()
}

#[test]
fn skip_import_compares_only_the_rows_it_inserts() {
    for_each_engine(|engine| {
        let t = Test::on(engine);
        skip_import(&t.ws, &t.db);
    });
}

/// `error` into a table holding other rows: the rows inserted are compared.
#[test]
fn sqlite_error_policy_import_beside_other_rows_is_refused_when_a_trigger_stamps_them() {
    let ws = Workspace::new();
    let src = Db::sqlite_file(&ws, "src.db");
    filled(&src);
    export(&ws, &src, "b.json");
    let db = Db::sqlite_file(&ws, "db.db");
    exec(&db, &[schema(Engine::Sqlite)]);
    exec(
        &db,
        &["INSERT INTO items (id, last_update) VALUES (100, '2001-01-01 00:00:00')".into()],
    );
    exec(&db, &triggers(Engine::Sqlite, false));
    let before = db.dump();
    let out = import(&ws, &db, "b.json", &["--conflict", "error"]);
    assert_refused(&out, Engine::Sqlite, false);
    assert_eq!(db.dump(), before);
}

/// A table without a key that held rows: the rows written are compared as
/// a multiset, so a stamped row is one not found with its values.
#[test]
fn sqlite_keyless_table_with_rows_is_compared_as_a_multiset() {
    let ws = Workspace::new();
    let table = "CREATE TABLE log (msg TEXT, last_update DATETIME NOT NULL)";
    let src = Db::sqlite_file(&ws, "src.db");
    exec(&src, &[
        table.into(),
        "INSERT INTO log VALUES ('a', '2006-02-15 05:03:42'), ('a', '2006-02-15 05:03:42'), ('b', '2006-02-15 05:03:42')".into(),
    ]);
    export(&ws, &src, "b.json");
    let db = Db::sqlite_file(&ws, "db.db");
    exec(
        &db,
        &[
            table.into(),
            "INSERT INTO log VALUES ('a', '2006-02-15 05:03:42')".into(),
        ],
    );
    let out = import(&ws, &db, "b.json", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(db.dump().len(), 4);
    exec(
        &db,
        &["DELETE FROM log WHERE rowid > 1;
         CREATE TRIGGER log_stamp AFTER INSERT ON log WHEN NEW.msg = 'b' BEGIN
           UPDATE log SET last_update = datetime('now') WHERE rowid = NEW.rowid; END;"
            .into()],
    );
    let before = db.dump();
    let out = import(&ws, &db, "b.json", &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("1 of the 3 rows written is not there with its values")
            && err.contains("missing  (msg=\"b\", last_update=\"2006-02-15 05:03:42\")")
            && err.contains("log_stamp"),
        "{err}"
    );
    assert_eq!(db.dump(), before);
}

/// A trigger that moves a loaded row to another key: the row written is
/// not there under its key, and the failure names it.
#[test]
fn sqlite_trigger_moving_a_row_to_another_key_is_named() {
    let ws = Workspace::new();
    let src = Db::sqlite_file(&ws, "src.db");
    filled(&src);
    export(&ws, &src, "b.json");
    let db = Db::sqlite_file(&ws, "db.db");
    exec(
        &db,
        &[
            schema(Engine::Sqlite),
            "INSERT INTO items (id, last_update) VALUES (100, '2001-01-01 00:00:00');
         CREATE TRIGGER items_move AFTER INSERT ON items WHEN NEW.id = 2 BEGIN
           UPDATE items SET id = 2000 WHERE id = 2; END;"
                .into(),
        ],
    );
    let before = db.dump();
    let out = import(&ws, &db, "b.json", &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("1 row written is not there under its key")
            && err.contains("missing  id=2")
            && err.contains("`items_move` (AFTER INSERT)"),
        "{err}"
    );
    assert_eq!(db.dump(), before);
}

// ------------------------------------------ the samples' own triggers

fn sample(rel: &str) -> String {
    std::fs::read_to_string(
        support::repo_root()
            .join("tests/fixtures/samples")
            .join(rel),
    )
    .unwrap()
}

/// `migplan run` of a migrate plan whose scripts are in `migrations`.
fn migrate(ws: &Workspace, migrations: &std::path::Path, url: &str) {
    let plan = ws.write(
        "migrate.toml",
        &format!(
            "[plan]\nname = \"samples\"\nkind = \"migrate\"\n[schema]\nmigrations = {:?}\n",
            migrations.display().to_string()
        ),
    );
    let out = ws
        .migplan()
        .args(["run", plan.to_str().unwrap(), "--db", url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Pagila as pg_dump ships it stamps `last_update` in a BEFORE UPDATE
/// trigger (`last_updated`) on most tables: an `overwrite` import of the
/// database's own backup is refused, naming it; with the triggers off the
/// database is exactly as it was.
#[test]
fn pagila_last_updated_trigger_refuses_an_overwrite_import() {
    let Some(pg) = server::postgres("tv_pagila") else {
        return;
    };
    let ws = Workspace::new();
    ws.write(
        "pagila/postgres/V1__pagila.sql",
        &sample("pagila/postgres/V1__pagila.sql"),
    );
    migrate(&ws, &ws.path("pagila/postgres"), &pg.url);
    pg.execute(&sample("pagila/data.sql"));
    let db = Db::Server(pg);
    export(&ws, &db, "pagila.json");
    let exported = db.dump();
    // Drifted from the backup, so the overwrite updates (identical rows are
    // left alone and fire nothing).
    exec(
        &db,
        &["UPDATE public.actor SET first_name = lower(first_name)".to_string()],
    );
    // As pagila-schema.sql declares them.
    let mut sql = String::from(
        "CREATE FUNCTION public.last_updated() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             NEW.last_update = CURRENT_TIMESTAMP;
             RETURN NEW;
         END $$;",
    );
    for t in [
        "actor", "address", "category", "city", "country", "customer", "film",
    ] {
        sql.push_str(&format!(
            "CREATE TRIGGER last_updated BEFORE UPDATE ON public.{t} FOR EACH ROW EXECUTE FUNCTION public.last_updated();"
        ));
    }
    exec(&db, &[sql]);
    let before = db.dump();
    let out = import(&ws, &db, "pagila.json", &["--conflict", "overwrite"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("verification after the import failed for `")
            && err.contains("`last_update` sent \"")
            && err.contains("`last_updated` (BEFORE UPDATE)")
            && err.contains("`--triggers disable`"),
        "{err}"
    );
    assert_eq!(db.dump(), before, "unchanged");
    let out = import(
        &ws,
        &db,
        "pagila.json",
        &["--conflict", "overwrite", "--triggers", "disable"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(db.dump(), exported, "the backup's rows");
}

/// Sakila as its schema file ships it stamps `customer.create_date` in a
/// BEFORE INSERT trigger (`customer_create_date`): a copy into a Sakila
/// that has it is refused, naming it, and writes nothing.
#[test]
fn sakila_customer_create_date_trigger_refuses_a_copy() {
    let (Some(src), Some(dst)) = (
        server::mysql("tv_sakila_src"),
        server::mysql("tv_sakila_dst"),
    ) else {
        return;
    };
    let ws = Workspace::new();
    let v1 = sample("sakila/mysql/V1__sakila.sql");
    ws.write("plain/mysql/V1__sakila.sql", &v1);
    ws.write("trig/mysql/V1__sakila.sql", &v1);
    ws.write(
        "trig/mysql/V2__customer_create_date.sql",
        "CREATE TRIGGER customer_create_date BEFORE INSERT ON customer\n  FOR EACH ROW SET NEW.create_date = NOW();\n",
    );
    migrate(&ws, &ws.path("plain/mysql"), &src.url);
    // The data as the sample's script writes it (ANSI quotes, one
    // statement at a time).
    {
        use mysql::prelude::Queryable;
        let mut c = src.my();
        c.query_drop("SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')")
            .unwrap();
        for stmt in sample("sakila/data.sql").split(";\n") {
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
    migrate(&ws, &ws.path("trig/mysql"), &dst.url);
    let (src, dst) = (Db::Server(src), Db::Server(dst));
    let before = dst.dump();
    let out = copy(&ws, &src, &dst, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("verification after the import failed for `customer`")
            && err.contains("`create_date` sent \"")
            && err.contains("`customer_create_date` (BEFORE INSERT)")
            && err.contains("load the data before creating the triggers"),
        "{err}"
    );
    assert_eq!(dst.dump(), before, "nothing written");
}

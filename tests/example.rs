//! The tiku example end to end, on SQLite always and on PostgreSQL and
//! MariaDB/MySQL when their servers are configured: every version's undo
//! script puts back exactly the schema the version before it had (tables,
//! columns with types, nullability and defaults, keys, checks, indexes,
//! sequences, as the engine's own catalog describes them), the data of a
//! renamed column survives the undo, `migplan plan` says when the demo
//! seed will be loaded, and from version 4 an incremental export finds its
//! rows through an index on every table.

mod support;

use support::repo_root;
use support::test::{Engine, Test, for_each_engine};

/// The newest tiku version.
const LATEST: i64 = 4;

fn migrations() -> String {
    repo_root()
        .join("examples/tiku/migrations/{engine}")
        .display()
        .to_string()
}

fn seed_file() -> String {
    repo_root()
        .join("examples/tiku/fixtures/demo-seed.json")
        .display()
        .to_string()
}

/// A migrate plan on tiku's scripts, up to `target` (the latest without),
/// loading the demo seed when `seed`.
fn plan(t: &Test, name: &str, target: Option<i64>, seed: bool) -> String {
    let mut toml = format!(
        "[plan]\nname = \"tiku\"\nkind = \"migrate\"\n[database]\nurl = \"{{url}}\"\n{}[schema]\nmigrations = {:?}\n",
        match seed {
            true => format!("seed = {:?}\n", seed_file()),
            false => String::new(),
        },
        migrations()
    );
    if let Some(n) = target {
        toml.push_str(&format!("target = {n}\n"));
    }
    t.plan(name, &toml).display().to_string()
}

/// An incremental export plan on tiku's scripts, up to `target`.
fn incremental_plan(t: &Test, name: &str, target: i64) -> String {
    let toml = format!(
        "[plan]\nname = \"tiku\"\nkind = \"export\"\n[database]\nurl = \"{{url}}\"\n[schema]\nmigrations = {:?}\ntarget = {target}\n[export]\noutput = \"inc.json\"\nmode = \"incremental\"\nsince = \"2026-01-01T00:00:00Z\"\n",
        migrations()
    );
    t.plan(name, &toml).display().to_string()
}

/// The tables `plan` says an incremental export reads whole, sorted.
fn unindexed_tables(t: &Test, plan: &str) -> Vec<String> {
    let out = t.migplan(["plan", plan, "--format", "json"]).success();
    let v = support::json_result(&out.stdout());
    let mut tables: Vec<String> = v["unindexed"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| {
            assert_eq!(u["column"], "updated_at", "{u}");
            u["table"].as_str().unwrap().to_string()
        })
        .collect();
    tables.sort();
    tables
}

/// Whether a catalog line is about migplan's or refinery's bookkeeping.
fn bookkeeping(line: &str) -> bool {
    line.contains("refinery_schema_history") || line.contains("migplan_")
}

/// The database's schema as its engine's catalog describes it, one line per
/// fact, sorted, bookkeeping left out: what an undo must put back exactly.
fn schema(t: &Test) -> Vec<String> {
    let mut lines: Vec<String> = match t.engine {
        Engine::Sqlite => sqlite_schema(t),
        Engine::Postgres => postgres_schema(t),
        Engine::Mysql => mysql_schema(t),
    };
    lines.retain(|l| !bookkeeping(l));
    lines.sort();
    lines
}

fn joined(rows: Vec<Vec<String>>) -> Vec<String> {
    rows.into_iter().map(|r| r.join(" | ")).collect()
}

/// Every object's SQL with its whitespace taken out (ALTER TABLE rewrites
/// the text it keeps), and each table's columns, indexes and foreign keys
/// as SQLite's pragmas list them.
fn sqlite_schema(t: &Test) -> Vec<String> {
    let mut lines = vec![];
    for r in t.query("SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema") {
        let sql: String = r[3].split_whitespace().collect();
        lines.push(format!("{} {} on {}: {sql}", r[0], r[1], r[2]));
    }
    for table in t.tables() {
        for c in t.query(&format!("SELECT name, type, \"notnull\", coalesce(dflt_value, 'NULL'), pk FROM pragma_table_info('{table}') ORDER BY cid")) {
            lines.push(format!("column {table}: {}", c.join(" ")));
        }
        for i in t.query(&format!(
            "SELECT l.name, l.\"unique\", l.origin, group_concat(i.name, ',') FROM pragma_index_list('{table}') l, pragma_index_info(l.name) i GROUP BY l.name"
        )) {
            lines.push(format!("index {table}: {}", i.join(" ")));
        }
        for f in t.query(&format!(
            "SELECT id, seq, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list('{table}')"
        )) {
            lines.push(format!("foreign key {table}: {}", f.join(" ")));
        }
    }
    lines
}

/// Columns (types, nullability, defaults, identity), constraints,
/// indexes, sequences, types, triggers and functions of `public`.
fn postgres_schema(t: &Test) -> Vec<String> {
    let mut lines = vec![];
    // Columns in order, without their ordinal numbers: a column dropped and
    // added again leaves a gap PostgreSQL counts.
    for table in t.tables() {
        let columns = t.query(&format!(
            "SELECT column_name, data_type, coalesce(character_maximum_length::text, ''), \
             coalesce(numeric_precision::text, ''), coalesce(numeric_scale::text, ''), is_nullable, \
             coalesce(column_default, 'NULL'), is_identity, coalesce(identity_generation, '') \
             FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '{table}' \
             ORDER BY ordinal_position"
        ));
        for (i, c) in columns.into_iter().enumerate() {
            lines.push(format!("column {table} {i}: {}", c.join(" ")));
        }
    }
    lines.extend(joined(t.query(
        "SELECT 'constraint', conrelid::regclass::text, conname, pg_get_constraintdef(oid) \
         FROM pg_constraint WHERE connamespace = 'public'::regnamespace",
    )));
    lines.extend(joined(t.query(
        "SELECT 'index', tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
    )));
    lines.extend(joined(t.query(
        "SELECT 'relation', relname, relkind::text FROM pg_class \
         WHERE relnamespace = 'public'::regnamespace AND relkind NOT IN ('r', 'i', 't')",
    )));
    lines.extend(joined(t.query(
        "SELECT 'type', typname, typtype::text FROM pg_type \
         WHERE typnamespace = 'public'::regnamespace AND typtype IN ('e', 'd', 'r', 'm')",
    )));
    lines.extend(joined(t.query(
        "SELECT 'trigger', tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal",
    )));
    lines.extend(joined(t.query(
        "SELECT 'function', proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace",
    )));
    lines
}

/// `SHOW CREATE TABLE` of every table (its counter left out: rows move
/// it), and the triggers and routines of the database.
fn mysql_schema(t: &Test) -> Vec<String> {
    let mut lines = vec![];
    for table in t.tables() {
        let create = t.query(&format!("SHOW CREATE TABLE `{table}`"));
        let text = create[0][1]
            .split_whitespace()
            .filter(|w| !w.starts_with("AUTO_INCREMENT="))
            .collect::<Vec<_>>()
            .join(" ");
        lines.push(format!("table {table}: {text}"));
    }
    lines.extend(joined(t.query(
        "SELECT 'trigger', event_object_table, trigger_name FROM information_schema.triggers \
         WHERE trigger_schema = DATABASE()",
    )));
    lines.extend(joined(t.query(
        "SELECT 'routine', routine_type, routine_name FROM information_schema.routines \
         WHERE routine_schema = DATABASE()",
    )));
    lines
}

/// The lines of `a` not in `b`, and of `b` not in `a`, for a failure.
fn difference(a: &[String], b: &[String]) -> String {
    let only_a: Vec<&String> = a.iter().filter(|l| !b.contains(l)).collect();
    let only_b: Vec<&String> = b.iter().filter(|l| !a.contains(l)).collect();
    format!("expected only: {only_a:#?}\nfound only: {only_b:#?}")
}

fn version(t: &Test) -> i64 {
    t.scalar("SELECT coalesce(max(version), 0) FROM refinery_schema_history")
        .parse()
        .unwrap()
}

#[test]
fn every_undo_script_puts_back_the_schema_of_the_version_before() {
    for_each_engine(|engine| {
        let t = Test::on(engine);
        // The schema after each version, applied one at a time.
        let mut after = vec![schema(&t)];
        for n in 1..=LATEST {
            let p = plan(&t, &format!("v{n}.toml"), Some(n), false);
            t.migplan(["schema", "up", &p]).success();
            assert_eq!(version(&t), n);
            after.push(schema(&t));
            assert_ne!(
                after[n as usize],
                after[n as usize - 1],
                "V{n} changed nothing"
            );
        }
        assert!(after[0].is_empty(), "{:?}", after[0]);
        let p = plan(&t, "tiku.toml", None, false);
        for to in (0..LATEST).rev() {
            t.migplan(["schema", "down", &p, "--to", &to.to_string(), "--yes"])
                .success();
            assert_eq!(version(&t), to);
            let now = schema(&t);
            assert!(
                now == after[to as usize],
                "down --to {to}: not the schema of version {to}\n{}",
                difference(&after[to as usize], &now)
            );
        }
        assert!(t.tables().is_empty(), "{:?}", t.tables());
        // And up again, the whole way.
        t.migplan(["schema", "up", &p]).success();
        let now = schema(&t);
        assert!(
            now == after[LATEST as usize],
            "up again: not the schema of version {LATEST}\n{}",
            difference(&after[LATEST as usize], &now)
        );
    });
}

#[test]
fn undoing_version_3_keeps_the_mail_addresses_of_the_demo_data() {
    for_each_engine(|engine| {
        let t = Test::on(engine);
        let p = plan(&t, "tiku.toml", None, true);
        // Before the first run `plan` says the seed will be loaded…
        t.migplan(["plan", &p])
            .success()
            .stdout_contains("demo-seed.json into the empty database (2,865 rows)");
        let v = support::json_result(
            &t.migplan(["plan", &p, "--format", "json"])
                .success()
                .stdout(),
        );
        assert_eq!(v["seed"]["rows"], 2865, "{v}");
        assert!(
            v["seed"]["file"]
                .as_str()
                .unwrap()
                .ends_with("demo-seed.json"),
            "{v}"
        );
        t.migplan(["run", &p])
            .success()
            .stderr_contains("seeded the empty database with 2865 rows");
        // …and after it, with the tables full, that it will not.
        let out = t.migplan(["plan", &p]).success().stdout();
        assert!(!out.contains("seed "), "{out}");
        let v = support::json_result(
            &t.migplan(["plan", &p, "--format", "json"])
                .success()
                .stdout(),
        );
        assert!(v["seed"].is_null(), "{v}");

        let emails = t.query("SELECT id, email FROM users ORDER BY id");
        assert_eq!(emails.len(), 10);
        let visits = t.query("SELECT id, visit_count FROM questions ORDER BY id");
        let counts: Vec<(&str, i64)> = ["users", "questions", "practice_details"]
            .into_iter()
            .map(|table| (table, t.count(table)))
            .collect();
        t.migplan(["schema", "down", &p, "--to", "2", "--yes"])
            .success();
        assert_eq!(t.query("SELECT id, mail FROM users ORDER BY id"), emails);
        assert_eq!(
            t.query("SELECT id, visit_count FROM questions ORDER BY id"),
            visits
        );
        for (table, n) in &counts {
            assert_eq!(t.count(table), *n, "{table}");
        }
        // Up again: the addresses are `email` once more, the levels derived
        // from the difficulties again.
        t.migplan(["schema", "up", &p]).success();
        assert_eq!(t.query("SELECT id, email FROM users ORDER BY id"), emails);
        assert_eq!(
            t.scalar("SELECT count(*) FROM questions WHERE level <> CASE WHEN difficulty <= 2 THEN 'easy' WHEN difficulty = 3 THEN 'medium' ELSE 'hard' END"),
            "0"
        );
        // Down to nothing takes the rows with the tables.
        t.migplan(["schema", "down", &p, "--to", "0", "--yes"])
            .success();
        assert!(t.tables().is_empty(), "{:?}", t.tables());
    });
}

#[test]
fn from_version_4_an_incremental_export_finds_every_tables_changed_rows_by_index() {
    for_each_engine(|engine| {
        let t = Test::on(engine);
        let v3 = plan(&t, "v3.toml", Some(3), false);
        t.migplan(["schema", "up", &v3]).success();
        let mut every = t.tables();
        every.sort();
        assert_eq!(every.len(), 8, "{every:?}");
        let inc = incremental_plan(&t, "inc-v3.toml", 3);
        assert_eq!(unindexed_tables(&t, &inc), every);
        t.migplan(["plan", &inc])
            .success()
            .stdout_contains("every row of `questions` is read to find those changed");

        let latest = plan(&t, "tiku.toml", None, false);
        t.migplan(["schema", "up", &latest]).success();
        let inc = incremental_plan(&t, "inc.toml", LATEST);
        assert_eq!(unindexed_tables(&t, &inc), Vec::<String>::new());
    });
}

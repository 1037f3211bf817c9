//! The import preview (`ops::preview`) on every engine: a backup, a
//! workbook and an incremental chain classed row by row against a target
//! that differs from them — new, identical, changed (with the difference),
//! conflict (a unique key another row holds), failing (the database
//! refuses the row) — counted per table, paged and filtered from the
//! store on disk, and the target exactly as before, counters included.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use migplan::events::{self, Cancel, Event, Listener, Silent};
use migplan::ops::{
    self, ColumnChange, PreviewOutcome, PreviewRequest, PreviewStore, RowClass, TablePreview,
};
use migplan::policy::Conflict;
use support::test::{Engine, Test, for_each_engine};

/// An id the database counts out: the counter a preview must leave alone.
fn counted_id(e: Engine) -> &'static str {
    e.pick(
        "id INTEGER PRIMARY KEY AUTOINCREMENT",
        "id SERIAL PRIMARY KEY",
        "id INT AUTO_INCREMENT PRIMARY KEY",
    )
}

/// The source: `name` may be NULL and orders reference nothing.
fn source_schema(e: Engine) -> String {
    format!(
        "CREATE TABLE users ({}, email VARCHAR(100) NOT NULL UNIQUE, name VARCHAR(100));
         CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, total INTEGER NOT NULL);",
        counted_id(e)
    )
}

/// The target: `name` NOT NULL, orders' users a foreign key, totals
/// positive.
fn target_schema(e: Engine) -> String {
    format!(
        "CREATE TABLE users ({}, email VARCHAR(100) NOT NULL UNIQUE, name VARCHAR(100) NOT NULL);
         CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL,
                              total INTEGER NOT NULL CHECK (total > 0),
                              FOREIGN KEY (user_id) REFERENCES users (id));",
        counted_id(e)
    )
}

const SOURCE_ROWS: &str = "
    INSERT INTO users (id, email, name) VALUES (1, 'a@x', 'Ann'), (2, 'b@x', 'Bob'), (3, 'c@x', 'Cid'),
        (4, 'd@x', 'Dee'), (6, 'f@x', NULL), (7, 'h@x', 'Gus'), (50, 'e@x', 'Eve');
    INSERT INTO orders VALUES (10, 1, 100), (11, 2, 200), (12, 4, 400), (13, 50, 500), (14, 1, -5);";

/// User 1 as in the backup, user 2 renamed, users 3, 4, 6 and 50 missing
/// (50 beyond the counter: inserting it moves MySQL's AUTO_INCREMENT, which
/// no rollback takes back), user 9 holding user 4's email, user 8 the
/// email the backup gives user 7; order 10 as in the backup.
const TARGET_ROWS: &str = "
    INSERT INTO users (id, email, name) VALUES (1, 'a@x', 'Ann'), (2, 'b@x', 'Robert'), (7, 'g@x', 'Gus'),
        (8, 'h@x', 'Hal'), (9, 'd@x', 'Dee again');
    INSERT INTO orders VALUES (10, 1, 100);";

/// A source exported to `file`, and a target that differs from it.
fn source_and_target(engine: Engine, file: &str) -> (Test, Test) {
    let source = Test::on(engine)
        .schema(&source_schema(engine))
        .rows(SOURCE_ROWS);
    source.export(file);
    let target = source
        .another()
        .schema(&target_schema(engine))
        .rows(TARGET_ROWS);
    (source, target)
}

/// The target's rows and counters, to show the preview changed nothing.
fn state(t: &Test) -> (Vec<String>, Vec<Vec<String>>) {
    let counters = t.query(t.engine.pick(
        "SELECT name, seq FROM sqlite_sequence ORDER BY name",
        "SELECT last_value, is_called FROM users_id_seq",
        "SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users'",
    ));
    (t.dump(), counters)
}

fn plan(t: &Test) -> PathBuf {
    t.plan(
        "preview.toml",
        "[plan]\nkind = \"import\"\n[database]\nurl = \"{url}\"\n\
         [[module]]\nname = \"people\"\ntables = [\"users\"]\n\
         [[module]]\nname = \"sales\"\ntables = [\"orders\"]\n",
    )
}

fn request(t: &Test, files: &[&str], conflict: Option<Conflict>) -> PreviewRequest {
    PreviewRequest {
        plan: Some(plan(t)),
        files: files.iter().map(|f| t.ws.path(f)).collect(),
        conflict,
        store: t.ws.path("preview.sqlite"),
        ..PreviewRequest::default()
    }
}

fn preview(req: &PreviewRequest) -> PreviewOutcome {
    events::scope(Arc::new(Silent), Cancel::new(), || ops::preview(req))
        .unwrap_or_else(|e| panic!("preview: {e}"))
}

fn table<'a>(outcome: &'a PreviewOutcome, name: &str) -> &'a TablePreview {
    outcome
        .tables
        .iter()
        .find(|t| t.table == name)
        .unwrap_or_else(|| panic!("no table {name} in {:?}", outcome.tables))
}

/// (new, identical, changed, conflict, failing)
fn classes(t: &TablePreview) -> (u64, u64, u64, u64, u64) {
    (t.new, t.identical, t.changed, t.conflict, t.failing)
}

fn keys(store: &PreviewStore, table: Option<&str>, class: Option<RowClass>) -> Vec<String> {
    store
        .page(table, class, 0, 1000)
        .unwrap()
        .into_iter()
        .map(|r| format!("{} {}", r.table, r.key))
        .collect()
}

#[test]
fn every_row_is_classed_and_the_database_is_left_as_it_was() {
    for_each_engine(|engine| {
        let (_source, target) = source_and_target(engine, "backup.json");
        let before = state(&target);
        let outcome = preview(&request(
            &target,
            &["backup.json"],
            Some(Conflict::Overwrite),
        ));
        assert_eq!(state(&target), before, "the preview changed the target");

        let names: Vec<&str> = outcome.tables.iter().map(|t| t.table.as_str()).collect();
        assert_eq!(names, ["users", "orders"], "parents first");
        let users = table(&outcome, "users");
        let orders = table(&outcome, "orders");
        // User 4's insert and user 7's update clash on `email`.
        assert_eq!(classes(users), (2, 1, 1, 2, 1), "{users:?}");
        // Order 12's user (4) is refused: the order fails on its key;
        // order 14 fails the CHECK.
        assert_eq!(classes(orders), (2, 1, 0, 0, 2), "{orders:?}");
        assert_eq!(users.module.as_deref(), Some("people"));
        assert_eq!(users.policy, Conflict::Overwrite);
        assert_eq!(
            (
                users.implied.inserted,
                users.implied.overwritten,
                users.implied.unchanged
            ),
            (2, 1, 1)
        );
        assert_eq!((users.implied.skipped, users.implied.refused), (0, 3));
        assert!(outcome.would_fail());
        assert_eq!(
            outcome.files,
            [target.ws.path("backup.json").display().to_string()]
        );

        let store = PreviewStore::open(&outcome.store).unwrap();
        assert_eq!(store.tables().unwrap(), outcome.tables);
        let changed = store
            .page(Some("users"), Some(RowClass::Changed), 0, 10)
            .unwrap();
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].key, r#"{"id":2}"#);
        assert_eq!(changed[0].ordinal, 2);
        assert_eq!(
            changed[0].changes,
            [ColumnChange {
                column: "name".into(),
                old: "\"Robert\"".into(),
                new: "\"Bob\"".into()
            }]
        );
        let conflict = store.page(None, Some(RowClass::Conflict), 0, 10).unwrap();
        let clashes: Vec<&str> = conflict.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(clashes, [r#"{"id":4}"#, r#"{"id":7}"#]);
        for r in &conflict {
            let clash = r.error.as_deref().unwrap();
            assert!(clash.contains("email"), "the clash names its key: {clash}");
        }
        // User 7's clash is its new email's: the difference is kept.
        assert_eq!(conflict[1].changes[0].new, "\"h@x\"");

        let failing = store.page(None, Some(RowClass::Failing), 0, 10).unwrap();
        let failing: HashMap<String, String> = failing
            .into_iter()
            .map(|r| (format!("{} {}", r.table, r.key), r.error.unwrap()))
            .collect();
        let null = &failing[r#"users {"id":6}"#];
        assert!(null.contains("name") && null.contains("NULL"), "{null}");
        let fk = &failing[r#"orders {"id":12}"#];
        assert!(fk.contains("user_id"), "the refusal names the column: {fk}");
        assert!(fk.to_lowercase().contains("foreign key"), "{fk}");
        let check = &failing[r#"orders {"id":14}"#];
        assert!(
            check.contains("total"),
            "the refusal names the column: {check}"
        );
        assert_eq!(failing.len(), 3);
    });
}

#[test]
fn the_store_pages_and_filters() {
    for_each_engine(|engine| {
        let (_source, target) = source_and_target(engine, "backup.json");
        let outcome = preview(&request(&target, &["backup.json"], None));
        let store = PreviewStore::open(&outcome.store).unwrap();
        assert_eq!(store.count(None, None).unwrap(), 12);
        assert_eq!(store.count(Some("users"), None).unwrap(), 7);
        assert_eq!(store.count(None, Some(RowClass::New)).unwrap(), 4);
        assert_eq!(
            store
                .count(Some("orders"), Some(RowClass::Identical))
                .unwrap(),
            1
        );
        assert_eq!(
            keys(&store, None, Some(RowClass::New)),
            [
                r#"users {"id":3}"#,
                r#"users {"id":50}"#,
                r#"orders {"id":11}"#,
                r#"orders {"id":13}"#
            ]
        );
        // Pages follow the import's order: the table's rows in backup order.
        let page: Vec<(String, u64)> = store
            .page(None, None, 5, 3)
            .unwrap()
            .into_iter()
            .map(|r| (r.table, r.ordinal))
            .collect();
        assert_eq!(
            page,
            [
                ("users".to_string(), 6),
                ("users".to_string(), 7),
                ("orders".to_string(), 1)
            ]
        );
        assert!(store.page(None, None, 12, 5).unwrap().is_empty());
        assert!(store.page(Some("nothing"), None, 0, 5).unwrap().is_empty());
        // Under `error` every row whose key exists would be refused; the
        // classes are the rows' whatever the policy.
        let users = table(&outcome, "users");
        assert_eq!(users.policy, Conflict::Error);
        assert_eq!(classes(users), (2, 1, 1, 2, 1));
        assert_eq!((users.implied.inserted, users.implied.refused), (2, 5));
        // The counts under another policy, from the store, are what a
        // preview under that policy counts.
        for policy in [Conflict::Skip, Conflict::Overwrite, Conflict::Error] {
            let again = preview(&request(&target, &["backup.json"], Some(policy)));
            for t in &again.tables {
                assert_eq!(
                    store.implied(&t.table, policy).unwrap(),
                    t.implied,
                    "{} under {policy:?}",
                    t.table
                );
            }
        }
        assert!(RowClass::parse("changes").is_err());
        assert_eq!(RowClass::from_name("conflict"), Some(RowClass::Conflict));
        assert_eq!(RowClass::Failing.name(), "failing");
    });
}

#[test]
fn a_module_policy_and_a_module_choice_are_the_requests() {
    for_each_engine(|engine| {
        let (_source, target) = source_and_target(engine, "backup.json");
        let mut req = request(&target, &["backup.json"], Some(Conflict::Overwrite));
        req.module_conflicts = HashMap::from([("people".to_string(), Conflict::Skip)]);
        let outcome = preview(&req);
        let users = table(&outcome, "users");
        assert_eq!(users.policy, Conflict::Skip);
        // The classes are the rows', the counts the policy's: `skip` keeps
        // user 2 and user 7 (whose new email would clash) as they are.
        assert_eq!(classes(users), (2, 1, 1, 2, 1));
        assert_eq!((users.implied.skipped, users.implied.overwritten), (2, 0));
        assert_eq!((users.implied.inserted, users.implied.refused), (2, 2));
        assert_eq!(table(&outcome, "orders").policy, Conflict::Overwrite);

        req.modules = vec!["people".into()];
        let only = preview(&req);
        assert_eq!(only.tables.len(), 1, "{:?}", only.tables);
        let store = PreviewStore::open(&only.store).unwrap();
        assert_eq!(store.count(Some("orders"), None).unwrap(), 0);

        req.module_conflicts = HashMap::from([("nobody".to_string(), Conflict::Skip)]);
        let err = events::scope(Arc::new(Silent), Cancel::new(), || ops::preview(&req))
            .unwrap_err()
            .to_string();
        assert!(err.contains("nobody") && err.contains("people"), "{err}");
    });
}

#[test]
fn a_workbook_is_previewed_as_its_cells_read() {
    for_each_engine(|engine| {
        let (source, target) = source_and_target(engine, "backup.json");
        // A workbook's cells are checked against the target's columns
        // before any row is read: an empty cell in a NOT NULL column stops
        // the preview as it stops the import, every such cell listed.
        source.export("null.xlsx");
        let req = request(&target, &["null.xlsx"], None);
        let err = events::scope(Arc::new(Silent), Cancel::new(), || ops::preview(&req))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("users!C6") && err.contains("NOT NULL"),
            "{err}"
        );
        assert!(!req.store.exists());
        source.execute("UPDATE users SET name = 'Fay' WHERE id = 6");
        source.export("backup.xlsx");
        let before = state(&target);
        let outcome = preview(&request(
            &target,
            &["backup.xlsx"],
            Some(Conflict::Overwrite),
        ));
        assert_eq!(state(&target), before);
        assert_eq!(classes(table(&outcome, "users")), (3, 1, 1, 2, 0));
        assert_eq!(classes(table(&outcome, "orders")), (2, 1, 0, 0, 2));
        let store = PreviewStore::open(&outcome.store).unwrap();
        let changed = store.page(None, Some(RowClass::Changed), 0, 10).unwrap();
        assert_eq!(changed[0].changes[0].new, "\"Bob\"");
    });
}

fn stamp(e: Engine) -> &'static str {
    e.pick("TEXT", "TIMESTAMP", "DATETIME")
}

/// A full backup, then an increment (exported `--since` its changes) that
/// renames a user twice over, adds one, and brings back one the target
/// lacks.
#[test]
fn an_incremental_chain_is_judged_against_the_target_before_it() {
    for_each_engine(|engine| {
        let schema = format!(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, updated_at {} NOT NULL);",
            stamp(engine)
        );
        let source = Test::on(engine).schema(&schema).rows(
            "INSERT INTO users VALUES (1, 'one', '2020-01-01 00:00:00'), (2, 'two', '2020-01-01 00:00:00'),
                                      (3, 'three', '2020-01-01 00:00:00');",
        );
        source.export("full.json");
        source.execute(
            "UPDATE users SET name = 'one, renamed', updated_at = '2024-06-01 00:00:00' WHERE id = 1;
             UPDATE users SET name = 'two', updated_at = '2024-06-01 00:00:00' WHERE id = 2;
             INSERT INTO users VALUES (4, 'four', '2024-06-01 00:00:00');",
        );
        source
            .export_with(
                "inc.json",
                ["--follows", "full.json", "--since", "2024-01-01T00:00:00Z"],
            )
            .success();
        // The target holds user 1 as the full backup has it, user 2 with
        // another name, and no user 3.
        let target = source.another().schema(&schema).rows(
            "INSERT INTO users VALUES (1, 'one', '2020-01-01 00:00:00'), (2, 'deux', '2020-01-01 00:00:00');",
        );
        let before = state_of_users(&target);
        let outcome = preview(&request(&target, &["full.json", "inc.json"], None));
        assert_eq!(state_of_users(&target), before);
        let users = table(&outcome, "users");
        // 1: changed by the increment; 2: the increment's row still differs
        // from the target's; 3 and 4: new. One verdict per key.
        assert_eq!(classes(users), (2, 0, 2, 0, 0), "{users:?}");
        let store = PreviewStore::open(&outcome.store).unwrap();
        assert_eq!(store.count(None, None).unwrap(), 4);
        let changed = store.page(None, Some(RowClass::Changed), 0, 10).unwrap();
        let one = changed.iter().find(|r| r.key == r#"{"id":1}"#).unwrap();
        let columns: Vec<&str> = one.changes.iter().map(|c| c.column.as_str()).collect();
        assert_eq!(columns, ["name", "updated_at"]);
        assert_eq!(one.changes[0].old, "\"one\"");
        assert_eq!(one.changes[0].new, "\"one, renamed\"");
        assert_eq!(one.ordinal, 1, "a key keeps its first place");
        let four = store.page(None, Some(RowClass::New), 0, 10).unwrap();
        assert_eq!(four.last().unwrap().key, r#"{"id":4}"#);
        assert_eq!(
            four.last().unwrap().ordinal,
            6,
            "counted on through the increment"
        );
        assert_eq!(outcome.files.len(), 2);
    });
}

fn state_of_users(t: &Test) -> Vec<String> {
    t.dump()
}

/// Rows: enough that holding them in memory would show, small enough to
/// run on every engine.
const MANY: i64 = 50_000;

#[test]
fn fifty_thousand_rows_are_kept_on_disk_and_paged() {
    for_each_engine(|engine| {
        let schema = "CREATE TABLE items (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL);";
        let source = Test::on(engine).schema(schema);
        let values: Vec<String> = (1..=MANY).map(|i| format!("({i}, 'item {i}')")).collect();
        for chunk in values.chunks(5_000) {
            source.execute(&format!("INSERT INTO items VALUES {}", chunk.join(", ")));
        }
        source.export("many.json");
        // Every tenth row already there, every hundredth with another label.
        let target = source.another().schema(schema);
        let present: Vec<String> = (1..=MANY)
            .filter(|i| i % 10 == 0)
            .map(|i| match i % 100 {
                0 => format!("({i}, 'other {i}')"),
                _ => format!("({i}, 'item {i}')"),
            })
            .collect();
        target.execute(&format!("INSERT INTO items VALUES {}", present.join(", ")));
        let before = target.dump();
        let mut req = request(&target, &["many.json"], Some(Conflict::Overwrite));
        req.plan = Some(target.plan(
            "many.toml",
            "[plan]\nkind = \"import\"\n[database]\nurl = \"{url}\"\n",
        ));
        let outcome = preview(&req);
        assert_eq!(target.dump(), before);
        let items = table(&outcome, "items");
        let (changed, identical) = ((MANY / 100) as u64, (MANY / 10 - MANY / 100) as u64);
        assert_eq!(
            classes(items),
            (MANY as u64 * 9 / 10, identical, changed, 0, 0)
        );
        // The rows are in the store's file, not in the outcome.
        let meta = std::fs::metadata(&outcome.store).unwrap();
        let size = meta.len();
        assert!(size > 1 << 20, "the store holds the rows: {size} bytes");
        let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions());
        assert_eq!(mode & 0o777, 0o600, "the store is private, as backups are");
        let store = PreviewStore::open(&outcome.store).unwrap();
        assert_eq!(store.count(None, None).unwrap(), MANY as u64);
        let last = store
            .page(Some("items"), Some(RowClass::Changed), changed - 1, 10)
            .unwrap();
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].key, format!(r#"{{"id":{MANY}}}"#));
        assert_eq!(last[0].changes[0].old, format!("\"other {MANY}\""));
        // Deep pages under every filter are the same rows a scan from the
        // start finds there, across the anchors' boundaries.
        for (t, class) in [
            (None, None),
            (Some("items"), None),
            (None, Some(RowClass::Identical)),
            (Some("items"), Some(RowClass::New)),
        ] {
            let all = scanned(&outcome.store, t, class);
            assert_eq!(all.len() as u64, store.count(t, class).unwrap());
            for offset in [0, 49, 50, 51, 99, 4_321, all.len() - 7, all.len()] {
                let page: Vec<String> = store
                    .page(t, class, offset as u64, 20)
                    .unwrap()
                    .into_iter()
                    .map(|r| r.key)
                    .collect();
                let end = (offset + 20).min(all.len());
                assert_eq!(page, all[offset..end], "{t:?} {class:?} from {offset}");
            }
        }
    });
}

/// The keys of the store's rows under a filter, in order, read straight
/// from its file.
fn scanned(store: &Path, table: Option<&str>, class: Option<RowClass>) -> Vec<String> {
    let conn = rusqlite::Connection::open(store).unwrap();
    let class = class.map(|c| RowClass::NAMES.iter().position(|(_, n)| *n == c).unwrap() as i64);
    let mut stmt = conn
        .prepare(
            "SELECT key FROM preview_rows WHERE (?1 IS NULL OR tbl = ?1) \
             AND (?2 IS NULL OR class = ?2) ORDER BY id",
        )
        .unwrap();
    stmt.query_map(rusqlite::params![table, class], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// Presses cancel the first time rows are reported moving.
struct CancelOnRows(Cancel);

impl Listener for CancelOnRows {
    fn event(&self, event: &Event) {
        if matches!(event, Event::Advanced { .. }) {
            self.0.cancel();
        }
    }
}

#[test]
fn a_cancelled_preview_stops_and_leaves_no_store() {
    let engine = Engine::Sqlite;
    let schema = "CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT NOT NULL);";
    let source = Test::on(engine).schema(schema);
    let values: Vec<String> = (1..=20_000).map(|i| format!("({i}, 'item {i}')")).collect();
    source.execute(&format!("INSERT INTO items VALUES {}", values.join(", ")));
    source.export("many.json");
    let target = source.another().schema(schema);
    let mut req = request(&target, &["many.json"], None);
    req.plan = Some(target.plan(
        "many.toml",
        "[plan]\nkind = \"import\"\n[database]\nurl = \"{url}\"\n",
    ));
    let cancel = Cancel::new();
    let result = events::scope(Arc::new(CancelOnRows(cancel.clone())), cancel, || {
        ops::preview(&req)
    });
    assert!(
        matches!(result, Err(migplan::Error::Cancelled)),
        "{result:?}"
    );
    assert!(!req.store.exists());
    assert_eq!(target.count("items"), 0);
}

#[test]
fn a_store_is_a_finished_preview_or_refused() {
    let ws = support::Workspace::new();
    let not_one = ws.write("notes.sqlite", "not a database");
    let err = PreviewStore::open(&not_one).err().unwrap().to_string();
    assert!(err.contains("is not a finished preview's store"), "{err}");
    let empty = ws.path("empty.sqlite");
    rusqlite::Connection::open(&empty)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    assert!(PreviewStore::open(&empty).is_err());
}

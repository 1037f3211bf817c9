//! Workbooks and version adapters on every engine: the tiku V1 backup
//! upgraded into SQLite, PostgreSQL and MySQL at the latest schema, then
//! carried through an Excel workbook into a fresh database of the same
//! engine.

mod support;

use support::test::{Test, for_each_engine};
use support::{Workspace, repo_root, stderr};

fn plan(ws: &Workspace, adapters: bool) -> String {
    let migrations = repo_root().join("examples/tiku/migrations/{engine}");
    let adapters = match adapters {
        true => format!(
            "[import]\nadapters = [{:?}]\n",
            repo_root().join("adapters/tiku.toml").display().to_string()
        ),
        false => String::new(),
    };
    ws.write(
        &format!("import-{}.toml", adapters.len()),
        &format!(
            "[plan]\nkind = \"import\"\n[schema]\nmigrations = {:?}\n{adapters}\
             [tables.users]\nsheet = \"用户信息\"\n[tables.questions]\nsheet = \"题目数据\"\n",
            migrations.display().to_string()
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

/// The V1 fixture upgraded into `db`, checked against the fixture itself,
/// then exported as a workbook and imported into `copy`: identical.
fn upgrade_then_workbook(db: &Test) {
    let copy = db.another();
    let ws = &*db.ws;
    let v1 = repo_root().join("examples/tiku/fixtures/tiku-v1.json");
    let with_adapters = plan(ws, true);
    run_ok(
        ws,
        &[
            "run",
            &with_adapters,
            "--db",
            db.url(),
            "--file",
            v1.to_str().unwrap(),
        ],
    );

    // The fixture's own values, upgraded by hand: mail → email, level from
    // difficulty, visit_count 0.
    let fixture: Vec<serde_json::Value> = std::fs::read_to_string(&v1)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("{\"id\""))
        .map(|l| serde_json::from_str(l.trim_end_matches(',')).unwrap())
        .collect();
    let mails: Vec<&str> = fixture.iter().filter_map(|r| r["mail"].as_str()).collect();
    assert!(!mails.is_empty());
    let easy = fixture
        .iter()
        .filter(|r| r["difficulty"].as_i64().is_some_and(|d| d <= 2))
        .count();
    let emails = db.query("SELECT email FROM users ORDER BY id");
    assert_eq!(emails.len(), mails.len());
    let count = |sql: &str| db.query(sql).len();
    assert_eq!(count("SELECT id FROM questions WHERE level = 'easy'"), easy);
    assert_eq!(count("SELECT id FROM questions WHERE visit_count <> 0"), 0);

    // Through a workbook into a fresh database at the latest version.
    let book = ws.path("tiku.xlsx");
    run_ok(
        ws,
        &["export", "--db", db.url(), "-o", book.to_str().unwrap()],
    );
    let plain = plan(ws, false);
    run_ok(
        ws,
        &[
            "run",
            &plain,
            "--db",
            copy.url(),
            "--file",
            book.to_str().unwrap(),
        ],
    );
    let strip = |d: Vec<String>| -> Vec<String> {
        d.into_iter()
            .filter(|l| !l.contains("refinery_schema_history"))
            .collect()
    };
    assert_eq!(strip(db.dump()), strip(copy.dump()));
}

#[test]
fn upgrades_a_v1_backup_and_round_trips_a_workbook() {
    for_each_engine(|engine| upgrade_then_workbook(&Test::on(engine)));
}

//! Environments (`[env.NAME]`, `--env`, `MIGPLAN_ENV`), confirmation
//! (`confirm = true`, `--yes`), environment dry runs (`--no-dry-run`) and
//! the `[backup]` section: the real binary on real SQLite files.

mod support;

use support::{Workspace, dump, stderr, stdout};

const SCHEMA: &str = "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);";

/// An import plan: `dev.db` by default, `prod.db` with overwrite in `prod`,
/// plus environments that ask first (`guarded`) or only rehearse
/// (`rehearsal`).
const PLAN: &str = r#"[plan]
kind = "import"

[database]
url = "sqlite://dev.db"

[import]
file = "backup.json"
conflict = "skip"

[env.prod.database]
url = "sqlite://prod.db"

[env.prod.import]
conflict = "overwrite"

[env.guarded]
confirm = true

[env.rehearsal]
dry_run = true
"#;

/// `backup.json` holds items 1 (`new`) and 3; `dev.db` and `prod.db` hold
/// item 1 (`old`), so skip and overwrite leave different results.
fn workspace() -> Workspace {
    let ws = Workspace::new();
    let src = ws.open("src.db");
    src.execute_batch(SCHEMA).unwrap();
    src.execute_batch("INSERT INTO items VALUES (1, 'new'), (3, 'three');")
        .unwrap();
    ws.export("src.db", "backup.json");
    for db in ["dev.db", "prod.db"] {
        let conn = ws.open(db);
        conn.execute_batch(SCHEMA).unwrap();
        conn.execute_batch("INSERT INTO items VALUES (1, 'old');")
            .unwrap();
    }
    ws.write("plan.toml", PLAN);
    ws
}

fn items(ws: &Workspace, db: &str) -> Vec<String> {
    dump(&ws.open(db))
}

const UNTOUCHED: &[&str] = &["items: Integer(1) | Text(\"old\")"];
const SKIPPED: &[&str] = &[
    "items: Integer(1) | Text(\"old\")",
    "items: Integer(3) | Text(\"three\")",
];
const OVERWRITTEN: &[&str] = &[
    "items: Integer(1) | Text(\"new\")",
    "items: Integer(3) | Text(\"three\")",
];

/// `migplan ARGS…` in the workspace with `MIGPLAN_ENV` unset, so the
/// caller's environment never selects anything by accident.
fn migplan(ws: &Workspace, args: &[&str]) -> std::process::Output {
    ws.migplan()
        .env_remove("MIGPLAN_ENV")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn without_an_environment_the_plan_runs_as_written() {
    let ws = workspace();
    let out = migplan(&ws, &["run", "plan.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(items(&ws, "dev.db"), SKIPPED);
    assert_eq!(items(&ws, "prod.db"), UNTOUCHED);
}

#[test]
fn env_overrides_the_database_url_and_the_conflict_policy() {
    let ws = workspace();
    let out = migplan(&ws, &["run", "plan.toml", "--env", "prod"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(items(&ws, "prod.db"), OVERWRITTEN);
    assert_eq!(items(&ws, "dev.db"), UNTOUCHED);
}

#[test]
fn migplan_env_selects_when_the_flag_is_absent() {
    let ws = workspace();
    let out = ws
        .migplan()
        .env("MIGPLAN_ENV", "prod")
        .args(["run", "plan.toml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(items(&ws, "prod.db"), OVERWRITTEN);
    assert_eq!(items(&ws, "dev.db"), UNTOUCHED);
}

#[test]
fn the_flag_wins_over_migplan_env() {
    let ws = workspace();
    let out = ws
        .migplan()
        .env("MIGPLAN_ENV", "no-such-env")
        .args(["run", "plan.toml", "--env", "prod"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(items(&ws, "prod.db"), OVERWRITTEN);
}

#[test]
fn an_unknown_environment_is_an_error_naming_the_defined_ones() {
    let ws = workspace();
    let out = migplan(&ws, &["run", "plan.toml", "--env", "prd"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("unknown environment `prd` (selected with --env)"),
        "{err}"
    );
    assert!(err.contains("did you mean `prod`?"), "{err}");
    assert!(
        err.contains("`guarded`") && err.contains("`rehearsal`"),
        "{err}"
    );
    assert_eq!(items(&ws, "dev.db"), UNTOUCHED);
    assert_eq!(items(&ws, "prod.db"), UNTOUCHED);
}

#[test]
fn an_unknown_environment_from_migplan_env_names_the_variable() {
    let ws = workspace();
    let out = ws
        .migplan()
        .env("MIGPLAN_ENV", "qa")
        .args(["run", "plan.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("unknown environment `qa` (selected with MIGPLAN_ENV)"),
        "{err}"
    );
    assert_eq!(items(&ws, "dev.db"), UNTOUCHED);
}

#[test]
fn selecting_an_environment_in_a_plan_without_any_is_an_error() {
    let ws = workspace();
    let plain = PLAN.split("[env.").next().unwrap();
    ws.write("plain.toml", plain);
    let out = migplan(&ws, &["run", "plain.toml", "--env", "prod"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("the plan has no environments"), "{err}");
    assert_eq!(items(&ws, "dev.db"), UNTOUCHED);
}

#[test]
fn confirm_without_a_terminal_fails_without_yes_and_changes_nothing() {
    let ws = workspace();
    // The test's stdin and stderr are not terminals.
    let out = migplan(&ws, &["run", "plan.toml", "--env", "guarded"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("environment `guarded` (`confirm = true`) asks for confirmation"),
        "{err}"
    );
    assert!(err.contains("pass --yes to import"), "{err}");
    assert_eq!(items(&ws, "dev.db"), UNTOUCHED);
}

#[test]
fn confirm_with_yes_goes_ahead() {
    let ws = workspace();
    let out = migplan(&ws, &["run", "plan.toml", "--env", "guarded", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(items(&ws, "dev.db"), SKIPPED);
}

#[test]
fn confirm_does_not_stop_a_dry_run() {
    let ws = workspace();
    let out = migplan(&ws, &["run", "plan.toml", "--env", "guarded", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(items(&ws, "dev.db"), UNTOUCHED);
}

#[test]
fn confirm_does_not_ask_for_an_export_that_changes_nothing() {
    let ws = workspace();
    ws.write(
        "export.toml",
        "[database]\nurl = \"sqlite://dev.db\"\n[export]\noutput = \"out.json\"\n[env.guarded]\nconfirm = true\n",
    );
    let out = migplan(&ws, &["run", "export.toml", "--env", "guarded"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(ws.path("out.json").is_file());
}

#[test]
fn dry_run_environment_rolls_back_and_says_why() {
    let ws = workspace();
    let out = migplan(&ws, &["run", "plan.toml", "--env", "rehearsal"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("dry run because environment `rehearsal` sets `dry_run = true`"),
        "{err}"
    );
    assert!(stdout(&out).contains("dry run"), "{}", stdout(&out));
    assert_eq!(items(&ws, "dev.db"), UNTOUCHED);
}

#[test]
fn no_dry_run_overrides_the_environment() {
    let ws = workspace();
    let out = migplan(
        &ws,
        &["run", "plan.toml", "--env", "rehearsal", "--no-dry-run"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("dry run because"),
        "{}",
        stderr(&out)
    );
    assert_eq!(items(&ws, "dev.db"), SKIPPED);
}

#[test]
fn no_dry_run_and_dry_run_conflict() {
    let ws = workspace();
    let out = migplan(&ws, &["run", "plan.toml", "--dry-run", "--no-dry-run"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(items(&ws, "dev.db"), UNTOUCHED);
}

/// A migrate plan whose one script is pending on `fresh.db`.
fn schema_plan(ws: &Workspace) {
    ws.migrations(SCHEMA);
    ws.write(
        "schema.toml",
        "[plan]\nkind = \"migrate\"\n[database]\nurl = \"sqlite://fresh.db\"\n[schema]\nmigrations = \"migrations\"\n[env.prod]\nconfirm = true\n",
    );
}

fn has_items_table(ws: &Workspace) -> bool {
    ws.path("fresh.db").exists()
        && ws
            .open("fresh.db")
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'items'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
            == 1
}

#[test]
fn schema_up_asks_in_a_confirm_environment() {
    let ws = Workspace::new();
    schema_plan(&ws);
    let out = migplan(&ws, &["schema", "up", "schema.toml", "--env", "prod"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("pass --yes to create the database and apply its schema scripts"),
        "{err}"
    );
    // Refused before opening: not even an empty file is left behind.
    assert!(!ws.path("fresh.db").exists());
    // An existing database is asked about its pending scripts.
    ws.open("fresh.db")
        .execute_batch("CREATE TABLE other (id INTEGER);")
        .unwrap();
    let out = migplan(&ws, &["schema", "up", "schema.toml", "--env", "prod"]);
    let err = stderr(&out);
    assert!(
        err.contains("pass --yes to apply 1 pending schema script(s)"),
        "{err}"
    );
    assert!(!has_items_table(&ws));
    let out = migplan(
        &ws,
        &["schema", "up", "schema.toml", "--env", "prod", "--yes"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(has_items_table(&ws));
}

#[test]
fn run_of_a_migrate_plan_asks_before_applying_scripts() {
    let ws = Workspace::new();
    schema_plan(&ws);
    let out = migplan(&ws, &["run", "schema.toml", "--env", "prod"]);
    assert!(!out.status.success());
    assert!(
        !ws.path("fresh.db").exists(),
        "refused, yet the file was created"
    );
    let out = migplan(&ws, &["run", "schema.toml", "--env", "prod", "-y"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(has_items_table(&ws));
}

#[test]
fn plan_shows_the_environments_database() {
    let ws = workspace();
    let out = migplan(&ws, &["plan", "plan.toml", "--env", "prod"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("prod.db"), "{text}");
    assert!(text.contains("note: environment `prod`"), "{text}");
}

/// Line 8 holds the environment's bad value; line 2 the plan's own.
const BAD_ENV: &str = r#"[export]
format = "jsn"

[env.prod]
confirm = true

[env.prod.import]
conflict = "eror"

[env.qa.backup]
keep = 0
"#;

#[test]
fn validate_points_into_the_environment_and_names_it() {
    let ws = Workspace::new();
    ws.write("bad.toml", BAD_ENV);
    let out = migplan(&ws, &["validate", "bad.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("in environment `prod`: unknown conflict policy `eror`"),
        "{text}"
    );
    assert!(text.contains("bad.toml:8:12"), "{text}");
    assert!(
        text.contains("in environment `qa`: `[backup] keep` must be a positive whole number"),
        "{text}"
    );
    assert!(text.contains("bad.toml:11:8"), "{text}");
    // The plan's own problem once, not again for each environment.
    assert_eq!(
        text.matches("unknown export format `jsn`").count(),
        1,
        "{text}"
    );
    assert!(
        !text.contains("in environment `prod`: unknown export format"),
        "{text}"
    );
}

#[test]
fn validate_env_checks_one_environment() {
    let ws = Workspace::new();
    ws.write("bad.toml", BAD_ENV);
    let out = migplan(
        &ws,
        &["validate", "bad.toml", "--env", "qa", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("`[backup] keep`"), "{text}");
    assert!(!text.contains("eror"), "{text}");
}

#[test]
fn validate_accepts_every_environment_of_a_good_plan() {
    let ws = workspace();
    let out = migplan(&ws, &["validate", "plan.toml"]);
    assert!(out.status.success(), "{}", stdout(&out));
}

#[test]
fn backup_section_is_checked_with_positions() {
    let ws = Workspace::new();
    ws.write(
        "b.toml",
        "[backup]\nenabled = false\ndir = \"snapshots\"\nretention_days = 7\nkeep = 3\ncompression = \"zip\"\n",
    );
    let out = migplan(&ws, &["validate", "b.toml", "--format", "github"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("file=b.toml,line=6,col=15::unknown compression `zip`"),
        "{text}"
    );
    assert_eq!(
        text.lines().count(),
        1,
        "only the compression is wrong: {text}"
    );
    ws.write("b.toml", "[backup]\nenabled = \"no\"\n");
    let out = migplan(&ws, &["validate", "b.toml"]);
    assert!(stdout(&out).contains("b.toml:2:11"), "{}", stdout(&out));
}

#[test]
fn import_shortcut_accepts_yes() {
    let ws = workspace();
    let out = ws.import("dev.db", &["backup.json", "--yes", "--conflict", "skip"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(items(&ws, "dev.db"), SKIPPED);
}

/// clap checks flag definitions (duplicate shorts, `conflicts_with` naming
/// an unknown argument) only in debug builds; the tests run in release.
#[test]
fn the_flags_are_consistently_defined() {
    use clap::CommandFactory;
    migplan::cli::Cli::command().debug_assert();
}

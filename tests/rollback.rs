//! Automatic backups before change, and `migplan rollback`.

mod support;

use std::process::Output;

use serde_json::Value as Json;
use support::test::{Test, for_each_engine};
use support::{Workspace, stderr, stdout};

const ITEMS: &str = "CREATE TABLE items (id INTEGER PRIMARY KEY, v VARCHAR(20) NOT NULL)";

/// `dst.db` holds items 1 and 2; `b.json` changes item 2 and adds item 3.
fn workspace() -> Workspace {
    let ws = Workspace::new();
    backup(&ws);
    let dst = ws.open("dst.db");
    dst.execute_batch(ITEMS).unwrap();
    dst.execute_batch("INSERT INTO items VALUES (1, 'one'), (2, 'two')")
        .unwrap();
    ws
}

/// `b.json`, which changes item 2 and adds item 3.
fn backup(ws: &Workspace) {
    let src = ws.open("src.db");
    src.execute_batch(ITEMS).unwrap();
    src.execute_batch("INSERT INTO items VALUES (2, 'changed'), (3, 'added')")
        .unwrap();
    ws.export("src.db", "b.json");
}

fn run(ws: &Workspace, args: &[&str]) -> Output {
    ws.migplan().args(args).output().unwrap()
}

fn history(ws: &Workspace, url: &str) -> Vec<Json> {
    let out = run(ws, &["history", "--db", url, "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    support::json_result(&stdout(&out))
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn an_import_takes_a_private_backup_first_and_rollback_restores_it() {
    let ws = workspace();
    let url = ws.url("dst.db");
    let before = support::dump(&ws.open("dst.db"));
    let out = run(
        &ws,
        &["import", "--db", &url, "b.json", "--conflict", "overwrite"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_ne!(support::dump(&ws.open("dst.db")), before);

    let runs = history(&ws, &url);
    let backup = std::path::PathBuf::from(runs[0]["backup"].as_str().unwrap());
    assert!(backup.is_absolute() && backup.exists(), "{backup:?}");
    assert!(backup.to_string_lossy().ends_with(".json.zst"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Without a terminal, rollback needs --yes; nothing changes meanwhile.
    let refused = run(&ws, &["rollback", "1", "--db", &url]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert_ne!(support::dump(&ws.open("dst.db")), before);

    let out = run(
        &ws,
        &["rollback", "1", "--db", &url, "--yes", "-m", "bad data"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        support::dump(&ws.open("dst.db")),
        before,
        "rows 2 and 3 as before"
    );
    let runs = history(&ws, &url);
    assert_eq!(runs[0]["kind"], "rollback");
    // Its own message kept, and the run it undid named all the same.
    assert_eq!(runs[0]["message"], "bad data");
    let note = runs[0]["notes"][0].as_str().unwrap();
    assert!(note.starts_with("undoes run 1 (import of plan "), "{note}");
    let page = stdout(&run(&ws, &["history", "2", "--db", &url]));
    assert!(page.starts_with("run 2 — rollback succeeded\n"), "{page}");
    assert!(page.contains("undoes run 1"), "{page}");
    assert!(
        page.lines().any(|l| l.trim_start().starts_with("total")),
        "{page}"
    );
    assert!(!page.contains('{'), "a page, not JSON: {page}");
    assert_eq!(runs[0]["status"], "succeeded");
    assert_eq!(runs[1]["status"], "rolled_back");

    let again = run(&ws, &["rollback", "1", "--db", &url, "--yes"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already rolled back"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn rollback_refuses_while_a_later_run_changed_the_database() {
    let ws = workspace();
    let url = ws.url("dst.db");
    assert!(
        run(
            &ws,
            &["import", "--db", &url, "b.json", "--conflict", "overwrite"]
        )
        .status
        .success()
    );
    assert!(
        run(
            &ws,
            &["import", "--db", &url, "b.json", "--conflict", "skip"]
        )
        .status
        .success()
    );
    let after = support::dump(&ws.open("dst.db"));
    let out = run(&ws, &["rollback", "1", "--db", &url, "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("2 (import)") && stderr(&out).contains("--force"),
        "{}",
        stderr(&out)
    );
    assert_eq!(support::dump(&ws.open("dst.db")), after);
    let forced = run(&ws, &["rollback", "1", "--db", &url, "--yes", "--force"]);
    assert!(forced.status.success(), "{}", stderr(&forced));
}

#[test]
fn an_unknown_run_is_a_clear_error() {
    let ws = workspace();
    let out = run(&ws, &["rollback", "7", "--db", &ws.url("dst.db"), "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no run 7"), "{}", stderr(&out));
}

/// A plan whose backup folder cannot be created: the run does not start.
#[test]
fn an_unwritable_backup_folder_stops_the_run_before_any_change() {
    let ws = workspace();
    std::fs::write(ws.path("not-a-folder"), "x").unwrap();
    ws.write(
        "p.toml",
        &format!(
            "[plan]\nname = \"p\"\nkind = \"import\"\n[database]\nurl = \"{}\"\n[import]\nfile = \"b.json\"\nconflict = \"overwrite\"\n[backup]\ndir = \"not-a-folder/sub\"\n",
            ws.url("dst.db")
        ),
    );
    let before = support::dump(&ws.open("dst.db"));
    let out = run(&ws, &["run", "p.toml"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("backup folder"), "{}", stderr(&out));
    assert_eq!(support::dump(&ws.open("dst.db")), before);
    assert_eq!(history(&ws, &ws.url("dst.db"))[0]["status"], "failed");
}

#[test]
fn backups_can_be_turned_off_and_are_pruned_to_keep() {
    let ws = workspace();
    let plan = |extra: &str| {
        ws.write(
            "p.toml",
            &format!(
                "[plan]\nname = \"p\"\nkind = \"import\"\n[database]\nurl = \"{}\"\n[import]\nfile = \"b.json\"\nconflict = \"skip\"\n[backup]\ndir = \"kept\"\n{extra}",
                ws.url("dst.db")
            ),
        );
    };
    plan("keep = 2\n");
    for _ in 0..4 {
        assert!(run(&ws, &["run", "p.toml"]).status.success());
    }
    assert_eq!(std::fs::read_dir(ws.path("kept")).unwrap().count(), 2);
    plan("enabled = false\n");
    assert!(run(&ws, &["run", "p.toml"]).status.success());
    assert_eq!(std::fs::read_dir(ws.path("kept")).unwrap().count(), 2);
    assert!(history(&ws, &ws.url("dst.db"))[0]["backup"].is_null());
}

/// A migrate run that applied V2 is rolled back: its undo script runs, and
/// the rows are those of before.
#[test]
fn rolling_back_a_schema_change_runs_its_undo_script_and_restores_rows() {
    let ws = Workspace::new();
    ws.write("m/V1__items.sql", ITEMS);
    ws.write("m/V2__tags.sql", "CREATE TABLE tags (id INTEGER PRIMARY KEY);\nINSERT INTO tags VALUES (1);\nDELETE FROM items WHERE id = 1;");
    ws.write("m/V2__tags.undo.sql", "DROP TABLE tags;");
    let plan = |target: i64| {
        ws.write(
            "p.toml",
            &format!(
                "[plan]\nname = \"p\"\nkind = \"migrate\"\n[database]\nurl = \"{}\"\n[schema]\nmigrations = \"m\"\ntarget = {target}\n",
                ws.url("db.sqlite")
            ),
        );
    };
    plan(1);
    assert!(run(&ws, &["run", "p.toml"]).status.success());
    ws.open("db.sqlite")
        .execute_batch("INSERT INTO items VALUES (1, 'one')")
        .unwrap();
    let before = support::dump(&ws.open("db.sqlite"));
    plan(2);
    let out = run(&ws, &["run", "p.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let runs = history(&ws, &ws.url("db.sqlite"));
    assert_eq!(
        (
            runs[0]["schema_before"].as_i64(),
            runs[0]["schema_after"].as_i64()
        ),
        (Some(1), Some(2))
    );
    let id = runs[0]["id"].to_string();

    let no_plan = run(
        &ws,
        &["rollback", &id, "--db", &ws.url("db.sqlite"), "--yes"],
    );
    assert_eq!(no_plan.status.code(), Some(2));
    assert!(
        stderr(&no_plan).contains("pass its plan"),
        "{}",
        stderr(&no_plan)
    );

    let out = run(&ws, &["rollback", "p.toml", &id, "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(support::dump(&ws.open("db.sqlite")), before);
    let tags: i64 = ws
        .open("db.sqlite")
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'tags'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tags, 0);
    let st = run(&ws, &["schema", "status", "p.toml"]);
    assert!(!stdout(&st).contains("applied  V2"), "{}", stdout(&st));
}

#[test]
fn rollback_of_an_import() {
    for_each_engine(|engine| {
        let db = Test::on(engine)
            .schema(ITEMS)
            .rows("INSERT INTO items VALUES (1, 'one'), (2, 'two')");
        backup(&db.ws);
        let before = db.dump();
        db.import(["b.json", "--conflict", "overwrite"]).success();
        assert_ne!(db.dump(), before);
        db.migplan(["rollback", "1", "--db", db.url(), "--yes"])
            .success();
        assert_eq!(db.dump(), before);
    });
}

/// A small filesystem mounted for one test, unmounted when dropped.
struct SmallFs(std::path::PathBuf);

impl SmallFs {
    /// Needs root (CI runs as root); elsewhere the test says it skips.
    fn mount(dir: std::path::PathBuf) -> Option<SmallFs> {
        std::fs::create_dir_all(&dir).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but a 64 KiB tmpfs cannot be mounted (needs root)"
            );
            eprintln!("SKIPPED: cannot mount a small tmpfs here (needs root)");
            return None;
        }
        Some(SmallFs(dir))
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// The backup folder's disk lacks room for the backup: the run does not
/// start, says how much it needs, and changes nothing.
#[test]
fn a_full_backup_disk_stops_the_run_before_any_change() {
    let ws = workspace();
    {
        let db = ws.open("dst.db");
        let tx = db.unchecked_transaction().unwrap();
        for i in 10..20_000 {
            tx.execute("INSERT INTO items VALUES (?1, 'padding padding')", [i])
                .unwrap();
        }
        tx.commit().unwrap();
    }
    let Some(_fs) = SmallFs::mount(ws.path("small")) else {
        return;
    };
    ws.write(
        "p.toml",
        &format!(
            "[plan]\nname = \"p\"\nkind = \"import\"\n[database]\nurl = \"{}\"\n[import]\nfile = \"b.json\"\nconflict = \"overwrite\"\n[backup]\ndir = \"small\"\n",
            ws.url("dst.db")
        ),
    );
    let before = support::dump(&ws.open("dst.db"));
    let out = run(&ws, &["run", "p.toml"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("free") && err.contains("needs up to"), "{err}");
    assert_eq!(support::dump(&ws.open("dst.db")), before);
}

//! A missing, unreadable or malformed input file stops a run before the
//! backup before change is written and before any schema script runs.

mod support;

use support::{Workspace, stderr};

/// `db.sqlite` at schema version 1 with a row; V2 is pending; `p.toml`
/// imports into it, backing up into `bk/` first.
fn workspace() -> Workspace {
    let ws = Workspace::new();
    ws.write(
        "migrations/V1__items.sql",
        "CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT NOT NULL);",
    );
    ws.write(
        "p.toml",
        "[plan]\nkind = \"import\"\n[database]\nurl = \"sqlite://db.sqlite\"\n[schema]\nmigrations = \"migrations\"\n[import]\nconflict = \"skip\"\n[backup]\ndir = \"bk\"\n",
    );
    let out = ws
        .migplan()
        .args(["schema", "up", "p.toml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    ws.open("db.sqlite")
        .execute("INSERT INTO items VALUES (1, 'one')", [])
        .unwrap();
    ws.write(
        "migrations/V2__more.sql",
        "CREATE TABLE more (id INTEGER PRIMARY KEY);",
    );
    ws
}

/// Nothing happened: no backup, V2 still pending, the row as it was.
fn untouched(ws: &Workspace) {
    let backups = std::fs::read_dir(ws.path("bk"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(backups, 0, "a backup before change was written");
    let db = ws.open("db.sqlite");
    let version: i64 = db
        .query_row(
            "SELECT max(version) FROM refinery_schema_history",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(version, 1, "a schema script ran");
    assert_eq!(support::count(&db, "items"), 1);
}

#[test]
fn bad_input_files_stop_a_run_before_backup_and_scripts() {
    let ws = workspace();
    ws.write("garbage.json", "this is not a backup");
    ws.write(
        "cut.json",
        "{\"meta\": {\"format\": \"migplan\", \"version\": 2,",
    );
    ws.write("fake.xlsx", "PK\u{3}\u{4} not really a zip");
    std::fs::create_dir_all(ws.path("empty-folder")).unwrap();
    for (file, says) in [
        ("missing.json", "missing.json"),
        ("garbage.json", "garbage.json"),
        ("cut.json", "cut.json"),
        ("fake.xlsx", "fake.xlsx"),
        ("empty-folder", "empty-folder"),
    ] {
        let out = ws
            .migplan()
            .args(["run", "p.toml", "--file", file])
            .output()
            .unwrap();
        assert_ne!(out.status.code(), Some(0), "{file}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{file}: {}", stderr(&out));
        untouched(&ws);
    }
}

#[test]
fn a_missing_file_stops_a_plan_less_import_before_its_backup() {
    let ws = workspace();
    let out = ws
        .migplan()
        .args(["import", "--db", &ws.url("db.sqlite"), "missing.json"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("missing.json"), "{}", stderr(&out));
    assert!(
        !ws.path("backups").exists(),
        "a backup before change was written"
    );
}

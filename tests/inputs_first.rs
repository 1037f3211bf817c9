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

/// `b.json` from a SQLite table `items`, its meta edited by `edit`, written
/// back pretty-printed as migplan writes it.
fn edited_backup(ws: &Workspace, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let src = ws.open("src.db");
    src.execute_batch(
        "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, v TEXT NOT NULL);
         INSERT OR IGNORE INTO items VALUES (2, 'two');",
    )
    .unwrap();
    ws.export("src.db", "b.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("b.json")).unwrap()).unwrap();
    edit(&mut v["meta"]);
    // `meta` first, as the format wants it (a Value's keys come sorted).
    let text = format!(
        "{{\"meta\": {},\n\"data\": {},\n\"summary\": {}}}",
        serde_json::to_string_pretty(&v["meta"]).unwrap(),
        v["data"],
        v["summary"]
    );
    std::fs::write(ws.path("b.json"), &text).unwrap();
    text
}

/// 1-based line and column of the first `needle` after `after` in `text`.
fn place(text: &str, after: &str, needle: &str) -> String {
    let start = text.find(after).unwrap();
    let i = start + text[start..].find(needle).unwrap();
    let before = &text[..i];
    let line = before.matches('\n').count() + 1;
    let col = i - before.rfind('\n').map_or(0, |n| n + 1) + 1;
    format!("b.json:{line}:{col}")
}

#[test]
fn a_backup_meta_is_checked_whole_and_its_problem_located() {
    type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;
    let cases: Vec<(Edit, &str, &str)> = vec![
        (
            Box::new(|m| m["schema_version"] = "1".into()),
            "\"schema_version\"",
            "meta.schema_version: `schema_version` must be a whole number",
        ),
        (
            Box::new(|m| m["exported_at"] = "last tuesday".into()),
            "\"exported_at\"",
            "is not an RFC 3339 date",
        ),
        (
            Box::new(|m| m["export_type"] = "partial".into()),
            "\"export_type\"",
            "`export_type` \"partial\" is not one of full, incremental, modules",
        ),
        (
            Box::new(|m| m["source_engine"] = "oracle".into()),
            "\"source_engine\"",
            "`source_engine` \"oracle\"",
        ),
        (
            Box::new(|m| m["tables"][0]["primary_key"] = serde_json::json!(["nope"])),
            "\"primary_key\"",
            "meta.tables[items].primary_key: `primary_key` of `items` names column `nope`",
        ),
        (
            Box::new(|m| m["tables"][0]["primary_key"] = serde_json::json!(["id", "id"])),
            "\"primary_key\"",
            "names column `id` twice",
        ),
    ];
    for (edit, field, says) in cases {
        let ws = workspace();
        let text = edited_backup(&ws, edit);
        let out = ws
            .migplan()
            .args(["run", "p.toml", "--file", "b.json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{says}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(says), "{err}");
        assert!(err.contains(&place(&text, "\"meta\"", field)), "{err}");
        untouched(&ws);
    }
}

#[test]
fn a_meta_key_given_twice_is_refused_at_its_place() {
    let ws = workspace();
    let text = edited_backup(&ws, |_| {});
    let text = text.replacen(
        "\"export_type\": \"full\",",
        "\"export_type\": \"full\",\n  \"export_type\": \"incremental\",",
        1,
    );
    std::fs::write(ws.path("b.json"), &text).unwrap();
    let out = ws
        .migplan()
        .args(["run", "p.toml", "--file", "b.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    let line = text
        .lines()
        .position(|l| l.contains("\"incremental\""))
        .unwrap()
        + 1;
    assert!(err.contains(&format!("b.json:{line}:")), "{err}");
    assert!(err.contains("`export_type` twice"), "{err}");
    untouched(&ws);
}

//! Excel workbooks through the real binary: export, edit, import.

mod support;

use std::path::Path;

use calamine::{Data, Reader, Xlsx, open_workbook};
use rust_xlsxwriter::Workbook;
use support::{Workspace, count, dump, repo_root, stderr, stdout};

const SCHEMA: &str = r#"
CREATE TABLE parents (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE awkward (
  id INTEGER PRIMARY KEY,
  i INTEGER, f REAL, d DECIMAL(40,10), t TEXT, b BLOB, flag BOOLEAN,
  ts TIMESTAMP, day DATE, anything,
  parent_id INTEGER REFERENCES parents(id)
);
"#;

fn seeded(ws: &Workspace, rel: &str) {
    let conn = ws.open(rel);
    conn.execute_batch(SCHEMA).unwrap();
    conn.execute_batch(
        r#"
        INSERT INTO parents VALUES (1, '张三'), (2, 'Zoë 😀');
        INSERT INTO awkward VALUES
          (1, -9223372036854775808, 0.1, '12345678901234567890.1234567890', '题目：下列说法正确的是（ ）', x'00ff10', 1, '2025-06-01 12:34:56.123456', '2024-02-29', 42, 1),
          (2, 9223372036854775807, -0.0, '-0.0000000001', '=HYPERLINK("http://x","y")', x'', 0, '2025-06-01 12:34:56', '1899-12-31', 'text', 2),
          (3, 0, 1e308, '0', '', NULL, NULL, NULL, NULL, 1.5, NULL),
          (4, NULL, 5e-324, NULL, '+1', x'deadbeef', 1, '2025-01-01 00:00:00', '2025-01-01', x'0102', NULL),
          (5, 7, -1e-300, '1.50', '@sum(a1)', 'text in a blob column', 1, 'not a date', 'also not', NULL, 1);
        "#,
    )
    .unwrap();
}

fn sheet_names(path: &Path) -> Vec<String> {
    let book: Xlsx<_> = open_workbook(path).unwrap();
    book.sheet_names().to_vec()
}

#[test]
fn awkward_values_round_trip_through_a_workbook_exactly() {
    let ws = Workspace::new();
    seeded(&ws, "src.db");
    ws.export("src.db", "b.xlsx");
    // `_marks` holds the cells whose type alone would not bring them back
    // (text in a blob column, an empty string…).
    assert_eq!(
        sheet_names(&ws.path("b.xlsx")),
        ["parents", "awkward", "_meta", "_marks"]
    );
    ws.open("dst.db").execute_batch(SCHEMA).unwrap();
    let out = ws.import("dst.db", &["b.xlsx"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(dump(&ws.open("src.db")), dump(&ws.open("dst.db")));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(ws.path("b.xlsx"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn formula_looking_text_is_written_as_inert_text() {
    let ws = Workspace::new();
    seeded(&ws, "src.db");
    ws.export("src.db", "b.xlsx");
    let mut book: Xlsx<_> = open_workbook(ws.path("b.xlsx")).unwrap();
    let formulas = book.worksheet_formula("awkward").unwrap();
    assert!(
        formulas.used_cells().all(|(_, _, f)| f.is_empty()),
        "a cell became a formula"
    );
    let range = book.worksheet_range("awkward").unwrap();
    let texts: Vec<&Data> = range.rows().map(|r| &r[4]).collect();
    assert!(texts.contains(&&Data::String("=HYPERLINK(\"http://x\",\"y\")".into())));
    assert!(texts.contains(&&Data::String("+1".into())));
}

/// The tiku demo as its plan exports it: sheets named by the plan.
fn tiku_workbook(ws: &Workspace) -> std::path::PathBuf {
    let migrations = repo_root().join("examples/tiku/migrations/{engine}");
    let seed = repo_root().join("examples/tiku/fixtures/demo-seed.json");
    let plan = format!(
        "[plan]\nkind = \"export\"\n[database]\nurl = \"sqlite://tiku.db\"\nseed = {:?}\n\
         [schema]\nmigrations = {:?}\n[export]\nformat = \"xlsx\"\noutput = \"tiku.xlsx\"\n\
         [tables.users]\nsheet = \"用户信息\"\n[tables.questions]\nsheet = \"题目数据\"\n\
         [tables.practices]\nsheet = \"练习记录\"\n",
        seed.display().to_string(),
        migrations.display().to_string()
    );
    let path = ws.write("export.toml", &plan);
    let out = ws
        .migplan()
        .args(["run", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    ws.path("tiku.xlsx")
}

fn import_plan(ws: &Workspace, conflict: &str) -> std::path::PathBuf {
    let migrations = repo_root().join("examples/tiku/migrations/{engine}");
    let plan = format!(
        "[plan]\nkind = \"import\"\n[schema]\nmigrations = {:?}\n[import]\nconflict = \"{conflict}\"\n\
         [tables.users]\nsheet = \"用户信息\"\n[tables.questions]\nsheet = \"题目数据\"\n\
         [tables.practices]\nsheet = \"练习记录\"\n",
        migrations.display().to_string()
    );
    ws.write(&format!("import-{conflict}.toml"), &plan)
}

fn run_import(
    ws: &Workspace,
    plan: &Path,
    db: &str,
    file: &Path,
    extra: &[&str],
) -> std::process::Output {
    ws.migplan()
        .args(["run", plan.to_str().unwrap(), "--db", &ws.url(db)])
        .args(["--file", file.to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn tiku_workbook_has_the_plan_s_sheet_names_and_imports_back_identically() {
    let ws = Workspace::new();
    let book = tiku_workbook(&ws);
    let names = sheet_names(&book);
    for s in ["用户信息", "题目数据", "练习记录", "categories", "_meta"] {
        assert!(names.iter().any(|n| n == s), "{s} missing from {names:?}");
    }
    let plan = import_plan(&ws, "error");
    let out = run_import(&ws, &plan, "copy.db", &book, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let tables = [
        "users",
        "categories",
        "question_books",
        "questions",
        "practices",
        "practice_details",
        "mistakes",
        "weaknesses",
    ];
    let (a, b) = (ws.open("tiku.db"), ws.open("copy.db"));
    for t in tables {
        assert!(count(&a, t) > 0, "{t}");
    }
    // Everything but refinery's own history is identical.
    let strip = |d: Vec<String>| -> Vec<String> {
        d.into_iter()
            .filter(|l| !l.contains("refinery_schema_history"))
            .collect()
    };
    assert_eq!(strip(dump(&a)), strip(dump(&b)));
}

#[test]
fn a_workbook_import_follows_the_conflict_policy_and_reports_as_json() {
    let ws = Workspace::new();
    let book = tiku_workbook(&ws);
    let skip = import_plan(&ws, "skip");
    let out = run_import(&ws, &skip, "tiku.db", &book, &["--report", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = support::import_report(&stdout(&out));
    let users = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "users")
        .unwrap();
    assert_eq!(users["inserted"], 0);
    // The workbook holds the database's own rows: identical, none skipped.
    assert!(users["identical"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(users["skipped"], 0, "{report}");

    let error = import_plan(&ws, "error");
    let before = dump(&ws.open("tiku.db"));
    let out = run_import(&ws, &error, "tiku.db", &book, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("conflict"), "{}", stderr(&out));
    assert_eq!(dump(&ws.open("tiku.db")), before);
}

#[test]
fn a_hand_made_workbook_with_bad_cells_lists_every_problem_and_writes_nothing() {
    let ws = Workspace::new();
    let conn = ws.open("t.db");
    conn.execute_batch(SCHEMA).unwrap();
    conn.execute("INSERT INTO parents VALUES (9, 'kept')", [])
        .unwrap();
    let before = dump(&conn);
    let mut wb = Workbook::new();
    let parents = wb.add_worksheet().set_name("parents").unwrap();
    parents.write_string(0, 0, "name").unwrap();
    parents.write_string(0, 1, "id").unwrap();
    parents.write_string(1, 0, "ok").unwrap();
    parents.write_string(1, 1, " 3 ").unwrap(); // a number typed as text: fine
    parents.write_string(2, 0, "bad id").unwrap();
    parents.write_string(2, 1, "three").unwrap(); // B3: not an integer
    let awkward = wb.add_worksheet().set_name("awkward").unwrap();
    for (c, h) in [
        "id",
        "i",
        "f",
        "d",
        "t",
        "b",
        "flag",
        "ts",
        "day",
        "anything",
        "parent_id",
    ]
    .iter()
    .enumerate()
    {
        awkward.write_string(0, c as u16, *h).unwrap();
    }
    awkward.write_number(1, 0, 1).unwrap();
    awkward.write_number(1, 1, 2.5).unwrap(); // B2: not an integer
    awkward.write_string(1, 8, "2024-13-45").unwrap(); // I2: not a date
    awkward.write_string(1, 6, "maybe").unwrap(); // G2: not a boolean
    wb.save(ws.path("edited.xlsx")).unwrap();

    let out = ws.import("t.db", &["edited.xlsx"]);
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    for cell in ["parents!B3", "awkward!B2", "awkward!I2", "awkward!G2"] {
        assert!(err.contains(cell), "{cell} not named:\n{err}");
    }
    assert!(err.contains("4 problems"), "{err}");
    assert_eq!(dump(&ws.open("t.db")), before);
    assert_eq!(count(&ws.open("t.db"), "awkward"), 0);
}

#[test]
fn an_empty_cell_in_a_not_null_column_is_a_problem_but_empty_text_is_an_empty_string() {
    let ws = Workspace::new();
    let conn = ws.open("t.db");
    conn.execute_batch("CREATE TABLE items (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL, note TEXT NOT NULL, extra INTEGER);")
        .unwrap();
    let mut wb = Workbook::new();
    let items = wb.add_worksheet().set_name("items").unwrap();
    for (c, h) in ["id", "qty", "note", "extra"].iter().enumerate() {
        items.write_string(0, c as u16, *h).unwrap();
    }
    items.write_number(1, 0, 1).unwrap();
    items.write_number(1, 1, 5).unwrap(); // note empty: "" (NOT NULL text)
    items.write_number(2, 0, 2).unwrap(); // qty empty: a problem
    items.write_string(2, 2, "x").unwrap();
    wb.save(ws.path("items.xlsx")).unwrap();

    let out = ws.import("t.db", &["items.xlsx"]);
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains("items!B3") && err.contains("NOT NULL"),
        "{err}"
    );
    assert!(err.contains("1 problem"), "{err}");
    assert_eq!(count(&ws.open("t.db"), "items"), 0);

    // Filled in, it imports; the empty text cell is an empty string and the
    // empty nullable cell NULL.
    let mut wb = Workbook::new();
    let items = wb.add_worksheet().set_name("items").unwrap();
    for (c, h) in ["id", "qty", "note", "extra"].iter().enumerate() {
        items.write_string(0, c as u16, *h).unwrap();
    }
    items.write_number(1, 0, 1).unwrap();
    items.write_number(1, 1, 5).unwrap();
    wb.save(ws.path("items.xlsx")).unwrap();
    let out = ws.import("t.db", &["items.xlsx"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let row: (String, Option<i64>) = ws
        .open("t.db")
        .query_row("SELECT note, extra FROM items WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(row, (String::new(), None));
}

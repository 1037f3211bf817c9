//! Workbooks that must be refused whole: formulas, broken packages, full
//! disks, oversized parts. Each runs the real binary on real SQLite files
//! (formulas on every engine).

mod support;

use std::path::Path;
use std::process::Command as Std;

use rust_xlsxwriter::{Formula, Workbook};
use support::test::{Test, for_each_engine};
use support::{Workspace, count, dump, stderr};

const SCHEMA: &str = "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);";

/// A target database holding one row, to show nothing changed.
fn target(ws: &Workspace) {
    let db = ws.open("dst.db");
    db.execute_batch(SCHEMA).unwrap();
    db.execute("INSERT INTO users VALUES (100, 'before')", [])
        .unwrap();
}

/// Runs a Python script with `args`; `None` when openpyxl is missing
/// (visibly skipped; a failure under `CI=true`).
fn openpyxl(script: &str, args: &[&Path]) -> Option<String> {
    let ok = Std::new("python3")
        .args(["-c", "import openpyxl"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "openpyxl is required under CI=true: pip install openpyxl"
        );
        eprintln!("SKIPPED: openpyxl not installed");
        return None;
    }
    let out = Std::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

/// Asserts the import failed with exit 1, listing every `expected` text,
/// and left the target as it was.
fn assert_refused(ws: &Workspace, out: &std::process::Output, expected: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for e in expected {
        assert!(err.contains(e), "missing {e:?} in:\n{err}");
    }
    let db = ws.open("dst.db");
    assert_eq!(count(&db, "users"), 1, "{err}");
    assert_eq!(dump(&db), ["users: Integer(100) | Text(\"before\")"]);
}

/// A workbook of `users` whose names are formulas saved with cached values
/// (as Excel saves them).
fn formula_book(path: &Path) {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("users").unwrap();
    sheet.write_string(0, 0, "id").unwrap();
    sheet.write_string(0, 1, "name").unwrap();
    let rows = [
        ("=1+1", "2"),
        ("=HYPERLINK(\"http://evil.example/\",\"click\")", "click"),
        ("=cmd|' /C calc'!A0", "0"),
        ("=users!A2", "1"),
    ];
    for (i, (formula, cached)) in rows.iter().enumerate() {
        let row = i as u32 + 1;
        sheet.write_number(row, 0, f64::from(row)).unwrap();
        sheet
            .write_formula(row, 1, Formula::new(*formula).set_result(*cached))
            .unwrap();
    }
    book.save(path).unwrap();
}

const FORMULA_PROBLEMS: [&str; 6] = [
    "4 problems",
    "users!B2: a formula (=1+1)",
    "users!B3: a formula (=HYPERLINK(\"http://evil.example/\",\"click\"))",
    "users!B4: a formula (=cmd|' /C calc'!A0)",
    "users!B5: a formula (=users!A2)",
    "Paste Special",
];

/// The cached value of a formula is never taken for data.
#[test]
fn formulas_with_cached_values_are_refused_and_nothing_is_written() {
    for_each_engine(|engine| {
        let db = Test::on(engine)
            .schema(SCHEMA)
            .rows("INSERT INTO users VALUES (100, 'before')");
        let before = db.dump();
        formula_book(&db.ws.path("f.xlsx"));
        let err = db.import(["f.xlsx"]).failure().stderr();
        for e in FORMULA_PROBLEMS {
            assert!(err.contains(e), "missing {e:?} in:\n{err}");
        }
        assert_eq!(db.count("users"), 1, "{err}");
        assert_eq!(db.dump(), before);
    });
}

/// A migplan workbook edited with openpyxl: formulas typed in without
/// cached values (openpyxl computes none) are refused; a text cell whose
/// string starts with `=` is data, as migplan itself writes such text.
#[test]
fn formulas_typed_in_with_openpyxl_are_refused_but_text_starting_with_equals_is_data() {
    let ws = Workspace::new();
    ws.open("src.db").execute_batch(SCHEMA).unwrap();
    ws.open("src.db")
        .execute_batch("INSERT INTO users VALUES (1, 'a'), (2, '=not a formula');")
        .unwrap();
    ws.export("src.db", "b.xlsx");
    let edit = r#"
import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
ws = wb["users"]
ws["B2"] = "=1+1"
ws["A4"] = 3
ws["B4"] = "=cmd|' /C calc'!A0"
wb.save(sys.argv[2])
"#;
    if openpyxl(edit, &[&ws.path("b.xlsx"), &ws.path("bad.xlsx")]).is_none() {
        return;
    }
    target(&ws);
    let out = ws.import("dst.db", &["bad.xlsx"]);
    assert_refused(
        &ws,
        &out,
        &[
            "2 problems",
            "users!B2: a formula (=1+1)",
            "users!B4: a formula (=cmd|' /C calc'!A0)",
        ],
    );

    // Text typed as text (`data_type = "s"`), in the same kind of cell.
    let only_text = r#"
import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
c = wb["users"]["B3"]
c.value = "=SUM(A1:A2)"
c.data_type = "s"
wb.save(sys.argv[2])
"#;
    openpyxl(only_text, &[&ws.path("b.xlsx"), &ws.path("text.xlsx")]).unwrap();
    ws.open("dst.db").execute("DELETE FROM users", []).unwrap();
    let out = ws.import("dst.db", &["text.xlsx"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        dump(&ws.open("dst.db")),
        [
            "users: Integer(1) | Text(\"a\")",
            "users: Integer(2) | Text(\"=SUM(A1:A2)\")"
        ]
    );
}

/// A copy of the workbook `from` without the parts `drop` (python's zipfile).
fn without_parts(from: &Path, to: &Path, drop: &[&str]) {
    let script = r#"
import sys, zipfile
src, dst, drop = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as b:
    for item in a.infolist():
        if item.filename not in drop:
            b.writestr(item, a.read(item.filename))
"#;
    let out = Std::new("python3")
        .arg("-c")
        .arg(script)
        .arg(from)
        .arg(to)
        .args(drop)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An export of `users` with two rows, as `b.xlsx`.
fn exported(ws: &Workspace) {
    let src = ws.open("src.db");
    src.execute_batch(SCHEMA).unwrap();
    src.execute_batch("INSERT INTO users VALUES (1, 'a'), (2, 'b');")
        .unwrap();
    ws.export("src.db", "b.xlsx");
}

#[test]
fn a_workbook_without_its_workbook_part_is_refused_naming_the_file() {
    let ws = Workspace::new();
    exported(&ws);
    without_parts(
        &ws.path("b.xlsx"),
        &ws.path("cut.xlsx"),
        &["xl/workbook.xml"],
    );
    target(&ws);
    let out = ws.import("dst.db", &["cut.xlsx"]);
    assert_refused(
        &ws,
        &out,
        &["cut.xlsx: not a complete Excel workbook (.xlsx): the part `xl/workbook.xml` is missing"],
    );
    assert!(!stderr(&out).contains("total"), "{}", stderr(&out));
}

#[test]
fn a_workbook_without_a_sheet_s_part_is_refused_naming_the_file_and_sheet() {
    let ws = Workspace::new();
    exported(&ws);
    without_parts(
        &ws.path("b.xlsx"),
        &ws.path("cut.xlsx"),
        &["xl/worksheets/sheet1.xml"],
    );
    target(&ws);
    let out = ws.import("dst.db", &["cut.xlsx"]);
    assert_refused(
        &ws,
        &out,
        &["cut.xlsx: not a complete Excel workbook (.xlsx): sheet users cannot be read"],
    );
}

#[test]
fn a_cut_short_workbook_is_refused_naming_the_file() {
    let ws = Workspace::new();
    exported(&ws);
    let bytes = std::fs::read(ws.path("b.xlsx")).unwrap();
    std::fs::write(ws.path("cut.xlsx"), &bytes[..bytes.len() / 2]).unwrap();
    target(&ws);
    let out = ws.import("dst.db", &["cut.xlsx"]);
    assert_refused(
        &ws,
        &out,
        &["cut.xlsx: not a readable Excel workbook (.xlsx): not a zip archive"],
    );
}

/// A small filesystem mounted for one test, unmounted when dropped.
struct SmallFs(std::path::PathBuf);

impl SmallFs {
    /// Needs root (CI runs as root); elsewhere the test says it skips.
    fn mount(dir: std::path::PathBuf, size: &str) -> Option<SmallFs> {
        std::fs::create_dir_all(&dir).unwrap();
        let ok = Std::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but a small tmpfs cannot be mounted (needs root)"
            );
            eprintln!("SKIPPED: cannot mount a small tmpfs here (needs root)");
            return None;
        }
        Some(SmallFs(dir))
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Std::new("umount").arg(&self.0).status();
    }
}

/// The disk fills while rust_xlsxwriter spools a sheet's rows (it panics
/// on that write): exit 1 naming the file, no panic, and neither the
/// workbook nor a temporary file left behind.
#[test]
fn a_disk_that_fills_during_a_workbook_export_is_an_error_and_leaves_no_file() {
    let ws = Workspace::new();
    let src = ws.open("src.db");
    src.execute_batch(SCHEMA).unwrap();
    src.execute_batch(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
         INSERT INTO users SELECT i, 'padding padding padding ' || i FROM n;",
    )
    .unwrap();
    let Some(_fs) = SmallFs::mount(ws.path("small"), "256k") else {
        return;
    };
    let out = ws
        .migplan()
        .args(["export", "--db", &ws.url("src.db"), "-o", "small/b.xlsx"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("small/b.xlsx: writing the workbook failed"),
        "{err}"
    );
    assert!(err.contains("No space left on device"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let left: Vec<_> = std::fs::read_dir(ws.path("small"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// `_meta`'s JSON comes in cells of 30,000 characters, each within the
/// limit: together they are one value, bounded by `max_value_bytes` too.
#[test]
fn a_meta_sheet_whose_json_exceeds_max_value_bytes_is_refused() {
    let ws = Workspace::new();
    let columns: Vec<String> = (0..600)
        .map(|i| format!("column_with_a_long_name_{i} TEXT"))
        .collect();
    let schema = format!(
        "CREATE TABLE wide (id INTEGER PRIMARY KEY, {});",
        columns.join(", ")
    );
    ws.open("src.db").execute_batch(&schema).unwrap();
    ws.open("src.db")
        .execute("INSERT INTO wide (id) VALUES (1)", [])
        .unwrap();
    ws.export("src.db", "wide.xlsx");
    ws.open("dst.db").execute_batch(&schema).unwrap();
    let plan = |limit: u64| {
        format!(
            "[plan]\nkind = \"import\"\n[database]\nurl = \"{}\"\n[import]\nfile = \"wide.xlsx\"\nmax_value_bytes = {limit}\n",
            ws.url("dst.db")
        )
    };
    ws.write("small.toml", &plan(40_000));
    let out = ws.migplan().args(["run", "small.toml"]).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("wide.xlsx: the `_meta` sheet's `meta.json` is longer than 40000 bytes, the limit (`[import] max_value_bytes`)"),
        "{err}"
    );
    assert_eq!(count(&ws.open("dst.db"), "wide"), 0);
    ws.write("big.toml", &plan(1 << 20));
    let out = ws.migplan().args(["run", "big.toml"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(count(&ws.open("dst.db"), "wide"), 1);
}

//! The workbook format against an independent implementation: Python's
//! openpyxl reads what migplan writes, and edits workbooks migplan then reads.
//!
//! Skips visibly when openpyxl is not installed (`pip install openpyxl`),
//! and fails instead under `CI=true`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use migplan::Result;
use migplan::catalog::ColumnInfo;
use migplan::format::xlsx::{ExpectedTable, XlsxWriter, read_workbook};
use migplan::format::{
    BackupMeta, BackupVisitor, BackupWriter, FORMAT_NAME, FORMAT_VERSION, TableMeta,
};
use migplan::value::{ColumnType as T, Value};
use serde_json::{Value as Json, json};

fn openpyxl_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import openpyxl"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("openpyxl is required under CI=true: pip install openpyxl");
        }
        println!("SKIPPED: openpyxl not installed");
    }
    ok
}

/// Runs a Python script with `args`; returns its stdout.
fn python(script: &str, args: &[&Path]) -> String {
    let out = Command::new("python3")
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
    String::from_utf8(out.stdout).unwrap()
}

fn column(name: &str, ty: T, sql_type: &str) -> ColumnInfo {
    ColumnInfo {
        name: name.into(),
        ty,
        sql_type: sql_type.into(),
        nullable: true,
        has_default: false,
        choices: vec![],
    }
}

fn questions() -> TableMeta {
    TableMeta {
        name: "questions".into(),
        module: Some("tiku".into()),
        columns: vec![
            column("id", T::Int, "INTEGER"),
            column("title", T::Text, "TEXT"),
            column("price", T::Decimal, "DECIMAL(10,2)"),
            column("big", T::Int, "BIGINT"),
            column("score", T::Float, "REAL"),
            column("ok", T::Bool, "BOOLEAN"),
            column("due", T::Date, "DATE"),
            column("at", T::Timestamp, "TIMESTAMP"),
            column("data", T::Blob, "BLOB"),
        ],
        primary_key: vec!["id".into()],
        foreign_keys: Vec::new(),
        rows: 3,
        changed_column: None,
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn rows() -> Vec<Vec<Value>> {
    vec![
        vec![
            Value::Int(1),
            text("=HYPERLINK(\"http://evil\",\"click\")"),
            Value::Decimal("3.50".into()),
            Value::Int(9_007_199_254_740_993),
            Value::Float(0.1),
            Value::Bool(true),
            text("2024-03-05"),
            text("2024-03-05 08:30:00"),
            Value::Bytes(b"hi".to_vec()),
        ],
        vec![
            Value::Int(2),
            text("+1"),
            Value::Decimal("12345678901234567.89".into()),
            Value::Int(-5),
            Value::Float(f64::NAN),
            Value::Bool(false),
            text("1899-12-31"),
            text("2024-03-05 08:30:00.123456"),
            Value::Null,
        ],
        vec![
            Value::Int(3),
            text("题目：下列说法正确的是（ ）"),
            Value::Null,
            Value::Null,
            Value::Float(-2.5),
            Value::Null,
            Value::Null,
            text("2024-03-05 08:30:00.5"),
            Value::Null,
        ],
    ]
}

fn meta() -> BackupMeta {
    BackupMeta {
        format: FORMAT_NAME.into(),
        format_version: FORMAT_VERSION,
        tool_version: "0.1.0".into(),
        plan: Some("tiku".into()),
        schema_version: Some(7),
        exported_at: "2024-05-01T12:00:00Z".into(),
        export_type: "full".into(),
        modules: vec!["tiku".into()],
        incremental_since: None,
        backup_id: None,
        follows: None,
        sequences: vec![],
        source_engine: "sqlite".into(),
        tables: vec![questions()],
    }
}

fn sheets() -> BTreeMap<String, String> {
    BTreeMap::from([("questions".to_string(), "题目数据".to_string())])
}

fn write_workbook(path: &Path) {
    let mut w = XlsxWriter::create(path, &meta(), &sheets()).unwrap();
    w.begin_table(&questions()).unwrap();
    for r in rows() {
        w.write_row(&r).unwrap();
    }
    w.end_table().unwrap();
    Box::new(w).finish().unwrap();
}

#[derive(Default)]
struct Recorder {
    meta: Option<BackupMeta>,
    rows: Vec<Vec<Value>>,
}

impl BackupVisitor for Recorder {
    fn meta(&mut self, meta: &BackupMeta) -> Result<()> {
        self.meta = Some(meta.clone());
        Ok(())
    }
    fn begin_table(&mut self, _: &TableMeta) -> Result<()> {
        Ok(())
    }
    fn row(&mut self, row: &[Value]) -> Result<()> {
        self.rows.push(row.to_vec());
        Ok(())
    }
    fn end_table(&mut self, _: &TableMeta) -> Result<()> {
        Ok(())
    }
}

const DUMP: &str = r#"
import datetime, json, sys, zipfile
import openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
out = {"sheets": wb.sheetnames, "cells": {}}
# How the sheets are stored: deflated, at migplan's fast level.
out["deflated"] = all(
    i.compress_type == zipfile.ZIP_DEFLATED
    for i in zipfile.ZipFile(sys.argv[1]).infolist()
    if i.filename.startswith("xl/worksheets/")
)
ws = wb["题目数据"]
out["freeze"] = ws.freeze_panes
out["bold"] = ws["A1"].font.b
for row in ws.iter_rows():
    for c in row:
        v = c.value
        if v is None:
            continue
        if isinstance(v, datetime.datetime):
            v = v.isoformat(sep=" ")
        out["cells"][c.coordinate] = [c.data_type, v, c.number_format]
print(json.dumps(out, ensure_ascii=False))
"#;

#[test]
fn openpyxl_reads_what_migplan_writes() {
    if !openpyxl_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backup.xlsx");
    write_workbook(&path);
    let dump: Json = serde_json::from_str(&python(DUMP, &[&path])).unwrap();
    assert_eq!(dump["sheets"], json!(["题目数据", "_meta"]));
    assert_eq!(dump["freeze"], json!("A2"));
    assert_eq!(dump["bold"], json!(true));
    assert_eq!(dump["deflated"], json!(true));
    let cells = &dump["cells"];
    let cell = |r: &str| -> Vec<Json> {
        cells[r]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("no cell {r}"))
    };
    // Header.
    for (c, name) in [
        "id", "title", "price", "big", "score", "ok", "due", "at", "data",
    ]
    .iter()
    .enumerate()
    {
        let r = format!("{}1", (b'A' + c as u8) as char);
        assert_eq!(cell(&r)[1], json!(name));
    }
    // Row 2: numbers, a formula-looking string that is a plain string.
    assert_eq!(cell("A2")[..2], [json!("n"), json!(1)]);
    assert_eq!(
        cell("B2")[..2],
        [json!("s"), json!("=HYPERLINK(\"http://evil\",\"click\")")]
    );
    assert_eq!(cell("C2")[..2], [json!("n"), json!(3.5)]);
    assert_eq!(cell("C2")[2], json!("0.00"));
    // Beyond 2^53: text, exactly.
    assert_eq!(cell("D2")[..2], [json!("s"), json!("9007199254740993")]);
    assert_eq!(cell("E2")[1], json!(0.1));
    assert_eq!(cell("F2")[..2], [json!("b"), json!(true)]);
    assert_eq!(cell("G2")[..2], [json!("d"), json!("2024-03-05 00:00:00")]);
    assert_eq!(cell("G2")[2], json!("yyyy-mm-dd"));
    assert_eq!(cell("H2")[..2], [json!("d"), json!("2024-03-05 08:30:00")]);
    // Bytes: a marker, and their base64 in the hidden column after the
    // table's columns.
    assert_eq!(cell("I2")[..2], [json!("s"), json!("‹binary 2 bytes›")]);
    assert_eq!(cell("J1")[1], json!("_bytes:data"));
    assert_eq!(cell("J2")[..2], [json!("s"), json!("aGk=")]);
    // Row 3.
    assert_eq!(cell("B3")[..2], [json!("s"), json!("+1")]);
    assert_eq!(cell("C3")[..2], [json!("s"), json!("12345678901234567.89")]);
    assert_eq!(cell("E3")[..2], [json!("s"), json!("NaN")]);
    assert_eq!(cell("F3")[1], json!(false));
    assert_eq!(cell("G3")[..2], [json!("s"), json!("1899-12-31")]);
    assert_eq!(
        cell("H3")[..2],
        [json!("s"), json!("2024-03-05 08:30:00.123456")]
    );
    assert!(cells.get("I3").is_none(), "NULL is an empty cell");
    // Row 4.
    assert_eq!(cell("B4")[1], json!("题目：下列说法正确的是（ ）"));
    assert_eq!(
        cell("H4")[..2],
        [json!("d"), json!("2024-03-05 08:30:00.500000")]
    );
    assert!(cells.get("C4").is_none());
}

const EDIT: &str = r#"
import datetime, sys
import openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
ws = wb["题目数据"]
rows = [[c.value for c in row] for row in ws.iter_rows()]
header = rows[0]
# The hidden column of the bytes moves with its rows.
order = ["title", "id", "at", "due", "ok", "score", "big", "price", "data", "_bytes:data"]
idx = [header.index(h) for h in order]
ws.delete_rows(1, ws.max_row)
out = [[r[i] for i in idx] for r in rows]
out[1][0] = "改过的题目"            # a changed cell
out[2][7] = " 7.25 "                 # a number typed as text
out[3][3] = "2024/3/5"               # a date typed as text
out[3][5] = "42"                     # a float typed as text
for r, row in enumerate(out):
    for c, v in enumerate(row):
        ws.cell(row=r + 1 + (1 if r >= 2 else 0), column=c + 1, value=v)  # a blank row after the first data row
# A row typed by hand: a serial date cell and a datetime.
n = len(out) + 2
ws.cell(row=n, column=1, value="new")
ws.cell(row=n, column=2, value=4)
ws.cell(row=n, column=3, value=datetime.datetime(2024, 1, 2, 3, 4, 5))
ws.cell(row=n, column=4, value=45356)
ws.cell(row=n, column=5, value="TRUE")
wb.save(sys.argv[1])
"#;

#[test]
fn migplan_reads_what_openpyxl_edited() {
    if !openpyxl_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backup.xlsx");
    write_workbook(&path);
    python(EDIT, &[&path]);
    let t = questions();
    let expect = [ExpectedTable {
        name: t.name.clone(),
        columns: t.columns.clone(),
        primary_key: t.primary_key.clone(),
    }];
    let mut rec = Recorder::default();
    read_workbook(&path, &expect, &sheets(), &mut rec).unwrap();
    let mut want = rows();
    want[0][1] = text("改过的题目");
    want[1][2] = Value::Decimal("7.25".into());
    want[2][6] = text("2024-03-05");
    want[2][4] = Value::Float(42.0);
    want.push(vec![
        Value::Int(4),
        text("new"),
        Value::Null,
        Value::Null,
        Value::Null,
        Value::Bool(true),
        text("2024-03-05"),
        text("2024-01-02 03:04:05"),
        Value::Null,
    ]);
    assert_eq!(rec.rows.len(), want.len());
    for (got, want) in rec.rows.iter().zip(&want) {
        for (g, w) in got.iter().zip(want) {
            match (g, w) {
                (Value::Float(a), Value::Float(b)) => assert_eq!(a.to_bits(), b.to_bits()),
                _ => assert_eq!(g, w),
            }
        }
    }
    let meta = rec.meta.unwrap();
    assert_eq!(meta.schema_version, Some(7));
    assert_eq!(meta.tables[0].rows, 4);
}

#[test]
fn migplan_reports_what_openpyxl_broke() {
    if !openpyxl_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backup.xlsx");
    write_workbook(&path);
    python(
        r#"
import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
ws = wb["题目数据"]
ws["A3"] = "two"
ws["F4"] = "maybe"
wb.save(sys.argv[1])
"#,
        &[&path],
    );
    let t = questions();
    let expect = [ExpectedTable {
        name: t.name.clone(),
        columns: t.columns.clone(),
        primary_key: t.primary_key.clone(),
    }];
    let mut rec = Recorder::default();
    let err = read_workbook(&path, &expect, &sheets(), &mut rec)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("题目数据!A3: expected integer, found \"two\""),
        "{err}"
    );
    assert!(err.contains("题目数据!F4: expected boolean"), "{err}");
    assert!(rec.meta.is_none() && rec.rows.is_empty());
}

/// Excel names a copied sheet `name (2)`, which reads like a continuation
/// sheet: with `_meta` recording one sheet for the table, the copy is a
/// problem, not a second import of the same rows.
#[test]
fn a_sheet_copied_in_excel_is_reported_not_imported_twice() {
    if !openpyxl_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backup.xlsx");
    write_workbook(&path);
    let sheet = sheets()["questions"].clone();
    let script = format!(
        "import sys, openpyxl\nwb = openpyxl.load_workbook(sys.argv[1])\nc = wb.copy_worksheet(wb[{sheet:?}])\nc.title = {:?}\nwb.save(sys.argv[1])\n",
        format!("{sheet} (2)")
    );
    python(&script, &[&path]);
    let t = questions();
    let expect = [ExpectedTable {
        name: t.name.clone(),
        columns: t.columns.clone(),
        primary_key: t.primary_key.clone(),
    }];
    let mut rec = Recorder::default();
    let err = read_workbook(&path, &expect, &sheets(), &mut rec)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("copied sheet") && err.contains(" (2)"),
        "{err}"
    );
    assert!(rec.rows.is_empty());
}

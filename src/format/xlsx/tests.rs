//! Round trips through real workbook files, and edited / hand-made ones.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use calamine::{Data, Reader, Xlsx, open_workbook};

use super::*;
use crate::catalog::ColumnInfo;
use crate::error::{Error, Result};
use crate::format::{BackupVisitor, BackupWriter, FORMAT_NAME, FORMAT_VERSION, TableMeta};
use crate::value::{Checksum, ColumnType as T, Value};

fn column(name: &str, ty: T) -> ColumnInfo {
    ColumnInfo {
        name: name.into(),
        ty,
        sql_type: ty.name().to_uppercase(),
        nullable: true,
        has_default: false,
        choices: vec![],
    }
}

fn table(name: &str, columns: Vec<ColumnInfo>) -> TableMeta {
    TableMeta {
        name: name.into(),
        module: Some("m".into()),
        columns,
        primary_key: vec!["id".into()],
        foreign_keys: Vec::new(),
        rows: 0,
        changed_column: None,
    }
}

fn meta(tables: Vec<TableMeta>) -> BackupMeta {
    BackupMeta {
        format: FORMAT_NAME.into(),
        format_version: FORMAT_VERSION,
        tool_version: "0.1.0".into(),
        plan: Some("full".into()),
        schema_version: Some(3),
        exported_at: "2024-05-01T12:00:00Z".into(),
        export_type: "full".into(),
        modules: vec!["m".into()],
        incremental_since: None,
        backup_id: None,
        follows: None,
        sequences: vec![],
        source_engine: "sqlite".into(),
        tables,
    }
}

fn expected(t: &TableMeta) -> ExpectedTable {
    ExpectedTable {
        name: t.name.clone(),
        columns: t.columns.clone(),
        primary_key: t.primary_key.clone(),
    }
}

#[derive(Default)]
struct Recorder {
    meta: Option<BackupMeta>,
    tables: Vec<(TableMeta, Vec<Vec<Value>>)>,
}

impl BackupVisitor for Recorder {
    fn meta(&mut self, meta: &BackupMeta) -> Result<()> {
        self.meta = Some(meta.clone());
        Ok(())
    }
    fn begin_table(&mut self, table: &TableMeta) -> Result<()> {
        self.tables.push((table.clone(), Vec::new()));
        Ok(())
    }
    fn row(&mut self, row: &[Value]) -> Result<()> {
        self.tables.last_mut().unwrap().1.push(row.to_vec());
        Ok(())
    }
    fn end_table(&mut self, _: &TableMeta) -> Result<()> {
        Ok(())
    }
}

fn write(
    path: &Path,
    tables: &[(TableMeta, Vec<Vec<Value>>)],
    sheets: &BTreeMap<String, String>,
    row_limit: Option<u32>,
) -> Result<Vec<crate::value::TableSummary>> {
    let m = meta(tables.iter().map(|(t, _)| t.clone()).collect());
    let mut w = XlsxWriter::create(path, &m, sheets)?;
    if let Some(n) = row_limit {
        w = w.with_row_limit(n);
    }
    let mut summaries = Vec::new();
    for (t, rows) in tables {
        w.begin_table(t)?;
        for r in rows {
            w.write_row(r)?;
        }
        summaries.push(w.end_table()?);
    }
    Box::new(w).finish()?;
    Ok(summaries)
}

fn read_all(
    path: &Path,
    expect: &[ExpectedTable],
    sheets: &BTreeMap<String, String>,
) -> Result<Recorder> {
    let mut rec = Recorder::default();
    read_workbook(path, expect, sheets, &mut rec)?;
    Ok(rec)
}

/// Writes `tables`, reads them back for the same columns, and checks every
/// value bit for bit and the checksums.
fn round_trip(tables: Vec<(TableMeta, Vec<Vec<Value>>)>) -> (tempfile::TempDir, PathBuf, Recorder) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backup.xlsx");
    let summaries = write(&path, &tables, &BTreeMap::new(), None).unwrap();
    let expect: Vec<ExpectedTable> = tables.iter().map(|(t, _)| expected(t)).collect();
    let rec = read_all(&path, &expect, &BTreeMap::new()).unwrap();
    assert_eq!(rec.tables.len(), tables.len());
    for (((t, rows), (got_t, got)), summary) in tables.iter().zip(&rec.tables).zip(&summaries) {
        assert_eq!(t.name, got_t.name);
        assert_eq!(rows.len(), got.len(), "table {}", t.name);
        for (w, g) in rows.iter().zip(got) {
            for (a, b) in w.iter().zip(g) {
                assert!(
                    cell::same(a, b),
                    "table {}: wrote {a:?}, read {b:?}",
                    t.name
                );
            }
        }
        let mut c = Checksum::new();
        for r in got {
            c.add_row(r);
        }
        assert_eq!(&c.summary(), summary);
    }
    (dir, path, rec)
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn message(r: Result<impl Sized>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e @ Error::Backup { .. }) => e.to_string(),
        Err(e) => panic!("expected a backup error, got {e:?}"),
    }
}

/// The cells of a sheet as calamine sees them (for checking cell types).
fn cells(path: &Path, sheet: &str) -> Vec<Vec<Data>> {
    let mut book: Xlsx<_> = open_workbook(path).unwrap();
    let range = book.worksheet_range(sheet).unwrap();
    range.rows().map(|r| r.to_vec()).collect()
}

#[test]
fn every_type_round_trips() {
    let mut dec = column("price", T::Decimal);
    dec.sql_type = "DECIMAL(12,2)".into();
    let t = table(
        "items",
        vec![
            column("id", T::Int),
            column("flag", T::Bool),
            column("score", T::Float),
            dec,
            column("amount", T::Decimal),
            column("name", T::Text),
            column("data", T::Blob),
            column("day", T::Date),
            column("at", T::Timestamp),
            column("at_tz", T::TimestampTz),
            column("clock", T::Time),
            column("doc", T::Json),
            column("uid", T::Uuid),
        ],
    );
    let rows = vec![
        vec![
            Value::Int(1),
            Value::Bool(true),
            Value::Float(0.1),
            Value::Decimal("12.50".into()),
            Value::Decimal("12.5".into()),
            text("Alice"),
            Value::Bytes(b"hello\0".to_vec()),
            text("2024-03-05"),
            text("2024-03-05 08:30:00"),
            text("2024-03-05 08:30:00.25+00:00"),
            text("08:30:00"),
            text(r#"{"a": [1, 2]}"#),
            text("67e55044-10b1-426f-9247-bb680e5fe0c8"),
        ],
        vec![
            Value::Int(-9_007_199_254_740_993),
            Value::Bool(false),
            Value::Float(f64::NAN),
            Value::Decimal("12345678901234567.89".into()),
            Value::Decimal("-0.000000000000000000001".into()),
            text("  padded\ttab\nnewline\r\n_x0041_ <&> \u{1}"),
            Value::Bytes(Vec::new()),
            text("0099-01-01"),
            text("2024-03-05 08:30:00.123456"),
            text("1800-01-01 00:00:00+00:00"),
            text("12:00:00.000001"),
            text("[]"),
            Value::Null,
        ],
        vec![
            Value::Int(i64::MAX),
            Value::Null,
            Value::Float(-0.0),
            Value::Decimal("-0.00".into()),
            Value::Decimal("1e5".into()),
            text(""),
            Value::Null,
            text("infinity"),
            text("9999-12-31 23:59:59.999"),
            Value::Null,
            text("838:59:59"),
            Value::Null,
            Value::Null,
        ],
        vec![
            Value::UInt(u64::MAX),
            Value::Null,
            Value::Float(f64::NEG_INFINITY),
            Value::Decimal("0.10".into()),
            Value::Decimal("NaN".into()),
            text("=HYPERLINK(\"http://x\")"),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
        ],
        vec![
            Value::Int(4),
            Value::Null,
            Value::Float(f64::from_bits(0x7ff8_0000_0000_0001)),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
        ],
        vec![
            Value::Int(5),
            Value::Null,
            Value::Float(5e-324),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
        ],
    ];
    let (_dir, path, rec) = round_trip(vec![(t, rows)]);
    let got = rec.meta.unwrap();
    assert_eq!(got.export_type, "full");
    assert_eq!(got.schema_version, Some(3));
    assert_eq!(got.tables[0].rows, 6);

    // Cells have the types people expect.
    let c = cells(&path, "items");
    assert_eq!(c[0][0], Data::String("id".into()));
    assert_eq!(c[1][0], Data::Float(1.0));
    assert_eq!(c[1][1], Data::Bool(true));
    assert_eq!(c[1][3], Data::Float(12.5));
    assert!(matches!(c[1][7], Data::DateTime(_)), "{:?}", c[1][7]);
    assert!(matches!(c[1][8], Data::DateTime(_)));
    assert!(matches!(c[1][9], Data::DateTime(_)));
    assert!(matches!(c[1][10], Data::DateTime(_)));
    // Bytes: a short marker; the bytes as base64 in a hidden column after
    // the table's columns.
    assert_eq!(c[1][6], Data::String("‹binary 6 bytes›".into()));
    assert!(matches!(c[0].last(), Some(Data::String(h)) if h.starts_with("_bytes:")));
    assert_eq!(c[1].last(), Some(&Data::String("aGVsbG8A".into())));
    // Beyond ±2^53, more than 15 digits, microseconds: exact text.
    assert_eq!(c[2][0], Data::String("-9007199254740993".into()));
    assert_eq!(c[2][3], Data::String("12345678901234567.89".into()));
    assert_eq!(c[2][8], Data::String("2024-03-05 08:30:00.123456".into()));
    assert_eq!(c[2][9], Data::String("1800-01-01 00:00:00+00:00".into()));
    assert_eq!(c[2][2], Data::String("NaN".into()));
    assert_eq!(c[3][2], Data::String("-0.0".into()));
    assert_eq!(c[4][0], Data::String("18446744073709551615".into()));
    assert_eq!(c[4][2], Data::String("-inf".into()));
    // NULL is an empty cell, and so is the empty string (marked).
    assert_eq!(c[3][5], Data::Empty);
    assert_eq!(c[3][6], Data::Empty);
}

#[test]
fn formula_looking_strings_stay_strings() {
    let t = table("t", vec![column("id", T::Int), column("s", T::Text)]);
    let inputs = [
        "=HYPERLINK(\"http://evil\",\"x\")",
        "+1",
        "-2",
        "@x",
        "=1+1",
        "'quoted",
        "=",
        "%",
    ];
    let rows: Vec<Vec<Value>> = inputs
        .iter()
        .enumerate()
        .map(|(i, s)| vec![Value::Int(i as i64), text(s)])
        .collect();
    let (_dir, path, _) = round_trip(vec![(t, rows)]);
    let c = cells(&path, "t");
    for (i, s) in inputs.iter().enumerate() {
        assert_eq!(c[i + 1][1], Data::String(s.to_string()));
    }
    let mut book: Xlsx<_> = open_workbook(&path).unwrap();
    let formulas = book.worksheet_formula("t").unwrap();
    assert!(
        formulas.used_cells().all(|(_, _, f)| f.is_empty()),
        "{formulas:?}"
    );
}

#[test]
fn null_and_empty_string_differ() {
    let mut not_null = column("nn", T::Text);
    not_null.nullable = false;
    let t = table(
        "t",
        vec![column("id", T::Int), column("s", T::Text), not_null],
    );
    let rows = vec![
        vec![Value::Int(1), Value::Null, text("")],
        vec![Value::Int(2), text(""), text("x")],
        vec![Value::Int(3), text(" "), text("")],
    ];
    let (_dir, path, _) = round_trip(vec![(t, rows)]);
    let wm = read_workbook_meta(&path).unwrap().unwrap();
    // The NOT NULL column needs no mark; the nullable one marks its "".
    assert_eq!(wm.tables[0].marks, 1);
    assert!(wm.tables[0].columns[2].empty_is_text);
    let marks = cells(&path, "_marks");
    assert_eq!(marks[1][0], Data::String("t".into()));
    assert_eq!(marks[1][1], Data::String("key:[\"n:2\"]".into()));
    assert_eq!(marks[1][2], Data::String("s".into()));
    assert_eq!(marks[1][3], Data::String("text".into()));
}

#[test]
fn untyped_columns_keep_each_value_kind() {
    let t = table(
        "t",
        vec![
            column("id", T::Any),
            column("v", T::Any),
            column("n", T::Int),
            column("s", T::Text),
        ],
    );
    let rows = vec![
        vec![Value::Int(1), Value::Float(2.0), text("42"), Value::Int(7)],
        vec![Value::Int(2), text("42"), text("abc"), Value::Float(0.5)],
        vec![
            Value::Int(3),
            Value::Bytes(vec![1, 2, 255]),
            Value::Bool(true),
            Value::Decimal("1.50".into()),
        ],
        vec![
            Value::Int(4),
            Value::Decimal("3.10".into()),
            Value::UInt(5),
            text(""),
        ],
        vec![
            text("k"),
            Value::Bool(false),
            Value::Float(1.5),
            Value::Bytes(vec![]),
        ],
        vec![
            Value::Int(6),
            Value::Int(1 << 60),
            Value::Int(1 << 60),
            Value::Null,
        ],
    ];
    round_trip(vec![(t, rows)]);
}

#[test]
fn tables_without_key_mark_by_row_number() {
    let mut t = table("t", vec![column("s", T::Text)]);
    t.primary_key.clear();
    let rows = vec![vec![text("")], vec![Value::Null], vec![text("")]];
    let (_dir, path, _) = round_trip(vec![(t, rows)]);
    let marks = cells(&path, "_marks");
    assert_eq!(marks[1][1], Data::String("#1".into()));
    assert_eq!(marks[2][1], Data::String("#3".into()));
}

#[test]
fn sheet_names_are_cleaned_and_recorded() {
    let a = table("questions", vec![column("id", T::Int)]);
    let b = table(
        "a_very_long_table_name_that_excel_cannot_hold",
        vec![column("id", T::Int)],
    );
    let c = table("odd/name:[x]", vec![column("id", T::Int)]);
    let d = table("Questions2", vec![column("id", T::Int)]);
    let sheets = BTreeMap::from([
        ("questions".to_string(), "题目数据".to_string()),
        ("Questions2".to_string(), "题目数据".to_string()),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.xlsx");
    let tables: Vec<_> = [a, b, c, d]
        .into_iter()
        .map(|t| (t, vec![vec![Value::Int(1)]]))
        .collect();
    write(&path, &tables, &sheets, None).unwrap();
    let book: Xlsx<_> = open_workbook(&path).unwrap();
    assert_eq!(
        book.sheet_names(),
        [
            "题目数据",
            "a_very_long_table_name_that_exc",
            "odd_name__x_",
            "题目数据~2",
            "_meta"
        ]
    );
    let wm = read_workbook_meta(&path).unwrap().unwrap();
    assert_eq!(wm.table("Questions2").unwrap().sheets, ["题目数据~2"]);
    let expect: Vec<_> = tables.iter().map(|(t, _)| expected(t)).collect();
    let rec = read_all(&path, &expect, &sheets).unwrap();
    let names: Vec<&str> = rec.tables.iter().map(|(t, _)| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "questions",
            "a_very_long_table_name_that_excel_cannot_hold",
            "odd/name:[x]",
            "Questions2"
        ]
    );
}

#[test]
fn big_tables_continue_on_further_sheets() {
    let t = table(
        "questions",
        vec![column("id", T::Int), column("s", T::Text)],
    );
    let rows: Vec<Vec<Value>> = (0..8)
        .map(|i| {
            vec![
                Value::Int(i),
                if i == 7 {
                    text("")
                } else {
                    text(&format!("q{i}"))
                },
            ]
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.xlsx");
    let sheets = BTreeMap::from([("questions".to_string(), "题目数据".to_string())]);
    let tables = vec![(t.clone(), rows.clone())];
    let summaries = write(&path, &tables, &sheets, Some(3)).unwrap();
    assert_eq!(summaries[0].rows, 8);
    let book: Xlsx<_> = open_workbook(&path).unwrap();
    assert_eq!(
        book.sheet_names(),
        [
            "题目数据",
            "题目数据 (2)",
            "题目数据 (3)",
            "_meta",
            "_marks"
        ]
    );
    let third = cells(&path, "题目数据 (3)");
    assert_eq!(third[0][0], Data::String("id".into()));
    assert_eq!(third.len(), 3);
    let wm = read_workbook_meta(&path).unwrap().unwrap();
    assert_eq!(wm.tables[0].sheets.len(), 3);
    let rec = read_all(&path, &[expected(&t)], &sheets).unwrap();
    assert_eq!(rec.tables[0].1, rows);
    // Without `_meta` (or the plan's sheet names) continuations still join.
    let rec = read_all(&path, &[expected(&t)], &BTreeMap::new()).unwrap();
    assert_eq!(rec.tables[0].1.len(), 8);
    // Read from the check pass's spool or, without one, from the sheets
    // again: the same rows, and a refused row placed at its cell.
    for spooled in [true, false] {
        let open = || {
            let book = check_workbook(&path, &[expected(&t)], &sheets).unwrap();
            if spooled { book } else { book.without_spool() }
        };
        let mut rec = Recorder::default();
        open().read(&mut rec).unwrap();
        assert_eq!(rec.tables[0].1, rows);
        let mut refuse = Refuser { row: 0 };
        let e = open().read(&mut refuse).unwrap_err().to_string();
        assert!(e.contains("'题目数据 (2)'!B3: column `s` refused"), "{e}");
    }
}

/// Refuses the fifth row it is handed, naming column `s`.
struct Refuser {
    row: usize,
}

impl BackupVisitor for Refuser {
    fn meta(&mut self, _: &BackupMeta) -> Result<()> {
        Ok(())
    }
    fn begin_table(&mut self, _: &TableMeta) -> Result<()> {
        Ok(())
    }
    fn row(&mut self, _: &[Value]) -> Result<()> {
        self.row += 1;
        if self.row == 5 {
            return Err(crate::error::Error::Row("column `s` refused".into()));
        }
        Ok(())
    }
    fn end_table(&mut self, _: &TableMeta) -> Result<()> {
        Ok(())
    }
}

#[test]
fn too_long_text_names_table_key_and_column() {
    let t = table("posts", vec![column("id", T::Int), column("body", T::Text)]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.xlsx");
    let rows = vec![
        vec![Value::Int(1), text("ok")],
        vec![Value::Int(42), text(&"字".repeat(32_768))],
    ];
    let msg = message(write(&path, &[(t, rows)], &BTreeMap::new(), None));
    assert!(
        msg.contains("table `posts`, id = 42, column `body`"),
        "{msg}"
    );
    assert!(msg.contains("32768 characters"), "{msg}");
    assert!(!path.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "temporary file left behind"
    );
    // 32,767 characters fit.
    let t = table("posts", vec![column("id", T::Int), column("body", T::Text)]);
    round_trip(vec![(
        t,
        vec![vec![Value::Int(1), text(&"字".repeat(32_767))]],
    )]);
}

#[cfg(unix)]
#[test]
fn finished_workbook_is_private_and_atomic() {
    use std::os::unix::fs::PermissionsExt;
    let t = table("t", vec![column("id", T::Int)]);
    let (dir, path, _) = round_trip(vec![(t.clone(), vec![vec![Value::Int(1)]])]);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // A writer dropped before `finish` leaves nothing.
    let other = dir.path().join("dropped.xlsx");
    let mut w = XlsxWriter::create(&other, &meta(vec![t.clone()]), &BTreeMap::new()).unwrap();
    w.begin_table(&t).unwrap();
    w.write_row(&[Value::Int(1)]).unwrap();
    drop(w);
    assert!(!other.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

// ---------------------------------------------------------------------------
// Workbooks made or edited by people
// ---------------------------------------------------------------------------

fn target() -> ExpectedTable {
    let mut price = column("price", T::Decimal);
    price.sql_type = "NUMERIC(10,2)".into();
    let mut title = column("title", T::Text);
    title.nullable = false;
    ExpectedTable {
        name: "questions".into(),
        columns: vec![
            column("id", T::Int),
            title,
            price,
            column("due", T::Date),
            column("at", T::Timestamp),
            column("done", T::Bool),
        ],
        primary_key: vec!["id".into()],
    }
}

/// A workbook made by hand (no `_meta`), with rust_xlsxwriter in ordinary
/// mode: `rows` are written from the first row; `None` leaves a cell empty.
fn hand_made(path: &Path, sheets: &[(&str, Vec<Vec<Option<Cell>>>)]) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let date = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    for (name, rows) in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(*name).unwrap();
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let (r, c) = (r as u32, c as u16);
                match cell {
                    None => {}
                    Some(Cell::S(s)) => {
                        ws.write_string(r, c, *s).unwrap();
                    }
                    Some(Cell::N(n)) => {
                        ws.write_number(r, c, *n).unwrap();
                    }
                    Some(Cell::D(n)) => {
                        ws.write_number_with_format(r, c, *n, &date).unwrap();
                    }
                    Some(Cell::B(b)) => {
                        ws.write_boolean(r, c, *b).unwrap();
                    }
                }
            }
        }
    }
    wb.save(path).unwrap();
}

#[derive(Clone)]
enum Cell {
    S(&'static str),
    N(f64),
    D(f64),
    B(bool),
}

use Cell::{B, D, N, S};

#[test]
fn hand_made_workbook_reads_with_people_s_conventions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hand.xlsx");
    // Columns reordered, a blank row, a blank column, numbers typed as
    // text, dates as text, serials and date cells, bools as text and 1/0.
    let rows = vec![
        vec![
            Some(S("title")),
            Some(S(" id ")),
            None,
            Some(S("due")),
            Some(S("price")),
            Some(S("at")),
            Some(S("done")),
        ],
        vec![
            Some(S("第一题")),
            Some(N(1.0)),
            None,
            Some(S("2024-03-05")),
            Some(S(" 3.50 ")),
            Some(S("2024-03-05 08:30")),
            Some(B(true)),
        ],
        vec![],
        vec![
            Some(N(42.0)),
            Some(S("2")),
            None,
            Some(N(45356.0)),
            Some(N(3.5)),
            Some(D(45356.5)),
            Some(S("0")),
        ],
        vec![
            None,
            Some(S(" 3 ")),
            None,
            Some(D(45357.0)),
            None,
            Some(S("2024/3/5 8:30:15")),
            Some(N(1.0)),
        ],
        vec![None, None, None, None, None, None, None],
    ];
    hand_made(&path, &[("题目数据", rows)]);
    let sheets = BTreeMap::from([("questions".to_string(), "题目数据".to_string())]);
    let rec = read_all(&path, &[target()], &sheets).unwrap();
    let meta = rec.meta.unwrap();
    assert_eq!(meta.export_type, "workbook");
    assert_eq!(meta.schema_version, None);
    assert_eq!(meta.tables[0].rows, 3);
    let names: Vec<&str> = meta.tables[0]
        .columns
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["id", "title", "price", "due", "at", "done"]);
    let (t, rows) = &rec.tables[0];
    assert_eq!(t.name, "questions");
    assert_eq!(
        rows,
        &vec![
            vec![
                Value::Int(1),
                text("第一题"),
                Value::Decimal("3.50".into()),
                text("2024-03-05"),
                text("2024-03-05 08:30:00"),
                Value::Bool(true)
            ],
            vec![
                Value::Int(2),
                text("42"),
                Value::Decimal("3.50".into()),
                text("2024-03-05"),
                text("2024-03-05 12:00:00"),
                Value::Bool(false)
            ],
            // NOT NULL text: an empty cell is an empty string.
            vec![
                Value::Int(3),
                text(""),
                Value::Null,
                text("2024-03-06"),
                text("2024-03-05 08:30:15"),
                Value::Bool(true)
            ],
        ]
    );
    // The sheet may also be named after the table itself.
    let path2 = dir.path().join("hand2.xlsx");
    hand_made(
        &path2,
        &[(
            "questions",
            vec![
                vec![
                    Some(S("id")),
                    Some(S("title")),
                    Some(S("price")),
                    Some(S("due")),
                    Some(S("at")),
                    Some(S("done")),
                ],
                vec![Some(N(9.0))],
            ],
        )],
    );
    let rec = read_all(&path2, &[target()], &BTreeMap::new()).unwrap();
    assert_eq!(rec.tables[0].1[0][0], Value::Int(9));
}

#[test]
fn every_problem_is_listed_with_its_cell_and_nothing_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.xlsx");
    let rows = vec![
        vec![
            Some(S("id")),
            Some(S("title")),
            Some(S("price")),
            Some(S("due")),
            Some(S("at")),
            Some(S("done")),
        ],
        vec![Some(N(1.0)), Some(S("ok")), Some(N(1.0)), None, None, None],
        vec![
            Some(S("abc")),
            Some(S("x")),
            Some(S("1,5")),
            Some(S("5/3/2024")),
            Some(S("soon")),
            Some(S("yes")),
        ],
        vec![
            Some(N(3.5)),
            Some(S("y")),
            None,
            Some(D(45356.25)),
            None,
            None,
            Some(S("stray")),
        ],
    ];
    hand_made(
        &path,
        &[("题目数据", rows), ("Sheet2", vec![vec![Some(S("x"))]])],
    );
    let sheets = BTreeMap::from([("questions".to_string(), "题目数据".to_string())]);
    let mut rec = Recorder::default();
    let msg = message(read_workbook(&path, &[target()], &sheets, &mut rec));
    assert!(
        rec.meta.is_none() && rec.tables.is_empty(),
        "nothing reaches the visitor"
    );
    for expected in [
        "(9 problems)",
        "sheets that match no table: Sheet2",
        "题目数据!A3: expected integer, found \"abc\"",
        "题目数据!C3: expected decimal number, found \"1,5\"",
        "题目数据!D3: expected date, found \"5/3/2024\"",
        "题目数据!E3: expected date and time, found \"soon\"",
        "题目数据!F3: expected boolean (TRUE/FALSE, 1/0), found \"yes\"",
        "题目数据!A4: expected integer, found 3.5",
        "题目数据!D4: expected date, found the date 2024-03-05 06:00:00 (it has a time of day)",
        "题目数据!G4: a value in a column without a header",
    ] {
        assert!(msg.contains(expected), "missing {expected:?} in:\n{msg}");
    }
}

#[test]
fn problems_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.xlsx");
    let mut rows = vec![vec![
        Some(S("id")),
        Some(S("title")),
        Some(S("price")),
        Some(S("due")),
        Some(S("at")),
        Some(S("done")),
    ]];
    for _ in 0..60 {
        rows.push(vec![Some(S("bad"))]);
    }
    hand_made(&path, &[("questions", rows)]);
    let msg = message(read_all(&path, &[target()], &BTreeMap::new()));
    assert!(msg.contains("(60 problems)"), "{msg}");
    assert!(msg.contains("questions!A51:"), "{msg}");
    assert!(!msg.contains("questions!A52:"), "{msg}");
    assert!(msg.contains("… and 10 more"), "{msg}");
}

#[test]
fn header_problems() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.xlsx");
    let rows = vec![
        vec![
            Some(S("id")),
            Some(S("titel")),
            Some(S("price")),
            Some(S("due")),
            Some(S("at")),
            Some(S("done")),
            Some(S("id")),
        ],
        vec![Some(N(1.0))],
    ];
    hand_made(&path, &[("questions", rows), ("empty", vec![])]);
    let msg = message(read_all(&path, &[target()], &BTreeMap::new()));
    assert!(
        msg.contains("questions!B1: unknown column \"titel\"; table `questions` has: id, title"),
        "{msg}"
    );
    assert!(
        msg.contains("questions!G1: column `id` appears twice (first at questions!A1)"),
        "{msg}"
    );
    assert!(
        msg.contains("questions!1: missing column `title` of table `questions`"),
        "{msg}"
    );
}

#[test]
fn edited_migplan_workbook_reads_edits_and_keeps_marks() {
    // Written by migplan, then a row inserted above the rows: marks follow
    // rows by key, not by position.
    let t = table(
        "t",
        vec![
            column("id", T::Int),
            column("s", T::Text),
            column("n", T::Int),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.xlsx");
    let rows = vec![
        vec![Value::Int(1), text(""), Value::Int(1 << 60)],
        vec![Value::Int(2), Value::Null, Value::Int(5)],
    ];
    write(&path, &[(t.clone(), rows)], &BTreeMap::new(), None).unwrap();
    // The marks apply only while the cell holds what was written: copy the
    // workbook's `_meta` and `_marks` into one with an edited data sheet.
    let meta_rows = cells(&path, "_meta");
    let marks_rows = cells(&path, "_marks");
    let edited = dir.path().join("edited.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("t").unwrap();
    for (c, h) in ["n", "s", "id"].iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    // New row first, the old rows after a blank row, in other columns.
    ws.write_number(1, 0, 7.0).unwrap();
    ws.write_number(1, 2, 3.0).unwrap();
    ws.write_string(3, 0, "1152921504606846976").unwrap();
    ws.write_number(3, 2, 1.0).unwrap();
    ws.write_number(4, 0, 5.0).unwrap();
    ws.write_number(4, 2, 2.0).unwrap();
    for (name, rows) in [("_meta", &meta_rows), ("_marks", &marks_rows)] {
        let ws = wb.add_worksheet();
        ws.set_name(name).unwrap();
        for (r, row) in rows.iter().enumerate() {
            for (c, d) in row.iter().enumerate() {
                if let Data::String(s) = d {
                    ws.write_string(r as u32, c as u16, s).unwrap();
                }
            }
        }
    }
    wb.save(&edited).unwrap();
    let rec = read_all(&edited, &[expected(&t)], &BTreeMap::new()).unwrap();
    assert_eq!(
        rec.tables[0].1,
        vec![
            vec![Value::Int(3), Value::Null, Value::Int(7)],
            vec![Value::Int(1), text(""), Value::Int(1 << 60)],
            vec![Value::Int(2), Value::Null, Value::Int(5)],
        ]
    );
    // Not enforced: the checksum recorded no longer matches, and that is fine.
    assert_eq!(rec.meta.unwrap().export_type, "full");
}

#[test]
fn unknown_table_in_meta_and_missing_sheets() {
    let a = table("a", vec![column("id", T::Int)]);
    let b = table("b", vec![column("id", T::Int)]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.xlsx");
    write(
        &path,
        &[(a.clone(), vec![]), (b, vec![])],
        &BTreeMap::new(),
        None,
    )
    .unwrap();
    let msg = message(read_all(&path, &[expected(&a)], &BTreeMap::new()));
    assert!(
        msg.contains("b: holds table `b`, which the target database does not have"),
        "{msg}"
    );
}

#[test]
fn sqlite_values_that_do_not_fit_their_column_round_trip() {
    // SQLite keeps whatever a row holds, whatever the column declares.
    let t = table(
        "awkward",
        vec![
            column("id", T::Int),
            column("i", T::Int),
            column("f", T::Float),
            column("flag", T::Bool),
            column("ts", T::Timestamp),
            column("b", T::Blob),
            column("d", T::Decimal),
            column("j", T::Json),
        ],
    );
    let rows = vec![
        vec![
            Value::Int(1),
            text("text in int column"),
            text("text in real column"),
            Value::Int(2),
            Value::Int(1_700_000_000),
            text("text in a blob column"),
            Value::Int(7),
            text("not json"),
        ],
        vec![
            Value::Int(2),
            Value::Float(1.5),
            Value::Float(f64::INFINITY),
            Value::Int(1),
            text("not a date"),
            Value::Bytes(vec![0xde, 0xad]),
            text("1,5"),
            Value::Int(3),
        ],
        vec![
            Value::Int(3),
            Value::Decimal("10".into()),
            Value::Int(3),
            text("true"),
            text("2025-06-01T12:34:56+08:00"),
            Value::Null,
            Value::Float(0.25),
            Value::Bool(true),
        ],
    ];
    round_trip(vec![(t, rows)]);
}

/// Run by hand: `cargo test --release --lib xlsx::tests::large -- --ignored --nocapture`.
#[test]
#[ignore]
fn large_table_streams() {
    let t = table(
        "big",
        vec![
            column("id", T::Int),
            column("title", T::Text),
            column("price", T::Decimal),
            column("at", T::Timestamp),
            column("s", T::Text),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.xlsx");
    let m = meta(vec![t.clone()]);
    let n = 500_000;
    let mut w = XlsxWriter::create(&path, &m, &BTreeMap::new()).unwrap();
    w.begin_table(&t).unwrap();
    for i in 0..n {
        w.write_row(&[
            Value::Int(i),
            text(&format!("题目 {i}")),
            Value::Decimal(format!("{}.{:02}", i / 100, i % 100)),
            text("2024-03-05 08:30:00"),
            if i % 10 == 0 { text("") } else { Value::Null },
        ])
        .unwrap();
    }
    w.end_table().unwrap();
    Box::new(w).finish().unwrap();
    struct Count(u64);
    impl BackupVisitor for Count {
        fn meta(&mut self, _: &BackupMeta) -> Result<()> {
            Ok(())
        }
        fn begin_table(&mut self, _: &TableMeta) -> Result<()> {
            Ok(())
        }
        fn row(&mut self, _: &[Value]) -> Result<()> {
            self.0 += 1;
            Ok(())
        }
        fn end_table(&mut self, _: &TableMeta) -> Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    read_workbook(&path, &[expected(&t)], &BTreeMap::new(), &mut c).unwrap();
    assert_eq!(c.0, n as u64);
}

#[test]
fn a_deleted_sheet_is_a_problem() {
    let t = table("t", vec![column("id", T::Int)]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.xlsx");
    let rows: Vec<Vec<Value>> = (0..5).map(|i| vec![Value::Int(i)]).collect();
    write(&path, &[(t.clone(), rows)], &BTreeMap::new(), Some(2)).unwrap();
    // Copy all but the second sheet.
    let mut book: Xlsx<_> = open_workbook(&path).unwrap();
    let mut wb = rust_xlsxwriter::Workbook::new();
    for name in book.sheet_names() {
        if name == "t (2)" {
            continue;
        }
        let range = book.worksheet_range(&name).unwrap();
        let ws = wb.add_worksheet();
        ws.set_name(&name).unwrap();
        for (r, row) in range.rows().enumerate() {
            for (c, d) in row.iter().enumerate() {
                match d {
                    Data::String(s) => ws.write_string(r as u32, c as u16, s).map(|_| ()),
                    Data::Float(f) => ws.write_number(r as u32, c as u16, *f).map(|_| ()),
                    _ => Ok(()),
                }
                .unwrap();
            }
        }
    }
    let edited = dir.path().join("edited.xlsx");
    wb.save(&edited).unwrap();
    let msg = message(read_all(&edited, &[expected(&t)], &BTreeMap::new()));
    assert!(
        msg.contains("'t (2)': the sheet of table `t` listed in `_meta` is missing"),
        "{msg}"
    );
}

//! Reading workbooks, including ones people edited or made by hand.
//!
//! Each sheet is streamed twice with calamine's cell reader (rows are never
//! all in memory; calamine keeps the workbook's shared strings): a first
//! pass checks every cell against the target column and collects every
//! problem; only when there is none does a second pass hand the rows to the
//! visitor.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use calamine::{DataRef, Reader, Xlsx, XlsxFormulaMetadata, open_workbook};

use super::cell::{self, ColumnNote, In, Kind};
use super::names::{self, MARKS_SHEET, META_SHEET, cell_ref, sheet_ref, split_continuation};
use super::package;
use super::writer::row_key;
use super::{META_JSON_LABEL, PROBLEMS_LISTED, WORKBOOK_VERSION, WorkbookMeta};
use crate::catalog::{ColumnInfo, TableInfo};
use crate::error::{Error, Result};
use crate::format::{BackupMeta, BackupVisitor, FORMAT_NAME, FORMAT_VERSION, TableMeta, limits};
use crate::value::{ColumnType, Value};

/// A table of the target database, as the reader needs it: the workbook's
/// cells are checked against these columns and handed over in this order.
#[derive(Debug, Clone)]
pub struct ExpectedTable {
    pub name: String,
    pub columns: Vec<ColumnInfo>,
    pub primary_key: Vec<String>,
}

impl From<&TableInfo> for ExpectedTable {
    fn from(t: &TableInfo) -> Self {
        ExpectedTable {
            name: t.name.clone(),
            columns: t.columns.clone(),
            primary_key: t.primary_key.clone(),
        }
    }
}

type Book = Xlsx<BufReader<File>>;

/// The non-empty cells of one row: (0-based column, cell).
type RowCells<'a> = [(u32, In<'a>)];

/// Two sheets holding the same part of a table, or more sheets than
/// `_meta` recorded for it, would import rows twice: Excel names a copied
/// sheet `users (2)`, which reads like a continuation.
fn check_duplicate_sheets(
    found: &BTreeMap<usize, Vec<(usize, usize, String)>>,
    expect: &[ExpectedTable],
    wm: Option<&WorkbookMeta>,
    problems: &mut Problems,
) {
    for (&index, parts) in found {
        let table = &expect[index].name;
        for (i, (part, _, sheet)) in parts.iter().enumerate() {
            if let Some((_, _, other)) = parts[..i].iter().find(|(p, _, _)| p == part) {
                problems.push(format!(
                    "{} and {} both hold part {part} of table `{table}` (a copied sheet?): delete one",
                    sheet_ref(other),
                    sheet_ref(sheet)
                ));
            }
        }
        let recorded = wm.and_then(|wm| wm.table(table)).map(|t| t.sheets.len());
        if let Some(n) = recorded.filter(|&n| parts.len() > n) {
            let extra: Vec<String> = parts
                .iter()
                .filter(|(_, _, s)| {
                    !wm.is_some_and(|wm| wm.table(table).is_some_and(|t| t.sheets.contains(s)))
                })
                .map(|(_, _, s)| sheet_ref(s))
                .collect();
            problems.push(format!(
                "{}: table `{table}` was exported on {n} sheet(s), and this one would add its rows again (a copied sheet?): delete it, or move its rows onto the table's sheet",
                extra.join(", ")
            ));
        }
    }
}

/// Reads the machine-readable part of `_meta`, when the workbook has one.
pub fn read_workbook_meta(path: &Path) -> Result<Option<WorkbookMeta>> {
    let mut book = open(path)?;
    read_meta_sheet(path, &mut book)
}

/// Reads a workbook into `visitor`: [`check_workbook`], then
/// [`CheckedWorkbook::read`].
pub fn read_workbook(
    path: &Path,
    expect: &[ExpectedTable],
    sheet_names: &BTreeMap<String, String>,
    visitor: &mut dyn BackupVisitor,
) -> Result<()> {
    check_workbook(path, expect, sheet_names)?.read(visitor)
}

/// A workbook whose every cell was checked against the target tables.
pub struct CheckedWorkbook {
    path: std::path::PathBuf,
    book: Book,
    is_1904: bool,
    tables: Vec<TablePlan>,
    metas: Vec<TableMeta>,
    meta: BackupMeta,
}

/// Checks a workbook against the target's tables: rows of each table come
/// in the target's column order, as the values the JSON format would carry.
///
/// Sheets are matched to tables through `_meta` when present, else (or for
/// sheets renamed since) by name: the table's name, or its sheet name in
/// `sheet_names` (table → sheet, the plan's `sheet`); `name (2)` continues
/// `name`. Every problem found (up to [`PROBLEMS_LISTED`]) is returned as one
/// error, `sheet!cell: expected integer, found "abc"`, before any row is
/// handed on. Checksums in `_meta` are not enforced: people edit.
pub fn check_workbook(
    path: &Path,
    expect: &[ExpectedTable],
    sheet_names: &BTreeMap<String, String>,
) -> Result<CheckedWorkbook> {
    let mut book = open(path)?;
    let wm = read_meta_sheet(path, &mut book)?;
    let mut problems = Problems::default();
    let mut tables = assign_sheets(&book, wm.as_ref(), expect, sheet_names, &mut problems);
    read_marks(path, &mut book, &mut tables, &mut problems)?;
    let is_1904 = book.has_1904_epoch();
    let mut counts = Vec::with_capacity(tables.len());
    for t in &tables {
        let mut rows = 0u64;
        scan_table(path, &mut book, is_1904, t, &mut problems, &mut |_| {
            rows += 1;
            Ok(())
        })?;
        counts.push(rows);
    }
    if problems.total > 0 {
        return Err(problems.into_error(path));
    }
    let metas: Vec<TableMeta> = tables
        .iter()
        .zip(&counts)
        .map(|(t, rows)| t.table_meta(*rows))
        .collect();
    let meta = backup_meta(wm.as_ref(), metas.clone());
    Ok(CheckedWorkbook {
        path: path.to_path_buf(),
        book,
        is_1904,
        tables,
        metas,
        meta,
    })
}

impl CheckedWorkbook {
    /// What the workbook holds, as a backup's meta (tables in sheet order).
    pub fn meta(&self) -> &BackupMeta {
        &self.meta
    }

    /// Hands every row to `visitor`, table by table.
    pub fn read(mut self, visitor: &mut dyn BackupVisitor) -> Result<()> {
        let path = self.path.clone();
        let mut problems = Problems::default();
        visitor.meta(&self.meta)?;
        for (t, tm) in self.tables.iter().zip(&self.metas) {
            visitor.begin_table(tm)?;
            scan_table(
                &path,
                &mut self.book,
                self.is_1904,
                t,
                &mut problems,
                &mut |row| visitor.row(&row),
            )?;
            if problems.total > 0 {
                // The file changed since it was checked.
                return Err(problems.into_error(&path));
            }
            visitor.end_table(tm)?;
        }
        Ok(())
    }
}

/// Opens a workbook whose package passed [`package::inspect`], and whose
/// every sheet has its part: calamine reads a package without its
/// workbook part as a workbook of no sheets, and finds a missing sheet only
/// when it is read.
fn open(path: &Path) -> Result<Book> {
    package::inspect(path, &limits::current())?;
    let mut book = open_workbook::<Book, _>(path).map_err(|e| Error::Backup {
        path: path.to_path_buf(),
        position: None,
        message: format!("not a readable Excel workbook (.xlsx): {e}"),
    })?;
    let sheets = book.sheet_names();
    if sheets.is_empty() {
        return Err(backup_error(
            path,
            "not a complete Excel workbook (.xlsx): it lists no sheets\n  = help: the file is damaged or was not written as a workbook: export it again, or save it again from Excel",
        ));
    }
    for sheet in sheets {
        if let Err(e) = book.worksheet_cells_reader(&sheet) {
            return Err(backup_error(
                path,
                format!(
                    "not a complete Excel workbook (.xlsx): sheet {} cannot be read: {e}\n  = help: the file is damaged or cut short: export it again, or save it again from Excel",
                    sheet_ref(&sheet)
                ),
            ));
        }
    }
    Ok(book)
}

fn backup_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Backup {
        path: path.to_path_buf(),
        position: None,
        message: message.into(),
    }
}

/// Every problem found, the first [`PROBLEMS_LISTED`] kept.
#[derive(Default)]
struct Problems {
    listed: Vec<String>,
    total: usize,
}

impl Problems {
    fn push(&mut self, p: String) {
        if self.listed.len() < PROBLEMS_LISTED {
            self.listed.push(p);
        }
        self.total += 1;
    }

    fn append(&mut self, other: Problems) {
        let unlisted = other.total - other.listed.len();
        for p in other.listed {
            self.push(p);
        }
        self.total += unlisted;
    }

    fn into_error(self, path: &Path) -> Error {
        let mut message = format!(
            "the workbook does not fit the target tables ({} problem{}); no row was read:",
            self.total,
            if self.total == 1 { "" } else { "s" }
        );
        for p in &self.listed {
            message.push_str("\n  ");
            message.push_str(p);
        }
        if self.total > self.listed.len() {
            message.push_str(&format!(
                "\n  … and {} more",
                self.total - self.listed.len()
            ));
        }
        backup_error(path, message)
    }
}

fn to_in<'a>(d: DataRef<'a>, is_1904: bool) -> In<'a> {
    match d {
        DataRef::Empty => In::Empty,
        DataRef::String(s) => In::Str(Cow::Owned(s)),
        DataRef::SharedString(s) => In::Str(Cow::Borrowed(s)),
        DataRef::Float(f) => In::Num(f),
        DataRef::Int(i) => In::Num(i as f64),
        DataRef::Bool(b) => In::Bool(b),
        DataRef::DateTime(dt) => {
            let f = dt.as_f64();
            // 1904-system dates; times of day (below 1) are the same in both.
            In::Date(if is_1904 && dt.is_datetime() && f >= 1.0 {
                f + 1462.0
            } else {
                f
            })
        }
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => In::Str(Cow::Owned(s)),
        DataRef::Error(e) => In::Error(e.to_string()),
    }
}

/// Streams the rows of a sheet: `(0-based row, cells by 0-based column)`;
/// returns the formulas found (see [`for_each_row_with_blanks`]).
fn for_each_row(
    path: &Path,
    book: &mut Book,
    sheet: &str,
    is_1904: bool,
    f: &mut dyn FnMut(u32, &RowCells<'_>) -> Result<()>,
) -> Result<Problems> {
    for_each_row_with_blanks(path, book, sheet, is_1904, &mut |row, cells| {
        if cells.is_empty() {
            Ok(())
        } else {
            f(row, cells)
        }
    })
}

/// As [`for_each_row`], also calling `f` for rows that have cell elements,
/// but only empty (formatted) ones.
///
/// A cell holding a formula is a problem, never data: its cached value is
/// whatever the last program to save the file computed (or nothing, when
/// openpyxl or a script wrote it), and a formula like `=cmd|' /C calc'!A0`
/// or `=HYPERLINK(…)` is an attack on whoever opens the file next. Such a
/// cell is left out of its row, and returned as a problem.
fn for_each_row_with_blanks(
    path: &Path,
    book: &mut Book,
    sheet: &str,
    is_1904: bool,
    f: &mut dyn FnMut(u32, &RowCells<'_>) -> Result<()>,
) -> Result<Problems> {
    let mut cells = book
        .worksheet_cells_reader(sheet)
        .map_err(|e| backup_error(path, format!("sheet {}: {e}", sheet_ref(sheet))))?;
    let mut row: Vec<(u32, In<'_>)> = Vec::new();
    let mut row_no = 0;
    let mut any = false;
    let mut formulas = Problems::default();
    // Shared formulas' text by index, to show a derived cell's formula.
    let mut shared: HashMap<usize, String> = HashMap::new();
    loop {
        let next = cells
            .next_cell_with_formula_metadata()
            .map_err(|e| backup_error(path, format!("sheet {}: {e}", sheet_ref(sheet))))?;
        let Some(c) = next else { break };
        let (r, col) = c.pos;
        if r != row_no && any {
            f(row_no, &row)?;
            row.clear();
        }
        row_no = r;
        any = true;
        if let Some(formula) = c.formula {
            let text = match formula {
                XlsxFormulaMetadata::Normal { formula } => formula,
                XlsxFormulaMetadata::Shared {
                    shared_index,
                    formula,
                    ..
                } => {
                    shared.insert(shared_index, formula.clone());
                    formula
                }
                XlsxFormulaMetadata::SharedDerived { shared_index } => {
                    shared.get(&shared_index).cloned().unwrap_or_default()
                }
                _ => String::new(),
            };
            formulas.push(format!(
                "{}: a formula ({}); a formula is never data: replace it with its value (copy the cells, then Paste Special \u{2192} Values)",
                cell_ref(sheet, r, col),
                formula_shown(&text)
            ));
            continue;
        }
        let value = to_in(c.value, is_1904);
        if !value.is_empty() {
            row.push((col, value));
        }
    }
    if any {
        f(row_no, &row)?;
    }
    Ok(formulas)
}

/// A formula as the error shows it: `=…`, cut short.
fn formula_shown(text: &str) -> String {
    const SHOWN: usize = 60;
    let text = text.strip_prefix('=').unwrap_or(text);
    if text.chars().count() > SHOWN {
        format!("={}…", text.chars().take(SHOWN).collect::<String>())
    } else {
        format!("={text}")
    }
}

fn read_meta_sheet(path: &Path, book: &mut Book) -> Result<Option<WorkbookMeta>> {
    if !book.sheet_names().iter().any(|s| s == META_SHEET) {
        return Ok(None);
    }
    let mut json = String::new();
    // The JSON is one value: each chunk passed the package scan, their sum
    // must stay within the same limit.
    let limit = limits::current().max_value_bytes;
    // Formulas in `_meta` are refused at once: its JSON would be wrong.
    let formulas = for_each_row(path, book, META_SHEET, false, &mut |_, cells| {
        let label = cells.iter().find(|(c, _)| *c == 0).map(|(_, v)| v);
        if matches!(label, Some(In::Str(s)) if s == META_JSON_LABEL)
            && let Some((_, In::Str(chunk))) = cells.iter().find(|(c, _)| *c == 1)
        {
            if (json.len() + chunk.len()) as u64 > limit {
                return Err(backup_error(
                    path,
                    format!(
                        "the `{META_SHEET}` sheet's `{META_JSON_LABEL}` is longer than {}, the limit (`[import] max_value_bytes`)\n  = help: raise `max_value_bytes` in the plan's `[import]` if the file is trusted",
                        limits::bytes_shown(limit)
                    ),
                ));
            }
            json.push_str(chunk);
        }
        Ok(())
    })?;
    if formulas.total > 0 {
        return Err(formulas.into_error(path));
    }
    if json.is_empty() {
        return Err(backup_error(
            path,
            format!(
                "the `{META_SHEET}` sheet holds no `{META_JSON_LABEL}` rows: it was not written by migplan, or was damaged (rename or delete the sheet to import the workbook as one made by hand)"
            ),
        ));
    }
    let raw: serde_json::Value = serde_json::from_str(&json).map_err(|e| {
        backup_error(
            path,
            format!("the `{META_SHEET}` sheet's JSON is damaged: {e}"),
        )
    })?;
    let version = raw.get("workbook_version").and_then(|v| v.as_u64());
    if let Some(v) = version.filter(|v| *v > u64::from(WORKBOOK_VERSION)) {
        return Err(backup_error(
            path,
            format!(
                "this workbook was written by a newer migplan (workbook version {v}); this migplan reads up to {WORKBOOK_VERSION}"
            ),
        ));
    }
    let wm: WorkbookMeta = serde_json::from_value(raw).map_err(|e| {
        backup_error(
            path,
            format!("the `{META_SHEET}` sheet's JSON is damaged: {e}"),
        )
    })?;
    if wm.backup.format != FORMAT_NAME {
        return Err(backup_error(
            path,
            format!(
                "not a migplan workbook: its `{META_SHEET}` has format {:?}",
                wm.backup.format
            ),
        ));
    }
    if wm.backup.format_version > FORMAT_VERSION {
        return Err(backup_error(
            path,
            format!(
                "this backup was written by a newer migplan (format version {}); this migplan reads up to {FORMAT_VERSION}",
                wm.backup.format_version
            ),
        ));
    }
    if let Err(p) = crate::format::meta::check(&wm.backup) {
        return Err(backup_error(
            path,
            format!("the `{META_SHEET}` sheet's {}: {}", p.path(), p.message),
        ));
    }
    Ok(Some(wm))
}

/// One table of the workbook, ready to read.
struct TablePlan {
    /// Its target table, copied so that the checked workbook stands alone.
    expect: ExpectedTable,
    /// Its sheets, in order.
    sheets: Vec<String>,
    /// One per target column: how to read its cells.
    notes: Vec<ColumnNote>,
    /// What `_meta` recorded about the table, if anything.
    recorded: Option<TableMeta>,
    /// `_marks`: row key → (column, kind, cell).
    marks: HashMap<String, Vec<(String, Kind, String)>>,
    /// Rows of only NULLs the writer recorded (see `SheetTable`).
    blank_rows: u64,
}

impl TablePlan {
    fn table_meta(&self, rows: u64) -> TableMeta {
        let r = self.recorded.as_ref();
        TableMeta {
            name: self.expect.name.clone(),
            module: r.and_then(|r| r.module.clone()),
            columns: self.expect.columns.clone(),
            primary_key: self.expect.primary_key.clone(),
            foreign_keys: r.map(|r| r.foreign_keys.clone()).unwrap_or_default(),
            rows,
            changed_column: r.and_then(|r| r.changed_column.clone()),
        }
    }

    /// The columns whose cells name a row in `_marks`.
    fn key_columns(&self) -> &[String] {
        match &self.recorded {
            Some(r) => &r.primary_key,
            None => &self.expect.primary_key,
        }
    }
}

fn backup_meta(wm: Option<&WorkbookMeta>, tables: Vec<TableMeta>) -> BackupMeta {
    match wm {
        Some(wm) => BackupMeta {
            tables,
            ..wm.backup.clone()
        },
        None => BackupMeta {
            format: FORMAT_NAME.into(),
            format_version: FORMAT_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").into(),
            plan: None,
            schema_version: None,
            exported_at: chrono::Utc::now().to_rfc3339(),
            export_type: "workbook".into(),
            modules: Vec::new(),
            incremental_since: None,
            backup_id: None,
            follows: None,
            sequences: vec![],
            source_engine: "xlsx".into(),
            tables,
        },
    }
}

fn is_own_sheet(sheet: &str) -> bool {
    sheet == META_SHEET
        || sheet == MARKS_SHEET
        || split_continuation(sheet).is_some_and(|(base, _)| base == MARKS_SHEET)
}

/// Matches the workbook's sheets to the expected tables.
fn assign_sheets<'e>(
    book: &Book,
    wm: Option<&WorkbookMeta>,
    expect: &'e [ExpectedTable],
    sheet_names: &BTreeMap<String, String>,
    problems: &mut Problems,
) -> Vec<TablePlan> {
    let sheets = book.sheet_names();
    // Sheet → (table, part) as recorded.
    let mut recorded: HashMap<&str, (&str, usize)> = HashMap::new();
    if let Some(wm) = wm {
        for t in &wm.tables {
            for (i, s) in t.sheets.iter().enumerate() {
                recorded.insert(s, (&t.table, i + 1));
            }
        }
    }
    // A sheet named for a table: its name, its configured sheet name, or
    // either as the writer would have cleaned it.
    let by_name = |sheet: &str| -> Option<&'e ExpectedTable> {
        let exact = expect
            .iter()
            .find(|t| t.name == sheet || sheet_names.get(&t.name).is_some_and(|s| s == sheet));
        exact.or_else(|| {
            expect.iter().find(|t| {
                names::clean(&t.name) == sheet
                    || sheet_names
                        .get(&t.name)
                        .is_some_and(|s| names::clean(s) == sheet)
            })
        })
    };
    let expected = |table: &str| expect.iter().find(|t| t.name == table);

    // (table index in expect) → [(part, workbook position, sheet)]
    let mut found: BTreeMap<usize, Vec<(usize, usize, String)>> = BTreeMap::new();
    let mut unknown = Vec::new();
    for (pos, sheet) in sheets.iter().enumerate() {
        if is_own_sheet(sheet) {
            continue;
        }
        let hit: Option<(&str, usize)> = recorded
            .get(sheet.as_str())
            .copied()
            .or_else(|| by_name(sheet).map(|t| (t.name.as_str(), 1)))
            .or_else(|| {
                let (base, n) = split_continuation(sheet)?;
                recorded
                    .get(base)
                    .map(|(t, _)| (*t, n))
                    .or_else(|| by_name(base).map(|t| (t.name.as_str(), n)))
            });
        match hit {
            Some((table, part)) => match expected(table) {
                Some(t) => {
                    let index = expect
                        .iter()
                        .position(|e| std::ptr::eq(e, t))
                        .expect("found");
                    found
                        .entry(index)
                        .or_default()
                        .push((part, pos, sheet.clone()));
                }
                None => problems.push(format!(
                    "{}: holds table `{table}`, which the target database does not have",
                    sheet_ref(sheet)
                )),
            },
            None => unknown.push(sheet.clone()),
        }
    }
    check_duplicate_sheets(&found, expect, wm, problems);
    if !unknown.is_empty() {
        let tables: Vec<&str> = expect.iter().map(|t| t.name.as_str()).collect();
        problems.push(format!(
            "sheets that match no table: {} (sheets are named after their table, or its `sheet` in the plan; tables: {})",
            unknown.iter().map(|s| sheet_ref(s)).collect::<Vec<_>>().join(", "),
            tables.join(", ")
        ));
    }
    // Sheets `_meta` lists that are gone, unless as many sheets were found
    // for the table by other names (renamed sheets).
    if let Some(wm) = wm {
        for t in &wm.tables {
            let index = expect.iter().position(|e| e.name == t.table);
            let found_n = index.and_then(|i| found.get(&i)).map_or(0, Vec::len);
            let missing: Vec<&String> = t.sheets.iter().filter(|s| !sheets.contains(s)).collect();
            if found_n < t.sheets.len() {
                for s in missing {
                    problems.push(format!(
                        "{}: the sheet of table `{}` listed in `{META_SHEET}` is missing from the workbook",
                        sheet_ref(s),
                        t.table
                    ));
                }
            }
        }
    }

    // Tables in the order `_meta` lists them (export order), then in the
    // order of their first sheet.
    let meta_order = |name: &str| {
        wm.and_then(|wm| wm.tables.iter().position(|t| t.table == name))
            .unwrap_or(usize::MAX)
    };
    let mut plans: Vec<(usize, usize, TablePlan)> = found
        .into_iter()
        .map(|(index, mut parts)| {
            parts.sort();
            let e = &expect[index];
            let recorded_notes = wm.and_then(|wm| wm.table(&e.name));
            let notes = e
                .columns
                .iter()
                .map(|c| {
                    let mut note = ColumnNote::new(&c.name, c.ty, &c.sql_type, c.nullable);
                    if let Some(r) =
                        recorded_notes.and_then(|r| r.columns.iter().find(|n| n.name == c.name))
                    {
                        note.empty_is_text = r.empty_is_text;
                        if r.ty == ColumnType::Decimal && note.ty == ColumnType::Decimal {
                            note.scale = r.scale;
                        }
                    }
                    note
                })
                .collect();
            let first = parts[0].1;
            (
                meta_order(&e.name),
                first,
                TablePlan {
                    expect: e.clone(),
                    sheets: parts.into_iter().map(|(_, _, s)| s).collect(),
                    notes,
                    recorded: wm.and_then(|wm| wm.backup.table(&e.name).cloned()),
                    marks: HashMap::new(),
                    blank_rows: recorded_notes.map_or(0, |r| r.blank_rows),
                },
            )
        })
        .collect();
    plans.sort_by_key(|(m, first, _)| (*m, *first));
    plans.into_iter().map(|(_, _, p)| p).collect()
}

fn read_marks(
    path: &Path,
    book: &mut Book,
    tables: &mut [TablePlan],
    problems: &mut Problems,
) -> Result<()> {
    let sheets: Vec<String> = book
        .sheet_names()
        .into_iter()
        .filter(|s| s != META_SHEET && is_own_sheet(s))
        .collect();
    for sheet in sheets {
        let formulas = for_each_row(path, book, &sheet, false, &mut |row, cells| {
            if row == 0 {
                return Ok(());
            }
            let field = |i: u32| match cells.iter().find(|(c, _)| *c == i) {
                Some((_, In::Str(s))) => s.to_string(),
                _ => String::new(),
            };
            let (table, key, column, kind, fp) = (field(0), field(1), field(2), field(3), field(4));
            let Some(kind) = Kind::parse(&kind) else {
                return Ok(());
            };
            if let Some(t) = tables.iter_mut().find(|t| t.expect.name == table) {
                t.marks.entry(key).or_default().push((column, kind, fp));
            }
            Ok(())
        })?;
        problems.append(formulas);
    }
    Ok(())
}

/// How a sheet's columns map to the table's.
struct Header {
    /// Sheet column → target column.
    by_sheet: HashMap<u32, usize>,
    /// Target column → sheet column.
    by_target: Vec<Option<u32>>,
    /// Sheet columns without a header already reported.
    reported: BTreeSet<u32>,
}

/// Reads one table's sheets, calling `on_row` with each valid row.
fn scan_table(
    path: &Path,
    book: &mut Book,
    is_1904: bool,
    t: &TablePlan,
    problems: &mut Problems,
    on_row: &mut dyn FnMut(Vec<Value>) -> Result<()>,
) -> Result<()> {
    let columns = &t.expect.columns;
    let mut ordinal = 0u64;
    for sheet in &t.sheets {
        let mut header: Option<Header> = None;
        let formulas = for_each_row_with_blanks(path, book, sheet, is_1904, &mut |row, cells| {
            if cells.is_empty() && (header.is_none() || t.blank_rows == 0) {
                return Ok(());
            }
            let Some(h) = header.as_mut() else {
                header = Some(read_header(sheet, row, cells, t, problems));
                return Ok(());
            };
            ordinal += 1;
            let at = |i: usize| -> &In<'_> {
                h.by_target[i]
                    .and_then(|c| cells.iter().find(|(col, _)| *col == c))
                    .map_or(&In::Empty, |(_, v)| v)
            };
            for (col, _) in cells {
                if !h.by_sheet.contains_key(col) && h.reported.insert(*col) {
                    problems.push(format!(
                        "{}: a value in a column without a header (name the column or clear it)",
                        cell_ref(sheet, row, *col)
                    ));
                }
            }
            // Marks of this row, when the table has any.
            let marks = if t.marks.is_empty() {
                None
            } else {
                let key_cells: Option<Vec<String>> = (!t.key_columns().is_empty())
                    .then(|| {
                        t.key_columns()
                            .iter()
                            .map(|k| {
                                columns
                                    .iter()
                                    .position(|c| &c.name == k)
                                    .map(|i| at(i).render())
                            })
                            .collect()
                    })
                    .flatten();
                t.marks.get(&row_key(key_cells, ordinal))
            };
            let mut values = Vec::with_capacity(columns.len());
            let mut ok = true;
            for (i, note) in t.notes.iter().enumerate() {
                let cell = at(i);
                let mark = marks.and_then(|m| {
                    m.iter()
                        .find(|(c, _, fp)| *c == note.name && cell::compact(cell.render()) == *fp)
                });
                let value = match mark {
                    Some((_, kind, _)) => cell::by_kind_in(cell, *kind).ok_or(None),
                    None => cell::natural(cell, note),
                };
                match value {
                    Ok(v) => values.push(v),
                    Err(why) => {
                        ok = false;
                        let col = h.by_target[i].unwrap_or(0);
                        problems.push(format!(
                            "{}: expected {}, found {}{}",
                            cell_ref(sheet, row, col),
                            cell::expected(note.ty),
                            cell.describe(),
                            why.map(|w| format!(" ({w})")).unwrap_or_default()
                        ));
                    }
                }
            }
            if ok && problems.total == 0 {
                on_row(values).map_err(|e| {
                    // A refused row, placed at the cell of its column.
                    let Error::Row(message) = e else { return e };
                    let col = message
                        .split_once("column `")
                        .and_then(|(_, rest)| rest.split_once('`'))
                        .and_then(|(name, _)| columns.iter().position(|c| c.name == name))
                        .and_then(|i| h.by_target[i])
                        .unwrap_or(0);
                    Error::Row(format!("{}: {message}", cell_ref(sheet, row, col)))
                })?;
            }
            Ok(())
        })?;
        problems.append(formulas);
        if header.is_none() {
            problems.push(format!(
                "{}: the sheet is empty; expected a header row with the columns of table `{}`",
                sheet_ref(sheet),
                t.expect.name
            ));
        }
    }
    Ok(())
}

fn read_header(
    sheet: &str,
    row: u32,
    cells: &[(u32, In<'_>)],
    t: &TablePlan,
    problems: &mut Problems,
) -> Header {
    let columns = &t.expect.columns;
    let mut h = Header {
        by_sheet: HashMap::new(),
        by_target: vec![None; columns.len()],
        reported: BTreeSet::new(),
    };
    for (col, value) in cells {
        let name = match value {
            In::Str(s) => s.to_string(),
            other => other.describe(),
        };
        let target = columns
            .iter()
            .position(|c| c.name == name)
            .or_else(|| columns.iter().position(|c| c.name == name.trim()));
        match target {
            Some(i) => match h.by_target[i] {
                Some(first) => problems.push(format!(
                    "{}: column `{}` appears twice (first at {})",
                    cell_ref(sheet, row, *col),
                    columns[i].name,
                    cell_ref(sheet, row, first)
                )),
                None => {
                    h.by_target[i] = Some(*col);
                    h.by_sheet.insert(*col, i);
                }
            },
            None => {
                h.reported.insert(*col);
                problems.push(format!(
                    "{}: unknown column {name:?}; table `{}` has: {}",
                    cell_ref(sheet, row, *col),
                    t.expect.name,
                    columns
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    for (i, c) in columns.iter().enumerate() {
        if h.by_target[i].is_none() {
            problems.push(format!(
                "{}!{}: missing column `{}` of table `{}` (every column needs a header; leave its cells empty for NULL)",
                sheet_ref(sheet),
                row + 1,
                c.name,
                t.expect.name
            ));
        }
    }
    h
}

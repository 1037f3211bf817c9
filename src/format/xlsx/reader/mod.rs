//! Reading workbooks, including ones people edited or made by hand.
//!
//! Each sheet is streamed with calamine's cell reader (rows are never all
//! in memory; calamine keeps the workbook's shared strings): a first pass
//! checks every cell against the target column and collects every problem,
//! spooling the rows it read to a temporary file; only when there is no
//! problem are the rows handed to the visitor, from the spool (or, when no
//! spool could be kept, by streaming the sheets a second time).
//!
//! Here the entry points, the [`CheckedWorkbook`] and the problems found;
//! `rows.rs` streams a sheet row by row (formulas refused), `meta_sheet.rs`
//! reads `_meta` and `_marks`, `sheets.rs` matches sheets to tables,
//! `table.rs` reads a table's cells as its columns' values.

mod meta_sheet;
mod rows;
mod sheets;
mod spool;
mod table;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use calamine::{Reader, Xlsx, open_workbook};

use super::names::sheet_ref;
use super::package;
use super::{Layout, PROBLEMS_LISTED, WorkbookMeta};
use crate::catalog::{ColumnInfo, TableInfo};
use crate::error::{Error, Result};
use crate::events::{self, Event};
use crate::format::{BackupMeta, BackupVisitor, TableMeta, limits};
use meta_sheet::{backup_meta, read_marks, read_meta_sheet};
use sheets::{TablePlan, assign_sheets};
use spool::{Spool, Unspool};
use table::{SheetColumns, placed_at, scan_table};

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

/// Rows checked between two progress events.
const PROGRESS_STEP: u64 = 4096;

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
    /// The rows checked, with per table where its sheets have its columns;
    /// None when they could not be kept.
    spooled: Option<(Spool, Vec<SheetColumns>)>,
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
    check_workbook_with(path, expect, &Layout::sheets(sheet_names))
}

/// [`check_workbook`] with the plan's whole [`Layout`]: headers may be
/// the plan's labels, booleans its texts (besides what `_meta` recorded).
///
/// Checking reads every cell: the listener hears `checking` with the rows
/// `_meta` recorded (0 when unknown), table by table.
pub fn check_workbook_with(
    path: &Path,
    expect: &[ExpectedTable],
    layout: &Layout,
) -> Result<CheckedWorkbook> {
    let mut book = open(path)?;
    let wm = read_meta_sheet(path, &mut book)?;
    let mut problems = Problems::default();
    let mut tables = assign_sheets(&book, wm.as_ref(), expect, layout, &mut problems);
    read_marks(path, &mut book, &mut tables, &mut problems)?;
    let is_1904 = book.has_1904_epoch();
    let mut counts = Vec::with_capacity(tables.len());
    let total = wm.as_ref().map_or(0, |wm| {
        tables
            .iter()
            .filter_map(|t| wm.table(&t.expect.name))
            .map(|t| t.rows)
            .sum()
    });
    events::emit(Event::Started {
        verb: "checking",
        total,
    });
    let mut spool = Spool::create().ok();
    let mut placed = Vec::with_capacity(tables.len());
    let result = (|| -> Result<()> {
        for t in &tables {
            events::emit(Event::Table {
                name: t.expect.name.clone(),
                rows: None,
            });
            let mut rows = 0u64;
            let mut pending = 0u64;
            let sheets = scan_table(
                path,
                &mut book,
                is_1904,
                t,
                &mut problems,
                &mut |row, at| {
                    if let Some(s) = &mut spool
                        && s.push(at, &row).is_err()
                    {
                        // No room for the spool: the sheets are read again.
                        spool = None;
                    }
                    rows += 1;
                    pending += 1;
                    if pending == PROGRESS_STEP {
                        events::emit(Event::Advanced { rows: pending });
                        pending = 0;
                        events::checkpoint()?;
                    }
                    Ok(())
                },
            )?;
            if pending > 0 {
                events::emit(Event::Advanced { rows: pending });
            }
            counts.push(rows);
            placed.push(sheets);
        }
        Ok(())
    })();
    events::emit(Event::Finished);
    result?;
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
        spooled: spool.map(|s| (s, placed)),
    })
}

impl CheckedWorkbook {
    /// The same workbook as if no spool could be kept: read streams the
    /// sheets again.
    #[cfg(test)]
    pub(crate) fn without_spool(mut self) -> Self {
        self.spooled = None;
        self
    }

    /// What the workbook holds, as a backup's meta (tables in sheet order).
    pub fn meta(&self) -> &BackupMeta {
        &self.meta
    }

    /// Hands every row to `visitor`, table by table.
    pub fn read(mut self, visitor: &mut dyn BackupVisitor) -> Result<()> {
        visitor.meta(&self.meta)?;
        let spooled = self.spooled.take();
        if let Some((spool, placed)) = spooled
            && let Ok(rows) = spool.rewind()
        {
            return self.read_spooled(rows, &placed, visitor);
        }
        let path = self.path.clone();
        let mut problems = Problems::default();
        for (t, tm) in self.tables.iter().zip(&self.metas) {
            visitor.begin_table(tm)?;
            scan_table(
                &path,
                &mut self.book,
                self.is_1904,
                t,
                &mut problems,
                &mut |row, _| visitor.row(&row),
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

impl CheckedWorkbook {
    /// [`CheckedWorkbook::read`] from the spool: each table's rows as the
    /// check pass counted them, a refused row placed at its cell.
    fn read_spooled(
        &self,
        mut rows: Unspool,
        placed: &[SheetColumns],
        visitor: &mut dyn BackupVisitor,
    ) -> Result<()> {
        let lost = |e: std::io::Error| {
            backup_error(
                &self.path,
                format!("reading back the rows checked (a temporary file): {e}"),
            )
        };
        for ((t, tm), sheets) in self.tables.iter().zip(&self.metas).zip(placed) {
            visitor.begin_table(tm)?;
            for _ in 0..tm.rows {
                let (at, row) = rows.next().map_err(lost)?;
                let sheet = at.sheet as usize;
                visitor
                    .row(&row)
                    .map_err(|e| placed_at(e, &t.sheets[sheet], at.row, &sheets[sheet], t))?;
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

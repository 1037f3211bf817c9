//! The workbook writer: rust_xlsxwriter in constant-memory mode (each
//! sheet's rows go to a temporary file as they are written), the workbook
//! saved to a temporary file beside the target and renamed on success.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rust_xlsxwriter::{
    DataValidation, DataValidationErrorStyle, Format, FormatAlign, FormatBorder, Formula, Workbook,
    Worksheet, XlsxError,
};
use tempfile::NamedTempFile;

use super::cell::{self, ColumnNote, Kind, NumFmt, Out};
use super::names::{LISTS_SHEET, MARKS_SHEET, META_SHEET, SheetNames};
use super::worker::{Book, Cell, Failure, Look, Looks, RowOut, number_look};
use super::{
    BYTES_COLUMN_PREFIX, Layout, MAX_CELL_TEXT, MAX_DATA_ROWS, META_CHUNK, META_JSON_LABEL,
    SMALL_TABLE_ROWS, SheetTable, WORKBOOK_VERSION, WorkbookMeta,
};
use crate::error::{Error, Result};
use crate::format::{BackupMeta, BackupWriter, TableMeta};
use crate::value::{Checksum, ColumnType, TableSummary, Value};

/// The deflate level of the workbook's parts (1 to 9).
const ZIP_LEVEL: u8 = 1;

/// Streams a backup into an Excel workbook that becomes `path` on `finish`.
pub struct XlsxWriter {
    path: PathBuf,
    /// The file that becomes `path` (0600, beside it).
    out: NamedTempFile,
    /// The workbook, on this thread or away writing rows.
    book: Book,
    names: SheetNames,
    layout: Layout,
    meta: BackupMeta,
    formats: HashMap<NumFmt, Format>,
    header: Format,
    /// Text cells: wrapped, at the top of their row.
    text: Format,
    table: Option<OpenTable>,
    done: Vec<SheetTable>,
    /// Marks spooled to a temporary file (one JSON array per line) until
    /// `_marks` is written at the end.
    marks: Option<BufWriter<File>>,
    scratch: String,
    /// Data rows per sheet; Excel's limit except in tests.
    row_limit: u32,
    /// `_lists`, once a list did not fit inline: its index and rows used.
    lists: Option<(usize, u32)>,
    /// A row's cell widths (reused).
    widths: Vec<usize>,
}

struct OpenTable {
    meta: TableMeta,
    notes: Vec<ColumnNote>,
    sheets: Vec<String>,
    /// The workbook index of the sheet being written.
    sheet: usize,
    /// Every sheet of the table so far: workbook index and data rows.
    written: Vec<(usize, u32)>,
    /// Per column, the widest content seen (in character widths, capped).
    widths: Vec<usize>,
    /// Binary columns: column → the hidden column holding its bytes.
    bytes_columns: Vec<(usize, u16)>,
    /// Data rows on the current sheet.
    rows_here: u32,
    checksum: Checksum,
    /// Positions of the primary key's columns, when it has one.
    key: Option<Vec<usize>>,
    marks: u64,
    blank_rows: u64,
}

fn xlsx_error(path: &Path, e: XlsxError) -> Error {
    Error::Backup {
        path: path.to_path_buf(),
        position: None,
        message: format!("writing the workbook: {e}"),
    }
}

impl XlsxWriter {
    /// Starts a workbook for `path`; `sheet_names` maps tables to the sheet
    /// names wanted (the plan's `sheet`), others are named after the table.
    pub fn create(
        path: &Path,
        meta: &BackupMeta,
        sheet_names: &BTreeMap<String, String>,
    ) -> Result<Self> {
        Self::create_with(path, meta, &Layout::sheets(sheet_names))
    }

    /// Starts a workbook for `path` laid out as `layout` says (sheet names,
    /// header labels, boolean texts).
    pub fn create_with(path: &Path, meta: &BackupMeta, layout: &Layout) -> Result<Self> {
        let out = crate::format::atomic::partial_beside(path)?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let mut workbook = Workbook::new();
        // Each constant-memory sheet spools its rows to an unnamed (already
        // deleted) temporary file; beside the target there is room.
        workbook.set_tempdir(dir).map_err(|e| xlsx_error(path, e))?;
        // Deflate's fastest level: saving a big workbook at the default
        // (6) spends most of the export compressing, for files only a
        // quarter smaller.
        workbook.set_zip_compression_level(ZIP_LEVEL);
        let text = Format::new().set_text_wrap().set_align(FormatAlign::Top);
        let blank = Format::new()
            .set_num_format("@")
            .set_align(FormatAlign::Top);
        let looks = Looks {
            text: text.clone(),
            blank,
            numbers: HashMap::new(),
        };
        Ok(XlsxWriter {
            path: path.to_path_buf(),
            out,
            book: Book::new(workbook, looks),
            names: SheetNames::new(),
            layout: layout.clone(),
            meta: meta.clone(),
            formats: HashMap::new(),
            header: Format::new()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Top)
                .set_background_color("#DDEBF7")
                .set_border_bottom(FormatBorder::Thin),
            text,
            table: None,
            done: Vec::new(),
            marks: None,
            scratch: String::new(),
            row_limit: MAX_DATA_ROWS,
            lists: None,
            widths: Vec::new(),
        })
    }

    /// Fewer data rows per sheet, to test continuation sheets.
    #[cfg(test)]
    pub(crate) fn with_row_limit(mut self, rows: u32) -> Self {
        self.row_limit = rows;
        self
    }

    /// The format of cells shown as `fmt` (`None`: text), top-aligned.
    fn look(&mut self, fmt: Option<NumFmt>) -> Format {
        match fmt {
            None | Some(NumFmt::General) => self.text.clone(),
            Some(fmt) => self
                .formats
                .entry(fmt)
                .or_insert_with(|| number_look(fmt))
                .clone(),
        }
    }

    fn error(&self, message: String) -> Error {
        Error::Backup {
            path: self.path.clone(),
            position: None,
            message,
        }
    }

    fn xlsx(&self, e: XlsxError) -> Error {
        xlsx_error(&self.path, e)
    }

    /// The workbook, taken back from the thread writing rows.
    fn workbook(&mut self) -> Result<&mut Workbook> {
        self.book.get().map_err(|f| failed(&self.path, f))
    }

    /// Adds a sheet with the header row and returns its workbook index.
    fn add_sheet(&mut self, name: &str, headers: &[(&str, f64)]) -> Result<usize> {
        let header = self.header.clone();
        let path = self.path.clone();
        let workbook = self.workbook()?;
        let index = workbook.worksheets().len();
        let sheet = workbook
            .add_worksheet_with_constant_memory()
            .map_err(|e| xlsx_error(&path, e))?;
        let setup = |sheet: &mut Worksheet| -> Result<(), XlsxError> {
            sheet.set_name(name)?;
            for (col, (title, width)) in headers.iter().enumerate() {
                sheet.set_column_width(col as u16, *width)?;
                sheet.write_string_with_format(0, col as u16, *title, &header)?;
            }
            sheet.set_freeze_panes(1, 0)?;
            print_setup(sheet)?;
            Ok(())
        };
        setup(sheet).map_err(|e| xlsx_error(&path, e))?;
        Ok(index)
    }

    fn table_headers(notes: &[ColumnNote]) -> Vec<(&str, f64)> {
        notes
            .iter()
            .map(|c| (c.header(), column_width(c.header(), c.ty)))
            .collect()
    }

    /// A table's sheet: its header row, the hidden columns of bytes, the
    /// dropdowns of booleans and of columns with a list of values.
    fn add_table_sheet(
        &mut self,
        name: &str,
        meta: &TableMeta,
        notes: &[ColumnNote],
    ) -> Result<usize> {
        let index = self.add_sheet(name, &Self::table_headers(notes))?;
        let mut validations = Vec::new();
        for (col, (note, info)) in notes.iter().zip(&meta.columns).enumerate() {
            let list: Vec<String> = match (&note.booleans, note.ty) {
                (Some(words), ColumnType::Bool) => words.to_vec(),
                (None, ColumnType::Bool) => vec!["TRUE".into(), "FALSE".into()],
                _ => info.choices.clone(),
            };
            if list.is_empty() {
                continue;
            }
            let validation = match list_validation(&list) {
                Some(v) => Some(v),
                None => self.long_list(&list)?,
            };
            validations.extend(validation.map(|v| (col as u16, v)));
        }
        let header = self.header.clone();
        let looks: Vec<Format> = notes.iter().map(|n| self.look(usual_format(n))).collect();
        let path = self.path.clone();
        let sheet = self
            .workbook()?
            .worksheet_from_index(index)
            .map_err(|e| xlsx_error(&path, e))?;
        let setup = |sheet: &mut Worksheet| -> Result<(), XlsxError> {
            // Cells written without a format take their column's: its
            // usual number format, else wrapped text, at the top of the row
            // (rust_xlsxwriter hashes a cell's format whole on every write,
            // a column's once).
            for (col, look) in looks.iter().enumerate() {
                sheet.set_column_format(col as u16, look)?;
            }
            for (col, hidden) in bytes_columns(notes) {
                let title = format!("{BYTES_COLUMN_PREFIX}{}", notes[col].name);
                sheet.write_string_with_format(0, hidden, title, &header)?;
                sheet.set_column_hidden(hidden)?;
            }
            for (col, validation) in &validations {
                sheet.add_data_validation(1, *col, MAX_DATA_ROWS, *col, validation)?;
            }
            Ok(())
        };
        setup(sheet).map_err(|e| xlsx_error(&path, e))?;
        Ok(index)
    }

    /// A dropdown of a list too long (or too odd) to be written inline:
    /// the list as a row of the hidden sheet `_lists`, the dropdown a range
    /// of it. None for a list wider than a sheet.
    fn long_list(&mut self, list: &[String]) -> Result<Option<DataValidation>> {
        if list.len() > 16_384
            || list
                .iter()
                .any(|v| v.encode_utf16().count() > MAX_CELL_TEXT)
        {
            return Ok(None);
        }
        let (index, row) = match self.lists {
            Some(l) => l,
            None => {
                let path = self.path.clone();
                let workbook = self.workbook()?;
                let index = workbook.worksheets().len();
                let sheet = workbook
                    .add_worksheet_with_constant_memory()
                    .map_err(|e| xlsx_error(&path, e))?;
                sheet
                    .set_name(LISTS_SHEET)
                    .map_err(|e| xlsx_error(&path, e))?;
                sheet.set_hidden(true);
                (index, 0)
            }
        };
        let path = self.path.clone();
        let sheet = self
            .workbook()?
            .worksheet_from_index(index)
            .map_err(|e| xlsx_error(&path, e))?;
        for (col, v) in list.iter().enumerate() {
            sheet
                .write_string(row, col as u16, v)
                .map_err(|e| xlsx_error(&path, e))?;
        }
        self.lists = Some((index, row + 1));
        let last = super::names::column_letters(list.len() as u32 - 1);
        let formula = format!("='{LISTS_SHEET}'!$A${0}:${last}${0}", row + 1);
        Ok(Some(
            DataValidation::new().allow_list_formula(Formula::new(formula)),
        ))
    }

    /// Starts the next sheet of the open table.
    fn next_sheet(&mut self) -> Result<()> {
        let open = self.table.as_ref().expect("a table is open");
        let first = open.sheets[0].clone();
        let name = self.names.continuation(&first, open.sheets.len() + 1);
        let meta = open.meta.clone();
        let notes = open.notes.clone();
        let index = self.add_table_sheet(&name, &meta, &notes)?;
        let open = self.table.as_mut().expect("a table is open");
        open.sheets.push(name);
        open.sheet = index;
        open.written.push((index, 0));
        open.rows_here = 0;
        Ok(())
    }

    fn mark(&mut self, row: &[String]) -> Result<()> {
        if self.marks.is_none() {
            let spool = tempfile::tempfile_in(self.out.path().parent().unwrap_or(Path::new(".")))
                .map_err(|e| Error::io(&self.path, e))?;
            self.marks = Some(BufWriter::new(spool));
        }
        let spool = self.marks.as_mut().expect("created above");
        serde_json::to_writer(&mut *spool, row).map_err(|e| Error::io(&self.path, e.into()))?;
        spool.write_all(b"\n").map_err(|e| Error::io(&self.path, e))
    }

    fn write_meta(&mut self) -> Result<()> {
        let mut backup = self.meta.clone();
        for t in &mut backup.tables {
            if let Some(done) = self.done.iter().find(|d| d.table == t.name) {
                t.rows = done.rows;
            }
        }
        let wm = WorkbookMeta {
            workbook_version: WORKBOOK_VERSION,
            backup,
            tables: self.done.clone(),
        };
        let json = serde_json::to_string(&wm).map_err(|e| self.error(e.to_string()))?;
        let bold = self.header.clone();
        let sheet = self.workbook()?.add_worksheet();
        let r = write_meta_sheet(sheet, &wm, &json, &bold);
        r.map_err(|e| self.xlsx(e))
    }

    fn write_marks(&mut self) -> Result<()> {
        let Some(spool) = self.marks.take() else {
            return Ok(());
        };
        let mut file = spool
            .into_inner()
            .map_err(|e| Error::io(&self.path, e.into_error()))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(&self.path, e))?;
        let headers: Vec<(&str, f64)> = [
            ("table", 20.0),
            ("row", 30.0),
            ("column", 20.0),
            ("kind", 8.0),
            ("cell", 30.0),
        ]
        .to_vec();
        let mut part = 1;
        let mut index = self.add_sheet(MARKS_SHEET, &headers)?;
        let mut row = 0u32;
        for line in BufReader::new(file).lines() {
            let line = line.map_err(|e| Error::io(&self.path, e))?;
            let fields: Vec<String> =
                serde_json::from_str(&line).map_err(|e| self.error(e.to_string()))?;
            if row == self.row_limit {
                part += 1;
                let name = self.names.continuation(MARKS_SHEET, part);
                index = self.add_sheet(&name, &headers)?;
                row = 0;
            }
            row += 1;
            let path = self.path.clone();
            let sheet = self
                .workbook()?
                .worksheet_from_index(index)
                .map_err(|e| xlsx_error(&path, e))?;
            for (col, f) in fields.iter().enumerate() {
                sheet
                    .write_string(row, col as u16, f)
                    .map_err(|e| xlsx_error(&path, e))?;
            }
        }
        Ok(())
    }
}

/// Print setup of every data sheet: landscape A4, one page wide (as many
/// pages long as it takes), the header row on every page, the sheet's
/// name and the page number in the header and footer.
fn print_setup(sheet: &mut Worksheet) -> Result<(), XlsxError> {
    sheet.set_landscape();
    sheet.set_paper_size(9);
    sheet.set_print_fit_to_pages(1, 0);
    sheet.set_repeat_rows(0, 0)?;
    sheet.set_margins(0.4, 0.4, 0.6, 0.6, 0.3, 0.3);
    sheet.set_header("&L&A");
    sheet.set_footer("&R&P / &N");
    Ok(())
}

/// A dropdown of `list`, or none when Excel cannot hold it inline (255
/// characters, no value with a comma or a double quote).
fn list_validation(list: &[String]) -> Option<DataValidation> {
    let len: usize = list.iter().map(|v| v.chars().count() + 1).sum();
    if len > 255
        || list
            .iter()
            .any(|v| v.contains(',') || v.contains('"') || v.is_empty())
    {
        return None;
    }
    DataValidation::new().allow_list_strings(list).ok()
}

/// Binary columns and the hidden column after the table's columns that
/// holds each one's bytes.
fn bytes_columns(notes: &[ColumnNote]) -> Vec<(usize, u16)> {
    notes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.ty == ColumnType::Blob)
        .enumerate()
        .map(|(k, (i, _))| (i, (notes.len() + k) as u16))
        .collect()
}

/// How wide a text shows, in character widths (CJK characters take two),
/// counted up to `cap`.
fn text_width(s: &str, cap: usize) -> usize {
    let mut w = 0;
    for line in s.lines() {
        let mut lw = 0;
        for c in line.chars() {
            lw += if c.len_utf8() > 2 { 2 } else { 1 };
            if lw >= cap {
                return cap;
            }
        }
        w = w.max(lw);
    }
    w
}

/// A number in a decimal column that is not a decimal value (SQLite
/// keeps `DECIMAL(12,2)` values as REAL or INTEGER) shown with the
/// column's scale when that shows it exactly: the cell's number is the
/// same, only its look changes.
fn shown_with_scale<'a>(out: Out<'a>, note: &ColumnNote) -> Out<'a> {
    match (out, note.ty, note.scale) {
        (Out::Num(f, NumFmt::General | NumFmt::Integer), ColumnType::Decimal, Some(s))
            if s <= 15 && format!("{f:.*}", s as usize).parse::<f64>() == Ok(f) =>
        {
            Out::Num(f, NumFmt::Scale(s))
        }
        (out, _, _) => out,
    }
}

/// A cell as the thread writing rows takes it, with the format it names:
/// none when it shows as its column usually does (see [`usual_format`]).
fn cell_out(out: &Out<'_>, usual: Option<NumFmt>) -> Option<(Cell, Look)> {
    let look = |l: Look| match (l, usual) {
        (Look::Text, None) => Look::Column,
        (Look::Num(f), Some(u)) if f == u => Look::Column,
        (Look::Num(NumFmt::General), None) => Look::Column,
        (l, _) => l,
    };
    Some(match out {
        Out::Empty => return None,
        Out::Str(s) => (Cell::Str(s.to_string()), look(Look::Text)),
        // Integers that General shows whole need no format of their own.
        Out::Num(n, NumFmt::Integer) if n.abs() < GENERAL_WHOLE => {
            (Cell::Num(*n), look(Look::Num(NumFmt::General)))
        }
        Out::Num(n, fmt) => (Cell::Num(*n), look(Look::Num(*fmt))),
        Out::Bool(b) => (Cell::Bool(*b), look(Look::Text)),
    })
}

/// Integers below this show whole in the General format (it turns to
/// scientific notation past 11 characters, sign included): the `0` format
/// is needed only beyond.
const GENERAL_WHOLE: f64 = 1e10;

/// The number format most cells of a column show (`None`: text and
/// general numbers), given to the whole column.
fn usual_format(note: &ColumnNote) -> Option<NumFmt> {
    match (note.ty, note.scale) {
        (ColumnType::Date, _) => Some(NumFmt::Date),
        (ColumnType::Timestamp | ColumnType::TimestampTz, _) => Some(NumFmt::DateTime),
        (ColumnType::Time, _) => Some(NumFmt::Time),
        (ColumnType::Decimal, Some(s)) => Some(NumFmt::Scale(s)),
        _ => None,
    }
}

/// Rows of each table whose content sizes its columns.
const WIDTH_SAMPLE_ROWS: u64 = 1000;

/// How wide a number shows, roughly: its integer digits, sign and decimals.
fn number_width(f: f64, fmt: NumFmt) -> usize {
    let digits = if f.abs() < 1.0 {
        1
    } else {
        (f.abs().log10().floor() as usize + 1).min(16)
    };
    let decimals = match fmt {
        NumFmt::Scale(s) => s as usize + 1,
        NumFmt::Integer => 0,
        _ if f.fract() != 0.0 => 6,
        _ => 0,
    };
    digits + decimals + usize::from(f < 0.0)
}

/// Widest and narrowest column, in character widths.
const MIN_WIDTH: usize = 8;
const MAX_WIDTH: usize = 50;

/// A column's width from its header and type, capped.
fn column_width(name: &str, ty: ColumnType) -> f64 {
    use ColumnType as T;
    let by_type = match ty {
        T::Bool => 7,
        T::Int => 12,
        T::Float | T::Decimal => 14,
        T::Date | T::Time => 12,
        T::Timestamp | T::TimestampTz => 23,
        T::Uuid => 37,
        T::Text | T::Json | T::Array | T::Any => 30,
        T::Blob => 20,
        T::Interval | T::Enum | T::Set => 16,
    };
    let header = text_width(name, MAX_WIDTH) + 2;
    by_type.max(header).min(MAX_WIDTH) as f64
}

/// A column's width once its content is known: the header's or the widest
/// value's, between [`MIN_WIDTH`] and [`MAX_WIDTH`] (longer text wraps).
fn content_width(header: &str, ty: ColumnType, content: usize) -> f64 {
    let header = text_width(header, MAX_WIDTH) + 2;
    let content = match ty {
        ColumnType::Bool => content.max(5),
        _ => content,
    } + 1;
    header.max(content).clamp(MIN_WIDTH, MAX_WIDTH) as f64
}

fn write_meta_sheet(
    sheet: &mut Worksheet,
    wm: &WorkbookMeta,
    json: &str,
    bold: &Format,
) -> Result<(), XlsxError> {
    sheet.set_name(META_SHEET)?;
    sheet.set_column_width(0, 24)?;
    sheet.set_column_width(1, 40)?;
    sheet.set_column_width(2, 14)?;
    sheet.set_column_width(3, 66)?;
    sheet.write_string_with_format(0, 0, "migplan workbook", bold)?;
    sheet.write_string(
        0,
        1,
        "This sheet describes the workbook for migplan; edit the data sheets, not this one.",
    )?;
    let b = &wm.backup;
    let facts = [
        ("format", format!("{} {}", b.format, b.format_version)),
        ("exported at", b.exported_at.clone()),
        ("export type", b.export_type.clone()),
        ("source engine", b.source_engine.clone()),
        (
            "schema version",
            b.schema_version.map_or(String::new(), |v| v.to_string()),
        ),
        ("plan", b.plan.clone().unwrap_or_default()),
        ("tool version", b.tool_version.clone()),
    ];
    let mut row = 2;
    for (k, v) in facts {
        sheet.write_string(row, 0, k)?;
        sheet.write_string(row, 1, &v)?;
        row += 1;
    }
    row += 1;
    for (col, h) in ["table", "sheets", "rows", "checksum"].iter().enumerate() {
        sheet.write_string_with_format(row, col as u16, *h, bold)?;
    }
    row += 1;
    for t in &wm.tables {
        sheet.write_string(row, 0, &t.table)?;
        sheet.write_string(row, 1, t.sheets.join(", "))?;
        sheet.write_number(row, 2, t.rows as f64)?;
        sheet.write_string(row, 3, &t.checksum)?;
        row += 1;
    }
    row += 1;
    for (col, h) in ["table", "column", "type", "notes"].iter().enumerate() {
        sheet.write_string_with_format(row, col as u16, *h, bold)?;
    }
    row += 1;
    for t in &wm.tables {
        for c in &t.columns {
            let mut notes = Vec::new();
            if let Some(s) = c.scale {
                notes.push(format!("numbers shown with {s} decimals"));
            }
            if c.utc {
                notes.push("dates are UTC instants".into());
            }
            if c.empty_is_text {
                notes.push("empty cells are empty text".into());
            }
            if !c.text_carries.is_empty() {
                notes.push(format!("text cells carry {}", c.text_carries.join("; ")));
            }
            if let Some(label) = &c.label {
                notes.push(format!("header {label:?}"));
            }
            if let Some([yes, no]) = &c.booleans {
                notes.push(format!("true is {yes:?}, false {no:?}"));
            }
            sheet.write_string(row, 0, &t.table)?;
            sheet.write_string(row, 1, &c.name)?;
            sheet.write_string(row, 2, c.ty.name())?;
            sheet.write_string(row, 3, notes.join("; "))?;
            row += 1;
        }
    }
    row += 1;
    let mut rest = json;
    while !rest.is_empty() {
        let mut cut = rest.len().min(META_CHUNK);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        sheet.write_string(row, 0, META_JSON_LABEL)?;
        sheet.write_string(row, 1, &rest[..cut])?;
        rest = &rest[cut..];
        row += 1;
    }
    Ok(())
}

/// The primary key's rendered cells, or the row's ordinal: how `_marks`
/// names a row.
pub(crate) fn row_key(cells: Option<Vec<String>>, ordinal: u64) -> String {
    match cells {
        Some(cells) => cell::compact(format!(
            "key:{}",
            serde_json::to_string(&cells).expect("strings serialize")
        )),
        None => format!("#{ordinal}"),
    }
}

impl XlsxWriter {
    fn begin_table_unguarded(&mut self, table: &TableMeta) -> Result<()> {
        if let Some(open) = &self.table {
            return Err(self.error(format!("table `{}` was not ended", open.meta.name)));
        }
        if table.columns.len() > 16_384 {
            return Err(self.error(format!(
                "table `{}` has {} columns; an Excel sheet holds 16,384",
                table.name,
                table.columns.len()
            )));
        }
        let wanted = self
            .layout
            .sheets
            .get(&table.name)
            .unwrap_or(&table.name)
            .clone();
        let name = self.names.allocate(&wanted);
        let notes: Vec<ColumnNote> = table
            .columns
            .iter()
            .map(|c| {
                let mut note = ColumnNote::new(&c.name, c.ty, &c.sql_type, c.nullable);
                note.label = self.layout.label(&table.name, &c.name).map(String::from);
                if c.ty == ColumnType::Bool {
                    note.booleans = self.layout.booleans.get(&table.name).cloned();
                }
                note
            })
            .collect();
        let sheet = self.add_table_sheet(&name, table, &notes)?;
        let key: Option<Vec<usize>> = (!table.primary_key.is_empty())
            .then(|| {
                table
                    .primary_key
                    .iter()
                    .map(|k| table.columns.iter().position(|c| &c.name == k))
                    .collect()
            })
            .flatten();
        self.table = Some(OpenTable {
            meta: table.clone(),
            bytes_columns: bytes_columns(&notes),
            widths: vec![0; notes.len()],
            notes,
            sheets: vec![name],
            sheet,
            written: vec![(sheet, 0)],
            rows_here: 0,
            checksum: Checksum::new(),
            key,
            marks: 0,
            blank_rows: 0,
        });
        Ok(())
    }

    fn write_row_unguarded(&mut self, row: &[Value]) -> Result<()> {
        let Some(open) = self.table.as_ref() else {
            return Err(self.error("a row was written outside any table".into()));
        };
        if row.len() != open.notes.len() {
            return Err(self.error(format!(
                "table `{}`: a row has {} values but the table has {} columns",
                open.meta.name,
                row.len(),
                open.notes.len()
            )));
        }
        if open.rows_here == self.row_limit {
            self.next_sheet()?;
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let open = self.table.as_ref().expect("checked above");
        let ordinal = open.checksum.rows() + 1;
        // Every cell, and whether it must be marked.
        let cells: Vec<(Out<'_>, bool)> = row
            .iter()
            .zip(&open.notes)
            .map(|(v, note)| {
                if let (Value::Bytes(b), ColumnType::Blob) = (v, note.ty)
                    && !b.is_empty()
                {
                    // A marker; the bytes go to the hidden column.
                    return (Out::Str(cell::bytes_marker(b.len()).into()), false);
                }
                let out = cell::natural_out(v, note, &mut scratch);
                match cell::natural(&out.as_in(), note) {
                    Ok(back) if cell::same(&back, v) => (out, false),
                    _ => (shown_with_scale(cell::by_kind(v, &mut scratch), note), true),
                }
            })
            .collect();
        // The hidden cells holding bytes: (table column, sheet column, base64).
        let hidden: Vec<(usize, u16, String)> = open
            .bytes_columns
            .iter()
            .filter_map(|&(col, at)| match (&row[col], &cells[col]) {
                (Value::Bytes(b), (Out::Str(_), false)) => Some((col, at, BASE64.encode(b))),
                _ => None,
            })
            .collect();
        let too_long =
            |s: &str| s.len() > MAX_CELL_TEXT && s.encode_utf16().count() > MAX_CELL_TEXT;
        for (i, ((out, _), note)) in cells.iter().zip(&open.notes).enumerate() {
            // The text written for the column: its cell's, or its bytes'.
            let text = match out {
                Out::Str(s) if too_long(s) => Some(s.as_ref()),
                _ => hidden
                    .iter()
                    .find(|(col, _, b64)| *col == i && too_long(b64))
                    .map(|(_, _, b64)| b64.as_str()),
            };
            if let Some(s) = text {
                let key = match &open.key {
                    Some(k) => k
                        .iter()
                        .map(|&i| format!("{} = {}", open.meta.columns[i].name, row[i].display()))
                        .collect::<Vec<_>>()
                        .join(", "),
                    None => format!("row {ordinal}"),
                };
                let message = format!(
                    "table `{}`, {key}, column `{}`: text of {} characters is longer than an Excel cell holds ({MAX_CELL_TEXT}); export this table in the JSON format instead",
                    open.meta.name,
                    note.name,
                    s.chars().count()
                );
                return Err(self.error(message));
            }
        }
        let marks: Vec<Vec<String>> = if cells.iter().any(|(_, m)| *m) {
            let key_cells = open
                .key
                .as_ref()
                .map(|k| k.iter().map(|&i| cells[i].0.as_in().render()).collect());
            let key = row_key(key_cells, ordinal);
            cells
                .iter()
                .zip(row)
                .zip(&open.notes)
                .filter(|(((_, marked), _), _)| *marked)
                .map(|(((out, _), v), note)| {
                    vec![
                        open.meta.name.clone(),
                        key.clone(),
                        note.name.clone(),
                        Kind::of(v)
                            .expect("NULL is never marked")
                            .name()
                            .to_string(),
                        cell::compact(out.as_in().render()),
                    ]
                })
                .collect()
        } else {
            Vec::new()
        };
        let excel_row = open.rows_here + 1;
        let index = open.sheet;
        // Widths from the first rows of each table: enough to size columns.
        let mut widths = std::mem::take(&mut self.widths);
        widths.clear();
        if open.checksum.rows() < WIDTH_SAMPLE_ROWS {
            widths.extend(cells.iter().map(|(out, _)| match out {
                Out::Empty => 0,
                Out::Str(s) => text_width(s, MAX_WIDTH),
                Out::Bool(_) => 5,
                Out::Num(_, fmt) if fmt.is_temporal() => fmt.pattern().len(),
                Out::Num(f, fmt) => number_width(*f, *fmt),
            }));
        }
        let blank_row = cells.iter().all(|(out, _)| *out == Out::Empty);
        let mut out_cells = Vec::with_capacity(cells.len() + hidden.len() + 1);
        if blank_row {
            out_cells.push((0, Cell::Blank, Look::Blank));
        }
        for (col, ((out, _), note)) in cells.iter().zip(&open.notes).enumerate() {
            out_cells.extend(cell_out(out, usual_format(note)).map(|(c, l)| (col as u16, c, l)));
        }
        for (_, at, b64) in hidden {
            out_cells.push((at, Cell::Str(b64), Look::Column));
        }
        let row_out = RowOut {
            sheet: index,
            row: excel_row,
            cells: out_cells,
        };
        self.book.push(row_out).map_err(|f| failed(&self.path, f))?;
        drop(cells);
        self.scratch = scratch;
        for m in &marks {
            self.mark(m)?;
        }
        let open = self.table.as_mut().expect("checked above");
        for (w, new) in open.widths.iter_mut().zip(&widths) {
            *w = (*w).max(*new);
        }
        self.widths = widths;
        if let Some(last) = open.written.last_mut() {
            last.1 += 1;
        }
        open.marks += marks.len() as u64;
        open.rows_here += 1;
        open.blank_rows += u64::from(blank_row);
        open.checksum.add_row(row);
        Ok(())
    }

    /// A table's sheets once its rows are written: column widths from the
    /// content, the autofilter, dropdowns of the keys of small tables its
    /// foreign keys reference.
    fn finish_sheets(&mut self, open: &OpenTable, rows: u64) -> Result<()> {
        let last_col = (open.notes.len() + open.bytes_columns.len()).saturating_sub(1) as u16;
        // Foreign keys of one column into a small table of this workbook
        // (this one included), on one sheet: the referenced keys' cells.
        let mut lists: Vec<(u16, String)> = Vec::new();
        for fk in &open.meta.foreign_keys {
            let ([col], [ref_col]) = (fk.columns.as_slice(), fk.ref_columns.as_slice()) else {
                continue;
            };
            let Some(col) = open.meta.columns.iter().position(|c| &c.name == col) else {
                continue;
            };
            let (sheets, ref_rows, ref_meta) = if fk.ref_table == open.meta.name {
                (&open.sheets, rows, &open.meta)
            } else {
                let Some(done) = self.done.iter().find(|d| d.table == fk.ref_table) else {
                    continue;
                };
                let Some(meta) = self.meta.table(&fk.ref_table) else {
                    continue;
                };
                (&done.sheets, done.rows, meta)
            };
            let Some(ref_at) = ref_meta.columns.iter().position(|c| &c.name == ref_col) else {
                continue;
            };
            if sheets.len() != 1 || ref_rows == 0 || ref_rows > SMALL_TABLE_ROWS {
                continue;
            }
            let letters = super::names::column_letters(ref_at as u32);
            lists.push((
                col as u16,
                format!(
                    "='{}'!${letters}$2:${letters}${}",
                    sheets[0].replace('\'', "''"),
                    ref_rows + 1
                ),
            ));
        }
        let path = self.path.clone();
        for &(index, rows_here) in &open.written {
            let sheet = self
                .workbook()?
                .worksheet_from_index(index)
                .map_err(|e| xlsx_error(&path, e))?;
            let setup = |sheet: &mut Worksheet| -> Result<(), XlsxError> {
                for (col, (note, w)) in open.notes.iter().zip(&open.widths).enumerate() {
                    sheet
                        .set_column_width(col as u16, content_width(note.header(), note.ty, *w))?;
                }
                sheet.autofilter(0, 0, rows_here.max(1), last_col)?;
                for (col, formula) in &lists {
                    let v = DataValidation::new()
                        .allow_list_formula(Formula::new(formula))
                        .set_error_style(DataValidationErrorStyle::Warning);
                    sheet.add_data_validation(1, *col, MAX_DATA_ROWS, *col, &v)?;
                }
                Ok(())
            };
            setup(sheet).map_err(|e| xlsx_error(&path, e))?;
        }
        Ok(())
    }

    fn finish_unguarded(self) -> Result<()> {
        let mut this = self;
        if let Some(open) = &this.table {
            return Err(this.error(format!("table `{}` was not ended", open.meta.name)));
        }
        this.write_meta()?;
        this.write_marks()?;
        let path = this.path.clone();
        // Saving assembles every sheet from its temporary file and zips
        // them: long for a big workbook, so a person is told.
        crate::events::emit(crate::events::Event::Started {
            verb: "finishing",
            total: 0,
        });
        crate::events::emit(crate::events::Event::Table {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            rows: None,
        });
        {
            let workbook = this.book.get().map_err(|f| failed(&path, f))?;
            let file = this.out.as_file_mut();
            workbook
                .save_to_writer(&mut *file)
                .map_err(|e| xlsx_error(&path, e))?;
            file.flush().map_err(|e| Error::io(&path, e))?;
            file.sync_all().map_err(|e| Error::io(&path, e))?;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(this.out.path(), std::fs::Permissions::from_mode(0o600))
                .map_err(|e| Error::io(&path, e))?;
        }
        this.out
            .persist(&path)
            .map_err(|e| Error::io(&path, e.error))?;
        crate::events::emit(crate::events::Event::Finished);
        Ok(())
    }
}

/// Every call that may write to disk goes through [`guarded`].
impl BackupWriter for XlsxWriter {
    fn begin_table(&mut self, table: &TableMeta) -> Result<()> {
        let path = self.path.clone();
        guarded(&path, || self.begin_table_unguarded(table))
    }

    fn write_row(&mut self, row: &[Value]) -> Result<()> {
        let path = self.path.clone();
        guarded(&path, || self.write_row_unguarded(row))
    }

    fn end_table(&mut self) -> Result<TableSummary> {
        let Some(open) = self.table.take() else {
            return Err(self.error("end_table without begin_table".into()));
        };
        let path = self.path.clone();
        let rows = open.checksum.rows();
        guarded(&path, || self.finish_sheets(&open, rows))?;
        let summary = open.checksum.summary();
        self.done.push(SheetTable {
            table: open.meta.name,
            sheets: open.sheets,
            rows: summary.rows,
            checksum: summary.label(),
            columns: open.notes,
            marks: open.marks,
            blank_rows: open.blank_rows,
        });
        Ok(summary)
    }

    /// The temporary files go when the writer is dropped, whether this
    /// succeeded or not: nothing is left beside the target on failure.
    fn finish(self: Box<Self>) -> Result<()> {
        let path = self.path.clone();
        let result = guarded(&path, || self.finish_unguarded());
        if result.is_err() {
            // The `finishing` phase, when it started, ends here too.
            crate::events::emit(crate::events::Event::Finished);
        }
        result
    }
}

thread_local! {
    /// Set while [`guarded`] runs: the panic hook stays quiet.
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, turning a panic into an error naming the workbook.
///
/// rust_xlsxwriter panics ("Couldn't write to xml file") when a write to a
/// constant-memory sheet's temporary file fails, as on a full disk; the
/// panic is caught here, its message kept off stderr, and the free space
/// of the target's folder told.
fn guarded<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let was = GUARDED.with(|g| g.get());
    quiet_panics();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(was));
    result.unwrap_or_else(|payload| Err(panicked(path, &panic_text(&payload))))
}

/// Keeps this thread's panics off stderr (they are caught and reported).
pub(super) fn quiet_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !GUARDED.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
    GUARDED.with(|g| g.set(true));
}

/// What a caught panic said.
pub(super) fn panic_text(payload: &Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("unknown failure")
        .to_string()
}

/// The error of a write that panicked: the free space of the target's
/// folder told.
fn panicked(path: &Path, why: &str) -> Error {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let free = fs4::available_space(dir)
        .map(|n| format!("; {} byte(s) free in {}", n, dir.display()))
        .unwrap_or_default();
    Error::Backup {
        path: path.to_path_buf(),
        position: None,
        message: format!(
            "writing the workbook failed ({why}){free}; no file was left\n  = help: make room on that disk (the workbook and its temporary files need about twice its size), or export to another folder"
        ),
    }
}

/// The error of rows the thread writing them could not write.
fn failed(path: &Path, f: Failure) -> Error {
    match f {
        Failure::Xlsx(e) => xlsx_error(path, e),
        Failure::Panicked(why) => panicked(path, &why),
    }
}

#[cfg(test)]
mod layout_tests {
    use super::*;

    #[test]
    fn widths_count_cjk_double_and_stay_bounded() {
        assert_eq!(text_width("abc", 50), 3);
        assert_eq!(text_width("题目内容", 50), 8);
        assert_eq!(text_width("short\na much longer line", 50), 18);
        assert_eq!(text_width(&"x".repeat(500), 50), 50);
        assert_eq!(content_width("id", ColumnType::Int, 1), MIN_WIDTH as f64);
        assert_eq!(
            content_width("题目内容", ColumnType::Text, 400),
            MAX_WIDTH as f64
        );
        assert_eq!(content_width("题目内容", ColumnType::Text, 3), 10.0);
    }

    #[test]
    fn numbers_of_a_decimal_column_show_its_scale_only_when_exact() {
        let mut note = ColumnNote::new("price", ColumnType::Decimal, "DECIMAL(10,2)", true);
        let shown =
            |f: f64, note: &ColumnNote| shown_with_scale(Out::Num(f, NumFmt::General), note);
        assert_eq!(shown(49.5, &note), Out::Num(49.5, NumFmt::Scale(2)));
        assert_eq!(shown(0.125, &note), Out::Num(0.125, NumFmt::General));
        note.scale = None;
        assert_eq!(shown(49.5, &note), Out::Num(49.5, NumFmt::General));
    }

    #[test]
    fn inline_lists_stay_within_excel_s_limits() {
        assert!(list_validation(&["a".into(), "b".into()]).is_some());
        assert!(list_validation(&["a,b".into()]).is_none());
        assert!(list_validation(&["say \"x\"".into()]).is_none());
        let long: Vec<String> = (0..60).map(|i| format!("code-{i:02}")).collect();
        assert!(list_validation(&long).is_none());
    }
}

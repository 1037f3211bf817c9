//! Excel workbooks as a backup format (docs/xlsx.md).
//!
//! # Layout
//!
//! One sheet per table (named from the plan's `sheet`, or the table),
//! header row of labels or column names (bold, frozen, filtered; the
//! plan's [`Layout`]), one row per table row, printed landscape one page
//! wide with the header on every page. A table
//! of more than 1,048,575 rows continues on `name (2)`, `name (3)` … each
//! with its header. Then:
//!
//! - `_meta`: human-readable rows (table, sheets, rows, checksum; every
//!   column's type and notes) and, in column B of the rows labelled
//!   `meta.json`, a JSON document in chunks: the full [`BackupMeta`], each
//!   table's sheets, row count, checksum and [`ColumnNote`]s.
//! - `_marks` (only when needed): cells whose value the column's type alone
//!   would not give back exactly, e.g. an empty string (Excel has no empty
//!   string cells: it is written as an empty cell and marked `text`), a text
//!   `"42"` in an integer column of SQLite, bytes in an untyped column. Each
//!   row names the table, the row (its primary key's cells, or `#n` without
//!   one), the column, the value kind and the cell's content; the reader
//!   applies a mark only while the cell still holds that content.
//!
//! # Cells
//!
//! Integers within ±2^53 and floats are numbers; bigger integers are text.
//! Decimals are numbers (format `0.00` for the column's scale) when their
//! shortest double shows exactly the same digits (at most 15), else text.
//! NaN, ±inf and -0.0 are the text `NaN`, `inf`, `-inf`, `-0.0` in float
//! columns. Booleans are booleans. Dates, times, timestamps are Excel dates
//! when Excel holds them exactly (milliseconds, 1900-03-01 to 9999-12-31),
//! else their canonical text; timestamptz are UTC. Bytes are a marker
//! `‹binary N bytes›`, their base64 in a hidden `_bytes:NAME` column.
//! Booleans, enums, CHECK lists and keys of small tables get dropdowns.
//! Everything else is text, always written as a string (never a formula).
//! NULL is an empty cell. Each column carries the format most of its cells
//! show (a date format, the decimal scale, else wrapped text), so a cell
//! typed into it later shows as its neighbours do.
//!
//! Reading a cell for a column type accepts what people type: numbers as
//! text, dates as text or serials; see [`read_workbook`].

mod cell;
mod clock;
mod names;
mod package;
mod reader;
mod worker;
mod writer;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::BackupMeta;

pub use cell::ColumnNote;
pub use reader::{
    CheckedWorkbook, ExpectedTable, check_workbook, check_workbook_with, read_workbook,
    read_workbook_meta,
};
pub use writer::XlsxWriter;

/// Rows Excel holds below the header row of a sheet.
pub const MAX_DATA_ROWS: u32 = 1_048_575;
/// Characters (UTF-16 units) Excel holds in one cell.
pub const MAX_CELL_TEXT: usize = 32_767;
/// What a plan says about its workbooks (docs/xlsx.md), handed to the
/// writer and the reader: the sheets' names, the headers people read, the
/// words booleans are shown as. Dropdowns come from the tables' columns
/// ([`crate::catalog::ColumnInfo::choices`]) and foreign keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    /// Table → its sheet's name.
    pub sheets: BTreeMap<String, String>,
    /// Table → column → the label shown as its header (either is read back).
    pub labels: BTreeMap<String, BTreeMap<String, String>>,
    /// Table → the texts shown for true and false (default: Excel's
    /// TRUE/FALSE booleans).
    pub booleans: BTreeMap<String, [String; 2]>,
}

impl Layout {
    /// A layout naming sheets only.
    pub fn sheets(sheets: &BTreeMap<String, String>) -> Self {
        Layout {
            sheets: sheets.clone(),
            ..Layout::default()
        }
    }

    /// The label of `table.column`, if the plan gives one.
    pub fn label(&self, table: &str, column: &str) -> Option<&str> {
        self.labels.get(table)?.get(column).map(String::as_str)
    }
}

/// Foreign keys into tables of at most this many rows get a dropdown of
/// the referenced keys.
pub const SMALL_TABLE_ROWS: u64 = 100;
/// The header of the hidden column holding a binary column's bytes.
pub const BYTES_COLUMN_PREFIX: &str = "_bytes:";

/// The `_meta` layout version this migplan writes and reads.
pub const WORKBOOK_VERSION: u32 = 2;
/// How many problems an invalid workbook's error lists.
pub const PROBLEMS_LISTED: usize = 50;

/// The label of `_meta` rows whose column B holds a chunk of the JSON.
const META_JSON_LABEL: &str = "meta.json";
/// Characters of JSON per `_meta` cell.
const META_CHUNK: usize = 30_000;

/// The machine-readable part of `_meta`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkbookMeta {
    pub workbook_version: u32,
    pub backup: BackupMeta,
    pub tables: Vec<SheetTable>,
}

/// Where a table is in the workbook and how its cells are to be read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SheetTable {
    pub table: String,
    /// The table's sheets, in order (more than one beyond Excel's row limit).
    pub sheets: Vec<String>,
    pub rows: u64,
    /// `blake3:…` (`sha256:…` in workbooks of format version 1): shown,
    /// not enforced, since people edit workbooks.
    #[serde(alias = "sha256")]
    pub checksum: String,
    pub columns: Vec<ColumnNote>,
    /// Cells of this table listed on `_marks`.
    #[serde(default)]
    pub marks: u64,
    /// Rows of only NULLs and empty strings: written as one formatted blank
    /// cell, so that the reader takes them for rows, not for blank lines.
    #[serde(default)]
    pub blank_rows: u64,
}

impl WorkbookMeta {
    pub fn table(&self, name: &str) -> Option<&SheetTable> {
        self.tables.iter().find(|t| t.table == name)
    }
}

#[cfg(test)]
mod tests;

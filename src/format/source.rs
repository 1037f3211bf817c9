//! One door for reading a backup file, whatever it holds: [`open`] tells a
//! JSON backup (compressed or not) from a workbook, reads what the file says
//! about itself, and gives back a [`Backup`] that hands its rows to a
//! [`BackupVisitor`]. Callers never choose a reader.
//!
//! A JSON backup's meta is read and checked whole when it is opened; its
//! rows are streamed when it is read, its counts and checksums verified on
//! the way. A workbook's every cell is checked against the target's tables
//! when it is opened, so a bad workbook is refused before any row moves.

use std::path::{Path, PathBuf};

use super::xlsx::{self, CheckedWorkbook, ExpectedTable, Layout};
use super::{BackupMeta, BackupVisitor, Format, json};
use crate::error::Result;

/// What reading a file may need besides the file.
pub struct ReadOptions<'a> {
    /// The target's tables, asked for only when the file is a workbook:
    /// its cells are checked against their columns and handed over in their
    /// order (a JSON backup carries its own). An error returned here is the
    /// open's own: a caller that takes no workbook refuses one so.
    pub expected: &'a mut dyn FnMut() -> Result<Vec<ExpectedTable>>,
    /// The plan's sheet names, labels and boolean texts; workbooks only.
    pub layout: &'a Layout,
}

/// A backup file opened for reading: its meta known, its rows not read yet.
pub struct Backup {
    path: PathBuf,
    held: Held,
}

/// What is held between opening and reading, by kind of file. One is made
/// per file opened: the workbook's size beside a meta costs nothing.
#[allow(clippy::large_enum_variant)]
enum Held {
    Json(BackupMeta),
    Workbook(CheckedWorkbook),
}

/// Opens `path` for reading (see the module doc for what is checked when).
pub fn open(path: &Path, opts: ReadOptions<'_>) -> Result<Backup> {
    let held = match Format::detect(path)? {
        Format::Json => Held::Json(json::read_meta(path)?),
        Format::Xlsx => {
            let expected = (opts.expected)()?;
            Held::Workbook(xlsx::check_workbook_with(path, &expected, opts.layout)?)
        }
    };
    Ok(Backup {
        path: path.to_path_buf(),
        held,
    })
}

/// Reads what a file says about itself without a target to read it
/// against: a JSON backup's meta, checked whole; a workbook's package and
/// its `_meta` sheet. A bad input is refused before anything is written.
pub fn check_readable(path: &Path) -> Result<()> {
    match Format::detect(path)? {
        Format::Json => json::read_meta(path).map(drop),
        Format::Xlsx => xlsx::read_workbook_meta(path).map(drop),
    }
}

/// What a backup file says about itself, its rows unread: a JSON backup's
/// meta (read within `[import] max_meta_bytes`), a workbook's `_meta`
/// sheet (its package inspected first); `None` for a workbook made by
/// hand, which has none.
pub fn peek_meta(path: &Path) -> Result<Option<BackupMeta>> {
    match Format::detect(path)? {
        Format::Json => json::read_meta(path).map(Some),
        Format::Xlsx => Ok(xlsx::read_workbook_meta(path)?.map(|wm| wm.backup)),
    }
}

impl Backup {
    /// The file, as it was given to [`open`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the backup holds; for a workbook, its tables as the target
    /// has them, in sheet order.
    pub fn meta(&self) -> &BackupMeta {
        match &self.held {
            Held::Json(meta) => meta,
            Held::Workbook(book) => book.meta(),
        }
    }

    /// The kind of file, for the words messages use.
    pub fn kind(&self) -> Format {
        match self.held {
            Held::Json(_) => Format::Json,
            Held::Workbook(_) => Format::Xlsx,
        }
    }

    /// Hands every row to `visitor`, table by table; a JSON backup's counts
    /// and checksums are verified before this returns.
    pub fn read(self, visitor: &mut dyn BackupVisitor) -> Result<()> {
        match self.held {
            Held::Json(_) => json::read(&self.path, visitor),
            Held::Workbook(book) => book.read(visitor),
        }
    }
}

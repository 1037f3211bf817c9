//! Rows ↔ files. A format writes a backup ([`BackupWriter`]) and reads one
//! back through one door ([`open`], whatever the file holds), handing rows
//! as [`Value`]s to a [`BackupVisitor`]. Formats know nothing of databases:
//! they never open a connection.

mod apart;
mod atomic;
mod compress;
mod encrypt;
pub mod json;
pub mod limits;
mod meta;
mod source;
pub mod xlsx;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use apart::{TableWriter, WrittenTable};
pub use atomic::AtomicFile;
pub use compress::{CompressedFile, Compression, is_json_backup_name};
pub use encrypt::{
    AGE_SUFFIX, Keyring, Recipients, encrypted_name, has_age_suffix, install as install_keyring,
    is_encrypted_file, without_age_suffix,
};
pub use source::{Backup, ReadOptions, check_readable, open, peek_meta};
pub use xlsx::ExpectedTable;

use crate::catalog::{ColumnInfo, ForeignKey, Sequence};
use crate::error::{EncryptionError, Error, Result};
use crate::value::{TableSummary, Value};

/// The `format` field of every migplan backup.
pub const FORMAT_NAME: &str = "migplan-backup";
/// The current backup format version; readers refuse newer ones.
pub const FORMAT_VERSION: u32 = 3;

/// Everything a backup says about itself, written before any data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupMeta {
    pub format: String,
    pub format_version: u32,
    pub tool_version: String,
    pub plan: Option<String>,
    /// Highest applied schema script at export time.
    pub schema_version: Option<i64>,
    /// RFC 3339.
    pub exported_at: String,
    /// `full`, `incremental` or `modules`.
    pub export_type: String,
    #[serde(default)]
    pub modules: Vec<String>,
    pub incremental_since: Option<String>,
    pub source_engine: String,
    pub tables: Vec<TableMeta>,
    /// This backup's id (random hex), so an incremental backup can name the
    /// backup it follows. Absent in backups from older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_id: Option<String>,
    /// For incremental backups in a chain: the `backup_id` of the backup
    /// this one follows (docs/plans.md, "Incremental chains").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follows: Option<String>,
    /// The counters of the exported tables (and, in a full backup, every
    /// PostgreSQL sequence of the schema), read inside the export's
    /// snapshot, so a restore lets the application insert again
    /// (docs/sequences.md). Absent in older backups: those restore counters
    /// to just past the imported ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sequences: Vec<Sequence>,
}

/// A fresh backup id: 128 random bits in hex.
pub fn new_backup_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

impl BackupMeta {
    pub fn table(&self, name: &str) -> Option<&TableMeta> {
        self.tables.iter().find(|t| t.name == name)
    }
}

/// One table as recorded in a backup: the columns actually exported, in the
/// order each row lists them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableMeta {
    pub name: String,
    pub module: Option<String>,
    pub columns: Vec<ColumnInfo>,
    #[serde(default)]
    pub primary_key: Vec<String>,
    #[serde(default)]
    pub foreign_keys: Vec<ForeignKey>,
    /// Rows the export expected to write (the summary has the true count).
    pub rows: u64,
    /// For incremental exports: the column rows were selected by, or `None`
    /// when the table had none and was exported whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_column: Option<String>,
}

/// Writes one backup: tables one after another, rows streamed.
pub trait BackupWriter {
    fn begin_table(&mut self, table: &TableMeta) -> Result<()>;
    fn write_row(&mut self, row: &[Value]) -> Result<()>;
    fn end_table(&mut self) -> Result<TableSummary>;
    /// Puts a table written apart ([`apart_writer`]) in the file, after the tables placed or
    /// written before it: the bytes are those `begin_table`, `write_row`
    /// and `end_table` would have written.
    fn place_table(&mut self, table: WrittenTable) -> Result<TableSummary> {
        let name = table.name;
        Err(Error::Backup {
            path: PathBuf::from(name),
            position: None,
            message: "this format writes its tables only in order".into(),
        })
    }
    /// Writes the trailer and moves the file to its final name.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// A writer of `table`'s rows for another thread (`--jobs`), whose
/// [`WrittenTable`] [`BackupWriter::place_table`] puts in the file; `None`
/// where the format writes its tables only in order (workbooks). Needs no
/// file yet: tables may be read before the backup's meta is complete.
pub fn apart_writer(format: Format, table: &TableMeta) -> Option<Box<dyn TableWriter>> {
    match format {
        Format::Json => Some(json::apart_writer(table)),
        Format::Xlsx => None,
    }
}

/// Receives a backup as it is read. Rows arrive in file order; every table's
/// count and checksum are verified by the reader before `read_backup` returns.
pub trait BackupVisitor {
    fn meta(&mut self, meta: &BackupMeta) -> Result<()>;
    fn begin_table(&mut self, table: &TableMeta) -> Result<()>;
    fn row(&mut self, row: &[Value]) -> Result<()>;
    fn end_table(&mut self, table: &TableMeta) -> Result<()>;
}

/// The kinds of backup file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Json,
    /// Excel workbooks (docs/xlsx.md).
    Xlsx,
}

impl Format {
    /// Every format by its name, which is also its file extension: the one
    /// list that plans, the CLI and output names read.
    pub const NAMES: [(&'static str, Format); 2] = [("json", Format::Json), ("xlsx", Format::Xlsx)];

    pub fn extension(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, f)| *f == self)
            .map(|(n, _)| *n)
            .expect("every format has a name")
    }

    /// The format a file extension names (any case), if any.
    pub fn from_extension(ext: &str) -> Option<Format> {
        let ext = ext.to_ascii_lowercase();
        Self::NAMES.iter().find(|(n, _)| *n == ext).map(|(_, f)| *f)
    }

    /// What a file holds, from its first bytes: a workbook is a zip
    /// archive (`PK\x03\x04`); anything else — zstd- or gzip-compressed
    /// JSON included — is read as JSON, whose reader says precisely what is
    /// wrong.
    pub fn detect(path: &Path) -> Result<Format> {
        use std::io::Read;
        let mut head = [0u8; 4];
        let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let n = file.read(&mut head).map_err(|e| Error::io(path, e))?;
        Ok(if head[..n] == *b"PK\x03\x04" {
            Format::Xlsx
        } else {
            Format::Json
        })
    }
}

/// Creates a backup writer for `path` (written under a temporary name).
/// `layout` (sheet names, labels, boolean texts) matters to workbooks only. A JSON backup
/// whose name ends `.zst` or `.gz` (before any `.age`) is compressed
/// accordingly ([`Compression::from_path`]); [`create_backup_with`] chooses
/// explicitly. Given `recipients`, a JSON backup is encrypted to them (its
/// name should end `.age`, [`encrypted_name`]); a workbook cannot be, and a
/// name ending `.age` without recipients is refused, before anything is
/// written.
pub fn create_backup(
    path: &Path,
    meta: &BackupMeta,
    format: Format,
    layout: &xlsx::Layout,
    recipients: Option<&Recipients>,
) -> Result<Box<dyn BackupWriter>> {
    let compression = match format {
        Format::Json => Compression::from_path(path),
        Format::Xlsx => Compression::None,
    };
    create_backup_with(path, meta, format, compression, layout, recipients)
}

/// [`create_backup`] with the compression chosen by the caller, whatever the
/// file name says. Workbooks are zip archives already: compressing one is
/// refused, and so is encrypting one (a zip is read by seeking, an age
/// stream is not).
pub fn create_backup_with(
    path: &Path,
    meta: &BackupMeta,
    format: Format,
    compression: Compression,
    layout: &xlsx::Layout,
    recipients: Option<&Recipients>,
) -> Result<Box<dyn BackupWriter>> {
    let file = path.to_path_buf();
    match (format, recipients) {
        (Format::Xlsx, Some(_)) => return Err(EncryptionError::EncryptedWorkbook { file }.into()),
        (_, None) if has_age_suffix(path) => {
            return Err(EncryptionError::AgeNameWithoutRecipients { file }.into());
        }
        _ => {}
    }
    Ok(match (format, compression) {
        (Format::Json, c) => Box::new(json::JsonWriter::create_compressed(
            path, meta, c, recipients,
        )?),
        (Format::Xlsx, Compression::None) => {
            Box::new(xlsx::XlsxWriter::create_with(path, meta, layout)?)
        }
        (Format::Xlsx, c) => {
            return Err(Error::MisusedOption {
                option: "compress",
                message: format!(
                    "{}: an Excel workbook is compressed already; {c} compression applies to JSON backups",
                    path.display()
                ),
            });
        }
    })
}

/// Reads only the meta of a backup, without touching its data.
pub fn read_meta(path: &Path) -> Result<BackupMeta> {
    json::read_meta(path)
}

/// Reads a whole backup, verifying row counts and checksums.
pub fn read_backup(path: &Path, visitor: &mut dyn BackupVisitor) -> Result<()> {
    json::read(path, visitor)
}

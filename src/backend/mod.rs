//! Rows ↔ databases. One file per engine behind the [`Backend`] trait; all
//! engine-specific SQL (quoting, upserts, snapshots) stays in that file.
//! Backends know nothing of files or formats.

mod sqlite;
mod url;

pub use url::DbUrl;

use crate::catalog::Catalog;
use crate::error::Result;
use crate::plan::Conflict;
use crate::value::Value;

/// Tables that belong to migplan or refinery, never exported or imported.
pub const BOOKKEEPING_TABLES: &[&str] = &["refinery_schema_history", "migplan_history"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
    Mysql,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
        }
    }
}

/// What to read from one table.
#[derive(Debug, Clone)]
pub struct ReadRequest<'a> {
    pub table: &'a str,
    /// Columns to read, in this order.
    pub columns: &'a [String],
    /// Rows are returned ordered by these columns (the primary key), so that
    /// exports are deterministic.
    pub order_by: &'a [String],
    /// Only rows whose column is later than the instant (incremental export).
    pub changed_since: Option<(&'a str, chrono::DateTime<chrono::FixedOffset>)>,
}

/// Where and how to write rows of one table.
#[derive(Debug, Clone)]
pub struct WriteRequest<'a> {
    pub table: &'a str,
    /// Columns of every row passed to [`Backend::write`], in this order.
    pub columns: &'a [String],
    /// The conflict key: a primary or unique key of the table.
    pub key: &'a [String],
    pub conflict: Conflict,
}

/// What happened to one written row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowOutcome {
    Inserted,
    /// A row with the same key existed and was kept (policy `skip`).
    Skipped,
    /// A row with the same key existed and was replaced (policy `overwrite`).
    Overwritten,
    /// A row with the same key existed; nothing written (policy `error`).
    Conflict,
}

/// One open connection to one database.
///
/// The data phase drives it as a checklist: `catalog`, then either a read
/// snapshot (`begin_read` … `read` … `rollback`) or one write transaction
/// (`begin_write` … `write` … `commit`/`rollback`).
pub trait Backend {
    fn engine(&self) -> Engine;

    /// Every user table with columns and keys, bookkeeping tables excluded.
    fn catalog(&mut self) -> Result<Catalog>;

    fn count_rows(&mut self, table: &str) -> Result<u64>;

    /// Whether a table exists, bookkeeping tables included.
    fn has_table(&mut self, table: &str) -> Result<bool>;

    /// Applies pending refinery scripts (each in its own transaction where the
    /// engine allows).
    fn migrate(
        &mut self,
        runner: &refinery::Runner,
    ) -> std::result::Result<refinery::Report, refinery::Error>;

    fn applied_migrations(
        &mut self,
        runner: &refinery::Runner,
    ) -> std::result::Result<Vec<refinery::Migration>, refinery::Error>;

    /// Starts one consistent read-only snapshot for an export.
    fn begin_read(&mut self) -> Result<()>;

    /// Streams the rows of a table to `sink`, one at a time.
    fn read(
        &mut self,
        req: &ReadRequest<'_>,
        sink: &mut dyn FnMut(&[Value]) -> Result<()>,
    ) -> Result<()>;

    /// Starts the single write transaction of an import.
    fn begin_write(&mut self) -> Result<()>;

    fn write(&mut self, req: &WriteRequest<'_>, row: &[Value]) -> Result<RowOutcome>;

    /// Whether a row with these column values exists (self-referencing rows
    /// wait until their parent is present).
    fn key_exists(&mut self, table: &str, columns: &[String], values: &[Value]) -> Result<bool>;

    fn commit(&mut self) -> Result<()>;

    fn rollback(&mut self) -> Result<()>;
}

/// Options for opening a database.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Create the database (SQLite file) when it does not exist.
    pub create: bool,
}

/// Opens the database a URL names.
pub fn open(url: &DbUrl, opts: &OpenOptions) -> Result<Box<dyn Backend>> {
    match url.engine() {
        Engine::Sqlite => Ok(Box::new(sqlite::Sqlite::open(url, opts)?)),
        other => Err(crate::Error::Usage(format!(
            "{} databases are not supported yet ({}); use a sqlite:// URL",
            other.name(),
            url.redacted()
        ))),
    }
}

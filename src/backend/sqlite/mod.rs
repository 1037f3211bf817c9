//! SQLite, the embedded zero-setup default (rusqlite, bundled).
//!
//! SQLite is dynamically typed: a value keeps its own storage class whatever
//! the column declares. Reading returns each value as stored, and writing
//! binds it back the same way, so a round trip is exact. The declared type
//! only decides the portable [`ColumnType`](crate::value::ColumnType)
//! recorded in backups.
//!
//! The folder's rooms, the same in every engine folder: `connect.rs`
//! opening the file, `catalog.rs` what the database holds, `values.rs`
//! types, values and an export's read, `write.rs` an import's write
//! transaction, `bookkeeping.rs` the run history, the run lock, counters
//! set and triggers switched off, `dialect.rs` what the modules above may
//! know of SQLite. SQLite needs no bulk loader: in process, rows go in by
//! one prepared INSERT each. The [`Backend`] methods below are short, or
//! name the room that does the work.

mod bookkeeping;
mod catalog;
mod connect;
mod dialect;
mod preview;
mod values;
mod write;

pub(crate) use dialect::DIALECT;
pub use values::inexact;

use rusqlite::Connection;

use super::{Attempt, Backend, Engine, ReadRequest, Refusal, TableOutcome, WriteRequest};
use crate::catalog::{Catalog, Sequence, Trigger};
use crate::error::{Error, Result};
use crate::value::Value;
use write::WriterSql;

pub struct Sqlite {
    conn: Connection,
    /// The lock file beside the database (`None` in memory) and, while
    /// this run holds it, its open handle.
    lock_path: Option<std::path::PathBuf>,
    lock: Option<std::fs::File>,
    /// The table being written and what happened to its rows so far.
    writer: Option<(WriterSql, TableOutcome)>,
    /// Tables of the open import, whose foreign keys `finish_write` checks.
    written: Vec<String>,
    /// `CREATE TRIGGER` statements of triggers dropped for the load,
    /// re-run by `finish_write`.
    dropped_triggers: Vec<String>,
    /// `CREATE INDEX` statements of the plain indexes of tables that were
    /// empty, dropped while their rows load and built again (one sort each,
    /// not a B-tree insert per row) by `finish_write`.
    dropped_indexes: Vec<String>,
}

use super::quote_ansi as quote;

fn quote_list(idents: &[String]) -> String {
    super::quote_list(quote, idents)
}

impl Backend for Sqlite {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    fn catalog(&mut self) -> Result<Catalog> {
        self.read_catalog()
    }

    fn triggers(&mut self) -> Result<Vec<Trigger>> {
        self.read_triggers()
    }

    fn disable_triggers(&mut self, triggers: &[Trigger]) -> Result<()> {
        self.drop_triggers(triggers)
    }

    fn sequences(&mut self) -> Result<Vec<Sequence>> {
        self.read_sequences()
    }

    fn max_value(&mut self, table: &str, column: &str) -> Result<Option<i64>> {
        self.largest_integer(table, column)
    }

    fn set_sequence(&mut self, seq: &Sequence, next: i64) -> Result<()> {
        self.set_counter(seq, next)
    }

    fn count_read(&mut self, req: &ReadRequest<'_>) -> Result<u64> {
        self.count_selected(req)
    }

    fn count_rows(&mut self, table: &str) -> Result<u64> {
        self.count_table_rows(table)
    }

    fn has_table(&mut self, table: &str) -> Result<bool> {
        self.table_exists(table)
    }

    fn meta_exec(&mut self, sql: &str, params: &[Value]) -> Result<()> {
        self.exec_history(sql, params)
    }

    fn meta_query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>> {
        self.query_history(sql, params)
    }

    fn try_lock(&mut self) -> Result<bool> {
        self.take_lock_file()
    }

    fn unlock(&mut self) -> Result<()> {
        self.release_lock_file()
    }

    fn describe_lock(&mut self, holder: &str) -> Result<()> {
        self.describe_in_lock_file(holder)
    }

    fn lock_description(&mut self) -> Option<String> {
        self.read_lock_file()
    }

    fn identity_sql(&self) -> &'static str {
        "SELECT file, file FROM pragma_database_list WHERE name = 'main'"
    }

    fn size_bytes(&mut self) -> Result<u64> {
        self.disk_size()
    }

    fn table_size_bytes(&mut self, table: &str) -> Result<Option<u64>> {
        self.table_disk_size(table)
    }

    fn execute_sql(&mut self, context: &str, sql: &str) -> Result<()> {
        self.conn
            .execute_batch(sql)
            .map_err(|e| Error::db(context, e))
    }

    fn query_text(&mut self, context: &str, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        self.query_as_text(context, sql)
    }

    fn begin_read(&mut self) -> Result<()> {
        self.begin_snapshot()
    }

    fn read(
        &mut self,
        req: &ReadRequest<'_>,
        sink: &mut dyn FnMut(&[Value]) -> Result<()>,
    ) -> Result<()> {
        self.read_rows(req, sink)
    }

    fn begin_write(&mut self, tables: &[String]) -> Result<()> {
        self.start_import(tables)
    }

    fn clear_table(&mut self, table: &str) -> Result<()> {
        self.empty_table(table)
    }

    fn begin_table(&mut self, req: &WriteRequest<'_>) -> Result<()> {
        self.start_table(req)
    }

    fn write_row(&mut self, row: &[Value]) -> Result<()> {
        self.insert_row(row)
    }

    fn end_table(&mut self) -> Result<TableOutcome> {
        Ok(self.writer.take().map(|(_, o)| o).unwrap_or_default())
    }

    fn finish_write(&mut self) -> Result<()> {
        self.check_and_restore()
    }

    fn commit(&mut self) -> Result<()> {
        self.conn
            .execute_batch("COMMIT; PRAGMA foreign_keys = ON;")
            .map_err(|e| Error::db("committing", e))
    }

    fn begin_preview(&mut self, tables: &[String]) -> Result<()> {
        self.start_preview(tables)
    }

    fn try_rows(
        &mut self,
        req: &WriteRequest<'_>,
        rows: &[Vec<Value>],
        how: Attempt,
        keep: bool,
    ) -> Result<Option<Refusal>> {
        self.attempt_rows(req, rows, how, keep)
    }

    fn rollback(&mut self) -> Result<()> {
        self.end_transaction()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
    }
}

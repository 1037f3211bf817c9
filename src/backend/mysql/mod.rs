//! MySQL and MariaDB (the `mysql` crate, synchronous).
//!
//! Every session runs in UTC with `utf8mb4` and a strict `sql_mode`, so the
//! server refuses rather than truncates, and an imported id 0 stays 0.
//!
//! Reading uses the binary protocol (prepared statements) and decodes each
//! value by the column's declared type; writing converts every value with
//! [`convert`](super::convert) first, so a value that would not arrive
//! exactly is refused, naming its column, before anything of its row is
//! sent.
//!
//! MySQL commits DDL implicitly, so the data phase runs no DDL but
//! `CREATE/DROP TEMPORARY TABLE`, which does not commit. An import is one
//! InnoDB transaction: rows go in as multi-row `INSERT`s with bound
//! parameters, straight into an empty table, otherwise into a temporary
//! staging copy that is then merged with the conflict policy in one
//! statement. Per-row foreign-key checks are off while rows load; every
//! foreign key of the written tables is then checked in bulk.
//!
//! Type mapping (see also docs/types.md):
//! - `tinyint(1)`/`bool` → bool (values other than 0/1 stay integers);
//!   other integer types and `year` → int; `bigint unsigned` beyond
//!   `i64::MAX` → unsigned int; `bit(n)` → int (big-endian value).
//! - `decimal` → decimal text as the server prints it (scale kept);
//!   `float` → the double nearest the single's shortest decimal form;
//!   `double` → float. NaN and ±Infinity cannot be stored: an error.
//! - `char`/`varchar`/`text` → text; `enum`/`set` → their labels; `json`
//!   (MySQL) and MariaDB's `longtext … CHECK (json_valid(col))` → json;
//!   MariaDB `uuid` → uuid; `inet4`/`inet6` → text.
//! - `binary`/`varbinary`/`blob` → bytes (`binary(n)` is zero-padded by the
//!   server, `char(n)` loses trailing spaces: MySQL's own behaviour).
//! - `date` → `YYYY-MM-DD`; `datetime` → `YYYY-MM-DD HH:MM:SS[.ffffff]`;
//!   `timestamp` → the same with `+00:00`; `time` → `[-]HH:MM:SS[.ffffff]`
//!   (up to ±838 hours). Zero dates (`0000-00-00`, `2024-00-00`) are carried
//!   as that text and written back as such.
//! - Spatial types (`geometry`, `point`, …) → bytes: MySQL's internal form
//!   (4-byte SRID, then WKB), which the server takes back unchanged.
//! - Any other type migplan cannot carry exactly is an error naming table,
//!   column and type, before any row of that table moves (exclude the
//!   column in the plan to move the rest).
//!
//! The rooms, the same in every engine folder: `connect.rs` (URL, TLS,
//! session, secrets), `catalog.rs` (tables, columns, keys, counters),
//! `values.rs` (types; values decoded and encoded), `write.rs` (the import
//! transaction: INSERTs, staging, merges, bulk key checks), `bulk.rs` (the
//! `LOAD DATA LOCAL` loader thread, MariaDB's bulk load), `bookkeeping.rs`
//! (run history, run lock, counters set, triggers).

use ::mysql::prelude::Queryable;
use ::mysql::{Conn, Params, Value as My};

use super::{
    Attempt, BOOKKEEPING_TABLES, Backend, DbUrl, Engine, OpenOptions, ReadRequest, Refusal,
    TableOutcome, TableReader, WriteRequest,
};
use crate::catalog::{Catalog, Sequence, Trigger};
use crate::error::{Error, Result};
use crate::value::Value;

mod bookkeeping;
mod bulk;
mod catalog;
mod connect;
mod dialect;
mod preview;
mod snapshot;
mod values;
mod write;

use bookkeeping::meta_param;
use bulk::LOAD_DATA_ENV;
use catalog::Table;
use connect::{batch_bytes, scrub, url_secrets};
pub(crate) use dialect::DIALECT;
use write::Writer;

pub struct Mysql {
    /// The connection; a table's loader thread holds it while rows stream
    /// in ([`Loader`](bulk::Loader)).
    slot: Option<Conn>,
    /// The URL with the password masked, for messages.
    url: String,
    /// Where readers of an export's snapshot connect.
    db_url: DbUrl,
    /// Secrets of the URL, masked in any driver message.
    secrets: Vec<String>,
    /// Bytes of parameters one INSERT may carry.
    batch_bytes: usize,
    mariadb: bool,
    /// Every table of the database as last introspected.
    tables: Vec<Table>,
    /// The table being written.
    writer: Option<Writer>,
    /// Tables of the open import, whose foreign keys `finish_write` checks.
    written: Vec<String>,
    /// The staging table that exists in this session, if any.
    staging: Option<String>,
    staging_seq: usize,
    /// Whether rows go in by `LOAD DATA LOCAL`: `None` until the first
    /// table of an import tries it.
    load_data: Option<bool>,
    /// The session's `UNIQUE_CHECKS` is off (see [`Mysql::bulk_load`]).
    unique_checks_off: bool,
    /// AUTO_INCREMENT values set by `commit` once the rows are in: `ALTER
    /// TABLE` would commit the import halfway.
    counters: Vec<(String, i64)>,
    /// The session as configured at connect, put back after each schema
    /// script ([`Backend::restore_session`]).
    restore_session: Vec<String>,
}

impl Mysql {
    pub fn open(url: &DbUrl, _opts: &OpenOptions) -> Result<Box<dyn Backend>> {
        let secrets = url_secrets(url.expose());
        let (conn, server) = connect::connect(url, &secrets)?;
        // MySQL 8 turns `local_infile` off by default: INSERTs then.
        let load_data = (server.local_infile == Some(0)
            || std::env::var(LOAD_DATA_ENV).is_ok_and(|v| v.eq_ignore_ascii_case("off")))
        .then_some(false);
        Ok(Box::new(Mysql {
            slot: Some(conn),
            url: url.to_string(),
            db_url: url.clone(),
            secrets,
            batch_bytes: batch_bytes(server.packet),
            mariadb: server.version.to_ascii_lowercase().contains("mariadb"),
            tables: vec![],
            writer: None,
            written: vec![],
            staging: None,
            staging_seq: 0,
            load_data,
            unique_checks_off: false,
            counters: vec![],
            restore_session: server.restore_session,
        }))
    }

    fn exec(&mut self, context: &str, sql: &str) -> Result<()> {
        live(&mut self.slot)
            .query_drop(sql)
            .map_err(|e| Error::db(context, scrub(&e.to_string(), &self.secrets)))
    }

    fn count(&mut self, sql: &str) -> Result<u64> {
        let n: Option<u64> = live(&mut self.slot)
            .query_first(sql)
            .map_err(|e| self.err("counting rows", e))?;
        Ok(n.unwrap_or(0))
    }
}

/// The connection, unless a table's loader thread holds it.
fn live(slot: &mut Option<Conn>) -> &mut Conn {
    slot.as_mut()
        .expect("the connection is held by a table's loader")
}

/// `` `name` `` with embedded backticks doubled: identifiers from plans and
/// backups are untrusted and always quoted.
pub fn quote(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

fn quote_list(idents: &[String]) -> String {
    super::quote_list(quote, idents)
}

impl Backend for Mysql {
    fn engine(&self) -> Engine {
        Engine::Mysql
    }

    fn catalog(&mut self) -> Result<Catalog> {
        self.introspect()?;
        Ok(Catalog {
            tables: self
                .tables
                .iter()
                .filter(|t| !BOOKKEEPING_TABLES.contains(&t.info.name.as_str()))
                .map(|t| t.info.clone())
                .collect(),
        })
    }

    fn count_read(&mut self, req: &ReadRequest<'_>) -> Result<u64> {
        self.count_selected(req)
    }

    fn count_rows(&mut self, table: &str) -> Result<u64> {
        let n: Option<u64> = live(&mut self.slot)
            .query_first(format!("SELECT COUNT(*) FROM {}", quote(table)))
            .map_err(|e| self.err(format!("counting rows of `{table}`"), e))?;
        Ok(n.unwrap_or(0))
    }

    // InnoDB counts by scanning an index inside the snapshot: a fifth of
    // an export's time. Its statistics are close enough for a progress bar.
    fn expected_rows(&mut self, table: &str) -> Result<u64> {
        let n: Option<u64> = live(&mut self.slot)
            .exec_first(
                "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
                (table,),
            )
            .map_err(|e| self.err(format!("reading the size of `{table}`"), e))?;
        Ok(n.unwrap_or(0))
    }

    // `TABLE_ROWS` is NULL for views and 0 until InnoDB has sampled a new
    // table (MySQL 8 also caches it a day): 0 means unknown.
    fn estimated_rows(&mut self, table: &str) -> Result<Option<u64>> {
        let n: Option<Option<u64>> = live(&mut self.slot)
            .exec_first(
                "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
                (table,),
            )
            .map_err(|e| self.err(format!("reading the statistics of `{table}`"), e))?;
        Ok(n.flatten().filter(|n| *n > 0))
    }

    fn table_size_bytes(&mut self, table: &str) -> Result<Option<u64>> {
        let n: Option<Option<u64>> = live(&mut self.slot)
            .exec_first(
                "SELECT CAST(DATA_LENGTH + INDEX_LENGTH AS UNSIGNED) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
                (table,),
            )
            .map_err(|e| self.err(format!("reading the size of `{table}`"), e))?;
        Ok(n.flatten())
    }

    fn meta_exec(&mut self, sql: &str, params: &[Value]) -> Result<()> {
        let params: Vec<My> = params.iter().map(meta_param).collect();
        live(&mut self.slot)
            .exec_drop(sql, Params::Positional(params))
            .map_err(|e| self.err("writing the run history", e))
    }

    fn meta_query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>> {
        self.meta_values(sql, params)
    }

    fn try_lock(&mut self) -> Result<bool> {
        self.try_run_lock()
    }

    fn triggers(&mut self) -> Result<Vec<Trigger>> {
        let rows = self.query_text(
            "reading the database's triggers",
            "SELECT EVENT_OBJECT_TABLE, TRIGGER_NAME, CONCAT(ACTION_TIMING, ' ', EVENT_MANIPULATION) \
             FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY 1, 2",
        )?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let mut r = r.into_iter().flatten();
                Some(Trigger {
                    table: r.next()?,
                    name: r.next()?,
                    when: r.next()?,
                })
            })
            .collect())
    }

    fn disable_triggers(&mut self, triggers: &[Trigger]) -> Result<()> {
        self.switch_triggers_off(triggers)
    }

    fn identity_sql(&self) -> &'static str {
        "SELECT DATABASE(), CONCAT(@@hostname, ':', @@port)"
    }

    fn size_bytes(&mut self) -> Result<u64> {
        let n: Option<Option<u64>> = live(&mut self.slot)
            .query_first(
                "SELECT CAST(SUM(DATA_LENGTH + INDEX_LENGTH) AS UNSIGNED) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()",
            )
            .map_err(|e| self.err("reading the database's size", e))?;
        Ok(n.flatten().unwrap_or(0))
    }

    fn unlock(&mut self) -> Result<()> {
        self.release_run_lock()
    }

    fn has_table(&mut self, table: &str) -> Result<bool> {
        let n: Option<u64> = live(&mut self.slot)
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
                (table,),
            )
            .map_err(|e| self.err("reading the database's tables", e))?;
        Ok(n.unwrap_or(0) > 0)
    }

    fn execute_sql(&mut self, context: &str, sql: &str) -> Result<()> {
        self.exec(context, sql)
    }

    fn restore_session(&mut self) -> Result<()> {
        for sql in self.restore_session.clone() {
            self.exec("restoring the session after a schema script", &sql)?;
        }
        Ok(())
    }

    fn query_text(&mut self, context: &str, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        let rows: Vec<::mysql::Row> = live(&mut self.slot)
            .query(sql)
            .map_err(|e| self.err(context, e))?;
        Ok(rows
            .into_iter()
            .map(|r| {
                r.unwrap()
                    .into_iter()
                    .map(|v| match v {
                        My::NULL => None,
                        My::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
                        My::Int(i) => Some(i.to_string()),
                        My::UInt(u) => Some(u.to_string()),
                        My::Float(f) => Some(f.to_string()),
                        My::Double(f) => Some(f.to_string()),
                        other => Some(other.as_sql(true)),
                    })
                    .collect()
            })
            .collect())
    }

    fn begin_read(&mut self) -> Result<()> {
        self.begin_read_alone()
    }

    fn begin_shared_read(&mut self, readers: usize) -> Result<Vec<Box<dyn TableReader>>> {
        self.begin_shared_snapshot(readers)
    }

    fn read(
        &mut self,
        req: &ReadRequest<'_>,
        sink: &mut dyn FnMut(&[Value]) -> Result<()>,
    ) -> Result<()> {
        self.read_rows(req, sink)
    }

    fn sequences(&mut self) -> Result<Vec<Sequence>> {
        self.auto_increments()
    }

    fn max_value(&mut self, table: &str, column: &str) -> Result<Option<i64>> {
        let sql = format!(
            "SELECT CAST(MAX({}) AS SIGNED) FROM {}",
            quote(column),
            quote(table)
        );
        let max: Option<Option<i64>> = live(&mut self.slot)
            .query_first(sql)
            .map_err(|e| self.err(format!("reading the largest `{table}`.`{column}`"), e))?;
        Ok(max.flatten())
    }

    fn set_sequence(&mut self, seq: &Sequence, next: i64) -> Result<()> {
        if let Some(table) = &seq.table {
            self.counters.push((table.clone(), next));
        }
        Ok(())
    }

    fn begin_write(&mut self, tables: &[String]) -> Result<()> {
        self.begin_import(tables)
    }

    fn clear_table(&mut self, table: &str) -> Result<()> {
        self.exec(
            &format!("emptying `{table}`"),
            &format!("DELETE FROM {}", quote(table)),
        )
    }

    fn begin_table(&mut self, req: &WriteRequest<'_>) -> Result<()> {
        self.start_table(req)
    }

    fn write_row(&mut self, row: &[Value]) -> Result<()> {
        self.put_row(row).map_err(|e| {
            let loading = self.writer.as_ref().map(|w| w.table.clone());
            self.named_duplicate(loading.as_deref(), e)
        })
    }

    fn end_table(&mut self) -> Result<TableOutcome> {
        let loading = self.writer.as_ref().map(|w| w.table.clone());
        self.finish_table()
            .map_err(|e| self.named_duplicate(loading.as_deref(), e))
    }

    fn finish_write(&mut self) -> Result<()> {
        self.check_foreign_keys()
    }

    fn commit(&mut self) -> Result<()> {
        self.drop_staging()?;
        self.exec("committing", "COMMIT")?;
        self.bulk_load(false)?;
        self.exec("committing", "SET FOREIGN_KEY_CHECKS = 1")?;
        self.set_counters()
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
        if let Some(loader) = self
            .writer
            .take()
            .and_then(|w| w.load)
            .and_then(|l| l.loader)
        {
            self.slot = Some(loader.abort());
        }
        self.counters.clear();
        // ROLLBACK is harmless without an open transaction.
        let rolled = self.exec("rolling back", "ROLLBACK");
        let dropped = self.drop_staging();
        let restored = self.exec("rolling back", "SET FOREIGN_KEY_CHECKS = 1");
        let checks = self.bulk_load(false);
        rolled.and(dropped).and(restored).and(checks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote("a`b"), "`a``b`");
        assert_eq!(quote("select"), "`select`");
    }
}

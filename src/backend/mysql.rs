//! MySQL and MariaDB (the `mysql` crate, synchronous).
//!
//! Every session runs in UTC with `utf8mb4` and a strict `sql_mode`, so the
//! server refuses rather than truncates, and an imported id 0 stays 0.
//!
//! Reading uses the binary protocol (prepared statements) and decodes each
//! value by the column's declared type; writing converts every value with
//! [`convert`] first, so a value that would not arrive exactly is refused,
//! naming its column, before anything of its row is sent.
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

use std::collections::HashMap;
use std::io::Write;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use ::mysql::prelude::Queryable;
use ::mysql::{Conn, LocalInfileHandler, Opts, OptsBuilder, Params, SslOpts, Value as My};

use super::convert::{self, Cell, Target, check_fsp};
use super::{
    BOOKKEEPING_TABLES, Backend, DbUrl, Engine, OpenOptions, ReadRequest, TableOutcome,
    WriteRequest, fkcheck,
};
use crate::catalog::{Catalog, ColumnInfo, ForeignKey, Sequence, TableInfo, Trigger};
use crate::error::{CONFLICTS_LISTED, Error, Result};
use crate::policy::Conflict;
use crate::value::{ColumnType, Value};

mod dialect;
pub(crate) use dialect::DIALECT;

/// The most placeholders one INSERT carries. The protocol allows 65,535,
/// but the driver keeps every cached statement's parameter definitions:
/// fewer, smaller statements keep memory flat at no cost in speed.
const MAX_PLACEHOLDERS: usize = 16_384;
/// Prepared statements the driver keeps open per connection.
const STATEMENT_CACHE: usize = 8;
/// The most rows one INSERT carries, whatever the packet size allows.
const MAX_BATCH_ROWS: usize = 10_000;

/// Bytes of `LOAD DATA` text handed to the loader thread at a time.
const CHUNK_BYTES: usize = 1 << 20;
/// Chunks waiting for the loader thread.
const LOAD_QUEUE: usize = 4;
/// The most rows one `LOAD DATA` statement carries: the keys of its rows
/// are kept to name the row a server warning points at.
const SEGMENT_ROWS: usize = 65_536;
/// Set to `off` to write with multi-row INSERTs even where the server
/// allows `LOAD DATA LOCAL` (tests of that path).
const LOAD_DATA_ENV: &str = "MIGPLAN_MYSQL_LOAD_DATA";

/// The run lock's name: lock names are server-wide and at most 64
/// characters, so it carries a digest of the database name.
const RUN_LOCK: &str = "CONCAT('migplan:', SHA1(DATABASE()))";

/// A bookkeeping value as a MySQL parameter.
fn meta_param(v: &Value) -> My {
    match v {
        Value::Int(i) => My::Int(*i),
        Value::Null => My::NULL,
        Value::Text(t) => My::Bytes(t.clone().into_bytes()),
        other => My::Bytes(other.display().into_bytes()),
    }
}

const SQL_MODE: &str = "STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION";

pub struct Mysql {
    /// The connection; a table's loader thread holds it while rows stream
    /// in ([`Loader`]).
    slot: Option<Conn>,
    /// The URL with the password masked, for messages.
    url: String,
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

/// Every session's settings: UTF-8, UTC, a strict `sql_mode`.
fn session_setup() -> Vec<String> {
    vec![
        "SET NAMES utf8mb4".to_string(),
        "SET time_zone = '+00:00'".to_string(),
        format!("SET SESSION sql_mode = '{SQL_MODE}'"),
    ]
}

/// One table as introspected: the portable description and what writing
/// and reading need beyond it.
#[derive(Debug, Clone)]
struct Table {
    info: TableInfo,
    cols: Vec<Col>,
    engine: String,
    transactional: bool,
}

#[derive(Debug, Clone)]
struct Col {
    name: String,
    kind: Kind,
    sql_type: String,
    target: Target,
    /// Byte limit of `text` types, which limit bytes, not characters.
    max_bytes: Option<u64>,
    /// Fractional-second digits a temporal column keeps.
    fsp: usize,
    unsigned: bool,
    generated: bool,
    auto_increment: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Int,
    Year,
    Bit,
    Float,
    Double,
    Decimal,
    Text,
    Bytes,
    Date,
    DateTime,
    Timestamp,
    Time,
    Unsupported,
}

impl Mysql {
    /// Writes or buffers one row (`Backend::write_row`).
    fn put_row(&mut self, row: &[Value]) -> Result<()> {
        let Mysql { slot, writer, .. } = self;
        let w = writer.as_mut().expect("write_row before begin_table");
        if let Some(load) = w.load.as_mut() {
            let start = load.buf.len();
            for (j, &i) in w.pos.iter().enumerate() {
                let col = &w.cols[j];
                if j > 0 {
                    load.buf.push(b'\t');
                }
                match encode(&row[i], col) {
                    Ok(p) => push_field(&mut load.buf, &p, col),
                    Err(m) => {
                        load.buf.truncate(start);
                        return Err(Error::value(&col.name, m));
                    }
                }
            }
            load.buf.push(b'\n');
            load.keys
                .push(w.key_pos.iter().map(|&i| row[i].clone()).collect());
            load.seg_rows += 1;
            let cut = load.seg_rows >= SEGMENT_ROWS;
            if cut || load.buf.len() >= CHUNK_BYTES {
                load.send(slot, cut)?;
            }
            return Ok(());
        }
        let start = w.params.len();
        for (j, &i) in w.pos.iter().enumerate() {
            let col = &w.cols[j];
            match encode(&row[i], col) {
                Ok(p) => {
                    w.bytes += param_size(&p);
                    w.params.push(p);
                }
                Err(m) => {
                    w.params.truncate(start);
                    return Err(Error::value(&col.name, m));
                }
            }
        }
        w.keys
            .push(w.key_pos.iter().map(|&i| row[i].clone()).collect());
        w.rows += 1;
        if w.bytes >= w.batch_bytes && w.rows < w.batch_rows {
            // Rows are larger than the first guess: later batches carry a
            // fixed, smaller count, so they share one prepared statement.
            w.batch_rows = (w.rows * 3 / 4).max(1);
            w.sql = None;
            self.flush()?;
        } else if w.rows >= w.batch_rows {
            self.flush()?;
        }
        Ok(())
    }

    /// Flushes the table's rows and applies its policy (`Backend::end_table`).
    fn finish_table(&mut self) -> Result<TableOutcome> {
        self.flush()?;
        let Some(mut w) = self.writer.take() else {
            return Ok(TableOutcome::default());
        };
        if let Some(load) = w.load.as_mut() {
            w.written = load.finish(&mut self.slot)?;
        }
        if w.bulk {
            self.verify_bulk(&w)?;
        }
        if !w.staging {
            return Ok(TableOutcome {
                inserted: w.written,
                ..TableOutcome::default()
            });
        }
        let staging = self.staging.clone().expect("staging table exists");
        let outcome = self.merge(&w, &staging)?;
        self.drop_staging()?;
        Ok(outcome)
    }

    /// A duplicate-key error while rows of `loading` were written, named
    /// after the table it is in when that is another table (a row a
    /// trigger on `loading` wrote). MySQL 8 names the table in the key
    /// (`'film_text.PRIMARY'`); MariaDB names only the key, so the tables
    /// `loading`'s triggers write into are searched for that key holding
    /// that value. Any other error is returned as it is.
    fn named_duplicate(&mut self, loading: Option<&str>, e: Error) -> Error {
        let (Some(loading), Error::Database { message, .. }) = (loading, &e) else {
            return e;
        };
        let Some((value, key)) = duplicate_entry(message) else {
            return e;
        };
        let (table, key) = match key.split_once('.') {
            Some((t, k)) => (Some(t.to_string()), k),
            None => (self.trigger_table_holding(loading, key, value), key),
        };
        let Some(table) = table.filter(|t| t != loading) else {
            return e;
        };
        let columns = self.key_columns(&table, key).unwrap_or_default();
        Error::trigger_duplicate(
            &table,
            &format!("key `{key}` ({}) = '{value}'", columns.join(", ")),
            loading,
            message.lines().next().unwrap_or_default(),
        )
    }

    /// The columns of `table`'s unique key `key`, in order.
    fn key_columns(&mut self, table: &str, key: &str) -> Option<Vec<String>> {
        // A loader that still holds the connection: no lookup, no name.
        self.slot
            .as_mut()?
            .exec(
                "SELECT COLUMN_NAME FROM information_schema.STATISTICS \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = ? \
                 AND NON_UNIQUE = 0 ORDER BY SEQ_IN_INDEX",
                (table, key),
            )
            .ok()
    }

    /// The one table that a trigger on `loading` writes into and whose key
    /// `key` already holds `value` (MariaDB's rendering: the key's values
    /// joined by `-`), if exactly one does.
    fn trigger_table_holding(&mut self, loading: &str, key: &str, value: &str) -> Option<String> {
        let conn = self.slot.as_mut()?;
        let bodies: Vec<String> = conn
            .exec(
                "SELECT ACTION_STATEMENT FROM information_schema.TRIGGERS \
                 WHERE TRIGGER_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = ? \
                 AND EVENT_MANIPULATION IN ('INSERT', 'UPDATE')",
                (loading,),
            )
            .ok()?;
        let bodies: Vec<String> = bodies
            .iter()
            .map(|b| {
                b.split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .to_lowercase()
            })
            .collect();
        let tables: Vec<String> = conn
            .query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'")
            .ok()?;
        let mut found = Vec::new();
        for t in tables.iter().filter(|t| *t != loading) {
            let lower = t.to_lowercase();
            let written = bodies.iter().any(|b| {
                ["into", "update"].iter().any(|verb| {
                    b.contains(&format!("{verb} {lower}"))
                        || b.contains(&format!("{verb} `{lower}`"))
                })
            });
            if !written {
                continue;
            }
            let columns = self.key_columns(t, key)?;
            if columns.is_empty() {
                continue;
            }
            let sql = format!(
                "SELECT 1 FROM {} WHERE CONCAT_WS('-', {}) = ? LIMIT 1",
                quote(t),
                quote_list(&columns)
            );
            let held: Option<u8> = self.slot.as_mut()?.exec_first(sql, (value,)).ok()?;
            if held.is_some() {
                found.push(t.clone());
            }
        }
        (found.len() == 1).then(|| found.remove(0))
    }

    /// Whether any of `tables` has a foreign key into another database.
    fn references_other_databases(&mut self, tables: &[String]) -> Result<bool> {
        let sql = "SELECT DISTINCT TABLE_NAME FROM information_schema.KEY_COLUMN_USAGE \
             WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL \
             AND REFERENCED_TABLE_SCHEMA <> DATABASE()";
        let Mysql { slot, secrets, .. } = self;
        let conn = live(slot);
        let names: Vec<String> = conn
            .query(sql)
            .map_err(|e| Error::db("reading foreign keys", scrub(&e.to_string(), secrets)))?;
        Ok(names.iter().any(|n| tables.contains(n)))
    }

    pub fn open(url: &DbUrl, _opts: &OpenOptions) -> Result<Box<dyn Backend>> {
        let secrets = url_secrets(url.expose());
        let scrub = |e: &dyn std::fmt::Display| scrub(&e.to_string(), &secrets);
        let opts = driver_opts(url, &secrets)?;
        let mut conn = Conn::new(opts)
            .map_err(|e| Error::db(format!("cannot connect to {url}"), scrub(&e)))?;
        let mut setup = session_setup();
        setup.extend([
            // Exports stream to files that may be slow to write.
            "SET SESSION net_write_timeout = 3600".to_string(),
            "SET SESSION net_read_timeout = 3600".to_string(),
        ]);
        for sql in &setup {
            conn.query_drop(sql)
                .map_err(|e| Error::db(format!("cannot configure {url}"), scrub(&e)))?;
        }
        let (version, packet, local_infile): (String, u64, Option<u64>) = conn
            .query_first("SELECT VERSION(), @@max_allowed_packet, @@local_infile")
            .map_err(|e| Error::db(format!("cannot configure {url}"), scrub(&e)))?
            .unwrap_or_default();
        // The checks a dump switches off, as the server set them.
        let (fk, unique, notes): (u8, u8, u8) = conn
            .query_first("SELECT @@foreign_key_checks, @@unique_checks, @@sql_notes")
            .map_err(|e| Error::db(format!("cannot configure {url}"), scrub(&e)))?
            .unwrap_or((1, 1, 1));
        let mut restore_session = session_setup();
        restore_session.push(format!(
            "SET SESSION foreign_key_checks = {fk}, unique_checks = {unique}, sql_notes = {notes}"
        ));
        // MySQL 8 turns `local_infile` off by default: INSERTs then.
        let load_data = (local_infile == Some(0)
            || std::env::var(LOAD_DATA_ENV).is_ok_and(|v| v.eq_ignore_ascii_case("off")))
        .then_some(false);
        Ok(Box::new(Mysql {
            slot: Some(conn),
            url: url.to_string(),
            secrets,
            batch_bytes: batch_bytes(packet),
            mariadb: version.to_ascii_lowercase().contains("mariadb"),
            tables: vec![],
            writer: None,
            written: vec![],
            staging: None,
            staging_seq: 0,
            load_data,
            unique_checks_off: false,
            counters: vec![],
            restore_session,
        }))
    }

    /// A database error with the driver's message, secrets masked.
    fn err(&self, context: impl Into<String>, e: impl std::fmt::Display) -> Error {
        Error::db(context, scrub(&e.to_string(), &self.secrets))
    }

    /// Reads every table of the database (bookkeeping tables included).
    fn introspect(&mut self) -> Result<()> {
        let tables = load_tables(live(&mut self.slot), self.mariadb)
            .map_err(|e| self.err(format!("reading the tables of {}", self.url), e))?;
        self.tables = tables;
        Ok(())
    }

    fn table(&self, name: &str) -> Result<&Table> {
        self.tables
            .iter()
            .find(|t| t.info.name == name)
            .ok_or_else(|| Error::Mismatch(format!("the database has no table `{name}`")))
    }

    /// The columns of `table` named by `names`, in that order.
    fn columns_of(&mut self, table: &str, names: &[String]) -> Result<Vec<Col>> {
        if self.table(table).is_err() {
            self.introspect()?;
        }
        let t = self.table(table)?;
        names
            .iter()
            .map(|n| {
                t.cols
                    .iter()
                    .find(|c| &c.name == n)
                    .cloned()
                    .ok_or_else(|| Error::Mismatch(format!("table `{table}` has no column `{n}`")))
            })
            .collect()
    }

    fn exec(&mut self, context: &str, sql: &str) -> Result<()> {
        live(&mut self.slot)
            .query_drop(sql)
            .map_err(|e| Error::db(context, scrub(&e.to_string(), &self.secrets)))
    }

    fn drop_staging(&mut self) -> Result<()> {
        if let Some(s) = self.staging.take() {
            self.exec(
                "dropping the staging table",
                &format!("DROP TEMPORARY TABLE IF EXISTS {}", quote(&s)),
            )?;
        }
        Ok(())
    }

    /// Sends the buffered rows of the table being written.
    fn flush(&mut self) -> Result<()> {
        let Mysql {
            slot,
            writer,
            secrets,
            ..
        } = self;
        let Some(w) = writer.as_mut() else {
            return Ok(());
        };
        if w.rows == 0 {
            return Ok(());
        }
        let conn = live(slot);
        let rows = w.rows;
        // Only the full batch's statement is kept: a batch cut short by its
        // byte size or the table's end is built once and dropped, so the
        // cache (and the server's prepared statements) stay small.
        let adhoc;
        let sql = if rows == w.batch_rows {
            w.sql
                .get_or_insert_with(|| insert_sql(&w.into, &w.names, rows))
                .as_str()
        } else {
            adhoc = insert_sql(&w.into, &w.names, rows);
            adhoc.as_str()
        };
        let params = std::mem::take(&mut w.params);
        // Kept to find a refused row when the server names none (a CHECK).
        let sent = params.clone();
        let result = conn.exec_drop(sql, Params::Positional(params));
        w.rows = 0;
        w.bytes = 0;
        let keys = std::mem::take(&mut w.keys);
        match result {
            Ok(()) => {
                w.written += rows as u64;
                Ok(())
            }
            Err(e) => {
                let msg =
                    scrub(&server_message(&e), secrets).replace(w.into.trim_matches('`'), &w.table);
                // The server names the failing row by its position in the
                // statement: name it by its key instead.
                let row = server_row(&msg)
                    .and_then(|n| n.checked_sub(1))
                    .or_else(|| refused_row(conn, &w.into, &w.names, &sent));
                let row = row.and_then(|i| keys.get(i));
                Err(match row {
                    Some(k) if !w.key.is_empty() => Error::Mismatch(format!(
                        "cannot write row {} of `{}`: {msg}\n  = help: nothing was changed; the import was rolled back",
                        key_text(&w.key, k),
                        w.table
                    )),
                    _ => Error::db("writing", msg),
                })
            }
        }
    }

    /// MariaDB loads an empty table in bulk inside a transaction (sorted
    /// index builds, one undo record for the table) when both foreign-key
    /// and unique checks are off, as a replayed mysqldump file has them:
    /// about a sixth of an import's time. Unique checks go back on for
    /// everything else, and [`Mysql::verify_bulk`] checks each table so
    /// loaded: the bulk path reports a duplicate only as a warning (with
    /// other rows dropped), and MySQL's change buffer may skip unique
    /// checks outright, hence MariaDB only.
    fn bulk_load(&mut self, on: bool) -> Result<()> {
        if on == self.unique_checks_off {
            return Ok(());
        }
        let sql = if on {
            "SET UNIQUE_CHECKS = 0"
        } else {
            "SET UNIQUE_CHECKS = 1"
        };
        self.exec("switching unique checks for a bulk load", sql)?;
        self.unique_checks_off = on;
        Ok(())
    }

    /// After a bulk load: every row sent is in the table, and no unique key
    /// holds a value twice.
    fn verify_bulk(&mut self, w: &Writer) -> Result<()> {
        let help = "\n  = help: nothing was changed, the import was rolled back";
        let table = quote(&w.table);
        let found = self.count(&format!("SELECT COUNT(*) FROM {table}"))?;
        if found != w.written {
            return Err(Error::Mismatch(format!(
                "table `{}`: the server kept {found} of {} rows loaded{help}",
                w.table, w.written
            )));
        }
        let unique = self.table(&w.table)?.info.unique_keys.clone();
        for key in unique.iter().filter(|k| !k.is_empty()) {
            let cols = quote_list(key);
            let not_null = key
                .iter()
                .map(|c| format!("{} IS NOT NULL", quote(c)))
                .collect::<Vec<_>>()
                .join(" AND ");
            let sql = format!(
                "SELECT {cols} FROM {table} WHERE {not_null} GROUP BY {cols} HAVING COUNT(*) > 1 LIMIT 1"
            );
            let cols: Vec<Col> = self.columns_of(&w.table, key)?;
            if let Some(dup) = self.typed_rows(&sql, &cols)?.pop() {
                return Err(Error::Mismatch(format!(
                    "table `{}`: duplicate key {}{help}",
                    w.table,
                    key_text(key, &dup)
                )));
            }
        }
        Ok(())
    }

    /// Whether rows can go in by `LOAD DATA LOCAL`: the first time, an empty
    /// load tells (the server may refuse local files).
    fn try_load_data(&mut self, sql: &str) -> bool {
        if let Some(known) = self.load_data {
            return known;
        }
        // No handler is set: the driver sends an empty file.
        let conn = live(&mut self.slot);
        let ok = conn.query_drop(sql).is_ok() && conn.affected_rows() == 0 && conn.warnings() == 0;
        self.load_data = Some(ok);
        ok
    }

    /// Query returning rows decoded by `cols`.
    fn typed_rows(&mut self, sql: &str, cols: &[Col]) -> Result<Vec<Vec<Value>>> {
        let secrets = &self.secrets;
        let ctx = |e: ::mysql::Error| Error::db("merging", scrub(&e.to_string(), secrets));
        let result = live(&mut self.slot).exec_iter(sql, ()).map_err(ctx)?;
        let mut out = Vec::new();
        for row in result {
            let row = row.map_err(ctx)?.unwrap();
            let vals = row
                .into_iter()
                .zip(cols)
                .map(|(v, c)| decode(v, c).map_err(|m| Error::value(&c.name, m)))
                .collect::<Result<Vec<_>>>()?;
            out.push(vals);
        }
        Ok(out)
    }

    fn count(&mut self, sql: &str) -> Result<u64> {
        let n: Option<u64> = live(&mut self.slot)
            .query_first(sql)
            .map_err(|e| self.err("counting rows", e))?;
        Ok(n.unwrap_or(0))
    }

    /// Applies the conflict policy to the staged rows of `w`.
    fn merge(&mut self, w: &Writer, staging: &str) -> Result<TableOutcome> {
        let target = quote(&w.table);
        let s = quote(staging);
        let on = equal("s", "t", &w.key);
        let conflicts = self.count(&format!(
            "SELECT COUNT(*) FROM {s} s JOIN {target} t ON {on}"
        ))?;
        self.unique_hazards(w, staging)?;
        let staged = w.written;
        let mut outcome = TableOutcome {
            inserted: staged.saturating_sub(conflicts),
            conflicts: 0,
            ..TableOutcome::default()
        };
        let cols = quote_list(&w.names);
        let select: Vec<String> = w.names.iter().map(|c| format!("s.{}", quote(c))).collect();
        let insert = format!(
            "INSERT INTO {target} ({cols}) SELECT {} FROM {s} s",
            select.join(", ")
        );
        let sql = match w.conflict {
            Conflict::Error if conflicts > 0 => {
                outcome.conflicts = conflicts;
                let key_cols = self.columns_of(&w.table, &w.key)?;
                let keys: Vec<String> = w.key.iter().map(|k| format!("s.{}", quote(k))).collect();
                outcome.conflict_keys = self.typed_rows(
                    &format!(
                        "SELECT {k} FROM {s} s JOIN {target} t ON {on} ORDER BY {k} LIMIT {CONFLICTS_LISTED}",
                        k = keys.join(", ")
                    ),
                    &key_cols,
                )?;
                return Ok(outcome);
            }
            Conflict::Error => insert,
            Conflict::Skip => {
                let changed = self.changed(w, staging)?;
                outcome.skipped = changed;
                outcome.identical = conflicts.saturating_sub(changed);
                // A no-op update, unlike INSERT IGNORE, hides no other error.
                let k = format!("{target}.{}", quote(&w.key[0]));
                format!("{insert} ON DUPLICATE KEY UPDATE {k} = {k}")
            }
            Conflict::Overwrite => {
                // MySQL itself leaves a row alone when an update changes
                // nothing; the counts tell those rows apart too.
                let changed = self.changed(w, staging)?;
                outcome.overwritten = changed;
                outcome.identical = conflicts.saturating_sub(changed);
                let non_key: Vec<&String> = w.names.iter().filter(|c| !w.key.contains(c)).collect();
                let set: Vec<String> = if non_key.is_empty() {
                    let k = format!("{target}.{}", quote(&w.key[0]));
                    vec![format!("{k} = {k}")]
                } else {
                    non_key
                        .iter()
                        .map(|c| format!("{target}.{q} = VALUES({q})", q = quote(c)))
                        .collect()
                };
                format!("{insert} ON DUPLICATE KEY UPDATE {}", set.join(", "))
            }
        };
        self.exec("merging staged rows into", &sql)?;
        Ok(outcome)
    }

    /// Staged rows whose key exists with other values. Compared as bytes:
    /// a case-insensitive collation must not call `a` and `A` the same.
    fn changed(&mut self, w: &Writer, staging: &str) -> Result<u64> {
        let same: Vec<String> = w
            .names
            .iter()
            .filter(|c| !w.key.contains(c))
            .map(|c| format!("BINARY t.{q} <=> BINARY s.{q}", q = quote(c)))
            .collect();
        if same.is_empty() {
            return Ok(0);
        }
        self.count(&format!(
            "SELECT COUNT(*) FROM {} s JOIN {} t ON {} WHERE NOT ({})",
            quote(staging),
            quote(&w.table),
            equal("s", "t", &w.key),
            same.join(" AND ")
        ))
    }

    /// `ON DUPLICATE KEY` fires on any unique key: a staged row that meets
    /// an existing row on another unique key, while its conflict key is new
    /// or names another row, would update the wrong row. Refuse it.
    fn unique_hazards(&mut self, w: &Writer, staging: &str) -> Result<()> {
        let info = self.table(&w.table)?.info.clone();
        let same = |k: &Vec<String>| k.len() == w.key.len() && k.iter().all(|c| w.key.contains(c));
        let others = std::iter::once(&info.primary_key)
            .chain(&info.unique_keys)
            .filter(|k| !k.is_empty() && !same(k));
        for u in others {
            if !u.iter().all(|c| w.names.contains(c)) {
                continue; // Not written: the staged rows carry defaults there.
            }
            let cols: Vec<String> = w.key.iter().chain(u).cloned().collect();
            let metas = self.columns_of(&w.table, &cols)?;
            let select: Vec<String> = cols.iter().map(|c| format!("s.{}", quote(c))).collect();
            let sql = format!(
                "SELECT {} FROM {} s JOIN {} t ON {} WHERE NOT COALESCE({}, FALSE) LIMIT 1",
                select.join(", "),
                quote(staging),
                quote(&w.table),
                equal("s", "t", u),
                equal("s", "t", &w.key),
            );
            if let Some(row) = self.typed_rows(&sql, &metas)?.pop() {
                let (k, v) = row.split_at(w.key.len());
                return Err(Error::Mismatch(format!(
                    "row {} of `{}` has unique key ({}) = ({}), which an existing row with another {} already has\n  = help: MySQL would update that other row; resolve the duplicate in the backup or the database. Nothing was changed",
                    key_text(&w.key, k),
                    w.table,
                    u.join(", "),
                    v.iter().map(Value::display).collect::<Vec<_>>().join(", "),
                    w.key.join(", "),
                )));
            }
        }
        Ok(())
    }
}

/// The rows of one table being written.
struct Writer {
    table: String,
    /// Positions in a request row of the columns written (generated
    /// columns are left out: the server computes them).
    pos: Vec<usize>,
    cols: Vec<Col>,
    names: Vec<String>,
    key: Vec<String>,
    key_pos: Vec<usize>,
    conflict: Conflict,
    /// Quoted name of the table rows go into (the target or its staging copy).
    into: String,
    staging: bool,
    batch_rows: usize,
    batch_bytes: usize,
    params: Vec<My>,
    /// Key values of the buffered rows, for messages.
    keys: Vec<Vec<Value>>,
    rows: usize,
    bytes: usize,
    /// The INSERT statement of a full batch (`batch_rows` rows).
    sql: Option<String>,
    written: u64,
    /// Rows go in by `LOAD DATA LOCAL` rather than INSERTs.
    load: Option<Load>,
    /// Loaded by MariaDB's bulk insert (see [`Mysql::bulk_load`]).
    bulk: bool,
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

    fn meta_exec(&mut self, sql: &str, params: &[Value]) -> Result<()> {
        let params: Vec<My> = params.iter().map(meta_param).collect();
        live(&mut self.slot)
            .exec_drop(sql, Params::Positional(params))
            .map_err(|e| self.err("writing the run history", e))
    }

    fn meta_query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>> {
        let params: Vec<My> = params.iter().map(meta_param).collect();
        let rows: Vec<::mysql::Row> = live(&mut self.slot)
            .exec(sql, Params::Positional(params))
            .map_err(|e| self.err("reading the run history", e))?;
        Ok(rows
            .into_iter()
            .map(|r| {
                r.unwrap()
                    .into_iter()
                    .map(|v| match v {
                        My::Int(i) => Value::Int(i),
                        My::UInt(u) => Value::Int(u as i64),
                        My::Bytes(b) => Value::Text(String::from_utf8_lossy(&b).into_owned()),
                        _ => Value::Null,
                    })
                    .collect()
            })
            .collect())
    }

    // GET_LOCK belongs to the session: the server frees it when the
    // connection ends. Its name is server-wide, so it names the database.
    fn try_lock(&mut self) -> Result<bool> {
        let got: Option<Option<i64>> = live(&mut self.slot)
            .query_first(format!("SELECT GET_LOCK({RUN_LOCK}, 0)"))
            .map_err(|e| self.err("taking the run lock", e))?;
        Ok(got.flatten() == Some(1))
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
        let names: Vec<String> = triggers.iter().map(|t| format!("`{}`", t.name)).collect();
        Err(Error::Mismatch(format!(
            "MySQL/MariaDB cannot switch triggers off inside a transaction (DROP TRIGGER commits at once), so `triggers = \"disable\"` cannot keep the import all-or-nothing; triggers here: {}; nothing was changed\n  = help: drop those triggers before the import and create them after it, as a mysqldump file does, or let them fire (`--triggers fire`)",
            names.join(", ")
        )))
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
        live(&mut self.slot)
            .query_drop(format!("DO RELEASE_LOCK({RUN_LOCK})"))
            .map_err(|e| self.err("releasing the run lock", e))
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

    fn transactional_ddl(&self) -> bool {
        false
    }

    fn begin_read(&mut self) -> Result<()> {
        self.exec(
            "starting the export snapshot",
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
        )?;
        self.exec(
            "starting the export snapshot",
            "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
        )
    }

    fn read(
        &mut self,
        req: &ReadRequest<'_>,
        sink: &mut dyn FnMut(&[Value]) -> Result<()>,
    ) -> Result<()> {
        let cols = self.columns_of(req.table, req.columns)?;
        if let Some(c) = cols.iter().find(|c| c.kind == Kind::Unsupported) {
            return Err(unsupported(req.table, c));
        }
        let mut sql = format!(
            "SELECT {} FROM {}",
            quote_list(req.columns),
            quote(req.table)
        );
        let mut params = Vec::new();
        if let Some((col, since)) = &req.changed_since {
            let kind = self.columns_of(req.table, &[col.to_string()])?[0].kind;
            sql.push_str(&format!(" WHERE {} > ?", quote(col)));
            let utc = since.with_timezone(&chrono::Utc);
            params.push(match kind {
                // Unix seconds.
                Kind::Int => My::Int(utc.timestamp()),
                _ => My::Bytes(
                    utc.naive_utc()
                        .format("%Y-%m-%d %H:%M:%S%.6f")
                        .to_string()
                        .into_bytes(),
                ),
            });
        }
        if !req.order_by.is_empty() {
            sql.push_str(&format!(" ORDER BY {}", quote_list(req.order_by)));
        }
        let Mysql { slot, secrets, .. } = self;
        let conn = live(slot);
        let ctx = |e: ::mysql::Error| {
            Error::db(
                format!("reading `{}`", req.table),
                scrub(&e.to_string(), secrets),
            )
        };
        // Unbuffered: rows are decoded and handed on one at a time. (A
        // second decoding thread was slower once decoding became cheap: on
        // two cores it competes with the server for CPU.)
        let result = conn
            .exec_iter(sql.as_str(), Params::Positional(params))
            .map_err(ctx)?;
        let mut values: Vec<Value> = Vec::with_capacity(cols.len());
        for row in result {
            let mut row = row.map_err(ctx)?;
            values.clear();
            for (i, c) in cols.iter().enumerate() {
                let v = row.take(i).unwrap_or(My::NULL);
                values.push(decode(v, c).map_err(|m| {
                    Error::Mismatch(format!("table `{}` column `{}`: {m}", req.table, c.name))
                })?);
            }
            sink(&values)?;
        }
        Ok(())
    }

    fn sequences(&mut self) -> Result<Vec<Sequence>> {
        if !self.mariadb {
            // MySQL 8 caches information_schema.TABLES for a day by
            // default; MariaDB reads the live counter. 5.7 has no such
            // variable and needs none.
            let _ = self.exec("", "SET SESSION information_schema_stats_expiry = 0");
        }
        let rows: Vec<(String, String, Option<u64>)> = live(&mut self.slot)
            .query(
                "SELECT t.TABLE_NAME, c.COLUMN_NAME, t.AUTO_INCREMENT FROM information_schema.TABLES t \
                 JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = t.TABLE_SCHEMA \
                   AND c.TABLE_NAME = t.TABLE_NAME AND c.EXTRA LIKE '%auto_increment%' \
                 WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' \
                 ORDER BY t.TABLE_NAME",
            )
            .map_err(|e| self.err("reading the tables' AUTO_INCREMENT", e))?;
        Ok(rows
            .into_iter()
            .filter(|(t, _, _)| !BOOKKEEPING_TABLES.contains(&t.as_str()))
            .map(|(table, column, next)| Sequence {
                name: None,
                table: Some(table),
                column: Some(column),
                next: next.map_or(1, |n| i64::try_from(n).unwrap_or(i64::MAX)),
            })
            .collect())
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
        self.introspect()?;
        self.counters.clear();
        for name in tables {
            let t = self.table(name)?;
            if !t.transactional {
                return Err(Error::Mismatch(format!(
                    "table `{name}` uses the {} storage engine, which cannot roll back, so the import could not be all-or-nothing\n  = help: convert it first: ALTER TABLE {} ENGINE=InnoDB; nothing was changed",
                    t.engine,
                    quote(name)
                )));
            }
        }
        self.written = tables.to_vec();
        // Per-row foreign-key checks dominate import time; `finish_write`
        // checks every key of the written tables in bulk instead. The bulk
        // check sees only keys within this database, so a written table with
        // a key into another database keeps the server's per-row checks.
        if !self.references_other_databases(tables)? {
            self.exec(
                "starting the import transaction",
                "SET FOREIGN_KEY_CHECKS = 0",
            )?;
        }
        // The import's own reads (is a table empty, the bulk foreign-key
        // and unique checks, conflicts) need no snapshot: under REPEATABLE
        // READ every secondary-index entry just written by this transaction
        // sends InnoDB to the clustered record to decide its visibility,
        // which made the foreign-key checks three times slower. None of
        // these reads lock, under any isolation level; writes always do.
        self.exec(
            "starting the import transaction",
            "SET TRANSACTION ISOLATION LEVEL READ UNCOMMITTED",
        )?;
        self.exec("starting the import transaction", "START TRANSACTION")
    }

    fn clear_table(&mut self, table: &str) -> Result<()> {
        self.exec(
            &format!("emptying `{table}`"),
            &format!("DELETE FROM {}", quote(table)),
        )
    }

    fn begin_table(&mut self, req: &WriteRequest<'_>) -> Result<()> {
        let all = self.columns_of(req.table, req.columns)?;
        if let Some(c) = all.iter().find(|c| c.kind == Kind::Unsupported) {
            return Err(unsupported(req.table, c));
        }
        let pos: Vec<usize> = (0..all.len()).filter(|&i| !all[i].generated).collect();
        let cols: Vec<Col> = pos.iter().map(|&i| all[i].clone()).collect();
        let names: Vec<String> = cols.iter().map(|c| c.name.clone()).collect();
        let key_pos = req
            .key
            .iter()
            .filter_map(|k| req.columns.iter().position(|c| c == k))
            .collect();
        let empty = self.count(&format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM {} LIMIT 1) x",
            quote(req.table)
        ))? == 0;
        // An empty table, or one without a key, takes rows directly.
        let staging = !empty && !req.key.is_empty();
        let into = if staging {
            self.drop_staging()?;
            self.staging_seq += 1;
            let name = format!(
                "migplan_staging_{}_{}",
                std::process::id(),
                self.staging_seq
            );
            // TEMPORARY: neither creating nor dropping it commits.
            let like = format!(
                "CREATE TEMPORARY TABLE {} LIKE {}",
                quote(&name),
                quote(req.table)
            );
            if live(&mut self.slot).query_drop(&like).is_err() {
                // InnoDB temporary tables cannot have FULLTEXT indexes: copy
                // the written columns and declare the unique keys instead.
                let info = &self.table(req.table)?.info;
                let keys: Vec<String> = std::iter::once(&info.primary_key)
                    .chain(&info.unique_keys)
                    .filter(|k| !k.is_empty() && k.iter().all(|c| names.contains(c)))
                    .map(|k| format!("UNIQUE KEY ({})", quote_list(k)))
                    .collect();
                let keys = if keys.is_empty() {
                    String::new()
                } else {
                    format!("({})", keys.join(", "))
                };
                let sql = format!(
                    "CREATE TEMPORARY TABLE {} {keys} ENGINE=InnoDB SELECT {} FROM {} LIMIT 0",
                    quote(&name),
                    quote_list(&names),
                    quote(req.table)
                );
                self.exec("creating the staging table for", &sql)?;
            }
            self.staging = Some(name.clone());
            quote(&name)
        } else {
            quote(req.table)
        };
        let batch_rows = (MAX_PLACEHOLDERS / names.len().max(1)).clamp(1, MAX_BATCH_ROWS);
        let load_sql = load_sql(&into, &cols);
        let load_data = self.try_load_data(&load_sql);
        let bulk = load_data && empty && self.mariadb;
        self.bulk_load(bulk)?;
        let load = load_data.then(|| Load {
            ctx: Arc::new(LoadCtx {
                sql: load_sql,
                table: req.table.to_string(),
                into: into.clone(),
                key: req.key.to_vec(),
                secrets: self.secrets.clone(),
                bulk,
            }),
            loader: None,
            buf: Vec::with_capacity(CHUNK_BYTES + (64 << 10)),
            keys: Vec::new(),
            seg_rows: 0,
        });
        self.writer = Some(Writer {
            table: req.table.to_string(),
            pos,
            cols,
            names,
            key: req.key.to_vec(),
            key_pos,
            conflict: req.conflict,
            into,
            staging,
            batch_rows,
            batch_bytes: self.batch_bytes,
            params: Vec::new(),
            keys: Vec::new(),
            rows: 0,
            bytes: 0,
            sql: None,
            written: 0,
            load,
            bulk,
        });
        Ok(())
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
        self.introspect()?;
        let tables: Vec<&TableInfo> = self
            .written
            .iter()
            .filter_map(|n| self.tables.iter().find(|t| &t.info.name == n))
            .map(|t| &t.info)
            .collect();
        let (conn, secrets) = (live(&mut self.slot), &self.secrets);
        let ctx =
            |e: ::mysql::Error| Error::db("checking foreign keys", scrub(&e.to_string(), secrets));
        for table in tables {
            for fk in &table.foreign_keys {
                // Each distinct value once (from the key's index) rather
                // than each row: the rows are looked up only for a message.
                let orphan: Option<u8> = conn.query_first(orphan_sql(table, fk)).map_err(ctx)?;
                if orphan.is_none() {
                    continue;
                }
                let rows: Vec<::mysql::Row> = conn
                    .query(fkcheck::violations_sql(quote, table, fk))
                    .map_err(ctx)?;
                let rows: Vec<Vec<String>> = rows
                    .into_iter()
                    .map(|r| r.unwrap().into_iter().map(render).collect())
                    .collect();
                if !rows.is_empty() {
                    return Err(fkcheck::violation_error(table, fk, &rows));
                }
            }
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        self.drop_staging()?;
        self.exec("committing", "COMMIT")?;
        self.bulk_load(false)?;
        self.exec("committing", "SET FOREIGN_KEY_CHECKS = 1")?;
        self.set_counters()
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

impl Mysql {
    /// The AUTO_INCREMENT values of the committed import. `ALTER TABLE`
    /// commits whatever is open, so it waits for the rows to be in; InnoDB
    /// has moved each counter past the ids written already, so this only
    /// matters for a backup's counter beyond its rows (rows deleted) and
    /// for a restore setting an exact value. InnoDB never takes a counter
    /// below the largest id.
    fn set_counters(&mut self) -> Result<()> {
        for (table, next) in std::mem::take(&mut self.counters) {
            let sql = format!("ALTER TABLE {} AUTO_INCREMENT = {next}", quote(&table));
            if let Err(e) = live(&mut self.slot).query_drop(&sql) {
                return Err(Error::db(
                    format!("the rows are committed, but setting the AUTO_INCREMENT of `{table}`"),
                    format!(
                        "{}\n  = help: run `{sql}` as a user with the ALTER privilege; the application may otherwise be handed ids the backup's source had used",
                        scrub(&e.to_string(), &self.secrets)
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The connection, unless a table's loader thread holds it.
fn live(slot: &mut Option<Conn>) -> &mut Conn {
    slot.as_mut()
        .expect("the connection is held by a table's loader")
}

// ---------------------------------------------------------------------------
// LOAD DATA LOCAL
//
// MySQL's COPY: rows travel as tab-separated data, never as SQL. A thread
// owns the connection while a table loads and streams the chunks the
// importer encodes through a small bounded channel, so encoding and loading
// overlap and memory stays flat. The server asks for a file by name; the
// handler ignores the name and sends only these chunks.
//
// With LOCAL the server cannot stop the client mid-file, so it reports bad
// values and duplicate keys as warnings and skips the row (IGNORE). Each
// statement therefore must report as many rows as were sent and no
// warning; otherwise the first warning is the error, naming the row's key
// when it gives a row number. The rows of one statement are bounded
// ([`SEGMENT_ROWS`]) and their keys kept for that.

/// `LOAD DATA LOCAL INFILE … INTO TABLE into (cols)`; bytes travel as hex
/// and bits as decimal, converted by `SET`.
fn load_sql(into: &str, cols: &[Col]) -> String {
    let mut list = Vec::with_capacity(cols.len());
    let mut set = Vec::new();
    // MariaDB forgets NO_AUTO_VALUE_ON_ZERO for an auto-increment column
    // loaded directly when a SET clause is present: id 0 would become a
    // new id. Assigned from a variable, it keeps 0.
    let any_set = cols
        .iter()
        .any(|c| matches!(c.kind, Kind::Bytes | Kind::Bit));
    for (i, c) in cols.iter().enumerate() {
        let var = format!("@migplan_{i}");
        match c.kind {
            Kind::Bytes => set.push(format!("{} = UNHEX({var})", quote(&c.name))),
            Kind::Bit => set.push(format!("{} = CAST({var} AS UNSIGNED)", quote(&c.name))),
            _ if any_set && c.auto_increment => set.push(format!("{} = {var}", quote(&c.name))),
            _ => {
                list.push(quote(&c.name));
                continue;
            }
        }
        list.push(var);
    }
    let mut sql = format!(
        "LOAD DATA LOCAL INFILE 'migplan' INTO TABLE {into} CHARACTER SET utf8mb4 \
         FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({})",
        list.join(", ")
    );
    if !set.is_empty() {
        sql.push_str(" SET ");
        sql.push_str(&set.join(", "));
    }
    sql
}

/// One encoded value as a `LOAD DATA` field.
fn push_field(buf: &mut Vec<u8>, p: &My, col: &Col) {
    match p {
        My::NULL => buf.extend_from_slice(b"\\N"),
        My::Int(i) => {
            let _ = write!(buf, "{i}");
        }
        My::UInt(u) => {
            let _ = write!(buf, "{u}");
        }
        // The single's exact value as a double: the server parses a double
        // and narrows it, which gives back the same single.
        My::Float(f) => {
            let _ = write!(buf, "{:?}", f64::from(*f));
        }
        My::Double(d) => {
            let _ = write!(buf, "{d:?}");
        }
        My::Bytes(b) if col.kind == Kind::Bytes => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            buf.reserve(2 * b.len());
            for &x in b {
                buf.push(HEX[(x >> 4) as usize]);
                buf.push(HEX[(x & 15) as usize]);
            }
        }
        My::Bytes(b) => push_escaped(buf, b),
        My::Date(..) | My::Time(..) => unreachable!("encode sends temporal values as text"),
    }
}

/// Text with the field's special bytes escaped (`\\`, tab, newline, CR, NUL).
fn push_escaped(buf: &mut Vec<u8>, b: &[u8]) {
    let special = |x: &u8| matches!(x, b'\\' | b'\t' | b'\n' | b'\r' | 0);
    if !b.iter().any(special) {
        buf.extend_from_slice(b);
        return;
    }
    for &x in b {
        match x {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            0 => buf.extend_from_slice(b"\\0"),
            _ => buf.push(x),
        }
    }
}

/// `('1', 'PRIMARY')` from "Duplicate entry '1' for key 'PRIMARY'" (the
/// key is `film_text.PRIMARY` on MySQL 8).
fn duplicate_entry(message: &str) -> Option<(&str, &str)> {
    let rest = &message[message.find("Duplicate entry '")? + "Duplicate entry '".len()..];
    let (value, key) = rest.rsplit_once("' for key '")?;
    let key = &key[..key.find('\'')?];
    Some((value, key))
}

/// What the loader thread needs to know of its table.
const BULK_HELP: &str = "\n  = help: MariaDB's bulk load into an empty table fails this way on a value repeated in a unique key, without naming it; nothing was changed, the import was rolled back\n  = help: with MIGPLAN_MYSQL_LOAD_DATA=off rows go in by INSERTs and the server names the duplicate";

struct LoadCtx {
    sql: String,
    table: String,
    /// Where rows go, quoted: the table, or its staging table.
    into: String,
    key: Vec<String>,
    secrets: Vec<String>,
    /// Loaded by MariaDB's bulk insert ([`Mysql::bulk_load`]).
    bulk: bool,
}

/// A table's rows on their way into `LOAD DATA` statements.
struct Load {
    ctx: Arc<LoadCtx>,
    /// Started with the first chunk.
    loader: Option<Loader>,
    /// Rows encoded, not yet handed over.
    buf: Vec<u8>,
    /// Their keys, for messages.
    keys: Vec<Vec<Value>>,
    /// Rows of the statement being filled, handed over or not.
    seg_rows: usize,
}

impl Load {
    /// Hands the encoded rows to the loader thread (starting it, with the
    /// connection, the first time); `cut` ends the statement.
    fn send(&mut self, slot: &mut Option<Conn>, cut: bool) -> Result<()> {
        let chunk = Chunk {
            buf: std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_BYTES + (64 << 10))),
            keys: std::mem::take(&mut self.keys),
            last: cut,
        };
        if cut {
            self.seg_rows = 0;
        }
        let loader = match self.loader.as_mut() {
            Some(l) => l,
            None => {
                let conn = slot.take().expect("the connection is free");
                self.loader
                    .insert(Loader::start(conn, Arc::clone(&self.ctx)))
            }
        };
        if loader.tx.send(chunk).is_ok() {
            return Ok(());
        }
        // The thread stopped: a statement failed.
        let (conn, result) = self.loader.take().expect("started above").join();
        *slot = Some(conn);
        result.and(Err(Error::db(
            format!("loading `{}`", self.ctx.table),
            "the loader stopped",
        )))
    }

    /// Sends the last rows, waits for the server and returns the
    /// connection to `slot`; the rows loaded.
    fn finish(&mut self, slot: &mut Option<Conn>) -> Result<u64> {
        if self.seg_rows > 0 {
            self.send(slot, true)?;
        }
        let Some(loader) = self.loader.take() else {
            return Ok(0);
        };
        let (conn, result) = loader.join();
        *slot = Some(conn);
        result
    }
}

/// Encoded rows; `last` ends a `LOAD DATA` statement.
struct Chunk {
    buf: Vec<u8>,
    keys: Vec<Vec<Value>>,
    last: bool,
}

/// The thread that owns the connection while a table loads.
struct Loader {
    tx: SyncSender<Chunk>,
    thread: JoinHandle<(Conn, Result<u64>)>,
}

impl Loader {
    fn start(conn: Conn, ctx: Arc<LoadCtx>) -> Self {
        let (tx, rx) = sync_channel(LOAD_QUEUE);
        let thread = std::thread::Builder::new()
            .name("migplan-load-data".into())
            .spawn(move || load_all(conn, &ctx, rx))
            .expect("spawning the LOAD DATA thread");
        Loader { tx, thread }
    }

    /// Every chunk was sent: the connection and the rows loaded.
    fn join(self) -> (Conn, Result<u64>) {
        drop(self.tx);
        self.thread.join().expect("the LOAD DATA thread panicked")
    }

    /// Abandons the load (the transaction is about to roll back): the
    /// statement under way ends with the rows sent so far.
    fn abort(self) -> Conn {
        self.join().0
    }
}

/// The statement under way, shared with the driver's file handler.
struct Segment {
    rx: Receiver<Chunk>,
    first: Option<Chunk>,
    keys: Vec<Vec<Value>>,
    /// The importer stopped mid-statement.
    aborted: bool,
}

fn lock(seg: &Mutex<Segment>) -> std::sync::MutexGuard<'_, Segment> {
    seg.lock().unwrap_or_else(|p| p.into_inner())
}

fn load_all(mut conn: Conn, ctx: &LoadCtx, rx: Receiver<Chunk>) -> (Conn, Result<u64>) {
    let seg = Arc::new(Mutex::new(Segment {
        rx,
        first: None,
        keys: Vec::new(),
        aborted: false,
    }));
    let mut total = 0u64;
    let result = loop {
        // Wait for rows before starting a statement: none means done.
        let first = match lock(&seg).rx.recv() {
            Ok(c) => c,
            Err(_) => break Ok(total),
        };
        lock(&seg).first = Some(first);
        let handler = {
            let seg = Arc::clone(&seg);
            // The file name the server asks for is ignored: only our rows go.
            LocalInfileHandler::new(move |_name, out| stream(&mut lock(&seg), out))
        };
        conn.set_local_infile_handler(Some(handler));
        let sent = conn.query_drop(&ctx.sql);
        conn.set_local_infile_handler(None);
        let s = lock(&seg);
        if s.aborted {
            break Ok(total);
        }
        if let Err(e) = sent {
            let mut message = scrub(&e.to_string(), &ctx.secrets);
            if ctx.bulk {
                // The bulk path fails a duplicate in a unique key as
                // "Got error 1 … during COMMIT", naming nothing.
                message.push_str(BULK_HELP);
            }
            break Err(Error::db("loading rows into", message));
        }
        let (loaded, warnings) = (conn.affected_rows(), conn.warnings());
        if loaded != s.keys.len() as u64 || warnings > 0 {
            break Err(load_error(&mut conn, ctx, &s.keys, loaded));
        }
        total += loaded;
    };
    (conn, result)
}

/// Writes the statement's chunks to the server, up to the one that ends it.
fn stream(s: &mut Segment, out: &mut impl Write) -> std::io::Result<()> {
    s.keys.clear();
    let mut next = s.first.take();
    loop {
        let chunk = match next.take() {
            Some(c) => c,
            None => match s.rx.recv() {
                Ok(c) => c,
                Err(_) => {
                    s.aborted = true;
                    return Ok(());
                }
            },
        };
        out.write_all(&chunk.buf)?;
        s.keys.extend(chunk.keys);
        if chunk.last {
            return Ok(());
        }
    }
}

/// Why a statement loaded fewer rows than sent, or warned: the server's
/// first warning, with the row's key when it names a row.
fn load_error(conn: &mut Conn, ctx: &LoadCtx, keys: &[Vec<Value>], loaded: u64) -> Error {
    let warnings: Vec<(String, u32, String)> =
        conn.query("SHOW WARNINGS LIMIT 1").unwrap_or_default();
    let help = "\n  = help: LOAD DATA skips such rows with a warning; nothing was changed, the import was rolled back";
    let Some((_, _, msg)) = warnings.into_iter().next() else {
        return Error::Mismatch(format!(
            "the server loaded {loaded} of {} rows of `{}`{help}",
            keys.len(),
            ctx.table
        ));
    };
    // The server names the staging table where rows went through one.
    let msg = scrub(&msg, &ctx.secrets).replace(ctx.into.trim_matches('`'), &ctx.table);
    let row = server_row(&msg)
        .and_then(|n| n.checked_sub(1))
        .or_else(|| first_skipped(conn, ctx, keys));
    match row.and_then(|i| keys.get(i)) {
        Some(k) if !ctx.key.is_empty() => Error::Mismatch(format!(
            "cannot write row {} of `{}`: {msg}{help}",
            key_text(&ctx.key, k),
            ctx.table
        )),
        _ => Error::Mismatch(format!(
            "cannot write the rows of `{}`: {msg}{help}",
            ctx.table
        )),
    }
}

/// The first row of the statement that the table does not hold: the one
/// LOAD DATA skipped when its warning names no row (a CHECK constraint's).
/// The rows of one statement are looked up one by one: a failure's cost.
fn first_skipped(conn: &mut Conn, ctx: &LoadCtx, keys: &[Vec<Value>]) -> Option<usize> {
    if ctx.key.is_empty() {
        return None;
    }
    let matches: Vec<String> = ctx
        .key
        .iter()
        .map(|k| format!("{} = ?", quote(k)))
        .collect();
    let sql = format!(
        "SELECT 1 FROM {} WHERE {} LIMIT 1",
        ctx.into,
        matches.join(" AND ")
    );
    let stmt = conn.prep(&sql).ok()?;
    keys.iter().position(|k| {
        let params: Vec<My> = k.iter().map(meta_param).collect();
        matches!(
            conn.exec_first::<u8, _, _>(&stmt, Params::Positional(params)),
            Ok(None)
        )
    })
}

/// `SELECT 1` if some distinct non-null value of the foreign key has no
/// parent row.
fn orphan_sql(table: &TableInfo, fk: &ForeignKey) -> String {
    let vals: Vec<String> = (0..fk.columns.len()).map(|i| format!("v{i}")).collect();
    let select: Vec<String> = fk
        .columns
        .iter()
        .zip(&vals)
        .map(|(c, v)| format!("{} AS {v}", quote(c)))
        .collect();
    let not_null: Vec<String> = fk
        .columns
        .iter()
        .map(|c| format!("{} IS NOT NULL", quote(c)))
        .collect();
    let matches: Vec<String> = fk
        .ref_columns
        .iter()
        .zip(&vals)
        .map(|(r, v)| format!("p.{} = d.{v}", quote(r)))
        .collect();
    format!(
        "SELECT 1 FROM (SELECT DISTINCT {} FROM {} WHERE {}) d WHERE NOT EXISTS (SELECT 1 FROM {} p WHERE {}) LIMIT 1",
        select.join(", "),
        quote(&table.name),
        not_null.join(" AND "),
        quote(&fk.ref_table),
        matches.join(" AND "),
    )
}

fn unsupported(table: &str, c: &Col) -> Error {
    Error::Mismatch(format!(
        "column `{table}`.`{}` has type {}, which migplan cannot carry exactly\n  = help: leave the column out with `[tables.{table}] exclude = [\"{}\"]` in the plan; nothing was moved",
        c.name, c.sql_type, c.name
    ))
}

/// Parameter bytes allowed per INSERT: half the packet limit, leaving room
/// for the statement's own overhead.
fn batch_bytes(max_allowed_packet: u64) -> usize {
    let packet = if max_allowed_packet == 0 {
        4 << 20
    } else {
        max_allowed_packet as usize
    };
    (packet / 2).clamp(16 << 10, 64 << 20)
}

fn param_size(v: &My) -> usize {
    match v {
        My::Bytes(b) => b.len() + 9,
        _ => 9,
    }
}

/// `INSERT INTO t (cols) VALUES (?,?),(?,?)…` for `rows` rows.
/// The server's own words: `ERROR 4025 (23000): …` without the driver's
/// `MySqlError { … }` around them.
fn server_message(e: &::mysql::Error) -> String {
    match e {
        ::mysql::Error::MySqlError(m) => format!("ERROR {} ({}): {}", m.code, m.state, m.message),
        other => other.to_string(),
    }
}

/// The first row of a refused multi-row INSERT that is refused alone: each
/// row is tried by itself and undone (a savepoint), until one fails. A
/// failure's cost, for errors that name no row (a CHECK constraint's).
fn refused_row(conn: &mut Conn, into: &str, names: &[String], sent: &[My]) -> Option<usize> {
    let one = insert_sql(into, names, 1);
    conn.query_drop("SAVEPOINT migplan_row").ok()?;
    let found = sent.chunks(names.len().max(1)).position(|row| {
        let refused = conn
            .exec_drop(&one, Params::Positional(row.to_vec()))
            .is_err();
        let _ = conn.query_drop("ROLLBACK TO SAVEPOINT migplan_row");
        refused
    });
    let _ = conn.query_drop("RELEASE SAVEPOINT migplan_row");
    found
}

fn insert_sql(into: &str, names: &[String], rows: usize) -> String {
    let one = format!("({})", vec!["?"; names.len()].join(","));
    let mut sql = format!("INSERT INTO {into} ({}) VALUES ", quote_list(names));
    sql.reserve(rows * (one.len() + 1));
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&one);
    }
    sql
}

/// `a.x = b.x AND a.y = b.y`.
fn equal(a: &str, b: &str, cols: &[String]) -> String {
    cols.iter()
        .map(|c| format!("{a}.{q} = {b}.{q}", q = quote(c)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn key_text(key: &[String], values: &[Value]) -> String {
    key.iter()
        .zip(values)
        .map(|(k, v)| format!("{k}={}", v.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The 1-based row number in a server message (`… at row 3`).
fn server_row(msg: &str) -> Option<usize> {
    let i = msg.rfind(" at row ")?;
    let digits: String = msg[i + 8..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// `` `name` `` with embedded backticks doubled: identifiers from plans and
/// backups are untrusted and always quoted.
pub fn quote(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

fn quote_list(idents: &[String]) -> String {
    super::quote_list(quote, idents)
}

// ---------------------------------------------------------------------------
// Connecting

/// The driver's options for a URL: `mariadb://` becomes `mysql://`, and the
/// TLS switches the driver does not know (`require_ssl`, `ssl-mode`) are
/// applied here.
fn driver_opts(url: &DbUrl, secrets: &[String]) -> Result<Opts> {
    let raw = url.expose();
    let rest = raw.split_once("://").map_or(raw, |(_, r)| r);
    let (base, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut kept = Vec::new();
    let mut tls: Option<&'static str> = None;
    let bad = |what: &str| {
        Error::Usage(format!(
            "{url}: {what}\n  = help: use require_ssl=true or ssl-mode=disabled|required|verify_ca|verify_identity"
        ))
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = v.to_ascii_lowercase();
        match k {
            "require_ssl" | "ssl" => match v.as_str() {
                "true" | "1" | "yes" => tls = Some("verify_identity"),
                "false" | "0" | "no" => tls = Some("disabled"),
                _ => return Err(bad(&format!("`{k}` must be true or false"))),
            },
            "ssl-mode" | "ssl_mode" | "sslmode" => {
                tls = Some(match v.as_str() {
                    "disabled" | "disable" => "disabled",
                    "required" | "require" => "required",
                    "verify_ca" | "verify-ca" => "verify_ca",
                    "verify_identity" | "verify-full" => "verify_identity",
                    _ => return Err(bad(&format!("`{k}={v}` is not a TLS mode"))),
                })
            }
            _ => kept.push(pair),
        }
    }
    let mut driver_url = format!("mysql://{base}");
    if !kept.is_empty() {
        driver_url.push('?');
        driver_url.push_str(&kept.join("&"));
    }
    let opts = Opts::from_url(&driver_url).map_err(|e| {
        Error::Usage(format!(
            "`{url}` is not a usable MySQL URL: {}",
            scrub(&e.to_string(), secrets)
        ))
    })?;
    let Some(mode) = tls else {
        return Ok(opts);
    };
    let ssl = opts.get_ssl_opts().cloned().unwrap_or_default();
    let ssl = match mode {
        "disabled" => None,
        "required" => Some(
            ssl.with_danger_accept_invalid_certs(true)
                .with_danger_skip_domain_validation(true),
        ),
        "verify_ca" => Some(ssl.with_danger_skip_domain_validation(true)),
        _ => Some(ssl),
    };
    Ok(OptsBuilder::from_opts(opts)
        .ssl_opts(ssl.map(|s: SslOpts| s))
        .stmt_cache_size(STATEMENT_CACHE)
        .into())
}

/// The password of a URL (as written and percent-decoded) and any
/// password-like query parameters, to mask in messages.
fn url_secrets(raw: &str) -> Vec<String> {
    let rest = raw.split_once("://").map_or(raw, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let mut out = Vec::new();
    if let Some((userinfo, _)) = authority.rsplit_once('@')
        && let Some((_, pass)) = userinfo.split_once(':')
    {
        out.push(pass.to_string());
        out.push(percent_decode(pass));
    }
    if let Some((_, query)) = rest.split_once('?') {
        for pair in query.split('&') {
            if let Some((k, v)) = pair.split_once('=')
                && k.contains("pass")
            {
                out.push(v.to_string());
                out.push(percent_decode(v));
            }
        }
    }
    out.retain(|s| !s.is_empty());
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.dedup();
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
            if let Ok(x) = u8::from_str_radix(hex, 16) {
                out.push(x);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A message with every secret replaced by `***`.
fn scrub(msg: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .fold(msg.to_string(), |m, s| m.replace(s.as_str(), "***"))
}

// ---------------------------------------------------------------------------
// Introspection

fn text(v: My) -> Option<String> {
    match v {
        My::NULL => None,
        My::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        My::Int(i) => Some(i.to_string()),
        My::UInt(u) => Some(u.to_string()),
        other => Some(format!("{other:?}")),
    }
}

fn text_rows(conn: &mut Conn, sql: &str) -> ::mysql::Result<Vec<Vec<Option<String>>>> {
    let rows: Vec<::mysql::Row> = conn.query(sql)?;
    Ok(rows
        .into_iter()
        .map(|r| r.unwrap().into_iter().map(text).collect())
        .collect())
}

fn load_tables(conn: &mut Conn, mariadb: bool) -> ::mysql::Result<Vec<Table>> {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut tables: Vec<Table> = text_rows(
        conn,
        "SELECT t.TABLE_NAME, COALESCE(t.ENGINE, ''), COALESCE(e.TRANSACTIONS, 'NO') \
         FROM information_schema.TABLES t LEFT JOIN information_schema.ENGINES e ON e.ENGINE = t.ENGINE \
         WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') \
         ORDER BY t.TABLE_NAME",
    )?
    .iter()
    .map(|r| Table {
        info: TableInfo {
            name: s(&r[0]),
            columns: vec![],
            primary_key: vec![],
            unique_keys: vec![],
            foreign_keys: vec![],
        },
        cols: vec![],
        engine: s(&r[1]),
        transactional: r[2].as_deref() == Some("YES"),
    })
    .collect();
    let index: HashMap<String, usize> = tables
        .iter()
        .enumerate()
        .map(|(i, t)| (t.info.name.clone(), i))
        .collect();
    // MariaDB's JSON is LONGTEXT with CHECK (json_valid(col)).
    let mut json_checks: Vec<(String, String)> = vec![];
    if mariadb
        && let Ok(rows) = text_rows(
            conn,
            "SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()",
        )
    {
        json_checks = rows.iter().map(|r| (s(&r[0]), s(&r[1]))).collect();
    }
    for r in text_rows(
        conn,
        "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT IS NOT NULL, EXTRA, \
         CHARACTER_MAXIMUM_LENGTH, CHARACTER_OCTET_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION \
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION",
    )? {
        let Some(&ti) = index.get(&s(&r[0])) else {
            continue;
        };
        let name = s(&r[1]);
        let data_type = s(&r[2]).to_ascii_lowercase();
        let column_type = s(&r[3]);
        let extra = s(&r[6]).to_ascii_lowercase();
        let num = |i: usize| r[i].as_deref().and_then(|x| x.parse::<u64>().ok());
        let json = json_checks.iter().any(|(t, c)| {
            t == &tables[ti].info.name && *c == format!("json_valid({})", quote(&name))
        });
        let generated = ["generated", "virtual", "persistent", "stored"]
            .iter()
            .any(|g| extra.contains(g))
            && !extra.contains("default_generated");
        let (ty, col) = classify(
            &name,
            &data_type,
            &column_type,
            json,
            generated,
            [num(7), num(8), num(9), num(10), num(11)],
        );
        let mut col = col;
        col.auto_increment = extra.contains("auto_increment");
        let t = &mut tables[ti];
        t.info.columns.push(ColumnInfo {
            name,
            ty,
            sql_type: column_type,
            nullable: r[4].as_deref() == Some("YES"),
            has_default: r[5].as_deref() == Some("1")
                || extra.contains("auto_increment")
                || generated,
        });
        t.cols.push(col);
    }
    // Unique keys over whole columns (prefix and functional keys are not
    // keys of the values migplan sees).
    let mut keys: Vec<(usize, String, Vec<String>, bool)> = vec![];
    for r in text_rows(
        conn,
        "SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME, SUB_PART IS NOT NULL OR COLUMN_NAME IS NULL \
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND NON_UNIQUE = 0 \
         ORDER BY TABLE_NAME, INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX",
    )? {
        let Some(&ti) = index.get(&s(&r[0])) else {
            continue;
        };
        let idx = s(&r[1]);
        let partial = r[3].as_deref() == Some("1");
        match keys.last_mut() {
            Some((t, i, cols, p)) if *t == ti && *i == idx => {
                cols.push(s(&r[2]));
                *p |= partial;
            }
            _ => keys.push((ti, idx, vec![s(&r[2])], partial)),
        }
    }
    for (ti, idx, cols, partial) in keys {
        if partial {
            continue;
        }
        let info = &mut tables[ti].info;
        if idx == "PRIMARY" {
            info.primary_key = cols;
        } else {
            info.unique_keys.push(cols);
        }
    }
    let mut last: Option<(usize, String)> = None;
    for r in text_rows(
        conn,
        "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME \
         FROM information_schema.KEY_COLUMN_USAGE \
         WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL \
         ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
    )? {
        let Some(&ti) = index.get(&s(&r[0])) else {
            continue;
        };
        let id = (ti, s(&r[1]));
        let info = &mut tables[ti].info;
        if last.as_ref() != Some(&id) {
            info.foreign_keys.push(ForeignKey {
                columns: vec![],
                ref_table: s(&r[3]),
                ref_columns: vec![],
            });
            last = Some(id);
        }
        let fk = info.foreign_keys.last_mut().expect("pushed above");
        fk.columns.push(s(&r[2]));
        fk.ref_columns.push(s(&r[4]));
    }
    Ok(tables)
}

/// A column's portable type and what reading and writing it needs.
/// `n` holds CHARACTER_MAXIMUM_LENGTH, CHARACTER_OCTET_LENGTH,
/// NUMERIC_PRECISION, NUMERIC_SCALE and DATETIME_PRECISION.
fn classify(
    name: &str,
    data_type: &str,
    column_type: &str,
    json: bool,
    generated: bool,
    n: [Option<u64>; 5],
) -> (ColumnType, Col) {
    let [max_chars, octets, precision, scale, fsp] = n;
    let ct = column_type.to_ascii_lowercase();
    let unsigned = ct.contains("unsigned");
    let int = |bits: u32| {
        if unsigned {
            Target::Int {
                min: 0,
                max: (1i128 << bits) - 1,
            }
        } else {
            Target::Int {
                min: -(1i128 << (bits - 1)),
                max: (1i128 << (bits - 1)) - 1,
            }
        }
    };
    let text = |max: Option<u64>| Target::Text {
        max_chars: max,
        nul: true,
    };
    let (ty, kind, target, max_bytes) = match data_type {
        "tinyint" if ct.starts_with("tinyint(1)") => (ColumnType::Bool, Kind::Bool, int(8), None),
        "bool" | "boolean" => (ColumnType::Bool, Kind::Bool, int(8), None),
        "tinyint" => (ColumnType::Int, Kind::Int, int(8), None),
        "smallint" => (ColumnType::Int, Kind::Int, int(16), None),
        "mediumint" => (ColumnType::Int, Kind::Int, int(24), None),
        "int" | "integer" => (ColumnType::Int, Kind::Int, int(32), None),
        "bigint" => (ColumnType::Int, Kind::Int, int(64), None),
        "year" => (
            ColumnType::Int,
            Kind::Year,
            Target::Int { min: 0, max: 2155 },
            None,
        ),
        "bit" => {
            let bits = precision.unwrap_or(1).clamp(1, 64) as u32;
            let max = (1i128 << bits) - 1;
            (
                ColumnType::Int,
                Kind::Bit,
                Target::Int { min: 0, max },
                None,
            )
        }
        "float" => (
            ColumnType::Float,
            Kind::Float,
            Target::Float { single: true },
            None,
        ),
        "double" | "real" | "double precision" => (
            ColumnType::Float,
            Kind::Double,
            Target::Float { single: false },
            None,
        ),
        "decimal" | "numeric" => (
            ColumnType::Decimal,
            Kind::Decimal,
            Target::Decimal {
                precision: precision.map(|p| p as u32),
                scale: Some(scale.unwrap_or(0) as u32),
                special: false,
            },
            None,
        ),
        "char" | "varchar" => (ColumnType::Text, Kind::Text, text(max_chars), None),
        "tinytext" | "text" | "mediumtext" | "longtext" if json => {
            (ColumnType::Json, Kind::Text, Target::Json, octets)
        }
        "tinytext" | "text" | "mediumtext" | "longtext" => {
            (ColumnType::Text, Kind::Text, text(None), octets)
        }
        "json" => (ColumnType::Json, Kind::Text, Target::Json, None),
        "enum" => (
            ColumnType::Enum,
            Kind::Text,
            Target::Enum(labels(column_type)),
            None,
        ),
        "set" => (
            ColumnType::Set,
            Kind::Text,
            Target::Set(labels(column_type)),
            None,
        ),
        "uuid" => (ColumnType::Uuid, Kind::Text, Target::Uuid, None),
        "inet4" | "inet6" => (ColumnType::Text, Kind::Text, text(None), None),
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => (
            ColumnType::Blob,
            Kind::Bytes,
            Target::Bytes { max_len: octets },
            None,
        ),
        // MySQL's own bytes (SRID, then WKB): exact between MySQL servers,
        // which take them back as they are (a spatial index needs no more).
        "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
        | "multipolygon" | "geometrycollection" | "geomcollection" => (
            ColumnType::Blob,
            Kind::Bytes,
            Target::Bytes { max_len: None },
            None,
        ),
        "date" => (ColumnType::Date, Kind::Date, Target::Date, None),
        "datetime" => (
            ColumnType::Timestamp,
            Kind::DateTime,
            Target::Timestamp,
            None,
        ),
        "timestamp" => (
            ColumnType::TimestampTz,
            Kind::Timestamp,
            Target::TimestampTz,
            None,
        ),
        "time" => (ColumnType::Time, Kind::Time, Target::Time, None),
        _ => (ColumnType::Any, Kind::Unsupported, text(None), None),
    };
    let col = Col {
        name: name.to_string(),
        kind,
        sql_type: column_type.to_string(),
        target,
        max_bytes,
        fsp: fsp.unwrap_or(0) as usize,
        unsigned,
        generated,
        auto_increment: false,
    };
    (ty, col)
}

/// The labels of `enum('a','b''c')` / `set(…)`, unescaped.
fn labels(column_type: &str) -> Vec<String> {
    let inner = column_type
        .split_once('(')
        .map_or("", |(_, r)| r.strip_suffix(')').unwrap_or(r));
    let mut out = Vec::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue; // separators
        }
        let mut label = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    label.push('\'');
                }
                '\'' => break,
                '\\' => match chars.next() {
                    Some('n') => label.push('\n'),
                    Some('t') => label.push('\t'),
                    Some('r') => label.push('\r'),
                    Some('0') => label.push('\0'),
                    Some('Z') => label.push('\x1a'),
                    Some(other) => label.push(other),
                    None => {}
                },
                other => label.push(other),
            }
        }
        out.push(label);
    }
    out
}

// ---------------------------------------------------------------------------
// Values

fn uint(u: u64) -> Value {
    i64::try_from(u).map_or(Value::UInt(u), Value::Int)
}

/// A value from the wire (binary or text protocol) as migplan's value.
fn decode(v: My, col: &Col) -> std::result::Result<Value, String> {
    let utf8 = |b: Vec<u8>| {
        String::from_utf8(b).map_err(|_| "holds text that is not valid UTF-8".to_string())
    };
    Ok(match v {
        My::NULL => Value::Null,
        My::Int(i) if col.kind == Kind::Bool && (i == 0 || i == 1) => Value::Bool(i == 1),
        My::UInt(u) if col.kind == Kind::Bool && u <= 1 => Value::Bool(u == 1),
        My::Int(i) => Value::Int(i),
        My::UInt(u) => uint(u),
        // The f64 nearest the single's shortest decimal form: 1.1, not 1.100000023841858.
        My::Float(f) => Value::Float(f.to_string().parse().unwrap_or(f as f64)),
        My::Double(d) => Value::Float(d),
        My::Date(y, m, d, h, mi, s, us) => {
            let mut t = Ascii::default();
            t.padded(y.into(), 4);
            t.byte(b'-');
            t.padded(m.into(), 2);
            t.byte(b'-');
            t.padded(d.into(), 2);
            if col.kind != Kind::Date {
                t.byte(b' ');
                t.clock(h.into(), mi, s, us);
            }
            if col.kind == Kind::Timestamp {
                t.bytes(b"+00:00");
            }
            Value::Text(t.into_string())
        }
        My::Time(neg, days, h, mi, s, us) => {
            let mut t = Ascii::default();
            if neg {
                t.byte(b'-');
            }
            t.clock(days * 24 + u32::from(h), mi, s, us);
            Value::Text(t.into_string())
        }
        My::Bytes(b) => match col.kind {
            Kind::Bytes => Value::Bytes(b),
            Kind::Bit => {
                if b.len() > 8 {
                    return Err("a BIT value longer than 64 bits".into());
                }
                uint(b.iter().fold(0u64, |acc, x| (acc << 8) | *x as u64))
            }
            Kind::Decimal => Value::Decimal(utf8(b)?),
            // Text protocol: numbers arrive as text.
            Kind::Int | Kind::Year | Kind::Bool => {
                let s = utf8(b)?;
                match (s.parse::<i64>(), s.parse::<u64>()) {
                    (Ok(i), _) if col.kind == Kind::Bool && (i == 0 || i == 1) => {
                        Value::Bool(i == 1)
                    }
                    (Ok(i), _) => Value::Int(i),
                    (_, Ok(u)) => uint(u),
                    _ => return Err(format!("`{s}` is not an integer")),
                }
            }
            Kind::Float => {
                let s = utf8(b)?;
                let f: f32 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
                Value::Float(f.to_string().parse().unwrap_or(f as f64))
            }
            Kind::Double => {
                let s = utf8(b)?;
                Value::Float(s.parse().map_err(|_| format!("`{s}` is not a number"))?)
            }
            Kind::Timestamp => {
                let s = utf8(b)?;
                Value::Text(format!("{}+00:00", trim_fraction(&s)))
            }
            Kind::DateTime | Kind::Time => Value::Text(trim_fraction(&utf8(b)?).to_string()),
            _ => Value::Text(utf8(b)?),
        },
    })
}

/// A short ASCII text built on the stack: temporal values are formatted
/// digit by digit, since `format!` (and even pushing chars onto a String)
/// was a tenth of an export's time.
struct Ascii {
    buf: [u8; 40],
    len: usize,
}

impl Default for Ascii {
    fn default() -> Self {
        Ascii {
            buf: [0; 40],
            len: 0,
        }
    }
}

impl Ascii {
    fn byte(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    fn bytes(&mut self, b: &[u8]) {
        self.buf[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
    }

    /// `v` in decimal, left-padded with zeros to `width` digits.
    fn padded(&mut self, v: u32, width: usize) {
        let digits = if v == 0 { 1 } else { v.ilog10() as usize + 1 };
        let n = digits.max(width);
        let mut v = v;
        for i in (0..n).rev() {
            self.buf[self.len + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        self.len += n;
    }

    /// `HH:MM:SS[.ffffff]`, the fraction's trailing zeros trimmed.
    fn clock(&mut self, h: u32, m: u8, s: u8, us: u32) {
        self.padded(h, 2);
        self.byte(b':');
        self.padded(m.into(), 2);
        self.byte(b':');
        self.padded(s.into(), 2);
        if us == 0 {
            return;
        }
        let (mut us, mut width) = (us, 6);
        while us % 10 == 0 {
            us /= 10;
            width -= 1;
        }
        self.byte(b'.');
        self.padded(us, width);
    }

    fn into_string(self) -> String {
        std::str::from_utf8(&self.buf[..self.len])
            .expect("only ASCII digits and punctuation")
            .to_string()
    }
}

fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// A value as a bound parameter for `col`, or why it does not fit.
fn encode(v: &Value, col: &Col) -> std::result::Result<My, String> {
    if v.is_null() {
        return Ok(My::NULL);
    }
    let cell = match col.kind {
        Kind::Time => return time_param(v, col.fsp),
        Kind::Date | Kind::DateTime | Kind::Timestamp => match convert::convert(v, &col.target) {
            Ok(c) => c,
            // Zero dates are not dates to chrono; MySQL keeps them as such.
            Err(_) if zero_date(v) => {
                let Value::Text(s) = v else { unreachable!() };
                let s = s.strip_suffix("+00:00").unwrap_or(s);
                return Ok(My::Bytes(s.as_bytes().to_vec()));
            }
            Err(e) => return Err(e),
        },
        Kind::Unsupported => {
            return Err(format!("type {} cannot be written", col.sql_type));
        }
        _ => convert::convert(v, &col.target)?,
    };
    Ok(match cell {
        Cell::Null => My::NULL,
        Cell::Bool(b) => My::Int(b as i64),
        Cell::Int(i) => {
            if col.kind == Kind::Year && (1..=1900).contains(&i) {
                // MySQL would read 1–69 as 2001–2069 and refuse the rest.
                return Err(format!("{i} is not a YEAR (0 or 1901 to 2155)"));
            }
            match i64::try_from(i) {
                Ok(i) if col.kind != Kind::Bit => My::Int(i),
                _ => My::UInt(u64::try_from(i).map_err(|_| format!("{i} is out of range"))?),
            }
        }
        Cell::Float(f) if !f.is_finite() => {
            return Err(format!("MySQL cannot store {f} in a floating-point column"));
        }
        Cell::Float(f) if col.unsigned && f < 0.0 => {
            return Err(format!("{f} is negative; the column is UNSIGNED"));
        }
        // Checked to be exact as a single by `convert`: send the single, as a
        // double near FLT_MAX may be just above it.
        Cell::Float(f) if col.kind == Kind::Float => My::Float(f as f32),
        Cell::Float(f) => My::Double(f),
        Cell::Text(t) => {
            if col.kind == Kind::Decimal
                && col.unsigned
                && t.starts_with('-')
                && !t.trim_start_matches(['-', '0', '.']).is_empty()
            {
                return Err(format!("{t} is negative; the column is UNSIGNED"));
            }
            if let Some(max) = col.max_bytes
                && t.len() as u64 > max
            {
                return Err(format!(
                    "text of {} bytes is longer than the column's {max} bytes",
                    t.len()
                ));
            }
            let t = match col.kind {
                Kind::Timestamp => t.strip_suffix("+00:00").unwrap_or(&t).to_string(),
                _ => t.into_owned(),
            };
            if matches!(col.kind, Kind::DateTime | Kind::Timestamp) {
                check_fsp(&t, col.fsp)?;
            }
            My::Bytes(t.into_bytes())
        }
        Cell::Bytes(b) => My::Bytes(b.to_vec()),
    })
}

/// Text shaped like a date whose year, month or day is zero.
fn zero_date(v: &Value) -> bool {
    let Value::Text(s) = v else { return false };
    let b = s.as_bytes();
    b.len() >= 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b[..10]
            .iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && (&s[..4] == "0000" || &s[5..7] == "00" || &s[8..10] == "00")
}

/// `[-]H…H:MM:SS[.ffffff]` within MySQL's TIME range (±838:59:59).
fn time_param(v: &Value, fsp: usize) -> std::result::Result<My, String> {
    let Value::Text(s) = v else {
        return Err(format!(
            "expected a time ([-]HH:MM:SS), found {}",
            v.display()
        ));
    };
    let bad = || format!("expected a time ([-]HH:MM:SS[.ffffff]), found {s:?}");
    let body = s.strip_prefix('-').unwrap_or(s);
    let (clock, frac) = body.split_once('.').unwrap_or((body, ""));
    let parts: Vec<&str> = clock.split(':').collect();
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !(2..=3).contains(&parts.len())
        || !parts.iter().all(|p| digits(p))
        || (!frac.is_empty() && !digits(frac))
        || parts[1..].iter().any(|p| p.len() != 2)
    {
        return Err(bad());
    }
    let h: u64 = parts[0].parse().map_err(|_| bad())?;
    let m: u64 = parts[1].parse().map_err(|_| bad())?;
    let sec: u64 = parts
        .get(2)
        .map_or(Ok(0), |p| p.parse())
        .map_err(|_| bad())?;
    if m > 59 || sec > 59 || h * 3600 + m * 60 + sec > 838 * 3600 + 59 * 60 + 59 {
        return Err(format!("{s:?} is outside MySQL's TIME range (±838:59:59)"));
    }
    check_fsp(s, fsp)?;
    Ok(My::Bytes(s.as_bytes().to_vec()))
}

/// A value of a foreign-key check row, for messages.
fn render(v: My) -> String {
    match v {
        My::NULL => "NULL".into(),
        My::Bytes(b) => match String::from_utf8(b) {
            Ok(s) => s,
            Err(e) => format!("0x{}", hex::encode(e.as_bytes())),
        },
        other => format!("{other:?}"),
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

    #[test]
    fn enum_labels_are_unescaped() {
        assert_eq!(
            labels(r"enum('x''y','b\\c','d,e','')"),
            vec!["x'y", r"b\c", "d,e", ""]
        );
        assert_eq!(labels("set('p','q')"), vec!["p", "q"]);
    }

    #[test]
    fn secrets_are_found_and_scrubbed() {
        let s = url_secrets("mysql://app:s3%63ret@db:3306/x?pkcs12_pass=zzz");
        assert!(s.contains(&"s3cret".to_string()), "{s:?}");
        assert!(s.contains(&"zzz".to_string()));
        assert_eq!(scrub("bad s3cret here", &s), "bad *** here");
        assert!(url_secrets("mysql://app@db/x").is_empty());
    }

    #[test]
    fn times_keep_their_range_and_precision() {
        assert!(time_param(&Value::Text("-838:59:59".into()), 0).is_ok());
        assert!(time_param(&Value::Text("100:00:00.5".into()), 1).is_ok());
        assert!(time_param(&Value::Text("100:00:00.5".into()), 0).is_err());
        assert!(time_param(&Value::Text("839:00:00".into()), 0).is_err());
        assert!(time_param(&Value::Text("12:60:00".into()), 0).is_err());
        let clock = |h, m, s, us| {
            let mut t = Ascii::default();
            t.clock(h, m, s, us);
            t.into_string()
        };
        assert_eq!(clock(49, 2, 3, 120_000), "49:02:03.12");
        assert_eq!(clock(838, 59, 59, 0), "838:59:59");
        assert_eq!(clock(0, 0, 0, 1), "00:00:00.000001");
        assert_eq!(clock(1, 0, 0, 999_999), "01:00:00.999999");
        let mut year = Ascii::default();
        year.padded(7, 4);
        year.byte(b'-');
        year.padded(12345, 4);
        assert_eq!(year.into_string(), "0007-12345");
    }

    #[test]
    fn zero_dates_are_recognised() {
        assert!(zero_date(&Value::Text("0000-00-00".into())));
        assert!(zero_date(&Value::Text("2024-02-00 00:00:00".into())));
        assert!(!zero_date(&Value::Text("2024-02-01".into())));
    }

    #[test]
    fn urls_become_driver_options() {
        let url = |raw: &str| DbUrl::parse(raw, std::path::Path::new(".")).unwrap();
        let opts = |raw: &str| driver_opts(&url(raw), &[]).unwrap();
        let o = opts("mariadb://app:pw@db:3307/tiku?socket=/run/mysqld/mysqld.sock");
        assert_eq!(o.get_tcp_port(), 3307);
        assert_eq!(o.get_db_name(), Some("tiku"));
        assert_eq!(o.get_socket(), Some("/run/mysqld/mysqld.sock"));
        assert!(o.get_ssl_opts().is_none());
        let ssl = opts("mysql://app@db/x?require_ssl=true");
        assert!(
            ssl.get_ssl_opts()
                .is_some_and(|s| !s.accept_invalid_certs())
        );
        let required = opts("mysql://app@db/x?ssl-mode=REQUIRED");
        assert!(
            required
                .get_ssl_opts()
                .is_some_and(|s| s.accept_invalid_certs() && s.skip_domain_validation())
        );
        assert!(
            opts("mysql://app@db/x?require_ssl=true&ssl-mode=disabled")
                .get_ssl_opts()
                .is_none()
        );
        let bad = driver_opts(&url("mysql://app:s3cret@db/x?nope=1"), &["s3cret".into()]);
        let msg = bad.err().unwrap().to_string();
        assert!(msg.contains("nope") && !msg.contains("s3cret"), "{msg}");
    }

    #[test]
    fn server_row_numbers_are_read() {
        assert_eq!(
            server_row("Data too long for column 'c' at row 37"),
            Some(37)
        );
        assert_eq!(server_row("Duplicate entry"), None);
        assert_eq!(
            duplicate_entry(
                "ERROR 1062 (23000): Duplicate entry '1-a' for key 'PRIMARY'\n  = help: x"
            ),
            Some(("1-a", "PRIMARY"))
        );
        assert_eq!(
            duplicate_entry("Duplicate entry 'it's' for key 'film_text.title'"),
            Some(("it's", "film_text.title"))
        );
        assert_eq!(duplicate_entry("Deadlock found"), None);
    }
}

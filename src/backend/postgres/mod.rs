//! PostgreSQL (the blocking `postgres` crate, TLS through native-tls).
//!
//! Reading: one `REPEATABLE READ READ ONLY` snapshot, exported so that a
//! second connection reads the tables in it (`snapshot.rs`); each table
//! streams out of `COPY (SELECT …) TO STDOUT` in text format, parsed line by
//! line, so memory stays flat whatever the table's size. Session settings fix every
//! output format the parser relies on (`TimeZone=UTC`, `DateStyle=ISO`,
//! `IntervalStyle=iso_8601`, `extra_float_digits=3`, `bytea_output=hex`).
//!
//! Writing: one transaction. Rows are converted
//! ([`convert`](super::convert)), encoded as COPY text into a bounded
//! buffer and sent one `COPY … FROM STDIN` per chunk: straight into the
//! table when nothing can conflict (the table is empty, or there is no
//! key), else into a temporary staging table that `end_table` merges
//! with one `INSERT … SELECT … ON CONFLICT` statement.
//! The foreign keys of the written tables are dropped at `begin_write` and
//! re-added by `finish_write` (each `ADD CONSTRAINT` validates every row in
//! one pass), all inside the transaction; where the user may not alter the
//! tables they stay in force and every table goes through staging, so that
//! self-references in any order pass the end-of-statement check.
//!
//! Types: see [`Postgres::resolve`]. Types migplan has no portable type for
//! (geometric, network, ranges, tsvector, bit strings, xml, composites,
//! extension types…) travel as their text form with type `any`: PostgreSQL
//! prints them losslessly and parses the same text back, so they round-trip
//! PostgreSQL → PostgreSQL exactly; another engine receives the text.
//! `money` travels as a decimal. Stored generated columns are left out of
//! the catalog: they are derived data, recomputed by the target.
//!
//! The rooms, the same in every engine folder: `connect.rs` (URL, TLS,
//! session, error messages), `catalog.rs` (tables, columns, keys,
//! triggers, sequences), `values.rs` (types; COPY text read and written),
//! `write.rs` (the import transaction: keys and indexes set aside,
//! staging, merges), `bulk.rs` (the COPY thread), `snapshot.rs` (readers of
//! an export's snapshot), `bookkeeping.rs` (run history, run lock, sequences
//! set, triggers switched off).

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};

use postgres::{Client, SimpleQueryMessage};

use super::{
    Attempt, BOOKKEEPING_TABLES, Backend, DbUrl, Engine, OpenOptions, ReadRequest, Refusal,
    TableOutcome, TableReader, WriteRequest,
};
use crate::catalog::{Catalog, Sequence, TableInfo, Trigger};
use crate::error::Result;
use crate::value::Value;

mod bookkeeping;
mod bulk;
mod catalog;
mod connect;
mod dialect;
mod preview;
mod snapshot;
mod tls;
mod values;
mod write;

pub(crate) use dialect::DIALECT;
use values::PgType;
use write::{DroppedFk, Writer};

pub struct Postgres {
    client: Conn,
    /// The password, masked out of any driver message (belt and braces: the
    /// driver does not print it).
    secret: Option<String>,
    /// `current_schema()`: every table lives there.
    schema: String,
    in_tx: bool,
    types: HashMap<(u32, i32), PgType>,
    /// Foreign keys dropped by `begin_write`, re-added by `finish_write`.
    dropped: Vec<DroppedFk>,
    /// Plain indexes dropped by `begin_table`, rebuilt by `finish_write`.
    dropped_indexes: Vec<String>,
    /// Primary keys and unique constraints of empty tables dropped by
    /// `begin_table` (table, constraint, definition), added again (one
    /// sorted index build each) by `finish_write` before the foreign keys.
    dropped_keys: Vec<(String, String, String)>,
    /// `ALTER TABLE … ENABLE … TRIGGER` statements for the triggers
    /// switched off for the load, run by `finish_write`.
    disabled_triggers: Vec<String>,
    /// Foreign keys could not be dropped and were deferred instead.
    deferred_constraints: bool,
    /// The user tables the last `catalog` listed (no partitions): a unique
    /// violation in one of them while another loads is a trigger's row.
    known_tables: Vec<String>,
    writer: Option<Writer>,
    next_stage: usize,
    /// `connect::SESSION` and the `search_path` found at connect, run after
    /// every script.
    restore_session: String,
    /// Where readers of the export's snapshot connect.
    url: DbUrl,
    /// The snapshot `begin_read` exported, while its transaction is open.
    snapshot: Option<String>,
    /// The connection reading tables in that snapshot, opened on first use.
    reader: Option<snapshot::SnapshotReader>,
    /// Whether an export's snapshot is open, and the schema's columns as
    /// it sees them once they have been read (`snapshot_columns`).
    reading: bool,
    read_columns: Option<std::sync::Arc<Vec<catalog::PgColumn>>>,
}

/// The connection, lent to the COPY thread while a table streams in
/// (between `begin_table` and `end_table`, when nothing else uses it).
struct Conn(Option<Client>);

impl Deref for Conn {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.0
            .as_ref()
            .expect("the connection is lent to a COPY in progress")
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Client {
        self.0
            .as_mut()
            .expect("the connection is lent to a COPY in progress")
    }
}

use super::quote_ansi as quote;

fn quote_list(idents: &[String]) -> String {
    super::quote_list(quote, idents)
}

impl Postgres {
    pub fn open(url: &DbUrl, _opts: &OpenOptions) -> Result<Box<dyn Backend>> {
        // Databases are not created: `opts.create` is for SQLite files.
        let (client, secret) = connect::client(url)?;
        let mut pg = Postgres {
            client: Conn(Some(client)),
            secret,
            schema: String::new(),
            in_tx: false,
            types: HashMap::new(),
            dropped: vec![],
            dropped_indexes: vec![],
            dropped_keys: vec![],
            disabled_triggers: vec![],
            deferred_constraints: false,
            known_tables: vec![],
            writer: None,
            next_stage: 0,
            restore_session: String::new(),
            url: url.clone(),
            snapshot: None,
            reader: None,
            reading: false,
            read_columns: None,
        };
        pg.set_up_session(url)?;
        Ok(Box::new(pg))
    }

    /// The table, qualified with the current schema.
    fn qt(&self, table: &str) -> String {
        format!("{}.{}", quote(&self.schema), quote(table))
    }

    fn scalar_bool(
        &mut self,
        ctx: &str,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<bool> {
        self.client
            .query_one(sql, params)
            .and_then(|r| r.try_get(0))
            .map_err(|e| self.err(ctx, e))
    }

    fn scalar_i64(&mut self, ctx: &str, sql: &str) -> Result<i64> {
        self.client
            .query_one(sql, &[])
            .and_then(|r| r.try_get(0))
            .map_err(|e| self.err(ctx, e))
    }

    /// Rows of a statement as text (NULL as `None`), via the simple protocol.
    fn text_rows(&mut self, ctx: &str, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        let msgs = self
            .client
            .simple_query(sql)
            .map_err(|e| self.err(ctx, e))?;
        Ok(msgs
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => {
                    Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
                }
                _ => None,
            })
            .collect())
    }
}

impl Backend for Postgres {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    fn catalog(&mut self) -> Result<Catalog> {
        let tables: Vec<TableInfo> = self
            .tables(None)?
            .into_iter()
            .filter(|t| !BOOKKEEPING_TABLES.contains(&t.name.as_str()))
            .collect();
        self.known_tables = tables.iter().map(|t| t.name.clone()).collect();
        Ok(Catalog { tables })
    }

    fn sequences(&mut self) -> Result<Vec<Sequence>> {
        self.pg_sequences()
    }

    fn max_value(&mut self, table: &str, column: &str) -> Result<Option<i64>> {
        let sql = format!(
            "SELECT max({})::bigint FROM {}",
            quote(column),
            self.qt(table)
        );
        self.client
            .query_one(&sql, &[])
            .and_then(|r| r.try_get(0))
            .map_err(|e| self.err(format!("reading the largest `{table}`.`{column}`"), e))
    }

    fn set_sequence(&mut self, seq: &Sequence, next: i64) -> Result<()> {
        self.restart_sequence(seq, next)
    }

    fn count_read(&mut self, req: &ReadRequest<'_>) -> Result<u64> {
        self.count_selected(req)
    }

    fn count_rows(&mut self, table: &str) -> Result<u64> {
        let sql = format!("SELECT count(*) FROM {}", self.qt(table));
        self.scalar_i64(&format!("counting rows of `{table}`"), &sql)
            .map(|n| n as u64)
    }

    // An import holds its tables' locks until it commits (it drops and
    // re-adds keys and indexes): a count gives up instead of waiting.
    fn count_rows_unless_locked(&mut self, table: &str) -> Result<Option<u64>> {
        let sql = format!(
            "BEGIN; SET LOCAL lock_timeout = '200ms'; SELECT count(*) FROM {}",
            self.qt(table)
        );
        let result = self.client.simple_query(&sql);
        let _ = self.client.batch_execute("ROLLBACK");
        match result {
            Ok(messages) => Ok(messages.iter().find_map(|m| match m {
                postgres::SimpleQueryMessage::Row(r) => r.get(0)?.parse().ok(),
                _ => None,
            })),
            Err(e) if e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE) => Ok(None),
            Err(e) => Err(self.err(format!("counting rows of `{table}`"), e)),
        }
    }

    // `reltuples` is -1 until the table is first analysed or vacuumed, and
    // 0 for a table never analysed on older servers: both mean unknown.
    fn estimated_rows(&mut self, table: &str) -> Result<Option<u64>> {
        let sql = "SELECT c.reltuples::float8 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                   WHERE n.nspname = current_schema() AND c.relname = $1::text AND c.relkind IN ('r', 'p')";
        let tuples: Option<f64> = self
            .client
            .query_opt(sql, &[&table])
            .and_then(|row| row.map(|r| r.try_get(0)).transpose())
            .map_err(|e| self.err(format!("reading the statistics of `{table}`"), e))?;
        Ok(tuples.filter(|n| *n >= 1.0).map(|n| n.round() as u64))
    }

    fn table_size_bytes(&mut self, table: &str) -> Result<Option<u64>> {
        // A partitioned table holds nothing itself: its partitions do.
        let sql = "SELECT (CASE WHEN c.relkind = 'p' \
                   THEN (SELECT SUM(pg_total_relation_size(t.relid)) FROM pg_partition_tree(c.oid) t) \
                   ELSE pg_total_relation_size(c.oid) END)::int8 \
                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                   WHERE n.nspname = current_schema() AND c.relname = $1::text AND c.relkind IN ('r', 'p')";
        let bytes: Option<i64> = self
            .client
            .query_opt(sql, &[&table])
            .and_then(|row| row.map(|r| r.try_get(0)).transpose())
            .map_err(|e| self.err(format!("reading the size of `{table}`"), e))?
            .flatten();
        Ok(bytes.map(|b| b.max(0) as u64))
    }

    fn has_table(&mut self, table: &str) -> Result<bool> {
        self.scalar_bool(
            "reading the database's tables",
            "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relname = $1::text AND c.relkind IN ('r', 'p'))",
            &[&table],
        )
    }

    fn meta_exec(&mut self, sql: &str, params: &[Value]) -> Result<()> {
        self.meta_rows(sql, params).map(drop)
    }

    fn meta_query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>> {
        self.meta_values(sql, params)
    }

    fn try_lock(&mut self) -> Result<bool> {
        self.try_run_lock()
    }

    fn triggers(&mut self) -> Result<Vec<Trigger>> {
        Ok(self
            .pg_triggers()?
            .into_iter()
            .map(|t| Trigger {
                table: t.table,
                name: t.name,
                when: t.when,
            })
            .collect())
    }

    fn identity_sql(&self) -> &'static str {
        "SELECT current_database(), COALESCE(host(inet_server_addr()), 'local') || ':' || current_setting('port')"
    }

    fn size_bytes(&mut self) -> Result<u64> {
        let row = self
            .client
            .query_one("SELECT pg_database_size(current_database())", &[])
            .map_err(|e| self.err("reading the database's size", e))?;
        Ok(row.get::<_, i64>(0).max(0) as u64)
    }

    fn unlock(&mut self) -> Result<()> {
        self.release_run_lock()
    }

    fn execute_sql(&mut self, context: &str, sql: &str) -> Result<()> {
        // After every script, the session migplan relies on comes back: a
        // pg_dump-made script empties `search_path` (as Flyway does, the
        // connection is restored after each migration).
        self.client
            .batch_execute(sql)
            .and_then(|()| self.client.batch_execute(&self.restore_session))
            .map_err(|e| self.err(context, e))
    }

    fn query_text(&mut self, context: &str, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        // The simple protocol returns every value as text.
        let messages = self
            .client
            .simple_query(sql)
            .map_err(|e| self.err(context, e))?;
        Ok(messages
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => {
                    Some((0..r.len()).map(|i| r.get(i).map(String::from)).collect())
                }
                _ => None,
            })
            .collect())
    }

    fn begin_read(&mut self) -> Result<()> {
        self.begin_snapshot()
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

    fn begin_write(&mut self, tables: &[String]) -> Result<()> {
        self.begin_import(tables)
    }

    fn clear_table(&mut self, table: &str) -> Result<()> {
        let sql = format!("DELETE FROM {}", self.qt(table));
        self.client
            .batch_execute(&sql)
            .map_err(|e| self.err(format!("emptying `{table}`"), e))
    }

    fn begin_table(&mut self, req: &WriteRequest<'_>) -> Result<()> {
        self.start_table(req)
    }

    fn write_row(&mut self, row: &[Value]) -> Result<()> {
        self.put_row(row)
    }

    fn end_table(&mut self) -> Result<TableOutcome> {
        self.finish_table()
    }

    fn disable_triggers(&mut self, triggers: &[Trigger]) -> Result<()> {
        self.switch_triggers_off(triggers)
    }

    fn finish_write(&mut self) -> Result<()> {
        self.restore_after_load()
    }

    fn commit(&mut self) -> Result<()> {
        self.end_snapshot();
        self.client
            .batch_execute("COMMIT")
            .map_err(|e| self.err("committing", e))?;
        self.in_tx = false;
        Ok(())
    }

    fn begin_preview(&mut self, _tables: &[String]) -> Result<()> {
        self.start_preview()
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
        self.end_snapshot();
        self.dropped_indexes.clear();
        self.dropped_keys.clear();
        self.disabled_triggers.clear();
        self.deferred_constraints = false;
        if let Some(stream) = self.writer.take().and_then(|w| w.stream) {
            self.client.0 = Some(stream.abort());
        }
        self.dropped.clear();
        if !self.in_tx || self.client.is_closed() {
            self.in_tx = false;
            return Ok(());
        }
        self.in_tx = false;
        self.client
            .batch_execute("ROLLBACK")
            .map_err(|e| self.err("rolling back", e))
    }
}

//! PostgreSQL (the blocking `postgres` crate, TLS through native-tls).
//!
//! Reading: one `REPEATABLE READ READ ONLY` snapshot; each table streams out
//! of `COPY (SELECT …) TO STDOUT` in text format, parsed line by line, so
//! memory stays flat whatever the table's size. Session settings fix every
//! output format the parser relies on (`TimeZone=UTC`, `DateStyle=ISO`,
//! `IntervalStyle=iso_8601`, `extra_float_digits=3`, `bytea_output=hex`).
//!
//! Writing: one transaction. Rows are converted ([`convert`]), encoded as
//! COPY text into a bounded buffer and sent one `COPY … FROM STDIN` per
//! chunk: straight into the table when nothing can conflict (the table is
//! empty, or there is no key), else into a temporary staging table that
//! `end_table` merges with one `INSERT … SELECT … ON CONFLICT` statement.
//! The foreign keys of the written tables are dropped at `begin_write` and
//! re-added by `finish_write` (each `ADD CONSTRAINT` validates every row in
//! one pass), all inside the transaction; where the user may not alter the
//! tables they stay in force and every table goes through staging, so that
//! self-references in any order pass the end-of-statement check.
//!
//! Types: see [`PgType::resolve`]. Types migplan has no portable type for
//! (geometric, network, ranges, tsvector, bit strings, xml, composites,
//! extension types…) travel as their text form with type `any`: PostgreSQL
//! prints them losslessly and parses the same text back, so they round-trip
//! PostgreSQL → PostgreSQL exactly; another engine receives the text.
//! `money` travels as a decimal. Stored generated columns are left out of
//! the catalog: they are derived data, recomputed by the target.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::ops::{Deref, DerefMut};

use postgres::config::SslMode;
use postgres::error::SqlState;
use postgres::{Client, Config, NoTls, SimpleQueryMessage};

use super::convert::{self, Cell, Target};
use super::{
    BOOKKEEPING_TABLES, Backend, DbUrl, Engine, OpenOptions, ReadRequest, TableOutcome,
    WriteRequest, fkcheck,
};
use crate::catalog::{Catalog, ColumnInfo, ForeignKey, Sequence, TableInfo, Trigger};
use crate::error::{CONFLICTS_LISTED, Error, Result};
use crate::policy::Conflict;
use crate::value::{ColumnType, Value};

mod copy_in;
mod dialect;

use copy_in::{Chunk, CopyIn};
pub(crate) use dialect::DIALECT;

/// Rows are handed to the COPY thread in chunks of about this many bytes.
const CHUNK: usize = 512 << 10;

/// Object ids below this are built into PostgreSQL (`FirstNormalObjectId`).
const FIRST_USER_OID: u32 = 16384;

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
    /// [`SESSION`] and the `search_path` found at connect, run after every
    /// script.
    restore_session: String,
}

/// The session settings every output format the parser relies on needs.
const SESSION: &str = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET IntervalStyle = 'iso_8601'; \
     SET extra_float_digits = 3; SET client_encoding = 'UTF8'; SET bytea_output = 'hex';";

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

/// How a column's COPY text becomes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Decimal,
    Float,
    Bool,
    Bytes,
    /// `…+00` as printed under `TimeZone=UTC`, carried as `…+00:00`.
    TimestampTz,
    Text,
}

/// A column type as migplan carries it.
#[derive(Debug, Clone)]
struct PgType {
    ty: ColumnType,
    kind: Kind,
    target: Target,
    /// `money`: read as `numeric`, written as a plain decimal.
    money: bool,
    /// Fractional digits of a second a `time(p)`/`timestamp(p)` column
    /// keeps, when fewer than six: PostgreSQL rounds the rest.
    fsp: Option<u32>,
}

#[derive(Debug, Clone)]
struct PgColumn {
    table: String,
    name: String,
    sql_type: String,
    nullable: bool,
    has_default: bool,
    /// `GENERATED ALWAYS AS IDENTITY`: never the target of an UPDATE.
    identity_always: bool,
    t: PgType,
}

impl PgColumn {
    /// The SELECT expression reading the column (`alias.` prefixed).
    fn select(&self, alias: &str) -> String {
        if self.t.money {
            format!("{alias}{}::numeric", quote(&self.name))
        } else {
            format!("{alias}{}", quote(&self.name))
        }
    }
}

/// A user trigger: where it is declared (`relation`, a partition for one
/// declared there), the table migplan writes, `tgenabled`, timing and events.
struct PgTrigger {
    relation: String,
    table: String,
    name: String,
    mode: String,
    when: String,
}

#[derive(Debug, Clone)]
struct DroppedFk {
    /// The table holding the constraint: a partition, for keys declared
    /// on one.
    table: String,
    /// The table migplan writes: `table`'s partitioned table, or itself.
    root: String,
    name: String,
    /// `pg_get_constraintdef`, e.g. `FOREIGN KEY (a) REFERENCES p(id)`.
    def: String,
    fk: ForeignKey,
}

/// The table being written.
struct Writer {
    table: String,
    columns: Vec<String>,
    key: Vec<String>,
    /// Positions of the key columns in a row.
    key_pos: Vec<usize>,
    conflict: Conflict,
    /// How each column of a row converts.
    targets: Vec<ColumnTarget>,
    /// The key columns (for reading conflicting keys back).
    key_columns: Vec<PgColumn>,
    non_key_updatable: Vec<String>,
    /// The staging table, when rows may conflict with existing ones.
    staging: Option<String>,
    copy_sql: String,
    /// Rows encoded but not yet handed to the COPY thread.
    chunk: Chunk,
    /// The COPY in progress, once the first chunk is full.
    stream: Option<CopyIn>,
    /// Rows sent or buffered so far.
    rows: u64,
}

#[derive(Debug, Clone)]
enum ColumnTarget {
    Typed(Target),
    /// A time or timestamp keeping this many fractional digits of a second.
    Timed(Target, usize),
    /// A type carried as text (`any`): PostgreSQL parses it.
    AsText,
}

use super::quote_ansi as quote;

fn quote_list(idents: &[String]) -> String {
    super::quote_list(quote, idents)
}

/// A driver error as one readable message: the server's message with its
/// detail and hint, or the error and its causes.
fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = db.message().to_string();
        if let Some(d) = db.detail() {
            s.push_str(&format!(" ({d})"));
        }
        if let Some(h) = db.hint() {
            s.push_str(&format!(" (hint: {h})"));
        }
        return s;
    }
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        s.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    s
}

fn scrub(secret: &Option<String>, msg: String) -> String {
    match secret {
        Some(p) if p.len() >= 3 && msg.contains(p.as_str()) => msg.replace(p.as_str(), "***"),
        _ => msg,
    }
}

impl Postgres {
    pub fn open(url: &DbUrl, _opts: &OpenOptions) -> Result<Box<dyn Backend>> {
        // Databases are not created: `opts.create` is for SQLite files.
        let config: Config = url.expose().parse().map_err(|e: postgres::Error| {
            Error::Usage(format!(
                "`{url}` is not a valid PostgreSQL URL: {}",
                describe(&e)
            ))
        })?;
        let secret = config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        let client = connect(&config).map_err(|e| match e {
            ConnectError::Pg(e) if e.code() == Some(&SqlState::INVALID_CATALOG_NAME) => {
                let db = config
                    .get_dbname()
                    .or(config.get_user())
                    .unwrap_or("?")
                    .to_string();
                Error::Mismatch(format!(
                    "database `{db}` does not exist on {url}\n  = help: create it first (`CREATE DATABASE`); migplan does not create PostgreSQL databases"
                ))
            }
            ConnectError::Pg(e) => Error::db(
                format!("cannot connect to {url}"),
                scrub(&secret, describe(&e)),
            ),
            ConnectError::Tls(e) => Error::db(
                format!("cannot set up TLS for {url}"),
                scrub(&secret, e.to_string()),
            ),
        })?;
        let mut pg = Postgres {
            client: Conn(Some(client)),
            secret,
            schema: String::new(),
            in_tx: false,
            types: HashMap::new(),
            dropped: vec![],
            dropped_indexes: vec![],
            disabled_triggers: vec![],
            deferred_constraints: false,
            known_tables: vec![],
            writer: None,
            next_stage: 0,
            restore_session: String::new(),
        };
        pg.client
            .batch_execute(SESSION)
            .map_err(|e| pg.err(format!("cannot configure the session on {url}"), e))?;
        let search_path: String = pg
            .client
            .query_one("SELECT current_setting('search_path')", &[])
            .and_then(|r| r.try_get(0))
            .map_err(|e| pg.err(format!("reading the search path of {url}"), e))?;
        pg.restore_session = format!(
            "{SESSION} SELECT pg_catalog.set_config('search_path', '{}', false);",
            search_path.replace('\'', "''")
        );
        let schema: Option<String> = pg
            .client
            .query_one("SELECT current_schema()::text", &[])
            .and_then(|r| r.try_get(0))
            .map_err(|e| pg.err(format!("reading the current schema of {url}"), e))?;
        pg.schema = schema.ok_or_else(|| {
            Error::Mismatch(format!(
                "{url} has no current schema: no schema of its `search_path` exists\n  = help: create the schema or set `search_path`"
            ))
        })?;
        Ok(Box::new(pg))
    }

    fn err(&self, context: impl Into<String>, e: postgres::Error) -> Error {
        Error::db(context, scrub(&self.secret, describe(&e)))
    }

    /// An error writing rows of `loading`: a unique violation in another
    /// of the user's tables is a row a trigger wrote there, and is named
    /// after that table (the server says which, `DbError::table`); a
    /// partition of `loading` is no table of the catalog.
    /// `row` names the loaded row, when known (`row id=1: `).
    fn write_err(&self, loading: &str, context: &str, e: &postgres::Error, row: &str) -> Error {
        let other = e.as_db_error().filter(|db| {
            *db.code() == SqlState::UNIQUE_VIOLATION
                && db
                    .table()
                    .is_some_and(|t| t != loading && self.known_tables.iter().any(|k| k == t))
        });
        match other {
            Some(db) => Error::trigger_duplicate(
                db.table().unwrap_or_default(),
                db.constraint().unwrap_or("a unique key"),
                loading,
                &scrub(&self.secret, format!("{row}{}", describe(e))),
            ),
            None => Error::db(
                context,
                scrub(&self.secret, format!("{row}{}", describe(e))),
            ),
        }
    }

    /// Runs migplan's own bookkeeping SQL: `?` becomes `$n`, and each
    /// value is bound as the type the server expects for its parameter.
    fn meta_rows(&mut self, sql: &str, params: &[Value]) -> Result<Vec<postgres::Row>> {
        let mut numbered = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for ch in sql.chars() {
            if ch == '?' {
                n += 1;
                numbered.push_str(&format!("${n}"));
            } else {
                numbered.push(ch);
            }
        }
        let stmt = self
            .client
            .prepare(&numbered)
            .map_err(|e| self.err("preparing a run-history statement", e))?;
        let bound: Vec<Box<dyn postgres::types::ToSql + Sync>> = params
            .iter()
            .zip(stmt.params())
            .map(|(v, ty)| meta_param(v, ty))
            .collect();
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
            bound.iter().map(|b| b.as_ref()).collect();
        self.client
            .query(&stmt, &refs)
            .map_err(|e| self.err("using the run history", e))
    }

    /// The table, qualified with the current schema.
    fn qt(&self, table: &str) -> String {
        format!("{}.{}", quote(&self.schema), quote(table))
    }

    /// One pg_type row, following domains down to their base type.
    fn resolve(&mut self, oid: u32, typmod: i32) -> Result<PgType> {
        if let Some(t) = self.types.get(&(oid, typmod)) {
            return Ok(t.clone());
        }
        let ctx = "reading column types";
        let (mut cur, mut modifier) = (oid, typmod);
        let t = loop {
            let row = self
                .client
                .query_one(
                    "SELECT typname::text, typtype::text, typcategory::text, typbasetype, typtypmod, typelem FROM pg_type WHERE oid = $1",
                    &[&cur],
                )
                .map_err(|e| self.err(ctx, e))?;
            let (name, typtype, category): (String, String, String) =
                (row.get(0), row.get(1), row.get(2));
            let (base, base_mod, elem): (u32, i32, u32) = (row.get(3), row.get(4), row.get(5));
            if typtype == "d" {
                if modifier == -1 {
                    modifier = base_mod;
                }
                cur = base;
                continue;
            }
            if typtype == "e" {
                let labels: Vec<String> = self
                    .client
                    .query(
                        "SELECT enumlabel::text FROM pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder",
                        &[&cur],
                    )
                    .map_err(|e| self.err(ctx, e))?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                break PgType::new(ColumnType::Enum, Kind::Text, Target::Enum(labels));
            }
            if category == "A" && elem != 0 {
                break PgType::new(ColumnType::Array, Kind::Text, Target::Array);
            }
            if cur >= FIRST_USER_OID || typtype != "b" {
                break PgType::any();
            }
            break PgType::builtin(&name, modifier);
        };
        self.types.insert((oid, typmod), t.clone());
        Ok(t)
    }

    /// The columns of every table (or of one), in ordinal order.
    fn columns(&mut self, table: Option<&str>) -> Result<Vec<PgColumn>> {
        let ctx = "reading the database's columns";
        let rows = self
            .client
            .query(
                "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), \
                        a.attnotnull, (a.atthasdef OR a.attidentity <> ''), a.attidentity = 'a', \
                        a.atttypid, a.atttypmod \
                 FROM pg_attribute a \
                 JOIN pg_class c ON c.oid = a.attrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
                   AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' \
                   AND ($1::text IS NULL OR c.relname = $1::text) \
                 ORDER BY c.relname, a.attnum",
                &[&table],
            )
            .map_err(|e| self.err(ctx, e))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let t = self.resolve(r.get(6), r.get(7))?;
            let notnull: bool = r.get(3);
            out.push(PgColumn {
                table: r.get(0),
                name: r.get(1),
                sql_type: r.get(2),
                nullable: !notnull,
                has_default: r.get(4),
                identity_always: r.get(5),
                t,
            });
        }
        Ok(out)
    }

    /// The columns of one table, each of `names` in that order.
    fn columns_of(&mut self, table: &str, names: &[String]) -> Result<Vec<PgColumn>> {
        let all = self.columns(Some(table))?;
        if all.is_empty() {
            return Err(Error::Mismatch(format!(
                "table `{table}` does not exist in schema `{}`",
                self.schema
            )));
        }
        names
            .iter()
            .map(|n| {
                all.iter().find(|c| &c.name == n).cloned().ok_or_else(|| {
                    Error::Mismatch(format!(
                        "table `{table}` has no column `{n}` (or it is a generated column)"
                    ))
                })
            })
            .collect()
    }

    /// Tables with their keys (one table or all of them).
    fn tables(&mut self, table: Option<&str>) -> Result<Vec<TableInfo>> {
        let columns = self.columns(table)?;
        let mut tables: Vec<TableInfo> = Vec::new();
        for c in columns {
            if tables.last().is_none_or(|t| t.name != c.table) {
                tables.push(TableInfo {
                    name: c.table.clone(),
                    columns: vec![],
                    primary_key: vec![],
                    unique_keys: vec![],
                    foreign_keys: vec![],
                });
            }
            let t = tables.last_mut().expect("pushed above");
            t.columns.push(ColumnInfo {
                name: c.name,
                ty: c.t.ty,
                sql_type: c.sql_type,
                nullable: c.nullable,
                has_default: c.has_default,
            });
        }
        let by_name: HashMap<String, usize> = tables
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        let ctx = "reading the database's keys";
        let keys = self
            .client
            .query(
                "SELECT pc.relname::text, con.contype::text, \
                   ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, o) \
                         JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o), \
                   rc.relname::text, coalesce(rn.nspname = current_schema(), false), \
                   ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, o) \
                         JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.o) \
                 FROM pg_constraint con \
                 JOIN pg_class c ON c.oid = con.conrelid \
                 JOIN pg_class pc ON pc.oid = coalesce(pg_partition_root(c.oid), c.oid) \
                 JOIN pg_namespace n ON n.oid = pc.relnamespace \
                 LEFT JOIN pg_class rc ON rc.oid = con.confrelid \
                 LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace \
                 WHERE n.nspname = current_schema() AND con.contype IN ('p', 'u', 'f') \
                   AND (con.contype = 'f' OR NOT c.relispartition) \
                   AND ($1::text IS NULL OR pc.relname = $1::text) \
                 ORDER BY pc.relname, con.contype, con.conname",
                &[&table],
            )
            .map_err(|e| self.err(ctx, e))?;
        for r in keys {
            let Some(&i) = by_name.get(&r.get::<_, String>(0)) else {
                continue;
            };
            let cols: Vec<String> = r.get(2);
            match r.get::<_, String>(1).as_str() {
                "p" => tables[i].primary_key = cols,
                "u" => tables[i].unique_keys.push(cols),
                _ => {
                    // References into other schemas are outside what migplan moves.
                    let (ref_table, same): (Option<String>, bool) = (r.get(3), r.get(4));
                    // A partition's own keys belong to its partitioned
                    // table (Pagila declares `payment`'s on each partition);
                    // the same key found on several partitions counts once.
                    if let (Some(ref_table), true) = (ref_table, same) {
                        let fk = ForeignKey {
                            columns: cols,
                            ref_table,
                            ref_columns: r.get(5),
                        };
                        if !tables[i].foreign_keys.contains(&fk) {
                            tables[i].foreign_keys.push(fk);
                        }
                    }
                }
            }
        }
        // Unique indexes that back no constraint (`CREATE UNIQUE INDEX`):
        // plain columns only, no predicate, so ON CONFLICT can use them.
        let indexes = self
            .client
            .query(
                "SELECT c.relname::text, \
                   ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o) \
                         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n \
                         WHERE k.o <= i.indnkeyatts ORDER BY k.o) \
                 FROM pg_index i \
                 JOIN pg_class c ON c.oid = i.indrelid \
                 JOIN pg_class ic ON ic.oid = i.indexrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND i.indisunique AND NOT i.indisprimary \
                   AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL \
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid \
                                   AND con.contype IN ('p', 'u')) \
                   AND ($1::text IS NULL OR c.relname = $1::text) \
                 ORDER BY c.relname, ic.relname",
                &[&table],
            )
            .map_err(|e| self.err(ctx, e))?;
        for r in indexes {
            if let Some(&i) = by_name.get(&r.get::<_, String>(0)) {
                tables[i].unique_keys.push(r.get(1));
            }
        }
        Ok(tables)
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
    /// The enabled user triggers of the current schema's tables (clones of
    /// a partitioned table's triggers left out: they follow their parent).
    fn pg_triggers(&mut self) -> Result<Vec<PgTrigger>> {
        let rows = self.text_rows(
            "reading the database's triggers",
            "SELECT c.relname, \
               (SELECT r.relname FROM pg_class r WHERE r.oid = coalesce(pg_partition_root(c.oid), c.oid)), \
               t.tgname, t.tgenabled::text, \
               CASE WHEN t.tgtype::int & 2 <> 0 THEN 'BEFORE' WHEN t.tgtype::int & 64 <> 0 THEN 'INSTEAD OF' ELSE 'AFTER' END \
               || ' ' || concat_ws(' OR ', CASE WHEN t.tgtype::int & 4 <> 0 THEN 'INSERT' END, \
                 CASE WHEN t.tgtype::int & 16 <> 0 THEN 'UPDATE' END, CASE WHEN t.tgtype::int & 8 <> 0 THEN 'DELETE' END, \
                 CASE WHEN t.tgtype::int & 32 <> 0 THEN 'TRUNCATE' END) \
             FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND NOT t.tgisinternal AND t.tgenabled <> 'D' \
               AND t.tgparentid = 0 \
             ORDER BY 2, 3",
        )?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let mut r = r.into_iter().flatten();
                Some(PgTrigger {
                    relation: r.next()?,
                    table: r.next()?,
                    name: r.next()?,
                    mode: r.next()?,
                    when: r.next()?,
                })
            })
            .collect())
    }

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

    /// Hands the encoded rows to the COPY thread, starting it with the
    /// first chunk of the table.
    fn flush(&mut self) -> Result<()> {
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        if w.chunk.row_starts.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut w.chunk, new_chunk());
        if w.stream.is_none() {
            let client = self
                .client
                .0
                .take()
                .expect("the connection is not lent twice");
            w.stream = Some(CopyIn::start(client, w.copy_sql.clone()));
        }
        if w.stream.as_ref().expect("started above").send(chunk) {
            return Ok(());
        }
        // The server refused the data: finish to learn why.
        self.end_stream()
    }

    /// Completes the table's COPY, takes the connection back and names the
    /// row a failure is about.
    fn end_stream(&mut self) -> Result<()> {
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        let Some(stream) = w.stream.take() else {
            return Ok(());
        };
        let (client, result) = stream.finish();
        self.client.0 = Some(client);
        let Err(failure) = result else {
            return Ok(());
        };
        let row = failure
            .line
            .map(|line| {
                let fields: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
                let key: Vec<String> = w
                    .key
                    .iter()
                    .zip(&w.key_pos)
                    .map(|(k, &p)| {
                        let v = fields
                            .get(p)
                            .and_then(|f| unescape(f))
                            .map_or("NULL".to_string(), |b| {
                                String::from_utf8_lossy(&b).into_owned()
                            });
                        format!("{k}={v}")
                    })
                    .collect();
                if key.is_empty() {
                    String::new()
                } else {
                    format!("row {}: ", key.join(", "))
                }
            })
            .unwrap_or_default();
        let table = w.table.clone();
        Err(self.write_err(&table, "writing rows into", &failure.error, &row))
    }

    /// Drops the plain (non-unique, constraint-free) indexes of an empty
    /// table about to be loaded; `finish_write` rebuilds them. Building an
    /// index once from the loaded rows is much cheaper than inserting every
    /// row into it (pg_restore orders a full restore the same way), and
    /// unique indexes stay so duplicates are still caught row by row.
    /// Indexes carrying anything `pg_get_indexdef` does not print (a
    /// comment, a tablespace, CLUSTER, statistics targets) are left alone,
    /// and so is everything when the user may not drop indexes.
    fn drop_plain_indexes(&mut self, qt: &str) -> Result<()> {
        let ctx = "preparing to write";
        let rows = self
            .client
            .query(
                "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) \
                 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid \
                 WHERE i.indrelid = $1::text::regclass \
                   AND NOT i.indisunique AND NOT i.indisprimary AND NOT i.indisexclusion \
                   AND NOT i.indisclustered AND i.indisvalid AND i.indisready \
                   AND ic.reltablespace = 0 AND ic.relkind = 'i' \
                   AND obj_description(i.indexrelid, 'pg_class') IS NULL \
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) \
                   AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.indexrelid \
                                   AND a.attstattarget IS NOT NULL AND a.attstattarget >= 0) \
                   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.refobjid = i.indexrelid \
                                   AND d.refclassid = 'pg_class'::regclass AND d.deptype <> 'i')",
                &[&qt],
            )
            .map_err(|e| self.err(ctx, e))?;
        if rows.is_empty() {
            return Ok(());
        }
        let (names, defs): (Vec<String>, Vec<String>) =
            rows.iter().map(|r| (r.get(0), r.get(1))).unzip();
        let drops: String = names.iter().map(|n| format!("DROP INDEX {n};")).collect();
        let dropped = self.client.batch_execute(&format!(
            "SAVEPOINT migplan_idx; {drops} RELEASE SAVEPOINT migplan_idx"
        ));
        if dropped.is_err() {
            // Not the owner, typically: the indexes stay and load row by row.
            return self
                .client
                .batch_execute("ROLLBACK TO SAVEPOINT migplan_idx")
                .map_err(|e| self.err(ctx, e));
        }
        self.dropped_indexes.extend(defs);
        Ok(())
    }

    /// Merges the staging table into the target under the table's policy.
    fn merge(&mut self, w: &Writer, staging: &str) -> Result<TableOutcome> {
        let ctx = "merging rows into";
        let target = self.qt(&w.table);
        let s = quote(staging);
        let cols = quote_list(&w.columns);
        let scols: Vec<String> = w
            .columns
            .iter()
            .map(|c| format!("s.{}", quote(c)))
            .collect();
        let insert = format!(
            "INSERT INTO {target} ({cols}) OVERRIDING SYSTEM VALUE SELECT {} FROM {s} s",
            scols.join(", ")
        );
        let matches = w
            .key
            .iter()
            .map(|k| format!("t.{} = s.{}", quote(k), quote(k)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let existing = format!("EXISTS (SELECT 1 FROM {target} t WHERE {matches})");
        let mut out = TableOutcome::default();
        let staged = w.rows;
        if w.key.is_empty() {
            out.inserted = self
                .client
                .execute(&insert, &[])
                .map_err(|e| self.write_err(&w.table, ctx, &e, ""))?;
            return Ok(out);
        }
        let on = format!("ON CONFLICT ({})", quote_list(&w.key));
        // Compared as text: every type has a text form, not every type has
        // equality (json, point).
        let as_text = |alias: &str| -> String {
            w.non_key_updatable
                .iter()
                .map(|c| format!("{alias}.{}::text", quote(c)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let differ =
            |a: &str, b: &str| format!("ROW({}) IS DISTINCT FROM ROW({})", as_text(a), as_text(b));
        // Existing rows that hold other values than the staged ones.
        let changed = |this: &mut Self| -> Result<u64> {
            if w.non_key_updatable.is_empty() {
                return Ok(0);
            }
            let sql = format!(
                "SELECT count(*) FROM {s} s WHERE EXISTS (SELECT 1 FROM {target} t WHERE {matches} AND {})",
                differ("t", "s")
            );
            Ok(this.scalar_i64(ctx, &sql)? as u64)
        };
        match w.conflict {
            Conflict::Skip => {
                let changed = changed(self)?;
                let sql = format!("{insert} {on} DO NOTHING");
                out.inserted = self
                    .client
                    .execute(&sql, &[])
                    .map_err(|e| self.write_err(&w.table, ctx, &e, ""))?;
                out.skipped = changed;
                out.identical = staged.saturating_sub(out.inserted + changed);
            }
            Conflict::Overwrite => {
                let count = format!("SELECT count(*) FROM {s} s WHERE {existing}");
                let over = self.scalar_i64(ctx, &count)? as u64;
                let changed = changed(self)?;
                let action = if w.non_key_updatable.is_empty() {
                    "DO NOTHING".to_string()
                } else {
                    let set: Vec<String> = w
                        .non_key_updatable
                        .iter()
                        .map(|c| format!("{} = EXCLUDED.{}", quote(c), quote(c)))
                        .collect();
                    // Identical rows are left alone (no UPDATE, no trigger).
                    format!(
                        "DO UPDATE SET {} WHERE {}",
                        set.join(", "),
                        differ("t", "EXCLUDED")
                    )
                };
                // `t` names the target row in DO UPDATE's WHERE.
                let aliased = insert.replacen(
                    &format!("INSERT INTO {target} "),
                    &format!("INSERT INTO {target} AS t "),
                    1,
                );
                let sql = format!("{aliased} {on} {action}");
                self.client
                    .execute(&sql, &[])
                    .map_err(|e| self.write_err(&w.table, ctx, &e, ""))?;
                out.overwritten = changed;
                out.identical = over.saturating_sub(changed);
                out.inserted = staged.saturating_sub(over);
            }
            Conflict::Error => {
                let count = format!("SELECT count(*) FROM {s} s WHERE {existing}");
                let n = self.scalar_i64(ctx, &count)? as u64;
                if n == 0 {
                    out.inserted = self
                        .client
                        .execute(&insert, &[])
                        .map_err(|e| self.write_err(&w.table, ctx, &e, ""))?;
                    return Ok(out);
                }
                let select: Vec<String> = w.key_columns.iter().map(|c| c.select("s.")).collect();
                let order: Vec<String> = w.key.iter().map(|k| format!("s.{}", quote(k))).collect();
                let sql = format!(
                    "SELECT {} FROM {s} s WHERE {existing} ORDER BY {} LIMIT {CONFLICTS_LISTED}",
                    select
                        .iter()
                        .map(|e| format!("({e})::text"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    order.join(", ")
                );
                let kinds: Vec<Kind> = w.key_columns.iter().map(|c| c.t.kind).collect();
                for row in self.text_rows(ctx, &sql)? {
                    out.conflict_keys.push(
                        row.iter()
                            .zip(&kinds)
                            .map(|(v, k)| match v {
                                None => Value::Null,
                                Some(s) => parse_value(*k, s.as_bytes())
                                    .unwrap_or_else(|_| Value::Text(s.clone())),
                            })
                            .collect(),
                    );
                }
                out.conflicts = n;
            }
        }
        Ok(out)
    }

    /// Re-adds one dropped foreign key; a violation names the rows.
    fn restore_fk(&mut self, d: &DroppedFk) -> Result<()> {
        let ctx = format!("restoring foreign key `{}` of `{}`", d.name, d.table);
        self.client
            .batch_execute("SAVEPOINT migplan_fk")
            .map_err(|e| self.err(ctx.clone(), e))?;
        let add = format!(
            "ALTER TABLE {} ADD CONSTRAINT {} {}",
            self.qt(&d.table),
            quote(&d.name),
            d.def
        );
        let e = match self.client.batch_execute(&add) {
            Ok(()) => {
                return self
                    .client
                    .batch_execute("RELEASE SAVEPOINT migplan_fk")
                    .map_err(|e| self.err(ctx, e));
            }
            Err(e) => e,
        };
        if e.code() != Some(&SqlState::FOREIGN_KEY_VIOLATION) {
            return Err(self.err(ctx, e));
        }
        self.client
            .batch_execute("ROLLBACK TO SAVEPOINT migplan_fk")
            .map_err(|e| self.err(ctx.clone(), e))?;
        // Which rows: the shared anti-join, for a message naming them.
        let mut info = self
            .tables(Some(&d.root))?
            .pop()
            .ok_or_else(|| Error::Mismatch(format!("table `{}` disappeared", d.root)))?;
        // A partition has its table's columns; the check reads the rows of
        // the relation that holds the key.
        info.name = d.table.clone();
        info.foreign_keys = vec![d.fk.clone()];
        let shown: Vec<String> = fkcheck::key_columns(&info, &d.fk)
            .iter()
            .chain(&d.fk.columns)
            .cloned()
            .collect();
        let cols = self.columns_of(&d.root, &shown)?;
        let sql = fkcheck::violations_sql(quote, &info, &d.fk);
        info.name = d.root.clone();
        // The simple protocol returns every value as text.
        let rows = self.text_rows(&ctx, &sql)?;
        let rendered: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                r.iter()
                    .zip(&cols)
                    .map(|(v, c)| match v {
                        None => "NULL".into(),
                        Some(s) => parse_value(c.t.kind, s.as_bytes())
                            .unwrap_or_else(|_| Value::Text(s.clone()))
                            .display(),
                    })
                    .collect()
            })
            .collect();
        if rendered.is_empty() {
            return Err(self.err(ctx, e));
        }
        Err(match fkcheck::violation_error(&info, &d.fk, &rendered) {
            Error::Mismatch(m) => Error::Mismatch(m.replacen(
                " is violated:",
                &format!(" (constraint `{}`) is violated:", d.name),
                1,
            )),
            other => other,
        })
    }

    /// Every sequence of the schema with the columns that use it: as their
    /// default (`nextval('s')`, owned or not), as their identity, or as
    /// their owner (`OWNED BY`). Descending sequences are left out: "past
    /// the largest id" means nothing to them.
    fn pg_sequences(&mut self) -> Result<Vec<Sequence>> {
        let ctx = "reading the database's sequences";
        let rows = self
            .client
            .query(
                "WITH uses AS ( \
                   SELECT d.refobjid AS seq, ad.adrelid AS rel, ad.adnum AS att FROM pg_depend d \
                   JOIN pg_attrdef ad ON ad.oid = d.objid \
                   WHERE d.classid = 'pg_attrdef'::regclass AND d.refclassid = 'pg_class'::regclass \
                   UNION SELECT d.objid, d.refobjid, d.refobjsubid FROM pg_depend d \
                   WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass \
                     AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0) \
                 SELECT s.relname::text, c.relname::text, a.attname::text, q.seqincrement, \
                   has_sequence_privilege(s.oid, 'SELECT'), has_sequence_privilege(s.oid, 'USAGE'), \
                   CASE WHEN has_sequence_privilege(s.oid, 'USAGE') \
                     THEN pg_sequence_last_value(s.oid) END, q.seqstart \
                 FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace \
                 JOIN pg_sequence q ON q.seqrelid = s.oid \
                 LEFT JOIN (uses u JOIN pg_class c ON c.oid = u.rel AND c.relkind IN ('r', 'p') \
                     AND NOT c.relispartition \
                   JOIN pg_attribute a ON a.attrelid = u.rel AND a.attnum = u.att AND NOT a.attisdropped) \
                   ON u.seq = s.oid AND c.relnamespace = s.relnamespace \
                 WHERE s.relkind = 'S' AND n.nspname = current_schema() AND q.seqincrement > 0 \
                 ORDER BY 1, 2, 3",
                &[],
            )
            .map_err(|e| self.err(ctx, e))?;
        let mut out: Vec<Sequence> = Vec::new();
        let mut read: HashMap<String, Option<i64>> = HashMap::new();
        for r in rows {
            let (name, table, column): (String, Option<String>, Option<String>) =
                (r.get(0), r.get(1), r.get(2));
            if table
                .as_deref()
                .is_some_and(|t| BOOKKEEPING_TABLES.contains(&t))
            {
                continue;
            }
            let inc: i64 = r.get(3);
            let next = match read.get(&name) {
                Some(n) => *n,
                // USAGE (nextval) without SELECT: pg_sequence_last_value,
                // NULL until the first nextval (or after a RESTART, which
                // then reads as the start value).
                None if !r.get::<_, bool>(4) && r.get::<_, bool>(5) => {
                    let last: Option<i64> = r.get(6);
                    let n = Some(last.map_or(r.get(7), |l| l.saturating_add(inc)));
                    read.insert(name.clone(), n);
                    n
                }
                None if !r.get::<_, bool>(4) => {
                    eprintln!(
                        "warning: sequence `{name}` is neither carried nor set: this role may not read it\n  = help: `GRANT SELECT ON SEQUENCE {name} TO …`"
                    );
                    read.insert(name.clone(), None);
                    None
                }
                None => {
                    // The sequence itself, not pg_sequences.last_value: that
                    // is NULL after `setval(s, n, false)`, which still
                    // decides the next value.
                    let sql = format!("SELECT last_value, is_called FROM {}", self.qt(&name));
                    let row = self
                        .client
                        .query_one(&sql, &[])
                        .map_err(|e| self.err(ctx, e))?;
                    let (last, called): (i64, bool) = (row.get(0), row.get(1));
                    let n = Some(if called {
                        last.saturating_add(inc)
                    } else {
                        last
                    });
                    read.insert(name.clone(), n);
                    n
                }
            };
            if let Some(next) = next {
                out.push(Sequence {
                    name: Some(name),
                    table,
                    column,
                    next,
                });
            }
        }
        Ok(out)
    }

    /// `ALTER SEQUENCE … RESTART` is transactional (PostgreSQL 10 on): a
    /// failed import puts the sequence back with everything else. A role
    /// that does not own the sequence falls back to `setval`, which needs
    /// only UPDATE but is never undone, so it only moves forwards (a failed
    /// restore must not leave a sequence below the rows that stay); one
    /// without UPDATE gets a warning saying what to run.
    fn restart_sequence(&mut self, seq: &Sequence, next: i64) -> Result<()> {
        let name = seq.key().to_string();
        let ctx = format!("setting sequence `{name}`");
        let qs = self.qt(&name);
        let max: i64 = self
            .client
            .query_one(
                "SELECT seqmax FROM pg_sequence WHERE seqrelid = $1::text::regclass",
                &[&qs],
            )
            .and_then(|r| r.try_get(0))
            .map_err(|e| self.err(ctx.clone(), e))?;
        if next > max {
            // Every value is taken: no RESTART can say so, and the rows
            // are what matter.
            eprintln!(
                "warning: sequence `{name}` is left as it is: it would have to hand out {next}, beyond its MAXVALUE {max}
  = help: `ALTER SEQUENCE {name} MAXVALUE …` (or AS bigint) before the application inserts"
            );
            return Ok(());
        }
        self.client
            .batch_execute(&format!(
                "SAVEPOINT migplan_seq; ALTER SEQUENCE {qs} RESTART WITH {next}"
            ))
            .or_else(|e| match e.code() {
                Some(&SqlState::INSUFFICIENT_PRIVILEGE) => {
                    self.client.batch_execute("ROLLBACK TO SAVEPOINT migplan_seq")?;
                    if next < seq.next {
                        eprintln!(
                            "note: sequence `{name}` stays at {} rather than going back to {next}: only its owner can set it within the transaction",
                            seq.next
                        );
                        return Ok(());
                    }
                    self.client
                        .query("SELECT setval($1::text::regclass, $2, false)", &[&qs, &next])
                        .map(drop)
                }
                _ => Err(e),
            })
            .or_else(|e| match e.code() {
                Some(&SqlState::INSUFFICIENT_PRIVILEGE) => {
                    eprintln!(
                        "warning: cannot move sequence `{name}` to {next}, past the imported rows ({}); run `SELECT setval('{name}', {next}, false)` as its owner",
                        scrub(&self.secret, describe(&e))
                    );
                    self.client.batch_execute("ROLLBACK TO SAVEPOINT migplan_seq")
                }
                _ => Err(e),
            })
            .and_then(|_| self.client.batch_execute("RELEASE SAVEPOINT migplan_seq"))
            .map_err(|e| self.err(ctx, e))
    }
}

/// Connects, with TLS unless `sslmode=disable`. As with libpq, `prefer`
/// and `require` encrypt without verifying the server's certificate, and
/// `prefer` falls back to a plain connection when TLS cannot be set up.
fn connect(config: &Config) -> std::result::Result<Client, ConnectError> {
    let mode = config.get_ssl_mode();
    if mode == SslMode::Disable {
        return config.connect(NoTls).map_err(ConnectError::Pg);
    }
    let tls = native_tls::TlsConnector::builder()
        .danger_accept_invalid_certs(true)
        .danger_accept_invalid_hostnames(true)
        .build();
    let tls = match tls {
        Ok(t) => t,
        Err(_) if mode == SslMode::Prefer => {
            return config.connect(NoTls).map_err(ConnectError::Pg);
        }
        Err(e) => return Err(ConnectError::Tls(e)),
    };
    match config.connect(postgres_native_tls::MakeTlsConnector::new(tls)) {
        Ok(c) => Ok(c),
        Err(e) if mode == SslMode::Prefer && e.to_string().contains("TLS") => {
            config.connect(NoTls).map_err(|_| ConnectError::Pg(e))
        }
        Err(e) => Err(ConnectError::Pg(e)),
    }
}

enum ConnectError {
    Pg(postgres::Error),
    Tls(native_tls::Error),
}

fn new_chunk() -> Chunk {
    Chunk {
        buf: Vec::with_capacity(CHUNK + (64 << 10)),
        row_starts: Vec::new(),
    }
}

/// `COPY t, line 3, column c: "…"` → 3.
fn copy_line(where_: &str) -> Option<usize> {
    let rest = &where_[where_.find(", line ")? + ", line ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|&n| n > 0)
}

impl PgType {
    fn new(ty: ColumnType, kind: Kind, target: Target) -> Self {
        PgType {
            ty,
            kind,
            target,
            money: false,
            fsp: None,
        }
    }

    /// A time or timestamp type, keeping `typmod` fractional digits.
    fn timed(ty: ColumnType, kind: Kind, target: Target, typmod: i32) -> Self {
        PgType {
            fsp: (0..6).contains(&typmod).then_some(typmod as u32),
            ..PgType::new(ty, kind, target)
        }
    }

    /// Types without a portable counterpart: their text form, as printed
    /// and parsed by PostgreSQL.
    fn any() -> Self {
        PgType::new(
            ColumnType::Any,
            Kind::Text,
            Target::Text {
                max_chars: None,
                nul: false,
            },
        )
    }

    /// A built-in base type by name, with its type modifier (`atttypmod`).
    fn builtin(name: &str, typmod: i32) -> Self {
        let int = |min: i128, max: i128| {
            PgType::new(ColumnType::Int, Kind::Int, Target::Int { min, max })
        };
        let text = |max_chars: Option<u64>| {
            PgType::new(
                ColumnType::Text,
                Kind::Text,
                Target::Text {
                    max_chars,
                    nul: false,
                },
            )
        };
        let plain = |ty: ColumnType, target: Target| PgType::new(ty, Kind::Text, target);
        // varchar(n), char(n): the modifier is n + 4 (VARHDRSZ).
        let chars = (typmod >= 4).then(|| (typmod - 4) as u64);
        match name {
            "int2" => int(i16::MIN.into(), i16::MAX.into()),
            "int4" => int(i32::MIN.into(), i32::MAX.into()),
            "int8" => int(i64::MIN.into(), i64::MAX.into()),
            "numeric" => {
                let (precision, scale) = numeric_modifier(typmod);
                PgType::new(
                    ColumnType::Decimal,
                    Kind::Decimal,
                    Target::Decimal {
                        precision,
                        scale,
                        special: true,
                    },
                )
            }
            // money keeps two fractional digits (lc_monetary C and most
            // locales); more would be rounded, so they are refused.
            "money" => PgType {
                money: true,
                ..PgType::new(
                    ColumnType::Decimal,
                    Kind::Decimal,
                    Target::Decimal {
                        precision: Some(19),
                        scale: Some(2),
                        special: false,
                    },
                )
            },
            "float4" => PgType::new(
                ColumnType::Float,
                Kind::Float,
                Target::Float { single: true },
            ),
            "float8" => PgType::new(
                ColumnType::Float,
                Kind::Float,
                Target::Float { single: false },
            ),
            "text" | "name" => text(None),
            "varchar" | "bpchar" => text(chars),
            "bool" => PgType::new(ColumnType::Bool, Kind::Bool, Target::Bool),
            "bytea" => PgType::new(
                ColumnType::Blob,
                Kind::Bytes,
                Target::Bytes { max_len: None },
            ),
            "date" => plain(ColumnType::Date, Target::Date),
            "time" => PgType::timed(ColumnType::Time, Kind::Text, Target::Time, typmod),
            "timestamp" => {
                PgType::timed(ColumnType::Timestamp, Kind::Text, Target::Timestamp, typmod)
            }
            "timestamptz" => PgType::timed(
                ColumnType::TimestampTz,
                Kind::TimestampTz,
                Target::TimestampTz,
                typmod,
            ),
            "interval" => plain(ColumnType::Interval, Target::Interval),
            "json" | "jsonb" => plain(ColumnType::Json, Target::Json),
            "uuid" => plain(ColumnType::Uuid, Target::Uuid),
            _ => PgType::any(),
        }
    }
}

/// numeric(p, s) from its type modifier; `None`s when unconstrained (or a
/// negative scale, which migplan does not model).
fn numeric_modifier(typmod: i32) -> (Option<u32>, Option<u32>) {
    if typmod < 4 {
        return (None, None);
    }
    let m = typmod - 4;
    let precision = ((m >> 16) & 0xffff) as u32;
    // PostgreSQL 15 stores the scale as an 11-bit signed number.
    let raw = m & 0x7ff;
    let scale = if raw & 0x400 != 0 { raw - 0x800 } else { raw };
    if scale < 0 {
        return (None, None);
    }
    (Some(precision), Some(scale as u32))
}

/// One COPY text field without its escapes; `None` for `\N` (NULL).
fn unescape(field: &[u8]) -> Option<Cow<'_, [u8]>> {
    if field == b"\\N" {
        return None;
    }
    if !field.contains(&b'\\') {
        return Some(Cow::Borrowed(field));
    }
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let b = field[i];
        if b != b'\\' || i + 1 == field.len() {
            out.push(b);
            i += 1;
            continue;
        }
        let c = field[i + 1];
        i += 2;
        match c {
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut v = u32::from(c - b'0');
                let mut n = 1;
                while n < 3 && i < field.len() && (b'0'..=b'7').contains(&field[i]) {
                    v = v * 8 + u32::from(field[i] - b'0');
                    i += 1;
                    n += 1;
                }
                out.push(v as u8);
            }
            b'x' if i < field.len() && field[i].is_ascii_hexdigit() => {
                let mut v = 0u32;
                let mut n = 0;
                while n < 2 && i < field.len() && field[i].is_ascii_hexdigit() {
                    v = v * 16 + (field[i] as char).to_digit(16).expect("hex digit");
                    i += 1;
                    n += 1;
                }
                out.push(v as u8);
            }
            other => out.push(other),
        }
    }
    Some(Cow::Owned(out))
}

/// A value from PostgreSQL's text output of a column of this kind.
fn parse_value(kind: Kind, raw: &[u8]) -> std::result::Result<Value, String> {
    let s = std::str::from_utf8(raw).map_err(|_| "the server sent text that is not UTF-8")?;
    let bad = |what: &str| format!("cannot read {s:?} as {what}");
    Ok(match kind {
        Kind::Int => Value::Int(s.parse().map_err(|_| bad("an integer"))?),
        Kind::Decimal => Value::Decimal(s.to_string()),
        Kind::Float => Value::Float(match s {
            "NaN" => f64::NAN,
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            _ => s.parse().map_err(|_| bad("a float"))?,
        }),
        Kind::Bool => match s {
            "t" => Value::Bool(true),
            "f" => Value::Bool(false),
            _ => return Err(bad("a boolean")),
        },
        Kind::Bytes => {
            let hex = s.strip_prefix("\\x").ok_or_else(|| bad("bytea (hex)"))?;
            Value::Bytes(hex::decode(hex).map_err(|_| bad("bytea (hex)"))?)
        }
        Kind::TimestampTz => {
            // `…+00` under TimeZone=UTC; `infinity` stays as it is.
            let b = s.as_bytes();
            let n = b.len();
            if n >= 3
                && (b[n - 3] == b'+' || b[n - 3] == b'-')
                && b[n - 2..].iter().all(u8::is_ascii_digit)
            {
                Value::Text(format!("{s}:00"))
            } else {
                Value::Text(s.to_string())
            }
        }
        Kind::Text => Value::Text(s.to_string()),
    })
}

/// Appends text to a COPY buffer, escaping what COPY's text format needs.
fn push_text(buf: &mut Vec<u8>, s: &[u8]) {
    if !s.iter().any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r')) {
        buf.extend_from_slice(s);
        return;
    }
    for &b in s {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            _ => buf.push(b),
        }
    }
}

/// Appends one converted cell in COPY text format.
fn push_cell(buf: &mut Vec<u8>, cell: &Cell<'_>) {
    match cell {
        Cell::Null => buf.extend_from_slice(b"\\N"),
        Cell::Bool(b) => buf.push(if *b { b't' } else { b'f' }),
        Cell::Int(i) => {
            let _ = write!(buf, "{i}");
        }
        Cell::Float(f) => push_float(buf, *f),
        Cell::Text(t) => push_text(buf, t.as_bytes()),
        Cell::Bytes(b) => {
            // bytea's hex input `\x…`, its backslash escaped for COPY.
            const HEX: &[u8; 16] = b"0123456789abcdef";
            buf.reserve(3 + 2 * b.len());
            buf.extend_from_slice(b"\\\\x");
            for &x in *b {
                buf.push(HEX[(x >> 4) as usize]);
                buf.push(HEX[(x & 15) as usize]);
            }
        }
    }
}

/// Floats in PostgreSQL's spelling: shortest round-trip digits, `NaN`,
/// `Infinity`, `-Infinity`; `-0` keeps its sign.
fn push_float(buf: &mut Vec<u8>, f: f64) {
    if f.is_nan() {
        buf.extend_from_slice(b"NaN");
    } else if f.is_infinite() {
        buf.extend_from_slice(if f > 0.0 { b"Infinity" } else { b"-Infinity" });
    } else {
        let _ = write!(buf, "{f:?}");
    }
}

/// A value for a column carried as text (`any`): PostgreSQL parses it.
fn as_text(v: &Value) -> std::result::Result<Cell<'_>, String> {
    match v {
        Value::Bool(b) => Ok(Cell::Text(Cow::Borrowed(if *b { "true" } else { "false" }))),
        Value::Float(f) if !f.is_finite() => {
            let mut b = Vec::new();
            push_float(&mut b, *f);
            Ok(Cell::Text(Cow::Owned(String::from_utf8(b).expect("ASCII"))))
        }
        other => convert::convert(
            other,
            &Target::Text {
                max_chars: None,
                nul: false,
            },
        ),
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
        let rows = self.meta_rows(sql, params)?;
        Ok(rows
            .iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| match *r.columns()[i].type_() {
                        postgres::types::Type::INT8 => {
                            r.get::<_, Option<i64>>(i).map_or(Value::Null, Value::Int)
                        }
                        postgres::types::Type::INT4 => r
                            .get::<_, Option<i32>>(i)
                            .map_or(Value::Null, |n| Value::Int(n.into())),
                        _ => r
                            .get::<_, Option<String>>(i)
                            .map_or(Value::Null, Value::Text),
                    })
                    .collect()
            })
            .collect())
    }

    // A session-level advisory lock: PostgreSQL releases it when the
    // connection ends, so a killed run cannot leave it behind.
    fn try_lock(&mut self) -> Result<bool> {
        self.scalar_bool(
            "taking the run lock",
            "SELECT pg_try_advisory_lock($1)",
            &[&RUN_LOCK_KEY],
        )
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
        self.scalar_bool(
            "releasing the run lock",
            "SELECT pg_advisory_unlock($1)",
            &[&RUN_LOCK_KEY],
        )
        .map(drop)
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

    fn transactional_ddl(&self) -> bool {
        true
    }

    fn begin_read(&mut self) -> Result<()> {
        self.client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .map_err(|e| self.err("starting the export snapshot", e))?;
        self.in_tx = true;
        Ok(())
    }

    fn read(
        &mut self,
        req: &ReadRequest<'_>,
        sink: &mut dyn FnMut(&[Value]) -> Result<()>,
    ) -> Result<()> {
        let ctx = format!("reading `{}`", req.table);
        let cols = self.columns_of(req.table, req.columns)?;
        let select: Vec<String> = cols.iter().map(|c| c.select("")).collect();
        let mut sql = format!(
            "COPY (SELECT {} FROM {}",
            select.join(", "),
            self.qt(req.table)
        );
        if let Some((col, since)) = &req.changed_since {
            let c = self.columns_of(req.table, &[col.to_string()])?.remove(0);
            // The instant is formatted here by chrono (digits, `-`, `:`,
            // `T`, `+`, `.`): a quoted literal is safe, and COPY takes no
            // parameters.
            let instant = since.to_rfc3339();
            let q = quote(col);
            let cond = match c.t.ty {
                ColumnType::Timestamp | ColumnType::TimestampTz | ColumnType::Date => {
                    // Naive timestamps and dates count as UTC (the session's zone).
                    format!("{q} > '{instant}'::timestamptz")
                }
                ColumnType::Int => format!(
                    "(CASE WHEN {q} > 100000000000 THEN {q} / 1000.0 ELSE {q} END) > {}",
                    since.timestamp()
                ),
                other => {
                    return Err(Error::Mismatch(format!(
                        "column `{}`.`{col}` is of type {} ({}), which cannot tell which rows changed\n  = help: name a timestamp, date or integer (unix time) column in `[tables.{}] updated_at`",
                        req.table,
                        other.name(),
                        c.sql_type,
                        req.table
                    )));
                }
            };
            sql.push_str(&format!(" WHERE {cond}"));
        }
        if !req.order_by.is_empty() {
            sql.push_str(&format!(" ORDER BY {}", quote_list(req.order_by)));
        }
        sql.push_str(") TO STDOUT");
        let kinds: Vec<Kind> = cols.iter().map(|c| c.t.kind).collect();
        let secret = self.secret.clone();
        let mut reader = self
            .client
            .copy_out(&sql)
            .map_err(|e| Error::db(ctx.clone(), scrub(&secret, describe(&e))))?;
        let mut line = Vec::with_capacity(8192);
        let mut row = Vec::with_capacity(kinds.len());
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| Error::db(ctx.clone(), scrub(&secret, e.to_string())))?;
            if n == 0 {
                break;
            }
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            row.clear();
            for (i, field) in line.split(|&b| b == b'\t').enumerate() {
                let Some(kind) = kinds.get(i) else {
                    return Err(Error::db(
                        ctx,
                        "the server sent more columns than asked for",
                    ));
                };
                row.push(match unescape(field) {
                    None => Value::Null,
                    Some(bytes) => parse_value(*kind, &bytes).map_err(|m| {
                        Error::Mismatch(format!(
                            "table `{}` column `{}`: {m}",
                            req.table, req.columns[i]
                        ))
                    })?,
                });
            }
            if row.len() != kinds.len() {
                return Err(Error::db(
                    ctx,
                    "the server sent fewer columns than asked for",
                ));
            }
            sink(&row)?;
        }
        Ok(())
    }

    fn begin_write(&mut self, tables: &[String]) -> Result<()> {
        let ctx = "starting the import transaction";
        self.client
            .batch_execute("BEGIN")
            .map_err(|e| self.err(ctx, e))?;
        self.in_tx = true;
        self.dropped.clear();
        self.dropped_indexes.clear();
        // Foreign keys of the written tables, dropped while rows load and
        // re-added (validated in bulk) by `finish_write`. NOT VALID keys
        // stay: re-adding them would not check the new rows.
        let rows = self
            .client
            .query(
                "SELECT c.relname::text, con.conname::text, pg_get_constraintdef(con.oid), \
                   ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, o) \
                         JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o), \
                   rc.relname::text, \
                   ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, o) \
                         JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.o), \
                   pc.relname::text \
                 FROM pg_constraint con \
                 JOIN pg_class c ON c.oid = con.conrelid \
                 JOIN pg_class pc ON pc.oid = coalesce(pg_partition_root(c.oid), c.oid) \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 JOIN pg_class rc ON rc.oid = con.confrelid \
                 WHERE n.nspname = current_schema() AND con.contype = 'f' AND con.convalidated \
                   AND con.conparentid = 0 AND pc.relname::text = ANY($1::text[]) \
                 ORDER BY c.relname, con.conname",
                &[&tables],
            )
            .map_err(|e| self.err(ctx, e))?;
        let fks: Vec<DroppedFk> = rows
            .iter()
            .map(|r| DroppedFk {
                table: r.get(0),
                root: r.get(6),
                name: r.get(1),
                def: r.get(2),
                fk: ForeignKey {
                    columns: r.get(3),
                    ref_table: r.get(4),
                    ref_columns: r.get(5),
                },
            })
            .collect();
        if fks.is_empty() {
            return Ok(());
        }
        self.client
            .batch_execute("SAVEPOINT migplan_drop_fks")
            .map_err(|e| self.err(ctx, e))?;
        let mut drops = String::new();
        for d in &fks {
            drops.push_str(&format!(
                "ALTER TABLE {} DROP CONSTRAINT {};",
                self.qt(&d.table),
                quote(&d.name)
            ));
        }
        match self.client.batch_execute(&drops) {
            Ok(()) => {
                self.dropped = fks;
                self.client
                    .batch_execute("RELEASE SAVEPOINT migplan_drop_fks")
                    .map_err(|e| self.err(ctx, e))
            }
            Err(e) => {
                // Not the tables' owner, typically: keep the constraints in
                // force; every table then loads through one INSERT … SELECT.
                eprintln!(
                    "note: foreign keys stay checked row by row: {}",
                    scrub(&self.secret, describe(&e))
                );
                // Keys declared DEFERRABLE then wait for the commit, so
                // tables in a cycle of foreign keys can still load.
                self.deferred_constraints = true;
                self.client
                    .batch_execute(
                        "ROLLBACK TO SAVEPOINT migplan_drop_fks; SET CONSTRAINTS ALL DEFERRED",
                    )
                    .map_err(|e| self.err(ctx, e))
            }
        }
    }

    fn clear_table(&mut self, table: &str) -> Result<()> {
        let sql = format!("DELETE FROM {}", self.qt(table));
        self.client
            .batch_execute(&sql)
            .map_err(|e| self.err(format!("emptying `{table}`"), e))
    }

    fn begin_table(&mut self, req: &WriteRequest<'_>) -> Result<()> {
        let ctx = "preparing to write";
        let cols = self.columns_of(req.table, req.columns)?;
        let qt = self.qt(req.table);
        let self_ref = self.scalar_bool(
            ctx,
            "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f' \
             AND conrelid = $1::text::regclass AND confrelid = conrelid)",
            &[&qt],
        )?;
        let empty =
            self.scalar_bool(ctx, &format!("SELECT NOT EXISTS (SELECT 1 FROM {qt})"), &[])?;
        // Straight into the table when no row can meet an existing one and
        // no self-reference needs the whole table in one statement.
        let direct = (req.key.is_empty() || empty) && !self_ref;
        if direct && empty {
            self.drop_plain_indexes(&qt)?;
        }
        let staging = if direct {
            None
        } else {
            self.next_stage += 1;
            let name = format!("migplan_stage_{}", self.next_stage);
            let sql = format!(
                "CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {qt} WITH NO DATA",
                quote(&name),
                quote_list(req.columns)
            );
            self.client
                .batch_execute(&sql)
                .map_err(|e| self.err(ctx, e))?;
            Some(name)
        };
        let copy_sql = format!(
            "COPY {} ({}) FROM STDIN",
            staging.as_deref().map_or(qt.clone(), quote),
            quote_list(req.columns)
        );
        let key_pos: Vec<usize> = req
            .key
            .iter()
            .filter_map(|k| req.columns.iter().position(|c| c == k))
            .collect();
        self.writer = Some(Writer {
            table: req.table.to_string(),
            columns: req.columns.to_vec(),
            key: req.key.to_vec(),
            key_columns: key_pos.iter().map(|&i| cols[i].clone()).collect(),
            key_pos,
            conflict: req.conflict,
            targets: cols
                .iter()
                .map(|c| match (c.t.ty, c.t.fsp) {
                    (ColumnType::Any, _) => ColumnTarget::AsText,
                    (_, Some(fsp)) => ColumnTarget::Timed(c.t.target.clone(), fsp as usize),
                    _ => ColumnTarget::Typed(c.t.target.clone()),
                })
                .collect(),
            non_key_updatable: cols
                .iter()
                .filter(|c| !req.key.contains(&c.name) && !c.identity_always)
                .map(|c| c.name.clone())
                .collect(),
            staging,
            copy_sql,
            chunk: new_chunk(),
            stream: None,
            rows: 0,
        });
        Ok(())
    }

    fn write_row(&mut self, row: &[Value]) -> Result<()> {
        let w = self.writer.as_mut().expect("write_row before begin_table");
        let buf = &mut w.chunk.buf;
        let start = buf.len();
        for (i, (v, t)) in row.iter().zip(&w.targets).enumerate() {
            let cell = match t {
                ColumnTarget::Typed(target) => convert::convert(v, target),
                ColumnTarget::Timed(target, fsp) => {
                    convert::convert(v, target).and_then(|cell| match &cell {
                        Cell::Text(t) => convert::check_fsp(t, *fsp).map(|_| cell),
                        _ => Ok(cell),
                    })
                }
                ColumnTarget::AsText => as_text(v),
            };
            match cell {
                Ok(cell) => {
                    if i > 0 {
                        buf.push(b'\t');
                    }
                    push_cell(buf, &cell);
                }
                Err(msg) => {
                    buf.truncate(start);
                    return Err(Error::value(&w.columns[i], msg));
                }
            }
        }
        buf.push(b'\n');
        w.chunk.row_starts.push(start);
        w.rows += 1;
        if w.chunk.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    fn end_table(&mut self) -> Result<TableOutcome> {
        self.flush()?;
        self.end_stream()?;
        let Some(w) = self.writer.take() else {
            return Ok(TableOutcome::default());
        };
        let Some(staging) = w.staging.clone() else {
            return Ok(TableOutcome {
                inserted: w.rows,
                ..TableOutcome::default()
            });
        };
        let out = self.merge(&w, &staging)?;
        // Free the staging rows now rather than at commit.
        self.client
            .batch_execute(&format!("DROP TABLE {}", quote(&staging)))
            .map_err(|e| self.err("dropping the staging table of", e))?;
        Ok(out)
    }

    fn disable_triggers(&mut self, triggers: &[Trigger]) -> Result<()> {
        // Each trigger comes back in the mode it had (ENABLE, ENABLE
        // ALWAYS, ENABLE REPLICA); a rollback undoes both statements. One
        // declared on a partition is switched off where it is declared.
        for t in self.pg_triggers()? {
            if !triggers
                .iter()
                .any(|w| w.table == t.table && w.name == t.name)
            {
                continue;
            }
            let (relation, name) = (self.qt(&t.relation), quote(&t.name));
            self.client
                .batch_execute(&format!("ALTER TABLE {relation} DISABLE TRIGGER {name}"))
                .map_err(|e| self.err("switching triggers off", e))?;
            let how = match t.mode.as_str() {
                "A" => "ENABLE ALWAYS",
                "R" => "ENABLE REPLICA",
                _ => "ENABLE",
            };
            self.disabled_triggers
                .push(format!("ALTER TABLE {relation} {how} TRIGGER {name}"));
        }
        Ok(())
    }

    fn finish_write(&mut self) -> Result<()> {
        if std::mem::take(&mut self.deferred_constraints) {
            // Checked now, not at COMMIT: a dry run rolls back before it.
            self.client
                .batch_execute("SET CONSTRAINTS ALL IMMEDIATE")
                .map_err(|e| self.err("checking foreign keys", e))?;
        }
        for sql in std::mem::take(&mut self.disabled_triggers) {
            self.client
                .batch_execute(&sql)
                .map_err(|e| self.err("switching triggers on again", e))?;
        }
        for def in std::mem::take(&mut self.dropped_indexes) {
            self.client
                .batch_execute(&def)
                .map_err(|e| self.err(format!("rebuilding index ({def})"), e))?;
        }
        let dropped = std::mem::take(&mut self.dropped);
        for d in &dropped {
            self.restore_fk(d)?;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        self.client
            .batch_execute("COMMIT")
            .map_err(|e| self.err("committing", e))?;
        self.in_tx = false;
        Ok(())
    }

    fn rollback(&mut self) -> Result<()> {
        self.dropped_indexes.clear();
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

/// Key of the advisory lock that keeps migplan runs apart ("migplan" in
/// ASCII): advisory locks are per database, so one key serves every one.
const RUN_LOCK_KEY: i64 = 0x006d_6967_706c_616e;

/// A bookkeeping value bound as the parameter's type.
fn meta_param(v: &Value, ty: &postgres::types::Type) -> Box<dyn postgres::types::ToSql + Sync> {
    use postgres::types::Type;
    let int = match v {
        Value::Int(i) => Some(*i),
        _ => None,
    };
    let text = match v {
        Value::Null => None,
        Value::Text(t) => Some(t.clone()),
        other => Some(other.display()),
    };
    match *ty {
        Type::INT8 => Box::new(int),
        Type::INT4 => Box::new(int.map(|i| i as i32)),
        _ => Box::new(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_round_trip() {
        let mut buf = Vec::new();
        push_text(&mut buf, b"a\tb\nc\rd\\e");
        assert_eq!(buf, b"a\\tb\\nc\\rd\\\\e");
        assert_eq!(&*unescape(&buf).unwrap(), b"a\tb\nc\rd\\e");
        assert!(unescape(b"\\N").is_none());
        assert_eq!(
            &*unescape(b"\\101\\x42\\b\\v\\f").unwrap(),
            b"AB\x08\x0b\x0c"
        );
    }

    #[test]
    fn floats_are_spelled_for_postgres() {
        let spell = |f: f64| {
            let mut b = Vec::new();
            push_float(&mut b, f);
            String::from_utf8(b).unwrap()
        };
        assert_eq!(spell(f64::NAN), "NaN");
        assert_eq!(spell(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(spell(-0.0), "-0.0");
        assert_eq!(spell(0.1), "0.1");
        assert_eq!(spell(1e308), "1e308");
    }

    #[test]
    fn bytes_are_hex_with_an_escaped_backslash() {
        let mut b = Vec::new();
        push_cell(&mut b, &Cell::Bytes(&[0, 255]));
        assert_eq!(b, b"\\\\x00ff");
        let v = parse_value(Kind::Bytes, &unescape(&b).unwrap()).unwrap();
        assert_eq!(v, Value::Bytes(vec![0, 255]));
    }

    #[test]
    fn timestamptz_gets_a_full_offset() {
        assert_eq!(
            parse_value(Kind::TimestampTz, b"2025-01-01 00:00:00.5+00").unwrap(),
            Value::Text("2025-01-01 00:00:00.5+00:00".into())
        );
        assert_eq!(
            parse_value(Kind::TimestampTz, b"infinity").unwrap(),
            Value::Text("infinity".into())
        );
    }

    #[test]
    fn numeric_modifiers() {
        // numeric(12,2): ((12 << 16) | 2) + 4
        assert_eq!(numeric_modifier((12 << 16 | 2) + 4), (Some(12), Some(2)));
        assert_eq!(numeric_modifier(-1), (None, None));
    }

    #[test]
    fn copy_error_lines() {
        assert_eq!(copy_line("COPY t, line 3, column c: \"x\""), Some(3));
        assert_eq!(copy_line("COPY t, line 12: \"x\""), Some(12));
        assert_eq!(copy_line("SQL statement"), None);
    }
}

//! SQLite, the embedded zero-setup default (rusqlite, bundled).
//!
//! SQLite is dynamically typed: a value keeps its own storage class whatever
//! the column declares. Reading returns each value as stored, and writing
//! binds it back the same way, so a round trip is exact. The declared type
//! only decides the portable [`ColumnType`] recorded in backups.

use std::path::Path;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql, params_from_iter};

use super::{
    BOOKKEEPING_TABLES, Backend, DbUrl, Engine, OpenOptions, ReadRequest, TableOutcome,
    WriteRequest, fkcheck,
};
use crate::catalog::{Catalog, ColumnInfo, ForeignKey, Sequence, TableInfo, Trigger};
use crate::error::{CONFLICTS_LISTED, Error, Result};
use crate::policy::Conflict;
use crate::value::is_decimal;
use crate::value::{ColumnType, Value};

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
}

impl Sqlite {
    pub fn open(url: &DbUrl, opts: &OpenOptions) -> Result<Self> {
        let conn = match url.sqlite_path() {
            None => Connection::open_in_memory(),
            Some(path) if !opts.create && !path.exists() => {
                return Err(Error::Mismatch(format!(
                    "database file `{}` does not exist\n  = help: check the URL, or run a plan that creates it",
                    path.display()
                )));
            }
            Some(path) => open_file(&path, opts),
        }
        .map_err(|e| Error::db(format!("cannot open {url}"), e))?;
        // Foreign keys are off by default in SQLite; imports must enforce them.
        conn.execute_batch("PRAGMA foreign_keys = ON;")
            .and_then(|_| {
                conn.busy_timeout(opts.busy_wait.unwrap_or(std::time::Duration::from_secs(10)))
            })
            .map_err(|e| Error::db(format!("cannot configure {url}"), e))?;
        Ok(Sqlite {
            conn,
            lock_path: url.sqlite_path().map(|p| {
                let mut name = p.file_name().unwrap_or_default().to_os_string();
                name.push(".migplan-lock");
                p.with_file_name(name)
            }),
            lock: None,
            writer: None,
            written: vec![],
            dropped_triggers: vec![],
        })
    }

    fn table_info(&self, name: &str) -> rusqlite::Result<TableInfo> {
        Ok(TableInfo {
            name: name.to_string(),
            columns: self.columns(name)?,
            primary_key: self.primary_key(name)?,
            unique_keys: self.unique_keys(name)?,
            foreign_keys: self.foreign_keys(name)?,
        })
    }

    fn columns(&self, table: &str) -> rusqlite::Result<Vec<ColumnInfo>> {
        let mut stmt = self.conn.prepare(
            "SELECT name, type, \"notnull\", dflt_value IS NOT NULL, pk FROM pragma_table_info(?1) ORDER BY cid",
        )?;
        let rows = stmt.query_map([table], |r| {
            let sql_type: String = r.get(1)?;
            let (notnull, pk): (bool, i64) = (r.get(2)?, r.get(4)?);
            Ok(ColumnInfo {
                name: r.get(0)?,
                ty: column_type(&sql_type),
                sql_type,
                nullable: !notnull && pk == 0,
                has_default: r.get(3)?,
            })
        })?;
        rows.collect()
    }

    fn primary_key(&self, table: &str) -> rusqlite::Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk")?;
        let rows = stmt.query_map([table], |r| r.get(0))?;
        rows.collect()
    }

    fn unique_keys(&self, table: &str) -> rusqlite::Result<Vec<Vec<String>>> {
        let mut stmt = self.conn.prepare(
            // Partial indexes are no conflict targets, and expression
            // indexes have no column names: neither is a key of the table.
            "SELECT il.name FROM pragma_index_list(?1) AS il WHERE il.\"unique\" AND il.origin != 'pk' AND NOT il.partial \
             AND NOT EXISTS (SELECT 1 FROM pragma_index_info(il.name) AS ii WHERE ii.name IS NULL) ORDER BY il.seq",
        )?;
        let indexes: Vec<String> = stmt
            .query_map([table], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut cols = self
            .conn
            .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")?;
        indexes
            .iter()
            .map(|idx| cols.query_map([idx], |r| r.get(0))?.collect())
            .collect()
    }

    fn foreign_keys(&self, table: &str) -> rusqlite::Result<Vec<ForeignKey>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?1) ORDER BY id, seq",
        )?;
        let mut fks: Vec<(i64, ForeignKey)> = Vec::new();
        let mut rows = stmt.query([table])?;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            if fks.last().is_none_or(|(last, _)| *last != id) {
                let fk = ForeignKey {
                    columns: vec![],
                    ref_table: r.get(1)?,
                    ref_columns: vec![],
                };
                fks.push((id, fk));
            }
            let fk = &mut fks.last_mut().expect("pushed above").1;
            fk.columns.push(r.get(2)?);
            // `to` is NULL when the reference names the parent's primary key implicitly.
            if let Some(to) = r.get::<_, Option<String>>(3)? {
                fk.ref_columns.push(to);
            }
        }
        drop(rows);
        let mut out = Vec::new();
        for (_, mut fk) in fks {
            if fk.ref_columns.is_empty() {
                fk.ref_columns = self.primary_key(&fk.ref_table)?;
            }
            out.push(fk);
        }
        Ok(out)
    }
}

fn open_file(path: &Path, opts: &OpenOptions) -> rusqlite::Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if opts.create {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    Connection::open_with_flags(path, flags)
}

/// Maps a declared SQLite type to a portable type, following SQLite's own
/// affinity rules where they apply and the common type names where they don't.
pub fn column_type(declared: &str) -> ColumnType {
    let t = declared.to_ascii_uppercase();
    let base = t.split('(').next().unwrap_or("").trim();
    match base {
        "" => ColumnType::Any,
        "DATE" => ColumnType::Date,
        "TIME" => ColumnType::Time,
        "DATETIME" | "TIMESTAMP" => ColumnType::Timestamp,
        "TIMESTAMPTZ" | "TIMESTAMP WITH TIME ZONE" => ColumnType::TimestampTz,
        "JSON" | "JSONB" => ColumnType::Json,
        "UUID" => ColumnType::Uuid,
        _ if base.contains("BOOL") => ColumnType::Bool,
        _ if base.contains("INT") => ColumnType::Int,
        _ if ["CHAR", "CLOB", "TEXT"].iter().any(|k| base.contains(k)) => ColumnType::Text,
        _ if base.contains("BLOB") => ColumnType::Blob,
        _ if ["REAL", "FLOA", "DOUB"].iter().any(|k| base.contains(k)) => ColumnType::Float,
        _ if base.contains("DEC") || base.contains("NUMERIC") => ColumnType::Decimal,
        _ => ColumnType::Any,
    }
}

use super::quote_ansi as quote;

fn quote_list(idents: &[String]) -> String {
    super::quote_list(quote, idents)
}

/// `"a" = ?N AND "b" = ?M …`, numbering placeholders from `first`.
fn key_match(key: &[String], first: usize) -> String {
    key.iter()
        .enumerate()
        .map(|(i, c)| format!("{} = ?{}", quote(c), first + i))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// A row the table refuses for one of its values (NOT NULL, CHECK, a
/// STRICT table's type) as a value error naming the column, so the importer
/// names the row too; any other failure stays as it is.
fn value_refused(
    e: rusqlite::Error,
    columns: &[String],
) -> std::result::Result<Error, rusqlite::Error> {
    use rusqlite::ffi;
    let rusqlite::Error::SqliteFailure(f, Some(message)) = &e else {
        return Err(e);
    };
    let column = match f.extended_code {
        ffi::SQLITE_CONSTRAINT_NOTNULL | ffi::SQLITE_CONSTRAINT_DATATYPE => {
            // "… failed: items.name", "… column items.qty"
            message.rsplit('.').next().map(str::to_string)
        }
        ffi::SQLITE_CONSTRAINT_CHECK => {
            // "CHECK constraint failed: price > 0": the first column the
            // expression names.
            let words: Vec<&str> = message
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .collect();
            Some(
                columns
                    .iter()
                    .find(|c| words.contains(&c.as_str()))
                    .cloned()
                    .unwrap_or_else(|| "(a CHECK constraint)".into()),
            )
        }
        _ => None,
    };
    match column {
        Some(column) => Ok(Error::value(column, message.clone())),
        None => Err(e),
    }
}

/// The SQL for writing one table, built once per table.
struct WriterSql {
    table: String,
    columns: Vec<String>,
    /// Columns with INTEGER, REAL or NUMERIC affinity, where SQLite turns
    /// numeric-looking text into a number (and not accepted as lossy).
    numeric: Vec<bool>,
    /// Columns with REAL affinity, where SQLite turns integers into
    /// doubles (and not accepted as lossy).
    real: Vec<bool>,
    conflict: Conflict,
    /// Positions of the key columns in a row.
    key_pos: Vec<usize>,
    insert: String,
    /// `UPDATE … SET non-key columns WHERE key` and the row differs, for
    /// `overwrite`: an identical row is left alone.
    update: Option<String>,
    /// `SELECT 1 … WHERE key` and the row differs, for `skip`: tells a kept
    /// row that would have changed from an identical one.
    differs: Option<String>,
    /// Positions of non-key then key columns in a row, matching `update`'s
    /// placeholders.
    update_order: Vec<usize>,
}

impl WriterSql {
    fn new(req: &WriteRequest<'_>) -> Self {
        let table = quote(req.table);
        let placeholders = (1..=req.columns.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut insert = format!(
            "INSERT INTO {table} ({}) VALUES ({placeholders})",
            quote_list(req.columns)
        );
        if !req.key.is_empty() {
            insert.push_str(&format!(
                " ON CONFLICT ({}) DO NOTHING",
                quote_list(req.key)
            ));
        }
        let (non_key, key): (Vec<usize>, Vec<usize>) =
            (0..req.columns.len()).partition(|&i| !req.key.contains(&req.columns[i]));
        // Placeholders: non-key values first (?1…), then the key's.
        let assign = |op: &str, sep: &str| {
            non_key
                .iter()
                .enumerate()
                .map(|(n, &i)| format!("{} {op} ?{}", quote(&req.columns[i]), n + 1))
                .collect::<Vec<_>>()
                .join(sep)
        };
        let matches = key_match(req.key, non_key.len() + 1);
        // Byte for byte: a NOCASE column's collation would call `alice` and
        // `Alice` the same, and the change would be left out.
        let differs_from = format!(
            "NOT ({})",
            assign("IS", " COLLATE BINARY AND ") + " COLLATE BINARY"
        );
        let update = (!non_key.is_empty()).then(|| {
            format!(
                "UPDATE {table} SET {} WHERE {matches} AND {differs_from}",
                assign("=", ", ")
            )
        });
        let differs = (!non_key.is_empty())
            .then(|| format!("SELECT 1 FROM {table} WHERE {matches} AND {differs_from}"));
        let key_pos = req
            .key
            .iter()
            .filter_map(|k| req.columns.iter().position(|c| c == k))
            .collect();
        WriterSql {
            table: req.table.to_string(),
            columns: req.columns.to_vec(),
            numeric: vec![false; req.columns.len()],
            real: vec![false; req.columns.len()],
            conflict: req.conflict,
            key_pos,
            insert,
            update,
            differs,
            update_order: non_key.into_iter().chain(key).collect(),
        }
    }
}

impl Backend for Sqlite {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    fn catalog(&mut self) -> Result<Catalog> {
        let read = || -> rusqlite::Result<Catalog> {
            let mut stmt = self.conn.prepare(
                // pragma_table_list tells real tables from virtual tables
                // (FTS, R*Tree) and their shadow tables, which hold derived data.
                "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
            )?;
            let names: Vec<String> = stmt
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let tables = names
                .iter()
                .filter(|n| !BOOKKEEPING_TABLES.contains(&n.as_str()))
                .map(|n| self.table_info(n))
                .collect::<rusqlite::Result<_>>()?;
            Ok(Catalog { tables })
        };
        read().map_err(|e| Error::db("reading the database's tables", e))
    }

    fn sequences(&mut self) -> Result<Vec<Sequence>> {
        // `sqlite_sequence` exists once an AUTOINCREMENT table was created;
        // other tables take max(rowid)+1 and need no counter.
        let read = || -> rusqlite::Result<Vec<(String, i64)>> {
            let exists: bool = self.conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'sqlite_sequence')",
                [],
                |r| r.get(0),
            )?;
            if !exists {
                return Ok(vec![]);
            }
            let mut stmt = self.conn.prepare(
                "SELECT m.name, coalesce((SELECT max(s.seq) FROM sqlite_sequence s WHERE s.name = m.name), 0) \
                 FROM sqlite_schema m WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
                   AND upper(m.sql) LIKE '%AUTOINCREMENT%' ORDER BY m.name",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        };
        let tables = read().map_err(|e| Error::db("reading `sqlite_sequence`", e))?;
        let mut out = Vec::new();
        for (table, seq) in tables {
            if BOOKKEEPING_TABLES.contains(&table.as_str()) {
                continue;
            }
            // AUTOINCREMENT is only allowed on an INTEGER PRIMARY KEY.
            let key = self
                .primary_key(&table)
                .map_err(|e| Error::db(format!("reading the primary key of `{table}`"), e))?;
            if let [column] = key.as_slice() {
                out.push(Sequence {
                    name: None,
                    table: Some(table),
                    column: Some(column.clone()),
                    next: seq.saturating_add(1),
                });
            }
        }
        Ok(out)
    }

    fn max_value(&mut self, table: &str, column: &str) -> Result<Option<i64>> {
        let (qc, qt) = (quote(column), quote(table));
        let ctx = |e| Error::db(format!("reading the largest `{table}`.`{column}`"), e);
        // Read off the index; SQLite lets an INTEGER column hold text, which
        // sorts above every number, so only then are integers sought alone.
        let max = self
            .conn
            .query_row(&format!("SELECT max({qc}) FROM {qt}"), [], |r| {
                Ok(match r.get_ref(0)? {
                    ValueRef::Integer(i) => Ok(Some(i)),
                    ValueRef::Null => Ok(None),
                    _ => Err(()),
                })
            })
            .map_err(ctx)?;
        match max {
            Ok(m) => Ok(m),
            Err(()) => self
                .conn
                .query_row(
                    &format!("SELECT max({qc}) FROM {qt} WHERE typeof({qc}) = 'integer'"),
                    [],
                    |r| r.get(0),
                )
                .map_err(ctx),
        }
    }

    fn set_sequence(&mut self, seq: &Sequence, next: i64) -> Result<()> {
        let Some(table) = &seq.table else {
            return Ok(());
        };
        let set = || -> rusqlite::Result<()> {
            let last = next - 1;
            let n = self.conn.execute(
                "UPDATE sqlite_sequence SET seq = ?1 WHERE name = ?2",
                rusqlite::params![last, table],
            )?;
            if n == 0 {
                self.conn.execute(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES (?2, ?1)",
                    rusqlite::params![last, table],
                )?;
            }
            Ok(())
        };
        set().map_err(|e| Error::db(format!("setting the AUTOINCREMENT counter of `{table}`"), e))
    }

    fn count_rows(&mut self, table: &str) -> Result<u64> {
        let sql = format!("SELECT count(*) FROM {}", quote(table));
        self.conn
            .query_row(&sql, [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| Error::db(format!("counting rows of `{table}`"), e))
    }

    fn has_table(&mut self, table: &str) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| Error::db("reading the database's tables", e))
    }

    fn meta_exec(&mut self, sql: &str, params: &[Value]) -> Result<()> {
        let params: Vec<rusqlite::types::Value> = params.iter().map(meta_param).collect();
        self.conn
            .execute(sql, rusqlite::params_from_iter(params))
            .map(drop)
            .map_err(|e| Error::db("writing the run history", e))
    }

    fn meta_query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>> {
        let params: Vec<rusqlite::types::Value> = params.iter().map(meta_param).collect();
        let ctx = |e| Error::db("reading the run history", e);
        let mut stmt = self.conn.prepare(sql).map_err(ctx)?;
        let width = stmt.column_count();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params), |r| {
                (0..width)
                    .map(|i| {
                        Ok(match r.get::<_, rusqlite::types::Value>(i)? {
                            rusqlite::types::Value::Integer(n) => Value::Int(n),
                            rusqlite::types::Value::Text(t) => Value::Text(t),
                            _ => Value::Null,
                        })
                    })
                    .collect()
            })
            .map_err(ctx)?;
        rows.collect::<rusqlite::Result<_>>().map_err(ctx)
    }

    // SQLite has no session locks: an OS lock on a file beside the
    // database, released by the kernel when the process dies.
    fn try_lock(&mut self) -> Result<bool> {
        let Some(path) = &self.lock_path else {
            return Ok(true);
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        match file.try_lock() {
            Ok(()) => {
                self.lock = Some(file);
                Ok(true)
            }
            Err(std::fs::TryLockError::WouldBlock) => Ok(false),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io(path, e)),
        }
    }

    fn unlock(&mut self) -> Result<()> {
        if let Some(file) = &self.lock {
            // The description goes with the lock; a dead holder's stays,
            // but is read only while someone holds the lock again.
            let _ = file.set_len(0);
        }
        self.lock = None;
        Ok(())
    }

    // In the lock file, not the database: a large write shuts every reader
    // out of a SQLite file until it commits, and the holder must stay
    // readable meanwhile.
    fn describe_lock(&mut self, holder: &str) -> Result<()> {
        use std::io::{Seek, Write};
        let (Some(file), Some(path)) = (&mut self.lock, &self.lock_path) else {
            return Ok(());
        };
        file.set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| file.write_all(holder.as_bytes()))
            .and_then(|_| file.flush())
            .map_err(|e| Error::io(path, e))
    }

    fn lock_description(&mut self) -> Option<String> {
        let text = std::fs::read_to_string(self.lock_path.as_ref()?).ok()?;
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_string())
    }

    fn triggers(&mut self) -> Result<Vec<Trigger>> {
        self.conn
            .prepare("SELECT tbl_name, name, sql FROM sqlite_schema WHERE type = 'trigger' ORDER BY tbl_name, name")
            .and_then(|mut st| {
                st.query_map([], |r| {
                    Ok(Trigger {
                        table: r.get(0)?,
                        name: r.get(1)?,
                        when: trigger_when(&r.get::<_, String>(2)?),
                    })
                })?
                .collect()
            })
            .map_err(|e| Error::db("reading the database's triggers", e))
    }

    fn identity_sql(&self) -> &'static str {
        "SELECT file, file FROM pragma_database_list WHERE name = 'main'"
    }

    fn size_bytes(&mut self) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(|e| Error::db("reading the database's size", e))
    }

    fn execute_sql(&mut self, context: &str, sql: &str) -> Result<()> {
        self.conn
            .execute_batch(sql)
            .map_err(|e| Error::db(context, e))
    }

    fn query_text(&mut self, context: &str, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        let read = || -> rusqlite::Result<Vec<Vec<Option<String>>>> {
            let mut stmt = self.conn.prepare(sql)?;
            let n = stmt.column_count();
            let mut rows = stmt.query([])?;
            let mut out = vec![];
            while let Some(r) = rows.next()? {
                let mut row = Vec::with_capacity(n);
                for i in 0..n {
                    row.push(match r.get_ref(i)? {
                        ValueRef::Null => None,
                        ValueRef::Integer(v) => Some(v.to_string()),
                        ValueRef::Real(v) => Some(v.to_string()),
                        ValueRef::Text(t) | ValueRef::Blob(t) => {
                            Some(String::from_utf8_lossy(t).into_owned())
                        }
                    });
                }
                out.push(row);
            }
            Ok(out)
        };
        read().map_err(|e| Error::db(context, e))
    }

    fn transactional_ddl(&self) -> bool {
        true
    }

    fn begin_read(&mut self) -> Result<()> {
        // A deferred transaction takes its snapshot at the first read; read
        // once now so every table is read from the same instant.
        self.conn
            .execute_batch("BEGIN DEFERRED; SELECT count(*) FROM sqlite_schema;")
            .map_err(|e| Error::db("starting the export snapshot", e))
    }

    fn read(
        &mut self,
        req: &ReadRequest<'_>,
        sink: &mut dyn FnMut(&[Value]) -> Result<()>,
    ) -> Result<()> {
        let ctx = || format!("reading `{}`", req.table);
        let (sql, params) = select_sql(req);
        let types = self.column_types(req.table, req.columns)?;
        let mut stmt = self.conn.prepare(&sql).map_err(|e| Error::db(ctx(), e))?;
        let mut rows = stmt
            .query(params_from_iter(params.iter()))
            .map_err(|e| Error::db(ctx(), e))?;
        let mut row_buf = Vec::with_capacity(req.columns.len());
        while let Some(row) = rows.next().map_err(|e| Error::db(ctx(), e))? {
            row_buf.clear();
            for (i, ty) in types.iter().enumerate() {
                let v = row.get_ref(i).map_err(|e| Error::db(ctx(), e))?;
                row_buf.push(from_sql(v, *ty).map_err(|m| {
                    Error::Mismatch(format!(
                        "table `{}` column `{}`: {m}",
                        req.table, req.columns[i]
                    ))
                })?);
            }
            sink(&row_buf)?;
        }
        Ok(())
    }

    fn begin_write(&mut self, tables: &[String]) -> Result<()> {
        // Per-row foreign-key checks are off while rows load (the pragma is
        // ignored inside a transaction, so it comes first); `finish_write`
        // checks every key in bulk before commit. IMMEDIATE takes the write
        // lock now, so a concurrent writer fails before any row moves.
        self.written = tables.to_vec();
        self.conn
            .execute_batch("PRAGMA foreign_keys = OFF; BEGIN IMMEDIATE;")
            .map_err(|e| Error::db("starting the import transaction", e))
    }

    fn clear_table(&mut self, table: &str) -> Result<()> {
        self.conn
            .execute(&format!("DELETE FROM {}", quote(table)), [])
            .map(drop)
            .map_err(|e| Error::db(format!("emptying `{table}`"), e))
    }

    fn begin_table(&mut self, req: &WriteRequest<'_>) -> Result<()> {
        let declared = self
            .columns(req.table)
            .map_err(|e| Error::db(format!("reading columns of `{}`", req.table), e))?;
        let mut sql = WriterSql::new(req);
        // A column whose conversion the plan accepts takes values as SQLite
        // converts them.
        let affinity = |test: fn(&str) -> bool| -> Vec<bool> {
            req.columns
                .iter()
                .map(|c| {
                    !req.lossy.contains(c)
                        && declared
                            .iter()
                            .find(|d| &d.name == c)
                            .is_some_and(|d| test(&d.sql_type))
                })
                .collect()
        };
        sql.numeric = affinity(numeric_affinity);
        sql.real = affinity(real_affinity);
        self.writer = Some((sql, TableOutcome::default()));
        Ok(())
    }

    fn write_row(&mut self, row: &[Value]) -> Result<()> {
        // Borrow the fields apart: no per-row copy of the SQL.
        let (Some((sql, outcome)), conn) = (self.writer.as_mut(), &self.conn) else {
            panic!("write_row before begin_table");
        };
        let ctx = |e| write_error(&sql.table, e);
        check_affinity(row, sql)?;
        let bound = bind_row(row, &sql.columns)?;
        let mut stmt = conn.prepare_cached(&sql.insert).map_err(ctx)?;
        let inserted = stmt
            .execute(params_from_iter(bound.iter()))
            .map_err(|e| value_refused(e, &sql.columns).unwrap_or_else(ctx))?;
        if inserted == 1 {
            outcome.inserted += 1;
            return Ok(());
        }
        let in_update_order = || sql.update_order.iter().map(|&i| &bound[i]);
        match (sql.conflict, &sql.update) {
            (Conflict::Skip, _) => {
                let changed = match &sql.differs {
                    Some(differs) => conn
                        .prepare_cached(differs)
                        .and_then(|mut st| st.exists(params_from_iter(in_update_order())))
                        .map_err(ctx)?,
                    None => false,
                };
                match changed {
                    true => outcome.skipped += 1,
                    false => outcome.identical += 1,
                }
            }
            (Conflict::Error, _) => {
                outcome.conflicts += 1;
                if outcome.conflict_keys.len() < CONFLICTS_LISTED {
                    let key = sql.key_pos.iter().map(|&i| row[i].clone()).collect();
                    outcome.conflict_keys.push(key);
                }
            }
            // Only key columns: the existing row is the row written.
            (Conflict::Overwrite, None) => outcome.identical += 1,
            (Conflict::Overwrite, Some(update)) => {
                let mut stmt = conn.prepare_cached(update).map_err(ctx)?;
                match stmt
                    .execute(params_from_iter(in_update_order()))
                    .map_err(ctx)?
                {
                    0 => outcome.identical += 1,
                    _ => outcome.overwritten += 1,
                }
            }
        }
        Ok(())
    }

    fn end_table(&mut self) -> Result<TableOutcome> {
        Ok(self.writer.take().map(|(_, o)| o).unwrap_or_default())
    }

    fn disable_triggers(&mut self, triggers: &[Trigger]) -> Result<()> {
        // SQLite cannot switch a trigger off; dropping it inside the write
        // transaction and creating it again before the commit is the same
        // (a rollback brings it back too).
        // In creation order, so that they are created again in it: SQLite
        // fires the triggers of one event newest first.
        let ctx = |e| Error::db("switching triggers off", e);
        let all: Vec<(String, String)> = self
            .conn
            .prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' ORDER BY rowid")
            .and_then(|mut st| {
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(ctx)?;
        for (name, sql) in all {
            if !triggers.iter().any(|t| t.name == name) {
                continue;
            }
            self.conn
                .execute_batch(&format!("DROP TRIGGER {}", quote(&name)))
                .map_err(ctx)?;
            self.dropped_triggers.push(sql);
        }
        Ok(())
    }

    fn finish_write(&mut self) -> Result<()> {
        for sql in std::mem::take(&mut self.dropped_triggers) {
            self.conn
                .execute_batch(&sql)
                .map_err(|e| Error::db("switching triggers on again", e))?;
        }
        let catalog = self.catalog()?;
        let tables: Vec<&TableInfo> = self
            .written
            .iter()
            .filter_map(|t| catalog.table(t))
            .collect();
        let conn = &self.conn;
        fkcheck::check(quote, &tables, |sql| {
            let ctx = |e| Error::db("checking foreign keys", e);
            let mut stmt = conn.prepare(sql).map_err(ctx)?;
            let n = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    (0..n)
                        .map(|i| {
                            let v = from_sql(r.get_ref(i)?, ColumnType::Any).unwrap_or(Value::Null);
                            Ok(v.display())
                        })
                        .collect::<rusqlite::Result<Vec<String>>>()
                })
                .map_err(ctx)?;
            rows.collect::<rusqlite::Result<_>>().map_err(ctx)
        })
    }

    fn commit(&mut self) -> Result<()> {
        self.conn
            .execute_batch("COMMIT; PRAGMA foreign_keys = ON;")
            .map_err(|e| Error::db("committing", e))
    }

    fn rollback(&mut self) -> Result<()> {
        self.dropped_triggers.clear();
        let sql = if self.conn.is_autocommit() {
            "PRAGMA foreign_keys = ON;"
        } else {
            "ROLLBACK; PRAGMA foreign_keys = ON;"
        };
        self.conn
            .execute_batch(sql)
            .map_err(|e| Error::db("rolling back", e))
    }
}

impl Sqlite {
    fn column_types(&self, table: &str, columns: &[String]) -> Result<Vec<ColumnType>> {
        let all = self
            .columns(table)
            .map_err(|e| Error::db(format!("reading columns of `{table}`"), e))?;
        columns
            .iter()
            .map(|c| {
                all.iter()
                    .find(|ci| &ci.name == c)
                    .map(|ci| ci.ty)
                    .ok_or_else(|| Error::Mismatch(format!("table `{table}` has no column `{c}`")))
            })
            .collect()
    }
}

/// The SELECT of a read request and its parameters.
fn select_sql(req: &ReadRequest<'_>) -> (String, Vec<rusqlite::types::Value>) {
    let mut sql = format!(
        "SELECT {} FROM {}",
        quote_list(req.columns),
        quote(req.table)
    );
    let mut params = Vec::new();
    if let Some((col, since)) = &req.changed_since {
        // Timestamps may be stored as ISO text (any offset), or as unix
        // seconds or milliseconds; compare each kind as an instant.
        let c = quote(col);
        sql.push_str(&format!(
            " WHERE CASE typeof({c}) \
               WHEN 'text' THEN julianday({c}) > julianday(?1) \
               WHEN 'integer' THEN (CASE WHEN {c} > 100000000000 THEN {c} / 1000.0 ELSE {c} END) > ?2 \
               WHEN 'real' THEN {c} > ?2 \
               ELSE 0 END"
        ));
        params.push(since.to_rfc3339().into());
        params.push((since.timestamp() as f64).into());
    }
    let order = if req.order_by.is_empty() {
        "rowid".to_string()
    } else {
        quote_list(req.order_by)
    };
    sql.push_str(&format!(" ORDER BY {order}"));
    (sql, params)
}

/// A stored value as migplan's value. Integers in boolean columns that are
/// 0 or 1 become booleans (SQLite stores booleans as integers); text in a
/// decimal column becomes a decimal. Both bind back to the same storage.
fn from_sql(v: ValueRef<'_>, ty: ColumnType) -> std::result::Result<Value, String> {
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i @ (0 | 1)) if ty == ColumnType::Bool => Value::Bool(i == 1),
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Float(f),
        ValueRef::Text(t) => {
            let s = std::str::from_utf8(t)
                .map_err(|_| "holds text that is not valid UTF-8".to_string())?
                .to_string();
            if ty == ColumnType::Decimal && is_decimal(&s) {
                Value::Decimal(s)
            } else {
                Value::Text(s)
            }
        }
        ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
    })
}

/// SQLite's affinity rules (datatype3.html §3.1): columns that are neither
/// TEXT nor BLOB (nor untyped) convert numeric-looking text to numbers.
fn numeric_affinity(declared: &str) -> bool {
    let t = declared.to_ascii_uppercase();
    if t.contains("INT") {
        return true;
    }
    let text = ["CHAR", "CLOB", "TEXT"].iter().any(|k| t.contains(k));
    !(text || t.contains("BLOB") || t.trim().is_empty())
}

/// Why this SQLite column cannot hold every value of a source column
/// exactly, or `None` when it can. A column of NUMERIC (or INTEGER)
/// affinity turns decimal text into an INTEGER or a REAL: the scale goes
/// (`2.50` is stored as 2.5, `0.00` as the integer 0) and a REAL keeps 15
/// significant digits. Only decimals without a fraction and of at most 18
/// digits are stored exactly (as INTEGER). A SQLite source's values are
/// already stored that way, and a REAL column takes decimals as floats
/// (docs/types.md, decimal → float), so neither is flagged here.
pub fn inexact(source_engine: &str, from: &ColumnInfo, to: &ColumnInfo) -> Option<String> {
    if source_engine == Engine::Sqlite.name()
        || from.ty != ColumnType::Decimal
        || to.ty == ColumnType::Float
        || !numeric_affinity(&to.sql_type)
    {
        return None;
    }
    let stored = "SQLite stores decimals in a column of NUMERIC affinity as INTEGER or REAL";
    match precision_scale(&from.sql_type) {
        (Some(p), Some(0) | None) if p <= 18 => None,
        (Some(_), Some(0) | None) => Some(format!(
            "{stored}: integers of more than 18 digits become REAL, keeping 15 significant digits"
        )),
        (Some(_), Some(_)) => Some(format!(
            "{stored}: the scale is lost (`2.50` arrives as 2.5, `0.00` as the integer 0) and a fraction keeps 15 significant digits"
        )),
        (None, _) => Some(format!(
            "{stored}: a decimal of undeclared precision loses its scale (`2.50` arrives as 2.5, `0.00` as the integer 0) and keeps 15 significant digits"
        )),
    }
}

/// `(p, s)` of a declared `DECIMAL(p,s)`, `NUMERIC(p)` … (engine spelling
/// of the source column); `None` where not declared.
fn precision_scale(declared: &str) -> (Option<u32>, Option<u32>) {
    let Some(args) = declared
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(args, _)| args)
    else {
        return (None, None);
    };
    let mut nums = args.split(',').map(|n| n.trim().parse::<u32>().ok());
    let p = nums.next().flatten();
    (p, p.and(nums.next().flatten()))
}

/// REAL affinity (datatype3.html §3.1): neither INTEGER, TEXT nor BLOB,
/// and REAL, FLOA or DOUB in the declared type.
fn real_affinity(declared: &str) -> bool {
    let t = declared.to_ascii_uppercase();
    numeric_affinity(&t)
        && !t.contains("INT")
        && ["REAL", "FLOA", "DOUB"].iter().any(|k| t.contains(k))
}

/// The largest integer every double holds exactly.
const EXACT_IN_DOUBLE: u64 = 1 << 53;

/// Decimal text bound to a numeric-affinity column is stored as a number
/// keeping only 15 significant digits, and an integer bound to a REAL
/// column as a double (exact up to 2^53): more would be lost, so it is an
/// error.
fn check_affinity(row: &[Value], sql: &WriterSql) -> Result<()> {
    for (i, (v, column)) in row.iter().zip(&sql.columns).enumerate() {
        let (numeric, real) = (sql.numeric[i], sql.real[i]);
        let integer = match v {
            Value::Int(n) => Some(n.unsigned_abs()),
            Value::UInt(n) => Some(*n),
            Value::Text(s) | Value::Decimal(s) if real => {
                s.parse::<i64>().ok().map(i64::unsigned_abs)
            }
            _ => None,
        };
        if real && integer.is_some_and(|n| n > EXACT_IN_DOUBLE) {
            return Err(Error::value(
                column,
                format!(
                    "{} is beyond 2^53: SQLite would store it in this REAL column as a rounded double; declare the column INTEGER to keep it exactly",
                    v.display()
                ),
            ));
        }
        let (Value::Text(s) | Value::Decimal(s)) = v else {
            continue;
        };
        let numeric = &numeric;
        if *numeric && is_decimal(s) && s.parse::<i64>().is_err() && significant_digits(s) > 15 {
            return Err(Error::value(
                column,
                format!(
                    "{s} has more significant digits than SQLite keeps in a numeric column (15); declare the column TEXT to keep it exactly"
                ),
            ));
        }
        // Text that looks like a number becomes one: `007` is stored as 7,
        // `2.50` as 2.5, ` 12` as 12. Text the number prints back as is kept.
        if let Value::Text(s) = v
            && *numeric
            && let Some(stored) = stored_number(s, real)
            && stored != *s
        {
            return Err(Error::value(
                column,
                format!(
                    "the text {s:?} would be stored as the number {stored} (SQLite converts numeric-looking text in a column of numeric affinity); declare the column TEXT to keep it, or accept the conversion with `[tables.NAME] accept_lossy`"
                ),
            ));
        }
    }
    Ok(())
}

/// What SQLite stores for text bound to a column of numeric affinity, as
/// text, when it stores a number: a well-formed integer or real literal
/// (spaces around it allowed) becomes an INTEGER, or a REAL (in a REAL
/// column, or with a fraction); anything else stays text (`None`).
fn stored_number(s: &str, real: bool) -> Option<String> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let (mantissa, exponent) = match body.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['+', '-']).unwrap_or(e))),
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    let literal = !(int.is_empty() && frac.is_empty())
        && digits(int)
        && digits(frac)
        && exponent.is_none_or(|e| !e.is_empty() && digits(e));
    if !literal {
        return None;
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    let f: f64 = t.parse().ok()?;
    match t.parse::<i64>() {
        Ok(n) if !real => Some(n.to_string()),
        _ if !real && f.fract() == 0.0 && f.abs() < 9.2e18 => Some((f as i64).to_string()),
        _ => Some(f.to_string()),
    }
}

fn significant_digits(s: &str) -> usize {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    let frac_zeros = match s.split_once('.') {
        Some((_, f)) => f.len() - f.trim_end_matches('0').len(),
        None => 0,
    };
    let trimmed = &digits[..digits.len() - frac_zeros];
    trimmed.trim_start_matches('0').len()
}

/// A write failing on a unique key of another table than `loading` (a
/// trigger's row: "UNIQUE constraint failed: film_text.film_id") names
/// that table; any other failure is the loaded table's.
fn write_error(loading: &str, e: rusqlite::Error) -> Error {
    let message = e.to_string();
    let other = message
        .strip_prefix("UNIQUE constraint failed: ")
        .and_then(|cols| {
            let cols: Vec<(&str, &str)> = cols
                .split(", ")
                .filter_map(|c| c.rsplit_once('.'))
                .collect();
            let table = cols.first()?.0;
            (table != loading).then(|| {
                let names: Vec<&str> = cols.iter().map(|(_, c)| *c).collect();
                (table, names.join(", "))
            })
        });
    match other {
        Some((table, key)) => Error::trigger_duplicate(table, &key, loading, &message),
        None => Error::db("writing", e),
    }
}

/// A value as a SQLite binding; values SQLite cannot store exactly are errors.
fn bind(v: &Value) -> std::result::Result<ToSqlOutput<'_>, String> {
    use rusqlite::types::Value as Sv;
    Ok(match v {
        Value::Null => ToSqlOutput::Owned(Sv::Null),
        Value::Bool(b) => ToSqlOutput::Owned(Sv::Integer(*b as i64)),
        Value::Int(i) => ToSqlOutput::Owned(Sv::Integer(*i)),
        Value::UInt(u) => match i64::try_from(*u) {
            Ok(i) => ToSqlOutput::Owned(Sv::Integer(i)),
            Err(_) => return Err(format!("{u} does not fit SQLite's 64-bit signed INTEGER")),
        },
        // SQLite silently stores NaN as NULL: refuse rather than lose it.
        Value::Float(f) if f.is_nan() => {
            return Err("SQLite cannot store NaN (it would become NULL)".into());
        }
        Value::Float(f) => ToSqlOutput::Owned(Sv::Real(*f)),
        Value::Decimal(d) => ToSqlOutput::Borrowed(ValueRef::Text(d.as_bytes())),
        Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        Value::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
    })
}

struct Bound<'a>(ToSqlOutput<'a>);

impl ToSql for Bound<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match &self.0 {
            ToSqlOutput::Borrowed(v) => ToSqlOutput::Borrowed(*v),
            ToSqlOutput::Owned(v) => ToSqlOutput::Borrowed(v.into()),
            other => return other.to_sql(),
        })
    }
}

/// Binds a row whose values are in `columns` order; a value SQLite cannot
/// store names its column.
fn bind_row<'a>(row: &'a [Value], columns: &[String]) -> Result<Vec<Bound<'a>>> {
    row.iter()
        .zip(columns)
        .map(|(v, c)| bind(v).map(Bound).map_err(|m| Error::value(c, m)))
        .collect()
}

/// A bookkeeping parameter as SQLite's value.
fn meta_param(v: &Value) -> rusqlite::types::Value {
    match v {
        Value::Int(i) => rusqlite::types::Value::Integer(*i),
        Value::Text(t) => rusqlite::types::Value::Text(t.clone()),
        Value::Null => rusqlite::types::Value::Null,
        other => rusqlite::types::Value::Text(other.display()),
    }
}

/// `BEFORE INSERT` from a SQLite `CREATE TRIGGER` statement: the last event
/// word before `ON` (a quoted name may be an event word too) and the timing
/// word before it (BEFORE when there is none).
fn trigger_when(sql: &str) -> String {
    // Quoted names are blanked first: a trigger called "on insert" says
    // nothing about when it fires.
    let mut plain = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match (quote, c) {
            (None, '"' | '`' | '\'') => quote = Some(c),
            (None, '[') => quote = Some(']'),
            (Some(q), c) if c == q => {
                quote = None;
                plain.push_str(" x ");
            }
            (Some(_), _) => {}
            (None, c) => plain.push(c),
        }
    }
    let upper = plain.to_uppercase();
    let words: Vec<&str> = upper
        .split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '"' | '`' | '[' | ']'))
        .filter(|w| !w.is_empty())
        .collect();
    let on = words.iter().position(|w| *w == "ON").unwrap_or(words.len());
    let Some(e) = words[..on]
        .iter()
        .rposition(|w| matches!(*w, "INSERT" | "UPDATE" | "DELETE"))
    else {
        return String::new();
    };
    let timing = match words[..e]
        .iter()
        .rev()
        .find(|w| matches!(**w, "BEFORE" | "AFTER" | "INSTEAD"))
    {
        Some(&"AFTER") => "AFTER",
        Some(&"INSTEAD") => "INSTEAD OF",
        _ => "BEFORE",
    };
    format!("{timing} {}", words[e])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_map_to_portable_types() {
        assert_eq!(column_type("INTEGER"), ColumnType::Int);
        assert_eq!(column_type("BOOLEAN"), ColumnType::Bool);
        assert_eq!(column_type("varchar(64)"), ColumnType::Text);
        assert_eq!(column_type("DECIMAL(12,2)"), ColumnType::Decimal);
        assert_eq!(column_type("DATETIME"), ColumnType::Timestamp);
        assert_eq!(column_type("DOUBLE PRECISION"), ColumnType::Float);
        assert_eq!(column_type(""), ColumnType::Any);
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn numeric_affinity_follows_sqlite_rules() {
        assert!(numeric_affinity("DECIMAL(20,2)"));
        assert!(numeric_affinity("BOOLEAN"));
        assert!(!numeric_affinity("VARCHAR(10)"));
        assert!(!numeric_affinity(""));
        assert!(real_affinity("DOUBLE PRECISION") && real_affinity("float"));
        assert!(!real_affinity("DECIMAL(10,2)") && !real_affinity("FLOATING POINT INT"));
        assert_eq!(significant_digits("-0012345.6700"), 7);
        assert_eq!(significant_digits("123456789012345678.91"), 20);
    }

    #[test]
    fn decimals_with_a_scale_are_inexact_in_a_numeric_column_only() {
        let col = |ty, sql: &str| ColumnInfo {
            name: "c".into(),
            ty,
            sql_type: sql.into(),
            nullable: true,
            has_default: false,
        };
        let money = col(ColumnType::Decimal, "numeric(10,2)");
        assert!(
            inexact(
                "postgres",
                &money,
                &col(ColumnType::Decimal, "DECIMAL(10,2)")
            )
            .is_some()
        );
        assert!(inexact("mysql", &money, &col(ColumnType::Int, "INTEGER")).is_some());
        assert!(
            inexact(
                "postgres",
                &col(ColumnType::Decimal, "numeric"),
                &col(ColumnType::Any, "MONEY")
            )
            .is_some()
        );
        assert!(inexact("postgres", &money, &col(ColumnType::Text, "TEXT")).is_none());
        assert!(inexact("postgres", &money, &col(ColumnType::Float, "REAL")).is_none());
        assert!(inexact("sqlite", &money, &col(ColumnType::Decimal, "NUMERIC")).is_none());
        assert!(
            inexact(
                "mysql",
                &col(ColumnType::Decimal, "decimal(18,0)"),
                &col(ColumnType::Decimal, "NUMERIC")
            )
            .is_none()
        );
        assert!(
            inexact(
                "mysql",
                &col(ColumnType::Decimal, "decimal(20,0) unsigned"),
                &col(ColumnType::Decimal, "NUMERIC")
            )
            .is_some()
        );
        assert_eq!(
            precision_scale("decimal(10,2) unsigned"),
            (Some(10), Some(2))
        );
        assert_eq!(precision_scale("NUMERIC(7)"), (Some(7), None));
        assert_eq!(precision_scale("numeric"), (None, None));
    }

    #[test]
    fn numeric_looking_text_is_stored_as_sqlite_would() {
        for (text, real, stored) in [
            ("12", false, Some("12")),
            ("007", false, Some("7")),
            (" 12", false, Some("12")),
            ("+5", false, Some("5")),
            ("2.50", false, Some("2.5")),
            ("5.", false, Some("5")),
            ("-1.0", false, Some("-1")),
            ("1e3", false, Some("1000")),
            (".5", false, Some("0.5")),
            ("12", true, Some("12")),
            ("0.1", true, Some("0.1")),
            ("2024-01-01", false, None),
            ("0x10", false, None),
            ("1_000", false, None),
            ("inf", false, None),
            ("e5", false, None),
            ("1e", false, None),
            ("", false, None),
        ] {
            assert_eq!(stored_number(text, real).as_deref(), stored, "{text:?}");
        }
    }

    #[test]
    fn nan_is_refused_not_turned_into_null() {
        assert!(bind(&Value::Float(f64::NAN)).is_err());
    }

    #[test]
    fn sqlite_trigger_timing_and_event_are_read_from_its_statement() {
        for (sql, when) in [
            (
                "CREATE TRIGGER t AFTER INSERT ON film BEGIN SELECT 1; END",
                "AFTER INSERT",
            ),
            (
                "create trigger x update of a, b on t begin select 1; end",
                "BEFORE UPDATE",
            ),
            (
                "CREATE TEMP TRIGGER IF NOT EXISTS \"insert\" INSTEAD OF DELETE ON v BEGIN END",
                "INSTEAD OF DELETE",
            ),
            (
                "CREATE TRIGGER [delete]\nBEFORE\tUPDATE ON t BEGIN END",
                "BEFORE UPDATE",
            ),
            (
                "CREATE TRIGGER \"x on y\" AFTER INSERT ON t BEGIN END",
                "AFTER INSERT",
            ),
            (
                "CREATE TRIGGER `after delete` INSERT ON \"t\" BEGIN END",
                "BEFORE INSERT",
            ),
        ] {
            assert_eq!(trigger_when(sql), when, "{sql}");
        }
    }
}

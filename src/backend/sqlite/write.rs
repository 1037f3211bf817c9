//! An import's write transaction on SQLite: foreign keys off while rows
//! load and checked in bulk before the commit, one prepared INSERT per
//! table with the conflict policy applied row by row (`ON CONFLICT DO
//! NOTHING`, then skip, overwrite or count the conflict), values checked
//! against the column's affinity before they are bound, and the triggers
//! dropped for the load (`bookkeeping.rs`) created again before the commit.

use rusqlite::params_from_iter;

use super::values::{
    bind_row, from_sql, numeric_affinity, real_affinity, significant_digits, stored_number,
};
use super::{Sqlite, quote, quote_list};
use crate::backend::{Backend, TableOutcome, WriteRequest, fkcheck};
use crate::catalog::TableInfo;
use crate::error::{CONFLICTS_LISTED, Error, Result};
use crate::policy::Conflict;
use crate::value::is_decimal;
use crate::value::{ColumnType, Value};

impl Sqlite {
    pub(super) fn start_import(&mut self, tables: &[String]) -> Result<()> {
        // Per-row foreign-key checks are off while rows load (the pragma is
        // ignored inside a transaction, so it comes first); `finish_write`
        // checks every key in bulk before commit. IMMEDIATE takes the write
        // lock now, so a concurrent writer fails before any row moves.
        self.written = tables.to_vec();
        self.conn
            .execute_batch("PRAGMA foreign_keys = OFF; BEGIN IMMEDIATE;")
            .map_err(|e| Error::db("starting the import transaction", e))
    }

    pub(super) fn empty_table(&mut self, table: &str) -> Result<()> {
        self.conn
            .execute(&format!("DELETE FROM {}", quote(table)), [])
            .map(drop)
            .map_err(|e| Error::db(format!("emptying `{table}`"), e))
    }

    pub(super) fn start_table(&mut self, req: &WriteRequest<'_>) -> Result<()> {
        let sql = self.writer_sql(req)?;
        self.drop_plain_indexes_if_empty(req.table)?;
        self.writer = Some((sql, TableOutcome::default()));
        Ok(())
    }

    /// The plain indexes of an empty table, dropped inside the import's
    /// transaction and built again by `check_and_restore`: a table loaded
    /// with its indexes in place pays a B-tree insert per row and index,
    /// and once the indexes outgrow SQLite's page cache, a page read for
    /// most of them. Unique indexes stay: they refuse a duplicate at its
    /// row, naming it.
    fn drop_plain_indexes_if_empty(&mut self, table: &str) -> Result<()> {
        let ctx = |e| Error::db(format!("preparing to write `{table}`"), e);
        let empty: bool = self
            .conn
            .query_row(
                &format!("SELECT NOT EXISTS (SELECT 1 FROM {})", quote(table)),
                [],
                |r| r.get(0),
            )
            .map_err(ctx)?;
        if !empty {
            return Ok(());
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1 \
                 AND sql IS NOT NULL AND upper(sql) NOT LIKE 'CREATE UNIQUE%'",
            )
            .map_err(ctx)?;
        let indexes = stmt
            .query_map([table], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(ctx)?;
        drop(stmt);
        for (name, sql) in indexes {
            self.conn
                .execute_batch(&format!("DROP INDEX {}", quote(&name)))
                .map_err(ctx)?;
            self.dropped_indexes.push(sql);
        }
        Ok(())
    }

    /// The statements and the affinity checks for writing one table.
    pub(super) fn writer_sql(&mut self, req: &WriteRequest<'_>) -> Result<WriterSql> {
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
        Ok(sql)
    }

    pub(super) fn insert_row(&mut self, row: &[Value]) -> Result<()> {
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

    pub(super) fn check_and_restore(&mut self) -> Result<()> {
        for sql in std::mem::take(&mut self.dropped_indexes) {
            self.conn
                .execute_batch(&sql)
                .map_err(|e| Error::db(format!("building the index again ({sql})"), e))?;
        }
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

    pub(super) fn end_transaction(&mut self) -> Result<()> {
        self.dropped_triggers.clear();
        self.dropped_indexes.clear();
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

/// The SQL for writing one table, built once per table.
pub(super) struct WriterSql {
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

/// The largest integer every double holds exactly.
const EXACT_IN_DOUBLE: u64 = 1 << 53;

/// Decimal text bound to a numeric-affinity column is stored as a number
/// keeping only 15 significant digits, and an integer bound to a REAL
/// column as a double (exact up to 2^53): more would be lost, so it is an
/// error.
pub(super) fn check_affinity(row: &[Value], sql: &WriterSql) -> Result<()> {
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

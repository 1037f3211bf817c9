//! Verification: a backup compared with a live database, table by table —
//! rows missing from the database, extra rows in it, rows whose values
//! changed (named by key, with the differing columns).
//!
//! Memory stays flat for any size. The backup is read once (its counts and
//! checksums verified as always) and every row is parked in a temporary
//! on-disk SQLite database as (table, key, row hash, values), indexed on
//! (table, key, hash). Then each table is streamed from the database and
//! every row looked up there and marked seen; rows never seen are missing.
//!
//! Values compare as the checksums compare them ([`Value::canonical_bytes`]
//! and [`crate::value::row_hash`]): exactly, floats by their bits, `1` and
//! `"1"` different. A table with a primary key is matched row by row on it;
//! a table without one is compared as a multiset of rows.
//!
//! [`verify`] neither starts nor ends a transaction: the command opens a read
//! snapshot around it, and an import calls it inside its own transaction,
//! before the commit.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::backend::{Backend, ReadRequest};
use crate::catalog::{Catalog, TableInfo};
use crate::error::{Error, LoadError, Result};
use crate::format::xlsx::Layout;
use crate::format::{self, BackupMeta, BackupVisitor, ExpectedTable, ReadOptions, TableMeta};
use crate::spool::{decode_row, encode_row};
use crate::value::{Value, key_bytes, row_hash};

/// What to compare and how much to list.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Compare only these tables of the backup; `None` compares every one.
    pub tables: Option<Vec<String>>,
    /// How many keys to list per kind of difference and table.
    pub limit: usize,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            tables: None,
            limit: 10,
        }
    }
}

/// The outcome of one comparison.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// The backup compared.
    pub file: String,
    /// `true` when no table differs.
    pub identical: bool,
    pub tables: Vec<TableDiff>,
    /// Remarks that are not differences (tables of the database the backup
    /// does not hold …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One table of the backup, compared.
#[derive(Debug, Clone, Serialize)]
pub struct TableDiff {
    pub table: String,
    /// The key rows were matched on; empty when the table has none and rows
    /// were compared as a multiset.
    pub key: Vec<String>,
    /// The database has no such table: a difference.
    pub missing_table: bool,
    pub backup_rows: u64,
    /// Rows read from the database (0 when the table is missing).
    pub db_rows: u64,
    /// Rows of the backup the database does not have.
    pub missing: u64,
    /// Rows of the database the backup does not have.
    pub extra: u64,
    /// Rows present on both sides (same key) with different values.
    pub changed: u64,
    /// Columns of the backup the database table lacks: a difference (the
    /// remaining columns are still compared).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_columns: Vec<String>,
    /// The first `limit` missing rows, by key (or by value without a key).
    pub missing_keys: Vec<String>,
    pub extra_keys: Vec<String>,
    pub changed_rows: Vec<ChangedRow>,
    /// Remarks that are not differences (extra database columns, no key).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl TableDiff {
    pub fn differs(&self) -> bool {
        self.missing_table
            || !self.missing_columns.is_empty()
            || self.missing + self.extra + self.changed > 0
    }
}

/// A row whose key is on both sides but whose values differ.
#[derive(Debug, Clone, Serialize)]
pub struct ChangedRow {
    pub key: String,
    pub columns: Vec<ColumnChange>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ColumnChange {
    pub column: String,
    pub backup: String,
    pub database: String,
}

impl VerifyReport {
    /// Whether any table differs (the command exits 1).
    pub fn differs(&self) -> bool {
        !self.identical
    }

    /// Tables that differ.
    pub fn differing(&self) -> impl Iterator<Item = &TableDiff> {
        self.tables.iter().filter(|t| t.differs())
    }

    /// One line, for messages (an import that failed its verification).
    pub fn summary(&self) -> String {
        let rows: u64 = self.tables.iter().map(|t| t.backup_rows).sum();
        let n = self.tables.len();
        if self.identical {
            return format!(
                "identical: the database matches the backup ({n} table{}, {rows} row{})",
                plural(n as u64),
                plural(rows)
            );
        }
        let names: Vec<&str> = self.differing().map(|t| t.table.as_str()).collect();
        format!(
            "the database differs from the backup in {} of {n} table{}: {}",
            names.len(),
            plural(n as u64),
            names.join(", ")
        )
    }

    pub fn render_text(&self) -> String {
        let mut out = format!("verify {}\n", self.file);
        for t in &self.tables {
            if !t.differs() {
                out.push_str(&format!(
                    "  {}: identical ({} row{})\n",
                    t.table,
                    t.backup_rows,
                    plural(t.backup_rows)
                ));
            } else {
                out.push_str(&format!("  {}\n", t.headline()));
                t.render_details(&mut out);
            }
            for note in &t.notes {
                out.push_str(&format!("    note: {note}\n"));
            }
        }
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        out.push_str(&self.summary());
        out.push('\n');
        out
    }
}

impl TableDiff {
    /// `users: differs — 3 rows in the backup, 3 in the database: 1 missing, …`
    fn headline(&self) -> String {
        if self.missing_table {
            return format!(
                "{}: missing from the database ({} row{} in the backup)",
                self.table,
                self.backup_rows,
                plural(self.backup_rows)
            );
        }
        let mut kinds = Vec::new();
        if !self.missing_columns.is_empty() {
            kinds.push(format!(
                "column{} {} missing",
                plural(self.missing_columns.len() as u64),
                quoted(&self.missing_columns)
            ));
        }
        for (n, what) in [
            (self.missing, "missing"),
            (self.extra, "extra"),
            (self.changed, "changed"),
        ] {
            if n > 0 {
                kinds.push(format!("{n} {what}"));
            }
        }
        format!(
            "{}: differs — {} row{} in the backup, {} in the database: {}",
            self.table,
            self.backup_rows,
            plural(self.backup_rows),
            self.db_rows,
            kinds.join(", ")
        )
    }

    fn render_details(&self, out: &mut String) {
        let more = |out: &mut String, total: u64, listed: usize| {
            if total > listed as u64 {
                out.push_str(&format!("    … and {} more\n", total - listed as u64));
            }
        };
        for k in &self.missing_keys {
            out.push_str(&format!("    missing  {k}\n"));
        }
        more(out, self.missing, self.missing_keys.len());
        for k in &self.extra_keys {
            out.push_str(&format!("    extra    {k}\n"));
        }
        more(out, self.extra, self.extra_keys.len());
        for r in &self.changed_rows {
            let cols: Vec<String> = r
                .columns
                .iter()
                .map(|c| format!("{}: {} → {}", c.column, c.backup, c.database))
                .collect();
            out.push_str(&format!("    changed  {}: {}\n", r.key, cols.join(", ")));
        }
        more(out, self.changed, self.changed_rows.len());
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Compares `backup` (JSON, compressed JSON or a workbook) with the tables
/// of `db`. Runs inside whatever transaction or snapshot the caller holds;
/// opens and ends none. `sheet_names` (table → sheet) matters to workbooks
/// only: use [`verify`] without a plan.
pub fn verify(db: &mut dyn Backend, backup: &Path, opts: &VerifyOptions) -> Result<VerifyReport> {
    verify_with_layout(db, backup, opts, &Layout::default())
}

/// [`verify`], with a plan's sheet names and labels for workbooks.
pub fn verify_with_layout(
    db: &mut dyn Backend,
    backup: &Path,
    opts: &VerifyOptions,
    layout: &Layout,
) -> Result<VerifyReport> {
    let catalog = db.catalog()?;
    let mut index = Index::new(&catalog, opts)?;
    let mut expected = || Ok(catalog.tables.iter().map(ExpectedTable::from).collect());
    let read = ReadOptions {
        expected: &mut expected,
        layout,
    };
    format::open(backup, read)?.read(&mut index)?;
    index.finish_loading()?;
    if let Some(wanted) = &opts.tables {
        for w in wanted {
            if !index.tables.iter().any(|t| &t.diff.table == w) {
                return Err(LoadError::TableNotInBackup {
                    table: w.clone(),
                    backup: backup.into(),
                }
                .into());
            }
        }
    }
    let mut tables = Vec::new();
    for table in std::mem::take(&mut index.tables) {
        tables.push(index.compare(db, table, opts.limit)?);
    }
    let mut notes = Vec::new();
    if opts.tables.is_none() {
        let absent: Vec<String> = catalog
            .names()
            .filter(|n| !tables.iter().any(|t| t.table == *n))
            .map(String::from)
            .collect();
        if !absent.is_empty() {
            notes.push(format!(
                "database table{} {} not in the backup, not compared",
                plural(absent.len() as u64),
                quoted(&absent)
            ));
        }
    }
    Ok(VerifyReport {
        file: backup.display().to_string(),
        identical: !tables.iter().any(TableDiff::differs),
        tables,
        notes,
    })
}

/// One table of the backup as it is being compared.
struct Pending {
    /// Its number in the index.
    id: i64,
    diff: TableDiff,
    /// Positions, in the backup's rows, of the columns compared (those the
    /// database has too), in backup order.
    compared: Vec<usize>,
    /// Their names (what the database is asked for).
    columns: Vec<String>,
    /// Positions of the key columns within `compared`; empty: no key.
    key: Vec<usize>,
    /// The database table's primary key (the order rows are read in).
    order_by: Vec<String>,
}

/// The backup's rows on disk, and the tables still to compare.
struct Index<'c> {
    conn: Connection,
    catalog: &'c Catalog,
    only: Option<&'c [String]>,
    tables: Vec<Pending>,
    /// The table being read from the backup, unless it is skipped.
    current: Option<usize>,
}

fn sql(e: rusqlite::Error) -> Error {
    Error::db("verify: the temporary index of the backup's rows", e)
}

impl<'c> Index<'c> {
    fn new(catalog: &'c Catalog, opts: &'c VerifyOptions) -> Result<Self> {
        // An empty name: a private temporary database on disk, deleted when
        // closed. Pages beyond the cache go to disk, so memory stays flat.
        let conn = Connection::open("").map_err(sql)?;
        conn.execute_batch(
            "PRAGMA journal_mode = OFF;
             PRAGMA synchronous = OFF;
             PRAGMA cache_size = -16384;
             CREATE TABLE rows (
                 t INTEGER NOT NULL,
                 k BLOB NOT NULL,
                 h BLOB NOT NULL,
                 v BLOB NOT NULL
             );
             -- Rows of the backup the database has shown (by rowid): kept
             -- apart so that marking one writes a small table, not the rows.
             CREATE TABLE seen (id INTEGER PRIMARY KEY);
             BEGIN;",
        )
        .map_err(sql)?;
        Ok(Index {
            conn,
            catalog,
            only: opts.tables.as_deref(),
            tables: Vec::new(),
            current: None,
        })
    }

    /// Commits the rows and builds the (table, key) index.
    fn finish_loading(&mut self) -> Result<()> {
        self.conn
            // Covering the lookup (rowid and hash): the values are read
            // only for a changed row.
            .execute_batch("COMMIT; CREATE INDEX rows_tkh ON rows (t, k, h); BEGIN;")
            .map_err(sql)
    }

    fn pending(&self, table: &TableMeta, info: Option<&TableInfo>) -> Pending {
        let mut diff = TableDiff {
            table: table.name.clone(),
            key: vec![],
            missing_table: info.is_none(),
            backup_rows: 0,
            db_rows: 0,
            missing: 0,
            extra: 0,
            changed: 0,
            missing_columns: vec![],
            missing_keys: vec![],
            extra_keys: vec![],
            changed_rows: vec![],
            notes: vec![],
        };
        let id = self.tables.len() as i64;
        let Some(info) = info else {
            return Pending {
                id,
                diff,
                compared: vec![],
                columns: vec![],
                key: vec![],
                order_by: vec![],
            };
        };
        let mut compared = Vec::new();
        let mut columns = Vec::new();
        for (i, c) in table.columns.iter().enumerate() {
            if info.column(&c.name).is_some() {
                compared.push(i);
                columns.push(c.name.clone());
            } else {
                diff.missing_columns.push(c.name.clone());
            }
        }
        let extra: Vec<String> = info
            .columns
            .iter()
            .filter(|c| !table.columns.iter().any(|b| b.name == c.name))
            .map(|c| c.name.clone())
            .collect();
        if !extra.is_empty() {
            diff.notes.push(format!(
                "the database has column{} {} the backup does not hold (not compared)",
                plural(extra.len() as u64),
                quoted(&extra)
            ));
        }
        // The backup's key, else the database's, when all its columns are
        // compared; without one, rows are compared as a multiset.
        let position = |name: &String| columns.iter().position(|c| c == name);
        let key = [&table.primary_key, &info.primary_key]
            .into_iter()
            .filter(|k| !k.is_empty())
            .find_map(|k| k.iter().map(position).collect::<Option<Vec<usize>>>())
            .unwrap_or_default();
        if key.is_empty() {
            diff.notes.push(
                "no primary key: rows are compared as a multiset (changed rows show as missing and extra)"
                    .into(),
            );
        }
        diff.key = key.iter().map(|&i| columns[i].clone()).collect();
        Pending {
            id,
            diff,
            compared,
            columns,
            key,
            order_by: info.primary_key.clone(),
        }
    }

    /// Compares one table of the database with the backup's rows.
    fn compare(&self, db: &mut dyn Backend, mut t: Pending, limit: usize) -> Result<TableDiff> {
        if t.diff.missing_table {
            return Ok(t.diff);
        }
        let mut find = self
            .conn
            .prepare_cached(
                "SELECT rowid, h FROM rows WHERE t = ?1 AND k = ?2
                   AND rowid NOT IN (SELECT id FROM seen) LIMIT 1",
            )
            .map_err(sql)?;
        let mut mark = self
            .conn
            .prepare_cached("INSERT INTO seen (id) VALUES (?1)")
            .map_err(sql)?;
        let name = t.diff.table.clone();
        let req = ReadRequest {
            table: &name,
            columns: &t.columns,
            order_by: &t.order_by,
            changed_since: None,
        };
        let (diff, key, columns, id) = (&mut t.diff, &t.key, &t.columns, t.id);
        db.read(&req, &mut |row| {
            diff.db_rows += 1;
            let hash = row_hash(row);
            let k = lookup_key(row, key, &hash);
            let found = find
                .query_row(params![id, k], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
                })
                .optional()
                .map_err(sql)?;
            let Some((rowid, h)) = found else {
                diff.extra += 1;
                if diff.extra_keys.len() < limit {
                    diff.extra_keys.push(render_key(row, key, columns));
                }
                return Ok(());
            };
            mark.execute(params![rowid]).map_err(sql)?;
            if h != hash {
                diff.changed += 1;
                if diff.changed_rows.len() < limit {
                    let v: Vec<u8> = self
                        .conn
                        .query_row("SELECT v FROM rows WHERE rowid = ?1", [rowid], |r| r.get(0))
                        .map_err(sql)?;
                    let backup = decode(&v)?;
                    diff.changed_rows.push(ChangedRow {
                        key: render_key(row, key, columns),
                        columns: changed_columns(&backup, row, columns),
                    });
                }
            }
            Ok(())
        })?;
        t.diff.missing = self
            .conn
            .query_row(
                "SELECT count(*) FROM rows WHERE t = ?1 AND rowid NOT IN (SELECT id FROM seen)",
                params![t.id],
                |r| r.get::<_, i64>(0),
            )
            .map_err(sql)? as u64;
        let mut missing = self
            .conn
            .prepare(
                "SELECT v FROM rows WHERE t = ?1 AND rowid NOT IN (SELECT id FROM seen)
                 ORDER BY rowid LIMIT ?2",
            )
            .map_err(sql)?;
        let rows = missing
            .query_map(params![t.id, limit as i64], |r| r.get::<_, Vec<u8>>(0))
            .map_err(sql)?;
        for v in rows {
            let row = decode(&v.map_err(sql)?)?;
            t.diff
                .missing_keys
                .push(render_key(&row, &t.key, &t.columns));
        }
        Ok(t.diff)
    }
}

/// What a row is looked up by: its key's canonical bytes, or (no key) the
/// row's own hash.
fn lookup_key(row: &[Value], key: &[usize], hash: &[u8; 32]) -> Vec<u8> {
    if key.is_empty() {
        hash.to_vec()
    } else {
        key_bytes(&key.iter().map(|&i| &row[i]).collect::<Vec<_>>())
    }
}

fn decode(v: &[u8]) -> Result<Vec<Value>> {
    decode_row(v).map_err(|e| Error::db("verify: the temporary index of the backup's rows", e))
}

/// `id=3`, `(a=1, b="x")`; a keyless row shows its values.
pub(super) fn render_key(row: &[Value], key: &[usize], columns: &[String]) -> String {
    let parts: Vec<String> = if key.is_empty() {
        (0..row.len())
            .map(|i| format!("{}={}", columns[i], row[i].display()))
            .collect()
    } else {
        key.iter()
            .map(|&i| format!("{}={}", columns[i], row[i].display()))
            .collect()
    };
    if parts.len() == 1 {
        parts.into_iter().next().expect("one part")
    } else {
        format!("({})", parts.join(", "))
    }
}

pub(super) fn changed_columns(
    backup: &[Value],
    db: &[Value],
    columns: &[String],
) -> Vec<ColumnChange> {
    backup
        .iter()
        .zip(db)
        .zip(columns)
        .filter(|((b, d), _)| !b.same_as(d))
        .map(|((b, d), c)| ColumnChange {
            column: c.clone(),
            backup: show(b, d),
            database: show(d, b),
        })
        .collect()
}

/// A value for a difference; when two values print alike (`1` and `"1"`,
/// `0` and `-0`), its kind too.
fn show(v: &Value, other: &Value) -> String {
    let text = v.display();
    if text != other.display() {
        return text;
    }
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::UInt(_) => "uint",
        Value::Float(f) => return format!("{text} (float bits {:016x})", f.to_bits()),
        Value::Decimal(_) => "decimal",
        Value::Text(_) => "text",
        Value::Bytes(b) => return format!("<{} bytes, sha256 {}>", b.len(), short_hash(b)),
    };
    format!("{text} ({kind})")
}

fn short_hash(b: &[u8]) -> String {
    hex::encode(&openssl::sha::sha256(b)[..6])
}

impl BackupVisitor for Index<'_> {
    fn meta(&mut self, _: &BackupMeta) -> Result<()> {
        Ok(())
    }

    fn begin_table(&mut self, table: &TableMeta) -> Result<()> {
        if self.only.is_some_and(|o| !o.contains(&table.name)) {
            self.current = None;
            return Ok(());
        }
        let pending = self.pending(table, self.catalog.table(&table.name));
        self.current = Some(self.tables.len());
        self.tables.push(pending);
        Ok(())
    }

    fn row(&mut self, row: &[Value]) -> Result<()> {
        let Some(i) = self.current else {
            return Ok(());
        };
        let t = &mut self.tables[i];
        t.diff.backup_rows += 1;
        if t.diff.missing_table {
            return Ok(());
        }
        let projected: Vec<Value> = t.compared.iter().map(|&c| row[c].clone()).collect();
        let hash = row_hash(&projected);
        let k = lookup_key(&projected, &t.key, &hash);
        let mut insert = self
            .conn
            .prepare_cached("INSERT INTO rows (t, k, h, v) VALUES (?1, ?2, ?3, ?4)")
            .map_err(sql)?;
        insert
            .execute(params![t.id, k, &hash[..], encode_row(&projected)])
            .map_err(sql)?;
        Ok(())
    }

    fn end_table(&mut self, _: &TableMeta) -> Result<()> {
        self.current = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_that_print_alike_show_their_kind() {
        let (a, b) = (Value::Float(f64::NAN), Value::Float(-f64::NAN));
        assert_eq!(show(&a, &b), "NaN (float bits 7ff8000000000000)");
        assert_eq!(show(&b, &a), "NaN (float bits fff8000000000000)");
        assert_eq!(show(&Value::Float(-0.0), &Value::Float(0.0)), "-0");
        let (i, t) = (Value::Int(1), Value::Decimal("1".into()));
        assert_eq!(show(&i, &t), "1 (int)");
        assert_eq!(show(&t, &i), "1 (decimal)");
        assert_eq!(show(&Value::Text("x".into()), &Value::Null), "\"x\"");
        let changes = changed_columns(
            &[Value::Int(1), Value::Float(0.5)],
            &[Value::Int(1), Value::Float(0.25)],
            &["id".into(), "score".into()],
        );
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].column, "score");
    }

    #[test]
    fn keys_render_by_column() {
        let row = [Value::Int(3), Value::Text("x".into())];
        let cols = ["a".to_string(), "b".to_string()];
        assert_eq!(render_key(&row, &[0], &cols), "a=3");
        assert_eq!(render_key(&row, &[0, 1], &cols), "(a=3, b=\"x\")");
        assert_eq!(render_key(&row, &[], &cols), "(a=3, b=\"x\")");
    }
}

//! The preview's store: a SQLite file holding every row's verdict, written
//! by the collector and paged by the caller (the console shows a million
//! rows a page at a time, never all at once).
//!
//! `preview_rows` holds one row per backup row (per key, in a chain), in
//! the order the rows were classed; `preview_tables` the tables in import
//! order with their counts; `preview_meta` marks the file as a finished
//! preview. Rows waiting for their table's end sit in a temporary table of
//! the collector's connection, never in the file.

use std::path::{Path, PathBuf};

use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params_from_iter};

use super::{ColumnChange, Implied, PreviewRow, RowClass, TablePreview};
use crate::error::{Error, PreviewError, Result};
use crate::plan::Conflict;

/// What `preview_meta` says of a finished store (2: with page anchors).
pub(super) const MARK: (&str, &str) = ("migplan-preview", "2");

/// Rows between two page anchors: a page at any offset starts at most
/// this many rows past one.
pub(super) const ANCHOR_EVERY: u64 = 50;

/// Stands for "every table" / "every class" in `preview_anchors`.
pub(super) const ANY_TABLE: &str = "";
pub(super) const ANY_CLASS: i64 = -1;

pub(super) const SCHEMA: &str = "
    CREATE TABLE preview_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE preview_tables (
        pos INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        module TEXT,
        policy TEXT NOT NULL,
        new INTEGER NOT NULL DEFAULT 0,
        identical INTEGER NOT NULL DEFAULT 0,
        changed INTEGER NOT NULL DEFAULT 0,
        conflict INTEGER NOT NULL DEFAULT 0,
        failing INTEGER NOT NULL DEFAULT 0,
        inserted INTEGER NOT NULL DEFAULT 0,
        overwritten INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        unchanged INTEGER NOT NULL DEFAULT 0,
        refused INTEGER NOT NULL DEFAULT 0
    );
    -- k: the key's canonical bytes (NULL without a key); had: the key was
    -- in the target before the preview; old: the target's row then, as
    -- the spool encodes rows; fate: what the import would do with the
    -- row's last version under its policy.
    CREATE TABLE preview_rows (
        id INTEGER PRIMARY KEY,
        tbl TEXT NOT NULL,
        ordinal INTEGER NOT NULL,
        k BLOB,
        key TEXT NOT NULL,
        class INTEGER NOT NULL,
        fate TEXT NOT NULL,
        had INTEGER NOT NULL,
        old BLOB,
        changes TEXT,
        error TEXT
    );
    CREATE INDEX preview_rows_key ON preview_rows (tbl, k);
";

/// Built once the rows are in: what pages filter on, and the rows counted
/// by class and whether their key was there, from which the counts under
/// any policy are read without touching a row.
pub(super) const PAGE_INDEXES: &str = "
    CREATE INDEX preview_rows_table ON preview_rows (tbl, id);
    CREATE INDEX preview_rows_table_class ON preview_rows (tbl, class, id);
    CREATE INDEX preview_rows_class ON preview_rows (class, id);
    CREATE TABLE preview_groups AS
        SELECT tbl, class, had, count(*) AS n FROM preview_rows GROUP BY tbl, class, had;
    -- id: the row the nth group of ANCHOR_EVERY rows under a filter (a
    -- table or every one, a class or every one) starts at, so that a page
    -- deep in a million rows costs what the first one does.
    CREATE TABLE preview_anchors (
        tbl TEXT NOT NULL,
        class INTEGER NOT NULL,
        n INTEGER NOT NULL,
        id INTEGER NOT NULL,
        PRIMARY KEY (tbl, class, n)
    ) WITHOUT ROWID;
";

/// A finished preview's rows, opened read-only.
pub struct PreviewStore {
    conn: Connection,
    path: PathBuf,
}

impl PreviewStore {
    /// Opens the store a preview wrote at `path`.
    pub fn open(path: &Path) -> Result<PreviewStore> {
        let not_a_store = |cause: Option<String>| PreviewError::NotAStore {
            path: path.to_path_buf(),
            cause,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| not_a_store(Some(e.to_string())))?;
        let mark: Option<String> = conn
            .query_row(
                "SELECT value FROM preview_meta WHERE key = ?1",
                [MARK.0],
                |r| r.get(0),
            )
            .ok();
        if mark.as_deref() != Some(MARK.1) {
            return Err(not_a_store(None).into());
        }
        Ok(PreviewStore {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tables, in import order, with their counts.
    pub fn tables(&self) -> Result<Vec<TablePreview>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT name, module, policy, new, identical, changed, conflict, failing, \
                 inserted, overwritten, skipped, unchanged, refused FROM preview_tables ORDER BY pos",
            )
            .map_err(|e| self.failed(e))?;
        let rows = stmt
            .query_map([], |r| {
                let n = |i| r.get::<_, i64>(i).map(|v| v as u64);
                Ok(TablePreview {
                    table: r.get(0)?,
                    module: r.get(1)?,
                    policy: Conflict::from_name(&r.get::<_, String>(2)?).unwrap_or(Conflict::Error),
                    new: n(3)?,
                    identical: n(4)?,
                    changed: n(5)?,
                    conflict: n(6)?,
                    failing: n(7)?,
                    implied: Implied {
                        inserted: n(8)?,
                        overwritten: n(9)?,
                        skipped: n(10)?,
                        unchanged: n(11)?,
                        refused: n(12)?,
                    },
                })
            })
            .map_err(|e| self.failed(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.failed(e))
    }

    /// Rows of `table` (every table: `None`) in `class` (every class:
    /// `None`), in the order they were classed: `limit` of them from
    /// `offset`. The page starts at its anchor (see `preview_anchors`):
    /// never more than [`ANCHOR_EVERY`] rows are stepped over, however deep.
    pub fn page(
        &self,
        table: Option<&str>,
        class: Option<RowClass>,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<PreviewRow>> {
        let Some(start) = self.anchor(table, class, offset / ANCHOR_EVERY)? else {
            return Ok(vec![]);
        };
        let (filter, mut params) = filter(table, class);
        let filter = match filter.is_empty() {
            true => "WHERE".to_string(),
            false => format!("{filter} AND"),
        };
        params.push(Sql::Integer(start));
        params.push(Sql::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
        params.push(Sql::Integer((offset % ANCHOR_EVERY) as i64));
        let n = params.len();
        let sql = format!(
            "SELECT tbl, class, ordinal, key, changes, error FROM preview_rows \
             {filter} id >= ?{} ORDER BY id LIMIT ?{} OFFSET ?{n}",
            n - 2,
            n - 1,
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.failed(e))?;
        let rows = stmt
            .query_map(params_from_iter(params.iter()), |r| {
                let changes: Option<String> = r.get(4)?;
                Ok(PreviewRow {
                    table: r.get(0)?,
                    class: RowClass::from_code(r.get(1)?).unwrap_or(RowClass::Failing),
                    ordinal: r.get::<_, i64>(2)? as u64,
                    key: r.get(3)?,
                    changes: changes
                        .and_then(|c| serde_json::from_str::<Vec<ColumnChange>>(&c).ok())
                        .unwrap_or_default(),
                    error: r.get(5)?,
                })
            })
            .map_err(|e| self.failed(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.failed(e))
    }

    /// The id the `n`th group of [`ANCHOR_EVERY`] rows under the filter
    /// starts at; `None` past the last row.
    fn anchor(&self, table: Option<&str>, class: Option<RowClass>, n: u64) -> Result<Option<i64>> {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        let class = class.map_or(ANY_CLASS, RowClass::code);
        self.conn
            .query_row(
                "SELECT id FROM preview_anchors WHERE tbl = ?1 AND class = ?2 AND n = ?3",
                rusqlite::params![table.unwrap_or(ANY_TABLE), class, n],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.failed(e))
    }

    /// How many rows [`PreviewStore::page`] pages through.
    pub fn count(&self, table: Option<&str>, class: Option<RowClass>) -> Result<u64> {
        // From the groups: a count costs a few rows, not the table's.
        let (filter, params) = filter(table, class);
        let sql = format!("SELECT COALESCE(SUM(n), 0) FROM preview_groups {filter}");
        self.conn
            .query_row(&sql, params_from_iter(params.iter()), |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(|e| self.failed(e))
    }

    /// What an import of `table` would do with its rows under `policy`
    /// (the preview's own policy, or another the person is weighing):
    /// counted from each row's class and whether its key was there, as
    /// `preview_groups` holds them (a few rows, however large the table).
    pub fn implied(&self, table: &str, policy: Conflict) -> Result<Implied> {
        let mut stmt = self
            .conn
            .prepare("SELECT class, had, n FROM preview_groups WHERE tbl = ?1")
            .map_err(|e| self.failed(e))?;
        let groups = stmt
            .query_map([table], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)? != 0,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(|e| self.failed(e))?;
        let mut implied = Implied::default();
        for g in groups {
            let (code, had, n) = g.map_err(|e| self.failed(e))?;
            if let Some(class) = RowClass::from_code(code) {
                implied.add(super::Fate::under(class, had, policy), n as u64);
            }
        }
        Ok(implied)
    }

    fn failed(&self, e: rusqlite::Error) -> Error {
        Error::db(
            format!("reading the preview's store {}", self.path.display()),
            e,
        )
    }
}

/// The WHERE clause of a page and its parameters: one statement per
/// combination, so each uses its index.
fn filter(table: Option<&str>, class: Option<RowClass>) -> (String, Vec<Sql>) {
    let mut conds = Vec::new();
    let mut params = Vec::new();
    if let Some(t) = table {
        params.push(Sql::Text(t.to_string()));
        conds.push(format!("tbl = ?{}", params.len()));
    }
    if let Some(c) = class {
        params.push(Sql::Integer(c.code()));
        conds.push(format!("class = ?{}", params.len()));
    }
    match conds.is_empty() {
        true => (String::new(), params),
        false => (format!("WHERE {}", conds.join(" AND ")), params),
    }
}

//! The collector: what the importer hands a preview instead of the bulk
//! write. A table's rows wait in a temporary table of the store's
//! connection until the table ends (`classify.rs` then settles them); the
//! store is written under a `.partial` name and renamed into place whole.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};

use super::store::{ANCHOR_EVERY, ANY_CLASS, ANY_TABLE, MARK, PAGE_INDEXES, PreviewStore, SCHEMA};
use super::{Fate, Implied, RowClass, TablePreview};
use crate::backend::{Backend, TableOutcome, WriteRequest};
use crate::catalog::ColumnInfo;
use crate::error::{Error, PreviewError, Result};
use crate::plan::{Conflict, Plan};
use crate::spool::encode_row;
use crate::value::Value;

/// Receives a preview's rows, table by table, and writes every verdict to
/// the store.
pub(in crate::data) struct Collector {
    pub(super) conn: Connection,
    /// Where the store goes once complete.
    path: PathBuf,
    /// Where it is written until then (removed if the preview fails).
    partial: PathBuf,
    current: Option<Table>,
    /// Rows seen per table so far (a chain's increments count on).
    ordinals: HashMap<String, u64>,
    finished: bool,
}

/// The table being previewed, as the importer writes it.
pub(super) struct Table {
    pub name: String,
    pub columns: Vec<String>,
    /// The target's column for each of `columns`.
    pub targets: Vec<ColumnInfo>,
    pub key: Vec<String>,
    /// Positions of the key's columns in a row; empty: no key.
    pub key_pos: Vec<usize>,
    pub conflict: Conflict,
    pub lossy: Vec<String>,
}

impl Table {
    pub fn request(&self) -> WriteRequest<'_> {
        WriteRequest {
            table: &self.name,
            columns: &self.columns,
            key: &self.key,
            conflict: self.conflict,
            lossy: &self.lossy,
        }
    }
}

pub(super) fn sql(e: rusqlite::Error) -> Error {
    Error::db("preview: writing the store", e)
}

impl Collector {
    /// A new store for `path`, written under `path.partial` until done.
    pub fn create(path: &Path) -> Result<Collector> {
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let unwritable = |cause: String| PreviewError::StoreUnwritable {
            path: path.to_path_buf(),
            cause,
        };
        match std::fs::remove_file(&partial) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(unwritable(e.to_string()).into());
            }
            _ => {}
        }
        // The store holds the target's rows as they were: private, as
        // backups are (created 0600 before SQLite opens it).
        {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&partial)
                .map_err(|e| unwritable(e.to_string()))?;
        }
        let conn = Connection::open(&partial).map_err(|e| unwritable(e.to_string()))?;
        // Pages beyond the caches go to disk (temporary tables included):
        // memory stays flat however many rows there are. The file is
        // renamed into place only once complete, so it needs no journal.
        let setup = format!(
            "PRAGMA journal_mode = OFF;
             PRAGMA synchronous = OFF;
             PRAGMA temp_store = FILE;
             PRAGMA cache_size = -16384;
             PRAGMA temp.cache_size = -16384;
             {SCHEMA}
             CREATE TEMP TABLE pending (
                 seq INTEGER PRIMARY KEY,
                 ordinal INTEGER NOT NULL,
                 k BLOB,
                 raw BLOB NOT NULL,
                 cur BLOB,
                 refused TEXT
             );
             CREATE INDEX temp.pending_key ON pending (k);
             BEGIN;"
        );
        let collector = Collector {
            conn,
            path: path.to_path_buf(),
            partial,
            current: None,
            ordinals: HashMap::new(),
            finished: false,
        };
        collector
            .conn
            .execute_batch(&setup)
            .map_err(|e| unwritable(e.to_string()))?;
        Ok(collector)
    }

    /// The importer starts writing a table: `targets` are the target's
    /// columns for `req.columns`.
    pub fn begin_table(&mut self, req: &WriteRequest<'_>, targets: &[ColumnInfo]) -> Result<()> {
        let key_pos = req
            .key
            .iter()
            .filter_map(|k| req.columns.iter().position(|c| c == k))
            .collect();
        // The first part to write a table gives it its place and policy.
        self.conn
            .execute(
                "INSERT OR IGNORE INTO preview_tables (pos, name, policy)
                 VALUES ((SELECT count(*) FROM preview_tables), ?1, ?2)",
                params![req.table, req.conflict.name()],
            )
            .map_err(sql)?;
        self.current = Some(Table {
            name: req.table.to_string(),
            columns: req.columns.to_vec(),
            targets: targets.to_vec(),
            key: req.key.to_vec(),
            key_pos,
            conflict: req.conflict,
            lossy: req.lossy.to_vec(),
        });
        Ok(())
    }

    /// A row to settle at the table's end.
    pub fn row(&mut self, row: &[Value]) -> Result<()> {
        self.pend(row, None)
    }

    /// A row the importer's own checks refuse before any database sees it
    /// (NULL in a NOT NULL column, text that is no number): failing, as
    /// the import would fail on it.
    pub fn refused(&mut self, row: &[Value], message: String) -> Result<()> {
        self.pend(row, Some(message))
    }

    fn pend(&mut self, row: &[Value], refused: Option<String>) -> Result<()> {
        let t = self.current.as_ref().expect("a row after begin_table");
        let ordinal = self.ordinals.entry(t.name.clone()).or_default();
        *ordinal += 1;
        let k = super::classify::key_of(row, t);
        let mut insert = self
            .conn
            .prepare_cached(
                "INSERT INTO pending (ordinal, k, raw, refused) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(sql)?;
        insert
            .execute(params![*ordinal as i64, k, encode_row(row), refused])
            .map_err(sql)?;
        Ok(())
    }

    /// The table's rows all handed over: each settled against the target
    /// (see `classify.rs`), and counted as the importer counts a write.
    pub fn end_table(&mut self, db: &mut dyn Backend) -> Result<TableOutcome> {
        let t = self.current.take().expect("end_table after begin_table");
        let outcome = self.settle(db, &t);
        self.conn.execute("DELETE FROM pending", []).map_err(sql)?;
        outcome
    }

    /// Every table counted, the store completed and moved into place.
    pub fn finish(mut self, plan: &Plan) -> Result<Vec<TablePreview>> {
        self.count()?;
        let names: Vec<String> = {
            let mut stmt = self
                .conn
                .prepare("SELECT name FROM preview_tables")
                .map_err(sql)?;
            let rows = stmt.query_map([], |r| r.get(0)).map_err(sql)?;
            rows.collect::<rusqlite::Result<_>>().map_err(sql)?
        };
        for name in names {
            let module = plan.module_of(&name).map(|m| m.name.clone());
            self.conn
                .execute(
                    "UPDATE preview_tables SET module = ?2 WHERE name = ?1",
                    params![name, module],
                )
                .map_err(sql)?;
        }
        self.conn.execute_batch(PAGE_INDEXES).map_err(sql)?;
        self.anchor()?;
        let done = format!(
            "INSERT INTO preview_meta (key, value) VALUES ('{}', '{}');
             COMMIT;",
            MARK.0, MARK.1
        );
        self.conn.execute_batch(&done).map_err(sql)?;
        std::fs::rename(&self.partial, &self.path).map_err(|e| PreviewError::StoreUnwritable {
            path: self.path.clone(),
            cause: e.to_string(),
        })?;
        self.finished = true;
        PreviewStore::open(&self.path)?.tables()
    }

    /// Writes `preview_anchors`: one pass over the rows in their order,
    /// counting them under every filter a page can have (a table or all, a
    /// class or all) and noting the id every [`ANCHOR_EVERY`]th starts at.
    fn anchor(&self) -> Result<()> {
        // Per table (`ANY_TABLE`: all): rows seen in any class, then per class.
        let mut seen: HashMap<String, [u64; 6]> = HashMap::new();
        let mut insert = self
            .conn
            .prepare("INSERT INTO preview_anchors (tbl, class, n, id) VALUES (?1, ?2, ?3, ?4)")
            .map_err(sql)?;
        let mut rows = self
            .conn
            .prepare("SELECT id, tbl, class FROM preview_rows ORDER BY id")
            .map_err(sql)?;
        let mut rows = rows.query([]).map_err(sql)?;
        while let Some(r) = rows.next().map_err(sql)? {
            let id: i64 = r.get(0).map_err(sql)?;
            let table = r
                .get_ref(1)
                .map_err(sql)?
                .as_str()
                .map_err(|e| sql(e.into()))?;
            let class: i64 = r.get(2).map_err(sql)?;
            let Some(slot) = RowClass::from_code(class).map(|c| 1 + c.code() as usize) else {
                continue;
            };
            for t in [ANY_TABLE, table] {
                if !seen.contains_key(t) {
                    seen.insert(t.to_string(), [0; 6]);
                }
                let counts = seen.get_mut(t).expect("inserted");
                for (c, i) in [(ANY_CLASS, 0), (class, slot)] {
                    if counts[i].is_multiple_of(ANCHOR_EVERY) {
                        let n = (counts[i] / ANCHOR_EVERY) as i64;
                        insert.execute(params![t, c, n, id]).map_err(sql)?;
                    }
                    counts[i] += 1;
                }
            }
        }
        Ok(())
    }

    /// Each table's rows by class, and by what the import would do.
    fn count(&mut self) -> Result<()> {
        let mut per_table: HashMap<String, ([u64; 5], Implied)> = HashMap::new();
        {
            let mut stmt = self
                .conn
                .prepare("SELECT tbl, class, fate, count(*) FROM preview_rows GROUP BY 1, 2, 3")
                .map_err(sql)?;
            let mut rows = stmt.query([]).map_err(sql)?;
            while let Some(r) = rows.next().map_err(sql)? {
                let table: String = r.get(0).map_err(sql)?;
                let class = RowClass::from_code(r.get(1).map_err(sql)?);
                let fate = Fate::from_name(&r.get::<_, String>(2).map_err(sql)?);
                let n = r.get::<_, i64>(3).map_err(sql)? as u64;
                let (Some(class), Some(fate)) = (class, fate) else {
                    continue;
                };
                let entry = per_table.entry(table).or_default();
                entry.0[class.code() as usize] += n;
                entry.1.add(fate, n);
            }
        }
        for (table, (c, i)) in per_table {
            let n = |v: u64| v as i64;
            self.conn
                .execute(
                    "UPDATE preview_tables SET new = ?2, identical = ?3, changed = ?4,
                       conflict = ?5, failing = ?6, inserted = ?7, overwritten = ?8,
                       skipped = ?9, unchanged = ?10, refused = ?11 WHERE name = ?1",
                    params![
                        table,
                        n(c[0]),
                        n(c[1]),
                        n(c[2]),
                        n(c[3]),
                        n(c[4]),
                        n(i.inserted),
                        n(i.overwritten),
                        n(i.skipped),
                        n(i.unchanged),
                        n(i.refused)
                    ],
                )
                .map_err(sql)?;
        }
        Ok(())
    }
}

impl Drop for Collector {
    /// A preview that failed leaves no store behind.
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

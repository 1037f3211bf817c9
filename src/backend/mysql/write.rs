//! The import transaction on MySQL and MariaDB: foreign-key checks off
//! while rows load and every key checked in bulk at the end; each table's
//! rows in multi-row INSERTs (or `LOAD DATA`, see `bulk.rs`), straight in
//! or through a temporary staging table merged under the table's conflict
//! policy; a refused row, or a duplicate a trigger wrote, named.

use std::sync::Arc;

use ::mysql::prelude::Queryable;
use ::mysql::{Conn, Params, Value as My};

use super::bulk::{CHUNK_BYTES, Load, LoadCtx, SEGMENT_ROWS, load_sql, push_field};
use super::connect::{scrub, server_message};
use super::values::{Col, Kind, encode, render, unsupported};
use super::{Mysql, live, quote, quote_list};
use crate::backend::{TableOutcome, WriteRequest, fkcheck};
use crate::catalog::{ForeignKey, TableInfo};
use crate::error::{CONFLICTS_LISTED, EngineError, Error, Result};
use crate::policy::Conflict;
use crate::value::Value;

/// The most placeholders one INSERT carries. The protocol allows 65,535,
/// but the driver keeps every cached statement's parameter definitions:
/// fewer, smaller statements keep memory flat at no cost in speed.
pub(super) const MAX_PLACEHOLDERS: usize = 16_384;

/// The most rows one INSERT carries, whatever the packet size allows.
const MAX_BATCH_ROWS: usize = 10_000;

/// The rows of one table being written.
pub(super) struct Writer {
    pub(super) table: String,
    /// Positions in a request row of the columns written (generated
    /// columns are left out: the server computes them).
    pos: Vec<usize>,
    cols: Vec<Col>,
    names: Vec<String>,
    pub(super) key: Vec<String>,
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
    pub(super) written: u64,
    /// Rows go in by `LOAD DATA LOCAL` rather than INSERTs.
    pub(super) load: Option<Load>,
    /// Loaded by MariaDB's bulk insert (see [`Mysql::bulk_load`]).
    bulk: bool,
}

impl Mysql {
    /// Opens the import transaction (`Backend::begin_write`).
    pub(super) fn begin_import(&mut self, tables: &[String]) -> Result<()> {
        self.introspect()?;
        self.counters.clear();
        self.refuse_nontransactional(tables)?;
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

    /// A rollback cannot undo what a table without transactions took in.
    pub(super) fn refuse_nontransactional(&self, tables: &[String]) -> Result<()> {
        for name in tables {
            let t = self.table(name)?;
            if !t.transactional {
                return Err(EngineError::NotTransactional {
                    table: name.clone(),
                    storage_engine: t.engine.clone(),
                    convert: format!("ALTER TABLE {} ENGINE=InnoDB", quote(name)),
                }
                .into());
            }
        }
        Ok(())
    }

    /// Prepares to write one table (`Backend::begin_table`).
    pub(super) fn start_table(&mut self, req: &WriteRequest<'_>) -> Result<()> {
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

    /// Writes or buffers one row (`Backend::write_row`).
    pub(super) fn put_row(&mut self, row: &[Value]) -> Result<()> {
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
    pub(super) fn finish_table(&mut self) -> Result<TableOutcome> {
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

    /// Checks every foreign key of the written tables in bulk (`Backend::finish_write`).
    pub(super) fn check_foreign_keys(&mut self) -> Result<()> {
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
                    return Err(fkcheck::violation_error(table, fk, None, &rows));
                }
            }
        }
        Ok(())
    }

    /// A duplicate-key error while rows of `loading` were written, named
    /// after the table it is in when that is another table (a row a
    /// trigger on `loading` wrote). MySQL 8 names the table in the key
    /// (`'film_text.PRIMARY'`); MariaDB names only the key, so the tables
    /// `loading`'s triggers write into are searched for that key holding
    /// that value. Any other error is returned as it is.
    pub(super) fn named_duplicate(&mut self, loading: Option<&str>, e: Error) -> Error {
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

    pub(super) fn drop_staging(&mut self) -> Result<()> {
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
                    Some(k) if !w.key.is_empty() => EngineError::RowRefused {
                        table: w.table.clone(),
                        key: key_text(&w.key, k),
                        message: msg,
                    }
                    .into(),
                    _ => Error::db("writing", msg),
                })
            }
        }
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
                return Err(EngineError::UniqueKeyTaken {
                    table: w.table.clone(),
                    key: key_text(&w.key, k),
                    key_columns: w.key.clone(),
                    unique: u.clone(),
                    values: v.iter().map(Value::display).collect(),
                }
                .into());
            }
        }
        Ok(())
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

fn param_size(v: &My) -> usize {
    match v {
        My::Bytes(b) => b.len() + 9,
        _ => 9,
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

/// `INSERT INTO t (cols) VALUES (?,?),(?,?)…` for `rows` rows.
pub(super) fn insert_sql(into: &str, names: &[String], rows: usize) -> String {
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

pub(super) fn key_text(key: &[String], values: &[Value]) -> String {
    key.iter()
        .zip(values)
        .map(|(k, v)| format!("{k}={}", v.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The 1-based row number in a server message (`… at row 3`).
pub(super) fn server_row(msg: &str) -> Option<usize> {
    let i = msg.rfind(" at row ")?;
    let digits: String = msg[i + 8..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

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

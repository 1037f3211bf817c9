//! The import transaction on PostgreSQL: foreign keys dropped and re-added
//! (validated in one pass each), plain indexes dropped and rebuilt, each
//! table written straight in or through a temporary staging table merged
//! under the table's conflict policy with `INSERT … ON CONFLICT`.

use postgres::error::SqlState;

use super::bulk::{CHUNK, Chunk, CopyIn, new_chunk};
use super::catalog::PgColumn;
use super::connect::{describe, scrub};
use super::values::{Kind, as_text, parse_value, push_cell};
use super::{Postgres, quote, quote_list};
use crate::backend::convert::{self, Cell, Target};
use crate::backend::{TableOutcome, WriteRequest, fkcheck};
use crate::catalog::ForeignKey;
use crate::error::{CONFLICTS_LISTED, EngineError, Error, Result};
use crate::policy::Conflict;
use crate::value::{ColumnType, Value};

#[derive(Debug, Clone)]
pub(super) struct DroppedFk {
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
pub(super) struct Writer {
    pub(super) table: String,
    columns: Vec<String>,
    pub(super) key: Vec<String>,
    /// Positions of the key columns in a row.
    pub(super) key_pos: Vec<usize>,
    conflict: Conflict,
    /// How each column of a row converts.
    targets: Vec<ColumnTarget>,
    /// The key columns (for reading conflicting keys back).
    key_columns: Vec<PgColumn>,
    non_key_updatable: Vec<String>,
    /// The staging table, when rows may conflict with existing ones.
    staging: Option<String>,
    pub(super) copy_sql: String,
    /// Rows encoded but not yet handed to the COPY thread.
    pub(super) chunk: Chunk,
    /// The COPY in progress, once the first chunk is full.
    pub(super) stream: Option<CopyIn>,
    /// Rows sent or buffered so far.
    rows: u64,
}

#[derive(Debug, Clone)]
pub(super) enum ColumnTarget {
    Typed(Target),
    /// A time or timestamp keeping this many fractional digits of a second.
    Timed(Target, usize),
    /// A type carried as text (`any`): PostgreSQL parses it.
    AsText,
}

/// How each of `cols` takes a value.
pub(super) fn column_targets(cols: &[PgColumn]) -> Vec<ColumnTarget> {
    cols.iter()
        .map(|c| match (c.t.ty, c.t.fsp) {
            (ColumnType::Any, _) => ColumnTarget::AsText,
            (_, Some(fsp)) => ColumnTarget::Timed(c.t.target.clone(), fsp as usize),
            _ => ColumnTarget::Typed(c.t.target.clone()),
        })
        .collect()
}

/// Appends `row` to `buf` as one line of COPY text, each value converted
/// for its column; a value that does not fit leaves `buf` as it was and
/// names its column.
pub(super) fn encode_line(
    buf: &mut Vec<u8>,
    row: &[Value],
    targets: &[ColumnTarget],
    columns: &[String],
) -> Result<()> {
    let start = buf.len();
    for (i, (v, t)) in row.iter().zip(targets).enumerate() {
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
                return Err(Error::value(&columns[i], msg));
            }
        }
    }
    buf.push(b'\n');
    Ok(())
}

impl Postgres {
    /// Opens the import transaction (`Backend::begin_write`).
    pub(super) fn begin_import(&mut self, tables: &[String]) -> Result<()> {
        let ctx = "starting the import transaction";
        self.client
            .batch_execute("BEGIN")
            .map_err(|e| self.err(ctx, e))?;
        self.in_tx = true;
        self.dropped.clear();
        self.dropped_indexes.clear();
        self.dropped_keys.clear();
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
                crate::events::note(format!(
                    "foreign keys stay checked row by row: {}",
                    scrub(&self.secret, describe(&e))
                ));
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

    /// Prepares to write one table (`Backend::begin_table`).
    pub(super) fn start_table(&mut self, req: &WriteRequest<'_>) -> Result<()> {
        let ctx = "preparing to write";
        // A table written again (an incremental chain) merges its rows by
        // its keys: they are put back first.
        let (again, others) = std::mem::take(&mut self.dropped_keys)
            .into_iter()
            .partition::<Vec<_>, _>(|(table, _, _)| table == req.table);
        self.dropped_keys = others;
        for (table, name, def) in again {
            self.restore_key(&table, &name, &def)?;
        }
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
            self.drop_keys(req.table, &qt)?;
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
            targets: column_targets(&cols),
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

    /// Encodes one row into the chunk (`Backend::write_row`).
    pub(super) fn put_row(&mut self, row: &[Value]) -> Result<()> {
        let w = self.writer.as_mut().expect("write_row before begin_table");
        let start = w.chunk.buf.len();
        encode_line(&mut w.chunk.buf, row, &w.targets, &w.columns)?;
        w.chunk.row_starts.push(start);
        w.rows += 1;
        if w.chunk.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    /// Completes the table's COPY and applies its policy (`Backend::end_table`).
    pub(super) fn finish_table(&mut self) -> Result<TableOutcome> {
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

    /// Puts back what the load set aside (`Backend::finish_write`).
    pub(super) fn restore_after_load(&mut self) -> Result<()> {
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
        for (table, name, def) in std::mem::take(&mut self.dropped_keys) {
            self.restore_key(&table, &name, &def)?;
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

    /// An error writing rows of `loading`: a unique violation in another
    /// of the user's tables is a row a trigger wrote there, and is named
    /// after that table (the server says which, `DbError::table`); a
    /// partition of `loading` is no table of the catalog.
    /// `row` names the loaded row, when known (`row id=1: `).
    pub(super) fn write_err(
        &self,
        loading: &str,
        context: &str,
        e: &postgres::Error,
        row: &str,
    ) -> Error {
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

    /// The primary key and unique constraints of an empty table, dropped
    /// for the load as `pg_restore` loads before it adds them: a COPY into
    /// a table with its key's index pays a B-tree insert per row, a third
    /// of the load. Kept where anything could need them during the load: a
    /// foreign key still in force refers to them, or a user trigger is
    /// enabled anywhere in the schema (it might write into this table,
    /// and its duplicate must fail at its row, named).
    fn drop_keys(&mut self, table: &str, qt: &str) -> Result<()> {
        let ctx = "preparing to write";
        let triggers = self.scalar_bool(
            ctx,
            "SELECT EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND NOT t.tgisinternal AND t.tgenabled <> 'D')",
            &[],
        )?;
        if triggers {
            return Ok(());
        }
        let rows = self
            .client
            .query(
                "SELECT con.conname::text, pg_get_constraintdef(con.oid) \
                 FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid \
                 WHERE con.conrelid = $1::text::regclass AND con.contype IN ('p', 'u') \
                   AND c.relkind = 'r' AND NOT c.relispartition \
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint f \
                                   WHERE f.contype = 'f' AND f.conindid = con.conindid)",
                &[&qt],
            )
            .map_err(|e| self.err(ctx, e))?;
        if rows.is_empty() {
            return Ok(());
        }
        let keys: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let drops: String = keys
            .iter()
            .map(|(name, _)| format!("ALTER TABLE {qt} DROP CONSTRAINT {};", quote(name)))
            .collect();
        let dropped = self.client.batch_execute(&format!(
            "SAVEPOINT migplan_keys; {drops} RELEASE SAVEPOINT migplan_keys"
        ));
        if dropped.is_err() {
            // Not the owner, or something depends on the index: they stay.
            return self
                .client
                .batch_execute("ROLLBACK TO SAVEPOINT migplan_keys")
                .map_err(|e| self.err(ctx, e));
        }
        let table = table.to_string();
        self.dropped_keys.extend(
            keys.into_iter()
                .map(|(name, def)| (table.clone(), name, def)),
        );
        Ok(())
    }

    /// Adds a dropped key back; rows the backup holds twice under it fail
    /// the import, the server's detail naming the key.
    fn restore_key(&mut self, table: &str, name: &str, def: &str) -> Result<()> {
        let add = format!(
            "ALTER TABLE {} ADD CONSTRAINT {} {def}",
            self.qt(table),
            quote(name)
        );
        self.client.batch_execute(&add).map_err(|e| {
            let ctx = match e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
                true => format!("table `{table}`: rows written share a key of `{name}` ({def})"),
                false => format!("restoring `{name}` of `{table}`"),
            };
            self.err(ctx, e)
        })
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
        let Some(mut info) = self.tables(Some(&d.root))?.pop() else {
            let table = d.root.clone();
            return Err(EngineError::TableDisappeared { table }.into());
        };
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
        Err(fkcheck::violation_error(
            &info,
            &d.fk,
            Some(&d.name),
            &rendered,
        ))
    }
}

//! What a PostgreSQL database holds, read from its system catalogs: the
//! tables of the current schema with their columns, keys, unique indexes
//! and the columns indexes lead with; the user triggers; the sequences and
//! the columns using them.

use std::collections::HashMap;

use super::values::{PgType, TYPE_ROW, TypeRow};
use super::{Postgres, quote};
use crate::backend::BOOKKEEPING_TABLES;
use crate::catalog::{ColumnInfo, ForeignKey, Sequence, TableInfo};
use crate::error::{EngineError, Result};

#[derive(Debug, Clone)]
pub(super) struct PgColumn {
    table: String,
    pub(super) name: String,
    pub(super) sql_type: String,
    nullable: bool,
    has_default: bool,
    /// `GENERATED ALWAYS AS IDENTITY`: never the target of an UPDATE.
    pub(super) identity_always: bool,
    pub(super) t: PgType,
}

impl PgColumn {
    /// The SELECT expression reading the column (`alias.` prefixed).
    pub(super) fn select(&self, alias: &str) -> String {
        if self.t.money {
            format!("{alias}{}::numeric", quote(&self.name))
        } else {
            format!("{alias}{}", quote(&self.name))
        }
    }
}

/// A user trigger: where it is declared (`relation`, a partition for one
/// declared there), the table migplan writes, `tgenabled`, timing and events.
pub(super) struct PgTrigger {
    pub(super) relation: String,
    pub(super) table: String,
    pub(super) name: String,
    pub(super) mode: String,
    pub(super) when: String,
}

impl Postgres {
    /// The columns of every table (or of one), in ordinal order.
    pub(super) fn columns(&mut self, table: Option<&str>) -> Result<Vec<PgColumn>> {
        let ctx = "reading the database's columns";
        // Each column's pg_type row comes along: a round trip per type was
        // a few percent of a small incremental export.
        let rows = self
            .client
            .query(
                &format!(
                "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), \
                        a.attnotnull, (a.atthasdef OR a.attidentity <> ''), a.attidentity = 'a', \
                        a.atttypid, a.atttypmod, {TYPE_ROW} \
                 FROM pg_attribute a \
                 JOIN pg_class c ON c.oid = a.attrelid \
                 JOIN pg_type t ON t.oid = a.atttypid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
                   AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' \
                   AND ($1::text IS NULL OR c.relname = $1::text) \
                 ORDER BY c.relname, a.attnum"
                ),
                &[&table],
            )
            .map_err(|e| self.err(ctx, e))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let t = self.resolve_from(r.get(6), r.get(7), TypeRow::from(&r, 8))?;
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
    pub(super) fn columns_of(&mut self, table: &str, names: &[String]) -> Result<Vec<PgColumn>> {
        let all = self.columns(Some(table))?;
        pick_columns(&all, &self.schema, table, names)
    }

    /// The columns of `table` an export reads: from the snapshot's one
    /// catalog read (a query per table cost a small incremental export a
    /// tenth of its time in round trips), else asked for.
    pub(super) fn table_columns(&mut self, table: &str) -> Result<Vec<PgColumn>> {
        if !self.reading {
            return self.columns(Some(table));
        }
        let all = self.snapshot_columns()?;
        Ok(all.iter().filter(|c| c.table == table).cloned().collect())
    }

    /// The columns of every table in the schema, for readers that have no
    /// catalog of their own.
    pub(super) fn all_columns(&mut self) -> Result<Vec<PgColumn>> {
        self.columns(None)
    }

    /// Tables with their keys (one table or all of them).
    pub(super) fn tables(&mut self, table: Option<&str>) -> Result<Vec<TableInfo>> {
        let columns = match (table, self.reading) {
            (None, true) => self.snapshot_columns()?.as_ref().clone(),
            (table, _) => self.columns(table)?,
        };
        let mut tables: Vec<TableInfo> = Vec::new();
        for c in columns {
            if tables.last().is_none_or(|t| t.name != c.table) {
                tables.push(TableInfo {
                    name: c.table.clone(),
                    columns: vec![],
                    primary_key: vec![],
                    unique_keys: vec![],
                    foreign_keys: vec![],
                    indexes: vec![],
                });
            }
            let t = tables.last_mut().expect("pushed above");
            let choices = match &c.t.target {
                crate::backend::convert::Target::Enum(labels) => labels.clone(),
                _ => vec![],
            };
            t.columns.push(ColumnInfo {
                name: c.name,
                ty: c.t.ty,
                sql_type: c.sql_type,
                nullable: c.nullable,
                has_default: c.has_default,
                choices,
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
        // Checks listing a column's values (`col IN ('a', 'b')`, which
        // PostgreSQL keeps as `col = ANY (ARRAY['a'::text, …])`).
        let checks = self
            .client
            .query(
                "SELECT c.relname::text, pg_get_constraintdef(con.oid) \
                 FROM pg_constraint con \
                 JOIN pg_class c ON c.oid = con.conrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND con.contype = 'c' \
                   AND ($1::text IS NULL OR c.relname = $1::text) \
                 ORDER BY c.relname, con.conname",
                &[&table],
            )
            .map_err(|e| self.err(ctx, e))?;
        let mut by_table: HashMap<String, Vec<String>> = HashMap::new();
        for r in checks {
            by_table.entry(r.get(0)).or_default().push(r.get(1));
        }
        for (name, defs) in by_table {
            let Some(&i) = by_name.get(&name) else {
                continue;
            };
            let lists = crate::backend::checks::in_lists(defs.iter().map(String::as_str));
            for c in &mut tables[i].columns {
                if let Some(l) = lists.get(&c.name).filter(|_| c.choices.is_empty()) {
                    c.choices = l.clone();
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
        for (name, columns) in self.indexes(table)? {
            if let Some(&i) = by_name.get(&name) {
                tables[i].indexes.push(columns);
            }
        }
        Ok(tables)
    }

    /// The valid, whole (no predicate) indexes but hash ones, by table,
    /// each with its key columns up to its first expression (`indkey` 0,
    /// which no attribute matches); an index leading with an expression is
    /// left out. A partitioned table's own indexes are listed on it.
    fn indexes(&mut self, table: Option<&str>) -> Result<Vec<(String, Vec<String>)>> {
        let rows = self
            .client
            .query(
                "SELECT c.relname::text, \
                   ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o) \
                         LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n \
                         WHERE k.o <= i.indnkeyatts ORDER BY k.o) \
                 FROM pg_index i \
                 JOIN pg_class c ON c.oid = i.indrelid \
                 JOIN pg_class ic ON ic.oid = i.indexrelid \
                 JOIN pg_am am ON am.oid = ic.relam \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND i.indisvalid AND i.indpred IS NULL \
                   AND am.amname <> 'hash' AND ($1::text IS NULL OR c.relname = $1::text) \
                 ORDER BY c.relname, ic.relname",
                &[&table],
            )
            .map_err(|e| self.err("reading the database's indexes", e))?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let columns: Vec<Option<String>> = r.get(1);
                (r.get(0), columns.into_iter().map_while(|c| c).collect())
            })
            .filter(|(_, columns): &(String, Vec<String>)| !columns.is_empty())
            .collect())
    }

    /// The enabled user triggers of the current schema's tables (clones of
    /// a partitioned table's triggers left out: they follow their parent).
    pub(super) fn pg_triggers(&mut self) -> Result<Vec<PgTrigger>> {
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

    /// Every sequence of the schema with the columns that use it: as their
    /// default (`nextval('s')`, owned or not), as their identity, or as
    /// their owner (`OWNED BY`). Descending sequences are left out: "past
    /// the largest id" means nothing to them.
    pub(super) fn pg_sequences(&mut self) -> Result<Vec<Sequence>> {
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
                    crate::events::warning(format!(
                        "sequence `{name}` is neither carried nor set: this role may not read it\n  = help: `GRANT SELECT ON SEQUENCE {name} TO …`"
                    ));
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
}

/// `names` of `table` out of `all` (a table's or the schema's columns), in
/// that order.
pub(super) fn pick_columns(
    all: &[PgColumn],
    schema: &str,
    table: &str,
    names: &[String],
) -> Result<Vec<PgColumn>> {
    if !all.iter().any(|c| c.table == table) {
        return Err(EngineError::NoSuchTableInSchema {
            table: table.to_string(),
            schema: schema.to_string(),
        }
        .into());
    }
    names
        .iter()
        .map(|n| {
            let found = all.iter().find(|c| c.table == table && &c.name == n);
            found.cloned().ok_or_else(|| {
                EngineError::NoSuchColumnOrGenerated {
                    table: table.to_string(),
                    column: n.clone(),
                }
                .into()
            })
        })
        .collect()
}

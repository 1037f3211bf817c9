//! What a SQLite database holds, read from its pragmas and
//! `sqlite_schema`: tables, columns, keys, indexes, triggers (their timing
//! read from their statement), `sqlite_sequence` counters, row counts and
//! size.

use rusqlite::types::ValueRef;

use super::values::column_type;
use super::{Sqlite, quote};
use crate::backend::BOOKKEEPING_TABLES;
use crate::catalog::{Catalog, ColumnInfo, ForeignKey, Sequence, TableInfo, Trigger};
use crate::error::{Error, Result};
use crate::value::ColumnType;

impl Sqlite {
    pub(super) fn read_catalog(&mut self) -> Result<Catalog> {
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

    pub(super) fn read_triggers(&mut self) -> Result<Vec<Trigger>> {
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

    pub(super) fn read_sequences(&mut self) -> Result<Vec<Sequence>> {
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

    pub(super) fn largest_integer(&mut self, table: &str, column: &str) -> Result<Option<i64>> {
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

    pub(super) fn count_table_rows(&mut self, table: &str) -> Result<u64> {
        let sql = format!("SELECT count(*) FROM {}", quote(table));
        self.conn
            .query_row(&sql, [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| Error::db(format!("counting rows of `{table}`"), e))
    }

    pub(super) fn table_exists(&mut self, table: &str) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| Error::db("reading the database's tables", e))
    }

    /// The pages of a table and its indexes (the `dbstat` table the
    /// bundled SQLite is built with).
    pub(super) fn table_disk_size(&mut self, table: &str) -> Result<Option<u64>> {
        self.conn
            .query_row(
                "SELECT SUM(pgsize) FROM dbstat WHERE name = ?1 \
                 OR name IN (SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = ?1)",
                [table],
                |r| r.get::<_, Option<i64>>(0),
            )
            .map(|n| n.map(|n| n.max(0) as u64))
            .map_err(|e| Error::db(format!("reading the size of `{table}`"), e))
    }

    pub(super) fn disk_size(&mut self) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(|e| Error::db("reading the database's size", e))
    }

    fn table_info(&self, name: &str) -> rusqlite::Result<TableInfo> {
        let mut columns = self.columns(name)?;
        // `CHECK (col IN ('a', 'b'))` anywhere in the table's definition.
        let sql: Option<String> = self
            .conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [name],
                |r| r.get(0),
            )
            .ok()
            .flatten();
        if let Some(sql) = sql {
            let lists = crate::backend::checks::in_lists([sql.as_str()]);
            for c in &mut columns {
                if let Some(l) = lists.get(&c.name) {
                    c.choices = l.clone();
                }
            }
        }
        Ok(TableInfo {
            name: name.to_string(),
            columns,
            primary_key: self.primary_key(name)?,
            unique_keys: self.unique_keys(name)?,
            foreign_keys: self.foreign_keys(name)?,
            indexes: self.indexes(name)?,
        })
    }

    pub(super) fn columns(&self, table: &str) -> rusqlite::Result<Vec<ColumnInfo>> {
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
                choices: vec![],
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

    /// Every index but the partial ones, its columns up to its first
    /// expression (whose name pragma_index_info gives as NULL); an index
    /// leading with an expression is left out.
    fn indexes(&self, table: &str) -> rusqlite::Result<Vec<Vec<String>>> {
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM pragma_index_list(?1) WHERE NOT partial ORDER BY seq")?;
        let indexes: Vec<String> = stmt
            .query_map([table], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut cols = self
            .conn
            .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")?;
        let mut out = Vec::new();
        for idx in &indexes {
            let names: Vec<Option<String>> = cols
                .query_map([idx], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let leading: Vec<String> = names.into_iter().map_while(|n| n).collect();
            if !leading.is_empty() {
                out.push(leading);
            }
        }
        Ok(out)
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

    pub(super) fn column_types(&self, table: &str, columns: &[String]) -> Result<Vec<ColumnType>> {
        let all = self
            .columns(table)
            .map_err(|e| Error::db(format!("reading columns of `{table}`"), e))?;
        columns
            .iter()
            .map(|c| {
                all.iter()
                    .find(|ci| &ci.name == c)
                    .map(|ci| ci.ty)
                    .ok_or_else(|| {
                        Error::from(crate::error::EngineError::NoSuchColumn {
                            table: table.to_string(),
                            column: c.clone(),
                        })
                    })
            })
            .collect()
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

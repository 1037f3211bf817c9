//! What a MySQL or MariaDB database holds, read from
//! `information_schema`: its tables (with their storage engine), columns,
//! unique keys, foreign keys and the columns indexes lead with, and the
//! tables' AUTO_INCREMENT counters.

use std::collections::HashMap;

use ::mysql::prelude::Queryable;
use ::mysql::{Conn, Value as My};

use super::connect::scrub;
use super::values::{Col, classify};
use super::{Mysql, live, quote};
use crate::backend::BOOKKEEPING_TABLES;
use crate::catalog::{ColumnInfo, ForeignKey, Sequence, TableInfo};
use crate::error::{EngineError, Error, Result};

/// One table as introspected: the portable description and what writing
/// and reading need beyond it.
#[derive(Debug, Clone)]
pub(super) struct Table {
    pub(super) info: TableInfo,
    pub(super) cols: Vec<Col>,
    pub(super) engine: String,
    pub(super) transactional: bool,
}

impl Mysql {
    /// Reads every table of the database (bookkeeping tables included).
    pub(super) fn introspect(&mut self) -> Result<()> {
        let tables = load_tables(live(&mut self.slot), self.mariadb)
            .map_err(|e| self.err(format!("reading the tables of {}", self.url), e))?;
        self.tables = tables;
        Ok(())
    }

    pub(super) fn table(&self, name: &str) -> Result<&Table> {
        self.tables
            .iter()
            .find(|t| t.info.name == name)
            .ok_or_else(|| {
                EngineError::NoSuchTable {
                    table: name.to_string(),
                }
                .into()
            })
    }

    /// The columns of `table` named by `names`, in that order.
    pub(super) fn columns_of(&mut self, table: &str, names: &[String]) -> Result<Vec<Col>> {
        if self.table(table).is_err() {
            self.introspect()?;
        }
        let t = self.table(table)?;
        names
            .iter()
            .map(|n| {
                t.cols
                    .iter()
                    .find(|c| &c.name == n)
                    .cloned()
                    .ok_or_else(|| {
                        EngineError::NoSuchColumn {
                            table: table.to_string(),
                            column: n.clone(),
                        }
                        .into()
                    })
            })
            .collect()
    }

    /// Whether any of `tables` has a foreign key into another database.
    pub(super) fn references_other_databases(&mut self, tables: &[String]) -> Result<bool> {
        let sql = "SELECT DISTINCT TABLE_NAME FROM information_schema.KEY_COLUMN_USAGE \
             WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL \
             AND REFERENCED_TABLE_SCHEMA <> DATABASE()";
        let Mysql { slot, secrets, .. } = self;
        let conn = live(slot);
        let names: Vec<String> = conn
            .query(sql)
            .map_err(|e| Error::db("reading foreign keys", scrub(&e.to_string(), secrets)))?;
        Ok(names.iter().any(|n| tables.contains(n)))
    }

    /// The tables' AUTO_INCREMENT counters (`Backend::sequences`).
    pub(super) fn auto_increments(&mut self) -> Result<Vec<Sequence>> {
        if !self.mariadb {
            // MySQL 8 caches information_schema.TABLES for a day by
            // default; MariaDB reads the live counter. 5.7 has no such
            // variable and needs none.
            let _ = self.exec("", "SET SESSION information_schema_stats_expiry = 0");
        }
        let rows: Vec<(String, String, Option<u64>)> = live(&mut self.slot)
            .query(
                "SELECT t.TABLE_NAME, c.COLUMN_NAME, t.AUTO_INCREMENT FROM information_schema.TABLES t \
                 JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = t.TABLE_SCHEMA \
                   AND c.TABLE_NAME = t.TABLE_NAME AND c.EXTRA LIKE '%auto_increment%' \
                 WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' \
                 ORDER BY t.TABLE_NAME",
            )
            .map_err(|e| self.err("reading the tables' AUTO_INCREMENT", e))?;
        Ok(rows
            .into_iter()
            .filter(|(t, _, _)| !BOOKKEEPING_TABLES.contains(&t.as_str()))
            .map(|(table, column, next)| Sequence {
                name: None,
                table: Some(table),
                column: Some(column),
                next: next.map_or(1, |n| i64::try_from(n).unwrap_or(i64::MAX)),
            })
            .collect())
    }
}

fn text(v: My) -> Option<String> {
    match v {
        My::NULL => None,
        My::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        My::Int(i) => Some(i.to_string()),
        My::UInt(u) => Some(u.to_string()),
        other => Some(format!("{other:?}")),
    }
}

fn text_rows(conn: &mut Conn, sql: &str) -> ::mysql::Result<Vec<Vec<Option<String>>>> {
    let rows: Vec<::mysql::Row> = conn.query(sql)?;
    Ok(rows
        .into_iter()
        .map(|r| r.unwrap().into_iter().map(text).collect())
        .collect())
}

fn load_tables(conn: &mut Conn, mariadb: bool) -> ::mysql::Result<Vec<Table>> {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut tables: Vec<Table> = text_rows(
        conn,
        "SELECT t.TABLE_NAME, COALESCE(t.ENGINE, ''), COALESCE(e.TRANSACTIONS, 'NO') \
         FROM information_schema.TABLES t LEFT JOIN information_schema.ENGINES e ON e.ENGINE = t.ENGINE \
         WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') \
         ORDER BY t.TABLE_NAME",
    )?
    .iter()
    .map(|r| Table {
        info: TableInfo {
            name: s(&r[0]),
            columns: vec![],
            primary_key: vec![],
            unique_keys: vec![],
            foreign_keys: vec![],
            indexes: vec![],
        },
        cols: vec![],
        engine: s(&r[1]),
        transactional: r[2].as_deref() == Some("YES"),
    })
    .collect();
    let index: HashMap<String, usize> = tables
        .iter()
        .enumerate()
        .map(|(i, t)| (t.info.name.clone(), i))
        .collect();
    // MariaDB's JSON is LONGTEXT with CHECK (json_valid(col)); checks also
    // list a column's values (MySQL's CHECK_CONSTRAINTS names no table, and
    // gives none here).
    let mut json_checks: Vec<(String, String)> = vec![];
    if let Ok(rows) = text_rows(
        conn,
        "SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()",
    ) {
        json_checks = rows.iter().map(|r| (s(&r[0]), s(&r[1]))).collect();
    }
    for r in text_rows(
        conn,
        "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT IS NOT NULL, EXTRA, \
         CHARACTER_MAXIMUM_LENGTH, CHARACTER_OCTET_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION \
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION",
    )? {
        let Some(&ti) = index.get(&s(&r[0])) else {
            continue;
        };
        let name = s(&r[1]);
        let data_type = s(&r[2]).to_ascii_lowercase();
        let column_type = s(&r[3]);
        let extra = s(&r[6]).to_ascii_lowercase();
        let num = |i: usize| r[i].as_deref().and_then(|x| x.parse::<u64>().ok());
        let json = mariadb
            && json_checks.iter().any(|(t, c)| {
                t == &tables[ti].info.name && *c == format!("json_valid({})", quote(&name))
            });
        let generated = ["generated", "virtual", "persistent", "stored"]
            .iter()
            .any(|g| extra.contains(g))
            && !extra.contains("default_generated");
        let (ty, col) = classify(
            &name,
            &data_type,
            &column_type,
            json,
            generated,
            [num(7), num(8), num(9), num(10), num(11)],
        );
        let mut col = col;
        col.auto_increment = extra.contains("auto_increment");
        // ENUM's labels; a SET's values combine, which a dropdown cannot
        // offer. Else a `CHECK (col IN ('a', 'b'))` of the table.
        let choices = if data_type == "enum" {
            super::values::labels(&column_type)
        } else {
            let checks = json_checks
                .iter()
                .filter(|(t, _)| t == &tables[ti].info.name)
                .map(|(_, c)| c.as_str());
            crate::backend::checks::in_lists(checks)
                .remove(&name)
                .unwrap_or_default()
        };
        let t = &mut tables[ti];
        t.info.columns.push(ColumnInfo {
            name,
            ty,
            sql_type: column_type,
            nullable: r[4].as_deref() == Some("YES"),
            has_default: r[5].as_deref() == Some("1")
                || extra.contains("auto_increment")
                || generated,
            choices,
        });
        t.cols.push(col);
    }
    // Unique keys over whole columns (prefix and functional keys are not
    // keys of the values migplan sees).
    let mut keys: Vec<(usize, String, Vec<String>, bool)> = vec![];
    for r in text_rows(
        conn,
        "SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME, SUB_PART IS NOT NULL OR COLUMN_NAME IS NULL \
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND NON_UNIQUE = 0 \
         ORDER BY TABLE_NAME, INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX",
    )? {
        let Some(&ti) = index.get(&s(&r[0])) else {
            continue;
        };
        let idx = s(&r[1]);
        let partial = r[3].as_deref() == Some("1");
        match keys.last_mut() {
            Some((t, i, cols, p)) if *t == ti && *i == idx => {
                cols.push(s(&r[2]));
                *p |= partial;
            }
            _ => keys.push((ti, idx, vec![s(&r[2])], partial)),
        }
    }
    for (ti, idx, cols, partial) in keys {
        if partial {
            continue;
        }
        let info = &mut tables[ti].info;
        if idx == "PRIMARY" {
            info.primary_key = cols;
        } else {
            info.unique_keys.push(cols);
        }
    }
    let mut last: Option<(usize, String)> = None;
    for r in text_rows(
        conn,
        "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME \
         FROM information_schema.KEY_COLUMN_USAGE \
         WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL \
         ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
    )? {
        let Some(&ti) = index.get(&s(&r[0])) else {
            continue;
        };
        let id = (ti, s(&r[1]));
        let info = &mut tables[ti].info;
        if last.as_ref() != Some(&id) {
            info.foreign_keys.push(ForeignKey {
                columns: vec![],
                ref_table: s(&r[3]),
                ref_columns: vec![],
            });
            last = Some(id);
        }
        let fk = info.foreign_keys.last_mut().expect("pushed above");
        fk.columns.push(s(&r[2]));
        fk.ref_columns.push(s(&r[4]));
    }
    read_indexes(conn, &index, &mut tables)?;
    Ok(tables)
}

/// Every B-tree index of the tables (hash, full-text and spatial indexes
/// find no range), its columns up to its first functional part (whose
/// COLUMN_NAME is NULL); an index leading with one is left out. MySQL's
/// invisible and MariaDB's ignored indexes are listed too: the columns
/// that tell them differ between the two.
fn read_indexes(
    conn: &mut Conn,
    index: &HashMap<String, usize>,
    tables: &mut [Table],
) -> ::mysql::Result<()> {
    let mut found: Vec<(usize, String, Vec<Option<String>>)> = vec![];
    for mut r in text_rows(
        conn,
        "SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS \
         WHERE TABLE_SCHEMA = DATABASE() AND INDEX_TYPE = 'BTREE' \
         ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
    )? {
        let Some(&ti) = r[0].as_ref().and_then(|t| index.get(t)) else {
            continue;
        };
        let (idx, column) = (r[1].take().unwrap_or_default(), r[2].take());
        match found.last_mut() {
            Some((t, i, cols)) if *t == ti && *i == idx => cols.push(column),
            _ => found.push((ti, idx, vec![column])),
        }
    }
    for (ti, _, cols) in found {
        let leading: Vec<String> = cols.into_iter().map_while(|c| c).collect();
        if !leading.is_empty() {
            tables[ti].info.indexes.push(leading);
        }
    }
    Ok(())
}

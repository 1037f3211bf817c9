//! Bulk foreign-key checks, shared by the backends that suspend per-row
//! checks while an import loads: one anti-join per foreign key instead of
//! one lookup per row.

use crate::catalog::{ForeignKey, TableInfo};
use crate::error::{EngineError, Error, Orphan, Result};

/// How many violating rows a message lists.
pub const LISTED: usize = 10;

/// `SELECT key…, fk… FROM child c WHERE fk… NOT NULL AND NOT EXISTS (parent
/// row)`, limited to [`LISTED`] + 1 rows. Columns come back as the child's
/// key columns (primary key, else the foreign-key columns) followed by the
/// foreign-key columns.
pub fn violations_sql(quote: fn(&str) -> String, table: &TableInfo, fk: &ForeignKey) -> String {
    let key = key_columns(table, fk);
    let select: Vec<String> = key
        .iter()
        .chain(&fk.columns)
        .map(|c| format!("c.{}", quote(c)))
        .collect();
    let not_null: Vec<String> = fk
        .columns
        .iter()
        .map(|c| format!("c.{} IS NOT NULL", quote(c)))
        .collect();
    let matches: Vec<String> = fk
        .columns
        .iter()
        .zip(&fk.ref_columns)
        .map(|(c, r)| format!("p.{} = c.{}", quote(r), quote(c)))
        .collect();
    format!(
        "SELECT {} FROM {} c WHERE {} AND NOT EXISTS (SELECT 1 FROM {} p WHERE {}) LIMIT {}",
        select.join(", "),
        quote(&table.name),
        not_null.join(" AND "),
        quote(&fk.ref_table),
        matches.join(" AND "),
        LISTED + 1
    )
}

/// The columns that identify a row in messages.
pub fn key_columns<'a>(table: &'a TableInfo, fk: &'a ForeignKey) -> &'a [String] {
    if table.primary_key.is_empty() {
        &fk.columns
    } else {
        &table.primary_key
    }
}

/// The error for rows found by [`violations_sql`], each rendered as the
/// key's values then the foreign key's values; `constraint` is the foreign
/// key's name where the engine names it.
pub fn violation_error(
    table: &TableInfo,
    fk: &ForeignKey,
    constraint: Option<&str>,
    rows: &[Vec<String>],
) -> Error {
    let key = key_columns(table, fk);
    let orphans: Vec<Orphan> = rows
        .iter()
        .take(LISTED)
        .map(|r| {
            let (k, v) = r.split_at(key.len().min(r.len()));
            Orphan {
                key: pairs(key, k),
                values: v.to_vec(),
            }
        })
        .collect();
    EngineError::ForeignKeyViolated {
        table: table.name.clone(),
        columns: fk.columns.clone(),
        ref_table: fk.ref_table.clone(),
        ref_columns: fk.ref_columns.clone(),
        constraint: constraint.map(str::to_string),
        orphans,
        more: rows.len() > LISTED,
    }
    .into()
}

fn pairs(names: &[String], values: &[String]) -> String {
    names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs the check of every foreign key of `tables` with `query`, which
/// returns the rendered rows of one SQL statement.
pub fn check(
    quote: fn(&str) -> String,
    tables: &[&TableInfo],
    mut query: impl FnMut(&str) -> Result<Vec<Vec<String>>>,
) -> Result<()> {
    for table in tables {
        for fk in &table.foreign_keys {
            let rows = query(&violations_sql(quote, table, fk))?;
            if !rows.is_empty() {
                return Err(violation_error(table, fk, None, &rows));
            }
        }
    }
    Ok(())
}

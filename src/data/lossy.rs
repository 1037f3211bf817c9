//! Columns whose values the target cannot hold exactly, found from the
//! column types on both sides before any row moves (docs/types.md,
//! "Conversions that lose exactness").
//!
//! Most inexact values are caught one by one on their way in
//! (`backend::convert`), but an engine may convert a value on its own as
//! it stores it: SQLite turns decimal text in a NUMERIC column into an
//! INTEGER or a REAL. Such a column is refused, naming it, unless the plan
//! accepts the conversion (`[tables.NAME] accept_lossy`); an accepted one
//! is listed in the report, and `migplan plan` lists both kinds.

use serde::Serialize;

use crate::backend::{self, Engine};
use crate::catalog::{Catalog, ColumnInfo};
use crate::error::{LoadError, Result};
use crate::format::BackupMeta;
use crate::plan::{Plan, same_name};

/// One source column whose values the target column would not hold exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LossyColumn {
    pub table: String,
    pub column: String,
    /// The source column's declared type, e.g. `numeric(10,2)`.
    pub from: String,
    /// The target column's declared type.
    pub to: String,
    pub reason: String,
    /// The plan accepts the conversion (`accept_lossy`).
    pub accepted: bool,
}

impl LossyColumn {
    /// One line for people: the column, the types, the reason, the verdict.
    pub fn describe(&self) -> String {
        format!(
            "`{}`.`{}` ({} → {}): {}; {}",
            self.table,
            self.column,
            self.from,
            self.to,
            self.reason,
            if self.accepted {
                "accepted by `accept_lossy`, values are converted"
            } else {
                "refused"
            }
        )
    }
}

/// The columns of `tables` (a source's names and column types) that a
/// database of `engine` with `catalog` cannot hold exactly. Names are
/// matched exactly, else ignoring case (`data::names`).
pub fn find<'a>(
    plan: &Plan,
    engine: Engine,
    source_engine: &str,
    catalog: &Catalog,
    tables: impl IntoIterator<Item = (&'a str, &'a [ColumnInfo])>,
) -> Vec<LossyColumn> {
    let mut found = Vec::new();
    for (name, columns) in tables {
        let Some(info) = catalog
            .table(name)
            .or_else(|| catalog.tables.iter().find(|t| same_name(&t.name, name)))
        else {
            continue;
        };
        let accepted = super::import::accepted_lossy(plan, info);
        for from in columns {
            let Some(to) = info
                .column(&from.name)
                .or_else(|| info.columns.iter().find(|c| same_name(&c.name, &from.name)))
            else {
                continue;
            };
            if let Some(reason) = backend::inexact(engine, source_engine, from, to) {
                found.push(LossyColumn {
                    table: info.name.clone(),
                    column: to.name.clone(),
                    from: from.sql_type.clone(),
                    to: to.sql_type.clone(),
                    reason,
                    accepted: accepted.contains(&to.name),
                });
            }
        }
    }
    found
}

/// [`find`] over a backup's (or a copy source's) tables.
pub fn in_backup(
    plan: &Plan,
    engine: Engine,
    catalog: &Catalog,
    meta: &BackupMeta,
) -> Vec<LossyColumn> {
    find(
        plan,
        engine,
        &meta.source_engine,
        catalog,
        meta.tables
            .iter()
            .map(|t| (t.name.as_str(), t.columns.as_slice())),
    )
}

/// Every column not accepted, in one error naming each and the fixes;
/// nothing has been written yet.
pub fn refuse(label: &str, lossy: &[LossyColumn]) -> Result<()> {
    let refused: Vec<&LossyColumn> = lossy.iter().filter(|l| !l.accepted).collect();
    let Some(first) = refused.first() else {
        return Ok(());
    };
    let lines: Vec<String> = refused
        .iter()
        .map(|l| {
            format!(
                "  `{}`.`{}` ({} → {}): {}",
                l.table, l.column, l.from, l.to, l.reason
            )
        })
        .collect();
    Err(LoadError::LossyRefused {
        label: label.to_string(),
        lines,
        table: first.table.clone(),
        column: first.column.clone(),
    }
    .into())
}

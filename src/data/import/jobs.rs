//! How each table of a part is written: its columns matched to the
//! target's and checked before any row moves, its conflict key, its policy,
//! the columns whose values are checked on the way.

use std::collections::{HashMap, HashSet};

use super::parts::Part;
use crate::catalog::{Catalog, ColumnInfo, TableInfo};
use crate::data::select_tables;
use crate::error::{Error, LoadError, Result};
use crate::format::{BackupMeta, TableMeta};
use crate::plan::{Conflict, Plan, same_name};
use crate::value::ColumnType;

/// How one table of the backup is written.
pub(super) struct Job {
    pub(super) columns: Vec<String>,
    /// The target's column for each of `columns`.
    pub(super) targets: Vec<ColumnInfo>,
    pub(super) key: Vec<String>,
    /// Positions of the key columns in a backup row.
    pub(super) key_pos: Vec<usize>,
    /// Positions of the columns the target declares NOT NULL: a NULL there
    /// is refused before it is sent, naming the row.
    pub(super) not_null: Vec<usize>,
    /// Positions of text columns of the backup whose target column holds
    /// numbers: a text there must read as one, or it is refused before it
    /// is sent (SQLite would store `abc` in a DECIMAL column as it is).
    pub(super) numeric_from_text: Vec<usize>,
    /// Every column of the backup has its target column's portable type:
    /// values read back as written, so the whole-table digest may decide.
    pub(super) same_types: bool,
    pub(super) conflict: Conflict,
    /// Columns whose inexact conversion the plan accepts (`accept_lossy`).
    pub(super) lossy: Vec<String>,
}

pub(super) fn plan_jobs(
    plan: &Plan,
    catalog: &Catalog,
    part: &Part<'_>,
    conflict: Option<Conflict>,
    modules: &[String],
) -> Result<HashMap<String, Job>> {
    let chosen: Option<HashSet<String>> = if modules.is_empty() {
        None
    } else {
        Some(select_tables(plan, catalog, modules)?.into_iter().collect())
    };
    let (meta, noun) = (&part.meta, part.kind.noun());
    let mut jobs = HashMap::new();
    for t in &meta.tables {
        if chosen.as_ref().is_some_and(|c| !c.contains(&t.name)) {
            continue;
        }
        let info = catalog
            .table(&t.name)
            .ok_or_else(|| missing_table(&t.name, meta, noun))?;
        let conflict = conflict.unwrap_or_else(|| plan.conflict_for(&t.name));
        jobs.insert(t.name.clone(), job(plan, info, t, conflict, noun)?);
    }
    Ok(jobs)
}

fn missing_table(table: &str, meta: &BackupMeta, noun: &'static str) -> Error {
    // A copy source has no schema version of its own in its meta.
    let version = match meta.schema_version {
        Some(v) => format!(" ({noun} schema version {v})"),
        None if noun == "source" => String::new(),
        None => format!(" ({noun} schema version unknown)"),
    };
    LoadError::TableMissing {
        noun,
        table: table.to_string(),
        version,
    }
    .into()
}

fn job(
    plan: &Plan,
    info: &TableInfo,
    t: &TableMeta,
    conflict: Conflict,
    noun: &'static str,
) -> Result<Job> {
    check_columns(info, t, noun)?;
    let columns: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
    let key = plan
        .table_options(&t.name)
        .key
        .unwrap_or_else(|| info.primary_key.clone());
    if !key.is_empty() && !info.is_unique_key(&key) {
        return Err(LoadError::KeyNotUnique {
            table: t.name.clone(),
            key,
        }
        .into());
    }
    let pos = |cols: &[String]| -> Option<Vec<usize>> {
        cols.iter()
            .map(|c| columns.iter().position(|x| x == c))
            .collect()
    };
    let key_pos = pos(&key).ok_or_else(|| {
        Error::from(LoadError::KeyColumnLeftOut {
            noun,
            table: t.name.clone(),
            key: key.clone(),
        })
    })?;
    let targets: Vec<ColumnInfo> = columns
        .iter()
        .map(|c| info.column(c).expect("checked above").clone())
        .collect();
    let not_null = targets
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.nullable)
        .map(|(i, _)| i)
        .collect();
    let same_types = t
        .columns
        .iter()
        .zip(&targets)
        .all(|(c, target)| c.ty == target.ty);
    let lossy = accepted_lossy(plan, info);
    let numeric_from_text = t
        .columns
        .iter()
        .zip(&targets)
        .enumerate()
        .filter(|(_, (c, target))| {
            matches!(c.ty, ColumnType::Text | ColumnType::Any)
                && matches!(target.ty, ColumnType::Int | ColumnType::Decimal | ColumnType::Float)
                // Accepted: the engine stores it as it does.
                && !lossy.contains(&target.name)
        })
        .map(|(i, _)| i)
        .collect();
    Ok(Job {
        columns,
        numeric_from_text,
        same_types,
        targets,
        key,
        key_pos,
        not_null,
        conflict,
        lossy,
    })
}

/// The table's columns `[tables.NAME] accept_lossy` names (either
/// spelling): the backend converts their values as the engine does rather
/// than refuse them, whether the types or a value showed the conversion.
pub(in crate::data) fn accepted_lossy(plan: &Plan, info: &TableInfo) -> Vec<String> {
    let accepted = plan.table_options(&info.name).accept_lossy;
    info.columns
        .iter()
        .filter(|c| accepted.iter().any(|a| same_name(a, &c.name)))
        .map(|c| c.name.clone())
        .collect()
}

/// Every backup column must exist in the table; every required column of the
/// table must be in the backup.
/// A source column type the target column cannot hold exactly is refused
/// here, before any row moves (docs/types.md).
fn check_columns(info: &TableInfo, t: &TableMeta, noun: &'static str) -> Result<()> {
    let columns: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
    if let Some(c) = columns.iter().find(|c| info.column(c).is_none()) {
        return Err(LoadError::ColumnMissing {
            noun,
            table: info.name.clone(),
            column: c.clone(),
            help: match noun {
                "source" => "apply the schema scripts that add it to the target, or leave it out with `[tables.NAME] exclude`".to_string(),
                _ => format!("the {noun} may be from another schema version; upgrade it with version adapters or apply the matching schema scripts"),
            },
        }
        .into());
    }
    for from in &t.columns {
        let to = info.column(&from.name).expect("checked above");
        if !from.ty.carries_into(to.ty) {
            return Err(LoadError::TypeDoesNotCarry {
                noun,
                table: info.name.clone(),
                column: from.name.clone(),
                from: from.ty.name(),
                from_sql: from.sql_type.clone(),
                to: to.ty.name(),
                to_sql: to.sql_type.clone(),
                help: carry_help(from.ty, to.ty, &from.name, noun),
            }
            .into());
        }
    }
    if let Some(c) = info.columns.iter().find(|c| {
        !c.nullable
            && !c.has_default
            && !columns.contains(&c.name)
            && !info.primary_key.contains(&c.name)
    }) {
        return Err(LoadError::NotNullMissing {
            noun,
            table: info.name.clone(),
            column: c.name.clone(),
        }
        .into());
    }
    Ok(())
}

/// What to do about a column whose type does not carry into the target's;
/// a copy can leave the column out.
fn carry_help(from: ColumnType, to: ColumnType, column: &str, noun: &str) -> String {
    let fix = match (from, to) {
        (ColumnType::Set, ColumnType::Array) => format!(
            "a MySQL SET travels as its comma-separated labels (`a,b`), not as an array: make the target column text and convert it after the load (`string_to_array({column}, ',')`)"
        ),
        _ => "change the target column's type (docs/types.md lists what carries into what)".into(),
    };
    match noun {
        "source" => format!("{fix}, or leave the column out with `[tables.NAME] exclude`"),
        _ => fix,
    }
}

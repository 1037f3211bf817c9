//! The data phase: export, import and copy in DAG order. The only
//! part of migplan that sees both a backend and a format.

mod chain;
mod closure;
mod copy;
mod export;
mod import;
pub mod lossy;
mod names;
mod parallel;
pub mod preview;
mod progress;
mod readback;
pub mod report;
pub mod safety;
mod sequences;
mod verify;

pub use chain::{check_inputs, import_files, ordered as chain_order};
pub use closure::tables as closure_tables;
pub use copy::{CopyOptions, copy};
pub use export::{ExportOptions, export, unindexed_changes};
pub use import::{ImportOptions, import, upgrade_chain};
pub use lossy::LossyColumn;
pub use report::{ChainReport, ExportReport, ImportReport, TableCounts, human_bytes};
pub use verify::{
    ChangedRow, ColumnChange, TableDiff, VerifyOptions, VerifyReport, verify, verify_with_layout,
};

use crate::catalog::Catalog;
use crate::error::{LoadError, Result};
use crate::plan::Plan;

/// The tables a run covers, in plan order: the chosen modules' tables, or
/// every table of the database when the plan declares no modules.
pub fn select_tables(plan: &Plan, catalog: &Catalog, modules: &[String]) -> Result<Vec<String>> {
    if plan.modules.is_empty() {
        if !modules.is_empty() {
            return Err(LoadError::NoModulesDeclared.into());
        }
        return Ok(catalog.names().map(String::from).collect());
    }
    for m in modules {
        if plan.module(m).is_none() {
            let known: Vec<String> = plan
                .modules
                .iter()
                .map(|m| format!("`{}`", m.name))
                .collect();
            return Err(LoadError::UnknownModule {
                module: m.clone(),
                known,
            }
            .into());
        }
    }
    let mut tables = Vec::new();
    for module in plan
        .modules
        .iter()
        .filter(|m| modules.is_empty() || modules.contains(&m.name))
    {
        for t in &module.tables {
            // The database's spelling, matched ignoring case when not exact
            // (a copy plan's module lists the source's names).
            let found = catalog.table(t).map(|i| &i.name).or_else(|| {
                catalog
                    .tables
                    .iter()
                    .find(|i| crate::plan::same_name(&i.name, t))
                    .map(|i| &i.name)
            });
            let Some(name) = found else {
                return Err(LoadError::ModuleTableMissing {
                    module: module.name.clone(),
                    table: t.clone(),
                }
                .into());
            };
            tables.push(name.clone());
        }
    }
    Ok(tables)
}

/// Database tables no module of the plan covers (they are left out).
pub fn uncovered_tables<'a>(plan: &Plan, catalog: &'a Catalog) -> Vec<&'a str> {
    if plan.modules.is_empty() {
        return vec![];
    }
    catalog
        .names()
        .filter(|t| plan.module_of(t).is_none())
        .collect()
}

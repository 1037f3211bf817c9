//! The import preview the console shows before an import is confirmed: the
//! import run as a dry run that classes every row (new, identical,
//! changed, conflict, failing) into a store on disk, paged afterwards with
//! [`PreviewStore`]. Not a run of record: it changes nothing.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::backend::{self, OpenOptions};
use crate::data;
pub use crate::data::preview::{
    ColumnChange, Implied, PreviewRow, PreviewStore, RowClass, TablePreview,
};
use crate::error::{LoadError, Result};
use crate::plan::Plan;
use crate::policy::Conflict;

use super::*;

#[derive(Debug, Clone, Default)]
pub struct PreviewRequest {
    /// Database URL, overriding the plan's `[database] url`.
    pub db: Option<String>,
    /// The plan: its modules, policies, adapters and limits apply. Without
    /// one, as `migplan import --db` without a plan: every table of the
    /// file, `db` required.
    pub plan: Option<PathBuf>,
    /// The plan's `[env.NAME]` (default: `MIGPLAN_ENV`, if set).
    pub env: Option<String>,
    /// The backup, workbook or chain to preview (default: `[import] file`).
    pub files: Vec<PathBuf>,
    /// Modules to import (all when empty).
    pub modules: Vec<String>,
    /// Conflict policy for every table, overriding the plan.
    pub conflict: Option<Conflict>,
    /// A module's policy, overriding the plan's for that module (and
    /// `conflict` for its tables).
    pub module_conflicts: HashMap<String, Conflict>,
    /// The SQLite file every row's verdict goes to (replaced if there).
    pub store: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct PreviewOutcome {
    /// The files previewed, as given (a chain's in order).
    pub files: Vec<String>,
    /// The database's schema version the rows were previewed against.
    pub schema_version: Option<i64>,
    /// Tables in import order.
    pub tables: Vec<TablePreview>,
    /// Where the rows are: open it with [`PreviewStore::open`].
    pub store: PathBuf,
}

impl PreviewOutcome {
    /// Whether the import under these policies would fail (and change
    /// nothing): some row is refused.
    pub fn would_fail(&self) -> bool {
        self.tables.iter().any(|t| t.implied.refused > 0)
    }
}

/// Previews an import: every row classed, nothing changed.
pub fn preview(req: &PreviewRequest) -> Result<PreviewOutcome> {
    let mut plan = match (&req.plan, &req.db) {
        (Some(p), _) => load_plan(p, req.env.as_deref())?,
        (None, Some(url)) => adhoc_plan(PlanKind::Import, url)?,
        (None, None) => {
            return Err(Error::NoDatabase {
                plan: None,
                section: "database",
            });
        }
    };
    policies(&mut plan, req)?;
    let files = match req.files.is_empty() {
        true => plan.import.file.clone().into_iter().collect(),
        false => req.files.clone(),
    };
    if files.is_empty() {
        return Err(Error::NoBackupToImport);
    }
    data::check_inputs(&files)?;
    let url = database_url(&plan, req.db.as_deref())?;
    // A preview never creates a database: there must be one to compare with.
    let mut db = backend::open(&url, &OpenOptions::default())?;
    let status = status_of(&plan, db.as_mut())?;
    if plan.schema.apply && !status.pending.is_empty() {
        crate::events::note(format!(
            "{} pending schema script(s) are not applied by a preview: rows are previewed against the schema as it is",
            status.pending.len()
        ));
    }
    // The policies are all on the plan now (see `policies`).
    let load = Load::default();
    let opts = load.import(&req.modules, true, status.version(), None);
    let tables = data::preview::preview(db.as_mut(), &plan, &files, &opts, &req.store)?;
    Ok(PreviewOutcome {
        files: files.iter().map(|f| f.display().to_string()).collect(),
        schema_version: status.version(),
        tables,
        store: req.store.clone(),
    })
}

/// The request's policies, set on the plan: `conflict` for every table,
/// then a module's own over it; a module the plan does not declare is
/// refused, naming the ones it does.
fn policies(plan: &mut Plan, req: &PreviewRequest) -> Result<()> {
    if let Some(conflict) = req.conflict {
        plan.import.conflict = conflict;
        for module in &mut plan.modules {
            module.conflict = Some(conflict);
        }
    }
    for (name, &conflict) in &req.module_conflicts {
        let known: Vec<String> = plan
            .modules
            .iter()
            .map(|m| format!("`{}`", m.name))
            .collect();
        let Some(module) = plan.modules.iter_mut().find(|m| &m.name == name) else {
            if plan.modules.is_empty() {
                return Err(LoadError::NoModulesDeclared.into());
            }
            return Err(LoadError::UnknownModule {
                module: name.clone(),
                known,
            }
            .into());
        };
        module.conflict = Some(conflict);
    }
    Ok(())
}

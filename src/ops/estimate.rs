//! What an export would cover, before it runs (the console's export
//! wizard): its tables in load order, the ones `closure` pulls in and why,
//! and their rows from the engine's statistics, no row read.

use serde::Serialize;

use crate::backend::{self, Backend, OpenOptions};
use crate::dag::Dag;
use crate::data;
use crate::error::Result;

use super::*;

/// The export to estimate.
#[derive(Debug, Clone, Default)]
pub struct EstimateRequest {
    pub plan: PathBuf,
    /// The plan's `[env.NAME]` (default: `MIGPLAN_ENV`, if set).
    pub env: Option<String>,
    /// The database, instead of the plan's `[database] url`.
    pub db: Option<String>,
    /// The modules to export; none: every table of the plan (a full export).
    pub modules: Vec<String>,
    /// Also the rows the modules' rows reference (`[export] closure`);
    /// only with modules.
    pub closure: bool,
}

/// The tables of an export, in the order it writes them.
#[derive(Debug, Serialize)]
pub struct Estimate {
    pub tables: Vec<TableEstimate>,
    pub total_rows: u64,
}

#[derive(Debug, Serialize)]
pub struct TableEstimate {
    pub table: String,
    /// The table's module; `None` for a table the closure pulls in (it is
    /// exported for its referenced rows, whatever its module).
    pub module: Option<String>,
    /// The table's rows: the engine's statistics where it keeps them, else
    /// a count. For a pulled-in table, an upper bound: only the rows
    /// referenced are exported.
    pub rows_estimate: u64,
    /// Why the closure pulled this table in: the references to it from the
    /// tables already exported (`questions.created_by → users`).
    pub pulled_in_by: Option<String>,
}

/// `estimate(req)`: the tables a modules (or full) export of the plan would
/// cover, in DAG order, with a cheap row estimate each.
pub fn estimate(req: &EstimateRequest) -> Result<Estimate> {
    let plan = load_plan(&req.plan, req.env.as_deref())?;
    let url = database_url(&plan, req.db.as_deref())?;
    let mut db = backend::open(&url, &OpenOptions::default())?;
    let catalog = db.catalog()?;
    let mut tables = data::select_tables(&plan, &catalog, &req.modules)?;
    // As an export: the closure belongs to modules exports alone.
    let pulled = match req.closure && !req.modules.is_empty() {
        true => data::closure_tables(&catalog, &tables),
        false => vec![],
    };
    tables.extend(pulled.iter().map(|(t, _)| t.clone()));
    let dag = Dag::build(&plan, &catalog, &tables)?;
    let mut out = vec![];
    for t in dag.order() {
        let reasons = pulled.iter().find(|(p, _)| p == t).map(|(_, r)| r);
        out.push(TableEstimate {
            table: t.to_string(),
            module: match reasons {
                Some(_) => None,
                None => plan.module_of(t).map(|m| m.name.clone()),
            },
            rows_estimate: rows_estimate(db.as_mut(), t)?,
            pulled_in_by: reasons.map(|r| because(r, t)),
        });
    }
    Ok(Estimate {
        total_rows: out.iter().map(|t| t.rows_estimate).sum(),
        tables: out,
    })
}

/// The statistics' rows where the engine keeps them, else a count.
fn rows_estimate(db: &mut dyn Backend, table: &str) -> Result<u64> {
    match db.estimated_rows(table)? {
        Some(n) => Ok(n),
        None => db.count_rows(table),
    }
}

/// `questions.book_id → question_books, answers.question_id → …`.
fn because(references: &[String], table: &str) -> String {
    let each: Vec<String> = references
        .iter()
        .map(|r| format!("{r} → {table}"))
        .collect();
    each.join(", ")
}

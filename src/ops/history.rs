//! `migplan history`: the runs recorded in a database.

use crate::backend::{self, OpenOptions};
use crate::error::Result;
use crate::history;

use super::*;

#[derive(Debug, Clone, Default)]
pub struct HistoryRequest {
    /// A plan, whose database is read.
    pub plan: Option<PathBuf>,
    /// A run to show whole, instead of the latest runs.
    pub run: Option<i64>,
    /// Database URL, instead of a plan's.
    pub db: Option<String>,
    /// How many runs to list.
    pub limit: usize,
}

/// The runs asked for.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum HistoryOutcome {
    /// One run, whole.
    Run(Box<history::Run>),
    /// The latest runs, newest first.
    List(Vec<history::Run>),
}

/// `migplan history [PLAN] [RUN_ID] [--db URL]`.
pub fn history(args: &HistoryRequest) -> Result<HistoryOutcome> {
    let (_, url) = plan_and_database(args.plan.as_deref(), args.db.as_deref())?;
    let id = args.run;
    let mut db = backend::open(&url, &OpenOptions::default())?;
    if let Some(id) = id {
        let mut run = recorded_run(db.as_mut(), &url, id)?;
        let free = run.status == history::Status::Running && lock_free(db.as_mut())?;
        history::show_interrupted(std::slice::from_mut(&mut run), free);
        return Ok(HistoryOutcome::Run(Box::new(run)));
    }
    let mut runs = history::list(db.as_mut(), args.limit)?;
    let free = runs.iter().any(|r| r.status == history::Status::Running) && lock_free(db.as_mut())?;
    history::show_interrupted(&mut runs, free);
    Ok(HistoryOutcome::List(runs))
}

//! `migplan import` without a plan, and import reports.

use std::path::Path;

use crate::backend::{self, Backend, DbUrl};
use crate::data;
use crate::error::Result;
use crate::history;
use crate::plan::PlanKind;
use crate::schema::Scripts;

use super::*;

#[derive(Debug, Clone, Default)]
pub struct ImportRequest {
    pub db: String,
    /// The backup, or an incremental chain: the full backup, then its
    /// increments in order (or one folder of them).
    pub files: Vec<PathBuf>,
    pub load: Load,
    pub dry_run: bool,
    /// Accepted for symmetry with `run`: without a plan there is no
    /// environment that asks for confirmation.
    pub yes: bool,
    pub record: Record,
}

/// Several backups picked in any order, put in chain order (base first,
/// each increment after the one it follows) and checked as a chain.
pub fn chain_order(files: &[std::path::PathBuf]) -> Result<Vec<std::path::PathBuf>> {
    data::chain_order(files)
}

/// `migplan import --db URL FILE`.
pub fn import_shortcut(args: &ImportRequest) -> Result<Outcome> {
    let plan = adhoc_plan(PlanKind::Import, "sqlite://:memory:")?;
    let url = DbUrl::parse(&args.db, Path::new("."))?;
    data::check_inputs(&args.files)?;
    let mut db = backend::open(&url, &waiting(&args.record))?;
    let version = Scripts::none()
        .status(db.as_mut(), None)
        .map_err(|e| history::explain_busy(db.as_mut(), e))?
        .version();
    let work = |db: &mut dyn Backend, end: &mut history::End| {
        if !args.dry_run {
            backup_before(&plan, db, version, end)?;
        }
        let opts = args.load.import(&[], args.dry_run, version, end.run_id);
        let reports = data::import_files(db, &plan, &args.files, &opts)?;
        end.tables = serde_json::to_value(&reports).ok();
        end.schema_after = version;
        Ok(Outcome::Imports {
            dry_run: args.dry_run,
            reports,
        })
    };
    if args.dry_run {
        return work(db.as_mut(), &mut history::End::default());
    }
    let mut start = history_start(&plan, "import", &args.record, version);
    start.plan = "(import command)".into();
    start.plan_sha256 = None;
    recorded(db.as_mut(), &args.record, start, (&plan, &url), work)
}

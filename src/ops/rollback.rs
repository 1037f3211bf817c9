//! `migplan rollback`: a database put back as it was before a recorded run.

use std::path::PathBuf;

use crate::backend::{self, Backend};
use crate::data::{self, ImportOptions};
use crate::error::{Error, Result};
use crate::format;
use crate::history;
use crate::plan::PlanKind;

use crate::error::Unrollbackable;

use super::*;

#[derive(Debug, Clone, Default)]
pub struct RollbackRequest {
    /// The plan whose database (and undo scripts) to use, if any.
    pub plan: Option<PathBuf>,
    /// The run to undo.
    pub run: i64,
    /// Database URL, instead of a plan's.
    pub db: Option<String>,
    /// Go ahead without asking (rollback always asks on a terminal).
    pub yes: bool,
    /// Roll back even though later runs changed the database (their
    /// changes are undone too).
    pub force: bool,
    pub record: Record,
}

/// A run undone: the backup restored, and what restoring it did.
#[derive(Debug, Serialize)]
pub struct RollbackOutcome {
    pub run: i64,
    pub backup: PathBuf,
    pub reports: Vec<data::ImportReport>,
}

/// `migplan rollback [PLAN] RUN_ID [--db URL]`: the database as it was
/// before the run, from the backup taken then; the run's schema scripts are
/// undone first (which needs the plan, for its undo scripts).
pub fn rollback(args: &RollbackRequest) -> Result<RollbackOutcome> {
    let (plan, url) = plan_and_database(args.plan.as_deref(), args.db.as_deref())?;
    let id = args.run;
    let mut db = backend::open(&url, &waiting(&args.record))?;
    let mut run =
        recorded_run(db.as_mut(), &url, id).map_err(|e| history::explain_busy(db.as_mut(), e))?;
    let gone = run.status == history::Status::Running && lock_free(db.as_mut())?;
    history::show_interrupted(std::slice::from_mut(&mut run), gone);
    // Refused early, before asking; checked again under the lock. The
    // backup must be readable (an encrypted one needs its key) before
    // anything is recorded, backed up or undone.
    let backup = rollback_source(db.as_mut(), &run, args.force)?;
    format::check_readable(&backup)?;
    let schema_changed = run.schema_after.unwrap_or(0) != run.schema_before.unwrap_or(0);
    let plan = match plan {
        Some(p) => p,
        None if schema_changed => {
            return Err(Error::RollbackNeedsPlan {
                run: id,
                from: run.schema_before.unwrap_or(0),
                to: run.schema_after.unwrap_or(0),
            });
        }
        None => adhoc_plan(PlanKind::Import, "sqlite://:memory:")?,
    };
    let action = format!("restore the database to its state before run {id}");
    crate::confirm::always(&plan, &url, &action, args.yes)?;
    let before = status_of(&plan, db.as_mut())?.version();
    let mut start = history_start(&plan, "rollback", &args.record, before);
    if start.message.is_none() {
        start.message = Some(format!("rollback of run {id}"));
    }
    // Whatever the message says, the entry names the run it undid.
    start.notes.insert(
        0,
        format!(
            "undoes run {id} ({} of plan {}, started {})",
            run.kind, run.plan, run.started_at
        ),
    );
    recorded(
        db.as_mut(),
        &args.record,
        start,
        (&plan, &url),
        |db, end| {
            end.undoes = Some(id);
            // Again under the run lock: a run that committed while this one
            // waited for the lock (or asked) must not be undone unawares.
            let run = recorded_run(db, &url, id)?;
            let backup = rollback_source(db, &run, args.force)?;
            backup_before(&plan, db, before, end)?;
            if schema_changed {
                let to = run.schema_before.unwrap_or(0);
                for undone in scripts(&plan, db)?.down(db, to, false)? {
                    crate::events::step(format!("ran {undone}"));
                }
            }
            let version = status_of(&plan, db)?.version();
            end.schema_after = version;
            let opts = ImportOptions {
                conflict: Some(crate::plan::Conflict::Overwrite),
                triggers: None,
                modules: vec![],
                dry_run: false,
                schema_version: version,
                replace: true,
                run_id: end.run_id,
                // Marked in the restore's own transaction (a recorded run).
                undoes: Some(id),
            };
            let reports = data::import_files(db, &plan, std::slice::from_ref(&backup), &opts)?;
            end.tables = serde_json::to_value(&reports).ok();
            if end.run_id.is_none() {
                history::mark_rolled_back(db, id)?;
            }
            Ok(RollbackOutcome {
                run: id,
                backup,
                reports,
            })
        },
    )
}

/// The backup a rollback of `run` restores, once the run may be rolled
/// back: it ended, it has a backup, and no later run changed the database
/// (unless `force`).
pub(crate) fn rollback_source(
    db: &mut dyn Backend,
    run: &history::Run,
    force: bool,
) -> Result<PathBuf> {
    let id = run.id;
    let refused = |why| Err(Error::NotRollbackable { run: id, why });
    match run.status {
        history::Status::Running => return refused(Unrollbackable::StillRunning),
        history::Status::RolledBack => return refused(Unrollbackable::AlreadyRolledBack),
        _ => {}
    }
    let Some(file) = run.backup.as_ref().map(PathBuf::from) else {
        return refused(Unrollbackable::NoBackup);
    };
    if !file.exists() {
        return refused(Unrollbackable::BackupGone(file));
    }
    let later: Vec<String> = history::list(db, usize::MAX >> 1)?
        .into_iter()
        .filter(|r| r.id > id && r.status == history::Status::Succeeded)
        // A backup taken on demand changed nothing a rollback would undo.
        .filter(|r| r.kind != history::BACKUP_KIND)
        .map(|r| format!("{} ({})", r.id, r.kind))
        .collect();
    if !later.is_empty() && !force {
        return Err(Error::LaterRuns { run: id, later });
    }
    Ok(file)
}

/// What a rollback of a run would do, asked before it is done (the
/// console's rollback page): the backup it restores, the schema scripts it
/// undoes, each table's rows now and after; or why it is refused.
#[derive(Debug, Serialize)]
pub struct RollbackPreview {
    pub run: i64,
    pub backup: Option<PathBuf>,
    /// Why the rollback is refused, as the CLI would refuse it.
    pub refusal: Option<Refusal>,
    /// Refused only because later runs changed the database: `force`
    /// would go ahead (and undo their changes too).
    pub forceable: bool,
    pub undo_scripts: Vec<String>,
    pub tables: Vec<RestoredTable>,
}

#[derive(Debug, Serialize)]
pub struct Refusal {
    pub message: String,
    pub help: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct RestoredTable {
    pub table: String,
    /// `None` while a running import holds the table.
    pub rows_now: Option<u64>,
    /// Rows in the backup: the table's rows after the restore.
    pub rows_after: Option<u64>,
}

/// Previews `rollback(args)`, changing nothing; `args.force` is ignored
/// (the preview says whether forcing would help).
pub fn rollback_preview(args: &RollbackRequest) -> Result<RollbackPreview> {
    let (plan, url) = plan_and_database(args.plan.as_deref(), args.db.as_deref())?;
    let mut db = backend::open(&url, &OpenOptions::default())?;
    let db = db.as_mut();
    let mut run = recorded_run(db, &url, args.run)?;
    let gone = run.status == history::Status::Running && lock_free(db)?;
    history::show_interrupted(std::slice::from_mut(&mut run), gone);
    let refusal_of = |e: Error| Refusal {
        message: e.message(),
        help: e.help(),
    };
    let (backup, refusal, forceable) = match rollback_source(db, &run, false) {
        Ok(file) => (Some(file), None, false),
        Err(e @ Error::LaterRuns { .. }) => (
            rollback_source(db, &run, true).ok(),
            Some(refusal_of(e)),
            true,
        ),
        Err(e) => (
            run.backup.as_ref().map(PathBuf::from),
            Some(refusal_of(e)),
            false,
        ),
    };
    let undo_scripts = match &plan {
        Some(p) if run.schema_after.unwrap_or(0) != run.schema_before.unwrap_or(0) => {
            let to = run.schema_before.unwrap_or(0);
            scripts(p, db)?
                .plan_down(db, to)?
                .iter()
                .map(|p| p.label.clone())
                .collect()
        }
        _ => vec![],
    };
    let after: std::collections::HashMap<String, u64> =
        match backup.as_deref().filter(|f| f.exists()) {
            Some(f) => format::read_meta(f)?
                .tables
                .into_iter()
                .map(|t| (t.name, t.rows))
                .collect(),
            None => Default::default(),
        };
    let mut tables = vec![];
    for t in db.catalog()?.tables {
        tables.push(RestoredTable {
            rows_now: db.count_rows_unless_locked(&t.name)?,
            rows_after: after.get(&t.name).copied().or(Some(0)),
            table: t.name,
        });
    }
    Ok(RollbackPreview {
        run: run.id,
        backup,
        refusal,
        forceable,
        undo_scripts,
        tables,
    })
}

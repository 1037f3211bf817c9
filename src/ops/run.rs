//! `migplan run PLAN`: schema scripts, then the plan's export, import or copy.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, FixedOffset};

use crate::backend::Backend;
use crate::data;
use crate::error::{Error, Result};
use crate::format;
use crate::history;
use crate::plan::{ExportMode, Plan, PlanKind};

use super::*;

#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    /// The plan file.
    pub plan: PathBuf,
    /// The plan's `[env.NAME]` to run in (default: `MIGPLAN_ENV`, if set).
    pub env: Option<String>,
    /// Go ahead without asking, where the plan's environment has
    /// `confirm = true` (needed when there is no terminal to ask on).
    pub yes: bool,
    /// Database URL, overriding `[database] url`.
    pub db: Option<String>,
    /// Source database URL of a copy plan, overriding `[source] url`.
    pub source: Option<String>,
    /// Target database URL of a copy plan, overriding `[target] url`.
    pub target: Option<String>,
    /// Backup to write, overriding `[export] output`.
    pub output: Option<PathBuf>,
    /// Backup to import, overriding `[import] file`. Repeat it for an
    /// incremental chain (the full backup first), or name a folder.
    pub file: Vec<PathBuf>,
    /// Incremental start (RFC 3339), overriding `[export] since`.
    pub since: Option<String>,
    /// The previous backup of an incremental chain: the export records its
    /// id and, unless `--since` is given, starts at its export time.
    pub follows: Option<PathBuf>,
    /// Modules to export or import (comma-separated).
    pub modules: Vec<String>,
    /// Modules export: add the rows the modules' rows reference, overriding
    /// `[export] closure`.
    pub closure: bool,
    /// Tables read at once, overriding `[export] jobs`.
    pub jobs: Option<usize>,
    /// An export plan's `mode`, `since` and `modules` set aside: every row
    /// of every table, unless this request's own `since`, `follows` or
    /// `modules` say otherwise (a front door that asks for everything).
    pub full: bool,
    pub load: Load,
    /// Import inside a transaction, print the report, roll back; pending
    /// schema scripts are listed, not applied.
    pub dry_run: bool,
    /// Change data even where the plan's environment has `dry_run = true`.
    pub no_dry_run: bool,
    /// MySQL/MariaDB: continue a schema script the journal marks as
    /// interrupted, from the statement it reached.
    pub resume: bool,
    /// Never load the plan's `[database] seed`, even into an empty
    /// database (imports never do).
    pub no_seed: bool,
    pub record: Record,
}

/// `migplan run PLAN`.
pub fn run(args: &RunRequest) -> Result<Outcome> {
    let mut plan = load_plan(&args.plan, args.env.as_deref())?;
    apply_overrides(&mut plan, args)?;
    let dry_run = dry_run(&plan, args);
    let follows = follows(&mut plan, args.follows.as_deref(), args.since.is_some())?;
    if plan.kind == PlanKind::Copy {
        return copy(&plan, args, dry_run);
    }
    let files = import_files(&plan, args)?;
    let url = database_url(&plan, args.db.as_deref())?;
    // Before anything is written: no backup, no script for a bad file.
    data::check_inputs(&files)?;
    let import = (!files.is_empty()).then(|| format!("import {}", shown(&files)));
    let confirmed = Confirmed {
        yes: args.yes,
        dry_run,
        wait: Duration::from_secs(args.record.lock_timeout),
    };
    let mut db = confirmed.open(&plan, &url, import)?;
    let status =
        status_of(&plan, db.as_mut()).map_err(|e| history::explain_busy(db.as_mut(), e))?;
    let before = status.version();
    // Dry runs roll back and exports change nothing, unless schema scripts
    // are pending: neither is then a run of record, nor needs the database
    // to itself.
    let changes = !dry_run
        && (plan.kind != PlanKind::Export || (plan.schema.apply && !status.pending.is_empty()));
    let steps = Steps {
        args,
        dry_run,
        changes,
        before,
        files,
        follows,
    };
    if !changes {
        return run_steps(&plan, db.as_mut(), steps, &mut history::End::default());
    }
    let start = history_start(&plan, plan.kind.name(), &args.record, before);
    recorded(
        db.as_mut(),
        &args.record,
        start,
        (&plan, &url),
        |db, end| run_steps(&plan, db, steps, end),
    )
}

/// What `run` settled before opening the database.
pub(crate) struct Steps<'a> {
    args: &'a RunRequest,
    dry_run: bool,
    /// The run changes the database (a run of record, backed up first).
    changes: bool,
    /// The schema version before the run.
    before: Option<i64>,
    files: Vec<PathBuf>,
    follows: Option<String>,
}

/// The steps of `run` after the database is open.
pub(crate) fn run_steps(
    plan: &Plan,
    db: &mut dyn Backend,
    steps: Steps<'_>,
    end: &mut history::End,
) -> Result<Outcome> {
    let Steps {
        args,
        dry_run,
        changes,
        before,
        files,
        follows,
    } = steps;
    if changes {
        backup_before(plan, db, before, end)?;
    }
    let status = schema_phase(plan, db, dry_run, args.resume)?;
    end.schema_after = status.version();
    // A seed is demo data for exports and migrations: an import brings its
    // own rows, and rows never in the user's backup must not join them.
    if plan.kind != PlanKind::Import && !args.no_seed {
        seed_if_empty(plan, db, status.version())?;
    }
    match plan.kind {
        PlanKind::Migrate => Ok(Outcome::Schema(status_of(plan, db)?)),
        PlanKind::Copy => unreachable!("handled by `run`"),
        PlanKind::Export => {
            export(plan, db, args.output.as_deref(), status.version(), follows).map(Outcome::Export)
        }
        PlanKind::Import => {
            let opts = args
                .load
                .import(&args.modules, dry_run, status.version(), end.run_id);
            let reports = data::import_files(db, plan, &files, &opts)
                .map_err(|e| interrupted_after_scripts(e, before, status.version(), end))?;
            end.tables = serde_json::to_value(&reports).ok();
            Ok(Outcome::Imports { dry_run, reports })
        }
    }
}

/// A Ctrl-C during the data phase of a run that applied schema scripts:
/// the rows rolled back but the scripts are committed, and the message
/// must not say "nothing was changed".
fn interrupted_after_scripts(
    e: Error,
    before: Option<i64>,
    after: Option<i64>,
    end: &history::End,
) -> Error {
    match e {
        Error::Cancelled if before != after => Error::CancelledAfterScripts {
            run: end.run_id.filter(|_| end.backup.is_some()),
            before,
            after,
        },
        e => e,
    }
}

/// The backups an import plan reads (`--file`, else `[import] file`);
/// empty for the other kinds.
pub(crate) fn import_files(plan: &Plan, args: &RunRequest) -> Result<Vec<PathBuf>> {
    if plan.kind != PlanKind::Import {
        return Ok(vec![]);
    }
    let files: Vec<PathBuf> = if args.file.is_empty() {
        plan.import.file.clone().into_iter().collect()
    } else {
        args.file.clone()
    };
    if files.is_empty() {
        return Err(Error::NoBackupToImport);
    }
    Ok(files)
}

pub(crate) fn shown(files: &[PathBuf]) -> String {
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    names.join(", ")
}

/// `--dry-run`, or the environment's `dry_run = true` unless `--no-dry-run`
/// (said on stderr, so a report in JSON stays clean).
pub(crate) fn dry_run(plan: &Plan, args: &RunRequest) -> bool {
    if args.dry_run {
        return true;
    }
    let Some(env) = plan.environment.as_ref().filter(|e| e.dry_run) else {
        return false;
    };
    if args.no_dry_run {
        return false;
    }
    crate::events::note(format!(
        "dry run because environment `{}` sets `dry_run = true`: nothing in the database will change; pass --no-dry-run to change data",
        env.name
    ));
    true
}

/// `--follows PREVIOUS`: the export becomes an increment of the chain that
/// ends at PREVIOUS. It records PREVIOUS's id and, unless `--since` was
/// given, starts at PREVIOUS's export time. Returns the id followed.
/// How far before the previous backup's export time an increment starts.
/// Change columns are often coarser than the export time (whole seconds,
/// `DATETIME(0)` rounding) or stamped by the server's clock; rows changed
/// within the margin travel twice, which restoring (overwrite) makes
/// harmless, rather than not at all.
pub(crate) const FOLLOWS_MARGIN: chrono::TimeDelta = chrono::TimeDelta::seconds(2);

pub(crate) fn follows(
    plan: &mut Plan,
    previous: Option<&Path>,
    since_flag: bool,
) -> Result<Option<String>> {
    let Some(previous) = previous else {
        return Ok(None);
    };
    if plan.kind != PlanKind::Export {
        return Err(Error::MisusedOption {
            option: "follows",
            message: "`--follows` applies to export plans: it names the backup an incremental export follows".into(),
        });
    }
    if plan.export.mode == ExportMode::Modules {
        return Err(Error::MisusedOption {
            option: "follows",
            message: "`--follows` makes an incremental export; the plan's mode is `modules`".into(),
        });
    }
    let meta = format::read_meta(previous)?;
    let id = meta.backup_id.clone().ok_or_else(|| Error::NotChainable {
        file: previous.to_path_buf(),
    })?;
    let exported = parse_since(&meta.exported_at)?;
    match plan.export.since {
        Some(s) if since_flag && s > exported => {
            return Err(Error::SinceAfterPrevious {
                since: s.to_rfc3339(),
                previous: previous.to_path_buf(),
                exported: meta.exported_at,
            });
        }
        Some(_) if since_flag => {}
        _ => plan.export.since = Some(exported - FOLLOWS_MARGIN),
    }
    plan.export.mode = ExportMode::Incremental;
    Ok(Some(id))
}

pub(crate) fn apply_overrides(plan: &mut Plan, args: &RunRequest) -> Result<()> {
    for (name, conflict) in &args.load.per_module {
        let known: Vec<String> = plan
            .modules
            .iter()
            .map(|m| format!("`{}`", m.name))
            .collect();
        let module = plan.modules.iter_mut().find(|m| &m.name == name);
        let Some(module) = module else {
            return Err(crate::error::LoadError::UnknownModule {
                module: name.clone(),
                known,
            }
            .into());
        };
        module.conflict = Some(*conflict);
    }
    if args.full && plan.kind == PlanKind::Export {
        plan.export.mode = ExportMode::Full;
        plan.export.since = None;
        plan.export.modules.clear();
    }
    if let Some(s) = &args.since {
        plan.export.since = Some(parse_since(s)?);
        if plan.export.mode == ExportMode::Full {
            plan.export.mode = ExportMode::Incremental;
        }
    }
    if !args.modules.is_empty() {
        plan.export.modules = args.modules.clone();
        if plan.export.mode == ExportMode::Full {
            plan.export.mode = ExportMode::Modules;
        }
    }
    if args.closure {
        if plan.kind != PlanKind::Export {
            return Err(Error::MisusedOption {
            option: "closure",
            message: "`--closure` applies to export plans: it adds referenced rows to a modules export".into(),
        });
        }
        plan.export.closure = true;
    }
    if let Some(jobs) = args.jobs {
        plan.export.jobs = Some(jobs);
    }
    // An environment's `dry_run` applies to every kind (no schema script
    // runs); the flag is refused where it would mean nothing.
    if args.dry_run && plan.kind == PlanKind::Export {
        return Err(Error::MisusedOption {
            option: "dry-run",
            message: "`--dry-run` applies to import, copy and migrate plans: an export changes no data (`migplan schema up PLAN --dry-run` lists pending schema scripts)".into(),
        });
    }
    if plan.kind == PlanKind::Copy && args.db.is_some() {
        return Err(Error::MisusedOption {
            option: "db",
            message:
                "a copy plan has two databases: use `--source URL` and `--target URL`, not `--db`"
                    .into(),
        });
    }
    if plan.kind != PlanKind::Copy && (args.source.is_some() || args.target.is_some()) {
        return Err(Error::MisusedOption {
            option: "source",
            message: "`--source` and `--target` apply to copy plans; use `--db URL`".into(),
        });
    }
    Ok(())
}

pub(crate) fn parse_since(s: &str) -> Result<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).map_err(|e| {
        Error::BadFlag {
            flag: "since",
            value: s.to_string(),
            problem: format!(
                "is not an RFC 3339 time ({e})\n  = help: for example 2025-06-01T00:00:00Z or 2025-06-01T08:00:00+08:00"
            ),
        }
    })
}

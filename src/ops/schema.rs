//! `migplan schema …`: the schema scripts' status, apply, undo, new, baseline, repair.

use std::path::{Path, PathBuf};

use crate::backend::{self, DbUrl, OpenOptions};
use crate::confirm::confirm;
use crate::error::{Error, Result};
use crate::plan::{self, Plan};
use crate::schema::{self as schema_mod, Scripts};

use crate::schema::Planned;

use super::*;

#[derive(Debug, Clone, Default)]
pub struct SchemaRequest {
    pub plan: PathBuf,
    pub db: Option<String>,
    /// The plan's `[env.NAME]` to run in (default: `MIGPLAN_ENV`, if set).
    pub env: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct SchemaUpRequest {
    pub schema: SchemaRequest,
    /// List the scripts that would run, in order, changing nothing.
    pub dry_run: bool,
    /// MySQL/MariaDB: continue the script the journal marks as interrupted.
    pub resume: bool,
    /// Go ahead without asking, where the plan's environment has
    /// `confirm = true` (needed when there is no terminal to ask on).
    pub yes: bool,
    pub record: Record,
}

#[derive(Debug, Clone, Default)]
pub struct SchemaDownRequest {
    pub plan: PathBuf,
    /// The version to go back to: every applied script above it is undone
    /// (0 undoes them all).
    pub to: i64,
    pub db: Option<String>,
    /// List the undo scripts that would run, changing nothing.
    pub dry_run: bool,
    /// Go ahead without asking (undoing scripts always asks on a terminal).
    pub yes: bool,
    /// MySQL/MariaDB: continue the undo script the journal marks as
    /// interrupted.
    pub resume: bool,
    pub record: Record,
}

#[derive(Debug, Clone, Default)]
pub struct SchemaNewRequest {
    pub plan: PathBuf,
    /// The script's name: letters, digits and `_` (e.g. add_email).
    pub name: String,
}

#[derive(Debug, Clone, Default)]
pub struct SchemaBaselineRequest {
    pub plan: PathBuf,
    /// The version the database is already at (a script of that version
    /// must exist).
    pub version: i64,
    pub db: Option<String>,
}

/// What a schema command did.
#[derive(Debug)]
pub enum SchemaOutcome {
    /// `schema status`: applied and pending scripts.
    Status(Status),
    /// `schema up`: the scripts applied (none: already up to date), then
    /// the status.
    Applied {
        scripts: Vec<String>,
        status: Status,
    },
    /// `schema up --dry-run`: the scripts that would run, in order.
    WouldApply(Vec<Planned>),
    /// `schema down`: the undo scripts run, then the status.
    Undone {
        scripts: Vec<String>,
        status: Status,
    },
    /// `schema down --dry-run`: the undo scripts that would run.
    WouldUndo { planned: Vec<Planned>, to: i64 },
    /// `schema new`: the files created.
    Created(Vec<PathBuf>),
    /// `schema baseline`: the scripts marked applied without running.
    Baselined { marked: Vec<String>, status: Status },
    /// `schema repair`: the scripts whose checksums were re-recorded.
    Repaired(Vec<String>),
}

/// `migplan schema status PLAN`.
pub fn schema_status(args: &SchemaRequest) -> Result<SchemaOutcome> {
    let plan = load_plan(&args.plan, args.env.as_deref())?;
    let url = database_url(&plan, args.db.as_deref())?;
    let mut db = backend::open(&url, &OpenOptions::default())?;
    Ok(SchemaOutcome::Status(status_of(&plan, db.as_mut())?))
}

/// `migplan schema up PLAN [--dry-run] [--resume]`.
pub fn schema_up(up: &SchemaUpRequest) -> Result<SchemaOutcome> {
    let args = &up.schema;
    let plan = load_plan(&args.plan, args.env.as_deref())?;
    let url = database_url(&plan, args.db.as_deref())?;
    if up.dry_run {
        return schema_up_dry_run(&plan, &url);
    }
    // A new SQLite file is asked for before opening, which creates it.
    let fresh = url.sqlite_path().is_some_and(|p| !p.exists());
    if fresh {
        let action = "create the database and apply its schema scripts";
        confirm(&plan, &url, action, up.yes)?;
    }
    let mut db = backend::open(
        &url,
        &OpenOptions {
            create: true,
            ..OpenOptions::default()
        },
    )?;
    let scripts = scripts(&plan, db.as_ref())?;
    let before = scripts.status(db.as_mut(), plan.schema.target)?;
    let pending = before.pending.len();
    if pending > 0 && !fresh {
        let action = format!("apply {pending} pending schema script(s)");
        confirm(&plan, &url, &action, up.yes)?;
    }
    if !db.transactional_ddl() {
        crate::events::note(DDL_NOTE);
    }
    let start = history_start(&plan, "schema up", &up.record, before.version());
    recorded(db.as_mut(), &up.record, start, (&plan, &url), |db, end| {
        if pending > 0 {
            backup_before(&plan, db, before.version(), end)?;
        }
        let scripts_run = scripts.apply(db, plan.schema.target, up.resume)?;
        let after = scripts.status(db, plan.schema.target)?;
        end.schema_after = after.version();
        Ok(SchemaOutcome::Applied {
            scripts: scripts_run,
            status: after,
        })
    })
}

/// `schema up --dry-run`: the scripts that would run, in order.
pub(crate) fn schema_up_dry_run(plan: &Plan, url: &DbUrl) -> Result<SchemaOutcome> {
    let planned = if url.sqlite_path().is_some_and(|p| !p.exists()) {
        // Nothing to open: every script would run on the new file.
        let scripts = match plan.migrations_for("sqlite") {
            Some(dir) => Scripts::load(&dir)?,
            None => Scripts::none(),
        };
        let mut db = backend::open(
            &DbUrl::parse("sqlite://:memory:", Path::new("."))?,
            &OpenOptions::default(),
        )?;
        scripts.plan_up(db.as_mut(), plan.schema.target)?
    } else {
        let mut db = backend::open(url, &OpenOptions::default())?;
        scripts(plan, db.as_ref())?.plan_up(db.as_mut(), plan.schema.target)?
    };
    Ok(SchemaOutcome::WouldApply(planned))
}

/// `migplan schema down PLAN --to N [--dry-run]`. Confirmation (`--yes`)
/// is the caller's.
pub fn schema_down(args: &SchemaDownRequest) -> Result<SchemaOutcome> {
    let SchemaTarget {
        plan,
        url,
        mut db,
        scripts,
    } = schema_target(&args.plan, args.db.as_deref())?;
    if args.dry_run {
        let planned = scripts.plan_down(db.as_mut(), args.to)?;
        return Ok(SchemaOutcome::WouldUndo {
            planned,
            to: args.to,
        });
    }
    // A `--to` that cannot work is refused before anyone is asked.
    scripts.plan_down(db.as_mut(), args.to)?;
    let action = format!("undo schema scripts down to version {}", args.to);
    crate::confirm::always(&plan, &url, &action, args.yes)?;
    if !db.transactional_ddl() {
        crate::events::note(DDL_NOTE);
    }
    let before = scripts.status(db.as_mut(), None)?.version();
    let start = history_start(&plan, "schema down", &args.record, before);
    recorded(
        db.as_mut(),
        &args.record,
        start,
        (&plan, &url),
        |db, end| {
            backup_before(&plan, db, before, end)?;
            let undone = scripts.down(db, args.to, args.resume)?;
            let after = scripts.status(db, None)?;
            end.schema_after = after.version();
            Ok(SchemaOutcome::Undone {
                scripts: undone,
                status: after,
            })
        },
    )
}

/// `migplan schema new PLAN NAME`: the pair in the plan's folder, or in
/// every existing engine folder when the path holds `{engine}`.
pub fn schema_new(args: &SchemaNewRequest) -> Result<SchemaOutcome> {
    let plan = plan::load(&args.plan)?;
    let Some(dir) = &plan.schema.migrations else {
        return Err(Error::NoMigrationsFolder {
            plan: plan.path.clone(),
        });
    };
    let dirs: Vec<PathBuf> = if dir.to_string_lossy().contains(plan::ENGINE_PLACEHOLDER) {
        let found: Vec<PathBuf> = crate::url::Engine::ALL
            .iter()
            .filter_map(|e| plan.migrations_for(e.name()))
            .filter(|d| d.is_dir())
            .collect();
        if found.is_empty() {
            return Err(Error::NoEngineFolder {
                pattern: dir.clone(),
                example: plan.migrations_for("sqlite").unwrap_or_default(),
            });
        }
        found
    } else {
        vec![dir.clone()]
    };
    Ok(SchemaOutcome::Created(schema_mod::new_script(
        &dirs, &args.name,
    )?))
}

/// `migplan schema baseline PLAN N`.
pub fn schema_baseline(args: &SchemaBaselineRequest) -> Result<SchemaOutcome> {
    let SchemaTarget {
        plan,
        mut db,
        scripts,
        ..
    } = schema_target(&args.plan, args.db.as_deref())?;
    let marked = scripts.baseline(db.as_mut(), args.version)?;
    let status = scripts.status(db.as_mut(), plan.schema.target)?;
    Ok(SchemaOutcome::Baselined { marked, status })
}

/// `migplan schema repair PLAN`.
pub fn schema_repair(args: &SchemaRequest) -> Result<SchemaOutcome> {
    let SchemaTarget {
        mut db, scripts, ..
    } = schema_target(&args.plan, args.db.as_deref())?;
    Ok(SchemaOutcome::Repaired(scripts.repair(db.as_mut())?))
}

//! The operations: what each command does, as a checklist of named steps,
//! with no printing (what a person should see goes to `crate::events`).
//! This file holds the steps several operations share: the plan loaded,
//! the database opened (confirmed where the environment asks), the run of
//! record around a change, the schema phase, the seed.

mod backups;
mod copy;
mod estimate;
mod export;
mod history;
mod import;
mod plan;
mod preview;
mod rollback;
mod run;
mod schema;
mod status;
mod validate;
mod verify;

pub use backups::*;
pub(crate) use copy::*;
pub use estimate::*;
pub use export::*;
pub use history::*;
pub use import::*;
pub use plan::*;
pub use preview::*;
pub use rollback::*;
pub use run::*;
pub use schema::*;
pub use status::*;
pub use validate::*;
pub use verify::*;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::policy::{Conflict, Triggers};

use crate::backend::{self, Backend, DbUrl, OpenOptions};
use crate::confirm::confirm;
use crate::data::{self, ImportOptions};
use crate::error::{Error, Result};
use crate::format;
use crate::plan::{EnvChoice, Plan, PlanKind};
use crate::schema::{self as schema_mod, Scripts, Status};

/// How rows meet the target, for every command that writes them (`run`,
/// `import`): defined once.
#[derive(Debug, Clone, Default)]
pub struct Load {
    /// Conflict policy for every table, overriding the plan.
    pub conflict: Option<Conflict>,
    /// Conflict policy per module, overriding the plan's modules (the
    /// console's import wizard); `conflict` wins over it.
    pub per_module: std::collections::BTreeMap<String, Conflict>,
    /// The target's triggers while rows load, overriding `[import] triggers`
    /// (`disable`: off for the load, on again before the commit; PostgreSQL
    /// and SQLite).
    pub triggers: Option<Triggers>,
}

/// Who runs a change and why, for the run history; and how long to wait
/// for another run to finish with the database.
#[derive(Debug, Clone)]
pub struct Record {
    /// Who runs this, as "Name <email>" (default: $MIGPLAN_OPERATOR, then
    /// git's user.name and user.email, then the OS user).
    pub operator: Option<String>,
    /// Why: a description kept in the run history.
    pub message: Option<String>,
    /// A note kept in the run history (repeatable).
    pub note: Vec<String>,
    /// Seconds to wait while another run holds the database.
    pub lock_timeout: u64,
}

impl Load {
    /// The import of a run of record (`run_id`, when recorded) under these
    /// policies: into the database's schema `version`, `modules` only (all
    /// when empty), rolled back when `dry_run`.
    pub(crate) fn import(
        &self,
        modules: &[String],
        dry_run: bool,
        version: Option<i64>,
        run_id: Option<i64>,
    ) -> ImportOptions {
        ImportOptions {
            conflict: self.conflict,
            triggers: self.triggers,
            modules: modules.to_vec(),
            dry_run,
            schema_version: version,
            replace: false,
            run_id,
            undoes: None,
        }
    }
}

impl Default for Record {
    fn default() -> Self {
        Record {
            operator: None,
            message: None,
            note: vec![],
            lock_timeout: crate::history::DEFAULT_LOCK_TIMEOUT,
        }
    }
}

/// What a run, an export, an import or a copy did.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Outcome {
    /// A migrate plan: the schema scripts after the run.
    Schema(Status),
    Export(data::ExportReport),
    /// One report per backup (an incremental chain has several).
    Imports {
        dry_run: bool,
        reports: Vec<data::ImportReport>,
    },
    Copy(data::ImportReport),
}

/// The plan at `path`, in the environment `--env` or `MIGPLAN_ENV` selects.
/// Loads a plan; its `[import]` reading limits hold from then on, for every
/// backup file the command reads (see `format::limits`).
pub fn load_plan(path: &Path, env_flag: Option<&str>) -> Result<Plan> {
    let plan = crate::plan::load_in(path, EnvChoice::from_flag_or_var(env_flag).as_ref())?;
    format::limits::set(plan.import.limits);
    Ok(plan)
}

/// Reads the age identity files (`--identity`, `MIGPLAN_AGE_IDENTITY`) and
/// makes them the keys every encrypted backup this process reads is
/// decrypted with, as a front door is started; none given, none installed.
/// A file that is not an identity file is refused here, before anything
/// is read or written.
pub fn use_identities(files: &[PathBuf]) -> Result<()> {
    if !files.is_empty() {
        format::install_keyring(format::Keyring::load(files)?);
    }
    Ok(())
}

/// Runs `work` as one run of record: takes the run lock, records the start,
/// then the outcome (a failure too), lets the lock go, and tells the plan's
/// `[[notify]]` webhooks how it ended (`url`: the database, as printed).
pub(crate) fn recorded<T>(
    db: &mut dyn Backend,
    rec: &Record,
    start: crate::history::Start,
    to_tell: (&Plan, &DbUrl),
    work: impl FnOnce(&mut dyn Backend, &mut crate::history::End) -> Result<T>,
) -> Result<T> {
    crate::history::lock(db, Duration::from_secs(rec.lock_timeout))?;
    let began = (std::time::Instant::now(), crate::history::now());
    // A role allowed to write rows but not to create tables still imports:
    // the run goes on unrecorded, and says so.
    let id = match crate::history::start(db, &start) {
        Ok(id) => Some(id),
        Err(e) => {
            crate::events::warning(format!(
                "this run is not recorded in the database's history: {e}"
            ));
            None
        }
    };
    let mut end = crate::history::End {
        run_id: id,
        ..crate::history::End::default()
    };
    let result = work(db, &mut end);
    // The history is printed later: it keeps no password either.
    let error = result
        .as_ref()
        .err()
        .map(|e| crate::redact::redact(&e.to_string()).into_owned());
    // A run whose connection died cannot record its end; the next run
    // marks it failed. Its own error is the one worth reporting.
    let recorded = id.map_or(Ok(None), |id| {
        crate::history::finish(db, id, &end, error.as_deref()).map(Some)
    });
    let _ = db.unlock();
    let (plan, url) = to_tell;
    let told = Told {
        start: &start,
        end: &end,
        // As recorded; as the work ended when it could not be recorded.
        status: match (&recorded, &error) {
            (Ok(Some(status)), _) => *status,
            (_, None) => crate::history::Status::Succeeded,
            (_, Some(_)) => crate::history::Status::Failed,
        },
        error,
        began,
        database: url.redacted(),
    };
    crate::notify::tell(&plan.notify, &told.summary());
    let value = result?;
    recorded?;
    Ok(value)
}

/// A run of record as it ended, for `[[notify]]`.
struct Told<'a> {
    start: &'a crate::history::Start,
    end: &'a crate::history::End,
    status: crate::history::Status,
    error: Option<String>,
    /// When the run took the lock: for its duration, and as the history says it.
    began: (std::time::Instant, String),
    database: String,
}

impl Told<'_> {
    fn summary(self) -> crate::notify::Summary {
        use crate::notify::RunEnd;
        let end = match (self.status, self.end.undoes) {
            (crate::history::Status::Succeeded, Some(_)) => RunEnd::RolledBack,
            (crate::history::Status::Succeeded, None) => RunEnd::Succeeded,
            _ => RunEnd::Failed,
        };
        crate::notify::Summary {
            id: self.end.run_id,
            plan: self.start.plan.clone(),
            kind: self.start.kind.clone(),
            end,
            database: self.database,
            operator: self.start.operator.clone(),
            message: self.start.message.clone(),
            started_at: self.began.1,
            finished_at: crate::history::now(),
            duration_ms: self.began.0.elapsed().as_millis() as u64,
            error: self.error,
            backup: self.end.backup.clone(),
            undoes: self.end.undoes,
            report: self.end.tables.clone(),
        }
    }
}

/// The backup of every table before a run of record changes anything
/// (`[backup]`), remembered for the history and for `migplan rollback`.
pub(crate) fn backup_before(
    plan: &Plan,
    db: &mut dyn Backend,
    version: Option<i64>,
    end: &mut crate::history::End,
) -> Result<()> {
    let file = data::safety::backup_before(db, plan, end.run_id, version)?;
    end.backup = file.map(|f| f.display().to_string());
    // Recorded before anything changes: a run that dies from here on can
    // still be rolled back.
    if let (Some(id), Some(backup)) = (end.run_id, &end.backup) {
        crate::history::set_backup(db, id, backup)?;
    }
    crate::failpoint::hit("backup-recorded");
    Ok(())
}

/// Who the history will say ran this; said first when nobody named them
/// (taken from git or the OS user).
fn operator(rec: &Record) -> String {
    let (name, source) = crate::history::operator_and_source(rec.operator.as_deref());
    if let Some(source) = source {
        crate::events::note(format!(
            "recorded as run by {name} (from {source}; --operator or MIGPLAN_OPERATOR names someone else)"
        ));
    }
    name
}

/// The history's record of a starting run.
pub(crate) fn history_start(
    plan: &Plan,
    kind: &str,
    rec: &Record,
    before: Option<i64>,
) -> crate::history::Start {
    crate::history::Start {
        plan: plan.name.clone(),
        plan_sha256: std::fs::read(&plan.path)
            .ok()
            .map(|b| hex::encode(openssl::sha::sha256(&b))),
        kind: kind.to_string(),
        operator: operator(rec),
        message: rec.message.clone(),
        notes: rec.note.clone(),
        schema_before: before,
    }
}

/// Opening a run's database when its environment has `confirm = true`:
/// the user is asked before anything changes, a new SQLite file included.
pub(crate) struct Confirmed {
    /// `--yes`.
    yes: bool,
    /// A dry run changes nothing, so it asks nothing.
    dry_run: bool,
    /// `--lock-timeout`: also how long a SQLite read waits for another
    /// run's write to end.
    wait: Duration,
}

impl Confirmed {
    /// Opens the database once the change is confirmed: the pending schema
    /// scripts, then `data` (the data phase's change, if any). An export
    /// that applies no script asks nothing.
    fn open(&self, plan: &Plan, url: &DbUrl, data: Option<String>) -> Result<Box<dyn Backend>> {
        if self.dry_run || !plan.needs_confirmation() {
            return open(plan, url, self.wait);
        }
        if creates_database(plan, url) {
            let steps = ["create the database and apply its schema scripts".to_string()];
            self.ask(plan, url, steps.into_iter().chain(data))?;
            return open(plan, url, self.wait);
        }
        let mut db = open(plan, url, self.wait)?;
        let pending = match plan.schema.apply {
            true => status_of(plan, db.as_mut())?.pending.len(),
            false => 0,
        };
        let scripts = (pending > 0).then(|| format!("apply {pending} pending schema script(s)"));
        self.ask(plan, url, scripts.into_iter().chain(data))?;
        Ok(db)
    }

    fn ask(&self, plan: &Plan, url: &DbUrl, steps: impl Iterator<Item = String>) -> Result<()> {
        let steps: Vec<String> = steps.collect();
        match steps.is_empty() {
            true => Ok(()),
            false => confirm(plan, url, &steps.join(", then "), self.yes),
        }
    }
}

/// Opening creates a SQLite file that is not there yet when the plan's
/// scripts will give it tables (see [`open`]).
pub(crate) fn creates_database(plan: &Plan, url: &DbUrl) -> bool {
    let create = plan.schema.migrations.is_some() && plan.schema.apply;
    create && url.sqlite_path().is_some_and(|p| !p.exists())
}

/// The database of a command that takes `--db URL` or a plan.
pub(crate) fn db_or_plan(db: Option<&str>, plan: Option<&Plan>) -> Result<DbUrl> {
    match (db, plan) {
        (None, None) => Err(Error::NoDatabase {
            plan: None,
            section: "database",
        }),
        (db, Some(p)) => database_url(p, db),
        (Some(u), None) => DbUrl::parse(u, Path::new(".")),
    }
}

/// The plan, if one is named, and the database: `--db`, else the plan's.
pub(crate) fn plan_and_database(
    plan: Option<&Path>,
    db: Option<&str>,
) -> Result<(Option<Plan>, DbUrl)> {
    let plan = plan.map(|p| load_plan(p, None)).transpose()?;
    let url = db_or_plan(db, plan.as_ref())?;
    Ok((plan, url))
}

/// `--db` (relative to the working folder) wins over the plan's URL.
pub(crate) fn database_url(plan: &Plan, flag: Option<&str>) -> Result<DbUrl> {
    match (flag, &plan.database) {
        (Some(u), _) => DbUrl::parse(u, Path::new(".")),
        (None, Some(db)) => DbUrl::parse(&db.url, plan.dir()),
        (None, None) => Err(Error::NoDatabase {
            plan: Some(plan.path.clone()),
            section: "database",
        }),
    }
}

/// Opens the database; a SQLite file is created only when the plan's schema
/// scripts will give it tables.
pub(crate) fn open(plan: &Plan, url: &DbUrl, wait: Duration) -> Result<Box<dyn Backend>> {
    let create = plan.schema.migrations.is_some() && plan.schema.apply;
    backend::open(
        url,
        &OpenOptions {
            create,
            busy_wait: Some(wait),
        },
    )
}

/// Options for a run of record's database: reads wait for another run's
/// write (SQLite) as long as the run waits for the lock.
pub(crate) fn waiting(rec: &Record) -> OpenOptions {
    OpenOptions {
        busy_wait: Some(Duration::from_secs(rec.lock_timeout)),
        ..OpenOptions::default()
    }
}

/// The plan's scripts for this database's engine (`{engine}` filled in).
/// What a schema command works on: the plan, the database (`--db` or the
/// plan's), open, and the plan's scripts for its engine.
pub(crate) struct SchemaTarget {
    plan: Plan,
    url: DbUrl,
    db: Box<dyn Backend>,
    scripts: Scripts,
}

pub(crate) fn schema_target(plan_path: &Path, db_flag: Option<&str>) -> Result<SchemaTarget> {
    let plan = crate::plan::load(plan_path)?;
    let url = database_url(&plan, db_flag)?;
    let db = backend::open(&url, &OpenOptions::default())?;
    let scripts = scripts(&plan, db.as_ref())?;
    Ok(SchemaTarget {
        plan,
        url,
        db,
        scripts,
    })
}

pub(crate) fn scripts(plan: &Plan, db: &dyn Backend) -> Result<Scripts> {
    match plan.migrations_for(db.engine().name()) {
        Some(dir) => Scripts::load(&dir),
        None => Ok(Scripts::none()),
    }
}

pub(crate) fn status_of(plan: &Plan, db: &mut dyn Backend) -> Result<Status> {
    scripts(plan, db)?.status(db, plan.schema.target)
}

/// Applies pending scripts before any data moves. A dry run lists them (in
/// order, with checksums) and applies none. A failure is
/// [`Error::Schema`]: `failed` the script, `cause` the engine's message,
/// `applied` the scripts applied before it (always none on SQLite and
/// PostgreSQL, where all of them run in one transaction).
pub fn schema_phase(
    plan: &Plan,
    db: &mut dyn Backend,
    dry_run: bool,
    resume: bool,
) -> Result<Status> {
    let scripts = scripts(plan, db)?;
    let status = scripts.status(db, plan.schema.target)?;
    if !plan.schema.apply || (status.pending.is_empty() && !resume) {
        return Ok(status);
    }
    if dry_run {
        let planned = scripts.plan_up(db, plan.schema.target)?;
        crate::events::step(format!(
            "dry run: {} pending schema script(s), not applied:\n{}",
            planned.len(),
            schema_mod::render_planned("  would apply", &planned).trim_end()
        ));
        return Ok(status);
    }
    if !db.transactional_ddl() {
        crate::events::note(DDL_NOTE);
    }
    for name in scripts.apply(db, plan.schema.target, resume)? {
        crate::events::step(format!("applied {name}"));
    }
    scripts.status(db, plan.schema.target)
}

/// Said wherever scripts run on an engine whose DDL commits implicitly.
pub(crate) const DDL_NOTE: &str = "MySQL/MariaDB commit each schema statement on their own: a failing script leaves the scripts and statements before it applied (the data phase is still all-or-nothing)";

/// `[database] seed`: fills a database whose plan tables are all empty.
pub(crate) fn seed_if_empty(plan: &Plan, db: &mut dyn Backend, version: Option<i64>) -> Result<()> {
    let Some(seed) = plan.database.as_ref().and_then(|d| d.seed.as_ref()) else {
        return Ok(());
    };
    let catalog = db.catalog()?;
    let tables = data::select_tables(plan, &catalog, &[])?;
    for t in &tables {
        if db.count_rows(t)? > 0 {
            return Ok(());
        }
    }
    let opts = ImportOptions {
        conflict: None,
        triggers: None,
        modules: vec![],
        dry_run: false,
        schema_version: version,
        replace: false,
        // The seed commits on its own; the run's outcome is its data phase.
        run_id: None,
        undoes: None,
    };
    let report = data::import(db, plan, seed, &opts)?;
    let rows: u64 = report.tables.iter().map(|t| t.inserted).sum();
    crate::events::step(format!(
        "seeded the empty database with {rows} rows from {}",
        seed.display()
    ));
    Ok(())
}

/// A plan for the plan-less shortcuts: every table, defaults everywhere.
pub(crate) fn adhoc_plan(kind: PlanKind, url: &str) -> Result<Plan> {
    let src = format!(
        "[plan]\nname = \"migplan\"\nkind = \"{}\"\n[database]\nurl = {}\n",
        kind.name(),
        toml_string(url)
    );
    crate::plan::load_str(Path::new("migplan.toml"), &src)
}

pub(crate) fn toml_string(s: &str) -> String {
    // Escape `$` so `${…}` in a URL is taken literally, not from the environment.
    serde_json::to_string(&s.replace("${", "$${")).expect("strings serialize")
}

/// Whether no one holds the database's run lock (taken and let go at once).
pub(crate) fn lock_free(db: &mut dyn Backend) -> Result<bool> {
    if db.try_lock()? {
        db.unlock()?;
        return Ok(true);
    }
    Ok(false)
}

/// Run `id` of the database's history, or an error pointing at the list.
pub(crate) fn recorded_run(
    db: &mut dyn Backend,
    url: &DbUrl,
    id: i64,
) -> Result<crate::history::Run> {
    crate::history::get(db, id)?.ok_or_else(|| Error::RunNotFound {
        id,
        database: url.redacted(),
    })
}

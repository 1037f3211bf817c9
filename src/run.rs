//! The commands, each a checklist of named steps: load the plan, apply flag
//! overrides, open the database, schema phase, seed, data phase, report.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use crate::adapters::AdapterSet;
use crate::backend::{self, Backend, DbUrl, OpenOptions};
use crate::catalog::Catalog;
use crate::cli::{
    ExportArgs, FileFormat, HistoryArgs, ImportArgs, PlanArgs, PlanFormat, RecordArgs,
    ReportFormat, RollbackArgs, RunArgs, SchemaArgs, SchemaBaselineArgs, SchemaDownArgs,
    SchemaNewArgs, SchemaUpArgs, StatusArgs, ValidateArgs, ValidateFormat, VerifyArgs, write_out,
};
use crate::confirm::confirm;
use crate::dag::Dag;
use crate::data::{self, ExportOptions, ImportOptions};
use crate::diag::Diagnostic;
use crate::error::{Error, Result, exit};
use crate::format;
use crate::history;
use crate::plan::{self, EnvChoice, ExportMode, Format, Plan, PlanKind};
use crate::schema::{self as schema_mod, Scripts, Status};

/// The plan at `path`, in the environment `--env` or `MIGPLAN_ENV` selects.
/// Loads a plan; its `[import]` reading limits hold from then on, for every
/// backup file the command reads (see `format::limits`).
pub fn load_plan(path: &Path, env_flag: Option<&str>) -> Result<Plan> {
    let plan = plan::load_in(path, EnvChoice::from_flag_or_var(env_flag).as_ref())?;
    format::limits::set(plan.import.limits);
    Ok(plan)
}

/// `migplan run PLAN`.
pub fn run(args: &RunArgs) -> Result<String> {
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
    recorded(db.as_mut(), &args.record, start, |db, end| {
        run_steps(&plan, db, steps, end)
    })
}

/// Runs `work` as one run of record: takes the run lock, records the start,
/// then the outcome (a failure too), and lets the lock go.
fn recorded<T>(
    db: &mut dyn Backend,
    rec: &RecordArgs,
    start: history::Start,
    work: impl FnOnce(&mut dyn Backend, &mut history::End) -> Result<T>,
) -> Result<T> {
    history::lock(db, Duration::from_secs(rec.lock_timeout))?;
    // A role allowed to write rows but not to create tables still imports:
    // the run goes on unrecorded, and says so.
    let id = match history::start(db, &start) {
        Ok(id) => Some(id),
        Err(e) => {
            eprintln!(
                "warning: this run is not recorded in the database's history: {}",
                crate::redact::redact(&e.to_string())
            );
            None
        }
    };
    let mut end = history::End {
        run_id: id,
        ..history::End::default()
    };
    let result = work(db, &mut end);
    // The history is printed later: it keeps no password either.
    let error = result
        .as_ref()
        .err()
        .map(|e| crate::redact::redact(&e.to_string()).into_owned());
    // A run whose connection died cannot record its end; the next run
    // marks it failed. Its own error is the one worth reporting.
    let recorded = id.map_or(Ok(()), |id| history::finish(db, id, &end, error.as_deref()));
    let _ = db.unlock();
    let value = result?;
    recorded?;
    Ok(value)
}

/// The backup of every table before a run of record changes anything
/// (`[backup]`), remembered for the history and for `migplan rollback`.
fn backup_before(
    plan: &Plan,
    db: &mut dyn Backend,
    version: Option<i64>,
    end: &mut history::End,
) -> Result<()> {
    let file = data::safety::backup_before(db, plan, end.run_id, version)?;
    end.backup = file.map(|f| f.display().to_string());
    // Recorded before anything changes: a run that dies from here on can
    // still be rolled back.
    if let (Some(id), Some(backup)) = (end.run_id, &end.backup) {
        history::set_backup(db, id, backup)?;
    }
    crate::failpoint::hit("backup-recorded");
    Ok(())
}

/// The history's record of a starting run.
fn history_start(plan: &Plan, kind: &str, rec: &RecordArgs, before: Option<i64>) -> history::Start {
    history::Start {
        plan: plan.name.clone(),
        plan_sha256: std::fs::read(&plan.path)
            .ok()
            .map(|b| hex::encode(openssl::sha::sha256(&b))),
        kind: kind.to_string(),
        operator: history::operator(rec.operator.as_deref()),
        message: rec.message.clone(),
        notes: rec.note.clone(),
        schema_before: before,
    }
}

/// What `run` settled before opening the database.
struct Steps<'a> {
    args: &'a RunArgs,
    dry_run: bool,
    /// The run changes the database (a run of record, backed up first).
    changes: bool,
    /// The schema version before the run.
    before: Option<i64>,
    files: Vec<PathBuf>,
    follows: Option<String>,
}

/// The steps of `run` after the database is open.
fn run_steps(
    plan: &Plan,
    db: &mut dyn Backend,
    steps: Steps<'_>,
    end: &mut history::End,
) -> Result<String> {
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
        PlanKind::Migrate => Ok(render_status(&status_of(plan, db)?)),
        PlanKind::Copy => unreachable!("handled by `run`"),
        PlanKind::Export => export(
            plan,
            db,
            args.output.as_deref(),
            status.version(),
            args.report,
            follows,
        ),
        PlanKind::Import => {
            let opts = ImportOptions {
                conflict: args.load.conflict.map(Into::into),
                triggers: args.load.triggers.map(Into::into),
                modules: args.modules.clone(),
                dry_run,
                schema_version: status.version(),
                replace: false,
                run_id: end.run_id,
                undoes: None,
            };
            let reports = data::import_files(db, plan, &files, &opts)?;
            end.tables = serde_json::to_value(&reports).ok();
            render_imports(reports, dry_run, args.report)
        }
    }
}

/// The backups an import plan reads (`--file`, else `[import] file`);
/// empty for the other kinds.
fn import_files(plan: &Plan, args: &RunArgs) -> Result<Vec<PathBuf>> {
    if plan.kind != PlanKind::Import {
        return Ok(vec![]);
    }
    let files: Vec<PathBuf> = if args.file.is_empty() {
        plan.import.file.clone().into_iter().collect()
    } else {
        args.file.clone()
    };
    if files.is_empty() {
        return Err(Error::Usage(
            "no backup to import: set `[import] file` or pass `--file PATH`".into(),
        ));
    }
    Ok(files)
}

fn shown(files: &[PathBuf]) -> String {
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    names.join(", ")
}

/// `--dry-run`, or the environment's `dry_run = true` unless `--no-dry-run`
/// (said on stderr, so a report in JSON stays clean).
fn dry_run(plan: &Plan, args: &RunArgs) -> bool {
    if args.dry_run {
        return true;
    }
    let Some(env) = plan.environment.as_ref().filter(|e| e.dry_run) else {
        return false;
    };
    if args.no_dry_run {
        return false;
    }
    eprintln!(
        "note: dry run because environment `{}` sets `dry_run = true`: nothing in the database will change; pass --no-dry-run to change data",
        env.name
    );
    true
}

/// Opening a run's database when its environment has `confirm = true`:
/// the user is asked before anything changes, a new SQLite file included.
struct Confirmed {
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
fn creates_database(plan: &Plan, url: &DbUrl) -> bool {
    let create = plan.schema.migrations.is_some() && plan.schema.apply;
    create && url.sqlite_path().is_some_and(|p| !p.exists())
}

/// One backup's report as ever; a chain's as one report per backup.
fn render_imports(
    mut reports: Vec<data::ImportReport>,
    dry_run: bool,
    fmt: ReportFormat,
) -> Result<String> {
    if reports.len() == 1 {
        let report = reports.remove(0);
        return render(&report, fmt, |r| r.render_text());
    }
    let chain = data::ChainReport {
        dry_run,
        files: reports,
    };
    render(&chain, fmt, |r| r.render_text())
}

/// `--follows PREVIOUS`: the export becomes an increment of the chain that
/// ends at PREVIOUS. It records PREVIOUS's id and, unless `--since` was
/// given, starts at PREVIOUS's export time. Returns the id followed.
/// How far before the previous backup's export time an increment starts.
/// Change columns are often coarser than the export time (whole seconds,
/// `DATETIME(0)` rounding) or stamped by the server's clock; rows changed
/// within the margin travel twice, which restoring (overwrite) makes
/// harmless, rather than not at all.
const FOLLOWS_MARGIN: chrono::TimeDelta = chrono::TimeDelta::seconds(2);

fn follows(plan: &mut Plan, previous: Option<&Path>, since_flag: bool) -> Result<Option<String>> {
    let Some(previous) = previous else {
        return Ok(None);
    };
    if plan.kind != PlanKind::Export {
        return Err(Error::Usage(
            "`--follows` applies to export plans: it names the backup an incremental export follows".into(),
        ));
    }
    if plan.export.mode == ExportMode::Modules {
        return Err(Error::Usage(
            "`--follows` makes an incremental export; the plan's mode is `modules`".into(),
        ));
    }
    let meta = format::read_meta(previous)?;
    let id = meta.backup_id.clone().ok_or_else(|| {
        Error::Usage(format!(
            "{} records no backup id (it was written by an older migplan), so no backup can follow it\n  = help: take a new full backup to start a chain",
            previous.display()
        ))
    })?;
    let exported = parse_since(&meta.exported_at)?;
    match plan.export.since {
        Some(s) if since_flag && s > exported => {
            return Err(Error::Usage(format!(
                "`--since {}` is after {} was exported ({}): rows changed in between would be in neither backup",
                s.to_rfc3339(),
                previous.display(),
                meta.exported_at
            )));
        }
        Some(_) if since_flag => {}
        _ => plan.export.since = Some(exported - FOLLOWS_MARGIN),
    }
    plan.export.mode = ExportMode::Incremental;
    Ok(Some(id))
}

fn apply_overrides(plan: &mut Plan, args: &RunArgs) -> Result<()> {
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
            return Err(Error::Usage(
                "`--closure` applies to export plans: it adds referenced rows to a modules export"
                    .into(),
            ));
        }
        plan.export.closure = true;
    }
    // An environment's `dry_run` applies to every kind (no schema script
    // runs); the flag is refused where it would mean nothing.
    if args.dry_run && plan.kind == PlanKind::Export {
        return Err(Error::Usage(
            "`--dry-run` applies to import, copy and migrate plans: an export changes no data (`migplan schema up PLAN --dry-run` lists pending schema scripts)".into(),
        ));
    }
    if plan.kind == PlanKind::Copy && args.db.is_some() {
        return Err(Error::Usage(
            "a copy plan has two databases: use `--source URL` and `--target URL`, not `--db`"
                .into(),
        ));
    }
    if plan.kind != PlanKind::Copy && (args.source.is_some() || args.target.is_some()) {
        return Err(Error::Usage(
            "`--source` and `--target` apply to copy plans; use `--db URL`".into(),
        ));
    }
    Ok(())
}

fn parse_since(s: &str) -> Result<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).map_err(|e| {
        Error::Usage(format!("`--since {s}` is not an RFC 3339 time ({e})\n  = help: for example 2025-06-01T00:00:00Z or 2025-06-01T08:00:00+08:00"))
    })
}

/// A copy plan: the schema phase on the target, then rows streamed from the
/// source's snapshot into the target's single transaction.
fn copy(plan: &Plan, args: &RunArgs, dry_run: bool) -> Result<String> {
    let endpoint = |flag: &Option<String>, planned: &Option<String>, which: &str| match flag {
        Some(u) => DbUrl::parse(u, Path::new(".")),
        None => copy_endpoint(plan, planned.as_ref(), which)
            .map_err(|e| Error::Usage(format!("{e}: add one or pass `--{which} URL`"))),
    };
    let source_url = endpoint(&args.source, &plan.source, "source")?;
    let target_url = endpoint(&args.target, &plan.target, "target")?;
    if source_url == target_url {
        return Err(Error::Usage(format!(
            "the source and the target are the same database ({source_url})"
        )));
    }
    let mut source = backend::open(&source_url, &OpenOptions::default())?;
    let data = format!("copy rows from {} into it", source_url.redacted());
    let confirmed = Confirmed {
        yes: args.yes,
        dry_run,
        wait: Duration::from_secs(args.record.lock_timeout),
    };
    let mut target = confirmed.open(plan, &target_url, Some(data))?;
    let before = status_of(plan, target.as_mut())
        .map_err(|e| history::explain_busy(target.as_mut(), e))?
        .version();
    let mut work = |target: &mut dyn Backend, end: &mut history::End| {
        if !dry_run {
            backup_before(plan, target, before, end)?;
        }
        let status = schema_phase(plan, target, dry_run, args.resume)?;
        end.schema_after = status.version();
        let opts = data::CopyOptions {
            source_label: source_url.redacted(),
            import: ImportOptions {
                conflict: args.load.conflict.map(Into::into),
                triggers: args.load.triggers.map(Into::into),
                modules: args.modules.clone(),
                dry_run,
                schema_version: status.version(),
                replace: false,
                run_id: end.run_id,
                undoes: None,
            },
        };
        let report = data::copy(source.as_mut(), target, plan, &opts)?;
        end.tables = serde_json::to_value(&report).ok();
        render(&report, args.report, |r| r.render_text())
    };
    if dry_run {
        return work(target.as_mut(), &mut history::End::default());
    }
    let start = history_start(plan, "copy", &args.record, before);
    recorded(target.as_mut(), &args.record, start, work)
}

/// The database of a command that takes `--db URL` or a plan.
fn db_or_plan(db: Option<&str>, plan: Option<&Plan>) -> Result<DbUrl> {
    match (db, plan) {
        (None, None) => Err(Error::Usage(
            "which database? pass a plan or `--db URL`".into(),
        )),
        (db, Some(p)) => database_url(p, db),
        (Some(u), None) => DbUrl::parse(u, Path::new(".")),
    }
}

/// `--db` (relative to the working folder) wins over the plan's URL.
fn database_url(plan: &Plan, flag: Option<&str>) -> Result<DbUrl> {
    match (flag, &plan.database) {
        (Some(u), _) => DbUrl::parse(u, Path::new(".")),
        (None, Some(db)) => DbUrl::parse(&db.url, plan.dir()),
        (None, None) => Err(Error::Usage(format!(
            "{} has no `[database] url`: add one or pass `--db URL`",
            plan.path.display()
        ))),
    }
}

/// Opens the database; a SQLite file is created only when the plan's schema
/// scripts will give it tables.
fn open(plan: &Plan, url: &DbUrl, wait: Duration) -> Result<Box<dyn Backend>> {
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
fn waiting(rec: &RecordArgs) -> OpenOptions {
    OpenOptions {
        busy_wait: Some(Duration::from_secs(rec.lock_timeout)),
        ..OpenOptions::default()
    }
}

/// The plan's scripts for this database's engine (`{engine}` filled in).
/// What a schema command works on: the plan, the database (`--db` or the
/// plan's), open, and the plan's scripts for its engine.
struct SchemaTarget {
    plan: Plan,
    url: DbUrl,
    db: Box<dyn Backend>,
    scripts: Scripts,
}

fn schema_target(plan_path: &Path, db_flag: Option<&str>) -> Result<SchemaTarget> {
    let plan = plan::load(plan_path)?;
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

fn scripts(plan: &Plan, db: &dyn Backend) -> Result<Scripts> {
    match plan.migrations_for(db.engine().name()) {
        Some(dir) => Scripts::load(&dir),
        None => Ok(Scripts::none()),
    }
}

fn status_of(plan: &Plan, db: &mut dyn Backend) -> Result<Status> {
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
        eprint!(
            "dry run: {} pending schema script(s), not applied:\n{}",
            planned.len(),
            schema_mod::render_planned("  would apply", &planned)
        );
        return Ok(status);
    }
    if !db.transactional_ddl() {
        eprintln!("{DDL_NOTE}");
    }
    for name in scripts.apply(db, plan.schema.target, resume)? {
        eprintln!("applied {name}");
    }
    scripts.status(db, plan.schema.target)
}

/// Said wherever scripts run on an engine whose DDL commits implicitly.
const DDL_NOTE: &str = "note: MySQL/MariaDB commit each schema statement on their own: a failing script leaves the scripts and statements before it applied (the data phase is still all-or-nothing)";

/// `[database] seed`: fills a database whose plan tables are all empty.
fn seed_if_empty(plan: &Plan, db: &mut dyn Backend, version: Option<i64>) -> Result<()> {
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
    eprintln!(
        "seeded the empty database with {rows} rows from {}",
        seed.display()
    );
    Ok(())
}

fn export(
    plan: &Plan,
    db: &mut dyn Backend,
    output: Option<&Path>,
    version: Option<i64>,
    fmt: ReportFormat,
    follows: Option<String>,
) -> Result<String> {
    let output = match output {
        Some(p) => p.to_path_buf(),
        None => expand_output(&plan.export.output, &plan.name),
    };
    let opts = ExportOptions {
        mode: plan.export.mode,
        since: plan.export.since,
        modules: plan.export.modules.clone(),
        format: format_of(&output).unwrap_or(plan.export.format),
        output,
        schema_version: version,
        follows,
        closure: plan.export.closure,
    };
    let catalog = db.catalog()?;
    let pulled = closure_view(plan, &catalog)?;
    for t in data::uncovered_tables(plan, &catalog) {
        if !pulled.iter().any(|c| c.table == t) {
            eprintln!("note: table `{t}` is in no module of the plan and is left out");
        }
    }
    let report = data::export(db, plan, &opts)?;
    render(&report, fmt, |r| r.render_text())
}

/// The format an output file's extension names (`.json`, `.xlsx`), if any:
/// `-o backup.xlsx` writes a workbook whatever the plan's `format`. A
/// compression suffix (`.zst`, `.gz`) names a JSON backup: `backup.json.zst`.
fn format_of(path: &Path) -> Option<Format> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "json" => Some(Format::Json),
        "xlsx" => Some(Format::Xlsx),
        _ if format::Compression::from_path(path) != format::Compression::None => {
            Some(Format::Json)
        }
        _ => None,
    }
}

/// `export --compress CODEC`: the output's name carries the codec (the
/// writer compresses by name), so `-o backup.json --compress zstd` writes
/// `backup.json.zst`.
fn compressed_output(
    output: &Path,
    format: Format,
    compress: Option<format::Compression>,
) -> Result<PathBuf> {
    let named = format::Compression::from_path(output);
    let Some(chosen) = compress.filter(|c| *c != format::Compression::None) else {
        return Ok(output.to_path_buf());
    };
    if format == Format::Xlsx {
        return Err(Error::Usage(format!(
            "`--compress {chosen}` applies to JSON backups: an Excel workbook is compressed already"
        )));
    }
    if named == chosen {
        return Ok(output.to_path_buf());
    }
    if named != format::Compression::None {
        return Err(Error::Usage(format!(
            "`--compress {chosen}` but the output {} names {named} compression: rename it or drop the flag",
            output.display()
        )));
    }
    let mut name = output.as_os_str().to_owned();
    name.push(chosen.suffix());
    Ok(PathBuf::from(name))
}

/// Fills `{plan}` and `{timestamp}` in an output path template. A value
/// is one file-name part: it cannot add a folder or climb out of one.
pub fn expand_output(template: &Path, plan: &str) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    PathBuf::from(
        template
            .to_string_lossy()
            .replace("{plan}", &placeholder_value(plan))
            .replace("{timestamp}", &stamp),
    )
}

/// `value` made safe inside a file name: `/`, `\`, NUL and other control
/// characters become `_`, and so does every `..`.
pub fn placeholder_value(value: &str) -> String {
    let mut out: String = value
        .chars()
        .map(|c| match c {
            '/' | '\\' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    while out.contains("..") {
        out = out.replace("..", "_");
    }
    out
}

fn render<T: Serialize>(
    report: &T,
    fmt: ReportFormat,
    text: impl Fn(&T) -> String,
) -> Result<String> {
    Ok(match fmt {
        ReportFormat::Text => text(report),
        ReportFormat::Json => {
            serde_json::to_string_pretty(report).expect("reports serialize") + "\n"
        }
    })
}

/// A plan for the plan-less shortcuts: every table, defaults everywhere.
fn adhoc_plan(kind: PlanKind, url: &str) -> Result<Plan> {
    let src = format!(
        "[plan]\nname = \"migplan\"\nkind = \"{}\"\n[database]\nurl = {}\n",
        kind.name(),
        toml_string(url)
    );
    plan::load_str(Path::new("migplan.toml"), &src)
}

fn toml_string(s: &str) -> String {
    // Escape `$` so `${…}` in a URL is taken literally, not from the environment.
    serde_json::to_string(&s.replace("${", "$${")).expect("strings serialize")
}

/// `migplan export --db URL -o FILE`.
pub fn export_shortcut(args: &ExportArgs) -> Result<String> {
    let mut plan = adhoc_plan(PlanKind::Export, "sqlite://:memory:")?;
    plan.export.since = args.since.as_deref().map(parse_since).transpose()?;
    let follows = follows(&mut plan, args.follows.as_deref(), args.since.is_some())?;
    let url = DbUrl::parse(&args.db, Path::new("."))?;
    let mut db = backend::open(&url, &OpenOptions::default())?;
    let version = Scripts::none().status(db.as_mut(), None)?.version();
    let mode = match (&plan.export.since, args.modules.is_empty()) {
        (Some(_), _) => ExportMode::Incremental,
        (None, false) => ExportMode::Modules,
        (None, true) => ExportMode::Full,
    };
    if !args.modules.is_empty() {
        return Err(Error::Usage(
            "`--modules` needs a plan that declares modules: use `migplan run PLAN --modules …`"
                .into(),
        ));
    }
    let format = match args.format {
        Some(FileFormat::Json) => Format::Json,
        Some(FileFormat::Xlsx) => Format::Xlsx,
        None => format_of(&args.output).unwrap_or(Format::Json),
    };
    let output = compressed_output(&args.output, format, args.compress.map(Into::into))?;
    let opts = ExportOptions {
        mode,
        since: plan.export.since,
        modules: vec![],
        output,
        format,
        schema_version: version,
        follows,
        closure: false,
    };
    let report = data::export(db.as_mut(), &plan, &opts)?;
    Ok(report.render_text())
}

/// `migplan import --db URL FILE`.
pub fn import_shortcut(args: &ImportArgs) -> Result<String> {
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
        let opts = ImportOptions {
            conflict: args.load.conflict.map(Into::into),
            triggers: args.load.triggers.map(Into::into),
            modules: vec![],
            dry_run: args.dry_run,
            schema_version: version,
            replace: false,
            run_id: end.run_id,
            undoes: None,
        };
        let reports = data::import_files(db, &plan, &args.files, &opts)?;
        end.tables = serde_json::to_value(&reports).ok();
        end.schema_after = version;
        render_imports(reports, args.dry_run, args.report)
    };
    if args.dry_run {
        return work(db.as_mut(), &mut history::End::default());
    }
    let mut start = history_start(&plan, "import", &args.record, version);
    start.plan = "(import command)".into();
    start.plan_sha256 = None;
    recorded(db.as_mut(), &args.record, start, work)
}

/// What `migplan status` shows.
#[derive(Serialize)]
struct StatusView {
    database: String,
    engine: &'static str,
    /// Who holds the run lock, or `None` when it is free.
    lock_holder: Option<String>,
    /// What the database holds; `None` while a run keeps readers out.
    #[serde(flatten)]
    contents: Option<StatusContents>,
    /// Why `contents` could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    unreadable: Option<String>,
}

#[derive(Serialize)]
struct StatusContents {
    schema_version: Option<i64>,
    pending: Vec<String>,
    last_runs: Vec<history::Run>,
    tables: Vec<TableRows>,
    size_bytes: u64,
}

#[derive(Serialize)]
struct TableRows {
    table: String,
    /// `None` while a running import holds the table.
    rows: Option<u64>,
}

/// `migplan status [PLAN] [--db URL]`: the lock first, read beside the
/// database, so that who works on it shows even when the database itself
/// cannot be read (SQLite during a large write).
pub fn status(args: &StatusArgs) -> Result<String> {
    let plan = match &args.plan {
        Some(p) => Some(plan::load(p)?),
        None => None,
    };
    let url = db_or_plan(args.db.as_deref(), plan.as_ref())?;
    let opts = OpenOptions {
        busy_wait: Some(Duration::from_secs(1)),
        ..OpenOptions::default()
    };
    let mut db = backend::open(&url, &opts)?;
    let db = db.as_mut();
    let free = lock_free(db)?;
    let lock_holder = (!free).then(|| history::holder(db));
    let (contents, unreadable) = match status_contents(plan.as_ref(), db, free) {
        Ok(c) => (Some(c), None),
        Err(e @ Error::Database { .. }) if !free => (
            None,
            Some(format!(
                "the database lets no one read while the run holding the lock writes ({e}); try again when it ends"
            )),
        ),
        Err(e) => return Err(e),
    };
    let view = StatusView {
        database: url.redacted(),
        engine: db.engine().name(),
        lock_holder,
        contents,
        unreadable,
    };
    render(&view, args.format, render_status_view)
}

fn status_contents(
    plan: Option<&Plan>,
    db: &mut dyn Backend,
    free: bool,
) -> Result<StatusContents> {
    let schema = match plan {
        Some(p) => status_of(p, db)?,
        None => Scripts::none().status(db, None)?,
    };
    let mut last_runs = history::list(db, 5)?;
    history::show_interrupted(&mut last_runs, free);
    let mut tables = Vec::new();
    for t in db.catalog()?.tables {
        let rows = db.count_rows_unless_locked(&t.name)?;
        tables.push(TableRows {
            table: t.name,
            rows,
        });
    }
    Ok(StatusContents {
        schema_version: schema.version(),
        pending: schema.pending.iter().map(|p| p.label()).collect(),
        last_runs,
        tables,
        size_bytes: db.size_bytes()?,
    })
}

fn render_status_view(v: &StatusView) -> String {
    let mut out = format!(
        "database   {} ({})\nlock       {}\n",
        v.database,
        v.engine,
        v.lock_holder.as_deref().unwrap_or("free"),
    );
    let Some(c) = &v.contents else {
        out.push_str(&format!(
            "contents   unreadable: {}\n",
            v.unreadable.as_deref().unwrap_or("")
        ));
        return out;
    };
    let version = c
        .schema_version
        .map_or_else(|| "none applied".to_string(), |n| n.to_string());
    let pending = if c.pending.is_empty() {
        "none".to_string()
    } else {
        c.pending.join(", ")
    };
    out.push_str(&format!(
        "schema     version {version}; pending: {pending}\nsize       {}\n\n",
        data::report::human_bytes(c.size_bytes)
    ));
    out.push_str(&format!("{:<32} {:>12}\n", "table", "rows"));
    for t in &c.tables {
        let rows = t
            .rows
            .map_or_else(|| "(being written)".to_string(), |n| n.to_string());
        out.push_str(&format!("{:<32} {:>12}\n", t.table, rows));
    }
    out.push_str("\nlast runs\n");
    out.push_str(&history::render_list(&c.last_runs));
    out
}

/// Whether no one holds the database's run lock (taken and let go at once).
fn lock_free(db: &mut dyn Backend) -> Result<bool> {
    if db.try_lock()? {
        db.unlock()?;
        return Ok(true);
    }
    Ok(false)
}

/// `migplan rollback [PLAN] RUN_ID [--db URL]`: the database as it was
/// before the run, from the backup taken then; the run's schema scripts are
/// undone first (which needs the plan, for its undo scripts).
pub fn rollback(args: &RollbackArgs) -> Result<String> {
    let (plan, id) = plan_and_run(&args.args)?;
    let id =
        id.ok_or_else(|| Error::Usage("which run? pass its id (see `migplan history`)".into()))?;
    let url = db_or_plan(args.db.as_deref(), plan.as_ref())?;
    let mut db = backend::open(&url, &waiting(&args.record))?;
    let mut run =
        recorded_run(db.as_mut(), &url, id).map_err(|e| history::explain_busy(db.as_mut(), e))?;
    let gone = run.status == history::Status::Running && lock_free(db.as_mut())?;
    history::show_interrupted(std::slice::from_mut(&mut run), gone);
    // Refused early, before asking; checked again under the lock.
    rollback_source(db.as_mut(), &run, args.force)?;
    let schema_changed = run.schema_after.unwrap_or(0) != run.schema_before.unwrap_or(0);
    let plan = match plan {
        Some(p) => p,
        None if schema_changed => {
            return Err(Error::Usage(format!(
                "run {id} applied schema scripts (version {} → {}): pass its plan, whose undo scripts take the schema back",
                run.schema_before.unwrap_or(0),
                run.schema_after.unwrap_or(0)
            )));
        }
        None => adhoc_plan(PlanKind::Import, "sqlite://:memory:")?,
    };
    let action = format!("restore the database to its state before run {id}");
    let request = crate::confirm::Request {
        plan: Some(&plan),
        database: &url,
        action: &action,
        always: true,
    };
    request.check(args.yes)?;
    let before = status_of(&plan, db.as_mut())?.version();
    let mut start = history_start(&plan, "rollback", &args.record, before);
    if start.message.is_none() {
        start.message = Some(format!("rollback of run {id}"));
    }
    recorded(db.as_mut(), &args.record, start, |db, end| {
        // Again under the run lock: a run that committed while this one
        // waited for the lock (or asked) must not be undone unawares.
        let run = recorded_run(db, &url, id)?;
        let backup = rollback_source(db, &run, args.force)?;
        backup_before(&plan, db, before, end)?;
        if schema_changed {
            let to = run.schema_before.unwrap_or(0);
            for undone in scripts(&plan, db)?.down(db, to, false)? {
                eprintln!("ran {undone}");
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
        let mut out = format!("run {id} rolled back from {}\n", backup.display());
        out.push_str(&render_imports(reports, false, args.report)?);
        Ok(out)
    })
}

/// The backup a rollback of `run` restores, once the run may be rolled
/// back: it ended, it has a backup, and no later run changed the database
/// (unless `force`).
fn rollback_source(db: &mut dyn Backend, run: &history::Run, force: bool) -> Result<PathBuf> {
    let id = run.id;
    match run.status {
        history::Status::Running => {
            return Err(Error::Mismatch(format!("run {id} is still running")));
        }
        history::Status::RolledBack => {
            return Err(Error::Mismatch(format!("run {id} was already rolled back")));
        }
        _ => {}
    }
    let Some(file) = run.backup.as_ref().map(PathBuf::from) else {
        return Err(Error::Mismatch(format!(
            "run {id} has no backup to restore (backups were off, or it was recorded before migplan took them)"
        )));
    };
    if !file.exists() {
        return Err(Error::Mismatch(format!(
            "the backup of run {id}, `{}`, is gone (moved, or pruned by `[backup] keep` / `retention_days`)",
            file.display()
        )));
    }
    let later: Vec<String> = history::list(db, usize::MAX >> 1)?
        .into_iter()
        .filter(|r| r.id > id && r.status == history::Status::Succeeded)
        .map(|r| format!("{} ({})", r.id, r.kind))
        .collect();
    if !later.is_empty() && !force {
        return Err(Error::Mismatch(format!(
            "later runs changed the database after run {id}: {}; restoring the state before run {id} would undo them too\n  = help: roll those back first, newest first, or pass --force",
            later.join(", ")
        )));
    }
    Ok(file)
}

/// Run `id` of the database's history, or an error pointing at the list.
fn recorded_run(db: &mut dyn Backend, url: &DbUrl, id: i64) -> Result<history::Run> {
    history::get(db, id)?.ok_or_else(|| {
        Error::Mismatch(format!(
            "no run {id} in the history of {}\n  = help: `migplan history --db URL` lists the recorded runs",
            url.redacted()
        ))
    })
}

/// A plan and a run id from `history`/`rollback` arguments, in any order.
fn plan_and_run(args: &[String]) -> Result<(Option<Plan>, Option<i64>)> {
    let (ids, plans): (Vec<&String>, Vec<&String>) = args
        .iter()
        .partition(|a| !a.is_empty() && a.chars().all(|c| c.is_ascii_digit()));
    if ids.len() > 1 || plans.len() > 1 {
        return Err(Error::Usage("pass at most one plan and one run id".into()));
    }
    let plan = match plans.first() {
        Some(p) => Some(load_plan(Path::new(p.as_str()), None)?),
        None => None,
    };
    let id = match ids.first() {
        Some(i) => Some(
            i.parse()
                .map_err(|_| Error::Usage(format!("`{i}` is not a run id")))?,
        ),
        None => None,
    };
    Ok((plan, id))
}

/// `migplan history [PLAN] [RUN_ID] [--db URL]`.
pub fn history(args: &HistoryArgs) -> Result<String> {
    let (plan, id) = plan_and_run(&args.args)?;
    let url = db_or_plan(args.db.as_deref(), plan.as_ref())?;
    let mut db = backend::open(&url, &OpenOptions::default())?;
    if let Some(id) = id {
        let mut run = recorded_run(db.as_mut(), &url, id)?;
        let free = run.status == history::Status::Running && lock_free(db.as_mut())?;
        history::show_interrupted(std::slice::from_mut(&mut run), free);
        return render(&run, args.format, history::render_run);
    }
    let mut runs = history::list(db.as_mut(), args.limit)?;
    let free = runs.iter().any(|r| r.status == history::Status::Running) && lock_free(db.as_mut())?;
    history::show_interrupted(&mut runs, free);
    render(&runs, args.format, |r| history::render_list(r))
}

/// `migplan verify FILE --db URL`: the backup compared with the database in
/// one read snapshot; exit 1 when they differ.
pub fn verify(args: &VerifyArgs, out: &mut impl Write) -> Result<i32> {
    let plan = args.plan.as_deref().map(plan::load).transpose()?;
    if let Some(p) = &plan {
        format::limits::set(p.import.limits);
    }
    let url = db_or_plan(args.db.as_deref(), plan.as_ref())?;
    let opts = data::VerifyOptions {
        tables: (!args.tables.is_empty()).then(|| args.tables.clone()),
        limit: args.limit,
    };
    let sheets = plan.as_ref().map(Plan::sheet_names).unwrap_or_default();
    let mut db = backend::open(&url, &OpenOptions::default())?;
    db.begin_read()?;
    let result = data::verify_with_sheets(db.as_mut(), &args.file, &opts, &sheets);
    db.rollback()?;
    let report = result?;
    let text = render(&report, args.format, |r| r.render_text())?;
    write_out(out, &text)?;
    Ok(if report.differs() {
        exit::FAILED
    } else {
        exit::SUCCESS
    })
}

/// `migplan schema status PLAN`.
pub fn schema_status(args: &SchemaArgs) -> Result<String> {
    let plan = load_plan(&args.plan, args.env.as_deref())?;
    let url = database_url(&plan, args.db.as_deref())?;
    let mut db = backend::open(&url, &OpenOptions::default())?;
    Ok(render_status(&status_of(&plan, db.as_mut())?))
}

/// `migplan schema up PLAN [--dry-run] [--resume]`.
pub fn schema_up(up: &SchemaUpArgs) -> Result<String> {
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
        eprintln!("{DDL_NOTE}");
    }
    let start = history_start(&plan, "schema up", &up.record, before.version());
    recorded(db.as_mut(), &up.record, start, |db, end| {
        if pending > 0 {
            backup_before(&plan, db, before.version(), end)?;
        }
        let applied = scripts.apply(db, plan.schema.target, up.resume)?;
        let mut out: String = applied.iter().map(|a| format!("applied {a}\n")).collect();
        if applied.is_empty() {
            out.push_str("schema is up to date\n");
        }
        let after = scripts.status(db, plan.schema.target)?;
        end.schema_after = after.version();
        out.push_str(&render_status(&after));
        Ok(out)
    })
}

/// `schema up --dry-run`: the scripts that would run, in order.
fn schema_up_dry_run(plan: &Plan, url: &DbUrl) -> Result<String> {
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
    let mut out = schema_mod::render_planned("would apply", &planned);
    out.push_str(&format!(
        "dry run: {} script(s) would run; nothing was changed\n",
        planned.len()
    ));
    Ok(out)
}

/// `migplan schema down PLAN --to N [--dry-run]`. Confirmation (`--yes`)
/// is the caller's.
pub fn schema_down(args: &SchemaDownArgs) -> Result<String> {
    let SchemaTarget {
        plan,
        url,
        mut db,
        scripts,
    } = schema_target(&args.plan, args.db.as_deref())?;
    if args.dry_run {
        let planned = scripts.plan_down(db.as_mut(), args.to)?;
        let mut out = schema_mod::render_planned("would run", &planned);
        out.push_str(&format!(
            "dry run: {} undo script(s) would run, down to version {}; nothing was changed\n",
            planned.len(),
            args.to
        ));
        return Ok(out);
    }
    // A `--to` that cannot work is refused before anyone is asked.
    scripts.plan_down(db.as_mut(), args.to)?;
    let action = format!("undo schema scripts down to version {}", args.to);
    let request = crate::confirm::Request {
        plan: Some(&plan),
        database: &url,
        action: &action,
        always: true,
    };
    request.check(args.yes)?;
    if !db.transactional_ddl() {
        eprintln!("{DDL_NOTE}");
    }
    let before = scripts.status(db.as_mut(), None)?.version();
    let start = history_start(&plan, "schema down", &args.record, before);
    recorded(db.as_mut(), &args.record, start, |db, end| {
        backup_before(&plan, db, before, end)?;
        let undone = scripts.down(db, args.to, args.resume)?;
        let mut out: String = undone.iter().map(|u| format!("ran {u}\n")).collect();
        let after = scripts.status(db, None)?;
        end.schema_after = after.version();
        out.push_str(&render_status(&after));
        Ok(out)
    })
}

/// `migplan schema new PLAN NAME`: the pair in the plan's folder, or in
/// every existing engine folder when the path holds `{engine}`.
pub fn schema_new(args: &SchemaNewArgs) -> Result<String> {
    let plan = plan::load(&args.plan)?;
    let Some(dir) = &plan.schema.migrations else {
        return Err(Error::Usage(format!(
            "{} has no `[schema] migrations` folder: add one first",
            plan.path.display()
        )));
    };
    let dirs: Vec<PathBuf> = if dir.to_string_lossy().contains(plan::ENGINE_PLACEHOLDER) {
        let found: Vec<PathBuf> = ["sqlite", "postgres", "mysql"]
            .iter()
            .filter_map(|e| plan.migrations_for(e))
            .filter(|d| d.is_dir())
            .collect();
        if found.is_empty() {
            return Err(Error::Mismatch(format!(
                "no engine folder exists for `{}`: create the folders of the engines you use (e.g. {})",
                dir.display(),
                plan.migrations_for("sqlite").unwrap_or_default().display()
            )));
        }
        found
    } else {
        vec![dir.clone()]
    };
    let created = schema_mod::new_script(&dirs, &args.name)?;
    Ok(created
        .iter()
        .map(|p| format!("created {}\n", p.display()))
        .collect())
}

/// `migplan schema baseline PLAN N`.
pub fn schema_baseline(args: &SchemaBaselineArgs) -> Result<String> {
    let SchemaTarget {
        plan,
        mut db,
        scripts,
        ..
    } = schema_target(&args.plan, args.db.as_deref())?;
    let marked = scripts.baseline(db.as_mut(), args.version)?;
    let mut out: String = marked
        .iter()
        .map(|m| format!("marked {m} as applied (not run)\n"))
        .collect();
    out.push_str(&render_status(
        &scripts.status(db.as_mut(), plan.schema.target)?,
    ));
    Ok(out)
}

/// `migplan schema repair PLAN`.
pub fn schema_repair(args: &SchemaArgs) -> Result<String> {
    let SchemaTarget {
        mut db, scripts, ..
    } = schema_target(&args.plan, args.db.as_deref())?;
    let repaired = scripts.repair(db.as_mut())?;
    if repaired.is_empty() {
        return Ok(
            "nothing to repair: every applied script matches its recorded checksum\n".into(),
        );
    }
    Ok(repaired
        .iter()
        .map(|r| format!("re-recorded the checksum of {r} (only comments or whitespace changed)\n"))
        .collect())
}

fn render_status(status: &Status) -> String {
    let mut out = String::new();
    for s in &status.applied {
        out.push_str(&format!(
            "applied  {:<40} {}{}\n",
            s.label(),
            s.applied_on.as_deref().unwrap_or(""),
            if s.changed {
                "  (file changed since: see `migplan schema repair`)"
            } else {
                ""
            }
        ));
    }
    for s in &status.pending {
        out.push_str(&format!("pending  {}\n", s.label()));
    }
    out.push_str(&format!(
        "schema version {} ({} applied, {} pending)\n",
        status.version().map_or("none".into(), |v| v.to_string()),
        status.applied.len(),
        status.pending.len()
    ));
    out
}

/// One step of `migplan plan`.
#[derive(Debug, Serialize)]
struct PlanStep {
    table: String,
    module: Option<String>,
    rows: u64,
    conflict: &'static str,
}

#[derive(Debug, Serialize)]
struct PlanView {
    plan: String,
    kind: PlanKind,
    database: String,
    pending_scripts: Vec<String>,
    /// The adapter chain an older backup goes through, one line each.
    adapters: Vec<String>,
    tables: Vec<PlanStep>,
    /// Tables `[export] closure` pulls in (their referenced rows only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    closure: Vec<ClosureStep>,
    /// Columns whose values the target cannot hold exactly, with the
    /// reason and whether the plan accepts the conversion.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    lossy: Vec<data::LossyColumn>,
    notes: Vec<String>,
}

/// A table `[export] closure` pulls in, and the references that pull it in.
#[derive(Debug, Serialize)]
struct ClosureStep {
    table: String,
    referenced_by: Vec<String>,
}

/// The tables a modules export with `[export] closure` pulls in, from the
/// catalog's foreign keys (no rows read).
fn closure_view(plan: &Plan, catalog: &Catalog) -> Result<Vec<ClosureStep>> {
    if plan.kind != PlanKind::Export
        || !plan.export.closure
        || plan.export.mode != ExportMode::Modules
    {
        return Ok(vec![]);
    }
    let tables = data::select_tables(plan, catalog, &plan.export.modules)?;
    Ok(data::closure_tables(catalog, &tables)
        .into_iter()
        .map(|(table, referenced_by)| ClosureStep {
            table,
            referenced_by,
        })
        .collect())
}

/// `migplan plan PLAN`: the ordered steps, changing nothing.
pub fn show_plan(args: &PlanArgs) -> Result<String> {
    let plan = load_plan(&args.plan, args.env.as_deref())?;
    // A copy plan's scripts run on its target; its rows come from its source.
    let url = match plan.kind {
        PlanKind::Copy => copy_endpoint(&plan, plan.target.as_ref(), "target")?,
        _ => database_url(&plan, args.db.as_deref())?,
    };
    let (mut db, preview) = open_for_preview(&plan, &url)?;
    // A preview database is SQLite only where the real one is.
    let scripts = scripts(&plan, db.as_ref())?;
    let status = scripts.status(db.as_mut(), plan.schema.target)?;
    let version_after = status
        .applied
        .iter()
        .chain(&status.pending)
        .map(|s| s.version)
        .max();
    let adapters = match plan.kind {
        PlanKind::Import => adapter_chain(&plan, args.file.as_deref(), version_after)?,
        _ => vec![],
    };
    if preview.is_some() {
        scripts.apply(db.as_mut(), plan.schema.target, false)?;
    }
    let mut notes: Vec<String> = preview.into_iter().collect();
    notes.extend(plan.environment.as_ref().map(environment_note));
    if !status.pending.is_empty() && !db.transactional_ddl() {
        notes.push(DDL_NOTE.trim_start_matches("note: ").to_string());
    }
    let target_catalog = match plan.kind {
        PlanKind::Copy | PlanKind::Import => Some(db.catalog()?),
        _ => None,
    };
    let target_engine = db.engine();
    let mut source = match plan.kind {
        PlanKind::Copy => {
            let u = copy_endpoint(&plan, plan.source.as_ref(), "source")?;
            notes.push(format!(
                "rows are copied from {} into {}",
                u.redacted(),
                url.redacted()
            ));
            Some(backend::open(&u, &OpenOptions::default())?)
        }
        _ => None,
    };
    let source_engine = source.as_ref().map(|s| s.engine().name());
    let rows_db: &mut dyn Backend = match source.as_mut() {
        Some(s) => s.as_mut(),
        None => db.as_mut(),
    };
    let catalog = rows_db.catalog()?;
    let modules = if plan.export.mode == ExportMode::Modules {
        plan.export.modules.clone()
    } else {
        vec![]
    };
    let tables = data::select_tables(&plan, &catalog, &modules)?;
    let dag = Dag::build(&plan, &catalog, &tables)?;
    if args.format == PlanFormat::Dot {
        return Ok(dag.to_dot(&plan));
    }
    for d in dag.deferred() {
        notes.push(format!(
            "foreign keys form a cycle: `{}` loads before `{}`, which its ({}) reference; the key is checked with all others after the load",
            d.child,
            d.parent,
            d.columns.join(", ")
        ));
    }
    let lossy = match (&target_catalog, source_engine) {
        (Some(target), Some(source_engine)) => data::lossy::find(
            &plan,
            target_engine,
            source_engine,
            target,
            copied_columns(&plan, &catalog, &dag)
                .iter()
                .map(|(t, c)| (t.as_str(), c.as_slice())),
        ),
        (Some(target), None) => match planned_backup(&plan, args.file.as_deref(), version_after)? {
            Some(meta) => data::lossy::in_backup(&plan, target_engine, target, &meta),
            None => vec![],
        },
        _ => vec![],
    };
    let mut steps = Vec::new();
    for t in dag.order() {
        steps.push(PlanStep {
            table: t.to_string(),
            module: plan.module_of(t).map(|m| m.name.clone()),
            rows: rows_db.count_rows(t)?,
            conflict: plan.conflict_for(t).name(),
        });
    }
    let view = PlanView {
        plan: plan.name.clone(),
        kind: plan.kind,
        database: url.redacted(),
        pending_scripts: status.pending.iter().map(|s| s.label()).collect(),
        adapters,
        tables: steps,
        closure: closure_view(&plan, &catalog)?,
        lossy,
        notes,
    };
    match args.format {
        PlanFormat::Json => Ok(serde_json::to_string_pretty(&view).expect("serializes") + "\n"),
        _ => Ok(render_plan(&view)),
    }
}

/// The columns a copy reads from each source table, in load order (the
/// plan's `exclude` left out), with their types.
fn copied_columns(
    plan: &Plan,
    catalog: &Catalog,
    dag: &Dag,
) -> Vec<(String, Vec<crate::catalog::ColumnInfo>)> {
    dag.order()
        .filter_map(|t| catalog.table(t))
        .map(|info| {
            let exclude = plan.table_options(&info.name).exclude;
            let columns = info
                .columns
                .iter()
                .filter(|c| !exclude.contains(&c.name))
                .cloned()
                .collect();
            (info.name.clone(), columns)
        })
        .collect()
}

/// The meta of the JSON backup an import plan would read (`--file`, else
/// `[import] file`), upgraded through the plan's adapters to `target` as
/// the import would; `None` when there is none to read.
fn planned_backup(
    plan: &Plan,
    file: Option<&Path>,
    target: Option<i64>,
) -> Result<Option<format::BackupMeta>> {
    let file = file.map(Path::to_path_buf).or(plan.import.file.clone());
    let Some(f) = file.filter(|f| f.is_file()) else {
        return Ok(None);
    };
    if Format::detect(&f)? != Format::Json {
        return Ok(None);
    }
    let meta = format::read_meta(&f)?;
    if plan.import.adapters.is_empty() {
        return Ok(Some(meta));
    }
    let set = AdapterSet::load(&plan.import.adapters)?;
    match data::upgrade_chain(&set, &meta, target)? {
        Some(chain) => Ok(Some(chain.plan(&meta)?.meta().clone())),
        None => Ok(Some(meta)),
    }
}

/// What the plan's adapters would do to its backup: the chain from the
/// backup's schema version to `target`, checked against the backup's
/// tables; without a backup, every step the adapter files hold.
fn adapter_chain(plan: &Plan, file: Option<&Path>, target: Option<i64>) -> Result<Vec<String>> {
    if plan.import.adapters.is_empty() {
        return Ok(vec![]);
    }
    let set = AdapterSet::load(&plan.import.adapters)?;
    let file = file.map(Path::to_path_buf).or(plan.import.file.clone());
    let meta = match file {
        Some(f) if f.is_file() && Format::detect(&f)? == Format::Json => format::read_meta(&f)?,
        _ => {
            let mut lines =
                vec!["steps known (no backup given: pass --file to see its chain):".into()];
            lines.extend(set.steps().iter().map(|s| s.headline()));
            return Ok(lines);
        }
    };
    match data::upgrade_chain(&set, &meta, target)? {
        Some(chain) => {
            chain.plan(&meta)?;
            Ok(chain.describe().lines().map(String::from).collect())
        }
        None => Ok(vec![format!(
            "the backup is at schema version {}: no adapter step applies",
            meta.schema_version
                .map_or("unknown".into(), |v| v.to_string())
        )]),
    }
}

/// `migplan plan`'s line about the selected environment.
fn environment_note(env: &plan::Environment) -> String {
    let mut note = format!("environment `{}`", env.name);
    if env.confirm {
        note.push_str(": changes are confirmed first (`confirm = true`)");
    }
    if env.dry_run {
        note.push_str(match env.confirm {
            true => "; runs are dry runs unless --no-dry-run",
            false => ": runs are dry runs unless --no-dry-run",
        });
    }
    note
}

fn copy_endpoint(plan: &Plan, url: Option<&String>, which: &str) -> Result<DbUrl> {
    match url {
        Some(u) => DbUrl::parse(u, plan.dir()),
        None => Err(Error::Usage(format!(
            "{} has no `[{which}] url`",
            plan.path.display()
        ))),
    }
}

/// A database file that does not exist yet is previewed in memory, with the
/// pending scripts applied there, so the real file is not created.
fn open_for_preview(plan: &Plan, url: &DbUrl) -> Result<(Box<dyn Backend>, Option<String>)> {
    if url.sqlite_path().is_some_and(|p| !p.exists()) && plan.schema.migrations.is_some() {
        let mem = DbUrl::parse("sqlite://:memory:", Path::new("."))?;
        let note = "the database does not exist yet: tables are shown as the schema scripts will create them".to_string();
        return Ok((backend::open(&mem, &OpenOptions::default())?, Some(note)));
    }
    Ok((backend::open(url, &OpenOptions::default())?, None))
}

fn render_plan(v: &PlanView) -> String {
    let kind = v.kind.name();
    let mut out = format!("plan `{}` ({kind}) on {}\n", v.plan, v.database);
    for n in &v.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    for s in &v.pending_scripts {
        out.push_str(&format!("apply    {s}\n"));
    }
    for s in &v.adapters {
        out.push_str(&format!("upgrade  {s}\n"));
    }
    if v.kind == PlanKind::Migrate {
        return out;
    }
    for (i, t) in v.tables.iter().enumerate() {
        out.push_str(&format!(
            "{:<8} {:>2}. {:<24} module {:<16} ~{:>9} rows  conflict {}\n",
            match v.kind {
                PlanKind::Export => "export",
                _ => v.kind.name(),
            },
            i + 1,
            t.table,
            t.module.as_deref().unwrap_or("-"),
            t.rows,
            t.conflict
        ));
    }
    for c in &v.closure {
        out.push_str(&format!(
            "closure  {:<28} (referenced by {})\n",
            c.table,
            c.referenced_by.join(", ")
        ));
    }
    for l in &v.lossy {
        out.push_str(&format!("lossy    {}\n", l.describe()));
    }
    out
}

/// `migplan validate PATH...`: exit 0 when every plan is valid, 1 otherwise.
pub fn validate(args: &ValidateArgs, out: &mut impl Write) -> Result<i32> {
    let files = plan_files(&args.paths)?;
    let mut results = Vec::new();
    for f in &files {
        let diags = if is_adapter_file(f) {
            diagnostics(f, AdapterSet::load(std::slice::from_ref(f)).map(drop))
        } else {
            validate_plan(f, args)
        };
        results.push((f.clone(), diags));
    }
    write_out(out, &render_validation(&results, args.format))?;
    let ok = results.iter().all(|(_, d)| d.is_empty());
    Ok(if ok { exit::SUCCESS } else { exit::FAILED })
}

/// The plan's problems, then each environment's (`--env`: that one's
/// only), each said once: a problem of the plan itself is not repeated for
/// every environment that inherits it.
fn validate_plan(f: &Path, args: &ValidateArgs) -> Vec<Diagnostic> {
    let check = |choice: Option<&EnvChoice>| {
        let checked = plan::load_in(f, choice).and_then(|p| check_loaded(&p, args));
        diagnostics(f, checked)
    };
    let (mut found, names) = match &args.env {
        Some(name) => (Vec::new(), vec![name.clone()]),
        None => (check(None), environments_of(f)),
    };
    for name in names {
        let choice = EnvChoice::flag(&name);
        for d in check(Some(&choice)) {
            if !found.iter().any(|b| same_problem(b, &d)) {
                found.push(in_environment(d, &name));
            }
        }
    }
    found
}

/// The checks beyond loading: the plan's adapter files, and `--db`.
fn check_loaded(plan: &Plan, args: &ValidateArgs) -> Result<()> {
    AdapterSet::load(&plan.import.adapters)?;
    let Some(db) = &args.db else {
        return Ok(());
    };
    match check_against_db(plan, db)? {
        d if d.is_empty() => Ok(()),
        d => Err(Error::Invalid(d)),
    }
}

fn diagnostics(f: &Path, checked: Result<()>) -> Vec<Diagnostic> {
    match checked {
        Ok(()) => vec![],
        Err(Error::Invalid(d)) => d,
        Err(e) => vec![Diagnostic::file(f, e.to_string())],
    }
}

fn environments_of(f: &Path) -> Vec<String> {
    std::fs::read_to_string(f)
        .map(|src| plan::environment_names(&src))
        .unwrap_or_default()
}

fn same_problem(a: &Diagnostic, b: &Diagnostic) -> bool {
    (&a.path, &a.span, &a.message) == (&b.path, &b.span, &b.message)
}

/// Says which environment a problem belongs to, unless it already does.
fn in_environment(mut d: Diagnostic, name: &str) -> Diagnostic {
    if !d.message.contains(&format!("environment `{name}`")) {
        d.message = format!("in environment `{name}`: {}", d.message);
    }
    d
}

fn render_validation(results: &[(PathBuf, Vec<Diagnostic>)], fmt: ValidateFormat) -> String {
    match fmt {
        ValidateFormat::Github => results
            .iter()
            .flat_map(|(_, d)| d)
            .map(|d| d.render_github() + "\n")
            .collect(),
        ValidateFormat::Json => {
            let v: Vec<serde_json::Value> = results
                .iter()
                .map(|(f, d)| serde_json::json!({"file": f.display().to_string(), "valid": d.is_empty(), "errors": d.iter().map(Diagnostic::to_json).collect::<Vec<_>>()}))
                .collect();
            serde_json::to_string_pretty(&v).expect("serializes") + "\n"
        }
        ValidateFormat::Text => {
            let mut out = String::new();
            for (f, diags) in results {
                if diags.is_empty() {
                    out.push_str(&format!("ok       {}\n", f.display()));
                }
                for d in diags {
                    out.push_str(&d.render());
                    out.push('\n');
                }
            }
            let bad = results.iter().filter(|(_, d)| !d.is_empty()).count();
            out.push_str(&format!(
                "{} file(s) checked, {bad} invalid\n",
                results.len()
            ));
            out
        }
    }
}

/// An adapter file holds `[[step]]`s and no `[plan]` (docs/adapters.md).
fn is_adapter_file(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    match text.parse::<toml::Table>() {
        Ok(t) => t.contains_key("step") && !t.contains_key("plan"),
        Err(_) => false,
    }
}

/// Files as given, and every `*.toml` under given folders (sorted).
fn plan_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            collect_toml(p, &mut found)?;
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

fn collect_toml(dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_dir() {
            collect_toml(&path, found)?;
        } else if path.extension().is_some_and(|e| e == "toml") {
            found.push(path);
        }
    }
    Ok(())
}

/// `validate --db`: tables and columns exist, and the declared module order
/// agrees with the foreign keys.
fn check_against_db(plan: &Plan, url: &str) -> Result<Vec<Diagnostic>> {
    let url = DbUrl::parse(url, Path::new("."))?;
    let mut db = backend::open(&url, &OpenOptions::default())?;
    let catalog = db.catalog()?;
    let mut problems = Vec::new();
    for m in &plan.modules {
        for t in m.tables.iter().filter(|t| catalog.table(t).is_none()) {
            problems.push(format!(
                "module `{}` lists table `{t}`, which {} does not have",
                m.name,
                url.redacted()
            ));
        }
    }
    for (table, opts) in &plan.tables {
        let Some(info) = catalog.table(table) else {
            problems.push(format!(
                "`[tables.{table}]` names a table {} does not have",
                url.redacted()
            ));
            continue;
        };
        let named = opts
            .key
            .iter()
            .flatten()
            .chain(opts.updated_at.iter())
            .chain(opts.exclude.iter())
            .chain(opts.accept_lossy.iter());
        for c in named.filter(|c| info.column(c).is_none()) {
            problems.push(format!(
                "`[tables.{table}]` names column `{c}`, which table `{table}` does not have"
            ));
        }
    }
    problems.extend(module_order_problems(plan, &catalog));
    Ok(problems
        .into_iter()
        .map(|p| Diagnostic::file(&plan.path, p))
        .collect())
}

/// A foreign key from a table of module A to a table of module B needs A to
/// depend (directly or not) on B.
fn module_order_problems(plan: &Plan, catalog: &crate::catalog::Catalog) -> Vec<String> {
    let mut problems = Vec::new();
    for table in &catalog.tables {
        let Some(child) = plan.module_of(&table.name) else {
            continue;
        };
        for fk in &table.foreign_keys {
            let Some(parent) = plan.module_of(&fk.ref_table) else {
                continue;
            };
            if parent.name != child.name && !depends(plan, &child.name, &parent.name, &mut vec![]) {
                problems.push(format!(
                    "`{}`.({}) references `{}` of module `{}`, but module `{}` does not depend on `{}`: add it to `depends_on`",
                    table.name, fk.columns.join(", "), fk.ref_table, parent.name, child.name, parent.name
                ));
            }
        }
    }
    problems
}

fn depends(plan: &Plan, from: &str, on: &str, seen: &mut Vec<String>) -> bool {
    if seen.iter().any(|s| s == from) {
        return false;
    }
    seen.push(from.to_string());
    let Some(m) = plan.module(from) else {
        return false;
    };
    m.depends_on
        .iter()
        .any(|d| d == on || depends(plan, d, on, seen))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_values_cannot_add_or_climb_folders() {
        assert_eq!(placeholder_value("tiku-nightly.v2"), "tiku-nightly.v2");
        assert_eq!(placeholder_value("../../etc/x"), "____etc_x");
        assert_eq!(placeholder_value("a\\b\0c\nd"), "a_b_c_d");
        assert_eq!(placeholder_value("..."), "_.");
        let out = expand_output(Path::new("/p/{plan}.json"), "../x");
        assert_eq!(out.parent(), Some(Path::new("/p")));
    }
}

//! The command line (clap derive): arguments, dispatch, error rendering and
//! exit codes. The work itself lives in [`crate::run`].

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::error::{Error, Result, exit};
use crate::ops;
use crate::plan::{Conflict, Triggers};
mod render;
mod terminal;

#[derive(Debug, Parser)]
#[command(
    name = "migplan",
    version,
    about = "Declarative data migrations: plan → DAG → schema → data"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a plan: schema scripts, then its export or import.
    Run(RunArgs),
    /// Check plan files (or folders of them) without running anything.
    Validate(ValidateArgs),
    /// Print the ordered steps a plan would take, changing nothing.
    Plan(PlanArgs),
    /// Schema scripts: status, apply, undo, create, baseline, repair.
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// Export a database to a backup without a plan file.
    Export(ExportArgs),
    /// Import a backup into a database without a plan file.
    Import(ImportArgs),
    /// Runs recorded in a database: the latest, or one run whole.
    History(HistoryArgs),
    /// One screen before a migration: schema version, pending scripts, the
    /// last runs, who holds the lock, rows per table, database size.
    Status(StatusArgs),
    /// Restore a database to its state before a recorded run, from the
    /// backup taken before that run (undoing its schema scripts first).
    Rollback(RollbackArgs),
    /// Compare a backup with a live database: missing, extra and changed
    /// rows by key; exit 1 when they differ.
    Verify(VerifyArgs),
}

#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    /// The run to undo, and optionally the plan whose database (and undo
    /// scripts) to use.
    #[arg(value_name = "PLAN|RUN_ID", num_args = 1..=2, required = true)]
    pub args: Vec<String>,
    /// Database URL, instead of a plan's.
    #[arg(long)]
    pub db: Option<String>,
    /// Go ahead without asking (rollback always asks on a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Roll back even though later runs changed the database (their
    /// changes are undone too).
    #[arg(long)]
    pub force: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub report: ReportFormat,
    #[command(flatten)]
    pub record: RecordArgs,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The plan whose database (and scripts) to describe.
    pub plan: Option<PathBuf>,
    /// Database URL, instead of the plan's.
    #[arg(long)]
    pub db: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
}

/// How rows meet the target, for every command that writes them (`run`,
/// `import`): defined once.
#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Conflict policy for every table, overriding the plan.
    #[arg(long, value_enum)]
    pub conflict: Option<ConflictArg>,
    /// The target's triggers while rows load, overriding `[import] triggers`
    /// (`disable`: off for the load, on again before the commit; PostgreSQL
    /// and SQLite).
    #[arg(long, value_enum)]
    pub triggers: Option<TriggersArg>,
}

/// Who runs a change and why, for the run history; and how long to wait
/// for another run to finish with the database.
#[derive(Debug, Clone, clap::Args)]
pub struct RecordArgs {
    /// Who runs this, as "Name <email>" (default: $MIGPLAN_OPERATOR, then
    /// git's user.name and user.email, then the OS user).
    #[arg(long)]
    pub operator: Option<String>,
    /// Why: a description kept in the run history.
    #[arg(long, short)]
    pub message: Option<String>,
    /// A note kept in the run history (repeatable).
    #[arg(long)]
    pub note: Vec<String>,
    /// Seconds to wait while another run holds the database.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::history::DEFAULT_LOCK_TIMEOUT)]
    pub lock_timeout: u64,
}

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// A plan (its database is read) and/or a run id to show whole.
    #[arg(value_name = "PLAN|RUN_ID", num_args = 0..=2)]
    pub args: Vec<String>,
    /// Database URL, instead of a plan's.
    #[arg(long)]
    pub db: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
    /// How many runs to list.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ConflictArg {
    Skip,
    Overwrite,
    Error,
}

impl From<ConflictArg> for Conflict {
    fn from(c: ConflictArg) -> Conflict {
        match c {
            ConflictArg::Skip => Conflict::Skip,
            ConflictArg::Overwrite => Conflict::Overwrite,
            ConflictArg::Error => Conflict::Error,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TriggersArg {
    Fire,
    Disable,
}

impl From<TriggersArg> for Triggers {
    fn from(t: TriggersArg) -> Triggers {
        match t {
            TriggersArg::Fire => Triggers::Fire,
            TriggersArg::Disable => Triggers::Disable,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The plan file.
    pub plan: PathBuf,
    /// The plan's `[env.NAME]` to run in (default: `MIGPLAN_ENV`, if set).
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    /// Go ahead without asking, where the plan's environment has
    /// `confirm = true` (needed when there is no terminal to ask on).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Database URL, overriding `[database] url`.
    #[arg(long)]
    pub db: Option<String>,
    /// Source database URL of a copy plan, overriding `[source] url`.
    #[arg(long)]
    pub source: Option<String>,
    /// Target database URL of a copy plan, overriding `[target] url`.
    #[arg(long)]
    pub target: Option<String>,
    /// Backup to write, overriding `[export] output`.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Backup to import, overriding `[import] file`. Repeat it for an
    /// incremental chain (the full backup first), or name a folder.
    #[arg(long)]
    pub file: Vec<PathBuf>,
    /// Incremental start (RFC 3339), overriding `[export] since`.
    #[arg(long)]
    pub since: Option<String>,
    /// The previous backup of an incremental chain: the export records its
    /// id and, unless `--since` is given, starts at its export time.
    #[arg(long)]
    pub follows: Option<PathBuf>,
    /// Modules to export or import (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub modules: Vec<String>,
    /// Modules export: add the rows the modules' rows reference, overriding
    /// `[export] closure`.
    #[arg(long)]
    pub closure: bool,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Import inside a transaction, print the report, roll back; pending
    /// schema scripts are listed, not applied.
    #[arg(long)]
    pub dry_run: bool,
    /// Change data even where the plan's environment has `dry_run = true`.
    #[arg(long, conflicts_with = "dry_run")]
    pub no_dry_run: bool,
    /// MySQL/MariaDB: continue a schema script the journal marks as
    /// interrupted, from the statement it reached.
    #[arg(long)]
    pub resume: bool,
    /// Never load the plan's `[database] seed`, even into an empty
    /// database (imports never do).
    #[arg(long)]
    pub no_seed: bool,
    /// How to print the report.
    #[arg(long, value_enum, default_value = "text")]
    pub report: ReportFormat,
    #[command(flatten)]
    pub record: RecordArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValidateFormat {
    Text,
    Json,
    Github,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Plan files or folders of plan files.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: ValidateFormat,
    /// Also check tables, columns and module order against this database.
    #[arg(long)]
    pub db: Option<String>,
    /// Check only this `[env.NAME]` merged over each plan (default: the
    /// plan and every environment; `MIGPLAN_ENV` is not read here).
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Dot,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    pub plan: PathBuf,
    /// The plan's `[env.NAME]` to run in (default: `MIGPLAN_ENV`, if set).
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    #[arg(long)]
    pub db: Option<String>,
    /// Backup an import plan would read, overriding `[import] file` (shows
    /// the adapter steps that would upgrade it).
    #[arg(long)]
    pub file: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: PlanFormat,
}

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// List applied and pending schema scripts.
    Status(SchemaArgs),
    /// Apply pending schema scripts.
    Up(SchemaUpArgs),
    /// Undo applied scripts down to a version with their undo scripts.
    Down(SchemaDownArgs),
    /// Create the next numbered script and its undo twin from a template.
    New(SchemaNewArgs),
    /// Mark an existing database as being at a version, running nothing.
    Baseline(SchemaBaselineArgs),
    /// Re-record checksums of applied scripts edited only in comments or
    /// whitespace; refuse any other change.
    Repair(SchemaArgs),
}

#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    pub plan: PathBuf,
    #[arg(long)]
    pub db: Option<String>,
    /// The plan's `[env.NAME]` to run in (default: `MIGPLAN_ENV`, if set).
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct SchemaUpArgs {
    #[command(flatten)]
    pub schema: SchemaArgs,
    /// List the scripts that would run, in order, changing nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// MySQL/MariaDB: continue the script the journal marks as interrupted.
    #[arg(long)]
    pub resume: bool,
    /// Go ahead without asking, where the plan's environment has
    /// `confirm = true` (needed when there is no terminal to ask on).
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub record: RecordArgs,
}

#[derive(Debug, clap::Args)]
pub struct SchemaDownArgs {
    pub plan: PathBuf,
    /// The version to go back to: every applied script above it is undone
    /// (0 undoes them all).
    #[arg(long)]
    pub to: i64,
    #[arg(long)]
    pub db: Option<String>,
    /// List the undo scripts that would run, changing nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Go ahead without asking (undoing scripts always asks on a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// MySQL/MariaDB: continue the undo script the journal marks as
    /// interrupted.
    #[arg(long)]
    pub resume: bool,
    #[command(flatten)]
    pub record: RecordArgs,
}

#[derive(Debug, clap::Args)]
pub struct SchemaNewArgs {
    pub plan: PathBuf,
    /// The script's name: letters, digits and `_` (e.g. add_email).
    pub name: String,
}

#[derive(Debug, clap::Args)]
pub struct SchemaBaselineArgs {
    pub plan: PathBuf,
    /// The version the database is already at (a script of that version
    /// must exist).
    pub version: i64,
    #[arg(long)]
    pub db: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FileFormat {
    Json,
    Xlsx,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[arg(long)]
    pub db: String,
    /// Backup format; default from the output's extension, else json.
    #[arg(long, value_enum)]
    pub format: Option<FileFormat>,
    #[arg(long, value_delimiter = ',')]
    pub modules: Vec<String>,
    /// Export only rows changed after this instant (RFC 3339).
    #[arg(long)]
    pub since: Option<String>,
    /// The previous backup of an incremental chain (see `run --follows`).
    #[arg(long)]
    pub follows: Option<PathBuf>,
    /// Compress a JSON backup (`.zst` or `.gz` is added to the output's
    /// name); an output named `*.zst` or `*.gz` is compressed without it.
    #[arg(long, value_enum)]
    pub compress: Option<CompressArg>,
    #[arg(long, short)]
    pub output: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompressArg {
    Zstd,
    Gzip,
}

impl From<FileFormat> for crate::format::Format {
    fn from(f: FileFormat) -> Self {
        match f {
            FileFormat::Json => crate::format::Format::Json,
            FileFormat::Xlsx => crate::format::Format::Xlsx,
        }
    }
}

impl From<CompressArg> for crate::format::Compression {
    fn from(c: CompressArg) -> Self {
        match c {
            CompressArg::Zstd => crate::format::Compression::Zstd,
            CompressArg::Gzip => crate::format::Compression::Gzip,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    #[arg(long)]
    pub db: String,
    /// The backup, or an incremental chain: the full backup, then its
    /// increments in order (or one folder of them).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub load: LoadArgs,
    #[arg(long)]
    pub dry_run: bool,
    /// Accepted for symmetry with `run`: without a plan there is no
    /// environment that asks for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub report: ReportFormat,
    #[command(flatten)]
    pub record: RecordArgs,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The backup (JSON, compressed JSON or a workbook).
    pub file: PathBuf,
    /// The database to compare with.
    #[arg(long, required_unless_present = "plan")]
    pub db: Option<String>,
    /// A plan whose `[database] url` is compared with (and whose sheet
    /// names a workbook uses); `--db` overrides its URL.
    #[arg(long)]
    pub plan: Option<PathBuf>,
    /// Compare only these tables (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub tables: Vec<String>,
    /// How many keys to list per kind of difference and table.
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
}

/// Parses arguments, runs the command, renders any error; returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::USAGE
            } else {
                exit::SUCCESS
            };
        }
    };
    let listener = std::sync::Arc::new(terminal::Terminal::default());
    let cancel = crate::events::Cancel::new();
    interrupt_cancels(&cancel);
    match crate::events::scope(listener, cancel, || dispatch(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            // The last line of defence: whatever a message quotes, no
            // password leaves the process.
            let msg = e.to_string();
            eprintln!(
                "error: {}",
                crate::redact::redact(msg.trim_start_matches("error: "))
            );
            e.exit_code()
        }
    }
}

/// Ctrl-C asks the running operation to stop at its next safe point,
/// where it rolls back like a failure; a second Ctrl-C quits at once (the
/// database still rolls back the open transaction when the connection
/// drops, as after a kill).
fn interrupt_cancels(cancel: &crate::events::Cancel) {
    let cancel = cancel.clone();
    let _ = ctrlc::set_handler(move || {
        if cancel.is_cancelled() {
            std::process::exit(exit::INTERRUPTED);
        }
        cancel.cancel();
        eprintln!("\ninterrupted: stopping at the next safe point (Ctrl-C again to quit now)");
    });
}

/// Parse → request → operation → rendered outcome: the CLI does nothing
/// else.
fn dispatch(cmd: Command) -> Result<i32> {
    let text = match cmd {
        Command::Run(a) => render::outcome(ops::run(&(&a).into())?, a.report),
        Command::Validate(a) => {
            let v = ops::validate(&(&a).into())?;
            return finish(&render::render_validation(&v.results, a.format), v.valid());
        }
        Command::Plan(a) => {
            render::plan(&ops::show_plan(&(&a).into())?, a.format == PlanFormat::Json)
        }
        Command::Schema(SchemaCommand::Status(a)) => {
            render::schema(&ops::schema_status(&(&a).into())?)
        }
        Command::Schema(SchemaCommand::Up(a)) => render::schema(&ops::schema_up(&(&a).into())?),
        Command::Schema(SchemaCommand::Down(a)) => render::schema(&ops::schema_down(&(&a).into())?),
        Command::Schema(SchemaCommand::New(a)) => render::schema(&ops::schema_new(&(&a).into())?),
        Command::Schema(SchemaCommand::Baseline(a)) => {
            render::schema(&ops::schema_baseline(&(&a).into())?)
        }
        Command::Schema(SchemaCommand::Repair(a)) => {
            render::schema(&ops::schema_repair(&(&a).into())?)
        }
        Command::Export(a) => {
            render::outcome(ops::export_shortcut(&(&a).into())?, ReportFormat::Text)
        }
        Command::Import(a) => render::outcome(ops::import_shortcut(&(&a).into())?, a.report),
        Command::History(a) => render::history(&ops::history(&(&a).into())?, a.format),
        Command::Status(a) => render::status(&ops::status(&(&a).into())?, a.format),
        Command::Rollback(a) => render::rollback(ops::rollback(&(&a).into())?, a.report),
        Command::Verify(a) => {
            let report = ops::verify(&(&a).into())?;
            let text = render::render(&report, a.format, |r| r.render_text());
            return finish(&text, !report.differs());
        }
    };
    finish(&text, true)
}

/// Writes the outcome; a report of differences or problems exits 1.
fn finish(text: &str, good: bool) -> Result<i32> {
    write_out(&mut std::io::stdout().lock(), text)?;
    Ok(if good { exit::SUCCESS } else { exit::FAILED })
}

/// Writes to stdout, passwords masked; a closed pipe (`migplan plan … |
/// head`) is not an error.
pub fn write_out(out: &mut impl Write, text: &str) -> Result<()> {
    let text = crate::redact::redact(text);
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::io("<stdout>", e)),
        _ => Ok(()),
    }
}

impl From<&RollbackArgs> for ops::RollbackRequest {
    fn from(a: &RollbackArgs) -> Self {
        ops::RollbackRequest {
            args: a.args.clone(),
            db: a.db.clone(),
            yes: a.yes,
            force: a.force,
            record: (&a.record).into(),
        }
    }
}

impl From<&StatusArgs> for ops::StatusRequest {
    fn from(a: &StatusArgs) -> Self {
        ops::StatusRequest {
            plan: a.plan.clone(),
            db: a.db.clone(),
        }
    }
}

impl From<&LoadArgs> for ops::Load {
    fn from(a: &LoadArgs) -> Self {
        ops::Load {
            conflict: a.conflict.map(Into::into),
            triggers: a.triggers.map(Into::into),
        }
    }
}

impl From<&RecordArgs> for ops::Record {
    fn from(a: &RecordArgs) -> Self {
        ops::Record {
            operator: a.operator.clone(),
            message: a.message.clone(),
            note: a.note.clone(),
            lock_timeout: a.lock_timeout,
        }
    }
}

impl From<&HistoryArgs> for ops::HistoryRequest {
    fn from(a: &HistoryArgs) -> Self {
        ops::HistoryRequest {
            args: a.args.clone(),
            db: a.db.clone(),
            limit: a.limit,
        }
    }
}

impl From<&RunArgs> for ops::RunRequest {
    fn from(a: &RunArgs) -> Self {
        ops::RunRequest {
            plan: a.plan.clone(),
            env: a.env.clone(),
            yes: a.yes,
            db: a.db.clone(),
            source: a.source.clone(),
            target: a.target.clone(),
            output: a.output.clone(),
            file: a.file.clone(),
            since: a.since.clone(),
            follows: a.follows.clone(),
            modules: a.modules.clone(),
            closure: a.closure,
            load: (&a.load).into(),
            dry_run: a.dry_run,
            no_dry_run: a.no_dry_run,
            resume: a.resume,
            no_seed: a.no_seed,
            record: (&a.record).into(),
        }
    }
}

impl From<&ValidateArgs> for ops::ValidateRequest {
    fn from(a: &ValidateArgs) -> Self {
        ops::ValidateRequest {
            paths: a.paths.clone(),
            db: a.db.clone(),
            env: a.env.clone(),
        }
    }
}

impl From<&PlanArgs> for ops::PlanRequest {
    fn from(a: &PlanArgs) -> Self {
        ops::PlanRequest {
            plan: a.plan.clone(),
            env: a.env.clone(),
            db: a.db.clone(),
            file: a.file.clone(),
            graph_only: a.format == PlanFormat::Dot,
        }
    }
}

impl From<&SchemaArgs> for ops::SchemaRequest {
    fn from(a: &SchemaArgs) -> Self {
        ops::SchemaRequest {
            plan: a.plan.clone(),
            db: a.db.clone(),
            env: a.env.clone(),
        }
    }
}

impl From<&SchemaUpArgs> for ops::SchemaUpRequest {
    fn from(a: &SchemaUpArgs) -> Self {
        ops::SchemaUpRequest {
            schema: (&a.schema).into(),
            dry_run: a.dry_run,
            resume: a.resume,
            yes: a.yes,
            record: (&a.record).into(),
        }
    }
}

impl From<&SchemaDownArgs> for ops::SchemaDownRequest {
    fn from(a: &SchemaDownArgs) -> Self {
        ops::SchemaDownRequest {
            plan: a.plan.clone(),
            to: a.to,
            db: a.db.clone(),
            dry_run: a.dry_run,
            yes: a.yes,
            resume: a.resume,
            record: (&a.record).into(),
        }
    }
}

impl From<&SchemaNewArgs> for ops::SchemaNewRequest {
    fn from(a: &SchemaNewArgs) -> Self {
        ops::SchemaNewRequest {
            plan: a.plan.clone(),
            name: a.name.clone(),
        }
    }
}

impl From<&SchemaBaselineArgs> for ops::SchemaBaselineRequest {
    fn from(a: &SchemaBaselineArgs) -> Self {
        ops::SchemaBaselineRequest {
            plan: a.plan.clone(),
            version: a.version,
            db: a.db.clone(),
        }
    }
}

impl From<&ExportArgs> for ops::ExportRequest {
    fn from(a: &ExportArgs) -> Self {
        ops::ExportRequest {
            db: a.db.clone(),
            format: a.format.map(Into::into),
            modules: a.modules.clone(),
            since: a.since.clone(),
            follows: a.follows.clone(),
            compress: a.compress.map(Into::into),
            output: a.output.clone(),
        }
    }
}

impl From<&ImportArgs> for ops::ImportRequest {
    fn from(a: &ImportArgs) -> Self {
        ops::ImportRequest {
            db: a.db.clone(),
            files: a.files.clone(),
            load: (&a.load).into(),
            dry_run: a.dry_run,
            yes: a.yes,
            record: (&a.record).into(),
        }
    }
}

impl From<&VerifyArgs> for ops::VerifyRequest {
    fn from(a: &VerifyArgs) -> Self {
        ops::VerifyRequest {
            file: a.file.clone(),
            db: a.db.clone(),
            plan: a.plan.clone(),
            tables: a.tables.clone(),
            limit: a.limit,
        }
    }
}

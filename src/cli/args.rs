//! The command line's words: clap definitions only. Flag groups several
//! commands share (`LoadArgs`, `RecordArgs`, `DryRunArgs`, `IdentityArgs`) are defined once
//! and flattened.

use std::path::PathBuf;

use clap::builder::TypedValueParser as _;
use clap::{Parser, Subcommand, ValueEnum};

use crate::plan::{Conflict, Triggers};

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
    /// The web console: dashboard, backups, export and import wizards,
    /// live jobs, history and rollback, in the browser.
    Serve(ServeArgs),
    /// Print a shell's completion script (e.g. `migplan completions bash >
    /// ~/.local/share/bash-completion/completions/migplan`).
    Completions(CompletionsArgs),
    /// Write the man pages (`migplan.1`, `migplan-run.1`, …) into a folder.
    Man(ManArgs),
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// The folder to write the pages into (created if missing).
    #[arg(long, short, value_name = "DIR", default_value = "man")]
    pub dir: PathBuf,
}

impl Command {
    /// The identity files given to a command that reads backups.
    pub fn identities(&self) -> &[PathBuf] {
        match self {
            Command::Run(a) => &a.identity.identities,
            Command::Plan(a) => &a.identity.identities,
            Command::Import(a) => &a.identity.identities,
            Command::Rollback(a) => &a.identity.identities,
            Command::Verify(a) => &a.identity.identities,
            Command::Serve(a) => &a.identity.identities,
            _ => &[],
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The plan whose database to manage (default: the demo,
    /// plans/full-backup.toml, when run from the migplan folder).
    pub plan: Option<PathBuf>,
    /// Database URL, instead of the plan's.
    #[arg(long)]
    pub db: Option<String>,
    /// Address to listen on. Anything but loopback needs a strong token.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: std::net::SocketAddr,
    /// More folders of backups for the backups page (repeatable).
    #[arg(long = "backups", value_name = "DIR")]
    pub backups: Vec<PathBuf>,
    /// The token the browser exchanges once for a session cookie (default:
    /// generated, printed in the URL to open).
    #[arg(long, env = "MIGPLAN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Show everything, change nothing.
    #[arg(long)]
    pub read_only: bool,
    /// The largest upload accepted, in bytes.
    #[arg(long, default_value_t = crate::console::DEFAULT_UPLOAD_LIMIT)]
    pub upload_limit: u64,
    /// A host name the console may be reached by (the Host header), besides
    /// its address (repeatable).
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_hosts: Vec<String>,
    #[command(flatten)]
    pub report: Output,
    #[command(flatten)]
    pub identity: IdentityArgs,
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
    #[command(flatten)]
    pub report: Output,
    #[command(flatten)]
    pub record: RecordArgs,
    #[command(flatten)]
    pub identity: IdentityArgs,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The plan whose database (and scripts) to describe.
    pub plan: Option<PathBuf>,
    /// Database URL, instead of the plan's.
    #[arg(long)]
    pub db: Option<String>,
    #[command(flatten)]
    pub report: Output,
}

/// How rows meet the target, for every command that writes them (`run`,
/// `import`): defined once.
#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Conflict policy for every table, overriding the plan.
    #[arg(long, value_parser = conflict_value())]
    pub conflict: Option<Conflict>,
    /// The target's triggers while rows load, overriding `[import] triggers`
    /// (`disable`: off for the load, on again before the commit; PostgreSQL
    /// and SQLite).
    #[arg(long, value_parser = triggers_value())]
    pub triggers: Option<Triggers>,
}

/// Previewing a change, for every command that makes one: defined once.
#[derive(Debug, Clone, clap::Args)]
pub struct DryRunArgs {
    /// Show what would change and change nothing: an import or copy runs
    /// in its transaction, reports, and rolls back; schema scripts are
    /// listed, not applied.
    #[arg(long)]
    pub dry_run: bool,
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

/// The keys that open encrypted backups, for every command that reads
/// one: defined once.
#[derive(Debug, Clone, clap::Args)]
pub struct IdentityArgs {
    /// An age identity file (`AGE-SECRET-KEY-1…` lines, as `age-keygen`
    /// writes them) to decrypt encrypted backups with (repeatable).
    #[arg(
        long = "identity",
        value_name = "FILE",
        env = "MIGPLAN_AGE_IDENTITY",
        hide_env_values = true
    )]
    pub identities: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// A plan (its database is read) and/or a run id to show whole.
    #[arg(value_name = "PLAN|RUN_ID", num_args = 0..=2)]
    pub args: Vec<String>,
    /// Database URL, instead of a plan's.
    #[arg(long)]
    pub db: Option<String>,
    #[command(flatten)]
    pub report: Output,
    /// How many runs to list.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

/// `--conflict`: the policies by their names, from the one list in
/// `policy.rs`.
fn conflict_value() -> impl clap::builder::TypedValueParser<Value = Conflict> {
    clap::builder::PossibleValuesParser::new(Conflict::NAMES.map(|(n, _)| n))
        .map(|name| Conflict::from_name(&name).expect("a possible value"))
}

/// `--triggers`: the settings by their names.
fn triggers_value() -> impl clap::builder::TypedValueParser<Value = Triggers> {
    clap::builder::PossibleValuesParser::new(Triggers::NAMES.map(|(n, _)| n))
        .map(|name| Triggers::from_name(&name).expect("a possible value"))
}

/// How a command prints its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// For people.
    Text,
    /// One JSON document on stdout, versioned (docs/json-output.md).
    Json,
}

/// `--format`, for every command that reports: defined once.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Output {
    /// How to print the outcome: `text` for people, `json` for programs (one
    /// versioned document on stdout, errors included; docs/json-output.md).
    #[arg(long, value_enum, default_value = "text", alias = "report")]
    pub format: ReportFormat,
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
    /// Tables read at once, each by a connection of its own sharing one
    /// snapshot (PostgreSQL, MySQL/MariaDB); the backup is the same byte
    /// for byte whatever the number. Default: the plan's `[export] jobs`,
    /// else the number of cores, at most 4.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: Option<u16>,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub preview: DryRunArgs,
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
    #[command(flatten)]
    pub report: Output,
    #[command(flatten)]
    pub record: RecordArgs,
    #[command(flatten)]
    pub identity: IdentityArgs,
}

/// How `validate` prints its findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValidateFormat {
    /// For people: `file:line:col`, the line and a caret.
    Text,
    /// One JSON document on stdout (docs/json-output.md).
    Json,
    /// GitHub Actions workflow commands: each problem an annotation on its
    /// line in the pull request.
    Github,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Plan files or folders of plan files.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// How to print the findings.
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

/// How `plan` prints the steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// For people: one line per step.
    Text,
    /// One JSON document on stdout (docs/json-output.md).
    Json,
    /// The table graph in Graphviz's language (`| dot -Tsvg`).
    Dot,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The plan file.
    pub plan: PathBuf,
    /// The plan's `[env.NAME]` to run in (default: `MIGPLAN_ENV`, if set).
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    /// Database URL, overriding `[database] url`.
    #[arg(long)]
    pub db: Option<String>,
    /// Backup an import plan would read, overriding `[import] file` (shows
    /// the adapter steps that would upgrade it).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// How to print the steps.
    #[arg(long, value_enum, default_value = "text")]
    pub format: PlanFormat,
    #[command(flatten)]
    pub identity: IdentityArgs,
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
    /// The plan whose `[schema] migrations` folder and database to use.
    pub plan: PathBuf,
    /// Database URL, overriding `[database] url`.
    #[arg(long)]
    pub db: Option<String>,
    /// The plan's `[env.NAME]` to run in (default: `MIGPLAN_ENV`, if set).
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    #[command(flatten)]
    pub report: Output,
}

#[derive(Debug, clap::Args)]
pub struct SchemaUpArgs {
    #[command(flatten)]
    pub schema: SchemaArgs,
    #[command(flatten)]
    pub preview: DryRunArgs,
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
    /// The plan whose `[schema] migrations` folder and database to use.
    pub plan: PathBuf,
    /// The version to go back to: every applied script above it is undone
    /// (0 undoes them all).
    #[arg(long)]
    pub to: i64,
    /// Database URL, overriding `[database] url`.
    #[arg(long)]
    pub db: Option<String>,
    #[command(flatten)]
    pub preview: DryRunArgs,
    /// Go ahead without asking (undoing scripts always asks on a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// MySQL/MariaDB: continue the undo script the journal marks as
    /// interrupted.
    #[arg(long)]
    pub resume: bool,
    #[command(flatten)]
    pub record: RecordArgs,
    #[command(flatten)]
    pub report: Output,
}

#[derive(Debug, clap::Args)]
pub struct SchemaNewArgs {
    /// The plan whose `[schema] migrations` folder gets the script.
    pub plan: PathBuf,
    /// The script's name: letters, digits and `_` (e.g. add_email).
    pub name: String,
    #[command(flatten)]
    pub report: Output,
}

#[derive(Debug, clap::Args)]
pub struct SchemaBaselineArgs {
    /// The plan whose `[schema] migrations` folder and database to use.
    pub plan: PathBuf,
    /// The version the database is already at (a script of that version
    /// must exist).
    pub version: i64,
    /// Database URL, overriding `[database] url`.
    #[arg(long)]
    pub db: Option<String>,
    #[command(flatten)]
    pub report: Output,
}

/// `--format` of `export`: the formats by their names, from the one list
/// in `format/mod.rs`.
fn format_value() -> impl clap::builder::TypedValueParser<Value = crate::format::Format> {
    use crate::format::Format;
    clap::builder::PossibleValuesParser::new(Format::NAMES.map(|(n, _)| n))
        .map(|name| Format::from_extension(&name).expect("a possible value"))
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The database to export (`sqlite://PATH`, `postgres://…`, `mysql://…`).
    #[arg(long)]
    pub db: String,
    /// The backup's format; default from the output's extension
    /// (`.xlsx` a workbook), else json.
    #[arg(long, value_name = "FORMAT", value_parser = format_value())]
    pub backup_format: Option<crate::format::Format>,
    /// Refused without a plan (a plan declares modules): use `migplan run
    /// PLAN --modules …`.
    #[arg(long, value_delimiter = ',', hide = true)]
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
    /// Encrypt the JSON backup to this age public key (`age1…`,
    /// repeatable); `.age` is added to the output's name.
    #[arg(long, value_name = "RECIPIENT")]
    pub encrypt_to: Vec<String>,
    /// Tables read at once, each by a connection of its own sharing one
    /// snapshot (PostgreSQL, MySQL/MariaDB); the backup is the same byte
    /// for byte whatever the number. Default: the number of cores, at most 4.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: Option<u16>,
    /// The backup file to write (written under a temporary name, renamed
    /// when complete).
    #[arg(long, short)]
    pub output: PathBuf,
    #[command(flatten)]
    pub report: Output,
}

/// A JSON backup's compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompressArg {
    /// Zstandard: fast, small (`.zst`).
    Zstd,
    /// gzip: readable everywhere (`.gz`).
    Gzip,
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
    /// The database to import into (`sqlite://PATH`, `postgres://…`,
    /// `mysql://…`).
    #[arg(long)]
    pub db: String,
    /// The backup, or an incremental chain: the full backup, then its
    /// increments in order (or one folder of them).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub preview: DryRunArgs,
    /// Accepted for symmetry with `run`: without a plan there is no
    /// environment that asks for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub report: Output,
    #[command(flatten)]
    pub record: RecordArgs,
    #[command(flatten)]
    pub identity: IdentityArgs,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The backup (JSON, compressed JSON or a workbook).
    pub file: PathBuf,
    /// The database to compare with.
    #[arg(long, required_unless_present = "plan")]
    pub db: Option<String>,
    /// A plan whose `[database] url` is compared with (and whose sheet
    /// names and labels a workbook uses); `--db` overrides its URL.
    #[arg(long)]
    pub plan: Option<PathBuf>,
    /// Compare only these tables (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub tables: Vec<String>,
    /// How many keys to list per kind of difference and table.
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    #[command(flatten)]
    pub report: Output,
    #[command(flatten)]
    pub identity: IdentityArgs,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every option and argument of every command says what it is for:
    /// `--help`, completions and man pages all read this text.
    #[test]
    fn every_option_and_argument_has_help() {
        let mut missing = vec![];
        walk(&Cli::command(), "migplan", &mut missing);
        assert!(missing.is_empty(), "without help text: {missing:#?}");
    }

    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        if cmd.get_about().is_none() {
            missing.push(format!("{path} (the command)"));
        }
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(id, "help" | "version") {
                continue;
            }
            if arg.get_help().is_none() {
                missing.push(format!("{path} {id}"));
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }
}

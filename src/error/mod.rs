//! The top-level error and the exit codes, in one place.
//!
//! A variant names the fact that is wrong and carries it as data (the run,
//! the table, the path). Its text is the message, then what to do about it
//! after `\n  = help: `, as the CLI prints it; [`Error::message`] and
//! [`Error::help`] give a front door the two apart. Exit codes derive from
//! the variant, here and nowhere else.

use std::path::PathBuf;

use crate::diag::Diagnostic;

mod console;
mod encryption;
mod engine;
mod history;
mod load;
mod preview;
mod scripts;
mod upgrade;
pub use console::ConsoleError;
pub use encryption::EncryptionError;
pub use engine::{EngineError, Orphan};
pub use history::HistoryError;
pub use load::LoadError;
pub use preview::PreviewError;
pub use scripts::{Disagreement, ScriptError, UndoOrphan, Unrepairable};
pub use upgrade::UpgradeError;

/// Exit codes of the `migplan` binary.
pub mod exit {
    pub const SUCCESS: i32 = 0;
    /// The run failed (database, file, conflict, verification …).
    pub const FAILED: i32 = 1;
    /// Bad usage or an invalid plan: nothing was attempted.
    pub const USAGE: i32 = 2;
    /// Interrupted (Ctrl-C) or cancelled: stopped at a safe point, nothing
    /// changed. 128 + SIGINT, as shells report it.
    pub const INTERRUPTED: i32 = 130;
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A plan (or other user-written file) is invalid; every problem found.
    #[error("{}", render_diagnostics(.0))]
    Invalid(Vec<Diagnostic>),

    /// The run-id arguments of `history` and `rollback` that do not say
    /// one plan and one run.
    #[error("{}", match .problem {
        RunArgument::Missing => "which run? pass its id (see `migplan history`)".to_string(),
        RunArgument::TooMany => "pass at most one plan and one run id".to_string(),
        RunArgument::NotAnId(i) => format!("`{i}` is not a run id"),
    })]
    BadRunArguments { problem: RunArgument },

    /// The person answered no when asked to confirm a change.
    #[error("not confirmed: {action} was not done; nothing was changed")]
    NotConfirmed { action: String },

    /// A change needs confirmation and nobody can be asked (no terminal).
    #[error(
        "{asker} asks for confirmation before changing data, and there is no terminal to ask on; nothing was changed\n  = help: pass --yes to {action} on {database}"
    )]
    ConfirmationNeeded {
        asker: String,
        action: String,
        database: String,
    },

    /// A command needs a database and was given none.
    #[error("{}", no_database(.plan.as_deref(), .section))]
    NoDatabase {
        plan: Option<PathBuf>,
        /// The plan section that would name it: `database`, `source`, `target`.
        section: &'static str,
    },

    /// A run id that the database's history does not hold.
    #[error(
        "no run {id} in the history of {database}\n  = help: `migplan history --db URL` lists the recorded runs"
    )]
    RunNotFound { id: i64, database: String },

    /// A rollback that would undo more than the run asked for.
    #[error(
        "later runs changed the database after run {run}: {}; restoring the state before run {run} would undo them too\n  = help: roll those back first, newest first, or pass --force",
        .later.join(", ")
    )]
    LaterRuns { run: i64, later: Vec<String> },

    /// A run that cannot be rolled back: still running, already rolled
    /// back, taken without a backup, or its backup gone.
    #[error("{}", not_rollbackable(*.run, .why))]
    NotRollbackable { run: i64, why: Unrollbackable },

    /// An option given where it cannot apply, or two that contradict each
    /// other; `message` names the option(s) and says why.
    #[error("{message}")]
    MisusedOption {
        option: &'static str,
        message: String,
    },

    /// An import plan run without a backup to read.
    #[error("no backup to import: set `[import] file` or pass `--file PATH`")]
    NoBackupToImport,

    /// `--follows` names a backup that carries no id to follow.
    #[error(
        "{} records no backup id (it was written by an older migplan), so no backup can follow it\n  = help: take a new full backup to start a chain",
        .file.display()
    )]
    NotChainable { file: PathBuf },

    /// An increment would start after the backup it follows was taken.
    #[error(
        "`--since {since}` is after {} was exported ({exported}): rows changed in between would be in neither backup",
        .previous.display()
    )]
    SinceAfterPrevious {
        since: String,
        previous: PathBuf,
        exported: String,
    },

    /// A copy whose source and target are one database.
    #[error("the source and the target are the same database ({url})")]
    SameDatabase { url: String },

    /// A run that applied schema scripts is rolled back only with its
    /// plan, whose undo scripts take the schema back.
    #[error(
        "run {run} applied schema scripts (version {from} → {to}): pass its plan, whose undo scripts take the schema back"
    )]
    RollbackNeedsPlan { run: i64, from: i64, to: i64 },

    /// A command about schema scripts on a plan that names no folder.
    #[error("{} has no `[schema] migrations` folder: add one first", .plan.display())]
    NoMigrationsFolder { plan: PathBuf },

    /// `[schema] migrations` holds `{engine}` and no engine's folder exists.
    #[error(
        "no engine folder exists for `{}`: create the folders of the engines you use (e.g. {})",
        .pattern.display(), .example.display()
    )]
    NoEngineFolder { pattern: PathBuf, example: PathBuf },

    /// A flag's value that is not what it must be (`--since` not a time).
    #[error("`--{flag} {value}` {problem}")]
    BadFlag {
        flag: &'static str,
        value: String,
        problem: String,
    },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A backup file that is malformed, truncated or fails verification.
    #[error("{path}{}: {message}", .position.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
    Backup {
        path: PathBuf,
        position: Option<(usize, usize)>,
        message: String,
    },

    /// A JSON backup whose meta has not ended within the bytes a reader
    /// takes for it: padding or values that inflate while the reader looks
    /// for the meta's end.
    #[error(
        "{}: the backup's meta does not end within its first {}, the limit (`[import] max_meta_bytes`): the file was not written by migplan, or describes a very large schema\n  = help: raise `max_meta_bytes` in the plan's `[import]` if the file is trusted",
        .path.display(), crate::format::limits::bytes_shown(*.limit)
    )]
    MetaTooLong { path: PathBuf, limit: u64 },

    /// A file to delete that is not a backup lying in one of the backup
    /// folders (outside them, reached through `..` or a symbolic link, or
    /// not a backup at all).
    #[error(
        "{} is not a backup in the backup folders ({}): nothing was deleted\n  = help: only a migplan backup (`.json`, `.json.zst`, `.json.gz` or `.xlsx`, its meta readable) lying in one of these folders can be deleted; pick one from the list of backups",
        .file.display(), shown_paths(.dirs)
    )]
    NotABackupInFolders { file: PathBuf, dirs: Vec<PathBuf> },

    /// Backups asked for without a plan to take the folders from, or folders.
    #[error(
        "which backups? no plan and no folder was given\n  = help: pass the plan (its `[backup] dir` and `[export] output` folders are listed) or the folders"
    )]
    NoBackupFolders,

    /// A database error, with what migplan was doing when it happened.
    #[error("{context}: {message}")]
    Database { context: String, message: String },

    /// The schema phase failed; `message` names the script, the cause and
    /// exactly what stays applied (scripts, and on MySQL the statements of
    /// the failing script that ran); `applied` lists scripts applied before
    /// it (none where the whole list ran in one transaction), `failed` the
    /// failing script (`V2__x`, `V2__x.undo`, on MySQL with the statement
    /// reached), `cause` the engine's message on one line.
    #[error("schema migration failed: {message}{}", help_note(.help))]
    Schema {
        message: String,
        applied: Vec<String>,
        failed: Option<String>,
        cause: String,
        /// What to do next (the MySQL journal's guidance).
        help: Option<String>,
    },

    /// Rows that already exist under conflict policy `error`.
    #[error("{}", conflict_message(.tables, .keys))]
    Conflict {
        /// Rows that already exist, per table.
        tables: Vec<(String, u64)>,
        /// The first keys, each as "`table` col=value, …".
        keys: Vec<String>,
    },

    /// A value that does not fit its target column (too long, out of range,
    /// not representable). The data phase adds the table and the row's key.
    #[error("column `{column}`: {message}")]
    Value { column: String, message: String },

    /// A row that a trigger wrote into another table than the one being
    /// loaded broke a unique key of that table: the error is that table's.
    #[error("{message}")]
    TriggerDuplicate { table: String, message: String },

    /// One row the target refused, named by table, key and column; a
    /// format that knows where the row stands in its file puts that first.
    #[error("{0}")]
    Row(String),

    /// An older backup that the plan's adapters cannot upgrade.
    #[error(transparent)]
    Upgrade(#[from] UpgradeError),

    /// Schema scripts, or they and the database, that are wrong
    /// (error/scripts.rs); a failing script is [`Error::Schema`].
    #[error(transparent)]
    Scripts(#[from] ScriptError),

    /// The run lock held by another run (error/history.rs).
    #[error(transparent)]
    History(#[from] HistoryError),

    /// An import preview's store (error/preview.rs).
    #[error(transparent)]
    Preview(#[from] PreviewError),

    /// The web console's refusals (error/console.rs).
    #[error(transparent)]
    Console(#[from] ConsoleError),

    /// Encrypted backups and the keys to read them (error/encryption.rs).
    #[error(transparent)]
    Encryption(#[from] EncryptionError),

    /// The data phase stopped on a fact of the backup, the target or the
    /// plan (a chain that does not follow, a column the target lacks …).
    /// Boxed: its facts carry many names, and `Error` stays small.
    #[error(transparent)]
    Load(Box<LoadError>),

    /// A cycle of dependencies that no import order satisfies: its tables,
    /// the circle walked (`a` → `b` → `a`), and why each edge is there.
    #[error(
        "dependency cycle among tables {}: {}\n{}\n  = help: no import order satisfies these: a cycle of foreign keys alone is loaded and checked as a whole, but this one needs a declared `depends_on` to close; drop it",
        .tables.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", "),
        .circle.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(" → "),
        .edges.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n")
    )]
    DependencyCycle {
        tables: Vec<String>,
        circle: Vec<String>,
        edges: Vec<String>,
    },

    /// A failure injected by a test (`MIGPLAN_FAILPOINT=NAME!`).
    #[error("failpoint `{name}`: an injected failure")]
    Injected { name: String },
    /// What a database engine refuses or lacks (error/engine.rs).
    #[error(transparent)]
    Engine(#[from] Box<EngineError>),

    /// The caller asked the operation to stop; it stopped at a safe point
    /// and rolled back what it had begun.
    #[error(
        "interrupted: nothing was changed\n  = help: the operation stopped at a safe point and rolled back what it had begun"
    )]
    Cancelled,
    /// Interrupted after the run's schema scripts were committed: the data
    /// phase rolled back, the scripts did not (DDL is committed as it runs
    /// where the engine cannot roll it back, and a run's scripts commit
    /// before its data moves).
    #[error(
        "interrupted: the data phase rolled back, but the schema scripts this run applied stay applied (schema version {} → {})\n  = help: {}",
        .before.map_or("none".to_string(), |v| v.to_string()),
        .after.map_or("none".to_string(), |v| v.to_string()),
        .run.map_or("`migplan schema down` undoes them".to_string(), |r| format!("`migplan rollback {r}` restores the database as it was before this run"))
    )]
    CancelledAfterScripts {
        run: Option<i64>,
        before: Option<i64>,
        after: Option<i64>,
    },
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Invalid(_)
            | Error::BadRunArguments { .. }
            | Error::ConfirmationNeeded { .. }
            | Error::NoDatabase { .. }
            | Error::BadFlag { .. }
            | Error::MisusedOption { .. }
            | Error::NoBackupToImport
            | Error::NotChainable { .. }
            | Error::SinceAfterPrevious { .. }
            | Error::SameDatabase { .. }
            | Error::RollbackNeedsPlan { .. }
            | Error::NoMigrationsFolder { .. }
            | Error::NotABackupInFolders { .. }
            | Error::NoBackupFolders => exit::USAGE,
            Error::Engine(e) => e.exit_code(),
            Error::Scripts(e) => e.exit_code(),
            Error::Load(e) if e.is_usage() => exit::USAGE,
            Error::Encryption(e) if e.is_usage() => exit::USAGE,
            Error::Console(ConsoleError::NoTarget { .. } | ConsoleError::WeakToken { .. }) => {
                exit::USAGE
            }
            Error::Preview(PreviewError::UnknownClass { .. }) => exit::USAGE,
            Error::Cancelled | Error::CancelledAfterScripts { .. } => exit::INTERRUPTED,
            _ => exit::FAILED,
        }
    }

    /// What is wrong, without what to do about it.
    pub fn message(&self) -> String {
        let text = self.to_string();
        match text.split_once(HELP_MARK) {
            Some((message, _)) => message.to_string(),
            None => text,
        }
    }

    /// What to do about it, when there is something to say.
    pub fn help(&self) -> Option<String> {
        let text = self.to_string();
        text.split_once(HELP_MARK).map(|(_, help)| help.to_string())
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A duplicate in `table`'s unique `key`, raised while rows of another
    /// table, `loading`, were written: a trigger (or rule) on `loading`
    /// wrote it. `cause` is the engine's message.
    pub fn trigger_duplicate(table: &str, key: &str, loading: &str, cause: &str) -> Self {
        Error::TriggerDuplicate {
            table: table.to_string(),
            message: format!(
                "duplicate key in `{table}` ({key}): a trigger on `{loading}` wrote a row into `{table}` as rows of `{loading}` loaded, and `{table}` already holds its key ({cause})\n  = help: the duplicate is in `{table}`, not among the rows of `{loading}`; nothing was changed, the load was rolled back"
            ),
        }
    }

    pub fn value(column: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Value {
            column: column.into(),
            message: message.into(),
        }
    }

    pub fn db(context: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Error::Database {
            context: context.into(),
            message: err.to_string(),
        }
    }
}

/// What is wrong with `history`/`rollback` arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunArgument {
    Missing,
    TooMany,
    NotAnId(String),
}

/// Why a run cannot be rolled back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unrollbackable {
    StillRunning,
    AlreadyRolledBack,
    /// Backups were off, or the run was recorded before migplan took them.
    NoBackup,
    /// Moved, or pruned by `[backup] keep` / `retention_days`.
    BackupGone(PathBuf),
}

fn not_rollbackable(run: i64, why: &Unrollbackable) -> String {
    match why {
        Unrollbackable::StillRunning => format!("run {run} is still running"),
        Unrollbackable::AlreadyRolledBack => format!("run {run} was already rolled back"),
        Unrollbackable::NoBackup => format!(
            "run {run} has no backup to restore (backups were off, or it was recorded before migplan took them)"
        ),
        Unrollbackable::BackupGone(file) => format!(
            "the backup of run {run}, `{}`, is gone (moved, or pruned by `[backup] keep` / `retention_days`)",
            file.display()
        ),
    }
}

/// Where an error's text turns from what is wrong to what to do.
const HELP_MARK: &str = "\n  = help: ";

fn no_database(plan: Option<&std::path::Path>, section: &str) -> String {
    let flag = match section {
        "database" => "db",
        other => other,
    };
    match plan {
        Some(p) => format!(
            "{} has no `[{section}] url`{HELP_MARK}add one or pass `--{flag} URL`",
            p.display()
        ),
        None => "which database? pass a plan or `--db URL`".into(),
    }
}

/// Paths for a message: `a, b`.
fn shown_paths(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    shown.join(", ")
}

fn render_diagnostics(diags: &[Diagnostic]) -> String {
    let mut out: Vec<String> = diags.iter().map(Diagnostic::render).collect();
    if diags.len() > 1 {
        out.push(format!("{} problems found", diags.len()));
    }
    out.join("\n")
}

fn help_note(help: &Option<String>) -> String {
    help.as_ref()
        .map(|h| format!("\n  = help: {h}"))
        .unwrap_or_default()
}

/// How many conflicting keys a message lists before it only counts the rest.
pub const CONFLICTS_LISTED: usize = 20;

fn conflict_message(tables: &[(String, u64)], keys: &[String]) -> String {
    let total: u64 = tables.iter().map(|(_, n)| n).sum();
    let mut msg = match tables {
        [(table, n)] => format!("{n} row(s) of `{table}` already exist"),
        _ => {
            let each: Vec<String> = tables
                .iter()
                .map(|(t, n)| format!("{n} of `{t}`"))
                .collect();
            format!("{total} rows already exist ({})", each.join(", "))
        }
    };
    msg.push_str(&format!(
        " and the conflict policy is `error`: {}",
        keys.join(", ")
    ));
    if total > keys.len() as u64 {
        msg.push_str(&format!(" … and {} more", total - keys.len() as u64));
    }
    msg.push_str("\n  = help: use `--conflict skip` to keep existing rows or `--conflict overwrite` to replace them; nothing was changed");
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_and_help_come_apart_where_the_text_says_what_to_do() {
        let e = Error::RunNotFound {
            id: 7,
            database: "sqlite://x.db".into(),
        };
        assert_eq!(e.message(), "no run 7 in the history of sqlite://x.db");
        assert_eq!(
            e.help().as_deref(),
            Some("`migplan history --db URL` lists the recorded runs")
        );
        assert_eq!(
            e.to_string(),
            format!("{}{HELP_MARK}{}", e.message(), e.help().unwrap())
        );
        let plain = Error::SameDatabase {
            url: "sqlite://x.db".into(),
        };
        assert_eq!(plain.help(), None);
        assert_eq!(plain.message(), plain.to_string());
    }

    #[test]
    fn exit_codes_follow_the_variant() {
        assert_eq!(Error::NoBackupToImport.exit_code(), exit::USAGE);
        assert_eq!(Error::Cancelled.exit_code(), exit::INTERRUPTED);
        let refused = Error::NotRollbackable {
            run: 1,
            why: Unrollbackable::StillRunning,
        };
        assert_eq!(refused.exit_code(), exit::FAILED);
        assert_eq!(
            Error::from(UpgradeError::DataBeforeMeta).exit_code(),
            exit::FAILED
        );
    }
}

//! The top-level error and the exit codes, in one place.

use std::path::PathBuf;

use crate::diag::Diagnostic;

/// Exit codes of the `migplan` binary.
pub mod exit {
    pub const SUCCESS: i32 = 0;
    /// The run failed (database, file, conflict, verification …).
    pub const FAILED: i32 = 1;
    /// Bad usage or an invalid plan: nothing was attempted.
    pub const USAGE: i32 = 2;
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A plan (or other user-written file) is invalid; every problem found.
    #[error("{}", render_diagnostics(.0))]
    Invalid(Vec<Diagnostic>),

    /// Flags or arguments that cannot work together.
    #[error("{0}")]
    Usage(String),

    /// The user answered no when asked to confirm a change.
    #[error("{0}")]
    Declined(String),

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

    /// The plan, the backup and the database disagree (missing tables,
    /// columns, cycles, versions …). The message names the fact and the fix.
    #[error("{0}")]
    Mismatch(String),

    /// One row the target refused, named by table, key and column; a
    /// format that knows where the row stands in its file puts that first.
    #[error("{0}")]
    Row(String),

    /// The caller asked the operation to stop; it stopped at a safe point
    /// and rolled back what it had begun.
    #[error("cancelled: the operation stopped at a safe point; nothing was changed")]
    Cancelled,
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Invalid(_) | Error::Usage(_) => exit::USAGE,
            _ => exit::FAILED,
        }
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

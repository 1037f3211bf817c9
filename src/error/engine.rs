//! What a database engine refuses or lacks, each said as a fact: a URL no
//! engine or driver can use, a database, schema, table or column that is
//! not there, a column type migplan cannot carry, a table that cannot roll
//! back, rows the server refused or lost while loading, a foreign key the
//! loaded rows break. The engine's own message for anything else stays an
//! [`Error::Database`](super::Error::Database), with its context.
//!
//! URLs are kept as printed, the password masked, so that no error carries
//! a secret as data.

use super::exit;

/// What a MySQL URL may say about TLS, for an option it got wrong.
const TLS_HELP: &str =
    "use require_ssl=true or ssl-mode=disabled|required|verify_ca|verify_identity";

/// What a refused LOAD DATA leaves behind: nothing.
const LOAD_DATA_HELP: &str =
    "LOAD DATA skips such rows with a warning; nothing was changed, the import was rolled back";

/// What a bulk load found wrong after loading leaves behind: nothing.
const ROLLED_BACK: &str = "nothing was changed, the import was rolled back";

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A string that names no engine migplan speaks to.
    #[error(
        "`{url}` is not a database URL\n  = help: use sqlite://PATH, postgres://USER@HOST/DB or mysql://USER@HOST/DB"
    )]
    BadUrl { url: String },

    /// A `postgres://` URL the driver cannot parse; `reason` is its word.
    #[error("`{url}` is not a valid PostgreSQL URL: {reason}")]
    BadPostgresUrl { url: String, reason: String },

    /// A `mysql://` URL the driver cannot use; `reason` is its word.
    #[error("`{url}` is not a usable MySQL URL: {reason}")]
    BadMysqlUrl { url: String, reason: String },

    /// A MySQL TLS switch (`require_ssl`, `ssl`) that is not a boolean.
    #[error("{url}: `{key}` must be true or false\n  = help: {help}", help = TLS_HELP)]
    BadTlsSwitch { url: String, key: String },

    /// A MySQL `ssl-mode` that names no TLS mode.
    #[error("{url}: `{key}={value}` is not a TLS mode\n  = help: {help}", help = TLS_HELP)]
    BadTlsMode {
        url: String,
        key: String,
        value: String,
    },

    /// A PostgreSQL server without the database the URL names.
    #[error(
        "database `{database}` does not exist on {url}\n  = help: create it first (`CREATE DATABASE`); migplan does not create PostgreSQL databases"
    )]
    NoSuchDatabase { database: String, url: String },

    /// A PostgreSQL session whose `search_path` names no existing schema.
    #[error(
        "{url} has no current schema: no schema of its `search_path` exists\n  = help: create the schema or set `search_path`"
    )]
    NoCurrentSchema { url: String },

    #[error("the database has no table `{table}`")]
    NoSuchTable { table: String },

    /// A table the PostgreSQL catalog does not hold in the session's schema.
    #[error("table `{table}` does not exist in schema `{schema}`")]
    NoSuchTableInSchema { table: String, schema: String },

    /// A table the catalog held a moment ago and no longer does.
    #[error("table `{table}` disappeared")]
    TableDisappeared { table: String },

    #[error("table `{table}` has no column `{column}`")]
    NoSuchColumn { table: String, column: String },

    /// A SQLite URL naming a file that is not there, where nothing may
    /// create it.
    #[error(
        "database file `{}` does not exist\n  = help: check the URL, or run a plan that creates it",
        .path.display()
    )]
    NoDatabaseFile { path: std::path::PathBuf },

    /// PostgreSQL's catalog as migplan reads it leaves generated columns
    /// out, so a column it lacks may be one.
    #[error("table `{table}` has no column `{column}` (or it is a generated column)")]
    NoSuchColumnOrGenerated { table: String, column: String },

    /// A column whose type migplan cannot read back exactly.
    #[error(
        "column `{table}`.`{column}` has type {sql_type}, which migplan cannot carry exactly\n  = help: leave the column out with `[tables.{table}] exclude = [\"{column}\"]` in the plan; nothing was moved"
    )]
    UncarriableType {
        table: String,
        column: String,
        sql_type: String,
    },

    /// An `updated_at` column whose type says nothing about time.
    #[error(
        "column `{table}`.`{column}` is of type {portable_type} ({sql_type}), which cannot tell which rows changed\n  = help: name a timestamp, date or integer (unix time) column in `[tables.{table}] updated_at`"
    )]
    CannotTellChanges {
        table: String,
        column: String,
        /// The portable type's name (`text`, `bool` …).
        portable_type: &'static str,
        sql_type: String,
    },

    /// A value read from the server that does not parse as its column's type.
    #[error("table `{table}` column `{column}`: {message}")]
    UnreadableValue {
        table: String,
        column: String,
        message: String,
    },

    /// A MySQL table whose storage engine (MyISAM …) cannot roll back.
    #[error(
        "table `{table}` uses the {storage_engine} storage engine, which cannot roll back, so the import could not be all-or-nothing\n  = help: convert it first: {convert}; nothing was changed"
    )]
    NotTransactional {
        table: String,
        storage_engine: String,
        /// The statement that converts it, quoted by the backend.
        convert: String,
    },

    /// `triggers = "disable"` on MySQL, whose DROP TRIGGER commits.
    #[error(
        "MySQL/MariaDB cannot switch triggers off inside a transaction (DROP TRIGGER commits at once), so `triggers = \"disable\"` cannot keep the import all-or-nothing; triggers here: {}; nothing was changed\n  = help: drop those triggers before the import and create them after it, as a mysqldump file does, or let them fire (`--triggers fire`)",
        ticked(.triggers)
    )]
    CannotDisableTriggers { triggers: Vec<String> },

    /// A row the server refused; `key` is its key (`id=1, …`), `message`
    /// the server's.
    #[error(
        "cannot write row {key} of `{table}`: {message}\n  = help: nothing was changed; the import was rolled back"
    )]
    RowRefused {
        table: String,
        key: String,
        message: String,
    },

    /// A row MySQL's `LOAD DATA LOCAL` skipped with a warning (`message`).
    #[error("cannot write row {key} of `{table}`: {message}\n  = help: {help}", help = LOAD_DATA_HELP)]
    LoadSkippedRow {
        table: String,
        key: String,
        message: String,
    },

    /// Rows `LOAD DATA LOCAL` skipped with a warning that names no row.
    #[error("cannot write the rows of `{table}`: {message}\n  = help: {help}", help = LOAD_DATA_HELP)]
    LoadSkippedRows { table: String, message: String },

    /// Rows `LOAD DATA LOCAL` skipped without a warning.
    #[error("the server loaded {loaded} of {sent} rows of `{table}`\n  = help: {help}", help = LOAD_DATA_HELP)]
    LoadSkippedSilently {
        table: String,
        loaded: u64,
        sent: u64,
    },

    /// A bulk-loaded table holding fewer rows than were loaded into it.
    #[error(
        "table `{table}`: the server kept {kept} of {loaded} rows loaded\n  = help: {help}",
        help = ROLLED_BACK
    )]
    RowsLost {
        table: String,
        kept: u64,
        loaded: u64,
    },

    /// A unique key holding one value twice after a bulk load with the
    /// server's unique checks off; `key` is the value (`col=value, …`).
    #[error("table `{table}`: duplicate key {key}\n  = help: {help}", help = ROLLED_BACK)]
    DuplicateLoaded { table: String, key: String },

    /// A row whose other unique key an existing row with another key
    /// already holds: MySQL's upsert would update that row instead.
    #[error(
        "row {key} of `{table}` has unique key ({}) = ({}), which an existing row with another {} already has\n  = help: MySQL would update that other row; resolve the duplicate in the backup or the database. Nothing was changed",
        .unique.join(", "),
        .values.join(", "),
        .key_columns.join(", ")
    )]
    UniqueKeyTaken {
        table: String,
        /// The row's key, `col=value, …`.
        key: String,
        key_columns: Vec<String>,
        unique: Vec<String>,
        values: Vec<String>,
    },

    /// Loaded rows whose foreign key finds no parent row.
    #[error(
        "foreign key of `{table}` ({}) → `{ref_table}` ({}){} is violated: {}{}\n  = help: the referenced rows are neither in the backup nor in the database; nothing was changed\n  = help: a modules export carries the rows it references with `[export] closure = true` (or `run --closure`)",
        .columns.join(", "),
        .ref_columns.join(", "),
        .constraint.as_ref().map(|c| format!(" (constraint `{c}`)")).unwrap_or_default(),
        orphan_rows(.columns, .orphans),
        if *.more { " …" } else { "" }
    )]
    ForeignKeyViolated {
        table: String,
        columns: Vec<String>,
        ref_table: String,
        ref_columns: Vec<String>,
        /// Its name, where the engine names foreign keys in messages.
        constraint: Option<String>,
        /// The first rows without a parent.
        orphans: Vec<Orphan>,
        /// More rows than listed.
        more: bool,
    },

    /// An engine's refusal during a load into tables whose triggers fired;
    /// `note` (the data phase's) names them and what to do about them.
    #[error("{error}{note}")]
    TriggersFired {
        error: Box<EngineError>,
        note: String,
    },
}

/// A row whose foreign key finds no parent: its key (`id=1, …`) and its
/// foreign key's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    pub key: String,
    pub values: Vec<String>,
}

impl EngineError {
    /// Bad URLs are bad usage; everything else is a failed run.
    pub fn exit_code(&self) -> i32 {
        match self {
            EngineError::BadUrl { .. }
            | EngineError::BadPostgresUrl { .. }
            | EngineError::BadMysqlUrl { .. }
            | EngineError::BadTlsSwitch { .. }
            | EngineError::BadTlsMode { .. } => exit::USAGE,
            EngineError::TriggersFired { error, .. } => error.exit_code(),
            _ => exit::FAILED,
        }
    }

    /// This error, with the data phase's `note` on the triggers that fired.
    pub fn with_note(self, note: String) -> Self {
        EngineError::TriggersFired {
            error: Box::new(self),
            note,
        }
    }
}

/// Boxed: a fact with its rows is larger than the rest of [`Error`], and
/// every `Result` would carry its size.
impl From<EngineError> for super::Error {
    fn from(e: EngineError) -> Self {
        super::Error::Engine(Box::new(e))
    }
}

fn ticked(names: &[String]) -> String {
    let ticked: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    ticked.join(", ")
}

/// `row id=1 has (parent_id) = (7); …`
fn orphan_rows(columns: &[String], rows: &[Orphan]) -> String {
    let columns = columns.join(", ");
    let listed: Vec<String> = rows
        .iter()
        .map(|o| format!("row {} has ({columns}) = ({})", o.key, o.values.join(", ")))
        .collect();
    listed.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn message_and_help_come_apart_for_an_engine_fact() {
        let e = Error::from(EngineError::NoSuchDatabase {
            database: "shop".into(),
            url: "postgres://app:***@db/shop".into(),
        });
        assert_eq!(
            e.message(),
            "database `shop` does not exist on postgres://app:***@db/shop"
        );
        assert_eq!(
            e.help().as_deref(),
            Some(
                "create it first (`CREATE DATABASE`); migplan does not create PostgreSQL databases"
            )
        );
        assert_eq!(e.exit_code(), exit::FAILED);
    }

    #[test]
    fn a_bad_url_is_bad_usage_and_keeps_its_code_under_a_note() {
        let e = EngineError::BadUrl { url: "x".into() };
        assert_eq!(e.exit_code(), exit::USAGE);
        let noted = e.with_note("\n  = note: n".into());
        assert_eq!(Error::from(noted).exit_code(), exit::USAGE);
    }
}

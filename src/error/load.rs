//! What can be wrong in the data phase (export, import, copy, restore of a
//! chain) before or while rows move: a backup that does not fit the target,
//! chain links that do not follow, names that collide, lossy columns, modules
//! the plan does not have, a backup folder that cannot take a backup.
//!
//! Each variant's text reproduces the message the CLI prints, help included;
//! [`LoadError::is_usage`] says which ones were asked wrongly (exit 2) rather
//! than failed (exit 1).

use std::path::PathBuf;

/// A fact of the data phase that stops it; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    // ---- chains of backups (given as files) ----
    /// A workbook given where a chain of JSON backups is read.
    #[error("{file} is a workbook: an incremental chain is made of JSON backups")]
    ChainWorkbook { file: String },

    #[error(
        "{file} is an incremental backup, so it cannot start a chain\n  = help: give the full backup it builds on first; nothing was changed"
    )]
    ChainStartsIncremental { file: String },

    /// A full (or modules) backup after the first of a chain.
    #[error(
        "{file} is a {export_type} backup: only incremental backups may follow the first backup of a chain; nothing was changed"
    )]
    ChainNotIncremental { file: String, export_type: String },

    #[error(
        "{file} is an incremental backup that records no previous backup, so it cannot be placed in a chain\n  = help: export increments with `--follows PREVIOUS.json`; nothing was changed"
    )]
    ChainNoLink { file: String },

    /// `file` follows `later`, which the list gives after it.
    #[error(
        "out of order: {file} follows {later} ({follows}), which comes after it in the chain\n  = help: give the backups oldest first; nothing was changed"
    )]
    ChainOutOfOrder {
        file: String,
        follows: String,
        later: String,
    },

    /// `file` follows a backup that is not the one before it in the list.
    #[error(
        "gap: {file} follows backup {follows}, but the previous backup in the chain is {previous} ({previous_id})\n  = help: give every backup of the chain, in order; nothing was changed"
    )]
    ChainGap {
        file: String,
        follows: String,
        previous: String,
        previous_id: String,
    },

    // ---- chains of backups (given as a folder) ----
    #[error("{} holds no `*.json` backups (nor `*.json.zst`, `*.json.gz`)", .dir.display())]
    FolderEmpty { dir: PathBuf },

    #[error(
        "{} holds no full or incremental backup to restore\n  = help: a folder restores a full backup and the increments that follow it",
        .dir.display()
    )]
    FolderNoFullBackup { dir: PathBuf },

    #[error(
        "gap: {file} follows backup {follows}, which is not in {}\n  = help: put every backup of the chain in the folder; nothing was changed",
        .dir.display()
    )]
    FolderGap {
        file: String,
        follows: String,
        dir: PathBuf,
    },

    #[error(
        "gap: {file} follows backup {follows}, which is in none of the backup folders ({})\n  = help: put every backup of the chain in a backups folder; nothing was changed",
        .dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    FoldersGap {
        file: String,
        follows: String,
        dirs: Vec<PathBuf>,
    },

    #[error("the backups in {} follow each other in a loop", .dir.display())]
    FolderLoop { dir: PathBuf },

    // ---- a backup against the target ----
    /// `label` names the backup as messages do.
    #[error(
        "{label} is from schema version {backup}, the database is at version {database}\n  = help: apply the newer schema scripts first (`migplan schema up PLAN`); nothing was changed"
    )]
    BackupNewer {
        label: String,
        backup: i64,
        database: i64,
    },

    /// A keyless table in an increment: its rows cannot replace earlier ones.
    #[error(
        "{label}: table `{table}` has no primary key, so its rows in an increment cannot replace their earlier versions (they would be added again); nothing was changed\n  = help: give the table a primary key, or set `[tables.{table}] key` to the columns of a unique key"
    )]
    KeylessInChain { label: String, table: String },

    /// `version` says the backup's schema version as a parenthesis (or is
    /// empty for a copy source).
    #[error(
        "the {noun} holds table `{table}`, which the target database does not have{version}\n  = help: apply the schema scripts that create it, or move only some modules with `--modules`"
    )]
    TableMissing {
        noun: &'static str,
        table: String,
        version: String,
    },

    #[error(
        "the {noun} has column `{table}`.`{column}`, which the target database's table does not have\n  = help: {help}"
    )]
    ColumnMissing {
        noun: &'static str,
        table: String,
        column: String,
        help: String,
    },

    /// A column whose type the target's cannot hold exactly.
    #[error(
        "column `{table}`.`{column}` is {from} ({from_sql}) in the {noun} but {to} ({to_sql}) in the target database, which cannot hold it exactly; nothing was changed\n  = help: {help}"
    )]
    TypeDoesNotCarry {
        noun: &'static str,
        table: String,
        column: String,
        from: &'static str,
        from_sql: String,
        to: &'static str,
        to_sql: String,
        help: String,
    },

    #[error(
        "column `{table}`.`{column}` is NOT NULL without a default, and the {noun} does not have it"
    )]
    NotNullMissing {
        noun: &'static str,
        table: String,
        column: String,
    },

    #[error(
        "the conflict key ({}) of `{table}` is not its primary key or a unique key\n  = help: set `[tables.{table}] key` to the columns of a primary or unique key",
        .key.join(", ")
    )]
    KeyNotUnique { table: String, key: Vec<String> },

    #[error(
        "the {noun} of `{table}` leaves out a column of its conflict key ({})",
        .key.join(", ")
    )]
    KeyColumnLeftOut {
        noun: &'static str,
        table: String,
        key: Vec<String>,
    },

    /// Columns whose values the target cannot hold exactly, not accepted by
    /// the plan; `lines` says each, `table`/`column` the first.
    #[error(
        "{label}: the target cannot hold the values of {} exactly; nothing was changed\n{}\n  = help: declare the target column TEXT to keep the exact decimal text, or accept the conversion in the plan: `[tables.{table}] accept_lossy = [\"{column}\"]` (docs/types.md)",
        if .lines.len() == 1 { "this column".to_string() } else { format!("these {} columns", .lines.len()) },
        .lines.join("\n")
    )]
    LossyRefused {
        label: String,
        lines: Vec<String>,
        table: String,
        column: String,
    },

    // ---- names matched ignoring case ----
    /// Two source names (`what`: table, column), `other` claimed first and
    /// then `name`, land on one target name.
    #[error(
        "{what}s `{other}` and `{name}` both match the target's `{target}`{} (names are matched ignoring case when not exact); nothing was changed\n  = help: rename one of them in the source, or give the target both",
        place(.table)
    )]
    NamesCollide {
        what: String,
        other: String,
        name: String,
        target: String,
        table: Option<String>,
    },

    #[error(
        "{what} `{name}` has no exact match in the target, and both `{first}` and `{second}`{} match it ignoring case\n  = help: rename one of them, or give the source the target's exact spelling",
        place(.table)
    )]
    AmbiguousMatch {
        what: String,
        name: String,
        first: String,
        second: String,
        table: Option<String>,
    },

    // ---- verification after the load ----
    /// Counts or values read back differ; `load` is `import` or `copy`.
    #[error(
        "verification after the {load} failed for `{table}`: {what}\n  = help: the database changed the data on its way in (a trigger, a rule, a type that does not keep the value); nothing was changed, the {load} was rolled back"
    )]
    Unverified {
        table: String,
        load: String,
        what: String,
    },

    /// Rows read back with other values; `details` lists the rows, the
    /// triggers that may explain it, and the help.
    #[error("verification after the import failed for `{table}`: {what}{details}")]
    ReadBackDiffers {
        table: String,
        what: String,
        details: String,
    },

    // ---- modules, columns and tables the plan names ----
    #[error("the plan declares no `[[module]]`, so `--modules` has nothing to choose from")]
    NoModulesDeclared,

    #[error("unknown module `{module}`\n  = help: known modules: {}", .known.join(", "))]
    UnknownModule { module: String, known: Vec<String> },

    #[error(
        "module `{module}` lists table `{table}`, which the database does not have\n  = help: fix the plan, or apply the schema scripts that create it"
    )]
    ModuleTableMissing { module: String, table: String },

    /// `[tables.T] setting` names a column the table lacks.
    #[error(
        "`[tables.{table}] {setting}` names column `{column}`, which table `{table}` does not have\n  = help: its columns are {}",
        .known.join(", ")
    )]
    UnknownColumn {
        table: String,
        setting: String,
        column: String,
        known: Vec<String>,
    },

    #[error("table `{table}` is not in {}", .backup.display())]
    TableNotInBackup { table: String, backup: PathBuf },

    // ---- export ----
    #[error(
        "an incremental export needs a start time: set `[export] since` or pass `--since 2025-01-01T00:00:00Z`"
    )]
    IncrementalNeedsSince,

    #[error("a modules export needs modules: set `[export] modules` or pass `--modules a,b`")]
    ModulesNeedModules,

    #[error(
        "a foreign key references table `{table}`, which the database does not have (SQLite keeps the name as the REFERENCES clause spells it), so the closure cannot follow it\n  = help: fix the reference, or export without `closure`"
    )]
    ClosureMissingTable { table: String },

    // ---- the backup taken before every change ----
    #[error(
        "the backup folder `{}` cannot take the backup taken before every change: {cause}\n  = help: fix its permissions, choose another with `[backup] dir`, or set `[backup] enabled = false`; nothing was changed",
        .dir.display()
    )]
    BackupDirUnwritable { dir: PathBuf, cause: String },

    /// `free` and `needed` are sizes as people read them (`1.2 MB`).
    #[error(
        "the backup folder `{}` has {free} free, and the backup before change needs up to {needed} (the database's size)\n  = help: free some space, choose another folder with `[backup] dir`, or set `[backup] enabled = false`; nothing was changed",
        .dir.display()
    )]
    BackupDirFull {
        dir: PathBuf,
        free: String,
        needed: String,
    },

    /// A failed load into tables whose triggers fired: the error, then
    /// `note` (which triggers, and how to switch them off).
    #[error("{error}{note}")]
    TriggersFired { error: Box<LoadError>, note: String },
}

impl LoadError {
    /// Asked wrongly (flags, files given, modules named): nothing was
    /// attempted. The others are facts of the data met on the way.
    pub fn is_usage(&self) -> bool {
        use LoadError::*;
        match self {
            ChainWorkbook { .. }
            | ChainStartsIncremental { .. }
            | ChainNotIncremental { .. }
            | ChainNoLink { .. }
            | ChainOutOfOrder { .. }
            | ChainGap { .. }
            | FolderEmpty { .. }
            | FolderNoFullBackup { .. }
            | FolderGap { .. }
            | FoldersGap { .. }
            | FolderLoop { .. }
            | NoModulesDeclared
            | UnknownModule { .. }
            | TableNotInBackup { .. }
            | IncrementalNeedsSince
            | ModulesNeedModules => true,
            TriggersFired { error, .. } => error.is_usage(),
            _ => false,
        }
    }
}

impl From<LoadError> for super::Error {
    fn from(e: LoadError) -> Self {
        super::Error::Load(Box::new(e))
    }
}

/// ` of `table``, where a name is a column of a table.
fn place(table: &Option<String>) -> String {
    table
        .as_ref()
        .map_or(String::new(), |t| format!(" of `{t}`"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, exit};

    #[test]
    fn message_and_help_come_apart() {
        let e = Error::from(LoadError::UnknownModule {
            module: "sales".into(),
            known: vec!["`core`".into(), "`hr`".into()],
        });
        assert_eq!(e.message(), "unknown module `sales`");
        assert_eq!(e.help().as_deref(), Some("known modules: `core`, `hr`"));
        assert_eq!(e.exit_code(), exit::USAGE);
        let missing = Error::from(LoadError::ModuleTableMissing {
            module: "core".into(),
            table: "t".into(),
        });
        assert_eq!(missing.exit_code(), exit::FAILED);
    }
}

//! What can be wrong when an older backup is upgraded through the plan's
//! version adapters (docs/adapters.md).

/// A backup that the adapters cannot bring to the target's schema version,
/// or whose rows an adapter step refuses.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    #[error(
        "the backup is from schema version {from}, newer than the target's version {to}; adapters only upgrade\n  = help: apply the newer schema scripts to the target first"
    )]
    BackupNewer { from: i64, to: i64 },

    /// No path of steps joins the versions; `last` is as far as they go,
    /// `next` where the next known step starts.
    #[error(
        "no adapter step leads from version {from} to {to}: {known}; missing a step from {last}\n  = help: add a `[[step]]` with `from = {last}` and `to = {next}` to an adapter file"
    )]
    NoStep {
        from: i64,
        to: i64,
        /// The steps known, said as one phrase.
        known: String,
        last: i64,
        next: i64,
    },

    /// `found` says the backup's version ("is from schema version 2").
    #[error("the backup {found}, but the adapter chain starts at version {from}")]
    ChainStartsElsewhere { found: String, from: i64 },

    #[error("the backup's data came before its meta")]
    DataBeforeMeta,

    #[error("the backup's data holds table `{table}`, which its meta does not list")]
    TableNotInMeta { table: String },

    /// A `map` step with `unmapped = "error"` met a value it does not map.
    #[error(
        "{context}: value {value} has no mapping (`unmapped = \"error\"`); the map knows {}",
        .known.join(", ")
    )]
    Unmapped {
        /// The step and column, as the adapter file names them.
        context: String,
        value: String,
        known: Vec<String>,
    },

    /// A `set` step's expression failed on a row.
    #[error("{context}: {message}")]
    Expression { context: String, message: String },
}

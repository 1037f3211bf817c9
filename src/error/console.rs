//! What can be wrong when the web console starts or is asked something it
//! refuses (`migplan serve`, src/console/).

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error(
        "cannot listen on {addr}: {cause}\n  = help: pick another address or port with --bind, e.g. --bind 127.0.0.1:0 for any free port"
    )]
    CannotListen { addr: SocketAddr, cause: String },

    #[error("the console stopped: {cause}")]
    Stopped { cause: String },

    #[error(
        "no plan or database to serve: {looked} does not exist here\n  = help: pass a plan (`migplan serve plans/full-backup.toml`) or a database (`migplan serve --db URL`), or run from the migplan folder to serve the demo"
    )]
    NoTarget { looked: PathBuf },

    #[error(
        "the console would listen on {addr}, beyond this machine, with an empty token\n  = help: give a token of at least 16 characters with --token or MIGPLAN_TOKEN, or leave both unset to have one generated"
    )]
    WeakToken { addr: SocketAddr },

    #[error(
        "the upload is larger than the limit of {limit} bytes\n  = help: raise it with `migplan serve --upload-limit BYTES`, or put the file into a backups folder and pick it from the backups page"
    )]
    UploadTooLarge { limit: u64 },

    #[error(
        "no upload `{id}`: it was removed when its job ended, or the console restarted\n  = help: upload the file again"
    )]
    NoSuchUpload { id: String },

    #[error(
        "no job {id}\n  = help: the console keeps jobs until it restarts; see the history for runs of record"
    )]
    NoSuchJob { id: u64 },

    #[error(
        "{holder} is already changing {database}\n  = help: wait for it to end (its page shows its progress), or cancel it"
    )]
    JobRunning { holder: String, database: String },

    #[error(
        "the console runs read-only (--read-only): it changes nothing\n  = help: restart it without --read-only to make changes"
    )]
    ReadOnly,

    #[error("{field} is required: the history records who made a change and why")]
    MissingField { field: &'static str },

    #[error(
        "the database name typed, `{typed}`, is not `{expected}`; nothing was changed\n  = help: this environment asks for the database name before any change: type it exactly"
    )]
    NameNotTyped { typed: String, expected: String },

    #[error("the upload could not be read: {cause}")]
    BadUpload { cause: String },

    #[error(
        "{action} needs a plan: the console serves a database without one\n  = help: start it with a plan: `migplan serve PLAN`"
    )]
    NoPlan { action: &'static str },

    #[error(
        "job {id} wrote no file to download\n  = help: only an export that succeeded leaves a file; its log says what it did"
    )]
    NoFile { id: u64 },

    #[error(
        "`{plan}` is not an export plan of {folder}\n  = help: pick one of the plans the export page lists"
    )]
    NotAnExportPlan { plan: String, folder: PathBuf },

    #[error(
        "`{plan}` is not an import plan of {folder}\n  = help: pick one of the plans the import page lists"
    )]
    NotAnImportPlan { plan: String, folder: PathBuf },

    #[error("the form's `{field}` is `{value}`: {expected}")]
    BadField {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
}

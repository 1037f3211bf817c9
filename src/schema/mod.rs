//! The schema phase: versioned scripts (`V{n}__{name}.sql`, refinery's
//! naming) loaded from the plan's migrations folder and applied before any
//! data moves, with their undo twins (`V{n}__{name}.undo.sql`, a name
//! refinery's loader ignores).
//!
//! migplan runs the scripts itself and keeps refinery's history table
//! (`refinery_schema_history`: version, name, applied_on, checksum) in
//! refinery's exact format, so refinery and `schema status` read it alike:
//!
//! - on SQLite and PostgreSQL every pending script, its history row and its
//!   normalised checksum commit in one transaction (all or nothing);
//! - on MySQL/MariaDB, whose DDL commits on its own, each script runs one
//!   statement at a time under a journal (`migplan_schema_journal`), so an
//!   interrupted script is found, refused with guidance and resumable.
//!
//! `migplan_schema_checksums` records each applied script's normalised
//! checksum (comments and whitespace ignored): `schema repair` re-records a
//! checksum only when that normalised form is unchanged.
//! See docs/schema.md.
//!
//! One file per concern: `source.rs` the scripts as files, `store.rs` the
//! bookkeeping tables, `status.rs` status and refinery's checks, `apply.rs`
//! `schema up`, `journal.rs` the MySQL journal, `down.rs` `schema down`,
//! `record.rs` `schema baseline` and `schema repair`, `new.rs` `schema
//! new`, `sql.rs` a script's statements and normalised checksum.

mod apply;
mod down;
mod journal;
mod new;
mod record;
mod source;
pub mod sql;
mod status;
mod store;

pub use new::new_script;
pub use source::is_word;

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

pub const HISTORY_TABLE: &str = "refinery_schema_history";
pub const CHECKSUMS_TABLE: &str = "migplan_schema_checksums";
pub const JOURNAL_TABLE: &str = "migplan_schema_journal";

/// One versioned script of the folder, with its undo twin if any.
#[derive(Debug, Clone)]
pub struct Script {
    pub version: i64,
    pub name: String,
    pub path: PathBuf,
    sql: String,
    /// refinery's checksum (SipHash 1-3 of name, version and text).
    pub checksum: u64,
    pub undo: Option<Undo>,
}

#[derive(Debug, Clone)]
pub struct Undo {
    pub path: PathBuf,
    sql: String,
}

impl Script {
    pub fn label(&self) -> String {
        format!("V{}__{}", self.version, self.name)
    }
}

/// The scripts of a migrations folder, ordered by version.
pub struct Scripts {
    dir: Option<PathBuf>,
    scripts: Vec<Script>,
}

/// One script and whether the database has it.
#[derive(Debug, Clone, Serialize)]
pub struct ScriptStatus {
    pub version: i64,
    pub name: String,
    /// When it was applied (RFC 3339), `None` while pending.
    pub applied_on: Option<String>,
    /// Applied, but the file's checksum differs from the recorded one.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub changed: bool,
}

impl ScriptStatus {
    pub fn label(&self) -> String {
        format!("V{}__{}", self.version, self.name)
    }
}

/// Applied and pending scripts of one database.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub applied: Vec<ScriptStatus>,
    pub pending: Vec<ScriptStatus>,
}

impl Status {
    /// The highest applied version: the schema version recorded in backups.
    pub fn version(&self) -> Option<i64> {
        self.applied.iter().map(|s| s.version).max()
    }
}

/// A script a dry run would run: `schema up --dry-run`, `run --dry-run`,
/// `schema down --dry-run` (then `path` is the undo script).
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    pub version: i64,
    pub label: String,
    pub path: PathBuf,
    pub checksum: u64,
}

impl Scripts {
    pub fn scripts(&self) -> &[Script] {
        &self.scripts
    }

    fn script(&self, version: i64) -> Option<&Script> {
        self.scripts.iter().find(|s| s.version == version)
    }

    fn folder(&self) -> String {
        self.dir
            .as_ref()
            .map_or("the migrations folder".into(), |d| d.display().to_string())
    }
}

/// `would apply V2__x  (version 2, checksum …, path)` lines of a dry run.
pub fn render_planned(verb: &str, planned: &[Planned]) -> String {
    let mut out = String::new();
    for p in planned {
        let _ = writeln!(
            out,
            "{verb} {:<40} {}{}",
            p.label,
            p.path.display(),
            if p.checksum == 0 {
                String::new()
            } else {
                format!("  checksum {}", p.checksum)
            }
        );
    }
    out
}

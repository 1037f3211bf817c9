//! The policies a plan chooses and the backends carry out: what happens to
//! a row whose key exists, what the target's triggers do while rows load.
//! Shared by `plan` and `backend`, which do not import each other.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Conflict {
    /// Keep the existing row.
    Skip,
    /// Replace the existing row's values.
    Overwrite,
    /// Abort the import and list the conflicting keys.
    Error,
}

impl Conflict {
    pub fn name(self) -> &'static str {
        match self {
            Conflict::Skip => "skip",
            Conflict::Overwrite => "overwrite",
            Conflict::Error => "error",
        }
    }
}

/// What the target's triggers do while rows load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Triggers {
    /// They fire, as for any insert (the default).
    Fire,
    /// Switched off for the load and back on before the commit, inside the
    /// import's transaction (PostgreSQL, SQLite; MySQL cannot).
    Disable,
}

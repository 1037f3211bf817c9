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
    /// Every policy by the name plans and flags give it: the one list that
    /// the plan's parser and the CLI read (a new policy is a variant, a row
    /// here, and its merge in each engine's `write.rs`).
    pub const NAMES: [(&'static str, Conflict); 3] = [
        ("skip", Conflict::Skip),
        ("overwrite", Conflict::Overwrite),
        ("error", Conflict::Error),
    ];

    pub fn name(self) -> &'static str {
        named(&Self::NAMES, self)
    }

    pub fn from_name(name: &str) -> Option<Self> {
        by_name(&Self::NAMES, name)
    }
}

fn by_name<T: Copy>(names: &[(&'static str, T)], name: &str) -> Option<T> {
    names.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

fn named<T: PartialEq + Copy>(names: &[(&'static str, T)], value: T) -> &'static str {
    names
        .iter()
        .find(|(_, v)| *v == value)
        .map(|(n, _)| *n)
        .expect("every variant has a name")
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

impl Triggers {
    /// Every setting by the name plans and flags give it.
    pub const NAMES: [(&'static str, Triggers); 2] =
        [("fire", Triggers::Fire), ("disable", Triggers::Disable)];

    pub fn name(self) -> &'static str {
        named(&Self::NAMES, self)
    }

    pub fn from_name(name: &str) -> Option<Self> {
        by_name(&Self::NAMES, name)
    }
}

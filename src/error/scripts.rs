//! What is wrong with a plan's schema scripts, or between them and the
//! database they go to: the migrations folder and its files, the history
//! they are checked against, the MySQL journal, a script's text as the
//! engine's client would read it, and what `schema down`, `baseline`,
//! `repair` and `new` refuse. A script that failed while it was applied is
//! an [`Error::Schema`](super::Error::Schema), with what stayed applied.

use std::fmt;
use std::path::PathBuf;

use super::exit;
use crate::schema::JOURNAL_TABLE;

/// Where `migplan rollback` is pointed to when scripts cannot be undone.
const ROLLBACK_HELP: &str = "without undo scripts, restore the backup taken automatically before the run that applied them: `migplan rollback RUN_ID`";

#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// `[schema] migrations` names a folder that is not there.
    #[error(
        "migrations folder `{}` does not exist\n  = help: fix `[schema] migrations` in the plan, or create the folder with scripts named V1__init.sql, V2__…",
        .dir.display()
    )]
    NoFolder { dir: PathBuf },

    /// refinery's loader refused the folder; `cause` is its word.
    #[error("{}: {cause}", .dir.display())]
    Unloadable { dir: PathBuf, cause: String },

    /// Two scripts numbered alike.
    #[error(
        "{} and {} share version {version}: every script needs its own number",
        .first.display(), .second.display()
    )]
    SharedVersion {
        version: i64,
        first: PathBuf,
        second: PathBuf,
    },

    /// Undo scripts whose versioned twin is not in the folder.
    #[error(
        "undo script(s) without their versioned script: {}\n  = help: an undo script `V{{n}}__{{name}}.undo.sql` undoes `V{{n}}__{{name}}.sql`: rename it to match, or delete it",
        listed(.orphans, ", ")
    )]
    OrphanUndo { orphans: Vec<UndoOrphan> },

    /// refinery's checks before applying failed: applied scripts gone or
    /// changed, pending ones older than the database's version.
    #[error(
        "the schema scripts and the database's history disagree:\n  - {}\n  = help: restore the scripts as they were applied; if only whitespace or comments changed, `migplan schema repair PLAN` re-records them; to change the schema, add a script with `migplan schema new PLAN NAME`",
        listed(.problems, "\n  - ")
    )]
    HistoryDisagrees { problems: Vec<Disagreement> },

    /// The MySQL journal holds a script (or, `down`, an undo script) that
    /// stopped after `done` statements; `error` is what stopped it, when
    /// known.
    #[error(
        "an earlier schema run was interrupted: {} stopped after {done} statement(s) (recorded in `{journal}`).{} MySQL/MariaDB committed those statements, so the schema is between two versions\n  = help: check that those {done} statement(s) took effect (`SHOW CREATE TABLE …`), fix the script's next statement if it failed, then continue with {}; or undo them by hand and delete the row from `{journal}`",
        interrupted_script(*.version, .name, *.down),
        failed_with(.error.as_deref()),
        resume_command(*.down),
        journal = JOURNAL_TABLE
    )]
    Interrupted {
        version: i64,
        name: String,
        down: bool,
        done: usize,
        error: Option<String>,
    },

    /// `--resume` with a journal whose script is not among those to apply.
    #[error(
        "the journal's interrupted script V{version}__{name} is no longer pending: its file is gone or the target stops before it\n  = help: restore the script, or finish it by hand and delete its row from `{journal}`",
        journal = JOURNAL_TABLE
    )]
    InterruptedNotPending { version: i64, name: String },

    #[error("`--to {to}`: the version must be 0 (undo every script) or more")]
    NegativeTarget { to: i64 },

    #[error("the database has no applied schema script: nothing to undo")]
    NothingToUndo,

    #[error(
        "`--to {to}` is not below the database's schema version {current}: `schema down` only goes back"
    )]
    TargetNotBelow { to: i64, current: i64 },

    /// `schema down --to` meets applied versions without undo scripts;
    /// `missing` names the files (`V2__x.undo.sql`).
    #[error(
        "cannot go down to version {to}: no undo script for {} in {folder}; nothing was changed\n  = help: write the missing undo script(s) beside their versioned twins, or {rollback}",
        .missing.join(", "),
        rollback = ROLLBACK_HELP
    )]
    MissingUndo {
        to: i64,
        missing: Vec<String>,
        folder: String,
    },

    /// A baseline marks a database with no applied scripts, and this one
    /// is at version `applied`.
    #[error(
        "the database already has applied schema scripts (version {applied}): a baseline marks a database that has none\n  = help: `migplan schema status PLAN` lists them"
    )]
    BaselineOnApplied { applied: i64 },

    /// A version no script of the folder has; `known` are those it has.
    #[error(
        "no script has version {version} in {folder} (versions: {})",
        versions(.known)
    )]
    NoSuchVersion {
        version: i64,
        folder: String,
        known: Vec<i64>,
    },

    /// Applied scripts changed beyond what `schema repair` may re-record.
    #[error(
        "cannot repair; nothing was changed:\n  - {}\n  = help: restore the file as it was applied (e.g. `git checkout -- FILE`), or write a new script for the change: `migplan schema new PLAN NAME`",
        listed(.refused, "\n  - ")
    )]
    RepairRefused { refused: Vec<Unrepairable> },

    /// A `schema new` name that is not refinery's `\w+`.
    #[error(
        "`{name}` cannot name a script: use letters, digits and `_` only (refinery's rule), e.g. add_email"
    )]
    BadName { name: String },

    /// `schema new` would overwrite a file.
    #[error("{} already exists: nothing was created", .path.display())]
    AlreadyExists { path: PathBuf },

    /// A MySQL statement (`statement`, from 1) that switches, creates or
    /// drops a database; `code` is its first line.
    #[error(
        "{label}, statement {statement}: `{code}` switches to, creates or drops a database: a plan's scripts change the plan's database only; nothing was run\n  = help: dump one database without `--databases`/`--all-databases` (`mysqldump --no-data DB`), or delete the CREATE DATABASE and USE lines"
    )]
    SwitchesDatabase {
        label: String,
        statement: usize,
        code: String,
    },

    /// A script that names migplan's or refinery's own tables.
    #[error(
        "{label} names {}, kept by migplan and refinery: a script must not create, change or drop them (a dump of a database migplan manages holds them); nothing was run\n  = help: dump without them (`mysqldump --ignore-table=DB.TABLE` for each, `pg_dump -T refinery_schema_history -T 'migplan_*'`), or delete their statements from the script",
        ticked(.tables)
    )]
    NamesBookkeeping {
        label: String,
        tables: Vec<&'static str>,
    },

    /// A psql meta-command (`command`, as written) the server would refuse.
    #[error(
        "{label}, line {line}: `{command}` is a psql meta-command, not SQL: the server would refuse it\n  = help: remove the line, or write what it does in SQL; only pg_dump's `\\restrict` and `\\unrestrict` lines are skipped (psql never sends them to the server either)"
    )]
    PsqlMetaCommand {
        label: String,
        line: usize,
        command: String,
    },

    /// A `DELIMITER` line in a script for an engine whose client has none.
    #[error(
        "{label}, line {line}: `DELIMITER` is a command of the mysql client, and {label} runs on {engine}\n  = help: remove the DELIMITER lines: this engine's scripts end statements with `;`"
    )]
    DelimiterElsewhere {
        label: String,
        line: usize,
        engine: &'static str,
    },

    /// A `DELIMITER` line without a terminator the mysql client accepts.
    #[error(
        "{label}, line {line}: `DELIMITER` needs the new statement terminator (e.g. `DELIMITER ;;`), without a backslash\n  = help: write `DELIMITER ;;` before the statements that end in `;;`, and `DELIMITER ;` after them"
    )]
    DelimiterWithoutTerminator { label: String, line: usize },
}

/// An undo script at `path` without `V{version}__{name}.sql` beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndoOrphan {
    pub path: PathBuf,
    pub version: i64,
    pub name: String,
}

/// One way the folder and the database's history disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disagreement {
    /// `label` is applied, and `folder` has no file for it.
    FileMissing { label: String, folder: String },
    /// The file of an applied script no longer has its recorded checksum.
    Changed { path: PathBuf },
    /// A pending script below the database's version `current`.
    NeverApplied { label: String, current: i64 },
}

/// Why `schema repair` cannot re-record an applied script's checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unrepairable {
    /// The file's name differs from the one applied (`applied_as`).
    Renamed { path: PathBuf, applied_as: String },
    /// Applied by refinery or an older migplan: no normalised checksum.
    NoNormalisedChecksum { path: PathBuf },
    /// The text changed in more than whitespace and comments.
    Changed { path: PathBuf },
}

impl ScriptError {
    /// Arguments that cannot work are bad usage; the rest is a failed run.
    pub fn exit_code(&self) -> i32 {
        match self {
            ScriptError::NegativeTarget { .. }
            | ScriptError::NothingToUndo
            | ScriptError::TargetNotBelow { .. }
            | ScriptError::NoSuchVersion { .. }
            | ScriptError::BadName { .. } => exit::USAGE,
            _ => exit::FAILED,
        }
    }
}

impl fmt::Display for UndoOrphan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (path, version, name) = (self.path.display(), self.version, &self.name);
        write!(f, "{path} (no V{version}__{name}.sql beside it)")
    }
}

impl fmt::Display for Disagreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Disagreement::FileMissing { label, folder } => {
                write!(
                    f,
                    "{label} is applied but its file is missing from {folder}"
                )
            }
            Disagreement::Changed { path } => write!(
                f,
                "{} was changed after it was applied (its checksum differs from the recorded one)",
                path.display()
            ),
            Disagreement::NeverApplied { label, current } => write!(
                f,
                "{label} is older than the database's schema version {current} but was never applied"
            ),
        }
    }
}

impl fmt::Display for Unrepairable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unrepairable::Renamed { path, applied_as } => {
                write!(f, "{}: renamed (applied as {applied_as})", path.display())
            }
            Unrepairable::NoNormalisedChecksum { path } => write!(
                f,
                "{}: no normalised checksum was recorded when it was applied (by refinery or an older migplan), so a change cannot be told from an edit of comments",
                path.display()
            ),
            Unrepairable::Changed { path } => {
                write!(
                    f,
                    "{}: changed beyond whitespace and comments",
                    path.display()
                )
            }
        }
    }
}

fn listed(items: &[impl fmt::Display], separator: &str) -> String {
    let each: Vec<String> = items.iter().map(ToString::to_string).collect();
    each.join(separator)
}

fn ticked(names: &[&str]) -> String {
    let each: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    each.join(", ")
}

fn versions(known: &[i64]) -> String {
    if known.is_empty() {
        return "none".into();
    }
    listed(known, ", ")
}

/// The interrupted file as the journal's guidance names it.
fn interrupted_script(version: i64, name: &str, down: bool) -> String {
    if down {
        format!("undo script V{version}__{name}.undo.sql")
    } else {
        format!("script V{version}__{name}")
    }
}

/// The command that continues an interrupted script in its direction.
fn resume_command(down: bool) -> &'static str {
    if down {
        "`migplan schema down PLAN --to N --resume`"
    } else {
        "`migplan schema up PLAN --resume` (or `migplan run PLAN --resume`)"
    }
}

fn failed_with(error: Option<&str>) -> String {
    error
        .map(|e| format!(" It failed with: {e}."))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn message_and_help_come_apart_for_a_script_fact() {
        let e = Error::from(ScriptError::InterruptedNotPending {
            version: 3,
            name: "add_email".into(),
        });
        assert_eq!(
            e.message(),
            "the journal's interrupted script V3__add_email is no longer pending: its file is gone or the target stops before it"
        );
        assert_eq!(
            e.help().as_deref(),
            Some(
                "restore the script, or finish it by hand and delete its row from `migplan_schema_journal`"
            )
        );
        assert_eq!(e.exit_code(), exit::FAILED);
    }

    #[test]
    fn refused_arguments_are_bad_usage_without_help() {
        let e = Error::from(ScriptError::TargetNotBelow { to: 4, current: 2 });
        assert_eq!(e.exit_code(), exit::USAGE);
        assert_eq!(e.help(), None);
        assert_eq!(e.message(), e.to_string());
    }

    #[test]
    fn lists_read_as_before() {
        let e = ScriptError::RepairRefused {
            refused: vec![
                Unrepairable::Changed {
                    path: "m/V1__a.sql".into(),
                },
                Unrepairable::Renamed {
                    path: "m/V2__b.sql".into(),
                    applied_as: "V2__c".into(),
                },
            ],
        };
        assert!(e.to_string().starts_with(
            "cannot repair; nothing was changed:\n  - m/V1__a.sql: changed beyond whitespace and comments\n  - m/V2__b.sql: renamed (applied as V2__c)\n  = help: "
        ));
        let none = ScriptError::NoSuchVersion {
            version: 9,
            folder: "m".into(),
            known: vec![],
        };
        assert_eq!(
            none.to_string(),
            "no script has version 9 in m (versions: none)"
        );
    }
}

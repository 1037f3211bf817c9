//! `schema up` (and `run`'s schema step): the pending scripts planned and
//! applied, in one transaction with their bookkeeping where DDL is
//! transactional, under the journal statement by statement where it is
//! not; and the failure that says exactly what stayed applied.

use super::journal::{JournalRun, check_journal, run_journaled};
use super::source::read_script;
use super::store::{
    create_tables, delete_checksum, ensure_tables, insert_checksum, insert_history, read_history,
};
use super::{Planned, Script, Scripts, sql};
use crate::backend::Backend;
use crate::error::{Error, Result, ScriptError};

impl Scripts {
    /// The scripts `apply` would run, in order; changes nothing.
    pub fn plan_up(&self, db: &mut dyn Backend, target: Option<i64>) -> Result<Vec<Planned>> {
        let applied = read_history(db)?;
        let pending = self.verify(&applied, target)?;
        for s in &pending {
            read_script(&s.sql, db.dialect(), &s.label())?;
        }
        Ok(pending
            .iter()
            .map(|s| Planned {
                version: s.version,
                label: s.label(),
                path: s.path.clone(),
                checksum: s.checksum,
            })
            .collect())
    }

    /// Applies pending scripts; returns their labels. A failing script stops
    /// the run with [`Error::Schema`]: the script, the driver's message and
    /// the scripts applied before it (none where the engine applies the
    /// whole list in one transaction). On MySQL an interrupted script found
    /// in the journal is refused unless `resume`, which continues it from
    /// the statement it reached.
    pub fn apply(
        &self,
        db: &mut dyn Backend,
        target: Option<i64>,
        resume: bool,
    ) -> Result<Vec<String>> {
        let interrupted = check_journal(db, resume, false)?;
        let applied = read_history(db)?;
        let pending = self.verify(&applied, target)?;
        if pending.is_empty() && interrupted.is_none() {
            return Ok(vec![]);
        }
        if db.transactional_ddl() {
            return apply_in_one_transaction(db, &pending);
        }
        // MySQL: every script is split before the first statement runs.
        let dialect = db.dialect();
        let scanned = pending
            .iter()
            .map(|s| read_script(&s.sql, dialect, &s.label()).map(|x| x.statements))
            .collect::<Result<Vec<_>>>()?;
        if let Some(i) = &interrupted
            && !pending.iter().any(|s| s.version == i.version)
        {
            return Err(ScriptError::InterruptedNotPending {
                version: i.version,
                name: i.name.clone(),
            }
            .into());
        }
        ensure_tables(db)?;
        let mut done = vec![];
        for (s, statements) in pending.iter().zip(&scanned) {
            let from = match &interrupted {
                Some(i) if i.version == s.version => i.done,
                _ => 0,
            };
            let ctx = JournalRun {
                version: s.version,
                name: &s.name,
                label: s.label(),
                checksum: s.checksum,
                down: false,
            };
            let after = [
                insert_history(s.version, &s.name, s.checksum),
                delete_checksum(s.version),
                insert_checksum(s.version, &sql::normalized_checksum(&s.sql, dialect, "")?),
            ];
            run_journaled(db, &ctx, statements, from, &after, &done)?;
            done.push(s.label());
        }
        Ok(done)
    }
}

/// SQLite/PostgreSQL: the bookkeeping tables, every script, its history row
/// and its normalised checksum in one transaction.
fn apply_in_one_transaction(db: &mut dyn Backend, pending: &[&Script]) -> Result<Vec<String>> {
    let dialect = db.dialect();
    let mut sqls = create_tables(dialect);
    let mut owner = vec![None; sqls.len()];
    for s in pending {
        // The text as the engine's client sends it (psql skips pg_dump's
        // `\restrict` lines), every script read before anything runs.
        let scanned = read_script(&s.sql, dialect, &s.label())?;
        sqls.push(scanned.text.clone());
        owner.push(Some(s));
        for q in [
            insert_history(s.version, &s.name, s.checksum),
            delete_checksum(s.version),
            insert_checksum(s.version, &scanned.checksum()),
        ] {
            sqls.push(q);
            owner.push(None);
        }
    }
    match in_transaction(db, &sqls) {
        Ok(()) => Ok(pending.iter().map(|s| s.label()).collect()),
        Err((i, e)) => {
            let cause = one_line(&strip_context(&e));
            match owner.get(i).copied().flatten() {
                Some(s) => Err(schema_error(&s.label(), cause, vec![], Reached::RolledBack)),
                None => Err(*e),
            }
        }
    }
}

/// `BEGIN`, each statement, `COMMIT`; on a failure `ROLLBACK` and the index
/// of the failing statement with its error.
pub(super) fn in_transaction(
    db: &mut dyn Backend,
    sqls: &[String],
) -> std::result::Result<(), (usize, Box<Error>)> {
    const CTX: &str = "running schema scripts";
    db.execute_sql(CTX, "BEGIN")
        .map_err(|e| (usize::MAX, Box::new(e)))?;
    for (i, q) in sqls.iter().enumerate() {
        if let Err(e) = db.execute_sql(CTX, q) {
            let _ = db.execute_sql(CTX, "ROLLBACK");
            return Err((i, Box::new(e)));
        }
    }
    db.execute_sql(CTX, "COMMIT")
        .map_err(|e| (usize::MAX, Box::new(e)))
}

/// The driver's message without migplan's context prefix.
pub(super) fn strip_context(e: &Error) -> String {
    match e {
        Error::Database { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// On one line: a driver's message may repeat the whole script.
pub(super) fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// How far a failed script got.
pub(super) enum Reached {
    /// Its transaction rolled back: nothing of it remains.
    RolledBack,
    /// MySQL: its first `ran` statements (of `total`) ran and are
    /// committed; `help` says what to do next.
    Statements {
        ran: usize,
        total: usize,
        help: Option<String>,
    },
}

/// The failure of script `label` after the scripts `applied` (or undone)
/// before it in this run; the message says exactly what stays applied.
pub(super) fn schema_error(
    label: &str,
    cause: String,
    applied: Vec<String>,
    reached: Reached,
) -> Error {
    let mut kept = applied.clone();
    let (failed, nothing, help) = match reached {
        Reached::RolledBack => (
            label.to_string(),
            "no script of this run was applied: the schema phase ran as one transaction",
            None,
        ),
        Reached::Statements { ran: 0, help, .. } => (
            label.to_string(),
            "nothing of this run was applied: the script failed at its first statement",
            help,
        ),
        Reached::Statements { ran, total, help } => {
            kept.push(match ran {
                1 => format!("statement 1 of {label}"),
                _ => format!("statements 1 to {ran} of {label}"),
            });
            (
                format!("{label} (statement {} of {total})", ran + 1),
                "",
                help,
            )
        }
    };
    let note = if kept.is_empty() {
        nothing.to_string()
    } else {
        format!("applied before the failure: {}", kept.join(", "))
    };
    Error::Schema {
        message: format!("script {failed} failed: {cause} ({note})"),
        failed: Some(failed),
        cause,
        applied,
        help,
    }
}

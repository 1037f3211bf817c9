//! The MySQL journal (`migplan_schema_journal`): a script run statement by
//! statement, each recorded as it commits, so that an interrupted script
//! is found, refused with guidance, and resumed from the statement it
//! reached.

use super::apply::{Reached, one_line, schema_error, strip_context};
use super::store::{int, now};
use super::{JOURNAL_TABLE, sql};
use crate::backend::Backend;
use crate::error::{Result, ScriptError};

/// An unfinished script of the MySQL journal.
#[derive(Debug, Clone)]
pub(super) struct Interrupted {
    pub(super) version: i64,
    pub(super) name: String,
    pub(super) down: bool,
    pub(super) done: usize,
    pub(super) error: Option<String>,
}

/// One script run under the MySQL journal.
pub(super) struct JournalRun<'a> {
    pub(super) version: i64,
    pub(super) name: &'a str,
    pub(super) label: String,
    pub(super) checksum: u64,
    pub(super) down: bool,
}

/// Runs `statements[from..]` one by one, recording each in the journal,
/// then `after` (history bookkeeping) and marks the script done. A failure
/// at the script's first statement leaves no trace in the journal (nothing
/// of it ran); a later one leaves it in progress for `--resume`.
pub(super) fn run_journaled(
    db: &mut dyn Backend,
    run: &JournalRun<'_>,
    statements: &[String],
    from: usize,
    after: &[String],
    before: &[String],
) -> Result<()> {
    let dir = if run.down { "down" } else { "up" };
    let key = format!("version = {} AND direction = '{dir}'", run.version);
    let ctx = "writing the schema journal";
    if from == 0 {
        db.execute_sql(ctx, &format!("DELETE FROM {JOURNAL_TABLE} WHERE {key}"))?;
        db.execute_sql(
            ctx,
            &format!(
                "INSERT INTO {JOURNAL_TABLE} (version, direction, name, checksum, statements_done, state, started_at) \
                 VALUES ({}, '{dir}', '{}', '{}', 0, 'in_progress', '{}')",
                run.version,
                run.name,
                run.checksum,
                now()
            ),
        )?;
    } else {
        db.execute_sql(
            ctx,
            &format!(
                "UPDATE {JOURNAL_TABLE} SET checksum = '{}', error = NULL WHERE {key}",
                run.checksum
            ),
        )?;
    }
    // A resumed script runs in a new session: the session settings its
    // committed statements made (a dump's `FOREIGN_KEY_CHECKS=0`, `SET
    // NAMES`, `sql_mode`) are made again, as rerunning the file would.
    for stmt in statements[..from.min(statements.len())]
        .iter()
        .filter(|s| sql::sets_session(s))
    {
        db.execute_sql(&run.label, stmt)?;
    }
    let total = statements.len();
    for (i, stmt) in statements.iter().enumerate().skip(from) {
        if let Err(e) = db.execute_sql(&run.label, stmt) {
            db.restore_session()?;
            let cause = one_line(&strip_context(&e));
            if i == 0 {
                db.execute_sql(ctx, &format!("DELETE FROM {JOURNAL_TABLE} WHERE {key}"))?;
                return Err(schema_error(
                    &run.label,
                    cause,
                    before.to_vec(),
                    Reached::Statements {
                        ran: 0,
                        total,
                        help: None,
                    },
                ));
            }
            db.execute_sql(
                ctx,
                &format!(
                    "UPDATE {JOURNAL_TABLE} SET error = '{}' WHERE {key}",
                    cause.replace('\\', "\\\\").replace('\'', "''")
                ),
            )?;
            let help = format!(
                "statements 1 to {i} of {} ran and are committed (MySQL commits DDL on its own); the journal `{JOURNAL_TABLE}` marks it in progress and every run refuses until it is finished. Fix statement {} in the file (keep statements 1 to {i} as they are), then run again with `--resume` to continue from statement {}; or undo statements 1 to {i} by hand and delete the script's row from `{JOURNAL_TABLE}`",
                run.label,
                i + 1,
                i + 1
            );
            return Err(schema_error(
                &run.label,
                cause,
                before.to_vec(),
                Reached::Statements {
                    ran: i,
                    total,
                    help: Some(help),
                },
            ));
        }
        db.execute_sql(
            ctx,
            &format!(
                "UPDATE {JOURNAL_TABLE} SET statements_done = {} WHERE {key}",
                i + 1
            ),
        )?;
    }
    // The script's session settings end with it, as its own client's
    // session would.
    db.restore_session()?;
    for q in after {
        db.execute_sql("recording the script in refinery_schema_history", q)?;
    }
    db.execute_sql(
        ctx,
        &format!(
            "UPDATE {JOURNAL_TABLE} SET state = 'done', finished_at = '{}' WHERE {key}",
            now()
        ),
    )
}

/// Refuses when the MySQL journal holds an unfinished script, unless
/// `resume` and it runs in the direction being resumed.
pub(super) fn check_journal(
    db: &mut dyn Backend,
    resume: bool,
    down: bool,
) -> Result<Option<Interrupted>> {
    let Some(i) = interrupted(db)? else {
        return Ok(None);
    };
    if resume && i.down == down {
        return Ok(Some(i));
    }
    Err(ScriptError::Interrupted {
        version: i.version,
        name: i.name,
        down: i.down,
        done: i.done,
        error: i.error,
    }
    .into())
}

fn interrupted(db: &mut dyn Backend) -> Result<Option<Interrupted>> {
    if db.transactional_ddl() || !db.has_table(JOURNAL_TABLE)? {
        return Ok(None);
    }
    let rows = db.query_text(
        "reading the schema journal",
        &format!(
            "SELECT version, name, direction, statements_done, error FROM {JOURNAL_TABLE} \
             WHERE state = 'in_progress' ORDER BY started_at LIMIT 1"
        ),
    )?;
    Ok(rows.into_iter().next().map(|r| Interrupted {
        version: int(&r[0]),
        name: r[1].clone().unwrap_or_default(),
        down: r[2].as_deref() == Some("down"),
        done: int(&r[3]) as usize,
        error: r[4].clone(),
    }))
}

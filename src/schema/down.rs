//! `schema down --to N`: the undo scripts of every applied version above
//! `N`, newest first, each with the removal of its bookkeeping rows.

use super::apply::{Reached, in_transaction, one_line, schema_error};
use super::journal::{JournalRun, check_journal, run_journaled};
use super::source::read_script;
use super::store::{delete_checksum, delete_history, read_history};
use super::{HISTORY_TABLE, Planned, Scripts};
use crate::backend::Backend;
use crate::error::{Result, ScriptError};

impl Scripts {
    /// `schema down --to N`: the undo scripts to run, newest first; refuses
    /// (naming each) when one is missing. Changes nothing.
    pub fn plan_down(&self, db: &mut dyn Backend, to: i64) -> Result<Vec<Planned>> {
        if to < 0 {
            return Err(ScriptError::NegativeTarget { to }.into());
        }
        let applied = read_history(db)?;
        let Some(current) = applied.iter().map(|a| a.version).max() else {
            return Err(ScriptError::NothingToUndo.into());
        };
        if to >= current {
            return Err(ScriptError::TargetNotBelow { to, current }.into());
        }
        let mut planned = vec![];
        let mut missing = vec![];
        for a in applied.iter().rev().filter(|a| a.version > to) {
            match self.script(a.version).and_then(|s| s.undo.as_ref()) {
                Some(u) => planned.push(Planned {
                    version: a.version,
                    label: format!("{}.undo", a.label()),
                    path: u.path.clone(),
                    checksum: 0,
                }),
                None => missing.push(format!("{}.undo.sql", a.label())),
            }
        }
        if !missing.is_empty() {
            let folder = self.folder();
            return Err(ScriptError::MissingUndo {
                to,
                missing,
                folder,
            }
            .into());
        }
        for p in &planned {
            read_script(self.undo_sql(p.version), db.dialect(), &p.label)?;
        }
        Ok(planned)
    }

    fn undo_sql(&self, version: i64) -> &str {
        self.script(version)
            .and_then(|s| s.undo.as_ref())
            .map_or("", |u| u.sql.as_str())
    }

    /// Runs the undo scripts of every applied version above `to`, newest
    /// first, each with the removal of its history row: together in one
    /// transaction per script on SQLite and PostgreSQL, under the journal
    /// on MySQL. Returns the undone labels.
    pub fn down(&self, db: &mut dyn Backend, to: i64, resume: bool) -> Result<Vec<String>> {
        let interrupted = check_journal(db, resume, true)?;
        let planned = self.plan_down(db, to)?;
        let mut undone = vec![];
        for p in &planned {
            let undo = self.undo_sql(p.version);
            let forget = [delete_history(p.version), delete_checksum(p.version)];
            if db.transactional_ddl() {
                let mut sqls = vec![read_script(undo, db.dialect(), &p.label)?.text];
                sqls.extend(forget.iter().cloned());
                if let Err((i, e)) = in_transaction(db, &sqls) {
                    let cause = if i == 0 {
                        one_line(&e.to_string())
                    } else {
                        format!("updating {HISTORY_TABLE}: {}", one_line(&e.to_string()))
                    };
                    return Err(schema_error(&p.label, cause, undone, Reached::RolledBack));
                }
            } else {
                let statements = read_script(undo, db.dialect(), &p.label)?.statements;
                let from = match &interrupted {
                    Some(i) if i.version == p.version => i.done,
                    _ => 0,
                };
                let name = self.script(p.version).map_or("", |s| s.name.as_str());
                let ctx = JournalRun {
                    version: p.version,
                    name,
                    label: p.label.clone(),
                    checksum: 0,
                    down: true,
                };
                run_journaled(db, &ctx, &statements, from, &forget, &undone)?;
            }
            undone.push(p.label.clone());
        }
        Ok(undone)
    }
}

//! The history changed without running a script: `schema baseline` marks
//! scripts applied on a database that has none, `schema repair`
//! re-records the checksum of a script edited only in comments and
//! whitespace.

use super::apply::in_transaction;
use super::journal::check_journal;
use super::store::{
    create_tables, delete_checksum, insert_checksum, insert_history, read_checksums, read_history,
};
use super::{HISTORY_TABLE, Scripts, sql};
use crate::backend::Backend;
use crate::error::{Result, ScriptError, Unrepairable};

impl Scripts {
    /// `schema baseline N`: records every script up to `n` as applied
    /// without running it, on a database that has applied none.
    pub fn baseline(&self, db: &mut dyn Backend, n: i64) -> Result<Vec<String>> {
        check_journal(db, false, false)?;
        let applied = read_history(db)?;
        if let Some(v) = applied.iter().map(|a| a.version).max() {
            return Err(ScriptError::BaselineOnApplied { applied: v }.into());
        }
        if self.script(n).is_none() {
            return Err(ScriptError::NoSuchVersion {
                version: n,
                folder: self.folder(),
                known: self.scripts.iter().map(|s| s.version).collect(),
            }
            .into());
        }
        let dialect = db.dialect();
        let mut sqls = create_tables(dialect);
        let mut labels = vec![];
        for s in self.scripts.iter().filter(|s| s.version <= n) {
            sqls.push(insert_history(s.version, &s.name, s.checksum));
            sqls.push(delete_checksum(s.version));
            sqls.push(insert_checksum(
                s.version,
                &sql::normalized_checksum(&s.sql, dialect, &s.label())?,
            ));
            labels.push(s.label());
        }
        if db.transactional_ddl() {
            in_transaction(db, &sqls).map_err(|(_, e)| *e)?;
        } else {
            for q in &sqls {
                db.execute_sql("recording the baseline", q)?;
            }
        }
        Ok(labels)
    }

    /// `schema repair`: re-records the checksum of every applied script
    /// whose file changed only in comments and whitespace (its normalised
    /// checksum equals the one recorded when it was applied). Any other
    /// change refuses the whole repair. Returns the repaired labels.
    pub fn repair(&self, db: &mut dyn Backend) -> Result<Vec<String>> {
        let dialect = db.dialect();
        let applied = read_history(db)?;
        let recorded = read_checksums(db)?;
        let mut fixes = vec![];
        let mut refused = vec![];
        for a in &applied {
            let Some(s) = self.script(a.version) else {
                continue;
            };
            if s.name == a.name && a.checksum.as_deref() == Some(&s.checksum.to_string()) {
                continue;
            }
            let now = sql::normalized_checksum(&s.sql, dialect, &s.label())?;
            let then = recorded
                .iter()
                .find(|(v, _)| *v == a.version)
                .map(|(_, c)| c);
            match then {
                _ if s.name != a.name => refused.push(Unrepairable::Renamed {
                    path: s.path.clone(),
                    applied_as: a.label(),
                }),
                None => refused.push(Unrepairable::NoNormalisedChecksum {
                    path: s.path.clone(),
                }),
                Some(c) if *c != now => refused.push(Unrepairable::Changed {
                    path: s.path.clone(),
                }),
                Some(_) => fixes.push(s),
            }
        }
        if !refused.is_empty() {
            return Err(ScriptError::RepairRefused { refused }.into());
        }
        let sqls: Vec<String> = fixes
            .iter()
            .map(|s| {
                format!(
                    "UPDATE {HISTORY_TABLE} SET checksum = '{}' WHERE version = {}",
                    s.checksum, s.version
                )
            })
            .collect();
        if db.transactional_ddl() {
            in_transaction(db, &sqls).map_err(|(_, e)| *e)?;
        } else {
            for q in &sqls {
                db.execute_sql("re-recording a checksum", q)?;
            }
        }
        Ok(fixes.iter().map(|s| s.label()).collect())
    }
}

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
use crate::error::{Error, Result};

impl Scripts {
    /// `schema baseline N`: records every script up to `n` as applied
    /// without running it, on a database that has applied none.
    pub fn baseline(&self, db: &mut dyn Backend, n: i64) -> Result<Vec<String>> {
        check_journal(db, false, false)?;
        let applied = read_history(db)?;
        if let Some(v) = applied.iter().map(|a| a.version).max() {
            return Err(Error::Mismatch(format!(
                "the database already has applied schema scripts (version {v}): a baseline marks a database that has none\n  = help: `migplan schema status PLAN` lists them"
            )));
        }
        if self.script(n).is_none() {
            let known: Vec<String> = self.scripts.iter().map(|s| s.version.to_string()).collect();
            return Err(Error::Usage(format!(
                "no script has version {n} in {} (versions: {})",
                self.folder(),
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            )));
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
                _ if s.name != a.name => refused.push(format!(
                    "{}: renamed (applied as {})",
                    s.path.display(),
                    a.label()
                )),
                None => refused.push(format!(
                    "{}: no normalised checksum was recorded when it was applied (by refinery or an older migplan), so a change cannot be told from an edit of comments",
                    s.path.display()
                )),
                Some(c) if *c != now => refused.push(format!(
                    "{}: changed beyond whitespace and comments",
                    s.path.display()
                )),
                Some(_) => fixes.push(s),
            }
        }
        if !refused.is_empty() {
            return Err(Error::Mismatch(format!(
                "cannot repair; nothing was changed:\n  - {}\n  = help: restore the file as it was applied (e.g. `git checkout -- FILE`), or write a new script for the change: `migplan schema new PLAN NAME`",
                refused.join("\n  - ")
            )));
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

//! What a database has applied against the scripts of the folder: the
//! status `schema status` shows, and refinery's checks before anything is
//! applied (every applied script unchanged, none pending below the
//! database's version).

use super::store::{Applied, read_history};
use super::{Script, ScriptStatus, Scripts, Status};
use crate::backend::Backend;
use crate::error::{Disagreement, Result, ScriptError};

impl Scripts {
    /// What the database has applied and what is still pending (up to `target`).
    /// Reads only: a database without refinery's table has applied nothing.
    pub fn status(&self, db: &mut dyn Backend, target: Option<i64>) -> Result<Status> {
        let applied = read_history(db)?;
        let pending = self
            .scripts
            .iter()
            .filter(|s| !applied.iter().any(|a| a.version == s.version))
            .filter(|s| target.is_none_or(|t| s.version <= t))
            .map(|s| ScriptStatus {
                version: s.version,
                name: s.name.clone(),
                applied_on: None,
                changed: false,
            })
            .collect();
        let applied = applied
            .iter()
            .map(|a| ScriptStatus {
                version: a.version,
                name: a.name.clone(),
                applied_on: a.applied_on.clone(),
                changed: self.script(a.version).is_some_and(|s| {
                    s.name != a.name || a.checksum.as_deref() != Some(&s.checksum.to_string())
                }),
            })
            .collect();
        Ok(Status { applied, pending })
    }

    /// refinery's checks before applying: every applied script still has
    /// its file, unchanged, and no pending script is older than the
    /// database's version. Returns the pending scripts up to `target`.
    pub(super) fn verify(&self, applied: &[Applied], target: Option<i64>) -> Result<Vec<&Script>> {
        let mut problems = vec![];
        for a in applied {
            match self.script(a.version) {
                None => problems.push(Disagreement::FileMissing {
                    label: a.label(),
                    folder: self.folder(),
                }),
                Some(s)
                    if s.name != a.name
                        || a.checksum.as_deref() != Some(&s.checksum.to_string()) =>
                {
                    problems.push(Disagreement::Changed {
                        path: s.path.clone(),
                    })
                }
                Some(_) => {}
            }
        }
        let current = applied.iter().map(|a| a.version).max();
        let pending: Vec<&Script> = self
            .scripts
            .iter()
            .filter(|s| !applied.iter().any(|a| a.version == s.version))
            .filter(|s| target.is_none_or(|t| s.version <= t))
            .collect();
        for s in &pending {
            if let Some(current) = current.filter(|c| s.version < *c) {
                problems.push(Disagreement::NeverApplied {
                    label: s.label(),
                    current,
                });
            }
        }
        if problems.is_empty() {
            return Ok(pending);
        }
        Err(ScriptError::HistoryDisagrees { problems }.into())
    }
}

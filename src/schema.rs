//! The schema phase: versioned refinery scripts (`V{n}__{name}.sql`) loaded
//! from the plan's migrations folder and applied before any data moves.

use std::path::Path;

use refinery::{Migration, Runner, Target};
use serde::Serialize;

use crate::backend::Backend;
use crate::error::{Error, Result};

const HISTORY_TABLE: &str = "refinery_schema_history";

/// The scripts of a migrations folder, ordered by version.
pub struct Scripts {
    migrations: Vec<Migration>,
}

/// One script and whether the database has it.
#[derive(Debug, Clone, Serialize)]
pub struct ScriptStatus {
    pub version: i64,
    pub name: String,
    /// When it was applied (RFC 3339), `None` while pending.
    pub applied_on: Option<String>,
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

impl Scripts {
    /// Loads every `V{n}__{name}.sql` of `dir`.
    pub fn load(dir: &Path) -> Result<Scripts> {
        if !dir.is_dir() {
            return Err(Error::Mismatch(format!(
                "migrations folder `{}` does not exist\n  = help: fix `[schema] migrations` in the plan, or create the folder with scripts named V1__init.sql, V2__…",
                dir.display()
            )));
        }
        let migrations = refinery::load_sql_migrations(dir)
            .map_err(|e| Error::Mismatch(format!("{}: {e}", dir.display())))?;
        Ok(Scripts { migrations })
    }

    /// No scripts: databases whose plan has no `[schema]` folder.
    pub fn none() -> Scripts {
        Scripts { migrations: vec![] }
    }

    fn runner(&self, target: Option<i64>) -> Runner {
        let target = match target {
            Some(v) => Target::Version(v as _),
            None => Target::Latest,
        };
        Runner::new(&self.migrations)
            .set_target(target)
            .set_abort_divergent(true)
            .set_abort_missing(true)
    }

    /// What the database has applied and what is still pending (up to `target`).
    /// Reads only: a database without refinery's table has applied nothing.
    pub fn status(&self, db: &mut dyn Backend, target: Option<i64>) -> Result<Status> {
        let applied: Vec<Migration> = if db.has_table(HISTORY_TABLE)? {
            db.applied_migrations(&self.runner(target))
                .map_err(|e| Error::db("reading applied schema scripts", e))?
        } else {
            vec![]
        };
        let is_applied = |m: &Migration| applied.iter().any(|a| a.version() == m.version());
        let pending = self
            .migrations
            .iter()
            .filter(|m| !is_applied(m))
            .filter(|m| target.is_none_or(|t| i64::from(m.version()) <= t))
            .map(script_status)
            .collect();
        Ok(Status {
            applied: applied.iter().map(script_status).collect(),
            pending,
        })
    }

    /// Applies pending scripts; returns their labels. A failing script stops
    /// the run; the error names it and the scripts applied before it (none,
    /// where the engine applies the whole list in one transaction).
    pub fn apply(&self, db: &mut dyn Backend, target: Option<i64>) -> Result<Vec<String>> {
        let pending = self.status(db, target)?.pending;
        // All scripts in one transaction where the engine's DDL is
        // transactional; else each on its own.
        let runner = self.runner(target).set_grouped(db.transactional_ddl());
        let e = match db.migrate(runner) {
            Ok(report) => return Ok(report.applied_migrations().iter().map(label).collect()),
            Err(e) => e,
        };
        if db.transactional_ddl() {
            let sqls: Vec<&str> = pending
                .iter()
                .filter_map(|p| self.script(p.version))
                .collect();
            let (failed, message) = match db.probe_scripts(&sqls)? {
                Some((i, msg)) => (pending.get(i).map(ScriptStatus::label), msg),
                None => (None, e.to_string()),
            };
            return Err(Error::Schema {
                message: describe_failure(failed.as_deref(), &message),
                applied: vec![],
            });
        }
        let applied: Vec<String> = e
            .report()
            .map(|r| r.applied_migrations().iter().map(label).collect())
            .unwrap_or_default();
        // refinery stops at the first failing script: the next pending one.
        let failed = pending.get(applied.len()).map(ScriptStatus::label);
        Err(Error::Schema {
            message: describe_failure(failed.as_deref(), &e.to_string()),
            applied,
        })
    }

    fn script(&self, version: i64) -> Option<&str> {
        self.migrations
            .iter()
            .find(|m| i64::from(m.version()) == version)
            .and_then(|m| m.sql())
    }
}

/// `script V2__x failed: <driver message>`, on one line: refinery's message
/// repeats the whole script, which buries the cause.
fn describe_failure(script: Option<&str>, message: &str) -> String {
    let message: String = message
        .replace("`error applying update`, ", "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    match script {
        Some(s) => format!("script {s} failed: {message}"),
        None => message,
    }
}

fn label(m: &Migration) -> String {
    format!("V{}__{}", m.version(), m.name())
}

fn script_status(m: &Migration) -> ScriptStatus {
    ScriptStatus {
        version: i64::from(m.version()),
        name: m.name().to_string(),
        applied_on: m.applied_on().map(|t| t.to_string()),
    }
}

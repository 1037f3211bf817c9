//! The schema phase: versioned scripts (`V{n}__{name}.sql`, refinery's
//! naming) loaded from the plan's migrations folder and applied before any
//! data moves, with their undo twins (`V{n}__{name}.undo.sql`, a name
//! refinery's loader ignores).
//!
//! migplan runs the scripts itself and keeps refinery's history table
//! (`refinery_schema_history`: version, name, applied_on, checksum) in
//! refinery's exact format, so refinery and `schema status` read it alike:
//!
//! - on SQLite and PostgreSQL every pending script, its history row and its
//!   normalised checksum commit in one transaction (all or nothing);
//! - on MySQL/MariaDB, whose DDL commits on its own, each script runs one
//!   statement at a time under a journal (`migplan_schema_journal`), so an
//!   interrupted script is found, refused with guidance and resumable.
//!
//! `migplan_schema_checksums` records each applied script's normalised
//! checksum (comments and whitespace ignored): `schema repair` re-records a
//! checksum only when that normalised form is unchanged.
//! See docs/schema.md.

pub mod sql;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::backend::{Backend, Dialect};
use crate::error::{Error, Result};

pub const HISTORY_TABLE: &str = "refinery_schema_history";
pub const CHECKSUMS_TABLE: &str = "migplan_schema_checksums";
pub const JOURNAL_TABLE: &str = "migplan_schema_journal";

/// Where `migplan rollback` is pointed to when scripts cannot be undone.
const ROLLBACK_HELP: &str = "without undo scripts, restore the backup taken automatically before the run that applied them: `migplan rollback RUN_ID`";

/// One versioned script of the folder, with its undo twin if any.
#[derive(Debug, Clone)]
pub struct Script {
    pub version: i64,
    pub name: String,
    pub path: PathBuf,
    sql: String,
    /// refinery's checksum (SipHash 1-3 of name, version and text).
    pub checksum: u64,
    pub undo: Option<Undo>,
}

#[derive(Debug, Clone)]
pub struct Undo {
    pub path: PathBuf,
    sql: String,
}

impl Script {
    pub fn label(&self) -> String {
        format!("V{}__{}", self.version, self.name)
    }
}

/// The scripts of a migrations folder, ordered by version.
pub struct Scripts {
    dir: Option<PathBuf>,
    scripts: Vec<Script>,
}

/// One script and whether the database has it.
#[derive(Debug, Clone, Serialize)]
pub struct ScriptStatus {
    pub version: i64,
    pub name: String,
    /// When it was applied (RFC 3339), `None` while pending.
    pub applied_on: Option<String>,
    /// Applied, but the file's checksum differs from the recorded one.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub changed: bool,
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

/// A script a dry run would run: `schema up --dry-run`, `run --dry-run`,
/// `schema down --dry-run` (then `path` is the undo script).
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    pub version: i64,
    pub label: String,
    pub path: PathBuf,
    pub checksum: u64,
}

/// A row of refinery's history table.
#[derive(Debug, Clone)]
struct Applied {
    version: i64,
    name: String,
    applied_on: Option<String>,
    checksum: Option<String>,
}

impl Applied {
    fn label(&self) -> String {
        format!("V{}__{}", self.version, self.name)
    }
}

/// An unfinished script of the MySQL journal.
#[derive(Debug, Clone)]
struct Interrupted {
    version: i64,
    name: String,
    down: bool,
    done: usize,
    error: Option<String>,
}

/// A file name `V{n}__{name}.sql` or `V{n}__{name}.undo.sql` (refinery's
/// `\w+` for the name); `None` for anything else.
fn parse_file_name(file: &str) -> Option<(i64, String, bool)> {
    let (stem, undo) = match file.strip_suffix(".undo.sql") {
        Some(s) => (s, true),
        None => (file.strip_suffix(".sql")?, false),
    };
    let rest = stem.strip_prefix('V').or_else(|| stem.strip_prefix('U'))?;
    let (num, name) = rest.split_once("__")?;
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit()) || !is_word(name) {
        return None;
    }
    Some((num.parse().ok()?, name.to_string(), undo))
}

/// refinery's `\w+`: letters, digits and `_`.
pub fn is_word(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// Every file under `dir`, recursively (refinery walks subfolders too).
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_dir() {
            files_under(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

impl Scripts {
    /// Loads every `V{n}__{name}.sql` of `dir` (through refinery's loader,
    /// so both agree on names and checksums) and the undo scripts beside
    /// them. An undo script without its versioned twin is an error.
    pub fn load(dir: &Path) -> Result<Scripts> {
        if !dir.is_dir() {
            return Err(Error::Mismatch(format!(
                "migrations folder `{}` does not exist\n  = help: fix `[schema] migrations` in the plan, or create the folder with scripts named V1__init.sql, V2__…",
                dir.display()
            )));
        }
        let migrations = refinery::load_sql_migrations(dir)
            .map_err(|e| Error::Mismatch(format!("{}: {e}", dir.display())))?;
        let mut files = vec![];
        files_under(dir, &mut files)?;
        files.sort();
        let mut scripts: Vec<Script> = vec![];
        for m in &migrations {
            let version = i64::from(m.version());
            let path = files
                .iter()
                .find(|p| {
                    p.file_name()
                        .and_then(|f| f.to_str())
                        .and_then(parse_file_name)
                        .is_some_and(|(v, n, undo)| !undo && v == version && n == m.name())
                })
                .cloned()
                .unwrap_or_else(|| dir.join(format!("V{version}__{}.sql", m.name())));
            if let Some(other) = scripts.iter().find(|s| s.version == version) {
                return Err(Error::Mismatch(format!(
                    "{} and {} share version {version}: every script needs its own number",
                    other.path.display(),
                    path.display()
                )));
            }
            scripts.push(Script {
                version,
                name: m.name().to_string(),
                path,
                sql: m.sql().unwrap_or_default().to_string(),
                checksum: m.checksum(),
                undo: None,
            });
        }
        let mut orphans = vec![];
        for p in &files {
            let Some((version, name, true)) = p
                .file_name()
                .and_then(|f| f.to_str())
                .and_then(parse_file_name)
            else {
                continue;
            };
            match scripts
                .iter_mut()
                .find(|s| s.version == version && s.name == name)
            {
                Some(s) => {
                    let sql = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
                    s.undo = Some(Undo {
                        path: p.clone(),
                        sql,
                    });
                }
                None => orphans.push(format!(
                    "{} (no V{version}__{name}.sql beside it)",
                    p.display()
                )),
            }
        }
        if !orphans.is_empty() {
            return Err(Error::Mismatch(format!(
                "undo script(s) without their versioned script: {}\n  = help: an undo script `V{{n}}__{{name}}.undo.sql` undoes `V{{n}}__{{name}}.sql`: rename it to match, or delete it",
                orphans.join(", ")
            )));
        }
        scripts.sort_by_key(|s| s.version);
        Ok(Scripts {
            dir: Some(dir.to_path_buf()),
            scripts,
        })
    }

    /// No scripts: databases whose plan has no `[schema]` folder.
    pub fn none() -> Scripts {
        Scripts {
            dir: None,
            scripts: vec![],
        }
    }

    pub fn scripts(&self) -> &[Script] {
        &self.scripts
    }

    fn script(&self, version: i64) -> Option<&Script> {
        self.scripts.iter().find(|s| s.version == version)
    }

    fn folder(&self) -> String {
        self.dir
            .as_ref()
            .map_or("the migrations folder".into(), |d| d.display().to_string())
    }

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
    fn verify(&self, applied: &[Applied], target: Option<i64>) -> Result<Vec<&Script>> {
        let mut problems = vec![];
        for a in applied {
            match self.script(a.version) {
                None => problems.push(format!(
                    "{} is applied but its file is missing from {}",
                    a.label(),
                    self.folder()
                )),
                Some(s)
                    if s.name != a.name
                        || a.checksum.as_deref() != Some(&s.checksum.to_string()) =>
                {
                    problems.push(format!(
                        "{} was changed after it was applied (its checksum differs from the recorded one)",
                        s.path.display()
                    ))
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
            if current.is_some_and(|c| s.version < c) {
                problems.push(format!(
                    "{} is older than the database's schema version {} but was never applied",
                    s.label(),
                    current.unwrap_or_default()
                ));
            }
        }
        if problems.is_empty() {
            return Ok(pending);
        }
        Err(Error::Mismatch(format!(
            "the schema scripts and the database's history disagree:\n  - {}\n  = help: restore the scripts as they were applied; if only whitespace or comments changed, `migplan schema repair PLAN` re-records them; to change the schema, add a script with `migplan schema new PLAN NAME`",
            problems.join("\n  - ")
        )))
    }

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
            return Err(Error::Mismatch(format!(
                "the journal's interrupted script V{}__{} is no longer pending: its file is gone or the target stops before it\n  = help: restore the script, or finish it by hand and delete its row from `{JOURNAL_TABLE}`",
                i.version, i.name
            )));
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

    /// `schema down --to N`: the undo scripts to run, newest first; refuses
    /// (naming each) when one is missing. Changes nothing.
    pub fn plan_down(&self, db: &mut dyn Backend, to: i64) -> Result<Vec<Planned>> {
        if to < 0 {
            return Err(Error::Usage(format!(
                "`--to {to}`: the version must be 0 (undo every script) or more"
            )));
        }
        let applied = read_history(db)?;
        let Some(current) = applied.iter().map(|a| a.version).max() else {
            return Err(Error::Usage(
                "the database has no applied schema script: nothing to undo".into(),
            ));
        };
        if to >= current {
            return Err(Error::Usage(format!(
                "`--to {to}` is not below the database's schema version {current}: `schema down` only goes back"
            )));
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
            return Err(Error::Mismatch(format!(
                "cannot go down to version {to}: no undo script for {} in {}; nothing was changed\n  = help: write the missing undo script(s) beside their versioned twins, or {ROLLBACK_HELP}",
                missing.join(", "),
                self.folder()
            )));
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

/// A script about to run (or be listed by a dry run), read into
/// statements; refused when it names the bookkeeping tables, as a dump of a
/// database migplan manages does: running it would drop or recreate the
/// history and journal the run is writing.
fn read_script(text: &str, dialect: &Dialect, label: &str) -> Result<sql::Scanned> {
    let scanned = sql::scan(text, dialect, label)?;
    let switch = dialect
        .scripts
        .database_switch
        .then(|| {
            scanned
                .statements
                .iter()
                .position(|s| sql::switches_database(s))
        })
        .flatten();
    if let Some(n) = switch {
        let code = scanned.statements[n]
            .lines()
            .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
            .unwrap_or_default()
            .trim();
        return Err(Error::Mismatch(format!(
            "{label}, statement {}: `{code}` switches to, creates or drops a database: a plan's scripts change the plan's database only; nothing was run\n  = help: dump one database without `--databases`/`--all-databases` (`mysqldump --no-data DB`), or delete the CREATE DATABASE and USE lines",
            n + 1
        )));
    }
    let named = scanned.bookkeeping_named();
    if named.is_empty() {
        return Ok(scanned);
    }
    let list: Vec<String> = named.iter().map(|t| format!("`{t}`")).collect();
    Err(Error::Mismatch(format!(
        "{label} names {}, kept by migplan and refinery: a script must not create, change or drop them (a dump of a database migplan manages holds them); nothing was run\n  = help: dump without them (`mysqldump --ignore-table=DB.TABLE` for each, `pg_dump -T refinery_schema_history -T 'migplan_*'`), or delete their statements from the script",
        list.join(", ")
    )))
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
fn in_transaction(
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

/// One script run under the MySQL journal.
struct JournalRun<'a> {
    version: i64,
    name: &'a str,
    label: String,
    checksum: u64,
    down: bool,
}

/// Runs `statements[from..]` one by one, recording each in the journal,
/// then `after` (history bookkeeping) and marks the script done. A failure
/// at the script's first statement leaves no trace in the journal (nothing
/// of it ran); a later one leaves it in progress for `--resume`.
fn run_journaled(
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
fn check_journal(db: &mut dyn Backend, resume: bool, down: bool) -> Result<Option<Interrupted>> {
    let Some(i) = interrupted(db)? else {
        return Ok(None);
    };
    let (what, command) = if i.down {
        (
            format!("undo script V{}__{}.undo.sql", i.version, i.name),
            "`migplan schema down PLAN --to N --resume`",
        )
    } else {
        (
            format!("script V{}__{}", i.version, i.name),
            "`migplan schema up PLAN --resume` (or `migplan run PLAN --resume`)",
        )
    };
    if resume && i.down == down {
        return Ok(Some(i));
    }
    let error = i
        .error
        .as_deref()
        .map(|e| format!(" It failed with: {e}."))
        .unwrap_or_default();
    Err(Error::Mismatch(format!(
        "an earlier schema run was interrupted: {what} stopped after {} statement(s) (recorded in `{JOURNAL_TABLE}`).{error} MySQL/MariaDB committed those statements, so the schema is between two versions\n  = help: check that those {} statement(s) took effect (`SHOW CREATE TABLE …`), fix the script's next statement if it failed, then continue with {command}; or undo them by hand and delete the row from `{JOURNAL_TABLE}`",
        i.done, i.done
    )))
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

fn int(v: &Option<String>) -> i64 {
    v.as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or_default()
}

fn read_history(db: &mut dyn Backend) -> Result<Vec<Applied>> {
    if !db.has_table(HISTORY_TABLE)? {
        return Ok(vec![]);
    }
    let rows = db.query_text(
        "reading applied schema scripts",
        &format!(
            "SELECT version, name, applied_on, checksum FROM {HISTORY_TABLE} ORDER BY version"
        ),
    )?;
    Ok(rows
        .into_iter()
        .map(|r| Applied {
            version: int(&r[0]),
            name: r[1].clone().unwrap_or_default(),
            applied_on: r[2].clone(),
            checksum: r[3].clone(),
        })
        .collect())
}

fn read_checksums(db: &mut dyn Backend) -> Result<Vec<(i64, String)>> {
    if !db.has_table(CHECKSUMS_TABLE)? {
        return Ok(vec![]);
    }
    let rows = db.query_text(
        "reading normalised schema checksums",
        &format!("SELECT version, normalized_checksum FROM {CHECKSUMS_TABLE}"),
    )?;
    Ok(rows
        .into_iter()
        .map(|r| (int(&r[0]), r[1].clone().unwrap_or_default()))
        .collect())
}

/// The bookkeeping tables: refinery's history exactly as refinery creates
/// it, the normalised checksums, and where DDL is not transactional
/// (MySQL) the journal.
fn create_tables(dialect: &Dialect) -> Vec<String> {
    let mut sqls = vec![
        format!(
            "CREATE TABLE IF NOT EXISTS {HISTORY_TABLE}(
             version int4 PRIMARY KEY,
             name VARCHAR(255),
             applied_on VARCHAR(255),
             checksum VARCHAR(255))"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {CHECKSUMS_TABLE}(version int4 PRIMARY KEY, normalized_checksum VARCHAR(64) NOT NULL)"
        ),
    ];
    if !dialect.transactional_ddl {
        sqls.push(format!(
            "CREATE TABLE IF NOT EXISTS {JOURNAL_TABLE}(
             version INT NOT NULL,
             direction VARCHAR(4) NOT NULL,
             name VARCHAR(255) NOT NULL,
             checksum VARCHAR(255) NOT NULL,
             statements_done INT NOT NULL,
             state VARCHAR(16) NOT NULL,
             started_at VARCHAR(64) NOT NULL,
             finished_at VARCHAR(64),
             error TEXT,
             PRIMARY KEY (version, direction))"
        ));
    }
    sqls
}

fn ensure_tables(db: &mut dyn Backend) -> Result<()> {
    for q in create_tables(db.dialect()) {
        db.execute_sql("creating the schema bookkeeping tables", &q)?;
    }
    Ok(())
}

/// refinery's own insert (its names are `\w+`, so a literal is safe).
fn insert_history(version: i64, name: &str, checksum: u64) -> String {
    format!(
        "INSERT INTO {HISTORY_TABLE} (version, name, applied_on, checksum) VALUES ({version}, '{name}', '{}', '{checksum}')",
        now()
    )
}

fn delete_history(version: i64) -> String {
    format!("DELETE FROM {HISTORY_TABLE} WHERE version = {version}")
}

fn insert_checksum(version: i64, normalized: &str) -> String {
    format!(
        "INSERT INTO {CHECKSUMS_TABLE} (version, normalized_checksum) VALUES ({version}, '{normalized}')"
    )
}

fn delete_checksum(version: i64) -> String {
    format!("DELETE FROM {CHECKSUMS_TABLE} WHERE version = {version}")
}

/// RFC 3339 in UTC, as refinery writes `applied_on`.
fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// The driver's message without migplan's context prefix.
fn strip_context(e: &Error) -> String {
    match e {
        Error::Database { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// On one line: a driver's message may repeat the whole script.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// How far a failed script got.
enum Reached {
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
fn schema_error(label: &str, cause: String, applied: Vec<String>, reached: Reached) -> Error {
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

/// `schema new`: the next number over every folder (1 + the highest
/// version found in any), checked free in all of them first.
pub fn new_script(dirs: &[PathBuf], name: &str) -> Result<Vec<PathBuf>> {
    if !is_word(name) {
        return Err(Error::Usage(format!(
            "`{name}` cannot name a script: use letters, digits and `_` only (refinery's rule), e.g. add_email"
        )));
    }
    let mut highest = 0;
    for dir in dirs {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut files = vec![];
        files_under(dir, &mut files)?;
        for f in files {
            if let Some((v, _, _)) = f
                .file_name()
                .and_then(|f| f.to_str())
                .and_then(parse_file_name)
            {
                highest = highest.max(v);
            }
        }
    }
    let n = highest + 1;
    let label = format!("V{n}__{name}");
    let mut created = vec![];
    let pairs: Vec<(PathBuf, String)> = dirs
        .iter()
        .flat_map(|d| {
            [
                (
                    d.join(format!("{label}.sql")),
                    format!(
                        "-- {label}: describe the change here.\n-- Applied once, in version order, by `migplan schema up` and `migplan run`;\n-- recorded in refinery_schema_history. Once applied, do not edit it\n-- (comments and whitespace aside: `migplan schema repair`): add a new script.\n\n"
                    ),
                ),
                (
                    d.join(format!("{label}.undo.sql")),
                    format!(
                        "-- Undoes {label}.sql (run by `migplan schema down --to {}`):\n-- reverse each of its changes, last change first.\n\n",
                        n - 1
                    ),
                ),
            ]
        })
        .collect();
    if let Some((p, _)) = pairs.iter().find(|(p, _)| p.exists()) {
        return Err(Error::Mismatch(format!(
            "{} already exists: nothing was created",
            p.display()
        )));
    }
    for (path, text) in pairs {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        std::io::Write::write_all(&mut f, text.as_bytes()).map_err(|e| Error::io(&path, e))?;
        created.push(path);
    }
    Ok(created)
}

/// `would apply V2__x  (version 2, checksum …, path)` lines of a dry run.
pub fn render_planned(verb: &str, planned: &[Planned]) -> String {
    let mut out = String::new();
    for p in planned {
        let _ = writeln!(
            out,
            "{verb} {:<40} {}{}",
            p.label,
            p.path.display(),
            if p.checksum == 0 {
                String::new()
            } else {
                format!("  checksum {}", p.checksum)
            }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_refinery() {
        assert_eq!(
            parse_file_name("V2__add_x.sql"),
            Some((2, "add_x".into(), false))
        );
        assert_eq!(
            parse_file_name("V2__add_x.undo.sql"),
            Some((2, "add_x".into(), true))
        );
        assert_eq!(parse_file_name("V2_add.sql"), None);
        assert_eq!(parse_file_name("V2__a-b.sql"), None);
        assert_eq!(parse_file_name("README.md"), None);
    }
}

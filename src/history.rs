//! The run history and the run lock.
//!
//! Every run that can change a database is recorded in that database, in
//! `migplan_history` beside refinery's table: who ran which plan and why,
//! when, with what outcome. The row is written (and committed) before the
//! work starts and completed after it ends, so a run that dies leaves a
//! `running` row; whoever finds the lock free knows that no run is under
//! way: `history` and `status` show the row `interrupted` at once, and the
//! next run records it so. An import's outcome is also written inside the
//! import's own transaction ([`committed`]), so a process killed between
//! its commit and its last history write is still recorded as succeeded.
//!
//! One run at a time per database: the lock belongs to the connection
//! (PostgreSQL advisory lock, MySQL `GET_LOCK`, an OS file lock beside a
//! SQLite file), so the server or the kernel frees it when a process dies.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::backend::{Backend, BookkeepingTypes};
use crate::error::{Error, HistoryError, Result};
use crate::value::Value;

pub const TABLE: &str = "migplan_history";

/// The kind of a run that took a backup on demand and changed nothing:
/// never a later run that a rollback would undo.
pub const BACKUP_KIND: &str = "backup";

/// Seconds a run waits for another to release the lock, by default.
pub const DEFAULT_LOCK_TIMEOUT: u64 = 60;

/// How often a waiting run tries the lock again.
const LOCK_POLL: Duration = Duration::from_millis(200);

/// Why the next run marks a `running` row interrupted.
const DIED: &str =
    "the run ended without recording an outcome (the process was killed or lost its connection)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Running,
    Succeeded,
    Failed,
    /// Recorded as running by a process that is gone (no one holds the
    /// lock): killed, or its connection lost, before it recorded an outcome.
    Interrupted,
    RolledBack,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Interrupted => "interrupted",
            Status::RolledBack => "rolled back",
        }
    }

    fn parse(s: &str) -> Status {
        match s {
            "running" => Status::Running,
            "succeeded" => Status::Succeeded,
            "interrupted" => Status::Interrupted,
            "rolled back" => Status::RolledBack,
            _ => Status::Failed,
        }
    }
}

/// One recorded run.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub id: i64,
    pub plan: String,
    pub plan_sha256: Option<String>,
    pub kind: String,
    pub operator: String,
    pub message: Option<String>,
    pub notes: Vec<String>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub status: Status,
    pub schema_before: Option<i64>,
    pub schema_after: Option<i64>,
    /// Rows per table and outcome, as the run reported them.
    pub tables: serde_json::Value,
    /// The backup taken before the run changed anything.
    pub backup: Option<String>,
    pub error: Option<String>,
}

/// What is known when a run starts.
#[derive(Debug, Clone)]
pub struct Start {
    pub plan: String,
    pub plan_sha256: Option<String>,
    pub kind: String,
    pub operator: String,
    pub message: Option<String>,
    pub notes: Vec<String>,
    pub schema_before: Option<i64>,
}

/// What is known when a run ends.
#[derive(Debug, Clone, Default)]
pub struct End {
    /// The run's id, when it is recorded (set before the work starts).
    pub run_id: Option<i64>,
    pub schema_after: Option<i64>,
    pub tables: Option<serde_json::Value>,
    pub backup: Option<String>,
    /// For a rollback: the run it undid (marked rolled back in the
    /// restore's own transaction), for those told of the run's end.
    pub undoes: Option<i64>,
}

const COLUMNS: &str = "id, plan, plan_sha256, kind, operator, message, notes, started_at, ended_at, \
                       status, schema_before, schema_after, tables, backup, error";

/// Creates the history table when it does not exist.
pub fn ensure(db: &mut dyn Backend) -> Result<()> {
    if db.has_table(TABLE)? {
        return Ok(());
    }
    let BookkeepingTypes {
        int,
        text,
        long_text: long,
        table_options: tail,
    } = db.dialect().bookkeeping;
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {TABLE} (id {int} PRIMARY KEY, plan {text} NOT NULL, \
         plan_sha256 {text}, kind {text} NOT NULL, operator {text} NOT NULL, message {long}, \
         notes {long}, started_at {text} NOT NULL, ended_at {text}, status {text} NOT NULL, \
         schema_before {int}, schema_after {int}, tables {long}, backup {long}, error {long}){tail}"
    );
    db.meta_exec(&sql, &[])
}

/// Takes the run lock, waiting up to `timeout`; on timeout the error names
/// the run that holds it.
pub fn lock(db: &mut dyn Backend, timeout: Duration) -> Result<()> {
    let started = Instant::now();
    loop {
        if db.try_lock()? {
            return Ok(());
        }
        if started.elapsed() >= timeout {
            return Err(busy(db, timeout));
        }
        std::thread::sleep(LOCK_POLL);
    }
}

fn busy(db: &mut dyn Backend, waited: Duration) -> Error {
    let holder = holder(db);
    let waited_secs = waited.as_secs();
    HistoryError::LockHeld {
        holder,
        waited_secs,
    }
    .into()
}

/// Who holds the run lock, for people: what the holder wrote beside the
/// database, else its `running` row, else that it has not recorded itself.
pub fn holder(db: &mut dyn Backend) -> String {
    if let Some(d) = db.lock_description() {
        return d;
    }
    running(db).ok().flatten().map_or_else(
        || "another migplan run (not recorded yet)".to_string(),
        |r| describe(r.id, &r.kind, &r.plan, &r.operator, &r.started_at),
    )
}

fn describe(id: i64, kind: &str, plan: &str, operator: &str, started: &str) -> String {
    format!("run {id} ({kind}, plan `{plan}`) by {operator}, started {started}")
}

/// An error from a database that another run keeps readers out of (SQLite
/// during a large write) becomes one naming that run; others stay as they are.
pub fn explain_busy(db: &mut dyn Backend, e: Error) -> Error {
    if !matches!(e, Error::Database { .. }) {
        return e;
    }
    match db.try_lock() {
        Ok(true) => {
            let _ = db.unlock();
            e
        }
        Ok(false) => HistoryError::Busy {
            holder: holder(db),
            cause: e.to_string(),
        }
        .into(),
        Err(_) => e,
    }
}

/// Records the start of a run (the lock is held); returns its id. Runs
/// left `running` by a process that died are marked interrupted first.
pub fn start(db: &mut dyn Backend, s: &Start) -> Result<i64> {
    ensure(db)?;
    db.meta_exec(
        &format!("UPDATE {TABLE} SET status = ?, ended_at = ?, error = ? WHERE status = ?"),
        &[
            text(Status::Interrupted.as_str()),
            text(&now()),
            text(DIED),
            text(Status::Running.as_str()),
        ],
    )?;
    let next = db.meta_query(
        &format!("SELECT COALESCE(MAX(id), 0) + 1 FROM {TABLE}"),
        &[],
    )?;
    let id = match next.first().and_then(|r| r.first()) {
        Some(Value::Int(n)) => *n,
        _ => 1,
    };
    let notes = serde_json::to_string(&s.notes).expect("strings serialise");
    let started = now();
    db.meta_exec(
        &format!(
            "INSERT INTO {TABLE} (id, plan, plan_sha256, kind, operator, message, notes, started_at, status, schema_before) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ),
        &[
            Value::Int(id),
            text(&s.plan),
            opt_text(s.plan_sha256.as_deref()),
            text(&s.kind),
            text(&s.operator),
            opt_text(s.message.as_deref()),
            text(&notes),
            text(&started),
            text(Status::Running.as_str()),
            s.schema_before.map_or(Value::Null, Value::Int),
        ],
    )?;
    let who = describe(id, &s.kind, &s.plan, &s.operator, &started);
    db.describe_lock(&format!("{who}, pid {}", std::process::id()))?;
    Ok(id)
}

/// Records how a run ended: `error` is the failed run's message. Returns
/// the status recorded.
pub fn finish(db: &mut dyn Backend, id: i64, end: &End, error: Option<&str>) -> Result<Status> {
    let status = match error {
        None => Status::Succeeded,
        // Its data committed with its outcome ([`committed`]): what failed
        // after the commit is recorded, and the run stays what it is.
        Some(_) if get(db, id)?.is_some_and(|r| r.status == Status::Succeeded) => Status::Succeeded,
        Some(_) => Status::Failed,
    };
    set_end(db, id, status, end, opt_text(error))?;
    Ok(status)
}

/// Records where the run's backup before change is, as soon as it exists:
/// a run that dies at any later point can still be rolled back.
pub fn set_backup(db: &mut dyn Backend, id: i64, backup: &str) -> Result<()> {
    db.meta_exec(
        &format!("UPDATE {TABLE} SET backup = ? WHERE id = ?"),
        &[text(backup), Value::Int(id)],
    )
}

/// Called inside an import's transaction just before it commits: the run's
/// outcome commits with its data, so the history agrees with the database
/// even when the process dies between the commit and [`finish`].
pub fn committed(
    db: &mut dyn Backend,
    id: i64,
    schema_after: Option<i64>,
    tables: &serde_json::Value,
) -> Result<()> {
    db.meta_exec(
        &format!(
            "UPDATE {TABLE} SET status = ?, ended_at = ?, schema_after = ?, tables = ? WHERE id = ?"
        ),
        &[
            text(Status::Succeeded.as_str()),
            text(&now()),
            schema_after.map_or(Value::Null, Value::Int),
            text(&tables.to_string()),
            Value::Int(id),
        ],
    )
}

/// Runs recorded as `running` are shown `interrupted` when no one holds
/// the run lock: the process that wrote them is gone.
pub fn show_interrupted(runs: &mut [Run], lock_free: bool) {
    if lock_free {
        for r in runs.iter_mut().filter(|r| r.status == Status::Running) {
            r.status = Status::Interrupted;
        }
    }
}

/// Marks a run rolled back (by `migplan rollback`).
pub fn mark_rolled_back(db: &mut dyn Backend, id: i64) -> Result<()> {
    db.meta_exec(
        &format!("UPDATE {TABLE} SET status = ? WHERE id = ?"),
        &[text(Status::RolledBack.as_str()), Value::Int(id)],
    )
}

fn set_end(db: &mut dyn Backend, id: i64, status: Status, end: &End, error: Value) -> Result<()> {
    let tables = end.tables.as_ref().map(|t| t.to_string());
    db.meta_exec(
        &format!(
            "UPDATE {TABLE} SET status = ?, ended_at = ?, schema_after = ?, tables = ?, backup = ?, error = ? WHERE id = ?"
        ),
        &[
            text(status.as_str()),
            text(&now()),
            end.schema_after.map_or(Value::Null, Value::Int),
            opt_text(tables.as_deref()),
            opt_text(end.backup.as_deref()),
            error,
            Value::Int(id),
        ],
    )
}

/// The most recent runs, newest first.
pub fn list(db: &mut dyn Backend, limit: usize) -> Result<Vec<Run>> {
    if !db.has_table(TABLE)? {
        return Ok(vec![]);
    }
    let rows = db.meta_query(
        &format!("SELECT {COLUMNS} FROM {TABLE} ORDER BY id DESC LIMIT {limit}"),
        &[],
    )?;
    Ok(rows.into_iter().map(run_of).collect())
}

/// One run, if recorded.
pub fn get(db: &mut dyn Backend, id: i64) -> Result<Option<Run>> {
    if !db.has_table(TABLE)? {
        return Ok(None);
    }
    let rows = db.meta_query(
        &format!("SELECT {COLUMNS} FROM {TABLE} WHERE id = ?"),
        &[Value::Int(id)],
    )?;
    Ok(rows.into_iter().next().map(run_of))
}

/// The run recorded as under way, if any.
pub fn running(db: &mut dyn Backend) -> Result<Option<Run>> {
    if !db.has_table(TABLE)? {
        return Ok(None);
    }
    let rows = db.meta_query(
        &format!("SELECT {COLUMNS} FROM {TABLE} WHERE status = ? ORDER BY id DESC"),
        &[text(Status::Running.as_str())],
    )?;
    Ok(rows.into_iter().next().map(run_of))
}

fn run_of(row: Vec<Value>) -> Run {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Value::Null);
    let id = int(next()).unwrap_or(0);
    let plan = string(next()).unwrap_or_default();
    let plan_sha256 = string(next());
    let kind = string(next()).unwrap_or_default();
    let operator = string(next()).unwrap_or_default();
    let message = string(next());
    let notes = string(next())
        .and_then(|n| serde_json::from_str(&n).ok())
        .unwrap_or_default();
    let started_at = string(next()).unwrap_or_default();
    let ended_at = string(next());
    let status = Status::parse(&string(next()).unwrap_or_default());
    let schema_before = int(next());
    let schema_after = int(next());
    let tables = string(next())
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    Run {
        id,
        plan,
        plan_sha256,
        kind,
        operator,
        message,
        notes,
        started_at,
        ended_at,
        status,
        schema_before,
        schema_after,
        tables,
        backup: string(next()),
        error: string(next()),
    }
}

fn int(v: Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(i),
        Value::Text(t) => t.parse().ok(),
        _ => None,
    }
}

fn string(v: Value) -> Option<String> {
    match v {
        Value::Text(t) => Some(t),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn opt_text(s: Option<&str>) -> Value {
    s.map_or(Value::Null, text)
}

/// Now, UTC, to the millisecond: sortable text on every engine.
pub fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// Who runs migplan: `--operator`, else `MIGPLAN_OPERATOR`, else git's
/// user.name and user.email, else the OS user.
pub fn operator(flag: Option<&str>) -> String {
    operator_and_source(flag).0
}

/// Where the operator's name came from, when nobody gave it: `git config`
/// or the OS user (a person should see who the history will say ran it).
pub fn operator_and_source(flag: Option<&str>) -> (String, Option<&'static str>) {
    if let Some(op) = flag.map(str::trim).filter(|s| !s.is_empty()) {
        return (op.to_string(), None);
    }
    if let Ok(op) = std::env::var("MIGPLAN_OPERATOR")
        && !op.trim().is_empty()
    {
        return (op.trim().to_string(), None);
    }
    let git = |key: &str| {
        std::process::Command::new("git")
            .args(["config", "--get", key])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
    };
    match (git("user.name"), git("user.email")) {
        (Some(name), Some(email)) => return (format!("{name} <{email}>"), Some("git config")),
        (Some(name), None) => return (name, Some("git config")),
        _ => {}
    }
    let user = ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".into());
    (user, Some("the OS user"))
}

/// The counts a run's reports carry per table, as columns: the import
/// report's own order (`rows`, `inserted`, …, `failed`), then any other
/// number a report has; only those some table reports. Shared by the
/// command line's run page and the console's.
pub fn count_columns(tables: &[&serde_json::Map<String, serde_json::Value>]) -> Vec<String> {
    const ORDER: [&str; 6] = [
        "rows",
        "inserted",
        "identical",
        "overwritten",
        "skipped",
        "failed",
    ];
    let named = ORDER.iter().map(|c| c.to_string());
    let others = tables
        .iter()
        .flat_map(|t| t.iter().filter(|(_, v)| v.is_u64()).map(|(k, _)| k.clone()));
    let mut columns: Vec<String> = vec![];
    for key in named.chain(others) {
        let reported = tables
            .iter()
            .any(|t| t.get(&key).is_some_and(|v| v.is_u64()));
        if reported && !columns.contains(&key) {
            columns.push(key);
        }
    }
    columns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_back_as_written() {
        for s in [
            Status::Running,
            Status::Succeeded,
            Status::Failed,
            Status::Interrupted,
            Status::RolledBack,
        ] {
            assert_eq!(Status::parse(s.as_str()), s);
        }
    }

    #[test]
    fn operator_flag_wins_over_the_environment() {
        assert_eq!(
            operator(Some(" Ada <ada@example.com> ")),
            "Ada <ada@example.com>"
        );
        assert!(!operator(None).is_empty());
    }
}

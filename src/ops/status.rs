//! `migplan status`: one screen before a migration.

use std::time::Duration;

use serde::Serialize;

use crate::backend::{self, Backend, OpenOptions};
use crate::error::{Error, Result};
use crate::history;
use crate::plan::{self, Plan};
use crate::schema::Scripts;

use super::*;

#[derive(Debug, Clone, Default)]
pub struct StatusRequest {
    /// The plan whose database (and scripts) to describe.
    pub plan: Option<PathBuf>,
    /// Database URL, instead of the plan's.
    pub db: Option<String>,
}

/// What `migplan status` shows.
#[derive(Serialize)]
pub struct StatusView {
    pub database: String,
    pub engine: &'static str,
    /// Who holds the run lock, or `None` when it is free.
    pub lock_holder: Option<String>,
    /// What the database holds; `None` while a run keeps readers out.
    #[serde(flatten)]
    pub contents: Option<StatusContents>,
    /// Why `contents` could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

#[derive(Serialize)]
pub struct StatusContents {
    pub schema_version: Option<i64>,
    pub pending: Vec<String>,
    pub last_runs: Vec<history::Run>,
    pub tables: Vec<TableRows>,
    pub size_bytes: u64,
}

#[derive(Serialize)]
pub struct TableRows {
    pub table: String,
    /// `None` while a running import holds the table.
    pub rows: Option<u64>,
    /// Bytes on disk, indexes included, as the engine accounts them
    /// (`None` where it does not say, or while an import holds the table).
    pub size_bytes: Option<u64>,
}

/// `migplan status [PLAN] [--db URL]`: the lock first, read beside the
/// database, so that who works on it shows even when the database itself
/// cannot be read (SQLite during a large write).
pub fn status(args: &StatusRequest) -> Result<StatusView> {
    let plan = match &args.plan {
        Some(p) => Some(plan::load(p)?),
        None => None,
    };
    let url = db_or_plan(args.db.as_deref(), plan.as_ref())?;
    let opts = OpenOptions {
        busy_wait: Some(Duration::from_secs(1)),
        ..OpenOptions::default()
    };
    let mut db = backend::open(&url, &opts)?;
    let db = db.as_mut();
    let free = lock_free(db)?;
    let lock_holder = (!free).then(|| history::holder(db));
    let (contents, unreadable) = match status_contents(plan.as_ref(), db, free) {
        Ok(c) => (Some(c), None),
        Err(e @ Error::Database { .. }) if !free => (
            None,
            Some(format!(
                "the database lets no one read while the run holding the lock writes ({e}); try again when it ends"
            )),
        ),
        Err(e) => return Err(e),
    };
    let view = StatusView {
        database: url.redacted(),
        engine: db.engine().name(),
        lock_holder,
        contents,
        unreadable,
    };
    Ok(view)
}

pub(crate) fn status_contents(
    plan: Option<&Plan>,
    db: &mut dyn Backend,
    free: bool,
) -> Result<StatusContents> {
    let schema = match plan {
        Some(p) => status_of(p, db)?,
        None => Scripts::none().status(db, None)?,
    };
    let mut last_runs = history::list(db, 5)?;
    history::show_interrupted(&mut last_runs, free);
    let mut tables = Vec::new();
    for t in db.catalog()?.tables {
        let rows = db.count_rows_unless_locked(&t.name)?;
        // A size is a nicety: a table whose size cannot be read is shown
        // without one.
        let size_bytes = match rows {
            Some(_) => db.table_size_bytes(&t.name).ok().flatten(),
            None => None,
        };
        tables.push(TableRows {
            table: t.name,
            rows,
            size_bytes,
        });
    }
    Ok(StatusContents {
        schema_version: schema.version(),
        pending: schema.pending.iter().map(|p| p.label()).collect(),
        last_runs,
        tables,
        size_bytes: db.size_bytes()?,
    })
}

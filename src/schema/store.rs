//! The schema's bookkeeping tables: refinery's history (read, and written
//! in refinery's own format), migplan's normalised checksums and the
//! tables' creation (with the MySQL journal's).

use super::{CHECKSUMS_TABLE, HISTORY_TABLE, JOURNAL_TABLE};
use crate::backend::{Backend, Dialect};
use crate::error::Result;

/// A row of refinery's history table.
#[derive(Debug, Clone)]
pub(super) struct Applied {
    pub(super) version: i64,
    pub(super) name: String,
    pub(super) applied_on: Option<String>,
    pub(super) checksum: Option<String>,
}

impl Applied {
    pub(super) fn label(&self) -> String {
        format!("V{}__{}", self.version, self.name)
    }
}

pub(super) fn int(v: &Option<String>) -> i64 {
    v.as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or_default()
}

pub(super) fn read_history(db: &mut dyn Backend) -> Result<Vec<Applied>> {
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

pub(super) fn read_checksums(db: &mut dyn Backend) -> Result<Vec<(i64, String)>> {
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
pub(super) fn create_tables(dialect: &Dialect) -> Vec<String> {
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

pub(super) fn ensure_tables(db: &mut dyn Backend) -> Result<()> {
    for q in create_tables(db.dialect()) {
        db.execute_sql("creating the schema bookkeeping tables", &q)?;
    }
    Ok(())
}

/// refinery's own insert (its names are `\w+`, so a literal is safe).
pub(super) fn insert_history(version: i64, name: &str, checksum: u64) -> String {
    format!(
        "INSERT INTO {HISTORY_TABLE} (version, name, applied_on, checksum) VALUES ({version}, '{name}', '{}', '{checksum}')",
        now()
    )
}

pub(super) fn delete_history(version: i64) -> String {
    format!("DELETE FROM {HISTORY_TABLE} WHERE version = {version}")
}

pub(super) fn insert_checksum(version: i64, normalized: &str) -> String {
    format!(
        "INSERT INTO {CHECKSUMS_TABLE} (version, normalized_checksum) VALUES ({version}, '{normalized}')"
    )
}

pub(super) fn delete_checksum(version: i64) -> String {
    format!("DELETE FROM {CHECKSUMS_TABLE} WHERE version = {version}")
}

/// RFC 3339 in UTC, as refinery writes `applied_on`.
pub(super) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

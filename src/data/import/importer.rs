//! The importer: a [`BackupVisitor`] that writes the rows it is handed into
//! the open write transaction, parents before children, tables that arrive
//! before their parents parked in a spool; each row checked (NOT NULL,
//! numbers given as text) before it is sent, a refused one named by key.

use std::collections::{HashMap, HashSet};

use super::jobs::Job;
use super::parts::PartKind;
use super::verdict::{Checks, Recording};
use crate::backend::{Backend, WriteRequest};
use crate::data::preview::Collector;
use crate::data::progress;
use crate::data::readback::ReadBack;
use crate::data::report::TableCounts;
use crate::error::{CONFLICTS_LISTED, Error, Result};
use crate::format::{BackupMeta, BackupVisitor, TableMeta};
use crate::spool::Spool;
use crate::value::{ColumnType, Value, row_digest};

enum Current {
    /// The table is not imported (not in the chosen modules).
    Ignore,
    /// Rows go straight to the database.
    Direct(String),
    /// Rows wait in a spool until the table's parents are imported.
    Parked(String, Spool),
}

/// Receives a backup (or a source database's rows, for `copy`) and writes it
/// into the open write transaction, parents before children.
pub(in crate::data) struct Importer<'a> {
    pub(super) db: &'a mut dyn Backend,
    pub(super) jobs: HashMap<String, Job>,
    /// Each table's parents among the imported tables.
    parents: HashMap<String, Vec<String>>,
    done: HashSet<String>,
    parked: Vec<(String, Spool)>,
    current: Option<Current>,
    pub(super) conflicts: Vec<String>,
    /// Rows refused under `error`, per table, in the order written.
    pub(super) conflict_tables: Vec<(String, u64)>,
    pub(super) counts: HashMap<String, TableCounts>,
    /// Rows written per table and the wrapping sum of their hashes: an
    /// order-free digest that the rows read back must reproduce.
    pub(super) digests: HashMap<String, (u64, u128)>,
    pub(super) checks: Checks,
    /// The read-back by key failed: its error names the triggers already.
    pub(super) readback_failed: bool,
    /// How the rows of the table being written are recorded for the check.
    recording: Recording,
    /// The rows written that are read back by key.
    pub(super) readback: Option<ReadBack>,
    /// Reused for each row's canonical encoding while digesting.
    pub(super) digest_buf: Vec<u8>,
    /// The current part's table names that differ from the target's only
    /// in case: backup name → target name.
    renames: HashMap<String, String>,
    /// What messages call the load: an import, or a copy.
    pub(super) what: &'static str,
    pub(super) bar: progress::Rows,
    /// A preview: rows go to it for the database's verdict, one by one,
    /// instead of the bulk write; a row refused is its verdict, not a stop.
    pub(super) preview: Option<&'a mut Collector>,
}

impl<'a> Importer<'a> {
    pub(super) fn new(db: &'a mut dyn Backend, checks: Checks, total: u64) -> Self {
        Importer {
            db,
            jobs: HashMap::new(),
            parents: HashMap::new(),
            done: HashSet::new(),
            parked: Vec::new(),
            current: None,
            conflicts: Vec::new(),
            conflict_tables: Vec::new(),
            counts: HashMap::new(),
            digests: HashMap::new(),
            checks,
            readback_failed: false,
            recording: Recording::Nothing,
            readback: None,
            digest_buf: Vec::new(),
            renames: HashMap::new(),
            what: "import",
            bar: progress::rows(total, "importing"),
            preview: None,
        }
    }

    fn ready(&self, table: &str) -> bool {
        self.parents
            .get(table)
            .is_none_or(|ps| ps.iter().all(|p| self.done.contains(p)))
    }

    fn start(&mut self, table: &str) -> Result<()> {
        self.recording = self.recording(table)?;
        let job = &self.jobs[table];
        let req = WriteRequest {
            table,
            columns: &job.columns,
            key: &job.key,
            conflict: job.conflict,
            lossy: &job.lossy,
        };
        if let Some(preview) = self.preview.as_mut() {
            return preview.begin_table(&req, &job.targets);
        }
        self.db.begin_table(&req).map_err(|e| table_error(table, e))
    }

    fn write(&mut self, table: &str, row: &[Value]) -> Result<()> {
        self.bar.inc()?;
        let job = &self.jobs[table];
        let refused = job
            .not_null
            .iter()
            .find(|&&i| matches!(row[i], Value::Null))
            .map(|&i| Error::value(&job.columns[i], "NULL, and the column is NOT NULL"))
            .or_else(|| not_a_number(job, row));
        match (refused, self.preview.as_mut()) {
            (Some(e), Some(preview)) => return preview.refused(row, e.to_string()),
            (Some(e), None) => return Err(row_error(table, job, row, e, self.what)),
            (None, Some(preview)) => return preview.row(row),
            (None, None) => {}
        }
        self.db.write_row(row).map_err(|e| match e {
            Error::Value { .. } => row_error(table, &self.jobs[table], row, e, self.what),
            other => table_error(table, other),
        })?;
        match &self.recording {
            Recording::Nothing => {}
            Recording::Digest => {
                let digest = self.digests.entry(table.to_string()).or_default();
                digest.0 += 1;
                digest.1 = digest.1.wrapping_add(row_digest(row, &mut self.digest_buf));
            }
            Recording::ByKey(slot) => self
                .readback
                .as_mut()
                .expect("opened with the slot")
                .park(slot, row)?,
        }
        Ok(())
    }

    fn end(&mut self, table: &str) -> Result<()> {
        self.recording = Recording::Nothing;
        let outcome = match self.preview.as_mut() {
            Some(preview) => preview.end_table(self.db)?,
            None => self.db.end_table().map_err(|e| table_error(table, e))?,
        };
        let job = &self.jobs[table];
        for key in &outcome.conflict_keys {
            if self.conflicts.len() < CONFLICTS_LISTED {
                self.conflicts
                    .push(format!("`{table}` {}", key_values_text(&job.key, key)));
            }
        }
        if outcome.conflicts > 0 {
            match self.conflict_tables.iter_mut().find(|(t, _)| t == table) {
                Some((_, n)) => *n += outcome.conflicts,
                None => self
                    .conflict_tables
                    .push((table.to_string(), outcome.conflicts)),
            }
        }
        // A table may be written more than once in one part (rows an
        // adapter splits into a table the backup also holds): counts add up.
        let counts = self
            .counts
            .entry(table.to_string())
            .or_insert_with(|| TableCounts {
                table: table.into(),
                ..TableCounts::default()
            });
        counts.inserted += outcome.inserted;
        counts.identical += outcome.identical;
        counts.skipped += outcome.skipped;
        counts.overwritten += outcome.overwritten;
        counts.failed += outcome.conflicts;
        self.done.insert(table.to_string());
        self.unpark()
    }

    /// Writes a parked table from its spool.
    fn replay(&mut self, table: String, spool: Spool) -> Result<()> {
        self.start(&table)?;
        spool.drain(|row| self.write(&table, &row))?;
        self.end(&table)
    }

    /// Imports parked tables whose parents are now all done.
    fn unpark(&mut self) -> Result<()> {
        while let Some(i) = self.parked.iter().position(|(t, _)| self.ready(t)) {
            let (table, spool) = self.parked.remove(i);
            self.replay(table, spool)?;
        }
        Ok(())
    }

    /// Starts the next part of a load: its tables, policies and parents.
    /// A table already written by an earlier part is written again (the
    /// backends merge into a table that holds rows).
    pub(super) fn next_part(
        &mut self,
        jobs: HashMap<String, Job>,
        parents: HashMap<String, Vec<String>>,
        renames: HashMap<String, String>,
        kind: PartKind,
    ) {
        self.what = kind.load();
        self.jobs = jobs;
        self.renames = renames;
        self.parents = parents;
        self.done.clear();
        self.parked.clear();
        self.current = None;
    }

    /// After a part's whole input: its parked tables in DAG order.
    pub(super) fn replay_parked(&mut self, order: &[String]) -> Result<()> {
        for t in order {
            if let Some(i) = self.parked.iter().position(|(p, _)| p == t) {
                let (table, spool) = self.parked.remove(i);
                self.replay(table, spool)?;
            }
        }
        Ok(())
    }
}

fn key_values_text(key: &[String], values: &[Value]) -> String {
    if key.is_empty() {
        return "(row without key)".into();
    }
    key.iter()
        .zip(values)
        .map(|(k, v)| format!("{k}={}", v.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A text value bound for a numeric column that does not read as a number
/// of the column's kind.
fn not_a_number(job: &Job, row: &[Value]) -> Option<Error> {
    job.numeric_from_text.iter().find_map(|&i| {
        let Value::Text(s) = &row[i] else {
            return None;
        };
        let target = &job.targets[i];
        let t = s.trim();
        let fits = match target.ty {
            ColumnType::Int => t.parse::<i64>().is_ok() || t.parse::<u64>().is_ok(),
            ColumnType::Decimal => crate::value::is_decimal(t),
            _ => t.parse::<f64>().is_ok_and(f64::is_finite),
        };
        (!fits).then(|| {
            Error::value(
                &job.columns[i],
                format!(
                    "text {:?} is not a number, and the column is {}",
                    s, target.sql_type
                ),
            )
        })
    })
}

fn key_text(job: &Job, row: &[Value]) -> String {
    let values: Vec<Value> = job.key_pos.iter().map(|&i| row[i].clone()).collect();
    key_values_text(&job.key, &values)
}

fn row_error(table: &str, job: &Job, row: &[Value], e: Error, what: &str) -> Error {
    Error::Row(format!(
        "cannot write row {} of `{table}`: {e}\n  = help: nothing was changed; the {what} was rolled back",
        key_text(job, row)
    ))
}

fn table_error(table: &str, e: Error) -> Error {
    match e {
        Error::Database { context, message } => Error::Database {
            context: format!("{context} `{table}`"),
            message,
        },
        other => other,
    }
}

impl BackupVisitor for Importer<'_> {
    fn meta(&mut self, _meta: &BackupMeta) -> Result<()> {
        Ok(())
    }

    fn begin_table(&mut self, table: &TableMeta) -> Result<()> {
        let name = self.renames.get(&table.name).unwrap_or(&table.name).clone();
        crate::failpoint::pause("import-table");
        crate::events::checkpoint()?;
        self.bar.set_message(name.clone(), Some(table.rows));
        self.current = Some(if !self.jobs.contains_key(&name) {
            Current::Ignore
        } else if self.ready(&name) {
            self.start(&name)?;
            Current::Direct(name)
        } else {
            Current::Parked(name, Spool::new()?)
        });
        Ok(())
    }

    fn row(&mut self, row: &[Value]) -> Result<()> {
        // Taken out and put back, so the table name is not copied per row.
        let mut current = self.current.take();
        let result = match &mut current {
            Some(Current::Direct(t)) => self.write(t, row),
            Some(Current::Parked(_, spool)) => spool.push(row),
            _ => Ok(()),
        };
        self.current = current;
        result
    }

    fn end_table(&mut self, _table: &TableMeta) -> Result<()> {
        match self.current.take() {
            Some(Current::Direct(t)) => self.end(&t),
            Some(Current::Parked(t, spool)) => {
                self.parked.push((t, spool));
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

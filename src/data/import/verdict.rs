//! The verdicts before the commit: how the rows written are kept for the
//! check (an order-free digest, or parked by key), conflicts refused under
//! `error`, every table's count and rows read back as written.

use std::collections::HashMap;

use super::importer::Importer;
use crate::backend::{Dialect, ReadRequest};
use crate::catalog::Trigger;
use crate::data::readback::{self, ReadBack, Slot};
use crate::data::report::ImportReport;
use crate::error::{Error, LoadError, Result};
use crate::plan::Conflict;
use crate::value::row_digest;

/// What the check after the import needs to know, fixed before rows move.
pub(super) struct Checks {
    /// Same engine, one backup: an empty table may be checked by digest.
    pub(super) fast: bool,
    /// Rows of each table before the import (empty: a dry run, unchecked).
    pub(super) before: HashMap<String, u64>,
    /// The triggers that fire as rows load (none when switched off).
    pub(super) triggers: Vec<Trigger>,
    /// What the engine can do, for the failure's help.
    pub(super) dialect: &'static Dialect,
}

/// How the rows of the table being written are kept for the check.
pub(super) enum Recording {
    Nothing,
    /// Into the table's order-free digest.
    Digest,
    /// Parked by key on disk, read back by key.
    ByKey(Slot),
}

impl Importer<'_> {
    /// How the rows about to be written into `table` are kept for the
    /// check after the import. The order-free digest (no disk, no key)
    /// decides when the table was empty, nothing fires on it and the rows
    /// come from the same engine in one backup, column types alike (a text
    /// column's `1.5` lands as a number in a decimal one): then the table must read
    /// back as exactly the rows written. Anything else is read back by
    /// key, through the documented mapping: only the rows written are
    /// compared, and a failure names them. A table with rows and no
    /// triggers is still checked: rules (PostgreSQL), `ON UPDATE` columns
    /// (MySQL) and column defaults can rewrite a row too.
    pub(super) fn recording(&mut self, table: &str) -> Result<Recording> {
        let Some(&had) = self.checks.before.get(table) else {
            return Ok(Recording::Nothing);
        };
        let fires = self
            .checks
            .triggers
            .iter()
            .any(|t| t.table == table && t.fires_on_write());
        if self.checks.fast && had == 0 && !fires && self.jobs[table].same_types {
            return Ok(Recording::Digest);
        }
        if self.readback.is_none() {
            self.readback = Some(ReadBack::new()?);
        }
        let rb = self.readback.as_mut().expect("opened above");
        let job = &self.jobs[table];
        let slot = rb.slot(table, &job.targets, &job.key_pos, job.conflict);
        if job.conflict == Conflict::Skip && had > 0 && !job.key.is_empty() {
            rb.keep_existing(self.db, &slot)?;
        }
        Ok(Recording::ByKey(slot))
    }

    /// After the import, inside its transaction: every table holds as many
    /// rows as before plus those inserted, and the rows written read back
    /// as written — the whole table by its order-free digest, or the rows
    /// written by key (see [`Importer::recording`]).
    pub(super) fn verify(
        &mut self,
        reports: &[ImportReport],
        before: &HashMap<String, u64>,
    ) -> Result<()> {
        for (table, &had) in before {
            let inserted: u64 = reports
                .iter()
                .flat_map(|r| &r.tables)
                .filter(|t| &t.table == table)
                .map(|t| t.inserted)
                .sum();
            // Reading an empty table's rows back counts them too: no
            // separate COUNT(*) scan.
            let (found, values_differ) = match self.digests.get(table).copied() {
                Some(written) => {
                    let read = self.read_back(table)?;
                    (read.0, read != written)
                }
                None => match self.readback.as_mut().filter(|r| r.tracks(table)) {
                    Some(rb) => {
                        let out = rb.check(self.db, table)?;
                        if out.differs() {
                            self.readback_failed = true;
                            return Err(readback::failure(
                                table,
                                &out,
                                &self.checks.triggers,
                                self.checks.dialect,
                            ));
                        }
                        (out.rows, false)
                    }
                    None => (self.db.count_rows(table)?, false),
                },
            };
            if found != had + inserted {
                return Err(unverified(
                    table,
                    self.what,
                    &format!(
                        "it holds {found} rows, {had} before the import and {inserted} inserted"
                    ),
                ));
            }
            if values_differ {
                return Err(unverified(
                    table,
                    self.what,
                    "the rows read back differ from the rows written",
                ));
            }
        }
        Ok(())
    }

    /// Every row of `table`: how many, and their order-free digest.
    fn read_back(&mut self, table: &str) -> Result<(u64, u128)> {
        let columns = self.jobs[table].columns.clone();
        let req = ReadRequest {
            table,
            columns: &columns,
            order_by: &[],
            changed_since: None,
        };
        let (mut n, mut found) = (0u64, 0u128);
        let buf = &mut self.digest_buf;
        self.db.read(&req, &mut |row| {
            n += 1;
            found = found.wrapping_add(row_digest(row, buf));
            Ok(())
        })?;
        Ok((n, found))
    }

    /// After every part: the verdict on conflicts, then the bulk
    /// foreign-key check.
    pub(super) fn verdict(&mut self) -> Result<()> {
        if !self.conflict_tables.is_empty() {
            return Err(Error::Conflict {
                tables: self.conflict_tables.clone(),
                keys: self.conflicts.clone(),
            });
        }
        self.db.finish_write()
    }
}

fn unverified(table: &str, load: &str, what: &str) -> Error {
    LoadError::Unverified {
        table: table.to_string(),
        load: load.to_string(),
        what: what.to_string(),
    }
    .into()
}

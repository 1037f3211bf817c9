//! The import preview: a dry run that says, row by row, what an import
//! would do — `new` (its key is not in the target), `identical` (it is,
//! with the same values), `changed` (it is, with other values: the
//! difference column by column), `conflict` (another row holds one of its
//! unique keys), `failing` (the database refuses it: NOT NULL, a foreign
//! key, a CHECK, a type) — and counts them per table.
//!
//! It is the import itself, not a model of it: the backup is read through
//! `format::open`, upgraded by the plan's adapters, matched to the target's
//! names and written in DAG order by the importer (`data::import`), inside
//! a transaction that keeps every constraint in force and is always
//! rolled back (`Backend::begin_preview`). The importer hands each table's
//! rows to the [`Collector`] (`collect.rs`) instead of the bulk write; at
//! the table's end the collector streams the table once to find the rows
//! whose keys it holds (`classify.rs`), then tries the rows a batch at a
//! time under a savepoint (`Backend::try_rows`), halving a refused batch
//! down to the row the database refuses. Rows that pass stay written, so a
//! child meets the parents the import would have written before it.
//!
//! Nothing is held in memory but a batch: rows wait in the store's pending
//! table, and every verdict is written to the store (`store.rs`), a SQLite
//! file the caller names and pages through with [`PreviewStore`]. Counters
//! a rollback does not take back (MySQL's AUTO_INCREMENT, a PostgreSQL
//! sequence a default drew from) are set back as they were.

mod classify;
mod collect;
mod store;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub(in crate::data) use collect::Collector;
pub use store::PreviewStore;

use super::ImportOptions;
use crate::backend::Backend;
use crate::catalog::Sequence;
use crate::error::{PreviewError, Result};
use crate::plan::{Conflict, Plan};

/// What an import would make of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowClass {
    /// Its key is not in the target: it would be inserted.
    New,
    /// Its key is there with equal values: nothing would change.
    Identical,
    /// Its key is there with other values: `overwrite` would update it,
    /// `skip` keep the old values, `error` refuse the import.
    Changed,
    /// Another row holds one of its unique keys (not the row's own key).
    /// Whatever the policy: a changed row's new values are tried too.
    Conflict,
    /// The database refuses it (NOT NULL, foreign key, CHECK, type), or
    /// migplan's check of a value before it is sent.
    Failing,
}

impl RowClass {
    /// Every class by its name, in the order they are shown.
    pub const NAMES: [(&'static str, RowClass); 5] = [
        ("new", RowClass::New),
        ("identical", RowClass::Identical),
        ("changed", RowClass::Changed),
        ("conflict", RowClass::Conflict),
        ("failing", RowClass::Failing),
    ];

    pub fn name(self) -> &'static str {
        Self::NAMES[self.code() as usize].0
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| *c)
    }

    /// [`RowClass::from_name`], an unknown name an error listing the
    /// known ones.
    pub fn parse(name: &str) -> Result<Self> {
        Self::from_name(name).ok_or_else(|| {
            PreviewError::UnknownClass {
                name: name.to_string(),
                known: Self::NAMES.iter().map(|(n, _)| *n).collect(),
            }
            .into()
        })
    }

    /// Its number in the store.
    fn code(self) -> i64 {
        Self::NAMES
            .iter()
            .position(|(_, c)| *c == self)
            .expect("every class is named") as i64
    }

    fn from_code(code: i64) -> Option<Self> {
        Self::NAMES
            .get(usize::try_from(code).ok()?)
            .map(|(_, c)| *c)
    }
}

/// One row of the backup, as the preview classed it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreviewRow {
    pub table: String,
    pub class: RowClass,
    /// Its place among the table's rows in the backup (from 1; in a chain,
    /// counted on through the increments, a key keeping its first place).
    pub ordinal: u64,
    /// Its key as a JSON object (`{"id":3}`); a row of a table without a
    /// key shows all its values.
    pub key: String,
    /// A changed row's differing columns, old → new.
    pub changes: Vec<ColumnChange>,
    /// Why a conflicting or failing row is refused: the database's message
    /// (or migplan's check of a value), naming the column or constraint.
    pub error: Option<String>,
}

/// One column of a changed row: the value the target holds, the backup's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnChange {
    pub column: String,
    pub old: String,
    pub new: String,
}

/// One table's rows by class, and what its conflict policy makes of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TablePreview {
    pub table: String,
    /// The plan's module holding it, if the plan declares modules.
    pub module: Option<String>,
    /// The policy its rows meet (a chain's increments always overwrite).
    pub policy: Conflict,
    pub new: u64,
    pub identical: u64,
    pub changed: u64,
    pub conflict: u64,
    pub failing: u64,
    /// What a real import under the policy would do with them.
    pub implied: Implied,
}

impl TablePreview {
    pub fn rows(&self) -> u64 {
        self.new + self.identical + self.changed + self.conflict + self.failing
    }
}

/// A table's rows as the policy treats them: inserted, overwritten (a
/// changed row under `overwrite`), skipped (a changed row under `skip`,
/// even one whose new values the database would refuse: `skip` never
/// writes them), unchanged (identical), refused (conflicting and failing
/// rows, and under `error` every row whose key exists). Any refused row
/// fails a real import, which then changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Implied {
    pub inserted: u64,
    pub overwritten: u64,
    pub skipped: u64,
    pub unchanged: u64,
    pub refused: u64,
}

/// What a real import would do with one row: one of [`Implied`]'s counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fate {
    Inserted,
    Overwritten,
    Skipped,
    Unchanged,
    Refused,
}

impl Fate {
    const NAMES: [(&'static str, Fate); 5] = [
        ("inserted", Fate::Inserted),
        ("overwritten", Fate::Overwritten),
        ("skipped", Fate::Skipped),
        ("unchanged", Fate::Unchanged),
        ("refused", Fate::Refused),
    ];

    pub(super) fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, f)| *f == self)
            .map(|(n, _)| *n)
            .expect("every fate is named")
    }

    pub(super) fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
    }
}

impl Fate {
    /// What an import under `policy` does with a row of `class` whose key
    /// the target held before (`had`) or not: one rule for the preview's
    /// verdicts and for the counts under another policy.
    pub(super) fn under(class: RowClass, had: bool, policy: Conflict) -> Fate {
        match (class, policy) {
            (RowClass::New, _) => Fate::Inserted,
            (RowClass::Identical | RowClass::Changed, Conflict::Error) => Fate::Refused,
            (RowClass::Changed, Conflict::Overwrite) => Fate::Overwritten,
            (RowClass::Changed, Conflict::Skip) => Fate::Skipped,
            (RowClass::Identical, _) => Fate::Unchanged,
            // A refused update is no failure under `skip`, which keeps the
            // row as it is.
            (RowClass::Conflict | RowClass::Failing, Conflict::Skip) if had => Fate::Skipped,
            (RowClass::Conflict | RowClass::Failing, _) => Fate::Refused,
        }
    }
}

impl Implied {
    fn add(&mut self, fate: Fate, n: u64) {
        let slot = match fate {
            Fate::Inserted => &mut self.inserted,
            Fate::Overwritten => &mut self.overwritten,
            Fate::Skipped => &mut self.skipped,
            Fate::Unchanged => &mut self.unchanged,
            Fate::Refused => &mut self.refused,
        };
        *slot += n;
    }
}

/// Previews importing `files` (one backup or workbook, or a chain) into
/// `db` under `opts` (its `dry_run` is ignored: a preview always rolls
/// back), writing every row's verdict to the SQLite file `store` (replaced
/// when it exists, and only once the preview is complete). Returns the
/// tables in import order.
pub fn preview(
    db: &mut dyn Backend,
    plan: &Plan,
    files: &[PathBuf],
    opts: &ImportOptions,
    store: &Path,
) -> Result<Vec<TablePreview>> {
    let counters = db.sequences()?;
    let mut collector = Collector::create(store)?;
    let dry = ImportOptions {
        dry_run: true,
        run_id: None,
        undoes: None,
        replace: false,
        modules: opts.modules.clone(),
        ..*opts
    };
    let run = super::chain::import_files_into(db, plan, files, &dry, Some(&mut collector));
    let put_back = put_back_counters(db, &counters);
    run.and(put_back)?;
    collector.finish(plan)
}

/// Sets back the counters that moved during the rolled-back preview: an
/// InnoDB AUTO_INCREMENT moves past an id inserted and stays there, a
/// PostgreSQL sequence keeps what a default drew. In a transaction of its
/// own, after the preview's.
fn put_back_counters(db: &mut dyn Backend, before: &[Sequence]) -> Result<()> {
    let moved: Vec<(Sequence, i64)> = db
        .sequences()?
        .into_iter()
        .filter_map(|now| {
            let was = before
                .iter()
                .find(|b| b.key() == now.key() && b.column == now.column)?;
            let next = was.next;
            (next != now.next).then_some((now, next))
        })
        .collect();
    if moved.is_empty() {
        return Ok(());
    }
    let tables: Vec<String> = vec![];
    db.begin_write(&tables)?;
    let set = moved
        .iter()
        .try_for_each(|(seq, next)| db.set_sequence(seq, *next));
    match set {
        Ok(()) => db.commit(),
        Err(e) => {
            let _ = db.rollback();
            Err(e)
        }
    }
}

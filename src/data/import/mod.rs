//! Import: one write transaction, tables in DAG order, rows streamed from the
//! backup into the database with a conflict policy.
//!
//! Rows arrive in file order. A table whose parents have not been imported
//! yet is parked in a spool until they have; a self-referencing row whose
//! parent row is not there yet waits likewise. Any failure rolls everything
//! back: the database is exactly as before.
//!
//! A load reads as a checklist ([`load_parts`]): every part planned and
//! checked, the transaction begun, the rows fed to the [`Importer`], the
//! verdicts, the counters, the commit. `parts.rs` says what is loaded
//! (backup files and their schema versions), `jobs.rs` how each table is
//! written, `importer.rs` the visitor that writes the rows, `verdict.rs`
//! the checks before the commit.

mod importer;
mod jobs;
mod parts;
mod verdict;

use std::collections::HashMap;
use std::path::Path;

use super::lossy::{self, LossyColumn};
use super::report::ImportReport;
use crate::adapters::AdapterSet;
use crate::backend::Backend;
use crate::catalog::Trigger;
use crate::dag::Dag;
use crate::error::{Error, LoadError, Result};
use crate::format::{self, BackupMeta, ExpectedTable, ReadOptions};
use crate::plan::{Conflict, Plan, Triggers};

use super::preview::Collector;
use importer::Importer;
pub(super) use jobs::accepted_lossy;
use jobs::plan_jobs;
use parts::refuse_keyless;
pub use parts::upgrade_chain;
pub(super) use parts::{Part, PartKind, backup_part};
use verdict::Checks;

pub struct ImportOptions {
    /// Overrides every table's policy (`--conflict`).
    pub conflict: Option<Conflict>,
    /// Overrides `[import] triggers` (`--triggers`).
    pub triggers: Option<Triggers>,
    /// Import only these modules' tables; empty means every table of the backup.
    pub modules: Vec<String>,
    /// Run everything, then roll back.
    pub dry_run: bool,
    /// The database's schema version, compared with the backup's.
    pub schema_version: Option<i64>,
    /// Empty every table of the backup first, children before parents: the
    /// backup replaces their contents (a rollback's restore).
    pub replace: bool,
    /// The run of record this import belongs to: its outcome is written to
    /// the history inside the import's transaction, committing with the data.
    pub run_id: Option<i64>,
    /// The run a rollback undoes: marked rolled back in the same
    /// transaction, so the history never says it stands once it is undone.
    pub undoes: Option<i64>,
}

/// Imports one file: a JSON backup, upgraded through the plan's adapters
/// when it is older than the database, or a workbook, whose every cell is
/// checked against the target's columns before the transaction starts (all
/// problems listed, nothing written).
pub fn import(
    db: &mut dyn Backend,
    plan: &Plan,
    file: &Path,
    opts: &ImportOptions,
) -> Result<ImportReport> {
    import_into(db, plan, file, opts, None)
}

/// [`import`], its rows handed to `preview` when there is one.
pub(in crate::data) fn import_into(
    db: &mut dyn Backend,
    plan: &Plan,
    file: &Path,
    opts: &ImportOptions,
    preview: Option<&mut Collector>,
) -> Result<ImportReport> {
    let layout = plan.workbook_layout();
    let mut expected = || target_tables(db);
    let read = ReadOptions {
        expected: &mut expected,
        layout: &layout,
    };
    let backup = format::open(file, read)?;
    let adapters = match PartKind::of(&backup) {
        // Its cells were read as the target's columns: nothing to upgrade.
        PartKind::Workbook => AdapterSet::default(),
        _ => AdapterSet::load(&plan.import.adapters)?,
    };
    let chain = upgrade_chain(&adapters, backup.meta(), opts.schema_version)?;
    let part = backup_part(backup, chain.as_ref(), None, opts.schema_version)?;
    Ok(load_parts_into(db, plan, vec![part], opts, preview)?.remove(0))
}

/// The target's tables, as a workbook is read against them.
fn target_tables(db: &mut dyn Backend) -> Result<Vec<ExpectedTable>> {
    Ok(db
        .catalog()?
        .tables
        .iter()
        .map(ExpectedTable::from)
        .collect())
}

/// Writes the tables `meta` describes into `db` in one transaction: `feed`
/// hands the rows to the importer (from a backup file, or from a source
/// database for `copy`). Commits unless a dry run; any failure rolls back.
pub(super) fn load<'f>(
    db: &mut dyn Backend,
    plan: &Plan,
    meta: &BackupMeta,
    opts: &ImportOptions,
    label: &str,
    kind: PartKind,
    feed: impl FnOnce(&mut Importer<'_>) -> Result<()> + 'f,
) -> Result<ImportReport> {
    let part = Part {
        meta: meta.clone(),
        label: label.to_string(),
        conflict: None,
        kind,
        feed: Box::new(feed),
    };
    Ok(load_parts(db, plan, vec![part], opts)?.remove(0))
}

/// Writes several inputs one after another into one transaction (an
/// incremental chain: the base, then each increment): every part's tables
/// and columns are checked before the transaction starts; a table may be
/// written by several parts. One report per part; commits unless a dry
/// run; any failure rolls everything back.
pub(super) fn load_parts(
    db: &mut dyn Backend,
    plan: &Plan,
    parts: Vec<Part<'_>>,
    opts: &ImportOptions,
) -> Result<Vec<ImportReport>> {
    load_parts_into(db, plan, parts, opts, None)
}

/// [`load_parts`]; with `preview`, a dry run whose rows go one by one to
/// the preview's collector for the database's verdict, in a transaction
/// that keeps every constraint in force (`Backend::begin_preview`).
pub(in crate::data) fn load_parts_into(
    db: &mut dyn Backend,
    plan: &Plan,
    mut parts: Vec<Part<'_>>,
    opts: &ImportOptions,
    preview: Option<&mut Collector>,
) -> Result<Vec<ImportReport>> {
    let catalog = db.catalog()?;
    let mut planned = Vec::new();
    let mut all: Vec<String> = Vec::new();
    for (i, part) in parts.iter_mut().enumerate() {
        let renames = super::names::match_case(&mut part.meta, &catalog)?;
        let conflict = part.conflict.or(opts.conflict);
        let jobs = plan_jobs(plan, &catalog, part, conflict, &opts.modules)?;
        if i > 0 {
            refuse_keyless(&part.label, &jobs)?;
        }
        let lossy = match part.kind.typed() {
            true => lossy::in_backup(plan, db.engine(), &catalog, &part.meta),
            false => vec![],
        };
        let lossy: Vec<LossyColumn> = lossy
            .into_iter()
            .filter(|l| jobs.contains_key(&l.table))
            .collect();
        lossy::refuse(&part.label, &lossy)?;
        let names: Vec<String> = part
            .meta
            .tables
            .iter()
            .map(|t| t.name.clone())
            .filter(|t| jobs.contains_key(t))
            .collect();
        let dag = Dag::build(plan, &catalog, &names)?;
        let order: Vec<String> = dag.order().map(String::from).collect();
        let parents: HashMap<String, Vec<String>> = order
            .iter()
            .map(|t| {
                (
                    t.clone(),
                    dag.parents(t).into_iter().map(String::from).collect(),
                )
            })
            .collect();
        for t in &order {
            if !all.contains(t) {
                all.push(t.clone());
            }
        }
        planned.push((jobs, parents, order, renames, lossy));
    }
    let order: Vec<String> = if planned.len() == 1 {
        planned[0].2.clone()
    } else {
        Dag::build(plan, &catalog, &all)?
            .order()
            .map(String::from)
            .collect()
    };
    // Every part's counters, later parts (newer increments) last.
    let carried: Vec<_> = parts
        .iter()
        .flat_map(|p| p.meta.sequences.iter().cloned())
        .collect();
    let before = rows_before(db, &order, opts)?;
    let mut triggers = firing_triggers(db, &order, opts.replace)?;
    let begun = match preview {
        Some(_) => db.begin_preview(&order),
        None => db.begin_write(&order),
    };
    if let Err(e) = begun {
        return Err(rolled_back(db, e));
    }
    if opts.triggers.unwrap_or(plan.import.triggers) == Triggers::Disable && !triggers.is_empty() {
        if let Err(e) = db.disable_triggers(&triggers) {
            return Err(rolled_back(db, e));
        }
        crate::events::note(format!(
            "triggers off while rows load, on again before the commit: {}",
            list_triggers(&triggers)
        ));
        triggers.clear();
    }
    if opts.replace {
        for t in order.iter().rev() {
            if let Err(e) = db.clear_table(t) {
                return Err(rolled_back(db, e));
            }
        }
    }
    let same_engine = parts
        .iter()
        .all(|p| p.meta.source_engine == db.engine().name());
    let total = parts
        .iter()
        .flat_map(|p| &p.meta.tables)
        .map(|t| t.rows)
        .sum();
    let checks = Checks {
        fast: same_engine && parts.len() == 1,
        before: before.clone(),
        triggers: triggers.clone(),
        dialect: db.dialect(),
    };
    let previewing = preview.is_some();
    let mut importer = Importer::new(db, checks, total);
    importer.preview = preview;
    let mut reports = Vec::new();
    let mut result = Ok(());
    let noun = parts.first().map_or("backup", |p| p.kind.noun());
    for (part, (jobs, parents, part_order, renames, converted)) in parts.into_iter().zip(planned) {
        importer.next_part(jobs, parents, renames, part.kind);
        result = (part.feed)(&mut importer).and_then(|_| importer.replay_parked(&part_order));
        reports.push(ImportReport {
            file: part.label,
            dry_run: opts.dry_run,
            tables: part_order
                .iter()
                .filter_map(|t| importer.counts.remove(t))
                .collect(),
            converted,
        });
        if result.is_err() {
            break;
        }
    }
    // A preview's rows met the database one by one: its verdicts are in
    // the collector, and nothing is to be committed.
    let result = match previewing {
        true => result,
        false => result.and_then(|_| importer.verdict()),
    };
    let result = result.and_then(|_| importer.verify(&reports, &before));
    // The last safe point: a cancel that arrives after it is too late, the
    // rows are about to commit.
    let result = result.and_then(|_| crate::events::checkpoint());
    // A failed read-back names the table's triggers itself.
    let unverified = importer.readback_failed;
    importer.bar.finish_and_clear();
    // Last before the commit: a PostgreSQL role that may not alter a
    // sequence falls back to `setval`, which no rollback undoes.
    let result = result.and_then(|_| match opts.dry_run {
        true => Ok(()),
        false => super::sequences::restore(db, &catalog, &order, &carried, opts.replace),
    });
    let ended = match result {
        Ok(()) if !opts.dry_run => record_commit(db, opts, &reports).and_then(|_| {
            crate::failpoint::pause("import-before-commit");
            db.commit()?;
            crate::failpoint::hit("import-committed");
            crate::failpoint::fail("import-committed")
        }),
        Ok(()) => db.rollback(),
        Err(e) => Err(e),
    };
    match ended {
        Ok(()) => {
            if !triggers.is_empty() {
                crate::events::note(format!(
                    "triggers fired as rows loaded: {}",
                    list_triggers(&triggers)
                ));
            }
            Ok(reports)
        }
        Err(e) if unverified => Err(rolled_back(db, e)),
        Err(e) => Err(trigger_note(rolled_back(db, e), &triggers, noun)),
    }
}

/// The run's outcome, written in the import's transaction just before the
/// commit: the history then says "succeeded" exactly when the data is in.
fn record_commit(
    db: &mut dyn Backend,
    opts: &ImportOptions,
    reports: &[ImportReport],
) -> Result<()> {
    let Some(id) = opts.run_id else {
        return Ok(());
    };
    let tables = serde_json::to_value(reports).unwrap_or_default();
    crate::history::committed(db, id, opts.schema_version, &tables)?;
    match opts.undoes {
        Some(undone) => crate::history::mark_rolled_back(db, undone),
        None => Ok(()),
    }
}

/// The target's triggers that loading rows into `tables` fires (and, when
/// the tables are emptied first, deleting their rows).
fn firing_triggers(db: &mut dyn Backend, tables: &[String], replace: bool) -> Result<Vec<Trigger>> {
    Ok(db
        .triggers()?
        .into_iter()
        .filter(|t| {
            tables.contains(&t.table)
                && (t.fires_on_write() || replace && t.when.contains("DELETE"))
        })
        .collect())
}

fn list_triggers(triggers: &[Trigger]) -> String {
    let mut shown: Vec<String> = triggers
        .iter()
        .take(5)
        .map(|t| format!("`{}` ({} {})", t.table, t.name, t.when))
        .collect();
    if triggers.len() > 5 {
        shown.push(format!("and {} more", triggers.len() - 5));
    }
    shown.join(", ")
}

/// A failed import into tables with triggers: says that they fired, since a
/// trigger writing rows the backup also holds (Sakila's `ins_film` filling
/// `film_text`) fails the load with an error about another table's rows.
fn trigger_note(e: Error, triggers: &[Trigger], noun: &str) -> Error {
    if triggers.is_empty() {
        return e;
    }
    let note = format!(
        "\n  = note: the target's triggers fired as rows loaded: {}; one that writes rows the {noun} also holds (a search or summary table) makes the load fail or differ\n  = help: on PostgreSQL and SQLite, `--triggers disable` (or `[import] triggers = \"disable\"`) switches them off for the load; elsewhere create such triggers after loading the data, as a dump file does",
        list_triggers(triggers)
    );
    match e {
        Error::Database { context, message } => Error::Database {
            context,
            message: message + &note,
        },
        Error::Engine(e) => e.with_note(note).into(),
        Error::Load(e) if !e.is_usage() => LoadError::TriggersFired { error: e, note }.into(),
        Error::Row(m) => Error::Row(m + &note),
        Error::TriggerDuplicate { table, message } => Error::TriggerDuplicate {
            table,
            message: message + &note,
        },
        other => {
            crate::events::note(note.trim_start().trim_start_matches("= note: "));
            other
        }
    }
}

/// Rolls back after `e` (a failed begin or commit leaves a transaction or
/// a session setting behind); `e` stays the error reported.
fn rolled_back(db: &mut dyn Backend, e: Error) -> Error {
    if let Err(r) = db.rollback() {
        crate::events::warning(r.to_string());
    }
    e
}

/// Rows of each table before the import, for the check after it.
fn rows_before(
    db: &mut dyn Backend,
    tables: &[String],
    opts: &ImportOptions,
) -> Result<HashMap<String, u64>> {
    if opts.dry_run {
        return Ok(HashMap::new());
    }
    if opts.replace {
        // Emptied first: the tables end with exactly the rows written.
        return Ok(tables.iter().map(|t| (t.clone(), 0)).collect());
    }
    tables
        .iter()
        .map(|t| Ok((t.clone(), db.count_rows(t)?)))
        .collect()
}

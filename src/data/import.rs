//! Import: one write transaction, tables in DAG order, rows streamed from the
//! backup into the database with a conflict policy.
//!
//! Rows arrive in file order. A table whose parents have not been imported
//! yet is parked in a spool until they have; a self-referencing row whose
//! parent row is not there yet waits likewise. Any failure rolls everything
//! back: the database is exactly as before.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::lossy::{self, LossyColumn};
use super::readback::{self, ReadBack, Slot};
use super::report::{ImportReport, TableCounts};
use super::{progress, select_tables};
use crate::adapters::{AdapterSet, Chain, Upgrader};
use crate::backend::{Backend, Engine, ReadRequest, WriteRequest};
use crate::catalog::{Catalog, ColumnInfo, TableInfo, Trigger};
use crate::dag::Dag;
use crate::error::{CONFLICTS_LISTED, Error, Result};
use crate::format::xlsx::{self, ExpectedTable};
use crate::format::{self, BackupMeta, BackupVisitor, Format, TableMeta};
use crate::plan::{Conflict, Plan, Triggers, same_name};
use crate::spool::Spool;
use crate::value::{ColumnType, Value, row_digest};

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

pub fn import(
    db: &mut dyn Backend,
    plan: &Plan,
    file: &Path,
    opts: &ImportOptions,
) -> Result<ImportReport> {
    match Format::detect(file)? {
        Format::Json => import_backup(db, plan, file, opts),
        Format::Xlsx => import_workbook(db, plan, file, opts),
    }
}

/// A JSON backup, upgraded through the plan's adapters when it is older
/// than the database.
fn import_backup(
    db: &mut dyn Backend,
    plan: &Plan,
    file: &Path,
    opts: &ImportOptions,
) -> Result<ImportReport> {
    let meta = format::read_meta(file)?;
    let adapters = AdapterSet::load(&plan.import.adapters)?;
    let chain = upgrade_chain(&adapters, &meta, opts.schema_version)?;
    let part = backup_part(file, meta, chain.as_ref(), None, opts.schema_version)?;
    Ok(load_parts(db, plan, vec![part], opts)?.remove(0))
}

/// A JSON backup as one part of a load, upgraded through `chain` when there
/// is one (every step checked against the backup's tables before a row
/// moves); without one, its schema version must not be newer than the
/// database's.
pub(super) fn backup_part<'f>(
    path: &'f Path,
    meta: BackupMeta,
    chain: Option<&'f Chain<'f>>,
    conflict: Option<Conflict>,
    db_version: Option<i64>,
) -> Result<Part<'f>> {
    let label = path.display().to_string();
    let Some(chain) = chain else {
        check_version(&label, &meta, db_version)?;
        return Ok(Part {
            meta,
            label,
            conflict,
            kind: PartKind::Backup,
            feed: Box::new(move |importer| format::read_backup(path, importer)),
        });
    };
    let meta = chain.plan(&meta)?.meta().clone();
    crate::events::note(format!(
        "upgrading the backup from schema version {} to {} through {} adapter step{} ({label})",
        chain.from,
        chain.to,
        chain.steps.len(),
        if chain.steps.len() == 1 { "" } else { "s" }
    ));
    Ok(Part {
        meta,
        label,
        conflict,
        kind: PartKind::Backup,
        feed: Box::new(move |importer| {
            format::read_backup(path, &mut Upgrader::new(chain, importer))
        }),
    })
}

/// The adapter chain from the backup's schema version up to the
/// database's, when the backup is older and the plan names adapters.
pub fn upgrade_chain<'a>(
    adapters: &'a AdapterSet,
    meta: &BackupMeta,
    db_version: Option<i64>,
) -> Result<Option<Chain<'a>>> {
    match (meta.schema_version, db_version) {
        (Some(b), Some(d)) if b < d && !adapters.is_empty() => Ok(Some(adapters.chain(b, d)?)),
        _ => Ok(None),
    }
}

/// A workbook: every cell is checked against the target's columns before
/// the transaction starts (all problems listed, nothing written).
fn import_workbook(
    db: &mut dyn Backend,
    plan: &Plan,
    file: &Path,
    opts: &ImportOptions,
) -> Result<ImportReport> {
    let expect: Vec<ExpectedTable> = db
        .catalog()?
        .tables
        .into_iter()
        .map(|t| ExpectedTable {
            name: t.name,
            columns: t.columns,
            primary_key: t.primary_key,
        })
        .collect();
    let book = xlsx::check_workbook(file, &expect, &plan.sheet_names())?;
    let meta = book.meta().clone();
    check_version(&file.display().to_string(), &meta, opts.schema_version)?;
    load(
        db,
        plan,
        &meta,
        opts,
        &file.display().to_string(),
        PartKind::Workbook,
        |importer| book.read(importer),
    )
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

/// One input of a load: a backup (or a source database) with the rows
/// `feed` hands to the importer.
pub(super) struct Part<'f> {
    pub meta: BackupMeta,
    pub label: String,
    /// Overrides every table's policy for this part (a chain's increments
    /// overwrite), before `--conflict` and the plan.
    pub conflict: Option<Conflict>,
    pub kind: PartKind,
    #[allow(clippy::type_complexity)]
    pub feed: Box<dyn FnOnce(&mut Importer<'_>) -> Result<()> + 'f>,
}

/// Where a part's rows come from, as messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PartKind {
    Backup,
    /// A source database (`copy`).
    Source,
    Workbook,
}

impl PartKind {
    fn noun(self) -> &'static str {
        match self {
            PartKind::Backup => "backup",
            PartKind::Source => "source",
            PartKind::Workbook => "workbook",
        }
    }

    /// What messages call loading it.
    fn load(self) -> &'static str {
        match self {
            PartKind::Source => "copy",
            PartKind::Backup | PartKind::Workbook => "import",
        }
    }

    /// The meta's column types are the source's own (a backup, a copy
    /// source), so the columns the target cannot hold exactly are found
    /// from them; a workbook's cells are typed by the target's columns.
    fn typed(self) -> bool {
        self != PartKind::Workbook
    }
}

/// Writes several inputs one after another into one transaction (an
/// incremental chain: the base, then each increment): every part's tables
/// and columns are checked before the transaction starts; a table may be
/// written by several parts. One report per part; commits unless a dry
/// run; any failure rolls everything back.
pub(super) fn load_parts(
    db: &mut dyn Backend,
    plan: &Plan,
    mut parts: Vec<Part<'_>>,
    opts: &ImportOptions,
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
    if let Err(e) = db.begin_write(&order) {
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
        engine: db.engine(),
    };
    let mut importer = Importer::new(db, checks, total);
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
    let result = result.and_then(|_| importer.verdict());
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
        Error::Mismatch(m) => Error::Mismatch(m + &note),
        Error::Engine(e) => e.with_note(note).into(),
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

/// A backup from a newer schema than the database cannot be imported; an
/// older one can when its columns still fit (checked per table).
fn check_version(label: &str, meta: &BackupMeta, db_version: Option<i64>) -> Result<()> {
    match (meta.schema_version, db_version) {
        (Some(b), Some(d)) if b > d => Err(Error::Mismatch(format!(
            "{label} is from schema version {b}, the database is at version {d}\n  = help: apply the newer schema scripts first (`migplan schema up PLAN`); nothing was changed"
        ))),
        (Some(b), None) => {
            // A database whose schema was made without refinery: the column
            // checks below still refuse a backup that does not fit.
            crate::events::note(format!(
                "{label} is from schema version {b}; the database records no schema version"
            ));
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A part after the first writes over rows earlier parts wrote, by key (an
/// increment replaces their earlier versions); a table without a key would
/// get its rows again beside the old ones. Refused before anything is
/// written.
fn refuse_keyless(label: &str, jobs: &HashMap<String, Job>) -> Result<()> {
    let Some(table) = jobs.iter().find(|(_, j)| j.key.is_empty()).map(|(t, _)| t) else {
        return Ok(());
    };
    Err(Error::Mismatch(format!(
        "{label}: table `{table}` has no primary key, so its rows in an increment cannot replace their earlier versions (they would be added again); nothing was changed\n  = help: give the table a primary key, or set `[tables.{table}] key` to the columns of a unique key"
    )))
}

/// How one table of the backup is written.
struct Job {
    columns: Vec<String>,
    /// The target's column for each of `columns`.
    targets: Vec<ColumnInfo>,
    key: Vec<String>,
    /// Positions of the key columns in a backup row.
    key_pos: Vec<usize>,
    /// Positions of the columns the target declares NOT NULL: a NULL there
    /// is refused before it is sent, naming the row.
    not_null: Vec<usize>,
    /// Positions of text columns of the backup whose target column holds
    /// numbers: a text there must read as one, or it is refused before it
    /// is sent (SQLite would store `abc` in a DECIMAL column as it is).
    numeric_from_text: Vec<usize>,
    /// Every column of the backup has its target column's portable type:
    /// values read back as written, so the whole-table digest may decide.
    same_types: bool,
    conflict: Conflict,
    /// Columns whose inexact conversion the plan accepts (`accept_lossy`).
    lossy: Vec<String>,
}

fn plan_jobs(
    plan: &Plan,
    catalog: &Catalog,
    part: &Part<'_>,
    conflict: Option<Conflict>,
    modules: &[String],
) -> Result<HashMap<String, Job>> {
    let chosen: Option<HashSet<String>> = if modules.is_empty() {
        None
    } else {
        Some(select_tables(plan, catalog, modules)?.into_iter().collect())
    };
    let (meta, noun) = (&part.meta, part.kind.noun());
    let mut jobs = HashMap::new();
    for t in &meta.tables {
        if chosen.as_ref().is_some_and(|c| !c.contains(&t.name)) {
            continue;
        }
        let info = catalog
            .table(&t.name)
            .ok_or_else(|| missing_table(&t.name, meta, noun))?;
        let conflict = conflict.unwrap_or_else(|| plan.conflict_for(&t.name));
        jobs.insert(t.name.clone(), job(plan, info, t, conflict, noun)?);
    }
    Ok(jobs)
}

fn missing_table(table: &str, meta: &BackupMeta, noun: &str) -> Error {
    // A copy source has no schema version of its own in its meta.
    let version = match meta.schema_version {
        Some(v) => format!(" ({noun} schema version {v})"),
        None if noun == "source" => String::new(),
        None => format!(" ({noun} schema version unknown)"),
    };
    Error::Mismatch(format!(
        "the {noun} holds table `{table}`, which the target database does not have{version}\n  = help: apply the schema scripts that create it, or move only some modules with `--modules`"
    ))
}

fn job(
    plan: &Plan,
    info: &TableInfo,
    t: &TableMeta,
    conflict: Conflict,
    noun: &str,
) -> Result<Job> {
    check_columns(info, t, noun)?;
    let columns: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
    let key = plan
        .table_options(&t.name)
        .key
        .unwrap_or_else(|| info.primary_key.clone());
    if !key.is_empty() && !info.is_unique_key(&key) {
        return Err(Error::Mismatch(format!(
            "the conflict key ({}) of `{}` is not its primary key or a unique key\n  = help: set `[tables.{}] key` to the columns of a primary or unique key",
            key.join(", "),
            t.name,
            t.name
        )));
    }
    let pos = |cols: &[String]| -> Option<Vec<usize>> {
        cols.iter()
            .map(|c| columns.iter().position(|x| x == c))
            .collect()
    };
    let key_pos = pos(&key).ok_or_else(|| {
        Error::Mismatch(format!(
            "the {noun} of `{}` leaves out a column of its conflict key ({})",
            t.name,
            key.join(", ")
        ))
    })?;
    let targets: Vec<ColumnInfo> = columns
        .iter()
        .map(|c| info.column(c).expect("checked above").clone())
        .collect();
    let not_null = targets
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.nullable)
        .map(|(i, _)| i)
        .collect();
    let same_types = t
        .columns
        .iter()
        .zip(&targets)
        .all(|(c, target)| c.ty == target.ty);
    let lossy = accepted_lossy(plan, info);
    let numeric_from_text = t
        .columns
        .iter()
        .zip(&targets)
        .enumerate()
        .filter(|(_, (c, target))| {
            matches!(c.ty, ColumnType::Text | ColumnType::Any)
                && matches!(target.ty, ColumnType::Int | ColumnType::Decimal | ColumnType::Float)
                // Accepted: the engine stores it as it does.
                && !lossy.contains(&target.name)
        })
        .map(|(i, _)| i)
        .collect();
    Ok(Job {
        columns,
        numeric_from_text,
        same_types,
        targets,
        key,
        key_pos,
        not_null,
        conflict,
        lossy,
    })
}

/// The table's columns `[tables.NAME] accept_lossy` names (either
/// spelling): the backend converts their values as the engine does rather
/// than refuse them, whether the types or a value showed the conversion.
pub(super) fn accepted_lossy(plan: &Plan, info: &TableInfo) -> Vec<String> {
    let accepted = plan.table_options(&info.name).accept_lossy;
    info.columns
        .iter()
        .filter(|c| accepted.iter().any(|a| same_name(a, &c.name)))
        .map(|c| c.name.clone())
        .collect()
}

/// Every backup column must exist in the table; every required column of the
/// table must be in the backup.
/// A source column type the target column cannot hold exactly is refused
/// here, before any row moves (docs/types.md).
fn check_columns(info: &TableInfo, t: &TableMeta, noun: &str) -> Result<()> {
    let columns: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
    if let Some(c) = columns.iter().find(|c| info.column(c).is_none()) {
        return Err(Error::Mismatch(format!(
            "the {noun} has column `{}`.`{c}`, which the target database's table does not have\n  = help: {}",
            info.name,
            match noun {
                "source" => "apply the schema scripts that add it to the target, or leave it out with `[tables.NAME] exclude`".to_string(),
                _ => format!("the {noun} may be from another schema version; upgrade it with version adapters or apply the matching schema scripts"),
            }
        )));
    }
    for from in &t.columns {
        let to = info.column(&from.name).expect("checked above");
        if !from.ty.carries_into(to.ty) {
            return Err(Error::Mismatch(format!(
                "column `{}`.`{}` is {} ({}) in the {noun} but {} ({}) in the target database, which cannot hold it exactly; nothing was changed\n  = help: {}",
                info.name,
                from.name,
                from.ty.name(),
                from.sql_type,
                to.ty.name(),
                to.sql_type,
                carry_help(from.ty, to.ty, &from.name, noun)
            )));
        }
    }
    if let Some(c) = info.columns.iter().find(|c| {
        !c.nullable
            && !c.has_default
            && !columns.contains(&c.name)
            && !info.primary_key.contains(&c.name)
    }) {
        return Err(Error::Mismatch(format!(
            "column `{}`.`{}` is NOT NULL without a default, and the {noun} does not have it",
            info.name, c.name
        )));
    }
    Ok(())
}

/// What the check after the import needs to know, fixed before rows move.
struct Checks {
    /// Same engine, one backup: an empty table may be checked by digest.
    fast: bool,
    /// Rows of each table before the import (empty: a dry run, unchecked).
    before: HashMap<String, u64>,
    /// The triggers that fire as rows load (none when switched off).
    triggers: Vec<Trigger>,
    engine: Engine,
}

/// How the rows of the table being written are kept for the check.
enum Recording {
    Nothing,
    /// Into the table's order-free digest.
    Digest,
    /// Parked by key on disk, read back by key.
    ByKey(Slot),
}

/// What to do about a column whose type does not carry into the target's;
/// a copy can leave the column out.
fn carry_help(from: ColumnType, to: ColumnType, column: &str, noun: &str) -> String {
    let fix = match (from, to) {
        (ColumnType::Set, ColumnType::Array) => format!(
            "a MySQL SET travels as its comma-separated labels (`a,b`), not as an array: make the target column text and convert it after the load (`string_to_array({column}, ',')`)"
        ),
        _ => "change the target column's type (docs/types.md lists what carries into what)".into(),
    };
    match noun {
        "source" => format!("{fix}, or leave the column out with `[tables.NAME] exclude`"),
        _ => fix,
    }
}

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
pub(super) struct Importer<'a> {
    db: &'a mut dyn Backend,
    jobs: HashMap<String, Job>,
    /// Each table's parents among the imported tables.
    parents: HashMap<String, Vec<String>>,
    done: HashSet<String>,
    parked: Vec<(String, Spool)>,
    current: Option<Current>,
    conflicts: Vec<String>,
    /// Rows refused under `error`, per table, in the order written.
    conflict_tables: Vec<(String, u64)>,
    counts: HashMap<String, TableCounts>,
    /// Rows written per table and the wrapping sum of their hashes: an
    /// order-free digest that the rows read back must reproduce.
    digests: HashMap<String, (u64, u128)>,
    checks: Checks,
    /// The read-back by key failed: its error names the triggers already.
    readback_failed: bool,
    /// How the rows of the table being written are recorded for the check.
    recording: Recording,
    /// The rows written that are read back by key.
    readback: Option<ReadBack>,
    /// Reused for each row's canonical encoding while digesting.
    digest_buf: Vec<u8>,
    /// The current part's table names that differ from the target's only
    /// in case: backup name → target name.
    renames: HashMap<String, String>,
    /// What messages call the load: an import, or a copy.
    what: &'static str,
    pub(super) bar: progress::Rows,
}

impl<'a> Importer<'a> {
    fn new(db: &'a mut dyn Backend, checks: Checks, total: u64) -> Self {
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
        self.db.begin_table(&req).map_err(|e| table_error(table, e))
    }

    fn write(&mut self, table: &str, row: &[Value]) -> Result<()> {
        self.bar.inc()?;
        let job = &self.jobs[table];
        if let Some(&i) = job
            .not_null
            .iter()
            .find(|&&i| matches!(row[i], Value::Null))
        {
            let e = Error::value(&job.columns[i], "NULL, and the column is NOT NULL");
            return Err(row_error(table, job, row, e, self.what));
        }
        if let Some(e) = not_a_number(job, row) {
            return Err(row_error(table, job, row, e, self.what));
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
    fn recording(&mut self, table: &str) -> Result<Recording> {
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

    fn end(&mut self, table: &str) -> Result<()> {
        self.recording = Recording::Nothing;
        let outcome = self.db.end_table().map_err(|e| table_error(table, e))?;
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
    fn next_part(
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
    fn replay_parked(&mut self, order: &[String]) -> Result<()> {
        for t in order {
            if let Some(i) = self.parked.iter().position(|(p, _)| p == t) {
                let (table, spool) = self.parked.remove(i);
                self.replay(table, spool)?;
            }
        }
        Ok(())
    }

    /// After the import, inside its transaction: every table holds as many
    /// rows as before plus those inserted, and the rows written read back
    /// as written — the whole table by its order-free digest, or the rows
    /// written by key (see [`Importer::recording`]).
    fn verify(&mut self, reports: &[ImportReport], before: &HashMap<String, u64>) -> Result<()> {
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
                                self.checks.engine,
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
    fn verdict(&mut self) -> Result<()> {
        if !self.conflict_tables.is_empty() {
            return Err(Error::Conflict {
                tables: self.conflict_tables.clone(),
                keys: self.conflicts.clone(),
            });
        }
        self.db.finish_write()
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
        self.bar.set_message(name.clone());
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

fn unverified(table: &str, load: &str, what: &str) -> Error {
    Error::Mismatch(format!(
        "verification after the {load} failed for `{table}`: {what}\n  = help: the database changed the data on its way in (a trigger, a rule, a type that does not keep the value); nothing was changed, the {load} was rolled back"
    ))
}

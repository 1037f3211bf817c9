//! Export: one consistent read snapshot, tables in DAG order, rows streamed
//! from the database into a backup written under a temporary name.

use std::path::PathBuf;

use chrono::{DateTime, FixedOffset};

use super::closure::Closure;
use super::report::{ExportReport, ExportedTable};
use super::{progress, select_tables};
use crate::backend::{Backend, ReadRequest};
use crate::catalog::{Catalog, TableInfo};
use crate::dag::Dag;
use crate::error::{Error, LoadError, Result};
use crate::format::{self, BackupMeta, FORMAT_NAME, FORMAT_VERSION, Format, Recipients, TableMeta};
use crate::plan::{ExportMode, Plan};

pub struct ExportOptions {
    pub mode: ExportMode,
    pub since: Option<DateTime<FixedOffset>>,
    /// Modules to export (modules mode); empty means all.
    pub modules: Vec<String>,
    pub output: PathBuf,
    pub format: Format,
    pub schema_version: Option<i64>,
    /// The id of the backup an incremental export follows (`--follows`).
    pub follows: Option<String>,
    /// Modules mode: add the rows the modules' rows reference, transitively
    /// (`[export] closure`, [`super::closure`]).
    pub closure: bool,
    /// What the progress calls this export: `exporting`, or `backup` for
    /// the backup before change (so a person is not told "exporting" when
    /// they asked for an import).
    pub verb: &'static str,
    /// The keys a JSON backup is encrypted to (`[backup] encrypt`, `export
    /// --encrypt-to`); the output's name ends `.age` then.
    pub encrypt: Option<Recipients>,
}

pub fn export(db: &mut dyn Backend, plan: &Plan, opts: &ExportOptions) -> Result<ExportReport> {
    if opts.mode == ExportMode::Incremental && opts.since.is_none() {
        return Err(LoadError::IncrementalNeedsSince.into());
    }
    if opts.mode == ExportMode::Modules && opts.modules.is_empty() {
        return Err(LoadError::ModulesNeedModules.into());
    }
    // Taken before the snapshot starts: a later increment that follows this
    // backup selects rows changed after it, so a row changed while the
    // snapshot was being set up lands in that increment, never in neither.
    let started = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    db.begin_read()?;
    // Tests change the database here: the export must not see it.
    crate::failpoint::pause("export-snapshot");
    let result = export_snapshot(db, plan, opts, started);
    db.rollback()?;
    result
}

fn export_snapshot(
    db: &mut dyn Backend,
    plan: &Plan,
    opts: &ExportOptions,
    started: String,
) -> Result<ExportReport> {
    let catalog = db.catalog()?;
    let modules = if opts.mode == ExportMode::Modules {
        opts.modules.clone()
    } else {
        vec![]
    };
    let mut tables = select_tables(plan, &catalog, &modules)?;
    let closure = match opts.closure && opts.mode == ExportMode::Modules {
        true => Some(Closure::collect(db, &catalog, &tables)?),
        false => None,
    };
    if let Some(c) = &closure {
        tables.extend(c.tables().map(String::from));
    }
    let dag = Dag::build(plan, &catalog, &tables)?;
    let metas = dag
        .order()
        .map(|t| {
            let mut meta = table_meta(db, plan, &catalog, t, opts)?;
            // A pulled-in table belongs to no exported module: in a modules
            // backup, `module: null` marks the closure's tables.
            if let Some(c) = closure.as_ref().filter(|c| c.contains(t)) {
                meta.module = None;
                meta.rows = c.rows(t);
            }
            Ok(meta)
        })
        .collect::<Result<Vec<_>>>()?;
    let names: Vec<String> = metas.iter().map(|t| t.name.clone()).collect();
    let full = opts.mode == ExportMode::Full;
    let sequences = super::sequences::carried(db, &names, full)?;
    let mut meta = backup_meta(db, plan, opts, modules, metas, started);
    meta.sequences = sequences;
    let mut writer = format::create_backup(
        &opts.output,
        &meta,
        opts.format,
        &plan.workbook_layout(),
        opts.encrypt.as_ref(),
    )?;
    let mut bar = progress::rows(meta.tables.iter().map(|t| t.rows).sum(), opts.verb);
    let mut exported = Vec::new();
    for t in &meta.tables {
        crate::events::checkpoint()?;
        bar.set_message(t.name.clone());
        writer.begin_table(t)?;
        let mut columns: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
        let exported_columns = columns.len();
        let filter = closure.as_ref().filter(|c| c.contains(&t.name));
        if let Some(c) = filter {
            columns.extend(c.extra_columns(&t.name, &columns));
        }
        let keys = filter.map_or(vec![], |c| c.key_positions(&t.name, &columns));
        let info = catalog.table(&t.name).expect("selected tables exist");
        let since = opts.since.filter(|_| opts.mode == ExportMode::Incremental);
        let req = ReadRequest {
            table: &t.name,
            columns: &columns,
            order_by: &info.primary_key,
            changed_since: t.changed_column.as_deref().zip(since),
        };
        db.read(&req, &mut |row| {
            if filter.is_some_and(|c| !c.keeps(&t.name, &keys, row)) {
                return Ok(());
            }
            bar.inc()?;
            writer.write_row(&row[..exported_columns])
        })?;
        let summary = writer.end_table()?;
        let whole = opts.mode == ExportMode::Incremental && t.changed_column.is_none();
        exported.push(ExportedTable {
            table: t.name.clone(),
            rows: summary.rows,
            whole,
            closure: filter.is_some(),
        });
    }
    // A workbook is assembled when it is finished, which it tells.
    bar.finish_and_clear();
    writer.finish()?;
    Ok(ExportReport {
        file: opts.output.display().to_string(),
        schema_version: opts.schema_version,
        export_type: meta.export_type,
        tables: exported,
    })
}

fn backup_meta(
    db: &dyn Backend,
    plan: &Plan,
    opts: &ExportOptions,
    modules: Vec<String>,
    tables: Vec<TableMeta>,
    exported_at: String,
) -> BackupMeta {
    let export_type = match opts.mode {
        ExportMode::Full => "full",
        ExportMode::Incremental => "incremental",
        ExportMode::Modules => "modules",
    };
    BackupMeta {
        format: FORMAT_NAME.into(),
        format_version: FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        plan: Some(plan.name.clone()),
        schema_version: opts.schema_version,
        exported_at,
        export_type: export_type.into(),
        modules,
        incremental_since: opts
            .since
            .filter(|_| opts.mode == ExportMode::Incremental)
            .map(|s| s.to_rfc3339()),
        source_engine: db.engine().name().into(),
        tables,
        backup_id: Some(format::new_backup_id()),
        follows: opts
            .follows
            .clone()
            .filter(|_| opts.mode == ExportMode::Incremental),
        sequences: vec![],
    }
}

pub(super) fn table_meta(
    db: &mut dyn Backend,
    plan: &Plan,
    catalog: &Catalog,
    name: &str,
    opts: &ExportOptions,
) -> Result<TableMeta> {
    let info = catalog.table(name).expect("selected tables exist");
    let options = plan.table_options(name);
    for ex in &options.exclude {
        if info.column(ex).is_none() {
            return Err(unknown_column(info, ex, "exclude"));
        }
    }
    if opts.format == Format::Xlsx {
        for column in options.labels.keys() {
            if info.column(column).is_none() {
                return Err(unknown_column(info, column, "labels"));
            }
        }
    }
    let changed_column = match opts.mode {
        ExportMode::Incremental => changed_column(info, options.updated_at.as_deref())?,
        _ => None,
    };
    Ok(TableMeta {
        name: name.to_string(),
        module: plan.module_of(name).map(|m| m.name.clone()),
        columns: info
            .columns
            .iter()
            .filter(|c| !options.exclude.contains(&c.name))
            .cloned()
            .collect(),
        primary_key: info.primary_key.clone(),
        foreign_keys: info.foreign_keys.clone(),
        rows: db.expected_rows(name)?,
        changed_column,
    })
}

/// The incremental column: the plan's `updated_at`, else a column named
/// `updated_at`, else none (the table is exported whole).
fn changed_column(info: &TableInfo, declared: Option<&str>) -> Result<Option<String>> {
    match declared {
        Some(c) if info.column(c).is_none() => Err(unknown_column(info, c, "updated_at")),
        Some(c) => Ok(Some(c.to_string())),
        None => Ok(info.column("updated_at").map(|c| c.name.clone())),
    }
}

/// The tables among `tables` whose change column (as an incremental
/// export picks it) leads no index, with that column: an incremental
/// export reads each of them whole to find its changed rows. A plan
/// naming a column the table lacks is left to the export to refuse.
pub fn unindexed_changes<'t>(
    plan: &Plan,
    catalog: &Catalog,
    tables: impl IntoIterator<Item = &'t str>,
) -> Vec<(String, String)> {
    tables
        .into_iter()
        .filter_map(|name| catalog.table(name))
        .filter_map(|info| {
            let declared = plan.table_options(&info.name).updated_at;
            let column = changed_column(info, declared.as_deref()).ok().flatten()?;
            (!info.leads_an_index(&column)).then(|| (info.name.clone(), column))
        })
        .collect()
}

fn unknown_column(info: &TableInfo, column: &str, key: &str) -> Error {
    let known: Vec<String> = info
        .columns
        .iter()
        .map(|c| format!("`{}`", c.name))
        .collect();
    LoadError::UnknownColumn {
        table: info.name.clone(),
        setting: key.to_string(),
        column: column.to_string(),
        known,
    }
    .into()
}

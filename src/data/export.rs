//! Export: one consistent read snapshot, tables in DAG order, rows streamed
//! from the database into a backup written under a temporary name.

use std::path::PathBuf;

use chrono::{DateTime, FixedOffset};

use super::closure::Closure;
use super::report::{ExportReport, ExportedTable};
use super::{parallel, progress, select_tables};
use crate::backend::{Backend, ReadRequest, TableReader};
use crate::catalog::{Catalog, TableInfo};
use crate::dag::Dag;
use crate::error::{Error, LoadError, Result};
use crate::format::{
    self, BackupMeta, BackupWriter, FORMAT_NAME, FORMAT_VERSION, Format, Recipients, TableMeta,
};
use crate::plan::{ExportMode, Plan};
use crate::value::{TableSummary, Value};

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
    /// Tables read at once, each by a reader of the same snapshot
    /// (`--jobs`); 1 reads them one after the other. The backup is the
    /// same byte for byte whatever the number.
    pub jobs: usize,
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
    // Workbooks are written in table order only: one reader.
    let readers = match opts.jobs > 1 && opts.format == Format::Json {
        true => db.begin_shared_read(opts.jobs)?,
        false => {
            db.begin_read()?;
            vec![]
        }
    };
    // Tests change the database here: the export must not see it.
    crate::failpoint::pause("export-snapshot");
    let result = export_snapshot(db, readers, plan, opts, started);
    db.rollback()?;
    result
}

fn export_snapshot(
    db: &mut dyn Backend,
    readers: Vec<Box<dyn TableReader>>,
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
    // A parallel export counts its tables' rows while its readers read.
    let parallel = !readers.is_empty();
    let counting = match parallel {
        true => Counting::Later,
        false => Counting::Now,
    };
    let metas = dag
        .order()
        .map(|t| {
            let mut meta = table_meta(db, plan, &catalog, t, opts, counting)?;
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
    let layout = plan.workbook_layout();
    let create = |meta: &BackupMeta| {
        format::create_backup(
            &opts.output,
            meta,
            opts.format,
            &layout,
            opts.encrypt.as_ref(),
        )
    };
    let total = |meta: &BackupMeta| meta.tables.iter().map(|t| t.rows).sum();
    let since = opts.since.filter(|_| opts.mode == ExportMode::Incremental);
    let jobs: Vec<TableJob> = meta
        .tables
        .iter()
        .map(|t| TableJob::new(t, &catalog, closure.as_ref(), since))
        .collect();
    let (writer, summaries) = match parallel {
        false => {
            let mut writer = create(&meta)?;
            let mut bar = progress::rows(total(&meta), opts.verb);
            let summaries = write_serially(db, &jobs, writer.as_mut(), &mut bar)?;
            // A workbook is assembled when it is finished, which it tells.
            bar.finish_and_clear();
            (writer, summaries)
        }
        // The counts (70 ms of a 1.2 s export, PostgreSQL counting by
        // scanning) run on the export's own connection while the readers
        // read; the meta goes first in the file, so the file is created
        // once they are known.
        true => {
            let open = || {
                let mut head = meta.clone();
                for t in head.tables.iter_mut() {
                    if !closure.as_ref().is_some_and(|c| c.contains(&t.name)) {
                        t.rows = expected_rows(db, t, opts)?;
                    }
                }
                Ok((create(&head)?, total(&head)))
            };
            parallel::write(readers, &jobs, opts.format, open, opts.verb)?
        }
    };
    let exported = jobs
        .iter()
        .zip(summaries)
        .map(|(job, summary)| ExportedTable {
            table: job.meta.name.clone(),
            rows: summary.rows,
            whole: opts.mode == ExportMode::Incremental && job.meta.changed_column.is_none(),
            closure: job.filter.is_some(),
        })
        .collect();
    writer.finish()?;
    Ok(ExportReport {
        file: opts.output.display().to_string(),
        schema_version: opts.schema_version,
        export_type: meta.export_type,
        tables: exported,
    })
}

/// One table of the export: what to read and which rows to keep.
pub(super) struct TableJob<'a> {
    pub(super) meta: &'a TableMeta,
    /// The columns read: the exported ones, then those a closure filter
    /// needs.
    columns: Vec<String>,
    exported_columns: usize,
    order_by: &'a [String],
    changed_since: Option<(&'a str, DateTime<FixedOffset>)>,
    pub(super) filter: Option<&'a Closure>,
    keys: Vec<Vec<usize>>,
}

impl<'a> TableJob<'a> {
    fn new(
        meta: &'a TableMeta,
        catalog: &'a Catalog,
        closure: Option<&'a Closure>,
        since: Option<DateTime<FixedOffset>>,
    ) -> Self {
        let mut columns: Vec<String> = meta.columns.iter().map(|c| c.name.clone()).collect();
        let exported_columns = columns.len();
        let filter = closure.filter(|c| c.contains(&meta.name));
        if let Some(c) = filter {
            columns.extend(c.extra_columns(&meta.name, &columns));
        }
        let keys = filter.map_or(vec![], |c| c.key_positions(&meta.name, &columns));
        let info = catalog.table(&meta.name).expect("selected tables exist");
        TableJob {
            meta,
            columns,
            exported_columns,
            order_by: &info.primary_key,
            changed_since: meta.changed_column.as_deref().zip(since),
            filter,
            keys,
        }
    }

    pub(super) fn request(&self) -> ReadRequest<'_> {
        ReadRequest {
            table: &self.meta.name,
            columns: &self.columns,
            order_by: self.order_by,
            changed_since: self.changed_since,
        }
    }

    /// The row's exported values, or `None` when the closure leaves it out.
    pub(super) fn kept<'r>(&self, row: &'r [Value]) -> Option<&'r [Value]> {
        if self
            .filter
            .is_some_and(|c| !c.keeps(&self.meta.name, &self.keys, row))
        {
            return None;
        }
        Some(&row[..self.exported_columns])
    }
}

/// Every table read through the export's own connection, in order.
fn write_serially(
    db: &mut dyn Backend,
    jobs: &[TableJob],
    writer: &mut dyn BackupWriter,
    bar: &mut progress::Rows,
) -> Result<Vec<TableSummary>> {
    let mut summaries = Vec::with_capacity(jobs.len());
    for job in jobs {
        crate::events::checkpoint()?;
        bar.set_message(job.meta.name.clone(), Some(job.meta.rows));
        writer.begin_table(job.meta)?;
        db.read(&job.request(), &mut |row| match job.kept(row) {
            Some(values) => {
                bar.inc()?;
                writer.write_row(values)
            }
            None => Ok(()),
        })?;
        summaries.push(writer.end_table()?);
    }
    Ok(summaries)
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
    count: Counting,
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
    let mut meta = TableMeta {
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
        rows: 0,
        changed_column,
    };
    meta.rows = match count {
        Counting::Now => expected_rows(db, &meta, opts)?,
        Counting::Later => db.estimated_rows(name)?.unwrap_or(0),
    };
    Ok(meta)
}

/// When a table's `rows` for the backup's meta are counted.
#[derive(Clone, Copy)]
pub(super) enum Counting {
    /// While the meta is built.
    Now,
    /// Later ([`expected_rows`]): the statistics' guess meanwhile, which
    /// orders a parallel export's tables largest first.
    Later,
}

/// The rows the export of `meta`'s table expects to write: an incremental
/// export counts only the rows it will read (counting the whole table was
/// half of its time).
fn expected_rows(db: &mut dyn Backend, meta: &TableMeta, opts: &ExportOptions) -> Result<u64> {
    match (meta.changed_column.as_deref(), opts.since) {
        (Some(column), Some(since)) => db.count_read(&ReadRequest {
            table: &meta.name,
            columns: &[],
            order_by: &[],
            changed_since: Some((column, since)),
        }),
        _ => db.expected_rows(&meta.name),
    }
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

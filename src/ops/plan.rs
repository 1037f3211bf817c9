//! `migplan plan`: the steps a plan would take, changing nothing.

use std::path::Path;

use serde::Serialize;

use crate::adapters::AdapterSet;
use crate::backend::{self, Backend, DbUrl, OpenOptions};
use crate::catalog::Catalog;
use crate::dag::Dag;
use crate::data::{self};
use crate::error::{Error, Result};
use crate::format;
use crate::plan::{self, ExportMode, Format, Plan, PlanKind};

use super::*;

#[derive(Debug, Clone, Default)]
pub struct PlanRequest {
    pub plan: PathBuf,
    /// The plan's `[env.NAME]` to run in (default: `MIGPLAN_ENV`, if set).
    pub env: Option<String>,
    pub db: Option<String>,
    /// Backup an import plan would read, overriding `[import] file` (shows
    /// the adapter steps that would upgrade it).
    pub file: Option<PathBuf>,
    /// Only the table graph, as Graphviz dot (no rows counted).
    pub graph_only: bool,
}

/// What `migplan plan` shows.
#[derive(Debug)]
pub enum PlanOutcome {
    Steps(Box<PlanView>),
    /// The table graph in Graphviz dot.
    Graph(String),
}

/// One step of `migplan plan`.
#[derive(Debug, Serialize)]
pub struct PlanStep {
    pub table: String,
    pub module: Option<String>,
    pub rows: u64,
    pub conflict: &'static str,
}

#[derive(Debug, Serialize)]
pub struct PlanView {
    pub plan: String,
    pub kind: PlanKind,
    pub database: String,
    pub pending_scripts: Vec<String>,
    /// The plan's `[database] seed`, when the run would load it: the
    /// database's tables are all empty once the schema phase is done.
    pub seed: Option<SeedStep>,
    /// The adapter chain an older backup goes through, one line each.
    pub adapters: Vec<String>,
    pub tables: Vec<PlanStep>,
    /// Tables `[export] closure` pulls in (their referenced rows only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub closure: Vec<ClosureStep>,
    /// Columns whose values the target cannot hold exactly, with the
    /// reason and whether the plan accepts the conversion.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lossy: Vec<data::LossyColumn>,
    /// Tables an incremental export plan reads whole: no index leads with
    /// their change column.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unindexed: Vec<UnindexedStep>,
    pub notes: Vec<String>,
}

/// The seed a run would load into the empty database.
#[derive(Debug, Serialize)]
pub struct SeedStep {
    pub file: String,
    /// The rows its meta counts (`None` when it says nothing of itself,
    /// e.g. a workbook made by hand, or cannot be read here).
    pub rows: Option<u64>,
}

/// Whether `run` would load the plan's seed, as `seed_if_empty` decides
/// it, read-only: an export or migrate plan (an import brings its own
/// rows, a copy has no `[database]`) whose tables are all empty. On a
/// database whose pending scripts are not applied here, the tables those
/// scripts create are empty after them.
pub(crate) fn seed_step(plan: &Plan, db: &mut dyn Backend) -> Result<Option<SeedStep>> {
    if !matches!(plan.kind, PlanKind::Export | PlanKind::Migrate) {
        return Ok(None);
    }
    let Some(seed) = plan.database.as_ref().and_then(|d| d.seed.as_ref()) else {
        return Ok(None);
    };
    let catalog = db.catalog()?;
    for t in data::select_tables(plan, &catalog, &[])? {
        if db.count_rows(&t)? > 0 {
            return Ok(None);
        }
    }
    let rows = format::peek_meta(seed)
        .ok()
        .flatten()
        .map(|meta| meta.tables.iter().map(|t| t.rows).sum());
    Ok(Some(SeedStep {
        file: seed.display().to_string(),
        rows,
    }))
}

/// A table whose change column leads no index, and the statement that
/// would add one. Without it, the server reads every row of the table to
/// find the few an incremental export wants, and that read is most of the
/// export's time.
#[derive(Debug, Serialize)]
pub struct UnindexedStep {
    pub table: String,
    pub column: String,
    pub create_index: String,
}

impl UnindexedStep {
    /// The note for people, with the statement as its help.
    pub fn describe(&self) -> String {
        format!(
            "every row of `{}` is read to find those changed: no index leads with `{}`\n  = help: {}",
            self.table, self.column, self.create_index
        )
    }
}

/// The unindexed change columns of an incremental export plan's tables
/// (in `order`). Other plans have none to tell: a full export reads every
/// row anyway (a `--since` or `--follows` given to `run` is not known
/// here), a modules export filters by module, not by change.
pub(crate) fn unindexed_view<'t>(
    plan: &Plan,
    catalog: &Catalog,
    order: impl IntoIterator<Item = &'t str>,
    dialect: &crate::backend::Dialect,
) -> Vec<UnindexedStep> {
    if plan.kind != PlanKind::Export || plan.export.mode != ExportMode::Incremental {
        return vec![];
    }
    data::unindexed_changes(plan, catalog, order)
        .into_iter()
        .map(|(table, column)| UnindexedStep {
            create_index: dialect.create_index(&table, &column),
            table,
            column,
        })
        .collect()
}

/// A table `[export] closure` pulls in, and the references that pull it in.
#[derive(Debug, Serialize)]
pub struct ClosureStep {
    pub table: String,
    pub referenced_by: Vec<String>,
}

/// The tables a modules export with `[export] closure` pulls in, from the
/// catalog's foreign keys (no rows read).
pub(crate) fn closure_view(plan: &Plan, catalog: &Catalog) -> Result<Vec<ClosureStep>> {
    if plan.kind != PlanKind::Export
        || !plan.export.closure
        || plan.export.mode != ExportMode::Modules
    {
        return Ok(vec![]);
    }
    let tables = data::select_tables(plan, catalog, &plan.export.modules)?;
    Ok(data::closure_tables(catalog, &tables)
        .into_iter()
        .map(|(table, referenced_by)| ClosureStep {
            table,
            referenced_by,
        })
        .collect())
}

/// `migplan plan PLAN`: the ordered steps, changing nothing.
pub fn show_plan(args: &PlanRequest) -> Result<PlanOutcome> {
    let plan = load_plan(&args.plan, args.env.as_deref())?;
    // A copy plan's scripts run on its target; its rows come from its source.
    let url = match plan.kind {
        PlanKind::Copy => copy_endpoint(&plan, plan.target.as_ref(), "target")?,
        _ => database_url(&plan, args.db.as_deref())?,
    };
    let (mut db, preview) = open_for_preview(&plan, &url)?;
    // A preview database is SQLite only where the real one is.
    let scripts = scripts(&plan, db.as_ref())?;
    let status = scripts.status(db.as_mut(), plan.schema.target)?;
    let version_after = status
        .applied
        .iter()
        .chain(&status.pending)
        .map(|s| s.version)
        .max();
    let adapters = match plan.kind {
        PlanKind::Import => adapter_chain(&plan, args.file.as_deref(), version_after)?,
        _ => vec![],
    };
    if preview.is_some() {
        scripts.apply(db.as_mut(), plan.schema.target, false)?;
    }
    let mut notes: Vec<String> = preview.into_iter().collect();
    notes.extend(plan.environment.as_ref().map(environment_note));
    if !status.pending.is_empty() && !db.transactional_ddl() {
        notes.push(DDL_NOTE.trim_start_matches("note: ").to_string());
    }
    let seed = seed_step(&plan, db.as_mut())?;
    let target_catalog = match plan.kind {
        PlanKind::Copy | PlanKind::Import => Some(db.catalog()?),
        _ => None,
    };
    let target_engine = db.engine();
    let mut source = match plan.kind {
        PlanKind::Copy => {
            let u = copy_endpoint(&plan, plan.source.as_ref(), "source")?;
            notes.push(format!(
                "rows are copied from {} into {}",
                u.redacted(),
                url.redacted()
            ));
            Some(backend::open(&u, &OpenOptions::default())?)
        }
        _ => None,
    };
    let source_engine = source.as_ref().map(|s| s.engine().name());
    let rows_db: &mut dyn Backend = match source.as_mut() {
        Some(s) => s.as_mut(),
        None => db.as_mut(),
    };
    let catalog = rows_db.catalog()?;
    let modules = if plan.export.mode == ExportMode::Modules {
        plan.export.modules.clone()
    } else {
        vec![]
    };
    let tables = data::select_tables(&plan, &catalog, &modules)?;
    let dag = Dag::build(&plan, &catalog, &tables)?;
    if args.graph_only {
        return Ok(PlanOutcome::Graph(dag.to_dot(&plan)));
    }
    for d in dag.deferred() {
        notes.push(format!(
            "foreign keys form a cycle: `{}` loads before `{}`, which its ({}) reference; the key is checked with all others after the load",
            d.child,
            d.parent,
            d.columns.join(", ")
        ));
    }
    let lossy = match (&target_catalog, source_engine) {
        (Some(target), Some(source_engine)) => data::lossy::find(
            &plan,
            target_engine,
            source_engine,
            target,
            copied_columns(&plan, &catalog, &dag)
                .iter()
                .map(|(t, c)| (t.as_str(), c.as_slice())),
        ),
        (Some(target), None) => match planned_backup(&plan, args.file.as_deref(), version_after)? {
            Some(meta) => data::lossy::in_backup(&plan, target_engine, target, &meta),
            None => vec![],
        },
        _ => vec![],
    };
    let mut steps = Vec::new();
    for t in dag.order() {
        steps.push(PlanStep {
            table: t.to_string(),
            module: plan.module_of(t).map(|m| m.name.clone()),
            rows: rows_db.count_rows(t)?,
            conflict: plan.conflict_for(t).name(),
        });
    }
    let view = PlanView {
        plan: plan.name.clone(),
        kind: plan.kind,
        database: url.redacted(),
        pending_scripts: status.pending.iter().map(|s| s.label()).collect(),
        seed,
        adapters,
        tables: steps,
        closure: closure_view(&plan, &catalog)?,
        lossy,
        unindexed: unindexed_view(&plan, &catalog, dag.order(), rows_db.dialect()),
        notes,
    };
    Ok(PlanOutcome::Steps(Box::new(view)))
}

/// The columns a copy reads from each source table, in load order (the
/// plan's `exclude` left out), with their types.
pub(crate) fn copied_columns(
    plan: &Plan,
    catalog: &Catalog,
    dag: &Dag,
) -> Vec<(String, Vec<crate::catalog::ColumnInfo>)> {
    dag.order()
        .filter_map(|t| catalog.table(t))
        .map(|info| {
            let exclude = plan.table_options(&info.name).exclude;
            let columns = info
                .columns
                .iter()
                .filter(|c| !exclude.contains(&c.name))
                .cloned()
                .collect();
            (info.name.clone(), columns)
        })
        .collect()
}

/// The meta of the JSON backup an import plan would read (`--file`, else
/// `[import] file`), upgraded through the plan's adapters to `target` as
/// the import would; `None` when there is none to read.
pub(crate) fn planned_backup(
    plan: &Plan,
    file: Option<&Path>,
    target: Option<i64>,
) -> Result<Option<format::BackupMeta>> {
    let file = file.map(Path::to_path_buf).or(plan.import.file.clone());
    let Some(f) = file.filter(|f| f.is_file()) else {
        return Ok(None);
    };
    if Format::detect(&f)? != Format::Json {
        return Ok(None);
    }
    let meta = format::read_meta(&f)?;
    if plan.import.adapters.is_empty() {
        return Ok(Some(meta));
    }
    let set = AdapterSet::load(&plan.import.adapters)?;
    match data::upgrade_chain(&set, &meta, target)? {
        Some(chain) => Ok(Some(chain.plan(&meta)?.meta().clone())),
        None => Ok(Some(meta)),
    }
}

/// What the plan's adapters would do to its backup: the chain from the
/// backup's schema version to `target`, checked against the backup's
/// tables; without a backup, every step the adapter files hold.
pub(crate) fn adapter_chain(
    plan: &Plan,
    file: Option<&Path>,
    target: Option<i64>,
) -> Result<Vec<String>> {
    if plan.import.adapters.is_empty() {
        return Ok(vec![]);
    }
    let set = AdapterSet::load(&plan.import.adapters)?;
    let file = file.map(Path::to_path_buf).or(plan.import.file.clone());
    let meta = match file {
        Some(f) if f.is_file() && Format::detect(&f)? == Format::Json => format::read_meta(&f)?,
        _ => {
            let mut lines =
                vec!["steps known (no backup given: pass --file to see its chain):".into()];
            lines.extend(set.steps().iter().map(|s| s.headline()));
            return Ok(lines);
        }
    };
    match data::upgrade_chain(&set, &meta, target)? {
        Some(chain) => {
            chain.plan(&meta)?;
            Ok(chain.describe().lines().map(String::from).collect())
        }
        None => Ok(vec![format!(
            "the backup is at schema version {}: no adapter step applies",
            meta.schema_version
                .map_or("unknown".into(), |v| v.to_string())
        )]),
    }
}

/// `migplan plan`'s line about the selected environment.
pub(crate) fn environment_note(env: &plan::Environment) -> String {
    let mut note = format!("environment `{}`", env.name);
    if env.confirm {
        note.push_str(": changes are confirmed first (`confirm = true`)");
    }
    if env.dry_run {
        note.push_str(match env.confirm {
            true => "; runs are dry runs unless --no-dry-run",
            false => ": runs are dry runs unless --no-dry-run",
        });
    }
    note
}

/// A copy plan's `[source]` or `[target]` URL (`section`).
pub(crate) fn copy_endpoint(
    plan: &Plan,
    url: Option<&String>,
    section: &'static str,
) -> Result<DbUrl> {
    match url {
        Some(u) => DbUrl::parse(u, plan.dir()),
        None => Err(Error::NoDatabase {
            plan: Some(plan.path.clone()),
            section,
        }),
    }
}

/// A database file that does not exist yet is previewed in memory, with the
/// pending scripts applied there, so the real file is not created.
pub(crate) fn open_for_preview(
    plan: &Plan,
    url: &DbUrl,
) -> Result<(Box<dyn Backend>, Option<String>)> {
    if url.sqlite_path().is_some_and(|p| !p.exists()) && plan.schema.migrations.is_some() {
        let mem = DbUrl::parse("sqlite://:memory:", Path::new("."))?;
        let note = "the database does not exist yet: tables are shown as the schema scripts will create them".to_string();
        return Ok((backend::open(&mem, &OpenOptions::default())?, Some(note)));
    }
    Ok((backend::open(url, &OpenOptions::default())?, None))
}

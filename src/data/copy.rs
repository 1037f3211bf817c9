//! Copy: rows streamed from a source database straight into a target
//! database (`kind = "copy"`), with no file in between, like pgloader.
//!
//! The source is read in one consistent snapshot, table by table in DAG
//! order; the target is written in one transaction by the same importer as
//! a backup import, so conflict policies, the documented value mapping and
//! the all-or-nothing guarantee are the same.

use std::path::PathBuf;

use super::export::{Counting, ExportOptions, table_meta};
use super::import::{ImportOptions, PartKind, load};
use super::report::ImportReport;
use super::select_tables;
use crate::backend::{Backend, ReadRequest};
use crate::dag::Dag;
use crate::error::Result;
use crate::format::{BackupMeta, BackupVisitor, FORMAT_NAME, FORMAT_VERSION};
use crate::plan::{ExportMode, Plan};

pub struct CopyOptions {
    /// How the source is named in reports (its redacted URL).
    pub source_label: String,
    pub import: ImportOptions,
}

pub fn copy(
    source: &mut dyn Backend,
    target: &mut dyn Backend,
    plan: &Plan,
    opts: &CopyOptions,
) -> Result<ImportReport> {
    source.begin_read()?;
    let result = copy_snapshot(source, target, plan, opts);
    // The copy's own outcome is the answer: the target may have committed.
    if let Err(e) = source.rollback() {
        crate::events::warning(format!("ending the source snapshot: {e}"));
    }
    result
}

fn copy_snapshot(
    source: &mut dyn Backend,
    target: &mut dyn Backend,
    plan: &Plan,
    opts: &CopyOptions,
) -> Result<ImportReport> {
    let catalog = source.catalog()?;
    let tables = select_tables(plan, &catalog, &opts.import.modules)?;
    let dag = Dag::build(plan, &catalog, &tables)?;
    let export = ExportOptions {
        verb: "exporting",
        mode: ExportMode::Full,
        since: None,
        modules: vec![],
        output: PathBuf::new(),
        format: crate::format::Format::Json,
        schema_version: None,
        follows: None,
        closure: false,
        encrypt: None,
        jobs: 1,
    };
    let metas = dag
        .order()
        .map(|t| table_meta(source, plan, &catalog, t, &export, Counting::Now))
        .collect::<Result<Vec<_>>>()?;
    let names: Vec<String> = metas.iter().map(|t| t.name.clone()).collect();
    let sequences = super::sequences::carried(source, &names, opts.import.modules.is_empty())?;
    let meta = BackupMeta {
        format: FORMAT_NAME.into(),
        format_version: FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        plan: Some(plan.name.clone()),
        schema_version: None,
        exported_at: chrono::Utc::now().to_rfc3339(),
        export_type: "full".into(),
        modules: vec![],
        incremental_since: None,
        backup_id: None,
        follows: None,
        sequences,
        source_engine: source.engine().name().into(),
        tables: metas,
    };
    let label = format!("copy from {}", opts.source_label);
    load(
        target,
        plan,
        &meta,
        &opts.import,
        &label,
        PartKind::Source,
        |importer| {
            for t in &meta.tables {
                importer.begin_table(t)?;
                let columns: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
                let req = ReadRequest {
                    table: &t.name,
                    columns: &columns,
                    order_by: &t.primary_key,
                    changed_since: None,
                };
                source.read(&req, &mut |row| importer.row(row))?;
                importer.end_table(t)?;
            }
            Ok(())
        },
    )
}

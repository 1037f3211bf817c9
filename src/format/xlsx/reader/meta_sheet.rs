//! The sheets migplan writes beside the data: `_meta` (the backup's meta
//! and each table's sheets and column notes, as JSON in chunks, checked
//! whole) and `_marks` (cells whose value the column's type alone would not
//! give back).

use std::path::Path;

use calamine::Reader;

use super::rows::for_each_row;
use super::sheets::{TablePlan, is_own_sheet};
use super::{Book, Problems, backup_error};
use crate::error::Result;
use crate::format::xlsx::cell::{In, Kind};
use crate::format::xlsx::names::META_SHEET;
use crate::format::xlsx::{META_JSON_LABEL, WORKBOOK_VERSION, WorkbookMeta};
use crate::format::{BackupMeta, FORMAT_NAME, FORMAT_VERSION, TableMeta, limits};

pub(super) fn read_meta_sheet(path: &Path, book: &mut Book) -> Result<Option<WorkbookMeta>> {
    if !book.sheet_names().iter().any(|s| s == META_SHEET) {
        return Ok(None);
    }
    let mut json = String::new();
    // The JSON is one value: each chunk passed the package scan, their sum
    // must stay within the same limit.
    let limit = limits::current().max_value_bytes;
    // Formulas in `_meta` are refused at once: its JSON would be wrong.
    let formulas = for_each_row(path, book, META_SHEET, false, &mut |_, cells| {
        let label = cells.iter().find(|(c, _)| *c == 0).map(|(_, v)| v);
        if matches!(label, Some(In::Str(s)) if s == META_JSON_LABEL)
            && let Some((_, In::Str(chunk))) = cells.iter().find(|(c, _)| *c == 1)
        {
            if (json.len() + chunk.len()) as u64 > limit {
                return Err(backup_error(
                    path,
                    format!(
                        "the `{META_SHEET}` sheet's `{META_JSON_LABEL}` is longer than {}, the limit (`[import] max_value_bytes`)\n  = help: raise `max_value_bytes` in the plan's `[import]` if the file is trusted",
                        limits::bytes_shown(limit)
                    ),
                ));
            }
            json.push_str(chunk);
        }
        Ok(())
    })?;
    if formulas.total > 0 {
        return Err(formulas.into_error(path));
    }
    if json.is_empty() {
        return Err(backup_error(
            path,
            format!(
                "the `{META_SHEET}` sheet holds no `{META_JSON_LABEL}` rows: it was not written by migplan, or was damaged (rename or delete the sheet to import the workbook as one made by hand)"
            ),
        ));
    }
    let raw: serde_json::Value = serde_json::from_str(&json).map_err(|e| {
        backup_error(
            path,
            format!("the `{META_SHEET}` sheet's JSON is damaged: {e}"),
        )
    })?;
    let version = raw.get("workbook_version").and_then(|v| v.as_u64());
    if let Some(v) = version.filter(|v| *v > u64::from(WORKBOOK_VERSION)) {
        return Err(backup_error(
            path,
            format!(
                "this workbook was written by a newer migplan (workbook version {v}); this migplan reads up to {WORKBOOK_VERSION}"
            ),
        ));
    }
    let wm: WorkbookMeta = serde_json::from_value(raw).map_err(|e| {
        backup_error(
            path,
            format!("the `{META_SHEET}` sheet's JSON is damaged: {e}"),
        )
    })?;
    if wm.backup.format != FORMAT_NAME {
        return Err(backup_error(
            path,
            format!(
                "not a migplan workbook: its `{META_SHEET}` has format {:?}",
                wm.backup.format
            ),
        ));
    }
    if wm.backup.format_version > FORMAT_VERSION {
        return Err(backup_error(
            path,
            format!(
                "this backup was written by a newer migplan (format version {}); this migplan reads up to {FORMAT_VERSION}",
                wm.backup.format_version
            ),
        ));
    }
    if let Err(p) = crate::format::meta::check(&wm.backup) {
        return Err(backup_error(
            path,
            format!("the `{META_SHEET}` sheet's {}: {}", p.path(), p.message),
        ));
    }
    Ok(Some(wm))
}

pub(super) fn backup_meta(wm: Option<&WorkbookMeta>, tables: Vec<TableMeta>) -> BackupMeta {
    match wm {
        Some(wm) => BackupMeta {
            tables,
            ..wm.backup.clone()
        },
        None => BackupMeta {
            format: FORMAT_NAME.into(),
            format_version: FORMAT_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").into(),
            plan: None,
            schema_version: None,
            exported_at: chrono::Utc::now().to_rfc3339(),
            export_type: "workbook".into(),
            modules: Vec::new(),
            incremental_since: None,
            backup_id: None,
            follows: None,
            sequences: vec![],
            source_engine: "xlsx".into(),
            tables,
        },
    }
}

pub(super) fn read_marks(
    path: &Path,
    book: &mut Book,
    tables: &mut [TablePlan],
    problems: &mut Problems,
) -> Result<()> {
    let sheets: Vec<String> = book
        .sheet_names()
        .into_iter()
        .filter(|s| s != META_SHEET && is_own_sheet(s))
        .collect();
    for sheet in sheets {
        let formulas = for_each_row(path, book, &sheet, false, &mut |row, cells| {
            if row == 0 {
                return Ok(());
            }
            let field = |i: u32| match cells.iter().find(|(c, _)| *c == i) {
                Some((_, In::Str(s))) => s.to_string(),
                _ => String::new(),
            };
            let (table, key, column, kind, fp) = (field(0), field(1), field(2), field(3), field(4));
            let Some(kind) = Kind::parse(&kind) else {
                return Ok(());
            };
            if let Some(t) = tables.iter_mut().find(|t| t.expect.name == table) {
                t.marks.entry(key).or_default().push((column, kind, fp));
            }
            Ok(())
        })?;
        problems.append(formulas);
    }
    Ok(())
}

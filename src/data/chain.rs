//! Incremental chains: a full (or modules) backup, then the incremental
//! backups that follow it, each recording the `backup_id` of the one before
//! (`follows`). The chain is checked whole before anything is written, then
//! every backup goes into the one write transaction, in order; increments
//! overwrite the rows they carry.

use std::path::{Path, PathBuf};

use super::import::{backup_part, import_into, load_parts_into};
use super::preview::Collector;
use super::{ImportOptions, ImportReport, upgrade_chain};
use crate::adapters::AdapterSet;
use crate::backend::Backend;
use crate::error::{Error, LoadError, Result};
use crate::format::{self, Backup, BackupMeta, ReadOptions};
use crate::plan::{Conflict, Plan};

/// Imports `files`: one backup as ever, or a chain — several backups in
/// order, or one folder whose JSON backups are ordered by their links.
pub fn import_files(
    db: &mut dyn Backend,
    plan: &Plan,
    files: &[PathBuf],
    opts: &ImportOptions,
) -> Result<Vec<ImportReport>> {
    import_files_into(db, plan, files, opts, None)
}

/// [`import_files`], its rows handed to `preview` when there is one.
pub(super) fn import_files_into(
    db: &mut dyn Backend,
    plan: &Plan,
    files: &[PathBuf],
    opts: &ImportOptions,
    preview: Option<&mut Collector>,
) -> Result<Vec<ImportReport>> {
    let chain = match files {
        [one] if one.is_dir() => from_folder(one)?,
        [one] => return Ok(vec![import_into(db, plan, one, opts, preview)?]),
        many => in_order(many)?,
    };
    let adapters = AdapterSet::load(&plan.import.adapters)?;
    let upgrades = chain
        .iter()
        .map(|b| upgrade_chain(&adapters, b.meta(), opts.schema_version))
        .collect::<Result<Vec<_>>>()?;
    let mut parts = Vec::new();
    for (i, (backup, up)) in chain.into_iter().zip(&upgrades).enumerate() {
        // The base keeps the plan's policy; each increment overwrites.
        let conflict = (i > 0).then_some(Conflict::Overwrite);
        parts.push(backup_part(
            backup,
            up.as_ref(),
            conflict,
            opts.schema_version,
        )?);
    }
    load_parts_into(db, plan, parts, opts, preview)
}

/// Reads what can be read of `files` without a database — that each exists
/// and is readable, its format, its meta, a chain's links — so that a bad
/// input stops a run before the backup before change and before any schema
/// script.
pub fn check_inputs(files: &[PathBuf]) -> Result<()> {
    match files {
        [] => Ok(()),
        [one] if one.is_dir() => from_folder(one).map(drop),
        [one] => format::check_readable(one),
        many => in_order(many).map(drop),
    }
}

/// Several backups in whatever order they were picked (a browser gives
/// them by name), put in chain order: the full (or modules) backup first,
/// then each increment after the one it follows. Files that do not fit
/// are kept after the others, so that the chain's check names the first
/// one that breaks it.
pub fn ordered(files: &[PathBuf]) -> Result<Vec<PathBuf>> {
    if files.len() < 2 {
        return Ok(files.to_vec());
    }
    let backups = open_all(files)?;
    let mut left: Vec<usize> = (0..backups.len()).collect();
    let mut order = vec![];
    let base = left
        .iter()
        .position(|&i| backups[i].meta().export_type != "incremental");
    if let Some(b) = base {
        order.push(left.remove(b));
        loop {
            let last = backups[*order.last().expect("the base")].meta();
            let Some(id) = last.backup_id.as_deref() else {
                break;
            };
            let Some(next) = left
                .iter()
                .position(|&i| backups[i].meta().follows.as_deref() == Some(id))
            else {
                break;
            };
            order.push(left.remove(next));
        }
    }
    order.extend(left);
    let paths: Vec<PathBuf> = order.into_iter().map(|i| files[i].clone()).collect();
    in_order(&paths)?;
    Ok(paths)
}

fn name(path: &Path) -> String {
    path.display().to_string()
}

fn id_of(meta: &BackupMeta) -> &str {
    meta.backup_id.as_deref().unwrap_or("no id")
}

/// The files opened, their metas read; they must all be JSON backups.
fn open_all(files: &[PathBuf]) -> Result<Vec<Backup>> {
    let no_sheets = format::xlsx::Layout::default();
    files
        .iter()
        .map(|f| {
            // Asked for a workbook only: refused before it is read.
            let mut workbook = || Err(Error::from(LoadError::ChainWorkbook { file: name(f) }));
            let opts = ReadOptions {
                expected: &mut workbook,
                layout: &no_sheets,
            };
            format::open(f, opts)
        })
        .collect()
}

/// Several files given in order: the first is the base, each next one an
/// incremental backup following the one before it.
fn in_order(files: &[PathBuf]) -> Result<Vec<Backup>> {
    let chain = open_all(files)?;
    let (base, base_meta) = (chain[0].path(), chain[0].meta());
    if base_meta.export_type == "incremental" {
        return Err(LoadError::ChainStartsIncremental { file: name(base) }.into());
    }
    for w in 0..chain.len() - 1 {
        let (prev, prev_meta) = (chain[w].path(), chain[w].meta());
        let (next, next_meta) = (chain[w + 1].path(), chain[w + 1].meta());
        if next_meta.export_type != "incremental" {
            return Err(LoadError::ChainNotIncremental {
                file: name(next),
                export_type: next_meta.export_type.clone(),
            }
            .into());
        }
        let Some(follows) = next_meta.follows.as_deref() else {
            return Err(no_link(next));
        };
        if prev_meta.backup_id.as_deref() == Some(follows) {
            continue;
        }
        // The backup it follows comes later in the list: out of order.
        if let Some(later) = chain[w + 2..]
            .iter()
            .find(|b| b.meta().backup_id.as_deref() == Some(follows))
        {
            return Err(LoadError::ChainOutOfOrder {
                file: name(next),
                follows: follows.to_string(),
                later: name(later.path()),
            }
            .into());
        }
        return Err(LoadError::ChainGap {
            file: name(next),
            follows: follows.to_string(),
            previous: name(prev),
            previous_id: id_of(prev_meta).to_string(),
        }
        .into());
    }
    Ok(chain)
}

fn no_link(file: &Path) -> Error {
    LoadError::ChainNoLink { file: name(file) }.into()
}

/// A folder: the chain that ends at its newest backup, walked back along
/// `follows` to a full (or modules) backup. Backups not on it are left out.
fn from_folder(dir: &Path) -> Result<Vec<Backup>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && format::is_json_backup_name(p))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(LoadError::FolderEmpty { dir: dir.into() }.into());
    }
    let all = open_all(&files)?;
    let instant = |m: &BackupMeta| chrono::DateTime::parse_from_rfc3339(&m.exported_at).ok();
    // The chain ends at the newest full or incremental backup: a newer
    // partial (modules) export holds only some tables and must not stand in
    // for the database.
    let newest = (0..all.len())
        .filter(|&i| matches!(all[i].meta().export_type.as_str(), "full" | "incremental"))
        .max_by_key(|&i| (instant(all[i].meta()), i))
        .ok_or_else(|| Error::from(LoadError::FolderNoFullBackup { dir: dir.into() }))?;
    let mut chain = vec![newest];
    loop {
        let last = &all[*chain.last().expect("not empty")];
        let (path, meta) = (last.path(), last.meta());
        if meta.export_type != "incremental" {
            break;
        }
        let follows = meta.follows.as_deref().ok_or_else(|| no_link(path))?;
        let Some(prev) = all
            .iter()
            .position(|b| b.meta().backup_id.as_deref() == Some(follows))
        else {
            return Err(LoadError::FolderGap {
                file: name(path),
                follows: follows.to_string(),
                dir: dir.into(),
            }
            .into());
        };
        if chain.contains(&prev) {
            return Err(LoadError::FolderLoop { dir: dir.into() }.into());
        }
        chain.push(prev);
    }
    chain.reverse();
    if chain.len() < all.len() {
        crate::events::note(format!(
            "{} of the {} backups in {} are not on the chain ending at {} and are left out",
            all.len() - chain.len(),
            all.len(),
            dir.display(),
            name(all[newest].path())
        ));
    }
    // Each backup is on the chain once: taken out, not copied.
    let mut all: Vec<Option<Backup>> = all.into_iter().map(Some).collect();
    Ok(chain
        .into_iter()
        .map(|i| all[i].take().expect("on the chain once"))
        .collect())
}

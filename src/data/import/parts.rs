//! What a load reads: backup files as parts (one, or an incremental chain's
//! several), their schema versions against the database's, upgraded
//! through the plan's adapters when older.

use std::collections::HashMap;

use super::importer::Importer;
use super::jobs::Job;
use crate::adapters::{AdapterSet, Chain, Upgrader};
use crate::error::{LoadError, Result};
use crate::format::{Backup, BackupMeta, Format};
use crate::plan::Conflict;

/// A backup file as one part of a load, upgraded through `chain` when
/// there is one (every step checked against the backup's tables before a
/// row moves); without one, its schema version must not be newer than the
/// database's.
pub(in crate::data) fn backup_part<'f>(
    backup: Backup,
    chain: Option<&'f Chain<'f>>,
    conflict: Option<Conflict>,
    db_version: Option<i64>,
) -> Result<Part<'f>> {
    let label = backup.path().display().to_string();
    let kind = PartKind::of(&backup);
    let Some(chain) = chain else {
        check_version(&label, backup.meta(), db_version)?;
        return Ok(Part {
            meta: backup.meta().clone(),
            label,
            conflict,
            kind,
            feed: Box::new(move |importer| backup.read(importer)),
        });
    };
    let meta = chain.plan(backup.meta())?.meta().clone();
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
        kind,
        feed: Box::new(move |importer| backup.read(&mut Upgrader::new(chain, importer))),
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

/// One input of a load: a backup (or a source database) with the rows
/// `feed` hands to the importer.
pub(in crate::data) struct Part<'f> {
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
pub(in crate::data) enum PartKind {
    Backup,
    /// A source database (`copy`).
    Source,
    Workbook,
}

impl PartKind {
    /// A backup file's kind: a JSON backup, or a workbook.
    pub(super) fn of(backup: &Backup) -> PartKind {
        match backup.kind() {
            Format::Json => PartKind::Backup,
            Format::Xlsx => PartKind::Workbook,
        }
    }

    pub(super) fn noun(self) -> &'static str {
        match self {
            PartKind::Backup => "backup",
            PartKind::Source => "source",
            PartKind::Workbook => "workbook",
        }
    }

    /// What messages call loading it.
    pub(super) fn load(self) -> &'static str {
        match self {
            PartKind::Source => "copy",
            PartKind::Backup | PartKind::Workbook => "import",
        }
    }

    /// The meta's column types are the source's own (a backup, a copy
    /// source), so the columns the target cannot hold exactly are found
    /// from them; a workbook's cells are typed by the target's columns.
    pub(super) fn typed(self) -> bool {
        self != PartKind::Workbook
    }
}

/// A backup from a newer schema than the database cannot be imported; an
/// older one can when its columns still fit (checked per table).
fn check_version(label: &str, meta: &BackupMeta, db_version: Option<i64>) -> Result<()> {
    match (meta.schema_version, db_version) {
        (Some(b), Some(d)) if b > d => Err(LoadError::BackupNewer {
            label: label.to_string(),
            backup: b,
            database: d,
        }
        .into()),
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
pub(super) fn refuse_keyless(label: &str, jobs: &HashMap<String, Job>) -> Result<()> {
    let Some(table) = jobs.iter().find(|(_, j)| j.key.is_empty()).map(|(t, _)| t) else {
        return Ok(());
    };
    Err(LoadError::KeylessInChain {
        label: label.to_string(),
        table: table.to_string(),
    }
    .into())
}

//! `migplan verify`: a backup compared with a live database.

use crate::backend::{self, OpenOptions};
use crate::data::{self};
use crate::error::Result;
use crate::format;
use crate::plan::{self, Plan};

use super::*;

#[derive(Debug, Clone, Default)]
pub struct VerifyRequest {
    /// The backup (JSON, compressed JSON or a workbook).
    pub file: PathBuf,
    /// The database to compare with.
    pub db: Option<String>,
    /// A plan whose `[database] url` is compared with (and whose sheet
    /// names and labels a workbook uses); `--db` overrides its URL.
    pub plan: Option<PathBuf>,
    /// Compare only these tables (comma-separated).
    pub tables: Vec<String>,
    /// How many keys to list per kind of difference and table.
    pub limit: usize,
}

/// `migplan verify FILE --db URL`: the backup compared with the database in
/// one read snapshot; exit 1 when they differ.
pub fn verify(args: &VerifyRequest) -> Result<data::VerifyReport> {
    let plan = args.plan.as_deref().map(plan::load).transpose()?;
    if let Some(p) = &plan {
        format::limits::set(p.import.limits);
    }
    let url = db_or_plan(args.db.as_deref(), plan.as_ref())?;
    let opts = data::VerifyOptions {
        tables: (!args.tables.is_empty()).then(|| args.tables.clone()),
        limit: args.limit,
    };
    let sheets = plan.as_ref().map(Plan::workbook_layout).unwrap_or_default();
    let mut db = backend::open(&url, &OpenOptions::default())?;
    db.begin_read()?;
    let result = data::verify_with_layout(db.as_mut(), &args.file, &opts, &sheets);
    db.rollback()?;
    result
}

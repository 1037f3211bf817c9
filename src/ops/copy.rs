//! A copy plan: rows from the source database into the target, in one transaction.

use std::path::Path;
use std::time::Duration;

use crate::backend::{self, Backend, DbUrl, OpenOptions};
use crate::data;
use crate::error::{Error, Result};
use crate::history;
use crate::plan::Plan;

use super::*;

/// A copy plan: the schema phase on the target, then rows streamed from the
/// source's snapshot into the target's single transaction.
pub(crate) fn copy(plan: &Plan, args: &RunRequest, dry_run: bool) -> Result<Outcome> {
    let endpoint = |flag: &Option<String>, planned: &Option<String>, which| match flag {
        Some(u) => DbUrl::parse(u, Path::new(".")),
        None => copy_endpoint(plan, planned.as_ref(), which),
    };
    let source_url = endpoint(&args.source, &plan.source, "source")?;
    let target_url = endpoint(&args.target, &plan.target, "target")?;
    if source_url == target_url {
        return Err(Error::SameDatabase {
            url: source_url.to_string(),
        });
    }
    let mut source = backend::open(&source_url, &OpenOptions::default())?;
    let data = format!("copy rows from {} into it", source_url.redacted());
    let confirmed = Confirmed {
        yes: args.yes,
        dry_run,
        wait: Duration::from_secs(args.record.lock_timeout),
    };
    let mut target = confirmed.open(plan, &target_url, Some(data))?;
    let before = status_of(plan, target.as_mut())
        .map_err(|e| history::explain_busy(target.as_mut(), e))?
        .version();
    let mut work = |target: &mut dyn Backend, end: &mut history::End| {
        if !dry_run {
            backup_before(plan, target, before, end)?;
        }
        let status = schema_phase(plan, target, dry_run, args.resume)?;
        end.schema_after = status.version();
        let opts = data::CopyOptions {
            source_label: source_url.redacted(),
            import: args
                .load
                .import(&args.modules, dry_run, status.version(), end.run_id),
        };
        let report = data::copy(source.as_mut(), target, plan, &opts)?;
        end.tables = serde_json::to_value(&report).ok();
        Ok(Outcome::Copy(report))
    };
    if dry_run {
        return work(target.as_mut(), &mut history::End::default());
    }
    let start = history_start(plan, "copy", &args.record, before);
    recorded(
        target.as_mut(),
        &args.record,
        start,
        (plan, &target_url),
        work,
    )
}

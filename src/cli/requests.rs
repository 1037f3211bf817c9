//! Each command's arguments turned into its operation's request: the one
//! place where clap's words meet the operations' types.

use std::path::PathBuf;

use super::args::*;
use crate::error::{Error, Result, RunArgument};
use crate::ops;

/// A plan and a run id from `history`/`rollback` arguments, in any order.
fn plan_and_run(args: &[String]) -> Result<(Option<PathBuf>, Option<i64>)> {
    let (ids, plans): (Vec<&String>, Vec<&String>) = args
        .iter()
        .partition(|a| !a.is_empty() && a.chars().all(|c| c.is_ascii_digit()));
    if ids.len() > 1 || plans.len() > 1 {
        return Err(Error::BadRunArguments {
            problem: RunArgument::TooMany,
        });
    }
    let id = match ids.first() {
        Some(i) => Some(i.parse().map_err(|_| Error::BadRunArguments {
            problem: RunArgument::NotAnId(i.to_string()),
        })?),
        None => None,
    };
    Ok((plans.first().map(PathBuf::from), id))
}

impl TryFrom<&RollbackArgs> for ops::RollbackRequest {
    type Error = Error;
    fn try_from(a: &RollbackArgs) -> Result<Self> {
        let (plan, run) = plan_and_run(&a.args)?;
        let run = run.ok_or(Error::BadRunArguments {
            problem: RunArgument::Missing,
        })?;
        Ok(ops::RollbackRequest {
            plan,
            run,
            db: a.db.clone(),
            yes: a.yes,
            force: a.force,
            record: (&a.record).into(),
        })
    }
}

impl From<&StatusArgs> for ops::StatusRequest {
    fn from(a: &StatusArgs) -> Self {
        ops::StatusRequest {
            plan: a.plan.clone(),
            db: a.db.clone(),
        }
    }
}

impl From<&LoadArgs> for ops::Load {
    fn from(a: &LoadArgs) -> Self {
        ops::Load {
            conflict: a.conflict,
            triggers: a.triggers,
            per_module: Default::default(),
        }
    }
}

impl From<&RecordArgs> for ops::Record {
    fn from(a: &RecordArgs) -> Self {
        ops::Record {
            operator: a.operator.clone(),
            message: a.message.clone(),
            note: a.note.clone(),
            lock_timeout: a.lock_timeout,
        }
    }
}

impl TryFrom<&HistoryArgs> for ops::HistoryRequest {
    type Error = Error;
    fn try_from(a: &HistoryArgs) -> Result<Self> {
        let (plan, run) = plan_and_run(&a.args)?;
        Ok(ops::HistoryRequest {
            plan,
            run,
            db: a.db.clone(),
            limit: a.limit,
        })
    }
}

impl From<&RunArgs> for ops::RunRequest {
    fn from(a: &RunArgs) -> Self {
        ops::RunRequest {
            plan: a.plan.clone(),
            env: a.env.clone(),
            yes: a.yes,
            db: a.db.clone(),
            source: a.source.clone(),
            target: a.target.clone(),
            output: a.output.clone(),
            file: a.file.clone(),
            since: a.since.clone(),
            follows: a.follows.clone(),
            modules: a.modules.clone(),
            closure: a.closure,
            jobs: a.jobs.map(usize::from),
            full: false,
            load: (&a.load).into(),
            dry_run: a.preview.dry_run,
            no_dry_run: a.no_dry_run,
            resume: a.resume,
            no_seed: a.no_seed,
            record: (&a.record).into(),
        }
    }
}

impl From<&ValidateArgs> for ops::ValidateRequest {
    fn from(a: &ValidateArgs) -> Self {
        ops::ValidateRequest {
            paths: a.paths.clone(),
            db: a.db.clone(),
            env: a.env.clone(),
        }
    }
}

impl From<&PlanArgs> for ops::PlanRequest {
    fn from(a: &PlanArgs) -> Self {
        ops::PlanRequest {
            plan: a.plan.clone(),
            env: a.env.clone(),
            db: a.db.clone(),
            file: a.file.clone(),
            graph_only: a.format == PlanFormat::Dot,
        }
    }
}

impl From<&SchemaArgs> for ops::SchemaRequest {
    fn from(a: &SchemaArgs) -> Self {
        ops::SchemaRequest {
            plan: a.plan.clone(),
            db: a.db.clone(),
            env: a.env.clone(),
        }
    }
}

impl From<&SchemaUpArgs> for ops::SchemaUpRequest {
    fn from(a: &SchemaUpArgs) -> Self {
        ops::SchemaUpRequest {
            schema: (&a.schema).into(),
            dry_run: a.preview.dry_run,
            resume: a.resume,
            yes: a.yes,
            record: (&a.record).into(),
        }
    }
}

impl From<&SchemaDownArgs> for ops::SchemaDownRequest {
    fn from(a: &SchemaDownArgs) -> Self {
        ops::SchemaDownRequest {
            plan: a.plan.clone(),
            to: a.to,
            db: a.db.clone(),
            dry_run: a.preview.dry_run,
            yes: a.yes,
            resume: a.resume,
            record: (&a.record).into(),
        }
    }
}

impl From<&SchemaNewArgs> for ops::SchemaNewRequest {
    fn from(a: &SchemaNewArgs) -> Self {
        ops::SchemaNewRequest {
            plan: a.plan.clone(),
            name: a.name.clone(),
        }
    }
}

impl From<&SchemaBaselineArgs> for ops::SchemaBaselineRequest {
    fn from(a: &SchemaBaselineArgs) -> Self {
        ops::SchemaBaselineRequest {
            plan: a.plan.clone(),
            version: a.version,
            db: a.db.clone(),
        }
    }
}

impl From<&ExportArgs> for ops::ExportRequest {
    fn from(a: &ExportArgs) -> Self {
        ops::ExportRequest {
            db: a.db.clone(),
            format: a.backup_format,
            modules: a.modules.clone(),
            since: a.since.clone(),
            follows: a.follows.clone(),
            compress: a.compress.map(Into::into),
            output: a.output.clone(),
            encrypt_to: a.encrypt_to.clone(),
            jobs: a.jobs.map(usize::from),
        }
    }
}

impl From<&ImportArgs> for ops::ImportRequest {
    fn from(a: &ImportArgs) -> Self {
        ops::ImportRequest {
            db: a.db.clone(),
            files: a.files.clone(),
            load: (&a.load).into(),
            dry_run: a.preview.dry_run,
            yes: a.yes,
            record: (&a.record).into(),
        }
    }
}

impl From<&VerifyArgs> for ops::VerifyRequest {
    fn from(a: &VerifyArgs) -> Self {
        ops::VerifyRequest {
            file: a.file.clone(),
            db: a.db.clone(),
            plan: a.plan.clone(),
            tables: a.tables.clone(),
            limit: a.limit,
        }
    }
}

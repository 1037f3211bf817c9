//! The database the console manages, and the plan (if any) it came from.

use std::path::{Path, PathBuf};

use crate::backend::DbUrl;
use crate::error::{ConsoleError, Result};
use crate::ops;

/// The demo plan served when `migplan serve` is given nothing.
const DEMO_PLAN: &str = "plans/full-backup.toml";

#[derive(Debug, Clone)]
pub struct Target {
    /// The plan served; `None` with `--db` alone.
    pub plan: Option<PathBuf>,
    /// `--db`, passed on to every operation (it wins over the plan's URL).
    pub db: Option<String>,
    pub url: DbUrl,
    /// The folder whose plans the export wizard offers.
    pub plans_dir: Option<PathBuf>,
    /// `--backups` folders, beside the plans' own.
    pub backup_dirs: Vec<PathBuf>,
    /// The name a person types to confirm a change, where the plan's
    /// environment has `confirm = true`.
    pub confirm_name: Option<String>,
}

impl Target {
    pub fn resolve(plan: Option<&Path>, db: Option<&str>, backups: &[PathBuf]) -> Result<Target> {
        let demo = plan.is_none() && db.is_none();
        let plan = match (plan, demo) {
            (Some(p), _) => Some(p.to_path_buf()),
            (None, true) if Path::new(DEMO_PLAN).is_file() => Some(PathBuf::from(DEMO_PLAN)),
            (None, true) => {
                return Err(ConsoleError::NoTarget {
                    looked: DEMO_PLAN.into(),
                }
                .into());
            }
            (None, false) => None,
        };
        let (loaded, url) = ops::plan_and_database(plan.as_deref(), db)?;
        if demo {
            prepare_demo(&url, plan.as_deref())?;
        }
        let confirm_name = loaded
            .as_ref()
            .filter(|p| p.needs_confirmation())
            .map(|_| database_name(&url));
        let plans_dir = plan
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf);
        Ok(Target {
            backup_dirs: backup_dirs(backups, plans_dir.as_deref()),
            plans_dir,
            plan,
            db: db.map(str::to_string),
            url,
            confirm_name,
        })
    }

    /// The database as shown: engine and URL, password masked.
    pub fn shown(&self) -> String {
        self.url.redacted()
    }
}

/// The name a person types to confirm: the database's, or the SQLite file's.
pub(crate) fn database_name(url: &DbUrl) -> String {
    if let Some(path) = url.sqlite_path() {
        return path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
    }
    let raw = url.redacted();
    let after_host = raw.rsplit('/').next().unwrap_or("");
    after_host.split('?').next().unwrap_or("").to_string()
}

/// The folders the backups page lists: `--backups`, then every folder a
/// plan of the served plan's folder writes backups to (its automatic
/// backups, its exports), so what the wizards write is listed; without a
/// plan, `backups`, where plan-less imports keep theirs.
fn backup_dirs(given: &[PathBuf], plans_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = given.to_vec();
    let plans = plans_dir
        .and_then(|d| std::fs::read_dir(d).ok())
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|f| f.extension().is_some_and(|e| e == "toml"));
    let mut found: Vec<PathBuf> = plans
        .filter_map(|f| ops::load_plan(&f, None).ok())
        .flat_map(|p| ops::default_dirs(&p))
        .collect();
    found.sort();
    for d in found {
        let known = |k: &PathBuf| k == &d || canonical(k).is_some_and(|c| Some(c) == canonical(&d));
        if !dirs.iter().any(known) {
            dirs.push(d);
        }
    }
    if dirs.is_empty() {
        dirs.push(PathBuf::from("backups"));
    }
    dirs
}

fn canonical(p: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(p).ok()
}

/// The demo database is created, migrated and seeded by its plan's first
/// run, as `cargo run -- run plans/full-backup.toml` would: a newcomer who
/// starts with the console finds it working, with one backup to look at.
fn prepare_demo(url: &DbUrl, plan: Option<&Path>) -> Result<()> {
    let (Some(file), Some(plan)) = (url.sqlite_path(), plan) else {
        return Ok(());
    };
    if file.exists() {
        return Ok(());
    }
    let request = ops::RunRequest {
        plan: plan.to_path_buf(),
        record: ops::Record {
            operator: None,
            message: Some("the console's first start: the demo database created".into()),
            ..ops::Record::default()
        },
        ..ops::RunRequest::default()
    };
    ops::run(&request).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_to_type_is_the_database_not_the_password() {
        let url = DbUrl::parse(
            "postgres://u:secret@h:5432/shop?sslmode=disable",
            Path::new("."),
        )
        .unwrap();
        assert_eq!(database_name(&url), "shop");
        let url = DbUrl::parse("sqlite:///tmp/x/tiku.db", Path::new(".")).unwrap();
        assert_eq!(database_name(&url), "tiku.db");
    }
}

//! The backup taken before a run changes anything (`[backup]`), and its
//! housekeeping: room on disk first, a private file under a temporary name,
//! old backups pruned by age and count.

use std::path::{Path, PathBuf};

use crate::backend::Backend;
use crate::error::{Error, LoadError, Result};
use crate::format::{self, Compression};
use crate::history;
use crate::plan::{self, ExportMode, Format, Plan};

use super::report::human_bytes;
use super::{ExportOptions, ExportReport, export};

/// Every automatic backup's file name starts so: pruning touches no other file.
const PREFIX: &str = "migplan-auto-";

/// Takes the backup of every table before run `run_id` changes the
/// database; `None` when `[backup] enabled = false`.
pub fn backup_before(
    db: &mut dyn Backend,
    plan: &Plan,
    run_id: Option<i64>,
    schema_version: Option<i64>,
) -> Result<Option<PathBuf>> {
    // A database without tables (a new one) has nothing to lose.
    if !plan.backup.enabled || db.catalog()?.tables.is_empty() {
        return Ok(None);
    }
    let report = backup_now(db, plan, run_id, schema_version)?;
    let output = PathBuf::from(&report.file);
    crate::events::emit(crate::events::Event::BackupBeforeChange(output.clone()));
    Ok(Some(output))
}

/// The backup of every table into the `[backup]` folder, named and kept
/// as the automatic backups are (a private file; this database's old ones
/// pruned by `keep` and `retention_days`), whether or not `[backup]
/// enabled` asks for backups before changes. The report's `file` is
/// absolute.
pub fn backup_now(
    db: &mut dyn Backend,
    plan: &Plan,
    run_id: Option<i64>,
    schema_version: Option<i64>,
) -> Result<ExportReport> {
    let settings = &plan.backup;
    let dir = &settings.dir;
    ensure_writable(dir)?;
    ensure_room(db, dir)?;
    let compression = match settings.compression {
        plan::Compression::Zstd => Compression::Zstd,
        plan::Compression::Gzip => Compression::Gzip,
        plan::Compression::None => Compression::None,
    };
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let run = run_id.map_or_else(|| "unrecorded".to_string(), |id| format!("run{id}"));
    let database = database_prefix(db)?;
    let name = format!(
        "{database}{}-{run}-{stamp}{}",
        safe(&plan.name),
        compression.json_extension()
    );
    // `[backup] encrypt`: the name says so, `….json.zst.age`.
    let output = match &settings.encrypt {
        Some(_) => format::encrypted_name(&dir.join(name)),
        None => dir.join(name),
    };
    // Every table, whatever the plan's modules: schema scripts may touch any.
    let mut whole = plan.clone();
    whole.modules.clear();
    let opts = ExportOptions {
        verb: "backup",
        mode: ExportMode::Full,
        since: None,
        modules: vec![],
        output: output.clone(),
        format: Format::Json,
        schema_version,
        follows: None,
        closure: false,
        encrypt: settings.encrypt.clone(),
        jobs: plan.export.jobs.unwrap_or_else(crate::plan::default_jobs),
    };
    let mut report = export(db, &whole, &opts)?;
    // Absolute: `migplan rollback` may run from another folder.
    let output = std::fs::canonicalize(&output).unwrap_or(output);
    report.file = output.display().to_string();
    // The backup the newest successful run would be rolled back with stays,
    // whatever keep and retention_days say: this run may yet fail.
    let mut protected = vec![output];
    protected.extend(newest_rollback_backup(db));
    prune(
        dir,
        &database,
        &protected,
        settings.keep,
        settings.retention_days,
    );
    Ok(report)
}

/// Whether a file is named as an automatic backup (before a change, or
/// taken on demand into the `[backup]` folder).
pub fn is_automatic(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with(PREFIX))
}

/// `migplan-auto-NAME-HASH-`: the start of every automatic backup of this
/// database. HASH is taken from what the database says it is (SQLite: its
/// file; servers: their address, port and the database's name), so two
/// spellings of one URL share it and two databases never do.
fn database_prefix(db: &mut dyn Backend) -> Result<String> {
    let (name, identity) = db.identity()?;
    let identity = format!("{}|{identity}", db.engine().name());
    let hash = hex::encode(&openssl::sha::sha256(identity.as_bytes())[..4]);
    let name = Path::new(&name)
        .file_stem()
        .map(|n| safe(&n.to_string_lossy()))
        .unwrap_or_default();
    let name: String = name.chars().take(32).collect();
    Ok(format!("{PREFIX}{name}-{hash}-"))
}

/// The backup of the newest successful run not yet rolled back: the one a
/// rollback would need.
fn newest_rollback_backup(db: &mut dyn Backend) -> Option<PathBuf> {
    let runs = history::list(db, 1000).ok()?;
    // A backup run changed nothing: the run before it is the one to protect.
    runs.into_iter()
        .find(|r| r.status == history::Status::Succeeded && r.kind != history::BACKUP_KIND)
        .and_then(|r| r.backup)
        .map(PathBuf::from)
}

/// The folder exists and takes a file, or the run does not start.
fn ensure_writable(dir: &Path) -> Result<()> {
    let refuse = |e: std::io::Error| {
        Error::from(LoadError::BackupDirUnwritable {
            dir: dir.into(),
            cause: e.to_string(),
        })
    };
    std::fs::create_dir_all(dir).map_err(refuse)?;
    tempfile::Builder::new()
        .prefix(".migplan-probe-")
        .tempfile_in(dir)
        .map(drop)
        .map_err(refuse)
}

/// The database's size on disk stands in for the backup's: compressed JSON
/// is usually much smaller, so a run refused here would surely have failed.
fn ensure_room(db: &mut dyn Backend, dir: &Path) -> Result<()> {
    let needed = db.size_bytes()?;
    let free = fs4::available_space(dir).map_err(|e| Error::io(dir, e))?;
    if needed > free {
        return Err(LoadError::BackupDirFull {
            dir: dir.into(),
            free: human_bytes(free),
            needed: human_bytes(needed),
        }
        .into());
    }
    Ok(())
}

/// Removes this database's automatic backups (named `prefix…`) beyond the
/// newest `keep` and older than `retention_days`, except `protected` ones.
/// Other databases' backups in the same folder are never touched. Best
/// effort: a file that cannot go stays.
fn prune(
    dir: &Path,
    prefix: &str,
    protected: &[PathBuf],
    keep: Option<u32>,
    retention_days: Option<u32>,
) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let same = |a: &Path, b: &Path| {
        a == b || std::fs::canonicalize(a).ok() == std::fs::canonicalize(b).ok()
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    let max_age = retention_days.map(|d| std::time::Duration::from_secs(u64::from(d) * 86_400));
    for (i, (modified, path)) in files.iter().enumerate() {
        let too_many = keep.is_some_and(|k| i >= k as usize);
        let too_old = max_age.is_some_and(|age| modified.elapsed().is_ok_and(|e| e > age));
        if (too_many || too_old) && !protected.iter().any(|p| same(p, path)) {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A plan name as part of a file name.
fn safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_keeps_the_newest_and_the_protected_and_touches_no_other_database() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..4 {
            let p = dir.path().join(format!("{PREFIX}p-run{i}.json"));
            std::fs::write(&p, "x").unwrap();
            let t = std::time::SystemTime::now() - std::time::Duration::from_secs(100 - i);
            std::fs::File::options()
                .write(true)
                .open(&p)
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        std::fs::write(dir.path().join("mine.json"), "x").unwrap();
        std::fs::write(dir.path().join(format!("{PREFIX}other-db.json")), "x").unwrap();
        let protected = [dir.path().join(format!("{PREFIX}p-run0.json"))];
        prune(
            dir.path(),
            &format!("{PREFIX}p-"),
            &protected,
            Some(2),
            None,
        );
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                format!("{PREFIX}other-db.json"),
                format!("{PREFIX}p-run0.json"),
                format!("{PREFIX}p-run2.json"),
                format!("{PREFIX}p-run3.json"),
                "mine.json".to_string()
            ]
        );
    }

    #[test]
    fn names_become_file_name_safe() {
        assert_eq!(safe("full backup/2"), "full_backup_2");
    }
}

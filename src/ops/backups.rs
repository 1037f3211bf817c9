//! The backups a plan keeps, for the console's backups page: listed with
//! what each holds (its meta only, read within bounds), deleted one at a
//! time from the backup folders only, and taken on demand as a run of
//! record.

use std::fs;
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use crate::backend;
use crate::data::{self, safety};
use crate::error::{Error, LoadError, Result};
use crate::format::{self, BackupMeta, Compression, Format};
use crate::history;
use crate::plan::{BackupSettings, Plan};

use super::*;

/// Which backups to list, and which page of them.
#[derive(Debug, Clone, Default)]
pub struct BackupsRequest {
    /// The plan whose folders are listed (see [`default_dirs`]) and whose
    /// `[backup]` settings are shown.
    pub plan: Option<PathBuf>,
    /// The plan's `[env.NAME]` (default: `MIGPLAN_ENV`, if set).
    pub env: Option<String>,
    /// Folders to list instead of the plan's.
    pub dirs: Vec<PathBuf>,
    /// Backups skipped, newest first.
    pub offset: usize,
    /// Backups listed at most; 0 lists every one from `offset` on.
    pub limit: usize,
}

/// A page of backups, newest first.
#[derive(Debug, Serialize)]
pub struct BackupList {
    /// The folders listed.
    pub dirs: Vec<PathBuf>,
    /// Backups in all the folders, not just this page.
    pub total: usize,
    pub offset: usize,
    pub backups: Vec<BackupInfo>,
    /// The plan's `[backup]`: where automatic backups go and how many and
    /// how long they are kept (`keep`, `retention_days`).
    pub retention: Option<BackupSettings>,
}

/// One backup file.
#[derive(Debug, Serialize)]
pub struct BackupInfo {
    pub path: PathBuf,
    pub name: String,
    /// Taken by migplan into the `[backup]` folder (before a change, or
    /// on demand), pruned by the retention settings.
    pub automatic: bool,
    pub size_bytes: u64,
    /// RFC 3339, UTC.
    pub modified: String,
    pub compression: Compression,
    /// Encrypted (age): its meta is read only with an identity that opens
    /// it (`--identity`), else `unreadable` says so.
    pub encrypted: bool,
    pub format: Format,
    /// What the file says it holds; `None` when its meta cannot be read.
    #[serde(flatten)]
    pub contents: Option<BackupContents>,
    /// Why the meta cannot be read (damaged, not a migplan backup, a meta
    /// beyond `[import] max_meta_bytes`, a workbook made by hand).
    pub unreadable: Option<String>,
}

/// What a backup's meta says, as the backups page shows it.
#[derive(Debug, Serialize)]
pub struct BackupContents {
    /// `full`, `incremental` or `modules`.
    pub kind: String,
    pub backup_id: Option<String>,
    pub modules: Vec<String>,
    /// An incremental backup's window: rows changed after `since`, up to
    /// `until` (the export's snapshot).
    pub since: Option<String>,
    pub until: Option<String>,
    pub schema_version: Option<i64>,
    pub rows: RowCount,
    /// The backup an incremental one follows, when it names one.
    pub chain: Option<ChainLink>,
    pub source: BackupSource,
    /// When the export's snapshot was taken (RFC 3339).
    pub created: String,
}

#[derive(Debug, Serialize)]
pub struct RowCount {
    pub total: u64,
    pub tables: usize,
    /// Whether `total` is exact: a workbook's counts are written after its
    /// rows; a JSON backup's meta, written before them, holds counts from
    /// SQLite and PostgreSQL, statistics from MySQL, and an incremental
    /// backup's whole tables.
    pub counted: bool,
}

#[derive(Debug, Serialize)]
pub struct ChainLink {
    /// The `backup_id` of the backup this one follows.
    pub follows: String,
    /// That backup, when it lies in the listed folders.
    pub file: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
pub struct BackupSource {
    pub engine: String,
    pub plan: Option<String>,
}

/// The folders of a plan's backups: its `[backup] dir` (automatic backups)
/// and the folder of its `[export] output`, once each (for the demo plans,
/// `plans/backups` and `backups/before-change`).
pub fn default_dirs(plan: &Plan) -> Vec<PathBuf> {
    let output = expand_output(&plan.export.output, &plan.name);
    let export_dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut dirs: Vec<PathBuf> = vec![];
    for dir in [plan.backup.dir.clone(), export_dir] {
        if !dirs.iter().any(|d| same_dir(d, &dir)) {
            dirs.push(dir);
        }
    }
    dirs
}

/// The folders `backups(req)` lists, no file opened: what a front door
/// holds a download or an import from the backups page to.
pub fn backup_folders(req: &BackupsRequest) -> Result<Vec<PathBuf>> {
    let plan = req
        .plan
        .as_deref()
        .map(|p| load_plan(p, req.env.as_deref()))
        .transpose()?;
    folders(plan.as_ref(), &req.dirs)
}

/// The chain `file` ends, from the backups of `dirs`: the backups it
/// follows, walked back along their links to a full (or modules) one,
/// base first, then `file` itself. A backup that follows none is a chain
/// of one. The folders' metas are read only when a link must be found.
pub fn chain_to(file: &Path, dirs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut known: Option<Vec<(Option<String>, PathBuf)>> = None;
    let mut chain = vec![file.to_path_buf()];
    loop {
        let last = chain.last().expect("not empty");
        let Some(meta) = format::peek_meta(last)? else {
            break;
        };
        if meta.export_type != "incremental" {
            break;
        }
        let shown = last.display().to_string();
        let follows = meta.follows.ok_or(LoadError::ChainNoLink {
            file: shown.clone(),
        })?;
        let ids = match &mut known {
            Some(ids) => ids,
            None => known.insert(backup_ids(dirs)?),
        };
        let Some((_, previous)) = ids.iter().find(|(id, _)| id.as_deref() == Some(&follows)) else {
            return Err(LoadError::FoldersGap {
                file: shown,
                follows,
                dirs: dirs.to_vec(),
            }
            .into());
        };
        if chain.contains(previous) {
            return Err(LoadError::FolderLoop {
                dir: dirs[0].clone(),
            }
            .into());
        }
        chain.push(previous.clone());
    }
    chain.reverse();
    Ok(chain)
}

/// One backup file described as the backups page lists it (its meta
/// alone read), wherever it lies: an upload, a file given by path.
pub fn backup_info(path: &Path) -> Result<BackupInfo> {
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    Ok(describe(&Found {
        path: path.to_path_buf(),
        size: meta.len(),
        modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    }))
}

/// Each backup of the folders with its `backup_id` (`None`: it has none,
/// or its meta cannot be read).
fn backup_ids(dirs: &[PathBuf]) -> Result<Vec<(Option<String>, PathBuf)>> {
    Ok(backup_files(dirs)?
        .into_iter()
        .map(|f| {
            let id = format::peek_meta(&f.path)
                .ok()
                .flatten()
                .and_then(|m| m.backup_id);
            (id, f.path)
        })
        .collect())
}

/// `backups(req)`: a page of the backups in the folders, newest first.
/// Only the page's files are opened, each for its meta alone.
pub fn backups(req: &BackupsRequest) -> Result<BackupList> {
    let plan = req
        .plan
        .as_deref()
        .map(|p| load_plan(p, req.env.as_deref()))
        .transpose()?;
    let dirs = folders(plan.as_ref(), &req.dirs)?;
    let files = backup_files(&dirs)?;
    let limit = if req.limit == 0 {
        usize::MAX
    } else {
        req.limit
    };
    let end = req.offset.saturating_add(limit).min(files.len());
    let start = req.offset.min(end);
    let mut page: Vec<BackupInfo> = files[start..end].iter().map(describe).collect();
    link_chains(&mut page, &files[end..]);
    Ok(BackupList {
        dirs,
        total: files.len(),
        offset: req.offset,
        backups: page,
        retention: plan.map(|p| p.backup),
    })
}

/// Which backup to delete, and the folders it must lie in.
#[derive(Debug, Clone, Default)]
pub struct DeleteBackupRequest {
    /// The plan whose folders hold it (see [`default_dirs`]).
    pub plan: Option<PathBuf>,
    pub env: Option<String>,
    /// Folders instead of the plan's.
    pub dirs: Vec<PathBuf>,
    pub file: PathBuf,
}

/// Deletes `req.file` when it is a backup lying in one of the folders:
/// a backup's name and a readable meta, given without `..`, not a symbolic
/// link, its real folder one of theirs. Anything else is
/// [`Error::NotABackupInFolders`], and nothing is deleted.
pub fn delete_backup(req: &DeleteBackupRequest) -> Result<()> {
    let plan = req
        .plan
        .as_deref()
        .map(|p| load_plan(p, req.env.as_deref()))
        .transpose()?;
    let dirs = folders(plan.as_ref(), &req.dirs)?;
    let refused = || Error::NotABackupInFolders {
        file: req.file.clone(),
        dirs: dirs.clone(),
    };
    let file = inside(&req.file, &dirs).ok_or_else(refused)?;
    // An encrypted backup is one by its name and header, whether or not
    // this process holds a key to read its meta.
    let readable = format::peek_meta(&file).ok().flatten().is_some();
    let sealed = format::is_encrypted_file(&file).unwrap_or(false);
    if !is_backup_name(&file) || !(readable || sealed) {
        return Err(refused());
    }
    fs::remove_file(&file).map_err(|e| Error::io(&file, e))
}

/// The real path of `file` when it names a regular file (not a link)
/// directly inside one of `dirs`, reached without `..`.
fn inside(file: &Path, dirs: &[PathBuf]) -> Option<PathBuf> {
    if file.components().any(|c| c == Component::ParentDir) {
        return None;
    }
    // The name itself must not be a link: its target could be anywhere.
    if !fs::symlink_metadata(file).ok()?.file_type().is_file() {
        return None;
    }
    // A link among the folders on the way is resolved: the file's real
    // folder must be a backup folder's real folder.
    let real = fs::canonicalize(file).ok()?;
    let parent = real.parent()?;
    dirs.iter()
        .filter_map(|d| fs::canonicalize(d).ok())
        .any(|d| d == parent)
        .then_some(real)
}

/// Taking a backup of every table now.
#[derive(Debug, Clone, Default)]
pub struct BackupNowRequest {
    pub plan: PathBuf,
    pub env: Option<String>,
    /// The database, instead of the plan's `[database] url`.
    pub db: Option<String>,
    pub record: Record,
}

/// A full backup of every table into the plan's `[backup]` folder, named
/// and kept as the automatic backups are (a private file; old ones pruned
/// by `keep` and `retention_days`), as a run of record of kind `backup`:
/// the run lock taken, the file on record as the run's backup. It changes
/// nothing, so it never counts as a later run that a rollback would undo.
pub fn backup_now(req: &BackupNowRequest) -> Result<data::ExportReport> {
    let plan = load_plan(&req.plan, req.env.as_deref())?;
    let url = database_url(&plan, req.db.as_deref())?;
    let mut db = backend::open(&url, &waiting(&req.record))?;
    let version = status_of(&plan, db.as_mut())
        .map_err(|e| history::explain_busy(db.as_mut(), e))?
        .version();
    let mut start = history_start(&plan, history::BACKUP_KIND, &req.record, version);
    start
        .message
        .get_or_insert_with(|| "a backup of every table, taken on demand".into());
    recorded(db.as_mut(), &req.record, start, (&plan, &url), |db, end| {
        let report = safety::backup_now(db, &plan, end.run_id, version)?;
        end.schema_after = version;
        end.backup = Some(report.file.clone());
        end.tables = serde_json::to_value(&report).ok();
        Ok(report)
    })
}

/// The folders asked for, else the plan's.
fn folders(plan: Option<&Plan>, dirs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    match (plan, dirs.is_empty()) {
        (_, false) => Ok(dirs.to_vec()),
        (Some(plan), true) => Ok(default_dirs(plan)),
        (None, true) => Err(Error::NoBackupFolders),
    }
}

/// Two spellings of one folder (the second may not exist yet).
fn same_dir(a: &Path, b: &Path) -> bool {
    a == b || matches!((fs::canonicalize(a), fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}

/// A file a backup may be: `.json`, `.json.zst`, `.json.gz` (each maybe
/// `.age` after) or `.xlsx`.
fn is_backup_name(path: &Path) -> bool {
    let workbook = path
        .extension()
        .is_some_and(|x| x.eq_ignore_ascii_case(Format::Xlsx.extension()));
    workbook || format::is_json_backup_name(path)
}

/// A backup file found in a folder, before it is opened.
struct Found {
    path: PathBuf,
    size: u64,
    modified: SystemTime,
}

/// The backup files of the folders (not their subfolders), newest first.
/// A folder that does not exist yet holds none; links are left out, as
/// [`delete_backup`] would refuse them.
fn backup_files(dirs: &[PathBuf]) -> Result<Vec<Found>> {
    let mut files = vec![];
    for (i, dir) in dirs.iter().enumerate() {
        // A folder given twice (two spellings) is listed once.
        if dirs[..i].iter().any(|d| same_dir(d, dir)) {
            continue;
        }
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(dir, e)),
        };
        for entry in entries.filter_map(|e| e.ok()) {
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            let Ok(meta) = entry.metadata() else { continue };
            if hidden || !meta.file_type().is_file() || !is_backup_name(&entry.path()) {
                continue;
            }
            files.push(Found {
                path: entry.path(),
                size: meta.len(),
                modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            });
        }
    }
    files.sort_by(|a, b| b.modified.cmp(&a.modified).then(a.path.cmp(&b.path)));
    Ok(files)
}

/// One file as the page shows it: what the file system says, then its meta.
fn describe(found: &Found) -> BackupInfo {
    let path = &found.path;
    let format = Format::detect(path).unwrap_or(Format::Json);
    let encrypted = format::is_encrypted_file(path).unwrap_or(false);
    // An encrypted file's codec is under the encryption: its name tells.
    let compression = match (format, encrypted) {
        (Format::Json, false) => Compression::of_file(path).unwrap_or_default(),
        (Format::Json, true) => Compression::from_path(path),
        (Format::Xlsx, _) => Compression::None,
    };
    let (contents, unreadable) = match format::peek_meta(path) {
        Ok(Some(meta)) => (Some(contents(&meta, format)), None),
        Ok(None) => (None, Some(HAND_MADE.to_string())),
        Err(e) => (None, Some(e.to_string())),
    };
    BackupInfo {
        path: path.clone(),
        name: path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        automatic: safety::is_automatic(path),
        size_bytes: found.size,
        modified: chrono::DateTime::<chrono::Utc>::from(found.modified)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        compression,
        encrypted,
        format,
        contents,
        unreadable,
    }
}

/// Why a workbook without `_meta` has no contents to show.
const HAND_MADE: &str =
    "a workbook without a `_meta` sheet (made by hand): it imports, but says nothing about itself";

fn contents(meta: &BackupMeta, format: Format) -> BackupContents {
    let incremental = meta.export_type == "incremental";
    let exact_engine = crate::url::Engine::ALL
        .into_iter()
        .find(|e| e.name() == meta.source_engine)
        .is_some_and(|e| backend::dialect(e).exact_expected_rows);
    BackupContents {
        kind: meta.export_type.clone(),
        backup_id: meta.backup_id.clone(),
        modules: meta.modules.clone(),
        since: meta.incremental_since.clone(),
        until: incremental.then(|| meta.exported_at.clone()),
        schema_version: meta.schema_version,
        rows: RowCount {
            total: meta.tables.iter().map(|t| t.rows).sum(),
            tables: meta.tables.len(),
            counted: format == Format::Xlsx || (exact_engine && !incremental),
        },
        chain: meta.follows.clone().map(|follows| ChainLink {
            follows,
            file: None,
        }),
        source: BackupSource {
            engine: meta.source_engine.clone(),
            plan: meta.plan.clone(),
        },
        created: meta.exported_at.clone(),
    }
}

/// Fills each chain link's `file`: the backup of the page with that id,
/// else the first of the older files (a backup follows an older one)
/// with it, whose metas are read only while links remain unfound.
fn link_chains(page: &mut [BackupInfo], older: &[Found]) {
    let ids: Vec<(String, PathBuf)> = page
        .iter()
        .filter_map(|b| {
            let id = b.contents.as_ref()?.backup_id.clone()?;
            Some((id, b.path.clone()))
        })
        .collect();
    let mut older = older.iter();
    let mut known = ids;
    for info in page.iter_mut() {
        let Some(link) = info.contents.as_mut().and_then(|c| c.chain.as_mut()) else {
            continue;
        };
        while !known.iter().any(|(id, _)| *id == link.follows) {
            let Some(next) = older.next() else { break };
            if let Ok(Some(meta)) = format::peek_meta(&next.path)
                && let Some(id) = meta.backup_id
            {
                known.push((id, next.path.clone()));
            }
        }
        link.file = known
            .iter()
            .find(|(id, _)| *id == link.follows)
            .map(|(_, p)| p.clone());
    }
}

//! The backups page: every backup of the backup folders with its meta,
//! paged; download, verify against the database, import, delete; a backup
//! taken now.

use std::path::{Path, PathBuf};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::{
    Form, Pager, RecordForm, api, blocking, go_to, page, start_change, start_job, started, writable,
};
use crate::console::App;
use crate::console::i18n::Lang;
use crate::console::jobs::Finished;
use crate::error::{ConsoleError, Error, Result};
use crate::ops::{self, BackupList};

/// Backups per page.
const PER_PAGE: usize = 25;

#[derive(Debug, Deserialize, Default)]
pub(super) struct PageQuery {
    #[serde(default)]
    page: Option<usize>,
    #[serde(default)]
    offset: Option<usize>,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Serialize)]
struct Backups {
    list: BackupList,
    pager: Pager,
    can_back_up: bool,
}

fn list(
    app: &App,
    offset: usize,
    limit: usize,
) -> impl FnOnce() -> Result<BackupList> + Send + 'static {
    let r = ops::BackupsRequest {
        plan: app.target.plan.clone(),
        dirs: app.target.backup_dirs.clone(),
        offset,
        limit,
        ..ops::BackupsRequest::default()
    };
    move || ops::backups(&r)
}

pub(super) async fn show(
    State(app): State<App>,
    lang: Lang,
    Query(q): Query<PageQuery>,
) -> Response {
    let n = q.page.unwrap_or(1).max(1);
    let listed = blocking(list(&app, (n - 1) * PER_PAGE, PER_PAGE)).await;
    let can_back_up = app.target.plan.is_some() && !app.read_only;
    page(
        &app,
        lang,
        "backups.html",
        listed.map(|list| Backups {
            pager: Pager::new(n, PER_PAGE, list.total, |p| format!("/backups?page={p}")),
            list,
            can_back_up,
        }),
    )
}

/// `/api/backups?offset=&limit=` (default the first 100).
pub(super) async fn show_api(State(app): State<App>, Query(q): Query<PageQuery>) -> Response {
    let limit = q.limit.unwrap_or(100).min(1_000);
    api(blocking(list(&app, q.offset.unwrap_or(0), limit)).await)
}

/// `file` when it lies in one of the backup folders (symbolic links and
/// `..` resolved first); anything else is refused as the catalog refuses a
/// delete.
pub(super) fn in_backup_folders(app: &App, file: &str) -> Result<PathBuf> {
    let dirs = folders(app)?;
    let refused = || Error::NotABackupInFolders {
        file: PathBuf::from(file),
        dirs: dirs.clone(),
    };
    let real = std::fs::canonicalize(file).map_err(|_| refused())?;
    let inside = dirs
        .iter()
        .filter_map(|d| std::fs::canonicalize(d).ok())
        .any(|d| real.starts_with(&d));
    match inside && real.is_file() {
        true => Ok(real),
        false => Err(refused()),
    }
}

fn folders(app: &App) -> Result<Vec<PathBuf>> {
    ops::backup_folders(&ops::BackupsRequest {
        plan: app.target.plan.clone(),
        dirs: app.target.backup_dirs.clone(),
        ..ops::BackupsRequest::default()
    })
}

#[derive(Debug, Deserialize)]
pub(super) struct FileQuery {
    file: String,
}

pub(super) async fn download(
    State(app): State<App>,
    lang: Lang,
    Query(q): Query<FileQuery>,
) -> Response {
    let a = app.clone();
    match blocking(move || in_backup_folders(&a, &q.file)).await {
        Ok(f) => crate::console::download::send(&f).await,
        Err(e) => app.view.error(&app, lang, &e),
    }
}

/// The backup compared with the database, as a job (a large backup takes
/// a while): the `verify` report, differences by table and key.
pub(super) async fn verify(
    State(app): State<App>,
    lang: Lang,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let a = app.clone();
    let file = form.one("file");
    let checked = blocking(move || in_backup_folders(&a, &file)).await;
    let job = checked.and_then(|file| {
        let r = ops::VerifyRequest {
            file: file.clone(),
            db: Some(app.target.url.expose().to_string()),
            plan: app.target.plan.clone(),
            limit: 20,
            ..ops::VerifyRequest::default()
        };
        let title = name_of(&file);
        start_job(&app, "verify", title, false, vec![], move || {
            Ok(Finished::of(&ops::verify(&r)?))
        })
    });
    started(&app, lang, &headers, job)
}

/// Deletes a backup after the person ticked the confirmation.
pub(super) async fn delete(
    State(app): State<App>,
    lang: Lang,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let a = app.clone();
    let done = blocking(move || {
        writable(&a)?;
        if form.one("sure") != "on" {
            return Err(ConsoleError::MissingField { field: "sure" }.into());
        }
        ops::delete_backup(&ops::DeleteBackupRequest {
            plan: a.target.plan.clone(),
            dirs: a.target.backup_dirs.clone(),
            file: PathBuf::from(form.one("file")),
            ..ops::DeleteBackupRequest::default()
        })
    })
    .await;
    match done {
        Ok(()) => go_to(&headers, "/backups"),
        Err(e) => super::form_error(&app, lang, &e),
    }
}

/// "Back up now": every table into the plan's backup folder, as a run of
/// record.
pub(super) async fn back_up_now(
    State(app): State<App>,
    lang: Lang,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let job = (|| -> Result<u64> {
        let plan = app.target.plan.clone().ok_or(ConsoleError::NoPlan {
            action: "a backup now",
        })?;
        let r = ops::BackupNowRequest {
            plan,
            db: app.target.db.clone(),
            record: RecordForm::from(&form).record_or_console()?,
            ..ops::BackupNowRequest::default()
        };
        start_change(&app, "backup", "backup now".into(), vec![], move || {
            let report = ops::backup_now(&r)?;
            let file = PathBuf::from(&report.file);
            Ok(Finished::of(&report).wrote(file).then("/backups"))
        })
    })();
    started(&app, lang, &headers, job)
}

/// "Import" on a backup: the import wizard's check page for it, through
/// the first import plan offered; an incremental backup brings the chain
/// it ends (the backups it follows, from the folders).
pub(super) async fn import(
    State(app): State<App>,
    lang: Lang,
    headers: HeaderMap,
    Query(q): Query<FileQuery>,
) -> Response {
    let a = app.clone();
    let picked = blocking(move || {
        writable(&a)?;
        let file = in_backup_folders(&a, &q.file)?;
        let chain = ops::chain_to(&file, &folders(&a)?)?;
        let plan = super::plans_of(&a, crate::plan::PlanKind::Import)
            .into_iter()
            .next()
            .map(|p| p.path);
        Ok(a.uploads.pick(chain, plan).id)
    })
    .await;
    match picked {
        Ok(id) => go_to(&headers, &format!("/import/{id}")),
        Err(e) => app.view.error(&app, lang, &e),
    }
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

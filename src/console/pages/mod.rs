//! The console's pages and their JSON twins under `/api/`, one file per
//! page; this file holds the routes and what every page shares.

mod backups;
mod dashboard;
mod export;
mod history;
mod import;
mod jobs;
mod preview;
mod schema;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::App;
use super::i18n::{self, Lang};
use super::jobs::{Finished, Spec};
use crate::error::{ConsoleError, Error, Result};
use crate::ops;

pub(crate) fn routes(_app: App) -> Router<App> {
    Router::new()
        .route("/", get(dashboard::show))
        .route("/api/status", get(dashboard::show_api))
        .route("/lang", get(switch_language))
        .route("/schema", get(schema::show).post(schema::apply))
        .route("/backups", get(backups::show))
        .route("/api/backups", get(backups::show_api))
        .route("/backups/download", get(backups::download))
        .route("/backups/verify", post(backups::verify))
        .route("/backups/delete", post(backups::delete))
        .route("/backups/now", post(backups::back_up_now))
        .route("/backups/import", get(backups::import))
        .route("/export", get(export::show).post(export::start))
        .route("/export/estimate", get(export::estimate))
        .route("/import", get(import::show))
        .route(
            "/import/upload",
            // The upload streams to disk under its own cap (--upload-limit).
            post(import::upload).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/import/{id}", get(import::show_check))
        .route("/import/{id}/confirm", post(import::confirm))
        .route(
            "/import/{id}/preview",
            get(preview::show).post(preview::start),
        )
        .route("/import/{id}/preview/counts", get(preview::counts))
        .route("/api/import/{id}/preview", get(preview::show_api))
        .route("/import/{id}/discard", post(import::discard))
        .route("/jobs", get(jobs::list))
        .route("/api/jobs", get(jobs::api_list))
        .route("/jobs/{id}", get(jobs::show))
        .route("/api/jobs/{id}", get(jobs::show_api))
        .route("/jobs/{id}/events", get(jobs::events))
        .route("/jobs/{id}/cancel", post(jobs::cancel))
        .route("/jobs/{id}/download", get(jobs::download))
        .route("/history", get(history::list))
        .route("/api/history", get(history::api_list))
        .route("/history/{id}", get(history::run))
        .route("/api/history/{id}", get(history::api_run))
        .route(
            "/history/{id}/rollback",
            get(history::rollback_page).post(history::rollback),
        )
}

/// Runs blocking work (an operation opening a database) off the async
/// workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|_| {
        Err(ConsoleError::Stopped {
            cause: "a page's work panicked".into(),
        }
        .into())
    })
}

/// A page, or the error page in its place.
pub(crate) fn page(app: &App, lang: Lang, name: &str, data: Result<impl Serialize>) -> Response {
    match data {
        Ok(d) => app.view.page(app, lang, name, d),
        Err(e) => app.view.error(app, lang, &e),
    }
}

/// A JSON answer; an error as `{"error": {"message", "help"}}`.
pub(crate) fn api(data: Result<impl Serialize>) -> Response {
    match data {
        Ok(d) => Json(d).into_response(),
        Err(e) => {
            let status = match &e {
                Error::Console(ConsoleError::NoSuchJob { .. }) | Error::RunNotFound { .. } => {
                    StatusCode::NOT_FOUND
                }
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let body = serde_json::json!({ "error": { "message": e.message(), "help": e.help() } });
            (status, Json(body)).into_response()
        }
    }
}

/// The answer to a form that started a job: the browser goes to the job's
/// page (htmx follows `HX-Redirect`; a plain form the 303); a refusal is
/// shown in the form.
pub(crate) fn started(app: &App, lang: Lang, headers: &HeaderMap, job: Result<u64>) -> Response {
    match job {
        Ok(id) => go_to(headers, &format!("/jobs/{id}")),
        Err(e) => form_error(app, lang, &e),
    }
}

pub(crate) fn go_to(headers: &HeaderMap, to: &str) -> Response {
    if headers.contains_key("hx-request") {
        (StatusCode::OK, [("hx-redirect", to.to_string())]).into_response()
    } else {
        (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
    }
}

/// A refusal, as a fragment the form shows in its `#form-error`.
pub(crate) fn form_error(app: &App, lang: Lang, e: &Error) -> Response {
    let mut r = app.view.fragment(
        lang,
        "fragment_error.html",
        serde_json::json!({ "message": e.message(), "help": e.help() }),
    );
    *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    r
}

/// Who makes a change and why, as every change form asks it.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct RecordForm {
    #[serde(default)]
    pub operator: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub notes: String,
    /// The database name typed, where the environment asks for it.
    #[serde(default)]
    pub confirm_name: String,
}

impl RecordForm {
    /// The record, once every field the history needs is there and the
    /// database name (where asked) is typed right.
    pub(crate) fn record(&self, app: &App) -> Result<ops::Record> {
        let need = |v: &str, field| match v.trim().is_empty() {
            true => Err(Error::from(ConsoleError::MissingField { field })),
            false => Ok(()),
        };
        need(&self.operator, "operator")?;
        need(&self.message, "message")?;
        need(&self.notes, "notes")?;
        if let Some(expected) = &app.target.confirm_name
            && self.confirm_name.trim() != expected
        {
            return Err(ConsoleError::NameNotTyped {
                typed: self.confirm_name.trim().to_string(),
                expected: expected.clone(),
            }
            .into());
        }
        Ok(ops::Record {
            operator: Some(self.operator.trim().to_string()),
            message: Some(self.message.trim().to_string()),
            note: self
                .notes
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
            // Another process holding the database is named at once
            // rather than waited for behind a spinning page.
            lock_timeout: 2,
        })
    }
}

impl RecordForm {
    /// The record of a run that changes no data (an export): whatever the
    /// person gave, the console named where they gave nothing.
    pub(crate) fn record_or_console(&self) -> Result<ops::Record> {
        let or = |v: &str, default: &str| match v.trim() {
            "" => default.to_string(),
            v => v.to_string(),
        };
        Ok(ops::Record {
            operator: Some(or(&self.operator, "migplan console")),
            message: Some(or(&self.message, "export from the console")),
            note: self
                .notes
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
            lock_timeout: 2,
        })
    }
}

/// Refuses a change in read-only mode.
pub(crate) fn writable(app: &App) -> Result<()> {
    match app.read_only {
        true => Err(ConsoleError::ReadOnly.into()),
        false => Ok(()),
    }
}

/// Starts a change as a job on the console's database.
pub(crate) fn start_change(
    app: &App,
    kind: &'static str,
    title: String,
    cleanup: Vec<std::path::PathBuf>,
    work: impl FnOnce() -> Result<Finished> + Send + 'static,
) -> Result<u64> {
    start_job(app, kind, title, true, cleanup, work)
}

/// Starts a job on the console's database; one that `changes` it waits
/// for no other. Nothing starts in read-only mode: even an export writes
/// a file on the server.
pub(crate) fn start_job(
    app: &App,
    kind: &'static str,
    title: String,
    changes: bool,
    cleanup: Vec<std::path::PathBuf>,
    work: impl FnOnce() -> Result<Finished> + Send + 'static,
) -> Result<u64> {
    launch(app, spec(app, kind, title, changes, cleanup), work)
}

/// Starts a change on an upload: its private file is named in the job's
/// log and errors as the person named it.
pub(crate) fn start_on_upload(
    app: &App,
    kind: &'static str,
    upload: &crate::console::uploads::Upload,
    cleanup: Vec<std::path::PathBuf>,
    work: impl FnOnce() -> Result<Finished> + Send + 'static,
) -> Result<u64> {
    let mut spec = spec(app, kind, upload.name.clone(), true, cleanup);
    spec.aliases = upload.aliases();
    launch(app, spec, work)
}

fn spec(
    app: &App,
    kind: &'static str,
    title: String,
    changes: bool,
    cleanup: Vec<std::path::PathBuf>,
) -> Spec {
    Spec {
        kind,
        title,
        database: app.target.shown(),
        changes,
        cleanup,
        aliases: vec![],
    }
}

fn launch(
    app: &App,
    spec: Spec,
    work: impl FnOnce() -> Result<Finished> + Send + 'static,
) -> Result<u64> {
    writable(app)?;
    Ok(app.jobs.start(spec, work)?.id)
}

/// The plans of `kind` in the console's plan folder, the served plan
/// first; a plan that does not load is left out (`migplan validate` names
/// why).
pub(crate) fn plans_of(app: &App, kind: crate::plan::PlanKind) -> Vec<crate::plan::Plan> {
    let Some(dir) = &app.target.plans_dir else {
        return vec![];
    };
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|f| f.extension().is_some_and(|e| e == "toml"));
    files.sort_by_key(|f| (Some(f) != app.target.plan.as_ref(), f.clone()));
    files
        .iter()
        .filter_map(|f| ops::load_plan(f, None).ok())
        .filter(|p| p.kind == kind)
        .collect()
}

/// A submitted form as its pairs, repeated names kept (checkbox lists).
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    pub(crate) fn parse(body: &[u8]) -> Form {
        Form(serde_urlencoded::from_bytes(body).unwrap_or_default())
    }

    /// The first value of `name`, or empty.
    pub(crate) fn one(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    pub(crate) fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

impl From<&Form> for RecordForm {
    fn from(f: &Form) -> RecordForm {
        RecordForm {
            operator: f.one("operator"),
            message: f.one("message"),
            notes: f.one("notes"),
            confirm_name: f.one("confirm_name"),
        }
    }
}

#[derive(Deserialize)]
struct LangQuery {
    to: String,
}

/// The language switch: remembered in a cookie, back to the page it was
/// pressed on.
async fn switch_language(
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<LangQuery>,
) -> Response {
    let lang = Lang::from_code(&q.to);
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.find("://").map(|i| &r[i + 3..]))
        .and_then(|r| r.find('/').map(|i| r[i..].to_string()))
        .unwrap_or_else(|| "/".into());
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                format!(
                    "{}={}; SameSite=Strict; Path=/; Max-Age=31536000",
                    i18n::COOKIE,
                    lang.code()
                ),
            ),
            (header::LOCATION, back),
        ],
    )
        .into_response()
}

/// Page numbers for a list of `total` items, `per` a page.
#[derive(Debug, Serialize)]
pub(crate) struct Pager {
    pub page: usize,
    pub pages: usize,
    pub total: usize,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// `link(n)` is page n's URL.
    pub(crate) fn new(
        page: usize,
        per: usize,
        total: usize,
        link: impl Fn(usize) -> String,
    ) -> Pager {
        let pages = total.div_ceil(per).max(1);
        let page = page.clamp(1, pages);
        Pager {
            page,
            pages,
            total,
            prev: (page > 1).then(|| link(page - 1)),
            next: (page < pages).then(|| link(page + 1)),
        }
    }

    pub(crate) fn offset(&self, per: usize) -> usize {
        (self.page - 1) * per
    }
}

//! Jobs: the list, one job's page, its live progress (server-sent events)
//! and its Cancel button.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::Serialize;

use super::{api, form_error, page, writable};
use crate::console::App;
use crate::console::i18n::Lang;
use crate::console::jobs::JobView;
use crate::error::ConsoleError;

/// How often a watcher looks for news: often enough for a bar to move
/// smoothly, rarely enough to cost nothing.
const TICK: Duration = Duration::from_millis(250);

#[derive(Serialize)]
struct JobList {
    jobs: Vec<JobView>,
}

#[derive(Serialize)]
struct OneJob {
    job: JobView,
}

pub(super) async fn list(State(app): State<App>, lang: Lang) -> Response {
    let jobs = app.jobs.all();
    page(&app, lang, "jobs.html", Ok(JobList { jobs }))
}

pub(super) async fn api_list(State(app): State<App>) -> Response {
    api(Ok(app.jobs.all()))
}

pub(super) async fn show(State(app): State<App>, lang: Lang, Path(id): Path<u64>) -> Response {
    let job = app.jobs.get(id).map(|j| OneJob { job: j.view() });
    page(&app, lang, "job.html", job)
}

pub(super) async fn show_api(State(app): State<App>, Path(id): Path<u64>) -> Response {
    api(app.jobs.get(id).map(|j| j.view()))
}

/// The job as it changes: a `job` event with the whole view whenever its
/// version moves, until it ends. A reloaded page simply opens a new stream.
pub(super) async fn events(State(app): State<App>, Path(id): Path<u64>) -> Response {
    let job = match app.jobs.get(id) {
        Ok(j) => j,
        Err(e) => return (StatusCode::NOT_FOUND, e.message()).into_response(),
    };
    Sse::new(watch(job))
        .keep_alive(KeepAlive::default())
        .into_response()
}

fn watch(
    job: std::sync::Arc<crate::console::jobs::Job>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    // (job, last version sent, done)
    futures_util::stream::unfold((job, None::<u64>, false), |(job, last, done)| async move {
        if done {
            return None;
        }
        loop {
            let version = job.version();
            if last != Some(version) {
                let view = job.view();
                let ended = view.status != crate::console::jobs::JobStatus::Running;
                let event = Event::default()
                    .event("job")
                    .json_data(&view)
                    .unwrap_or_else(|_| Event::default().comment("unserializable"));
                return Some((Ok(event), (job, Some(version), ended)));
            }
            tokio::time::sleep(TICK).await;
        }
    })
}

pub(super) async fn cancel(
    State(app): State<App>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<u64>,
) -> Response {
    let done = writable(&app)
        .and_then(|_| app.jobs.get(id))
        .map(|j| j.cancel());
    match done {
        Ok(()) if headers.contains_key("hx-request") => StatusCode::NO_CONTENT.into_response(),
        Ok(()) => super::go_to(&headers, &format!("/jobs/{id}")),
        Err(e) => form_error(&app, lang, &e),
    }
}

/// The file a finished job wrote (an export's backup): only that file, so
/// no path from the browser ever reaches the disk.
pub(super) async fn download(State(app): State<App>, lang: Lang, Path(id): Path<u64>) -> Response {
    let file = app
        .jobs
        .get(id)
        .and_then(|j| j.file().ok_or_else(|| ConsoleError::NoFile { id }.into()));
    match file {
        Ok(f) => crate::console::download::send(&f).await,
        Err(e) => app.view.error(&app, lang, &e),
    }
}

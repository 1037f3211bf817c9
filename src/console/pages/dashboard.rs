//! The dashboard: the database at a glance.

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;

use super::{api, blocking, page};
use crate::console::App;
use crate::console::i18n::Lang;
use crate::error::Result;
use crate::ops::{self, StatusView};

#[derive(Serialize)]
struct Dashboard {
    status: StatusView,
    newest_backup: Option<Newest>,
}

#[derive(Serialize)]
struct Newest {
    name: String,
    /// When it was taken (its meta's time, else the file's).
    created: String,
}

/// The newest backup of the backup folders; none when they cannot be read.
fn newest_backup(app: &App) -> impl FnOnce() -> Result<Option<Newest>> + Send + 'static {
    let r = ops::BackupsRequest {
        plan: app.target.plan.clone(),
        dirs: app.target.backup_dirs.clone(),
        limit: 1,
        ..ops::BackupsRequest::default()
    };
    move || {
        let list = ops::backups(&r)?;
        Ok(list.backups.into_iter().next().map(|b| Newest {
            created: b.contents.map(|c| c.created).unwrap_or(b.modified),
            name: b.name,
        }))
    }
}

fn status(app: &App) -> impl FnOnce() -> Result<StatusView> + Send + 'static {
    let request = ops::StatusRequest {
        plan: app.target.plan.clone(),
        db: app.target.db.clone(),
    };
    move || ops::status(&request)
}

pub(super) async fn show(State(app): State<App>, lang: Lang) -> Response {
    let status = blocking(status(&app)).await;
    let newest_backup = blocking(newest_backup(&app)).await.ok().flatten();
    page(
        &app,
        lang,
        "dashboard.html",
        status.map(|status| Dashboard {
            status,
            newest_backup,
        }),
    )
}

/// `/api/status`: what `migplan status --format json` prints.
pub(super) async fn show_api(State(app): State<App>) -> Response {
    api(blocking(status(&app)).await)
}

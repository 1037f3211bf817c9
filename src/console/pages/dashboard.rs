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
    page(
        &app,
        lang,
        "dashboard.html",
        status.map(|status| Dashboard { status }),
    )
}

/// `/api/status`: what `migplan status --format json` prints.
pub(super) async fn show_api(State(app): State<App>) -> Response {
    api(blocking(status(&app)).await)
}

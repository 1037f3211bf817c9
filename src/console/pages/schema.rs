//! Pending schema scripts: listed as a dry run first, then applied as a job.

use axum::Form;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;

use super::{RecordForm, blocking, page, start_change, started};
use crate::console::App;
use crate::console::i18n::Lang;
use crate::console::jobs::Finished;
use crate::error::{ConsoleError, Result};
use crate::ops::{self, SchemaOutcome};

#[derive(Serialize)]
struct Pending {
    scripts: Vec<String>,
    confirm_name: Option<String>,
}

fn request(app: &App) -> Option<ops::SchemaUpRequest> {
    Some(ops::SchemaUpRequest {
        schema: ops::SchemaRequest {
            plan: app.target.plan.clone()?,
            db: app.target.db.clone(),
            env: None,
        },
        yes: true,
        ..ops::SchemaUpRequest::default()
    })
}

pub(super) async fn show(State(app): State<App>, lang: Lang) -> Response {
    let mut dry = request(&app);
    let confirm_name = app.target.confirm_name.clone();
    let listed = blocking(move || {
        let Some(r) = dry.as_mut() else {
            return Ok(vec![]);
        };
        r.dry_run = true;
        Ok(match ops::schema_up(r)? {
            SchemaOutcome::WouldApply(planned) => planned.iter().map(|p| p.label.clone()).collect(),
            _ => vec![],
        })
    })
    .await;
    page(
        &app,
        lang,
        "schema.html",
        listed.map(|scripts| Pending {
            scripts,
            confirm_name,
        }),
    )
}

pub(super) async fn apply(
    State(app): State<App>,
    lang: Lang,
    headers: HeaderMap,
    Form(form): Form<RecordForm>,
) -> Response {
    let job = (|| -> Result<u64> {
        let record = form.record(&app)?;
        let mut r = request(&app).ok_or(ConsoleError::NoPlan {
            action: "applying schema scripts",
        })?;
        r.record = record;
        start_change(
            &app,
            "schema",
            "schema scripts applied".into(),
            vec![],
            move || {
                let outcome = ops::schema_up(&r)?;
                let applied = match &outcome {
                    SchemaOutcome::Applied { scripts, .. } => scripts.clone(),
                    _ => vec![],
                };
                Ok(Finished::of(&applied).then("/"))
            },
        )
    })();
    started(&app, lang, &headers, job)
}

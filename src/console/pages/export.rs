//! The export wizard: a plan (or the whole database), its modules, a
//! format and a mode, then the export runs as a job whose backup is offered
//! for download.

use std::path::{Path, PathBuf};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;

use super::{Form, RecordForm, blocking, page, start_job, started};
use crate::console::App;
use crate::console::i18n::Lang;
use crate::console::jobs::Finished;
use crate::error::{ConsoleError, Error, Result};
use crate::ops::{self, Outcome};
use crate::plan::{Plan, PlanKind};

/// The formats offered, as (form value, file suffix).
const FORMATS: &[(&str, &str)] = &[
    ("json", ".json"),
    ("json.zst", ".json.zst"),
    ("xlsx", ".xlsx"),
];

/// An export plan the wizard offers.
#[derive(Debug, Serialize)]
pub(crate) struct ExportPlan {
    /// The plan file, as the form sends it back.
    pub path: String,
    pub name: String,
    pub description: Option<String>,
    pub modules: Vec<ModuleChoice>,
    /// The plan's own choices, preselected.
    pub format: String,
    pub closure: bool,
    /// The folder its backups go to.
    pub folder: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct ModuleChoice {
    pub name: String,
    pub tables: Vec<String>,
    pub chosen: bool,
}

#[derive(Serialize)]
struct Wizard {
    plans: Vec<ExportPlan>,
    formats: Vec<&'static str>,
    /// Backups an incremental export can follow, newest first.
    follows: Vec<Followable>,
}

#[derive(Serialize)]
struct Followable {
    path: String,
    name: String,
}

/// The newest JSON backups of the folders that a chain can go on from.
fn followable(app: &App) -> Result<Vec<Followable>> {
    let list = ops::backups(&ops::BackupsRequest {
        plan: app.target.plan.clone(),
        dirs: app.target.backup_dirs.clone(),
        limit: 20,
        ..ops::BackupsRequest::default()
    })?;
    Ok(list
        .backups
        .into_iter()
        .filter(|b| {
            b.contents.as_ref().is_some_and(|c| {
                c.backup_id.is_some() && matches!(c.kind.as_str(), "full" | "incremental")
            })
        })
        .map(|b| Followable {
            path: b.path.display().to_string(),
            name: b.name,
        })
        .collect())
}

/// The export plans of the console's plan folder, the served plan first.
pub(crate) fn export_plans(app: &App) -> Vec<ExportPlan> {
    super::plans_of(app, PlanKind::Export)
        .iter()
        .map(describe)
        .collect()
}

fn describe(plan: &Plan) -> ExportPlan {
    let chosen =
        |m: &str| plan.export.modules.is_empty() || plan.export.modules.iter().any(|c| c == m);
    ExportPlan {
        path: plan.path.display().to_string(),
        name: plan.name.clone(),
        description: plan.description.clone(),
        modules: plan
            .modules
            .iter()
            .map(|m| ModuleChoice {
                name: m.name.clone(),
                tables: m.tables.clone(),
                chosen: chosen(&m.name),
            })
            .collect(),
        format: plan.export.format.extension().to_string(),
        closure: plan.export.closure,
        folder: folder_of(plan).display().to_string(),
    }
}

/// Where a plan's backups go: the folder of its `[export] output`.
fn folder_of(plan: &Plan) -> PathBuf {
    ops::expand_output(&plan.export.output, &plan.name)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

pub(super) async fn show(State(app): State<App>, lang: Lang) -> Response {
    if let Err(e) = super::writable(&app) {
        return app.view.error(&app, lang, &e);
    }
    let a = app.clone();
    let wizard = blocking(move || {
        Ok(Wizard {
            plans: export_plans(&a),
            formats: FORMATS.iter().map(|(f, _)| *f).collect(),
            follows: followable(&a)?,
        })
    })
    .await;
    page(&app, lang, "export.html", wizard)
}

/// What the wizard's form asks for.
#[derive(Debug, Default)]
pub(crate) struct ExportForm {
    pub plan: String,
    pub modules: Vec<String>,
    pub closure: bool,
    pub format: String,
    /// `full`, `since` or `follows`.
    pub mode: String,
    /// RFC 3339, the browser's local time turned into UTC by console.js.
    pub since: String,
    /// The backup an incremental export follows.
    pub follows: String,
}

impl ExportForm {
    fn read(form: &Form) -> ExportForm {
        ExportForm {
            plan: form.one("plan"),
            modules: form.all("modules"),
            closure: form.one("closure") == "on",
            format: form.one("format"),
            mode: form.one("mode"),
            since: form.one("since"),
            follows: form.one("follows"),
        }
    }

    /// The modules chosen; every one of the plan's is the whole plan.
    fn modules_of(&self, plan: &ExportPlan) -> Result<Vec<String>> {
        if !plan.modules.is_empty() && self.modules.is_empty() {
            return Err(bad("modules", "", "at least one module"));
        }
        let all = plan.modules.iter().all(|m| self.modules.contains(&m.name));
        Ok(match all {
            true => vec![],
            false => self.modules.clone(),
        })
    }

    /// The run request, checked against the plans offered.
    fn request(&self, app: &App, plans: &[ExportPlan]) -> Result<ops::RunRequest> {
        let plan = plans.iter().find(|p| p.path == self.plan).ok_or_else(|| {
            Error::from(ConsoleError::NotAnExportPlan {
                plan: self.plan.clone(),
                folder: app.target.plans_dir.clone().unwrap_or_default(),
            })
        })?;
        let suffix = FORMATS
            .iter()
            .find(|(f, _)| *f == self.format)
            .map(|(_, s)| *s)
            .ok_or_else(|| bad("format", &self.format, "one of json, json.zst, xlsx"))?;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let name = format!("{}-{stamp}{suffix}", ops::placeholder_value(&plan.name));
        let mut r = ops::RunRequest {
            plan: PathBuf::from(&plan.path),
            // The served database, whatever the plan's own URL says.
            db: Some(app.target.url.expose().to_string()),
            output: Some(Path::new(&plan.folder).join(name)),
            modules: self.modules_of(plan)?,
            closure: self.closure,
            full: true,
            yes: true,
            ..ops::RunRequest::default()
        };
        match self.mode.as_str() {
            "full" | "" => {}
            "since" if !self.since.trim().is_empty() => r.since = Some(self.since.trim().into()),
            "since" => {
                return Err(bad(
                    "since",
                    "",
                    "a date and time to export the changes after",
                ));
            }
            "follows" if !self.follows.is_empty() => {
                r.follows = Some(super::backups::in_backup_folders(app, &self.follows)?)
            }
            "follows" => return Err(bad("follows", "", "the backup this export follows")),
            other => return Err(bad("mode", other, "full, since or follows")),
        }
        Ok(r)
    }
}

fn bad(field: &'static str, value: &str, expected: &'static str) -> Error {
    ConsoleError::BadField {
        field,
        value: value.into(),
        expected,
    }
    .into()
}

pub(super) async fn start(
    State(app): State<App>,
    lang: Lang,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let a = app.clone();
    let plans = blocking(move || Ok(export_plans(&a))).await;
    let job = plans.and_then(|plans| {
        let record = RecordForm::from(&form).record_or_console()?;
        let mut r = ExportForm::read(&form).request(&app, &plans)?;
        r.record = record;
        let title = r
            .output
            .as_ref()
            .and_then(|o| o.file_name())
            .map(|o| o.to_string_lossy().into_owned())
            .unwrap_or_default();
        start_job(
            &app,
            "export",
            title,
            false,
            vec![],
            move || match ops::run(&r)? {
                Outcome::Export(report) => {
                    let file = PathBuf::from(&report.file);
                    Ok(Finished::of(&report).wrote(file))
                }
                other => Ok(Finished::of(&other)),
            },
        )
    });
    started(&app, lang, &headers, job)
}

/// The rows each table of the chosen export would hold, from the engine's
/// statistics (a fragment of the wizard), with the tables the closure
/// pulls in and why.
pub(super) async fn estimate(
    State(app): State<App>,
    lang: Lang,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let form = ExportForm::read(&Form::parse(query.unwrap_or_default().as_bytes()));
    let a = app.clone();
    let estimated = blocking(move || {
        let plans = export_plans(&a);
        let r = form.request(&a, &plans)?;
        ops::estimate(&ops::EstimateRequest {
            plan: r.plan,
            db: r.db,
            modules: r.modules,
            closure: r.closure,
            ..ops::EstimateRequest::default()
        })
    })
    .await;
    match estimated {
        Ok(e) => app.view.fragment(lang, "fragment_estimate.html", e),
        Err(e) => super::form_error(&app, lang, &e),
    }
}

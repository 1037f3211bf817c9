//! The import wizard: a file uploaded (or a backup picked) → checked
//! (its plan, the adapter steps an older backup goes through, the tables
//! and their policies, nothing written) → previewed row by row → the
//! conflict policy per module → confirmed, with who and why → the import
//! runs as a job.

use std::collections::BTreeMap;
use std::path::PathBuf;

use axum::body::Bytes;
use axum::extract::{Multipart, Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;

use super::{
    Form, RecordForm, blocking, form_error, go_to, page, start_on_upload, started, writable,
};
use crate::console::App;
use crate::console::i18n::Lang;
use crate::console::jobs::Finished;
use crate::console::uploads::{Upload, UploadFile};
use crate::error::{ConsoleError, Error, Result};
use crate::ops::{self, PlanOutcome, PlanView};
use crate::plan::{Plan, PlanKind};
use crate::policy::Conflict;

/// An import plan the wizard offers.
#[derive(Debug, Serialize)]
struct ImportPlan {
    path: String,
    name: String,
    description: Option<String>,
}

#[derive(Serialize)]
struct Start {
    plans: Vec<ImportPlan>,
    limit: u64,
}

fn import_plans(app: &App) -> Vec<Plan> {
    super::plans_of(app, PlanKind::Import)
}

pub(super) async fn show(State(app): State<App>, lang: Lang) -> Response {
    if let Err(e) = super::writable(&app) {
        return app.view.error(&app, lang, &e);
    }
    let a = app.clone();
    let plans = blocking(move || {
        Ok(import_plans(&a)
            .iter()
            .map(|p| ImportPlan {
                path: p.path.display().to_string(),
                name: p.name.clone(),
                description: p.description.clone(),
            })
            .collect())
    })
    .await;
    let limit = app.upload_limit;
    page(
        &app,
        lang,
        "import.html",
        plans.map(|plans| Start { plans, limit }),
    )
}

/// The upload: the file streamed to a private file under the cap, its plan
/// checked against the plans offered; then the check page.
pub(super) async fn upload(
    State(app): State<App>,
    lang: Lang,
    headers: HeaderMap,
    mut parts: Multipart,
) -> Response {
    let mut plan = String::new();
    let mut files: Vec<UploadFile> = vec![];
    let received: Result<()> = async {
        writable(&app)?;
        let mut room = app.upload_limit;
        while let Some(field) = parts.next_field().await.map_err(bad_upload)? {
            match field.name() {
                Some("plan") => plan = field.text().await.map_err(bad_upload)?,
                // Several files: an incremental chain, under one cap.
                // An empty file input sends a part named "": no file.
                Some("file") if field.file_name() != Some("") => {
                    let file = app.uploads.receive(field, room).await?;
                    room -= file.size;
                    files.push(file);
                }
                _ => {}
            }
        }
        Ok(())
    }
    .await;
    let kept = files.clone();
    let a = app.clone();
    let checked = match received {
        Err(e) => Err(e),
        Ok(()) if files.is_empty() => Err(ConsoleError::MissingField { field: "file" }.into()),
        Ok(()) => blocking(move || Upload::uploaded(files, chosen_plan(&a, &plan)?)).await,
    };
    match checked {
        Ok(u) => {
            let to = format!("/import/{}", u.id);
            app.uploads.keep(u);
            go_to(&headers, &to)
        }
        Err(e) => {
            for f in kept {
                let _ = std::fs::remove_file(&f.path);
            }
            form_error(&app, lang, &e)
        }
    }
}

fn bad_upload(e: axum::extract::multipart::MultipartError) -> Error {
    ConsoleError::BadUpload {
        cause: e.body_text(),
    }
    .into()
}

/// The plan the form names, which must be one the wizard offers; empty is
/// the plan-less import.
fn chosen_plan(app: &App, named: &str) -> Result<Option<PathBuf>> {
    if named.is_empty() {
        return Ok(None);
    }
    import_plans(app)
        .into_iter()
        .find(|p| p.path.display().to_string() == named)
        .map(|p| Some(p.path))
        .ok_or_else(|| {
            ConsoleError::NotAnImportPlan {
                plan: named.into(),
                folder: app.target.plans_dir.clone().unwrap_or_default(),
            }
            .into()
        })
}

#[derive(Serialize)]
struct Check {
    upload: Upload,
    /// The files in import order, each as the backups page shows it.
    files: Vec<ops::BackupInfo>,
    plan: Option<String>,
    view: Option<PlanView>,
    modules: Vec<ModulePolicy>,
    policies: Vec<&'static str>,
    confirm_name: Option<String>,
}

#[derive(Serialize)]
pub(super) struct ModulePolicy {
    pub(super) name: String,
    pub(super) tables: Vec<String>,
    pub(super) policy: &'static str,
}

/// What the import would do, nothing written: the plan's view of the
/// database with this file (adapter steps, pending scripts, tables and
/// their policies).
fn check(app: &App, upload: Upload) -> Result<Check> {
    let (view, modules) = match &upload.plan {
        Some(plan) => {
            let r = ops::PlanRequest {
                plan: plan.clone(),
                db: Some(app.target.url.expose().to_string()),
                // The base's adapter steps: increments follow its schema.
                file: upload.files.first().map(|f| f.path.clone()),
                ..ops::PlanRequest::default()
            };
            let view = match ops::show_plan(&r)? {
                PlanOutcome::Steps(v) => Some(*v),
                PlanOutcome::Graph(_) => None,
            };
            (view, module_policies(&ops::load_plan(plan, None)?))
        }
        None => (None, modules_of(&upload)?),
    };
    let files = upload
        .files
        .iter()
        .map(|f| {
            let mut info = ops::backup_info(&f.path)?;
            info.name = f.name.clone();
            info.unreadable = info.unreadable.map(|u| upload.alias(&u));
            Ok(info)
        })
        .collect::<Result<_>>()?;
    Ok(Check {
        files,
        plan: upload.plan.as_ref().map(|p| p.display().to_string()),
        upload,
        view,
        modules,
        policies: Conflict::NAMES.iter().map(|(n, _)| *n).collect(),
        confirm_name: app.target.confirm_name.clone(),
    })
}

/// The policy row standing for every table of a plan-less import.
pub(super) const EVERY_TABLE: &str = "*";

/// The modules whose policies the person chooses: the plan's, or one row
/// for every table without a plan (`migplan import --db` has one policy).
pub(super) fn modules_of(upload: &Upload) -> Result<Vec<ModulePolicy>> {
    Ok(match &upload.plan {
        Some(plan) => module_policies(&ops::load_plan(plan, None)?),
        None => vec![ModulePolicy {
            name: EVERY_TABLE.into(),
            tables: vec![],
            policy: Conflict::Error.name(),
        }],
    })
}

pub(super) fn module_policies(plan: &Plan) -> Vec<ModulePolicy> {
    plan.modules
        .iter()
        .map(|m| ModulePolicy {
            name: m.name.clone(),
            tables: m.tables.clone(),
            policy: m.conflict.unwrap_or(plan.import.conflict).name(),
        })
        .collect()
}

pub(super) async fn show_check(
    State(app): State<App>,
    lang: Lang,
    Path(id): Path<String>,
) -> Response {
    let a = app.clone();
    let checked = blocking(move || {
        let upload = a.uploads.get(&id)?;
        check(&a, upload)
    })
    .await;
    page(&app, lang, "import_check.html", checked)
}

/// The policy chosen for each module (`policy.NAME` fields).
pub(super) fn policies(form: &Form, upload: &Upload) -> Result<BTreeMap<String, Conflict>> {
    let mut chosen = BTreeMap::new();
    for m in modules_of(upload)? {
        let value = form.one(&format!("policy.{}", m.name));
        if value.is_empty() {
            continue;
        }
        let conflict = Conflict::from_name(&value).ok_or_else(|| ConsoleError::BadField {
            field: "policy",
            value: value.clone(),
            expected: "skip, overwrite or error",
        })?;
        chosen.insert(m.name, conflict);
    }
    Ok(chosen)
}

/// The policies chosen, as the import takes them: per module, or one for
/// every table without a plan.
fn load_of(mut chosen: BTreeMap<String, Conflict>) -> ops::Load {
    ops::Load {
        conflict: chosen.remove(EVERY_TABLE),
        per_module: chosen,
        ..ops::Load::default()
    }
}

/// The import itself, as a job; an uploaded file is removed when it ends.
pub(super) async fn confirm(
    State(app): State<App>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let job = (|| -> Result<u64> {
        let record = RecordForm::from(&form).record(&app)?;
        let upload = app.uploads.get(&id)?;
        let load = load_of(policies(&form, &upload)?);
        let mut cleanup = vec![app.uploads.store_path(&id)];
        if upload.owned {
            cleanup.extend(upload.paths());
        }
        let db = app.target.url.expose().to_string();
        let a = app.clone();
        let shown = upload.clone();
        start_on_upload(&app, "import", &shown, cleanup, move || {
            let outcome = match &upload.plan {
                Some(plan) => ops::run(&ops::RunRequest {
                    plan: plan.clone(),
                    db: Some(db),
                    file: upload.paths(),
                    load,
                    yes: true,
                    no_seed: true,
                    record,
                    ..ops::RunRequest::default()
                }),
                None => ops::import_shortcut(&ops::ImportRequest {
                    db,
                    files: upload.paths(),
                    load,
                    yes: true,
                    record,
                    ..ops::ImportRequest::default()
                }),
            };
            a.uploads.forget(&upload.id);
            Ok(Finished::of(&outcome?).then("/history"))
        })
    })();
    started(&app, lang, &headers, job)
}

/// Abandons an upload: its file removed at once.
pub(super) async fn discard(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    app.uploads.discard(&id);
    go_to(&headers, "/import")
}

//! The import wizard's preview: every row of the file classed by a
//! rolled-back import (a job), then shown a page at a time from the store
//! it leaves on disk, filtered by table and class; the counts a policy
//! implies recomputed as the person weighs the policies.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;

use super::import::{EVERY_TABLE, modules_of, policies};
use super::{Form, Pager, api, blocking, page, start_on_upload, started};
use crate::console::App;
use crate::console::i18n::Lang;
use crate::console::jobs::Finished;
use crate::error::Result;
use crate::ops::{self, PreviewRow, PreviewStore, RowClass, TablePreview};
use crate::policy::Conflict;

/// Rows per page: a million-row preview is read 50 at a time.
const PER_PAGE: usize = 50;

/// Starts the preview job with the policies chosen on the check page.
pub(super) async fn start(
    State(app): State<App>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let job = (|| -> Result<u64> {
        let upload = app.uploads.get(&id)?;
        let mut chosen = policies(&form, &upload)?;
        let r = ops::PreviewRequest {
            db: Some(app.target.url.expose().to_string()),
            plan: upload.plan.clone(),
            files: upload.paths(),
            conflict: chosen.remove(EVERY_TABLE),
            module_conflicts: chosen.into_iter().collect::<HashMap<_, _>>(),
            store: app.uploads.store_path(&id),
            ..ops::PreviewRequest::default()
        };
        let next = format!("/import/{id}/preview");
        start_on_upload(&app, "preview", &upload, vec![], move || {
            Ok(Finished::of(&ops::preview(&r)?).then(next))
        })
    })();
    started(&app, lang, &headers, job)
}

/// What the preview page asks for: `table`, `class`, `page`, and the
/// policies being weighed (`policy.MODULE`).
struct Filter {
    table: Option<String>,
    class: Option<RowClass>,
    page: usize,
    form: Form,
}

impl Filter {
    fn read(query: Option<String>) -> Result<Filter> {
        let form = Form::parse(query.unwrap_or_default().as_bytes());
        let class = match form.one("class") {
            c if c.is_empty() => None,
            c => Some(RowClass::parse(&c)?),
        };
        Ok(Filter {
            table: Some(form.one("table")).filter(|t| !t.is_empty()),
            class,
            page: form.one("page").parse().unwrap_or(1).max(1),
            form,
        })
    }

    fn link(&self, id: &str, page: usize) -> String {
        let pairs = [
            ("table", self.table.clone().unwrap_or_default()),
            (
                "class",
                self.class.map(|c| c.name().to_string()).unwrap_or_default(),
            ),
            ("page", page.to_string()),
        ];
        let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
        format!("/import/{id}/preview?{query}")
    }
}

#[derive(Serialize)]
struct Preview {
    id: String,
    name: String,
    tables: Vec<Weighed>,
    classes: Vec<&'static str>,
    table: Option<String>,
    class: Option<&'static str>,
    rows: Vec<PreviewRow>,
    pager: Pager,
    modules: Vec<super::import::ModulePolicy>,
    policies: Vec<&'static str>,
    would_fail: bool,
    confirm_name: Option<String>,
}

/// A table's classes, and what the policy being weighed makes of them.
#[derive(Serialize)]
struct Weighed {
    #[serde(flatten)]
    preview: TablePreview,
    weighed: &'static str,
}

/// The tables with their counts under the policies chosen in `form`
/// (a table outside every module keeps the one it was previewed under).
fn weigh(store: &PreviewStore, chosen: &BTreeMap<String, Conflict>) -> Result<Vec<Weighed>> {
    store
        .tables()?
        .into_iter()
        .map(|mut t| {
            let policy = t
                .module
                .as_ref()
                .and_then(|m| chosen.get(m))
                .or(chosen.get(EVERY_TABLE))
                .copied()
                .unwrap_or(t.policy);
            t.implied = store.implied(&t.table, policy)?;
            Ok(Weighed {
                preview: t,
                weighed: policy.name(),
            })
        })
        .collect()
}

fn load(app: &App, id: &str, filter: &Filter) -> Result<Preview> {
    let upload = app.uploads.get(id)?;
    let store = PreviewStore::open(&app.uploads.store_path(id))?;
    let chosen = policies(&filter.form, &upload)?;
    let tables = weigh(&store, &chosen)?;
    let total = store.count(filter.table.as_deref(), filter.class)? as usize;
    let pager = Pager::new(filter.page, PER_PAGE, total, |p| filter.link(id, p));
    let rows = store.page(
        filter.table.as_deref(),
        filter.class,
        pager.offset(PER_PAGE) as u64,
        PER_PAGE as u64,
    )?;
    // Each module's policy: the one being weighed, else the one it was
    // previewed under (what confirming the page imports with).
    let mut modules = modules_of(&upload)?;
    for m in &mut modules {
        let previewed = tables
            .iter()
            .find(|t| m.name == EVERY_TABLE || t.preview.module.as_ref() == Some(&m.name))
            .map(|t| t.preview.policy);
        if let Some(c) = chosen.get(&m.name).copied().or(previewed) {
            m.policy = c.name();
        }
    }
    Ok(Preview {
        id: id.to_string(),
        name: upload.name,
        would_fail: tables.iter().any(|t| t.preview.implied.refused > 0),
        tables,
        classes: RowClass::NAMES.iter().map(|(n, _)| *n).collect(),
        table: filter.table.clone(),
        class: filter.class.map(RowClass::name),
        rows,
        pager,
        modules,
        policies: Conflict::NAMES.iter().map(|(n, _)| *n).collect(),
        confirm_name: app.target.confirm_name.clone(),
    })
}

pub(super) async fn show(
    State(app): State<App>,
    lang: Lang,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let a = app.clone();
    let preview = blocking(move || load(&a, &id, &Filter::read(query)?)).await;
    page(&app, lang, "import_preview.html", preview)
}

/// `/api/import/{id}/preview?table=&class=&page=`: the same page as JSON.
pub(super) async fn show_api(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let a = app.clone();
    api(blocking(move || load(&a, &id, &Filter::read(query)?)).await)
}

/// The counts under the policies being weighed: a fragment the page swaps
/// in whenever a policy changes.
pub(super) async fn counts(
    State(app): State<App>,
    lang: Lang,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let a = app.clone();
    match blocking(move || load(&a, &id, &Filter::read(query)?)).await {
        Ok(p) => app.view.fragment(lang, "fragment_counts.html", p),
        Err(e) => super::form_error(&app, lang, &e),
    }
}

//! The run history: the list (filtered, paged), one run whole, and its
//! rollback with a preview of what it restores.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::{Pager, RecordForm, api, blocking, page, start_change, started};
use crate::console::App;
use crate::console::i18n::Lang;
use crate::console::jobs::Finished;
use crate::error::Result;
use crate::history::Run;
use crate::ops::{self, HistoryOutcome};

/// Runs shown per page.
const PER_PAGE: usize = 50;
/// The newest runs looked through by a filter.
const SCANNED: usize = 10_000;

#[derive(Debug, Deserialize, Serialize, Default, Clone)]
pub(super) struct Filter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    operator: Option<String>,
    /// YYYY-MM-DD, inclusive, in UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    page: Option<usize>,
}

impl Filter {
    fn keeps(&self, r: &Run) -> bool {
        let given = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_string);
        let day = &r.started_at.get(..10).unwrap_or("");
        given(&self.kind).is_none_or(|k| r.kind == k)
            && given(&self.status).is_none_or(|s| r.status.as_str() == s)
            && given(&self.operator)
                .is_none_or(|o| r.operator.to_lowercase().contains(&o.to_lowercase()))
            && given(&self.from).is_none_or(|f| *day >= f.as_str())
            && given(&self.to).is_none_or(|t| *day <= t.as_str())
    }

    fn link(&self, page: usize) -> String {
        let mut f = self.clone();
        f.page = Some(page);
        format!(
            "/history?{}",
            serde_urlencoded::to_string(&f).unwrap_or_default()
        )
    }
}

#[derive(Serialize)]
struct RunList {
    runs: Vec<Run>,
    pager: Pager,
    filter: Filter,
    kinds: Vec<String>,
    statuses: Vec<&'static str>,
}

fn runs(app: &App, filter: Filter) -> impl FnOnce() -> Result<RunList> + Send + 'static {
    let request = ops::HistoryRequest {
        plan: app.target.plan.clone(),
        db: app.target.db.clone(),
        run: None,
        limit: SCANNED,
    };
    move || {
        let HistoryOutcome::List(all) = ops::history(&request)? else {
            return Ok(RunList::empty(filter));
        };
        let mut kinds: Vec<String> = all.iter().map(|r| r.kind.clone()).collect();
        kinds.sort();
        kinds.dedup();
        let kept: Vec<Run> = all.into_iter().filter(|r| filter.keeps(r)).collect();
        let pager = Pager::new(filter.page.unwrap_or(1), PER_PAGE, kept.len(), |n| {
            filter.link(n)
        });
        let runs = kept
            .into_iter()
            .skip(pager.offset(PER_PAGE))
            .take(PER_PAGE)
            .collect();
        Ok(RunList {
            runs,
            pager,
            filter,
            kinds,
            statuses: STATUSES.to_vec(),
        })
    }
}

const STATUSES: [&str; 5] = [
    "running",
    "succeeded",
    "failed",
    "interrupted",
    "rolled_back",
];

impl RunList {
    fn empty(filter: Filter) -> RunList {
        RunList {
            runs: vec![],
            pager: Pager::new(1, PER_PAGE, 0, |_| String::new()),
            filter,
            kinds: vec![],
            statuses: STATUSES.to_vec(),
        }
    }
}

pub(super) async fn list(State(app): State<App>, lang: Lang, Query(f): Query<Filter>) -> Response {
    let list = blocking(runs(&app, f)).await;
    page(&app, lang, "history.html", list)
}

/// `/api/history`: the runs as `migplan history --format json` gives them,
/// filtered and paged like the page (`?kind=&status=&operator=&from=&to=&page=`).
pub(super) async fn api_list(State(app): State<App>, Query(f): Query<Filter>) -> Response {
    api(blocking(runs(&app, f)).await.map(|l| l.runs))
}

fn one(app: &App, id: i64) -> impl FnOnce() -> Result<Run> + Send + 'static {
    let request = ops::HistoryRequest {
        plan: app.target.plan.clone(),
        db: app.target.db.clone(),
        run: Some(id),
        limit: 1,
    };
    move || match ops::history(&request)? {
        HistoryOutcome::Run(run) => Ok(*run),
        HistoryOutcome::List(_) => unreachable!("a run id asks for one run"),
    }
}

#[derive(Serialize)]
struct RunPage {
    run: Run,
    columns: Vec<String>,
    tables: Vec<TableLine>,
    backup_download: Option<String>,
}

#[derive(Serialize)]
struct TableLine {
    table: String,
    values: Vec<String>,
}

pub(super) async fn run(State(app): State<App>, lang: Lang, Path(id): Path<i64>) -> Response {
    let run = blocking(one(&app, id)).await;
    let data = run.map(|run| {
        let (columns, tables) = table_lines(&run.tables);
        let backup_download = run.backup.as_ref().map(|b| {
            format!(
                "/backups/download?{}",
                serde_urlencoded::to_string([("file", b)]).unwrap_or_default()
            )
        });
        RunPage {
            run,
            columns,
            tables,
            backup_download,
        }
    });
    page(&app, lang, "run.html", data)
}

pub(super) async fn api_run(State(app): State<App>, Path(id): Path<i64>) -> Response {
    api(blocking(one(&app, id)).await)
}

/// The rows per table a run reported (an export's or an import's counts),
/// as columns and lines: every object with a `table` field, its numbers.
fn table_lines(tables: &serde_json::Value) -> (Vec<String>, Vec<TableLine>) {
    let mut found = vec![];
    collect_tables(tables, &mut found);
    let columns = crate::history::count_columns(&found);
    let lines = found
        .iter()
        .map(|t| TableLine {
            table: t
                .get("table")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string(),
            values: columns
                .iter()
                .map(|c| t.get(c).map(|v| v.to_string()).unwrap_or_default())
                .collect(),
        })
        .collect();
    (columns, lines)
}

fn collect_tables<'a>(
    v: &'a serde_json::Value,
    out: &mut Vec<&'a serde_json::Map<String, serde_json::Value>>,
) {
    match v {
        serde_json::Value::Object(m) if m.get("table").is_some_and(|t| t.is_string()) => {
            out.push(m)
        }
        serde_json::Value::Object(m) => m.values().for_each(|v| collect_tables(v, out)),
        serde_json::Value::Array(a) => a.iter().for_each(|v| collect_tables(v, out)),
        _ => {}
    }
}

fn rollback_request(app: &App, id: i64) -> ops::RollbackRequest {
    ops::RollbackRequest {
        plan: app.target.plan.clone(),
        run: id,
        db: app.target.db.clone(),
        yes: true,
        force: false,
        record: ops::Record::default(),
    }
}

#[derive(Serialize)]
struct RollbackPage {
    preview: ops::RollbackPreview,
    confirm_name: Option<String>,
}

pub(super) async fn rollback_page(
    State(app): State<App>,
    lang: Lang,
    Path(id): Path<i64>,
) -> Response {
    let request = rollback_request(&app, id);
    let preview = blocking(move || ops::rollback_preview(&request)).await;
    let confirm_name = app.target.confirm_name.clone();
    page(
        &app,
        lang,
        "rollback.html",
        preview.map(|preview| RollbackPage {
            preview,
            confirm_name,
        }),
    )
}

#[derive(Deserialize)]
pub(super) struct RollbackForm {
    #[serde(flatten)]
    record: RecordForm,
    #[serde(default)]
    force: Option<String>,
}

pub(super) async fn rollback(
    State(app): State<App>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<RollbackForm>,
) -> Response {
    let job = form.record.record(&app).and_then(|record| {
        let mut request = rollback_request(&app, id);
        request.record = record;
        request.force = form.force.is_some();
        let title = format!("rollback of run {id}");
        start_change(&app, "rollback", title, vec![], move || {
            let outcome = ops::rollback(&request)?;
            Ok(Finished::of(&outcome).then(format!("/history/{id}")))
        })
    });
    started(&app, lang, &headers, job)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Status;

    #[test]
    fn a_reports_tables_become_lines_of_numbers() {
        let v = serde_json::json!([{ "file": "x", "tables": [
            { "table": "users", "inserted": 2, "identical": 1 },
            { "table": "questions", "inserted": 5, "identical": 0 } ] }]);
        let (cols, lines) = table_lines(&v);
        assert_eq!(cols, ["inserted", "identical"]);
        assert_eq!(lines[1].table, "questions");
        assert_eq!(lines[1].values, ["5", "0"]);
    }

    #[test]
    fn the_filter_keeps_what_it_names() {
        let f = Filter {
            status: Some("failed".into()),
            from: Some("2026-01-02".into()),
            ..Filter::default()
        };
        let mut r = sample();
        r.status = Status::Failed;
        r.started_at = "2026-01-02T10:00:00Z".into();
        assert!(f.keeps(&r));
        r.started_at = "2026-01-01T23:59:59Z".into();
        assert!(!f.keeps(&r));
    }

    fn sample() -> Run {
        Run {
            id: 1,
            plan: "p".into(),
            plan_sha256: None,
            kind: "import".into(),
            operator: "ana".into(),
            message: None,
            notes: vec![],
            started_at: String::new(),
            ended_at: None,
            status: Status::Succeeded,
            schema_before: None,
            schema_after: None,
            tables: serde_json::Value::Null,
            backup: None,
            error: None,
        }
    }
}

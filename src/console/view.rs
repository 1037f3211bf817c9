//! Pages: minijinja templates compiled into the binary, every string
//! through `t("key")` in the reader's language, every value escaped.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, State, Value, context};
use serde::Serialize;

use super::App;
use super::i18n::{self, Lang};
use crate::error::Error;

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("templates/", $name)))),*]
    };
}

/// Every template, by name.
pub(crate) const TEMPLATES: &[(&str, &str)] = templates!(
    "base.html",
    "macros.html",
    "runs.html",
    "pager.html",
    "fragment_error.html",
    "dashboard.html",
    "schema.html",
    "export.html",
    "import.html",
    "import_check.html",
    "import_preview.html",
    "fragment_counts.html",
    "backups.html",
    "fragment_estimate.html",
    "jobs.html",
    "job.html",
    "history.html",
    "run.html",
    "rollback.html",
    "error.html",
);

pub(crate) struct View {
    env: Environment<'static>,
}

impl View {
    pub(crate) fn new() -> View {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name}: {e:#}"));
        }
        env.add_function("t", translate);
        env.add_filter("bytes", |n: u64| crate::data::human_bytes(n));
        env.add_filter("count", |n: u64| group_thousands(n));
        View { env }
    }

    /// Renders page `name` with `page`'s own values and what every page
    /// shows (language, database, CSRF token).
    pub(crate) fn page(&self, app: &App, lang: Lang, name: &str, page: impl Serialize) -> Response {
        self.render(app, lang, name, page, StatusCode::OK)
    }

    fn render(
        &self,
        app: &App,
        lang: Lang,
        name: &str,
        page: impl Serialize,
        status: StatusCode,
    ) -> Response {
        let ctx = context! {
            lang => lang.code(),
            other_lang => lang.other().code(),
            csrf => app.guard.csrf(),
            read_only => app.read_only,
            database => app.target.shown(),
            engine => app.target.url.engine().name(),
            plan => app.target.plan.as_ref().map(|p| p.display().to_string()),
            running_jobs => app.jobs.all().iter().filter(|j| j.status == super::jobs::JobStatus::Running).count(),
            page => Value::from(minijinja::value::Serde(&page)),
        };
        let rendered = self.env.get_template(name).and_then(|t| t.render(ctx));
        match rendered {
            Ok(html) => (status, Html(html)).into_response(),
            // A template bug: say which, without the context (it may hold data).
            Err(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the console could not render {name}: {e}"),
            )
                .into_response(),
        }
    }

    /// A piece of a page, for htmx to swap in.
    pub(crate) fn fragment(&self, lang: Lang, name: &str, data: impl Serialize) -> Response {
        let ctx =
            context! { lang => lang.code(), page => Value::from(minijinja::value::Serde(&data)) };
        match self.env.get_template(name).and_then(|t| t.render(ctx)) {
            Ok(html) => Html(html).into_response(),
            Err(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the console could not render {name}: {e}"),
            )
                .into_response(),
        }
    }

    /// An error page: the message, what to do, in the reader's language
    /// around it (the message is migplan's, already redacted).
    pub(crate) fn error(&self, app: &App, lang: Lang, error: &Error) -> Response {
        let status = match error {
            Error::Console(crate::error::ConsoleError::NoSuchJob { .. })
            | Error::Console(crate::error::ConsoleError::NoSuchUpload { .. })
            | Error::RunNotFound { .. } => StatusCode::NOT_FOUND,
            Error::Console(crate::error::ConsoleError::ReadOnly) => StatusCode::FORBIDDEN,
            Error::Console(crate::error::ConsoleError::JobRunning { .. }) | Error::History(_) => {
                StatusCode::CONFLICT
            }
            e if e.exit_code() == crate::error::exit::USAGE => StatusCode::BAD_REQUEST,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        let page = context! { message => error.message(), help => error.help() };
        self.render(app, lang, "error.html", page, status)
    }
}

/// `t("key")`: the string in the page's language.
fn translate(state: &State, key: &str) -> String {
    let lang = state
        .lookup("lang")
        .and_then(|v| v.as_str().map(Lang::from_code))
        .unwrap_or_default();
    i18n::text(lang, key).to_string()
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        let _ = View::new();
    }

    #[test]
    fn every_template_file_is_embedded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/console/templates");
        for f in std::fs::read_dir(dir).unwrap() {
            let name = f.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                TEMPLATES.iter().any(|(n, _)| *n == name),
                "{name} is not in view.rs's TEMPLATES"
            );
        }
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(group_thousands(1_234_567), "1,234,567");
        assert_eq!(group_thousands(12), "12");
    }
}

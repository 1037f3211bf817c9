//! Outcomes rendered for a person (text) or a program (`--format json`):
//! the only place that turns what an operation did into output.

use std::path::PathBuf;

use serde::Serialize;

use crate::data;
use crate::diag::Diagnostic;
use crate::error::Error;
use crate::ops::{
    HistoryOutcome, Outcome, PlanOutcome, PlanView, RollbackOutcome, SchemaOutcome, StatusView,
};
use crate::plan::PlanKind;
use crate::schema::{Status, render_planned};

use super::{ReportFormat, ValidateFormat};

/// The version of every `--format json` document (docs/json-output.md):
/// raised when a field changes meaning or goes away, never when one is
/// added.
pub const JSON_VERSION: u32 = 1;

/// Where a command's outcome goes: which command (named in a JSON
/// document) and for whom.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    pub command: &'static str,
    pub format: ReportFormat,
}

impl Out {
    pub fn json(&self) -> bool {
        self.format == ReportFormat::Json
    }

    /// A result as text, or as this command's JSON document.
    pub fn report<T: Serialize + ?Sized>(&self, result: &T, text: impl Fn(&T) -> String) -> String {
        self.report_ok(result, true, text)
    }

    /// As `report`, for a result that is not a success (`verify` finding
    /// differences, `validate` finding problems): `ok` is false.
    pub fn report_ok<T: Serialize + ?Sized>(
        &self,
        result: &T,
        ok: bool,
        text: impl Fn(&T) -> String,
    ) -> String {
        match self.format {
            ReportFormat::Text => text(result),
            ReportFormat::Json => document(self.command, ok, "result", &result),
        }
    }

    /// A failure as this command's JSON document (stdout stays parseable
    /// whatever happened).
    pub fn error(&self, e: &Error) -> String {
        let error = serde_json::json!({
            "kind": kind(e),
            "message": crate::redact::redact(&e.message()),
            "help": e.help().map(|h| crate::redact::redact(&h).into_owned()),
            "exit_code": e.exit_code(),
        });
        document(self.command, false, "error", &error)
    }
}

/// Every `--format json` document: what printed it, whether it went well,
/// then its result or its error, in this order.
#[derive(Serialize)]
struct Document<'a, T: Serialize + ?Sized> {
    version: u32,
    command: &'a str,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a T>,
}

fn document<T: Serialize + ?Sized>(command: &str, ok: bool, key: &str, value: &T) -> String {
    let doc = Document {
        version: JSON_VERSION,
        command,
        ok,
        result: (key == "result").then_some(value),
        error: (key == "error").then_some(value),
    };
    serde_json::to_string_pretty(&doc).expect("reports serialize") + "\n"
}

/// The error's variant, and the variant inside it for a wrapped area
/// (`Load.FoldersGap`, `Engine.MissingTable`): read off its `Debug` form,
/// so a new variant needs no table here.
fn kind(e: &Error) -> String {
    let debug = format!("{e:?}");
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let outer = ident(&debug);
    let inner = debug[outer.len()..]
        .strip_prefix('(')
        .map(ident)
        .filter(|i| i.starts_with(char::is_uppercase));
    match inner {
        Some(inner) => format!("{outer}.{inner}"),
        None => outer,
    }
}

/// What a run did, in one shape whatever the plan's kind.
#[derive(Serialize)]
struct RunResult<'a> {
    kind: &'static str,
    dry_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    schema: Option<&'a Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    export: Option<&'a data::ExportReport>,
    /// One report per backup (an incremental chain has several).
    #[serde(skip_serializing_if = "Option::is_none")]
    imports: Option<&'a [data::ImportReport]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    copy: Option<&'a data::ImportReport>,
}

/// What a run, an export, an import or a copy did.
pub fn outcome(o: Outcome, out: Out) -> String {
    if out.json() {
        let mut r = RunResult {
            kind: "",
            dry_run: false,
            schema: None,
            export: None,
            imports: None,
            copy: None,
        };
        match &o {
            Outcome::Schema(s) => (r.kind, r.schema) = ("migrate", Some(s)),
            Outcome::Export(e) => (r.kind, r.export) = ("export", Some(e)),
            Outcome::Imports { dry_run, reports } => {
                (r.kind, r.dry_run, r.imports) = ("import", *dry_run, Some(reports.as_slice()))
            }
            Outcome::Copy(c) => (r.kind, r.dry_run, r.copy) = ("copy", c.dry_run, Some(c)),
        }
        return out.report(&r, |_| String::new());
    }
    match o {
        Outcome::Schema(status) => render_status(&status),
        Outcome::Export(r) => r.render_text(),
        Outcome::Imports { dry_run, reports } => imports(reports, dry_run),
        Outcome::Copy(r) => r.render_text(),
    }
}

/// One backup's report as ever; a chain's as one report per backup.
pub fn imports(mut reports: Vec<data::ImportReport>, dry_run: bool) -> String {
    if reports.len() == 1 {
        return reports.remove(0).render_text();
    }
    let chain = data::ChainReport {
        dry_run,
        files: reports,
    };
    chain.render_text()
}

pub fn rollback(o: RollbackOutcome, out: Out) -> String {
    out.report(&o, |o| {
        let mut text = format!("run {} rolled back from {}\n", o.run, o.backup.display());
        text.push_str(&imports(o.reports.clone(), false));
        text
    })
}

pub fn history(o: &HistoryOutcome, out: Out) -> String {
    match o {
        HistoryOutcome::Run(run) => out.report(run.as_ref(), super::history::render_run),
        HistoryOutcome::List(runs) => out.report(runs, |r| super::history::render_list(r)),
    }
}

/// A schema command's outcome as JSON: what it did (`action`), the
/// scripts it concerned, and the status after.
fn schema_json(o: &SchemaOutcome) -> serde_json::Value {
    use serde_json::json;
    match o {
        SchemaOutcome::Status(s) => json!({"action": "status", "status": s}),
        SchemaOutcome::Applied { scripts, status } => {
            json!({"action": "applied", "scripts": scripts, "status": status})
        }
        SchemaOutcome::Undone { scripts, status } => {
            json!({"action": "undone", "scripts": scripts, "status": status})
        }
        SchemaOutcome::WouldApply(planned) => {
            json!({"action": "would_apply", "dry_run": true, "planned": planned})
        }
        SchemaOutcome::WouldUndo { planned, to } => {
            json!({"action": "would_undo", "dry_run": true, "planned": planned, "to": to})
        }
        SchemaOutcome::Created(paths) => json!({"action": "created", "files": paths}),
        SchemaOutcome::Baselined { marked, status } => {
            json!({"action": "baselined", "scripts": marked, "status": status})
        }
        SchemaOutcome::Repaired(r) => json!({"action": "repaired", "scripts": r}),
    }
}

pub fn schema_outcome(o: &SchemaOutcome, out: Out) -> String {
    match out.json() {
        true => out.report(&schema_json(o), |_| String::new()),
        false => schema(o),
    }
}

pub fn schema(o: &SchemaOutcome) -> String {
    let lines = |verb: &str, items: &[String]| -> String {
        items.iter().map(|i| format!("{verb} {i}\n")).collect()
    };
    match o {
        SchemaOutcome::Status(s) => render_status(s),
        SchemaOutcome::Applied { scripts, status } if scripts.is_empty() => {
            "schema is up to date\n".to_string() + &render_status(status)
        }
        SchemaOutcome::Applied { scripts, status } => {
            lines("applied", scripts) + &render_status(status)
        }
        SchemaOutcome::Undone { scripts, status } => lines("ran", scripts) + &render_status(status),
        SchemaOutcome::WouldApply(planned) => format!(
            "{}dry run: {} script(s) would run; nothing was changed\n",
            render_planned("would apply", planned),
            planned.len()
        ),
        SchemaOutcome::WouldUndo { planned, to } => format!(
            "{}dry run: {} undo script(s) would run, down to version {to}; nothing was changed\n",
            render_planned("would run", planned),
            planned.len()
        ),
        SchemaOutcome::Created(paths) => paths
            .iter()
            .map(|p| format!("created {}\n", p.display()))
            .collect(),
        SchemaOutcome::Baselined { marked, status } => {
            let marked: Vec<String> = marked
                .iter()
                .map(|m| format!("{m} as applied (not run)"))
                .collect();
            lines("marked", &marked) + &render_status(status)
        }
        SchemaOutcome::Repaired(r) if r.is_empty() => {
            "nothing to repair: every applied script matches its recorded checksum\n".into()
        }
        SchemaOutcome::Repaired(r) => r
            .iter()
            .map(|r| {
                format!("re-recorded the checksum of {r} (only comments or whitespace changed)\n")
            })
            .collect(),
    }
}

pub fn plan(o: &PlanOutcome, out: Out) -> String {
    match o {
        PlanOutcome::Graph(dot) => dot.clone(),
        PlanOutcome::Steps(view) => out.report(view, |v| render_plan(v)),
    }
}

pub fn status(v: &StatusView, out: Out) -> String {
    out.report(v, render_status_view)
}

pub fn render_status(status: &Status) -> String {
    let mut out = String::new();
    for s in &status.applied {
        out.push_str(&format!(
            "applied  {:<40} {}{}\n",
            s.label(),
            s.applied_on.as_deref().unwrap_or(""),
            if s.changed {
                "  (file changed since: see `migplan schema repair`)"
            } else {
                ""
            }
        ));
    }
    for s in &status.pending {
        out.push_str(&format!("pending  {}\n", s.label()));
    }
    out.push_str(&format!(
        "schema version {} ({} applied, {} pending)\n",
        status.version().map_or("none".into(), |v| v.to_string()),
        status.applied.len(),
        status.pending.len()
    ));
    out
}

pub fn render_status_view(v: &StatusView) -> String {
    let mut out = format!(
        "database   {} ({})\nlock       {}\n",
        v.database,
        v.engine,
        v.lock_holder.as_deref().unwrap_or("free"),
    );
    let Some(c) = &v.contents else {
        out.push_str(&format!(
            "contents   unreadable: {}\n",
            v.unreadable.as_deref().unwrap_or("")
        ));
        return out;
    };
    let version = c
        .schema_version
        .map_or_else(|| "none applied".to_string(), |n| n.to_string());
    let pending = if c.pending.is_empty() {
        "none".to_string()
    } else {
        c.pending.join(", ")
    };
    out.push_str(&format!(
        "schema     version {version}; pending: {pending}\nsize       {}\n\n",
        data::report::human_bytes(c.size_bytes)
    ));
    out.push_str(&format!("{:<32} {:>12}\n", "table", "rows"));
    for t in &c.tables {
        let rows = t
            .rows
            .map_or_else(|| "(being written)".to_string(), |n| n.to_string());
        out.push_str(&format!("{:<32} {:>12}\n", t.table, rows));
    }
    out.push_str("\nlast runs\n");
    out.push_str(&super::history::render_list(&c.last_runs));
    out
}

pub fn render_plan(v: &PlanView) -> String {
    let kind = v.kind.name();
    let mut out = format!("plan `{}` ({kind}) on {}\n", v.plan, v.database);
    for n in &v.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    for u in &v.unindexed {
        out.push_str(&format!("note: {}\n", u.describe()));
    }
    for s in &v.pending_scripts {
        out.push_str(&format!("apply    {s}\n"));
    }
    if let Some(seed) = &v.seed {
        out.push_str(&format!("seed     {} into the empty database", seed.file));
        if let Some(rows) = seed.rows {
            out.push_str(&format!(" ({} rows)", indicatif::HumanCount(rows)));
        }
        out.push('\n');
    }
    for s in &v.adapters {
        out.push_str(&format!("upgrade  {s}\n"));
    }
    if v.kind == PlanKind::Migrate {
        return out;
    }
    for (i, t) in v.tables.iter().enumerate() {
        out.push_str(&format!(
            "{:<8} {:>2}. {:<24} module {:<16} ~{:>9} rows  conflict {}\n",
            match v.kind {
                PlanKind::Export => "export",
                _ => v.kind.name(),
            },
            i + 1,
            t.table,
            t.module.as_deref().unwrap_or("-"),
            t.rows,
            t.conflict
        ));
    }
    for c in &v.closure {
        out.push_str(&format!(
            "closure  {:<28} (referenced by {})\n",
            c.table,
            c.referenced_by.join(", ")
        ));
    }
    for l in &v.lossy {
        out.push_str(&format!("lossy    {}\n", l.describe()));
    }
    out
}

pub fn render_validation(results: &[(PathBuf, Vec<Diagnostic>)], fmt: ValidateFormat) -> String {
    match fmt {
        ValidateFormat::Github => results
            .iter()
            .flat_map(|(_, d)| d)
            .map(|d| d.render_github() + "\n")
            .collect(),
        ValidateFormat::Json => {
            let files: Vec<serde_json::Value> = results
                .iter()
                .map(|(f, d)| serde_json::json!({"file": f.display().to_string(), "valid": d.is_empty(), "errors": d.iter().map(Diagnostic::to_json).collect::<Vec<_>>()}))
                .collect();
            let valid = results.iter().all(|(_, d)| d.is_empty());
            let out = Out {
                command: "validate",
                format: ReportFormat::Json,
            };
            out.report_ok(&serde_json::json!({ "files": files }), valid, |_| {
                String::new()
            })
        }
        ValidateFormat::Text => {
            let mut out = String::new();
            for (f, diags) in results {
                if diags.is_empty() {
                    out.push_str(&format!("ok       {}\n", f.display()));
                }
                for d in diags {
                    out.push_str(&d.render());
                    out.push('\n');
                }
            }
            let bad = results.iter().filter(|(_, d)| !d.is_empty()).count();
            out.push_str(&format!(
                "{} file(s) checked, {bad} invalid\n",
                results.len()
            ));
            out
        }
    }
}

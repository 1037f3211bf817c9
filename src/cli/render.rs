//! Outcomes rendered for a person (text) or a program (`--format json`):
//! the only place that turns what an operation did into output.

use std::path::PathBuf;

use serde::Serialize;

use crate::data;
use crate::diag::Diagnostic;
use crate::history;
use crate::ops::{
    HistoryOutcome, Outcome, PlanOutcome, PlanView, RollbackOutcome, SchemaOutcome, StatusView,
};
use crate::plan::PlanKind;
use crate::schema::{Status, render_planned};

use super::{ReportFormat, ValidateFormat};

/// A report as text, or as pretty JSON.
pub fn render<T: Serialize>(report: &T, fmt: ReportFormat, text: impl Fn(&T) -> String) -> String {
    match fmt {
        ReportFormat::Text => text(report),
        ReportFormat::Json => {
            serde_json::to_string_pretty(report).expect("reports serialize") + "\n"
        }
    }
}

/// What a run, an export, an import or a copy did.
pub fn outcome(o: Outcome, fmt: ReportFormat) -> String {
    match o {
        Outcome::Schema(status) => render_status(&status),
        Outcome::Export(r) => render(&r, fmt, |r| r.render_text()),
        Outcome::Imports { dry_run, reports } => imports(reports, dry_run, fmt),
        Outcome::Copy(r) => render(&r, fmt, |r| r.render_text()),
    }
}

/// One backup's report as ever; a chain's as one report per backup.
pub fn imports(mut reports: Vec<data::ImportReport>, dry_run: bool, fmt: ReportFormat) -> String {
    if reports.len() == 1 {
        let report = reports.remove(0);
        return render(&report, fmt, |r| r.render_text());
    }
    let chain = data::ChainReport {
        dry_run,
        files: reports,
    };
    render(&chain, fmt, |r| r.render_text())
}

pub fn rollback(o: RollbackOutcome, fmt: ReportFormat) -> String {
    let mut out = format!("run {} rolled back from {}\n", o.run, o.backup.display());
    out.push_str(&imports(o.reports, false, fmt));
    out
}

pub fn history(o: &HistoryOutcome, fmt: ReportFormat) -> String {
    match o {
        HistoryOutcome::Run(run) => render(run.as_ref(), fmt, history::render_run),
        HistoryOutcome::List(runs) => render(runs, fmt, |r| history::render_list(r)),
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

pub fn plan(o: &PlanOutcome, json: bool) -> String {
    match o {
        PlanOutcome::Graph(dot) => dot.clone(),
        PlanOutcome::Steps(view) if json => {
            serde_json::to_string_pretty(view).expect("serializes") + "\n"
        }
        PlanOutcome::Steps(view) => render_plan(view),
    }
}

pub fn status(v: &StatusView, fmt: ReportFormat) -> String {
    render(v, fmt, render_status_view)
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
    out.push_str(&history::render_list(&c.last_runs));
    out
}

pub fn render_plan(v: &PlanView) -> String {
    let kind = v.kind.name();
    let mut out = format!("plan `{}` ({kind}) on {}\n", v.plan, v.database);
    for n in &v.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    for s in &v.pending_scripts {
        out.push_str(&format!("apply    {s}\n"));
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
            let v: Vec<serde_json::Value> = results
                .iter()
                .map(|(f, d)| serde_json::json!({"file": f.display().to_string(), "valid": d.is_empty(), "errors": d.iter().map(Diagnostic::to_json).collect::<Vec<_>>()}))
                .collect();
            serde_json::to_string_pretty(&v).expect("serializes") + "\n"
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

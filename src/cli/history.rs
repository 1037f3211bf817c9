//! The run history as people read it: the latest runs as a table, one run
//! as a page (its rows per table as a table too, not the JSON the history
//! keeps).

use serde_json::Value;

use crate::history::Run;

/// The widest operator shown in the list; the page shows it whole.
const OPERATOR_WIDTH: usize = 28;

/// The runs as a table for people.
pub fn render_list(runs: &[Run]) -> String {
    if runs.is_empty() {
        return "no runs recorded in this database\n".into();
    }
    // `schema down` is wider than `import`: the column fits the widest.
    let kind = runs
        .iter()
        .map(|r| r.kind.chars().count())
        .max()
        .unwrap_or(0)
        .max(8);
    let mut out = format!(
        "{:>4}  {:<11}  {:<kind$}  {:<24}  {:<OPERATOR_WIDTH$}  {}\n",
        "id", "status", "kind", "started (UTC)", "operator", "plan"
    );
    for r in runs {
        let mut plan = r.plan.clone();
        if let Some(m) = &r.message {
            plan.push_str(&format!(" — {m}"));
        }
        out.push_str(&format!(
            "{:>4}  {:<11}  {:<kind$}  {:<24}  {:<OPERATOR_WIDTH$}  {}\n",
            r.id,
            r.status.as_str(),
            r.kind,
            r.started_at,
            clip(&r.operator, OPERATOR_WIDTH),
            plan
        ));
    }
    out
}

/// `text` cut to `width` characters, the cut marked.
fn clip(text: &str, width: usize) -> String {
    match text.chars().count() > width {
        true => text.chars().take(width - 1).chain(['…']).collect(),
        false => text.to_string(),
    }
}

/// One run whole, for people.
pub fn render_run(r: &Run) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
    let ver = |v: Option<i64>| v.map_or_else(|| "—".into(), |v| v.to_string());
    let mut out = format!("run {} — {} {}\n\n", r.id, r.kind, r.status.as_str());
    let mut field = |name: &str, value: &str| {
        let value = value.replace('\n', "\n               ");
        out.push_str(&format!("  {name:<12} {value}\n"));
    };
    field("status", r.status.as_str());
    field("plan", &r.plan);
    field("plan sha256", &opt(&r.plan_sha256));
    field("operator", &r.operator);
    field("message", &opt(&r.message));
    for n in &r.notes {
        field("note", n);
    }
    field("started", &r.started_at);
    field("ended", &opt(&r.ended_at));
    if let Some(d) = duration(r) {
        field("took", &d);
    }
    field(
        "schema",
        &format!("{} → {}", ver(r.schema_before), ver(r.schema_after)),
    );
    field("backup", &opt(&r.backup));
    if let Some(e) = &r.error {
        field("error", e);
    }
    out.push_str(&rows(&r.tables));
    out
}

/// How long the run took, from its recorded start and end.
fn duration(r: &Run) -> Option<String> {
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    let start = parse(&r.started_at)?;
    let end = parse(r.ended_at.as_deref()?)?;
    let ms = (end - start).num_milliseconds().max(0);
    Some(match ms {
        0..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
    })
}

/// The rows a run moved, as recorded: one report (a copy, a backup), or
/// one per backup (an import, a chain, a rollback); each a table of counts.
fn rows(tables: &Value) -> String {
    let reports: Vec<&Value> = match tables {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![tables],
        _ => return String::new(),
    };
    let mut out = String::new();
    for report in reports {
        out.push('\n');
        if let Some(file) = report["file"].as_str() {
            out.push_str(&format!("  {file}\n"));
        }
        match report["tables"].as_array() {
            Some(t) => out.push_str(&counts(t)),
            None => out.push_str(&format!("  {report}\n")),
        }
    }
    out
}

fn counts(tables: &[Value]) -> String {
    let objects: Vec<_> = tables.iter().filter_map(Value::as_object).collect();
    let columns = crate::history::count_columns(&objects);
    let width = tables
        .iter()
        .filter_map(|t| t["table"].as_str())
        .map(|t| t.chars().count())
        .max()
        .unwrap_or(0)
        .max(12);
    let mut out = format!("  {:<width$}", "table");
    for c in &columns {
        out.push_str(&format!(" {c:>12}"));
    }
    out.push('\n');
    let mut total = vec![0u64; columns.len()];
    for t in tables {
        out.push_str(&format!("  {:<width$}", t["table"].as_str().unwrap_or("?")));
        for (i, c) in columns.iter().enumerate() {
            let n = t[c].as_u64().unwrap_or(0);
            total[i] += n;
            out.push_str(&format!(" {:>12}", indicatif::HumanCount(n).to_string()));
        }
        out.push('\n');
    }
    out.push_str(&format!("  {:<width$}", "total"));
    for n in total {
        out.push_str(&format!(" {:>12}", indicatif::HumanCount(n).to_string()));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(tables: Value) -> Run {
        Run {
            id: 3,
            plan: "restore".into(),
            plan_sha256: None,
            kind: "import".into(),
            operator: "Ana <ana@example.com>".into(),
            message: Some("refresh".into()),
            notes: vec![],
            started_at: "2026-12-03T13:50:05.320Z".into(),
            ended_at: Some("2026-12-03T13:50:06.045Z".into()),
            status: crate::history::Status::Succeeded,
            schema_before: Some(3),
            schema_after: Some(3),
            tables,
            backup: None,
            error: None,
        }
    }

    #[test]
    fn a_run_page_shows_its_rows_as_a_table_with_a_total() {
        let tables = serde_json::json!([{"file": "b.json", "dry_run": false, "tables": [
            {"table": "users", "inserted": 1200, "identical": 3, "overwritten": 0, "skipped": 0, "failed": 0},
            {"table": "questions", "inserted": 5, "identical": 0, "overwritten": 2, "skipped": 0, "failed": 0}
        ]}]);
        let page = render_run(&run(tables));
        assert!(page.starts_with("run 3 — import succeeded\n"), "{page}");
        assert!(page.contains("  took         0.7 s\n"), "{page}");
        assert!(page.contains("  b.json\n"), "{page}");
        let header = page
            .lines()
            .find(|l| l.trim_start().starts_with("table"))
            .unwrap();
        assert!(
            header.contains("inserted") && header.contains("failed"),
            "{page}"
        );
        assert!(
            !header.contains("rows"),
            "no column nobody reported: {page}"
        );
        let total = page
            .lines()
            .find(|l| l.trim_start().starts_with("total"))
            .unwrap();
        assert!(total.contains("1,205") && total.ends_with('0'), "{page}");
        assert!(
            !page.contains('{') && !page.contains('"'),
            "no JSON: {page}"
        );
    }

    #[test]
    fn a_backup_run_shows_its_rows_per_table() {
        let tables = serde_json::json!({"file": "/b/x.json.zst", "tables": [
            {"table": "users", "rows": 10, "closure": false, "whole": false}
        ]});
        let page = render_run(&run(tables));
        assert!(page.contains("  /b/x.json.zst\n"), "{page}");
        assert!(
            page.lines()
                .any(|l| l.trim_start().starts_with("users") && l.trim_end().ends_with("10")),
            "{page}"
        );
    }

    #[test]
    fn columns_stay_in_line_whatever_the_kind() {
        let mut a = run(Value::Null);
        a.kind = "schema down".into();
        let b = run(Value::Null);
        let list = render_list(&[a, b]);
        let starts: Vec<usize> = list.lines().map(|l| l.find("2026").unwrap_or(0)).collect();
        assert!(starts[1] > 0 && starts[1] == starts[2], "{list}");
    }

    #[test]
    fn long_operators_are_clipped_in_the_list_only() {
        let mut r = run(Value::Null);
        r.operator = "Seed a51c4493 maintainers <maintainers@users.noreply.example>".into();
        let list = render_list(std::slice::from_ref(&r));
        assert!(list.contains("Seed a51c4493 maintainers <…"), "{list}");
        assert!(render_run(&r).contains(&r.operator));
    }
}

//! What a run did, per table: printed as a table for people, JSON for programs.

use serde::Serialize;

use super::lossy::LossyColumn;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TableCounts {
    pub table: String,
    pub inserted: u64,
    /// Existing rows equal to the rows written, left alone.
    pub identical: u64,
    /// Existing rows with other values, replaced (`overwrite`).
    pub overwritten: u64,
    /// Existing rows with other values, kept (`skip`).
    pub skipped: u64,
    /// Rows refused (existing keys under `error`).
    pub failed: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub file: String,
    pub dry_run: bool,
    pub tables: Vec<TableCounts>,
    /// Columns whose values arrived converted, not exactly, as the plan
    /// accepts (`accept_lossy`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub converted: Vec<LossyColumn>,
}

impl ImportReport {
    pub fn render_text(&self) -> String {
        let mut out = format!(
            "{:<24} {:>10} {:>10} {:>12} {:>10} {:>8}\n",
            "table", "inserted", "identical", "overwritten", "skipped", "failed"
        );
        let mut total = TableCounts {
            table: "total".into(),
            ..Default::default()
        };
        for t in &self.tables {
            out.push_str(&row(t));
            total.inserted += t.inserted;
            total.identical += t.identical;
            total.skipped += t.skipped;
            total.overwritten += t.overwritten;
            total.failed += t.failed;
        }
        out.push_str(&row(&total));
        for c in &self.converted {
            out.push_str(&format!("converted {}\n", c.describe()));
        }
        if self.dry_run {
            out.push_str("dry run: every change was rolled back\n");
        }
        out
    }
}

/// An incremental chain: one report per backup, in the order applied
/// (all in one transaction).
#[derive(Debug, Clone, Serialize)]
pub struct ChainReport {
    pub dry_run: bool,
    pub files: Vec<ImportReport>,
}

impl ChainReport {
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for (i, r) in self.files.iter().enumerate() {
            let what = if i == 0 { "base" } else { "increment" };
            out.push_str(&format!("{what} {}\n", r.file));
            let quiet = ImportReport {
                dry_run: false,
                ..r.clone()
            };
            out.push_str(&quiet.render_text());
        }
        out.push_str(&format!(
            "applied a chain of {} backups in one transaction\n",
            self.files.len()
        ));
        if self.dry_run {
            out.push_str("dry run: every change was rolled back\n");
        }
        out
    }
}

fn row(t: &TableCounts) -> String {
    format!(
        "{:<24} {:>10} {:>10} {:>12} {:>10} {:>8}\n",
        t.table, t.inserted, t.identical, t.overwritten, t.skipped, t.failed
    )
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportedTable {
    pub table: String,
    pub rows: u64,
    /// For incremental exports of tables without a change column.
    pub whole: bool,
    /// Pulled in by `[export] closure`: only the referenced rows.
    pub closure: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    pub file: String,
    pub schema_version: Option<i64>,
    pub export_type: String,
    pub tables: Vec<ExportedTable>,
}

impl ExportReport {
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for t in &self.tables {
            let note = if t.whole {
                "  (no change column: exported whole)"
            } else if t.closure {
                "  (closure: the referenced rows)"
            } else {
                ""
            };
            out.push_str(&format!(
                "exported {:<24} {:>10} rows{note}\n",
                t.table, t.rows
            ));
        }
        let total: u64 = self.tables.iter().map(|t| t.rows).sum();
        out.push_str(&format!(
            "wrote {} ({} export, {} tables, {total} rows, schema version {})\n",
            self.file,
            self.export_type,
            self.tables.len(),
            self.schema_version.map_or("none".into(), |v| v.to_string())
        ));
        out
    }
}

/// A size for people: `512 B`, `3.4 MiB`.
pub fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

//! What a webhook is told of a run: its summary, and the `json` body, the
//! stable shape (version 1) that docs/plans.md documents.

use serde::Serialize;
use serde_json::{Value, json};

use super::RunEnd;

/// A run of record as it ended; every text in it is already redacted.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Its id in the database's history (`None`: the run could not be recorded).
    pub id: Option<i64>,
    pub plan: String,
    /// `import`, `copy`, `migrate`, `schema up`, `rollback`, `backup`, …
    pub kind: String,
    pub end: RunEnd,
    /// The database, as printed (no password).
    pub database: String,
    pub operator: String,
    pub message: Option<String>,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: u64,
    /// The failure, redacted.
    pub error: Option<String>,
    /// The backup taken before the run changed anything.
    pub backup: Option<String>,
    /// For a rollback: the run it undid.
    pub undoes: Option<i64>,
    /// The run's report as the history keeps it (`migplan history`'s
    /// `tables`): one import report, several, a copy's or an export's.
    pub report: Option<Value>,
}

/// Rows and tables a report speaks of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Tables named in the report (each once).
    pub tables: u64,
    /// Rows written (inserted and overwritten) or exported.
    pub rows: u64,
}

impl Summary {
    /// What the report says, when there is one.
    pub fn counts(&self) -> Option<Counts> {
        let report = self.report.as_ref()?;
        let mut tables = std::collections::BTreeSet::new();
        let mut counts = Counts::default();
        walk(report, &mut |table| {
            if let Some(name) = table.get("table").and_then(Value::as_str) {
                tables.insert(name.to_string());
            }
            let n = |k: &str| table.get(k).and_then(Value::as_u64).unwrap_or(0);
            counts.rows += n("inserted") + n("overwritten") + n("rows");
        });
        counts.tables = tables.len() as u64;
        Some(counts)
    }

    /// The `json` format's body.
    pub fn to_json(&self) -> Value {
        let counts = self.counts();
        json!({
            "version": 1,
            "event": "run.finished",
            "run": {
                "id": self.id,
                "plan": self.plan,
                "kind": self.kind,
                "status": self.end.name(),
                "database": self.database,
                "operator": self.operator,
                "message": self.message,
                "started_at": self.started_at,
                "finished_at": self.finished_at,
                "duration_ms": self.duration_ms,
                "rows": counts.map(|c| c.rows),
                "tables": counts.map(|c| c.tables),
                "error": self.error,
                "backup": self.backup,
                "undoes": self.undoes,
                "report": self.report,
            }
        })
    }
}

/// Calls `f` on every object of `report` that counts one table's rows
/// (it has a `table` key), however deep.
fn walk(report: &Value, f: &mut impl FnMut(&serde_json::Map<String, Value>)) {
    match report {
        Value::Object(o) if o.contains_key("table") => f(o),
        Value::Object(o) => o.values().for_each(|v| walk(v, f)),
        Value::Array(a) => a.iter().for_each(|v| walk(v, f)),
        _ => {}
    }
}

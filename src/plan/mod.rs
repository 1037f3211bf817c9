//! Plan files: TOML → a validated [`Plan`].
//!
//! Parsing runs in passes, so errors come early and precise: the file is
//! mirrored with serde (`raw`, keeping spans), `${VAR}` references are filled
//! from the environment (`envsubst`), then meaning is checked (unknown
//! modules, a table in two modules, bad enum values) and every problem is
//! reported with `path:line:col`. No I/O here but reading the plan file.

mod envsubst;
mod raw;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use validate::{load, load_str, load_with_env};

/// The placeholder of `[schema] migrations` replaced by the engine's name.
pub const ENGINE_PLACEHOLDER: &str = "{engine}";

/// A plan whose every key has been checked.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The plan file this came from (absolute or as given).
    pub path: PathBuf,
    /// `[plan] name`, defaulting to the file stem.
    pub name: String,
    pub description: Option<String>,
    pub kind: PlanKind,
    /// `[database] url`, with relative SQLite paths resolved against the plan's folder.
    pub database: Option<DatabaseConfig>,
    /// `copy` plans: `[source] url` and `[target] url`, resolved like `[database] url`.
    pub source: Option<String>,
    pub target: Option<String>,
    pub schema: SchemaConfig,
    pub export: ExportConfig,
    pub import: ImportConfig,
    /// `[[module]]` entries in file order; empty means "every table".
    pub modules: Vec<Module>,
    /// `[tables.NAME]` options.
    pub tables: BTreeMap<String, TableOptions>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanKind {
    Export,
    Import,
    /// Schema scripts only; no data phase.
    Migrate,
    /// Rows streamed from `[source]` into `[target]`, no file in between.
    Copy,
}

impl PlanKind {
    pub fn name(self) -> &'static str {
        match self {
            PlanKind::Export => "export",
            PlanKind::Import => "import",
            PlanKind::Migrate => "migrate",
            PlanKind::Copy => "copy",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DatabaseConfig {
    /// The URL as written after `${VAR}` substitution; SQLite paths are
    /// already resolved (`sqlite:///abs/path`).
    pub url: String,
    /// A backup imported after the schema phase when every table of the plan
    /// is empty (the demo database seeds itself this way).
    pub seed: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SchemaConfig {
    /// Folder of refinery scripts `V{n}__{name}.sql`, resolved. May hold
    /// `{engine}` (`sqlite`, `postgres`, `mysql`): see [`Plan::migrations_for`].
    pub migrations: Option<PathBuf>,
    /// Whether pending scripts run before the data phase (default true).
    pub apply: bool,
    pub target: Option<i64>,
}

pub use crate::format::Format;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportMode {
    Full,
    Incremental,
    Modules,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportConfig {
    pub format: Format,
    /// Output path template, resolved against the plan's folder; may contain
    /// `{plan}` and `{timestamp}`. Default `{plan}-{timestamp}.json`.
    pub output: PathBuf,
    pub mode: ExportMode,
    /// For incremental mode: rows changed after this instant (RFC 3339).
    pub since: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// For modules mode: which modules.
    pub modules: Vec<String>,
    /// For modules mode: also export the rows the modules' rows reference
    /// through foreign keys, transitively, so the backup imports alone.
    pub closure: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Conflict {
    /// Keep the existing row.
    Skip,
    /// Replace the existing row's values.
    Overwrite,
    /// Abort the import and list the conflicting keys.
    Error,
}

impl Conflict {
    pub fn name(self) -> &'static str {
        match self {
            Conflict::Skip => "skip",
            Conflict::Overwrite => "overwrite",
            Conflict::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportConfig {
    /// The backup to import, resolved against the plan's folder.
    pub file: Option<PathBuf>,
    /// Default conflict policy (default `error`).
    pub conflict: Conflict,
    /// Version adapter files, resolved (docs/adapters.md).
    pub adapters: Vec<PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Module {
    pub name: String,
    pub tables: Vec<String>,
    pub depends_on: Vec<String>,
    pub conflict: Option<Conflict>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TableOptions {
    /// Conflict key columns; default the primary key.
    pub key: Option<Vec<String>>,
    /// Incremental column; default `updated_at` when the table has one.
    pub updated_at: Option<String>,
    /// Columns left out of exports.
    pub exclude: Vec<String>,
    /// The table's sheet in Excel workbooks; default the table's name.
    pub sheet: Option<String>,
}

impl Plan {
    pub fn module(&self, name: &str) -> Option<&Module> {
        self.modules.iter().find(|m| m.name == name)
    }

    /// The module a table belongs to, if the plan declares modules.
    pub fn module_of(&self, table: &str) -> Option<&Module> {
        self.modules
            .iter()
            .find(|m| m.tables.iter().any(|t| t == table))
    }

    /// The conflict policy for a table: its module's, else the plan default.
    pub fn conflict_for(&self, table: &str) -> Conflict {
        self.module_of(table)
            .and_then(|m| m.conflict)
            .unwrap_or(self.import.conflict)
    }

    pub fn table_options(&self, table: &str) -> TableOptions {
        self.tables.get(table).cloned().unwrap_or_default()
    }

    /// The migrations folder for a database of this engine: `{engine}` in
    /// the path becomes the engine's name, so one plan carries each
    /// engine's own scripts.
    pub fn migrations_for(&self, engine: &str) -> Option<PathBuf> {
        let dir = self.schema.migrations.as_ref()?;
        Some(PathBuf::from(
            dir.to_string_lossy().replace(ENGINE_PLACEHOLDER, engine),
        ))
    }

    /// `[tables.NAME] sheet` of every table that has one (table → sheet).
    pub fn sheet_names(&self) -> BTreeMap<String, String> {
        self.tables
            .iter()
            .filter_map(|(t, o)| o.sheet.clone().map(|s| (t.clone(), s)))
            .collect()
    }

    /// The folder relative paths in the plan are resolved against.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

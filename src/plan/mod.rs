//! Plan files: TOML → a validated [`Plan`].
//!
//! Parsing runs in passes, so errors come early and precise: the file is
//! mirrored with serde (`raw`, keeping spans), `${VAR}` references are filled
//! from the environment (`envsubst`), then meaning is checked (unknown
//! modules, a table in two modules, bad enum values) and every problem is
//! reported with `path:line:col`. No I/O here but reading the plan file.

mod environments;
mod envsubst;
pub mod locate;
mod raw;
pub mod schema;
mod validate;

pub use crate::policy::{Conflict, Triggers};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use validate::{
    closest_name, environment_names, load, load_in, load_selected, load_str, load_with_env,
};

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
    /// `[backup]`: the backups taken before a run changes data.
    pub backup: BackupSettings,
    /// `[[notify]]`: webhooks told when a run of record ends, in file order.
    pub notify: Vec<Webhook>,
    /// The `[env.NAME]` merged over the plan, when one was selected.
    pub environment: Option<Environment>,
}

/// The variable that selects an environment when `--env` is not given.
pub const ENV_VAR: &str = "MIGPLAN_ENV";

/// Which `[env.NAME]` a command runs in, and how it was chosen: errors
/// about the choice name the flag or the variable so the user knows what
/// to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvChoice {
    pub name: String,
    /// `--env` or `MIGPLAN_ENV`.
    pub via: &'static str,
}

impl EnvChoice {
    pub fn flag(name: &str) -> Self {
        EnvChoice {
            name: name.to_string(),
            via: "--env",
        }
    }

    /// `--env NAME` if given, else `MIGPLAN_ENV` when it is set and not empty.
    pub fn from_flag_or_var(flag: Option<&str>) -> Option<Self> {
        if let Some(name) = flag {
            return Some(Self::flag(name));
        }
        let name = std::env::var(ENV_VAR).ok().filter(|v| !v.is_empty())?;
        Some(EnvChoice { name, via: ENV_VAR })
    }
}

/// The selected environment's own keys (the rest of `[env.NAME]` is
/// already merged into the plan).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Environment {
    pub name: String,
    /// `confirm = true`: a run that changes data asks first (see `confirm`).
    pub confirm: bool,
    /// `dry_run = true`: runs are dry runs unless `--no-dry-run`.
    pub dry_run: bool,
}

/// `[backup]`: where and how backups taken before a change are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupSettings {
    /// Default true.
    pub enabled: bool,
    /// Resolved against the plan's folder; default `backups` there.
    pub dir: PathBuf,
    /// Backups older than this many days may be removed.
    pub retention_days: Option<u32>,
    /// At most this many backups are kept.
    pub keep: Option<u32>,
    /// Default `zstd`.
    pub compression: Compression,
    /// `encrypt`: the age keys backups (before a change, on demand, and
    /// the plan's JSON exports) are encrypted to; `None`: not encrypted.
    pub encrypt: Option<crate::format::Recipients>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    Zstd,
    Gzip,
    None,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::Zstd => "zstd",
            Compression::Gzip => "gzip",
            Compression::None => "none",
        }
    }
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
pub use crate::format::limits::ReadLimits;
pub use crate::notify::Webhook;

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
    /// Tables read at once (`jobs`, `--jobs`); `None`: [`default_jobs`].
    pub jobs: Option<usize>,
}

/// The number of tables read at once unless a plan or `--jobs` says: the
/// machine's cores, at most 4 (more connections than that load a server
/// for little gain).
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportConfig {
    /// The backup to import, resolved against the plan's folder.
    pub file: Option<PathBuf>,
    /// Default conflict policy (default `error`).
    pub conflict: Conflict,
    /// Version adapter files, resolved (docs/adapters.md).
    pub adapters: Vec<PathBuf>,
    /// The target's triggers during the load (default `fire`).
    pub triggers: Triggers,
    /// How large a value or a workbook's shared strings may be
    /// (`max_value_bytes`, `max_shared_strings`, `max_shared_strings_bytes`).
    pub limits: ReadLimits,
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
    /// Column → its header in Excel workbooks.
    pub labels: BTreeMap<String, String>,
    /// What workbooks show for true and false; default TRUE/FALSE.
    pub booleans: Option<[String; 2]>,
    /// Columns the target may hold converted rather than exactly (a decimal
    /// into a SQLite NUMERIC column): accepted, reported, not refused.
    pub accept_lossy: Vec<String>,
}

impl Plan {
    pub fn module(&self, name: &str) -> Option<&Module> {
        self.modules.iter().find(|m| m.name == name)
    }

    /// The module a table belongs to, if the plan declares modules.
    /// The module listing `table`: by its exact name, else by a name equal
    /// to it ignoring case (a copy plan names the source's `Album`, the
    /// target's table is `album`; see `data::names`).
    pub fn module_of(&self, table: &str) -> Option<&Module> {
        self.modules
            .iter()
            .find(|m| m.tables.iter().any(|t| t == table))
            .or_else(|| {
                self.modules
                    .iter()
                    .find(|m| m.tables.iter().any(|t| same_name(t, table)))
            })
    }

    /// The conflict policy for a table: its module's, else the plan default.
    pub fn conflict_for(&self, table: &str) -> Conflict {
        self.module_of(table)
            .and_then(|m| m.conflict)
            .unwrap_or(self.import.conflict)
    }

    /// `[tables.NAME]` for `table`, matched as [`Plan::module_of`] does.
    pub fn table_options(&self, table: &str) -> TableOptions {
        self.tables
            .get(table)
            .or_else(|| {
                self.tables
                    .iter()
                    .find(|(t, _)| same_name(t, table))
                    .map(|(_, o)| o)
            })
            .cloned()
            .unwrap_or_default()
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

    /// What the plan says about workbooks: sheet names, labels, boolean
    /// texts (docs/xlsx.md).
    pub fn workbook_layout(&self) -> crate::format::xlsx::Layout {
        crate::format::xlsx::Layout {
            sheets: self.sheet_names(),
            labels: self
                .tables
                .iter()
                .filter(|(_, o)| !o.labels.is_empty())
                .map(|(t, o)| (t.clone(), o.labels.clone()))
                .collect(),
            booleans: self
                .tables
                .iter()
                .filter_map(|(t, o)| o.booleans.clone().map(|b| (t.clone(), b)))
                .collect(),
        }
    }

    /// `confirm = true` in the selected environment.
    pub fn needs_confirmation(&self) -> bool {
        self.environment.as_ref().is_some_and(|e| e.confirm)
    }

    /// `dry_run = true` in the selected environment.
    pub fn dry_run_by_default(&self) -> bool {
        self.environment.as_ref().is_some_and(|e| e.dry_run)
    }

    /// The folder relative paths in the plan are resolved against.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

/// Two table names equal ignoring case, as `data::names` matches a backup's
/// names with the target's.
pub fn same_name(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

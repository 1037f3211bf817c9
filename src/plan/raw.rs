//! The serde mirror of a plan file: the TOML as written, nothing checked but
//! syntax, key names and value types.
//!
//! Every string keeps its span (`toml::Spanned`) because any string may hold
//! a `${VAR}` that must be reported where it was written, and the meaning
//! checks in `validate` point back at names, enum-ish values and paths.
//! `#[serde(flatten)]` is avoided on purpose: it buffers values and loses
//! their spans.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use super::schema as keys;

/// A string value together with where it was written.
pub type Str = Spanned<String>;

/// A migplan plan: what to move, in which order, under which policies
/// (docs/plans.md). Every key may be left out; any string may use
/// `${VAR}` or `${VAR:-default}`; relative paths are relative to the plan's
/// folder.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "migplan plan", rename = "Plan")]
pub struct RawPlan {
    /// The plan's name and kind.
    #[serde(default)]
    pub plan: RawPlanSection,
    /// The database an export reads, an import writes, a migration changes.
    /// Without it, pass `--db`.
    pub database: Option<RawDatabase>,
    /// `copy` plans: where rows are read from.
    pub source: Option<RawEndpoint>,
    /// `copy` plans: where rows are written to (the schema phase runs here).
    pub target: Option<RawEndpoint>,
    /// Versioned schema scripts run before the data phase.
    #[serde(default)]
    pub schema: RawSchema,
    /// What an export writes.
    #[serde(default)]
    pub export: RawExport,
    /// How an import meets existing rows, and what a backup may hold.
    #[serde(default)]
    pub import: RawImport,
    /// Modules group tables; without any, the plan covers every table.
    #[serde(default, rename = "module")]
    pub modules: Vec<RawModule>,
    /// Per-table options, by table name; the table need not belong to a
    /// module.
    #[serde(default)]
    pub tables: BTreeMap<String, RawTable>,
    /// Backups taken before a run changes data.
    #[serde(default)]
    pub backup: RawBackup,
    /// Webhooks told when a run of record ends (succeeded, failed, rolled
    /// back): a JSON summary, or a ready message for Slack, DingTalk,
    /// Feishu or WeCom.
    #[serde(default)]
    pub notify: Vec<RawNotify>,
    /// Always absent: `[env.NAME]` sections are taken out of the file and
    /// merged before this mirror is filled (`environments`). Declared so a
    /// misspelt top-level key can be told `env` is a known one; its schema
    /// (every section again, plus `confirm` and `dry_run`) is filled in by
    /// `schema::plan`.
    #[serde(default)]
    #[allow(dead_code)]
    #[schemars(with = "serde_json::Value")]
    pub env: Option<serde::de::IgnoredAny>,
}

/// The plan's name and kind.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "PlanSection")]
pub struct RawPlanSection {
    /// The plan's name, in file names (`{plan}`) and the run history.
    /// Default: the file name without `.toml`.
    #[schemars(with = "Option<String>")]
    pub name: Option<Str>,
    /// Free text, shown by `migplan plan`.
    #[schemars(with = "Option<String>")]
    pub description: Option<Str>,
    /// `export`, `import`, `migrate` (schema scripts only) or `copy` (from
    /// `[source]` to `[target]`). Default: `export`.
    #[serde(default)]
    #[schemars(schema_with = "keys::kind")]
    pub kind: Option<Str>,
}

/// The database an export reads, an import writes, a migration changes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Database")]
pub struct RawDatabase {
    /// `sqlite://PATH`, `postgres://USER:PASSWORD@HOST/DB` or
    /// `mysql://USER:PASSWORD@HOST/DB` (write the password as
    /// `${DB_PASSWORD}`).
    #[schemars(schema_with = "keys::url")]
    pub url: Str,
    /// A backup imported after the schema phase when every table of the
    /// plan is empty, so a fresh database fills itself.
    #[serde(default)]
    #[schemars(schema_with = "keys::path")]
    pub seed: Option<Str>,
}

/// One end of a `copy` plan.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Endpoint")]
pub struct RawEndpoint {
    /// `sqlite://PATH`, `postgres://…` or `mysql://…`.
    #[schemars(schema_with = "keys::url")]
    pub url: Str,
}

/// Versioned schema scripts run before the data phase.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Schema")]
pub struct RawSchema {
    /// Folder of refinery scripts `V{n}__{name}.sql` (undo twins
    /// `V{n}__{name}.undo.sql`); `{engine}` becomes `sqlite`, `postgres` or
    /// `mysql`.
    #[serde(default)]
    #[schemars(schema_with = "keys::path")]
    pub migrations: Option<Str>,
    /// Whether pending scripts run before the data phase. Default: true.
    pub apply: Option<bool>,
    /// Migrate up to this version only. Default: the latest script.
    #[schemars(with = "Option<u32>")]
    pub target: Option<Spanned<i64>>,
}

/// What an export writes.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Export")]
pub struct RawExport {
    /// `json` (for programs) or `xlsx` (an Excel workbook for people).
    /// Default: `json`, or the output's extension.
    #[serde(default)]
    #[schemars(schema_with = "keys::format")]
    pub format: Option<Str>,
    /// Output path; `{plan}` and `{timestamp}` are filled at run time.
    /// Default: `{plan}-{timestamp}.json`.
    #[serde(default)]
    #[schemars(schema_with = "keys::path")]
    pub output: Option<Str>,
    /// `full` (every table), `incremental` (rows changed after `since`) or
    /// `modules` (the modules listed in `modules`). Default: `full`.
    #[serde(default)]
    #[schemars(schema_with = "keys::mode")]
    pub mode: Option<Str>,
    /// The instant an `incremental` export starts at: RFC 3339 text or a
    /// TOML date-time with an offset.
    // A string or a TOML datetime: told apart in `validate`.
    #[serde(default)]
    #[schemars(schema_with = "keys::since")]
    pub since: Option<Spanned<toml::Value>>,
    /// Modules exported in `modules` mode; each a `[[module]]` of the plan.
    #[schemars(with = "Option<Vec<String>>", length(min = 1))]
    pub modules: Option<Spanned<Vec<Str>>>,
    /// Modules mode: also export the rows the modules' rows reference
    /// through foreign keys, transitively, so the backup imports alone.
    /// Default: false.
    pub closure: Option<bool>,
    /// Tables read at once, each by a connection of its own sharing the
    /// export's snapshot (PostgreSQL, MySQL/MariaDB; SQLite reads one at a
    /// time). The backup is the same whatever the number. Default: the
    /// number of cores, at most 4.
    #[schemars(range(min = 1, max = 64))]
    pub jobs: Option<std::num::NonZeroU16>,
}

/// How an import meets existing rows, and what a backup may hold.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Import")]
pub struct RawImport {
    /// The backup to import (or give `--file`).
    #[serde(default)]
    #[schemars(schema_with = "keys::path")]
    pub file: Option<Str>,
    /// What to do with a row whose key already exists: `skip` (keep it),
    /// `overwrite` (replace it) or `error` (abort, change nothing).
    /// Default: `error`.
    #[serde(default)]
    #[schemars(schema_with = "keys::conflict")]
    pub conflict: Option<Str>,
    /// Version adapter files (docs/adapters.md): an older backup is
    /// upgraded through their steps before any row is written.
    #[schemars(with = "Option<Vec<String>>")]
    pub adapters: Option<Spanned<Vec<Str>>>,
    /// The target's triggers while rows load: `fire` or `disable`
    /// (PostgreSQL and SQLite). Default: `fire`.
    #[serde(default)]
    #[schemars(schema_with = "keys::triggers")]
    pub triggers: Option<Str>,
    /// The longest single value a backup may hold, in bytes. Default:
    /// 67108864 (64 MiB).
    #[schemars(with = "Option<u64>", range(min = 1))]
    pub max_value_bytes: Option<Spanned<i64>>,
    /// Bytes of a JSON backup read before its meta must have ended.
    /// Default: 1048576 (1 MiB).
    #[schemars(with = "Option<u64>", range(min = 1))]
    pub max_meta_bytes: Option<Spanned<i64>>,
    /// Entries of a workbook's shared-strings table. Default: 2000000.
    #[schemars(with = "Option<u64>", range(min = 1))]
    pub max_shared_strings: Option<Spanned<i64>>,
    /// Uncompressed size of a workbook's shared strings, in bytes.
    /// Default: 104857600 (100 MiB).
    #[schemars(with = "Option<u64>", range(min = 1))]
    pub max_shared_strings_bytes: Option<Spanned<i64>>,
}

/// A module: a group of tables exported, imported and ordered together.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Module")]
pub struct RawModule {
    /// The module's name (`--modules NAME`, `[export] modules`).
    #[schemars(with = "String", length(min = 1))]
    pub name: Str,
    /// Its tables; a table belongs to one module.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub tables: Vec<Str>,
    /// Modules exported or imported before this one.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub depends_on: Vec<Str>,
    /// Overrides `[import] conflict` for this module's tables.
    #[serde(default)]
    #[schemars(schema_with = "keys::conflict")]
    pub conflict: Option<Str>,
}

/// Options for one table.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Table")]
pub struct RawTable {
    /// Conflict key columns. Default: the primary key.
    #[schemars(with = "Option<Vec<String>>", length(min = 1))]
    pub key: Option<Spanned<Vec<Str>>>,
    /// Column compared with `since` in incremental mode. Default:
    /// `updated_at` when the table has one.
    #[schemars(with = "Option<String>")]
    pub updated_at: Option<Str>,
    /// Columns left out of exports.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub exclude: Vec<Str>,
    /// The table's sheet in Excel workbooks (at most 31 characters, no
    /// `[]:*?/\`). Default: the table's name.
    #[schemars(with = "Option<String>")]
    pub sheet: Option<Str>,
    /// Column → the header people read in Excel workbooks, e.g.
    /// `{ content = "题目内容" }`. On import either the label or the
    /// column's name is accepted. Labels are unique within the table.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub labels: BTreeMap<String, Str>,
    /// The texts a workbook shows for true and false in this table's
    /// boolean columns, e.g. `["是", "否"]` (read back, as are TRUE/FALSE).
    /// Default: Excel's TRUE and FALSE.
    #[schemars(with = "Option<[String; 2]>")]
    pub booleans: Option<Spanned<Vec<Str>>>,
    /// Columns whose values may arrive converted (not exactly) in the
    /// target (docs/types.md).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub accept_lossy: Vec<Str>,
}

/// Backups taken before a run changes data.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Backup")]
pub struct RawBackup {
    /// Whether they are taken. Default: true.
    pub enabled: Option<bool>,
    /// Where they are kept. Default: `backups`.
    #[serde(default)]
    #[schemars(schema_with = "keys::path")]
    pub dir: Option<Str>,
    /// Backups older than this many days are removed. Default: kept.
    // Checked as positive and within `u32` in `validate`, with its span.
    #[schemars(with = "Option<u32>", range(min = 1))]
    pub retention_days: Option<Spanned<i64>>,
    /// At most this many backups of the database are kept. Default: no
    /// limit.
    #[schemars(with = "Option<u32>", range(min = 1))]
    pub keep: Option<Spanned<i64>>,
    /// `zstd`, `gzip` or `none`. Default: `zstd`.
    #[serde(default)]
    #[schemars(schema_with = "keys::compression")]
    pub compression: Option<Str>,
    /// Encrypt the backups with age to these public keys:
    /// `encrypt = { recipients = ["age1…"] }` (or `recipients_file`). Read
    /// them back with `--identity FILE` or `MIGPLAN_AGE_IDENTITY`.
    #[schemars(with = "Option<RawEncrypt>")]
    pub encrypt: Option<Spanned<RawEncrypt>>,
}

/// `[backup] encrypt`: the age public keys backups are encrypted to.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Encrypt")]
pub struct RawEncrypt {
    /// age X25519 public keys (`age1…`), as `age-keygen` prints them.
    #[serde(default)]
    #[schemars(schema_with = "keys::recipients")]
    pub recipients: Vec<Str>,
    /// A file of `age1…` lines and `#` comments, as `age -R` reads.
    #[serde(default)]
    #[schemars(schema_with = "keys::path")]
    pub recipients_file: Option<Str>,
}

/// A webhook told when a run of record ends; a failing webhook is a
/// warning, never a failed run.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Notify")]
pub struct RawNotify {
    /// The webhook's `http://` or `https://` URL; write its secret part as
    /// `${VAR}` (it is masked wherever printed).
    #[schemars(schema_with = "keys::webhook")]
    pub url: Str,
    /// The body: `json` (migplan's run summary), `slack`, `dingtalk`,
    /// `feishu` or `wecom`. Default: `json`.
    #[serde(default)]
    #[schemars(schema_with = "keys::notify_format")]
    pub format: Option<Str>,
    /// Which endings call it: `succeeded`, `failed`, `rolled_back`.
    /// Default: all three.
    #[serde(default)]
    #[schemars(schema_with = "keys::notify_on")]
    pub on: Option<Spanned<Vec<Str>>>,
    /// DingTalk's or Feishu's signing secret (`SEC…`), for robots that
    /// require signed calls.
    #[schemars(with = "Option<String>", length(min = 1))]
    pub secret: Option<Str>,
    /// Seconds to wait for the webhook, connecting included (1–300).
    /// Default: 10.
    #[schemars(with = "Option<u32>", range(min = 1, max = 300))]
    pub timeout: Option<Spanned<i64>>,
}

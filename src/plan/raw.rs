//! The serde mirror of a plan file: the TOML as written, nothing checked but
//! syntax, key names and value types.
//!
//! Every string keeps its span (`toml::Spanned`) because any string may hold
//! a `${VAR}` that must be reported where it was written, and the meaning
//! checks in `validate` point back at names, enum-ish values and paths.
//! `#[serde(flatten)]` is avoided on purpose: it buffers values and loses
//! their spans.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A string value together with where it was written.
pub type Str = Spanned<String>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlan {
    #[serde(default)]
    pub plan: RawPlanSection,
    pub database: Option<RawDatabase>,
    /// `copy` plans: where rows are read from.
    pub source: Option<RawEndpoint>,
    /// `copy` plans: where rows are written to (the schema phase runs here).
    pub target: Option<RawEndpoint>,
    #[serde(default)]
    pub schema: RawSchema,
    #[serde(default)]
    pub export: RawExport,
    #[serde(default)]
    pub import: RawImport,
    #[serde(default, rename = "module")]
    pub modules: Vec<RawModule>,
    #[serde(default)]
    pub tables: BTreeMap<String, RawTable>,
    #[serde(default)]
    pub backup: RawBackup,
    /// Always absent: `[env.NAME]` sections are taken out of the file and
    /// merged before this mirror is filled (`environments`). Declared so a
    /// misspelt top-level key can be told `env` is a known one.
    #[serde(default)]
    #[allow(dead_code)]
    pub env: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlanSection {
    pub name: Option<Str>,
    pub description: Option<Str>,
    pub kind: Option<Str>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    pub url: Str,
    pub seed: Option<Str>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEndpoint {
    pub url: Str,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchema {
    pub migrations: Option<Str>,
    pub apply: Option<bool>,
    pub target: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExport {
    pub format: Option<Str>,
    pub output: Option<Str>,
    pub mode: Option<Str>,
    /// A string (RFC 3339) or a TOML offset datetime; told apart in `validate`.
    pub since: Option<Spanned<toml::Value>>,
    pub modules: Option<Spanned<Vec<Str>>>,
    /// Modules mode: add the rows the modules' rows reference.
    pub closure: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawImport {
    pub file: Option<Str>,
    pub conflict: Option<Str>,
    /// Version adapter files (docs/adapters.md).
    pub adapters: Option<Spanned<Vec<Str>>>,
    /// `fire` or `disable`.
    pub triggers: Option<Str>,
    /// Reading limits (`format::limits`), checked positive in `validate`.
    pub max_value_bytes: Option<Spanned<i64>>,
    pub max_meta_bytes: Option<Spanned<i64>>,
    pub max_shared_strings: Option<Spanned<i64>>,
    pub max_shared_strings_bytes: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModule {
    pub name: Str,
    #[serde(default)]
    pub tables: Vec<Str>,
    #[serde(default)]
    pub depends_on: Vec<Str>,
    pub conflict: Option<Str>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTable {
    pub key: Option<Spanned<Vec<Str>>>,
    pub updated_at: Option<Str>,
    #[serde(default)]
    pub exclude: Vec<Str>,
    /// The table's sheet in Excel workbooks.
    pub sheet: Option<Str>,
    /// Columns whose values may arrive converted (not exactly) in the target.
    #[serde(default)]
    pub accept_lossy: Vec<Str>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBackup {
    pub enabled: Option<bool>,
    pub dir: Option<Str>,
    /// Checked as positive and within `u32` in `validate`, where it has a span.
    pub retention_days: Option<Spanned<i64>>,
    pub keep: Option<Spanned<i64>>,
    pub compression: Option<Str>,
    /// `encrypt = { recipients = ["age1…"], recipients_file = "…" }`.
    pub encrypt: Option<Spanned<RawEncrypt>>,
}

/// `[backup] encrypt`: the age public keys backups are encrypted to.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEncrypt {
    #[serde(default)]
    pub recipients: Vec<Str>,
    /// A file of `age1…` lines and `#` comments, as `age -R` reads.
    pub recipients_file: Option<Str>,
}

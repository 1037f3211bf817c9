//! The serde mirror of an adapter file, every name and value keeping its
//! span so that load and plan errors point at what was written.
//! `#[serde(flatten)]` and untagged enums are avoided: they lose spans.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

pub type Str = Spanned<String>;
pub type Scalar = Spanned<toml::Value>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    #[serde(default)]
    pub step: Vec<Spanned<RawStep>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub from: Spanned<i64>,
    pub to: Spanned<i64>,
    pub description: Option<Str>,
    #[serde(default)]
    pub changes: Vec<Spanned<RawChange>>,
}

/// One change: a table with exactly one key, the change's kind.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawChange {
    RenameTable(RawRenameTable),
    RenameColumn(RawRenameColumn),
    AddColumn(RawAddColumn),
    DropColumn(RawDropColumn),
    DropTable(RawDropTable),
    MapValues(RawMapValues),
    SplitRows(RawSplitRows),
    SetColumn(RawSetColumn),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRenameTable {
    pub from: Str,
    pub to: Str,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRenameColumn {
    pub table: Str,
    pub from: Str,
    pub to: Str,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAddColumn {
    pub table: Str,
    pub column: Str,
    pub default: Option<Scalar>,
    pub copy_from: Option<Str>,
    #[serde(rename = "type")]
    pub ty: Option<Str>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDropColumn {
    pub table: Str,
    pub column: Str,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDropTable {
    pub table: Str,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMapValues {
    pub table: Str,
    pub column: Str,
    pub map: Spanned<BTreeMap<String, Scalar>>,
    pub default: Option<Scalar>,
    pub unmapped: Option<Str>,
    #[serde(rename = "type")]
    pub ty: Option<Str>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSplitRows {
    pub table: Str,
    pub into: Str,
    pub when: Spanned<RawCondition>,
    pub columns: Option<Vec<Str>>,
    pub rename: Option<BTreeMap<String, Str>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCondition {
    pub column: Str,
    pub equals: Option<Scalar>,
    #[serde(rename = "in")]
    pub one_of: Option<Spanned<Vec<Scalar>>>,
    pub is_null: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSetColumn {
    pub table: Str,
    pub column: Str,
    pub expr: Str,
    #[serde(rename = "type")]
    pub ty: Option<Str>,
}

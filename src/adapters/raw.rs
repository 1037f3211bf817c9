//! The serde mirror of an adapter file, every name and value keeping its
//! span so that load and plan errors point at what was written.
//! `#[serde(flatten)]` and untagged enums are avoided: they lose spans.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use super::schema as keys;

pub type Str = Spanned<String>;
pub type Scalar = Spanned<toml::Value>;

/// A migplan adapter file: steps that upgrade a backup from one schema
/// version to the next (docs/adapters.md).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "migplan adapters", rename = "Adapters")]
pub struct RawFile {
    /// The steps, each from one schema version to a later one.
    #[serde(default)]
    #[schemars(with = "Vec<RawStep>")]
    pub step: Vec<Spanned<RawStep>>,
}

/// One step: the changes that take a backup from version `from` to `to`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Step")]
pub struct RawStep {
    /// The schema version a backup has before this step.
    #[schemars(with = "u32")]
    pub from: Spanned<i64>,
    /// The schema version it has after (greater than `from`).
    #[schemars(with = "u32")]
    pub to: Spanned<i64>,
    /// What the step is for, shown by `migplan plan --file`.
    #[schemars(with = "Option<String>")]
    pub description: Option<Str>,
    /// The changes, applied in order.
    #[serde(default)]
    #[schemars(with = "Vec<RawChange>")]
    pub changes: Vec<Spanned<RawChange>>,
}

/// One change: a table with exactly one key, the change's kind.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "Change")]
pub enum RawChange {
    /// A table renamed.
    RenameTable(RawRenameTable),
    /// A column renamed.
    RenameColumn(RawRenameColumn),
    /// A column added: filled with `default`, or copied from another column.
    AddColumn(RawAddColumn),
    /// A column dropped.
    DropColumn(RawDropColumn),
    /// A table dropped.
    DropTable(RawDropTable),
    /// A column's values replaced through a table of old → new values.
    MapValues(RawMapValues),
    /// Rows that match `when` moved into another table.
    SplitRows(RawSplitRows),
    /// A column set from an expression over the row.
    SetColumn(RawSetColumn),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RenameTable")]
pub struct RawRenameTable {
    /// The table's old name.
    #[schemars(with = "String")]
    pub from: Str,
    /// Its new name.
    #[schemars(with = "String")]
    pub to: Str,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RenameColumn")]
pub struct RawRenameColumn {
    /// The column's table.
    #[schemars(with = "String")]
    pub table: Str,
    /// The column's old name.
    #[schemars(with = "String")]
    pub from: Str,
    /// Its new name.
    #[schemars(with = "String")]
    pub to: Str,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "AddColumn")]
pub struct RawAddColumn {
    /// The table.
    #[schemars(with = "String")]
    pub table: Str,
    /// The new column.
    #[schemars(with = "String")]
    pub column: Str,
    /// The value every row gets.
    #[serde(default)]
    #[schemars(schema_with = "keys::scalar")]
    pub default: Option<Scalar>,
    /// A column whose value every row gets.
    #[schemars(with = "Option<String>")]
    pub copy_from: Option<Str>,
    /// The column's type, when the value alone does not say it.
    #[serde(rename = "type")]
    #[serde(default)]
    #[schemars(schema_with = "keys::column_type")]
    pub ty: Option<Str>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DropColumn")]
pub struct RawDropColumn {
    /// The table.
    #[schemars(with = "String")]
    pub table: Str,
    /// The column dropped.
    #[schemars(with = "String")]
    pub column: Str,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DropTable")]
pub struct RawDropTable {
    /// The table dropped.
    #[schemars(with = "String")]
    pub table: Str,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "MapValues")]
pub struct RawMapValues {
    /// The table.
    #[schemars(with = "String")]
    pub table: Str,
    /// The column whose values are mapped.
    #[schemars(with = "String")]
    pub column: Str,
    /// Old value (as text) → new value.
    #[schemars(schema_with = "keys::value_map")]
    pub map: Spanned<BTreeMap<String, Scalar>>,
    /// What a value the map does not list becomes.
    #[serde(default)]
    #[schemars(schema_with = "keys::scalar")]
    pub default: Option<Scalar>,
    /// A value the map does not list: `keep` it or stop with an `error`.
    #[serde(default)]
    #[schemars(schema_with = "keys::unmapped")]
    pub unmapped: Option<Str>,
    /// The column's type after the mapping.
    #[serde(rename = "type")]
    #[serde(default)]
    #[schemars(schema_with = "keys::column_type")]
    pub ty: Option<Str>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SplitRows")]
pub struct RawSplitRows {
    /// The table rows are taken from.
    #[schemars(with = "String")]
    pub table: Str,
    /// The table they go to.
    #[schemars(with = "String")]
    pub into: Str,
    /// Which rows move.
    #[schemars(with = "RawCondition")]
    pub when: Spanned<RawCondition>,
    /// The columns they take along. Default: all.
    #[schemars(with = "Option<Vec<String>>")]
    pub columns: Option<Vec<Str>>,
    /// Columns renamed on the way: old name → new name.
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub rename: Option<BTreeMap<String, Str>>,
}

/// Which rows a `split_rows` moves: one test on one column.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Condition")]
pub struct RawCondition {
    /// The column tested.
    #[schemars(with = "String")]
    pub column: Str,
    /// Rows whose value equals this.
    #[serde(default)]
    #[schemars(schema_with = "keys::scalar")]
    pub equals: Option<Scalar>,
    /// Rows whose value is one of these.
    #[serde(rename = "in")]
    #[serde(default)]
    #[schemars(schema_with = "keys::scalars")]
    pub one_of: Option<Spanned<Vec<Scalar>>>,
    /// Rows whose value is null (`true`) or not (`false`).
    #[schemars(with = "Option<bool>")]
    pub is_null: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SetColumn")]
pub struct RawSetColumn {
    /// The table.
    #[schemars(with = "String")]
    pub table: Str,
    /// The column set (added when missing).
    #[schemars(with = "String")]
    pub column: Str,
    /// The expression over the row's columns (docs/adapters.md).
    #[schemars(with = "String")]
    pub expr: Str,
    /// The column's type, when the expression alone does not say it.
    #[serde(rename = "type")]
    #[serde(default)]
    #[schemars(schema_with = "keys::column_type")]
    pub ty: Option<Str>,
}

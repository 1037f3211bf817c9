//! What a database holds, as migplan sees it: tables, columns with their
//! portable types, primary, unique and foreign keys, the columns indexes
//! lead with.
//!
//! Backends produce a [`Catalog`] by introspection; backups carry the same
//! structures in their meta, so import can compare the two.

use serde::{Deserialize, Serialize};

use crate::value::ColumnType;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Catalog {
    pub tables: Vec<TableInfo>,
}

impl Catalog {
    pub fn table(&self, name: &str) -> Option<&TableInfo> {
        self.tables.iter().find(|t| t.name == name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tables.iter().map(|t| t.name.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableInfo {
    pub name: String,
    pub columns: Vec<ColumnInfo>,
    #[serde(default)]
    pub primary_key: Vec<String>,
    #[serde(default)]
    pub unique_keys: Vec<Vec<String>>,
    #[serde(default)]
    pub foreign_keys: Vec<ForeignKey>,
    /// The columns of every index that can find a range of values of its
    /// first column (keys' indexes included), each list in index order and
    /// ending before the index's first expression. Partial indexes are left
    /// out: a filter without their condition cannot use them; so are hash
    /// indexes, which find equal values only. A fact of the live database
    /// only, never written into a file (a backup's tables are `TableMeta`s).
    #[serde(skip)]
    pub indexes: Vec<Vec<String>>,
}

impl TableInfo {
    pub fn column(&self, name: &str) -> Option<&ColumnInfo> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// True when `columns` (in any order) are the primary key or a unique key.
    pub fn is_unique_key(&self, columns: &[String]) -> bool {
        let same =
            |k: &Vec<String>| k.len() == columns.len() && columns.iter().all(|c| k.contains(c));
        (!self.primary_key.is_empty() && same(&self.primary_key))
            || self.unique_keys.iter().any(same)
    }

    /// Whether an index can find the rows by a range of `column` alone
    /// (`column > T`): it leads the primary key, a unique key or an index.
    /// A key counts even where the engine lists no index for it (SQLite's
    /// INTEGER PRIMARY KEY is the table's rowid).
    pub fn leads_an_index(&self, column: &str) -> bool {
        std::iter::once(&self.primary_key)
            .chain(&self.unique_keys)
            .chain(&self.indexes)
            .any(|cols| cols.first().is_some_and(|c| c == column))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnInfo {
    pub name: String,
    /// The portable type migplan encodes values by.
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// The engine's own declared type, e.g. `VARCHAR(64)`, kept for people.
    pub sql_type: String,
    pub nullable: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub has_default: bool,
    /// The only values the column takes, when the database lists them: a
    /// PostgreSQL enum's labels, MySQL's ENUM, a `CHECK (col IN (…))` of
    /// texts. Workbooks offer them as a dropdown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForeignKey {
    pub columns: Vec<String>,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
}

/// A trigger on a table, as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub table: String,
    pub name: String,
    /// Timing and events, e.g. `AFTER INSERT` or `BEFORE INSERT OR UPDATE`.
    pub when: String,
}

impl Trigger {
    /// Whether loading rows (INSERT, or UPDATE when overwriting) fires it.
    pub fn fires_on_write(&self) -> bool {
        self.when.contains("INSERT") || self.when.contains("UPDATE")
    }
}

/// A counter that hands out ids: a PostgreSQL sequence (owned by a column
/// or not, identity columns' included), a MySQL table's AUTO_INCREMENT, a
/// SQLite AUTOINCREMENT table's `sqlite_sequence` row. Backups carry them so
/// that after a restore the application can insert without an id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sequence {
    /// The PostgreSQL sequence's name (in the schema); MySQL and SQLite
    /// counters belong to their table and have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The table and column whose rows take their ids from it; none for a
    /// PostgreSQL sequence no column default uses (the application calls
    /// `nextval` itself). A sequence several columns use is listed once per
    /// column, with the same value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The value the next row inserted without an id gets.
    pub next: i64,
}

impl Sequence {
    /// What names the counter itself: its name, else its table's.
    pub fn key(&self) -> &str {
        self.name
            .as_deref()
            .or(self.table.as_deref())
            .unwrap_or_default()
    }
}

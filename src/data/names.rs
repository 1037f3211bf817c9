//! Matching a backup's (or a source database's) table and column names with
//! the target's when they differ only in case.
//!
//! Engines fold identifiers differently: PostgreSQL folds unquoted names to
//! lower case, MySQL keeps table names as written, SQLite keeps what the DDL
//! said. Chinook's `Album`.`AlbumId` from MySQL meets `album`.`albumid` in a
//! PostgreSQL schema written without quotes. An exact name always wins; a
//! name with no exact match takes the one target name equal to it ignoring
//! case, and two such candidates are an error (nothing to choose by). Names
//! with no match at all are left for the usual checks to refuse.

use std::collections::HashMap;

use crate::catalog::{Catalog, TableInfo};
use crate::error::{LoadError, Result};
use crate::format::{BackupMeta, TableMeta};
use crate::plan::same_name;

/// Renames `meta`'s tables and columns to the target's spelling where they
/// differ only in case, saying so once. Returns the renamed tables, backup
/// name → target name, for the rows that arrive under the backup's names.
pub fn match_case(meta: &mut BackupMeta, catalog: &Catalog) -> Result<HashMap<String, String>> {
    let mut tables = HashMap::new();
    let mut said = Vec::new();
    let mut taken: HashMap<String, String> = HashMap::new();
    for t in &mut meta.tables {
        let Some(info) = find(&t.name, catalog.tables.iter(), |i| &i.name, "table", None)? else {
            continue;
        };
        claim(&mut taken, &info.name, &t.name, "table", None)?;
        if info.name != t.name {
            said.push(format!("`{}` → `{}`", t.name, info.name));
            tables.insert(t.name.clone(), info.name.clone());
            t.name = info.name.clone();
        }
        rename_columns(t, info, &mut said)?;
    }
    if !said.is_empty() {
        let shown = said.len().min(6);
        let more = match said.len() - shown {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        crate::events::note(format!(
            "names matched without regard to case: {}{more}",
            said[..shown].join(", ")
        ));
    }
    Ok(tables)
}

fn rename_columns(t: &mut TableMeta, info: &TableInfo, said: &mut Vec<String>) -> Result<()> {
    let mut renamed: HashMap<String, String> = HashMap::new();
    let mut taken: HashMap<String, String> = HashMap::new();
    for c in &mut t.columns {
        let found = find(
            &c.name,
            info.columns.iter(),
            |i| &i.name,
            "column",
            Some(&info.name),
        )?;
        if let Some(target) = found {
            claim(
                &mut taken,
                &target.name,
                &c.name,
                "column",
                Some(&info.name),
            )?;
        }
        if let Some(target) = found.filter(|target| target.name != c.name) {
            said.push(format!("`{}`.`{}` → `{}`", info.name, c.name, target.name));
            renamed.insert(c.name.clone(), target.name.clone());
            c.name = target.name.clone();
        }
    }
    if renamed.is_empty() {
        return Ok(());
    }
    let rename = |cols: &mut Vec<String>| {
        for c in cols {
            if let Some(n) = renamed.get(c) {
                *c = n.clone();
            }
        }
    };
    rename(&mut t.primary_key);
    for fk in &mut t.foreign_keys {
        rename(&mut fk.columns);
    }
    if let Some(c) = &mut t.changed_column
        && let Some(n) = renamed.get(c)
    {
        *c = n.clone();
    }
    Ok(())
}

/// Two source names may not land on one target name (`Album` and `album`
/// into a target with only `album`): their rows would merge.
fn claim(
    taken: &mut HashMap<String, String>,
    target: &str,
    source: &str,
    what: &str,
    table: Option<&str>,
) -> Result<()> {
    match taken.insert(target.to_string(), source.to_string()) {
        Some(other) if other != source => Err(LoadError::NamesCollide {
            what: what.to_string(),
            other,
            name: source.to_string(),
            target: target.to_string(),
            table: table.map(String::from),
        }
        .into()),
        _ => Ok(()),
    }
}

/// The target item named `name`: exactly, else the only one equal ignoring
/// case; `None` when nothing matches.
fn find<'a, T>(
    name: &str,
    items: impl Iterator<Item = &'a T> + Clone,
    name_of: impl Fn(&T) -> &String,
    what: &str,
    table: Option<&str>,
) -> Result<Option<&'a T>> {
    if let Some(exact) = items.clone().find(|i| name_of(i) == name) {
        return Ok(Some(exact));
    }
    let mut candidates = items.filter(|i| same_name(name_of(i), name));
    let Some(first) = candidates.next() else {
        return Ok(None);
    };
    if let Some(second) = candidates.next() {
        return Err(LoadError::AmbiguousMatch {
            what: what.to_string(),
            name: name.to_string(),
            first: name_of(first).clone(),
            second: name_of(second).clone(),
            table: table.map(String::from),
        }
        .into());
    }
    Ok(Some(first))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ColumnInfo;
    use crate::value::ColumnType;

    fn column(name: &str) -> ColumnInfo {
        ColumnInfo {
            name: name.into(),
            ty: ColumnType::Int,
            sql_type: "integer".into(),
            nullable: false,
            has_default: false,
            choices: vec![],
        }
    }

    fn info(name: &str, cols: &[&str]) -> TableInfo {
        TableInfo {
            name: name.into(),
            columns: cols.iter().map(|c| column(c)).collect(),
            primary_key: vec![cols[0].into()],
            unique_keys: vec![],
            foreign_keys: vec![],
            indexes: vec![],
        }
    }

    fn meta(tables: Vec<TableInfo>) -> BackupMeta {
        let mut m: BackupMeta = serde_json::from_str(
            r#"{"format":"migplan-backup","format_version":1,"tool_version":"0","exported_at":"x","export_type":"full","source_engine":"mysql","tables":[]}"#,
        )
        .unwrap();
        m.tables = tables
            .into_iter()
            .map(|t| TableMeta {
                name: t.name,
                module: None,
                columns: t.columns,
                primary_key: t.primary_key,
                foreign_keys: vec![],
                rows: 0,
                changed_column: None,
            })
            .collect();
        m
    }

    #[test]
    fn names_differing_only_in_case_take_the_targets_spelling() {
        let mut m = meta(vec![
            info("Album", &["AlbumId", "Title"]),
            info("artist", &["id"]),
        ]);
        let catalog = Catalog {
            tables: vec![
                info("album", &["albumid", "title"]),
                info("artist", &["id"]),
            ],
        };
        let renamed = match_case(&mut m, &catalog).unwrap();
        assert_eq!(renamed, HashMap::from([("Album".into(), "album".into())]));
        assert_eq!(m.tables[0].name, "album");
        let cols: Vec<&str> = m.tables[0]
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(cols, ["albumid", "title"]);
        assert_eq!(m.tables[0].primary_key, ["albumid"]);
    }

    #[test]
    fn an_exact_name_wins_and_two_candidates_are_an_error() {
        let catalog = Catalog {
            tables: vec![info("Album", &["id"]), info("album", &["id"])],
        };
        let mut m = meta(vec![info("album", &["id"])]);
        assert!(match_case(&mut m, &catalog).unwrap().is_empty());
        let mut m = meta(vec![info("ALBUM", &["id"])]);
        let err = match_case(&mut m, &catalog).unwrap_err().to_string();
        assert!(
            err.contains("table `ALBUM`") && err.contains("`Album`") && err.contains("`album`"),
            "{err}"
        );
    }

    #[test]
    fn two_source_names_landing_on_one_target_name_are_an_error() {
        let catalog = Catalog {
            tables: vec![info("album", &["id"])],
        };
        let mut m = meta(vec![info("Album", &["id"]), info("album", &["id"])]);
        let err = match_case(&mut m, &catalog).unwrap_err().to_string();
        assert!(
            err.contains("tables `Album` and `album` both match the target's `album`"),
            "{err}"
        );
        let mut m = meta(vec![info("album", &["id", "ID"])]);
        let err = match_case(&mut m, &catalog).unwrap_err().to_string();
        assert!(
            err.contains("columns `id` and `ID` both match the target's `id` of `album`"),
            "{err}"
        );
    }

    #[test]
    fn a_name_without_any_match_is_left_for_the_usual_error() {
        let catalog = Catalog {
            tables: vec![info("album", &["id"])],
        };
        let mut m = meta(vec![
            info("track", &["id"]),
            info("Album", &["Id", "Extra"]),
        ]);
        match_case(&mut m, &catalog).unwrap();
        assert_eq!(m.tables[0].name, "track");
        let cols: Vec<&str> = m.tables[1]
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(cols, ["id", "Extra"]);
    }
}

//! Counters (sequences, AUTO_INCREMENT, `sqlite_sequence`) carried by a
//! backup or a copy and set again after the rows are written, so the
//! application can insert without an id after a restore (docs/sequences.md).
//!
//! A counter travels by table and column, so a MySQL AUTO_INCREMENT lands
//! on the PostgreSQL sequence of the same column and back; a PostgreSQL
//! sequence no column uses travels by name. Whatever is carried, a counter
//! is never left at or below the largest id of a column it serves.

use std::collections::BTreeMap;

use crate::backend::Backend;
use crate::catalog::{Catalog, Sequence};
use crate::error::Result;
use crate::plan::same_name;
use crate::value::ColumnType;

/// The counters an export of `tables` carries: those of its tables, and in
/// a full export also the sequences no column uses.
pub(super) fn carried(
    db: &mut dyn Backend,
    tables: &[String],
    full: bool,
) -> Result<Vec<Sequence>> {
    Ok(db
        .sequences()?
        .into_iter()
        .filter(|s| match &s.table {
            Some(t) => tables.contains(t),
            None => full,
        })
        .collect())
}

/// Sets the counters of the `written` tables (and the unused sequences
/// `carried` names) after an import: to the carried value when `exact` (a
/// restore replacing the tables' rows), else never backwards; in either
/// case past the largest id of every column the counter serves.
pub(super) fn restore(
    db: &mut dyn Backend,
    catalog: &Catalog,
    written: &[String],
    carried: &[Sequence],
    exact: bool,
) -> Result<()> {
    let mut counters: BTreeMap<String, Vec<Sequence>> = BTreeMap::new();
    for s in db.sequences()? {
        counters.entry(s.key().to_string()).or_default().push(s);
    }
    for uses in counters.values() {
        let mine: Vec<&Sequence> = uses
            .iter()
            .filter(|s| s.table.as_ref().is_some_and(|t| written.contains(t)))
            .collect();
        let wanted = match mine.is_empty() {
            false => carried_for_columns(&mine, carried).or_else(|| carried_by_name(uses, carried)),
            // A sequence no imported column uses moves only when carried.
            true if uses.iter().all(|s| s.table.is_none()) => carried_by_name(uses, carried),
            true => None,
        };
        if mine.is_empty() && wanted.is_none() {
            continue;
        }
        let current = uses[0].next;
        let mut next = match (exact, wanted) {
            (true, Some(w)) => w,
            (_, w) => current.max(w.unwrap_or(current)),
        };
        for s in uses {
            if let Some(max) = column_max(db, catalog, s)? {
                next = next.max(max.saturating_add(1));
            }
        }
        if next != current {
            db.set_sequence(&uses[0], next)?;
        }
    }
    Ok(())
}

/// The highest carried value for the columns a counter serves (by table
/// and column, the target's spelling or the same ignoring case).
fn carried_for_columns(mine: &[&Sequence], carried: &[Sequence]) -> Option<i64> {
    let same = |a: &Option<String>, b: &Option<String>| match (a, b) {
        (Some(a), Some(b)) => same_name(a, b),
        _ => false,
    };
    carried
        .iter()
        .filter(|c| {
            mine.iter()
                .any(|s| same(&c.table, &s.table) && same(&c.column, &s.column))
        })
        .map(|c| c.next)
        .max()
}

/// The carried value of a PostgreSQL sequence of the same name (a sequence
/// no column uses, or whose column is not carried under its own name).
fn carried_by_name(uses: &[Sequence], carried: &[Sequence]) -> Option<i64> {
    let name = uses[0].name.as_deref()?;
    carried
        .iter()
        .filter(|c| c.name.as_deref() == Some(name))
        .map(|c| c.next)
        .max()
}

/// The largest value of the integer column a counter serves, if any.
fn column_max(db: &mut dyn Backend, catalog: &Catalog, s: &Sequence) -> Result<Option<i64>> {
    let (Some(table), Some(column)) = (&s.table, &s.column) else {
        return Ok(None);
    };
    let integer = catalog
        .table(table)
        .and_then(|t| t.column(column))
        .is_some_and(|c| c.ty == ColumnType::Int);
    match integer {
        true => db.max_value(table, column),
        false => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{self, DbUrl, OpenOptions};

    /// A SQLite database in memory with one AUTOINCREMENT table holding
    /// ids 1 to 3 and its counter at 10.
    fn db() -> Box<dyn Backend> {
        let url = DbUrl::parse("sqlite://:memory:", std::path::Path::new(".")).unwrap();
        let mut db = backend::open(&url, &OpenOptions::default()).unwrap();
        db.execute_sql(
            "setup",
            "CREATE TABLE album (albumid INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT);
             INSERT INTO album VALUES (10, 'x'); DELETE FROM album;
             INSERT INTO album VALUES (1, 'a'), (2, 'b'), (3, 'c');",
        )
        .unwrap();
        db
    }

    fn carried(table: &str, column: &str, next: i64) -> Vec<Sequence> {
        vec![Sequence {
            name: None,
            table: Some(table.into()),
            column: Some(column.into()),
            next,
        }]
    }

    fn next(db: &mut dyn Backend) -> i64 {
        db.sequences().unwrap()[0].next
    }

    fn restore_into(db: &mut dyn Backend, carried: &[Sequence], exact: bool) {
        let catalog = db.catalog().unwrap();
        restore(db, &catalog, &["album".into()], carried, exact).unwrap();
    }

    #[test]
    fn a_counter_is_found_by_table_and_column_ignoring_case() {
        let mut db = db();
        restore_into(db.as_mut(), &carried("Album", "AlbumId", 50), false);
        assert_eq!(next(db.as_mut()), 50);
    }

    #[test]
    fn an_import_never_moves_a_counter_back_and_a_restore_does_but_not_below_the_rows() {
        let mut db = db();
        restore_into(db.as_mut(), &carried("album", "albumid", 5), false);
        assert_eq!(next(db.as_mut()), 11);
        restore_into(db.as_mut(), &carried("album", "albumid", 5), true);
        assert_eq!(next(db.as_mut()), 5);
        restore_into(db.as_mut(), &carried("album", "albumid", 2), true);
        assert_eq!(next(db.as_mut()), 4);
    }

    #[test]
    fn a_counter_of_another_column_or_table_is_not_taken() {
        let mut db = db();
        restore_into(db.as_mut(), &carried("album", "title", 90), false);
        restore_into(db.as_mut(), &carried("artist", "albumid", 90), false);
        assert_eq!(next(db.as_mut()), 11);
    }
}

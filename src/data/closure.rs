//! Self-contained module exports (`[export] closure = true`): the rows that
//! the chosen modules' rows reference through foreign keys, transitively, so
//! the backup imports alone into an empty database.
//!
//! Everything happens inside the export's read snapshot, before the backup is
//! written:
//!
//! 1. the chosen modules' tables are exported whole; their foreign-key
//!    columns are read and every referenced key of a table outside the
//!    selection is collected (only the key values, never the rows);
//! 2. each pulled-in table is then read, children before parents: a row
//!    whose referenced columns hold a needed key is in the closure, and its
//!    own foreign keys are collected in turn. A table is read again while new
//!    keys of it turn up (self-references such as `categories.parent_id`,
//!    cycles), until nothing new is found;
//! 3. the export writes the pulled-in tables filtered while streaming: rows
//!    whose key was not collected are skipped.
//!
//! Memory holds key sets only: one entry per referenced parent row, never a
//! row. Keys are compared by an exact encoding of their values (integers by
//! value whatever their width, floats by bits, text and bytes as is), so a
//! key that matches in SQL matches here, except where an engine's collation
//! calls different texts equal (MySQL's case-insensitive collations): such a
//! parent is missed, and the import names it rather than writing anything.

use std::collections::{HashMap, HashSet};

use crate::backend::{Backend, ReadRequest};
use crate::catalog::{Catalog, ForeignKey, TableInfo};
use crate::error::{Error, LoadError, Result};
use crate::value::Value;

/// The tables outside `selected` that rows of `selected` may reference,
/// transitively, in the order they are found, each with the references that
/// pull it in (`child.column`). A table-level view from the catalog alone.
pub fn tables(catalog: &Catalog, selected: &[String]) -> Vec<(String, Vec<String>)> {
    let chosen: HashSet<&str> = selected.iter().map(String::as_str).collect();
    let mut found: Vec<(String, Vec<String>)> = Vec::new();
    let mut queue: Vec<String> = selected.to_vec();
    let mut i = 0;
    while i < queue.len() {
        let child = queue[i].clone();
        i += 1;
        let Some(info) = catalog.table(&child) else {
            continue;
        };
        for fk in outside(info, &chosen) {
            let reason = reference(&child, &fk.columns);
            match found.iter_mut().find(|(t, _)| *t == fk.ref_table) {
                Some((_, reasons)) => reasons.push(reason),
                None => {
                    found.push((fk.ref_table.clone(), vec![reason]));
                    queue.push(fk.ref_table.clone());
                }
            }
        }
    }
    found
}

/// `child.column`, or `child.(a, b)` for a composite key.
fn reference(child: &str, columns: &[String]) -> String {
    match columns {
        [c] => format!("{child}.{c}"),
        _ => format!("{child}.({})", columns.join(", ")),
    }
}

/// The foreign keys of `info` that point outside the selection.
fn outside<'a>(info: &'a TableInfo, chosen: &HashSet<&str>) -> Vec<&'a ForeignKey> {
    info.foreign_keys
        .iter()
        .filter(|fk| !chosen.contains(fk.ref_table.as_str()))
        .collect()
}

/// An exact, hashable encoding of a key's values.
type Key = Vec<u8>;

#[derive(Clone, Copy, PartialEq)]
enum State {
    /// Collected, its row not looked at yet.
    Pending,
    /// Being looked for in the current pass over the table.
    Current,
    /// Its row is in the closure and its references are collected.
    Done,
}

/// The needed keys of one referenced column set of a pulled-in table.
struct KeySet {
    columns: Vec<String>,
    keys: HashMap<Key, State>,
}

/// What the closure needs of one pulled-in table.
struct Needed {
    sets: Vec<KeySet>,
    pending: usize,
    rows: u64,
}

/// The pulled-in tables and the keys of the rows each contributes.
pub struct Closure {
    needed: HashMap<String, Needed>,
    /// Pulled-in tables in the order they were found.
    order: Vec<String>,
}

impl Closure {
    /// Collects the closure of the `selected` tables (exported whole) in the
    /// open read snapshot of `db`.
    pub fn collect(db: &mut dyn Backend, catalog: &Catalog, selected: &[String]) -> Result<Self> {
        let order: Vec<String> = tables(catalog, selected)
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        let mut closure = Closure {
            needed: HashMap::new(),
            order,
        };
        let chosen: HashSet<&str> = selected.iter().map(String::as_str).collect();
        for t in selected {
            let info = catalog.table(t).expect("selected tables exist");
            closure.follow_whole(db, info, &chosen)?;
        }
        let passes = children_first(catalog, &closure.order);
        while let Some(t) = passes
            .iter()
            .find(|t| closure.needed.get(*t).is_some_and(|n| n.pending > 0))
        {
            let info = catalog.table(t).ok_or_else(|| {
                Error::from(LoadError::ClosureMissingTable {
                    table: t.to_string(),
                })
            })?;
            closure.follow_needed(db, info, &chosen)?;
        }
        Ok(closure)
    }

    /// Whether `table` was pulled in (and is exported filtered).
    pub fn contains(&self, table: &str) -> bool {
        self.needed.contains_key(table)
    }

    /// Pulled-in tables that hold at least one needed row, in the order found.
    pub fn tables(&self) -> impl Iterator<Item = &str> {
        self.order
            .iter()
            .filter(|t| self.needed.get(*t).is_some_and(|n| n.rows > 0))
            .map(String::as_str)
    }

    /// How many rows of a pulled-in table are in the closure.
    pub fn rows(&self, table: &str) -> u64 {
        self.needed.get(table).map_or(0, |n| n.rows)
    }

    /// The columns a filtered read of `table` needs besides `columns` (the
    /// exported ones): referenced columns left out by `exclude`.
    pub fn extra_columns(&self, table: &str, columns: &[String]) -> Vec<String> {
        let mut extra: Vec<String> = Vec::new();
        for set in self.needed.get(table).map_or(&[][..], |n| &n.sets) {
            for c in &set.columns {
                if !columns.contains(c) && !extra.contains(c) {
                    extra.push(c.clone());
                }
            }
        }
        extra
    }

    /// Where each needed key of a pulled-in table sits in a row read with
    /// `columns` (which hold [`Closure::extra_columns`]), for [`Closure::keeps`].
    pub fn key_positions(&self, table: &str, columns: &[String]) -> Vec<Vec<usize>> {
        self.needed.get(table).map_or(vec![], |n| {
            n.sets
                .iter()
                .map(|s| positions(columns, &s.columns))
                .collect()
        })
    }

    /// Whether a row of a pulled-in table is in the closure.
    pub fn keeps(&self, table: &str, key_positions: &[Vec<usize>], row: &[Value]) -> bool {
        let Some(n) = self.needed.get(table) else {
            return true;
        };
        n.sets
            .iter()
            .zip(key_positions)
            .any(|(set, pos)| encode(row, pos).is_some_and(|k| set.keys.contains_key(&k)))
    }

    /// Reads the foreign-key columns of a table exported whole.
    fn follow_whole(
        &mut self,
        db: &mut dyn Backend,
        info: &TableInfo,
        chosen: &HashSet<&str>,
    ) -> Result<()> {
        let fks = outside(info, chosen);
        if fks.is_empty() {
            return Ok(());
        }
        let columns = union(fks.iter().map(|fk| &fk.columns));
        let refs: Vec<(&ForeignKey, Vec<usize>)> = fks
            .iter()
            .map(|fk| (*fk, positions(&columns, &fk.columns)))
            .collect();
        let req = ReadRequest {
            table: &info.name,
            columns: &columns,
            order_by: &[],
            changed_since: None,
        };
        db.read(&req, &mut |row| {
            self.collect_refs(&refs, row);
            Ok(())
        })
    }

    /// One pass over a pulled-in table: the rows whose keys turned up since
    /// the last pass join the closure, and their references are collected.
    fn follow_needed(
        &mut self,
        db: &mut dyn Backend,
        info: &TableInfo,
        chosen: &HashSet<&str>,
    ) -> Result<()> {
        let needed = self.needed.get_mut(&info.name).expect("pending table");
        needed.pending = 0;
        for set in &mut needed.sets {
            for state in set.keys.values_mut() {
                if *state == State::Pending {
                    *state = State::Current;
                }
            }
        }
        let fks = outside(info, chosen);
        let columns = union(
            needed
                .sets
                .iter()
                .map(|s| &s.columns)
                .chain(fks.iter().map(|fk| &fk.columns)),
        );
        let sets: Vec<Vec<usize>> = needed
            .sets
            .iter()
            .map(|s| positions(&columns, &s.columns))
            .collect();
        let refs: Vec<(&ForeignKey, Vec<usize>)> = fks
            .iter()
            .map(|fk| (*fk, positions(&columns, &fk.columns)))
            .collect();
        let req = ReadRequest {
            table: &info.name,
            columns: &columns,
            order_by: &[],
            changed_since: None,
        };
        let table = info.name.as_str();
        db.read(&req, &mut |row| {
            let needed = &self.needed[table];
            let mut current = false;
            for (set, pos) in needed.sets.iter().zip(&sets) {
                match encode(row, pos).and_then(|k| set.keys.get(&k).copied()) {
                    Some(State::Done) => return Ok(()),
                    Some(State::Current) => current = true,
                    _ => {}
                }
            }
            if current {
                self.needed.get_mut(table).expect("pending table").rows += 1;
                self.collect_refs(&refs, row);
            }
            Ok(())
        })?;
        for set in &mut self.needed.get_mut(table).expect("pending table").sets {
            for state in set.keys.values_mut() {
                if *state == State::Current {
                    *state = State::Done;
                }
            }
        }
        Ok(())
    }

    /// Adds the keys one row references to the needed sets of its parents.
    fn collect_refs(&mut self, refs: &[(&ForeignKey, Vec<usize>)], row: &[Value]) {
        for (fk, pos) in refs {
            let Some(key) = encode(row, pos) else {
                continue; // a NULL in the key references nothing
            };
            let needed = self
                .needed
                .entry(fk.ref_table.clone())
                .or_insert_with(|| Needed {
                    sets: vec![],
                    pending: 0,
                    rows: 0,
                });
            let set = match needed.sets.iter().position(|s| s.columns == fk.ref_columns) {
                Some(i) => &mut needed.sets[i],
                None => {
                    needed.sets.push(KeySet {
                        columns: fk.ref_columns.clone(),
                        keys: HashMap::new(),
                    });
                    needed.sets.last_mut().expect("just pushed")
                }
            };
            if let std::collections::hash_map::Entry::Vacant(e) = set.keys.entry(key) {
                e.insert(State::Pending);
                needed.pending += 1;
            }
        }
    }
}

/// Pulled-in tables ordered children before parents (ignoring cycles), so
/// a table is read once its referencing tables have added their keys: a
/// post-order walk along foreign keys puts parents first; reversed.
fn children_first(catalog: &Catalog, tables: &[String]) -> Vec<String> {
    fn walk(
        catalog: &Catalog,
        t: &str,
        tables: &[String],
        seen: &mut HashSet<String>,
        post: &mut Vec<String>,
    ) {
        if !seen.insert(t.to_string()) {
            return;
        }
        if let Some(info) = catalog.table(t) {
            for fk in &info.foreign_keys {
                if fk.ref_table != t && tables.contains(&fk.ref_table) {
                    walk(catalog, &fk.ref_table, tables, seen, post);
                }
            }
        }
        post.push(t.to_string());
    }
    let mut post = Vec::new();
    let mut seen = HashSet::new();
    for t in tables {
        walk(catalog, t, tables, &mut seen, &mut post);
    }
    post.reverse();
    post
}

/// The columns of several lists, each once, in first-seen order.
fn union<'a>(lists: impl Iterator<Item = &'a Vec<String>>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in lists.flatten() {
        if !out.contains(c) {
            out.push(c.clone());
        }
    }
    out
}

fn positions(columns: &[String], wanted: &[String]) -> Vec<usize> {
    wanted
        .iter()
        .map(|w| {
            columns
                .iter()
                .position(|c| c == w)
                .expect("read columns include the key")
        })
        .collect()
}

/// The exact encoding of the values at `pos`, or `None` when one is NULL.
/// Integers compare by value (`Int`, `UInt`, `Bool`, integral decimals and
/// floats alike), other decimals by their normalized digits, floats by bits
/// (-0 as 0), text and bytes byte for byte; every part is tagged and
/// length-prefixed so no two different keys encode alike.
fn encode(row: &[Value], pos: &[usize]) -> Option<Key> {
    let mut key = Vec::new();
    for &p in pos {
        match &row[p] {
            Value::Null => return None,
            Value::Bool(b) => integer(&mut key, i128::from(*b)),
            Value::Int(i) => integer(&mut key, i128::from(*i)),
            Value::UInt(u) => integer(&mut key, i128::from(*u)),
            Value::Float(f) => {
                if f.fract() == 0.0 && f.abs() < 1e38 {
                    integer(&mut key, *f as i128)
                } else {
                    tagged(&mut key, b'f', &f.to_bits().to_be_bytes())
                }
            }
            Value::Decimal(d) => match normalize_decimal(d) {
                Ok(i) => integer(&mut key, i),
                Err(digits) => tagged(&mut key, b'd', digits.as_bytes()),
            },
            Value::Text(s) => tagged(&mut key, b't', s.as_bytes()),
            Value::Bytes(b) => tagged(&mut key, b'b', b),
        }
    }
    Some(key)
}

fn integer(key: &mut Key, i: i128) {
    tagged(key, b'i', &i.to_be_bytes());
}

fn tagged(key: &mut Key, tag: u8, bytes: &[u8]) {
    key.push(tag);
    key.extend((bytes.len() as u64).to_be_bytes());
    key.extend(bytes);
}

/// A decimal's integer value, or its canonical digits (no leading or
/// trailing zeros, `-` only when non-zero) when it has a fraction or does
/// not fit.
fn normalize_decimal(d: &str) -> std::result::Result<i128, String> {
    let (neg, digits) = match d.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, d.strip_prefix('+').unwrap_or(d)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    if frac.is_empty()
        && let Ok(i) = format!(
            "{}{}",
            if neg { "-" } else { "" },
            if int.is_empty() { "0" } else { int }
        )
        .parse::<i128>()
    {
        return Ok(i);
    }
    let sign = if neg { "-" } else { "" };
    Err(format!(
        "{sign}{}.{frac}",
        if int.is_empty() { "0" } else { int }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(v: Value) -> Key {
        encode(&[v], &[0]).unwrap()
    }

    #[test]
    fn integers_match_whatever_their_type() {
        assert_eq!(key(Value::Int(7)), key(Value::UInt(7)));
        assert_eq!(key(Value::Int(7)), key(Value::Decimal("7.00".into())));
        assert_eq!(key(Value::Int(0)), key(Value::Decimal("-0".into())));
        assert_eq!(key(Value::Int(7)), key(Value::Float(7.0)));
        assert_eq!(key(Value::Float(0.0)), key(Value::Float(-0.0)));
        assert_ne!(key(Value::Int(7)), key(Value::Text("7".into())));
        assert_eq!(
            key(Value::Decimal("1.50".into())),
            key(Value::Decimal("01.5".into()))
        );
        assert_ne!(
            key(Value::Decimal("1.5".into())),
            key(Value::Decimal("-1.5".into()))
        );
    }

    #[test]
    fn composite_keys_do_not_run_together() {
        let ab = encode(
            &[Value::Text("a".into()), Value::Text("bc".into())],
            &[0, 1],
        );
        let abc = encode(
            &[Value::Text("ab".into()), Value::Text("c".into())],
            &[0, 1],
        );
        assert_ne!(ab, abc);
        assert_eq!(encode(&[Value::Int(1), Value::Null], &[0, 1]), None);
    }
}

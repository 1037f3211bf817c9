//! Sheets matched to tables: through `_meta` when present, else by name
//! (the table's, or its `sheet` in the plan; `name (2)` continues `name`);
//! copied and missing sheets found.

use std::collections::{BTreeMap, HashMap};

use calamine::Reader;

use super::{Book, ExpectedTable, Problems};
use crate::format::TableMeta;
use crate::format::xlsx::cell::{ColumnNote, Kind};
use crate::format::xlsx::names::{
    self, LISTS_SHEET, MARKS_SHEET, META_SHEET, sheet_ref, split_continuation,
};
use crate::format::xlsx::{Layout, WorkbookMeta};
use crate::value::ColumnType;

/// One table of the workbook, ready to read.
pub(super) struct TablePlan {
    /// Its target table, copied so that the checked workbook stands alone.
    pub(super) expect: ExpectedTable,
    /// Its sheets, in order.
    pub(super) sheets: Vec<String>,
    /// One per target column: how to read its cells.
    pub(super) notes: Vec<ColumnNote>,
    /// One per target column: the labels its header may show besides its
    /// name (the workbook's, the plan's).
    pub(super) aliases: Vec<Vec<String>>,
    /// What `_meta` recorded about the table, if anything.
    pub(super) recorded: Option<TableMeta>,
    /// `_marks`: row key → (column, kind, cell).
    pub(super) marks: HashMap<String, Vec<(String, Kind, String)>>,
    /// Rows of only NULLs the writer recorded (see `SheetTable`).
    pub(super) blank_rows: u64,
}

impl TablePlan {
    pub(super) fn table_meta(&self, rows: u64) -> TableMeta {
        let r = self.recorded.as_ref();
        TableMeta {
            name: self.expect.name.clone(),
            module: r.and_then(|r| r.module.clone()),
            columns: self.expect.columns.clone(),
            primary_key: self.expect.primary_key.clone(),
            foreign_keys: r.map(|r| r.foreign_keys.clone()).unwrap_or_default(),
            rows,
            changed_column: r.and_then(|r| r.changed_column.clone()),
        }
    }

    /// The columns whose cells name a row in `_marks`.
    pub(super) fn key_columns(&self) -> &[String] {
        match &self.recorded {
            Some(r) => &r.primary_key,
            None => &self.expect.primary_key,
        }
    }
}

pub(super) fn is_own_sheet(sheet: &str) -> bool {
    sheet == META_SHEET
        || sheet == MARKS_SHEET
        || sheet == LISTS_SHEET
        || split_continuation(sheet).is_some_and(|(base, _)| base == MARKS_SHEET)
}

/// Matches the workbook's sheets to the expected tables.
pub(super) fn assign_sheets<'e>(
    book: &Book,
    wm: Option<&WorkbookMeta>,
    expect: &'e [ExpectedTable],
    layout: &Layout,
    problems: &mut Problems,
) -> Vec<TablePlan> {
    let sheet_names = &layout.sheets;
    let sheets = book.sheet_names();
    // Sheet → (table, part) as recorded.
    let mut recorded: HashMap<&str, (&str, usize)> = HashMap::new();
    if let Some(wm) = wm {
        for t in &wm.tables {
            for (i, s) in t.sheets.iter().enumerate() {
                recorded.insert(s, (&t.table, i + 1));
            }
        }
    }
    // A sheet named for a table: its name, its configured sheet name, or
    // either as the writer would have cleaned it.
    let by_name = |sheet: &str| -> Option<&'e ExpectedTable> {
        let exact = expect
            .iter()
            .find(|t| t.name == sheet || sheet_names.get(&t.name).is_some_and(|s| s == sheet));
        exact.or_else(|| {
            expect.iter().find(|t| {
                names::clean(&t.name) == sheet
                    || sheet_names
                        .get(&t.name)
                        .is_some_and(|s| names::clean(s) == sheet)
            })
        })
    };
    let expected = |table: &str| expect.iter().find(|t| t.name == table);

    // (table index in expect) → [(part, workbook position, sheet)]
    let mut found: BTreeMap<usize, Vec<(usize, usize, String)>> = BTreeMap::new();
    let mut unknown = Vec::new();
    for (pos, sheet) in sheets.iter().enumerate() {
        if is_own_sheet(sheet) {
            continue;
        }
        let hit: Option<(&str, usize)> = recorded
            .get(sheet.as_str())
            .copied()
            .or_else(|| by_name(sheet).map(|t| (t.name.as_str(), 1)))
            .or_else(|| {
                let (base, n) = split_continuation(sheet)?;
                recorded
                    .get(base)
                    .map(|(t, _)| (*t, n))
                    .or_else(|| by_name(base).map(|t| (t.name.as_str(), n)))
            });
        match hit {
            Some((table, part)) => match expected(table) {
                Some(t) => {
                    let index = expect
                        .iter()
                        .position(|e| std::ptr::eq(e, t))
                        .expect("found");
                    found
                        .entry(index)
                        .or_default()
                        .push((part, pos, sheet.clone()));
                }
                None => problems.push(format!(
                    "{}: holds table `{table}`, which the target database does not have",
                    sheet_ref(sheet)
                )),
            },
            None => unknown.push(sheet.clone()),
        }
    }
    check_duplicate_sheets(&found, expect, wm, problems);
    if !unknown.is_empty() {
        let tables: Vec<&str> = expect.iter().map(|t| t.name.as_str()).collect();
        problems.push(format!(
            "sheets that match no table: {} (sheets are named after their table, or its `sheet` in the plan; tables: {})",
            unknown.iter().map(|s| sheet_ref(s)).collect::<Vec<_>>().join(", "),
            tables.join(", ")
        ));
    }
    // Sheets `_meta` lists that are gone, unless as many sheets were found
    // for the table by other names (renamed sheets).
    if let Some(wm) = wm {
        for t in &wm.tables {
            let index = expect.iter().position(|e| e.name == t.table);
            let found_n = index.and_then(|i| found.get(&i)).map_or(0, Vec::len);
            let missing: Vec<&String> = t.sheets.iter().filter(|s| !sheets.contains(s)).collect();
            if found_n < t.sheets.len() {
                for s in missing {
                    problems.push(format!(
                        "{}: the sheet of table `{}` listed in `{META_SHEET}` is missing from the workbook",
                        sheet_ref(s),
                        t.table
                    ));
                }
            }
        }
    }

    // Tables in the order `_meta` lists them (export order), then in the
    // order of their first sheet.
    let meta_order = |name: &str| {
        wm.and_then(|wm| wm.tables.iter().position(|t| t.table == name))
            .unwrap_or(usize::MAX)
    };
    let mut plans: Vec<(usize, usize, TablePlan)> = found
        .into_iter()
        .map(|(index, mut parts)| {
            parts.sort();
            let e = &expect[index];
            let recorded_notes = wm.and_then(|wm| wm.table(&e.name));
            let notes: Vec<ColumnNote> = e
                .columns
                .iter()
                .map(|c| {
                    let mut note = ColumnNote::new(&c.name, c.ty, &c.sql_type, c.nullable);
                    note.label = layout.label(&e.name, &c.name).map(String::from);
                    if c.ty == ColumnType::Bool {
                        note.booleans = layout.booleans.get(&e.name).cloned();
                    }
                    if let Some(r) =
                        recorded_notes.and_then(|r| r.columns.iter().find(|n| n.name == c.name))
                    {
                        note.empty_is_text = r.empty_is_text;
                        // The workbook's own labels and texts first: it reads
                        // back as written whatever the plan says now.
                        if r.label.is_some() {
                            note.label = r.label.clone();
                        }
                        if r.booleans.is_some() && c.ty == ColumnType::Bool {
                            note.booleans = r.booleans.clone();
                        }
                        if r.ty == ColumnType::Decimal && note.ty == ColumnType::Decimal {
                            note.scale = r.scale;
                        }
                    }
                    note
                })
                .collect();
            // Headers read as a column: its name, its label in the
            // workbook and in the plan.
            let aliases = e
                .columns
                .iter()
                .zip(&notes)
                .map(|(c, n): (_, &ColumnNote)| {
                    let mut a: Vec<String> = n.label.iter().cloned().collect();
                    if let Some(l) = layout.label(&e.name, &c.name)
                        && !a.iter().any(|x| x == l)
                    {
                        a.push(l.to_string());
                    }
                    a
                })
                .collect();
            let first = parts[0].1;
            (
                meta_order(&e.name),
                first,
                TablePlan {
                    expect: e.clone(),
                    sheets: parts.into_iter().map(|(_, _, s)| s).collect(),
                    notes,
                    aliases,
                    recorded: wm.and_then(|wm| wm.backup.table(&e.name).cloned()),
                    marks: HashMap::new(),
                    blank_rows: recorded_notes.map_or(0, |r| r.blank_rows),
                },
            )
        })
        .collect();
    plans.sort_by_key(|(m, first, _)| (*m, *first));
    plans.into_iter().map(|(_, _, p)| p).collect()
}

/// Two sheets holding the same part of a table, or more sheets than
/// `_meta` recorded for it, would import rows twice: Excel names a copied
/// sheet `users (2)`, which reads like a continuation.
fn check_duplicate_sheets(
    found: &BTreeMap<usize, Vec<(usize, usize, String)>>,
    expect: &[ExpectedTable],
    wm: Option<&WorkbookMeta>,
    problems: &mut Problems,
) {
    for (&index, parts) in found {
        let table = &expect[index].name;
        for (i, (part, _, sheet)) in parts.iter().enumerate() {
            if let Some((_, _, other)) = parts[..i].iter().find(|(p, _, _)| p == part) {
                problems.push(format!(
                    "{} and {} both hold part {part} of table `{table}` (a copied sheet?): delete one",
                    sheet_ref(other),
                    sheet_ref(sheet)
                ));
            }
        }
        let recorded = wm.and_then(|wm| wm.table(table)).map(|t| t.sheets.len());
        if let Some(n) = recorded.filter(|&n| parts.len() > n) {
            let extra: Vec<String> = parts
                .iter()
                .filter(|(_, _, s)| {
                    !wm.is_some_and(|wm| wm.table(table).is_some_and(|t| t.sheets.contains(s)))
                })
                .map(|(_, _, s)| sheet_ref(s))
                .collect();
            problems.push(format!(
                "{}: table `{table}` was exported on {n} sheet(s), and this one would add its rows again (a copied sheet?): delete it, or move its rows onto the table's sheet",
                extra.join(", ")
            ));
        }
    }
}

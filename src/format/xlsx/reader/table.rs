//! One table's sheets read: the header row matched to the columns, every
//! cell read as its column's value (or as `_marks` says), each problem
//! placed at its cell.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use super::rows::for_each_row_with_blanks;
use super::sheets::TablePlan;
use super::spool::RowAt;
use super::{Book, Problems};
use crate::error::{Error, Result};
use crate::format::xlsx::BYTES_COLUMN_PREFIX;
use crate::format::xlsx::cell::{self, In};
use crate::format::xlsx::names::{cell_ref, sheet_ref};
use crate::format::xlsx::writer::row_key;
use crate::value::{ColumnType, Value};

/// The bytes a marker `‹binary N bytes›` stands for: the base64 of its
/// row's hidden `_bytes:NAME` cell, `len` bytes long.
fn marker_bytes(
    hidden: Option<&In<'_>>,
    len: usize,
    column: &str,
) -> Result<Value, Option<String>> {
    use base64::Engine as _;
    let text = match hidden {
        Some(In::Str(s)) => s.trim(),
        None | Some(In::Empty) if len == 0 => "",
        _ => {
            return Err(Some(format!(
                "the marker's bytes are missing from the hidden column `{BYTES_COLUMN_PREFIX}{column}` of this row: undo the edit, or type the bytes as base64 in place of the marker"
            )));
        }
    };
    match base64::engine::general_purpose::STANDARD.decode(text) {
        Ok(b) if b.len() == len => Ok(Value::Bytes(b)),
        Ok(b) => Err(Some(format!(
            "the hidden column `{BYTES_COLUMN_PREFIX}{column}` of this row holds {} bytes, not the marker's {len}: undo the edit, or type the bytes as base64 in place of the marker",
            b.len()
        ))),
        Err(e) => Err(Some(format!(
            "the hidden column `{BYTES_COLUMN_PREFIX}{column}` of this row is not base64 ({e})"
        ))),
    }
}

/// How a sheet's columns map to the table's.
struct Header {
    /// Sheet column → target column.
    by_sheet: HashMap<u32, usize>,
    /// Target column → sheet column.
    by_target: Vec<Option<u32>>,
    /// Sheet columns without a header already reported.
    reported: BTreeSet<u32>,
    /// Target column → the sheet column holding its bytes (`_bytes:NAME`).
    bytes: HashMap<usize, u32>,
}

/// Per sheet of a table, the sheet column of each target column (empty
/// for a sheet without a header row): where a row's refusal is placed.
pub(super) type SheetColumns = Vec<Vec<Option<u32>>>;

/// Reads one table's sheets, calling `on_row` with each valid row and
/// where it is; returns where each sheet has the table's columns.
pub(super) fn scan_table(
    path: &Path,
    book: &mut Book,
    is_1904: bool,
    t: &TablePlan,
    problems: &mut Problems,
    on_row: &mut dyn FnMut(Vec<Value>, RowAt) -> Result<()>,
) -> Result<SheetColumns> {
    let columns = &t.expect.columns;
    let mut ordinal = 0u64;
    let mut placed = SheetColumns::new();
    for (sheet_no, sheet) in t.sheets.iter().enumerate() {
        let mut header: Option<Header> = None;
        let formulas = for_each_row_with_blanks(path, book, sheet, is_1904, &mut |row, cells| {
            if cells.is_empty() && (header.is_none() || t.blank_rows == 0) {
                return Ok(());
            }
            let Some(h) = header.as_mut() else {
                header = Some(read_header(sheet, row, cells, t, problems));
                return Ok(());
            };
            ordinal += 1;
            let at = |i: usize| -> &In<'_> {
                h.by_target[i]
                    .and_then(|c| cells.iter().find(|(col, _)| *col == c))
                    .map_or(&In::Empty, |(_, v)| v)
            };
            for (col, _) in cells {
                if !h.by_sheet.contains_key(col)
                    && !h.bytes.values().any(|c| c == col)
                    && h.reported.insert(*col)
                {
                    problems.push(format!(
                        "{}: a value in a column without a header (name the column or clear it)",
                        cell_ref(sheet, row, *col)
                    ));
                }
            }
            // Marks of this row, when the table has any.
            let marks = if t.marks.is_empty() {
                None
            } else {
                let key_cells: Option<Vec<String>> = (!t.key_columns().is_empty())
                    .then(|| {
                        t.key_columns()
                            .iter()
                            .map(|k| {
                                columns
                                    .iter()
                                    .position(|c| &c.name == k)
                                    .map(|i| at(i).render())
                            })
                            .collect()
                    })
                    .flatten();
                t.marks.get(&row_key(key_cells, ordinal))
            };
            let mut values = Vec::with_capacity(columns.len());
            let mut ok = true;
            for (i, note) in t.notes.iter().enumerate() {
                let cell = at(i);
                let mark = marks.and_then(|m| {
                    m.iter()
                        .find(|(c, _, fp)| *c == note.name && cell::compact(cell.render()) == *fp)
                });
                let marker = match (mark, cell, note.ty) {
                    (None, In::Str(s), ColumnType::Blob) => cell::parse_bytes_marker(s),
                    _ => None,
                };
                let value = match (mark, marker) {
                    (Some((_, kind, _)), _) => cell::by_kind_in(cell, *kind).ok_or(None),
                    (None, Some(len)) => {
                        let bytes = h
                            .bytes
                            .get(&i)
                            .and_then(|c| cells.iter().find(|(col, _)| col == c))
                            .map(|(_, v)| v);
                        marker_bytes(bytes, len, &note.name)
                    }
                    (None, None) => cell::natural(cell, note),
                };
                match value {
                    Ok(v) => values.push(v),
                    Err(why) => {
                        ok = false;
                        let col = h.by_target[i].unwrap_or(0);
                        problems.push(format!(
                            "{}: expected {}, found {}{}",
                            cell_ref(sheet, row, col),
                            cell::expected(note.ty),
                            cell.describe(),
                            why.map(|w| format!(" ({w})")).unwrap_or_default()
                        ));
                    }
                }
            }
            if ok && problems.total == 0 {
                let at = RowAt {
                    sheet: sheet_no as u32,
                    row,
                };
                on_row(values, at).map_err(|e| placed_at(e, sheet, row, &h.by_target, t))?;
            }
            Ok(())
        })?;
        placed.push(
            header
                .as_ref()
                .map(|h| h.by_target.clone())
                .unwrap_or_default(),
        );
        problems.append(formulas);
        if header.is_none() {
            problems.push(format!(
                "{}: the sheet is empty; expected a header row with the columns of table `{}`",
                sheet_ref(sheet),
                t.expect.name
            ));
        }
    }
    Ok(placed)
}

/// A row the target refused, placed at the cell of the column it names
/// (the row's first cell when it names none).
pub(super) fn placed_at(
    e: Error,
    sheet: &str,
    row: u32,
    by_target: &[Option<u32>],
    t: &TablePlan,
) -> Error {
    let Error::Row(message) = e else { return e };
    let col = message
        .split_once("column `")
        .and_then(|(_, rest)| rest.split_once('`'))
        .and_then(|(name, _)| t.expect.columns.iter().position(|c| c.name == name))
        .and_then(|i| by_target.get(i).copied().flatten())
        .unwrap_or(0);
    Error::Row(format!("{}: {message}", cell_ref(sheet, row, col)))
}

fn read_header(
    sheet: &str,
    row: u32,
    cells: &[(u32, In<'_>)],
    t: &TablePlan,
    problems: &mut Problems,
) -> Header {
    let columns = &t.expect.columns;
    let mut h = Header {
        by_sheet: HashMap::new(),
        by_target: vec![None; columns.len()],
        reported: BTreeSet::new(),
        bytes: HashMap::new(),
    };
    for (col, value) in cells {
        let name = match value {
            In::Str(s) => s.to_string(),
            other => other.describe(),
        };
        // A column's hidden bytes.
        if let Some(of) = name.trim().strip_prefix(BYTES_COLUMN_PREFIX)
            && let Some(i) = columns
                .iter()
                .position(|c| c.name == of && c.ty == ColumnType::Blob)
        {
            if h.bytes.insert(i, *col).is_some() {
                problems.push(format!(
                    "{}: column `{name}` appears twice",
                    cell_ref(sheet, row, *col)
                ));
            }
            continue;
        }
        // The header is a column's name, or its label; a text that is one
        // column's name and another's label is ambiguous.
        let by_name = columns
            .iter()
            .position(|c| c.name == name)
            .or_else(|| columns.iter().position(|c| c.name == name.trim()));
        let by_label = t
            .aliases
            .iter()
            .position(|a| a.contains(&name))
            .or_else(|| {
                t.aliases
                    .iter()
                    .position(|a| a.iter().any(|l| l.trim() == name.trim()))
            });
        let target = match (by_name, by_label) {
            (Some(a), Some(b)) if a != b => {
                h.reported.insert(*col);
                problems.push(format!(
                    "{}: header {name:?} is ambiguous: it names column `{}` and is the label of column `{}` (rename the header to the other column's name)",
                    cell_ref(sheet, row, *col),
                    columns[a].name,
                    columns[b].name
                ));
                continue;
            }
            (a, b) => a.or(b),
        };
        match target {
            Some(i) => match h.by_target[i] {
                Some(first) => problems.push(format!(
                    "{}: column `{}` appears twice (first at {})",
                    cell_ref(sheet, row, *col),
                    columns[i].name,
                    cell_ref(sheet, row, first)
                )),
                None => {
                    h.by_target[i] = Some(*col);
                    h.by_sheet.insert(*col, i);
                }
            },
            None => {
                h.reported.insert(*col);
                problems.push(format!(
                    "{}: unknown column {name:?}; table `{}` has: {}",
                    cell_ref(sheet, row, *col),
                    t.expect.name,
                    columns
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    for (i, c) in columns.iter().enumerate() {
        if h.by_target[i].is_none() {
            problems.push(format!(
                "{}!{}: missing column `{}` of table `{}` (every column needs a header; leave its cells empty for NULL)",
                sheet_ref(sheet),
                row + 1,
                c.name,
                t.expect.name
            ));
        }
    }
    h
}

//! A sheet streamed row by row with calamine's cell reader: the cells of
//! each row, typed for the checks; formulas left out and returned as
//! problems.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use calamine::{DataRef, XlsxFormulaMetadata};

use super::{Book, Problems, backup_error};
use crate::error::Result;
use crate::format::xlsx::cell::In;
use crate::format::xlsx::names::{cell_ref, sheet_ref};

/// The non-empty cells of one row: (0-based column, cell).
type RowCells<'a> = [(u32, In<'a>)];

fn to_in<'a>(d: DataRef<'a>, is_1904: bool) -> In<'a> {
    match d {
        DataRef::Empty => In::Empty,
        DataRef::String(s) => In::Str(Cow::Owned(s)),
        DataRef::SharedString(s) => In::Str(Cow::Borrowed(s)),
        DataRef::Float(f) => In::Num(f),
        DataRef::Int(i) => In::Num(i as f64),
        DataRef::Bool(b) => In::Bool(b),
        DataRef::DateTime(dt) => {
            let f = dt.as_f64();
            // 1904-system dates; times of day (below 1) are the same in both.
            In::Date(if is_1904 && dt.is_datetime() && f >= 1.0 {
                f + 1462.0
            } else {
                f
            })
        }
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => In::Str(Cow::Owned(s)),
        DataRef::Error(e) => In::Error(e.to_string()),
    }
}

/// Streams the rows of a sheet: `(0-based row, cells by 0-based column)`;
/// returns the formulas found (see [`for_each_row_with_blanks`]).
pub(super) fn for_each_row(
    path: &Path,
    book: &mut Book,
    sheet: &str,
    is_1904: bool,
    f: &mut dyn FnMut(u32, &RowCells<'_>) -> Result<()>,
) -> Result<Problems> {
    for_each_row_with_blanks(path, book, sheet, is_1904, &mut |row, cells| {
        if cells.is_empty() {
            Ok(())
        } else {
            f(row, cells)
        }
    })
}

/// As [`for_each_row`], also calling `f` for rows that have cell elements,
/// but only empty (formatted) ones.
///
/// A cell holding a formula is a problem, never data: its cached value is
/// whatever the last program to save the file computed (or nothing, when
/// openpyxl or a script wrote it), and a formula like `=cmd|' /C calc'!A0`
/// or `=HYPERLINK(…)` is an attack on whoever opens the file next. Such a
/// cell is left out of its row, and returned as a problem.
pub(super) fn for_each_row_with_blanks(
    path: &Path,
    book: &mut Book,
    sheet: &str,
    is_1904: bool,
    f: &mut dyn FnMut(u32, &RowCells<'_>) -> Result<()>,
) -> Result<Problems> {
    let mut cells = book
        .worksheet_cells_reader(sheet)
        .map_err(|e| backup_error(path, format!("sheet {}: {e}", sheet_ref(sheet))))?;
    let mut row: Vec<(u32, In<'_>)> = Vec::new();
    let mut row_no = 0;
    let mut any = false;
    let mut formulas = Problems::default();
    // Shared formulas' text by index, to show a derived cell's formula.
    let mut shared: HashMap<usize, String> = HashMap::new();
    loop {
        let next = cells
            .next_cell_with_formula_metadata()
            .map_err(|e| backup_error(path, format!("sheet {}: {e}", sheet_ref(sheet))))?;
        let Some(c) = next else { break };
        let (r, col) = c.pos;
        if r != row_no && any {
            f(row_no, &row)?;
            row.clear();
        }
        row_no = r;
        any = true;
        if let Some(formula) = c.formula {
            let text = match formula {
                XlsxFormulaMetadata::Normal { formula } => formula,
                XlsxFormulaMetadata::Shared {
                    shared_index,
                    formula,
                    ..
                } => {
                    shared.insert(shared_index, formula.clone());
                    formula
                }
                XlsxFormulaMetadata::SharedDerived { shared_index } => {
                    shared.get(&shared_index).cloned().unwrap_or_default()
                }
                _ => String::new(),
            };
            formulas.push(format!(
                "{}: a formula ({}); a formula is never data: replace it with its value (copy the cells, then Paste Special \u{2192} Values)",
                cell_ref(sheet, r, col),
                formula_shown(&text)
            ));
            continue;
        }
        let value = to_in(c.value, is_1904);
        if !value.is_empty() {
            row.push((col, value));
        }
    }
    if any {
        f(row_no, &row)?;
    }
    Ok(formulas)
}

/// A formula as the error shows it: `=…`, cut short.
fn formula_shown(text: &str) -> String {
    const SHOWN: usize = 60;
    let text = text.strip_prefix('=').unwrap_or(text);
    if text.chars().count() > SHOWN {
        format!("={}…", text.chars().take(SHOWN).collect::<String>())
    } else {
        format!("={text}")
    }
}

//! The workbook being written, and the thread that hands data rows to it.
//!
//! rust_xlsxwriter takes about half of an export's time storing cells and
//! printing them as XML; reading the database, choosing each cell's form
//! and checking it take most of the rest. So while a table's rows are
//! written, the workbook lives on a thread of its own that is sent the
//! rows' cells in batches (a bounded queue: memory stays flat), and any
//! other use of the workbook (a new sheet, column widths, saving) first
//! takes it back, every row sent written.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use rust_xlsxwriter::{Format, FormatAlign, Workbook, Worksheet, XlsxError};

use super::cell::NumFmt;

/// Rows sent to the thread at once.
const BATCH: usize = 512;
/// Batches queued for the thread before the sender waits.
const QUEUED: usize = 4;

/// A cell of a data row, owned so that it can cross to the thread.
#[derive(Debug)]
pub(super) enum Cell {
    Str(String),
    Num(f64),
    Bool(bool),
    /// A formatted empty cell (the one cell of a row of only NULLs).
    Blank,
}

/// The format a cell names.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Look {
    /// None: the cell takes its column's format.
    Column,
    /// Wrapped text at the top of the row.
    Text,
    /// The format of a row of only NULLs.
    Blank,
    /// A number format, at the top of the row.
    Num(NumFmt),
}

/// One data row: the workbook index of its sheet, its 0-based row and
/// its cells by 0-based column.
#[derive(Debug)]
pub(super) struct RowOut {
    pub(super) sheet: usize,
    pub(super) row: u32,
    pub(super) cells: Vec<(u16, Cell, Look)>,
}

/// Why rows could not be written: rust_xlsxwriter refused one, or
/// panicked (as it does when its temporary file cannot be written).
pub(super) enum Failure {
    Xlsx(XlsxError),
    Panicked(String),
}

/// The formats cells name, by [`Look`].
#[derive(Clone)]
pub(super) struct Looks {
    pub(super) text: Format,
    pub(super) blank: Format,
    pub(super) numbers: HashMap<NumFmt, Format>,
}

impl Looks {
    /// The format of `look`; None for the column's.
    pub(super) fn get(&mut self, look: Look) -> Option<&Format> {
        match look {
            Look::Column => None,
            Look::Text | Look::Num(NumFmt::General) => Some(&self.text),
            Look::Blank => Some(&self.blank),
            Look::Num(fmt) => Some(self.numbers.entry(fmt).or_insert_with(|| number_look(fmt))),
        }
    }
}

/// The format of numbers shown as `fmt`, at the top of the row.
pub(super) fn number_look(fmt: NumFmt) -> Format {
    Format::new()
        .set_num_format(fmt.pattern())
        .set_align(FormatAlign::Top)
}

/// The workbook: here, or away on the thread writing rows.
pub(super) struct Book {
    state: State,
    looks: Looks,
}

enum State {
    /// Boxed: a workbook is a large value to move between the two.
    Here(Box<Workbook>),
    Away(Away),
    /// Between the two, or after the thread failed.
    Gone,
}

struct Away {
    batch: Vec<RowOut>,
    queue: SyncSender<Vec<RowOut>>,
    thread: JoinHandle<(Box<Workbook>, Result<(), Failure>)>,
}

impl Book {
    pub(super) fn new(workbook: Workbook, looks: Looks) -> Book {
        Book {
            state: State::Here(Box::new(workbook)),
            looks,
        }
    }

    /// The workbook, every row sent to it written.
    pub(super) fn get(&mut self) -> Result<&mut Workbook, Failure> {
        if let State::Away(_) = self.state {
            let State::Away(away) = std::mem::replace(&mut self.state, State::Gone) else {
                unreachable!("matched above")
            };
            self.state = State::Here(away.finish()?);
        }
        match &mut self.state {
            State::Here(workbook) => Ok(workbook),
            _ => Err(Failure::Panicked(
                "the workbook was lost to an earlier failure".into(),
            )),
        }
    }

    /// Queues a row for the thread, starting it if the workbook is here.
    pub(super) fn push(&mut self, row: RowOut) -> Result<(), Failure> {
        if let State::Here(_) = self.state {
            let State::Here(workbook) = std::mem::replace(&mut self.state, State::Gone) else {
                unreachable!("matched above")
            };
            self.state = State::Away(Away::start(workbook, self.looks.clone()));
        }
        let State::Away(away) = &mut self.state else {
            return Err(Failure::Panicked(
                "the workbook was lost to an earlier failure".into(),
            ));
        };
        away.batch.push(row);
        if away.batch.len() < BATCH {
            return Ok(());
        }
        let batch = std::mem::replace(&mut away.batch, Vec::with_capacity(BATCH));
        if away.queue.send(batch).is_err() {
            // The thread stopped at a failure: take it back for its reason.
            self.get()?;
        }
        Ok(())
    }
}

impl Away {
    fn start(workbook: Box<Workbook>, looks: Looks) -> Away {
        let (queue, rows) = sync_channel(QUEUED);
        let thread = std::thread::Builder::new()
            .name("xlsx-rows".into())
            .spawn(move || write_rows(workbook, looks, rows))
            .expect("a thread can be started");
        Away {
            batch: Vec::with_capacity(BATCH),
            queue,
            thread,
        }
    }

    /// Sends the last batch, waits for every row to be written.
    fn finish(self) -> Result<Box<Workbook>, Failure> {
        let Away {
            batch,
            queue,
            thread,
        } = self;
        if !batch.is_empty() {
            // A failed thread is heard from at the join.
            let _ = queue.send(batch);
        }
        drop(queue);
        let (workbook, result) = thread
            .join()
            .map_err(|_| Failure::Panicked("the thread writing rows died".into()))?;
        result.map(|()| workbook)
    }
}

/// The thread: rows written as they come until the queue closes or one
/// fails. Its panics are caught here and reported as failures (kept off
/// stderr, as on the writer's own thread).
fn write_rows(
    mut workbook: Box<Workbook>,
    mut looks: Looks,
    rows: Receiver<Vec<RowOut>>,
) -> (Box<Workbook>, Result<(), Failure>) {
    super::writer::quiet_panics();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        for batch in rows {
            for row in batch {
                let sheet = workbook.worksheet_from_index(row.sheet)?;
                write_row(sheet, &mut looks, row)?;
            }
        }
        Ok(())
    }));
    let result = match result {
        Ok(written) => written.map_err(Failure::Xlsx),
        Err(payload) => Err(Failure::Panicked(super::writer::panic_text(&payload))),
    };
    (workbook, result)
}

fn write_row(sheet: &mut Worksheet, looks: &mut Looks, row: RowOut) -> Result<(), XlsxError> {
    let r = row.row;
    for (col, cell, look) in row.cells {
        match (cell, looks.get(look)) {
            (Cell::Str(s), None) => sheet.write_string(r, col, s)?,
            (Cell::Str(s), Some(f)) => sheet.write_string_with_format(r, col, s, f)?,
            (Cell::Num(n), None) => sheet.write_number(r, col, n)?,
            (Cell::Num(n), Some(f)) => sheet.write_number_with_format(r, col, n, f)?,
            (Cell::Bool(b), None) => sheet.write_boolean(r, col, b)?,
            (Cell::Bool(b), Some(f)) => sheet.write_boolean_with_format(r, col, b, f)?,
            (Cell::Blank, Some(f)) => sheet.write_blank(r, col, f)?,
            (Cell::Blank, None) => sheet,
        };
    }
    Ok(())
}

//! Rows counted as they move, told to the caller's listener in steps
//! (`events::Event::{Started, Table, Advanced, Finished}`); each step is
//! also a safe point where a cancelled operation stops.

use crate::error::Result;
use crate::events::{self, Event};

/// Rows between two events: a listener (a terminal bar reads the clock)
/// per row cost 3% of an export.
const STEP: u64 = 4096;

/// A row counter that tells the listener in steps.
pub struct Rows {
    pending: u64,
}

impl Rows {
    /// One more row; every `STEP` rows the listener hears and a cancelled
    /// operation stops here.
    pub fn inc(&mut self) -> Result<()> {
        self.pending += 1;
        if self.pending >= STEP {
            self.flush();
            return events::checkpoint();
        }
        Ok(())
    }

    /// `rows` more, counted elsewhere (by workers); the listener hears
    /// and a cancelled operation stops here.
    pub fn add(&mut self, rows: u64) -> Result<()> {
        self.pending += rows;
        self.flush();
        events::checkpoint()
    }

    /// Names the table under way, with its rows when they are known.
    pub fn set_message(&mut self, table: String, rows: Option<u64>) {
        self.flush();
        events::emit(Event::Table { name: table, rows });
    }

    pub fn finish_and_clear(&mut self) {
        self.flush();
        events::emit(Event::Finished);
    }

    fn flush(&mut self) {
        let rows = std::mem::take(&mut self.pending);
        if rows > 0 {
            events::emit(Event::Advanced { rows });
        }
    }
}

pub fn rows(total: u64, verb: &'static str) -> Rows {
    events::emit(Event::Started { verb, total });
    Rows { pending: 0 }
}

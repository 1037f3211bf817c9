//! A progress bar on stderr for long work; indicatif hides it by itself
//! when stderr is not a terminal.

use indicatif::{ProgressBar, ProgressStyle};

/// Rows between updates of the bar: indicatif reads the clock on every
/// `inc`, which cost 3% of an export when done per row.
const STEP: u64 = 4096;

/// A row counter that tells its bar in steps.
pub struct Rows {
    bar: ProgressBar,
    pending: u64,
}

impl Rows {
    pub fn inc(&mut self) {
        self.pending += 1;
        if self.pending >= STEP {
            self.flush();
        }
    }

    /// Names what is under way (the table).
    pub fn set_message(&mut self, msg: String) {
        self.flush();
        self.bar.set_message(msg);
    }

    pub fn finish_and_clear(&mut self) {
        self.flush();
        self.bar.finish_and_clear();
    }

    fn flush(&mut self) {
        self.bar.inc(std::mem::take(&mut self.pending));
    }
}

pub fn rows(total: u64, verb: &str) -> Rows {
    let bar = ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(&format!(
        "{verb} {{msg:<20}} [{{bar:30}}] {{human_pos}}/{{human_len}} rows {{per_sec}} eta {{eta}}"
    ))
    .expect("static template is valid")
    .progress_chars("=> ");
    bar.set_style(style);
    Rows { bar, pending: 0 }
}

//! The CLI's listener: an operation's events drawn on stderr (an indicatif
//! bar for rows, which indicatif hides when stderr is not a terminal; notes
//! and warnings as lines, passwords masked) and its questions asked on the
//! terminal.

use std::io::{BufRead, IsTerminal};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};

use crate::events::{Answer, Event, Listener, Question};
use crate::redact::redact;

#[derive(Default)]
pub struct Terminal {
    bar: Mutex<Option<ProgressBar>>,
}

impl Listener for Terminal {
    fn event(&self, event: &Event) {
        let Ok(mut bar) = self.bar.lock() else {
            return;
        };
        match event {
            Event::Started { verb, total } => *bar = Some(rows_bar(verb, *total)),
            Event::Table { name } => bar.iter().for_each(|b| b.set_message(name.clone())),
            Event::Advanced { rows } => bar.iter().for_each(|b| b.inc(*rows)),
            Event::Finished => bar.take().iter().for_each(ProgressBar::finish_and_clear),
            Event::BackupBeforeChange(path) => line(
                bar.as_ref(),
                &format!("backup before change: {}", path.display()),
            ),
            Event::Step(m) => line(bar.as_ref(), m),
            Event::Note(m) => line(bar.as_ref(), &format!("note: {m}")),
            Event::Warning(m) => line(bar.as_ref(), &format!("warning: {m}")),
        }
    }

    fn ask(&self, question: &Question) -> Answer {
        // Both ends must be a terminal: the question goes to stderr and the
        // answer comes from stdin.
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return Answer::CannotAsk;
        }
        eprint!("{}Proceed? [y/N] ", redact(&question.summary));
        let mut answer = String::new();
        match std::io::stdin().lock().read_line(&mut answer) {
            Ok(_) if accepts(&answer) => Answer::Yes,
            _ => Answer::No,
        }
    }
}

/// One line on stderr, above the bar when one is drawn.
fn line(bar: Option<&ProgressBar>, text: &str) {
    let text = redact(text);
    match bar {
        Some(b) => b.suspend(|| eprintln!("{text}")),
        None => eprintln!("{text}"),
    }
}

fn rows_bar(verb: &str, total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(&format!(
        "{verb} {{msg:<20}} [{{bar:30}}] {{human_pos}}/{{human_len}} rows {{per_sec}} eta {{eta}}"
    ))
    .expect("static template is valid")
    .progress_chars("=> ");
    bar.set_style(style);
    bar
}

/// Only an explicit yes proceeds; an empty answer (Enter) is the `N` default.
fn accepts(answer: &str) -> bool {
    matches!(answer.trim().to_lowercase().as_str(), "y" | "yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_y_or_yes_accepts() {
        for a in ["y\n", "Y", " yes ", "YES\r\n"] {
            assert!(accepts(a), "{a:?}");
        }
        for a in ["", "\n", "n", "no", "yep", "sure"] {
            assert!(!accepts(a), "{a:?}");
        }
    }
}

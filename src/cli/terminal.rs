//! The CLI's listener: an operation's events drawn on stderr (an indicatif
//! bar for rows, which indicatif hides when stderr is not a terminal; notes
//! and warnings as lines, passwords masked) and its questions asked on the
//! terminal.

use std::io::{BufRead, IsTerminal};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressState, ProgressStyle};

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
            Event::Started { verb, total } => {
                if let Some(old) = bar.take() {
                    old.finish_and_clear();
                }
                *bar = Some(
                    if *total == 0 && matches!(*verb, "finishing" | "checking") {
                        spinner(verb)
                    } else {
                        rows_bar(verb, *total)
                    },
                );
            }
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
    let text = relative(&text);
    match bar {
        Some(b) => b.suspend(|| eprintln!("{text}")),
        None => eprintln!("{text}"),
    }
}

/// A phase whose end is not known in rows: a workbook being assembled, or
/// one made by hand being checked (rows counted as they come).
fn spinner(verb: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    let rows = if verb == "checking" {
        " {human_pos} rows"
    } else {
        ""
    };
    let style = ProgressStyle::with_template(&format!(
        "{{spinner}} {} {{msg}}{rows} {{elapsed}}",
        label(verb)
    ))
    .expect("static template is valid");
    bar.set_style(style);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

fn rows_bar(verb: &str, total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(&format!(
        "{} {{msg:<20}} [{{bar:30}}] {{human_pos}}/{{human_len}} rows {{rate}} eta {{eta}}",
        label(verb)
    ))
    .expect("static template is valid")
    .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = w.write_str(&rate(s.per_sec()));
    })
    .progress_chars("=> ");
    bar.set_style(style);
    bar
}

/// What a phase is called on the terminal (`Event::Started`'s verb).
fn label(verb: &str) -> &str {
    match verb {
        "backup" => "backup before change",
        "checking" => "checking workbook",
        "finishing" => "writing workbook",
        other => other,
    }
}

/// Rows per second as a person reads them: whole, grouped by thousands
/// (`233,517 rows/s`, not `233516.7922/s`).
fn rate(per_sec: f64) -> String {
    let whole = if per_sec.is_finite() && per_sec > 0.0 {
        per_sec.round() as u64
    } else {
        0
    };
    format!("{} rows/s", indicatif::HumanCount(whole))
}

/// Paths under the working folder shown relative to it, as the person
/// would type them (`backups/x.json`, not `/home/ana/app/backups/x.json`);
/// others as they are.
pub fn relative(text: &str) -> std::borrow::Cow<'_, str> {
    let Ok(cwd) = std::env::current_dir() else {
        return text.into();
    };
    relative_to(text, &cwd)
}

fn relative_to<'a>(text: &'a str, cwd: &std::path::Path) -> std::borrow::Cow<'a, str> {
    let prefix = format!("{}/", cwd.display());
    match prefix.len() > 2 && text.contains(&prefix) {
        true => text.replace(&prefix, "").into(),
        false => text.into(),
    }
}

/// Only an explicit yes proceeds; an empty answer (Enter) is the `N` default.
fn accepts(answer: &str) -> bool {
    matches!(answer.trim().to_lowercase().as_str(), "y" | "yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_whole_rows_per_second_grouped_by_thousands() {
        assert_eq!(rate(233_516.792_2), "233,517 rows/s");
        assert_eq!(rate(0.4), "0 rows/s");
        assert_eq!(rate(f64::NAN), "0 rows/s");
        assert_eq!(rate(f64::INFINITY), "0 rows/s");
        assert_eq!(rate(1_234_567.0), "1,234,567 rows/s");
    }

    #[test]
    fn paths_under_the_working_folder_are_shown_relative() {
        let cwd = std::path::Path::new("/home/ana/app");
        assert_eq!(
            relative_to("wrote /home/ana/app/backups/x.json (full)", cwd),
            "wrote backups/x.json (full)"
        );
        assert_eq!(
            relative_to("on sqlite:///home/ana/app/demo/tiku.db", cwd),
            "on sqlite://demo/tiku.db"
        );
        assert_eq!(
            relative_to("/home/ana/application/x", cwd),
            "/home/ana/application/x"
        );
        assert_eq!(relative_to("/x/y", std::path::Path::new("/")), "/x/y");
    }

    #[test]
    fn the_backup_before_change_is_labelled_as_such() {
        assert_eq!(label("backup"), "backup before change");
        assert_eq!(label("importing"), "importing");
    }

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

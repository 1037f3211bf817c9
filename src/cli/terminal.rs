//! The CLI's listener: an operation's events drawn on stderr (an indicatif
//! bar for rows, which indicatif hides when stderr is not a terminal; notes
//! and warnings as lines, passwords masked) and its questions asked on the
//! terminal.

use std::io::{BufRead, IsTerminal};
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressState, ProgressStyle};

use crate::events::{Answer, Event, Listener, Question};
use crate::redact::redact;

#[derive(Default)]
pub struct Terminal {
    bar: Mutex<Option<ProgressBar>>,
    /// The table under way, for its own share of the bar.
    table: Mutex<Option<TableShown>>,
}

/// A table whose rows are known beforehand, shown with how far it is and
/// how long it has left (`practice_details (40%, 7s left)`) beside the
/// whole phase's bar and estimate.
struct TableShown {
    name: String,
    rows: Option<u64>,
    /// The bar's position when the table started.
    from: u64,
    started: Instant,
}

impl TableShown {
    fn message(&self, position: u64) -> String {
        self.message_after(position, self.started.elapsed())
    }

    fn message_after(&self, position: u64, elapsed: std::time::Duration) -> String {
        let Some(rows) = self.rows.filter(|&r| r > 0) else {
            return self.name.clone();
        };
        let done = position.saturating_sub(self.from).min(rows);
        let percent = done * 100 / rows;
        match crate::events::remaining(done, rows, elapsed) {
            Some(secs) => format!("{} ({percent}%, {} left)", self.name, duration(secs)),
            None => format!("{} ({percent}%)", self.name),
        }
    }
}

impl Listener for Terminal {
    fn event(&self, event: &Event) {
        let Ok(mut bar) = self.bar.lock() else {
            return;
        };
        match event {
            Event::Started { verb, total } => {
                if let Ok(mut table) = self.table.lock() {
                    *table = None;
                }
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
            Event::Table { name, rows } => {
                let Some(b) = bar.as_ref() else { return };
                let shown = TableShown {
                    name: name.clone(),
                    rows: *rows,
                    from: b.position(),
                    started: Instant::now(),
                };
                b.set_message(shown.message(b.position()));
                if let Ok(mut table) = self.table.lock() {
                    *table = Some(shown);
                }
            }
            Event::Advanced { rows } => {
                let Some(b) = bar.as_ref() else { return };
                b.inc(*rows);
                if let Ok(Some(table)) = self.table.lock().as_deref() {
                    b.set_message(table.message(b.position()));
                }
            }
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

/// Seconds as a person reads a wait: `45s`, `3m05s`, `2h07m`.
fn duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
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
    fn a_table_shows_its_share_done_and_its_own_time_left() {
        let table = |rows| TableShown {
            name: "practice_details".into(),
            rows,
            from: 1_000,
            started: Instant::now(),
        };
        let secs = std::time::Duration::from_secs;
        // 200 of 1,000 rows in 10 s: 800 more take 40 s, whatever the
        // phase as a whole has done before the table started.
        assert_eq!(
            table(Some(1_000)).message_after(1_200, secs(10)),
            "practice_details (20%, 40s left)"
        );
        // No pace yet, or no count known: no time is guessed.
        assert_eq!(
            table(Some(1_000)).message_after(1_200, secs(0)),
            "practice_details (20%)"
        );
        assert_eq!(
            table(None).message_after(1_200, secs(10)),
            "practice_details"
        );
        assert_eq!(
            table(Some(0)).message_after(1_200, secs(10)),
            "practice_details"
        );
        // More rows than announced (rows written meanwhile): never past 100%.
        assert_eq!(
            table(Some(100)).message_after(1_200, secs(10)),
            "practice_details (100%)"
        );
    }

    #[test]
    fn waits_read_in_seconds_minutes_or_hours() {
        assert_eq!(duration(45), "45s");
        assert_eq!(duration(185), "3m05s");
        assert_eq!(duration(7_620), "2h07m");
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

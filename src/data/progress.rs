//! A progress bar on stderr for long work; indicatif hides it by itself
//! when stderr is not a terminal.

use indicatif::{ProgressBar, ProgressStyle};

pub fn rows(total: u64, verb: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(&format!(
        "{verb} {{msg:<20}} [{{bar:30}}] {{human_pos}}/{{human_len}} rows {{per_sec}} eta {{eta}}"
    ))
    .expect("static template is valid")
    .progress_chars("=> ");
    bar.set_style(style);
    bar
}

//! The command line, a thin front door: arguments parsed (`args.rs`),
//! turned into a request (`requests.rs`), the operation called
//! ([`crate::ops`]), its outcome rendered (`render.rs`), its events shown
//! (`terminal.rs`); errors printed and exit codes returned.

use std::io::Write;

use clap::Parser;

use crate::error::{Error, Result, exit};
use crate::ops;
mod args;
mod generate;
mod github;
mod history;
mod render;
mod requests;
mod terminal;

pub use args::*;

/// Parses arguments, runs the command, renders any error; returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            if let Some(tip) = renamed_flag_tip(&e) {
                eprintln!("\ntip: {tip}");
            }
            return if e.use_stderr() {
                exit::USAGE
            } else {
                exit::SUCCESS
            };
        }
    };
    let listener = std::sync::Arc::new(terminal::Terminal::default());
    let cancel = crate::events::Cancel::new();
    interrupt_cancels(&cancel);
    let stop = cancel.clone();
    let out = out_of(&cli.command);
    match crate::events::scope(listener, cancel, || dispatch(cli.command, out, stop)) {
        Ok(code) => code,
        Err(e) => {
            if out.json() {
                let _ = write_out(&mut std::io::stdout().lock(), &out.error(&e));
            }
            // The last line of defence: whatever a message quotes, no
            // password leaves the process.
            let msg = e.to_string();
            let msg = crate::redact::redact(msg.trim_start_matches("error: "));
            let msg = terminal::relative(&msg);
            // An interruption the person asked for is said as what
            // happened, not as an error.
            match e.exit_code() == exit::INTERRUPTED {
                true => eprintln!("{msg}"),
                false => eprintln!("error: {msg}"),
            }
            e.exit_code()
        }
    }
}

/// A flag whose meaning changed, used the old way: `export --format xlsx`
/// chose the backup's format before `--format` chose the output's.
fn renamed_flag_tip(e: &clap::Error) -> Option<&'static str> {
    let args: Vec<String> = std::env::args().collect();
    let export = args.iter().any(|a| a == "export");
    let xlsx = args
        .windows(2)
        .any(|w| w[0] == "--format" && w[1] == "xlsx")
        || args.iter().any(|a| a == "--format=xlsx");
    (e.kind() == clap::error::ErrorKind::InvalidValue && export && xlsx)
        .then_some("the backup's format is `--backup-format xlsx` (or an output named `*.xlsx`); `--format` chooses how the outcome is printed")
}

/// Ctrl-C asks the running operation to stop at its next safe point,
/// where it rolls back like a failure; a second Ctrl-C quits at once (the
/// database still rolls back the open transaction when the connection
/// drops, as after a kill).
fn interrupt_cancels(cancel: &crate::events::Cancel) {
    let cancel = cancel.clone();
    let _ = ctrlc::set_handler(move || {
        if cancel.is_cancelled() {
            std::process::exit(exit::INTERRUPTED);
        }
        cancel.cancel();
        eprintln!("\ninterrupted: stopping at the next safe point (Ctrl-C again to quit now)");
    });
}

/// Which command runs and how it reports, known before it runs so that a
/// failure is reported the same way.
fn out_of(cmd: &Command) -> render::Out {
    let (command, format) = match cmd {
        Command::Run(a) => ("run", a.report.format),
        Command::Validate(a) => ("validate", json_if(a.format == ValidateFormat::Json)),
        Command::Plan(a) => ("plan", json_if(a.format == PlanFormat::Json)),
        Command::Schema(SchemaCommand::Status(a)) => ("schema status", a.report.format),
        Command::Schema(SchemaCommand::Up(a)) => ("schema up", a.schema.report.format),
        Command::Schema(SchemaCommand::Down(a)) => ("schema down", a.report.format),
        Command::Schema(SchemaCommand::New(a)) => ("schema new", a.report.format),
        Command::Schema(SchemaCommand::Baseline(a)) => ("schema baseline", a.report.format),
        Command::Schema(SchemaCommand::Repair(a)) => ("schema repair", a.report.format),
        Command::Export(a) => ("export", a.report.format),
        Command::Import(a) => ("import", a.report.format),
        Command::History(a) => ("history", a.report.format),
        Command::Status(a) => ("status", a.report.format),
        Command::Rollback(a) => ("rollback", a.report.format),
        Command::Verify(a) => ("verify", a.report.format),
        Command::Serve(a) => ("serve", a.report.format),
        Command::Completions(_) => ("completions", ReportFormat::Text),
        Command::Man(_) => ("man", ReportFormat::Text),
    };
    render::Out { command, format }
}

fn json_if(json: bool) -> ReportFormat {
    match json {
        true => ReportFormat::Json,
        false => ReportFormat::Text,
    }
}

/// Parse → request → operation → rendered outcome: the CLI does nothing
/// else.
fn dispatch(cmd: Command, out: render::Out, stop: crate::events::Cancel) -> Result<i32> {
    ops::use_identities(cmd.identities())?;
    let text = match cmd {
        Command::Run(a) => render::outcome(ops::run(&(&a).into())?, out),
        Command::Validate(a) => {
            let v = ops::validate(&(&a).into())?;
            if a.format == ValidateFormat::Github {
                github::write_summary(&v.results)?;
            }
            return finish(
                &render::render_validation(&v.results, a.format),
                v.valid(),
                out,
            );
        }
        Command::Plan(a) => render::plan(&ops::show_plan(&(&a).into())?, out),
        Command::Schema(SchemaCommand::Status(a)) => {
            render::schema_outcome(&ops::schema_status(&(&a).into())?, out)
        }
        Command::Schema(SchemaCommand::Up(a)) => {
            render::schema_outcome(&ops::schema_up(&(&a).into())?, out)
        }
        Command::Schema(SchemaCommand::Down(a)) => {
            render::schema_outcome(&ops::schema_down(&(&a).into())?, out)
        }
        Command::Schema(SchemaCommand::New(a)) => {
            render::schema_outcome(&ops::schema_new(&(&a).into())?, out)
        }
        Command::Schema(SchemaCommand::Baseline(a)) => {
            render::schema_outcome(&ops::schema_baseline(&(&a).into())?, out)
        }
        Command::Schema(SchemaCommand::Repair(a)) => {
            render::schema_outcome(&ops::schema_repair(&(&a).into())?, out)
        }
        Command::Export(a) => render::outcome(ops::export_shortcut(&(&a).into())?, out),
        Command::Import(a) => render::outcome(ops::import_shortcut(&(&a).into())?, out),
        Command::History(a) => render::history(&ops::history(&(&a).try_into()?)?, out),
        Command::Status(a) => render::status(&ops::status(&(&a).into())?, out),
        Command::Rollback(a) => render::rollback(ops::rollback(&(&a).try_into()?)?, out),
        Command::Verify(a) => {
            let report = ops::verify(&(&a).into())?;
            let same = !report.differs();
            let text = out.report_ok(&report, same, |r| r.render_text());
            return finish(&text, same, out);
        }
        Command::Serve(a) => return serve(a, out, stop),
        Command::Completions(a) => generate::completions(a.shell),
        Command::Man(a) => return generate::man(&a.dir).map(|()| exit::SUCCESS),
    };
    finish(&text, true, out)
}

/// `migplan serve`: prints the URL to open (with its token, once), then
/// serves until interrupted.
fn serve(
    a: crate::cli::args::ServeArgs,
    out: render::Out,
    stop: crate::events::Cancel,
) -> Result<i32> {
    let opts = crate::console::ServeOptions {
        plan: a.plan,
        db: a.db,
        bind: a.bind,
        backups: a.backups,
        token: a.token.unwrap_or_else(crate::console::generate_token),
        read_only: a.read_only,
        upload_limit: a.upload_limit,
        allow_hosts: a.allow_hosts,
        upload_dir: None,
    };
    crate::console::serve(opts, stop, |started| {
        let url = serde_json::json!({ "url": started.url });
        let text = out.report(&url, |_| format!("migplan console: {}\n", started.url));
        // The URL carries the token: printed once, as asked, never masked.
        print!("{text}");
        let _ = std::io::stdout().flush();
        eprintln!("(Ctrl-C stops it: running jobs roll back first)");
    })?;
    Ok(exit::SUCCESS)
}

/// Writes the outcome; a report of differences or problems exits 1.
fn finish(text: &str, good: bool, out: render::Out) -> Result<i32> {
    // Programs get the paths as they are; people get them as they typed
    // them, relative to where they stand.
    let text = match out.json() {
        true => std::borrow::Cow::Borrowed(text),
        false => terminal::relative(text),
    };
    write_out(&mut std::io::stdout().lock(), &text)?;
    Ok(if good { exit::SUCCESS } else { exit::FAILED })
}

/// Writes to stdout, passwords masked; a closed pipe (`migplan plan … |
/// head`) is not an error.
pub fn write_out(out: &mut impl Write, text: &str) -> Result<()> {
    let text = crate::redact::redact(text);
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::io("<stdout>", e)),
        _ => Ok(()),
    }
}

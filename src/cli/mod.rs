//! The command line, a thin front door: arguments parsed (`args.rs`),
//! turned into a request (`requests.rs`), the operation called
//! ([`crate::ops`]), its outcome rendered (`render.rs`), its events shown
//! (`terminal.rs`); errors printed and exit codes returned.

use std::io::Write;

use clap::Parser;

use crate::error::{Error, Result, exit};
use crate::ops;
mod args;
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
    match crate::events::scope(listener, cancel, || dispatch(cli.command, stop)) {
        Ok(code) => code,
        Err(e) => {
            // The last line of defence: whatever a message quotes, no
            // password leaves the process.
            let msg = e.to_string();
            eprintln!(
                "error: {}",
                crate::redact::redact(msg.trim_start_matches("error: "))
            );
            e.exit_code()
        }
    }
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

/// Parse → request → operation → rendered outcome: the CLI does nothing
/// else.
fn dispatch(cmd: Command, stop: crate::events::Cancel) -> Result<i32> {
    ops::use_identities(cmd.identities())?;
    let text = match cmd {
        Command::Run(a) => render::outcome(ops::run(&(&a).into())?, a.report),
        Command::Validate(a) => {
            let v = ops::validate(&(&a).into())?;
            return finish(&render::render_validation(&v.results, a.format), v.valid());
        }
        Command::Plan(a) => {
            render::plan(&ops::show_plan(&(&a).into())?, a.format == PlanFormat::Json)
        }
        Command::Schema(SchemaCommand::Status(a)) => {
            render::schema(&ops::schema_status(&(&a).into())?)
        }
        Command::Schema(SchemaCommand::Up(a)) => render::schema(&ops::schema_up(&(&a).into())?),
        Command::Schema(SchemaCommand::Down(a)) => render::schema(&ops::schema_down(&(&a).into())?),
        Command::Schema(SchemaCommand::New(a)) => render::schema(&ops::schema_new(&(&a).into())?),
        Command::Schema(SchemaCommand::Baseline(a)) => {
            render::schema(&ops::schema_baseline(&(&a).into())?)
        }
        Command::Schema(SchemaCommand::Repair(a)) => {
            render::schema(&ops::schema_repair(&(&a).into())?)
        }
        Command::Export(a) => {
            render::outcome(ops::export_shortcut(&(&a).into())?, ReportFormat::Text)
        }
        Command::Import(a) => render::outcome(ops::import_shortcut(&(&a).into())?, a.report),
        Command::History(a) => render::history(&ops::history(&(&a).try_into()?)?, a.format),
        Command::Status(a) => render::status(&ops::status(&(&a).into())?, a.format),
        Command::Rollback(a) => render::rollback(ops::rollback(&(&a).try_into()?)?, a.report),
        Command::Verify(a) => {
            let report = ops::verify(&(&a).into())?;
            let text = render::render(&report, a.format, |r| r.render_text());
            return finish(&text, !report.differs());
        }
        Command::Serve(a) => return serve(a, stop),
    };
    finish(&text, true)
}

/// `migplan serve`: prints the URL to open (with its token, once), then
/// serves until interrupted.
fn serve(a: crate::cli::args::ServeArgs, stop: crate::events::Cancel) -> Result<i32> {
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
        println!("migplan console: {}", started.url);
        eprintln!("(Ctrl-C stops it: running jobs roll back first)");
    })?;
    Ok(exit::SUCCESS)
}

/// Writes the outcome; a report of differences or problems exits 1.
fn finish(text: &str, good: bool) -> Result<i32> {
    write_out(&mut std::io::stdout().lock(), text)?;
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

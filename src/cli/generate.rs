//! What the command line says about itself, generated from the same clap
//! definitions it parses with: shell completions and man pages.

use std::path::Path;

use clap::CommandFactory;

use crate::error::{Error, Result};

use super::Cli;

/// The completion script for `shell`, as text for stdout.
pub fn completions(shell: clap_complete::Shell) -> String {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "migplan", &mut out);
    String::from_utf8(out).expect("completion scripts are UTF-8")
}

/// Writes `migplan.1` and one page per command and subcommand
/// (`migplan-run.1`, `migplan-schema-up.1`) into `dir`.
pub fn man(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for (name, page) in pages() {
        let path = dir.join(name);
        std::fs::write(&path, page).map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}

/// Every man page, by file name.
pub fn pages() -> Vec<(String, Vec<u8>)> {
    let mut cmd = Cli::command();
    cmd.build();
    let mut pages = vec![];
    collect(&cmd, "migplan", &mut pages);
    pages
}

fn collect(cmd: &clap::Command, name: &str, pages: &mut Vec<(String, Vec<u8>)>) {
    let page = cmd.clone().name(name.to_string());
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut out)
        .expect("rendering into memory cannot fail");
    pages.push((format!("{name}.1"), out));
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        collect(sub, &format!("{name}-{}", sub.get_name()), pages);
    }
}

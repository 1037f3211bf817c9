//! `schema new`: a script and its undo twin created in every folder, under
//! the next free number.

use std::path::PathBuf;

use super::source::{files_under, is_word, parse_file_name};
use crate::error::{Error, Result, ScriptError};

/// `schema new`: the next number over every folder (1 + the highest
/// version found in any), checked free in all of them first.
pub fn new_script(dirs: &[PathBuf], name: &str) -> Result<Vec<PathBuf>> {
    if !is_word(name) {
        let name = name.to_string();
        return Err(ScriptError::BadName { name }.into());
    }
    let mut highest = 0;
    for dir in dirs {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut files = vec![];
        files_under(dir, &mut files)?;
        for f in files {
            if let Some((v, _, _)) = f
                .file_name()
                .and_then(|f| f.to_str())
                .and_then(parse_file_name)
            {
                highest = highest.max(v);
            }
        }
    }
    let n = highest + 1;
    let label = format!("V{n}__{name}");
    let mut created = vec![];
    let pairs: Vec<(PathBuf, String)> = dirs
        .iter()
        .flat_map(|d| {
            [
                (
                    d.join(format!("{label}.sql")),
                    format!(
                        "-- {label}: describe the change here.\n-- Applied once, in version order, by `migplan schema up` and `migplan run`;\n-- recorded in refinery_schema_history. Once applied, do not edit it\n-- (comments and whitespace aside: `migplan schema repair`): add a new script.\n\n"
                    ),
                ),
                (
                    d.join(format!("{label}.undo.sql")),
                    format!(
                        "-- Undoes {label}.sql (run by `migplan schema down --to {}`):\n-- reverse each of its changes, last change first.\n\n",
                        n - 1
                    ),
                ),
            ]
        })
        .collect();
    if let Some((p, _)) = pairs.iter().find(|(p, _)| p.exists()) {
        let path = p.clone();
        return Err(ScriptError::AlreadyExists { path }.into());
    }
    for (path, text) in pairs {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        std::io::Write::write_all(&mut f, text.as_bytes()).map_err(|e| Error::io(&path, e))?;
        created.push(path);
    }
    Ok(created)
}

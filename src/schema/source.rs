//! The scripts as files: a migrations folder read through refinery's
//! loader (names and checksums as refinery has them), the undo scripts
//! beside them, and a script's text read into statements by the engine's
//! rules, refused when it would touch the bookkeeping or another database.

use std::path::{Path, PathBuf};

use super::{Script, Scripts, Undo, sql};
use crate::backend::Dialect;
use crate::error::{Error, Result, ScriptError, UndoOrphan};

/// A file name `V{n}__{name}.sql` or `V{n}__{name}.undo.sql` (refinery's
/// `\w+` for the name); `None` for anything else.
pub(super) fn parse_file_name(file: &str) -> Option<(i64, String, bool)> {
    let (stem, undo) = match file.strip_suffix(".undo.sql") {
        Some(s) => (s, true),
        None => (file.strip_suffix(".sql")?, false),
    };
    let rest = stem.strip_prefix('V').or_else(|| stem.strip_prefix('U'))?;
    let (num, name) = rest.split_once("__")?;
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit()) || !is_word(name) {
        return None;
    }
    Some((num.parse().ok()?, name.to_string(), undo))
}

/// refinery's `\w+`: letters, digits and `_`.
pub fn is_word(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// Every file under `dir`, recursively (refinery walks subfolders too).
pub(super) fn files_under(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_dir() {
            files_under(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

impl Scripts {
    /// Loads every `V{n}__{name}.sql` of `dir` (through refinery's loader,
    /// so both agree on names and checksums) and the undo scripts beside
    /// them. An undo script without its versioned twin is an error.
    pub fn load(dir: &Path) -> Result<Scripts> {
        if !dir.is_dir() {
            let dir = dir.to_path_buf();
            return Err(ScriptError::NoFolder { dir }.into());
        }
        let migrations =
            refinery::load_sql_migrations(dir).map_err(|e| ScriptError::Unloadable {
                dir: dir.to_path_buf(),
                cause: e.to_string(),
            })?;
        let mut files = vec![];
        files_under(dir, &mut files)?;
        files.sort();
        let mut scripts: Vec<Script> = vec![];
        for m in &migrations {
            let version = i64::from(m.version());
            let path = files
                .iter()
                .find(|p| {
                    p.file_name()
                        .and_then(|f| f.to_str())
                        .and_then(parse_file_name)
                        .is_some_and(|(v, n, undo)| !undo && v == version && n == m.name())
                })
                .cloned()
                .unwrap_or_else(|| dir.join(format!("V{version}__{}.sql", m.name())));
            if let Some(other) = scripts.iter().find(|s| s.version == version) {
                return Err(ScriptError::SharedVersion {
                    version,
                    first: other.path.clone(),
                    second: path,
                }
                .into());
            }
            scripts.push(Script {
                version,
                name: m.name().to_string(),
                path,
                sql: m.sql().unwrap_or_default().to_string(),
                checksum: m.checksum(),
                undo: None,
            });
        }
        let mut orphans = vec![];
        for p in &files {
            let Some((version, name, true)) = p
                .file_name()
                .and_then(|f| f.to_str())
                .and_then(parse_file_name)
            else {
                continue;
            };
            match scripts
                .iter_mut()
                .find(|s| s.version == version && s.name == name)
            {
                Some(s) => {
                    let sql = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
                    s.undo = Some(Undo {
                        path: p.clone(),
                        sql,
                    });
                }
                None => orphans.push(UndoOrphan {
                    path: p.clone(),
                    version,
                    name,
                }),
            }
        }
        if !orphans.is_empty() {
            return Err(ScriptError::OrphanUndo { orphans }.into());
        }
        scripts.sort_by_key(|s| s.version);
        Ok(Scripts {
            dir: Some(dir.to_path_buf()),
            scripts,
        })
    }

    /// No scripts: databases whose plan has no `[schema]` folder.
    pub fn none() -> Scripts {
        Scripts {
            dir: None,
            scripts: vec![],
        }
    }
}

/// A script about to run (or be listed by a dry run), read into
/// statements; refused when it names the bookkeeping tables, as a dump of a
/// database migplan manages does: running it would drop or recreate the
/// history and journal the run is writing.
pub(super) fn read_script(text: &str, dialect: &Dialect, label: &str) -> Result<sql::Scanned> {
    let scanned = sql::scan(text, dialect, label)?;
    let switch = dialect
        .scripts
        .database_switch
        .then(|| {
            scanned
                .statements
                .iter()
                .position(|s| sql::switches_database(s))
        })
        .flatten();
    if let Some(n) = switch {
        let code = scanned.statements[n]
            .lines()
            .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
            .unwrap_or_default()
            .trim();
        return Err(ScriptError::SwitchesDatabase {
            label: label.to_string(),
            statement: n + 1,
            code: code.to_string(),
        }
        .into());
    }
    let named = scanned.bookkeeping_named();
    if named.is_empty() {
        return Ok(scanned);
    }
    Err(ScriptError::NamesBookkeeping {
        label: label.to_string(),
        tables: named,
    }
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_refinery() {
        assert_eq!(
            parse_file_name("V2__add_x.sql"),
            Some((2, "add_x".into(), false))
        );
        assert_eq!(
            parse_file_name("V2__add_x.undo.sql"),
            Some((2, "add_x".into(), true))
        );
        assert_eq!(parse_file_name("V2_add.sql"), None);
        assert_eq!(parse_file_name("V2__a-b.sql"), None);
        assert_eq!(parse_file_name("README.md"), None);
    }
}

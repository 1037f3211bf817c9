//! Opening a SQLite database: the file (created only when asked) or
//! memory, foreign keys switched on, the busy wait, and the lock file's
//! place beside the database.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::Sqlite;
use crate::backend::{DbUrl, OpenOptions};
use crate::error::{Error, Result};

impl Sqlite {
    pub fn open(url: &DbUrl, opts: &OpenOptions) -> Result<Self> {
        let conn = match url.sqlite_path() {
            None => Connection::open_in_memory(),
            Some(path) if !opts.create && !path.exists() => {
                return Err(crate::error::EngineError::NoDatabaseFile { path }.into());
            }
            Some(path) => open_file(&path, opts),
        }
        .map_err(|e| Error::db(format!("cannot open {url}"), e))?;
        // Foreign keys are off by default in SQLite; imports must enforce them.
        conn.execute_batch("PRAGMA foreign_keys = ON;")
            .and_then(|_| {
                conn.busy_timeout(opts.busy_wait.unwrap_or(std::time::Duration::from_secs(10)))
            })
            .map_err(|e| Error::db(format!("cannot configure {url}"), e))?;
        Ok(Sqlite {
            conn,
            lock_path: url.sqlite_path().map(|p| {
                let mut name = p.file_name().unwrap_or_default().to_os_string();
                name.push(".migplan-lock");
                p.with_file_name(name)
            }),
            lock: None,
            writer: None,
            written: vec![],
            dropped_triggers: vec![],
            dropped_indexes: vec![],
        })
    }
}

fn open_file(path: &Path, opts: &OpenOptions) -> rusqlite::Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if opts.create {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    Connection::open_with_flags(path, flags)
}

//! SQLite's bookkeeping: the run history's statements, the run lock (an
//! OS lock on a file beside the database, which also carries the holder's
//! description), and the schema module's text queries.

use rusqlite::types::ValueRef;

use super::Sqlite;
use crate::error::{Error, Result};
use crate::value::Value;

impl Sqlite {
    pub(super) fn exec_history(&mut self, sql: &str, params: &[Value]) -> Result<()> {
        let params: Vec<rusqlite::types::Value> = params.iter().map(meta_param).collect();
        self.conn
            .execute(sql, rusqlite::params_from_iter(params))
            .map(drop)
            .map_err(|e| Error::db("writing the run history", e))
    }

    pub(super) fn query_history(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>> {
        let params: Vec<rusqlite::types::Value> = params.iter().map(meta_param).collect();
        let ctx = |e| Error::db("reading the run history", e);
        let mut stmt = self.conn.prepare(sql).map_err(ctx)?;
        let width = stmt.column_count();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params), |r| {
                (0..width)
                    .map(|i| {
                        Ok(match r.get::<_, rusqlite::types::Value>(i)? {
                            rusqlite::types::Value::Integer(n) => Value::Int(n),
                            rusqlite::types::Value::Text(t) => Value::Text(t),
                            _ => Value::Null,
                        })
                    })
                    .collect()
            })
            .map_err(ctx)?;
        rows.collect::<rusqlite::Result<_>>().map_err(ctx)
    }

    // SQLite has no session locks: an OS lock on a file beside the
    // database, released by the kernel when the process dies.
    pub(super) fn take_lock_file(&mut self) -> Result<bool> {
        let Some(path) = &self.lock_path else {
            return Ok(true);
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        match file.try_lock() {
            Ok(()) => {
                self.lock = Some(file);
                Ok(true)
            }
            Err(std::fs::TryLockError::WouldBlock) => Ok(false),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io(path, e)),
        }
    }

    pub(super) fn release_lock_file(&mut self) -> Result<()> {
        if let Some(file) = &self.lock {
            // The description goes with the lock; a dead holder's stays,
            // but is read only while someone holds the lock again.
            let _ = file.set_len(0);
        }
        self.lock = None;
        Ok(())
    }

    // In the lock file, not the database: a large write shuts every reader
    // out of a SQLite file until it commits, and the holder must stay
    // readable meanwhile.
    pub(super) fn describe_in_lock_file(&mut self, holder: &str) -> Result<()> {
        use std::io::{Seek, Write};
        let (Some(file), Some(path)) = (&mut self.lock, &self.lock_path) else {
            return Ok(());
        };
        file.set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| file.write_all(holder.as_bytes()))
            .and_then(|_| file.flush())
            .map_err(|e| Error::io(path, e))
    }

    pub(super) fn read_lock_file(&mut self) -> Option<String> {
        let text = std::fs::read_to_string(self.lock_path.as_ref()?).ok()?;
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_string())
    }

    pub(super) fn query_as_text(
        &mut self,
        context: &str,
        sql: &str,
    ) -> Result<Vec<Vec<Option<String>>>> {
        let read = || -> rusqlite::Result<Vec<Vec<Option<String>>>> {
            let mut stmt = self.conn.prepare(sql)?;
            let n = stmt.column_count();
            let mut rows = stmt.query([])?;
            let mut out = vec![];
            while let Some(r) = rows.next()? {
                let mut row = Vec::with_capacity(n);
                for i in 0..n {
                    row.push(match r.get_ref(i)? {
                        ValueRef::Null => None,
                        ValueRef::Integer(v) => Some(v.to_string()),
                        ValueRef::Real(v) => Some(v.to_string()),
                        ValueRef::Text(t) | ValueRef::Blob(t) => {
                            Some(String::from_utf8_lossy(t).into_owned())
                        }
                    });
                }
                out.push(row);
            }
            Ok(out)
        };
        read().map_err(|e| Error::db(context, e))
    }
}

/// A bookkeeping parameter as SQLite's value.
fn meta_param(v: &Value) -> rusqlite::types::Value {
    match v {
        Value::Int(i) => rusqlite::types::Value::Integer(*i),
        Value::Text(t) => rusqlite::types::Value::Text(t.clone()),
        Value::Null => rusqlite::types::Value::Null,
        other => rusqlite::types::Value::Text(other.display()),
    }
}

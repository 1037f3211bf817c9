//! SQLite's bookkeeping: the run history's statements, the run lock (an
//! OS lock on a file beside the database, which also carries the holder's
//! description), the schema module's text queries, `sqlite_sequence`
//! counters set, and triggers switched off (dropped inside the write
//! transaction; `write.rs` creates them again).

use rusqlite::types::ValueRef;

use super::{Sqlite, quote};
use crate::catalog::{Sequence, Trigger};
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

    pub(super) fn drop_triggers(&mut self, triggers: &[Trigger]) -> Result<()> {
        // SQLite cannot switch a trigger off; dropping it inside the write
        // transaction and creating it again before the commit is the same
        // (a rollback brings it back too).
        // In creation order, so that they are created again in it: SQLite
        // fires the triggers of one event newest first.
        let ctx = |e| Error::db("switching triggers off", e);
        let all: Vec<(String, String)> = self
            .conn
            .prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' ORDER BY rowid")
            .and_then(|mut st| {
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(ctx)?;
        for (name, sql) in all {
            if !triggers.iter().any(|t| t.name == name) {
                continue;
            }
            self.conn
                .execute_batch(&format!("DROP TRIGGER {}", quote(&name)))
                .map_err(ctx)?;
            self.dropped_triggers.push(sql);
        }
        Ok(())
    }

    pub(super) fn set_counter(&mut self, seq: &Sequence, next: i64) -> Result<()> {
        let Some(table) = &seq.table else {
            return Ok(());
        };
        let set = || -> rusqlite::Result<()> {
            let last = next - 1;
            let n = self.conn.execute(
                "UPDATE sqlite_sequence SET seq = ?1 WHERE name = ?2",
                rusqlite::params![last, table],
            )?;
            if n == 0 {
                self.conn.execute(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES (?2, ?1)",
                    rusqlite::params![last, table],
                )?;
            }
            Ok(())
        };
        set().map_err(|e| Error::db(format!("setting the AUTOINCREMENT counter of `{table}`"), e))
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

//! Readers that share an export's snapshot (`--jobs`): InnoDB has no
//! snapshot to hand over, so every connection starts its own consistent
//! snapshot while `FLUSH TABLES WITH READ LOCK` holds every writer still
//! (as mydumper does); the lock is let go as soon as all have started, so
//! writers wait for a moment, not for the export.

use std::sync::Arc;

use ::mysql::Conn;
use ::mysql::prelude::Queryable;

use super::catalog::Table;
use super::connect::{connect, scrub};
use super::values::{Col, read_table};
use super::{Mysql, live};
use crate::backend::{ReadRequest, TableReader};
use crate::error::{EngineError, Error, Result};
use crate::value::Value;

const START: &str = "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY";

/// How long the read lock may wait for writes already running. While it
/// waits, every new write waits behind it: with the server's default
/// (`lock_wait_timeout`, a day or a year) one long `UPDATE` would stop
/// the application's writes until it ends. Past this the export reads
/// alone, without the lock.
const LOCK_WAIT_SECONDS: u32 = 5;

impl Mysql {
    /// The export's snapshot with `n` readers of it
    /// (`Backend::begin_shared_read`). Without the RELOAD privilege the
    /// lock is refused: the export then reads alone, as without `--jobs`.
    pub(super) fn begin_shared_snapshot(&mut self, n: usize) -> Result<Vec<Box<dyn TableReader>>> {
        let ctx = "starting the export snapshot";
        if n == 0 {
            self.begin_read_alone()?;
            return Ok(vec![]);
        }
        let mut conns = (0..n)
            .map(|_| connect(&self.db_url, &self.secrets).map(|(conn, _)| conn))
            .collect::<Result<Vec<_>>>()?;
        if let Err(refused) = self.read_lock() {
            // Without the RELOAD privilege the lock is refused at once:
            // reading alone is then the plain, quiet fallback.
            if let Some(code @ (1205 | 1213)) = refused {
                crate::events::note(format!(
                    "tables are read one at a time: the read lock that lets --jobs share one snapshot \
                     waited more than {LOCK_WAIT_SECONDS} s behind statements already writing \
                     (MySQL error {code}), and writes wait while it does"
                ));
            }
            self.begin_read_alone()?;
            return Ok(vec![]);
        }
        let started = self.start_all(&mut conns);
        // Let go whatever happened: writers wait while it is held.
        let unlocked = self.exec(ctx, "UNLOCK TABLES");
        started.and(unlocked)?;
        self.introspect()?;
        let tables = Arc::new(self.tables.clone());
        Ok(conns
            .into_iter()
            .map(|conn| {
                Box::new(SharedReader {
                    conn,
                    tables: tables.clone(),
                    secrets: self.secrets.clone(),
                }) as Box<dyn TableReader>
            })
            .collect())
    }

    /// `FLUSH TABLES WITH READ LOCK`, waiting at most `LOCK_WAIT_SECONDS`
    /// for the writes under way; the session's own limit is put back
    /// after. A refusal carries the server's error code.
    fn read_lock(&mut self) -> std::result::Result<(), Option<u16>> {
        let conn = live(&mut self.slot);
        let code = |e: ::mysql::Error| match e {
            ::mysql::Error::MySqlError(e) => Some(e.code),
            _ => None,
        };
        conn.query_drop(format!(
            "SET @migplan_lock_wait = @@SESSION.lock_wait_timeout, \
             SESSION lock_wait_timeout = {LOCK_WAIT_SECONDS}"
        ))
        .map_err(code)?;
        let locked = conn.query_drop("FLUSH TABLES WITH READ LOCK").map_err(code);
        let restored = conn
            .query_drop("SET SESSION lock_wait_timeout = @migplan_lock_wait")
            .map_err(code);
        if locked.is_ok() && restored.is_err() {
            // Never left holding the lock on the way out.
            let _ = conn.query_drop("UNLOCK TABLES");
        }
        locked.and(restored)
    }

    /// This connection's snapshot and every reader's, started under the lock.
    fn start_all(&mut self, conns: &mut [Conn]) -> Result<()> {
        let ctx = "starting the export snapshot";
        self.begin_read_alone()?;
        for conn in conns {
            conn.query_drop("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                .and_then(|()| conn.query_drop(START))
                .map_err(|e| Error::db(ctx, scrub(&e.to_string(), &self.secrets)))?;
        }
        Ok(())
    }

    /// The export's snapshot on this connection only (`Backend::begin_read`).
    pub(super) fn begin_read_alone(&mut self) -> Result<()> {
        let ctx = "starting the export snapshot";
        self.exec(ctx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")?;
        self.exec(ctx, START)
    }
}

/// A connection in the export's snapshot that an export's worker owns.
struct SharedReader {
    conn: Conn,
    /// The database's tables, as the export's connection read them.
    tables: Arc<Vec<Table>>,
    secrets: Vec<String>,
}

impl SharedReader {
    fn columns(&self, table: &str, names: &[String]) -> Result<Vec<Col>> {
        let t = self.tables.iter().find(|t| t.info.name == table);
        let t = t.ok_or_else(|| EngineError::NoSuchTable {
            table: table.to_string(),
        })?;
        names
            .iter()
            .map(|n| {
                let c = t.cols.iter().find(|c| &c.name == n).cloned();
                c.ok_or_else(|| {
                    EngineError::NoSuchColumn {
                        table: table.to_string(),
                        column: n.clone(),
                    }
                    .into()
                })
            })
            .collect()
    }
}

impl TableReader for SharedReader {
    fn read(
        &mut self,
        req: &ReadRequest<'_>,
        sink: &mut dyn FnMut(&[Value]) -> Result<()>,
    ) -> Result<()> {
        let cols = self.columns(req.table, req.columns)?;
        let change = match req.changed_since {
            Some((col, _)) => Some(self.columns(req.table, &[col.to_string()])?[0].kind),
            None => None,
        };
        read_table(&mut self.conn, &self.secrets, &cols, change, req, sink)
    }
}

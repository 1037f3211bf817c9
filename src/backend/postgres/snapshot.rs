//! Readers that share an export's snapshot: a connection of their own that
//! imports the snapshot the export's transaction exported
//! (`pg_export_snapshot()` + `SET TRANSACTION SNAPSHOT`), so it sees exactly
//! what the export's connection sees, and streams `COPY … TO STDOUT` out of
//! it.
//!
//! Why a second connection even for one reader: the blocking driver enters
//! its runtime once per COPY message, which is once per row, and that cost
//! was as large as parsing the rows. Here one `block_on` drives a whole
//! table, and the connection's task runs on a thread of its own: it reads
//! the socket in large batches while the rows of the previous batch are
//! being parsed (pipelining, as `pg_dump` cannot).

use futures_util::StreamExt;
use postgres::config::SslMode;
use tokio::runtime::Runtime;
use tokio_postgres::{Client, Config, NoTls};

use std::sync::Arc;

use super::catalog::PgColumn;
use super::connect::{describe, scrub};
use super::values::{RowParser, copy_query};
use super::{Postgres, quote};
use crate::backend::{DbUrl, ReadRequest, TableReader};
use crate::error::{Error, Result};
use crate::value::Value;

impl Postgres {
    /// The export's transaction, its snapshot exported for readers. Where
    /// the server will not export it (a standby before PostgreSQL 10, say),
    /// the export reads through this connection.
    pub(super) fn begin_snapshot(&mut self) -> Result<()> {
        const BEGIN: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
        let ctx = "starting the export snapshot";
        self.client
            .batch_execute(BEGIN)
            .map_err(|e| self.err(ctx, e))?;
        self.in_tx = true;
        self.reading = true;
        match self.client.query_one("SELECT pg_export_snapshot()", &[]) {
            Ok(row) => self.snapshot = row.try_get(0).ok(),
            Err(_) => {
                // The failed statement aborted the transaction: start again.
                self.client
                    .batch_execute(&format!("ROLLBACK; {BEGIN}"))
                    .map_err(|e| self.err(ctx, e))?;
            }
        }
        Ok(())
    }

    /// The reader of the export's snapshot, if there is one.
    pub(super) fn snapshot_reader(&mut self) -> Result<Option<&mut SnapshotReader>> {
        let Some(id) = &self.snapshot else {
            return Ok(None);
        };
        if self.reader.is_none() {
            let session = &self.restore_session;
            self.reader = Some(SnapshotReader::open(&self.url, &self.secret, id, session)?);
        }
        Ok(self.reader.as_mut())
    }

    /// The export's snapshot with `n` readers of it for threads of their
    /// own (`Backend::begin_shared_read`); none where the server would not
    /// export it.
    pub(super) fn begin_shared_snapshot(&mut self, n: usize) -> Result<Vec<Box<dyn TableReader>>> {
        self.begin_snapshot()?;
        let Some(id) = self.snapshot.clone() else {
            return Ok(vec![]);
        };
        if n == 0 {
            return Ok(vec![]);
        }
        // The readers connect side by side, each a TLS handshake and a few
        // round trips, while this connection reads the catalog once for
        // all of them (a reader has none of its own): a tenth of a small
        // incremental export went into opening them one after another.
        let (url, secret, session) = (
            &self.url.clone(),
            &self.secret.clone(),
            &self.restore_session.clone(),
        );
        let (opened, columns) = std::thread::scope(|scope| {
            let opening: Vec<_> = (0..n)
                .map(|_| scope.spawn(|| SnapshotReader::open(url, secret, &id, session)))
                .collect();
            let columns = self.snapshot_columns();
            let opened: Vec<Result<SnapshotReader>> = opening
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::db(
                            "opening a reader of the snapshot",
                            "its thread panicked",
                        ))
                    })
                })
                .collect();
            (opened, columns)
        });
        let columns = columns?;
        opened
            .into_iter()
            .map(|reader| {
                Ok(Box::new(SharedReader {
                    reader: reader?,
                    columns: columns.clone(),
                    schema: self.schema.clone(),
                }) as Box<dyn TableReader>)
            })
            .collect()
    }

    /// The snapshot's transaction is ending: its readers go with it.
    pub(super) fn end_snapshot(&mut self) {
        self.snapshot = None;
        self.reader = None;
        self.reading = false;
        self.read_columns = None;
    }

    /// The schema's columns as the export's snapshot sees them, read once
    /// per snapshot: the catalog cannot change under it.
    pub(super) fn snapshot_columns(&mut self) -> Result<Arc<Vec<PgColumn>>> {
        if let Some(columns) = &self.read_columns {
            return Ok(columns.clone());
        }
        let columns = Arc::new(self.all_columns()?);
        self.read_columns = Some(columns.clone());
        Ok(columns)
    }
}

pub(super) struct SnapshotReader {
    runtime: Runtime,
    /// Taken when the reader is dropped, before the runtime goes.
    client: Option<Client>,
    /// The connection's task, awaited when the reader is dropped.
    connection: Option<tokio::task::JoinHandle<()>>,
    secret: Option<String>,
}

impl Drop for SnapshotReader {
    /// Ends the session as a client should: with the client gone, its
    /// connection tells the server (Terminate) and closes. A connection
    /// merely cut is logged by the server as an unexpected EOF "with an
    /// open transaction", which a DBA reads as a crash.
    fn drop(&mut self) {
        drop(self.client.take());
        if let Some(connection) = self.connection.take() {
            let _ = self.runtime.block_on(async {
                tokio::time::timeout(std::time::Duration::from_secs(1), connection).await
            });
        }
    }
}

impl SnapshotReader {
    /// A connection that sees `snapshot` (an id `pg_export_snapshot()`
    /// returned), its session set up by `session`.
    pub(super) fn open(
        url: &DbUrl,
        secret: &Option<String>,
        snapshot: &str,
        session: &str,
    ) -> Result<Self> {
        let fail = |e: tokio_postgres::Error| {
            Error::db(
                format!("opening a reader of the snapshot on {url}"),
                scrub(secret, describe(&e)),
            )
        };
        // One thread of the runtime's own runs the connection: it reads
        // the socket, decrypts and frames the server's messages while the
        // caller's thread turns the previous ones into rows.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("migplan-pg-reader")
            .enable_all()
            .build()
            .map_err(|e| Error::db("starting a snapshot reader", e.to_string()))?;
        let config: Config = url.expose().parse().map_err(fail)?;
        let (client, connection) = runtime.block_on(connect(&config)).map_err(fail)?;
        // The snapshot id is the server's own text (digits, `-`); quoting
        // it keeps it a literal whatever it holds. An incremental export
        // sorts the rows it picks by key: in memory, not in temporary files
        // as with the default 4 MB (a third of the time of 50,000 rows).
        let begin = format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '{}'; \
             SET LOCAL work_mem = '32MB';",
            snapshot.replace('\'', "''")
        );
        // Apart: statements sent together share one transaction, and the
        // snapshot must be set before the transaction's first query.
        runtime
            .block_on(client.batch_execute(session))
            .map_err(fail)?;
        runtime
            .block_on(client.batch_execute(&begin))
            .map_err(fail)?;
        Ok(SnapshotReader {
            runtime,
            client: Some(client),
            connection: Some(connection),
            secret: secret.clone(),
        })
    }

    /// Streams `sql` (a `COPY … TO STDOUT`), handing `line` every line
    /// without its newline.
    ///
    /// The server sends one message per row. A task on the runtime's
    /// thread gathers them into blocks, so the two threads meet once per
    /// block: meeting once per row (a channel operation and often a
    /// thread woken) cost a fifth of the export's CPU.
    pub(super) fn copy_lines(
        &mut self,
        sql: &str,
        context: &str,
        line: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let secret = &self.secret;
        let fail = |e: tokio_postgres::Error| Error::db(context, scrub(secret, describe(&e)));
        let stream = self
            .runtime
            .block_on(self.client.as_ref().expect("until dropped").copy_out(sql))
            .map_err(fail)?;
        let (blocks, mut received) = tokio::sync::mpsc::channel(BLOCKS_IN_FLIGHT);
        self.runtime.spawn(async move {
            let mut stream = std::pin::pin!(stream);
            let mut block = Vec::with_capacity(BLOCK);
            while let Some(chunk) = stream.next().await {
                let chunk = match chunk {
                    Ok(chunk) => chunk,
                    Err(e) => {
                        let _ = blocks.send(Err(e)).await;
                        return;
                    }
                };
                block.extend_from_slice(&chunk);
                if block.len() >= BLOCK {
                    let full = std::mem::replace(&mut block, Vec::with_capacity(BLOCK));
                    if blocks.send(Ok(full)).await.is_err() {
                        return; // The reader gave up: the stream goes with the task.
                    }
                }
            }
            let _ = blocks.send(Ok(block)).await;
        });
        let mut lines = Lines::default();
        while let Some(block) = received.blocking_recv() {
            lines.feed(&block.map_err(fail)?, line)?;
        }
        lines.finish(line)
    }
}

/// Bytes of COPY data handed from the runtime's thread to the reader at once.
const BLOCK: usize = 256 << 10;
/// Blocks gathered ahead of the reader: the memory a reader may hold.
const BLOCKS_IN_FLIGHT: usize = 4;

/// A reader of the export's snapshot that an export's worker thread owns.
struct SharedReader {
    reader: SnapshotReader,
    /// The schema's columns, as the export's connection read them.
    columns: Arc<Vec<PgColumn>>,
    schema: String,
}

impl TableReader for SharedReader {
    fn read(
        &mut self,
        req: &ReadRequest<'_>,
        sink: &mut dyn FnMut(&[Value]) -> Result<()>,
    ) -> Result<()> {
        let qualified = format!("{}.{}", quote(&self.schema), quote(req.table));
        let (sql, kinds) = copy_query(&qualified, &self.schema, &self.columns, req)?;
        let mut rows = RowParser::new(req, kinds);
        let ctx = format!("reading `{}`", req.table);
        self.reader
            .copy_lines(&sql, &ctx, &mut |line| rows.line(line, sink))
    }
}

/// Lines put together from COPY messages: the server sends one row per
/// message, but nothing in the protocol promises it.
#[derive(Default)]
struct Lines {
    partial: Vec<u8>,
}

impl Lines {
    fn feed(&mut self, mut chunk: &[u8], line: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
        while let Some(end) = memchr::memchr(b'\n', chunk) {
            if self.partial.is_empty() {
                line(&chunk[..end])?;
            } else {
                self.partial.extend_from_slice(&chunk[..end]);
                line(&self.partial)?;
                self.partial.clear();
            }
            chunk = &chunk[end + 1..];
        }
        self.partial.extend_from_slice(chunk);
        Ok(())
    }

    fn finish(self, line: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
        match self.partial.is_empty() {
            true => Ok(()),
            false => line(&self.partial),
        }
    }
}

/// Connects as `connect::client` does (TLS as libpq's `sslmode` asks), the
/// connection's task spawned on the reader's runtime, where it runs while
/// the reader waits on it.
async fn connect(
    config: &Config,
) -> std::result::Result<(Client, tokio::task::JoinHandle<()>), tokio_postgres::Error> {
    let mode = config.get_ssl_mode();
    // The TLS context is built only when TLS may be used.
    let tls = (mode != SslMode::Disable)
        .then(super::tls::unverified)
        .and_then(Result::ok);
    if let Some(tls) = tls {
        match config.connect(tls).await {
            Ok((client, connection)) => {
                return Ok((client, tokio::spawn(async move { drop(connection.await) })));
            }
            // `prefer` falls back to a plain connection, as libpq's does.
            Err(e) if mode != SslMode::Prefer || !e.to_string().contains("TLS") => {
                return Err(e);
            }
            Err(_) => {}
        }
    }
    let (client, connection) = config.connect(NoTls).await?;
    Ok((client, tokio::spawn(async move { drop(connection.await) })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(chunks: &[&[u8]]) -> Vec<String> {
        let mut got = Vec::new();
        let mut lines = Lines::default();
        let mut push = |l: &[u8]| {
            got.push(String::from_utf8(l.to_vec()).unwrap());
            Ok(())
        };
        for c in chunks {
            lines.feed(c, &mut push).unwrap();
        }
        lines.finish(&mut push).unwrap();
        got
    }

    #[test]
    fn lines_are_put_together_across_messages() {
        assert_eq!(lines_of(&[b"1\ta\n", b"2\tb\n"]), ["1\ta", "2\tb"]);
        assert_eq!(
            lines_of(&[b"1\ta\n2\t", b"b\n3", b"\tc\n"]),
            ["1\ta", "2\tb", "3\tc"]
        );
        assert_eq!(lines_of(&[b"1\n", b"\n"]), ["1", ""]);
        assert!(lines_of(&[]).is_empty());
    }
}

//! LOAD DATA LOCAL, and MariaDB's bulk load into an empty table.
//!
//! MySQL's COPY: rows travel as tab-separated data, never as SQL. A thread
//! owns the connection while a table loads and streams the chunks the
//! importer encodes through a small bounded channel, so encoding and loading
//! overlap and memory stays flat. The server asks for a file by name; the
//! handler ignores the name and sends only these chunks.
//!
//! With LOCAL the server cannot stop the client mid-file, so it reports bad
//! values and duplicate keys as warnings and skips the row (IGNORE). Each
//! statement therefore must report as many rows as were sent and no
//! warning; otherwise the first warning is the error, naming the row's key
//! when it gives a row number. The rows of one statement are bounded
//! ([`SEGMENT_ROWS`]) and their keys kept for that.

use std::io::Write;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use ::mysql::prelude::Queryable;
use ::mysql::{Conn, LocalInfileHandler, Params, Value as My};

use super::bookkeeping::meta_param;
use super::connect::scrub;
use super::values::{Col, Kind};
use super::write::{Writer, key_text, server_row};
use super::{Mysql, live, quote, quote_list};
use crate::error::{EngineError, Error, Result};
use crate::value::Value;

/// Bytes of `LOAD DATA` text handed to the loader thread at a time.
pub(super) const CHUNK_BYTES: usize = 1 << 20;
/// Chunks waiting for the loader thread.
const LOAD_QUEUE: usize = 4;
/// The most rows one `LOAD DATA` statement carries: the keys of its rows
/// are kept to name the row a server warning points at.
pub(super) const SEGMENT_ROWS: usize = 65_536;
/// Set to `off` to write with multi-row INSERTs even where the server
/// allows `LOAD DATA LOCAL` (tests of that path).
pub(super) const LOAD_DATA_ENV: &str = "MIGPLAN_MYSQL_LOAD_DATA";

impl Mysql {
    /// MariaDB loads an empty table in bulk inside a transaction (sorted
    /// index builds, one undo record for the table) when both foreign-key
    /// and unique checks are off, as a replayed mysqldump file has them:
    /// about a sixth of an import's time. Unique checks go back on for
    /// everything else, and [`Mysql::verify_bulk`] checks each table so
    /// loaded: the bulk path reports a duplicate only as a warning (with
    /// other rows dropped), and MySQL's change buffer may skip unique
    /// checks outright, hence MariaDB only.
    pub(super) fn bulk_load(&mut self, on: bool) -> Result<()> {
        if on == self.unique_checks_off {
            return Ok(());
        }
        let sql = if on {
            "SET UNIQUE_CHECKS = 0"
        } else {
            "SET UNIQUE_CHECKS = 1"
        };
        self.exec("switching unique checks for a bulk load", sql)?;
        self.unique_checks_off = on;
        Ok(())
    }

    /// After a bulk load: every row sent is in the table, and no unique key
    /// holds a value twice.
    pub(super) fn verify_bulk(&mut self, w: &Writer) -> Result<()> {
        let table = quote(&w.table);
        let found = self.count(&format!("SELECT COUNT(*) FROM {table}"))?;
        if found != w.written {
            return Err(EngineError::RowsLost {
                table: w.table.clone(),
                kept: found,
                loaded: w.written,
            }
            .into());
        }
        let unique = self.table(&w.table)?.info.unique_keys.clone();
        for key in unique.iter().filter(|k| !k.is_empty()) {
            let cols = quote_list(key);
            let not_null = key
                .iter()
                .map(|c| format!("{} IS NOT NULL", quote(c)))
                .collect::<Vec<_>>()
                .join(" AND ");
            let sql = format!(
                "SELECT {cols} FROM {table} WHERE {not_null} GROUP BY {cols} HAVING COUNT(*) > 1 LIMIT 1"
            );
            let cols: Vec<Col> = self.columns_of(&w.table, key)?;
            if let Some(dup) = self.typed_rows(&sql, &cols)?.pop() {
                return Err(EngineError::DuplicateLoaded {
                    table: w.table.clone(),
                    key: key_text(key, &dup),
                }
                .into());
            }
        }
        Ok(())
    }

    /// Whether rows can go in by `LOAD DATA LOCAL`: the first time, an empty
    /// load tells (the server may refuse local files).
    pub(super) fn try_load_data(&mut self, sql: &str) -> bool {
        if let Some(known) = self.load_data {
            return known;
        }
        // No handler is set: the driver sends an empty file.
        let conn = live(&mut self.slot);
        let ok = conn.query_drop(sql).is_ok() && conn.affected_rows() == 0 && conn.warnings() == 0;
        self.load_data = Some(ok);
        ok
    }
}

/// `LOAD DATA LOCAL INFILE … INTO TABLE into (cols)`; bytes travel as hex
/// and bits as decimal, converted by `SET`.
pub(super) fn load_sql(into: &str, cols: &[Col]) -> String {
    let mut list = Vec::with_capacity(cols.len());
    let mut set = Vec::new();
    // MariaDB forgets NO_AUTO_VALUE_ON_ZERO for an auto-increment column
    // loaded directly when a SET clause is present: id 0 would become a
    // new id. Assigned from a variable, it keeps 0.
    let any_set = cols
        .iter()
        .any(|c| matches!(c.kind, Kind::Bytes | Kind::Bit));
    for (i, c) in cols.iter().enumerate() {
        let var = format!("@migplan_{i}");
        match c.kind {
            Kind::Bytes => set.push(format!("{} = UNHEX({var})", quote(&c.name))),
            Kind::Bit => set.push(format!("{} = CAST({var} AS UNSIGNED)", quote(&c.name))),
            _ if any_set && c.auto_increment => set.push(format!("{} = {var}", quote(&c.name))),
            _ => {
                list.push(quote(&c.name));
                continue;
            }
        }
        list.push(var);
    }
    let mut sql = format!(
        "LOAD DATA LOCAL INFILE 'migplan' INTO TABLE {into} CHARACTER SET utf8mb4 \
         FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({})",
        list.join(", ")
    );
    if !set.is_empty() {
        sql.push_str(" SET ");
        sql.push_str(&set.join(", "));
    }
    sql
}

/// One encoded value as a `LOAD DATA` field.
pub(super) fn push_field(buf: &mut Vec<u8>, p: &My, col: &Col) {
    match p {
        My::NULL => buf.extend_from_slice(b"\\N"),
        My::Int(i) => {
            let _ = write!(buf, "{i}");
        }
        My::UInt(u) => {
            let _ = write!(buf, "{u}");
        }
        // The single's exact value as a double: the server parses a double
        // and narrows it, which gives back the same single.
        My::Float(f) => {
            let _ = write!(buf, "{:?}", f64::from(*f));
        }
        My::Double(d) => {
            let _ = write!(buf, "{d:?}");
        }
        My::Bytes(b) if col.kind == Kind::Bytes => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            buf.reserve(2 * b.len());
            for &x in b {
                buf.push(HEX[(x >> 4) as usize]);
                buf.push(HEX[(x & 15) as usize]);
            }
        }
        My::Bytes(b) => push_escaped(buf, b),
        My::Date(..) | My::Time(..) => unreachable!("encode sends temporal values as text"),
    }
}

/// Text with the field's special bytes escaped (`\\`, tab, newline, CR, NUL).
fn push_escaped(buf: &mut Vec<u8>, b: &[u8]) {
    let special = |x: &u8| matches!(x, b'\\' | b'\t' | b'\n' | b'\r' | 0);
    if !b.iter().any(special) {
        buf.extend_from_slice(b);
        return;
    }
    for &x in b {
        match x {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            0 => buf.extend_from_slice(b"\\0"),
            _ => buf.push(x),
        }
    }
}

const BULK_HELP: &str = "\n  = help: MariaDB's bulk load into an empty table fails this way on a value repeated in a unique key, without naming it; nothing was changed, the import was rolled back\n  = help: with MIGPLAN_MYSQL_LOAD_DATA=off rows go in by INSERTs and the server names the duplicate";

/// What the loader thread needs to know of its table.
pub(super) struct LoadCtx {
    pub(super) sql: String,
    pub(super) table: String,
    /// Where rows go, quoted: the table, or its staging table.
    pub(super) into: String,
    pub(super) key: Vec<String>,
    pub(super) secrets: Vec<String>,
    /// Loaded by MariaDB's bulk insert ([`Mysql::bulk_load`]).
    pub(super) bulk: bool,
}

/// A table's rows on their way into `LOAD DATA` statements.
pub(super) struct Load {
    pub(super) ctx: Arc<LoadCtx>,
    /// Started with the first chunk.
    pub(super) loader: Option<Loader>,
    /// Rows encoded, not yet handed over.
    pub(super) buf: Vec<u8>,
    /// Their keys, for messages.
    pub(super) keys: Vec<Vec<Value>>,
    /// Rows of the statement being filled, handed over or not.
    pub(super) seg_rows: usize,
}

impl Load {
    /// Hands the encoded rows to the loader thread (starting it, with the
    /// connection, the first time); `cut` ends the statement.
    pub(super) fn send(&mut self, slot: &mut Option<Conn>, cut: bool) -> Result<()> {
        let chunk = Chunk {
            buf: std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_BYTES + (64 << 10))),
            keys: std::mem::take(&mut self.keys),
            last: cut,
        };
        if cut {
            self.seg_rows = 0;
        }
        let loader = match self.loader.as_mut() {
            Some(l) => l,
            None => {
                let conn = slot.take().expect("the connection is free");
                self.loader
                    .insert(Loader::start(conn, Arc::clone(&self.ctx)))
            }
        };
        if loader.tx.send(chunk).is_ok() {
            return Ok(());
        }
        // The thread stopped: a statement failed.
        let (conn, result) = self.loader.take().expect("started above").join();
        *slot = Some(conn);
        result.and(Err(Error::db(
            format!("loading `{}`", self.ctx.table),
            "the loader stopped",
        )))
    }

    /// Sends the last rows, waits for the server and returns the
    /// connection to `slot`; the rows loaded.
    pub(super) fn finish(&mut self, slot: &mut Option<Conn>) -> Result<u64> {
        if self.seg_rows > 0 {
            self.send(slot, true)?;
        }
        let Some(loader) = self.loader.take() else {
            return Ok(0);
        };
        let (conn, result) = loader.join();
        *slot = Some(conn);
        result
    }
}

/// Encoded rows; `last` ends a `LOAD DATA` statement.
struct Chunk {
    buf: Vec<u8>,
    keys: Vec<Vec<Value>>,
    last: bool,
}

/// The thread that owns the connection while a table loads.
pub(super) struct Loader {
    tx: SyncSender<Chunk>,
    thread: JoinHandle<(Conn, Result<u64>)>,
}

impl Loader {
    fn start(conn: Conn, ctx: Arc<LoadCtx>) -> Self {
        let (tx, rx) = sync_channel(LOAD_QUEUE);
        let thread = std::thread::Builder::new()
            .name("migplan-load-data".into())
            .spawn(move || load_all(conn, &ctx, rx))
            .expect("spawning the LOAD DATA thread");
        Loader { tx, thread }
    }

    /// Every chunk was sent: the connection and the rows loaded.
    fn join(self) -> (Conn, Result<u64>) {
        drop(self.tx);
        self.thread.join().expect("the LOAD DATA thread panicked")
    }

    /// Abandons the load (the transaction is about to roll back): the
    /// statement under way ends with the rows sent so far.
    pub(super) fn abort(self) -> Conn {
        self.join().0
    }
}

/// The statement under way, shared with the driver's file handler.
struct Segment {
    rx: Receiver<Chunk>,
    first: Option<Chunk>,
    keys: Vec<Vec<Value>>,
    /// The importer stopped mid-statement.
    aborted: bool,
}

fn lock(seg: &Mutex<Segment>) -> std::sync::MutexGuard<'_, Segment> {
    seg.lock().unwrap_or_else(|p| p.into_inner())
}

fn load_all(mut conn: Conn, ctx: &LoadCtx, rx: Receiver<Chunk>) -> (Conn, Result<u64>) {
    let seg = Arc::new(Mutex::new(Segment {
        rx,
        first: None,
        keys: Vec::new(),
        aborted: false,
    }));
    let mut total = 0u64;
    let result = loop {
        // Wait for rows before starting a statement: none means done.
        let first = match lock(&seg).rx.recv() {
            Ok(c) => c,
            Err(_) => break Ok(total),
        };
        lock(&seg).first = Some(first);
        let handler = {
            let seg = Arc::clone(&seg);
            // The file name the server asks for is ignored: only our rows go.
            LocalInfileHandler::new(move |_name, out| stream(&mut lock(&seg), out))
        };
        conn.set_local_infile_handler(Some(handler));
        let sent = conn.query_drop(&ctx.sql);
        conn.set_local_infile_handler(None);
        let s = lock(&seg);
        if s.aborted {
            break Ok(total);
        }
        if let Err(e) = sent {
            let mut message = scrub(&e.to_string(), &ctx.secrets);
            if ctx.bulk {
                // The bulk path fails a duplicate in a unique key as
                // "Got error 1 … during COMMIT", naming nothing.
                message.push_str(BULK_HELP);
            }
            break Err(Error::db("loading rows into", message));
        }
        let (loaded, warnings) = (conn.affected_rows(), conn.warnings());
        if loaded != s.keys.len() as u64 || warnings > 0 {
            break Err(load_error(&mut conn, ctx, &s.keys, loaded));
        }
        total += loaded;
    };
    (conn, result)
}

/// Writes the statement's chunks to the server, up to the one that ends it.
fn stream(s: &mut Segment, out: &mut impl Write) -> std::io::Result<()> {
    s.keys.clear();
    let mut next = s.first.take();
    loop {
        let chunk = match next.take() {
            Some(c) => c,
            None => match s.rx.recv() {
                Ok(c) => c,
                Err(_) => {
                    s.aborted = true;
                    return Ok(());
                }
            },
        };
        out.write_all(&chunk.buf)?;
        s.keys.extend(chunk.keys);
        if chunk.last {
            return Ok(());
        }
    }
}

/// Why a statement loaded fewer rows than sent, or warned: the server's
/// first warning, with the row's key when it names a row.
fn load_error(conn: &mut Conn, ctx: &LoadCtx, keys: &[Vec<Value>], loaded: u64) -> Error {
    let warnings: Vec<(String, u32, String)> =
        conn.query("SHOW WARNINGS LIMIT 1").unwrap_or_default();
    let Some((_, _, msg)) = warnings.into_iter().next() else {
        return EngineError::LoadSkippedSilently {
            table: ctx.table.clone(),
            loaded,
            sent: keys.len() as u64,
        }
        .into();
    };
    // The server names the staging table where rows went through one.
    let msg = scrub(&msg, &ctx.secrets).replace(ctx.into.trim_matches('`'), &ctx.table);
    let row = server_row(&msg)
        .and_then(|n| n.checked_sub(1))
        .or_else(|| first_skipped(conn, ctx, keys));
    let table = ctx.table.clone();
    match row.and_then(|i| keys.get(i)) {
        Some(k) if !ctx.key.is_empty() => EngineError::LoadSkippedRow {
            table,
            key: key_text(&ctx.key, k),
            message: msg,
        },
        _ => EngineError::LoadSkippedRows {
            table,
            message: msg,
        },
    }
    .into()
}

/// The first row of the statement that the table does not hold: the one
/// LOAD DATA skipped when its warning names no row (a CHECK constraint's).
/// The rows of one statement are looked up one by one: a failure's cost.
fn first_skipped(conn: &mut Conn, ctx: &LoadCtx, keys: &[Vec<Value>]) -> Option<usize> {
    if ctx.key.is_empty() {
        return None;
    }
    let matches: Vec<String> = ctx
        .key
        .iter()
        .map(|k| format!("{} = ?", quote(k)))
        .collect();
    let sql = format!(
        "SELECT 1 FROM {} WHERE {} LIMIT 1",
        ctx.into,
        matches.join(" AND ")
    );
    let stmt = conn.prep(&sql).ok()?;
    keys.iter().position(|k| {
        let params: Vec<My> = k.iter().map(meta_param).collect();
        matches!(
            conn.exec_first::<u8, _, _>(&stmt, Params::Positional(params)),
            Ok(None)
        )
    })
}

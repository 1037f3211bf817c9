//! One streaming `COPY … FROM STDIN` per table.
//!
//! The `postgres` crate's `CopyInWriter` borrows the connection, so the
//! importer cannot hold one open across its `write_row` calls. Sending a
//! COPY per buffered chunk works but serialises the two sides: the server
//! idles while the client encodes a chunk, the client while the server
//! loads it. Here a thread owns the connection for the length of one COPY
//! and writes chunks the importer hands it through a small bounded channel,
//! so encoding and loading overlap, and memory stays bounded by the channel
//! plus a short ring of recently sent chunks (kept to name the row a COPY
//! error points at: the server reports the line, and it is never far behind
//! what was sent).

use std::collections::VecDeque;
use std::io::Write;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use postgres::Client;

use super::Postgres;
use super::values::unescape;
use crate::error::Result;

/// Rows are handed to the COPY thread in chunks of about this many bytes.
pub(super) const CHUNK: usize = 512 << 10;

/// Chunks waiting for the sending thread.
const QUEUE: usize = 4;
/// Chunks kept after sending, to find the row an error names.
const RING: usize = 8;

/// Rows encoded as COPY text, one line each.
pub(super) struct Chunk {
    pub buf: Vec<u8>,
    /// Where each line starts in `buf`.
    pub row_starts: Vec<usize>,
}

/// Why a COPY failed, with the offending line when the server named one
/// that is still in the ring.
pub(super) struct CopyFailure {
    pub error: postgres::Error,
    pub line: Option<Vec<u8>>,
}

enum Msg {
    Chunk(Chunk),
    /// Every row was sent: complete the COPY. Without it the COPY is
    /// abandoned (the server discards it) when the channel closes.
    End,
}

type Outcome = (Client, Result<(), CopyFailure>);

/// A COPY in progress on a thread that owns the connection until
/// [`CopyIn::finish`] or [`CopyIn::abort`] hands it back.
pub(super) struct CopyIn {
    tx: SyncSender<Msg>,
    thread: JoinHandle<Outcome>,
}

impl CopyIn {
    pub fn start(client: Client, sql: String) -> Self {
        let (tx, rx) = sync_channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("migplan-copy-in".into())
            .spawn(move || send_all(client, &sql, rx))
            .expect("spawning the COPY thread");
        CopyIn { tx, thread }
    }

    /// Queues a chunk. `false` means the thread stopped early (the server
    /// refused the data); [`CopyIn::finish`] says why.
    pub fn send(&self, chunk: Chunk) -> bool {
        self.tx.send(Msg::Chunk(chunk)).is_ok()
    }

    /// Completes the COPY and returns the connection.
    pub fn finish(self) -> Outcome {
        let _ = self.tx.send(Msg::End);
        drop(self.tx);
        self.thread.join().expect("the COPY thread panicked")
    }

    /// Abandons the COPY (the transaction is about to roll back) and
    /// returns the connection.
    pub fn abort(self) -> Client {
        drop(self.tx);
        self.thread.join().expect("the COPY thread panicked").0
    }
}

fn send_all(mut client: Client, sql: &str, rx: Receiver<Msg>) -> Outcome {
    let mut ring: VecDeque<(usize, Chunk)> = VecDeque::with_capacity(RING + 1);
    let mut lines = 0usize;
    let result = (|| {
        let mut writer = client.copy_in(sql)?;
        loop {
            match rx.recv() {
                Ok(Msg::Chunk(chunk)) => {
                    // A write error means the server gave up; `finish` says why.
                    if writer.write_all(&chunk.buf).is_err() {
                        break;
                    }
                    let first = lines + 1;
                    lines += chunk.row_starts.len();
                    ring.push_back((first, chunk));
                    if ring.len() > RING {
                        ring.pop_front();
                    }
                }
                Ok(Msg::End) => break,
                // The importer gave up: dropping the writer abandons the COPY.
                Err(_) => return Ok(()),
            }
        }
        drop(rx);
        writer.finish().map(drop)
    })();
    let result = result.map_err(|error| {
        let line = error
            .as_db_error()
            .and_then(|db| db.where_())
            .and_then(copy_line)
            .and_then(|n| find_line(&ring, n));
        CopyFailure { error, line }
    });
    (client, result)
}

/// Line `n` (1-based, counted over the whole COPY) if it is still kept.
fn find_line(ring: &VecDeque<(usize, Chunk)>, n: usize) -> Option<Vec<u8>> {
    let (first, chunk) = ring
        .iter()
        .find(|(first, c)| (*first..*first + c.row_starts.len()).contains(&n))?;
    let start = chunk.row_starts[n - first];
    let end = chunk.buf[start..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(chunk.buf.len(), |p| start + p);
    Some(chunk.buf[start..end].to_vec())
}

pub(super) fn new_chunk() -> Chunk {
    Chunk {
        buf: Vec::with_capacity(CHUNK + (64 << 10)),
        row_starts: Vec::new(),
    }
}

/// `COPY t, line 3, column c: "…"` → 3.
fn copy_line(where_: &str) -> Option<usize> {
    let rest = &where_[where_.find(", line ")? + ", line ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|&n| n > 0)
}

impl Postgres {
    /// Hands the encoded rows to the COPY thread, starting it with the
    /// first chunk of the table.
    pub(super) fn flush(&mut self) -> Result<()> {
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        if w.chunk.row_starts.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut w.chunk, new_chunk());
        if w.stream.is_none() {
            let client = self
                .client
                .0
                .take()
                .expect("the connection is not lent twice");
            w.stream = Some(CopyIn::start(client, w.copy_sql.clone()));
        }
        if w.stream.as_ref().expect("started above").send(chunk) {
            return Ok(());
        }
        // The server refused the data: finish to learn why.
        self.end_stream()
    }

    /// Completes the table's COPY, takes the connection back and names the
    /// row a failure is about.
    pub(super) fn end_stream(&mut self) -> Result<()> {
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        let Some(stream) = w.stream.take() else {
            return Ok(());
        };
        let (client, result) = stream.finish();
        self.client.0 = Some(client);
        let Err(failure) = result else {
            return Ok(());
        };
        let row = failure
            .line
            .map(|line| {
                let fields: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
                let key: Vec<String> = w
                    .key
                    .iter()
                    .zip(&w.key_pos)
                    .map(|(k, &p)| {
                        let v = fields
                            .get(p)
                            .and_then(|f| unescape(f))
                            .map_or("NULL".to_string(), |b| {
                                String::from_utf8_lossy(&b).into_owned()
                            });
                        format!("{k}={v}")
                    })
                    .collect();
                if key.is_empty() {
                    String::new()
                } else {
                    format!("row {}: ", key.join(", "))
                }
            })
            .unwrap_or_default();
        let table = w.table.clone();
        Err(self.write_err(&table, "writing rows into", &failure.error, &row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_found_across_chunks() {
        let mut ring = VecDeque::new();
        ring.push_back((
            1,
            Chunk {
                buf: b"a\nb\n".to_vec(),
                row_starts: vec![0, 2],
            },
        ));
        ring.push_back((
            3,
            Chunk {
                buf: b"c\td\n".to_vec(),
                row_starts: vec![0],
            },
        ));
        assert_eq!(find_line(&ring, 2).as_deref(), Some(&b"b"[..]));
        assert_eq!(find_line(&ring, 3).as_deref(), Some(&b"c\td"[..]));
        assert_eq!(find_line(&ring, 4), None);
    }

    #[test]
    fn copy_error_lines() {
        assert_eq!(copy_line("COPY t, line 3, column c: \"x\""), Some(3));
        assert_eq!(copy_line("COPY t, line 12: \"x\""), Some(12));
        assert_eq!(copy_line("SQL statement"), None);
    }
}

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
            .and_then(super::copy_line)
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
}

//! `--jobs`: an export's tables read at once by readers of one snapshot,
//! each on a thread of its own, and placed in the backup in table order by
//! the calling thread, so the file is the one a serial export writes, byte
//! for byte ([`crate::format::TableWriter`]).
//!
//! Tables are handed out largest first (the longest table does not start
//! last and finish alone); a table finished before its turn waits in
//! memory within a bounded share, else in a temporary file. The first
//! failure stops every worker at its next row and is the export's error.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use super::export::TableJob;
use super::progress;
use crate::backend::TableReader;
use crate::error::{Error, Result};
use crate::format::{BackupWriter, Format, TableWriter, WrittenTable};
use crate::value::TableSummary;

/// Rows a worker counts before it tells the shared counter.
const STEP: u64 = 4096;

/// What workers tell the placing thread.
enum Told {
    Started(usize),
    Done(usize, Result<WrittenTable>),
}

/// What workers share.
struct Shared<'j> {
    jobs: &'j [TableJob<'j>],
    /// Tables not yet taken, with their writers: largest first.
    queue: Mutex<VecDeque<(usize, Box<dyn TableWriter>)>>,
    stop: AtomicBool,
    rows: AtomicU64,
}

/// Reads `jobs` with `readers`, one thread each, and places them in the
/// file `open` creates, in order: the writer, and the tables' summaries in
/// that order. `open` runs on the calling thread while the workers read
/// (the export counts its tables' rows for the meta there, which is
/// written first); it also says how many rows to expect, for the progress.
pub(super) fn write(
    readers: Vec<Box<dyn TableReader>>,
    jobs: &[TableJob],
    format: Format,
    open: impl FnOnce() -> Result<(Box<dyn BackupWriter>, u64)>,
    verb: &'static str,
) -> Result<(Box<dyn BackupWriter>, Vec<TableSummary>)> {
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(jobs[i].meta.rows));
    let mut queue = VecDeque::with_capacity(jobs.len());
    for i in order {
        let apart = crate::format::apart_writer(format, jobs[i].meta)
            .expect("parallel exports write formats that write tables apart");
        queue.push_back((i, apart));
    }
    let shared = Shared {
        jobs,
        queue: Mutex::new(queue),
        stop: AtomicBool::new(false),
        rows: AtomicU64::new(0),
    };
    let (tell, told) = mpsc::channel();
    std::thread::scope(|scope| {
        for reader in readers {
            let tell = tell.clone();
            let shared = &shared;
            std::thread::Builder::new()
                .name("migplan-export".into())
                .spawn_scoped(scope, move || work(reader, shared, tell))
                .expect("a thread can be started");
        }
        drop(tell);
        let placed = open().and_then(|(mut writer, total)| {
            let mut bar = progress::rows(total, verb);
            let summaries = place(&shared, told, writer.as_mut(), &mut bar)?;
            bar.finish_and_clear();
            Ok((writer, summaries))
        });
        if placed.is_err() {
            shared.stop.store(true, Ordering::Relaxed);
        }
        placed
    })
}

/// One worker: tables taken from the queue until it is empty or the export
/// stops.
fn work(mut reader: Box<dyn TableReader>, shared: &Shared, tell: mpsc::Sender<Told>) {
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let next = shared.queue.lock().map(|mut q| q.pop_front());
        let Ok(Some((i, apart))) = next else {
            return;
        };
        let _ = tell.send(Told::Started(i));
        let result = read_table(reader.as_mut(), &shared.jobs[i], apart, shared);
        let failed = result.is_err();
        let _ = tell.send(Told::Done(i, result));
        if failed {
            return;
        }
    }
}

fn read_table(
    reader: &mut dyn TableReader,
    job: &TableJob,
    mut apart: Box<dyn TableWriter>,
    shared: &Shared,
) -> Result<WrittenTable> {
    let mut counted = 0u64;
    reader.read(&job.request(), &mut |row| {
        let Some(values) = job.kept(row) else {
            return Ok(());
        };
        counted += 1;
        if counted == STEP {
            shared.rows.fetch_add(counted, Ordering::Relaxed);
            counted = 0;
            if shared.stop.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
        }
        apart.write_row(values)
    })?;
    shared.rows.fetch_add(counted, Ordering::Relaxed);
    apart.finish()
}

/// The placing thread: tables put in the file as their turn comes, the
/// progress told, a cancelled export stopped.
fn place(
    shared: &Shared,
    told: mpsc::Receiver<Told>,
    writer: &mut dyn BackupWriter,
    bar: &mut progress::Rows,
) -> Result<Vec<TableSummary>> {
    let jobs = shared.jobs;
    let mut waiting: BTreeMap<usize, WrittenTable> = BTreeMap::new();
    let mut summaries = Vec::with_capacity(jobs.len());
    let mut reported = 0;
    while summaries.len() < jobs.len() {
        match told.recv_timeout(Duration::from_millis(100)) {
            // Several tables move at once, and the rows counted are all of
            // theirs: no one table's remaining time can be told.
            Ok(Told::Started(i)) => bar.set_message(jobs[i].meta.name.clone(), None),
            Ok(Told::Done(i, table)) => {
                waiting.insert(i, table?);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // Every worker is gone, yet tables are missing: one panicked
                // (the scope passes the panic on when it ends).
                return Err(Error::Cancelled);
            }
        }
        let rows = shared.rows.load(Ordering::Relaxed);
        bar.add(rows - reported)?;
        reported = rows;
        while let Some(table) = waiting.remove(&summaries.len()) {
            summaries.push(writer.place_table(table)?);
        }
    }
    Ok(summaries)
}

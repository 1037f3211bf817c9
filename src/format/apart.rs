//! A table's bytes written apart from the backup file, on a thread of its
//! own (`--jobs`), then placed in the file in table order: the file is the
//! same, byte for byte, as one written table by table.
//!
//! The bytes wait in memory while the process's share allows (small
//! tables never touch the disk), else in a temporary file, so memory stays
//! flat however large the tables that finish early.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::Result;
use crate::value::{TableSummary, Value};

/// Bytes all tables written apart may keep in memory at once.
const MEMORY_SHARE: usize = 8 << 20;
/// Memory the waiting bytes take now, across threads.
static IN_MEMORY: AtomicUsize = AtomicUsize::new(0);

/// Writes one table's rows apart from the file ([`super::apart_writer`]).
pub trait TableWriter: Send {
    fn write_row(&mut self, row: &[Value]) -> Result<()>;
    /// The table's bytes and summary, for [`super::BackupWriter::place_table`].
    fn finish(self: Box<Self>) -> Result<WrittenTable>;
}

/// A table written apart, waiting for its place in the file.
pub struct WrittenTable {
    pub(super) name: String,
    pub(super) summary: TableSummary,
    pub(super) body: Body,
}

impl WrittenTable {
    pub fn summary(&self) -> &TableSummary {
        &self.summary
    }
}

/// Bytes in memory while the share allows, then in a temporary file.
#[derive(Default)]
pub(super) struct Body {
    memory: Vec<u8>,
    file: Option<BufWriter<File>>,
}

impl Body {
    /// Copies the bytes into `out`, in the order they were written.
    pub(super) fn copy_to(mut self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(&self.memory)?;
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        let mut file = file.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0))?;
        let mut buf = vec![0; 1 << 20];
        loop {
            match file.read(&mut buf)? {
                0 => return Ok(()),
                n => out.write_all(&buf[..n])?,
            }
        }
    }

    fn spill(&mut self) -> io::Result<&mut BufWriter<File>> {
        if self.file.is_none() {
            self.file = Some(BufWriter::with_capacity(1 << 20, tempfile::tempfile()?));
        }
        Ok(self.file.as_mut().expect("just opened"))
    }
}

impl Write for Body {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.write_all(bytes).map(|()| bytes.len())
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.file.is_none() {
            let before = IN_MEMORY.fetch_add(bytes.len(), Ordering::Relaxed);
            if before + bytes.len() <= MEMORY_SHARE {
                self.memory.extend_from_slice(bytes);
                return Ok(());
            }
            IN_MEMORY.fetch_sub(bytes.len(), Ordering::Relaxed);
        }
        self.spill()?.write_all(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        IN_MEMORY.fetch_sub(self.memory.len(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Past the memory share the bytes go to a temporary file, and come
    /// back in the order they were written.
    #[test]
    fn a_body_larger_than_the_share_spills_and_comes_back_whole() {
        let mut body = Body::default();
        let mut expected = Vec::new();
        for i in 0..(MEMORY_SHARE / (1 << 20) + 8) {
            let piece = vec![(i % 251) as u8; (1 << 20) + i];
            body.write_all(&piece).unwrap();
            expected.extend_from_slice(&piece);
        }
        assert!(body.file.is_some(), "nothing spilled");
        let mut out = Vec::new();
        body.copy_to(&mut out).unwrap();
        assert!(
            out == expected,
            "{} bytes back of {}",
            out.len(),
            expected.len()
        );
    }
}

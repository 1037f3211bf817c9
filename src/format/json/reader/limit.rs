//! Values bounded in size as the file streams in
//! (`[import] max_value_bytes`), so that a file's size never sets the
//! memory it takes.

use std::cell::Cell;
use std::fmt;
use std::io;
use std::path::Path;
use std::rc::Rc;

use crate::error::Error;
use crate::format::limits::bytes_shown;

/// A reader that refuses, as an I/O error carrying [`ValueTooLong`], a
/// string or other token longer than the limit, before serde_json has
/// gathered it: a compressed backup can inflate to a 1 GiB string from a
/// few KiB. Strings are measured as written (escapes included); newlines
/// only occur between tokens in JSON, so lines are counted on the way.
pub(in crate::format::json) struct ValueLimit<R> {
    inner: R,
    limit: u64,
    in_string: bool,
    escaped: bool,
    /// Bytes of the current string or token.
    run: u64,
    line: usize,
    /// Bytes up to the current one on its line.
    column: usize,
    /// Where the current string or token starts (1-based).
    start: (usize, usize),
    /// The error for the next read, once over the limit.
    over: Option<io::Error>,
}

/// Where a value went over the limit.
#[derive(Debug)]
pub(in crate::format::json) struct ValueTooLong {
    pub(in crate::format::json) limit: u64,
    pub(in crate::format::json) line: usize,
    pub(in crate::format::json) column: usize,
}

impl fmt::Display for ValueTooLong {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a value longer than {}", bytes_shown(self.limit))
    }
}

impl std::error::Error for ValueTooLong {}

impl<R> ValueLimit<R> {
    pub(in crate::format::json) fn new(inner: R, limit: u64) -> Self {
        ValueLimit {
            inner,
            limit,
            in_string: false,
            escaped: false,
            run: 0,
            line: 1,
            column: 0,
            start: (1, 1),
            over: None,
        }
    }

    /// Measures `buf`; when a run goes over the limit, the error and where
    /// in `buf` that run began (0 when it began in an earlier buffer).
    fn scan(&mut self, buf: &[u8]) -> Result<(), (io::Error, usize)> {
        let mut began = 0;
        let mut i = 0;
        while i < buf.len() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                    self.run += 1;
                    self.column += 1;
                    i += 1;
                    continue;
                }
                match memchr::memchr2(b'"', b'\\', &buf[i..]) {
                    Some(at) => {
                        self.run += at as u64 + 1;
                        self.column += at + 1;
                        if buf[i + at] == b'"' {
                            self.check().map_err(|e| (e, began))?;
                            self.in_string = false;
                            self.run = 0;
                        } else {
                            self.escaped = true;
                        }
                        i += at + 1;
                    }
                    None => {
                        self.run += (buf.len() - i) as u64;
                        self.column += buf.len() - i;
                        i = buf.len();
                    }
                }
                continue;
            }
            match buf[i] {
                b'\n' => {
                    self.line += 1;
                    self.column = 0;
                    self.run = 0;
                }
                b' ' | b'\t' | b'\r' | b',' | b':' | b'{' | b'}' | b'[' | b']' => {
                    self.column += 1;
                    self.run = 0;
                }
                b => {
                    self.column += 1;
                    if self.run == 0 {
                        self.start = (self.line, self.column);
                        began = i;
                    }
                    self.in_string = b == b'"';
                    self.run += 1;
                }
            }
            self.check().map_err(|e| (e, began))?;
            i += 1;
        }
        self.check().map_err(|e| (e, began))
    }

    fn check(&self) -> io::Result<()> {
        if self.run <= self.limit {
            return Ok(());
        }
        let (line, column) = self.start;
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            ValueTooLong {
                limit: self.limit,
                line,
                column,
            },
        ))
    }
}

impl<R: io::Read> io::Read for ValueLimit<R> {
    /// The bytes before the value that went over the limit are handed on,
    /// the error comes with the next read: a reader of the meta alone stops
    /// before it, and the full reader meets it inside its table.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = self.over.take() {
            return Err(e);
        }
        let n = self.inner.read(buf)?;
        match self.scan(&buf[..n]) {
            Ok(()) => Ok(n),
            Err((e, 0)) => Err(e),
            Err((e, began)) => {
                self.over = Some(e);
                Ok(began)
            }
        }
    }
}

/// The error of a value over the limit, naming the table being read.
pub(super) fn too_long_error(path: &Path, e: &io::Error, table: Option<&str>) -> Option<Error> {
    let t = e.get_ref()?.downcast_ref::<ValueTooLong>()?;
    let place = table.map(|t| format!("table `{t}`: ")).unwrap_or_default();
    Some(Error::Backup {
        path: path.to_path_buf(),
        position: Some((t.line, t.column)),
        message: format!(
            "{place}{t}, the limit (`[import] max_value_bytes`)\n  = help: raise `max_value_bytes` in the plan's `[import]` if the file is trusted"
        ),
    })
}

/// The bytes the parser may hold in its buffer beyond what it has parsed.
pub(super) const READ_BUFFER: usize = 1 << 16;

/// A reader that refuses, as an I/O error carrying [`MetaTooLong`], to hand
/// on more than `limit` bytes (plus one buffer) while the meta is being
/// read: a hostile file cannot make the reader decompress and parse a
/// gigabyte looking for the meta's end. Lifted once the meta is read: the
/// rows are bounded value by value ([`ValueLimit`]).
pub(in crate::format::json) struct MetaBudget<R> {
    inner: R,
    limit: u64,
    read: u64,
    reading_meta: Rc<Cell<bool>>,
}

/// The meta went on past the budget.
#[derive(Debug)]
pub(in crate::format::json) struct MetaTooLong {
    pub(in crate::format::json) limit: u64,
}

impl fmt::Display for MetaTooLong {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a meta longer than {}", bytes_shown(self.limit))
    }
}

impl std::error::Error for MetaTooLong {}

impl<R> MetaBudget<R> {
    /// `reading_meta`: set to false by the parser once the meta is read;
    /// from then on bytes flow freely.
    pub(in crate::format::json) fn new(inner: R, limit: u64, reading_meta: Rc<Cell<bool>>) -> Self {
        MetaBudget {
            inner,
            limit,
            read: 0,
            reading_meta,
        }
    }
}

impl<R: io::Read> io::Read for MetaBudget<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.reading_meta.get() {
            return self.inner.read(buf);
        }
        // The parser's buffer runs ahead of it: a meta of `limit` bytes
        // must still pass whole.
        let allowed = self.limit + READ_BUFFER as u64;
        if self.read >= allowed {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                MetaTooLong { limit: self.limit },
            ));
        }
        let room = (allowed - self.read).min(buf.len() as u64) as usize;
        let n = self.inner.read(&mut buf[..room])?;
        self.read += n as u64;
        Ok(n)
    }
}

/// The error of a meta that went on past the budget.
pub(super) fn meta_too_long_error(path: &Path, e: &io::Error) -> Option<Error> {
    let t = e.get_ref()?.downcast_ref::<MetaTooLong>()?;
    Some(Error::MetaTooLong {
        path: path.to_path_buf(),
        limit: t.limit,
    })
}

//! The JSON backup format: one JSON object, written and read as a stream so
//! that memory stays flat whatever the size of a table.
//!
//! # Layout
//!
//! ```text
//! {"meta": { …BackupMeta, pretty-printed… },
//! "data": {
//! "users": [
//! {"id":1,"name":"张三","avatar":"aGVsbG8="},
//! {"id":2,"name":"李四","avatar":null}
//! ],
//! "questions": [
//! ]
//! },
//! "summary": {
//! "users": {"rows":2,"blake3":"…"},
//! "questions": {"rows":0,"blake3":"…"}
//! }
//! }
//! ```
//!
//! `meta` comes first so a reader knows every table's columns before any row,
//! and `summary` comes last because the writer only knows it at the end. One
//! row per line keeps backups diffable and greppable. Row keys are the
//! table's exported columns, in `TableMeta.columns` order.
//!
//! # Values
//!
//! A column's [`ColumnType`] decides the *natural* encoding of its values:
//!
//! | value            | natural encoding                         | otherwise              |
//! |------------------|------------------------------------------|------------------------|
//! | `Null`, `Bool`   | `null`, `true`/`false`                   | —                      |
//! | `Int`            | number without `.` or exponent           | —                      |
//! | `UInt`           | number (only beyond `i64::MAX`)          | `{"$uint":5}`          |
//! | finite `Float`   | number with `.` or exponent (`1.0`)      | —                      |
//! | NaN, ±infinity   | `"NaN"`, `"Infinity"`, `"-Infinity"` in `float` columns | `{"$float":"NaN"}` |
//! | `Decimal`        | string in `decimal` columns              | `{"$decimal":"12.50"}` |
//! | `Bytes`          | base64 string in `blob` columns          | `{"$base64":"…"}`      |
//! | `Text`           | string, except in `blob`, `decimal`, `float` columns | `{"$text":"…"}` |
//!
//! A value that does not fit its column (SQLite lets an INTEGER column hold
//! text) is tagged, so decoding is always exact. A NaN other than the usual
//! one keeps its bits as `"NaN:fff8000000000000"`.
//!
//! # Verification
//!
//! The reader recomputes every table's [`Checksum`] from the rows it decodes
//! and compares it with `summary`; a file that was cut short, edited or
//! damaged is refused with the position (`backup.json:12:5`) of the problem.
//! Format version 2 checksums are BLAKE3 (`"blake3"`); version 1 files carry
//! SHA-256 (`"sha256"`) over the same bytes and are read as before.

use std::borrow::Cow;
use std::fmt::{self, Display};
use std::io::{self, Write};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::compress::{self, CompressedFile, Compression};
use super::limits::{self, bytes_shown};
use super::{BackupMeta, BackupVisitor, BackupWriter, FORMAT_NAME, FORMAT_VERSION, TableMeta};
use crate::error::{Error, Result};
use crate::value::{Algorithm, Checksum, ColumnType, TableSummary, Value};

/// The bits of the NaN written as plain `"NaN"`; other NaNs spell out theirs.
const CANONICAL_NAN: u64 = 0x7ff8_0000_0000_0000;

// ---------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------

/// Streams a backup to a temporary file that becomes `path` on `finish`.
pub struct JsonWriter {
    out: CompressedFile,
    table: Option<OpenTable>,
    /// Tables already written, with their summaries, for the trailer.
    done: Vec<(String, TableSummary)>,
    /// Reused for base64 so that rows allocate nothing.
    scratch: String,
}

/// The table being written.
struct OpenTable {
    name: String,
    /// Each column's key, escaped once: `"id":` then `,"name":` …
    keys: Vec<Vec<u8>>,
    types: Vec<ColumnType>,
    checksum: Checksum,
}

impl OpenTable {
    fn new(table: &TableMeta) -> Self {
        let keys = table.columns.iter().enumerate().map(|(i, c)| {
            let mut key = if i == 0 { Vec::new() } else { vec![b','] };
            serde_json::to_writer(&mut key, &c.name).expect("writing to a Vec cannot fail");
            key.push(b':');
            key
        });
        OpenTable {
            name: table.name.clone(),
            keys: keys.collect(),
            types: table.columns.iter().map(|c| c.ty).collect(),
            checksum: Checksum::new(),
        }
    }
}

impl JsonWriter {
    pub fn create(path: &Path, meta: &BackupMeta) -> Result<Self> {
        Self::create_compressed(path, meta, Compression::None)
    }

    /// A writer whose bytes go through `compression` (the file name is the
    /// caller's choice; [`Compression::json_extension`] is the usual one).
    pub fn create_compressed(
        path: &Path,
        meta: &BackupMeta,
        compression: Compression,
    ) -> Result<Self> {
        let mut out = CompressedFile::create(path, compression)?;
        write_head(&mut out, meta).map_err(|e| Error::io(path, e))?;
        Ok(JsonWriter {
            out,
            table: None,
            done: Vec::new(),
            scratch: String::new(),
        })
    }

    /// A writer used out of order: a bug in the caller, reported not panicked.
    fn misuse(&self, message: String) -> Error {
        Error::Backup {
            path: self.out.path().to_path_buf(),
            position: None,
            message,
        }
    }
}

impl BackupWriter for JsonWriter {
    fn begin_table(&mut self, table: &TableMeta) -> Result<()> {
        if let Some(open) = &self.table {
            return Err(self.misuse(format!("table `{}` was not ended", open.name)));
        }
        let sep: &[u8] = if self.done.is_empty() { b"\n" } else { b",\n" };
        write_table_head(&mut self.out, sep, &table.name)
            .map_err(|e| Error::io(self.out.path(), e))?;
        self.table = Some(OpenTable::new(table));
        Ok(())
    }

    fn write_row(&mut self, row: &[Value]) -> Result<()> {
        let Some(table) = self.table.as_mut() else {
            return Err(self.misuse("a row was written outside any table".into()));
        };
        if row.len() != table.types.len() {
            let message = format!(
                "table `{}`: a row has {} values but the table has {} columns",
                table.name,
                row.len(),
                table.types.len()
            );
            return Err(self.misuse(message));
        }
        write_row(&mut self.out, table, row, &mut self.scratch)
            .map_err(|e| Error::io(self.out.path(), e))?;
        table.checksum.add_row(row);
        Ok(())
    }

    fn end_table(&mut self) -> Result<TableSummary> {
        let Some(table) = self.table.take() else {
            return Err(self.misuse("end_table without begin_table".into()));
        };
        self.out
            .write_all(b"\n]")
            .map_err(|e| Error::io(self.out.path(), e))?;
        let summary = table.checksum.summary();
        self.done.push((table.name, summary.clone()));
        Ok(summary)
    }

    fn finish(self: Box<Self>) -> Result<()> {
        let mut this = *self;
        if let Some(open) = &this.table {
            return Err(this.misuse(format!("table `{}` was not ended", open.name)));
        }
        write_tail(&mut this.out, &this.done).map_err(|e| Error::io(this.out.path(), e))?;
        this.out.commit()
    }
}

fn write_head(w: &mut impl Write, meta: &BackupMeta) -> io::Result<()> {
    w.write_all(b"{\"meta\": ")?;
    serde_json::to_writer_pretty(&mut *w, meta)?;
    w.write_all(b",\n\"data\": {")
}

fn write_table_head(w: &mut impl Write, sep: &[u8], name: &str) -> io::Result<()> {
    w.write_all(sep)?;
    json(w, name)?;
    w.write_all(b": [")
}

fn write_row(
    w: &mut impl Write,
    table: &OpenTable,
    row: &[Value],
    scratch: &mut String,
) -> io::Result<()> {
    w.write_all(if table.checksum.rows() == 0 {
        b"\n{"
    } else {
        b",\n{"
    })?;
    for ((key, value), ty) in table.keys.iter().zip(row).zip(&table.types) {
        w.write_all(key)?;
        write_value(w, value, *ty, scratch)?;
    }
    w.write_all(b"}")
}

fn write_tail(w: &mut impl Write, done: &[(String, TableSummary)]) -> io::Result<()> {
    w.write_all(if done.is_empty() {
        b"},\n\"summary\": {"
    } else {
        b"\n},\n\"summary\": {"
    })?;
    for (i, (name, summary)) in done.iter().enumerate() {
        w.write_all(if i == 0 { b"\n" } else { b",\n" })?;
        json(w, name)?;
        w.write_all(b": ")?;
        json(w, summary)?;
    }
    w.write_all(b"\n}\n}\n")
}

/// Writes one value in its column's natural encoding, or tagged when it does
/// not have one there (see the module doc).
fn write_value(
    w: &mut impl Write,
    value: &Value,
    ty: ColumnType,
    scratch: &mut String,
) -> io::Result<()> {
    use ColumnType as T;
    match value {
        Value::Null => w.write_all(b"null"),
        Value::Bool(b) => w.write_all(if *b { b"true" } else { b"false" }),
        Value::Int(i) => json(w, i),
        Value::UInt(u) if *u > i64::MAX as u64 => json(w, u),
        // A small UInt would read back as Int, which hashes differently.
        Value::UInt(u) => tagged(w, true, "$uint", |w| json(w, u)),
        // serde_json (ryu) always writes a `.` or an exponent: `1.0`, `1e300`.
        Value::Float(f) if f.is_finite() => json(w, f),
        Value::Float(f) => tagged(w, ty != T::Float, "$float", |w| {
            json(w, &nonfinite_name(*f))
        }),
        Value::Decimal(d) => tagged(w, ty != T::Decimal, "$decimal", |w| json(w, d)),
        Value::Bytes(b) => tagged(w, ty != T::Blob, "$base64", |w| write_base64(w, b, scratch)),
        Value::Text(s) => tagged(
            w,
            matches!(ty, T::Blob | T::Decimal | T::Float),
            "$text",
            |w| json_str(w, s),
        ),
    }
}

/// Writes `body`, wrapped in `{"<tag>": …}` when `tag_it`.
fn tagged<W: Write>(
    w: &mut W,
    tag_it: bool,
    tag: &str,
    body: impl FnOnce(&mut W) -> io::Result<()>,
) -> io::Result<()> {
    if !tag_it {
        return body(w);
    }
    // Tags are plain ASCII: nothing to escape.
    write!(w, "{{\"{tag}\":")?;
    body(w)?;
    w.write_all(b"}")
}

fn write_base64(w: &mut impl Write, bytes: &[u8], scratch: &mut String) -> io::Result<()> {
    scratch.clear();
    BASE64.encode_string(bytes, scratch);
    // The base64 alphabet needs no JSON escaping.
    w.write_all(b"\"")?;
    w.write_all(scratch.as_bytes())?;
    w.write_all(b"\"")
}

/// A JSON string. Most text needs no escaping: checking that over the whole
/// string at once (the loop vectorises) and copying it is several times
/// faster than escaping byte by byte, which was a tenth of an export.
fn json_str(w: &mut impl Write, s: &str) -> io::Result<()> {
    let plain = !s.bytes().fold(false, |bad, b| {
        bad | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if !plain {
        return json(w, s);
    }
    w.write_all(b"\"")?;
    w.write_all(s.as_bytes())?;
    w.write_all(b"\"")
}

fn json<T: Serialize + ?Sized>(w: &mut impl Write, value: &T) -> io::Result<()> {
    serde_json::to_writer(w, value).map_err(io::Error::from)
}

fn nonfinite_name(f: f64) -> Cow<'static, str> {
    if f == f64::INFINITY {
        "Infinity".into()
    } else if f == f64::NEG_INFINITY {
        "-Infinity".into()
    } else if f.to_bits() == CANONICAL_NAN {
        "NaN".into()
    } else {
        format!("NaN:{:016x}", f.to_bits()).into()
    }
}

fn parse_nonfinite(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::from_bits(CANONICAL_NAN)),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => {
            let hex = s.strip_prefix("NaN:").filter(|h| h.len() == 16)?;
            let f = f64::from_bits(u64::from_str_radix(hex, 16).ok()?);
            f.is_nan().then_some(f)
        }
    }
}

// ---------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------

/// Reads only the meta; the data after it is not parsed (nor even looked at).
pub fn read_meta(path: &Path) -> Result<BackupMeta> {
    let mut visitor = MetaOnly;
    let mut reader = Reader::new(path, &mut visitor, true);
    reader.parse()?;
    Ok(reader.meta.expect("a successful parse has read the meta"))
}

/// Reads a whole backup, handing rows to `visitor` and verifying the summary.
pub fn read(path: &Path, visitor: &mut dyn BackupVisitor) -> Result<()> {
    Reader::new(path, visitor, false).parse()
}

/// The visitor of [`read_meta`], which stops before any table.
struct MetaOnly;

impl BackupVisitor for MetaOnly {
    fn meta(&mut self, _: &BackupMeta) -> Result<()> {
        Ok(())
    }
    fn begin_table(&mut self, _: &TableMeta) -> Result<()> {
        Ok(())
    }
    fn row(&mut self, _: &[Value]) -> Result<()> {
        Ok(())
    }
    fn end_table(&mut self, _: &TableMeta) -> Result<()> {
        Ok(())
    }
}

/// The state of one read, shared by the serde visitors below.
struct Reader<'r> {
    path: &'r Path,
    visitor: &'r mut dyn BackupVisitor,
    meta_only: bool,
    meta: Option<BackupMeta>,
    /// Tables read so far, in data order.
    tables: Vec<ReadTable>,
    /// The table whose rows are being read, for errors.
    reading: Option<String>,
    /// The table and 1-based row whose visit failed, to place the error.
    failed_row: Option<(String, u64)>,
    /// An error that is not about the file's syntax (the visitor's own, a
    /// newer format): serde unwinds with a stand-in, then this is returned
    /// unchanged.
    failure: Option<Error>,
}

struct ReadTable {
    name: String,
    /// What the rows actually read hash to.
    computed: TableSummary,
    /// Whether `summary` has vouched for this table yet.
    verified: bool,
}

impl<'r> Reader<'r> {
    fn new(path: &'r Path, visitor: &'r mut dyn BackupVisitor, meta_only: bool) -> Self {
        Reader {
            path,
            visitor,
            meta_only,
            meta: None,
            tables: Vec::new(),
            reading: None,
            failed_row: None,
            failure: None,
        }
    }

    fn parse(&mut self) -> Result<()> {
        let path = self.path;
        // Plain, zstd or gzip: told by the first bytes, decompressed on the fly.
        let (file, _) = compress::open_reader(path)?;
        // serde_json builds each string whole: bound it before it sees it.
        let file = ValueLimit::new(file, limits::current().max_value_bytes);
        // serde_json pulls one byte at a time: through a `BufReader` it takes
        // std's inlined fast path instead of a `dyn Read` call per byte.
        let mut de =
            serde_json::Deserializer::from_reader(io::BufReader::with_capacity(1 << 16, file));
        let outcome = BackupSeed(&mut *self)
            .deserialize(&mut de)
            .and_then(|()| de.end());
        if let Some(failure) = self.failure.take() {
            return Err(self.placed(failure));
        }
        if self.meta_only && self.meta.is_some() {
            // The stand-in error that stopped serde right after `meta`.
            return Ok(());
        }
        outcome.map_err(|e| backup_error(path, e, self.reading.as_deref()))
    }

    /// A refused row, with the line of the file it starts on (the file is
    /// streamed again to find it; this happens once, on the way out).
    fn placed(&mut self, failure: Error) -> Error {
        let (Error::Row(message), Some((table, row))) = (&failure, self.failed_row.take()) else {
            return failure;
        };
        let line = compress::open_reader(self.path)
            .ok()
            .and_then(|(file, _)| super::position::row_line(file, &table, row));
        match line {
            Some(line) => Error::Row(format!("{}:{line}: {message}", self.path.display())),
            None => failure,
        }
    }

    /// Calls the visitor, stashing its error and unwinding serde with a stand-in.
    fn visit<E: de::Error>(
        &mut self,
        f: impl FnOnce(&mut dyn BackupVisitor) -> Result<()>,
    ) -> Result<(), E> {
        f(&mut *self.visitor).map_err(|e| self.fail(e))
    }

    fn fail<E: de::Error>(&mut self, error: Error) -> E {
        self.failure = Some(error);
        E::custom("stopped by an earlier error")
    }

    /// Checks the format and version before trusting the rest of the meta.
    fn accept_meta<E: de::Error>(&mut self, raw: serde_json::Value) -> Result<(), E> {
        let format = raw.get("format").and_then(|f| f.as_str());
        if format != Some(FORMAT_NAME) {
            return Err(E::custom(format!(
                "not a migplan backup: its meta has `format` {}, not \"{FORMAT_NAME}\"",
                raw.get("format")
                    .map_or("missing".into(), |f| f.to_string())
            )));
        }
        let version = raw.get("format_version").and_then(|v| v.as_u64());
        if let Some(v) = version.filter(|v| *v > u64::from(FORMAT_VERSION)) {
            let message = format!(
                "this backup was written by a newer migplan (format version {v}); this migplan reads up to {FORMAT_VERSION}"
            );
            let path = self.path.to_path_buf();
            return Err(self.fail(Error::Backup {
                path,
                position: None,
                message,
            }));
        }
        let meta = match super::meta::from_json(raw) {
            Ok(meta) => meta,
            Err(problem) => {
                let error = meta_error(self.path, &problem);
                return Err(self.fail(error));
            }
        };
        self.visit(|v| v.meta(&meta))?;
        self.meta = Some(meta);
        Ok(())
    }

    /// Starts a table of `data`: it must be in the meta and not read before.
    fn begin_table<E: de::Error>(&mut self, name: &str) -> Result<TableMeta, E> {
        let meta = self.meta.as_ref().expect("meta is read before data");
        let Some(table) = meta.table(name).cloned() else {
            return Err(E::custom(format!(
                "unknown table `{name}` in data: the meta does not list it"
            )));
        };
        if self.tables.iter().any(|t| t.name == name) {
            return Err(E::custom(format!("table `{name}` appears twice in data")));
        }
        self.visit(|v| v.begin_table(&table))?;
        Ok(table)
    }

    fn format_version(&self) -> u32 {
        self.meta
            .as_ref()
            .map_or(super::FORMAT_VERSION, |m| m.format_version)
    }

    /// The hash of the backup's checksums, told by its format version.
    fn algorithm(&self) -> Algorithm {
        Algorithm::of_format(self.format_version())
    }

    /// Every table of the meta must have been exported, if only as `[]`.
    fn check_all_tables_read<E: de::Error>(&self) -> Result<(), E> {
        let meta = self.meta.as_ref().expect("meta is read before data");
        match meta
            .tables
            .iter()
            .find(|m| !self.tables.iter().any(|t| t.name == m.name))
        {
            Some(missing) => Err(E::custom(format!(
                "table `{}` is listed in the meta but has no data: the file is incomplete",
                missing.name
            ))),
            None => Ok(()),
        }
    }

    /// Compares one entry of `summary` with what the rows hashed to.
    fn verify<E: de::Error>(&mut self, name: &str, claimed: &TableSummary) -> Result<(), E> {
        let (algorithm, version) = (self.algorithm(), self.format_version());
        let Some(table) = self.tables.iter_mut().find(|t| t.name == name) else {
            return Err(E::custom(format!(
                "the summary lists table `{name}`, which has no data"
            )));
        };
        if table.verified {
            return Err(E::custom(format!(
                "table `{name}` appears twice in the summary"
            )));
        }
        let computed = &table.computed;
        if claimed.rows != computed.rows {
            return Err(E::custom(format!(
                "table `{name}`: row count mismatch: the backup says {} rows, its data has {} — the file was changed or damaged",
                claimed.rows, computed.rows
            )));
        }
        let computed = computed.checksum(algorithm).unwrap_or_default();
        let Some(claimed) = claimed.checksum(algorithm) else {
            return Err(E::custom(format!(
                "table `{name}`: the summary has no `{}` checksum, which format version {} backups carry — the file was changed or damaged",
                algorithm.name(),
                version
            )));
        };
        if claimed != computed {
            return Err(E::custom(format!(
                "table `{name}`: checksum mismatch: the backup says {} {claimed}, its rows hash to {computed} — the file was changed or damaged",
                algorithm.name()
            )));
        }
        table.verified = true;
        Ok(())
    }

    fn check_all_tables_verified<E: de::Error>(&self) -> Result<(), E> {
        match self.tables.iter().find(|t| !t.verified) {
            Some(t) => Err(E::custom(format!(
                "table `{}` has data but no entry in the summary — the file was changed or damaged",
                t.name
            ))),
            None => Ok(()),
        }
    }
}

/// A reader that refuses, as an I/O error carrying [`ValueTooLong`], a
/// string or other token longer than the limit, before serde_json has
/// gathered it: a compressed backup can inflate to a 1 GiB string from a
/// few KiB. Strings are measured as written (escapes included); newlines
/// only occur between tokens in JSON, so lines are counted on the way.
struct ValueLimit<R> {
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
struct ValueTooLong {
    limit: u64,
    line: usize,
    column: usize,
}

impl fmt::Display for ValueTooLong {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a value longer than {}", bytes_shown(self.limit))
    }
}

impl std::error::Error for ValueTooLong {}

impl<R> ValueLimit<R> {
    fn new(inner: R, limit: u64) -> Self {
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
fn too_long_error(path: &Path, e: &io::Error, table: Option<&str>) -> Option<Error> {
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

/// A meta problem at its place in the file: the head is read again (it is
/// small, and this happens once, on the way out) to find the field.
fn meta_error(path: &Path, problem: &super::meta::MetaProblem) -> Error {
    const HEAD: u64 = 16 << 20;
    let mut head = Vec::new();
    if let Ok((file, _)) = compress::open_reader(path) {
        let _ = io::Read::read_to_end(&mut io::Read::take(file, HEAD), &mut head);
    }
    let head = String::from_utf8_lossy(&head);
    Error::Backup {
        path: path.to_path_buf(),
        position: super::meta::locate(&head, &problem.at),
        message: format!("{}: {}", problem.path(), problem.message),
    }
}

/// Turns a serde_json error into a backup error at its `line:column`.
/// `table`: the table being read, if any.
fn backup_error(path: &Path, e: serde_json::Error, table: Option<&str>) -> Error {
    if e.is_io() {
        let e: io::Error = e.into();
        return too_long_error(path, &e, table)
            .or_else(|| compress::corrupt_error(path, &e))
            .unwrap_or_else(|| Error::io(path, e));
    }
    let (line, column) = (e.line(), e.column());
    // serde_json appends the position in words; ours goes in front instead.
    let text = e.to_string();
    let suffix = format!(" at line {line} column {column}");
    let message = text.strip_suffix(&suffix).unwrap_or(&text).to_owned();
    Error::Backup {
        path: path.to_path_buf(),
        position: (line > 0).then_some((line, column)),
        message,
    }
}

/// The whole file: `meta`, then `data`, then `summary`.
struct BackupSeed<'a, 'r>(&'a mut Reader<'r>);

impl<'de> DeserializeSeed<'de> for BackupSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BackupSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a migplan backup (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let reader = self.0;
        match map.next_key::<String>()?.as_deref() {
            Some("meta") => {}
            Some(key) => {
                return Err(de::Error::custom(format!(
                    "the backup must start with `meta`, not `{key}`"
                )));
            }
            None => return Err(de::Error::custom("the backup is empty: it has no `meta`")),
        }
        // A key given twice would silently keep its last value.
        reader.accept_meta(map.next_value_seed(super::meta::NoDuplicates)?)?;
        if reader.meta_only {
            return Err(de::Error::custom("stopped after the meta"));
        }
        let (mut data, mut summary) = (false, false);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "data" if !data => {
                    map.next_value_seed(DataSeed(&mut *reader))?;
                    data = true;
                }
                "summary" if data && !summary => {
                    map.next_value_seed(SummarySeed(&mut *reader))?;
                    summary = true;
                }
                _ => return Err(misplaced_key(&key)),
            }
        }
        if !summary {
            return Err(de::Error::custom(
                "the backup has no `summary`: the file is incomplete",
            ));
        }
        Ok(())
    }
}

fn misplaced_key<E: de::Error>(key: &str) -> E {
    E::custom(format!(
        "unexpected key `{key}`: a backup holds `meta`, `data` and `summary`, once each and in that order"
    ))
}

/// `data`: table name → array of rows.
struct DataSeed<'a, 'r>(&'a mut Reader<'r>);

impl<'de> DeserializeSeed<'de> for DataSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DataSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`data`: an object of tables")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let reader = self.0;
        while let Some(name) = map.next_key::<String>()? {
            let table = reader.begin_table(&name)?;
            let mut checksum = Checksum::with(reader.algorithm());
            reader.reading = Some(name.clone());
            map.next_value_seed(RowsSeed {
                reader: &mut *reader,
                table: &table,
                checksum: &mut checksum,
            })?;
            reader.reading = None;
            reader.visit(|v| v.end_table(&table))?;
            let computed = checksum.summary();
            reader.tables.push(ReadTable {
                name,
                computed,
                verified: false,
            });
        }
        reader.check_all_tables_read()
    }
}

/// One table's rows, each handed to the visitor as soon as it is decoded.
struct RowsSeed<'a, 'r> {
    reader: &'a mut Reader<'r>,
    table: &'a TableMeta,
    checksum: &'a mut Checksum,
}

impl<'de> DeserializeSeed<'de> for RowsSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "the rows of table `{}` as an array", self.table.name)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // Reused across rows: which columns the current row has set.
        let mut seen = vec![false; self.table.columns.len()];
        for row in 1.. {
            let ctx = RowCtx {
                table: self.table,
                row,
            };
            let Some(values) = seq.next_element_seed(RowSeed {
                ctx: &ctx,
                seen: &mut seen,
            })?
            else {
                break;
            };
            self.checksum.add_row(&values);
            if let Err(e) = self.reader.visit::<A::Error>(|v| v.row(&values)) {
                self.reader.failed_row = Some((self.table.name.clone(), row));
                return Err(e);
            }
        }
        Ok(())
    }
}

/// `summary`: table name → rows and checksum, checked against what was read.
struct SummarySeed<'a, 'r>(&'a mut Reader<'r>);

impl<'de> DeserializeSeed<'de> for SummarySeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for SummarySeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`summary`: an object of table summaries")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(name) = map.next_key::<String>()? {
            let claimed: TableSummary = map.next_value()?;
            self.0.verify(&name, &claimed)?;
        }
        self.0.check_all_tables_verified()
    }
}

/// Where a value sits, for messages: table, 1-based row.
struct RowCtx<'a> {
    table: &'a TableMeta,
    row: u64,
}

impl RowCtx<'_> {
    fn error<E: de::Error>(&self, column: Option<usize>, message: impl Display) -> E {
        let (table, row) = (&self.table.name, self.row);
        match column {
            Some(c) => E::custom(format!(
                "table `{table}`, row {row}, column `{}`: {message}",
                self.table.columns[c].name
            )),
            None => E::custom(format!("table `{table}`, row {row}: {message}")),
        }
    }
}

/// One row object → values in column order.
struct RowSeed<'a> {
    ctx: &'a RowCtx<'a>,
    seen: &'a mut Vec<bool>,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = Vec<Value>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Vec<Value>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "row {} of table `{}` as an object",
            self.ctx.row, self.ctx.table.name
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Value>, A::Error> {
        let ctx = self.ctx;
        self.seen.fill(false);
        let mut values = vec![Value::Null; self.seen.len()];
        let mut hint = 0;
        while let Some(c) = map.next_key_seed(ColumnSeed { ctx, hint })? {
            if self.seen[c] {
                return Err(ctx.error(Some(c), "the column appears twice"));
            }
            values[c] = map.next_value_seed(ValueSeed { ctx, column: c })?;
            self.seen[c] = true;
            hint = c + 1;
        }
        match self.seen.iter().position(|s| !s) {
            Some(c) => Err(ctx.error(Some(c), "the column is missing")),
            None => Ok(values),
        }
    }
}

/// A row key → its column's index.
struct ColumnSeed<'a> {
    ctx: &'a RowCtx<'a>,
    /// The index the key most likely has: rows list columns in order.
    hint: usize,
}

impl<'de> DeserializeSeed<'de> for ColumnSeed<'_> {
    type Value = usize;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for ColumnSeed<'_> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a column name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<usize, E> {
        let columns = &self.ctx.table.columns;
        if columns.get(self.hint).is_some_and(|c| c.name == key) {
            return Ok(self.hint);
        }
        columns.iter().position(|c| c.name == key).ok_or_else(|| {
            let known: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
            self.ctx.error(
                None,
                format!(
                    "unknown column `{key}` (the table's columns: {})",
                    known.join(", ")
                ),
            )
        })
    }
}

/// One value, decoded by its column's type (see the module doc).
struct ValueSeed<'a> {
    ctx: &'a RowCtx<'a>,
    column: usize,
}

impl ValueSeed<'_> {
    fn ty(&self) -> ColumnType {
        self.ctx.table.columns[self.column].ty
    }

    fn error<E: de::Error>(&self, message: impl Display) -> E {
        self.ctx.error(Some(self.column), message)
    }

    fn float<E: de::Error>(&self, s: &str) -> Result<Value, E> {
        parse_nonfinite(s).map(Value::Float).ok_or_else(|| {
            self.error(format!(
                "expected a number, \"NaN\", \"Infinity\" or \"-Infinity\", found {s:?}"
            ))
        })
    }

    fn bytes<E: de::Error>(&self, s: &str) -> Result<Value, E> {
        BASE64
            .decode(s)
            .map(Value::Bytes)
            .map_err(|e| self.error(format!("invalid base64: {e}")))
    }

    /// `{"$tag": …}`: a value that does not have its column's natural type.
    fn tagged<'de, A: MapAccess<'de>>(&self, tag: &str, map: &mut A) -> Result<Value, A::Error> {
        let value = match tag {
            "$uint" => Value::UInt(map.next_value().map_err(|e| self.error(e))?),
            "$float" => self.float(&map.next_value::<String>().map_err(|e| self.error(e))?)?,
            "$decimal" => Value::Decimal(map.next_value().map_err(|e| self.error(e))?),
            "$text" => Value::Text(map.next_value().map_err(|e| self.error(e))?),
            "$base64" => self.bytes(&map.next_value::<String>().map_err(|e| self.error(e))?)?,
            _ => return Err(self.error(format!("unknown tag `{tag}` (objects in rows are tagged values: `$text`, `$decimal`, `$float`, `$base64`, `$uint`)"))),
        };
        match map.next_key::<IgnoredAny>()? {
            Some(_) => Err(self.error("a tagged value has exactly one key")),
            None => Ok(value),
        }
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a column value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Value, E> {
        Ok(i64::try_from(u).map_or(Value::UInt(u), Value::Int))
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        match self.ty() {
            ColumnType::Float => self.float(s),
            ColumnType::Decimal => Ok(Value::Decimal(s.to_owned())),
            ColumnType::Blob => self.bytes(s),
            _ => Ok(Value::Text(s.to_owned())),
        }
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        match self.ty() {
            ColumnType::Float | ColumnType::Blob => self.visit_str(&s),
            ColumnType::Decimal => Ok(Value::Decimal(s)),
            _ => Ok(Value::Text(s)),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Value, A::Error> {
        Err(self.error("an array is not a column value"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        match map.next_key::<String>()? {
            Some(tag) => self.tagged(&tag, &mut map),
            None => Err(self.error("an empty object is not a column value")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ColumnInfo;

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let inputs = [
            "",
            "plain",
            "题目 😀",
            "a\"b",
            "back\\slash",
            "tab\tnl\ncr\r",
            "\u{1}\u{1f}",
            "\u{7f}",
            "</script>",
            "x".repeat(1000).as_str(),
            "end\"",
        ]
        .map(String::from);
        for s in inputs {
            let mut ours = Vec::new();
            json_str(&mut ours, &s).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(&s).unwrap()
            );
        }
    }

    const ALL_TYPES: [ColumnType; 13] = [
        ColumnType::Bool,
        ColumnType::Int,
        ColumnType::Float,
        ColumnType::Decimal,
        ColumnType::Text,
        ColumnType::Blob,
        ColumnType::Date,
        ColumnType::Time,
        ColumnType::Timestamp,
        ColumnType::TimestampTz,
        ColumnType::Json,
        ColumnType::Uuid,
        ColumnType::Any,
    ];

    fn column(name: &str, ty: ColumnType) -> ColumnInfo {
        ColumnInfo {
            name: name.into(),
            ty,
            sql_type: ty.name().to_uppercase(),
            nullable: true,
            has_default: false,
        }
    }

    fn table(name: &str, columns: Vec<ColumnInfo>) -> TableMeta {
        TableMeta {
            name: name.into(),
            module: None,
            columns,
            primary_key: vec!["id".into()],
            foreign_keys: Vec::new(),
            rows: 0,
            changed_column: None,
        }
    }

    fn meta(tables: Vec<TableMeta>) -> BackupMeta {
        BackupMeta {
            format: FORMAT_NAME.into(),
            format_version: FORMAT_VERSION,
            tool_version: "0.1.0".into(),
            plan: Some("full".into()),
            schema_version: Some(3),
            exported_at: "2024-05-01T12:00:00Z".into(),
            export_type: "full".into(),
            modules: Vec::new(),
            incremental_since: None,
            backup_id: None,
            follows: None,
            sequences: vec![],
            source_engine: "sqlite".into(),
            tables,
        }
    }

    fn users() -> TableMeta {
        let cols = vec![
            column("id", ColumnType::Int),
            column("name", ColumnType::Text),
            column("avatar", ColumnType::Blob),
            column("score", ColumnType::Float),
            column("balance", ColumnType::Decimal),
        ];
        table("users", cols)
    }

    fn questions() -> TableMeta {
        table(
            "questions",
            vec![
                column("id", ColumnType::Int),
                column("body", ColumnType::Any),
            ],
        )
    }

    fn user_rows() -> Vec<Vec<Value>> {
        vec![
            vec![
                Value::Int(1),
                Value::Text("Alice".into()),
                Value::Bytes(b"hello".to_vec()),
                Value::Float(0.5),
                Value::Decimal("12.50".into()),
            ],
            vec![
                Value::Int(2),
                Value::Text("张三".into()),
                Value::Null,
                Value::Float(f64::NAN),
                Value::Text("not a number".into()),
            ],
        ]
    }

    fn two_tables() -> (BackupMeta, Vec<Vec<Vec<Value>>>) {
        let rows = vec![user_rows(), Vec::new()];
        (meta(vec![users(), questions()]), rows)
    }

    fn write_backup(path: &Path, meta: &BackupMeta, rows: &[Vec<Vec<Value>>]) -> Vec<TableSummary> {
        let mut w: Box<dyn BackupWriter> = Box::new(JsonWriter::create(path, meta).unwrap());
        let mut summaries = Vec::new();
        for (t, rows) in meta.tables.iter().zip(rows) {
            w.begin_table(t).unwrap();
            for row in rows {
                w.write_row(row).unwrap();
            }
            summaries.push(w.end_table().unwrap());
        }
        w.finish().unwrap();
        summaries
    }

    /// Writes the standard two-table backup and returns its text.
    fn sample(dir: &tempfile::TempDir) -> (std::path::PathBuf, String) {
        let path = dir.path().join("backup.json");
        let (meta, rows) = two_tables();
        write_backup(&path, &meta, &rows);
        let text = std::fs::read_to_string(&path).unwrap();
        (path, text)
    }

    #[derive(Default)]
    struct Recorder {
        meta: Option<BackupMeta>,
        tables: Vec<(String, Vec<Vec<Value>>)>,
        ended: Vec<String>,
        fail_on_row: bool,
    }

    impl BackupVisitor for Recorder {
        fn meta(&mut self, meta: &BackupMeta) -> Result<()> {
            self.meta = Some(meta.clone());
            Ok(())
        }
        fn begin_table(&mut self, table: &TableMeta) -> Result<()> {
            self.tables.push((table.name.clone(), Vec::new()));
            Ok(())
        }
        fn row(&mut self, row: &[Value]) -> Result<()> {
            if self.fail_on_row {
                return Err(Error::db("inserting into `users`", "disk full"));
            }
            self.tables.last_mut().unwrap().1.push(row.to_vec());
            Ok(())
        }
        fn end_table(&mut self, table: &TableMeta) -> Result<()> {
            self.ended.push(table.name.clone());
            Ok(())
        }
    }

    fn read_text(dir: &tempfile::TempDir, text: &str) -> Result<Recorder> {
        let path = dir.path().join("edited.json");
        std::fs::write(&path, text).unwrap();
        let mut rec = Recorder::default();
        read(&path, &mut rec).map(|()| rec)
    }

    fn message(result: Result<impl Sized>) -> String {
        match result {
            Ok(_) => panic!("expected an error"),
            Err(e @ Error::Backup { .. }) => e.to_string(),
            Err(e) => panic!("expected a backup error, got {e:?}"),
        }
    }

    /// Floats compare by bits: NaN equals itself, -0.0 differs from 0.0.
    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
            _ => a == b,
        }
    }

    fn awkward_values() -> Vec<Value> {
        let mut values = vec![
            Value::Null,
            Value::Bool(true),
            Value::Bool(false),
            Value::Int(0),
            Value::Int(i64::MIN),
            Value::Int(i64::MAX),
            Value::UInt(0),
            Value::UInt(5),
            Value::UInt(i64::MAX as u64),
            Value::UInt(i64::MAX as u64 + 1),
            Value::UInt(u64::MAX),
            Value::Decimal("12.50".into()),
            Value::Decimal("-123456789012345678901234567890.000000000000000000000000000001".into()),
            Value::Decimal("0".into()),
            Value::Text("张三 李四".into()),
            Value::Text("🦀 emoji \u{1F600}".into()),
            Value::Text("1".into()),
            Value::Text("1.5".into()),
            Value::Text("NaN".into()),
            Value::Text("aGVsbG8=".into()),
            Value::Text(String::new()),
            Value::Text("quote \" backslash \\ newline \n tab \t nul \0".into()),
            Value::Bytes(Vec::new()),
            Value::Bytes((0..=255u8).collect()),
        ];
        let floats = [
            0.0,
            -0.0,
            0.1,
            1.0,
            -1.5,
            1e300,
            1e-320,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
            f64::NAN,
            -f64::NAN,
            f64::from_bits(0x7ff0_0000_0000_0001),
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        values.extend(floats.map(Value::Float));
        values
    }

    fn encode(value: &Value, ty: ColumnType) -> String {
        let mut out = Vec::new();
        write_value(&mut out, value, ty, &mut String::new()).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn decode(text: &str, ty: ColumnType) -> std::result::Result<Value, serde_json::Error> {
        let t = table("t", vec![column("c", ty)]);
        let ctx = RowCtx { table: &t, row: 1 };
        let mut de = serde_json::Deserializer::from_str(text);
        let value = ValueSeed {
            ctx: &ctx,
            column: 0,
        }
        .deserialize(&mut de)?;
        de.end()?;
        Ok(value)
    }

    #[test]
    fn every_value_round_trips_in_every_column_type() {
        for ty in ALL_TYPES {
            for value in awkward_values() {
                let text = encode(&value, ty);
                let back = decode(&text, ty)
                    .unwrap_or_else(|e| panic!("{value:?} as {ty:?} → {text}: {e}"));
                assert!(
                    same(&value, &back),
                    "{value:?} as {ty:?} → {text} → {back:?}"
                );
            }
        }
    }

    #[test]
    fn values_use_their_natural_encoding() {
        assert_eq!(encode(&Value::Float(1.0), ColumnType::Float), "1.0");
        assert_eq!(encode(&Value::Float(-0.0), ColumnType::Float), "-0.0");
        assert_eq!(encode(&Value::Float(1e300), ColumnType::Any), "1e+300");
        assert_eq!(
            encode(&Value::Float(f64::NAN), ColumnType::Float),
            "\"NaN\""
        );
        assert_eq!(
            encode(&Value::Float(f64::NAN), ColumnType::Int),
            r#"{"$float":"NaN"}"#
        );
        assert_eq!(
            encode(&Value::Decimal("1.50".into()), ColumnType::Decimal),
            "\"1.50\""
        );
        assert_eq!(
            encode(&Value::Decimal("1.50".into()), ColumnType::Text),
            r#"{"$decimal":"1.50"}"#
        );
        assert_eq!(
            encode(&Value::Bytes(b"hello".to_vec()), ColumnType::Blob),
            "\"aGVsbG8=\""
        );
        assert_eq!(
            encode(&Value::Bytes(b"hello".to_vec()), ColumnType::Any),
            r#"{"$base64":"aGVsbG8="}"#
        );
        assert_eq!(encode(&Value::Text("x".into()), ColumnType::Int), "\"x\"");
        assert_eq!(
            encode(&Value::Text("x".into()), ColumnType::Decimal),
            r#"{"$text":"x"}"#
        );
        assert_eq!(
            encode(&Value::UInt(u64::MAX), ColumnType::Int),
            "18446744073709551615"
        );
    }

    #[test]
    fn malformed_values_are_refused_with_their_place() {
        let cases = [
            ("\"%%%\"", ColumnType::Blob, "invalid base64"),
            ("[1]", ColumnType::Any, "an array is not a column value"),
            ("{}", ColumnType::Any, "an empty object"),
            (r#"{"$nope":"1"}"#, ColumnType::Any, "unknown tag `$nope`"),
            (
                r#"{"$text":"a","$decimal":"1"}"#,
                ColumnType::Any,
                "exactly one key",
            ),
            ("\"1.5\"", ColumnType::Float, "expected a number"),
        ];
        for (text, ty, expected) in cases {
            let err = decode(text, ty).unwrap_err().to_string();
            assert!(
                err.contains("table `t`, row 1, column `c`"),
                "{text}: {err}"
            );
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn two_tables_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out").join("backup.json");
        let (meta, rows) = two_tables();
        let summaries = write_backup(&path, &meta, &rows);
        assert_eq!(summaries[0].rows, 2);

        let mut rec = Recorder::default();
        read(&path, &mut rec).unwrap();
        let json = |m: &BackupMeta| serde_json::to_value(m).unwrap();
        assert_eq!(json(rec.meta.as_ref().unwrap()), json(&meta));
        assert_eq!(rec.tables.len(), 2);
        for ((name, got), (t, want)) in rec.tables.iter().zip(meta.tables.iter().zip(&rows)) {
            assert_eq!(name, &t.name);
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(want) {
                assert!(g.iter().zip(w).all(|(a, b)| same(a, b)), "{g:?} != {w:?}");
            }
        }
        assert_eq!(rec.ended, ["users", "questions"]);
    }

    #[test]
    fn rows_are_one_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let (_, text) = sample(&dir);
        assert!(text.starts_with("{\"meta\": {"));
        assert!(text.contains(
            "\n{\"id\":1,\"name\":\"Alice\",\"avatar\":\"aGVsbG8=\",\"score\":0.5,\"balance\":\"12.50\"},\n"
        ));
        assert!(text.contains("\"questions\": [\n]"));
        let summary = text.find("\"summary\"").unwrap();
        assert!(summary > text.find("\"data\"").unwrap());
    }

    #[test]
    fn truncated_file_is_a_positioned_error() {
        let dir = tempfile::tempdir().unwrap();
        let (_, text) = sample(&dir);
        let complete = text.trim_end().len();
        for cut in 0..complete {
            if !text.is_char_boundary(cut) {
                continue;
            }
            match read_text(&dir, &text[..cut]) {
                Err(Error::Backup {
                    position: Some(_), ..
                }) => {}
                Err(e) => panic!("cut at {cut}: {e:?}"),
                Ok(_) => panic!("cut at {cut}: accepted"),
            }
        }
    }

    #[test]
    fn truncated_file_error_names_the_position() {
        let dir = tempfile::tempdir().unwrap();
        let (_, text) = sample(&dir);
        let cut = text.find("{\"id\":2").unwrap();
        let msg = message(read_text(&dir, &text[..cut]));
        assert!(msg.contains("edited.json:"), "{msg}");
        assert!(msg.contains("EOF while parsing"), "{msg}");
    }

    #[test]
    fn edited_value_is_a_checksum_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let (_, text) = sample(&dir);
        let edited = text.replacen("\"Alice\"", "\"Alicf\"", 1);
        let msg = message(read_text(&dir, &edited));
        assert!(msg.contains("table `users`: checksum mismatch"), "{msg}");
        assert!(msg.contains("the file was changed or damaged"), "{msg}");
    }

    #[test]
    fn removed_row_is_a_row_count_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let (_, text) = sample(&dir);
        let start = text.find(",\n{\"id\":2").unwrap();
        let end = start + 2 + text[start + 2..].find('\n').unwrap();
        let edited = format!("{}{}", &text[..start], &text[end..]);
        let msg = message(read_text(&dir, &edited));
        assert!(msg.contains("row count mismatch"), "{msg}");
    }

    /// Format version 1 backups carry SHA-256 checksums: still read and
    /// verified (the tiku fixture was written by a version-1 migplan).
    #[test]
    fn version_1_backups_are_verified_by_their_sha256() {
        let fixture = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/tiku/fixtures/tiku-v1.json"
        );
        let text = std::fs::read_to_string(fixture).unwrap();
        assert!(text.contains("\"format_version\": 1") && text.contains("\"sha256\""));
        let dir = tempfile::tempdir().unwrap();
        let rec = read_text(&dir, &text).unwrap();
        assert!(rec.tables.iter().map(|t| t.1.len()).sum::<usize>() > 0);
        // One row's value changed: the SHA-256 no longer matches.
        let edited = text.replacen("\"username\":\"", "\"username\":\"x", 1);
        assert_ne!(edited, text);
        let msg = message(read_text(&dir, &edited));
        assert!(
            msg.contains("checksum mismatch: the backup says sha256"),
            "{msg}"
        );
        // A version-2 file must carry BLAKE3: SHA-256 alone is refused.
        let v2 = text.replacen("\"format_version\": 1", "\"format_version\": 2", 1);
        let msg = message(read_text(&dir, &v2));
        assert!(msg.contains("has no `blake3` checksum"), "{msg}");
    }

    #[test]
    fn newer_format_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.json");
        let (mut meta, rows) = two_tables();
        meta.format_version = FORMAT_VERSION + 1;
        write_backup(&path, &meta, &rows);
        let expected =
            "was written by a newer migplan (format version 3); this migplan reads up to 2";
        assert!(message(read(&path, &mut Recorder::default())).contains(expected));
        assert!(message(read_meta(&path)).contains(expected));
    }

    #[test]
    fn other_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let msg = message(read_text(&dir, r#"{"meta": {"format": "something-else"}}"#));
        assert!(msg.contains("not a migplan backup"), "{msg}");
    }

    #[test]
    fn unknown_table_in_data_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (_, text) = sample(&dir);
        let msg = message(read_text(
            &dir,
            &text.replacen("\"users\": [", "\"userz\": [", 1),
        ));
        assert!(msg.contains("unknown table `userz`"), "{msg}");
    }

    #[test]
    fn unknown_missing_and_duplicate_columns_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (_, text) = sample(&dir);
        let cases = [
            (
                "{\"id\":2,\"name\":",
                "{\"id\":2,\"nick\":",
                "table `users`, row 2: unknown column `nick`",
            ),
            (
                "{\"id\":2,\"name\":",
                "{\"id\":2,\"id\":2,\"name\":",
                "row 2, column `id`: the column appears twice",
            ),
            (
                "{\"id\":1,",
                "{",
                "table `users`, row 1, column `id`: the column is missing",
            ),
        ];
        for (from, to, expected) in cases {
            let msg = message(read_text(&dir, &text.replacen(from, to, 1)));
            assert!(msg.contains(expected), "{msg}");
        }
    }

    #[test]
    fn missing_summary_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (_, text) = sample(&dir);
        let cut = text.find(",\n\"summary\"").unwrap();
        let msg = message(read_text(&dir, &format!("{}\n}}\n", &text[..cut])));
        assert!(msg.contains("no `summary`"), "{msg}");
    }

    #[test]
    fn unknown_top_level_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (_, text) = sample(&dir);
        let edited = text.replacen("\n\"data\": {", "\n\"extra\": 1,\n\"data\": {", 1);
        let msg = message(read_text(&dir, &edited));
        assert!(msg.contains("unexpected key `extra`"), "{msg}");
    }

    #[test]
    fn visitor_errors_propagate_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = sample(&dir);
        let mut rec = Recorder {
            fail_on_row: true,
            ..Recorder::default()
        };
        match read(&path, &mut rec) {
            Err(Error::Database { message, .. }) => assert_eq!(message, "disk full"),
            other => panic!("expected the visitor's error, got {other:?}"),
        }
    }

    #[test]
    fn read_meta_does_not_parse_the_data() {
        let dir = tempfile::tempdir().unwrap();
        let (_, text) = sample(&dir);
        let end = text.find("\n\"data\"").unwrap();
        let garbage = format!("{}\n\"data\": {{ this is not json at all [[[", &text[..end]);
        let path = dir.path().join("garbage.json");
        std::fs::write(&path, garbage).unwrap();
        let meta = read_meta(&path).unwrap();
        assert_eq!(meta.tables.len(), 2);
        assert!(read(&path, &mut Recorder::default()).is_err());
    }

    #[test]
    fn compressed_backups_read_like_plain_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (meta, rows) = two_tables();
        for c in [Compression::Zstd, Compression::Gzip] {
            let path = dir.path().join(format!("backup{}", c.json_extension()));
            let mut w = JsonWriter::create_compressed(&path, &meta, c).unwrap();
            for (t, rows) in meta.tables.iter().zip(&rows) {
                w.begin_table(t).unwrap();
                for r in rows {
                    w.write_row(r).unwrap();
                }
                w.end_table().unwrap();
            }
            Box::new(w).finish().unwrap();
            assert_eq!(Compression::of_file(&path).unwrap(), c);
            assert_eq!(
                super::super::Format::detect(&path).unwrap(),
                super::super::Format::Json
            );
            assert_eq!(read_meta(&path).unwrap().tables.len(), 2);
            let mut rec = Recorder::default();
            read(&path, &mut rec).unwrap();
            assert_eq!(rec.tables[0].1.len(), rows[0].len());
            assert_eq!(rec.ended, ["users", "questions"]);
            // Cut short: refused, naming the file and the codec.
            let bytes = std::fs::read(&path).unwrap();
            let cut = dir.path().join(format!("cut{}", c.json_extension()));
            std::fs::write(&cut, &bytes[..bytes.len() - 12]).unwrap();
            let msg = message(read(&cut, &mut Recorder::default()));
            assert!(msg.contains("cut.json"), "{msg}");
            assert!(
                msg.contains(&format!("the {c} compressed data is damaged or cut short")),
                "{msg}"
            );
        }
    }

    #[test]
    fn dropped_writer_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backup.json");
        let (meta, rows) = two_tables();
        let mut w = JsonWriter::create(&path, &meta).unwrap();
        w.begin_table(&meta.tables[0]).unwrap();
        w.write_row(&rows[0][0]).unwrap();
        drop(w);
        assert!(!path.exists());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "temporary file left behind"
        );
    }

    #[cfg(unix)]
    #[test]
    fn finished_backup_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = sample(&dir);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn row_of_wrong_width_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (meta, _) = two_tables();
        let mut w = JsonWriter::create(&dir.path().join("b.json"), &meta).unwrap();
        w.begin_table(&meta.tables[1]).unwrap();
        assert!(w.write_row(&[Value::Int(1)]).is_err());
    }

    #[test]
    fn values_longer_than_the_limit_are_refused_where_they_are() {
        use std::io::Read;
        let read = |text: &str, limit: u64| {
            let mut r = ValueLimit::new(text.as_bytes(), limit);
            let mut out = Vec::new();
            r.read_to_end(&mut out).map_err(|e| {
                let t = e.get_ref().unwrap().downcast_ref::<ValueTooLong>().unwrap();
                (t.line, t.column)
            })
        };
        // The quotes count; escapes count as written.
        assert!(read(r#"{"a": "12345678"}"#, 10).is_ok());
        assert_eq!(read("{\n\"a\": \"123456789\"}", 10), Err((2, 6)));
        assert_eq!(read("[1,\n  12345678901]", 10), Err((2, 3)));
        assert!(read(r#"["\"\\\"x"]"#, 10).is_ok());
        assert!(read(r#"["\"\\\"xyz"]"#, 10).is_err());
        // Numbers and other tokens too; structure and white space do not.
        assert!(read("[1234567890, 1]", 10).is_ok());
        assert!(read("[12345678901]", 10).is_err());
        assert!(read(&format!("[{}1]", " ".repeat(100)), 10).is_ok());
    }
}

//! Writing a JSON backup: rows streamed, the summary written last.

use super::*;

// ---------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------

/// Streams a backup to a temporary file that becomes `path` on `finish`.
pub struct JsonWriter {
    out: CompressedFile,
    table: Option<OpenTable>,
    /// Tables already written, with their summaries, for the trailer.
    done: Vec<(String, TableSummary)>,
    rows: RowEncoder,
}

/// The table being written.
struct OpenTable {
    name: String,
    types: Vec<ColumnType>,
    checksum: Checksum,
}

impl OpenTable {
    fn new(table: &TableMeta) -> Self {
        OpenTable {
            name: table.name.clone(),
            types: table.columns.iter().map(|c| c.ty).collect(),
            checksum: Checksum::new(),
        }
    }
}

/// Turns rows into their bytes, the same for a table written in place and
/// one written apart.
struct RowEncoder {
    /// Reused for base64 so that rows allocate nothing.
    scratch: String,
    /// One row's bytes, gathered so that the file sees one write per row
    /// rather than one per value.
    line: Vec<u8>,
}

impl RowEncoder {
    fn new() -> Self {
        RowEncoder {
            scratch: String::new(),
            line: Vec::with_capacity(4096),
        }
    }

    /// `row`'s bytes, its values added to the table's checksum; a row of
    /// the wrong length is the caller's bug, reported as `Err(message)`.
    fn encode(
        &mut self,
        table: &mut OpenTable,
        row: &[Value],
    ) -> std::result::Result<&[u8], String> {
        if row.len() != table.types.len() {
            return Err(format!(
                "table `{}`: a row has {} values but the table has {} columns",
                table.name,
                row.len(),
                table.types.len()
            ));
        }
        self.line.clear();
        write_row(&mut self.line, table, row, &mut self.scratch).map_err(|e| e.to_string())?;
        table.checksum.add_row(row);
        Ok(&self.line)
    }
}

/// One table's rows written apart ([`crate::format::apart_writer`]).
pub(in crate::format) fn apart_writer(table: &TableMeta) -> Box<dyn TableWriter> {
    Box::new(ApartTable {
        table: OpenTable::new(table),
        rows: RowEncoder::new(),
        body: Body::default(),
    })
}

/// One table's rows written apart, waiting for its place in the file.
struct ApartTable {
    table: OpenTable,
    rows: RowEncoder,
    body: Body,
}

impl TableWriter for ApartTable {
    fn write_row(&mut self, row: &[Value]) -> Result<()> {
        let bytes = match self.rows.encode(&mut self.table, row) {
            Ok(bytes) => bytes,
            Err(message) => return Err(apart_error(&self.table.name, message)),
        };
        self.body
            .write_all(bytes)
            .map_err(|e| apart_error(&self.table.name, format!("a temporary file: {e}")))
    }

    fn finish(self: Box<Self>) -> Result<WrittenTable> {
        let ApartTable {
            table, mut body, ..
        } = *self;
        body.write_all(b"\n]")
            .map_err(|e| apart_error(&table.name, format!("a temporary file: {e}")))?;
        Ok(WrittenTable {
            summary: table.checksum.summary(),
            name: table.name,
            body,
        })
    }
}

fn apart_error(table: &str, message: String) -> Error {
    Error::Backup {
        path: std::env::temp_dir(),
        position: None,
        message: format!("writing table `{table}`: {message}"),
    }
}

impl JsonWriter {
    pub fn create(path: &Path, meta: &BackupMeta) -> Result<Self> {
        Self::create_compressed(path, meta, Compression::None, None)
    }

    /// A writer whose bytes go through `compression`, then are encrypted to
    /// `recipients` if any (the file name is the caller's choice;
    /// [`Compression::json_extension`] is the usual one, `.age` after it).
    pub fn create_compressed(
        path: &Path,
        meta: &BackupMeta,
        compression: Compression,
        recipients: Option<&Recipients>,
    ) -> Result<Self> {
        let mut out = CompressedFile::create(path, compression, recipients)?;
        write_head(&mut out, meta).map_err(|e| Error::io(path, e))?;
        Ok(JsonWriter {
            out,
            table: None,
            done: Vec::new(),
            rows: RowEncoder::new(),
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
        match self.rows.encode(table, row) {
            Ok(bytes) => self
                .out
                .write_all(bytes)
                .map_err(|e| Error::io(self.out.path(), e)),
            Err(message) => Err(self.misuse(message)),
        }
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

    fn place_table(&mut self, table: WrittenTable) -> Result<TableSummary> {
        if let Some(open) = &self.table {
            return Err(self.misuse(format!("table `{}` was not ended", open.name)));
        }
        let sep: &[u8] = if self.done.is_empty() { b"\n" } else { b",\n" };
        let WrittenTable {
            name,
            summary,
            body,
        } = table;
        write_table_head(&mut self.out, sep, &name)
            .and_then(|()| body.copy_to(&mut self.out))
            .map_err(|e| Error::io(self.out.path(), e))?;
        self.done.push((name, summary.clone()));
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

/// One row: an array of its values in column order (format version 3).
fn write_row(
    w: &mut Vec<u8>,
    table: &OpenTable,
    row: &[Value],
    scratch: &mut String,
) -> io::Result<()> {
    w.extend_from_slice(if table.checksum.rows() == 0 {
        b"\n["
    } else {
        b",\n["
    });
    for (i, (value, ty)) in row.iter().zip(&table.types).enumerate() {
        if i > 0 {
            w.push(b',');
        }
        write_value(w, value, *ty, scratch)?;
    }
    w.push(b']');
    Ok(())
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
pub(super) fn write_value(
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
        Value::Decimal(d) => tagged(w, ty != T::Decimal, "$decimal", |w| json_str(w, d)),
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
pub(super) fn json_str(w: &mut impl Write, s: &str) -> io::Result<()> {
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

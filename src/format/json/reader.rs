//! Reading a JSON backup as a stream: the meta checked whole, every row
//! handed to the visitor, the summary verified, values bounded in size.

use super::*;

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
            .and_then(|(file, _)| crate::format::position::row_line(file, &table, row));
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
        let meta = match crate::format::meta::from_json(raw) {
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
pub(super) struct ValueLimit<R> {
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
pub(super) struct ValueTooLong {
    pub(super) limit: u64,
    pub(super) line: usize,
    pub(super) column: usize,
}

impl fmt::Display for ValueTooLong {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a value longer than {}", bytes_shown(self.limit))
    }
}

impl std::error::Error for ValueTooLong {}

impl<R> ValueLimit<R> {
    pub(super) fn new(inner: R, limit: u64) -> Self {
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
fn meta_error(path: &Path, problem: &crate::format::meta::MetaProblem) -> Error {
    const HEAD: u64 = 16 << 20;
    let mut head = Vec::new();
    if let Ok((file, _)) = compress::open_reader(path) {
        let _ = io::Read::read_to_end(&mut io::Read::take(file, HEAD), &mut head);
    }
    let head = String::from_utf8_lossy(&head);
    Error::Backup {
        path: path.to_path_buf(),
        position: crate::format::meta::locate(&head, &problem.at),
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
        reader.accept_meta(map.next_value_seed(crate::format::meta::NoDuplicates)?)?;
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
pub(super) struct RowCtx<'a> {
    pub(super) table: &'a TableMeta,
    pub(super) row: u64,
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
pub(super) struct ValueSeed<'a> {
    pub(super) ctx: &'a RowCtx<'a>,
    pub(super) column: usize,
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

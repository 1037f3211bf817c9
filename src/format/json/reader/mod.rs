//! Reading a JSON backup as a stream: the meta checked whole, every row
//! handed to the visitor, the summary verified, values bounded in size.
//!
//! Here the read's state and the file's outline (`meta`, `data`,
//! `summary`); `decode.rs` decodes a row's values by their columns' types,
//! `limit.rs` bounds every value before serde_json gathers it.

pub(super) mod decode;
pub(super) mod limit;

use super::*;
use decode::{RowCtx, RowSeed};
use limit::{MetaBudget, READ_BUFFER, ValueLimit, meta_too_long_error, too_long_error};
use std::cell::Cell;
use std::rc::Rc;

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
    /// True until the meta is read: the bytes read are bounded meanwhile
    /// (`[import] max_meta_bytes`).
    reading_meta: Rc<Cell<bool>>,
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
            reading_meta: Rc::new(Cell::new(true)),
        }
    }

    fn parse(&mut self) -> Result<()> {
        let path = self.path;
        // Plain, zstd or gzip: told by the first bytes, decompressed on the fly.
        let (file, _) = compress::open_reader(path)?;
        let limits = limits::current();
        // Looking for the meta's end reads so much and no more.
        let file = MetaBudget::new(file, limits.max_meta_bytes, self.reading_meta.clone());
        // serde_json builds each string whole: bound it before it sees it.
        let file = ValueLimit::new(file, limits.max_value_bytes);
        // serde_json pulls one byte at a time: through a `BufReader` it takes
        // std's inlined fast path instead of a `dyn Read` call per byte.
        let mut de =
            serde_json::Deserializer::from_reader(io::BufReader::with_capacity(READ_BUFFER, file));
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

/// A meta problem at its place in the file: the head is read again (it is
/// small, and this happens once, on the way out) to find the field.
fn meta_error(path: &Path, problem: &crate::format::meta::MetaProblem) -> Error {
    // The meta was read whole within this budget: its place is there.
    let head_bytes = limits::current().max_meta_bytes + READ_BUFFER as u64;
    let mut head = Vec::new();
    if let Ok((file, _)) = compress::open_reader(path) {
        let _ = io::Read::read_to_end(&mut io::Read::take(file, head_bytes), &mut head);
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
            .or_else(|| meta_too_long_error(path, &e))
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
        reader.reading_meta.set(false);
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

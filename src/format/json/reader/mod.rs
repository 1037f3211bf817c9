//! Reading a JSON backup as a stream: the meta checked whole, every row
//! handed to the visitor, the summary verified, values bounded in size.
//!
//! Here the read's state and the file's outline (`meta`, `data`,
//! `summary`), walked by hand; `frame.rs` finds each piece serde_json
//! parses (a key, the meta, a row, the summary) whole in the stream, within
//! the reading limits, and places problems at `line:column`; `decode.rs`
//! decodes a row's values by their columns' types.

pub(super) mod decode;
pub(super) mod frame;
pub(super) mod limit;

use super::*;
use crate::format::limits::ReadLimits;
use decode::{RowCtx, RowSeed};
use frame::{Frame, Place, Problem};
use limit::{READ_BUFFER, too_long_error};

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
    /// The line the row whose visit failed starts on, to place the error.
    failed_row: Option<usize>,
    /// An error that is not about the file's syntax (the visitor's own, a
    /// newer format): the reader (and serde, inside a piece) unwinds with a
    /// stand-in, then this is returned unchanged.
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
        let mut frame = Frame::new(file);
        let outcome = self.outline(&mut frame, &limits::current());
        if let Some(failure) = self.failure.take() {
            return Err(self.placed(failure));
        }
        outcome.map_err(|p| problem_error(path, p, self.reading.as_deref()))
    }

    /// The whole file: `meta`, then `data`, then `summary`, and nothing
    /// after them.
    fn outline<R: io::Read>(
        &mut self,
        f: &mut Frame<R>,
        limits: &ReadLimits,
    ) -> Result<(), Problem> {
        match f.peek()? {
            Some(b'{') => f.bump(),
            Some(_) => return Err(f.syntax("expected a migplan backup (a JSON object)")),
            None => return Err(f.after("EOF while parsing a value")),
        }
        if f.peek()? == Some(b'}') {
            return Err(f.syntax("the backup is empty: it has no `meta`"));
        }
        let first = key(f, limits)?;
        if first != "meta" {
            return Err(f.after(format!("the backup must start with `meta`, not `{first}`")));
        }
        f.expect(b':', "`:`", "an object")?;
        let meta = match f.piece(limits.max_value_bytes, limits.max_meta_bytes, u64::MAX) {
            Err(Problem::PieceTooLong { .. }) => {
                return Err(Problem::PieceTooLong {
                    limit: limits.max_meta_bytes,
                });
            }
            other => other?,
        };
        // A key given twice would silently keep its last value.
        let raw = parse_piece(f, meta, crate::format::meta::NoDuplicates)?;
        here(f, self.accept_meta(raw))?;
        if self.meta_only {
            return Ok(());
        }
        let (mut data, mut summary) = (false, false);
        while f.next_item(b'}', false)? {
            let name = key(f, limits)?;
            match name.as_str() {
                "data" if !data => {
                    f.expect(b':', "`:`", "an object")?;
                    self.data(f, limits)?;
                    data = true;
                }
                "summary" if data && !summary => {
                    f.expect(b':', "`:`", "an object")?;
                    let piece = f.piece(limits.max_value_bytes, limits.max_meta_bytes, u64::MAX)?;
                    parse_piece(f, piece, SummarySeed(&mut *self))?;
                    summary = true;
                }
                _ => return Err(f.after(misplaced_key(&name))),
            }
        }
        if !summary {
            return Err(f.after("the backup has no `summary`: the file is incomplete"));
        }
        match f.peek()? {
            None => Ok(()),
            Some(_) => Err(f.syntax("trailing characters")),
        }
    }

    /// `data`: table name → array of rows.
    fn data<R: io::Read>(&mut self, f: &mut Frame<R>, limits: &ReadLimits) -> Result<(), Problem> {
        f.expect(b'{', "`data`: an object of tables", "an object")?;
        let mut first = true;
        while f.next_item(b'}', first)? {
            first = false;
            let name = key(f, limits)?;
            f.expect(b':', "`:`", "an object")?;
            let table = here(f, self.begin_table(&name))?;
            let mut checksum = Checksum::with(self.algorithm());
            self.reading = Some(name.clone());
            self.rows(f, limits, &table, &mut checksum)?;
            self.reading = None;
            here(f, self.visit(|v| v.end_table(&table)))?;
            let computed = checksum.summary();
            self.tables.push(ReadTable {
                name,
                computed,
                verified: false,
            });
        }
        here(f, self.check_all_tables_read())
    }

    /// One table's rows, each handed to the visitor as soon as it is decoded.
    fn rows<R: io::Read>(
        &mut self,
        f: &mut Frame<R>,
        limits: &ReadLimits,
        table: &TableMeta,
        checksum: &mut Checksum,
    ) -> Result<(), Problem> {
        let what = format!("the rows of table `{}` as an array", table.name);
        f.expect(b'[', &what, "a list")?;
        // A row holds its columns' values, each bounded, with a few
        // brackets, separators and spaces around each: so is the row.
        let columns = table.columns.len() as u64;
        let row_limit = (limits.max_value_bytes.saturating_add(64))
            .saturating_mul(columns + 1)
            .saturating_add(1 << 16);
        let crowd = (1 << 16) + 16 * columns;
        // Reused across rows: which columns the current row has set.
        let mut seen = vec![false; table.columns.len()];
        for row in 1.. {
            if !f.next_item(b']', row == 1)? {
                break;
            }
            let ctx = RowCtx { table, row };
            let at = f.here()?;
            let piece = match f.piece(limits.max_value_bytes, row_limit, crowd) {
                Err(Problem::Crowded { .. } | Problem::PieceTooLong { .. }) => {
                    let (line, column) = (at.line, at.column());
                    return Err(Problem::Syntax {
                        line,
                        column,
                        message: format!(
                            "table `{}`, row {row}: the row goes on far past its {columns} columns' values",
                            table.name
                        ),
                    });
                }
                other => other?,
            };
            let starts = piece.1.line;
            let values = parse_piece(
                f,
                piece,
                RowSeed {
                    ctx: &ctx,
                    seen: &mut seen,
                },
            )?;
            checksum.add_row(&values);
            if let Err(e) = self.visit(|v| v.row(&values)) {
                self.failed_row = Some(starts);
                return Err(here_problem(f, e));
            }
        }
        Ok(())
    }

    /// A refused row, with the line of the file it starts on.
    fn placed(&mut self, failure: Error) -> Error {
        match (&failure, self.failed_row.take()) {
            (Error::Row(message), Some(line)) => {
                Error::Row(format!("{}:{line}: {message}", self.path.display()))
            }
            _ => failure,
        }
    }

    /// Calls the visitor, stashing its error and unwinding with a stand-in.
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

/// Turns what stopped the reader into a backup error at its `line:column`.
/// `table`: the table being read, if any.
fn problem_error(path: &Path, problem: Problem, table: Option<&str>) -> Error {
    match problem {
        Problem::Io(e) => compress::corrupt_error(path, &e).unwrap_or_else(|| Error::io(path, e)),
        Problem::Syntax {
            line,
            column,
            message,
        } => Error::Backup {
            path: path.to_path_buf(),
            position: (line > 0).then_some((line, column)),
            message,
        },
        Problem::ValueTooLong {
            line,
            column,
            limit,
        } => too_long_error(path, table, limit, (line, column)),
        Problem::PieceTooLong { limit } => Error::MetaTooLong {
            path: path.to_path_buf(),
            limit,
        },
        // Only rows are bounded so, and their reader words it.
        Problem::Crowded { line, column } => Error::Backup {
            path: path.to_path_buf(),
            position: Some((line, column)),
            message: "a value goes on far past what it can hold".into(),
        },
    }
}

/// A JSON string key, whole.
fn key<R: io::Read>(f: &mut Frame<R>, limits: &ReadLimits) -> Result<String, Problem> {
    let piece = f.piece(
        limits.max_value_bytes,
        limits.max_value_bytes.saturating_add(2),
        u64::MAX,
    )?;
    parse_piece(f, piece, std::marker::PhantomData::<String>)
}

/// A piece parsed by `seed`, serde_json's problems placed in the file.
fn parse_piece<R: io::Read, T>(
    f: &Frame<R>,
    (piece, at): (std::ops::Range<usize>, Place),
    seed: impl for<'de> DeserializeSeed<'de, Value = T>,
) -> Result<T, Problem> {
    let mut de = serde_json::Deserializer::from_slice(f.bytes(piece));
    seed.deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| placed_in(e, at))
}

/// serde_json's problem in a piece that starts at `at`, placed in the file.
fn placed_in(e: serde_json::Error, at: Place) -> Problem {
    let (line, column) = (e.line(), e.column());
    // serde_json appends the position in words; ours goes in front instead.
    let text = e.to_string();
    let suffix = format!(" at line {line} column {column}");
    let message = text.strip_suffix(&suffix).unwrap_or(&text).to_owned();
    let (line, column) = match line {
        0 => (0, 0),
        _ => at.within(line, column),
    };
    Problem::Syntax {
        line,
        column,
        message,
    }
}

/// A problem the reader's checks raised (as serde errors, without a place):
/// at the next byte.
fn here<R: io::Read, T>(f: &Frame<R>, checked: Result<T, serde_json::Error>) -> Result<T, Problem> {
    checked.map_err(|e| here_problem(f, e))
}

fn here_problem<R: io::Read>(f: &Frame<R>, e: serde_json::Error) -> Problem {
    f.after(e.to_string())
}

fn misplaced_key(key: &str) -> String {
    format!(
        "unexpected key `{key}`: a backup holds `meta`, `data` and `summary`, once each and in that order"
    )
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

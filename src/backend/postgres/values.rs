//! PostgreSQL's types as migplan carries them, and values both ways: a
//! column's type resolved from `pg_type`, COPY text parsed into values as
//! a table is read, values converted and encoded as COPY text as rows are
//! written.

use std::borrow::Cow;
use std::io::{BufRead, Write};

use super::catalog::{PgColumn, pick_columns};
use super::connect::{describe, scrub};
use super::{Postgres, quote, quote_list};
use crate::backend::ReadRequest;
use crate::backend::convert::{self, Cell, Target};
use crate::error::{EngineError, Error, Result};
use crate::value::{ColumnType, Value};

/// Object ids below this are built into PostgreSQL (`FirstNormalObjectId`).
const FIRST_USER_OID: u32 = 16384;

/// How a column's COPY text becomes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Int,
    Decimal,
    Float,
    Bool,
    Bytes,
    /// `…+00` as printed under `TimeZone=UTC`, carried as `…+00:00`.
    TimestampTz,
    Text,
}

/// The columns of pg_type a type is resolved from, as a select list (the
/// catalog's columns query selects them too, joined to each column).
pub(super) const TYPE_ROW: &str =
    "typname::text, typtype::text, typcategory::text, typbasetype, typtypmod, typelem";

/// One row of pg_type, as [`TYPE_ROW`] selects it.
pub(super) struct TypeRow {
    name: String,
    typtype: String,
    category: String,
    base: u32,
    base_mod: i32,
    elem: u32,
}

impl TypeRow {
    /// The row's six [`TYPE_ROW`] columns, from column `at` on.
    pub(super) fn from(r: &postgres::Row, at: usize) -> Self {
        TypeRow {
            name: r.get(at),
            typtype: r.get(at + 1),
            category: r.get(at + 2),
            base: r.get(at + 3),
            base_mod: r.get(at + 4),
            elem: r.get(at + 5),
        }
    }
}

/// A column type as migplan carries it.
#[derive(Debug, Clone)]
pub(super) struct PgType {
    pub(super) ty: ColumnType,
    pub(super) kind: Kind,
    pub(super) target: Target,
    /// `money`: read as `numeric`, written as a plain decimal.
    pub(super) money: bool,
    /// Fractional digits of a second a `time(p)`/`timestamp(p)` column
    /// keeps, when fewer than six: PostgreSQL rounds the rest.
    pub(super) fsp: Option<u32>,
}

impl Postgres {
    /// A column's type from its pg_type `row` (read with the column: most
    /// types then cost no round trip), following domains down to their
    /// base type.
    pub(super) fn resolve_from(&mut self, oid: u32, typmod: i32, row: TypeRow) -> Result<PgType> {
        if let Some(t) = self.types.get(&(oid, typmod)) {
            return Ok(t.clone());
        }
        let ctx = "reading column types";
        let (mut cur, mut modifier, mut given) = (oid, typmod, Some(row));
        let t = loop {
            let row = match given.take() {
                Some(row) => row,
                None => TypeRow::from(
                    &self
                        .client
                        .query_one(
                            &format!("SELECT {TYPE_ROW} FROM pg_type WHERE oid = $1"),
                            &[&cur],
                        )
                        .map_err(|e| self.err(ctx, e))?,
                    0,
                ),
            };
            if row.typtype == "d" {
                if modifier == -1 {
                    modifier = row.base_mod;
                }
                cur = row.base;
                continue;
            }
            if row.typtype == "e" {
                let labels: Vec<String> = self
                    .client
                    .query(
                        "SELECT enumlabel::text FROM pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder",
                        &[&cur],
                    )
                    .map_err(|e| self.err(ctx, e))?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                break PgType::new(ColumnType::Enum, Kind::Text, Target::Enum(labels));
            }
            if row.category == "A" && row.elem != 0 {
                break PgType::new(ColumnType::Array, Kind::Text, Target::Array);
            }
            if cur >= FIRST_USER_OID || row.typtype != "b" {
                break PgType::any();
            }
            break PgType::builtin(&row.name, modifier);
        };
        self.types.insert((oid, typmod), t.clone());
        Ok(t)
    }

    /// Streams one table out of `COPY … TO STDOUT` (`Backend::read`): from
    /// a reader of the export's snapshot when there is one, else from this
    /// connection (inside an import, whose rows only it sees).
    pub(super) fn read_rows(
        &mut self,
        req: &ReadRequest<'_>,
        sink: &mut dyn FnMut(&[Value]) -> Result<()>,
    ) -> Result<()> {
        let ctx = format!("reading `{}`", req.table);
        let (sql, kinds) = self.copy_query(req)?;
        let mut rows = RowParser::new(req, kinds);
        if let Some(reader) = self.snapshot_reader()? {
            return reader.copy_lines(&sql, &ctx, &mut |line| rows.line(line, sink));
        }
        let secret = self.secret.clone();
        let mut reader = self
            .client
            .copy_out(&sql)
            .map_err(|e| Error::db(ctx.clone(), scrub(&secret, describe(&e))))?;
        let mut line = Vec::with_capacity(8192);
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| Error::db(ctx.clone(), scrub(&secret, e.to_string())))?;
            if n == 0 {
                return Ok(());
            }
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            rows.line(&line, sink)?;
        }
    }

    /// The `COPY (SELECT …) TO STDOUT` a read asks for, and how each of its
    /// columns' text becomes a value.
    fn copy_query(&mut self, req: &ReadRequest<'_>) -> Result<(String, Vec<Kind>)> {
        let all = self.table_columns(req.table)?;
        copy_query(&self.qt(req.table), &self.schema, &all, req)
    }

    /// How many rows `req` would read (`Backend::count_read`).
    pub(super) fn count_selected(&mut self, req: &ReadRequest<'_>) -> Result<u64> {
        let sql = format!(
            "SELECT count(*) FROM {}{}",
            self.qt(req.table),
            changed_where(&self.table_columns(req.table)?, &self.schema, req)?
        );
        self.scalar_i64(&format!("counting rows of `{}`", req.table), &sql)
            .map(|n| n as u64)
    }
}

/// The `COPY (SELECT …) TO STDOUT` a read asks for, and how each of its
/// columns' text becomes a value; `all` holds the table's columns (or the
/// schema's), `qualified` the table's name as the statement names it.
pub(super) fn copy_query(
    qualified: &str,
    schema: &str,
    all: &[PgColumn],
    req: &ReadRequest<'_>,
) -> Result<(String, Vec<Kind>)> {
    let cols = pick_columns(all, schema, req.table, req.columns)?;
    let select: Vec<String> = cols.iter().map(|c| c.select("")).collect();
    let mut sql = format!("COPY (SELECT {} FROM {qualified}", select.join(", "));
    sql.push_str(&changed_where(all, schema, req)?);
    if !req.order_by.is_empty() {
        sql.push_str(&format!(" ORDER BY {}", quote_list(req.order_by)));
    }
    sql.push_str(") TO STDOUT");
    Ok((sql, cols.iter().map(|c| c.t.kind).collect()))
}

/// ` WHERE …` selecting the rows changed since the request's instant
/// (incremental export), or nothing.
fn changed_where(all: &[PgColumn], schema: &str, req: &ReadRequest<'_>) -> Result<String> {
    let Some((col, since)) = &req.changed_since else {
        return Ok(String::new());
    };
    let c = pick_columns(all, schema, req.table, &[col.to_string()])?.remove(0);
    // The instant is formatted here by chrono (digits, `-`, `:`, `T`, `+`,
    // `.`): a quoted literal is safe, and COPY takes no parameters.
    let instant = since.to_rfc3339();
    let q = quote(col);
    let cond = match c.t.ty {
        ColumnType::Timestamp | ColumnType::TimestampTz | ColumnType::Date => {
            // Naive timestamps and dates count as UTC (the session's zone).
            format!("{q} > '{instant}'::timestamptz")
        }
        ColumnType::Int => format!(
            "(CASE WHEN {q} > 100000000000 THEN {q} / 1000.0 ELSE {q} END) > {}",
            since.timestamp()
        ),
        other => {
            return Err(EngineError::CannotTellChanges {
                table: req.table.to_string(),
                column: col.to_string(),
                portable_type: other.name(),
                sql_type: c.sql_type,
            }
            .into());
        }
    };
    Ok(format!(" WHERE {cond}"))
}

/// COPY text lines turned into rows.
pub(super) struct RowParser<'r> {
    table: &'r str,
    columns: &'r [String],
    kinds: Vec<Kind>,
    /// Reused row to row: a text value's string is overwritten in place,
    /// so reading a table allocates nothing per value.
    row: Vec<Value>,
}

impl<'r> RowParser<'r> {
    pub(super) fn new(req: &ReadRequest<'r>, kinds: Vec<Kind>) -> Self {
        RowParser {
            table: req.table,
            columns: req.columns,
            row: vec![Value::Null; kinds.len()],
            kinds,
        }
    }

    /// One line (without its newline) parsed and handed to `sink`.
    pub(super) fn line(
        &mut self,
        line: &[u8],
        sink: &mut dyn FnMut(&[Value]) -> Result<()>,
    ) -> Result<()> {
        // UTF-8 checked once for the whole line: split at tabs, every field
        // of a valid line is valid. Only escapes can make bytes that are
        // not, and those fields are checked again.
        let Ok(text) = simdutf8::basic::from_utf8(line) else {
            return Err(self.not_utf8(line));
        };
        let mut fields = Fields::new(text);
        for (i, (kind, slot)) in self.kinds.iter().zip(self.row.iter_mut()).enumerate() {
            let Some((field, escaped)) = fields.next() else {
                return Err(self.short());
            };
            let parsed = match field {
                "\\N" => {
                    *slot = Value::Null;
                    Ok(())
                }
                _ if !escaped => parse_into(*kind, field, slot),
                _ => unescape(field.as_bytes())
                    .ok_or_else(|| NOT_UTF8.to_string())
                    .and_then(|bytes| {
                        let s = simdutf8::basic::from_utf8(&bytes).map_err(|_| NOT_UTF8)?;
                        parse_into(*kind, s, slot)
                    }),
            };
            parsed.map_err(|message| EngineError::UnreadableValue {
                table: self.table.to_string(),
                column: self.columns[i].clone(),
                message,
            })?;
        }
        if fields.next().is_some() {
            return Err(Error::db(
                format!("reading `{}`", self.table),
                "the server sent more columns than asked for",
            ));
        }
        sink(&self.row)
    }

    /// A line that is not UTF-8: the column it is in named.
    fn not_utf8(&self, line: &[u8]) -> Error {
        let column = line
            .split(|&b| b == b'\t')
            .position(|field| std::str::from_utf8(field).is_err())
            .and_then(|i| self.columns.get(i))
            .map_or_else(|| "?".to_string(), String::clone);
        EngineError::UnreadableValue {
            table: self.table.to_string(),
            column,
            message: NOT_UTF8.to_string(),
        }
        .into()
    }

    fn short(&self) -> Error {
        Error::db(
            format!("reading `{}`", self.table),
            "the server sent fewer columns than asked for",
        )
    }
}

impl PgType {
    fn new(ty: ColumnType, kind: Kind, target: Target) -> Self {
        PgType {
            ty,
            kind,
            target,
            money: false,
            fsp: None,
        }
    }

    /// A time or timestamp type, keeping `typmod` fractional digits.
    fn timed(ty: ColumnType, kind: Kind, target: Target, typmod: i32) -> Self {
        PgType {
            fsp: (0..6).contains(&typmod).then_some(typmod as u32),
            ..PgType::new(ty, kind, target)
        }
    }

    /// Types without a portable counterpart: their text form, as printed
    /// and parsed by PostgreSQL.
    fn any() -> Self {
        PgType::new(
            ColumnType::Any,
            Kind::Text,
            Target::Text {
                max_chars: None,
                nul: false,
            },
        )
    }

    /// A built-in base type by name, with its type modifier (`atttypmod`).
    fn builtin(name: &str, typmod: i32) -> Self {
        let int = |min: i128, max: i128| {
            PgType::new(ColumnType::Int, Kind::Int, Target::Int { min, max })
        };
        let text = |max_chars: Option<u64>| {
            PgType::new(
                ColumnType::Text,
                Kind::Text,
                Target::Text {
                    max_chars,
                    nul: false,
                },
            )
        };
        let plain = |ty: ColumnType, target: Target| PgType::new(ty, Kind::Text, target);
        // varchar(n), char(n): the modifier is n + 4 (VARHDRSZ).
        let chars = (typmod >= 4).then(|| (typmod - 4) as u64);
        match name {
            "int2" => int(i16::MIN.into(), i16::MAX.into()),
            "int4" => int(i32::MIN.into(), i32::MAX.into()),
            "int8" => int(i64::MIN.into(), i64::MAX.into()),
            "numeric" => {
                let (precision, scale) = numeric_modifier(typmod);
                PgType::new(
                    ColumnType::Decimal,
                    Kind::Decimal,
                    Target::Decimal {
                        precision,
                        scale,
                        special: true,
                    },
                )
            }
            // money keeps two fractional digits (lc_monetary C and most
            // locales); more would be rounded, so they are refused.
            "money" => PgType {
                money: true,
                ..PgType::new(
                    ColumnType::Decimal,
                    Kind::Decimal,
                    Target::Decimal {
                        precision: Some(19),
                        scale: Some(2),
                        special: false,
                    },
                )
            },
            "float4" => PgType::new(
                ColumnType::Float,
                Kind::Float,
                Target::Float { single: true },
            ),
            "float8" => PgType::new(
                ColumnType::Float,
                Kind::Float,
                Target::Float { single: false },
            ),
            "text" | "name" => text(None),
            "varchar" | "bpchar" => text(chars),
            "bool" => PgType::new(ColumnType::Bool, Kind::Bool, Target::Bool),
            "bytea" => PgType::new(
                ColumnType::Blob,
                Kind::Bytes,
                Target::Bytes { max_len: None },
            ),
            "date" => plain(ColumnType::Date, Target::Date),
            "time" => PgType::timed(ColumnType::Time, Kind::Text, Target::Time, typmod),
            "timestamp" => {
                PgType::timed(ColumnType::Timestamp, Kind::Text, Target::Timestamp, typmod)
            }
            "timestamptz" => PgType::timed(
                ColumnType::TimestampTz,
                Kind::TimestampTz,
                Target::TimestampTz,
                typmod,
            ),
            "interval" => plain(ColumnType::Interval, Target::Interval),
            "json" | "jsonb" => plain(ColumnType::Json, Target::Json),
            "uuid" => plain(ColumnType::Uuid, Target::Uuid),
            _ => PgType::any(),
        }
    }
}

/// numeric(p, s) from its type modifier; `None`s when unconstrained (or a
/// negative scale, which migplan does not model).
fn numeric_modifier(typmod: i32) -> (Option<u32>, Option<u32>) {
    if typmod < 4 {
        return (None, None);
    }
    let m = typmod - 4;
    let precision = ((m >> 16) & 0xffff) as u32;
    // PostgreSQL 15 stores the scale as an 11-bit signed number.
    let raw = m & 0x7ff;
    let scale = if raw & 0x400 != 0 { raw - 0x800 } else { raw };
    if scale < 0 {
        return (None, None);
    }
    (Some(precision), Some(scale as u32))
}

/// One COPY text field without its escapes; `None` for `\N` (NULL).
pub(super) fn unescape(field: &[u8]) -> Option<Cow<'_, [u8]>> {
    if field == b"\\N" {
        return None;
    }
    if !field.contains(&b'\\') {
        return Some(Cow::Borrowed(field));
    }
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let b = field[i];
        if b != b'\\' || i + 1 == field.len() {
            out.push(b);
            i += 1;
            continue;
        }
        let c = field[i + 1];
        i += 2;
        match c {
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut v = u32::from(c - b'0');
                let mut n = 1;
                while n < 3 && i < field.len() && (b'0'..=b'7').contains(&field[i]) {
                    v = v * 8 + u32::from(field[i] - b'0');
                    i += 1;
                    n += 1;
                }
                out.push(v as u8);
            }
            b'x' if i < field.len() && field[i].is_ascii_hexdigit() => {
                let mut v = 0u32;
                let mut n = 0;
                while n < 2 && i < field.len() && field[i].is_ascii_hexdigit() {
                    v = v * 16 + (field[i] as char).to_digit(16).expect("hex digit");
                    i += 1;
                    n += 1;
                }
                out.push(v as u8);
            }
            other => out.push(other),
        }
    }
    Some(Cow::Owned(out))
}

/// A value from PostgreSQL's text output of a column of this kind.
/// The fields of a COPY text line, each with whether it holds an escape
/// (a backslash): one SIMD scan for both bytes finds both.
struct Fields<'l> {
    line: &'l str,
    start: usize,
    /// Where the next tab or backslash is, `line.len()` past the last.
    found: memchr::Memchr2<'l>,
    done: bool,
}

impl<'l> Fields<'l> {
    fn new(line: &'l str) -> Self {
        Fields {
            line,
            start: 0,
            found: memchr::memchr2_iter(b'\t', b'\\', line.as_bytes()),
            done: false,
        }
    }
}

impl<'l> Iterator for Fields<'l> {
    type Item = (&'l str, bool);

    fn next(&mut self) -> Option<(&'l str, bool)> {
        if self.done {
            return None;
        }
        let bytes = self.line.as_bytes();
        let mut escaped = false;
        let end = loop {
            match self.found.next() {
                Some(i) if bytes[i] == b'\t' => break i,
                Some(_) => escaped = true,
                None => {
                    self.done = true;
                    break bytes.len();
                }
            }
        };
        // Tabs are ASCII: both ends are character boundaries.
        let field = &self.line[self.start..end];
        self.start = end + 1;
        Some((field, escaped))
    }
}

/// [`parse_str`] into `slot`, reusing the string a text value there
/// already has.
fn parse_into(kind: Kind, s: &str, slot: &mut Value) -> std::result::Result<(), String> {
    match (kind, slot) {
        (Kind::Text, Value::Text(t)) | (Kind::Decimal, Value::Decimal(t)) => {
            t.clear();
            t.push_str(s);
        }
        (_, slot) => *slot = parse_str(kind, s)?,
    }
    Ok(())
}

const NOT_UTF8: &str = "the server sent text that is not UTF-8";

pub(super) fn parse_value(kind: Kind, raw: &[u8]) -> std::result::Result<Value, String> {
    parse_str(kind, simdutf8::basic::from_utf8(raw).map_err(|_| NOT_UTF8)?)
}

fn parse_str(kind: Kind, s: &str) -> std::result::Result<Value, String> {
    let bad = |what: &str| format!("cannot read {s:?} as {what}");
    Ok(match kind {
        Kind::Int => Value::Int(s.parse().map_err(|_| bad("an integer"))?),
        Kind::Decimal => Value::Decimal(s.to_string()),
        Kind::Float => Value::Float(match s {
            "NaN" => f64::NAN,
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            _ => s.parse().map_err(|_| bad("a float"))?,
        }),
        Kind::Bool => match s {
            "t" => Value::Bool(true),
            "f" => Value::Bool(false),
            _ => return Err(bad("a boolean")),
        },
        Kind::Bytes => {
            let hex = s.strip_prefix("\\x").ok_or_else(|| bad("bytea (hex)"))?;
            Value::Bytes(hex::decode(hex).map_err(|_| bad("bytea (hex)"))?)
        }
        Kind::TimestampTz => {
            // `…+00` under TimeZone=UTC; `infinity` stays as it is.
            let b = s.as_bytes();
            let n = b.len();
            if n >= 3
                && (b[n - 3] == b'+' || b[n - 3] == b'-')
                && b[n - 2..].iter().all(u8::is_ascii_digit)
            {
                Value::Text(format!("{s}:00"))
            } else {
                Value::Text(s.to_string())
            }
        }
        Kind::Text => Value::Text(s.to_string()),
    })
}

/// Appends text to a COPY buffer, escaping what COPY's text format needs.
fn push_text(buf: &mut Vec<u8>, s: &[u8]) {
    if !s.iter().any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r')) {
        buf.extend_from_slice(s);
        return;
    }
    for &b in s {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            _ => buf.push(b),
        }
    }
}

/// Appends one converted cell in COPY text format.
pub(super) fn push_cell(buf: &mut Vec<u8>, cell: &Cell<'_>) {
    match cell {
        Cell::Null => buf.extend_from_slice(b"\\N"),
        Cell::Bool(b) => buf.push(if *b { b't' } else { b'f' }),
        // itoa: `write!` of an i128 went through the formatting machinery,
        // a few percent of an import's CPU.
        Cell::Int(i) => match i64::try_from(*i) {
            Ok(small) => buf.extend_from_slice(itoa::Buffer::new().format(small).as_bytes()),
            Err(_) => buf.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        },
        Cell::Float(f) => push_float(buf, *f),
        Cell::Text(t) => push_text(buf, t.as_bytes()),
        Cell::Bytes(b) => {
            // bytea's hex input `\x…`, its backslash escaped for COPY.
            const HEX: &[u8; 16] = b"0123456789abcdef";
            buf.reserve(3 + 2 * b.len());
            buf.extend_from_slice(b"\\\\x");
            for &x in *b {
                buf.push(HEX[(x >> 4) as usize]);
                buf.push(HEX[(x & 15) as usize]);
            }
        }
    }
}

/// Floats in PostgreSQL's spelling: shortest round-trip digits, `NaN`,
/// `Infinity`, `-Infinity`; `-0` keeps its sign.
fn push_float(buf: &mut Vec<u8>, f: f64) {
    if f.is_nan() {
        buf.extend_from_slice(b"NaN");
    } else if f.is_infinite() {
        buf.extend_from_slice(if f > 0.0 { b"Infinity" } else { b"-Infinity" });
    } else {
        let _ = write!(buf, "{f:?}");
    }
}

/// A value for a column carried as text (`any`): PostgreSQL parses it.
pub(super) fn as_text(v: &Value) -> std::result::Result<Cell<'_>, String> {
    match v {
        Value::Bool(b) => Ok(Cell::Text(Cow::Borrowed(if *b { "true" } else { "false" }))),
        Value::Float(f) if !f.is_finite() => {
            let mut b = Vec::new();
            push_float(&mut b, *f);
            Ok(Cell::Text(Cow::Owned(String::from_utf8(b).expect("ASCII"))))
        }
        other => convert::convert(
            other,
            &Target::Text {
                max_chars: None,
                nul: false,
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_round_trip() {
        let mut buf = Vec::new();
        push_text(&mut buf, b"a\tb\nc\rd\\e");
        assert_eq!(buf, b"a\\tb\\nc\\rd\\\\e");
        assert_eq!(&*unescape(&buf).unwrap(), b"a\tb\nc\rd\\e");
        assert!(unescape(b"\\N").is_none());
        assert_eq!(
            &*unescape(b"\\101\\x42\\b\\v\\f").unwrap(),
            b"AB\x08\x0b\x0c"
        );
    }

    #[test]
    fn floats_are_spelled_for_postgres() {
        let spell = |f: f64| {
            let mut b = Vec::new();
            push_float(&mut b, f);
            String::from_utf8(b).unwrap()
        };
        assert_eq!(spell(f64::NAN), "NaN");
        assert_eq!(spell(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(spell(-0.0), "-0.0");
        assert_eq!(spell(0.1), "0.1");
        assert_eq!(spell(1e308), "1e308");
    }

    #[test]
    fn integers_are_spelled_whole_at_both_ends_of_their_range() {
        let spelled = |i: i128| {
            let mut b = Vec::new();
            push_cell(&mut b, &Cell::Int(i));
            String::from_utf8(b).unwrap()
        };
        for i in [
            0,
            -1,
            42,
            i128::from(i64::MIN),
            i128::from(i64::MAX),
            i128::from(u64::MAX),
            i128::from(i64::MIN) - 1,
        ] {
            assert_eq!(spelled(i), i.to_string());
        }
    }

    #[test]
    fn bytes_are_hex_with_an_escaped_backslash() {
        let mut b = Vec::new();
        push_cell(&mut b, &Cell::Bytes(&[0, 255]));
        assert_eq!(b, b"\\\\x00ff");
        let v = parse_value(Kind::Bytes, &unescape(&b).unwrap()).unwrap();
        assert_eq!(v, Value::Bytes(vec![0, 255]));
    }

    #[test]
    fn timestamptz_gets_a_full_offset() {
        assert_eq!(
            parse_value(Kind::TimestampTz, b"2025-01-01 00:00:00.5+00").unwrap(),
            Value::Text("2025-01-01 00:00:00.5+00:00".into())
        );
        assert_eq!(
            parse_value(Kind::TimestampTz, b"infinity").unwrap(),
            Value::Text("infinity".into())
        );
    }

    #[test]
    fn numeric_modifiers() {
        // numeric(12,2): ((12 << 16) | 2) + 4
        assert_eq!(numeric_modifier((12 << 16 | 2) + 4), (Some(12), Some(2)));
        assert_eq!(numeric_modifier(-1), (None, None));
    }
}

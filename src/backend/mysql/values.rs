//! MySQL's types as migplan carries them, and values both ways: a
//! column's declared type classified, values decoded from the wire as a
//! table is read, values checked and encoded as parameters as rows are
//! written.

use ::mysql::prelude::Queryable;
use ::mysql::{Conn, Params, Value as My};

use super::connect::scrub;
use super::{Mysql, live, quote, quote_list};
use crate::backend::ReadRequest;
use crate::backend::convert::{self, Cell, Target, check_fsp};
use crate::error::{EngineError, Error, Result};
use crate::value::{ColumnType, Value};

#[derive(Debug, Clone)]
pub(super) struct Col {
    pub(super) name: String,
    pub(super) kind: Kind,
    pub(super) sql_type: String,
    target: Target,
    /// Byte limit of `text` types, which limit bytes, not characters.
    max_bytes: Option<u64>,
    /// Fractional-second digits a temporal column keeps.
    fsp: usize,
    unsigned: bool,
    pub(super) generated: bool,
    pub(super) auto_increment: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Bool,
    Int,
    Year,
    Bit,
    Float,
    Double,
    Decimal,
    Text,
    Bytes,
    Date,
    DateTime,
    Timestamp,
    Time,
    Unsupported,
}

impl Mysql {
    /// Query returning rows decoded by `cols`.
    pub(super) fn typed_rows(&mut self, sql: &str, cols: &[Col]) -> Result<Vec<Vec<Value>>> {
        let secrets = &self.secrets;
        let ctx = |e: ::mysql::Error| Error::db("merging", scrub(&e.to_string(), secrets));
        let result = live(&mut self.slot).exec_iter(sql, ()).map_err(ctx)?;
        let mut out = Vec::new();
        for row in result {
            let row = row.map_err(ctx)?.unwrap();
            let vals = row
                .into_iter()
                .zip(cols)
                .map(|(v, c)| decode(v, c).map_err(|m| Error::value(&c.name, m)))
                .collect::<Result<Vec<_>>>()?;
            out.push(vals);
        }
        Ok(out)
    }

    /// The kind of the column an incremental read compares, if any.
    fn change_kind(&mut self, req: &ReadRequest<'_>) -> Result<Option<Kind>> {
        match req.changed_since {
            Some((col, _)) => Ok(Some(
                self.columns_of(req.table, &[col.to_string()])?[0].kind,
            )),
            None => Ok(None),
        }
    }

    /// How many rows `req` would read (`Backend::count_read`).
    pub(super) fn count_selected(&mut self, req: &ReadRequest<'_>) -> Result<u64> {
        let (filter, params) = changed_where(self.change_kind(req)?, req);
        let sql = format!("SELECT COUNT(*) FROM {}{filter}", quote(req.table));
        let Mysql { slot, secrets, .. } = self;
        let n: Option<u64> = live(slot)
            .exec_first(sql.as_str(), Params::Positional(params))
            .map_err(|e| {
                Error::db(
                    format!("counting rows of `{}`", req.table),
                    scrub(&e.to_string(), secrets),
                )
            })?;
        Ok(n.unwrap_or(0))
    }

    /// Streams the rows of one table (`Backend::read`).
    pub(super) fn read_rows(
        &mut self,
        req: &ReadRequest<'_>,
        sink: &mut dyn FnMut(&[Value]) -> Result<()>,
    ) -> Result<()> {
        let cols = self.columns_of(req.table, req.columns)?;
        let change = self.change_kind(req)?;
        let Mysql { slot, secrets, .. } = self;
        read_table(live(slot), secrets, &cols, change, req, sink)
    }
}

/// ` WHERE …` selecting the rows changed since the request's instant
/// (incremental export) and its parameter, or nothing; `kind` is the
/// compared column's.
fn changed_where(kind: Option<Kind>, req: &ReadRequest<'_>) -> (String, Vec<My>) {
    let (Some((col, since)), Some(kind)) = (&req.changed_since, kind) else {
        return (String::new(), vec![]);
    };
    let utc = since.with_timezone(&chrono::Utc);
    let param = match kind {
        // Unix seconds.
        Kind::Int => My::Int(utc.timestamp()),
        _ => My::Bytes(
            utc.naive_utc()
                .format("%Y-%m-%d %H:%M:%S%.6f")
                .to_string()
                .into_bytes(),
        ),
    };
    (format!(" WHERE {} > ?", quote(col)), vec![param])
}

/// Streams the rows `req` asks for out of `conn`; `cols` are the
/// requested columns, `change` the kind of the compared column.
pub(super) fn read_table(
    conn: &mut Conn,
    secrets: &[String],
    cols: &[Col],
    change: Option<Kind>,
    req: &ReadRequest<'_>,
    sink: &mut dyn FnMut(&[Value]) -> Result<()>,
) -> Result<()> {
    if let Some(c) = cols.iter().find(|c| c.kind == Kind::Unsupported) {
        return Err(unsupported(req.table, c));
    }
    let mut sql = format!(
        "SELECT {} FROM {}",
        quote_list(req.columns),
        quote(req.table)
    );
    let (filter, params) = changed_where(change, req);
    sql.push_str(&filter);
    if !req.order_by.is_empty() {
        sql.push_str(&format!(" ORDER BY {}", quote_list(req.order_by)));
    }
    let ctx = |e: ::mysql::Error| {
        Error::db(
            format!("reading `{}`", req.table),
            scrub(&e.to_string(), secrets),
        )
    };
    // Unbuffered: rows are decoded and handed on one at a time. (A second
    // decoding thread was slower once decoding became cheap: on two cores
    // it competes with the server for CPU.)
    let result = conn
        .exec_iter(sql.as_str(), Params::Positional(params))
        .map_err(ctx)?;
    let mut values: Vec<Value> = Vec::with_capacity(cols.len());
    for row in result {
        let mut row = row.map_err(ctx)?;
        values.clear();
        for (i, c) in cols.iter().enumerate() {
            let v = row.take(i).unwrap_or(My::NULL);
            values.push(
                decode(v, c).map_err(|message| EngineError::UnreadableValue {
                    table: req.table.to_string(),
                    column: c.name.clone(),
                    message,
                })?,
            );
        }
        sink(&values)?;
    }
    Ok(())
}

pub(super) fn unsupported(table: &str, c: &Col) -> Error {
    EngineError::UncarriableType {
        table: table.to_string(),
        column: c.name.clone(),
        sql_type: c.sql_type.clone(),
    }
    .into()
}

/// A column's portable type and what reading and writing it needs.
/// `n` holds CHARACTER_MAXIMUM_LENGTH, CHARACTER_OCTET_LENGTH,
/// NUMERIC_PRECISION, NUMERIC_SCALE and DATETIME_PRECISION.
pub(super) fn classify(
    name: &str,
    data_type: &str,
    column_type: &str,
    json: bool,
    generated: bool,
    n: [Option<u64>; 5],
) -> (ColumnType, Col) {
    let [max_chars, octets, precision, scale, fsp] = n;
    let ct = column_type.to_ascii_lowercase();
    let unsigned = ct.contains("unsigned");
    let int = |bits: u32| {
        if unsigned {
            Target::Int {
                min: 0,
                max: (1i128 << bits) - 1,
            }
        } else {
            Target::Int {
                min: -(1i128 << (bits - 1)),
                max: (1i128 << (bits - 1)) - 1,
            }
        }
    };
    let text = |max: Option<u64>| Target::Text {
        max_chars: max,
        nul: true,
    };
    let (ty, kind, target, max_bytes) = match data_type {
        "tinyint" if ct.starts_with("tinyint(1)") => (ColumnType::Bool, Kind::Bool, int(8), None),
        "bool" | "boolean" => (ColumnType::Bool, Kind::Bool, int(8), None),
        "tinyint" => (ColumnType::Int, Kind::Int, int(8), None),
        "smallint" => (ColumnType::Int, Kind::Int, int(16), None),
        "mediumint" => (ColumnType::Int, Kind::Int, int(24), None),
        "int" | "integer" => (ColumnType::Int, Kind::Int, int(32), None),
        "bigint" => (ColumnType::Int, Kind::Int, int(64), None),
        "year" => (
            ColumnType::Int,
            Kind::Year,
            Target::Int { min: 0, max: 2155 },
            None,
        ),
        "bit" => {
            let bits = precision.unwrap_or(1).clamp(1, 64) as u32;
            let max = (1i128 << bits) - 1;
            (
                ColumnType::Int,
                Kind::Bit,
                Target::Int { min: 0, max },
                None,
            )
        }
        "float" => (
            ColumnType::Float,
            Kind::Float,
            Target::Float { single: true },
            None,
        ),
        "double" | "real" | "double precision" => (
            ColumnType::Float,
            Kind::Double,
            Target::Float { single: false },
            None,
        ),
        "decimal" | "numeric" => (
            ColumnType::Decimal,
            Kind::Decimal,
            Target::Decimal {
                precision: precision.map(|p| p as u32),
                scale: Some(scale.unwrap_or(0) as u32),
                special: false,
            },
            None,
        ),
        "char" | "varchar" => (ColumnType::Text, Kind::Text, text(max_chars), None),
        "tinytext" | "text" | "mediumtext" | "longtext" if json => {
            (ColumnType::Json, Kind::Text, Target::Json, octets)
        }
        "tinytext" | "text" | "mediumtext" | "longtext" => {
            (ColumnType::Text, Kind::Text, text(None), octets)
        }
        "json" => (ColumnType::Json, Kind::Text, Target::Json, None),
        "enum" => (
            ColumnType::Enum,
            Kind::Text,
            Target::Enum(labels(column_type)),
            None,
        ),
        "set" => (
            ColumnType::Set,
            Kind::Text,
            Target::Set(labels(column_type)),
            None,
        ),
        "uuid" => (ColumnType::Uuid, Kind::Text, Target::Uuid, None),
        "inet4" | "inet6" => (ColumnType::Text, Kind::Text, text(None), None),
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => (
            ColumnType::Blob,
            Kind::Bytes,
            Target::Bytes { max_len: octets },
            None,
        ),
        // MySQL's own bytes (SRID, then WKB): exact between MySQL servers,
        // which take them back as they are (a spatial index needs no more).
        "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
        | "multipolygon" | "geometrycollection" | "geomcollection" => (
            ColumnType::Blob,
            Kind::Bytes,
            Target::Bytes { max_len: None },
            None,
        ),
        "date" => (ColumnType::Date, Kind::Date, Target::Date, None),
        "datetime" => (
            ColumnType::Timestamp,
            Kind::DateTime,
            Target::Timestamp,
            None,
        ),
        "timestamp" => (
            ColumnType::TimestampTz,
            Kind::Timestamp,
            Target::TimestampTz,
            None,
        ),
        "time" => (ColumnType::Time, Kind::Time, Target::Time, None),
        _ => (ColumnType::Any, Kind::Unsupported, text(None), None),
    };
    let col = Col {
        name: name.to_string(),
        kind,
        sql_type: column_type.to_string(),
        target,
        max_bytes,
        fsp: fsp.unwrap_or(0) as usize,
        unsigned,
        generated,
        auto_increment: false,
    };
    (ty, col)
}

/// The labels of `enum('a','b''c')` / `set(…)`, unescaped.
pub(super) fn labels(column_type: &str) -> Vec<String> {
    let inner = column_type
        .split_once('(')
        .map_or("", |(_, r)| r.strip_suffix(')').unwrap_or(r));
    let mut out = Vec::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue; // separators
        }
        let mut label = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    label.push('\'');
                }
                '\'' => break,
                '\\' => match chars.next() {
                    Some('n') => label.push('\n'),
                    Some('t') => label.push('\t'),
                    Some('r') => label.push('\r'),
                    Some('0') => label.push('\0'),
                    Some('Z') => label.push('\x1a'),
                    Some(other) => label.push(other),
                    None => {}
                },
                other => label.push(other),
            }
        }
        out.push(label);
    }
    out
}

fn uint(u: u64) -> Value {
    i64::try_from(u).map_or(Value::UInt(u), Value::Int)
}

/// A value from the wire (binary or text protocol) as migplan's value.
fn decode(v: My, col: &Col) -> std::result::Result<Value, String> {
    let utf8 = |b: Vec<u8>| {
        String::from_utf8(b).map_err(|_| "holds text that is not valid UTF-8".to_string())
    };
    Ok(match v {
        My::NULL => Value::Null,
        My::Int(i) if col.kind == Kind::Bool && (i == 0 || i == 1) => Value::Bool(i == 1),
        My::UInt(u) if col.kind == Kind::Bool && u <= 1 => Value::Bool(u == 1),
        My::Int(i) => Value::Int(i),
        My::UInt(u) => uint(u),
        // The f64 nearest the single's shortest decimal form: 1.1, not 1.100000023841858.
        My::Float(f) => Value::Float(f.to_string().parse().unwrap_or(f as f64)),
        My::Double(d) => Value::Float(d),
        My::Date(y, m, d, h, mi, s, us) => {
            let mut t = Ascii::default();
            t.padded(y.into(), 4);
            t.byte(b'-');
            t.padded(m.into(), 2);
            t.byte(b'-');
            t.padded(d.into(), 2);
            if col.kind != Kind::Date {
                t.byte(b' ');
                t.clock(h.into(), mi, s, us);
            }
            if col.kind == Kind::Timestamp {
                t.bytes(b"+00:00");
            }
            Value::Text(t.into_string())
        }
        My::Time(neg, days, h, mi, s, us) => {
            let mut t = Ascii::default();
            if neg {
                t.byte(b'-');
            }
            t.clock(days * 24 + u32::from(h), mi, s, us);
            Value::Text(t.into_string())
        }
        My::Bytes(b) => match col.kind {
            Kind::Bytes => Value::Bytes(b),
            Kind::Bit => {
                if b.len() > 8 {
                    return Err("a BIT value longer than 64 bits".into());
                }
                uint(b.iter().fold(0u64, |acc, x| (acc << 8) | *x as u64))
            }
            Kind::Decimal => Value::Decimal(utf8(b)?),
            // Text protocol: numbers arrive as text.
            Kind::Int | Kind::Year | Kind::Bool => {
                let s = utf8(b)?;
                match (s.parse::<i64>(), s.parse::<u64>()) {
                    (Ok(i), _) if col.kind == Kind::Bool && (i == 0 || i == 1) => {
                        Value::Bool(i == 1)
                    }
                    (Ok(i), _) => Value::Int(i),
                    (_, Ok(u)) => uint(u),
                    _ => return Err(format!("`{s}` is not an integer")),
                }
            }
            Kind::Float => {
                let s = utf8(b)?;
                let f: f32 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
                Value::Float(f.to_string().parse().unwrap_or(f as f64))
            }
            Kind::Double => {
                let s = utf8(b)?;
                Value::Float(s.parse().map_err(|_| format!("`{s}` is not a number"))?)
            }
            Kind::Timestamp => {
                let s = utf8(b)?;
                Value::Text(format!("{}+00:00", trim_fraction(&s)))
            }
            Kind::DateTime | Kind::Time => Value::Text(trim_fraction(&utf8(b)?).to_string()),
            _ => Value::Text(utf8(b)?),
        },
    })
}

/// A short ASCII text built on the stack: temporal values are formatted
/// digit by digit, since `format!` (and even pushing chars onto a String)
/// was a tenth of an export's time.
struct Ascii {
    buf: [u8; 40],
    len: usize,
}

impl Default for Ascii {
    fn default() -> Self {
        Ascii {
            buf: [0; 40],
            len: 0,
        }
    }
}

impl Ascii {
    fn byte(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    fn bytes(&mut self, b: &[u8]) {
        self.buf[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
    }

    /// `v` in decimal, left-padded with zeros to `width` digits.
    fn padded(&mut self, v: u32, width: usize) {
        let digits = if v == 0 { 1 } else { v.ilog10() as usize + 1 };
        let n = digits.max(width);
        let mut v = v;
        for i in (0..n).rev() {
            self.buf[self.len + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        self.len += n;
    }

    /// `HH:MM:SS[.ffffff]`, the fraction's trailing zeros trimmed.
    fn clock(&mut self, h: u32, m: u8, s: u8, us: u32) {
        self.padded(h, 2);
        self.byte(b':');
        self.padded(m.into(), 2);
        self.byte(b':');
        self.padded(s.into(), 2);
        if us == 0 {
            return;
        }
        let (mut us, mut width) = (us, 6);
        while us % 10 == 0 {
            us /= 10;
            width -= 1;
        }
        self.byte(b'.');
        self.padded(us, width);
    }

    fn into_string(self) -> String {
        std::str::from_utf8(&self.buf[..self.len])
            .expect("only ASCII digits and punctuation")
            .to_string()
    }
}

fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// A value as a bound parameter for `col`, or why it does not fit.
pub(super) fn encode(v: &Value, col: &Col) -> std::result::Result<My, String> {
    if v.is_null() {
        return Ok(My::NULL);
    }
    let cell = match col.kind {
        Kind::Time => return time_param(v, col.fsp),
        Kind::Date | Kind::DateTime | Kind::Timestamp => match convert::convert(v, &col.target) {
            Ok(c) => c,
            // Zero dates are not dates to chrono; MySQL keeps them as such.
            Err(_) if zero_date(v) => {
                let Value::Text(s) = v else { unreachable!() };
                let s = s.strip_suffix("+00:00").unwrap_or(s);
                return Ok(My::Bytes(s.as_bytes().to_vec()));
            }
            Err(e) => return Err(e),
        },
        Kind::Unsupported => {
            return Err(format!("type {} cannot be written", col.sql_type));
        }
        _ => convert::convert(v, &col.target)?,
    };
    Ok(match cell {
        Cell::Null => My::NULL,
        Cell::Bool(b) => My::Int(b as i64),
        Cell::Int(i) => {
            if col.kind == Kind::Year && (1..=1900).contains(&i) {
                // MySQL would read 1–69 as 2001–2069 and refuse the rest.
                return Err(format!("{i} is not a YEAR (0 or 1901 to 2155)"));
            }
            match i64::try_from(i) {
                Ok(i) if col.kind != Kind::Bit => My::Int(i),
                _ => My::UInt(u64::try_from(i).map_err(|_| format!("{i} is out of range"))?),
            }
        }
        Cell::Float(f) if !f.is_finite() => {
            return Err(format!("MySQL cannot store {f} in a floating-point column"));
        }
        Cell::Float(f) if col.unsigned && f < 0.0 => {
            return Err(format!("{f} is negative; the column is UNSIGNED"));
        }
        // Checked to be exact as a single by `convert`: send the single, as a
        // double near FLT_MAX may be just above it.
        Cell::Float(f) if col.kind == Kind::Float => My::Float(f as f32),
        Cell::Float(f) => My::Double(f),
        Cell::Text(t) => {
            if col.kind == Kind::Decimal
                && col.unsigned
                && t.starts_with('-')
                && !t.trim_start_matches(['-', '0', '.']).is_empty()
            {
                return Err(format!("{t} is negative; the column is UNSIGNED"));
            }
            if let Some(max) = col.max_bytes
                && t.len() as u64 > max
            {
                return Err(format!(
                    "text of {} bytes is longer than the column's {max} bytes",
                    t.len()
                ));
            }
            let t = match col.kind {
                Kind::Timestamp => t.strip_suffix("+00:00").unwrap_or(&t).to_string(),
                _ => t.into_owned(),
            };
            if matches!(col.kind, Kind::DateTime | Kind::Timestamp) {
                check_fsp(&t, col.fsp)?;
            }
            My::Bytes(t.into_bytes())
        }
        Cell::Bytes(b) => My::Bytes(b.to_vec()),
    })
}

/// Text shaped like a date whose year, month or day is zero.
fn zero_date(v: &Value) -> bool {
    let Value::Text(s) = v else { return false };
    let b = s.as_bytes();
    b.len() >= 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b[..10]
            .iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && (&s[..4] == "0000" || &s[5..7] == "00" || &s[8..10] == "00")
}

/// `[-]H…H:MM:SS[.ffffff]` within MySQL's TIME range (±838:59:59).
fn time_param(v: &Value, fsp: usize) -> std::result::Result<My, String> {
    let Value::Text(s) = v else {
        return Err(format!(
            "expected a time ([-]HH:MM:SS), found {}",
            v.display()
        ));
    };
    let bad = || format!("expected a time ([-]HH:MM:SS[.ffffff]), found {s:?}");
    let body = s.strip_prefix('-').unwrap_or(s);
    let (clock, frac) = body.split_once('.').unwrap_or((body, ""));
    let parts: Vec<&str> = clock.split(':').collect();
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !(2..=3).contains(&parts.len())
        || !parts.iter().all(|p| digits(p))
        || (!frac.is_empty() && !digits(frac))
        || parts[1..].iter().any(|p| p.len() != 2)
    {
        return Err(bad());
    }
    let h: u64 = parts[0].parse().map_err(|_| bad())?;
    let m: u64 = parts[1].parse().map_err(|_| bad())?;
    let sec: u64 = parts
        .get(2)
        .map_or(Ok(0), |p| p.parse())
        .map_err(|_| bad())?;
    if m > 59 || sec > 59 || h * 3600 + m * 60 + sec > 838 * 3600 + 59 * 60 + 59 {
        return Err(format!("{s:?} is outside MySQL's TIME range (±838:59:59)"));
    }
    check_fsp(s, fsp)?;
    Ok(My::Bytes(s.as_bytes().to_vec()))
}

/// A value of a foreign-key check row, for messages.
pub(super) fn render(v: My) -> String {
    match v {
        My::NULL => "NULL".into(),
        My::Bytes(b) => match String::from_utf8(b) {
            Ok(s) => s,
            Err(e) => format!("0x{}", hex::encode(e.as_bytes())),
        },
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_labels_are_unescaped() {
        assert_eq!(
            labels(r"enum('x''y','b\\c','d,e','')"),
            vec!["x'y", r"b\c", "d,e", ""]
        );
        assert_eq!(labels("set('p','q')"), vec!["p", "q"]);
    }

    #[test]
    fn times_keep_their_range_and_precision() {
        assert!(time_param(&Value::Text("-838:59:59".into()), 0).is_ok());
        assert!(time_param(&Value::Text("100:00:00.5".into()), 1).is_ok());
        assert!(time_param(&Value::Text("100:00:00.5".into()), 0).is_err());
        assert!(time_param(&Value::Text("839:00:00".into()), 0).is_err());
        assert!(time_param(&Value::Text("12:60:00".into()), 0).is_err());
        let clock = |h, m, s, us| {
            let mut t = Ascii::default();
            t.clock(h, m, s, us);
            t.into_string()
        };
        assert_eq!(clock(49, 2, 3, 120_000), "49:02:03.12");
        assert_eq!(clock(838, 59, 59, 0), "838:59:59");
        assert_eq!(clock(0, 0, 0, 1), "00:00:00.000001");
        assert_eq!(clock(1, 0, 0, 999_999), "01:00:00.999999");
        let mut year = Ascii::default();
        year.padded(7, 4);
        year.byte(b'-');
        year.padded(12345, 4);
        assert_eq!(year.into_string(), "0007-12345");
    }

    #[test]
    fn zero_dates_are_recognised() {
        assert!(zero_date(&Value::Text("0000-00-00".into())));
        assert!(zero_date(&Value::Text("2024-02-00 00:00:00".into())));
        assert!(!zero_date(&Value::Text("2024-02-01".into())));
    }
}

//! Cells ↔ values: how a value is written into a cell, and how a cell is
//! read back for a column type. The writer checks every cell it writes by
//! reading it back with [`natural`]; a cell that would not come back as the
//! same value is written by its value kind instead and marked (see the
//! module doc of `xlsx`).

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use serde::{Deserialize, Serialize};

use super::clock::{self, date_text, time_text, timestamp_text};
use crate::value::{ColumnType, Value, is_decimal};

/// Excel's largest exact integer: 2^53.
pub(crate) const MAX_EXACT: f64 = 9_007_199_254_740_992.0;
const MS_PER_DAY: i64 = 86_400_000;
/// The bits of the NaN written as plain `NaN`.
const CANONICAL_NAN: u64 = 0x7ff8_0000_0000_0000;

/// A cell as read (or as the writer is about to write it).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum In<'a> {
    Empty,
    Str(Cow<'a, str>),
    /// A number without a date or time format.
    Num(f64),
    /// A number with a date or time format: a serial in the 1900 system.
    Date(f64),
    Bool(bool),
    /// An error cell (`#N/A`, `#DIV/0!` …).
    Error(String),
}

impl In<'_> {
    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, In::Empty)
    }

    /// A stable rendering of the cell, for row keys and mark fingerprints.
    pub(crate) fn render(&self) -> String {
        match self {
            In::Empty => String::new(),
            In::Str(s) => format!("s:{s}"),
            In::Num(f) | In::Date(f) => format!("n:{}", shortest(*f)),
            In::Bool(b) => format!("b:{}", u8::from(*b)),
            In::Error(e) => format!("e:{e}"),
        }
    }

    /// What was found, for problem messages: `"abc"`, `3.5`, `TRUE`.
    pub(crate) fn describe(&self) -> String {
        match self {
            In::Empty => "an empty cell".into(),
            In::Str(s) if s.chars().count() > 40 => {
                format!("{:?}…", s.chars().take(40).collect::<String>())
            }
            In::Str(s) => format!("{s:?}"),
            In::Num(f) => shortest(*f),
            In::Date(f) => format!(
                "the date {}",
                serial_text(*f).unwrap_or_else(|| shortest(*f))
            ),
            In::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
            In::Error(e) => format!("the error {e}"),
        }
    }
}

/// A rendering short enough for a `_marks` cell: kept as is up to 100
/// characters, otherwise its SHA-256 (first 16 bytes).
pub(crate) fn compact(rendered: String) -> String {
    if rendered.chars().count() <= 100 {
        rendered
    } else {
        let digest = openssl::sha::sha256(rendered.as_bytes());
        format!("sha256:{}", hex::encode(&digest[..16]))
    }
}

/// What a column's cells mean beyond its type, recorded in `_meta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnNote {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// Decimals written as numbers show (and read back with) this many
    /// fractional digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<u32>,
    /// Empty cells are empty strings, not NULL (a NOT NULL text column).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_is_text: bool,
    /// Date cells hold UTC instants; values come back with `+00:00`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub utc: bool,
    /// The column takes no NULL: an empty cell is a problem (unless it is
    /// an empty string, `empty_is_text`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_null: bool,
    /// What text cells of this column carry, for people (`integers beyond
    /// ±2^53`, `base64` …). Reading does not need it: a column's type decides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub text_carries: Vec<String>,
    /// The header people read (the plan's `labels`); the column's name is
    /// read back too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The texts shown for true and false (the plan's `booleans`), read
    /// back besides TRUE/FALSE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booleans: Option<[String; 2]>,
}

impl ColumnNote {
    pub(crate) fn new(name: &str, ty: ColumnType, sql_type: &str, nullable: bool) -> Self {
        let text_carries: &[&str] = match ty {
            ColumnType::Int => &["integers beyond ±2^53 (exact digits)"],
            ColumnType::Float => &["NaN, inf, -inf and -0.0"],
            ColumnType::Decimal => {
                &["decimals of more than 15 digits or another scale (exact text)"]
            }
            ColumnType::Blob => &[
                "bytes as a marker ‹binary N bytes›, their base64 in the hidden column `_bytes:NAME`; base64 typed into the cell",
            ],
            ColumnType::Date
            | ColumnType::Timestamp
            | ColumnType::TimestampTz
            | ColumnType::Time => &[
                "values Excel cannot hold exactly (microseconds, before 1900-03-01) in canonical text",
            ],
            _ => &[],
        };
        ColumnNote {
            name: name.to_string(),
            ty,
            scale: if ty == ColumnType::Decimal {
                decimal_scale(sql_type)
            } else {
                None
            },
            empty_is_text: !nullable
                && matches!(ty, ColumnType::Text | ColumnType::Enum | ColumnType::Set),
            utc: ty == ColumnType::TimestampTz,
            not_null: !nullable,
            text_carries: text_carries.iter().map(|s| s.to_string()).collect(),
            label: None,
            booleans: None,
        }
    }

    /// The header shown: the label, else the column's name.
    pub(crate) fn header(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.name)
    }
}

/// The short text a binary value's cell shows: `‹binary 1,234 bytes›`.
pub(crate) fn bytes_marker(len: usize) -> String {
    let digits = len.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("‹binary {grouped} bytes›")
}

/// The length a [`bytes_marker`] names.
pub(crate) fn parse_bytes_marker(s: &str) -> Option<usize> {
    let n = s.trim().strip_prefix("‹binary ")?.strip_suffix(" bytes›")?;
    let digits: String = n.chars().filter(|c| *c != ',').collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The scale of `DECIMAL(p,s)` / `NUMERIC(p)` (0), `None` without one.
pub(crate) fn decimal_scale(sql_type: &str) -> Option<u32> {
    let inner = sql_type.split_once('(')?.1.split_once(')')?.0;
    match inner.split_once(',') {
        Some((_, s)) => s.trim().parse().ok(),
        None => inner.trim().parse::<u32>().ok().map(|_| 0),
    }
}

/// A value's kind, as recorded for marked cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Bool,
    Int,
    UInt,
    Float,
    Decimal,
    Text,
    Bytes,
}

impl Kind {
    pub(crate) fn of(v: &Value) -> Option<Kind> {
        Some(match v {
            Value::Null => return None,
            Value::Bool(_) => Kind::Bool,
            Value::Int(_) => Kind::Int,
            Value::UInt(_) => Kind::UInt,
            Value::Float(_) => Kind::Float,
            Value::Decimal(_) => Kind::Decimal,
            Value::Text(_) => Kind::Text,
            Value::Bytes(_) => Kind::Bytes,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Bool => "bool",
            Kind::Int => "int",
            Kind::UInt => "uint",
            Kind::Float => "float",
            Kind::Decimal => "decimal",
            Kind::Text => "text",
            Kind::Bytes => "bytes",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Kind> {
        [
            Kind::Bool,
            Kind::Int,
            Kind::UInt,
            Kind::Float,
            Kind::Decimal,
            Kind::Text,
            Kind::Bytes,
        ]
        .into_iter()
        .find(|k| k.name() == s)
    }
}

/// Number formats the writer gives cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum NumFmt {
    General,
    Integer,
    /// `0.00…` with this many fractional digits.
    Scale(u32),
    Date,
    DateTime,
    DateTimeMs,
    Time,
    TimeMs,
}

impl NumFmt {
    pub(crate) fn is_temporal(self) -> bool {
        matches!(
            self,
            NumFmt::Date | NumFmt::DateTime | NumFmt::DateTimeMs | NumFmt::Time | NumFmt::TimeMs
        )
    }

    pub(crate) fn pattern(self) -> String {
        match self {
            NumFmt::General => "General".into(),
            NumFmt::Integer => "0".into(),
            NumFmt::Scale(0) => "0".into(),
            NumFmt::Scale(s) => format!("0.{}", "0".repeat(s as usize)),
            NumFmt::Date => "yyyy-mm-dd".into(),
            NumFmt::DateTime => "yyyy-mm-dd hh:mm:ss".into(),
            NumFmt::DateTimeMs => "yyyy-mm-dd hh:mm:ss.000".into(),
            NumFmt::Time => "hh:mm:ss".into(),
            NumFmt::TimeMs => "hh:mm:ss.000".into(),
        }
    }
}

/// A cell the writer is about to write.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Out<'a> {
    Empty,
    Str(Cow<'a, str>),
    Num(f64, NumFmt),
    Bool(bool),
}

impl<'a> Out<'a> {
    /// The cell as the reader will see it.
    pub(crate) fn as_in(&self) -> In<'_> {
        match self {
            Out::Empty => In::Empty,
            Out::Str(s) => In::Str(Cow::Borrowed(s)),
            Out::Num(f, fmt) if fmt.is_temporal() => In::Date(*f),
            Out::Num(f, _) => In::Num(*f),
            Out::Bool(b) => In::Bool(*b),
        }
    }
}

/// Rust's shortest round-trip text of a double, in plain notation.
pub(crate) fn shortest(f: f64) -> String {
    if f == 0.0 { "0".into() } else { f.to_string() }
}

fn nonfinite_text(f: f64) -> String {
    if f == f64::INFINITY {
        "inf".into()
    } else if f == f64::NEG_INFINITY {
        "-inf".into()
    } else if f.to_bits() == CANONICAL_NAN {
        "NaN".into()
    } else if f.is_nan() {
        format!("NaN:{:016x}", f.to_bits())
    } else {
        // -0.0
        "-0.0".into()
    }
}

/// `NaN`, `inf`, `Infinity`, `-0.0`, `1.5`, `NaN:7ff8…` → the double.
pub(crate) fn parse_float_text(s: &str) -> Option<f64> {
    if let Some(hex) = s.strip_prefix("NaN:").filter(|h| h.len() == 16) {
        let f = f64::from_bits(u64::from_str_radix(hex, 16).ok()?);
        return f.is_nan().then_some(f);
    }
    match s.to_ascii_lowercase().as_str() {
        "nan" => return Some(f64::from_bits(CANONICAL_NAN)),
        "inf" | "infinity" | "+inf" | "+infinity" => return Some(f64::INFINITY),
        "-inf" | "-infinity" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    // Only plain or scientific numbers; Rust's parser would also take "nan".
    if !s.bytes().any(|b| b.is_ascii_digit())
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
    {
        return None;
    }
    s.parse().ok()
}

/// Significant digits of a plain decimal (leading zeros excluded).
fn significant_digits(d: &str) -> usize {
    d.bytes()
        .filter(u8::is_ascii_digit)
        .skip_while(|b| *b == b'0')
        .count()
}

/// The decimal text of a number shown with `scale` fractional digits: the
/// shortest text of the double, padded with zeros up to the scale.
pub(crate) fn decimal_of(f: f64, scale: Option<u32>) -> String {
    let mut s = shortest(f);
    if let Some(scale) = scale {
        let frac = s.split_once('.').map_or(0, |(_, f)| f.len());
        if frac < scale as usize {
            if frac == 0 {
                s.push('.');
            }
            s.extend(std::iter::repeat_n('0', scale as usize - frac));
        }
    }
    s
}

// ---------------------------------------------------------------------------
// Temporal values
// ---------------------------------------------------------------------------

fn epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(1899, 12, 30)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
}

/// The first date whose serial needs no care for Excel's 1900 leap-year bug.
fn first_exact_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1900, 3, 1).unwrap()
}

/// A timestamp as an Excel serial, when Excel holds it exactly
/// (milliseconds, 1900-03-01 to 9999-12-31).
fn serial_of(t: NaiveDateTime) -> Option<f64> {
    if t.date() < first_exact_date() || t.date() > NaiveDate::from_ymd_opt(9999, 12, 31)? {
        return None;
    }
    if !t.nanosecond().is_multiple_of(1_000_000) {
        return None;
    }
    let ms = (t - epoch()).num_milliseconds();
    Some(ms as f64 / MS_PER_DAY as f64)
}

/// An Excel serial (1900 system) → the date and time, to the millisecond.
/// `None` for serials before 1900-03-01 or beyond 9999 (and 1900-02-29).
fn datetime_of(serial: f64) -> Option<NaiveDateTime> {
    if !serial.is_finite() || !(0.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let ms = (serial * MS_PER_DAY as f64).round() as i64;
    let days = ms.div_euclid(MS_PER_DAY);
    let t = if days >= 61 {
        epoch() + Duration::milliseconds(ms)
    } else if days == 60 {
        return None; // 1900-02-29, which never was
    } else {
        // Before the fictional leap day, serials are one day ahead.
        epoch() + Duration::milliseconds(ms + MS_PER_DAY)
    };
    Some(t)
}

/// A time of day as a fraction of a day (milliseconds only).
fn time_serial(t: NaiveTime) -> Option<f64> {
    if !t.nanosecond().is_multiple_of(1_000_000) {
        return None;
    }
    let ms =
        i64::from(t.num_seconds_from_midnight()) * 1000 + i64::from(t.nanosecond() / 1_000_000);
    Some(ms as f64 / MS_PER_DAY as f64)
}

fn time_of(serial: f64) -> Option<NaiveTime> {
    if !(0.0..1.0).contains(&serial) {
        return None;
    }
    let ms = (serial * MS_PER_DAY as f64).round() as i64;
    if ms >= MS_PER_DAY {
        return None;
    }
    NaiveTime::from_num_seconds_from_midnight_opt(
        (ms / 1000) as u32,
        (ms % 1000) as u32 * 1_000_000,
    )
}

/// The text a date cell shows: a date, a time or both.
fn serial_text(serial: f64) -> Option<String> {
    if (0.0..1.0).contains(&serial) {
        return time_of(serial).map(time_text);
    }
    let t = datetime_of(serial)?;
    Some(if t.time() == NaiveTime::MIN {
        date_text(t.date())
    } else {
        timestamp_text(t)
    })
}

/// Dates people type: `2024-03-05`, `2024/3/5`, `2024.3.5`.
fn parse_date_text(s: &str) -> Option<NaiveDate> {
    if let Some(d) = clock::parse_date(s) {
        return Some(d);
    }
    ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
}

/// `HH:MM[:SS[.f]]` → the time, refusing more than microseconds.
fn parse_time_text(s: &str) -> Option<NaiveTime> {
    let t = clock::parse_time(s)
        .or_else(|| NaiveTime::parse_from_str(s, "%H:%M:%S%.f").ok())
        .or_else(|| NaiveTime::parse_from_str(s, "%H:%M").ok())?;
    t.nanosecond().is_multiple_of(1000).then_some(t)
}

/// MySQL times beyond a day or negative: `-838:59:59[.f]`, kept as typed.
fn is_long_time(s: &str) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (clock, frac) = body.split_once('.').unwrap_or((body, ""));
    let parts: Vec<&str> = clock.split(':').collect();
    parts.len() == 3
        && !parts[0].is_empty()
        && parts[0].bytes().all(|b| b.is_ascii_digit())
        && parts[1..].iter().all(|p| {
            p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()) && p.as_bytes()[0] < b'6'
        })
        && frac.len() <= 6
        && frac.bytes().all(|b| b.is_ascii_digit())
        && (!frac.is_empty() || !body.contains('.'))
}

/// Splits `…+08:00` / `…Z` into the local part and the offset in seconds.
fn split_offset(s: &str) -> Result<(&str, Option<i64>), ()> {
    if let Some(rest) = s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        return Ok((rest, Some(0)));
    }
    let Some(i) = s.get(10..).and_then(|t| t.rfind(['+', '-'])) else {
        return Ok((s, None));
    };
    let (local, off) = (&s[..10 + i], &s[10 + i..]);
    let sign = if off.starts_with('-') { -1 } else { 1 };
    let digits: String = off[1..].chars().filter(|c| *c != ':').collect();
    let (h, m) = match digits.len() {
        2 => (&digits[..2], "0"),
        4 => (&digits[..2], &digits[2..]),
        _ => return Err(()),
    };
    let h: i64 = h.parse().map_err(|_| ())?;
    let m: i64 = m.parse().map_err(|_| ())?;
    Ok((local.trim_end(), Some(sign * (h * 3600 + m * 60))))
}

/// Timestamps people type: `2024-03-05 08:30[:00[.f]]`, `T` or `/` forms,
/// a date alone (midnight), an optional offset.
fn parse_timestamp_text(s: &str) -> Option<(NaiveDateTime, Option<i64>)> {
    let (local, offset) = split_offset(s).ok()?;
    let local = local.replacen('T', " ", 1);
    let t = clock::parse_timestamp(&local)
        .or_else(|| {
            [
                "%Y-%m-%d %H:%M:%S%.f",
                "%Y-%m-%d %H:%M",
                "%Y/%m/%d %H:%M:%S%.f",
                "%Y/%m/%d %H:%M",
            ]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(&local, f).ok())
        })
        .or_else(|| parse_date_text(&local).map(|d| d.and_time(NaiveTime::MIN)))?;
    t.nanosecond().is_multiple_of(1000).then_some((t, offset))
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/// A value written by its own kind, whatever the column (marked cells).
pub(crate) fn by_kind<'a>(v: &'a Value, scratch: &mut String) -> Out<'a> {
    match v {
        Value::Null => Out::Empty,
        Value::Bool(b) => Out::Bool(*b),
        Value::Int(i) if i.unsigned_abs() <= 1 << 53 => Out::Num(*i as f64, NumFmt::Integer),
        Value::Int(i) => Out::Str(Cow::Owned(i.to_string())),
        Value::UInt(u) if *u <= 1 << 53 => Out::Num(*u as f64, NumFmt::Integer),
        Value::UInt(u) => Out::Str(Cow::Owned(u.to_string())),
        Value::Float(f) if f.is_finite() && !(*f == 0.0 && f.is_sign_negative()) => {
            Out::Num(*f, NumFmt::General)
        }
        Value::Float(f) => Out::Str(Cow::Owned(nonfinite_text(*f))),
        Value::Decimal(d) | Value::Text(d) if d.is_empty() => Out::Empty,
        Value::Decimal(d) | Value::Text(d) => Out::Str(Cow::Borrowed(d)),
        Value::Bytes(b) if b.is_empty() => Out::Empty,
        Value::Bytes(b) => {
            scratch.clear();
            BASE64.encode_string(b, scratch);
            Out::Str(Cow::Owned(scratch.clone()))
        }
    }
}

/// A value written the way its column's type suggests: dates as dates,
/// decimals as numbers when they show exactly.
pub(crate) fn natural_out<'a>(v: &'a Value, note: &ColumnNote, scratch: &mut String) -> Out<'a> {
    use ColumnType as T;
    match (v, note.ty) {
        (Value::Text(s), T::Date) => clock::parse_date(s)
            .or_else(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
            .and_then(|d| serial_of(d.and_time(NaiveTime::MIN)))
            .map_or(Out::Str(Cow::Borrowed(s)), |f| Out::Num(f, NumFmt::Date)),
        (Value::Text(s), T::Timestamp | T::TimestampTz) => {
            let local = if note.ty == T::TimestampTz {
                s.strip_suffix("+00:00")
            } else {
                Some(s.as_str())
            };
            local
                .and_then(|l| {
                    clock::parse_timestamp(l)
                        .or_else(|| NaiveDateTime::parse_from_str(l, "%Y-%m-%d %H:%M:%S%.f").ok())
                })
                .and_then(|t| {
                    let fmt = if t.nanosecond() == 0 {
                        NumFmt::DateTime
                    } else {
                        NumFmt::DateTimeMs
                    };
                    serial_of(t).map(|f| Out::Num(f, fmt))
                })
                .unwrap_or(Out::Str(Cow::Borrowed(s)))
        }
        (Value::Text(s), T::Time) => clock::parse_time(s)
            .or_else(|| NaiveTime::parse_from_str(s, "%H:%M:%S%.f").ok())
            .and_then(|t| {
                let fmt = if t.nanosecond() == 0 {
                    NumFmt::Time
                } else {
                    NumFmt::TimeMs
                };
                time_serial(t).map(|f| Out::Num(f, fmt))
            })
            .unwrap_or(Out::Str(Cow::Borrowed(s))),
        (Value::Bool(b), T::Bool) => match &note.booleans {
            Some([yes, no]) => Out::Str(Cow::Owned(if *b { yes } else { no }.clone())),
            None => Out::Bool(*b),
        },
        (Value::Decimal(d), T::Decimal) => {
            if significant_digits(d) <= 15
                && let Ok(f) = d.parse::<f64>()
                && decimal_of(f, note.scale) == *d
            {
                Out::Num(f, note.scale.map_or(NumFmt::General, NumFmt::Scale))
            } else {
                by_kind(v, scratch)
            }
        }
        _ => by_kind(v, scratch),
    }
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/// What a column of this type expects, for problem messages.
pub(crate) fn expected(ty: ColumnType) -> &'static str {
    use ColumnType as T;
    match ty {
        T::Bool => "boolean (TRUE/FALSE, 1/0)",
        T::Int => "integer",
        T::Float => "number",
        T::Decimal => "decimal number",
        T::Blob => "base64 bytes",
        T::Date => "date",
        T::Time => "time",
        T::Timestamp | T::TimestampTz => "date and time",
        T::Json => "JSON",
        T::Uuid => "UUID",
        T::Text | T::Interval | T::Array | T::Enum | T::Set | T::Any => "text",
    }
}

/// A cell read for a column of type `note.ty`: the value the JSON format
/// would carry, or why the cell does not fit (`None`: the expected type says
/// it all).
pub(crate) fn natural(cell: &In<'_>, note: &ColumnNote) -> Result<Value, Option<String>> {
    use ColumnType as T;
    if let In::Error(_) = cell {
        return Err(None);
    }
    let blank = match cell {
        In::Empty => true,
        // A blank string in a column that is not text is no value.
        In::Str(s) => {
            s.trim().is_empty()
                && !matches!(
                    note.ty,
                    T::Text | T::Enum | T::Set | T::Any | T::Array | T::Interval
                )
        }
        _ => false,
    };
    if blank {
        return match (note.empty_is_text, note.not_null) {
            (true, _) => Ok(Value::Text(String::new())),
            (false, true) => Err(Some("the column is NOT NULL: enter a value".into())),
            (false, false) => Ok(Value::Null),
        };
    }
    match note.ty {
        T::Bool => match cell {
            In::Bool(b) => Ok(Value::Bool(*b)),
            In::Num(f) if *f == 0.0 || *f == 1.0 => Ok(Value::Bool(*f == 1.0)),
            In::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(Value::Bool(true)),
                "false" | "0" => Ok(Value::Bool(false)),
                t => match &note.booleans {
                    Some([yes, _]) if yes.trim() == t || yes.trim().to_lowercase() == t => {
                        Ok(Value::Bool(true))
                    }
                    Some([_, no]) if no.trim() == t || no.trim().to_lowercase() == t => {
                        Ok(Value::Bool(false))
                    }
                    Some([yes, no]) => Err(Some(format!("or {yes:?}/{no:?}"))),
                    None => Err(None),
                },
            },
            _ => Err(None),
        },
        T::Int => match cell {
            In::Num(f) if f.fract() == 0.0 && f.abs() <= MAX_EXACT => Ok(Value::Int(*f as i64)),
            In::Num(f) if f.fract() == 0.0 && f.is_finite() => Err(Some(
                "numbers beyond ±2^53 lose digits in Excel: enter them as text".into(),
            )),
            In::Str(s) => {
                let s = s.trim();
                s.parse::<i64>()
                    .map(Value::Int)
                    .or_else(|_| {
                        s.strip_prefix('+')
                            .unwrap_or(s)
                            .parse::<u64>()
                            .map(Value::UInt)
                    })
                    .map_err(|_| None)
            }
            _ => Err(None),
        },
        T::Float => match cell {
            In::Num(f) => Ok(Value::Float(*f)),
            In::Str(s) => parse_float_text(s.trim()).map(Value::Float).ok_or(None),
            _ => Err(None),
        },
        T::Decimal => match cell {
            In::Num(f) if f.is_finite() => Ok(Value::Decimal(decimal_of(*f, note.scale))),
            In::Str(s) => {
                let s = s.trim();
                if is_decimal(s) || matches!(s, "NaN" | "Infinity" | "-Infinity") {
                    Ok(Value::Decimal(s.to_string()))
                } else {
                    Err(None)
                }
            }
            _ => Err(None),
        },
        T::Blob => match cell {
            In::Str(s) => BASE64
                .decode(s.trim())
                .map(Value::Bytes)
                .map_err(|e| Some(format!("invalid base64: {e}"))),
            _ => Err(None),
        },
        T::Date => match cell {
            In::Num(f) | In::Date(f) => match datetime_of(*f) {
                Some(t) if t.time() == NaiveTime::MIN => Ok(Value::Text(date_text(t.date()))),
                Some(_) => Err(Some("it has a time of day".into())),
                None => Err(Some(
                    "not a date Excel knows (1900-03-01 to 9999-12-31)".into(),
                )),
            },
            In::Str(s) => {
                let s = s.trim();
                if s == "infinity" || s == "-infinity" {
                    return Ok(Value::Text(s.to_string()));
                }
                parse_date_text(s)
                    .map(|d| Value::Text(date_text(d)))
                    .ok_or(None)
            }
            _ => Err(None),
        },
        T::Time => match cell {
            In::Num(f) | In::Date(f) => time_of(*f)
                .map(|t| Value::Text(time_text(t)))
                .ok_or_else(|| Some("a time is a fraction of a day (0 to 1)".into())),
            In::Str(s) => {
                let s = s.trim();
                match parse_time_text(s) {
                    Some(t) => Ok(Value::Text(time_text(t))),
                    None if is_long_time(s) => Ok(Value::Text(s.to_string())),
                    None => Err(None),
                }
            }
            _ => Err(None),
        },
        T::Timestamp | T::TimestampTz => {
            let tz = note.ty == T::TimestampTz || note.utc;
            let utc = match cell {
                In::Num(f) | In::Date(f) => datetime_of(*f).ok_or_else(|| {
                    Some("not a date Excel knows (1900-03-01 to 9999-12-31)".to_string())
                })?,
                In::Str(s) => {
                    let s = s.trim();
                    if s == "infinity" || s == "-infinity" {
                        return Ok(Value::Text(s.to_string()));
                    }
                    let (t, off) = parse_timestamp_text(s).ok_or(None)?;
                    match off {
                        Some(secs) if secs != 0 && !tz => {
                            return Err(Some(
                                "it has a UTC offset, which a timestamp without time zone cannot keep"
                                    .into(),
                            ));
                        }
                        Some(secs) => t - Duration::seconds(secs),
                        None => t,
                    }
                }
                _ => return Err(None),
            };
            let text = timestamp_text(utc);
            Ok(Value::Text(if tz { text + "+00:00" } else { text }))
        }
        T::Json => {
            let text = display_text(cell, true);
            match serde_json::from_str::<serde::de::IgnoredAny>(&text) {
                Ok(_) => Ok(Value::Text(text)),
                Err(e) => Err(Some(format!("invalid JSON: {e}"))),
            }
        }
        T::Uuid => {
            let text = display_text(cell, false);
            let hex: String = text
                .trim()
                .trim_matches(|c| c == '{' || c == '}')
                .chars()
                .filter(|c| *c != '-')
                .collect();
            if hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                Ok(Value::Text(text))
            } else {
                Err(None)
            }
        }
        T::Text | T::Interval | T::Array | T::Enum | T::Set => {
            Ok(Value::Text(display_text(cell, false)))
        }
        T::Any => Ok(match cell {
            In::Num(f) if f.fract() == 0.0 && f.abs() <= MAX_EXACT => Value::Int(*f as i64),
            In::Num(f) => Value::Float(*f),
            In::Bool(b) => Value::Bool(*b),
            other => Value::Text(display_text(other, false)),
        }),
    }
}

/// The text a person sees in a cell: `42` for 42.0, the date of a date cell.
fn display_text(cell: &In<'_>, json: bool) -> String {
    match cell {
        In::Empty => String::new(),
        In::Str(s) => s.to_string(),
        In::Num(f) if f.fract() == 0.0 && f.abs() <= MAX_EXACT => (*f as i64).to_string(),
        In::Num(f) => shortest(*f),
        In::Date(f) => serial_text(*f).unwrap_or_else(|| shortest(*f)),
        In::Bool(b) if json => b.to_string(),
        In::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        In::Error(e) => e.clone(),
    }
}

/// A marked cell read by its recorded kind.
pub(crate) fn by_kind_in(cell: &In<'_>, kind: Kind) -> Option<Value> {
    Some(match (kind, cell) {
        (Kind::Bool, In::Bool(b)) => Value::Bool(*b),
        (Kind::Int, In::Num(f)) if f.fract() == 0.0 && f.abs() <= MAX_EXACT => {
            Value::Int(*f as i64)
        }
        (Kind::Int, In::Str(s)) => Value::Int(s.parse().ok()?),
        (Kind::UInt, In::Num(f)) if f.fract() == 0.0 && (0.0..=MAX_EXACT).contains(f) => {
            Value::UInt(*f as u64)
        }
        (Kind::UInt, In::Str(s)) => Value::UInt(s.parse().ok()?),
        (Kind::Float, In::Num(f)) => Value::Float(*f),
        (Kind::Float, In::Str(s)) => Value::Float(parse_float_text(s)?),
        (Kind::Decimal, In::Str(s)) => Value::Decimal(s.to_string()),
        (Kind::Decimal, In::Empty) => Value::Decimal(String::new()),
        (Kind::Text, In::Str(s)) => Value::Text(s.to_string()),
        (Kind::Text, In::Empty) => Value::Text(String::new()),
        (Kind::Bytes, In::Str(s)) => Value::Bytes(BASE64.decode(s.as_bytes()).ok()?),
        (Kind::Bytes, In::Empty) => Value::Bytes(Vec::new()),
        _ => return None,
    })
}

/// Values equal bit for bit (NaN payloads and -0.0 included).
pub(crate) fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(ty: ColumnType) -> ColumnNote {
        ColumnNote::new("c", ty, ty.name(), true)
    }

    fn read(cell: In<'_>, ty: ColumnType) -> Result<Value, Option<String>> {
        natural(&cell, &note(ty))
    }

    fn s(text: &str) -> In<'_> {
        In::Str(Cow::Borrowed(text))
    }

    fn text(t: &str) -> Value {
        Value::Text(t.into())
    }

    #[test]
    fn decimal_scale_from_sql_type() {
        assert_eq!(decimal_scale("DECIMAL(10,2)"), Some(2));
        assert_eq!(decimal_scale("numeric(12, 4) unsigned"), Some(4));
        assert_eq!(decimal_scale("NUMERIC(7)"), Some(0));
        assert_eq!(decimal_scale("NUMERIC"), None);
    }

    #[test]
    fn decimals_as_numbers_only_when_exact() {
        let mut n = ColumnNote::new("d", ColumnType::Decimal, "DECIMAL(12,2)", true);
        let mut scratch = String::new();
        let v = Value::Decimal("12.50".into());
        assert_eq!(
            natural_out(&v, &n, &mut scratch),
            Out::Num(12.5, NumFmt::Scale(2))
        );
        let v = Value::Decimal("1234567890123456.78".into());
        assert!(matches!(natural_out(&v, &n, &mut scratch), Out::Str(_)));
        n.scale = None;
        let v = Value::Decimal("12.50".into());
        assert!(matches!(natural_out(&v, &n, &mut scratch), Out::Str(_)));
        let v = Value::Decimal("12.5".into());
        assert_eq!(
            natural_out(&v, &n, &mut scratch),
            Out::Num(12.5, NumFmt::General)
        );
    }

    #[test]
    fn numbers_typed_as_text_are_numbers() {
        assert_eq!(read(s("42"), ColumnType::Int), Ok(Value::Int(42)));
        assert_eq!(read(s(" 42 "), ColumnType::Int), Ok(Value::Int(42)));
        assert_eq!(
            read(s("18446744073709551615"), ColumnType::Int),
            Ok(Value::UInt(u64::MAX))
        );
        assert_eq!(read(In::Num(3.5), ColumnType::Int), Err(None));
        assert_eq!(read(s("abc"), ColumnType::Int), Err(None));
        let d = ColumnNote::new("d", ColumnType::Decimal, "DECIMAL(10,2)", true);
        assert_eq!(natural(&s(" 3.50 "), &d), Ok(Value::Decimal("3.50".into())));
        assert_eq!(
            natural(&In::Num(3.5), &d),
            Ok(Value::Decimal("3.50".into()))
        );
        assert_eq!(
            natural(&In::Num(0.1), &note(ColumnType::Decimal)),
            Ok(Value::Decimal("0.1".into()))
        );
        assert_eq!(read(s("1e3"), ColumnType::Float), Ok(Value::Float(1000.0)));
        assert_eq!(
            read(s("-inf"), ColumnType::Float),
            Ok(Value::Float(f64::NEG_INFINITY))
        );
        assert_eq!(read(s("nan."), ColumnType::Float), Err(None));
    }

    #[test]
    fn text_columns_take_what_people_see() {
        assert_eq!(read(In::Num(42.0), ColumnType::Text), Ok(text("42")));
        assert_eq!(read(In::Num(0.5), ColumnType::Text), Ok(text("0.5")));
        assert_eq!(read(In::Bool(true), ColumnType::Text), Ok(text("TRUE")));
        assert_eq!(
            read(In::Date(45356.0), ColumnType::Text),
            Ok(text("2024-03-05"))
        );
    }

    #[test]
    fn bytes_markers() {
        assert_eq!(bytes_marker(3), "‹binary 3 bytes›");
        assert_eq!(bytes_marker(1234567), "‹binary 1,234,567 bytes›");
        assert_eq!(
            parse_bytes_marker(" ‹binary 1,234,567 bytes› "),
            Some(1234567)
        );
        assert_eq!(parse_bytes_marker("‹binary 0 bytes›"), Some(0));
        assert_eq!(parse_bytes_marker("‹binary  bytes›"), None);
        assert_eq!(parse_bytes_marker("‹binary x bytes›"), None);
        assert_eq!(parse_bytes_marker("AAE="), None);
    }

    #[test]
    fn boolean_texts_read_back() {
        let mut note = ColumnNote::new("ok", ColumnType::Bool, "BOOLEAN", true);
        note.booleans = Some(["是".into(), "否".into()]);
        let s = |t: &'static str| In::Str(Cow::Borrowed(t));
        assert_eq!(natural(&s("是"), &note), Ok(Value::Bool(true)));
        assert_eq!(natural(&s(" 否 "), &note), Ok(Value::Bool(false)));
        assert_eq!(natural(&s("TRUE"), &note), Ok(Value::Bool(true)));
        assert!(natural(&s("对"), &note).is_err());
        let mut scratch = String::new();
        assert_eq!(
            natural_out(&Value::Bool(false), &note, &mut scratch),
            Out::Str(Cow::Borrowed("否"))
        );
    }

    #[test]
    fn bools() {
        assert_eq!(
            read(In::Bool(true), ColumnType::Bool),
            Ok(Value::Bool(true))
        );
        assert_eq!(read(In::Num(0.0), ColumnType::Bool), Ok(Value::Bool(false)));
        assert_eq!(read(s("True"), ColumnType::Bool), Ok(Value::Bool(true)));
        assert_eq!(read(s("0"), ColumnType::Bool), Ok(Value::Bool(false)));
        assert_eq!(read(s("yes"), ColumnType::Bool), Err(None));
    }

    #[test]
    fn dates_from_text_serials_and_date_cells() {
        let want = Ok(text("2024-03-05"));
        assert_eq!(read(s("2024-03-05"), ColumnType::Date), want);
        assert_eq!(read(s("2024/3/5"), ColumnType::Date), want);
        assert_eq!(read(In::Num(45356.0), ColumnType::Date), want);
        assert_eq!(read(In::Date(45356.0), ColumnType::Date), want);
        assert!(read(In::Date(45356.5), ColumnType::Date).is_err());
        assert_eq!(
            read(In::Date(1.0), ColumnType::Date),
            Ok(text("1900-01-01"))
        );
        assert!(read(In::Date(60.0), ColumnType::Date).is_err());
        assert_eq!(
            read(s("2024-03-05 08:30"), ColumnType::Timestamp),
            Ok(text("2024-03-05 08:30:00"))
        );
        assert_eq!(
            read(s("2024/03/05 08:30:00.25"), ColumnType::Timestamp),
            Ok(text("2024-03-05 08:30:00.25"))
        );
        assert_eq!(
            read(s("2024-03-05T08:30:00+08:00"), ColumnType::TimestampTz),
            Ok(text("2024-03-05 00:30:00+00:00"))
        );
        assert!(read(s("2024-03-05T08:30:00+08:00"), ColumnType::Timestamp).is_err());
        assert_eq!(
            read(In::Date(45356.5), ColumnType::TimestampTz),
            Ok(text("2024-03-05 12:00:00+00:00"))
        );
        assert_eq!(read(In::Date(0.75), ColumnType::Time), Ok(text("18:00:00")));
        assert_eq!(read(s("8:30"), ColumnType::Time), Ok(text("08:30:00")));
        assert_eq!(
            read(s("838:59:59"), ColumnType::Time),
            Ok(text("838:59:59"))
        );
        assert!(read(s("8h30"), ColumnType::Time).is_err());
    }

    #[test]
    fn temporal_values_round_trip_or_go_as_text() {
        let mut scratch = String::new();
        let cases = [
            (ColumnType::Date, "2024-03-05", true),
            (ColumnType::Date, "1899-12-31", false),
            (ColumnType::Date, "1900-03-01", true),
            (ColumnType::Date, "9999-12-31", true),
            (ColumnType::Timestamp, "2024-03-05 08:30:00", true),
            (ColumnType::Timestamp, "2024-03-05 08:30:00.123", true),
            (ColumnType::Timestamp, "2024-03-05 08:30:00.123456", false),
            (ColumnType::Timestamp, "9999-12-31 23:59:59.999", true),
            (ColumnType::Timestamp, "0001-01-01 00:00:00", false),
            (ColumnType::TimestampTz, "2024-03-05 08:30:00.5+00:00", true),
            (
                ColumnType::TimestampTz,
                "2024-03-05 08:30:00.000001+00:00",
                false,
            ),
            (ColumnType::Time, "23:59:59.999", true),
            (ColumnType::Time, "00:00:00", true),
            (ColumnType::Time, "12:00:00.000001", false),
        ];
        for (ty, v, as_date) in cases {
            let n = note(ty);
            let value = text(v);
            let out = natural_out(&value, &n, &mut scratch);
            assert_eq!(matches!(out, Out::Num(..)), as_date, "{v}");
            let back = natural(&out.as_in(), &n).unwrap();
            assert_eq!(back, value, "{v}");
        }
    }
}

//! The documented mapping (docs/types.md) from migplan values to what a
//! target column accepts, shared by every server backend.
//!
//! A backend describes each target column as a [`Target`] and asks
//! [`convert`] for a [`Cell`], which it then encodes natively (COPY text,
//! bound parameters). A value that would not arrive exactly (too long, out
//! of range, more digits than the scale, an offset a naive timestamp cannot
//! keep) is an error message here, before anything of its row is sent.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};

use crate::value::{Value, canonical_time, is_decimal};

/// What a target column holds, as far as converting values goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Bool,
    /// Integers within `min..=max`.
    Int {
        min: i128,
        max: i128,
    },
    /// Binary floating point; `single` for 32-bit columns.
    Float {
        single: bool,
    },
    /// Exact decimals with the declared precision and scale, if any;
    /// `special` when the column also keeps NaN and ±Infinity.
    Decimal {
        precision: Option<u32>,
        scale: Option<u32>,
        special: bool,
    },
    /// Strings of at most `max_chars` characters; `nul` when the engine
    /// stores the NUL character.
    Text {
        max_chars: Option<u64>,
        nul: bool,
    },
    Bytes {
        max_len: Option<u64>,
    },
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Json,
    Uuid,
    /// PostgreSQL intervals, carried as their ISO 8601 text.
    Interval,
    /// PostgreSQL arrays, carried as their literal text (`{1,2}`).
    Array,
    /// One of these labels (enum types).
    Enum(Vec<String>),
    /// A comma-separated subset of these labels (MySQL `SET`).
    Set(Vec<String>),
}

/// A value ready for a backend to encode.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    /// Text, including the canonical forms of decimals, dates and times.
    Text(Cow<'a, str>),
    Bytes(&'a [u8]),
}

type Res<'a> = std::result::Result<Cell<'a>, String>;

/// Converts one value for a target column, or says why it does not fit.
pub fn convert<'a>(v: &'a Value, t: &Target) -> Res<'a> {
    if v.is_null() {
        return Ok(Cell::Null);
    }
    match t {
        Target::Bool => to_bool(v),
        Target::Int { min, max } => to_int(v, *min, *max),
        Target::Float { single } => to_float(v, *single),
        Target::Decimal {
            precision,
            scale,
            special,
        } => to_decimal(v, *precision, *scale, *special),
        Target::Text { max_chars, nul } => to_text(v, *max_chars, *nul),
        Target::Bytes { max_len } => to_bytes(v, *max_len),
        // Values already in canonical form (the common case) pass without
        // a round trip through chrono, which dominated import profiles.
        Target::Date => match v {
            Value::Text(s) if is_canonical_date(s) => Ok(Cell::Text(Cow::Borrowed(s))),
            _ => temporal(v, "a date (YYYY-MM-DD)", parse_date),
        },
        Target::Time => temporal(v, "a time (HH:MM:SS)", parse_time),
        Target::Timestamp => match v {
            Value::Text(s) if is_canonical_timestamp(s) => Ok(Cell::Text(Cow::Borrowed(s))),
            _ => temporal(v, "a timestamp", |s| parse_timestamp(s, false)),
        },
        Target::TimestampTz => match v {
            Value::Text(s) if s.strip_suffix("+00:00").is_some_and(is_canonical_timestamp) => {
                Ok(Cell::Text(Cow::Borrowed(s)))
            }
            _ => temporal(v, "a timestamp", |s| parse_timestamp(s, true)),
        },
        Target::Json => to_json(v),
        Target::Uuid => to_uuid(v),
        Target::Interval | Target::Array => match v {
            Value::Text(s) => Ok(Cell::Text(Cow::Borrowed(s))),
            other => Err(found(other, "text")),
        },
        Target::Enum(labels) => to_label(v, labels, false),
        Target::Set(labels) => to_label(v, labels, true),
    }
}

/// More fractional digits of a second than the column keeps (`fsp`) would
/// be rounded by the server: an error. `t` is a time or timestamp's text.
pub fn check_fsp(t: &str, fsp: usize) -> std::result::Result<(), String> {
    let digits = t
        .split_once('.')
        .map_or(0, |(_, f)| f.bytes().take_while(u8::is_ascii_digit).count());
    if digits > fsp {
        return Err(format!(
            "`{t}` has {digits} fractional digits of a second; the column keeps {fsp} (it would be rounded)"
        ));
    }
    Ok(())
}

fn found(v: &Value, expected: &str) -> String {
    let kind = match v {
        Value::Null => "NULL",
        Value::Bool(_) => "a boolean",
        Value::Int(_) | Value::UInt(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Decimal(_) => "a decimal",
        Value::Text(_) => "text",
        Value::Bytes(_) => "bytes",
    };
    format!("expected {expected}, found {kind} {}", v.display())
}

fn to_bool(v: &Value) -> Res<'_> {
    match v {
        Value::Bool(b) => Ok(Cell::Bool(*b)),
        Value::Int(i @ (0 | 1)) => Ok(Cell::Bool(*i == 1)),
        Value::UInt(u @ (0 | 1)) => Ok(Cell::Bool(*u == 1)),
        other => Err(found(other, "a boolean (true/false, 1/0)")),
    }
}

fn to_int(v: &Value, min: i128, max: i128) -> Res<'_> {
    let i: i128 = match v {
        Value::Bool(b) => *b as i128,
        Value::Int(i) => *i as i128,
        Value::UInt(u) => *u as i128,
        Value::Float(f) if f.fract() == 0.0 && f.abs() <= 2f64.powi(53) => *f as i128,
        Value::Decimal(d) => match integral_decimal(d) {
            Some(i) => i,
            None => return Err(found(v, "an integer")),
        },
        other => return Err(found(other, "an integer")),
    };
    if i < min || i > max {
        return Err(format!(
            "{i} is out of range for the column ({min} to {max})"
        ));
    }
    Ok(Cell::Int(i))
}

/// `"12"`, `"-3.000"` → the integer; anything with a fraction → `None`.
fn integral_decimal(d: &str) -> Option<i128> {
    let (int, frac) = d.split_once('.').unwrap_or((d, ""));
    if !frac.bytes().all(|b| b == b'0') {
        return None;
    }
    int.parse().ok()
}

fn to_float(v: &Value, single: bool) -> Res<'_> {
    let f = match v {
        Value::Float(f) => *f,
        Value::Int(i) if i.unsigned_abs() <= 1 << 53 => *i as f64,
        Value::UInt(u) if *u <= 1 << 53 => *u as f64,
        Value::Decimal(d) => decimal_as_float(d).ok_or_else(|| found(v, "a float"))?,
        other => return Err(found(other, "a float")),
    };
    if single && f.is_finite() {
        // Single-precision values travel as the double nearest to their
        // shortest decimal form (docs/types.md); anything else would round.
        let s = f as f32;
        if !s.is_finite() || s.to_string().parse::<f64>() != Ok(f) {
            return Err(format!(
                "{f} does not fit a single-precision column exactly"
            ));
        }
    }
    Ok(Cell::Float(f))
}

/// A decimal as a double, when the double prints back as the same number.
fn decimal_as_float(d: &str) -> Option<f64> {
    let f: f64 = d.parse().ok()?;
    (normalize_decimal(&f.to_string()) == normalize_decimal(d)).then_some(f)
}

/// Plain decimal text without a sign on zero, leading or trailing zeros.
fn normalize_decimal(d: &str) -> String {
    let (neg, d) = match d.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, d.strip_prefix('+').unwrap_or(d)),
    };
    let (int, frac) = d.split_once('.').unwrap_or((d, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let body = match (int.is_empty(), frac.is_empty()) {
        (true, true) => return "0".into(),
        (_, true) => int.to_string(),
        (true, false) => format!("0.{frac}"),
        (false, false) => format!("{int}.{frac}"),
    };
    if neg { format!("-{body}") } else { body }
}

fn to_decimal(v: &Value, precision: Option<u32>, scale: Option<u32>, special: bool) -> Res<'_> {
    let text: Cow<'_, str> = match v {
        Value::Decimal(d) | Value::Text(d) if is_special(d) => {
            return if special {
                Ok(Cell::Text(Cow::Borrowed(d)))
            } else {
                Err(format!("{d} does not fit an exact decimal column"))
            };
        }
        // Backups are untrusted: `15e-3` or `1_000` is not decimal notation
        // and would be read (and rounded) differently by each engine.
        Value::Decimal(d) | Value::Text(d) if is_decimal(d) => Cow::Borrowed(d),
        Value::Int(i) => Cow::Owned(i.to_string()),
        Value::UInt(u) => Cow::Owned(u.to_string()),
        Value::Float(f) if f.is_finite() => Cow::Owned(f.to_string()),
        Value::Float(f) if special => Cow::Owned(float_special(*f).to_string()),
        other => return Err(found(other, "a decimal number")),
    };
    check_digits(&text, precision, scale)?;
    Ok(Cell::Text(text))
}

fn is_special(d: &str) -> bool {
    matches!(d, "NaN" | "Infinity" | "-Infinity")
}

fn float_special(f: f64) -> &'static str {
    if f.is_nan() {
        "NaN"
    } else if f > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

/// More fractional digits than the scale would be rounded, more integer
/// digits than precision − scale would not fit: both are errors.
fn check_digits(d: &str, precision: Option<u32>, scale: Option<u32>) -> Result<(), String> {
    let norm = normalize_decimal(d);
    let body = norm.trim_start_matches('-');
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let int_digits = if int == "0" { 0 } else { int.len() as u32 };
    let scale_v = scale.unwrap_or(0);
    if scale.is_some() && frac.len() as u32 > scale_v {
        return Err(format!(
            "{d} has {} fractional digits; the column keeps {scale_v} (it would be rounded)",
            frac.len()
        ));
    }
    if let Some(p) = precision
        && int_digits > p.saturating_sub(scale_v)
    {
        return Err(format!(
            "{d} does not fit DECIMAL({p},{scale_v}): at most {} integer digits",
            p.saturating_sub(scale_v)
        ));
    }
    Ok(())
}

fn to_text(v: &Value, max_chars: Option<u64>, nul: bool) -> Res<'_> {
    let text: Cow<'_, str> = match v {
        Value::Text(s) | Value::Decimal(s) => Cow::Borrowed(s),
        Value::Int(i) => Cow::Owned(i.to_string()),
        Value::UInt(u) => Cow::Owned(u.to_string()),
        Value::Float(f) if f.is_finite() => Cow::Owned(f.to_string()),
        other => return Err(found(other, "text")),
    };
    if !nul && text.contains('\0') {
        return Err("text contains a NUL character, which this engine cannot store".into());
    }
    if let Some(max) = max_chars {
        let n = text.chars().count() as u64;
        if n > max {
            return Err(format!(
                "text of {n} characters is longer than the column's {max}"
            ));
        }
    }
    Ok(Cell::Text(text))
}

fn to_bytes(v: &Value, max_len: Option<u64>) -> Res<'_> {
    let b: &[u8] = match v {
        Value::Bytes(b) => b,
        Value::Text(s) => s.as_bytes(),
        other => return Err(found(other, "bytes")),
    };
    if let Some(max) = max_len
        && b.len() as u64 > max
    {
        return Err(format!(
            "{} bytes are more than the column's {max}",
            b.len()
        ));
    }
    Ok(Cell::Bytes(b))
}

fn temporal<'a>(
    v: &'a Value,
    expected: &str,
    parse: impl Fn(&str) -> Result<String, String>,
) -> Res<'a> {
    match v {
        Value::Text(s) if s == "infinity" || s == "-infinity" => Ok(Cell::Text(Cow::Borrowed(s))),
        Value::Text(s) => parse(s)
            .map(|c| Cell::Text(Cow::Owned(c)))
            .map_err(|why| format!("{}: {why}", found(v, expected))),
        other => Err(found(other, expected)),
    }
}

/// `YYYY-MM-DD`, a real date.
fn is_canonical_date(s: &str) -> bool {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(r)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && matches!(
            (num(0..4), num(5..7), num(8..10)),
            (Some(y), Some(m), Some(d)) if NaiveDate::from_ymd_opt(y as i32, m, d).is_some()
        )
}

/// `YYYY-MM-DD HH:MM:SS[.f]`, one to six fractional digits without
/// trailing zeros: exactly what [`parse_timestamp`] would produce.
fn is_canonical_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 19
        || !is_canonical_date(&s[..10])
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return false;
    }
    let two = |i: usize| -> Option<u8> {
        let (x, y) = (b[i], b[i + 1]);
        (x.is_ascii_digit() && y.is_ascii_digit()).then(|| (x - b'0') * 10 + (y - b'0'))
    };
    let clock_ok = matches!((two(11), two(14), two(17)), (Some(h), Some(m), Some(sec)) if h < 24 && m < 60 && sec < 60);
    let frac = &b[19..];
    let frac_ok = frac.is_empty()
        || (frac[0] == b'.'
            && (2..=7).contains(&frac.len())
            && frac[1..].iter().all(u8::is_ascii_digit)
            && frac[frac.len() - 1] != b'0');
    clock_ok && frac_ok
}

fn parse_date(s: &str) -> Result<String, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.format("%Y-%m-%d").to_string())
        .map_err(|e| e.to_string())
}

fn parse_time(s: &str) -> Result<String, String> {
    let t = NaiveTime::parse_from_str(s, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
        .map_err(|e| e.to_string())?;
    check_micros(t.nanosecond())?;
    Ok(canonical_time(t))
}

/// Parses `YYYY-MM-DD[ T]HH:MM[:SS[.f]]` with an optional offset (`Z`,
/// `±HH`, `±HHMM`, `±HH:MM`). For `with_tz` columns the result is the
/// instant in UTC with `+00:00`; a naive value is taken as UTC. A naive
/// column refuses an offset other than zero rather than drop it.
fn parse_timestamp(s: &str, with_tz: bool) -> Result<String, String> {
    let (naive, offset) = split_offset(s.trim());
    let local = parse_naive(naive)?;
    let utc = match offset {
        None => local,
        Some(off) => {
            let secs = parse_offset(off)?;
            if !with_tz && secs != 0 {
                return Err(format!(
                    "it has the UTC offset {off}, which a timestamp without time zone cannot keep"
                ));
            }
            local - chrono::Duration::seconds(secs)
        }
    };
    check_micros(utc.nanosecond())?;
    let text = format!("{} {}", utc.format("%Y-%m-%d"), canonical_time(utc.time()));
    Ok(if with_tz { text + "+00:00" } else { text })
}

fn parse_naive(s: &str) -> Result<NaiveDateTime, String> {
    let s = s.replacen('T', " ", 1);
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(&s, f).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .ok_or_else(|| "not a date and time".to_string())
}

/// Splits `…+08:00` / `…Z` into the local part and the offset text.
fn split_offset(s: &str) -> (&str, Option<&str>) {
    if let Some(rest) = s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        return (rest, Some("+00:00"));
    }
    // An offset sign comes after the time part (past `YYYY-MM-DD`).
    match s.get(10..).and_then(|t| t.rfind(['+', '-'])) {
        Some(i) => (&s[..10 + i], Some(&s[10 + i..])),
        None => (s, None),
    }
}

fn parse_offset(off: &str) -> Result<i64, String> {
    let sign = if off.starts_with('-') { -1 } else { 1 };
    let digits: String = off[1..].chars().filter(|c| *c != ':').collect();
    let (h, m) = match digits.len() {
        2 => (&digits[..2], "0"),
        4 => (&digits[..2], &digits[2..]),
        _ => return Err(format!("`{off}` is not a UTC offset")),
    };
    let h: i64 = h
        .parse()
        .map_err(|_| format!("`{off}` is not a UTC offset"))?;
    let m: i64 = m
        .parse()
        .map_err(|_| format!("`{off}` is not a UTC offset"))?;
    Ok(sign * (h * 3600 + m * 60))
}

fn check_micros(nanos: u32) -> Result<(), String> {
    if !nanos.is_multiple_of(1000) {
        return Err("it has more than 6 fractional digits of a second".into());
    }
    Ok(())
}

/// The canonical text of an instant: `YYYY-MM-DD HH:MM:SS[.ffffff]+00:00`.
pub fn canonical_instant(t: DateTime<Utc>) -> String {
    let n = t.naive_utc();
    format!(
        "{} {}+00:00",
        n.format("%Y-%m-%d"),
        canonical_time(n.time())
    )
}

fn to_json(v: &Value) -> Res<'_> {
    match v {
        Value::Text(s) => match serde_json::from_str::<serde_json::Value>(s) {
            Ok(_) => Ok(Cell::Text(Cow::Borrowed(s))),
            Err(e) => Err(format!("{}: {e}", found(v, "a JSON document"))),
        },
        Value::Int(i) => Ok(Cell::Text(Cow::Owned(i.to_string()))),
        Value::UInt(u) => Ok(Cell::Text(Cow::Owned(u.to_string()))),
        Value::Decimal(d) if is_decimal(d) => Ok(Cell::Text(Cow::Borrowed(d))),
        Value::Bool(b) => Ok(Cell::Text(Cow::Borrowed(if *b { "true" } else { "false" }))),
        other => Err(found(other, "a JSON document")),
    }
}

fn to_uuid(v: &Value) -> Res<'_> {
    let hex: String = match v {
        Value::Text(s) => s
            .trim_matches(|c| c == '{' || c == '}')
            .chars()
            .filter(|c| *c != '-')
            .collect(),
        Value::Bytes(b) if b.len() == 16 => b.iter().map(|x| format!("{x:02x}")).collect(),
        other => return Err(found(other, "a UUID")),
    };
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(found(v, "a UUID"));
    }
    let h = hex.to_ascii_lowercase();
    Ok(Cell::Text(Cow::Owned(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))))
}

fn to_label<'a>(v: &'a Value, labels: &[String], set: bool) -> Res<'a> {
    let Value::Text(s) = v else {
        return Err(found(v, "a label"));
    };
    let items: Vec<&str> = if set && !s.is_empty() {
        s.split(',').collect()
    } else if set {
        vec![]
    } else {
        vec![s.as_str()]
    };
    if let Some(bad) = items.iter().find(|i| !labels.iter().any(|l| l == *i)) {
        return Err(format!(
            "`{bad}` is not one of the column's values ({})",
            labels.join(", ")
        ));
    }
    Ok(Cell::Text(Cow::Borrowed(s)))
}

/// What a target column holds for `v`, in one canonical form, so that the
/// value an import sends and the value it reads back compare equal when the
/// engine kept it (the read-back check after an import; docs/types.md):
/// the same mapping as [`convert`], applied to either side. `1` and `true`
/// in a boolean column, `1.50` and `1.5` in a decimal one, an instant with
/// any offset, JSON however spaced or ordered, all compare alike. A value
/// the column's type does not describe stays as it is, so a value the
/// engine did change still differs.
pub fn canonical(v: &Value, column: &crate::catalog::ColumnInfo) -> Value {
    use crate::value::ColumnType as T;
    let text = match v {
        Value::Text(s) | Value::Decimal(s) => Some(s.as_str()),
        _ => None,
    };
    let same = || v.clone();
    match (column.ty, v) {
        (_, Value::Null) => Value::Null,
        (T::Bool, Value::Int(i @ (0 | 1))) => Value::Bool(*i == 1),
        (T::Bool, Value::UInt(u @ (0 | 1))) => Value::Bool(*u == 1),
        // SQLite stores integral text in an integer column as an integer.
        (T::Int, Value::Text(s)) if is_decimal(s) => canonical(&Value::Decimal(s.clone()), column),
        (T::Int, _) => match convert(
            v,
            &Target::Int {
                min: i64::MIN as i128,
                max: u64::MAX as i128,
            },
        ) {
            Ok(Cell::Int(i)) => i64::try_from(i).map_or(Value::UInt(i as u64), Value::Int),
            _ => same(),
        },
        (T::Float, Value::Text(s) | Value::Decimal(s)) if is_special(s) => {
            Value::Float(match s.as_str() {
                "NaN" => f64::NAN,
                "Infinity" => f64::INFINITY,
                _ => f64::NEG_INFINITY,
            })
        }
        (T::Float, _) => match v {
            Value::Text(s) | Value::Decimal(s) if is_decimal(s) => {
                s.parse().map_or_else(|_| same(), Value::Float)
            }
            Value::Int(i) => Value::Float(*i as f64),
            Value::UInt(u) => Value::Float(*u as f64),
            _ => same(),
        },
        (T::Decimal, _) => match v {
            Value::Text(s) | Value::Decimal(s) if is_decimal(s) => {
                Value::Decimal(normalize_decimal(s))
            }
            Value::Int(i) => Value::Decimal(i.to_string()),
            Value::UInt(u) => Value::Decimal(u.to_string()),
            Value::Float(f) if f.is_finite() => Value::Decimal(normalize_decimal(&f.to_string())),
            Value::Float(f) => Value::Decimal(float_special(*f).into()),
            Value::Text(s) => Value::Decimal(s.clone()),
            _ => same(),
        },
        (T::Text | T::Enum, _) => match convert(
            v,
            &Target::Text {
                max_chars: None,
                nul: true,
            },
        ) {
            // `char(n)`: PostgreSQL pads with spaces, MySQL strips them.
            Ok(Cell::Text(t)) if is_padded(&column.sql_type) => {
                Value::Text(t.trim_end_matches(' ').to_string())
            }
            Ok(Cell::Text(t)) => Value::Text(t.into_owned()),
            _ => same(),
        },
        (T::Blob, Value::Text(s)) => Value::Bytes(s.as_bytes().to_vec()),
        // Canonical already (the common case): no round trip through chrono.
        (T::Date, Value::Text(s)) if is_canonical_date(s) => same(),
        (T::Timestamp, Value::Text(s)) if is_canonical_timestamp(s) => same(),
        (T::TimestampTz, Value::Text(s))
            if s.strip_suffix("+00:00").is_some_and(is_canonical_timestamp) =>
        {
            same()
        }
        (T::Date, _) => canonical_text(v, text.and_then(|s| parse_date(s).ok())),
        (T::Time, _) => canonical_text(v, text.and_then(|s| parse_time(s).ok())),
        (T::Timestamp, _) => canonical_text(v, text.and_then(|s| parse_timestamp(s, false).ok())),
        (T::TimestampTz, _) => canonical_text(v, text.and_then(|s| parse_timestamp(s, true).ok())),
        (T::Json, _) => match convert(v, &Target::Json) {
            Ok(Cell::Text(t)) => serde_json::from_str::<serde_json::Value>(&t)
                .map_or_else(|_| same(), |j| Value::Text(canonical_json(&j))),
            _ => same(),
        },
        (T::Uuid, _) => match convert(v, &Target::Uuid) {
            Ok(Cell::Text(t)) => Value::Text(t.into_owned()),
            _ => same(),
        },
        // MySQL keeps a set's labels in the order the column lists them.
        (T::Set, Value::Text(s)) => {
            let mut labels: Vec<&str> = s.split(',').filter(|l| !l.is_empty()).collect();
            labels.sort_unstable();
            labels.dedup();
            Value::Text(labels.join(","))
        }
        _ => same(),
    }
}

/// A parsed date or time as text, or the value unchanged when it is none
/// (a MySQL zero date, `infinity`).
fn canonical_text(v: &Value, parsed: Option<String>) -> Value {
    parsed.map_or_else(|| v.clone(), Value::Text)
}

/// `char(n)` / `character(n)`, not `varchar` or `character varying`.
fn is_padded(sql_type: &str) -> bool {
    let t = sql_type.to_ascii_lowercase();
    (t.starts_with("char") || t.starts_with("bpchar") || t.starts_with("nchar"))
        && !t.contains("varying")
}

/// A JSON document in one form: keys sorted (serde_json's map), no spaces,
/// numbers by value (`1.0`, `1e0` and `1` alike: engines store numbers
/// differently, jsonb as decimals, MySQL as doubles).
fn canonical_json(j: &serde_json::Value) -> String {
    use serde_json::Value as J;
    match j {
        J::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f.abs() < 9.0e15 {
                (f as i64).to_string()
            } else {
                f.to_string()
            }
        }
        J::Array(items) => {
            let inner: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", inner.join(","))
        }
        J::Object(map) => {
            let mut entries: Vec<(&String, &J)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}:{}", J::String(k.clone()), canonical_json(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(c: Cell<'_>) -> String {
        match c {
            Cell::Text(t) => t.into_owned(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn decimal_notation() {
        assert!(is_decimal("-12.50"));
        assert!(is_decimal("7"));
        assert!(!is_decimal("1e5"));
        assert!(!is_decimal("12."));
        assert!(!is_decimal("abc"));
    }
    #[test]
    fn integers_out_of_range_are_refused() {
        let t = Target::Int {
            min: -32768,
            max: 32767,
        };
        assert_eq!(convert(&Value::Int(7), &t), Ok(Cell::Int(7)));
        assert!(
            convert(&Value::Int(40000), &t)
                .unwrap_err()
                .contains("out of range")
        );
        assert!(
            convert(
                &Value::UInt(u64::MAX),
                &Target::Int {
                    min: i64::MIN as i128,
                    max: i64::MAX as i128
                }
            )
            .is_err()
        );
        assert!(convert(&Value::Decimal("1.5".into()), &t).is_err());
        assert_eq!(
            convert(&Value::Decimal("3.00".into()), &t),
            Ok(Cell::Int(3))
        );
    }

    #[test]
    fn decimals_keep_digits_or_fail() {
        let t = Target::Decimal {
            precision: Some(5),
            scale: Some(2),
            special: false,
        };
        assert_eq!(
            text(convert(&Value::Decimal("123.40".into()), &t).unwrap()),
            "123.40"
        );
        assert!(
            convert(&Value::Decimal("1.234".into()), &t)
                .unwrap_err()
                .contains("rounded")
        );
        assert!(convert(&Value::Decimal("1234.5".into()), &t).is_err());
        assert_eq!(
            text(
                convert(
                    &Value::Float(1234.5),
                    &Target::Decimal {
                        precision: Some(12),
                        scale: Some(2),
                        special: false
                    }
                )
                .unwrap()
            ),
            "1234.5"
        );
        assert!(convert(&Value::Decimal("NaN".into()), &t).is_err());
        assert!(convert(&Value::Decimal("15e-3".into()), &t).is_err());
    }

    #[test]
    fn text_length_counts_characters() {
        let t = Target::Text {
            max_chars: Some(3),
            nul: false,
        };
        assert!(convert(&Value::Text("😀题目".into()), &t).is_ok());
        assert!(
            convert(&Value::Text("abcd".into()), &t)
                .unwrap_err()
                .contains("longer")
        );
        assert!(
            convert(&Value::Text("a\0".into()), &t)
                .unwrap_err()
                .contains("NUL")
        );
    }

    #[test]
    fn timestamps_become_canonical() {
        let tz = Target::TimestampTz;
        let v = Value::Text("2026-03-01T08:00:00.120+08:00".into());
        assert_eq!(
            text(convert(&v, &tz).unwrap()),
            "2026-03-01 00:00:00.12+00:00"
        );
        let naive = Value::Text("2025-06-01 12:34:56.123456".into());
        assert_eq!(
            text(convert(&naive, &Target::Timestamp).unwrap()),
            "2025-06-01 12:34:56.123456"
        );
        assert!(
            convert(&v, &Target::Timestamp)
                .unwrap_err()
                .contains("offset")
        );
        assert!(convert(&Value::Int(1700000000), &Target::Timestamp).is_err());
        assert!(convert(&Value::Text("not a date".into()), &Target::Date).is_err());
        assert_eq!(
            text(convert(&Value::Text("2025-01-02 03:04:05-01:30".into()), &tz).unwrap()),
            "2025-01-02 04:34:05+00:00"
        );
    }

    #[test]
    fn canonical_forms_pass_unchanged_and_others_are_normalised() {
        assert!(is_canonical_timestamp("2025-06-01 12:34:56.123456"));
        assert!(is_canonical_timestamp("2025-06-01 12:34:56"));
        assert!(!is_canonical_timestamp("2025-06-01 12:34:56.120"));
        assert!(!is_canonical_timestamp("2025-02-30 12:34:56"));
        assert!(!is_canonical_timestamp("2025-06-01T12:34:56"));
        assert!(!is_canonical_timestamp("2025-06-01 24:00:00"));
        assert!(is_canonical_date("2024-02-29") && !is_canonical_date("2023-02-29"));
        let v = Value::Text("2025-06-01 12:34:56.120".into());
        assert_eq!(
            text(convert(&v, &Target::Timestamp).unwrap()),
            "2025-06-01 12:34:56.12"
        );
        let tz = Value::Text("2025-06-01 12:34:56+00:00".into());
        assert_eq!(
            text(convert(&tz, &Target::TimestampTz).unwrap()),
            "2025-06-01 12:34:56+00:00"
        );
    }

    #[test]
    fn single_precision_refuses_rounding() {
        assert!(convert(&Value::Float(1.1), &Target::Float { single: true }).is_ok());
        assert!(convert(&Value::Float(0.1 + 0.2), &Target::Float { single: true }).is_err());
        assert!(convert(&Value::Float(f64::NAN), &Target::Float { single: true }).is_ok());
    }

    #[test]
    fn uuids_and_labels() {
        let v = Value::Text("{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}".into());
        let u = convert(&v, &Target::Uuid).unwrap();
        assert_eq!(text(u), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        let labels = vec!["a".to_string(), "b".to_string()];
        assert!(convert(&Value::Text("a,b".into()), &Target::Set(labels.clone())).is_ok());
        assert!(convert(&Value::Text("c".into()), &Target::Enum(labels)).is_err());
    }

    fn col(ty: crate::value::ColumnType, sql_type: &str) -> crate::catalog::ColumnInfo {
        crate::catalog::ColumnInfo {
            name: "c".into(),
            ty,
            sql_type: sql_type.into(),
            nullable: true,
            has_default: false,
            choices: vec![],
        }
    }

    /// What one engine sends and another reads back compare alike; what
    /// an engine changed does not.
    #[test]
    fn sent_and_read_back_values_compare_as_the_column_holds_them() {
        use crate::value::ColumnType as T;
        let same = |a: Value, b: Value, c: &crate::catalog::ColumnInfo| {
            canonical(&a, c).same_as(&canonical(&b, c))
        };
        let t = |s: &str| Value::Text(s.into());
        let d = |s: &str| Value::Decimal(s.into());
        assert!(same(
            Value::Bool(true),
            Value::Int(1),
            &col(T::Bool, "tinyint(1)")
        ));
        assert!(same(
            Value::Bool(false),
            Value::Int(0),
            &col(T::Int, "integer")
        ));
        assert!(same(
            d("12.50"),
            Value::Float(12.5),
            &col(T::Decimal, "DECIMAL(10,2)")
        ));
        assert!(same(
            d("12.5"),
            d("12.50"),
            &col(T::Decimal, "numeric(10,2)")
        ));
        assert!(!same(
            d("12.5"),
            d("12.51"),
            &col(T::Decimal, "numeric(10,2)")
        ));
        assert!(same(Value::Int(7), t("7"), &col(T::Int, "INTEGER")));
        assert!(same(
            t("2024-05-01 10:00:00+02:00"),
            t("2024-05-01 08:00:00+00:00"),
            &col(T::TimestampTz, "timestamptz")
        ));
        assert!(!same(
            t("2024-05-01 10:00:00+02:00"),
            t("2024-05-01 10:00:00+00:00"),
            &col(T::TimestampTz, "timestamptz")
        ));
        assert!(same(
            t("2020-01-01T00:00:00.500"),
            t("2020-01-01 00:00:00.5"),
            &col(T::Timestamp, "datetime(6)")
        ));
        assert!(same(
            t("2024-01-01"),
            t("2024-01-01 00:00:00"),
            &col(T::Timestamp, "timestamp")
        ));
        assert!(same(
            t(r#"{"b": 1, "a": [1, 2.50, 1e2]}"#),
            t(r#"{"a":[1,2.5,100],"b":1.0}"#),
            &col(T::Json, "jsonb")
        ));
        assert!(!same(
            t(r#"{"a": 1}"#),
            t(r#"{"a": "1"}"#),
            &col(T::Json, "json")
        ));
        assert!(same(t("ab"), t("ab   "), &col(T::Text, "character(5)")));
        assert!(!same(t("ab"), t("ab   "), &col(T::Text, "varchar(5)")));
        assert!(same(t("b,a"), t("a,b"), &col(T::Set, "set('a','b')")));
        assert!(same(
            t("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"),
            t("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            &col(T::Uuid, "uuid")
        ));
        // A zero date is no date: it stays as it is, and compares as such.
        assert!(same(
            t("0000-00-00"),
            t("0000-00-00"),
            &col(T::Date, "date")
        ));
        assert!(!same(
            t("2006-02-15 05:03:42"),
            t("2026-12-02 13:00:00"),
            &col(T::Timestamp, "datetime")
        ));
        assert!(same(Value::Null, Value::Null, &col(T::Int, "int")));
        assert!(!same(Value::Null, Value::Int(0), &col(T::Int, "int")));
    }
}

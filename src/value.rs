//! migplan's own value type: the only thing that crosses the boundary between
//! backends (rows ↔ databases) and formats (rows ↔ files).
//!
//! Neither driver types nor serde_json nor spreadsheet cells leak across it, so a
//! backend and a format never need to know about each other.

use openssl::sha::Sha256;
use serde::{Deserialize, Serialize};

/// One cell of one row.
///
/// Variants carry values exactly: decimals stay decimal strings (no float
/// rounding), text is any UTF-8, floats keep every bit (NaN, ±inf, -0.0).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// Unsigned integers beyond `i64::MAX` (MySQL `BIGINT UNSIGNED`).
    UInt(u64),
    Float(f64),
    /// An exact decimal number in plain notation, e.g. `-1234.5600`.
    Decimal(String),
    Text(String),
    Bytes(Vec<u8>),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// A short rendering for messages and reports (keys, conflicting rows).
    pub fn display(&self) -> String {
        match self {
            Value::Null => "NULL".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::UInt(u) => u.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Decimal(d) => d.clone(),
            Value::Text(s) if s.chars().count() > 40 => {
                format!("{:?}…", s.chars().take(40).collect::<String>())
            }
            Value::Text(s) => format!("{s:?}"),
            Value::Bytes(b) => format!("<{} bytes>", b.len()),
        }
    }

    /// Feeds a canonical, unambiguous encoding of the value into a hasher.
    ///
    /// The encoding is tagged and length-prefixed so that no two different
    /// values (or rows) hash alike; every format computes the same checksum
    /// for the same values, whatever its on-disk representation.
    fn hash_into(&self, h: &mut impl Canonical) {
        match self {
            Value::Null => h.feed(&[0u8]),
            Value::Bool(b) => h.feed(&[1u8, *b as u8]),
            Value::Int(i) => {
                h.feed(&[2u8]);
                h.feed(&i.to_be_bytes());
            }
            Value::UInt(u) => {
                h.feed(&[3u8]);
                h.feed(&u.to_be_bytes());
            }
            Value::Float(f) => {
                h.feed(&[4u8]);
                h.feed(&f.to_bits().to_be_bytes());
            }
            Value::Decimal(d) => tagged_bytes(h, 5, d.as_bytes()),
            Value::Text(s) => tagged_bytes(h, 6, s.as_bytes()),
            Value::Bytes(b) => tagged_bytes(h, 7, b),
        }
    }

    /// The canonical encoding the checksums hash ([`Value::hash_into`]), as
    /// bytes: two values are the same value exactly when these are equal
    /// (floats by their bits, decimals by their text, `Int(1)` ≠ `Text("1")`).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.hash_into(&mut out);
        out
    }

    /// Whether two values are the same in the checksums' sense.
    pub fn same_as(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            _ => self.canonical_bytes() == other.canonical_bytes(),
        }
    }
}

/// Where canonical encodings go: a hasher, or bytes kept for comparison.
trait Canonical {
    fn feed(&mut self, bytes: &[u8]);
}

impl Canonical for Vec<u8> {
    #[inline]
    fn feed(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

fn tagged_bytes(h: &mut impl Canonical, tag: u8, bytes: &[u8]) {
    h.feed(&[tag]);
    h.feed(&(bytes.len() as u64).to_be_bytes());
    h.feed(bytes);
}

/// Appends the canonical encoding of a whole row (its length, then each
/// value), as [`Checksum::add_row`] feeds it to the table's running hash.
fn push_row_bytes(row: &[Value], buf: &mut Vec<u8>) {
    buf.extend_from_slice(&(row.len() as u64).to_be_bytes());
    for v in row {
        v.hash_into(buf);
    }
}

/// One row's canonical encoding in `buf`, cleared first and reused.
fn row_bytes<'b>(row: &[Value], buf: &'b mut Vec<u8>) -> &'b [u8] {
    buf.clear();
    push_row_bytes(row, buf);
    buf
}

/// The SHA-256 of one row's canonical encoding: equal rows (in the
/// checksums' sense) hash alike.
pub fn row_hash(row: &[Value]) -> [u8; 32] {
    openssl::sha::sha256(row_bytes(row, &mut Vec::new()))
}

/// A fast 128-bit digest (XXH3) of one row's canonical encoding, for
/// comparing the rows written with the rows read back within one run. Not
/// stored anywhere and not collision-resistant against a crafted input:
/// stored checksums are cryptographic.
pub fn row_digest(row: &[Value], buf: &mut Vec<u8>) -> u128 {
    twox_hash::XxHash3_128::oneshot(row_bytes(row, buf))
}

/// The canonical bytes of several values together (a row's key), length-
/// prefixed like a row: usable as an exact lookup key.
pub fn key_bytes(values: &[&Value]) -> Vec<u8> {
    let mut out = (values.len() as u64).to_be_bytes().to_vec();
    for v in values {
        v.hash_into(&mut out);
    }
    out
}

/// The hash a backup's table checksums use: SHA-256 in format version 1,
/// BLAKE3 from version 2 on (the same canonical bytes; BLAKE3 hashes them
/// an order of magnitude faster, and every row of every export and import
/// passes through it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha256,
    Blake3,
}

impl Algorithm {
    /// The algorithm of a backup written in format `version`.
    pub fn of_format(version: u32) -> Self {
        if version < 2 {
            Algorithm::Sha256
        } else {
            Algorithm::Blake3
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Blake3 => "blake3",
        }
    }
}

#[derive(Clone)]
enum Hasher {
    Sha256(Sha256),
    Blake3(Box<blake3::Hasher>),
}

impl Hasher {
    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Blake3(h) => {
                h.update(bytes);
            }
        }
    }

    fn finish(self) -> String {
        match self {
            Hasher::Sha256(h) => hex::encode(h.finish()),
            Hasher::Blake3(h) => h.finalize().to_hex().to_string(),
        }
    }
}

/// Rows are hashed in batches of this many bytes: BLAKE3 hashes large
/// inputs on several SIMD lanes at once.
const BATCH: usize = 1 << 16;

/// Running row count and checksum of a table's rows, in the order they were
/// written. Export stores it in the backup; import recomputes and compares.
#[derive(Clone)]
pub struct Checksum {
    hasher: Hasher,
    rows: u64,
    /// Canonical bytes of the rows not yet hashed.
    buf: Vec<u8>,
}

impl Default for Checksum {
    fn default() -> Self {
        Self::with(Algorithm::Blake3)
    }
}

impl Checksum {
    /// A checksum for new backups (BLAKE3).
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(algorithm: Algorithm) -> Self {
        Checksum {
            hasher: match algorithm {
                Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
                Algorithm::Blake3 => Hasher::Blake3(Box::new(blake3::Hasher::new())),
            },
            rows: 0,
            buf: Vec::with_capacity(BATCH + 1024),
        }
    }

    pub fn add_row(&mut self, row: &[Value]) {
        push_row_bytes(row, &mut self.buf);
        self.rows += 1;
        if self.buf.len() >= BATCH {
            self.hasher.update(&self.buf);
            self.buf.clear();
        }
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The summary of everything added so far, as stored in backups.
    pub fn summary(&self) -> TableSummary {
        let mut hasher = self.hasher.clone();
        hasher.update(&self.buf);
        let (sha256, blake3) = match hasher {
            Hasher::Sha256(_) => (Some(hasher.finish()), None),
            Hasher::Blake3(_) => (None, Some(hasher.finish())),
        };
        TableSummary {
            rows: self.rows,
            sha256,
            blake3,
        }
    }
}

/// Row count and checksum of one table, as recorded at the end of a backup:
/// `sha256` in format version 1, `blake3` from version 2 on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSummary {
    pub rows: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blake3: Option<String>,
}

impl TableSummary {
    /// The checksum of `algorithm`, if the summary has it.
    pub fn checksum(&self, algorithm: Algorithm) -> Option<&str> {
        match algorithm {
            Algorithm::Sha256 => self.sha256.as_deref(),
            Algorithm::Blake3 => self.blake3.as_deref(),
        }
    }

    /// `algorithm:hex`, for people (workbooks' `_meta`).
    pub fn label(&self) -> String {
        match (&self.blake3, &self.sha256) {
            (Some(b), _) => format!("blake3:{b}"),
            (None, Some(s)) => format!("sha256:{s}"),
            (None, None) => String::new(),
        }
    }
}

/// migplan's portable column types. Each backend maps its native types onto
/// these (docs/types.md); formats use them to encode values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    Bool,
    Int,
    Float,
    Decimal,
    Text,
    Blob,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Json,
    Uuid,
    /// PostgreSQL intervals, as ISO 8601 text.
    Interval,
    /// PostgreSQL arrays, as their literal text (`{1,2}`).
    Array,
    /// Enumerations (PostgreSQL enum types, MySQL `ENUM`), as the label.
    Enum,
    /// MySQL `SET`, as comma-separated labels.
    Set,
    /// No declared type (SQLite columns without one): values keep their own kind.
    Any,
}

impl ColumnType {
    /// Whether values of a column of this type can be written exactly into
    /// a column of type `to`, in principle (each value is still checked:
    /// length, range, scale). The table in docs/types.md.
    pub fn carries_into(self, to: ColumnType) -> bool {
        use ColumnType as T;
        if matches!(to, T::Any) || self == to {
            return true;
        }
        match self {
            // Untyped and textual sources are checked value by value.
            T::Any | T::Text | T::Enum => true,
            // Comma-separated labels: text, or one label of an enum. An
            // array column would take `a,b` for a malformed literal in the
            // middle of the load; other types never hold such a list.
            T::Set => matches!(to, T::Text | T::Enum),
            T::Bool => matches!(to, T::Int),
            T::Int => matches!(to, T::Decimal | T::Float | T::Bool | T::Text),
            T::Float => matches!(to, T::Decimal | T::Text),
            T::Decimal => matches!(to, T::Float | T::Int | T::Text),
            T::Date => matches!(to, T::Timestamp | T::TimestampTz | T::Text),
            T::Timestamp | T::TimestampTz => matches!(to, T::Timestamp | T::TimestampTz | T::Text),
            T::Time | T::Interval | T::Array | T::Json | T::Uuid => matches!(to, T::Text),
            T::Blob => false,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Bool => "bool",
            ColumnType::Int => "int",
            ColumnType::Float => "float",
            ColumnType::Decimal => "decimal",
            ColumnType::Text => "text",
            ColumnType::Blob => "blob",
            ColumnType::Date => "date",
            ColumnType::Time => "time",
            ColumnType::Timestamp => "timestamp",
            ColumnType::TimestampTz => "timestamptz",
            ColumnType::Json => "json",
            ColumnType::Uuid => "uuid",
            ColumnType::Interval => "interval",
            ColumnType::Array => "array",
            ColumnType::Enum => "enum",
            ColumnType::Set => "set",
            ColumnType::Any => "any",
        }
    }
}

/// Plain decimal notation: optional sign, digits, optional fraction (the
/// form of [`Value::Decimal`]).
pub fn is_decimal(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && !(s.contains('.') && frac.is_empty())
}

/// The canonical text of a time of day, as values carry it: `HH:MM:SS`,
/// then the microseconds with their trailing zeros trimmed.
pub fn canonical_time(t: chrono::NaiveTime) -> String {
    use chrono::Timelike;
    let base = t.format("%H:%M:%S").to_string();
    let micros = t.nanosecond() / 1000;
    if micros == 0 {
        return base;
    }
    let frac = format!("{micros:06}");
    format!("{base}.{}", frac.trim_end_matches('0'))
}

/// The canonical text of a timestamp: `YYYY-MM-DD ` + [`canonical_time`].
pub fn canonical_timestamp(n: chrono::NaiveDateTime) -> String {
    format!("{} {}", n.format("%Y-%m-%d"), canonical_time(n.time()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_distinguishes_values_that_print_alike() {
        let mut a = Checksum::new();
        a.add_row(&[Value::Text("1".into())]);
        let mut b = Checksum::new();
        b.add_row(&[Value::Int(1)]);
        assert_ne!(a.summary().blake3, b.summary().blake3);
    }

    #[test]
    fn checksum_distinguishes_row_boundaries() {
        let mut a = Checksum::new();
        a.add_row(&[Value::Text("ab".into()), Value::Text("c".into())]);
        let mut b = Checksum::new();
        b.add_row(&[Value::Text("a".into()), Value::Text("bc".into())]);
        assert_ne!(a.summary().blake3, b.summary().blake3);
    }

    #[test]
    fn a_set_carries_into_text_and_enums_only() {
        assert!(ColumnType::Set.carries_into(ColumnType::Text));
        assert!(ColumnType::Set.carries_into(ColumnType::Enum));
        assert!(ColumnType::Set.carries_into(ColumnType::Set));
        assert!(!ColumnType::Set.carries_into(ColumnType::Array));
        assert!(!ColumnType::Set.carries_into(ColumnType::Json));
        assert!(ColumnType::Text.carries_into(ColumnType::Array));
    }

    #[test]
    fn checksum_keeps_float_bits() {
        let mut a = Checksum::new();
        a.add_row(&[Value::Float(0.0)]);
        let mut b = Checksum::new();
        b.add_row(&[Value::Float(-0.0)]);
        assert_ne!(a.summary().blake3, b.summary().blake3);
    }
}

#[cfg(test)]
mod canonical_tests {
    use super::*;

    #[test]
    fn canonical_bytes_tell_values_apart_exactly() {
        assert!(Value::Float(f64::NAN).same_as(&Value::Float(f64::NAN)));
        assert!(!Value::Float(0.0).same_as(&Value::Float(-0.0)));
        assert!(!Value::Int(1).same_as(&Value::Text("1".into())));
        assert!(!Value::Decimal("1.5".into()).same_as(&Value::Decimal("1.50".into())));
        assert!(Value::Bytes(vec![1, 2]).same_as(&Value::Bytes(vec![1, 2])));
        let row = [Value::Int(1), Value::Text("a".into())];
        assert_eq!(row_hash(&row), row_hash(&row.clone()));
        assert_ne!(
            row_hash(&row),
            row_hash(&[Value::Int(1), Value::Text("b".into())])
        );
        assert_ne!(
            key_bytes(&[&Value::Text("ab".into()), &Value::Text("c".into())]),
            key_bytes(&[&Value::Text("a".into()), &Value::Text("bc".into())])
        );
    }
}

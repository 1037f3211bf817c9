//! The JSON backup format: one JSON object, written and read as a stream so
//! that memory stays flat whatever the size of a table.
//!
//! # Layout
//!
//! ```text
//! {"meta": { …BackupMeta, pretty-printed… },
//! "data": {
//! "users": [
//! [1,"张三","aGVsbG8="],
//! [2,"李四",null]
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
//! row per line keeps backups diffable and greppable. A row is an array of
//! the table's exported columns' values, in `TableMeta.columns` order
//! (format version 3: half the bytes of an object repeating every column's
//! name, which versions 1 and 2 wrote and which is still read, as are
//! objects people write by hand).
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

mod reader;
#[cfg(test)]
mod tests;
mod writer;

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};

use super::apart::{Body, TableWriter, WrittenTable};
use super::compress::{self, CompressedFile, Compression};
use super::encrypt::Recipients;
use super::limits;
use super::{BackupMeta, BackupVisitor, BackupWriter, FORMAT_NAME, FORMAT_VERSION, TableMeta};
use crate::error::{Error, Result};
use crate::value::{Algorithm, Checksum, ColumnType, TableSummary, Value};

pub use reader::{read, read_meta};
pub use writer::JsonWriter;
pub(super) use writer::apart_writer;
/// The bits of the NaN written as plain `"NaN"`; other NaNs spell out theirs.
const CANONICAL_NAN: u64 = 0x7ff8_0000_0000_0000;

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

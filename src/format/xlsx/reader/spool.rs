//! The rows the check pass found valid, kept in an unnamed temporary file
//! so that the read pass hands them on without parsing the workbook's XML
//! a second time (most of a checked import's cost). Each row keeps where it
//! came from, so a row the target refuses is still placed at its cell.
//!
//! The spool is a convenience, never a requirement: when the temporary
//! file cannot be made or written (no room), it is dropped and the read
//! pass streams the sheets again, as it always could.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use crate::value::Value;

/// Bytes buffered each way.
const BUFFER: usize = 256 << 10;

/// Where a row came from: its table's sheet (index into the table's
/// sheets) and its 0-based row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RowAt {
    pub(super) sheet: u32,
    pub(super) row: u32,
}

/// Rows being written, table after table.
pub(super) struct Spool {
    out: BufWriter<File>,
}

impl Spool {
    /// A spool in the system's temporary folder, gone when dropped.
    pub(super) fn create() -> io::Result<Spool> {
        Ok(Spool {
            out: BufWriter::with_capacity(BUFFER, tempfile::tempfile()?),
        })
    }

    pub(super) fn push(&mut self, at: RowAt, row: &[Value]) -> io::Result<()> {
        let out = &mut self.out;
        out.write_all(&at.sheet.to_le_bytes())?;
        out.write_all(&at.row.to_le_bytes())?;
        out.write_all(&(row.len() as u32).to_le_bytes())?;
        row.iter().try_for_each(|v| put_value(out, v))
    }

    /// The rows written, from the first.
    pub(super) fn rewind(self) -> io::Result<Unspool> {
        let mut file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0))?;
        Ok(Unspool {
            input: BufReader::with_capacity(BUFFER, file),
        })
    }
}

/// Rows being read back, in the order they were pushed.
pub(super) struct Unspool {
    input: BufReader<File>,
}

impl Unspool {
    pub(super) fn next(&mut self) -> io::Result<(RowAt, Vec<Value>)> {
        let at = RowAt {
            sheet: u32_of(&mut self.input)?,
            row: u32_of(&mut self.input)?,
        };
        let len = u32_of(&mut self.input)? as usize;
        let row = (0..len)
            .map(|_| take_value(&mut self.input))
            .collect::<io::Result<_>>()?;
        Ok((at, row))
    }
}

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const INT: u8 = 3;
const UINT: u8 = 4;
const FLOAT: u8 = 5;
const DECIMAL: u8 = 6;
const TEXT: u8 = 7;
const BYTES: u8 = 8;

fn put_value(out: &mut impl Write, v: &Value) -> io::Result<()> {
    match v {
        Value::Null => out.write_all(&[NULL]),
        Value::Bool(false) => out.write_all(&[FALSE]),
        Value::Bool(true) => out.write_all(&[TRUE]),
        Value::Int(i) => put_fixed(out, INT, i.to_le_bytes()),
        Value::UInt(u) => put_fixed(out, UINT, u.to_le_bytes()),
        Value::Float(f) => put_fixed(out, FLOAT, f.to_bits().to_le_bytes()),
        Value::Decimal(s) => put_bytes(out, DECIMAL, s.as_bytes()),
        Value::Text(s) => put_bytes(out, TEXT, s.as_bytes()),
        Value::Bytes(b) => put_bytes(out, BYTES, b),
    }
}

fn put_fixed(out: &mut impl Write, tag: u8, bytes: [u8; 8]) -> io::Result<()> {
    out.write_all(&[tag])?;
    out.write_all(&bytes)
}

fn put_bytes(out: &mut impl Write, tag: u8, bytes: &[u8]) -> io::Result<()> {
    out.write_all(&[tag])?;
    out.write_all(&(bytes.len() as u64).to_le_bytes())?;
    out.write_all(bytes)
}

fn take_value(input: &mut impl Read) -> io::Result<Value> {
    let mut tag = [0u8];
    input.read_exact(&mut tag)?;
    Ok(match tag[0] {
        NULL => Value::Null,
        FALSE => Value::Bool(false),
        TRUE => Value::Bool(true),
        INT => Value::Int(i64::from_le_bytes(take8(input)?)),
        UINT => Value::UInt(u64::from_le_bytes(take8(input)?)),
        FLOAT => Value::Float(f64::from_bits(u64::from_le_bytes(take8(input)?))),
        DECIMAL => Value::Decimal(take_text(input)?),
        TEXT => Value::Text(take_text(input)?),
        BYTES => Value::Bytes(take_bytes(input)?),
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the row spool holds an unknown tag {other}"),
            ));
        }
    })
}

fn take8(input: &mut impl Read) -> io::Result<[u8; 8]> {
    let mut b = [0u8; 8];
    input.read_exact(&mut b)?;
    Ok(b)
}

fn u32_of(input: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    input.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn take_bytes(input: &mut impl Read) -> io::Result<Vec<u8>> {
    let len = u64::from_le_bytes(take8(input)?) as usize;
    let mut bytes = vec![0u8; len];
    input.read_exact(&mut bytes)?;
    Ok(bytes)
}

fn take_text(input: &mut impl Read) -> io::Result<String> {
    String::from_utf8(take_bytes(input)?).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_come_back_as_they_went_with_their_places() {
        let rows = [
            vec![
                Value::Null,
                Value::Bool(true),
                Value::Bool(false),
                Value::Int(-42),
                Value::UInt(u64::MAX),
            ],
            vec![
                Value::Float(f64::from_bits(0x7ff8_0000_0000_0001)),
                Value::Float(-0.0),
                Value::Decimal("-1234.5600".into()),
                Value::Text("题目 \u{0}".into()),
                Value::Bytes(vec![0, 255, 7]),
                Value::Text(String::new()),
            ],
            vec![],
        ];
        let mut spool = Spool::create().unwrap();
        for (i, row) in rows.iter().enumerate() {
            let at = RowAt {
                sheet: i as u32,
                row: 1000 + i as u32,
            };
            spool.push(at, row).unwrap();
        }
        let mut back = spool.rewind().unwrap();
        for (i, row) in rows.iter().enumerate() {
            let (at, got) = back.next().unwrap();
            assert_eq!((at.sheet, at.row), (i as u32, 1000 + i as u32));
            assert_eq!(got.len(), row.len());
            for (a, b) in got.iter().zip(row) {
                assert!(crate::format::xlsx::cell::same(a, b), "{a:?} {b:?}");
            }
        }
        assert!(back.next().is_err());
    }
}

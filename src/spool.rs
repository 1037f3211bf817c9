//! Rows parked in a temporary file until they can be handed on: tables that
//! arrive before their parents (the importer), rows split off into another
//! table until their source table ends (adapters). Keeps memory flat however
//! many rows wait.

use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use crate::error::{Error, Result};
use crate::value::Value;

pub struct Spool {
    file: BufWriter<std::fs::File>,
    rows: u64,
}

impl Spool {
    pub fn new() -> Result<Spool> {
        let file = tempfile::tempfile().map_err(|e| Error::io(std::env::temp_dir(), e))?;
        Ok(Spool {
            file: BufWriter::new(file),
            rows: 0,
        })
    }

    pub fn push(&mut self, row: &[Value]) -> Result<()> {
        let w = &mut self.file;
        let res = (|| {
            w.write_all(&(row.len() as u32).to_le_bytes())?;
            row.iter().try_for_each(|v| encode(w, v))
        })();
        self.rows += 1;
        res.map_err(|e| Error::io(std::env::temp_dir(), e))
    }

    /// Reads every parked row back, in the order they were parked.
    pub fn drain(self, mut f: impl FnMut(Vec<Value>) -> Result<()>) -> Result<()> {
        let io = |e| Error::io(std::env::temp_dir(), e);
        let mut file = self.file.into_inner().map_err(|e| io(e.into_error()))?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        let mut r = BufReader::new(file);
        for _ in 0..self.rows {
            let n = read_u32(&mut r).map_err(io)? as usize;
            let row = (0..n)
                .map(|_| decode(&mut r))
                .collect::<std::io::Result<Vec<_>>>()
                .map_err(io)?;
            f(row)?;
        }
        Ok(())
    }
}

/// One row in the spool's encoding, as bytes (kept elsewhere: the
/// verifier's on-disk index).
pub(crate) fn encode_row(row: &[Value]) -> Vec<u8> {
    let mut out = (row.len() as u32).to_le_bytes().to_vec();
    for v in row {
        encode(&mut out, v).expect("writing to a Vec cannot fail");
    }
    out
}

/// The row [`encode_row`] encoded.
pub(crate) fn decode_row(mut bytes: &[u8]) -> std::io::Result<Vec<Value>> {
    let r = &mut bytes;
    let n = read_u32(r)? as usize;
    (0..n).map(|_| decode(r)).collect()
}

fn encode(w: &mut impl Write, v: &Value) -> std::io::Result<()> {
    let bytes = |w: &mut dyn Write, tag: u8, b: &[u8]| -> std::io::Result<()> {
        w.write_all(&[tag])?;
        w.write_all(&(b.len() as u64).to_le_bytes())?;
        w.write_all(b)
    };
    match v {
        Value::Null => w.write_all(&[0]),
        Value::Bool(b) => w.write_all(&[1, *b as u8]),
        Value::Int(i) => w
            .write_all(&[2])
            .and_then(|_| w.write_all(&i.to_le_bytes())),
        Value::UInt(u) => w
            .write_all(&[3])
            .and_then(|_| w.write_all(&u.to_le_bytes())),
        Value::Float(f) => w
            .write_all(&[4])
            .and_then(|_| w.write_all(&f.to_bits().to_le_bytes())),
        Value::Decimal(d) => bytes(w, 5, d.as_bytes()),
        Value::Text(s) => bytes(w, 6, s.as_bytes()),
        Value::Bytes(b) => bytes(w, 7, b),
    }
}

fn read_u32(r: &mut impl Read) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_u64(r: &mut impl Read) -> std::io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn read_bytes(r: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; read_u64(r)? as usize];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

fn decode(r: &mut impl Read) -> std::io::Result<Value> {
    let mut tag = [0u8; 1];
    r.read_exact(&mut tag)?;
    let text = |b: Vec<u8>| String::from_utf8(b).map_err(std::io::Error::other);
    Ok(match tag[0] {
        0 => Value::Null,
        1 => {
            r.read_exact(&mut tag)?;
            Value::Bool(tag[0] == 1)
        }
        2 => Value::Int(read_u64(r)? as i64),
        3 => Value::UInt(read_u64(r)?),
        4 => Value::Float(f64::from_bits(read_u64(r)?)),
        5 => Value::Decimal(text(read_bytes(r)?)?),
        6 => Value::Text(text(read_bytes(r)?)?),
        7 => Value::Bytes(read_bytes(r)?),
        t => return Err(std::io::Error::other(format!("bad spool tag {t}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spool_returns_rows_exactly_and_in_order() {
        let rows = vec![
            vec![
                Value::Null,
                Value::Bool(true),
                Value::Int(i64::MIN),
                Value::UInt(u64::MAX),
            ],
            vec![
                Value::Float(-0.0),
                Value::Decimal("1.50".into()),
                Value::Text("题目 😀".into()),
                Value::Bytes(vec![0, 255]),
            ],
        ];
        let mut spool = Spool::new().unwrap();
        for r in &rows {
            spool.push(r).unwrap();
        }
        let mut back = vec![];
        spool
            .drain(|r| {
                back.push(r);
                Ok(())
            })
            .unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0], rows[0]);
        assert_eq!(back[1][1..], rows[1][1..]);
        assert!(matches!(back[1][0], Value::Float(f) if f.to_bits() == (-0.0f64).to_bits()));
    }
}

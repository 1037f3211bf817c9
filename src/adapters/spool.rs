//! Rows split off into another table wait here, in a temporary file, until
//! their source table ends. (`data::spool` is private to the data phase;
//! this is the same idea in a few lines: length-prefixed tagged values.)

use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use crate::error::{Error, Result};
use crate::value::Value;

pub struct Spool {
    file: BufWriter<std::fs::File>,
    rows: u64,
}

fn io(e: std::io::Error) -> Error {
    Error::io(std::env::temp_dir(), e)
}

impl Spool {
    pub fn new() -> Result<Spool> {
        let file = tempfile::tempfile().map_err(io)?;
        Ok(Spool {
            file: BufWriter::new(file),
            rows: 0,
        })
    }

    pub fn push(&mut self, row: &[Value]) -> Result<()> {
        let w = &mut self.file;
        w.write_all(&(row.len() as u64).to_le_bytes()).map_err(io)?;
        for v in row {
            encode(w, v).map_err(io)?;
        }
        self.rows += 1;
        Ok(())
    }

    /// Hands every row back, in the order pushed.
    pub fn drain(self, mut f: impl FnMut(Vec<Value>) -> Result<()>) -> Result<()> {
        let mut file = self.file.into_inner().map_err(|e| io(e.into_error()))?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        let mut r = BufReader::new(file);
        for _ in 0..self.rows {
            let n = read_u64(&mut r).map_err(io)?;
            let row = (0..n)
                .map(|_| decode(&mut r))
                .collect::<std::io::Result<Vec<_>>>()
                .map_err(io)?;
            f(row)?;
        }
        Ok(())
    }
}

fn encode(w: &mut impl Write, v: &Value) -> std::io::Result<()> {
    let (tag, bytes): (u8, Vec<u8>) = match v {
        Value::Null => (0, vec![]),
        Value::Bool(b) => (1, vec![*b as u8]),
        Value::Int(i) => (2, i.to_le_bytes().to_vec()),
        Value::UInt(u) => (3, u.to_le_bytes().to_vec()),
        Value::Float(f) => (4, f.to_bits().to_le_bytes().to_vec()),
        Value::Decimal(d) => (5, d.as_bytes().to_vec()),
        Value::Text(s) => (6, s.as_bytes().to_vec()),
        Value::Bytes(b) => (7, b.clone()),
    };
    w.write_all(&[tag])?;
    w.write_all(&(bytes.len() as u64).to_le_bytes())?;
    w.write_all(&bytes)
}

fn read_u64(r: &mut impl Read) -> std::io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn decode(r: &mut impl Read) -> std::io::Result<Value> {
    let mut tag = [0u8; 1];
    r.read_exact(&mut tag)?;
    let mut buf = vec![0u8; read_u64(r)? as usize];
    r.read_exact(&mut buf)?;
    let eight = |b: &[u8]| -> std::io::Result<[u8; 8]> {
        b.try_into()
            .map_err(|_| std::io::Error::other("bad spool value"))
    };
    let text = |b: Vec<u8>| String::from_utf8(b).map_err(std::io::Error::other);
    Ok(match tag[0] {
        0 => Value::Null,
        1 => Value::Bool(buf.first() == Some(&1)),
        2 => Value::Int(i64::from_le_bytes(eight(&buf)?)),
        3 => Value::UInt(u64::from_le_bytes(eight(&buf)?)),
        4 => Value::Float(f64::from_bits(u64::from_le_bytes(eight(&buf)?))),
        5 => Value::Decimal(text(buf)?),
        6 => Value::Text(text(buf)?),
        7 => Value::Bytes(buf),
        t => return Err(std::io::Error::other(format!("bad spool tag {t}"))),
    })
}

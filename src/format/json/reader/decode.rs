//! One row decoded: its keys matched to the table's columns, each value
//! decoded by its column's type (see the `json` module doc), every problem
//! placed at its table, row and column.

use std::fmt::{self, Display};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::super::parse_nonfinite;
use crate::format::TableMeta;
use crate::value::{ColumnType, Value};

/// Where a value sits, for messages: table, 1-based row.
pub(in crate::format::json) struct RowCtx<'a> {
    pub(in crate::format::json) table: &'a TableMeta,
    pub(in crate::format::json) row: u64,
}

impl RowCtx<'_> {
    fn error<E: de::Error>(&self, column: Option<usize>, message: impl Display) -> E {
        let (table, row) = (&self.table.name, self.row);
        match column {
            Some(c) => E::custom(format!(
                "table `{table}`, row {row}, column `{}`: {message}",
                self.table.columns[c].name
            )),
            None => E::custom(format!("table `{table}`, row {row}: {message}")),
        }
    }
}

/// One row → values in column order: an array of the table's columns in
/// order (format version 3), or an object keyed by column name (versions 1
/// and 2, and rows people write by hand).
pub(super) struct RowSeed<'a> {
    pub(super) ctx: &'a RowCtx<'a>,
    pub(super) seen: &'a mut Vec<bool>,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = Vec<Value>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Vec<Value>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "row {} of table `{}` as an array of its columns' values",
            self.ctx.row, self.ctx.table.name
        )
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
        let ctx = self.ctx;
        let columns = self.seen.len();
        let mut values = Vec::with_capacity(columns);
        while values.len() < columns {
            let column = values.len();
            match seq.next_element_seed(ValueSeed { ctx, column })? {
                Some(value) => values.push(value),
                None => return Err(ctx.error(Some(column), "the column is missing")),
            }
        }
        match seq.next_element::<IgnoredAny>()? {
            Some(_) => Err(ctx.error(
                None,
                format!("the row has more values than the table's {columns} columns"),
            )),
            None => Ok(values),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Value>, A::Error> {
        let ctx = self.ctx;
        self.seen.fill(false);
        let mut values = vec![Value::Null; self.seen.len()];
        let mut hint = 0;
        while let Some(c) = map.next_key_seed(ColumnSeed { ctx, hint })? {
            if self.seen[c] {
                return Err(ctx.error(Some(c), "the column appears twice"));
            }
            values[c] = map.next_value_seed(ValueSeed { ctx, column: c })?;
            self.seen[c] = true;
            hint = c + 1;
        }
        match self.seen.iter().position(|s| !s) {
            Some(c) => Err(ctx.error(Some(c), "the column is missing")),
            None => Ok(values),
        }
    }
}

/// A row key → its column's index.
struct ColumnSeed<'a> {
    ctx: &'a RowCtx<'a>,
    /// The index the key most likely has: rows list columns in order.
    hint: usize,
}

impl<'de> DeserializeSeed<'de> for ColumnSeed<'_> {
    type Value = usize;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for ColumnSeed<'_> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a column name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<usize, E> {
        let columns = &self.ctx.table.columns;
        if columns.get(self.hint).is_some_and(|c| c.name == key) {
            return Ok(self.hint);
        }
        columns.iter().position(|c| c.name == key).ok_or_else(|| {
            let known: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
            self.ctx.error(
                None,
                format!(
                    "unknown column `{key}` (the table's columns: {})",
                    known.join(", ")
                ),
            )
        })
    }
}

/// One value, decoded by its column's type (see the module doc).
pub(in crate::format::json) struct ValueSeed<'a> {
    pub(in crate::format::json) ctx: &'a RowCtx<'a>,
    pub(in crate::format::json) column: usize,
}

impl ValueSeed<'_> {
    fn ty(&self) -> ColumnType {
        self.ctx.table.columns[self.column].ty
    }

    fn error<E: de::Error>(&self, message: impl Display) -> E {
        self.ctx.error(Some(self.column), message)
    }

    fn float<E: de::Error>(&self, s: &str) -> Result<Value, E> {
        parse_nonfinite(s).map(Value::Float).ok_or_else(|| {
            self.error(format!(
                "expected a number, \"NaN\", \"Infinity\" or \"-Infinity\", found {s:?}"
            ))
        })
    }

    fn bytes<E: de::Error>(&self, s: &str) -> Result<Value, E> {
        BASE64
            .decode(s)
            .map(Value::Bytes)
            .map_err(|e| self.error(format!("invalid base64: {e}")))
    }

    /// `{"$tag": …}`: a value that does not have its column's natural type.
    fn tagged<'de, A: MapAccess<'de>>(&self, tag: &str, map: &mut A) -> Result<Value, A::Error> {
        let value = match tag {
            "$uint" => Value::UInt(map.next_value().map_err(|e| self.error(e))?),
            "$float" => self.float(&map.next_value::<String>().map_err(|e| self.error(e))?)?,
            "$decimal" => Value::Decimal(map.next_value().map_err(|e| self.error(e))?),
            "$text" => Value::Text(map.next_value().map_err(|e| self.error(e))?),
            "$base64" => self.bytes(&map.next_value::<String>().map_err(|e| self.error(e))?)?,
            _ => return Err(self.error(format!("unknown tag `{tag}` (objects in rows are tagged values: `$text`, `$decimal`, `$float`, `$base64`, `$uint`)"))),
        };
        match map.next_key::<IgnoredAny>()? {
            Some(_) => Err(self.error("a tagged value has exactly one key")),
            None => Ok(value),
        }
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a column value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Value, E> {
        Ok(i64::try_from(u).map_or(Value::UInt(u), Value::Int))
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        match self.ty() {
            ColumnType::Float => self.float(s),
            ColumnType::Decimal => Ok(Value::Decimal(s.to_owned())),
            ColumnType::Blob => self.bytes(s),
            _ => Ok(Value::Text(s.to_owned())),
        }
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        match self.ty() {
            ColumnType::Float | ColumnType::Blob => self.visit_str(&s),
            ColumnType::Decimal => Ok(Value::Decimal(s)),
            _ => Ok(Value::Text(s)),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Value, A::Error> {
        Err(self.error("an array is not a column value"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        match map.next_key::<String>()? {
            Some(tag) => self.tagged(&tag, &mut map),
            None => Err(self.error("an empty object is not a column value")),
        }
    }
}

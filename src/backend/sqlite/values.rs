//! SQLite's types and values: declared types mapped to portable ones,
//! stored values read as migplan's and bound back, the affinity rules by
//! which SQLite converts what it stores (and the conversions that would
//! lose something), and an export's rows read in one snapshot.

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{ToSql, params_from_iter};

use super::{Sqlite, quote, quote_list};
use crate::backend::{Engine, ReadRequest};
use crate::catalog::ColumnInfo;
use crate::error::{Error, Result};
use crate::value::is_decimal;
use crate::value::{ColumnType, Value};

/// Maps a declared SQLite type to a portable type, following SQLite's own
/// affinity rules where they apply and the common type names where they don't.
pub fn column_type(declared: &str) -> ColumnType {
    let t = declared.to_ascii_uppercase();
    let base = t.split('(').next().unwrap_or("").trim();
    match base {
        "" => ColumnType::Any,
        "DATE" => ColumnType::Date,
        "TIME" => ColumnType::Time,
        "DATETIME" | "TIMESTAMP" => ColumnType::Timestamp,
        "TIMESTAMPTZ" | "TIMESTAMP WITH TIME ZONE" => ColumnType::TimestampTz,
        "JSON" | "JSONB" => ColumnType::Json,
        "UUID" => ColumnType::Uuid,
        _ if base.contains("BOOL") => ColumnType::Bool,
        _ if base.contains("INT") => ColumnType::Int,
        _ if ["CHAR", "CLOB", "TEXT"].iter().any(|k| base.contains(k)) => ColumnType::Text,
        _ if base.contains("BLOB") => ColumnType::Blob,
        _ if ["REAL", "FLOA", "DOUB"].iter().any(|k| base.contains(k)) => ColumnType::Float,
        _ if base.contains("DEC") || base.contains("NUMERIC") => ColumnType::Decimal,
        _ => ColumnType::Any,
    }
}

/// A stored value as migplan's value. Integers in boolean columns that are
/// 0 or 1 become booleans (SQLite stores booleans as integers); text in a
/// decimal column becomes a decimal. Both bind back to the same storage.
pub(super) fn from_sql(v: ValueRef<'_>, ty: ColumnType) -> std::result::Result<Value, String> {
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i @ (0 | 1)) if ty == ColumnType::Bool => Value::Bool(i == 1),
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Float(f),
        ValueRef::Text(t) => {
            let s = std::str::from_utf8(t)
                .map_err(|_| "holds text that is not valid UTF-8".to_string())?
                .to_string();
            if ty == ColumnType::Decimal && is_decimal(&s) {
                Value::Decimal(s)
            } else {
                Value::Text(s)
            }
        }
        ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
    })
}

/// A value as a SQLite binding; values SQLite cannot store exactly are errors.
pub(super) fn bind(v: &Value) -> std::result::Result<ToSqlOutput<'_>, String> {
    use rusqlite::types::Value as Sv;
    Ok(match v {
        Value::Null => ToSqlOutput::Owned(Sv::Null),
        Value::Bool(b) => ToSqlOutput::Owned(Sv::Integer(*b as i64)),
        Value::Int(i) => ToSqlOutput::Owned(Sv::Integer(*i)),
        Value::UInt(u) => match i64::try_from(*u) {
            Ok(i) => ToSqlOutput::Owned(Sv::Integer(i)),
            Err(_) => return Err(format!("{u} does not fit SQLite's 64-bit signed INTEGER")),
        },
        // SQLite silently stores NaN as NULL: refuse rather than lose it.
        Value::Float(f) if f.is_nan() => {
            return Err("SQLite cannot store NaN (it would become NULL)".into());
        }
        Value::Float(f) => ToSqlOutput::Owned(Sv::Real(*f)),
        Value::Decimal(d) => ToSqlOutput::Borrowed(ValueRef::Text(d.as_bytes())),
        Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        Value::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
    })
}

pub(super) struct Bound<'a>(ToSqlOutput<'a>);

impl ToSql for Bound<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match &self.0 {
            ToSqlOutput::Borrowed(v) => ToSqlOutput::Borrowed(*v),
            ToSqlOutput::Owned(v) => ToSqlOutput::Borrowed(v.into()),
            other => return other.to_sql(),
        })
    }
}

/// Binds a row whose values are in `columns` order; a value SQLite cannot
/// store names its column.
pub(super) fn bind_row<'a>(row: &'a [Value], columns: &[String]) -> Result<Vec<Bound<'a>>> {
    row.iter()
        .zip(columns)
        .map(|(v, c)| bind(v).map(Bound).map_err(|m| Error::value(c, m)))
        .collect()
}

/// SQLite's affinity rules (datatype3.html §3.1): columns that are neither
/// TEXT nor BLOB (nor untyped) convert numeric-looking text to numbers.
pub(super) fn numeric_affinity(declared: &str) -> bool {
    let t = declared.to_ascii_uppercase();
    if t.contains("INT") {
        return true;
    }
    let text = ["CHAR", "CLOB", "TEXT"].iter().any(|k| t.contains(k));
    !(text || t.contains("BLOB") || t.trim().is_empty())
}

/// REAL affinity (datatype3.html §3.1): neither INTEGER, TEXT nor BLOB,
/// and REAL, FLOA or DOUB in the declared type.
pub(super) fn real_affinity(declared: &str) -> bool {
    let t = declared.to_ascii_uppercase();
    numeric_affinity(&t)
        && !t.contains("INT")
        && ["REAL", "FLOA", "DOUB"].iter().any(|k| t.contains(k))
}

/// Why this SQLite column cannot hold every value of a source column
/// exactly, or `None` when it can. A column of NUMERIC (or INTEGER)
/// affinity turns decimal text into an INTEGER or a REAL: the scale goes
/// (`2.50` is stored as 2.5, `0.00` as the integer 0) and a REAL keeps 15
/// significant digits. Only decimals without a fraction and of at most 18
/// digits are stored exactly (as INTEGER). A SQLite source's values are
/// already stored that way, and a REAL column takes decimals as floats
/// (docs/types.md, decimal → float), so neither is flagged here.
pub fn inexact(source_engine: &str, from: &ColumnInfo, to: &ColumnInfo) -> Option<String> {
    if source_engine == Engine::Sqlite.name()
        || from.ty != ColumnType::Decimal
        || to.ty == ColumnType::Float
        || !numeric_affinity(&to.sql_type)
    {
        return None;
    }
    let stored = "SQLite stores decimals in a column of NUMERIC affinity as INTEGER or REAL";
    match precision_scale(&from.sql_type) {
        (Some(p), Some(0) | None) if p <= 18 => None,
        (Some(_), Some(0) | None) => Some(format!(
            "{stored}: integers of more than 18 digits become REAL, keeping 15 significant digits"
        )),
        (Some(_), Some(_)) => Some(format!(
            "{stored}: the scale is lost (`2.50` arrives as 2.5, `0.00` as the integer 0) and a fraction keeps 15 significant digits"
        )),
        (None, _) => Some(format!(
            "{stored}: a decimal of undeclared precision loses its scale (`2.50` arrives as 2.5, `0.00` as the integer 0) and keeps 15 significant digits"
        )),
    }
}

/// `(p, s)` of a declared `DECIMAL(p,s)`, `NUMERIC(p)` … (engine spelling
/// of the source column); `None` where not declared.
fn precision_scale(declared: &str) -> (Option<u32>, Option<u32>) {
    let Some(args) = declared
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(args, _)| args)
    else {
        return (None, None);
    };
    let mut nums = args.split(',').map(|n| n.trim().parse::<u32>().ok());
    let p = nums.next().flatten();
    (p, p.and(nums.next().flatten()))
}

/// What SQLite stores for text bound to a column of numeric affinity, as
/// text, when it stores a number: a well-formed integer or real literal
/// (spaces around it allowed) becomes an INTEGER, or a REAL (in a REAL
/// column, or with a fraction); anything else stays text (`None`).
pub(super) fn stored_number(s: &str, real: bool) -> Option<String> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let (mantissa, exponent) = match body.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['+', '-']).unwrap_or(e))),
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    let literal = !(int.is_empty() && frac.is_empty())
        && digits(int)
        && digits(frac)
        && exponent.is_none_or(|e| !e.is_empty() && digits(e));
    if !literal {
        return None;
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    let f: f64 = t.parse().ok()?;
    match t.parse::<i64>() {
        Ok(n) if !real => Some(n.to_string()),
        _ if !real && f.fract() == 0.0 && f.abs() < 9.2e18 => Some((f as i64).to_string()),
        _ => Some(f.to_string()),
    }
}

pub(super) fn significant_digits(s: &str) -> usize {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    let frac_zeros = match s.split_once('.') {
        Some((_, f)) => f.len() - f.trim_end_matches('0').len(),
        None => 0,
    };
    let trimmed = &digits[..digits.len() - frac_zeros];
    trimmed.trim_start_matches('0').len()
}

impl Sqlite {
    pub(super) fn begin_snapshot(&mut self) -> Result<()> {
        // A deferred transaction takes its snapshot at the first read; read
        // once now so every table is read from the same instant.
        self.conn
            .execute_batch("BEGIN DEFERRED; SELECT count(*) FROM sqlite_schema;")
            .map_err(|e| Error::db("starting the export snapshot", e))
    }

    pub(super) fn read_rows(
        &mut self,
        req: &ReadRequest<'_>,
        sink: &mut dyn FnMut(&[Value]) -> Result<()>,
    ) -> Result<()> {
        let ctx = || format!("reading `{}`", req.table);
        let (sql, params) = select_sql(req);
        let types = self.column_types(req.table, req.columns)?;
        let mut stmt = self.conn.prepare(&sql).map_err(|e| Error::db(ctx(), e))?;
        let mut rows = stmt
            .query(params_from_iter(params.iter()))
            .map_err(|e| Error::db(ctx(), e))?;
        let mut row_buf = Vec::with_capacity(req.columns.len());
        while let Some(row) = rows.next().map_err(|e| Error::db(ctx(), e))? {
            row_buf.clear();
            for (i, ty) in types.iter().enumerate() {
                let v = row.get_ref(i).map_err(|e| Error::db(ctx(), e))?;
                row_buf.push(from_sql(v, *ty).map_err(|m| {
                    Error::from(crate::error::EngineError::UnreadableValue {
                        table: req.table.to_string(),
                        column: req.columns[i].clone(),
                        message: m.to_string(),
                    })
                })?);
            }
            sink(&row_buf)?;
        }
        Ok(())
    }
}

/// The SELECT of a read request and its parameters.
fn select_sql(req: &ReadRequest<'_>) -> (String, Vec<rusqlite::types::Value>) {
    let (filter, params) = changed_where(req);
    let order = if req.order_by.is_empty() {
        "rowid".to_string()
    } else {
        quote_list(req.order_by)
    };
    let sql = format!(
        "SELECT {} FROM {}{filter} ORDER BY {order}",
        quote_list(req.columns),
        quote(req.table)
    );
    (sql, params)
}

/// ` WHERE …` selecting the rows changed since the request's instant
/// (incremental export) and its parameters, or nothing.
fn changed_where(req: &ReadRequest<'_>) -> (String, Vec<rusqlite::types::Value>) {
    let Some((col, since)) = &req.changed_since else {
        return (String::new(), vec![]);
    };
    // Timestamps may be stored as ISO text (any offset), or as unix
    // seconds or milliseconds; compare each kind as an instant.
    let c = quote(col);
    let sql = format!(
        " WHERE CASE typeof({c}) \
           WHEN 'text' THEN julianday({c}) > julianday(?1) \
           WHEN 'integer' THEN (CASE WHEN {c} > 100000000000 THEN {c} / 1000.0 ELSE {c} END) > ?2 \
           WHEN 'real' THEN {c} > ?2 \
           ELSE 0 END"
    );
    let params = vec![since.to_rfc3339().into(), (since.timestamp() as f64).into()];
    (sql, params)
}

impl Sqlite {
    /// How many rows `req` would read (`Backend::count_read`).
    pub(super) fn count_selected(&mut self, req: &ReadRequest<'_>) -> Result<u64> {
        let (filter, params) = changed_where(req);
        let sql = format!("SELECT count(*) FROM {}{filter}", quote(req.table));
        self.conn
            .query_row(&sql, params_from_iter(params.iter()), |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(|e| Error::db(format!("counting rows of `{}`", req.table), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_map_to_portable_types() {
        assert_eq!(column_type("INTEGER"), ColumnType::Int);
        assert_eq!(column_type("BOOLEAN"), ColumnType::Bool);
        assert_eq!(column_type("varchar(64)"), ColumnType::Text);
        assert_eq!(column_type("DECIMAL(12,2)"), ColumnType::Decimal);
        assert_eq!(column_type("DATETIME"), ColumnType::Timestamp);
        assert_eq!(column_type("DOUBLE PRECISION"), ColumnType::Float);
        assert_eq!(column_type(""), ColumnType::Any);
    }

    #[test]
    fn numeric_affinity_follows_sqlite_rules() {
        assert!(numeric_affinity("DECIMAL(20,2)"));
        assert!(numeric_affinity("BOOLEAN"));
        assert!(!numeric_affinity("VARCHAR(10)"));
        assert!(!numeric_affinity(""));
        assert!(real_affinity("DOUBLE PRECISION") && real_affinity("float"));
        assert!(!real_affinity("DECIMAL(10,2)") && !real_affinity("FLOATING POINT INT"));
        assert_eq!(significant_digits("-0012345.6700"), 7);
        assert_eq!(significant_digits("123456789012345678.91"), 20);
    }

    #[test]
    fn decimals_with_a_scale_are_inexact_in_a_numeric_column_only() {
        let col = |ty, sql: &str| ColumnInfo {
            name: "c".into(),
            ty,
            sql_type: sql.into(),
            nullable: true,
            has_default: false,
            choices: vec![],
        };
        let money = col(ColumnType::Decimal, "numeric(10,2)");
        assert!(
            inexact(
                "postgres",
                &money,
                &col(ColumnType::Decimal, "DECIMAL(10,2)")
            )
            .is_some()
        );
        assert!(inexact("mysql", &money, &col(ColumnType::Int, "INTEGER")).is_some());
        assert!(
            inexact(
                "postgres",
                &col(ColumnType::Decimal, "numeric"),
                &col(ColumnType::Any, "MONEY")
            )
            .is_some()
        );
        assert!(inexact("postgres", &money, &col(ColumnType::Text, "TEXT")).is_none());
        assert!(inexact("postgres", &money, &col(ColumnType::Float, "REAL")).is_none());
        assert!(inexact("sqlite", &money, &col(ColumnType::Decimal, "NUMERIC")).is_none());
        assert!(
            inexact(
                "mysql",
                &col(ColumnType::Decimal, "decimal(18,0)"),
                &col(ColumnType::Decimal, "NUMERIC")
            )
            .is_none()
        );
        assert!(
            inexact(
                "mysql",
                &col(ColumnType::Decimal, "decimal(20,0) unsigned"),
                &col(ColumnType::Decimal, "NUMERIC")
            )
            .is_some()
        );
        assert_eq!(
            precision_scale("decimal(10,2) unsigned"),
            (Some(10), Some(2))
        );
        assert_eq!(precision_scale("NUMERIC(7)"), (Some(7), None));
        assert_eq!(precision_scale("numeric"), (None, None));
    }

    #[test]
    fn numeric_looking_text_is_stored_as_sqlite_would() {
        for (text, real, stored) in [
            ("12", false, Some("12")),
            ("007", false, Some("7")),
            (" 12", false, Some("12")),
            ("+5", false, Some("5")),
            ("2.50", false, Some("2.5")),
            ("5.", false, Some("5")),
            ("-1.0", false, Some("-1")),
            ("1e3", false, Some("1000")),
            (".5", false, Some("0.5")),
            ("12", true, Some("12")),
            ("0.1", true, Some("0.1")),
            ("2024-01-01", false, None),
            ("0x10", false, None),
            ("1_000", false, None),
            ("inf", false, None),
            ("e5", false, None),
            ("1e", false, None),
            ("", false, None),
        ] {
            assert_eq!(stored_number(text, real).as_deref(), stored, "{text:?}");
        }
    }

    #[test]
    fn nan_is_refused_not_turned_into_null() {
        assert!(bind(&Value::Float(f64::NAN)).is_err());
    }
}

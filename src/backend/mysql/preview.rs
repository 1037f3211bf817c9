//! A preview's transaction on MySQL and MariaDB: foreign-key checks on
//! (not off as for an import), rows tried a batch at a time under a
//! savepoint — one multi-row INSERT, or an UPDATE per row — and the
//! server's refusal (strict mode makes every bad value one) kept as the
//! rows' verdict.

use ::mysql::prelude::Queryable;
use ::mysql::{Params, Value as My};

use super::connect::{scrub, server_message};
use super::values::Kind;
use super::values::{encode, unsupported};
use super::write::{MAX_PLACEHOLDERS, insert_sql};
use super::{Mysql, live, quote};
use crate::backend::{Attempt, Refusal, WriteRequest};
use crate::error::{Error, Result};
use crate::value::Value;

/// Server errors that are a verdict on the row although their SQLSTATE is
/// not an integrity or data class: a field without a default (1364), an
/// incorrect value (1366), a CHECK constraint (MySQL 3819, MariaDB 4025),
/// a trigger's SIGNAL (1644).
const ROW_VERDICTS: [u16; 5] = [1364, 1366, 3819, 4025, 1644];

/// Duplicate keys: 1062, and 1586 naming the key.
const CLASHES: [u16; 2] = [1062, 1586];

impl Mysql {
    pub(super) fn start_preview(&mut self, tables: &[String]) -> Result<()> {
        self.introspect()?;
        self.refuse_nontransactional(tables)?;
        let ctx = "starting the preview's transaction";
        self.exec(ctx, "SET FOREIGN_KEY_CHECKS = 1")?;
        self.exec(ctx, "START TRANSACTION")
    }

    pub(super) fn attempt_rows(
        &mut self,
        req: &WriteRequest<'_>,
        rows: &[Vec<Value>],
        how: Attempt,
        keep: bool,
    ) -> Result<Option<Refusal>> {
        let all = self.columns_of(req.table, req.columns)?;
        if let Some(c) = all.iter().find(|c| c.kind == Kind::Unsupported) {
            return Err(unsupported(req.table, c));
        }
        // Generated columns are the server's to compute.
        let pos: Vec<usize> = (0..all.len()).filter(|&i| !all[i].generated).collect();
        let mut encoded: Vec<Vec<My>> = Vec::with_capacity(rows.len());
        for row in rows {
            let mut params = Vec::with_capacity(pos.len());
            for &i in &pos {
                match encode(&row[i], &all[i]) {
                    Ok(p) => params.push(p),
                    Err(m) => {
                        return Ok(Some(Refusal {
                            clash: false,
                            message: Error::value(&all[i].name, m).to_string(),
                        }));
                    }
                }
            }
            encoded.push(params);
        }
        let names: Vec<String> = pos.iter().map(|&i| all[i].name.clone()).collect();
        let statements = match how {
            Attempt::Insert => inserts(req.table, &names, encoded),
            Attempt::Update => updates(req.table, &names, req.key, encoded),
        };
        self.attempt(req.table, statements, keep)
    }

    /// Runs `statements` under a savepoint: all kept (with `keep`), or none.
    fn attempt(
        &mut self,
        table: &str,
        statements: Vec<(String, Vec<My>)>,
        keep: bool,
    ) -> Result<Option<Refusal>> {
        let ctx = format!("previewing rows of `{table}`");
        self.exec(&ctx, "SAVEPOINT migplan_preview")?;
        let conn = live(&mut self.slot);
        let failed = statements
            .into_iter()
            .find_map(|(sql, params)| conn.exec_drop(sql, Params::Positional(params)).err());
        let Some(e) = failed else {
            if !keep {
                self.exec(&ctx, "ROLLBACK TO SAVEPOINT migplan_preview")?;
            }
            self.exec(&ctx, "RELEASE SAVEPOINT migplan_preview")?;
            return Ok(None);
        };
        self.exec(&ctx, "ROLLBACK TO SAVEPOINT migplan_preview")?;
        self.exec(&ctx, "RELEASE SAVEPOINT migplan_preview")?;
        let message = scrub(&server_message(&e), &self.secrets);
        match verdict(&e) {
            Some(clash) => Ok(Some(Refusal { clash, message })),
            None => Err(Error::db(ctx, message)),
        }
    }
}

/// Multi-row INSERTs, each within the placeholders one statement carries.
fn inserts(table: &str, names: &[String], rows: Vec<Vec<My>>) -> Vec<(String, Vec<My>)> {
    let per = (MAX_PLACEHOLDERS / names.len().max(1)).max(1);
    rows.chunks(per)
        .map(|chunk| {
            let sql = insert_sql(&quote(table), names, chunk.len());
            (sql, chunk.concat())
        })
        .collect()
}

/// `UPDATE t SET non-key = ? … WHERE key = ? …`, one per row; none when
/// every column is the key's.
fn updates(
    table: &str,
    names: &[String],
    key: &[String],
    rows: Vec<Vec<My>>,
) -> Vec<(String, Vec<My>)> {
    let non_key: Vec<usize> = (0..names.len())
        .filter(|&i| !key.contains(&names[i]))
        .collect();
    let key_pos: Vec<usize> = key
        .iter()
        .filter_map(|k| names.iter().position(|n| n == k))
        .collect();
    if non_key.is_empty() {
        return vec![];
    }
    let assign = |cols: &[usize], sep: &str| -> String {
        cols.iter()
            .map(|&i| format!("{} = ?", quote(&names[i])))
            .collect::<Vec<_>>()
            .join(sep)
    };
    let sql = format!(
        "UPDATE {} SET {} WHERE {}",
        quote(table),
        assign(&non_key, ", "),
        assign(&key_pos, " AND ")
    );
    rows.into_iter()
        .map(|row| {
            let params = non_key.iter().chain(&key_pos).map(|&i| row[i].clone());
            (sql.clone(), params.collect())
        })
        .collect()
}

/// Whether the server's error is its verdict on the rows (`Some`), and
/// then whether it is a key another row holds: integrity (SQLSTATE 23) and
/// data (22) classes, a SIGNAL's 45000, and the codes of [`ROW_VERDICTS`].
fn verdict(e: &::mysql::Error) -> Option<bool> {
    let ::mysql::Error::MySqlError(m) = e else {
        return None;
    };
    let clash = CLASHES.contains(&m.code);
    let class = m.state.get(..2).unwrap_or_default();
    let row = matches!(class, "22" | "23" | "45") || ROW_VERDICTS.contains(&m.code);
    (row || clash).then_some(clash)
}

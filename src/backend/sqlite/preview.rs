//! A preview's transaction on SQLite: foreign keys in force row by row
//! (not switched off as for an import), each attempt under a savepoint, and
//! the database's refusal of a row kept as its verdict.

use rusqlite::{ErrorCode, ffi, params_from_iter};

use super::values::{Bound, bind_row};
use super::write::check_affinity;
use super::{Sqlite, quote, quote_list};
use crate::backend::{Attempt, Refusal, WriteRequest};
use crate::error::{Error, Result};
use crate::value::Value;

/// Why one attempt stopped: the rows' verdict, or a failure of another kind.
enum Stop {
    Refused(Refusal),
    Failed(Error),
}

impl Sqlite {
    pub(super) fn start_preview(&mut self, tables: &[String]) -> Result<()> {
        // The pragma is ignored inside a transaction, so it comes first.
        self.written = tables.to_vec();
        self.conn
            .execute_batch("PRAGMA foreign_keys = ON; BEGIN IMMEDIATE;")
            .map_err(|e| Error::db("starting the preview's transaction", e))
    }

    pub(super) fn attempt_rows(
        &mut self,
        req: &WriteRequest<'_>,
        rows: &[Vec<Value>],
        how: Attempt,
        keep: bool,
    ) -> Result<Option<Refusal>> {
        let checks = self.writer_sql(req)?;
        let sql = statement(req, how);
        let ctx = format!("previewing rows of `{}`", req.table);
        let exec = |sql: &str| self.conn.execute_batch(sql).map_err(|e| Error::db(&ctx, e));
        exec("SAVEPOINT migplan_preview")?;
        let written = rows.iter().try_for_each(|row| {
            check_affinity(row, &checks)
                .and_then(|_| bind_row(row, req.columns))
                .map_err(value_refused)
                .and_then(|bound| self.write_one(&sql, req, row, how, &bound))
        });
        match written {
            Ok(()) if keep => exec("RELEASE migplan_preview").map(|_| None),
            Ok(()) => exec("ROLLBACK TO migplan_preview; RELEASE migplan_preview").map(|_| None),
            Err(stop) => {
                exec("ROLLBACK TO migplan_preview; RELEASE migplan_preview")?;
                match stop {
                    Stop::Refused(r) => Ok(Some(r)),
                    Stop::Failed(e) => Err(e),
                }
            }
        }
    }

    fn write_one(
        &self,
        sql: &Option<String>,
        req: &WriteRequest<'_>,
        row: &[Value],
        how: Attempt,
        bound: &[Bound<'_>],
    ) -> std::result::Result<(), Stop> {
        let Some(sql) = sql else {
            return Ok(());
        };
        let params: Vec<&Bound<'_>> = match how {
            Attempt::Insert => bound.iter().collect(),
            Attempt::Update => update_order(req).into_iter().map(|i| &bound[i]).collect(),
        };
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| {
            Stop::Failed(Error::db(format!("previewing rows of `{}`", req.table), e))
        })?;
        match stmt.execute(params_from_iter(params)) {
            Ok(_) => Ok(()),
            Err(e) => Err(match refusal(&e) {
                Some(mut r) => {
                    if is_foreign_key(&e) {
                        r.message = self.name_foreign_key(req, row).unwrap_or(r.message);
                    }
                    Stop::Refused(r)
                }
                None => Stop::Failed(Error::db(format!("previewing rows of `{}`", req.table), e)),
            }),
        }
    }

    /// SQLite says only "FOREIGN KEY constraint failed": the key the row
    /// breaks is found by asking each parent for the row's reference.
    fn name_foreign_key(&self, req: &WriteRequest<'_>, row: &[Value]) -> Option<String> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?1) ORDER BY id, seq")
            .ok()?;
        let links: Vec<(i64, String, String, Option<String>)> = stmt
            .query_map([req.table], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .ok()?
            .collect::<rusqlite::Result<_>>()
            .ok()?;
        let mut ids: Vec<i64> = links.iter().map(|l| l.0).collect();
        ids.dedup();
        ids.into_iter().find_map(|id| {
            let fk: Vec<_> = links.iter().filter(|l| l.0 == id).collect();
            self.missing_parent(req, row, &fk)
        })
    }

    /// The message for a reference of `row` its parent does not hold.
    fn missing_parent(
        &self,
        req: &WriteRequest<'_>,
        row: &[Value],
        fk: &[&(i64, String, String, Option<String>)],
    ) -> Option<String> {
        let parent = &fk.first()?.1;
        let mut values = Vec::new();
        for (_, _, from, _) in fk {
            let i = req.columns.iter().position(|c| c == from)?;
            if row[i].is_null() {
                return None;
            }
            values.push(bind_row(&row[i..=i], &req.columns[i..=i]).ok()?.remove(0));
        }
        let to: Vec<String> = fk
            .iter()
            .map(|l| l.3.clone().unwrap_or_else(|| l.2.clone()))
            .collect();
        let cond: Vec<String> = to
            .iter()
            .enumerate()
            .map(|(n, c)| format!("{} = ?{}", quote(c), n + 1))
            .collect();
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM {} WHERE {})",
            quote(parent),
            cond.join(" AND ")
        );
        let found: bool = self
            .conn
            .query_row(&sql, params_from_iter(values.iter()), |r| r.get(0))
            .ok()?;
        if found {
            return None;
        }
        let from: Vec<&str> = fk.iter().map(|l| l.2.as_str()).collect();
        let shown: Vec<String> = from
            .iter()
            .map(|c| {
                let i = req
                    .columns
                    .iter()
                    .position(|x| x == c)
                    .expect("found above");
                format!("{c}={}", row[i].display())
            })
            .collect();
        Some(format!(
            "FOREIGN KEY constraint failed: `{}` ({}) references `{parent}` ({}), which holds no row {}",
            req.table,
            from.join(", "),
            to.join(", "),
            shown.join(", ")
        ))
    }
}

/// `INSERT INTO t (…) VALUES (…)`, or `UPDATE t SET … WHERE key`; `None`
/// when an update has no column to set (a row that is all key).
fn statement(req: &WriteRequest<'_>, how: Attempt) -> Option<String> {
    let table = quote(req.table);
    match how {
        Attempt::Insert => {
            let marks: Vec<String> = (1..=req.columns.len()).map(|i| format!("?{i}")).collect();
            Some(format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                quote_list(req.columns),
                marks.join(", ")
            ))
        }
        Attempt::Update => {
            let order = update_order(req);
            let non_key = order.len() - req.key.len();
            if non_key == 0 {
                return None;
            }
            let at = |n: usize| format!("{} = ?{}", quote(&req.columns[order[n]]), n + 1);
            let set: Vec<String> = (0..non_key).map(at).collect();
            let matches: Vec<String> = (non_key..order.len()).map(at).collect();
            Some(format!(
                "UPDATE {table} SET {} WHERE {}",
                set.join(", "),
                matches.join(" AND ")
            ))
        }
    }
}

/// Positions of the non-key columns, then of the key's, in a row.
fn update_order(req: &WriteRequest<'_>) -> Vec<usize> {
    let (non_key, _): (Vec<usize>, Vec<usize>) =
        (0..req.columns.len()).partition(|&i| !req.key.contains(&req.columns[i]));
    let key = req
        .key
        .iter()
        .filter_map(|k| req.columns.iter().position(|c| c == k));
    non_key.into_iter().chain(key).collect()
}

/// A value migplan refuses before SQLite sees it is the row's verdict too.
fn value_refused(e: Error) -> Stop {
    match e {
        Error::Value { .. } => Stop::Refused(Refusal {
            clash: false,
            message: e.to_string(),
        }),
        other => Stop::Failed(other),
    }
}

/// SQLite's verdict on a row: a constraint, a type it will not store.
fn refusal(e: &rusqlite::Error) -> Option<Refusal> {
    let rusqlite::Error::SqliteFailure(f, message) = e else {
        return None;
    };
    let clash = matches!(
        f.extended_code,
        ffi::SQLITE_CONSTRAINT_PRIMARYKEY | ffi::SQLITE_CONSTRAINT_UNIQUE
    );
    let verdict = matches!(
        f.code,
        ErrorCode::ConstraintViolation | ErrorCode::TypeMismatch | ErrorCode::TooBig
    );
    verdict.then(|| Refusal {
        clash,
        message: message.clone().unwrap_or_else(|| e.to_string()),
    })
}

fn is_foreign_key(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}

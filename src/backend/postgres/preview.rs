//! A preview's transaction on PostgreSQL: every constraint in force and
//! checked as each statement ends (deferred ones too), rows tried a batch
//! at a time under a savepoint — inserted by COPY straight into the table,
//! updated from a staging table made and dropped inside the savepoint —
//! and the server's refusal kept as the rows' verdict.

use std::io::Write;

use postgres::error::SqlState;

use super::connect::{describe, scrub};
use super::write::{column_targets, encode_line};
use super::{Postgres, quote, quote_list};
use crate::backend::{Attempt, Refusal, WriteRequest};
use crate::error::{Error, Result};
use crate::value::Value;

const STAGE: &str = "migplan_preview_stage";

impl Postgres {
    pub(super) fn start_preview(&mut self) -> Result<()> {
        // Keys declared DEFERRABLE INITIALLY DEFERRED would wait for a
        // commit that never comes: checked at each statement instead.
        self.client
            .batch_execute("BEGIN; SET CONSTRAINTS ALL IMMEDIATE")
            .map_err(|e| self.err("starting the preview's transaction", e))?;
        self.in_tx = true;
        Ok(())
    }

    pub(super) fn attempt_rows(
        &mut self,
        req: &WriteRequest<'_>,
        rows: &[Vec<Value>],
        how: Attempt,
        keep: bool,
    ) -> Result<Option<Refusal>> {
        let cols = self.columns_of(req.table, req.columns)?;
        let targets = column_targets(&cols);
        let mut buf = Vec::new();
        for row in rows {
            if let Err(e) = encode_line(&mut buf, row, &targets, req.columns) {
                return Ok(Some(Refusal {
                    clash: false,
                    message: e.to_string(),
                }));
            }
        }
        let target = self.qt(req.table);
        let (before, copy, after) = match how {
            Attempt::Insert => (String::new(), target.clone(), String::new()),
            Attempt::Update => {
                let set: Vec<String> = cols
                    .iter()
                    .filter(|c| !req.key.contains(&c.name) && !c.identity_always)
                    .map(|c| format!("{q} = s.{q}", q = quote(&c.name)))
                    .collect();
                if set.is_empty() {
                    return Ok(None);
                }
                let matches: Vec<String> = req
                    .key
                    .iter()
                    .map(|k| format!("t.{q} = s.{q}", q = quote(k)))
                    .collect();
                (
                    format!(
                        "CREATE TEMP TABLE {STAGE} AS SELECT {} FROM {target} WITH NO DATA;",
                        quote_list(req.columns)
                    ),
                    STAGE.to_string(),
                    format!(
                        "UPDATE {target} AS t SET {} FROM {STAGE} s WHERE {}; DROP TABLE {STAGE};",
                        set.join(", "),
                        matches.join(" AND ")
                    ),
                )
            }
        };
        let copy = format!("COPY {copy} ({}) FROM STDIN", quote_list(req.columns));
        let ctx = format!("previewing rows of `{}`", req.table);
        self.client
            .batch_execute(&format!("SAVEPOINT migplan_preview; {before}"))
            .map_err(|e| self.err(ctx.clone(), e))?;
        let written = self
            .copy_lines(&copy, &buf)
            .and_then(|_| match after.is_empty() {
                true => Ok(()),
                false => self.client.batch_execute(&after),
            });
        let undo = "ROLLBACK TO SAVEPOINT migplan_preview; RELEASE SAVEPOINT migplan_preview";
        let e = match written {
            Ok(()) => {
                let end = if keep {
                    "RELEASE SAVEPOINT migplan_preview"
                } else {
                    undo
                };
                return self
                    .client
                    .batch_execute(end)
                    .map(|_| None)
                    .map_err(|e| self.err(ctx, e));
            }
            Err(e) => e,
        };
        self.client
            .batch_execute(undo)
            .map_err(|e| self.err(ctx.clone(), e))?;
        match refusal(&e) {
            Some(clash) => Ok(Some(Refusal {
                clash,
                message: scrub(&self.secret, describe(&e)),
            })),
            None => Err(Error::db(ctx, scrub(&self.secret, describe(&e)))),
        }
    }

    /// One COPY of lines already encoded.
    fn copy_lines(&mut self, sql: &str, lines: &[u8]) -> std::result::Result<(), postgres::Error> {
        let mut writer = self.client.copy_in(sql)?;
        // A write error means the server gave up; `finish` says why.
        let _ = writer.write_all(lines);
        writer.finish().map(drop)
    }
}

/// Whether the server's error is its verdict on the rows (`Some`), and
/// then whether it is a key another row holds: integrity violations
/// (class 23), data exceptions (22), a trigger's RAISE (P0), a view's
/// check option (44).
fn refusal(e: &postgres::Error) -> Option<bool> {
    let code = e.code()?;
    let clash = *code == SqlState::UNIQUE_VIOLATION || *code == SqlState::EXCLUSION_VIOLATION;
    let class = &code.code()[..2];
    matches!(class, "22" | "23" | "P0" | "44").then_some(clash)
}

//! migplan's own records on PostgreSQL: the run history's statements, the
//! run lock (a session-level advisory lock), sequences moved past the
//! imported rows, and triggers switched off for a load.

use postgres::error::SqlState;

use super::connect::{describe, scrub};
use super::{Postgres, quote};
use crate::catalog::{Sequence, Trigger};
use crate::error::Result;
use crate::value::Value;

/// Key of the advisory lock that keeps migplan runs apart ("migplan" in
/// ASCII): advisory locks are per database, so one key serves every one.
const RUN_LOCK_KEY: i64 = 0x006d_6967_706c_616e;

impl Postgres {
    /// Runs migplan's own bookkeeping SQL: `?` becomes `$n`, and each
    /// value is bound as the type the server expects for its parameter.
    pub(super) fn meta_rows(&mut self, sql: &str, params: &[Value]) -> Result<Vec<postgres::Row>> {
        let mut numbered = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for ch in sql.chars() {
            if ch == '?' {
                n += 1;
                numbered.push_str(&format!("${n}"));
            } else {
                numbered.push(ch);
            }
        }
        let stmt = self
            .client
            .prepare(&numbered)
            .map_err(|e| self.err("preparing a run-history statement", e))?;
        let bound: Vec<Box<dyn postgres::types::ToSql + Sync>> = params
            .iter()
            .zip(stmt.params())
            .map(|(v, ty)| meta_param(v, ty))
            .collect();
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
            bound.iter().map(|b| b.as_ref()).collect();
        self.client
            .query(&stmt, &refs)
            .map_err(|e| self.err("using the run history", e))
    }

    /// Rows of migplan's own bookkeeping SQL (`Backend::meta_query`).
    pub(super) fn meta_values(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>> {
        let rows = self.meta_rows(sql, params)?;
        Ok(rows
            .iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| match *r.columns()[i].type_() {
                        postgres::types::Type::INT8 => {
                            r.get::<_, Option<i64>>(i).map_or(Value::Null, Value::Int)
                        }
                        postgres::types::Type::INT4 => r
                            .get::<_, Option<i32>>(i)
                            .map_or(Value::Null, |n| Value::Int(n.into())),
                        _ => r
                            .get::<_, Option<String>>(i)
                            .map_or(Value::Null, Value::Text),
                    })
                    .collect()
            })
            .collect())
    }

    // A session-level advisory lock: PostgreSQL releases it when the
    // connection ends, so a killed run cannot leave it behind.
    pub(super) fn try_run_lock(&mut self) -> Result<bool> {
        self.scalar_bool(
            "taking the run lock",
            "SELECT pg_try_advisory_lock($1)",
            &[&RUN_LOCK_KEY],
        )
    }

    /// `Backend::unlock`.
    pub(super) fn release_run_lock(&mut self) -> Result<()> {
        self.scalar_bool(
            "releasing the run lock",
            "SELECT pg_advisory_unlock($1)",
            &[&RUN_LOCK_KEY],
        )
        .map(drop)
    }

    /// `Backend::disable_triggers`.
    pub(super) fn switch_triggers_off(&mut self, triggers: &[Trigger]) -> Result<()> {
        // Each trigger comes back in the mode it had (ENABLE, ENABLE
        // ALWAYS, ENABLE REPLICA); a rollback undoes both statements. One
        // declared on a partition is switched off where it is declared.
        for t in self.pg_triggers()? {
            if !triggers
                .iter()
                .any(|w| w.table == t.table && w.name == t.name)
            {
                continue;
            }
            let (relation, name) = (self.qt(&t.relation), quote(&t.name));
            self.client
                .batch_execute(&format!("ALTER TABLE {relation} DISABLE TRIGGER {name}"))
                .map_err(|e| self.err("switching triggers off", e))?;
            let how = match t.mode.as_str() {
                "A" => "ENABLE ALWAYS",
                "R" => "ENABLE REPLICA",
                _ => "ENABLE",
            };
            self.disabled_triggers
                .push(format!("ALTER TABLE {relation} {how} TRIGGER {name}"));
        }
        Ok(())
    }

    /// `ALTER SEQUENCE … RESTART` is transactional (PostgreSQL 10 on): a
    /// failed import puts the sequence back with everything else. A role
    /// that does not own the sequence falls back to `setval`, which needs
    /// only UPDATE but is never undone, so it only moves forwards (a failed
    /// restore must not leave a sequence below the rows that stay); one
    /// without UPDATE gets a warning saying what to run.
    pub(super) fn restart_sequence(&mut self, seq: &Sequence, next: i64) -> Result<()> {
        let name = seq.key().to_string();
        let ctx = format!("setting sequence `{name}`");
        let qs = self.qt(&name);
        let max: i64 = self
            .client
            .query_one(
                "SELECT seqmax FROM pg_sequence WHERE seqrelid = $1::text::regclass",
                &[&qs],
            )
            .and_then(|r| r.try_get(0))
            .map_err(|e| self.err(ctx.clone(), e))?;
        if next > max {
            // Every value is taken: no RESTART can say so, and the rows
            // are what matter.
            crate::events::warning(format!(
                "sequence `{name}` is left as it is: it would have to hand out {next}, beyond its MAXVALUE {max}
  = help: `ALTER SEQUENCE {name} MAXVALUE …` (or AS bigint) before the application inserts"
            ));
            return Ok(());
        }
        self.client
            .batch_execute(&format!(
                "SAVEPOINT migplan_seq; ALTER SEQUENCE {qs} RESTART WITH {next}"
            ))
            .or_else(|e| match e.code() {
                Some(&SqlState::INSUFFICIENT_PRIVILEGE) => {
                    self.client.batch_execute("ROLLBACK TO SAVEPOINT migplan_seq")?;
                    if next < seq.next {
                        crate::events::note(format!(
                            "sequence `{name}` stays at {} rather than going back to {next}: only its owner can set it within the transaction",
                            seq.next
                        ));
                        return Ok(());
                    }
                    self.client
                        .query("SELECT setval($1::text::regclass, $2, false)", &[&qs, &next])
                        .map(drop)
                }
                _ => Err(e),
            })
            .or_else(|e| match e.code() {
                Some(&SqlState::INSUFFICIENT_PRIVILEGE) => {
                    crate::events::warning(format!(
                        "cannot move sequence `{name}` to {next}, past the imported rows ({}); run `SELECT setval('{name}', {next}, false)` as its owner",
                        scrub(&self.secret, describe(&e))
                    ));
                    self.client.batch_execute("ROLLBACK TO SAVEPOINT migplan_seq")
                }
                _ => Err(e),
            })
            .and_then(|_| self.client.batch_execute("RELEASE SAVEPOINT migplan_seq"))
            .map_err(|e| self.err(ctx, e))
    }
}

/// A bookkeeping value bound as the parameter's type.
fn meta_param(v: &Value, ty: &postgres::types::Type) -> Box<dyn postgres::types::ToSql + Sync> {
    use postgres::types::Type;
    let int = match v {
        Value::Int(i) => Some(*i),
        _ => None,
    };
    let text = match v {
        Value::Null => None,
        Value::Text(t) => Some(t.clone()),
        other => Some(other.display()),
    };
    match *ty {
        Type::INT8 => Box::new(int),
        Type::INT4 => Box::new(int.map(|i| i as i32)),
        _ => Box::new(text),
    }
}

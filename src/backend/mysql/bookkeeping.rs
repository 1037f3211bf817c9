//! migplan's own records on MySQL and MariaDB: the run history's
//! statements, the run lock (`GET_LOCK`), the AUTO_INCREMENT counters set
//! once the import has committed, and the refusal to switch triggers off.

use ::mysql::prelude::Queryable;
use ::mysql::{Params, Value as My};

use super::connect::scrub;
use super::{Mysql, live, quote};
use crate::catalog::Trigger;
use crate::error::{EngineError, Error, Result};
use crate::value::Value;

/// The run lock's name: lock names are server-wide and at most 64
/// characters, so it carries a digest of the database name.
const RUN_LOCK: &str = "CONCAT('migplan:', SHA1(DATABASE()))";

/// A bookkeeping value as a MySQL parameter.
pub(super) fn meta_param(v: &Value) -> My {
    match v {
        Value::Int(i) => My::Int(*i),
        Value::Null => My::NULL,
        Value::Text(t) => My::Bytes(t.clone().into_bytes()),
        other => My::Bytes(other.display().into_bytes()),
    }
}

impl Mysql {
    /// Rows of migplan's own bookkeeping SQL (`Backend::meta_query`).
    pub(super) fn meta_values(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>> {
        let params: Vec<My> = params.iter().map(meta_param).collect();
        let rows: Vec<::mysql::Row> = live(&mut self.slot)
            .exec(sql, Params::Positional(params))
            .map_err(|e| self.err("reading the run history", e))?;
        Ok(rows
            .into_iter()
            .map(|r| {
                r.unwrap()
                    .into_iter()
                    .map(|v| match v {
                        My::Int(i) => Value::Int(i),
                        My::UInt(u) => Value::Int(u as i64),
                        My::Bytes(b) => Value::Text(String::from_utf8_lossy(&b).into_owned()),
                        _ => Value::Null,
                    })
                    .collect()
            })
            .collect())
    }

    // GET_LOCK belongs to the session: the server frees it when the
    // connection ends. Its name is server-wide, so it names the database.
    pub(super) fn try_run_lock(&mut self) -> Result<bool> {
        let got: Option<Option<i64>> = live(&mut self.slot)
            .query_first(format!("SELECT GET_LOCK({RUN_LOCK}, 0)"))
            .map_err(|e| self.err("taking the run lock", e))?;
        Ok(got.flatten() == Some(1))
    }

    /// `Backend::unlock`.
    pub(super) fn release_run_lock(&mut self) -> Result<()> {
        live(&mut self.slot)
            .query_drop(format!("DO RELEASE_LOCK({RUN_LOCK})"))
            .map_err(|e| self.err("releasing the run lock", e))
    }

    /// `Backend::disable_triggers`.
    pub(super) fn switch_triggers_off(&mut self, triggers: &[Trigger]) -> Result<()> {
        Err(EngineError::CannotDisableTriggers {
            triggers: triggers.iter().map(|t| t.name.clone()).collect(),
        }
        .into())
    }

    /// The AUTO_INCREMENT values of the committed import. `ALTER TABLE`
    /// commits whatever is open, so it waits for the rows to be in; InnoDB
    /// has moved each counter past the ids written already, so this only
    /// matters for a backup's counter beyond its rows (rows deleted) and
    /// for a restore setting an exact value. InnoDB never takes a counter
    /// below the largest id.
    pub(super) fn set_counters(&mut self) -> Result<()> {
        for (table, next) in std::mem::take(&mut self.counters) {
            let sql = format!("ALTER TABLE {} AUTO_INCREMENT = {next}", quote(&table));
            if let Err(e) = live(&mut self.slot).query_drop(&sql) {
                return Err(Error::db(
                    format!("the rows are committed, but setting the AUTO_INCREMENT of `{table}`"),
                    format!(
                        "{}\n  = help: run `{sql}` as a user with the ALTER privilege; the application may otherwise be handed ids the backup's source had used",
                        scrub(&e.to_string(), &self.secrets)
                    ),
                ));
            }
        }
        Ok(())
    }
}

//! A table's rows settled at its end: the table streamed once to find the
//! rows whose keys it holds (and their values, as the target column holds
//! them), each row judged new, identical or changed, then the rows tried a
//! batch at a time (`Backend::try_rows`) — new rows inserted, changed rows
//! updated whatever the policy (kept only under `overwrite`), so that a
//! row's class does not depend on the policy — a refused batch halved
//! until the refused rows stand alone: each one's refusal is its verdict,
//! conflict or failing. What the policy makes of the row is its fate.

use rusqlite::{OptionalExtension, params};

use super::collect::{Collector, Table, sql};
use super::{ColumnChange, Fate, RowClass};
use crate::backend::convert::canonical;
use crate::backend::{Attempt, Backend, ReadRequest, Refusal, TableOutcome};
use crate::error::{Error, Result};
use crate::plan::Conflict;
use crate::spool::{decode_row, encode_row};
use crate::value::{Value, key_bytes};

/// Rows settled together: read from the pending table, tried as one batch.
const BATCH: i64 = 256;

/// A safe point every this many rows of a table streamed for its keys.
const CHECKPOINT_ROWS: u64 = 4096;

/// One row waiting for its verdict.
struct Pending {
    seq: i64,
    ordinal: i64,
    k: Option<Vec<u8>>,
    row: Vec<Value>,
    /// The target's row under the same key now, in the preview's
    /// transaction (as the target's columns hold it).
    cur: Option<Vec<Value>>,
    /// The importer's own refusal.
    refused: Option<String>,
}

/// An earlier backup of a chain's verdict on the same key: the row is
/// judged against the target as it was before the preview, not against
/// what the earlier backup wrote.
struct Prior {
    id: i64,
    had: bool,
    old: Option<Vec<Value>>,
}

struct Verdict {
    class: RowClass,
    fate: Fate,
    changes: Vec<ColumnChange>,
    error: Option<String>,
    attempt: Option<Attempt>,
    had: bool,
    old: Option<Vec<Value>>,
}

/// The canonical bytes of a row's key (`None` without a key), as the
/// target's columns would hold its values.
pub(super) fn key_of(row: &[Value], t: &Table) -> Option<Vec<u8>> {
    if t.key_pos.is_empty() {
        return None;
    }
    let canon: Vec<Value> = t
        .key_pos
        .iter()
        .map(|&i| canonical(&row[i], &t.targets[i]))
        .collect();
    Some(key_bytes(&canon.iter().collect::<Vec<_>>()))
}

fn canonical_row(row: &[Value], t: &Table) -> Vec<Value> {
    row.iter()
        .zip(&t.targets)
        .map(|(v, c)| canonical(v, c))
        .collect()
}

fn decode(bytes: &[u8]) -> Result<Vec<Value>> {
    decode_row(bytes).map_err(|e| Error::db("preview: reading the store", e))
}

impl Collector {
    /// Settles every pending row of `t`; the outcome counts what was
    /// written as an import's write would.
    pub(super) fn settle(&mut self, db: &mut dyn Backend, t: &Table) -> Result<TableOutcome> {
        if !t.key_pos.is_empty() {
            self.look_up(db, t)?;
        }
        let mut out = TableOutcome::default();
        let mut after = 0;
        loop {
            crate::events::checkpoint()?;
            let batch = self.next_batch(after)?;
            let Some(last) = batch.last() else {
                return Ok(out);
            };
            after = last.seq;
            self.settle_batch(db, t, batch, &mut out)?;
        }
    }

    /// Streams the target table once, noting each pending row's current
    /// row under its key.
    fn look_up(&mut self, db: &mut dyn Backend, t: &Table) -> Result<()> {
        let mut set = self
            .conn
            .prepare_cached("UPDATE pending SET cur = ?2 WHERE k = ?1")
            .map_err(sql)?;
        let req = ReadRequest {
            table: &t.name,
            columns: &t.columns,
            order_by: &[],
            changed_since: None,
        };
        let mut seen = 0u64;
        db.read(&req, &mut |row| {
            seen += 1;
            if seen.is_multiple_of(CHECKPOINT_ROWS) {
                crate::events::checkpoint()?;
            }
            let canon = canonical_row(row, t);
            let k = key_of(row, t);
            set.execute(params![k, encode_row(&canon)]).map_err(sql)?;
            Ok(())
        })
    }

    fn next_batch(&mut self, after: i64) -> Result<Vec<Pending>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, ordinal, k, raw, cur, refused FROM pending
                 WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(sql)?;
        let rows = stmt
            .query_map(params![after, BATCH], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<Vec<u8>>>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get::<_, Option<Vec<u8>>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .map_err(sql)?;
        let mut batch = Vec::new();
        for r in rows {
            let (seq, ordinal, k, raw, cur, refused) = r.map_err(sql)?;
            batch.push(Pending {
                seq,
                ordinal,
                k,
                row: decode(&raw)?,
                cur: cur.as_deref().map(decode).transpose()?,
                refused,
            });
        }
        Ok(batch)
    }

    fn settle_batch(
        &mut self,
        db: &mut dyn Backend,
        t: &Table,
        batch: Vec<Pending>,
        out: &mut TableOutcome,
    ) -> Result<()> {
        let priors = batch
            .iter()
            .map(|p| self.prior(t, p))
            .collect::<Result<Vec<_>>>()?;
        let mut verdicts: Vec<Verdict> = batch
            .iter()
            .zip(&priors)
            .map(|(p, prior)| judge(t, p, prior.as_ref()))
            .collect();
        for how in [Attempt::Insert, Attempt::Update] {
            let picked: Vec<usize> = (0..batch.len())
                .filter(|&i| verdicts[i].attempt == Some(how))
                .collect();
            let rows: Vec<Vec<Value>> = picked.iter().map(|&i| batch[i].row.clone()).collect();
            let mut refusals = vec![None; rows.len()];
            // Rows the policy would not write are tried, then undone.
            let keep = how == Attempt::Insert || t.conflict == Conflict::Overwrite;
            attempt(db, t, &rows, how, keep, &mut refusals)?;
            for (&i, refusal) in picked.iter().zip(refusals) {
                if let Some(r) = refusal {
                    refuse(&mut verdicts[i], r, t.conflict);
                }
            }
        }
        for ((p, v), prior) in batch.iter().zip(&verdicts).zip(&priors) {
            tally(out, v);
            self.record(t, p, v, prior.as_ref())?;
        }
        Ok(())
    }

    /// What an earlier backup of the chain recorded for the row's key.
    fn prior(&self, t: &Table, p: &Pending) -> Result<Option<Prior>> {
        let Some(k) = &p.k else {
            return Ok(None);
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, had, old FROM preview_rows WHERE tbl = ?1 AND k = ?2")
            .map_err(sql)?;
        let found = stmt
            .query_row(params![t.name, k], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, Option<Vec<u8>>>(2)?,
                ))
            })
            .optional()
            .map_err(sql)?;
        let Some((id, had, old)) = found else {
            return Ok(None);
        };
        Ok(Some(Prior {
            id,
            had,
            old: old.as_deref().map(decode).transpose()?,
        }))
    }

    /// Writes the row's verdict; a later backup's row of a chain replaces
    /// the earlier one's verdict on the same key.
    fn record(&self, t: &Table, p: &Pending, v: &Verdict, prior: Option<&Prior>) -> Result<()> {
        let changes = match v.changes.is_empty() {
            true => None,
            false => Some(serde_json::to_string(&v.changes).unwrap_or_default()),
        };
        let (class, fate) = (v.class.code(), v.fate.name());
        if let Some(prior) = prior {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "UPDATE preview_rows SET class = ?2, fate = ?3, changes = ?4, error = ?5
                     WHERE id = ?1",
                )
                .map_err(sql)?;
            stmt.execute(params![prior.id, class, fate, changes, v.error])
                .map_err(sql)?;
            return Ok(());
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT INTO preview_rows (tbl, ordinal, k, key, class, fate, had, old, changes, error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .map_err(sql)?;
        stmt.execute(params![
            t.name,
            p.ordinal,
            p.k,
            key_json(&p.row, t),
            class,
            fate,
            v.had,
            v.old.as_deref().map(encode_row),
            changes,
            v.error
        ])
        .map_err(sql)?;
        Ok(())
    }
}

/// The row's class before the database has its say, and the write that
/// asks for it: an insert when its key is not in the table now, an update
/// when it is with other values.
fn judge(t: &Table, p: &Pending, prior: Option<&Prior>) -> Verdict {
    let (had, old) = match prior {
        Some(prior) => (prior.had, prior.old.clone()),
        None => (p.cur.is_some(), p.cur.clone()),
    };
    if let Some(message) = &p.refused {
        return Verdict {
            class: RowClass::Failing,
            // The importer checks before any policy applies.
            fate: Fate::Refused,
            changes: vec![],
            error: Some(message.clone()),
            attempt: None,
            had,
            old,
        };
    }
    let canon = canonical_row(&p.row, t);
    let attempt = match &p.cur {
        None => Some(Attempt::Insert),
        Some(cur) if same(cur, &canon) => None,
        Some(_) => Some(Attempt::Update),
    };
    let changes = match old.as_ref().filter(|_| had) {
        Some(old) => diff(t, old, &canon),
        None => vec![],
    };
    let class = match (had, changes.is_empty()) {
        (false, _) => RowClass::New,
        (true, true) => RowClass::Identical,
        (true, false) => RowClass::Changed,
    };
    Verdict {
        class,
        fate: fate(class, t.conflict),
        changes,
        error: None,
        attempt,
        had,
        old,
    }
}

/// What `policy` makes of a row of `class` that the database accepts.
fn fate(class: RowClass, policy: Conflict) -> Fate {
    Fate::under(class, class != RowClass::New, policy)
}

/// The database refused the row's write: a refused update is no failure
/// under `skip`, which keeps the row as it is.
fn refuse(v: &mut Verdict, r: Refusal, policy: Conflict) {
    v.class = match r.clash {
        true => RowClass::Conflict,
        false => RowClass::Failing,
    };
    v.fate = Fate::under(v.class, v.attempt == Some(Attempt::Update), policy);
    v.error = Some(r.message);
}

/// Counts a verdict as an import's write counts its rows.
fn tally(out: &mut TableOutcome, v: &Verdict) {
    let n = match v.fate {
        Fate::Inserted => &mut out.inserted,
        Fate::Overwritten => &mut out.overwritten,
        Fate::Skipped => &mut out.skipped,
        Fate::Unchanged => &mut out.identical,
        Fate::Refused => return,
    };
    *n += 1;
}

fn same(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_as(y))
}

/// The columns whose values differ, the target's value then the backup's.
fn diff(t: &Table, old: &[Value], new: &[Value]) -> Vec<ColumnChange> {
    old.iter()
        .zip(new)
        .zip(&t.columns)
        .filter(|((o, n), _)| !o.same_as(n))
        .map(|((o, n), c)| ColumnChange {
            column: c.clone(),
            old: shown(o),
            new: shown(n),
        })
        .collect()
}

/// The longest text a difference shows whole.
const SHOWN_CHARS: usize = 1000;

/// A value in a difference: texts whole up to [`SHOWN_CHARS`] (a change
/// deep in a long text still shows), bytes as hex up to 64.
fn shown(v: &Value) -> String {
    match v {
        Value::Text(s) => match s.char_indices().nth(SHOWN_CHARS) {
            None => format!("{s:?}"),
            Some((end, _)) => format!("{:?}… ({} characters)", &s[..end], s.chars().count()),
        },
        Value::Bytes(b) if b.len() <= 64 => format!("0x{}", hex::encode(b)),
        Value::Bytes(b) => format!(
            "<{} bytes, sha256 {}>",
            b.len(),
            hex::encode(&openssl::sha::sha256(b)[..6])
        ),
        other => other.display(),
    }
}

/// Tries `rows` as one batch; a refused batch is halved, and halved again,
/// until each refused row stands alone with its refusal in `out`. Rows
/// that pass stay written, in order, so later rows meet them.
fn attempt(
    db: &mut dyn Backend,
    t: &Table,
    rows: &[Vec<Value>],
    how: Attempt,
    keep: bool,
    out: &mut [Option<Refusal>],
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let Some(refusal) = db.try_rows(&t.request(), rows, how, keep)? else {
        return Ok(());
    };
    if rows.len() == 1 {
        out[0] = Some(refusal);
        return Ok(());
    }
    let mid = rows.len() / 2;
    let (low, high) = out.split_at_mut(mid);
    attempt(db, t, &rows[..mid], how, keep, low)?;
    attempt(db, t, &rows[mid..], how, keep, high)
}

/// The row's key as a JSON object; a row without a key shows every value.
fn key_json(row: &[Value], t: &Table) -> String {
    let all: Vec<usize>;
    let positions = match t.key_pos.is_empty() {
        true => {
            all = (0..row.len()).collect();
            &all
        }
        false => &t.key_pos,
    };
    let object: serde_json::Map<String, serde_json::Value> = positions
        .iter()
        .map(|&i| (t.columns[i].clone(), json(&row[i])))
        .collect();
    serde_json::Value::Object(object).to_string()
}

fn json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::UInt(u) => J::from(*u),
        Value::Float(f) if f.is_finite() => J::from(*f),
        Value::Float(f) => J::String(f.to_string()),
        Value::Decimal(d) | Value::Text(d) => J::String(d.clone()),
        Value::Bytes(b) => J::String(hex::encode(b)),
    }
}

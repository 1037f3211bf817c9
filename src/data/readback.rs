//! The read-back check of an import, by key: the rows an import wrote
//! (inserted or overwritten) must read back, inside its transaction, as
//! the target column should hold them — or the import fails, naming the
//! rows, the columns and the triggers that could have changed them.
//!
//! Used where the order-free digest of the import's fast path cannot
//! decide: the table held rows before (only the rows written are
//! compared), the rows come from another engine (compared through the
//! documented mapping, [`crate::backend::convert::canonical`]), several
//! backups write it (a chain), or triggers fire on it (so that a failure
//! names keys and columns).
//!
//! Memory stays flat, as in `verify.rs`: every row written is parked in a
//! temporary on-disk SQLite database as (table, key, digest, values); then
//! the table is streamed once and each row looked up by its key. A table
//! without a key is compared as a multiset (the key is the row's digest,
//! with a count).

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::verify::{ChangedRow, changed_columns, render_key};
use crate::backend::convert::canonical;
use crate::backend::{Backend, Dialect, ReadRequest};
use crate::catalog::{ColumnInfo, Trigger};
use crate::error::{Error, LoadError, Result};
use crate::plan::Conflict;
use crate::spool::{decode_row, encode_row};
use crate::value::{Value, key_bytes, row_digest};

/// Rows and columns listed in a failure.
const LISTED: usize = 5;

/// The rows written, parked on disk, per table.
pub(super) struct ReadBack {
    conn: Connection,
    tables: HashMap<String, Tracked>,
    /// Reused for each row's canonical encoding.
    buf: Vec<u8>,
}

/// One table's rows as parked.
struct Tracked {
    id: i64,
    /// Every column some part wrote, in the order first written: what is
    /// read back.
    columns: Vec<ColumnInfo>,
    /// Positions of the key columns in `columns`; empty: no key.
    key: Vec<usize>,
    /// Each distinct set of columns a part wrote, as positions in
    /// `columns`: a row is compared on the columns its part wrote.
    masks: Vec<Vec<usize>>,
    parked: u64,
}

/// How the current writes of one table are parked.
pub(super) struct Slot {
    table: String,
    mask: i64,
    /// The target column of each value of a written row.
    columns: Vec<ColumnInfo>,
    /// Positions of the key columns in a written row.
    key: Vec<usize>,
    conflict: Conflict,
}

/// What reading a table back found.
pub(super) struct Outcome {
    /// Rows the table holds (all of them, written or not).
    pub rows: u64,
    /// Rows written that were compared: without a key, every row; with
    /// one, the last row written under each key (not those `skip` kept).
    pub compared: u64,
    /// Rows written found under their key (or values).
    pub matched: u64,
    /// Rows written whose values read back differently.
    pub changed: u64,
    pub changed_rows: Vec<ChangedRow>,
    /// Rows written that are not there under their key (a trigger changed
    /// the key, deleted the row …).
    pub missing: u64,
    pub missing_keys: Vec<String>,
    /// Rows were matched by key (else as a multiset: a changed row shows
    /// as missing).
    pub keyed: bool,
}

impl Outcome {
    pub fn differs(&self) -> bool {
        self.changed + self.missing > 0
    }
}

fn sql(e: rusqlite::Error) -> Error {
    Error::db("import: the temporary index of the rows written", e)
}

fn decode(v: &[u8]) -> Result<Vec<Value>> {
    decode_row(v).map_err(|e| Error::db("import: the temporary index of the rows written", e))
}

impl ReadBack {
    pub fn new() -> Result<Self> {
        // An empty name: a private temporary database on disk, deleted when
        // closed; pages beyond the cache go to disk.
        let conn = Connection::open("").map_err(sql)?;
        conn.execute_batch(
            "PRAGMA journal_mode = OFF;
             PRAGMA synchronous = OFF;
             PRAGMA cache_size = -16384;
             -- n: how many rows with this key (or, without a key, these
             -- values) are still to be found; 0 with no values: a key the
             -- table held before that a `skip` import left alone.
             CREATE TABLE rows (
                 t INTEGER NOT NULL,
                 k BLOB NOT NULL,
                 m INTEGER NOT NULL,
                 h BLOB,
                 v BLOB,
                 n INTEGER NOT NULL,
                 PRIMARY KEY (t, k)
             ) WITHOUT ROWID;
             BEGIN;",
        )
        .map_err(sql)?;
        Ok(ReadBack {
            conn,
            tables: HashMap::new(),
            buf: Vec::new(),
        })
    }

    /// Starts parking the rows of `table` written with these target
    /// columns and key.
    pub fn slot(
        &mut self,
        table: &str,
        columns: &[ColumnInfo],
        key: &[usize],
        conflict: Conflict,
    ) -> Slot {
        let next = self.tables.len() as i64;
        let t = self
            .tables
            .entry(table.to_string())
            .or_insert_with(|| Tracked {
                id: next,
                columns: Vec::new(),
                key: Vec::new(),
                masks: Vec::new(),
                parked: 0,
            });
        let mut mask = Vec::new();
        for c in columns {
            let i = match t.columns.iter().position(|x| x.name == c.name) {
                Some(i) => i,
                None => {
                    t.columns.push(c.clone());
                    t.columns.len() - 1
                }
            };
            mask.push(i);
        }
        if t.key.is_empty() {
            t.key = key.iter().map(|&k| mask[k]).collect();
        }
        let m = match t.masks.iter().position(|x| *x == mask) {
            Some(m) => m,
            None => {
                t.masks.push(mask);
                t.masks.len() - 1
            }
        };
        Slot {
            table: table.to_string(),
            mask: m as i64,
            columns: columns.to_vec(),
            key: key.to_vec(),
            conflict,
        }
    }

    /// Before a `skip` import writes into a table that holds rows: its keys,
    /// whose rows the import leaves alone and must not compare.
    pub fn keep_existing(&mut self, db: &mut dyn Backend, slot: &Slot) -> Result<()> {
        let id = self.tables[&slot.table].id;
        let key: Vec<ColumnInfo> = slot.key.iter().map(|&i| slot.columns[i].clone()).collect();
        let names: Vec<String> = key.iter().map(|c| c.name.clone()).collect();
        let mut insert = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO rows (t, k, m, n) VALUES (?1, ?2, -1, 0)")
            .map_err(sql)?;
        let req = ReadRequest {
            table: &slot.table,
            columns: &names,
            order_by: &[],
            changed_since: None,
        };
        db.read(&req, &mut |row| {
            let canon: Vec<Value> = row.iter().zip(&key).map(|(v, c)| canonical(v, c)).collect();
            let k = key_bytes(&canon.iter().collect::<Vec<_>>());
            insert.execute(params![id, k]).map_err(sql)?;
            Ok(())
        })
    }

    /// Parks one row written, as the target should hold it.
    pub fn park(&mut self, slot: &Slot, row: &[Value]) -> Result<()> {
        let canon: Vec<Value> = row
            .iter()
            .zip(&slot.columns)
            .map(|(v, c)| canonical(v, c))
            .collect();
        let h = row_digest(&canon, &mut self.buf).to_be_bytes();
        let t = self.tables.get_mut(&slot.table).expect("a slot's table");
        t.parked += 1;
        let stmt = if slot.key.is_empty() {
            // A multiset: the same values again count once more.
            "INSERT INTO rows (t, k, m, h, v, n) VALUES (?1, ?2, ?3, ?5, ?4, 1)
             ON CONFLICT (t, k) DO UPDATE SET n = n + 1"
        } else if slot.conflict == Conflict::Skip {
            // The key's first row stays (in the table and here).
            "INSERT OR IGNORE INTO rows (t, k, m, h, v, n) VALUES (?1, ?2, ?3, ?5, ?4, 1)"
        } else {
            "INSERT OR REPLACE INTO rows (t, k, m, h, v, n) VALUES (?1, ?2, ?3, ?5, ?4, 1)"
        };
        let k = if slot.key.is_empty() {
            h.to_vec()
        } else {
            key_bytes(&slot.key.iter().map(|&i| &canon[i]).collect::<Vec<_>>())
        };
        let mut insert = self.conn.prepare_cached(stmt).map_err(sql)?;
        insert
            .execute(params![t.id, k, slot.mask, encode_row(&canon), &h[..]])
            .map_err(sql)?;
        Ok(())
    }

    /// Whether rows of `table` were parked.
    pub fn tracks(&self, table: &str) -> bool {
        self.tables.get(table).is_some_and(|t| t.parked > 0)
    }

    /// Streams `table` once and compares each row written with what it
    /// reads back. A table with a key is streamed a second time only when
    /// rows written are not found, to name them.
    pub fn check(&mut self, db: &mut dyn Backend, table: &str) -> Result<Outcome> {
        let t = &self.tables[table];
        let keyed = !t.key.is_empty();
        let (id, expected) = (t.id, self.expected(t.id)?);
        // Without a key every row found is marked (a multiset); with one,
        // a key is found at most once, so counting the matches is enough.
        let mut out = self.scan(db, table, !keyed)?;
        out.compared = expected;
        if keyed && out.matched < expected {
            self.scan(db, table, true)?;
        }
        if !keyed || out.matched < expected {
            self.missing(id, &mut out)?;
        }
        Ok(out)
    }

    /// Rows written (with a key: distinct keys written) still to be found.
    fn expected(&self, id: i64) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT coalesce(sum(n), 0) FROM rows WHERE t = ?1 AND n > 0",
                [id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(sql)
    }

    /// One pass over the table: its rows counted, the rows written looked
    /// up and compared; with `mark`, each row found is crossed off.
    fn scan(&mut self, db: &mut dyn Backend, table: &str, mark: bool) -> Result<Outcome> {
        let t = &self.tables[table];
        let names: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
        let mut find = self
            .conn
            .prepare_cached("SELECT m, h FROM rows WHERE t = ?1 AND k = ?2 AND n > 0")
            .map_err(sql)?;
        let mut found = self
            .conn
            .prepare_cached("UPDATE rows SET n = n - 1 WHERE t = ?1 AND k = ?2")
            .map_err(sql)?;
        let mut out = Outcome {
            rows: 0,
            compared: 0,
            matched: 0,
            changed: 0,
            changed_rows: Vec::new(),
            missing: 0,
            missing_keys: Vec::new(),
            keyed: !t.key.is_empty(),
        };
        let buf = &mut self.buf;
        let conn = &self.conn;
        let req = ReadRequest {
            table,
            columns: &names,
            order_by: &[],
            changed_since: None,
        };
        db.read(&req, &mut |row| {
            out.rows += 1;
            let canon: Vec<Value> = row
                .iter()
                .zip(&t.columns)
                .map(|(v, c)| canonical(v, c))
                .collect();
            let project =
                |m: usize| -> Vec<Value> { t.masks[m].iter().map(|&i| canon[i].clone()).collect() };
            let k = if t.key.is_empty() {
                row_digest(&project(0), buf).to_be_bytes().to_vec()
            } else {
                key_bytes(&t.key.iter().map(|&i| &canon[i]).collect::<Vec<_>>())
            };
            let hit = find
                .query_row(params![t.id, k], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
                })
                .optional()
                .map_err(sql)?;
            // Not a row written (one the table held before), or one
            // already found.
            let Some((m, h)) = hit else {
                return Ok(());
            };
            out.matched += 1;
            if mark {
                found.execute(params![t.id, k]).map_err(sql)?;
            }
            let mine = project(m as usize);
            if row_digest(&mine, buf).to_be_bytes()[..] == h[..] {
                return Ok(());
            }
            out.changed += 1;
            if out.changed_rows.len() < LISTED {
                let v: Vec<u8> = conn
                    .query_row(
                        "SELECT v FROM rows WHERE t = ?1 AND k = ?2",
                        params![t.id, k],
                        |r| r.get(0),
                    )
                    .map_err(sql)?;
                let sent = decode(&v)?;
                let cols: Vec<String> = t.masks[m as usize]
                    .iter()
                    .map(|&i| t.columns[i].name.clone())
                    .collect();
                let key: Vec<usize> = key_in_mask(&t.key, &t.masks[m as usize]);
                out.changed_rows.push(ChangedRow {
                    key: render_key(&sent, &key, &cols),
                    columns: changed_columns(&sent, &mine, &cols),
                });
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// After a marking pass: the rows written that were not found.
    fn missing(&self, id: i64, out: &mut Outcome) -> Result<()> {
        let t = self
            .tables
            .values()
            .find(|t| t.id == id)
            .expect("a tracked table");
        let mut missing = self
            .conn
            .prepare("SELECT m, v, n FROM rows WHERE t = ?1 AND n > 0 ORDER BY k")
            .map_err(sql)?;
        let rows = missing
            .query_map([id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(sql)?;
        for r in rows {
            let (m, v, n) = r.map_err(sql)?;
            out.missing += n as u64;
            if out.missing_keys.len() < LISTED {
                let cols: Vec<String> = t.masks[m as usize]
                    .iter()
                    .map(|&i| t.columns[i].name.clone())
                    .collect();
                let key = key_in_mask(&t.key, &t.masks[m as usize]);
                out.missing_keys.push(render_key(&decode(&v)?, &key, &cols));
            }
        }
        Ok(())
    }
}

/// The key's positions within a part's columns.
fn key_in_mask(key: &[usize], mask: &[usize]) -> Vec<usize> {
    key.iter()
        .filter_map(|k| mask.iter().position(|m| m == k))
        .collect()
}

/// The import's failure when rows read back differ: the table, the first
/// rows and columns (sent, found), and the triggers that fire on it.
pub(super) fn failure(
    table: &str,
    out: &Outcome,
    triggers: &[Trigger],
    dialect: &Dialect,
) -> Error {
    let mut what = Vec::new();
    if out.changed > 0 {
        what.push(format!(
            "{} of the {} row{} written read{} back with other values",
            out.changed,
            out.compared,
            plural(out.compared),
            if out.changed == 1 { "s" } else { "" }
        ));
    }
    if out.missing > 0 {
        let (is, its) = if out.missing == 1 {
            ("is", "its")
        } else {
            ("are", "their")
        };
        what.push(if out.keyed {
            format!(
                "{} row{} written {is} not there under {its} key",
                out.missing,
                plural(out.missing)
            )
        } else {
            format!(
                "{} of the {} row{} written {is} not there with {its} values (the table has no key to match rows by)",
                out.missing,
                out.compared,
                plural(out.compared)
            )
        });
    }
    // The rows, the triggers that may explain it, and the help, after
    // the summary.
    let mut msg = String::new();
    for r in &out.changed_rows {
        let cols: Vec<String> = r
            .columns
            .iter()
            .map(|c| format!("`{}` sent {}, found {}", c.column, c.backup, c.database))
            .collect();
        msg.push_str(&format!("\n    changed  {}: {}", r.key, cols.join("; ")));
    }
    if out.changed > out.changed_rows.len() as u64 {
        msg.push_str(&format!(
            "\n    … and {} more",
            out.changed - out.changed_rows.len() as u64
        ));
    }
    for k in &out.missing_keys {
        msg.push_str(&format!("\n    missing  {k}"));
    }
    if out.missing > out.missing_keys.len() as u64 {
        msg.push_str(&format!(
            "\n    … and {} more",
            out.missing - out.missing_keys.len() as u64
        ));
    }
    let on_table: Vec<&Trigger> = triggers
        .iter()
        .filter(|t| t.table == table && t.fires_on_write())
        .collect();
    if on_table.is_empty() {
        msg.push_str(&format!(
            "\n  = note: no trigger on `{table}` fires on INSERT or UPDATE: the database changed the values on their way in (a rule, a generated value, a type that does not keep them; docs/types.md says what compares across engines)\n  = help: nothing was changed, the import was rolled back"
        ));
        return differs(table, &what, msg);
    }
    let names: Vec<String> = on_table
        .iter()
        .map(|t| format!("`{}` ({})", t.name, t.when))
        .collect();
    msg.push_str(&format!(
        "\n  = note: trigger{} on `{table}` that fire{} on INSERT or UPDATE: {}",
        plural(on_table.len() as u64),
        if on_table.len() == 1 { "s" } else { "" },
        names.join(", ")
    ));
    msg.push_str(&if dialect.switches_triggers_off {
        "\n  = help: nothing was changed, the import was rolled back; `--triggers disable` (or `[import] triggers = \"disable\"`) switches the triggers off while the rows load".to_string()
    } else {
        format!(
            "\n  = help: nothing was changed, the import was rolled back; {} cannot switch triggers off for a load: load the data before creating the triggers (as a dump file does), or drop them for the load and create them again after",
            dialect.title
        )
    });
    differs(table, &what, msg)
}

fn differs(table: &str, what: &[String], details: String) -> Error {
    LoadError::ReadBackDiffers {
        table: table.to_string(),
        what: what.join("; "),
        details,
    }
    .into()
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

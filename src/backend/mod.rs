//! Rows ↔ databases. One folder per engine behind the [`Backend`] trait; all
//! engine-specific SQL (quoting, upserts, snapshots) stays in that folder,
//! and what modules above need to know of an engine is its [`Dialect`].
//! Backends know nothing of files or formats.

mod checks;
pub mod convert;
mod dialect;
mod fkcheck;
mod mysql;
mod postgres;
mod sqlite;
pub use crate::url::{DbUrl, Engine};
pub use dialect::{BookkeepingTypes, Dialect, ScriptRules};

use crate::catalog::{Catalog, ColumnInfo, Sequence, Trigger};
use crate::error::Result;
use crate::policy::Conflict;
use crate::value::Value;

/// Tables that belong to migplan or refinery, never exported or imported.
pub const BOOKKEEPING_TABLES: &[&str] = &[
    "refinery_schema_history",
    "migplan_history",
    "migplan_schema_journal",
    "migplan_schema_checksums",
];

/// What to read from one table.
#[derive(Debug, Clone)]
pub struct ReadRequest<'a> {
    pub table: &'a str,
    /// Columns to read, in this order.
    pub columns: &'a [String],
    /// Rows are returned ordered by these columns (the primary key), so that
    /// exports are deterministic.
    pub order_by: &'a [String],
    /// Only rows whose column is later than the instant (incremental export).
    pub changed_since: Option<(&'a str, chrono::DateTime<chrono::FixedOffset>)>,
}

/// Reads tables inside an export's snapshot on a thread of its own
/// ([`Backend::begin_shared_read`]).
pub trait TableReader: Send {
    /// Streams the rows of a table to `sink`, as [`Backend::read`] does.
    fn read(
        &mut self,
        req: &ReadRequest<'_>,
        sink: &mut dyn FnMut(&[Value]) -> Result<()>,
    ) -> Result<()>;
}

/// Where and how to write rows of one table.
#[derive(Debug, Clone)]
pub struct WriteRequest<'a> {
    pub table: &'a str,
    /// Columns of every row passed to [`Backend::write`], in this order.
    pub columns: &'a [String],
    /// The conflict key: a primary or unique key of the table.
    pub key: &'a [String],
    pub conflict: Conflict,
    /// Columns whose values may arrive converted by the engine (the plan's
    /// `accept_lossy`): a backend does not refuse them for being inexact.
    pub lossy: &'a [String],
}

/// What writing one table did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableOutcome {
    pub inserted: u64,
    /// Rows whose key existed with exactly the values written: left alone
    /// (policies `skip` and `overwrite`).
    pub identical: u64,
    /// Rows whose key existed with other values, kept (policy `skip`).
    pub skipped: u64,
    /// Rows whose key existed with other values, replaced (policy `overwrite`).
    pub overwritten: u64,
    /// Rows whose key existed under policy `error`; the import fails.
    pub conflicts: u64,
    /// The first [`crate::error::CONFLICTS_LISTED`] conflicting keys, each
    /// as the values of the request's key columns.
    pub conflict_keys: Vec<Vec<Value>>,
}

/// How a preview tries rows (see [`Backend::try_rows`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// `INSERT` them: their keys are not in the table.
    Insert,
    /// `UPDATE` their other columns, found by the request's key.
    Update,
}

/// Rows a preview tried that the database refused (or that the check of a
/// value against its column refused before they were sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// A unique or primary key another row already holds.
    pub clash: bool,
    /// What the database said, naming the column or the constraint.
    pub message: String,
}

/// One open connection to one database.
///
/// The data phase drives it as a checklist: `catalog`, then either a read
/// snapshot (`begin_read` … `read` … `rollback`) or one write transaction
/// (`begin_write`, then per table `begin_table` … `write_row` … `end_table`,
/// then `finish_write` and `commit`, or `rollback` on any failure).
///
/// Writes may be buffered and sent in bulk (COPY, multi-row INSERT), and
/// per-row foreign-key checks may be suspended while rows load; the engine's
/// integrity is restored and checked in bulk by `finish_write`, inside the
/// same transaction, so the all-or-nothing guarantee and the final
/// foreign-key integrity both hold.
pub trait Backend {
    fn engine(&self) -> Engine;

    /// What the engine is like, for modules above `backend/`.
    fn dialect(&self) -> &'static Dialect {
        dialect(self.engine())
    }

    /// Every user table with columns and keys, bookkeeping tables excluded.
    fn catalog(&mut self) -> Result<Catalog>;

    /// The enabled triggers of the database's tables.
    fn triggers(&mut self) -> Result<Vec<Trigger>>;

    /// Inside the write transaction: switches `triggers` off until
    /// `finish_write` switches them on again (a rollback undoes both).
    fn disable_triggers(&mut self, triggers: &[Trigger]) -> Result<()>;

    /// The database's counters with the value each hands out next:
    /// PostgreSQL's sequences of the schema (one entry per column using a
    /// sequence, one for a sequence no column uses), MySQL's AUTO_INCREMENT,
    /// SQLite's `sqlite_sequence` (AUTOINCREMENT tables; without it SQLite
    /// takes max+1 itself). Bookkeeping tables' counters are left out.
    fn sequences(&mut self) -> Result<Vec<Sequence>>;

    /// The largest value of an integer column, `None` when the table has
    /// no row (a counter is never set at or below it).
    fn max_value(&mut self, table: &str, column: &str) -> Result<Option<i64>>;

    /// After every row of the import is written: makes `seq` (one of
    /// [`Backend::sequences`]) hand out `next` next. Inside the write
    /// transaction where the engine allows it (PostgreSQL's `ALTER
    /// SEQUENCE … RESTART`, SQLite's `sqlite_sequence`); MySQL's `ALTER
    /// TABLE … AUTO_INCREMENT` commits, so it runs right after `commit`.
    fn set_sequence(&mut self, seq: &Sequence, next: i64) -> Result<()>;

    fn count_rows(&mut self, table: &str) -> Result<u64>;

    /// Counts a table's rows unless another transaction holds a lock that
    /// would make the count wait (a running import's): then `None`, at once.
    fn count_rows_unless_locked(&mut self, table: &str) -> Result<Option<u64>> {
        self.count_rows(table).map(Some)
    }

    /// Rows an export of `table` expects to write, for the backup's meta and
    /// the progress bar; the backup's summary records the true count. Exact
    /// unless counting costs a scan the export would then repeat.
    fn expected_rows(&mut self, table: &str) -> Result<u64> {
        self.count_rows(table)
    }

    /// How many rows `req` would read: an incremental export's expected
    /// rows, counted with its filter (by the change column's index where
    /// there is one) rather than by a scan of the whole table.
    fn count_read(&mut self, req: &ReadRequest<'_>) -> Result<u64>;

    /// A table's rows as the engine's statistics have them, where reading
    /// them costs no scan (PostgreSQL's `reltuples`, MySQL's `TABLE_ROWS`);
    /// `None` where there are none (never analysed, or just loaded) and on
    /// SQLite, whose statistics are not kept up to date: callers count.
    fn estimated_rows(&mut self, _table: &str) -> Result<Option<u64>> {
        Ok(None)
    }

    /// The bytes a table takes, its indexes (and partitions) included, as
    /// the engine accounts them; `None` where it does not say.
    fn table_size_bytes(&mut self, _table: &str) -> Result<Option<u64>> {
        Ok(None)
    }

    /// Whether a table exists, bookkeeping tables included.
    fn has_table(&mut self, table: &str) -> Result<bool>;

    /// Runs one bookkeeping statement (the run history) on its own, outside
    /// any import transaction. `sql` is migplan's own text with `?` marking
    /// parameters; every value is bound.
    fn meta_exec(&mut self, sql: &str, params: &[Value]) -> Result<()>;

    /// A bookkeeping query: integers come back as `Int`, text as `Text`.
    fn meta_query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>>;

    /// Tries once to take this database's run lock (one migplan run at a
    /// time). The lock belongs to the connection: it ends with `unlock`, or
    /// when the process dies.
    fn try_lock(&mut self) -> Result<bool>;

    fn unlock(&mut self) -> Result<()>;

    /// While holding the run lock: says who holds it, where other processes
    /// can read it even while this run keeps them out of the database
    /// (SQLite: the lock file). Servers need nothing: their history table
    /// stays readable during an import.
    fn describe_lock(&mut self, _holder: &str) -> Result<()> {
        Ok(())
    }

    /// What the run lock's holder wrote with `describe_lock`, if anything.
    fn lock_description(&mut self) -> Option<String> {
        None
    }

    /// What the database says it is, the same however its URL spells it:
    /// its name (SQLite: the file) and where it lives (server address and
    /// port; SQLite: the file's path). Names the backups taken before change.
    fn identity(&mut self) -> Result<(String, String)> {
        let row = self
            .meta_query(self.identity_sql(), &[])?
            .into_iter()
            .next()
            .unwrap_or_default();
        let field = |i: usize| match row.get(i) {
            Some(Value::Text(t)) => t.clone(),
            Some(Value::Int(n)) => n.to_string(),
            _ => String::new(),
        };
        Ok((field(0), format!("{}|{}", field(1), field(0))))
    }

    /// The query behind [`Backend::identity`]: the database's name, then
    /// where it lives.
    fn identity_sql(&self) -> &'static str;

    /// Bytes the database takes on disk (tables and indexes), for `status`.
    fn size_bytes(&mut self) -> Result<u64>;

    /// Runs SQL text (one statement or several) as it is: schema scripts,
    /// their bookkeeping and `BEGIN`/`COMMIT` around them (`crate::schema`
    /// owns that SQL). The error carries the driver's message, secrets masked.
    fn execute_sql(&mut self, context: &str, sql: &str) -> Result<()>;

    /// Puts back the session settings migplan relies on, after a schema
    /// script run statement by statement (MySQL): a script's `SET`s (a
    /// dump's `FOREIGN_KEY_CHECKS=0`, `TIME_ZONE`, `sql_mode`) must not
    /// reach its bookkeeping or the data phase. Engines whose
    /// `execute_sql` restores the session itself need nothing.
    fn restore_session(&mut self) -> Result<()> {
        Ok(())
    }

    /// The rows of a query, every value as text (`NULL` as `None`): the
    /// schema module reads its bookkeeping tables with it.
    fn query_text(&mut self, context: &str, sql: &str) -> Result<Vec<Vec<Option<String>>>>;

    /// Whether schema scripts are applied all-or-nothing (transactional DDL).
    fn transactional_ddl(&self) -> bool {
        self.dialect().transactional_ddl
    }

    /// Starts one consistent read-only snapshot for an export.
    fn begin_read(&mut self) -> Result<()>;

    /// Starts the export's snapshot as [`begin_read`](Self::begin_read)
    /// does, with up to `readers` readers that see exactly what it sees,
    /// each on a connection of its own, for threads of their own
    /// (`--jobs`). None where the engine cannot share a snapshot (SQLite,
    /// or a server that refuses): the export then reads its tables one
    /// after the other through this connection.
    fn begin_shared_read(&mut self, readers: usize) -> Result<Vec<Box<dyn TableReader>>> {
        let _ = readers;
        self.begin_read()?;
        Ok(vec![])
    }

    /// Streams the rows of a table to `sink`, one at a time.
    fn read(
        &mut self,
        req: &ReadRequest<'_>,
        sink: &mut dyn FnMut(&[Value]) -> Result<()>,
    ) -> Result<()>;

    /// Starts the single write transaction of an import into `tables`.
    fn begin_write(&mut self, tables: &[String]) -> Result<()>;

    /// Deletes every row of a table inside the open write transaction (a
    /// restore that replaces the table's contents).
    fn clear_table(&mut self, table: &str) -> Result<()>;

    /// Starts writing one table; rows follow with `write_row`.
    fn begin_table(&mut self, req: &WriteRequest<'_>) -> Result<()>;

    /// Writes or buffers one row, its values in the request's column order.
    /// A value that does not fit its target column is [`crate::Error::Value`],
    /// raised here, before anything of the row is sent.
    fn write_row(&mut self, row: &[Value]) -> Result<()>;

    /// Flushes the table's rows and applies the conflict policy.
    fn end_table(&mut self) -> Result<TableOutcome>;

    /// Restores and checks, in bulk, the foreign keys of every written table.
    /// A violation is an error naming the table, the row and the reference.
    fn finish_write(&mut self) -> Result<()>;

    fn commit(&mut self) -> Result<()>;

    /// Starts a preview's transaction over `tables`: like `begin_write`,
    /// but every constraint stays in force and is checked statement by
    /// statement (no key set aside, none deferred), so that `try_rows`
    /// meets the database's own verdict. A preview always ends with
    /// `rollback`.
    fn begin_preview(&mut self, tables: &[String]) -> Result<()>;

    /// Inside a preview's transaction: writes `rows` of `req.table` (in
    /// `req.columns` order) as one all-or-nothing step under a savepoint.
    /// `Ok(None)`: written, and with `keep` kept for the rows that follow
    /// (a child finds its parent), else undone (a row the policy would not
    /// write, tried only for the database's verdict); `Ok(Some(_))`:
    /// refused, and nothing of it stays. `Err` is reserved for failures
    /// that are no verdict on the rows (a lost connection, a missing
    /// privilege).
    fn try_rows(
        &mut self,
        req: &WriteRequest<'_>,
        rows: &[Vec<Value>],
        how: Attempt,
        keep: bool,
    ) -> Result<Option<Refusal>>;

    /// Ends any open transaction, discarding its changes. Safe to call when
    /// none is open.
    fn rollback(&mut self) -> Result<()>;
}

/// What an engine is like, for code that has its URL only.
pub fn dialect(engine: Engine) -> &'static Dialect {
    match engine {
        Engine::Sqlite => &sqlite::DIALECT,
        Engine::Postgres => &postgres::DIALECT,
        Engine::Mysql => &mysql::DIALECT,
    }
}

/// Each engine's dialect by name, for unit tests about one engine.
#[cfg(test)]
pub(crate) use {
    mysql::DIALECT as MYSQL, postgres::DIALECT as POSTGRES, sqlite::DIALECT as SQLITE,
};

/// Why a column of an `engine` database cannot hold every value of a
/// source column (of a database of `source_engine`) exactly, or `None`
/// when it can: conversions the per-value checks cannot see, because the
/// engine makes them on its own as it stores a value (docs/types.md).
pub fn inexact(
    engine: Engine,
    source_engine: &str,
    from: &ColumnInfo,
    to: &ColumnInfo,
) -> Option<String> {
    match engine {
        Engine::Sqlite => sqlite::inexact(source_engine, from, to),
        // Every value is checked against the column (`convert`): a value
        // that would be rounded or truncated is an error there.
        Engine::Postgres | Engine::Mysql => None,
    }
}

/// `"name"` with embedded quotes doubled (SQL standard; SQLite and
/// PostgreSQL): identifiers from plans and backups are untrusted and always
/// quoted.
pub fn quote_ansi(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// `q(a), q(b), …` with an engine's quoting function.
fn quote_list(quote: fn(&str) -> String, idents: &[String]) -> String {
    idents
        .iter()
        .map(|c| quote(c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Options for opening a database.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Create the database (SQLite file) when it does not exist.
    pub create: bool,
    /// How long a SQLite read waits for a writer to let go (default 10 s).
    pub busy_wait: Option<std::time::Duration>,
}

/// Opens the database a URL names.
pub fn open(url: &DbUrl, opts: &OpenOptions) -> Result<Box<dyn Backend>> {
    match url.engine() {
        Engine::Sqlite => Ok(Box::new(sqlite::Sqlite::open(url, opts)?)),
        Engine::Postgres => postgres::Postgres::open(url, opts),
        Engine::Mysql => mysql::Mysql::open(url, opts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_has_its_dialect() {
        for e in [Engine::Sqlite, Engine::Postgres, Engine::Mysql] {
            assert_eq!(dialect(e).name, e.name());
        }
    }

    #[test]
    fn a_suggested_index_is_quoted_as_the_engine_quotes_and_named_within_64_characters() {
        assert_eq!(
            SQLITE.create_index("questions", "updated_at"),
            r#"CREATE INDEX "questions_updated_at_idx" ON "questions" ("updated_at")"#
        );
        assert_eq!(
            POSTGRES.create_index("a\"b", "c"),
            r#"CREATE INDEX "a""b_c_idx" ON "a""b" ("c")"#
        );
        assert_eq!(
            MYSQL.create_index("a`b", "c"),
            "CREATE INDEX `a``b_c_idx` ON `a``b` (`c`)"
        );
        let long = "题".repeat(70);
        let sql = MYSQL.create_index(&long, "updated_at");
        assert!(
            sql.starts_with(&format!("CREATE INDEX `{}` ON `{long}`", "题".repeat(64))),
            "{sql}"
        );
    }
}

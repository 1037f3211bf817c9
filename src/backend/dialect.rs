//! What an engine is like, for the modules above `backend/` that write SQL
//! of their own (the schema phase, the run history) or explain an engine's
//! limits: one set of answers per engine (`sqlite/dialect.rs`,
//! `postgres/dialect.rs`, `mysql/dialect.rs`), so that those modules ask
//! the dialect and only `backend/` decides anything by engine.
//!
//! Plain data rather than a trait: every answer is a fact about the
//! engine, the same for every connection, and reads best side by side.

/// One engine's answers. Reached from an open database with
/// [`crate::backend::Backend::dialect`], from a URL's engine with
/// [`crate::backend::dialect`].
#[derive(Debug)]
pub struct Dialect {
    /// The engine's name in messages, as [`crate::backend::Engine::name`]
    /// spells it.
    pub name: &'static str,
    /// The product's name in help texts.
    pub title: &'static str,
    /// Whether DDL runs inside a transaction, so that the schema phase
    /// applies its scripts all or nothing; otherwise every statement
    /// commits on its own, and the schema phase runs scripts statement by
    /// statement under its journal.
    pub transactional_ddl: bool,
    /// Whether the import can switch triggers off inside its transaction
    /// (`--triggers disable`).
    pub switches_triggers_off: bool,
    /// Whether [`crate::backend::Backend::expected_rows`] counts a table's
    /// rows (else it reads the engine's estimate): whether a full JSON
    /// backup's meta, written before its rows, holds their exact counts.
    pub exact_expected_rows: bool,
    /// How the engine's own client reads a schema script.
    pub scripts: ScriptRules,
    /// Column types of migplan's own tables.
    pub bookkeeping: BookkeepingTypes,
    /// An identifier quoted as the engine quotes it, for statements
    /// migplan suggests (names from a database are never trusted bare).
    pub quote: fn(&str) -> String,
}

impl Dialect {
    /// The statement that indexes `table` by `column`, for a person to
    /// run. The index is named as PostgreSQL names one given no name
    /// (`questions_updated_at_idx`), cut to the 64 characters MySQL takes.
    pub fn create_index(&self, table: &str, column: &str) -> String {
        let name: String = format!("{table}_{column}_idx").chars().take(64).collect();
        let q = self.quote;
        format!("CREATE INDEX {} ON {} ({})", q(&name), q(table), q(column))
    }
}

/// How an engine's own client (sqlite3, psql, mysql) reads a script:
/// what `schema/sql.rs` needs to split it into statements, and to tell
/// its comments and quotes from its code, as that client would.
#[derive(Debug, Clone, Copy)]
pub struct ScriptRules {
    /// `# …` is a comment to the end of the line.
    pub hash_comments: bool,
    /// `/*! … */` (MariaDB's `/*M! … */`) is code the server decides on,
    /// not a comment.
    pub executable_comments: bool,
    /// `DELIMITER xx` lines change the statement terminator.
    pub delimiter_command: bool,
    /// A backslash escapes the next character inside `'…'` and `"…"`.
    pub backslash_escapes: bool,
    /// `$tag$…$tag$` quotes text.
    pub dollar_quotes: bool,
    /// A line starting with `\` is a meta-command of the client: pg_dump's
    /// `\restrict`/`\unrestrict` lines are skipped, any other is refused.
    pub meta_commands: bool,
    /// A script can switch to, create or drop a database by statement
    /// (`USE shop`, `CREATE DATABASE …`, as a dump made with
    /// `--databases` does): such statements are looked for and refused,
    /// since a plan's scripts change the plan's database only.
    pub database_switch: bool,
}

/// The column types migplan's own tables (the run history) are declared
/// with, in the engine's spelling.
#[derive(Debug, Clone, Copy)]
pub struct BookkeepingTypes {
    /// A 64-bit integer.
    pub int: &'static str,
    /// Short text (names, states, instants).
    pub text: &'static str,
    /// Text of any length (messages, JSON, paths).
    pub long_text: &'static str,
    /// What follows the column list of a `CREATE TABLE`, leading space
    /// included; empty when nothing does.
    pub table_options: &'static str,
}

//! PostgreSQL's answers to what the schema phase and the run history ask.

use crate::backend::{BookkeepingTypes, Dialect, ScriptRules};

pub(crate) static DIALECT: Dialect = Dialect {
    name: "postgres",
    title: "PostgreSQL",
    transactional_ddl: true,
    // `ALTER TABLE … DISABLE TRIGGER` is transactional.
    switches_triggers_off: true,
    exact_expected_rows: true,
    // Scripts are read as psql reads them (pg_dump's output included).
    scripts: ScriptRules {
        hash_comments: false,
        executable_comments: false,
        delimiter_command: false,
        backslash_escapes: false,
        dollar_quotes: true,
        meta_commands: true,
        database_switch: false,
    },
    bookkeeping: BookkeepingTypes {
        int: "BIGINT",
        text: "TEXT",
        long_text: "TEXT",
        table_options: "",
    },
    quote: crate::backend::quote_ansi,
};

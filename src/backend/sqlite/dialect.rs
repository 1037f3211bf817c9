//! SQLite's answers to what the schema phase and the run history ask.

use crate::backend::{BookkeepingTypes, Dialect, ScriptRules};

pub(crate) static DIALECT: Dialect = Dialect {
    name: "sqlite",
    title: "SQLite",
    transactional_ddl: true,
    // Dropped inside the write transaction and created again before the
    // commit (`write.rs`), which comes to the same.
    switches_triggers_off: true,
    exact_expected_rows: true,
    // The sqlite3 shell's own dot-commands are not read: a script is SQL.
    scripts: ScriptRules {
        hash_comments: false,
        executable_comments: false,
        delimiter_command: false,
        backslash_escapes: false,
        dollar_quotes: false,
        meta_commands: false,
        database_switch: false,
    },
    bookkeeping: BookkeepingTypes {
        int: "INTEGER",
        text: "TEXT",
        long_text: "TEXT",
        table_options: "",
    },
    quote: crate::backend::quote_ansi,
};

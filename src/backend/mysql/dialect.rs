//! MySQL's and MariaDB's answers to what the schema phase and the run
//! history ask.

use crate::backend::{BookkeepingTypes, Dialect, ScriptRules};

pub(crate) static DIALECT: Dialect = Dialect {
    name: "mysql",
    title: "MySQL",
    // DDL commits on its own: schema scripts run under the journal.
    transactional_ddl: false,
    // DROP TRIGGER commits at once, so triggers cannot be off for the
    // length of an all-or-nothing import.
    switches_triggers_off: false,
    // InnoDB's statistics stand in for a count (see `expected_rows`).
    exact_expected_rows: false,
    // Scripts are read as the mysql client reads them (mysqldump's and
    // mariadb-dump's output included).
    scripts: ScriptRules {
        hash_comments: true,
        executable_comments: true,
        delimiter_command: true,
        backslash_escapes: true,
        dollar_quotes: false,
        meta_commands: false,
        database_switch: true,
    },
    // LONGTEXT where TEXT's 64 KiB could be too little; InnoDB for the
    // transactions, utf8mb4 for any text.
    bookkeeping: BookkeepingTypes {
        int: "BIGINT",
        text: "VARCHAR(255)",
        long_text: "LONGTEXT",
        table_options: " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    },
    quote: super::quote,
};

//! What keeps a run from a database: the run lock held by another run,
//! named as the history describes it (`run 3 (import, plan `p.toml`) by
//! ana, started …`).

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// Another run held the run lock for all of `--lock-timeout`.
    #[error(
        "the database is busy: {holder} holds it; waited {waited_secs} s\n  = help: only one run at a time may change a database; wait for it to end, or wait longer with --lock-timeout SECONDS"
    )]
    LockHeld { holder: String, waited_secs: u64 },

    /// A read refused while the lock's holder writes (SQLite keeps readers
    /// out during a large write); `cause` is the engine's error.
    #[error(
        "the database is busy: {holder} holds it, and the database lets no one read while that run writes ({cause})\n  = help: wait for it to end; `migplan status` shows who holds it"
    )]
    Busy { holder: String, cause: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, exit};

    #[test]
    fn a_held_lock_says_who_holds_it_and_what_to_do() {
        let e = Error::from(HistoryError::LockHeld {
            holder: "run 3 (import, plan `p.toml`) by ana, started 2025-01-01T00:00:00Z".into(),
            waited_secs: 5,
        });
        assert_eq!(
            e.message(),
            "the database is busy: run 3 (import, plan `p.toml`) by ana, started 2025-01-01T00:00:00Z holds it; waited 5 s"
        );
        assert_eq!(
            e.help().as_deref(),
            Some(
                "only one run at a time may change a database; wait for it to end, or wait longer with --lock-timeout SECONDS"
            )
        );
        assert_eq!(e.exit_code(), exit::FAILED);
    }
}

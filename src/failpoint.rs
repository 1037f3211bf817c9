//! Test hooks that stop the process where a crash would hurt most.
//!
//! `MIGPLAN_FAILPOINT=NAME` aborts the process when it reaches the point
//! called `NAME`, as a `kill -9` would: no destructor, no history write.
//! Tests use it to prove that what is on disk and in the database agrees
//! at that instant. Debug builds only: a release binary ignores it.

/// Aborts the process when `MIGPLAN_FAILPOINT` names this point.
pub fn hit(name: &str) {
    if cfg!(debug_assertions) && std::env::var("MIGPLAN_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("failpoint `{name}`: aborting");
        std::process::abort();
    }
}

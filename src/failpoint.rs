//! Test hooks that stop the process where a crash would hurt most.
//!
//! `MIGPLAN_FAILPOINT=NAME` aborts the process when it reaches the point
//! called `NAME`, as a `kill -9` would: no destructor, no history write.
//! Tests use it to prove that what is on disk and in the database agrees
//! at that instant. Debug builds only: a release binary ignores it.

/// Aborts the process when `MIGPLAN_FAILPOINT` names this point.
pub fn hit(name: &str) {
    if cfg!(debug_assertions) && std::env::var("MIGPLAN_FAILPOINT").is_ok_and(|v| v == name) {
        crate::events::warning(format!("failpoint `{name}`: aborting"));
        std::process::abort();
    }
}

/// Waits at the point called `NAME` when `MIGPLAN_PAUSE_AT=NAME`: creates
/// `$MIGPLAN_PAUSE_FILE.paused`, then waits (two minutes at most) until
/// `$MIGPLAN_PAUSE_FILE` exists. Tests use it to look at a run exactly while
/// it holds its locks, instead of racing it. Debug builds only.
pub fn pause(name: &str) {
    if !cfg!(debug_assertions) || std::env::var("MIGPLAN_PAUSE_AT").ok().as_deref() != Some(name) {
        return;
    }
    let Some(release) = std::env::var_os("MIGPLAN_PAUSE_FILE").map(std::path::PathBuf::from) else {
        return;
    };
    let mut paused = release.clone().into_os_string();
    paused.push(".paused");
    let _ = std::fs::write(&paused, name);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !release.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// An error at the point called `NAME` when `MIGPLAN_FAILPOINT=NAME!`
/// (with the `!`): for tests of what follows a failure there, such as one
/// right after a commit. Debug builds only.
pub fn fail(name: &str) -> crate::error::Result<()> {
    if cfg!(debug_assertions)
        && std::env::var("MIGPLAN_FAILPOINT").is_ok_and(|v| v.strip_suffix('!') == Some(name))
    {
        return Err(crate::error::Error::Injected {
            name: name.to_string(),
        });
    }
    Ok(())
}

use std::process::ExitCode;

// Exports decode and encode many small values: glibc's allocator spent a
// fifth of a MySQL export allocating and freeing them; mimalloc a tenth.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc v3's `mi_option_purge_delay` (not named by the sys crate).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    // Give freed memory back at once rather than after 10 ms: the import's
    // loader threads otherwise hold on to freed chunks (peak memory).
    // SAFETY: sets one integer option, read at every purge.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) };
    keep_c_heap();
    let code = migplan::cli::main();
    ExitCode::from(code as u8)
}

/// The C libraries (SQLite above all) allocate through glibc's malloc,
/// which gives the top of its heap back to the system as soon as 128 KiB
/// of it are free. SQLite's page cache frees and takes pages all through
/// an import, so the heap shrank and grew again without end: three million
/// page faults and twice the CPU for a million-row SQLite import. Freed
/// memory up to 64 MiB is kept for reuse instead.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_c_heap() {
    // SAFETY: sets one of malloc's tunables before any thread starts.
    unsafe { libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20) };
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_c_heap() {}

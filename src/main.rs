use std::process::ExitCode;

// Exports decode and encode many small values: glibc's allocator spent a
// fifth of a MySQL export allocating and freeing them; mimalloc a tenth.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc v3's `mi_option_arena_eager_commit` (not named by the sys crate).
const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
/// mimalloc v3's `mi_option_purge_delay`.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc's options, set before mimalloc starts: its own constructor
/// (priority 101) reserves the first arena, and an option set in `main`
/// comes too late for it. Priorities up to 100 run before. (ELF only;
/// elsewhere `main` sets them, later.)
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array.00100")]
static CONFIGURE_ALLOCATOR: extern "C" fn() = configure_allocator;

extern "C" fn configure_allocator() {
    // SAFETY: each call stores one integer in mimalloc's option table; no
    // allocation, no other thread yet.
    unsafe {
        // Arenas commit their memory as it is used, not all at once: a
        // two-job export peaked at 72 MB of resident memory with eager
        // commit, 43 MB without (issue 16's 64 MB bound).
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0);
        // Give freed memory back at once rather than after 10 ms: the
        // import's loader threads otherwise hold on to freed chunks.
        libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
    }
}

fn main() -> ExitCode {
    #[cfg(not(target_os = "linux"))]
    configure_allocator();
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

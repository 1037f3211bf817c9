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
    let code = migplan::cli::main();
    ExitCode::from(code as u8)
}

use std::process::ExitCode;

// Exports decode on one thread and encode on another: glibc's allocator
// spent a fifth of a MySQL export on values allocated on one thread and
// freed on the other; mimalloc's free lists make that cheap.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let code = migplan::cli::main();
    ExitCode::from(code as u8)
}

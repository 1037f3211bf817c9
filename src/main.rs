use std::process::ExitCode;

fn main() -> ExitCode {
    let code = migplan::cli::main();
    ExitCode::from(code as u8)
}

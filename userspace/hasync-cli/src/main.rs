//! `hasync`: the command; everything is in the library half (`src/lib.rs`).

fn main() -> std::process::ExitCode {
    hasync_cli::main()
}

//! The `churnwatch` binary: everything lives in the library; see `cli::main`.

fn main() -> std::process::ExitCode {
    churnwatch::cli::main()
}

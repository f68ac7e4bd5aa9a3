//! The `churnwatch` binary: everything lives in the library; see `cli::main`.

/// mimalloc keeps freed memory for reuse; see Cargo.toml.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    churnwatch::cli::main()
}
